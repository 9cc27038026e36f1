#!/usr/bin/env bash
# Installs batch-drive-sync as a systemd service. Idempotent: run it again after every build.
#
#   npm ci && npm run build            # first, as any user, in the source tree
#   sudo systemd/install.sh            # then, as root
#
# Options:
#   --dry-run   print what would be done, change nothing
#   --npm-ci    run `npm ci --omit=dev` in the install dir instead of copying node_modules
#               (needs the npm registry and a compiler for sqlite3)
#   -h, --help
# Environment:
#   DESTDIR     install into this root instead of / (packaging, tests); systemctl is not called
#   PREFIX      install dir, default /opt/batch-drive-sync (the unit's ExecStart expects that)
#   SRC         source tree, default the directory above this script
#
# It never overwrites /etc/batch-drive-sync/config.yaml and never touches the Drive key.
set -euo pipefail
umask 022

DRY_RUN=0
NPM_CI=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --npm-ci) NPM_CI=1 ;;
    -h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $arg (try --help)" >&2; exit 64 ;;
  esac
done

NAME=batch-drive-sync
SRC="${SRC:-$(cd "$(dirname "$0")/.." && pwd)}"
DESTDIR="${DESTDIR:-}"
DESTDIR="${DESTDIR%/}"
PREFIX="${PREFIX:-/opt/$NAME}"
ROOT_PREFIX="$DESTDIR$PREFIX"
ETC="$DESTDIR/etc"
UNIT_DIR="$ETC/systemd/system"
SYSUSERS_DIR="$ETC/sysusers.d"
BIN_DIR="$DESTDIR/usr/local/bin"

say() { printf '%s\n' "$*"; }
run() {
  say "+ $*"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [ -z "$DESTDIR" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or set DESTDIR=/some/dir, or pass --dry-run)"
fi
[ -f "$SRC/dist/src/cli/main.js" ] || die "no build in $SRC/dist: run 'npm ci && npm run build' there first"
for f in package.json package-lock.json migrations systemd/$NAME.service systemd/$NAME.sysusers config/$NAME.example.yaml; do
  [ -e "$SRC/$f" ] || die "missing $SRC/$f"
done
[ "$NPM_CI" = 1 ] || [ -d "$SRC/node_modules" ] || die "no $SRC/node_modules: run 'npm ci' there first, or pass --npm-ci"

# 1. Application files. Replaced as a whole so files removed upstream do not linger.
say "== application in $ROOT_PREFIX"
run install -d -m 0755 "$ROOT_PREFIX" "$ROOT_PREFIX/config" "$ROOT_PREFIX/docs"
for d in dist migrations; do
  run rm -rf "$ROOT_PREFIX/$d"
  run cp -R "$SRC/$d" "$ROOT_PREFIX/$d"
done
run install -m 0644 "$SRC/package.json" "$SRC/package-lock.json" "$ROOT_PREFIX/"
run install -m 0644 "$SRC/config/$NAME.example.yaml" "$ROOT_PREFIX/config/"
if [ -f "$SRC/docs/operations.md" ]; then run install -m 0644 "$SRC/docs/operations.md" "$ROOT_PREFIX/docs/"; fi
run rm -rf "$ROOT_PREFIX/node_modules"
if [ "$NPM_CI" = 1 ]; then
  run npm ci --omit=dev --no-audit --no-fund --prefix "$ROOT_PREFIX"
else
  # Copy the built tree (native sqlite3 included) and drop devDependencies offline.
  run cp -R "$SRC/node_modules" "$ROOT_PREFIX/node_modules"
  run npm prune --omit=dev --no-audit --no-fund --offline --prefix "$ROOT_PREFIX"
fi
# The CLI on PATH, for migrate/status/retry/check-config.
run install -d -m 0755 "$BIN_DIR"
if [ "$DRY_RUN" = 0 ]; then
  printf '#!/bin/sh\nexec /usr/bin/node %s/dist/src/cli/main.js "$@"\n' "$PREFIX" > "$BIN_DIR/$NAME"
  chmod 0755 "$BIN_DIR/$NAME"
fi
say "+ wrote $BIN_DIR/$NAME"

# 2. System user (sysusers.d), unit, config and credential store.
say "== system integration"
run install -d -m 0755 "$SYSUSERS_DIR" "$UNIT_DIR"
run install -m 0644 "$SRC/systemd/$NAME.sysusers" "$SYSUSERS_DIR/$NAME.conf"
run install -m 0644 "$SRC/systemd/$NAME.service" "$UNIT_DIR/$NAME.service"
if command -v systemd-sysusers >/dev/null; then
  if [ -n "$DESTDIR" ]; then
    run systemd-sysusers --root="$DESTDIR" "$SYSUSERS_DIR/$NAME.conf"
  else
    run systemd-sysusers "$SYSUSERS_DIR/$NAME.conf"
  fi
else
  say "! systemd-sysusers not found: create the user by hand (see $SYSUSERS_DIR/$NAME.conf)"
fi

# The service user must read the config (it may hold an OAuth client secret): root:group 0640.
run install -d -m 0755 "$ETC/$NAME"
if [ -e "$ETC/$NAME/config.yaml" ]; then
  say "= keeping existing $ETC/$NAME/config.yaml"
else
  run install -m 0640 "$SRC/config/$NAME.example.yaml" "$ETC/$NAME/config.yaml"
  gid="$(awk -F: -v n="$NAME" '$1 == n { print $3 }' "$ETC/group" 2>/dev/null || true)"
  if [ -n "$gid" ]; then run chgrp "$gid" "$ETC/$NAME/config.yaml"; fi
fi
# LoadCredential= reads the key from here as root; nobody else needs to see it.
run install -d -m 0700 "$ETC/credstore"

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  run systemctl daemon-reload
else
  say "= not calling systemctl daemon-reload (DESTDIR set or systemd not running)"
fi

if [ ! -x /usr/bin/node ]; then
  say "! /usr/bin/node not found: install Node.js >= 20.19 there, or override ExecStart= in a drop-in"
fi

cat <<NEXT

Next steps:
  1. Put the service-account key in the credential store (root only):
       install -m 0600 -o root -g root KEY.json /etc/credstore/$NAME.gdrive-sa.json
     and in /etc/$NAME/config.yaml set  auth.key_file: gdrive-sa.json
  2. Edit /etc/$NAME/config.yaml (database.path, watch.output_dir, drive.root_folder_id, ...),
     give $NAME write access to the batch database and output dir (group or ACL), then check
     config, database, token and root folder exactly as the service will see them:
       systemd-run --quiet --pipe --wait --collect -p User=$NAME \\
         -p LoadCredential=gdrive-sa.json:/etc/credstore/$NAME.gdrive-sa.json \\
         /usr/local/bin/$NAME check-config --config /etc/$NAME/config.yaml
  3. Apply the database migrations:
       runuser -u $NAME -- $NAME migrate --config /etc/$NAME/config.yaml
  4. Start it now and at boot:   systemctl enable --now $NAME
  5. Watch it:                   journalctl -u $NAME -p warning    (systemctl status $NAME)
NEXT

#!/usr/bin/env bash
# Installs batch-drive-sync from a clone as a systemd service, in one step (as root):
#
#   npm ci && npm run build && sudo systemd/install.sh
#
# It copies the built application to $PREFIX (runtime dependencies only), puts the CLI on PATH,
# then runs `batch-drive-sync install-service` from there: system user (sysusers.d), unit,
# state directory and access grants (tmpfiles.d), config from the example (never overwritten),
# and a check that lists exactly what is still missing. Run it again after every build and
# after editing the config: once nothing is missing it migrates and starts the service.
# (From the npm package the same is `npm install -g batch-drive-sync && sudo batch-drive-sync install-service`.)
#
# Options:
#   --dry-run   print what would be done, change nothing
#   --npm-ci    run `npm ci --omit=dev` in the install dir instead of copying node_modules
#               (needs the npm registry and a compiler for sqlite3)
#   --no-start  install and check, but do not migrate or start the service
#   -h, --help
# Environment:
#   DESTDIR     install into this root instead of / (packaging, tests); systemctl is not called
#   PREFIX      install dir, default /opt/batch-drive-sync
#   SRC         source tree, default the directory above this script
set -euo pipefail
umask 022

DRY_RUN=0
NPM_CI=0
PASS=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1; PASS+=(--dry-run) ;;
    --npm-ci) NPM_CI=1 ;;
    --no-start) PASS+=(--no-start) ;;
    -h|--help) sed -n '2,23s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $arg (try --help)" >&2; exit 64 ;;
  esac
done

NAME=batch-drive-sync
SRC="${SRC:-$(cd "$(dirname "$0")/.." && pwd)}"
DESTDIR="${DESTDIR:-}"
DESTDIR="${DESTDIR%/}"
PREFIX="${PREFIX:-/opt/$NAME}"
ROOT_PREFIX="$DESTDIR$PREFIX"
BIN_DIR="$DESTDIR/usr/local/bin"
NODE="${NODE:-$(command -v node || echo /usr/bin/node)}"

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
for f in package.json package-lock.json LICENSE migrations systemd/$NAME.service systemd/$NAME.sysusers config/$NAME.example.yaml; do
  [ -e "$SRC/$f" ] || die "missing $SRC/$f"
done
[ "$NPM_CI" = 1 ] || [ -d "$SRC/node_modules" ] || die "no $SRC/node_modules: run 'npm ci' there first, or pass --npm-ci"

# 1. Application files (what the npm package holds), replaced as a whole so files removed
#    upstream do not linger. Tests, benchmarks and source maps stay behind.
say "== application in $ROOT_PREFIX"
run install -d -m 0755 "$ROOT_PREFIX" "$ROOT_PREFIX/dist"
for d in dist/src migrations config systemd docs monitoring; do
  run rm -rf "${ROOT_PREFIX:?}/$d"
  if [ -d "$SRC/$d" ]; then run cp -R "$SRC/$d" "$ROOT_PREFIX/$d"; fi
done
if [ "$DRY_RUN" = 0 ]; then find "$ROOT_PREFIX/dist" -name '*.map' -delete; fi
run install -m 0644 "$SRC/package.json" "$SRC/package-lock.json" "$SRC/LICENSE" "$ROOT_PREFIX/"
run rm -rf "$ROOT_PREFIX/node_modules"
if [ "$NPM_CI" = 1 ]; then
  run npm ci --omit=dev --no-audit --no-fund --prefix "$ROOT_PREFIX"
else
  # Copy the built tree (native sqlite3 included) and drop devDependencies offline.
  run cp -R "$SRC/node_modules" "$ROOT_PREFIX/node_modules"
  run npm prune --omit=dev --no-audit --no-fund --offline --prefix "$ROOT_PREFIX"
fi
# The CLI on PATH, for status/files/retry/check-config.
run install -d -m 0755 "$BIN_DIR"
if [ "$DRY_RUN" = 0 ]; then
  printf '#!/bin/sh\nexec %s %s/dist/src/cli/main.js "$@"\n' "$NODE" "$PREFIX" > "$BIN_DIR/$NAME"
  chmod 0755 "$BIN_DIR/$NAME"
fi
say "+ wrote $BIN_DIR/$NAME"

# 2. System integration and the check, by the installed copy itself.
say "== system integration"
if [ "$DRY_RUN" = 1 ]; then
  say "+ $NODE $ROOT_PREFIX/dist/src/cli/main.js install-service --root ${DESTDIR:-/}"
  say "  (writes /etc/sysusers.d, /etc/systemd/system, /etc/tmpfiles.d and /etc/$NAME/config.yaml, then"
  say "   checks; see \"$NAME install-service --help\")"
  exit 0
fi
exec "$NODE" "$ROOT_PREFIX/dist/src/cli/main.js" install-service --root "${DESTDIR:-/}" ${PASS[@]+"${PASS[@]}"}

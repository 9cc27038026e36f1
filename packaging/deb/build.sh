#!/usr/bin/env bash
# Builds the Debian package of batch-drive-sync from a built clone (dpkg-deb, no debhelper):
#
#   npm ci && npm run build && packaging/deb/build.sh [OUT_DIR]
#
# Layout: /usr/lib/batch-drive-sync (application, runtime node_modules incl. the native sqlite3),
# /usr/bin/batch-drive-sync, the unit in /lib/systemd/system, sysusers.d and tmpfiles.d in
# /usr/lib, the config as a conffile in /etc/batch-drive-sync, docs and monitoring assets in
# /usr/share. Depends: nodejs (>= 20.19), which is how Node.js is installed on our machines.
# The postinst creates the user (systemd-sysusers), the state directory (systemd-tmpfiles) and
# reloads systemd; it does not start the service (the config needs editing first, then
# `batch-drive-sync install-service` grants access and starts it).
set -euo pipefail
umask 022
NAME=batch-drive-sync
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$SRC/dist-pkg}"
VERSION="$(node -p "require('$SRC/package.json').version")"
DEBVER="${VERSION}-1"
ARCH="$(dpkg --print-architecture)"
APP=/usr/lib/$NAME

[ -f "$SRC/dist/src/cli/main.js" ] || { echo "build.sh: no build: run 'npm ci && npm run build' first" >&2; exit 1; }
[ -d "$SRC/node_modules/sqlite3" ] || { echo "build.sh: no node_modules: run 'npm ci' first" >&2; exit 1; }

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
R="$STAGE/root"
mkdir -p "$R$APP/dist" "$R/usr/bin" "$R/lib/systemd/system" "$R/usr/lib/sysusers.d" "$R/usr/lib/tmpfiles.d" \
  "$R/etc/$NAME" "$R/usr/share/doc/$NAME" "$R/usr/share/$NAME" "$R/DEBIAN"

# Application: what the npm package holds, with runtime dependencies only.
cp -R "$SRC/dist/src" "$R$APP/dist/src"
find "$R$APP/dist" -name '*.map' -delete
cp -R "$SRC/migrations" "$SRC/config" "$SRC/systemd" "$R$APP/"
cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/LICENSE" "$R$APP/"
cp -R "$SRC/node_modules" "$R$APP/node_modules"
npm prune --omit=dev --no-audit --no-fund --offline --prefix "$R$APP" >/dev/null
rm -f "$R$APP/package-lock.json" "$R$APP/node_modules/.package-lock.json"
printf '#!/bin/sh\nexec /usr/bin/node %s/dist/src/cli/main.js "$@"\n' "$APP" > "$R/usr/bin/$NAME"
chmod 0755 "$R/usr/bin/$NAME"

# systemd integration: the shipped unit pointed at this layout.
sed -e "s#/opt/$NAME/dist/src/cli/main.js#$APP/dist/src/cli/main.js#" \
    -e "s#^Documentation=.*#Documentation=file:/usr/share/doc/$NAME/operations.md#" \
    -e "s#^WorkingDirectory=.*#WorkingDirectory=$APP#" \
    -e "s#^\# Installed by .*#\# Installed by the $NAME Debian package; see /usr/share/doc/$NAME/operations.md.#" \
    "$SRC/systemd/$NAME.service" > "$R/lib/systemd/system/$NAME.service"
cp "$SRC/systemd/$NAME.sysusers" "$R/usr/lib/sysusers.d/$NAME.conf"
printf '# The state directory; access to the batch database and output is granted per site by\n# `batch-drive-sync install-service` (/etc/tmpfiles.d/%s.conf).\nd /var/lib/%s 0750 %s %s -\n' "$NAME" "$NAME" "$NAME" "$NAME" > "$R/usr/lib/tmpfiles.d/$NAME.conf"
install -m 0640 "$SRC/config/$NAME.example.yaml" "$R/etc/$NAME/config.yaml"

# Documentation and monitoring assets.
cp "$SRC/docs/operations.md" "$SRC/README.md" "$R/usr/share/doc/$NAME/"
cp -R "$SRC/monitoring" "$R/usr/share/$NAME/monitoring"
{ echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"; echo "Upstream-Name: $NAME"; echo; echo "Files: *"; echo "License: MIT"; sed 's/^/ /; s/^ $/ ./' "$SRC/LICENSE"; } > "$R/usr/share/doc/$NAME/copyright"

SIZE_KB="$(du -sk "$R" | cut -f1)"
cat > "$R/DEBIAN/control" <<CONTROL
Package: $NAME
Version: $DEBVER
Architecture: $ARCH
Maintainer: batch-drive-sync maintainers <root@localhost>
Installed-Size: $SIZE_KB
Depends: nodejs (>= 20.19), systemd
Section: admin
Priority: optional
Description: uploads the output files of batch jobs to Google Drive, exactly once
 A daemon that watches the output directory of a batch system, uploads every file of the
 Drive-enabled jobs to Google Drive exactly once (reserved ids, resumable uploads, leases),
 and records ids and URLs in the batch system's SQLite database. Runs as a hardened
 systemd service; configure /etc/batch-drive-sync/config.yaml, then run
 "batch-drive-sync install-service".
CONTROL
echo "/etc/$NAME/config.yaml" > "$R/DEBIAN/conffiles"

cat > "$R/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
NAME=batch-drive-sync
if [ "$1" = configure ]; then
  systemd-sysusers /usr/lib/sysusers.d/$NAME.conf
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/$NAME.conf
  # The service user reads the config (it may hold an OAuth client secret); nobody else does.
  chgrp $NAME /etc/$NAME/config.yaml && chmod 0640 /etc/$NAME/config.yaml
  install -d -m 0700 /etc/credstore
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "$NAME: edit /etc/$NAME/config.yaml, put the Drive key in /etc/credstore/$NAME.gdrive-sa.json,"
  echo "$NAME: then run \"$NAME install-service\" (grants access, checks, migrates and starts)."
fi
exit 0
POSTINST
cat > "$R/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop batch-drive-sync.service >/dev/null 2>&1 || true
  systemctl disable batch-drive-sync.service >/dev/null 2>&1 || true
fi
exit 0
PRERM
cat > "$R/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
NAME=batch-drive-sync
if [ "$1" = purge ]; then
  # What install-service wrote for this site, and the state directory. The system user stays
  # (Debian does not remove system users: files may still belong to it).
  rm -f /etc/systemd/system/$NAME.service /etc/tmpfiles.d/$NAME.conf /etc/sysusers.d/$NAME.conf
  rm -rf /var/lib/$NAME
  rmdir /etc/$NAME 2>/dev/null || true
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
exit 0
POSTRM
chmod 0755 "$R/DEBIAN/postinst" "$R/DEBIAN/prerm" "$R/DEBIAN/postrm"

mkdir -p "$OUT"
DEB="$OUT/${NAME}_${DEBVER}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$R" "$DEB" >/dev/null
echo "$DEB"

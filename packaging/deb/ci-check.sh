#!/usr/bin/env bash
# CI: build the .deb, install it with dpkg -i on this machine, check it, purge it.
#   packaging/deb/ci-check.sh          (as root; changes the machine: run it on a throwaway one)
# Checks: `batch-drive-sync --version` is the package's version, `systemd-analyze verify` of the
# installed unit, the service user exists, the conffile is root:batch-drive-sync 0640; after
# `dpkg --purge`, no package file and no conffile remain.
set -euo pipefail
NAME=batch-drive-sync
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
say() { printf 'deb-check: %s\n' "$*"; }
fail() { printf 'deb-check: FAIL: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"

OUT="$(mktemp -d)"
# The package leaves its system user behind on purge (as Debian does); a user this check made
# is removed again, so the machine is as before (later tests run check-config as root).
HAD_USER=0
getent passwd $NAME >/dev/null && HAD_USER=1
cleanup() {
  rm -rf "$OUT"
  if [ "$HAD_USER" = 0 ] && getent passwd $NAME >/dev/null; then userdel $NAME 2>/dev/null || true; fi
  if [ "$HAD_USER" = 0 ] && getent group $NAME >/dev/null; then groupdel $NAME 2>/dev/null || true; fi
}
trap cleanup EXIT
DEB="$("$SRC/packaging/deb/build.sh" "$OUT")"
VERSION="$(node -p "require('$SRC/package.json').version")"
say "built $(basename "$DEB") ($(du -h "$DEB" | cut -f1))"

# Depends: nodejs (>= 20.19). On these machines Node.js is the nodejs Debian package
# (NodeSource's), so dpkg resolves it honestly. Where Node.js was installed otherwise, dpkg
# cannot know it: then, and only then, the dependency is forced, and we say so.
FORCE=()
NODEJS_DEB="$(dpkg-query -W -f='${Status} ${Version}' nodejs 2>/dev/null || true)"
if [[ "$NODEJS_DEB" == "install ok installed "* ]] && dpkg --compare-versions "${NODEJS_DEB##* }" ge 20.19; then
  say "nodejs ${NODEJS_DEB##* } is a Debian package: the dependency is satisfied"
else
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || fail "Node.js >= 20.19 is neither a Debian package nor on PATH"
  say "Node.js $(node --version) is not a Debian package here: installing with --force-depends (the real dependency is met by $(command -v node))"
  FORCE=(--force-depends)
fi

dpkg -i "${FORCE[@]}" "$DEB" >/dev/null
say "installed"
got="$($NAME --version)"
[ "$got" = "$NAME $VERSION" ] || fail "--version said '$got', expected '$NAME $VERSION'"
systemd-analyze verify /lib/systemd/system/$NAME.service || fail "systemd-analyze verify"
getent passwd $NAME >/dev/null || fail "no user $NAME"
[ "$(stat -c '%U:%G %a' /etc/$NAME/config.yaml)" = "root:$NAME 640" ] || fail "conffile is $(stat -c '%U:%G %a' /etc/$NAME/config.yaml)"
[ "$(stat -c '%U %a' /var/lib/$NAME)" = "$NAME 750" ] || fail "state dir is $(stat -c '%U %a' /var/lib/$NAME)"
dpkg-query -W -f='${Conffiles}\n' $NAME | grep -q "/etc/$NAME/config.yaml" || fail "config.yaml is not a conffile"
$NAME check-config --config /etc/$NAME/config.yaml >/dev/null 2>&1 && fail "check-config passed on the example config" || true
say "version, unit, user, conffile and state dir ok"

dpkg --purge $NAME >/dev/null
[ ! -e /usr/lib/$NAME ] || fail "/usr/lib/$NAME left after purge"
[ ! -e /etc/$NAME/config.yaml ] || fail "conffile left after purge"
[ ! -e /lib/systemd/system/$NAME.service ] || fail "unit left after purge"
say "purged: nothing left"

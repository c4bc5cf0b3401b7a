#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds snpseal's .deb packages (debian/) from the distributed files of a
# configured build tree (make distdir: what "make dist" packs) plus debian/,
# with dpkg-buildpackage -us -uc -b and DEB_BUILD_OPTIONS=nocheck (the suite
# runs on its own).
#
#   sh tests/pkg/build-debs.sh BUILD-DIR OUT-DIR [VERSION]
#
# VERSION, if given, is a new changelog entry on top (the upgrade test builds
# the same source twice). The .debs land in OUT-DIR, the log in
# OUT-DIR/build.log. Needs dpkg-dev, debhelper and the build dependencies of
# debian/control.
set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD-DIR OUT-DIR [VERSION]" >&2; exit 2; }
b=$1 out=$2 ver=${3:-}
[ -f "$b/Makefile" ] || { echo "$0: $b is not a configured build tree" >&2; exit 2; }
[ -d "$top_srcdir/debian" ] || { echo "$0: no debian/ directory in $top_srcdir" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out/src" || exit 1
out=$(cd "$out" && pwd)
src=$out/src/snpseal
make -s -C "$b" distdir distdir="$src" >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
cp -a "$top_srcdir/debian" "$src/" || exit 1
if [ -n "$ver" ]; then
        maint=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
        { printf 'snpseal (%s) unstable; urgency=medium\n\n  * Local rebuild.\n\n -- %s  %s\n\n' \
                "$ver" "$maint" "$(date -R)"; cat "$src/debian/changelog"; } >"$src/debian/changelog.new" &&
                mv "$src/debian/changelog.new" "$src/debian/changelog" || exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=$jobs" dpkg-buildpackage -us -uc -b) \
                >>"$out/build.log" 2>&1; then
        tail -n 40 "$out/build.log" >&2
        echo "$0: dpkg-buildpackage failed (log: $out/build.log)" >&2
        exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out/" && rm -rf "$out/src"
ls "$out"/*.deb

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copies the .debs of IN-DIR to OUT-DIR with another version: the same files
# and maintainer scripts, the version in the control file and in the exact
# dependencies between snpseal's packages replaced. .ci/run makes the
# "previous build" of the upgrade test (tests/pkg/test-packages.sh) this way
# instead of compiling everything a second time.
#
#   sh tests/pkg/reversion-debs.sh IN-DIR OUT-DIR VERSION
set -u
[ $# -eq 3 ] || { echo "usage: $0 IN-DIR OUT-DIR VERSION" >&2; exit 2; }
in=$1 out=$2 ver=$3
rm -rf "$out" && mkdir -p "$out/x" || exit 1
for deb in "$in"/*.deb; do
        old=$(dpkg-deb -f "$deb" Version) && pkg=$(dpkg-deb -f "$deb" Package) && arch=$(dpkg-deb -f "$deb" Architecture) ||
                exit 1
        rm -rf "$out/x" && dpkg-deb -R "$deb" "$out/x" || exit 1
        sed -i -e "s/^Version: .*/Version: $ver/" -e "s/(= $old)/(= $ver)/g" "$out/x/DEBIAN/control" || exit 1
        dpkg-deb --root-owner-group -Zxz -b "$out/x" "$out/${pkg}_${ver}_$arch.deb" >/dev/null || exit 1
done
rm -rf "$out/x"

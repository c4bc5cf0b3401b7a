#!/bin/sh
# Regenerate the build system: ./autogen.sh && ./configure && make
set -eu
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --force --install --verbose
# automake does not install the TAP driver by itself.
am_dir=$(automake --print-libdir)
cp -f "$am_dir/tap-driver.sh" build-aux/tap-driver.sh

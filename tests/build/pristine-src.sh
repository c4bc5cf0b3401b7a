# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# pristine_src DIR: prints the path of a source tree that configure accepts
# for a build in another directory. That is $top_srcdir itself, unless it has
# been configured in place (the README's ./configure && make check), which
# makes every other build of it fail with "source directory already
# configured"; then it is a copy of the distributed files, exactly what
# "make dist" would pack, made in DIR with "make distdir".
pristine_src() { # DIR
        if [ ! -f "$top_srcdir/config.status" ]; then
                echo "$top_srcdir"
                return 0
        fi
        rm -rf "$1" || return 1
        if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" distdir distdir="$1" >"$1.log" 2>&1; then
                cat "$1.log" >&2
                echo "pristine_src: make distdir failed" >&2
                return 1
        fi
        rm -f "$1.log"
        echo "$1"
}

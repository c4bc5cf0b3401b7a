#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes the cached guest trees of `make vm-check` ahead of it (mmdebstrap:
# mostly waiting on the network), so that .ci/run can do it in the
# background while it compiles: the Debian 12 trees (bookworm) of
# tests/vm/test-boot.sh and the Debian 13 trees (trixie) of
# tests/vm/test-boot-debian13.sh, each suite in its own process. Use the same
# SNPSEAL_VM_CACHE (and SNPSEAL_VM_MIRROR) as the tests that follow, and let
# this finish before they start.
#
#   top_srcdir=SRC top_builddir=BUILD SNPSEAL_VM_CACHE=DIR sh tests/vm/prefetch.sh [SUITE...]
#
# Exit status: 0, 77 (vm_init: cannot run here), 1 (a tree failed; its log
# is in $SNPSEAL_VM_CACHE/prefetch-SUITE/).

: "${top_srcdir:?}" "${top_builddir:?}" "${SNPSEAL_VM_CACHE:?}"
. "$top_srcdir/tests/vm/vm-lib.sh"

prefetch() { # SUITE KIND...
        SNPSEAL_VM_WORK=$SNPSEAL_VM_CACHE/prefetch-$1
        vm_init || return
        vm_use_suite "$1" || return 1
        shift
        for _k in "$@"; do
                vm_base "$_k" >/dev/null || return 1
        done
}

[ $# -gt 0 ] || set -- bookworm trixie
pids=
for suite in "$@"; do
        ( prefetch "$suite" initramfs-tools dracut ) &
        pids="$pids $!"
done
rc=0
for pid in $pids; do
        wait "$pid" || rc=$?
done
exit "$rc"

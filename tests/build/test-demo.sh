#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's demo (demo/run.sh) on this build (SNPSEAL_DEMO_SKIP_BUILD=1):
# every step checks itself, attest → verify --trust-anchor=<the simulator's
# ARK> included, and the commands it prints for typing afterwards are run by
# it too (issue 12, finding 16; issue 13, point 7). demo/packages names only
# what the demo needs. The demo installs missing packages as root: this test
# runs it only when every one of them is installed already.
. "$top_srcdir/tests/tap.sh"

S=$top_srcdir
trap 'rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
PKGS=$(grep -v '^#' "$S/demo/packages" | tr '\n' ' ')

check_eq "demo/packages has none of the test suite's tools (QEMU, clang, valgrind, mmdebstrap)" "" \
        "$(printf '%s\n' $PKGS | grep -E '^(qemu|clang|valgrind|mmdebstrap|cmocka|libcmocka)' | tr '\n' ' ')"

[ "$(id -u)" -eq 0 ] || { echo "# not root: the demo itself is not run (a private mount namespace)"; tap_done; exit; }
command -v bash >/dev/null || { echo "# no bash: the demo is not run"; tap_done; exit; }
missing=
for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
        echo "# not installed:$missing: the demo would install them; not run"
        tap_done
        exit
fi
SNPSEAL_DEMO_SKIP_BUILD=1 SNPSEAL_DEMO_BUILD=$top_builddir bash "$S/demo/run.sh" >"$TAP_OUT" 2>&1
rc=$?
cp "$TAP_OUT" "$TAP_OUT.log"
if [ "$rc" -eq 0 ]; then
        _tap_result ok "demo/run.sh on this build: exit 0"
else
        echo "exit $rc" >>"$TAP_OUT"
        tail -n 30 "$TAP_OUT" >"$TAP_OUT.err"
        _tap_result not-ok "demo/run.sh on this build: exit 0" "$TAP_OUT.err"
fi
check_output "the demo's evidence from attest verifies against the simulator's ARK" \
        '^verified: a genuine report' cat "$TAP_OUT.log"
check_output "the commands it prints for typing afterwards work" '^they do\.$' cat "$TAP_OUT.log"
check_eq "no DEMO FAILED line" 0 "$(grep -c 'DEMO FAILED' "$TAP_OUT.log")"
rm -f "$TAP_OUT.log"

tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The firmware simulator (lib/sim/, lib/libsnpseal-sim.la) is linked only
# into what uses it: snpseal-sim and the agent (its simulator backend) define
# its symbols; the CLI, the LUKS2 token plugin and the PAM module define none
# of them. The simulator's symbols are the global ones its own objects define
# in the build's lib/.libs/libsnpseal-sim.a (members libsnpseal_sim_la-*).
. "$top_srcdir/tests/tap.sh"

command -v nm >/dev/null || tap_skip_all "nm (binutils) is not installed"
B=$top_builddir
LIB=$B/lib/.libs/libsnpseal-sim.a
[ -f "$LIB" ] || { echo "no $LIB: build first" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W" "$TAP_OUT" "$TAP_OUT.err"' EXIT

# Global symbols defined by the simulator's own objects.
nm -g --defined-only "$LIB" 2>/dev/null | awk '
        /^$/ { next }
        /:$/ { own = ($0 ~ /^libsnpseal_sim_la-/); next }
        own && NF >= 3 { print $3 }' | sort -u >"$W/sim"
check_eq "the simulator's library defines its symbols (sim_state_load, snp_backend_simulator_open)" "2" \
        "$(grep -cxE 'sim_state_load|snp_backend_simulator_open' "$W/sim")"

# The simulator's symbols that FILE defines (all of its symbols, local too).
sim_in() { # FILE
        nm --defined-only "$1" 2>/dev/null | awk 'NF >= 3 { print $3 }' | sort -u >"$W/file"
        comm -12 "$W/sim" "$W/file"
}
has_none() { # NAME FILE
        [ -f "$2" ] || { echo "# $2 is missing: build first" >&2; _tap_result not-ok "$1: built" /dev/null; return; }
        sim_in "$2" >"$TAP_OUT"
        if [ -s "$TAP_OUT" ]; then
                sed -i '1i the simulator symbols it defines:' "$TAP_OUT"
                _tap_result not-ok "$1 contains no simulator code" "$TAP_OUT"
        else
                _tap_result ok "$1 contains no simulator code"
        fi
}
has_some() { # NAME FILE
        check_output "$1 contains the simulator (the check above can fail)" '^sim_state_load$' sim_in "$2"
}

has_none "the CLI (snpseal)" "$B/cli/snpseal"
has_none "the token plugin" "$B/cryptsetup-token/.libs/libcryptsetup-token-snpseal.so"
has_none "the PAM module" "$B/pam/.libs/pam_snpseal.so"
has_some "snpseal-sim" "$B/cli/snpseal-sim"
has_some "the agent (snpseald)" "$B/agent/snpseald"

tap_done

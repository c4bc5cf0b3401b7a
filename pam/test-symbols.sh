#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PAM module exports exactly the six pam_sm_* functions of its version
# script (unversioned, as Linux-PAM looks them up with dlsym()), and links
# neither OpenSSL nor anything that would keep Linux-PAM from dlopen()ing it.
. "$top_srcdir/tests/tap.sh"

so="$top_builddir/pam/.libs/pam_snpseal.so"
sym="$top_srcdir/pam/pam_snpseal.sym"
command -v nm >/dev/null || tap_skip_all "nm (binutils) not installed"
command -v readelf >/dev/null || tap_skip_all "readelf (binutils) not installed"
[ -f "$so" ] || tap_skip_all "$so not built"

work=$(mktemp -d)
trap 'rm -rf "$work" "$TAP_OUT"' EXIT

# The names between "global:" and "local:" of the version script.
sed -n '/global:/,/local:/p' "$sym" | sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' |
        sort >"$work/expected"
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' >"$work/versioned"
sed 's/@.*//' "$work/versioned" | sort >"$work/exported"
printf '%s\n' pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session \
        pam_sm_open_session pam_sm_setcred >"$work/abi"

check "the version script lists exactly the six pam_sm_* functions" cmp "$work/abi" "$work/expected"
check "exported symbols equal the version script" cmp "$work/expected" "$work/exported"
check_eq "no export carries a version" "" "$(grep '@' "$work/versioned")"

readelf -d "$so" >"$work/dynamic"
check_eq "no OpenSSL in the module" "" "$(grep -E 'NEEDED.*\[lib(crypto|ssl)\.' "$work/dynamic")"
check_output "links libpam" 'libpam\.so' grep -E 'NEEDED' "$work/dynamic"
check_output "links json-c" 'libjson-c\.so' grep -E 'NEEDED' "$work/dynamic"
check_eq "not linked -z nodlopen" "" "$(grep -E 'FLAGS_1.*NOOPEN' "$work/dynamic")"
check_output "linked -z now" 'FLAGS_1.*NOW' cat "$work/dynamic"
tap_done

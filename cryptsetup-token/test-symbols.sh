#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The token plugin exports exactly the libcryptsetup token ABI of its version
# script, each symbol under the CRYPTSETUP_TOKEN_1.0 node, links libcrypto
# only (the header MACs, in a private library context: never libssl, never
# OpenSSL's global configuration) and nothing that would keep libcryptsetup
# from dlopen()ing it.
. "$top_srcdir/tests/tap.sh"

so="$top_builddir/cryptsetup-token/.libs/libcryptsetup-token-snpseal.so"
sym="$top_srcdir/cryptsetup-token/libcryptsetup-token-snpseal.sym"
command -v nm >/dev/null || tap_skip_all "nm (binutils) not installed"
command -v readelf >/dev/null || tap_skip_all "readelf (binutils) not installed"
[ -f "$so" ] || tap_skip_all "$so not built"

work=$(mktemp -d)
trap 'rm -rf "$work" "$TAP_OUT"' EXIT

# The names between "global:" and "local:" of the version script.
sed -n '/global:/,/local:/p' "$sym" | sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' |
        sort >"$work/expected"
# Defined dynamic symbols except the version node itself (type A).
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' >"$work/versioned"
sed 's/@.*//' "$work/versioned" | sort >"$work/exported"

check_eq "the version script lists the six token functions" 6 "$(wc -l <"$work/expected" | tr -d ' ')"
check "exported symbols equal the version script" cmp "$work/expected" "$work/exported"
check_eq "every export is versioned CRYPTSETUP_TOKEN_1.0" "" \
        "$(grep -v '@@CRYPTSETUP_TOKEN_1\.0$' "$work/versioned")"

readelf -d "$so" >"$work/dynamic"
check_eq "no libssl in the plugin" "" "$(grep -E 'NEEDED.*\[libssl\.' "$work/dynamic")"
nm -D --undefined-only "$so" >"$work/undefined"
check_eq "never OpenSSL's global initialisation or configuration" "" \
        "$(grep -E ' (OPENSSL_init_crypto|OPENSSL_init_ssl|CONF_modules_load[a-z_]*)(@|$)' "$work/undefined")"
check_output "the MAC is computed in its own library context" ' OSSL_LIB_CTX_new(@|$)' cat "$work/undefined"
check_output "links libcryptsetup and json-c" 'libcryptsetup\.so' grep -E 'NEEDED.*\[libjson-c\.|NEEDED.*\[libcryptsetup\.' "$work/dynamic"
check_eq "not linked -z nodlopen" "" "$(grep -E 'FLAGS_1.*NOOPEN' "$work/dynamic")"
check_output "linked -z now" 'FLAGS_1.*NOW' cat "$work/dynamic"
tap_done

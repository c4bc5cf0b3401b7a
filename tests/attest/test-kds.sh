#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal verify --fetch against a real HTTP server on the loopback address
# (busybox httpd; a CGI script plays AMD's KDS over the fixture files): the
# documented URLs with the report's hwID and SPLs, the cache it fills and
# verification from that cache alone, retries with backoff on HTTP 429, a
# KDS that stays rate-limited, a VCEK the KDS does not have (404), a CRL
# that is not AMD's.
# Run by `make check`; by hand:
#   top_srcdir=. top_builddir=_build SNPSEAL=_build/cli/snpseal sh tests/attest/test-kds.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

S=${SNPSEAL:-}
if [ -z "$S" ] || [ ! -x "$S" ]; then
        echo "SNPSEAL is not set to the snpseal binary (got '$S')" >&2
        exit 1
fi
. "$top_srcdir/tests/attest/kds-env.sh"
why=$(kds_why_not) || tap_skip_all "$why"

F=$top_srcdir/tests/attest/fixtures
WORK=$(mktemp -d)
cleanup() {
        kds_stop
        rm -f "$TAP_OUT"
        rm -rf "$WORK"
}
trap cleanup EXIT

kds_start "$WORK" || tap_skip_all "busybox httpd could not listen on 127.0.0.1"
URL=$KDS_URL
mkdir -p "$KDS_DIR/vcek/v1/Milan"
GSG_R=$F/go-sev-guest/attestation.bin
HWID=$(od -An -tx1 -j $((0x1a0)) -N64 "$GSG_R" | tr -d ' \n')
cp "$F/go-sev-guest/vcek.testcer" "$KDS_DIR/vcek/v1/Milan/$HWID"
cp "$F/go-sev-guest/ask_ark_milan.pem" "$KDS_DIR/vcek/v1/Milan/cert_chain"
export SNPSEAL_KDS_RETRY_MS=20

check_exit() { # NAME CODE PATTERN CMD...
        _name=$1; _code=$2; _pat=$3; shift 3
        "$@" >"$TAP_OUT" 2>&1
        _rc=$?
        if [ "$_rc" -ne "$_code" ]; then
                echo "exit $_rc, expected $_code: $*" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        elif grep -Eq -- "$_pat" "$TAP_OUT"; then
                _tap_result ok "$_name"
        else
                echo "output does not match /$_pat/" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        fi
}

C=$WORK/cache
check_exit "--fetch gets the VCEK and cert_chain and verifies" 0 '^verified' \
        "$S" verify --at=1798761600 --fetch --cache="$C" --kds-url="$URL" "$GSG_R"
check_eq "the VCEK URL carries the hwID and the SPLs of REPORTED_TCB" \
        "/vcek/v1/Milan/$HWID?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68" "$(sed -n 1p "$KDS_LOG")"
check_eq "then cert_chain" "/vcek/v1/Milan/cert_chain?" "$(sed -n 2p "$KDS_LOG")"
check_eq "then the CRL" "/vcek/v1/Milan/crl?" "$(sed -n 3p "$KDS_LOG")"
check_eq "the VCEK is cached" yes "$(cmp -s "$C/Milan/vcek-$HWID-0200000000000544.der" "$F/go-sev-guest/vcek.testcer" && echo yes)"
check_eq "cert_chain is cached" yes "$(cmp -s "$C/Milan/cert_chain.pem" "$F/go-sev-guest/ask_ark_milan.pem" && echo yes)"
check_exit "without a CRL from the KDS, revocation is not checked, and said so" 0 'no CRL: revocation is not checked' \
        "$S" verify --at=1798761600 --fetch --cache="$C" --kds-url="$URL" "$GSG_R"

: >"$KDS_LOG"
check_exit "the cache alone verifies (no --fetch, no request)" 0 '^verified' "$S" verify --at=1798761600 --cache="$C" "$GSG_R"
check_eq "no request was made" "" "$(cat "$KDS_LOG")"
check_exit "--fetch with a full cache asks only for the CRL" 0 '^verified' \
        "$S" verify --at=1798761600 --fetch --cache="$C" --kds-url="$URL" "$GSG_R"
check_eq "only the CRL" "/vcek/v1/Milan/crl?" "$(cat "$KDS_LOG")"

# Rate limiting: two 429s, then the answer.
: >"$KDS_LOG"; echo 2 >"$KDS_THROTTLE"
check_exit "HTTP 429 is retried with backoff" 0 'rate-limited \(HTTP 429\), retrying in 20 ms.*retrying in 40 ms' \
        sh -c "\"$S\" verify --at=1798761600 --fetch --cache=\"$WORK/deep/er/cache2\" --kds-url=\"$URL\" \"$GSG_R\" 2>&1 | tr '\n' ' '"
check_eq "and the VCEK arrived on the third try" 3 "$(grep -c "^/vcek/v1/Milan/$HWID" "$KDS_LOG")"
check_eq "a cache directory's missing parents are made" yes "$([ -s "$WORK/deep/er/cache2/Milan/cert_chain.pem" ] && echo yes)"
echo 99 >"$KDS_THROTTLE"
check_exit "a KDS that stays rate-limited: exit 4, try later" 4 'still rate-limited \(HTTP 429\) after 5 tries; try again later' \
        "$S" verify --at=1798761600 --fetch --cache="$WORK/cache3" --kds-url="$URL" "$GSG_R"
echo 0 >"$KDS_THROTTLE"

check_exit "a VCEK the KDS does not have: exit 4, HTTP 404 named" 4 'KDS: .*/vcek/v1/Genoa/.*: HTTP 404' \
        "$S" verify --at=1798761600 --fetch --cache="$WORK/cache4" --kds-url="$URL" "$F/virtee-sev/report_milan.bin"
check_exit "an unreachable KDS: exit 4" 4 'KDS: http://127.0.0.1:1/.*' \
        "$S" verify --at=1798761600 --fetch --cache="$WORK/cache5" --kds-url="http://127.0.0.1:1" "$GSG_R"
check_exit "a cache file that is not a certificate: exit 4" 4 'KDS cache: .*not a certificate' sh -c "
        mkdir -p \"$WORK/cache6/Milan\" && echo junk >\"$WORK/cache6/Milan/vcek-$HWID-0200000000000544.der\" &&
        \"$S\" verify --cache=\"$WORK/cache6\" \"$GSG_R\""

# Which product's URL: a version 2 report has no CPUID. Turin's CHIP_ID has
# only 8 bytes set (the tie-breaker); otherwise Milan, then Genoa.
cp "$GSG_R" "$WORK/v2-turin.bin"
dd if=/dev/zero of="$WORK/v2-turin.bin" bs=1 seek=$((0x1a8)) count=56 conv=notrunc 2>/dev/null
: >"$KDS_LOG"
check_exit "v2 with Turin's CHIP_ID: Turin's URL, not found here" 4 'KDS: .*/vcek/v1/Turin/.*: HTTP 404' \
        "$S" verify --fetch --cache="$WORK/cache7" --kds-url="$URL" "$WORK/v2-turin.bin"
check_eq "Turin's URL: the 8-byte hwID and fmcSPL (TCB 0200000000000544: FMC 2, SNP 0, microcode 0x44)" \
        "/vcek/v1/Turin/${HWID%"${HWID#????????????????}"}?blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=68&fmcSPL=2" \
        "$(sed -n 1p "$KDS_LOG")"
: >"$KDS_LOG"
check_exit "v2 with a 64-byte CHIP_ID unknown to the KDS: Milan, then Genoa" 4 'KDS: .*/vcek/v1/Genoa/.*: HTTP 404' \
        "$S" verify --fetch --cache="$WORK/cache8" --kds-url="$URL" "$F/virtee-sev/report_milan.bin"
check_eq "Milan was asked first" "/vcek/v1/Milan" "$(sed -n 1p "$KDS_LOG" | cut -d/ -f1-4)"
check_eq "then Genoa" "/vcek/v1/Genoa" "$(sed -n 2p "$KDS_LOG" | cut -d/ -f1-4)"
: >"$KDS_LOG"
check_exit "v3 Genoa (CPUID): Genoa's URL only" 4 'KDS: .*/vcek/v1/Genoa/.*: HTTP 404' \
        "$S" verify --fetch --cache="$WORK/cache9" --kds-url="$URL" "$F/ms-tav/genoa_attestation_report.bin"
check_eq "one request, to Genoa" "1 /vcek/v1/Genoa" "$(wc -l <"$KDS_LOG" | tr -d ' ') $(sed -n 1p "$KDS_LOG" | cut -d/ -f1-4)"

# A CRL that is not AMD's fails the report.
if command -v openssl >/dev/null; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj /CN=ARK-Milan \
                -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 >/dev/null 2>&1
        mkdir -p "$WORK/ca"; : >"$WORK/ca/index.txt"
        printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/ca/index.txt\ndefault_md=sha384\ndefault_crl_days=1\n' \
                "$WORK" >"$WORK/ca.cnf"
        openssl ca -gencrl -config "$WORK/ca.cnf" -keyfile "$WORK/ca.key" -cert "$WORK/ca.pem" \
                -out "$WORK/crl.pem" >/dev/null 2>&1
        openssl crl -in "$WORK/crl.pem" -outform der -out "$KDS_DIR/vcek/v1/Milan/crl"
        check_exit "the KDS's CRL is checked: not AMD's, not genuine" 1 'FAIL  crl +the CRL is not signed by the chain.s ARK' \
                "$S" verify --at=1798761600 --fetch --cache="$C" --kds-url="$URL" "$GSG_R"
fi
tap_done

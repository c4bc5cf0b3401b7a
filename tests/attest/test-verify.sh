#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal verify against real reports, VCEKs and AMD's chains
# (tests/attest/fixtures, MANIFEST.md there): every report verifies with its
# chain; a flipped signed byte, another product's chain, a wrong ARK, a VCEK
# of another chip or TCB, a wrong key type, reserved bytes, a foreign CRL
# fail as "not genuine" (exit 1) with the right message; expectations that do
# not hold exit 3; unreadable input exits 4; bad options exit 2.
# Run by `make check`; by hand:
#   top_srcdir=. SNPSEAL=_build/cli/snpseal sh tests/attest/test-verify.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

S=${SNPSEAL:-}
if [ -z "$S" ] || [ ! -x "$S" ]; then
        echo "SNPSEAL is not set to the snpseal binary (got '$S')" >&2
        exit 1
fi
F=$top_srcdir/tests/attest/fixtures
WORK=$(mktemp -d)
trap 'rm -f "$TAP_OUT"; rm -rf "$WORK"' EXIT

# check_exit NAME CODE PATTERN CMD...: CMD exits CODE and its output matches PATTERN.
check_exit() {
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
# poke FILE OFFSET HEXBYTE: write one byte.
poke() {
        printf "\\$(printf '%03o' "0x$3")" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc 2>/dev/null
}
byte_at() { # FILE OFFSET
        od -An -tx1 -j $(($2)) -N1 "$1" | tr -d ' '
}
flip() { # IN OUT OFFSET
        cp "$1" "$2"
        _b=$(byte_at "$1" "$3")
        poke "$2" "$3" "$(printf '%02x' $((0x$_b ^ 1)))"
}

# The fixtures' VCEKs expire (the first in September 2029): check them as of
# 2027-01-01, when every one is valid (issued up to February 2026).
AT=1798761600
GSG="--at=$AT --cert=$F/go-sev-guest/vcek.testcer --cert=$F/go-sev-guest/ask_ark_milan.pem"
GSG_R=$F/go-sev-guest/attestation.bin
VIR="--at=$AT --cert=$F/virtee-sev/vcek_milan.der --cert=$F/virtee-sev/cert_chain_milan"
VIR_R=$F/virtee-sev/report_milan.bin
MIL="--at=$AT --cert=$F/ms-tav/milan_vcek.pem --cert=$F/ms-tav/milan_ask.pem"
MIL_R=$F/ms-tav/milan_attestation_report.bin
GEN="--at=$AT --cert=$F/ms-tav/genoa_vcek.pem --cert=$F/ms-tav/genoa_ask_ark.pem"
GEN_R=$F/ms-tav/genoa_attestation_report.bin

# ---------------------------------------------------------------- genuine
# shellcheck disable=SC2086
{
check_exit "go-sev-guest Milan v2 report verifies" 0 '^verified' "$S" verify $GSG "$GSG_R"
check_exit "virtee Milan v2 report verifies" 0 'pass  chain +ARK-Milan → SEV-Milan → SEV-VCEK; root built in' \
        "$S" verify $VIR "$VIR_R"
check_exit "MS Milan v3 report verifies (ASK alone, ARK built in)" 0 'pass  product +Milan, as the report.s CPUID says' \
        "$S" verify $MIL "$MIL_R"
check_exit "MS Genoa v3 report verifies" 0 'pass  tcb +the VCEK.s SPLs equal REPORTED_TCB 0a00000000001754' \
        "$S" verify $GEN "$GEN_R"
check_exit "every check is named" 0 'pass  hwid .*pass  signature .*' sh -c "\"$S\" verify $GEN \"$GEN_R\" | tr '\n' ' '"
check_exit "--json says verified" 0 '"verdict": "verified"' "$S" verify --json $GSG "$GSG_R"
check_exit "--json names the product and the checks" 0 '"name": "signature"' "$S" verify --json $GSG "$GSG_R"
check_exit "--json carries the decoded report" 0 '"measurement": "b07af962' "$S" verify --json $GSG "$GSG_R"

# ---------------------------------------------------------------- not genuine
for off in 0x000 0x008 0x050 0x090 0x0c0 0x1a0 0x1e0 0x29f; do
        flip "$GSG_R" "$WORK/flip.bin" $off
        check_exit "a flipped byte at $off: not genuine (exit 1)" 1 'FAIL  signature +the report.s signature does not verify' \
                "$S" verify $GSG "$WORK/flip.bin"
done
flip "$GSG_R" "$WORK/sig.bin" 0x2a0
check_exit "a flipped signature byte: not genuine" 1 'NOT GENUINE' "$S" verify $GSG "$WORK/sig.bin"
check_exit "Milan VCEK with Genoa's ASK: no chain" 1 \
        'FAIL  chain +VCEK does not chain to a trusted ARK: unable to get local issuer certificate \(at SEV-VCEK\): give the ASK' \
        "$S" verify --cert=$F/go-sev-guest/vcek.testcer --cert=$F/ms-tav/genoa_ask_ark.pem "$GSG_R"
check_exit "a wrong ARK as trust anchor: no chain" 1 'FAIL  chain +VCEK does not chain to a trusted ARK' \
        "$S" verify $GSG --trust-anchor=$F/ms-tav/genoa_ark.pem "$GSG_R"
check_exit "the Turin ARK as trust anchor for a Milan chain: no chain" 1 'FAIL  chain .*not trusted' \
        "$S" verify $GSG --trust-anchor=$F/ms-tav/turin_ark.pem "$GSG_R"
check_exit "in 2050 the VCEK has expired: not genuine" 1 'FAIL  chain +VCEK does not chain to a trusted ARK: certificate has expired' \
        "$S" verify $GSG --at=2524608000 "$GSG_R"
check_exit "--at before the VCEK was issued" 1 'certificate is not yet valid' \
        "$S" verify $GSG --at=1577836800 "$GSG_R"
check_exit "--at that is no time: usage" 2 '--at wants seconds since 1970' "$S" verify $GSG --at=yesterday "$GSG_R"
check_exit "the right ARK as trust anchor verifies" 0 'root given with --trust-anchor' \
        "$S" verify $GSG --trust-anchor=$F/ms-tav/milan_ark.pem "$GSG_R"
check_exit "a VCEK of other SPLs: not genuine" 1 \
        'FAIL  tcb +the VCEK is for boot loader SPL 3, the report.s REPORTED_TCB 0200000000000544 has 2' \
        "$S" verify --cert=$F/virtee-sev/vcek_milan.der --cert=$F/virtee-sev/cert_chain_milan "$GSG_R"
check_exit "a VCEK of another chip: not genuine" 1 'FAIL  hwid +the VCEK is for chip [0-9a-f]+…, the report.s CHIP_ID' \
        "$S" verify --cert=$F/virtee-sev/vcek_milan.der --cert=$F/virtee-sev/cert_chain_milan "$GSG_R"
check_exit "a Genoa VCEK for a Milan report: product" 1 'FAIL  product +the report.s CPUID .* is a Milan, the certificate is for Genoa' \
        "$S" verify $GEN "$MIL_R"
cp "$GSG_R" "$WORK/vlek.bin"; poke "$WORK/vlek.bin" 0x48 04
check_exit "signer info says VLEK, the certificate is a VCEK" 1 \
        'FAIL  key-type +the report says it is signed by the VLEK \(signer info\), the certificate given is a VCEK' \
        "$S" verify $GSG "$WORK/vlek.bin"
cp "$GSG_R" "$WORK/none.bin"; poke "$WORK/none.bin" 0x48 1c
check_exit "signer info says no signing key" 1 'FAIL  key-type +signer info 0x0000001c names signing key 7 \(none\)' \
        "$S" verify $GSG "$WORK/none.bin"
cp "$GSG_R" "$WORK/rsv.bin"; poke "$WORK/rsv.bin" 0x4c 01
check_exit "a reserved byte set" 1 'FAIL  reserved +reserved bytes 0x04C-0x04F are not zero' "$S" verify $GSG "$WORK/rsv.bin"
cp "$GSG_R" "$WORK/sigrsv.bin"; poke "$WORK/sigrsv.bin" 0x400 01
check_exit "reserved bytes of the signature set" 1 'FAIL  reserved +reserved bytes of the signature are not zero' \
        "$S" verify $GSG "$WORK/sigrsv.bin"
cp "$GSG_R" "$WORK/algo.bin"; poke "$WORK/algo.bin" 0x34 02
check_exit "another signature algorithm" 1 'FAIL  report +signature algorithm 2 is not ECDSA P-384' \
        "$S" verify $GSG "$WORK/algo.bin"
cp "$GSG_R" "$WORK/v6.bin"; poke "$WORK/v6.bin" 0 06
check_exit "version 6: decoded as far as known, said so" 1 \
        'warn  report +version 6 is newer than this snpseal knows \(5\)' "$S" verify $GSG "$WORK/v6.bin"
check_exit "version 6: reserved fields not checked, said so" 1 'warn  reserved +not checked: version 6' \
        "$S" verify $GSG "$WORK/v6.bin"
check_exit "--json says not-genuine" 1 '"verdict": "not-genuine"' "$S" verify --json $GSG "$WORK/flip.bin"

# A CRL this test signed itself is not AMD's.
if command -v openssl >/dev/null; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj /CN=ARK-Milan \
                -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 >/dev/null 2>&1
        mkdir -p "$WORK/ca"; : >"$WORK/ca/index.txt"
        printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/ca/index.txt\ndefault_md=sha384\ndefault_crl_days=1\n' \
                "$WORK" >"$WORK/ca.cnf"
        openssl ca -gencrl -config "$WORK/ca.cnf" -keyfile "$WORK/ca.key" -cert "$WORK/ca.pem" \
                -out "$WORK/crl.pem" >/dev/null 2>&1
        check_exit "a CRL not signed by the ARK: not genuine" 1 'FAIL  crl +the CRL is not signed by the chain.s ARK' \
                "$S" verify $GSG --crl="$WORK/crl.pem" "$GSG_R"
fi
check_exit "a CRL file that is no CRL" 4 'not a certificate revocation list' \
        "$S" verify $GSG --crl="$GSG_R" "$GSG_R"

# ---------------------------------------------------------------- expectations
M=b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01
check_exit "--expect-measurement holds" 0 'pass  measurement +the measurement is b07af962' \
        "$S" verify $GSG --expect-measurement=$M "$GSG_R"
check_exit "--expect-measurement differs: exit 3" 3 \
        "FAIL  measurement +the measurement is b07af962.*, expected 00000000" \
        "$S" verify $GSG --expect-measurement="$(printf '%096d' 0)" "$GSG_R"
check_exit "unexpected is said so" 3 'genuine, but not what was expected' \
        "$S" verify $GSG --expect-measurement="$(printf '%096d' 0)" "$GSG_R"
check_exit "--nonce holds (zero-padded REPORT_DATA)" 0 'pass  report-data' "$S" verify $GSG --nonce=0102030405 "$GSG_R"
check_exit "--expect-report-data differs" 3 'FAIL  report-data +REPORT_DATA is 0102030405' \
        "$S" verify $GSG --expect-report-data=0102030406 "$GSG_R"
check_exit "--nonce with --bound-uid wants the uid binding" 3 'FAIL  report-data' \
        "$S" verify $GSG --nonce=0102030405 --bound-uid=1000 "$GSG_R"
check_exit "--deny-debug on a debug-enabled guest" 3 'FAIL  debug +the guest policy 0xb0000 allows debugging' \
        "$S" verify $GSG --deny-debug "$GSG_R"
check_exit "--deny-debug holds" 0 'pass  debug' "$S" verify $VIR --deny-debug "$VIR_R"
check_exit "--deny-migrate holds" 0 'pass  migrate' "$S" verify $VIR --deny-migrate "$VIR_R"
check_exit "--expect-policy holds" 0 'pass  policy +the guest policy is 0x30000' "$S" verify $VIR --expect-policy=0x30000 "$VIR_R"
check_exit "--expect-policy differs" 3 'FAIL  policy +the guest policy is 0x30000, expected 0x70000' \
        "$S" verify $VIR --expect-policy=0x70000 "$VIR_R"
check_exit "--min-tcb holds" 0 'pass  min-tcb +REPORTED_TCB boot_loader=3 tee=0 snp=8 microcode=115 is at least' \
        "$S" verify $VIR --min-tcb=0300000000000873 "$VIR_R"
check_exit "--min-tcb above the report" 3 'FAIL  min-tcb +REPORTED_TCB .* is below the minimum boot_loader=3 tee=0 snp=9' \
        "$S" verify $VIR --min-tcb=0300000000000973 "$VIR_R"
check_exit "--vmpl holds" 0 'pass  vmpl +VMPL 0' "$S" verify $VIR --vmpl=0 "$VIR_R"
check_exit "--vmpl differs" 3 'FAIL  vmpl +the report was requested at VMPL 0, expected 1' "$S" verify $VIR --vmpl=1 "$VIR_R"
check_exit "--expect-host-data holds" 0 'pass  host-data' "$S" verify $VIR --expect-host-data="$(printf '%064d' 0)" "$VIR_R"
check_exit "--json says unexpected" 3 '"verdict": "unexpected"' "$S" verify --json $GSG --deny-debug "$GSG_R"
check_exit "not genuine wins over unexpected" 1 'NOT GENUINE' \
        "$S" verify $GSG --deny-debug "$WORK/flip.bin"

# ---------------------------------------------------------------- input
check_exit "no VCEK: exit 4" 4 'no VCEK certificate to check the report with: give it with --cert=FILE, or use --fetch' \
        "$S" verify --cache="$WORK/empty" "$GSG_R"
head -c 100 "$GSG_R" >"$WORK/short.bin"
check_exit "a short file: exit 4" 4 'not an attestation report: 100 bytes, expected 1184' "$S" verify $GSG "$WORK/short.bin"
cat "$GSG_R" "$GSG_R" >"$WORK/long.bin"
check_exit "a long file: exit 4" 4 'not an attestation report: 2368 bytes, expected 1184' "$S" verify $GSG "$WORK/long.bin"
cp "$GSG_R" "$WORK/v1.bin"; poke "$WORK/v1.bin" 0 01
check_exit "version 1: exit 4" 4 'not an attestation report: version 1' "$S" verify $GSG "$WORK/v1.bin"
check_exit "a missing file: exit 4" 4 'cannot read .*/nonexistent: No such file' "$S" verify $GSG "$WORK/nonexistent"
check_exit "a certificate file that is not one: exit 4" 4 'not a certificate \(PEM or DER expected\)' \
        "$S" verify --cert="$GSG_R" "$GSG_R"
check_exit "a missing certificate file: exit 4" 4 'cannot read .*/nocert: No such file' \
        "$S" verify --cert="$WORK/nocert" "$GSG_R"
check_exit "--json for unreadable input" 4 '"verdict": "unreadable"' "$S" verify --json "$WORK/short.bin"
printf '{"format":"other"}' >"$WORK/ev.json"
check_exit "evidence of another format: exit 4" 4 'not snpseal evidence' "$S" verify "$WORK/ev.json"

# ---------------------------------------------------------------- usage
check_exit "no FILE: usage (exit 2)" 2 'Try' "$S" verify $GSG
check_exit "--expect-measurement of the wrong size" 2 '--expect-measurement wants 48 bytes as 96 hex digits' \
        "$S" verify $GSG --expect-measurement=00 "$GSG_R"
check_exit "--min-tcb not hex" 2 '--min-tcb wants 16 hex digits' "$S" verify $GSG --min-tcb=zz "$GSG_R"
check_exit "--vmpl 4" 2 '--vmpl wants 0 to 3' "$S" verify $GSG --vmpl=4 "$GSG_R"
check_exit "--nonce too long" 2 '--nonce wants 1 to 64 bytes of hex' "$S" verify $GSG --nonce="$(printf '%0130d' 0)" "$GSG_R"
check_exit "--bound-uid without a nonce" 2 '--bound-uid needs --nonce' "$S" verify $GSG --bound-uid=1 "$GSG_R"
check_exit "verify --help names the exit codes" 0 'Exit: 0 verified, 1 not genuine, 3 not as expected, 4 cannot read' \
        "$S" verify --help
}
tap_done

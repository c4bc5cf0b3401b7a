#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal attest → snpseal verify --trust-anchor=<simulated ARK>, end to end:
# the real agent on the simulator backend, and on the real sev-guest backend
# through the LD_PRELOAD shim (SNP_GET_EXT_REPORT with the host's certificate
# table). Milan, Turin (version 5), a VLEK-signed report and a report version
# newer than snpseal knows; the simulated root is never trusted by default; a
# wrong nonce is "not as expected"; a Turin VCEK fetched by Turin's KDS URL.
# Run by `make check`; by hand:
#   top_srcdir=. SNPSEAL=_build/cli/snpseal SNPSEALD=_build/agent/snpseald \
#   SNPSEAL_SIM=_build/cli/snpseal-sim SNPSEAL_SHIM=_build/tests/shim/.libs/sev-guest-shim.so \
#   sh tests/attest/test-attest.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

for v in SNPSEAL SNPSEALD SNPSEAL_SIM; do
        eval "p=\${$v:-}"
        if [ -z "$p" ] || [ ! -x "$p" ]; then
                echo "$v is not set to the program (got '$p')" >&2
                exit 1
        fi
done

WORK=$(mktemp -d)
AGENT_PID=
stop_agent() {
        if [ -n "$AGENT_PID" ]; then
                kill "$AGENT_PID" 2>/dev/null
                wait "$AGENT_PID" 2>/dev/null
                AGENT_PID=
        fi
}
trap 'stop_agent; kds_stop 2>/dev/null; rm -f "$TAP_OUT" "$TAP_OUT.err"; rm -rf "$WORK"' EXIT
S=$WORK/state.json
"$SNPSEAL_SIM" init "$S" >/dev/null || exit 1
: >"$WORK/snpseald.conf"

# start_agent [sev-guest]: the agent on the simulator, or on the sev-guest
# backend with the shim answering the device from the same state file.
start_agent() {
        stop_agent
        rm -f "$WORK/agent.sock" "$WORK/cred.sock"
        if [ "${1:-}" = sev-guest ]; then
                env LD_PRELOAD="$SNPSEAL_SHIM" SNPSEAL_SHIM_DEVICE="$WORK/sev-guest" SNPSEAL_SHIM_STATE="$S" \
                        SNPSEAL_SHIM_COUNTER="$WORK/sent" \
                        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
                        "$SNPSEALD" --backend=sev-guest --device="$WORK/sev-guest" --listen="$WORK/agent.sock" \
                        --credentials-listen="$WORK/cred.sock" --credstore="$WORK/credstore" \
                        --config="$WORK/snpseald.conf" >"$WORK/agent.log" 2>&1 &
        else
                "$SNPSEALD" --backend=simulator --simulator-state="$S" --listen="$WORK/agent.sock" \
                        --credentials-listen="$WORK/cred.sock" --credstore="$WORK/credstore" \
                        --config="$WORK/snpseald.conf" >"$WORK/agent.log" 2>&1 &
        fi
        AGENT_PID=$!
        i=0
        while [ ! -S "$WORK/agent.sock" ] && [ "$i" -lt 300 ] && kill -0 "$AGENT_PID" 2>/dev/null; do
                sleep 0.1
                i=$((i + 1))
        done
        if [ ! -S "$WORK/agent.sock" ]; then
                echo "snpseald did not start:" >&2
                cat "$WORK/agent.log" >&2
                exit 1
        fi
}
SNPSEAL_SOCKET=$WORK/agent.sock
export SNPSEAL_SOCKET

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

NONCE=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
M=$(sed -n 's/^ *"measurement": "\([0-9a-f]*\)",$/\1/p' "$S")

# ---------------------------------------------------------------- simulator backend, Milan
start_agent
check "attest writes evidence" "$SNPSEAL" attest --nonce="$NONCE" --output="$WORK/ev.json"
check_exit "the evidence is snpseal evidence" 0 '"format": "snpseal-evidence"' cat "$WORK/ev.json"
check_exit "it carries the host's VCEK, ASK and ARK" 0 '"kind": "vcek".*"kind": "ask".*"kind": "ark"' \
        sh -c "tr -d '\n' <\"$WORK/ev.json\""
check_exit "and the nonce" 0 "\"nonce\": \"$NONCE\"" cat "$WORK/ev.json"
"$SNPSEAL_SIM" chain --ark "$S" >"$WORK/ark.pem"
check_exit "verify --trust-anchor=<simulated ARK> --nonce: verified" 0 '^verified' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce="$NONCE" --expect-measurement="$M" \
        --deny-debug --deny-migrate "$WORK/ev.json"
check_exit "the chain is the simulator's, given as trust anchor" 0 \
        'pass  chain +ARK-Milan → SEV-Milan → SEV-VCEK; root given with --trust-anchor' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" "$WORK/ev.json"
check_exit "the simulated root is never trusted by default" 1 'FAIL  chain .*not trusted' \
        "$SNPSEAL" verify --nonce="$NONCE" "$WORK/ev.json"
check_exit "another nonce: genuine, not as expected (exit 3)" 3 'FAIL  report-data' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce=00 "$WORK/ev.json"
# verify --json: the report's values in the form every command uses
# (snpseal(1), JSON OUTPUT), the same strings as report --json.
if command -v jq >/dev/null; then
        "$SNPSEAL" verify --json --trust-anchor="$WORK/ark.pem" "$WORK/ev.json" >"$WORK/ver.json"
        "$SNPSEAL" report --json >"$WORK/rep.json"
        check_output "verify --json: policy is 0x and 16 hex digits" '^0x[0-9a-f]{16}$' jq -r .report.policy "$WORK/ver.json"
        for k in policy platform_info reported_tcb committed_tcb current_tcb launch_tcb measurement chip_id; do
                check_eq "verify --json and report --json: the same $k string" "$(jq -r ".$k" "$WORK/rep.json")" \
                        "$(jq -r ".report.$k" "$WORK/ver.json")"
        done
        check_eq "verify --json: policy_decoded beside it, with its raw value" \
                "$(jq -r .report.policy "$WORK/ver.json") false" \
                "$(jq -r '.report.policy_decoded.raw + " " + (.report.policy_decoded.debug | tostring)' "$WORK/ver.json")"
        check_eq "verify --json: no value is an object where report --json has a string" "" \
                "$(jq -r '.report | to_entries[] | select(.value | type == "object") | select(.key | endswith("_decoded") | not) | .key' \
                        "$WORK/ver.json" | grep -v '^cpuid$')"
else
        echo "# jq not installed: the JSON form checks are skipped"
fi
check_exit "attest to stdout" 0 '"report": "' "$SNPSEAL" attest
check_exit "attest --nonce too long: usage" 2 '--nonce wants 1 to 64 bytes of hex' \
        "$SNPSEAL" attest --nonce="$(printf '%0130d' 0)"
check_exit "attest --output to a directory that does not exist" 1 'cannot write .*/nodir/ev.json' \
        "$SNPSEAL" attest --output="$WORK/nodir/ev.json"
check_exit "attest without an agent" 1 'cannot reach the snpseal agent' \
        env SNPSEAL_SOCKET="$WORK/none.sock" "$SNPSEAL" attest

# A user's evidence is bound to the user: it passes only as that user's.
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        chmod 0711 "$WORK"
        cp "$SNPSEAL" "$WORK/snpseal-for-nobody" && chmod 0755 "$WORK/snpseal-for-nobody"
        check_exit "nobody: attest says the report is bound to it" 0 \
                'not root: the agent bound uid 65534 into REPORT_DATA; .*--bound-uid=65534' \
                sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups \"$WORK/snpseal-for-nobody\" attest \
                        --nonce=$NONCE 2>&1 >\"$WORK/ev-nobody.json\""
        check_exit "nobody's evidence records the uid" 0 '"bound_uid": 65534' cat "$WORK/ev-nobody.json"
        check_exit "nobody's evidence does not pass as the workload's" 3 'FAIL  report-data' \
                "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce="$NONCE" "$WORK/ev-nobody.json"
        check_exit "it passes as uid 65534's (--bound-uid)" 0 '^verified' \
                "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce="$NONCE" --bound-uid=65534 "$WORK/ev-nobody.json"
        check_exit "and not as another uid's" 3 'FAIL  report-data' \
                "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce="$NONCE" --bound-uid=1000 "$WORK/ev-nobody.json"
else
        echo "# setpriv cannot switch to uid 65534: skipping the user checks"
fi

# A VLEK-signed report (KEY_SEL 0 with a VLEK installed) and its ASVK chain.
"$SNPSEAL_SIM" set "$S" vlek="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >/dev/null
check "attest with a VLEK" "$SNPSEAL" attest --nonce="$NONCE" --output="$WORK/ev-vlek.json"
check_exit "the host gives the VLEK" 0 '"kind": "vlek"' cat "$WORK/ev-vlek.json"
check_exit "verify: signed by the VLEK, ARK → ASVK → VLEK" 0 'pass  chain +ARK-Milan → SEV-VLEK-Milan → SEV-VLEK' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce="$NONCE" "$WORK/ev-vlek.json"
check_exit "a VLEK has no hwID to match" 0 'skip  hwid +a VLEK is not bound to one chip' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" "$WORK/ev-vlek.json"
"$SNPSEAL_SIM" set "$S" vlek= >/dev/null

# Turin, report version 5.
"$SNPSEAL_SIM" set "$S" cpuid_fam=0x1a cpuid_mod=0x02 report_version=5 >/dev/null
"$SNPSEAL_SIM" chain --ark "$S" >"$WORK/ark-turin.pem"
check "attest on Turin" "$SNPSEAL" attest --nonce="$NONCE" --output="$WORK/ev-turin.json"
check_exit "verify on Turin: 8-byte hwID" 0 'pass  hwid +the VCEK.s hwID equals CHIP_ID \(8 bytes\)' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark-turin.pem" --nonce="$NONCE" "$WORK/ev-turin.json"
check_exit "verify on Turin: Turin's TCB layout" 0 'pass  tcb .*\(turin layout\)' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark-turin.pem" "$WORK/ev-turin.json"
check_exit "the Milan root does not verify a Turin chain" 1 'FAIL  chain' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" "$WORK/ev-turin.json"

# Turin through the KDS: a raw report without certificates, the VCEK fetched by
# Turin's URL (8-byte hwID, fmcSPL) from a KDS on the loopback address.
. "$top_srcdir/tests/attest/kds-env.sh"
if ! why=$(kds_why_not); then
        echo "# the Turin KDS checks do not run: $why"
elif ! command -v openssl >/dev/null; then
        echo "# the Turin KDS checks do not run: openssl not installed"
elif kds_start "$WORK"; then
        "$SNPSEAL" report --raw="$WORK/turin.bin" >/dev/null
        "$SNPSEAL_SIM" chain "$S" >"$WORK/turin-chain.pem"
        HWID8=$(od -An -tx1 -j $((0x1a0)) -N8 "$WORK/turin.bin" | tr -d ' \n')
        mkdir -p "$KDS_DIR/vcek/v1/Turin"
        openssl x509 -in "$WORK/turin-chain.pem" -outform der -out "$KDS_DIR/vcek/v1/Turin/$HWID8"
        awk '/BEGIN CERTIFICATE/ { n++ } n >= 2' "$WORK/turin-chain.pem" >"$KDS_DIR/vcek/v1/Turin/cert_chain"
        check_exit "Turin: verify --fetch gets the VCEK and verifies" 0 '^verified' \
                "$SNPSEAL" verify --fetch --cache="$WORK/kds-cache" --kds-url="$KDS_URL" \
                --trust-anchor="$WORK/ark-turin.pem" "$WORK/turin.bin"
        # 03000000000008d1 in Turin's layout: FMC 3, boot loader 0, TEE 0, SNP 0, microcode 0xd1
        check_eq "Turin's KDS URL: 8-byte hwID and fmcSPL" \
                "/vcek/v1/Turin/$HWID8?blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=209&fmcSPL=3" "$(sed -n 1p "$KDS_LOG")"
        kds_stop
fi

# A report version newer than snpseal knows: still verified, and said so.
"$SNPSEAL_SIM" set "$S" report_version=6 >/dev/null
check "attest with report version 6" "$SNPSEAL" attest --output="$WORK/ev-v6.json"
check_exit "verify version 6: verified, with a warning" 0 'warn  report +version 6 is newer than this snpseal knows' \
        "$SNPSEAL" verify --trust-anchor="$WORK/ark-turin.pem" "$WORK/ev-v6.json"
"$SNPSEAL_SIM" set "$S" cpuid_fam=0x19 cpuid_mod=0x01 report_version=3 >/dev/null

# ---------------------------------------------------------------- sev-guest backend through the shim
if [ -n "${SNPSEAL_SHIM:-}" ] && [ -e "$SNPSEAL_SHIM" ]; then
        start_agent sev-guest
        check "sev-guest: attest through SNP_GET_EXT_REPORT" \
                "$SNPSEAL" attest --nonce="$NONCE" --output="$WORK/ev-dev.json"
        check_eq "sev-guest: the extended report was sent" 1 "$(grep -c '^ext-report$' "$WORK/sent")"
        check_exit "sev-guest: verified under the simulated ARK" 0 '^verified' \
                "$SNPSEAL" verify --trust-anchor="$WORK/ark.pem" --nonce="$NONCE" "$WORK/ev-dev.json"
else
        echo "# SNPSEAL_SHIM not set: the sev-guest backend is not exercised"
fi
stop_agent
tap_done

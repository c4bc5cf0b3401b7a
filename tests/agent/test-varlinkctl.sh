#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A varlink client nobody here wrote: systemd's varlinkctl (systemd 255 and
# later, Debian 13) against the real snpseald on the simulator: the service
# information, introspection, a method call, error replies by name, and
# varlinkctl validate-idl on the interface file make install puts in
# $(datadir)/varlink. Skipped (77) where varlinkctl is missing (Debian 12).
# Run by `make check`; by hand:
#   top_srcdir=. SNPSEALD=_build/agent/snpseald SNPSEAL_SIM=_build/cli/snpseal-sim \
#       SNPSEAL=_build/cli/snpseal sh tests/agent/test-varlinkctl.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

for _v in SNPSEALD SNPSEAL_SIM SNPSEAL; do
        eval "_p=\${$_v:-}"
        [ -n "$_p" ] && [ -x "$_p" ] || { echo "$_v is not set to the program (got '$_p')" >&2; exit 1; }
done
command -v varlinkctl >/dev/null 2>&1 || tap_skip_all "varlinkctl is not installed (systemd 255 or later has it)"
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
IDL=$top_srcdir/agent/io.snpseal.Agent.varlink

WORK=$(mktemp -d)
AGENT_PID=
trap '[ -z "$AGENT_PID" ] || { kill "$AGENT_PID"; wait "$AGENT_PID"; } 2>/dev/null; rm -f "$TAP_OUT"; rm -rf "$WORK"' EXIT
trap 'exit 129' HUP INT PIPE TERM
S=$WORK/state.json
"$SNPSEAL_SIM" init "$S" >/dev/null || exit 1
: >"$WORK/snpseald.conf"
"$SNPSEALD" --backend=simulator --simulator-state="$S" --listen="$WORK/agent.sock" \
        --credentials-listen="$WORK/cred.sock" --credstore="$WORK/credstore" \
        --config="$WORK/snpseald.conf" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
_i=0
while [ ! -S "$WORK/agent.sock" ] && [ "$_i" -lt 100 ] && kill -0 "$AGENT_PID" 2>/dev/null; do
        sleep 0.1
        _i=$((_i + 1))
done
[ -S "$WORK/agent.sock" ] || { echo "snpseald did not start:" >&2; cat "$WORK/agent.log" >&2; exit 1; }
A=unix:$WORK/agent.sock
VERSION=$("$SNPSEALD" --version | sed -n 's/^snpseald \([^ ]*\).*/\1/p')

# varlinkctl's own command, its status and output (stdout and stderr) in
# $WORK/out.
vl() {
        timeout 30 varlinkctl "$@" >"$WORK/out" 2>&1
}

# A call that must fail with the varlink error NAME (varlinkctl exits
# non-zero and names the error); the reply's parameters match JQ (jq -e).
call_error() { # NAME JQ METHOD PARAMS
        _e=$1 _q=$2
        shift 2
        if timeout 30 varlinkctl call --json=short "$A" "$@" >"$WORK/err.out" 2>"$WORK/err.err"; then
                echo "varlinkctl call $* succeeded; expected the error $_e"
                cat "$WORK/err.out"
                return 1
        fi
        grep -q "failed: $_e\$" "$WORK/err.err" ||
                { echo "expected the error $_e:"; cat "$WORK/err.err" "$WORK/err.out"; return 1; }
        jq -e "$_q" "$WORK/err.out" >/dev/null ||
                { echo "the error's parameters do not match $_q:"; cat "$WORK/err.out"; return 1; }
}

# ---------------------------------------------------------------- info
check "varlinkctl info" vl info "$A"
cp "$WORK/out" "$WORK/info"
check_output "info: vendor snpseal" '^ *Vendor: snpseal$' cat "$WORK/info"
check_output "info: product snpseald" '^ *Product: snpseald$' cat "$WORK/info"
check_output "info: version $VERSION (snpseald --version)" "^ *Version: $VERSION\$" cat "$WORK/info"
check_output "info: io.snpseal.Agent among the interfaces" 'io\.snpseal\.Agent$' cat "$WORK/info"
check_output "info: org.varlink.service among the interfaces" 'org\.varlink\.service$' cat "$WORK/info"
check_eq "list-interfaces: exactly the two" "io.snpseal.Agent org.varlink.service" \
        "$(timeout 30 varlinkctl list-interfaces "$A" | sort | tr '\n' ' ' | sed 's/ $//')"

# ---------------------------------------------------------------- introspection
check "varlinkctl introspect io.snpseal.Agent" vl introspect "$A" io.snpseal.Agent
cp "$WORK/out" "$WORK/introspect"
check_output "introspect: the interface" '^interface io\.snpseal\.Agent$' cat "$WORK/introspect"
check_output "introspect: method GetStatus" '^method GetStatus\(' cat "$WORK/introspect"
check_output "introspect: error IdentityMismatch" '^error IdentityMismatch\(' cat "$WORK/introspect"
check "introspect: varlinkctl validate-idl accepts what the agent serves" \
        timeout 30 varlinkctl validate-idl "$WORK/introspect"
check "varlinkctl validate-idl accepts the installed interface file" vl validate-idl "$IDL"
cp "$WORK/out" "$WORK/idl"
check "the agent serves the installed interface file (both as varlinkctl prints them)" \
        cmp "$WORK/idl" "$WORK/introspect"
check "varlinkctl introspect org.varlink.service" vl introspect "$A" org.varlink.service
check_output "list-methods: every method of the file" "^$(sed -n 's/^method \([A-Za-z]*\)(.*/\1/p' "$IDL" |
        sort | tr '\n' ' ')\$" sh -c 'timeout 30 varlinkctl list-methods "$1" io.snpseal.Agent |
        sed "s/.*\.//" | sort | tr "\n" " "' - "$A"
# validate-idl can fail: a copy with a syntax error (method without its
# parameter list) and one with an unknown type.
sed 's/^method GetStatus() ->/method GetStatus ->/' "$IDL" >"$WORK/bad-syntax.varlink"
check_fails "validate-idl refuses a method without its parentheses" '.' varlinkctl validate-idl "$WORK/bad-syntax.varlink"
printf 'interface io.snpseal.Broken\nmethod M(a: NoSuchType) -> ()\n' >"$WORK/bad-type.varlink"
check_fails "validate-idl refuses an unknown type" '.' varlinkctl validate-idl "$WORK/bad-type.varlink"

# ---------------------------------------------------------------- calls
check "varlinkctl call io.snpseal.Agent.GetStatus '{}'" \
        sh -c 'timeout 30 varlinkctl call --json=short "$1" io.snpseal.Agent.GetStatus "{}" >"$2"' - "$A" "$WORK/status"
check_output "GetStatus: backend simulator, VMPL 0" '^true$' jq '.backend == "simulator" and .vmpl == 0' "$WORK/status"
check_eq "GetStatus: the measurement snpseal status --json shows" \
        "$(SNPSEAL_SOCKET=$WORK/agent.sock "$SNPSEAL" status --json | jq -r .measurement)" \
        "$(jq -r .measurement "$WORK/status")"
check_eq "GetStatus: the version of snpseald" "$VERSION" "$(jq -r .version "$WORK/status")"

# ---------------------------------------------------------------- error replies
check "error: an unknown method is org.varlink.service.MethodNotFound" \
        call_error org.varlink.service.MethodNotFound '.method == "io.snpseal.Agent.NoSuchMethod"' \
        io.snpseal.Agent.NoSuchMethod '{}'
check "error: an unknown interface is org.varlink.service.InterfaceNotFound or MethodNotFound" \
        sh -c 'timeout 30 varlinkctl call "$1" io.example.Nothing.M "{}" 2>&1 |
                grep -E "failed: org\.varlink\.service\.(InterfaceNotFound|MethodNotFound)$"' - "$A"
check "error: an unknown parameter is io.snpseal.Agent.InvalidParameter naming it" \
        call_error io.snpseal.Agent.InvalidParameter '.parameter == "frobnicate"' \
        io.snpseal.Agent.GetStatus '{"frobnicate":1}'
check "error: a malformed sealed object is io.snpseal.Agent.InvalidParameter" \
        call_error io.snpseal.Agent.InvalidParameter '.parameter == "sealed" and (.message | test("sealed object"))' \
        io.snpseal.Agent.Unseal '{"sealed":"not a sealed object"}'
# IdentityMismatch: sealed here, unsealed after the measurement changed.
printf 'the secret' | SNPSEAL_SOCKET=$WORK/agent.sock "$SNPSEAL" seal --purpose=cred/vl >"$WORK/sealed"
M=$(printf 'cd%.0s' $(seq 48))
"$SNPSEAL_SIM" set "$S" measurement="$M" >/dev/null
check "error: unseal in a changed VM is io.snpseal.Agent.IdentityMismatch, with the difference" \
        call_error io.snpseal.Agent.IdentityMismatch \
        "(.differences[0].field == \"measurement\") and (.differences[0].current == \"$M\")" \
        io.snpseal.Agent.Unseal "$(jq -n --rawfile s "$WORK/sealed" '{sealed: $s}')"
check "varlinkctl call --graceful=io.snpseal.Agent.IdentityMismatch exits 0" \
        timeout 30 varlinkctl call --graceful=io.snpseal.Agent.IdentityMismatch "$A" io.snpseal.Agent.Unseal \
        "$(jq -n --rawfile s "$WORK/sealed" '{sealed: $s}')"
check "the agent still answers after the errors" timeout 30 varlinkctl call "$A" io.snpseal.Agent.GetStatus '{}'

tap_done

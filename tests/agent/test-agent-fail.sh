#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseald's command-line and configuration failure paths: each exits
# non-zero with a message that names the problem. Run by `make check`
# (which sets top_srcdir and SNPSEALD); by hand:
#   top_srcdir=. SNPSEALD=_build/agent/snpseald sh tests/agent/test-agent-fail.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

D=${SNPSEALD:-}
if [ -z "$D" ] || [ ! -x "$D" ]; then
        echo "SNPSEALD is not set to the snpseald binary (got '$D')" >&2
        exit 1
fi
SIM=${SNPSEAL_SIM:-}

WORK=$(mktemp -d)
P1= P2=
trap 'for p in $P1 $P2; do kill "$p" 2>/dev/null; done; rm -f "$TAP_OUT"; rm -rf "$WORK"' EXIT
EMPTY=$WORK/empty.conf
: >"$EMPTY"
STATE=$WORK/state.json
SOCK=$WORK/agent.sock
CRED=$WORK/cred.sock
# Every run is bounded: a daemon that starts instead of failing is a failure.
run() {
        timeout 10 "$D" --config="$EMPTY" "$@"
}
exit_code() {
        "$@" >/dev/null 2>&1
        echo $?
}

if [ -n "$SIM" ] && [ -x "$SIM" ]; then
        "$SIM" init "$STATE" >/dev/null
else
        echo "SNPSEAL_SIM is not set; the state-file cases use a stub" >&2
        echo '{}' >"$STATE"
fi

# ---------------------------------------------------------------- usage
check_output "--help names the options" '--simulator-state' run --help
check_output "--version prints the version" '^snpseald [0-9]' run --version
check_fails "unknown option is named" "unknown option.*--frobnicate" run --frobnicate
check_fails "option without its value" "requires a value|--listen" run --listen
check_fails "unexpected argument is named" "unexpected argument 'extra'" run extra
check_fails "bad backend value" "invalid value 'tpm'.*auto, sev-guest or simulator" run --backend=tpm
check_fails "bad number" "invalid value '0' for --max-connections" run --max-connections=0
check_fails "number out of range" "invalid value '99999999999' for --connection-timeout" \
        run --connection-timeout=99999999999

# ---------------------------------------------------------------- backends
check_fails "auto never picks the simulator (no device)" \
        "simulator.*never|never.*simulator" \
        run --backend=auto --device="$WORK/no-such-device" --listen="$SOCK" --credentials-listen="$CRED"
if [ ! -e /dev/sev-guest ]; then
        check_fails "auto without /dev/sev-guest fails and says why" \
                "/dev/sev-guest" run --backend=auto --listen="$SOCK" --credentials-listen="$CRED"
        check_fails "the default backend is auto, not the simulator" \
                "simulator.*never|never.*simulator" run --listen="$SOCK" --credentials-listen="$CRED"
fi
check_fails "sev-guest with a missing device names it" "$WORK/no-such-device" \
        run --backend=sev-guest --device="$WORK/no-such-device" --listen="$SOCK" --credentials-listen="$CRED"
check_fails "simulator without --simulator-state" "simulator-state" \
        run --backend=simulator --listen="$SOCK" --credentials-listen="$CRED"
check_fails "simulator with a missing state file names it" "$WORK/missing.json" \
        run --backend=simulator --simulator-state="$WORK/missing.json" --listen="$SOCK" --credentials-listen="$CRED"
echo 'not json' >"$WORK/bad-state.json"
check_fails "simulator with a corrupt state file names it" "$WORK/bad-state.json" \
        run --backend=simulator --simulator-state="$WORK/bad-state.json" --listen="$SOCK" --credentials-listen="$CRED"

# ---------------------------------------------------------------- reading ahead
# A listening agent reads the launch's report as soon as it is ready
# (tests/agent/test-agent-cache.c); one on --stdio does not: its one
# connection is already there to ask.
if [ -n "$SIM" ] && [ -x "$SIM" ]; then
        "$SIM" set "$STATE" count_requests=true >/dev/null
        # pipes, closed at once: no call, and the agent exits
        : | { run --backend=simulator --simulator-state="$STATE" --stdio 2>/dev/null; echo $? >"$WORK/stdio.rc"; } | cat >/dev/null
        check_eq "--stdio reads no report ahead: no firmware request without a call" "0 " \
                "$(cat "$WORK/stdio.rc") $(cat "$STATE.requests" 2>/dev/null)"
        "$SIM" set "$STATE" count_requests=false >/dev/null
        rm -f "$STATE.requests"
fi

# ---------------------------------------------------------------- config file
printf '# comment\nbackend = simulator\nfrobnicate = yes\n' >"$WORK/badkey.conf"
check_fails "unknown config key as FILE:LINE" "$WORK/badkey.conf:3: unknown setting 'frobnicate'" \
        timeout 10 "$D" --config="$WORK/badkey.conf"
printf 'max_connections = lots\n' >"$WORK/badval.conf"
check_fails "bad config value as FILE:LINE" "$WORK/badval.conf:1: .*invalid value 'lots'" \
        timeout 10 "$D" --config="$WORK/badval.conf"
printf 'listen\n' >"$WORK/noeq.conf"
check_fails "config line without '=' as FILE:LINE" "$WORK/noeq.conf:1: expected 'key = value'" \
        timeout 10 "$D" --config="$WORK/noeq.conf"
check_fails "an explicit config file must exist" "$WORK/none.conf: cannot open" \
        timeout 10 "$D" --config="$WORK/none.conf"

# ---------------------------------------------------------------- sockets
: >"$WORK/file"
check_fails "--listen under a regular file names the path" "$WORK/file/sub" \
        run --backend=simulator --simulator-state="$STATE" --listen="$WORK/file/sub/agent.sock" \
        --credentials-listen="$CRED"
check_fails "--credentials-listen under a regular file names the path" "$WORK/file/sub" \
        run --backend=simulator --simulator-state="$STATE" --listen="$SOCK" \
        --credentials-listen="$WORK/file/sub/cred.sock"
long=$WORK/$(printf 'x%.0s' $(seq 120))/agent.sock
check_fails "--listen longer than a socket path can be" "longer than|too long" \
        run --backend=simulator --simulator-state="$STATE" --listen="$long" --credentials-listen="$CRED"

# An agent that stops removes its sockets only while they are its own: a
# second agent started at the same paths (the first one's files removed, as
# a test or an administrator does) keeps them when the first one exits late.
# Started directly and stopped with one SIGTERM (then waited for), as
# systemd stops it: under timeout(1) the agent got a second SIGTERM while it
# exited, which hung an ASan build's leak check.
agent_bg() { # then $! is the agent's PID
        "$D" --config="$EMPTY" --backend=simulator --simulator-state="$STATE" --listen="$WORK/a.sock" \
                --credentials-listen="$WORK/acred.sock" >>"$WORK/bg.log" 2>&1 &
}
sockets_up() {
        for _i in $(seq 100); do
                [ -S "$WORK/a.sock" ] && [ -S "$WORK/acred.sock" ] && return 0
                sleep 0.1
        done
        echo "the agent's sockets did not appear:"; cat "$WORK/bg.log"; return 1
}
if [ -n "$SIM" ] && [ -x "$SIM" ]; then
        agent_bg; P1=$!
        check "an agent listens at a.sock" sockets_up
        rm -f "$WORK/a.sock" "$WORK/acred.sock"
        agent_bg; P2=$!
        check "a second agent listens at the same paths" sockets_up
        kill "$P1"; wait "$P1"; rc=$?; P1=
        check_eq "the first agent exits with status 0 on SIGTERM" 0 "$rc"
        check "the first agent's exit leaves the second agent's sockets" \
                sh -c 'test -S "$1/a.sock" && test -S "$1/acred.sock"' sh "$WORK"
        kill "$P2"; wait "$P2"; rc=$?; P2=
        check_eq "the second agent exits with status 0 on SIGTERM" 0 "$rc"
        check "the second agent's exit removes its own sockets" \
                sh -c '! test -e "$1/a.sock" && ! test -e "$1/acred.sock"' sh "$WORK"
fi

tap_done

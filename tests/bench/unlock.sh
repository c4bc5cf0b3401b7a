#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark: what unlocking through the snpseal token costs over a passphrase.
#
# Times `cryptsetup open --test-passphrase --token-only IMG` through the token
#   - with the agent running (the plugin asks it over its socket), and
#   - through the --stdio fallback (no agent: the plugin runs snpseald itself),
# against the floor: `cryptsetup open --test-passphrase --key-file=K IMG` on a
# PBKDF2-SHA512 1000-iteration keyslot (what the token's keyslot uses too).
# The runs take turns (floor, agent, fallback, floor, …) in one namespace.
# Prints the median wall time of N runs, the firmware requests per unlock the
# simulator counted (count_requests), and the peak RSS (/usr/bin/time %M,
# which includes the snpseald the fallback forks, not the running agent), the
# ratios against the floor and the targets (<= 1.3 with the agent, <= 2
# through the fallback). Informational: the clock never fails it; it exits
# non-zero only when a command does not work (77: cannot run here).
#
#   make bench                 (in the build directory)
#   top_srcdir=. top_builddir=_build SNPSEAL_SIM=… SNPSEALD=… SNPSEAL=… \
#       bash tests/bench/unlock.sh
#
# Environment: SNPSEAL_BENCH_RUNS (default 15).
set -uo pipefail
export LC_ALL=C

# The three commands, by name (inner mode; img, key, nosock from the outer).
run_case() {
        case $1 in
        # cryptsetup open tries the tokens before a key file: the floor skips them.
        floor) cryptsetup open --test-passphrase --disable-external-tokens --key-file="$key" "$img" ;;
        agent) cryptsetup open --test-passphrase --token-only "$img" ;;
        # No agent at this socket: the plugin runs snpseald --stdio itself.
        fallback) SNPSEAL_SOCKET=$nosock SNPSEAL_CONFIG=${BENCH_CONFIG:-$SNPSEAL_CONFIG} \
                cryptsetup open --test-passphrase --token-only "$img" ;;
        esac
}
cases="floor agent fallback"

# ---- inner mode, inside the namespace: unlock.sh --measure RUNS DIR IMG KEY NOSOCK
# Makes the bind mounts BENCH_BINDS ("SRC DST …", no spaces in paths), runs
# each case once to warm up, then RUNS rounds of the cases in turn (so load
# changes on the machine hit them alike): wall time in ms, one a line, into
# DIR/CASE; then 3 runs of each under /usr/bin/time, the median peak RSS
# (KiB) into DIR/CASE.rss ("-" without /usr/bin/time). Exit 1 with the
# case's messages in DIR/CASE.err when a command fails.
if [ "${1:-}" = --measure ]; then
        runs=$2 dir=$3 img=$4 key=$5 nosock=$6
        set_binds() { while [ $# -ge 2 ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; }
        # shellcheck disable=SC2086 # a list of paths
        set_binds ${BENCH_BINDS:-}
        for c in $cases; do
                : >"$dir/$c"
                run_case "$c" </dev/null >/dev/null 2>"$dir/$c.err" || { echo "$c" >"$dir/failed"; exit 1; }
        done
        # firmware requests the simulator counted (BENCH_COUNT_FILE, its .requests file)
        fw_count() { local n; n=$(grep -c "^$1" "${BENCH_COUNT_FILE:-/nonexistent}" 2>/dev/null); echo "${n:-0}"; }
        for ((i = 0; i < runs; i++)); do
                for c in $cases; do
                        k0=$(fw_count key) r0=$(fw_count report)
                        t0=$EPOCHREALTIME
                        run_case "$c" </dev/null >/dev/null 2>>"$dir/$c.err" || { echo "$c" >"$dir/failed"; exit 1; }
                        t1=$EPOCHREALTIME
                        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$dir/$c"
                        echo "$(($(fw_count key) - k0)) $(($(fw_count report) - r0))" >>"$dir/$c.fw"
                done
        done
        for c in $cases; do
                if [ ! -x /usr/bin/time ]; then
                        echo - >"$dir/$c.rss"
                        continue
                fi
                for ((i = 0; i < 3; i++)); do
                        export -f run_case
                        export img key nosock
                        # shellcheck disable=SC2016 # expanded by that bash
                        /usr/bin/time -f %M -o "$dir/$c.t" bash -c 'run_case "$1"' run "$c" \
                                </dev/null >/dev/null 2>>"$dir/$c.err" || { echo "$c" >"$dir/failed"; exit 1; }
                        tail -n 1 "$dir/$c.t"
                done | sort -n | sed -n 2p >"$dir/$c.rss"
        done
        exit 0
fi

skip() {
        echo "SKIP: $*" >&2
        exit 77
}
fail() {
        echo "bench FAILED: $*" >&2
        exit 1
}

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
: "${top_srcdir:=$(cd "$(dirname "$self")/../.." && pwd)}"
: "${top_builddir:?top_builddir is not set (run make bench in the build directory)}"
: "${SNPSEAL_SIM:=$top_builddir/cli/snpseal-sim}"
: "${SNPSEALD:=$top_builddir/agent/snpseald}"
: "${SNPSEAL:=$top_builddir/cli/snpseal}"
export top_srcdir top_builddir SNPSEAL_SIM SNPSEALD SNPSEAL
runs=${SNPSEAL_BENCH_RUNS:-15}
case $runs in
''|*[!0-9]*|0) fail "SNPSEAL_BENCH_RUNS must be a positive number, not '$runs'" ;;
esac

[ "$(id -u)" -eq 0 ] || skip "needs root (a private mount namespace for the token plugin)"
command -v cryptsetup >/dev/null || skip "cryptsetup is not installed"
for f in "$SNPSEAL_SIM" "$SNPSEALD" "$SNPSEAL"; do
        [ -x "$f" ] || fail "$f is not built"
done
# shellcheck source=../luks/luks-env.sh
. "$top_srcdir/tests/luks/luks-env.sh"
luks_env_init || skip "the LUKS test environment cannot be set up here"
work=$LUKS_TMP
trap 'luks_agent_stop >/dev/null 2>&1; luks_env_cleanup >/dev/null 2>&1' EXIT

img=$work/bench.img
key=$work/passphrase
printf 'bench passphrase' >"$key"
truncate -s 32M "$img" &&
        cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                "$img" "$key" >/dev/null || fail "cannot create the LUKS2 image"
luks_agent_start >"$work/agent-start.out" 2>&1 || { cat "$work/agent-start.out"; fail "the agent did not start"; }
luks_in_ns "$SNPSEAL" enroll --unlock-key-file="$key" "$img" >"$work/enroll.out" 2>&1 ||
        { cat "$work/enroll.out"; fail "snpseal enroll failed"; }

# mirror DIR NEW: NEW becomes a directory of symlinks to DIR's entries, to be
# bound over DIR with extra entries of our own.
mirror() {
        local e
        mkdir -p "$2" || return 1
        for e in "$1"/* "$1"/.[!.]*; do
                [ -e "$e" ] || [ -L "$e" ] || continue
                ln -s "$e" "$2/" || return 1
        done
}

# The plugin's fallback runs the fixed path $LUKS_SNPSEALD_PATH with --stdio.
# luks_in_ns puts a shell wrapper there (it adds the simulator options); for
# the timing, the real binary is bound there instead, and the simulator is
# chosen in the settings file snpseald reads, $SNPSEAL_CONFIG
# (snpseald.conf(5)), for the fallback case only. Sets BENCH_BINDS and
# BENCH_CONFIG; fails when that cannot be arranged.
direct_fallback() {
        local sbin
        sbin=$(dirname "$LUKS_SNPSEALD_PATH")
        [ -d "$sbin" ] || return 1
        case "$work$sbin" in *' '*) return 1 ;; esac
        mirror "$sbin" "$work/bench-sbin" || return 1
        rm -f "$work/bench-sbin/snpseald" && ln -s "$SNPSEALD" "$work/bench-sbin/snpseald" || return 1
        { cat "$LUKS_AGENT_CONF" 2>/dev/null
          printf 'backend = simulator\nsimulator_state = %s\n' "$LUKS_STATE"; } >"$work/bench-snpseald.conf" || return 1
        export BENCH_BINDS="$work/bench-sbin $sbin"
        export BENCH_CONFIG="$work/bench-snpseald.conf"
        return 0
}

median() {
        sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Count firmware requests (docs/SIMULATOR.md); the agent's key cache is
# warm after the warm-up runs.
"$SNPSEAL_SIM" set "$LUKS_STATE" count_requests=true >/dev/null || fail "cannot set count_requests"
export BENCH_COUNT_FILE=$LUKS_STATE.requests
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
fallback_how="the test wrapper script of luks-env.sh, which adds the simulator options"
if direct_fallback; then
        fallback_how="snpseald itself, the simulator chosen in the settings file \$SNPSEAL_CONFIG names"
fi
if ! luks_in_ns bash "$self" --measure "$runs" "$work" "$img" "$key" "$work/no-agent.sock"; then
        c=$(cat "$work/failed" 2>/dev/null)
        cat "$work/$c.err" >&2 2>/dev/null
        fail "${c:-the measurement}: the unlock did not succeed"
fi
agent_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/${LUKS_AGENT_PID:-0}/status" 2>/dev/null)
[ -s "$LUKS_TMP/fallback.log" ] && fallback_how="the test wrapper script of luks-env.sh"

floor=$(median "$work/floor")
floor_rss=$(cat "$work/floor.rss")
row() { # name target
        local t rss ratio verdict=""
        t=$(median "$work/$1")
        rss=$(cat "$work/$1.rss")
        ratio=$(awk -v a="$t" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
        if [ -n "$2" ]; then
                if awk -v r="$ratio" -v m="$2" 'BEGIN { exit !(r <= m) }'; then
                        verdict="<= $2: met"
                else
                        verdict="<= $2: not met"
                fi
        fi
        printf '%-34s %10s %11s %7s  %s\n' "$3" "$t" "$rss" "${ratio}x" "$verdict"
}

echo "snpseal unlock benchmark: median of $runs runs, cryptsetup $(cryptsetup --version | awk '{ print $2 }')," \
        "$(nproc) CPUs, load average $load"
printf '%-34s %10s %11s %7s  %s\n' "cryptsetup open --test-passphrase" "wall ms" "peak KiB" "ratio" "target"
row floor "" "--key-file, PBKDF2-1000 (the floor)"
row agent 1.3 "--token-only, agent running"
row fallback 2 "--token-only, --stdio fallback"
[ -n "$agent_hwm" ] && echo "(the running agent's own peak RSS: $agent_hwm KiB; not in the row above)"
for c in $cases; do
        awk -v c="$c" '{ k += $1; r += $2 } END { if (NR) printf "firmware requests per unlock, %-8s %.2f key + %.2f report (%d unlocks)\n", c ":", k / NR, r / NR, NR }' "$work/$c.fw"
done
echo "(the fallback ran $fallback_how)"
if [ "$floor_rss" = - ]; then
        echo "(peak KiB: /usr/bin/time is not installed, package time)"
else
        echo "(peak KiB: /usr/bin/time %M, cryptsetup and the processes it waited for)"
fi
exit 0

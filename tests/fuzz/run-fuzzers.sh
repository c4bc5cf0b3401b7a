#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every libFuzzer harness of a fuzzing build for a short while (or for a
# number of executions), starting from a copy of its seed corpus; fails when
# any harness finds a crash, a leak, a timeout or a broken invariant. Builds
# nothing. "make fuzz" runs it with FUZZ_RUNS and FUZZ_KEEP_CORPUS.
#
#   tests/fuzz/run-fuzzers.sh BUILDDIR [NAME...]
#
# BUILDDIR was configured with CC=clang --enable-fuzzing (best together with
# --with-sanitizer=address,undefined) and built ("make"). NAME is a harness
# without the "fuzz-" prefix (default: all). Environment:
#   FUZZ_SECONDS    seconds per harness (default 20)
#   FUZZ_RUNS       executions per harness instead (e.g. 10000000)
#   FUZZ_KEEP_CORPUS=1  merge the inputs that add coverage back into the
#                   seed corpus tests/fuzz/corpus/NAME (libFuzzer -merge=1)
#   FUZZ_ARTIFACTS  where crash reproducers go (default BUILDDIR/fuzz-artifacts)
# One line per harness; a failure also prints the end of the fuzzer's log and
# the reproducer (replay it with BUILDDIR/tests/fuzz/fuzz-NAME FILE).
set -u

# name and -max_len (bytes) of each harness
HARNESSES="
base64 4096
json 8192
binding 2048
binding-spec 512
identity-diff 4096
report 2048
sim-state 8192
varlink 8192
varlink-stream 8192
sealed 8192
luks2-meta 16384
cert-ext 8192
evidence 16384
crypttab 8192
pam-options 2048
"

usage() {
        echo "usage: $0 BUILDDIR [NAME...]" >&2
        exit 2
}

[ $# -ge 1 ] || usage
builddir=$(cd "$1" && pwd) || usage
shift
srcdir=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-20}
artifacts=${FUZZ_ARTIFACTS:-"$builddir/fuzz-artifacts"}
case $seconds in ''|*[!0-9]*) echo "FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac
runs=${FUZZ_RUNS:-}
case $runs in *[!0-9]*) echo "FUZZ_RUNS must be a number of executions" >&2; exit 2 ;; esac
if [ -n "$runs" ]; then
        budget="-runs=$runs" budget_text="$runs runs"
else
        budget="-max_total_time=$seconds" budget_text="${seconds}s"
fi
mkdir -p "$artifacts" || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/snpseal-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

wanted() {
        [ $# -eq 1 ] && return 0  # no names given: all
        n=$1
        shift
        for w in "$@"; do
                [ "$w" = "$n" ] && return 0
        done
        return 1
}

# fuzz NAME MAX_LEN: one harness; prints its line, returns non-zero on failure.
fuzz() {
        name=$1 max_len=$2 bin="$builddir/tests/fuzz/fuzz-$1" log="$work/$1.log"
        if [ ! -x "$bin" ]; then
                echo "FAIL $name: $bin not built (configure with CC=clang --enable-fuzzing, then make)"
                return 1
        fi
        if ! grep -q -a -e '-max_total_time' "$bin"; then
                echo "FAIL $name: $bin is not a libFuzzer binary (configure with CC=clang --enable-fuzzing)"
                return 1
        fi
        if [ ! -d "$srcdir/corpus/$name" ]; then
                echo "FAIL $name: no seed corpus $srcdir/corpus/$name"
                return 1
        fi
        mkdir -p "$work/$name"
        cp "$srcdir/corpus/$name"/* "$work/$name"/ || return 1
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "$budget" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work/$name" >"$log" 2>&1
        rc=$?
        done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(sed -n 's/^#[0-9]*.*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
        if [ "$rc" -ne 0 ]; then
                echo "FAIL $name: fuzzer exited with $rc after ${done_runs:-?} runs"
                tail -n 40 "$log" | sed 's/^/    /'
                for f in "$artifacts/$name-"*; do
                        [ -e "$f" ] && echo "    reproducer: $f"
                done
                return 1
        fi
        kept=
        if [ "${FUZZ_KEEP_CORPUS:-}" = 1 ]; then
                before=$(ls "$srcdir/corpus/$name" | wc -l)
                "$bin" -merge=1 -max_len="$max_len" "$srcdir/corpus/$name" "$work/$name" >"$log.merge" 2>&1 ||
                        { echo "FAIL $name: merging into $srcdir/corpus/$name failed"; return 1; }
                kept=", $(( $(ls "$srcdir/corpus/$name" | wc -l) - before )) new inputs kept in the seed corpus"
        fi
        echo "ok   $name: ${done_runs:-?} runs (${budget_text}), coverage ${cov:-?}, corpus $(ls "$work/$name" | wc -l) inputs$kept"
        return 0
}

failed=0 ran=0
echo "$HARNESSES" | {
        while read -r name max_len; do
                [ -n "$name" ] || continue
                wanted "$name" "$@" || continue
                ran=$((ran + 1))
                fuzz "$name" "$max_len" || failed=$((failed + 1))
        done
        if [ "$ran" -eq 0 ]; then
                echo "no harness matched: $*" >&2
                exit 2
        fi
        echo "fuzzed $ran harnesses for ${budget_text} each: $failed failed"
        [ "$failed" -eq 0 ]
}

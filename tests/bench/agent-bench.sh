#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark: snpseald under DeriveKey load, its RSS, and the firmware requests
# an unlock and a boot cost (issue 15).
#
# Runs tests/bench/agent-bench (built by make bench), the load generator: the
# real agent on the simulator over its real socket, DeriveKey calls/s and
# p50/p99 at 1, 4, 16 and 64 connections, key cache warm and cold, simulator
# latency 0 and 8 ms, GetStatus latency beside the load, the agent's RSS
# before and after, and the firmware requests the simulator counted for one
# unlock and for a boot of 1, 4 and 16 volumes sharing a binding.
# Informational: exits non-zero only when calls fail (77: not built).
#
#   make bench BENCH=tests/bench/agent-bench.sh      (in the build directory)
#
# Environment: SNPSEAL_BENCH_SECONDS (per point, default 2);
# SNPSEAL_BENCH_WARM_ONLY=1: only the warm-cache points at latency 0 (the
# ones the targets are read against); SNPSEAL_BENCH_CONNS, SNPSEAL_BENCH_NO_STATUS
# (tests/bench/agent-bench.c); SNPSEAL_BENCH_SMAPS=1: also the
# agent's mappings of 64 KiB (or SNPSEAL_BENCH_SMAPS KiB, when above 1) or
# more resident, before and after the load.
set -uo pipefail

prog=${top_builddir:-.}/tests/bench/agent-bench
if [ ! -x "$prog" ]; then
        echo "$prog is not built: run make tests/bench/agent-bench (or make bench) first"
        exit 77
fi
echo "uptime: $(uptime)"
# How an idle (virtual) CPU waits: with guest halt-polling off (haltpoll's
# guest_halt_poll_ns 0) it halts at once, and a wake-up from another CPU
# goes through the host (docs/ARCHITECTURE.md).
idle=/sys/devices/system/cpu/cpuidle
if [ -r "$idle/current_driver" ]; then
        poll=/sys/module/haltpoll/parameters/guest_halt_poll_ns
        echo "cpuidle: driver $(cat "$idle/current_driver"), governor $(cat "$idle/current_governor_ro" 2>/dev/null || echo unknown)$([ -r "$poll" ] && echo ", guest_halt_poll_ns $(cat "$poll")")"
fi
"$prog" "${SNPSEAL_BENCH_SECONDS:-2}" ${SNPSEAL_BENCH_WARM_ONLY:+warm}
rc=$?
echo "uptime: $(uptime)"
exit $rc

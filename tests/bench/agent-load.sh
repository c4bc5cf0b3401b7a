#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark: root's calls while unprivileged users attack the agent (issue 11).
#
# Runs tests/agent/test-agent-load --bench (built by "make check" or
# "make tests/agent/test-agent-load"): the real agent on the simulator, uid
# 65534 keeping 60 connections open and reopening them, two uids unsealing
# their own password objects (32 MiB scrypt each) without pause, one handing
# over a forged object with a 4 GiB scrypt cost and flooding wrong passwords.
# Prints p50/p99/max of root's GetStatus and DeriveKey (luks2), each on a
# fresh connection, idle and under that load, and whether GetStatus p99
# under load is below the 50 ms target. Informational: exits non-zero only
# when a root call fails (77: not root, or the program is not built).
#
#   make bench BENCH=tests/bench/agent-load.sh      (in the build directory)
#
# Environment: SNPSEAL_LOAD_SECONDS (default 10), SNPSEAL_LOAD_CALLS (200).
set -uo pipefail

prog=${top_builddir:-.}/tests/agent/test-agent-load
if [ ! -x "$prog" ]; then
        echo "$prog is not built: run make tests/agent/test-agent-load (or make check) first"
        exit 77
fi
if [ "$(id -u)" != 0 ]; then
        echo "needs root: the attackers run under other uids"
        exit 77
fi
exec "$prog" --bench

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the package test's chroot (tests/pkg/test-packages.sh) as
# /root/pkg-guest.sh ACTION, in /root: the installed snpseal, never the build
# tree's.
#   enroll   a LUKS2 image vol.img (passphrase in pass), the simulator state
#            sim.json, the agent on its default socket, snpseal enroll with a
#            recovery key (saved in recovery)
#   token    opens vol.img through the snpseal token (the agent running)
#   pass     opens it with the passphrase, then with the recovery key,
#            external tokens disabled
set -u
cd /root || exit 1
agent_pid=
agent_start() {
        mkdir -p /run/snpseal &&
                snpseald --backend=simulator --simulator-state=/root/sim.json \
                        --listen=/run/snpseal/agent.sock --credentials-listen=/run/snpseal/cred.sock \
                        >/root/agent.log 2>&1 &
        agent_pid=$!
        i=0
        while [ ! -S /run/snpseal/agent.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        [ -S /run/snpseal/agent.sock ] || { cat /root/agent.log; return 1; }
}
agent_stop() {
        [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
        agent_pid=
}
trap agent_stop EXIT
case $1 in
enroll)
        printf 'correct horse battery staple' >pass && chmod 0600 pass &&
                truncate -s 32M vol.img &&
                cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                        vol.img pass || exit 1
        snpseal-sim init sim.json >/dev/null || exit 1
        agent_start || exit 1
        out=$(snpseal enroll --recovery-key --unlock-key-file=pass vol.img 2>&1) || { echo "$out"; exit 1; }
        printf '%s\n' "$out" | sed -n '/^Recovery key/,$p' |
                grep -E '^[[:space:]]+([a-z0-9]{4}-)+[a-z0-9]{4}[[:space:]]*$' | head -n 1 | tr -d '[:space:]' >recovery
        [ -s recovery ] || { echo "enroll printed no recovery key: $out"; exit 1; }
        ;;
token)
        agent_start || exit 1
        cryptsetup open --test-passphrase --token-only vol.img
        ;;
pass)
        cryptsetup open --test-passphrase --disable-external-tokens --key-file=pass vol.img &&
                cryptsetup open --test-passphrase --disable-external-tokens --key-file=recovery vol.img
        ;;
*)
        echo "usage: $0 enroll|token|pass" >&2
        exit 2
        ;;
esac

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README demo: a LUKS2 volume that unlocks by itself, and only in the VM
# it was sealed to, on snpseal's SEV-SNP firmware simulator.
#
#   bash demo/run.sh        (fresh Debian 12, as root)
#
# 1. installs what the demo needs (demo/packages: the build dependencies and
#    cryptsetup, not the test suite's QEMU, clang or valgrind; skipped when
#    not root or when they are all installed already),
# 2. builds snpseal in _build-demo/ (./autogen.sh first when there is no
#    ./configure yet; configure --disable-tests; make honours MAKEFLAGS, else
#    runs one job per CPU),
# 3. runs the demo in a private mount namespace in which the real cryptsetup
#    loads the token plugin from the build tree (tests/luks/luks-env.sh):
#    create a LUKS2 image, start the agent on the simulator, enroll with a
#    recovery key, unlock through the token, luksDump, "reboot" into another
#    measurement, watch the token refuse, recover with the recovery key
#    through `snpseal reseal`, unlock through the token again; then it
#    prints how to start the agent and run snpseal yourself, and runs that
#    too, so that what it prints works when typed.
#
# Every step says what it shows and checks that it does; the demo stops with
# a non-zero exit and a "DEMO FAILED" line at the first step that does not.
# Nothing is installed on the system but the packages; everything else lives
# in a temporary directory that is removed at the end.
#
# Environment: SNPSEAL_DEMO_BUILD (build directory, default _build-demo),
# SNPSEAL_DEMO_SKIP_BUILD=1 (use the build directory as it is).
set -euo pipefail
exec </dev/null
export CI=true LC_ALL=C

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SNPSEAL_DEMO_BUILD:-"$top/_build-demo"}
jobs=$(nproc 2>/dev/null || echo 2)

bold=$'\e[1m' plain=$'\e[0m'
[ -t 1 ] || bold='' plain=''

section() { printf '\n%s=== %s ===%s\n' "$bold" "$*" "$plain"; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
# show CMD…: print the command, then run it.
show() { printf '$ %s\n' "$*"; "$@"; }
die() {
        printf '\nDEMO FAILED: %s\n' "$*" >&2
        exit 1
}

install_deps() {
        local pkgs missing=() p
        pkgs=$(grep -v '^#' "$top/demo/packages" | tr '\n' ' ')
        if [ "$(id -u)" -ne 0 ]; then
                echo "not root: not installing packages; assuming these are installed: $pkgs"
                return 0
        fi
        for p in $pkgs; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                        missing+=("$p")
        done
        if [ ${#missing[@]} -eq 0 ]; then
                echo "everything the demo needs is installed (demo/packages)"
                return 0
        fi
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" ||
                die "installing the demo's packages failed"
}

build() {
        if [ "${SNPSEAL_DEMO_SKIP_BUILD:-0}" = 1 ]; then
                echo "using the build in $build as it is (SNPSEAL_DEMO_SKIP_BUILD=1)"
                return 0
        fi
        if [ ! -x "$top/configure" ]; then
                echo "./autogen.sh (no ./configure yet)"
                (cd "$top" && ./autogen.sh >"$top/autogen.log" 2>&1) ||
                        { tail -n 30 "$top/autogen.log"; die "./autogen.sh failed (see autogen.log)"; }
        fi
        mkdir -p "$build"
        if [ ! -f "$build/Makefile" ]; then
                echo "configure in $build"
                (cd "$build" && "$top/configure" --disable-tests >configure.out 2>&1) ||
                        { tail -n 30 "$build/configure.out"; die "configure failed (see $build/configure.out)"; }
        fi
        # MAKEFLAGS (say -j1 on a small machine) is make's to read; only
        # without it does the demo pick one job per CPU.
        local jobsopt=()
        if [ -n "${MAKEFLAGS:-}" ]; then
                echo "make, with MAKEFLAGS=$MAKEFLAGS (log: $build/make.out; a minute or two)"
        else
                jobsopt=(-j"$jobs")
                echo "make -j$jobs (log: $build/make.out; a minute or two)"
        fi
        (cd "$build" && make "${jobsopt[@]}" >make.out 2>&1) ||
                { tail -n 40 "$build/make.out"; die "the build failed (see $build/make.out)"; }
        echo "built in $build"
}

# ---------------------------------------------------------------- the demo

# The harness of the LUKS2 integration tests: a private mount namespace with
# the build tree's plugin over cryptsetup's token directory, the agent on the
# simulator. It expects make check's environment.
harness() {
        export top_srcdir="$top" top_builddir="$build"
        export SNPSEAL_SIM="$build/cli/snpseal-sim" SNPSEALD="$build/agent/snpseald"
        export SNPSEAL="$build/cli/snpseal"
        local f
        for f in "$SNPSEAL_SIM" "$SNPSEALD" "$SNPSEAL" \
                 "$build/cryptsetup-token/.libs/libcryptsetup-token-snpseal.so"; do
                [ -x "$f" ] || [ -f "$f" ] || die "$f is missing: the build is incomplete"
        done
        [ "$(id -u)" -eq 0 ] || die "the demo needs root (a private mount namespace for the token plugin)"
        command -v cryptsetup >/dev/null || die "cryptsetup is not installed (package cryptsetup-bin)"
        # shellcheck source=../tests/luks/luks-env.sh
        . "$top/tests/luks/luks-env.sh"
}

# ns cryptsetup|snpseal ARGS…: print the command as a user types it in the
# demo's directory on a system where snpseal is installed (snpseal with the
# socket of the demo's agent, which it reaches through SNPSEAL_SOCKET), then
# run it inside the namespace.
ns() {
        local prog=$1
        shift
        case $prog in
        snpseal)
                printf '$ snpseal --socket=agent.sock %s\n' "$*" | sed "s|$work/||g"
                luks_in_ns "$SNPSEAL" "$@" ;;
        *)
                printf '$ %s %s\n' "$prog" "$*" | sed "s|$work/||g"
                luks_in_ns "$prog" "$@" ;;
        esac
}
sim() {
        printf '$ snpseal-sim %s\n' "$*" | sed "s|$work/||g"
        "$SNPSEAL_SIM" "$@"
}

demo() {
        local out rc recovery nonce

        harness
        # One stream, so cryptsetup's and the plugin's messages appear in order.
        exec 2>&1
        luks_env_init || die "the LUKS2 environment cannot be set up here (see the message above)"
        work=$LUKS_TMP
        trap 'luks_agent_stop >/dev/null 2>&1 || true; luks_env_cleanup >/dev/null 2>&1 || true' EXIT
        cd "$work"
        echo "The demo works in $work, runs the programs of $build, and shows each command"
        echo "as you would type it there with snpseal installed. cryptsetup runs in a private mount"
        echo "namespace in which the build's token plugin is in cryptsetup's token directory"
        echo "($LUKS_TOKEN_DIR)."
        img=demo.img
        printf 'correct horse battery staple' >passphrase.txt

        step "1. A LUKS2 volume (an image file) with an ordinary passphrase in keyslot 0"
        show truncate -s 32M "$img"
        ns cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 \
                --pbkdf-force-iterations 1000 "$img" passphrase.txt
        luks_in_ns cryptsetup isLuks --type luks2 "$img" || die "$img is not a LUKS2 volume"

        step "2. The agent, snpseald, on the firmware simulator (there is no SEV-SNP hardware here)"
        echo "$ snpseal-sim init sim-state.json"
        agent_line
        luks_agent_start >agent-start.out 2>&1 || { cat agent-start.out; die "the agent did not start"; }
        echo "snpseald is listening on $SNPSEAL_SOCKET (agent.sock); the snpseal commands below use it"
        ns snpseal status || die "snpseal status failed"

        step "3. Enroll: a keyslot whose passphrase only this VM can derive, the snpseal token, and a recovery key"
        out=$(ns snpseal enroll --recovery-key --unlock-key-file=passphrase.txt "$img" 2>&1) ||
                { printf '%s\n' "$out"; die "snpseal enroll failed"; }
        printf '%s\n' "$out"
        recovery=$(printf '%s\n' "$out" | recovery_key) ||
                die "enroll printed no recovery key"
        printf '%s' "$recovery" >recovery-key.txt
        echo "(the demo keeps the recovery key in recovery-key.txt; you would write it down)"

        step "4. Unlock through the token, no passphrase: cryptsetup asks the agent for the key"
        ns cryptsetup open --test-passphrase --token-only "$img" ||
                die "the token did not open the volume"
        echo "opened (--test-passphrase: checked without creating a device)"

        step "5. The token in luksDump: binding, recorded identity, TCB, PIN"
        out=$(luks_in_ns cryptsetup luksDump "$img") || die "cryptsetup luksDump failed"
        printf '$ cryptsetup luksDump %s   (the Tokens section)\n' "$img"
        printf '%s\n' "$out" | sed -n '/^Tokens:/,/^Digests:/p' | sed '$d'
        printf '%s\n' "$out" | grep -q 'snpseal' || die "luksDump shows no snpseal token"

        step "6. \"Reboot\" into another image: the launch measurement changes (the agent restarts with the VM)"
        luks_agent_stop >/dev/null 2>&1 || true
        echo "(the agent is stopped)"
        sim set "$LUKS_STATE" measurement="$(printf '%096d' 1)"
        sim reboot "$LUKS_STATE"
        agent_line
        luks_agent_start >agent-start.out 2>&1 || { cat agent-start.out; die "the agent did not start again"; }

        step "7. The token refuses: the firmware's key differs, and the message says which field changed"
        rc=0
        out=$(ns cryptsetup open --test-passphrase --token-only "$img" 2>&1) || rc=$?
        printf '%s\n' "$out"
        [ "$rc" -ne 0 ] || die "the token still opened the volume after the measurement changed"
        printf '%s\n' "$out" | grep -q 'measurement changed' ||
                die "the refusal does not name the measurement"
        echo "refused (exit $rc); the passphrase and the recovery key still open the volume"
        echo "(--disable-external-tokens: skip the token, which would only refuse again):"
        ns cryptsetup open --test-passphrase --disable-external-tokens --key-file=passphrase.txt "$img" ||
                die "the passphrase does not open the volume"
        ns cryptsetup open --test-passphrase --disable-external-tokens --key-file=recovery-key.txt "$img" ||
                die "the recovery key does not open the volume"

        step "8. Recover: reseal to the new measurement, unlocking once with the recovery key"
        out=$(ns snpseal reseal "$img" --unlock-key-file=recovery-key.txt 2>&1) ||
                { printf '%s\n' "$out"; die "snpseal reseal failed"; }
        printf '%s\n' "$out"
        printf '%s\n' "$out" | grep -q 'resealed' || die "snpseal reseal resealed nothing"

        step "9. The token opens the volume again, in the VM as it is now"
        ns cryptsetup open --test-passphrase --token-only "$img" ||
                die "the token does not open the volume after reseal"
        echo "opened"
        out=$(ns snpseal list "$img") || { printf '%s\n' "$out"; die "snpseal list failed"; }
        printf '%s\n' "$out"
        printf '%s\n' "$out" | grep -q 'opens now: *yes' || die "snpseal list does not say the token opens"

        step "10. Attestation: evidence for a relying party, checked against the simulator's own root"
        nonce=0123456789abcdef0123456789abcdef
        ns snpseal attest --nonce="$nonce" --output=evidence.json || die "snpseal attest failed"
        printf '$ snpseal-sim chain --ark %s > sim-ark.pem\n' "${LUKS_STATE#"$work"/}"
        "$SNPSEAL_SIM" chain --ark "$LUKS_STATE" >sim-ark.pem || die "snpseal-sim chain failed"
        echo "(a relying party runs this anywhere, no agent needed; AMD's roots are built in, the"
        echo "simulator's must be named)"
        show "$SNPSEAL" verify --trust-anchor=sim-ark.pem --nonce="$nonce" --deny-debug evidence.json |
                sed "s|^\$ $SNPSEAL|\$ snpseal|" || die "snpseal verify did not verify the evidence"
        rc=0
        echo "\$ snpseal verify --nonce=$nonce evidence.json"
        out=$("$SNPSEAL" verify --nonce="$nonce" evidence.json 2>&1) || rc=$?
        printf '%s\n' "$out" | grep 'chain'
        [ "$rc" -eq 1 ] || die "without --trust-anchor the simulator's chain was not refused (exit $rc)"
        echo "refused without --trust-anchor (exit 1, not genuine): the simulated root is never trusted by default"

        section "demo done: every step behaved as shown"
        try_yourself
}

# How luks_agent_start (tests/luks/luks-env.sh) starts the agent, as typed in
# the demo's directory.
agent_line() {
        echo "$ snpseald --backend=simulator --simulator-state=sim-state.json --listen=agent.sock \\"
        echo "      --credentials-listen=cred.sock --credstore=credstore --config=snpseald.conf &"
}

# What to type to go on by hand once the demo has removed its files and
# stopped its agent; printed, then run exactly as printed (in a directory
# of its own, its agent stopped at the end), so that it is known to work.
try_yourself() {
        local recipe out tmp
        recipe="cd \"\$(mktemp -d)\"
$build/cli/snpseal-sim init vm.json
$build/agent/snpseald --backend=simulator --simulator-state=vm.json --listen=agent.sock \\
    --credentials-listen=cred.sock --credstore=credstore &
sleep 1    # until it listens
export SNPSEAL_SOCKET=\$PWD/agent.sock
$build/cli/snpseal status
printf 'a secret' | $build/cli/snpseal seal --purpose=cred/demo > demo.sealed
$build/cli/snpseal unseal --force < demo.sealed
kill \$!    # stop the agent"
        section "try it yourself"
        echo "When the demo ends, its directory and its agent are gone. To start an agent on the"
        echo "simulator and talk to it yourself (as root, in a shell of its own):"
        echo
        printf '%s\n' "$recipe" | sed 's/^/    /'
        echo
        echo "For the LUKS2 commands, cryptsetup must find the token plugin in its token directory"
        echo "($LUKS_TOKEN_DIR): 'make install' in $build (configured with the"
        echo "directories of README.md) puts it there, with snpseald where the plugin runs it."
        echo
        echo "(checking that these commands work ...)"
        tmp=$(mktemp -d)
        out=$(cd /tmp && TMPDIR=$tmp bash -euc "$recipe" 2>&1) ||
                { printf '%s\n' "$out"; rm -rf "$tmp"; die "the commands above failed"; }
        rm -rf "$tmp"
        printf '%s\n' "$out" | grep -q '^a secret$' || { printf '%s\n' "$out"; die "the commands above did not unseal the secret"; }
        echo "they do."
}

# The recovery key from enroll's output: the indented line of dash-separated
# groups under its header.
recovery_key() {
        sed -n '/^Recovery key/,$p' | grep -E '^[[:space:]]+([a-z0-9]{4}-)+[a-z0-9]{4}[[:space:]]*$' |
                head -n 1 | tr -d '[:space:]' | grep .
}

main() {
        section "1/3 build dependencies"
        install_deps
        section "2/3 build"
        build
        section "3/3 demo"
        demo
}

main "$@"

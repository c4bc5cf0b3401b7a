#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README demo: a LUKS2 volume that unlocks by itself, and only in the VM
# it was sealed to, on snpseal's SEV-SNP firmware simulator.
#
#   bash demo/run.sh        (fresh Debian 12, as root)
#
# 1. installs the build dependencies (.ci/packages; skipped when not root or
#    when they are all installed already),
# 2. builds snpseal in _build-demo/ (./autogen.sh first when there is no
#    ./configure yet),
# 3. runs the demo in a private mount namespace in which the real cryptsetup
#    loads the token plugin from the build tree (tests/luks/luks-env.sh):
#    create a LUKS2 image, start the agent on the simulator, enroll with a
#    recovery key, unlock through the token, luksDump, "reboot" into another
#    measurement, watch the token refuse, recover with the recovery key
#    through `snpseal reseal`, unlock through the token again.
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
        pkgs=$(grep -v '^#' "$top/.ci/packages" | tr '\n' ' ')
        if [ "$(id -u)" -ne 0 ]; then
                echo "not root: not installing packages; assuming these are installed: $pkgs"
                return 0
        fi
        for p in $pkgs; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                        missing+=("$p")
        done
        if [ ${#missing[@]} -eq 0 ]; then
                echo "all build dependencies are installed (.ci/packages)"
                return 0
        fi
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q --no-install-recommends $pkgs ||
                die "installing the build dependencies failed"
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
                (cd "$build" && "$top/configure" >configure.out 2>&1) ||
                        { tail -n 30 "$build/configure.out"; die "configure failed (see $build/configure.out)"; }
        fi
        echo "make -j$jobs (log: $build/make.out; a minute or two)"
        (cd "$build" && make -j"$jobs" >make.out 2>&1) ||
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

# ns cryptsetup|snpseal ARGS…: print the command as a user types it on a
# system where snpseal is installed, then run it inside the namespace.
ns() {
        local prog=$1
        shift
        printf '$ %s %s\n' "$prog" "$*" | sed "s|$work/||g"
        case $prog in
        snpseal) luks_in_ns "$SNPSEAL" "$@" ;;
        *) luks_in_ns "$prog" "$@" ;;
        esac
}
sim() {
        printf '$ snpseal-sim %s\n' "$*" | sed "s|$work/||g"
        "$SNPSEAL_SIM" "$@"
}

demo() {
        local out rc recovery

        harness
        # One stream, so cryptsetup's and the plugin's messages appear in order.
        exec 2>&1
        luks_env_init || die "the LUKS2 environment cannot be set up here (see the message above)"
        work=$LUKS_TMP
        trap 'luks_agent_stop >/dev/null 2>&1 || true; luks_env_cleanup >/dev/null 2>&1 || true' EXIT
        cd "$work"
        img=demo.img
        printf 'correct horse battery staple' >passphrase.txt

        step "1. A LUKS2 volume (an image file) with an ordinary passphrase in keyslot 0"
        show truncate -s 32M "$img"
        ns cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 \
                --pbkdf-force-iterations 1000 "$img" passphrase.txt
        luks_in_ns cryptsetup isLuks --type luks2 "$img" || die "$img is not a LUKS2 volume"

        step "2. The agent, snpseald, on the firmware simulator (there is no SEV-SNP hardware here)"
        luks_agent_start >agent-start.out 2>&1 || { cat agent-start.out; die "the agent did not start"; }
        echo "snpseald --backend=simulator --simulator-state=$(basename "$LUKS_STATE") is listening on $SNPSEAL_SOCKET"
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
        sim set "$LUKS_STATE" measurement="$(printf '%096d' 1)"
        sim reboot "$LUKS_STATE"
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

        section "demo done: every step behaved as shown"
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

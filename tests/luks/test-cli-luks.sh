#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal enroll / list / remove / reseal / unlock: failure paths and their
# messages, against the real agent and real LUKS2 images, with the build
# tree's token plugin loaded by libcryptsetup (tests/luks/luks-env.sh).
# Run by `make check`; by hand (as root) from the build tree:
#   top_srcdir=SRC top_builddir=. SNPSEAL=cli/snpseal SNPSEALD=agent/snpseald \
#   SNPSEAL_SIM=cli/snpseal-sim sh SRC/tests/luks/test-cli-luks.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
luks_env_init || exit $?
trap 'luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
cp "$LUKS_STATE" "$LUKS_TMP/state.orig"
W=$LUKS_TMP

restore_state() {
        cp "$W/state.orig" "$LUKS_STATE"
}
randhex() { # BYTES
        od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}
pass_of() {
        echo "${1%.img}.pass"
}
snp_tokens() {
        cryptsetup luksDump "$1" | sed -n 's/^  \([0-9][0-9]*\): snpseal$/\1/p'
}
n_keyslots() {
        cryptsetup luksDump "$1" | sed -n '/^Keyslots:/,/^Tokens:/p' | grep -c '^  [0-9][0-9]*: luks2'
}
# snpseal in the namespace, stdin from /dev/null (never a terminal).
snp() {
        luks_in_ns "$SNPSEAL" "$@" </dev/null
}
# The exit code of snpseal; output in $W/out and $W/err.
snp_rc() {
        luks_in_ns "$SNPSEAL" "$@" </dev/null >"$W/out" 2>"$W/err"
        echo $?
}
open_token() {
        luks_in_ns cryptsetup open --test-passphrase --token-only "$1" </dev/null
}
open_keyfile() {
        luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens --key-file="$(pass_of "$1")" "$1"
}

IMG=$(luks_make_image a) || exit 1
PASS=$(pass_of "$IMG")

# ---------------------------------------------------------------- enroll
truncate -s 4M "$W/plain.img"
check_eq "enroll on a non-LUKS file: exit 1" 1 "$(snp_rc enroll "$W/plain.img" --unlock-key-file="$PASS")"
check_output "enroll on a non-LUKS file: says so" "$W/plain.img.*LUKS|LUKS.*$W/plain.img" cat "$W/err"
check_eq "enroll on a missing file: exit 1" 1 "$(snp_rc enroll "$W/missing.img" --unlock-key-file="$PASS")"
check_output "enroll on a missing file: names it" "$W/missing.img.*(No such file|not exist|cannot)" cat "$W/err"

printf 'not-the-passphrase' >"$W/wrong.pass"
check_eq "enroll with a wrong passphrase: exit 1" 1 "$(snp_rc enroll "$IMG" --unlock-key-file="$W/wrong.pass")"
check_output "enroll with a wrong passphrase: says so" '[Pp]assphrase|[Nn]o key|does not (open|unlock)' cat "$W/err"
check_eq "wrong passphrase: no token written" "" "$(snp_tokens "$IMG")"
check_eq "wrong passphrase: no keyslot added" 1 "$(n_keyslots "$IMG")"
check_eq "enroll without an unlock option and no terminal: fails" 1 "$(snp_rc enroll "$IMG")"
check_eq "no terminal: no keyslot added" 1 "$(n_keyslots "$IMG")"

check_eq "enroll --vmpl=5: usage error (exit 2)" 2 "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --vmpl=5)"
check_output "enroll --vmpl=5: explains" 'VMPL|vmpl' cat "$W/err"
check_eq "enroll --bind=frob: exit 2" 2 "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --bind=frob)"
check_eq "enroll --bind without measurement: refused" 1 \
        "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --bind=policy,tcb_version)"
check_output "without measurement: explains why" 'measurement' cat "$W/err"
check_output "without measurement: names what the binding lacks" 'does not bind measurement' cat "$W/err"
check_output "without measurement: only snpseald.conf can allow it" 'allow_weak_bindings = yes in snpseald.conf' \
        cat "$W/err"
check_eq "enroll --bind without measurement --force: still refused" 1 \
        "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --bind=policy,tcb_version --force)"
check_output "--force alone: refused by the binding floor" 'does not bind measurement.*allow_weak_bindings' \
        cat "$W/err"
check_eq "without measurement: no keyslot added" 1 "$(n_keyslots "$IMG")"
check_eq "enroll --root-key=vmrk: refused" 1 "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --root-key=vmrk)"
check_output "vmrk: explains (new on every launch)" '[Vv][Mm][Rr][Kk]' cat "$W/err"
check_eq "vmrk: no keyslot added" 1 "$(n_keyslots "$IMG")"
check_eq "enroll --tcb above the committed TCB: refused" 1 \
        "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --tcb=ff000000000000ff)"
check_output "--tcb too high: explains" 'committed' cat "$W/err"
check_eq "enroll with an unreachable agent: exit 1" 1 \
        "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --socket="$W/none.sock")"
check_output "unreachable agent: the socket path" "cannot reach the snpseal agent at $W/none.sock" cat "$W/err"
check_eq "unreachable agent: one line" 1 "$(wc -l <"$W/err" | tr -d ' ')"
check_eq "unreachable agent: no keyslot added" 1 "$(n_keyslots "$IMG")"

# Only the administrator's snpseald.conf lowers the floor (read by the agent,
# the CLI and the plugin), and then --force is still needed.
echo "allow_weak_bindings = yes" >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check_eq "allow_weak_bindings = yes: without --force still refused" 1 \
        "$(snp_rc enroll "$IMG" --unlock-key-file="$PASS" --bind=policy,tcb_version)"
check_output "allow_weak_bindings = yes: mentions --force" '--force' cat "$W/err"
check "allow_weak_bindings = yes: enroll --bind=policy,tcb_version --force works" snp enroll "$IMG" \
        --unlock-key-file="$PASS" --bind=policy,tcb_version --force
check "the forced token opens" open_token "$IMG"
check "simulator: a new measurement" sh -c \
        "'$SNPSEAL_SIM' set '$LUKS_STATE' measurement=$(randhex 48)"
check "forced token: opens with another measurement (what allow_weak_bindings gives away)" open_token "$IMG"
restore_state
: >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check_eq "the weak token without allow_weak_bindings: no longer opens (exit 1)" 1 \
        "$(luks_in_ns cryptsetup open --test-passphrase --token-only "$IMG" </dev/null >/dev/null 2>"$W/err"; echo $?)"
check_output "the weak token: the plugin names its binding and what it lacks" \
        'snpseal token [0-9]+: binding \(vcek; policy,tcb_version;.*\) does not bind measurement.*not unlocking' \
        cat "$W/err"
FORCED=$(snp_tokens "$IMG" | head -n 1)
check "remove the forced token" snp remove "$IMG" --token="$FORCED"
check_eq "removed: no snpseal token left" "" "$(snp_tokens "$IMG")"
check_eq "removed: its keyslot is gone" 1 "$(n_keyslots "$IMG")"

# ---------------------------------------------------------------- list
check_eq "list, no tokens: exit 0" 0 "$(snp_rc list "$IMG")"
check_output "list, no tokens: says so" '[Nn]o snpseal token' cat "$W/out" "$W/err"
check_eq "list on a missing file: exit 1" 1 "$(snp_rc list "$W/missing.img")"
check_output "list on a missing file: names it" "$W/missing.img" cat "$W/err"
check "enroll with the default binding" snp enroll "$IMG" --unlock-key-file="$PASS"
TOK=$(snp_tokens "$IMG" | head -n 1)
check_output "list: the token and its keyslot" "$TOK" snp list "$IMG"
check_output "list: the binding" 'measurement' snp list "$IMG"
check_output "list: opens now" '[Oo]pens|yes' snp list "$IMG"
"$SNPSEAL_SIM" set "$LUKS_STATE" measurement="$(randhex 48)"
check_output "list after a measurement change: why it does not open" 'measurement changed' snp list "$IMG"
check_eq "list with an unreachable agent: does not crash" ok \
        "$([ "$(snp_rc list "$IMG" --socket="$W/none.sock")" -lt 128 ] && echo ok)"

# ---------------------------------------------------------------- unlock
check_eq "unlock --test, measurement changed: exit 1" 1 "$(snp_rc unlock "$IMG" data --test)"
check_output "unlock --test failure: names the field" 'measurement changed' cat "$W/err"
restore_state
check "unlock --test succeeds" snp unlock "$IMG" data --test
# No agent and no snpseald for the plugin's --stdio fallback.
check_eq "unlock --test, agent unreachable, no fallback: exit 1" 1 \
        "$(SNPSEAL_SOCKET=$W/none.sock LUKS_NO_FALLBACK=1; export SNPSEAL_SOCKET
           snp_rc unlock "$IMG" data --test)"
check_output "unlock --test, agent unreachable: names the socket" "$W/none.sock" cat "$W/err"
# --socket reaches the plugin too (it reads SNPSEAL_SOCKET).
check_eq "unlock --test --socket=unreachable, no fallback: exit 1" 1 \
        "$(LUKS_NO_FALLBACK=1; snp_rc unlock "$IMG" data --test --socket="$W/none.sock")"
check_eq "unlock without NAME: usage error" 2 "$(snp_rc unlock "$IMG")"

# ---------------------------------------------------------------- remove
check_eq "remove without --token: usage error" 2 "$(snp_rc remove "$IMG")"
check_eq "remove of a missing token: exit 1" 1 "$(snp_rc remove "$IMG" --token=7)"
check_output "remove of a missing token: names it" '7' cat "$W/err"
check_eq "remove --token=x: usage error" 2 "$(snp_rc remove "$IMG" --token=x)"
# Make the token's keyslot the only one.
cryptsetup luksKillSlot --batch-mode "$IMG" 0 >/dev/null 2>&1
check_eq "the passphrase keyslot is gone" 1 "$(n_keyslots "$IMG")"
check_eq "remove of the last keyslot: refused" 1 "$(snp_rc remove "$IMG" --token="$TOK")"
check_output "last keyslot: explains" '[Ll]ast|[Oo]nly|no other|without any' cat "$W/err"
check_eq "last keyslot: token kept" "$TOK" "$(snp_tokens "$IMG")"
check "last keyslot: the token still opens" open_token "$IMG"

# ---------------------------------------------------------------- reseal
IMG2=$(luks_make_image b) || exit 1
check_eq "reseal with no tokens: exit 0 or 1, not a crash" ok \
        "$([ "$(snp_rc reseal "$IMG2" --unlock-key-file="$(pass_of "$IMG2")")" -le 1 ] && echo ok)"
check "enroll b" snp enroll "$IMG2" --unlock-key-file="$(pass_of "$IMG2")"
check_output "reseal with nothing to do: says so" '.' snp reseal "$IMG2"
check_eq "reseal, nothing to do: one token" 1 "$(snp_tokens "$IMG2" | wc -l | tr -d ' ')"
"$SNPSEAL_SIM" set "$LUKS_STATE" measurement="$(randhex 48)"
check_eq "reseal after an image change without an unlock option: fails" 1 "$(snp_rc reseal "$IMG2")"
check_output "reseal: says the old token does not open and what to do" \
        'measurement changed|--unlock-key-file|--unlock-token' cat "$W/err"
check "reseal with the passphrase after an image change" snp reseal "$IMG2" --unlock-key-file="$(pass_of "$IMG2")"
check "the resealed token opens in the new image" open_token "$IMG2"
check_eq "reseal: one token" 1 "$(snp_tokens "$IMG2" | wc -l | tr -d ' ')"
check "the passphrase still opens" open_keyfile "$IMG2"
restore_state

tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal enroll (--recovery-key), reseal (after a TCB upgrade) and remove, killed after each of
# their steps (SNPSEAL_TEST_INTERRUPT=<step>: the CLI exits 99 right after the
# step; SNPSEAL_TEST_INTERRUPT=list prints the step names): every method that
# opened the volume before still opens it, luksDump still parses, and running
# the command again completes the job. tests/luks/luks-env.sh is the harness.
# Run by `make check`; by hand (as root) from the build tree:
#   top_srcdir=SRC top_builddir=. SNPSEAL=cli/snpseal SNPSEALD=agent/snpseald \
#   SNPSEAL_SIM=cli/snpseal-sim sh SRC/tests/luks/test-interrupt.sh

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
OLD_TCB=03000000000008d1
NEW_TCB=04000000000009d2
RECOVERY_RE='[a-z2-9]{4}(-[a-z2-9]{4}){7}'

# The steps each command must pass through (a step of the list that a command
# does not reach makes it finish normally: reported as a skip).
EXPECT_enroll="keyslot-added token-written verified recovery-added recovery-marked recovery-printed"
EXPECT_reseal="keyslot-added token-written verified old-keyslot-removed old-token-removed token-copied
        keyslot-copied token-reassigned spare-keyslot-removed"
EXPECT_remove="keyslot-removed token-removed"

restore_state() {
        cp "$W/state.orig" "$LUKS_STATE"
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
open_token() {
        luks_in_ns cryptsetup open --test-passphrase --token-only "$1" </dev/null
}
open_keyfile() { # IMG FILE
        luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens --key-file="$2" "$1"
}
# A recovery key printed in OUTFILE (into KEYFILE, without newline); 1 if none.
recovery_key() { # OUTFILE KEYFILE
        _k=$(grep -Eo "$RECOVERY_RE" "$1" | head -n 1)
        [ -n "$_k" ] || return 1
        printf '%s' "$_k" >"$2"
}
is_expected() { # VERB STEP
        eval "_list=\$EXPECT_$1"
        case " $_list " in *" $2 "*) return 0 ;; esac
        return 1
}

# Run "snpseal VERB IMG ARGS..." interrupted at STEP; then the checks.
# Methods that must keep working: the passphrase ($IMG's .pass), the token
# when $TOKEN_OPENS_BEFORE=1, a recovery key file $W/recovery.before if any.
interrupted() { # VERB STEP IMG ARGS...
        _verb=$1 _step=$2 _img=$3
        shift 3
        _label="$_verb interrupted at $_step"
        rm -f "$W/recovery.new"
        SNPSEAL_TEST_INTERRUPT=$_step luks_in_ns "$SNPSEAL" "$_verb" "$_img" "$@" </dev/null \
                >"$W/int.out" 2>"$W/int.err"
        _rc=$?
        if [ "$_rc" -eq 0 ] && ! is_expected "$_verb" "$_step"; then
                echo "ok $((_tap_n + 1)) - $_label # SKIP $_verb does not reach $_step"
                _tap_n=$((_tap_n + 1))
                return 1
        fi
        if [ "$_rc" -eq 99 ]; then
                _tap_result ok "$_label: exit status 99"
        else
                echo "exit status $_rc" >>"$W/int.err"
                _tap_result not-ok "$_label: exit status 99" "$W/int.err"
        fi
        check "$_label: luksDump parses" cryptsetup luksDump "$_img"
        check "$_label: luksDump with the plugin" luks_in_ns cryptsetup luksDump "$_img"
        check "$_label: the passphrase opens" open_keyfile "$_img" "$(pass_of "$_img")"
        if [ "${TOKEN_OPENS_BEFORE:-0}" = 1 ]; then
                check "$_label: the old token opens" open_token "$_img"
        fi
        if [ -f "$W/recovery.before" ]; then
                check "$_label: the old recovery key opens" open_keyfile "$_img" "$W/recovery.before"
        fi
        if recovery_key "$W/int.out" "$W/recovery.new"; then
                check "$_label: the printed recovery key opens" open_keyfile "$_img" "$W/recovery.new"
        fi
        return 0
}

# The steps the CLI knows.
STEPS=$(SNPSEAL_TEST_INTERRUPT=list "$SNPSEAL" enroll /nonexistent 2>/dev/null </dev/null)
check_output "SNPSEAL_TEST_INTERRUPT=list prints the steps" 'keyslot-added' printf '%s\n' "$STEPS"
for v in enroll reseal remove; do
        eval "_list=\$EXPECT_$v"
        for s in $_list; do
                case "
$STEPS
" in
                *"
$s
"*) _tap_result ok "step $s of $v is listed" ;;
                *) echo "missing: $s" >"$TAP_OUT"; _tap_result not-ok "step $s of $v is listed" "$TAP_OUT" ;;
                esac
        done
done
check_eq "an unknown step is refused (exit 2 or 1)" ok "$(
        SNPSEAL_TEST_INTERRUPT=frob luks_in_ns "$SNPSEAL" enroll "$W/none.img" --unlock-key-file=/dev/null \
                </dev/null >/dev/null 2>&1
        rc=$?; [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ] && echo ok)"

n=0
# ---------------------------------------------------------------- enroll --recovery-key
for step in $STEPS; do
        n=$((n + 1))
        restore_state
        img=$(luks_make_image "enroll$n") || exit 1
        rm -f "$W/recovery.before"
        TOKEN_OPENS_BEFORE=0
        # A recovery keyslot costs a benchmarked Argon2id: only where enroll
        # gets that far (the other steps are not reached: enroll completes).
        rk=
        is_expected enroll "$step" && rk=--recovery-key
        interrupted enroll "$step" "$img" $rk --unlock-key-file="$(pass_of "$img")" || continue
        luks_in_ns "$SNPSEAL" enroll "$img" --unlock-key-file="$(pass_of "$img")" \
                </dev/null >"$W/again.out" 2>"$W/again.err"
        rc=$?
        if [ "$rc" -eq 0 ]; then
                _tap_result ok "enroll after $step: runs again (exit 0)"
        else
                _tap_result not-ok "enroll after $step: runs again (exit $rc)" "$W/again.err"
        fi
        check "enroll after $step: a token opens" open_token "$img"
        check "enroll after $step: the passphrase opens" open_keyfile "$img" "$(pass_of "$img")"
        rm -f "$img"
done

# ---------------------------------------------------------------- reseal (TCB upgrade)
for step in $STEPS; do
        n=$((n + 1))
        restore_state
        img=$(luks_make_image "reseal$n") || exit 1
        rm -f "$W/recovery.before"
        if ! luks_in_ns "$SNPSEAL" enroll "$img" --unlock-key-file="$(pass_of "$img")" \
                </dev/null >"$W/enroll.out" 2>&1; then
                _tap_result not-ok "reseal at $step: setup enroll" "$W/enroll.out"
                continue
        fi
        "$SNPSEAL_SIM" set "$LUKS_STATE" launch_tcb=$NEW_TCB committed_tcb=$NEW_TCB current_tcb=$NEW_TCB \
                reported_tcb=$NEW_TCB
        TOKEN_OPENS_BEFORE=1
        interrupted reseal "$step" "$img" || continue
        luks_in_ns "$SNPSEAL" reseal "$img" </dev/null >"$W/again.out" 2>"$W/again.err"
        rc=$?
        if [ "$rc" -eq 0 ]; then
                _tap_result ok "reseal after $step: runs again (exit 0)"
        else
                _tap_result not-ok "reseal after $step: runs again (exit $rc)" "$W/again.err"
        fi
        check "reseal after $step: a token opens" open_token "$img"
        case $step in
        keyslot-copied|token-reassigned)
                check_output "reseal after $step: the spare keyslot is removed, and said so" \
                        "removed keyslot [0-9]+, a spare copy of token [0-9]+'s keyslot [0-9]+ left by an interrupted reseal" \
                        cat "$W/again.err"
                ;;
        esac
        luks_in_ns cryptsetup luksDump "$img" >"$W/dump" 2>&1
        if grep -q "$OLD_TCB" "$W/dump"; then
                _tap_result not-ok "reseal after $step: no token left at the old TCB" "$W/dump"
        else
                _tap_result ok "reseal after $step: no token left at the old TCB"
        fi
        check_eq "reseal after $step: one token left" 1 "$(snp_tokens "$img" | wc -l | tr -d ' ')"
        check_eq "reseal after $step: no orphaned keyslot (passphrase, token)" 2 "$(n_keyslots "$img")"
        rm -f "$img"
done
rm -f "$W/recovery.before"

# ---------------------------------------------------------------- remove
for step in $STEPS; do
        n=$((n + 1))
        restore_state
        img=$(luks_make_image "remove$n") || exit 1
        if ! luks_in_ns "$SNPSEAL" enroll "$img" --unlock-key-file="$(pass_of "$img")" \
                </dev/null >"$W/enroll.out" 2>&1; then
                _tap_result not-ok "remove at $step: setup enroll" "$W/enroll.out"
                continue
        fi
        tok=$(snp_tokens "$img" | head -n 1)
        # The token being removed is not required to open half-way.
        TOKEN_OPENS_BEFORE=0
        interrupted remove "$step" "$img" --token="$tok" || continue
        luks_in_ns "$SNPSEAL" remove "$img" --token="$tok" </dev/null >"$W/again.out" 2>"$W/again.err"
        rc=$?
        if [ "$rc" -eq 0 ]; then
                _tap_result ok "remove after $step: runs again (exit 0)"
        elif [ "$rc" -eq 1 ] && grep -q "$tok" "$W/again.err"; then
                _tap_result ok "remove after $step: already done, says so (exit 1)"
        else
                _tap_result not-ok "remove after $step: runs again (exit $rc)" "$W/again.err"
        fi
        check_eq "remove after $step: no snpseal token left" "" "$(snp_tokens "$img")"
        check_eq "remove after $step: only the passphrase keyslot left" 1 "$(n_keyslots "$img")"
        check "remove after $step: the passphrase opens" open_keyfile "$img" "$(pass_of "$img")"
        rm -f "$img"
done

tap_done

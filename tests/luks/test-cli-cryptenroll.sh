#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal as a cryptsetup / systemd-cryptenroll user expects it, each case
# replayed with the real cryptsetup (and systemd-cryptenroll where it is
# installed) on real LUKS2 images:
#   - reseal keeps each token's own binding and moves only the TCB; changing
#     a binding takes explicit options; token numbers stay;
#   - the recovery key is a systemd-recovery token, which systemd's tools
#     recognise (systemd-cryptenroll --wipe-slot=password keeps it);
#   - --wipe-slot counts as ways in only what does not depend on the VM,
#     takes systemd-cryptenroll's names, and works without enrolling;
#   - --json means JSON, and enroll --recovery-key writes only the key on
#     standard output.

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
HDR=$top_builddir/tests/luks/luks2-hdr
luks_env_init || exit $?
trap 'luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
cp "$LUKS_STATE" "$LUKS_TMP/state.orig"
W=$LUKS_TMP

pass_of() { echo "${1%.img}.pass"; }
snp_tokens() { cryptsetup luksDump "$1" | sed -n 's/^  \([0-9][0-9]*\): snpseal$/\1/p'; }
snp() { luks_in_ns "$SNPSEAL" "$@" </dev/null; }
snp_rc() { # exit code; output in $W/out, $W/err
        luks_in_ns "$SNPSEAL" "$@" </dev/null >"$W/out" 2>"$W/err"
        echo $?
}
enroll() { # IMG [options]
        _img=$1; shift
        snp enroll "$_img" --unlock-key-file="$(pass_of "$_img")" "$@"
}
open_token() { luks_in_ns cryptsetup open --test-passphrase --token-only "$1" </dev/null; }
token_field() { # IMG TOKEN PATH
        "$HDR" get "$1" "tokens.$2.$3"
}
restore_state() { cp "$W/state.orig" "$LUKS_STATE"; }
# A firmware update and a new launch: every TCB of the guest moves up.
tcb_up() {
        "$SNPSEAL_SIM" set "$LUKS_STATE" launch_tcb=04000000000008d1 committed_tcb=04000000000008d1 \
                current_tcb=04000000000008d1 reported_tcb=04000000000008d1 >/dev/null
}

# ---------------------------------------------------------------- 1. reseal keeps the binding
IMG=$(luks_make_image keep) || exit 1
check "enroll with its own binding (image_id, guest SVN 0, VMPL 1)" \
        enroll "$IMG" --bind=measurement,policy,tcb_version,image_id --guest-svn=0 --vmpl=1
TOK=$(snp_tokens "$IMG")
check_eq "the token has image_id" '["policy","image_id","measurement","tcb_version"]' \
        "$(token_field "$IMG" "$TOK" snpseal_binding.fields | tr -d ' \n')"
check_output "reseal, nothing changed: nothing to reseal, binding kept" \
        'Nothing to reseal on .*: every snpseal token opens in this VM with its own binding at TCB 03000000000008d1 or newer' \
        snp reseal "$IMG"
check_eq "the binding is still its own" '["policy","image_id","measurement","tcb_version"]' \
        "$(token_field "$IMG" "$TOK" snpseal_binding.fields | tr -d ' \n')"
tcb_up
check_output "after a firmware update reseal moves only the TCB" \
        "^token $TOK \\(keyslot [0-9]+\\): tcb 03000000000008d1 → 04000000000008d1: resealed as token $TOK \\(keyslot [0-9]+\\)$" \
        snp reseal "$IMG"
check_eq "fields kept" '["policy","image_id","measurement","tcb_version"]' \
        "$(token_field "$IMG" "$TOK" snpseal_binding.fields | tr -d ' \n')"
check_eq "guest SVN kept" 0 "$(token_field "$IMG" "$TOK" snpseal_binding.guest_svn)"
check_eq "VMPL kept" 1 "$(token_field "$IMG" "$TOK" snpseal_binding.vmpl)"
check_eq "TCB moved" 04000000000008d1 "$(token_field "$IMG" "$TOK" snpseal_binding.tcb_version)"
check "it opens" open_token "$IMG"
check_output "explicit binding options change the binding" \
        "token $TOK \\(keyslot [0-9]+\\): .*fields policy,image_id,measurement,tcb_version → policy,measurement,tcb_version.*: resealed as token $TOK" \
        snp reseal "$IMG" --bind=measurement,policy,tcb_version --guest-svn=0 --vmpl=1
check_eq "now the default fields" '["policy","measurement","tcb_version"]' \
        "$(token_field "$IMG" "$TOK" snpseal_binding.fields | tr -d ' \n')"
restore_state

# A binding below the floor cannot be kept: reseal says how to move it.
WEAK=$(luks_make_image weak) || exit 1
echo "allow_weak_bindings = yes" >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check "enroll a weak binding (allowed by snpseald.conf)" enroll "$WEAK" --bind=policy,tcb_version,image_id --force
: >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check_eq "reseal of a weak token without options: exit 1" 1 \
        "$(snp_rc reseal "$WEAK" --unlock-key-file="$(pass_of "$WEAK")")"
check_output "it says how to move it" \
        'does not bind measurement.*cannot be resealed as it is: give the binding to move it to, e.g. snpseal reseal .* --bind=measurement,policy,tcb_version' \
        cat "$W/err"
check "with --bind=measurement,policy,tcb_version it moves" snp reseal "$WEAK" \
        --unlock-key-file="$(pass_of "$WEAK")" --bind=measurement,policy,tcb_version
check "and opens" open_token "$WEAK"

# ---------------------------------------------------------------- 6. numbers stay
NUM=$(luks_make_image num) || exit 1
printf '1234\n' >"$W/pin"
check "enroll a PIN token" enroll "$NUM" --pin-file="$W/pin"
check "enroll a token without PIN" enroll "$NUM"
check_eq "token 0 needs the PIN" true "$(token_field "$NUM" 0 snpseal_pin)"
check_eq "token 1 does not" false "$(token_field "$NUM" 1 snpseal_pin)"
tcb_up
check "reseal both" snp reseal "$NUM" --pin-file="$W/pin"
check_eq "token 0 still needs the PIN" true "$(token_field "$NUM" 0 snpseal_pin)"
check_eq "token 1 still does not" false "$(token_field "$NUM" 1 snpseal_pin)"
check_eq "both at the new TCB" "04000000000008d1 04000000000008d1" \
        "$(token_field "$NUM" 0 snpseal_binding.tcb_version) $(token_field "$NUM" 1 snpseal_binding.tcb_version)"
restore_state

tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal as a cryptsetup / systemd-cryptenroll user expects it, each case
# replayed with the real cryptsetup (and systemd-cryptenroll where it is
# installed) on real LUKS2 images:
#   - reseal keeps each token's own binding and moves only the TCB; changing
#     a binding takes explicit options; token and keyslot numbers stay;
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
KS0=$(token_field "$NUM" 0 keyslots.0)
KS1=$(token_field "$NUM" 1 keyslots.0)
check_eq "the tokens have keyslots 1 and 2 (0 is the passphrase)" '1 2' "$KS0 $KS1"
# The token opens its own keyslot through real cryptsetup and the plugin.
open_num() { # TOKEN [PIN]
        printf '%s\n' "${2:-}" | luks_in_ns cryptsetup open -v --test-passphrase --token-only --token-id="$1" "$NUM"
}
tcb_up
snp reseal "$NUM" --pin-file="$W/pin" >"$W/reseal.out" 2>"$W/reseal.err"
check_eq "reseal both: exit 0" 0 $?
check_output "reseal says token 0 keeps keyslot 1" 'token 0 \(keyslot 1\): .*resealed as token 0 \(keyslot 1\)' \
        cat "$W/reseal.out"
check_output "reseal says token 1 keeps keyslot 2" 'token 1 \(keyslot 2\): .*resealed as token 1 \(keyslot 2\)' \
        cat "$W/reseal.out"
check_eq "token 0 still needs the PIN" true "$(token_field "$NUM" 0 snpseal_pin)"
check_eq "token 1 still does not" false "$(token_field "$NUM" 1 snpseal_pin)"
check_eq "both at the new TCB" "04000000000008d1 04000000000008d1" \
        "$(token_field "$NUM" 0 snpseal_binding.tcb_version) $(token_field "$NUM" 1 snpseal_binding.tcb_version)"
check_eq "both keep their keyslot numbers" "$KS0 $KS1" \
        "$(token_field "$NUM" 0 keyslots.0) $(token_field "$NUM" 1 keyslots.0)"
check_eq "no spare keyslot is left (passphrase and two tokens)" 3 \
        "$(cryptsetup luksDump "$NUM" | sed -n '/^Keyslots:/,/^Tokens:/p' | grep -c '^  [0-9][0-9]*: luks2')"
check_output "cryptsetup opens keyslot 1 with token 0 and its PIN" 'Key slot 1 unlocked' open_num 0 1234
check_output "cryptsetup opens keyslot 2 with token 1" 'Key slot 2 unlocked' open_num 1
check_eq "keyslot 1 keeps the PIN token's Argon2id" argon2id \
        "$("$HDR" get "$NUM" keyslots.1.kdf.type | tr -d '"')"
check_eq "keyslot 2 keeps the no-PIN token's PBKDF2" pbkdf2 "$("$HDR" get "$NUM" keyslots.2.kdf.type | tr -d '"')"
# Once more: the numbers do not swap on the next reseal either.
"$SNPSEAL_SIM" set "$LUKS_STATE" launch_tcb=05000000000008d1 committed_tcb=05000000000008d1 \
        current_tcb=05000000000008d1 reported_tcb=05000000000008d1 >/dev/null
# The agent drops a connection idle for connection_timeout seconds: with 1 s,
# the PIN token's Argon2id keyslot (about 2 s to write) outlasts the CLI's
# connection between two of its calls, and the CLI connects again.
echo 'connection_timeout = 1' >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check "reseal both again" snp reseal "$NUM" --pin-file="$W/pin"
check_output "meanwhile the agent dropped an idle connection (connection_timeout = 1)" \
        'dropping connection from uid 0 .*: idle for 1 s' cat "$LUKS_TMP/agent.log"
: >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check_eq "the numbers stay on the second reseal too" "0:$KS0:true 1:$KS1:false" \
        "0:$(token_field "$NUM" 0 keyslots.0):$(token_field "$NUM" 0 snpseal_pin) 1:$(token_field "$NUM" 1 keyslots.0):$(token_field "$NUM" 1 snpseal_pin)"
check_output "and both still open through cryptsetup (token 0)" 'Key slot 1 unlocked' open_num 0 1234
check_output "and both still open through cryptsetup (token 1)" 'Key slot 2 unlocked' open_num 1
restore_state

# ---------------------------------------------------------------- 2. the recovery key is marked
RK=$(luks_make_image rk) || exit 1
enroll "$RK" --recovery-key >"$W/rk.out" 2>"$W/rk.err"
check_eq "enroll --recovery-key: exit 0" 0 $?
RKSLOT=$(cryptsetup luksDump "$RK" | sed -n '/systemd-recovery/,/Keyslot:/s/^[[:space:]]*Keyslot:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)
check_output "a systemd-recovery token marks the recovery keyslot" '^[0-9]+$' echo "$RKSLOT"
sed -n 's/^[[:space:]]*\([A-Za-z0-9]\{4\}\(-[A-Za-z0-9]\{4\}\)\{7\}\)[[:space:]]*$/\1/p' "$W/rk.out" | tr -d '\n' >"$W/rk.key"
check_output "the recovery key was printed" '^.{39}$' cat "$W/rk.key"
check "the recovery key opens keyslot $RKSLOT" luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens \
        --key-slot="$RKSLOT" --key-file="$W/rk.key" "$RK"
# systemd-cryptenroll (package systemd) is what users run next to snpseal.
check_output "systemd-cryptenroll lists it as a recovery key" "^ *$RKSLOT +recovery" systemd-cryptenroll "$RK"
check "systemd-cryptenroll --wipe-slot=password" systemd-cryptenroll "$RK" --wipe-slot=password
check "the recovery key survives it" luks_in_ns cryptsetup open --test-passphrase \
        --disable-external-tokens --key-file="$W/rk.key" "$RK"
check "the token too" open_token "$RK"

# ---------------------------------------------------------------- 3. --wipe-slot guard
WS=$(luks_make_image ws) || exit 1
check "enroll (no recovery key)" enroll "$WS"
check_eq "enroll again wiping the passphrase: refused (exit 1)" 1 \
        "$(snp_rc enroll "$WS" --unlock-token=0 --wipe-slot=0)"
check_output "refused: only snpseal tokens would be left" \
        'refusing to wipe keyslot 0: afterwards only snpseal tokens would open the volume.*--recovery-key.*--force' \
        cat "$W/err"
check_eq "refused: nothing added (one snpseal token)" 1 "$(snp_tokens "$WS" | wc -l | tr -d ' ')"
check_eq "--wipe-slot=frob: usage error (exit 2)" 2 "$(snp_rc enroll "$WS" --unlock-token=0 --wipe-slot=frob)"
check_output "--wipe-slot=frob: names the accepted words" "invalid --wipe-slot 'frob'.*password, recovery, empty, all, snpseal" \
        cat "$W/err"
check_eq "remove --wipe-slot=password: refused too (exit 1)" 1 "$(snp_rc remove "$WS" --wipe-slot=password)"
check_output "remove --wipe-slot=password: says why" 'refusing to wipe keyslot 0' cat "$W/err"
check "still opens with the passphrase" luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens \
        --key-file="$(pass_of "$WS")" "$WS"
check "enroll --recovery-key --wipe-slot=password: allowed (the recovery key stays)" \
        snp enroll "$WS" --unlock-token=0 --recovery-key --wipe-slot=password
check_eq "the passphrase is gone" 2 "$(luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens \
        --key-file="$(pass_of "$WS")" "$WS" >/dev/null 2>&1; echo $?)"
check_output "a recovery key is left" 'systemd-recovery' cryptsetup luksDump "$WS"
check_eq "remove --wipe-slot=recovery: refused (exit 1)" 1 "$(snp_rc remove "$WS" --wipe-slot=recovery)"
check_eq "remove --wipe-slot=recovery --force: exit 0" 0 "$(snp_rc remove "$WS" --wipe-slot=recovery --force)"
check_output "forced: an explicit warning" 'warning: after wiping keyslot [0-9]+ only snpseal tokens open' cat "$W/err"
check_output "forced: says what it wiped" '^Wiped keyslot [0-9]+' cat "$W/out"
check_eq "forced: no systemd-recovery token left" 0 "$(cryptsetup luksDump "$WS" | grep -c systemd-recovery)"
check "the snpseal tokens still open it" open_token "$WS"

EM=$(luks_make_image em) || exit 1
: >"$W/empty.key"
check "luksAddKey an empty passphrase" cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --key-file "$(pass_of "$EM")" "$EM" "$W/empty.key"
check_eq "remove --wipe-slot=empty: exit 0" 0 "$(snp_rc remove "$EM" --wipe-slot=empty)"
check_output "it wiped keyslot 1 (the empty one)" '^Wiped keyslot 1\.$' cat "$W/out"
check "the passphrase still opens" luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens \
        --key-file="$(pass_of "$EM")" "$EM"
check_eq "remove with neither --token nor --wipe-slot: usage error" 2 "$(snp_rc remove "$EM")"

# ---------------------------------------------------------------- 4. --json means JSON
command -v jq >/dev/null || { echo "jq is not installed (.ci/packages)" >&2; exit 1; }
JS=$(luks_make_image js) || exit 1
chmod 600 "$(pass_of "$JS")"   # else enroll warns that every user may read it
check_eq "--json enroll --recovery-key: exit 0" 0 "$(snp_rc --json enroll "$JS" --recovery-key \
        --unlock-key-file="$(pass_of "$JS")")"
check "--json enroll: standard output is one JSON object" jq -e 'type == "object"' "$W/out"
check_output "--json enroll: token, keyslot, binding, recovery key" \
        '^[0-9]+ [0-9]+ vcek [a-z2-9]{4}(-[a-z2-9]{4}){7} [0-9]+$' \
        jq -r '"\(.token) \(.keyslot) \(.binding.root_key) \(.recovery_key) \(.recovery_keyslot)"' "$W/out"
check_eq "--json enroll: nothing on standard error" "" "$(cat "$W/err")"
check_eq "enroll --recovery-key --force (a second token): exit 0" 0 \
        "$(snp_rc enroll "$JS" --recovery-key --force --unlock-key-file="$(pass_of "$JS")")"
check_output "enroll --recovery-key: standard output is only the key" '^ *[a-z2-9]{4}(-[a-z2-9]{4}){7}$' cat "$W/out"
check_eq "enroll --recovery-key: one line on standard output" 1 "$(wc -l <"$W/out" | tr -d ' ')"
check_output "enroll --recovery-key: what happened on standard error" \
        'Enrolled snpseal token [0-9]+ \(keyslot [0-9]+\).*Recovery key \(keyslot [0-9]+\), shown only this once' \
        sh -c 'tr "\n" " " <"$1"' sh "$W/err"
check_eq "--json list: exit 0" 0 "$(snp_rc --json list "$JS")"
check_eq "--json list: tokens and keyslots" "2 5" "$(jq -r '"\(.tokens | length) \(.keyslots | length)"' "$W/out")"
check_eq "--json list: the kinds" "passphrase,snpseal token 0,recovery key (token 1),snpseal token 2,recovery key (token 3)" \
        "$(jq -r '[.keyslots[].kind] | join(",")' "$W/out")"
check_eq "--json remove --token=2: exit 0" 0 "$(snp_rc --json remove "$JS" --token=2)"
check_eq "--json remove: the token and its keyslot" "2 1" "$(jq -r '"\(.removed_token) \(.removed_keyslots | length)"' "$W/out")"
check_eq "--json unlock --test: exit 0" 0 "$(snp_rc --json unlock "$JS" --test)"
check_eq "--json unlock --test: the keyslot, nothing activated" "true null" \
        "$(jq -r '"\(.keyslot >= 0) \(.activated)"' "$W/out")"
check_eq "--json remove --wipe-slot=4 (the second recovery key): exit 0" 0 "$(snp_rc --json remove "$JS" --wipe-slot=4)"
check_eq "--json remove --wipe-slot: what was wiped" "4" "$(jq -r '.wiped | join(",")' "$W/out")"
check_eq "--json reseal --crypttab: usage error" 2 "$(snp_rc --json reseal --crypttab="$W/none.tab")"

# ---------------------------------------------------------------- 5. list, dry run, the launch TCB
snp list "$JS" >"$W/list.out"
check_output "list: Keyslots section" '^Keyslots:$' cat "$W/list.out"
check_output "list: the passphrase" '^  0: passphrase$' cat "$W/list.out"
check_output "list: the snpseal token" '^  1: snpseal token 0$' cat "$W/list.out"
check_output "list: the recovery key" '^  2: recovery key \(token 1\)$' cat "$W/list.out"
# The committed TCB rises first (the firmware is updated); the launch TCB
# only when the VM is launched again on it.
"$SNPSEAL_SIM" set "$LUKS_STATE" committed_tcb=04000000000008d1 current_tcb=04000000000008d1 >/dev/null
check_output "reseal before the launch TCB rose: nothing, and says why" \
        'The committed TCB 04000000000008d1 is newer than the launch TCB 03000000000008d1: tokens move to it once the VM is launched on the new firmware' \
        snp reseal "$JS"
tcb_up
check_output "list: behind the VM's TCB, and what reseal does" \
        "behind: +the TCB of this VM is 04000000000008d1; snpseal reseal $JS moves it there" snp list "$JS"
snp --json list "$JS" >"$W/list.json"
check_eq "--json list: reseal_tcb" 04000000000008d1 "$(jq -r '.tokens[0].reseal_tcb' "$W/list.json")"
check_output "reseal --dry-run: what would move" \
        "^token 0 \\(keyslot 1\\): tcb 03000000000008d1 → 04000000000008d1: would be resealed$" snp reseal "$JS" --dry-run
check_eq "dry run: nothing moved" 03000000000008d1 "$(token_field "$JS" 0 snpseal_binding.tcb_version)"
check_eq "--json reseal --dry-run: exit 0" 0 "$(snp_rc --json reseal "$JS" --dry-run)"
check_eq "--json reseal --dry-run: one change, not done" "1 resealed true" \
        "$(jq -r '"\(.changes | length) \(.changes[0].action) \(.changes[0].dry_run)"' "$W/out")"
check_eq "--json reseal: exit 0" 0 "$(snp_rc --json reseal "$JS")"
check_eq "--json reseal: moved, same number" "0 0" "$(jq -r '"\(.changes[0].token) \(.changes[0].new_token)"' "$W/out")"
check_eq "after reseal: the new TCB" 04000000000008d1 "$(token_field "$JS" 0 snpseal_binding.tcb_version)"
restore_state

# ---------------------------------------------------------------- 8. interrupted, and run again
CC=$(luks_make_image cc) || exit 1
mkfifo "$W/never"
luks_in_ns "$SNPSEAL" enroll "$CC" --unlock-key-file="$W/never" </dev/null >"$W/out" 2>"$W/err" &
CPID=$!
sleep 1
pkill -INT -P "$CPID" snpseal 2>/dev/null || kill -INT "$CPID"
wait "$CPID"
check_eq "Ctrl-C while it waits for the passphrase: exit 130" 130 $?
check_output "Ctrl-C before any change: says nothing changed" "interrupted; nothing on $CC was changed" cat "$W/err"
check_eq "nothing changed: no token" "" "$(snp_tokens "$CC")"

check_eq "Ctrl-C once the token works, before the recovery key: exit 130" 130 \
        "$(SNPSEAL_TEST_SIGNAL=verified snp_rc enroll "$CC" --recovery-key --unlock-key-file="$(pass_of "$CC")")"
check_output "it says what state the volume is in and how to finish" \
        "interrupted: snpseal token 0 \\(keyslot 1\\) is enrolled on $CC and works; the recovery key was not added: run snpseal enroll $CC --recovery-key to add it" \
        cat "$W/err"
check_eq "the token is there, no recovery key" "0 0" \
        "$(snp_tokens "$CC" | tr -d '\n') $(cryptsetup luksDump "$CC" | grep -c systemd-recovery)"
check "it opens" open_token "$CC"
check_eq "enroll --recovery-key again: exit 0" 0 \
        "$(snp_rc enroll "$CC" --recovery-key --unlock-key-file="$(pass_of "$CC")")"
check_output "again: the equivalent token is reported, not duplicated" \
        "token 0 already binds it to this VM \\(vcek; .*\\) and opens; not adding another \\(--force adds one anyway\\)" \
        cat "$W/err"
check_eq "again: still one snpseal token" 1 "$(snp_tokens "$CC" | wc -l | tr -d ' ')"
check_output "again: only the recovery key was added, and shown" '^ *[a-z2-9]{4}(-[a-z2-9]{4}){7}$' cat "$W/out"
check_eq "again: one recovery key" 1 "$(cryptsetup luksDump "$CC" | grep -c systemd-recovery)"
check_eq "enroll a third time: exit 0, nothing added" "0 1 1" \
        "$(snp_rc enroll "$CC" --recovery-key --unlock-key-file="$(pass_of "$CC")") $(snp_tokens "$CC" | wc -l | tr -d ' ') $(cryptsetup luksDump "$CC" | grep -c systemd-recovery)"
check_output "a third time: says the recovery key exists" 'a recovery key exists already \(keyslot [0-9]+\); not adding another' \
        cat "$W/err"
check_eq "Ctrl-C during reseal: exit 130" 130 "$(tcb_up; SNPSEAL_TEST_SIGNAL=old-keyslot-removed snp_rc reseal "$CC")"
check_output "reseal interrupted: says how to finish" "interrupted: token 0 of $CC is resealed as token [0-9]+ \\(keyslot [0-9]+\\), which works; the old one is being removed: run snpseal reseal $CC again to finish" \
        cat "$W/err"
check "reseal again finishes" snp reseal "$CC"
check_eq "finished: one snpseal token at the new TCB" "1 04000000000008d1" \
        "$(snp_tokens "$CC" | wc -l | tr -d ' ') $(token_field "$CC" "$(snp_tokens "$CC")" snpseal_binding.tcb_version)"
"$SNPSEAL_SIM" set "$LUKS_STATE" launch_tcb=05000000000008d1 committed_tcb=05000000000008d1 \
        current_tcb=05000000000008d1 reported_tcb=05000000000008d1 >/dev/null
check_eq "Ctrl-C while the token moves back to its keyslot number: exit 130" 130 \
        "$(SNPSEAL_TEST_SIGNAL=token-reassigned snp_rc reseal "$CC")"
check_output "interrupted: says the token works and a spare keyslot is left" \
        "interrupted: token [0-9]+ of $CC works \\(keyslot [0-9]+\\); keyslot [0-9]+ is a spare copy of its key: run snpseal reseal $CC to remove it" \
        cat "$W/err"
check_eq "reseal again: exit 0" 0 "$(snp_rc reseal "$CC")"
check_output "reseal again removes the spare keyslot and says so" \
        "removed keyslot [0-9]+, a spare copy of token [0-9]+'s keyslot [0-9]+ left by an interrupted reseal" cat "$W/err"
restore_state

# ---------------------------------------------------------------- 9. prompts
# CMD on a pseudo-terminal (util-linux script), typing each LINE once the
# PROMPT has appeared one more time; the terminal's output in $W/tty.log.
tty_run() { # PROMPT CMD LINE...
        _p=$1 _c=$2
        shift 2
        rm -f "$W/tty.log"
        {
                _k=0
                for _line in "$@"; do
                        _k=$((_k + 1)) _t=0
                        while [ "$(grep -o "$_p" "$W/tty.log" 2>/dev/null | wc -l)" -lt "$_k" ] && [ "$_t" -lt 600 ]; do
                                sleep 0.1
                                _t=$((_t + 1))
                        done
                        printf '%s\n' "$_line"
                done
        } | luks_in_ns script -qfec "$_c" "$W/tty.log" >/dev/null 2>&1
}
command -v script >/dev/null || { echo "script (util-linux) is not installed" >&2; exit 1; }
PR=$(luks_make_image prompt) || exit 1
tty_run "Passphrase for $PR" "$SNPSEAL enroll $PR" "not-the-passphrase" "$(cat "$(pass_of "$PR")")"
check_eq "enroll on a terminal: a wrong passphrase, then the right one: exit 0" 0 $?
check_output "the prompt names the device" "Passphrase for $PR: " cat "$W/tty.log"
check_output "a wrong passphrase: try again" 'no key available with this passphrase; try again' cat "$W/tty.log"
check_eq "enrolled once" 1 "$(snp_tokens "$PR" | wc -l | tr -d ' ')"
tty_run "PIN for the snpseal token" "$SNPSEAL enroll $PR --pin --force --unlock-token=0" 1234 4321 5678 5678
check_eq "enroll --pin on a terminal: two PINs that differ, then two that match: exit 0" 0 $?
check_output "the PIN prompt says what it asks for" 'PIN for the snpseal token: ' cat "$W/tty.log"
check_output "the PINs differ: said so" 'the passwords do not match|do not match' cat "$W/tty.log"
PT=$(snp_tokens "$PR" | tail -n 1)
check_eq "a PIN token was added" true "$(token_field "$PR" "$PT" snpseal_pin)"
check_eq "cryptsetup with the wrong PIN: exit 2" 2 \
        "$(printf '0000\n' | luks_in_ns cryptsetup open --test-passphrase --token-only --token-id="$PT" "$PR" \
           >/dev/null 2>"$W/err"; echo $?)"
check_output "cryptsetup with the wrong PIN: the plugin says so" "snpseal token $PT: wrong PIN" cat "$W/err"
"$SNPSEAL_SIM" set "$LUKS_STATE" measurement="$(od -An -N48 -tx1 /dev/urandom | tr -d ' \n')" >/dev/null
check_eq "another VM: cryptsetup does not ask for a PIN that cannot help (exit 1)" 1 \
        "$(luks_in_ns cryptsetup open --test-passphrase --token-only --token-id="$PT" "$PR" </dev/null \
           >/dev/null 2>"$W/err"; echo $?)"
check_output "another VM: the plugin says why instead" "snpseal token $PT: this VM differs.*measurement changed" \
        sh -c 'tr "\n" " " <"$1"' sh "$W/err"
check_eq "another VM: no PIN was asked for" 0 "$(grep -c 'Enter token PIN' "$W/err")"
# snpseal unlock too: the VM's identity is checked before a PIN is asked
# for (with no terminal, asking would fail with "cannot ask for the token's PIN").
check_eq "another VM: snpseal unlock fails without asking for the PIN (exit 1)" 1 "$(snp_rc unlock "$PR" --test)"
check_output "another VM: snpseal unlock says the measurement changed" 'measurement changed' cat "$W/err"
check_eq "another VM: snpseal unlock did not try to ask for a PIN" 0 "$(grep -c 'PIN' "$W/err")"
restore_state

tap_done

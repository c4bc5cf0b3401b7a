#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The snpseal token with the real cryptsetup binary: the build tree's plugin
# bind-mounted over the token directory in a private mount namespace, the real
# agent on the simulator, LUKS2 images on files (tests/luks/luks-env.sh).
# Enroll and open, luksDump, identity changes (measurement, policy, image ID,
# family ID, VMPL) refused naming the field with the passphrase still working,
# TCB upgrade / reseal / downgrade, PIN, malformed tokens, another token type
# first, systemd-cryptenroll --wipe-slot=password, the --stdio fallback and the
# return codes (tests/luks/token-open prints libcryptsetup's exact code).
# Run by `make check`; by hand (as root) from the build tree:
#   top_srcdir=SRC top_builddir=. SNPSEAL=cli/snpseal SNPSEALD=agent/snpseald \
#   SNPSEAL_SIM=cli/snpseal-sim sh SRC/tests/luks/test-token.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
TOKEN_OPEN=$top_builddir/tests/luks/token-open
[ -x "$TOKEN_OPEN" ] || { echo "$TOKEN_OPEN is not built" >&2; exit 1; }
luks_env_init || exit $?
trap 'luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
cp "$LUKS_STATE" "$LUKS_TMP/state.orig"
W=$LUKS_TMP

# ---------------------------------------------------------------- helpers
restore_state() {
        cp "$W/state.orig" "$LUKS_STATE"
}
randhex() { # BYTES
        od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}
sim_set() {
        "$SNPSEAL_SIM" set "$LUKS_STATE" "$@"
}
pass_of() { # IMG -> its passphrase file
        echo "${1%.img}.pass"
}
# The snpseal token IDs of IMG, one per line.
snp_tokens() {
        cryptsetup luksDump "$1" | sed -n 's/^  \([0-9][0-9]*\): snpseal$/\1/p'
}
open_token() { # IMG [cryptsetup options]
        _img=$1; shift
        luks_in_ns cryptsetup open --test-passphrase --token-only "$@" "$_img" </dev/null
}
open_keyfile() { # IMG
        luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens --key-file="$(pass_of "$1")" "$1"
}
# Tokens first, then the passphrase from stdin: what a user at the prompt does.
open_fallthrough() { # IMG
        luks_in_ns cryptsetup open --test-passphrase "$1" <"$(pass_of "$1")"
}
token_rc() { # IMG [token-open options] -> prints "r=N NAME"
        luks_in_ns "$TOKEN_OPEN" "$@" 2>"$W/token-open.err" </dev/null
        return 0
}
exit_code() {
        "$@" >/dev/null 2>&1 </dev/null
        echo $?
}
enroll() { # IMG [options]
        _img=$1; shift
        luks_in_ns "$SNPSEAL" enroll "$_img" --unlock-key-file="$(pass_of "$_img")" "$@" </dev/null
}
# Every refusal must leave the passphrase working, both ways.
check_passphrase_still() { # LABEL IMG
        check "$1: the passphrase (key file) still opens" open_keyfile "$2"
        check "$1: cryptsetup falls through to the passphrase" open_fallthrough "$2"
}

# ---------------------------------------------------------------- enroll and open
IMG=$(luks_make_image main) || exit 1
check "enroll with the default binding" enroll "$IMG"
TOK=$(snp_tokens "$IMG" | head -n 1)
check_eq "enroll wrote one snpseal token" 1 "$(snp_tokens "$IMG" | wc -l | tr -d ' ')"
check "cryptsetup --token-only opens through the token" open_token "$IMG"
check "cryptsetup --token-only --token-type=snpseal opens" open_token "$IMG" --token-type=snpseal
check_eq "libcryptsetup: token returns success" "r=0 OK" "$(token_rc "$IMG" --token-id="$TOK")"
check "the passphrase still opens after enroll" open_keyfile "$IMG"
luks_in_ns cryptsetup luksDump "$IMG" >"$W/dump" 2>&1
check_output "luksDump shows the token type" "^  $TOK: snpseal" cat "$W/dump"
check_output "luksDump dump: root key" 'vcek' cat "$W/dump"
check_output "luksDump dump: bound fields" 'measurement.*policy|policy.*measurement' cat "$W/dump"
check_output "luksDump dump: TCB (hex or decoded)" '03000000000008d1|boot_loader[=: ]+3' cat "$W/dump"
check_output "luksDump dump: recorded measurement" \
        "$("$SNPSEAL_SIM" show "$LUKS_STATE" | sed -n 's/^measurement *\([0-9a-f]\{16\}\).*/\1/p')" cat "$W/dump"
check_output "luksDump dump: policy" '0x0*30000' cat "$W/dump"
check_output "luksDump dump: no PIN needed" 'PIN.*not required|PIN.*(no|false)' cat "$W/dump"
check_output "luksDump dump: the header is authenticated" \
        'header: +authenticated \(data aes-xts-plain64, keyslot aes-xts-plain64\)' cat "$W/dump"
check "luksDump without the plugin still works" cryptsetup luksDump "$IMG"

# ---------------------------------------------------------------- identity changes
# Each change: the token refuses with a message naming the field, libcryptsetup
# gets -ENOENT (so it goes on to the next token / the passphrase).
refused_case() { # LABEL PATTERN IMG TOKEN
        check_fails "$1: cryptsetup --token-only refused" "$2" open_token "$3"
        check_eq "$1: token returns -ENOENT" "r=-2 ENOENT" "$(token_rc "$3" --token-id="$4")"
        check_output "$1: the plugin names the field" "$2" cat "$W/token-open.err"
        check_passphrase_still "$1" "$3"
}

sim_set measurement="$(randhex 48)"
refused_case "measurement changed" 'measurement changed' "$IMG" "$TOK"
restore_state
check "original measurement back: opens again" open_token "$IMG"

sim_set policy=0x30001
refused_case "policy changed" 'policy changed' "$IMG" "$TOK"
restore_state

IDIMG=$(luks_make_image ids) || exit 1
check "enroll bound to image_id and family_id" \
        enroll "$IDIMG" --bind=measurement,policy,tcb_version,image_id,family_id
IDTOK=$(snp_tokens "$IDIMG" | head -n 1)
check "image_id/family_id token opens" open_token "$IDIMG"
sim_set image_id="$(randhex 16)"
refused_case "image ID changed" 'image ID changed' "$IDIMG" "$IDTOK"
restore_state
sim_set family_id="$(randhex 16)"
refused_case "family ID changed" 'family ID changed' "$IDIMG" "$IDTOK"
restore_state
check "family_id unbound token ignores it: main still opens" open_token "$IMG"

# The caller's VMPL rises above the binding's VMPL 0 (the agent reads its
# VMPL when it starts).
sim_set vmpl=1
luks_agent_start || exit 1
refused_case "VMPL 0 below the caller's VMPL 1" 'VMPL' "$IMG" "$TOK"
restore_state
luks_agent_start || exit 1
check "VMPL 0 again: opens" open_token "$IMG"

# ---------------------------------------------------------------- TCB
NEW_TCB=04000000000009d2
OLD_TCB=03000000000008d1
sim_set committed_tcb=$NEW_TCB current_tcb=$NEW_TCB reported_tcb=$NEW_TCB
check "committed TCB raised: still opens" open_token "$IMG"
sim_set launch_tcb=$NEW_TCB
check "committed and launch TCB raised: still opens" open_token "$IMG"
check "reseal to the new TCB" luks_in_ns "$SNPSEAL" reseal "$IMG"
check_output "list shows the new TCB" "$NEW_TCB|boot_loader[=: ]+4" luks_in_ns "$SNPSEAL" list "$IMG"
check_output "luksDump shows the new TCB" "$NEW_TCB|boot_loader[=: ]+4" luks_in_ns cryptsetup luksDump "$IMG"
luks_in_ns cryptsetup luksDump "$IMG" >"$W/dump" 2>&1
if grep -Eq "$OLD_TCB|boot_loader[=: ]+3" "$W/dump"; then
        echo "old TCB still present in luksDump" >"$TAP_OUT"
        _tap_result not-ok "reseal dropped the old-TCB token" "$TAP_OUT"
else
        _tap_result ok "reseal dropped the old-TCB token"
fi
check_eq "still one snpseal token after reseal" 1 "$(snp_tokens "$IMG" | wc -l | tr -d ' ')"
TOK=$(snp_tokens "$IMG" | head -n 1)
check "resealed token opens" open_token "$IMG"
check "the passphrase still opens after reseal" open_keyfile "$IMG"
sim_set committed_tcb=$OLD_TCB current_tcb=$OLD_TCB reported_tcb=$OLD_TCB launch_tcb=$OLD_TCB
refused_case "committed TCB below the sealed one" 'firmware older than the sealed TCB' "$IMG" "$TOK"
restore_state

# ---------------------------------------------------------------- PIN
PINIMG=$(luks_make_image pin) || exit 1
printf '1234\n' >"$W/pin.right"
printf '9999\n' >"$W/pin.wrong"
check "enroll with a PIN" enroll "$PINIMG" --pin --pin-file="$W/pin.right"
PINTOK=$(snp_tokens "$PINIMG" | head -n 1)
check_output "luksDump: the token needs a PIN" 'PIN:[[:space:]]+(yes|true|required)' \
        luks_in_ns cryptsetup luksDump "$PINIMG"
check_eq "no PIN given: -ENOANO" "r=-55 ENOANO" "$(token_rc "$PINIMG" --token-id="$PINTOK")"
check_eq "right PIN: success" "r=0 OK" "$(token_rc "$PINIMG" --token-id="$PINTOK" --pin-file="$W/pin.right")"
# The plugin cannot tell a wrong PIN (the agent derives another key):
# libcryptsetup finds that the key does not open the keyslot (-EPERM).
check_eq "wrong PIN: refused (-EPERM from the keyslot)" "r=-1 EPERM" \
        "$(token_rc "$PINIMG" --token-id="$PINTOK" --pin-file="$W/pin.wrong")"
# cryptsetup reads the token PIN from stdin when stdin is not a terminal.
pin_open() { # PINFILE
        luks_in_ns cryptsetup open --test-passphrase --token-only "$PINIMG" <"$1"
}
check "cryptsetup --token-only, right PIN on stdin: opens" pin_open "$W/pin.right"
check_eq "cryptsetup --token-only, wrong PIN on stdin: refused (exit 2)" 2 "$(exit_code pin_open "$W/pin.wrong")"
check_fails "cryptsetup --token-only, no PIN (empty stdin): refused" 'Nothing to read' pin_open /dev/null
check_passphrase_still "PIN token" "$PINIMG"

# ---------------------------------------------------------------- malformed tokens
# Variants of a real token, pointed at the passphrase keyslot 0 of a fresh
# image: validate rejects them (import fails) or open steps over them with
# -ENOENT; nothing crashes and the passphrase keeps working.
luks_in_ns cryptsetup token export --token-id "$TOK" "$IMG" >"$W/good.json"
GOOD=$(sed 's/"keyslots":\[[^]]*\]/"keyslots":["0"]/' "$W/good.json")
check_output "exported token is snpseal JSON" '"type":"snpseal"' printf '%s' "$GOOD"
MIMG=$(luks_make_image malformed) || exit 1
# name|sed expression applied to the good token
cat >"$W/malformed.list" <<'EOF'
missing salt|s/"snpseal_salt":"[^"]*",\{0,1\}//
missing binding|s/"snpseal_binding":{[^}]*},\{0,1\}//
missing version|s/"snpseal_version":[0-9]*,\{0,1\}//
missing identity|s/"snpseal_identity":{[^}]*},\{0,1\}//
missing pin flag|s/"snpseal_pin":[a-z]*,\{0,1\}//
version as a string|s/"snpseal_version":1/"snpseal_version":"1"/
version 99|s/"snpseal_version":1/"snpseal_version":99/
version huge|s/"snpseal_version":1/"snpseal_version":18446744073709551616999/
version negative|s/"snpseal_version":1/"snpseal_version":-1/
pin flag as a string|s/"snpseal_pin":false/"snpseal_pin":"no"/
salt bad base64|s/"snpseal_salt":"[^"]*"/"snpseal_salt":"!!!not*base64!!!"/
salt too short|s/"snpseal_salt":"[^"]*"/"snpseal_salt":"AAAAAAAAAAA="/
salt as a number|s/"snpseal_salt":"[^"]*"/"snpseal_salt":12/
salt huge|s/"snpseal_salt":"[^"]*"/"snpseal_salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"/
binding not an object|s/"snpseal_binding":{[^}]*}/"snpseal_binding":"vcek"/
root key unknown|s/"root_key":"[a-z]*"/"root_key":"frob"/
root key as a number|s/"root_key":"[a-z]*"/"root_key":7/
fields unknown name|s/"fields":\[/"fields":["frob",/
fields as a string|s/"fields":\[[^]]*\]/"fields":"measurement"/
vmpl huge|s/"vmpl":[0-9]*/"vmpl":99999999999999999999/
vmpl 4|s/"vmpl":[0-9]*/"vmpl":4/
vmpl negative|s/"vmpl":[0-9]*/"vmpl":-1/
vmpl as a string|s/"vmpl":[0-9]*/"vmpl":"0"/
guest svn huge|s/"guest_svn":[0-9]*/"guest_svn":4294967296/
guest svn negative|s/"guest_svn":[0-9]*/"guest_svn":-5/
tcb not hex|s/"tcb_version":"[^"]*"/"tcb_version":"zz000000000008d1"/
tcb too long|s/"tcb_version":"[^"]*"/"tcb_version":"03000000000008d100"/
tcb as a number|s/"tcb_version":"[^"]*"/"tcb_version":3/
identity not an object|s/"snpseal_identity":{[^}]*}/"snpseal_identity":[1,2]/
binding values null|s/"\(root_key\|vmpl\|guest_svn\|tcb_version\|fields\)":\("[^"]*"\|[0-9]*\|\[[^]]*\]\)/"\1":null/g
salt null|s/"snpseal_salt":"[^"]*"/"snpseal_salt":null/
keyslots of ours empty|s/"snpseal_version":1/"snpseal_version":1,"snpseal_keyslot":"x"/;s/"keyslots":\["0"\]/"keyslots":[]/
EOF
i=0
while IFS='|' read -r name expr; do
        i=$((i + 1))
        printf '%s' "$GOOD" | sed "$expr" >"$W/bad-$i.json"
        if cmp -s "$W/bad-$i.json" "$W/good.json" || [ "$(cat "$W/bad-$i.json")" = "$GOOD" ]; then
                echo "sed did not change the token: $expr" >"$TAP_OUT"
                _tap_result not-ok "malformed ($name): variant built" "$TAP_OUT"
                continue
        fi
        luks_in_ns cryptsetup token import --json-file "$W/bad-$i.json" --token-id 5 "$MIMG" \
                >"$W/import.out" 2>&1
        rc=$?
        if [ "$rc" -ge 128 ] || [ "$rc" -eq 125 ]; then
                _tap_result not-ok "malformed ($name): token import did not crash (exit $rc)" "$W/import.out"
                continue
        fi
        _tap_result ok "malformed ($name): token import did not crash (exit $rc)"
        if [ "$rc" -ne 0 ]; then
                check_output "malformed ($name): rejected by the plugin's validate" 'snpseal token' \
                        cat "$W/import.out"
                # Written without the plugin (as an older or foreign tool could).
                check "malformed ($name): import without the plugin" cryptsetup token import \
                        --json-file "$W/bad-$i.json" --token-id 5 "$MIMG"
        fi
        check_output "malformed ($name): in the header as token 5" '^  5: snpseal' cryptsetup luksDump "$MIMG"
        # In the header now: open must step over it with -ENOENT.
        check_eq "malformed ($name): open steps over it (-ENOENT)" "r=-2 ENOENT" \
                "$(token_rc "$MIMG" --token-id=5)"
        luks_in_ns cryptsetup luksDump "$MIMG" >"$W/dump" 2>&1
        check_eq "malformed ($name): luksDump does not crash" ok \
                "$([ $? -lt 128 ] && echo ok || echo "crashed")"
        check "malformed ($name): the passphrase still opens" open_fallthrough "$MIMG"
        cryptsetup token remove --token-id 5 "$MIMG" >/dev/null 2>&1
done <"$W/malformed.list"
check_eq "malformed: the image has no token left" "" "$(snp_tokens "$MIMG")"

# Extra fields are ignored (forward compatibility): the token still opens.
EXIMG=$(luks_make_image extra) || exit 1
check "enroll (for extra fields)" enroll "$EXIMG"
EXTOK=$(snp_tokens "$EXIMG" | head -n 1)
luks_in_ns cryptsetup token export --token-id "$EXTOK" "$EXIMG" |
        sed 's/^{/{"snpseal_future":{"a":[1,2,3]},"x-vendor":"y",/; s/"snpseal_binding":{/&"future_knob":7,/' \
        >"$W/extra.json"
check_output "extra fields: built" 'snpseal_future.*future_knob' cat "$W/extra.json"
check "extra fields: import replacing the token" luks_in_ns cryptsetup token import --json-file "$W/extra.json" \
        --token-id "$EXTOK" --token-replace "$EXIMG"
check_output "extra fields: kept in the header" 'snpseal_future' \
        cryptsetup token export --token-id "$EXTOK" "$EXIMG"
check "extra fields: the token still opens" open_token "$EXIMG"
check "extra fields: luksDump works" luks_in_ns cryptsetup luksDump "$EXIMG"

# ---------------------------------------------------------------- other token types
OIMG=$(luks_make_image other) || exit 1
printf '{"type":"foo-unknown","keyslots":["0"],"foo_data":"x"}' >"$W/foo.json"
check "import an unknown external token type as token 0" \
        luks_in_ns cryptsetup token import --json-file "$W/foo.json" --token-id 0 "$OIMG"
check "enroll next to it" enroll "$OIMG"
OTOK=$(snp_tokens "$OIMG" | head -n 1)
check_eq "our token comes after it" 1 "$OTOK"
check "cryptsetup --token-only opens past the unknown token" open_token "$OIMG"
check_eq "libcryptsetup (any token): success" "r=0 OK" "$(token_rc "$OIMG")"
check_output "the unknown token is still there" '^  0: foo-unknown' cryptsetup luksDump "$OIMG"
check_passphrase_still "unknown token first" "$OIMG"

if systemd-cryptenroll --help 2>/dev/null | grep -q -- '--unlock-key-file'; then
        SIMG=$(luks_make_image systemd) || exit 1
        check "enroll (for systemd-cryptenroll)" enroll "$SIMG"
        check "systemd-cryptenroll --wipe-slot=password" luks_in_ns timeout 60 systemd-cryptenroll \
                --wipe-slot=password --unlock-key-file="$(pass_of "$SIMG")" "$SIMG"
        check_fails "the password slot is gone" '.' open_keyfile "$SIMG"
        check_eq "our token is still there" 1 "$(snp_tokens "$SIMG" | wc -l | tr -d ' ')"
        check "our token still opens" open_token "$SIMG"
else
        echo "# skipping systemd-cryptenroll: not installed or without --unlock-key-file"
fi

# ---------------------------------------------------------------- agent down
FIMG=$(luks_make_image fallback) || exit 1
check "enroll (for the fallback)" enroll "$FIMG"
IMG=$FIMG
TOK=$(snp_tokens "$IMG" | head -n 1)
luks_agent_stop
rm -f "$W/fallback.log"
check "no agent listening: the --stdio fallback opens" open_token "$IMG"
check_output "the fallback ran snpseald --stdio" '--stdio' cat "$W/fallback.log"
check_eq "no agent (stale socket path): token returns success" "r=0 OK" "$(token_rc "$IMG" --token-id="$TOK")"
open_nosocket() {
        (SNPSEAL_SOCKET=$W/nonexistent.sock; export SNPSEAL_SOCKET; open_token "$@")
}
check "no socket file at all: the fallback opens" open_nosocket "$IMG"
sim_set measurement="$(randhex 48)"
refused_case "fallback, measurement changed" 'measurement changed' "$IMG" "$TOK"
restore_state
luks_fallback_fail on
check_fails "agent unreachable and fallback failing: --token-only refused" '.' open_token "$IMG"
check_eq "agent unreachable and fallback failing: -EAGAIN" "r=-11 EAGAIN" \
        "$(token_rc "$IMG" --token-id="$TOK")"
check_passphrase_still "agent unreachable" "$IMG"
luks_fallback_fail off

# Agent running but refusing: -ENOENT, and cryptsetup goes on to the passphrase.
luks_agent_start || exit 1
sim_set measurement="$(randhex 48)"
check_eq "agent refusing (IdentityMismatch): -ENOENT" "r=-2 ENOENT" "$(token_rc "$IMG" --token-id="$TOK")"
check_eq "agent refusing: --token-only exits 1 (no usable token)" 1 "$(exit_code open_token "$IMG")"
check "agent refusing: the passphrase is tried next" open_fallthrough "$IMG"
restore_state

tap_done

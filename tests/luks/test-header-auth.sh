#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The host writes the disk (docs/BOOT.md, "Threat model"): each attack is
# replayed as the host would, with tests/luks/luks2-hdr editing the header
# (both copies, checksums recomputed), against the real cryptsetup loading
# the build tree's plugin and the real agent on the simulator:
#   - a host-made volume and token under a weak binding, its passphrase
#     computed by a second agent on the same chip (another measurement);
#   - the data segment switched to cipher_null-ecb, aes-ecb, another sector
#     size or IV tweak; the keyslot area to cipher_null; the digest changed;
#     token record and header changed together; the volume key MAC;
#   - tokens without header authentication (older snpseal), the migration
#     setting, and snpseal reseal adding it;
#   - enroll refusing volumes that do not encrypt;
# and the legitimate changes that must keep the token working: keyslots and
# tokens added and removed, label and subsystem, a header backup restored;
# cryptsetup reencrypt makes it refuse with the way out (snpseal reseal).
# After every refusal the passphrase still opens.

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
HDR=$top_builddir/tests/luks/luks2-hdr
TOKEN_OPEN=$top_builddir/tests/luks/token-open
[ -x "$HDR" ] || { echo "$HDR is not built" >&2; exit 1; }
luks_env_init || exit $?
HOST_PID=
trap '[ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null; luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
W=$LUKS_TMP

# ---------------------------------------------------------------- helpers
pass_of() { echo "${1%.img}.pass"; }
randhex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
snp_tokens() { cryptsetup luksDump "$1" | sed -n 's/^  \([0-9][0-9]*\): snpseal$/\1/p'; }
snp() { luks_in_ns "$SNPSEAL" "$@" </dev/null; }
snp_all() { luks_in_ns "$SNPSEAL" "$@" </dev/null 2>&1; }
enroll() { # IMG [options]
        _img=$1; shift
        snp enroll "$_img" --unlock-key-file="$(pass_of "$_img")" "$@"
}
open_token() { luks_in_ns cryptsetup open --test-passphrase --token-only "$1" </dev/null; }
open_keyfile() {
        luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens --key-file="$(pass_of "$1")" "$1"
}
token_rc() { # IMG TOKEN -> "r=N NAME"
        luks_in_ns "$TOKEN_OPEN" --token-id="$2" "$1" 2>"$W/token-open.err" </dev/null
        return 0
}
hdr_save() { "$HDR" dump "$1" >"$1.json"; }
hdr_restore() { "$HDR" put "$1" <"$1.json"; }
# The token JSON of IMG's token ID, edited by sed EXPR, written back.
token_sed() { # IMG TOKEN EXPR
        _t=$("$HDR" get "$1" "tokens.$2") || return 1
        "$HDR" set "$1" "tokens.$2=$(printf '%s' "$_t" | sed "$3")"
}

# Refused through the token with PATTERN in what the plugin says, -ENOENT to
# libcryptsetup (it goes on to the next way in), the passphrase still opens.
refused() { # LABEL IMG TOKEN PATTERN
        check_fails "$1: cryptsetup --token-only refuses" "$4" open_token "$2"
        check_eq "$1: the token returns -ENOENT" "r=-2 ENOENT" "$(token_rc "$2" "$3")"
        check "$1: the passphrase still opens" open_keyfile "$2"
}

CHANGED='the LUKS2 header changed after enrollment; not unlocking'

# ---------------------------------------------------------------- enrolled with authentication
IMG=$(luks_make_image main) || exit 1
check "enroll" enroll "$IMG"
TOK=$(snp_tokens "$IMG" | head -n 1)
KS=$("$HDR" get "$IMG" "tokens.$TOK.keyslots.0")
check_output "the token records the data segment cipher" '"segment\.0\.encryption": *"aes-xts-plain64"' \
        "$HDR" get "$IMG" "tokens.$TOK.snpseal_header"
check_output "the token carries a header MAC" '^[A-Za-z0-9+/]{43}=$' "$HDR" get "$IMG" "tokens.$TOK.snpseal_header_mac"
check_output "the token carries a volume key MAC" '^[A-Za-z0-9+/]{43}=$' \
        "$HDR" get "$IMG" "tokens.$TOK.snpseal_volume_key_mac"
check "the token opens" open_token "$IMG"
hdr_save "$IMG"

# ---------------------------------------------------------------- the header changed
tamper() { # LABEL PATTERN PATH=VALUE...
        _l=$1 _p=$2; shift 2
        hdr_restore "$IMG"
        check "$_l: the host rewrites the header (cryptsetup loads it)" sh -c \
                '"$1" set "$2" "$3" && cryptsetup luksDump "$2" >/dev/null' sh "$HDR" "$IMG" "$1"
        refused "$_l" "$IMG" "$TOK" "$_p"
}
tamper "segment cipher_null-ecb" \
        "snpseal token $TOK: data segment cipher is cipher_null-ecb, enrolled aes-xts-plain64: $CHANGED" \
        segments.0.encryption=cipher_null-ecb
tamper "segment aes-ecb" "data segment cipher is aes-ecb, enrolled aes-xts-plain64: $CHANGED" \
        segments.0.encryption=aes-ecb
tamper "segment aes-cbc-essiv:sha256 (allowed, but not enrolled)" \
        "data segment cipher is aes-cbc-essiv:sha256, enrolled aes-xts-plain64: $CHANGED" \
        segments.0.encryption=aes-cbc-essiv:sha256
tamper "segment sector size" "data segment sector size is 512, enrolled 4096: $CHANGED" segments.0.sector_size=512
tamper "segment IV tweak" "data segment IV tweak is 8, enrolled 0: $CHANGED" 'segments.0.iv_tweak="8"'
tamper "segment offset" "data segment offset is 20971520, enrolled 16777216: $CHANGED" \
        'segments.0.offset="20971520"'
tamper "keyslot area cipher_null-ecb" "keyslot $KS cipher is cipher_null-ecb, enrolled aes-xts-plain64: $CHANGED" \
        "keyslots.$KS.area.encryption=cipher_null-ecb"
# A digest the host rewrites fails the passphrase too: only the token's refusal is checked.
hdr_restore "$IMG"
"$HDR" set "$IMG" digests.0.iterations=1001
check_fails "digest iterations: cryptsetup --token-only refuses" \
        "volume key digest \(iterations\) is 1001, enrolled 1000: $CHANGED" open_token "$IMG"
check_eq "digest iterations: the token returns -ENOENT" "r=-2 ENOENT" "$(token_rc "$IMG" "$TOK")"
check_output "every refusal says how to get out if it was deliberate" 'cryptsetup reencrypt.*snpseal reseal' \
        cat "$W/token-open.err"

# The host edits the token's record of the header too: the record does not
# authenticate, so nothing it says is repeated.
hdr_restore "$IMG"
"$HDR" set "$IMG" segments.0.sector_size=512
token_sed "$IMG" "$TOK" 's/"segment\.0\.sector_size": *"4096"/"segment.0.sector_size":"512"/'
check_output "record edited along: the record says 512" '"segment\.0\.sector_size": *"512"' \
        "$HDR" get "$IMG" "tokens.$TOK.snpseal_header"
refused "header and record changed together" "$IMG" "$TOK" \
        "the header's authentication code does not match \(the token was not enrolled on this header, or token and header were both changed\): $CHANGED"
hdr_restore "$IMG"
"$HDR" set "$IMG" segments.0.encryption=cipher_null-ecb
token_sed "$IMG" "$TOK" 's/"segment\.0\.encryption": *"aes-xts-plain64"/"segment.0.encryption":"cipher_null-ecb"/'
refused "cipher_null in header and record" "$IMG" "$TOK" \
        "data segment cipher cipher_null-ecb is not allowed: no encryption; not unlocking"

# A volume key MAC that does not match (the token copied onto another
# volume with the same header metadata).
hdr_restore "$IMG"
token_sed "$IMG" "$TOK" 's/"snpseal_volume_key_mac": *"[^"]*"/"snpseal_volume_key_mac":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="/'
refused "volume key MAC" "$IMG" "$TOK" \
        "the volume key of keyslot $KS is not the one enrolled: this volume was not enrolled by this VM; not unlocking"
hdr_restore "$IMG"
check "the genuine header back: opens" open_token "$IMG"

# ---------------------------------------------------------------- legitimate changes
printf 'second-%s' "$(randhex 8)" >"$W/second.pass"
check "cryptsetup luksAddKey" luks_in_ns cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --key-file "$(pass_of "$IMG")" "$IMG" "$W/second.pass"
check "another keyslot added: opens" open_token "$IMG"
printf '{"type":"systemd-fido2","keyslots":[],"fido2-credential":"AA=="}' >"$W/other-token.json"
check "cryptsetup token import (another type)" luks_in_ns cryptsetup token import --json-file "$W/other-token.json" "$IMG"
check "another token added: opens" open_token "$IMG"
check "cryptsetup config --label --subsystem" cryptsetup config --label=moved --subsystem=elsewhere "$IMG"
check "label and subsystem changed: opens" open_token "$IMG"
check "cryptsetup luksHeaderBackup" cryptsetup luksHeaderBackup "$IMG" --header-backup-file "$W/backup.hdr"
check "cryptsetup luksKillSlot (the second passphrase)" cryptsetup luksKillSlot -q "$IMG" \
        "$(cryptsetup luksDump "$IMG" | sed -n 's/^  \([0-9]*\): luks2$/\1/p' | tail -n 1)"
check "a keyslot removed: opens" open_token "$IMG"
check "cryptsetup luksHeaderRestore" cryptsetup luksHeaderRestore -q "$IMG" --header-backup-file "$W/backup.hdr"
check "a header backup restored: opens" open_token "$IMG"

# ---------------------------------------------------------------- a host-made token
# The host launches its own image on the same chip (another measurement),
# derives a key under a binding that leaves the measurement and policy out,
# formats a volume with it and writes a snpseal token naming that binding.
cp "$LUKS_STATE" "$W/host-state.json"
"$SNPSEAL_SIM" set "$W/host-state.json" measurement="$(randhex 48)" >/dev/null
echo "allow_weak_bindings = yes" >"$W/host.conf"
"$SNPSEALD" --backend=simulator --simulator-state="$W/host-state.json" --listen="$W/host.sock" \
        --config="$W/host.conf" >"$W/host-agent.log" 2>&1 &
HOST_PID=$!
for _i in $(seq 100); do [ -S "$W/host.sock" ] && break; sleep 0.1; done
HOSTIMG=$(luks_make_image host) || exit 1
host_enroll() (
        SNPSEAL_CONFIG=$W/host.conf SNPSEAL_SOCKET=$W/host.sock
        export SNPSEAL_CONFIG SNPSEAL_SOCKET
        luks_in_ns "$SNPSEAL" enroll "$HOSTIMG" --unlock-key-file="$(pass_of "$HOSTIMG")" --bind=tcb_version \
                --force </dev/null
)
check "the host's agent enrolls a weak binding on its own volume" host_enroll
HTOK=$(snp_tokens "$HOSTIMG" | head -n 1)
refused "host-made token" "$HOSTIMG" "$HTOK" \
        "snpseal token $HTOK: binding \(vcek; tcb_version; .*\) does not bind measurement, policy: a guest the host launches on this chip with another image or a debug policy could derive the same key; not unlocking"
check_output "snpseal list: the host-made token is refused, and why (exit 0: the agent answered)" \
        'opens now: no: luks2: binding \(vcek; tcb_version; .*\) does not bind measurement, policy' snp list "$HOSTIMG"
check_eq "snpseal --json list: state refused" refused "$(snp --json list "$HOSTIMG" | jq -r '.tokens[0].state')"
# Proof that the attack is real: where the administrator lowered the floor,
# our VM derives the host's key and unlocks the host's volume.
echo "allow_weak_bindings = yes" >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check "with allow_weak_bindings = yes, the host's volume would open here" open_token "$HOSTIMG"
: >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
kill "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null; HOST_PID=

# The host launches our own image (same measurement) with debugging allowed
# (policy bit 19): a binding without the policy gives it our key, which it
# reads out of the debuggable guest's memory.
cp "$LUKS_STATE" "$W/debug-state.json"
"$SNPSEAL_SIM" set "$W/debug-state.json" policy=0xb0000 >/dev/null
rm -f "$W/host.sock"
"$SNPSEALD" --backend=simulator --simulator-state="$W/debug-state.json" --listen="$W/host.sock" \
        --config="$W/host.conf" >"$W/host-agent.log" 2>&1 &
HOST_PID=$!
for _i in $(seq 100); do [ -S "$W/host.sock" ] && break; sleep 0.1; done
HOSTIMG=$(luks_make_image debughost) || exit 1
host_enroll_nopolicy() (
        SNPSEAL_CONFIG=$W/host.conf SNPSEAL_SOCKET=$W/host.sock
        export SNPSEAL_CONFIG SNPSEAL_SOCKET
        luks_in_ns "$SNPSEAL" enroll "$HOSTIMG" --unlock-key-file="$(pass_of "$HOSTIMG")" \
                --bind=measurement,tcb_version </dev/null
)
check "a debug launch of our image enrolls a binding without the policy" host_enroll_nopolicy
HTOK=$(snp_tokens "$HOSTIMG" | head -n 1)
refused "binding without the policy (debug launch)" "$HOSTIMG" "$HTOK" \
        "snpseal token $HTOK: binding \(vcek; measurement,tcb_version; .*\) does not bind policy: .*; not unlocking"
echo "allow_weak_bindings = yes" >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
check "with allow_weak_bindings = yes, the debug launch's volume would open here" open_token "$HOSTIMG"
: >"$LUKS_AGENT_CONF"
luks_agent_stop; luks_agent_start || exit 1
kill "$HOST_PID" 2>/dev/null; HOST_PID=

# ---------------------------------------------------------------- older tokens
OLD=$(luks_make_image old) || exit 1
check "enroll (old)" enroll "$OLD"
OTOK=$(snp_tokens "$OLD" | head -n 1)
check "strip the header authentication (a token of snpseal 0.1)" "$HDR" del "$OLD" \
        "tokens.$OTOK.snpseal_header" "tokens.$OTOK.snpseal_header_mac" "tokens.$OTOK.snpseal_volume_key_mac"
refused "token without header MAC" "$OLD" "$OTOK" \
        "snpseal token $OTOK: the token does not authenticate the LUKS2 header \(enrolled by an older snpseal\); not unlocking. Unlock with a passphrase or the recovery key, then run: snpseal reseal"
check_output "snpseal list: unauthenticated" 'opens now: no: enrolled without header authentication' \
        snp list "$OLD"
echo "allow_tokens_without_mac = yes" >"$LUKS_AGENT_CONF"
check "allow_tokens_without_mac = yes: opens" open_token "$OLD"
check_output "allow_tokens_without_mac = yes: snpseal list says it opens, and why not for long" \
        'opens now: yes, as allow_tokens_without_mac allows: enrolled without header authentication' snp list "$OLD"
: >"$LUKS_AGENT_CONF"
check_output "snpseal reseal adds it (unlocking with the old token itself)" \
        "token $OTOK \(keyslot [0-9]+\): enrolled without header authentication.*: resealed as token [0-9]+" \
        snp reseal "$OLD"
check_eq "resealed: one snpseal token" 1 "$(snp_tokens "$OLD" | wc -l | tr -d ' ')"
check "resealed: it opens without allow_tokens_without_mac" open_token "$OLD"
check_output "snpseal list: opens" 'opens now: yes' snp list "$OLD"

# ---------------------------------------------------------------- enroll refuses
NULLIMG=$(luks_make_image null) || exit 1
"$HDR" set "$NULLIMG" segments.0.encryption=cipher_null-ecb
check_fails "enroll on a cipher_null-ecb volume: refused" \
        "data segment cipher cipher_null-ecb is not allowed: no encryption; refusing to enroll a VM-bound key for it" \
        enroll "$NULLIMG"
check_eq "cipher_null-ecb: no token written" "" "$(snp_tokens "$NULLIMG")"
LINIMG=$(luks_make_image linear) || exit 1
"$HDR" set "$LINIMG" segments.0.type=linear
check_fails "enroll on a volume whose data segment is linear (plaintext): refused" \
        "data segment type linear is not allowed: no encryption; refusing to enroll a VM-bound key for it" \
        enroll "$LINIMG"
check_eq "linear: no token written" "" "$(snp_tokens "$LINIMG")"
hdr_restore "$IMG"
"$HDR" set "$IMG" segments.0.type=linear
check_fails "an enrolled volume's data segment switched to linear: refused" \
        "data segment type is linear, enrolled crypt: $CHANGED" open_token "$IMG"
hdr_restore "$IMG"
ECBIMG=$W/ecb.img
truncate -s 32M "$ECBIMG"
cp "$(pass_of "$IMG")" "$(pass_of "$ECBIMG")"
cryptsetup luksFormat -q --type luks2 --cipher aes-ecb --key-size 256 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --key-file "$(pass_of "$ECBIMG")" "$ECBIMG" >/dev/null 2>&1
check_fails "enroll on an aes-ecb volume (cryptsetup luksFormat): refused" \
        "data segment cipher aes-ecb is not allowed: ECB shows which blocks are equal; refusing to enroll" \
        enroll "$ECBIMG"
check_eq "aes-ecb: no token written" "" "$(snp_tokens "$ECBIMG")"

# ---------------------------------------------------------------- cryptsetup reencrypt
RE=$(luks_make_image re) || exit 1
check "enroll (re)" enroll "$RE"
RTOK=$(snp_tokens "$RE" | head -n 1)
check "cryptsetup reencrypt (offline, new volume key)" luks_in_ns cryptsetup reencrypt -q --force-offline-reencrypt \
        --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$(pass_of "$RE")" --key-slot 0 "$RE"
check_eq "after reencrypt the token does not open (exit 1)" 1 "$(open_token "$RE" >/dev/null 2>&1; echo $?)"
check_output "snpseal list: the volume key changed, run snpseal reseal" \
        "opens now: no: the volume key changed \(cryptsetup reencrypt\?\) and took the token's keyslot: unlock another way and run snpseal reseal $RE" \
        snp list "$RE"
check_output "snpseal reseal with the passphrase re-enrolls it" \
        "token $RTOK \(keyslot none\): the volume key changed .*: resealed as token [0-9]+ \(keyslot [0-9]+\)" \
        snp reseal "$RE" --unlock-key-file="$(pass_of "$RE")"
check_eq "after reseal: one snpseal token" 1 "$(snp_tokens "$RE" | wc -l | tr -d ' ')"
check "after reseal: it opens" open_token "$RE"

# An interrupted remove also leaves a token without keyslot, but the volume
# key is the same: reseal finishes the removal instead.
IR=$(luks_make_image ir) || exit 1
check "enroll (ir)" enroll "$IR"
IRTOK=$(snp_tokens "$IR" | head -n 1)
check "its keyslot destroyed (a remove killed after its first step)" cryptsetup luksKillSlot -q "$IR" \
        "$("$HDR" get "$IR" "tokens.$IRTOK.keyslots.0")"
check_output "reseal: the token goes, nothing is enrolled" "removed token $IRTOK, left without keyslot" \
        snp_all reseal "$IR"
check_eq "interrupted remove: no snpseal token" "" "$(snp_tokens "$IR")"

tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A volume with authenticated encryption (aes-gcm-random with dm-integrity,
# "cryptsetup luksFormat --integrity aead"), enrolled and opened through the
# token with the real cryptsetup and plugin. Formatting needs dm-integrity,
# which this host does not have: tests/luks/fixtures/integrity-aead.luks2.xz
# is the first MiB of such a volume, formatted by cryptsetup 2.6.1 in a
# Debian 12 guest (tests/luks/fixtures/README), passphrase
# "integrity-passphrase". The data area is not needed to enroll or to check
# a key; activation and the integrity tags are dm's business.

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
HDR=$top_builddir/tests/luks/luks2-hdr
FIXTURE=$top_srcdir/tests/luks/fixtures/integrity-aead.luks2.xz
command -v xz >/dev/null || { echo "xz is not installed (.ci/packages)" >&2; exit 1; }
luks_env_init || exit $?
trap 'luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
W=$LUKS_TMP

IMG=$W/aead.img
truncate -s 64M "$IMG"
xz -dc "$FIXTURE" | dd of="$IMG" conv=notrunc status=none
(umask 077 && printf 'integrity-passphrase' >"$W/aead.pass")
check_output "the fixture is an aes-gcm-random volume with aead integrity" 'integrity: aead' cryptsetup luksDump "$IMG"
check "snpseal enroll" luks_in_ns "$SNPSEAL" enroll "$IMG" --unlock-key-file="$W/aead.pass" </dev/null
TOK=$(cryptsetup luksDump "$IMG" | sed -n 's/^  \([0-9][0-9]*\): snpseal$/\1/p' | head -n 1)
check_eq "the token authenticates the cipher" aes-gcm-random \
        "$("$HDR" get "$IMG" "tokens.$TOK.snpseal_header" | sed -n 's/.*"segment\.0\.encryption": *"\([^"]*\)".*/\1/p')"
check_eq "the token authenticates the integrity" aead \
        "$("$HDR" get "$IMG" "tokens.$TOK.snpseal_header" | sed -n 's/.*"segment\.0\.integrity\.type": *"\([^"]*\)".*/\1/p')"
check "the token opens it" luks_in_ns cryptsetup open --test-passphrase --token-only "$IMG" </dev/null
"$HDR" dump "$IMG" >"$W/aead.json"
check "the host switches the integrity to hmac(sha256)" "$HDR" set "$IMG" 'segments.0.integrity.type=hmac(sha256)'
check_fails "a changed integrity setting: refused" \
        "snpseal token $TOK: data segment integrity is hmac\\(sha256\\), enrolled aead: the LUKS2 header changed after enrollment; not unlocking" \
        luks_in_ns cryptsetup open --test-passphrase --token-only "$IMG"
"$HDR" put "$IMG" <"$W/aead.json"
check "the genuine header back: opens" luks_in_ns cryptsetup open --test-passphrase --token-only "$IMG" </dev/null
tap_done

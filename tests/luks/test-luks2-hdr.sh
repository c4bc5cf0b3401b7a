#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/luks/luks2-hdr, the host's header editor of the tampering tests,
# against the real cryptsetup on LUKS2 images on files: every edit is what
# `cryptsetup luksDump` then shows; both header copies are written with valid
# SHA-256 checksums (checked here independently of cryptsetup, and by letting
# cryptsetup read each copy alone) and a higher sequence ID; a copy with a bad
# checksum is skipped on reading and repaired by the next write; the errors
# name the problem. Run by `make check`; by hand from the build tree:
#   top_srcdir=SRC top_builddir=. sh SRC/tests/luks/test-luks2-hdr.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"

HDR=$top_builddir/tests/luks/luks2-hdr
[ -x "$HDR" ] || { echo "$HDR is not built" >&2; exit 1; }
command -v cryptsetup >/dev/null 2>&1 || tap_skip_all "cryptsetup is not installed"
W=$(mktemp -d) || exit 1
trap 'rm -rf "$W" "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM

# ---------------------------------------------------------------- helpers
cs() { cryptsetup --disable-locks "$@"; }
make_img() { # NAME: a fresh LUKS2 image (32 MiB, PBKDF2-1000) opened by $W/pass
        rm -f "$W/$1.img"
        truncate -s 32M "$W/$1.img" &&
                cs luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                        "$W/$1.img" "$W/pass" >/dev/null && echo "$W/$1.img"
}
dump() { cs luksDump "$1"; }
# luksDump's line for the data segment's cipher, a keyslot's, the epoch.
seg_cipher() { dump "$1" | sed -n '/^Data segments:/,/^Keyslots:/s/^[[:space:]]*cipher: //p' | head -n 1; }
slot_cipher() { dump "$1" | sed -n '/^Keyslots:/,/^Tokens:/s/^[[:space:]]*Cipher: *//p' | head -n 1; }
epoch() { dump "$1" | sed -n 's/^Epoch:[[:space:]]*//p'; }
hdr_size() { # IMG: the binary header's hdr_size (big-endian at byte 8)
        printf '%d\n' "0x$(od -An -tx1 -j8 -N8 "$1" | tr -d ' \n')"
}
# The SHA-256 checksum of the copy at OFF is the one the on-disk format
# defines: over the binary header with the csum field (448..511) zeroed and
# the whole JSON area.
csum_ok() { # IMG OFF
        _size=$(hdr_size "$1")
        _stored=$(od -An -tx1 -j$(($2 + 448)) -N32 "$1" | tr -d ' \n')
        _calc=$({
                dd if="$1" bs=4096 iflag=skip_bytes,count_bytes skip="$2" count=448 status=none
                head -c 64 /dev/zero
                dd if="$1" bs=4096 iflag=skip_bytes,count_bytes skip=$(($2 + 512)) count=$((_size - 512)) status=none
        } | sha256sum | cut -d' ' -f1)
        [ -n "$_stored" ] && [ "$_stored" = "$_calc" ] && return 0
        echo "copy at $2: stored checksum $_stored, computed $_calc"
        return 1
}
both_csums_ok() { # IMG
        csum_ok "$1" 0 && csum_ok "$1" "$(hdr_size "$1")"
}
# cryptsetup read both copies and found nothing to repair.
no_repair_needed() { # IMG
        cs --debug luksDump "$1" >"$W/debug.out" 2>&1 || { tail -n 20 "$W/debug.out"; return 1; }
        ! grep -Ei 'checksum error|requires recovery' "$W/debug.out"
}
# Only one copy: the other's magic overwritten, on a copy of the image.
only_copy() { # IMG primary|secondary -> prints the path of the copy
        cp "$1" "$W/only.img" || return 1
        if [ "$2" = primary ]; then _off=$(hdr_size "$1"); else _off=0; fi
        printf 'XXXXXX' | dd of="$W/only.img" bs=1 seek="$_off" conv=notrunc status=none && echo "$W/only.img"
}
flip_json_byte() { # IMG OFF: damage the JSON area of the copy at OFF (its checksum fails)
        printf '\001' | dd of="$1" bs=1 seek=$(($2 + 4096 + 4000)) conv=notrunc status=none
}

printf 'passphrase-%s' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >"$W/pass"
IMG=$(make_img a) || { echo "Bail out! cryptsetup luksFormat on a file failed"; exit 1; }

# ---------------------------------------------------------------- reading
check_output "dump prints the JSON metadata" '"encryption": "aes-xts-plain64"' "$HDR" dump "$IMG"
cp "$IMG" "$W/rt.img"
check "dump's output is put's input" sh -c '"$1" dump "$2" | "$1" put "$3"' sh "$HDR" "$IMG" "$W/rt.img"
check_eq "a round trip through dump and put changes only the epoch" "$(dump "$IMG" | grep -v '^Epoch:')" \
        "$(dump "$W/rt.img" | grep -v '^Epoch:')"
check_output "get prints a string as is" '^aes-xts-plain64$' "$HDR" get "$IMG" segments.0.encryption
check_output "get prints a number as JSON" '^64$' "$HDR" get "$IMG" keyslots.0.key_size
check_output "get prints an array as JSON" '^\["0"\]$' "$HDR" get "$IMG" digests.0.segments
check_output "get indexes arrays" '^0$' "$HDR" get "$IMG" digests.0.segments.0
check "cryptsetup's own header: the checksum check of this test agrees" both_csums_ok "$IMG"

# ---------------------------------------------------------------- set
E0=$(epoch "$IMG")
check "set segments.0.encryption=cipher_null-ecb" "$HDR" set "$IMG" segments.0.encryption=cipher_null-ecb
check_eq "luksDump shows the data segment's new cipher" cipher_null-ecb "$(seg_cipher "$IMG")"
check_eq "the keyslot's cipher is unchanged" aes-xts-plain64 "$(slot_cipher "$IMG")"
check_eq "the sequence ID (epoch) went up by one" $((E0 + 1)) "$(epoch "$IMG")"
check "both copies carry valid SHA-256 checksums" both_csums_ok "$IMG"
check "cryptsetup reads both copies without repairing either" no_repair_needed "$IMG"
check_eq "the primary copy alone has the edit" cipher_null-ecb "$(seg_cipher "$(only_copy "$IMG" primary)")"
check_eq "the secondary copy alone has the edit" cipher_null-ecb "$(seg_cipher "$(only_copy "$IMG" secondary)")"
check "the passphrase still opens the keyslot (the attack's premise)" \
        cs open --test-passphrase --key-file "$W/pass" "$IMG"

check "set a number (sector_size=4096)" "$HDR" set "$IMG" segments.0.sector_size=4096
check_output "luksDump shows the sector size" 'sector: 4096 \[bytes\]' dump "$IMG"
check_output "a number stays a JSON number" '"sector_size": 4096' "$HDR" dump "$IMG"
check "set a quoted number as a string (iv_tweak=\"8\"), two edits at once" \
        "$HDR" set "$IMG" 'segments.0.iv_tweak="8"' segments.0.sector_size=512
check_output "the quoted number is a JSON string" '"iv_tweak": "8"' "$HDR" dump "$IMG"
check_output "cryptsetup accepts the header with both edits" 'sector: 512 \[bytes\]' dump "$IMG"
check "set the keyslot area's cipher" "$HDR" set "$IMG" keyslots.0.area.encryption=cipher_null-ecb
check_eq "luksDump shows the keyslot's new cipher" cipher_null-ecb "$(slot_cipher "$IMG")"
check "set plants a whole token (JSON object)" \
        "$HDR" set "$IMG" 'tokens.3={"type":"host-made","keyslots":["0"],"note":"a/b"}'
check_output "luksDump shows the planted token" '^  3: host-made$' dump "$IMG"
check_output "slashes are not escaped" '"note":"a/b"' "$HDR" get "$IMG" tokens.3
check "del removes the token" "$HDR" del "$IMG" tokens.3
check "luksDump no longer shows it" sh -c '! cryptsetup --disable-locks luksDump "$1" | grep -E "^  3: "' sh "$IMG"
check "both copies still carry valid checksums" both_csums_ok "$IMG"

# ---------------------------------------------------------------- put
check "put replaces the metadata from stdin" sh -c \
        '"$1" dump "$2" | sed "s/cipher_null-ecb/aes-cbc-essiv:sha256/g" | "$1" put "$2"' sh "$HDR" "$IMG"
check_eq "luksDump shows put's data segment cipher" aes-cbc-essiv:sha256 "$(seg_cipher "$IMG")"
check_eq "luksDump shows put's keyslot cipher" aes-cbc-essiv:sha256 "$(slot_cipher "$IMG")"
check "cryptsetup reads both copies of put's header without repair" no_repair_needed "$IMG"

# ---------------------------------------------------------------- a damaged copy
B=$(make_img b) || exit 1
flip_json_byte "$B" 0
check_output "cryptsetup sees the damaged primary" 'checksum error' sh -c \
        'cryptsetup --disable-locks --debug luksDump "$1" 2>&1' sh "$B"
check "set reads the secondary when the primary's checksum fails" \
        "$HDR" set "$B" segments.0.encryption=aes-ecb
check "the write repaired the primary" both_csums_ok "$B"
check_eq "luksDump shows the edit" aes-ecb "$(seg_cipher "$B")"
flip_json_byte "$B" 0
flip_json_byte "$B" "$(hdr_size "$B")"
check_fails "no valid copy: refused" 'no valid LUKS2 header' "$HDR" set "$B" segments.0.encryption=aes-ecb

# ---------------------------------------------------------------- errors
head -c 1048576 /dev/zero >"$W/zero.img"
check_fails "not a LUKS2 device" 'no valid LUKS2 header' "$HDR" dump "$W/zero.img"
check_fails "a missing device" 'cannot open' "$HDR" dump "$W/missing.img"
check_fails "set without =" 'is not PATH=VALUE' "$HDR" set "$IMG" segments.0.encryption
check_fails "a path through a number" 'not an object or array' "$HDR" set "$IMG" keyslots.0.key_size.x=1
check_fails "an index past the end of an array" 'not an index of an array of 1' \
        "$HDR" set "$IMG" digests.0.segments.5=1
check_fails "del of a missing value" 'tokens.9: no such value' "$HDR" del "$IMG" tokens.9
check_fails "get of a missing value" "segments.7.encryption: no '7' in object" \
        "$HDR" get "$IMG" segments.7.encryption
check_fails "get of a missing last part" 'segments.0.nope: no such value' "$HDR" get "$IMG" segments.0.nope
check_fails "put of malformed JSON" 'does not parse' sh -c 'echo "{ nope" | "$1" put "$2"' sh "$HDR" "$IMG"
check_fails "put of JSON larger than the area" 'larger than the JSON area' sh -c \
        'head -c 20000 /dev/zero | tr "\0" " " | "$1" put "$2"' sh "$HDR" "$IMG"
check_fails "set making the JSON too large for the area" 'does not fit the JSON area' \
        "$HDR" set "$IMG" "tokens.4.pad=$(head -c 13000 /dev/zero | tr '\0' a)"
check_eq "failed writes left the header alone" aes-cbc-essiv:sha256 "$(seg_cipher "$IMG")"
check_fails "usage" 'Usage:' "$HDR" frob "$IMG"

tap_done

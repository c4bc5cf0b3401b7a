#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal reseal --crypttab (what snpseal-reseal.service runs): the volumes of
# a crypttab whose snpseal tokens are behind the default binding (a raised
# TCB) move to it; everything else is left alone or skipped with the reason,
# and the command never asks for anything. Real cryptsetup, the real agent on
# the simulator, LUKS2 images on files (tests/luks/luks-env.sh); UUID= and
# LABEL= resolve through a /dev/disk of symlinks to the images, mounted in
# the same private mount namespace (over /dev/disk, or as an overlay on /dev
# where there is no /dev/disk).
# Run by `make check`; by hand (as root) from the build tree:
#   top_srcdir=SRC top_builddir=. SNPSEAL=cli/snpseal SNPSEALD=agent/snpseald \
#   SNPSEAL_SIM=cli/snpseal-sim sh SRC/tests/luks/test-reseal-crypttab.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
luks_env_init || exit $?
trap 'luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
W=$LUKS_TMP
OLD_TCB=03000000000008d1
NEW_TCB=04000000000008d1
# What the move line says about it (luks_binding_diff()).
MOVED="tcb $OLD_TCB → $NEW_TCB"

randhex() { # BYTES
        od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}
uuid() {
        _h=$(randhex 16)
        echo "$_h" | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)/\1-\2-\3-\4-/'
}
pass_of() {
        echo "${1%.img}.pass"
}
sim_set() {
        "$SNPSEAL_SIM" set "$LUKS_STATE" "$@" >/dev/null
}
snp_tokens() {
        cryptsetup luksDump "$1" | sed -n 's/^  \([0-9][0-9]*\): snpseal$/\1/p'
}
n_tokens() {
        snp_tokens "$1" | wc -l | tr -d ' '
}
dump() { # IMG -> the header as luksDump shows it
        cryptsetup luksDump "$1" 2>&1
}
open_token() {
        luks_in_ns cryptsetup open --test-passphrase --token-only "$1" </dev/null
}
open_keyfile() {
        luks_in_ns cryptsetup open --test-passphrase --disable-external-tokens --key-file="$(pass_of "$1")" "$1"
}
enroll() { # IMG ARGS...
        _img=$1
        shift
        luks_in_ns "$SNPSEAL" enroll "$_img" --unlock-key-file="$(pass_of "$_img")" "$@" </dev/null >/dev/null
}

# /dev/disk for the namespace: by-uuid/ and by-label/ with symlinks to images.
DISK=$W/devup/disk
mkdir -p "$DISK/by-uuid" "$DISK/by-label" "$DISK/by-partuuid" "$DISK/by-partlabel" "$W/devwork"
in_disk() { # CMD ARGS...: in the test namespace with our /dev/disk
        luks_in_ns sh -c '
                disk=$1 up=$2 work=$3
                shift 3
                if [ -d /dev/disk ]; then
                        mount --bind "$disk" /dev/disk || exit 125
                else
                        mount -t overlay overlay -o "lowerdir=/dev,upperdir=$up,workdir=$work" /dev || exit 125
                fi
                exec ${TAB_WRAP:-} "$@"' in-disk "$DISK" "$W/devup" "$W/devwork" "$@"
}
# snpseal reseal --crypttab=FILE ARGS...: the exit status; stdout in $W/out,
# stderr in $W/err. stdin is /dev/null: never a terminal.
tab_rc() { # FILE ARGS...
        _f=$1
        shift
        in_disk "$SNPSEAL" reseal --crypttab="$_f" "$@" </dev/null >"$W/out" 2>"$W/err"
        echo $?
}
# snpseal ARGS...: the exit status, output in $W/out and $W/err.
snp_rc() {
        luks_in_ns "$SNPSEAL" "$@" </dev/null >"$W/out" 2>"$W/err"
        echo $?
}
# A crypttab of these lines.
crypttab() { # FILE LINE...
        _f=$1
        shift
        printf '%s\n' "$@" >"$_f"
}

ln -s /dev/null "$DISK/by-uuid/probe"
if [ "$(in_disk readlink /dev/disk/by-uuid/probe 2>&1)" != /dev/null ]; then
        tap_skip_all "cannot mount a /dev/disk of our own in the namespace (no bind over /dev/disk, no overlay on /dev)"
fi
rm -f "$DISK/by-uuid/probe"

# ---------------------------------------------------------------- usage
IMG=$(luks_make_image tcb) || exit 1
check_eq "DEVICE together with --crypttab: usage error (exit 2)" 2 "$(snp_rc reseal "$IMG" --crypttab)"
check_output "DEVICE together with --crypttab: says they exclude each other" \
        'DEVICE and --crypttab exclude each other' cat "$W/err"
check_eq "--crypttab with --unlock-key-file: usage error (exit 2)" 2 \
        "$(tab_rc "$W/none" --unlock-key-file="$(pass_of "$IMG")")"
check_output "--crypttab with --unlock-key-file: never asks for a key" 'never asks for a key' cat "$W/err"
check_eq "reseal without DEVICE and --crypttab: usage error (exit 2)" 2 "$(snp_rc reseal)"
check_output "without DEVICE: names both ways" 'missing DEVICE \(or --crypttab' cat "$W/err"

# ---------------------------------------------------------------- unreadable crypttab
check_eq "a missing crypttab: exit 1" 1 "$(tab_rc "$W/no-such-crypttab")"
check_output "a missing crypttab: names the file and the reason" \
        "cannot read the crypttab $W/no-such-crypttab: No such file or directory" cat "$W/err"
mkdir "$W/tab-dir"
check_eq "a directory as crypttab: exit 1" 1 "$(tab_rc "$W/tab-dir")"
check_output "a directory as crypttab: names the file and the reason" \
        "cannot read the crypttab $W/tab-dir: Is a directory" cat "$W/err"
head -c 1048577 /dev/zero | tr '\0' '#' >"$W/big.tab"
check_eq "a crypttab over 1 MiB: exit 1" 1 "$(tab_rc "$W/big.tab")"
check_output "a crypttab over 1 MiB: says so" "cannot read the crypttab $W/big.tab: it is larger than 1048576 bytes" \
        cat "$W/err"
: >"$W/empty.tab"
check_eq "an empty crypttab: exit 0" 0 "$(tab_rc "$W/empty.tab")"
check_output "an empty crypttab: says so" "Nothing to reseal: $W/empty.tab lists no volumes" cat "$W/out"

# ---------------------------------------------------------------- the volumes
# At the simulator's initial TCB ($OLD_TCB) and measurement:
#   tcb      token without PIN, UUID=        moves after the TCB upgrade
#   lbl      token without PIN, LABEL=vol/a  moves (by-label/vol\x2fa)
#   hdr      token without PIN, header=      moves (SOURCE is a plain file)
#   pin      token with PIN                  left alone: needs its PIN
#   meas     token sealed to another measurement: left alone, does not open
#   custom   token also bound to image_id    left alone: bound otherwise
#   int      token without PIN               moves, interrupted first
#   full     token, every other keyslot used moves... and fails: no keyslot
#   none     LUKS2 without snpseal token     skipped
# and later: ahead (a token above the default TCB), inv (an invalid token),
# chk (a token the agent cannot check).
LBL=$(luks_make_image lbl) || exit 1
HDR=$(luks_make_image hdr) || exit 1
PIN=$(luks_make_image pin) || exit 1
MEAS=$(luks_make_image meas) || exit 1
CUSTOM=$(luks_make_image custom) || exit 1
INT=$(luks_make_image int) || exit 1
FULL=$(luks_make_image full) || exit 1
NONE=$(luks_make_image none) || exit 1
truncate -s 4M "$W/plain.img"
printf '1234\n' >"$W/pin.txt"

for img in "$IMG" "$LBL" "$HDR" "$INT" "$FULL"; do
        check "enroll $(basename "$img")" enroll "$img"
done
check "enroll pin (with a PIN)" enroll "$PIN" --pin-file="$W/pin.txt"
check "enroll custom (also bound to image_id)" enroll "$CUSTOM" --bind=measurement,policy,tcb_version,image_id
cp "$LUKS_STATE" "$W/state.orig"
sim_set measurement="$(randhex 48)"
check "enroll meas (under another measurement)" enroll "$MEAS"
cp "$W/state.orig" "$LUKS_STATE"

UUID_TCB=$(uuid)
UUID_MISSING=$(uuid)
ln -s "$IMG" "$DISK/by-uuid/$UUID_TCB"
ln -s "$LBL" "$DISK/by-label/vol\\x2fa"

# ---------------------------------------------------------------- nothing to do
crypttab "$W/same.tab" "tcb UUID=$UUID_TCB none" "lbl LABEL=vol/a" "pin $PIN - luks"
for img in "$IMG" "$LBL" "$PIN"; do dump "$img" >"$img.before"; done
check_eq "every token at the default binding: exit 0" 0 "$(tab_rc "$W/same.tab")"
check_eq "nothing to do: says so per volume" \
        "tcb: nothing to reseal|lbl: nothing to reseal|pin: nothing to reseal" "$(paste -sd'|' "$W/out")"
check_eq "nothing to do: nothing on stderr" "" "$(cat "$W/err")"
for img in "$IMG" "$LBL" "$PIN"; do
        check_eq "nothing to do: $(basename "$img") unchanged" "" "$(dump "$img" | diff "$img.before" -)"
done

# ---------------------------------------------------------------- committed TCB raised, launch TCB not yet
# The default binding takes the lower of both: still the old TCB. A token at
# the committed TCB is then ahead of it: bound otherwise, left alone.
sim_set committed_tcb=$NEW_TCB current_tcb=$NEW_TCB reported_tcb=$NEW_TCB
AHEAD=$(luks_make_image ahead) || exit 1
check "enroll ahead (--tcb=committed)" enroll "$AHEAD" --tcb=committed
crypttab "$W/ahead.tab" "tcb UUID=$UUID_TCB" "ahead $AHEAD"
dump "$AHEAD" >"$AHEAD.before"
check_eq "launch TCB still old: exit 0" 0 "$(tab_rc "$W/ahead.tab")"
check_output "launch TCB still old: tcb has nothing to reseal" '^tcb: nothing to reseal$' cat "$W/out"
check_output "a token ahead of the default TCB: left alone, says what differs" \
        "^ahead: token 0 \(keyslot 1\): bound otherwise than the default binding \(tcb $NEW_TCB → $OLD_TCB\): left alone; run snpseal reseal $AHEAD by hand with the binding options it should have$" \
        cat "$W/out"
check_eq "the token ahead: header unchanged" "" "$(dump "$AHEAD" | diff "$AHEAD.before" -)"

# ---------------------------------------------------------------- firmware upgrade
sim_set launch_tcb=$NEW_TCB
check "after the upgrade the old tokens still open" open_token "$IMG"

one_case() { # NAME IMG LINE-REGEX: a crypttab of just "NAME IMG"; exit 0, that line, header unchanged
        crypttab "$W/$1.tab" "$1 $2"
        dump "$2" >"$2.before"
        check_eq "$1: exit 0" 0 "$(tab_rc "$W/$1.tab")"
        check_output "$1: the message" "$3" cat "$W/out"
        check_eq "$1: header unchanged" "" "$(dump "$2" | diff "$2.before" -)"
}
one_case meas "$MEAS" \
        "^meas: token 0 \(keyslot 1\): does not open in this VM: measurement changed: .*: left alone; run snpseal reseal $MEAS by hand with a recovery key or passphrase$"
check_output "meas: says it is behind the default binding too" "; behind the default binding: $MOVED:" cat "$W/out"
one_case pin "$PIN" \
        "^pin: token 0 \(keyslot 1\): needs its PIN \(not checked\); behind the default binding: $MOVED: left alone; run snpseal reseal $PIN by hand \(it asks for the PIN\)$"
one_case custom "$CUSTOM" \
        "^custom: token 0 \(keyslot 1\): bound otherwise than the default binding \(fields [^)]*image_id[^)]* → [^)]*\): left alone; run snpseal reseal $CUSTOM by hand with the binding options it should have$"
one_case none "$NONE" "^none: $NONE: no snpseal token, skipped$"
one_case plain "$W/plain.img" "^plain: $W/plain.img: not a LUKS2 volume, skipped$"
crypttab "$W/missing.tab" "gone UUID=$UUID_MISSING none"
check_eq "missing device: exit 0" 0 "$(tab_rc "$W/missing.tab")"
check_output "missing device: not present, skipped" \
        "^gone: UUID=$UUID_MISSING \(/dev/disk/by-uuid/$UUID_MISSING\): not present, skipped$" cat "$W/out"

# An invalid snpseal token (written without the plugin): left alone.
INV=$(luks_make_image inv) || exit 1
luks_in_ns cryptsetup token export --token-id 0 "$PIN" | \
        sed 's/"keyslots":\[[^]]*\]/"keyslots":["0"]/; s/"snpseal_salt":"[^"]*"/"snpseal_salt":"AAAAAAAAAAA="/' \
        >"$W/inv.json"
check "an invalid snpseal token, imported without the plugin" \
        cryptsetup token import --json-file "$W/inv.json" --token-id 3 "$INV"
one_case inv "$INV" "^inv: token 3: invalid snpseal token \(.*salt.*\): left alone$"

# Lines that do not parse: reported with file:line, the others still done.
crypttab "$W/bad.tab" "# a comment" "" "lonely" "rel relative/path" "two/slash $NONE" \
        "many $NONE none luks extra" "hdrdev $NONE none header=UUID=x:/h" "none $NONE"
check_eq "malformed lines: exit 0" 0 "$(tab_rc "$W/bad.tab")"
check_output "malformed: no SOURCE, with file:line" \
        "^snpseal: reseal: $W/bad.tab:3: no SOURCE: expected NAME SOURCE \[KEY \[OPTIONS\]\]; line skipped$" cat "$W/err"
check_output "malformed: relative SOURCE, with file:line" \
        "^snpseal: reseal: $W/bad.tab:4: invalid SOURCE 'relative/path': expected an absolute path" cat "$W/err"
check_output "malformed: NAME with '/', with file:line" \
        "^snpseal: reseal: $W/bad.tab:5: invalid NAME 'two/slash'" cat "$W/err"
check_output "malformed: five fields, with file:line" "^snpseal: reseal: $W/bad.tab:6: more than four fields" \
        cat "$W/err"
check_output "malformed: header=PATH:DEVICE, with file:line" \
        "^snpseal: reseal: $W/bad.tab:7: header=UUID=x:/h: only an absolute path is supported" cat "$W/err"
check_eq "malformed: five lines reported" 5 "$(grep -c 'line skipped' "$W/err")"
check_output "malformed: the good line is still done" "^none: $NONE: no snpseal token, skipped$" cat "$W/out"

# The agent cannot be reached: nothing can be checked.
check_eq "agent unreachable: exit 1" 1 "$(tab_rc "$W/same.tab" --socket="$W/no-agent.sock")"
check_output "agent unreachable: the socket" "cannot reach the snpseal agent at $W/no-agent.sock" cat "$W/err"
check_output "agent unreachable: stopped" 'without the default binding no volume can be checked; stopped' cat "$W/err"
check_eq "agent unreachable: no volume reported" 0 "$(grep -c 'nothing to reseal' "$W/out")"

# A SOURCE that cannot be looked at is an error, not a skip.
mkdir "$W/a-dir"
ln -s loop-b "$W/loop-a"
ln -s loop-a "$W/loop-b"
crypttab "$W/odd.tab" "dir $W/a-dir" "loop $W/loop-a" "none $NONE"
check_eq "a directory and a symlink loop as SOURCE: exit 1" 1 "$(tab_rc "$W/odd.tab")"
check_output "a directory: cannot read it" "^snpseal: reseal: dir: $W/a-dir: cannot read it: " cat "$W/err"
check_output "a symlink loop: the reason" "^snpseal: reseal: loop: $W/loop-a: Too many levels of symbolic links$" \
        cat "$W/err"
check_output "after them the next volume is still done" "^none: $NONE: no snpseal token, skipped$" cat "$W/out"

# Standard output cannot be written.
crypttab "$W/one.tab" "none $NONE"
check_eq "output to /dev/full: exit 1" 1 \
        "$(in_disk "$SNPSEAL" reseal --crypttab="$W/one.tab" </dev/null >/dev/full 2>"$W/err"; echo $?)"
check_output "output to /dev/full: says so" '^snpseal: reseal: cannot write the output$' cat "$W/err"

# ---------------------------------------------------------------- a failed move
# Every keyslot in use: the new keyslot cannot be added; exit 1, the old
# token still opens.
i=2
while [ "$i" -lt 32 ]; do
        cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                --key-file="$(pass_of "$FULL")" --new-keyfile="$(pass_of "$FULL")" --new-key-slot="$i" "$FULL" \
                >/dev/null 2>&1 || break
        i=$((i + 1))
done
check_eq "full: 32 keyslots in use" 32 "$(cryptsetup luksDump "$FULL" | grep -c '^  [0-9][0-9]*: luks2')"
crypttab "$W/full.tab" "full $FULL" "none $NONE"
check_eq "a move that fails: exit 1" 1 "$(tab_rc "$W/full.tab")"
check_output "a move that fails: says why, named" "^snpseal: reseal: full: $FULL: no free keyslot$" cat "$W/err"
check_output "a move that fails: the next volume is still done" "^none: $NONE: no snpseal token, skipped$" \
        cat "$W/out"
check "a move that fails: the old token still opens" open_token "$FULL"
check_eq "a move that fails: still one token" 1 "$(n_tokens "$FULL")"

# A token the agent cannot check (here: a DeriveKey request over the
# agent's max_message, by an oversized recorded identity): exit 1, nothing
# moved on that volume.
CHK=$(luks_make_image chk) || exit 1
check "enroll chk" enroll "$CHK"
PAD=$(head -c 1200 /dev/zero | tr '\0' x)
luks_in_ns cryptsetup token export --token-id 0 "$CHK" | \
        sed "s/\"snpseal_identity\":{/\"snpseal_identity\":{\"pad\":\"$PAD\",/" >"$W/chk.json"
check "a token with an oversized identity, imported without the plugin" \
        cryptsetup token import --json-file "$W/chk.json" --token-id 5 "$CHK"
echo "max_message = 1024" >"$LUKS_AGENT_CONF"
luks_agent_start || exit 1
crypttab "$W/chk.tab" "chk $CHK"
dump "$CHK" >"$CHK.before"
check_eq "a token that cannot be checked: exit 1" 1 "$(tab_rc "$W/chk.tab")"
check_output "a token that cannot be checked: says so" \
        "^snpseal: reseal: chk: $CHK: cannot check token 5: the snpseal agent at $LUKS_SOCKET did not answer DeriveKey" \
        cat "$W/err"
check_eq "a token that cannot be checked: header unchanged" "" "$(dump "$CHK" | diff "$CHK.before" -)"
: >"$LUKS_AGENT_CONF"
luks_agent_start || exit 1

# ---------------------------------------------------------------- interrupted, then again
crypttab "$W/int.tab" "int $INT"
check_eq "interrupted after the new token is verified: exit 99" 99 \
        "$(export SNPSEAL_TEST_INTERRUPT=verified; tab_rc "$W/int.tab")"
check "interrupted: the passphrase opens" open_keyfile "$INT"
check "interrupted: a token opens" open_token "$INT"
check_eq "interrupted: old and new token" 2 "$(n_tokens "$INT")"
check_eq "run again: exit 0" 0 "$(tab_rc "$W/int.tab")"
check_output "run again: the old token goes, replaced by the new one" \
        "^int: token 0 \(keyslot 1\): $MOVED: replaced by token 1 \(keyslot 2\), already bound to the target: removed$" \
        cat "$W/out"
check_eq "run again: one token" 1 "$(n_tokens "$INT")"
check "run again: the token opens" open_token "$INT"

# ---------------------------------------------------------------- the mixed crypttab
crypttab "$W/mixed.tab" "# volumes of this VM" "tcb UUID=$UUID_TCB none luks,discard" "" \
        "lbl LABEL=vol/a" "hdr $W/plain.img none header=$HDR" "pin $PIN" "gone UUID=$UUID_MISSING" \
        "plain $W/plain.img"
# Without any capability, as under snpseal-reseal.service.
if setpriv --bounding-set=-all --inh-caps=-all --no-new-privs true 2>/dev/null; then
        TAB_WRAP="setpriv --bounding-set=-all --inh-caps=-all --no-new-privs"
        export TAB_WRAP
        check_output "setpriv leaves no capability" '^CapEff:[[:space:]]+0+$' \
                in_disk sh -c 'grep "^CapEff:" /proc/self/status'
else
        echo "# setpriv (util-linux) cannot drop capabilities here: the moves run with them"
fi
check_eq "mixed crypttab: exit 0" 0 "$(tab_rc "$W/mixed.tab")"
unset TAB_WRAP
check_output "mixed: UUID= volume moved" \
        "^tcb: token 0 \(keyslot 1\): $MOVED: resealed as token 0 \(keyslot 1\)$" cat "$W/out"
check_output "mixed: LABEL= volume moved" \
        "^lbl: token 0 \(keyslot 1\): $MOVED: resealed as token 0 \(keyslot 1\)$" cat "$W/out"
check_output "mixed: header= volume moved" \
        "^hdr: token 0 \(keyslot 1\): $MOVED: resealed as token 0 \(keyslot 1\)$" cat "$W/out"
check_output "mixed: PIN token left alone" "^pin: token 0 \(keyslot 1\): needs its PIN" cat "$W/out"
check_output "mixed: missing device skipped" "^gone: UUID=$UUID_MISSING .*not present, skipped$" cat "$W/out"
check_output "mixed: plain file skipped" "^plain: $W/plain.img: not a LUKS2 volume, skipped$" cat "$W/out"
check_eq "mixed: one line per volume" 6 "$(wc -l <"$W/out" | tr -d ' ')"
check_eq "mixed: nothing on stderr" "" "$(cat "$W/err")"
for img in "$IMG" "$LBL" "$HDR"; do
        n=$(basename "$img" .img)
        check_eq "$n: one snpseal token" 1 "$(n_tokens "$img")"
        check_output "$n: snpseal list shows the new TCB" "tcb $NEW_TCB" luks_in_ns "$SNPSEAL" list "$img"
        check_output "$n: luksDump shows the new TCB" "$NEW_TCB" luks_in_ns cryptsetup luksDump "$img"
        check_eq "$n: no trace of the old TCB" 0 "$(luks_in_ns cryptsetup luksDump "$img" | grep -c "$OLD_TCB")"
        check "$n: the new token opens" open_token "$img"
        check "$n: the passphrase still opens" open_keyfile "$img"
done
check_eq "pin: still its one token" 1 "$(n_tokens "$PIN")"

check_eq "mixed again: exit 0" 0 "$(tab_rc "$W/mixed.tab")"
check_eq "mixed again: nothing to reseal for the moved ones" \
        "tcb: nothing to reseal|lbl: nothing to reseal|hdr: nothing to reseal" \
        "$(grep -E '^(tcb|lbl|hdr):' "$W/out" | paste -sd'|')"

tap_done

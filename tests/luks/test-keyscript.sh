#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal-keyscript (initrd/snpseal-keyscript.in, man snpseal-initrd(7)) as
# Debian's cryptroot runs it in the initramfs: CRYPTTAB_NAME and
# CRYPTTAB_SOURCE set, no agent listening (the token plugin's --stdio
# fallback runs the agent), and its output piped into
# "cryptsetup --key-file=- open". The real cryptsetup with the build tree's
# plugin (tests/luks/luks-env.sh); a fake /lib/cryptsetup/askpass, put there
# in a private mount namespace the whole test runs in, records its prompt
# and answers with a prepared passphrase.
# Run by `make check`; by hand (as root) from the build tree:
#   top_srcdir=SRC top_builddir=. SNPSEAL=cli/snpseal SNPSEALD=agent/snpseald \
#   SNPSEAL_SIM=cli/snpseal-sim sh SRC/tests/luks/test-keyscript.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"

# Everything below runs in a private mount namespace (the fake askpass).
if [ -z "${SNPSEAL_TEST_KEYSCRIPT_NS:-}" ]; then
        [ "$(id -u)" = 0 ] || tap_skip_all "needs root (a mount namespace for a fake /lib/cryptsetup/askpass)"
        command -v unshare >/dev/null 2>&1 || tap_skip_all "unshare (util-linux) is not installed"
        unshare -m --propagation private true 2>/dev/null || tap_skip_all "unshare -m is not permitted here"
        rm -f "$TAP_OUT"
        SNPSEAL_TEST_KEYSCRIPT_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

. "$top_srcdir/tests/luks/luks-env.sh"
[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
KEYSCRIPT=$(cd "$top_builddir" && pwd)/initrd/snpseal-keyscript
[ -x "$KEYSCRIPT" ] || { echo "$KEYSCRIPT is not built" >&2; exit 1; }
luks_env_init || exit $?
W=$LUKS_TMP
OVL=
cleanup() {
        if [ -n "$OVL" ]; then
                umount -l "$LIBDIR" 2>/dev/null
                umount -l "$OVL" 2>/dev/null
                rmdir "$OVL"
        fi
        luks_env_cleanup
        rm -f "$TAP_OUT" "$TAP_OUT.err"
}
trap cleanup EXIT
trap 'exit 129' HUP INT PIPE TERM

# ---------------------------------------------------------------- fake askpass
# /lib/cryptsetup/askpass: records its prompt, prints $W/answer. Bound over
# /lib/cryptsetup where it exists; else that directory is added by an
# overlay on its parent, in this namespace only.
mkdir -p "$W/askpass-dir"
cat >"$W/askpass-dir/askpass" <<EOF
#!/bin/sh
printf '%s\n' "\$1" >>'$W/askpass.log'
cat '$W/answer'
EOF
chmod 0755 "$W/askpass-dir/askpass"
LIBDIR=$(readlink -f /lib)
if [ -d "$LIBDIR/cryptsetup" ]; then
        mount --bind "$W/askpass-dir" "$LIBDIR/cryptsetup" || tap_skip_all "cannot bind a fake askpass over /lib/cryptsetup"
else
        OVL=$(mktemp -d)
        mount -t tmpfs tmpfs "$OVL" && mkdir "$OVL/upper" "$OVL/work" &&
                mount -t overlay overlay -o "lowerdir=$LIBDIR,upperdir=$OVL/upper,workdir=$OVL/work" "$LIBDIR" ||
                tap_skip_all "cannot add /lib/cryptsetup for a fake askpass (overlayfs on $LIBDIR)"
        mkdir "$LIBDIR/cryptsetup" && cp "$W/askpass-dir/askpass" "$LIBDIR/cryptsetup/askpass" || exit 1
fi
[ -x /lib/cryptsetup/askpass ] || { echo "the fake askpass is not at /lib/cryptsetup/askpass" >&2; exit 1; }

# ---------------------------------------------------------------- helpers
pass_of() { # IMG -> its passphrase file
        echo "${1%.img}.pass"
}
answer() { # FILE: what askpass will type
        cp "$1" "$W/answer"
}
# The keyscript as cryptroot runs it: stdout and stderr to $W/ks.out, $W/ks.err.
# Its standard input is the console in the initramfs: $W/stdin here.
keyscript() { # IMG [NAME]
        rm -f "$W/askpass.log"
        luks_in_ns env CRYPTTAB_NAME="${2:-root}" CRYPTTAB_SOURCE="$1" CRYPTTAB_KEY=none CRYPTTAB_TRIED=0 \
                "$KEYSCRIPT" >"$W/ks.out" 2>"$W/ks.err" <"$W/stdin"
}
: >"$W/stdin"
# cryptroot's unlock_mapping(), with --test-passphrase instead of a mapping.
pipeline() { # IMG
        rm -f "$W/askpass.log"
        luks_in_ns env CRYPTTAB_NAME=root CRYPTTAB_SOURCE="$1" CRYPTTAB_KEY=none CRYPTTAB_TRIED=0 \
                sh -c '"$1" none | cryptsetup -T1 --type=luks --key-file=- open --test-passphrase -- "$2" root' \
                sh "$KEYSCRIPT" "$1" </dev/null
}
empty() { # FILE
        [ ! -s "$1" ] || { echo "$1 is not empty:"; cat "$1"; return 1; }
}
lacks() { # PATTERN FILE
        ! grep -E -- "$1" "$2"
}
askpass_not_run() {
        [ ! -e "$W/askpass.log" ] || { echo "askpass ran:"; cat "$W/askpass.log"; return 1; }
}
enroll() { # IMG [options]
        _img=$1; shift
        luks_in_ns "$SNPSEAL" enroll "$_img" --unlock-key-file="$(pass_of "$_img")" "$@" </dev/null
}
randhex() { # BYTES
        od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# ---------------------------------------------------------------- outside crypttab
check_fails "without CRYPTTAB_SOURCE: refuses, saying how it is used" \
        'CRYPTTAB_SOURCE and CRYPTTAB_NAME are not set: use it as keyscript= in crypttab' \
        env -u CRYPTTAB_SOURCE -u CRYPTTAB_NAME "$KEYSCRIPT"

# ---------------------------------------------------------------- the token opens
# Enrolling needs the agent; the keyscript runs without one, as in the
# initramfs.
luks_agent_start || exit 1
IMG=$(luks_make_image root) || exit 1
check "enroll" enroll "$IMG"
PLAIN=$(luks_make_image plain) || exit 1
PINIMG=$(luks_make_image pin) || exit 1
printf '1234' >"$W/pin"
check "enroll with a PIN" enroll "$PINIMG" --pin --pin-file="$W/pin"
luks_agent_stop
cp "$LUKS_STATE" "$W/state.orig"
echo wrong >"$W/wrong.pass"
answer "$W/wrong.pass"
rm -f "$W/fallback.log"
check "token opens: the keyscript succeeds" keyscript "$IMG"
check "token opens: nothing on stdout" empty "$W/ks.out"
check "token opens: nothing on stderr" empty "$W/ks.err"
check "token opens: askpass not run" askpass_not_run
check_output "token opens: through the agent's --stdio fallback" '--stdio' cat "$W/fallback.log"
check "token opens: keyscript | cryptsetup --key-file=- opens" pipeline "$IMG"
check "token opens: the pipeline did not ask" askpass_not_run

# ---------------------------------------------------------------- identity changed
"$SNPSEAL_SIM" set "$LUKS_STATE" measurement="$(randhex 48)" >/dev/null || exit 1
answer "$(pass_of "$IMG")"
check "measurement changed: the keyscript succeeds (askpass)" keyscript "$IMG"
check_output "measurement changed: stderr says the token does not unlock the volume" \
        "^snpseal: the snpseal token does not unlock root \\($IMG\\):\$" cat "$W/ks.err"
check_output "measurement changed: stderr names the measurement" 'measurement changed' cat "$W/ks.err"
check_output "measurement changed: stderr says what to do" \
        '^snpseal: type a passphrase or the recovery key instead\.$' cat "$W/ks.err"
check_output "measurement changed: askpass asked for the disk" '^Please unlock disk root: $' cat "$W/askpass.log"
check_eq "measurement changed: stdout is what askpass read" "$(cat "$(pass_of "$IMG")")" "$(cat "$W/ks.out")"
check "measurement changed: the pipeline opens with the passphrase" pipeline "$IMG"
check_output "measurement changed: the pipeline asked" '^Please unlock disk root: $' cat "$W/askpass.log"
answer "$W/wrong.pass"
check_fails "measurement changed, wrong passphrase: the pipeline fails" 'No key available with this passphrase' \
        pipeline "$IMG"
cp "$W/state.orig" "$LUKS_STATE"
check "original measurement: the pipeline opens without asking" pipeline "$IMG"
check "original measurement: askpass not run" askpass_not_run

# ---------------------------------------------------------------- other failures
answer "$(pass_of "$PLAIN")"
check "no snpseal token: the keyscript asks" keyscript "$PLAIN" data
check_output "no snpseal token: stderr says so" '^  No usable token \(type snpseal\) is available\.$' cat "$W/ks.err"
check "no snpseal token: not cryptsetup's misleading exit text" lacks 'Command failed with code' "$W/ks.err"
check_output "no snpseal token: askpass names the disk" '^Please unlock disk data: $' cat "$W/askpass.log"
check "no snpseal token: the pipeline opens with the passphrase" pipeline "$PLAIN"

luks_fallback_fail on
answer "$(pass_of "$IMG")"
check "agent fails: the keyscript asks" keyscript "$IMG"
check_output "agent fails: stderr says the agent could not run" 'snpseald --stdio failed' cat "$W/ks.err"
check "agent fails: the pipeline opens with the passphrase" pipeline "$IMG"
luks_fallback_fail off

answer "$(pass_of "$PINIMG")"
# The right PIN on the console: the keyscript's own token check must not
# read it (cryptsetup would wait for it at the console).
cp "$W/pin" "$W/stdin"
check "PIN token: the keyscript does not read a PIN, it asks" keyscript "$PINIMG"
check_output "PIN token: stderr says the token needs a PIN" 'requires PIN' cat "$W/ks.err"
: >"$W/stdin"
check_output "PIN token: askpass asked" '^Please unlock disk root: $' cat "$W/askpass.log"
check "PIN token: the pipeline opens with the passphrase" pipeline "$PINIMG"
tap_done

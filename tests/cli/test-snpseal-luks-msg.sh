#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal's LUKS2 verbs, the messages of issue 12 (finding 12) replayed: a
# key file every user may read is warned about (as systemd-cryptenroll
# does); reseal by a user other than root says it needs root; list without
# an agent lists what the header says, marks every token unknown and exits
# as snpseal(1) says; list --json prints the identity in the one form of
# snpseal(1), "JSON OUTPUT". The real cryptsetup and token plugin in a
# private mount namespace (tests/luks/luks-env.sh).
# Run by `make check` (which sets top_srcdir, top_builddir, SNPSEAL,
# SNPSEALD, SNPSEAL_SIM).

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"

for v in SNPSEAL SNPSEALD SNPSEAL_SIM; do
        eval "p=\${$v:-}"
        if [ -z "$p" ] || [ ! -x "$p" ]; then
                echo "$v is not set to the program (got '$p')" >&2
                exit 1
        fi
done
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (a private mount namespace for the token plugin)"
luks_env_init
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
trap 'luks_env_cleanup; rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
W=$LUKS_TMP

snp() { # ARGS...: snpseal in the namespace, stdin closed
        luks_in_ns "$SNPSEAL" "$@" </dev/null
}

# ---------------------------------------------------------------- key file mode
IMG=$(luks_make_image keys) || exit 1
cp "$W/keys.pass" "$W/open.pass" && chmod 0644 "$W/open.pass"
check "enroll with a key file of mode 0644 succeeds" \
        snp enroll "$IMG" --unlock-key-file="$W/open.pass"
snp enroll "$IMG" --unlock-key-file="$W/open.pass" --force >/dev/null 2>"$W/warn.err"
check_output "a key file every user may read is warned about" \
        "^snpseal: enroll: warning: the key file $W/open.pass is readable or writable by every user \\(mode 0644\\); chmod 0600 it\$" \
        cat "$W/warn.err"
chmod 0600 "$W/keys.pass"
snp list "$IMG" >/dev/null 2>&1
snp enroll "$IMG" --unlock-key-file="$W/keys.pass" --force >/dev/null 2>"$W/nowarn.err"
check_eq "mode 0600: no warning" 0 "$(grep -c 'warning: the key file' "$W/nowarn.err")"

# ---------------------------------------------------------------- a wrong PIN
# What libcryptsetup-token-snpseal(8) says cryptsetup does with a wrong PIN.
PINIMG=$(luks_make_image pin) || exit 1
printf '1234\n' >"$W/pin.right"
printf '9999\n' >"$W/pin.wrong"
check "enroll with a PIN" snp enroll "$PINIMG" --pin --pin-file="$W/pin.right" --unlock-key-file="$W/pin.pass"
pin_open() { # PINFILE [CRYPTSETUP-OPTION]: cryptsetup reads the PIN from stdin
        luks_in_ns cryptsetup ${2:-} open --test-passphrase --token-only "$PINIMG" <"$1"
}
check "cryptsetup: the right PIN opens" pin_open "$W/pin.right"
check_eq "cryptsetup: a wrong PIN, exit status 2" 2 "$(pin_open "$W/pin.wrong" >/dev/null 2>&1; echo $?)"
check_fails "cryptsetup -v: a wrong PIN is a bad passphrase to it" 'no permission or bad passphrase' \
        pin_open "$W/pin.wrong" -v

# ---------------------------------------------------------------- list --json
if command -v jq >/dev/null; then
        snp list --json "$IMG" >"$W/list.json" 2>/dev/null
        "$SNPSEAL" status --json >"$W/status.json"
        check_output "list --json: an identity" '^0x' \
                jq -r '[.. | objects | select(has("identity")) | .identity.policy] | first' "$W/list.json"
        check_eq "list --json: the identity's policy as status prints it" "$(jq -r .policy "$W/status.json")" \
                "$(jq -r '[.. | objects | select(has("identity")) | .identity.policy] | first' "$W/list.json")"
else
        echo "# jq not installed: list --json not checked"
fi

# ---------------------------------------------------------------- reseal as a user
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        # The build tree may sit below a directory nobody cannot enter.
        cp "$SNPSEAL" "$W/snpseal-for-nobody" && chmod 0755 "$W/snpseal-for-nobody" "$W"
        check_fails "reseal by a user says it needs root" '^snpseal: reseal: needs root: only root may derive' \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$W/snpseal-for-nobody" reseal "$IMG"
        check_eq "reseal by a user: exit 1" 1 \
                "$(setpriv --reuid=65534 --regid=65534 --clear-groups "$W/snpseal-for-nobody" reseal "$IMG" \
                        >/dev/null 2>&1; echo $?)"
        check_fails "reseal --crypttab by a user too" '^snpseal: reseal: needs root' \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$W/snpseal-for-nobody" reseal --crypttab=/dev/null
else
        echo "# setpriv cannot switch to uid 65534: the non-root checks are skipped"
fi

# ---------------------------------------------------------------- list without an agent
luks_agent_stop
LUKS_NO_FALLBACK=1
export LUKS_NO_FALLBACK
snp list "$IMG" >"$W/noagent.out" 2>"$W/noagent.err"
LIST_RC=$?
check_eq "list without an agent: exit status 1 (snpseal(1), EXIT STATUS)" 1 "$LIST_RC"
check_output "list without an agent: still lists the tokens" '^token [0-9]+: keyslot' cat "$W/noagent.out"
check_output "list without an agent: whether they open is unknown" 'opens now: unknown' cat "$W/noagent.out"
check_output "list without an agent: says the agent cannot be reached" \
        "cannot reach the snpseal agent at $LUKS_SOCKET" cat "$W/noagent.err" "$W/noagent.out"

tap_done

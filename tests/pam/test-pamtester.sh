#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Smoke test with a real PAM application: pamtester authenticates and opens a
# session through pam_snpseal.so as installed — named without a path, found by
# libpam in its module directory — from a service file in /etc/pam.d. Both
# directories are temporary ones bound over the system's in a private mount
# namespace (the module directory holds the system's modules plus ours), the password on stdin (try_first_pass prompts),
# the key landing in the user's user keyring. Needs root, pamtester, unshare.
# Run by `make check`; by hand like tests/pam/test-pam.sh.

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pam/pam-env.sh"

command -v pamtester >/dev/null 2>&1 || tap_skip_all "pamtester is not installed (Debian package pamtester)"
command -v unshare >/dev/null 2>&1 || tap_skip_all "unshare (util-linux) is not installed"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (unshare -m, a throwaway account)"
unshare -m --propagation private true 2>/dev/null || tap_skip_all "unshare -m is not permitted here"
pam_env_init
pam_agent_start

PW=smoke-password
NAME=smoke$$
DATA=smoke-secret-$$-$(date +%s)
check "enroll a password object" pam_enroll "$NAME" "$DATA" "$PW"

ETC=$PAM_TMP/etc-pam.d
mkdir -p "$ETC"
# The system's module directory (where pam_deny.so is), rebuilt with ours in it.
SYSMOD=$(dirname "$(ls /usr/lib/*/security/pam_deny.so /lib/*/security/pam_deny.so /lib/security/pam_deny.so 2>/dev/null | head -n 1)")
[ -d "$SYSMOD" ] || tap_skip_all "cannot find the system's PAM module directory"
MODDIR=$PAM_TMP/security
mkdir -p "$MODDIR"
# Copies, not symlinks: inside the namespace, links into $SYSMOD would point
# back into this very directory.
cp -a "$SYSMOD/." "$MODDIR/"
rm -f "$MODDIR/pam_snpseal.so"
cp "$PAM_MODULE" "$MODDIR/pam_snpseal.so"
# pamtester's own service file; "other" keeps anything else (pam_end, …) sane.
# pam_snpseal never grants authentication (it answers PAM_IGNORE after
# unsealing): pam_permit stands in for the real authenticator, and
# "requisite" makes a wrong password fail at once.
cat >"$ETC/snpseal-test" <<EOF
auth     requisite pam_snpseal.so socket=$PAM_SOCKET name=$NAME try_first_pass
auth     required pam_permit.so
session  required pam_snpseal.so socket=$PAM_SOCKET name=$NAME keyring=user timeout=60
EOF
cat >"$ETC/other" <<EOF
auth     required pam_deny.so
account  required pam_deny.so
password required pam_deny.so
session  required pam_deny.so
EOF

# A module built with a sanitizer (--with-sanitizer) needs its runtime first
# in pamtester, which is not built with it: preload it (no leak report for
# pamtester's own allocations).
PRELOAD=$(ldd "$PAM_MODULE" 2>/dev/null |
        sed -n 's/^[[:space:]]*lib[a-z]*san\.so[.0-9]* => \([^ ]*\) .*/\1/p' | tr '\n' ' ')
# pamtester snpseal-test USER OP... with $ETC over /etc/pam.d and $MODDIR
# over the module directory
PT=$PAM_TMP/pamtester-ns
cat >"$PT" <<EOF
#!/bin/sh
[ -n '$PRELOAD' ] && export LD_PRELOAD='$PRELOAD' ASAN_OPTIONS=detect_leaks=0
exec unshare -m --propagation private sh -c 'mount --bind "\$1" /etc/pam.d && mount --bind "\$2" "\$3" && shift 3 && exec "\$@"' - '$ETC' '$MODDIR' '$SYSMOD' "\$@"
EOF
chmod 0755 "$PT"
check "in the namespace /etc/pam.d is the test directory" "$PT" test -f /etc/pam.d/snpseal-test
check "outside it is not" test ! -f /etc/pam.d/snpseal-test
check "in the namespace the module directory holds pam_snpseal.so" "$PT" test -f "$SYSMOD/pam_snpseal.so"
check "and still the system's modules" "$PT" test -e "$SYSMOD/pam_deny.so"

if "$PAM_RUN" --keyring-probe >"$PAM_TMP/probe" 2>&1; then
        check_output "pamtester: authenticate + open_session succeed" 'successfully opened a session' \
                sh -c 'printf "%s\n" "$1" | "$2" pamtester snpseal-test "$3" authenticate open_session 2>&1' - \
                "$PW" "$PT" "$PAM_USER"
        check_output "the secret is in the user's keyring" "desc=snpseal:$NAME .*uid=$PAM_UID .*data=$DATA\$" \
                "$PAM_RUN" --user-keys="$PAM_USER"
else
        why="keyring syscalls unavailable here ($(sed -n 's/^keyring: unavailable: //p' "$PAM_TMP/probe"))"
        check_output "pamtester: authenticate succeeds" 'successfully authenticated' \
                sh -c 'printf "%s\n" "$1" | "$2" pamtester snpseal-test "$3" authenticate 2>&1' - \
                "$PW" "$PT" "$PAM_USER"
        tap_skip "pamtester: open_session succeeds" "$why"
        tap_skip "the secret is in the user's keyring" "$why"
fi
check_fails "pamtester: a wrong password fails" 'Authentication failure' \
        sh -c 'printf "%s\n" wrong | "$1" pamtester snpseal-test "$2" authenticate 2>&1' - "$PT" "$PAM_USER"

tap_done

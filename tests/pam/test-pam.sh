#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# pam_snpseal.so in the real Linux-PAM (pam_start_confdir() with stacks
# written here, driven by tests/pam/pam-run), against the real agent on the
# simulator, for a throwaway account: every row of the module's table —
# auth (stash, wrong password, not enrolled, identity mismatch after a
# "reboot", agent down, rate limit), setcred, session (keyring contents,
# owner, permissions, timeout, keyring=user, revoke, VM-only objects without
# auth, another pid), password (re-wrap with the old password, none, PRELIM
# with the agent down), account (posture rules, fail closed), PAM_SILENT.
# Run by `make check`; by hand (as root) from a build tree:
#   top_srcdir=SRC top_builddir=. SNPSEAL=cli/snpseal SNPSEALD=agent/snpseald \
#   SNPSEAL_SIM=cli/snpseal-sim sh SRC/tests/pam/test-pam.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pam/pam-env.sh"

pam_env_init
pam_agent_start

PW=correct-horse
PW2=battery-staple
RUN=$$-$(date +%s)
D_LOGIN=login-secret-$RUN
D_VM=vm-only-secret-$RUN
S=socket=$PAM_SOCKET
NOAGENT=socket=$PAM_TMP/none.sock

# expect NAME "action=CODE …" SERVICE ACTION...
expect() {
        _n=$1; _want=$2; shift 2
        pam_run "$@"
        _got=$(pam_codes)
        if [ "$_got" = "$_want" ]; then
                _tap_result ok "$_n"
        else
                { printf 'expected: %s\n     got: %s\n' "$_want" "$_got"; cat "$PAM_OUT" "$PAM_OUT.err"; } >"$TAP_OUT"
                _tap_result not-ok "$_n" "$TAP_OUT"
        fi
}
# expect_not NAME "action=CODE …" SERVICE ACTION...: any result but this one
expect_not() {
        _n=$1; _not=$2; shift 2
        pam_run "$@"
        _got=$(pam_codes)
        if [ -n "$_got" ] && [ "$_got" != "$_not" ]; then
                _tap_result ok "$_n"
        else
                { printf 'expected anything but: %s\n' "$_not"; cat "$PAM_OUT" "$PAM_OUT.err"; } >"$TAP_OUT"
                _tap_result not-ok "$_n" "$TAP_OUT"
        fi
}
as_root() {
        PAM_RUN_USER=root
        "$@"
        PAM_RUN_USER=
}
out_has() { # NAME PATTERN: the last pam_run's stdout matches
        check_output "$1" "$2" cat "$PAM_OUT"
}
out_count() { # PATTERN
        grep -Ec -- "$1" "$PAM_OUT"
}
# The "key:" line of snpseal:NAME in the last pam_run's output.
key_line() {
        grep -E "^key: .* desc=snpseal:$1 " "$PAM_OUT" | head -n 1
}
key_field() { # NAME FIELD
        key_line "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

if "$PAM_RUN" --keyring-probe >"$PAM_TMP/probe" 2>&1; then
        KEYRING=
else
        KEYRING=$(sed -n 's/^keyring: unavailable: //p' "$PAM_TMP/probe")
        KEYRING="keyring syscalls unavailable here (${KEYRING:-unknown})"
fi
# check_key NAME CMD...: a keyring assertion, skipped when keyrings are not usable
check_key() {
        _n=$1; shift
        if [ -n "$KEYRING" ]; then
                tap_skip "$_n" "$KEYRING"
        else
                check "$_n" "$@"
        fi
}
# expect_k: expect, for results that need keyrings (an opened session)
expect_k() {
        if [ -n "$KEYRING" ]; then
                tap_skip "$1" "$KEYRING"
        else
                expect "$@"
        fi
}

# ---------------------------------------------------------------- enrollment
check "enroll a password object (login)" pam_enroll login "$D_LOGIN" "$PW"
check "enroll a VM-only object (vmonly)" pam_enroll vmonly "$D_VM"
check "the store holds the objects" test -f "$PAM_TMP/users/$PAM_UID/login.sealed"

# ---------------------------------------------------------------- auth
pam_stack good "$S" "$PW"
pam_stack bad "$S" wrong-password
pam_stack none "$S name=nothing" "$PW"
pam_stack down "$NOAGENT" "$PW"
# auth never grants authentication (issue 11, finding 7): the right
# password stashes the secrets (the session opens them) but answers
# PAM_IGNORE. (libpam hides setcred's own answer behind auth's PAM_IGNORE.)
expect_k "auth: right password → PAM_IGNORE, secrets stashed" "authenticate=PAM_IGNORE open_session=PAM_SUCCESS" \
        good authenticate open_session
expect "auth: wrong password → PAM_AUTH_ERR" "authenticate=PAM_AUTH_ERR" bad authenticate
expect "auth: nothing enrolled under name= → PAM_IGNORE" "authenticate=PAM_IGNORE" none authenticate
as_root expect "auth: root has nothing enrolled → PAM_IGNORE" "authenticate=PAM_IGNORE" good authenticate
expect "auth: agent unreachable → PAM_AUTHINFO_UNAVAIL" "authenticate=PAM_AUTHINFO_UNAVAIL" down authenticate
# Options fail closed (issue 11, finding 6): a typo must not turn a rule off.
pam_stack unknown "$S frobnicate=1" "$PW"
expect "auth: an unknown option → PAM_SERVICE_ERR" "authenticate=PAM_SERVICE_ERR" unknown authenticate
out_has "auth: an unknown option is logged with the word" \
        '^syslog: .*unknown or malformed option "frobnicate=1": refusing every call'
pam_stack flagval "$S revoke=yes" "$PW"
expect "auth: a flag given a value → PAM_SERVICE_ERR" "authenticate=PAM_SERVICE_ERR" flagval authenticate
pam_stack novalue "$S timeout" "$PW"
expect "auth: an option without its value → PAM_SERVICE_ERR" "authenticate=PAM_SERVICE_ERR" novalue authenticate
pam_stack badval "$S timeout=soon" "$PW"
expect "auth: a bad value → PAM_SERVICE_ERR" "authenticate=PAM_SERVICE_ERR" badval authenticate
out_has "auth: a bad value is logged with the word" '^syslog: .*invalid value in option "timeout=soon"'
pam_stack noauthtok "$S"
expect_not "auth: no PAM_AUTHTOK and no try_first_pass → not PAM_SUCCESS" \
        "authenticate=PAM_SUCCESS" noauthtok authenticate
check_eq "auth: without try_first_pass nothing is prompted" 0 "$(out_count '^conv: prompt')"
pam_stack prompt "$S try_first_pass"
PAM_RUN_PW=$PW
expect_k "auth: try_first_pass prompts for the password" "authenticate=PAM_IGNORE open_session=PAM_SUCCESS" \
        prompt authenticate open_session
PAM_RUN_PW=
check_eq "auth: try_first_pass prompted once" 1 "$(out_count '^conv: prompt-echo-off')"

# Issue 11, finding 7: "auth sufficient pam_snpseal.so" before the real
# authenticator (pam_deny here, refusing every password as pam_unix would
# refuse a stale one) must not let a password through that merely opens the
# user's secret.
{
        echo "auth [success=ignore default=die] $PAM_TEST_MODULE authtok=$PW"
        echo "auth sufficient $PAM_MODULE $S"
        echo "auth required pam_deny.so"
} >"$PAM_CONF/suff"
expect "auth sufficient: the secret's password alone is refused by the stack" "authenticate=PAM_AUTH_ERR" \
        suff authenticate

# ---------------------------------------------------------------- setcred
expect "setcred after auth follows auth's PAM_IGNORE" "authenticate=PAM_IGNORE setcred=PAM_IGNORE" \
        good authenticate setcred
expect "setcred without a stash → PAM_IGNORE" "setcred=PAM_IGNORE" good setcred

# ---------------------------------------------------------------- session
pam_stack sess "$S name=login,vmonly timeout=50" "$PW"
expect_k "session: auth then open → PAM_SUCCESS; close without revoke → PAM_IGNORE" \
        "authenticate=PAM_IGNORE open_session=PAM_SUCCESS close_session=PAM_IGNORE" \
        sess authenticate open_session keys:session close_session keys:session
if [ -n "$KEYRING" ]; then
        for t in "key present" "key owner uid" "key owner gid" "key type user" "key payload" \
                "key permissions" "key timeout" "VM-only object also loaded" "key kept on close without revoke"; do
                tap_skip "session: $t" "$KEYRING"
        done
else
        # First listing: the lines before close_session.
        sed -n '1,/^close_session:/p' "$PAM_OUT" >"$PAM_TMP/open.out"
        sed -n '/^close_session:/,$p' "$PAM_OUT" >"$PAM_TMP/close.out"
        cp "$PAM_TMP/open.out" "$PAM_OUT"
        check "session: key snpseal:login present" test -n "$(key_line login)"
        check_eq "session: key owner uid" "$PAM_UID" "$(key_field login uid)"
        check_eq "session: key owner gid" "$PAM_GID" "$(key_field login gid)"
        check_eq "session: key type user" user "$(key_field login type)"
        check_eq "session: key payload is the secret" "$D_LOGIN" "$(key_field login data)"
        perm=$(key_field login perm)
        check_eq "session: key permissions: nothing for group and other, user may view+read" \
                "0000 3" "$(printf '%s %d' "$(echo "$perm" | cut -c5-8)" $(( (0x${perm:-0} >> 16) & 3 )))"
        check_output "session: key timeout=50 (50s or just below)" '^(4[0-9]|50)s$' key_field login timeout
        check "session: VM-only object also loaded" test -n "$(key_line vmonly)"
        cp "$PAM_TMP/close.out" "$PAM_OUT"
        check "session: key kept on close without revoke" test -n "$(key_line login)"
fi

pam_stack revoke "$S revoke" "$PW"
expect_k "session: open and close with revoke" \
        "authenticate=PAM_IGNORE open_session=PAM_SUCCESS close_session=PAM_SUCCESS" \
        revoke authenticate open_session close_session keys:session
check_key "session: revoke: no live snpseal: key after close" test -z "$(key_line login)$(key_line vmonly)"
check_key "session: no timeout option → permanent key" sh -c '
        "$1" "$2" revoke "$3" authenticate open_session keys:session | grep -E "desc=snpseal:login .*timeout=perm "' \
        - "$PAM_RUN" "$PAM_CONF" "$PAM_USER"

pam_stack userring "$S keyring=user revoke timeout=30" "$PW"
expect_k "session: keyring=user → PAM_SUCCESS" "authenticate=PAM_IGNORE open_session=PAM_SUCCESS" \
        userring authenticate open_session keys:user keys:session
check_key "session: keyring=user: key in the user keyring" sh -c \
        'sed -n "1,/^keys: user/p" "$1" | grep -qE "^key: .* desc=snpseal:login .*uid=$2 .*data=$3\$"' \
        - "$PAM_OUT" "$PAM_UID" "$D_LOGIN"
check_key "session: keyring=user: not in the session keyring" sh -c \
        '! sed -n "/^keys: user/,\$p" "$1" | grep -qE "desc=snpseal:login "' - "$PAM_OUT"
expect_k "session: keyring=user + revoke: open and close" \
        "authenticate=PAM_IGNORE open_session=PAM_SUCCESS close_session=PAM_SUCCESS" \
        userring authenticate open_session keys:user close_session keys:user
check_key "session: keyring=user + revoke: in the user keyring while open" sh -c \
        'sed -n "1,/^close_session/p" "$1" | grep -qE "^key: .* desc=snpseal:login .*data=$2\$"' \
        - "$PAM_OUT" "$D_LOGIN"
check_key "session: keyring=user + revoke: gone from the user keyring on close" sh -c \
        '! sed -n "/^close_session/,\$p" "$1" | grep -qE "^key: .* desc=snpseal:login .*data=$2\$"' \
        - "$PAM_OUT" "$D_LOGIN"

pam_stack vmonly "$S name=vmonly"
expect_k "session: VM-only object opens without auth (ssh) → PAM_SUCCESS" "open_session=PAM_SUCCESS" \
        vmonly open_session keys:session
check_key "session: the VM-only key holds its secret" test "$(key_field vmonly data)" = "$D_VM"
pam_stack pwonly "$S name=login"
expect "session: password object without auth → PAM_IGNORE" "open_session=PAM_IGNORE" \
        pwonly open_session keys:session
check_key "session: no key without auth" test -z "$(key_line login)"
pam_stack forked "$S name=login" "$PW"
expect "session: stash from another pid → PAM_IGNORE" \
        "authenticate=PAM_IGNORE open_session=PAM_IGNORE" forked authenticate fork open_session keys:session
check_key "session: other pid: no key" test -z "$(key_line login)"
pam_stack sessdown "$NOAGENT name=vmonly"
expect_not "session: VM-only object, agent down → not PAM_SUCCESS" "open_session=PAM_SUCCESS" \
        sessdown open_session

# ---------------------------------------------------------------- password
pam_stack pwchange "$S name=login,vmonly" "" "$PW2" "$PW"
expect "password: change with the old password → PAM_SUCCESS" "chauthtok=PAM_SUCCESS" pwchange chauthtok
pam_stack good2 "$S" "$PW2"
expect_k "password: the new password opens" "authenticate=PAM_IGNORE open_session=PAM_SUCCESS" \
        good2 authenticate open_session
expect "password: the old password fails" "authenticate=PAM_AUTH_ERR" good authenticate
expect_k "password: the VM-only object still has no password" "open_session=PAM_SUCCESS" vmonly open_session
pam_stack pwroot "$S" "" "$PW"
expect "password: no old password → PAM_AUTHTOK_RECOVERY_ERR" "chauthtok=PAM_AUTHTOK_RECOVERY_ERR" pwroot chauthtok
out_has "password: the message points to snpseal user rewrap" '^conv: (error|info): .*snpseal user rewrap'
expect "password: PAM_SILENT: same code" "chauthtok=PAM_AUTHTOK_RECOVERY_ERR" pwroot chauthtok:silent
check_eq "password: PAM_SILENT: no conversation messages" 0 "$(out_count '^conv:')"
expect_k "password: the object still opens with the new password" \
        "authenticate=PAM_IGNORE open_session=PAM_SUCCESS" good2 authenticate open_session
pam_stack pwdown "$NOAGENT" "" "$PW" "$PW2"
expect "password: PRELIM with the agent down → PAM_TRY_AGAIN" "chauthtok=PAM_TRY_AGAIN" pwdown chauthtok
pam_stack pwnone "$S name=nothing" "" "$PW" "$PW2"
expect "password: nothing enrolled → PAM_IGNORE" "chauthtok=PAM_IGNORE" pwnone chauthtok

# ---------------------------------------------------------------- account
pam_stack acct_off "$S deny_debug"
expect "account: without enforce → PAM_IGNORE" "acct_mgmt=PAM_IGNORE" acct_off acct_mgmt
pam_stack acct_ok "$S enforce deny_debug deny_migrate min_tcb=03000000000008d1"
expect "account: posture fine → PAM_SUCCESS" "acct_mgmt=PAM_SUCCESS" acct_ok acct_mgmt
pam_stack acct_dbg "$S enforce deny_debug"
pam_stack acct_mig "$S enforce deny_migrate"
pam_stack acct_tcb "$S enforce min_tcb=03000000000008ff"
pam_stack acct_down "$NOAGENT enforce"
expect "account: min_tcb above the committed TCB → PAM_PERM_DENIED" "acct_mgmt=PAM_PERM_DENIED" acct_tcb acct_mgmt
out_has "account: min_tcb: a message" '^conv: (error|info): '
expect "account: agent down with enforce → PAM_PERM_DENIED (fail closed)" "acct_mgmt=PAM_PERM_DENIED" \
        acct_down acct_mgmt
check "simulator: policy with DEBUG (bit 19)" "$SNPSEAL_SIM" set "$PAM_STATE" policy=0xB0000
expect "account: deny_debug, debug allowed → PAM_PERM_DENIED" "acct_mgmt=PAM_PERM_DENIED" acct_dbg acct_mgmt
out_has "account: deny_debug: a message" '^conv: (error|info): .*[Dd]ebug'
expect "account: PAM_SILENT: same code" "acct_mgmt=PAM_PERM_DENIED" acct_dbg acct_mgmt:silent
check_eq "account: PAM_SILENT: no conversation messages" 0 "$(out_count '^conv:')"
expect "account: deny_migrate alone allows a debug policy" "acct_mgmt=PAM_SUCCESS" acct_mig acct_mgmt
# The attack of finding 6: "enfroce deny_debug" / "enforce deny_debgu" let
# logins through on a debug-enabled VM.
pam_stack acct_typo1 "$S enfroce deny_debug"
expect "account: typo 'enfroce' on a debug VM → PAM_SERVICE_ERR" "acct_mgmt=PAM_SERVICE_ERR" acct_typo1 acct_mgmt
out_has "account: typo 'enfroce' logged with the word" '^syslog: .*option "enfroce"'
pam_stack acct_typo2 "$S enforce deny_debgu"
expect "account: typo 'deny_debgu' on a debug VM → PAM_SERVICE_ERR" "acct_mgmt=PAM_SERVICE_ERR" \
        acct_typo2 acct_mgmt
out_has "account: typo 'deny_debgu' logged with the word" '^syslog: .*option "deny_debgu"'
expect "every group refuses with a bad option" \
        "authenticate=PAM_SERVICE_ERR setcred=PAM_SERVICE_ERR open_session=PAM_SERVICE_ERR close_session=PAM_SERVICE_ERR chauthtok=PAM_SERVICE_ERR" \
        acct_typo2 authenticate setcred open_session close_session chauthtok
check "simulator: policy with MIGRATE_MA (bit 18)" "$SNPSEAL_SIM" set "$PAM_STATE" policy=0x70000
expect "account: deny_migrate, migration agent allowed → PAM_PERM_DENIED" "acct_mgmt=PAM_PERM_DENIED" \
        acct_mig acct_mgmt
out_has "account: deny_migrate: a message" '^conv: (error|info): .*[Mm]igrat'
expect "account: deny_debug alone allows a migration policy" "acct_mgmt=PAM_SUCCESS" acct_dbg acct_mgmt
cp "$PAM_TMP/state.orig" "$PAM_STATE"

# ---------------------------------------------------------------- "reboot" into a changed VM
pam_agent_stop
expect "auth: agent stopped → PAM_AUTHINFO_UNAVAIL" "authenticate=PAM_AUTHINFO_UNAVAIL" \
        good2 authenticate
M=$(printf 'ab%.0s' $(seq 48))
check "simulator: change the measurement" "$SNPSEAL_SIM" set "$PAM_STATE" measurement="$M"
pam_agent_start
expect "auth: identity mismatch after a reboot → PAM_AUTHINFO_UNAVAIL" "authenticate=PAM_AUTHINFO_UNAVAIL" \
        good2 authenticate
expect_not "session: VM-only object, identity mismatch → not PAM_SUCCESS" "open_session=PAM_SUCCESS" \
        vmonly open_session keys:session
check_key "session: identity mismatch: no key" test -z "$(key_line vmonly)"
pam_agent_stop
cp "$PAM_TMP/state.orig" "$PAM_STATE"

# ---------------------------------------------------------------- rate limit
pam_agent_start --ratelimit-attempts=3
check "enroll an object for root" pam_enroll login "$D_LOGIN" "$PW2" root
pam_stack bad2 "$S" wrong-password
expect "rate limit: three wrong passwords → PAM_AUTH_ERR each" \
        "authenticate=PAM_AUTH_ERR authenticate=PAM_AUTH_ERR authenticate=PAM_AUTH_ERR" \
        bad2 authenticate authenticate authenticate
expect "rate limit: then even the right password → PAM_MAXTRIES" "authenticate=PAM_MAXTRIES" good2 authenticate
as_root expect_k "rate limit: counted for the target user only (root is not limited)" \
        "authenticate=PAM_IGNORE open_session=PAM_SUCCESS" good2 authenticate open_session

pam_agent_stop
pam_no_sanitizer_reports
tap_done

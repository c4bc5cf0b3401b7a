# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# pam-env.sh — a scratch environment for the PAM tests: simulator state, the
# real agent on a temporary socket with a temporary user store, a throwaway
# system account, and stack files for pam_start_confdir(). POSIX sh; source it
# after tests/tap.sh, then call the functions.
#
# Inputs (environment; `make check` sets them): SNPSEAL_SIM, SNPSEALD,
# SNPSEAL, top_builddir (holding pam/.libs/pam_snpseal.so,
# tests/pam/pam-run and tests/pam/.libs/pam_test_authtok.so).
#
# Functions:
#   pam_env_init        checks the facilities (exit 77 with a reason when the
#                       machine cannot run the tests), creates $PAM_TMP, the
#                       state $PAM_STATE (and $PAM_TMP/state.orig), the user
#                       $PAM_USER ($PAM_UID, $PAM_GID), and sets an EXIT trap
#                       that stops the agent, deletes the user and $PAM_TMP.
#   pam_agent_start [ARG...]   starts snpseald on $PAM_SOCKET (store
#                       $PAM_TMP/users), waits for the socket.
#   pam_agent_stop      SIGTERM, bounded wait, SIGKILL.
#   pam_stack SERVICE OPTS [AUTHTOK [NEWTOK [OLDTOK]]]
#                       writes $PAM_CONF/SERVICE: in each group, the test
#                       module setting the tokens (auth: AUTHTOK; password:
#                       NEWTOK and OLDTOK), then pam_snpseal.so OPTS with
#                       [success=done ignore=ignore default=die], then the test
#                       module returning PAM_NO_MODULE_DATA: so every group's
#                       result is pam_snpseal's code, and PAM_IGNORE shows as
#                       PAM_NO_MODULE_DATA (libpam itself turns an all-ignore
#                       stack into PAM_PERM_DENIED, which hides it).
#   pam_run SERVICE ACTION...  runs pam-run on $PAM_CONF for $PAM_RUN_USER
#                       (default $PAM_USER), answering prompts with $PAM_RUN_PW;
#                       output in $PAM_OUT (stderr: $PAM_OUT.err, also
#                       collected in $PAM_TMP/pam-run.err).
#   pam_no_sanitizer_reports   TAP checks: no ASan/UBSan report in pam-run's
#                       stderr nor in the agent's log.
#   pam_codes           "action=PAM_CODE …" of the last pam_run, with
#                       PAM_NO_MODULE_DATA shown as PAM_IGNORE.
#   pam_enroll NAME DATA [PASSWORD] [USER]
#                       snpseal user enroll (as root, --user=USER, default
#                       $PAM_USER), DATA on stdin.
#   tap_skip NAME REASON   a skipped TAP test.

pam__die() {
        echo "pam-env: $*" >&2
        exit 1
}

tap_skip() {
        _tap_result ok "$1 # SKIP $2"
}

pam__check_facilities() {
        for _v in SNPSEAL SNPSEALD SNPSEAL_SIM; do
                eval "_p=\${$_v:-}"
                if [ -z "$_p" ] || [ ! -x "$_p" ]; then
                        pam__die "$_v is not set to the program (got '$_p')"
                fi
        done
        : "${top_builddir:=.}"
        PAM_MODULE=${PAM_MODULE:-$top_builddir/pam/.libs/pam_snpseal.so}
        PAM_TEST_MODULE=$top_builddir/tests/pam/.libs/pam_test_authtok.so
        PAM_RUN=$top_builddir/tests/pam/pam-run
        case $PAM_MODULE in /*) ;; *) PAM_MODULE=$(pwd)/$PAM_MODULE ;; esac
        case $PAM_TEST_MODULE in /*) ;; *) PAM_TEST_MODULE=$(pwd)/$PAM_TEST_MODULE ;; esac
        [ -f "$PAM_MODULE" ] || pam__die "the module is not built: $PAM_MODULE"
        [ -f "$PAM_TEST_MODULE" ] || pam__die "the test module is not built: $PAM_TEST_MODULE"
        [ -x "$PAM_RUN" ] || pam__die "pam-run is not built: $PAM_RUN"
        [ "$(id -u)" -eq 0 ] || tap_skip_all "the PAM tests need root (a throwaway account, enrolling for it)"
        command -v useradd >/dev/null 2>&1 && command -v userdel >/dev/null 2>&1 ||
                tap_skip_all "useradd/userdel (passwd) are not installed: no throwaway account"
}

pam_env_cleanup() {
        pam_agent_stop
        if [ -n "${PAM_USER_CREATED:-}" ]; then
                # keyring=user keys live as long as the kernel's user keyring
                "$PAM_RUN" --revoke-user-keys="$PAM_USER" >/dev/null 2>&1
                userdel "$PAM_USER" >/dev/null 2>&1 || echo "pam-env: cannot delete the user $PAM_USER" >&2
                PAM_USER_CREATED=
        fi
        rm -f "$TAP_OUT" "$TAP_OUT.err"
        [ -n "${PAM_TMP:-}" ] && rm -rf "$PAM_TMP"
}

pam_env_init() {
        pam__check_facilities
        PAM_TMP=$(mktemp -d) || pam__die "mktemp failed"
        PAM_AGENT_PID=
        PAM_USER_CREATED=
        trap 'pam_env_cleanup' EXIT
        trap 'exit 129' HUP INT PIPE TERM
        chmod 0755 "$PAM_TMP"
        PAM_CONF=$PAM_TMP/pam.d
        PAM_OUT=$PAM_TMP/out
        PAM_SOCKET=$PAM_TMP/agent.sock
        PAM_STATE=$PAM_TMP/state.json
        mkdir -p "$PAM_CONF" || pam__die "mkdir failed"
        "$SNPSEAL_SIM" init "$PAM_STATE" || pam__die "snpseal-sim init failed"
        cp "$PAM_STATE" "$PAM_TMP/state.orig"
        : >"$PAM_TMP/snpseald.conf"
        PAM_USER=snpseal-test-$$
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PAM_USER" >"$PAM_TMP/useradd.log" 2>&1 ||
                tap_skip_all "useradd failed: $(head -n 1 "$PAM_TMP/useradd.log")"
        PAM_USER_CREATED=1
        PAM_UID=$(id -u "$PAM_USER") && PAM_GID=$(id -g "$PAM_USER") || pam__die "id $PAM_USER failed"
        SNPSEAL_SOCKET=$PAM_SOCKET
        export SNPSEAL_SOCKET
}

pam_agent_start() {
        rm -f "$PAM_SOCKET"
        "$SNPSEALD" --backend=simulator --simulator-state="$PAM_STATE" --listen="$PAM_SOCKET" \
                --credentials-listen="$PAM_TMP/cred.sock" --credstore="$PAM_TMP/credstore" \
                --user-store="$PAM_TMP/users" --config="$PAM_TMP/snpseald.conf" "$@" \
                >>"$PAM_TMP/agent.log" 2>&1 &
        PAM_AGENT_PID=$!
        _i=0
        while [ ! -S "$PAM_SOCKET" ] && [ "$_i" -lt 100 ]; do
                kill -0 "$PAM_AGENT_PID" 2>/dev/null || break
                sleep 0.1
                _i=$((_i + 1))
        done
        if [ ! -S "$PAM_SOCKET" ]; then
                cat "$PAM_TMP/agent.log" >&2
                pam__die "snpseald did not start listening on $PAM_SOCKET"
        fi
}

pam_agent_stop() {
        [ -n "${PAM_AGENT_PID:-}" ] || return 0
        kill "$PAM_AGENT_PID" 2>/dev/null
        _i=0
        while kill -0 "$PAM_AGENT_PID" 2>/dev/null && [ "$_i" -lt 50 ]; do
                sleep 0.1
                _i=$((_i + 1))
        done
        kill -9 "$PAM_AGENT_PID" 2>/dev/null
        wait "$PAM_AGENT_PID" 2>/dev/null
        PAM_AGENT_PID=
}

pam_stack() { # SERVICE OPTS [AUTHTOK [NEWTOK [OLDTOK]]]
        _f=$PAM_CONF/$1
        _opts=$2
        : >"$_f"
        if [ -n "${3:-}" ]; then
                echo "auth [success=ignore default=die] $PAM_TEST_MODULE authtok=$3" >>"$_f"
        fi
        _tok=
        [ -n "${4:-}" ] && _tok="authtok=$4"
        [ -n "${5:-}" ] && _tok="$_tok oldauthtok=$5"
        if [ -n "$_tok" ]; then
                echo "password [success=ignore default=die] $PAM_TEST_MODULE $_tok" >>"$_f"
        fi
        for _g in auth account password session; do
                echo "$_g [success=done ignore=ignore default=die] $PAM_MODULE $_opts" >>"$_f"
                echo "$_g requisite $PAM_TEST_MODULE ret=no_module_data" >>"$_f"
        done
}

pam_run() { # SERVICE ACTION...
        _svc=$1; shift
        "$PAM_RUN" ${PAM_RUN_PW:+"--password=$PAM_RUN_PW"} "$PAM_CONF" "$_svc" "${PAM_RUN_USER:-$PAM_USER}" "$@" \
                >"$PAM_OUT" 2>"$PAM_OUT.err"
        _r=$?
        cat "$PAM_OUT.err" >>"$PAM_TMP/pam-run.err"
        return $_r
}

pam_codes() {
        sed -n 's/^\([a-z_]*\): \(PAM_[A-Z_]*\) .*/\1=\2/p' "$PAM_OUT" | grep -v '^start=' |
                sed 's/=PAM_NO_MODULE_DATA$/=PAM_IGNORE/' | tr '\n' ' ' | sed 's/ $//'
}

pam_enroll() { # NAME DATA [PASSWORD] [USER]
        printf '%s' "$2" >"$PAM_TMP/enroll.data"
        if [ -n "${3:-}" ]; then
                printf '%s\n' "$3" >"$PAM_TMP/enroll.pw"
                "$SNPSEAL" user enroll --name="$1" --user="${4:-$PAM_USER}" --password-file="$PAM_TMP/enroll.pw" \
                        <"$PAM_TMP/enroll.data"
        else
                "$SNPSEAL" user enroll --name="$1" --user="${4:-$PAM_USER}" <"$PAM_TMP/enroll.data"
        fi
}

pam_no_sanitizer_reports() {
        touch "$PAM_TMP/pam-run.err" "$PAM_TMP/agent.log"
        check_eq "no sanitizer report from pam-run (and the modules it loaded)" 0 \
                "$(grep -cE 'Sanitizer|runtime error:' "$PAM_TMP/pam-run.err")"
        check_eq "no sanitizer report from the agent" 0 \
                "$(grep -cE 'Sanitizer|runtime error:' "$PAM_TMP/agent.log")"
}

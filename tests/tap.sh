# SPDX-License-Identifier: LGPL-2.1-or-later
# Shell test helpers that print TAP. Source this file, call the checks, end with
# tap_done. A test that cannot run calls tap_skip_all "reason" (exit 77).
#
#   check NAME CMD...                 CMD must succeed
#   check_fails NAME PATTERN CMD...   CMD must fail and its stderr+stdout must
#                                     match the extended regex PATTERN
#   check_output NAME PATTERN CMD...  CMD must succeed and its stdout match PATTERN
#   check_eq NAME EXPECTED ACTUAL

_tap_n=0
_tap_failed=0
TAP_OUT=$(mktemp)
trap 'rm -f "$TAP_OUT"' EXIT

_tap_result() { # ok|not-ok name [diagnostics file]
        _tap_n=$((_tap_n + 1))
        if [ "$1" = ok ]; then
                echo "ok $_tap_n - $2"
        else
                _tap_failed=$((_tap_failed + 1))
                echo "not ok $_tap_n - $2"
                if [ -n "${3:-}" ] && [ -s "$3" ]; then
                        # awk ends every line, the last one too: a diagnostic
                        # without a final newline (a console's prompt) would
                        # swallow the next result line.
                        awk '{ print "# " $0 }' "$3" | head -n 40
                fi
        fi
}

check() {
        _name=$1; shift
        if "$@" >"$TAP_OUT" 2>&1; then
                _tap_result ok "$_name"
        else
                echo "command failed (exit $?): $*" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        fi
}

check_fails() {
        _name=$1; _pat=$2; shift 2
        if "$@" >"$TAP_OUT" 2>&1; then
                echo "command succeeded but should have failed: $*" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        elif grep -Eq -- "$_pat" "$TAP_OUT"; then
                _tap_result ok "$_name"
        else
                echo "output does not match /$_pat/" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        fi
}

check_output() {
        _name=$1; _pat=$2; shift 2
        if ! "$@" >"$TAP_OUT" 2>"$TAP_OUT.err"; then
                cat "$TAP_OUT.err" >>"$TAP_OUT"
                echo "command failed: $*" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        elif grep -Eq -- "$_pat" "$TAP_OUT"; then
                _tap_result ok "$_name"
        else
                echo "stdout does not match /$_pat/" >>"$TAP_OUT"
                _tap_result not-ok "$_name" "$TAP_OUT"
        fi
        rm -f "$TAP_OUT.err"
}

check_eq() {
        if [ "$2" = "$3" ]; then
                _tap_result ok "$1"
        else
                printf 'expected: %s\n     got: %s\n' "$2" "$3" >"$TAP_OUT"
                _tap_result not-ok "$1" "$TAP_OUT"
        fi
}

tap_skip_all() {
        echo "SKIP: $*" >&2
        exit 77
}

tap_done() {
        echo "1..$_tap_n"
        [ "$_tap_failed" -eq 0 ]
        exit $?
}

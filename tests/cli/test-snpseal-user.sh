#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal user enroll|list|remove|rewrap|unseal against the real agent
# (snpseald on the simulator backend, a temporary socket and user store):
# enrolling from stdin, --generate and with a password, listing (text and
# JSON), unsealing, rewrapping as root without the old password (from the VM
# layer) and with it, removing, a non-root user acting for itself only, and
# the errors (usage, unknown user, size cap, agent unreachable, no such
# secret, wrong password, not permitted).
# Run by `make check` (which sets top_srcdir, SNPSEAL, SNPSEALD, SNPSEAL_SIM);
# by hand: top_srcdir=. SNPSEAL=_build/cli/snpseal SNPSEALD=_build/agent/snpseald \
#          SNPSEAL_SIM=_build/cli/snpseal-sim sh tests/cli/test-snpseal-user.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

for v in SNPSEAL SNPSEALD SNPSEAL_SIM; do
        eval "p=\${$v:-}"
        if [ -z "$p" ] || [ ! -x "$p" ]; then
                echo "$v is not set to the program (got '$p')" >&2
                exit 1
        fi
done

WORK=$(mktemp -d)
AGENT_PID=
stop_agent() {
        if [ -n "$AGENT_PID" ]; then
                kill "$AGENT_PID" 2>/dev/null
                wait "$AGENT_PID" 2>/dev/null
                AGENT_PID=
        fi
}
trap 'stop_agent; rm -f "$TAP_OUT" "$TAP_OUT.err"; rm -rf "$WORK"' EXIT

# The non-root part runs the CLI as nobody: it must reach the socket and
# read its own password files.
chmod 0711 "$WORK"
S=$WORK/state.json
STORE=$WORK/users
"$SNPSEAL_SIM" init "$S" || exit 1
: >"$WORK/snpseald.conf"
"$SNPSEALD" --backend=simulator --simulator-state="$S" --listen="$WORK/agent.sock" \
        --credentials-listen="$WORK/cred.sock" --credstore="$WORK/credstore" --user-store="$STORE" \
        --config="$WORK/snpseald.conf" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
i=0
while [ ! -S "$WORK/agent.sock" ] && [ "$i" -lt 300 ]; do
        if ! kill -0 "$AGENT_PID" 2>/dev/null; then
                break
        fi
        sleep 0.1
        i=$((i + 1))
done
if [ ! -S "$WORK/agent.sock" ]; then
        echo "snpseald did not start listening on $WORK/agent.sock:" >&2
        cat "$WORK/agent.log" >&2
        exit 1
fi
SNPSEAL_SOCKET=$WORK/agent.sock
export SNPSEAL_SOCKET

exit_code() {
        "$@" >/dev/null 2>&1 </dev/null
        echo $?
}
# Run snpseal with stdin from FILE.
from() { # FILE ARGS...
        _in=$1; shift
        "$SNPSEAL" "$@" <"$_in"
}
# Unseal NAME (more args follow) into $WORK/out and compare with FILE.
unseals_to() { # FILE ARGS...
        _want=$1; shift
        "$SNPSEAL" user unseal "$@" >"$WORK/out" </dev/null && cmp -s "$_want" "$WORK/out"
}
mode_of() {
        stat -c '%a %u' "$1" 2>/dev/null
}

printf 'login-secret-7Hq\n' >"$WORK/secret"
printf 'pwold-K2m\n' >"$WORK/pw-old"
printf 'pwnew-R8t\n' >"$WORK/pw-new"
printf 'pwbad-Z1x\n' >"$WORK/pw-wrong"
chmod 0644 "$WORK/secret" "$WORK/pw-old" "$WORK/pw-new" "$WORK/pw-wrong"

# ---------------------------------------------------------------- usage
check_output "--help lists user" '^  user ' "$SNPSEAL" --help
check_output "user --help lists the subcommands" 'rewrap NAME' "$SNPSEAL" user --help
check_output "user enroll --help lists --generate" '--generate=BYTES' "$SNPSEAL" user enroll --help
check_eq "user without subcommand: exit 2" 2 "$(exit_code "$SNPSEAL" user)"
check_fails "user frob is named" "unknown subcommand 'frob'" "$SNPSEAL" user frob
check_eq "enroll without --name: exit 2" 2 "$(exit_code "$SNPSEAL" user enroll)"
check_fails "enroll without a name says so" 'user enroll: missing NAME \(or --name=NAME\)' "$SNPSEAL" user enroll
long=$(printf 'a%.0s' $(seq 65))
for n in ../x a/b .hidden 'sp ace' '' .. "$long"; do
        check_eq "name '$n' refused (exit 2)" 2 "$(exit_code "$SNPSEAL" user enroll --name="$n" --generate=8)"
done
check_fails "bad name is named" "invalid name 'a/b'" "$SNPSEAL" user remove --name=a/b
check_eq "64-character name accepted by the CLI (unreachable agent: exit 1)" 1 \
        "$(exit_code "$SNPSEAL" --socket="$WORK/none.sock" user remove --name="$(printf 'a%.0s' $(seq 64))")"
check_eq "unknown user: exit 2" 2 "$(exit_code "$SNPSEAL" user list --user=no-such-user-snpseal)"
check_fails "unknown user is named" "unknown user 'no-such-user-snpseal'" \
        "$SNPSEAL" user list --user=no-such-user-snpseal
check_fails "uid out of range" "invalid --user '4294967295'" "$SNPSEAL" user list --user=4294967295
check_fails "--generate=0 refused" "invalid --generate '0'" "$SNPSEAL" user enroll --name=x --generate=0
check_eq "--generate over the cap: exit 2" 2 "$(exit_code "$SNPSEAL" user enroll --name=x --generate=32769)"
check_fails "--password with --password-file" 'exclude each other' \
        "$SNPSEAL" user enroll --name=x --password --password-file="$WORK/pw-old"
check_fails "rewrap --no-password with --password-file" 'exclude each other' \
        "$SNPSEAL" user rewrap --name=x --no-password --password-file="$WORK/pw-new"
check_fails "list takes no --name" "unknown option '--name=x'" "$SNPSEAL" user list --name=x
check_eq "extra argument: exit 2" 2 "$(exit_code "$SNPSEAL" user list extra)"

# ---------------------------------------------------------------- agent unreachable
"$SNPSEAL" --socket="$WORK/none.sock" user list >"$WORK/out" 2>"$WORK/err"
check_eq "agent unreachable: exit 1" 1 "$?"
check_output "agent unreachable: socket path and reason" \
        "^snpseal: cannot reach the snpseal agent at $WORK/none.sock: No such file or directory" cat "$WORK/err"
check_eq "agent unreachable: one line" 1 "$(wc -l <"$WORK/err" | tr -d ' ')"
check_eq "agent unreachable: nothing on stdout" 0 "$(wc -c <"$WORK/out" | tr -d ' ')"

# ---------------------------------------------------------------- enroll
check_output "list of nobody enrolled yet" '^No user secrets for uid 0\.$' "$SNPSEAL" user list
check_output "enroll from stdin prints the file" "^Enrolled 'login' for uid 0: $STORE/0/login.sealed\$" \
        from "$WORK/secret" user enroll --name=login
check_eq "the file is 0600 root" "600 0" "$(mode_of "$STORE/0/login.sealed")"
check_eq "the uid directory is 0700 root" "700 0" "$(mode_of "$STORE/0")"
check_eq "the store is 0755 root" "755 0" "$(mode_of "$STORE")"
check_output "the file is a sealed object for user/0/login" '"purpose": ?"user/0/login"' cat "$STORE/0/login.sealed"
check_fails "enroll again without --replace" 'user enroll: .*exists' \
        from "$WORK/secret" user enroll --name=login
check_output "enroll --replace" "^Enrolled 'login'" from "$WORK/secret" user enroll --name=login --replace
check_output "enroll with --password-file" "^Enrolled 'pw' for uid 0 with a password layer" \
        from "$WORK/secret" user enroll --name=pw --password-file="$WORK/pw-old"
check_output "enroll --generate (stdin not read) --json" '"path": "'"$STORE"'/0/gen.sealed"' \
        "$SNPSEAL" user enroll --name=gen --generate=64 --json
check_output "enroll --user=root" "for uid 0" from "$WORK/secret" user enroll --name=byname --user=root
check_output "enroll --user=0" "for uid 0" from "$WORK/secret" user enroll --name=byuid --user=0
: >"$WORK/empty"
check_fails "empty secret refused" 'the secret on standard input is empty' \
        from "$WORK/empty" user enroll --name=empty
head -c 32769 /dev/zero >"$WORK/big"
head -c 32768 /dev/zero >"$WORK/max"
check_fails "secret over 32768 bytes refused" 'larger than 32768 bytes' from "$WORK/big" user enroll --name=big
check_eq "nothing stored for the refused secrets" "no" \
        "$( [ -e "$STORE/0/big.sealed" ] || [ -e "$STORE/0/empty.sealed" ] && echo yes || echo no)"
check_output "secret of exactly 32768 bytes" "^Enrolled 'max'" from "$WORK/max" user enroll --name=max

# ---------------------------------------------------------------- list
check_output "list: header" '^NAME +PASSWD +BINDING +IDENTITY' "$SNPSEAL" user list
check_output "list: login without password" '^login +no +vcek' "$SNPSEAL" user list
check_output "list: pw with password" '^pw +yes +vcek' "$SNPSEAL" user list
check_output "list: identity shortened" '^gen +no .* measurement [0-9a-f]{12}' "$SNPSEAL" user list
"$SNPSEAL" user list --json >"$WORK/list.json"
# (Pretty JSON, one member per line, each entry starting with its name.)
check_eq "list --json: names" "byname byuid gen login max pw" \
        "$(sed -n 's/^ *"name": "\(.*\)",$/\1/p' "$WORK/list.json" | sort | tr '\n' ' ' | sed 's/ $//')"
check_output "list --json: login without password" '"password": false' \
        grep -A1 '"name": "login"' "$WORK/list.json"
check_output "list --json: pw with password" '"password": true' grep -A1 '"name": "pw"' "$WORK/list.json"
check_eq "list --json: every entry has binding and identity" "6 6" \
        "$(grep -c '"binding": {' "$WORK/list.json") $(grep -c '"identity": {' "$WORK/list.json")"

# ---------------------------------------------------------------- unseal
check "unseal login" unseals_to "$WORK/secret" --name=login
check "unseal the 32768-byte secret" unseals_to "$WORK/max" --name=max
"$SNPSEAL" user unseal --name=gen >"$WORK/gen" </dev/null
check_eq "unseal --generate'd secret: 64 bytes" 64 "$(wc -c <"$WORK/gen" | tr -d ' ')"
check "unseal pw with its password" unseals_to "$WORK/secret" --name=pw --password-file="$WORK/pw-old"
check_fails "unseal pw with a wrong password" 'user unseal: wrong password' \
        "$SNPSEAL" user unseal --name=pw --password-file="$WORK/pw-wrong"
check_fails "unseal a missing secret: NoSuchSecret" 'user unseal: no user secret "missing" for uid 0' \
        "$SNPSEAL" user unseal --name=missing
check_eq "unseal a missing secret: exit 1" 1 "$(exit_code "$SNPSEAL" user unseal --name=missing)"

# ---------------------------------------------------------------- rewrap
check "rewrap as root without the old password (VM layer)" \
        "$SNPSEAL" user rewrap --name=pw --password-file="$WORK/pw-new"
check "unseal with the new password" unseals_to "$WORK/secret" --name=pw --password-file="$WORK/pw-new"
check_fails "the old password no longer works" 'wrong password' \
        "$SNPSEAL" user unseal --name=pw --password-file="$WORK/pw-old"
check_fails "rewrap with a wrong old password" 'user rewrap: wrong password' \
        "$SNPSEAL" user rewrap --name=pw --old-password-file="$WORK/pw-wrong" --password-file="$WORK/pw-old"
check "rewrap with the right old password" \
        "$SNPSEAL" user rewrap --name=pw --old-password-file="$WORK/pw-new" --password-file="$WORK/pw-old"
check "unseal with the password set back" unseals_to "$WORK/secret" --name=pw --password-file="$WORK/pw-old"
check "rewrap --no-password drops the layer" "$SNPSEAL" user rewrap --name=pw --no-password
check_output "list: pw without password now" '^pw +no ' "$SNPSEAL" user list
check "unseal pw without a password" unseals_to "$WORK/secret" --name=pw
check "rewrap adds a password layer again" "$SNPSEAL" user rewrap --name=pw --password-file="$WORK/pw-new"
check_output "list: pw with password again" '^pw +yes ' "$SNPSEAL" user list
check_fails "rewrap a missing secret" 'user rewrap: no user secret "missing" for uid 0' \
        "$SNPSEAL" user rewrap --name=missing --no-password

# Issue 12, finding 12: NAME may be given as credential verbs take their
# ID; every change says what it did (--json: in JSON).
check_output "rewrap --no-password confirms" "^Rewrapped 'pw' for uid 0 without a password layer\\.\$" \
        "$SNPSEAL" user rewrap pw --no-password
check_output "rewrap with a password confirms" "^Rewrapped 'pw' for uid 0 with a new password layer\\.\$" \
        "$SNPSEAL" user rewrap pw --password-file="$WORK/pw-new"
check_output "rewrap --json" '"password": true' "$SNPSEAL" --json user rewrap pw --password-file="$WORK/pw-new"
check_output "enroll NAME (positional)" "^Enrolled 'posname' for uid 0: $STORE/0/posname.sealed\$" \
        "$SNPSEAL" user enroll posname --generate=8
check_fails "NAME and --name= together" 'user remove: give the name once: NAME or --name=NAME' \
        "$SNPSEAL" user remove posname --name=posname
check_output "remove NAME --json" '"removed": true' "$SNPSEAL" user remove posname --json
check_eq "remove NAME: the file is gone" no "$([ -e "$STORE/0/posname.sealed" ] && echo yes || echo no)"
if command -v jq >/dev/null; then
        "$SNPSEAL" status --json >"$WORK/st.json"
        check_eq "list --json: the identity's policy as status shows it" "$(jq -r .policy "$WORK/st.json")" \
                "$("$SNPSEAL" user list --json | jq -r '.[] | select(.name == "pw") | .identity.policy')"
fi

# ---------------------------------------------------------------- remove
check_output "remove byname, confirmed" "^Removed 'byname' for uid 0\\.\$" "$SNPSEAL" user remove --name=byname
check_eq "the file is gone" "no" "$( [ -e "$STORE/0/byname.sealed" ] && echo yes || echo no)"
check_fails "remove it again: no such secret" 'user remove: .*no such secret' \
        "$SNPSEAL" user remove --name=byname
check_fails "unseal the removed secret" 'user unseal: no user secret "byname"' "$SNPSEAL" user unseal --name=byname

# ---------------------------------------------------------------- another user (nobody)
if ! setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        echo "# setpriv cannot switch to uid 65534: skipping the non-root checks"
else
        as_nobody() {
                setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
        }
        # The build tree may sit below a directory uid 65534 cannot enter
        # (a 0700 mktemp -d clone): run nobody's CLI from a copy in $WORK.
        cp "$SNPSEAL" "$WORK/snpseal-for-nobody" && chmod 0755 "$WORK/snpseal-for-nobody"
        NOBODY_SNPSEAL=$WORK/snpseal-for-nobody
        check_output "nobody: enroll for itself" "^Enrolled 'mine' for uid 65534 with a password layer: $STORE/65534/mine.sealed\$" \
                as_nobody "$NOBODY_SNPSEAL" user enroll --name=mine --password-file="$WORK/pw-old" <"$WORK/secret"
        check_eq "nobody's file is root-owned 0600" "600 0" "$(mode_of "$STORE/65534/mine.sealed")"
        check_output "nobody: list its own" '^mine +yes ' as_nobody "$NOBODY_SNPSEAL" user list
        check_output "nobody: --user=65534 is itself" '^mine +yes ' as_nobody "$NOBODY_SNPSEAL" user list --user=65534
        check_fails "nobody: list root's refused" 'user list: uid 65534 may not use the user secrets of uid 0' \
                as_nobody "$NOBODY_SNPSEAL" user list --user=root
        check_fails "nobody: enroll for root refused" 'user enroll: uid 65534 may not use the user secrets of uid 0' \
                as_nobody "$NOBODY_SNPSEAL" user enroll --name=evil --user=0 --generate=8
        check_eq "nothing stored for root" "no" "$( [ -e "$STORE/0/evil.sealed" ] && echo yes || echo no)"
        check_fails "nobody: remove root's refused" 'user remove: uid 65534 may not use the user secrets of uid 0' \
                as_nobody "$NOBODY_SNPSEAL" user remove --name=login --user=root
        check_fails "nobody: unseal root's refused" 'user unseal: uid 65534 may not use the user secrets of uid 0' \
                as_nobody "$NOBODY_SNPSEAL" user unseal --name=login --user=0
        check_fails "nobody: rewrap root's refused" 'user rewrap: uid 65534 may not use the user secrets of uid 0' \
                as_nobody "$NOBODY_SNPSEAL" user rewrap --name=pw --user=0 --old-password-file="$WORK/pw-new" --no-password
        check "nobody: unseal its own with the password" \
                as_nobody sh -c '"$1" user unseal --name=mine --password-file="$2" | cmp -s - "$3"' \
                sh "$NOBODY_SNPSEAL" "$WORK/pw-old" "$WORK/secret"
        check_fails "nobody: rewrap without the old password and no terminal" \
                'old password is needed .*--old-password-file' \
                as_nobody setsid "$NOBODY_SNPSEAL" user rewrap --name=mine --password-file="$WORK/pw-new"
        check "nobody: rewrap with the old password" \
                as_nobody "$NOBODY_SNPSEAL" user rewrap --name=mine --old-password-file="$WORK/pw-old" \
                --password-file="$WORK/pw-new"
        check "root: unseal nobody's with the new password" \
                unseals_to "$WORK/secret" --name=mine --user=65534 --password-file="$WORK/pw-new"
        check "nobody: remove its own" as_nobody "$NOBODY_SNPSEAL" user remove --name=mine
        check_output "nobody: nothing left" '^No user secrets for uid 65534\.$' as_nobody "$NOBODY_SNPSEAL" user list

        # Issue 11, finding 5: a user's report never carries data of the
        # user's choosing: REPORT_DATA = SHA-512(label NUL || uid BE32 || data).
        as_nobody "$NOBODY_SNPSEAL" report --report-data=00112233 >"$WORK/report.nobody" 2>"$WORK/report.nobody.err"
        check_eq "nobody: report: exit 0" 0 "$?"
        want=$({ printf 'snpseal/v1/report-of-uid\000\000\000\377\376\000\021\042\063'; head -c 60 /dev/zero; } |
                openssl dgst -sha512 -r | cut -d' ' -f1)
        check_eq "nobody: report_data is SHA-512 over the label, uid 65534 and the data" "$want" \
                "$(sed -n 's/^report_data: *//p' "$WORK/report.nobody")"
        check_output "nobody: report names the bound uid" '^bound_uid: 65534$' cat "$WORK/report.nobody"
        check_output "nobody: report says why on stderr" 'not root: the agent bound uid 65534 into REPORT_DATA' \
                cat "$WORK/report.nobody.err"
        check_output "root: report_data as given" '^report_data: *00112233(00)+$' \
                "$SNPSEAL" report --report-data=00112233

        # Issue 11, finding 7: the CLI holds plaintext; as a user's process it
        # must be non-dumpable (its /proc files root's, no ptrace by the
        # user's other processes) with no core limit.
        mkfifo "$WORK/fifo" && chmod 0666 "$WORK/fifo"
        exec 7<>"$WORK/fifo"
        # (setpriv execs the CLI: $! is its pid)
        setpriv --reuid=65534 --regid=65534 --clear-groups "$NOBODY_SNPSEAL" seal --purpose=user/65534/x \
                <"$WORK/fifo" >"$WORK/fifo.out" 2>&1 7>&- &
        CLI_PID=$!
        i=0
        while [ "$(readlink /proc/$CLI_PID/exe 2>/dev/null)" != "$(readlink -f "$NOBODY_SNPSEAL")" ] && [ "$i" -lt 50 ]; do
                sleep 0.1
                i=$((i + 1))
        done
        sleep 0.2
        check_eq "nobody's snpseal runs as uid 65534" 65534 "$(awk '/^Uid:/ { print $2 }' /proc/$CLI_PID/status)"
        check_eq "nobody's snpseal is not dumpable (its /proc files are root's)" 0 "$(stat -c %u /proc/$CLI_PID/mem)"
        check_output "nobody's snpseal has no core limit" '^Max core file size +0 +0 ' cat /proc/$CLI_PID/limits
        printf 'plaintext' >&7
        exec 7>&-
        wait "$CLI_PID"
        check_eq "nobody's snpseal then seals" 0 "$?"

        # Issue 11, finding 4: the store's file system nearly full. A second
        # agent runs in a mount namespace with its store on a 4 MiB tmpfs
        # filled to below the 5 % the agent keeps free.
        SMALL=$WORK/small
        mkdir -p "$SMALL" && chmod 0755 "$SMALL"
        if unshare -m sh -c 'mount -t tmpfs -o size=4m tmpfs "$1"' - "$SMALL" 2>/dev/null; then
                unshare -m sh -c 'mount -t tmpfs -o size=4m,mode=0755 tmpfs "$1" &&
                        dd if=/dev/zero of="$1/fill" bs=1k count=3950 2>/dev/null &&
                        exec "$2" --backend=simulator --simulator-state="$3" --listen="$4" \
                                --credentials-listen="$4.cred" --credstore="$1/credstore" \
                                --user-store="$1/users" --config="$5"' \
                        - "$SMALL" "$SNPSEALD" "$S" "$WORK/small.sock" "$WORK/snpseald.conf" \
                        >"$WORK/small.log" 2>&1 &
                SMALL_PID=$!
                i=0
                while [ ! -S "$WORK/small.sock" ] && [ "$i" -lt 100 ] && kill -0 "$SMALL_PID" 2>/dev/null; do
                        sleep 0.1
                        i=$((i + 1))
                done
                check_fails "nobody: enroll on a nearly full file system refused" \
                        'user enroll: .*file system holding .* is nearly full .*free some space first' \
                        as_nobody "$NOBODY_SNPSEAL" --socket="$WORK/small.sock" user enroll --name=fill \
                        --generate=16
                check_fails "root: refused there too" 'nearly full' \
                        "$SNPSEAL" --socket="$WORK/small.sock" user enroll --name=fill --generate=16
                kill "$SMALL_PID" 2>/dev/null
                wait "$SMALL_PID" 2>/dev/null
        else
                _tap_result ok "nobody: enroll on a nearly full file system refused # SKIP cannot mount a tmpfs here"
                _tap_result ok "root: refused there too # SKIP cannot mount a tmpfs here"
        fi
fi

# The agent's log carries no secret.
check_eq "the agent log holds no secret or password" "0" \
        "$(grep -c -e 'login-secret-7Hq' -e 'pwold-K2m' -e 'pwnew-R8t' -e 'pwbad-Z1x' "$WORK/agent.log")"

tap_done

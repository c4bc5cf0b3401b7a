#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal against the real agent (snpseald on the simulator backend, on a
# temporary socket): status and its warnings, report, seal/unseal round trips
# with and without a password, identity change, size cap, credential
# add/list/remove, agent unreachable, usage errors.
# Run by `make check` (which sets top_srcdir, SNPSEAL, SNPSEALD, SNPSEAL_SIM);
# by hand: top_srcdir=. SNPSEAL=_build/cli/snpseal SNPSEALD=_build/agent/snpseald \
#          SNPSEAL_SIM=_build/cli/snpseal-sim sh tests/cli/test-snpseal.sh

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
# tap.sh already removes its scratch file on exit: keep doing that too.
trap 'stop_agent; rm -f "$TAP_OUT" "$TAP_OUT.err"; rm -rf "$WORK"' EXIT

S=$WORK/state.json
"$SNPSEAL_SIM" init "$S" || exit 1
cp "$S" "$WORK/state.orig"
: >"$WORK/snpseald.conf"
"$SNPSEALD" --backend=simulator --simulator-state="$S" --listen="$WORK/agent.sock" \
        --credentials-listen="$WORK/cred.sock" --credstore="$WORK/agent-credstore" \
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
SNPSEAL_CREDSTORE=$WORK/env-credstore
export SNPSEAL_CREDSTORE

exit_code() {
        "$@" >/dev/null 2>&1 </dev/null
        echo $?
}
# Run snpseal with stdin from FILE.
from() { # FILE ARGS...
        _in=$1; shift
        "$SNPSEAL" "$@" <"$_in"
}
restore_state() {
        cp "$WORK/state.orig" "$S"
}

# ---------------------------------------------------------------- usage
check_output "--version prints the version" '^snpseal [0-9]' "$SNPSEAL" --version
check_output "--help lists the commands" 'credential' "$SNPSEAL" --help
check_output "seal --help lists the binding options" '--root-key=' "$SNPSEAL" seal --help
check_eq "no command is a usage error (exit 2)" 2 "$(exit_code "$SNPSEAL")"
check_eq "unknown command: exit 2" 2 "$(exit_code "$SNPSEAL" frobnicate)"
check_fails "unknown command is named" "unknown command 'frobnicate'" "$SNPSEAL" frobnicate
check_eq "unknown option: exit 2" 2 "$(exit_code "$SNPSEAL" status --frob)"
check_fails "unknown option is named" "status: unknown option '--frob'" "$SNPSEAL" status --frob
check_eq "extra argument: exit 2" 2 "$(exit_code "$SNPSEAL" status extra)"
check_eq "seal without --purpose: exit 2" 2 "$(exit_code "$SNPSEAL" seal)"
check_fails "seal without --purpose says so" '--purpose= is required' "$SNPSEAL" seal
check_eq "invalid purpose: exit 2" 2 "$(exit_code "$SNPSEAL" seal --purpose=cred/a/b/c)"
check_eq "unknown --bind field: exit 2" 2 "$(exit_code "$SNPSEAL" seal --purpose=cred/a --bind=frob)"
check_fails "unknown --bind field is named" "unknown field 'frob'" "$SNPSEAL" seal --purpose=cred/a --bind=frob
check_eq "missing option value: exit 2" 2 "$(exit_code "$SNPSEAL" seal --purpose=cred/a --tcb)"
check_eq "--password with --password-file: exit 2" 2 \
        "$(exit_code "$SNPSEAL" seal --purpose=cred/a --password --password-file=/dev/null)"
check_eq "report --vmpl=4: exit 2" 2 "$(exit_code "$SNPSEAL" report --vmpl=4)"
check_eq "report --report-data not hex: exit 2" 2 "$(exit_code "$SNPSEAL" report --report-data=xyz)"
check_eq "report --report-data over 64 bytes: exit 2" 2 \
        "$(exit_code "$SNPSEAL" report --report-data="$(printf '00%.0s' $(seq 65))")"
check_eq "credential without subcommand: exit 2" 2 "$(exit_code "$SNPSEAL" credential)"
check_eq "credential frob: exit 2" 2 "$(exit_code "$SNPSEAL" credential frob)"
for id in ../x a/b .hidden 'sp ace' ''; do
        check_eq "credential add '$id' refused (exit 2)" 2 "$(exit_code "$SNPSEAL" credential add "$id")"
done
check_fails "bad credential ID is named" "invalid credential ID 'a/b'" "$SNPSEAL" credential remove a/b

# ---------------------------------------------------------------- agent unreachable
check_eq "agent unreachable: exit 1" 1 "$(exit_code "$SNPSEAL" --socket="$WORK/none.sock" status)"
"$SNPSEAL" status --socket="$WORK/none.sock" >"$WORK/out" 2>"$WORK/err"
check_output "agent unreachable: socket path and reason" \
        "^snpseal: cannot reach the snpseal agent at $WORK/none.sock: No such file or directory" cat "$WORK/err"
check_eq "agent unreachable: one line" 1 "$(wc -l <"$WORK/err" | tr -d ' ')"
check_eq "agent unreachable: nothing on stdout" 0 "$(wc -c <"$WORK/out" | tr -d ' ')"
check_fails "SNPSEAL_SOCKET is used" "agent at $WORK/env.sock" env SNPSEAL_SOCKET="$WORK/env.sock" "$SNPSEAL" status

# ---------------------------------------------------------------- status
check_output "status: backend" '^backend: +simulator$' "$SNPSEAL" status
check_output "status: loud simulator line" 'SIMULATOR' "$SNPSEAL" status
check_output "status: measurement" '^measurement: +[0-9a-f]{96}$' "$SNPSEAL" status
check_output "status: policy decoded" '^policy: +0x0000000000030000 \(ABI 0\.0; SMT allowed; .*debugging not allowed' \
        "$SNPSEAL" status
check_output "status: TCB components" \
        '^committed_tcb: +03000000000008d1 \(boot_loader=3 tee=0 snp=8 microcode=209\)$' "$SNPSEAL" status
check_output "status: platform info" '^platform_info: +0x[0-9a-f]{16} \(SMT enabled' "$SNPSEAL" status
check_output "status: simulator warning" 'running on the simulator: no hardware protection' "$SNPSEAL" status
check_output "status: SMT is informational" 'SMT allowed \(policy bit 16\): informational' "$SNPSEAL" status
check_eq "status: no debug warning by default" 0 "$("$SNPSEAL" status | grep -c 'debugging allowed')"
check_output "status --json: backend" '"backend": "simulator"' "$SNPSEAL" status --json
check_output "status --json: decoded TCBs" '"launch_tcb_decoded"' "$SNPSEAL" --json status
check_output "status --json: policy flags" '"debug": false' "$SNPSEAL" status --json
check "status --socket= explicit" env -u SNPSEAL_SOCKET "$SNPSEAL" --socket="$WORK/agent.sock" status

check "simulator: allow debugging and the migration agent" "$SNPSEAL_SIM" set "$S" policy=0xF0000
check_output "status: debug warning" \
        "debugging allowed \(policy bit 19\): the hypervisor can read this VM's memory" "$SNPSEAL" status
check_output "status: migration agent warning" 'migration agent allowed \(policy bit 18\)' "$SNPSEAL" status
check_output "status --json: debug flag" '"debug": true' "$SNPSEAL" status --json
restore_state

# ---------------------------------------------------------------- report
RD=00112233445566778899aabbccddeeff
check_output "report: readable dump" '^measurement: +[0-9a-f]{96}$' "$SNPSEAL" report
check_output "report: --report-data echoed, zero-padded" "^report_data: +${RD}0{96}\$" \
        "$SNPSEAL" report --report-data=$RD
check_output "report: upper-case hex accepted" "^report_data: +${RD}0{96}\$" \
        "$SNPSEAL" report --report-data="$(echo $RD | tr a-f A-F)"
check_output "report: --vmpl" '^vmpl: +2$' "$SNPSEAL" report --vmpl=2
check "report --raw" "$SNPSEAL" report --raw="$WORK/report.bin"
check_eq "report --raw is 1184 bytes" 1184 "$(stat -c %s "$WORK/report.bin")"
check_eq "report --raw mode 0644" 644 "$(stat -c %a "$WORK/report.bin")"
check_output "report --json" "\"report_data\": \"${RD}0{96}\"" "$SNPSEAL" report --json --report-data=$RD
check_output "report --json: decoded policy" '"debug": false' "$SNPSEAL" report --json
# Issue 12, finding 12: report on the simulator says so, as status does.
check_output "report: the SIMULATOR banner first" '^\*\*\* SIMULATOR: ' sh -c '"$1" report | head -n 1' - "$SNPSEAL"
check_output "report --json: the backend" '"backend": "simulator"' "$SNPSEAL" report --json

# ---------------------------------------------------------------- seal / unseal
head -c 300 /dev/urandom >"$WORK/plain"
check "seal binary data" sh -c '"$1" seal --purpose=cred/rt <"$2" >"$3"' - "$SNPSEAL" "$WORK/plain" "$WORK/sealed"
check_output "the sealed object names its purpose" '"purpose": ?"cred/rt"' cat "$WORK/sealed"
check "unseal" sh -c '"$1" unseal <"$2" >"$3"' - "$SNPSEAL" "$WORK/sealed" "$WORK/unsealed"
check "round trip gives the same bytes" cmp "$WORK/plain" "$WORK/unsealed"
check_eq "--json unseal: a usage error (the plaintext has no JSON form)" 2 \
        "$("$SNPSEAL" --json unseal <"$WORK/sealed" >/dev/null 2>"$WORK/json.err"; echo $?)"
check_output "--json unseal: says why" 'unseal: --json: unseal writes the plaintext as it is; it has no JSON form' \
        cat "$WORK/json.err"
check_eq "--json user unseal: a usage error" 2 "$("$SNPSEAL" user unseal --json x >/dev/null 2>&1 </dev/null; echo $?)"
check_fails "unseal: garbage is not a sealed object" 'unseal: the input is not a sealed object' \
        from "$WORK/plain" unseal
check_eq "unseal: garbage exits 1" 1 "$(from "$WORK/plain" unseal >/dev/null 2>&1; echo $?)"

head -c 32768 /dev/zero >"$WORK/max"
head -c 32769 /dev/zero >"$WORK/toolarge"
check "seal: 32768 bytes fit" sh -c '"$1" seal --purpose=cred/big <"$2" >"$3"' - "$SNPSEAL" "$WORK/max" "$WORK/sealed-max"
check "unseal: 32768 bytes round trip" sh -c '"$1" unseal <"$2" | cmp - "$3"' - "$SNPSEAL" "$WORK/sealed-max" "$WORK/max"
check_fails "seal: 32769 bytes are too large" 'seal: the input is larger than 32768 bytes' \
        from "$WORK/toolarge" seal --purpose=cred/big
check_eq "seal: too large exits 1" 1 "$(from "$WORK/toolarge" seal --purpose=cred/big >/dev/null 2>&1; echo $?)"

printf 'correct horse\nsecond line ignored\n' >"$WORK/pw"
echo 'wrong' >"$WORK/badpw"
: >"$WORK/emptypw"
check "seal with --password-file" sh -c '"$1" seal --purpose=user/0/pw --password-file="$2" <"$3" >"$4"' - \
        "$SNPSEAL" "$WORK/pw" "$WORK/plain" "$WORK/sealed-pw"
check_output "the object has a password layer" '"password"' cat "$WORK/sealed-pw"
check "unseal with the right password" sh -c '"$1" unseal --password-file="$2" <"$3" >"$4"' - \
        "$SNPSEAL" "$WORK/pw" "$WORK/sealed-pw" "$WORK/unsealed-pw"
check "password round trip gives the same bytes" cmp "$WORK/plain" "$WORK/unsealed-pw"
check_fails "unseal with a wrong password" '^snpseal: unseal: wrong password' \
        from "$WORK/sealed-pw" unseal --password-file="$WORK/badpw"
check_fails "an empty password is refused" 'the password is empty' \
        from "$WORK/plain" seal --purpose=user/0/pw --password-file="$WORK/emptypw"
check_fails "a missing password file is named" "cannot open the password file $WORK/nope" \
        from "$WORK/plain" seal --purpose=user/0/pw --password-file="$WORK/nope"
if command -v setsid >/dev/null 2>&1; then
        check_fails "unseal without a password and no terminal" 'no terminal.*--password-file' \
                setsid -w sh -c '"$1" unseal <"$2"' - "$SNPSEAL" "$WORK/sealed-pw"
fi

check_fails "seal: binding without measurement refused" '^snpseal: seal: binding (.*) does not bind measurement' \
        from "$WORK/plain" seal --purpose=cred/weak --bind=policy,tcb_version
check_fails "seal: --force alone never lowers the binding floor" \
        'does not bind measurement.*only allow_weak_bindings = yes in snpseald.conf allows it' \
        from "$WORK/plain" seal --purpose=cred/weak --bind=policy,tcb_version --force
check_fails "seal: a TCB above the committed one" 'above the committed TCB' \
        from "$WORK/plain" seal --purpose=cred/t --tcb=ffffffffffffffff
check "seal with explicit binding options" sh -c '"$1" seal --purpose=cred/b --bind=measurement,policy,tcb_version,image_id --tcb=launch --root-key=vcek --vmpl=0 --guest-svn=0 <"$2" >"$3"' \
        - "$SNPSEAL" "$WORK/plain" "$WORK/sealed-b"
check_output "explicit binding: the requested SVN" '"guest_svn": ?0' cat "$WORK/sealed-b"
check "explicit binding round trip" sh -c '"$1" unseal <"$2" | cmp - "$3"' - "$SNPSEAL" "$WORK/sealed-b" "$WORK/plain"

M=$(printf 'ab%.0s' $(seq 48))
check "simulator: change the measurement" "$SNPSEAL_SIM" set "$S" measurement="$M"
check_fails "unseal after an image change names the measurement" \
        '^snpseal: unseal: measurement changed: sealed to [0-9a-f]{8}.*, running abababab' \
        from "$WORK/sealed" unseal
check_eq "identity mismatch exits 1" 1 "$(from "$WORK/sealed" unseal >/dev/null 2>&1; echo $?)"
restore_state
check "unseal works again on the original VM" sh -c '"$1" unseal <"$2" | cmp - "$3"' - \
        "$SNPSEAL" "$WORK/sealed" "$WORK/plain"

# ---------------------------------------------------------------- credentials
CS=$WORK/cs
printf 'db-password' >"$WORK/secret"
check_output "credential add prints the unit setting" '^LoadCredential=db:/run/snpseal/credentials.sock$' \
        from "$WORK/secret" credential add db --credstore="$CS"
check_eq "credential file mode 0600" 600 "$(stat -c %a "$CS/db.sealed")"
check_eq "credential store created 0700" 700 "$(stat -c %a "$CS")"
check_eq "no temporary file left behind" "db.sealed" "$(ls -A "$CS")"
check "the credential unseals to the secret" sh -c '"$1" unseal <"$2" | cmp - "$3"' - \
        "$SNPSEAL" "$CS/db.sealed" "$WORK/secret"
check_output "the credential has purpose cred/db" '"purpose": ?"cred/db"' cat "$CS/db.sealed"
cp "$CS/db.sealed" "$WORK/db.before"
check_fails "credential add refuses to overwrite" "credential 'db' already exists.*--force" \
        from "$WORK/plain" credential add db --credstore="$CS"
check "the refused add left the file alone" cmp "$CS/db.sealed" "$WORK/db.before"
check "credential add --force replaces" sh -c '"$1" credential add db --force --credstore="$2" <"$3" >/dev/null' - \
        "$SNPSEAL" "$CS" "$WORK/plain"
check "the replaced credential holds the new secret" sh -c '"$1" unseal <"$2" | cmp - "$3"' - \
        "$SNPSEAL" "$CS/db.sealed" "$WORK/plain"
check "credential add with binding options" sh -c '"$1" credential add web --bind=measurement,policy,tcb_version,image_id --credstore="$2" <"$3" >/dev/null' \
        - "$SNPSEAL" "$CS" "$WORK/secret"
check_fails "credential add: weak binding refused" 'does not bind measurement' \
        from "$WORK/secret" credential add weak --bind=policy,tcb_version --credstore="$CS"
check_fails "credential add: too large" 'larger than 32768 bytes' \
        from "$WORK/toolarge" credential add big --credstore="$CS"
check_eq "refused adds wrote nothing" "db.sealed web.sealed" "$(ls -A "$CS" | tr '\n' ' ' | sed 's/ $//')"
echo 'not json' >"$CS/broken.sealed"
cp "$CS/db.sealed" "$CS/other.sealed"
check_output "credential list: db" '^db +cred/db +no +vcek; .*measurement.*; vmpl 0; svn [0-9]+; tcb [0-9a-f]{16} +measurement [0-9a-f]{12}' \
        "$SNPSEAL" credential list --credstore="$CS"
check_output "credential list: web binding" '^web +cred/web .*image_id' "$SNPSEAL" credential list --credstore="$CS"
check_output "credential list: unparsable file marked" '^broken +\(invalid: .*JSON' \
        "$SNPSEAL" credential list --credstore="$CS"
check_output "credential list: purpose mismatch marked" "^other +\(invalid: purpose 'cred/db' does not match" \
        "$SNPSEAL" credential list --credstore="$CS"
check_output "credential list --json" '"id": "db"' "$SNPSEAL" credential list --json --credstore="$CS"
check_output "credential list --json: invalid entries" '"valid": false' "$SNPSEAL" --json credential list --credstore="$CS"
check_eq "credential list of a missing store is empty" 1 \
        "$("$SNPSEAL" credential list --credstore="$WORK/nostore" | wc -l | tr -d ' ')"
check_output "credential remove confirms" "^Removed credential 'web': $CS/web.sealed\$" \
        "$SNPSEAL" credential remove web --credstore="$CS"
check_eq "the file is gone" no "$([ -e "$CS/web.sealed" ] && echo yes || echo no)"
check_fails "credential remove of a missing ID" "no credential 'web' in $CS" \
        "$SNPSEAL" credential remove web --credstore="$CS"
check_eq "credential remove of a missing ID exits 1" 1 \
        "$(exit_code "$SNPSEAL" credential remove web --credstore="$CS")"
check "SNPSEAL_CREDSTORE is used" sh -c '"$1" credential add envcred <"$2" >/dev/null' - "$SNPSEAL" "$WORK/secret"
check_eq "SNPSEAL_CREDSTORE: file written there" yes "$([ -f "$SNPSEAL_CREDSTORE/envcred.sealed" ] && echo yes)"

# ---------------------------------------------------------------- issue 12: messages and output
# A change is confirmed; --json answers in JSON.
check_output "credential add confirms on stderr" "^Sealed credential 'conf': $CS/conf.sealed; in the service's unit:\$" \
        sh -c '"$1" credential add conf --credstore="$2" <"$3" 2>&1 >/dev/null' - "$SNPSEAL" "$CS" "$WORK/secret"
check_output "credential remove --json" '"removed": true' "$SNPSEAL" --json credential remove conf --credstore="$CS"
# Empty input is named by the CLI, not by the agent's parameter.
check_fails "seal: empty input" '^snpseal: seal: the input is empty: nothing to seal$' \
        "$SNPSEAL" seal --purpose=cred/empty
check_fails "credential add: empty input" \
        '^snpseal: credential add: the secret on standard input is empty: nothing to seal$' \
        "$SNPSEAL" credential add empty --credstore="$CS"
# The agent's error names (InvalidParameter, NotPermitted, IdentityMismatch)
# are the protocol's: never in a message.
"$SNPSEAL" seal --purpose=cred/w --bind=policy,tcb_version <"$WORK/secret" >/dev/null 2>"$WORK/err1"
"$SNPSEAL" seal --purpose=cred/w --tcb=ffffffffffffffff <"$WORK/secret" >/dev/null 2>"$WORK/err2"
check_eq "no agent error names in messages" 0 \
        "$(cat "$WORK/err1" "$WORK/err2" | grep -ciE 'invalid parameter|not permitted:|identity mismatch|InvalidParameter|NotPermitted')"
check_eq "the refusals were printed" 2 "$(cat "$WORK/err1" "$WORK/err2" | grep -c '^snpseal: seal: ')"

# One JSON form per value (snpseal(1), JSON OUTPUT): the policy, the TCBs
# and the identity read the same in status, report and credential list.
if command -v jq >/dev/null; then
        "$SNPSEAL" status --json >"$WORK/st.json"
        "$SNPSEAL" report --json >"$WORK/rep.json"
        "$SNPSEAL" credential list --json --credstore="$CS" >"$WORK/cl.json"
        check_output "status --json: policy is 0x and 16 hex digits" '^0x[0-9a-f]{16}$' jq -r .policy "$WORK/st.json"
        check_eq "report --json: the same policy string" "$(jq -r .policy "$WORK/st.json")" \
                "$(jq -r .policy "$WORK/rep.json")"
        check_eq "credential list --json: the same policy in the identity" "$(jq -r .policy "$WORK/st.json")" \
                "$(jq -r '.[] | select(.id == "db") | .identity.policy' "$WORK/cl.json")"
        check_eq "report --json: policy_decoded carries the raw value" "$(jq -r .policy "$WORK/st.json")" \
                "$(jq -r .policy_decoded.raw "$WORK/rep.json")"
        check_eq "status --json: policy_decoded too" false "$(jq -r .policy_decoded.debug "$WORK/st.json")"
        check_eq "status and report: the same committed TCB string" "$(jq -r .committed_tcb "$WORK/st.json")" \
                "$(jq -r .committed_tcb "$WORK/rep.json")"
        check_eq "the identity's tcb in the same form" "$(jq -r .committed_tcb "$WORK/st.json")" \
                "$(jq -r '.[] | select(.id == "db") | .identity.tcb' "$WORK/cl.json")"
        check_eq "status --json: launch_tcb_decoded" 3 "$(jq -r .launch_tcb_decoded.boot_loader "$WORK/st.json")"
        check_eq "report --json: platform_info a string, decoded beside it" \
                "$(jq -r .platform_info "$WORK/st.json") true" \
                "$(jq -r '.platform_info + " " + (.platform_info_decoded.ecc_enabled | tostring)' "$WORK/rep.json")"
        check_eq "no value is an object where another command has a string" "" \
                "$(jq -r 'to_entries[] | select(.value | type == "object") | select(.key | endswith("_decoded") | not) | .key' \
                        "$WORK/st.json" "$WORK/rep.json" | grep -v '^cpuid$')"
        check_eq "the old status keys are gone" "null null" \
                "$(jq -r '[.policy_flags, .tcb_decoded] | map(tostring) | join(" ")' "$WORK/st.json")"
else
        echo "# jq not installed: the JSON form checks are skipped"
fi

# Issue 12, finding 11: on a terminal, credential add asks twice without
# echo and stores the secret without the newline.
if command -v python3 >/dev/null; then
        cat >"$WORK/answer-tty.py" <<'PY'
import os, pty, select, sys, time
# answer-tty.py ANSWER1 ANSWER2 CMD...: answer the prompts on a terminal; print what it showed
a1, a2, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""
def until(pat, t=20):
    global out
    end = time.time() + t
    while (pat is None or pat not in out) and time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            out += d
until(b": ")
os.write(fd, a1.encode() + b"\n")
if a2 != "-":
    until(b"(again): ")
    os.write(fd, a2.encode() + b"\n")
until(None, 10)
st = os.waitpid(pid, 0)[1]
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 99)
PY
        python3 "$WORK/answer-tty.py" tty-secret tty-secret "$SNPSEAL" credential add tty --credstore="$CS" >"$WORK/pty.out"
        check_eq "credential add on a terminal: exit 0" 0 "$?"
        check_output "it asks for the secret" "Secret for credential 'tty': " cat "$WORK/pty.out"
        check_output "and again" "Secret for credential 'tty' \(again\): " cat "$WORK/pty.out"
        check_eq "the secret is not echoed" 0 "$(grep -c tty-secret "$WORK/pty.out")"
        check_output "the unit setting follows" '^LoadCredential=tty:' tr -d '\r' <"$WORK/pty.out"
        printf 'tty-secret' >"$WORK/tty-secret"
        check "the credential holds the secret without the newline" \
                sh -c '"$1" unseal <"$2" | cmp - "$3"' - "$SNPSEAL" "$CS/tty.sealed" "$WORK/tty-secret"
        python3 "$WORK/answer-tty.py" one two "$SNPSEAL" credential add tty2 --credstore="$CS" >"$WORK/pty.out"
        check_eq "two different entries: exit 1" 1 "$?"
        check_output "two different entries: said so" 'credential add: the two entries do not match; nothing sealed' \
                cat "$WORK/pty.out"
        check_eq "two different entries: nothing written" no "$([ -e "$CS/tty2.sealed" ] && echo yes || echo no)"
        python3 "$WORK/answer-tty.py" "" - "$SNPSEAL" credential add tty3 --credstore="$CS" >"$WORK/pty.out"
        check_output "an empty entry is refused" 'credential add: the secret on standard input is empty' \
                cat "$WORK/pty.out"
else
        echo "# python3 not installed: the terminal checks are skipped"
fi

# ---------------------------------------------------------------- agent gone
stop_agent
check_fails "agent stopped: unreachable" "^snpseal: cannot reach the snpseal agent at $WORK/agent.sock: " \
        "$SNPSEAL" status

tap_done

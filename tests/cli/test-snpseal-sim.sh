#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# snpseal-sim: state file creation, every key class, every rejection path of
# `set` and of the loader, secrets hidden by `show`, the VCEK PEM, reboot.
# Run by `make check` (which sets top_srcdir and SNPSEAL_SIM); by hand:
#   top_srcdir=. SNPSEAL_SIM=_build/cli/snpseal-sim sh tests/cli/test-snpseal-sim.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

SIM=${SNPSEAL_SIM:-}
if [ -z "$SIM" ] || [ ! -x "$SIM" ]; then
        echo "SNPSEAL_SIM is not set to the snpseal-sim binary (got '$SIM')" >&2
        exit 1
fi

WORK=$(mktemp -d)
# tap.sh already removes its scratch file on exit: keep doing that too.
trap 'rm -f "$TAP_OUT"; rm -rf "$WORK"' EXIT
S=$WORK/state.json

# The string value of KEY in a state file (one key per line, as written).
file_value() { # FILE KEY
        sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1"
}
exit_code() {
        "$@" >/dev/null 2>&1
        echo $?
}

# ---------------------------------------------------------------- usage
check_output "--version prints the version" '^snpseal-sim [0-9]' "$SIM" --version
check_output "--help lists the commands" 'vcek-pem' "$SIM" --help
check_eq "no command is a usage error (exit 2)" 2 "$(exit_code "$SIM")"
check_eq "unknown command is a usage error (exit 2)" 2 "$(exit_code "$SIM" frobnicate "$S")"
check_fails "unknown command is named" 'unknown command "frobnicate"' "$SIM" frobnicate "$S"
check_eq "unknown option is a usage error (exit 2)" 2 "$(exit_code "$SIM" show --frob "$S")"
check_eq "missing FILE is a usage error (exit 2)" 2 "$(exit_code "$SIM" show)"

# ---------------------------------------------------------------- init
check "init creates the state file" "$SIM" init "$S"
check_eq "state file has mode 0600" 600 "$(stat -c %a "$S")"
check_output "state file has format 1" '^  "format": 1,$' cat "$S"
check_eq "no temp file left behind" 1 "$(ls "$WORK" | wc -l | tr -d ' ')"
chip1=$(file_value "$S" chip_secret)
check_output "chip secret is 64 hex digits" '^[0-9a-f]{64}$' echo "$chip1"
check_fails "init refuses to overwrite" 'already exists.*--force' "$SIM" init "$S"
check_eq "init without --force leaves the file alone" "$chip1" "$(file_value "$S" chip_secret)"
check "init --force replaces the file" "$SIM" init "$S" --force
chip2=$(file_value "$S" chip_secret)
check_output "init --force makes a new chip secret" '^[0-9a-f]{64}$' echo "$chip2"
if [ "$chip1" != "$chip2" ]; then r=ok; else r=same; fi
check_eq "the new chip secret differs" ok "$r"
check_output "default policy is 0x30000" '"policy": "0x30000"' "$SIM" show "$S" --json
check_output "default TCBs are Milan 03000000000008d1" '"committed_tcb": "03000000000008d1"' "$SIM" show "$S" --json
check_output "no VLEK by default" '"vlek": "\(none\)"' "$SIM" show "$S" --json

# ---------------------------------------------------------------- set: every key class
M=$(printf 'ab%.0s' $(seq 48))
V=$(printf '5a%.0s' $(seq 32))
H=$(printf 'c3%.0s' $(seq 32))
F=0123456789abcdef0123456789abcdef
check "set keys of every class" "$SIM" set "$S" \
        measurement="$M" vlek="$V" host_data="$H" family_id=$F image_id=FEDCBA9876543210FEDCBA9876543210 \
        policy=0x70000 guest_svn=4294967295 launch_tcb=04000000000009d2 committed_tcb=04000000000009d3 \
        current_tcb=05000000000009d4 reported_tcb=02000000000007d0 vmpl=3 platform_info=0x3f \
        cpuid_fam=0x1a cpuid_mod=17 cpuid_step=255 report_version=5 fw_version=1.58.0 \
        vmpck_disabled=1 fault=busy latency_ms=60000
for kv in "measurement\": \"$M" "host_data\": \"$H" "family_id\": \"$F" \
          'image_id": "fedcba9876543210fedcba9876543210' 'vlek": "\(set\)' 'policy": "0x70000' \
          'guest_svn": 4294967295' 'launch_tcb": "04000000000009d2' 'committed_tcb": "04000000000009d3' \
          'current_tcb": "05000000000009d4' 'reported_tcb": "02000000000007d0' 'vmpl": 3' \
          'platform_info": "0x3f' 'cpuid_fam": 26' 'cpuid_mod": 17' 'cpuid_step": 255' \
          'report_version": 5' 'fw_version": "1.58.0' 'vmpck_disabled": true' 'fault": "busy' \
          'latency_ms": 60000'; do
        check_output "show --json reflects ${kv%%\"*}" "\"$kv" "$SIM" show "$S" --json
done
check_eq "the VLEK is stored" "$V" "$(file_value "$S" vlek)"
check "policy in decimal, booleans as words, VLEK removed" "$SIM" set "$S" \
        policy=196608 vmpck_disabled=false fault=cmd_fail vlek= latency_ms=0
check_output "decimal policy stored" '"policy": "0x30000"' "$SIM" show "$S" --json
check_output "vmpck_disabled=false stored" '"vmpck_disabled": false' "$SIM" show "$S" --json
check_output "fault=cmd_fail stored" '"fault": "cmd_fail"' "$SIM" show "$S" --json
check_output "vlek= removes the VLEK" '"vlek": "\(none\)"' "$SIM" show "$S" --json
check "set fault=none" "$SIM" set "$S" fault=none vmpl=0
check_output "readable show lists every key" '^latency_ms +0$' "$SIM" show "$S"

# ---------------------------------------------------------------- set: rejections
check_fails "bad hex refused" 'measurement: not a hex string' \
        "$SIM" set "$S" measurement="$(printf 'zz%.0s' $(seq 48))"
check_fails "wrong hex length refused" 'measurement: expected 96 hex digits, got 4' "$SIM" set "$S" measurement=abcd
check_fails "wrong VLEK length refused" 'vlek: expected 64 hex digits' "$SIM" set "$S" vlek=abcd
check_fails "bad TCB refused" 'launch_tcb: .* is not a TCB' "$SIM" set "$S" launch_tcb=0300000000000gd1
check_fails "short TCB refused" 'committed_tcb: .* is not a TCB' "$SIM" set "$S" committed_tcb=03
check_fails "unknown key refused" 'unknown key "bogus"' "$SIM" set "$S" bogus=1
check_fails "vmpl 4 refused" 'vmpl: 4 is out of range \(0\.\.3\)' "$SIM" set "$S" vmpl=4
check_fails "negative number refused" 'guest_svn: "-1" is not a number' "$SIM" set "$S" guest_svn=-1
check_fails "guest_svn above 32 bits refused" 'guest_svn: 4294967296 is out of range' "$SIM" set "$S" guest_svn=4294967296
check_fails "policy with a reserved bit refused" 'policy: 0x4030000 sets reserved bits 63:26' "$SIM" set "$S" policy=0x4030000
check_fails "policy without bit 17 refused" 'policy: 0x10000 has bit 17 clear; bit 17 \(0x20000\) must be 1' "$SIM" set "$S" policy=0x10000
check_fails "policy that is not a number refused" 'policy: "smt" is not a number' "$SIM" set "$S" policy=smt
check_fails "report_version 7 refused" 'report_version: 7 is out of range \(2\.\.6\)' "$SIM" set "$S" report_version=7
check_fails "report_version 1 refused" 'report_version: 1 is out of range \(2\.\.6\)' "$SIM" set "$S" report_version=1
check_fails "latency_ms too large refused" 'latency_ms: 60001 is out of range \(0\.\.60000\)' "$SIM" set "$S" latency_ms=60001
check_fails "throttle_stall_ms too large refused" 'throttle_stall_ms: 60001 is out of range \(0\.\.60000\)' \
        "$SIM" set "$S" throttle_stall_ms=60001
check_fails "throttle_burst too large refused" 'throttle_burst: 1000001 is out of range \(0\.\.1000000\)' \
        "$SIM" set "$S" throttle_burst=1000001
check "the latency model and the request counter are state keys" \
        "$SIM" set "$S" latency_ms=8 throttle_burst=16 throttle_stall_ms=2000 count_requests=true
for kv in 'latency_ms": 8' 'throttle_burst": 16' 'throttle_stall_ms": 2000' 'count_requests": true'; do
        check_output "show --json reflects ${kv%%\"*}" "\"$kv" "$SIM" show "$S" --json
done
check "and back to none" "$SIM" set "$S" latency_ms=0 throttle_burst=0 throttle_stall_ms=0 count_requests=false
check_fails "cpuid_fam above 255 refused" 'cpuid_fam: 256 is out of range' "$SIM" set "$S" cpuid_fam=256
check_fails "bad boolean refused" 'vmpck_disabled: "yes" is not a boolean' "$SIM" set "$S" vmpck_disabled=yes
check_fails "unknown fault refused" 'fault: "crash" is not a fault \(none, busy, cmd_fail, bad_msg\)' "$SIM" set "$S" fault=crash
check "mask_chip_key, mask_chip_id and fault=bad_msg are state keys" \
        "$SIM" set "$S" mask_chip_key=true mask_chip_id=1 fault=bad_msg
check_output "and show" '"mask_chip_key": true' "$SIM" show "$S" --json
check_output "and show mask_chip_id" '"mask_chip_id": true' "$SIM" show "$S" --json
check_output "and show the fault" '"fault": "bad_msg"' "$SIM" show "$S" --json
check "reset them" "$SIM" set "$S" mask_chip_key=false mask_chip_id=0 fault=none
check_fails "bad mask_chip_key refused" 'mask_chip_key: "on" is not a boolean' "$SIM" set "$S" mask_chip_key=on
check_fails "bad firmware version refused" 'fw_version: "1.55" is not a firmware version' "$SIM" set "$S" fw_version=1.55
check_fails "firmware version part above 255 refused" 'fw_version: "1.256.0" is not a firmware version' "$SIM" set "$S" fw_version=1.256.0
check_fails "firmware version with an empty part refused" 'fw_version: "1..2" is not' "$SIM" set "$S" fw_version=1..2
check_fails "format is not settable" 'unknown key "format"' "$SIM" set "$S" format=2
check_fails "missing '=' refused" 'set: "vmpl": expected KEY=VALUE' "$SIM" set "$S" vmpl
check_eq "missing '=' is a usage error (exit 2)" 2 "$(exit_code "$SIM" set "$S" vmpl)"
check_fails "set without pairs is a usage error" 'set: missing arguments' "$SIM" set "$S"
check_fails "set on a missing file fails" 'nonexistent.json: cannot open' "$SIM" set "$WORK/nonexistent.json" vmpl=1

# ---------------------------------------------------------------- set: all or nothing
cp "$S" "$WORK/before.json"
check_fails "one bad pair fails the whole set" 'measurement: expected 96 hex digits.*left unchanged' \
        "$SIM" set "$S" vmpl=2 guest_svn=7 measurement=00
check "nothing was written" cmp "$S" "$WORK/before.json"
check_fails "a pair without '=' fails before anything is applied" 'expected KEY=VALUE' \
        "$SIM" set "$S" vmpl=2 oops
check "still nothing written" cmp "$S" "$WORK/before.json"

# ---------------------------------------------------------------- show hides secrets
check "set a VLEK for the secrecy checks" "$SIM" set "$S" vlek="$V"
chip=$(file_value "$S" chip_secret)
vmrk=$(file_value "$S" vmrk)
"$SIM" show "$S" >"$WORK/show.txt" 2>&1
"$SIM" show "$S" --json >"$WORK/show.json" 2>&1
for what in chip_secret vmrk vlek; do
        case $what in
        chip_secret) secret=$chip ;;
        vmrk) secret=$vmrk ;;
        vlek) secret=$V ;;
        esac
        if grep -qi "$secret" "$WORK/show.txt" "$WORK/show.json"; then r=leaked; else r=hidden; fi
        check_eq "show and show --json do not print the $what" hidden "$r"
done
check_output "show marks the chip secret as (set)" '^chip_secret +\(set\)$' cat "$WORK/show.txt"
check_output "show marks the VLEK as (set)" '^vlek +\(set\)$' cat "$WORK/show.txt"
check_output "show --json marks the VMRK as (set)" '"vmrk": "\(set\)"' cat "$WORK/show.json"

# ---------------------------------------------------------------- vcek-pem
"$SIM" vcek-pem "$S" >"$WORK/vcek.pem" 2>"$WORK/vcek.err"
rc=$?
check_eq "vcek-pem succeeds" 0 "$rc"
check_output "vcek-pem prints a PEM public key" '^-----BEGIN PUBLIC KEY-----$' cat "$WORK/vcek.pem"
if command -v openssl >/dev/null 2>&1; then
        check_output "openssl accepts the VCEK as a P-384 key" 'NIST CURVE: P-384|ASN1 OID: secp384r1' \
                openssl pkey -pubin -in "$WORK/vcek.pem" -noout -text
else
        echo "# openssl not found: skipping the PEM parse check"
fi
"$SIM" vcek-pem "$S" >"$WORK/vcek2.pem" 2>&1
check "vcek-pem is deterministic" cmp "$WORK/vcek.pem" "$WORK/vcek2.pem"
if "$SIM" vcek-pem "$S" | grep -qi "$chip"; then r=leaked; else r=hidden; fi
check_eq "vcek-pem does not print the chip secret" hidden "$r"

# ---------------------------------------------------------------- chain
C=$WORK/chain-state.json
"$SIM" init "$C" >/dev/null
check_eq "chain prints three certificates" 3 "$("$SIM" chain "$C" | grep -c -- '-----BEGIN CERTIFICATE-----')"
check_eq "chain --ark prints one" 1 "$("$SIM" chain --ark "$C" | grep -c -- '-----BEGIN CERTIFICATE-----')"
if command -v openssl >/dev/null 2>&1; then
        "$SIM" chain --ark "$C" >"$WORK/ark.pem"
        "$SIM" chain "$C" >"$WORK/chain.pem"
        check_output "the simulated ARK says what it is" 'CN ?= ?ARK-Milan' openssl x509 -in "$WORK/ark.pem" -noout -subject
        check_output "its organisation is the simulator" 'O ?= ?snpseal simulator' openssl x509 -in "$WORK/ark.pem" -noout -subject
        check_output "the leaf is a VCEK" 'CN ?= ?SEV-VCEK' openssl x509 -in "$WORK/chain.pem" -noout -subject
        check_output "openssl verifies the chain under the simulated ARK" 'OK' \
                openssl verify -CAfile "$WORK/ark.pem" -untrusted "$WORK/chain.pem" "$WORK/chain.pem"
        "$SIM" set "$C" vlek="$V" >/dev/null
        "$SIM" chain "$C" >"$WORK/vchain.pem"
        check_output "with a VLEK, the leaf is the VLEK" 'CN ?= ?SEV-VLEK$' openssl x509 -in "$WORK/vchain.pem" -noout -subject
        "$SIM" set "$C" vlek= >/dev/null
fi
check_eq "chain FILE missing: exit 1" 1 "$(exit_code "$SIM" chain "$WORK/nonexistent.json")"
check_eq "chain --frob: usage (exit 2)" 2 "$(exit_code "$SIM" chain --frob "$C")"

# ---------------------------------------------------------------- reboot
check "set vmpck_disabled before reboot" "$SIM" set "$S" vmpck_disabled=true
check "reboot" "$SIM" reboot "$S"
vmrk2=$(file_value "$S" vmrk)
check_output "the new VMRK is 64 hex digits" '^[0-9a-f]{64}$' echo "$vmrk2"
if [ -n "$vmrk2" ] && [ "$vmrk" != "$vmrk2" ]; then r=changed; else r=unchanged; fi
check_eq "reboot changes the VMRK" changed "$r"
check_eq "reboot keeps the chip secret" "$chip" "$(file_value "$S" chip_secret)"
check_output "reboot enables the message key again" '"vmpck_disabled": false' "$SIM" show "$S" --json
check_eq "reboot keeps mode 0600" 600 "$(stat -c %a "$S")"

# ---------------------------------------------------------------- the loader on hostile files
bad() { # NAME PATTERN: the loader must refuse $WORK/bad.json with PATTERN
        check_fails "load refuses $1" "$2" "$SIM" show "$WORK/bad.json"
}
edit() { # SED-SCRIPT: bad.json = the good state file edited
        sed "$1" "$S" >"$WORK/bad.json"
}
edit 's/^  "vmpl": 0,$/  "vmpl": 0,\n  "colour": "blue",/'
bad "an unknown key" 'unknown key "colour"'
edit 's/^  "vmpl": 0,$/  "vmpl": "0",/'
bad "a string for a number" 'vmpl: expected a number, got string'
edit 's/^  "guest_svn": [0-9]*,$/  "guest_svn": 1.5,/'
bad "a floating-point number" 'guest_svn: expected a number, got double'
edit 's/^  "vmpl": 0,$/  "vmpl": -1,/'
bad "a negative number" 'vmpl: must not be negative'
edit 's/^  "vmpl": 0,$/  "vmpl": 4,/'
bad "vmpl 4" 'vmpl: 4 is out of range'
edit 's/^  "vmpck_disabled": false,$/  "vmpck_disabled": 0,/'
bad "a number for a boolean" 'vmpck_disabled: expected a boolean, got int'
edit 's/^  "measurement": "[0-9a-f]*",$/  "measurement": "abcd",/'
bad "a short measurement" 'measurement: expected 96 hex digits, got 4'
edit 's/^  "launch_tcb": "[0-9a-f]*",$/  "launch_tcb": "0x3",/'
bad "a bad TCB" 'launch_tcb: "0x3" is not a TCB'
edit 's/^  "policy": "[0-9a-fx]*",$/  "policy": "0x10000",/'
bad "a policy without bit 17" 'policy: 0x10000 has bit 17 clear'
edit 's/^  "chip_secret": "[0-9a-f]*",$/  "chip_secret": ["x"],/'
bad "an array for a string" 'chip_secret: expected a string, got array'
edit '/^  "vmrk": /d'
bad "a missing key" 'vmrk: missing'
edit 's/^  "format": 1,$/  "format": 2,/'
bad "format 2" 'format: unsupported version 2'
edit '/^  "format": 1,$/d'
bad "a missing format" 'format: missing'
edit 's/^  "fault": .*$/  "fault": "cmd_fail\\u0000x",/'
bad "a NUL inside a string" 'fault: contains a NUL character'
edit 's/^}$/} {}/'
bad "data after the object" 'data after the object'
edit '$d'
bad "a truncated file" 'not valid JSON'
edit 's/^  "vmpl": 0,$/  "vmpl": 0,,/'
bad "a syntax error" 'not valid JSON'
edit 's/^  "fault": .*$/  "fault": "none", \/* comment *\//'
bad "a comment (strict JSON only)" 'not valid JSON'
printf '[1, 2]\n' >"$WORK/bad.json"
bad "an array at the top" 'not a JSON object'
printf '{"format": 1, "x": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}\n' >"$WORK/bad.json"
bad "deep nesting" 'not valid JSON: nesting too deep'
head -c 70000 /dev/zero | tr '\0' ' ' >"$WORK/bad.json"
bad "a file above 64 KiB" 'larger than 65536 bytes'
printf '{"format": 1\0}' >"$WORK/bad.json"
bad "a NUL byte in the file" 'contains a NUL byte'
bad_dir=$WORK/adir
mkdir "$bad_dir"
check_fails "load refuses a directory" 'adir: not a regular file' "$SIM" show "$bad_dir"
# Optional keys may be absent: vlek, vmpck_disabled, mask_chip_key, mask_chip_id, fault, latency_ms,
# throttle_burst, throttle_stall_ms, count_requests.
sed -e '/"vlek"\|"vmpck_disabled"\|"mask_chip_key"\|"mask_chip_id"\|"fault"\|"latency_ms"\|"throttle_burst"\|"throttle_stall_ms"\|"count_requests"/d' \
    -e 's/^\(  "fw_version": "[0-9.]*"\),$/\1/' "$S" >"$WORK/min.json"
check_output "load accepts a file without the optional keys" '^fault +none$' "$SIM" show "$WORK/min.json"

tap_done

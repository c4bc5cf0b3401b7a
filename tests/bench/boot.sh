#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark: what unlocking a data volume at boot through the snpseal token
# costs, against the systemd-tpm2 token on the same volume (the anchor users
# would pick instead), in the same Debian guest under QEMU: Debian 12
# (bookworm) and Debian 13 (trixie), one report each.
#
# The guest is the one of tests/vm/test-boot.sh case 1 (snpseal installed,
# the agent on the simulator, /data from crypttab and fstab) with swtpm as its
# TPM (tpm-tis) and the TPM2 TSS libraries systemd dlopens. One data volume
# carries both tokens: the snpseal token, enrolled on the host through the
# CLI (as test-boot.sh does), and a systemd-tpm2 token, enrolled inside the
# guest in a first boot by systemd-cryptenroll with no PCRs (a direct kernel
# boot measures nothing worth binding to). Each variant then boots a copy of
# that volume with the other token (and its keyslot) removed: systemd-cryptsetup
# tries every token first, in ID order, whatever crypttab says, so only a
# volume with one token says for sure which one opened it. N boots of each
# variant, in turns (snpseal, tpm2, snpseal, …), each from pristine copies:
#   snpseal  crypttab "data UUID=… none luks,headless=true"; checked: the
#            agent logged a successful DeriveKey for systemd-cryptsetup's PID
#   tpm2     crypttab "… none luks,tpm2-device=auto,headless=true" (what
#            systemd-cryptenroll's users write), snpseal's drop-in for
#            systemd-cryptsetup@.service masked; checked: snpseald never ran
#            and nobody asked it for a key (headless: no passphrase either)
# Both tokens' keyslots are PBKDF2-SHA512 with 1000 iterations (systemd-
# cryptenroll's minimal PBKDF for a TPM2 key, snpseal's for its own).
# It prints, per boot and as medians and spreads, the unlock time (Finished −
# Starting systemd-cryptsetup@data.service in PID 1's journal), the ratio
# snpseal / systemd-tpm2, when the volume was open (Finished, seconds since
# the kernel started: the unlock's place in the boot), the agent's start
# (Started − Starting snpseald.service) and when it began relative to the
# unlock (Starting snpseald.service − Starting systemd-cryptsetup@data.service:
# negative when the agent was started ahead of the unlock, as the
# systemd-cryptsetup@.service drop-in does, docs/UNITS.md), the wall time of
# each boot and the host's load average when it began (other work on the
# host slows both variants; the turns spread it over both). Informational:
# the clock never fails it; it exits 1 only when something does not work (a
# boot that does not unlock the way it should), 77 when it cannot run here.
#
#   make bench                 (in the build directory, as root)
#   top_srcdir=. top_builddir=_build SNPSEAL_SIM=… SNPSEALD=… SNPSEAL=… \
#       bash tests/bench/boot.sh [SUITE...]
#
# SUITE: the guests' Debian suite (tests/vm/vm-lib.sh's vm_use_suite), bookworm
# or trixie; several run one after the other, each in SNPSEAL_VM_WORK/SUITE.
# Without one, those of SNPSEAL_BENCH_SUITES (default "bookworm trixie").
#
# Needs root, qemu-system-x86_64 (package qemu-system-x86), mmdebstrap,
# e2fsprogs, cryptsetup, swtpm and swtpm_setup (packages swtpm swtpm-tools),
# and network access to a Debian mirror the first time (the guest tree and
# the TSS packages, TSS_PACKAGES below, are cached in SNPSEAL_VM_CACHE). Each
# boot takes a minute or more under TCG.
#
# Environment: SNPSEAL_BENCH_BOOTS (boots per variant, default 3),
# SNPSEAL_BENCH_SETTLED (settled unlocks per boot, default 3: after the boot
# the volume is closed, the agent stopped and the unlock started again),
# SNPSEAL_BENCH_SUITES, SNPSEAL_VM_DEBS_TRIXIE (.debs built on Debian 13 for
# its guests); SNPSEAL_BENCH_APPEND (more of the guests' kernel command line:
# snpseal.journal=full puts each boot's whole journal in its report, as "F"
# lines, for a look at where a boot's time went);
# SNPSEAL_VM_WORK (default $top_builddir/tests/bench/boot-work, not the boot
# tests' directory: both may run at once), SNPSEAL_VM_CACHE and the other
# settings of tests/vm/vm-lib.sh.
set -uo pipefail
export LC_ALL=C

skip() {
        echo "SKIP: $*" >&2
        exit 77
}
fail() {
        echo "bench FAILED: $*" >&2
        exit 1
}

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
: "${top_srcdir:=$(cd "$(dirname "$self")/../.." && pwd)}"
: "${top_builddir:?top_builddir is not set (run make bench in the build directory)}"
: "${SNPSEAL_SIM:=$top_builddir/cli/snpseal-sim}"
: "${SNPSEALD:=$top_builddir/agent/snpseald}"
: "${SNPSEAL:=$top_builddir/cli/snpseal}"
: "${SNPSEAL_VM_WORK:=$top_builddir/tests/bench/boot-work}"
export top_srcdir top_builddir SNPSEAL_SIM SNPSEALD SNPSEAL SNPSEAL_VM_WORK
boots=${SNPSEAL_BENCH_BOOTS:-3}
settled=${SNPSEAL_BENCH_SETTLED:-3}
[ $# -gt 0 ] || set -- ${SNPSEAL_BENCH_SUITES:-bookworm trixie}
if [ $# -gt 1 ]; then
        # One run per suite, each in a directory of its own; 77 only when
        # every suite was skipped, 1 when one failed.
        rc=77
        for suite in "$@"; do
                echo "=== boot benchmark, suite $suite" >&2
                SNPSEAL_VM_WORK=$SNPSEAL_VM_WORK/$suite bash "$self" "$suite"
                case $? in
                0) [ "$rc" -eq 1 ] || rc=0 ;;
                77) ;;
                *) rc=1 ;;
                esac
        done
        exit "$rc"
fi
SUITE=$1
case $SUITE in
bookworm) DEBIAN=12 ;;
trixie) DEBIAN=13 ;;
*) fail "unknown suite '$SUITE' (bookworm or trixie)" ;;
esac
case $boots in
''|*[!0-9]*|0) fail "SNPSEAL_BENCH_BOOTS must be a positive number, not '$boots'" ;;
esac
case $settled in
''|*[!0-9]*) fail "SNPSEAL_BENCH_SETTLED must be a number, not '$settled'" ;;
esac

# The TSS libraries systemd dlopens for TPM2 (esys, rc, mu) and the TCTI it
# loads for /dev/tpmrm0; apt adds their dependencies. Debian 13 renamed them
# (64-bit time_t, tpm2-tss 4).
case $SUITE in
bookworm) TSS_PACKAGES="libtss2-esys-3.0.2-0 libtss2-rc0 libtss2-mu0 libtss2-tcti-device0" ;;
trixie) TSS_PACKAGES="libtss2-esys-3.0.2-0t64 libtss2-rc0t64 libtss2-mu-4.0.1-0t64 libtss2-tcti-device0t64" ;;
esac

[ "$(id -u)" -eq 0 ] || skip "needs root (guest trees, chroot, mounts in a private namespace)"
command -v swtpm >/dev/null 2>&1 || skip "swtpm is not installed (packages swtpm swtpm-tools)"
command -v swtpm_setup >/dev/null 2>&1 || skip "swtpm_setup is not installed (package swtpm-tools)"
for f in "$SNPSEAL_SIM" "$SNPSEALD" "$SNPSEAL"; do
        [ -x "$f" ] || fail "$f is not built"
done
# shellcheck source=../luks/luks-env.sh
. "$top_srcdir/tests/luks/luks-env.sh"
# shellcheck source=../vm/vm-lib.sh
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_init
case $? in
0) ;;
77) exit 77 ;; # vm_init said why
*) fail "cannot set up the VM work directory $SNPSEAL_VM_WORK" ;;
esac
vm_use_suite "$SUITE" || fail "cannot use the suite $SUITE"
# Debian 13 guests take .debs built on Debian 13 when given, as
# tests/vm/test-boot-debian13.sh does (SNPSEAL_VM_DEBS_TRIXIE); else vm_stage
# builds them here.
[ "$SUITE" != trixie ] || [ -z "${SNPSEAL_VM_DEBS_TRIXIE:-}" ] || SNPSEAL_VM_DEBS=$SNPSEAL_VM_DEBS_TRIXIE
# (grep >/dev/null, not -q: with pipefail, an early exit fails the pipe)
qemu-system-x86_64 -device help 2>/dev/null | grep '"tpm-tis"' >/dev/null ||
        skip "this qemu-system-x86_64 has no tpm-tis device"
W=$VM_WORK
# VM_QEMU_ARGS is split on blanks.
case $W in *[[:space:]]*) skip "the work directory '$W' contains blanks (set SNPSEAL_VM_WORK)" ;; esac
luks_env_init
case $? in
0) ;;
77) exit 77 ;;
*) fail "the LUKS test environment cannot be set up" ;;
esac

SWTPM_PID=
tpm_stop() {
        [ -n "$SWTPM_PID" ] || return 0
        # It may have ended with QEMU's connection: kill only our swtpm.
        if [ "$(cat "/proc/$SWTPM_PID/comm" 2>/dev/null)" != swtpm ]; then
                SWTPM_PID=
                return 0
        fi
        kill "$SWTPM_PID" 2>/dev/null
        local i=0
        while kill -0 "$SWTPM_PID" 2>/dev/null && [ "$i" -lt 50 ]; do
                sleep 0.1
                i=$((i + 1))
        done
        [ "$(cat "/proc/$SWTPM_PID/comm" 2>/dev/null)" != swtpm ] || kill -9 "$SWTPM_PID" 2>/dev/null
        SWTPM_PID=
        return 0
}
trap 'tpm_stop; luks_env_cleanup >/dev/null 2>&1' EXIT
trap 'exit 129' HUP INT PIPE TERM

# ---------------------------------------------------------------- helpers
# Run a preparation step quietly; on failure show its output and stop.
step() { # WHAT CMD...
        local what=$1
        shift
        echo "bench: $what" >&2
        "$@" >"$W/step.log" 2>&1 && return 0
        tail -n 30 "$W/step.log" >&2
        fail "$what"
}

randhex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# The TSS debs for the guest: from the cache, else downloaded by apt inside
# the tree (its lists refreshed), then cached. Keyed to the base tree's
# stamp and inode (a rebuilt base gets fresh packages). Into TREE/var/tmp/debs.
tss_debs() { # TREE
        local tree=$1 base cache want
        base=$(vm_base initramfs-tools) || return 1
        cache=$VM_CACHE/bench-tss-debs-$VM_SUITE
        want="$(cat "$base.stamp") $(stat -c %i "$base") $TSS_PACKAGES"
        rm -rf "$tree/var/tmp/debs" && mkdir -p "$tree/var/tmp/debs" || return 1
        if [ "$(cat "$cache.stamp" 2>/dev/null)" = "$want" ] && ls "$cache"/*.deb >/dev/null 2>&1; then
                cp "$cache"/*.deb "$tree/var/tmp/debs/"
                return
        fi
        cp /etc/resolv.conf "$tree/etc/resolv.conf" || return 1
        # shellcheck disable=SC2086 # a list of packages
        vm_chroot "$tree" apt-get update -q &&
                vm_chroot "$tree" apt-get install -y -q --no-install-recommends --download-only $TSS_PACKAGES
        local rc=$?
        rm -f "$tree/etc/resolv.conf"
        [ "$rc" -eq 0 ] || return 1
        mv "$tree"/var/cache/apt/archives/*.deb "$tree/var/tmp/debs/" || return 1
        rm -rf "$cache" "$cache.stamp" && mkdir -p "$cache" && cp "$tree"/var/tmp/debs/*.deb "$cache/" &&
                echo "$want" >"$cache.stamp"
}

tss_install() { # TREE
        tss_debs "$1" || return 1
        # One dpkg call: the debs depend on each other, not on anything absent.
        vm_chroot "$1" sh -c 'dpkg -i /var/tmp/debs/*.deb' || return 1
        rm -rf "$1/var/tmp/debs"
        ls "$1/usr/lib/$VM_ARCH_TRIPLET"/libtss2-esys.so.0 "$1/usr/lib/$VM_ARCH_TRIPLET"/libtss2-tcti-device.so.0
}

# The first boot enrolls the systemd-tpm2 token with the TPM's own state.
ENROLL_UNIT=snpseal-bench-tpm2-enroll.service
write_enroll_unit() { # TREE
        cat >"$1/etc/systemd/system/$ENROLL_UNIT" <<EOF
# Benchmark image only (tests/bench/boot.sh): enroll the data volume's
# systemd-tpm2 token, no PCRs, unlocking it with the passphrase.
[Unit]
Description=snpseal benchmark: enroll a systemd-tpm2 token on /dev/vdb
Requires=dev-vdb.device
After=dev-vdb.device
Before=multi-user.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/systemd-cryptenroll --unlock-key-file=/etc/snpseal-bench/data.pass --tpm2-device=auto --tpm2-pcrs= /dev/vdb
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
}

# Both variants wait up to 10 minutes for the data volume's disk and its
# mapping (x-systemd.device-timeout=): a TCG guest on a loaded host can take
# longer than systemd's default 90 s to find them (seen with Debian 13), and
# the wait is not part of the measured unlock.
set_crypttab() { # TREE OPTIONS (empty: no data volume)
        if [ -n "$2" ]; then
                echo "data UUID=$DATA_UUID none $2,x-systemd.device-timeout=600" >"$1/etc/crypttab"
                printf '/dev/vda / ext4 rw 0 1\n/dev/mapper/data /data ext4 defaults,x-systemd.device-timeout=600 0 2\n' \
                        >"$1/etc/fstab"
        else
                : >"$1/etc/crypttab"
                printf '/dev/vda / ext4 rw 0 1\n' >"$1/etc/fstab"
        fi
}

tpm_start() { # LOG
        tpm_stop
        rm -f "$W/swtpm.sock" "$W/swtpm.pid"
        swtpm socket --tpm2 --tpmstate dir="$W/tpm" --ctrl type=unixio,path="$W/swtpm.sock" \
                --pid file="$W/swtpm.pid" --log file="$1" --daemon || return 1
        SWTPM_PID=$(cat "$W/swtpm.pid" 2>/dev/null)
        [ -n "$SWTPM_PID" ] && [ -S "$W/swtpm.sock" ]
}

# The first boot of NAME's report that says why it went wrong.
boot_explain() { # NAME ERE
        if [ -n "$(vm_fact "$1" up)" ]; then
                echo "journal of boot $1 ($W/$1.report):"
                vm_journal "$1" "$2" | tail -n 25
        else
                echo "boot $1 sent no report; end of its console ($W/$1.console):"
                tr -d '\r' <"$W/$1.console" 2>/dev/null | tail -n 25
        fi
}

# Boot NAME from ROOT-IMG and DATA-IMG with the TPM, SETTLED unlocks after
# the boot (vmtest-report); fail unless the guest reported completely and
# powered off.
boot() { # NAME ROOT-IMG DATA-IMG [SETTLED]
        tpm_start "$W/$1.swtpm.log" || fail "swtpm did not start (state $W/tpm, log $W/$1.swtpm.log)"
        VM_QEMU_ARGS="-chardev socket,id=chrtpm,path=$W/swtpm.sock -tpmdev emulator,id=tpm0,chardev=chrtpm"
        VM_QEMU_ARGS="$VM_QEMU_ARGS -device tpm-tis,tpmdev=tpm0"
        echo "bench: boot $1" >&2
        vm_boot "$1" "$T" "root=/dev/vda rw snpseal.settled-unlock=${4:-0} ${SNPSEAL_BENCH_APPEND:-}" "$2" "$3"
        local rc=$?
        VM_QEMU_ARGS=
        tpm_stop
        [ "$rc" -eq 0 ] || fail "boot $1: qemu ended with status $rc ($W/$1.qemu, $W/$1.console)"
        tr -d '\r' <"$W/$1.report" | grep -x 'VMTEST end' >/dev/null ||
                { boot_explain "$1" .; fail "boot $1: no complete report from the guest"; }
}

# Seconds from event A to event B of boot NAME ("" when either is missing).
span() { # NAME A B
        local a z
        a=$(vm_fact "$1" t "$2") z=$(vm_fact "$1" t "$3")
        case "$a$z" in *none*|"") return 0 ;; esac
        awk -v a="$a" -v z="$z" 'BEGIN { printf "%.3f\n", z - a }'
}

# The unlock of boot NAME worked: the unit succeeded, the file reads back.
check_unlocked() { # NAME
        local state
        state=$(vm_fact "$1" unit systemd-cryptsetup@data.service)
        [ "$state" = "active success" ] ||
                { boot_explain "$1" 'cryptsetup|snpseal|tpm|TPM'; fail "boot $1: systemd-cryptsetup@data.service is '$state'"; }
        [ "$(vm_fact "$1" data-file)" = "$MARKER" ] ||
                { boot_explain "$1" 'data'; fail "boot $1: /data/hello.txt does not read back"; }
}

# The snpseal token opened it: the agent derived the key for this
# systemd-cryptsetup (SO_PEERCRED PID in the agent's log line).
check_snpseal() { # NAME
        local pid
        pid=$(vm_fact "$1" pid systemd-cryptsetup@data.service)
        [ -n "$pid" ] && [ -n "$(vm_journal "$1" \
                "snpseald\[[0-9]+\]: io\.snpseal\.Agent\.DeriveKey from uid 0 pid $pid\b.*: ok$")" ] ||
                { boot_explain "$1" 'snpseal|cryptsetup'; fail "boot $1: no successful DeriveKey from systemd-cryptsetup (pid '$pid')"; }
}

# The TPM opened it: snpseald never ran, no DeriveKey; the journal shows
# systemd-cryptsetup's TPM2 path.
check_tpm2() { # NAME
        [ "$(vm_fact "$1" ran snpseald.service)" = no ] ||
                { boot_explain "$1" 'snpseal'; fail "boot $1: snpseald ran in a systemd-tpm2 boot"; }
        [ -z "$(vm_journal "$1" 'DeriveKey')" ] ||
                { boot_explain "$1" 'snpseal'; fail "boot $1: the agent was asked for a key in a systemd-tpm2 boot"; }
}

# The settled unlocks of boot NAME, one per line (seconds); fail when one
# failed or is missing. For snpseal, each one asked the agent (one
# successful DeriveKey for the boot's unlock, one more per settled unlock).
settled_unlocks() { # NAME VARIANT
        local i v n
        for ((i = 1; i <= settled; i++)); do
                v=$(vm_fact "$1" settled-unlock "$i")
                case $v in
                ''|*[!0-9.]*)
                        boot_explain "$1" 'cryptsetup|snpseal|tpm|TPM' >&2
                        fail "boot $1: settled unlock $i: '${v:-missing}'" ;;
                esac
                echo "$v"
        done
        [ "$2" = snpseal ] || return 0
        n=$(vm_journal "$1" 'snpseald\[[0-9]+\]: io\.snpseal\.Agent\.DeriveKey from uid 0 .*: ok$' | wc -l)
        [ "$n" -ge $((settled + 1)) ] ||
                { boot_explain "$1" 'snpseal|cryptsetup' >&2; fail "boot $1: $n successful DeriveKeys for 1 + $settled unlocks"; }
}

# "ID TYPE" of each token in a luksDump.
token_list() { # LUKSDUMP-FILE
        sed -n '/^Tokens:/,/^Digests:/s/^ *\([0-9][0-9]*\): *\([a-z0-9-]*\)$/\1 \2/p' "$1"
}

# DST: a copy of SRC without token DROP and its keyslot, so that TYPE's is the
# only token left.
only_token() { # SRC DST DROP TYPE
        local slot left
        cp --sparse=always "$1" "$2" || return 1
        slot=$(cryptsetup token export --token-id "$3" "$2" | sed -n 's/.*"keyslots":\["\([0-9]*\)".*/\1/p')
        [ -n "$slot" ] || { echo "token $3 of $2 names no keyslot"; return 1; }
        cryptsetup token remove --token-id "$3" "$2" &&
                cryptsetup luksKillSlot --batch-mode --key-file "$W/data.pass" "$2" "$slot" || return 1
        cryptsetup luksDump "$2" >"$2.dump" || return 1
        left=$(token_list "$2.dump" | awk '{ print $2 }' | tr '\n' ' ')
        [ "$left" = "$4 " ] || { echo "tokens left on $2: $left(expected $4 only)"; return 1; }
}

median() {
        sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------- preparation
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
step "guest tree (mmdebstrap, cached in $VM_CACHE)" vm_base initramfs-tools
step "snpseal's .debs for the guest" vm_stage
luks_agent_start >"$W/agent-start.log" 2>&1 || { cat "$W/agent-start.log" >&2; fail "the host agent did not start"; }
cp "$LUKS_STATE" "$W/state0.json"

DATA_UUID=$(cat /proc/sys/kernel/random/uuid)
MARKER="written-on-the-host-$(randhex 8)"
rm -rf "$W/datasrc" && mkdir -p "$W/datasrc" && echo "$MARKER" >"$W/datasrc/hello.txt"
randhex 16 >"$W/data.pass"
step "data file system image" vm_image "$W/datasrc" "$W/data.img" 32
step "data image encrypted (LUKS2, offline)" vm_luks_image "$W/data.img" "$DATA_UUID" "$W/data.pass"
step "snpseal token enrolled on the data volume (host)" \
        luks_in_ns "$SNPSEAL" enroll --unlock-key-file="$W/data.pass" "$W/data.img"

T=$W/tree
step "guest tree with snpseal (test-boot.sh case 1)" vm_tree initramfs-tools "$T" "$W/state0.json"
step "TSS libraries in the guest ($TSS_PACKAGES)" tss_install "$T"

# The enrollment image: the passphrase and the oneshot unit, no data volume in
# crypttab. The measured images have neither.
install -d -m 0700 "$T/etc/snpseal-bench" && install -m 0600 "$W/data.pass" "$T/etc/snpseal-bench/data.pass"
write_enroll_unit "$T"
systemctl --root="$T" --quiet enable "$ENROLL_UNIT" || fail "cannot enable $ENROLL_UNIT in the guest tree"
set_crypttab "$T" ""
step "root image (systemd-tpm2 enrollment)" vm_image "$T" "$W/root-enroll.img"
systemctl --root="$T" --quiet disable "$ENROLL_UNIT" && rm -rf "$T/etc/snpseal-bench" \
        "$T/etc/systemd/system/$ENROLL_UNIT" || fail "cannot remove the enrollment from the guest tree"
set_crypttab "$T" "luks,headless=true"
step "root image (snpseal token)" vm_image "$T" "$W/root-snpseal.img"
# The systemd-tpm2 guest is one that does not use snpseal at boot: the drop-in
# that starts the agent for every encrypted volume is masked, the way an
# administrator turns it off (docs/UNITS.md), so the agent never runs there.
set_crypttab "$T" "luks,tpm2-device=auto,headless=true"
DROPIN_MASK=$T/etc/systemd/system/systemd-cryptsetup@.service.d/snpseal.conf
mkdir -p "${DROPIN_MASK%/*}" && ln -sf /dev/null "$DROPIN_MASK" || fail "cannot mask the drop-in in the guest tree"
step "root image (systemd-tpm2 token)" vm_image "$T" "$W/root-tpm2.img"
rm -f "$DROPIN_MASK"

# A vTPM as a hypervisor would make one: manufactured, with endorsement keys.
mkdir -p "$W/tpm"
step "swtpm state (swtpm_setup --tpm2 --createek)" swtpm_setup --tpm2 --tpmstate "$W/tpm" --createek

boot enroll "$W/root-enroll.img" "$W/data.img"
cryptsetup luksDump "$W/data.img" >"$W/luksdump.txt" 2>&1 || fail "cryptsetup luksDump $W/data.img failed"
tokens=$(token_list "$W/luksdump.txt")
snp_token=$(echo "$tokens" | awk '$2 == "snpseal" { print $1; exit }')
tpm_token=$(echo "$tokens" | awk '$2 == "systemd-tpm2" { print $1; exit }')
if [ -z "$tpm_token" ]; then
        echo "console of the enrollment boot:" >&2
        tr -d '\r' <"$W/enroll.console" | grep -E 'cryptenroll|TPM|tpm|enroll' | tail -n 20 >&2
        fail "the enrollment boot added no systemd-tpm2 token to the data volume"
fi
[ -n "$snp_token" ] || fail "the data volume has no snpseal token (tokens: $(echo "$tokens" | tr '\n' ' '))"
step "data volume with the snpseal token only" only_token "$W/data.img" "$W/data-snpseal.img" "$tpm_token" snpseal
step "data volume with the systemd-tpm2 token only" only_token "$W/data.img" "$W/data-tpm2.img" "$snp_token" \
        systemd-tpm2

# ---------------------------------------------------------------- measured boots
# Per boot, into $W/times-VARIANT: unlock, when it finished, and for snpseal
# the agent's start relative to the unlock's and the agent's start ("-" for
# tpm2).
: >"$W/times-snpseal" && : >"$W/times-tpm2" && : >"$W/settled-snpseal" && : >"$W/settled-tpm2" ||
        fail "cannot write to $W"
rows=()
for ((i = 1; i <= boots; i++)); do
        for v in snpseal tpm2; do
                name=$v-$i
                load=$(cut -d' ' -f1 /proc/loadavg)
                cp --sparse=always "$W/root-$v.img" "$W/boot-root.img" &&
                        cp --sparse=always "$W/data-$v.img" "$W/boot-data.img" || fail "cannot copy the images"
                boot "$name" "$W/boot-root.img" "$W/boot-data.img" "$settled"
                check_unlocked "$name"
                "check_$v" "$name"
                settled_unlocks "$name" "$v" >>"$W/settled-$v"
                unlock=$(span "$name" unlock-start unlock) pre=- agent=- at=$(vm_fact "$name" t unlock)
                [ -n "$unlock" ] || { boot_explain "$name" 'cryptsetup'; fail "boot $name: the unlock's start or end is not in PID 1's journal"; }
                if [ "$v" = snpseal ]; then
                        pre=$(span "$name" unlock-start agent-start) agent=$(span "$name" agent-start agent)
                        [ -n "$pre" ] && [ -n "$agent" ] ||
                                fail "boot $name: the agent's start or end is not in PID 1's journal"
                fi
                began=$(vm_fact "$name" t unlock-start) since=$(span "$name" socket unlock)
                [ -n "$since" ] || fail "boot $name: the socket's start is not in PID 1's journal"
                echo "$unlock $at $pre $agent $began $since" >>"$W/times-$v"
                rows+=("$(printf '%-12s %10s %8s %12s %12s %13s %12s %10s %6s' "$name" "$began" "$unlock" "$at" \
                        "$since" "$pre" "$agent" "$VM_BOOT_SECONDS" "$load")")
        done
done
rm -f "$W/boot-root.img" "$W/boot-data.img" "$W"/data-*.img

# ---------------------------------------------------------------- report
col() { awk -v c="$2" '{ print $c }' "$W/times-$1" | median; } # VARIANT COLUMN
spread() { # VARIANT COLUMN: "min–max"
        awk -v c="$2" 'NR == 1 || $c < lo { lo = $c } NR == 1 || $c > hi { hi = $c }
                END { printf "%s–%s", lo, hi }' "$W/times-$1"
}
snp=$(col snpseal 1) tpm=$(col tpm2 1) snp_at=$(col snpseal 2) tpm_at=$(col tpm2 2)
pre=$(col snpseal 3) agent=$(col snpseal 4) snp_began=$(col snpseal 5) tpm_began=$(col tpm2 5)
# Pairs (boot i of each variant, booted one after the other) in which the
# volume was open sooner through snpseal.
first=$(paste -d' ' "$W/times-snpseal" "$W/times-tpm2" | awk '$2 <= $8 { n++ } END { print n + 0 }')
snp_since=$(col snpseal 6) tpm_since=$(col tpm2 6)
first_since=$(paste -d' ' "$W/times-snpseal" "$W/times-tpm2" | awk '$6 <= $12 { n++ } END { print n + 0 }')
ratio=$(awk -v a="$snp" -v b="$tpm" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
guest_pkg() { sed -n "/^Package: $1\$/,/^\$/s/^Version: //p" "$T/var/lib/dpkg/status" | head -n 1; }

echo "snpseal boot benchmark: $boots boots per variant in turns, Debian $DEBIAN ($SUITE) guest" \
        "(systemd $(guest_pkg systemd), cryptsetup $(guest_pkg cryptsetup-bin))," \
        "QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }')" \
        "accel=$VM_ACCEL, swtpm $(swtpm --version 2>&1 | head -n 1 | sed -n 's/.*version \([^,]*\),.*/\1/p')," \
        "host $(nproc) CPUs, load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data volume: a copy with the snpseal token only (agent on the simulator), a copy with the systemd-tpm2"
echo "token only (swtpm as tpm-tis, no PCRs); seconds, from PID 1's journal (monotonic clock, in the guest)"
printf '%-12s %10s %8s %12s %12s %13s %12s %10s %6s\n' boot "unlock at" unlock "unlocked at" "since socket" \
        "agent begins" "agent start" "boot wall" load
printf '%s\n' "${rows[@]}"
echo "median (spread) of $boots:"
printf '  %-52s %8s s  (%s)\n' "unlock through the snpseal token" "$snp" "$(spread snpseal 1)"
printf '  %-52s %8s s  (%s)\n' "unlock through the systemd-tpm2 token" "$tpm" "$(spread tpm2 1)"
printf '  %-52s %8s\n' "ratio snpseal / systemd-tpm2" "${ratio}x"
printf '  %-52s %8s s  (%s)\n' "volume open, snpseal (since the kernel started)" "$snp_at" "$(spread snpseal 2)"
printf '  %-52s %8s s  (%s)\n' "volume open, systemd-tpm2 (since the kernel started)" "$tpm_at" "$(spread tpm2 2)"
printf '  %-52s %8s\n' "pairs in which snpseal's volume was open first" "$first of $boots"
printf '  %-52s %8s s  (%s)\n' "volume open, snpseal (since the socket listened)" "$snp_since" "$(spread snpseal 6)"
printf '  %-52s %8s s  (%s)\n' "volume open, systemd-tpm2 (since the socket listened)" "$tpm_since" "$(spread tpm2 6)"
printf '  %-52s %8s\n' "pairs in which snpseal's was open first, so counted" "$first_since of $boots"
printf '  %-52s %8s s  (%s)\n' "unlock began, snpseal (since the kernel started)" "$snp_began" "$(spread snpseal 5)"
printf '  %-52s %8s s  (%s)\n' "unlock began, systemd-tpm2 (since the kernel started)" "$tpm_began" "$(spread tpm2 5)"
if [ "$settled" -gt 0 ]; then
        s_snp=$(median <"$W/settled-snpseal") s_tpm=$(median <"$W/settled-tpm2")
        printf '  %-52s %8s s  (%s)\n' "settled unlock through the snpseal token ($settled per boot)" "$s_snp" \
                "$(sort -n "$W/settled-snpseal" | sed -n '1p;$p' | paste -sd'-')"
        printf '  %-52s %8s s  (%s)\n' "settled unlock through the systemd-tpm2 token" "$s_tpm" \
                "$(sort -n "$W/settled-tpm2" | sed -n '1p;$p' | paste -sd'-')"
        printf '  %-52s %8s\n' "ratio snpseal / systemd-tpm2, settled" \
                "$(awk -v a="$s_snp" -v b="$s_tpm" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
fi
printf '  %-52s %8s s  (%s)\n' "agent start (snpseald.service Starting to Started)" "$agent" "$(spread snpseal 4)"
printf '  %-52s %8s s  (%s)\n' "agent begins, relative to the unlock's start" "$pre" "$(spread snpseal 3)"
cat <<EOF
unlock at: Starting systemd-cryptsetup@data.service, seconds since the kernel
started; unlock: Starting to Finished; unlocked at: its Finished (when the
volume was open: what "finish no later" is read on); since socket: that
Finished minus "Listening on snpseald.socket", the first point both boots
share after the kernel and the initrd (the socket has no dependencies and
listens as PID 1's early boot begins, before the agent starts or either
token is read): under TCG the kernel's and initrd's time before it varies
by 15 s from boot to boot with the host, which neither token touches;
agent begins: Starting
snpseald.service minus Starting systemd-cryptsetup@data.service (negative: the
agent was started ahead of the unlock, by the systemd-cryptsetup@.service
drop-in, so its start is not part of the unlock); agent start: Starting to
Started snpseald.service; load: the host's 1-minute load average as the boot
began. The two unlocks do not begin at the same point of the boot ("unlock
at"), and one that begins while udev's coldplug is busy waits longer for it
(the fork and exec, the dm-crypt device's udev event): compare when the
volume was open, not only how long the unlock took. Settled unlock (none
with SNPSEAL_BENCH_SETTLED=0): after the boot, in the same guest, the volume
closed, the agent stopped (its socket stays, so the next call starts it as
at boot), the page cache dropped, and systemd-cryptsetup@data.service started
again: from the start job to its end, the token's own cost at the same point
of a settled guest for both tokens, without udev's coldplug around it.
Notes: QEMU TCG emulates the guest's CPU, which inflates every absolute figure
(a KVM or SEV-SNP guest is many times faster), and the unlock overlaps udev's
coldplug (module loading), so single boots vary by seconds: compare medians.
swtpm runs natively on the host, outside the emulation, so the TPM's own work
is not slowed as the agent's and the plugins' is: the ratio leans towards
systemd-tpm2. The agent runs on the simulator, not /dev/sev-guest (a real SNP
report costs a firmware round trip). The systemd-tpm2 token binds no PCRs: a
direct kernel boot measures nothing worth binding to; a PCR policy would add
a policy session to its unlock. Which token opened: snpseal, the agent's
DeriveKey for systemd-cryptsetup's PID; systemd-tpm2, the only token on its
copy, no passphrase (headless), snpseald never started.
Reports and consoles: $W
EOF
rm -rf "$T" "$W"/root-*.img "$W/datasrc" "$W/build" "$W/stage"
exit 0

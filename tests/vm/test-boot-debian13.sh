#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot tests in Debian 13 (trixie) guests under QEMU (TCG): systemd 257,
# cryptsetup 2.7, dracut 106, Linux 6.12, OpenSSL 3.5, json-c 0.18. snpseal
# is built as .debs on Debian 13 (tests/pkg/build-debs.sh in the tree of
# .ci/debian13-tree), the agent runs on the simulator (test images only), the
# disks are prepared on the host as in tests/vm/test-boot.sh.
#   D1. a data volume in crypttab unlocked by systemd-cryptsetup through the
#       token and mounted from fstab, in the order socket < agent < unlock <
#       mount; LoadCredential= from snpseald's credential socket
#   D2. a firmware upgrade: still unlocks, and snpseal-reseal.service moves
#       the token to the new TCB
#   D3. the root volume unlocks in a dracut initrd (systemd-cryptsetup)
#   D4. the root volume unlocks in Debian's initramfs-tools initrd (cryptroot,
#       the cryptsetup CLI, the plugin's --stdio fallback)
# Its own work directory (tests/vm/work-debian13) and guest cache, so that it
# can run beside tests/vm/test-boot.sh. Run by `make vm-check` (and alone by
# `make vm-check-debian13`). Settings: those of
# tests/vm/vm-lib.sh; SNPSEAL_VM_TRIXIE_ROOT (the Debian 13 build tree) and
# SNPSEAL_VM_DEBS_TRIXIE (a directory of .debs built on Debian 13: then none
# are built here).

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"
. "$top_srcdir/tests/vm/vm-lib.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
SNPSEAL_VM_WORK=${SNPSEAL_VM_WORK_DEBIAN13:-$top_builddir/tests/vm/work-debian13}
vm_init || exit $?
vm_use_suite trixie || exit 1
TRIXIE_ROOT=${SNPSEAL_VM_TRIXIE_ROOT:-$VM_CACHE/build-trixie}
SRC=$(cd "$top_srcdir" && pwd)
BUILD=$(cd "$top_builddir" && pwd)
[ -x "$SRC/.ci/debian13-tree" ] || tap_skip_all "$SRC/.ci/debian13-tree is missing (a git checkout has it)"
luks_env_init || exit $?
trap 'luks_env_cleanup; vm_scrap; rm -f "$TAP_OUT"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
W=$VM_WORK
. "$top_srcdir/tests/vm/boot-checks.sh"

# snpseal's .debs built on Debian 13 in the tree TRIXIE_ROOT (the source and
# build trees bound at their paths), unpacked into VM_STAGE: vm_tree installs
# VM_DEBS with apt, or copies VM_STAGE where it predates the packages.
stage_debian13() {
        VM_STAGE=$W/stage
        VM_DEBS=${SNPSEAL_VM_DEBS_TRIXIE:-}
        rm -rf "$VM_STAGE" && mkdir -p "$VM_STAGE" || return 1
        if [ -z "$VM_DEBS" ]; then
                VM_DEBS=$W/debs
                "$SRC/.ci/debian13-tree" create "$TRIXIE_ROOT" >"$W/trixie-tree.log" 2>&1 ||
                        { tail -n 30 "$W/trixie-tree.log"; echo "the Debian 13 build tree failed"; return 1; }
                "$SRC/.ci/debian13-tree" run "$TRIXIE_ROOT" -b "$SRC" -b "$BUILD" -b "$W" -- \
                        sh "$SRC/tests/pkg/build-debs.sh" "$BUILD" "$VM_DEBS" >"$W/debs.log" 2>&1 ||
                        { tail -n 30 "$W/debs.log"; echo "building the .debs on Debian 13 failed"; return 1; }
        fi
        for _deb in "$VM_DEBS"/*.deb; do
                dpkg-deb -x "$_deb" "$VM_STAGE" || return 1
        done
        # Built on Debian 13: its libssl3t64 is in the dependencies.
        dpkg-deb -f "$VM_DEBS"/snpseal_*.deb Depends | grep -q libssl3t64 ||
                { echo "snpseal's Depends: $(dpkg-deb -f "$VM_DEBS"/snpseal_*.deb Depends): not built on Debian 13"; return 1; }
}

# ---------------------------------------------------------------- preparation
must "prepare: Debian 13 guest tree with initramfs-tools (mmdebstrap, cached)" vm_base initramfs-tools
must "prepare: Debian 13 guest tree with dracut (cached)" vm_base dracut
must "prepare: snpseal's .debs built on Debian 13" stage_debian13
cp "$LUKS_STATE" "$W/state0.json"

DATA_UUID=$(newuuid)
MARKER="written-on-the-host-$(randhex 8)"
rm -rf "$W/datasrc" && mkdir -p "$W/datasrc" && echo "$MARKER" >"$W/datasrc/hello.txt"
randhex 16 >"$W/data.pass"
must "prepare: data file system image" vm_image "$W/datasrc" "$W/data.img" 32
must "prepare: data image encrypted (LUKS2, offline)" vm_luks_image "$W/data.img" "$DATA_UUID" "$W/data.pass"
must "prepare: snpseal enroll on the data volume" \
        luks_in_ns "$SNPSEAL" enroll --unlock-key-file="$W/data.pass" "$W/data.img"
TCB0=$(list_token "$W/data.img" | sed -n 's/.*tcb \([0-9a-f]\{16\}\).*/\1/p' | head -n 1)
must "prepare: the token's TCB is listed" test -n "$TCB0"
CRED_SECRET="credential-$(randhex 12)"
must "prepare: snpseal credential add demo" sh -c \
        'printf %s "$1" | "$SNPSEAL" credential add demo --credstore="$2"' sh "$CRED_SECRET" "$W/credstore"
CRED_SHA=$(printf %s "$CRED_SECRET" | sha256sum | cut -d' ' -f1)

set_crypttab_data() { # TREE OPTIONS FSTAB-OPTIONS
        echo "data UUID=$DATA_UUID none $2" >"$1/etc/crypttab"
        printf '/dev/vda / ext4 rw 0 1\n/dev/mapper/data /data ext4 %s 0 2\n' "$3" >"$1/etc/fstab"
}

T=$W/data-root
must "prepare: Debian 13 guest tree for the data volume" vm_tree initramfs-tools "$T" "$W/state0.json"
must "prepare: the guest is Debian 13" grep -q '^VERSION_CODENAME=trixie$' "$T/etc/os-release"
install -d -m 0700 "$T/etc/snpseal/credstore" && install -m 0600 "$W/credstore/demo.sealed" "$T/etc/snpseal/credstore/"
systemctl --root="$T" --quiet enable vmtest-cred.service

# ---------------------------------------------------------------- D1: data volume, credential
set_crypttab_data "$T" luks defaults
must "prepare: root image (D1)" vm_image "$T" "$W/data-root.img"
boot d13-data "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data.img"
expect "D1 Debian 13 data volume: the guest booted and reported" d13-data . booted d13-data
expect "D1 Debian 13 data volume: systemd-cryptsetup@data.service unlocked it" d13-data 'cryptsetup|snpseal' \
        fact_is d13-data unit systemd-cryptsetup@data.service "active success"
expect "D1 Debian 13 data volume: /data mounted from fstab" d13-data 'data|cryptsetup' \
        fact_is d13-data unit data.mount "active success"
expect "D1 Debian 13 data volume: the file written on the host reads back" d13-data data \
        fact_is d13-data data-file "$MARKER"
expect "D1 Debian 13 data volume: snpseald.socket listened before the unlock started" d13-data 'snpseal|cryptsetup' \
        before d13-data socket unlock-start
expect "D1 Debian 13 data volume: the unlock finished before the mount" d13-data 'cryptsetup|data' \
        before d13-data unlock mount
expect "D1 Debian 13 data volume: the agent says it runs on the simulator" d13-data snpseald \
        journal_has d13-data 'snpseald.*[Ss]imulator'
expect "D1 Debian 13 data volume: modprobe@sev_guest.service skipped (no SEV-SNP guest device under TCG)" d13-data \
        'modprobe|sev' fact_is d13-data condition modprobe@sev_guest.service no
expect "D1 Debian 13 credential: vmtest-cred.service got the credential" d13-data 'vmtest-cred|credential|snpseal' \
        fact_is d13-data unit vmtest-cred.service "active success"
expect "D1 Debian 13 credential: \$CREDENTIALS_DIRECTORY/demo is the sealed secret" d13-data 'vmtest-cred|credential' \
        fact_is d13-data cred-sha256 "$CRED_SHA"

# ---------------------------------------------------------------- D2: firmware upgrade, reseal
TCB1=$(printf '%02x%s' $((0x${TCB0%??????????????} + 1)) "${TCB0#??}")
cp "$W/state0.json" "$LUKS_STATE"
"$SNPSEAL_SIM" set "$LUKS_STATE" launch_tcb="$TCB1" committed_tcb="$TCB1" current_tcb="$TCB1" reported_tcb="$TCB1" \
        >/dev/null
install -m 0600 "$LUKS_STATE" "$T/etc/snpseal/sim-state.json"
systemctl --root="$T" --quiet enable snpseal-reseal.service
must "prepare: root image (D2, upgraded firmware, snpseal-reseal.service enabled)" vm_image "$T" "$W/data-root.img"
boot d13-reseal "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data.img"
expect "D2 Debian 13 firmware upgrade: the guest booted and reported" d13-reseal . booted d13-reseal
expect "D2 Debian 13 firmware upgrade: the volume still unlocks (TCB $TCB0 <= committed $TCB1)" d13-reseal \
        'cryptsetup|snpseal' fact_is d13-reseal unit systemd-cryptsetup@data.service "active success"
expect "D2 Debian 13 firmware upgrade: snpseal-reseal.service succeeded" d13-reseal 'reseal|snpseal' \
        fact_is d13-reseal result snpseal-reseal.service success
expect "D2 Debian 13 firmware upgrade: snpseal-reseal.service logged the move" d13-reseal 'reseal|snpseal' \
        journal_has d13-reseal "data: token [0-9]+ .*$TCB1.*resealed as token"
expect "D2 Debian 13 firmware upgrade: the token now is bound to TCB $TCB1" d13-reseal . \
        tokens_tcb "$W/data.img" "$TCB1"
expect "D2 Debian 13 firmware upgrade: the file still reads back" d13-reseal data \
        fact_is d13-reseal data-file "$MARKER"
cp "$W/state0.json" "$LUKS_STATE"

# ---------------------------------------------------------------- D3, D4: root volume in the initrd
# The data volume cases are done: their tree and images go (vm_done).
vm_done "$T" "$W"/data*.img
root_volume dracut d13-root-dracut
boot d13-root-dracut "$W/root-d13-root-dracut" "$ROOT_APPEND" "$W/d13-root-dracut.img"
expect "D3 Debian 13 root volume, dracut: the guest booted unattended and reported" d13-root-dracut . \
        booted d13-root-dracut
expect "D3 Debian 13 root volume, dracut: / is $ROOT_DEV" d13-root-dracut 'cryptsetup|snpseal' \
        fact_is d13-root-dracut root-source "$ROOT_DEV"
expect "D3 Debian 13 root volume, dracut: systemd-cryptsetup unlocked it in the initrd" d13-root-dracut \
        'cryptsetup|snpseal' journal_has d13-root-dracut "Finished systemd-cryptsetup@luks"
expect "D3 Debian 13 root volume, dracut: the socket-activated agent in the initrd derived the key" d13-root-dracut \
        'cryptsetup|snpseal' \
        journal_has d13-root-dracut "snpseald\[[0-9]+\]: io.snpseal.Agent.DeriveKey from uid 0 .*purpose luks2: ok"
expect "D3 Debian 13 root volume, dracut: the boot reached multi-user.target" d13-root-dracut . \
        fact_is d13-root-dracut multi-user active
vm_done "$W/root-d13-root-dracut" "$W/d13-root-dracut.img"

root_volume initramfs-tools d13-root-initramfs
boot d13-root-initramfs "$W/root-d13-root-initramfs" "$ROOT_APPEND" "$W/d13-root-initramfs.img"
expect "D4 Debian 13 root volume, initramfs-tools: the guest booted unattended and reported" d13-root-initramfs . \
        booted d13-root-initramfs
expect "D4 Debian 13 root volume, initramfs-tools: / is $ROOT_DEV" d13-root-initramfs . \
        fact_is d13-root-initramfs root-source "$ROOT_DEV"
expect "D4 Debian 13 root volume, initramfs-tools: cryptroot set it up" d13-root-initramfs . \
        console_has d13-root-initramfs 'root: set up successfully'
expect "D4 Debian 13 root volume, initramfs-tools: the plugin's snpseald --stdio derived the key" \
        d13-root-initramfs . \
        console_has d13-root-initramfs '^snpseald: io.snpseal.Agent.DeriveKey from uid 0 .*purpose luks2: ok'
expect "D4 Debian 13 root volume, initramfs-tools: no passphrase prompt" d13-root-initramfs . \
        sh -c '! tr -d "\r" <"$0" | grep -Eq "Please unlock disk|Enter passphrase"' "$W/d13-root-initramfs.console"
expect "D4 Debian 13 root volume, initramfs-tools: the boot reached multi-user.target" d13-root-initramfs . \
        fact_is d13-root-initramfs multi-user active

tap_done

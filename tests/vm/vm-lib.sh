# SPDX-License-Identifier: LGPL-2.1-or-later
# Debian 12 and 13 guests under QEMU for the boot tests (tests/vm/test-boot.sh,
# tests/vm/test-boot-debian13.sh) and the boot benchmark (tests/bench/boot.sh). Source after tests/tap.sh and
# tests/luks/luks-env.sh; needs root, network access to a Debian mirror (for
# mmdebstrap, once per cache), qemu-system-x86_64, mmdebstrap, mkfs.ext4.
#
#   vm_init                    check the facilities (skip with the reason), set VM_*
#   vm_use_suite SUITE         the guests' Debian suite from here on: bookworm (the
#                              default) or trixie (its packages, its own cache)
#   vm_base [dracut]           the cached guest tree (mmdebstrap), with dracut instead
#                              of initramfs-tools when asked; prints its path
#   vm_stage                   snpseal's .debs for the guests ($SNPSEAL_VM_DEBS, else
#                              built), unpacked in $VM_WORK/stage for the host's use
#   vm_tree KIND DIR STATE     a guest tree in DIR: base + the .debs (apt) + the agent
#                              configured for the simulator with STATE (test images only)
#   vm_chroot DIR CMD...       run CMD in the guest tree (proc, sys, dev mounted)
#   vm_image DIR IMG           an ext4 image of the tree
#   vm_done PATH...            trees and images no later step needs: removed
#   vm_scrap                   every image and guest tree of the work directory: removed
#   vm_luks_image IMG UUID PASSFILE   encrypt the file system image in place (LUKS2,
#                              offline, no device-mapper needed) with that UUID
#   vm_boot NAME DIR APPEND DISK...   boot DIR's kernel+initrd with the disks; the
#                              console goes to $VM_WORK/NAME.console, the guest's
#                              report (tests/vm/guest/vmtest-report) to NAME.report
#   vm_fact NAME KEY           a VMTEST line of the report ("" when missing)
#   vm_journal NAME [ERE]      the journal lines of the report (matching ERE)
#
# Settings (environment): SNPSEAL_VM_CACHE (base trees, kept between runs;
# default $top_builddir/tests/vm/cache), SNPSEAL_VM_WORK (default
# $top_builddir/tests/vm/work), SNPSEAL_VM_MIRROR (default
# http://deb.debian.org/debian), SNPSEAL_VM_TIMEOUT (seconds per boot, default
# 900), SNPSEAL_VM_ACCEL (default tcg), SNPSEAL_VM_KEEP (1: keep the trees and
# images, see vm_done), SNPSEAL_VM_DEBS (a directory of
# snpseal's .debs to install; default: build them). VM_QEMU_ARGS (shell variable, split on
# blanks, so no blanks inside an argument) adds arguments to vm_boot's QEMU,
# e.g. a TPM device.

VM_SUITE=bookworm
VM_ARCH_TRIPLET=x86_64-linux-gnu
# What every guest has; dracut replaces initramfs-tools in the dracut tree.
VM_PACKAGES="systemd systemd-sysv udev kmod e2fsprogs procps cryptsetup-bin cryptsetup-initramfs initramfs-tools \
linux-image-amd64 libcryptsetup12 libjson-c5 libssl3 libsystemd0 libpam0g keyutils"
# Debian 13 names OpenSSL's library libssl3t64 and ships systemd-cryptsetup
# (crypttab's generator and unit) apart from systemd.
VM_PACKAGES_TRIXIE="systemd systemd-sysv systemd-cryptsetup udev kmod e2fsprogs procps cryptsetup-bin \
cryptsetup-initramfs initramfs-tools linux-image-amd64 libcryptsetup12 libjson-c5 libssl3t64 libsystemd0 libpam0g \
keyutils"

vm__skip() {
        echo "vm: skipped: $*" >&2
        return 77
}

vm_init() {
        : "${top_srcdir:?}" "${top_builddir:?}"
        [ "$(id -u)" -eq 0 ] || { vm__skip "the VM tests need root (chroot, mounts in a private namespace)"; return; }
        for _c in qemu-system-x86_64 mmdebstrap mkfs.ext4 cryptsetup unshare chroot systemctl timeout; do
                command -v "$_c" >/dev/null 2>&1 || { vm__skip "$_c is not installed"; return; }
        done
        VM_CACHE=${SNPSEAL_VM_CACHE:-$top_builddir/tests/vm/cache}
        VM_WORK=${SNPSEAL_VM_WORK:-$top_builddir/tests/vm/work}
        VM_MIRROR=${SNPSEAL_VM_MIRROR:-http://deb.debian.org/debian}
        VM_TIMEOUT=${SNPSEAL_VM_TIMEOUT:-900}
        VM_ACCEL=${SNPSEAL_VM_ACCEL:-tcg}
        case $VM_CACHE in /*) ;; *) VM_CACHE=$(pwd)/$VM_CACHE ;; esac
        case $VM_WORK in /*) ;; *) VM_WORK=$(pwd)/$VM_WORK ;; esac
        # The work directory is scratch: every run starts from an empty one.
        rm -rf "$VM_WORK" && mkdir -p "$VM_CACHE" "$VM_WORK" || return 1
}

vm_use_suite() { # SUITE
        case $1 in
        bookworm) ;;
        trixie)
                VM_SUITE=trixie VM_PACKAGES=$VM_PACKAGES_TRIXIE VM_CACHE=$VM_CACHE/debian13
                mkdir -p "$VM_CACHE" || return 1 ;;
        *) echo "vm: unknown suite $1" >&2; return 1 ;;
        esac
}

# A private mount namespace with the API file systems mounted in the tree.
vm_chroot() {
        _root=$1; shift
        unshare -m --propagation private sh -c '
                r=$1; shift
                mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" &&
                        mount --rbind /dev "$r/dev" && mount -t tmpfs tmpfs "$r/run" &&
                        mount -t tmpfs tmpfs "$r/tmp" || exit 125
                exec chroot "$r" "$@"' vm-chroot "$_root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

vm__base_build() { # DIR KIND LOG
        _dir=$1 _kind=$2 _log=$3
        rm -rf "$_dir.new"
        echo "vm: building the $VM_SUITE $_kind guest tree with mmdebstrap ($VM_MIRROR), log $_log" >&2
        if ! mmdebstrap --variant=minbase --include="$(echo $VM_PACKAGES | tr ' ' ,)" \
                --skip=cleanup/apt/lists --aptopt='APT::Install-Recommends "false"' \
                "$VM_SUITE" "$_dir.new" "$VM_MIRROR" >"$_log" 2>&1; then
                tail -n 30 "$_log" >&2
                echo "vm: mmdebstrap failed (see above)" >&2
                return 1
        fi
        if [ "$_kind" = dracut ]; then
                cp /etc/resolv.conf "$_dir.new/etc/resolv.conf" 2>/dev/null
                # dracut conflicts with initramfs-tools; its postinst builds a
                # generic initrd, which the test replaces.
                if ! vm_chroot "$_dir.new" apt-get install -y -q dracut >>"$_log" 2>&1; then
                        tail -n 30 "$_log" >&2
                        echo "vm: installing dracut into the guest tree failed (see above)" >&2
                        return 1
                fi
                rm -f "$_dir.new/etc/resolv.conf"
        fi
        vm__slim "$_dir.new" || { echo "vm: trimming the $VM_SUITE $_kind guest tree failed" >&2; return 1; }
        rm -rf "$_dir" && mv "$_dir.new" "$_dir"
}

# What no guest here uses goes from the base tree: documentation,
# translations, and the kernel modules of hardware a QEMU guest with virtio
# disks, no network and a serial console does not have (sound, network, GPU,
# media, USB, ...). Half of Debian's kernel package is such modules:
# without them a tree is about 400 MiB instead of 725 (Debian 12), every copy
# and image of it too, and the initrds are smaller. What stays: file
# systems, crypto, device-mapper, virtio, block, SCSI and ATA, char (the TPM
# drivers of the boot benchmark), virt (sev-guest), lib. Also gone, for the
# legacy devices of QEMU's q35 machine that udev's coldplug would otherwise
# probe while the boot unlocks its volumes: the parallel port (parport_pc's
# probe held up coldplug for 2 to 10 s of some boots under TCG, whichever
# token unlocked), the ICH9 watchdog, the PC speaker, and KVM and the CPU
# frequency drivers (TCG's CPU model offers SVM; an SEV-SNP guest loads
# neither). Entries are globs below the kernel's module directory.
VM_MODULES_UNUSED="sound net drivers/net drivers/gpu drivers/media drivers/infiniband drivers/usb \
drivers/iio drivers/staging drivers/isdn drivers/comedi drivers/mtd drivers/bluetooth drivers/target drivers/w1 \
drivers/hwmon drivers/mmc drivers/nvme drivers/thunderbolt drivers/atm drivers/spi \
drivers/parport drivers/char/ppdev.ko* drivers/char/lp.ko* drivers/watchdog drivers/input/misc/pcspkr.ko* arch/x86/kvm drivers/cpufreq"
vm__slim() { # DIR
        rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/* \
                "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb || return 1
        for _kdir in "$1"/usr/lib/modules/*/kernel; do
                [ -d "$_kdir" ] || continue
                for _m in $VM_MODULES_UNUSED; do
                        # shellcheck disable=SC2086 # a glob
                        rm -rf "${_kdir:?}"/$_m || return 1
                done
                _kv=${_kdir%/kernel}
                vm_chroot "$1" depmod -a "${_kv##*/}" || return 1
        done
}

# The cached base tree of KIND (initramfs-tools or dracut); rebuilt when the
# package list changes.
vm_base() {
        _kind=${1:-initramfs-tools}
        _dir=$VM_CACHE/base-$_kind
        _want="$VM_SUITE $VM_MIRROR $VM_PACKAGES $_kind slim: $VM_MODULES_UNUSED"
        if [ ! -d "$_dir" ] || [ "$(cat "$_dir.stamp" 2>/dev/null)" != "$_want" ]; then
                vm__base_build "$_dir" "$_kind" "$VM_WORK/mmdebstrap-$_kind.log" || return 1
                echo "$_want" >"$_dir.stamp"
        fi
        echo "$_dir"
}

# snpseal's .deb packages (debian/) for the guests: those in $SNPSEAL_VM_DEBS
# when set (.ci/run builds them once for its package tests), else built here
# from the build tree's distributed files (tests/pkg/build-debs.sh). vm_tree
# installs them with apt. $VM_STAGE holds their files unpacked, for the
# host's look at them (the plugin's symbols).
vm_stage() {
        VM_STAGE=$VM_WORK/stage
        VM_DEBS=${SNPSEAL_VM_DEBS:-}
        rm -rf "$VM_STAGE" && mkdir -p "$VM_STAGE" || return 1
        if [ -z "$VM_DEBS" ]; then
                VM_DEBS=$VM_WORK/debs
                echo "vm: building snpseal's .debs for the guest in $VM_DEBS" >&2
                sh "$top_srcdir/tests/pkg/build-debs.sh" "$top_builddir" "$VM_DEBS" >/dev/null || return 1
        fi
        ls "$VM_DEBS"/snpseal_*.deb >/dev/null 2>&1 || { echo "vm: no snpseal_*.deb in $VM_DEBS" >&2; return 1; }
        for _deb in "$VM_DEBS"/*.deb; do
                dpkg-deb -x "$_deb" "$VM_STAGE" || return 1
        done
}

# apt installs the packages of a guest of KIND into DIR: the agent, the token
# plugin, the PAM module and the initrd integration of that KIND (their
# dependencies, e.g. libcurl, from the mirror).
vm__install_debs() { # KIND DIR
        _deb_kind=snpseal-initramfs-tools
        [ "$1" = dracut ] && _deb_kind=snpseal-dracut
        rm -rf "$2/debs" && mkdir -p "$2/debs" || return 1
        for _p in snpseal libcryptsetup-token-snpseal libpam-snpseal "$_deb_kind"; do
                cp "$VM_DEBS/${_p}_"*.deb "$2/debs/" || return 1
        done
        cp /etc/resolv.conf "$2/etc/resolv.conf" 2>/dev/null
        # The update-initramfs trigger would rebuild the initrd here, minutes
        # on a loaded host, for nothing: the root volume cases build theirs
        # after writing crypttab, the data volume case boots the base's.
        # tests/pkg/test-packages.sh checks the trigger. INITRD=No stops
        # dracut's; update_initramfs=no initramfs-tools'.
        _uconf=$2/etc/initramfs-tools/update-initramfs.conf
        [ -f "$_uconf" ] && sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$_uconf"
        if ! vm_chroot "$2" env INITRD=No apt-get install -y -q --no-install-recommends \
                        $(cd "$2" && ls debs/*.deb | sed 's|^|/|') >"$VM_WORK/apt-${2##*/}.log" 2>&1; then
                tail -n 30 "$VM_WORK/apt-${2##*/}.log" >&2
                echo "vm: apt could not install snpseal's packages in $2 (see above)" >&2
                return 1
        fi
        [ -f "$_uconf" ] && sed -i 's/^update_initramfs=.*/update_initramfs=yes/' "$_uconf"
        rm -rf "$2/debs" "$2/etc/resolv.conf" "$2"/var/cache/apt/archives/*.deb "$2"/var/lib/apt/lists/*
}

# A guest tree: base + snpseal + the simulator configuration + the report unit.
vm_tree() { # KIND DIR STATE
        _kind=$1 _dir=$2 _state=$3
        _base=$(vm_base "$_kind") || return 1
        rm -rf "$_dir" && cp -a "$_base" "$_dir" && vm__install_debs "$_kind" "$_dir" || return 1
        echo vmtest >"$_dir/etc/hostname"
        mkdir -p "$_dir/etc/snpseal" "$_dir/data" || return 1
        install -m 0600 "$_state" "$_dir/etc/snpseal/sim-state.json" || return 1
        cat >"$_dir/etc/snpseal/snpseald.conf" <<-EOC || return 1
	# Test image only: the simulator instead of /dev/sev-guest.
	backend = simulator
	simulator_state = /etc/snpseal/sim-state.json
	EOC
        install -m 0755 "$top_srcdir/tests/vm/guest/vmtest-report" "$_dir/usr/local/sbin/vmtest-report" &&
                install -m 0644 "$top_srcdir/tests/vm/guest/vmtest-report.service" \
                        "$top_srcdir/tests/vm/guest/vmtest-cred.service" "$_dir/etc/systemd/system/" || return 1
        # snpseald.socket: enabled by the package (dh_installsystemd).
        systemctl --root="$_dir" --quiet enable vmtest-report.service || return 1
        # Nothing in these tests needs these; they only slow a TCG boot down.
        systemctl --root="$_dir" --quiet mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
                fstrim.timer 2>/dev/null
        return 0
}

# Guest trees and disk images that no later step needs: removed at once, so
# that a run holds one guest tree and its images at a time beside the cache
# (at most 1 GiB, not the 9 GiB of keeping them all), unless SNPSEAL_VM_KEEP=1
# (for a look at them after a failure). The consoles and reports stay.
vm_done() { # PATH...
        [ "${SNPSEAL_VM_KEEP:-0}" = 1 ] || rm -rf "$@"
}

# At a test's exit: every image and guest tree (a directory with a boot/) of
# the work directory.
vm_scrap() {
        [ -n "${VM_WORK:-}" ] || return 0
        for _p in "$VM_WORK"/*.img "$VM_WORK"/*/boot; do
                [ -e "$_p" ] || continue
                case $_p in */boot) vm_done "${_p%/boot}" ;; *) vm_done "$_p" ;; esac
        done
}

# An ext4 image of a tree, sized to fit (sparse).
vm_image() { # DIR IMG [EXTRA-MiB]
        _mb=$(du -sm "$1" | cut -f1)
        _mb=$((_mb + _mb / 4 + ${3:-64}))
        rm -f "$2" && truncate -s "${_mb}M" "$2" && mkfs.ext4 -q -F -d "$1" "$2" >/dev/null
}

# Encrypt an ext4 image in place (cryptsetup's offline reencryption works on a
# file without device-mapper): the file grows by 16 MiB for the header.
vm_luks_image() { # IMG UUID PASSFILE
        _size=$(stat -c %s "$1")
        truncate -s $((_size + 16 * 1024 * 1024)) "$1" &&
                cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 16M --batch-mode \
                        --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --uuid "$2" --key-file "$3" "$1" >/dev/null
}

vm_kver() { # DIR
        ls "$1/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1
}

vm_boot() { # NAME DIR APPEND DISK...
        _name=$1 _dir=$2 _append=$3
        shift 3
        _kver=$(vm_kver "$_dir")
        [ -n "$_kver" ] || { echo "vm: no kernel in $_dir/boot" >&2; return 1; }
        set -- $(for _d in "$@"; do printf ' -drive file=%s,format=raw,if=virtio' "$_d"; done)
        rm -f "$VM_WORK/$_name.console" "$VM_WORK/$_name.report"
        _t0=$(date +%s)
        timeout "$VM_TIMEOUT" qemu-system-x86_64 -machine q35,accel="$VM_ACCEL" -cpu max -smp 2 -m 1536 \
                -display none -monitor none -no-reboot -nic none \
                -kernel "$_dir/boot/vmlinuz-$_kver" -initrd "$_dir/boot/initrd.img-$_kver" \
                -append "console=ttyS0 panic=-1 quiet printk.devkmsg=on snpseal.vmtest=$_name $_append" \
                -serial "file:$VM_WORK/$_name.console" -serial "file:$VM_WORK/$_name.report" \
                "$@" ${VM_QEMU_ARGS:-} >"$VM_WORK/$_name.qemu" 2>&1
        _rc=$?
        VM_BOOT_SECONDS=$(($(date +%s) - _t0))
        if [ "$_rc" -eq 124 ]; then
                echo "vm: $_name: the guest did not power off within $VM_TIMEOUT s" >&2
        elif [ "$_rc" -ne 0 ]; then
                echo "vm: $_name: qemu failed (exit $_rc):" >&2
                cat "$VM_WORK/$_name.qemu" >&2
        fi
        return "$_rc"
}

vm_fact() { # NAME KEY...
        _f=$VM_WORK/$1.report; shift
        [ -f "$_f" ] || return 0
        tr -d '\r' <"$_f" | sed -n "s/^VMTEST $* //p" | head -n 1
}

vm_journal() { # NAME [ERE]
        [ -f "$VM_WORK/$1.report" ] || return 0
        tr -d '\r' <"$VM_WORK/$1.report" | sed -n 's/^J //p' | grep -E -- "${2:-.}"
}

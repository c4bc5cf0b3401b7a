#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The .deb packages in a clean Debian chroot: install with apt, upgrade to a
# later build of the same source, remove, purge; the file list after purge
# equals the one before install, and a LUKS2 volume enrolled with the
# simulator keeps its token and keyslots byte for byte through every step and
# opens with its passphrase and recovery key (and through the token while the
# plugin is installed). Prints TAP ("ok N …"/"not ok N …"). Needs root,
# mmdebstrap (or a base tree) and network access to a Debian mirror for the
# packages' dependencies; .ci/run runs it, not make check.
#
#   sh tests/pkg/test-packages.sh OLD-DEBS-DIR NEW-DEBS-DIR [BASE-TREE]
#
# OLD-DEBS-DIR: the previous build, a lower version (.ci/run: the same build
# re-versioned by tests/pkg/reversion-debs.sh).
# BASE-TREE: a minbase tree to copy (e.g. tests/vm's cached guest tree with
# initramfs-tools and cryptsetup); without it mmdebstrap builds one
# (SNPSEAL_PKG_SUITE, default bookworm; SNPSEAL_VM_MIRROR). snpseal-dracut is
# not installed here: dracut conflicts with initramfs-tools (tests/vm boots
# it).
set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
. "$top_srcdir/tests/tap.sh"

[ $# -ge 2 ] || { echo "usage: $0 OLD-DEBS NEW-DEBS [BASE-TREE]" >&2; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) base=${3:-}
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (chroot, mounts)"
work=$(mktemp -d)
trap 'rm -rf "$work" "$TAP_OUT"' EXIT
root=$work/root
suite=${SNPSEAL_PKG_SUITE:-bookworm}
mirror=${SNPSEAL_VM_MIRROR:-http://deb.debian.org/debian}
if [ -n "$base" ]; then
        cp -a "$base" "$root" || exit 1
else
        mmdebstrap --variant=minbase --skip=cleanup/apt/lists --aptopt='APT::Install-Recommends "false"' \
                --include=systemd,systemd-sysv,udev,cryptsetup-bin,initramfs-tools,linux-image-amd64,e2fsprogs \
                "$suite" "$root" "$mirror" >"$work/mmdebstrap.log" 2>&1 ||
                { tail -n 20 "$work/mmdebstrap.log" >&2; echo "mmdebstrap failed" >&2; exit 1; }
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
mkdir -p "$root/debs-old" "$root/debs-new" &&
        cp "$old"/*.deb "$root/debs-old/" && cp "$new"/*.deb "$root/debs-new/" &&
        rm -f "$root"/debs-*/snpseal-dracut_*.deb &&
        install -m 0755 "$top_srcdir/tests/pkg/pkg-guest.sh" "$root/root/pkg-guest.sh" || exit 1

# CMD in the chroot, with proc, sys, dev, a fresh /run and /tmp.
in_root() {
        unshare -m --propagation private sh -c '
                r=$1; shift
                mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" &&
                        mount --rbind /dev "$r/dev" && mount -t tmpfs tmpfs "$r/run" &&
                        mount -t tmpfs tmpfs "$r/tmp" || exit 125
                exec chroot "$r" "$@"' in-root "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}
# Every path of the tree but bookkeeping (dpkg, apt, logs, caches) and the
# test's own files.
file_list() {
        (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o \
                -path ./tmp -o -path ./root -o -path ./debs-old -o -path ./debs-new -o -path ./var/cache -o \
                -path ./var/log -o -path ./var/lib/apt -o -path ./var/lib/dpkg \) -prune -o -print | sort)
}
# The enrolled volume: its LUKS2 metadata (tokens, keyslots; the JSON, which
# does not depend on the plugin being installed) and all its bytes.
vol_state() {
        in_root cryptsetup luksDump --dump-json-metadata /root/vol.img && sha256sum "$root/root/vol.img" | cut -d' ' -f1
}
vol_checks() { # STEP TOKEN(yes|no)
        check_eq "$1: the volume is untouched (luksDump, bytes)" "$vol_ref" "$(vol_state 2>&1)"
        check "$1: it opens with the passphrase and the recovery key" in_root /root/pkg-guest.sh pass
        [ "$2" = yes ] && check "$1: it opens through the snpseal token" in_root /root/pkg-guest.sh token
}
installed_version() { # PACKAGE
        in_root dpkg-query -W -f='${Version}' "$1" 2>/dev/null
}
kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1)
initrd_has_snpseal() {
        in_root lsinitramfs "/boot/initrd.img-$kver" | grep -q 'sbin/snpseald$'
}
apt_log=$work/apt.log
apt_do() {
        in_root apt-get -y -q "$@" >"$apt_log" 2>&1 || { tail -n 30 "$apt_log"; return 1; }
}
debs_in() { # DIR of the tree: its .debs as paths in the chroot
        (cd "$root" && ls "$1"/*.deb | sed 's|^|/|')
}

# The volume is enrolled with the installed packages' tools right after the
# first install, then checked at every later step.
before=$(file_list)
check "apt installs the packages" apt_do install $(debs_in debs-old)
v_old=$(ls "$old"/snpseal_*.deb | sed 's/.*snpseal_\([^_]*\)_.*/\1/')
check_eq "snpseal $v_old is installed" "$v_old" "$(installed_version snpseal)"
check_eq "snpseald.socket is enabled" enabled "$(in_root systemctl is-enabled snpseald.socket 2>&1)"
check_eq "snpseal-credentials.socket is enabled" enabled "$(in_root systemctl is-enabled snpseal-credentials.socket 2>&1)"
check_eq "snpseal-reseal.service is shipped disabled" disabled "$(in_root systemctl is-enabled snpseal-reseal.service 2>&1)"
check_eq "tmpfiles applied: the state directories exist" "directory 755 root
directory 755 root" "$(stat -c '%F %a %U' "$root/var/lib/snpseal" "$root/var/lib/snpseal/users" 2>&1)"
tokdir=$(in_root cryptsetup --help | sed -n 's/^LUKS2 external token plugin path: *\(.*\)$/\1/p' | sed 's/\.$//')
check "the token plugin is where the chroot's cryptsetup loads it ($tokdir)" \
        test -f "$root$tokdir/libcryptsetup-token-snpseal.so"
pam_unix=$(in_root dpkg -L libpam-modules | grep '/pam_unix\.so$' | head -n 1)
check "pam_snpseal.so is next to pam_unix.so (${pam_unix%/*})" test -f "$root${pam_unix%/*}/pam_snpseal.so"
check "the pam-auth-update profile is installed" test -f "$root/usr/share/pam-configs/snpseal"
no_pam_stack_names() {
        ! grep -l pam_snpseal "$root"/etc/pam.d/*
}
check "and not enabled: no PAM stack names pam_snpseal" no_pam_stack_names
check "the initramfs was rebuilt with snpseal (update-initramfs trigger)" initrd_has_snpseal
check "the manual pages are installed" test -f "$root/usr/share/man/man8/snpseald.8.gz"

check "a LUKS2 volume is enrolled with the simulator in the chroot" in_root /root/pkg-guest.sh enroll
vol_ref=$(vol_state 2>&1)
check_output "the volume has the snpseal token and its keyslots" '"type":"snpseal"' printf '%s\n' "$vol_ref"
vol_checks "installed" yes

v_new=$(ls "$new"/snpseal_*.deb | sed 's/.*snpseal_\([^_]*\)_.*/\1/')
check "apt upgrades to the later build" apt_do install $(debs_in debs-new)
check_eq "snpseal $v_new is installed" "$v_new" "$(installed_version snpseal)"
check_eq "after the upgrade snpseald.socket is still enabled" enabled "$(in_root systemctl is-enabled snpseald.socket 2>&1)"
check_eq "and snpseal-reseal.service still disabled" disabled "$(in_root systemctl is-enabled snpseal-reseal.service 2>&1)"
vol_checks "upgraded" yes

pkgs="snpseal libcryptsetup-token-snpseal libpam-snpseal snpseal-initramfs-tools snpseal-sim"
check "apt removes the packages" apt_do remove $pkgs
initrd_lacks_snpseal() {
        ! initrd_has_snpseal
}
check "the initramfs was rebuilt without snpseal (update-initramfs trigger)" initrd_lacks_snpseal
vol_checks "removed" no
# --autoremove: the dependencies apt brought in for them (libcurl…) go too.
check "apt purges them" apt_do purge --autoremove $pkgs
check_eq "nothing is left of them in dpkg" "" "$(in_root dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' $pkgs 2>/dev/null | grep -v '^un ')"
after=$(file_list)
check_eq "the tree's file list after purge equals the one before install" "" \
        "$(printf '%s\n' "$before" >"$work/before"; printf '%s\n' "$after" >"$work/after"; diff "$work/before" "$work/after")"
vol_checks "purged" no
tap_done

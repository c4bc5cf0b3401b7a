#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# "make install" to the live system (no DESTDIR) leaves a working system: the
# state directories of units/snpseal.tmpfiles exist right away, without a
# reboot. The real "make install" of this build runs as root in a private
# mount namespace where /usr, /etc and /var are overlays: everything it writes
# lands in scratch directories, never on this machine.
. "$top_srcdir/tests/tap.sh"

[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (mount namespace, overlays)"
command -v unshare >/dev/null || tap_skip_all "unshare (util-linux) is not installed"
command -v systemd-tmpfiles >/dev/null || tap_skip_all "systemd-tmpfiles is not installed"
grep -qw overlay /proc/filesystems || tap_skip_all "no overlay file system in this kernel"
makefile_var() { # NAME: its value, expanded by make
        printf 'snpseal-print-var:\n\t@echo $(%s)\n' "$1" |
                env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top_builddir" \
                -f Makefile -f - snpseal-print-var
}
prefix=$(makefile_var prefix)
tmpfilesdir=$(makefile_var tmpfilesdir)
case $tmpfilesdir in
/etc/tmpfiles.d | /run/tmpfiles.d | /usr/lib/tmpfiles.d | /lib/tmpfiles.d | /usr/local/lib/tmpfiles.d) ;;
*) tap_skip_all "this build's tmpfiles.d directory $tmpfilesdir is not one systemd-tmpfiles reads (make distcheck)" ;;
esac
case $prefix in
/usr | /usr/*) ;;
*) tap_skip_all "this build's prefix $prefix is outside /usr, which the test overlays" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work" "$TAP_OUT"' EXIT
for d in usr etc var; do
        mkdir -p "$work/$d.up" "$work/$d.work" || exit 1
done
# In the namespace: the overlays, no state directory yet, make install, then
# what a user would look at.
unshare -m --propagation private sh -c '
        w=$1 b=$2 t=$3
        for d in usr etc var; do
                mount -t overlay overlay -o "lowerdir=/$d,upperdir=$w/$d.up,workdir=$w/$d.work" "/$d" || exit 125
        done
        rm -rf /var/lib/snpseal
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$b" install >"$w/install.log" 2>&1 ||
                { cat "$w/install.log"; exit 1; }
        stat -c "%F %a %U" /var/lib/snpseal /var/lib/snpseal/users >"$w/stat.out" 2>&1
        test -f "$t/snpseal.conf" && echo yes >"$w/conf.out"
' test-install "$work" "$top_builddir" "$tmpfilesdir" >"$work/ns.out" 2>&1
rc=$?
[ "$rc" -eq 125 ] && tap_skip_all "cannot mount overlays here"
check_eq "make install (no DESTDIR) succeeds as root" 0 "$rc"
[ "$rc" -eq 0 ] || tail -n 20 "$work/ns.out" | sed 's/^/# /'
check_eq "it installs the tmpfiles.d file" yes "$(cat "$work/conf.out" 2>/dev/null)"
check_eq "and the state directories exist at once" \
        "directory 755 root
directory 755 root" "$(cat "$work/stat.out" 2>/dev/null)"
check "they were created by make install (in the overlay, not on this machine)" \
        test -d "$work/var.up/lib/snpseal/users"
check "make install ran systemd-tmpfiles" grep -q "systemd-tmpfiles --create" "$work/install.log"

# With DESTDIR (packages, staging) nothing is created outside it.
dest=$work/dest
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" install DESTDIR="$dest" >"$work/destdir.log" 2>&1
check_eq "make install DESTDIR= succeeds" 0 $?
check "it installs the tmpfiles.d file below DESTDIR" test -f "$dest$tmpfilesdir/snpseal.conf"
check "and does not run systemd-tmpfiles" sh -c "! grep -q systemd-tmpfiles '$work/destdir.log'"
tap_done

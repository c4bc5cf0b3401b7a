#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-initrd.sh — does a built initramfs hold what unlocking a sealed root
# volume there needs (man snpseal-initrd(7))? Run it (as root) before booting
# an image: it unpacks the initramfs and checks, printing TAP lines, and
# exits 1 naming what is missing.
#
#   check-initrd.sh [--root DIR] [--no-config] INITRD KIND
#   check-initrd.sh [--no-config] DIR INITRD KIND      (the same as --root DIR)
#
# KIND is "initramfs-tools" or "dracut". With a DIR, INITRD is in the tree DIR
# (as a path inside it, or as seen from here below DIR) and the unpacking
# tool (unmkinitramfs, else lsinitrd) runs there under chroot(8); without
# it, the tool must be installed here.
# --no-config: the image need not carry /etc/snpseal/snpseald.conf (the
# agent's defaults apply); by default it must.
#
# Checked, in both kinds: the token plugin sits in the token directory of
# the initramfs's own libcryptsetup and its libraries resolve there; the agent
# the plugin runs (the path compiled into it) is there and runs
# (--version); the configuration, and with "backend = simulator" the state
# file it names; the sev-guest driver (a module, or built in).
# initramfs-tools: the keyscript named by the initramfs's crypttab, askpass,
# cryptroot and the cryptsetup program the keyscript runs. dracut: the three units, snpseald.socket enabled in
# sockets.target.wants, systemd-cryptsetup, and `systemd-analyze verify` of
# the units in the unpacked tree when systemd-analyze is installed here.
# Exit status: 0 all present, 1 something missing, 2 usage, 77 cannot unpack.

root=
need_config=yes
while [ $# -gt 0 ]; do
        case $1 in
        --root) root=$2; shift 2 ;;
        --root=*) root=${1#--root=}; shift ;;
        --no-config) need_config=; shift ;;
        --) shift; break ;;
        -*) echo "check-initrd.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
        esac
done
# "check-initrd.sh DIR INITRD KIND" is "--root DIR INITRD KIND".
if [ $# -eq 3 ] && [ -z "$root" ]; then
        root=$1
        shift
fi
if [ $# -ne 2 ]; then
        echo "usage: check-initrd.sh [--root DIR] [--no-config] INITRD initramfs-tools|dracut" >&2
        exit 2
fi
initrd=$1 kind=$2
# INITRD may be given as seen from here, inside DIR.
root=${root%/}
case $initrd in
"$root"/*) [ -n "$root" ] && initrd=${initrd#"$root"} ;;
esac
case $kind in
initramfs-tools | dracut) ;;
*) echo "check-initrd.sh: KIND must be initramfs-tools or dracut, not '$kind'" >&2; exit 2 ;;
esac

. "$(dirname "$0")/../tap.sh"

# ---------------------------------------------------------------- unpack
# Unpack INITRD into a fresh directory below $1 (as seen from $root); prints
# the directory holding the main archive.
in_root() {
        if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi
}
have_tool() {
        if [ -n "$root" ]; then
                chroot "$root" sh -c 'command -v "$1"' sh "$1" >/dev/null 2>&1
        else
                command -v "$1" >/dev/null 2>&1
        fi
}
unpack() {
        if have_tool unmkinitramfs; then
                in_root unmkinitramfs "$initrd" "$scratch_in" || return 1
        elif have_tool lsinitrd; then
                in_root sh -c 'cd "$1" && lsinitrd --unpack "$2"' sh "$scratch_in" "$initrd" || return 1
        else
                echo "SKIP: neither unmkinitramfs (initramfs-tools-core) nor lsinitrd (dracut-core) is" \
                        "installed${root:+ in $root}" >&2
                exit 77
        fi
        # unmkinitramfs puts an image with an early (microcode) archive into
        # early/ and main/.
        if [ -d "$scratch/main" ]; then
                echo "$scratch/main"
        else
                echo "$scratch"
        fi
}

[ "$(id -u)" = 0 ] || { echo "SKIP: check-initrd.sh unpacks with chroot: run it as root" >&2; exit 77; }
if [ -n "$root" ]; then
        [ -f "$root$initrd" ] || { echo "check-initrd.sh: no initramfs $root$initrd" >&2; exit 2; }
        scratch=$(mktemp -d "$root/tmp/check-initrd.XXXXXX") || exit 2
        scratch_in=${scratch#"$root"}
else
        [ -f "$initrd" ] || { echo "check-initrd.sh: no initramfs $initrd" >&2; exit 2; }
        scratch=$(mktemp -d) || exit 2
        scratch_in=$scratch
fi
trap 'rm -rf "$scratch" "$TAP_OUT" "$TAP_OUT.err"' EXIT
X=$(unpack)
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "check-initrd.sh: cannot unpack $initrd" >&2; exit 1; }
echo "# $initrd ($kind): $(du -sk "$X" | cut -f1) KiB unpacked, $(find "$X" | wc -l) entries"

# ---------------------------------------------------------------- helpers
# A path inside the unpacked image, following its own absolute symlinks
# (/lib -> usr/lib in a merged-/usr initramfs).
in_image() { # PATH -> resolved host path, or nothing
        _p=$1 _n=0
        while [ $_n -lt 40 ]; do
                _n=$((_n + 1))
                _pre= _rest=${_p#/}
                _changed=
                while [ -n "$_rest" ]; do
                        _c=${_rest%%/*}
                        [ "$_c" = "$_rest" ] && _rest= || _rest=${_rest#*/}
                        case $_c in
                        '' | .) continue ;;
                        ..) _pre=${_pre%/*}; continue ;;
                        esac
                        if [ -L "$X$_pre/$_c" ]; then
                                _t=$(readlink "$X$_pre/$_c")
                                case $_t in
                                /*) _p=$_t${_rest:+/$_rest} ;;
                                *) _p=$_pre/$_t${_rest:+/$_rest} ;;
                                esac
                                _changed=1
                                break
                        fi
                        _pre=$_pre/$_c
                done
                [ -z "$_changed" ] && { [ -e "$X$_pre" ] && echo "$X$_pre"; return 0; }
        done
}
present() { # PATH: a file (or a symlink to one) in the image
        [ -n "$(in_image "$1")" ] || { echo "missing in the initramfs: $1"; return 1; }
}
executable() {
        _f=$(in_image "$1")
        [ -n "$_f" ] && [ -x "$_f" ] || { echo "missing or not executable in the initramfs: $1"; return 1; }
}
# The dynamic loader of the image resolves every library of PATH.
libs_resolve() { # PATH
        _out=$(chroot "$X" "$ldso" --list "$1" 2>&1)
        _rc=$?
        printf '%s\n' "$_out"
        [ $_rc -eq 0 ] && ! printf '%s\n' "$_out" | grep -q 'not found'
}
# "KEY = value" of the image's agent configuration, as snpseald.conf(5).
conf_get() { # KEY
        sed -n -e '/^[[:space:]]*#/d' \
                -e "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\\(.*[^[:space:]]\\)[[:space:]]*\$/\\1/p" \
                "$(in_image "$conf")" | tail -n 1
}

# ---------------------------------------------------------------- both kinds
ldso=/lib64/ld-linux-x86-64.so.2
check "the dynamic loader $ldso" present "$ldso"
# The token directory compiled into the image's libcryptsetup (what
# "cryptsetup --help" prints): a NUL-terminated path ending in /cryptsetup.
libcs=$(find "$X" -name 'libcryptsetup.so.*' -type f 2>/dev/null | head -n 1)
check "libcryptsetup" test -n "$libcs"
tokendir=$(tr '\0' '\n' <"${libcs:-/dev/null}" | grep -E '^/[A-Za-z0-9_./+-]*/cryptsetup$' | grep -v '^/run/' |
        head -n 1)
check "libcryptsetup names its token directory" test -n "$tokendir"
plugin=$tokendir/libcryptsetup-token-snpseal.so
check "the token plugin $plugin" present "$plugin"
check "the token plugin's libraries resolve in the initramfs" libs_resolve "$plugin"
agent=$(grep -aoE '/[A-Za-z0-9_./+-]*/snpseald' "$(in_image "$plugin")" 2>/dev/null | head -n 1)
check "the plugin names the agent it runs" test -n "$agent"
check "the agent ${agent:-(unknown)}" executable "${agent:-/snpseald}"
check_output "the agent runs in the initramfs" 'snpseald' chroot "$X" "${agent:-/snpseald}" --version
conf=$(grep -aoE '/[A-Za-z0-9_./+-]*/snpseal/snpseald\.conf' "$(in_image "${agent:-/snpseald}")" 2>/dev/null |
        head -n 1)
if [ -n "$need_config" ]; then
        check "the agent's configuration ${conf:-(path unknown)}" present "${conf:-/snpseald.conf}"
fi
if [ -n "$conf" ] && [ -n "$(in_image "$conf")" ] && [ "$(conf_get backend)" = simulator ]; then
        state=$(conf_get simulator_state)
        check "the simulator state ${state:-(simulator_state unset)} of the simulator backend" \
                present "${state:-/simulator_state-unset}"
fi
sev_guest() {
        find "$X/lib/modules" "$X/usr/lib/modules" -name 'sev-guest.ko*' 2>/dev/null | grep -q . && return 0
        cat "$X"/lib/modules/*/modules.builtin "$X"/usr/lib/modules/*/modules.builtin 2>/dev/null |
                grep -q '/sev-guest\.ko$' && return 0
        echo "no sev-guest.ko in the initramfs and not built into its kernel"
        return 1
}
check "the sev-guest driver (module or built in)" sev_guest

# ---------------------------------------------------------------- initramfs-tools
keyscript_entry() {
        _tab=$(in_image /cryptroot/crypttab)
        [ -n "$_tab" ] || { echo "missing in the initramfs: /cryptroot/crypttab (no crypttab entry for the initramfs)"; return 1; }
        grep -E '(^|[[:space:],])keyscript=[^,[:space:]]*/snpseal-keyscript([,[:space:]]|$)' "$_tab" ||
                { echo "no entry of /cryptroot/crypttab uses snpseal-keyscript:"; cat "$_tab"; return 1; }
}
if [ "$kind" = initramfs-tools ]; then
        check "cryptroot (cryptsetup-initramfs)" present /scripts/local-top/cryptroot
        check_output "cryptsetup runs and uses the token directory" "token plugin path: $tokendir" \
                chroot "$X" /sbin/cryptsetup --help
        check "a crypttab entry in the initramfs uses snpseal-keyscript" keyscript_entry
        keyscript=$(grep -oE 'keyscript=[^,[:space:]]*/snpseal-keyscript' "$(in_image /cryptroot/crypttab)" \
                2>/dev/null | head -n 1)
        keyscript=${keyscript#keyscript=}
        check "the keyscript ${keyscript:-(none)}" executable "${keyscript:-/snpseal-keyscript}"
        check "askpass, the keyscript's fallback" executable /lib/cryptsetup/askpass
fi

# ---------------------------------------------------------------- dracut
unit_dir() {
        for _d in /etc/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
                [ -n "$(in_image "$_d/$1")" ] && { echo "$_d"; return 0; }
        done
        return 1
}
verify_units() {
        command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not installed here: not run"; return 0; }
        # Offline, against the unpacked tree: dependencies (Requires= of
        # units missing from the image) fail here as they would at boot.
        systemd-analyze verify --man=no --root="$X" snpseald.socket snpseald.service
}
if [ "$kind" = dracut ]; then
        for u in snpseald.socket snpseal-credentials.socket snpseald.service; do
                check "the unit $u" unit_dir "$u"
        done
        check "snpseald.socket enabled (sockets.target.wants)" \
                present /etc/systemd/system/sockets.target.wants/snpseald.socket
        check "the systemd-cryptsetup@.service drop-in that starts the agent" \
                unit_dir systemd-cryptsetup@.service.d/snpseal.conf
        check "the modprobe@sev_guest.service drop-in (only in an SEV-SNP guest)" \
                unit_dir modprobe@sev_guest.service.d/snpseal.conf
        svc=$(in_image "$(unit_dir snpseald.service)/snpseald.service")
        check_output "snpseald.service runs $agent" "^ExecStart=$agent\$" cat "${svc:-/nonexistent}"
        check "systemd-cryptsetup" sh -c '[ -n "$1" ] || [ -n "$2" ]' sh \
                "$(in_image /usr/lib/systemd/systemd-cryptsetup)" "$(in_image /lib/systemd/systemd-cryptsetup)"
        check "systemd-analyze verify of the units in the initramfs" verify_units
fi
tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The initrd scripts' own logic, without dracut or initramfs-tools: the
# initramfs-tools hook runs against a stub hook-functions that records
# copy_exec / copy_file / manual_add_modules, the dracut module's functions
# run in bash against stubs of dracut's (inst_multiple, inst_simple,
# instmods, $SYSTEMCTL, dwarn, derror, ...). Each comes from its .in file with
# the paths pointed into a scratch tree; the generated files are checked for
# syntax. What they put into real images is checked against real dracut and
# initramfs-tools by tests/vm/check-initrd.sh (man snpseal-initrd(7)).
: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"

command -v bash >/dev/null 2>&1 || tap_skip_all "bash is not installed (dracut modules are bash)"
T=$(mktemp -d)
trap 'rm -rf "$T" "$TAP_OUT" "$TAP_OUT.err"' EXIT
trap 'exit 129' HUP INT PIPE TERM

# ---------------------------------------------------------------- generated files
for f in initrd/snpseal-keyscript initrd/initramfs-tools/hooks/snpseal; do
        check "$f: generated, executable, sh syntax" sh -c '[ -x "$1" ] && sh -n "$1"' sh "$top_builddir/$f"
done
check "initrd/dracut/90snpseal/module-setup.sh: generated, bash syntax" \
        sh -c '[ -x "$1" ] && bash -n "$1"' sh "$top_builddir/initrd/dracut/90snpseal/module-setup.sh"
no_placeholder() {
        ! grep -n '@[a-z_]*@' "$1"
}
for f in initrd/snpseal-keyscript initrd/initramfs-tools/hooks/snpseal initrd/dracut/90snpseal/module-setup.sh; do
        check "$f: every placeholder substituted" no_placeholder "$top_builddir/$f"
done

# ---------------------------------------------------------------- a scratch system
S=$T/sys
mkdir -p "$S/sbin" "$S/tok" "$S/libexec/snpseal" "$S/etc/snpseal" "$S/units" "$S/it/hooks"
for f in "$S/sbin/snpseald" "$S/tok/libcryptsetup-token-snpseal.so" "$S/libexec/snpseal/snpseal-keyscript"; do
        printf '#!/bin/sh\n' >"$f" && chmod 0755 "$f"
done
for u in snpseald.socket snpseal-credentials.socket snpseald.service; do
        : >"$S/units/$u"
done
mkdir -p "$S/units/systemd-cryptsetup@.service.d" && : >"$S/units/systemd-cryptsetup@.service.d/snpseal.conf"
mkdir -p "$S/units/modprobe@sev_guest.service.d" && : >"$S/units/modprobe@sev_guest.service.d/snpseal.conf"
echo '{}' >"$S/etc/snpseal/sim-state.json"
subst() { # IN OUT
        sed -e "s|@sbindir@|$S/sbin|g" -e "s|@tokendir@|$S/tok|g" -e "s|@libexecdir@|$S/libexec|g" \
                -e "s|@sysconfdir@|$S/etc|g" -e "s|@systemdsystemunitdir@|$S/units|g" \
                -e "s|/usr/share/initramfs-tools|$S/it|g" "$1" >"$2" && chmod 0755 "$2"
}
CONF=$S/etc/snpseal/snpseald.conf
conf() { # LINE... (none: no configuration file)
        rm -f "$CONF"
        [ $# -eq 0 ] || printf '%s\n' "$@" >"$CONF"
}
calls_have() { # PATTERN: the recorded calls match it
        grep -Eq -- "$1" "$T/calls" || { echo "no call matches /$1/:"; cat "$T/calls"; return 1; }
}
calls_lack() {
        ! grep -E -- "$1" "$T/calls"
}
stderr_of() {
        "$@" 2>&1 >/dev/null
}
quiet() { # CMD...: succeeds and prints nothing on stderr
        _e=$("$@" 2>&1 >/dev/null) && [ -z "$_e" ] || { printf '%s\n' "$_e"; return 1; }
}

# ---------------------------------------------------------------- initramfs-tools hook
cat >"$S/it/hook-functions" <<EOF
# stub: record what the hook asks for
copy_exec() { echo "copy_exec \$*" >>'$T/calls'; [ -f "\$1" ]; }
copy_file() { echo "copy_file \$*" >>'$T/calls'; [ -f "\$2" ]; }
manual_add_modules() { echo "manual_add_modules \$*" >>'$T/calls'; }
EOF
HOOK=$T/hook
subst "$top_srcdir/initrd/initramfs-tools/hooks/snpseal.in" "$HOOK"
hook() {
        : >"$T/calls"
        "$HOOK"
}

check_output "hook: prereqs is cryptroot" '^cryptroot$' "$HOOK" prereqs
conf "backend = sev-guest"
: >"$S/it/hooks/cryptroot"
check "hook: runs" hook
check "hook: copies the agent" calls_have "^copy_exec $S/sbin/snpseald\$"
check "hook: copies the token plugin" calls_have "^copy_exec $S/tok/libcryptsetup-token-snpseal.so\$"
check "hook: copies the keyscript" calls_have "^copy_exec $S/libexec/snpseal/snpseal-keyscript\$"
check "hook: adds the sev-guest module" calls_have '^manual_add_modules sev-guest$'
check "hook: copies the configuration" calls_have "^copy_file config $CONF\$"
check "hook: no simulator state without the simulator" calls_lack '^copy_file state'
check "hook: quiet with cryptsetup-initramfs and a sev-guest configuration" \
        quiet "$HOOK"

conf "# backend = simulator" "backend = sev-guest" "  backend=simulator  " \
        "simulator_state = $S/etc/snpseal/sim-state.json"
check_output "hook: simulator: warns that the image is for tests" \
        "^W: snpseal: $CONF selects the simulator backend: keys in this initramfs are not protected by hardware; build such an image for tests only" \
        stderr_of "$HOOK"
check "hook: simulator: runs (the last backend line counts)" hook
check "hook: simulator: copies the state it names" calls_have "^copy_file state $S/etc/snpseal/sim-state.json\$"

conf "backend = simulator" "simulator_state = $S/etc/snpseal/missing.json"
check_fails "hook: simulator state missing: fails naming it" \
        "^E: snpseal: $CONF selects the simulator backend but its simulator_state '$S/etc/snpseal/missing.json' is not a file: create it with snpseal-sim init" \
        hook
conf "backend = simulator"
check_fails "hook: simulator_state unset: fails" "simulator_state '' is not a file" hook

conf
check "hook: no configuration: runs" hook
check "hook: no configuration: nothing to copy" calls_lack '^copy_file'

rm -f "$S/it/hooks/cryptroot"
check_output "hook: without cryptsetup-initramfs: says it" \
        '^W: snpseal: cryptsetup-initramfs is not installed: this initramfs will not unlock encrypted volumes' \
        stderr_of "$HOOK"
: >"$S/it/hooks/cryptroot"

mv "$S/sbin/snpseald" "$S/sbin/snpseald.away"
check_fails "hook: agent missing: fails naming it" "^E: snpseal: $S/sbin/snpseald is missing: is snpseal installed completely" \
        hook
mv "$S/sbin/snpseald.away" "$S/sbin/snpseald"

# ---------------------------------------------------------------- dracut module
MODULE=$T/module-setup.sh
subst "$top_srcdir/initrd/dracut/90snpseal/module-setup.sh.in" "$MODULE"
cat >"$T/systemctl" <<EOF
#!/bin/sh
echo "systemctl \$*" >>'$T/calls'
EOF
chmod 0755 "$T/systemctl"
# Runs FUNCTION of the module in bash with dracut's helpers stubbed.
dracut() { # FUNCTION [hostonly] [FS_TYPE...]
        _fn=$1; shift
        : >"$T/calls"
        bash -c '
                T=$1 MODULE=$2 fn=$3 hostonly=$4; shift 4
                host_fs_types=("$@")
                dracutsysrootdir= initdir=$T/initdir systemdsystemunitdir=/lib/systemd/system SYSTEMCTL=$T/systemctl
                moddir=$T
                rec() { echo "$*" >>"$T/calls"; }
                require_binaries() { for b; do [ -x "$b" ] || { rec "dinfo missing $b"; return 1; }; done; }
                dinfo() { echo "dracut: $*" >&2; }
                dwarn() { echo "dracut Warning: $*" >&2; }
                derror() { echo "dracut ERROR: $*" >&2; }
                inst_multiple() { rec inst_multiple "$@"; for f; do [ -e "$f" ] || return 1; done; }
                inst_simple() { rec inst_simple "$@"; [ -e "$1" ]; }
                instmods() { rec "instmods hostonly=$hostonly $*"; return 1; }
                . "$MODULE"
                "$fn"' dracut "$T" "$MODULE" "$_fn" "$@"
}
rc_of() {
        "$@" >/dev/null 2>&1
        echo $?
}

check_output "dracut: depends on crypt and systemd" '^crypt systemd$' dracut depends ""
check_eq "dracut: check: generic image: included" 0 "$(rc_of dracut check "")"
check_eq "dracut: check: host-only with a LUKS volume: included" 0 "$(rc_of dracut check 1 ext4 crypto_LUKS)"
check_eq "dracut: check: host-only without LUKS: only on request" 255 "$(rc_of dracut check 1 ext4)"
mv "$S/tok/libcryptsetup-token-snpseal.so" "$T/plugin.away"
check_eq "dracut: check: plugin missing: not included" 1 "$(rc_of dracut check "")"
check_fails "dracut: check: plugin missing: says so" \
        "dracut module 'snpseal' will not be installed, because $S/tok/libcryptsetup-token-snpseal.so is missing" \
        dracut check ""
mv "$T/plugin.away" "$S/tok/libcryptsetup-token-snpseal.so"
chmod -x "$S/sbin/snpseald"
check_eq "dracut: check: agent missing: not included" 1 "$(rc_of dracut check "")"
chmod +x "$S/sbin/snpseald"

check "dracut: installkernel succeeds whatever instmods says" dracut installkernel 1
check "dracut: installkernel: sev-guest, not host-only" calls_have '^instmods hostonly= sev-guest$'

conf "backend = sev-guest"
check "dracut: install" dracut install ""
check "dracut: install: agent and plugin with their libraries" \
        calls_have "^inst_multiple $S/sbin/snpseald $S/tok/libcryptsetup-token-snpseal.so\$"
for u in snpseald.socket snpseal-credentials.socket snpseald.service; do
        check "dracut: install: unit $u" calls_have "^inst_simple $S/units/$u /lib/systemd/system/$u\$"
done
check "dracut: install: enables only snpseald.socket" \
        calls_have "^systemctl -q --root $T/initdir add-wants sockets.target snpseald.socket\$"
check "dracut: install: the systemd-cryptsetup@.service drop-in that starts the agent" \
        calls_have "^inst_simple $S/units/systemd-cryptsetup@.service.d/snpseal.conf /lib/systemd/system/systemd-cryptsetup@.service.d/snpseal.conf\$"
check "dracut: install: the modprobe@sev_guest.service drop-in (only in an SEV-SNP guest)" \
        calls_have "^inst_simple $S/units/modprobe@sev_guest.service.d/snpseal.conf /lib/systemd/system/modprobe@sev_guest.service.d/snpseal.conf\$"
check "dracut: install: the configuration" calls_have "^inst_simple $CONF\$"
check "dracut: install: no state without the simulator" calls_lack 'sim-state'
check "dracut: install: no warning without the simulator" \
        quiet dracut install ""

conf "backend = simulator" "simulator_state = $S/etc/snpseal/sim-state.json"
check_output "dracut: simulator: warns that the image is for tests" \
        "^dracut Warning: snpseal: $CONF selects the simulator backend: keys in this initramfs are not protected by hardware; build such an image for tests only" \
        stderr_of dracut install ""
check "dracut: simulator: installs the state" calls_have "^inst_simple $S/etc/snpseal/sim-state.json\$"
conf "backend = simulator" "simulator_state = $S/etc/snpseal/missing.json"
check_fails "dracut: simulator state missing: error naming it" \
        "dracut ERROR: snpseal: $CONF selects the simulator backend but its simulator_state '$S/etc/snpseal/missing.json' is not a file" \
        dracut install ""
conf
check "dracut: no configuration: install succeeds" dracut install ""
check "dracut: no configuration: none installed" calls_lack "inst_simple $CONF"
tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd units: `systemd-analyze verify` (offline, no running systemd
# needed), the settings the boot design depends on, the sandboxes' exposure
# scores from `systemd-analyze security --offline=true`, and a real
# socket-activation round trip through systemd-socket-activate, the agent
# (simulator backend) and `snpseal status`. snpseal-reseal.service (snpseal
# reseal --crypttab) is checked the same way, but for activation.
# Run by `make check`; by hand, from a build directory:
#   top_srcdir=/work/main top_builddir=. sh /work/main/tests/units/test-units.sh

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"

# The highest exposure accepted (systemd 252 rates the agent 0.9 "SAFE",
# snpseal-reseal.service 1.1 "OK").
EXPOSURE_MAX=1.5
RESEAL_EXPOSURE_MAX=1.5

command -v systemd-analyze >/dev/null 2>&1 ||
        tap_skip_all "systemd-analyze not found (Debian package systemd)"

SOCK=$top_srcdir/units/snpseald.socket
CSOCK=$top_srcdir/units/snpseal-credentials.socket
SVC=$top_builddir/units/snpseald.service
RESEAL=$top_builddir/units/snpseal-reseal.service
DROPIN=$top_srcdir/units/snpseal-cryptsetup.conf
MODPROBE_DROPIN=$top_srcdir/units/snpseal-modprobe.conf
for f in "$SOCK" "$CSOCK" "$SVC" "$RESEAL" "$DROPIN" "$MODPROBE_DROPIN"; do
        if [ ! -f "$f" ]; then
                echo "missing unit file $f (run make first)" >&2
                exit 1
        fi
done

WORK=$(mktemp -d)
AGENT_PID=
cleanup() {
        [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
        rm -f "$TAP_OUT"
        rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- generated service
check_output "the template runs @sbindir@/snpseald" '^ExecStart=@sbindir@/snpseald$' \
        grep '^ExecStart=' "$top_srcdir/units/snpseald.service.in"
check_output "the generated service has ExecStart= substituted" '^ExecStart=/[^@]*/snpseald$' \
        grep '^ExecStart=' "$SVC"
check_eq "the generated service has no placeholder left" 0 "$(grep -c '@[a-z_]*@' "$SVC")"
check_output "the reseal template runs @bindir@/snpseal reseal --crypttab" \
        '^ExecStart=@bindir@/snpseal reseal --crypttab$' grep '^ExecStart=' "$top_srcdir/units/snpseal-reseal.service.in"
check_output "the generated reseal service has ExecStart= substituted" \
        '^ExecStart=/[^@]*/snpseal reseal --crypttab$' grep '^ExecStart=' "$RESEAL"
check_eq "the generated reseal service has no placeholder left" 0 "$(grep -c '@[a-z_]*@' "$RESEAL")"

# ---------------------------------------------------------------- verify
# A copy of the three units whose ExecStart= is the agent just built, since
# verify insists that the command exists. The unit names must stay as they
# are: the sockets name the service.
U=$WORK/units
mkdir -p "$U"
cp "$SOCK" "$CSOCK" "$U/"
AGENT=${SNPSEALD:-$top_builddir/agent/snpseald}
case $AGENT in /*) ;; *) AGENT=$(pwd)/$AGENT ;; esac
if [ -x "$AGENT" ]; then
        EXEC=$AGENT
else
        echo "# $AGENT is not built: verifying the service with ExecStart=/bin/true"
        EXEC=/bin/true
fi
sed "s|^ExecStart=.*|ExecStart=$EXEC|" "$SVC" >"$U/snpseald.service"
# The reseal service with the CLI just built, its arguments kept.
RESEAL_CLI=${SNPSEAL:-$top_builddir/cli/snpseal}
case $RESEAL_CLI in /*) ;; *) RESEAL_CLI=$(pwd)/$RESEAL_CLI ;; esac
if [ -x "$RESEAL_CLI" ]; then
        sed "s|^ExecStart=[^ ]*|ExecStart=$RESEAL_CLI|" "$RESEAL" >"$U/snpseal-reseal.service"
else
        echo "# $RESEAL_CLI is not built: verifying the reseal service with ExecStart=/bin/true"
        sed "s|^ExecStart=.*|ExecStart=/bin/true|" "$RESEAL" >"$U/snpseal-reseal.service"
fi

# Documentation=man:… is checked against the project's own pages, through
# a MANPATH laid out the way man(1) expects; without man(1) it is skipped.
mkdir -p "$WORK/man/man1" "$WORK/man/man5" "$WORK/man/man8"
ln -s "$(cd "$top_srcdir/man" && pwd)/snpseal.1" "$WORK/man/man1/snpseal.1"
ln -s "$(cd "$top_srcdir/man" && pwd)/snpseald.8" "$WORK/man/man8/snpseald.8"
ln -s "$(cd "$top_srcdir/man" && pwd)/snpseald.conf.5" "$WORK/man/man5/snpseald.conf.5"
if command -v man >/dev/null 2>&1; then
        MANOPT=--man=yes
else
        echo "# man(1) not installed: Documentation= pages not checked"
        MANOPT=--man=no
fi

# Any diagnostic (an unknown key, a bad value, a missing unit) is a failure,
# even where verify itself still exits 0.
verify_quiet() { # UNIT...
        out=$(cd "$U" && MANPATH=$WORK/man SYSTEMD_LOG_LEVEL=notice \
                systemd-analyze verify "$MANOPT" "$@" 2>&1)
        rc=$?
        [ -n "$out" ] && printf '%s\n' "$out"
        [ "$rc" -eq 0 ] && [ -z "$out" ]
}
check "verify snpseald.socket" verify_quiet ./snpseald.socket
check "verify snpseal-credentials.socket" verify_quiet ./snpseal-credentials.socket
check "verify snpseald.service" verify_quiet ./snpseald.service
check "verify all three together" verify_quiet ./snpseald.socket ./snpseal-credentials.socket ./snpseald.service
check "verify snpseal-reseal.service" verify_quiet ./snpseal-reseal.service
check "verify all four together" verify_quiet ./snpseald.socket ./snpseal-credentials.socket ./snpseald.service \
        ./snpseal-reseal.service

# The drop-in on an instance of systemd-cryptsetup@.service of the kind
# systemd-cryptsetup-generator writes for a crypttab line (trimmed to its
# dependencies): no ordering cycle, and starting the volume starts the agent
# (PID 1's transaction, from verify's debug output).
mkdir -p "$U/systemd-cryptsetup@.service.d"
cp "$DROPIN" "$U/systemd-cryptsetup@.service.d/snpseal.conf"
cat >"$U/systemd-cryptsetup@vmtest.service" <<'EOF_UNIT'
[Unit]
Description=Cryptography Setup for %I
DefaultDependencies=no
IgnoreOnIsolate=true
After=cryptsetup-pre.target systemd-udevd-kernel.socket
Before=blockdev@dev-mapper-%i.target
Wants=blockdev@dev-mapper-%i.target
Conflicts=umount.target
Before=umount.target
Before=cryptsetup.target

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutSec=0
ExecStart=/bin/true
EOF_UNIT
check "verify a systemd-cryptsetup@ instance with the drop-in and the units" verify_quiet \
        ./systemd-cryptsetup@vmtest.service ./snpseald.socket ./snpseal-credentials.socket ./snpseald.service
jobs_of() { # UNIT: the start jobs verify's transaction installs
        (cd "$U" && MANPATH=$WORK/man SYSTEMD_LOG_LEVEL=debug systemd-analyze verify --man=no "./$1" 2>&1) |
                sed -n 's/^\([^:]*\): Installed new job \1\/start.*/\1/p'
}
check_output "starting a volume starts snpseald.service (the drop-in)" '^snpseald\.service$' \
        jobs_of systemd-cryptsetup@vmtest.service
rm -f "$U/systemd-cryptsetup@.service.d/snpseal.conf"
check_eq "without the drop-in it does not (self-check)" "" \
        "$(jobs_of systemd-cryptsetup@vmtest.service | grep snpseald)"
rm -rf "$U/systemd-cryptsetup@.service.d" "$U/systemd-cryptsetup@vmtest.service"

# The test itself can fail: verify must reject a broken copy.
sed 's/^Type=notify$/Type=notify\nFrobnicate=yes/' "$U/snpseald.service" >"$U/broken.service"
check_fails "verify reports an unknown key (self-check)" "Unknown key 'Frobnicate'" \
        verify_quiet ./broken.service
rm -f "$U/broken.service"

# ---------------------------------------------------------------- settings
# "FILE SECTION KEY=VALUE": the assignment must appear in that section.
has() { # FILE SECTION LINE
        awk -v sec="[$2]" -v want="$3" '
                /^\[/ { cur = $0; next }
                cur == sec && $0 == want { found = 1 }
                END { exit !found }' "$1"
}
while read -r file section line; do
        case $file in
        socket) f=$SOCK ;;
        creds) f=$CSOCK ;;
        service) f=$SVC ;;
        reseal) f=$RESEAL ;;
        dropin) f=$DROPIN ;;
        esac
        check "$file [$section] $line" has "$f" "$section" "$line"
done <<'EOF'
socket Unit DefaultDependencies=no
socket Unit Wants=cryptsetup-pre.target
socket Unit Before=sockets.target cryptsetup-pre.target
socket Socket ListenStream=/run/snpseal/agent.sock
socket Socket FileDescriptorName=varlink
socket Socket SocketMode=0666
socket Unit Wants=modprobe@sev_guest.service
socket Install WantedBy=sockets.target
socket Install Also=snpseal-credentials.socket
creds Unit DefaultDependencies=no
creds Unit Before=sockets.target
creds Socket ListenStream=/run/snpseal/credentials.sock
creds Socket FileDescriptorName=credentials
creds Socket SocketMode=0600
creds Socket Service=snpseald.service
creds Install WantedBy=sockets.target
service Unit DefaultDependencies=no
service Unit Requires=snpseald.socket snpseal-credentials.socket
service Unit After=snpseald.socket snpseal-credentials.socket
service Unit After=modprobe@sev_guest.service
dropin Unit Wants=snpseald.service
service Service Type=notify
service Service LimitCORE=0
service Service UMask=0077
service Service CapabilityBoundingSet=
service Service NoNewPrivileges=yes
service Service DevicePolicy=closed
service Service DeviceAllow=/dev/sev-guest rw
service Service PrivateNetwork=yes
service Service RestrictAddressFamilies=AF_UNIX
service Service ProtectSystem=strict
service Service ReadWritePaths=-/var/lib/snpseal
service Service MemoryDenyWriteExecute=yes
service Service SystemCallFilter=@system-service
service Service SystemCallErrorNumber=EPERM
reseal Unit ConditionPathExists=/etc/crypttab
reseal Unit Wants=snpseald.socket
reseal Unit After=cryptsetup.target local-fs.target snpseald.socket
reseal Service Type=oneshot
reseal Service LimitCORE=0
reseal Service UMask=0077
reseal Service CapabilityBoundingSet=
reseal Service NoNewPrivileges=yes
reseal Service DevicePolicy=closed
reseal Service DeviceAllow=block-* rw
reseal Service PrivateNetwork=yes
reseal Service RestrictAddressFamilies=AF_UNIX AF_ALG
reseal Service ProtectSystem=strict
reseal Service ReadWritePaths=-/run/cryptsetup
reseal Service MemoryDenyWriteExecute=yes
reseal Service SystemCallFilter=@system-service
reseal Service SystemCallErrorNumber=EPERM
reseal Install WantedBy=multi-user.target
EOF

# Settings that would break early boot or the agent.
check_eq "the service sets no PrivateTmp= (orders after local-fs.target)" 0 \
        "$(grep -c '^PrivateTmp=' "$SVC")"
check_eq "the service sets no PrivateUsers= (SO_PEERCRED needs real uids)" 0 \
        "$(grep -c '^PrivateUsers=' "$SVC")"
check_eq "the service has no [Install] (socket-activated only)" 0 \
        "$(grep -c '^\[Install\]' "$SVC")"
# Boot (docs/UNITS.md, "Boot ordering"): modprobe@sev_guest.service is
# pulled in by the socket, once; a Wants= in the service would run it before
# every start of the agent. The drop-in for systemd-cryptsetup@.service
# starts the agent and orders nothing: an ordering there would hold up
# every volume, with or without a snpseal token, on the agent's start.
check_eq "the service does not pull in modprobe@sev_guest.service itself" 0 \
        "$(grep -Ec '^(Wants|Requires)=.*modprobe@' "$SVC")"
check_eq "the drop-in sets nothing but Wants=snpseald.service" "[Unit] Wants=snpseald.service" \
        "$(grep -v '^#' "$DROPIN" | grep . | tr '\n' ' ' | sed 's/ $//')"
# modprobe@sev_guest.service runs only where the kernel registered the
# platform device its driver binds to, i.e. in an SEV-SNP guest. Loaded the
# way PID 1 loads it (an instance drop-in directory in the unit path), the
# condition is on the instance, and it fails here: not an SEV-SNP guest.
check_eq "the modprobe drop-in sets nothing but the SEV-SNP guest condition" \
        "[Unit] ConditionPathExists=/sys/devices/platform/sev-guest" \
        "$(grep -v '^#' "$MODPROBE_DROPIN" | grep . | tr '\n' ' ' | sed 's/ $//')"
mkdir -p "$WORK/mp/modprobe@sev_guest.service.d"
cp "$MODPROBE_DROPIN" "$WORK/mp/modprobe@sev_guest.service.d/snpseal.conf"
MP_NAME="modprobe@sev_guest.service skipped outside an SEV-SNP guest"
if [ -d /sys/devices/platform/sev-guest ]; then
        _tap_result ok "$MP_NAME # SKIP this is an SEV-SNP guest"
elif [ ! -f /lib/systemd/system/modprobe@.service ] && [ ! -f /usr/lib/systemd/system/modprobe@.service ]; then
        _tap_result ok "$MP_NAME # SKIP systemd's modprobe@.service is not installed"
else
        check_output "$MP_NAME" \
                '^modprobe@sev_guest.service: ConditionPathExists=/sys/devices/platform/sev-guest failed\.$' \
                sh -c 'SYSTEMD_UNIT_PATH="$1": systemd-analyze condition --unit=modprobe@sev_guest.service 2>&1; true' sh "$WORK/mp"
fi
# Writable: only the user secret store, through ReadWritePaths= (no mount
# dependency); StateDirectory= and friends would add RequiresMountsFor=.
check_eq "the service writes only below /var/lib/snpseal" "ReadWritePaths=-/var/lib/snpseal" \
        "$(grep -E '^(ReadWritePaths|BindPaths)=' "$SVC")"
for key in StateDirectory CacheDirectory LogsDirectory RuntimeDirectory RequiresMountsFor WorkingDirectory; do
        check_eq "the service sets no $key= (a mount dependency before cryptsetup)" 0 \
                "$(grep -c "^$key=" "$SVC")"
done
# The reseal service writes block devices (through /dev) and libcryptsetup's
# lock directory only; it must see the block devices and run as the real
# root (the agent authorizes by uid).
check_eq "the reseal service writes only /run/cryptsetup" "ReadWritePaths=-/run/cryptsetup" \
        "$(grep -E '^(ReadWritePaths|BindPaths)=' "$RESEAL")"
for key in PrivateDevices PrivateUsers User DynamicUser RuntimeDirectory DefaultDependencies; do
        check_eq "the reseal service sets no $key=" 0 "$(grep -c "^$key=" "$RESEAL")"
done

# The system calls the agent makes for its hygiene stay allowed by the
# filter (a denied one fails with EPERM instead of killing it, but it must
# not fail at all): mlock (secret pages), madvise (MADV_DONTDUMP), prctl
# (PR_SET_DUMPABLE), prlimit64 (setrlimit RLIMIT_CORE), ioctl (the device).
allowed=$WORK/allowed
expand_group() { # @GROUP or a system call -> system calls, nested groups expanded
        case $1 in
        @*) ;;
        *) echo "$1"; return ;;
        esac
        systemd-analyze syscall-filter "$1" 2>/dev/null | awk '
                NR > 1 && $1 !~ /^#/ && NF { print $1 }' | while read -r s; do
                expand_group "$s"
        done
}
# Apply a unit's SystemCallFilter= lines in order, as systemd does: the
# first one is an allow list, later "~" lines remove from it.
filter_allowed() { # UNIT OUT
        : >"$2"
        sed -n 's/^SystemCallFilter=//p' "$1" >"$WORK/filter"
        while read -r line; do
                case $line in
                "~"*) op=remove; line=${line#"~"} ;;
                *) op=add ;;
                esac
                for g in $line; do expand_group "$g"; done | sort -u >"$WORK/group"
                if [ "$op" = add ]; then
                        sort -u "$2" "$WORK/group" >"$WORK/next"
                else
                        sort -u "$2" | comm -23 - "$WORK/group" >"$WORK/next"
                fi
                mv "$WORK/next" "$2"
        done <"$WORK/filter"
}
filter_allowed "$SVC" "$allowed"
not_allowed() { ! grep -qx "$1" "${2:-$allowed}"; }
check "the system call filter is an allow list" test -s "$allowed"
for s in mlock madvise prctl prlimit64 ioctl getrandom memfd_create mmap accept4 recvmsg sendmsg epoll_wait; do
        check "the system call filter allows $s" grep -qx "$s" "$allowed"
done
for s in setuid setresuid chroot setpriority sched_setscheduler bpf ptrace mount; do
        check "the system call filter denies $s" not_allowed "$s"
done
# The calls of snpseal reseal --crypttab moving a token (seen with strace on
# an image file), those on block devices (ioctl, fdatasync) and libcryptsetup's
# kernel keyring probes stay allowed by the reseal service's filter.
reseal_allowed=$WORK/reseal-allowed
filter_allowed "$RESEAL" "$reseal_allowed"
check "the reseal filter is an allow list" test -s "$reseal_allowed"
for s in openat pread64 pwrite64 fsync fdatasync flock ioctl mlock munlock madvise getrandom socket connect \
        sendto poll sysinfo prlimit64 request_key add_key keyctl statfs fstatfs; do
        check "the reseal filter allows $s" grep -qx "$s" "$reseal_allowed"
done
for s in setuid chroot setpriority ptrace mount init_module; do
        check "the reseal filter denies $s" not_allowed "$s" "$reseal_allowed"
done

# ---------------------------------------------------------------- exposure
exposure() { # UNIT MAX
        SEC=$WORK/security.out
        (cd "$U" && systemd-analyze security --offline=true "./$1") >"$SEC" 2>&1
        score=$(sed -n "s/^.*Overall exposure level for $1: \([0-9.]*\).*\$/\1/p" "$SEC")
        echo "# systemd-analyze security --offline=true ./$1: exposure ${score:-?} (at most $2 accepted)"
        grep '^✗' "$SEC" | sed 's/^/#   /'
        check_output "$1: the exposure score is reported" '^[0-9]+\.[0-9]$' echo "$score"
        check_eq "$1: exposure ${score:-?} <= $2" yes \
                "$(awk -v s="${score:-99}" -v m="$2" 'BEGIN { print (s + 0 <= m + 0) ? "yes" : "no" }')"
}
exposure snpseald.service "$EXPOSURE_MAX"
exposure snpseal-reseal.service "$RESEAL_EXPOSURE_MAX"

# ---------------------------------------------------------------- socket activation
# The real thing, minus systemd: systemd-socket-activate binds both sockets,
# names them as the units do, and starts the agent on the first connection.
CLI=${SNPSEAL:-$top_builddir/cli/snpseal}
SIM=${SNPSEAL_SIM:-$top_builddir/cli/snpseal-sim}
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
        echo "# systemd-socket-activate not found: socket activation not tested"
elif [ ! -x "$AGENT" ] || [ ! -x "$CLI" ] || [ ! -x "$SIM" ]; then
        echo "# agent, CLI or simulator tool not built: socket activation not tested"
else
        S=$WORK/state.json
        check "simulator state for the agent" "$SIM" init "$S"
        systemd-socket-activate -l "$WORK/a.sock" -l "$WORK/c.sock" \
                --fdname=varlink:credentials \
                "$AGENT" --backend=simulator --simulator-state="$S" \
                --config=/dev/null --idle-exit=3 \
                >"$WORK/agent.log" 2>&1 &
        AGENT_PID=$!
        n=0
        while [ ! -S "$WORK/a.sock" ] && [ "$n" -lt 50 ]; do
                sleep 0.1
                n=$((n + 1))
        done
        check "systemd-socket-activate listens on the varlink socket" test -S "$WORK/a.sock"
        check_output "snpseal status through the socket-activated agent" 'simulator' \
                "$CLI" --socket="$WORK/a.sock" status
        check_output "the agent answers again on the same socket" '"backend" *: *"simulator"' \
                "$CLI" --socket="$WORK/a.sock" --json status
        # --idle-exit=3: the agent leaves by itself once nobody is connected.
        n=0
        while kill -0 "$AGENT_PID" 2>/dev/null && [ "$n" -lt 100 ]; do
                sleep 0.1
                n=$((n + 1))
        done
        check_eq "the socket-activated agent exits when idle" gone \
                "$(kill -0 "$AGENT_PID" 2>/dev/null && echo running || echo gone)"
        wait "$AGENT_PID" 2>/dev/null
        check_eq "the idle exit is a clean one (exit status 0)" 0 "$?"
        AGENT_PID=
        if [ "$_tap_failed" -gt 0 ]; then
                sed 's/^/# agent: /' "$WORK/agent.log" | head -n 20
        fi
fi

# The tmpfiles.d entry creates the user-secret store the sandboxed agent
# cannot create itself.
if command -v systemd-tmpfiles >/dev/null 2>&1; then
        mkdir -p "$WORK/tmpfiles-root"
        check "systemd-tmpfiles accepts snpseal.tmpfiles" \
                systemd-tmpfiles --root="$WORK/tmpfiles-root" --create "$top_srcdir/units/snpseal.tmpfiles"
        check_eq "it creates /var/lib/snpseal/users 0755 root" "755 0 0" \
                "$(stat -c '%a %u %g' "$WORK/tmpfiles-root/var/lib/snpseal/users" 2>&1)"
        check_eq "the agent's default user_store is that directory" 1 \
                "$(grep -c '"/var/lib/snpseal/users"' "$top_srcdir/agent/agent-config.h")"
fi

tap_done

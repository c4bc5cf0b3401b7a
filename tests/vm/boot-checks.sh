# SPDX-License-Identifier: LGPL-2.1-or-later
# The checks of tests/vm/test-boot.sh and tests/vm/test-boot-debian13.sh on
# the report a guest sends (tests/vm/guest/vmtest-report), and the root
# volume's preparation (root_volume). Source
# after tests/tap.sh, tests/luks/luks-env.sh and tests/vm/vm-lib.sh, with W
# (the work directory, holding state0.json), SNPSEAL and SNPSEAL_SIM set.

# A preparation step that everything after it needs.
must() { # NAME CMD...
        _before=$_tap_failed
        check "$@"
        [ "$_tap_failed" -eq "$_before" ] || { echo "Bail out! $1 failed"; exit 1; }
}

# A test on the outcome of boot BOOT: on failure, the journal lines matching
# ERE (or the end of the console when the guest never reported) explain it.
expect() { # NAME BOOT ERE CMD...
        _n=$1 _b=$2 _ere=$3
        shift 3
        if "$@" >"$TAP_OUT" 2>&1; then
                _tap_result ok "$_n"
                return 0
        fi
        {
                echo "step failed: $*"
                if [ -n "$(vm_fact "$_b" up)" ]; then
                        echo "journal of boot $_b:"
                        vm_journal "$_b" "$_ere" | tail -n 25
                else
                        echo "boot $_b sent no report; end of its console ($W/$_b.console):"
                        tr -d '\r' <"$W/$_b.console" 2>/dev/null | tail -n 25
                fi
        } >>"$TAP_OUT"
        _tap_result not-ok "$_n" "$TAP_OUT"
}

# The report's fact KEY (all arguments but the last) against VALUE (the last).
fact__split() { # ARGS... -> _k (all but the last), _v (the last)
        _k= _v=
        for _a in "$@"; do
                _k=${_k:+$_k }$_v
                _v=$_a
        done
        _k=${_k# }
}

fact_is() { # BOOT KEY... VALUE
        _b=$1; shift
        fact__split "$@"
        _got=$(vm_fact "$_b" "$_k")
        [ "$_got" = "$_v" ] && return 0
        echo "$_k: expected '$_v', got '$_got'"
        return 1
}

fact_not() { # BOOT KEY... VALUE
        _b=$1; shift
        fact__split "$@"
        _got=$(vm_fact "$_b" "$_k")
        [ "$_got" != "$_v" ] && return 0
        echo "$_k: expected anything but '$_v'"
        return 1
}

# Event A happened no later than event B (monotonic times in the report).
before() { # BOOT A B
        _a=$(vm_fact "$1" t "$2") _z=$(vm_fact "$1" t "$3")
        case "$_a$_z" in *none*|"") echo "event times: $2='$_a' $3='$_z' (none: not in the journal)"; return 1 ;; esac
        awk -v a="$_a" -v z="$_z" 'BEGIN { exit !(a + 0 <= z + 0) }' && return 0
        echo "$2 at $_a s is not before $3 at $_z s"
        return 1
}

same() { # EXPECTED ACTUAL
        [ "$1" = "$2" ] && return 0
        echo "expected '$1', got '$2'"
        return 1
}

journal_has() { # BOOT ERE
        vm_journal "$1" "$2" | grep -q . && return 0
        echo "no journal line matches /$2/"
        return 1
}

console_has() { # BOOT ERE
        tr -d '\r' <"$W/$1.console" | grep -Eq -- "$2" && return 0
        echo "the console of boot $1 has no line matching /$2/"
        return 1
}

booted() { # BOOT: the guest reported and powered off
        [ "${VM_BOOT_RC:-1}" -eq 0 ] || { echo "qemu ended with status $VM_BOOT_RC"; return 1; }
        tr -d '\r' <"$W/$1.report" | grep -qx 'VMTEST begin' && tr -d '\r' <"$W/$1.report" | grep -qx 'VMTEST end' ||
                { echo "no complete report from the guest"; return 1; }
}

boot() { # NAME DIR APPEND DISK...
        vm_boot "$@"
        VM_BOOT_RC=$?
        echo "# boot $1: ${VM_BOOT_SECONDS} s"
}

list_token() { # IMG: the snpseal list line of token 0..n
        luks_in_ns "$SNPSEAL" list "$1"
}

# Every snpseal token of IMG is bound to TCB (snpseal list on the host).
tokens_tcb() { # IMG TCB
        _list=$(list_token "$1") || { echo "snpseal list $1 failed: $_list"; return 1; }
        _tcbs=$(echo "$_list" | sed -n 's/.*tcb \([0-9a-f]\{16\}\).*/\1/p' | sort -u)
        [ "$_tcbs" = "$2" ] && return 0
        echo "snpseal list: expected every token at tcb $2, got: $_tcbs"
        echo "$_list"
        return 1
}

randhex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
newuuid() { cat /proc/sys/kernel/random/uuid; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# A guest tree $W/root-NAME of KIND (initramfs-tools or dracut) with
# crypttab/fstab and initramfs for an encrypted root, its image $W/NAME.img
# encrypted and enrolled; sets ROOT_UUID, ROOT_DEV and ROOT_APPEND.
root_volume() { # KIND NAME
        rv_kind=$1 rv=$2 rv_t=$W/root-$2
        ROOT_UUID=$(newuuid)
        must "prepare ($rv): guest tree" vm_tree "$rv_kind" "$rv_t" "$W/state0.json"
        rv_kver=$(vm_kver "$rv_t")
        if [ "$rv_kind" = dracut ]; then
                ROOT_DEV=/dev/mapper/luks-$ROOT_UUID
                ROOT_APPEND="rd.luks.uuid=$ROOT_UUID root=$ROOT_DEV rw"
                printf '%s / ext4 rw 0 1\n' "$ROOT_DEV" >"$rv_t/etc/fstab"
                must "prepare ($rv): dracut --add \"crypt snpseal\"" vm_chroot "$rv_t" \
                        dracut -f --no-hostonly --add "crypt snpseal" "/boot/initrd.img-$rv_kver" "$rv_kver"
        else
                ROOT_DEV=/dev/mapper/root
                ROOT_APPEND="root=$ROOT_DEV rw"
                echo "root UUID=$ROOT_UUID none luks,initramfs,keyscript=/usr/libexec/snpseal/snpseal-keyscript" \
                        >"$rv_t/etc/crypttab"
                printf '%s / ext4 rw 0 1\n' "$ROOT_DEV" >"$rv_t/etc/fstab"
                must "prepare ($rv): update-initramfs" vm_chroot "$rv_t" update-initramfs -u -k "$rv_kver"
        fi
        must "prepare ($rv): the initrd has the agent, plugin, config and state" \
                sh "$top_srcdir/tests/vm/check-initrd.sh" "$rv_t" "$rv_t/boot/initrd.img-$rv_kver" "$rv_kind"
        randhex 16 >"$W/$rv.pass"
        must "prepare ($rv): root image" vm_image "$rv_t" "$W/$rv.img"
        must "prepare ($rv): root image encrypted" vm_luks_image "$W/$rv.img" "$ROOT_UUID" "$W/$rv.pass"
        must "prepare ($rv): snpseal enroll on the root volume" \
                luks_in_ns "$SNPSEAL" enroll --unlock-key-file="$W/$rv.pass" "$W/$rv.img"
        # The image has the tree; the boot needs its kernel and initrd only.
        vm_done $(find "$rv_t" -mindepth 1 -maxdepth 1 ! -name boot)
}

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot tests: Debian 12 guests under QEMU (TCG) with snpseal installed and the
# agent on the simulator (test images only), disks prepared on the host with
# the same simulator state through the real cryptsetup and the snpseal CLI.
#   1. a data volume in crypttab is unlocked by systemd-cryptsetup through the
#      token and mounted from fstab, in the order socket < agent < unlock < mount
#   2. a changed measurement: no unlock, the journal names the measurement, the
#      boot reaches multi-user.target (nofail), the volume is unchanged
#   3. the root volume unlocks in a dracut initrd (systemd-cryptsetup)
#   4. the root volume unlocks in Debian's initramfs-tools initrd (cryptroot,
#      the cryptsetup CLI, the plugin's --stdio fallback)
#   5. LoadCredential= from snpseald's credential socket
#   6. a firmware upgrade (committed TCB raised): still unlocks; with
#      snpseal-reseal.service enabled the token moves to the new TCB
#   7. a hostile host (it writes every byte of the disks; issue 10), with the
#      guest of case 1:
#      a. a copy of the data volume with the data segment cipher set to
#         cipher_null-ecb (tests/luks/luks2-hdr, checksums recomputed): no
#         unlock, the journal names the header change, multi-user.target
#      b. a volume of the host's making under the data volume's UUID, its
#         token bound to tcb_version only, enrolled through the host's own
#         agent on the same chip with another measurement: no unlock, the
#         journal says the binding does not bind enough
#      c. the genuine volume: a canary the guest writes to /data (given on
#         the kernel command line) is not in the image file in plaintext; and
#         tests/vm/toctou-preload.so in systemd-cryptsetup@data.service has
#         luks2-hdr in the guest rewrite the on-disk cipher right after the
#         plugin's check (crypt_volume_key_get): dm-crypt must still run the
#         cipher the plugin verified, and the header on disk shows the rewrite
#   8. snpseal attest in the guest of case 1 (its report script, nonce on the
#      kernel command line); the host verifies the evidence with snpseal
#      verify --trust-anchor=<the simulator's ARK> --nonce= --expect-measurement=
# Run by `make vm-check` (as root, with network access to a Debian mirror the
# first time: the guest trees are cached in tests/vm/cache). tests/vm/vm-lib.sh
# has the settings.

: "${top_srcdir:=$(dirname "$0")/../..}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/luks/luks-env.sh"
. "$top_srcdir/tests/vm/vm-lib.sh"

[ -x "${SNPSEAL:-}" ] || { echo "SNPSEAL is not set to the program (got '${SNPSEAL:-}')" >&2; exit 1; }
LUKS2_HDR=$top_builddir/tests/luks/luks2-hdr
TOCTOU_PRELOAD=$top_builddir/tests/vm/.libs/toctou-preload.so
for _p in "$LUKS2_HDR" "$TOCTOU_PRELOAD"; do
        [ -f "$_p" ] || { echo "$_p is not built" >&2; exit 1; }
done
vm_init || exit $?
luks_env_init || exit $?
trap '[ -z "${HOST_AGENT_PID:-}" ] || kill "$HOST_AGENT_PID"; luks_env_cleanup; vm_scrap; rm -f "$TAP_OUT"' EXIT
trap 'exit 129' HUP INT PIPE TERM
luks_agent_start || exit 1
W=$VM_WORK

# ---------------------------------------------------------------- helpers
# must, expect, fact_is, boot, root_volume, … (shared with test-boot-debian13.sh)
. "$top_srcdir/tests/vm/boot-checks.sh"

set_crypttab_data() { # TREE OPTIONS FSTAB-OPTIONS
        echo "data UUID=$DATA_UUID none $2" >"$1/etc/crypttab"
        printf '/dev/vda / ext4 rw 0 1\n/dev/mapper/data /data ext4 %s 0 2\n' "$3" >"$1/etc/fstab"
}

# ---------------------------------------------------------------- case 7 helpers
# What luksDump on the host says the data segment's cipher is.
segment_cipher_is() { # IMG CIPHER
        _c=$(cryptsetup luksDump "$1" | sed -n '/^Data segments:/,/^Keyslots:/s/^[[:space:]]*cipher: //p' | head -n 1)
        [ "$_c" = "$2" ] && return 0
        echo "$1: data segment cipher '$_c', expected '$2'"
        return 1
}

# The attacks of case 7 fail only when nothing was unlocked.
not_unlocked() { # BOOT
        _u=$(vm_fact "$1" unit systemd-cryptsetup@data.service)
        _m=$(vm_fact "$1" mapper)
        case "$_u | $_m " in
        "active success |"*|*" data "*)
                echo "the volume was unlocked (systemd-cryptsetup@data.service: $_u; /dev/mapper: $_m;" \
                        "dm-crypt cipher: $(vm_fact "$1" dm-cipher); /data/hello.txt: $(vm_fact "$1" data-file)):" \
                        "the attack worked"
                return 1 ;;
        esac
}

# The host's own agent for 7b: on $W/state-host.json, with weak bindings
# allowed in its configuration (an agent from before that setting refuses
# to start with it, and has no floor to lift: then it runs without).
HOST_AGENT_PID=
host_agent_start() {
        printf '# The host relaxes its own agent.\nallow_weak_bindings = yes\n' >"$W/host-agent.conf"
        for _try in 1 2; do
                rm -f "$W/host-agent.sock"
                "$SNPSEALD" --backend=simulator --simulator-state="$W/state-host.json" --listen="$W/host-agent.sock" \
                        --credentials-listen="$W/host-cred.sock" --credstore="$W/host-credstore" \
                        --config="$W/host-agent.conf" >"$W/host-agent.log" 2>&1 &
                HOST_AGENT_PID=$!
                _i=0
                while [ ! -S "$W/host-agent.sock" ] && [ "$_i" -lt 100 ] && kill -0 "$HOST_AGENT_PID" 2>/dev/null; do
                        sleep 0.1
                        _i=$((_i + 1))
                done
                [ -S "$W/host-agent.sock" ] && return 0
                host_agent_stop
                grep -q "allow_weak_bindings" "$W/host-agent.log" || { cat "$W/host-agent.log"; return 1; }
                echo "# this snpseald has no allow_weak_bindings setting: the host's agent runs without it"
                : >"$W/host-agent.conf"
        done
        cat "$W/host-agent.log"
        return 1
}

host_agent_stop() {
        [ -n "$HOST_AGENT_PID" ] || return 0
        kill "$HOST_AGENT_PID" 2>/dev/null
        wait "$HOST_AGENT_PID" 2>/dev/null
        HOST_AGENT_PID=
}

# snpseal enroll through the host's agent, and with the host's configuration
# for the CLI and the plugin (SNPSEAL_CONFIG) too.
host_enroll() {
        _saved=$SNPSEAL_SOCKET
        SNPSEAL_SOCKET=$W/host-agent.sock SNPSEAL_CONFIG=$W/host-agent.conf
        export SNPSEAL_CONFIG
        luks_in_ns "$SNPSEAL" --socket="$W/host-agent.sock" enroll --bind=tcb_version --force \
                --unlock-key-file="$W/host.pass" "$W/data-host.img"
        _rc=$?
        SNPSEAL_SOCKET=$_saved
        unset SNPSEAL_CONFIG
        return $_rc
}

# The host's token binds the field tcb_version only (snpseal list's
# "binding: ROOT; FIELDS; …" line; list fails when a token does not open
# here, as this one must not).
binds_only_tcb() { # IMG
        _list=$(list_token "$1")
        _fields=$(echo "$_list" | sed -n 's/^[[:space:]]*binding:[[:space:]]*//p' | head -n 1 | cut -d';' -f2 |
                tr -d ' ')
        [ "$_fields" = tcb_version ] && return 0
        echo "binding fields '$_fields', expected 'tcb_version':"
        echo "$_list"
        return 1
}

# ---------------------------------------------------------------- preparation
must "prepare: guest tree with initramfs-tools (mmdebstrap, cached)" vm_base initramfs-tools
must "prepare: guest tree with dracut (cached)" vm_base dracut
must "prepare: snpseal's .debs for the guests" vm_stage
cp "$LUKS_STATE" "$W/state0.json"

# The data volume: an ext4 file system with a file, encrypted offline, the
# snpseal token enrolled by the CLI through the host agent (same state).
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

# The sealed credential (case 5).
CRED_SECRET="credential-$(randhex 12)"
must "prepare: snpseal credential add demo" sh -c \
        'printf %s "$1" | "$SNPSEAL" credential add demo --credstore="$2"' sh "$CRED_SECRET" "$W/credstore"
CRED_SHA=$(printf %s "$CRED_SECRET" | sha256sum | cut -d' ' -f1)

T=$W/data-root
must "prepare: guest tree for the data volume" vm_tree initramfs-tools "$T" "$W/state0.json"
install -d -m 0700 "$T/etc/snpseal/credstore" && install -m 0600 "$W/credstore/demo.sealed" "$T/etc/snpseal/credstore/"
systemctl --root="$T" --quiet enable vmtest-cred.service

# ---------------------------------------------------------------- 1 + 5: data volume, credential
set_crypttab_data "$T" luks defaults
must "prepare: root image (case 1)" vm_image "$T" "$W/data-root.img"
NONCE=$(randhex 32)
boot data "$T" "root=/dev/vda rw snpseal.nonce=$NONCE" "$W/data-root.img" "$W/data.img"
expect "1 data volume: the guest booted and reported" data . booted data
expect "1 data volume: systemd-cryptsetup@data.service unlocked it" data 'cryptsetup|snpseal' \
        fact_is data unit systemd-cryptsetup@data.service "active success"
expect "1 data volume: /data mounted from fstab" data 'data|cryptsetup' fact_is data unit data.mount "active success"
expect "1 data volume: the file written on the host reads back" data 'data' fact_is data data-file "$MARKER"
expect "1 data volume: snpseald.socket listened before the unlock started" data 'snpseal|cryptsetup' \
        before data socket unlock-start
expect "1 data volume: the agent was activated before the unlock finished" data 'snpseal|cryptsetup' \
        before data agent unlock
expect "1 data volume: the unlock finished before the mount" data 'cryptsetup|data' before data unlock mount
expect "1 data volume: the agent says it runs on the simulator" data 'snpseald' journal_has data 'snpseald.*[Ss]imulator'
expect "1 data volume: modprobe@sev_guest.service skipped (no SEV-SNP guest device under TCG)" data 'modprobe|sev' \
        fact_is data condition modprobe@sev_guest.service no
expect "5 credential: vmtest-cred.service got the credential" data 'vmtest-cred|credential|snpseal' \
        fact_is data unit vmtest-cred.service "active success"
expect "5 credential: \$CREDENTIALS_DIRECTORY/demo is the sealed secret" data 'vmtest-cred|credential' \
        fact_is data cred-sha256 "$CRED_SHA"

# ---------------------------------------------------------------- 8: attest in the guest, verify on the host
# The same boot: the guest's report script ran snpseal attest with the nonce
# given on its kernel command line; the host checks the evidence against the
# simulator's ARK (the guest's state), as a relying party would.
tr -d '\r' <"$W/data.report" | sed -n 's/^VMTEST evidence //p' | base64 -d >"$W/evidence.json" 2>/dev/null
"$SNPSEAL_SIM" chain --ark "$W/state0.json" >"$W/sim-ark.pem"
GUEST_M=$(sed -n 's/^ *"measurement": "\([0-9a-f]*\)",$/\1/p' "$W/state0.json")
expect "8 attest: snpseal attest in the guest succeeded" data 'attest|snpseald' fact_is data attest-exit 0
expect "8 attest: the host verifies the guest's evidence against the simulator's ARK" data 'attest|snpseald' \
        sh -c '"$1" verify --trust-anchor="$2" --nonce="$3" --expect-measurement="$4" --deny-debug "$5" |
                grep -E "^verified"' sh "$SNPSEAL" "$W/sim-ark.pem" "$NONCE" "$GUEST_M" "$W/evidence.json"
expect "8 attest: another nonce: genuine, not as expected (exit 3)" data . \
        sh -c '"$1" verify --trust-anchor="$2" --nonce=00 "$3" >/dev/null; [ $? -eq 3 ]' sh "$SNPSEAL" \
        "$W/sim-ark.pem" "$W/evidence.json"

# ---------------------------------------------------------------- 2: changed identity
cp "$W/state0.json" "$W/state-measurement.json"
"$SNPSEAL_SIM" set "$W/state-measurement.json" measurement="$(randhex 48)" >/dev/null
install -m 0600 "$W/state-measurement.json" "$T/etc/snpseal/sim-state.json"
set_crypttab_data "$T" luks,nofail nofail
must "prepare: root image (case 2)" vm_image "$T" "$W/data-root.img"
SHA_BEFORE=$(sha "$W/data.img")
boot identity "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data.img"
expect "2 changed identity: the guest booted and reported" identity . booted identity
expect "2 changed identity: the boot reached multi-user.target" identity . fact_is identity multi-user active
expect "2 changed identity: the volume was not unlocked" identity 'cryptsetup|snpseal' \
        fact_not identity unit systemd-cryptsetup@data.service "active success"
expect "2 changed identity: no /dev/mapper/data" identity 'cryptsetup' \
        sh -c 'case " $1 " in *" data "*) echo "mapper: $1"; exit 1 ;; esac' sh "$(vm_fact identity mapper)"
expect "2 changed identity: the journal names the measurement" identity 'cryptsetup|snpseal' \
        journal_has identity 'measurement'
expect "2 changed identity: nothing on the volume changed" identity 'cryptsetup' \
        same "$SHA_BEFORE" "$(sha "$W/data.img")"

# ---------------------------------------------------------------- 6: firmware upgrade
TCB1=$(printf '%02x%s' $((0x${TCB0%??????????????} + 1)) "${TCB0#??}")
cp "$W/state0.json" "$LUKS_STATE"
# A firmware update and a new launch: every TCB of the guest moves up.
"$SNPSEAL_SIM" set "$LUKS_STATE" launch_tcb="$TCB1" committed_tcb="$TCB1" current_tcb="$TCB1" reported_tcb="$TCB1" \
        >/dev/null
cp "$LUKS_STATE" "$W/state-upgraded.json"
install -m 0600 "$W/state-upgraded.json" "$T/etc/snpseal/sim-state.json"
set_crypttab_data "$T" luks defaults
must "prepare: root image (case 6, upgraded firmware)" vm_image "$T" "$W/data-root.img"
boot upgrade "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data.img"
expect "6 firmware upgrade: the guest booted and reported" upgrade . booted upgrade
expect "6 firmware upgrade: the volume still unlocks (TCB $TCB0 <= committed $TCB1)" upgrade 'cryptsetup|snpseal' \
        fact_is upgrade unit systemd-cryptsetup@data.service "active success"
expect "6 firmware upgrade: the file reads back" upgrade data fact_is upgrade data-file "$MARKER"
expect "6 firmware upgrade: snpseal-reseal.service is disabled by default" upgrade . \
        fact_is upgrade ran snpseal-reseal.service no
expect "6 firmware upgrade: reseal disabled: the token stays at $TCB0" upgrade . \
        tokens_tcb "$W/data.img" "$TCB0"

systemctl --root="$T" --quiet enable snpseal-reseal.service
must "prepare: root image (case 6, snpseal-reseal.service enabled)" vm_image "$T" "$W/data-root.img"
boot reseal "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data.img"
expect "6 firmware upgrade: the guest booted and reported" reseal . booted reseal
expect "6 firmware upgrade: snpseal-reseal.service ran" reseal 'reseal|snpseal' \
        fact_is reseal ran snpseal-reseal.service yes
expect "6 firmware upgrade: snpseal-reseal.service succeeded" reseal 'reseal|snpseal' \
        fact_is reseal result snpseal-reseal.service success
expect "6 firmware upgrade: snpseal-reseal.service logged the move" reseal 'reseal|snpseal' \
        journal_has reseal "data: token [0-9]+ .*$TCB1.*resealed as token"
expect "6 firmware upgrade: the token now is bound to TCB $TCB1" reseal . \
        tokens_tcb "$W/data.img" "$TCB1"
expect "6 firmware upgrade: the file still reads back" reseal data fact_is reseal data-file "$MARKER"
cp "$W/state0.json" "$LUKS_STATE"

# ---------------------------------------------------------------- 7: hostile host
# The host writes every byte of the data disk (docs/BOOT.md, "Threat model").
# The guest tree of cases 1-6 (firmware upgraded: the token opens whether or
# not case 6 moved it), the volume in crypttab with nofail, no reseal.
systemctl --root="$T" --quiet disable snpseal-reseal.service
set_crypttab_data "$T" luks,nofail nofail
must "prepare: root image (case 7a, 7b)" vm_image "$T" "$W/data-root.img"

# 7a: a copy of our volume whose data segment cipher the host set to
# cipher_null-ecb, both header copies rewritten with valid checksums: the
# token would still open our keyslot, and the guest would write plaintext.
cp "$W/data.img" "$W/data-null.img"
must "prepare (7a): the host sets the data segment cipher to cipher_null-ecb" \
        "$LUKS2_HDR" set "$W/data-null.img" segments.0.encryption=cipher_null-ecb
must "prepare (7a): cryptsetup accepts the edited header" segment_cipher_is "$W/data-null.img" cipher_null-ecb
HDR_CHANGED='the LUKS2 header changed after enrollment'
boot hostile-null "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data-null.img"
expect "7a cipher_null header: the guest booted and reported" hostile-null . booted hostile-null
expect "7a cipher_null header: the boot reached multi-user.target" hostile-null . \
        fact_is hostile-null multi-user active
expect "7a cipher_null header: the volume was not unlocked" hostile-null 'cryptsetup|snpseal' \
        not_unlocked hostile-null
expect "7a cipher_null header: the journal names the header change and cipher_null-ecb" hostile-null \
        'cryptsetup|snpseal' journal_has hostile-null "cipher_null-ecb.*$HDR_CHANGED|$HDR_CHANGED.*cipher_null-ecb"

# 7b: a volume of the host's making under our data volume's UUID, its token
# bound to tcb_version only. The host computes that key with its own agent
# in a guest of another image on the same chip (the simulator state with
# another measurement), relaxed as far as its configuration allows.
cp "$W/state-upgraded.json" "$W/state-host.json"
"$SNPSEAL_SIM" set "$W/state-host.json" measurement="$(randhex 48)" >/dev/null
HOST_MARKER="planted-by-the-host-$(randhex 8)"
rm -rf "$W/hostsrc" && mkdir -p "$W/hostsrc" && echo "$HOST_MARKER" >"$W/hostsrc/hello.txt"
randhex 16 >"$W/host.pass"
must "prepare (7b): the host's file system image" vm_image "$W/hostsrc" "$W/data-host.img" 32
must "prepare (7b): encrypted with our data volume's UUID" vm_luks_image "$W/data-host.img" "$DATA_UUID" "$W/host.pass"
host_agent_start || { echo "Bail out! the host's agent did not start"; exit 1; }
must "prepare (7b): the host enrolls a token bound to tcb_version only (its own agent)" host_enroll
host_agent_stop
must "prepare (7b): the host's token binds tcb_version, not measurement or policy" binds_only_tcb "$W/data-host.img"
boot hostile-token "$T" "root=/dev/vda rw" "$W/data-root.img" "$W/data-host.img"
expect "7b host-made token: the guest booted and reported" hostile-token . booted hostile-token
expect "7b host-made token: the boot reached multi-user.target" hostile-token . \
        fact_is hostile-token multi-user active
expect "7b host-made token: the volume was not unlocked" hostile-token 'cryptsetup|snpseal' \
        not_unlocked hostile-token
expect "7b host-made token: the host's file system is not mounted" hostile-token 'data' \
        fact_not hostile-token data-file "$HOST_MARKER"
expect "7b host-made token: the journal says the binding does not bind enough" hostile-token \
        'cryptsetup|snpseal' journal_has hostile-token 'does not bind'

# 7c: our genuine volume. The guest writes a canary to /data, syncs, drops
# its caches and reads it back: the canary reached the disk, and it must not
# be there in plaintext. And the window between the plugin's check and the
# activation: toctou-preload.so in systemd-cryptsetup@data.service runs
# luks2-hdr in the guest right after the plugin's crypt_volume_key_get (the
# plugin has verified the header in memory), setting the on-disk cipher to
# aes-cbc-essiv:sha256 while no mapping "data" exists yet (the command fails
# otherwise). libcryptsetup must activate what the plugin verified:
# the dm-crypt table says aes-xts-plain64, and the on-disk header afterwards
# shows the rewrite, so it happened inside the window.
CANARY="canary-$(randhex 16)"
TOCTOU_HOOK=crypt_volume_key_get
# The package's plugin: below /lib on Debian 12, /usr/lib on 13 (pkg-config).
PLUGIN_SO=$(ls "$VM_STAGE"/usr/lib/$VM_ARCH_TRIPLET/cryptsetup/libcryptsetup-token-snpseal.so \
        "$VM_STAGE"/lib/$VM_ARCH_TRIPLET/cryptsetup/libcryptsetup-token-snpseal.so 2>/dev/null | head -n 1)
if ! nm -D --undefined-only "$PLUGIN_SO" 2>/dev/null | grep -qw crypt_volume_key_get; then
        # A plugin that does not check the volume key: the rewrite follows
        # its reading of the token, still after libcryptsetup loaded the header.
        TOCTOU_HOOK=crypt_token_json_get
        echo "# the plugin does not call crypt_volume_key_get: the TOCTOU rewrite runs after crypt_token_json_get"
fi
TOCTOU_CMD='! dmsetup info data >/dev/null 2>&1 && /usr/local/sbin/luks2-hdr set /dev/vdb'
TOCTOU_CMD="$TOCTOU_CMD segments.0.encryption=aes-cbc-essiv:sha256"
install -m 0755 "$LUKS2_HDR" "$T/usr/local/sbin/luks2-hdr" &&
        install -D -m 0644 "$TOCTOU_PRELOAD" "$T/usr/local/lib/toctou-preload.so" &&
        mkdir -p "$T/etc/systemd/system/systemd-cryptsetup@data.service.d" &&
        cat >"$T/etc/systemd/system/systemd-cryptsetup@data.service.d/toctou.conf" <<EOC
# Test image only (tests/vm/test-boot.sh, case 7c): the host rewrites the
# header after the token plugin's check.
[Service]
Environment=LD_PRELOAD=/usr/local/lib/toctou-preload.so SNPSEAL_TEST_AFTER=$TOCTOU_HOOK
Environment="SNPSEAL_TEST_AFTER_CHECK=$TOCTOU_CMD"
EOC
must "prepare (7c): luks2-hdr and toctou-preload.so in the guest" test -s "$T/usr/local/lib/toctou-preload.so"
must "prepare: root image (case 7c)" vm_image "$T" "$W/data-root.img"
must "prepare (7c): our volume's header is genuine" segment_cipher_is "$W/data.img" aes-xts-plain64
boot hostile-toctou "$T" "root=/dev/vda rw snpseal.canary=$CANARY" "$W/data-root.img" "$W/data.img"
expect "7c genuine header: the guest booted and reported" hostile-toctou . booted hostile-toctou
expect "7c genuine header: systemd-cryptsetup@data.service unlocked it" hostile-toctou 'cryptsetup|snpseal|toctou' \
        fact_is hostile-toctou unit systemd-cryptsetup@data.service "active success"
expect "7c genuine header: the file written on the host reads back" hostile-toctou 'data' \
        fact_is hostile-toctou data-file "$MARKER"
expect "7c canary: written to /data and read back from the disk" hostile-toctou 'data' \
        fact_is hostile-toctou canary-read "$CANARY"
expect "7c canary: not in plaintext in the image file" hostile-toctou . \
        same 0 "$(grep -a -c -F -- "$CANARY" "$W/data.img")"
expect "7c TOCTOU: the host's rewrite ran after $TOCTOU_HOOK, before the mapping existed" hostile-toctou \
        'toctou|cryptsetup' \
        journal_has hostile-toctou "toctou-preload: after $TOCTOU_HOOK: .*luks2-hdr set /dev/vdb .*: exit 0"
expect "7c TOCTOU: the on-disk header now says aes-cbc-essiv:sha256" hostile-toctou . \
        segment_cipher_is "$W/data.img" aes-cbc-essiv:sha256
expect "7c TOCTOU: dm-crypt runs the cipher the plugin verified (aes-xts-plain64)" hostile-toctou 'cryptsetup|toctou' \
        fact_is hostile-toctou dm-cipher aes-xts-plain64
# The genuine header again, for whatever runs next.
must "7c: the host restores the data volume's cipher" \
        "$LUKS2_HDR" set "$W/data.img" segments.0.encryption=aes-xts-plain64
rm -rf "$T/etc/systemd/system/systemd-cryptsetup@data.service.d"

# ---------------------------------------------------------------- 3, 4: root volume in the initrd
# root_volume (tests/vm/boot-checks.sh) makes the tree and the image. The
# data volume cases are done: their tree and images go (vm_done).
vm_done "$T" "$W"/data*.img

root_volume dracut root-dracut
boot root-dracut "$W/root-root-dracut" "$ROOT_APPEND" "$W/root-dracut.img"
expect "3 root volume, dracut: the guest booted unattended and reported" root-dracut . booted root-dracut
expect "3 root volume, dracut: / is $ROOT_DEV" root-dracut 'cryptsetup|snpseal' \
        fact_is root-dracut root-source "$ROOT_DEV"
expect "3 root volume, dracut: systemd-cryptsetup unlocked it in the initrd" root-dracut 'cryptsetup|snpseal' \
        journal_has root-dracut "Finished systemd-cryptsetup@luks"
expect "3 root volume, dracut: the socket-activated agent in the initrd derived the key" root-dracut \
        'cryptsetup|snpseal' journal_has root-dracut "snpseald\[[0-9]+\]: io.snpseal.Agent.DeriveKey from uid 0 .*purpose luks2: ok"
expect "3 root volume, dracut: the boot reached multi-user.target" root-dracut . fact_is root-dracut multi-user active
vm_done "$W/root-root-dracut" "$W/root-dracut.img"

root_volume initramfs-tools root-initramfs
boot root-initramfs "$W/root-root-initramfs" "$ROOT_APPEND" "$W/root-initramfs.img"
expect "4 root volume, initramfs-tools: the guest booted unattended and reported" root-initramfs . \
        booted root-initramfs
expect "4 root volume, initramfs-tools: / is $ROOT_DEV" root-initramfs . fact_is root-initramfs root-source "$ROOT_DEV"
expect "4 root volume, initramfs-tools: cryptroot set it up" root-initramfs . \
        console_has root-initramfs 'root: set up successfully'
expect "4 root volume, initramfs-tools: the plugin's snpseald --stdio derived the key" root-initramfs . \
        console_has root-initramfs '^snpseald: io.snpseal.Agent.DeriveKey from uid 0 .*purpose luks2: ok'
expect "4 root volume, initramfs-tools: no passphrase prompt" root-initramfs . \
        sh -c '! tr -d "\r" <"$0" | grep -Eq "Please unlock disk|Enter passphrase"' "$W/root-initramfs.console"
expect "4 root volume, initramfs-tools: the boot reached multi-user.target" root-initramfs . \
        fact_is root-initramfs multi-user active

tap_done

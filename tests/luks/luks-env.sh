# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# luks-env.sh — a scratch environment for the snpseal LUKS2 token: simulator
# state, the real agent on a temporary socket, LUKS2 images on files, and a
# private mount namespace in which the real `cryptsetup` loads the build
# tree's token plugin. POSIX sh; source it, then call the functions.
#
# Inputs (environment; `make check` sets them all):
#   SNPSEAL_SIM    snpseal-sim program          SNPSEALD  snpseald program
#   top_builddir   build tree holding cryptsetup-token/.libs/libcryptsetup-token-snpseal.so
#                  (or set LUKS_PLUGIN to the plugin's path)
#   LUKS_TMPDIR    parent of the scratch directory (default: mktemp -d's default)
#
# Functions:
#   luks_env_init          Checks the facilities (cryptsetup, unshare -m, the
#                          plugin), creates the scratch directory $LUKS_TMP, the
#                          simulator state $LUKS_STATE (snpseal-sim init), an
#                          empty agent config $LUKS_AGENT_CONF (also SNPSEAL_CONFIG,
#                          read by the CLI and the plugin), and prepares the
#                          namespace overlays. Exports SNPSEAL_SOCKET=$LUKS_SOCKET.
#                          Returns 0; 77 with "SKIP: reason" on stderr when this
#                          machine cannot run it; 1 on other errors.
#   luks_env_cleanup       Stops the agent and removes $LUKS_TMP. Call it from
#                          an EXIT trap, and turn signals into exits so that
#                          it runs: trap 'exit 129' HUP INT PIPE TERM.
#   luks_agent_start [ARG...]
#                          Starts "$SNPSEALD" --backend=simulator on $LUKS_SOCKET
#                          (extra snpseald options appended), waits up to 10 s
#                          for the socket. Log: $LUKS_TMP/agent.log. The agent
#                          reads its VMPL from the state when it starts: restart
#                          it after `snpseal-sim set … vmpl=N`.
#   luks_agent_stop        Stops it (SIGTERM, bounded wait, then SIGKILL).
#   luks_make_image NAME   Creates the LUKS2 image $LUKS_TMP/NAME.img (32 MiB,
#                          PBKDF2-1000 keyslot 0) whose passphrase is the content
#                          of $LUKS_TMP/NAME.pass (no newline). Prints the path.
#   luks_in_ns CMD [ARG...]
#                          Runs CMD in a private mount namespace where the
#                          cryptsetup token directory ($LUKS_TOKEN_DIR) holds only
#                          the build tree's plugin (a cryptsetup that has
#                          --external-tokens-path, 2.7 on, is given that option
#                          instead: LUKS_TOKEN_LOAD=option, else bind), and where the fixed path the
#                          plugin runs for its --stdio fallback
#                          ($LUKS_SNPSEALD_PATH) is a wrapper that runs "$SNPSEALD"
#                          on the simulator state. Returns CMD's exit status
#                          (125 when the namespace cannot be set up).
#   luks_fallback_fail on|off
#                          Makes that wrapper exit 1 (a broken fallback) or not.
#
# Variables set by luks_env_init: LUKS_TMP, LUKS_STATE, LUKS_AGENT_CONF,
# LUKS_SOCKET, LUKS_PLUGIN, LUKS_TOKEN_DIR, LUKS_TOKEN_LOAD, LUKS_SNPSEALD_PATH,
# LUKS_AGENT_PID.
# Setting LUKS_NO_FALLBACK=1 before luks_in_ns leaves the fallback path alone.

LUKS_PLUGIN_NAME=libcryptsetup-token-snpseal.so
LUKS_AGENT_PID=

luks__skip() {
        echo "SKIP: $*" >&2
        return 77
}

# The token directory libcryptsetup was built with, from `cryptsetup --help`.
luks__token_dir() {
        _d=$(cryptsetup --help 2>/dev/null |
                sed -n 's/^LUKS2 external token plugin path: *\(.*\)$/\1/p' | sed 's/\.$//')
        echo "${_d:-/usr/lib/x86_64-linux-gnu/cryptsetup}"
}

# The path the plugin runs for its --stdio fallback: the string compiled into
# the plugin (SNPSEALD_PATH), else $(sbindir)/snpseald of a default prefix.
luks__snpseald_path() {
        _p=$(grep -aoE '/[A-Za-z0-9_./+-]*/snpseald' "$LUKS_PLUGIN" 2>/dev/null | head -n 1)
        echo "${_p:-/usr/local/sbin/snpseald}"
}

luks__check_facilities() {
        command -v cryptsetup >/dev/null 2>&1 || { luks__skip "cryptsetup is not installed"; return; }
        # "compiled-in" up to cryptsetup 2.6, "enabled" from 2.7 on.
        cryptsetup --help 2>/dev/null | grep -Eq 'external token plugin support is (compiled-in|enabled)' ||
                { luks__skip "cryptsetup is built without external token plugins"; return; }
        command -v unshare >/dev/null 2>&1 || { luks__skip "unshare (util-linux) is not installed"; return; }
        unshare -m --propagation private true 2>/dev/null ||
                { luks__skip "unshare -m is not permitted here (needs root / CAP_SYS_ADMIN)"; return; }
        for _v in SNPSEAL_SIM SNPSEALD; do
                eval "_p=\${$_v:-}"
                if [ -z "$_p" ] || [ ! -x "$_p" ]; then
                        echo "luks-env: $_v is not set to the program (got '$_p')" >&2
                        return 1
                fi
        done
        if [ ! -f "$LUKS_PLUGIN" ]; then
                echo "luks-env: the token plugin is not built: $LUKS_PLUGIN" >&2
                return 1
        fi
}

# The directory bound over the fallback path's directory: symlinks to all the
# original entries, plus the snpseald wrapper.
luks__make_sbin_overlay() {
        _dir=$(dirname "$LUKS_SNPSEALD_PATH")
        mkdir -p "$LUKS_TMP/ns-sbin" || return 1
        if [ -d "$_dir" ]; then
                for _e in "$_dir"/* "$_dir"/.[!.]*; do
                        [ -e "$_e" ] || [ -L "$_e" ] || continue
                        ln -s "$_e" "$LUKS_TMP/ns-sbin/" || return 1
                done
        fi
        rm -f "$LUKS_TMP/ns-sbin/snpseald"
        cat >"$LUKS_TMP/ns-sbin/snpseald" <<EOF || return 1
#!/bin/sh
# snpseald for the plugin's --stdio fallback: the simulator backend.
echo "\$(date +%s) \$*" >>'$LUKS_TMP/fallback.log'
if [ -e '$LUKS_TMP/fallback-fail' ]; then
        echo "snpseald (test wrapper): failing on purpose" >&2
        exit 1
fi
exec '$SNPSEALD' "\$@" --backend=simulator --simulator-state='$LUKS_STATE' --config='$LUKS_AGENT_CONF'
EOF
        chmod 0755 "$LUKS_TMP/ns-sbin/snpseald"
}

luks_env_init() {
        : "${top_builddir:=.}"
        LUKS_PLUGIN=${LUKS_PLUGIN:-$top_builddir/cryptsetup-token/.libs/$LUKS_PLUGIN_NAME}
        case $LUKS_PLUGIN in /*) ;; *) LUKS_PLUGIN=$(pwd)/$LUKS_PLUGIN ;; esac
        luks__check_facilities || return
        LUKS_TOKEN_DIR=$(luks__token_dir)
        [ -d "$LUKS_TOKEN_DIR" ] || { luks__skip "no cryptsetup token directory $LUKS_TOKEN_DIR"; return; }
        LUKS_SNPSEALD_PATH=$(luks__snpseald_path)
        # Feature, not version: cryptsetup 2.7 has --external-tokens-path.
        LUKS_TOKEN_LOAD=bind
        if cryptsetup --help 2>/dev/null | grep -q -- '--external-tokens-path'; then
                LUKS_TOKEN_LOAD=option
        fi
        # The plugin execs the agent from a fixed directory, which the
        # namespace covers with the wrapper. Before "make install" (e.g.
        # distcheck's _inst/sbin) it may not exist yet: create it, empty.
        if [ -z "${LUKS_NO_FALLBACK:-}" ] && [ ! -d "$(dirname "$LUKS_SNPSEALD_PATH")" ]; then
                mkdir -p "$(dirname "$LUKS_SNPSEALD_PATH")" ||
                        { luks__skip "cannot create $(dirname "$LUKS_SNPSEALD_PATH") for the --stdio fallback"; return; }
        fi
        LUKS_TMP=$(mktemp -d "${LUKS_TMPDIR:-${TMPDIR:-/tmp}}/snpseal-luks.XXXXXX") || return 1
        LUKS_STATE=$LUKS_TMP/sim-state.json
        LUKS_AGENT_CONF=$LUKS_TMP/snpseald.conf
        LUKS_SOCKET=$LUKS_TMP/agent.sock
        SNPSEAL_SOCKET=$LUKS_SOCKET
        # The CLI and the plugin read what the administrator allows from
        # the agent's file (snpseald.conf(5)).
        SNPSEAL_CONFIG=$LUKS_AGENT_CONF
        export SNPSEAL_SOCKET SNPSEAL_CONFIG
        : >"$LUKS_AGENT_CONF" || return 1
        "$SNPSEAL_SIM" init "$LUKS_STATE" >/dev/null || return 1
        mkdir -p "$LUKS_TMP/ns-tokens" || return 1
        ln -s "$LUKS_PLUGIN" "$LUKS_TMP/ns-tokens/$LUKS_PLUGIN_NAME" || return 1
        luks__make_sbin_overlay || return 1
        # A plugin built with ASan needs the runtime first in the process.
        LUKS_PRELOAD=$(ldd "$LUKS_PLUGIN" 2>/dev/null | sed -n 's/^[[:space:]]*libasan[^ ]* => \([^ ]*\).*/\1/p')
}

luks_env_cleanup() {
        luks_agent_stop
        if [ -n "${LUKS_TMP:-}" ] && [ -d "$LUKS_TMP" ]; then
                rm -rf "$LUKS_TMP"
        fi
}

luks_agent_start() {
        luks_agent_stop
        rm -f "$LUKS_SOCKET"
        "$SNPSEALD" --backend=simulator --simulator-state="$LUKS_STATE" --listen="$LUKS_SOCKET" \
                --credentials-listen="$LUKS_TMP/cred.sock" --credstore="$LUKS_TMP/credstore" \
                --config="$LUKS_AGENT_CONF" "$@" >>"$LUKS_TMP/agent.log" 2>&1 &
        LUKS_AGENT_PID=$!
        _i=0
        while [ ! -S "$LUKS_SOCKET" ] && [ "$_i" -lt 100 ]; do
                kill -0 "$LUKS_AGENT_PID" 2>/dev/null || break
                sleep 0.1
                _i=$((_i + 1))
        done
        if [ ! -S "$LUKS_SOCKET" ]; then
                echo "luks-env: snpseald did not listen on $LUKS_SOCKET:" >&2
                cat "$LUKS_TMP/agent.log" >&2
                luks_agent_stop
                return 1
        fi
}

luks_agent_stop() {
        [ -n "${LUKS_AGENT_PID:-}" ] || return 0
        kill "$LUKS_AGENT_PID" 2>/dev/null
        _i=0
        while kill -0 "$LUKS_AGENT_PID" 2>/dev/null && [ "$_i" -lt 50 ]; do
                sleep 0.1
                _i=$((_i + 1))
        done
        kill -9 "$LUKS_AGENT_PID" 2>/dev/null
        wait "$LUKS_AGENT_PID" 2>/dev/null
        LUKS_AGENT_PID=
        return 0
}

luks_make_image() {
        _img=$LUKS_TMP/$1.img
        rm -f "$_img"
        # 0600, as a key file should be (snpseal warns about one others may read).
        (umask 077 && printf 'passphrase-%s-%s' "$1" "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
                >"$LUKS_TMP/$1.pass") || return 1
        truncate -s 32M "$_img" || return 1
        cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                "$_img" "$LUKS_TMP/$1.pass" >/dev/null || return 1
        echo "$_img"
}

luks_fallback_fail() {
        case $1 in
        on) : >"$LUKS_TMP/fallback-fail" ;;
        *) rm -f "$LUKS_TMP/fallback-fail" ;;
        esac
}

luks_in_ns() {
        _sbin= _tokens=$LUKS_TMP/ns-tokens
        if [ -z "${LUKS_NO_FALLBACK:-}" ] && [ -d "$(dirname "$LUKS_SNPSEALD_PATH")" ]; then
                _sbin=$LUKS_TMP/ns-sbin
        fi
        # cryptsetup >= 2.7 loads the plugin from the directory its option
        # names, in the actions that take it; every other program (the
        # snpseal CLI, systemd-cryptsetup, token-open) and every other
        # action (reencrypt, luksFormat: "not allowed") from the bound token
        # directory.
        if [ "$LUKS_TOKEN_LOAD" = option ] && [ "${1##*/}" = cryptsetup ]; then
                _first=1
                for _a in "$@"; do
                        [ "$_first" = 1 ] && { _first=0; continue; }
                        case $_a in
                        open|luksOpen|luksDump|token|luksAddKey|resize|refresh|luksResume)
                                _c=$1
                                shift
                                set -- "$_c" --external-tokens-path "$LUKS_TMP/ns-tokens" "$@"
                                _tokens=
                                break ;;
                        -*|*/*) ;;
                        *) break ;;
                        esac
                done
        fi
        unshare -m --propagation private sh -c '
                tokens=$1 tokdir=$2 sbin=$3 sbindir=$4 preload=$5
                shift 5
                if [ -n "$tokens" ]; then
                        mount --bind "$tokens" "$tokdir" || exit 125
                fi
                if [ -n "$sbin" ]; then
                        mount --bind "$sbin" "$sbindir" || exit 125
                fi
                if [ -n "$preload" ]; then
                        LD_PRELOAD=$preload${LD_PRELOAD:+:$LD_PRELOAD}
                        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
                        export LD_PRELOAD ASAN_OPTIONS
                fi
                exec "$@"' luks-ns "$_tokens" "$LUKS_TOKEN_DIR" "$_sbin" \
                "$(dirname "$LUKS_SNPSEALD_PATH")" "${LUKS_PRELOAD:-}" "$@"
}

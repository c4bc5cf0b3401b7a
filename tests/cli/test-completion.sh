#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for snpseal and snpseal-sim (shell-completion/bash/):
# sourced into a real bash, driven as bash drives it (COMP_LINE,
# COMP_POINT, COMP_WORDS), the candidates checked against the programs'
# own help; and configure puts the files where bash-completion's pkg-config
# data says, else below DATADIR.
# Run by `make check` (which sets top_srcdir, top_builddir, SNPSEAL,
# SNPSEAL_SIM).

: "${top_srcdir:=$(dirname "$0")/../..}"
. "$top_srcdir/tests/tap.sh"

command -v bash >/dev/null || tap_skip_all "bash is not installed"
for v in SNPSEAL SNPSEAL_SIM; do
        eval "p=\${$v:-}"
        if [ -z "$p" ] || [ ! -x "$p" ]; then
                echo "$v is not set to the program (got '$p')" >&2
                exit 1
        fi
done
WORK=$(mktemp -d)
trap 'rm -f "$TAP_OUT" "$TAP_OUT.err"; rm -rf "$WORK"' EXIT

# complete PROGRAM LINE: the candidates bash would offer at the end of LINE,
# one a line (the completion function of PROGRAM's file, run by bash).
complete_line() { # snpseal|snpseal-sim LINE
        _file=$top_srcdir/shell-completion/bash/$1
        _prog=$SNPSEAL
        _func=_snpseal
        if [ "$1" = snpseal-sim ]; then
                _prog=$SNPSEAL_SIM
                _func=_snpseal_sim
        fi
        bash --norc --noprofile -c '
                . "$1" || exit 3
                COMP_LINE=$3 COMP_POINT=${#3} COMP_WORDS=("$2") COMP_CWORD=1 COMP_WORDBREAKS="\"'"'"'><=;|&(:"
                "$4"
                printf "%s\n" "${COMPREPLY[@]}"' - "$_file" "$_prog" "$2" "$_func"
}
words() { # LINE...: the candidates on one line, sorted
        complete_line "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}

# ---------------------------------------------------------------- snpseal
cmds=$("$SNPSEAL" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
check_output "snpseal --help lists commands" 'status' echo "$cmds"
check_eq "every command of --help is offered" "$cmds" "$(words snpseal 'snpseal ')"
check_eq "a prefix narrows them" "remove report reseal" "$(words snpseal 'snpseal re')"
check_eq "after a global option too" "status" "$(words snpseal 'snpseal --socket /x --json st')"
check_eq "global options before the command" "--json" "$(words snpseal 'snpseal --js')"
check_eq "credential subcommands" "add list remove" "$(words snpseal 'snpseal credential ')"
check_eq "user subcommands" "enroll list remove rewrap unseal" "$(words snpseal 'snpseal user ')"

opts=$("$SNPSEAL" enroll --help | sed -n 's/^ \{1,\}\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*=\{0,1\}\).*/\2/p' | sort -u |
        tr '\n' ' ' | sed 's/ $//')
check_output "enroll --help has --recovery-key" '--recovery-key' echo "$opts"
check_eq "enroll: every option of its --help" "$opts" "$(words snpseal 'snpseal enroll /dev/vdb --')"
check_eq "enroll: a prefix" "--pin --pin-file=" "$(words snpseal 'snpseal enroll --pi')"
check_eq "credential add: its own options" "--credstore=" "$(words snpseal 'snpseal credential add db --cred')"
check_eq "user rewrap: its own options" "--no-password" "$(words snpseal 'snpseal user rewrap login --no')"
check_eq "report: --report-data=" "--report-data=" "$(words snpseal 'snpseal report --rep')"
# Values: bash replaces only what follows the '=' (a word break).
check_eq "--bind= fields" "family_id guest_svn image_id measurement policy tcb_version" \
        "$(words snpseal 'snpseal seal --purpose=cred/x --bind=')"
check_eq "--bind= after a comma" "measurement,policy" "$(words snpseal 'snpseal enroll d --bind=measurement,po')"
check_eq "--root-key= values" "vcek vlek vmrk" "$(words snpseal 'snpseal enroll d --root-key=')"
check_eq "--tcb= values" "committed launch min" "$(words snpseal 'snpseal credential add x --tcb=')"
check_eq "--purpose= values" "luks2" "$(words snpseal 'snpseal seal --purpose=lu')"
mkdir -p "$WORK/cs" && : >"$WORK/cs/db.sealed" && : >"$WORK/cs/web.sealed"
check_eq "credential remove: the IDs of the store" "db web" \
        "$(SNPSEAL_CREDSTORE=$WORK/cs words snpseal 'snpseal credential remove ')"
: >"$WORK/disk.img"
check_eq "enroll DEVICE: files" "$WORK/disk.img" "$(words snpseal "snpseal enroll $WORK/dis")"
check_eq "--unlock-key-file=: files" "$WORK/disk.img" "$(words snpseal "snpseal enroll d --unlock-key-file=$WORK/dis")"
check_eq "nothing after DEVICE but options" "" "$(words snpseal "snpseal list $WORK/disk.img $WORK/dis")"

# ---------------------------------------------------------------- snpseal-sim
simcmds=$("$SNPSEAL_SIM" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | sort | tr '\n' ' ' |
        sed 's/ $//')
check_output "snpseal-sim --help lists commands" 'reboot' echo "$simcmds"
check_eq "snpseal-sim: every command" "$simcmds" "$(words snpseal-sim 'snpseal-sim ')"
check_eq "snpseal-sim: FILE" "$WORK/disk.img" "$(words snpseal-sim "snpseal-sim show $WORK/dis")"
"$SNPSEAL_SIM" init "$WORK/state.json" >/dev/null
check_eq "snpseal-sim set: the state file's keys" "policy=" "$(words snpseal-sim "snpseal-sim set $WORK/state.json pol")"
check_output "snpseal-sim set: the TCB keys" 'committed_tcb= .*launch_tcb= .*reported_tcb=' \
        words snpseal-sim "snpseal-sim set $WORK/state.json vmpl=1 "
check_eq "snpseal-sim show --json" "--json" "$(words snpseal-sim "snpseal-sim show $WORK/state.json --j")"

# ---------------------------------------------------------------- where they go
if [ -n "${top_builddir:-}" ] && [ -f "$top_builddir/Makefile" ]; then
        dir=$(sed -n 's/^bashcompletiondir = //p' "$top_builddir/Makefile")
        if grep -q -e '--with-bashcompletiondir' "$top_builddir/config.status" 2>/dev/null; then
                echo "# this build was given --with-bashcompletiondir= (make distcheck): its default is not checked"
        elif pkg-config --exists bash-completion 2>/dev/null; then
                want=$(pkg-config --variable=completionsdir bash-completion)
                check_output "this build: bash-completion's directory" "^(\\\$\\{prefix\\}|\\\$\\{datadir\\}|/).*completions\$" \
                        echo "$dir"
        else
                check_eq "this build (no bash-completion.pc): below DATADIR" '${datadir}/bash-completion/completions' "$dir"
        fi
fi
# configure with a bash-completion.pc of its own: its completionsdir,
# relative to --prefix.
mkdir -p "$WORK/pc" "$WORK/build"
cat >"$WORK/pc/bash-completion.pc" <<'PC'
prefix=/usr
datadir=${prefix}/share
completionsdir=${datadir}/bash-completion/completions-test
compatdir=/etc/bash_completion.d

Name: bash-completion
Description: programmable completion for the bash shell
Version: 2.11
PC
# configure refuses a build elsewhere of a source tree configured in place:
# then a copy of the distributed files (tests/build/pristine-src.sh).
. "$top_srcdir/tests/build/pristine-src.sh"
src=$(pristine_src "$WORK/src") || src=$top_srcdir
if (cd "$WORK/build" && PKG_CONFIG_PATH="$WORK/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
        "$src/configure" --prefix=/opt/snp >"$WORK/configure.log" 2>&1); then
        check_eq "configure: completionsdir from bash-completion.pc, below --prefix" \
                /opt/snp/share/bash-completion/completions-test \
                "$(cd "$WORK/build" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -f - print-dir <<'MK'
include Makefile
print-dir:
	@echo $(bashcompletiondir)
MK
)"
        check_output "configure names it" 'bash completion: .*completions-test' cat "$WORK/configure.log"
else
        check_eq "configure with a bash-completion.pc" 0 1
        sed 's/^/# /' "$WORK/configure.log" | tail -n 20
fi

tap_done

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A missing dependency fails configure with a message naming the Debian
# package: run the real configure against a pkg-config directory from which
# one .pc file at a time is missing.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/build/pristine-src.sh"

command -v pkg-config >/dev/null || tap_skip_all "pkg-config not installed"
sys_pc=$(pkg-config --variable pc_path pkg-config)
work=$(mktemp -d)
trap 'rm -rf "$work" "$TAP_OUT"' EXIT
# configure refuses a build elsewhere of a source tree configured in place.
src=$(pristine_src "$work/src") || tap_skip_all "no source tree to configure (make distdir failed)"

# Every .pc of the default search path, as symlinks in one directory.
mkdir -p "$work/pc-all"
IFS=:
for d in $sys_pc; do
        [ -d "$d" ] || continue
        for f in "$d"/*.pc; do
                [ -e "$f" ] && [ ! -e "$work/pc-all/${f##*/}" ] && ln -s "$f" "$work/pc-all/${f##*/}"
        done
done
unset IFS

run_configure_without() { # PC-NAME
        rm -rf "$work/pc" "$work/build" && cp -a "$work/pc-all" "$work/pc" && rm -f "$work/pc/$1.pc"
        mkdir "$work/build" && cd "$work/build" &&
                PKG_CONFIG_LIBDIR="$work/pc" PKG_CONFIG_PATH= "$src/configure" --quiet
        rc=$?
        cd - >/dev/null
        return $rc
}

for pair in libcrypto:libssl-dev json-c:libjson-c-dev libcryptsetup:libcryptsetup-dev \
            libsystemd:libsystemd-dev cmocka:libcmocka-dev; do
        pc=${pair%%:*} pkg=${pair#*:}
        if [ ! -e "$work/pc-all/$pc.pc" ]; then
                check_eq "$pc.pc present for the test" yes no
                continue
        fi
        check_fails "configure without $pc names $pkg" "$pc.* not found: install the Debian package $pkg" \
                run_configure_without "$pc"
done

# Linux-PAM has no .pc everywhere: configure checks the header and the
# library; autoconf's cache variables stand in for a machine without them.
run_configure_cache() { # VAR=VALUE
        rm -rf "$work/build" && mkdir "$work/build" && cd "$work/build" &&
                env "$1" "$src/configure" --quiet
        rc=$?
        cd - >/dev/null
        return $rc
}
check_fails "configure without PAM headers names libpam0g-dev" \
        "security/pam_modules.h not found: install the Debian package libpam0g-dev" \
        run_configure_cache ac_cv_header_security_pam_modules_h=no
check_fails "configure without pam_start_confdir names libpam0g-dev" \
        "pam_start_confdir.*not found: install the Debian package libpam0g-dev" \
        run_configure_cache ac_cv_lib_pam_pam_start_confdir=no

check "configure succeeds with every dependency" run_configure_without nothing-missing

# libcurl is optional (snpseal verify --fetch): without it configure goes on,
# says what is missing, and --with-libcurl makes it required.
if [ -e "$work/pc-all/libcurl.pc" ]; then
        curl_out=$(run_configure_without libcurl 2>&1)
        check_eq "configure without libcurl succeeds" 0 $?
        case $curl_out in
        *"libcurl >= 7.85 not found (Debian package libcurl4-openssl-dev)"*) check_eq "and names libcurl4-openssl-dev" y y ;;
        *) check_eq "and names libcurl4-openssl-dev" "a warning" "$curl_out" ;;
        esac
        check_eq "and builds without it" "#define HAVE_LIBCURL 0" "$(grep 'define HAVE_LIBCURL' "$work/build/config.h")"
        run_configure_with_curl() {
                rm -rf "$work/pc" "$work/build" && cp -a "$work/pc-all" "$work/pc" && rm -f "$work/pc/libcurl.pc"
                mkdir "$work/build" && cd "$work/build" &&
                        PKG_CONFIG_LIBDIR="$work/pc" PKG_CONFIG_PATH= "$src/configure" --quiet --with-libcurl
                rc=$?
                cd - >/dev/null
                return $rc
        }
        check_fails "--with-libcurl without libcurl names libcurl4-openssl-dev" \
                "libcurl >= 7.85 not found: install the Debian package libcurl4-openssl-dev" run_configure_with_curl
        check "configure finds libcurl" run_configure_without nothing-missing
        check_eq "and uses it" "#define HAVE_LIBCURL 1" "$(grep 'define HAVE_LIBCURL' "$work/build/config.h")"
fi

# The initrd directories: defaults below --prefix ("make distcheck"
# installs there), options override them.
makefile_var() { # NAME [BUILD-DIR]
        sed -n "s/^$1 = //p" "${2:-$work/build}/Makefile"
}
check_eq "dracut module directory defaults below the prefix" '${prefix}/lib/dracut/modules.d' \
        "$(makefile_var dracutmodulesdir)"
check_eq "initramfs-tools directory defaults below the prefix" '${datadir}/initramfs-tools' \
        "$(makefile_var initramfstoolsdir)"
run_configure_dirs() {
        rm -rf "$work/build" && mkdir "$work/build" && cd "$work/build" &&
                "$src/configure" --quiet --with-dracutmodulesdir=/x/dracut --with-initramfstoolsdir=/x/itools
        rc=$?
        cd - >/dev/null
        return $rc
}
check "configure --with-dracutmodulesdir= --with-initramfstoolsdir=" run_configure_dirs
check_eq "--with-dracutmodulesdir= is used" /x/dracut "$(makefile_var dracutmodulesdir)"
check_eq "--with-initramfstoolsdir= is used" /x/itools "$(makefile_var initramfstoolsdir)"

# The token plugin and PAM module directories: where this system's
# libcryptsetup and Linux-PAM load them, from their pkg-config data, whatever
# --prefix says (README: ./configure --prefix=/usr && make install).
run_configure_prefix() { # ARG...
        rm -rf "$work/build" && mkdir "$work/build" && cd "$work/build" &&
                "$src/configure" --quiet "$@"
        rc=$?
        cd - >/dev/null
        return $rc
}
check "configure --prefix=/usr" run_configure_prefix --prefix=/usr
# The directory libcryptsetup was built with, which snpseal enroll names when
# the plugin is missing (crypt_token_external_path()).
lib_tokendir=$(cryptsetup --help 2>/dev/null |
        sed -n 's/^LUKS2 external token plugin path: *\(.*\)$/\1/p' | sed 's/\.$//')
if [ -n "$lib_tokendir" ]; then
        check_eq "the token directory is libcryptsetup's own" "$lib_tokendir" "$(makefile_var tokendir)"
else
        check_eq "the token directory is libcryptsetup's libdir/cryptsetup" \
                "$(pkg-config --variable=libdir libcryptsetup)/cryptsetup" "$(makefile_var tokendir)"
fi
pam_pc_libdir=$(pkg-config --variable=libdir pam 2>/dev/null)
if [ -n "$pam_pc_libdir" ]; then
        check_eq "the PAM directory is Linux-PAM's libdir/security" "$pam_pc_libdir/security" "$(makefile_var pamdir)"
        # Linux-PAM's own modules are there: it is where libpam looks.
        check "pam_unix.so is in that directory" test -e "$(makefile_var pamdir)/pam_unix.so"
fi
# Without the .pc files (PKG_CONFIG_LIBDIR without them) the defaults fall
# back to LIBDIR.
run_configure_no_pc() {
        # pc-all holds symlinks to the system's files: replace the link, never
        # write through it.
        rm -rf "$work/pc" "$work/build" && cp -a "$work/pc-all" "$work/pc" &&
                rm -f "$work/pc/pam.pc" "$work/pc/libcryptsetup.pc" &&
                sed 's|^libdir=.*|libdir=/opt/pc-lib|' "$work/pc-all/libcryptsetup.pc" >"$work/pc/libcryptsetup.pc.new" &&
                mv "$work/pc/libcryptsetup.pc.new" "$work/pc/libcryptsetup.pc" &&
                mkdir "$work/build" && cd "$work/build" &&
                PKG_CONFIG_LIBDIR="$work/pc" PKG_CONFIG_PATH= "$src/configure" --quiet --libdir=/x/lib
        rc=$?
        cd - >/dev/null
        return $rc
}
check "configure with another libcryptsetup.pc and without pam.pc" run_configure_no_pc
check_eq "the token directory follows libcryptsetup.pc's libdir" /opt/pc-lib/cryptsetup "$(makefile_var tokendir)"
check_eq "the PAM directory without pam.pc is LIBDIR/security" '${libdir}/security' "$(makefile_var pamdir)"
check "configure --with-cryptsetup-token-dir= --with-pamdir=" \
        run_configure_prefix --prefix=/usr --with-cryptsetup-token-dir=/x/tok --with-pamdir=/x/pam
check_eq "--with-cryptsetup-token-dir= is used" /x/tok "$(makefile_var tokendir)"
check_eq "--with-pamdir= is used" /x/pam "$(makefile_var pamdir)"
tap_done

# SPDX-License-Identifier: LGPL-2.1-or-later
# A stand-in for AMD's key distribution service on the loopback address, for
# the shell tests (sourced): busybox httpd with a CGI script that serves the
# files below $KDS_DIR by the request's path (the query string is ignored,
# as a file server would), answers HTTP 429 while $KDS_THROTTLE holds a
# count above 0 (counting down), and logs every request ("PATH?QUERY") to
# $KDS_LOG.
#
#   kds_why_not             prints why the KDS tests cannot run (exit 1), or
#                           nothing (exit 0): libcurl in the build, busybox httpd
#   kds_start WORKDIR       start it; sets KDS_URL, KDS_DIR, KDS_LOG, KDS_THROTTLE
#   kds_stop                stop it (also safe when not started)

KDS_PID=

kds_why_not() {
        if ! grep -q '^#define HAVE_LIBCURL 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
                echo "snpseal was built without libcurl (configure --with-libcurl)"
                return 1
        fi
        if ! command -v busybox >/dev/null; then
                echo "busybox not installed (Debian package busybox)"
                return 1
        fi
        if ! busybox --list | grep -qx httpd; then
                echo "this busybox has no httpd applet"
                return 1
        fi
        return 0
}

kds_start() { # WORKDIR
        _w=$1
        KDS_DIR=$_w/kds
        KDS_LOG=$_w/kds-requests
        KDS_THROTTLE=$_w/kds-throttle
        mkdir -p "$_w/www/cgi-bin" "$KDS_DIR"
        : >"$KDS_LOG"
        echo 0 >"$KDS_THROTTLE"
        cat >"$_w/www/cgi-bin/kds" <<CGI
#!/bin/sh
echo "\$PATH_INFO?\$QUERY_STRING" >>"$KDS_LOG"
n=\$(cat "$KDS_THROTTLE")
if [ "\$n" -gt 0 ]; then
        echo \$((n - 1)) >"$KDS_THROTTLE"
        printf 'Status: 429 Too Many Requests\r\nContent-Type: text/plain\r\n\r\nslow down\n'
        exit 0
fi
f="$KDS_DIR\$PATH_INFO"
case \$PATH_INFO in *..*) f=/nonexistent ;; esac
if [ -f "\$f" ]; then
        printf 'Content-Type: application/octet-stream\r\n\r\n'
        cat "\$f"
else
        printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno\n'
fi
CGI
        chmod +x "$_w/www/cgi-bin/kds"
        for _try in 1 2 3 4 5 6 7 8 9 10; do
                _port=$((20000 + ($$ * 7 + _try * 131) % 30000))
                busybox httpd -f -p "127.0.0.1:$_port" -h "$_w/www" &
                KDS_PID=$!
                sleep 0.3
                kill -0 "$KDS_PID" 2>/dev/null && break
                KDS_PID=
        done
        [ -n "$KDS_PID" ] || return 1
        KDS_URL=http://127.0.0.1:$_port/cgi-bin/kds
        return 0
}

kds_stop() {
        if [ -n "$KDS_PID" ]; then
                kill "$KDS_PID" 2>/dev/null
                wait "$KDS_PID" 2>/dev/null
                KDS_PID=
        fi
}

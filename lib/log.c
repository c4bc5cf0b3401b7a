/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static log_sink_fn current_sink = log_sink_stderr;
static void *current_userdata;
static int max_level = LOG_INFO;

void log_set_sink(log_sink_fn sink, void *userdata) {
        current_sink = sink ? sink : log_sink_stderr;
        current_userdata = userdata;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_fullv(int level, const char *fmt, va_list ap) {
        char buf[1024];
        int saved = errno;

        if (level > max_level)
                return;
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        current_sink(level, buf, current_userdata);
        errno = saved;
}

void log_full(int level, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_fullv(level, fmt, ap);
        va_end(ap);
}

void log_sink_stderr(int level, const char *message, void *userdata) {
        const char *prog = userdata;

        if (prog)
                fprintf(stderr, "%s: %s\n", prog, message);
        else
                fprintf(stderr, "%s\n", message);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging through a sink each front end installs: the agent the journal, the
 * PAM module pam_syslog, the token plugin crypt_logf, the CLI stderr.
 * lib/ itself logs at debug level only; it returns errors and lets the front
 * end report them once. Never pass secret bytes to these functions.
 */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* level is a syslog priority (LOG_ERR … LOG_DEBUG). */
typedef void (*log_sink_fn)(int level, const char *message, void *userdata);

void log_set_sink(log_sink_fn sink, void *userdata);
void log_set_max_level(int level);
int log_get_max_level(void);

void log_full(int level, const char *fmt, ...) _printf_(2, 3);
void log_fullv(int level, const char *fmt, va_list ap) _printf_(2, 0);

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

/* Sinks provided here. */
void log_sink_stderr(int level, const char *message, void *userdata); /* userdata: program name or NULL */
void log_sink_journal(int level, const char *message, void *userdata); /* userdata unused */

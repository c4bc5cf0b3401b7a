/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal sink, kept apart so only programs that link libsystemd pull it in. */
#include "config.h"

#include <systemd/sd-journal.h>

#include "log.h"

void log_sink_journal(int level, const char *message, void *userdata) {
        (void) sd_journal_send("MESSAGE=%s", message,
                               "PRIORITY=%i", level,
                               "SYSLOG_IDENTIFIER=%s", userdata ? (const char *) userdata : "snpseal",
                               NULL);
}

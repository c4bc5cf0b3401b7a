/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The RSS floor for tests/bench/agent-bench: a program linked as snpseald is
 * (libsystemd, libcrypto, json-c and libc, the same hardening flags) that
 * calls none of them. It writes a line when it is up, then waits on its
 * standard input until that closes. What the kernel maps in for its
 * libraries (their relocations, fault-around of 64 KiB) is what any process
 * on these libraries starts with; snpseald's own share is what it holds
 * above this.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <systemd/sd-event.h>

/* Referenced, never called: the libraries stay linked (--as-needed). */
static void *volatile keep[] = { (void *) sd_event_new, (void *) OPENSSL_cleanse, (void *) json_object_put };

int main(void) {
        char c;

        if (!keep[0])
                return 1;
        printf("up\n");
        fflush(stdout);
        while (read(STDIN_FILENO, &c, 1) > 0)
                ;
        return 0;
}

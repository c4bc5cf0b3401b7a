/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * pam_snpseal_parse_options(): the module arguments of a PAM stack file.
 * Input: the arguments separated by NUL bytes (at most 32), then, after a
 * second NUL in a row, nothing more is read; the first byte's low bit is
 * PAM_SILENT.
 * Invariants: PAM_SUCCESS or PAM_SERVICE_ERR only; any argument whose word
 * (before '=') is not an option of the module makes it PAM_SERVICE_ERR —
 * fail closed, a typo never turns a rule off; on success the options are
 * within their documented ranges (names valid, socket absolute, timeout
 * bounded) and every flag given is set.
 */

#include <stdarg.h>
#include <string.h>

#include <security/pam_appl.h>

#include "fuzz.h"
#include "pam-snpseal.h"

#define FUZZ_ARGS_MAX 32

/* pam_syslog() ends here (libpam is built fortified): keep it quiet. */
void __syslog_chk(int priority, int flag, const char *fmt, ...) _printf_(3, 4);
void __syslog_chk(_unused_ int priority, _unused_ int flag, _unused_ const char *fmt, ...) {
}

static int no_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        return PAM_CONV_ERR;
}

static pam_handle_t *handle(void) {
        static pam_handle_t *h;
        static const struct pam_conv conv = { no_conv, NULL };

        if (!h)
                FUZZ_CHECK(pam_start("snpseal-fuzz", "nobody", &conv, &h) == PAM_SUCCESS);
        return h;
}

static const char *const known[] = {
        "debug", "revoke", "try_first_pass", "enforce", "deny_debug", "deny_migrate",
        "socket", "name", "keyring", "timeout", "min_tcb",
};

static bool word_known(const char *arg) {
        size_t len = strcspn(arg, "=");

        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strlen(known[i]) == len && strncmp(arg, known[i], len) == 0)
                        return true;
        return false;
}

static bool name_ok(const char *s) {
        size_t len = strlen(s);

        return len >= 1 && len <= PAM_SNPSEAL_NAME_MAX && s[0] != '.' &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@:+-") == len;
}

static void check_options(const struct pam_snpseal_options *o, int argc, const char **argv) {
        FUZZ_CHECK(o->n_names >= 1 && o->n_names <= PAM_SNPSEAL_NAMES_MAX);
        for (size_t i = 0; i < o->n_names; i++)
                FUZZ_CHECK(name_ok(o->names[i]));
        FUZZ_CHECK(o->socket[0] == '/' && strlen(o->socket) <= PAM_SNPSEAL_SOCKET_MAX);
        FUZZ_CHECK(o->timeout <= PAM_SNPSEAL_TIMEOUT_MAX);
        FUZZ_CHECK(o->keyring == PAM_SNPSEAL_KEYRING_SESSION || o->keyring == PAM_SNPSEAL_KEYRING_USER);
        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "enforce") == 0)
                        FUZZ_CHECK(o->enforce);
                if (strcmp(argv[i], "deny_debug") == 0)
                        FUZZ_CHECK(o->deny_debug);
                if (strcmp(argv[i], "deny_migrate") == 0)
                        FUZZ_CHECK(o->deny_migrate);
                if (strncmp(argv[i], "min_tcb=", 8) == 0)
                        FUZZ_CHECK(o->have_min_tcb);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char buf[4096];
        const char *argv[FUZZ_ARGS_MAX];
        struct pam_snpseal_options o;
        bool unknown = false;
        int argc = 0, flags, r;

        if (size < 1 || size >= sizeof(buf))
                return 0;
        flags = data[0] & 1 ? PAM_SILENT : 0;
        memcpy(buf, data + 1, size - 1);
        buf[size - 1] = '\0';
        for (size_t pos = 0; pos < size - 1 && argc < FUZZ_ARGS_MAX;) {
                size_t len = strlen(buf + pos);

                if (len == 0)
                        break;
                argv[argc++] = buf + pos;
                unknown |= !word_known(buf + pos);
                pos += len + 1;
        }
        r = pam_snpseal_parse_options(handle(), flags, argc, argv, &o);
        FUZZ_CHECK(r == PAM_SUCCESS || r == PAM_SERVICE_ERR);
        if (unknown)
                FUZZ_CHECK(r == PAM_SERVICE_ERR);
        if (r == PAM_SUCCESS) {
                FUZZ_CHECK(o.silent == !!(flags & PAM_SILENT));
                check_options(&o, argc, argv);
        }
        return 0;
}

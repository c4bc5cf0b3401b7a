/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * pam_snpseal.so: per-user sealed secrets at login, password re-wrap and the
 * VM posture gate (man pam_snpseal(8)). This file holds the six pam_sm_*
 * entry points and the option parser; the work is done in pam-secrets.c and
 * pam-posture.c. Only the pam_sm_* functions are exported (pam_snpseal.sym).
 */

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <security/pam_modutil.h>

#include "hexutil.h"
#include "log.h"
#include "pam-snpseal.h"

/* ---- logging: lib/ logs (debug only) through pam_syslog ---- */

static void pam_log_sink(int level, const char *message, void *userdata) {
        pam_syslog(userdata, level, "%s", message);
}

static void pam_log_setup(pam_handle_t *pamh, bool debug) {
        log_set_sink(pam_log_sink, pamh);
        log_set_max_level(debug ? LOG_DEBUG : LOG_ERR);
}

void pam_snpseal_tell(pam_handle_t *pamh, const struct pam_snpseal_options *o, const char *fmt, ...) {
        va_list ap;

        if (o->silent)
                return;
        va_start(ap, fmt);
        (void) pam_vprompt(pamh, PAM_ERROR_MSG, NULL, fmt, ap);
        va_end(ap);
}

int pam_snpseal_get_user(pam_handle_t *pamh, struct pam_snpseal_user *ret) {
        const char *user = NULL;
        struct passwd *pw;
        int r;

        r = pam_get_user(pamh, &user, NULL);
        if (r != PAM_SUCCESS || !user || !*user) {
                pam_syslog(pamh, LOG_ERR, "cannot determine the user name: %s", pam_strerror(pamh, r));
                return r == PAM_SUCCESS ? PAM_USER_UNKNOWN : r;
        }
        pw = pam_modutil_getpwnam(pamh, user);
        if (!pw) {
                pam_syslog(pamh, LOG_ERR, "user %s unknown", user);
                return PAM_USER_UNKNOWN;
        }
        *ret = (struct pam_snpseal_user) { .name = user, .uid = pw->pw_uid, .gid = pw->pw_gid };
        return PAM_SUCCESS;
}

/* ---- options ---- */

/* A user secret name as the agent accepts it: a purpose segment of
 * [A-Za-z0-9._@:+-], 1..64 bytes, not starting with '.'. */
static bool name_valid(const char *s, size_t len) {
        if (len == 0 || len > PAM_SNPSEAL_NAME_MAX || s[0] == '.')
                return false;
        for (size_t i = 0; i < len; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@:+-", s[i]) || !s[i])
                        return false;
        return true;
}

static int opt_names(struct pam_snpseal_options *o, const char *v) {
        o->n_names = 0;
        for (const char *p = v;;) {
                size_t len = strcspn(p, ",");

                if (!name_valid(p, len) || o->n_names >= PAM_SNPSEAL_NAMES_MAX)
                        return -EINVAL;
                memcpy(o->names[o->n_names], p, len);
                o->names[o->n_names++][len] = '\0';
                if (p[len] == '\0')
                        return 0;
                p += len + 1;
        }
}

static int opt_socket(struct pam_snpseal_options *o, const char *v) {
        size_t len = strlen(v);

        if (v[0] != '/' || len > PAM_SNPSEAL_SOCKET_MAX)
                return -EINVAL;
        memcpy(o->socket, v, len + 1);
        return 0;
}

static int opt_keyring(struct pam_snpseal_options *o, const char *v) {
        if (strcmp(v, "session") == 0)
                o->keyring = PAM_SNPSEAL_KEYRING_SESSION;
        else if (strcmp(v, "user") == 0)
                o->keyring = PAM_SNPSEAL_KEYRING_USER;
        else
                return -EINVAL;
        return 0;
}

static int opt_timeout(struct pam_snpseal_options *o, const char *v) {
        return parse_u32(v, PAM_SNPSEAL_TIMEOUT_MAX, &o->timeout);
}

static int opt_min_tcb(struct pam_snpseal_options *o, const char *v) {
        int r = tcb_from_hex(v, &o->min_tcb);

        if (r >= 0)
                o->have_min_tcb = true;
        return r;
}

struct option_def {
        const char *name;
        size_t flag;    /* offsetof a bool, for options without a value */
        int (*parse)(struct pam_snpseal_options *o, const char *value);
};

#define FLAG(n, field) { n, offsetof(struct pam_snpseal_options, field), NULL }
static const struct option_def option_table[] = {
        FLAG("debug", debug),
        FLAG("revoke", revoke),
        FLAG("try_first_pass", try_first_pass),
        FLAG("enforce", enforce),
        FLAG("deny_debug", deny_debug),
        FLAG("deny_migrate", deny_migrate),
        { "socket", 0, opt_socket },
        { "name", 0, opt_names },
        { "keyring", 0, opt_keyring },
        { "timeout", 0, opt_timeout },
        { "min_tcb", 0, opt_min_tcb },
};
#undef FLAG

static const struct option_def *option_find(const char *arg, const char **ret_value) {
        size_t klen = strcspn(arg, "=");

        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                const struct option_def *d = &option_table[i];

                if (strlen(d->name) != klen || strncmp(arg, d->name, klen) != 0)
                        continue;
                /* flags take no value, the others need one */
                if (!d->parse != (arg[klen] == '\0'))
                        return NULL;
                *ret_value = arg[klen] ? arg + klen + 1 : NULL;
                return d;
        }
        return NULL;
}

int pam_snpseal_parse_options(pam_handle_t *pamh, int flags, int argc, const char **argv,
                              struct pam_snpseal_options *ret) {
        struct pam_snpseal_options o = {
                .silent = flags & PAM_SILENT,
                .keyring = PAM_SNPSEAL_KEYRING_SESSION,
                .socket = PAM_SNPSEAL_SOCKET_DEFAULT,
                .n_names = 1,
                .names = { "login" },
        };

        for (int i = 0; i < argc; i++) {
                const char *value = NULL;
                const struct option_def *d = argv[i] ? option_find(argv[i], &value) : NULL;

                if (!d) {
                        /* Fail closed: a typo ("enfroce", "deny_debgu") must
                         * not silently turn a rule off. */
                        pam_syslog(pamh, LOG_ERR,
                                   "unknown or malformed option \"%s\": refusing every call; see pam_snpseal(8)",
                                   argv[i] ? argv[i] : "(null)");
                        return PAM_SERVICE_ERR;
                }
                if (!d->parse) {
                        *(bool *) ((char *) &o + d->flag) = true;
                        continue;
                }
                if (d->parse(&o, value) < 0) {
                        pam_syslog(pamh, LOG_ERR, "invalid value in option \"%s\"; see pam_snpseal(8)", argv[i]);
                        return PAM_SERVICE_ERR;
                }
        }
        *ret = o;
        return PAM_SUCCESS;
}

/* ---- the entry points ---- */

typedef int (*group_fn)(pam_handle_t *pamh, int flags, const struct pam_snpseal_options *o);

static int run(pam_handle_t *pamh, int flags, int argc, const char **argv, group_fn fn) {
        struct pam_snpseal_options o;
        int r;

        r = pam_snpseal_parse_options(pamh, flags, argc, argv, &o);
        if (r != PAM_SUCCESS)
                return r;
        pam_log_setup(pamh, o.debug);
        r = fn(pamh, flags, &o);
        pam_snpseal_debug(pamh, &o, "result: %s", pam_strerror(pamh, r));
        log_set_sink(NULL, NULL);
        return r;
}

static int group_auth(pam_handle_t *pamh, _unused_ int flags, const struct pam_snpseal_options *o) {
        return pam_secrets_auth(pamh, o);
}

static int group_setcred(pam_handle_t *pamh, _unused_ int flags, const struct pam_snpseal_options *o) {
        return pam_secrets_setcred(pamh, o);
}

static int group_account(pam_handle_t *pamh, _unused_ int flags, const struct pam_snpseal_options *o) {
        return pam_posture_account(pamh, o);
}

static int group_open(pam_handle_t *pamh, _unused_ int flags, const struct pam_snpseal_options *o) {
        return pam_secrets_open_session(pamh, o);
}

static int group_close(pam_handle_t *pamh, _unused_ int flags, const struct pam_snpseal_options *o) {
        return pam_secrets_close_session(pamh, o);
}

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pamh, flags, argc, argv, group_auth);
}

_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pamh, flags, argc, argv, group_setcred);
}

_public_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pamh, flags, argc, argv, group_account);
}

_public_ int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pamh, flags, argc, argv, group_open);
}

_public_ int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pamh, flags, argc, argv, group_close);
}

_public_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pamh, flags, argc, argv, pam_secrets_chauthtok);
}

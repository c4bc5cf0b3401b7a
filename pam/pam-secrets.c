/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The user-secret groups of pam_snpseal.so: auth (unseal the password-layer
 * objects with the login password and stash them), setcred, session (put the
 * stash and the VM-only objects into the keyring; revoke them on close) and
 * password (re-wrap the password layer). The return codes are the contract
 * of pam_snpseal(8); every translation from an agent result is a table.
 *
 * The stash (PAM data "pam_snpseal_stash") records the pid that made it;
 * the secrets themselves are in secret memory, which is wiped on fork
 * (MADV_WIPEONFORK): a process that inherited the stash sees zeros, ignores
 * it, and does not touch those pages when PAM releases the data.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pam-snpseal.h"
#include "secret.h"

#define STASH_DATA "pam_snpseal_stash"
#define KEYS_DATA "pam_snpseal_keys"
#define REWRAP_HINT "as root run: snpseal user rewrap --name=%s --user=%s"

struct stash_entry {
        char name[PAM_SNPSEAL_NAME_MAX + 1];
        uint8_t *data;          /* secret_alloc() */
        size_t len;
};

struct stash {
        pid_t pid;
        size_t n;
        struct stash_entry e[PAM_SNPSEAL_NAMES_MAX];
};

/* What session open added, for close with "revoke". */
struct keys {
        pid_t pid;
        enum pam_snpseal_keyring keyring;
        uid_t uid;
        gid_t gid;
        size_t n;
        int32_t serial[PAM_SNPSEAL_NAMES_MAX];
};

/* ---- translations ---- */

static const int auth_codes[_PAM_AGENT_RESULT_MAX] = {
        [PAM_AGENT_OK]                = PAM_SUCCESS,
        [PAM_AGENT_UNREACHABLE]       = PAM_AUTHINFO_UNAVAIL,
        [PAM_AGENT_NO_SUCH_SECRET]    = PAM_IGNORE,
        [PAM_AGENT_WRONG_PASSWORD]    = PAM_AUTH_ERR,
        [PAM_AGENT_IDENTITY_MISMATCH] = PAM_AUTHINFO_UNAVAIL,
        [PAM_AGENT_RATE_LIMITED]      = PAM_MAXTRIES,
        [PAM_AGENT_DEVICE]            = PAM_AUTHINFO_UNAVAIL,
        [PAM_AGENT_REFUSED]           = PAM_SYSTEM_ERR,
        [PAM_AGENT_NOMEM]             = PAM_BUF_ERR,
};

static const int update_codes[_PAM_AGENT_RESULT_MAX] = {
        [PAM_AGENT_OK]                = PAM_SUCCESS,
        [PAM_AGENT_UNREACHABLE]       = PAM_AUTHTOK_ERR,
        [PAM_AGENT_NO_SUCH_SECRET]    = PAM_SUCCESS,
        [PAM_AGENT_WRONG_PASSWORD]    = PAM_AUTHTOK_RECOVERY_ERR,
        [PAM_AGENT_IDENTITY_MISMATCH] = PAM_AUTHTOK_ERR,
        [PAM_AGENT_RATE_LIMITED]      = PAM_AUTHTOK_ERR,
        [PAM_AGENT_DEVICE]            = PAM_AUTHTOK_ERR,
        [PAM_AGENT_REFUSED]           = PAM_SYSTEM_ERR,
        [PAM_AGENT_NOMEM]             = PAM_BUF_ERR,
};

/* Open a connection and list the user's objects of the configured names. */
static enum pam_agent_result agent_list(const struct pam_snpseal_options *o, uid_t uid, struct pam_agent **ret_agent,
                                        struct pam_secret_list *ret_list) {
        enum pam_agent_result res;

        res = pam_agent_open(o->socket, ret_agent);
        if (res == PAM_AGENT_OK)
                res = pam_agent_list(*ret_agent, o, uid, ret_list);
        return res;
}

static size_t count_state(const struct pam_snpseal_options *o, const struct pam_secret_list *l,
                          enum pam_secret_state s) {
        size_t n = 0;

        for (size_t i = 0; i < o->n_names; i++)
                n += l->state[i] == s;
        return n;
}

/* ---- the stash ---- */

static void stash_free(struct stash *st) {
        if (!st)
                return;
        /* In a forked child the secret pages read as zeros: leave them. */
        if (st->pid == getpid())
                for (size_t i = 0; i < st->n; i++)
                        secret_free(st->e[i].data);
        free(st);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct stash *, stash_free);

static void stash_cleanup(_unused_ pam_handle_t *pamh, void *data, _unused_ int error_status) {
        stash_free(data);
}

static const struct stash *stash_get(pam_handle_t *pamh) {
        const void *data = NULL;

        if (pam_get_data(pamh, STASH_DATA, &data) != PAM_SUCCESS)
                return NULL;
        return data;
}

static const struct stash_entry *stash_find(const struct stash *st, const char *name) {
        for (size_t i = 0; st && i < st->n; i++)
                if (strcmp(st->e[i].name, name) == 0)
                        return &st->e[i];
        return NULL;
}

/* ---- auth ---- */

/* The password from the stack; prompts only with try_first_pass. */
static int get_password(pam_handle_t *pamh, const struct pam_snpseal_options *o, const char **ret) {
        const void *item = NULL;
        const char *tok = NULL;
        int r;

        r = pam_get_item(pamh, PAM_AUTHTOK, &item);
        if (r == PAM_SUCCESS && item) {
                tok = item;
        } else if (o->try_first_pass) {
                r = pam_get_authtok(pamh, PAM_AUTHTOK, &tok, NULL);
                if (r != PAM_SUCCESS || !tok) {
                        pam_syslog(pamh, LOG_ERR, "cannot get a password: %s", pam_strerror(pamh, r));
                        return r == PAM_SUCCESS || r == PAM_IGNORE ? PAM_AUTHINFO_UNAVAIL : r;
                }
        } else {
                pam_syslog(pamh, LOG_ERR, "no password on the stack (PAM_AUTHTOK): put pam_snpseal after the "
                           "module that asks for it, or add try_first_pass");
                return PAM_AUTHINFO_UNAVAIL;
        }
        if (strlen(tok) > PAM_SNPSEAL_PASSWORD_MAX) {
                pam_syslog(pamh, LOG_NOTICE, "password longer than %u bytes, it cannot open a sealed secret",
                           PAM_SNPSEAL_PASSWORD_MAX);
                return PAM_AUTH_ERR;
        }
        *ret = tok;
        return PAM_SUCCESS;
}

static int unseal_into(pam_handle_t *pamh, struct pam_agent *a, const struct pam_snpseal_user *u,
                       const char *name, const char *password, struct stash *st) {
        struct stash_entry *e = &st->e[st->n];
        enum pam_agent_result res;

        res = pam_agent_unseal(a, name, u->uid, password, &e->data, &e->len);
        if (res == PAM_AGENT_NO_SUCH_SECRET) {
                pam_syslog(pamh, LOG_NOTICE, "secret %s of user %s disappeared: %s", name, u->name,
                           pam_agent_message(a));
                return PAM_IGNORE;
        }
        if (res != PAM_AGENT_OK) {
                pam_syslog(pamh, res == PAM_AGENT_WRONG_PASSWORD ? LOG_NOTICE : LOG_ERR,
                           "cannot unseal secret %s of user %s: %s", name, u->name, pam_agent_message(a));
                return auth_codes[res];
        }
        (void) snprintf(e->name, sizeof(e->name), "%s", name);
        st->n++;
        return PAM_SUCCESS;
}

/* Unseal every password-layer object into a new stash. */
static int auth_unseal(pam_handle_t *pamh, const struct pam_snpseal_options *o, struct pam_agent *a,
                       const struct pam_snpseal_user *u, const struct pam_secret_list *l, const char *password) {
        _cleanup_(stash_freep) struct stash *st = calloc(1, sizeof(struct stash));
        int r;

        if (!st)
                return PAM_BUF_ERR;
        st->pid = getpid();
        for (size_t i = 0; i < o->n_names; i++) {
                if (l->state[i] != PAM_SECRET_PASSWORD)
                        continue;
                r = unseal_into(pamh, a, u, o->names[i], password, st);
                if (r != PAM_SUCCESS && r != PAM_IGNORE)
                        return r;
        }
        if (st->n == 0)
                return PAM_IGNORE;
        pam_snpseal_debug(pamh, o, "unsealed %zu secret(s) of user %s", st->n, u->name);
        r = pam_set_data(pamh, STASH_DATA, st, stash_cleanup);
        if (r != PAM_SUCCESS)
                return r;
        TAKE_PTR(st);
        /* Opening a secret is not authenticating the user: its password may
         * be one the real authenticator refuses (stale, or set by anyone who
         * knew the old one). So never PAM_SUCCESS, also as "sufficient". */
        return PAM_IGNORE;
}

int pam_secrets_auth(pam_handle_t *pamh, const struct pam_snpseal_options *o) {
        _cleanup_(pam_agent_freep) struct pam_agent *a = NULL;
        struct pam_snpseal_user u;
        struct pam_secret_list l = {};
        enum pam_agent_result res;
        const char *password = NULL;
        int r;

        r = pam_snpseal_get_user(pamh, &u);
        if (r != PAM_SUCCESS)
                return r;
        res = agent_list(o, u.uid, &a, &l);
        if (res != PAM_AGENT_OK) {
                pam_syslog(pamh, LOG_ERR, "cannot list the secrets of user %s: %s", u.name, pam_agent_message(a));
                return res == PAM_AGENT_NO_SUCH_SECRET ? PAM_SYSTEM_ERR : auth_codes[res];
        }
        if (l.n_present == 0) {
                pam_snpseal_debug(pamh, o, "user %s has no secrets enrolled under the configured names", u.name);
                return PAM_IGNORE;
        }
        if (count_state(o, &l, PAM_SECRET_BROKEN) > 0) {
                pam_syslog(pamh, LOG_ERR, "a secret of user %s is unreadable; see: snpseal user list --user=%s",
                           u.name, u.name);
                return PAM_SYSTEM_ERR;
        }
        if (count_state(o, &l, PAM_SECRET_PASSWORD) == 0) {
                pam_snpseal_debug(pamh, o, "user %s has only VM-only secrets; they load at session open", u.name);
                return PAM_IGNORE;
        }
        r = get_password(pamh, o, &password);
        if (r != PAM_SUCCESS)
                return r;
        return auth_unseal(pamh, o, a, &u, &l, password);
}

int pam_secrets_setcred(pam_handle_t *pamh, const struct pam_snpseal_options *o) {
        const struct stash *st = stash_get(pamh);

        if (!st || st->pid != getpid() || st->n == 0) {
                pam_snpseal_debug(pamh, o, "no secrets stashed by authentication");
                return PAM_IGNORE;
        }
        return PAM_SUCCESS;
}

/* ---- session ---- */

static void keys_cleanup(_unused_ pam_handle_t *pamh, void *data, _unused_ int error_status) {
        free(data);
}

static int session_add(pam_handle_t *pamh, const struct pam_snpseal_options *o, const struct pam_snpseal_user *u,
                       const char *name, const uint8_t *data, size_t len, struct keys *k) {
        char desc[sizeof(PAM_SNPSEAL_KEY_PREFIX) + PAM_SNPSEAL_NAME_MAX];
        int32_t serial;
        int r;

        (void) snprintf(desc, sizeof(desc), PAM_SNPSEAL_KEY_PREFIX "%s", name);
        r = pam_keyring_add(o->keyring, u->uid, u->gid, desc, data, len, o->timeout, &serial);
        if (r < 0) {
                pam_syslog(pamh, LOG_ERR, "cannot add key %s for user %s to the %s keyring: %s", desc, u->name,
                           o->keyring == PAM_SNPSEAL_KEYRING_USER ? "user" : "session", strerror(-r));
                return PAM_SESSION_ERR;
        }
        pam_snpseal_debug(pamh, o, "added key %s (serial %d) for user %s", desc, (int) serial, u->name);
        k->serial[k->n++] = serial;
        return PAM_SUCCESS;
}

/* A VM-only object, unsealed without a password and added. */
static int session_vm_only(pam_handle_t *pamh, const struct pam_snpseal_options *o, struct pam_agent *a,
                           const struct pam_snpseal_user *u, const char *name, struct keys *k) {
        uint8_t *data = NULL;
        size_t len = 0;
        enum pam_agent_result res;
        int r;

        res = pam_agent_unseal(a, name, u->uid, NULL, &data, &len);
        if (res == PAM_AGENT_NO_SUCH_SECRET)
                return PAM_SUCCESS;
        if (res != PAM_AGENT_OK) {
                pam_syslog(pamh, LOG_ERR, "cannot unseal secret %s of user %s: %s", name, u->name,
                           pam_agent_message(a));
                return res == PAM_AGENT_NOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
        }
        r = session_add(pamh, o, u, name, data, len, k);
        secret_free(data);
        return r;
}

static int session_one(pam_handle_t *pamh, const struct pam_snpseal_options *o, struct pam_agent *a,
                       const struct pam_snpseal_user *u, const struct stash *st, enum pam_secret_state state,
                       const char *name, struct keys *k) {
        const struct stash_entry *e = stash_find(st, name);

        if (e)
                return session_add(pamh, o, u, name, e->data, e->len, k);
        switch (state) {
        case PAM_SECRET_VM_ONLY:
                return session_vm_only(pamh, o, a, u, name, k);
        case PAM_SECRET_PASSWORD:
                pam_snpseal_debug(pamh, o, "secret %s of user %s needs the password: not loaded", name, u->name);
                return PAM_SUCCESS;
        case PAM_SECRET_BROKEN:
                pam_syslog(pamh, LOG_ERR, "secret %s of user %s is unreadable; see: snpseal user list --user=%s",
                           name, u->name, u->name);
                return PAM_SESSION_ERR;
        default:
                return PAM_SUCCESS;
        }
}

static int session_load(pam_handle_t *pamh, const struct pam_snpseal_options *o, const struct pam_snpseal_user *u,
                        const struct stash *st, struct keys *k) {
        _cleanup_(pam_agent_freep) struct pam_agent *a = NULL;
        struct pam_secret_list l = {};
        enum pam_agent_result res;
        int r, ret = PAM_SUCCESS;

        res = agent_list(o, u->uid, &a, &l);
        if (res != PAM_AGENT_OK && !st) {
                pam_syslog(pamh, LOG_ERR, "cannot list the secrets of user %s: %s", u->name, pam_agent_message(a));
                return res == PAM_AGENT_NOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
        }
        if (res != PAM_AGENT_OK)
                pam_syslog(pamh, LOG_WARNING, "cannot list the secrets of user %s: %s; loading only those "
                           "unsealed at authentication", u->name, pam_agent_message(a));
        for (size_t i = 0; i < o->n_names; i++) {
                r = session_one(pamh, o, a, u, st, l.state[i], o->names[i], k);
                if (r != PAM_SUCCESS && ret == PAM_SUCCESS)
                        ret = r;
        }
        return ret;
}

int pam_secrets_open_session(pam_handle_t *pamh, const struct pam_snpseal_options *o) {
        _cleanup_(freep) struct keys *k = NULL;
        const struct stash *st = stash_get(pamh);
        struct pam_snpseal_user u;
        int r, q;

        if (st && st->pid != getpid()) {
                pam_snpseal_debug(pamh, o, "the stash comes from another process (pid %d), ignoring it",
                                  (int) st->pid);
                return PAM_IGNORE;
        }
        r = pam_snpseal_get_user(pamh, &u);
        if (r != PAM_SUCCESS)
                return r;
        k = calloc(1, sizeof(*k));
        if (!k)
                return PAM_BUF_ERR;
        *k = (struct keys) { .pid = getpid(), .keyring = o->keyring, .uid = u.uid, .gid = u.gid };
        r = session_load(pamh, o, &u, st, k);
        /* the secrets are in the keyring (or not): drop the stash now */
        if (st)
                (void) pam_set_data(pamh, STASH_DATA, NULL, NULL);
        if (k->n == 0)
                return r == PAM_SUCCESS ? PAM_IGNORE : r;
        q = pam_set_data(pamh, KEYS_DATA, k, keys_cleanup);
        if (q != PAM_SUCCESS)
                return q;
        TAKE_PTR(k);
        return r;
}

int pam_secrets_close_session(pam_handle_t *pamh, const struct pam_snpseal_options *o) {
        const void *data = NULL;
        const struct keys *k;
        int r;

        if (!o->revoke || pam_get_data(pamh, KEYS_DATA, &data) != PAM_SUCCESS || !data)
                return PAM_IGNORE;
        k = data;
        r = pam_keyring_revoke(k->keyring, k->uid, k->gid, k->serial, k->n);
        if (r < 0) {
                pam_syslog(pamh, LOG_ERR, "cannot revoke the keys added at session open: %s", strerror(-r));
                return PAM_SESSION_ERR;
        }
        pam_snpseal_debug(pamh, o, "revoked %zu key(s)", k->n);
        (void) pam_set_data(pamh, KEYS_DATA, NULL, NULL);
        return PAM_SUCCESS;
}

/* ---- password ---- */

static int password_prelim(pam_handle_t *pamh, const struct pam_snpseal_options *o, const struct pam_snpseal_user *u,
                           enum pam_agent_result res, const struct pam_agent *a, const struct pam_secret_list *l) {
        if (res == PAM_AGENT_NOMEM)
                return PAM_BUF_ERR;
        if (res != PAM_AGENT_OK) {
                /* without the agent we cannot tell whether there is anything to re-wrap */
                pam_syslog(pamh, LOG_ERR, "cannot list the secrets of user %s: %s", u->name, pam_agent_message(a));
                pam_snpseal_tell(pamh, o, "The snpseal agent is not available; the password cannot be changed "
                                 "now without losing access to sealed secrets. Try again later.");
                return PAM_TRY_AGAIN;
        }
        return count_state(o, l, PAM_SECRET_PASSWORD) > 0 ? PAM_SUCCESS : PAM_IGNORE;
}

static int rewrap_one(pam_handle_t *pamh, const struct pam_snpseal_options *o, struct pam_agent *a,
                      const struct pam_snpseal_user *u, const char *name, const char *old, const char *new) {
        enum pam_agent_result res = pam_agent_rewrap(a, name, u->uid, old, new);

        if (res == PAM_AGENT_OK) {
                pam_snpseal_debug(pamh, o, "re-wrapped secret %s of user %s", name, u->name);
                return PAM_SUCCESS;
        }
        pam_syslog(pamh, LOG_ERR, "cannot re-wrap secret %s of user %s: %s", name, u->name, pam_agent_message(a));
        if (res != PAM_AGENT_NO_SUCH_SECRET)
                pam_snpseal_tell(pamh, o, "The sealed secret \"%s\" still opens with the old password; "
                                 REWRAP_HINT, name, name, u->name);
        return update_codes[res];
}

/* The items, checked; a PAM code. */
static int update_tokens(pam_handle_t *pamh, const struct pam_snpseal_options *o, const struct pam_snpseal_user *u,
                         const char *first, const char **ret_old, const char **ret_new) {
        const void *old = NULL, *new = NULL;

        if (pam_get_item(pamh, PAM_OLDAUTHTOK, &old) != PAM_SUCCESS || !old) {
                pam_syslog(pamh, LOG_NOTICE, "password of user %s changed without the old password: the sealed "
                           "secrets keep the old one", u->name);
                pam_snpseal_tell(pamh, o, "The sealed secrets of %s still open with the old password; "
                                 REWRAP_HINT, u->name, first, u->name);
                return PAM_AUTHTOK_RECOVERY_ERR;
        }
        if (pam_get_item(pamh, PAM_AUTHTOK, &new) != PAM_SUCCESS || !new) {
                pam_syslog(pamh, LOG_ERR, "no new password on the stack (PAM_AUTHTOK): put pam_snpseal after "
                           "the module that asks for it");
                return PAM_AUTHTOK_ERR;
        }
        if (strlen(old) > PAM_SNPSEAL_PASSWORD_MAX || strlen(new) > PAM_SNPSEAL_PASSWORD_MAX) {
                pam_syslog(pamh, LOG_ERR, "password longer than %u bytes", PAM_SNPSEAL_PASSWORD_MAX);
                pam_snpseal_tell(pamh, o, "Passwords longer than %u bytes cannot protect sealed secrets.",
                                 PAM_SNPSEAL_PASSWORD_MAX);
                return PAM_AUTHTOK_ERR;
        }
        *ret_old = old;
        *ret_new = new;
        return PAM_SUCCESS;
}

static int password_update(pam_handle_t *pamh, const struct pam_snpseal_options *o, const struct pam_snpseal_user *u,
                           struct pam_agent *a, const struct pam_secret_list *l) {
        const char *old = NULL, *new = NULL, *first = NULL;
        int r, ret = PAM_SUCCESS;

        for (size_t i = o->n_names; i > 0; i--)
                if (l->state[i - 1] == PAM_SECRET_PASSWORD)
                        first = o->names[i - 1];
        if (!first)
                return PAM_IGNORE;
        r = update_tokens(pamh, o, u, first, &old, &new);
        if (r != PAM_SUCCESS)
                return r;
        /* every object, each atomically; the first failure is the result */
        for (size_t i = 0; i < o->n_names; i++) {
                if (l->state[i] != PAM_SECRET_PASSWORD)
                        continue;
                r = rewrap_one(pamh, o, a, u, o->names[i], old, new);
                if (r != PAM_SUCCESS && ret == PAM_SUCCESS)
                        ret = r;
        }
        return ret;
}

int pam_secrets_chauthtok(pam_handle_t *pamh, int flags, const struct pam_snpseal_options *o) {
        _cleanup_(pam_agent_freep) struct pam_agent *a = NULL;
        struct pam_snpseal_user u;
        struct pam_secret_list l = {};
        enum pam_agent_result res;
        int r;

        if (!(flags & (PAM_PRELIM_CHECK | PAM_UPDATE_AUTHTOK)))
                return PAM_SERVICE_ERR;
        r = pam_snpseal_get_user(pamh, &u);
        if (r != PAM_SUCCESS)
                return r;
        res = agent_list(o, u.uid, &a, &l);
        if (flags & PAM_PRELIM_CHECK)
                return password_prelim(pamh, o, &u, res, a, &l);
        if (res != PAM_AGENT_OK) {
                pam_syslog(pamh, LOG_ERR, "cannot list the secrets of user %s: %s", u.name, pam_agent_message(a));
                pam_snpseal_tell(pamh, o, "The sealed secrets of %s could not be re-wrapped; "
                                 REWRAP_HINT, u.name, o->names[0], u.name);
                return res == PAM_AGENT_NO_SUCH_SECRET ? PAM_SYSTEM_ERR : update_codes[res];
        }
        return password_update(pamh, o, &u, a, &l);
}

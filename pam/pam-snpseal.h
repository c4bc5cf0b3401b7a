/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_snpseal.so internals (man pam_snpseal(8)). pam/pam_snpseal.c holds the
 * six pam_sm_* entry points and the option parser; the groups' logic lives in
 * pam-secrets.c (auth, setcred, session, password) and pam-posture.c
 * (account); pam-agent.c talks to the agent, pam-keyring.c to the kernel
 * keyring. Everything here is hidden (-fvisibility=hidden, version script).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "macro.h"

#define PAM_SNPSEAL_SOCKET_DEFAULT "/run/snpseal/agent.sock"
#define PAM_SNPSEAL_SOCKET_MAX 107          /* sizeof(sun_path) - 1 */
#define PAM_SNPSEAL_NAMES_MAX 16
#define PAM_SNPSEAL_NAME_MAX 64             /* the agent's limit for a user secret name */
#define PAM_SNPSEAL_PASSWORD_MAX 1024       /* the agent's limit (SEALED_PASSWORD_MAX) */
#define PAM_SNPSEAL_TIMEOUT_MAX (365u * 24u * 3600u)
/* Socket activation queues a connection while the agent starts. */
#define PAM_SNPSEAL_AGENT_TIMEOUT_MS 30000u
#define PAM_SNPSEAL_KEY_PREFIX "snpseal:"

enum pam_snpseal_keyring {
        PAM_SNPSEAL_KEYRING_SESSION,
        PAM_SNPSEAL_KEYRING_USER,
};

/* The module arguments, parsed (pam_snpseal_parse_options). */
struct pam_snpseal_options {
        bool debug;
        bool silent;            /* PAM_SILENT in flags: no conversation messages */
        bool revoke;
        bool try_first_pass;
        bool enforce;
        bool deny_debug;
        bool deny_migrate;
        bool have_min_tcb;
        uint64_t min_tcb;
        uint32_t timeout;       /* key timeout in seconds, 0 = none */
        enum pam_snpseal_keyring keyring;
        char socket[PAM_SNPSEAL_SOCKET_MAX + 1];
        size_t n_names;
        char names[PAM_SNPSEAL_NAMES_MAX][PAM_SNPSEAL_NAME_MAX + 1];
};

/* Parse argv (and PAM_SILENT of flags) into *ret. Returns PAM_SUCCESS, or
 * PAM_SERVICE_ERR (logged at error level with the offending word) for an
 * unknown option, a flag given a value, an option missing its value or a bad
 * value: a misspelt rule fails closed. */
int pam_snpseal_parse_options(pam_handle_t *pamh, int flags, int argc, const char **argv,
                              struct pam_snpseal_options *ret);

#define pam_snpseal_debug(pamh, o, ...)                         \
        do {                                                    \
                if ((o)->debug)                                 \
                        pam_syslog((pamh), LOG_DEBUG, __VA_ARGS__); \
        } while (0)

/* A conversation message (error style), unless PAM_SILENT. */
void pam_snpseal_tell(pam_handle_t *pamh, const struct pam_snpseal_options *o, const char *fmt, ...) _printf_(3, 4);

struct pam_snpseal_user {
        const char *name;       /* owned by PAM */
        uid_t uid;
        gid_t gid;
};
/* The target user; a PAM code (PAM_SUCCESS, PAM_USER_UNKNOWN, …), logged. */
int pam_snpseal_get_user(pam_handle_t *pamh, struct pam_snpseal_user *ret);

/* ---- the agent (pam-agent.c) ---- */

/* What an agent call came to, before each group translates it to PAM. */
enum pam_agent_result {
        PAM_AGENT_OK,
        PAM_AGENT_UNREACHABLE,          /* connect or transport failure */
        PAM_AGENT_NO_SUCH_SECRET,
        PAM_AGENT_WRONG_PASSWORD,
        PAM_AGENT_IDENTITY_MISMATCH,
        PAM_AGENT_RATE_LIMITED,
        PAM_AGENT_DEVICE,               /* DeviceUnavailable, FirmwareError */
        PAM_AGENT_REFUSED,              /* NotPermitted, InvalidParameter, unknown errors, bad replies */
        PAM_AGENT_NOMEM,
        _PAM_AGENT_RESULT_MAX,
};

struct pam_agent;                       /* a connection */

#define PAM_AGENT_MESSAGE_MAX 512
/* The agent's error message of the last call (never secret), or a
 * description of the transport failure; "" after success. */
const char *pam_agent_message(const struct pam_agent *a);

/* Connect. *ret is set for PAM_AGENT_UNREACHABLE too (read its message; the
 * calls on it answer PAM_AGENT_UNREACHABLE). */
enum pam_agent_result pam_agent_open(const char *socket, struct pam_agent **ret);
void pam_agent_free(struct pam_agent *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pam_agent *, pam_agent_free);

/* What the user has of the configured names. */
enum pam_secret_state {
        PAM_SECRET_ABSENT,
        PAM_SECRET_VM_ONLY,             /* no password layer */
        PAM_SECRET_PASSWORD,            /* a password layer */
        PAM_SECRET_BROKEN,              /* listed with an error (unparseable file) */
};
struct pam_secret_list {
        size_t n_present;               /* names not ABSENT */
        enum pam_secret_state state[PAM_SNPSEAL_NAMES_MAX];
};
/* ListUserSecrets(uid), matched against o->names. */
enum pam_agent_result pam_agent_list(struct pam_agent *a, const struct pam_snpseal_options *o, uid_t uid,
                                     struct pam_secret_list *ret);
/* UnsealUserSecret(name, uid, password?): *ret_data secret_alloc()ed. */
enum pam_agent_result pam_agent_unseal(struct pam_agent *a, const char *name, uid_t uid, const char *password,
                                       uint8_t **ret_data, size_t *ret_len);
/* RewrapUserSecret(name, uid, old_password, new_password). */
enum pam_agent_result pam_agent_rewrap(struct pam_agent *a, const char *name, uid_t uid,
                                       const char *old_password, const char *new_password);

struct pam_posture {
        bool debug;
        bool migrate_ma;
        uint64_t committed_tcb;
        char backend[32];
};
/* GetStatus, the fields the posture rules need. */
enum pam_agent_result pam_agent_status(struct pam_agent *a, struct pam_posture *ret);

/* ---- the kernel keyring (pam-keyring.c): 0 or -errno ---- */

/* Add a "user" key (desc, payload) to the session keyring or to the user's
 * user keyring, owned by uid/gid, permissions possessor+user all, with a
 * timeout (0 = none). *ret_serial the key's serial. */
int pam_keyring_add(enum pam_snpseal_keyring k, uid_t uid, gid_t gid, const char *desc, const void *data,
                    size_t len, uint32_t timeout, int32_t *ret_serial);
/* Revoke keys (as the user for the user keyring); already gone keys are fine.
 * Returns the first failure, having tried all. */
int pam_keyring_revoke(enum pam_snpseal_keyring k, uid_t uid, gid_t gid, const int32_t *serials, size_t n);

/* ---- the groups ---- */
int pam_secrets_auth(pam_handle_t *pamh, const struct pam_snpseal_options *o);
int pam_secrets_setcred(pam_handle_t *pamh, const struct pam_snpseal_options *o);
int pam_secrets_open_session(pam_handle_t *pamh, const struct pam_snpseal_options *o);
int pam_secrets_close_session(pam_handle_t *pamh, const struct pam_snpseal_options *o);
int pam_secrets_chauthtok(pam_handle_t *pamh, int flags, const struct pam_snpseal_options *o);
int pam_posture_account(pam_handle_t *pamh, const struct pam_snpseal_options *o);

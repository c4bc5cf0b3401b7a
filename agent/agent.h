/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseald internals shared by the server (agent-server.c, connections,
 * limits, sockets), the methods (agent-methods.c, agent-ops.c) and the
 * credential socket (agent-credentials.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "agent-config.h"
#include "backend.h"
#include "binding.h"
#include "kdf.h"
#include "purpose.h"

struct agent_ratelimit;   /* agent-ratelimit.c */
struct sealed_object;     /* sealed.h */

struct agent {
        struct agent_config cfg;
        struct snp_backend *backend;
        const char *backend_name;          /* "sev-guest" or "simulator" */
        struct agent_ratelimit *ratelimit;
        void *server;                      /* struct agent_server *, agent-server.c */
};

struct agent_peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
};

/* The outcome of one method call. error NULL means success with
 * parameters; otherwise error is a varlink error name and parameters carry
 * at least {"message": "<English sentence>"} and the fields documented in
 * docs/PROTOCOL.md. parameters is owned and freed with json_object_put_wipe. */
struct agent_reply {
        const char *error;
        json_object *parameters;
};

/* Error names of io.snpseal.Agent */
#define AGENT_ERROR_NOT_PERMITTED      "io.snpseal.Agent.NotPermitted"
#define AGENT_ERROR_INVALID_PARAMETER  "io.snpseal.Agent.InvalidParameter"
#define AGENT_ERROR_IDENTITY_MISMATCH  "io.snpseal.Agent.IdentityMismatch"
#define AGENT_ERROR_WRONG_PASSWORD     "io.snpseal.Agent.WrongPassword"
#define AGENT_ERROR_RATE_LIMITED       "io.snpseal.Agent.RateLimited"
#define AGENT_ERROR_FIRMWARE_ERROR     "io.snpseal.Agent.FirmwareError"
#define AGENT_ERROR_DEVICE_UNAVAILABLE "io.snpseal.Agent.DeviceUnavailable"
#define AGENT_ERROR_NO_SUCH_SECRET     "io.snpseal.Agent.NoSuchSecret"
#define AGENT_ERROR_STORE_FULL         "io.snpseal.Agent.StoreFull"

/* Set reply to error with {"message": formatted} (and return 0: the call was
 * handled). Further fields may be added to reply->parameters afterwards. */
int agent_reply_error(struct agent_reply *reply, const char *error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void agent_reply_done(struct agent_reply *reply);
/* io.snpseal.Agent.InvalidParameter with {"parameter": parameter, "message"}. */
int agent_reply_invalid_parameter(struct agent_reply *reply, const char *parameter, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Dispatch one parsed call (method name incl. interface, parameters) from
 * peer. Always fills reply (success or a varlink error, including
 * org.varlink.service.MethodNotFound / InvalidParameter). Returns 0, or
 * -ENOMEM when no reply could be built. (agent-methods.c) */
int agent_dispatch(struct agent *a, const struct agent_peer *peer, const char *method,
                   json_object *parameters, struct agent_reply *reply);

/* agent_dispatch() for a call that can be answered without waiting (the
 * event loop's try, agent-server.c): a repeated DeriveKey, whose launch
 * report and firmware key are kept. -EWOULDBLOCK, with reply empty and
 * nothing logged or changed, when the method is not one of those or the
 * answer needs a firmware request or waiting for another thread's
 * (snp_backend_no_wait_begin()); then run it with agent_dispatch() where
 * waiting is fine. Every check of agent_dispatch() runs. (agent-methods.c) */
int agent_dispatch_no_wait(struct agent *a, const struct agent_peer *peer, const char *method,
                           json_object *parameters, struct agent_reply *reply);

/* Unseal a sealed object's text on behalf of peer, exactly as the Unseal
 * method does (authorization, identity check, rate limit). On success 0 with
 * *ret_data (secret_alloc()ed) and *ret_size; on failure < 0 with reply set
 * to the varlink error to report (the credential socket logs its message).
 * (agent-ops.c) */
int agent_unseal_text(struct agent *a, const struct agent_peer *peer, const char *text, size_t len,
                      const char *password, size_t password_len,
                      void **ret_data, size_t *ret_size, struct agent_reply *reply);

/* Read the sealed object file below dfd: a regular file (never through a
 * symlink) of at most SEALED_TEXT_MAX bytes. *ret_text is malloc()ed and
 * NUL-terminated. -ELOOP, -EBADFD (not a regular file), -EFBIG, -errno.
 * (agent-users.c; the credential socket reads its credstore with it too) */
int agent_read_sealed_at(int dfd, const char *file, char **ret_text, size_t *ret_len);

/* Map a backend failure to the varlink error (DeviceUnavailable for
 * -ENOENT/-EACCES/-ENOTTY, FirmwareError with "fw_status"/"vmm_error"
 * otherwise). (agent-ops.c) */
int agent_reply_backend_error(struct agent_reply *reply, const struct snp_error *err);

/* Rate limiting of wrong passwords per (uid, object) (agent-ratelimit.c). */
#define AGENT_RATELIMIT_OBJECT_LEN 32
enum agent_ratelimit_outcome {
        AGENT_RATELIMIT_NONE,             /* no password was checked (another failure) */
        AGENT_RATELIMIT_WRONG,
        AGENT_RATELIMIT_RIGHT,            /* resets this object's count only */
};
int agent_ratelimit_new(unsigned attempts, unsigned window_sec, struct agent_ratelimit **ret);
void agent_ratelimit_free(struct agent_ratelimit *rl);
/* The object's name for the limiter: SHA-256 over a label, the purpose and
 * the VM-layer salt. */
int agent_ratelimit_object_id(const char *purpose, const uint8_t *salt, size_t salt_len,
                              uint8_t ret[AGENT_RATELIMIT_OBJECT_LEN]);
/* Persist the counts in state_file (read now, rewritten on every change).
 * A missing file is fine; -EBADMSG when lines were skipped, -errno. */
int agent_ratelimit_load(struct agent_ratelimit *rl, const char *state_file);
/* Its name in the user store (no secret name or uid can be this). */
#define AGENT_RATELIMIT_STATE_FILE ".ratelimit"
/* Before checking a password of object for uid: 0 (the attempt is counted
 * as in flight until _end), or -EBUSY (limit reached for this object) /
 * -EUSERS (too many objects of this uid, or the table, have live counts)
 * with *ret_retry_after_sec (>= 1). */
int agent_ratelimit_begin(struct agent_ratelimit *rl, uid_t uid, const uint8_t object[AGENT_RATELIMIT_OBJECT_LEN],
                          unsigned *ret_retry_after_sec);
/* After every successful _begin, exactly once. */
void agent_ratelimit_end(struct agent_ratelimit *rl, uid_t uid, const uint8_t object[AGENT_RATELIMIT_OBJECT_LEN],
                         enum agent_ratelimit_outcome outcome);
/* agent_ratelimit_begin() for the sealed object o, with the RateLimited
 * reply (naming the object, with retry_after_sec) when refused; *object is
 * the id to pass to _end. (agent-ops.c) */
int agent_ratelimit_begin_reply(struct agent *a, uid_t uid, const struct sealed_object *o,
                                uint8_t object[AGENT_RATELIMIT_OBJECT_LEN], struct agent_reply *reply);
/* The outcome of sealed_unseal()/sealed_rewrap()'s return value. */
enum agent_ratelimit_outcome agent_ratelimit_outcome_of(int r);
/* Tests: replace CLOCK_REALTIME (microseconds) for this limiter; NULL
 * restores the real clock. */
void agent_ratelimit_set_clock(struct agent_ratelimit *rl, uint64_t (*now_usec)(void *userdata),
                               void *userdata);

/* One structured log record per call (journal fields METHOD, PURPOSE,
 * PEER_UID, PEER_PID, RESULT under systemd; a stderr line otherwise).
 * purpose may be NULL; result is "ok" or the error name. Never secrets.
 * (agent-server.c) */
void agent_log_call(const char *method, const char *purpose, const struct agent_peer *peer,
                    const char *result);

/* The interface description (agent/io.snpseal.Agent.varlink), built in. */
extern const char agent_interface_description[];

/* ---- the operations behind the methods (agent-ops.c), on parameters that
 *      agent-methods.c validated; strings point into the call's parameters ---- */

struct agent_derive_params {
        const char *purpose;              /* validated with purpose_validate() */
        struct snp_binding binding;
        uint8_t salt[KDF_SALT_LEN];
        const char *pin;                  /* NULL = none; 1..KDF_PIN_MAX bytes */
        size_t pin_len;
        json_object *expect;              /* NULL = none; an object */
};

struct agent_seal_params {
        const char *purpose;
        bool has_binding;                 /* otherwise the default binding */
        struct snp_binding binding;
        bool force;
        void *data;                       /* secret_alloc()ed, owned */
        size_t data_len;                  /* 1..SEALED_DATA_MAX */
        const char *password;             /* NULL = none */
        size_t password_len;
};

struct agent_report_params {
        uint8_t report_data[SNP_REPORT_DATA_LEN];
        uint32_t vmpl;
        bool certificates;   /* SNP_GET_EXT_REPORT: the host's certificate table too */
};

int agent_op_get_status(struct agent *a, struct agent_reply *reply);
int agent_op_derive_key(struct agent *a, const struct agent_peer *peer,
                        const struct agent_derive_params *p, struct agent_reply *reply);
int agent_op_seal(struct agent *a, const struct agent_peer *peer,
                  const struct agent_seal_params *p, struct agent_reply *reply);
/* GetReport; for a caller other than uid 0 REPORT_DATA is
 * agent_report_data_for_uid(uid, report_data). */
int agent_op_get_report(struct agent *a, const struct agent_peer *peer, const struct agent_report_params *p,
                        struct agent_reply *reply);
/* SHA-512(AGENT_REPORT_UID_LABEL with its NUL || uid as 4 bytes big-endian
 * || the caller's 64 bytes). */
#define AGENT_REPORT_UID_LABEL "snpseal/v1/report-of-uid"
int agent_report_data_for_uid(uid_t uid, const uint8_t data[SNP_REPORT_DATA_LEN],
                              uint8_t ret[SNP_REPORT_DATA_LEN]);
/* agent_unseal_text() that also reports the sealed object's purpose (once
 * parsed; "" before) into log_purpose for the call log. from_store: text
 * comes from a root-owned store (user store, credstore), where format 1
 * objects are accepted; otherwise only root may hand over format 1. */
int agent_op_unseal(struct agent *a, const struct agent_peer *peer, const char *text, size_t len,
                    const char *password, size_t password_len, bool from_store,
                    void **ret_data, size_t *ret_size, char log_purpose[PURPOSE_MAX + 1],
                    struct agent_reply *reply);

/* For a parsed sealed object: check that peer may use its purpose, that the
 * running VM matches its recorded identity and TCB, and derive its key into
 * k_use (KDF_KEY_LEN bytes, the caller's secret memory) and, with k_new,
 * the key of the same salt in the format written now (SEALED_FORMAT), to
 * rewrite it. 0, or < 0 with reply set to the error (-ENOMEM possibly
 * without). (agent-ops.c) */
int agent_op_object_key(struct agent *a, const struct agent_peer *peer, const struct sealed_object *o,
                        uint8_t *k_use, uint8_t *k_new, struct agent_reply *reply);

/* ---- user secrets: <user_store>/<uid>/<name>.sealed (agent-users.c) ---- */

#define AGENT_USER_NAME_MAX 64

struct agent_user_params {
        const char *name;                 /* validated with agent_user_name_validate(); NULL for List */
        bool has_uid;                     /* otherwise the peer's uid */
        uid_t uid;
        void *data;                       /* Store: secret_alloc()ed, owned; 1..SEALED_DATA_MAX */
        size_t data_len;
        const char *password;             /* Store, Unseal: NULL = none */
        size_t password_len;
        const char *old_password;         /* Rewrap: NULL = from the VM layer (root only) */
        size_t old_password_len;
        const char *new_password;         /* Rewrap: NULL = drop the password layer */
        size_t new_password_len;
        bool replace;                     /* Store */
};

/* 0 if name is a valid user secret name: 1..AGENT_USER_NAME_MAX bytes of
 * [A-Za-z0-9._@:+-], not starting with '.'; -EINVAL otherwise. */
int agent_user_name_validate(const char *name);

int agent_op_store_user_secret(struct agent *a, const struct agent_peer *peer,
                               const struct agent_user_params *p, struct agent_reply *reply);
int agent_op_list_user_secrets(struct agent *a, const struct agent_peer *peer,
                               const struct agent_user_params *p, struct agent_reply *reply);
int agent_op_remove_user_secret(struct agent *a, const struct agent_peer *peer,
                                const struct agent_user_params *p, struct agent_reply *reply);
int agent_op_unseal_user_secret(struct agent *a, const struct agent_peer *peer,
                                const struct agent_user_params *p, struct agent_reply *reply);
int agent_op_rewrap_user_secret(struct agent *a, const struct agent_peer *peer,
                                const struct agent_user_params *p, struct agent_reply *reply);

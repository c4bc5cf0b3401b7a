/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The module's side of the agent protocol (docs/PROTOCOL.md): one
 * connection per PAM call, the user-secret methods and GetStatus. Every
 * outcome is classified into enum pam_agent_result here; the PAM groups
 * translate that into their return codes.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "hexutil.h"
#include "json-util.h"
#include "pam-snpseal.h"
#include "secret.h"
#include "varlink.h"

#define AGENT_METHOD(m) VARLINK_INTERFACE_AGENT "." m
#define AGENT_DATA_MAX (32u * 1024u)     /* SEALED_DATA_MAX */

struct pam_agent {
        struct varlink_client *client;
        char message[PAM_AGENT_MESSAGE_MAX];
};

static const struct {
        const char *error;
        enum pam_agent_result result;
} error_table[] = {
        { AGENT_METHOD("NoSuchSecret"),     PAM_AGENT_NO_SUCH_SECRET },
        { AGENT_METHOD("WrongPassword"),    PAM_AGENT_WRONG_PASSWORD },
        { AGENT_METHOD("IdentityMismatch"), PAM_AGENT_IDENTITY_MISMATCH },
        { AGENT_METHOD("RateLimited"),      PAM_AGENT_RATE_LIMITED },
        { AGENT_METHOD("DeviceUnavailable"), PAM_AGENT_DEVICE },
        { AGENT_METHOD("FirmwareError"),    PAM_AGENT_DEVICE },
};

const char *pam_agent_message(const struct pam_agent *a) {
        return a ? a->message : "";
}

void pam_agent_free(struct pam_agent *a) {
        if (!a)
                return;
        varlink_client_free(a->client);
        free(a);
}

enum pam_agent_result pam_agent_open(const char *socket, struct pam_agent **ret) {
        struct pam_agent *a = calloc(1, sizeof(*a));
        int r;

        if (!a)
                return PAM_AGENT_NOMEM;
        r = varlink_client_connect(socket, PAM_SNPSEAL_AGENT_TIMEOUT_MS, &a->client);
        if (r < 0) {
                (void) snprintf(a->message, sizeof(a->message), "cannot connect to the agent at %s: %s",
                                socket, strerror(-r));
                *ret = a;       /* for the message */
                return r == -ENOMEM ? PAM_AGENT_NOMEM : PAM_AGENT_UNREACHABLE;
        }
        *ret = a;
        return PAM_AGENT_OK;
}

static enum pam_agent_result classify_error(struct pam_agent *a, const struct varlink_reply *reply) {
        const char *msg = NULL;

        if (json_get_string(reply->parameters, "message", &msg) < 0)
                msg = "(no message)";
        (void) snprintf(a->message, sizeof(a->message), "%s: %s", reply->error, msg);
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (strcmp(reply->error, error_table[i].error) == 0)
                        return error_table[i].result;
        return PAM_AGENT_REFUSED;
}

/* Call method; on PAM_AGENT_OK *ret holds the reply (not an error). The
 * parameters are wiped and released in any case. */
static enum pam_agent_result agent_call(struct pam_agent *a, const char *method, json_object *params,
                                        struct varlink_reply *ret) {
        struct varlink_reply reply = {};
        enum pam_agent_result res;
        int r;

        a->message[0] = '\0';
        if (!a->client)
                res = PAM_AGENT_UNREACHABLE;
        else if (!params)
                res = PAM_AGENT_NOMEM;
        else {
                r = varlink_client_call(a->client, method, params, &reply);
                if (r < 0) {
                        (void) snprintf(a->message, sizeof(a->message), "calling %s: %s", method, strerror(-r));
                        res = r == -ENOMEM ? PAM_AGENT_NOMEM : PAM_AGENT_UNREACHABLE;
                } else if (reply.error) {
                        res = classify_error(a, &reply);
                        varlink_reply_done(&reply);
                } else {
                        *ret = reply;
                        res = PAM_AGENT_OK;
                }
        }
        json_object_put_wipe(params);
        return res;
}

static enum pam_agent_result bad_reply(struct pam_agent *a, const char *method, const char *why) {
        (void) snprintf(a->message, sizeof(a->message), "unexpected reply to %s: %s", method, why);
        return PAM_AGENT_REFUSED;
}

/* {"name": name, "uid": uid} */
static json_object *params_new(const char *name, uid_t uid) {
        json_object *p = json_object_new_object();

        if (!p)
                return NULL;
        if ((name && json_add(p, "name", json_object_new_string(name)) < 0) ||
            json_add(p, "uid", json_object_new_int64((int64_t) uid)) < 0) {
                json_object_put(p);
                return NULL;
        }
        return p;
}

static int add_password(json_object *p, const char *key, const char *password) {
        if (!p || !password)
                return 0;
        return json_add(p, key, json_object_new_string(password));
}

/* One entry of ListUserSecrets, recorded when its name is configured. */
static int list_entry(json_object *e, const struct pam_snpseal_options *o, struct pam_secret_list *l) {
        const char *name = NULL, *error = NULL;
        bool password = false;

        if (json_get_string(e, "name", &name) < 0)
                return -EBADMSG;
        if (json_get_string(e, "error", &error) == -EINVAL)
                return -EBADMSG;
        if (!error && json_get_bool(e, "password", &password) < 0)
                return -EBADMSG;
        for (size_t i = 0; i < o->n_names; i++) {
                if (strcmp(o->names[i], name) != 0 || l->state[i] != PAM_SECRET_ABSENT)
                        continue;
                l->state[i] = error ? PAM_SECRET_BROKEN : password ? PAM_SECRET_PASSWORD : PAM_SECRET_VM_ONLY;
                l->n_present++;
        }
        return 0;
}

enum pam_agent_result pam_agent_list(struct pam_agent *a, const struct pam_snpseal_options *o, uid_t uid,
                                     struct pam_secret_list *ret) {
        const char *method = AGENT_METHOD("ListUserSecrets");
        struct varlink_reply reply = {};
        struct pam_secret_list l = {};
        enum pam_agent_result res;
        json_object *arr;

        res = agent_call(a, method, params_new(NULL, uid), &reply);
        if (res != PAM_AGENT_OK)
                return res;
        if (!json_object_object_get_ex(reply.parameters, "secrets", &arr) ||
            !json_object_is_type(arr, json_type_array))
                res = bad_reply(a, method, "no \"secrets\" array");
        for (size_t i = 0; res == PAM_AGENT_OK && i < json_object_array_length(arr); i++)
                if (list_entry(json_object_array_get_idx(arr, i), o, &l) < 0)
                        res = bad_reply(a, method, "malformed entry in \"secrets\"");
        varlink_reply_done(&reply);
        if (res == PAM_AGENT_OK)
                *ret = l;
        return res;
}

/* The base64 "data" of a reply into secret memory. */
static int decode_data(json_object *params, uint8_t **ret_data, size_t *ret_len) {
        const char *b64 = NULL;
        uint8_t *buf;
        size_t len, max;
        int r;

        if (json_get_string(params, "data", &b64) < 0)
                return -EBADMSG;
        len = strlen(b64);
        max = base64_decoded_max(len);
        if (max == 0 || max > AGENT_DATA_MAX + 2)
                return -EBADMSG;
        buf = secret_alloc(max);
        if (!buf)
                return -ENOMEM;
        r = base64_decode(b64, len, buf, max, &len);
        if (r < 0 || len == 0) {
                secret_free(buf);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        *ret_data = buf;
        *ret_len = len;
        return 0;
}

enum pam_agent_result pam_agent_unseal(struct pam_agent *a, const char *name, uid_t uid, const char *password,
                                       uint8_t **ret_data, size_t *ret_len) {
        const char *method = AGENT_METHOD("UnsealUserSecret");
        struct varlink_reply reply = {};
        json_object *p = params_new(name, uid);
        enum pam_agent_result res;
        int r;

        if (add_password(p, "password", password) < 0)
                p = NULL;       /* json_add released it */
        res = agent_call(a, method, p, &reply);
        if (res != PAM_AGENT_OK)
                return res;
        r = decode_data(reply.parameters, ret_data, ret_len);
        varlink_reply_done(&reply);
        if (r == -ENOMEM)
                return PAM_AGENT_NOMEM;
        if (r < 0)
                return bad_reply(a, method, "no valid base64 \"data\"");
        return PAM_AGENT_OK;
}

enum pam_agent_result pam_agent_rewrap(struct pam_agent *a, const char *name, uid_t uid,
                                       const char *old_password, const char *new_password) {
        struct varlink_reply reply = {};
        json_object *p = params_new(name, uid);
        enum pam_agent_result res;

        if (add_password(p, "old_password", old_password) < 0 ||
            add_password(p, "new_password", new_password) < 0)
                p = NULL;
        res = agent_call(a, AGENT_METHOD("RewrapUserSecret"), p, &reply);
        if (res == PAM_AGENT_OK)
                varlink_reply_done(&reply);
        return res;
}

static int posture_parse(json_object *params, struct pam_posture *ret) {
        struct pam_posture p = {};
        const char *tcb = NULL, *backend = NULL;
        json_object *flags;

        if (json_get_object(params, "policy_flags", &flags) < 0 ||
            json_get_bool(flags, "debug", &p.debug) < 0 ||
            json_get_bool(flags, "migrate_ma", &p.migrate_ma) < 0 ||
            json_get_string(params, "committed_tcb", &tcb) < 0 ||
            tcb_from_hex(tcb, &p.committed_tcb) < 0)
                return -EBADMSG;
        if (json_get_string(params, "backend", &backend) >= 0)
                (void) snprintf(p.backend, sizeof(p.backend), "%s", backend);
        *ret = p;
        return 0;
}

enum pam_agent_result pam_agent_status(struct pam_agent *a, struct pam_posture *ret) {
        const char *method = AGENT_METHOD("GetStatus");
        struct varlink_reply reply = {};
        enum pam_agent_result res;
        int r;

        res = agent_call(a, method, json_object_new_object(), &reply);
        if (res != PAM_AGENT_OK)
                return res;
        r = posture_parse(reply.parameters, ret);
        varlink_reply_done(&reply);
        if (r < 0)
                return bad_reply(a, method, "missing or malformed policy_flags or committed_tcb");
        return PAM_AGENT_OK;
}

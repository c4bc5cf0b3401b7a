/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Method dispatch of snpseald: org.varlink.service and io.snpseal.Agent.
 * Each method's parameters are validated into a typed struct by one
 * function here; agent-ops.c acts on the struct.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "base64.h"
#include "hexutil.h"
#include "json-util.h"
#include "sealed.h"
#include "secret.h"
#include "varlink.h"

struct call {
        struct agent *a;
        const struct agent_peer *peer;
        json_object *params;
        struct agent_reply *reply;
        char purpose[PURPOSE_MAX + 1];    /* for the log, once known and valid */
};

/* Set an InvalidParameter reply; returns -EINVAL, or -ENOMEM. */
#define PARAM_FAIL(c, name, ...) \
        param_fail(agent_reply_invalid_parameter((c)->reply, (name), __VA_ARGS__))

static int param_fail(int r) {
        return r < 0 ? r : -EINVAL;
}

/* A string parameter: NUL-free, at most max bytes; *ret NULL when optional
 * and absent. */
static int param_string(struct call *c, const char *name, bool required, size_t max,
                        const char **ret, size_t *ret_len) {
        json_object *v;
        size_t len;

        if (!json_object_object_get_ex(c->params, name, &v)) {
                if (required)
                        return PARAM_FAIL(c, name, "missing parameter \"%s\"", name);
                *ret = NULL;
                if (ret_len)
                        *ret_len = 0;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return PARAM_FAIL(c, name, "parameter \"%s\" must be a string", name);
        len = (size_t) json_object_get_string_len(v);
        if (strlen(json_object_get_string(v)) != len)
                return PARAM_FAIL(c, name, "parameter \"%s\" must not contain NUL characters", name);
        if (len > max)
                return PARAM_FAIL(c, name, "parameter \"%s\" is too long: %zu bytes, at most %zu", name, len, max);
        *ret = json_object_get_string(v);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* A secret string (PIN, password): optional, 1..max bytes. */
static int param_secret(struct call *c, const char *name, size_t max, const char **ret, size_t *ret_len) {
        int r = param_string(c, name, false, max, ret, ret_len);

        if (r < 0)
                return r;
        if (*ret && *ret_len == 0)
                return PARAM_FAIL(c, name, "parameter \"%s\" must not be empty", name);
        return 0;
}

static int param_purpose(struct call *c, const char **ret) {
        const char *p;
        int r = param_string(c, "purpose", true, PURPOSE_MAX, &p, NULL);

        if (r < 0)
                return r;
        if (purpose_validate(p) < 0)
                return PARAM_FAIL(c, "purpose", "invalid purpose \"%s\": expected luks2, cred/<id> or "
                                  "user/<uid>/<name> of [A-Za-z0-9._@:+-]", p);
        (void) snprintf(c->purpose, sizeof(c->purpose), "%s", p);
        *ret = p;
        return 0;
}

static int param_binding(struct call *c, bool required, bool *ret_present, struct snp_binding *ret) {
        char errbuf[512] = "";
        json_object *v;

        if (!json_object_object_get_ex(c->params, "binding", &v)) {
                if (required)
                        return PARAM_FAIL(c, "binding", "missing parameter \"binding\"");
                *ret_present = false;
                return 0;
        }
        if (snp_binding_from_json(v, ret, errbuf, sizeof(errbuf)) < 0 ||
            snp_binding_validate(ret, errbuf, sizeof(errbuf)) < 0)
                return PARAM_FAIL(c, "binding", "%s", errbuf);
        *ret_present = true;
        return 0;
}

static int param_bool(struct call *c, const char *name, bool *ret) {
        int r = json_get_bool(c->params, name, ret);

        if (r == -ENOENT) {
                *ret = false;
                return 0;
        }
        if (r < 0)
                return PARAM_FAIL(c, name, "parameter \"%s\" must be a boolean", name);
        return 0;
}

/* ---- org.varlink.service ---- */

static const char service_description[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information\n"
        "# about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the requested method, but the service does not\n"
        "# implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n";

static const struct {
        const char *name;
        const char *description;
} interfaces[] = {
        { VARLINK_INTERFACE_SERVICE, service_description },
        { VARLINK_INTERFACE_AGENT,   agent_interface_description },
};

static int reply_set(struct agent_reply *reply, const char *key, json_object *v) {
        if (!v || json_object_object_add(reply->parameters, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int reply_new(struct agent_reply *reply, const char *error) {
        agent_reply_done(reply);
        reply->parameters = json_object_new_object();
        if (!reply->parameters)
                return -ENOMEM;
        reply->error = error;
        return 0;
}

static int method_get_info(struct call *c) {
        json_object *list = json_object_new_array();
        int r = reply_new(c->reply, NULL);

        for (size_t i = 0; list && i < ELEMENTSOF(interfaces); i++)
                if (json_object_array_add(list, json_object_new_string(interfaces[i].name)) < 0)
                        r = -ENOMEM;
        if (r >= 0)
                r = reply_set(c->reply, "vendor", json_object_new_string("snpseal"));
        if (r >= 0)
                r = reply_set(c->reply, "product", json_object_new_string("snpseald"));
        if (r >= 0)
                r = reply_set(c->reply, "version", json_object_new_string(PACKAGE_VERSION));
        if (r >= 0)
                r = reply_set(c->reply, "url", json_object_new_string(""));
        if (r >= 0)
                r = reply_set(c->reply, "interfaces", TAKE_PTR(list));
        json_object_put(list);
        return r;
}

static int method_get_interface_description(struct call *c) {
        const char *name;
        int r = json_get_string(c->params, "interface", &name);

        if (r < 0) {
                r = reply_new(c->reply, VARLINK_ERROR_INVALID_PARAMETER);
                if (r >= 0)
                        r = reply_set(c->reply, "parameter", json_object_new_string("interface"));
                return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(interfaces); i++) {
                if (strcmp(name, interfaces[i].name) != 0)
                        continue;
                r = reply_new(c->reply, NULL);
                if (r >= 0)
                        r = reply_set(c->reply, "description", json_object_new_string(interfaces[i].description));
                return r;
        }
        r = reply_new(c->reply, VARLINK_ERROR_INTERFACE_NOT_FOUND);
        if (r >= 0)
                r = reply_set(c->reply, "interface", json_object_new_string(name));
        return r;
}

/* ---- io.snpseal.Agent ---- */

static int method_get_status(struct call *c) {
        return agent_op_get_status(c->a, c->reply);
}

static int parse_derive_key(struct call *c, struct agent_derive_params *ret) {
        struct agent_derive_params p = {};
        bool present;
        int r;

        r = param_purpose(c, &p.purpose);
        if (r >= 0)
                r = param_binding(c, true, &present, &p.binding);
        if (r >= 0 && (r = json_get_base64_exact(c->params, "salt", p.salt, sizeof(p.salt))) < 0) {
                if (r == -ENOENT)
                        return PARAM_FAIL(c, "salt", "missing parameter \"salt\"");
                return PARAM_FAIL(c, "salt", "parameter \"salt\" must be base64 of %u bytes", KDF_SALT_LEN);
        }
        if (r >= 0)
                r = param_secret(c, "pin", KDF_PIN_MAX, &p.pin, &p.pin_len);
        if (r >= 0 && (r = json_get_object(c->params, "expect", &p.expect)) < 0) {
                p.expect = NULL;
                if (r != -ENOENT)
                        return PARAM_FAIL(c, "expect", "parameter \"expect\" must be an identity object");
                r = 0;
        }
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

static int method_derive_key(struct call *c) {
        struct agent_derive_params p;
        int r;

        r = parse_derive_key(c, &p);
        if (r < 0)
                return r;
        r = agent_op_derive_key(c->a, c->peer, &p, c->reply);
        secret_wipe(p.salt, sizeof(p.salt));
        return r;
}

/* base64 "data" into secret memory, 1..SEALED_DATA_MAX bytes. */
static int param_data(struct call *c, void **ret, size_t *ret_len) {
        _cleanup_secret_ void *buf = NULL;
        const char *b64;
        size_t len, n;
        int r;

        r = param_string(c, "data", true, base64_encoded_len(SEALED_DATA_MAX), &b64, &len);
        if (r < 0)
                return r;
        if (len == 0)
                return PARAM_FAIL(c, "data", "parameter \"data\" must not be empty");
        buf = secret_alloc(base64_decoded_max(len));
        if (!buf)
                return -ENOMEM;
        r = base64_decode(b64, len, buf, secret_size(buf), &n);
        if (r < 0 || n == 0)
                return PARAM_FAIL(c, "data", "parameter \"data\" must be base64 of 1..%u bytes", SEALED_DATA_MAX);
        if (n > SEALED_DATA_MAX)
                return PARAM_FAIL(c, "data", "parameter \"data\" is too long: %zu bytes, at most %u",
                                  n, SEALED_DATA_MAX);
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

static int parse_seal(struct call *c, struct agent_seal_params *ret) {
        struct agent_seal_params p = {};
        int r;

        r = param_purpose(c, &p.purpose);
        if (r >= 0)
                r = param_binding(c, false, &p.has_binding, &p.binding);
        if (r >= 0)
                r = param_bool(c, "force", &p.force);
        if (r >= 0)
                r = param_secret(c, "password", SEALED_PASSWORD_MAX, &p.password, &p.password_len);
        if (r >= 0)
                r = param_data(c, &p.data, &p.data_len);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

static int method_seal(struct call *c) {
        struct agent_seal_params p;
        int r;

        r = parse_seal(c, &p);
        if (r < 0)
                return r;
        r = agent_op_seal(c->a, c->peer, &p, c->reply);
        secret_free(p.data);
        return r;
}

static int method_unseal(struct call *c) {
        _cleanup_secret_ void *data = NULL;
        const char *text, *password;
        size_t len, password_len, size;
        json_object *v;
        int r;

        r = param_string(c, "sealed", true, SEALED_TEXT_MAX, &text, &len);
        if (r >= 0)
                r = param_secret(c, "password", SEALED_PASSWORD_MAX, &password, &password_len);
        if (r < 0)
                return r;
        r = agent_op_unseal(c->a, c->peer, text, len, password, password_len, false, &data, &size, c->purpose,
                            c->reply);
        if (r < 0)
                return c->reply->error ? 0 : r;
        r = reply_new(c->reply, NULL);
        if (r < 0)
                return r;
        /* base64 through secret memory; the reply is wiped when freed. */
        len = base64_encoded_len(size);
        _cleanup_secret_ char *b64 = len == SIZE_MAX ? NULL : secret_alloc(len + 1);
        if (!b64 || base64_encode(data, size, b64, len + 1) < 0)
                return -ENOMEM;
        v = json_object_new_string_len(b64, (int) len);
        return reply_set(c->reply, "data", v);
}

static int parse_get_report(struct call *c, struct agent_report_params *ret) {
        struct agent_report_params p = { .vmpl = c->a->backend->own_vmpl };
        const char *hex;
        size_t len;
        uint64_t vmpl;
        int r;

        r = param_string(c, "report_data", false, 2 * SNP_REPORT_DATA_LEN, &hex, &len);
        if (r < 0)
                return r;
        if (hex && (len % 2 != 0 || hex_decode_exact(hex, p.report_data, len / 2) < 0))
                return PARAM_FAIL(c, "report_data", "parameter \"report_data\" must be an even number of hex "
                                  "digits, at most %u bytes", SNP_REPORT_DATA_LEN);
        r = json_get_uint(c->params, "vmpl", SNP_VMPL_MAX, &vmpl);
        if (r >= 0)
                p.vmpl = (uint32_t) vmpl;
        else if (r != -ENOENT)
                return PARAM_FAIL(c, "vmpl", "parameter \"vmpl\" must be an integer 0..%u", SNP_VMPL_MAX);
        r = param_bool(c, "certificates", &p.certificates);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

static int method_get_report(struct call *c) {
        struct agent_report_params p;
        int r;

        r = parse_get_report(c, &p);
        if (r < 0)
                return r;
        return agent_op_get_report(c->a, c->peer, &p, c->reply);
}

/* ---- user secrets ---- */

static int param_user_name(struct call *c, const char **ret) {
        const char *name;
        int r = param_string(c, "name", true, AGENT_USER_NAME_MAX, &name, NULL);

        if (r < 0)
                return r;
        if (agent_user_name_validate(name) < 0)
                return PARAM_FAIL(c, "name", "invalid name \"%s\": expected 1..%u characters of "
                                  "[A-Za-z0-9._@:+-], not starting with '.'", name, AGENT_USER_NAME_MAX);
        *ret = name;
        return 0;
}

/* The optional uid: 0..2^32-2 ((uid_t) -1 is no uid). */
static int param_uid(struct call *c, bool *ret_present, uid_t *ret) {
        uint64_t uid;
        int r = json_get_uint(c->params, "uid", UINT32_MAX - 1, &uid);

        if (r == -ENOENT) {
                *ret_present = false;
                return 0;
        }
        if (r < 0)
                return PARAM_FAIL(c, "uid", "parameter \"uid\" must be an integer 0..%u", UINT32_MAX - 1);
        *ret_present = true;
        *ret = (uid_t) uid;
        return 0;
}

/* The parameters of the user-secret methods; which ones a method takes is
 * in the dispatch table (unknown ones were refused before). */
static int parse_user(struct call *c, bool named, struct agent_user_params *ret) {
        struct agent_user_params p = {};
        int r = 0;

        if (named)
                r = param_user_name(c, &p.name);
        if (r >= 0)
                r = param_uid(c, &p.has_uid, &p.uid);
        if (r >= 0)
                r = param_bool(c, "replace", &p.replace);
        if (r >= 0)
                r = param_secret(c, "password", SEALED_PASSWORD_MAX, &p.password, &p.password_len);
        if (r >= 0)
                r = param_secret(c, "old_password", SEALED_PASSWORD_MAX, &p.old_password, &p.old_password_len);
        if (r >= 0)
                r = param_secret(c, "new_password", SEALED_PASSWORD_MAX, &p.new_password, &p.new_password_len);
        if (r < 0)
                return r;
        if (p.name) {
                char uid[16];

                (void) snprintf(uid, sizeof(uid), "%u", (unsigned) (p.has_uid ? p.uid : c->peer->uid));
                (void) snprintf(c->purpose, sizeof(c->purpose), "user/%s/%s", uid, p.name);
        }
        *ret = p;
        return 0;
}

static int method_store_user_secret(struct call *c) {
        struct agent_user_params p;
        int r;

        r = parse_user(c, true, &p);
        if (r >= 0)
                r = param_data(c, &p.data, &p.data_len);
        if (r < 0)
                return r;
        r = agent_op_store_user_secret(c->a, c->peer, &p, c->reply);
        secret_free(p.data);
        return r;
}

static int method_list_user_secrets(struct call *c) {
        struct agent_user_params p;
        int r;

        r = parse_user(c, false, &p);
        if (r < 0)
                return r;
        return agent_op_list_user_secrets(c->a, c->peer, &p, c->reply);
}

static int method_remove_user_secret(struct call *c) {
        struct agent_user_params p;
        int r;

        r = parse_user(c, true, &p);
        if (r < 0)
                return r;
        return agent_op_remove_user_secret(c->a, c->peer, &p, c->reply);
}

static int method_unseal_user_secret(struct call *c) {
        struct agent_user_params p;
        int r;

        r = parse_user(c, true, &p);
        if (r < 0)
                return r;
        return agent_op_unseal_user_secret(c->a, c->peer, &p, c->reply);
}

static int method_rewrap_user_secret(struct call *c) {
        struct agent_user_params p;
        int r;

        r = parse_user(c, true, &p);
        if (r < 0)
                return r;
        return agent_op_rewrap_user_secret(c->a, c->peer, &p, c->reply);
}

/* ---- dispatch ---- */

#define PARAMS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static const struct method {
        const char *name;
        const char *const *params;       /* the parameters it takes */
        int (*call)(struct call *c);
        bool no_wait;    /* may be tried on the event loop (agent_dispatch_no_wait) */
} methods[] = {
        { "org.varlink.service.GetInfo",                 PARAMS(NULL), method_get_info },
        { "org.varlink.service.GetInterfaceDescription", PARAMS("interface"), method_get_interface_description },
        { "io.snpseal.Agent.GetStatus",                  PARAMS(NULL), method_get_status },
        { "io.snpseal.Agent.DeriveKey",  PARAMS("binding", "salt", "purpose", "pin", "expect"), method_derive_key,
          true },
        { "io.snpseal.Agent.Seal",       PARAMS("purpose", "binding", "data", "password", "force"), method_seal },
        { "io.snpseal.Agent.Unseal",     PARAMS("sealed", "password"), method_unseal },
        { "io.snpseal.Agent.GetReport",  PARAMS("report_data", "vmpl", "certificates"), method_get_report },
        { "io.snpseal.Agent.StoreUserSecret",
          PARAMS("name", "uid", "data", "password", "replace"), method_store_user_secret },
        { "io.snpseal.Agent.ListUserSecrets",  PARAMS("uid"), method_list_user_secrets },
        { "io.snpseal.Agent.RemoveUserSecret", PARAMS("name", "uid"), method_remove_user_secret },
        { "io.snpseal.Agent.UnsealUserSecret", PARAMS("name", "uid", "password"), method_unseal_user_secret },
        { "io.snpseal.Agent.RewrapUserSecret",
          PARAMS("name", "uid", "old_password", "new_password"), method_rewrap_user_secret },
};

static const struct method *method_find(const char *name) {
        for (size_t i = 0; name && i < ELEMENTSOF(methods); i++)
                if (strcmp(name, methods[i].name) == 0)
                        return &methods[i];
        return NULL;
}

static bool method_takes(const struct method *m, const char *key) {
        for (const char *const *p = m->params; *p; p++)
                if (strcmp(*p, key) == 0)
                        return true;
        return false;
}

/* Refuse parameters the method does not take. */
static int check_unknown_params(struct call *c, const struct method *m) {
        bool service = strncmp(m->name, VARLINK_INTERFACE_SERVICE ".", strlen(VARLINK_INTERFACE_SERVICE) + 1) == 0;
        struct json_object_iterator it = json_object_iter_begin(c->params);
        struct json_object_iterator end = json_object_iter_end(c->params);
        int r;

        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                const char *key = json_object_iter_peek_name(&it);

                if (method_takes(m, key))
                        continue;
                if (!service)
                        return PARAM_FAIL(c, key, "unknown parameter \"%.64s\" for %s", key, m->name);
                r = reply_new(c->reply, VARLINK_ERROR_INVALID_PARAMETER);
                if (r >= 0)
                        r = reply_set(c->reply, "parameter", json_object_new_string(key));
                return param_fail(r);
        }
        return 0;
}

static int method_not_found(struct call *c, const char *method) {
        int r = reply_new(c->reply, VARLINK_ERROR_METHOD_NOT_FOUND);

        if (r >= 0)
                r = reply_set(c->reply, "method", json_object_new_string(method ?: ""));
        return r;
}

/* Run m's call (m NULL: not found); r as agent_dispatch returns it, before
 * logging. */
static int dispatch_method(struct call *c, const struct method *m, const char *method) {
        int r;

        if (!m)
                r = method_not_found(c, method);
        else if (!json_object_is_type(c->params, json_type_object))
                r = PARAM_FAIL(c, "parameters", "the parameters of %s must be an object", m->name);
        else {
                r = check_unknown_params(c, m);
                if (r >= 0)
                        r = m->call(c);
        }
        if (r < 0 && c->reply->error)
                r = 0;          /* handled: the reply says what went wrong */
        if (r < 0)
                agent_reply_done(c->reply);
        return r < 0 ? -ENOMEM : 0;
}

static void dispatch_log(const struct call *c, const char *method, int r) {
        agent_log_call(method ?: "", c->purpose[0] ? c->purpose : NULL, c->peer,
                       r < 0 ? "out of memory" : c->reply->error ?: "ok");
}

int agent_dispatch(struct agent *a, const struct agent_peer *peer, const char *method,
                   json_object *parameters, struct agent_reply *reply) {
        struct call c = { .a = a, .peer = peer, .params = parameters, .reply = reply };
        int r;

        *reply = (struct agent_reply) {};
        r = dispatch_method(&c, method_find(method), method);
        dispatch_log(&c, method, r);
        return r;
}

int agent_dispatch_no_wait(struct agent *a, const struct agent_peer *peer, const char *method,
                           json_object *parameters, struct agent_reply *reply) {
        struct call c = { .a = a, .peer = peer, .params = parameters, .reply = reply };
        const struct method *m = method_find(method);
        int r;

        if (!m || !m->no_wait)
                return -EWOULDBLOCK;
        *reply = (struct agent_reply) {};
        snp_backend_no_wait_begin();
        r = dispatch_method(&c, m, method);
        if (snp_backend_no_wait_end()) {
                /* not answered: the call runs again, from the start, where it may wait */
                agent_reply_done(reply);
                return -EWOULDBLOCK;
        }
        dispatch_log(&c, method, r);
        return r;
}

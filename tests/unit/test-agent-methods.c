/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The agent's methods driven through agent_dispatch() directly, on a
 * simulator backend over a temporary state file (reloaded per request, so a
 * test changes the simulated VM by saving the state again).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "agent.h"
#include "base64.h"
#include "hexutil.h"
#include "json-util.h"
#include "sealed.h"
#include "secret.h"
#include "sim-state.h"

#define ROOT 0
#define USER 1000
#define ATTEMPTS 3
#define WINDOW_SEC 60

/* 32 zero bytes and 32 bytes of 0x01, base64 */
#define SALT_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define SALT_B "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define DATA_B64 "c2VjcmV0IGRhdGE="              /* "secret data" */

struct fixture {
        char dir[64];
        char state_path[128];
        char store[128];
        struct sim_state sim;
        struct agent a;
        uint64_t now_usec;
};

static uint64_t fake_clock(void *userdata) {
        return ((struct fixture *) userdata)->now_usec;
}

static void save_state(struct fixture *f) {
        assert_int_equal(sim_state_save(f->state_path, &f->sim), 0);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct snp_error err = {};

        assert_non_null(f);
        (void) snprintf(f->dir, sizeof(f->dir), "/tmp/test-agent-methods.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        (void) snprintf(f->state_path, sizeof(f->state_path), "%s/sim.json", f->dir);
        (void) snprintf(f->store, sizeof(f->store), "%s/users", f->dir);
        f->a.cfg.user_store = f->store;
        assert_int_equal(sim_state_init(&f->sim), 0);
        save_state(f);
        assert_int_equal(snp_backend_simulator_open(f->state_path, &f->a.backend, &err), 0);
        f->a.backend_name = "simulator";
        assert_int_equal(agent_ratelimit_new(ATTEMPTS, WINDOW_SEC, &f->a.ratelimit), 0);
        f->now_usec = UINT64_C(1000000000);
        agent_ratelimit_set_clock(f->a.ratelimit, fake_clock, f);
        sealed_set_scrypt_cost(1024, 8, 1);
        *state = f;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP)
                (void) chmod(path, 0700);
        return remove(path) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        snp_backend_free(f->a.backend);
        agent_ratelimit_free(f->a.ratelimit);
        (void) nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        sim_state_wipe(&f->sim);
        free(f);
        return 0;
}

/* ---- calling ---- */

/* Dispatch; params is consumed. The reply's parameters are returned (owned). */
static json_object *call_obj(struct fixture *f, uid_t uid, const char *method, json_object *params,
                             const char **ret_error) {
        struct agent_peer peer = { .uid = uid, .gid = uid, .pid = 4242 };
        struct agent_reply reply;

        assert_non_null(params);
        assert_int_equal(agent_dispatch(&f->a, &peer, method, params, &reply), 0);
        json_object_put(params);
        assert_non_null(reply.parameters);
        *ret_error = reply.error;
        return reply.parameters;
}

static json_object *parse(const char *text) {
        json_object *o = json_tokener_parse(text);

        if (!o)
                fail_msg("test bug: bad JSON %s", text);
        return o;
}

static json_object *call_ok_obj(struct fixture *f, uid_t uid, const char *method, json_object *params) {
        const char *error;
        json_object *r = call_obj(f, uid, method, params, &error);

        if (error)
                fail_msg("%s: unexpected %s: %s", method, error, json_object_to_json_string(r));
        return r;
}

static json_object *call_ok(struct fixture *f, uid_t uid, const char *method, const char *params) {
        return call_ok_obj(f, uid, method, parse(params));
}

/* Expect error with a message containing msg (NULL: not checked). Returns the parameters. */
static json_object *call_err_obj(struct fixture *f, uid_t uid, const char *method, json_object *params,
                                 const char *error, const char *msg) {
        const char *got;
        json_object *r = call_obj(f, uid, method, params, &got), *m;

        if (!got || strcmp(got, error) != 0)
                fail_msg("%s: expected %s, got %s: %s", method, error, got ?: "success",
                         json_object_to_json_string(r));
        if (msg) {
                assert_true(json_object_object_get_ex(r, "message", &m));
                if (!strstr(json_object_get_string(m), msg))
                        fail_msg("%s: message \"%s\" lacks \"%s\"", method, json_object_get_string(m), msg);
        }
        return r;
}

static json_object *call_err(struct fixture *f, uid_t uid, const char *method, const char *params,
                             const char *error, const char *msg) {
        return call_err_obj(f, uid, method, parse(params), error, msg);
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                fail_msg("no string \"%s\" in %s", key, json_object_to_json_string(o));
        return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                fail_msg("no integer \"%s\" in %s", key, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static json_object *get_obj(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
        return v;
}

/* DeriveKey with the default-shaped binding of the fixture's VM. */
static char *derive_params(struct fixture *f, const char *purpose, const char *salt, const char *extra,
                           uint64_t tcb) {
        char hex[TCB_HEX_LEN + 1], *s;

        tcb_to_hex(tcb ? tcb : f->sim.committed_tcb, hex);
        assert_true(asprintf(&s, "{\"binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"policy\","
                             "\"tcb_version\"],\"vmpl\":0,\"guest_svn\":%" PRIu32 ",\"tcb_version\":\"%s\"},"
                             "\"salt\":\"%s\",\"purpose\":\"%s\"%s}",
                             f->sim.guest_svn, hex, salt, purpose, extra ?: "") > 0);
        return s;
}

/* The key of a DeriveKey reply, or the error name. */
static char *derive(struct fixture *f, uid_t uid, const char *purpose, const char *salt, const char *extra) {
        _cleanup_(freep) char *p = derive_params(f, purpose, salt, extra, 0);
        const char *error;
        json_object *r = call_obj(f, uid, "io.snpseal.Agent.DeriveKey", parse(p), &error);
        char *key = strdup(error ?: get_str(r, "key"));

        json_object_put(r);
        assert_non_null(key);
        return key;
}

/* ---- org.varlink.service ---- */

static void test_get_info(void **state) {
        json_object *r = call_ok(*state, USER, "org.varlink.service.GetInfo", "{}"), *list;

        assert_string_equal(get_str(r, "vendor"), "snpseal");
        assert_string_equal(get_str(r, "product"), "snpseald");
        assert_string_equal(get_str(r, "version"), PACKAGE_VERSION);
        assert_string_equal(get_str(r, "url"), "");
        list = get_obj(r, "interfaces");
        assert_int_equal(json_object_array_length(list), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(list, 0)), "org.varlink.service");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(list, 1)), "io.snpseal.Agent");
        json_object_put(r);
}

static void test_interface_description(void **state) {
        static const struct {
                const char *interface;
                const char *contains;
        } table[] = {
                { "io.snpseal.Agent", "interface io.snpseal.Agent\n" },
                { "io.snpseal.Agent", "method DeriveKey(" },
                { "io.snpseal.Agent", "error IdentityMismatch (" },
                { "org.varlink.service", "interface org.varlink.service\n" },
        };
        json_object *r;
        char params[128];

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                (void) snprintf(params, sizeof(params), "{\"interface\":\"%s\"}", table[i].interface);
                r = call_ok(*state, USER, "org.varlink.service.GetInterfaceDescription", params);
                assert_non_null(strstr(get_str(r, "description"), table[i].contains));
                json_object_put(r);
        }
        assert_string_equal(agent_interface_description + strlen(agent_interface_description) - 1, "\n");

        r = call_err(*state, USER, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"x.y\"}",
                     "org.varlink.service.InterfaceNotFound", NULL);
        assert_string_equal(get_str(r, "interface"), "x.y");
        json_object_put(r);
        r = call_err(*state, USER, "org.varlink.service.GetInterfaceDescription", "{}",
                     "org.varlink.service.InvalidParameter", NULL);
        assert_string_equal(get_str(r, "parameter"), "interface");
        json_object_put(r);
        r = call_err(*state, USER, "org.varlink.service.GetInfo", "{\"x\":1}",
                     "org.varlink.service.InvalidParameter", NULL);
        assert_string_equal(get_str(r, "parameter"), "x");
        json_object_put(r);
}

static void test_method_not_found(void **state) {
        static const char *const names[] = {
                "io.snpseal.Agent.Nope", "org.varlink.service.Nope", "com.example.Foo", "io.snpseal.Agent.getstatus",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                json_object *r = call_err(*state, ROOT, names[i], "{}", "org.varlink.service.MethodNotFound", NULL);

                assert_string_equal(get_str(r, "method"), names[i]);
                json_object_put(r);
        }
}

/* ---- GetStatus ---- */

static void test_get_status(void **state) {
        struct fixture *f = *state;
        static const char *const keys[] = {
                "backend", "vmpl", "measurement", "policy", "policy_flags", "family_id", "image_id", "guest_svn",
                "launch_tcb", "committed_tcb", "current_tcb", "reported_tcb", "tcb_decoded", "platform_info",
                "version",
        };
        json_object *r = call_ok(f, USER, "io.snpseal.Agent.GetStatus", "{}"), *dec;
        char hex[2 * 48 + 1], tcb[TCB_HEX_LEN + 1], policy[32];

        assert_int_equal(json_object_object_length(r), ELEMENTSOF(keys));
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                (void) get_obj(r, keys[i]);
        assert_string_equal(get_str(r, "backend"), "simulator");
        assert_int_equal(get_int(r, "vmpl"), 0);
        hex_encode(f->sim.measurement, sizeof(f->sim.measurement), hex);
        assert_string_equal(get_str(r, "measurement"), hex);
        (void) snprintf(policy, sizeof(policy), "0x%016" PRIx64, f->sim.policy);
        assert_string_equal(get_str(r, "policy"), policy);
        assert_string_equal(get_str(get_obj(r, "policy_flags"), "raw"), policy);
        assert_int_equal(get_int(r, "guest_svn"), f->sim.guest_svn);
        tcb_to_hex(f->sim.committed_tcb, tcb);
        assert_string_equal(get_str(r, "committed_tcb"), tcb);
        tcb_to_hex(f->sim.reported_tcb, tcb);
        assert_string_equal(get_str(r, "reported_tcb"), tcb);
        dec = get_obj(r, "tcb_decoded");
        assert_int_equal(json_object_object_length(dec), 4);
        assert_string_equal(get_str(get_obj(dec, "reported"), "raw"), tcb);
        assert_string_equal(get_str(get_obj(dec, "launch"), "layout"), "milan-genoa");
        (void) get_obj(get_obj(r, "platform_info"), "smt_enabled");
        assert_string_equal(get_str(r, "version"), PACKAGE_VERSION);
        json_object_put(r);
}

/* ---- parameter validation ---- */

/* tmpl with its "%s" (if any) replaced by value. */
static char *subst(const char *tmpl, const char *value) {
        const char *at = strstr(tmpl, "%s");
        char *s;

        if (!at)
                return strdup(tmpl);
        assert_true(asprintf(&s, "%.*s%s%s", (int) (at - tmpl), tmpl, value, at + 2) > 0);
        return s;
}

static void test_invalid_parameters(void **state) {
        struct fixture *f = *state;
        static const struct {
                const char *method;
                const char *params;      /* "%s" = a valid binding */
                const char *parameter;
                const char *message;
        } table[] = {
                { "GetStatus", "{\"x\":1}", "x", "unknown parameter \"x\"" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\",\"purpose\":\"luks2\",\"extra\":1}", "extra",
                  "unknown parameter" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\"}", "purpose", "missing parameter \"purpose\"" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\",\"purpose\":7}", "purpose", "must be a string" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\",\"purpose\":\"../x\"}", "purpose", "invalid purpose" },
                { "DeriveKey", "{\"salt\":\"" SALT_A "\",\"purpose\":\"luks2\"}", "binding", "missing parameter" },
                { "DeriveKey", "{\"binding\":{\"root_key\":\"xyz\"},\"salt\":\"" SALT_A "\",\"purpose\":\"luks2\"}",
                  "binding", "binding:" },
                { "DeriveKey", "{%s,\"purpose\":\"luks2\"}", "salt", "missing parameter \"salt\"" },
                { "DeriveKey", "{%s,\"salt\":\"AAAA\",\"purpose\":\"luks2\"}", "salt", "base64 of 32 bytes" },
                { "DeriveKey", "{%s,\"salt\":\"!!!!\",\"purpose\":\"luks2\"}", "salt", "base64 of 32 bytes" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\",\"purpose\":\"luks2\",\"pin\":\"\"}", "pin",
                  "must not be empty" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\",\"purpose\":\"luks2\",\"pin\":\"a\\u0000b\"}", "pin",
                  "NUL" },
                { "DeriveKey", "{%s,\"salt\":\"" SALT_A "\",\"purpose\":\"luks2\",\"expect\":\"x\"}", "expect",
                  "identity object" },
                { "Seal", "{\"purpose\":\"luks2\"}", "data", "missing parameter \"data\"" },
                { "Seal", "{\"purpose\":\"luks2\",\"data\":\"\"}", "data", "must not be empty" },
                { "Seal", "{\"purpose\":\"luks2\",\"data\":\"abc\"}", "data", "must be base64" },
                { "Seal", "{\"purpose\":\"luks2\",\"data\":\"" DATA_B64 "\",\"force\":1}", "force",
                  "must be a boolean" },
                { "Seal", "{\"purpose\":\"luks2\",\"data\":\"" DATA_B64 "\",\"password\":\"\"}", "password",
                  "must not be empty" },
                { "Unseal", "{}", "sealed", "missing parameter \"sealed\"" },
                { "Unseal", "{\"sealed\":{}}", "sealed", "must be a string" },
                { "Unseal", "{\"sealed\":\"not json\"}", "sealed", "malformed sealed object" },
                { "GetReport", "{\"report_data\":\"abc\"}", "report_data", "even number of hex digits" },
                { "GetReport", "{\"report_data\":\"zz\"}", "report_data", "even number of hex digits" },
                { "GetReport", "{\"vmpl\":4}", "vmpl", "integer 0..3" },
                { "GetReport", "{\"vmpl\":\"1\"}", "vmpl", "integer 0..3" },
                { "GetReport", "{\"certificates\":1}", "certificates", "must be a boolean" },
        };
        char binding[256], tcb[TCB_HEX_LEN + 1], method[64];

        tcb_to_hex(f->sim.committed_tcb, tcb);
        (void) snprintf(binding, sizeof(binding), "\"binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\"],"
                        "\"vmpl\":0,\"guest_svn\":0,\"tcb_version\":\"%s\"}", tcb);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(freep) char *params = subst(table[i].params, binding);
                json_object *r;

                assert_non_null(params);
                (void) snprintf(method, sizeof(method), "io.snpseal.Agent.%s", table[i].method);
                r = call_err(f, ROOT, method, params, AGENT_ERROR_INVALID_PARAMETER, table[i].message);
                assert_string_equal(get_str(r, "parameter"), table[i].parameter);
                json_object_put(r);
        }
}

static void test_long_parameters(void **state) {
        struct fixture *f = *state;
        size_t n = base64_encoded_len(SEALED_DATA_MAX + 3);
        _cleanup_(freep) char *data = malloc(n + 1), *pin = malloc(KDF_PIN_MAX + 2);
        _cleanup_(freep) char *report_data = NULL;
        json_object *p, *r;

        assert_non_null(data);
        assert_non_null(pin);
        memset(data, 'A', n);
        data[n] = '\0';
        p = parse("{\"purpose\":\"luks2\"}");
        json_object_object_add(p, "data", json_object_new_string(data));
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.Seal", p, AGENT_ERROR_INVALID_PARAMETER, "too long");
        json_object_put(r);

        memset(pin, 'p', KDF_PIN_MAX + 1);
        pin[KDF_PIN_MAX + 1] = '\0';
        _cleanup_(freep) char *dp = derive_params(f, "luks2", SALT_A, NULL, 0);
        p = parse(dp);
        json_object_object_add(p, "pin", json_object_new_string(pin));
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.DeriveKey", p, AGENT_ERROR_INVALID_PARAMETER, "too long");
        assert_string_equal(get_str(r, "parameter"), "pin");
        json_object_put(r);

        report_data = calloc(1, 2 * SNP_REPORT_DATA_LEN + 3);
        assert_non_null(report_data);
        memset(report_data, '0', 2 * SNP_REPORT_DATA_LEN + 2);
        p = json_object_new_object();
        json_object_object_add(p, "report_data", json_object_new_string(report_data));
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.GetReport", p, AGENT_ERROR_INVALID_PARAMETER, "too long");
        json_object_put(r);
}

/* ---- authorization ---- */

static void test_authorization(void **state) {
        struct fixture *f = *state;
        static const struct {
                uid_t uid;
                const char *purpose;
                bool allowed;
        } table[] = {
                { USER, "luks2", false },
                { USER, "cred/x", false },
                { USER, "user/0/x", false },
                { USER, "user/1001/x", false },
                { USER, "user/1000/x", true },
                { ROOT, "luks2", true },
                { ROOT, "cred/x", true },
                { ROOT, "user/1000/x", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(freep) char *key = derive(f, table[i].uid, table[i].purpose, SALT_A, NULL);
                _cleanup_(freep) char *seal = NULL;
                const char *error;
                json_object *r;

                if (table[i].allowed)
                        assert_int_equal(strlen(key), 44);
                else
                        assert_string_equal(key, AGENT_ERROR_NOT_PERMITTED);

                assert_true(asprintf(&seal, "{\"purpose\":\"%s\",\"data\":\"" DATA_B64 "\"}",
                                     table[i].purpose) > 0);
                r = call_obj(f, table[i].uid, "io.snpseal.Agent.Seal", parse(seal), &error);
                if (table[i].allowed)
                        assert_null(error);
                else {
                        assert_string_equal(error, AGENT_ERROR_NOT_PERMITTED);
                        assert_string_equal(get_str(r, "purpose"), table[i].purpose);
                        assert_non_null(strstr(get_str(r, "message"), "not permitted for uid 1000"));
                }
                json_object_put(r);
        }
}

static json_object *seal(struct fixture *f, uid_t uid, const char *purpose, const char *extra) {
        _cleanup_(freep) char *p = NULL;
        json_object *r, *s;

        assert_true(asprintf(&p, "{\"purpose\":\"%s\",\"data\":\"" DATA_B64 "\"%s}", purpose, extra ?: "") > 0);
        r = call_ok(f, uid, "io.snpseal.Agent.Seal", p);
        s = json_object_get(get_obj(r, "sealed"));
        json_object_put(r);
        return s;
}

static json_object *unseal_params(json_object *sealed, const char *password) {
        json_object *p = json_object_new_object();

        json_object_object_add(p, "sealed", json_object_get(sealed));
        if (password)
                json_object_object_add(p, "password", json_object_new_string(password));
        return p;
}

static void test_unseal_authorization(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, ROOT, "cred/db", NULL), *r;

        r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, NULL), AGENT_ERROR_NOT_PERMITTED,
                         "purpose \"cred/db\" is not permitted for uid 1000");
        json_object_put(r);
        r = call_ok_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, NULL));
        assert_string_equal(get_str(r, "data"), DATA_B64);
        json_object_put(r);
        json_object_put(s);
}

/* ---- DeriveKey ---- */

static void test_derive_key(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *k1 = derive(f, ROOT, "luks2", SALT_A, NULL);
        _cleanup_(freep) char *k2 = derive(f, ROOT, "luks2", SALT_A, NULL);
        _cleanup_(freep) char *k_purpose = derive(f, ROOT, "cred/x", SALT_A, NULL);
        _cleanup_(freep) char *k_salt = derive(f, ROOT, "luks2", SALT_B, NULL);
        _cleanup_(freep) char *k_pin = derive(f, ROOT, "luks2", SALT_A, ",\"pin\":\"1234\"");
        _cleanup_(freep) char *k_pin2 = derive(f, ROOT, "luks2", SALT_A, ",\"pin\":\"1235\"");
        _cleanup_(freep) char *p = derive_params(f, "luks2", SALT_A, NULL, 0);
        uint8_t key[33];
        size_t n;
        char hex[2 * 48 + 1];
        json_object *r, *id;

        assert_int_equal(base64_decode(k1, strlen(k1), key, sizeof(key), &n), 0);
        assert_int_equal(n, 32);
        assert_string_equal(k1, k2);
        assert_string_not_equal(k1, k_purpose);
        assert_string_not_equal(k1, k_salt);
        assert_string_not_equal(k1, k_pin);
        assert_string_not_equal(k_pin, k_pin2);

        r = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", p);
        id = get_obj(r, "identity");
        hex_encode(f->sim.measurement, sizeof(f->sim.measurement), hex);
        assert_string_equal(get_str(id, "measurement"), hex);
        (void) get_str(id, "policy");
        (void) get_str(id, "tcb");
        assert_false(json_object_object_get_ex(id, "image_id", NULL));
        json_object_put(r);
}

/* agent_dispatch_no_wait(): -EWOULDBLOCK with nothing in the reply until
 * the launch report and the key are kept; then the same answer as
 * agent_dispatch(), every check included. */
static int no_wait(struct fixture *f, uid_t uid, const char *method, const char *params,
                   struct agent_reply *reply) {
        struct agent_peer peer = { .uid = uid, .gid = uid, .pid = 4242 };
        json_object *o = parse(params);
        int r = agent_dispatch_no_wait(&f->a, &peer, method, o, reply);

        json_object_put(o);
        if (r == -EWOULDBLOCK) {
                assert_null(reply->parameters);
                assert_null(reply->error);
        }
        return r;
}

static void test_derive_key_no_wait(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *p = derive_params(f, "luks2", SALT_A, NULL, 0);
        _cleanup_(freep) char *p_pin = derive_params(f, "luks2", SALT_A, ",\"pin\":\"1234\"", 0);
        _cleanup_(freep) char *p_cred = derive_params(f, "cred/x", SALT_B, NULL, 0);
        _cleanup_(freep) char *k1 = NULL, *k_pin = NULL;
        struct agent_reply reply;
        json_object *r, *m;
        char *expect;

        /* nothing kept yet; without a key cache the key always needs the firmware */
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", p, &reply), -EWOULDBLOCK);
        k1 = derive(f, ROOT, "luks2", SALT_A, NULL);
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", p, &reply), -EWOULDBLOCK);

        assert_int_equal(snp_backend_set_key_cache(f->a.backend, 60), 0);
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", p, &reply), -EWOULDBLOCK);
        free(k1);
        k1 = derive(f, ROOT, "luks2", SALT_A, NULL);
        k_pin = derive(f, ROOT, "luks2", SALT_A, ",\"pin\":\"1234\"");

        /* answered: the same keys, the MAC key too; other purposes and salts share the firmware key */
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", p, &reply), 0);
        assert_null(reply.error);
        assert_string_equal(get_str(reply.parameters, "key"), k1);
        (void) get_str(reply.parameters, "macKey");
        (void) get_obj(reply.parameters, "identity");
        agent_reply_done(&reply);
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", p_pin, &reply), 0);
        assert_string_equal(get_str(reply.parameters, "key"), k_pin);
        agent_reply_done(&reply);
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", p_cred, &reply), 0);
        assert_null(reply.error);
        agent_reply_done(&reply);

        /* the checks run: a user may not derive luks2 keys; malformed parameters */
        assert_int_equal(no_wait(f, USER, "io.snpseal.Agent.DeriveKey", p, &reply), 0);
        assert_string_equal(reply.error, AGENT_ERROR_NOT_PERMITTED);
        agent_reply_done(&reply);
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", "{\"purpose\":\"luks2\"}", &reply), 0);
        assert_string_equal(reply.error, AGENT_ERROR_INVALID_PARAMETER);
        agent_reply_done(&reply);

        /* an identity that does not match is re-checked against a fresh report: not here */
        assert_true(asprintf(&expect, "%.*s,\"expect\":{\"measurement\":\"%096d\"}}", (int) strlen(p) - 1, p, 0) > 0);
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.DeriveKey", expect, &reply), -EWOULDBLOCK);
        r = call_err(f, ROOT, "io.snpseal.Agent.DeriveKey", expect, AGENT_ERROR_IDENTITY_MISMATCH, NULL);
        assert_true(json_object_object_get_ex(r, "message", &m));
        json_object_put(r);
        free(expect);

        /* other methods are never tried */
        assert_int_equal(no_wait(f, ROOT, "io.snpseal.Agent.GetStatus", "{}", &reply), -EWOULDBLOCK);
        assert_int_equal(no_wait(f, ROOT, "org.varlink.service.GetInfo", "{}", &reply), -EWOULDBLOCK);
}

static void test_derive_key_expect(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *p = derive_params(f, "luks2", SALT_A, NULL, 0);
        _cleanup_(freep) char *key = NULL;
        json_object *r, *identity, *params, *diffs, *d;
        char hex[2 * 48 + 1];

        r = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", p);
        identity = json_object_get(get_obj(r, "identity"));
        key = strdup(get_str(r, "key"));
        json_object_put(r);

        /* unchanged VM: the expectation holds, same key */
        params = parse(p);
        json_object_object_add(params, "expect", json_object_get(identity));
        r = call_ok_obj(f, ROOT, "io.snpseal.Agent.DeriveKey", params);
        assert_string_equal(get_str(r, "key"), key);
        json_object_put(r);

        /* another image */
        hex_encode(f->sim.measurement, sizeof(f->sim.measurement), hex);
        f->sim.measurement[0] ^= 0xff;
        save_state(f);
        params = parse(p);
        json_object_object_add(params, "expect", json_object_get(identity));
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.DeriveKey", params, AGENT_ERROR_IDENTITY_MISMATCH,
                         "measurement changed: sealed to ");
        diffs = get_obj(r, "differences");
        assert_int_equal(json_object_array_length(diffs), 1);
        d = json_object_array_get_idx(diffs, 0);
        assert_string_equal(get_str(d, "field"), "measurement");
        assert_string_equal(get_str(d, "sealed"), hex);
        assert_string_not_equal(get_str(d, "current"), hex);
        json_object_put(r);

        /* without expect the firmware simply derives another key */
        r = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", p);
        assert_string_not_equal(get_str(r, "key"), key);
        json_object_put(r);
        json_object_put(identity);
}

static void test_derive_key_tcb_above_committed(void **state) {
        struct fixture *f = *state;
        uint64_t above = f->sim.committed_tcb + 1;      /* byte 0 one higher */
        _cleanup_(freep) char *p = derive_params(f, "luks2", SALT_A, NULL, above);
        char hex[TCB_HEX_LEN + 1];
        json_object *r, *d;

        r = call_err(f, ROOT, "io.snpseal.Agent.DeriveKey", p, AGENT_ERROR_IDENTITY_MISMATCH,
                     "firmware older than the sealed TCB: sealed to ");
        d = json_object_array_get_idx(get_obj(r, "differences"), 0);
        assert_string_equal(get_str(d, "field"), "tcb_version");
        tcb_to_hex(f->sim.committed_tcb, hex);
        assert_string_equal(get_str(d, "current"), hex);
        json_object_put(r);
}

/* ---- Seal / Unseal ---- */

static void test_seal_unseal(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, USER, "user/1000/mail", NULL), *r, *obj;

        /* the sealed text is a sealed object of the purpose */
        obj = parse(json_object_get_string(s));
        assert_string_equal(get_str(obj, "purpose"), "user/1000/mail");
        assert_string_equal(get_str(get_obj(obj, "binding"), "root_key"), "vcek");
        json_object_put(obj);

        r = call_ok_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, NULL));
        assert_string_equal(get_str(r, "data"), DATA_B64);
        json_object_put(r);
        json_object_put(s);
}

static void test_seal_binding(void **state) {
        struct fixture *f = *state;
        char tcb[TCB_HEX_LEN + 1], extra[512];
        static const struct {
                const char *root_key;
                const char *fields;
                const char *floor;      /* refused by the floor, forced or not */
                const char *message;    /* with allow_weak_bindings, refused unless forced */
        } table[] = {
                { "vmrk", "\"measurement\",\"policy\",\"tcb_version\"", "derives from vmrk, not vcek or vlek", "VMRK" },
                { "vcek", "\"policy\",\"tcb_version\"", "does not bind measurement", "without measurement" },
                { "vcek", "\"measurement\",\"policy\"", "does not bind tcb_version", "without tcb_version" },
        };
        json_object *s, *r;

        tcb_to_hex(f->sim.committed_tcb, tcb);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(freep) char *p = NULL, *pf = NULL;

                (void) snprintf(extra, sizeof(extra), ",\"binding\":{\"root_key\":\"%s\",\"fields\":[%s],\"vmpl\":0,"
                                "\"guest_svn\":0,\"tcb_version\":\"%s\"}", table[i].root_key, table[i].fields, tcb);
                assert_true(asprintf(&p, "{\"purpose\":\"luks2\",\"data\":\"" DATA_B64 "\"%s}", extra) > 0);
                assert_true(asprintf(&pf, "{\"purpose\":\"luks2\",\"data\":\"" DATA_B64 "\"%s,\"force\":true}",
                                     extra) > 0);
                f->a.cfg.allow_weak_bindings = false;
                r = call_err(f, ROOT, "io.snpseal.Agent.Seal", p, AGENT_ERROR_INVALID_PARAMETER, table[i].floor);
                assert_string_equal(get_str(r, "parameter"), "binding");
                json_object_put(r);
                /* force is a client's parameter: it never lowers the floor */
                json_object_put(call_err(f, ROOT, "io.snpseal.Agent.Seal", pf, AGENT_ERROR_INVALID_PARAMETER,
                                         "allow_weak_bindings"));

                /* the administrator's allow_weak_bindings: the old rule, --force */
                f->a.cfg.allow_weak_bindings = true;
                r = call_err(f, ROOT, "io.snpseal.Agent.Seal", p, AGENT_ERROR_INVALID_PARAMETER, table[i].message);
                json_object_put(r);
                strcat(extra, ",\"force\":true");
                s = seal(f, ROOT, "luks2", extra);
                r = call_ok_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, NULL));
                assert_string_equal(get_str(r, "data"), DATA_B64);
                json_object_put(r);

                /* ... and without it again, the object does not open: the
                 * floor holds where keys are used */
                f->a.cfg.allow_weak_bindings = false;
                json_object_put(call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, NULL),
                                             AGENT_ERROR_NOT_PERMITTED, table[i].floor));
                json_object_put(s);
        }
}

/* A host-made token names a binding that any guest on the chip can derive:
 * no luks2 or cred/ key below the floor, whatever the client sends. */
static void test_derive_key_floor(void **state) {
        struct fixture *f = *state;
        char tcb[TCB_HEX_LEN + 1], *p;
        static const char *const weak[] = {
                "\"root_key\":\"vcek\",\"fields\":[]",
                "\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"tcb_version\"]",
                "\"root_key\":\"vcek\",\"fields\":[\"policy\",\"tcb_version\",\"image_id\",\"family_id\"]",
                "\"root_key\":\"vmrk\",\"fields\":[\"measurement\",\"policy\",\"tcb_version\"]",
        };
        static const char *const purposes[] = { "luks2", "cred/db" };
        json_object *r;

        tcb_to_hex(f->sim.committed_tcb, tcb);
        for (size_t i = 0; i < ELEMENTSOF(weak); i++)
                for (size_t j = 0; j < ELEMENTSOF(purposes); j++) {
                        assert_true(asprintf(&p, "{\"binding\":{%s,\"vmpl\":0,\"guest_svn\":0,\"tcb_version\":\"%s\"},"
                                             "\"salt\":\"%s\",\"purpose\":\"%s\"}", weak[i], tcb,
                                             SALT_A, purposes[j]) > 0);
                        f->a.cfg.allow_weak_bindings = false;
                        r = call_err(f, ROOT, "io.snpseal.Agent.DeriveKey", p, AGENT_ERROR_NOT_PERMITTED,
                                     "refused (only allow_weak_bindings = yes in snpseald.conf allows it)");
                        json_object_put(r);
                        f->a.cfg.allow_weak_bindings = true;
                        json_object_put(call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", p));
                        free(p);
                }
        f->a.cfg.allow_weak_bindings = false;
        /* user/… keys are the caller's own: no floor */
        assert_true(asprintf(&p, "{\"binding\":{%s,\"vmpl\":0,\"guest_svn\":0,\"tcb_version\":\"%s\"},"
                             "\"salt\":\"%s\",\"purpose\":\"user/%u/x\"}", weak[0], tcb, SALT_A, (unsigned) USER) > 0);
        json_object_put(call_ok(f, USER, "io.snpseal.Agent.DeriveKey", p));
        free(p);
}

/* luks2 keys come with the header MAC key: another key from the same
 * firmware key, per salt, for luks2 only. */
static void test_derive_key_mac_key(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *pa = derive_params(f, "luks2", SALT_A, NULL, 0);
        _cleanup_(freep) char *pb = derive_params(f, "luks2", SALT_B, NULL, 0);
        _cleanup_(freep) char *pp = derive_params(f, "luks2", SALT_A, ",\"pin\":\"1234\"", 0);
        _cleanup_(freep) char *pc = derive_params(f, "cred/x", SALT_A, NULL, 0);
        json_object *a = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", pa);
        json_object *b = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", pb);
        json_object *pin = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", pp);
        json_object *c = call_ok(f, ROOT, "io.snpseal.Agent.DeriveKey", pc);
        uint8_t key[35];
        size_t n = 0;

        assert_int_equal(base64_decode(get_str(a, "macKey"), strlen(get_str(a, "macKey")), key, sizeof(key), &n), 0);
        assert_int_equal(n, 32);
        assert_string_not_equal(get_str(a, "macKey"), get_str(a, "key"));
        assert_string_not_equal(get_str(a, "macKey"), get_str(b, "macKey"));
        assert_string_equal(get_str(a, "macKey"), get_str(pin, "macKey"));   /* the header is checked before the PIN */
        assert_false(json_object_object_get_ex(c, "macKey", NULL));
        json_object_put(a);
        json_object_put(b);
        json_object_put(pin);
        json_object_put(c);
}

static void test_unseal_identity_mismatch(void **state) {
        struct fixture *f = *state;
        static const struct {
                const char *field;
                const char *message;
        } table[] = {
                { "measurement", "measurement changed: sealed to " },
                { "policy", "policy changed: sealed to 0x30000, running 0x30001" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct sim_state saved = f->sim;
                json_object *s = seal(f, ROOT, "cred/db", ",\"password\":\"pw\""), *r, *d;

                if (i == 0)
                        f->sim.measurement[47] ^= 1;
                else
                        f->sim.policy |= 1;
                save_state(f);
                /* with the right password: still the VM that differs */
                r = call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, "pw"),
                                 AGENT_ERROR_IDENTITY_MISMATCH, table[i].message);
                d = json_object_array_get_idx(get_obj(r, "differences"), 0);
                assert_string_equal(get_str(d, "field"), table[i].field);
                json_object_put(r);

                f->sim = saved;
                save_state(f);
                r = call_ok_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, "pw"));
                json_object_put(r);
                json_object_put(s);
        }
}

static void test_unseal_tcb_above_committed(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, ROOT, "cred/db", NULL), *r;

        /* firmware rolled back: committed below the sealed TCB (byte 0) */
        f->sim.committed_tcb -= 1;
        f->sim.current_tcb = f->sim.reported_tcb = f->sim.launch_tcb = f->sim.committed_tcb;
        save_state(f);
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, NULL), AGENT_ERROR_IDENTITY_MISMATCH,
                         "firmware older than the sealed TCB");
        json_object_put(r);
        json_object_put(s);
}

static void test_unseal_newer_firmware(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, ROOT, "cred/db", NULL), *r;

        /* firmware updated: the old object still opens */
        f->sim.committed_tcb += 1;
        f->sim.current_tcb = f->sim.reported_tcb = f->sim.committed_tcb;
        save_state(f);
        r = call_ok_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, NULL));
        assert_string_equal(get_str(r, "data"), DATA_B64);
        json_object_put(r);
        json_object_put(s);
}

static void test_unseal_other_machine(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, ROOT, "cred/db", NULL), *r;

        /* same image on another chip: identity equal, key differs */
        f->sim.chip_secret[0] ^= 1;
        save_state(f);
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, NULL), AGENT_ERROR_INVALID_PARAMETER,
                         "does not authenticate: it was modified, or sealed on another machine");
        assert_string_equal(get_str(r, "parameter"), "sealed");
        json_object_put(r);
        json_object_put(s);
}

static void test_unseal_tampered(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, ROOT, "cred/db", NULL), *obj, *r, *text;
        const char *ct;
        _cleanup_(freep) char *changed = NULL;

        obj = parse(json_object_get_string(s));
        ct = get_str(obj, "ciphertext");
        changed = strdup(ct);
        assert_non_null(changed);
        changed[0] = changed[0] == 'A' ? 'B' : 'A';
        json_object_object_add(obj, "ciphertext", json_object_new_string(changed));
        text = json_object_new_string(json_object_to_json_string(obj));
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(text, NULL),
                         AGENT_ERROR_INVALID_PARAMETER, "does not authenticate");
        json_object_put(r);
        json_object_put(text);

        json_object_object_add(obj, "format", json_object_new_int(99));
        text = json_object_new_string(json_object_to_json_string(obj));
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(text, NULL),
                         AGENT_ERROR_INVALID_PARAMETER, "unsupported sealed object format");
        json_object_put(r);
        json_object_put(text);
        json_object_put(obj);
        json_object_put(s);
}

static void test_password(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, USER, "user/1000/mail", ",\"password\":\"hunter2\""), *r;

        r = call_ok_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, "hunter2"));
        assert_string_equal(get_str(r, "data"), DATA_B64);
        json_object_put(r);
        r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, NULL), AGENT_ERROR_WRONG_PASSWORD,
                         "a password is required");
        json_object_put(r);
        r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, "hunter3"),
                         AGENT_ERROR_WRONG_PASSWORD, "wrong password");
        json_object_put(r);
        json_object_put(s);
}

static void test_rate_limit(void **state) {
        struct fixture *f = *state;
        json_object *s = seal(f, USER, "user/1000/mail", ",\"password\":\"hunter2\""), *r;

        for (unsigned i = 0; i < ATTEMPTS; i++) {
                r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, "nope"),
                                 AGENT_ERROR_WRONG_PASSWORD, "wrong password");
                json_object_put(r);
        }
        /* limited, even with the right password */
        f->now_usec += 10 * UINT64_C(1000000);
        r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, "hunter2"), AGENT_ERROR_RATE_LIMITED,
                         "too many wrong passwords for uid 1000");
        assert_int_equal(get_int(r, "retry_after_sec"), WINDOW_SEC - 10);
        json_object_put(r);
        /* root is another uid */
        r = call_err_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(s, "nope"), AGENT_ERROR_WRONG_PASSWORD,
                         "wrong password");
        json_object_put(r);
        /* the window passes */
        f->now_usec += (WINDOW_SEC - 10) * UINT64_C(1000000);
        r = call_ok_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(s, "hunter2"));
        json_object_put(r);
        json_object_put(s);
}

/* Finding 3 of issue 11: a success on a decoy object must not reset the
 * count of the object being guessed. */
static void test_rate_limit_decoy(void **state) {
        struct fixture *f = *state;
        json_object *target = seal(f, USER, "user/1000/login", ",\"password\":\"secret\"");
        json_object *decoy = seal(f, USER, "user/1000/login", ",\"password\":\"decoy\""), *r;
        unsigned wrong = 0, limited = 0;

        for (unsigned round = 0; round < 4; round++) {
                for (unsigned i = 0; i < ATTEMPTS - 1; i++) {
                        const char *e = NULL;

                        r = call_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(target, "guess"), &e);
                        if (e && strcmp(e, AGENT_ERROR_WRONG_PASSWORD) == 0)
                                wrong++;
                        else if (e && strcmp(e, AGENT_ERROR_RATE_LIMITED) == 0)
                                limited++;
                        else
                                fail_msg("unexpected reply to a guess: %s", e ?: "success");
                        json_object_put(r);
                }
                json_object_put(call_ok_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(decoy, "decoy")));
        }
        assert_int_equal(wrong, ATTEMPTS);
        assert_int_equal(limited, 4 * (ATTEMPTS - 1) - ATTEMPTS);
        r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(target, "secret"),
                         AGENT_ERROR_RATE_LIMITED, "too many wrong passwords for uid 1000 on \"user/1000/login\"");
        json_object_put(r);
        /* the target's own success (after the window) is what resets it */
        f->now_usec += WINDOW_SEC * UINT64_C(1000000);
        json_object_put(call_ok_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(target, "secret")));
        json_object_put(target);
        json_object_put(decoy);
}

/* ---- user secrets ---- */

#define OTHER 1001
#define NONE ((int64_t) -1)

/* Parameters of a user-secret call: name (NULL = none), uid (NONE = none),
 * then extra JSON members (",\"password\":\"x\"", or ""). */
static json_object *user_params(const char *name, int64_t uid, const char *extra) {
        _cleanup_(freep) char *s = NULL, *n = NULL, *u = NULL;

        assert_true(asprintf(&n, name ? "\"name\":\"%s\"" : "%s", name ?: "") >= 0);
        assert_true(asprintf(&u, uid != NONE ? "%s\"uid\":%" PRId64 : "%s", name ? "," : "", uid) >= 0);
        if (uid == NONE)
                u[0] = '\0';
        assert_true(asprintf(&s, "{%s%s%s}", n, u, extra ?: "") > 0);
        if (!name && uid == NONE && extra && extra[0] == ',')
                memmove(s + 1, s + 2, strlen(s + 1));
        return parse(s);
}

static json_object *user_ok(struct fixture *f, uid_t peer, const char *method, const char *name, int64_t uid,
                            const char *extra) {
        char m[64];

        (void) snprintf(m, sizeof(m), "io.snpseal.Agent.%s", method);
        return call_ok_obj(f, peer, m, user_params(name, uid, extra));
}

static json_object *user_err(struct fixture *f, uid_t peer, const char *method, const char *name, int64_t uid,
                             const char *extra, const char *error, const char *msg) {
        char m[64];

        (void) snprintf(m, sizeof(m), "io.snpseal.Agent.%s", method);
        return call_err_obj(f, peer, m, user_params(name, uid, extra), error, msg);
}

static void user_store_ok(struct fixture *f, uid_t peer, const char *name, int64_t uid, const char *extra) {
        _cleanup_(freep) char *e = NULL;

        assert_true(asprintf(&e, ",\"data\":\"" DATA_B64 "\"%s", extra ?: "") > 0);
        json_object_put(user_ok(f, peer, "StoreUserSecret", name, uid, e));
}

static void user_unseal_expect(struct fixture *f, uid_t peer, const char *name, int64_t uid, const char *extra,
                               bool password_layer) {
        json_object *r = user_ok(f, peer, "UnsealUserSecret", name, uid, extra), *v;

        assert_string_equal(get_str(r, "data"), DATA_B64);
        assert_true(json_object_object_get_ex(r, "password_layer", &v));
        assert_int_equal(json_object_get_boolean(v), password_layer);
        json_object_put(r);
}

static void expect_mode(const char *path, mode_t type, mode_t mode) {
        struct stat st;

        if (lstat(path, &st) < 0)
                fail_msg("%s: %m", path);
        assert_int_equal(st.st_mode & S_IFMT, type);
        assert_int_equal(st.st_mode & 07777, mode);
        assert_int_equal(st.st_uid, geteuid());
}

static void test_user_store_list_unseal_remove(void **state) {
        struct fixture *f = *state;
        char path[256];
        json_object *r, *list, *e, *v;

        r = user_ok(f, USER, "StoreUserSecret", "mail", NONE, ",\"data\":\"" DATA_B64 "\"");
        (void) snprintf(path, sizeof(path), "%s/1000/mail.sealed", f->store);
        assert_string_equal(get_str(r, "path"), path);
        json_object_put(r);
        expect_mode(f->store, S_IFDIR, 0755);
        (void) snprintf(path, sizeof(path), "%s/1000", f->store);
        expect_mode(path, S_IFDIR, 0700);
        (void) snprintf(path, sizeof(path), "%s/1000/mail.sealed", f->store);
        expect_mode(path, S_IFREG, 0600);

        user_unseal_expect(f, USER, "mail", NONE, NULL, false);
        user_unseal_expect(f, ROOT, "mail", USER, NULL, false);
        user_store_ok(f, USER, "a.b-c@d", USER, ",\"password\":\"pw\"");

        r = user_ok(f, USER, "ListUserSecrets", NULL, NONE, NULL);
        list = get_obj(r, "secrets");
        assert_int_equal(json_object_array_length(list), 2);
        e = json_object_array_get_idx(list, 0);
        assert_string_equal(get_str(e, "name"), "a.b-c@d");
        assert_true(json_object_object_get_ex(e, "password", &v) && json_object_get_boolean(v));
        e = json_object_array_get_idx(list, 1);
        assert_string_equal(get_str(e, "name"), "mail");
        assert_true(json_object_object_get_ex(e, "password", &v) && !json_object_get_boolean(v));
        assert_string_equal(get_str(get_obj(e, "binding"), "root_key"), "vcek");
        (void) get_str(get_obj(e, "identity"), "measurement");
        json_object_put(r);
        /* another uid has none */
        r = user_ok(f, ROOT, "ListUserSecrets", NULL, OTHER, NULL);
        assert_int_equal(json_object_array_length(get_obj(r, "secrets")), 0);
        json_object_put(r);

        json_object_put(user_ok(f, USER, "RemoveUserSecret", "mail", NONE, NULL));
        assert_int_equal(access(path, F_OK), -1);
        r = user_err(f, USER, "UnsealUserSecret", "mail", NONE, NULL, AGENT_ERROR_NO_SUCH_SECRET,
                     "no user secret \"mail\" for uid 1000");
        assert_string_equal(get_str(r, "name"), "mail");
        assert_int_equal(get_int(r, "uid"), USER);
        json_object_put(r);
        r = user_err(f, USER, "RemoveUserSecret", "mail", NONE, NULL, AGENT_ERROR_INVALID_PARAMETER,
                     "no such secret");
        assert_string_equal(get_str(r, "parameter"), "name");
        json_object_put(r);
        json_object_put(user_err(f, ROOT, "RewrapUserSecret", "mail", USER, NULL, AGENT_ERROR_NO_SUCH_SECRET,
                                 "no user secret \"mail\""));
        /* nothing stored at all for that uid: NoSuchSecret too */
        json_object_put(user_err(f, ROOT, "UnsealUserSecret", "x", OTHER, NULL, AGENT_ERROR_NO_SUCH_SECRET,
                                 "no user secret \"x\" for uid 1001"));
}

static void test_user_store_exists(void **state) {
        struct fixture *f = *state;
        json_object *r;

        user_store_ok(f, ROOT, "k", USER, ",\"password\":\"pw\"");
        r = user_err(f, ROOT, "StoreUserSecret", "k", USER, ",\"data\":\"" DATA_B64 "\"",
                     AGENT_ERROR_INVALID_PARAMETER, "user secret \"k\" of uid 1000 exists; set replace");
        assert_string_equal(get_str(r, "parameter"), "name");
        json_object_put(r);
        user_unseal_expect(f, USER, "k", NONE, ",\"password\":\"pw\"", true);
        user_store_ok(f, ROOT, "k", USER, ",\"replace\":true");
        user_unseal_expect(f, USER, "k", NONE, NULL, false);
}

static void test_user_authorization(void **state) {
        struct fixture *f = *state;
        static const struct {
                uid_t peer;
                int64_t uid;
                bool allowed;
        } table[] = {
                { USER, NONE, true },
                { USER, USER, true },
                { USER, ROOT, false },
                { USER, OTHER, false },
                { ROOT, NONE, true },
                { ROOT, ROOT, true },
                { ROOT, USER, true },
                { ROOT, OTHER, true },
        };
        static const struct {
                const char *method;
                const char *extra;
        } methods[] = {
                { "StoreUserSecret", ",\"data\":\"" DATA_B64 "\"" },
                { "ListUserSecrets", NULL },
                { "UnsealUserSecret", NULL },
                { "RewrapUserSecret", ",\"old_password\":\"x\",\"new_password\":\"y\"" },
                { "RemoveUserSecret", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                for (size_t j = 0; j < ELEMENTSOF(methods); j++) {
                        bool list = strcmp(methods[j].method, "ListUserSecrets") == 0;
                        const char *name = list ? NULL : "n";
                        char msg[128], purpose[64];
                        json_object *r;

                        if (table[i].allowed) {
                                r = user_ok(f, table[i].peer, methods[j].method, name, table[i].uid,
                                            methods[j].extra);
                                json_object_put(r);
                                continue;
                        }
                        (void) snprintf(msg, sizeof(msg), "uid %u may not use the user secrets of uid %" PRId64,
                                        (unsigned) table[i].peer, table[i].uid);
                        r = user_err(f, table[i].peer, methods[j].method, name, table[i].uid, methods[j].extra,
                                     AGENT_ERROR_NOT_PERMITTED, msg);
                        (void) snprintf(purpose, sizeof(purpose), list ? "user/%" PRId64 : "user/%" PRId64 "/n",
                                        table[i].uid);
                        assert_string_equal(get_str(r, "purpose"), purpose);
                        json_object_put(r);
                }
        /* the refused calls wrote nothing */
        json_object_put(user_err(f, ROOT, "UnsealUserSecret", "n", OTHER, NULL, AGENT_ERROR_NO_SUCH_SECRET, NULL));
}

static void test_user_rate_limit_by_target(void **state) {
        struct fixture *f = *state;
        json_object *r;

        user_store_ok(f, ROOT, "login", USER, ",\"password\":\"right\"");
        user_store_ok(f, ROOT, "login", OTHER, ",\"password\":\"right\"");
        r = user_err(f, ROOT, "UnsealUserSecret", "login", USER, NULL, AGENT_ERROR_WRONG_PASSWORD,
                     "a password is required");
        json_object_put(r);
        for (unsigned i = 0; i < ATTEMPTS; i++)
                json_object_put(user_err(f, ROOT, "UnsealUserSecret", "login", USER, ",\"password\":\"wrong\"",
                                         AGENT_ERROR_WRONG_PASSWORD, "wrong password"));
        r = user_err(f, ROOT, "UnsealUserSecret", "login", USER, ",\"password\":\"right\"",
                     AGENT_ERROR_RATE_LIMITED, "too many wrong passwords for uid 1000");
        assert_int_equal(get_int(r, "retry_after_sec"), WINDOW_SEC);
        json_object_put(r);
        /* the user itself is limited too: the count is the target's */
        json_object_put(user_err(f, USER, "UnsealUserSecret", "login", NONE, ",\"password\":\"right\"",
                                 AGENT_ERROR_RATE_LIMITED, "uid 1000"));
        /* root for another uid is not */
        json_object_put(user_err(f, ROOT, "UnsealUserSecret", "login", OTHER, ",\"password\":\"wrong\"",
                                 AGENT_ERROR_WRONG_PASSWORD, "wrong password"));
        user_unseal_expect(f, ROOT, "login", OTHER, ",\"password\":\"right\"", true);
        /* rewrap with an old password is limited the same way */
        json_object_put(user_err(f, USER, "RewrapUserSecret", "login", NONE,
                                 ",\"old_password\":\"right\",\"new_password\":\"new\"",
                                 AGENT_ERROR_RATE_LIMITED, "too many wrong passwords for uid 1000"));
        f->now_usec += WINDOW_SEC * UINT64_C(1000000);
        user_unseal_expect(f, USER, "login", NONE, ",\"password\":\"right\"", true);
}

static json_object *read_sealed_file(const char *path) {
        char buf[SEALED_TEXT_MAX + 1];
        FILE *fp = fopen(path, "re");
        size_t n;

        assert_non_null(fp);
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        return json_object_new_string(buf);
}

static unsigned file_format(const char *path) {
        json_object *t = read_sealed_file(path);
        struct sealed_object o;
        char err[256];
        unsigned format;

        assert_int_equal(sealed_parse(json_object_get_string(t), strlen(json_object_get_string(t)), &o, err,
                                      sizeof(err)), 0);
        format = o.format;
        sealed_object_done(&o);
        json_object_put(t);
        return format;
}

/* Issue 11, finding 1: format 1 objects (key shared with DeriveKey) open
 * from the root-owned store, are refused over the socket from a user, and
 * are written back as format 2. */
static void test_format1_migration(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *path = NULL;
        json_object *text, *r;

        assert_true(asprintf(&path, "%s/%u/login.sealed", f->store, USER) > 0);
        sealed_set_write_format(SEALED_FORMAT_V1);
        user_store_ok(f, ROOT, "login", USER, ",\"password\":\"pw\"");
        sealed_set_write_format(SEALED_FORMAT);
        assert_int_equal(file_format(path), 1);
        /* from the store: opens, for the user and for root */
        user_unseal_expect(f, USER, "login", NONE, ",\"password\":\"pw\"", true);
        user_unseal_expect(f, ROOT, "login", USER, ",\"password\":\"pw\"", true);
        /* the same object handed over the socket: only root */
        text = read_sealed_file(path);
        r = call_err_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(text, "pw"), AGENT_ERROR_INVALID_PARAMETER,
                         "sealed object format 1 is refused from uid 1000");
        assert_string_equal(get_str(r, "parameter"), "sealed");
        json_object_put(r);
        r = call_ok_obj(f, ROOT, "io.snpseal.Agent.Unseal", unseal_params(text, "pw"));
        assert_string_equal(get_str(r, "data"), DATA_B64);
        json_object_put(r);
        json_object_put(text);
        /* written back as format 2 by the next rewrap, and still opens */
        json_object_put(user_ok(f, USER, "RewrapUserSecret", "login", NONE,
                                ",\"old_password\":\"pw\",\"new_password\":\"pw2\""));
        assert_int_equal(file_format(path), 2);
        user_unseal_expect(f, USER, "login", NONE, ",\"password\":\"pw2\"", true);
        text = read_sealed_file(path);
        r = call_ok_obj(f, USER, "io.snpseal.Agent.Unseal", unseal_params(text, "pw2"));
        json_object_put(r);
        json_object_put(text);
        /* Seal writes format 2 */
        text = seal(f, USER, "user/1000/x", NULL);
        assert_non_null(strstr(json_object_get_string(text), "\"format\": 2"));
        json_object_put(text);
}

/* Issue 11, finding 4: a user cannot fill the store's file system. */
static void test_user_store_limits(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *big = NULL, *extra = NULL;
        char name[16];
        json_object *r;
        unsigned stored = 0;

        /* at most 64 secrets per uid */
        for (unsigned i = 0; i < 64; i++) {
                (void) snprintf(name, sizeof(name), "s%u", i);
                user_store_ok(f, USER, name, NONE, "");
        }
        r = user_err(f, USER, "StoreUserSecret", "one-more", NONE, ",\"data\":\"" DATA_B64 "\"",
                     AGENT_ERROR_STORE_FULL, "uid 1000 has 64 user secrets, the most the agent keeps per user");
        assert_int_equal(get_int(r, "uid"), USER);
        json_object_put(r);
        /* replacing one is not one more */
        user_store_ok(f, USER, "s0", NONE, ",\"replace\":true");
        /* root's own store is not limited */
        for (unsigned i = 0; i < 65; i++) {
                (void) snprintf(name, sizeof(name), "r%u", i);
                user_store_ok(f, ROOT, name, ROOT, "");
        }

        /* at most 1 MiB per uid: 32 KiB secrets (~44 KiB sealed) */
        big = malloc(44000);
        assert_non_null(big);
        memset(big, 'A', 43688);          /* base64 of 32766 bytes */
        big[43688] = '\0';
        assert_true(asprintf(&extra, ",\"data\":\"%s\"", big) > 0);
        for (unsigned i = 0; i < 40; i++) {
                const char *e = NULL;

                (void) snprintf(name, sizeof(name), "b%u", i);
                r = call_obj(f, OTHER, "io.snpseal.Agent.StoreUserSecret", user_params(name, NONE, extra), &e);
                if (e) {
                        assert_string_equal(e, AGENT_ERROR_STORE_FULL);
                        assert_non_null(strstr(get_str(r, "message"), "than the 1048576 bytes the agent keeps "
                                                                      "per user"));
                        json_object_put(r);
                        break;
                }
                json_object_put(r);
                stored++;
        }
        assert_true(stored >= 20 && stored < 24);
}

static void test_user_rewrap(void **state) {
        struct fixture *f = *state;
        json_object *r, *v;

        user_store_ok(f, USER, "k", NONE, ",\"password\":\"pw1\"");
        r = user_err(f, USER, "RewrapUserSecret", "k", NONE, ",\"new_password\":\"pw2\"",
                     AGENT_ERROR_NOT_PERMITTED, "only root may rewrap a user secret without its old password");
        assert_string_equal(get_str(r, "purpose"), "user/1000/k");
        json_object_put(r);
        json_object_put(user_err(f, USER, "RewrapUserSecret", "k", NONE,
                                 ",\"old_password\":\"nope\",\"new_password\":\"pw2\"",
                                 AGENT_ERROR_WRONG_PASSWORD, "wrong password"));
        json_object_put(user_ok(f, USER, "RewrapUserSecret", "k", NONE,
                                ",\"old_password\":\"pw1\",\"new_password\":\"pw2\""));
        user_unseal_expect(f, USER, "k", NONE, ",\"password\":\"pw2\"", true);
        json_object_put(user_err(f, USER, "UnsealUserSecret", "k", NONE, ",\"password\":\"pw1\"",
                                 AGENT_ERROR_WRONG_PASSWORD, "wrong password"));
        /* root, the password lost: from the VM layer */
        json_object_put(user_ok(f, ROOT, "RewrapUserSecret", "k", USER, ",\"new_password\":\"pw3\""));
        user_unseal_expect(f, USER, "k", NONE, ",\"password\":\"pw3\"", true);
        /* no new password: the password layer goes */
        json_object_put(user_ok(f, ROOT, "RewrapUserSecret", "k", USER, NULL));
        user_unseal_expect(f, USER, "k", NONE, NULL, false);
        r = user_ok(f, USER, "ListUserSecrets", NULL, NONE, NULL);
        v = json_object_array_get_idx(get_obj(r, "secrets"), 0);
        assert_true(json_object_object_get_ex(v, "password", &v) && !json_object_get_boolean(v));
        json_object_put(r);
        /* and a user adds one back to a VM-only object */
        json_object_put(user_ok(f, USER, "RewrapUserSecret", "k", NONE,
                                ",\"old_password\":\"unused\",\"new_password\":\"pw4\""));
        user_unseal_expect(f, USER, "k", NONE, ",\"password\":\"pw4\"", true);
        /* the VM changed: identity first, before any password */
        f->sim.measurement[0] ^= 1;
        save_state(f);
        json_object_put(user_err(f, ROOT, "RewrapUserSecret", "k", USER, NULL, AGENT_ERROR_IDENTITY_MISMATCH,
                                 "measurement changed"));
        json_object_put(user_err(f, USER, "UnsealUserSecret", "k", NONE, ",\"password\":\"pw4\"",
                                 AGENT_ERROR_IDENTITY_MISMATCH, "measurement changed"));
}

static char *slurp(const char *path) {
        FILE *fp = fopen(path, "re");
        char *buf = calloc(1, SEALED_TEXT_MAX + 1);

        assert_non_null(fp);
        assert_non_null(buf);
        assert_true(fread(buf, 1, SEALED_TEXT_MAX, fp) > 0);
        fclose(fp);
        return buf;
}

static void spit(const char *path, const char *text) {
        FILE *fp = fopen(path, "we");

        assert_non_null(fp);
        assert_int_equal(fputs(text, fp) >= 0, 1);
        assert_int_equal(fclose(fp), 0);
}

/* The bytes of regular files in uid's directory, as the agent counts them. */
static uint64_t user_dir_bytes(struct fixture *f, uid_t uid) {
        char path[512];
        struct dirent *de;
        uint64_t n = 0;
        DIR *d;

        (void) snprintf(path, sizeof(path), "%s/%u", f->store, (unsigned) uid);
        d = opendir(path);
        assert_non_null(d);
        while ((de = readdir(d))) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        n += (uint64_t) st.st_size;
        }
        closedir(d);
        return n;
}

/* A file of the uid's directory grown or shrunk by delta bytes (created). */
static void user_filler_add(struct fixture *f, uid_t uid, int64_t delta) {
        char path[512];
        struct stat st = {};
        int fd;

        (void) snprintf(path, sizeof(path), "%s/%u/.filler", f->store, (unsigned) uid);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(ftruncate(fd, st.st_size + delta), 0);
        close(fd);
}

/* A rewrap that grows the file is held to the store's limits (it was not:
 * a user at the byte limit could add password layers past it); one that
 * does not grow is never refused for space. */
static void test_user_rewrap_limits(void **state) {
        struct fixture *f = *state;
        const uint64_t limit = 1024 * 1024;
        _cleanup_(freep) char *before = NULL, *after = NULL;
        char path[512];
        uint64_t with_pw, without_pw;
        json_object *r;

        user_store_ok(f, USER, "k", NONE, ",\"password\":\"pw1\"");
        with_pw = user_dir_bytes(f, USER);
        /* 5 bytes below the limit */
        user_filler_add(f, USER, (int64_t) (limit - 5 - with_pw));
        assert_true(user_dir_bytes(f, USER) == limit - 5);
        /* a new password of the same length: the same size, allowed */
        json_object_put(user_ok(f, USER, "RewrapUserSecret", "k", NONE,
                                ",\"old_password\":\"pw1\",\"new_password\":\"pw2\""));
        assert_true(user_dir_bytes(f, USER) == limit - 5);
        /* the password layer removed: smaller, allowed */
        json_object_put(user_ok(f, ROOT, "RewrapUserSecret", "k", USER, NULL));
        without_pw = user_dir_bytes(f, USER);
        assert_true(without_pw < limit - 5);
        /* adding it back would end 5 bytes past the limit: refused, the file kept */
        user_filler_add(f, USER, 10);
        (void) snprintf(path, sizeof(path), "%s/1000/k.sealed", f->store);
        before = slurp(path);
        r = user_err(f, USER, "RewrapUserSecret", "k", NONE, ",\"old_password\":\"x\",\"new_password\":\"pw4\"",
                     AGENT_ERROR_STORE_FULL, "the user secrets of uid 1000 would take 1048581 bytes, more than the "
                     "1048576 bytes the agent keeps per user; remove some first (snpseal user remove)");
        assert_int_equal(get_int(r, "uid"), USER);
        json_object_put(r);
        after = slurp(path);
        assert_string_equal(before, after);
        user_unseal_expect(f, USER, "k", NONE, NULL, false);
        /* root is held to the same limits on the user's behalf */
        json_object_put(user_err(f, ROOT, "RewrapUserSecret", "k", USER, ",\"new_password\":\"pw4\"",
                                 AGENT_ERROR_STORE_FULL, "would take 1048581 bytes"));
        /* room again: it goes through */
        user_filler_add(f, USER, -10);
        json_object_put(user_ok(f, USER, "RewrapUserSecret", "k", NONE,
                                ",\"old_password\":\"x\",\"new_password\":\"pw4\""));
        assert_true(user_dir_bytes(f, USER) == limit - 5);
        user_unseal_expect(f, USER, "k", NONE, ",\"password\":\"pw4\"", true);
}

static void test_user_hostile_files(void **state) {
        struct fixture *f = *state;
        char path[256], target[256];
        _cleanup_(freep) char *text = NULL;
        json_object *r, *list;

        user_store_ok(f, ROOT, "a", USER, NULL);
        (void) snprintf(path, sizeof(path), "%s/1000/a.sealed", f->store);
        text = slurp(path);

        /* a symlink planted at the file path */
        (void) snprintf(target, sizeof(target), "%s/elsewhere.sealed", f->dir);
        spit(target, text);
        (void) snprintf(path, sizeof(path), "%s/1000/link.sealed", f->store);
        assert_int_equal(symlink(target, path), 0);
        json_object_put(user_err(f, USER, "UnsealUserSecret", "link", NONE, NULL, AGENT_ERROR_INVALID_PARAMETER,
                                 "link.sealed: a symbolic link, refused"));
        json_object_put(user_err(f, ROOT, "StoreUserSecret", "link", USER,
                                 ",\"data\":\"" DATA_B64 "\",\"replace\":true", AGENT_ERROR_INVALID_PARAMETER,
                                 "not a regular file, refused"));

        /* a copy under another name, and into another uid's directory */
        (void) snprintf(path, sizeof(path), "%s/1000/b.sealed", f->store);
        spit(path, text);
        json_object_put(user_err(f, USER, "UnsealUserSecret", "b", NONE, NULL, AGENT_ERROR_INVALID_PARAMETER,
                                 "sealed for purpose \"user/1000/a\", not \"user/1000/b\": refused"));
        json_object_put(user_err(f, ROOT, "RewrapUserSecret", "b", USER, NULL, AGENT_ERROR_INVALID_PARAMETER,
                                 "not \"user/1000/b\""));
        user_store_ok(f, ROOT, "z", OTHER, NULL);
        (void) snprintf(path, sizeof(path), "%s/1001/a.sealed", f->store);
        spit(path, text);
        json_object_put(user_err(f, ROOT, "UnsealUserSecret", "a", OTHER, NULL, AGENT_ERROR_INVALID_PARAMETER,
                                 "sealed for purpose \"user/1000/a\", not \"user/1001/a\""));
        /* garbage; a temporary file is not listed */
        (void) snprintf(path, sizeof(path), "%s/1000/c.sealed", f->store);
        spit(path, "{not json");
        (void) snprintf(path, sizeof(path), "%s/1000/.a.sealed.0123", f->store);
        spit(path, text);

        r = user_ok(f, USER, "ListUserSecrets", NULL, NONE, NULL);
        list = get_obj(r, "secrets");
        assert_int_equal(json_object_array_length(list), 4);
        assert_string_equal(get_str(json_object_array_get_idx(list, 0), "name"), "a");
        assert_null(json_object_object_get(json_object_array_get_idx(list, 0), "error"));
        assert_non_null(strstr(get_str(json_object_array_get_idx(list, 1), "error"), "not \"user/1000/b\""));
        assert_string_equal(get_str(json_object_array_get_idx(list, 2), "name"), "c");
        (void) get_str(json_object_array_get_idx(list, 2), "error");
        assert_non_null(strstr(get_str(json_object_array_get_idx(list, 3), "error"), "symbolic link"));
        json_object_put(r);

        /* a store others may write to is refused */
        assert_int_equal(chmod(f->store, 0777), 0);
        json_object_put(user_err(f, USER, "UnsealUserSecret", "a", NONE, NULL, AGENT_ERROR_INVALID_PARAMETER,
                                 "not owned by root, or writable by others"));
        assert_int_equal(chmod(f->store, 0755), 0);
        /* the uid directory a symlink */
        (void) snprintf(path, sizeof(path), "%s/1001", f->store);
        (void) snprintf(target, sizeof(target), "%s/1001-moved", f->store);
        assert_int_equal(rename(path, target), 0);
        assert_int_equal(symlink(target, path), 0);
        json_object_put(user_err(f, ROOT, "UnsealUserSecret", "z", OTHER, NULL, AGENT_ERROR_INVALID_PARAMETER,
                                 "a symbolic link or not a directory"));
}

static void test_user_invalid_parameters(void **state) {
        struct fixture *f = *state;
        char name65[66];
        static const struct {
                const char *method;
                const char *params;
                const char *parameter;
                const char *message;
        } table[] = {
                { "StoreUserSecret", "{\"data\":\"" DATA_B64 "\"}", "name", "missing parameter \"name\"" },
                { "StoreUserSecret", "{\"name\":\".x\",\"data\":\"" DATA_B64 "\"}", "name", "invalid name \".x\"" },
                { "StoreUserSecret", "{\"name\":\"a/b\",\"data\":\"" DATA_B64 "\"}", "name", "invalid name" },
                { "StoreUserSecret", "{\"name\":\"..\",\"data\":\"" DATA_B64 "\"}", "name", "invalid name" },
                { "StoreUserSecret", "{\"name\":\"\",\"data\":\"" DATA_B64 "\"}", "name", "invalid name" },
                { "StoreUserSecret", "{\"name\":\"a b\",\"data\":\"" DATA_B64 "\"}", "name", "invalid name" },
                { "StoreUserSecret", "{\"name\":\"a\"}", "data", "missing parameter \"data\"" },
                { "StoreUserSecret", "{\"name\":\"a\",\"data\":\"" DATA_B64 "\",\"replace\":\"yes\"}", "replace",
                  "must be a boolean" },
                { "StoreUserSecret", "{\"name\":\"a\",\"data\":\"" DATA_B64 "\",\"pin\":\"1\"}", "pin",
                  "unknown parameter \"pin\"" },
                { "ListUserSecrets", "{\"uid\":-1}", "uid", "must be an integer 0..4294967294" },
                { "ListUserSecrets", "{\"uid\":4294967295}", "uid", "must be an integer" },
                { "ListUserSecrets", "{\"uid\":\"1000\"}", "uid", "must be an integer" },
                { "ListUserSecrets", "{\"name\":\"a\"}", "name", "unknown parameter \"name\"" },
                { "UnsealUserSecret", "{\"name\":\"a\",\"password\":\"\"}", "password", "must not be empty" },
                { "RemoveUserSecret", "{\"name\":7}", "name", "must be a string" },
                { "RewrapUserSecret", "{\"name\":\"a\",\"new_password\":\"\"}", "new_password",
                  "must not be empty" },
                { "RewrapUserSecret", "{\"name\":\"a\",\"password\":\"x\"}", "password", "unknown parameter" },
        };
        char method[64];
        json_object *r;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                (void) snprintf(method, sizeof(method), "io.snpseal.Agent.%s", table[i].method);
                r = call_err(f, ROOT, method, table[i].params, AGENT_ERROR_INVALID_PARAMETER, table[i].message);
                assert_string_equal(get_str(r, "parameter"), table[i].parameter);
                json_object_put(r);
        }
        memset(name65, 'n', sizeof(name65) - 1);
        name65[65] = '\0';
        r = user_err(f, ROOT, "UnsealUserSecret", name65, NONE, NULL, AGENT_ERROR_INVALID_PARAMETER, "too long");
        json_object_put(r);
        name65[64] = '\0';
        json_object_put(user_err(f, ROOT, "UnsealUserSecret", name65, NONE, NULL, AGENT_ERROR_NO_SUCH_SECRET, NULL));
        /* nothing was created by the refused calls */
        assert_int_equal(access(f->store, F_OK), -1);
}

/* ---- the rate limiter itself ---- */

static void rl_fail(struct agent_ratelimit *rl, uid_t uid, const uint8_t *obj) {
        assert_int_equal(agent_ratelimit_begin(rl, uid, obj, NULL), 0);
        agent_ratelimit_end(rl, uid, obj, AGENT_RATELIMIT_WRONG);
}

static void test_ratelimit_unit(void **state) {
        struct fixture *f = *state;
        struct agent_ratelimit *rl, *rl2;
        uint8_t a[AGENT_RATELIMIT_OBJECT_LEN], b[AGENT_RATELIMIT_OBJECT_LEN], x[AGENT_RATELIMIT_OBJECT_LEN];
        uint8_t salt[32] = { 1 };
        char path[256];
        unsigned retry = 0;

        assert_int_equal(agent_ratelimit_object_id("user/5/a", salt, sizeof(salt), a), 0);
        assert_int_equal(agent_ratelimit_object_id("user/5/b", salt, sizeof(salt), b), 0);
        assert_memory_not_equal(a, b, sizeof(a));
        salt[0] = 2;
        assert_int_equal(agent_ratelimit_object_id("user/5/a", salt, sizeof(salt), x), 0);
        assert_memory_not_equal(a, x, sizeof(a));

        (void) snprintf(path, sizeof(path), "%s/ratelimit", f->dir);
        assert_int_equal(agent_ratelimit_new(2, 10, &rl), 0);
        agent_ratelimit_set_clock(rl, fake_clock, f);
        assert_int_equal(agent_ratelimit_load(rl, path), 0);   /* no file yet */
        rl_fail(rl, 5, a);
        f->now_usec += 500000;
        rl_fail(rl, 5, a);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), -EBUSY);
        assert_int_equal(retry, 10);    /* 9.5 s rounded up */
        /* another object of the same uid, and the same object for another uid, are separate */
        assert_int_equal(agent_ratelimit_begin(rl, 5, b, &retry), 0);
        /* a success on b (the decoy) leaves a's count alone */
        agent_ratelimit_end(rl, 5, b, AGENT_RATELIMIT_RIGHT);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), -EBUSY);
        assert_int_equal(agent_ratelimit_begin(rl, 6, a, &retry), 0);
        agent_ratelimit_end(rl, 6, a, AGENT_RATELIMIT_NONE);

        /* attempts in flight count: two concurrent guesses on a fresh object, then no third */
        assert_int_equal(agent_ratelimit_begin(rl, 7, a, &retry), 0);
        assert_int_equal(agent_ratelimit_begin(rl, 7, a, &retry), 0);
        assert_int_equal(agent_ratelimit_begin(rl, 7, a, &retry), -EBUSY);
        agent_ratelimit_end(rl, 7, a, AGENT_RATELIMIT_NONE);
        agent_ratelimit_end(rl, 7, a, AGENT_RATELIMIT_NONE);
        assert_int_equal(agent_ratelimit_begin(rl, 7, a, &retry), 0);
        agent_ratelimit_end(rl, 7, a, AGENT_RATELIMIT_RIGHT);

        /* the counts survive a restart (a new limiter on the same file) */
        assert_int_equal(agent_ratelimit_new(2, 10, &rl2), 0);
        agent_ratelimit_set_clock(rl2, fake_clock, f);
        assert_int_equal(agent_ratelimit_load(rl2, path), 0);
        assert_int_equal(agent_ratelimit_begin(rl2, 5, a, &retry), -EBUSY);
        assert_int_equal(agent_ratelimit_begin(rl2, 5, b, &retry), 0);
        agent_ratelimit_end(rl2, 5, b, AGENT_RATELIMIT_NONE);
        agent_ratelimit_free(rl2);

        /* only a's own success resets it */
        f->now_usec += 10 * UINT64_C(1000000);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), 0);   /* window passed */
        agent_ratelimit_end(rl, 5, a, AGENT_RATELIMIT_WRONG);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), 0);
        agent_ratelimit_end(rl, 5, a, AGENT_RATELIMIT_RIGHT);
        rl_fail(rl, 5, a);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), 0);   /* one failure since the reset */
        agent_ratelimit_end(rl, 5, a, AGENT_RATELIMIT_NONE);

        /* a uid cannot push its counts out of the table: after 32 objects
         * with live counts it may not try a 33rd, until the windows pass */
        for (unsigned i = 0; i < 32; i++) {
                salt[1] = (uint8_t) i;
                assert_int_equal(agent_ratelimit_object_id("user/9/n", salt, sizeof(salt), x), 0);
                rl_fail(rl, 9, x);
        }
        salt[1] = 200;
        assert_int_equal(agent_ratelimit_object_id("user/9/n", salt, sizeof(salt), x), 0);
        assert_int_equal(agent_ratelimit_begin(rl, 9, x, &retry), -EUSERS);
        assert_int_equal(retry, 10);
        assert_int_equal(agent_ratelimit_begin(rl, 10, x, &retry), 0);  /* other uids are not affected */
        agent_ratelimit_end(rl, 10, x, AGENT_RATELIMIT_NONE);
        f->now_usec += 11 * UINT64_C(1000000);
        assert_int_equal(agent_ratelimit_begin(rl, 9, x, &retry), 0);
        agent_ratelimit_end(rl, 9, x, AGENT_RATELIMIT_NONE);
        agent_ratelimit_free(rl);

        /* a malformed state file: good lines are kept, -EBADMSG */
        {
                FILE *fp = fopen(path, "w");
                char hex[65];

                assert_non_null(fp);
                for (unsigned i = 0; i < 32; i++)
                        (void) sprintf(hex + 2 * i, "%02x", a[i]);
                fprintf(fp, "garbage\n5 %s 2 %llu\n", hex, (unsigned long long) f->now_usec);
                assert_int_equal(fclose(fp), 0);
        }
        assert_int_equal(agent_ratelimit_new(2, 10, &rl), 0);
        agent_ratelimit_set_clock(rl, fake_clock, f);
        assert_int_equal(agent_ratelimit_load(rl, path), -EBADMSG);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), -EBUSY);
        agent_ratelimit_free(rl);

        /* 0 attempts: off */
        assert_int_equal(agent_ratelimit_new(0, 10, &rl), 0);
        rl_fail(rl, 5, a);
        rl_fail(rl, 5, a);
        assert_int_equal(agent_ratelimit_begin(rl, 5, a, &retry), 0);
        agent_ratelimit_free(rl);
        assert_int_equal(agent_ratelimit_begin(NULL, 5, a, &retry), 0);
}

/* ---- GetReport ---- */

static void test_get_report(void **state) {
        struct fixture *f = *state;
        json_object *r, *dec;
        const char *b64, *rd;
        uint8_t raw[SNP_REPORT_SIZE + 3];
        size_t n;

        r = call_ok(f, ROOT, "io.snpseal.Agent.GetReport", "{\"report_data\":\"ABcd\",\"vmpl\":2}");
        assert_false(json_object_object_get_ex(r, "bound_uid", NULL));
        b64 = get_str(r, "report");
        assert_int_equal(base64_decode(b64, strlen(b64), raw, sizeof(raw), &n), 0);
        assert_int_equal(n, SNP_REPORT_SIZE);
        assert_int_equal(raw[0x50], 0xab);
        assert_int_equal(raw[0x51], 0xcd);
        assert_int_equal(raw[0x52], 0);
        assert_int_equal(raw[0x30], 2);
        dec = get_obj(r, "decoded");
        assert_int_equal(get_int(dec, "vmpl"), 2);
        rd = get_str(dec, "report_data");
        assert_int_equal(strlen(rd), 128);
        assert_int_equal(strncmp(rd, "abcd0000", 8), 0);
        json_object_put(r);

        r = call_ok(f, USER, "io.snpseal.Agent.GetReport", "{}");
        dec = get_obj(r, "decoded");
        assert_int_equal(get_int(dec, "vmpl"), 0);
        json_object_put(r);
}

/* Issue 11, finding 5: a user's report carries SHA-512(label || uid ||
 * data), never the data of the user's choosing. */
static void test_get_report_user_bound(void **state) {
        static const char label[] = "snpseal/v1/report-of-uid";
        static const uint8_t uid_be[4] = { 0, 0, USER >> 8, USER & 0xff };
        struct fixture *f = *state;
        uint8_t data[SNP_REPORT_DATA_LEN] = { 0xab, 0xcd }, want[SNP_REPORT_DATA_LEN];
        uint8_t raw[SNP_REPORT_SIZE + 3];
        char want_hex[2 * SNP_REPORT_DATA_LEN + 1], data_hex[2 * SNP_REPORT_DATA_LEN + 1];
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned n = 0;
        size_t len;
        const char *b64;
        json_object *r;

        assert_non_null(ctx);
        assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha512(), NULL), 1);
        assert_int_equal(EVP_DigestUpdate(ctx, label, sizeof(label)), 1);
        assert_int_equal(EVP_DigestUpdate(ctx, uid_be, sizeof(uid_be)), 1);
        assert_int_equal(EVP_DigestUpdate(ctx, data, sizeof(data)), 1);
        assert_int_equal(EVP_DigestFinal_ex(ctx, want, &n), 1);
        EVP_MD_CTX_free(ctx);
        assert_int_equal(n, sizeof(want));
        hex_encode(want, sizeof(want), want_hex);
        hex_encode(data, sizeof(data), data_hex);

        r = call_ok(f, USER, "io.snpseal.Agent.GetReport", "{\"report_data\":\"ABcd\"}");
        b64 = get_str(r, "report");
        assert_int_equal(base64_decode(b64, strlen(b64), raw, sizeof(raw), &len), 0);
        assert_int_equal(len, SNP_REPORT_SIZE);
        assert_memory_equal(raw + offsetof(struct snp_report, report_data), want, sizeof(want));
        assert_string_equal(get_str(get_obj(r, "decoded"), "report_data"), want_hex);
        assert_int_equal(get_int(r, "bound_uid"), USER);
        assert_string_equal(get_str(r, "caller_report_data"), data_hex);
        json_object_put(r);
        /* another uid, another REPORT_DATA */
        r = call_ok(f, OTHER, "io.snpseal.Agent.GetReport", "{\"report_data\":\"ABcd\"}");
        assert_string_not_equal(get_str(get_obj(r, "decoded"), "report_data"), want_hex);
        assert_int_equal(get_int(r, "bound_uid"), OTHER);
        json_object_put(r);
}

/* Issue 13: the host's certificate table through SNP_GET_EXT_REPORT. */
static void test_get_report_certificates(void **state) {
        struct fixture *f = *state;
        json_object *r, *list, *item;
        static const char *const kinds[] = { "vcek", "ask", "ark" };

        r = call_ok(f, ROOT, "io.snpseal.Agent.GetReport", "{\"report_data\":\"01\",\"certificates\":true}");
        assert_true(json_object_object_get_ex(r, "certificates", &list));
        assert_int_equal(json_object_array_length(list), 3);
        for (size_t i = 0; i < 3; i++) {
                item = json_object_array_get_idx(list, i);
                assert_string_equal(get_str(item, "kind"), kinds[i]);
                assert_true(strlen(get_str(item, "der")) > 100);
        }
        assert_int_equal(strncmp(get_str(get_obj(r, "decoded"), "report_data"), "0100", 4), 0);
        json_object_put(r);
        /* Without asking: no certificates. */
        r = call_ok(f, ROOT, "io.snpseal.Agent.GetReport", "{\"certificates\":false}");
        assert_false(json_object_object_get_ex(r, "certificates", NULL));
        json_object_put(r);
        /* A user gets them too, with the report bound to the user. */
        r = call_ok(f, USER, "io.snpseal.Agent.GetReport", "{\"report_data\":\"01\",\"certificates\":true}");
        assert_true(json_object_object_get_ex(r, "certificates", &list));
        assert_int_equal(json_object_array_length(list), 3);
        assert_int_equal(get_int(r, "bound_uid"), USER);
        assert_int_not_equal(strncmp(get_str(get_obj(r, "decoded"), "report_data"), "0100", 4), 0);
        json_object_put(r);
}

static void test_vmpl_below_own(void **state) {
        struct fixture *f = *state;
        struct snp_error err = {};
        json_object *r;

        f->sim.vmpl = 2;
        save_state(f);
        snp_backend_free(f->a.backend);
        assert_int_equal(snp_backend_simulator_open(f->state_path, &f->a.backend, &err), 0);
        r = call_err(f, USER, "io.snpseal.Agent.GetReport", "{\"vmpl\":1}", AGENT_ERROR_INVALID_PARAMETER, "VMPL");
        json_object_put(r);
        r = call_ok(f, USER, "io.snpseal.Agent.GetStatus", "{}");
        assert_int_equal(get_int(r, "vmpl"), 2);
        json_object_put(r);
}

/* ---- firmware failures ---- */

static void test_firmware_error_then_device_unavailable(void **state) {
        struct fixture *f = *state;
        json_object *r;

        f->sim.fault = SIM_FAULT_CMD_FAIL;
        save_state(f);
        r = call_err(f, USER, "io.snpseal.Agent.GetStatus", "{}", AGENT_ERROR_FIRMWARE_ERROR, "reboot required");
        assert_int_equal(get_int(r, "errno"), EIO);
        (void) get_int(r, "fw_status");
        (void) get_int(r, "vmm_error");
        json_object_put(r);
        /* the kernel disabled the message key: every request after that */
        r = call_err(f, USER, "io.snpseal.Agent.GetStatus", "{}", AGENT_ERROR_DEVICE_UNAVAILABLE, "reboot required");
        json_object_put(r);
}

static void test_device_unavailable(void **state) {
        struct fixture *f = *state;
        _cleanup_(freep) char *key = NULL;
        json_object *r;

        f->sim.vmpck_disabled = true;
        save_state(f);
        r = call_err(f, USER, "io.snpseal.Agent.GetStatus", "{}", AGENT_ERROR_DEVICE_UNAVAILABLE, "reboot required");
        json_object_put(r);
        key = derive(f, ROOT, "luks2", SALT_A, NULL);
        assert_string_equal(key, AGENT_ERROR_DEVICE_UNAVAILABLE);

        (void) unlink(f->state_path);
        r = call_err(f, USER, "io.snpseal.Agent.GetStatus", "{}", AGENT_ERROR_DEVICE_UNAVAILABLE, "not found");
        json_object_put(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_get_info),
                T(test_interface_description),
                T(test_method_not_found),
                T(test_get_status),
                T(test_invalid_parameters),
                T(test_long_parameters),
                T(test_authorization),
                T(test_unseal_authorization),
                T(test_derive_key),
                T(test_derive_key_floor),
                T(test_derive_key_mac_key),
                T(test_derive_key_expect),
                T(test_derive_key_no_wait),
                T(test_derive_key_tcb_above_committed),
                T(test_seal_unseal),
                T(test_seal_binding),
                T(test_unseal_identity_mismatch),
                T(test_unseal_tcb_above_committed),
                T(test_unseal_newer_firmware),
                T(test_unseal_other_machine),
                T(test_unseal_tampered),
                T(test_password),
                T(test_rate_limit),
                T(test_ratelimit_unit),
                T(test_rate_limit_decoy),
                T(test_user_store_list_unseal_remove),
                T(test_user_store_exists),
                T(test_user_authorization),
                T(test_user_rate_limit_by_target),
                T(test_user_rewrap),
                T(test_user_rewrap_limits),
                T(test_user_store_limits),
                T(test_format1_migration),
                T(test_user_hostile_files),
                T(test_user_invalid_parameters),
                T(test_get_report),
                T(test_get_report_user_bound),
                T(test_get_report_certificates),
                T(test_vmpl_below_own),
                T(test_firmware_error_then_device_unavailable),
                T(test_device_unavailable),
        };

        return cmocka_run_group_tests_name("agent-methods", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real snpseald over real sockets, simulator backend: sd_notify, every
 * method, every error, authorization under another uid, sealed-object round
 * trips, tampering, identity change, wrong password vs wrong VM, rate
 * limiting, --stdio and idle exit under socket activation.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent-harness.h"
#include "binding.h"
#include "kdf.h"
#include "sealed.h"
#include "secret.h"
#include "sim-firmware.h"
#include "sim-state.h"
#include "snp-abi.h"

#define M_STATUS "io.snpseal.Agent.GetStatus"
#define M_DERIVE "io.snpseal.Agent.DeriveKey"
#define M_SEAL "io.snpseal.Agent.Seal"
#define M_UNSEAL "io.snpseal.Agent.Unseal"
#define M_REPORT "io.snpseal.Agent.GetReport"
#define E_NOT_PERMITTED "io.snpseal.Agent.NotPermitted"
#define E_INVALID "io.snpseal.Agent.InvalidParameter"
#define E_MISMATCH "io.snpseal.Agent.IdentityMismatch"
#define E_WRONG_PASSWORD "io.snpseal.Agent.WrongPassword"
#define E_RATE_LIMITED "io.snpseal.Agent.RateLimited"
#define E_FIRMWARE "io.snpseal.Agent.FirmwareError"
#define E_DEVICE "io.snpseal.Agent.DeviceUnavailable"

/* ---- fixture: one daemon per test ---- */

static int setup_agent(void **state) {
        struct th_agent *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -1;
        r = th_agent_setup(t);
        if (r >= 0)
                r = th_agent_start(t, NULL);
        if (r < 0) {
                print_message("# cannot start the agent: %s\n", strerror(-r));
                th_agent_dump_log(t);
                th_agent_cleanup(t);
                free(t);
                return -1;
        }
        *state = t;
        return 0;
}

/* SIGTERM must make the daemon exit 0. */
static int stop_agent_ok(struct th_agent *t) {
        int status = 0, r;

        if (t->pid <= 0)
                return 0;
        r = th_agent_stop(t, &status);
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                print_message("# the agent did not exit 0 on SIGTERM (r=%d status=0x%x)\n", r, status);
                th_agent_dump_log(t);
                return -1;
        }
        return 0;
}

static int teardown_agent(void **state) {
        struct th_agent *t = *state;
        int r = stop_agent_ok(t);

        if (getenv("TH_VERBOSE"))
                th_agent_dump_log(t);
        th_agent_cleanup(t);
        free(t);
        return r;
}

static void restart_agent(struct th_agent *t, const char *const *extra) {
        int r;

        assert_int_equal(stop_agent_ok(t), 0);
        r = th_agent_start(t, extra);
        if (r < 0)
                th_agent_dump_log(t);
        assert_int_equal(r, 0);
}

/* ---- calls ---- */

static json_object *call(struct th_agent *t, const char *method, json_object *params) {
        json_object *reply = NULL;

        assert_non_null(params);
        assert_int_equal(th_call(t->sock, method, params, &reply), 0);
        return reply;
}

static json_object *call_ok(struct th_agent *t, const char *method, json_object *params) {
        json_object *reply = call(t, method, params);

        if (th_error(reply))
                print_message("# %s failed: %s: %s\n", method, th_error(reply), th_message(reply));
        assert_null(th_error(reply));
        return reply;
}

/* The call must fail with error, and its message contain each of the
 * NULL-terminated substrings. */
static json_object *call_err(struct th_agent *t, const char *method, json_object *params, const char *error, ...) {
        json_object *reply = call(t, method, params);
        const char *s;
        va_list ap;

        if (!th_error(reply) || strcmp(th_error(reply), error) != 0)
                print_message("# %s: expected %s, got %s: %s\n", method, error,
                              th_error(reply) ?: "success", th_message(reply));
        assert_non_null(th_error(reply));
        assert_string_equal(th_error(reply), error);
        va_start(ap, error);
        while ((s = va_arg(ap, const char *))) {
                if (!strstr(th_message(reply), s))
                        print_message("# message \"%s\" lacks \"%s\"\n", th_message(reply), s);
                assert_non_null(strstr(th_message(reply), s));
        }
        va_end(ap);
        return reply;
}

static const char *state_value(struct th_agent *t, const char *key) {
        static char buf[8][SIM_STATE_VALUE_MAX];
        static unsigned next;
        char *b = buf[next++ % 8];

        assert_int_equal(sim_state_get(&t->sim, key, false, b, SIM_STATE_VALUE_MAX), 0);
        return b;
}

/* The default binding as JSON text (what Seal would pick). */
static void binding_text(struct th_agent *t, const char *tcb, char *buf, size_t size) {
        snprintf(buf, size,
                 "{\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"policy\",\"tcb_version\"],"
                 "\"vmpl\":%u,\"guest_svn\":%u,\"tcb_version\":\"%s\"}",
                 (unsigned) t->sim.vmpl, (unsigned) t->sim.guest_svn, tcb ? tcb : state_value(t, "committed_tcb"));
}

static const uint8_t test_salt[KDF_SALT_LEN] = {
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* DeriveKey parameters; extra is appended inside the object (",\"pin\":…"). */
static json_object *derive_params(struct th_agent *t, const char *purpose, const char *extra) {
        char binding[512];
        char *salt = th_b64(test_salt, sizeof(test_salt));
        json_object *o;

        binding_text(t, NULL, binding, sizeof(binding));
        o = th_json("{\"binding\":%s,\"salt\":\"%s\",\"purpose\":\"%s\"%s}", binding, salt, purpose,
                    extra ? extra : "");
        free(salt);
        assert_non_null(o);
        return o;
}

/* K_use computed independently: the simulator firmware model plus HKDF. */
static void expected_key(struct th_agent *t, const char *purpose, const char *pin, uint8_t out[KDF_KEY_LEN]) {
        char binding[512], err[256];
        json_object *o;
        struct snp_binding b;
        struct snp_msg_key_req req;
        struct snp_msg_key_rsp rsp;

        binding_text(t, NULL, binding, sizeof(binding));
        o = th_json("%s", binding);
        assert_non_null(o);
        assert_int_equal(snp_binding_from_json(o, &b, err, sizeof(err)), 0);
        json_object_put(o);
        snp_binding_to_key_req(&b, &req);
        memset(&rsp, 0, sizeof(rsp));
        assert_int_equal(sim_fw_key_request(&t->sim, &req, &rsp), 0);
        assert_int_equal(rsp.status, 0);
        assert_int_equal(kdf_purpose_key(rsp.key, test_salt, purpose, pin, pin ? strlen(pin) : 0, out), 0);
}

static char *seal(struct th_agent *t, const char *purpose, const char *data, const char *password) {
        char *b64 = th_b64(data, strlen(data)), *text;
        char pw[256] = "";
        json_object *reply;

        if (password)
                snprintf(pw, sizeof(pw), ",\"password\":\"%s\"", password);
        reply = call_ok(t, M_SEAL, th_json("{\"purpose\":\"%s\",\"data\":\"%s\"%s}", purpose, b64, pw));
        free(b64);
        assert_non_null(th_str(th_params(reply), "sealed"));
        text = strdup(th_str(th_params(reply), "sealed"));
        json_object_put(reply);
        assert_non_null(text);
        return text;
}

static json_object *unseal_params(const char *sealed, const char *password) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "sealed", json_object_new_string(sealed));
        if (password)
                json_object_object_add(o, "password", json_object_new_string(password));
        return o;
}

static void assert_unseals_to(struct th_agent *t, const char *sealed, const char *password, const char *data) {
        json_object *reply = call_ok(t, M_UNSEAL, unseal_params(sealed, password));
        const char *b64 = th_str(th_params(reply), "data");
        char out[1024];
        size_t n;

        assert_non_null(b64);
        assert_int_equal(th_unb64(b64, out, sizeof(out), &n), 0);
        assert_int_equal(n, strlen(data));
        assert_memory_equal(out, data, n);
        json_object_put(reply);
}

/* ---- sd_notify, GetStatus, service interface ---- */

static void test_notify_ready(void **state) {
        struct th_agent *t = *state;

        /* the fixture waited for READY=1 on our NOTIFY_SOCKET */
        assert_true(t->ready_seen);
        assert_true(t->status_text[0] != '\0');
        /* the simulator is announced loudly */
        assert_true(th_agent_log_contains(t, "simulator"));
}

static void check_hex_field(json_object *p, const char *key, const void *data, size_t n) {
        char *hex = th_hex(data, n);

        assert_non_null(th_str(p, key));
        assert_string_equal(th_str(p, key), hex);
        free(hex);
}

static int64_t int_field(json_object *p, const char *key) {
        json_object *v;

        assert_true(json_object_object_get_ex(p, key, &v));
        assert_true(json_object_is_type(v, json_type_int));
        return json_object_get_int64(v);
}

static void test_get_status(void **state) {
        struct th_agent *t = *state;
        static const char *const tcbs[] = { "launch_tcb", "committed_tcb", "current_tcb", "reported_tcb" };
        json_object *reply, *p, *v;

        assert_int_equal(th_agent_set_state(t, "image_id", "00112233445566778899aabbccddeeff"), 0);
        assert_int_equal(th_agent_set_state(t, "family_id", "ffeeddccbbaa99887766554433221100"), 0);
        assert_int_equal(th_agent_set_state(t, "guest_svn", "7"), 0);
        reply = call_ok(t, M_STATUS, json_object_new_object());
        p = th_params(reply);
        assert_string_equal(th_str(p, "backend"), "simulator");
        assert_int_equal(int_field(p, "vmpl"), t->sim.vmpl);
        check_hex_field(p, "measurement", t->sim.measurement, sizeof(t->sim.measurement));
        check_hex_field(p, "image_id", t->sim.image_id, sizeof(t->sim.image_id));
        check_hex_field(p, "family_id", t->sim.family_id, sizeof(t->sim.family_id));
        assert_int_equal(int_field(p, "guest_svn"), 7);
        assert_non_null(th_str(p, "policy"));
        assert_int_equal(strtoull(th_str(p, "policy"), NULL, 0), t->sim.policy);
        for (size_t i = 0; i < 4; i++) {
                assert_non_null(th_str(p, tcbs[i]));
                assert_string_equal(th_str(p, tcbs[i]), state_value(t, tcbs[i]));
        }
        assert_true(json_object_object_get_ex(p, "policy_flags", &v));
        assert_true(json_object_is_type(v, json_type_object));
        assert_true(json_object_object_get_ex(p, "platform_info", &v));
        assert_non_null(th_str(p, "version"));
        assert_string_equal(th_str(p, "version"), PACKAGE_VERSION);
        json_object_put(reply);
}

static char *read_text_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = calloc(1, 65536);
        size_t n;

        assert_non_null(f);
        assert_non_null(buf);
        n = fread(buf, 1, 65535, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static void test_service_interface(void **state) {
        struct th_agent *t = *state;
        json_object *reply, *ifaces;
        const char *srcdir = getenv("top_srcdir");
        char path[PATH_MAX];
        char *idl;
        bool agent = false, service = false;

        reply = call_ok(t, "org.varlink.service.GetInfo", json_object_new_object());
        assert_non_null(th_str(th_params(reply), "vendor"));
        assert_non_null(th_str(th_params(reply), "product"));
        assert_string_equal(th_str(th_params(reply), "version"), PACKAGE_VERSION);
        assert_non_null(th_str(th_params(reply), "url"));
        assert_true(json_object_object_get_ex(th_params(reply), "interfaces", &ifaces));
        for (size_t i = 0; i < json_object_array_length(ifaces); i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(ifaces, i));

                agent |= strcmp(s, "io.snpseal.Agent") == 0;
                service |= strcmp(s, "org.varlink.service") == 0;
        }
        assert_true(agent && service);
        json_object_put(reply);

        reply = call_ok(t, "org.varlink.service.GetInterfaceDescription",
                        th_json("{\"interface\":\"io.snpseal.Agent\"}"));
        snprintf(path, sizeof(path), "%s/agent/io.snpseal.Agent.varlink", srcdir ? srcdir : ".");
        idl = read_text_file(path);
        assert_non_null(th_str(th_params(reply), "description"));
        assert_string_equal(th_str(th_params(reply), "description"), idl);
        free(idl);
        json_object_put(reply);

        json_object_put(call_err(t, "org.varlink.service.GetInterfaceDescription",
                                 th_json("{\"interface\":\"com.example.Nope\"}"),
                                 "org.varlink.service.InterfaceNotFound", NULL));
        json_object_put(call_err(t, "io.snpseal.Agent.Frobnicate", json_object_new_object(),
                                 "org.varlink.service.MethodNotFound", NULL));
}

/* ---- DeriveKey ---- */

static void test_derive_key(void **state) {
        static const struct {
                const char *purpose;
                const char *pin;
        } cases[] = {
                { "luks2", NULL },
                { "luks2", "1234" },
                { "cred/db", NULL },
                { "user/0/mail", NULL },
                { "user/1000/x", "correct horse" },
        };
        struct th_agent *t = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char extra[128] = "";
                uint8_t want[KDF_KEY_LEN], got[64];
                json_object *reply, *identity;
                size_t n;

                if (cases[i].pin)
                        snprintf(extra, sizeof(extra), ",\"pin\":\"%s\"", cases[i].pin);
                reply = call_ok(t, M_DERIVE, derive_params(t, cases[i].purpose, extra));
                assert_non_null(th_str(th_params(reply), "key"));
                assert_int_equal(th_unb64(th_str(th_params(reply), "key"), got, sizeof(got), &n), 0);
                assert_int_equal(n, KDF_KEY_LEN);
                expected_key(t, cases[i].purpose, cases[i].pin, want);
                assert_memory_equal(got, want, KDF_KEY_LEN);
                assert_true(json_object_object_get_ex(th_params(reply), "identity", &identity));
                check_hex_field(identity, "measurement", t->sim.measurement, sizeof(t->sim.measurement));
                assert_int_equal(strtoull(th_str(identity, "policy"), NULL, 0), t->sim.policy);
                json_object_put(reply);
        }
}

static void test_derive_key_errors(void **state) {
        struct th_agent *t = *state;
        char binding[512], expect[1024], *salt = th_b64(test_salt, 16);
        char *meas = th_hex(t->sim.measurement, sizeof(t->sim.measurement));
        json_object *reply, *diffs, *identity;
        char *other = strdup(meas);

        /* invalid purposes */
        json_object_put(call_err(t, M_DERIVE, derive_params(t, "user/../x", NULL), E_INVALID, "purpose", NULL));
        json_object_put(call_err(t, M_DERIVE, derive_params(t, "nonsense", NULL), E_INVALID, "purpose", NULL));
        /* a salt of 16 bytes */
        binding_text(t, NULL, binding, sizeof(binding));
        reply = call(t, M_DERIVE, th_json("{\"binding\":%s,\"salt\":\"%s\",\"purpose\":\"luks2\"}", binding, salt));
        assert_non_null(th_error(reply));
        assert_non_null(strstr(th_error(reply), "InvalidParameter"));
        json_object_put(reply);
        /* a TCB above the committed one */
        free(salt);
        salt = th_b64(test_salt, sizeof(test_salt));
        binding_text(t, "ff000000000008d1", binding, sizeof(binding));
        reply = call_err(t, M_DERIVE,
                         th_json("{\"binding\":%s,\"salt\":\"%s\",\"purpose\":\"luks2\"}", binding, salt),
                         E_MISMATCH, "firmware older than the sealed TCB", NULL);
        json_object_put(reply);
        /* expect: the identity a DeriveKey reported, with another measurement */
        reply = call_ok(t, M_DERIVE, derive_params(t, "luks2", NULL));
        assert_true(json_object_object_get_ex(th_params(reply), "identity", &identity));
        other[0] = other[0] == 'a' ? 'b' : 'a';
        json_object_object_add(identity, "measurement", json_object_new_string(other));
        snprintf(expect, sizeof(expect), ",\"expect\":%s", json_object_to_json_string_ext(identity, JSON_C_TO_STRING_PLAIN));
        json_object_put(reply);
        reply = call_err(t, M_DERIVE, derive_params(t, "luks2", expect), E_MISMATCH, "measurement", NULL);
        assert_true(json_object_object_get_ex(th_params(reply), "differences", &diffs));
        assert_int_equal(json_object_array_length(diffs), 1);
        assert_string_equal(th_str(json_object_array_get_idx(diffs, 0), "field"), "measurement");
        assert_string_equal(th_str(json_object_array_get_idx(diffs, 0), "sealed"), other);
        assert_string_equal(th_str(json_object_array_get_idx(diffs, 0), "current"), meas);
        json_object_put(reply);
        /* the identity as it is: a key */
        reply = call_ok(t, M_DERIVE, derive_params(t, "luks2", NULL));
        assert_true(json_object_object_get_ex(th_params(reply), "identity", &identity));
        snprintf(expect, sizeof(expect), ",\"expect\":%s", json_object_to_json_string_ext(identity, JSON_C_TO_STRING_PLAIN));
        json_object_put(reply);
        json_object_put(call_ok(t, M_DERIVE, derive_params(t, "luks2", expect)));
        free(salt);
        free(meas);
        free(other);
}

/* ---- Seal / Unseal ---- */

static void test_seal_unseal(void **state) {
        static const struct {
                const char *purpose, *data, *password;
        } cases[] = {
                { "cred/db", "hunter2", NULL },
                { "user/0/mail", "imap password\n", "pw" },
                { "luks2", "x", "a longer password with spaces" },
                { "user/1000/blob", "binary-ish \x01\x02\x7f data", NULL },
        };
        struct th_agent *t = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *sealed = seal(t, cases[i].purpose, cases[i].data, cases[i].password);
                json_object *o = th_json("%s", sealed);

                /* the sealed object names its purpose and records the identity */
                assert_non_null(o);
                assert_string_equal(th_str(o, "purpose"), cases[i].purpose);
                json_object_put(o);
                assert_unseals_to(t, sealed, cases[i].password, cases[i].data);
                if (cases[i].password) {
                        json_object_put(call_err(t, M_UNSEAL, unseal_params(sealed, NULL), E_WRONG_PASSWORD,
                                                 "password is required", NULL));
                        json_object_put(call_err(t, M_UNSEAL, unseal_params(sealed, "wrong"), E_WRONG_PASSWORD,
                                                 "wrong password", NULL));
                }
                free(sealed);
        }
}

static void test_seal_errors(void **state) {
        struct th_agent *t = *state;
        char *b64 = th_b64("x", 1);

        json_object_put(call_err(t, M_SEAL, th_json("{\"purpose\":\"bad purpose\",\"data\":\"%s\"}", b64),
                                 E_INVALID, "purpose", NULL));
        json_object_put(call_err(t, M_SEAL, th_json("{\"purpose\":\"cred/x\",\"data\":\"not base64!\"}"),
                                 E_INVALID, NULL));
        /* VMRK is new at every launch: refused for a sealed object */
        json_object_put(call_err(t, M_SEAL,
                                 th_json("{\"purpose\":\"cred/x\",\"data\":\"%s\",\"binding\":{\"root_key\":\"vmrk\","
                                         "\"fields\":[\"measurement\",\"policy\",\"tcb_version\"],\"vmpl\":0,"
                                         "\"guest_svn\":1,\"tcb_version\":\"%s\"}}",
                                         b64, state_value(t, "committed_tcb")),
                                 E_INVALID, NULL));
        json_object_put(call_err(t, M_UNSEAL, unseal_params("{\"format\":1}", NULL), E_INVALID, "malformed", NULL));
        json_object_put(call_err(t, M_UNSEAL, unseal_params("not json", NULL), E_INVALID, NULL));
        free(b64);
}

static void test_rate_limited(void **state) {
        static const char *const extra[] = { "--ratelimit-attempts=2", "--ratelimit-window=60", NULL };
        struct th_agent *t = *state;
        json_object *reply, *v;
        char *sealed;

        restart_agent(t, extra);
        sealed = seal(t, "user/0/x", "secret", "right");
        for (int i = 0; i < 2; i++)
                json_object_put(call_err(t, M_UNSEAL, unseal_params(sealed, "wrong"), E_WRONG_PASSWORD,
                                         "wrong password", NULL));
        reply = call_err(t, M_UNSEAL, unseal_params(sealed, "wrong"), E_RATE_LIMITED, "too many", NULL);
        assert_true(json_object_object_get_ex(th_params(reply), "retry_after_sec", &v));
        assert_true(json_object_get_int64(v) > 0 && json_object_get_int64(v) <= 60);
        json_object_put(reply);
        /* even the right password waits */
        json_object_put(call_err(t, M_UNSEAL, unseal_params(sealed, "right"), E_RATE_LIMITED, NULL));
        /* and the count survives a restart of the agent (issue 11, finding 3) */
        restart_agent(t, extra);
        json_object_put(call_err(t, M_UNSEAL, unseal_params(sealed, "right"), E_RATE_LIMITED,
                                 "too many wrong passwords for uid 0 on \"user/0/x\"", NULL));
        free(sealed);
}

/* Issue 11, finding 3, as uid 65534: guesses on a password object with a
 * success on a decoy object after every guess below the limit. One line per
 * guess: "W" wrong password, "L" rate-limited, "O" opened. */
struct decoy_args {
        struct th_agent *t;
};

static int decoy_seal(struct th_agent *t, const char *password, char **ret) {
        json_object *reply = NULL;
        int r = th_call(t->sock, M_SEAL, th_json("{\"purpose\":\"user/65534/login\",\"data\":\"c2VjcmV0\","
                                                 "\"password\":\"%s\"}", password), &reply);

        if (r >= 0 && (th_error(reply) || !th_str(th_params(reply), "sealed")))
                r = -EPROTO;
        if (r >= 0 && !(*ret = strdup(th_str(th_params(reply), "sealed"))))
                r = -ENOMEM;
        json_object_put(reply);
        return r;
}

static int decoy_run(void *arg, int wfd) {
        struct decoy_args *a = arg;
        char *target = NULL, *decoy = NULL, out[64] = "";
        int r;

        r = decoy_seal(a->t, "the-real-password", &target);
        if (r >= 0)
                r = decoy_seal(a->t, "decoy", &decoy);
        for (int i = 0; r >= 0 && i < 30; i++) {
                json_object *reply = NULL;
                const char *guess = i == 29 ? "the-real-password" : "guess";

                r = th_call(a->t->sock, M_UNSEAL, unseal_params(target, guess), &reply);
                if (r >= 0)
                        strcat(out, !th_error(reply) ? "O" :
                               strcmp(th_error(reply), E_RATE_LIMITED) == 0 ? "L" :
                               strcmp(th_error(reply), E_WRONG_PASSWORD) == 0 ? "W" : "?");
                json_object_put(reply);
                /* the decoy opens, which used to reset the uid's count */
                if (r >= 0 && (i + 1) % 2 == 0)
                        r = th_call(a->t->sock, M_UNSEAL, unseal_params(decoy, "decoy"), &reply);
                if (r >= 0 && (i + 1) % 2 == 0 && th_error(reply))
                        r = -EPROTO;
                if ((i + 1) % 2 == 0)
                        json_object_put(reply);
        }
        free(target);
        free(decoy);
        if (r < 0)
                dprintf(wfd, "error: %s\n", strerror(-r));
        else
                dprintf(wfd, "%s\n", out);
        return r;
}

static void test_rate_limit_decoy(void **state) {
        static const char *const extra[] = { "--ratelimit-attempts=3", "--ratelimit-window=60", NULL };
        struct th_agent *t = *state;
        struct decoy_args a = { .t = t };
        char out[256];

        restart_agent(t, extra);
        assert_int_equal(th_run_as_nobody(decoy_run, &a, out, sizeof(out)), 0);
        /* three wrong passwords, then refused, the right one included */
        assert_string_equal(out, "WWWLLLLLLLLLLLLLLLLLLLLLLLLLLL\n");
}

/* ---- GetReport ---- */

static void test_get_report(void **state) {
        struct th_agent *t = *state;
        uint8_t data[SNP_REPORT_DATA_LEN], raw[2 * SNP_REPORT_SIZE];
        char *b64, *hex;
        json_object *reply, *decoded;
        size_t n;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (0xa0 + i);
        b64 = th_b64(data, sizeof(data));
        hex = th_hex(data, sizeof(data));
        reply = call_ok(t, M_REPORT, th_json("{\"report_data\":\"%s\"}", hex));
        assert_non_null(th_str(th_params(reply), "report"));
        assert_int_equal(th_unb64(th_str(th_params(reply), "report"), raw, sizeof(raw), &n), 0);
        assert_int_equal(n, SNP_REPORT_SIZE);
        assert_memory_equal(raw + offsetof(struct snp_report, report_data), data, sizeof(data));
        assert_memory_equal(raw + offsetof(struct snp_report, measurement), t->sim.measurement,
                            sizeof(t->sim.measurement));
        assert_true(json_object_object_get_ex(th_params(reply), "decoded", &decoded));
        assert_non_null(th_str(decoded, "report_data"));
        assert_string_equal(th_str(decoded, "report_data"), hex);
        json_object_put(reply);
        /* without report_data: zeros; at VMPL 2 */
        reply = call_ok(t, M_REPORT, th_json("{\"vmpl\":2}"));
        assert_int_equal(th_unb64(th_str(th_params(reply), "report"), raw, sizeof(raw), &n), 0);
        assert_int_equal(raw[offsetof(struct snp_report, vmpl)], 2);
        for (size_t i = 0; i < SNP_REPORT_DATA_LEN; i++)
                assert_int_equal(raw[offsetof(struct snp_report, report_data) + i], 0);
        json_object_put(reply);
        json_object_put(call_err(t, M_REPORT, th_json("{\"vmpl\":4}"), E_INVALID, NULL));
        /* base64 is not hex; and 65 bytes are too many */
        json_object_put(call_err(t, M_REPORT, th_json("{\"report_data\":\"%s\"}", b64), E_INVALID, "report_data",
                                 NULL));
        json_object_put(call_err(t, M_REPORT, th_json("{\"report_data\":\"%s00\"}", hex), E_INVALID, "report_data",
                                 NULL));
        free(b64);
        free(hex);
}

/* ---- firmware errors (the simulator re-reads its state on every request) ---- */

static void test_firmware_errors(void **state) {
        struct th_agent *t = *state;
        json_object *reply, *v;

        assert_int_equal(th_agent_set_state(t, "fault", "busy"), 0);
        reply = call_err(t, M_STATUS, json_object_new_object(), E_FIRMWARE, "busy", NULL);
        assert_true(json_object_object_get_ex(th_params(reply), "vmm_error", &v));
        json_object_put(reply);
        assert_int_equal(th_agent_set_state(t, "fault", "none"), 0);
        assert_int_equal(th_agent_set_state(t, "vmpck_disabled", "true"), 0);
        json_object_put(call_err(t, M_STATUS, json_object_new_object(), E_DEVICE, "reboot", NULL));
        json_object_put(call_err(t, M_DERIVE, derive_params(t, "luks2", NULL), E_DEVICE, "reboot", NULL));
        assert_int_equal(th_agent_set_state(t, "vmpck_disabled", "false"), 0);
        json_object_put(call_ok(t, M_STATUS, json_object_new_object()));
}

/* ---- authorization under uid 65534 ---- */

struct nobody_args {
        struct th_agent *t;
        const char *root_sealed;
};

static const struct {
        const char *name, *method, *purpose, *expect;
} nobody_cases[] = {
        { "derive-luks2",      M_DERIVE, "luks2",          E_NOT_PERMITTED },
        { "derive-own",        M_DERIVE, "user/65534/x",   "ok" },
        { "derive-root-user",  M_DERIVE, "user/0/x",       E_NOT_PERMITTED },
        { "derive-cred",       M_DERIVE, "cred/demo",      E_NOT_PERMITTED },
        { "derive-other-user", M_DERIVE, "user/1000/x",    E_NOT_PERMITTED },
        { "seal-own",          M_SEAL,   "user/65534/pw",  "ok" },
        { "seal-cred",         M_SEAL,   "cred/demo",      E_NOT_PERMITTED },
        { "unseal-root",       M_UNSEAL, "user/0/x",       E_NOT_PERMITTED },
        { "status",            M_STATUS, NULL,             "ok" },
        { "report",            M_REPORT, NULL,             "ok" },
};

static json_object *nobody_params(struct nobody_args *a, size_t i) {
        const char *m = nobody_cases[i].method;

        if (strcmp(m, M_DERIVE) == 0)
                return derive_params(a->t, nobody_cases[i].purpose, NULL);
        if (strcmp(m, M_SEAL) == 0)
                return th_json("{\"purpose\":\"%s\",\"data\":\"eA==\"}", nobody_cases[i].purpose);
        if (strcmp(m, M_UNSEAL) == 0)
                return unseal_params(a->root_sealed, NULL);
        return json_object_new_object();
}

/* Runs in the child (uid 65534): one line "name=result" per case. */
static int nobody_run(void *arg, int wfd) {
        struct nobody_args *a = arg;

        for (size_t i = 0; i < ELEMENTSOF(nobody_cases); i++) {
                json_object *reply = NULL;
                char line[256];
                int r = th_call(a->t->sock, nobody_cases[i].method, nobody_params(a, i), &reply);

                if (r < 0)
                        snprintf(line, sizeof(line), "%s=transport:%s\n", nobody_cases[i].name, strerror(-r));
                else if (!th_error(reply))
                        snprintf(line, sizeof(line), "%s=ok\n", nobody_cases[i].name);
                else    /* a refusal names the uid and the purpose */
                        snprintf(line, sizeof(line), "%s=%s%s\n", nobody_cases[i].name, th_error(reply),
                                 strstr(th_message(reply), "uid 65534") &&
                                 (!nobody_cases[i].purpose ||
                                  strcmp(th_str(th_params(reply), "purpose") ?: "", nobody_cases[i].purpose) == 0)
                                 ? " (uid and purpose named)" : " (message incomplete)");
                json_object_put(reply);
                if (write(wfd, line, strlen(line)) < 0)
                        return -errno;
        }
        return 0;
}

static void test_nonroot_authorization(void **state) {
        struct th_agent *t = *state;
        struct nobody_args a = { .t = t };
        char out[4096], want[256];
        struct stat st;

        /* the socket must be reachable by everyone: authorization is per call */
        assert_int_equal(stat(t->sock, &st), 0);
        assert_true((st.st_mode & 0777) == 0666);
        a.root_sealed = seal(t, "user/0/x", "root's secret", NULL);
        assert_int_equal(th_run_as_nobody(nobody_run, &a, out, sizeof(out)), 0);
        for (size_t i = 0; i < ELEMENTSOF(nobody_cases); i++) {
                bool refused = strcmp(nobody_cases[i].expect, "ok") != 0;

                snprintf(want, sizeof(want), "%s=%s%s\n", nobody_cases[i].name, nobody_cases[i].expect,
                         refused ? " (uid and purpose named)" : "");
                if (!strstr(out, want))
                        print_message("# expected \"%s\" in:\n%s", want, out);
                assert_non_null(strstr(out, want));
        }
        free((char *) a.root_sealed);
}

/* ---- issue 11, finding 1: forged objects and the scrypt bomb, as uid 65534 ---- */

struct forge_args {
        struct th_agent *t;
};

static long long forge_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "name=<error name or ok>: <message>" for an Unseal of text. */
static void forge_try(struct forge_args *a, int wfd, const char *name, const char *text, const char *pw) {
        json_object *params = json_object_new_object(), *reply = NULL;
        long long start = forge_now_ms();
        int r;

        json_object_object_add(params, "sealed", json_object_new_string(text));
        if (pw)
                json_object_object_add(params, "password", json_object_new_string(pw));
        r = th_call(a->t->sock, M_UNSEAL, params, &reply);
        dprintf(wfd, "%s=%s (%s) %lld ms\n", name, r < 0 ? "transport" : th_error(reply) ?: "ok",
                r < 0 ? strerror(-r) : th_message(reply), forge_now_ms() - start);
        json_object_put(reply);
}

/* Replace the first "from" in text by "to" (same or shorter length room: a new string). */
static char *forge_edit(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        char *out;

        if (!at || asprintf(&out, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from)) < 0)
                return NULL;
        return out;
}

static int forge_run(void *arg, int wfd) {
        struct forge_args *a = arg;
        json_object *reply = NULL, *params, *binding;
        struct sealed_object o = { 0 };
        char err[256] = "", *salt = NULL, *forged = NULL, *v1 = NULL, *bomb = NULL, *out = NULL, *text = NULL;
        _cleanup_secret_ uint8_t *key = secret_alloc(KDF_KEY_LEN);
        size_t n = 0;
        int r;

        /* the user's own password-protected object */
        r = th_call(a->t->sock, M_SEAL, th_json("{\"purpose\":\"user/65534/pw\",\"data\":\"c2VjcmV0\","
                                                "\"password\":\"the-password\"}"), &reply);
        if (r < 0 || th_error(reply) || !th_str(th_params(reply), "sealed") ||
            !(text = strdup(th_str(th_params(reply), "sealed"))))
                return dprintf(wfd, "error: Seal failed\n"), -EPROTO;
        if (sealed_parse(text, strlen(text), &o, err, sizeof(err)) < 0 || !key)
                return dprintf(wfd, "error: %s\n", err), -EPROTO;
        dprintf(wfd, "format=%u\n", o.format);
        /* DeriveKey with the object's binding, salt and purpose */
        salt = th_b64(o.salt, sizeof(o.salt));
        binding = snp_binding_to_json(&o.binding);
        params = json_object_new_object();
        json_object_object_add(params, "binding", binding);
        json_object_object_add(params, "salt", json_object_new_string(salt));
        json_object_object_add(params, "purpose", json_object_new_string(o.purpose));
        json_object_put(reply);
        reply = NULL;
        r = th_call(a->t->sock, M_DERIVE, params, &reply);
        if (r < 0 || th_error(reply) || th_unb64(th_str(th_params(reply), "key") ?: "", key, KDF_KEY_LEN, &n) < 0 ||
            n != KDF_KEY_LEN)
                return dprintf(wfd, "error: DeriveKey failed\n"), -EPROTO;
        /* that key no longer opens the object's VM layer (and its escrow) */
        r = sealed_rewrap(&o, key, key, NULL, 0, NULL, 0, &out);
        dprintf(wfd, "escrow=%s\n", r == -EBADMSG ? "refused" : r == 0 ? "OPENED" : strerror(-r));
        free(out);
        /* an object forged under that key: does not authenticate */
        if (sealed_seal(o.purpose, &o.binding, o.identity, o.salt, key, "forged", 6, "x", 1, &forged) < 0)
                return dprintf(wfd, "error: cannot forge\n"), -EPROTO;
        forge_try(a, wfd, "forged-v2", forged, "x");
        /* the same relabelled format 1 (whose key DeriveKey returns): refused */
        v1 = forge_edit(forged, "\"format\": 2", "\"format\": 1");
        forge_try(a, wfd, "forged-v1", v1 ? v1 : "", "x");
        /* the scrypt bomb: N=2^20, r=32, p=16 */
        bomb = forge_edit(forged, "\"n\": 32768", "\"n\": 1048576");
        out = bomb ? forge_edit(bomb, "\"r\": 8", "\"r\": 32") : NULL;
        free(bomb);
        bomb = out ? forge_edit(out, "\"p\": 1", "\"p\": 16") : NULL;
        free(out);
        forge_try(a, wfd, "bomb", bomb ? bomb : "", "x");
        /* the genuine object still opens with its password only */
        forge_try(a, wfd, "genuine", text, "the-password");
        json_object_put(reply);
        sealed_object_done(&o);
        free(salt);
        free(forged);
        free(v1);
        free(bomb);
        free(text);
        return 0;
}

static void test_forged_objects(void **state) {
        struct th_agent *t = *state;
        struct forge_args a = { .t = t };
        char out[8192];
        const char *bomb;

        /* the agent's own cost: objects carry N=2^15 r=8 p=1 */
        assert_int_equal(th_run_as_nobody(forge_run, &a, out, sizeof(out)), 0);
        print_message("# %s", out);
        assert_non_null(strstr(out, "format=2\n"));
        assert_non_null(strstr(out, "escrow=refused\n"));
        assert_non_null(strstr(out, "forged-v2=io.snpseal.Agent.InvalidParameter (sealed object does not "
                                    "authenticate"));
        assert_non_null(strstr(out, "forged-v1=io.snpseal.Agent.InvalidParameter (sealed object format 1 is "
                                    "refused from uid 65534"));
        assert_non_null(strstr(out, "bomb=io.snpseal.Agent.InvalidParameter (malformed sealed object: sealed "
                                    "object: \"password.n\" must be a power of two from 1024 to 32768"));
        bomb = strstr(out, "bomb=");
        assert_true(atoi(strstr(bomb, ") ") + 2) < 1000);
        assert_non_null(strstr(out, "genuine=ok"));
}

/* ---- identity change, wrong VM vs wrong password, tampering ---- */

static void test_identity_change(void **state) {
        struct th_agent *t = *state;
        char *plain = seal(t, "cred/db", "db password", NULL);
        char *withpw = seal(t, "user/0/mail", "mail password", "right");
        char *old = th_hex(t->sim.measurement, sizeof(t->sim.measurement)), *cur;
        char old8[9], cur8[9];
        json_object *reply, *diffs;

        /* same VM: wrong password is a wrong password */
        json_object_put(call_err(t, M_UNSEAL, unseal_params(withpw, "wrong"), E_WRONG_PASSWORD, NULL));
        /* reboot into another image */
        assert_int_equal(stop_agent_ok(t), 0);
        t->sim.measurement[0] ^= 0xff;
        assert_int_equal(th_agent_save_state(t), 0);
        restart_agent(t, NULL);
        cur = th_hex(t->sim.measurement, sizeof(t->sim.measurement));
        snprintf(old8, sizeof(old8), "%.8s", old);
        snprintf(cur8, sizeof(cur8), "%.8s", cur);
        reply = call_err(t, M_UNSEAL, unseal_params(plain, NULL), E_MISMATCH, "measurement", old8, cur8, NULL);
        assert_true(json_object_object_get_ex(th_params(reply), "differences", &diffs));
        assert_int_equal(json_object_array_length(diffs), 1);
        assert_string_equal(th_str(json_object_array_get_idx(diffs, 0), "field"), "measurement");
        assert_string_equal(th_str(json_object_array_get_idx(diffs, 0), "sealed"), old);
        assert_string_equal(th_str(json_object_array_get_idx(diffs, 0), "current"), cur);
        json_object_put(reply);
        /* another VM: neither the right nor a wrong password is a "wrong password" */
        json_object_put(call_err(t, M_UNSEAL, unseal_params(withpw, "right"), E_MISMATCH, "measurement", NULL));
        json_object_put(call_err(t, M_UNSEAL, unseal_params(withpw, "wrong"), E_MISMATCH, "measurement", NULL));
        /* back to the original image: opens again */
        t->sim.measurement[0] ^= 0xff;
        assert_int_equal(th_agent_save_state(t), 0);
        assert_unseals_to(t, plain, NULL, "db password");
        assert_unseals_to(t, withpw, "right", "mail password");
        free(plain);
        free(withpw);
        free(old);
        free(cur);
}

static void test_other_chip(void **state) {
        struct th_agent *t = *state;
        char *withpw = seal(t, "user/0/mail", "mail password", "right");

        /* same identity, another chip: the VM layer does not authenticate */
        assert_int_equal(th_agent_set_state(t, "chip_secret",
                                            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"), 0);
        json_object_put(call_err(t, M_UNSEAL, unseal_params(withpw, "right"), E_INVALID, "another machine", NULL));
        json_object_put(call_err(t, M_UNSEAL, unseal_params(withpw, "wrong"), E_INVALID, "another machine", NULL));
        free(withpw);
}

enum mutation {
        MUT_B64,        /* change the first base64 character */
        MUT_HEX,        /* change the first hex digit */
        MUT_INT_XOR1,
        MUT_INT_HALF,
        MUT_STRING,     /* replace by value */
        MUT_DROP_LAST,  /* drop an array's last element */
        MUT_REMOVE,
        MUT_ADD,        /* add an unknown key "extra" to the object at path */
};

static const struct tamper_case {
        const char *path;       /* "key" or "object.key" */
        enum mutation how;
        const char *value;
        const char *error;      /* expected error */
        const char *alt_error;  /* also acceptable, or NULL */
} tamper_cases[] = {
        { "format",               MUT_INT_XOR1, NULL,       E_INVALID,  NULL },
        { "purpose",              MUT_STRING,   "user/0/y", E_INVALID,  NULL },
        { "binding.vmpl",         MUT_INT_XOR1, NULL,       E_INVALID,  NULL },
        { "binding.guest_svn",    MUT_INT_XOR1, NULL,       E_INVALID,  NULL },
        { "binding.tcb_version",  MUT_STRING,   "02000000000008d1", E_INVALID, NULL },
        { "binding.tcb_version",  MUT_STRING,   "04000000000008d1", E_MISMATCH, E_INVALID },
        { "binding.fields",       MUT_DROP_LAST, NULL,      E_INVALID,  E_MISMATCH },
        { "binding.root_key",     MUT_STRING,   "vlek",     E_INVALID,  E_FIRMWARE },
        { "identity.measurement", MUT_HEX,      NULL,       E_MISMATCH, E_INVALID },
        { "identity.policy",      MUT_STRING,   "0x30001",  E_MISMATCH, E_INVALID },
        { "salt",                 MUT_B64,      NULL,       E_INVALID,  NULL },
        { "nonce",                MUT_B64,      NULL,       E_INVALID,  NULL },
        { "ciphertext",           MUT_B64,      NULL,       E_INVALID,  NULL },
        { "tag",                  MUT_B64,      NULL,       E_INVALID,  NULL },
        { "password.salt",        MUT_B64,      NULL,       E_INVALID,  NULL },
        { "password.n",           MUT_INT_HALF, NULL,       E_INVALID,  NULL },
        { "password.r",           MUT_INT_XOR1, NULL,       E_INVALID,  NULL },
        { "password.nonce",       MUT_B64,      NULL,       E_INVALID,  NULL },
        { "password.tag",         MUT_B64,      NULL,       E_INVALID,  NULL },
        { "password",             MUT_REMOVE,   NULL,       E_INVALID,  NULL },
        { "tag",                  MUT_REMOVE,   NULL,       E_INVALID,  NULL },
        { "",                     MUT_ADD,      NULL,       E_INVALID,  NULL },
        { "binding",              MUT_ADD,      NULL,       E_INVALID,  NULL },
};

static void mutate_string(json_object *parent, const char *key, const struct tamper_case *c, const char *s) {
        char *copy;

        if (c->how == MUT_STRING) {
                json_object_object_add(parent, key, json_object_new_string(c->value));
                return;
        }
        copy = strdup(s);
        assert_non_null(copy);
        if (c->how == MUT_B64)
                copy[0] = copy[0] == 'A' ? 'B' : 'A';
        else
                copy[0] = copy[0] == '0' ? '1' : '0';
        json_object_object_add(parent, key, json_object_new_string(copy));
        free(copy);
}

static void mutate(json_object *root, const struct tamper_case *c) {
        char path[64], *key = path, *dot;
        json_object *parent = root, *v = NULL;

        snprintf(path, sizeof(path), "%s", c->path);
        if ((dot = strchr(path, '.'))) {
                *dot = 0;
                assert_true(json_object_object_get_ex(root, path, &parent));
                key = dot + 1;
        }
        if (c->how == MUT_ADD) {
                if (*key)
                        assert_true(json_object_object_get_ex(parent, key, &parent));
                json_object_object_add(parent, "extra", json_object_new_int(1));
                return;
        }
        if (!json_object_object_get_ex(parent, key, &v))
                print_message("# sealed object has no \"%s\"\n", c->path);
        assert_non_null(v);
        switch (c->how) {
        case MUT_INT_XOR1:
                json_object_object_add(parent, key, json_object_new_int64(json_object_get_int64(v) ^ 1));
                break;
        case MUT_INT_HALF:
                json_object_object_add(parent, key, json_object_new_int64(json_object_get_int64(v) / 2));
                break;
        case MUT_DROP_LAST:
                assert_true(json_object_array_length(v) > 1);
                json_object_array_del_idx(v, json_object_array_length(v) - 1, 1);
                break;
        case MUT_REMOVE:
                json_object_object_del(parent, key);
                break;
        default:
                mutate_string(parent, key, c, json_object_get_string(v));
                break;
        }
}

static void test_tamper(void **state) {
        struct th_agent *t = *state;
        char *sealed = seal(t, "user/0/x", "tamper me", "pw");

        assert_unseals_to(t, sealed, "pw", "tamper me");
        for (size_t i = 0; i < ELEMENTSOF(tamper_cases); i++) {
                const struct tamper_case *c = &tamper_cases[i];
                json_object *o = th_json("%s", sealed), *reply;
                const char *e;

                assert_non_null(o);
                mutate(o, c);
                reply = call(t, M_UNSEAL,
                             unseal_params(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "pw"));
                e = th_error(reply);
                if (!e || (strcmp(e, c->error) != 0 && (!c->alt_error || strcmp(e, c->alt_error) != 0)))
                        print_message("# tampering %s: expected %s, got %s: %s\n", c->path[0] ? c->path : "(top)",
                                      c->error, e ? e : "success", th_message(reply));
                assert_non_null(e);
                assert_true(strcmp(e, c->error) == 0 || (c->alt_error && strcmp(e, c->alt_error) == 0));
                assert_true(th_message(reply)[0] != '\0');
                json_object_put(reply);
                json_object_put(o);
        }
        /* the original still opens */
        assert_unseals_to(t, sealed, "pw", "tamper me");
        free(sealed);
}

/* ---- --stdio ---- */

static void test_stdio(void **state) {
        static const char *const extra[] = { "--stdio", NULL };
        struct th_agent *t = *state;
        struct th_conn c;
        json_object *reply = NULL;
        char **argv = NULL;
        int sv[2], status = 0;
        pid_t pid;

        assert_int_equal(stop_agent_ok(t), 0);
        assert_int_equal(th_agent_argv(t, extra, &argv), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        fflush(stdout);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int log = open(t->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

                if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 || (log >= 0 && dup2(log, 2) < 0))
                        _exit(126);
                (void) unsetenv("NOTIFY_SOCKET");
                (void) unsetenv("LISTEN_FDS");
                (void) unsetenv("LISTEN_PID");
                execv(argv[0], argv);
                _exit(127);
        }
        free(argv);
        close(sv[1]);
        t->pid = pid;   /* the fixture kills it on failure */
        assert_int_equal(th_conn_from_fd(sv[0], &c), 0);
        assert_int_equal(th_conn_call(&c, M_STATUS, NULL, &reply), 0);
        assert_null(th_error(reply));
        assert_string_equal(th_str(th_params(reply), "backend"), "simulator");
        json_object_put(reply);
        th_conn_close(&c);
        assert_int_equal(th_agent_wait_exit(t, 10000, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- idle exit under socket activation ---- */

static const char *find_socket_activate(void) {
        static const char *const paths[] = {
                "/usr/bin/systemd-socket-activate", "/bin/systemd-socket-activate",
                "/usr/lib/systemd/systemd-socket-activate", "/lib/systemd/systemd-socket-activate",
        };

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

static int wait_for_path(const char *path, int timeout_ms) {
        for (int waited = 0; access(path, F_OK) < 0; waited += TH_POLL_STEP_MS) {
                if (waited >= timeout_ms)
                        return -ETIMEDOUT;
                usleep(TH_POLL_STEP_MS * 1000);
        }
        return 0;
}

static void test_idle_exit(void **state) {
        struct th_agent *t = *state;
        const char *sa = find_socket_activate();
        char listen[PATH_MAX + 8], notify_env[PATH_MAX + 16], state_opt[PATH_MAX + 32], conf_opt[PATH_MAX + 16];
        char cred_opt[PATH_MAX + 32];
        json_object *reply = NULL;
        int status = 0;

        if (!sa) {
                print_message("# systemd-socket-activate not found: skipping the idle-exit test\n");
                skip();
        }
        assert_int_equal(stop_agent_ok(t), 0);
        snprintf(listen, sizeof(listen), "%s/sa.sock", t->dir);
        snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", t->notify);
        snprintf(state_opt, sizeof(state_opt), "--simulator-state=%s", t->state);
        snprintf(conf_opt, sizeof(conf_opt), "--config=%s", t->conf);
        snprintf(cred_opt, sizeof(cred_opt), "--credentials-listen=%s", t->cred_sock);
        char *const argv[] = {
                (char *) sa, (char *) "-l", listen, (char *) "--fdname=varlink", (char *) "-E", notify_env,
                (char *) getenv("SNPSEALD"), (char *) "--backend=simulator", state_opt, conf_opt, cred_opt,
                (char *) "--idle-exit=1", NULL,
        };
        assert_non_null(getenv("SNPSEALD"));
        assert_int_equal(th_agent_spawn(t, argv), 0);
        /* systemd-socket-activate binds, and on the first connection becomes
         * the agent (same pid), which then answers the queued call */
        assert_int_equal(wait_for_path(listen, 10000), 0);
        assert_int_equal(th_call(listen, M_STATUS, json_object_new_object(), &reply), 0);
        assert_null(th_error(reply));
        json_object_put(reply);
        assert_int_equal(th_agent_wait_ready(t), 0);
        assert_int_equal(th_agent_wait_exit(t, 10000, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_agent, teardown_agent)
                T(test_notify_ready),
                T(test_get_status),
                T(test_service_interface),
                T(test_derive_key),
                T(test_derive_key_errors),
                T(test_seal_unseal),
                T(test_seal_errors),
                T(test_rate_limited),
                T(test_rate_limit_decoy),
                T(test_forged_objects),
                T(test_get_report),
                T(test_firmware_errors),
                T(test_nonroot_authorization),
                T(test_identity_change),
                T(test_other_chip),
                T(test_tamper),
                T(test_stdio),
                T(test_idle_exit),
#undef T
        };

        return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The operations behind io.snpseal.Agent's methods, on parameters that
 * agent-methods.c has validated: reports, key derivation, sealing and
 * unsealing, and the mapping of failures to varlink errors.
 *
 * Helpers here return 0 or a negative errno; on failure they have set the
 * reply to the varlink error to send, except for -ENOMEM before a reply could
 * be built. op_finish() turns that into the methods' return value.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "agent.h"
#include "base64.h"
#include "binding.h"
#include "hexutil.h"
#include "json-util.h"
#include "kdf.h"
#include "purpose.h"
#include "sealed.h"
#include "secret.h"
#include "snp-cert-table.h"
#include "snp-decode.h"

/* ---- replies ---- */

static int reply_add(struct agent_reply *reply, const char *key, json_object *v) {
        if (!v || !reply->parameters)
                return -ENOMEM;
        if (json_object_object_add(reply->parameters, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

_printf_(3, 0) static int reply_verror(struct agent_reply *reply, const char *error, const char *fmt, va_list ap) {
        char message[1024];
        json_object *o, *m;

        (void) vsnprintf(message, sizeof(message), fmt, ap);
        agent_reply_done(reply);
        o = json_object_new_object();
        m = json_object_new_string(message);
        if (!o || !m || json_object_object_add(o, "message", m) < 0) {
                json_object_put(o);
                json_object_put(m);
                return -ENOMEM;
        }
        reply->error = error;
        reply->parameters = o;
        return 0;
}

int agent_reply_error(struct agent_reply *reply, const char *error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = reply_verror(reply, error, fmt, ap);
        va_end(ap);
        return r;
}

int agent_reply_invalid_parameter(struct agent_reply *reply, const char *parameter, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = reply_verror(reply, AGENT_ERROR_INVALID_PARAMETER, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return reply_add(reply, "parameter", json_object_new_string(parameter));
}

void agent_reply_done(struct agent_reply *reply) {
        json_object_put_wipe(reply->parameters);
        reply->parameters = NULL;
        reply->error = NULL;
}

/* A success reply with an empty parameter object to fill. */
static int reply_success(struct agent_reply *reply) {
        agent_reply_done(reply);
        reply->parameters = json_object_new_object();
        return reply->parameters ? 0 : -ENOMEM;
}

/* Helpers fail with the reply set: the call was handled. */
static int op_finish(struct agent_reply *reply, int r) {
        if (r >= 0 || reply->error)
                return 0;
        agent_reply_done(reply);
        return r;
}

/* Set the error reply and return code (< 0), or -ENOMEM. */
static int fail(int code, int r) {
        return r < 0 ? r : code;
}

static const struct backend_error_map {
        int code;
        const char *error;
} backend_error_map[] = {
        { -ENOENT, AGENT_ERROR_DEVICE_UNAVAILABLE },
        { -EACCES, AGENT_ERROR_DEVICE_UNAVAILABLE },
        { -EPERM,  AGENT_ERROR_DEVICE_UNAVAILABLE },
        { -ENOTTY, AGENT_ERROR_DEVICE_UNAVAILABLE },
        /* refused before it was sent: the caller asked for something invalid */
        { -EINVAL, AGENT_ERROR_INVALID_PARAMETER },
        { -ERANGE, AGENT_ERROR_INVALID_PARAMETER },
};

int agent_reply_backend_error(struct agent_reply *reply, const struct snp_error *err) {
        const char *message = err->message[0] ? err->message : strerror(err->code < 0 ? -err->code : EIO);
        int r;

        if (err->code == -ENOMEM)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(backend_error_map); i++)
                if (backend_error_map[i].code == err->code)
                        return agent_reply_error(reply, backend_error_map[i].error, "%s", message);

        r = agent_reply_error(reply, AGENT_ERROR_FIRMWARE_ERROR, "%s", message);
        if (r >= 0)
                r = reply_add(reply, "fw_status", json_object_new_int64(err->fw_status));
        if (r >= 0)
                r = reply_add(reply, "vmm_error", json_object_new_int64(err->vmm_error));
        if (r >= 0)
                r = reply_add(reply, "errno", json_object_new_int(err->code < 0 ? -err->code : EIO));
        return r;
}

/* ---- firmware ---- */

static int get_report(struct agent *a, const uint8_t *report_data, uint32_t vmpl, struct snp_report *ret,
                      struct agent_reply *reply) {
        struct snp_error err = {};
        int r;

        r = snp_backend_get_report(a->backend, report_data, vmpl, ret, &err);
        if (r < 0)
                return fail(r, agent_reply_backend_error(reply, &err));
        return 0;
}

/* K_use for binding, salt, purpose and optional PIN into k_use (secret
 * memory); with k_mac, also the LUKS2 header MAC key (kdf.h) from the same
 * firmware key. */
static int derive_use_key(struct agent *a, const struct snp_binding *b, const uint8_t salt[KDF_SALT_LEN],
                          const char *purpose, const char *pin, size_t pin_len, uint8_t k_use[KDF_KEY_LEN],
                          uint8_t *k_mac, struct agent_reply *reply) {
        _cleanup_secret_ uint8_t *k_fw = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req;
        struct snp_error err = {};
        int r;

        if (!k_fw)
                return -ENOMEM;
        snp_binding_to_key_req(b, &req);
        r = snp_backend_derive_key(a->backend, &req, k_fw, &err);
        if (r < 0)
                return fail(r, agent_reply_backend_error(reply, &err));
        r = kdf_purpose_key(k_fw, salt, purpose, pin, pin_len, k_use);
        if (r >= 0 && k_mac)
                r = kdf_header_mac_key(k_fw, salt, k_mac);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(r, agent_reply_error(reply, AGENT_ERROR_FIRMWARE_ERROR,
                                                 "key derivation (HKDF) failed: %s", strerror(-r)));
        return 0;
}

/* K_fw for binding b into k_fw (SNP_KEY_LEN bytes of secret memory). */
static int firmware_key(struct agent *a, const struct snp_binding *b, uint8_t *k_fw, struct agent_reply *reply) {
        struct snp_msg_key_req req;
        struct snp_error err = {};
        int r;

        snp_binding_to_key_req(b, &req);
        r = snp_backend_derive_key(a->backend, &req, k_fw, &err);
        if (r < 0)
                return fail(r, agent_reply_backend_error(reply, &err));
        return 0;
}

/* A sealed object's key (sealed_object_key) for its format into k_use, and
 * with k_new also the key of the format written now, for the same salt. */
static int derive_sealed_key(struct agent *a, const struct snp_binding *b, const uint8_t salt[SEALED_SALT_LEN],
                             const char *purpose, unsigned format, uint8_t k_use[KDF_KEY_LEN], uint8_t *k_new,
                             struct agent_reply *reply) {
        _cleanup_secret_ uint8_t *k_fw = secret_alloc(SNP_KEY_LEN);
        int r;

        if (!k_fw)
                return -ENOMEM;
        r = firmware_key(a, b, k_fw, reply);
        if (r < 0)
                return r;
        r = sealed_object_key(k_fw, salt, purpose, format, k_use);
        if (r >= 0 && k_new)
                r = sealed_object_key(k_fw, salt, purpose, sealed_write_format(), k_new);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(r, agent_reply_error(reply, AGENT_ERROR_FIRMWARE_ERROR,
                                                 "key derivation (HKDF) failed: %s", strerror(-r)));
        return 0;
}

static int check_access(const char *purpose, const struct agent_peer *peer, struct agent_reply *reply) {
        int r = purpose_check_access(purpose, peer->uid);

        if (r == -EPERM) {
                r = agent_reply_error(reply, AGENT_ERROR_NOT_PERMITTED,
                                      "purpose \"%s\" is not permitted for uid %u: only root may use luks2 and "
                                      "cred/…; other users may use only user/%u/…",
                                      purpose, (unsigned) peer->uid, (unsigned) peer->uid);
                if (r >= 0)
                        r = reply_add(reply, "purpose", json_object_new_string(purpose));
                return fail(-EPERM, r);
        }
        if (r < 0)
                return fail(r, agent_reply_invalid_parameter(reply, "purpose", "invalid purpose \"%s\"", purpose));
        return 0;
}

/* The binding floor where keys are used (binding.h): keys for LUKS2
 * volumes, credentials and sealed objects protect persistent data that the
 * host supplies, so no binding a client sends may lower it; only the
 * administrator's allow_weak_bindings does. */
static int check_floor(struct agent *a, const struct snp_binding *b, const char *what,
                       struct agent_reply *reply) {
        char errbuf[512] = "";
        int r;

        if (a->cfg.allow_weak_bindings)
                return 0;
        r = snp_binding_check_floor(b, errbuf, sizeof(errbuf));
        if (r < 0)
                return fail(r, agent_reply_error(reply, AGENT_ERROR_NOT_PERMITTED, "%s: %s; refused (only "
                                                 "allow_weak_bindings = yes in snpseald.conf allows it)",
                                                 what, errbuf));
        return 0;
}

/* DeriveKey purposes under the floor: luks2 and cred/…; user/… keys are
 * the caller's own business. */
static bool purpose_needs_floor(const char *purpose) {
        return strcmp(purpose, "luks2") == 0 || strncmp(purpose, "cred/", 5) == 0;
}

/* ---- identity ---- */

/* The identity keys compared field by field; the TCB is not compared as a
 * value (a newer committed TCB still derives the sealed key) but checked
 * against the committed TCB instead. */
static const char *const identity_compared[] = {
        "measurement", "policy", "image_id", "family_id", "guest_svn",
};

static const char *identity_get(json_object *o, const char *key, json_object **ret_v) {
        json_object *v = NULL;

        if (!o || !json_object_object_get_ex(o, key, &v)) {
                *ret_v = NULL;
                return NULL;
        }
        *ret_v = v;
        return json_object_get_string(v) ?: "null";
}

static int differences_add(json_object *diffs, const char *field, const char *sealed, const char *current) {
        json_object *d = json_object_new_object();

        if (!d)
                return -ENOMEM;
        if (json_object_array_add(diffs, d) < 0) {
                json_object_put(d);
                return -ENOMEM;
        }
        if (json_object_object_add(d, "field", json_object_new_string(field)) < 0 ||
            json_object_object_add(d, "sealed", sealed ? json_object_new_string(sealed) : NULL) < 0 ||
            json_object_object_add(d, "current", current ? json_object_new_string(current) : NULL) < 0)
                return -ENOMEM;
        return 0;
}

/* The recorded identity against the running VM's: one difference per field
 * and the diff lines into msg. Returns the number of differences. */
static int identity_compare(json_object *recorded, const struct snp_binding *b, const struct snp_report *r,
                            json_object *diffs, char *msg, size_t size) {
        _cleanup_(json_object_putp) json_object *current = NULL, *stripped = NULL;
        struct snp_binding cb = *b;
        int n, k;

        cb.fields &= ~SNP_FIELD_TCB_VERSION;
        if (snp_binding_identity_json(&cb, r, &current) < 0 || !(stripped = json_object_new_object()))
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(identity_compared); i++) {
                json_object *sv, *cv;
                const char *s = identity_get(recorded, identity_compared[i], &sv);
                const char *c = identity_get(current, identity_compared[i], &cv);

                if (sv && json_object_object_add(stripped, identity_compared[i], json_object_get(sv)) < 0)
                        return -ENOMEM;
                if ((!s && !c) || (s && c && strcmp(s, c) == 0))
                        continue;
                k = differences_add(diffs, identity_compared[i], s, c);
                if (k < 0)
                        return k;
        }
        n = snp_identity_diff(stripped, current, msg, size);
        return n < 0 ? n : (int) json_object_array_length(diffs);
}

/* The TCB rule: the firmware derives keys only at or below the committed TCB. */
static int tcb_compare(const struct snp_binding *b, const struct snp_report *r, json_object *diffs,
                       char *msg, size_t size) {
        char sealed[TCB_HEX_LEN + 1], committed[TCB_HEX_LEN + 1];
        size_t used = strlen(msg);

        if (snp_tcb_le(b->tcb_version, r->committed_tcb))
                return 0;
        tcb_to_hex(b->tcb_version, sealed);
        tcb_to_hex(r->committed_tcb, committed);
        if (used < size)
                (void) snprintf(msg + used, size - used, "%sfirmware older than the sealed TCB: sealed to %s, "
                                "committed %s; update the host firmware, or unlock another way and reseal",
                                used > 0 ? "\n" : "", sealed, committed);
        return differences_add(diffs, "tcb_version", sealed, committed);
}

/* IdentityMismatch when the recorded identity (may be NULL) differs from
 * the running VM in a bound field, or the binding's TCB is above the
 * committed one. */
static int identity_check(json_object *recorded, const struct snp_binding *b, const struct snp_report *r,
                          struct agent_reply *reply) {
        _cleanup_(json_object_putp) json_object *diffs = json_object_new_array();
        char msg[1024] = "";
        int n;

        if (!diffs)
                return -ENOMEM;
        if (recorded) {
                n = identity_compare(recorded, b, r, diffs, msg, sizeof(msg));
                if (n < 0)
                        return n;
        }
        n = tcb_compare(b, r, diffs, msg, sizeof(msg));
        if (n < 0)
                return n;
        if (json_object_array_length(diffs) == 0)
                return 0;
        n = agent_reply_error(reply, AGENT_ERROR_IDENTITY_MISMATCH, "%s", msg);
        if (n >= 0)
                n = reply_add(reply, "differences", TAKE_PTR(diffs));
        return fail(-EKEYREJECTED, n);
}

/* The launch's report, kept by the backend (backend.h: the values a key
 * request is checked against do not change during a launch), with the
 * recorded identity checked against it; on a mismatch once more against a
 * fresh report (the committed TCB may have risen) before refusing. */
static int launch_identity(struct agent *a, json_object *recorded, const struct snp_binding *b,
                           struct snp_report *ret, struct agent_reply *reply) {
        struct snp_error err = {};
        int r;

        r = snp_backend_launch_report(a->backend, ret, &err);
        if (r < 0)
                return fail(r, agent_reply_backend_error(reply, &err));
        r = identity_check(recorded, b, ret, reply);
        if (r != -EKEYREJECTED)
                return r;
        agent_reply_done(reply);
        r = get_report(a, NULL, a->backend->own_vmpl, ret, reply);
        if (r < 0)
                return r;
        return identity_check(recorded, b, ret, reply);
}

/* ---- encoding ---- */

/* base64 of secret bytes as a JSON string (the reply is wiped on free). */
static json_object *secret_base64_json(const void *data, size_t size) {
        size_t len = base64_encoded_len(size);
        _cleanup_secret_ char *b64 = NULL;

        if (len == SIZE_MAX || !(b64 = secret_alloc(len + 1)))
                return NULL;
        if (base64_encode(data, size, b64, len + 1) < 0)
                return NULL;
        return json_object_new_string_len(b64, (int) len);
}

static json_object *hex_json(const void *data, size_t size) {
        _cleanup_(freep) char *hex = hex_encode_alloc(data, size);

        return hex ? json_object_new_string(hex) : NULL;
}

static json_object *tcb_json(uint64_t tcb) {
        char hex[TCB_HEX_LEN + 1];

        tcb_to_hex(tcb, hex);
        return json_object_new_string(hex);
}

/* ---- GetStatus ---- */

static json_object *tcb_decoded_json(const struct snp_report *r) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const struct { const char *key; uint64_t raw; } tcbs[] = {
                { "launch", r->launch_tcb },
                { "committed", r->committed_tcb },
                { "current", r->current_tcb },
                { "reported", r->reported_tcb },
        };
        bool assumed;
        enum snp_tcb_layout layout = snp_report_tcb_layout(r, &assumed);

        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(tcbs); i++) {
                json_object *v = snp_tcb_to_json(tcbs[i].raw, layout, assumed);

                if (!v || json_object_object_add(o, tcbs[i].key, v) < 0) {
                        json_object_put(v);
                        return NULL;
                }
        }
        return TAKE_PTR(o);
}

int agent_op_get_status(struct agent *a, struct agent_reply *reply) {
        struct snp_report rep;
        char policy[2 + 16 + 1];
        int r;

        r = get_report(a, NULL, a->backend->own_vmpl, &rep, reply);
        if (r < 0)
                return op_finish(reply, r);
        (void) snprintf(policy, sizeof(policy), "0x%016" PRIx64, rep.policy);
        const struct { const char *key; json_object *v; } fields[] = {
                { "backend", json_object_new_string(a->backend_name ?: a->backend->ops->name) },
                { "vmpl", json_object_new_int64(a->backend->own_vmpl) },
                { "measurement", hex_json(rep.measurement, sizeof(rep.measurement)) },
                { "policy", json_object_new_string(policy) },
                { "policy_flags", snp_policy_to_json(rep.policy) },
                { "family_id", hex_json(rep.family_id, sizeof(rep.family_id)) },
                { "image_id", hex_json(rep.image_id, sizeof(rep.image_id)) },
                { "guest_svn", json_object_new_int64(rep.guest_svn) },
                { "launch_tcb", tcb_json(rep.launch_tcb) },
                { "committed_tcb", tcb_json(rep.committed_tcb) },
                { "current_tcb", tcb_json(rep.current_tcb) },
                { "reported_tcb", tcb_json(rep.reported_tcb) },
                { "tcb_decoded", tcb_decoded_json(&rep) },
                { "platform_info", snp_platform_info_to_json(rep.platform_info) },
                { "version", json_object_new_string(PACKAGE_VERSION) },
        };

        r = reply_success(reply);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (r >= 0)
                        r = reply_add(reply, fields[i].key, fields[i].v);
                else
                        json_object_put(fields[i].v);
        }
        return op_finish(reply, r);
}

/* ---- GetReport ---- */

int agent_report_data_for_uid(uid_t uid, const uint8_t data[SNP_REPORT_DATA_LEN],
                              uint8_t ret[SNP_REPORT_DATA_LEN]) {
        static const char label[] = AGENT_REPORT_UID_LABEL;
        const uint8_t be[4] = { (uint8_t) (uid >> 24), (uint8_t) (uid >> 16), (uint8_t) (uid >> 8), (uint8_t) uid };
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned n = 0;
        int r = 0;

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1 || EVP_DigestUpdate(ctx, label, sizeof(label)) != 1 ||
            EVP_DigestUpdate(ctx, be, sizeof(be)) != 1 || EVP_DigestUpdate(ctx, data, SNP_REPORT_DATA_LEN) != 1 ||
            EVP_DigestFinal_ex(ctx, ret, &n) != 1 || n != SNP_REPORT_DATA_LEN)
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        return r;
}

/* For a caller other than root, the report speaks for the caller, not the
 * workload: REPORT_DATA binds its uid (agent_report_data_for_uid). */
/* The host's certificate table as [{"kind": "vcek"|"ask"|…, "der": base64}];
 * entries of unknown GUIDs are left out. An unreadable table is an empty
 * list: the relying party fetches what it lacks from AMD. */
static json_object *certs_to_json(const uint8_t *blob) {
        struct snp_cert_entry e[SNP_CERT_TABLE_MAX];
        json_object *list = json_object_new_array();
        size_t n = 0;

        if (!list)
                return NULL;
        if (snp_cert_table_parse(blob, SNP_CERT_BLOB_MAX, e, ELEMENTSOF(e), &n, NULL, 0) < 0)
                n = 0;
        for (size_t i = 0; i < n; i++) {
                size_t len = base64_encoded_len(e[i].length);
                _cleanup_(freep) char *b64 = NULL;
                json_object *item;

                if (e[i].kind == SNP_CERT_GUID_OTHER)
                        continue;
                b64 = malloc(len + 1);
                item = json_object_new_object();
                if (!b64 || !item || base64_encode(blob + e[i].offset, e[i].length, b64, len + 1) < 0 ||
                    json_add(item, "kind", json_object_new_string(snp_cert_guid_to_string(e[i].kind))) < 0 ||
                    json_add(item, "der", json_object_new_string(b64)) < 0 ||
                    json_object_array_add(list, item) < 0) {
                        json_object_put(item);
                        json_object_put(list);
                        return NULL;
                }
        }
        return list;
}

static int get_ext_report(struct agent *a, const uint8_t *report_data, uint32_t vmpl, struct snp_report *ret,
                          json_object **ret_certs, struct agent_reply *reply) {
        _cleanup_(freep) uint8_t *blob = malloc(SNP_CERT_BLOB_MAX);
        struct snp_error err = {};
        int r;

        if (!blob)
                return -ENOMEM;
        r = snp_backend_get_ext_report(a->backend, report_data, vmpl, ret, blob, &err);
        if (r < 0)
                return fail(r, agent_reply_backend_error(reply, &err));
        *ret_certs = certs_to_json(blob);
        return *ret_certs ? 0 : -ENOMEM;
}

int agent_op_get_report(struct agent *a, const struct agent_peer *peer, const struct agent_report_params *p,
                        struct agent_reply *reply) {
        char b64[((SNP_REPORT_SIZE + 2) / 3) * 4 + 1], hex[2 * SNP_REPORT_DATA_LEN + 1];
        uint8_t data[SNP_REPORT_DATA_LEN];
        bool bound = peer->uid != 0;
        json_object *certs = NULL;
        struct snp_report rep;
        int r = 0;

        memcpy(data, p->report_data, sizeof(data));
        if (bound)
                r = agent_report_data_for_uid(peer->uid, p->report_data, data);
        if (r >= 0 && p->certificates)
                r = get_ext_report(a, data, p->vmpl, &rep, &certs, reply);
        else if (r >= 0)
                r = get_report(a, data, p->vmpl, &rep, reply);
        if (r < 0)
                return op_finish(reply, r);
        r = base64_encode(&rep, sizeof(rep), b64, sizeof(b64));
        if (r >= 0)
                r = reply_success(reply);
        if (r >= 0)
                r = reply_add(reply, "report", json_object_new_string(b64));
        if (r >= 0)
                r = reply_add(reply, "decoded", snp_report_to_json(&rep));
        if (r >= 0 && bound) {
                hex_encode(p->report_data, SNP_REPORT_DATA_LEN, hex);
                r = reply_add(reply, "bound_uid", json_object_new_int64(peer->uid));
                if (r >= 0)
                        r = reply_add(reply, "caller_report_data", json_object_new_string(hex));
        }
        if (r >= 0 && certs)
                r = reply_add(reply, "certificates", TAKE_PTR(certs));
        json_object_put(certs);
        return op_finish(reply, r);
}

/* ---- DeriveKey ---- */

int agent_op_derive_key(struct agent *a, const struct agent_peer *peer,
                        const struct agent_derive_params *p, struct agent_reply *reply) {
        _cleanup_secret_ uint8_t *k_use = secret_alloc(KDF_KEY_LEN), *k_mac = secret_alloc(KDF_KEY_LEN);
        json_object *identity = NULL;
        struct snp_report rep;
        int r;

        if (!k_use || !k_mac)
                return -ENOMEM;
        r = check_access(p->purpose, peer, reply);
        if (r >= 0 && purpose_needs_floor(p->purpose))
                r = check_floor(a, &p->binding, p->purpose, reply);
        if (r >= 0)
                r = launch_identity(a, p->expect, &p->binding, &rep, reply);
        if (r >= 0)
                r = derive_use_key(a, &p->binding, p->salt, p->purpose, p->pin, p->pin_len, k_use,
                                   strcmp(p->purpose, "luks2") == 0 ? k_mac : NULL, reply);
        if (r >= 0)
                r = snp_binding_identity_json(&p->binding, &rep, &identity);
        if (r >= 0)
                r = reply_success(reply);
        if (r >= 0)
                r = reply_add(reply, "key", secret_base64_json(k_use, KDF_KEY_LEN));
        if (r >= 0)
                r = reply_add(reply, "identity", TAKE_PTR(identity));
        if (r >= 0 && strcmp(p->purpose, "luks2") == 0)
                r = reply_add(reply, "macKey", secret_base64_json(k_mac, KDF_KEY_LEN));
        json_object_put(identity);
        return op_finish(reply, r);
}

/* ---- Seal ---- */

/* The binding to seal with: the given one (checked for persistent use and
 * against the platform's limits) or the default resolved against rep. */
static int seal_binding(struct agent *a, const struct agent_seal_params *p, const struct snp_report *rep,
                        struct snp_binding *ret, struct agent_reply *reply) {
        struct snp_binding_spec spec;
        char errbuf[512] = "";
        char want[TCB_HEX_LEN + 1], committed[TCB_HEX_LEN + 1];
        int r;

        if (!p->has_binding) {
                snp_binding_spec_init_default(&spec);
                r = snp_binding_resolve(&spec, rep, a->backend->own_vmpl, ret, errbuf, sizeof(errbuf));
                if (r < 0)
                        return fail(r, agent_reply_error(reply, AGENT_ERROR_FIRMWARE_ERROR,
                                                         "cannot resolve the default binding: %s", errbuf));
                return 0;
        }
        r = snp_binding_check_persistent(&p->binding, a->cfg.allow_weak_bindings, p->force, errbuf, sizeof(errbuf));
        if (r < 0)
                return fail(r, agent_reply_invalid_parameter(reply, "binding", "%s", errbuf));
        if (p->binding.vmpl < a->backend->own_vmpl)
                return fail(-ERANGE, agent_reply_invalid_parameter(reply, "binding",
                            "VMPL %" PRIu32 " is below this VM's VMPL %" PRIu32, p->binding.vmpl,
                            a->backend->own_vmpl));
        if (p->binding.guest_svn > rep->guest_svn)
                return fail(-ERANGE, agent_reply_invalid_parameter(reply, "binding",
                            "guest SVN %" PRIu32 " is above the launch SVN %" PRIu32 " of this VM",
                            p->binding.guest_svn, rep->guest_svn));
        if (!snp_tcb_le(p->binding.tcb_version, rep->committed_tcb)) {
                tcb_to_hex(p->binding.tcb_version, want);
                tcb_to_hex(rep->committed_tcb, committed);
                return fail(-ERANGE, agent_reply_invalid_parameter(reply, "binding",
                            "TCB %s is above the committed TCB %s: the firmware derives keys only at or below it",
                            want, committed));
        }
        *ret = p->binding;
        return 0;
}

static int random_salt(uint8_t salt[SEALED_SALT_LEN]) {
        ssize_t n = getrandom(salt, SEALED_SALT_LEN, 0);

        if (n < 0)
                return -errno;
        return n == SEALED_SALT_LEN ? 0 : -EIO;
}

int agent_op_seal(struct agent *a, const struct agent_peer *peer,
                  const struct agent_seal_params *p, struct agent_reply *reply) {
        _cleanup_secret_ uint8_t *k_use = secret_alloc(KDF_KEY_LEN);
        _cleanup_(json_object_putp) json_object *identity = NULL;
        _cleanup_(freep) char *text = NULL;
        uint8_t salt[SEALED_SALT_LEN];
        struct snp_binding b;
        struct snp_report rep;
        int r;

        if (!k_use)
                return -ENOMEM;
        r = check_access(p->purpose, peer, reply);
        if (r >= 0)
                r = get_report(a, NULL, a->backend->own_vmpl, &rep, reply);
        if (r >= 0)
                r = seal_binding(a, p, &rep, &b, reply);
        if (r >= 0 && (r = random_salt(salt)) < 0)
                r = fail(r, agent_reply_error(reply, AGENT_ERROR_FIRMWARE_ERROR,
                                              "no random numbers: %s", strerror(-r)));
        if (r >= 0)
                r = derive_sealed_key(a, &b, salt, p->purpose, sealed_write_format(), k_use, NULL, reply);
        if (r >= 0)
                r = snp_binding_identity_json(&b, &rep, &identity);
        if (r >= 0) {
                r = sealed_seal(p->purpose, &b, identity, salt, k_use, p->data, p->data_len,
                                p->password, p->password_len, &text);
                if (r < 0 && r != -ENOMEM)
                        r = fail(r, agent_reply_invalid_parameter(reply, "data", "sealing failed: %s",
                                                                  strerror(-r)));
        }
        if (r >= 0)
                r = reply_success(reply);
        if (r >= 0)
                r = reply_add(reply, "sealed", json_object_new_string(text));
        return op_finish(reply, r);
}

/* ---- Unseal ---- */

static int unseal_parse(const char *text, size_t len, struct sealed_object *ret, struct agent_reply *reply) {
        char errbuf[512] = "";
        int r;

        if (len > SEALED_TEXT_MAX)
                return fail(-E2BIG, agent_reply_invalid_parameter(reply, "sealed",
                            "sealed object too large: %zu bytes, at most %u", len, SEALED_TEXT_MAX));
        r = sealed_parse(text, len, ret, errbuf, sizeof(errbuf));
        if (r == -ENOMEM)
                return r;
        if (r == -EPROTONOSUPPORT)
                return fail(r, agent_reply_invalid_parameter(reply, "sealed",
                            "unsupported sealed object format: %s", errbuf[0] ? errbuf : "unknown version"));
        if (r < 0)
                return fail(r, agent_reply_invalid_parameter(reply, "sealed", "malformed sealed object: %s",
                                                             errbuf[0] ? errbuf : strerror(-r)));
        return 0;
}

int agent_ratelimit_begin_reply(struct agent *a, uid_t uid, const struct sealed_object *o,
                                uint8_t object[AGENT_RATELIMIT_OBJECT_LEN], struct agent_reply *reply) {
        unsigned retry = 0;
        int r;

        r = agent_ratelimit_object_id(o->purpose, o->salt, sizeof(o->salt), object);
        if (r < 0)
                return r;
        r = agent_ratelimit_begin(a->ratelimit, uid, object, &retry);
        if (r >= 0)
                return 0;
        if (r == -EBUSY)
                r = agent_reply_error(reply, AGENT_ERROR_RATE_LIMITED,
                                      "too many wrong passwords for uid %u on \"%s\"; try again in %u seconds",
                                      (unsigned) uid, o->purpose, retry);
        else
                r = agent_reply_error(reply, AGENT_ERROR_RATE_LIMITED,
                                      "wrong passwords are pending for too many objects of uid %u; try "
                                      "again in %u seconds", (unsigned) uid, retry);
        if (r >= 0)
                r = reply_add(reply, "retry_after_sec", json_object_new_int64(retry));
        return fail(-EBUSY, r);
}

enum agent_ratelimit_outcome agent_ratelimit_outcome_of(int r) {
        return r >= 0 ? AGENT_RATELIMIT_RIGHT : r == -EKEYREJECTED ? AGENT_RATELIMIT_WRONG : AGENT_RATELIMIT_NONE;
}

/* sealed_unseal() and its errors. */
static int unseal_open(struct agent *a, const struct agent_peer *peer, const struct sealed_object *o,
                       const uint8_t k_use[KDF_KEY_LEN], const char *password, size_t password_len,
                       void **ret_data, size_t *ret_size, struct agent_reply *reply) {
        int r;

        r = sealed_unseal(o, k_use, password, password_len, ret_data, ret_size);
        switch (r) {
        case 0:
                return 0;
        case -EBADMSG:
                return fail(r, agent_reply_invalid_parameter(reply, "sealed",
                            "sealed object does not authenticate: it was modified, or sealed on another machine"));
        case -ENOKEY:
                return fail(r, agent_reply_error(reply, AGENT_ERROR_WRONG_PASSWORD, "a password is required"));
        case -EKEYREJECTED:
                return fail(r, agent_reply_error(reply, AGENT_ERROR_WRONG_PASSWORD, "wrong password"));
        case -ENOMEM:
                return r;
        default:
                return fail(r, agent_reply_invalid_parameter(reply, "sealed", "cannot unseal: %s", strerror(-r)));
        }
}

/* Format 1 objects share their key with DeriveKey: a caller that may
 * derive keys for the purpose could have forged one. */
static int check_format(const struct sealed_object *o, const struct agent_peer *peer, bool from_store,
                        struct agent_reply *reply) {
        if (o->format != SEALED_FORMAT_V1 || from_store || peer->uid == 0)
                return 0;
        return fail(-EPROTONOSUPPORT, agent_reply_invalid_parameter(reply, "sealed",
                    "sealed object format 1 is refused from uid %u: its key is one DeriveKey hands out, so it "
                    "may be forged; root can open it (snpseal unseal), then seal the data again (format %u)",
                    (unsigned) peer->uid, SEALED_FORMAT));
}

int agent_op_unseal(struct agent *a, const struct agent_peer *peer, const char *text, size_t len,
                    const char *password, size_t password_len, bool from_store,
                    void **ret_data, size_t *ret_size, char log_purpose[PURPOSE_MAX + 1],
                    struct agent_reply *reply) {
        _cleanup_secret_ uint8_t *k_use = secret_alloc(KDF_KEY_LEN);
        uint8_t object[AGENT_RATELIMIT_OBJECT_LEN];
        struct sealed_object o = {};
        struct snp_report rep;
        bool limited = false;
        int r;

        *reply = (struct agent_reply) {};
        if (log_purpose)
                log_purpose[0] = '\0';
        if (!k_use)
                return -ENOMEM;
        r = unseal_parse(text, len, &o, reply);
        if (r < 0)
                return r;
        if (log_purpose)
                (void) snprintf(log_purpose, PURPOSE_MAX + 1, "%s", o.purpose);
        r = check_access(o.purpose, peer, reply);
        if (r >= 0)
                r = check_format(&o, peer, from_store, reply);
        if (r >= 0)
                r = check_floor(a, &o.binding, "sealed object", reply);
        if (r >= 0)
                r = launch_identity(a, o.identity, &o.binding, &rep, reply);
        if (r >= 0 && o.has_password)
                limited = (r = agent_ratelimit_begin_reply(a, peer->uid, &o, object, reply)) >= 0;
        if (r >= 0)
                r = derive_sealed_key(a, &o.binding, o.salt, o.purpose, o.format, k_use, NULL, reply);
        if (r >= 0)
                r = unseal_open(a, peer, &o, k_use, password, password_len, ret_data, ret_size, reply);
        if (limited)
                agent_ratelimit_end(a->ratelimit, peer->uid, object, agent_ratelimit_outcome_of(r));
        sealed_object_done(&o);
        return r;
}

int agent_op_object_key(struct agent *a, const struct agent_peer *peer, const struct sealed_object *o,
                        uint8_t *k_use, uint8_t *k_new, struct agent_reply *reply) {
        struct snp_report rep;
        int r;

        r = check_access(o->purpose, peer, reply);
        if (r >= 0)
                r = check_floor(a, &o->binding, "sealed object", reply);
        if (r >= 0)
                r = launch_identity(a, o->identity, &o->binding, &rep, reply);
        if (r >= 0)
                r = derive_sealed_key(a, &o->binding, o->salt, o->purpose, o->format, k_use, k_new, reply);
        return r;
}

int agent_unseal_text(struct agent *a, const struct agent_peer *peer, const char *text, size_t len,
                      const char *password, size_t password_len,
                      void **ret_data, size_t *ret_size, struct agent_reply *reply) {
        return agent_op_unseal(a, peer, text, len, password, password_len, true, ret_data, ret_size, NULL, reply);
}

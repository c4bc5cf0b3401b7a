/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "binding.h"
#include "hexutil.h"
#include "json-util.h"
#include "macro.h"
#include "snp-decode.h"
#include "snp-error.h"
#include "token-json.h"

/* The format is documented field by field in docs/TOKEN-FORMAT.md. */

#define TOKEN_KEYSLOTS_MAX 32           /* LUKS2 keyslots 0..31 */
#define TOKEN_SALT_B64_LEN 44           /* base64 of 32 bytes, padded */

/* ---- the recorded identity ---- */

/* A JSON integer in 0..max; false for other types, negative or larger values. */
static bool json_value_uint(json_object *v, uint64_t max, uint64_t *ret) {
        int64_t x;

        if (!json_object_is_type(v, json_type_int))
                return false;
        errno = 0;
        x = json_object_get_int64(v);
        if (errno != 0 || x < 0 || (uint64_t) x > max)
                return false;
        *ret = (uint64_t) x;
        return true;
}

/* ---- parsing ---- */

static int get_type(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), SNPSEAL_TOKEN_TYPE) != 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "\"type\" must be \"" SNPSEAL_TOKEN_TYPE "\"");
        return 0;
}

/* "0".."31", no sign, no leading zero. */
static int keyslot_from_string(const char *s, size_t len) {
        int k = 0;

        if (len == 0 || len > 2 || (len == 2 && s[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                k = k * 10 + (s[i] - '0');
        }
        return k < TOKEN_KEYSLOTS_MAX ? k : -EINVAL;
}

static int get_keyslots(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return errbuf_set(errbuf, errlen, -EINVAL, "\"keyslots\" must be an array of keyslot numbers as strings");
        n = json_object_array_length(v);
        if (n > TOKEN_KEYSLOTS_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "\"keyslots\" lists %zu keyslots, at most %d",
                                  n, TOKEN_KEYSLOTS_MAX);
        t->keyslot = -1;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                int k = -EINVAL;

                if (json_object_is_type(e, json_type_string))
                        k = keyslot_from_string(json_object_get_string(e), (size_t) json_object_get_string_len(e));
                if (k < 0)
                        return errbuf_set(errbuf, errlen, -EINVAL,
                                          "\"keyslots\" must be an array of keyslot numbers \"0\"..\"31\" as strings");
                if (i == 0)
                        t->keyslot = k;
        }
        return 0;
}

static int get_version(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        uint64_t x;

        if (!json_value_uint(v, UINT32_MAX, &x) || x == 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_version\" must be an integer 1..4294967295");
        if (x != SNPSEAL_TOKEN_VERSION)
                return errbuf_set(errbuf, errlen, -EPROTONOSUPPORT,
                                  "unsupported \"snpseal_version\" %" PRIu64 ": this snpseal reads version %d; "
                                  "update snpseal to use this token", x, SNPSEAL_TOKEN_VERSION);
        t->version = (unsigned) x;
        return 0;
}

static int get_binding(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        char msg[256] = "";
        const char *m = msg;
        int r;

        r = snp_binding_from_json(v, &t->binding, msg, sizeof(msg));
        if (r >= 0)
                r = snp_binding_validate(&t->binding, msg, sizeof(msg));
        if (r >= 0)
                return 0;
        if (strncmp(m, "binding: ", 9) == 0)
                m += 9;
        return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_binding\": %s", m);
}

static int get_salt(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        size_t n = 0;

        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) != TOKEN_SALT_B64_LEN ||
            base64_decode(json_object_get_string(v), TOKEN_SALT_B64_LEN, t->salt, sizeof(t->salt), &n) < 0 ||
            n != sizeof(t->salt))
                return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_salt\" must be base64 of %d bytes",
                                  SNPSEAL_TOKEN_SALT_LEN);
        return 0;
}

static int get_pin(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        if (!json_object_is_type(v, json_type_boolean))
                return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_pin\" must be true or false");
        t->pin = json_object_get_boolean(v);
        return 0;
}

static int get_identity(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen) {
        int r;

        if (!json_object_is_type(v, json_type_object))
                return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_identity\" must be an object");
        r = snp_identity_check(v, t->binding.fields, false, "\"snpseal_identity\"", errbuf, errlen);
        if (r < 0)
                return r;
        t->identity = json_object_get(v);
        return 0;
}

/* In this order: the version before the fields it defines, the binding
 * before the identity it is checked against. */
static const struct token_member {
        const char *key;
        int (*get)(json_object *v, struct snpseal_token *t, char *errbuf, size_t errlen);
} token_members[] = {
        { "type",             get_type },
        { "keyslots",         get_keyslots },
        { "snpseal_version",  get_version },
        { "snpseal_binding",  get_binding },
        { "snpseal_salt",     get_salt },
        { "snpseal_pin",      get_pin },
        { "snpseal_identity", get_identity },
};

/* ---- header authentication (optional: all three or none) ---- */

static int get_mac(json_object *v, const char *key, uint8_t out[SNPSEAL_TOKEN_MAC_LEN], char *errbuf,
                   size_t errlen) {
        uint8_t buf[SNPSEAL_TOKEN_MAC_LEN + 3];
        size_t n = 0;

        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != TOKEN_SALT_B64_LEN ||
            base64_decode(json_object_get_string(v), TOKEN_SALT_B64_LEN, buf, sizeof(buf), &n) < 0 ||
            n != SNPSEAL_TOKEN_MAC_LEN)
                return errbuf_set(errbuf, errlen, -EINVAL, "\"%s\" must be base64 of %d bytes", key,
                                  SNPSEAL_TOKEN_MAC_LEN);
        memcpy(out, buf, SNPSEAL_TOKEN_MAC_LEN);
        return 0;
}

static int get_header_auth(json_object *o, struct snpseal_token *t, char *errbuf, size_t errlen) {
        json_object *header, *hmac, *vkmac;
        bool h = json_object_object_get_ex(o, "snpseal_header", &header) && header;
        bool m = json_object_object_get_ex(o, "snpseal_header_mac", &hmac) && hmac;
        bool v = json_object_object_get_ex(o, "snpseal_volume_key_mac", &vkmac) && vkmac;
        int r;

        if (!h && !m && !v)
                return 0;
        if (!h || !m || !v)
                return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_header\", \"snpseal_header_mac\" and "
                                  "\"snpseal_volume_key_mac\" come together");
        r = get_mac(hmac, "snpseal_header_mac", t->header_mac, errbuf, errlen);
        if (r >= 0)
                r = get_mac(vkmac, "snpseal_volume_key_mac", t->volume_key_mac, errbuf, errlen);
        if (r < 0)
                return r;
        t->header = malloc(sizeof(*t->header));
        if (!t->header)
                return errbuf_set(errbuf, errlen, -ENOMEM, "out of memory");
        r = luks2_meta_from_record(header, t->header, errbuf, errlen);
        if (r < 0)
                return r;
        t->has_mac = true;
        return 0;
}

static int token_parse_object(json_object *o, struct snpseal_token *t, char *errbuf, size_t errlen) {
        if (!json_object_is_type(o, json_type_object))
                return errbuf_set(errbuf, errlen, -EINVAL, "the token is not a JSON object");
        for (size_t i = 0; i < ELEMENTSOF(token_members); i++) {
                json_object *v;
                int r;

                if (!json_object_object_get_ex(o, token_members[i].key, &v) || !v)
                        return errbuf_set(errbuf, errlen, -EINVAL, "missing \"%s\"", token_members[i].key);
                r = token_members[i].get(v, t, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return get_header_auth(o, t, errbuf, errlen);
}

int token_json_parse(const char *json, struct snpseal_token *ret, char *errbuf, size_t errlen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct snpseal_token t = { .keyslot = -1 };
        char msg[256] = "";
        size_t len;
        int r;

        if (!json || !ret)
                return errbuf_set(errbuf, errlen, -EINVAL, "no token JSON");
        len = strnlen(json, SNPSEAL_TOKEN_JSON_MAX + 1);
        if (len > SNPSEAL_TOKEN_JSON_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "the token JSON is larger than %u bytes",
                                  SNPSEAL_TOKEN_JSON_MAX);
        r = json_parse_bounded(json, len, JSON_DEPTH_MAX, &o, msg, sizeof(msg));
        if (r < 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "the token is not valid JSON: %s", msg);
        r = token_parse_object(o, &t, errbuf, errlen);
        if (r < 0) {
                token_json_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

void token_json_done(struct snpseal_token *t) {
        if (!t)
                return;
        json_object_put(t->identity);
        free(t->header);
        *t = (struct snpseal_token) { .keyslot = -1 };
}

/* ---- building ---- */

static json_object *keyslots_json(int keyslot) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();
        char s[16];

        if (!a)
                return NULL;
        (void) snprintf(s, sizeof(s), "%d", keyslot);
        if (json_object_array_add(a, json_object_new_string(s)) < 0 || !json_object_array_get_idx(a, 0))
                return NULL;
        return TAKE_PTR(a);
}

/* base64 of 32 bytes: the salt and the MACs. */
static json_object *salt_json(const uint8_t salt[SNPSEAL_TOKEN_SALT_LEN]) {
        char b64[TOKEN_SALT_B64_LEN + 1];

        if (base64_encode(salt, SNPSEAL_TOKEN_SALT_LEN, b64, sizeof(b64)) < 0)
                return NULL;
        return json_object_new_string(b64);
}

static int header_auth_add(json_object *o, const struct snpseal_token *t) {
        if (!t->has_mac)
                return 0;
        if (!t->header)
                return -EINVAL;
        if (json_add(o, "snpseal_header", luks2_meta_to_record(t->header)) < 0 ||
            json_add(o, "snpseal_header_mac", salt_json(t->header_mac)) < 0 ||
            json_add(o, "snpseal_volume_key_mac", salt_json(t->volume_key_mac)) < 0)
                return -ENOMEM;
        return 0;
}

int token_json_build(const struct snpseal_token *t, int keyslot, char **ret_json) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct snpseal_token check;
        const char *text;
        char *copy;

        if (!t || !ret_json || keyslot < 0 || keyslot >= TOKEN_KEYSLOTS_MAX ||
            !json_object_is_type(t->identity, json_type_object) || snp_binding_validate(&t->binding, NULL, 0) < 0)
                return -EINVAL;
        o = json_object_new_object();
        if (!o ||
            json_add(o, "type", json_object_new_string(SNPSEAL_TOKEN_TYPE)) < 0 ||
            json_add(o, "keyslots", keyslots_json(keyslot)) < 0 ||
            json_add(o, "snpseal_version", json_object_new_int(SNPSEAL_TOKEN_VERSION)) < 0 ||
            json_add(o, "snpseal_binding", snp_binding_to_json(&t->binding)) < 0 ||
            json_add(o, "snpseal_salt", salt_json(t->salt)) < 0 ||
            json_add(o, "snpseal_pin", json_object_new_boolean(t->pin)) < 0 ||
            json_add(o, "snpseal_identity", json_object_get(t->identity)) < 0 ||
            header_auth_add(o, t) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        /* What we write must read back: an identity that does not match the
         * binding is refused here rather than by every later open. */
        if (token_json_parse(text, &check, NULL, 0) < 0)
                return -EINVAL;
        token_json_done(&check);
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        *ret_json = copy;
        return 0;
}

/* ---- dump ---- */

#define DUMP_LABEL_WIDTH 16

struct dump {
        void (*line)(void *userdata, const char *text);
        void *userdata;
};

_printf_(3, 4)
static void dump_line(const struct dump *d, const char *label, const char *fmt, ...) {
        char value[SNP_DECODE_TEXT_MAX + 128], text[sizeof(value) + 64];
        va_list ap;
        size_t len;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        len = strlen(label);
        n = snprintf(text, sizeof(text), "\t%s:%*s%s", label, (int) (len < DUMP_LABEL_WIDTH ? DUMP_LABEL_WIDTH - len : 1),
                     "", value);
        if (n < 0)
                return;
        d->line(d->userdata, text);
}

static void dump_binding(const struct dump *d, const struct snp_binding *b) {
        char fields[128] = "", hex[TCB_HEX_LEN + 1], milan[SNP_DECODE_TEXT_MAX], turin[SNP_DECODE_TEXT_MAX];
        size_t used = 0;

        for (unsigned i = 0; i < 64; i++) {
                const char *name = snp_field_to_string(UINT64_C(1) << i);
                int n;

                if (!(b->fields & (UINT64_C(1) << i)) || !name)
                        continue;
                n = snprintf(fields + used, sizeof(fields) - used, "%s%s", used > 0 ? ", " : "", name);
                if (n < 0 || (size_t) n >= sizeof(fields) - used)
                        break;
                used += (size_t) n;
        }
        tcb_to_hex(b->tcb_version, hex);
        if (snp_tcb_format(b->tcb_version, SNP_TCB_LAYOUT_MILAN_GENOA, milan, sizeof(milan)) < 0)
                milan[0] = '\0';
        if (snp_tcb_format(b->tcb_version, SNP_TCB_LAYOUT_TURIN, turin, sizeof(turin)) < 0)
                turin[0] = '\0';
        dump_line(d, "root key", "%s", snp_root_key_to_string(b->root_key) ?: "invalid");
        dump_line(d, "bound fields", "%s", used > 0 ? fields : "none");
        dump_line(d, "VMPL", "%" PRIu32, b->vmpl);
        dump_line(d, "guest SVN", "%" PRIu32, b->guest_svn);
        dump_line(d, "TCB", "%s (Milan/Genoa: %s; Turin: %s)", hex, milan, turin);
}

static void dump_identity(const struct dump *d, json_object *id) {
        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++) {
                const struct snp_identity_member *m = &snp_identity_members[i];
                char policy[SNP_DECODE_TEXT_MAX];
                uint64_t raw;
                json_object *v;

                if (!json_object_object_get_ex(id, m->key, &v) || !v)
                        continue;
                if (m->type == SNP_IDENTITY_POLICY && parse_u64(json_object_get_string(v), UINT64_MAX, &raw) >= 0 &&
                    snp_policy_format(raw, policy, sizeof(policy)) >= 0)
                        dump_line(d, m->long_label, "%s (%s)", json_object_get_string(v), policy);
                else
                        dump_line(d, m->long_label, "%s", json_object_get_string(v));
        }
}

/* The first recorded item PREFIX<id>SUFFIX, for the dump. */
static const char *header_value(const struct luks2_meta *m, const char *prefix, const char *suffix) {
        size_t p = strlen(prefix), x = strlen(suffix);

        for (size_t i = 0; i < m->n; i++) {
                const char *name = m->items[i].name;
                size_t n = strlen(name);

                if (n > p + x && strncmp(name, prefix, p) == 0 && strcmp(name + n - x, suffix) == 0 &&
                    strcspn(name + p, ".") == n - p - x)
                        return m->items[i].value;
        }
        return NULL;
}

int token_json_dump(const struct snpseal_token *t, void (*line)(void *userdata, const char *text),
                    void *userdata) {
        const struct dump d = { .line = line, .userdata = userdata };

        if (!t || !line || !json_object_is_type(t->identity, json_type_object))
                return -EINVAL;
        dump_line(&d, "version", "%u", t->version);
        dump_binding(&d, &t->binding);
        dump_identity(&d, t->identity);
        dump_line(&d, "PIN", "%s", t->pin ? "required" : "not required");
        if (t->has_mac && t->header)
                dump_line(&d, "header", "authenticated (data %s, keyslot %s)",
                          header_value(t->header, "segment.", ".encryption") ?: "?",
                          header_value(t->header, "keyslot.", ".area.encryption") ?: "?");
        else
                dump_line(&d, "header", "not authenticated (enrolled by snpseal 0.1; snpseal reseal adds it)");
        return 0;
}

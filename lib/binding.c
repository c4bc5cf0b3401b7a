/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"
#include "json-util.h"
#include "snp-error.h"
#include "hexutil.h"
#include "macro.h"

/* Longest user-supplied name quoted back in a message. */
#define QUOTE_MAX 32

/* ---- names ---- */

static const char *const root_key_names[_SNP_ROOT_KEY_MAX] = {
        [SNP_ROOT_KEY_VCEK] = "vcek",
        [SNP_ROOT_KEY_VLEK] = "vlek",
        [SNP_ROOT_KEY_VMRK] = "vmrk",
};

/* In GUEST_FIELD_SELECT bit order. */
static const struct field_name {
        uint64_t bit;
        const char *name;
} field_names[] = {
        { SNP_FIELD_POLICY,      "policy" },
        { SNP_FIELD_IMAGE_ID,    "image_id" },
        { SNP_FIELD_FAMILY_ID,   "family_id" },
        { SNP_FIELD_MEASUREMENT, "measurement" },
        { SNP_FIELD_GUEST_SVN,   "guest_svn" },
        { SNP_FIELD_TCB_VERSION, "tcb_version" },
};

#define KNOWN_FIELDS "policy, image_id, family_id, measurement, guest_svn, tcb_version"

const char *snp_root_key_to_string(enum snp_root_key k) {
        if ((unsigned) k >= _SNP_ROOT_KEY_MAX)
                return NULL;
        return root_key_names[k];
}

int snp_root_key_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(root_key_names); i++)
                if (strcmp(s, root_key_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *snp_field_to_string(uint64_t bit) {
        for (size_t i = 0; i < ELEMENTSOF(field_names); i++)
                if (field_names[i].bit == bit)
                        return field_names[i].name;
        return NULL;
}

uint64_t snp_field_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(field_names); i++)
                if (strcmp(s, field_names[i].name) == 0)
                        return field_names[i].bit;
        return 0;
}

/* A field name that is not NUL-terminated (a piece of a comma list). */
static uint64_t field_from_piece(const char *s, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(field_names); i++)
                if (strlen(field_names[i].name) == len && memcmp(s, field_names[i].name, len) == 0)
                        return field_names[i].bit;
        return 0;
}

/* ---- binding spec (CLI) ---- */

void snp_binding_spec_init_default(struct snp_binding_spec *s) {
        *s = (struct snp_binding_spec) {
                .root_key = SNP_ROOT_KEY_VCEK,
                .fields = SNP_BINDING_DEFAULT_FIELDS,
                .tcb = SNP_TCB_MIN,
        };
}

static int spec_set_bind(struct snp_binding_spec *s, const char *value, char *errbuf, size_t errlen) {
        uint64_t fields = 0;
        const char *p = value;

        if (*value == '\0')
                return errbuf_set(errbuf, errlen, -EINVAL,
                                     "--bind= needs at least one field: " KNOWN_FIELDS);
        for (;;) {
                size_t len = strcspn(p, ",");
                uint64_t bit;

                if (len == 0)
                        return errbuf_set(errbuf, errlen, -EINVAL, "empty field name in --bind=%.*s",
                                             QUOTE_MAX, value);
                bit = field_from_piece(p, len);
                if (bit == 0)
                        return errbuf_set(errbuf, errlen, -EINVAL,
                                             "unknown field '%.*s' in --bind=; known fields: " KNOWN_FIELDS,
                                             (int) (len < QUOTE_MAX ? len : QUOTE_MAX), p);
                if (fields & bit)
                        return errbuf_set(errbuf, errlen, -EINVAL, "field '%.*s' given twice in --bind=",
                                             (int) len, p);
                fields |= bit;
                if (p[len] == '\0')
                        break;
                p += len + 1;
        }
        s->fields = fields;
        return 0;
}

static int spec_set_root_key(struct snp_binding_spec *s, const char *value, char *errbuf, size_t errlen) {
        int k = snp_root_key_from_string(value);

        if (k < 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "unknown root key '%.*s': use vcek, vlek or vmrk",
                                     QUOTE_MAX, value);
        s->root_key = (enum snp_root_key) k;
        return 0;
}

static int spec_set_vmpl(struct snp_binding_spec *s, const char *value, char *errbuf, size_t errlen) {
        uint32_t v;

        if (parse_u32(value, SNP_VMPL_MAX, &v) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "invalid VMPL '%.*s': expected a number 0..3",
                                     QUOTE_MAX, value);
        s->vmpl = v;
        s->vmpl_set = true;
        return 0;
}

static int spec_set_guest_svn(struct snp_binding_spec *s, const char *value, char *errbuf, size_t errlen) {
        uint32_t v;

        if (parse_u32(value, UINT32_MAX, &v) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                     "invalid guest SVN '%.*s': expected a number 0..4294967295",
                                     QUOTE_MAX, value);
        s->guest_svn = v;
        s->guest_svn_set = true;
        return 0;
}

static int spec_set_tcb(struct snp_binding_spec *s, const char *value, char *errbuf, size_t errlen) {
        static const struct {
                const char *name;
                enum snp_tcb_choice choice;
        } choices[] = {
                { "min",       SNP_TCB_MIN },
                { "launch",    SNP_TCB_LAUNCH },
                { "committed", SNP_TCB_COMMITTED },
        };
        uint64_t tcb;

        for (size_t i = 0; i < ELEMENTSOF(choices); i++)
                if (strcmp(value, choices[i].name) == 0) {
                        s->tcb = choices[i].choice;
                        s->tcb_version = 0;
                        return 0;
                }
        if (tcb_from_hex(value, &tcb) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                     "invalid TCB '%.*s': expected launch, committed, min or 16 hex digits (byte 0 first)",
                                     QUOTE_MAX, value);
        s->tcb = SNP_TCB_EXPLICIT;
        s->tcb_version = tcb;
        return 0;
}

static const struct spec_option {
        const char *name;
        int (*set)(struct snp_binding_spec *s, const char *value, char *errbuf, size_t errlen);
} spec_options[] = {
        { "bind",      spec_set_bind },
        { "root-key",  spec_set_root_key },
        { "vmpl",      spec_set_vmpl },
        { "guest-svn", spec_set_guest_svn },
        { "tcb",       spec_set_tcb },
};

int snp_binding_spec_set(struct snp_binding_spec *s, const char *option, const char *value,
                         char *errbuf, size_t errlen) {
        assert(s);

        for (size_t i = 0; option && i < ELEMENTSOF(spec_options); i++) {
                if (strcmp(option, spec_options[i].name) != 0)
                        continue;
                if (!value)
                        return errbuf_set(errbuf, errlen, -EINVAL, "--%s needs a value", option);
                return spec_options[i].set(s, value, errbuf, errlen);
        }
        return errbuf_set(errbuf, errlen, -EINVAL, "unknown binding option '%.*s'",
                             QUOTE_MAX, option ? option : "(null)");
}

/* The TCB the spec asks for; refuses anything above the committed TCB. */
static int resolve_tcb(const struct snp_binding_spec *s, const struct snp_report *r, uint64_t *ret,
                       char *errbuf, size_t errlen) {
        char want[TCB_HEX_LEN + 1], committed[TCB_HEX_LEN + 1];
        const char *what;
        uint64_t tcb;

        switch (s->tcb) {
        case SNP_TCB_MIN:
                tcb = snp_tcb_min(r->launch_tcb, r->committed_tcb);
                what = "minimum";
                break;
        case SNP_TCB_LAUNCH:
                tcb = r->launch_tcb;
                what = "launch";
                break;
        case SNP_TCB_COMMITTED:
                tcb = r->committed_tcb;
                what = "committed";
                break;
        case SNP_TCB_EXPLICIT:
                tcb = s->tcb_version;
                what = "requested";
                break;
        default:
                return errbuf_set(errbuf, errlen, -EINVAL, "invalid TCB choice %d", (int) s->tcb);
        }
        if (!snp_tcb_le(tcb, r->committed_tcb)) {
                tcb_to_hex(tcb, want);
                tcb_to_hex(r->committed_tcb, committed);
                return errbuf_set(errbuf, errlen, -ERANGE,
                                     "the %s TCB %s is above the committed TCB %s in at least one component: "
                                     "the firmware derives keys only for a TCB at or below the committed one",
                                     what, want, committed);
        }
        *ret = tcb;
        return 0;
}

int snp_binding_resolve(const struct snp_binding_spec *s, const struct snp_report *running,
                        uint32_t own_vmpl, struct snp_binding *ret, char *errbuf, size_t errlen) {
        struct snp_binding b = {
                .root_key = s->root_key,
                .fields = s->fields,
                .vmpl = s->vmpl_set ? s->vmpl : own_vmpl,
                .guest_svn = s->guest_svn_set ? s->guest_svn : running->guest_svn,
        };
        int r;

        if (own_vmpl > SNP_VMPL_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "invalid own VMPL %" PRIu32, own_vmpl);
        if (b.vmpl < own_vmpl)
                return errbuf_set(errbuf, errlen, -ERANGE,
                                     "VMPL %" PRIu32 " is below this VM's VMPL %" PRIu32
                                     ": keys can be derived only for VMPL %" PRIu32 "..3",
                                     b.vmpl, own_vmpl, own_vmpl);
        if (b.guest_svn > running->guest_svn)
                return errbuf_set(errbuf, errlen, -ERANGE,
                                     "guest SVN %" PRIu32 " is above the launch SVN %" PRIu32 " of this VM",
                                     b.guest_svn, running->guest_svn);
        r = resolve_tcb(s, running, &b.tcb_version, errbuf, errlen);
        if (r < 0)
                return r;
        r = snp_binding_validate(&b, errbuf, errlen);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

/* ---- resolved bindings ---- */

int snp_binding_validate(const struct snp_binding *b, char *errbuf, size_t errlen) {
        if ((unsigned) b->root_key >= _SNP_ROOT_KEY_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "invalid root key %d", (int) b->root_key);
        if (b->fields & ~SNP_FIELD_VALID_V1)
                return errbuf_set(errbuf, errlen, -EINVAL, "invalid field selection 0x%" PRIx64,
                                     b->fields);
        if (b->vmpl > SNP_VMPL_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "invalid VMPL %" PRIu32 ": expected 0..3",
                                     b->vmpl);
        return 0;
}

void snp_binding_to_key_req(const struct snp_binding *b, struct snp_msg_key_req *ret) {
        static const uint32_t root_select[_SNP_ROOT_KEY_MAX] = {
                /* KEY_SEL explicit: 0 would silently switch to a VLEK the host installs. */
                [SNP_ROOT_KEY_VCEK] = (uint32_t) SNP_KEY_SEL_VCEK << SNP_KEY_REQ_KEY_SEL_SHIFT,
                [SNP_ROOT_KEY_VLEK] = (uint32_t) SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT,
                [SNP_ROOT_KEY_VMRK] = SNP_KEY_REQ_ROOT_KEY_VMRK,
        };

        assert(snp_binding_validate(b, NULL, 0) == 0);
        *ret = (struct snp_msg_key_req) {
                .root_key_select = root_select[b->root_key],
                .reserved = 0,
                .guest_field_select = b->fields & SNP_FIELD_VALID_V1,
                .vmpl = b->vmpl,
                .guest_svn = b->guest_svn,
                .tcb_version = b->tcb_version,
        };
}

/* The fields the floor requires, in message order. */
static const uint64_t floor_fields[] = { SNP_FIELD_MEASUREMENT, SNP_FIELD_POLICY, SNP_FIELD_TCB_VERSION };

int snp_binding_check_floor(const struct snp_binding *b, char *errbuf, size_t errlen) {
        char missing[64] = "", desc[256];
        bool root_ok = b->root_key == SNP_ROOT_KEY_VCEK || b->root_key == SNP_ROOT_KEY_VLEK;
        size_t len = 0;

        for (size_t i = 0; i < ELEMENTSOF(floor_fields); i++)
                if (!(b->fields & floor_fields[i]))
                        len += (size_t) snprintf(missing + len, sizeof(missing) - len, "%s%s", len ? ", " : "",
                                                 snp_field_to_string(floor_fields[i]));
        if (root_ok && len == 0)
                return 0;
        if (snp_binding_format(b, desc, sizeof(desc)) < 0)
                desc[0] = '\0';
        if (!root_ok)
                return errbuf_set(errbuf, errlen, -EPERM,
                                  "binding (%s) derives from %s, not vcek or vlek: a key for something persistent "
                                  "must come from the chip's VCEK or VLEK", desc, snp_root_key_to_string(b->root_key));
        return errbuf_set(errbuf, errlen, -EPERM,
                          "binding (%s) does not bind %s: a guest the host launches on this chip with another image "
                          "or a debug policy could derive the same key", desc, missing);
}

int snp_binding_check_persistent(const struct snp_binding *b, bool allow_weak, bool force, char *errbuf,
                                 size_t errlen) {
        int r;

        if (!allow_weak) {
                r = snp_binding_check_floor(b, errbuf, errlen);
                if (r < 0) {
                        size_t used = errbuf ? strlen(errbuf) : 0;

                        if (errbuf && used < errlen)
                                (void) snprintf(errbuf + used, errlen - used, "; refused (only "
                                                "allow_weak_bindings = yes in snpseald.conf allows it, weakening "
                                                "what snpseal guarantees)");
                        return r;
                }
        }
        if (force)
                return 0;
        if (b->root_key == SNP_ROOT_KEY_VMRK)
                return errbuf_set(errbuf, errlen, -EPERM,
                                     "VMRK is generated anew at every launch: anything sealed to it is lost "
                                     "at the next reboot; use --root-key=vcek, or --force if that is intended");
        if (!(b->fields & SNP_FIELD_MEASUREMENT))
                return errbuf_set(errbuf, errlen, -EPERM,
                                     "binding without measurement refused: anyone can sign an ID block with the "
                                     "same family/image ID and SVN under their own key, so without the measurement "
                                     "any image could derive the key; add measurement to --bind=, or --force");
        if (!(b->fields & SNP_FIELD_TCB_VERSION))
                return errbuf_set(errbuf, errlen, -EPERM,
                                     "binding without tcb_version refused: whether the root key depends on the TCB "
                                     "when it is not selected is undocumented, so the TCB is always pinned; "
                                     "add tcb_version to --bind=, or --force");
        return 0;
}

/* ---- JSON ---- */

static json_object *fields_to_json(uint64_t fields) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(field_names); i++) {
                json_object *s;

                if (!(fields & field_names[i].bit))
                        continue;
                s = json_object_new_string(field_names[i].name);
                if (!s || json_object_array_add(a, s) < 0) {
                        json_object_put(s);
                        return NULL;
                }
        }
        return TAKE_PTR(a);
}

json_object *snp_binding_to_json(const struct snp_binding *b) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *root = snp_root_key_to_string(b->root_key);
        char tcb[TCB_HEX_LEN + 1];

        if (!root)
                return NULL;
        tcb_to_hex(b->tcb_version, tcb);
        o = json_object_new_object();
        if (!o ||
            json_add(o, "root_key", json_object_new_string(root)) < 0 ||
            json_add(o, "fields", fields_to_json(b->fields)) < 0 ||
            json_add(o, "vmpl", json_object_new_int64(b->vmpl)) < 0 ||
            json_add(o, "guest_svn", json_object_new_int64(b->guest_svn)) < 0 ||
            json_add(o, "tcb_version", json_object_new_string(tcb)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int json_get_root_key(json_object *v, struct snp_binding *b, char *errbuf, size_t errlen) {
        int k;

        if (!json_object_is_type(v, json_type_string))
                return errbuf_set(errbuf, errlen, -EINVAL, "binding: \"root_key\" must be a string");
        k = snp_root_key_from_string(json_object_get_string(v));
        if (k < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                     "binding: unknown root key \"%.*s\": expected vcek, vlek or vmrk",
                                     QUOTE_MAX, json_object_get_string(v));
        b->root_key = (enum snp_root_key) k;
        return 0;
}

static int json_get_fields(json_object *v, struct snp_binding *b, char *errbuf, size_t errlen) {
        uint64_t fields = 0;
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return errbuf_set(errbuf, errlen, -EINVAL, "binding: \"fields\" must be an array of field names");
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                const char *name;
                uint64_t bit;

                if (!json_object_is_type(e, json_type_string))
                        return errbuf_set(errbuf, errlen, -EINVAL,
                                             "binding: \"fields\" must be an array of field names");
                name = json_object_get_string(e);
                bit = snp_field_from_string(name);
                if (bit == 0)
                        return errbuf_set(errbuf, errlen, -EINVAL,
                                             "binding: unknown field \"%.*s\": this version of snpseal cannot "
                                             "derive that key", QUOTE_MAX, name);
                if (fields & bit)
                        return errbuf_set(errbuf, errlen, -EINVAL, "binding: field \"%s\" listed twice", name);
                fields |= bit;
        }
        b->fields = fields;
        return 0;
}

/* A JSON integer within 0..max (json-c keeps int64; larger values clamp). */
static int json_get_u32(json_object *v, uint32_t max, uint32_t *ret) {
        int64_t x;

        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        errno = 0;
        x = json_object_get_int64(v);
        if (errno != 0 || x < 0 || (uint64_t) x > max)
                return -EINVAL;
        *ret = (uint32_t) x;
        return 0;
}

static int json_get_vmpl(json_object *v, struct snp_binding *b, char *errbuf, size_t errlen) {
        if (json_get_u32(v, SNP_VMPL_MAX, &b->vmpl) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "binding: \"vmpl\" must be an integer 0..3");
        return 0;
}

static int json_get_guest_svn(json_object *v, struct snp_binding *b, char *errbuf, size_t errlen) {
        if (json_get_u32(v, UINT32_MAX, &b->guest_svn) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                     "binding: \"guest_svn\" must be an integer 0..4294967295");
        return 0;
}

static int json_get_tcb(json_object *v, struct snp_binding *b, char *errbuf, size_t errlen) {
        if (!json_object_is_type(v, json_type_string) ||
            tcb_from_hex(json_object_get_string(v), &b->tcb_version) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                     "binding: \"tcb_version\" must be a string of 16 hex digits");
        return 0;
}

static const struct json_member {
        const char *key;
        int (*get)(json_object *v, struct snp_binding *b, char *errbuf, size_t errlen);
} json_members[] = {
        { "root_key",    json_get_root_key },
        { "fields",      json_get_fields },
        { "vmpl",        json_get_vmpl },
        { "guest_svn",   json_get_guest_svn },
        { "tcb_version", json_get_tcb },
};

int snp_binding_from_json(json_object *o, struct snp_binding *ret, char *errbuf, size_t errlen) {
        struct snp_binding b = { 0 };

        if (!json_object_is_type(o, json_type_object))
                return errbuf_set(errbuf, errlen, -EINVAL, "binding: not a JSON object");
        for (size_t i = 0; i < ELEMENTSOF(json_members); i++) {
                json_object *v;
                int r;

                if (!json_object_object_get_ex(o, json_members[i].key, &v))
                        return errbuf_set(errbuf, errlen, -EINVAL, "binding: missing \"%s\"",
                                             json_members[i].key);
                r = json_members[i].get(v, &b, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        *ret = b;
        return 0;
}

int snp_binding_format(const struct snp_binding *b, char *buf, size_t size) {
        char fields[128] = "", tcb[TCB_HEX_LEN + 1];
        const char *root = snp_root_key_to_string(b->root_key);
        size_t len = 0;
        int n;

        for (size_t i = 0; i < ELEMENTSOF(field_names); i++) {
                if (!(b->fields & field_names[i].bit))
                        continue;
                n = snprintf(fields + len, sizeof(fields) - len, "%s%s", len > 0 ? "," : "", field_names[i].name);
                assert(n > 0 && (size_t) n < sizeof(fields) - len);
                len += (size_t) n;
        }
        tcb_to_hex(b->tcb_version, tcb);
        n = snprintf(buf, size, "%s; %s; vmpl %" PRIu32 "; svn %" PRIu32 "; tcb %s",
                     root ? root : "invalid", len > 0 ? fields : "no fields", b->vmpl, b->guest_svn, tcb);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

/* ---- recorded identity ---- */

static json_object *identity_hex(const uint8_t *p, size_t n) {
        char hex[2 * 48 + 1];

        assert(n <= 48);
        hex_encode(p, n, hex);
        return json_object_new_string(hex);
}

static json_object *identity_value(uint64_t bit, const struct snp_report *r) {
        char s[TCB_HEX_LEN + 3];

        switch (bit) {
        case SNP_FIELD_POLICY:
                (void) snprintf(s, sizeof(s), "0x%" PRIx64, r->policy);
                return json_object_new_string(s);
        case SNP_FIELD_IMAGE_ID:
                return identity_hex(r->image_id, sizeof(r->image_id));
        case SNP_FIELD_FAMILY_ID:
                return identity_hex(r->family_id, sizeof(r->family_id));
        case SNP_FIELD_MEASUREMENT:
                return identity_hex(r->measurement, sizeof(r->measurement));
        case SNP_FIELD_GUEST_SVN:
                return json_object_new_int64(r->guest_svn);
        case SNP_FIELD_TCB_VERSION:
                tcb_to_hex(r->committed_tcb, s);
                return json_object_new_string(s);
        default:
                return NULL;
        }
}

const struct snp_identity_member snp_identity_members[SNP_IDENTITY_MEMBERS] = {
        { "measurement", "measurement", "measurement",   SNP_FIELD_MEASUREMENT, SNP_IDENTITY_HEX,    96 },
        { "policy",      "policy",      "policy",        SNP_FIELD_POLICY,      SNP_IDENTITY_POLICY, 0 },
        { "image_id",    "image ID",    "image ID",      SNP_FIELD_IMAGE_ID,    SNP_IDENTITY_HEX,    32 },
        { "family_id",   "family ID",   "family ID",     SNP_FIELD_FAMILY_ID,   SNP_IDENTITY_HEX,    32 },
        { "guest_svn",   "guest SVN",   "launch SVN",    SNP_FIELD_GUEST_SVN,   SNP_IDENTITY_U32,    0 },
        { "tcb",         "TCB",         "committed TCB", SNP_FIELD_TCB_VERSION, SNP_IDENTITY_HEX,    16 },
};

const struct snp_identity_member *snp_identity_member_find(const char *key) {
        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++)
                if (strcmp(snp_identity_members[i].key, key) == 0)
                        return &snp_identity_members[i];
        return NULL;
}

static bool is_lower_hex(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool identity_value_valid(const struct snp_identity_member *m, json_object *v) {
        const char *s;
        size_t len;
        int64_t x;

        if (m->type == SNP_IDENTITY_U32) {
                if (!json_object_is_type(v, json_type_int))
                        return false;
                errno = 0;
                x = json_object_get_int64(v);
                return errno == 0 && x >= 0 && x <= (int64_t) UINT32_MAX;
        }
        if (!json_object_is_type(v, json_type_string))
                return false;
        s = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
        if (m->type == SNP_IDENTITY_HEX)
                return len == m->hex_len && is_lower_hex(s, len);
        /* SNP_IDENTITY_POLICY, as snp_binding_identity_json() writes it ("0x%" PRIx64). */
        return len >= 3 && len <= 18 && s[0] == '0' && s[1] == 'x' && is_lower_hex(s + 2, len - 2) &&
               (len == 3 || s[2] != '0');
}

static int identity_value_error(const struct snp_identity_member *m, const char *what, char *errbuf,
                                size_t errlen) {
        switch (m->type) {
        case SNP_IDENTITY_HEX:
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%s\" must be %zu lowercase hex digits", what,
                                  m->key, m->hex_len);
        case SNP_IDENTITY_POLICY:
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "%s: \"%s\" must be \"0x\" and 1 to 16 lowercase hex digits", what, m->key);
        default:
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%s\" must be an integer 0..4294967295", what,
                                  m->key);
        }
}

int snp_identity_check(json_object *id, uint64_t fields, bool strict, const char *what,
                       char *errbuf, size_t errlen) {
        if (strict) {
                json_object_object_foreach(id, key, val) {
                        const struct snp_identity_member *m = snp_identity_member_find(key);

                        (void) val;
                        if (!m)
                                return errbuf_set(errbuf, errlen, -EINVAL, "%s: unknown key \"%.32s\"", what, key);
                        if (!(fields & m->bit))
                                return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%s\" is recorded but not bound",
                                                  what, key);
                }
        }
        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++) {
                const struct snp_identity_member *m = &snp_identity_members[i];
                json_object *v;

                if (!json_object_object_get_ex(id, m->key, &v) || !v) {
                        if (fields & m->bit)
                                return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%s\" is bound but not recorded",
                                                  what, m->key);
                        continue;
                }
                if (!identity_value_valid(m, v))
                        return identity_value_error(m, what, errbuf, errlen);
        }
        return 0;
}

int snp_binding_identity_json(const struct snp_binding *b, const struct snp_report *r, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++) {
                if (!(b->fields & snp_identity_members[i].bit))
                        continue;
                if (json_add(o, snp_identity_members[i].key, identity_value(snp_identity_members[i].bit, r)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* Values up to this length are shown whole; longer ones (measurement, IDs)
 * as a window of this many hex digits. */
#define IDENTITY_SHORT 16
#define IDENTITY_WINDOW 8

/* The first 8 characters of a, with "…" when there are more. */
static void identity_head(const char *a, char *out, size_t size) {
        size_t len = strlen(a);

        (void) snprintf(out, size, "%.*s%s", IDENTITY_WINDOW, a, len > IDENTITY_WINDOW ? "\u2026" : "");
}

/* 8 characters of a from start, "…" before when start > 0 and after when
 * more follow. */
static void identity_window(const char *a, size_t start, char *out, size_t size) {
        size_t len = strlen(a);

        (void) snprintf(out, size, "%s%.*s%s", start > 0 ? "\u2026" : "", IDENTITY_WINDOW, a + start,
                        start + IDENTITY_WINDOW < len ? "\u2026" : "");
}

/* Two different values as shown in a difference line: short ones whole;
 * long ones of the same length (hex) from the first differing byte, whose
 * offset goes to *ret_byte (-1 when not shown: at byte 0, or the values
 * cannot be compared position by position). */
static void identity_shown(const char *a, const char *b, char *sa, char *sb, size_t size, long *ret_byte) {
        size_t la = strlen(a), lb = strlen(b), d = 0;

        *ret_byte = -1;
        if (la <= IDENTITY_SHORT && lb <= IDENTITY_SHORT) {
                (void) snprintf(sa, size, "%s", a);
                (void) snprintf(sb, size, "%s", b);
                return;
        }
        if (la != lb) {
                identity_head(a, sa, size);
                identity_head(b, sb, size);
                return;
        }
        while (d < la && a[d] == b[d])
                d++;
        d -= d % 2;     /* two hex digits a byte */
        identity_window(a, d, sa, size);
        identity_window(b, d, sb, size);
        if (d > 0)
                *ret_byte = (long) (d / 2);
}

static const char *identity_string(json_object *o, const char *key) {
        json_object *v;
        const char *s;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        s = json_object_get_string(v);
        return s ? s : "null";
}

int snp_identity_diff(json_object *sealed, json_object *current, char *buf, size_t size) {
        size_t used = 0;
        int count = 0;

        if (!json_object_is_type(sealed, json_type_object) || !json_object_is_type(current, json_type_object))
                return -EINVAL;
        if (buf && size > 0)
                buf[0] = '\0';
        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++) {
                const char *a = identity_string(sealed, snp_identity_members[i].key);
                const char *b = identity_string(current, snp_identity_members[i].key);
                char sa[IDENTITY_SHORT + 8], sb[IDENTITY_SHORT + 8], at[48] = "";
                long byte;
                int n;

                if ((!a && !b) || (a && b && strcmp(a, b) == 0))
                        continue;
                if (a && b)
                        identity_shown(a, b, sa, sb, sizeof(sa), &byte);
                else {
                        identity_shown(a ? a : "", b ? b : "", sa, sb, sizeof(sa), &byte);
                        (void) snprintf(a ? sb : sa, sizeof(sa), "(not recorded)");
                        byte = -1;
                }
                if (byte >= 0)
                        (void) snprintf(at, sizeof(at), " (first difference at byte %ld)", byte);
                count++;
                if (!buf || used >= size)
                        continue;
                n = snprintf(buf + used, size - used, "%s%s changed: sealed to %s, running %s%s",
                             used > 0 ? "\n" : "", snp_identity_members[i].label, sa, sb, at);
                if (n > 0)
                        used += (size_t) n;
        }
        return count;
}

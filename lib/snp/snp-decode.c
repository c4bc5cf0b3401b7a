/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <json.h>

#include "hexutil.h"
#include "macro.h"
#include "json-util.h"
#include "snp-decode.h"

/*
 * JSON keys of snp_report_to_json(), in report order:
 *   version, guest_svn (numbers); policy (snp_policy_to_json);
 *   family_id, image_id (hex); vmpl, signature_algo (numbers);
 *   tcb_layout ("milan-genoa"|"turin"), tcb_layout_assumed (bool);
 *   current_tcb (snp_tcb_to_json); platform_info; signer_info;
 *   report_data, measurement, host_data, id_key_digest, author_key_digest,
 *   report_id, report_id_ma (hex); reported_tcb;
 *   cpuid {"family","model","stepping"} (version >= 3); chip_id (hex);
 *   committed_tcb; current_firmware, committed_firmware ("major.minor.build");
 *   launch_tcb; launch_mit_vector, current_mit_vector ("0x" + 16 hex,
 *   version >= 5); signature_r, signature_s (hex, little-endian as stored).
 */

/* ---- text into a caller buffer ---- */

struct text {
        char *buf;
        size_t size;
        size_t len;
        bool overflow;
};

static void text_init(struct text *t, char *buf, size_t size) {
        *t = (struct text) { .buf = buf, .size = size, .overflow = !buf || size == 0 };
        if (!t->overflow)
                buf[0] = '\0';
}

_printf_(2, 3)
static void text_add(struct text *t, const char *fmt, ...) {
        va_list ap;
        int n;

        if (t->overflow)
                return;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= t->size - t->len) {
                t->overflow = true;
                return;
        }
        t->len += (size_t) n;
}

/* "; " before every item but the first. */
static void text_item(struct text *t, const char *s) {
        text_add(t, "%s%s", t->len > 0 ? "; " : "", s);
}

static int text_done(const struct text *t) {
        if (t->overflow || t->len > INT32_MAX)
                return -ENOBUFS;
        return (int) t->len;
}

/* ---- json-c helpers: each returns 0 or -ENOMEM and consumes v ---- */

static int json_add_u64_hex(struct json_object *o, const char *key, uint64_t v) {
        char s[2 + 16 + 1];

        snprintf(s, sizeof(s), "0x%016" PRIx64, v);
        return json_add(o, key, json_object_new_string(s));
}

static int json_add_bytes_hex(struct json_object *o, const char *key, const void *data, size_t size) {
        char s[2 * 72 + 1];

        assert(size <= 72);
        hex_encode(data, size, s);
        return json_add(o, key, json_object_new_string(s));
}

static int json_add_int(struct json_object *o, const char *key, int64_t v) {
        return json_add(o, key, json_object_new_int64(v));
}

static int json_add_bool(struct json_object *o, const char *key, bool v) {
        return json_add(o, key, json_object_new_boolean(v));
}

static int json_add_string(struct json_object *o, const char *key, const char *v) {
        return json_add(o, key, json_object_new_string(v));
}

/* ---- flag tables (policy, platform info) ---- */

struct flag_desc {
        uint64_t bit;
        const char *key;       /* JSON key */
        size_t field;          /* offset of the bool in the decoded struct */
        const char *on;
        const char *off;
};

#define POLICY_FLAG(bit, name, on, off) { bit, #name, offsetof(struct snp_policy, name), on, off }
static const struct flag_desc policy_flags[] = {
        POLICY_FLAG(SNP_POLICY_SMT, smt, "SMT allowed", "SMT not allowed"),
        POLICY_FLAG(SNP_POLICY_MIGRATE_MA, migrate_ma,
                    "migration agent allowed", "migration agent not allowed"),
        POLICY_FLAG(SNP_POLICY_DEBUG, debug, "debugging allowed", "debugging not allowed"),
        POLICY_FLAG(SNP_POLICY_SINGLE_SOCKET, single_socket,
                    "single socket required", "single socket not required"),
        POLICY_FLAG(SNP_POLICY_CXL_ALLOW, cxl_allowed, "CXL allowed", "CXL not allowed"),
        POLICY_FLAG(SNP_POLICY_MEM_AES_256_XTS, mem_aes_256_xts,
                    "AES-256-XTS required", "AES-256-XTS not required"),
        POLICY_FLAG(SNP_POLICY_RAPL_DIS, rapl_disabled, "RAPL must be disabled", "RAPL allowed"),
        POLICY_FLAG(SNP_POLICY_CIPHERTEXT_HIDING, ciphertext_hiding,
                    "ciphertext hiding required", "ciphertext hiding not required"),
        POLICY_FLAG(SNP_POLICY_PAGE_SWAP_DISABLE, page_swap_disabled,
                    "page swap disabled", "page swap allowed"),
};

#define PLATFORM_FLAG(bit, name, on, off) { bit, #name, offsetof(struct snp_platform_info, name), on, off }
static const struct flag_desc platform_flags[] = {
        PLATFORM_FLAG(SNP_PLATFORM_SMT_EN, smt_enabled, "SMT enabled", "SMT disabled"),
        PLATFORM_FLAG(SNP_PLATFORM_TSME_EN, tsme_enabled, "TSME enabled", "TSME disabled"),
        PLATFORM_FLAG(SNP_PLATFORM_ECC_EN, ecc_enabled, "ECC enabled", "ECC disabled"),
        PLATFORM_FLAG(SNP_PLATFORM_RAPL_DIS, rapl_disabled, "RAPL disabled", "RAPL enabled"),
        PLATFORM_FLAG(SNP_PLATFORM_CIPHERTEXT_HIDING, ciphertext_hiding,
                      "ciphertext hiding enabled", "ciphertext hiding disabled"),
        PLATFORM_FLAG(SNP_PLATFORM_ALIAS_CHECK_DONE, alias_check_complete,
                      "alias check complete", "alias check not complete"),
        PLATFORM_FLAG(SNP_PLATFORM_IOMMU_WRITE_SAFE, iommu_write_safe, "IOMMU write safe", "IOMMU not write safe"),
        PLATFORM_FLAG(SNP_PLATFORM_TIO_EN, tio_enabled, "TIO enabled", "TIO disabled"),
};

#define PLATFORM_KNOWN_MASK UINT64_C(0xff)

static void flags_decode(const struct flag_desc *tab, size_t n, uint64_t raw, void *out) {
        for (size_t i = 0; i < n; i++)
                *(bool *) ((uint8_t *) out + tab[i].field) = (raw & tab[i].bit) != 0;
}

static void flags_format(struct text *t, const struct flag_desc *tab, size_t n, uint64_t raw) {
        for (size_t i = 0; i < n; i++)
                text_item(t, raw & tab[i].bit ? tab[i].on : tab[i].off);
}

static int flags_to_json(struct json_object *o, const struct flag_desc *tab, size_t n, uint64_t raw) {
        for (size_t i = 0; i < n; i++)
                if (json_add_bool(o, tab[i].key, (raw & tab[i].bit) != 0) < 0)
                        return -ENOMEM;
        return 0;
}

/* ---- guest policy ---- */

void snp_policy_decode(uint64_t raw, struct snp_policy *ret_policy) {
        struct snp_policy p = {
                .raw = raw,
                .abi_minor = (uint8_t) (raw & SNP_POLICY_ABI_MINOR_MASK),
                .abi_major = (uint8_t) (raw >> SNP_POLICY_ABI_MAJOR_SHIFT),
                .reserved_bit17 = (raw & SNP_POLICY_RESERVED_1) != 0,
                .reserved_bits = raw & SNP_POLICY_RESERVED_MASK,
        };

        flags_decode(policy_flags, ELEMENTSOF(policy_flags), raw, &p);
        *ret_policy = p;
}

int snp_policy_format(uint64_t raw, char *buf, size_t size) {
        struct snp_policy p;
        struct text t;

        snp_policy_decode(raw, &p);
        text_init(&t, buf, size);
        text_add(&t, "ABI %u.%u", p.abi_major, p.abi_minor);
        flags_format(&t, policy_flags, ELEMENTSOF(policy_flags), raw);
        if (!p.reserved_bit17)
                text_item(&t, "reserved bit 17 is 0 (must be 1)");
        if (p.reserved_bits != 0)
                text_add(&t, "; reserved bits 63:26 set (0x%016" PRIx64 ")", p.reserved_bits);
        return text_done(&t);
}

struct json_object *snp_policy_to_json(uint64_t raw) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct snp_policy p;

        if (!o)
                return NULL;
        snp_policy_decode(raw, &p);
        if (json_add_u64_hex(o, "raw", raw) < 0 ||
            json_add_int(o, "abi_major", p.abi_major) < 0 ||
            json_add_int(o, "abi_minor", p.abi_minor) < 0 ||
            flags_to_json(o, policy_flags, ELEMENTSOF(policy_flags), raw) < 0 ||
            json_add_bool(o, "reserved_bit17", p.reserved_bit17) < 0 ||
            json_add_u64_hex(o, "reserved_bits", p.reserved_bits) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- TCB_VERSION ---- */

enum {
        TCB_FMC,
        TCB_BOOT_LOADER,
        TCB_TEE,
        TCB_SNP,
        TCB_MICROCODE,
        TCB_COMPONENTS,
};

static const struct {
        const char *key;
        size_t field;
} tcb_components[TCB_COMPONENTS] = {
        [TCB_FMC] = { "fmc", offsetof(struct snp_tcb, fmc) },
        [TCB_BOOT_LOADER] = { "boot_loader", offsetof(struct snp_tcb, boot_loader) },
        [TCB_TEE] = { "tee", offsetof(struct snp_tcb, tee) },
        [TCB_SNP] = { "snp", offsetof(struct snp_tcb, snp) },
        [TCB_MICROCODE] = { "microcode", offsetof(struct snp_tcb, microcode) },
};

/* Byte index of each component, -1 where the layout has none. */
static const struct {
        const char *name;
        int8_t byte[TCB_COMPONENTS];
} tcb_layouts[] = {
        [SNP_TCB_LAYOUT_MILAN_GENOA] = { "milan-genoa", { -1, 0, 1, 6, 7 } },
        [SNP_TCB_LAYOUT_TURIN] = { "turin", { 0, 1, 2, 3, 7 } },
};

const char *snp_tcb_layout_to_string(enum snp_tcb_layout layout) {
        if ((size_t) layout >= ELEMENTSOF(tcb_layouts))
                return "unknown";
        return tcb_layouts[layout].name;
}

void snp_tcb_decode(uint64_t raw, enum snp_tcb_layout layout, struct snp_tcb *ret_tcb) {
        struct snp_tcb t = { .raw = raw, .layout = layout };

        assert((size_t) layout < ELEMENTSOF(tcb_layouts));
        for (size_t c = 0; c < TCB_COMPONENTS; c++) {
                int b = tcb_layouts[layout].byte[c];
                if (b >= 0)
                        *((uint8_t *) &t + tcb_components[c].field) = snp_tcb_byte(raw, (unsigned) b);
        }
        *ret_tcb = t;
}

int snp_tcb_format(uint64_t raw, enum snp_tcb_layout layout, char *buf, size_t size) {
        struct text t;

        assert((size_t) layout < ELEMENTSOF(tcb_layouts));
        text_init(&t, buf, size);
        for (size_t c = 0; c < TCB_COMPONENTS; c++) {
                int b = tcb_layouts[layout].byte[c];
                if (b >= 0)
                        text_add(&t, "%s%s=%u", t.len > 0 ? " " : "", tcb_components[c].key,
                                 snp_tcb_byte(raw, (unsigned) b));
        }
        return text_done(&t);
}

struct json_object *snp_tcb_to_json(uint64_t raw, enum snp_tcb_layout layout, bool assumed) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        char hex[TCB_HEX_LEN + 1];

        assert((size_t) layout < ELEMENTSOF(tcb_layouts));
        if (!o)
                return NULL;
        tcb_to_hex(raw, hex);
        if (json_add_string(o, "raw", hex) < 0 ||
            json_add_string(o, "layout", tcb_layouts[layout].name) < 0 ||
            json_add_bool(o, "layout_assumed", assumed) < 0)
                return NULL;
        for (size_t c = 0; c < TCB_COMPONENTS; c++) {
                int b = tcb_layouts[layout].byte[c];
                if (b >= 0 && json_add_int(o, tcb_components[c].key, snp_tcb_byte(raw, (unsigned) b)) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

static const struct {
        uint8_t family;
        enum snp_tcb_layout layout;
} cpu_families[] = {
        { SNP_CPUID_FAMILY_MILAN_GENOA, SNP_TCB_LAYOUT_MILAN_GENOA },
        { SNP_CPUID_FAMILY_TURIN, SNP_TCB_LAYOUT_TURIN },
};

/* A version-2 report carries no CPUID; on Turin its CHIP_ID has only the
 * first 8 bytes non-zero (public verifiers use that as the tie-breaker).
 * 1: Turin's shape, 0: 64 bytes, -1: all zero (MASK_CHIP_ID or a VLEK). */
static int chip_id_shape(const struct snp_report *r) {
        bool head = false, tail = false;

        for (size_t i = 0; i < sizeof(r->chip_id); i++)
                if (r->chip_id[i])
                        *(i < 8 ? &head : &tail) = true;
        return tail ? 0 : head ? 1 : -1;
}

enum snp_tcb_layout snp_report_tcb_layout(const struct snp_report *r, bool *ret_assumed) {
        if (r->version < 3 && chip_id_shape(r) == 1) {
                if (ret_assumed)
                        *ret_assumed = true;
                return SNP_TCB_LAYOUT_TURIN;
        }
        if (r->version >= 3)
                for (size_t i = 0; i < ELEMENTSOF(cpu_families); i++)
                        if (r->cpuid_fam_id == cpu_families[i].family) {
                                if (ret_assumed)
                                        *ret_assumed = false;
                                return cpu_families[i].layout;
                        }
        if (ret_assumed)
                *ret_assumed = true;
        return SNP_TCB_LAYOUT_MILAN_GENOA;
}

int snp_report_tcb_layout_reason(const struct snp_report *r, char *buf, size_t size) {
        struct text t;
        bool assumed;

        text_init(&t, buf, size);
        (void) snp_report_tcb_layout(r, &assumed);
        if (!assumed)
                return text_done(&t);
        if (r->version < 3 && chip_id_shape(r) == 1)
                text_add(&t, "report carries no CPUID; CHIP_ID has 8 bytes, as on Turin");
        else if (r->version < 3 && chip_id_shape(r) < 0)
                text_add(&t, "report carries no CPUID and CHIP_ID is zero: ambiguous");
        else if (r->version < 3)
                text_add(&t, "report carries no CPUID");
        else
                text_add(&t, "unknown CPU family 0x%02x", r->cpuid_fam_id);
        return text_done(&t);
}

/* ---- platform info ---- */

void snp_platform_info_decode(uint64_t raw, struct snp_platform_info *ret_info) {
        struct snp_platform_info p = { .raw = raw };

        flags_decode(platform_flags, ELEMENTSOF(platform_flags), raw, &p);
        *ret_info = p;
}

int snp_platform_info_format(uint64_t raw, char *buf, size_t size) {
        struct text t;

        text_init(&t, buf, size);
        flags_format(&t, platform_flags, ELEMENTSOF(platform_flags), raw);
        if (raw & ~PLATFORM_KNOWN_MASK)
                text_add(&t, "; unknown bits set (0x%016" PRIx64 ")", raw & ~PLATFORM_KNOWN_MASK);
        return text_done(&t);
}

struct json_object *snp_platform_info_to_json(uint64_t raw) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_add_u64_hex(o, "raw", raw) < 0 ||
            flags_to_json(o, platform_flags, ELEMENTSOF(platform_flags), raw) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- signer info ---- */

static const struct {
        unsigned id;
        const char *name;
        const char *text;
} signing_keys[] = {
        { SNP_SIGNING_KEY_VCEK, "vcek", "signed with VCEK" },
        { SNP_SIGNING_KEY_VLEK, "vlek", "signed with VLEK" },
        { SNP_SIGNING_KEY_NONE, "none", "not signed" },
};

static size_t signing_key_index(unsigned signing_key) {
        for (size_t i = 0; i < ELEMENTSOF(signing_keys); i++)
                if (signing_keys[i].id == signing_key)
                        return i;
        return SIZE_MAX;
}

const char *snp_signing_key_to_string(unsigned signing_key) {
        size_t i = signing_key_index(signing_key);

        return i == SIZE_MAX ? "reserved" : signing_keys[i].name;
}

void snp_signer_info_decode(uint32_t raw, struct snp_signer_info *ret_info) {
        *ret_info = (struct snp_signer_info) {
                .raw = raw,
                .author_key_en = (raw & SNP_SIGNER_AUTHOR_KEY_EN) != 0,
                .mask_chip_key = (raw & SNP_SIGNER_MASK_CHIP_KEY) != 0,
                .signing_key = (raw & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT,
        };
}

int snp_signer_info_format(uint32_t raw, char *buf, size_t size) {
        struct snp_signer_info s;
        struct text t;
        size_t i;

        snp_signer_info_decode(raw, &s);
        text_init(&t, buf, size);
        text_item(&t, s.author_key_en ? "author key enabled" : "author key not enabled");
        text_item(&t, s.mask_chip_key ? "chip key masked" : "chip key not masked");
        i = signing_key_index(s.signing_key);
        if (i == SIZE_MAX)
                text_add(&t, "; signing key reserved (%u)", s.signing_key);
        else
                text_item(&t, signing_keys[i].text);
        return text_done(&t);
}

struct json_object *snp_signer_info_to_json(uint32_t raw) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct snp_signer_info s;
        char hex[2 + 8 + 1];

        if (!o)
                return NULL;
        snp_signer_info_decode(raw, &s);
        snprintf(hex, sizeof(hex), "0x%08" PRIx32, raw);
        if (json_add_string(o, "raw", hex) < 0 ||
            json_add_bool(o, "author_key_en", s.author_key_en) < 0 ||
            json_add_bool(o, "mask_chip_key", s.mask_chip_key) < 0 ||
            json_add_string(o, "signing_key", snp_signing_key_to_string(s.signing_key)) < 0 ||
            json_add_int(o, "signing_key_id", s.signing_key) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- the attestation report ---- */

int snp_report_validate(const void *buf, size_t size, struct snp_report *ret_report,
                        struct snp_error *err) {
        struct snp_report r;

        if (!buf)
                return snp_error_set(err, -EINVAL, 0, 0, "attestation report missing");
        if (size != SNP_REPORT_SIZE)
                return snp_error_set(err, -EINVAL, 0, 0,
                                     "attestation report has %zu bytes, expected %u", size,
                                     SNP_REPORT_SIZE);
        memcpy(&r, buf, sizeof(r));
        /* A newer version than this code knows is decoded as far as known:
         * the fields key derivation needs have never moved. */
        if (r.version < SNP_REPORT_VERSION_MIN)
                return snp_error_set(err, -EBADMSG, 0, 0,
                                     "attestation report version %" PRIu32 " not supported (expected %u or later)",
                                     r.version, SNP_REPORT_VERSION_MIN);
        if (r.signature_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
                return snp_error_set(err, -EBADMSG, 0, 0,
                                     "attestation report signature algorithm %" PRIu32
                                     " not supported (expected %u, ECDSA P-384 with SHA-384)",
                                     r.signature_algo, SNP_SIG_ALGO_ECDSA_P384_SHA384);
        *ret_report = r;
        return 0;
}

enum field_kind {
        F_U32,
        F_SIG_ALGO,
        F_POLICY,
        F_BYTES,
        F_LAYOUT,
        F_TCB,
        F_PLATFORM,
        F_SIGNER,
        F_CPUID,
        F_FIRMWARE,
        F_U64_HEX,
};

struct report_field {
        const char *key;
        enum field_kind kind;
        size_t offset;
        size_t size;
        uint32_t min_version;
};

#define RF(name, kind, minv) \
        { #name, kind, offsetof(struct snp_report, name), sizeof(((struct snp_report *) 0)->name), minv }

static const struct report_field report_fields[] = {
        RF(version, F_U32, 0),
        RF(guest_svn, F_U32, 0),
        RF(policy, F_POLICY, 0),
        RF(family_id, F_BYTES, 0),
        RF(image_id, F_BYTES, 0),
        RF(vmpl, F_U32, 0),
        RF(signature_algo, F_SIG_ALGO, 0),
        { "tcb_layout", F_LAYOUT, 0, 0, 0 },
        RF(current_tcb, F_TCB, 0),
        RF(platform_info, F_PLATFORM, 0),
        RF(signer_info, F_SIGNER, 0),
        RF(report_data, F_BYTES, 0),
        RF(measurement, F_BYTES, 0),
        RF(host_data, F_BYTES, 0),
        RF(id_key_digest, F_BYTES, 0),
        RF(author_key_digest, F_BYTES, 0),
        RF(report_id, F_BYTES, 0),
        RF(report_id_ma, F_BYTES, 0),
        RF(reported_tcb, F_TCB, 0),
        { "cpuid", F_CPUID, offsetof(struct snp_report, cpuid_fam_id), 3, 3 },
        RF(chip_id, F_BYTES, 0),
        RF(committed_tcb, F_TCB, 0),
        { "current_firmware", F_FIRMWARE, offsetof(struct snp_report, current_build), 3, 0 },
        { "committed_firmware", F_FIRMWARE, offsetof(struct snp_report, committed_build), 3, 0 },
        RF(launch_tcb, F_TCB, 0),
        RF(launch_mit_vector, F_U64_HEX, 5),
        RF(current_mit_vector, F_U64_HEX, 5),
        { "signature_r", F_BYTES, offsetof(struct snp_report, signature.r), 72, 0 },
        { "signature_s", F_BYTES, offsetof(struct snp_report, signature.s), 72, 0 },
};

static const uint8_t *field_ptr(const struct snp_report *r, const struct report_field *f) {
        return (const uint8_t *) r + f->offset;
}

static uint32_t field_u32(const struct snp_report *r, const struct report_field *f) {
        uint32_t v;

        memcpy(&v, field_ptr(r, f), sizeof(v));
        return v;
}

static uint64_t field_u64(const struct snp_report *r, const struct report_field *f) {
        uint64_t v;

        memcpy(&v, field_ptr(r, f), sizeof(v));
        return v;
}

static struct json_object *cpuid_to_json(const uint8_t *p) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_add_int(o, "family", p[0]) < 0 ||
            json_add_int(o, "model", p[1]) < 0 ||
            json_add_int(o, "stepping", p[2]) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int firmware_string(const uint8_t *p, char *buf, size_t size) {
        struct text t;

        /* stored as build, minor, major */
        text_init(&t, buf, size);
        text_add(&t, "%u.%u.%u", p[2], p[1], p[0]);
        return text_done(&t);
}

static int field_to_json(struct json_object *o, const struct snp_report *r,
                         const struct report_field *f) {
        bool assumed;
        enum snp_tcb_layout layout = snp_report_tcb_layout(r, &assumed);
        char s[16];

        switch (f->kind) {
        case F_U32:
        case F_SIG_ALGO:
                return json_add_int(o, f->key, field_u32(r, f));
        case F_POLICY:
                return json_add(o, f->key, snp_policy_to_json(field_u64(r, f)));
        case F_BYTES:
                return json_add_bytes_hex(o, f->key, field_ptr(r, f), f->size);
        case F_LAYOUT:
                if (json_add_string(o, f->key, snp_tcb_layout_to_string(layout)) < 0)
                        return -ENOMEM;
                return json_add_bool(o, "tcb_layout_assumed", assumed);
        case F_TCB:
                return json_add(o, f->key, snp_tcb_to_json(field_u64(r, f), layout, assumed));
        case F_PLATFORM:
                return json_add(o, f->key, snp_platform_info_to_json(field_u64(r, f)));
        case F_SIGNER:
                return json_add(o, f->key, snp_signer_info_to_json(field_u32(r, f)));
        case F_CPUID:
                return json_add(o, f->key, cpuid_to_json(field_ptr(r, f)));
        case F_FIRMWARE:
                (void) firmware_string(field_ptr(r, f), s, sizeof(s));
                return json_add_string(o, f->key, s);
        case F_U64_HEX:
                return json_add_u64_hex(o, f->key, field_u64(r, f));
        }
        assert(!"unknown report field kind");
        return -EINVAL;
}

struct json_object *snp_report_to_json(const struct snp_report *r) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(report_fields); i++) {
                const struct report_field *f = &report_fields[i];
                if (r->version < f->min_version)
                        continue;
                if (field_to_json(o, r, f) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

#define REPORT_NAME_WIDTH 20

_printf_(3, 4)
static void line(FILE *f, const char *name, const char *fmt, ...) {
        va_list ap;
        int pad = REPORT_NAME_WIDTH - (int) strlen(name) - 1;

        fprintf(f, "%s:%*s", name, pad > 1 ? pad : 1, "");
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
}

static void format_layout(FILE *f, const struct snp_report *r, const char *key) {
        char reason[SNP_DECODE_TEXT_MAX];
        bool assumed;
        enum snp_tcb_layout layout = snp_report_tcb_layout(r, &assumed);

        if (!assumed) {
                line(f, key, "%s (CPU family 0x%02x)", snp_tcb_layout_to_string(layout), r->cpuid_fam_id);
                return;
        }
        if (snp_report_tcb_layout_reason(r, reason, sizeof(reason)) < 0)
                reason[0] = '\0';
        line(f, key, "%s (layout assumed: %s)", snp_tcb_layout_to_string(layout), reason);
}

static void format_field(FILE *f, const struct snp_report *r, const struct report_field *fd) {
        char text[SNP_DECODE_TEXT_MAX], hex[2 * 72 + 1];
        enum snp_tcb_layout layout = snp_report_tcb_layout(r, NULL);
        const uint8_t *p = field_ptr(r, fd);
        uint64_t v = 0;

        text[0] = '\0';
        switch (fd->kind) {
        case F_U32:
                line(f, fd->key, "%" PRIu32, field_u32(r, fd));
                return;
        case F_SIG_ALGO:
                v = field_u32(r, fd);
                line(f, fd->key, "%" PRIu64 " (%s)", v,
                     v == SNP_SIG_ALGO_ECDSA_P384_SHA384 ? "ECDSA P-384 with SHA-384" : "unknown");
                return;
        case F_POLICY:
                v = field_u64(r, fd);
                (void) snp_policy_format(v, text, sizeof(text));
                line(f, fd->key, "0x%016" PRIx64 " (%s)", v, text);
                return;
        case F_BYTES:
                assert(fd->size <= 72);
                hex_encode(p, fd->size, hex);
                line(f, fd->key, "%s", hex);
                return;
        case F_LAYOUT:
                format_layout(f, r, fd->key);
                return;
        case F_TCB:
                v = field_u64(r, fd);
                tcb_to_hex(v, hex);
                (void) snp_tcb_format(v, layout, text, sizeof(text));
                line(f, fd->key, "%s (%s)", hex, text);
                return;
        case F_PLATFORM:
                v = field_u64(r, fd);
                (void) snp_platform_info_format(v, text, sizeof(text));
                line(f, fd->key, "0x%016" PRIx64 " (%s)", v, text);
                return;
        case F_SIGNER:
                (void) snp_signer_info_format(field_u32(r, fd), text, sizeof(text));
                line(f, fd->key, "0x%08" PRIx32 " (%s)", field_u32(r, fd), text);
                return;
        case F_CPUID:
                line(f, fd->key, "family 0x%02x model 0x%02x stepping 0x%02x", p[0], p[1], p[2]);
                return;
        case F_FIRMWARE:
                (void) firmware_string(p, text, sizeof(text));
                line(f, fd->key, "%s", text);
                return;
        case F_U64_HEX:
                line(f, fd->key, "0x%016" PRIx64, field_u64(r, fd));
                return;
        }
        assert(!"unknown report field kind");
}

int snp_report_format(const struct snp_report *r, FILE *f) {
        for (size_t i = 0; i < ELEMENTSOF(report_fields); i++)
                if (r->version >= report_fields[i].min_version)
                        format_field(f, r, &report_fields[i]);
        if (r->version > SNP_REPORT_VERSION_MAX)
                line(f, "note", "report version %" PRIu32 " is newer than this snpseal knows (%u): "
                     "the fields of version %u are shown, what the newer version adds is not",
                     r->version, SNP_REPORT_VERSION_MAX, SNP_REPORT_VERSION_MAX);
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json.h>

#include "macro.h"
#include "snp-decode.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

/* ---- reports built byte by byte at the offsets of lib/snp/snp-abi.h (AMD's ABI) ---- */

#define REPORT_LEN 0x4A0

struct report_spec {
        uint32_t version;
        uint8_t cpuid[3];        /* family, model, stepping at 0x188 */
        uint64_t policy;
        uint64_t platform_info;
        uint32_t signer_info;
        uint64_t current_tcb, reported_tcb, committed_tcb, launch_tcb;
};

static void put_le(uint8_t *b, size_t off, uint64_t v, size_t n) {
        for (size_t i = 0; i < n; i++)
                b[off + i] = (uint8_t) (v >> (8 * i));
}

static void fill(uint8_t *b, size_t off, size_t n, uint8_t start) {
        for (size_t i = 0; i < n; i++)
                b[off + i] = (uint8_t) (start + i);
}

/* The hex a filled range must decode to, computed independently. */
static void expect_hex(char *out, size_t n, uint8_t start) {
        for (size_t i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", (uint8_t) (start + i));
}

static void build_report(uint8_t *b, const struct report_spec *s) {
        memset(b, 0, REPORT_LEN);
        put_le(b, 0x000, s->version, 4);
        put_le(b, 0x004, 7, 4);                /* guest SVN */
        put_le(b, 0x008, s->policy, 8);
        fill(b, 0x010, 16, 0x10);              /* family ID */
        fill(b, 0x020, 16, 0x20);              /* image ID */
        put_le(b, 0x030, 1, 4);                /* VMPL */
        put_le(b, 0x034, 1, 4);                /* signature algorithm */
        put_le(b, 0x038, s->current_tcb, 8);
        put_le(b, 0x040, s->platform_info, 8);
        put_le(b, 0x048, s->signer_info, 4);
        fill(b, 0x050, 64, 0x50);              /* report data */
        fill(b, 0x090, 48, 0x90);              /* measurement */
        fill(b, 0x0C0, 32, 0xc0);              /* host data */
        fill(b, 0x0E0, 48, 0xe0);              /* ID key digest */
        fill(b, 0x110, 48, 0x01);              /* author key digest */
        fill(b, 0x140, 32, 0x40);              /* report ID */
        fill(b, 0x160, 32, 0x60);              /* report ID MA */
        put_le(b, 0x180, s->reported_tcb, 8);
        memcpy(b + 0x188, s->cpuid, 3);
        fill(b, 0x1A0, 64, 0xa0);              /* chip ID */
        put_le(b, 0x1E0, s->committed_tcb, 8);
        b[0x1E8] = 21, b[0x1E9] = 55, b[0x1EA] = 1;   /* current build, minor, major */
        b[0x1EC] = 20, b[0x1ED] = 54, b[0x1EE] = 1;   /* committed */
        put_le(b, 0x1F0, s->launch_tcb, 8);
        put_le(b, 0x1F8, 0x11, 8);             /* launch mitigation vector */
        put_le(b, 0x200, 0x33, 8);             /* current mitigation vector */
        fill(b, 0x2A0, 72, 0x01);              /* signature R */
        fill(b, 0x2A0 + 72, 72, 0x81);         /* signature S */
}

static const struct report_spec milan_v2 = {
        .version = 2,
        /* reserved in version 2: must be ignored even though it says Turin */
        .cpuid = { 0x1A, 0x02, 0x00 },
        .policy = 0x30000,
        .platform_info = 0x25,
        .signer_info = 0,
        .current_tcb = UINT64_C(0xd108000000000003),
        .reported_tcb = UINT64_C(0xd107000000000002),
        .committed_tcb = UINT64_C(0xd106000000000001),
        .launch_tcb = UINT64_C(0xce05000000000104),
};

static const struct report_spec genoa_v3 = {
        .version = 3,
        .cpuid = { 0x19, 0x11, 0x01 },
        .policy = 0xB0133,                       /* ABI 1.51, SMT, debug */
        .platform_info = 0x03,
        .signer_info = 0x05,                     /* author key, VLEK */
        .current_tcb = UINT64_C(0xdb18000000000009),
        .reported_tcb = UINT64_C(0xdb18000000000009),
        .committed_tcb = UINT64_C(0xdb17000000000008),
        .launch_tcb = UINT64_C(0xdb17000000000008),
};

static const struct report_spec turin_v3 = {
        .version = 3,
        .cpuid = { 0x1A, 0x02, 0x00 },
        .policy = 0x70000,                       /* SMT, migration agent */
        .platform_info = 0x01,
        .signer_info = 0,
        .current_tcb = UINT64_C(0x4800000004030201),
        .reported_tcb = UINT64_C(0x4800000004030201),
        .committed_tcb = UINT64_C(0x4700000004030101),
        .launch_tcb = UINT64_C(0x4700000004030101),
};

static void load_report(const struct report_spec *s, struct snp_report *ret) {
        uint8_t buf[REPORT_LEN];
        struct snp_error err = { 0 };

        build_report(buf, s);
        assert_int_equal(snp_report_validate(buf, sizeof(buf), ret, &err), 0);
}

/* ---- JSON expectations ---- */

struct jexpect {
        const char *path;        /* dotted */
        json_type type;
        const char *value;       /* json_object_get_string() of the node */
};

static struct json_object *jget(struct json_object *o, const char *path) {
        char buf[128], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(o, k, &o))
                        return NULL;
        return o;
}

static void check_json(struct json_object *o, const struct jexpect *t, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = jget(o, t[i].path);
                if (!v)
                        fail_msg("%s missing", t[i].path);
                if (!json_object_is_type(v, t[i].type))
                        fail_msg("%s has type %s, expected %s", t[i].path,
                                 json_type_to_name(json_object_get_type(v)), json_type_to_name(t[i].type));
                if (strcmp(json_object_get_string(v), t[i].value) != 0)
                        fail_msg("%s is \"%s\", expected \"%s\"", t[i].path, json_object_get_string(v),
                                 t[i].value);
        }
}

static void check_absent(struct json_object *o, const char *const *paths, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (jget(o, paths[i]))
                        fail_msg("%s present, expected absent", paths[i]);
}

#define S json_type_string
#define I json_type_int
#define B json_type_boolean

/* Byte fields every built report shares. */
static void check_byte_fields(struct json_object *o) {
        static const struct {
                const char *key;
                size_t n;
                uint8_t start;
        } t[] = {
                { "family_id", 16, 0x10 }, { "image_id", 16, 0x20 }, { "report_data", 64, 0x50 },
                { "measurement", 48, 0x90 }, { "host_data", 32, 0xc0 }, { "id_key_digest", 48, 0xe0 },
                { "author_key_digest", 48, 0x01 }, { "report_id", 32, 0x40 }, { "report_id_ma", 32, 0x60 },
                { "chip_id", 64, 0xa0 }, { "signature_r", 72, 0x01 }, { "signature_s", 72, 0x81 },
        };
        char hex[2 * 72 + 1];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                expect_hex(hex, t[i].n, t[i].start);
                check_json(o, &(struct jexpect) { t[i].key, S, hex }, 1);
        }
}

/* ---- text expectations ---- */

static char *report_text(const struct snp_report *r) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        assert_int_equal(snp_report_format(r, f), 0);
        assert_int_equal(fclose(f), 0);
        assert_non_null(text);
        return text;
}

/* Every line "name:" then spaces to column 20, a value, no trailing space;
 * returns the number of lines. */
static size_t check_alignment(const char *text) {
        size_t lines = 0;

        for (const char *p = text; *p; lines++) {
                const char *nl = strchr(p, '\n'), *colon = strchr(p, ':');
                assert_non_null(nl);
                assert_true(colon && colon < nl);
                if (colon - p < 19)
                        assert_int_equal(p[20] != ' ' && p[19] == ' ', 1);
                assert_true(nl[-1] != ' ');
                p = nl + 1;
        }
        return lines;
}

static void check_lines(const char *text, const char *const *lines, size_t n) {
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(lines[i]);
                const char *p = text;
                bool found = false;

                for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                        if (strncmp(p, lines[i], len) == 0 && p[len] == '\n') {
                                found = true;
                                break;
                        }
                if (!found)
                        fail_msg("line \"%s\" missing in:\n%s", lines[i], text);
        }
}

static void check_no_line(const char *text, const char *prefix) {
        size_t len = strlen(prefix);

        if (strncmp(text, prefix, len) == 0)
                fail_msg("unexpected line %s", prefix);
        for (const char *p = strchr(text, '\n'); p; p = strchr(p + 1, '\n'))
                if (strncmp(p + 1, prefix, len) == 0)
                        fail_msg("unexpected line %s", prefix);
}

/* ---- the reports ---- */

static void test_milan_v2(void **state) {
        static const struct jexpect j[] = {
                { "version", I, "2" },
                { "guest_svn", I, "7" },
                { "vmpl", I, "1" },
                { "signature_algo", I, "1" },
                { "policy.raw", S, "0x0000000000030000" },
                { "policy.abi_major", I, "0" },
                { "policy.smt", B, "true" },
                { "policy.debug", B, "false" },
                { "policy.migrate_ma", B, "false" },
                { "policy.reserved_bit17", B, "true" },
                { "tcb_layout", S, "milan-genoa" },
                { "tcb_layout_assumed", B, "true" },
                { "current_tcb.raw", S, "03000000000008d1" },
                { "current_tcb.layout", S, "milan-genoa" },
                { "current_tcb.layout_assumed", B, "true" },
                { "current_tcb.boot_loader", I, "3" },
                { "current_tcb.tee", I, "0" },
                { "current_tcb.snp", I, "8" },
                { "current_tcb.microcode", I, "209" },
                { "reported_tcb.raw", S, "02000000000007d1" },
                { "committed_tcb.raw", S, "01000000000006d1" },
                { "committed_tcb.snp", I, "6" },
                { "launch_tcb.raw", S, "04010000000005ce" },
                { "launch_tcb.boot_loader", I, "4" },
                { "launch_tcb.tee", I, "1" },
                { "launch_tcb.snp", I, "5" },
                { "launch_tcb.microcode", I, "206" },
                { "platform_info.raw", S, "0x0000000000000025" },
                { "platform_info.smt_enabled", B, "true" },
                { "platform_info.tsme_enabled", B, "false" },
                { "platform_info.ecc_enabled", B, "true" },
                { "platform_info.alias_check_complete", B, "true" },
                { "signer_info.raw", S, "0x00000000" },
                { "signer_info.signing_key", S, "vcek" },
                { "signer_info.author_key_en", B, "false" },
                { "current_firmware", S, "1.55.21" },
                { "committed_firmware", S, "1.54.20" },
        };
        static const char *const absent[] = {
                "cpuid", "launch_mit_vector", "current_mit_vector", "current_tcb.fmc", "launch_tcb.fmc",
        };
        static const char *const lines[] = {
                "version:            2",
                "policy:             0x0000000000030000 (ABI 0.0; SMT allowed; migration agent not allowed; "
                "debugging not allowed; single socket not required; CXL not allowed; AES-256-XTS not required; "
                "RAPL allowed; ciphertext hiding not required; page swap allowed)",
                "signature_algo:     1 (ECDSA P-384 with SHA-384)",
                "tcb_layout:         milan-genoa (layout assumed: report carries no CPUID)",
                "current_tcb:        03000000000008d1 (boot_loader=3 tee=0 snp=8 microcode=209)",
                "launch_tcb:         04010000000005ce (boot_loader=4 tee=1 snp=5 microcode=206)",
                ("platform_info:      0x0000000000000025 (SMT enabled; TSME disabled; ECC enabled; RAPL enabled; "
                 "ciphertext hiding disabled; alias check complete; IOMMU not write safe; TIO disabled)"),
                "signer_info:        0x00000000 (author key not enabled; chip key not masked; signed with VCEK)",
                "current_firmware:   1.55.21",
                "committed_firmware: 1.54.20",
                "family_id:          101112131415161718191a1b1c1d1e1f",
        };
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(freep) char *text = NULL;
        struct snp_report r;
        bool assumed = false;

        load_report(&milan_v2, &r);
        assert_int_equal(snp_report_tcb_layout(&r, &assumed), SNP_TCB_LAYOUT_MILAN_GENOA);
        assert_true(assumed);
        o = snp_report_to_json(&r);
        assert_non_null(o);
        check_json(o, j, ELEMENTSOF(j));
        check_absent(o, absent, ELEMENTSOF(absent));
        check_byte_fields(o);

        text = report_text(&r);
        assert_int_equal(check_alignment(text), 26);
        check_lines(text, lines, ELEMENTSOF(lines));
        check_no_line(text, "cpuid:");
        check_no_line(text, "launch_mit_vector:");
}

static void test_genoa_v3(void **state) {
        static const struct jexpect j[] = {
                { "version", I, "3" },
                { "cpuid.family", I, "25" },
                { "cpuid.model", I, "17" },
                { "cpuid.stepping", I, "1" },
                { "tcb_layout", S, "milan-genoa" },
                { "tcb_layout_assumed", B, "false" },
                { "current_tcb.layout_assumed", B, "false" },
                { "current_tcb.raw", S, "09000000000018db" },
                { "current_tcb.boot_loader", I, "9" },
                { "current_tcb.snp", I, "24" },
                { "current_tcb.microcode", I, "219" },
                { "committed_tcb.snp", I, "23" },
                { "policy.raw", S, "0x00000000000b0133" },
                { "policy.abi_major", I, "1" },
                { "policy.abi_minor", I, "51" },
                { "policy.debug", B, "true" },
                { "signer_info.raw", S, "0x00000005" },
                { "signer_info.author_key_en", B, "true" },
                { "signer_info.mask_chip_key", B, "false" },
                { "signer_info.signing_key", S, "vlek" },
                { "signer_info.signing_key_id", I, "1" },
                { "platform_info.tsme_enabled", B, "true" },
        };
        static const char *const absent[] = { "launch_mit_vector", "current_mit_vector", "current_tcb.fmc" };
        static const char *const lines[] = {
                "cpuid:              family 0x19 model 0x11 stepping 0x01",
                "tcb_layout:         milan-genoa (CPU family 0x19)",
                "current_tcb:        09000000000018db (boot_loader=9 tee=0 snp=24 microcode=219)",
                "signer_info:        0x00000005 (author key enabled; chip key not masked; signed with VLEK)",
        };
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(freep) char *text = NULL;
        struct snp_report r;
        bool assumed = true;

        load_report(&genoa_v3, &r);
        assert_int_equal(snp_report_tcb_layout(&r, &assumed), SNP_TCB_LAYOUT_MILAN_GENOA);
        assert_false(assumed);
        o = snp_report_to_json(&r);
        assert_non_null(o);
        check_json(o, j, ELEMENTSOF(j));
        check_absent(o, absent, ELEMENTSOF(absent));
        check_byte_fields(o);
        text = report_text(&r);
        assert_int_equal(check_alignment(text), 27);
        check_lines(text, lines, ELEMENTSOF(lines));
        assert_null(strstr(text, "assumed"));
}

static void test_turin_v3(void **state) {
        static const struct jexpect j[] = {
                { "cpuid.family", I, "26" },
                { "cpuid.model", I, "2" },
                { "tcb_layout", S, "turin" },
                { "tcb_layout_assumed", B, "false" },
                { "current_tcb.raw", S, "0102030400000048" },
                { "current_tcb.layout", S, "turin" },
                { "current_tcb.fmc", I, "1" },
                { "current_tcb.boot_loader", I, "2" },
                { "current_tcb.tee", I, "3" },
                { "current_tcb.snp", I, "4" },
                { "current_tcb.microcode", I, "72" },
                { "committed_tcb.raw", S, "0101030400000047" },
                { "committed_tcb.fmc", I, "1" },
                { "committed_tcb.boot_loader", I, "1" },
                { "launch_tcb.layout", S, "turin" },
                { "policy.migrate_ma", B, "true" },
        };
        static const char *const lines[] = {
                "cpuid:              family 0x1a model 0x02 stepping 0x00",
                "tcb_layout:         turin (CPU family 0x1a)",
                "current_tcb:        0102030400000048 (fmc=1 boot_loader=2 tee=3 snp=4 microcode=72)",
                "committed_tcb:      0101030400000047 (fmc=1 boot_loader=1 tee=3 snp=4 microcode=71)",
        };
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(freep) char *text = NULL;
        struct snp_report r;
        bool assumed = true;

        load_report(&turin_v3, &r);
        assert_int_equal(snp_report_tcb_layout(&r, &assumed), SNP_TCB_LAYOUT_TURIN);
        assert_false(assumed);
        o = snp_report_to_json(&r);
        assert_non_null(o);
        check_json(o, j, ELEMENTSOF(j));
        check_absent(o, (const char *const[]) { "launch_mit_vector" }, 1);
        text = report_text(&r);
        assert_int_equal(check_alignment(text), 27);
        check_lines(text, lines, ELEMENTSOF(lines));
}

static void test_v5_mitigation_vectors(void **state) {
        static const struct jexpect j[] = {
                { "version", I, "5" },
                { "launch_mit_vector", S, "0x0000000000000011" },
                { "current_mit_vector", S, "0x0000000000000033" },
        };
        static const char *const lines[] = {
                "launch_mit_vector:  0x0000000000000011",
                "current_mit_vector: 0x0000000000000033",
        };
        struct report_spec s = genoa_v3;
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(freep) char *text = NULL;
        struct snp_report r;

        s.version = 5;
        load_report(&s, &r);
        o = snp_report_to_json(&r);
        assert_non_null(o);
        check_json(o, j, ELEMENTSOF(j));
        text = report_text(&r);
        assert_int_equal(check_alignment(text), 29);
        check_lines(text, lines, ELEMENTSOF(lines));
}

static void test_layout_assumed_unknown_family(void **state) {
        static const struct jexpect j[] = {
                { "tcb_layout", S, "milan-genoa" },
                { "tcb_layout_assumed", B, "true" },
                { "reported_tcb.layout_assumed", B, "true" },
                { "cpuid.family", I, "23" },
        };
        struct report_spec s = genoa_v3;
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(freep) char *text = NULL;
        struct snp_report r;
        char reason[SNP_DECODE_TEXT_MAX];
        bool assumed = false;

        s.cpuid[0] = 0x17;
        load_report(&s, &r);
        assert_int_equal(snp_report_tcb_layout(&r, &assumed), SNP_TCB_LAYOUT_MILAN_GENOA);
        assert_true(assumed);
        assert_int_equal(snp_report_tcb_layout_reason(&r, reason, sizeof(reason)), 23);
        assert_string_equal(reason, "unknown CPU family 0x17");
        o = snp_report_to_json(&r);
        assert_non_null(o);
        check_json(o, j, ELEMENTSOF(j));
        text = report_text(&r);
        check_lines(text, (const char *const[]) {
                "tcb_layout:         milan-genoa (layout assumed: unknown CPU family 0x17)",
        }, 1);

        /* version 2: no CPUID at all */
        load_report(&milan_v2, &r);
        assert_int_equal(snp_report_tcb_layout_reason(&r, reason, sizeof(reason)), 23);
        assert_string_equal(reason, "report carries no CPUID");
        assert_int_equal(snp_report_tcb_layout(&r, NULL), SNP_TCB_LAYOUT_MILAN_GENOA);
        /* version 2 with Turin's 8-byte CHIP_ID: the tie-breaker says Turin */
        memset(r.chip_id + 8, 0, sizeof(r.chip_id) - 8);
        assert_int_equal(snp_report_tcb_layout(&r, &assumed), SNP_TCB_LAYOUT_TURIN);
        assert_true(assumed);
        assert_true(snp_report_tcb_layout_reason(&r, reason, sizeof(reason)) > 0);
        assert_string_equal(reason, "report carries no CPUID; CHIP_ID has 8 bytes, as on Turin");
        /* version 2 with a zero CHIP_ID (MASK_CHIP_ID, VLEK): ambiguous, said so */
        memset(r.chip_id, 0, sizeof(r.chip_id));
        assert_int_equal(snp_report_tcb_layout(&r, &assumed), SNP_TCB_LAYOUT_MILAN_GENOA);
        assert_true(assumed);
        assert_true(snp_report_tcb_layout_reason(&r, reason, sizeof(reason)) > 0);
        assert_string_equal(reason, "report carries no CPUID and CHIP_ID is zero: ambiguous");
        /* not assumed: empty reason */
        load_report(&turin_v3, &r);
        assert_int_equal(snp_report_tcb_layout_reason(&r, reason, sizeof(reason)), 0);
        assert_string_equal(reason, "");
        assert_int_equal(snp_report_tcb_layout(&r, NULL), SNP_TCB_LAYOUT_TURIN);
}

/* ---- validation ---- */

static void test_validate_rejects(void **state) {
        static const struct {
                size_t size;
                size_t offset;           /* where to write value (4 bytes LE), or SIZE_MAX */
                uint32_t value;
                int code;
                const char *message;
        } t[] = {
                { REPORT_LEN - 1, SIZE_MAX, 0, -EINVAL, "attestation report has 1183 bytes, expected 1184" },
                { REPORT_LEN + 1, SIZE_MAX, 0, -EINVAL, "has 1185 bytes" },
                { 0, SIZE_MAX, 0, -EINVAL, "has 0 bytes" },
                { REPORT_LEN, 0x000, 0, -EBADMSG, "version 0 not supported (expected 2 or later)" },
                { REPORT_LEN, 0x000, 1, -EBADMSG, "version 1 not supported" },
                { REPORT_LEN, 0x034, 0, -EBADMSG, "signature algorithm 0 not supported" },
                { REPORT_LEN, 0x034, 2, -EBADMSG, "signature algorithm 2 not supported (expected 1, ECDSA P-384" },
                { REPORT_LEN, 0x034, 0x100, -EBADMSG, "signature algorithm 256" },
        };
        uint8_t buf[REPORT_LEN + 1], untouched[sizeof(struct snp_report)];
        struct snp_report r;

        memset(untouched, 0x5a, sizeof(untouched));
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct snp_error err = { 0 };

                build_report(buf, &genoa_v3);
                if (t[i].offset != SIZE_MAX)
                        put_le(buf, t[i].offset, t[i].value, 4);
                memset(&r, 0x5a, sizeof(r));
                assert_int_equal(snp_report_validate(buf, t[i].size, &r, &err), t[i].code);
                assert_int_equal(err.code, t[i].code);
                if (!strstr(err.message, t[i].message))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message, t[i].message);
                assert_memory_equal(&r, untouched, sizeof(r));
        }
}

static void test_validate_null_and_accepts(void **state) {
        uint8_t buf[REPORT_LEN];
        struct snp_error err = { 0 };
        struct snp_report r;

        assert_int_equal(snp_report_validate(NULL, REPORT_LEN, &r, &err), -EINVAL);
        assert_non_null(strstr(err.message, "attestation report missing"));
        assert_int_equal(snp_report_validate(NULL, REPORT_LEN, &r, NULL), -EINVAL);

        /* Versions above 5 too: a newer firmware must not stop anything. */
        for (uint32_t v = 2; v <= 7; v++) {
                build_report(buf, &genoa_v3);
                put_le(buf, 0, v, 4);
                memset(&r, 0, sizeof(r));
                assert_int_equal(snp_report_validate(buf, sizeof(buf), &r, NULL), 0);
                assert_int_equal(r.version, v);
                assert_memory_equal(&r, buf, sizeof(buf));
        }
        put_le(buf, 0, UINT32_MAX, 4);
        assert_int_equal(snp_report_validate(buf, sizeof(buf), &r, NULL), 0);

        /* The dump says what it does not know. */
        put_le(buf, 0, 6, 4);
        assert_int_equal(snp_report_validate(buf, sizeof(buf), &r, NULL), 0);
        {
                _cleanup_(freep) char *text = report_text(&r);
                _cleanup_(freep) char *v5 = NULL;

                assert_non_null(strstr(text, "\nnote:               report version 6 is newer than this snpseal "
                                             "knows (5): the fields of version 5 are shown"));
                put_le(buf, 0, 5, 4);
                assert_int_equal(snp_report_validate(buf, sizeof(buf), &r, NULL), 0);
                v5 = report_text(&r);
                assert_null(strstr(v5, "note:"));
        }
}

/* ---- policy ---- */

static const struct {
        uint64_t bit;
        const char *key;
        size_t field;
        const char *on;
        const char *off;
} policy_bits[] = {
        { 1u << 16, "smt", offsetof(struct snp_policy, smt), "SMT allowed", "SMT not allowed" },
        { 1u << 18, "migrate_ma", offsetof(struct snp_policy, migrate_ma),
          "migration agent allowed", "migration agent not allowed" },
        { 1u << 19, "debug", offsetof(struct snp_policy, debug), "debugging allowed", "debugging not allowed" },
        { 1u << 20, "single_socket", offsetof(struct snp_policy, single_socket),
          "single socket required", "single socket not required" },
        { 1u << 21, "cxl_allowed", offsetof(struct snp_policy, cxl_allowed), "CXL allowed", "CXL not allowed" },
        { 1u << 22, "mem_aes_256_xts", offsetof(struct snp_policy, mem_aes_256_xts),
          "AES-256-XTS required", "AES-256-XTS not required" },
        { 1u << 23, "rapl_disabled", offsetof(struct snp_policy, rapl_disabled),
          "RAPL must be disabled", "RAPL allowed" },
        { 1u << 24, "ciphertext_hiding", offsetof(struct snp_policy, ciphertext_hiding),
          "ciphertext hiding required", "ciphertext hiding not required" },
        { 1u << 25, "page_swap_disabled", offsetof(struct snp_policy, page_swap_disabled),
          "page swap disabled", "page swap allowed" },
};

static void check_policy_flags(uint64_t raw, size_t on_index) {
        _cleanup_(json_object_putp) struct json_object *o = snp_policy_to_json(raw);
        char text[SNP_DECODE_TEXT_MAX];
        struct snp_policy p;

        assert_non_null(o);
        snp_policy_decode(raw, &p);
        assert_true(snp_policy_format(raw, text, sizeof(text)) > 0);
        for (size_t j = 0; j < ELEMENTSOF(policy_bits); j++) {
                bool want = j == on_index;
                struct json_object *v = jget(o, policy_bits[j].key);

                assert_non_null(v);
                if (json_object_get_boolean(v) != want)
                        fail_msg("policy 0x%llx: %s is not %d", (unsigned long long) raw, policy_bits[j].key, want);
                assert_int_equal(*(const bool *) ((const uint8_t *) &p + policy_bits[j].field), want);
                if (!strstr(text, want ? policy_bits[j].on : policy_bits[j].off))
                        fail_msg("policy 0x%llx: \"%s\" lacks \"%s\"", (unsigned long long) raw, text,
                                 want ? policy_bits[j].on : policy_bits[j].off);
        }
        assert_null(strstr(text, "reserved"));
        assert_true(p.reserved_bit17);
        assert_true(p.reserved_bits == 0);
}

static void test_policy_each_flag(void **state) {
        check_policy_flags(1u << 17, SIZE_MAX);
        for (size_t i = 0; i < ELEMENTSOF(policy_bits); i++)
                check_policy_flags((1u << 17) | policy_bits[i].bit, i);
}

static void test_policy_abi_and_reserved(void **state) {
        static const struct {
                uint64_t raw;
                const char *text;        /* a substring */
                bool bit17;
                const char *reserved_bits;
        } t[] = {
                { 0x30133, "ABI 1.51; SMT allowed; migration agent not allowed; debugging not allowed; ", true,
                  "0x0000000000000000" },
                { 0x2ffff, "ABI 255.255; SMT not allowed", true, "0x0000000000000000" },
                { 0x10000, "; page swap allowed; reserved bit 17 is 0 (must be 1)", false, "0x0000000000000000" },
                { 0x4020000, "; reserved bits 63:26 set (0x0000000004000000)", true, "0x0000000004000000" },
                { UINT64_C(0x8000000000020000), "reserved bits 63:26 set (0x8000000000000000)", true,
                  "0x8000000000000000" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(json_object_putp) struct json_object *o = snp_policy_to_json(t[i].raw);
                char text[SNP_DECODE_TEXT_MAX];
                struct snp_policy p;

                assert_true(snp_policy_format(t[i].raw, text, sizeof(text)) > 0);
                if (!strstr(text, t[i].text))
                        fail_msg("\"%s\" lacks \"%s\"", text, t[i].text);
                snp_policy_decode(t[i].raw, &p);
                assert_int_equal(p.reserved_bit17, t[i].bit17);
                assert_non_null(o);
                check_json(o, (const struct jexpect[]) {
                        { "reserved_bit17", B, t[i].bit17 ? "true" : "false" },
                        { "reserved_bits", S, t[i].reserved_bits },
                }, 2);
        }
}

static void test_format_buffer_too_small(void **state) {
        const char *full = "boot_loader=3 tee=0 snp=8 microcode=209";
        char buf[64];
        size_t len = strlen(full);

        assert_int_equal(snp_tcb_format(UINT64_C(0xd108000000000003), SNP_TCB_LAYOUT_MILAN_GENOA, buf, len + 1),
                         (int) len);
        assert_string_equal(buf, full);
        assert_int_equal(snp_tcb_format(UINT64_C(0xd108000000000003), SNP_TCB_LAYOUT_MILAN_GENOA, buf, len),
                         -ENOBUFS);
        assert_int_equal(snp_policy_format(0x30000, buf, 10), -ENOBUFS);
        assert_int_equal(snp_policy_format(0x30000, NULL, 0), -ENOBUFS);
        assert_int_equal(snp_platform_info_format(0, buf, 1), -ENOBUFS);
        assert_int_equal(snp_signer_info_format(0, buf, 5), -ENOBUFS);
}

/* ---- TCB ---- */

static void test_tcb_layouts(void **state) {
        static const struct {
                uint64_t raw;
                enum snp_tcb_layout layout;
                const char *text;
                struct snp_tcb tcb;
        } t[] = {
                { UINT64_C(0xd108000000000003), SNP_TCB_LAYOUT_MILAN_GENOA, "boot_loader=3 tee=0 snp=8 microcode=209",
                  { .fmc = 0, .boot_loader = 3, .tee = 0, .snp = 8, .microcode = 209 } },
                /* the same bytes read as Turin */
                { UINT64_C(0xd108000000000003), SNP_TCB_LAYOUT_TURIN, "fmc=3 boot_loader=0 tee=0 snp=0 microcode=209",
                  { .fmc = 3, .boot_loader = 0, .tee = 0, .snp = 0, .microcode = 209 } },
                { UINT64_C(0x4800000004030201), SNP_TCB_LAYOUT_TURIN, "fmc=1 boot_loader=2 tee=3 snp=4 microcode=72",
                  { .fmc = 1, .boot_loader = 2, .tee = 3, .snp = 4, .microcode = 72 } },
                /* reserved bytes 2-5 of Milan/Genoa are not components */
                { UINT64_C(0x0000ffffffff0000), SNP_TCB_LAYOUT_MILAN_GENOA, "boot_loader=0 tee=0 snp=0 microcode=0",
                  { 0 } },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char text[SNP_DECODE_TEXT_MAX];
                struct snp_tcb d;

                assert_int_equal(snp_tcb_format(t[i].raw, t[i].layout, text, sizeof(text)), strlen(t[i].text));
                assert_string_equal(text, t[i].text);
                snp_tcb_decode(t[i].raw, t[i].layout, &d);
                assert_true(d.raw == t[i].raw);
                assert_int_equal(d.layout, t[i].layout);
                assert_int_equal(d.fmc, t[i].tcb.fmc);
                assert_int_equal(d.boot_loader, t[i].tcb.boot_loader);
                assert_int_equal(d.tee, t[i].tcb.tee);
                assert_int_equal(d.snp, t[i].tcb.snp);
                assert_int_equal(d.microcode, t[i].tcb.microcode);
        }
        assert_string_equal(snp_tcb_layout_to_string(SNP_TCB_LAYOUT_MILAN_GENOA), "milan-genoa");
        assert_string_equal(snp_tcb_layout_to_string(SNP_TCB_LAYOUT_TURIN), "turin");
        assert_string_equal(snp_tcb_layout_to_string((enum snp_tcb_layout) 7), "unknown");
}

static void test_tcb_json(void **state) {
        _cleanup_(json_object_putp) struct json_object *m = NULL, *t = NULL;

        m = snp_tcb_to_json(UINT64_C(0xd108000000000003), SNP_TCB_LAYOUT_MILAN_GENOA, true);
        assert_non_null(m);
        check_json(m, (const struct jexpect[]) {
                { "raw", S, "03000000000008d1" }, { "layout", S, "milan-genoa" }, { "layout_assumed", B, "true" },
                { "boot_loader", I, "3" }, { "tee", I, "0" }, { "snp", I, "8" }, { "microcode", I, "209" },
        }, 7);
        check_absent(m, (const char *const[]) { "fmc" }, 1);
        assert_int_equal(json_object_object_length(m), 7);

        t = snp_tcb_to_json(UINT64_C(0x4800000004030201), SNP_TCB_LAYOUT_TURIN, false);
        assert_non_null(t);
        check_json(t, (const struct jexpect[]) {
                { "raw", S, "0102030400000048" }, { "layout", S, "turin" }, { "layout_assumed", B, "false" },
                { "fmc", I, "1" }, { "boot_loader", I, "2" }, { "tee", I, "3" }, { "snp", I, "4" },
                { "microcode", I, "72" },
        }, 8);
}

/* ---- platform info and signer info ---- */

static void test_platform_info_each_flag(void **state) {
        static const struct {
                const char *key;
                size_t field;
                const char *on;
                const char *off;
        } t[] = {
                { "smt_enabled", offsetof(struct snp_platform_info, smt_enabled), "SMT enabled", "SMT disabled" },
                { "tsme_enabled", offsetof(struct snp_platform_info, tsme_enabled), "TSME enabled", "TSME disabled" },
                { "ecc_enabled", offsetof(struct snp_platform_info, ecc_enabled), "ECC enabled", "ECC disabled" },
                { "rapl_disabled", offsetof(struct snp_platform_info, rapl_disabled), "RAPL disabled", "RAPL enabled" },
                { "ciphertext_hiding", offsetof(struct snp_platform_info, ciphertext_hiding),
                  "ciphertext hiding enabled", "ciphertext hiding disabled" },
                { "alias_check_complete", offsetof(struct snp_platform_info, alias_check_complete),
                  "alias check complete", "alias check not complete" },
                { "iommu_write_safe", offsetof(struct snp_platform_info, iommu_write_safe),
                  "IOMMU write safe", "IOMMU not write safe" },
                { "tio_enabled", offsetof(struct snp_platform_info, tio_enabled), "TIO enabled", "TIO disabled" },
        };

        for (size_t i = 0; i <= ELEMENTSOF(t); i++) {
                uint64_t raw = i < ELEMENTSOF(t) ? UINT64_C(1) << i : 0;
                _cleanup_(json_object_putp) struct json_object *o = snp_platform_info_to_json(raw);
                char text[SNP_DECODE_TEXT_MAX];
                struct snp_platform_info p;

                assert_non_null(o);
                assert_true(snp_platform_info_format(raw, text, sizeof(text)) > 0);
                snp_platform_info_decode(raw, &p);
                for (size_t j = 0; j < ELEMENTSOF(t); j++) {
                        struct json_object *v = jget(o, t[j].key);
                        assert_non_null(v);
                        assert_int_equal(json_object_get_boolean(v), i == j);
                        assert_int_equal(*(const bool *) ((const uint8_t *) &p + t[j].field), i == j);
                        if (!strstr(text, i == j ? t[j].on : t[j].off))
                                fail_msg("\"%s\" lacks \"%s\"", text, i == j ? t[j].on : t[j].off);
                }
        }
}

/* A real Turin report's platform info (0x65): every bit known, none "unknown". */
static void test_platform_info_turin(void **state) {
        char text[SNP_DECODE_TEXT_MAX];
        struct snp_platform_info p;

        assert_true(snp_platform_info_format(0x65, text, sizeof(text)) > 0);
        assert_null(strstr(text, "unknown"));
        assert_non_null(strstr(text, "IOMMU write safe;"));
        snp_platform_info_decode(0x65, &p);
        assert_true(p.smt_enabled && p.ecc_enabled && p.alias_check_complete && p.iommu_write_safe);
        assert_false(p.tio_enabled);
        assert_true(snp_platform_info_format(0x165, text, sizeof(text)) > 0);
        assert_non_null(strstr(text, "unknown bits set (0x0000000000000100)"));
}

static void test_signer_info(void **state) {
        static const struct {
                uint32_t raw;
                const char *hex;
                const char *key;
                unsigned id;
                bool author, mask;
                const char *text;
        } t[] = {
                { 0x00, "0x00000000", "vcek", 0, false, false,
                  "author key not enabled; chip key not masked; signed with VCEK" },
                { 0x04, "0x00000004", "vlek", 1, false, false,
                  "author key not enabled; chip key not masked; signed with VLEK" },
                { 0x1c, "0x0000001c", "none", 7, false, false,
                  "author key not enabled; chip key not masked; not signed" },
                { 0x0c, "0x0000000c", "reserved", 3, false, false,
                  "author key not enabled; chip key not masked; signing key reserved (3)" },
                { 0x03, "0x00000003", "vcek", 0, true, true,
                  "author key enabled; chip key masked; signed with VCEK" },
                { 0x06, "0x00000006", "vlek", 1, false, true,
                  "author key not enabled; chip key masked; signed with VLEK" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(json_object_putp) struct json_object *o = snp_signer_info_to_json(t[i].raw);
                char text[SNP_DECODE_TEXT_MAX], id[4];
                struct snp_signer_info s;

                assert_int_equal(snp_signer_info_format(t[i].raw, text, sizeof(text)), strlen(t[i].text));
                assert_string_equal(text, t[i].text);
                snp_signer_info_decode(t[i].raw, &s);
                assert_int_equal(s.signing_key, t[i].id);
                assert_int_equal(s.author_key_en, t[i].author);
                assert_int_equal(s.mask_chip_key, t[i].mask);
                assert_string_equal(snp_signing_key_to_string(t[i].id), t[i].key);
                assert_non_null(o);
                snprintf(id, sizeof(id), "%u", t[i].id);
                check_json(o, (const struct jexpect[]) {
                        { "raw", S, t[i].hex }, { "signing_key", S, t[i].key }, { "signing_key_id", I, id },
                        { "author_key_en", B, t[i].author ? "true" : "false" },
                        { "mask_chip_key", B, t[i].mask ? "true" : "false" },
                }, 5);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_milan_v2),
                cmocka_unit_test(test_genoa_v3),
                cmocka_unit_test(test_turin_v3),
                cmocka_unit_test(test_v5_mitigation_vectors),
                cmocka_unit_test(test_layout_assumed_unknown_family),
                cmocka_unit_test(test_validate_rejects),
                cmocka_unit_test(test_validate_null_and_accepts),
                cmocka_unit_test(test_policy_each_flag),
                cmocka_unit_test(test_policy_abi_and_reserved),
                cmocka_unit_test(test_format_buffer_too_small),
                cmocka_unit_test(test_tcb_layouts),
                cmocka_unit_test(test_tcb_json),
                cmocka_unit_test(test_platform_info_each_flag),
                cmocka_unit_test(test_platform_info_turin),
                cmocka_unit_test(test_signer_info),
        };
        return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}

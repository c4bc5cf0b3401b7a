/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * lib/snp: the VCEK extension parser on AMD's real VCEKs (Milan, Genoa,
 * Turin with its FMC SPL and 8-byte hwID), multi-byte and malformed
 * extensions on certificates made here, the pinned ARKs, the evidence
 * format, and the report decoder against the independently parsed fields of
 * tests/attest/fixtures/expected-fields.json.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "hexutil.h"
#include "json-util.h"
#include "snp-decode.h"
#include "snp/amd-roots.h"
#include "snp/evidence.h"
#include "snp/verify.h"
#include "snp/x509.h"

static char *fixture(const char *name) {
        const char *top = getenv("top_srcdir");
        char *p;

        assert_true(asprintf(&p, "%s/tests/attest/fixtures/%s", top ? top : ".", name) > 0);
        return p;
}

static X509 *load_one(const char *name) {
        STACK_OF(X509) *s = sk_X509_new_null();
        char *path = fixture(name), err[320];
        X509 *x;

        assert_non_null(s);
        assert_int_equal(snp_certs_load_file(path, s, err, sizeof(err)), 0);
        x = sk_X509_shift(s);
        sk_X509_pop_free(s, X509_free);
        free(path);
        return x;
}

static void test_ext_milan(void **state) {
        X509 *x = load_one("go-sev-guest/vcek.testcer");
        struct snp_cert_ext e;
        char product[SNP_PRODUCT_MAX];
        char hwid[129];

        assert_int_equal(snp_cert_kind(x, NULL), SNP_CERT_VCEK);
        assert_int_equal(snp_cert_ext_parse(x, &e, NULL, 0), 0);
        assert_true(e.has_struct_version);
        assert_int_equal(e.struct_version, 0);   /* Turin's VCEKs carry 1 */
        assert_string_equal(e.product_name, "Milan-B0");
        snp_product_base(e.product_name, product);
        assert_string_equal(product, "Milan");
        assert_int_equal(e.spl[SNP_SPL_BOOT_LOADER], 2);
        assert_int_equal(e.spl[SNP_SPL_TEE], 0);
        assert_int_equal(e.spl[SNP_SPL_SNP], 5);
        assert_int_equal(e.spl[SNP_SPL_MICROCODE], 68);
        assert_false(e.has_spl[SNP_SPL_FMC]);
        assert_int_equal(e.hwid_len, 64);
        hex_encode(e.hwid, e.hwid_len, hwid);
        assert_string_equal(hwid, "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b7"
                                  "6a1936776b564ea464cdce40c05f63c9b610c5068b006b5d");
        assert_string_equal(e.csp_id, "");
        X509_free(x);
}

static void test_ext_genoa(void **state) {
        X509 *x = load_one("ms-tav/genoa_vcek.pem");
        struct snp_cert_ext e;

        assert_int_equal(snp_cert_ext_parse(x, &e, NULL, 0), 0);
        assert_string_equal(e.product_name, "Genoa");
        /* REPORTED_TCB 0a00000000001754 */
        assert_int_equal(e.spl[SNP_SPL_BOOT_LOADER], 10);
        assert_int_equal(e.spl[SNP_SPL_SNP], 0x17);
        assert_int_equal(e.spl[SNP_SPL_MICROCODE], 0x54);
        assert_int_equal(e.hwid_len, 64);
        X509_free(x);
}

static void test_ext_turin(void **state) {
        X509 *x = load_one("virtee-sev/vcek_turin.der");
        struct snp_cert_ext e;
        char hwid[17];

        assert_int_equal(snp_cert_kind(x, NULL), SNP_CERT_VCEK);
        assert_int_equal(snp_cert_ext_parse(x, &e, NULL, 0), 0);
        assert_int_equal(e.struct_version, 1);
        assert_string_equal(e.product_name, "Turin");
        assert_true(e.has_spl[SNP_SPL_FMC]);
        assert_int_equal(e.spl[SNP_SPL_FMC], 0);
        assert_int_equal(e.spl[SNP_SPL_MICROCODE], 9);
        assert_int_equal(e.hwid_len, SNP_HWID_LEN_TURIN);
        hex_encode(e.hwid, e.hwid_len, hwid);
        assert_string_equal(hwid, "1e550a8ee5cf9f4d");
        X509_free(x);
}

static void test_kinds(void **state) {
        static const struct {
                const char *file;
                enum snp_cert_kind kind;
                const char *product;
        } t[] = {
                { "ms-tav/milan_ark.pem", SNP_CERT_ARK, "Milan" },
                { "ms-tav/genoa_ask.pem", SNP_CERT_ASK, "Genoa" },
                { "go-sev-guest/ask_ark_turin_vlek.pem", SNP_CERT_ASVK, "Turin" },
                { "ms-tav/turin_ark.pem", SNP_CERT_ARK, "Turin" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                X509 *x = load_one(t[i].file);
                char product[SNP_PRODUCT_MAX];

                assert_int_equal(snp_cert_kind(x, product), t[i].kind);
                assert_string_equal(product, t[i].product);
                X509_free(x);
        }
}

/* A self-signed certificate with the given AMD extensions (DER values). */
static X509 *make_cert(const char *cn, const char *const *oids, const uint8_t *const *vals, const size_t *lens,
                       size_t n) {
        EVP_PKEY *k = EVP_EC_gen("P-384");
        X509 *x = X509_new();
        X509_NAME *name = X509_NAME_new();

        assert_non_null(k);
        assert_non_null(x);
        X509_set_version(x, 2);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
        X509_set_subject_name(x, name);
        X509_set_issuer_name(x, name);
        X509_set_pubkey(x, k);
        for (size_t i = 0; i < n; i++) {
                ASN1_OBJECT *o = OBJ_txt2obj(oids[i], 1);
                ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
                X509_EXTENSION *e;

                ASN1_OCTET_STRING_set(v, vals[i], (int) lens[i]);
                e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, v);
                assert_non_null(e);
                assert_int_equal(X509_add_ext(x, e, -1), 1);
                X509_EXTENSION_free(e);
                ASN1_OCTET_STRING_free(v);
                ASN1_OBJECT_free(o);
        }
        assert_true(X509_sign(x, k, EVP_sha384()) > 0);
        X509_NAME_free(name);
        EVP_PKEY_free(k);
        return x;
}

static void test_ext_multibyte(void **state) {
        static const uint8_t ucode[] = { 0x02, 0x02, 0x00, 0xd1 };     /* 209 needs two bytes */
        static const uint8_t bl[] = { 0x02, 0x01, 0x03 };
        static const uint8_t big[] = { 0x02, 0x02, 0x01, 0x00 };       /* 256: parsed, verify refuses */
        const char *oids[] = { "1.3.6.1.4.1.3704.1.3.8", "1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2" };
        const uint8_t *vals[] = { ucode, bl, big };
        size_t lens[] = { sizeof(ucode), sizeof(bl), sizeof(big) };
        X509 *x = make_cert("SEV-VCEK", oids, vals, lens, 3);
        struct snp_cert_ext e;

        assert_int_equal(snp_cert_ext_parse(x, &e, NULL, 0), 0);
        assert_int_equal(e.spl[SNP_SPL_MICROCODE], 209);
        assert_int_equal(e.spl[SNP_SPL_BOOT_LOADER], 3);
        assert_int_equal(e.spl[SNP_SPL_TEE], 256);
        assert_int_equal(e.hwid_len, 0);
        X509_free(x);
}

static void expect_malformed(const char *oid1, const uint8_t *v1, size_t l1, const char *oid2, const uint8_t *v2,
                             size_t l2, const char *msg) {
        const char *oids[] = { oid1, oid2 };
        const uint8_t *vals[] = { v1, v2 };
        size_t lens[] = { l1, l2 };
        X509 *x = make_cert("SEV-VCEK", oids, vals, lens, oid2 ? 2 : 1);
        struct snp_cert_ext e;
        char err[256] = "";

        assert_int_equal(snp_cert_ext_parse(x, &e, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, msg));
        X509_free(x);
}

static void test_ext_malformed(void **state) {
        static const uint8_t neg[] = { 0x02, 0x01, 0xff };
        static const uint8_t trailing[] = { 0x02, 0x01, 0x01, 0x00 };
        static const uint8_t notint[] = { 0x04, 0x01, 0x01 };
        static const uint8_t ok[] = { 0x02, 0x01, 0x01 };
        static const uint8_t name_ctl[] = { 0x16, 0x02, 'M', 0x01 };
        uint8_t hwid[65] = { 0 };

        expect_malformed("1.3.6.1.4.1.3704.1.3.3", neg, sizeof(neg), NULL, NULL, 0, "snpSPL (1.3.6.1.4.1.3704.1.3.3) is malformed");
        expect_malformed("1.3.6.1.4.1.3704.1.3.3", trailing, sizeof(trailing), NULL, NULL, 0, "snpSPL");
        expect_malformed("1.3.6.1.4.1.3704.1.1", notint, sizeof(notint), NULL, NULL, 0, "structVersion");
        expect_malformed("1.3.6.1.4.1.3704.1.3.1", ok, sizeof(ok), "1.3.6.1.4.1.3704.1.3.1", ok, sizeof(ok),
                         "blSPL (1.3.6.1.4.1.3704.1.3.1) appears twice");
        expect_malformed("1.3.6.1.4.1.3704.1.4", hwid, sizeof(hwid), NULL, NULL, 0, "hwID");
        expect_malformed("1.3.6.1.4.1.3704.1.2", name_ctl, sizeof(name_ctl), NULL, NULL, 0, "productName");
}

static void test_amd_roots(void **state) {
        static const char *const files[] = { "ms-tav/milan_ark.pem", "ms-tav/genoa_ark.pem", "ms-tav/turin_ark.pem" };
        const struct snp_amd_root *root;
        size_t i;

        for (i = 0; (root = snp_amd_root_get(i)); i++) {
                X509 *built_in, *file = load_one(files[i]);
                char fp[65];

                assert_int_equal(snp_amd_root_load(root, &built_in), 0);
                assert_int_equal(X509_cmp(built_in, file), 0);
                assert_int_equal(snp_cert_sha256_hex(file, fp), 0);
                assert_string_equal(fp, root->sha256);
                X509_free(built_in);
                X509_free(file);
        }
        assert_int_equal(i, 3);
}

/* Every chain file of the fixtures: an ASK or ASVK signed by an ARK that is
 * the built-in one of its product; the Turin VCEK under Turin's chain. */
static void test_fixture_chains(void **state) {
        static const struct {
                const char *file;
                enum snp_cert_kind kind;
                const char *product;
        } t[] = {
                { "go-sev-guest/ask_ark_milan.pem", SNP_CERT_ASK, "Milan" },
                { "go-sev-guest/ask_ark_genoa.pem", SNP_CERT_ASK, "Genoa" },
                { "go-sev-guest/ask_ark_turin_vcek.pem", SNP_CERT_ASK, "Turin" },
                { "go-sev-guest/ask_ark_milan_vlek.pem", SNP_CERT_ASVK, "Milan" },
                { "go-sev-guest/ask_ark_genoa_vlek.pem", SNP_CERT_ASVK, "Genoa" },
                { "go-sev-guest/ask_ark_turin_vlek.pem", SNP_CERT_ASVK, "Turin" },
                { "go-sev-guest/milan.testcer", SNP_CERT_ASK, "Milan" },
                { "go-sev-guest/milanvlek.testcer", SNP_CERT_ASVK, "Milan" },
                { "virtee-sev/cert_chain_milan", SNP_CERT_ASK, "Milan" },
                { "virtee-sev/cert_chain_turin", SNP_CERT_ASK, "Turin" },
                { "ms-tav/milan_ask_ark.pem", SNP_CERT_ASK, "Milan" },
                { "ms-tav/genoa_ask_ark.pem", SNP_CERT_ASK, "Genoa" },
                { "ms-tav/turin_ask_ark.pem", SNP_CERT_ASK, "Turin" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                STACK_OF(X509) *s = sk_X509_new_null();
                char *path = fixture(t[i].file), err[320], product[SNP_PRODUCT_MAX];
                const struct snp_amd_root *root = NULL;
                X509 *ask, *ark, *builtin;

                print_message("# chain %s\n", t[i].file);
                assert_int_equal(snp_certs_load_file(path, s, err, sizeof(err)), 0);
                assert_int_equal(sk_X509_num(s), 2);
                ask = sk_X509_value(s, 0);
                ark = sk_X509_value(s, 1);
                assert_int_equal(snp_cert_kind(ask, product), t[i].kind);
                assert_string_equal(product, t[i].product);
                assert_int_equal(snp_cert_kind(ark, product), SNP_CERT_ARK);
                assert_string_equal(product, t[i].product);
                assert_int_equal(X509_verify(ask, X509_get0_pubkey(ark)), 1);
                assert_int_equal(X509_verify(ark, X509_get0_pubkey(ark)), 1);
                for (size_t k = 0; (root = snp_amd_root_get(k)); k++)
                        if (strcmp(root->product, t[i].product) == 0)
                                break;
                assert_non_null(root);
                assert_int_equal(snp_amd_root_load(root, &builtin), 0);
                assert_int_equal(X509_cmp(ark, builtin), 0);
                X509_free(builtin);
                if (strcmp(t[i].file, "virtee-sev/cert_chain_turin") == 0) {
                        X509 *vcek = load_one("virtee-sev/vcek_turin.der");

                        assert_int_equal(X509_verify(vcek, X509_get0_pubkey(ask)), 1);
                        X509_free(vcek);
                }
                sk_X509_pop_free(s, X509_free);
                free(path);
        }
}

static uint8_t *read_fixture(const char *name, size_t *ret_size) {
        char *path = fixture(name);
        uint8_t *data;

        assert_int_equal(snp_file_read(path, 1024 * 1024, &data, ret_size), 0);
        free(path);
        return data;
}

static void test_evidence(void **state) {
        STACK_OF(X509) *certs = sk_X509_new_null(), *back = sk_X509_new_null();
        struct snp_evidence e = { .has_nonce = true, .nonce_len = 5, .bound = true, .bound_uid = 1000 }, f;
        size_t size;
        uint8_t *rep = read_fixture("go-sev-guest/attestation.bin", &size);
        json_object *o;
        const char *text;
        char err[256];

        memcpy(e.nonce, "\x01\x02\x03\x04\x05", 5);
        memcpy(e.report, rep, SNP_REPORT_SIZE);
        sk_X509_push(certs, load_one("go-sev-guest/vcek.testcer"));
        sk_X509_push(certs, load_one("ms-tav/milan_ask.pem"));
        o = snp_evidence_to_json(&e, certs);
        assert_non_null(o);
        text = json_object_to_json_string(o);
        assert_true(snp_evidence_sniff(text, strlen(text)));
        assert_int_equal(snp_evidence_parse(text, strlen(text), &f, back, err, sizeof(err)), 0);
        assert_memory_equal(f.report, rep, SNP_REPORT_SIZE);
        assert_true(f.has_nonce && f.nonce_len == 5 && f.bound && f.bound_uid == 1000);
        assert_int_equal(sk_X509_num(back), 2);
        assert_int_equal(X509_cmp(sk_X509_value(back, 0), sk_X509_value(certs, 0)), 0);
        json_object_put(o);

        /* Refusals name what is wrong. */
        static const struct {
                const char *json, *msg;
        } bad[] = {
                { "{\"format\":\"x\"}", "not snpseal evidence" },
                { "{\"format\":\"snpseal-evidence\",\"version\":2}", "version not supported" },
                { "{\"format\":\"snpseal-evidence\",\"version\":1,\"report\":\"AAAA\"}", "\"report\" must be" },
                { "[1]", "not snpseal evidence" },
                { "{", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err[0] = '\0';
                assert_int_equal(snp_evidence_parse(bad[i].json, strlen(bad[i].json), &f, back, err, sizeof(err)),
                                 -EBADMSG);
                assert_non_null(strstr(err, bad[i].msg));
        }
        sk_X509_pop_free(certs, X509_free);
        sk_X509_pop_free(back, X509_free);
        free(rep);
}

/* ---- the decoder against expected-fields.json ---- */

static void expect_tcb(json_object *exp, const char *key, uint64_t tcb) {
        json_object *t, *raw;
        char hex[TCB_HEX_LEN + 1];

        assert_true(json_object_object_get_ex(exp, key, &t));
        assert_true(json_object_object_get_ex(t, "raw", &raw));
        tcb_to_hex(tcb, hex);
        assert_string_equal(hex, json_object_get_string(raw));
}

static void expect_hex_field(json_object *exp, const char *key, const void *data, size_t size) {
        json_object *v;
        char *hex = hex_encode_alloc(data, size);

        assert_true(json_object_object_get_ex(exp, key, &v));
        assert_string_equal(hex, json_object_get_string(v));
        free(hex);
}

static void expect_u64(json_object *exp, const char *key, uint64_t have) {
        json_object *v;
        uint64_t want;

        assert_true(json_object_object_get_ex(exp, key, &v));
        if (json_object_is_type(v, json_type_string))
                assert_int_equal(parse_u64(json_object_get_string(v), UINT64_MAX, &want), 0);
        else
                want = (uint64_t) json_object_get_int64(v);
        assert_int_equal(have, want);
}

static void test_expected_fields(void **state) {
        size_t size;
        char *text = (char *) read_fixture("expected-fields.json", &size);
        json_object *all = json_tokener_parse(text);
        int n = 0;

        assert_non_null(all);
        json_object_object_foreach(all, name, exp) {
                uint8_t *raw = read_fixture(name, &size);
                struct snp_report r;
                struct snp_signer_info si;
                json_object *v;
                char fw[16];

                assert_int_equal(size, SNP_REPORT_SIZE);
                assert_int_equal(snp_report_validate(raw, size, &r, NULL), 0);
                expect_u64(exp, "version", r.version);
                expect_u64(exp, "guest_svn", r.guest_svn);
                expect_u64(exp, "policy", r.policy);
                expect_u64(exp, "vmpl", r.vmpl);
                expect_u64(exp, "signature_algo", r.signature_algo);
                expect_u64(exp, "platform_info", r.platform_info);
                expect_u64(exp, "signer_info", r.signer_info);
                snp_signer_info_decode(r.signer_info, &si);
                expect_u64(exp, "signing_key", si.signing_key);
                expect_tcb(exp, "current_tcb", r.current_tcb);
                expect_tcb(exp, "reported_tcb", r.reported_tcb);
                expect_tcb(exp, "committed_tcb", r.committed_tcb);
                expect_tcb(exp, "launch_tcb", r.launch_tcb);
                expect_hex_field(exp, "chip_id", r.chip_id, sizeof(r.chip_id));
                expect_hex_field(exp, "measurement", r.measurement, sizeof(r.measurement));
                expect_hex_field(exp, "report_data", r.report_data, sizeof(r.report_data));
                expect_u64(exp, "launch_mit_vector", r.launch_mit_vector);
                expect_u64(exp, "current_mit_vector", r.current_mit_vector);
                snprintf(fw, sizeof(fw), "%u.%u.%u", r.current_major, r.current_minor, r.current_build);
                assert_true(json_object_object_get_ex(exp, "current_fw", &v));
                assert_string_equal(fw, json_object_get_string(v));
                assert_true(json_object_object_get_ex(exp, "cpuid", &v));
                if (r.version >= 3) {
                        assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 0)), r.cpuid_fam_id);
                        assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 1)), r.cpuid_mod_id);
                        assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 2)), r.cpuid_step);
                } else
                        assert_true(json_object_is_type(v, json_type_null));
                free(raw);
                n++;
        }
        assert_int_equal(n, 4);
        json_object_put(all);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ext_milan),
                cmocka_unit_test(test_ext_genoa),
                cmocka_unit_test(test_ext_turin),
                cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_ext_multibyte),
                cmocka_unit_test(test_ext_malformed),
                cmocka_unit_test(test_amd_roots),
                cmocka_unit_test(test_fixture_chains),
                cmocka_unit_test(test_evidence),
                cmocka_unit_test(test_expected_fields),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The simulator's X.509 chain (lib/sim/sim-x509.c) through the real verifier
 * (lib/snp/verify.c): Milan, Genoa and Turin states, VCEK- and VLEK-signed
 * reports, the simulated ARK trusted only when named; and the extended
 * report's certificate table (lib/snp/snp-cert-table.c): build, parse, refusals.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sim-firmware.h"
#include "sim-x509.h"
#include "snp-cert-table.h"
#include "snp-decode.h"
#include "snp/verify.h"
#include "snp/x509.h"

static void base_state(struct sim_state *s) {
        memset(s, 0, sizeof(*s));
        memset(s->chip_secret, 0x11, sizeof(s->chip_secret));
        memset(s->vlek_secret, 0x22, sizeof(s->vlek_secret));
        memset(s->vmrk_secret, 0x33, sizeof(s->vmrk_secret));
        s->policy = UINT64_C(0x30000);
        memset(s->measurement, 0x44, sizeof(s->measurement));
        s->guest_svn = 1;
        s->launch_tcb = s->committed_tcb = s->current_tcb = s->reported_tcb = UINT64_C(0xd108000000000003);
        s->platform_info = 0x25;
        s->cpuid_fam = 0x19;
        s->cpuid_mod = 0x01;
        s->report_version = 3;
        s->fw_major = 1;
        s->fw_minor = 55;
        s->fw_build = 21;
}

static void report(const struct sim_state *s, uint32_t key_sel, struct snp_report *ret) {
        struct snp_msg_report_req req = { .vmpl = 0, .key_sel = key_sel };
        struct snp_msg_report_rsp rsp;

        memset(req.report_data, 0x5a, sizeof(req.report_data));
        assert_int_equal(sim_fw_report_request(s, &req, &rsp), SNP_FW_SUCCESS);
        *ret = rsp.report;
}

/* Verify a report with the chain; anchor: trust the simulated ARK. */
static enum snp_verdict verify(const struct snp_report *r, STACK_OF(X509) *chain, bool anchor,
                               struct snp_verify_result *res) {
        STACK_OF(X509) *anchors = sk_X509_new_null();
        struct snp_verify_input in = {
                .report = r, .report_size = sizeof(*r), .certs = chain, .anchors = anchor ? anchors : NULL,
        };

        assert_non_null(anchors);
        X509_up_ref(sk_X509_value(chain, 2));
        sk_X509_push(anchors, sk_X509_value(chain, 2));
        in.expect.report_data = true;
        memset(in.expect.report_data_v, 0x5a, sizeof(in.expect.report_data_v));
        in.expect.deny_debug = true;
        assert_int_equal(snp_verify(&in, res), 0);
        sk_X509_pop_free(anchors, X509_free);
        return res->verdict;
}

static void check_state(struct sim_state *s, bool vlek, const char *product, enum snp_tcb_layout layout) {
        STACK_OF(X509) *chain = NULL;
        struct snp_verify_result *res = malloc(sizeof(*res));
        struct snp_report r;

        assert_non_null(res);
        report(s, 0, &r);
        assert_int_equal(sim_cert_chain(s, vlek, &chain), 0);
        assert_int_equal(sk_X509_num(chain), 3);
        if (verify(&r, chain, true, res) != SNP_VERDICT_OK) {
                for (int i = 0; i < _SNP_CHECK_MAX; i++)
                        print_message("# %s: %s\n", snp_check_name(i), res->checks[i].detail);
                fail_msg("%s %s: not verified", product, vlek ? "VLEK" : "VCEK");
        }
        assert_string_equal(res->product, product);
        assert_false(res->anchor_builtin);
        assert_non_null(strstr(res->checks[SNP_CHECK_TCB].detail, snp_tcb_layout_to_string(layout)));
        assert_int_equal(res->checks[SNP_CHECK_HWID].status, vlek ? SNP_CHECK_SKIP : SNP_CHECK_PASS);
        /* Never trusted by default. */
        assert_int_equal(verify(&r, chain, false, res), SNP_VERDICT_NOT_GENUINE);
        assert_int_equal(res->checks[SNP_CHECK_CHAIN].status, SNP_CHECK_FAIL);
        assert_non_null(strstr(res->checks[SNP_CHECK_CHAIN].detail, "not trusted"));
        /* Another TCB: the VCEK does not match. */
        s->reported_tcb = UINT64_C(0xd108000000000002);
        report(s, 0, &r);
        assert_int_equal(verify(&r, chain, true, res), SNP_VERDICT_NOT_GENUINE);
        assert_int_equal(res->checks[SNP_CHECK_TCB].status, SNP_CHECK_FAIL);
        assert_int_equal(res->checks[SNP_CHECK_SIGNATURE].status, SNP_CHECK_FAIL);
        sk_X509_pop_free(chain, X509_free);
        free(res);
}

static void test_chain_milan(void **state) {
        struct sim_state s;

        base_state(&s);
        check_state(&s, false, "Milan", SNP_TCB_LAYOUT_MILAN_GENOA);
}

static void test_chain_genoa_v2(void **state) {
        struct sim_state s;

        base_state(&s);
        s.cpuid_mod = 0x11;
        s.report_version = 2;   /* no CPUID in the report: the VCEK names the product */
        check_state(&s, false, "Genoa", SNP_TCB_LAYOUT_MILAN_GENOA);
}

static void test_chain_turin(void **state) {
        struct sim_state s;

        base_state(&s);
        s.cpuid_fam = 0x1a;
        s.cpuid_mod = 0x02;
        s.report_version = 5;
        /* Turin layout: 0 FMC, 1 boot loader, 2 TEE, 3 SNP, 7 microcode; microcode 0xd1 needs two DER bytes. */
        s.launch_tcb = s.committed_tcb = s.current_tcb = s.reported_tcb = UINT64_C(0xd100000004000102);
        check_state(&s, false, "Turin", SNP_TCB_LAYOUT_TURIN);
}

static void test_chain_vlek(void **state) {
        struct sim_state s;
        STACK_OF(X509) *chain = NULL;
        char product[SNP_PRODUCT_MAX];

        base_state(&s);
        assert_int_equal(sim_cert_chain(&s, true, &chain), -ENOENT);
        s.vlek_present = true;
        assert_int_equal(sim_cert_chain(&s, true, &chain), 0);
        assert_int_equal(snp_cert_kind(sk_X509_value(chain, 0), NULL), SNP_CERT_VLEK);
        assert_int_equal(snp_cert_kind(sk_X509_value(chain, 1), product), SNP_CERT_ASVK);
        assert_string_equal(product, "Milan");
        sk_X509_pop_free(chain, X509_free);
        check_state(&s, true, "Milan", SNP_TCB_LAYOUT_MILAN_GENOA);
}

/* A VCEK-signed report with the VLEK chain, and the other way round. */
static void test_chain_wrong_kind(void **state) {
        struct snp_verify_result *res = malloc(sizeof(*res));
        STACK_OF(X509) *vcek = NULL, *vlek = NULL;
        struct sim_state s;
        struct snp_report r;

        assert_non_null(res);
        base_state(&s);
        s.vlek_present = true;
        assert_int_equal(sim_cert_chain(&s, false, &vcek), 0);
        assert_int_equal(sim_cert_chain(&s, true, &vlek), 0);
        report(&s, 1, &r);      /* VCEK-signed */
        assert_int_equal(verify(&r, vlek, true, res), SNP_VERDICT_NOT_GENUINE);
        assert_non_null(strstr(res->checks[SNP_CHECK_KEY_TYPE].detail, "signed by the VCEK (signer info), the "
                                                                        "certificate given is a VLEK"));
        report(&s, 2, &r);      /* VLEK-signed */
        assert_int_equal(verify(&r, vcek, true, res), SNP_VERDICT_NOT_GENUINE);
        assert_non_null(strstr(res->checks[SNP_CHECK_KEY_TYPE].detail, "signed by the VLEK"));
        sk_X509_pop_free(vcek, X509_free);
        sk_X509_pop_free(vlek, X509_free);
        free(res);
}

/* A CRL signed by the (simulated) ARK, revoking the certificate with serial
 * revoke (0: none). */
static X509_CRL *make_crl_at(const struct sim_state *s, X509 *ark, long revoke, time_t next_update) {
        EVP_PKEY *key = sim_key(s, SIM_KEY_ARK);
        X509_CRL *crl = X509_CRL_new();
        ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL) - 7200), *next = ASN1_TIME_set(NULL, next_update);

        assert_non_null(key);
        assert_non_null(crl);
        assert_int_equal(X509_CRL_set_version(crl, 1), 1);
        assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ark)), 1);
        assert_int_equal(X509_CRL_set1_lastUpdate(crl, now), 1);
        assert_int_equal(X509_CRL_set1_nextUpdate(crl, next), 1);
        if (revoke) {
                X509_REVOKED *rev = X509_REVOKED_new();
                ASN1_INTEGER *serial = ASN1_INTEGER_new();

                assert_int_equal(ASN1_INTEGER_set(serial, revoke), 1);
                assert_int_equal(X509_REVOKED_set_serialNumber(rev, serial), 1);
                assert_int_equal(X509_REVOKED_set_revocationDate(rev, now), 1);
                assert_int_equal(X509_CRL_add0_revoked(crl, rev), 1);
                ASN1_INTEGER_free(serial);
        }
        assert_true(X509_CRL_sign(crl, key, EVP_sha384()) > 0);
        ASN1_TIME_free(now);
        ASN1_TIME_free(next);
        EVP_PKEY_free(key);
        return crl;
}

static X509_CRL *make_crl(const struct sim_state *s, X509 *ark, long revoke) {
        return make_crl_at(s, ark, revoke, time(NULL) + 86400);
}

static enum snp_verdict verify_crl(const struct snp_report *r, STACK_OF(X509) *chain, X509_CRL *crl,
                                   struct snp_verify_result *res) {
        STACK_OF(X509) *anchors = sk_X509_new_null();
        struct snp_verify_input in = {
                .report = r, .report_size = sizeof(*r), .certs = chain, .anchors = anchors, .crl = crl,
        };

        X509_up_ref(sk_X509_value(chain, 2));
        sk_X509_push(anchors, sk_X509_value(chain, 2));
        assert_int_equal(snp_verify(&in, res), 0);
        sk_X509_pop_free(anchors, X509_free);
        return res->verdict;
}

/* The CRL check: signed by the chain's ARK, not revoking the ASK (serial 2
 * in the simulated chain). */
static void test_crl(void **state) {
        struct snp_verify_result *res = malloc(sizeof(*res));
        STACK_OF(X509) *chain = NULL;
        struct sim_state s, other;
        struct snp_report r;
        X509_CRL *crl;

        assert_non_null(res);
        base_state(&s);
        report(&s, 0, &r);
        assert_int_equal(sim_cert_chain(&s, false, &chain), 0);

        crl = make_crl(&s, sk_X509_value(chain, 2), 0);
        assert_int_equal(verify_crl(&r, chain, crl, res), SNP_VERDICT_OK);
        assert_int_equal(res->checks[SNP_CHECK_CRL].status, SNP_CHECK_PASS);
        X509_CRL_free(crl);

        crl = make_crl(&s, sk_X509_value(chain, 2), 2);
        assert_int_equal(verify_crl(&r, chain, crl, res), SNP_VERDICT_NOT_GENUINE);
        assert_non_null(strstr(res->checks[SNP_CHECK_CRL].detail, "the VCEK's issuer (SEV-Milan) is revoked by the CRL"));
        X509_CRL_free(crl);

        /* The ARK's CRL speaks for what the ARK signed: serial 3 there is not the VCEK. */
        crl = make_crl(&s, sk_X509_value(chain, 2), 3);
        assert_int_equal(verify_crl(&r, chain, crl, res), SNP_VERDICT_OK);
        X509_CRL_free(crl);

        /* Out of date. */
        crl = make_crl_at(&s, sk_X509_value(chain, 2), 0, time(NULL) - 3600);
        assert_int_equal(verify_crl(&r, chain, crl, res), SNP_VERDICT_NOT_GENUINE);
        assert_non_null(strstr(res->checks[SNP_CHECK_CRL].detail, "the CRL is out of date"));
        X509_CRL_free(crl);

        /* Another chip's ARK (same name, another key) signed it: not AMD's CRL for this chain. */
        base_state(&other);
        other.chip_secret[0] ^= 1;
        crl = make_crl(&other, sk_X509_value(chain, 2), 0);
        assert_int_equal(verify_crl(&r, chain, crl, res), SNP_VERDICT_NOT_GENUINE);
        assert_non_null(strstr(res->checks[SNP_CHECK_CRL].detail, "not signed by the chain's ARK"));
        X509_CRL_free(crl);
        sk_X509_pop_free(chain, X509_free);
        free(res);
}

static void test_cert_table(void **state) {
        uint8_t blob[SNP_CERT_BLOB_MAX];
        struct snp_cert_entry e[SNP_CERT_TABLE_MAX];
        struct sim_state s;
        char err[256];
        size_t len, n;

        base_state(&s);
        assert_int_equal(sim_cert_table(&s, false, blob, sizeof(blob), &len), 0);
        assert_int_equal(snp_cert_table_parse(blob, sizeof(blob), e, ELEMENTSOF(e), &n, err, sizeof(err)), 0);
        assert_int_equal(n, 3);
        assert_int_equal(e[0].kind, SNP_CERT_GUID_VCEK);
        assert_int_equal(e[1].kind, SNP_CERT_GUID_ASK);
        assert_int_equal(e[2].kind, SNP_CERT_GUID_ARK);
        for (size_t i = 0; i < n; i++) {
                STACK_OF(X509) *sk = sk_X509_new_null();

                assert_int_equal(snp_certs_parse(blob + e[i].offset, e[i].length, sk, "entry", err, sizeof(err)), 0);
                assert_int_equal(sk_X509_num(sk), 1);
                sk_X509_pop_free(sk, X509_free);
        }
        /* The GUID's text order on the wire: 63da758d… */
        assert_int_equal(blob[0], 0x63);
        assert_int_equal(blob[1], 0xda);
        /* The mixed-endian order is understood too. */
        blob[0] = 0x8d; blob[1] = 0x75; blob[2] = 0xda; blob[3] = 0x63; blob[4] = 0x64; blob[5] = 0xe6;
        blob[6] = 0x64; blob[7] = 0x45;
        assert_int_equal(snp_cert_table_parse(blob, sizeof(blob), e, ELEMENTSOF(e), &n, err, sizeof(err)), 0);
        assert_int_equal(e[0].kind, SNP_CERT_GUID_VCEK);

        /* An empty table; refusals. */
        memset(blob, 0, sizeof(blob));
        assert_int_equal(snp_cert_table_parse(blob, sizeof(blob), e, ELEMENTSOF(e), &n, err, sizeof(err)), 0);
        assert_int_equal(n, 0);
        memset(blob, 0xff, sizeof(blob));
        assert_int_equal(snp_cert_table_parse(blob, sizeof(blob), e, ELEMENTSOF(e), &n, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "lies outside"));
        assert_int_equal(snp_cert_table_parse(blob, 30, e, ELEMENTSOF(e), &n, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "lies outside"));
        memset(blob, 0, sizeof(blob));
        blob[0] = 1;
        blob[20] = 1;           /* one byte at offset 0: valid, but no end entry follows */
        assert_int_equal(snp_cert_table_parse(blob, 24, e, ELEMENTSOF(e), &n, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "no end entry"));
        assert_string_equal(snp_cert_guid_to_string(SNP_CERT_GUID_CRL), "crl");
        assert_string_equal(snp_cert_guid_to_string(SNP_CERT_GUID_OTHER), "other");
        assert_int_equal(snp_cert_table_build(NULL, 0, blob, 10, &len), -ENOBUFS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_chain_milan),
                cmocka_unit_test(test_chain_genoa_v2),
                cmocka_unit_test(test_chain_turin),
                cmocka_unit_test(test_chain_vlek),
                cmocka_unit_test(test_chain_wrong_kind),
                cmocka_unit_test(test_crl),
                cmocka_unit_test(test_cert_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

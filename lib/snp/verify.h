/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verify an SEV-SNP attestation report the way a relying party must
 * (docs/ATTESTATION.md): the certificate chain ARK → ASK → VCEK or
 * ARK → ASVK → VLEK ending in a trusted root (AMD's, compiled in, unless the
 * caller names others), the CRL when one is given, the VCEK/VLEK extensions
 * against the report, the report's signature, its must-be-zero fields, and
 * then what the caller expects of the guest.
 *
 * Every check is recorded with its result and an English detail; the verdict
 * is the worst class that failed:
 *   SNP_VERDICT_INPUT        the input cannot be read (not a report, no
 *                            VCEK/VLEK to check it with)
 *   SNP_VERDICT_NOT_GENUINE  a signature, the chain, the CRL, the
 *                            certificate-report match or a reserved field
 *   SNP_VERDICT_UNEXPECTED   genuine, but an expectation does not hold
 *   SNP_VERDICT_OK           genuine and every expectation holds
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <openssl/x509.h>

#include "snp-abi.h"
#include "x509.h"

struct json_object;

enum snp_verdict {
        SNP_VERDICT_OK,
        SNP_VERDICT_UNEXPECTED,
        SNP_VERDICT_NOT_GENUINE,
        SNP_VERDICT_INPUT,
};

/* "verified", "unexpected", "not-genuine", "unreadable" */
const char *snp_verdict_to_string(enum snp_verdict v);

enum snp_check_status {
        SNP_CHECK_PASS,
        SNP_CHECK_WARN,    /* passed with a caveat (a newer report version) */
        SNP_CHECK_SKIP,    /* not asked for, or not applicable */
        SNP_CHECK_FAIL,
};

/* "pass", "warn", "skip", "FAIL" */
const char *snp_check_status_to_string(enum snp_check_status s);

enum snp_check_id {
        /* genuine */
        SNP_CHECK_REPORT,
        SNP_CHECK_KEY_TYPE,
        SNP_CHECK_CHAIN,
        SNP_CHECK_CRL,
        SNP_CHECK_PRODUCT,
        SNP_CHECK_TCB,
        SNP_CHECK_HWID,
        SNP_CHECK_SIGNATURE,
        SNP_CHECK_RESERVED,
        /* expectations */
        SNP_CHECK_MEASUREMENT,
        SNP_CHECK_HOST_DATA,
        SNP_CHECK_REPORT_DATA,
        SNP_CHECK_POLICY,
        SNP_CHECK_MIN_TCB,
        SNP_CHECK_DEBUG,
        SNP_CHECK_MIGRATE,
        SNP_CHECK_VMPL,
        _SNP_CHECK_MAX,
};

/* The check's name in output and JSON ("signature", "chain", …). */
const char *snp_check_name(enum snp_check_id id);
bool snp_check_is_expectation(enum snp_check_id id);

#define SNP_CHECK_DETAIL_MAX 384

struct snp_check {
        enum snp_check_status status;
        char detail[SNP_CHECK_DETAIL_MAX];
};

struct snp_expect {
        bool measurement, host_data, report_data, policy, min_tcb, vmpl;
        bool deny_debug, deny_migrate;
        uint8_t measurement_v[48];
        uint8_t host_data_v[32];
        uint8_t report_data_v[SNP_REPORT_DATA_LEN];
        uint64_t policy_v;
        uint64_t min_tcb_v;
        uint32_t vmpl_v;
};

struct snp_verify_input {
        const void *report;
        size_t report_size;
        STACK_OF(X509) *certs;    /* untrusted: VCEK/VLEK, ASK/ASVK, maybe an ARK */
        STACK_OF(X509) *anchors;  /* the only trusted roots; NULL = AMD's ARKs */
        X509_CRL *crl;            /* NULL: no revocation check */
        time_t at;                /* check validity at this time; 0: now */
        struct snp_expect expect;
};

struct snp_verify_result {
        enum snp_verdict verdict;
        bool have_report;
        struct snp_report report;
        char product[SNP_PRODUCT_MAX];   /* "" when unknown */
        bool anchor_builtin;             /* the chain ends in an AMD ARK compiled in */
        char input_error[SNP_CHECK_DETAIL_MAX]; /* why, for SNP_VERDICT_INPUT */
        struct snp_check checks[_SNP_CHECK_MAX];
};

/* Run every check. Returns 0 with the verdict in *ret (also for a report
 * that does not verify), or -ENOMEM. */
int snp_verify(const struct snp_verify_input *in, struct snp_verify_result *ret);

/* {"verdict", "product", "trust_anchor": "amd"|"given", "input_error"?,
 *  "checks": [{"name","kind":"genuine"|"expectation","result","detail"}],
 *  "report": snp_report_to_json()} — NULL on ENOMEM. */
struct json_object *snp_verify_result_to_json(const struct snp_verify_result *r);
/* One line a check ("  pass  signature     …") and the verdict. */
int snp_verify_result_format(const struct snp_verify_result *r, FILE *f);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal verify: check an attestation report (raw, or in an evidence file
 * from snpseal attest) against AMD's certificate chain and the caller's
 * expectations, on any machine: no agent, no SNP (lib/snp/verify.c,
 * docs/ATTESTATION.md).
 *
 * Exit codes (snpseal(1), snpseal-verify(1)): 0 verified, 1 not genuine,
 * 2 usage error, 3 genuine but an expectation does not hold, 4 the input
 * cannot be read or there is nothing to check it with.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cli.h"
#include "hexutil.h"
#include "json-util.h"
#include "json-values.h"
#include "snp/evidence.h"
#include "snp/verify.h"
#include "snp/x509.h"
#include "verb-verify.h"

#define REPORT_UID_LABEL "snpseal/v1/report-of-uid"   /* agent/agent.h, docs/PROTOCOL.md */

enum {
        OPT_CERT = CLI_OPT_VERB,
        OPT_CRL,
        OPT_TRUST_ANCHOR,
        OPT_CACHE,
        OPT_FETCH,
        OPT_KDS_URL,
        OPT_EXPECT_MEASUREMENT,
        OPT_EXPECT_HOST_DATA,
        OPT_EXPECT_REPORT_DATA,
        OPT_NONCE,
        OPT_BOUND_UID,
        OPT_EXPECT_POLICY,
        OPT_MIN_TCB,
        OPT_DENY_DEBUG,
        OPT_DENY_MIGRATE,
        OPT_VMPL,
        OPT_AT,
};

struct verify_args {
        STACK_OF(X509) *certs;
        STACK_OF(X509) *anchors;
        X509_CRL *crl;
        struct snp_expect expect;
        const char *nonce;
        bool bound;
        uint32_t bound_uid;
        struct verify_kds kds;
        time_t at;
};

static void verify_args_done(struct verify_args *a) {
        snp_x509_stack_freep(&a->certs);
        snp_x509_stack_freep(&a->anchors);
        X509_CRL_free(a->crl);
}

/* Exactly size bytes of hex. */
static int hex_exact_arg(const char *verb, const char *opt, const char *value, uint8_t *out, size_t size) {
        if (strlen(value) != 2 * size || hex_decode_exact(value, out, size) < 0) {
                cli_usage_error(verb, "%s wants %zu bytes as %zu hex digits", opt, size, 2 * size);
                return -EINVAL;
        }
        return 0;
}

static int load_certs_arg(const char *verb, STACK_OF(X509) **stack, const char *path) {
        char err[320];

        if (!*stack && !(*stack = sk_X509_new_null()))
                return cli_error(verb, "out of memory"), -ENOMEM;
        if (snp_certs_load_file(path, *stack, err, sizeof(err)) < 0) {
                cli_error(verb, "%s", err);
                return -EINVAL;
        }
        return 0;
}

static int expect_option(const char *verb, struct verify_args *a, int c, const char *v) {
        struct snp_expect *e = &a->expect;
        uint64_t u;

        switch (c) {
        case OPT_EXPECT_MEASUREMENT:
                e->measurement = true;
                return hex_exact_arg(verb, "--expect-measurement", v, e->measurement_v, sizeof(e->measurement_v)) < 0 ?
                       -EINVAL : 1;
        case OPT_EXPECT_HOST_DATA:
                e->host_data = true;
                return hex_exact_arg(verb, "--expect-host-data", v, e->host_data_v, sizeof(e->host_data_v)) < 0 ?
                       -EINVAL : 1;
        case OPT_EXPECT_REPORT_DATA:
        case OPT_NONCE:
                if (e->report_data || a->nonce)
                        return cli_usage_error(verb, "give --expect-report-data or --nonce once"), -EINVAL;
                if (cli_hex_decode_padded(v, e->report_data_v, sizeof(e->report_data_v)) < 0)
                        return cli_usage_error(verb, "%s wants 1 to 64 bytes of hex",
                                               c == OPT_NONCE ? "--nonce" : "--expect-report-data"), -EINVAL;
                e->report_data = true;
                if (c == OPT_NONCE)
                        a->nonce = v;
                return 1;
        case OPT_BOUND_UID:
                if (parse_u32(v, UINT32_MAX, &a->bound_uid) < 0)
                        return cli_usage_error(verb, "--bound-uid wants a uid"), -EINVAL;
                a->bound = true;
                return 1;
        case OPT_EXPECT_POLICY:
                if (parse_u64(v, UINT64_MAX, &e->policy_v) < 0)
                        return cli_usage_error(verb, "--expect-policy wants a number (0x30000)"), -EINVAL;
                e->policy = true;
                return 1;
        case OPT_MIN_TCB:
                if (tcb_from_hex(v, &e->min_tcb_v) < 0)
                        return cli_usage_error(verb, "--min-tcb wants 16 hex digits, byte 0 first "
                                               "(as snpseal report shows TCBs)"), -EINVAL;
                e->min_tcb = true;
                return 1;
        case OPT_DENY_DEBUG:
                e->deny_debug = true;
                return 1;
        case OPT_DENY_MIGRATE:
                e->deny_migrate = true;
                return 1;
        case OPT_VMPL:
                if (parse_u64(v, SNP_VMPL_MAX, &u) < 0)
                        return cli_usage_error(verb, "--vmpl wants 0 to 3"), -EINVAL;
                e->vmpl = true;
                e->vmpl_v = (uint32_t) u;
                return 1;
        }
        return 0;
}

static int verify_option(const char *verb, struct verify_args *a, int c, const char *v) {
        char err[320];

        switch (c) {
        case OPT_CERT:
                return load_certs_arg(verb, &a->certs, v) < 0 ? -EINVAL : 1;
        case OPT_TRUST_ANCHOR:
                return load_certs_arg(verb, &a->anchors, v) < 0 ? -EINVAL : 1;
        case OPT_CRL:
                if (a->crl)
                        return cli_usage_error(verb, "give --crl once"), -EINVAL;
                if (snp_crl_load_file(v, &a->crl, err, sizeof(err)) < 0)
                        return cli_error(verb, "%s", err), -EINVAL;
                return 1;
        case OPT_CACHE:
                a->kds.cache = v;
                return 1;
        case OPT_FETCH:
                a->kds.fetch = true;
                return 1;
        case OPT_KDS_URL:
                a->kds.url = v;
                return 1;
        case OPT_AT: {
                uint64_t t;

                if (parse_u64(v, INT32_MAX * UINT64_C(4), &t) < 0 || t == 0)
                        return cli_usage_error(verb, "--at wants seconds since 1970 (date +%%s)"), -EINVAL;
                a->at = (time_t) t;
                return 1;
        }
        }
        return expect_option(verb, a, c, v);
}

/* REPORT_DATA of a report the agent bound to uid (docs/PROTOCOL.md). */
static int bound_report_data(uint32_t uid, uint8_t data[SNP_REPORT_DATA_LEN]) {
        static const char label[] = REPORT_UID_LABEL;
        uint8_t be[4] = { (uint8_t) (uid >> 24), (uint8_t) (uid >> 16), (uint8_t) (uid >> 8), (uint8_t) uid };
        uint8_t out[64];
        unsigned int len = sizeof(out);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok;

        _Static_assert(sizeof(out) == SNP_REPORT_DATA_LEN, "SHA-512 fills REPORT_DATA");
        ok = md && EVP_DigestInit_ex(md, EVP_sha512(), NULL) == 1 &&
                EVP_DigestUpdate(md, label, sizeof(label)) == 1 &&   /* the NUL too */
                EVP_DigestUpdate(md, be, sizeof(be)) == 1 &&
                EVP_DigestUpdate(md, data, SNP_REPORT_DATA_LEN) == 1 &&
                EVP_DigestFinal_ex(md, out, &len) == 1;
        EVP_MD_CTX_free(md);
        if (!ok)
                return -EIO;
        memcpy(data, out, SNP_REPORT_DATA_LEN);
        return 0;
}

/* Read FILE: a raw report, or evidence whose certificates join a->certs. */
static int read_input(const char *verb, const char *path, struct verify_args *a, uint8_t *report,
                      size_t *ret_size) {
        _cleanup_(freep) uint8_t *data = NULL;
        struct snp_evidence ev;
        char err[320];
        size_t size;
        int r;

        r = snp_file_read(path, SNP_EVIDENCE_MAX, &data, &size);
        if (r == -EFBIG)
                return cli_error(verb, "%s: larger than %u bytes: neither a report nor evidence", path,
                                 SNP_EVIDENCE_MAX), r;
        if (r < 0)
                return cli_error(verb, "cannot read %s: %s", path, strerror(-r)), r;
        if (size != SNP_REPORT_SIZE && snp_evidence_sniff(data, size)) {
                r = snp_evidence_parse((const char *) data, size, &ev, a->certs, err, sizeof(err));
                if (r < 0)
                        return cli_error(verb, "%s: %s", path, err), r;
                memcpy(report, ev.report, SNP_REPORT_SIZE);
                *ret_size = SNP_REPORT_SIZE;
                return 0;
        }
        /* The size as it is, for the message; the bytes only as far as a report goes. */
        *ret_size = size;
        memcpy(report, data, size < SNP_REPORT_SIZE ? size : SNP_REPORT_SIZE);
        return 0;
}

static int verify_exit(enum snp_verdict v) {
        switch (v) {
        case SNP_VERDICT_OK:
                return VERIFY_EXIT_OK;
        case SNP_VERDICT_NOT_GENUINE:
                return VERIFY_EXIT_NOT_GENUINE;
        case SNP_VERDICT_UNEXPECTED:
                return VERIFY_EXIT_UNEXPECTED;
        case SNP_VERDICT_INPUT:
                break;
        }
        return VERIFY_EXIT_INPUT;
}

static int verify_output(const struct cli *cli, const char *verb, const char *path,
                         const struct snp_verify_result *res) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (cli->json) {
                json_object *report = NULL, *values = NULL;

                o = snp_verify_result_to_json(res);
                /* The report's values as in every other command (json-values.c). */
                if (o && json_object_object_get_ex(o, "report", &report) &&
                    (!(values = json_values_report(report)) || json_add(o, "report", values) < 0))
                        o = (json_object_put(o), NULL);
                if (!o || cli_json_print(o) < 0)
                        return cli_error(verb, "cannot write the output"), -EIO;
                return 0;
        }
        if (res->verdict == SNP_VERDICT_INPUT) {
                cli_error(verb, "%s: %s", path, res->input_error);
                return 0;
        }
        printf("%s: attestation report version %" PRIu32 "%s%s\n", path, res->report.version,
               res->product[0] ? ", " : "", res->product);
        if (snp_verify_result_format(res, stdout) < 0)
                return cli_error(verb, "cannot write the output"), -EIO;
        return 0;
}

static int run_verify(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "cert",                 required_argument, NULL, OPT_CERT },
                { "crl",                  required_argument, NULL, OPT_CRL },
                { "trust-anchor",         required_argument, NULL, OPT_TRUST_ANCHOR },
                { "cache",                required_argument, NULL, OPT_CACHE },
                { "fetch",                no_argument,       NULL, OPT_FETCH },
                { "kds-url",              required_argument, NULL, OPT_KDS_URL },
                { "expect-measurement",   required_argument, NULL, OPT_EXPECT_MEASUREMENT },
                { "expect-host-data",     required_argument, NULL, OPT_EXPECT_HOST_DATA },
                { "expect-report-data",   required_argument, NULL, OPT_EXPECT_REPORT_DATA },
                { "nonce",                required_argument, NULL, OPT_NONCE },
                { "bound-uid",            required_argument, NULL, OPT_BOUND_UID },
                { "expect-policy",        required_argument, NULL, OPT_EXPECT_POLICY },
                { "min-tcb",              required_argument, NULL, OPT_MIN_TCB },
                { "deny-debug",           no_argument,       NULL, OPT_DENY_DEBUG },
                { "deny-migrate",         no_argument,       NULL, OPT_DENY_MIGRATE },
                { "vmpl",                 required_argument, NULL, OPT_VMPL },
                { "at",                   required_argument, NULL, OPT_AT },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        _cleanup_(verify_args_done) struct verify_args a = { .kds.cache = VERIFY_KDS_CACHE_DEFAULT };
        uint8_t report[SNP_REPORT_SIZE];
        struct snp_verify_result *res = NULL;
        struct snp_verify_input in;
        size_t size = 0;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                r = verify_option(verb->name, &a, c, optarg);
                if (r < 0)
                        return r == -EINVAL && c != OPT_CERT && c != OPT_TRUST_ANCHOR && c != OPT_CRL ?
                               EXIT_USAGE : VERIFY_EXIT_INPUT;
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE && r != 1)
                        return r;
        }
        r = cli_check_args(verb->name, argc - optind, 1, 1);
        if (r != 0)
                return r;
        if (a.bound && !a.expect.report_data)
                return cli_usage_error(verb->name, "--bound-uid needs --nonce or --expect-report-data");
        if (!a.certs && !(a.certs = sk_X509_new_null()))
                return cli_error(verb->name, "out of memory");
        if (read_input(verb->name, argv[optind], &a, report, &size) < 0)
                return VERIFY_EXIT_INPUT;
        if (a.bound && bound_report_data(a.bound_uid, a.expect.report_data_v) < 0)
                return cli_error(verb->name, "cannot compute the uid binding");
        if (size == SNP_REPORT_SIZE && verify_kds_certs(verb->name, &a.kds, report, a.certs, &a.crl) < 0)
                return VERIFY_EXIT_INPUT;

        in = (struct snp_verify_input) {
                .report = report, .report_size = size, .certs = a.certs, .anchors = a.anchors, .crl = a.crl,
                .at = a.at, .expect = a.expect,
        };
        res = malloc(sizeof(*res));
        if (!res || snp_verify(&in, res) < 0) {
                free(res);
                return cli_error(verb->name, "out of memory");
        }
        r = verify_output(cli, verb->name, argv[optind], res) < 0 ? EXIT_FAILURE : verify_exit(res->verdict);
        free(res);
        return r;
}

const struct cli_verb cli_verb_verify = {
        .name = "verify",
        .args = "[OPTIONS] FILE",
        .summary = "Verify a report or evidence against AMD's chain",
        .options =
                "  FILE                      a raw report (1184 bytes) or evidence from 'snpseal attest'\n"
                "  --cert=FILE               VCEK/VLEK, ASK/ASVK, ARK (PEM or DER; repeatable)\n"
                "  --crl=FILE                check revocation with AMD's CRL\n"
                "  --trust-anchor=FILE       trust this root instead of AMD's built-in ARKs\n"
                "  --cache=DIR               certificates fetched from AMD's KDS\n"
                "                            (default " VERIFY_KDS_CACHE_DEFAULT ")\n"
                "  --fetch                   get missing certificates from AMD's KDS\n"
                "  --kds-url=URL             the KDS (default " VERIFY_KDS_URL_DEFAULT ")\n"
                "  --expect-measurement=HEX  the launch measurement (48 bytes)\n"
                "  --expect-host-data=HEX    HOST_DATA (32 bytes)\n"
                "  --expect-report-data=HEX  REPORT_DATA (up to 64 bytes, zero-padded)\n"
                "  --nonce=HEX               the nonce given to 'snpseal attest' (as REPORT_DATA)\n"
                "  --bound-uid=UID           accept a report the agent bound to this uid\n"
                "  --expect-policy=N         the guest policy, exactly\n"
                "  --min-tcb=HEX             REPORTED_TCB at least this, byte by byte\n"
                "  --deny-debug              refuse a guest that allows debugging\n"
                "  --deny-migrate            refuse a guest that allows a migration agent\n"
                "  --vmpl=N                  the report was requested at VMPL N\n"
                "  --at=SECONDS              check validity at this time (seconds since 1970)\n"
                "Exit: 0 verified, 1 not genuine, 3 not as expected, 4 cannot read or check.\n",
        .run = run_verify,
};

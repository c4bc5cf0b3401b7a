/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The attestation report decoders: snp_report_validate() on raw bytes (from
 * the firmware, or a file given to the CLI), then snp_report_to_json(),
 * snp_report_format() and the one-line decoders of its values.
 * The input is validated as it is, then padded or cut to SNP_REPORT_SIZE so
 * the decoders see every input.
 * Invariants: validate accepts exactly SNP_REPORT_SIZE bytes with a version of
 * 2 or later (newer than known included) and the signature algorithm, and says why otherwise; the JSON output
 * is valid JSON; SNP_DECODE_TEXT_MAX suffices for each one-line decoder and
 * a small buffer gives -ENOBUFS.
 */

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "macro.h"
#include "snp-decode.h"

typedef int (*format_u64_fn)(uint64_t raw, char *buf, size_t size);

static void check_line(int n, const char *buf) {
        FUZZ_CHECK(n >= 0 && n < (int) SNP_DECODE_TEXT_MAX);
        FUZZ_CHECK(strlen(buf) == (size_t) n);
}

static void check_format_u64(format_u64_fn f, uint64_t raw) {
        char buf[SNP_DECODE_TEXT_MAX], tiny[4];
        int n = f(raw, buf, sizeof(buf));

        check_line(n, buf);
        if (n >= (int) sizeof(tiny))
                FUZZ_CHECK(f(raw, tiny, sizeof(tiny)) == -ENOBUFS);
}

static void check_json_valid(struct json_object *o) {
        struct json_object *back;

        FUZZ_CHECK(o);
        back = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        FUZZ_CHECK(back);
        json_object_put(back);
        json_object_put(o);
}

static void check_decoders(const struct snp_report *r) {
        static FILE *devnull;
        char buf[SNP_DECODE_TEXT_MAX];
        bool assumed = false;
        enum snp_tcb_layout layout = snp_report_tcb_layout(r, &assumed);
        int n;

        check_format_u64(snp_policy_format, r->policy);
        check_format_u64(snp_platform_info_format, r->platform_info);
        n = snp_signer_info_format(r->signer_info, buf, sizeof(buf));
        check_line(n, buf);
        for (enum snp_tcb_layout l = SNP_TCB_LAYOUT_MILAN_GENOA; l <= SNP_TCB_LAYOUT_TURIN; l++) {
                n = snp_tcb_format(r->reported_tcb, l, buf, sizeof(buf));
                check_line(n, buf);
                check_json_valid(snp_tcb_to_json(r->committed_tcb, l, assumed));
        }
        n = snp_report_tcb_layout_reason(r, buf, sizeof(buf));
        check_line(n, buf);
        FUZZ_CHECK((n > 0) == assumed);
        FUZZ_CHECK(layout == SNP_TCB_LAYOUT_MILAN_GENOA || layout == SNP_TCB_LAYOUT_TURIN);
        check_json_valid(snp_policy_to_json(r->policy));
        check_json_valid(snp_platform_info_to_json(r->platform_info));
        check_json_valid(snp_signer_info_to_json(r->signer_info));
        check_json_valid(snp_report_to_json(r));
        if (!devnull)
                devnull = fopen("/dev/null", "we");
        FUZZ_CHECK(devnull);
        FUZZ_CHECK(snp_report_format(r, devnull) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) uint8_t *exact = NULL;
        struct snp_error err = { 0 };
        struct snp_report r;
        int ret;

        ret = snp_report_validate(data, size, &r, &err);
        if (size != SNP_REPORT_SIZE)
                FUZZ_CHECK(ret == -EINVAL && err.code == -EINVAL && strstr(err.message, "expected 1184"));

        /* The same bytes as a report of exactly the right size. */
        exact = calloc(1, SNP_REPORT_SIZE);
        FUZZ_CHECK(exact);
        if (size > 0)
                memcpy(exact, data, size < SNP_REPORT_SIZE ? size : SNP_REPORT_SIZE);
        memset(&err, 0, sizeof(err));
        ret = snp_report_validate(exact, SNP_REPORT_SIZE, &r, &err);
        if (ret < 0) {
                FUZZ_CHECK(ret == -EBADMSG && err.code == -EBADMSG &&
                           strstr(err.message, "not supported"));
                return 0;
        }
        FUZZ_CHECK(r.version >= SNP_REPORT_VERSION_MIN);
        FUZZ_CHECK(r.signature_algo == SNP_SIG_ALGO_ECDSA_P384_SHA384);
        check_decoders(&r);
        return 0;
}

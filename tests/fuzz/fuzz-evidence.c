/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The evidence file of snpseal attest, as snpseal verify reads it
 * (lib/snp/evidence.c). Invariants: a parse fails with a message, or
 * succeeds with a nonce of at most 64 bytes; what parsed encodes again and
 * parses to the same report, nonce, uid and number of certificates.
 */

#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "snp/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        STACK_OF(X509) *certs = sk_X509_new_null(), *again = sk_X509_new_null();
        struct snp_evidence e, f;
        struct json_object *o;
        const char *text;
        char err[320] = "";

        FUZZ_CHECK(certs && again);
        (void) snp_evidence_sniff(data, size);
        if (snp_evidence_parse((const char *) data, size, &e, certs, err, sizeof(err)) < 0) {
                FUZZ_CHECK(err[0] != '\0');
                goto out;
        }
        FUZZ_CHECK(!e.has_nonce || (e.nonce_len >= 1 && e.nonce_len <= SNP_REPORT_DATA_LEN));
        o = snp_evidence_to_json(&e, certs);
        FUZZ_CHECK(o);
        text = json_object_to_json_string(o);
        FUZZ_CHECK(snp_evidence_parse(text, strlen(text), &f, again, err, sizeof(err)) == 0);
        FUZZ_CHECK(memcmp(e.report, f.report, sizeof(e.report)) == 0);
        FUZZ_CHECK(e.has_nonce == f.has_nonce && e.nonce_len == f.nonce_len && e.bound == f.bound &&
                   e.bound_uid == f.bound_uid);
        json_object_put(o);
out:
        sk_X509_pop_free(certs, X509_free);
        sk_X509_pop_free(again, X509_free);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Certificates as snpseal verify reads them (--cert, evidence): PEM or DER
 * into X509 (lib/snp/x509.c), then the kind and the AMD extensions.
 * Invariants: a parse either fails with a message or yields at most
 * SNP_CERTS_MAX certificates; the extension parser fails with a message or
 * yields a hwID of at most 64 bytes and NUL-terminated printable strings.
 */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "snp/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        STACK_OF(X509) *certs = sk_X509_new_null();
        char err[320] = "";
        int r;

        FUZZ_CHECK(certs);
        r = snp_certs_parse(data, size, certs, "input", err, sizeof(err));
        if (r < 0)
                FUZZ_CHECK(err[0] != '\0' && sk_X509_num(certs) <= (int) SNP_CERTS_MAX);
        for (int i = 0; i < sk_X509_num(certs); i++) {
                X509 *x = sk_X509_value(certs, i);
                struct snp_cert_ext e;
                char product[SNP_PRODUCT_MAX], base[SNP_PRODUCT_MAX], fp[65];

                (void) snp_cert_kind(x, product);
                FUZZ_CHECK(strlen(product) < SNP_PRODUCT_MAX);
                err[0] = '\0';
                if (snp_cert_ext_parse(x, &e, err, sizeof(err)) < 0) {
                        FUZZ_CHECK(err[0] != '\0');
                        continue;
                }
                FUZZ_CHECK(e.hwid_len <= SNP_HWID_LEN);
                FUZZ_CHECK(strlen(e.product_name) < sizeof(e.product_name));
                FUZZ_CHECK(strlen(e.csp_id) < sizeof(e.csp_id));
                snp_product_base(e.product_name, base);
                FUZZ_CHECK(strlen(base) <= strlen(e.product_name));
                FUZZ_CHECK(snp_cert_sha256_hex(x, fp) == 0 && strlen(fp) == 64);
        }
        sk_X509_pop_free(certs, X509_free);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The extended report's certificate table as the host hands it over
 * (lib/snp/snp-cert-table.c). Invariants: a parse fails with a message, or every
 * entry lies inside the blob with a non-zero length; rebuilding the known
 * entries gives a table that parses to the same kinds and lengths.
 */

#include <string.h>

#include "fuzz.h"
#include "snp-cert-table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t blob[SNP_CERT_BLOB_MAX];
        struct snp_cert_entry e[SNP_CERT_TABLE_MAX], f[SNP_CERT_TABLE_MAX];
        struct snp_cert_blob_item items[SNP_CERT_TABLE_MAX];
        size_t n, m, k = 0, len;
        char err[256] = "";

        if (snp_cert_table_parse(data, size, e, SNP_CERT_TABLE_MAX, &n, err, sizeof(err)) < 0) {
                FUZZ_CHECK(err[0] != '\0');
                return 0;
        }
        FUZZ_CHECK(n <= SNP_CERT_TABLE_MAX);
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(e[i].length > 0 && e[i].offset <= size && e[i].length <= size - e[i].offset);
                if (e[i].kind != SNP_CERT_GUID_OTHER && k + 1 < SNP_CERT_TABLE_MAX)
                        items[k++] = (struct snp_cert_blob_item) { e[i].kind, data + e[i].offset, e[i].length };
        }
        if (snp_cert_table_build(items, k, blob, sizeof(blob), &len) < 0)
                return 0;   /* too large to rebuild: fine */
        FUZZ_CHECK(snp_cert_table_parse(blob, sizeof(blob), f, SNP_CERT_TABLE_MAX, &m, err, sizeof(err)) == 0);
        FUZZ_CHECK(m == k);
        for (size_t i = 0; i < m; i++)
                FUZZ_CHECK(f[i].kind == items[i].kind && f[i].length == items[i].length);
        return 0;
}

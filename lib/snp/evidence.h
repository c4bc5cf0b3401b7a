/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The evidence file `snpseal attest` writes and `snpseal verify` reads
 * (format in docs/ATTESTATION.md): one JSON object
 *   {"format": "snpseal-evidence", "version": 1,
 *    "report": base64 of the 1184-byte report,
 *    "certificates": [{"kind": "vcek"|"vlek"|"ask"|"asvk"|"ark", "der": base64}, …],
 *    "nonce": hex (optional, what the caller asked to have in REPORT_DATA),
 *    "bound_uid": N (optional, the agent bound this uid into REPORT_DATA)}
 * Unknown members are ignored; an unknown version is refused. The whole file
 * is untrusted: `verify` trusts nothing in it but what the checks prove.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "snp-abi.h"

struct json_object;

#define SNP_EVIDENCE_FORMAT "snpseal-evidence"
#define SNP_EVIDENCE_VERSION 1
/* Upper bound on an evidence file. */
#define SNP_EVIDENCE_MAX (256u * 1024u)

struct snp_evidence {
        uint8_t report[SNP_REPORT_SIZE];
        bool has_nonce;
        size_t nonce_len;
        uint8_t nonce[SNP_REPORT_DATA_LEN];
        bool bound;
        uint32_t bound_uid;
};

/* True when data looks like JSON (its first non-blank byte is '{'). */
bool snp_evidence_sniff(const void *data, size_t size);
/* Parse text (len bytes) into *ret and append its certificates to certs.
 * -EBADMSG with a message in errbuf for anything malformed. */
int snp_evidence_parse(const char *text, size_t len, struct snp_evidence *ret, STACK_OF(X509) *certs,
                       char *errbuf, size_t errlen);
/* The evidence as a new JSON object (certs may be NULL). NULL on ENOMEM or a
 * certificate that cannot be encoded. */
struct json_object *snp_evidence_to_json(const struct snp_evidence *e, STACK_OF(X509) *certs);

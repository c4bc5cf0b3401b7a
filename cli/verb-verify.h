/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseal verify and attest (verb-verify.c, verb-attest.c) and the AMD key
 * distribution service cache they share (kds.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "cli.h"

/* verify's exit codes; EXIT_USAGE (2) for usage errors. */
#define VERIFY_EXIT_OK          0
#define VERIFY_EXIT_NOT_GENUINE 1
#define VERIFY_EXIT_UNEXPECTED  3
#define VERIFY_EXIT_INPUT       4

#define VERIFY_KDS_CACHE_DEFAULT "/var/cache/snpseal/kds"
#define VERIFY_KDS_URL_DEFAULT   "https://kdsintf.amd.com"

extern const struct cli_verb cli_verb_verify, cli_verb_attest;

/* ---- kds.c ---- */

struct verify_kds {
        const char *cache;   /* directory: <product>/cert_chain.pem, <product>/vcek-<hwid>-<tcb>.der */
        const char *url;     /* NULL: VERIFY_KDS_URL_DEFAULT */
        bool fetch;          /* get what the cache lacks from the KDS */
};

/* When certs lacks the VCEK (or the ASK/ARK) the report needs, add them from
 * the cache, fetching them first with --fetch; with --fetch also AMD's CRL
 * into *crl unless one is there already. Missing certificates are not an
 * error here (verify says what is missing); a failed fetch is, printed. */
int verify_kds_certs(const char *verb, const struct verify_kds *k, const uint8_t *report, STACK_OF(X509) *certs,
                     X509_CRL **crl);

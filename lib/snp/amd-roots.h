/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AMD's SEV-SNP root keys (ARK) for Milan, Genoa and Turin, compiled in and
 * pinned by the SHA-256 fingerprint of their DER.
 */
#pragma once

#include <stddef.h>

#include <openssl/x509.h>

struct snp_amd_root {
        const char *product;   /* "Milan", "Genoa", "Turin" */
        const char *pem;
        const char *sha256;    /* lowercase hex of SHA-256(DER) */
};

/* The i-th root, NULL past the last. */
const struct snp_amd_root *snp_amd_root_get(size_t i);
/* Parse one root and check its fingerprint (-EIO when it does not match). */
int snp_amd_root_load(const struct snp_amd_root *root, X509 **ret);
/* Append every root to out. */
int snp_amd_roots_load(STACK_OF(X509) *out);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AMD's SEV-SNP certificates (docs/ATTESTATION.md): loading PEM or DER
 * certificates and CRLs, telling ARK, ASK, ASVK, VCEK and VLEK apart, and the
 * VCEK/VLEK extensions under OID arc 1.3.6.1.4.1.3704.1:
 *   .1 structVersion (INTEGER)    .2 productName (IA5String, "Milan-B0")
 *   .3.1 blSPL .3.2 teeSPL .3.3 snpSPL .3.8 ucodeSPL .3.9 fmcSPL (INTEGERs,
 *        possibly multi-byte DER; an SPL is one TCB byte, so 0..255)
 *   .4 hwID (raw bytes, no OCTET STRING tag inside: 64, or 8 on Turin)
 *   .5 cspID (VLEK: IA5String)
 * Certificates and CRLs are OpenSSL objects; everything here is untrusted
 * input until verify.c has checked the chain.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "macro.h"

/* Upper bound on a certificate or CRL file; larger files are refused. */
#define SNP_CERT_FILE_MAX (1024u * 1024u)
/* At most this many certificates are taken from all inputs together. */
#define SNP_CERTS_MAX 16u

#define SNP_HWID_LEN 64u
#define SNP_HWID_LEN_TURIN 8u
#define SNP_PRODUCT_MAX 32u
#define SNP_CSP_ID_MAX 128u

enum snp_cert_kind {
        SNP_CERT_UNKNOWN,
        SNP_CERT_ARK,    /* self-signed root, CN "ARK-<product>" */
        SNP_CERT_ASK,    /* CN "SEV-<product>", signs VCEKs */
        SNP_CERT_ASVK,   /* CN "SEV-VLEK-<product>", signs VLEKs */
        SNP_CERT_VCEK,   /* CN "SEV-VCEK" */
        SNP_CERT_VLEK,   /* CN "SEV-VLEK" */
};

/* "ARK", "ASK", "ASVK", "VCEK", "VLEK", "certificate" */
const char *snp_cert_kind_to_string(enum snp_cert_kind kind);
/* The kind from the subject's common name; *ret_product (SNP_PRODUCT_MAX
 * bytes, may be NULL) gets the product it names ("Milan") for ARK/ASK/ASVK,
 * "" otherwise. */
enum snp_cert_kind snp_cert_kind(X509 *cert, char *ret_product);

/* The extensions of a VCEK or VLEK. */
enum snp_spl {
        SNP_SPL_BOOT_LOADER,
        SNP_SPL_TEE,
        SNP_SPL_SNP,
        SNP_SPL_MICROCODE,
        SNP_SPL_FMC,
        _SNP_SPL_MAX,
};

struct snp_cert_ext {
        bool has_struct_version;
        uint64_t struct_version;
        char product_name[SNP_PRODUCT_MAX];   /* "" when absent */
        bool has_spl[_SNP_SPL_MAX];
        uint64_t spl[_SNP_SPL_MAX];           /* as encoded: > 255 is possible */
        size_t hwid_len;                      /* 0 when absent */
        uint8_t hwid[SNP_HWID_LEN];
        char csp_id[SNP_CSP_ID_MAX];          /* "" when absent */
};

/* "boot loader", "TEE", "SNP", "microcode", "FMC" */
const char *snp_spl_to_string(enum snp_spl spl);

/* Parse the AMD extensions of cert. -EBADMSG (with a message in errbuf)
 * when one is malformed: not DER of the right type, an SPL that is negative
 * or does not fit 64 bits, a productName or cspID too long or not printable,
 * a hwID longer than 64 bytes, or an extension twice. Absent extensions are
 * not an error here (the verifier decides what it needs). */
int snp_cert_ext_parse(X509 *cert, struct snp_cert_ext *ret, char *errbuf, size_t errlen);

/* The product in a productName ("Milan-B0" → "Milan") into out
 * (SNP_PRODUCT_MAX bytes). */
void snp_product_base(const char *product_name, char *out);

/* Append the certificates in data (PEM, one or several, or one DER) to
 * certs. -EBADMSG when data holds no certificate or is neither, -E2BIG when
 * certs would hold more than SNP_CERTS_MAX. what names the input in errbuf. */
int snp_certs_parse(const void *data, size_t size, STACK_OF(X509) *certs, const char *what,
                    char *errbuf, size_t errlen);
/* The same from a file (at most SNP_CERT_FILE_MAX bytes). */
int snp_certs_load_file(const char *path, STACK_OF(X509) *certs, char *errbuf, size_t errlen);
/* One CRL (PEM or DER) from a file. */
int snp_crl_load_file(const char *path, X509_CRL **ret, char *errbuf, size_t errlen);

/* Read a whole file of at most max bytes into a malloc()ed buffer, with a
 * NUL after its end. -EFBIG when it is larger. */
int snp_file_read(const char *path, size_t max, uint8_t **ret_data, size_t *ret_size);

/* Lowercase hex SHA-256 of the certificate's DER into out (65 bytes). */
int snp_cert_sha256_hex(X509 *cert, char out[65]);

static inline void snp_x509_stack_freep(STACK_OF(X509) **p) {
        if (*p)
                sk_X509_pop_free(*p, X509_free);
}
#define _cleanup_x509_stack_ _cleanup_(snp_x509_stack_freep)

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fileio.h"
#include "hexutil.h"
#include "snp-error.h"
#include "x509.h"

/* ---- kinds ---- */

static const char *const kind_names[] = {
        [SNP_CERT_UNKNOWN] = "certificate",
        [SNP_CERT_ARK] = "ARK",
        [SNP_CERT_ASK] = "ASK",
        [SNP_CERT_ASVK] = "ASVK",
        [SNP_CERT_VCEK] = "VCEK",
        [SNP_CERT_VLEK] = "VLEK",
};

const char *snp_cert_kind_to_string(enum snp_cert_kind kind) {
        if ((size_t) kind >= ELEMENTSOF(kind_names))
                return "certificate";
        return kind_names[kind];
}

static void copy_product(char *out, const char *s) {
        size_t n = strnlen(s, SNP_PRODUCT_MAX - 1);

        if (!out)
                return;
        memcpy(out, s, n);
        out[n] = '\0';
}

enum snp_cert_kind snp_cert_kind(X509 *cert, char *ret_product) {
        char cn[128];
        int n;

        copy_product(ret_product, "");
        n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
        if (n <= 0 || (size_t) n >= sizeof(cn) || strlen(cn) != (size_t) n)
                return SNP_CERT_UNKNOWN;
        if (strcmp(cn, "SEV-VCEK") == 0)
                return SNP_CERT_VCEK;
        if (strcmp(cn, "SEV-VLEK") == 0)
                return SNP_CERT_VLEK;
        if (strncmp(cn, "ARK-", 4) == 0 && cn[4]) {
                copy_product(ret_product, cn + 4);
                return SNP_CERT_ARK;
        }
        if (strncmp(cn, "SEV-VLEK-", 9) == 0 && cn[9]) {
                copy_product(ret_product, cn + 9);
                return SNP_CERT_ASVK;
        }
        if (strncmp(cn, "SEV-", 4) == 0 && cn[4]) {
                copy_product(ret_product, cn + 4);
                return SNP_CERT_ASK;
        }
        return SNP_CERT_UNKNOWN;
}

/* ---- extensions ---- */

static const char *const spl_names[] = {
        [SNP_SPL_BOOT_LOADER] = "boot loader",
        [SNP_SPL_TEE] = "TEE",
        [SNP_SPL_SNP] = "SNP",
        [SNP_SPL_MICROCODE] = "microcode",
        [SNP_SPL_FMC] = "FMC",
};

const char *snp_spl_to_string(enum snp_spl spl) {
        if ((size_t) spl >= ELEMENTSOF(spl_names))
                return "?";
        return spl_names[spl];
}

enum ext_type {
        EXT_STRUCT_VERSION,
        EXT_PRODUCT_NAME,
        EXT_SPL,
        EXT_HWID,
        EXT_CSP_ID,
};

static const struct {
        const char *oid;
        enum ext_type type;
        enum snp_spl spl;
        const char *name;
} amd_exts[] = {
        { "1.3.6.1.4.1.3704.1.1",   EXT_STRUCT_VERSION, 0,                   "structVersion" },
        { "1.3.6.1.4.1.3704.1.2",   EXT_PRODUCT_NAME,   0,                   "productName" },
        { "1.3.6.1.4.1.3704.1.3.1", EXT_SPL,            SNP_SPL_BOOT_LOADER, "blSPL" },
        { "1.3.6.1.4.1.3704.1.3.2", EXT_SPL,            SNP_SPL_TEE,         "teeSPL" },
        { "1.3.6.1.4.1.3704.1.3.3", EXT_SPL,            SNP_SPL_SNP,         "snpSPL" },
        { "1.3.6.1.4.1.3704.1.3.8", EXT_SPL,            SNP_SPL_MICROCODE,   "ucodeSPL" },
        { "1.3.6.1.4.1.3704.1.3.9", EXT_SPL,            SNP_SPL_FMC,         "fmcSPL" },
        { "1.3.6.1.4.1.3704.1.4",   EXT_HWID,           0,                   "hwID" },
        { "1.3.6.1.4.1.3704.1.5",   EXT_CSP_ID,         0,                   "cspID" },
};

/* A DER INTEGER that is the whole of p..p+len, non-negative, fits 64 bits. */
static int der_uint(const unsigned char *p, size_t len, uint64_t *ret) {
        const unsigned char *q = p;
        ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &q, (long) len);
        uint64_t v;
        int ok;

        if (!i)
                return -EBADMSG;
        ok = q == p + len && ASN1_INTEGER_get_uint64(&v, i) == 1;
        ASN1_INTEGER_free(i);
        if (!ok)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* A DER IA5String that is the whole of p..p+len, printable, < max bytes. */
static int der_ia5(const unsigned char *p, size_t len, char *out, size_t max) {
        const unsigned char *q = p;
        ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &q, (long) len);
        int ok, n;

        if (!s)
                return -EBADMSG;
        n = ASN1_STRING_length(s);
        ok = q == p + len && n > 0 && (size_t) n < max;
        for (int k = 0; ok && k < n; k++) {
                unsigned char c = ASN1_STRING_get0_data(s)[k];
                ok = c >= 0x20 && c < 0x7f;
        }
        if (ok) {
                memcpy(out, ASN1_STRING_get0_data(s), (size_t) n);
                out[n] = '\0';
        }
        ASN1_STRING_free(s);
        return ok ? 0 : -EBADMSG;
}

static int ext_apply(struct snp_cert_ext *e, size_t k, const unsigned char *p, size_t len) {
        switch (amd_exts[k].type) {
        case EXT_STRUCT_VERSION:
                e->has_struct_version = true;
                return der_uint(p, len, &e->struct_version);
        case EXT_PRODUCT_NAME:
                return der_ia5(p, len, e->product_name, sizeof(e->product_name));
        case EXT_SPL:
                e->has_spl[amd_exts[k].spl] = true;
                return der_uint(p, len, &e->spl[amd_exts[k].spl]);
        case EXT_HWID:
                /* The raw bytes: AMD puts no OCTET STRING tag inside. */
                if (len == 0 || len > SNP_HWID_LEN)
                        return -EBADMSG;
                memcpy(e->hwid, p, len);
                e->hwid_len = len;
                return 0;
        case EXT_CSP_ID:
                return der_ia5(p, len, e->csp_id, sizeof(e->csp_id));
        }
        return -EBADMSG;
}

static bool ext_seen(const struct snp_cert_ext *e, size_t k) {
        switch (amd_exts[k].type) {
        case EXT_STRUCT_VERSION:
                return e->has_struct_version;
        case EXT_PRODUCT_NAME:
                return e->product_name[0] != '\0';
        case EXT_SPL:
                return e->has_spl[amd_exts[k].spl];
        case EXT_HWID:
                return e->hwid_len > 0;
        case EXT_CSP_ID:
                return e->csp_id[0] != '\0';
        }
        return false;
}

static int ext_index(const ASN1_OBJECT *obj) {
        char oid[64];
        int n = OBJ_obj2txt(oid, sizeof(oid), obj, 1);

        if (n <= 0 || (size_t) n >= sizeof(oid))
                return -1;
        for (size_t k = 0; k < ELEMENTSOF(amd_exts); k++)
                if (strcmp(oid, amd_exts[k].oid) == 0)
                        return (int) k;
        return -1;
}

int snp_cert_ext_parse(X509 *cert, struct snp_cert_ext *ret, char *errbuf, size_t errlen) {
        struct snp_cert_ext e = { 0 };
        int n = X509_get_ext_count(cert);

        for (int i = 0; i < n; i++) {
                X509_EXTENSION *x = X509_get_ext(cert, i);
                ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(x);
                int k = ext_index(X509_EXTENSION_get_object(x));

                if (k < 0)
                        continue;
                if (ext_seen(&e, (size_t) k))
                        return errbuf_set(errbuf, errlen, -EBADMSG, "certificate extension %s (%s) appears twice",
                                          amd_exts[k].name, amd_exts[k].oid);
                if (!v || ext_apply(&e, (size_t) k, ASN1_STRING_get0_data(v), (size_t) ASN1_STRING_length(v)) < 0)
                        return errbuf_set(errbuf, errlen, -EBADMSG, "certificate extension %s (%s) is malformed",
                                          amd_exts[k].name, amd_exts[k].oid);
        }
        *ret = e;
        return 0;
}

void snp_product_base(const char *product_name, char *out) {
        size_t n = strcspn(product_name, "-");

        if (n >= SNP_PRODUCT_MAX)
                n = SNP_PRODUCT_MAX - 1;
        memcpy(out, product_name, n);
        out[n] = '\0';
}

/* ---- loading ---- */

int snp_file_read(const char *path, size_t max, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t n;
        int r;

        if (fd < 0)
                return -errno;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        r = fileio_read_upto(fd, buf, max + 1, &n);
        if (r < 0)
                return r;
        if (n > max)
                return -EFBIG;
        buf[n] = 0;
        *ret_data = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

static bool looks_pem(const void *data, size_t size) {
        static const char tag[] = "-----BEGIN ";

        return memmem(data, size, tag, sizeof(tag) - 1) != NULL;
}

static int certs_push(STACK_OF(X509) *certs, X509 *x, const char *what, char *errbuf, size_t errlen) {
        if ((size_t) sk_X509_num(certs) >= SNP_CERTS_MAX) {
                X509_free(x);
                return errbuf_set(errbuf, errlen, -E2BIG, "%s: more than %u certificates", what, SNP_CERTS_MAX);
        }
        if (sk_X509_push(certs, x) <= 0) {
                X509_free(x);
                return -ENOMEM;
        }
        return 0;
}

static int certs_parse_pem(const void *data, size_t size, STACK_OF(X509) *certs, const char *what,
                           char *errbuf, size_t errlen) {
        BIO *bio = BIO_new_mem_buf(data, (int) size);
        int found = 0, r = 0;
        X509 *x;

        if (!bio)
                return -ENOMEM;
        while (r >= 0 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
                r = certs_push(certs, x, what, errbuf, errlen);
                found++;
        }
        BIO_free(bio);
        ERR_clear_error();
        if (r < 0)
                return r;
        if (found == 0)
                return errbuf_set(errbuf, errlen, -EBADMSG, "%s: no certificate in it (PEM or DER expected)", what);
        return 0;
}

int snp_certs_parse(const void *data, size_t size, STACK_OF(X509) *certs, const char *what,
                    char *errbuf, size_t errlen) {
        const unsigned char *p = data;
        X509 *x;

        if (size == 0 || size > SNP_CERT_FILE_MAX)
                return errbuf_set(errbuf, errlen, -EBADMSG, "%s: %s", what,
                                  size == 0 ? "empty" : "too large for a certificate");
        if (looks_pem(data, size))
                return certs_parse_pem(data, size, certs, what, errbuf, errlen);
        x = d2i_X509(NULL, &p, (long) size);
        ERR_clear_error();
        if (!x || p != (const unsigned char *) data + size) {
                X509_free(x);
                return errbuf_set(errbuf, errlen, -EBADMSG, "%s: not a certificate (PEM or DER expected)", what);
        }
        return certs_push(certs, x, what, errbuf, errlen);
}

int snp_certs_load_file(const char *path, STACK_OF(X509) *certs, char *errbuf, size_t errlen) {
        _cleanup_(freep) uint8_t *data = NULL;
        size_t size;
        int r;

        r = snp_file_read(path, SNP_CERT_FILE_MAX, &data, &size);
        if (r == -EFBIG)
                return errbuf_set(errbuf, errlen, r, "%s: larger than %u bytes, not a certificate", path,
                                  SNP_CERT_FILE_MAX);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "cannot read %s: %s", path, strerror(-r));
        return snp_certs_parse(data, size, certs, path, errbuf, errlen);
}

int snp_crl_load_file(const char *path, X509_CRL **ret, char *errbuf, size_t errlen) {
        _cleanup_(freep) uint8_t *data = NULL;
        const unsigned char *p;
        X509_CRL *crl = NULL;
        size_t size;
        int r;

        r = snp_file_read(path, SNP_CERT_FILE_MAX, &data, &size);
        if (r == -EFBIG)
                return errbuf_set(errbuf, errlen, r, "%s: larger than %u bytes, not a CRL", path, SNP_CERT_FILE_MAX);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "cannot read %s: %s", path, strerror(-r));
        if (looks_pem(data, size)) {
                BIO *bio = BIO_new_mem_buf(data, (int) size);

                if (!bio)
                        return -ENOMEM;
                crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
                BIO_free(bio);
        } else {
                p = data;
                crl = d2i_X509_CRL(NULL, &p, (long) size);
                if (crl && p != data + size) {
                        X509_CRL_free(crl);
                        crl = NULL;
                }
        }
        ERR_clear_error();
        if (!crl)
                return errbuf_set(errbuf, errlen, -EBADMSG, "%s: not a certificate revocation list (PEM or DER expected)",
                                  path);
        *ret = crl;
        return 0;
}

int snp_cert_sha256_hex(X509 *cert, char out[65]) {
        unsigned char md[32];
        unsigned int len = sizeof(md);

        if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != sizeof(md))
                return -EIO;
        hex_encode(md, sizeof(md), out);
        return 0;
}

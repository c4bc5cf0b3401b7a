/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The simulator's X.509 chain (sim-x509.h). Certificates are made afresh on
 * every call (ECDSA signatures are randomized), their keys are always the
 * same for one state: what verifies once verifies always.
 */

#include <errno.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "macro.h"
#include "sim-firmware.h"
#include "sim-x509.h"
#include "snp-abi.h"
#include "snp-cert-table.h"

#define SIM_CERT_NOT_BEFORE "20240101000000Z"
#define SIM_CERT_NOT_AFTER  "20490101000000Z"
#define SIM_CSP_ID "snpseal-simulator"

const char *sim_product(const struct sim_state *s) {
        if (s->cpuid_fam == SIM_CPUID_FAMILY_TURIN)
                return "Turin";
        if (s->cpuid_fam == 0x19 && ((s->cpuid_mod >= 0x10 && s->cpuid_mod <= 0x1f) ||
                                     (s->cpuid_mod >= 0xa0 && s->cpuid_mod <= 0xaf)))
                return "Genoa";
        return "Milan";
}

static int set_name(X509_NAME *name, const char *cn) {
        return X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *) "Engineering", -1, -1, 0) == 1 &&
               X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *) "US", -1, -1, 0) == 1 &&
               X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *) "snpseal simulator", -1, -1, 0) == 1 &&
               X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0) == 1 ? 0 : -EIO;
}

static int add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t len) {
        ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
        ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
        X509_EXTENSION *e = NULL;
        int r = -EIO;

        if (o && v && ASN1_OCTET_STRING_set(v, der, (int) len) == 1)
                e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, v);
        if (e && X509_add_ext(x, e, -1) == 1)
                r = 0;
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(v);
        ASN1_OBJECT_free(o);
        return r;
}

/* A DER INTEGER of 0..255 (two content bytes from 128 up). */
static int add_int_ext(X509 *x, const char *oid, unsigned v) {
        uint8_t der[4] = { 0x02, 0x01, (uint8_t) v };

        if (v >= 0x80) {
                der[1] = 2;
                der[2] = 0;
                der[3] = (uint8_t) v;
                return add_raw_ext(x, oid, der, 4);
        }
        return add_raw_ext(x, oid, der, 3);
}

static int add_ia5_ext(X509 *x, const char *oid, const char *s) {
        uint8_t der[64];
        size_t n = strlen(s);

        if (n > sizeof(der) - 2)
                return -EINVAL;
        der[0] = 0x16;
        der[1] = (uint8_t) n;
        memcpy(der + 2, s, n);
        return add_raw_ext(x, oid, der, n + 2);
}

static int add_ca_exts(X509 *x, X509 *issuer) {
        X509V3_CTX ctx;
        X509_EXTENSION *bc, *ku;
        int r = -EIO;

        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
        if (bc && ku && X509_add_ext(x, bc, -1) == 1 && X509_add_ext(x, ku, -1) == 1)
                r = 0;
        X509_EXTENSION_free(bc);
        X509_EXTENSION_free(ku);
        return r;
}

/* The VCEK/VLEK extensions for the reported TCB and this chip. */
static int add_leaf_exts(X509 *x, const struct sim_state *s, bool vlek) {
        bool turin = s->cpuid_fam == SIM_CPUID_FAMILY_TURIN;
        uint64_t t = s->reported_tcb;
        static const char *const spl_oids[] = {
                "1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2", "1.3.6.1.4.1.3704.1.3.3",
                "1.3.6.1.4.1.3704.1.3.8", "1.3.6.1.4.1.3704.1.3.9",
        };
        /* boot loader, TEE, SNP, microcode, FMC: their bytes of TCB_VERSION */
        const int milan[] = { 0, 1, 6, 7, -1 }, turin_b[] = { 1, 2, 3, 7, 0 };
        const int *bytes = turin ? turin_b : milan;
        char product[32];
        uint8_t chip[64];
        int r;

        snprintf(product, sizeof(product), "%s%s", sim_product(s), turin ? "" : "-B0");
        r = add_int_ext(x, "1.3.6.1.4.1.3704.1.1", 1);
        if (r >= 0)
                r = add_ia5_ext(x, "1.3.6.1.4.1.3704.1.2", product);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(spl_oids); i++)
                if (bytes[i] >= 0)
                        r = add_int_ext(x, spl_oids[i], snp_tcb_byte(t, (unsigned) bytes[i]));
        if (r >= 0 && vlek)
                return add_ia5_ext(x, "1.3.6.1.4.1.3704.1.5", SIM_CSP_ID);
        if (r >= 0)
                r = sim_chip_id(s, chip);
        if (r >= 0)
                r = add_raw_ext(x, "1.3.6.1.4.1.3704.1.4", chip, turin ? 8 : sizeof(chip));
        return r;
}

struct cert_spec {
        const char *cn;
        long serial;
        EVP_PKEY *key;        /* the subject's key */
        EVP_PKEY *signer;     /* the issuer's key */
        X509 *issuer;         /* NULL: self-signed */
};

static X509 *make_cert(const struct cert_spec *c) {
        X509 *x = X509_new();
        X509_NAME *name = X509_NAME_new();
        bool ok;

        ok = x && name && X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), c->serial) == 1 &&
             ASN1_TIME_set_string(X509_getm_notBefore(x), SIM_CERT_NOT_BEFORE) == 1 &&
             ASN1_TIME_set_string(X509_getm_notAfter(x), SIM_CERT_NOT_AFTER) == 1 &&
             set_name(name, c->cn) == 0 && X509_set_subject_name(x, name) == 1 &&
             X509_set_issuer_name(x, c->issuer ? X509_get_subject_name(c->issuer) : name) == 1 &&
             X509_set_pubkey(x, c->key) == 1;
        X509_NAME_free(name);
        if (!ok) {
                X509_free(x);
                return NULL;
        }
        return x;
}

static int sign_cert(X509 *x, EVP_PKEY *signer) {
        return X509_sign(x, signer, EVP_sha384()) > 0 ? 0 : -EIO;
}

static int push(STACK_OF(X509) *sk, X509 *x) {
        if (!x || sk_X509_push(sk, x) <= 0) {
                X509_free(x);
                return -EIO;
        }
        return 0;
}

int sim_cert_chain(const struct sim_state *s, bool vlek, STACK_OF(X509) **ret) {
        EVP_PKEY *ark = sim_key(s, SIM_KEY_ARK), *mid = sim_key(s, vlek ? SIM_KEY_ASVK : SIM_KEY_ASK);
        EVP_PKEY *leaf = vlek && !s->vlek_present ? NULL : sim_key(s, vlek ? SIM_KEY_VLEK : SIM_KEY_VCEK);
        STACK_OF(X509) *sk = sk_X509_new_null();
        X509 *ark_x = NULL, *mid_x = NULL, *leaf_x = NULL;
        char ark_cn[32], mid_cn[32];
        int r = -EIO;

        if (vlek && !s->vlek_present) {
                r = -ENOENT;
                goto out;
        }
        if (!ark || !mid || !leaf || !sk)
                goto out;
        snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", sim_product(s));
        snprintf(mid_cn, sizeof(mid_cn), "SEV-%s%s", vlek ? "VLEK-" : "", sim_product(s));
        ark_x = make_cert(&(struct cert_spec) { ark_cn, 1, ark, ark, NULL });
        if (!ark_x || add_ca_exts(ark_x, ark_x) < 0 || sign_cert(ark_x, ark) < 0)
                goto out;
        mid_x = make_cert(&(struct cert_spec) { mid_cn, 2, mid, ark, ark_x });
        if (!mid_x || add_ca_exts(mid_x, ark_x) < 0 || sign_cert(mid_x, ark) < 0)
                goto out;
        leaf_x = make_cert(&(struct cert_spec) { vlek ? "SEV-VLEK" : "SEV-VCEK", 3, leaf, mid, mid_x });
        if (!leaf_x || add_leaf_exts(leaf_x, s, vlek) < 0 || sign_cert(leaf_x, mid) < 0)
                goto out;
        r = push(sk, TAKE_PTR(leaf_x));
        if (r >= 0)
                r = push(sk, TAKE_PTR(mid_x));
        if (r >= 0)
                r = push(sk, TAKE_PTR(ark_x));
        if (r >= 0)
                *ret = TAKE_PTR(sk);
out:
        ERR_clear_error();
        X509_free(leaf_x);
        X509_free(mid_x);
        X509_free(ark_x);
        if (sk)
                sk_X509_pop_free(sk, X509_free);
        EVP_PKEY_free(leaf);
        EVP_PKEY_free(mid);
        EVP_PKEY_free(ark);
        return r;
}

int sim_cert_table(const struct sim_state *s, bool vlek, uint8_t *blob, size_t size, size_t *ret_len) {
        static const enum snp_cert_guid vcek_kinds[] = { SNP_CERT_GUID_VCEK, SNP_CERT_GUID_ASK, SNP_CERT_GUID_ARK };
        static const enum snp_cert_guid vlek_kinds[] = { SNP_CERT_GUID_VLEK, SNP_CERT_GUID_ASK, SNP_CERT_GUID_ARK };
        STACK_OF(X509) *chain = NULL;
        struct snp_cert_blob_item items[3];
        unsigned char *der[3] = { NULL, NULL, NULL };
        int r;

        r = sim_cert_chain(s, vlek, &chain);
        for (int i = 0; r >= 0 && i < 3; i++) {
                int len = i2d_X509(sk_X509_value(chain, i), &der[i]);

                if (len <= 0)
                        r = -EIO;
                else
                        items[i] = (struct snp_cert_blob_item) {
                                (vlek ? vlek_kinds : vcek_kinds)[i], der[i], (size_t) len };
        }
        if (r >= 0)
                r = snp_cert_table_build(items, 3, blob, size, ret_len);
        for (int i = 0; i < 3; i++)
                OPENSSL_free(der[i]);
        if (chain)
                sk_X509_pop_free(chain, X509_free);
        return r;
}

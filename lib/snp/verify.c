/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Report verification (verify.h, docs/ATTESTATION.md). The checks run in a
 * fixed order and all of them run, so that the output names everything that
 * is wrong; the verdict is the worst class that failed.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "amd-roots.h"
#include "hexutil.h"
#include "json-util.h"
#include "snp-decode.h"
#include "verify.h"

static const struct {
        const char *name;
        bool expectation;
} check_info[_SNP_CHECK_MAX] = {
        [SNP_CHECK_REPORT]      = { "report", false },
        [SNP_CHECK_KEY_TYPE]    = { "key-type", false },
        [SNP_CHECK_CHAIN]       = { "chain", false },
        [SNP_CHECK_CRL]         = { "crl", false },
        [SNP_CHECK_PRODUCT]     = { "product", false },
        [SNP_CHECK_TCB]         = { "tcb", false },
        [SNP_CHECK_HWID]        = { "hwid", false },
        [SNP_CHECK_SIGNATURE]   = { "signature", false },
        [SNP_CHECK_RESERVED]    = { "reserved", false },
        [SNP_CHECK_MEASUREMENT] = { "measurement", true },
        [SNP_CHECK_HOST_DATA]   = { "host-data", true },
        [SNP_CHECK_REPORT_DATA] = { "report-data", true },
        [SNP_CHECK_POLICY]      = { "policy", true },
        [SNP_CHECK_MIN_TCB]     = { "min-tcb", true },
        [SNP_CHECK_DEBUG]       = { "debug", true },
        [SNP_CHECK_MIGRATE]     = { "migrate", true },
        [SNP_CHECK_VMPL]        = { "vmpl", true },
};

const char *snp_check_name(enum snp_check_id id) {
        return (size_t) id < ELEMENTSOF(check_info) ? check_info[id].name : "?";
}

bool snp_check_is_expectation(enum snp_check_id id) {
        return (size_t) id < ELEMENTSOF(check_info) && check_info[id].expectation;
}

const char *snp_verdict_to_string(enum snp_verdict v) {
        switch (v) {
        case SNP_VERDICT_OK:
                return "verified";
        case SNP_VERDICT_UNEXPECTED:
                return "unexpected";
        case SNP_VERDICT_NOT_GENUINE:
                return "not-genuine";
        case SNP_VERDICT_INPUT:
                return "unreadable";
        }
        return "?";
}

const char *snp_check_status_to_string(enum snp_check_status s) {
        switch (s) {
        case SNP_CHECK_PASS:
                return "pass";
        case SNP_CHECK_WARN:
                return "warn";
        case SNP_CHECK_SKIP:
                return "skip";
        case SNP_CHECK_FAIL:
                return "FAIL";
        }
        return "?";
}

/* What the checks share. */
struct ctx {
        const struct snp_verify_input *in;
        struct snp_verify_result *res;
        const struct snp_report *rep;
        X509 *leaf;                       /* borrowed from in->certs */
        enum snp_cert_kind leaf_kind;
        struct snp_cert_ext ext;
        bool ext_ok;
        STACK_OF(X509) *chain;            /* leaf .. root when the chain verified */
        enum snp_tcb_layout layout;
};

_printf_(4, 5)
static void set(struct ctx *c, enum snp_check_id id, enum snp_check_status st, const char *fmt, ...) {
        struct snp_check *k = &c->res->checks[id];
        va_list ap;

        k->status = st;
        va_start(ap, fmt);
        vsnprintf(k->detail, sizeof(k->detail), fmt, ap);
        va_end(ap);
}

static void hex_short(const void *data, size_t size, char *out, size_t outlen) {
        char full[2 * 64 + 1];

        if (size > 64)
                size = 64;
        hex_encode(data, size, full);
        snprintf(out, outlen, "%s", full);
}

static bool all_zero(const void *p, size_t size) {
        const uint8_t *b = p;

        for (size_t i = 0; i < size; i++)
                if (b[i])
                        return false;
        return true;
}

/* ---- the report ---- */

static int check_report(struct ctx *c) {
        const struct snp_report *r = c->rep;

        if (c->in->report_size != SNP_REPORT_SIZE) {
                snprintf(c->res->input_error, sizeof(c->res->input_error),
                         "not an attestation report: %zu bytes, expected %u", c->in->report_size,
                         SNP_REPORT_SIZE);
                return -EBADMSG;
        }
        if (r->version < SNP_REPORT_VERSION_MIN) {
                snprintf(c->res->input_error, sizeof(c->res->input_error),
                         "not an attestation report: version %" PRIu32 " (versions start at %u)", r->version,
                         SNP_REPORT_VERSION_MIN);
                return -EBADMSG;
        }
        if (r->signature_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
                set(c, SNP_CHECK_REPORT, SNP_CHECK_FAIL,
                    "signature algorithm %" PRIu32 " is not ECDSA P-384 with SHA-384 (1)", r->signature_algo);
        else if (r->version > SNP_REPORT_VERSION_MAX)
                set(c, SNP_CHECK_REPORT, SNP_CHECK_WARN,
                    "version %" PRIu32 " is newer than this snpseal knows (%u): the fields of version %u are "
                    "checked, what the newer version adds is not", r->version, SNP_REPORT_VERSION_MAX,
                    SNP_REPORT_VERSION_MAX);
        else
                set(c, SNP_CHECK_REPORT, SNP_CHECK_PASS, "version %" PRIu32 ", ECDSA P-384 with SHA-384",
                    r->version);
        return 0;
}

/* ---- finding the VCEK or VLEK ---- */

static int find_leaf(struct ctx *c) {
        unsigned key = (c->rep->signer_info & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT;
        enum snp_cert_kind want = key == SNP_SIGNING_KEY_VLEK ? SNP_CERT_VLEK : SNP_CERT_VCEK;
        X509 *other = NULL;
        char err[256];

        for (int i = 0; i < sk_X509_num(c->in->certs); i++) {
                X509 *x = sk_X509_value(c->in->certs, i);
                enum snp_cert_kind k = snp_cert_kind(x, NULL);

                if (k == want && !c->leaf)
                        c->leaf = x;
                else if ((k == SNP_CERT_VCEK || k == SNP_CERT_VLEK) && !other)
                        other = x;
        }
        if (!c->leaf && other)
                c->leaf = other;
        if (!c->leaf) {
                snprintf(c->res->input_error, sizeof(c->res->input_error),
                         "no %s certificate to check the report with: give it with --cert=FILE, or use --fetch",
                         snp_cert_kind_to_string(want));
                return -ENOENT;
        }
        c->leaf_kind = snp_cert_kind(c->leaf, NULL);
        if (snp_cert_ext_parse(c->leaf, &c->ext, err, sizeof(err)) < 0) {
                set(c, SNP_CHECK_TCB, SNP_CHECK_FAIL, "%s: %s", snp_cert_kind_to_string(c->leaf_kind), err);
                set(c, SNP_CHECK_HWID, SNP_CHECK_FAIL, "%s: %s", snp_cert_kind_to_string(c->leaf_kind), err);
                set(c, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL, "%s: %s", snp_cert_kind_to_string(c->leaf_kind), err);
        } else
                c->ext_ok = true;

        if (key != SNP_SIGNING_KEY_VCEK && key != SNP_SIGNING_KEY_VLEK)
                set(c, SNP_CHECK_KEY_TYPE, SNP_CHECK_FAIL,
                    "signer info 0x%08" PRIx32 " names signing key %u (%s), not a VCEK or VLEK: the report is not "
                    "signed by a chip key", c->rep->signer_info, key, snp_signing_key_to_string(key));
        else if (c->leaf_kind != want)
                set(c, SNP_CHECK_KEY_TYPE, SNP_CHECK_FAIL,
                    "the report says it is signed by the %s (signer info), the certificate given is a %s",
                    snp_cert_kind_to_string(want), snp_cert_kind_to_string(c->leaf_kind));
        else
                set(c, SNP_CHECK_KEY_TYPE, SNP_CHECK_PASS, "signed by the %s, as signer info says",
                    snp_cert_kind_to_string(want));
        return 0;
}

/* ---- the chain ---- */

static void cert_label(X509 *x, char *buf, size_t size) {
        char cn[96] = "";

        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
        snprintf(buf, size, "%s", cn[0] ? cn : "(no CN)");
}

static X509_STORE *anchor_store(const struct snp_verify_input *in, STACK_OF(X509) *own) {
        STACK_OF(X509) *anchors = in->anchors ? in->anchors : own;
        X509_STORE *store = X509_STORE_new();

        if (!store)
                return NULL;
        for (int i = 0; i < sk_X509_num(anchors); i++)
                if (X509_STORE_add_cert(store, sk_X509_value(anchors, i)) != 1) {
                        X509_STORE_free(store);
                        return NULL;
                }
        return store;
}

static void chain_failed(struct ctx *c, X509_STORE_CTX *xc) {
        int e = X509_STORE_CTX_get_error(xc), depth = X509_STORE_CTX_get_error_depth(xc);
        X509 *cur = X509_STORE_CTX_get_current_cert(xc);
        const char *hint = "";
        char who[96] = "?";

        if (cur)
                cert_label(cur, who, sizeof(who));
        if (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
                hint = depth == 0 ? ": give the ASK (or ASVK) of the right product with --cert"
                                  : ": the chain does not end in a trusted ARK (AMD's are built in; another root "
                                    "only with --trust-anchor)";
        else if (e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
                hint = ": that root is not trusted (AMD's ARKs are built in; another root only with --trust-anchor)";
        set(c, SNP_CHECK_CHAIN, SNP_CHECK_FAIL, "%s does not chain to a trusted ARK: %s (at %s)%s",
            snp_cert_kind_to_string(c->leaf_kind), X509_verify_cert_error_string(e), who, hint);
}

/* The verified chain is leaf, ASK/ASVK, ARK, and they name one product. */
static void chain_shape(struct ctx *c) {
        enum snp_cert_kind want_mid = c->leaf_kind == SNP_CERT_VLEK ? SNP_CERT_ASVK : SNP_CERT_ASK;
        char mid_product[SNP_PRODUCT_MAX], root_product[SNP_PRODUCT_MAX], labels[3][96], fp[65];
        X509 *mid, *root;

        if (sk_X509_num(c->chain) != 3) {
                set(c, SNP_CHECK_CHAIN, SNP_CHECK_FAIL, "the chain has %d certificates, AMD's has 3 (ARK, %s, %s)",
                    sk_X509_num(c->chain), snp_cert_kind_to_string(want_mid), snp_cert_kind_to_string(c->leaf_kind));
                return;
        }
        mid = sk_X509_value(c->chain, 1);
        root = sk_X509_value(c->chain, 2);
        for (int i = 0; i < 3; i++)
                cert_label(sk_X509_value(c->chain, i), labels[i], sizeof(labels[i]));
        if (snp_cert_kind(mid, mid_product) != want_mid || snp_cert_kind(root, root_product) != SNP_CERT_ARK) {
                set(c, SNP_CHECK_CHAIN, SNP_CHECK_FAIL, "a %s must be issued by an %s under an ARK: %s → %s → %s",
                    snp_cert_kind_to_string(c->leaf_kind), snp_cert_kind_to_string(want_mid), labels[2], labels[1],
                    labels[0]);
                return;
        }
        if (strcmp(mid_product, root_product) != 0) {
                set(c, SNP_CHECK_CHAIN, SNP_CHECK_FAIL, "the %s is for %s, the ARK for %s",
                    snp_cert_kind_to_string(want_mid), mid_product, root_product);
                return;
        }
        snprintf(c->res->product, sizeof(c->res->product), "%s", root_product);
        if (snp_cert_sha256_hex(root, fp) < 0)
                snprintf(fp, sizeof(fp), "?");
        c->res->anchor_builtin = !c->in->anchors;
        set(c, SNP_CHECK_CHAIN, SNP_CHECK_PASS, "%s → %s → %s; root %s (SHA-256 %s)", labels[2], labels[1],
            labels[0], c->in->anchors ? "given with --trust-anchor" : "built in", fp);
}

static int check_chain(struct ctx *c) {
        _cleanup_x509_stack_ STACK_OF(X509) *own = NULL;
        _cleanup_x509_stack_ STACK_OF(X509) *untrusted = sk_X509_new_null();
        X509_STORE *store = NULL;
        X509_STORE_CTX *xc = NULL;
        int r = -ENOMEM;

        if (!untrusted)
                return -ENOMEM;
        if (!c->in->anchors) {
                own = sk_X509_new_null();
                if (!own || snp_amd_roots_load(own) < 0)
                        return -ENOMEM;
        }
        for (int i = 0; i < sk_X509_num(c->in->certs); i++) {
                X509 *x = sk_X509_value(c->in->certs, i);

                if (x != c->leaf && (X509_up_ref(x) != 1 || sk_X509_push(untrusted, x) <= 0))
                        return -ENOMEM;
        }
        store = anchor_store(c->in, own);
        xc = X509_STORE_CTX_new();
        if (!store || !xc || X509_STORE_CTX_init(xc, store, c->leaf, untrusted) != 1)
                goto out;
        if (c->in->at)
                X509_STORE_CTX_set_time(xc, 0, c->in->at);
        if (X509_verify_cert(xc) == 1) {
                c->chain = X509_STORE_CTX_get1_chain(xc);
                if (!c->chain)
                        goto out;
                chain_shape(c);
        } else
                chain_failed(c, xc);
        ERR_clear_error();
        r = 0;
out:
        X509_STORE_CTX_free(xc);
        X509_STORE_free(store);
        return r;
}

/* ---- the CRL: signed by the chain's ARK, and the ASK/ASVK not on it ----
 * AMD's CRL is the ARK's: it lists what the ARK signed (ASKs, ASVKs). A VCEK
 * is superseded by TCB, not revoked by serial. */

static void check_crl(struct ctx *c) {
        X509_CRL *crl = c->in->crl;
        X509_REVOKED *rev = NULL;
        EVP_PKEY *ark_key;
        X509 *ark;

        if (!crl) {
                set(c, SNP_CHECK_CRL, SNP_CHECK_SKIP, "no CRL given (--crl)");
                return;
        }
        if (!c->chain || sk_X509_num(c->chain) != 3) {
                set(c, SNP_CHECK_CRL, SNP_CHECK_FAIL, "not checked: the chain did not verify");
                return;
        }
        ark = sk_X509_value(c->chain, 2);
        ark_key = X509_get0_pubkey(ark);
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) != 0 || !ark_key ||
            X509_CRL_verify(crl, ark_key) != 1) {
                ERR_clear_error();
                set(c, SNP_CHECK_CRL, SNP_CHECK_FAIL, "the CRL is not signed by the chain's ARK");
                return;
        }
        if (X509_CRL_get0_nextUpdate(crl) &&
            X509_cmp_time(X509_CRL_get0_nextUpdate(crl), c->in->at ? (time_t *) &c->in->at : NULL) < 0) {
                set(c, SNP_CHECK_CRL, SNP_CHECK_FAIL,
                    "the CRL is out of date (its next update was due): get a fresh one (--fetch)");
                return;
        }
        if (X509_CRL_get0_by_cert(crl, &rev, sk_X509_value(c->chain, 1)) == 1) {
                char who[96];

                cert_label(sk_X509_value(c->chain, 1), who, sizeof(who));
                set(c, SNP_CHECK_CRL, SNP_CHECK_FAIL, "the %s's issuer (%s) is revoked by the CRL",
                    snp_cert_kind_to_string(c->leaf_kind), who);
                return;
        }
        set(c, SNP_CHECK_CRL, SNP_CHECK_PASS, "signed by the ARK; the %s's issuer is not revoked",
            snp_cert_kind_to_string(c->leaf_kind));
}

/* ---- the certificate against the report ---- */

/* The product of the report's CPUID (version 3+), "" when it cannot tell. */
static const char *cpuid_product(const struct snp_report *r) {
        if (r->version < 3)
                return "";
        if (r->cpuid_fam_id == SNP_CPUID_FAMILY_TURIN)
                return "Turin";
        if (r->cpuid_fam_id != SNP_CPUID_FAMILY_MILAN_GENOA)
                return "";
        if (r->cpuid_mod_id <= 0x0f)
                return "Milan";
        if ((r->cpuid_mod_id >= 0x10 && r->cpuid_mod_id <= 0x1f) || (r->cpuid_mod_id >= 0xa0 && r->cpuid_mod_id <= 0xaf))
                return "Genoa";
        return "";
}

static void check_product(struct ctx *c) {
        char leaf_product[SNP_PRODUCT_MAX];
        const char *cpu = cpuid_product(c->rep);

        if (!c->ext_ok)
                return;
        snp_product_base(c->ext.product_name, leaf_product);
        if (!leaf_product[0] && c->leaf_kind == SNP_CERT_VCEK) {
                set(c, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL, "the VCEK has no productName extension");
                return;
        }
        if (leaf_product[0] && c->res->product[0] && strcmp(leaf_product, c->res->product) != 0) {
                set(c, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL, "the %s is for %s, its chain for %s",
                    snp_cert_kind_to_string(c->leaf_kind), leaf_product, c->res->product);
                return;
        }
        if (!c->res->product[0])
                snprintf(c->res->product, sizeof(c->res->product), "%s", leaf_product);
        if (cpu[0] && c->res->product[0] && strcmp(cpu, c->res->product) != 0) {
                set(c, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL,
                    "the report's CPUID (family 0x%02x, model 0x%02x) is a %s, the certificate is for %s",
                    c->rep->cpuid_fam_id, c->rep->cpuid_mod_id, cpu, c->res->product);
                return;
        }
        set(c, SNP_CHECK_PRODUCT, SNP_CHECK_PASS, "%s%s%s", c->res->product[0] ? c->res->product : "unknown",
            cpu[0] ? ", as the report's CPUID says" : "", c->ext.product_name[0] ? "" : " (from the chain)");
}

/* The TCB byte each SPL must equal, per layout. */
static int spl_byte(enum snp_spl spl, enum snp_tcb_layout layout) {
        static const int milan[_SNP_SPL_MAX] = { 0, 1, 6, 7, -1 };
        static const int turin[_SNP_SPL_MAX] = { 1, 2, 3, 7, 0 };

        return layout == SNP_TCB_LAYOUT_TURIN ? turin[spl] : milan[spl];
}

static void check_tcb(struct ctx *c) {
        char hex[TCB_HEX_LEN + 1];

        if (!c->ext_ok)
                return;
        tcb_to_hex(c->rep->reported_tcb, hex);
        for (enum snp_spl s = 0; s < _SNP_SPL_MAX; s++) {
                int b = spl_byte(s, c->layout);
                unsigned want = b < 0 ? 0 : snp_tcb_byte(c->rep->reported_tcb, (unsigned) b);

                if (b < 0 && !c->ext.has_spl[s])
                        continue;
                if (!c->ext.has_spl[s]) {
                        set(c, SNP_CHECK_TCB, SNP_CHECK_FAIL, "the %s has no %s SPL extension",
                            snp_cert_kind_to_string(c->leaf_kind), snp_spl_to_string(s));
                        return;
                }
                if (b < 0 || c->ext.spl[s] != want) {
                        set(c, SNP_CHECK_TCB, SNP_CHECK_FAIL,
                            "the %s is for %s SPL %" PRIu64 ", the report's REPORTED_TCB %s has %u: "
                            "get the %s for this TCB", snp_cert_kind_to_string(c->leaf_kind), snp_spl_to_string(s),
                            c->ext.spl[s], hex, want, snp_cert_kind_to_string(c->leaf_kind));
                        return;
                }
        }
        set(c, SNP_CHECK_TCB, SNP_CHECK_PASS, "the %s's SPLs equal REPORTED_TCB %s (%s layout)",
            snp_cert_kind_to_string(c->leaf_kind), hex, snp_tcb_layout_to_string(c->layout));
}

static void check_hwid(struct ctx *c) {
        size_t want = c->layout == SNP_TCB_LAYOUT_TURIN ? SNP_HWID_LEN_TURIN : SNP_HWID_LEN;
        const uint8_t *chip = c->rep->chip_id;
        char a[129], b[129];

        if (!c->ext_ok)
                return;
        if (c->leaf_kind == SNP_CERT_VLEK) {
                set(c, SNP_CHECK_HWID, SNP_CHECK_SKIP, "a VLEK is not bound to one chip (no hwID)");
                return;
        }
        if (all_zero(chip, sizeof(c->rep->chip_id))) {
                set(c, SNP_CHECK_HWID, SNP_CHECK_FAIL,
                    "the report's CHIP_ID is zero (the host set MASK_CHIP_ID): it cannot be matched to a VCEK");
                return;
        }
        if (c->ext.hwid_len != want) {
                set(c, SNP_CHECK_HWID, SNP_CHECK_FAIL, "the VCEK's hwID has %zu bytes, a %s hwID has %zu",
                    c->ext.hwid_len, c->res->product[0] ? c->res->product : "Milan/Genoa", want);
                return;
        }
        if (memcmp(c->ext.hwid, chip, want) != 0 || !all_zero(chip + want, sizeof(c->rep->chip_id) - want)) {
                hex_short(c->ext.hwid, c->ext.hwid_len, a, sizeof(a));
                hex_short(chip, want, b, sizeof(b));
                set(c, SNP_CHECK_HWID, SNP_CHECK_FAIL,
                    "the VCEK is for chip %.16s…, the report's CHIP_ID is %.16s…: get the VCEK of this chip", a, b);
                return;
        }
        set(c, SNP_CHECK_HWID, SNP_CHECK_PASS, "the VCEK's hwID equals CHIP_ID (%zu bytes)", want);
}

/* ---- the signature ---- */

static bool is_p384(EVP_PKEY *pk) {
        char group[32];

        return pk && EVP_PKEY_is_a(pk, "EC") &&
                EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) == 1 && strcmp(group, "secp384r1") == 0;
}

/* 1 verified, 0 not, < 0 error. */
static int ecdsa_verify(EVP_PKEY *pk, const struct snp_report *r) {
        ECDSA_SIG *sig = ECDSA_SIG_new();
        BIGNUM *br = BN_lebin2bn(r->signature.r, sizeof(r->signature.r), NULL);
        BIGNUM *bs = BN_lebin2bn(r->signature.s, sizeof(r->signature.s), NULL);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char *der = NULL;
        int len, ret = -ENOMEM;

        if (!sig || !br || !bs || !md)
                goto out;
        if (ECDSA_SIG_set0(sig, br, bs) != 1)
                goto out;
        br = bs = NULL;
        len = i2d_ECDSA_SIG(sig, &der);
        if (len <= 0)
                goto out;
        if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pk) != 1)
                goto out;
        ret = EVP_DigestVerify(md, der, (size_t) len, (const unsigned char *) r, SNP_REPORT_SIGNED_LEN) == 1;
out:
        ERR_clear_error();
        OPENSSL_free(der);
        EVP_MD_CTX_free(md);
        BN_free(br);
        BN_free(bs);
        ECDSA_SIG_free(sig);
        return ret;
}

static int check_signature(struct ctx *c) {
        const struct snp_signature *s = &c->rep->signature;
        EVP_PKEY *pk = X509_get0_pubkey(c->leaf);
        int r;

        if (!is_p384(pk)) {
                set(c, SNP_CHECK_SIGNATURE, SNP_CHECK_FAIL, "the %s's key is not ECDSA P-384",
                    snp_cert_kind_to_string(c->leaf_kind));
                return 0;
        }
        if (!all_zero(s->r + 48, sizeof(s->r) - 48) || !all_zero(s->s + 48, sizeof(s->s) - 48)) {
                set(c, SNP_CHECK_SIGNATURE, SNP_CHECK_FAIL, "R or S has bits above 384 set");
                return 0;
        }
        r = ecdsa_verify(pk, c->rep);
        if (r < 0)
                return r;
        if (r == 0)
                set(c, SNP_CHECK_SIGNATURE, SNP_CHECK_FAIL,
                    "the report's signature does not verify with the %s's key: the report was changed or another "
                    "key signed it", snp_cert_kind_to_string(c->leaf_kind));
        else
                set(c, SNP_CHECK_SIGNATURE, SNP_CHECK_PASS, "ECDSA P-384/SHA-384 over bytes 0x000-0x29F, by the %s",
                    snp_cert_kind_to_string(c->leaf_kind));
        return 0;
}

/* ---- must-be-zero and reserved fields ---- */

static const struct {
        size_t offset, size;
        uint32_t below_version;   /* only for versions below this (0: all) */
        const char *what;
} mbz[] = {
        { 0x04C, 4,   0, "reserved bytes 0x04C-0x04F" },
        { 0x188, 3,   3, "CPUID bytes of a version 2 report" },
        { 0x18B, 21,  0, "reserved bytes 0x18B-0x19F" },
        { 0x1EB, 1,   0, "reserved byte 0x1EB" },
        { 0x1EF, 1,   0, "reserved byte 0x1EF" },
        { 0x1F8, 16,  5, "mitigation vectors of a report before version 5" },
        { 0x208, 152, 0, "reserved bytes 0x208-0x29F" },
        { 0x2A0 + 144, 368, 0, "reserved bytes of the signature" },
};

static void check_reserved(struct ctx *c) {
        const struct snp_report *r = c->rep;
        const uint8_t *b = (const uint8_t *) r;

        if (r->version > SNP_REPORT_VERSION_MAX) {
                set(c, SNP_CHECK_RESERVED, SNP_CHECK_WARN,
                    "not checked: version %" PRIu32 " may use what version %u reserves", r->version,
                    SNP_REPORT_VERSION_MAX);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(mbz); i++)
                if ((mbz[i].below_version == 0 || r->version < mbz[i].below_version) &&
                    !all_zero(b + mbz[i].offset, mbz[i].size)) {
                        set(c, SNP_CHECK_RESERVED, SNP_CHECK_FAIL, "%s are not zero", mbz[i].what);
                        return;
                }
        if (!(r->policy & SNP_POLICY_RESERVED_1) || (r->policy & SNP_POLICY_RESERVED_MASK)) {
                set(c, SNP_CHECK_RESERVED, SNP_CHECK_FAIL,
                    "guest policy 0x%016" PRIx64 " is malformed (bit 17 must be 1, bits 63:26 zero)", r->policy);
                return;
        }
        if (r->signer_info & ~(SNP_SIGNER_AUTHOR_KEY_EN | SNP_SIGNER_MASK_CHIP_KEY | SNP_SIGNER_SIGNING_KEY_MASK)) {
                set(c, SNP_CHECK_RESERVED, SNP_CHECK_FAIL, "signer info 0x%08" PRIx32 " has reserved bits set",
                    r->signer_info);
                return;
        }
        if (r->vmpl > SNP_VMPL_MAX) {
                set(c, SNP_CHECK_RESERVED, SNP_CHECK_FAIL, "VMPL %" PRIu32 " is above 3", r->vmpl);
                return;
        }
        set(c, SNP_CHECK_RESERVED, SNP_CHECK_PASS, "every must-be-zero field is zero");
}

/* ---- expectations ---- */

static void expect_bytes(struct ctx *c, enum snp_check_id id, bool asked, const void *want, const void *have,
                         size_t size, const char *what, const char *option) {
        char a[129], b[129];

        if (!asked) {
                set(c, id, SNP_CHECK_SKIP, "not asked for (%s)", option);
                return;
        }
        hex_short(have, size, a, sizeof(a));
        if (memcmp(want, have, size) == 0) {
                set(c, id, SNP_CHECK_PASS, "%s is %s", what, a);
                return;
        }
        hex_short(want, size, b, sizeof(b));
        set(c, id, SNP_CHECK_FAIL, "%s is %s, expected %s", what, a, b);
}

static void check_expectations(struct ctx *c) {
        const struct snp_expect *e = &c->in->expect;
        const struct snp_report *r = c->rep;
        char have[SNP_DECODE_TEXT_MAX], want[SNP_DECODE_TEXT_MAX];

        expect_bytes(c, SNP_CHECK_MEASUREMENT, e->measurement, e->measurement_v, r->measurement,
                     sizeof(r->measurement), "the measurement", "--expect-measurement");
        expect_bytes(c, SNP_CHECK_HOST_DATA, e->host_data, e->host_data_v, r->host_data, sizeof(r->host_data),
                     "HOST_DATA", "--expect-host-data");
        expect_bytes(c, SNP_CHECK_REPORT_DATA, e->report_data, e->report_data_v, r->report_data,
                     sizeof(r->report_data), "REPORT_DATA", "--expect-report-data or --nonce");

        if (!e->policy)
                set(c, SNP_CHECK_POLICY, SNP_CHECK_SKIP, "not asked for (--expect-policy)");
        else if (e->policy_v != r->policy)
                set(c, SNP_CHECK_POLICY, SNP_CHECK_FAIL, "the guest policy is 0x%" PRIx64 ", expected 0x%" PRIx64,
                    r->policy, e->policy_v);
        else
                set(c, SNP_CHECK_POLICY, SNP_CHECK_PASS, "the guest policy is 0x%" PRIx64, r->policy);

        snp_tcb_format(r->reported_tcb, c->layout, have, sizeof(have));
        snp_tcb_format(e->min_tcb_v, c->layout, want, sizeof(want));
        if (!e->min_tcb)
                set(c, SNP_CHECK_MIN_TCB, SNP_CHECK_SKIP, "not asked for (--min-tcb)");
        else if (!snp_tcb_le(e->min_tcb_v, r->reported_tcb))
                set(c, SNP_CHECK_MIN_TCB, SNP_CHECK_FAIL, "REPORTED_TCB %s is below the minimum %s", have, want);
        else
                set(c, SNP_CHECK_MIN_TCB, SNP_CHECK_PASS, "REPORTED_TCB %s is at least %s", have, want);

        if (!e->deny_debug)
                set(c, SNP_CHECK_DEBUG, SNP_CHECK_SKIP, "not asked for (--deny-debug)");
        else if (r->policy & SNP_POLICY_DEBUG)
                set(c, SNP_CHECK_DEBUG, SNP_CHECK_FAIL,
                    "the guest policy 0x%" PRIx64 " allows debugging: the host can read the guest's memory", r->policy);
        else
                set(c, SNP_CHECK_DEBUG, SNP_CHECK_PASS, "the guest policy does not allow debugging");

        if (!e->deny_migrate)
                set(c, SNP_CHECK_MIGRATE, SNP_CHECK_SKIP, "not asked for (--deny-migrate)");
        else if (r->policy & SNP_POLICY_MIGRATE_MA)
                set(c, SNP_CHECK_MIGRATE, SNP_CHECK_FAIL, "the guest policy 0x%" PRIx64 " allows a migration agent",
                    r->policy);
        else
                set(c, SNP_CHECK_MIGRATE, SNP_CHECK_PASS, "the guest policy does not allow a migration agent");

        if (!e->vmpl)
                set(c, SNP_CHECK_VMPL, SNP_CHECK_SKIP, "not asked for (--vmpl)");
        else if (r->vmpl != e->vmpl_v)
                set(c, SNP_CHECK_VMPL, SNP_CHECK_FAIL, "the report was requested at VMPL %" PRIu32 ", expected %" PRIu32,
                    r->vmpl, e->vmpl_v);
        else
                set(c, SNP_CHECK_VMPL, SNP_CHECK_PASS, "VMPL %" PRIu32, r->vmpl);
}

/* ---- orchestration ---- */

static enum snp_tcb_layout layout_of(struct ctx *c) {
        char leaf_product[SNP_PRODUCT_MAX] = "";

        if (c->ext_ok)
                snp_product_base(c->ext.product_name, leaf_product);
        if (strcmp(leaf_product, "Turin") == 0 || strcmp(c->res->product, "Turin") == 0)
                return SNP_TCB_LAYOUT_TURIN;
        if (leaf_product[0] || c->res->product[0])
                return SNP_TCB_LAYOUT_MILAN_GENOA;
        return snp_report_tcb_layout(c->rep, NULL);
}

static enum snp_verdict verdict_of(const struct snp_verify_result *res) {
        enum snp_verdict v = SNP_VERDICT_OK;

        for (enum snp_check_id id = 0; id < _SNP_CHECK_MAX; id++)
                if (res->checks[id].status == SNP_CHECK_FAIL) {
                        if (!snp_check_is_expectation(id))
                                return SNP_VERDICT_NOT_GENUINE;
                        v = SNP_VERDICT_UNEXPECTED;
                }
        return v;
}

static void init_result(struct snp_verify_result *res) {
        memset(res, 0, sizeof(*res));
        for (enum snp_check_id id = 0; id < _SNP_CHECK_MAX; id++) {
                res->checks[id].status = SNP_CHECK_SKIP;
                snprintf(res->checks[id].detail, sizeof(res->checks[id].detail), "not checked");
        }
}

int snp_verify(const struct snp_verify_input *in, struct snp_verify_result *ret) {
        struct ctx c = { .in = in, .res = ret, .rep = &ret->report };
        int r;

        init_result(ret);
        if (in->report && in->report_size == SNP_REPORT_SIZE) {
                memcpy(&ret->report, in->report, SNP_REPORT_SIZE);
                ret->have_report = true;
        }
        if (check_report(&c) < 0 || find_leaf(&c) < 0) {
                ret->verdict = SNP_VERDICT_INPUT;
                return 0;
        }
        r = check_chain(&c);
        if (r >= 0) {
                check_crl(&c);
                c.layout = layout_of(&c);
                check_product(&c);
                c.layout = layout_of(&c);
                check_tcb(&c);
                check_hwid(&c);
                r = check_signature(&c);
        }
        if (r >= 0) {
                check_reserved(&c);
                check_expectations(&c);
                ret->verdict = verdict_of(ret);
        }
        if (c.chain)
                sk_X509_pop_free(c.chain, X509_free);
        return r;
}

/* ---- output ---- */

struct json_object *snp_verify_result_to_json(const struct snp_verify_result *r) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct json_object *checks;

        if (!o || json_add(o, "verdict", json_object_new_string(snp_verdict_to_string(r->verdict))) < 0 ||
            (r->product[0] && json_add(o, "product", json_object_new_string(r->product)) < 0))
                return NULL;
        if (r->verdict == SNP_VERDICT_INPUT)
                return json_add(o, "input_error", json_object_new_string(r->input_error)) < 0 ? NULL : TAKE_PTR(o);
        checks = json_object_new_array();
        if (json_add(o, "trust_anchor", json_object_new_string(r->anchor_builtin ? "amd" : "given")) < 0 ||
            json_add(o, "checks", checks) < 0)
                return NULL;
        for (enum snp_check_id id = 0; id < _SNP_CHECK_MAX; id++) {
                struct json_object *k = json_object_new_object();

                if (!k || json_object_array_add(checks, k) < 0) {
                        json_object_put(k);
                        return NULL;
                }
                if (json_add(k, "name", json_object_new_string(snp_check_name(id))) < 0 ||
                    json_add(k, "kind", json_object_new_string(snp_check_is_expectation(id) ? "expectation" : "genuine")) < 0 ||
                    json_add(k, "result", json_object_new_string(snp_check_status_to_string(r->checks[id].status))) < 0 ||
                    json_add(k, "detail", json_object_new_string(r->checks[id].detail)) < 0)
                        return NULL;
        }
        if (r->have_report && json_add(o, "report", snp_report_to_json(&r->report)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static const char *verdict_sentence(enum snp_verdict v) {
        switch (v) {
        case SNP_VERDICT_OK:
                return "verified: a genuine report, and every expectation holds";
        case SNP_VERDICT_UNEXPECTED:
                return "genuine, but not what was expected";
        case SNP_VERDICT_NOT_GENUINE:
                return "NOT GENUINE: do not trust this report";
        case SNP_VERDICT_INPUT:
                return "cannot verify";
        }
        return "?";
}

int snp_verify_result_format(const struct snp_verify_result *r, FILE *f) {
        if (r->verdict != SNP_VERDICT_INPUT) {
                for (enum snp_check_id id = 0; id < _SNP_CHECK_MAX; id++)
                        fprintf(f, "  %-4s  %-12s %s\n", snp_check_status_to_string(r->checks[id].status),
                                snp_check_name(id), r->checks[id].detail);
        }
        fprintf(f, "%s%s%s\n", verdict_sentence(r->verdict), r->verdict == SNP_VERDICT_INPUT ? ": " : "",
                r->verdict == SNP_VERDICT_INPUT ? r->input_error : "");
        return ferror(f) ? -EIO : 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base64.h"
#include "json-util.h"
#include "kdf.h"
#include "log.h"
#include "macro.h"
#include "sealed.h"
#include "secret.h"

/* The format is documented byte by byte in docs/SEALED-FORMAT.md. */

#define SEALED_KEY_LEN 32
#define SEALED_KDF_NAME "scrypt"
#define SCRYPT_N_MIN (UINT64_C(1) << 10)
/* The most the agent writes, and so the most it spends on an object someone
 * hands it: 128 * N * r = 32 MiB (docs/SEALED-FORMAT.md). */
#define SCRYPT_N_MAX (UINT64_C(1) << 15)
#define SCRYPT_R_MAX 8u
#define SCRYPT_P_MAX 1u
/* The VM layer's plaintext: the data, or the inner ciphertext and the escrowed K_pw. */
#define CIPHERTEXT_MAX (SEALED_DATA_MAX + SEALED_ESCROW_LEN)

static_assert(SEALED_ESCROW_LEN == SEALED_KEY_LEN, "the escrow is K_pw");

/* Domain separation of the two layers' associated data (the NUL included). */
static const char ad_domain_outer[] = "snpseal-sealed";
static const char ad_domain_inner[] = "snpseal-sealed-password";

/* Far above the largest header: purpose 128, binding JSON < 256, identity < 300. */
#define AD_MAX 2048

static struct {
        uint64_t n;
        uint32_t r, p;
} scrypt_cost = { UINT64_C(1) << 15, 8, 1 };

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF *, EVP_KDF_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF_CTX *, EVP_KDF_CTX_free);

_printf_(4, 5)
static int sealed_error(char *errbuf, size_t errlen, int code, const char *fmt, ...) {
        va_list ap;
        int n;

        if (!errbuf || errlen == 0)
                return code;
        n = snprintf(errbuf, errlen, "sealed object: ");
        if (n < 0 || (size_t) n >= errlen)
                return code;
        va_start(ap, fmt);
        (void) vsnprintf(errbuf + n, errlen - (size_t) n, fmt, ap);
        va_end(ap);
        return code;
}

static bool scrypt_params_valid(uint64_t n, uint32_t r, uint32_t p) {
        return n >= SCRYPT_N_MIN && n <= SCRYPT_N_MAX && (n & (n - 1)) == 0 &&
               r >= 1 && r <= SCRYPT_R_MAX && p >= 1 && p <= SCRYPT_P_MAX;
}

static unsigned write_format = SEALED_FORMAT;

unsigned sealed_write_format(void) {
        return write_format;
}

void sealed_set_write_format(unsigned format) {
        assert(format == SEALED_FORMAT || format == SEALED_FORMAT_V1);
        write_format = format;
}

void sealed_set_scrypt_cost(uint64_t n, uint32_t r, uint32_t p) {
        assert(scrypt_params_valid(n, r, p));
        scrypt_cost.n = n;
        scrypt_cost.r = r;
        scrypt_cost.p = p;
}

void sealed_object_done(struct sealed_object *o) {
        if (!o)
                return;
        json_object_put(o->identity);
        free(o->ciphertext);
        *o = (struct sealed_object) { 0 };
}

/* ---- recorded identity ---- */

/* A JSON integer in 0..max; false for other types, negative or larger values. */
static bool json_value_uint(json_object *v, uint64_t max, uint64_t *ret) {
        int64_t x;

        if (!json_object_is_type(v, json_type_int))
                return false;
        errno = 0;
        x = json_object_get_int64(v);
        if (errno != 0 || x < 0 || (uint64_t) x > max)
                return false;
        *ret = (uint64_t) x;
        return true;
}

/* Exactly the identity keys of the bound fields, each well-formed. */
static int identity_check(json_object *id, uint64_t fields, char *errbuf, size_t errlen) {
        if (!json_object_is_type(id, json_type_object))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"identity\" must be an object");
        if (snp_identity_check(id, fields, true, "sealed object: identity", errbuf, errlen) < 0)
                return -EBADMSG;
        return 0;
}

/* A checked identity's copy with its keys in canonical order. */
static int identity_canonical(json_object *id, json_object **ret) {
        _cleanup_(json_object_putp) json_object *c = json_object_new_object();

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++) {
                json_object *v;

                if (!json_object_object_get_ex(id, snp_identity_members[i].key, &v))
                        continue;
                if (json_object_object_add(c, snp_identity_members[i].key, json_object_get(v)) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- associated data ---- */

struct ad_buf {
        uint8_t data[AD_MAX];
        size_t len;
        bool overflow;
};

static void ad_put(struct ad_buf *b, const void *p, size_t n) {
        if (b->overflow || n > sizeof(b->data) - b->len) {
                b->overflow = true;
                return;
        }
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

static void ad_put_be(struct ad_buf *b, uint64_t v, unsigned bytes) {
        uint8_t x[8];

        assert(bytes <= sizeof(x));
        for (unsigned i = 0; i < bytes; i++)
                x[i] = (uint8_t) (v >> (8 * (bytes - 1 - i)));
        ad_put(b, x, bytes);
}

/* u32 big-endian length, then the bytes. */
static void ad_put_lp(struct ad_buf *b, const void *p, size_t n) {
        if (n > UINT32_MAX) {
                b->overflow = true;
                return;
        }
        ad_put_be(b, n, 4);
        ad_put(b, p, n);
}

static int ad_put_binding(struct ad_buf *b, const struct snp_binding *binding) {
        _cleanup_(json_object_putp) json_object *j = snp_binding_to_json(binding);
        const char *s;
        size_t len;

        if (!j)
                return -ENOMEM;
        s = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;
        ad_put_lp(b, s, len);
        return 0;
}

/* One presence byte per identity key in table order; present values follow it. */
static void ad_put_identity(struct ad_buf *b, json_object *id) {
        struct ad_buf enc = { .len = 0 };

        for (size_t i = 0; i < SNP_IDENTITY_MEMBERS; i++) {
                const struct snp_identity_member *m = &snp_identity_members[i];
                json_object *v;

                if (!json_object_object_get_ex(id, m->key, &v)) {
                        ad_put_be(&enc, 0, 1);
                        continue;
                }
                ad_put_be(&enc, 1, 1);
                if (m->type == SNP_IDENTITY_U32)
                        ad_put_be(&enc, (uint64_t) json_object_get_int64(v), 4);
                else
                        ad_put_lp(&enc, json_object_get_string(v), (size_t) json_object_get_string_len(v));
        }
        if (enc.overflow)
                b->overflow = true;
        else
                ad_put_lp(b, enc.data, enc.len);
}

/* The header H, common to both layers: every field but the nonces and tags. */
static int ad_build_header(const struct sealed_object *o, struct ad_buf *ret) {
        int r;

        if (purpose_validate(o->purpose) < 0 || snp_binding_validate(&o->binding, NULL, 0) < 0 ||
            identity_check(o->identity, o->binding.fields, NULL, 0) < 0)
                return -EBADMSG;
        ret->len = 0;
        ret->overflow = false;
        ad_put(ret, ad_domain_outer, sizeof(ad_domain_outer));
        ad_put_be(ret, o->format, 4);
        ad_put_lp(ret, o->purpose, strlen(o->purpose));
        r = ad_put_binding(ret, &o->binding);
        if (r < 0)
                return r;
        ad_put_identity(ret, o->identity);
        ad_put(ret, o->salt, sizeof(o->salt));
        ad_put_be(ret, o->has_password, 1);
        if (o->has_password) {
                ad_put_lp(ret, SEALED_KDF_NAME, strlen(SEALED_KDF_NAME));
                ad_put(ret, o->pw.salt, sizeof(o->pw.salt));
                ad_put_be(ret, o->pw.n, 8);
                ad_put_be(ret, o->pw.r, 4);
                ad_put_be(ret, o->pw.p, 4);
        }
        return ret->overflow ? -E2BIG : 0;
}

/* Outer AD = H || [pw.nonce || pw.tag]: the password layer's own nonce and tag
 * are authenticated by the VM layer, so tampering with them is -EBADMSG. */
static int ad_build_outer(const struct sealed_object *o, const struct ad_buf *h, struct ad_buf *ret) {
        ret->len = 0;
        ret->overflow = false;
        ad_put(ret, h->data, h->len);
        if (o->has_password) {
                ad_put(ret, o->pw.nonce, sizeof(o->pw.nonce));
                ad_put(ret, o->pw.tag, sizeof(o->pw.tag));
        }
        return ret->overflow ? -E2BIG : 0;
}

/* Inner AD = "snpseal-sealed-password\0" || H. */
static int ad_build_inner(const struct ad_buf *h, struct ad_buf *ret) {
        ret->len = 0;
        ret->overflow = false;
        ad_put(ret, ad_domain_inner, sizeof(ad_domain_inner));
        ad_put(ret, h->data, h->len);
        return ret->overflow ? -E2BIG : 0;
}

/* ---- primitives ---- */

/* AES-256-GCM, 12-byte nonce, 16-byte tag; 1 <= n <= CIPHERTEXT_MAX. Decryption returns
 * -EBADMSG when the tag does not verify (out is wiped then). */
static int aead(bool encrypt, const uint8_t key[SEALED_KEY_LEN], const uint8_t nonce[SEALED_NONCE_LEN],
                const struct ad_buf *ad, const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[SEALED_TAG_LEN]) {
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int len, r = -EIO;

        if (!ctx)
                return -ENOMEM;
        if (n == 0 || n > CIPHERTEXT_MAX || ad->len > INT32_MAX)
                return -EINVAL;
        if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, encrypt, NULL) != 1 ||
            EVP_CipherUpdate(ctx, NULL, &len, ad->data, (int) ad->len) != 1 ||
            EVP_CipherUpdate(ctx, out, &len, in, (int) n) != 1 || (size_t) len != n)
                goto fail;
        if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEALED_TAG_LEN, tag) != 1)
                goto fail;
        if (EVP_CipherFinal_ex(ctx, out + n, &len) != 1) {
                r = encrypt ? -EIO : -EBADMSG;
                goto fail;
        }
        if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEALED_TAG_LEN, tag) != 1)
                goto fail;
        return 0;
fail:
        ERR_clear_error();
        secret_wipe(out, n);
        return r;
}

/* K_pw = scrypt(password, pw.salt, N, r, p), 32 bytes, into a secret buffer. */
static int scrypt_key(const char *password, size_t password_len, const struct sealed_password_params *pw,
                      uint8_t **ret_key) {
        _cleanup_(EVP_KDF_freep) EVP_KDF *kdf = NULL;
        _cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = NULL;
        _cleanup_secret_ uint8_t *key = NULL;
        uint64_t n = pw->n, maxmem;
        uint32_t r = pw->r, p = pw->p;
        OSSL_PARAM params[7];

        if (!scrypt_params_valid(n, r, p))
                return -EINVAL;
        /* OpenSSL needs 128·r·(N+2) + 128·r·p bytes; no overflow within the limits. */
        maxmem = UINT64_C(128) * r * (n + 2 + p) + UINT64_C(65536);
        kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_SCRYPT, NULL);
        if (!kdf) {
                log_debug("scrypt not available from OpenSSL");
                ERR_clear_error();
                return -EIO;
        }
        ctx = EVP_KDF_CTX_new(kdf);
        key = secret_alloc(SEALED_KEY_LEN);
        if (!ctx || !key)
                return -ENOMEM;
        params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *) password, password_len);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) pw->salt, sizeof(pw->salt));
        params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
        params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
        params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
        params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
        params[6] = OSSL_PARAM_construct_end();
        if (EVP_KDF_derive(ctx, key, SEALED_KEY_LEN, params) <= 0) {
                log_debug("scrypt derivation failed (N=%" PRIu64 ", r=%" PRIu32 ", p=%" PRIu32 ")", n, r, p);
                ERR_clear_error();
                return -ENOMEM;
        }
        *ret_key = TAKE_PTR(key);
        return 0;
}

static int random_bytes(void *p, size_t n) {
        if (RAND_bytes(p, (int) n) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        return 0;
}

/* ---- parsing ---- */

struct member {
        const char *key;
        const char *name;       /* for messages: "salt", "password.salt" */
        bool optional;
        int (*parse)(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen);
        size_t offset;          /* fixed-size byte fields: where in dest, and how long */
        size_t size;
};

static bool json_has_nul(json_object *v, unsigned depth) {
        if (depth > JSON_DEPTH_MAX)
                return true;
        switch (json_object_get_type(v)) {
        case json_type_string:
                return strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v);
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        if (json_has_nul(json_object_array_get_idx(v, i), depth + 1))
                                return true;
                return false;
        case json_type_object: {
                json_object_object_foreach(v, key, val) {
                        (void) key;
                        if (json_has_nul(val, depth + 1))
                                return true;
                }
                return false;
        }
        default:
                return false;
        }
}

static int parse_format(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        struct sealed_object *o = dest;
        uint64_t f;

        if (!json_value_uint(v, UINT32_MAX, &f))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be an integer", m->name);
        if (f != SEALED_FORMAT && f != SEALED_FORMAT_V1)
                return sealed_error(errbuf, errlen, -EPROTONOSUPPORT,
                                    "sealed object format %" PRIu64 " is not supported by this version", f);
        o->format = (unsigned) f;
        return 0;
}

static int parse_purpose(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        struct sealed_object *o = dest;
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be a string", m->name);
        s = json_object_get_string(v);
        if (strlen(s) > PURPOSE_MAX || purpose_validate(s) < 0)
                return sealed_error(errbuf, errlen, -EBADMSG,
                                    "\"%s\" is not a valid purpose (luks2, cred/<id> or user/<uid>/<name>)",
                                    m->name);
        memcpy(o->purpose, s, strlen(s) + 1);
        return 0;
}

static int parse_binding(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        static const char *const keys[] = { "root_key", "fields", "vmpl", "guest_svn", "tcb_version" };
        struct sealed_object *o = dest;
        char err[256] = "";

        if (!json_object_is_type(v, json_type_object))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be an object", m->name);
        json_object_object_foreach(v, key, val) {
                bool known = false;

                (void) val;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        known = known || strcmp(keys[i], key) == 0;
                if (!known)
                        return sealed_error(errbuf, errlen, -EBADMSG, "binding: unknown key \"%.32s\"", key);
        }
        if (snp_binding_from_json(v, &o->binding, err, sizeof(err)) < 0 ||
            snp_binding_validate(&o->binding, err, sizeof(err)) < 0)
                return sealed_error(errbuf, errlen, -EBADMSG, "%s", err);
        return 0;
}

static int parse_identity(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        struct sealed_object *o = dest;
        int r;

        (void) m;
        /* "binding" precedes "identity" in the member table. */
        r = identity_check(v, o->binding.fields, errbuf, errlen);
        if (r < 0)
                return r;
        return identity_canonical(v, &o->identity);
}

static int parse_bytes(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        uint8_t *out = (uint8_t *) dest + m->offset;
        size_t len;

        assert(m->size > 0 && m->size <= 64);
        if (!json_object_is_type(v, json_type_string) ||
            (size_t) json_object_get_string_len(v) != base64_encoded_len(m->size) ||
            base64_decode(json_object_get_string(v), (size_t) json_object_get_string_len(v), out, m->size,
                          &len) < 0 ||
            len != m->size)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be base64 of %zu bytes", m->name,
                                    m->size);
        return 0;
}

static int parse_ciphertext(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        struct sealed_object *o = dest;
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t slen, len;

        if (!json_object_is_type(v, json_type_string))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be a base64 string", m->name);
        slen = (size_t) json_object_get_string_len(v);
        if (slen == 0)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" is empty", m->name);
        if (slen > base64_encoded_len(CIPHERTEXT_MAX))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" is longer than %u bytes", m->name,
                                    CIPHERTEXT_MAX);
        buf = malloc(base64_decoded_max(slen));
        if (!buf)
                return -ENOMEM;
        if (base64_decode(json_object_get_string(v), slen, buf, base64_decoded_max(slen), &len) < 0)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" is not valid base64", m->name);
        if (len == 0)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" is empty", m->name);
        if (len > CIPHERTEXT_MAX)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" is longer than %u bytes", m->name,
                                    CIPHERTEXT_MAX);
        free(o->ciphertext);
        o->ciphertext = TAKE_PTR(buf);
        o->ciphertext_len = len;
        return 0;
}

static int parse_kdf(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        (void) dest;
        if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), SEALED_KDF_NAME) != 0)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be \"%s\"", m->name, SEALED_KDF_NAME);
        return 0;
}

static int parse_scrypt_n(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        struct sealed_password_params *pw = dest;
        uint64_t x;

        if (!json_value_uint(v, SCRYPT_N_MAX, &x) || x < SCRYPT_N_MIN || (x & (x - 1)) != 0)
                return sealed_error(errbuf, errlen, -EBADMSG,
                                    "\"%s\" must be a power of two from %" PRIu64 " to %" PRIu64, m->name,
                                    SCRYPT_N_MIN, SCRYPT_N_MAX);
        pw->n = x;
        return 0;
}

static int parse_scrypt_rp(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        uint32_t *out = (uint32_t *) (void *) ((uint8_t *) dest + m->offset);
        uint64_t x;

        /* m->size is the maximum here. */
        if (!json_value_uint(v, m->size, &x) || x < 1)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be an integer from 1 to %zu", m->name,
                                    m->size);
        *out = (uint32_t) x;
        return 0;
}

static int parse_members(json_object *o, const struct member *table, size_t n, const char *what, void *dest,
                         char *errbuf, size_t errlen);

static const struct member password_members[] = {
        { "kdf",   "password.kdf",   false, parse_kdf,       0, 0 },
        { "salt",  "password.salt",  false, parse_bytes,
          offsetof(struct sealed_password_params, salt), SEALED_PW_SALT_LEN },
        { "n",     "password.n",     false, parse_scrypt_n,  0, 0 },
        { "r",     "password.r",     false, parse_scrypt_rp, offsetof(struct sealed_password_params, r), SCRYPT_R_MAX },
        { "p",     "password.p",     false, parse_scrypt_rp, offsetof(struct sealed_password_params, p), SCRYPT_P_MAX },
        { "nonce", "password.nonce", false, parse_bytes,
          offsetof(struct sealed_password_params, nonce), SEALED_NONCE_LEN },
        { "tag",   "password.tag",   false, parse_bytes,
          offsetof(struct sealed_password_params, tag), SEALED_TAG_LEN },
};

static int parse_password(json_object *v, const struct member *m, void *dest, char *errbuf, size_t errlen) {
        struct sealed_object *o = dest;
        int r;

        if (!json_object_is_type(v, json_type_object))
                return sealed_error(errbuf, errlen, -EBADMSG, "\"%s\" must be an object", m->name);
        r = parse_members(v, password_members, ELEMENTSOF(password_members), "password", &o->pw, errbuf, errlen);
        if (r < 0)
                return r;
        o->has_password = true;
        return 0;
}

/* In this order: identity is checked against the binding. */
static const struct member sealed_members[] = {
        { "format",     "format",     false, parse_format,     0, 0 },
        { "purpose",    "purpose",    false, parse_purpose,    0, 0 },
        { "binding",    "binding",    false, parse_binding,    0, 0 },
        { "identity",   "identity",   false, parse_identity,   0, 0 },
        { "salt",       "salt",       false, parse_bytes,      offsetof(struct sealed_object, salt), SEALED_SALT_LEN },
        { "nonce",      "nonce",      false, parse_bytes,
          offsetof(struct sealed_object, nonce), SEALED_NONCE_LEN },
        { "ciphertext", "ciphertext", false, parse_ciphertext, 0, 0 },
        { "tag",        "tag",        false, parse_bytes,      offsetof(struct sealed_object, tag), SEALED_TAG_LEN },
        { "password",   "password",   true,  parse_password,   0, 0 },
};

/* Refuse unknown keys (they would not be authenticated), then parse each member. */
static int parse_members(json_object *o, const struct member *table, size_t n, const char *what, void *dest,
                         char *errbuf, size_t errlen) {
        json_object_object_foreach(o, key, val) {
                bool known = false;

                (void) val;
                for (size_t i = 0; i < n; i++)
                        known = known || strcmp(table[i].key, key) == 0;
                if (!known)
                        return sealed_error(errbuf, errlen, -EBADMSG, "%s: unknown key \"%.32s\"", what, key);
        }
        for (size_t i = 0; i < n; i++) {
                json_object *v;
                int r;

                if (!json_object_object_get_ex(o, table[i].key, &v)) {
                        if (table[i].optional)
                                continue;
                        return sealed_error(errbuf, errlen, -EBADMSG, "missing \"%s\"", table[i].name);
                }
                r = table[i].parse(v, &table[i], dest, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The ciphertext's length depends on the password layer (parsed after it):
 * the data, 1..SEALED_DATA_MAX bytes, and with a password the escrowed K_pw. */
static int check_ciphertext_len(const struct sealed_object *o, char *errbuf, size_t errlen) {
        size_t extra = o->has_password ? SEALED_ESCROW_LEN : 0;

        if (o->ciphertext_len > SEALED_DATA_MAX + extra)
                return sealed_error(errbuf, errlen, -EBADMSG, "\"ciphertext\" is longer than %zu bytes",
                                    SEALED_DATA_MAX + extra);
        if (o->ciphertext_len <= extra)
                return sealed_error(errbuf, errlen, -EBADMSG,
                                    "\"ciphertext\" must be longer than %zu bytes with a password layer", extra);
        return 0;
}

static bool is_json_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int sealed_parse(const char *text, size_t len, struct sealed_object *ret, char *errbuf, size_t errlen) {
        _cleanup_(sealed_object_done) struct sealed_object o = { 0 };
        _cleanup_(json_object_putp) json_object *root = NULL;
        char err[160] = "";
        json_object *v;
        int r;

        if (!text || !ret)
                return -EINVAL;
        if (len > SEALED_TEXT_MAX)
                return sealed_error(errbuf, errlen, -EBADMSG, "larger than %u bytes", SEALED_TEXT_MAX);
        while (len > 0 && is_json_space(text[len - 1]))
                len--;
        r = json_parse_bounded(text, len, JSON_DEPTH_MAX, &root, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sealed_error(errbuf, errlen, -EBADMSG, "not valid JSON: %s", err);
        if (!json_object_is_type(root, json_type_object))
                return sealed_error(errbuf, errlen, -EBADMSG, "not a JSON object");
        /* The version first: another format may have other keys. */
        if (!json_object_object_get_ex(root, "format", &v))
                return sealed_error(errbuf, errlen, -EBADMSG, "missing \"format\"");
        r = parse_format(v, &sealed_members[0], &o, errbuf, errlen);
        if (r < 0)
                return r;
        if (json_has_nul(root, 0))
                return sealed_error(errbuf, errlen, -EBADMSG, "a string contains a NUL character");
        r = parse_members(root, sealed_members, ELEMENTSOF(sealed_members), "sealed object", &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = check_ciphertext_len(&o, errbuf, errlen);
        if (r < 0)
                return r;
        *ret = o;
        o = (struct sealed_object) { 0 };
        return 0;
}

/* ---- keys ---- */

int sealed_object_key(const uint8_t k_fw[32], const uint8_t salt[SEALED_SALT_LEN], const char *purpose,
                      unsigned format, uint8_t out[32]) {
        _cleanup_secret_ uint8_t *key = secret_alloc(SEALED_KEY_LEN);
        char info[sizeof(SEALED_INFO_V2_PREFIX) + PURPOSE_MAX];
        int r;

        if (!k_fw || !salt || !out || !purpose || purpose_validate(purpose) < 0)
                return -EINVAL;
        if (format == SEALED_FORMAT_V1)
                return kdf_purpose_key(k_fw, salt, purpose, NULL, 0, out);
        if (format != SEALED_FORMAT)
                return -EPROTONOSUPPORT;
        if (!key)
                return -ENOMEM;
        (void) snprintf(info, sizeof(info), SEALED_INFO_V2_PREFIX "%s", purpose);
        r = kdf_hkdf_sha256(salt, SEALED_SALT_LEN, k_fw, SEALED_KEY_LEN, info, strlen(info), key, SEALED_KEY_LEN);
        if (r < 0)
                return r;
        memcpy(out, key, SEALED_KEY_LEN);
        return 0;
}

/* ---- sealing ---- */

static json_object *json_base64(const void *p, size_t n) {
        _cleanup_(freep) char *s = NULL;
        size_t len = base64_encoded_len(n);
        json_object *j;

        if (len == SIZE_MAX)
                return NULL;
        s = malloc(len + 1);
        if (!s || base64_encode(p, n, s, len + 1) < 0)
                return NULL;
        j = json_object_new_string_len(s, (int) len);
        return j;
}

static json_object *password_to_json(const struct sealed_password_params *pw) {
        _cleanup_(json_object_putp) json_object *j = json_object_new_object();

        if (!j ||
            json_add(j, "kdf", json_object_new_string(SEALED_KDF_NAME)) < 0 ||
            json_add(j, "salt", json_base64(pw->salt, sizeof(pw->salt))) < 0 ||
            json_add(j, "n", json_object_new_int64((int64_t) pw->n)) < 0 ||
            json_add(j, "r", json_object_new_int64(pw->r)) < 0 ||
            json_add(j, "p", json_object_new_int64(pw->p)) < 0 ||
            json_add(j, "nonce", json_base64(pw->nonce, sizeof(pw->nonce))) < 0 ||
            json_add(j, "tag", json_base64(pw->tag, sizeof(pw->tag))) < 0)
                return NULL;
        return TAKE_PTR(j);
}

static int sealed_to_text(const struct sealed_object *o, char **ret_text) {
        _cleanup_(json_object_putp) json_object *j = json_object_new_object();
        const char *s;
        size_t len;
        char *text;

        if (!j ||
            json_add(j, "format", json_object_new_int64(o->format)) < 0 ||
            json_add(j, "purpose", json_object_new_string(o->purpose)) < 0 ||
            json_add(j, "binding", snp_binding_to_json(&o->binding)) < 0 ||
            json_add(j, "identity", json_object_get(o->identity)) < 0 ||
            json_add(j, "salt", json_base64(o->salt, sizeof(o->salt))) < 0 ||
            json_add(j, "nonce", json_base64(o->nonce, sizeof(o->nonce))) < 0 ||
            json_add(j, "ciphertext", json_base64(o->ciphertext, o->ciphertext_len)) < 0 ||
            json_add(j, "tag", json_base64(o->tag, sizeof(o->tag))) < 0 ||
            (o->has_password && json_add(j, "password", password_to_json(&o->pw)) < 0))
                return -ENOMEM;
        s = json_object_to_json_string_length(
                j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;
        if (len + 1 > SEALED_TEXT_MAX)
                return -E2BIG;
        text = malloc(len + 2);
        if (!text)
                return -ENOMEM;
        memcpy(text, s, len);
        memcpy(text + len, "\n", 2);
        *ret_text = text;
        return 0;
}

static int seal_check_args(const char *purpose, const struct snp_binding *binding, json_object *identity,
                           size_t size, const char *password, size_t password_len) {
        if (!purpose || strlen(purpose) > PURPOSE_MAX || purpose_validate(purpose) < 0)
                return -EINVAL;
        if (!binding || snp_binding_validate(binding, NULL, 0) < 0)
                return -EINVAL;
        if (identity_check(identity, binding->fields, NULL, 0) < 0)
                return -EINVAL;
        if (size == 0)
                return -EINVAL;
        if (size > SEALED_DATA_MAX)
                return -E2BIG;
        if (password && password_len == 0)
                return -EINVAL;
        if (password && password_len > SEALED_PASSWORD_MAX)
                return -E2BIG;
        return 0;
}

/* The password layer: VM plaintext = AES-256-GCM(K_pw, pw.nonce, AD_inner, data) || K_pw,
 * into out (size + SEALED_ESCROW_LEN bytes). */
static int seal_inner(struct sealed_object *o, const struct ad_buf *h, const char *password,
                      size_t password_len, const void *data, size_t size, uint8_t *out) {
        _cleanup_secret_ uint8_t *k_pw = NULL;
        struct ad_buf ad;
        int r;

        r = ad_build_inner(h, &ad);
        if (r < 0)
                return r;
        r = scrypt_key(password, password_len, &o->pw, &k_pw);
        if (r < 0)
                return r;
        r = aead(true, k_pw, o->pw.nonce, &ad, data, size, out, o->pw.tag);
        if (r < 0)
                return r;
        memcpy(out + size, k_pw, SEALED_ESCROW_LEN);
        return 0;
}

static int seal_layers(struct sealed_object *o, const uint8_t k_use[SEALED_KEY_LEN], const void *data,
                       size_t size, const char *password, size_t password_len) {
        _cleanup_secret_ uint8_t *plain = NULL;
        struct ad_buf h, ad;
        size_t n = size;
        int r;

        r = ad_build_header(o, &h);
        if (r < 0)
                return r;
        if (o->has_password) {
                n = size + SEALED_ESCROW_LEN;
                plain = secret_alloc(n);
                if (!plain)
                        return -ENOMEM;
                r = seal_inner(o, &h, password, password_len, data, size, plain);
                if (r < 0)
                        return r;
                data = plain;
        }
        r = ad_build_outer(o, &h, &ad);
        if (r < 0)
                return r;
        o->ciphertext = malloc(n);
        if (!o->ciphertext)
                return -ENOMEM;
        o->ciphertext_len = n;
        return aead(true, k_use, o->nonce, &ad, data, n, o->ciphertext, o->tag);
}

int sealed_seal(const char *purpose, const struct snp_binding *binding, json_object *identity,
                const uint8_t salt[SEALED_SALT_LEN], const uint8_t k_use[32],
                const void *data, size_t size, const char *password, size_t password_len,
                char **ret_text) {
        _cleanup_(sealed_object_done) struct sealed_object o = { .format = write_format };
        int r;

        if (!salt || !k_use || !data || !ret_text)
                return -EINVAL;
        r = seal_check_args(purpose, binding, identity, size, password, password_len);
        if (r < 0)
                return r;
        memcpy(o.purpose, purpose, strlen(purpose) + 1);
        o.binding = *binding;
        r = identity_canonical(identity, &o.identity);
        if (r < 0)
                return r;
        memcpy(o.salt, salt, SEALED_SALT_LEN);
        r = random_bytes(o.nonce, sizeof(o.nonce));
        if (r < 0)
                return r;
        if (password) {
                o.has_password = true;
                o.pw.n = scrypt_cost.n;
                o.pw.r = scrypt_cost.r;
                o.pw.p = scrypt_cost.p;
                if (random_bytes(o.pw.salt, sizeof(o.pw.salt)) < 0 || random_bytes(o.pw.nonce, sizeof(o.pw.nonce)) < 0)
                        return -EIO;
        }
        r = seal_layers(&o, k_use, data, size, password, password_len);
        if (r < 0)
                return r;
        return sealed_to_text(&o, ret_text);
}

/* ---- unsealing ---- */

/* The VM layer's plaintext (o->ciphertext_len bytes), a secret buffer; *ret_h
 * is the header H for the inner layer. -EBADMSG when it does not verify. */
static int open_outer(const struct sealed_object *o, const uint8_t k_use[SEALED_KEY_LEN], struct ad_buf *ret_h,
                      uint8_t **ret_plain) {
        _cleanup_secret_ uint8_t *plain = NULL;
        uint8_t tag[SEALED_TAG_LEN];
        struct ad_buf ad;
        int r;

        if ((o->format != SEALED_FORMAT && o->format != SEALED_FORMAT_V1) || !o->ciphertext ||
            o->ciphertext_len <= (o->has_password ? SEALED_ESCROW_LEN : 0) ||
            o->ciphertext_len > SEALED_DATA_MAX + (o->has_password ? SEALED_ESCROW_LEN : 0))
                return -EBADMSG;
        r = ad_build_header(o, ret_h);
        if (r < 0)
                return r;
        r = ad_build_outer(o, ret_h, &ad);
        if (r < 0)
                return r;
        plain = secret_alloc(o->ciphertext_len);
        if (!plain)
                return -ENOMEM;
        memcpy(tag, o->tag, sizeof(tag));
        r = aead(false, k_use, o->nonce, &ad, o->ciphertext, o->ciphertext_len, plain, tag);
        if (r < 0)
                return r;
        *ret_plain = TAKE_PTR(plain);
        return 0;
}

/* Decrypt the password layer (the first size bytes of the VM plaintext) with
 * k_pw; -EBADMSG when it does not verify. */
static int open_inner(const struct sealed_object *o, const struct ad_buf *h, const uint8_t *inner, size_t size,
                      const uint8_t k_pw[SEALED_KEY_LEN], uint8_t **ret_data) {
        _cleanup_secret_ uint8_t *plain = NULL;
        uint8_t tag[SEALED_TAG_LEN];
        struct ad_buf ad;
        int r;

        r = ad_build_inner(h, &ad);
        if (r < 0)
                return r;
        plain = secret_alloc(size);
        if (!plain)
                return -ENOMEM;
        memcpy(tag, o->pw.tag, sizeof(tag));
        r = aead(false, k_pw, o->pw.nonce, &ad, inner, size, plain, tag);
        if (r < 0)
                return r;
        *ret_data = TAKE_PTR(plain);
        return 0;
}

/* The password layer under scrypt(password): -ENOKEY without a password,
 * -EKEYREJECTED for a wrong one. */
static int open_inner_password(const struct sealed_object *o, const struct ad_buf *h, const uint8_t *inner,
                               size_t size, const char *password, size_t password_len, uint8_t **ret_data) {
        _cleanup_secret_ uint8_t *k_pw = NULL;
        int r;

        if (!password)
                return -ENOKEY;
        /* Sealing refuses these, so they cannot be the right password. */
        if (password_len == 0 || password_len > SEALED_PASSWORD_MAX)
                return -EKEYREJECTED;
        r = scrypt_key(password, password_len, &o->pw, &k_pw);
        if (r < 0)
                return r;
        r = open_inner(o, h, inner, size, k_pw, ret_data);
        return r == -EBADMSG ? -EKEYREJECTED : r;
}

/* Both layers. escrow: open the password layer with the escrowed K_pw
 * (rewrap by root) instead of the password. */
static int open_layers(const struct sealed_object *o, const uint8_t k_use[SEALED_KEY_LEN], bool escrow,
                       const char *password, size_t password_len, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_secret_ uint8_t *outer = NULL, *plain = NULL;
        struct ad_buf h;
        size_t size;
        int r;

        r = open_outer(o, k_use, &h, &outer);
        if (r < 0)
                return r;
        if (!o->has_password) {
                *ret_data = TAKE_PTR(outer);
                *ret_size = o->ciphertext_len;
                return 0;
        }
        size = o->ciphertext_len - SEALED_ESCROW_LEN;
        if (escrow) {
                r = open_inner(o, &h, outer, size, outer + size, &plain);
                /* The VM layer verified, so the escrow is what the agent sealed. */
                if (r == -EBADMSG)
                        log_debug("sealed object: the escrowed password key does not open the password layer");
        } else
                r = open_inner_password(o, &h, outer, size, password, password_len, &plain);
        if (r < 0)
                return r;
        *ret_data = TAKE_PTR(plain);
        *ret_size = size;
        return 0;
}

int sealed_unseal(const struct sealed_object *o, const uint8_t k_use[32],
                  const char *password, size_t password_len, void **ret_data, size_t *ret_size) {
        uint8_t *data = NULL;
        size_t size = 0;
        int r;

        if (!o || !k_use || !ret_data || !ret_size)
                return -EINVAL;
        r = open_layers(o, k_use, false, password, password_len, &data, &size);
        if (r < 0)
                return r;
        *ret_data = data;
        *ret_size = size;
        return 0;
}

/* ---- rewrapping ---- */

int sealed_rewrap(const struct sealed_object *o, const uint8_t k_use[32], const uint8_t *k_new,
                  const char *old_password, size_t old_len, const char *new_password, size_t new_len,
                  char **ret_text) {
        _cleanup_secret_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        if (!o || !k_use || !ret_text)
                return -EINVAL;
        if (!k_new && o->format != write_format)
                return -EPROTONOSUPPORT;
        if (new_password && new_len == 0)
                return -EINVAL;
        if (new_password && new_len > SEALED_PASSWORD_MAX)
                return -E2BIG;
        r = open_layers(o, k_use, !old_password, old_password, old_len, &data, &size);
        if (r < 0)
                return r;
        return sealed_seal(o->purpose, &o->binding, o->identity, o->salt, k_new ?: k_use, data, size,
                           new_password, new_len, ret_text);
}

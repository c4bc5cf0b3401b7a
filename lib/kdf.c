/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "kdf.h"
#include "log.h"
#include "macro.h"
#include "purpose.h"
#include "secret.h"

/* RFC 5869: L <= 255 * HashLen. */
#define HKDF_SHA256_OUT_MAX (255u * 32u)

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);

#define SHA256_LEN 32u
#define SHA256_BLOCK 64u

/* SHA-256 fetched once per process. HMAC (RFC 2104) is built on it here:
 * OpenSSL 3's EVP_MAC, and its HKDF, cost two to three times the four
 * SHA-256 compressions an HMAC of a short message needs, in parameter
 * handling and provider dispatch (a DeriveKey runs two HKDFs, four HMACs).
 * test-kdf checks HKDF against RFC 5869's vectors, whose salts (the
 * extract step's HMAC keys) are shorter than a block, longer, and empty. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void sha256_setup(void) {
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        ERR_clear_error();
}

/* out = HMAC-SHA256(key, a || b || c). */
static int hmac3(const void *key, size_t key_len, const void *a, size_t a_len, const void *b, size_t b_len,
                 const void *c, size_t c_len, uint8_t out[SHA256_LEN]) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t k[SHA256_BLOCK] = {}, pad[SHA256_BLOCK], inner[SHA256_LEN];
        int ok;

        if (!md)
                return -ENOMEM;
        /* A key longer than a block is hashed first (RFC 2104, section 2). */
        if (key_len > SHA256_BLOCK)
                ok = EVP_DigestInit_ex2(md, sha256, NULL) == 1 && EVP_DigestUpdate(md, key, key_len) == 1 &&
                        EVP_DigestFinal_ex(md, k, NULL) == 1;
        else {
                if (key_len > 0)
                        memcpy(k, key, key_len);
                ok = 1;
        }
        for (size_t i = 0; i < SHA256_BLOCK; i++)
                pad[i] = k[i] ^ 0x36;
        ok = ok && EVP_DigestInit_ex2(md, sha256, NULL) == 1 && EVP_DigestUpdate(md, pad, sizeof(pad)) == 1 &&
                (a_len == 0 || EVP_DigestUpdate(md, a, a_len) == 1) &&
                (b_len == 0 || EVP_DigestUpdate(md, b, b_len) == 1) &&
                (c_len == 0 || EVP_DigestUpdate(md, c, c_len) == 1) && EVP_DigestFinal_ex(md, inner, NULL) == 1;
        for (size_t i = 0; i < SHA256_BLOCK; i++)
                pad[i] = k[i] ^ 0x5c;
        ok = ok && EVP_DigestInit_ex2(md, sha256, NULL) == 1 && EVP_DigestUpdate(md, pad, sizeof(pad)) == 1 &&
                EVP_DigestUpdate(md, inner, sizeof(inner)) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;
        secret_wipe(k, sizeof(k));
        secret_wipe(pad, sizeof(pad));
        secret_wipe(inner, sizeof(inner));
        if (!ok) {
                ERR_clear_error();
                secret_wipe(out, SHA256_LEN);
                return -EIO;
        }
        return 0;
}

/* RFC 5869 with SHA-256. */
int kdf_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                    const void *info, size_t info_len, void *out, size_t out_len) {
        static const uint8_t zeros[SHA256_LEN];
        uint8_t prk[SHA256_LEN], t[SHA256_LEN];
        size_t done = 0, t_len = 0;
        int r = 0;

        if (!ikm || ikm_len == 0 || !out || out_len == 0 || out_len > HKDF_SHA256_OUT_MAX ||
            (salt_len > 0 && !salt) || (info_len > 0 && !info))
                return -EINVAL;
        if (pthread_once(&sha256_once, sha256_setup) != 0 || !sha256) {
                log_debug("SHA-256 not available from OpenSSL");
                return -EIO;
        }

        /* Extract. An absent salt is HashLen zeros, the same HMAC key as an
         * empty one. */
        r = hmac3(salt_len > 0 ? salt : zeros, salt_len > 0 ? salt_len : sizeof(zeros), ikm, ikm_len, NULL, 0,
                  NULL, 0, prk);
        /* Expand: T(i) = HMAC(PRK, T(i-1) || info || i). */
        for (uint8_t i = 1; r >= 0 && done < out_len; i++) {
                size_t k = out_len - done < SHA256_LEN ? out_len - done : SHA256_LEN;

                r = hmac3(prk, sizeof(prk), t, t_len, info, info_len, &i, 1, t);
                if (r >= 0) {
                        memcpy((uint8_t *) out + done, t, k);
                        done += k;
                        t_len = SHA256_LEN;
                }
        }
        secret_wipe(prk, sizeof(prk));
        secret_wipe(t, sizeof(t));
        if (r < 0) {
                log_debug("HKDF-SHA256 derivation failed");
                secret_wipe(out, out_len);
        }
        return r;
}

int kdf_purpose_key(const uint8_t k_fw[KDF_KEY_LEN], const uint8_t salt[KDF_SALT_LEN], const char *purpose,
                    const void *pin, size_t pin_len, uint8_t out[KDF_KEY_LEN]) {
        _cleanup_secret_ uint8_t *ikm = NULL, *key = NULL;
        char info[sizeof(KDF_INFO_PREFIX) + PURPOSE_MAX + sizeof(KDF_INFO_PIN_SUFFIX)];
        size_t ikm_len = KDF_KEY_LEN;
        int r, n;

        if (!k_fw || !salt || !out)
                return -EINVAL;
        r = purpose_validate(purpose);
        if (r < 0)
                return r;
        if (pin) {
                if (pin_len == 0)
                        return -EINVAL;
                if (pin_len > KDF_PIN_MAX)
                        return -E2BIG;
                ikm_len += pin_len;
        } else if (pin_len != 0)
                return -EINVAL;

        n = snprintf(info, sizeof(info), "%s%s%s", KDF_INFO_PREFIX, purpose, pin ? KDF_INFO_PIN_SUFFIX : "");
        if (n < 0 || (size_t) n >= sizeof(info))
                return -EINVAL;

        ikm = secret_alloc(ikm_len);
        key = secret_alloc(KDF_KEY_LEN);
        if (!ikm || !key)
                return -ENOMEM;
        memcpy(ikm, k_fw, KDF_KEY_LEN);
        if (pin)
                memcpy(ikm + KDF_KEY_LEN, pin, pin_len);

        r = kdf_hkdf_sha256(salt, KDF_SALT_LEN, ikm, ikm_len, info, (size_t) n, key, KDF_KEY_LEN);
        if (r < 0)
                return r;
        memcpy(out, key, KDF_KEY_LEN);
        return 0;
}

int kdf_header_mac_key(const uint8_t k_fw[KDF_KEY_LEN], const uint8_t salt[KDF_SALT_LEN], uint8_t out[KDF_KEY_LEN]) {
        _cleanup_secret_ uint8_t *key = secret_alloc(KDF_KEY_LEN);
        int r;

        if (!k_fw || !salt || !out)
                return -EINVAL;
        if (!key)
                return -ENOMEM;
        r = kdf_hkdf_sha256(salt, KDF_SALT_LEN, k_fw, KDF_KEY_LEN, KDF_INFO_HEADER_MAC,
                            sizeof(KDF_INFO_HEADER_MAC) - 1, key, KDF_KEY_LEN);
        if (r < 0)
                return r;
        memcpy(out, key, KDF_KEY_LEN);
        return 0;
}

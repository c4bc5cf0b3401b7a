/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "kdf.h"
#include "log.h"
#include "macro.h"
#include "purpose.h"
#include "secret.h"

/* RFC 5869: L <= 255 * HashLen. */
#define HKDF_SHA256_OUT_MAX (255u * 32u)

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF *, EVP_KDF_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF_CTX *, EVP_KDF_CTX_free);

int kdf_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                    const void *info, size_t info_len, void *out, size_t out_len) {
        _cleanup_(EVP_KDF_freep) EVP_KDF *kdf = NULL;
        _cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = NULL;
        OSSL_PARAM params[5], *p = params;

        if (!ikm || ikm_len == 0 || !out || out_len == 0 || out_len > HKDF_SHA256_OUT_MAX ||
            (salt_len > 0 && !salt) || (info_len > 0 && !info))
                return -EINVAL;

        kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
        if (!kdf) {
                log_debug("HKDF not available from OpenSSL");
                ERR_clear_error();
                return -EIO;
        }
        ctx = EVP_KDF_CTX_new(kdf);
        if (!ctx)
                return -ENOMEM;

        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) ikm, ikm_len);
        /* An absent salt is HashLen zeros, the same HMAC key as an empty one. */
        if (salt_len > 0)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, salt_len);
        if (info_len > 0)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, info_len);
        *p = OSSL_PARAM_construct_end();

        if (EVP_KDF_derive(ctx, out, out_len, params) <= 0) {
                log_debug("HKDF-SHA256 derivation failed");
                ERR_clear_error();
                secret_wipe(out, out_len);
                return -EIO;
        }
        return 0;
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "luks2-mac.h"
#include "macro.h"

/* HMAC, fetched once per process from a library context of its own (the
 * plugin runs inside cryptsetup and systemd-cryptsetup, whose OpenSSL
 * configuration and state are not ours). A context's first fetch loads its
 * provider, which costs many times the HMACs of an unlock; so it is made on
 * first use and kept. Never freed: at exit OpenSSL's own cleanup may already
 * have run, and the plugin is not unloaded before. */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *hmac_libctx;
static EVP_MAC *hmac_mac;

static void hmac_init(void) {
        hmac_libctx = OSSL_LIB_CTX_new();
        hmac_mac = hmac_libctx ? EVP_MAC_fetch(hmac_libctx, "HMAC", NULL) : NULL;
        ERR_clear_error();
}

/* HMAC-SHA256 over a || b. */
static int hmac_sha256(const uint8_t key[LUKS2_MAC_KEY_LEN], const void *a, size_t a_len, const void *b,
                       size_t b_len, uint8_t out[LUKS2_MAC_LEN]) {
        EVP_MAC_CTX *ctx;
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                OSSL_PARAM_construct_end(),
        };
        uint8_t tag[LUKS2_MAC_LEN];
        size_t n = 0;
        int r = -EIO;

        if (pthread_once(&hmac_once, hmac_init) != 0 || !hmac_mac)
                return -ENOMEM;
        ctx = EVP_MAC_CTX_new(hmac_mac);
        if (ctx && EVP_MAC_init(ctx, key, LUKS2_MAC_KEY_LEN, params) == 1 && EVP_MAC_update(ctx, a, a_len) == 1 &&
            EVP_MAC_update(ctx, b, b_len) == 1 && EVP_MAC_final(ctx, tag, &n, sizeof(tag)) == 1 && n == sizeof(tag)) {
                memcpy(out, tag, sizeof(tag));
                r = 0;
        }
        OPENSSL_cleanse(tag, sizeof(tag));
        EVP_MAC_CTX_free(ctx);
        if (r < 0)
                ERR_clear_error();
        return r;
}

int luks2_mac_header(const uint8_t key[LUKS2_MAC_KEY_LEN], const struct luks2_meta *m, uint8_t out[LUKS2_MAC_LEN]) {
        _cleanup_(freep) uint8_t *enc = NULL;
        size_t len;
        int r;

        r = luks2_meta_encode(m, &enc, &len);
        if (r < 0)
                return r;
        return hmac_sha256(key, enc, len, "", 0, out);
}

int luks2_mac_volume_key(const uint8_t key[LUKS2_MAC_KEY_LEN], const void *vk, size_t vk_len,
                         uint8_t out[LUKS2_MAC_LEN]) {
        return hmac_sha256(key, LUKS2_MAC_VK_TAG, sizeof(LUKS2_MAC_VK_TAG), vk, vk_len, out);
}

bool luks2_mac_equal(const uint8_t a[LUKS2_MAC_LEN], const uint8_t b[LUKS2_MAC_LEN]) {
        return CRYPTO_memcmp(a, b, LUKS2_MAC_LEN) == 0;
}

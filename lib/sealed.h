/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sealed objects: one JSON format for credentials and user secrets (format
 * described in docs/SEALED-FORMAT.md).
 *
 *   { "format": 1, "purpose": "cred/db", "binding": {…}, "identity": {…},
 *     "salt": b64(32), "nonce": b64(12), "ciphertext": b64, "tag": b64(16),
 *     ["password": { "kdf": "scrypt", "salt": b64(16), "n": 32768, "r": 8,
 *                    "p": 1, "nonce": b64(12), "tag": b64(16) }] }
 *
 * Outer layer (VM): AES-256-GCM under K_use = HKDF(salt, K_fw,
 * "snpseal/v1/" purpose); the associated data is a canonical encoding of
 * every other field (format, purpose, binding, identity, salt, password
 * parameters), rebuilt from the parsed struct, so changing any field makes
 * authentication fail. Unknown keys are refused (they would be
 * unauthenticated).
 * Inner layer (optional password): AES-256-GCM under K_pw = scrypt(password),
 * so "VM differs" (outer fails, or the identity differs) and "wrong password"
 * (inner fails) are different errors. For password objects the VM layer's
 * plaintext is inner_ciphertext || K_pw: the password key is escrowed in the
 * VM layer, so the agent (root in the VM) can rewrap an object whose password
 * was lost (sealed_rewrap with old_password NULL); sealed_unseal never uses
 * the escrowed key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "binding.h"
#include "purpose.h"

#define SEALED_FORMAT 1
#define SEALED_SALT_LEN 32
#define SEALED_NONCE_LEN 12
#define SEALED_TAG_LEN 16
#define SEALED_PW_SALT_LEN 16
#define SEALED_DATA_MAX (32u * 1024u)     /* plaintext cap: fits a varlink message in base64 */
#define SEALED_PASSWORD_MAX 1024u
#define SEALED_TEXT_MAX (60u * 1024u)     /* a sealed object's JSON text */
#define SEALED_ESCROW_LEN 32u             /* K_pw after the inner ciphertext in the VM layer */

struct sealed_password_params {
        uint8_t salt[SEALED_PW_SALT_LEN];
        uint64_t n;          /* scrypt N, a power of two, 2^10 … 2^20 */
        uint32_t r, p;       /* r 1…32, p 1…16 */
        uint8_t nonce[SEALED_NONCE_LEN];
        uint8_t tag[SEALED_TAG_LEN];
};

struct sealed_object {
        unsigned format;
        char purpose[PURPOSE_MAX + 1];
        struct snp_binding binding;
        json_object *identity;            /* recorded identity (owned) */
        uint8_t salt[SEALED_SALT_LEN];
        uint8_t nonce[SEALED_NONCE_LEN];
        uint8_t *ciphertext;              /* malloc()ed (ciphertext is not secret) */
        size_t ciphertext_len;            /* the data's length (+ SEALED_ESCROW_LEN with a password) */
        uint8_t tag[SEALED_TAG_LEN];
        bool has_password;
        struct sealed_password_params pw;
};

/* Parse and validate a sealed object's JSON text (at most SEALED_TEXT_MAX).
 * -EBADMSG with a message naming the field for anything malformed,
 * -EPROTONOSUPPORT for an unknown format version. */
int sealed_parse(const char *text, size_t len, struct sealed_object *ret, char *errbuf, size_t errlen);
void sealed_object_done(struct sealed_object *o);

/* Seal data (at most SEALED_DATA_MAX) under k_use, which the caller derived
 * with kdf_purpose_key(K_fw, salt, purpose). password NULL = VM layer only.
 * nonces and the password salt are random. *ret_text is malloc()ed JSON. */
int sealed_seal(const char *purpose, const struct snp_binding *binding, json_object *identity,
                const uint8_t salt[SEALED_SALT_LEN], const uint8_t k_use[32],
                const void *data, size_t size, const char *password, size_t password_len,
                char **ret_text);

/* Open a parsed object under k_use. Returns 0 with *ret_data (secret_alloc()ed)
 * and *ret_size; -EBADMSG when the VM layer fails to authenticate (tampered,
 * or another chip/VM); -ENOKEY when a password is needed and none given;
 * -EKEYREJECTED for a wrong password. */
int sealed_unseal(const struct sealed_object *o, const uint8_t k_use[32],
                  const char *password, size_t password_len, void **ret_data, size_t *ret_size);

/* Re-seal an object under the same purpose, binding, identity and salt (so
 * the same k_use) with fresh nonces and a fresh scrypt salt (current cost),
 * holding the same data. old_password NULL = from the VM layer: the escrowed
 * K_pw opens the password layer (for root, when the password is lost);
 * otherwise it must be the right password (-EKEYREJECTED). For an object
 * without a password layer, old_password is not used. new_password NULL =
 * the result has no password layer. -EBADMSG when the VM layer fails;
 * -EINVAL/-E2BIG for an empty or too long new password. *ret_text is
 * malloc()ed JSON. */
int sealed_rewrap(const struct sealed_object *o, const uint8_t k_use[32],
                  const char *old_password, size_t old_len, const char *new_password, size_t new_len,
                  char **ret_text);

/* The default scrypt cost (N=2^15, r=8, p=1: about 32 MiB). Tests may lower
 * it through this setter (never below the parser's minimum). */
void sealed_set_scrypt_cost(uint64_t n, uint32_t r, uint32_t p);

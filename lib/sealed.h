/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sealed objects: one JSON format for credentials and user secrets (format
 * described in docs/SEALED-FORMAT.md).
 *
 *   { "format": 2, "purpose": "cred/db", "binding": {…}, "identity": {…},
 *     "salt": b64(32), "nonce": b64(12), "ciphertext": b64, "tag": b64(16),
 *     ["password": { "kdf": "scrypt", "salt": b64(16), "n": 32768, "r": 8,
 *                    "p": 1, "nonce": b64(12), "tag": b64(16) }] }
 *
 * Outer layer (VM): AES-256-GCM under K_obj (sealed_object_key): for format
 * 2 HKDF(salt, K_fw, "snpseal/sealed-object/v2/" purpose), a key no
 * DeriveKey call can return (DeriveKey's infos start "snpseal/v1/"); format
 * 1 used DeriveKey's own K_use = HKDF(salt, K_fw, "snpseal/v1/" purpose), so
 * whoever may derive keys for the purpose could forge format 1 objects: they
 * are read (the agent only from stores users cannot write to) and never
 * written. The associated data is a canonical encoding of
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

#define SEALED_FORMAT 2                   /* written */
#define SEALED_FORMAT_V1 1                /* read only: key shared with DeriveKey */
#define SEALED_INFO_V2_PREFIX "snpseal/sealed-object/v2/"
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
        uint64_t n;          /* scrypt N, a power of two, 2^10 … 2^15 */
        uint32_t r, p;       /* r 1…8, p 1: at most what the agent writes (32 MiB) */
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
 * -EBADMSG with a message naming the field for anything malformed (a
 * password KDF cost above the agent's own, N=2^15 r=8 p=1, included: no
 * object makes the agent spend more), -EPROTONOSUPPORT for an unknown format
 * version. Formats 1 and 2 are accepted; o->format says which. */
int sealed_parse(const char *text, size_t len, struct sealed_object *ret, char *errbuf, size_t errlen);
void sealed_object_done(struct sealed_object *o);

/* K_obj of a sealed object of format (SEALED_FORMAT or SEALED_FORMAT_V1)
 * for purpose from the firmware key and the object's salt. -EINVAL for a bad
 * purpose, -EPROTONOSUPPORT for another format. out is written on success. */
int sealed_object_key(const uint8_t k_fw[32], const uint8_t salt[SEALED_SALT_LEN], const char *purpose,
                      unsigned format, uint8_t out[32]);

/* Seal data (at most SEALED_DATA_MAX) in format SEALED_FORMAT under k_use,
 * which the caller derived with sealed_object_key(K_fw, salt, purpose,
 * SEALED_FORMAT). password NULL = VM layer only.
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

/* Re-seal an object under the same purpose, binding, identity and salt, in
 * format SEALED_FORMAT under k_new (sealed_object_key of that format; NULL =
 * k_use, only for an object of that format already: else -EPROTONOSUPPORT),
 * with fresh nonces and a fresh scrypt salt (current cost), holding the same
 * data; k_use opens o. old_password NULL = from the VM layer: the escrowed
 * K_pw opens the password layer (for root, when the password is lost);
 * otherwise it must be the right password (-EKEYREJECTED). For an object
 * without a password layer, old_password is not used. new_password NULL =
 * the result has no password layer. -EBADMSG when the VM layer fails;
 * -EINVAL/-E2BIG for an empty or too long new password. *ret_text is
 * malloc()ed JSON. */
int sealed_rewrap(const struct sealed_object *o, const uint8_t k_use[32], const uint8_t *k_new,
                  const char *old_password, size_t old_len, const char *new_password, size_t new_len,
                  char **ret_text);

/* The format sealed_seal() writes: SEALED_FORMAT. Tests of the migration
 * set SEALED_FORMAT_V1 (the caller must derive its key for that format). */
unsigned sealed_write_format(void);
void sealed_set_write_format(unsigned format);

/* The default scrypt cost (N=2^15, r=8, p=1: about 32 MiB). Tests may lower
 * it through this setter (never below the parser's minimum). */
void sealed_set_scrypt_cost(uint64_t n, uint32_t r, uint32_t p);

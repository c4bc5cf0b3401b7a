/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Key derivation (docs/PROTOCOL.md, "DeriveKey"), HKDF-SHA256 through OpenSSL 3:
 *   K_use = HKDF-SHA256(salt = per-object 32 bytes, ikm = K_fw [|| pin],
 *                       info = "snpseal/v1/" || purpose [|| "/pin"])
 *   K_mac = HKDF-SHA256(salt = the token's salt, ikm = K_fw,
 *                       info = "snpseal/luks2-header-mac/v1")
 * K_mac authenticates a LUKS2 header and volume key (luks2-meta.h); the
 * agent hands it out with the luks2 key, to root only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define KDF_KEY_LEN 32
#define KDF_SALT_LEN 32
#define KDF_PIN_MAX 1024
#define KDF_INFO_PREFIX "snpseal/v1/"
#define KDF_INFO_PIN_SUFFIX "/pin"
/* The LUKS2 header MAC key: outside "snpseal/v1/", so that no purpose a
 * client names can reach it. */
#define KDF_INFO_HEADER_MAC "snpseal/luks2-header-mac/v1"

/* RFC 5869 HKDF with SHA-256. salt and info may be empty; out_len 1..8160.
 * Returns 0, -EINVAL, -ENOMEM or -EIO (OpenSSL failure; out is wiped). */
int kdf_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                    const void *info, size_t info_len, void *out, size_t out_len);

/* K_use for a purpose (validated first: -EINVAL). pin NULL: no PIN; otherwise
 * pin_len 1..KDF_PIN_MAX (0: -EINVAL, more: -E2BIG). out is written only on
 * success. */
int kdf_purpose_key(const uint8_t k_fw[KDF_KEY_LEN], const uint8_t salt[KDF_SALT_LEN], const char *purpose,
                    const void *pin, size_t pin_len, uint8_t out[KDF_KEY_LEN]);

/* K_mac for a LUKS2 token (no PIN: the header is checked before the PIN
 * matters). out is written only on success. */
int kdf_header_mac_key(const uint8_t k_fw[KDF_KEY_LEN], const uint8_t salt[KDF_SALT_LEN], uint8_t out[KDF_KEY_LEN]);

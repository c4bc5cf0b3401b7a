/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The MACs a snpseal token carries (docs/TOKEN-FORMAT.md, "Header
 * authentication"), HMAC-SHA256 under K_mac (kdf.h):
 *   header MAC     = HMAC(K_mac, luks2_meta_encode(items))
 *   volume key MAC = HMAC(K_mac, "snpseal-luks2-volume-key/v1" NUL || volume key)
 * OpenSSL through a private library context: the token plugin runs inside
 * cryptsetup and systemd-cryptsetup, whose OpenSSL state is theirs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "luks2-meta.h"

#define LUKS2_MAC_LEN 32
#define LUKS2_MAC_KEY_LEN 32
#define LUKS2_MAC_VK_TAG "snpseal-luks2-volume-key/v1"

/* 0, -ENOMEM, or -EIO when OpenSSL fails. out is written only on success. */
int luks2_mac_header(const uint8_t key[LUKS2_MAC_KEY_LEN], const struct luks2_meta *m, uint8_t out[LUKS2_MAC_LEN]);
int luks2_mac_volume_key(const uint8_t key[LUKS2_MAC_KEY_LEN], const void *vk, size_t vk_len,
                         uint8_t out[LUKS2_MAC_LEN]);
/* Constant time. */
bool luks2_mac_equal(const uint8_t a[LUKS2_MAC_LEN], const uint8_t b[LUKS2_MAC_LEN]);

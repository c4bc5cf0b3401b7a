/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The LUKS2 metadata that decides how a volume's data is encrypted, as a
 * snpseal token authenticates it (docs/TOKEN-FORMAT.md, "Header
 * authentication"). The host writes every byte of the disk, header included
 * (docs/BOOT.md, "Threat model"), so the token carries a MAC over:
 *
 *   segment.<id>.type, .offset, .size, .encryption, .sector_size, .iv_tweak,
 *       .integrity.type, .integrity.journal_encryption,
 *       .integrity.journal_integrity          (every segment)
 *   keyslot.<id>.type, .key_size, .area.type, .area.encryption,
 *       .area.key_size                        (the token's keyslot)
 *   digest.<id>.type, .hash, .iterations, .salt, .digest, .segments
 *                                             (the digest over that keyslot)
 *
 * Each item is a name and a value (strings as written, integers in
 * decimal, the digest's segment list joined by ','); items that the header
 * does not have are absent. The canonical encoding is the items sorted by
 * name (bytewise), each as u32be(len(name)) name u32be(len(value)) value,
 * after the tag "snpseal-luks2-header/v1". Other keyslots, tokens, the
 * label and the keyslot area layout are not covered: they change legitimately.
 *
 * The same items are kept readable in the token ("snpseal_header") so that a
 * refusal says what changed. json-c only, no OpenSSL; untrusted input.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define LUKS2_META_ITEMS_MAX 64
#define LUKS2_META_NAME_MAX 64          /* bytes, without NUL */
#define LUKS2_META_VALUE_MAX 256        /* bytes, without NUL */
#define LUKS2_META_TAG "snpseal-luks2-header/v1"

struct luks2_meta_item {
        char name[LUKS2_META_NAME_MAX + 1];
        char value[LUKS2_META_VALUE_MAX + 1];
};

struct luks2_meta {
        size_t n;                                        /* sorted by name */
        struct luks2_meta_item items[LUKS2_META_ITEMS_MAX];
};

/* From the whole LUKS2 JSON metadata (crypt_dump_json()'s text, at most
 * len bytes) for the token's keyslot: every segment, that keyslot and its
 * digest (keyslot < 0: the segments only). -EINVAL with errbuf for malformed metadata, a missing keyslot or
 * digest, or more than the limits. */
int luks2_meta_from_header(const char *json, size_t len, int keyslot, struct luks2_meta *ret, char *errbuf,
                           size_t errlen);

/* From / to the token's readable record: a flat object of name → string. */
int luks2_meta_from_record(json_object *record, struct luks2_meta *ret, char *errbuf, size_t errlen);
json_object *luks2_meta_to_record(const struct luks2_meta *m);

/* The canonical encoding (malloc()ed) over which the MAC is computed. */
int luks2_meta_encode(const struct luks2_meta *m, uint8_t **ret, size_t *ret_len);

/* The value of name, or NULL. */
const char *luks2_meta_get(const struct luks2_meta *m, const char *name);

/* The cipher allowlist: every segment must be a crypt segment (no linear,
 * no hw-opal), and its encryption and the keyslot's area encryption a known
 * confidentiality mode with a sane key size (no cipher_null, no ECB;
 * authenticated modes with their integrity).
 * -EPERM with the reason ("data segment cipher cipher_null-ecb is not
 * allowed: no encryption"). */
int luks2_meta_check_ciphers(const struct luks2_meta *m, char *errbuf, size_t errlen);
/* The segments only, for a volume key of vk_size bytes (before enrolling). */
int luks2_meta_check_segments(const struct luks2_meta *m, size_t vk_size, char *errbuf, size_t errlen);

/* What differs between what was recorded and what the header says now, one
 * "data segment cipher is cipher_null-ecb, enrolled aes-xts-plain64" per
 * difference joined by "; " into buf (truncated to fit). The number of
 * differences. */
int luks2_meta_diff(const struct luks2_meta *recorded, const struct luks2_meta *current, char *buf, size_t size);

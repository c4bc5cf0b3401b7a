/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "luks2-meta.h"
#include "macro.h"
#include "snp-error.h"

/* LUKS2 metadata is at most a few MiB; crypt_dump_json() hands it over whole. */
#define LUKS2_JSON_MAX (4u * 1024u * 1024u)
#define LUKS2_ID_MAX 2                  /* "0".."99" */

/* ---- items ---- */

static int item_add(struct luks2_meta *m, const char *name, const char *value, char *errbuf, size_t errlen) {
        size_t i;
        int c = 1;

        if (strlen(name) > LUKS2_META_NAME_MAX || strlen(value) > LUKS2_META_VALUE_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: longer than %u bytes", name, LUKS2_META_VALUE_MAX);
        if (m->n >= LUKS2_META_ITEMS_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "more than %u authenticated header items",
                                  LUKS2_META_ITEMS_MAX);
        for (i = 0; i < m->n && (c = strcmp(m->items[i].name, name)) < 0; i++)
                ;
        if (i < m->n && c == 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "%s appears twice", name);
        memmove(&m->items[i + 1], &m->items[i], (m->n - i) * sizeof(m->items[0]));
        (void) snprintf(m->items[i].name, sizeof(m->items[i].name), "%s", name);
        (void) snprintf(m->items[i].value, sizeof(m->items[i].value), "%s", value);
        m->n++;
        return 0;
}

const char *luks2_meta_get(const struct luks2_meta *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->items[i].name, name) == 0)
                        return m->items[i].value;
        return NULL;
}

/* "0".."99" without leading zeros: LUKS2 object ids. */
static bool id_valid(const char *id) {
        size_t n = strlen(id);

        if (n == 0 || n > LUKS2_ID_MAX || (n > 1 && id[0] == '0'))
                return false;
        return strspn(id, "0123456789") == n;
}

/* The value at key of o (a string as is, a non-negative integer in
 * decimal) as item prefix.key; absent keys add nothing. */
static int item_from_json(struct luks2_meta *m, const char *prefix, json_object *o, const char *key,
                          char *errbuf, size_t errlen) {
        char name[LUKS2_META_NAME_MAX + 16], num[24];
        const char *value;
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        (void) snprintf(name, sizeof(name), "%s.%s", prefix, key);
        if (json_object_is_type(v, json_type_string))
                value = json_object_get_string(v);
        else if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
                (void) snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
                value = num;
        } else
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: not a string or a non-negative integer", name);
        return item_add(m, name, value, errbuf, errlen);
}

static int items_from_json(struct luks2_meta *m, const char *prefix, json_object *o, const char *const *keys,
                           size_t n, char *errbuf, size_t errlen) {
        int r;

        if (!json_object_is_type(o, json_type_object))
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: not an object", prefix);
        for (size_t i = 0; i < n; i++) {
                r = item_from_json(m, prefix, o, keys[i], errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- from the header ---- */

static const char *const segment_keys[] = { "type", "offset", "size", "encryption", "sector_size", "iv_tweak" };
static const char *const integrity_keys[] = { "type", "journal_encryption", "journal_integrity" };
static const char *const keyslot_keys[] = { "type", "key_size" };
static const char *const area_keys[] = { "type", "encryption", "key_size" };
static const char *const digest_keys[] = { "type", "hash", "iterations", "salt", "digest" };

static int segment_add(struct luks2_meta *m, const char *id, json_object *seg, char *errbuf, size_t errlen) {
        char prefix[32];
        json_object *integrity;
        int r;

        if (!id_valid(id))
                return errbuf_set(errbuf, errlen, -EINVAL, "segment id \"%.8s\" is not a number 0..99", id);
        (void) snprintf(prefix, sizeof(prefix), "segment.%s", id);
        r = items_from_json(m, prefix, seg, segment_keys, ELEMENTSOF(segment_keys), errbuf, errlen);
        if (r < 0 || !json_object_object_get_ex(seg, "integrity", &integrity) || !integrity)
                return r;
        (void) snprintf(prefix, sizeof(prefix), "segment.%s.integrity", id);
        return items_from_json(m, prefix, integrity, integrity_keys, ELEMENTSOF(integrity_keys), errbuf, errlen);
}

static int keyslot_add(struct luks2_meta *m, const char *id, json_object *ks, char *errbuf, size_t errlen) {
        char prefix[32];
        json_object *area;
        int r;

        (void) snprintf(prefix, sizeof(prefix), "keyslot.%s", id);
        r = items_from_json(m, prefix, ks, keyslot_keys, ELEMENTSOF(keyslot_keys), errbuf, errlen);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(ks, "area", &area) || !area)
                return errbuf_set(errbuf, errlen, -EINVAL, "keyslot %s has no area", id);
        (void) snprintf(prefix, sizeof(prefix), "keyslot.%s.area", id);
        return items_from_json(m, prefix, area, area_keys, ELEMENTSOF(area_keys), errbuf, errlen);
}

/* Whether the JSON array a (of strings) lists s. */
static bool array_has(json_object *a, const char *s) {
        size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);

                if (json_object_is_type(e, json_type_string) && strcmp(json_object_get_string(e), s) == 0)
                        return true;
        }
        return false;
}

/* The digest's segment list as "0,1" (in the order written: LUKS2 keeps it sorted). */
static int digest_segments_add(struct luks2_meta *m, const char *id, json_object *segs, char *errbuf,
                               size_t errlen) {
        char name[32], list[LUKS2_META_VALUE_MAX + 1] = "";
        size_t n, len = 0;

        (void) snprintf(name, sizeof(name), "digest.%s.segments", id);
        if (!json_object_is_type(segs, json_type_array))
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: not an array", name);
        n = json_object_array_length(segs);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(segs, i);
                const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";

                if (!id_valid(s) || len + strlen(s) + 2 > sizeof(list))
                        return errbuf_set(errbuf, errlen, -EINVAL, "%s: not a list of segment ids", name);
                len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%s", i ? "," : "", s);
        }
        return item_add(m, name, list, errbuf, errlen);
}

static int digest_add(struct luks2_meta *m, json_object *digests, const char *keyslot, char *errbuf,
                      size_t errlen) {
        const char *found = NULL;
        json_object *d = NULL, *segs;
        char prefix[32];
        int r;

        if (!json_object_is_type(digests, json_type_object))
                return errbuf_set(errbuf, errlen, -EINVAL, "\"digests\": not an object");
        json_object_object_foreach(digests, id, v) {
                json_object *ks;

                if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "keyslots", &ks) ||
                    !array_has(ks, keyslot))
                        continue;
                if (found)
                        return errbuf_set(errbuf, errlen, -EINVAL, "keyslot %s is in two digests", keyslot);
                found = id;
                d = v;
        }
        if (!found || !id_valid(found))
                return errbuf_set(errbuf, errlen, -EINVAL, "no digest covers keyslot %s", keyslot);
        (void) snprintf(prefix, sizeof(prefix), "digest.%s", found);
        r = items_from_json(m, prefix, d, digest_keys, ELEMENTSOF(digest_keys), errbuf, errlen);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(d, "segments", &segs) || !segs)
                return errbuf_set(errbuf, errlen, -EINVAL, "digest %s has no segments", found);
        return digest_segments_add(m, found, segs, errbuf, errlen);
}

static int meta_from_object(json_object *o, int keyslot, struct luks2_meta *m, char *errbuf, size_t errlen) {
        json_object *segments, *keyslots, *ks, *digests;
        char id[16];
        int r;

        if (!json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, "segments", &segments) || !json_object_is_type(segments, json_type_object) ||
            !json_object_object_get_ex(o, "keyslots", &keyslots) || !json_object_is_type(keyslots, json_type_object) ||
            !json_object_object_get_ex(o, "digests", &digests))
                return errbuf_set(errbuf, errlen, -EINVAL, "not LUKS2 metadata (segments, keyslots, digests)");
        if (json_object_object_length(segments) == 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "the header has no data segment");
        json_object_object_foreach(segments, sid, seg) {
                r = segment_add(m, sid, seg, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        if (keyslot < 0)
                return 0;       /* the segments only */
        (void) snprintf(id, sizeof(id), "%d", keyslot);
        if (!json_object_object_get_ex(keyslots, id, &ks) || !ks)
                return errbuf_set(errbuf, errlen, -EINVAL, "keyslot %d does not exist", keyslot);
        r = keyslot_add(m, id, ks, errbuf, errlen);
        if (r < 0)
                return r;
        return digest_add(m, digests, id, errbuf, errlen);
}

int luks2_meta_from_header(const char *json, size_t len, int keyslot, struct luks2_meta *ret, char *errbuf,
                           size_t errlen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct luks2_meta *m;
        char msg[256] = "";
        int r;

        if (!json || !ret)
                return errbuf_set(errbuf, errlen, -EINVAL, "no metadata");
        if (len > LUKS2_JSON_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "the LUKS2 metadata is larger than %u bytes", LUKS2_JSON_MAX);
        r = json_parse_bounded(json, len, JSON_DEPTH_MAX, &o, msg, sizeof(msg));
        if (r < 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "the LUKS2 metadata is not valid JSON: %s", msg);
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        r = meta_from_object(o, keyslot, m, errbuf, errlen);
        if (r >= 0)
                *ret = *m;
        free(m);
        return r;
}

/* ---- the token's record ---- */

static bool name_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= LUKS2_META_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._") == n;
}

int luks2_meta_from_record(json_object *record, struct luks2_meta *ret, char *errbuf, size_t errlen) {
        struct luks2_meta *m;
        int r = 0;

        if (!json_object_is_type(record, json_type_object))
                return errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_header\" must be an object");
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        json_object_object_foreach(record, name, v) {
                if (!name_valid(name) || !json_object_is_type(v, json_type_string)) {
                        r = errbuf_set(errbuf, errlen, -EINVAL, "\"snpseal_header\" must map item names to strings");
                        break;
                }
                r = item_add(m, name, json_object_get_string(v), errbuf, errlen);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                *ret = *m;
        free(m);
        return r;
}

json_object *luks2_meta_to_record(const struct luks2_meta *m) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                if (json_add(o, m->items[i].name, json_object_new_string(m->items[i].value)) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

/* ---- the canonical encoding ---- */

static uint8_t *put_string(uint8_t *p, const char *s) {
        size_t n = strlen(s);

        *p++ = (uint8_t) (n >> 24);
        *p++ = (uint8_t) (n >> 16);
        *p++ = (uint8_t) (n >> 8);
        *p++ = (uint8_t) n;
        memcpy(p, s, n);
        return p + n;
}

int luks2_meta_encode(const struct luks2_meta *m, uint8_t **ret, size_t *ret_len) {
        size_t size = sizeof(LUKS2_META_TAG);
        uint8_t *buf, *p;

        for (size_t i = 0; i < m->n; i++)
                size += 8 + strlen(m->items[i].name) + strlen(m->items[i].value);
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, LUKS2_META_TAG, sizeof(LUKS2_META_TAG));   /* with its NUL */
        p = buf + sizeof(LUKS2_META_TAG);
        for (size_t i = 0; i < m->n; i++) {
                p = put_string(p, m->items[i].name);
                p = put_string(p, m->items[i].value);
        }
        *ret = buf;
        *ret_len = (size_t) (p - buf);
        return 0;
}

/* ---- the cipher allowlist ---- */

/* One accepted family: CIPHER[-MODE]-IV with the integrity it needs (NULL:
 * none) and the volume key sizes in bytes, integrity key excluded. */
static const struct cipher_rule {
        const char *ciphers;    /* '|'-separated */
        const char *mode;       /* "" for stream ciphers: CIPHER-IV */
        const char *ivs;
        const char *integrity;
        uint8_t sizes[4];
} cipher_rules[] = {
        { "aes|serpent|twofish|camellia", "xts", "plain64|plain|plain64be|essiv:sha256", NULL, { 32, 64 } },
        { "sm4", "xts", "plain64", NULL, { 32 } },
        { "aes|serpent|twofish|camellia", "cbc", "essiv:sha256", NULL, { 16, 24, 32 } },
        { "xchacha12,aes|xchacha20,aes", "adiantum", "plain64", NULL, { 32 } },
        { "aes|serpent|twofish|camellia", "xts", "plain64|random|essiv:sha256", "hmac(sha256)|hmac(sha512)", { 32, 64 } },
        { "aes|serpent|twofish|camellia", "cbc", "essiv:sha256|random", "hmac(sha256)|hmac(sha512)", { 16, 24, 32 } },
        { "aes", "gcm", "random", "aead", { 16, 24, 32 } },
        { "aes", "ccm", "random", "aead", { 19, 27, 35 } },
        { "chacha20", "", "plain64|random", "poly1305", { 32 } },
        { "aegis128", "", "random", "aead", { 16 } },
        { "aegis256", "", "random", "aead", { 32 } },
};

/* Whether s (n bytes) is one of the '|'-separated words of list. */
static bool word_in(const char *list, const char *s, size_t n) {
        for (const char *p = list; *p; ) {
                size_t w = strcspn(p, "|");

                if (w == n && strncmp(p, s, n) == 0)
                        return true;
                p += w;
                p += *p == '|';
        }
        return false;
}

static bool rule_matches(const struct cipher_rule *r, const char *spec, const char *integrity) {
        const char *dash = strchr(spec, '-'), *iv;

        if (!dash || !word_in(r->ciphers, spec, (size_t) (dash - spec)))
                return false;
        iv = dash + 1;
        if (r->mode[0]) {
                size_t n = strlen(r->mode);

                if (strncmp(iv, r->mode, n) != 0 || iv[n] != '-')
                        return false;
                iv += n + 1;
        }
        if (!word_in(r->ivs, iv, strlen(iv)))
                return false;
        if (!integrity)
                return !r->integrity;
        return r->integrity && word_in(r->integrity, integrity, strlen(integrity));
}

static unsigned integrity_key_size(const char *integrity) {
        if (!integrity)
                return 0;
        if (strcmp(integrity, "hmac(sha256)") == 0)
                return 32;
        if (strcmp(integrity, "hmac(sha512)") == 0)
                return 64;
        return 0;
}

/* Why spec is refused, for the message. */
static const char *cipher_refusal(const char *spec) {
        if (strstr(spec, "null"))
                return "no encryption";
        if (strstr(spec, "-ecb"))
                return "ECB shows which blocks are equal";
        return "not a cipher and mode snpseal accepts";
}

/* spec with integrity (NULL: none) and a key of key_size bytes. */
static int cipher_check(const char *what, const char *spec, const char *integrity, const char *key_size,
                        char *errbuf, size_t errlen) {
        unsigned long size;
        char *end;

        if (!spec)
                return errbuf_set(errbuf, errlen, -EPERM, "%s has no cipher", what);
        size = key_size ? strtoul(key_size, &end, 10) : 0;
        if (!key_size || *end)
                return errbuf_set(errbuf, errlen, -EPERM, "%s has no key size", what);
        for (size_t i = 0; i < ELEMENTSOF(cipher_rules); i++) {
                const struct cipher_rule *r = &cipher_rules[i];

                if (!rule_matches(r, spec, integrity))
                        continue;
                size -= size >= integrity_key_size(integrity) ? integrity_key_size(integrity) : size;
                for (size_t k = 0; k < ELEMENTSOF(r->sizes) && r->sizes[k]; k++)
                        if (r->sizes[k] == size)
                                return 0;
                return errbuf_set(errbuf, errlen, -EPERM, "%s %s with a %lu-bit key is not allowed: not a key "
                                  "size for it", what, spec, size * 8);
        }
        return errbuf_set(errbuf, errlen, -EPERM, "%s %s%s%s is not allowed: %s", what, spec,
                          integrity ? " with integrity " : "", integrity ?: "", cipher_refusal(spec));
}

/* The only keyslot, and the number of crypt segments. */
static const char *meta_keyslot(const struct luks2_meta *m, char id[LUKS2_ID_MAX + 1]) {
        for (size_t i = 0; i < m->n; i++)
                if (strncmp(m->items[i].name, "keyslot.", 8) == 0) {
                        size_t n = strcspn(m->items[i].name + 8, ".");

                        if (n > LUKS2_ID_MAX)
                                return NULL;
                        memcpy(id, m->items[i].name + 8, n);
                        id[n] = '\0';
                        return id;
                }
        return NULL;
}

static size_t meta_segments(const struct luks2_meta *m) {
        size_t n = 0;

        for (size_t i = 0; i < m->n; i++) {
                const char *s = m->items[i].name;

                if (strncmp(s, "segment.", 8) == 0 && strcmp(s + 8 + strcspn(s + 8, "."), ".type") == 0)
                        n++;
        }
        return n;
}

static void segment_label(const struct luks2_meta *m, const char *id, char *buf, size_t size) {
        if (meta_segments(m) == 1)
                (void) snprintf(buf, size, "data segment");
        else
                (void) snprintf(buf, size, "segment %s", id);
}

int luks2_meta_check_segments(const struct luks2_meta *m, size_t vk_size, char *errbuf, size_t errlen) {
        char name[96], what[64], label[32], size[24];
        int r;

        (void) snprintf(size, sizeof(size), "%zu", vk_size);
        for (size_t i = 0; i < m->n; i++) {
                const char *s = m->items[i].name, *integrity;
                char id[LUKS2_ID_MAX + 1];
                size_t n;

                if (strncmp(s, "segment.", 8) != 0 || strcmp(s + 8 + strcspn(s + 8, "."), ".type") != 0)
                        continue;
                n = strcspn(s + 8, ".");
                if (n > LUKS2_ID_MAX)
                        continue;
                memcpy(id, s + 8, n);
                id[n] = '\0';
                segment_label(m, id, label, sizeof(label));
                /* libcryptsetup maps a "linear" segment as cipher_null-ecb
                 * (and "hw-opal" leaves the encryption to the disk, which the
                 * host emulates): only crypt segments encrypt. */
                if (strcmp(m->items[i].value, "crypt") != 0)
                        return errbuf_set(errbuf, errlen, -EPERM, "%s type %s is not allowed: no encryption", label,
                                          m->items[i].value);
                (void) snprintf(what, sizeof(what), "%s cipher", label);
                (void) snprintf(name, sizeof(name), "segment.%s.integrity.type", id);
                integrity = luks2_meta_get(m, name);
                if (integrity && strcmp(integrity, "none") == 0)
                        integrity = NULL;
                (void) snprintf(name, sizeof(name), "segment.%s.encryption", id);
                r = cipher_check(what, luks2_meta_get(m, name), integrity, size, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

int luks2_meta_check_ciphers(const struct luks2_meta *m, char *errbuf, size_t errlen) {
        char ks[LUKS2_ID_MAX + 1], name[96], what[64];
        const char *key_size;
        char *end;
        unsigned long vk_size;
        int r;

        if (!meta_keyslot(m, ks))
                return errbuf_set(errbuf, errlen, -EPERM, "the header names no keyslot");
        (void) snprintf(name, sizeof(name), "keyslot.%s.key_size", ks);
        key_size = luks2_meta_get(m, name);
        vk_size = key_size ? strtoul(key_size, &end, 10) : 0;
        if (!key_size || *end || vk_size == 0)
                return errbuf_set(errbuf, errlen, -EPERM, "keyslot %s has no key size", ks);
        r = luks2_meta_check_segments(m, vk_size, errbuf, errlen);
        if (r < 0)
                return r;
        (void) snprintf(what, sizeof(what), "keyslot %s cipher", ks);
        (void) snprintf(name, sizeof(name), "keyslot.%s.area.key_size", ks);
        key_size = luks2_meta_get(m, name);
        (void) snprintf(name, sizeof(name), "keyslot.%s.area.encryption", ks);
        return cipher_check(what, luks2_meta_get(m, name), NULL, key_size, errbuf, errlen);
}

/* ---- differences ---- */

static const struct {
        const char *suffix;     /* after "segment.<id>" or "keyslot.<id>" */
        const char *label;
} item_labels[] = {
        { ".type", "type" },
        { ".offset", "offset" },
        { ".size", "size" },
        { ".encryption", "cipher" },
        { ".sector_size", "sector size" },
        { ".iv_tweak", "IV tweak" },
        { ".integrity.type", "integrity" },
        { ".integrity.journal_encryption", "integrity journal encryption" },
        { ".integrity.journal_integrity", "integrity journal integrity" },
        { ".key_size", "volume key size" },
        { ".area.type", "area type" },
        { ".area.encryption", "cipher" },
        { ".area.key_size", "key size" },
};

/* "data segment cipher", "keyslot 1 cipher", "volume key digest". */
static void item_label(const struct luks2_meta *m, const char *name, char *buf, size_t size) {
        const char *rest;
        char id[LUKS2_ID_MAX + 1] = "", what[32];
        size_t n;

        if (strncmp(name, "digest.", 7) == 0) {
                (void) snprintf(buf, size, "volume key digest (%s)", name + 7 + strcspn(name + 7, ".") +
                                (name[7 + strcspn(name + 7, ".")] == '.'));
                return;
        }
        rest = strchr(name, '.');
        n = rest ? strcspn(rest + 1, ".") : 0;
        if (!rest || n > LUKS2_ID_MAX) {
                (void) snprintf(buf, size, "%s", name);
                return;
        }
        memcpy(id, rest + 1, n);
        id[n] = '\0';
        rest += 1 + n;
        if (strncmp(name, "segment.", 8) == 0)
                segment_label(m, id, what, sizeof(what));
        else
                (void) snprintf(what, sizeof(what), "keyslot %s", id);
        for (size_t i = 0; i < ELEMENTSOF(item_labels); i++)
                if (strcmp(rest, item_labels[i].suffix) == 0) {
                        if (strcmp(rest, ".key_size") == 0 && strncmp(name, "keyslot.", 8) == 0)
                                (void) snprintf(buf, size, "%s", item_labels[i].label);
                        else
                                (void) snprintf(buf, size, "%s %s", what, item_labels[i].label);
                        return;
                }
        (void) snprintf(buf, size, "%s", name);
}

static void diff_add(char *buf, size_t size, size_t *len, const char *label, const char *now, const char *then) {
        int k;

        if (*len >= size)
                return;
        k = snprintf(buf + *len, size - *len, "%s%s is %s%s%s, enrolled %s%s%s", *len ? "; " : "", label,
                     now ? "" : "(", now ?: "none", now ? "" : ")", then ? "" : "(", then ?: "none",
                     then ? "" : ")");
        if (k > 0)
                *len += (size_t) k;
        if (*len >= size)
                *len = size;
}

int luks2_meta_diff(const struct luks2_meta *recorded, const struct luks2_meta *current, char *buf, size_t size) {
        size_t i = 0, j = 0, len = 0;
        char label[128];
        int n = 0;

        if (size > 0)
                buf[0] = '\0';
        /* Both sorted: one merge pass. */
        while (i < recorded->n || j < current->n) {
                const struct luks2_meta_item *a = i < recorded->n ? &recorded->items[i] : NULL;
                const struct luks2_meta_item *b = j < current->n ? &current->items[j] : NULL;
                int c = !a ? 1 : !b ? -1 : strcmp(a->name, b->name);

                if (c == 0 && strcmp(a->value, b->value) == 0) {
                        i++, j++;
                        continue;
                }
                item_label(c <= 0 ? recorded : current, c <= 0 ? a->name : b->name, label, sizeof(label));
                diff_add(buf, size, &len, label, c < 0 ? NULL : b->value, c > 0 ? NULL : a->value);
                n++;
                i += c <= 0;
                j += c >= 0;
        }
        return n;
}

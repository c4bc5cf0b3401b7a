/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * luks2_meta_from_header() reads the LUKS2 metadata (crypt_dump_json()'s
 * text) that the host wrote to the disk; luks2_meta_from_record() reads the
 * token's "snpseal_header", also on the disk. Input: one byte that selects
 * the keyslot ('0'..'9': that keyslot, '-': none, the segments only; any
 * other byte b: keyslot b % 33 - 1, so -1..31), then the JSON text, which is
 * read both as metadata and as a record.
 * Invariants: a refusal is -EINVAL with a message and leaves ret alone; the
 * items are strictly sorted, names of [a-z0-9._] and values within the
 * limits; the encoding is the tag, its NUL and exactly the items framed by
 * u32be lengths; the record round trip (as an object and as its text) gives
 * the same encoding; the segments alone parse whenever the whole does, fail
 * with the same message when they do not, and differ from the whole in
 * exactly the keyslot's and digest's items; an item set differs from itself
 * nowhere and from nothing everywhere; the number of differences does not
 * depend on the buffer, which is always terminated and never written past
 * its size; the cipher checks answer 0 or -EPERM with a message.
 */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "json-util.h"
#include "luks2-meta.h"
#include "macro.h"

#define SENTINEL ((size_t) 0x5eed)
#define DIFF_TEXT_MAX 8192

static struct luks2_meta meta, segs, back, empty;

static int selector_keyslot(uint8_t b) {
        if (b >= '0' && b <= '9')
                return b - '0';
        if (b == '-')
                return -1;
        return (int) (b % 33) - 1;
}

static bool name_ok(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= LUKS2_META_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._") == n;
}

static void check_items(const struct luks2_meta *m) {
        FUZZ_CHECK(m->n <= LUKS2_META_ITEMS_MAX);
        for (size_t i = 0; i < m->n; i++) {
                FUZZ_CHECK(name_ok(m->items[i].name));
                FUZZ_CHECK(strlen(m->items[i].value) <= LUKS2_META_VALUE_MAX);
                FUZZ_CHECK(i == 0 || strcmp(m->items[i - 1].name, m->items[i].name) < 0);
                FUZZ_CHECK(luks2_meta_get(m, m->items[i].name) == m->items[i].value);
        }
}

static uint32_t get_u32be(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* One framed string of the encoding at *p, which must be s. */
static void check_framed(const uint8_t *enc, size_t len, size_t *p, const char *s) {
        size_t n = strlen(s);

        FUZZ_CHECK(len - *p >= 4);
        FUZZ_CHECK(get_u32be(enc + *p) == n);
        *p += 4;
        FUZZ_CHECK(len - *p >= n && memcmp(enc + *p, s, n) == 0);
        *p += n;
}

/* The encoding, checked against the items by reading it back. malloc()ed. */
static uint8_t *encode_checked(const struct luks2_meta *m, size_t *ret_len) {
        uint8_t *enc = NULL;
        size_t len = 0, p = sizeof(LUKS2_META_TAG);

        FUZZ_CHECK(luks2_meta_encode(m, &enc, &len) == 0);
        FUZZ_CHECK(len >= sizeof(LUKS2_META_TAG) && memcmp(enc, LUKS2_META_TAG, sizeof(LUKS2_META_TAG)) == 0);
        for (size_t i = 0; i < m->n; i++) {
                check_framed(enc, len, &p, m->items[i].name);
                check_framed(enc, len, &p, m->items[i].value);
        }
        FUZZ_CHECK(p == len);
        *ret_len = len;
        return enc;
}

static bool same_encoding(const struct luks2_meta *a, const struct luks2_meta *b) {
        _cleanup_(freep) uint8_t *ea = NULL, *eb = NULL;
        size_t la = 0, lb = 0;

        ea = encode_checked(a, &la);
        eb = encode_checked(b, &lb);
        return la == lb && memcmp(ea, eb, la) == 0;
}

/* to_record, from_record: the same items; and again through the record's text. */
static void check_record_round_trip(const struct luks2_meta *m) {
        _cleanup_(json_object_putp) json_object *record = luks2_meta_to_record(m), *reparsed = NULL;
        char err[256] = "";
        const char *text;

        FUZZ_CHECK(record);
        FUZZ_CHECK(json_object_object_length(record) == (int) m->n);
        FUZZ_CHECK(luks2_meta_from_record(record, &back, err, sizeof(err)) == 0);
        FUZZ_CHECK(back.n == m->n && same_encoding(m, &back));
        text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN);
        FUZZ_CHECK(text);
        FUZZ_CHECK(json_parse_bounded(text, strlen(text), JSON_DEPTH_MAX, &reparsed, err, sizeof(err)) == 0);
        FUZZ_CHECK(luks2_meta_from_record(reparsed, &back, err, sizeof(err)) == 0);
        FUZZ_CHECK(same_encoding(m, &back));
}

static int diff_checked(const struct luks2_meta *a, const struct luks2_meta *b, size_t size) {
        static char buf[DIFF_TEXT_MAX + 1];
        int n;

        memset(buf, 'x', sizeof(buf));
        n = luks2_meta_diff(a, b, size > 0 ? buf : NULL, size);
        FUZZ_CHECK(n >= 0);
        if (size > 0) {
                FUZZ_CHECK(memchr(buf, '\0', size));
                FUZZ_CHECK(n > 0 || buf[0] == '\0');
        }
        for (size_t i = size; i < sizeof(buf); i++)
                FUZZ_CHECK(buf[i] == 'x');
        return n;
}

static void check_diff(const struct luks2_meta *a, const struct luks2_meta *b, int want) {
        static const size_t sizes[] = { 0, 1, 7, 64, DIFF_TEXT_MAX };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                FUZZ_CHECK(diff_checked(a, b, sizes[i]) == want);
}

static void check_ciphers(const struct luks2_meta *m) {
        char err[512];
        int r;

        err[0] = '\0';
        r = luks2_meta_check_ciphers(m, err, sizeof(err));
        FUZZ_CHECK(r == 0 || (r == -EPERM && err[0] != '\0'));
        err[0] = '\0';
        r = luks2_meta_check_segments(m, 64, err, sizeof(err));
        FUZZ_CHECK(r == 0 || (r == -EPERM && err[0] != '\0'));
        FUZZ_CHECK(luks2_meta_check_ciphers(m, NULL, 0) == luks2_meta_check_ciphers(m, err, 8));
}

/* Everything that holds for an accepted item set. */
static void check_accepted(const struct luks2_meta *m) {
        check_items(m);
        check_record_round_trip(m);
        check_ciphers(m);
        check_diff(m, m, 0);
        check_diff(m, &empty, (int) m->n);
        check_diff(&empty, m, (int) m->n);
}

static void fuzz_header(const char *text, size_t len, int keyslot) {
        char err[512] = "", err_segs[512] = "";
        int r, r_segs;

        segs.n = SENTINEL;
        r_segs = luks2_meta_from_header(text, len, -1, &segs, err_segs, sizeof(err_segs));
        FUZZ_CHECK(r_segs == 0 || (r_segs == -EINVAL && err_segs[0] != '\0' && segs.n == SENTINEL));
        if (r_segs == 0) {
                check_accepted(&segs);
                /* the segments only: no keyslot, no digest */
                for (size_t i = 0; i < segs.n; i++)
                        FUZZ_CHECK(strncmp(segs.items[i].name, "segment.", 8) == 0);
        }
        if (keyslot < 0)
                return;

        meta.n = SENTINEL;
        r = luks2_meta_from_header(text, len, keyslot, &meta, err, sizeof(err));
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL && err[0] != '\0' && meta.n == SENTINEL);
                /* the segments come first: their refusal is the whole's */
                FUZZ_CHECK(r_segs == 0 || strcmp(err, err_segs) == 0);
                return;
        }
        FUZZ_CHECK(r_segs == 0);
        check_accepted(&meta);
        /* the whole is the segments and the keyslot's and digest's items */
        FUZZ_CHECK(meta.n > segs.n);
        check_diff(&meta, &segs, (int) (meta.n - segs.n));
        for (size_t i = 0; i < segs.n; i++) {
                const char *v = luks2_meta_get(&meta, segs.items[i].name);

                FUZZ_CHECK(v && strcmp(v, segs.items[i].value) == 0);
        }
}

static void fuzz_record(const char *text, size_t len) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        char err[512] = "";
        int r;

        if (json_parse_bounded(text, len, JSON_DEPTH_MAX, &o, NULL, 0) < 0)
                return;
        meta.n = SENTINEL;
        r = luks2_meta_from_record(o, &meta, err, sizeof(err));
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL && err[0] != '\0' && meta.n == SENTINEL);
                return;
        }
        check_accepted(&meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text;
        size_t len;

        if (size < 1)
                return 0;
        text = (const char *) data + 1;
        len = size - 1;
        fuzz_header(text, len, selector_keyslot(data[0]));
        fuzz_record(text, len);
        return 0;
}

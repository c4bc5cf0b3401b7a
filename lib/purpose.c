/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "purpose.h"

#define PURPOSE_SEGMENTS_MAX 3
#define UID_DIGITS_MAX 10

struct purpose_parts {
        size_t n;
        const char *seg[PURPOSE_SEGMENTS_MAX];
        size_t len[PURPOSE_SEGMENTS_MAX];
};

static bool purpose_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("._@:+-", c));
}

static bool segment_eq(const struct purpose_parts *pp, size_t i, const char *s) {
        return pp->len[i] == strlen(s) && memcmp(pp->seg[i], s, pp->len[i]) == 0;
}

/* Split into at most three segments, checking the charset and the segments. */
static int purpose_split(const char *p, struct purpose_parts *ret) {
        struct purpose_parts pp = { 0 };
        size_t len;

        if (!p)
                return -EINVAL;
        len = strnlen(p, PURPOSE_MAX + 1);
        if (len == 0 || len > PURPOSE_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (p[i] != '/' && !purpose_char_ok(p[i]))
                        return -EINVAL;
        for (const char *s = p;;) {
                size_t l = strcspn(s, "/");

                if (pp.n >= PURPOSE_SEGMENTS_MAX || l == 0)
                        return -EINVAL;
                pp.seg[pp.n] = s;
                pp.len[pp.n] = l;
                if (segment_eq(&pp, pp.n, ".") || segment_eq(&pp, pp.n, ".."))
                        return -EINVAL;
                pp.n++;
                if (s[l] == '\0')
                        break;
                s += l + 1;
        }
        *ret = pp;
        return 0;
}

/* Decimal, no leading zeros, at most 10 digits, fits a uint32. */
static int parse_uid_segment(const char *s, size_t len, uint32_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > UID_DIGITS_MAX || (len > 1 && s[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* The purpose's shape; for user purposes also the uid. */
static int purpose_parse(const char *p, bool *ret_is_user, uint32_t *ret_uid) {
        static const struct {
                const char *prefix;
                size_t segments;
                bool user;
        } shapes[] = {
                { "luks2", 1, false },
                { "cred",  2, false },
                { "user",  3, true },
        };
        struct purpose_parts pp;
        uint32_t uid = 0;
        int r;

        r = purpose_split(p, &pp);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(shapes); i++) {
                if (!segment_eq(&pp, 0, shapes[i].prefix))
                        continue;
                if (pp.n != shapes[i].segments)
                        return -EINVAL;
                if (shapes[i].user && parse_uid_segment(pp.seg[1], pp.len[1], &uid) < 0)
                        return -EINVAL;
                *ret_is_user = shapes[i].user;
                *ret_uid = uid;
                return 0;
        }
        return -EINVAL;
}

int purpose_validate(const char *p) {
        bool is_user;
        uint32_t uid;

        return purpose_parse(p, &is_user, &uid);
}

int purpose_check_access(const char *p, uid_t peer) {
        bool is_user;
        uint32_t uid;
        int r;

        r = purpose_parse(p, &is_user, &uid);
        if (r < 0)
                return r;
        if (peer == 0)
                return 0;
        if (is_user && (uid_t) uid == peer)
                return 0;
        return -EPERM;
}

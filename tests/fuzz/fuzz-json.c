/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * json_parse_bounded(), the front door for every JSON message and file, and
 * the typed getters on what it returns.
 * Invariants: input with a NUL inside is refused; an accepted value
 * serializes, and that text parses again to the same serialization; a
 * refusal comes with a message; the depth limit holds.
 */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "json-util.h"
#include "macro.h"

/* Nesting depth of a parsed value (1 for a scalar). */
static int depth(json_object *o) {
        int d = 0;

        if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, k, v) {
                        int x = depth(v);

                        (void) k;
                        if (x > d)
                                d = x;
                }
        } else if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        int x = depth(json_object_array_get_idx(o, i));

                        if (x > d)
                                d = x;
                }
        }
        return d + 1;
}

static void check_getters(json_object *o) {
        const char *s;
        uint64_t u;
        bool b;
        json_object *sub;
        uint8_t key[32];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return;
        r = json_get_string(o, "a", &s);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT);
        r = json_get_uint(o, "a", 1000, &u);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT || r == -ERANGE);
        FUZZ_CHECK(r < 0 || u <= 1000);
        r = json_get_uint(o, "a", UINT64_MAX, &u);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT || r == -ERANGE);
        r = json_get_bool(o, "a", &b);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT);
        r = json_get_object(o, "a", &sub);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT);
        FUZZ_CHECK(r < 0 || json_object_is_type(sub, json_type_object));
        r = json_get_base64_exact(o, "a", key, sizeof(key));
        FUZZ_CHECK(r <= 0);
}

static void check_reparse(json_object *o) {
        _cleanup_(freep) char *text = NULL, *again = NULL;
        _cleanup_(json_object_put_wipep) json_object *o2 = NULL;
        char err[256] = "";
        size_t len = 0, len2 = 0;

        FUZZ_CHECK(json_to_string_dup(o, &text, &len) == 0);
        FUZZ_CHECK(strlen(text) == len);
        FUZZ_CHECK(json_parse_bounded(text, len, JSON_DEPTH_MAX, &o2, err, sizeof(err)) == 0);
        FUZZ_CHECK(json_to_string_dup(o2, &again, &len2) == 0);
        FUZZ_CHECK(len == len2 && memcmp(text, again, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_put_wipep) json_object *o = NULL;
        char err[256] = "";
        int r;

        /* The whole limit, and a shallow one. */
        for (int max_depth = 2; max_depth <= JSON_DEPTH_MAX; max_depth += JSON_DEPTH_MAX - 2) {
                json_object_put_wipe(o);
                o = NULL;
                err[0] = '\0';
                r = json_parse_bounded((const char *) data, size, max_depth, &o, err, sizeof(err));
                FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -EMSGSIZE);
                if (r < 0) {
                        FUZZ_CHECK(!o);
                        FUZZ_CHECK(err[0] != '\0' && strnlen(err, sizeof(err)) < sizeof(err));
                        continue;
                }
                FUZZ_CHECK(!memchr(data, '\0', size));
                FUZZ_CHECK(depth(o) <= max_depth);
        }
        if (o) {
                check_getters(o);
                check_reparse(o);
        }
        return 0;
}

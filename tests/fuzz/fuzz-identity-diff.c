/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snp_identity_diff() compares the identity recorded in a sealed object or
 * LUKS2 token (untrusted JSON) with the running VM's. Input: the two JSON
 * texts separated by a NUL.
 * Invariants: the count does not depend on the buffer (NULL, tiny, large);
 * the output is always NUL-terminated within the buffer; a value compared
 * with itself differs nowhere; the count is symmetric.
 */

#include <errno.h>
#include <string.h>

#include "binding.h"
#include "fuzz.h"
#include "json-util.h"

#define DIFF_TEXT_MAX 4096

static int diff_checked(json_object *a, json_object *b, size_t size) {
        static char buf[DIFF_TEXT_MAX + 1];
        int n;

        memset(buf, 'x', sizeof(buf));
        n = snp_identity_diff(a, b, size > 0 ? buf : NULL, size);
        if (size > 0 && n >= 0)
                FUZZ_CHECK(memchr(buf, '\0', size));
        /* Nothing written past size. */
        for (size_t i = size; size > 0 && i < sizeof(buf); i++)
                FUZZ_CHECK(buf[i] == 'x');
        if (n == 0 && size > 0)
                FUZZ_CHECK(buf[0] == '\0');
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *a = NULL, *b = NULL;
        const uint8_t *rest;
        size_t rest_size, first;
        char err[256];
        int n;

        first = fuzz_split(data, size, &rest, &rest_size);
        if (json_parse_bounded((const char *) data, first, JSON_DEPTH_MAX, &a, err, sizeof(err)) < 0 ||
            json_parse_bounded((const char *) rest, rest_size, JSON_DEPTH_MAX, &b, err, sizeof(err)) < 0)
                return 0;

        n = diff_checked(a, b, 0);
        if (!json_object_is_type(a, json_type_object) || !json_object_is_type(b, json_type_object)) {
                FUZZ_CHECK(n == -EINVAL);
                return 0;
        }
        FUZZ_CHECK(n >= 0);
        FUZZ_CHECK(diff_checked(a, b, 1) == n);
        FUZZ_CHECK(diff_checked(a, b, 37) == n);
        FUZZ_CHECK(diff_checked(a, b, DIFF_TEXT_MAX) == n);
        FUZZ_CHECK(diff_checked(b, a, DIFF_TEXT_MAX) == n);
        FUZZ_CHECK(diff_checked(a, a, DIFF_TEXT_MAX) == 0);
        FUZZ_CHECK(diff_checked(b, b, 16) == 0);
        return 0;
}

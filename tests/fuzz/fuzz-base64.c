/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * base64_decode() on untrusted text (salts, keys and sealed payloads arrive
 * base64-encoded), and base64_encode() on arbitrary bytes.
 * Invariants: the strict decoder accepts only canonical text, so whatever it
 * decodes encodes back to exactly the input; encode then decode is the
 * identity; a too-small output buffer gives -ENOBUFS and is not overrun.
 */

#include <errno.h>
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "macro.h"

static void check_decode(const uint8_t *data, size_t size) {
        _cleanup_(freep) uint8_t *out = NULL;
        _cleanup_(freep) char *again = NULL;
        size_t max = base64_decoded_max(size), len = 0, enc;
        int r;

        out = malloc(max > 0 ? max : 1);
        FUZZ_CHECK(out);
        r = base64_decode((const char *) data, size, out, max, &len);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r < 0)
                return;
        FUZZ_CHECK(len <= max);
        enc = base64_encoded_len(len);
        FUZZ_CHECK(enc == size);
        again = malloc(enc + 1);
        FUZZ_CHECK(again);
        FUZZ_CHECK(base64_encode(out, len, again, enc + 1) == (int) enc);
        FUZZ_CHECK(memcmp(again, data, size) == 0);
        if (len > 0) {
                /* One byte short: refused, and nothing written past the end. */
                _cleanup_(freep) uint8_t *small = malloc(len - 1 > 0 ? len - 1 : 1);

                FUZZ_CHECK(small);
                FUZZ_CHECK(base64_decode((const char *) data, size, small, len - 1, &len) == -ENOBUFS);
        }
}

static void check_encode(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(freep) uint8_t *back = NULL;
        size_t enc = base64_encoded_len(size), len = 0;

        FUZZ_CHECK(enc != SIZE_MAX && enc % 4 == 0);
        text = malloc(enc + 1);
        FUZZ_CHECK(text);
        FUZZ_CHECK(base64_encode(data, size, text, enc) == -ENOBUFS);
        FUZZ_CHECK(base64_encode(data, size, text, enc + 1) == (int) enc);
        FUZZ_CHECK(text[enc] == '\0' && strlen(text) == enc);
        back = malloc(size > 0 ? size : 1);
        FUZZ_CHECK(back);
        FUZZ_CHECK(base64_decode(text, enc, back, size, &len) == 0);
        FUZZ_CHECK(len == size && memcmp(back, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_decode(data, size);
        check_encode(data, size);
        return 0;
}

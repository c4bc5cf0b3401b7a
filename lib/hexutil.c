/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hexutil.h"

static const char hexdigits[] = "0123456789abcdef";

void hex_encode(const void *data, size_t size, char *out) {
        const uint8_t *p = data;

        for (size_t i = 0; i < size; i++) {
                out[2 * i] = hexdigits[p[i] >> 4];
                out[2 * i + 1] = hexdigits[p[i] & 0xf];
        }
        out[2 * size] = '\0';
}

char *hex_encode_alloc(const void *data, size_t size) {
        if (size > (SIZE_MAX - 1) / 2)
                return NULL;
        char *s = malloc(2 * size + 1);
        if (s)
                hex_encode(data, size, s);
        return s;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode_exact(const char *hex, void *out, size_t size) {
        uint8_t *p = out;

        if (!hex || strlen(hex) != 2 * size)
                return -EINVAL;
        for (size_t i = 0; i < size; i++) {
                int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
        }
        for (size_t i = 0; i < size; i++)
                p[i] = (uint8_t) (unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
        return 0;
}

void tcb_to_hex(uint64_t tcb, char out[TCB_HEX_LEN + 1]) {
        uint8_t b[8];

        for (unsigned i = 0; i < 8; i++)
                b[i] = (uint8_t) (tcb >> (8 * i));
        hex_encode(b, sizeof(b), out);
}

int tcb_from_hex(const char *hex, uint64_t *ret_tcb) {
        uint8_t b[8];
        uint64_t t = 0;
        int r;

        r = hex_decode_exact(hex, b, sizeof(b));
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 8; i++)
                t |= (uint64_t) b[i] << (8 * i);
        *ret_tcb = t;
        return 0;
}

int parse_u64(const char *s, uint64_t max, uint64_t *ret) {
        char *end;
        int base = 10;
        unsigned long long v;

        if (!s || !*s)
                return -EINVAL;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
        }
        /* strtoull accepts leading space and signs: refuse them. */
        if (!((*s >= '0' && *s <= '9') || (base == 16 && unhex(*s) >= 0)))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_u32(const char *s, uint32_t max, uint32_t *ret) {
        uint64_t v;
        int r = parse_u64(s, max, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t) v;
        return 0;
}

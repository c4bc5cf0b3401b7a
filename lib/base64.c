/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "macro.h"
#include "secret.h"

/*
 * Constant time with respect to the data: no table indexed by data bytes and
 * no branch on their values. Characters are mapped with arithmetic on range
 * masks (the approach of wireguard-tools' key encoding). The length of the
 * data and the number of padding characters are public (they follow from
 * the length) and may steer branches.
 */

/* All ones when lo <= c <= hi, else 0; c, lo, hi < 256. Unsigned only: the
 * high bit of a wrapped difference tells which side of the bound c lies. */
static uint32_t ct_in_range(uint32_t c, uint32_t lo, uint32_t hi) {
        uint32_t outside = ((c - lo) | (hi - c)) >> 31;

        return outside - 1;
}

/* 0..63 to its character: 'A'..'Z', 'a'..'z', '0'..'9', '+', '/'. */
static char enc6(uint32_t v) {
        uint32_t c = v + 'A';

        c += ct_in_range(v, 26, 63) & 6;          /* 'a' - 'A' - 26 */
        c -= ct_in_range(v, 52, 63) & 75;         /* to '0' */
        c -= ct_in_range(v, 62, 63) & 15;         /* to '+' */
        c += ct_in_range(v, 63, 63) & 3;          /* to '/' */
        return (char) c;
}

/* A character to 0..63; sets bits in *bad for anything else ('=' included). */
static uint32_t dec6(unsigned char ch, uint32_t *bad) {
        uint32_t c = ch, v = 0;

        /* v is the value plus one, 0 meaning "not a base64 character". */
        v |= ct_in_range(c, 'A', 'Z') & (c - 'A' + 1);
        v |= ct_in_range(c, 'a', 'z') & (c - 'a' + 27);
        v |= ct_in_range(c, '0', '9') & (c - '0' + 53);
        v |= ct_in_range(c, '+', '+') & 63;
        v |= ct_in_range(c, '/', '/') & 64;
        *bad |= (v - 1) >> 8;
        return (v - 1) & 63;
}

size_t base64_encoded_len(size_t n) {
        size_t groups = n / 3 + (n % 3 != 0), len;

        if (!SIZE_MUL_OK(groups, 4, &len))
                return SIZE_MAX;
        return len;
}

size_t base64_decoded_max(size_t n) {
        return n / 4 * 3 + (n % 4 != 0 ? 3 : 0);
}

int base64_encode(const void *data, size_t n, char *out, size_t outsize) {
        const uint8_t *p = data;
        size_t len = base64_encoded_len(n), i, o = 0;

        if (len == SIZE_MAX || len > INT_MAX || outsize <= len)
                return -ENOBUFS;

        for (i = 0; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];

                out[o++] = enc6(v >> 18);
                out[o++] = enc6((v >> 12) & 63);
                out[o++] = enc6((v >> 6) & 63);
                out[o++] = enc6(v & 63);
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t) p[i] << 16;

                out[o++] = enc6(v >> 18);
                out[o++] = enc6((v >> 12) & 63);
                out[o++] = '=';
                out[o++] = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;

                out[o++] = enc6(v >> 18);
                out[o++] = enc6((v >> 12) & 63);
                out[o++] = enc6((v >> 6) & 63);
                out[o++] = '=';
        }
        out[o] = '\0';
        return (int) o;
}

/* Padding characters at the end: public, they follow from the data length. */
static size_t base64_padding(const char *in, size_t inlen) {
        if (inlen == 0 || in[inlen - 1] != '=')
                return 0;
        return in[inlen - 2] == '=' ? 2 : 1;
}

int base64_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *ret_len) {
        uint8_t *q = out;
        uint32_t bad = 0;
        size_t pad, len, o = 0;

        if (inlen % 4 != 0)
                return -EINVAL;
        pad = base64_padding(in, inlen);
        len = inlen / 4 * 3 - pad;
        if (len > outsize)
                return -ENOBUFS;

        for (size_t i = 0; i < inlen; i += 4) {
                bool last = i + 4 == inlen;
                size_t k = last ? 4 - pad : 4;   /* significant characters */
                uint32_t v = 0;

                for (size_t j = 0; j < k; j++)
                        v |= dec6((unsigned char) in[i + j], &bad) << (18 - 6 * j);
                /* Canonical: the bits below the last byte must be zero. */
                if (k == 2)
                        bad |= v & 0xffff;
                else if (k == 3)
                        bad |= v & 0xff;
                q[o++] = (uint8_t) (v >> 16);
                if (k >= 3)
                        q[o++] = (uint8_t) (v >> 8);
                if (k == 4)
                        q[o++] = (uint8_t) v;
        }
        if (bad != 0) {
                secret_wipe(out, o);
                return -EINVAL;
        }
        *ret_len = len;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Standard base64 (RFC 4648 §4, with padding, no line breaks), in constant
 * time with respect to the data: keys and sealed payloads pass through here.
 */
#pragma once

#include <stddef.h>

/* Length of the encoding of n bytes, without the NUL; SIZE_MAX on overflow. */
size_t base64_encoded_len(size_t n);
/* Upper bound of the decoded length of an n-character encoding. */
size_t base64_decoded_max(size_t n);

/* Encode into out (outsize >= base64_encoded_len(n) + 1), NUL-terminated.
 * Returns the length written without the NUL, or -ENOBUFS. */
int base64_encode(const void *data, size_t n, char *out, size_t outsize);

/* Strict decode: length a multiple of 4, correct padding, canonical (unused
 * bits zero), no whitespace. Writes at most outsize bytes.
 * Returns 0 with *ret_len set, -EINVAL for bad input, -ENOBUFS if too small. */
int base64_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *ret_len);

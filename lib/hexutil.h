/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of size bytes into out, which holds 2*size+1 bytes. */
void hex_encode(const void *data, size_t size, char *out);
/* A malloc()ed lowercase hex string, or NULL on ENOMEM. */
char *hex_encode_alloc(const void *data, size_t size);

/* Strict decode of exactly 2*size hex digits (either case) into out.
 * Returns 0, or -EINVAL for a wrong length or a non-hex character. */
int hex_decode_exact(const char *hex, void *out, size_t size);

/* A TCB_VERSION as 16 hex digits, byte 0 first (the order of the report). */
#define TCB_HEX_LEN 16
void tcb_to_hex(uint64_t tcb, char out[TCB_HEX_LEN + 1]);
int tcb_from_hex(const char *hex, uint64_t *ret_tcb);

/* Strict unsigned parsing: decimal or 0x-prefixed hex, no sign, no trailing
 * junk, at most max. Returns 0, -EINVAL or -ERANGE. */
int parse_u64(const char *s, uint64_t max, uint64_t *ret);
int parse_u32(const char *s, uint32_t max, uint32_t *ret);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-c with limits and wiping, for messages that may carry secrets
 * (passwords, PINs, plaintext, keys).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

#define JSON_DEPTH_MAX 16

/* Parse exactly len bytes (no NUL inside, nothing after the value) into
 * *ret with json-c's strict mode and a depth limit. The tokener's internal
 * buffer is wiped. -EBADMSG with errbuf filled for bad JSON. */
/* Details: every token is checked against RFC 8259 first (json-c's strict
 * mode alone lets through single-quoted keys, NaN, "1.", raw control
 * characters and overlong/surrogate UTF-8); whitespace around the value is
 * fine. max_depth is json-c's: every level counts, scalars included
 * ({"a":1} has depth 2). A top-level null gives *ret == NULL. Duplicate keys
 * are not detected (json-c keeps the last). -EMSGSIZE (errbuf filled) when
 * len >= INT_MAX. */
int json_parse_bounded(const char *text, size_t len, int max_depth, json_object **ret,
                       char *errbuf, size_t errlen);

/* Wipe every string value (recursively) and put the object. NULL is fine.
 * Only strings that this put really frees are wiped: a sub-object still
 * referenced elsewhere stays intact (and usable with json_object_deep_copy).
 * Object keys are not wiped. */
void json_object_put_wipe(json_object *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
static inline void json_object_put_wipep(json_object **o) {
        if (*o)
                json_object_put_wipe(*o);
}

/* Typed getters for validation: they return -EINVAL (wrong type),
 * -ENOENT (missing), -ERANGE (out of range), 0 success.
 * Strings: the pointer is owned by the object. */
/* Details: o not an object is -EINVAL; a JSON null counts as missing;
 * json_get_string refuses strings with an embedded NUL (-EINVAL);
 * json_get_uint takes integers only (negative: -ERANGE; json-c clamps values
 * beyond UINT64_MAX to UINT64_MAX); json_get_base64_exact: malformed base64
 * -EINVAL, another decoded length -ERANGE, out zeroed on failure. */
int json_get_string(json_object *o, const char *key, const char **ret);
int json_get_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret);
int json_get_bool(json_object *o, const char *key, bool *ret);
int json_get_object(json_object *o, const char *key, json_object **ret);
/* A base64 string field decoded into out (exactly size bytes). */
int json_get_base64_exact(json_object *o, const char *key, void *out, size_t size);

/* Add v (owned; NULL means its allocation failed) under key: 0 or -ENOMEM,
 * and v is released on failure. */
int json_add(json_object *o, const char *key, json_object *v);

/* Serialize compactly; the result is malloc()ed (for messages without secrets). */
int json_to_string_dup(json_object *o, char **ret, size_t *ret_len);

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
int json_parse_bounded(const char *text, size_t len, int max_depth, json_object **ret,
                       char *errbuf, size_t errlen);

/* Wipe every string value (recursively) and put the object. NULL is fine. */
void json_object_put_wipe(json_object *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
static inline void json_object_put_wipep(json_object **o) {
        if (*o)
                json_object_put_wipe(*o);
}

/* Typed getters for validation: they return -EINVAL (wrong type),
 * -ENOENT (missing), -ERANGE (out of range), 0 success.
 * Strings: the pointer is owned by the object. */
int json_get_string(json_object *o, const char *key, const char **ret);
int json_get_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret);
int json_get_bool(json_object *o, const char *key, bool *ret);
int json_get_object(json_object *o, const char *key, json_object **ret);
/* A base64 string field decoded into out (exactly size bytes). */
int json_get_base64_exact(json_object *o, const char *key, void *out, size_t size);

/* Serialize compactly; the result is malloc()ed (for messages without secrets). */
int json_to_string_dup(json_object *o, char **ret, size_t *ret_len);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one secret-buffer type. Every buffer that ever holds a key, PIN or
 * password comes from secret_alloc(): zeroed, mlock()ed where the limit allows,
 * excluded from core dumps (MADV_DONTDUMP), and wiped with explicit_bzero()
 * before it is unmapped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Keep up to pages wiped one-page buffers (locked ones only) for reuse
 * instead of unmapping them, at most SECRET_POOL_MAX; 0 (the default) keeps
 * none. For a long-running process that allocates many small secrets (the
 * agent); never in someone else's process (PAM, the token plugin). */
#define SECRET_POOL_MAX 256u
void secret_pool_enable(unsigned pages);

/* Returns NULL with errno set on failure (ENOMEM, or EINVAL for size 0). */
void *secret_alloc(size_t size);
/* Wipes and releases; NULL is fine. */
void secret_free(void *p);
/* The size given to secret_alloc(). */
size_t secret_size(const void *p);
/* Whether the pages are locked in memory (best effort; false under a low RLIMIT_MEMLOCK). */
bool secret_is_locked(const void *p);
/* A secret copy of a buffer. */
void *secret_dup(const void *src, size_t size);

static inline void secret_freep(void *p) {
        secret_free(*(void **) p);
}
#define _cleanup_secret_ __attribute__((cleanup(secret_freep)))

/* Wipe memory that the compiler may not optimise away. */
void secret_wipe(void *p, size_t size);

/* Constant-time comparison of two buffers of equal size: true when equal. */
bool ct_memeq(const void *a, const void *b, size_t size);

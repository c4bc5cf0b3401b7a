/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "macro.h"
#include "secret.h"

#define SECRET_MAGIC UINT64_C(0x736e707365616c53) /* "SlaespnS" */

/* The header sits in front of the payload on the same locked mapping. */
struct secret_header {
        uint64_t magic;
        size_t size;      /* payload size asked for */
        size_t map_size;  /* whole mapping */
        int locked;
        int pad;
};

static size_t page_size(void) {
        long ps = sysconf(_SC_PAGESIZE);
        return ps > 0 ? (size_t) ps : 4096;
}

static struct secret_header *header_of(const void *p) {
        /* p came from secret_alloc(): the header sits, aligned, right before it. */
        struct secret_header *h = (struct secret_header *) (void *) ((uint8_t *) p - sizeof(struct secret_header));
        /* Programmer error, never input: a pointer that did not come from secret_alloc(). */
        if (h->magic != SECRET_MAGIC)
                abort();
        return h;
}

/* Wiped one-page mappings kept for reuse (secret_pool_enable()): the
 * agent allocates a few secret buffers per call, and mmap/mlock/munlock/
 * munmap for each was most of its system time. A kept page stays locked
 * and excluded from core dumps, and is all zero. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool[SECRET_POOL_MAX];
static unsigned pool_n, pool_max;

void secret_pool_enable(unsigned pages) {
        (void) pthread_mutex_lock(&pool_lock);
        pool_max = pages < SECRET_POOL_MAX ? pages : SECRET_POOL_MAX;
        (void) pthread_mutex_unlock(&pool_lock);
}

static void *pool_take(void) {
        void *map = NULL;

        (void) pthread_mutex_lock(&pool_lock);
        if (pool_n > 0)
                map = pool[--pool_n];
        (void) pthread_mutex_unlock(&pool_lock);
        return map;
}

/* Keep a wiped, locked one-page mapping; false when the pool is full. */
static bool pool_put(void *map) {
        bool kept = false;

        (void) pthread_mutex_lock(&pool_lock);
        if (pool_n < pool_max) {
                pool[pool_n++] = map;
                kept = true;
        }
        (void) pthread_mutex_unlock(&pool_lock);
        return kept;
}

void *secret_alloc(size_t size) {
        size_t total, ps = page_size();

        if (size == 0) {
                errno = EINVAL;
                return NULL;
        }
        if (!SIZE_ADD_OK(size, sizeof(struct secret_header) + ps - 1, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        total -= total % ps;

        void *map = total == ps ? pool_take() : NULL;
        if (map) {
                struct secret_header *h = map;

                h->magic = SECRET_MAGIC;
                h->size = size;
                h->map_size = total;
                h->locked = 1;
                return (uint8_t *) map + sizeof(struct secret_header);
        }
        map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED)
                return NULL;

        (void) madvise(map, total, MADV_DONTDUMP);
        (void) madvise(map, total, MADV_WIPEONFORK);

        struct secret_header *h = map;
        h->magic = SECRET_MAGIC;
        h->size = size;
        h->map_size = total;
        h->locked = mlock(map, total) == 0;
        return (uint8_t *) map + sizeof(struct secret_header);
}

void secret_free(void *p) {
        if (!p)
                return;

        int saved = errno;
        struct secret_header *h = header_of(p);
        size_t total = h->map_size;
        int locked = h->locked;

        explicit_bzero(h, total);
        if (locked && total == page_size() && pool_put(h)) {
                errno = saved;
                return;
        }
        if (locked)
                (void) munlock(h, total);
        (void) munmap(h, total);
        errno = saved;
}

size_t secret_size(const void *p) {
        return header_of(p)->size;
}

bool secret_is_locked(const void *p) {
        return header_of(p)->locked;
}

void *secret_dup(const void *src, size_t size) {
        void *p = secret_alloc(size);
        if (p)
                memcpy(p, src, size);
        return p;
}

void secret_wipe(void *p, size_t size) {
        if (p && size > 0)
                explicit_bzero(p, size);
}

bool ct_memeq(const void *a, const void *b, size_t size) {
        const volatile uint8_t *x = a, *y = b;
        uint8_t acc = 0;

        for (size_t i = 0; i < size; i++)
                acc |= x[i] ^ y[i];
        return acc == 0;
}

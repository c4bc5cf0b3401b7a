/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key-cache.h"
#include "macro.h"
#include "secret.h"

enum entry_state {
        ENTRY_FREE,
        ENTRY_PENDING,     /* a thread is asking the firmware */
        ENTRY_READY,
};

struct entry {
        struct snp_msg_key_req req;
        enum entry_state state;
        uint64_t expiry;             /* CLOCK_BOOTTIME usec; READY only */
        uint8_t key[SNP_KEY_LEN];
};

struct snp_key_cache {
        pthread_mutex_t lock;
        pthread_cond_t answered;     /* a PENDING entry was filled or abandoned */
        uint64_t ttl_usec;
        struct entry *e;             /* SNP_KEY_CACHE_MAX, secret memory */
};

uint64_t snp_key_cache_now(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int snp_key_cache_new(unsigned ttl_sec, struct snp_key_cache **ret) {
        struct snp_key_cache *c;

        if (ttl_sec == 0)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->e = secret_alloc(SNP_KEY_CACHE_MAX * sizeof(struct entry));
        if (!c->e) {
                free(c);
                return -ENOMEM;
        }
        (void) pthread_mutex_init(&c->lock, NULL);
        (void) pthread_cond_init(&c->answered, NULL);
        c->ttl_usec = (uint64_t) ttl_sec * 1000000u;
        *ret = c;
        return 0;
}

void snp_key_cache_free(struct snp_key_cache *c) {
        if (!c)
                return;
        secret_free(c->e);
        (void) pthread_cond_destroy(&c->answered);
        (void) pthread_mutex_destroy(&c->lock);
        free(c);
}

static void entry_wipe(struct entry *e) {
        secret_wipe(e, sizeof(*e));   /* state ENTRY_FREE is 0 */
}

static struct entry *entry_find(struct snp_key_cache *c, const struct snp_msg_key_req *req) {
        for (unsigned i = 0; i < SNP_KEY_CACHE_MAX; i++)
                if (c->e[i].state != ENTRY_FREE && memcmp(&c->e[i].req, req, sizeof(*req)) == 0)
                        return &c->e[i];
        return NULL;
}

/* A free entry, else the READY one expiring first (wiped); NULL when every
 * entry is PENDING. */
static struct entry *entry_claim(struct snp_key_cache *c) {
        struct entry *oldest = NULL;

        for (unsigned i = 0; i < SNP_KEY_CACHE_MAX; i++) {
                struct entry *e = &c->e[i];

                if (e->state == ENTRY_FREE)
                        return e;
                if (e->state == ENTRY_READY && (!oldest || e->expiry < oldest->expiry))
                        oldest = e;
        }
        if (oldest)
                entry_wipe(oldest);
        return oldest;
}

static unsigned expire_locked(struct snp_key_cache *c, uint64_t now) {
        unsigned n = 0;

        for (unsigned i = 0; i < SNP_KEY_CACHE_MAX; i++)
                if (c->e[i].state == ENTRY_READY && c->e[i].expiry <= now) {
                        entry_wipe(&c->e[i]);
                        n++;
                }
        return n;
}

enum snp_key_cache_result snp_key_cache_get(struct snp_key_cache *c, const struct snp_msg_key_req *req,
                                            uint8_t key_out[SNP_KEY_LEN]) {
        enum snp_key_cache_result res = SNP_KEY_CACHE_BYPASS;
        struct entry *e;

        (void) pthread_mutex_lock(&c->lock);
        for (;;) {
                (void) expire_locked(c, snp_key_cache_now());
                e = entry_find(c, req);
                if (!e)
                        break;
                if (e->state == ENTRY_READY) {
                        memcpy(key_out, e->key, SNP_KEY_LEN);
                        res = SNP_KEY_CACHE_HIT;
                        goto out;
                }
                (void) pthread_cond_wait(&c->answered, &c->lock);
        }
        e = entry_claim(c);
        if (e) {
                e->req = *req;
                e->state = ENTRY_PENDING;
                res = SNP_KEY_CACHE_FILL;
        }
out:
        (void) pthread_mutex_unlock(&c->lock);
        return res;
}

bool snp_key_cache_peek(struct snp_key_cache *c, const struct snp_msg_key_req *req, uint8_t key_out[SNP_KEY_LEN]) {
        struct entry *e;
        bool hit = false;

        (void) pthread_mutex_lock(&c->lock);
        (void) expire_locked(c, snp_key_cache_now());
        e = entry_find(c, req);
        if (e && e->state == ENTRY_READY) {
                memcpy(key_out, e->key, SNP_KEY_LEN);
                hit = true;
        }
        (void) pthread_mutex_unlock(&c->lock);
        return hit;
}

void snp_key_cache_put(struct snp_key_cache *c, const struct snp_msg_key_req *req, const uint8_t key[SNP_KEY_LEN]) {
        struct entry *e;

        (void) pthread_mutex_lock(&c->lock);
        e = entry_find(c, req);
        if (e && e->state == ENTRY_PENDING) {
                memcpy(e->key, key, SNP_KEY_LEN);
                e->expiry = snp_key_cache_now() + c->ttl_usec;
                e->state = ENTRY_READY;
        }
        (void) pthread_cond_broadcast(&c->answered);
        (void) pthread_mutex_unlock(&c->lock);
}

void snp_key_cache_abandon(struct snp_key_cache *c, const struct snp_msg_key_req *req) {
        struct entry *e;

        (void) pthread_mutex_lock(&c->lock);
        e = entry_find(c, req);
        if (e && e->state == ENTRY_PENDING)
                entry_wipe(e);
        (void) pthread_cond_broadcast(&c->answered);
        (void) pthread_mutex_unlock(&c->lock);
}

unsigned snp_key_cache_expire(struct snp_key_cache *c, uint64_t now_usec) {
        unsigned n;

        (void) pthread_mutex_lock(&c->lock);
        n = expire_locked(c, now_usec);
        (void) pthread_mutex_unlock(&c->lock);
        return n;
}

void snp_key_cache_clear(struct snp_key_cache *c) {
        (void) pthread_mutex_lock(&c->lock);
        /* PENDING entries stay: their threads fill or abandon them. */
        (void) expire_locked(c, UINT64_MAX);
        (void) pthread_mutex_unlock(&c->lock);
}

uint64_t snp_key_cache_next_expiry(struct snp_key_cache *c) {
        uint64_t t = UINT64_MAX;

        (void) pthread_mutex_lock(&c->lock);
        for (unsigned i = 0; i < SNP_KEY_CACHE_MAX; i++)
                if (c->e[i].state == ENTRY_READY && c->e[i].expiry < t)
                        t = c->e[i].expiry;
        (void) pthread_mutex_unlock(&c->lock);
        return t;
}

unsigned snp_key_cache_size(struct snp_key_cache *c) {
        unsigned n = 0;

        (void) pthread_mutex_lock(&c->lock);
        for (unsigned i = 0; i < SNP_KEY_CACHE_MAX; i++)
                n += c->e[i].state == ENTRY_READY;
        (void) pthread_mutex_unlock(&c->lock);
        return n;
}

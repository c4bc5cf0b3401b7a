/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Wrong-password rate limiting per uid: a small fixed table. A uid that
 * collects `attempts` failures within `window_sec` of its first failure is
 * refused until that window has passed. When the table is full, an expired
 * entry is reused, else the least recently used one. attempts or window_sec
 * 0 switches limiting off.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "agent.h"

#define RATELIMIT_ENTRIES 64
#define USEC_PER_SEC UINT64_C(1000000)

struct ratelimit_entry {
        bool used;
        uid_t uid;
        unsigned failures;
        uint64_t window_start;     /* usec, first failure of the window */
        uint64_t last_used;        /* usec, for LRU eviction */
};

struct agent_ratelimit {
        unsigned attempts;
        uint64_t window_usec;
        uint64_t (*now)(void *userdata);
        void *userdata;
        struct ratelimit_entry entries[RATELIMIT_ENTRIES];
};

static uint64_t monotonic_usec(void *userdata) {
        struct timespec ts;

        (void) userdata;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

int agent_ratelimit_new(unsigned attempts, unsigned window_sec, struct agent_ratelimit **ret) {
        struct agent_ratelimit *rl = calloc(1, sizeof(*rl));

        if (!rl)
                return -ENOMEM;
        rl->attempts = attempts;
        rl->window_usec = (uint64_t) window_sec * USEC_PER_SEC;
        rl->now = monotonic_usec;
        *ret = rl;
        return 0;
}

void agent_ratelimit_free(struct agent_ratelimit *rl) {
        free(rl);
}

void agent_ratelimit_set_clock(struct agent_ratelimit *rl, uint64_t (*now_usec)(void *userdata),
                               void *userdata) {
        rl->now = now_usec ? now_usec : monotonic_usec;
        rl->userdata = now_usec ? userdata : NULL;
}

static bool ratelimit_enabled(const struct agent_ratelimit *rl) {
        return rl && rl->attempts > 0 && rl->window_usec > 0;
}

static bool entry_expired(const struct agent_ratelimit *rl, const struct ratelimit_entry *e, uint64_t now) {
        return now - e->window_start >= rl->window_usec;
}

static struct ratelimit_entry *ratelimit_find(struct agent_ratelimit *rl, uid_t uid) {
        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++)
                if (rl->entries[i].used && rl->entries[i].uid == uid)
                        return &rl->entries[i];
        return NULL;
}

/* A free slot, else an expired one, else the least recently used. */
static struct ratelimit_entry *ratelimit_slot(struct agent_ratelimit *rl, uint64_t now) {
        struct ratelimit_entry *lru = &rl->entries[0];

        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++)
                if (!rl->entries[i].used)
                        return &rl->entries[i];
        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++) {
                struct ratelimit_entry *e = &rl->entries[i];

                if (entry_expired(rl, e, now))
                        return e;
                if (e->last_used < lru->last_used)
                        lru = e;
        }
        return lru;
}

int agent_ratelimit_check(struct agent_ratelimit *rl, uid_t uid, unsigned *ret_retry_after_sec) {
        struct ratelimit_entry *e;
        uint64_t now, left;

        if (!ratelimit_enabled(rl))
                return 0;
        e = ratelimit_find(rl, uid);
        if (!e)
                return 0;
        now = rl->now(rl->userdata);
        if (entry_expired(rl, e, now)) {
                *e = (struct ratelimit_entry) {};
                return 0;
        }
        e->last_used = now;
        if (e->failures < rl->attempts)
                return 0;
        left = rl->window_usec - (now - e->window_start);
        if (ret_retry_after_sec)
                *ret_retry_after_sec = (unsigned) ((left + USEC_PER_SEC - 1) / USEC_PER_SEC);
        return -EBUSY;
}

void agent_ratelimit_failure(struct agent_ratelimit *rl, uid_t uid) {
        struct ratelimit_entry *e;
        uint64_t now;

        if (!ratelimit_enabled(rl))
                return;
        now = rl->now(rl->userdata);
        e = ratelimit_find(rl, uid);
        if (e && entry_expired(rl, e, now))
                *e = (struct ratelimit_entry) {};
        if (!e || !e->used) {
                if (!e)
                        e = ratelimit_slot(rl, now);
                *e = (struct ratelimit_entry) { .used = true, .uid = uid, .window_start = now };
        }
        if (e->failures < UINT32_MAX)
                e->failures++;
        e->last_used = now;
}

void agent_ratelimit_success(struct agent_ratelimit *rl, uid_t uid) {
        struct ratelimit_entry *e;

        if (!ratelimit_enabled(rl))
                return;
        e = ratelimit_find(rl, uid);
        if (e)
                *e = (struct ratelimit_entry) {};
}

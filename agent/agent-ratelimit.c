/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Wrong-password rate limiting per (uid, object): a fixed table. An object
 * is named by SHA-256 over its purpose and VM-layer salt, which no one can
 * reuse for an object of their own without the agent's key, so a success on
 * a decoy object never clears the count of another one. A (uid, object)
 * that collects `attempts` failures within `window_sec` of its first failure
 * is refused until that window has passed; only a success on that very
 * object resets it.
 *
 * Attempts are bracketed (agent_ratelimit_begin/_end): an attempt in flight
 * counts against the limit, so concurrent guesses cannot overrun it.
 *
 * The table never evicts a live entry: a uid with RATELIMIT_PER_UID live
 * entries may not try a further object, and a full table refuses new objects,
 * until windows pass (fail closed). With a state file the failures and
 * windows survive restarts: the file is rewritten (atomically) whenever a
 * count changes and read at start. Time is CLOCK_REALTIME, so a window keeps
 * running while the agent is stopped; a window that starts in the future
 * (the clock went back) is clamped to now. attempts or window_sec 0 switches
 * limiting off.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent.h"
#include "fileio.h"
#include "hexutil.h"
#include "log.h"
#include "macro.h"

#define RATELIMIT_ENTRIES 1024
#define RATELIMIT_PER_UID 32
#define USEC_PER_SEC UINT64_C(1000000)
#define RATELIMIT_LABEL "snpseal/v1/ratelimit-object"
/* One line: uid, object hex, failures, window start: well below 128. */
#define RATELIMIT_LINE_MAX 128
#define RATELIMIT_FILE_MAX (RATELIMIT_ENTRIES * RATELIMIT_LINE_MAX)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

struct ratelimit_entry {
        bool used;
        uid_t uid;
        uint8_t object[AGENT_RATELIMIT_OBJECT_LEN];
        unsigned failures;
        unsigned pending;          /* attempts in flight */
        uint64_t window_start;     /* usec, first failure of the window */
};

struct agent_ratelimit {
        unsigned attempts;
        uint64_t window_usec;
        uint64_t (*now)(void *userdata);
        void *userdata;
        char *state_file;          /* NULL: not persisted */
        pthread_mutex_t lock;
        struct ratelimit_entry entries[RATELIMIT_ENTRIES];
};

static uint64_t realtime_usec(void *userdata) {
        struct timespec ts;

        (void) userdata;
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

int agent_ratelimit_object_id(const char *purpose, const uint8_t *salt, size_t salt_len,
                              uint8_t ret[AGENT_RATELIMIT_OBJECT_LEN]) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned n = 0;
        int r = 0;

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(ctx, RATELIMIT_LABEL, sizeof(RATELIMIT_LABEL)) != 1 ||
            EVP_DigestUpdate(ctx, purpose, strlen(purpose) + 1) != 1 ||
            EVP_DigestUpdate(ctx, salt, salt_len) != 1 ||
            EVP_DigestFinal_ex(ctx, ret, &n) != 1 || n != AGENT_RATELIMIT_OBJECT_LEN)
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        return r;
}

int agent_ratelimit_new(unsigned attempts, unsigned window_sec, struct agent_ratelimit **ret) {
        struct agent_ratelimit *rl = calloc(1, sizeof(*rl));

        if (!rl)
                return -ENOMEM;
        rl->attempts = attempts;
        rl->window_usec = (uint64_t) window_sec * USEC_PER_SEC;
        rl->now = realtime_usec;
        if (pthread_mutex_init(&rl->lock, NULL) != 0) {
                free(rl);
                return -ENOMEM;
        }
        *ret = rl;
        return 0;
}

void agent_ratelimit_free(struct agent_ratelimit *rl) {
        if (!rl)
                return;
        (void) pthread_mutex_destroy(&rl->lock);
        free(rl->state_file);
        free(rl);
}

void agent_ratelimit_set_clock(struct agent_ratelimit *rl, uint64_t (*now_usec)(void *userdata),
                               void *userdata) {
        rl->now = now_usec ? now_usec : realtime_usec;
        rl->userdata = now_usec ? userdata : NULL;
}

static bool ratelimit_enabled(const struct agent_ratelimit *rl) {
        return rl && rl->attempts > 0 && rl->window_usec > 0;
}

static bool entry_expired(const struct agent_ratelimit *rl, const struct ratelimit_entry *e, uint64_t now) {
        return e->failures == 0 || now - e->window_start >= rl->window_usec;
}

static bool entry_live(const struct agent_ratelimit *rl, const struct ratelimit_entry *e, uint64_t now) {
        return e->used && (e->pending > 0 || !entry_expired(rl, e, now));
}

static uint64_t entry_left(const struct agent_ratelimit *rl, const struct ratelimit_entry *e, uint64_t now) {
        return entry_expired(rl, e, now) ? 0 : rl->window_usec - (now - e->window_start);
}

static unsigned usec_to_sec_up(uint64_t usec) {
        return (unsigned) ((usec + USEC_PER_SEC - 1) / USEC_PER_SEC);
}

static struct ratelimit_entry *ratelimit_find(struct agent_ratelimit *rl, uid_t uid, const uint8_t *object) {
        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++) {
                struct ratelimit_entry *e = &rl->entries[i];

                if (e->used && e->uid == uid && memcmp(e->object, object, AGENT_RATELIMIT_OBJECT_LEN) == 0)
                        return e;
        }
        return NULL;
}

/* ---- the state file: "uid object-hex failures window-start-usec" lines ---- */

static int ratelimit_format(const struct agent_ratelimit *rl, uint64_t now, char **ret, size_t *ret_len) {
        char *buf = malloc(RATELIMIT_FILE_MAX + 1), *p = buf;

        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++) {
                const struct ratelimit_entry *e = &rl->entries[i];
                char hex[2 * AGENT_RATELIMIT_OBJECT_LEN + 1];

                if (!e->used || entry_expired(rl, e, now))
                        continue;
                hex_encode(e->object, sizeof(e->object), hex);
                p += snprintf(p, RATELIMIT_LINE_MAX, "%u %s %u %" PRIu64 "\n", (unsigned) e->uid, hex,
                              e->failures, e->window_start);
        }
        *ret = buf;
        *ret_len = (size_t) (p - buf);
        return 0;
}

/* Write the state file atomically. Called with the lock held. */
static void ratelimit_save(struct agent_ratelimit *rl) {
        _cleanup_(freep) char *text = NULL, *tmp = NULL;
        _cleanup_(closep) int fd = -1;
        size_t len = 0;
        int r;

        if (!rl->state_file)
                return;
        r = ratelimit_format(rl, rl->now(rl->userdata), &text, &len);
        if (r >= 0 && asprintf(&tmp, "%s.tmp", rl->state_file) < 0) {
                tmp = NULL;
                r = -ENOMEM;
        }
        if (r >= 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
                r = -errno;
        if (r >= 0 && (size_t) write(fd, text, len) != len)
                r = -EIO;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, rl->state_file) < 0)
                r = -errno;
        if (r < 0) {
                log_warning("cannot save the rate-limit state to %s: %s; counts are kept in memory only",
                            rl->state_file, strerror(-r));
                if (tmp)
                        (void) unlink(tmp);
        }
}

static int ratelimit_parse_line(struct agent_ratelimit *rl, const char *line, uint64_t now) {
        char hex[2 * AGENT_RATELIMIT_OBJECT_LEN + 2];
        unsigned uid, failures;
        uint64_t start;
        struct ratelimit_entry e = { .used = true };

        if (sscanf(line, "%u %65s %u %" SCNu64, &uid, hex, &failures, &start) != 4 || failures == 0 ||
            hex_decode_exact(hex, e.object, sizeof(e.object)) < 0)
                return -EBADMSG;
        e.uid = uid;
        e.failures = failures;
        e.window_start = start > now ? now : start;
        if (entry_expired(rl, &e, now) || ratelimit_find(rl, e.uid, e.object))
                return 0;
        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++)
                if (!rl->entries[i].used) {
                        rl->entries[i] = e;
                        return 0;
                }
        return 0;
}

int agent_ratelimit_load(struct agent_ratelimit *rl, const char *state_file) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        uint64_t now;
        int r;

        free(rl->state_file);
        rl->state_file = strdup(state_file);
        if (!rl->state_file)
                return -ENOMEM;
        fd = open(state_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        text = malloc(RATELIMIT_FILE_MAX + 1);
        if (!text)
                return -ENOMEM;
        r = fileio_read_upto(fd, text, RATELIMIT_FILE_MAX, &len);
        if (r < 0)
                return r;
        text[len] = '\0';
        now = rl->now(rl->userdata);
        for (char *line = text, *end; *line; line = end) {
                end = strchrnul(line, '\n');
                if (*end)
                        *end++ = '\0';
                if (*line && ratelimit_parse_line(rl, line, now) < 0)
                        r = -EBADMSG;   /* keep the good lines */
        }
        return r;
}

/* ---- the limiter ---- */

/* The entry for (uid, object), made when the uid and the table have room. */
static int ratelimit_slot(struct agent_ratelimit *rl, uid_t uid, const uint8_t *object, uint64_t now,
                          struct ratelimit_entry **ret, uint64_t *ret_left) {
        struct ratelimit_entry *e = ratelimit_find(rl, uid, object), *free_slot = NULL;
        uint64_t uid_left = UINT64_MAX, all_left = UINT64_MAX;
        unsigned uid_live = 0;

        if (e) {
                *ret = e;
                return 0;
        }
        for (size_t i = 0; i < RATELIMIT_ENTRIES; i++) {
                struct ratelimit_entry *x = &rl->entries[i];
                uint64_t left;

                if (!entry_live(rl, x, now)) {
                        if (!free_slot)
                                free_slot = x;
                        continue;
                }
                left = x->pending > 0 ? 0 : entry_left(rl, x, now);
                all_left = MIN(all_left, left);
                if (x->uid == uid) {
                        uid_live++;
                        uid_left = MIN(uid_left, left);
                }
        }
        if (uid_live >= RATELIMIT_PER_UID || !free_slot) {
                *ret_left = uid_live >= RATELIMIT_PER_UID ? uid_left : all_left;
                return -EUSERS;
        }
        *free_slot = (struct ratelimit_entry) { .used = true, .uid = uid };
        memcpy(free_slot->object, object, AGENT_RATELIMIT_OBJECT_LEN);
        *ret = free_slot;
        return 0;
}

int agent_ratelimit_begin(struct agent_ratelimit *rl, uid_t uid, const uint8_t object[AGENT_RATELIMIT_OBJECT_LEN],
                          unsigned *ret_retry_after_sec) {
        struct ratelimit_entry *e = NULL;
        uint64_t now, left = 0;
        int r;

        if (!ratelimit_enabled(rl))
                return 0;
        (void) pthread_mutex_lock(&rl->lock);
        now = rl->now(rl->userdata);
        r = ratelimit_slot(rl, uid, object, now, &e, &left);
        if (r >= 0 && entry_expired(rl, e, now))
                e->failures = 0;
        if (r >= 0 && e->failures + e->pending >= rl->attempts) {
                left = e->failures >= rl->attempts ? entry_left(rl, e, now) : 0;
                r = -EBUSY;
        }
        if (r >= 0)
                e->pending++;
        (void) pthread_mutex_unlock(&rl->lock);
        if (r < 0 && ret_retry_after_sec)
                *ret_retry_after_sec = MAX(usec_to_sec_up(left), 1u);
        return r;
}

void agent_ratelimit_end(struct agent_ratelimit *rl, uid_t uid, const uint8_t object[AGENT_RATELIMIT_OBJECT_LEN],
                         enum agent_ratelimit_outcome outcome) {
        struct ratelimit_entry *e;
        uint64_t now;
        bool changed = false;

        if (!ratelimit_enabled(rl))
                return;
        (void) pthread_mutex_lock(&rl->lock);
        now = rl->now(rl->userdata);
        e = ratelimit_find(rl, uid, object);
        if (e) {
                if (e->pending > 0)
                        e->pending--;
                if (outcome == AGENT_RATELIMIT_WRONG) {
                        if (entry_expired(rl, e, now))
                                *e = (struct ratelimit_entry) { .used = true, .uid = e->uid,
                                                                .pending = e->pending, .window_start = now };
                        memcpy(e->object, object, AGENT_RATELIMIT_OBJECT_LEN);
                        if (e->failures < UINT_MAX)
                                e->failures++;
                        changed = true;
                } else if (outcome == AGENT_RATELIMIT_RIGHT && e->failures > 0) {
                        e->failures = 0;
                        changed = true;
                }
                if (e->pending == 0 && entry_expired(rl, e, now))
                        *e = (struct ratelimit_entry) {};
        }
        if (changed)
                ratelimit_save(rl);
        (void) pthread_mutex_unlock(&rl->lock);
}

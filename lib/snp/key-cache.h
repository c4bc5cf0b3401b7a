/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Firmware keys kept for a bounded time, so that the volumes of one boot
 * that share a binding cost one MSG_KEY_REQ (docs/ARCHITECTURE.md, "The
 * firmware key cache").
 *
 * An entry is keyed on the whole MSG_KEY_REQ (every byte the firmware
 * sees) and holds the 32-byte key the firmware answered, in secret memory
 * (secret.h: locked, excluded from core dumps, wiped on free). An entry
 * lives ttl seconds from the firmware's answer on CLOCK_BOOTTIME (time
 * suspended counts) and is wiped when it expires: on the next access, or
 * by snp_key_cache_expire(), which the agent runs from a timer at
 * snp_key_cache_next_expiry(), so a key is wiped even when nobody calls.
 *
 * Concurrent requests for the same key wait for the first one's answer
 * instead of asking the firmware themselves (one request per binding).
 * Thread-safe. The cache holds keys only; who may use them is decided by
 * the caller before every lookup.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "snp-abi.h"

/* Entries at most; when full, the entry closest to expiry makes room. */
#define SNP_KEY_CACHE_MAX 64u

struct snp_key_cache;

/* ttl_sec > 0. -ENOMEM. */
int snp_key_cache_new(unsigned ttl_sec, struct snp_key_cache **ret);
/* Wipes every key. NULL is fine. */
void snp_key_cache_free(struct snp_key_cache *c);

enum snp_key_cache_result {
        SNP_KEY_CACHE_HIT,     /* key_out holds the key */
        SNP_KEY_CACHE_FILL,    /* ask the firmware, then snp_key_cache_put() or _abandon() */
        SNP_KEY_CACHE_BYPASS,  /* ask the firmware; the cache is full of requests in flight */
};
/* Look req up. When another thread is asking the firmware for the same
 * request, wait for its answer (and ask the firmware if it failed). */
enum snp_key_cache_result snp_key_cache_get(struct snp_key_cache *c, const struct snp_msg_key_req *req,
                                            uint8_t key_out[SNP_KEY_LEN]);
/* Look req up without waiting and without claiming an entry: true with
 * key_out when a key is ready, false otherwise (also while another thread
 * is asking the firmware for it). */
bool snp_key_cache_peek(struct snp_key_cache *c, const struct snp_msg_key_req *req, uint8_t key_out[SNP_KEY_LEN]);
/* After SNP_KEY_CACHE_FILL: the firmware's answer, or that it failed. */
void snp_key_cache_put(struct snp_key_cache *c, const struct snp_msg_key_req *req, const uint8_t key[SNP_KEY_LEN]);
void snp_key_cache_abandon(struct snp_key_cache *c, const struct snp_msg_key_req *req);

/* Wipe the entries expired at now_usec (CLOCK_BOOTTIME); returns how many. */
unsigned snp_key_cache_expire(struct snp_key_cache *c, uint64_t now_usec);
/* Wipe every entry (the launch changed). */
void snp_key_cache_clear(struct snp_key_cache *c);
/* CLOCK_BOOTTIME usec of the earliest expiry, UINT64_MAX when empty. */
uint64_t snp_key_cache_next_expiry(struct snp_key_cache *c);
/* Entries holding a key. */
unsigned snp_key_cache_size(struct snp_key_cache *c);
/* The cache's clock, CLOCK_BOOTTIME in usec. */
uint64_t snp_key_cache_now(void);

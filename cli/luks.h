/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseal's LUKS2 side (enroll, list, remove, reseal, unlock; man snpseal):
 * libcryptsetup helpers and the steps that add and remove snpseal tokens.
 * The verbs in verbs-luks.c parse options and call these.
 *
 * Every function that fails prints one line "snpseal: VERB: DEVICE: reason"
 * (or the agent's error) and returns -errno; callers only map to exit codes.
 *
 * Crash safety: every change to the header is one libcryptsetup metadata
 * write, and the steps are ordered so that a process killed between any two
 * of them leaves every unlock method that worked before still working
 * (except, for remove, the one being removed), and never a keyslot whose
 * salt is gone:
 *   add:    token (without keyslot), keyslot, assignment, verification;
 *   remove: keyslot, then token.
 * An interruption leaves at most a token without keyslot, and perhaps an
 * unassigned keyslot its derived key opens: luks_repair() (run by enroll,
 * reseal) removes both; list shows such tokens.
 * See luks_step() for the test hook that kills the process between steps.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libcryptsetup.h>

#include "cli.h"
#include "conffile.h"
#include "token-json.h"

#define LUKS_PLUGIN_NAME "libcryptsetup-token-" SNPSEAL_TOKEN_TYPE ".so"
/* Like cryptsetup's --key-file default limit. */
#define LUKS_KEYFILE_MAX (8u * 1024u * 1024u)
#define LUKS_KEYSLOTS_MAX 32
/* Tries at a passphrase or PIN prompt, as systemd-cryptenroll allows. */
#define LUKS_PROMPT_TRIES 3
#define LUKS_TOKENS_MAX 32
/* Recovery key: 32 characters from a 32-letter alphabet (160 bits), in
 * groups of 4 joined by '-'. */
#define LUKS_RECOVERY_CHARS 32
#define LUKS_RECOVERY_GROUP 4
#define LUKS_RECOVERY_LEN (LUKS_RECOVERY_CHARS + LUKS_RECOVERY_CHARS / LUKS_RECOVERY_GROUP - 1)

/* One LUKS2 device being worked on. */
struct luks {
        const struct cli *cli;
        const char *verb;
        const char *path;
        struct crypt_device *cd;
        struct varlink_client *agent;   /* connected by luks_agent() */
};

/* ---- test hook ---- */

/* SNPSEAL_TEST_INTERRUPT=<step> makes the process _exit(99) right after
 * that step; =list prints the step names. Only reads the environment. */
void luks_step(const char *name);
/* Ctrl-C (SIGINT, SIGTERM, SIGHUP): before the first change the run ends
 * at once with "interrupted; nothing on PATH was changed"; once
 * luks_progress() said what is being changed, the run goes on to the next
 * luks_step() and stops there (status 128 + signal) printing that state and
 * how to finish. SNPSEAL_TEST_SIGNAL=<step> raises SIGINT at that step. */
void luks_signals_setup(const char *verb, const char *path);
void luks_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What is still to do once a new token is enrolled ("; the recovery key
 * was not added: …"), appended to the state luks_token_enroll() reports. */
void luks_progress_after(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 (after printing the list) when SNPSEAL_TEST_INTERRUPT=list, -EINVAL
 * (printed) for an unknown step name, else 0. */
int luks_steps_check(const char *verb);

/* ---- device ---- */

/* libcryptsetup's messages on stderr ("snpseal: …"): errors and normal
 * messages, debug too when debug. */
void luks_log_setup(bool debug);
/* Open and load a LUKS2 header: "not a LUKS2 device", "a LUKS1 device", … */
int luks_open(const struct cli *cli, const char *verb, const char *path, struct luks *ret);
void luks_close(struct luks *l);
/* Connect to the agent once (later calls reuse the connection). */
int luks_agent(struct luks *l);
/* Whether the token plugin is installed where libcryptsetup looks for it:
 * "the snpseal token plugin is not installed in DIR". */
int luks_plugin_check(const struct luks *l);

/* Keyslots in use (active, bound to the volume) as a bit mask. */
uint32_t luks_keyslots_active(const struct luks *l);
/* Keyslots assigned to token id. */
uint32_t luks_token_keyslots(const struct luks *l, int token);
/* "1,3" for a mask. */
void luks_slots_format(uint32_t mask, char *buf, size_t size);

/* ---- keyslot kinds (as systemd-cryptenroll sees them) ---- */

/* systemd-cryptenroll's mark of a recovery key keyslot. */
#define LUKS_RECOVERY_TOKEN_TYPE "systemd-recovery"

/* Active keyslots assigned to tokens of type (NULL: of any type). */
uint32_t luks_keyslots_of_type(const struct luks *l, const char *type);
/* Active keyslots that open the volume whatever this VM's identity:
 * passphrases, the recovery key, tokens of other types — all but the
 * snpseal tokens' keyslots. */
uint32_t luks_keyslots_vm_free(const struct luks *l);
/* "passphrase", "recovery key (token 2)", "snpseal token 0",
 * "systemd-tpm2 token 1" (into buf). */
const char *luks_keyslot_kind(const struct luks *l, int keyslot, char *buf, size_t size);
/* Mark keyslot as the recovery key with a systemd-recovery token: the
 * token id, or -errno (printed). */
int luks_recovery_token_add(const struct luks *l, int keyslot);
/* --wipe-slot: keyslot numbers and systemd-cryptenroll's names (password,
 * recovery, empty, all, snpseal, pkcs11, fido2, tpm2), ','-separated. */
bool luks_wipe_name_valid(const char *word);
/* The keyslots spec names now (printed error for a number not in use). */
int luks_wipe_resolve(const struct luks *l, const char *spec, uint32_t *ret);

/* ---- tokens ---- */

struct luks_token {
        int id;
        int parse_error;            /* 0, or the token_json_parse() error (message in error) */
        char error[256];
        struct snpseal_token t;
};
/* Every token of type snpseal, in id order. */
int luks_tokens_load(const struct luks *l, struct luks_token **ret, size_t *ret_n);
void luks_tokens_free(struct luks_token *tokens, size_t n);

/* ---- unlocking ---- */

/* The volume key (secret memory) from a passphrase on keyslot (or
 * CRYPT_ANY_SLOT). quiet: print nothing for a wrong passphrase (-EPERM). */
int luks_volume_key_by_passphrase(const struct luks *l, int keyslot, const char *pass, size_t len, bool quiet,
                                  char **ret_vk, size_t *ret_size);
/* The volume key through token id (any type, its plugin), PIN optional. */
int luks_volume_key_by_token(const struct luks *l, int token, const char *pin, size_t pin_len,
                             char **ret_vk, size_t *ret_size);
/* How to get the volume key when no snpseal token opens: a key file
 * (the whole file, "-" for stdin), a token, or a passphrase asked on the
 * terminal. */
struct luks_unlock {
        const char *key_file;
        int token;                  /* -1: none */
};
int luks_volume_key_get(const struct luks *l, const struct luks_unlock *u, char **ret_vk, size_t *ret_size);
/* Whether there is a terminal to ask on: "cannot ask for WHAT: no
 * terminal; use OPTION" and -ENOTTY when not. */
int luks_tty_check(const char *verb, const char *what, const char *option);

/* ---- the agent ---- */

/* DeriveKey(binding, salt, "luks2", pin, expect): the keyslot passphrase
 * (base64 text, secret memory), the running identity and (ret_mac_key, when
 * not NULL, LUKS2_MAC_KEY_LEN bytes of the caller's secret memory) the
 * header MAC key. On an agent error
 * -EPROTO, or -EKEYREJECTED for IdentityMismatch, with the agent's message
 * in why (nothing printed: the caller decides); -EPERM for NotPermitted (a
 * binding below the floor). Transport errors print. */
int luks_derive(struct luks *l, const struct snp_binding *b, const uint8_t salt[SNPSEAL_TOKEN_SALT_LEN],
                const char *pin, size_t pin_len, json_object *expect,
                char **ret_key, size_t *ret_len, json_object **ret_identity, uint8_t *ret_mac_key,
                char *why, size_t whylen);

/* What snpseald.conf allows (conffile.h), read once; a broken file is
 * reported as a warning and relaxes nothing. */
const struct snpseal_policy *luks_policy(const char *verb);

/* The binding to enroll with: the options resolved against the running VM
 * (the default binding when none was given), refused for persistent use
 * unless forced (with the reason). */
int luks_binding_get(struct luks *l, const struct cli_binding_args *args, struct snp_binding *ret);

/* ---- checking a token ---- */

enum luks_token_state {
        LUKS_TOKEN_OPENS,           /* the derived key opens its keyslot now */
        LUKS_TOKEN_NEEDS_PIN,       /* identity matches; the PIN was not given */
        LUKS_TOKEN_MISMATCH,        /* the agent refused: the identity differs (why: what) */
        LUKS_TOKEN_WRONG_KEY,       /* derived, but the key does not open the keyslot */
        LUKS_TOKEN_NO_KEYSLOT,
        LUKS_TOKEN_UNKNOWN,         /* the agent could not be asked, or failed (why) */
        LUKS_TOKEN_UNAUTHENTICATED, /* opens, but carries no header MAC (an older snpseal) */
        LUKS_TOKEN_HEADER_CHANGED,  /* the header or volume key differs from what was enrolled (why) */
        LUKS_TOKEN_REFUSED,         /* the agent refused its binding (below the floor; why) */
};
/* Whether t opens the volume in this VM now: DeriveKey with the recorded
 * identity as expect, then the key against the token's keyslot, then the
 * header authentication (the volume key is given only for OPENS and
 * UNAUTHENTICATED: never from a header that changed). For a PIN
 * token without pin only the identity is checked. The state (>= 0) and the
 * reason in why; the volume key in *ret_vk (optional) when it opens. The
 * keyslot test prints nothing (a wrong key is a state, not an error). */
int luks_token_check(struct luks *l, const struct snpseal_token *t, const char *pin, size_t pin_len,
                     char **ret_vk, size_t *ret_vk_size, char *why, size_t whylen);

/* ---- adding and removing ---- */

/* Whether the volume key t was enrolled for is gone from the header (its
 * recorded digest is not there any more: cryptsetup reencrypt). A token
 * without keyslot is then not half-done work but something to reseal. */
bool luks_token_volume_key_changed(const struct luks *l, const struct snpseal_token *t);

/* Refuse (printed) a volume whose data segment cipher is not on the
 * allowlist (luks2-meta.h) for a volume key of vk_size bytes. */
int luks_header_check(const struct luks *l, size_t vk_size);

/* Add a keyslot for the volume key with passphrase pass: PBKDF2-SHA512,
 * 1000 iterations, no benchmark; argon2 (for PINs and recovery keys): the
 * default PBKDF (Argon2id). */
int luks_keyslot_add(const struct luks *l, const char *vk, size_t vk_size, const char *pass, size_t len,
                     bool argon2, int *ret_keyslot);

/* A new snpseal token: keyslot, token, verification through the plugin,
 * rolled back (token, then keyslot) when a step fails. pin may be NULL. */
struct luks_enrolled {
        int token;
        int keyslot;
        struct snp_binding binding;
};
int luks_token_enroll(struct luks *l, const struct snp_binding *b, const char *pin, size_t pin_len,
                      const char *vk, size_t vk_size, struct luks_enrolled *ret);
/* Clean up after interrupted runs: every snpseal token without keyslot is
 * removed, with the unassigned keyslot its derived key opens (PIN tokens
 * only when pin is given; only PBKDF2-1000 keyslots are tried for the
 * others). Prints what it removed. */
int luks_repair(struct luks *l, const struct luks_token *tokens, size_t n, const char *pin, size_t pin_len);
/* Remove token id and its keyslots (keyslots first). Refuses (-EBUSY) when
 * that would leave the volume without any keyslot. step_prefix names the
 * test-hook steps ("" or "old-"). */
int luks_token_remove(const struct luks *l, int token, const char *step_prefix);
/* Give token from the id to (free): written there first, then removed from
 * from, so that an interruption leaves two equal tokens, never none. to, or
 * -errno (the token stays at from). */
int luks_token_move(const struct luks *l, int from, int to);
/* Give token (enrolled, working) the keyslot number to (free): a copy of
 * its keyslot (same PBKDF) at to, the token reassigned to it with its
 * header authentication and verified through the plugin, then the first
 * keyslot destroyed; every interruption leaves the token working, at worst
 * with a spare keyslot that luks_repair() removes. The keyslot the token
 * has now (to, or the old one when to is taken or the token's PIN is not
 * given), or -errno (the token stays on its keyslot). */
int luks_token_keyslot_move(struct luks *l, int token, int to, const char *pin, size_t pin_len, const char *vk,
                            size_t vk_size);
/* Activate (name) or check (name NULL) through snpseal tokens (token id or
 * CRYPT_ANY_TOKEN); the keyslot opened. Prints the reason on failure,
 * except -ENOANO without pin (the caller asks for the PIN). */
int luks_token_activate(const struct luks *l, const char *name, int token, const char *pin, size_t pin_len);

/* A random recovery key (secret memory, LUKS_RECOVERY_LEN chars + NUL). */
int luks_recovery_key_new(char **ret);

/* "tcb 03000000000008d1 → 04000000000008d1" (what differs), or "" when equal. */
void luks_binding_diff(const struct snp_binding *a, const struct snp_binding *b, char *buf, size_t size);
bool luks_binding_equal(const struct snp_binding *a, const struct snp_binding *b);

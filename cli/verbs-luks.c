/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal enroll, list, remove, reseal, unlock: the LUKS2 token verbs (man
 * snpseal). Option parsing and the order of the steps; the steps themselves
 * are in luks.c.
 *
 * enroll: binding → clean-up of interrupted runs (luks_repair) → PIN →
 * existing unlock method (volume key) → token → keyslot → assignment →
 * verify through the plugin (rolled back on failure) → recovery keyslot →
 * recovery key printed → --wipe-slot. Everything before the wipe only adds,
 * so an interruption never loses a way to open the volume; the recovery key
 * is printed as soon as its keyslot exists and before any slot is wiped.
 * reseal: clean-up, then per token that needs it: add the new token (as
 * above), then remove the old one (keyslot, then token). A token already at
 * the target binding that opens replaces an old one without a new enrollment
 * (an interrupted reseal run again).
 * reseal --crypttab: the same for each volume of a crypttab (parsed first,
 * crypttab.c), but only for tokens behind the default binding that open
 * without a PIN, and without ever asking (snpseal-reseal.service).
 * The --unlock-token= method gets the volume key through the token's plugin
 * with a keyslot context (crypt_keyslot_context_init_by_token() and
 * crypt_volume_key_get_by_keyslot_context(), libcryptsetup 2.6).
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "crypttab.h"
#include "hexutil.h"
#include "json-util.h"
#include "json-values.h"
#include "luks.h"
#include "secret.h"
#include "varlink.h"

struct luks_args {
        struct cli_binding_args binding;
        struct luks_unlock unlock;
        bool pin;
        const char *pin_file;
        bool recovery;
        const char *wipe_spec;  /* --wipe-slot=, validated words */
        uint32_t wipe;          /* the keyslots it names, resolved before any change */
        bool force;             /* --force: also wipe the last way in that does not need this VM */
        int token;              /* --token=, -1 unset */
        const char *crypttab;   /* reseal --crypttab[=FILE], or NULL */
        bool test;
        bool dry_run;           /* reseal --dry-run */
        bool debug;
};

enum {
        OPT_PIN = CLI_OPT_VERB,
        OPT_PIN_FILE,
        OPT_RECOVERY_KEY,
        OPT_UNLOCK_KEY_FILE,
        OPT_UNLOCK_TOKEN,
        OPT_WIPE_SLOT,
        OPT_TOKEN,
        OPT_CRYPTTAB,
        OPT_TEST,
        OPT_DRY_RUN,
        OPT_DEBUG,
};

#define OPTION_DEBUG { "debug", no_argument, NULL, OPT_DEBUG }
#define OPTIONS_UNLOCK                                                          \
        { "unlock-key-file", required_argument, NULL, OPT_UNLOCK_KEY_FILE },    \
        { "unlock-token",    required_argument, NULL, OPT_UNLOCK_TOKEN }

#define HELP_UNLOCK                                                                         \
        "  --unlock-key-file=FILE    unlock with the whole FILE as passphrase ('-': stdin)\n" \
        "  --unlock-token=ID         unlock through LUKS2 token ID (any type)\n"              \
        "                            (default: ask for a passphrase on the terminal)\n"
#define HELP_DEBUG "  --debug                   show libcryptsetup's debug messages\n"

static void luks_args_init(struct luks_args *a) {
        *a = (struct luks_args) { .unlock.token = -1, .token = -1 };
        cli_binding_args_init(&a->binding);
}

static int parse_slots(const char *verb, const char *value, const char **ret) {
        _cleanup_(freep) char *copy = strdup(value);
        char *save = NULL;
        bool any = false;

        if (!copy)
                return cli_error(verb, "out of memory");
        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                if (!luks_wipe_name_valid(p))
                        return cli_usage_error(verb, "invalid --wipe-slot '%s': expected keyslot numbers 0..%d or "
                                               "password, recovery, empty, all, snpseal, pkcs11, fido2, tpm2, "
                                               "separated by ','", p, LUKS_KEYSLOTS_MAX - 1);
                any = true;
        }
        if (!any)
                return cli_usage_error(verb, "--wipe-slot= needs keyslot numbers or names");
        *ret = value;
        return CLI_CONTINUE;
}

static int parse_token_id(const char *verb, const char *option, const char *value, int *ret) {
        uint32_t n;

        if (parse_u32(value, LUKS_TOKENS_MAX - 1, &n) < 0)
                return cli_usage_error(verb, "invalid --%s '%s': expected a token number 0..%d", option, value,
                                       LUKS_TOKENS_MAX - 1);
        *ret = (int) n;
        return CLI_CONTINUE;
}

static int file_option(const char *verb, const char *option, const char *value, const char **ret) {
        if (value[0] == '\0')
                return cli_usage_error(verb, "--%s= needs a file name", option);
        *ret = value;
        return CLI_CONTINUE;
}

/* One of the LUKS verbs' own options: CLI_CONTINUE, 0 (not one), or an exit code. */
static int luks_option(const char *verb, struct luks_args *a, int c, const char *value) {
        switch (c) {
        case OPT_PIN:
                a->pin = true;
                return CLI_CONTINUE;
        case OPT_PIN_FILE:
                a->pin = true;
                return file_option(verb, "pin-file", value, &a->pin_file);
        case OPT_RECOVERY_KEY:
                a->recovery = true;
                return CLI_CONTINUE;
        case OPT_UNLOCK_KEY_FILE:
                return file_option(verb, "unlock-key-file", value, &a->unlock.key_file);
        case OPT_UNLOCK_TOKEN:
                return parse_token_id(verb, "unlock-token", value, &a->unlock.token);
        case OPT_WIPE_SLOT:
                return parse_slots(verb, value, &a->wipe_spec);
        case OPT_TOKEN:
                return parse_token_id(verb, "token", value, &a->token);
        case OPT_CRYPTTAB:
                if (!value)
                        value = CRYPTTAB_DEFAULT;
                return file_option(verb, "crypttab", value, &a->crypttab);
        case OPT_TEST:
                a->test = true;
                return CLI_CONTINUE;
        case OPT_DRY_RUN:
                a->dry_run = true;
                return CLI_CONTINUE;
        case OPT_DEBUG:
                a->debug = true;
                return CLI_CONTINUE;
        }
        return 0;
}

/* getopt_long() over options; the positional arguments left: argv + optind. */
static int parse_args(struct cli *cli, const struct cli_verb *verb, const struct option *options, int argc,
                      char **argv, struct luks_args *a, int min, int max) {
        int c, r;

        luks_args_init(a);
        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                r = cli_binding_option(verb->name, &a->binding, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                r = luks_option(verb->name, a, c, optarg);
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        r = cli_check_args(verb->name, argc - optind, min, max);
        if (r != 0)
                return r;
        if (a->unlock.key_file && a->unlock.token >= 0)
                return cli_usage_error(verb->name, "--unlock-key-file= and --unlock-token= exclude each other");
        a->force = a->binding.force;
        r = luks_steps_check(verb->name);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_USAGE;
        luks_log_setup(a->debug);
        return CLI_CONTINUE;
}

/* The PIN: from --pin-file (first line) or the terminal (twice when new,
 * a few tries when the two differ). */
static int pin_get(const char *verb, const struct luks_args *a, bool confirm, char **ret, size_t *ret_len) {
        int r = -EINVAL;

        if (a->pin_file)
                return cli_password_get_prompt(verb, a->pin_file, "PIN", confirm, ret, ret_len);
        if (luks_tty_check(verb, "the token's PIN", "--pin-file=FILE") < 0)
                return -ENOTTY;
        for (int i = 0; i < LUKS_PROMPT_TRIES && r == -EINVAL; i++)
                r = cli_password_get_prompt(verb, NULL, "PIN for the snpseal token", confirm, ret, ret_len);
        return r;
}

/* Finish what an interrupted run left behind (luks_repair()). */
static int repair(struct luks *l, const char *pin, size_t pin_len) {
        struct luks_token *tokens = NULL;
        size_t n = 0;
        int r;

        r = luks_tokens_load(l, &tokens, &n);
        if (r >= 0)
                r = luks_repair(l, tokens, n, pin, pin_len);
        luks_tokens_free(tokens, n);
        return r;
}

/* ---------------------------------------------------------------- enroll */

/* Up front, before any change: the keyslots --wipe-slot names (never the
 * ones this run adds, which do not exist yet), and that a way in that does
 * not depend on this VM's identity stays (plus added, such as a new recovery
 * key), unless forced with a warning. */
static int wipe_check(struct luks *l, struct luks_args *a, unsigned added) {
        uint32_t left;
        char list[128];
        int r;

        if (!a->wipe_spec)
                return 0;
        r = luks_wipe_resolve(l, a->wipe_spec, &a->wipe);
        if (r < 0)
                return r;
        luks_slots_format(a->wipe, list, sizeof(list));
        if (a->wipe == 0)
                fprintf(stderr, PROG ": %s: --wipe-slot=%s names no keyslot of %s: nothing to wipe\n", l->verb,
                        a->wipe_spec, l->path);
        left = luks_keyslots_vm_free(l) & ~a->wipe;
        if (left || added > 0)
                return 0;
        if (!a->force)
                return cli_error(l->verb, "%s: refusing to wipe keyslot %s: afterwards only snpseal tokens would open "
                                 "the volume, and they stop working when this VM's measurement or firmware changes; "
                                 "keep a passphrase, add --recovery-key, or force it with --force", l->path, list),
                       -EBUSY;
        fprintf(stderr, PROG ": %s: warning: after wiping keyslot %s only snpseal tokens open %s: when this VM's "
                "identity changes, the volume cannot be opened any more\n", l->verb, list, l->path);
        return 0;
}

/* Wipe the slots; tokens left without any keyslot go too. Each change is
 * a line on out (NULL: quiet, the JSON output said it). */
static int wipe_slots(const struct luks *l, uint32_t wipe, FILE *out) {
        uint32_t before[LUKS_TOKENS_MAX];
        int r;

        for (int id = 0; id < LUKS_TOKENS_MAX; id++)
                before[id] = luks_token_keyslots(l, id);
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++) {
                if (!(wipe & (UINT32_C(1) << i)))
                        continue;
                r = crypt_keyslot_destroy(l->cd, i);
                if (r < 0)
                        return cli_error(l->verb, "%s: cannot wipe keyslot %d: %s", l->path, i, strerror(-r)), r;
                if (out)
                        fprintf(out, "Wiped keyslot %d.\n", i);
                luks_step("slot-wiped");
        }
        for (int id = 0; id < LUKS_TOKENS_MAX; id++)
                if (before[id] && !(before[id] & ~wipe) && crypt_token_json_set(l->cd, id, NULL) >= 0 && out)
                        fprintf(out, "Removed token %d (its keyslots were wiped).\n", id);
        return 0;
}

static int recovery_add(const struct luks *l, const char *vk, size_t vk_size, char **ret_key, int *ret_slot) {
        _cleanup_secret_ char *key = NULL;
        int r, slot;

        r = luks_recovery_key_new(&key);
        if (r < 0)
                return cli_error(l->verb, "cannot make a recovery key: %s", strerror(-r)), r;
        r = luks_keyslot_add(l, vk, vk_size, key, strlen(key), true, &slot);
        if (r < 0)
                return r;
        luks_step("recovery-added");
        /* Marked as systemd-cryptenroll marks its own, so that its
         * --wipe-slot=password and systemd's tools know it. Unmarked (an
         * interruption) it is still a passphrase that opens the volume. */
        r = luks_recovery_token_add(l, slot);
        if (r < 0) {
                (void) crypt_keyslot_destroy(l->cd, slot);
                return r;
        }
        luks_step("recovery-marked");
        *ret_key = TAKE_PTR(key);
        *ret_slot = slot;
        return 0;
}

/* As systemd-cryptenroll: what happened on standard error, only the
 * recovery key on standard output (or everything as JSON there). */
static void enroll_print_recovery(const struct luks *l, const char *recovery, int rslot) {
        if (l->cli->json)
                return;
        fprintf(stderr, "\nRecovery key (keyslot %d), shown only this once; write it down and keep it safe.\n"
                "Type it, with the dashes, when cryptsetup asks for a passphrase:\n\n", rslot);
        printf("        %s\n", recovery);
        (void) fflush(stdout);
        fputc('\n', stderr);
}

static void enroll_print(const struct luks *l, const struct luks_enrolled *e, const char *recovery, int rslot) {
        char b[256];

        if (l->cli->json)
                return;
        if (snp_binding_format(&e->binding, b, sizeof(b)) < 0)
                b[0] = '\0';
        fprintf(stderr, "Enrolled snpseal token %d (keyslot %d) on %s, bound to: %s\n", e->token, e->keyslot,
                l->path, b);
        if (recovery)
                enroll_print_recovery(l, recovery, rslot);
}

/* [0, 3] for a keyslot mask. */
static json_object *slots_json(uint32_t mask) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (int i = 0; a && i < LUKS_KEYSLOTS_MAX; i++)
                if ((mask & (UINT32_C(1) << i)) && json_object_array_add(a, json_object_new_int(i)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_object *enroll_json(const struct luks *l, const struct luks_enrolled *e, bool already,
                                const char *recovery, int rslot, uint32_t wipe) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add(o, "device", json_object_new_string(l->path)) < 0 ||
            json_add(o, "token", json_object_new_int(e->token)) < 0 ||
            json_add(o, "keyslot", json_object_new_int(e->keyslot)) < 0 ||
            json_add(o, "already_enrolled", json_object_new_boolean(already)) < 0 ||
            json_add(o, "binding", snp_binding_to_json(&e->binding)) < 0 ||
            (recovery && (json_add(o, "recovery_key", json_object_new_string(recovery)) < 0 ||
                          json_add(o, "recovery_keyslot", json_object_new_int(rslot)) < 0)) ||
            json_add(o, "wiped", slots_json(wipe)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* Print (JSON or text), then wipe. */
static int enroll_finish(struct luks *l, const struct luks_args *a, const struct luks_enrolled *e, bool already,
                         const char *recovery, int rslot) {
        _cleanup_(json_object_putp) json_object *json = NULL;
        char slots[128];

        json = l->cli->json ? enroll_json(l, e, already, recovery, rslot, a->wipe) : NULL;
        if (l->cli->json && (!json || cli_json_print(json) < 0))
                return cli_error(l->verb, "cannot write the output");
        if (!already)
                enroll_print(l, e, recovery, rslot);
        else if (recovery)
                enroll_print_recovery(l, recovery, rslot);
        if (recovery)
                luks_step("recovery-printed");
        if (a->wipe) {
                luks_slots_format(a->wipe, slots, sizeof(slots));
                luks_progress("the snpseal token is enrolled on %s%s; wiping keyslot %s: run snpseal remove %s "
                              "--wipe-slot=%s to finish", l->path, recovery ? " and the recovery key shown" : "",
                              slots, l->path, slots);
        }
        /* In JSON the keyslots to wipe were announced with the rest. */
        if (a->wipe && wipe_slots(l, a->wipe, l->cli->json ? NULL : stderr) < 0)
                return EXIT_FAILURE;
        return ferror(stdout) ? cli_error(l->verb, "cannot write the output") : EXIT_SUCCESS;
}

/* An equivalent token exists (a rerun after an interruption, or a second
 * enroll): it is reported, not duplicated; only a recovery key still
 * missing is added and the wipe done. */
static int enroll_only_extras(struct luks *l, const struct luks_args *a, int existing, const struct snp_binding *b,
                              char **vk, size_t *vk_size) {
        _cleanup_secret_ char *recovery = NULL;
        struct luks_enrolled e = { .token = existing, .keyslot = luks_token_keyslots(l, existing) ?
                                   __builtin_ctz(luks_token_keyslots(l, existing)) : -1, .binding = *b };
        uint32_t rk = luks_keyslots_of_type(l, LUKS_RECOVERY_TOKEN_TYPE);
        char desc[256], slots[128];
        int rslot = -1;

        if (snp_binding_format(b, desc, sizeof(desc)) < 0)
                desc[0] = '\0';
        fprintf(stderr, PROG ": %s: %s: token %d already binds it to this VM (%s%s) and opens; not adding another "
                "(--force adds one anyway)\n", l->verb, l->path, existing, desc, a->pin ? ", with a PIN" : "");
        if (a->recovery && rk) {
                luks_slots_format(rk, slots, sizeof(slots));
                fprintf(stderr, PROG ": %s: %s: a recovery key exists already (keyslot %s); not adding another\n",
                        l->verb, l->path, slots);
        } else if (a->recovery) {
                if (!*vk && luks_volume_key_get(l, &a->unlock, vk, vk_size) < 0)
                        return EXIT_FAILURE;
                luks_progress("token %d is enrolled on %s; a recovery key is being added: run snpseal enroll %s "
                              "--recovery-key again if it is not shown", existing, l->path, l->path);
                if (recovery_add(l, *vk, *vk_size, &recovery, &rslot) < 0)
                        return EXIT_FAILURE;
        }
        return enroll_finish(l, a, &e, true, recovery, rslot);
}

/* A token that already does what enroll was asked to: same binding and PIN
 * setting, and it opens here. Its id, or -1; the volume key from it (a
 * token without PIN) into *ret_vk. */
static int enroll_existing(struct luks *l, const struct luks_args *a, const struct snp_binding *b, char **ret_vk,
                           size_t *ret_vk_size) {
        struct luks_token *tokens = NULL;
        size_t n = 0;
        int found = -1;

        if (luks_tokens_load(l, &tokens, &n) < 0)
                return -1;
        for (size_t i = 0; i < n && found < 0; i++) {
                char why[512];
                int state;

                if (tokens[i].parse_error < 0 || tokens[i].t.pin != a->pin ||
                    !luks_binding_equal(&tokens[i].t.binding, b))
                        continue;
                state = luks_token_check(l, &tokens[i].t, NULL, 0, ret_vk, ret_vk_size, why, sizeof(why));
                if (state == LUKS_TOKEN_OPENS || state == LUKS_TOKEN_NEEDS_PIN)
                        found = tokens[i].id;
        }
        luks_tokens_free(tokens, n);
        return found;
}

/* What an interruption after the token would leave undone, and how to do it. */
static void enroll_after(const struct luks *l, const struct luks_args *a) {
        char slots[128] = "", rk[PATH_MAX + 96] = "", wipe[PATH_MAX + 2 * sizeof(slots) + 96] = "";

        if (a->recovery)
                (void) snprintf(rk, sizeof(rk), "; the recovery key was not added: run snpseal enroll %s "
                                "--recovery-key to add it", l->path);
        if (a->wipe) {
                luks_slots_format(a->wipe, slots, sizeof(slots));
                (void) snprintf(wipe, sizeof(wipe), "; keyslot %s was not wiped: run snpseal remove %s "
                                "--wipe-slot=%s", slots, l->path, slots);
        }
        luks_progress_after("%s%s", rk, wipe);
}

static int enroll_do(struct luks *l, struct luks_args *a) {
        _cleanup_secret_ char *pin = NULL, *vk = NULL, *recovery = NULL;
        struct luks_enrolled e = { .token = -1, .keyslot = -1 };
        struct snp_binding b;
        size_t pin_len = 0, vk_size = 0;
        int r, rslot = -1, existing = -1;

        r = luks_plugin_check(l);
        if (r >= 0)
                r = luks_binding_get(l, &a->binding, &b);
        if (r >= 0)
                r = repair(l, NULL, 0);
        if (r >= 0)
                r = wipe_check(l, a, a->recovery && !luks_keyslots_of_type(l, LUKS_RECOVERY_TOKEN_TYPE) ? 1 : 0);
        if (r >= 0 && !a->force)
                existing = enroll_existing(l, a, &b, &vk, &vk_size);
        if (r >= 0 && existing >= 0)
                return enroll_only_extras(l, a, existing, &b, &vk, &vk_size);
        if (r >= 0 && a->pin)
                r = pin_get(l->verb, a, true, &pin, &pin_len);
        if (r >= 0)
                r = luks_volume_key_get(l, &a->unlock, &vk, &vk_size);
        if (r >= 0) {
                enroll_after(l, a);
                luks_progress("a new snpseal token is being added to %s; what an interruption leaves half-done is "
                              "removed by the next snpseal enroll or reseal: run snpseal enroll %s again", l->path,
                              l->path);
                r = luks_token_enroll(l, &b, pin, pin_len, vk, vk_size, &e);
        }
        if (r < 0)
                return EXIT_FAILURE;
        if (a->recovery && recovery_add(l, vk, vk_size, &recovery, &rslot) < 0) {
                if (luks_token_remove(l, e.token, "") >= 0)
                        fprintf(stderr, PROG ": %s: rolled back: removed the new token %d and keyslot %d\n",
                                l->verb, e.token, e.keyslot);
                return EXIT_FAILURE;
        }
        return enroll_finish(l, a, &e, false, recovery, rslot);
}

static int run_enroll(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                CLI_BINDING_OPTIONS,
                { "pin",          no_argument,       NULL, OPT_PIN },
                { "pin-file",     required_argument, NULL, OPT_PIN_FILE },
                { "recovery-key", no_argument,       NULL, OPT_RECOVERY_KEY },
                { "wipe-slot",    required_argument, NULL, OPT_WIPE_SLOT },
                OPTIONS_UNLOCK,
                OPTION_DEBUG,
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct luks_args a;
        struct luks l;
        int r;

        r = parse_args(cli, verb, options, argc, argv, &a, 1, 1);
        if (r != CLI_CONTINUE)
                return r;
        if (luks_open(cli, verb->name, argv[optind], &l) < 0)
                return EXIT_FAILURE;
        luks_signals_setup(verb->name, l.path);
        r = enroll_do(&l, &a);
        luks_close(&l);
        return r;
}

const struct cli_verb cli_verb_enroll = {
        .name = "enroll",
        .args = "DEVICE [OPTIONS]",
        .summary = "Add a snpseal token to a LUKS2 volume (it unlocks only in this VM)",
        .options =
                CLI_BINDING_OPTIONS_HELP
                "  --pin                     the token also needs a PIN (asked twice)\n"
                "  --pin-file=FILE           the PIN is the first line of FILE (implies --pin)\n"
                "  --recovery-key            also add a random recovery passphrase, printed once\n"
                HELP_UNLOCK
                "  --wipe-slot=SLOTS         after success, wipe these keyslots: numbers, or password,\n"
                "                            recovery, empty, all, snpseal, pkcs11, fido2, tpm2 (never\n"
                "                            the new ones; never the last way in that does not need\n"
                "                            this VM, unless --force)\n"
                HELP_DEBUG,
        .run = run_enroll,
};

/* ---------------------------------------------------------------- list */

static const struct {
        const char *name;       /* JSON */
        const char *text;       /* "opens:" */
} states[] = {
        [LUKS_TOKEN_OPENS]       = { "opens",             "yes" },
        [LUKS_TOKEN_NEEDS_PIN]   = { "needs-pin",         "needs PIN (not checked)" },
        [LUKS_TOKEN_MISMATCH]    = { "identity-mismatch", "no" },
        [LUKS_TOKEN_WRONG_KEY]   = { "wrong-key",         "no" },
        [LUKS_TOKEN_NO_KEYSLOT]  = { "no-keyslot",        "no" },
        [LUKS_TOKEN_UNKNOWN]     = { "unknown",           "unknown" },
        [LUKS_TOKEN_UNAUTHENTICATED] = { "unauthenticated", "no" },
        [LUKS_TOKEN_HEADER_CHANGED]  = { "header-changed",  "no" },
        [LUKS_TOKEN_REFUSED]         = { "refused",         "no" },
};

/* "measurement 30f6afcb…, policy 0x30000, tcb 03000000000008d1" */
static void identity_short(json_object *identity, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        json_object_object_foreach(identity, key, v) {
                const char *s = json_object_get_string(v);
                size_t vlen = strlen(s ?: "");
                int n = snprintf(buf + len, size - len, "%s%s %.*s%s", len > 0 ? ", " : "", key,
                                 vlen > 16 ? 8 : (int) vlen, s ?: "", vlen > 16 ? "…" : "");

                if (n < 0 || (size_t) n >= size - len)
                        return;
                len += (size_t) n;
        }
}

static void list_print(const struct luks_token *e, int state, char *why) {
        char b[256], id[512];

        if (e->parse_error < 0) {
                printf("token %d: invalid snpseal token: %s\n", e->id, e->error);
                return;
        }
        if (snp_binding_format(&e->t.binding, b, sizeof(b)) < 0)
                b[0] = '\0';
        identity_short(e->t.identity, id, sizeof(id));
        printf("token %d: keyslot ", e->id);
        printf(e->t.keyslot >= 0 ? "%d\n" : "none\n", e->t.keyslot);
        printf("        binding:   %s\n", b);
        printf("        identity:  %s\n", id);
        printf("        pin:       %s\n", e->t.pin ? "yes" : "no");
        for (char *p = why; (p = strchr(p, '\n')); )
                *p = ';';       /* one difference per line from the agent */
        if (state == LUKS_TOKEN_OPENS || state == LUKS_TOKEN_NEEDS_PIN)
                printf("        opens now: %s\n", states[state].text);
        else if (state == LUKS_TOKEN_UNAUTHENTICATED && luks_policy("list")->allow_tokens_without_mac)
                printf("        opens now: yes, as allow_tokens_without_mac allows: %s\n", why);
        else
                printf("        opens now: %s: %s\n", states[state].text, why);
}

static json_object *list_json_one(const struct luks_token *e, int state, const char *why) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add(o, "token", json_object_new_int(e->id)) < 0)
                return NULL;
        if (e->parse_error < 0) {
                if (json_add(o, "state", json_object_new_string("invalid")) < 0 ||
                    json_add(o, "reason", json_object_new_string(e->error)) < 0)
                        return NULL;
                return TAKE_PTR(o);
        }
        if (json_object_object_add(o, "keyslot", e->t.keyslot >= 0 ? json_object_new_int(e->t.keyslot) : NULL) < 0 ||
            json_add(o, "binding", snp_binding_to_json(&e->t.binding)) < 0 ||
            json_add(o, "identity", json_values_identity(e->t.identity)) < 0 ||
            json_add(o, "pin", json_object_new_boolean(e->t.pin)) < 0 ||
            json_add(o, "state", json_object_new_string(states[state].name)) < 0 ||
            (why[0] && json_add(o, "reason", json_object_new_string(why)) < 0))
                return NULL;
        return TAKE_PTR(o);
}

/* Every keyslot with its kind, as systemd-cryptenroll DEVICE lists them. */
static int list_keyslots(const struct luks *l, json_object *array) {
        uint32_t active = luks_keyslots_active(l);
        char kind[64];

        if (!array)
                printf("Keyslots:\n");
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++) {
                json_object *o;

                if (!(active & (UINT32_C(1) << i)))
                        continue;
                luks_keyslot_kind(l, i, kind, sizeof(kind));
                if (!array) {
                        printf("  %d: %s\n", i, kind);
                        continue;
                }
                o = json_object_new_object();
                if (!o || json_object_array_add(array, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                if (json_add(o, "keyslot", json_object_new_int(i)) < 0 ||
                    json_add(o, "kind", json_object_new_string(kind)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The TCB snpseal reseal would move token e to, when that is newer: the
 * default TCB of this VM (resolved once, when the agent answers). */
static bool list_behind(struct luks *l, const struct luks_token *e, int state, struct snp_binding *target,
                        int *have_target) {
        struct cli_binding_args none;

        if (e->parse_error < 0 || state == LUKS_TOKEN_UNKNOWN)
                return false;
        if (*have_target == 0) {
                cli_binding_args_init(&none);
                *have_target = luks_binding_get(l, &none, target) >= 0 ? 1 : -1;
        }
        return *have_target > 0 && e->t.binding.tcb_version != target->tcb_version &&
               snp_tcb_le(e->t.binding.tcb_version, target->tcb_version);
}

static int list_do(struct luks *l, const struct cli *cli) {
        _cleanup_(json_object_putp) json_object *array = json_object_new_array();
        _cleanup_(json_object_putp) json_object *keyslots = json_object_new_array();
        struct luks_token *tokens = NULL;
        struct snp_binding target = {};
        int have_target = 0;
        char tcb[TCB_HEX_LEN + 1];
        size_t n = 0;
        unsigned unknown = 0;   /* tokens that could not be checked (no agent?) */
        int r = 0;

        if (!array || !keyslots || luks_tokens_load(l, &tokens, &n) < 0)
                return EXIT_FAILURE;
        if (n == 0 && !cli->json)
                printf("No snpseal tokens on %s.\n", l->path);
        for (size_t i = 0; i < n; i++) {
                char why[1024] = "";
                int state = LUKS_TOKEN_UNKNOWN;
                bool behind;
                json_object *o = NULL;

                if (tokens[i].parse_error == 0) {
                        state = luks_token_check(l, &tokens[i].t, NULL, 0, NULL, NULL, why, sizeof(why));
                        if (state < 0) {
                                r = state;
                                break;
                        }
                }
                behind = list_behind(l, &tokens[i], state, &target, &have_target);
                tcb_to_hex(target.tcb_version, tcb);
                if (!cli->json) {
                        list_print(&tokens[i], state, why);
                        if (behind)
                                printf("        behind:    the TCB of this VM is %s; snpseal reseal %s moves it "
                                       "there\n", tcb, l->path);
                } else if (!(o = list_json_one(&tokens[i], state, why)) ||
                           (behind && json_add(o, "reseal_tcb", json_object_new_string(tcb)) < 0) ||
                           json_object_array_add(array, o) < 0) {
                        json_object_put(o);
                        state = -ENOMEM;
                }
                if (state < 0) {
                        r = state;
                        break;
                }
                unknown += tokens[i].parse_error == 0 && state == LUKS_TOKEN_UNKNOWN;
        }
        luks_tokens_free(tokens, n);
        if (r >= 0)
                r = list_keyslots(l, cli->json ? keyslots : NULL);
        if (r < 0)
                return cli_error(l->verb, "%s", strerror(-r));
        if (cli->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                r = !o || json_add(o, "device", json_object_new_string(l->path)) < 0 ||
                    json_add(o, "tokens", json_object_get(array)) < 0 ||
                    json_add(o, "keyslots", json_object_get(keyslots)) < 0 ? -ENOMEM : cli_json_print(o);
        }
        if (r < 0 || fflush(stdout) != 0)
                return cli_error(l->verb, "cannot write the output");
        /* Listed, but whether a token opens is not known: not a success. */
        return unknown > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int run_list(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = { OPTION_DEBUG, CLI_GLOBAL_OPTIONS, {} };
        struct luks_args a;
        struct luks l;
        int r;

        r = parse_args(cli, verb, options, argc, argv, &a, 1, 1);
        if (r != CLI_CONTINUE)
                return r;
        if (luks_open(cli, verb->name, argv[optind], &l) < 0)
                return EXIT_FAILURE;
        r = list_do(&l, cli);
        luks_close(&l);
        return r;
}

const struct cli_verb cli_verb_list = {
        .name = "list",
        .args = "DEVICE",
        .summary = "List a LUKS2 volume's snpseal tokens and whether they open in this VM now",
        .options = HELP_DEBUG,
        .run = run_list,
};

/* ---------------------------------------------------------------- remove */

/* A token without keyslot: with the unassigned keyslot its key opens, if any. */
static int remove_print(const struct luks *l, int token, uint32_t keyslots) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        char slots[128];

        if (l->cli->json) {
                o = json_object_new_object();
                if (!o || json_add(o, "device", json_object_new_string(l->path)) < 0 ||
                    json_add(o, "removed_token", json_object_new_int(token)) < 0 ||
                    json_add(o, "removed_keyslots", slots_json(keyslots)) < 0 || cli_json_print(o) < 0)
                        return cli_error(l->verb, "cannot write the output");
        } else if (keyslots == 0)
                printf("Removed token %d from %s (it had no keyslot).\n", token, l->path);
        else {
                luks_slots_format(keyslots, slots, sizeof(slots));
                printf("Removed token %d and keyslot %s from %s.\n", token, slots, l->path);
        }
        return fflush(stdout) != 0 ? cli_error(l->verb, "cannot write the output") : EXIT_SUCCESS;
}

static int remove_unassigned(struct luks *l, int token) {
        struct luks_token *tokens = NULL;
        size_t n = 0;
        int r;

        r = luks_tokens_load(l, &tokens, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (tokens[i].id == token && tokens[i].parse_error == 0 && !tokens[i].t.pin)
                        r = luks_repair(l, &tokens[i], 1, NULL, 0);
        luks_tokens_free(tokens, n);
        if (r < 0)
                return EXIT_FAILURE;
        if (crypt_token_status(l->cd, token, NULL) != CRYPT_TOKEN_INACTIVE &&
            luks_token_remove(l, token, "") < 0)
                return EXIT_FAILURE;
        return remove_print(l, token, 0);
}

static int remove_do(struct luks *l, int token) {
        const char *type = NULL;
        crypt_token_info st = crypt_token_status(l->cd, token, &type);
        char slots[128];
        uint32_t mask;

        if (st == CRYPT_TOKEN_INACTIVE || st == CRYPT_TOKEN_INVALID)
                return cli_error(l->verb, "%s: there is no token %d", l->path, token);
        if (!type || strcmp(type, SNPSEAL_TOKEN_TYPE) != 0)
                return cli_error(l->verb, "%s: token %d is not a snpseal token (type %s); use cryptsetup token "
                                 "remove", l->path, token, type ?: "unknown");
        mask = luks_token_keyslots(l, token);
        luks_slots_format(mask, slots, sizeof(slots));
        if (mask == 0)
                return remove_unassigned(l, token);
        if (luks_token_remove(l, token, "") < 0)
                return EXIT_FAILURE;
        return remove_print(l, token, mask);
}

/* remove --wipe-slot=: wipe without enrolling (as systemd-cryptenroll
 * --wipe-slot= does), with the same guard as enroll. */
static int wipe_do(struct luks *l, struct luks_args *a) {
        if (wipe_check(l, a, 0) < 0)
                return EXIT_FAILURE;
        if (a->wipe && wipe_slots(l, a->wipe, l->cli->json ? NULL : stdout) < 0)
                return EXIT_FAILURE;
        if (l->cli->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                if (!o || json_add(o, "device", json_object_new_string(l->path)) < 0 ||
                    json_add(o, "wiped", slots_json(a->wipe)) < 0 || cli_json_print(o) < 0)
                        return cli_error(l->verb, "cannot write the output");
        }
        return fflush(stdout) != 0 ? cli_error(l->verb, "cannot write the output") : EXIT_SUCCESS;
}

static int run_remove(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "token",     required_argument, NULL, OPT_TOKEN },
                { "wipe-slot", required_argument, NULL, OPT_WIPE_SLOT },
                { "force",     no_argument,       NULL, CLI_OPT_FORCE },
                OPTION_DEBUG,
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct luks_args a;
        struct luks l;
        int r;

        r = parse_args(cli, verb, options, argc, argv, &a, 1, 1);
        if (r != CLI_CONTINUE)
                return r;
        if ((a.token < 0) == !a.wipe_spec)
                return cli_usage_error(verb->name, "give either --token=ID (snpseal list DEVICE shows the ids) or "
                                       "--wipe-slot=SLOTS");
        if (luks_open(cli, verb->name, argv[optind], &l) < 0)
                return EXIT_FAILURE;
        luks_signals_setup(verb->name, l.path);
        if (a.wipe_spec)
                luks_progress("wiping keyslots of %s: run snpseal remove %s --wipe-slot=%s again to finish", l.path,
                              l.path, a.wipe_spec);
        else
                luks_progress("removing token %d from %s (keyslot first, then the token): run snpseal remove %s "
                              "--token=%d again to finish", a.token, l.path, l.path, a.token);
        r = a.wipe_spec ? wipe_do(&l, &a) : remove_do(&l, a.token);
        luks_close(&l);
        return r;
}

const struct cli_verb cli_verb_remove = {
        .name = "remove",
        .args = "DEVICE --token=ID | --wipe-slot=SLOTS",
        .summary = "Remove a snpseal token and its keyslot, or wipe keyslots",
        .options =
                "  --token=ID                the token to remove\n"
                "  --wipe-slot=SLOTS         wipe these keyslots instead: numbers, or password,\n"
                "                            recovery, empty, all, snpseal, pkcs11, fido2, tpm2\n"
                "  --force                   wipe even the last way in that does not need this VM\n"
                HELP_DEBUG,
        .run = run_remove,
};

/* ---------------------------------------------------------------- reseal */

struct reseal {
        struct luks *l;
        const struct luks_args *a;
        struct snp_binding target;      /* the binding options resolved (the default without any) */
        struct snp_binding *targets;    /* per token of tokens[]: what it is resealed to (reseal_targets()) */
        const struct luks_token *tokens;
        char *pin;              /* secret, asked once when a PIN token is resealed */
        size_t pin_len;
        char *vk;               /* secret, the volume key once known */
        size_t vk_size;
        unsigned moved;
        const char *prefix;     /* before each line: "" or "NAME: " (--crypttab) */
        json_object *json;      /* --json: one object per change, instead of the lines */
};

enum reseal_action { RESEAL_RESEALED, RESEAL_REPLACED, RESEAL_DROPPED };

/* One line per change ("would" with --dry-run), or a JSON object. */
static void reseal_report(struct reseal *rs, const struct luks_token *e, uint32_t mask, enum reseal_action action,
                          const char *why, int new_token, int new_keyslot) {
        static const char *const names[] = { "resealed", "replaced", "removed" };
        bool dry = rs->a->dry_run;
        char slots[128];

        rs->moved++;
        luks_slots_format(mask, slots, sizeof(slots));
        if (rs->json) {
                json_object *o = json_object_new_object();

                if (!o || json_object_array_add(rs->json, o) < 0) {
                        json_object_put(o);
                        return;
                }
                (void) json_add(o, "token", json_object_new_int(e->id));
                (void) json_add(o, "keyslots", slots_json(mask));
                (void) json_add(o, "action", json_object_new_string(names[action]));
                (void) json_add(o, "dry_run", json_object_new_boolean(dry));
                (void) json_add(o, "reason", json_object_new_string(why));
                if (action != RESEAL_DROPPED && !dry) {
                        (void) json_add(o, "new_token", json_object_new_int(new_token));
                        (void) json_add(o, "new_keyslot", json_object_new_int(new_keyslot));
                }
                return;
        }
        if (action == RESEAL_DROPPED)
                printf("%stoken %d: it had no keyslot (an interrupted remove or reseal): %s\n", rs->prefix, e->id,
                       dry ? "would be removed" : "removed");
        else if (dry)
                printf("%stoken %d (keyslot %s): %s: would be %s\n", rs->prefix, e->id, slots, why,
                       action == RESEAL_REPLACED ? "removed (a token already bound to the target replaces it)"
                                                 : "resealed");
        else if (action == RESEAL_REPLACED)
                printf("%stoken %d (keyslot %s): %s: replaced by token %d (keyslot %d), already bound to the "
                       "target: removed\n", rs->prefix, e->id, slots, why, new_token, new_keyslot);
        else
                printf("%stoken %d (keyslot %s): %s: resealed as token %d (keyslot %d)\n", rs->prefix, e->id, slots,
                       why, new_token, new_keyslot);
}

/* What token e is resealed to: the binding options when given (changing a
 * binding takes them); otherwise its own binding — root key, fields, VMPL,
 * SVN — with only the TCB moved up to the target's, never down. */
static void reseal_target_of(const struct reseal *rs, const struct luks_token *e, struct snp_binding *ret) {
        *ret = e->t.binding;
        if (rs->a->binding.any) {
                *ret = rs->target;
                return;
        }
        if (snp_tcb_le(e->t.binding.tcb_version, rs->target.tcb_version))
                ret->tcb_version = rs->target.tcb_version;
}

static const struct snp_binding *reseal_target(const struct reseal *rs, const struct luks_token *e) {
        if (!rs->targets || !rs->tokens || e < rs->tokens)
                return &rs->target;     /* --crypttab: the default binding */
        return &rs->targets[e - rs->tokens];
}

/* A binding below the floor cannot be kept: say how to move it. */
static int reseal_floor(const struct reseal *rs, const struct luks_token *e) {
        char why[512];

        if (luks_policy(rs->l->verb)->allow_weak_bindings ||
            snp_binding_check_floor(reseal_target(rs, e), why, sizeof(why)) >= 0)
                return 0;
        return cli_error(rs->l->verb, "%s: token %d: %s; it cannot be resealed as it is: give the binding to move it "
                         "to, e.g. snpseal reseal %s --bind=measurement,policy,tcb_version", rs->l->path, e->id, why,
                         rs->l->path), -EPERM;
}

static int reseal_pin(struct reseal *rs) {
        if (rs->pin)
                return 0;
        return pin_get(rs->l->verb, rs->a, !rs->a->pin_file, &rs->pin, &rs->pin_len);
}

/* Whether token e needs resealing (1) or not (0), its state and the reason;
 * takes the volume key from it when it opens. */
static int reseal_check(struct reseal *rs, const struct luks_token *e, int *ret_state, char *why,
                        size_t whylen) {
        _cleanup_secret_ char *vk = NULL;
        size_t vk_size = 0;
        const struct snp_binding *target = reseal_target(rs, e);
        bool differs = !luks_binding_equal(&e->t.binding, target);
        int state;

        if (e->t.pin && differs && !rs->a->dry_run && reseal_pin(rs) < 0)
                return -EINVAL;
        state = luks_token_check(rs->l, &e->t, e->t.pin ? rs->pin : NULL, rs->pin_len, rs->vk ? NULL : &vk,
                                 &vk_size, why, whylen);
        if (state < 0)
                return state;
        *ret_state = state;
        if (vk) {
                rs->vk = TAKE_PTR(vk);
                rs->vk_size = vk_size;
        }
        if (differs)
                luks_binding_diff(&e->t.binding, target, why, whylen);
        else if (state == LUKS_TOKEN_OPENS || state == LUKS_TOKEN_NEEDS_PIN)
                return 0;
        if ((state != LUKS_TOKEN_NO_KEYSLOT || luks_token_volume_key_changed(rs->l, &e->t)) && e->t.pin &&
            !rs->a->dry_run && reseal_pin(rs) < 0)
                return -EINVAL;
        return 1;
}

/* A token without keyslot (an interrupted remove or reseal) opens
 * nothing: finish its removal instead of resealing it. */
static int reseal_drop(struct reseal *rs, const struct luks_token *e) {
        int r = rs->a->dry_run ? 0 : luks_token_remove(rs->l, e->id, "old-");

        if (r < 0)
                return r;
        reseal_report(rs, e, 0, RESEAL_DROPPED, "no keyslot", -1, -1);
        return 0;
}

/* The old token's replacement already exists (an interrupted reseal got
 * as far as verifying it): only the old token goes. */
static int reseal_replaced(struct reseal *rs, const struct luks_token *e, const struct luks_token *by,
                           const char *why) {
        int r;

        uint32_t mask = luks_token_keyslots(rs->l, e->id);

        r = rs->a->dry_run ? 0 : luks_token_remove(rs->l, e->id, "old-");
        if (r < 0)
                return r;
        reseal_report(rs, e, mask, RESEAL_REPLACED, why, by->id, by->t.keyslot);
        return 0;
}

static int reseal_one(struct reseal *rs, const struct luks_token *e, const struct luks_token *by,
                      const char *why) {
        struct luks_enrolled n;
        uint32_t old_mask;
        char slots[128];
        int r;

        if (luks_token_keyslots(rs->l, e->id) == 0 && !luks_token_volume_key_changed(rs->l, &e->t))
                return reseal_drop(rs, e);
        if (by)
                return reseal_replaced(rs, e, by, why);
        if (rs->a->dry_run) {
                reseal_report(rs, e, luks_token_keyslots(rs->l, e->id), RESEAL_RESEALED, why, -1, -1);
                return 0;
        }

        if (!rs->vk) {
                fprintf(stderr, PROG ": %s: no snpseal token opens %s in this VM; unlocking it another way\n",
                        rs->l->verb, rs->l->path);
                r = luks_volume_key_get(rs->l, &rs->a->unlock, &rs->vk, &rs->vk_size);
                if (r < 0)
                        return r;
        }
        old_mask = luks_token_keyslots(rs->l, e->id);
        luks_slots_format(old_mask, slots, sizeof(slots));
        r = reseal_floor(rs, e);
        if (r < 0)
                return r;
        luks_progress_after("; token %d is still there: run snpseal reseal %s again to finish", e->id, rs->l->path);
        luks_progress("token %d of %s is being resealed (the new token is added before the old one goes): run "
                      "snpseal reseal %s again to finish", e->id, rs->l->path, rs->l->path);
        r = luks_token_enroll(rs->l, reseal_target(rs, e), e->t.pin ? rs->pin : NULL, e->t.pin ? rs->pin_len : 0, rs->vk,
                              rs->vk_size, &n);
        if (r < 0)
                return r;
        luks_progress("token %d of %s is resealed as token %d (keyslot %d), which works; the old one is being "
                      "removed: run snpseal reseal %s again to finish", e->id, rs->l->path, n.token, n.keyslot,
                      rs->l->path);
        r = luks_token_remove(rs->l, e->id, "old-");
        if (r < 0)
                return cli_error(rs->l->verb, "%s: token %d is resealed as token %d (keyslot %d), but the old "
                                 "token stays: remove it with snpseal remove --token=%d", rs->l->path, e->id,
                                 n.token, n.keyslot, e->id), r;
        /* Keep the token's number: scripts and crypttab token-id= name it. */
        r = luks_token_move(rs->l, n.token, e->id);
        if (r >= 0)
                n.token = r;
        /* And its keyslot's number, when it had one (and it is free now). */
        if (old_mask != 0 && (old_mask & (old_mask - 1)) == 0) {
                r = luks_token_keyslot_move(rs->l, n.token, __builtin_ctz(old_mask), e->t.pin ? rs->pin : NULL,
                                            e->t.pin ? rs->pin_len : 0, rs->vk, rs->vk_size);
                if (r < 0)
                        return r;
                n.keyslot = r;
        }
        if (rs->json)
                reseal_report(rs, e, old_mask, RESEAL_RESEALED, why, n.token, n.keyslot);
        else {
                printf("%stoken %d (keyslot %s): %s: resealed as token %d (keyslot %d)\n", rs->prefix, e->id, slots,
                       why, n.token, n.keyslot);
                rs->moved++;
        }
        return 0;
}

/* A token that needs no resealing, opens now and could stand in for e. */
static const struct luks_token *reseal_replacement(const struct reseal *rs, const struct luks_token *tokens,
                                                   size_t n, const bool *need, const int *state,
                                                   const struct luks_token *e) {
        for (size_t j = 0; j < n; j++)
                if (&tokens[j] != e && tokens[j].parse_error == 0 && !need[j] &&
                    state[j] == LUKS_TOKEN_OPENS && tokens[j].t.pin == e->t.pin &&
                    luks_binding_equal(&tokens[j].t.binding, reseal_target(rs, e)))
                        return &tokens[j];
        return NULL;
}

static int reseal_all(struct reseal *rs, struct luks_token *tokens, size_t n) {
        char why[LUKS_TOKENS_MAX][512];
        bool need[LUKS_TOKENS_MAX] = {};
        int state[LUKS_TOKENS_MAX], r;

        /* First every check: one token that still opens gives the volume key. */
        for (size_t i = 0; i < n; i++) {
                state[i] = LUKS_TOKEN_UNKNOWN;
                if (tokens[i].parse_error < 0) {
                        fprintf(stderr, PROG ": %s: skipping token %d: invalid snpseal token: %s\n", rs->l->verb,
                                tokens[i].id, tokens[i].error);
                        continue;
                }
                r = reseal_check(rs, &tokens[i], &state[i], why[i], sizeof(why[i]));
                if (r < 0)
                        return r;
                need[i] = r > 0;
        }
        for (size_t i = 0; i < n; i++) {
                if (!need[i])
                        continue;
                r = reseal_one(rs, &tokens[i], reseal_replacement(rs, tokens, n, need, state, &tokens[i]), why[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The launch and committed TCB (GetStatus), for what reseal says. */
static int agent_tcbs(struct luks *l, uint64_t *ret_launch, uint64_t *ret_committed) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();
        struct varlink_reply reply = {};
        const char *launch, *committed;
        int r;

        if (!params || luks_agent(l) < 0)
                return -EIO;
        r = varlink_client_call(l->agent, VARLINK_INTERFACE_AGENT ".GetStatus", params, &reply);
        if (r >= 0 && reply.error)
                r = -EPROTO;
        launch = r >= 0 ? cli_json_str(reply.parameters, "launch_tcb") : NULL;
        committed = r >= 0 ? cli_json_str(reply.parameters, "committed_tcb") : NULL;
        if (r >= 0 && (!launch || !committed || tcb_from_hex(launch, ret_launch) < 0 ||
                       tcb_from_hex(committed, ret_committed) < 0))
                r = -EBADMSG;
        varlink_reply_done(&reply);
        return r;
}

/* When nothing moved: say so, and why a firmware update did not count yet. */
static void reseal_nothing(struct reseal *rs, size_t n) {
        struct luks *l = rs->l;
        uint64_t launch, committed;
        char target[TCB_HEX_LEN + 1], c[TCB_HEX_LEN + 1];

        tcb_to_hex(rs->target.tcb_version, target);
        if (n == 0) {
                printf("Nothing to reseal: there are no snpseal tokens on %s.\n", l->path);
                return;
        }
        if (rs->a->binding.any)
                printf("Nothing to reseal on %s: every snpseal token is bound as asked and opens in this VM.\n",
                       l->path);
        else
                printf("Nothing to reseal on %s: every snpseal token opens in this VM with its own binding at TCB "
                       "%s or newer.\n", l->path, target);
        if (!rs->a->binding.any && agent_tcbs(l, &launch, &committed) >= 0 && launch != committed &&
            snp_tcb_le(launch, committed)) {
                tcb_to_hex(committed, c);
                printf("The committed TCB %s is newer than the launch TCB %s: tokens move to it once the VM is "
                       "launched on the new firmware (the default TCB is the per-component minimum of the two).\n",
                       c, target);
        }
}

static int reseal_do(struct luks *l, const struct luks_args *a) {
        _cleanup_(json_object_putp) json_object *json = NULL;
        struct reseal rs = { .l = l, .a = a, .prefix = "" };
        struct luks_token *tokens = NULL;
        size_t n = 0;
        int r;

        if (l->cli->json && !(json = json_object_new_array()))
                return cli_error(l->verb, "out of memory");
        rs.json = json;
        r = luks_plugin_check(l);
        if (r >= 0)
                r = luks_binding_get(l, &a->binding, &rs.target);
        if (r >= 0 && a->pin_file && !a->dry_run)
                r = reseal_pin(&rs);
        if (r >= 0 && !a->dry_run)
                r = repair(l, rs.pin, rs.pin_len);
        if (r >= 0)
                r = luks_tokens_load(l, &tokens, &n);
        if (r >= 0 && n > 0 && !(rs.targets = calloc(n, sizeof(*rs.targets)))) {
                cli_error(l->verb, "out of memory");
                r = -ENOMEM;
        }
        rs.tokens = tokens;
        for (size_t i = 0; r >= 0 && i < n; i++)
                reseal_target_of(&rs, &tokens[i], &rs.targets[i]);
        if (r >= 0)
                r = reseal_all(&rs, tokens, n);
        luks_tokens_free(tokens, n);
        free(rs.targets);
        secret_free(rs.pin);
        secret_free(rs.vk);
        if (json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                if (!o || json_add(o, "device", json_object_new_string(l->path)) < 0 ||
                    json_add(o, "dry_run", json_object_new_boolean(a->dry_run)) < 0 ||
                    json_add(o, "changes", json_object_get(json)) < 0 || cli_json_print(o) < 0)
                        return cli_error(l->verb, "cannot write the output");
        }
        if (r < 0)
                return EXIT_FAILURE;
        if (rs.moved == 0 && !json)
                reseal_nothing(&rs, n);
        return fflush(stdout) != 0 ? cli_error(l->verb, "cannot write the output") : EXIT_SUCCESS;
}

/* ---------------------------------------------------------------- reseal --crypttab */

/*
 * Every volume of a crypttab, without ever asking (snpseal-reseal.service
 * runs it): a token moves only when its binding is behind the default
 * binding (the same but for an older TCB: a firmware upgrade) and it opens
 * in this VM without a PIN; it gives the volume key. The move is
 * reseal_one(): add and verify the new token, then remove the old one.
 * Everything else is left alone, with the reason and what to run by hand.
 * Skips are not failures; a failed move or check is.
 */

struct reseal_tab {
        struct cli *cli;
        const char *verb;
        const struct luks_args *a;
        bool have_target;
        bool stop;              /* the target binding is unknown: check nothing more */
        struct snp_binding target;
};

enum tab_action { TAB_KEEP, TAB_MOVE, TAB_LEAVE, TAB_FAIL };

/* By the token's state: the action for a token at the target binding and
 * for one behind it; the reason's start and the hint for doing it by hand. */
static const struct {
        enum tab_action at, behind;
        const char *what;
        const char *hint;
} tab_rules[] = {
        [LUKS_TOKEN_OPENS]      = { TAB_KEEP,  TAB_MOVE,  "", "" },
        [LUKS_TOKEN_NEEDS_PIN]  = { TAB_KEEP,  TAB_LEAVE, "", " (it asks for the PIN)" },
        [LUKS_TOKEN_MISMATCH]   = { TAB_LEAVE, TAB_LEAVE, "does not open in this VM: ",
                                    " with a recovery key or passphrase" },
        [LUKS_TOKEN_WRONG_KEY]  = { TAB_LEAVE, TAB_LEAVE, "does not open in this VM: ",
                                    " with a recovery key or passphrase" },
        [LUKS_TOKEN_NO_KEYSLOT] = { TAB_LEAVE, TAB_LEAVE, "", " with --pin-file=FILE" },
        [LUKS_TOKEN_UNKNOWN]    = { TAB_FAIL,  TAB_FAIL,  "", "" },
        /* Never at boot: adding a MAC authenticates the header as it is now. */
        [LUKS_TOKEN_UNAUTHENTICATED] = { TAB_LEAVE, TAB_LEAVE, "", " to add header authentication" },
        [LUKS_TOKEN_HEADER_CHANGED]  = { TAB_LEAVE, TAB_LEAVE, "does not open: ",
                                         " with a recovery key or passphrase, if you changed the header yourself" },
        [LUKS_TOKEN_REFUSED]         = { TAB_LEAVE, TAB_LEAVE, "does not open: ",
                                         " with --bind=measurement,policy,tcb_version" },
};

/* Equal to target but for a TCB lower in at least one component and higher
 * in none. */
static bool binding_behind(const struct snp_binding *b, const struct snp_binding *target) {
        struct snp_binding same = *b;

        same.tcb_version = target->tcb_version;
        return luks_binding_equal(&same, target) && b->tcb_version != target->tcb_version &&
               snp_tcb_le(b->tcb_version, target->tcb_version);
}

static void tab_leave(const struct reseal *rs, const struct luks_token *e, const char *reason, const char *hint) {
        char slots[128];

        luks_slots_format(luks_token_keyslots(rs->l, e->id), slots, sizeof(slots));
        printf("%stoken %d (keyslot %s): %s: left alone; run snpseal reseal %s by hand%s\n", rs->prefix, e->id,
               slots, reason, rs->l->path, hint);
}

/* What to do with token e (enum tab_action), its state; the reason for a
 * move in why. Takes the volume key from it when it opens. */
static int tab_check(struct reseal *rs, const struct luks_token *e, int *ret_state, char *why, size_t whylen) {
        _cleanup_secret_ char *vk = NULL;
        bool at = luks_binding_equal(&e->t.binding, &rs->target);
        bool behind = !at && binding_behind(&e->t.binding, &rs->target);
        char diff[256], reason[1024];
        size_t vk_size = 0;
        int state, action;

        state = luks_token_check(rs->l, &e->t, NULL, 0, rs->vk ? NULL : &vk, &vk_size, why, whylen);
        if (state < 0)
                return state;
        *ret_state = state;
        if (vk) {
                rs->vk = TAKE_PTR(vk);
                rs->vk_size = vk_size;
        }
        for (char *p = why; (p = strchr(p, '\n')); )
                *p = ';';       /* one difference per line from the agent */
        luks_binding_diff(&e->t.binding, &rs->target, diff, sizeof(diff));
        if (!at && !behind) {
                (void) snprintf(reason, sizeof(reason), "bound otherwise than the default binding (%s)", diff);
                tab_leave(rs, e, reason, " with the binding options it should have");
                return TAB_LEAVE;
        }
        action = at ? tab_rules[state].at : tab_rules[state].behind;
        if (action == TAB_FAIL)
                return cli_error(rs->l->verb, "%s: cannot check token %d: %s", rs->l->path, e->id, why), -EIO;
        if (action == TAB_LEAVE) {
                (void) snprintf(reason, sizeof(reason), "%s%s%s%s", tab_rules[state].what, why,
                                behind ? "; behind the default binding: " : "", behind ? diff : "");
                tab_leave(rs, e, reason, tab_rules[state].hint);
        }
        if (action == TAB_MOVE)
                (void) snprintf(why, whylen, "%s", diff);
        return action;
}

/* Check every token first (one that opens gives the volume key), then move. */
static int tab_tokens(struct reseal *rs, const struct luks_token *tokens, size_t n, unsigned *ret_left) {
        char why[LUKS_TOKENS_MAX][512];
        bool need[LUKS_TOKENS_MAX] = {};
        int state[LUKS_TOKENS_MAX], r;
        unsigned left = 0;

        for (size_t i = 0; i < n; i++) {
                state[i] = LUKS_TOKEN_UNKNOWN;
                if (tokens[i].parse_error < 0) {
                        printf("%stoken %d: invalid snpseal token (%s): left alone\n", rs->prefix, tokens[i].id,
                               tokens[i].error);
                        left++;
                        continue;
                }
                r = tab_check(rs, &tokens[i], &state[i], why[i], sizeof(why[i]));
                if (r < 0)
                        return r;
                need[i] = r == TAB_MOVE;
                left += r == TAB_LEAVE;
        }
        for (size_t i = 0; i < n; i++) {
                if (!need[i])
                        continue;
                assert(rs->vk);         /* it opened: reseal_one() never asks */
                r = reseal_one(rs, &tokens[i], reseal_replacement(rs, tokens, n, need, state, &tokens[i]), why[i]);
                if (r < 0)
                        return r;
        }
        *ret_left = left;
        return 0;
}

/* The default binding, resolved once, at the first volume with tokens. */
static int tab_target(struct reseal_tab *t, struct luks *l) {
        if (t->have_target)
                return 0;
        if (luks_binding_get(l, &t->a->binding, &t->target) < 0) {
                t->stop = true;
                return cli_error(t->verb, "without the default binding no volume can be checked; stopped"), -EIO;
        }
        t->have_target = true;
        return 0;
}

static int tab_volume_open(struct reseal_tab *t, struct luks *l, const char *prefix) {
        struct reseal rs = { .l = l, .a = t->a, .prefix = prefix };
        struct luks_token *tokens = NULL;
        unsigned left = 0;
        size_t n = 0;
        int r;

        /* Only how many there are: repair() may change them. */
        r = luks_tokens_load(l, &tokens, &n);
        luks_tokens_free(tokens, n);
        if (r < 0)
                return r;
        if (n == 0)
                return printf("%s%s: no snpseal token, skipped\n", prefix, l->path), 0;
        tokens = NULL;
        n = 0;
        r = tab_target(t, l);
        if (r >= 0)
                r = luks_plugin_check(l);
        if (r >= 0) {
                rs.target = t->target;
                r = repair(l, NULL, 0);
        }
        if (r >= 0)
                r = luks_tokens_load(l, &tokens, &n);
        if (r >= 0)
                r = tab_tokens(&rs, tokens, n, &left);
        luks_tokens_free(tokens, n);
        secret_free(rs.vk);
        if (r >= 0 && rs.moved == 0 && left == 0)
                printf("%snothing to reseal\n", prefix);
        return r;
}

static void log_none(int level, const char *msg, void *userdata) {
        (void) level;
        (void) msg;
        (void) userdata;
}

/* 1 when path holds a LUKS2 header, 0 when not (nothing, LUKS1, another
 * format), -errno when it cannot be read. Prints nothing (but debug). */
static int tab_is_luks2(const char *path, bool debug) {
        struct crypt_device *cd = NULL;
        int r;

        if (!debug)
                crypt_set_log_callback(NULL, log_none, NULL);
        r = crypt_init(&cd, path);
        if (r >= 0)
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
        crypt_free(cd);
        luks_log_setup(debug);
        if (r == -EINVAL || r == -ENXIO)
                return 0;
        return r < 0 ? r : 1;
}

/* 1 when the entry's LUKS2 header is there; 0 when skipped (printed why). */
static int tab_present(const struct reseal_tab *t, const struct crypttab_entry *e, const char *verb) {
        const char *path = e->header ?: e->device;
        char where[PATH_MAX + 256];
        int r;

        if (e->header)
                (void) snprintf(where, sizeof(where), "header=%s", e->header);
        else if (strcmp(e->source, e->device) != 0)
                (void) snprintf(where, sizeof(where), "%s (%s)", e->source, e->device);
        else
                (void) snprintf(where, sizeof(where), "%s", e->device);
        if (access(path, F_OK) < 0) {
                r = -errno;
                if (r == -ENOENT || r == -ENOTDIR)
                        return printf("%s: %s: not present, skipped\n", e->name, where), 0;
                return cli_error(verb, "%s: %s", path, strerror(-r)), r;
        }
        r = tab_is_luks2(path, t->a->debug);
        if (r < 0)
                return cli_error(verb, "%s: cannot read it: %s", path, strerror(-r)), r;
        if (r == 0)
                printf("%s: %s: not a LUKS2 volume, skipped\n", e->name, where);
        return r;
}

static int tab_volume(struct reseal_tab *t, const struct crypttab_entry *e) {
        char verb[256], prefix[256];
        struct luks l;
        int r;

        /* libcryptsetup and luks.c name the volume through the verb:
         * "snpseal: reseal: NAME: DEVICE: reason". */
        (void) snprintf(verb, sizeof(verb), "%s: %.200s", t->verb, e->name);
        (void) snprintf(prefix, sizeof(prefix), "%.200s: ", e->name);
        r = tab_present(t, e, verb);
        if (r <= 0)
                return r;
        if (luks_open(t->cli, verb, e->header ?: e->device, &l) < 0)
                return -EIO;
        r = tab_volume_open(t, &l, prefix);
        luks_close(&l);
        return r;
}

static int reseal_crypttab(struct cli *cli, const char *verb, const struct luks_args *a) {
        struct reseal_tab t = { .cli = cli, .verb = verb, .a = a };
        struct crypttab tab;
        unsigned failed = 0;
        int r;

        /* Lines in the order they happen, also when both go to the journal. */
        (void) setvbuf(stdout, NULL, _IOLBF, 0);
        r = crypttab_read(a->crypttab, &tab);
        if (r == -EFBIG)
                return cli_error(verb, "cannot read the crypttab %s: it is larger than %u bytes", a->crypttab,
                                 CRYPTTAB_SIZE_MAX);
        if (r < 0)
                return cli_error(verb, "cannot read the crypttab %s: %s", a->crypttab, strerror(-r));
        for (size_t i = 0; i < tab.n_errors; i++)
                cli_error(verb, "%s:%u: %s; line skipped", a->crypttab, tab.errors[i].line, tab.errors[i].message);
        if (tab.n_entries == 0)
                printf("Nothing to reseal: %s lists no volumes.\n", a->crypttab);
        for (size_t i = 0; i < tab.n_entries && !t.stop; i++)
                if (tab_volume(&t, &tab.entries[i]) < 0)
                        failed++;
        crypttab_done(&tab);
        if (fflush(stdout) != 0 || ferror(stdout))
                return cli_error(verb, "cannot write the output");
        return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* DEVICE, or --crypttab without the options that only make sense for one
 * volume asked about on a terminal. */
static int reseal_args_check(const char *verb, const struct luks_args *a, int n) {
        if (!a->crypttab)
                return n == 1 ? CLI_CONTINUE
                              : cli_usage_error(verb, "missing DEVICE (or --crypttab for the volumes of "
                                                CRYPTTAB_DEFAULT ")");
        if (n > 0)
                return cli_usage_error(verb, "DEVICE and --crypttab exclude each other: give one volume, or "
                                       "--crypttab for the volumes of %s (another file: --crypttab=FILE)",
                                       a->crypttab);
        if (a->binding.any || a->binding.force || a->pin_file || a->unlock.key_file || a->unlock.token >= 0)
                return cli_usage_error(verb, "--crypttab takes no binding options, --pin-file= or --unlock-*: it "
                                       "moves tokens to the default binding and never asks for a key");
        return CLI_CONTINUE;
}

static int run_reseal(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                CLI_BINDING_OPTIONS,
                { "pin-file", required_argument, NULL, OPT_PIN_FILE },
                { "crypttab", optional_argument, NULL, OPT_CRYPTTAB },
                { "dry-run",  no_argument,       NULL, OPT_DRY_RUN },
                OPTIONS_UNLOCK,
                OPTION_DEBUG,
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct luks_args a;
        struct luks l;
        int r;

        r = parse_args(cli, verb, options, argc, argv, &a, 0, 1);
        if (r == CLI_CONTINUE)
                r = reseal_args_check(verb->name, &a, argc - optind);
        if (r != CLI_CONTINUE)
                return r;
        if (a.crypttab && (cli->json || a.dry_run))
                return cli_usage_error(verb->name, "--crypttab does not take --json or --dry-run (it logs one line "
                                       "per token)");
        if (geteuid() != 0)
                return cli_error(verb->name, "needs root: only root may derive the keys of LUKS2 tokens and "
                                 "write the LUKS2 header");
        if (a.crypttab)
                return reseal_crypttab(cli, verb->name, &a);
        if (luks_open(cli, verb->name, argv[optind], &l) < 0)
                return EXIT_FAILURE;
        luks_signals_setup(verb->name, l.path);
        r = reseal_do(&l, &a);
        luks_close(&l);
        return r;
}

const struct cli_verb cli_verb_reseal = {
        .name = "reseal",
        .args = "DEVICE [OPTIONS] | --crypttab[=FILE]",
        .summary = "Move snpseal tokens to the current TCB keeping their binding (or to a given binding)",
        .options =
                CLI_BINDING_OPTIONS_HELP
                "                            (given: every token moves to that binding; without them\n"
                "                            each keeps its own and only its TCB moves up)\n"
                "  --dry-run                 only say what would move\n"
                "  --pin-file=FILE           the PIN of PIN tokens (default: asked on the terminal)\n"
                HELP_UNLOCK
                "                            (used when no snpseal token opens in this VM)\n"
                "  --crypttab[=FILE]         instead of DEVICE: every volume of FILE (default\n"
                "                            " CRYPTTAB_DEFAULT "), moving only tokens behind the default\n"
                "                            binding's TCB that open without a PIN; never asks\n"
                HELP_DEBUG,
        .run = run_reseal,
};

/* ---------------------------------------------------------------- unlock */

static int unlock_do(struct luks *l, const struct luks_args *a, const char *name) {
        _cleanup_secret_ char *pin = NULL;
        size_t pin_len = 0;
        int r;

        struct luks_token *tokens = NULL;
        size_t n = 0;

        if (luks_tokens_load(l, &tokens, &n) < 0)
                return EXIT_FAILURE;
        luks_tokens_free(tokens, n);
        if (n == 0)
                return cli_error(l->verb, "%s: has no snpseal token (snpseal enroll adds one)", l->path);
        if (a->pin_file && pin_get(l->verb, a, false, &pin, &pin_len) < 0)
                return EXIT_FAILURE;
        r = luks_token_activate(l, a->test ? NULL : name, CRYPT_ANY_TOKEN, pin, pin_len);
        /* Asked at the terminal: a few tries, as systemd-cryptenroll gives. */
        for (int i = 0; !a->pin_file && (r == -ENOANO || (r == -EPERM && i > 0)) && i < LUKS_PROMPT_TRIES; i++) {
                secret_free(TAKE_PTR(pin));
                if (pin_get(l->verb, a, false, &pin, &pin_len) < 0)
                        return EXIT_FAILURE;
                r = luks_token_activate(l, a->test ? NULL : name, CRYPT_ANY_TOKEN, pin, pin_len);
        }
        if (r < 0)
                return EXIT_FAILURE;
        if (l->cli->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                if (!o || json_add(o, "device", json_object_new_string(l->path)) < 0 ||
                    json_add(o, "keyslot", json_object_new_int(r)) < 0 ||
                    json_object_object_add(o, "activated", a->test ? NULL : json_object_new_string(name)) < 0 ||
                    cli_json_print(o) < 0)
                        return cli_error(l->verb, "cannot write the output");
        } else if (a->test)
                printf("%s: a snpseal token opens keyslot %d (nothing activated).\n", l->path, r);
        else
                printf("%s: activated as /dev/mapper/%s (keyslot %d).\n", l->path, name, r);
        return fflush(stdout) != 0 ? cli_error(l->verb, "cannot write the output") : EXIT_SUCCESS;
}

static int run_unlock(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "test",     no_argument,       NULL, OPT_TEST },
                { "pin-file", required_argument, NULL, OPT_PIN_FILE },
                OPTION_DEBUG,
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct luks_args a;
        struct luks l;
        const char *name;
        int r;

        r = parse_args(cli, verb, options, argc, argv, &a, 1, 2);
        if (r != CLI_CONTINUE)
                return r;
        name = argc - optind > 1 ? argv[optind + 1] : NULL;
        if (!name && !a.test)
                return cli_usage_error(verb->name, "missing NAME (or --test to check without activating)");
        if (name && (!name[0] || strchr(name, '/')))
                return cli_usage_error(verb->name, "invalid NAME '%s': a device-mapper name without '/'", name);
        if (luks_open(cli, verb->name, argv[optind], &l) < 0)
                return EXIT_FAILURE;
        r = unlock_do(&l, &a, name);
        luks_close(&l);
        return r;
}

const struct cli_verb cli_verb_unlock = {
        .name = "unlock",
        .args = "DEVICE NAME [--test]",
        .summary = "Activate a LUKS2 volume through its snpseal token (--test: only check)",
        .options =
                "  --test                    check that a token opens the volume; activate nothing\n"
                "                            (NAME may be left out)\n"
                "  --pin-file=FILE           the token's PIN (default: asked when a token needs it)\n"
                HELP_DEBUG,
        .run = run_unlock,
};

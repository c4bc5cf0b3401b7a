/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal's LUKS2 helpers (luks.h): the header through libcryptsetup, the
 * agent's DeriveKey, and the ordered steps that add, verify and remove
 * snpseal tokens.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base64.h"
#include "hexutil.h"
#include "json-util.h"
#include "luks.h"
#include "luks2-mac.h"
#include "luks2-meta.h"
#include "secret.h"
#include "varlink.h"

/* ---- test hook ---- */

/* Every step after which SNPSEAL_TEST_INTERRUPT=<name> kills the process
 * (exit status 99). Step names as documented in docs (tests/luks). */
static const char *const luks_steps[] = {
        "token-written",        /* enroll, reseal: the new token (no keyslot yet) is written */
        "keyslot-added",        /* the new token's keyslot is written */
        "token-assigned",       /* the token is assigned to it */
        "verified",             /* the new token opened the volume through the plugin */
        "rolled-back-keyslot",  /* a failed verification: the new keyslot is removed again */
        "recovery-added",       /* enroll --recovery-key: the recovery keyslot is written */
        "recovery-marked",      /* and its systemd-recovery token */
        "recovery-printed",     /* the recovery key is on stdout */
        "slot-wiped",           /* enroll --wipe-slot: after each wiped keyslot */
        "old-keyslot-removed",  /* reseal: the old token's keyslot is destroyed */
        "old-token-removed",    /* reseal: the old token is removed */
        "token-copied",         /* reseal: the new token is written at the old one's number too */
        "keyslot-copied",       /* reseal: the new token's key is written at the old keyslot number too */
        "token-reassigned",     /* reseal: the new token names the old keyslot number */
        "spare-keyslot-removed", /* reseal: the new token's first keyslot is destroyed */
        "keyslot-removed",      /* remove: the token's keyslot is destroyed */
        "token-removed",        /* remove: the token is removed */
        "repair-keyslot-removed", /* a half-added token's keyslot is destroyed (luks_repair) */
        "repair-token-removed", /* and the token */
        "repair-copy-removed",  /* a spare copy of a token's keyslot is destroyed (luks_repair) */
};

#define INTERRUPT_ENV "SNPSEAL_TEST_INTERRUPT"

#define SIGNAL_ENV "SNPSEAL_TEST_SIGNAL"

/* ---- Ctrl-C ---- */

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t changing;          /* the header is being changed */
static char interrupt_nothing[256];             /* the whole message when nothing changed yet */
static char progress[1024];                     /* the volume's state once changing */
static char progress_after[512];                /* what an enrolled token still waits for */

static void on_signal(int sig) {
        if (!changing) {
                /* Before the first change: nothing to say but that. */
                ssize_t n = write(STDERR_FILENO, interrupt_nothing, strlen(interrupt_nothing));

                (void) n;
                _exit(128 + sig);
        }
        interrupted = sig;
}

void luks_signals_setup(const char *verb, const char *path) {
        struct sigaction sa = { .sa_handler = on_signal };
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

        (void) snprintf(interrupt_nothing, sizeof(interrupt_nothing), "\n" PROG ": %s: interrupted; nothing on %s "
                        "was changed\n", verb, path);
        (void) sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                (void) sigaction(sigs[i], &sa, NULL);
}

void luks_progress(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(progress, sizeof(progress), fmt, ap);
        va_end(ap);
        changing = 1;
}

void luks_progress_after(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(progress_after, sizeof(progress_after), fmt, ap);
        va_end(ap);
}

void luks_step(const char *name) {
        const char *want = getenv(INTERRUPT_ENV), *sig = getenv(SIGNAL_ENV);

        if (want && strcmp(want, name) == 0) {
                (void) fflush(stdout);
                _exit(99);
        }
        if (sig && strcmp(sig, name) == 0)
                (void) raise(SIGINT);   /* the test's Ctrl-C */
        /* A step is done: the header is consistent; stop here and say where. */
        if (interrupted) {
                (void) fflush(stdout);
                fprintf(stderr, "\n" PROG ": interrupted: %s\n", progress);
                exit(128 + interrupted);
        }
}

int luks_steps_check(const char *verb) {
        const char *want = getenv(INTERRUPT_ENV);

        if (!want || !want[0])
                return 0;
        if (strcmp(want, "list") == 0) {
                for (size_t i = 0; i < ELEMENTSOF(luks_steps); i++)
                        puts(luks_steps[i]);
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(luks_steps); i++)
                if (strcmp(want, luks_steps[i]) == 0)
                        return 0;
        cli_error(verb, INTERRUPT_ENV "=%s: unknown step (" INTERRUPT_ENV "=list lists them)", want);
        return -EINVAL;
}

/* ---- libcryptsetup's messages ---- */

static bool log_debug_on;
static unsigned log_quiet;      /* > 0: our own probing, we print the reason ourselves */

static void log_callback(int level, const char *msg, void *userdata) {
        size_t len = strlen(msg);

        (void) userdata;
        if (level != CRYPT_LOG_NORMAL && level != CRYPT_LOG_ERROR && !log_debug_on)
                return;
        if (log_quiet > 0 && !log_debug_on)
                return;
        while (len > 0 && msg[len - 1] == '\n')
                len--;
        /* "snpseal: " before every line (the plugin's messages have several). */
        while (len > 0) {
                const char *nl = memchr(msg, '\n', len);
                size_t n = nl ? (size_t) (nl - msg) : len;

                fprintf(stderr, PROG ": %.*s\n", (int) n, msg);
                msg += nl ? n + 1 : n;
                len -= nl ? n + 1 : n;
        }
}

void luks_log_setup(bool debug) {
        log_debug_on = debug;
        crypt_set_log_callback(NULL, log_callback, NULL);
        if (debug)
                crypt_set_debug_level(CRYPT_DEBUG_ALL);
}

/* ---- device ---- */

static int load_header(const char *verb, const char *path, struct crypt_device *cd) {
        int r;

        log_quiet++;
        r = crypt_load(cd, CRYPT_LUKS2, NULL);
        if (r == -EINVAL && crypt_load(cd, CRYPT_LUKS1, NULL) >= 0) {
                log_quiet--;
                cli_error(verb, "%s: a LUKS1 device: tokens need LUKS2 (cryptsetup convert --type luks2 %s)",
                          path, path);
                return -EMEDIUMTYPE;
        }
        log_quiet--;
        if (r == -EINVAL || r == -ENXIO)
                return cli_error(verb, "%s: not a LUKS2 device", path), -EMEDIUMTYPE;
        if (r < 0)
                return cli_error(verb, "%s: cannot read the LUKS2 header: %s", path, strerror(-r)), r;
        return 0;
}

int luks_open(const struct cli *cli, const char *verb, const char *path, struct luks *ret) {
        struct crypt_device *cd = NULL;
        int r;

        if (access(path, F_OK) < 0) {
                r = -errno;
                return cli_error(verb, "%s: %s", path, strerror(-r)), r;
        }
        log_quiet++;
        r = crypt_init(&cd, path);
        log_quiet--;
        if (r < 0)
                return cli_error(verb, "%s: cannot open the device: %s", path, strerror(-r)), r;
        r = load_header(verb, path, cd);
        if (r < 0) {
                crypt_free(cd);
                return r;
        }
        /* The plugin, loaded into this process to verify tokens, asks the
         * same agent as we do. */
        if (setenv("SNPSEAL_SOCKET", cli->socket, 1) < 0) {
                crypt_free(cd);
                return cli_error(verb, "out of memory"), -ENOMEM;
        }
        *ret = (struct luks) { .cli = cli, .verb = verb, .path = path, .cd = cd };
        return 0;
}

void luks_close(struct luks *l) {
        varlink_client_free(l->agent);
        l->agent = NULL;
        crypt_free(l->cd);
        l->cd = NULL;
}

int luks_agent(struct luks *l) {
        if (l->agent)
                return 0;
        return cli_agent_connect(l->cli, &l->agent);
}

int luks_plugin_check(const struct luks *l) {
        const char *dir = crypt_token_external_path();
        char path[4096];

        if (!dir)
                return cli_error(l->verb, "this libcryptsetup does not load external token plugins"), -ENOTSUP;
        if (snprintf(path, sizeof(path), "%s/" LUKS_PLUGIN_NAME, dir) >= (int) sizeof(path))
                return cli_error(l->verb, "token plugin path too long"), -ENAMETOOLONG;
        if (access(path, R_OK) < 0)
                return cli_error(l->verb, "the snpseal token plugin is not installed in %s (no %s)", dir,
                                 LUKS_PLUGIN_NAME), -ENOENT;
        return 0;
}

static int keyslot_max(void) {
        int n = crypt_keyslot_max(CRYPT_LUKS2);

        return n < 0 ? 0 : n > LUKS_KEYSLOTS_MAX ? LUKS_KEYSLOTS_MAX : n;
}

uint32_t luks_keyslots_active(const struct luks *l) {
        uint32_t mask = 0;

        for (int i = 0; i < keyslot_max(); i++) {
                crypt_keyslot_info st = crypt_keyslot_status(l->cd, i);

                if (st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST)
                        mask |= UINT32_C(1) << i;
        }
        return mask;
}

uint32_t luks_token_keyslots(const struct luks *l, int token) {
        uint32_t mask = 0;

        for (int i = 0; i < keyslot_max(); i++)
                if (crypt_token_is_assigned(l->cd, token, i) == 0)
                        mask |= UINT32_C(1) << i;
        return mask;
}

void luks_slots_format(uint32_t mask, char *buf, size_t size) {
        size_t len = 0;

        if (size == 0)
                return;
        buf[0] = '\0';
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++) {
                int n;

                if (!(mask & (UINT32_C(1) << i)))
                        continue;
                n = snprintf(buf + len, size - len, "%s%d", len > 0 ? "," : "", i);
                if (n < 0 || (size_t) n >= size - len)
                        return;
                len += (size_t) n;
        }
        if (len == 0)
                (void) snprintf(buf, size, "none");
}

static int token_max(void) {
        int n = crypt_token_max(CRYPT_LUKS2);

        return n < 0 ? 0 : n > LUKS_TOKENS_MAX ? LUKS_TOKENS_MAX : n;
}

/* ---- keyslot kinds ---- */

uint32_t luks_keyslots_of_type(const struct luks *l, const char *type) {
        uint32_t mask = 0;

        for (int id = 0; id < token_max(); id++) {
                const char *t = NULL;
                crypt_token_info st = crypt_token_status(l->cd, id, &t);

                if ((st == CRYPT_TOKEN_INTERNAL || st == CRYPT_TOKEN_EXTERNAL ||
                     st == CRYPT_TOKEN_EXTERNAL_UNKNOWN || st == CRYPT_TOKEN_INTERNAL_UNKNOWN) &&
                    t && (!type || strcmp(t, type) == 0))
                        mask |= luks_token_keyslots(l, id);
        }
        return mask & luks_keyslots_active(l);
}

uint32_t luks_keyslots_vm_free(const struct luks *l) {
        return luks_keyslots_active(l) & ~luks_keyslots_of_type(l, SNPSEAL_TOKEN_TYPE);
}

const char *luks_keyslot_kind(const struct luks *l, int keyslot, char *buf, size_t size) {
        uint32_t bit = UINT32_C(1) << keyslot;
        const char *type = NULL;

        for (int id = 0; id < token_max(); id++) {
                crypt_token_info st = crypt_token_status(l->cd, id, &type);

                if (st == CRYPT_TOKEN_INACTIVE || st == CRYPT_TOKEN_INVALID || !type ||
                    !(luks_token_keyslots(l, id) & bit))
                        continue;
                if (strcmp(type, SNPSEAL_TOKEN_TYPE) == 0)
                        (void) snprintf(buf, size, "snpseal token %d", id);
                else if (strcmp(type, LUKS_RECOVERY_TOKEN_TYPE) == 0)
                        (void) snprintf(buf, size, "recovery key (token %d)", id);
                else
                        (void) snprintf(buf, size, "%s token %d", type, id);
                return buf;
        }
        (void) snprintf(buf, size, "passphrase");
        return buf;
}

int luks_recovery_token_add(const struct luks *l, int keyslot) {
        char json[96];
        int r;

        (void) snprintf(json, sizeof(json), "{\"type\":\"" LUKS_RECOVERY_TOKEN_TYPE "\",\"keyslots\":[\"%d\"]}",
                        keyslot);
        r = crypt_token_json_set(l->cd, CRYPT_ANY_TOKEN, json);
        if (r < 0)
                return cli_error(l->verb, "%s: cannot mark keyslot %d as the recovery key: %s", l->path, keyslot,
                                 strerror(-r)), r;
        return r;
}

/* Whether keyslot opens with the empty passphrase. */
static bool keyslot_empty(const struct luks *l, int keyslot) {
        return crypt_activate_by_passphrase(l->cd, NULL, keyslot, "", 0, 0) >= 0;
}

static const struct {
        const char *name;
        const char *token_type;         /* keyslots of these tokens; NULL: see the code */
} wipe_names[] = {
        { "password", NULL },
        { "recovery", LUKS_RECOVERY_TOKEN_TYPE },
        { "empty", NULL },
        { "all", NULL },
        { "snpseal", SNPSEAL_TOKEN_TYPE },
        { "pkcs11", "systemd-pkcs11" },
        { "fido2", "systemd-fido2" },
        { "tpm2", "systemd-tpm2" },
};

bool luks_wipe_name_valid(const char *word) {
        uint32_t n;

        if (parse_u32(word, LUKS_KEYSLOTS_MAX - 1, &n) >= 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(wipe_names); i++)
                if (strcmp(word, wipe_names[i].name) == 0)
                        return true;
        return false;
}

static uint32_t wipe_word(const struct luks *l, const char *word) {
        uint32_t active = luks_keyslots_active(l), n;

        if (parse_u32(word, LUKS_KEYSLOTS_MAX - 1, &n) >= 0)
                return UINT32_C(1) << n;
        if (strcmp(word, "all") == 0)
                return active;
        if (strcmp(word, "password") == 0)
                return active & ~luks_keyslots_of_type(l, NULL);
        if (strcmp(word, "empty") == 0) {
                uint32_t mask = 0, pw = active & ~luks_keyslots_of_type(l, NULL);

                for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++)
                        if ((pw & (UINT32_C(1) << i)) && keyslot_empty(l, i))
                                mask |= UINT32_C(1) << i;
                return mask;
        }
        for (size_t i = 0; i < ELEMENTSOF(wipe_names); i++)
                if (wipe_names[i].token_type && strcmp(word, wipe_names[i].name) == 0)
                        return luks_keyslots_of_type(l, wipe_names[i].token_type);
        return 0;
}

int luks_wipe_resolve(const struct luks *l, const char *spec, uint32_t *ret) {
        _cleanup_(freep) char *copy = strdup(spec);
        uint32_t mask = 0, active = luks_keyslots_active(l);
        char *save = NULL;

        if (!copy)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                uint32_t m = wipe_word(l, w), n;

                if (parse_u32(w, LUKS_KEYSLOTS_MAX - 1, &n) >= 0 && !(active & m))
                        return cli_error(l->verb, "%s: --wipe-slot: keyslot %s is not in use", l->path, w), -EINVAL;
                mask |= m;
        }
        *ret = mask;
        return 0;
}

/* ---- tokens ---- */


void luks_tokens_free(struct luks_token *tokens, size_t n) {
        if (!tokens)
                return;
        for (size_t i = 0; i < n; i++)
                if (tokens[i].parse_error == 0)
                        token_json_done(&tokens[i].t);
        free(tokens);
}

int luks_tokens_load(const struct luks *l, struct luks_token **ret, size_t *ret_n) {
        struct luks_token *tokens = calloc(LUKS_TOKENS_MAX, sizeof(*tokens));
        size_t n = 0;

        if (!tokens)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        for (int id = 0; id < token_max(); id++) {
                struct luks_token *e = &tokens[n];
                const char *type = NULL, *json = NULL;
                crypt_token_info st = crypt_token_status(l->cd, id, &type);

                if (st != CRYPT_TOKEN_EXTERNAL && st != CRYPT_TOKEN_EXTERNAL_UNKNOWN)
                        continue;
                if (!type || strcmp(type, SNPSEAL_TOKEN_TYPE) != 0)
                        continue;
                e->id = id;
                if (crypt_token_json_get(l->cd, id, &json) < 0 || !json) {
                        e->parse_error = -EIO;
                        (void) snprintf(e->error, sizeof(e->error), "cannot read the token's JSON");
                } else
                        e->parse_error = token_json_parse(json, &e->t, e->error, sizeof(e->error));
                if (e->parse_error > 0)
                        e->parse_error = 0;
                n++;
        }
        *ret = tokens;
        *ret_n = n;
        return 0;
}

/* ---- unlocking ---- */

static int vk_alloc(const struct luks *l, char **ret, size_t *ret_size) {
        int size = crypt_get_volume_key_size(l->cd);

        if (size <= 0)
                return cli_error(l->verb, "%s: the header names no volume key size", l->path), -EINVAL;
        *ret = secret_alloc((size_t) size);
        if (!*ret)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        *ret_size = (size_t) size;
        return 0;
}

int luks_volume_key_by_passphrase(const struct luks *l, int keyslot, const char *pass, size_t len, bool quiet,
                                  char **ret_vk, size_t *ret_size) {
        _cleanup_secret_ char *vk = NULL;
        size_t size;
        int r;

        r = vk_alloc(l, &vk, &size);
        if (r < 0)
                return r;
        log_quiet++;
        r = crypt_volume_key_get(l->cd, keyslot, vk, &size, pass, len);
        log_quiet--;
        if (r == -EPERM && quiet)
                return r;
        if (r == -EPERM && keyslot == CRYPT_ANY_SLOT)
                return cli_error(l->verb, "%s: wrong passphrase (it opens no keyslot)", l->path), r;
        if (r == -EPERM)
                return cli_error(l->verb, "%s: the passphrase does not open keyslot %d", l->path, keyslot), r;
        if (r < 0)
                return cli_error(l->verb, "%s: cannot get the volume key: %s", l->path, strerror(-r)), r;
        *ret_vk = TAKE_PTR(vk);
        *ret_size = size;
        return r;
}

/* What a token's failure means, for messages (libcryptsetup's token contract). */
static const char *token_error(int r, bool pin) {
        switch (r) {
        case -ENOANO:
                return pin ? "wrong PIN" : "it needs a PIN";
        case -EAGAIN:
                return "its agent or device is unavailable";
        case -EPERM:
                return pin ? "wrong PIN (the derived key does not open the keyslot)"
                           : "its passphrase does not open its keyslot";
        case -ENOENT:
                return "it refused, or no plugin handles its type";
        default:
                return strerror(-r);
        }
}

int luks_volume_key_by_token(const struct luks *l, int token, const char *pin, size_t pin_len,
                             char **ret_vk, size_t *ret_size) {
        _cleanup_secret_ char *vk = NULL;
        struct crypt_keyslot_context *kc = NULL;
        size_t size;
        int r;

        r = vk_alloc(l, &vk, &size);
        if (r < 0)
                return r;
        r = crypt_keyslot_context_init_by_token(l->cd, token, NULL, pin, pin_len, NULL, &kc);
        if (r >= 0)
                r = crypt_volume_key_get_by_keyslot_context(l->cd, CRYPT_ANY_SLOT, vk, &size, kc);
        crypt_keyslot_context_free(kc);
        if (r == -ENOANO && !pin)
                return r;       /* the caller asks for the PIN */
        if (r < 0)
                return cli_error(l->verb, "%s: token %d cannot unlock: %s", l->path, token,
                                 token_error(r, pin != NULL)), r;
        *ret_vk = TAKE_PTR(vk);
        *ret_size = size;
        return r;
}

/* A key file every user may read gives the volume away: warn, as
 * systemd-cryptenroll does (the key is used all the same). */
static void luks_key_file_check_mode(const char *verb, const char *file, int fd) {
        struct stat st;

        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IROTH | S_IWOTH)))
                fprintf(stderr, PROG ": %s: warning: the key file %s is readable or writable by every user "
                        "(mode %04o); chmod 0600 it\n", verb, file, (unsigned) (st.st_mode & 07777));
}

static int read_key_file(const char *verb, const char *file, char **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = -1;
        bool is_stdin = strcmp(file, "-") == 0;
        int r;

        fd = is_stdin ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                return cli_error(verb, "cannot open the key file %s: %s", file, strerror(-r)), r;
        }
        luks_key_file_check_mode(verb, file, fd);
        r = cli_read_capped(fd, LUKS_KEYFILE_MAX, ret, ret_len);
        if (r == -EFBIG)
                return cli_error(verb, "the key file %s is larger than %u bytes", file, LUKS_KEYFILE_MAX), r;
        if (r < 0)
                return cli_error(verb, "cannot read the key file %s: %s", file, strerror(-r)), r;
        if (*ret_len == 0) {
                secret_free(*ret);
                return cli_error(verb, "the key file %s is empty", file), -EINVAL;
        }
        return 0;
}

int luks_tty_check(const char *verb, const char *what, const char *option) {
        _cleanup_(closep) int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (fd < 0)
                return cli_error(verb, "cannot ask for %s: no terminal; use %s", what, option), -ENOTTY;
        return 0;
}

static int volume_key_by_token_ask(const struct luks *l, int token, char **ret_vk, size_t *ret_size) {
        char prompt[PATH_MAX + 64];
        int r;

        r = luks_volume_key_by_token(l, token, NULL, 0, ret_vk, ret_size);
        if (r != -ENOANO)
                return r;
        r = luks_tty_check(l->verb, "the token's PIN", "a token without PIN, or --unlock-key-file=FILE");
        if (r < 0)
                return r;
        (void) snprintf(prompt, sizeof(prompt), "PIN for token %d of %s", token, l->path);
        /* As systemd-cryptenroll: a few tries at the terminal. */
        for (int i = 0; i < LUKS_PROMPT_TRIES; i++) {
                _cleanup_secret_ char *pin = NULL;
                size_t len;

                r = cli_password_get_prompt(l->verb, NULL, prompt, false, &pin, &len);
                if (r >= 0)
                        r = luks_volume_key_by_token(l, token, pin, len, ret_vk, ret_size);
                if (r != -EPERM && r != -ENOANO)
                        return r;
        }
        return r;
}

int luks_volume_key_get(const struct luks *l, const struct luks_unlock *u, char **ret_vk, size_t *ret_size) {
        _cleanup_secret_ char *pass = NULL;
        char prompt[PATH_MAX + 32];
        size_t len;
        int r;

        if (u->token >= 0)
                return volume_key_by_token_ask(l, u->token, ret_vk, ret_size);
        if (u->key_file) {
                r = read_key_file(l->verb, u->key_file, &pass, &len);
                if (r < 0)
                        return r;
                return luks_volume_key_by_passphrase(l, CRYPT_ANY_SLOT, pass, len, false, ret_vk, ret_size);
        }
        r = luks_tty_check(l->verb, "an existing passphrase", "--unlock-key-file=FILE or --unlock-token=ID");
        if (r < 0)
                return r;
        (void) snprintf(prompt, sizeof(prompt), "Passphrase for %s", l->path);
        for (int i = 0; i < LUKS_PROMPT_TRIES; i++) {
                r = cli_password_get_prompt(l->verb, NULL, prompt, false, &pass, &len);
                if (r < 0)
                        return r;
                r = luks_volume_key_by_passphrase(l, CRYPT_ANY_SLOT, pass, len, i + 1 < LUKS_PROMPT_TRIES, ret_vk,
                                                  ret_size);
                secret_free(TAKE_PTR(pass));
                if (r != -EPERM)
                        return r;
                fprintf(stderr, PROG ": %s: no key available with this passphrase; try again\n", l->verb);
        }
        return r;
}

/* ---- the agent ---- */

static int derive_params(const struct snp_binding *b, const uint8_t *salt, const char *pin, size_t pin_len,
                         json_object *expect, json_object **ret) {
        _cleanup_(json_object_put_wipep) json_object *p = json_object_new_object();
        char salt64[64];

        if (!p || base64_encode(salt, SNPSEAL_TOKEN_SALT_LEN, salt64, sizeof(salt64)) < 0)
                return -ENOMEM;
        if (json_add(p, "binding", snp_binding_to_json(b)) < 0 ||
            json_add(p, "salt", json_object_new_string(salt64)) < 0 ||
            json_add(p, "purpose", json_object_new_string(SNPSEAL_TOKEN_PURPOSE)) < 0 ||
            (pin && json_add(p, "pin", json_object_new_string_len(pin, (int) pin_len)) < 0) ||
            (expect && json_add(p, "expect", json_object_get(expect)) < 0))
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

static int derive_reply_error(const struct varlink_reply *reply, char *why, size_t whylen) {
        const char *msg = cli_json_str(reply->parameters, "message");
        const char *param = cli_json_str(reply->parameters, "parameter");

        if (msg)
                (void) snprintf(why, whylen, "%s", msg);
        else
                (void) snprintf(why, whylen, "the agent answered %s%s%s", reply->error, param ? " for " : "",
                                param ?: "");
        if (strcmp(reply->error, VARLINK_INTERFACE_AGENT ".IdentityMismatch") == 0)
                return -EKEYREJECTED;
        if (strcmp(reply->error, VARLINK_INTERFACE_AGENT ".NotPermitted") == 0)
                return -EPERM;
        return -EPROTO;
}

/* K_mac from the reply ("macKey", base64 of 32 bytes). */
static int derive_reply_mac_key(const struct varlink_reply *reply, uint8_t *ret, char *why, size_t whylen) {
        const char *b64 = cli_json_str(reply->parameters, "macKey");
        uint8_t buf[LUKS2_MAC_KEY_LEN + 3];
        size_t n = 0;
        int r = 0;

        if (!b64 || strlen(b64) != base64_encoded_len(LUKS2_MAC_KEY_LEN) ||
            base64_decode(b64, strlen(b64), buf, sizeof(buf), &n) < 0 || n != LUKS2_MAC_KEY_LEN)
                r = -EBADMSG;
        else
                memcpy(ret, buf, LUKS2_MAC_KEY_LEN);
        secret_wipe(buf, sizeof(buf));
        if (r < 0)
                (void) snprintf(why, whylen, "the agent's DeriveKey reply carries no header MAC key (an older "
                                "snpseald?)");
        return r;
}

static int derive_reply_ok(const struct varlink_reply *reply, char **ret_key, size_t *ret_len,
                           json_object **ret_identity, uint8_t *ret_mac_key, char *why, size_t whylen) {
        const char *key = cli_json_str(reply->parameters, "key");
        json_object *identity = NULL;
        char *dup;

        if (!key || !key[0] || strlen(key) > 256 ||
            !json_object_object_get_ex(reply->parameters, "identity", &identity) ||
            !json_object_is_type(identity, json_type_object)) {
                (void) snprintf(why, whylen, "the agent's DeriveKey reply carries no key or identity");
                return -EBADMSG;
        }
        if (ret_mac_key && derive_reply_mac_key(reply, ret_mac_key, why, whylen) < 0)
                return -EBADMSG;
        dup = secret_dup(key, strlen(key) + 1);
        if (!dup)
                return (void) snprintf(why, whylen, "out of memory"), -ENOMEM;
        *ret_key = dup;
        *ret_len = strlen(dup);
        if (ret_identity)
                *ret_identity = json_object_get(identity);
        return 0;
}

int luks_derive(struct luks *l, const struct snp_binding *b, const uint8_t salt[SNPSEAL_TOKEN_SALT_LEN],
                const char *pin, size_t pin_len, json_object *expect,
                char **ret_key, size_t *ret_len, json_object **ret_identity, uint8_t *ret_mac_key,
                char *why, size_t whylen) {
        _cleanup_(json_object_put_wipep) json_object *params = NULL;
        struct varlink_reply reply = {};
        int r;

        r = luks_agent(l);
        if (r < 0) {
                why[0] = '\0';         /* cli_agent_connect() printed why */
                return r;
        }
        r = derive_params(b, salt, pin, pin_len, expect, &params);
        if (r < 0)
                return cli_error(l->verb, "out of memory"), r;
        r = varlink_client_call(l->agent, VARLINK_INTERFACE_AGENT ".DeriveKey", params, &reply);
        if (r == -ECONNRESET) {
                /* The agent drops a connection idle for connection_timeout
                 * seconds (snpseald.conf(5)), and Argon2 keyslots between
                 * two calls can take that long: connect again, once. */
                varlink_client_free(l->agent);
                l->agent = NULL;
                r = luks_agent(l);
                if (r < 0) {
                        why[0] = '\0';
                        return r;
                }
                r = varlink_client_call(l->agent, VARLINK_INTERFACE_AGENT ".DeriveKey", params, &reply);
        }
        if (r < 0) {
                (void) snprintf(why, whylen, "the snpseal agent at %s did not answer DeriveKey: %s",
                                l->cli->socket, strerror(-r));
                return r;
        }
        r = reply.error ? derive_reply_error(&reply, why, whylen)
                        : derive_reply_ok(&reply, ret_key, ret_len, ret_identity, ret_mac_key, why, whylen);
        varlink_reply_done(&reply);
        return r;
}

const struct snpseal_policy *luks_policy(const char *verb) {
        static struct snpseal_policy policy;
        static bool loaded;
        char err[512];

        if (!loaded && snpseal_policy_load(snpseal_policy_path(), &policy, err, sizeof(err)) < 0)
                fprintf(stderr, PROG ": %s: warning: %s; nothing in it is relaxed\n", verb, err);
        loaded = true;
        return &policy;
}

int luks_binding_get(struct luks *l, const struct cli_binding_args *args, struct snp_binding *ret) {
        _cleanup_(json_object_putp) json_object *json = NULL;
        struct cli_binding_args a = *args;
        struct snp_binding b;
        char err[512];
        int r;

        r = luks_agent(l);
        if (r < 0)
                return r;
        a.any = true;   /* a token records its binding: resolve the default too */
        r = cli_binding_resolve(l->cli, l->agent, l->verb, &a, &json);
        if (r < 0)
                return r;
        r = snp_binding_from_json(json, &b, err, sizeof(err));
        if (r < 0)
                return cli_error(l->verb, "internal error: resolved binding: %s", err), r;
        r = snp_binding_check_persistent(&b, luks_policy(l->verb)->allow_weak_bindings, args->force, err,
                                         sizeof(err));
        if (r < 0)
                return cli_error(l->verb, "%s", err), r;
        *ret = b;
        return 0;
}

/* ---- adding and removing ---- */

int luks_keyslot_add(const struct luks *l, const char *vk, size_t vk_size, const char *pass, size_t len,
                     bool argon2, int *ret_keyslot) {
        static const struct crypt_pbkdf_type pbkdf2 = {
                .type = CRYPT_KDF_PBKDF2,
                .hash = "sha512",
                .iterations = 1000,
                .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        const struct crypt_pbkdf_type *p = argon2 ? crypt_get_pbkdf_default(CRYPT_LUKS2) : &pbkdf2;
        int r, max = keyslot_max();
        uint32_t all = max >= 32 ? UINT32_MAX : (UINT32_C(1) << max) - 1;

        if ((luks_keyslots_active(l) & all) == all)
                return cli_error(l->verb, "%s: no free keyslot", l->path), -ENOSPC;
        r = p ? crypt_set_pbkdf_type(l->cd, p) : -EINVAL;
        if (r < 0)
                return cli_error(l->verb, "%s: cannot set the keyslot's PBKDF: %s", l->path, strerror(-r)), r;
        r = crypt_keyslot_add_by_volume_key(l->cd, CRYPT_ANY_SLOT, vk, vk_size, pass, len);
        if (r < 0)
                return cli_error(l->verb, "%s: cannot add a keyslot: %s", l->path, strerror(-r)), r;
        *ret_keyslot = r;
        return 0;
}

/* Write the token without keyslot (assigned once the keyslot exists: a
 * token may only name existing keyslots); the new token id. */
static int token_write(const struct luks *l, const struct snpseal_token *t, int *ret_token) {
        _cleanup_(freep) char *json = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *text;
        int r, id;

        r = token_json_build(t, 0, &json);
        if (r >= 0 && !(o = json_tokener_parse(json)))
                r = -ENOMEM;
        if (r >= 0)
                r = json_add(o, "keyslots", json_object_new_array());
        text = r >= 0 ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                      : NULL;
        if (!text)
                return cli_error(l->verb, "cannot build the token: %s", strerror(r < 0 ? -r : ENOMEM)), -ENOMEM;
        id = crypt_token_json_set(l->cd, CRYPT_ANY_TOKEN, text);
        if (id < 0)
                return cli_error(l->verb, "%s: cannot write the token: %s", l->path, strerror(-id)), id;
        *ret_token = id;
        return 0;
}

int luks_token_activate(const struct luks *l, const char *name, int token, const char *pin, size_t pin_len) {
        char what[32];
        int r;

        r = crypt_activate_by_token_pin(l->cd, name, SNPSEAL_TOKEN_TYPE, token, pin, pin_len, NULL, 0);
        if (r >= 0 || (r == -ENOANO && !pin))
                return r;       /* no PIN given: the caller asks for it */
        if (token == CRYPT_ANY_TOKEN)
                (void) snprintf(what, sizeof(what), "no snpseal token");
        else
                (void) snprintf(what, sizeof(what), "token %d", token);
        if (r == -ENOENT && luks_plugin_check(l) < 0)
                return r;
        if (r == -ENOANO && token == CRYPT_ANY_TOKEN)
                return cli_error(l->verb, "%s: wrong PIN", l->path), r;
        if (token == CRYPT_ANY_TOKEN && r == -ENOENT)
                return cli_error(l->verb, "%s: no snpseal token unlocks it", l->path), r;
        if (r == -EAGAIN)
                return cli_error(l->verb, "%s: %s: the snpseal agent is unreachable (%s)", l->path, what,
                                 l->cli->socket), r;
        if (token == CRYPT_ANY_TOKEN)
                return cli_error(l->verb, "%s: %s", l->path, token_error(r, pin != NULL)), r;
        return cli_error(l->verb, "%s: %s does not unlock the volume: %s", l->path, what,
                         token_error(r, pin != NULL)), r;
}

/* Roll back a token being added: keyslot first, then the token. */
static void enroll_rollback(const struct luks *l, int token, int keyslot) {
        if (keyslot >= 0 && crypt_keyslot_destroy(l->cd, keyslot) < 0) {
                cli_error(l->verb, "%s: could not roll back: keyslot %d and token %d stay; snpseal reseal %s "
                          "removes them", l->path, keyslot, token, l->path);
                return;
        }
        if (keyslot >= 0)
                luks_step("rolled-back-keyslot");
        if (crypt_token_json_set(l->cd, token, NULL) < 0) {
                cli_error(l->verb, "%s: could not roll back: token %d stays; snpseal reseal %s removes it",
                          l->path, token, l->path);
                return;
        }
        fprintf(stderr, PROG ": %s: rolled back: removed the new token %d%s\n", l->verb, token,
                keyslot >= 0 ? " and its keyslot" : "");
}

/* Verify token (assigned to keyslot) through the plugin. */
static int enroll_verify(const struct luks *l, int token, int keyslot, const char *pin, size_t pin_len) {
        int r = luks_token_activate(l, NULL, token, pin, pin_len);

        if (r == -ENOANO && !pin)
                return cli_error(l->verb, "%s: token %d asks for a PIN it was not enrolled with", l->path, token),
                       -ENOANO;
        if (r >= 0 && r != keyslot)
                return cli_error(l->verb, "%s: token %d opened keyslot %d instead of %d", l->path, token, r,
                                 keyslot), -EUCLEAN;
        return r;
}

/* ---- header authentication ---- */

/* The header items for keyslot (< 0: the segments only), as libcryptsetup
 * holds them; why on failure. */
static int header_items(const struct luks *l, int keyslot, struct luks2_meta *ret, char *why, size_t whylen) {
        const char *json = NULL;
        int r;

        r = crypt_dump_json(l->cd, &json, 0);
        if (r < 0 || !json)
                return (void) snprintf(why, whylen, "cannot read the LUKS2 metadata: %s",
                                       strerror(r < 0 ? -r : EIO)), r < 0 ? r : -EIO;
        return luks2_meta_from_header(json, strlen(json), keyslot, ret, why, whylen);
}

bool luks_token_volume_key_changed(const struct luks *l, const struct snpseal_token *t) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *digests = NULL;
        const char *json = NULL, *recorded = NULL;

        if (!t->has_mac || !t->header)
                return false;
        for (size_t i = 0; i < t->header->n && !recorded; i++) {
                const char *name = t->header->items[i].name;
                size_t n = strlen(name);

                if (strncmp(name, "digest.", 7) == 0 && n > 7 && strcmp(name + n - 7, ".digest") == 0)
                        recorded = t->header->items[i].value;
        }
        if (!recorded || crypt_dump_json(l->cd, &json, 0) < 0 || !json || !(o = json_tokener_parse(json)) ||
            !json_object_object_get_ex(o, "digests", &digests))
                return false;
        json_object_object_foreach(digests, id, d) {
                json_object *v;

                (void) id;
                if (json_object_object_get_ex(d, "digest", &v) && json_object_is_type(v, json_type_string) &&
                    strcmp(json_object_get_string(v), recorded) == 0)
                        return false;
        }
        return true;
}

int luks_header_check(const struct luks *l, size_t vk_size) {
        _cleanup_(freep) struct luks2_meta *m = malloc(sizeof(*m));
        char why[512];
        int r;

        if (!m)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        r = header_items(l, -1, m, why, sizeof(why));
        if (r >= 0)
                r = luks2_meta_check_segments(m, vk_size, why, sizeof(why));
        if (r < 0)
                return cli_error(l->verb, "%s: %s; refusing to enroll a VM-bound key for it", l->path, why), r;
        return 0;
}

/* Fill t's header authentication for keyslot (just added) and volume key. */
static int token_authenticate(const struct luks *l, struct snpseal_token *t, int keyslot, const char *vk,
                              size_t vk_size, const uint8_t *k_mac) {
        char why[512];
        int r;

        t->header = malloc(sizeof(*t->header));
        if (!t->header)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        r = header_items(l, keyslot, t->header, why, sizeof(why));
        if (r >= 0)
                r = luks2_meta_check_ciphers(t->header, why, sizeof(why));
        if (r < 0)
                return cli_error(l->verb, "%s: %s; refusing to enroll a VM-bound key for it", l->path, why), r;
        if (luks2_mac_header(k_mac, t->header, t->header_mac) < 0 ||
            luks2_mac_volume_key(k_mac, vk, vk_size, t->volume_key_mac) < 0)
                return cli_error(l->verb, "cannot compute the header MACs"), -EIO;
        t->has_mac = true;
        return 0;
}

/* Assign the token to keyslot and write its header authentication, in one
 * metadata write. */
static int token_finish(const struct luks *l, struct snpseal_token *t, int token, int keyslot, const char *vk,
                        size_t vk_size, const uint8_t *k_mac) {
        _cleanup_(freep) char *json = NULL;
        int r;

        r = token_authenticate(l, t, keyslot, vk, vk_size, k_mac);
        if (r < 0)
                return r;
        r = token_json_build(t, keyslot, &json);
        if (r < 0)
                return cli_error(l->verb, "cannot build the token: %s", strerror(-r)), r;
        r = crypt_token_json_set(l->cd, token, json);
        if (r < 0)
                return cli_error(l->verb, "%s: cannot assign token %d to keyslot %d: %s", l->path, token, keyslot,
                                 strerror(-r)), r;
        return 0;
}

/* Token, keyslot, assignment with the header MACs, verification for a
 * derived passphrase. */
static int enroll_steps(struct luks *l, struct snpseal_token *t, const char *pass, size_t pass_len,
                        const char *pin, size_t pin_len, const char *vk, size_t vk_size, const uint8_t *k_mac,
                        int *ret_token, int *ret_keyslot) {
        int r, keyslot = -1, token = -1;

        r = token_write(l, t, &token);
        if (r < 0)
                return r;
        luks_step("token-written");
        r = luks_keyslot_add(l, vk, vk_size, pass, pass_len, pin != NULL, &keyslot);
        if (r >= 0) {
                luks_step("keyslot-added");
                r = token_finish(l, t, token, keyslot, vk, vk_size, k_mac);
        }
        if (r >= 0) {
                luks_step("token-assigned");
                r = enroll_verify(l, token, keyslot, pin, pin_len);
        }
        if (r < 0) {
                enroll_rollback(l, token, keyslot);
                return r;
        }
        luks_progress("snpseal token %d (keyslot %d) is enrolled on %s and works%s", token, keyslot, l->path,
                      progress_after);
        luks_step("verified");
        *ret_token = token;
        *ret_keyslot = keyslot;
        return 0;
}

int luks_token_enroll(struct luks *l, const struct snp_binding *b, const char *pin, size_t pin_len,
                      const char *vk, size_t vk_size, struct luks_enrolled *ret) {
        _cleanup_(json_object_putp) json_object *identity = NULL;
        _cleanup_secret_ char *key = NULL;
        _cleanup_secret_ uint8_t *k_mac = secret_alloc(LUKS2_MAC_KEY_LEN);
        struct snpseal_token t = { .version = SNPSEAL_TOKEN_VERSION, .binding = *b, .pin = pin != NULL };
        char why[1024];
        size_t key_len;
        int r, token, keyslot;

        if (!k_mac)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        r = luks_header_check(l, vk_size);
        if (r < 0)
                return r;
        if (RAND_bytes(t.salt, sizeof(t.salt)) != 1)
                return cli_error(l->verb, "cannot get random bytes for the salt"), -EIO;
        r = luks_derive(l, b, t.salt, pin, pin_len, NULL, &key, &key_len, &identity, k_mac, why, sizeof(why));
        if (r < 0) {
                if (why[0])
                        cli_error(l->verb, "%s", why);
                return r;
        }
        t.identity = identity;
        t.keyslot = -1;         /* token_write() writes it without keyslot */
        r = enroll_steps(l, &t, key, key_len, pin, pin_len, vk, vk_size, k_mac, &token, &keyslot);
        secret_wipe(t.salt, sizeof(t.salt));
        free(t.header);
        if (r < 0)
                return r;
        *ret = (struct luks_enrolled) { .token = token, .keyslot = keyslot, .binding = *b };
        return 0;
}

int luks_token_move(const struct luks *l, int from, int to) {
        _cleanup_(freep) char *json = NULL;
        const char *text = NULL;
        int r;

        if (from == to)
                return to;
        r = crypt_token_json_get(l->cd, from, &text);
        if (r >= 0 && !(json = strdup(text)))
                r = -ENOMEM;
        if (r >= 0)
                r = crypt_token_json_set(l->cd, to, json);
        if (r < 0)
                return r;
        luks_step("token-copied");
        r = crypt_token_json_set(l->cd, from, NULL);
        return r < 0 ? r : to;
}

/* Set the PBKDF of keyslot from for the next keyslot written: a copy of
 * it costs what it costs, without a benchmark. */
static int pbkdf_copy(const struct luks *l, int from) {
        struct crypt_pbkdf_type p = {};
        int r;

        r = crypt_keyslot_get_pbkdf(l->cd, from, &p);
        if (r >= 0) {
                p.flags |= CRYPT_PBKDF_NO_BENCHMARK;
                p.time_ms = 0;
                r = crypt_set_pbkdf_type(l->cd, &p);
        }
        return r;
}

int luks_token_keyslot_move(struct luks *l, int token, int to, const char *pin, size_t pin_len, const char *vk,
                            size_t vk_size) {
        _cleanup_secret_ char *key = NULL;
        _cleanup_secret_ uint8_t *k_mac = secret_alloc(LUKS2_MAC_KEY_LEN);
        struct snpseal_token t = { .keyslot = -1 };
        const char *json = NULL;
        char why[1024];
        size_t key_len;
        int r, from;

        if (!k_mac)
                return cli_error(l->verb, "out of memory"), -ENOMEM;
        r = crypt_token_json_get(l->cd, token, &json);
        if (r < 0 || !json)
                return cli_error(l->verb, "%s: cannot read token %d: %s", l->path, token,
                                 strerror(r < 0 ? -r : EIO)), r < 0 ? r : -EIO;
        r = token_json_parse(json, &t, why, sizeof(why));
        if (r < 0)
                return cli_error(l->verb, "%s: token %d: %s", l->path, token, why), r;
        from = t.keyslot;
        if (from < 0 || from == to || to < 0 || to >= keyslot_max() ||
            crypt_keyslot_status(l->cd, to) != CRYPT_SLOT_INACTIVE || (t.pin && !pin)) {
                token_json_done(&t);
                return from;    /* nothing to move, or the number is taken */
        }
        r = luks_derive(l, &t.binding, t.salt, t.pin ? pin : NULL, t.pin ? pin_len : 0, t.identity, &key,
                        &key_len, NULL, k_mac, why, sizeof(why));
        if (r < 0) {
                if (why[0])
                        cli_error(l->verb, "%s", why);
                goto out;
        }
        r = pbkdf_copy(l, from);
        if (r < 0) {
                cli_error(l->verb, "%s: cannot read the PBKDF of keyslot %d: %s", l->path, from, strerror(-r));
                goto out;
        }
        r = crypt_keyslot_add_by_volume_key(l->cd, to, vk, vk_size, key, key_len);
        if (r < 0) {
                cli_error(l->verb, "%s: cannot add keyslot %d: %s", l->path, to, strerror(-r));
                goto out;
        }
        /* Two keyslots open with the token's key; the token names the first. */
        luks_progress("token %d of %s works (keyslot %d); keyslot %d is a spare copy of its key: run snpseal "
                      "reseal %s to remove it", token, l->path, from, to, l->path);
        luks_step("keyslot-copied");
        free(t.header);
        t.header = NULL;
        r = token_finish(l, &t, token, to, vk, vk_size, k_mac);
        if (r >= 0) {
                luks_progress("token %d of %s works (keyslot %d); keyslot %d is a spare copy of its key: run "
                              "snpseal reseal %s to remove it", token, l->path, to, from, l->path);
                luks_step("token-reassigned");
                r = enroll_verify(l, token, to, t.pin ? pin : NULL, t.pin ? pin_len : 0);
        }
        if (r < 0) {
                /* Back to the keyslot that worked, then the copy goes. */
                free(t.header);
                t.header = NULL;
                if (token_finish(l, &t, token, from, vk, vk_size, k_mac) < 0 ||
                    crypt_keyslot_destroy(l->cd, to) < 0)
                        cli_error(l->verb, "%s: could not roll back: keyslot %d stays a copy of token %d's key; "
                                  "snpseal reseal %s removes it", l->path, to, token, l->path);
                goto out;
        }
        r = crypt_keyslot_destroy(l->cd, from);
        if (r < 0) {
                cli_error(l->verb, "%s: token %d works with keyslot %d, but its former keyslot %d stays: %s; "
                          "snpseal reseal %s removes it", l->path, token, to, from, strerror(-r), l->path);
                goto out;
        }
        luks_step("spare-keyslot-removed");
        r = to;
out:
        token_json_done(&t);
        return r;
}

/* ---- checking a token ---- */

static const char identity_probe_pin[] = "-";

/* The header authentication of t against the header now and the volume
 * key its keyslot gave: LUKS_TOKEN_OPENS, or the state with why. */
static int token_check_header(const struct luks *l, const struct snpseal_token *t, const char *vk, size_t vk_size,
                              const uint8_t *k_mac, char *why, size_t whylen) {
        _cleanup_(freep) struct luks2_meta *m = malloc(sizeof(*m));
        uint8_t mac[LUKS2_MAC_LEN];
        char diff[512];

        if (!m)
                return -ENOMEM;
        if (!t->has_mac)
                return (void) snprintf(why, whylen, "enrolled without header authentication (an older snpseal): "
                                       "snpseal reseal %s adds it", l->path), LUKS_TOKEN_UNAUTHENTICATED;
        if (header_items(l, t->keyslot, m, diff, sizeof(diff)) < 0)
                return (void) snprintf(why, whylen, "%s", diff), LUKS_TOKEN_HEADER_CHANGED;
        if (luks2_meta_check_ciphers(m, diff, sizeof(diff)) < 0 || luks2_mac_header(k_mac, m, mac) < 0 ||
            !luks2_mac_equal(mac, t->header_mac)) {
                if (luks2_meta_diff(t->header, m, diff, sizeof(diff)) <= 0)
                        (void) snprintf(diff, sizeof(diff), "the header's authentication code does not match");
                return (void) snprintf(why, whylen, "%s: the LUKS2 header changed after enrollment", diff),
                       LUKS_TOKEN_HEADER_CHANGED;
        }
        if (luks2_mac_volume_key(k_mac, vk, vk_size, mac) < 0 || !luks2_mac_equal(mac, t->volume_key_mac))
                return (void) snprintf(why, whylen, "the volume key of keyslot %d is not the one enrolled",
                                       t->keyslot), LUKS_TOKEN_HEADER_CHANGED;
        return LUKS_TOKEN_OPENS;
}

int luks_token_check(struct luks *l, const struct snpseal_token *t, const char *pin, size_t pin_len,
                     char **ret_vk, size_t *ret_vk_size, char *why, size_t whylen) {
        _cleanup_secret_ char *key = NULL, *vk = NULL;
        _cleanup_secret_ uint8_t *k_mac = secret_alloc(LUKS2_MAC_KEY_LEN);
        size_t key_len, vk_size;
        bool probe = t->pin && !pin;
        int r, state;

        why[0] = '\0';
        if (!k_mac)
                return -ENOMEM;
        if (t->keyslot < 0 && luks_token_volume_key_changed(l, t))
                return (void) snprintf(why, whylen, "the volume key changed (cryptsetup reencrypt?) and took the "
                                       "token's keyslot: unlock another way and run snpseal reseal %s", l->path),
                       LUKS_TOKEN_NO_KEYSLOT;
        if (t->keyslot < 0)
                return (void) snprintf(why, whylen, "the token has no keyslot (left by an interrupted enroll, "
                                       "reseal or remove; snpseal reseal removes it)"), LUKS_TOKEN_NO_KEYSLOT;
        /* A PIN token without its PIN: a made-up PIN still lets the agent
         * compare the recorded identity; the key is then useless. */
        r = luks_derive(l, &t->binding, t->salt, probe ? identity_probe_pin : (t->pin ? pin : NULL),
                        probe ? strlen(identity_probe_pin) : pin_len, t->identity, &key, &key_len, NULL, k_mac,
                        why, whylen);
        if (r == -EKEYREJECTED)
                return LUKS_TOKEN_MISMATCH;
        if (r == -EPERM && why[0])
                return LUKS_TOKEN_REFUSED;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (!why[0])
                        (void) snprintf(why, whylen, "cannot reach the snpseal agent at %s", l->cli->socket);
                return LUKS_TOKEN_UNKNOWN;
        }
        if (probe)
                return (void) snprintf(why, whylen, "needs its PIN (not checked)"), LUKS_TOKEN_NEEDS_PIN;
        r = luks_volume_key_by_passphrase(l, t->keyslot, key, key_len, true, &vk, &vk_size);
        if (r == -EPERM) {
                if (t->pin)
                        (void) snprintf(why, whylen, "wrong PIN, or the key does not open keyslot %d",
                                        t->keyslot);
                else
                        (void) snprintf(why, whylen, "key does not open keyslot %d (sealed on another chip?)",
                                        t->keyslot);
                return LUKS_TOKEN_WRONG_KEY;
        }
        if (r < 0)
                return (void) snprintf(why, whylen, "keyslot %d: %s", t->keyslot, strerror(-r)), LUKS_TOKEN_UNKNOWN;
        state = token_check_header(l, t, vk, vk_size, k_mac, why, whylen);
        /* A changed header gives no volume key to re-enroll with: that
         * would authenticate what the host wrote. */
        if (ret_vk && (state == LUKS_TOKEN_OPENS || state == LUKS_TOKEN_UNAUTHENTICATED)) {
                *ret_vk = TAKE_PTR(vk);
                *ret_vk_size = vk_size;
        }
        return state;
}

/* ---- half-done additions ---- */

/* Active keyslots assigned to no token. */
static uint32_t keyslots_unassigned(const struct luks *l) {
        uint32_t mask = luks_keyslots_active(l);

        for (int id = 0; id < token_max(); id++)
                mask &= ~luks_token_keyslots(l, id);
        return mask;
}

/* Whether keyslot could be one we added for a token without PIN
 * (PBKDF2, 1000 iterations): others are not tried (Argon2 costs seconds). */
static bool keyslot_is_cheap(const struct luks *l, int keyslot) {
        struct crypt_pbkdf_type p = {};

        return crypt_keyslot_get_pbkdf(l->cd, keyslot, &p) >= 0 && p.type &&
               strcmp(p.type, CRYPT_KDF_PBKDF2) == 0 && p.iterations <= 1000;
}

/* The unassigned keyslot that token t's derived key opens, or -1. */
static int orphan_find(struct luks *l, const struct snpseal_token *t, const char *pin, size_t pin_len) {
        _cleanup_secret_ char *key = NULL, *vk = NULL;
        uint32_t cand = keyslots_unassigned(l);
        size_t key_len, vk_size;
        char why[512];

        if (cand == 0 || luks_derive(l, &t->binding, t->salt, t->pin ? pin : NULL, pin_len, NULL, &key, &key_len,
                                     NULL, NULL, why, sizeof(why)) < 0)
                return -1;
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++) {
                if (!(cand & (UINT32_C(1) << i)) || (!t->pin && !keyslot_is_cheap(l, i)))
                        continue;
                if (luks_volume_key_by_passphrase(l, i, key, key_len, true, &vk, &vk_size) >= 0)
                        return i;
        }
        return -1;
}

/* Whether tokens a and b are the same JSON text (libcryptsetup's). */
static bool token_json_same(const struct luks *l, int a, int b) {
        _cleanup_(freep) char *ta = NULL;
        const char *t = NULL;

        if (crypt_token_json_get(l->cd, a, &t) < 0 || !t || !(ta = strdup(t)) ||
            crypt_token_json_get(l->cd, b, &t) < 0 || !t)
                return false;
        return strcmp(ta, t) == 0;
}

/* A reseal interrupted while it gave the new token the old one's number
 * leaves the same token twice: the copy at the higher number goes. */
static int repair_copies(struct luks *l, const struct luks_token *tokens, size_t n) {
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++) {
                        const struct luks_token *a = &tokens[i], *b = &tokens[j];
                        int r;

                        if (a->parse_error < 0 || b->parse_error < 0 || a->t.keyslot < 0 ||
                            a->t.keyslot != b->t.keyslot || memcmp(a->t.salt, b->t.salt, sizeof(a->t.salt)) != 0 ||
                            !token_json_same(l, a->id, b->id))
                                continue;
                        r = crypt_token_json_set(l->cd, b->id, NULL);
                        if (r < 0)
                                return cli_error(l->verb, "%s: cannot remove token %d: %s", l->path, b->id,
                                                 strerror(-r)), r;
                        fprintf(stderr, PROG ": %s: removed token %d, a copy of token %d left by an interrupted "
                                "reseal\n", l->verb, b->id, a->id);
                }
        return 0;
}

/* Whether keyslots a and b have the same key size and PBKDF (a copy made
 * by luks_token_keyslot_move() has). */
static bool keyslot_same_kind(const struct luks *l, int a, int b) {
        struct crypt_pbkdf_type pa = {}, pb = {};

        if (crypt_keyslot_get_key_size(l->cd, a) != crypt_keyslot_get_key_size(l->cd, b) ||
            crypt_keyslot_get_pbkdf(l->cd, a, &pa) < 0 || crypt_keyslot_get_pbkdf(l->cd, b, &pb) < 0 ||
            !pa.type || !pb.type || strcmp(pa.type, pb.type) != 0)
                return false;
        return (!pa.hash) == (!pb.hash) && (!pa.hash || strcmp(pa.hash, pb.hash) == 0) &&
               pa.iterations == pb.iterations && pa.max_memory_kb == pb.max_memory_kb &&
               pa.parallel_threads == pb.parallel_threads;
}

/* A reseal interrupted while it moved a token to its old keyslot number
 * leaves a spare keyslot that the token's key opens, assigned to no token:
 * it goes (only keyslots of the token's own kind are tried). */
static int repair_spare_keyslots(struct luks *l, const struct luks_token *e, const char *pin, size_t pin_len) {
        _cleanup_secret_ char *key = NULL;
        uint32_t cand = 0, unassigned = keyslots_unassigned(l);
        size_t key_len;
        char why[512];
        int r;

        if (e->parse_error < 0 || e->t.keyslot < 0 || luks_token_keyslots(l, e->id) != UINT32_C(1) << e->t.keyslot ||
            (e->t.pin && !pin))
                return 0;
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++)
                if ((unassigned & (UINT32_C(1) << i)) && keyslot_same_kind(l, e->t.keyslot, i))
                        cand |= UINT32_C(1) << i;
        if (cand == 0 || luks_derive(l, &e->t.binding, e->t.salt, e->t.pin ? pin : NULL, e->t.pin ? pin_len : 0,
                                     NULL, &key, &key_len, NULL, NULL, why, sizeof(why)) < 0)
                return 0;
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++) {
                _cleanup_secret_ char *vk = NULL;
                size_t vk_size;

                if (!(cand & (UINT32_C(1) << i)) ||
                    luks_volume_key_by_passphrase(l, i, key, key_len, true, &vk, &vk_size) < 0)
                        continue;
                r = crypt_keyslot_destroy(l->cd, i);
                if (r < 0)
                        return cli_error(l->verb, "%s: cannot remove keyslot %d: %s", l->path, i, strerror(-r)), r;
                luks_step("repair-copy-removed");
                fprintf(stderr, PROG ": %s: removed keyslot %d, a spare copy of token %d's keyslot %d left by an "
                        "interrupted reseal\n", l->verb, i, e->id, e->t.keyslot);
        }
        return 0;
}

int luks_repair(struct luks *l, const struct luks_token *tokens, size_t n, const char *pin, size_t pin_len) {
        int r, slot;

        r = repair_copies(l, tokens, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = repair_spare_keyslots(l, &tokens[i], pin, pin_len);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                const struct luks_token *e = &tokens[i];

                if (e->parse_error < 0 || luks_token_keyslots(l, e->id) != 0)
                        continue;
                if (luks_token_volume_key_changed(l, &e->t))
                        continue;       /* not half-done: reseal re-enrolls it */
                if (e->t.pin && !pin) {
                        fprintf(stderr, PROG ": %s: token %d has no keyslot (an interrupted enroll or reseal); "
                                "give its PIN (--pin-file=) to clean it up\n", l->verb, e->id);
                        continue;
                }
                slot = orphan_find(l, &e->t, pin, pin_len);
                if (slot >= 0) {
                        r = crypt_keyslot_destroy(l->cd, slot);
                        if (r < 0)
                                return cli_error(l->verb, "%s: cannot remove keyslot %d: %s", l->path, slot,
                                                 strerror(-r)), r;
                        luks_step("repair-keyslot-removed");
                }
                r = crypt_token_json_set(l->cd, e->id, NULL);
                if (r < 0)
                        return cli_error(l->verb, "%s: cannot remove token %d: %s", l->path, e->id, strerror(-r)), r;
                luks_step("repair-token-removed");
                fprintf(stderr, PROG ": %s: removed token %d%s, left without keyslot by an interrupted enroll, "
                        "reseal or remove\n", l->verb, e->id, slot >= 0 ? " and its unassigned keyslot" : "");
        }
        return 0;
}

/* Another token that also uses one of slots, or -1. */
static int token_sharing(const struct luks *l, int token, uint32_t slots) {
        for (int id = 0; id < token_max(); id++)
                if (id != token && (luks_token_keyslots(l, id) & slots))
                        return id;
        return -1;
}

int luks_token_remove(const struct luks *l, int token, const char *step_prefix) {
        uint32_t slots = luks_token_keyslots(l, token), active = luks_keyslots_active(l);
        char list[128], step[64];
        int r, other;

        luks_slots_format(slots, list, sizeof(list));
        if ((active & slots) && !(active & ~slots))
                return cli_error(l->verb, "%s: removing token %d and keyslot %s would leave the volume without "
                                 "any keyslot", l->path, token, list), -EBUSY;
        other = token_sharing(l, token, slots);
        if (other >= 0)
                return cli_error(l->verb, "%s: keyslot %s of token %d is also used by token %d", l->path, list,
                                 token, other), -EBUSY;
        for (int i = 0; i < LUKS_KEYSLOTS_MAX; i++) {
                if (!(slots & (UINT32_C(1) << i)))
                        continue;
                r = crypt_keyslot_destroy(l->cd, i);
                if (r < 0)
                        return cli_error(l->verb, "%s: cannot remove keyslot %d: %s", l->path, i, strerror(-r)), r;
                (void) snprintf(step, sizeof(step), "%skeyslot-removed", step_prefix);
                luks_step(step);
        }
        r = crypt_token_json_set(l->cd, token, NULL);
        if (r < 0)
                return cli_error(l->verb, "%s: cannot remove token %d: %s", l->path, token, strerror(-r)), r;
        (void) snprintf(step, sizeof(step), "%stoken-removed", step_prefix);
        luks_step(step);
        return 0;
}

int luks_recovery_key_new(char **ret) {
        /* 32 letters without 0/o, 1/l: one letter per 5 bits, no bias. */
        static const char alphabet[32] = "abcdefghijkmnpqrstuvwxyz23456789";
        _cleanup_secret_ uint8_t *rnd = secret_alloc(LUKS_RECOVERY_CHARS);
        _cleanup_secret_ char *key = secret_alloc(LUKS_RECOVERY_LEN + 1);
        size_t n = 0;

        if (!rnd || !key)
                return -ENOMEM;
        if (RAND_bytes(rnd, LUKS_RECOVERY_CHARS) != 1)
                return -EIO;
        for (size_t i = 0; i < LUKS_RECOVERY_CHARS; i++) {
                if (i > 0 && i % LUKS_RECOVERY_GROUP == 0)
                        key[n++] = '-';
                key[n++] = alphabet[rnd[i] & 31];
        }
        key[n] = '\0';
        *ret = TAKE_PTR(key);
        return 0;
}

bool luks_binding_equal(const struct snp_binding *a, const struct snp_binding *b) {
        return a->root_key == b->root_key && a->fields == b->fields && a->vmpl == b->vmpl &&
               a->guest_svn == b->guest_svn && a->tcb_version == b->tcb_version;
}

static void fields_format(uint64_t fields, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < 64; i++) {
                const char *name = (fields & (UINT64_C(1) << i)) ? snp_field_to_string(UINT64_C(1) << i) : NULL;
                int n;

                if (!name)
                        continue;
                n = snprintf(buf + len, size - len, "%s%s", len > 0 ? "," : "", name);
                if (n < 0 || (size_t) n >= size - len)
                        return;
                len += (size_t) n;
        }
}

_printf_(3, 4)
static void append(char *buf, size_t size, const char *fmt, ...) {
        size_t len = strlen(buf);
        va_list ap;

        if (len > 0 && len + 2 < size) {
                memcpy(buf + len, ", ", 3);
                len += 2;
        }
        va_start(ap, fmt);
        (void) vsnprintf(buf + len, size - len, fmt, ap);
        va_end(ap);
}

void luks_binding_diff(const struct snp_binding *a, const struct snp_binding *b, char *buf, size_t size) {
        char x[128], y[128];

        if (size == 0)
                return;
        buf[0] = '\0';
        if (a->root_key != b->root_key)
                append(buf, size, "root key %s → %s", snp_root_key_to_string(a->root_key) ?: "?",
                       snp_root_key_to_string(b->root_key) ?: "?");
        if (a->fields != b->fields) {
                fields_format(a->fields, x, sizeof(x));
                fields_format(b->fields, y, sizeof(y));
                append(buf, size, "fields %s → %s", x, y);
        }
        if (a->vmpl != b->vmpl)
                append(buf, size, "vmpl %" PRIu32 " → %" PRIu32, a->vmpl, b->vmpl);
        if (a->guest_svn != b->guest_svn)
                append(buf, size, "svn %" PRIu32 " → %" PRIu32, a->guest_svn, b->guest_svn);
        if (a->tcb_version != b->tcb_version) {
                tcb_to_hex(a->tcb_version, x);
                tcb_to_hex(b->tcb_version, y);
                append(buf, size, "tcb %s → %s", x, y);
        }
}

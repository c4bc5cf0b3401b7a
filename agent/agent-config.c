/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <sys/un.h>

#include "agent-config.h"
#include "conffile.h"
#include "hexutil.h"
#include "macro.h"
#include "snp-error.h"
#include "varlink.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

enum setting_type {
        SETTING_STRING,     /* char *, a non-empty path of at most max bytes */
        SETTING_UINT,       /* unsigned in min…max */
        SETTING_BACKEND,    /* enum agent_backend_kind */
        SETTING_VMPL,       /* int 0…3 */
        SETTING_FLAG,       /* bool, command line only, no value */
        SETTING_BOOL,       /* bool, yes or no, config file only */
};

struct setting {
        const char *name;   /* option name; the config key is the same with '_' for '-' */
        enum agent_setting id;
        enum setting_type type;
        size_t offset;
        unsigned min, max;
        bool in_file;       /* may appear in the config file */
};

#define FIELD(f) offsetof(struct agent_config, f)

static const struct setting settings[] = {
        { "config",             AGENT_SETTING_CONFIG,             SETTING_STRING,  FIELD(config_path), 0, PATH_MAX, false },
        { "backend",            AGENT_SETTING_BACKEND,            SETTING_BACKEND, FIELD(backend), 0, 0, true },
        { "device",             AGENT_SETTING_DEVICE,             SETTING_STRING,  FIELD(device), 0, PATH_MAX, true },
        { "simulator-state",    AGENT_SETTING_SIMULATOR_STATE,    SETTING_STRING,  FIELD(simulator_state), 0, PATH_MAX, true },
        { "listen",             AGENT_SETTING_LISTEN,             SETTING_STRING,  FIELD(listen), 0, SUN_PATH_MAX, true },
        { "credentials-listen", AGENT_SETTING_CREDENTIALS_LISTEN, SETTING_STRING,  FIELD(credentials_listen), 0, SUN_PATH_MAX, true },
        { "credstore",          AGENT_SETTING_CREDSTORE,          SETTING_STRING,  FIELD(credstore), 0, PATH_MAX, true },
        { "stdio",              AGENT_SETTING_STDIO,              SETTING_FLAG,    FIELD(stdio), 0, 0, false },
        { "idle-exit",          AGENT_SETTING_IDLE_EXIT,          SETTING_UINT,    FIELD(idle_exit_sec), 0, 86400, true },
        { "max-message",        AGENT_SETTING_MAX_MESSAGE,        SETTING_UINT,    FIELD(max_message), 1024, VARLINK_MESSAGE_MAX, true },
        { "max-connections",    AGENT_SETTING_MAX_CONNECTIONS,    SETTING_UINT,    FIELD(max_connections), 1, 4096, true },
        { "connection-timeout", AGENT_SETTING_CONNECTION_TIMEOUT, SETTING_UINT,    FIELD(connection_timeout_sec), 1, 3600, true },
        { "ratelimit-attempts", AGENT_SETTING_RATELIMIT_ATTEMPTS, SETTING_UINT,    FIELD(ratelimit_attempts), 1, 1000, true },
        { "ratelimit-window",   AGENT_SETTING_RATELIMIT_WINDOW,   SETTING_UINT,    FIELD(ratelimit_window_sec), 1, 86400, true },
        { "key-cache",          AGENT_SETTING_KEY_CACHE,          SETTING_UINT,    FIELD(key_cache_sec), 0, AGENT_KEY_CACHE_MAX, true },
        { "vmpl",               AGENT_SETTING_VMPL,               SETTING_VMPL,    FIELD(vmpl), 0, 3, true },
        { "user-store",         AGENT_SETTING_USER_STORE,         SETTING_STRING,  FIELD(user_store), 0, PATH_MAX, true },
        /* Weakening the threat model's guarantees: only an administrator's
         * file may, never the command line a caller might assemble. */
        { "allow-weak-bindings", AGENT_SETTING_ALLOW_WEAK_BINDINGS, SETTING_BOOL, FIELD(allow_weak_bindings), 0, 0, true },
        { "allow-tokens-without-mac", AGENT_SETTING_ALLOW_TOKENS_WITHOUT_MAC, SETTING_BOOL,
          FIELD(allow_tokens_without_mac), 0, 0, true },
};

static const char *const backend_names[] = {
        [AGENT_BACKEND_AUTO] = "auto",
        [AGENT_BACKEND_SEV_GUEST] = "sev-guest",
        [AGENT_BACKEND_SIMULATOR] = "simulator",
};

void agent_config_init(struct agent_config *c) {
        *c = (struct agent_config) {
                .backend = AGENT_BACKEND_AUTO,
                .idle_exit_sec = 60,
                .max_message = VARLINK_MESSAGE_MAX,
                .max_connections = 64,
                .connection_timeout_sec = 30,
                .ratelimit_attempts = 5,
                .ratelimit_window_sec = 60,
                .key_cache_sec = AGENT_KEY_CACHE_DEFAULT,
                .vmpl = -1,
        };
}

void agent_config_done(struct agent_config *c) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                if (settings[i].type == SETTING_STRING) {
                        char **p = (char **) (void *) ((char *) c + settings[i].offset);

                        free(*p);
                        *p = NULL;
                }
}

bool agent_config_is_explicit(const struct agent_config *c, enum agent_setting s) {
        uint64_t bit = UINT64_C(1) << s;

        return (c->set_by_argv & bit) || (c->set_in_file & bit);
}

/* Parse value for setting s; when apply, store it in c. "what" names the
 * setting in messages ("--listen" or "listen"). */
static int setting_parse(const struct setting *s, const char *value, const char *what,
                         struct agent_config *c, bool apply, char *errbuf, size_t errlen) {
        void *field = (char *) c + s->offset;
        uint32_t u;
        char *copy;

        if (s->type != SETTING_FLAG && (!value || !value[0])) {
                snprintf(errbuf, errlen, "empty value for %s", what);
                return -EINVAL;
        }
        switch (s->type) {
        case SETTING_STRING:
                if (strlen(value) > s->max) {
                        snprintf(errbuf, errlen, "value for %s is longer than %u bytes", what, s->max);
                        return -EINVAL;
                }
                if (!apply)
                        return 0;
                copy = strdup(value);
                if (!copy) {
                        snprintf(errbuf, errlen, "out of memory");
                        return -ENOMEM;
                }
                free(*(char **) field);
                *(char **) field = copy;
                return 0;
        case SETTING_BACKEND:
                for (size_t i = 0; i < ELEMENTSOF(backend_names); i++)
                        if (strcmp(value, backend_names[i]) == 0) {
                                if (apply)
                                        *(enum agent_backend_kind *) field = (enum agent_backend_kind) i;
                                return 0;
                        }
                snprintf(errbuf, errlen, "invalid value '%s' for %s: expected auto, sev-guest or simulator",
                         value, what);
                return -EINVAL;
        case SETTING_UINT:
        case SETTING_VMPL:
                if (parse_u32(value, s->max, &u) < 0 || u < s->min) {
                        snprintf(errbuf, errlen, "invalid value '%s' for %s: expected a number from %u to %u",
                                 value, what, s->min, s->max);
                        return -EINVAL;
                }
                if (apply && s->type == SETTING_UINT)
                        *(unsigned *) field = u;
                else if (apply)
                        *(int *) field = (int) u;
                return 0;
        case SETTING_FLAG:
                if (apply)
                        *(bool *) field = true;
                return 0;
        case SETTING_BOOL: {
                bool b;

                if (conffile_parse_bool(value, &b) < 0) {
                        snprintf(errbuf, errlen, "invalid value '%s' for %s: expected yes or no", value, what);
                        return -EINVAL;
                }
                if (apply)
                        *(bool *) field = b;
                return 0;
        }
        }
        return -EINVAL;
}

static void print_help(void) {
        printf("Usage: snpseald [OPTIONS]\n\n"
               "The snpseal guest key agent: derives keys with the AMD SEV-SNP firmware and\n"
               "serves them over varlink (see snpseald(8)).\n\n"
               "  -h --help                     show this help\n"
               "     --version                  show the version\n"
               "     --config=FILE              settings file (default %s)\n"
               "     --backend=auto|sev-guest|simulator\n"
               "                                firmware backend (default auto: the device)\n"
               "     --device=PATH              guest device (default /dev/sev-guest)\n"
               "     --simulator-state=FILE     simulator state file (--backend=simulator)\n"
               "     --listen=PATH              varlink socket (default %s)\n"
               "     --credentials-listen=PATH  credential socket (default %s)\n"
               "     --credstore=DIR            sealed credentials (default %s)\n"
               "     --user-store=DIR           sealed user secrets (default %s)\n"
               "     --stdio                    serve one connection on stdin/stdout\n"
               "     --idle-exit=SECONDS        exit when idle this long (0 = never)\n"
               "     --max-message=BYTES        largest message accepted (default 65536)\n"
               "     --max-connections=N        concurrent connections (default 64)\n"
               "     --connection-timeout=SECONDS\n"
               "                                drop connections idle this long (default 30)\n"
               "     --ratelimit-attempts=N     wrong passwords per window and uid (default 5)\n"
               "     --ratelimit-window=SECONDS rate-limit window (default 60)\n"
               "     --key-cache=SECONDS        keep firmware keys this long (default %u, 0 = off)\n"
               "     --vmpl=N                   the VMPL the guest runs at (default: detect)\n",
               AGENT_DEFAULT_CONFIG, AGENT_DEFAULT_SOCKET, AGENT_DEFAULT_CRED_SOCKET,
               AGENT_DEFAULT_CREDSTORE, AGENT_DEFAULT_USER_STORE, AGENT_KEY_CACHE_DEFAULT);
}

enum {
        OPT_HELP = 'h',
        OPT_VERSION = 0x100,
        OPT_SETTING_BASE = 0x200,   /* + index into settings[] */
};

static void build_options(struct option *opts) {
        size_t n = 0;

        opts[n++] = (struct option) { "help", no_argument, NULL, OPT_HELP };
        opts[n++] = (struct option) { "version", no_argument, NULL, OPT_VERSION };
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                if (settings[i].type == SETTING_BOOL)
                        continue;       /* config file only */
                opts[n++] = (struct option) {
                        settings[i].name,
                        settings[i].type == SETTING_FLAG ? no_argument : required_argument,
                        NULL, OPT_SETTING_BASE + (int) i,
                };
        }
        opts[n] = (struct option) { 0 };
}

/* One option from getopt_long: 0 to go on, 1 for --help/--version. */
static int argv_option(struct agent_config *c, int opt, char **argv, char *errbuf, size_t errlen) {
        const struct setting *s;
        char what[64];
        int r;

        switch (opt) {
        case OPT_HELP:
                print_help();
                return 1;
        case OPT_VERSION:
                printf("snpseald %s\n", PACKAGE_VERSION);
                return 1;
        case ':':
                snprintf(errbuf, errlen, "option '%s' requires a value", argv[optind - 1]);
                return -EINVAL;
        case '?':
                snprintf(errbuf, errlen, "unknown option or unexpected value '%s'", argv[optind - 1]);
                return -EINVAL;
        }
        if (opt < OPT_SETTING_BASE || (size_t) (opt - OPT_SETTING_BASE) >= ELEMENTSOF(settings)) {
                snprintf(errbuf, errlen, "unknown option '%s'", argv[optind - 1]);
                return -EINVAL;
        }
        s = &settings[opt - OPT_SETTING_BASE];
        snprintf(what, sizeof(what), "--%s", s->name);
        r = setting_parse(s, optarg, what, c, true, errbuf, errlen);
        if (r < 0)
                return r;
        c->set_by_argv |= UINT64_C(1) << s->id;
        return 0;
}

int agent_config_parse_argv(struct agent_config *c, int argc, char **argv, char *errbuf, size_t errlen) {
        struct option opts[ELEMENTSOF(settings) + 3];
        int opt, r;

        build_options(opts);
        optind = 0;   /* full re-initialisation (glibc), so tests can parse repeatedly */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) >= 0) {
                r = argv_option(c, opt, argv, errbuf, errlen);
                if (r != 0)
                        return r;
        }
        if (optind < argc) {
                snprintf(errbuf, errlen, "unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        return 0;
}

static const struct setting *setting_by_key(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const char *n = settings[i].name;
                size_t j;

                if (!settings[i].in_file)
                        continue;
                for (j = 0; n[j] && key[j]; j++)
                        if (key[j] != (n[j] == '-' ? '_' : n[j]))
                                break;
                if (!n[j] && !key[j])
                        return &settings[i];
        }
        return NULL;
}

/* One "key = value" of the file (conffile_read()'s callback). */
static int config_setting(const char *key, const char *value, void *userdata, char *errbuf, size_t errlen) {
        struct agent_config *c = userdata;
        const struct setting *s = setting_by_key(key);
        int r;

        if (!s)
                return errbuf_set(errbuf, errlen, -EINVAL, "unknown setting '%s'", key);
        /* Validated always; applied unless the command line set it. */
        r = setting_parse(s, value, key, c, !(c->set_by_argv & (UINT64_C(1) << s->id)), errbuf, errlen);
        if (r < 0)
                return r;
        c->set_in_file |= UINT64_C(1) << s->id;
        return 0;
}

int agent_config_load_file(struct agent_config *c, char *errbuf, size_t errlen) {
        const char *path = c->config_path ? c->config_path : snpseal_policy_path();

        return conffile_read(path, (c->set_by_argv & (UINT64_C(1) << AGENT_SETTING_CONFIG)) != 0,
                             config_setting, c, errbuf, errlen);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal-sim: create and edit the simulator's state file (man snpseal-sim).
 * A simulated SEV-SNP guest for tests and demos — never a security boundary.
 * Exit codes: 0 success, 1 failure, 2 usage error.
 */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "macro.h"
#include "secret.h"
#include "sim-firmware.h"
#include "sim-state.h"
#include "sim-x509.h"

#define PROG "snpseal-sim"
#define EXIT_USAGE 2

struct verb {
        const char *name;
        const char *flag;             /* the one option the verb takes, or NULL */
        unsigned min_args, max_args;  /* positional arguments, FILE included */
        int (*run)(char **args, unsigned n_args, bool flag);
};

static void help(FILE *f) {
        fputs("Usage: " PROG " COMMAND FILE [ARGS...]\n"
              "\n"
              "Create and edit the state file of snpseal's SEV-SNP firmware simulator.\n"
              "The simulator is for tests and demos only: it is never a security boundary.\n"
              "\n"
              "Commands:\n"
              "  init FILE [--force]       create a state file with fresh random secrets\n"
              "  set FILE KEY=VALUE...     change keys (all or nothing)\n"
              "  show FILE [--json]        print the state; secrets show as (set)/(none)\n"
              "  vcek-pem FILE             print the simulated VCEK public key (PEM)\n"
              "  chain FILE [--ark]        print the simulated certificate chain (PEM: VCEK or,\n"
              "                            with a VLEK installed, VLEK, then ASK/ASVK, ARK);\n"
              "                            --ark: only the simulated ARK, to trust explicitly\n"
              "  reboot FILE               simulate a reboot: new VMRK, message key enabled\n"
              "\n"
              "Options:\n"
              "  -h, --help                show this help\n"
              "  --version                 show the version\n"
              "\n"
              "Keys: see snpseal-sim(1), STATE KEYS.\n", f);
}

_printf_(1, 2)
static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs(PROG ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry '" PROG " --help'.\n", stderr);
        return EXIT_USAGE;
}

static int load_or_complain(const char *path, struct sim_state *ret) {
        char err[256];
        int r = sim_state_load(path, ret, err, sizeof(err));

        if (r < 0)
                fprintf(stderr, PROG ": %s: %s\n", path, err);
        return r;
}

static int save_or_complain(const char *path, const struct sim_state *s, bool replace) {
        int r = replace ? sim_state_save(path, s) : sim_state_create(path, s);

        if (r == -EEXIST)
                fprintf(stderr, PROG ": %s: already exists; use --force to replace it\n", path);
        else if (r < 0)
                fprintf(stderr, PROG ": %s: cannot write: %s\n", path, strerror(-r));
        return r;
}

static int verb_init(char **args, unsigned n_args, bool force) {
        _cleanup_(sim_state_wipe) struct sim_state s = {};
        int r;

        r = sim_state_init(&s);
        if (r < 0) {
                fprintf(stderr, PROG ": %s: cannot create a state: %s\n", args[0], strerror(-r));
                return EXIT_FAILURE;
        }
        return save_or_complain(args[0], &s, force) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int verb_set(char **args, unsigned n_args, bool flag) {
        _cleanup_(sim_state_wipe) struct sim_state s = {};
        char err[256];

        /* Check the syntax of every pair before touching anything. */
        for (unsigned i = 1; i < n_args; i++)
                if (!strchr(args[i], '=') || args[i][0] == '=')
                        return usage_error("set: \"%s\": expected KEY=VALUE", args[i]);
        if (load_or_complain(args[0], &s) < 0)
                return EXIT_FAILURE;
        for (unsigned i = 1; i < n_args; i++) {
                char *eq = strchr(args[i], '=');

                *eq = '\0';
                if (sim_state_set(&s, args[i], eq + 1, err, sizeof(err)) < 0) {
                        fprintf(stderr, PROG ": set: %s; %s left unchanged\n", err, args[0]);
                        return EXIT_FAILURE;
                }
        }
        return save_or_complain(args[0], &s, true) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int show_json(const struct sim_state *s) {
        _cleanup_secret_ char *text = NULL;
        int r = sim_state_to_json(s, false, &text);

        if (r < 0) {
                fprintf(stderr, PROG ": show: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        fputs(text, stdout);
        return EXIT_SUCCESS;
}

static int verb_show(char **args, unsigned n_args, bool json) {
        _cleanup_(sim_state_wipe) struct sim_state s = {};
        char value[SIM_STATE_VALUE_MAX];
        const char *key;

        if (load_or_complain(args[0], &s) < 0)
                return EXIT_FAILURE;
        if (json)
                return show_json(&s);
        for (size_t i = 0; (key = sim_state_key_name(i)); i++) {
                if (sim_state_get(&s, key, false, value, sizeof(value)) < 0)
                        return EXIT_FAILURE;
                printf("%-15s %s\n", key, value[0] ? value : "\"\"");
        }
        return EXIT_SUCCESS;
}

static int verb_vcek_pem(char **args, unsigned n_args, bool flag) {
        _cleanup_(sim_state_wipe) struct sim_state s = {};
        _cleanup_(freep) char *pem = NULL;
        int r;

        if (load_or_complain(args[0], &s) < 0)
                return EXIT_FAILURE;
        r = sim_vcek_public_pem(&s, &pem);
        if (r < 0) {
                fprintf(stderr, PROG ": %s: cannot derive the simulated VCEK: %s\n", args[0],
                        strerror(-r));
                return EXIT_FAILURE;
        }
        fputs(pem, stdout);
        return EXIT_SUCCESS;
}

/* The simulated chain for the reports the state gives by default (KEY_SEL 0:
 * the VLEK when one is installed). */
static int verb_chain(char **args, unsigned n_args, bool ark_only) {
        _cleanup_(sim_state_wipe) struct sim_state s = {};
        STACK_OF(X509) *chain = NULL;
        int r;

        if (load_or_complain(args[0], &s) < 0)
                return EXIT_FAILURE;
        r = sim_cert_chain(&s, s.vlek_present, &chain);
        if (r < 0) {
                fprintf(stderr, PROG ": %s: cannot make the simulated chain: %s\n", args[0], strerror(-r));
                return EXIT_FAILURE;
        }
        for (int i = ark_only ? 2 : 0; r >= 0 && i < sk_X509_num(chain); i++)
                if (PEM_write_X509(stdout, sk_X509_value(chain, i)) != 1)
                        r = -EIO;
        sk_X509_pop_free(chain, X509_free);
        if (r < 0 || fflush(stdout) != 0) {
                fprintf(stderr, PROG ": cannot write the chain\n");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static int verb_reboot(char **args, unsigned n_args, bool flag) {
        _cleanup_(sim_state_wipe) struct sim_state s = {};
        int r;

        if (load_or_complain(args[0], &s) < 0)
                return EXIT_FAILURE;
        r = sim_state_reboot(&s);
        if (r < 0) {
                fprintf(stderr, PROG ": %s: cannot reboot: %s\n", args[0], strerror(-r));
                return EXIT_FAILURE;
        }
        return save_or_complain(args[0], &s, true) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static const struct verb verbs[] = {
        { "init",     "--force", 1, 1,        verb_init },
        { "set",      NULL,      2, UINT_MAX, verb_set },
        { "show",     "--json",  1, 1,        verb_show },
        { "vcek-pem", NULL,      1, 1,        verb_vcek_pem },
        { "chain",    "--ark",   1, 1,        verb_chain },
        { "reboot",   NULL,      1, 1,        verb_reboot },
};

/* Split the verb's arguments into its flag and positional arguments. */
static int run_verb(const struct verb *v, int argc, char **argv) {
        _cleanup_(freep) char **args = calloc((size_t) argc + 1, sizeof(char *));
        unsigned n = 0;
        bool flag = false, dashdash = false;

        if (!args) {
                fprintf(stderr, PROG ": out of memory\n");
                return EXIT_FAILURE;
        }
        for (int i = 0; i < argc; i++) {
                if (!dashdash && strcmp(argv[i], "--") == 0)
                        dashdash = true;
                else if (!dashdash && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
                        help(stdout);
                        return EXIT_SUCCESS;
                } else if (!dashdash && v->flag && strcmp(argv[i], v->flag) == 0)
                        flag = true;
                else if (!dashdash && argv[i][0] == '-' && argv[i][1] != '\0')
                        return usage_error("unknown option \"%s\"", argv[i]);
                else
                        args[n++] = argv[i];
        }
        if (n < v->min_args)
                return usage_error("%s: missing arguments", v->name);
        if (n > v->max_args)
                return usage_error("%s: too many arguments", v->name);
        return v->run(args, n, flag);
}

int main(int argc, char **argv) {
        if (argc < 2)
                return usage_error("missing command");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                help(stdout);
                return EXIT_SUCCESS;
        }
        if (strcmp(argv[1], "--version") == 0) {
                puts(PROG " " PACKAGE_VERSION);
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return run_verb(&verbs[i], argc - 2, argv + 2);
        return usage_error("unknown command \"%s\"", argv[1]);
}

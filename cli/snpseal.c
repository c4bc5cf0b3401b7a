/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal: the command line tool (man snpseal). main() parses the global
 * options and dispatches the subcommand from the table below; the verbs live
 * in verbs-*.c / verb-*.c. Exit codes: 0 success, 1 failure, 2 usage error.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli.h"
#include "log.h"
#include "verb-verify.h"

/* Add new verbs here (in the order --help lists them). */
static const struct cli_verb *const verbs[] = {
        &cli_verb_status,
        &cli_verb_report,
        &cli_verb_attest,
        &cli_verb_verify,
        &cli_verb_seal,
        &cli_verb_unseal,
        &cli_verb_credential,
        &cli_verb_user,
        &cli_verb_enroll,
        &cli_verb_list,
        &cli_verb_remove,
        &cli_verb_reseal,
        &cli_verb_unlock,
};

static void help(FILE *f) {
        fputs("Usage: " PROG " [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS...]\n"
              "\n"
              "Seal secrets to this AMD SEV-SNP confidential VM through the snpseal agent.\n"
              "\n"
              "Commands:\n", f);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-11s %s\n", verbs[i]->name, verbs[i]->summary);
        fputs("\n"
              "Global options (also accepted after the command):\n"
              "  --socket=PATH   the agent's socket (default $SNPSEAL_SOCKET or\n"
              "                  " CLI_SOCKET_DEFAULT ")\n"
              "  --json          machine-readable output\n"
              "  -h, --help      show this help; '" PROG " COMMAND --help' for a command\n"
              "  --version       show the version\n"
              "\n"
              "See snpseal(1).\n", f);
}

static const struct cli_verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(name, verbs[i]->name) == 0)
                        return verbs[i];
        return NULL;
}

/* The CLI holds keys, passphrases, PINs and plaintext: no core dump may
 * carry them and no other process of the user may read its memory
 * (ptrace, /proc/PID/mem need a dumpable process). Before anything else. */
static int harden(void) {
        const struct rlimit no_core = { 0, 0 };

        if (setrlimit(RLIMIT_CORE, &no_core) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct cli cli = { .socket = CLI_SOCKET_DEFAULT };
        const struct cli_verb *verb;
        const char *env = getenv("SNPSEAL_SOCKET");
        int c, r;

        r = harden();
        if (r < 0) {
                fprintf(stderr, PROG ": cannot disable core dumps: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        log_set_sink(log_sink_stderr, (void *) PROG);
        log_set_max_level(LOG_WARNING);
        if (env && env[0])
                cli.socket = env;

        opterr = 0;
        /* '+': stop at the command; its own options follow it. */
        while ((c = getopt_long(argc, argv, "+" CLI_OPTSTRING, options, NULL)) >= 0) {
                if (c == 'h') {
                        help(stdout);
                        return EXIT_SUCCESS;
                }
                r = cli_common_option(&cli, NULL, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        if (optind >= argc)
                return cli_usage_error(NULL, "missing command");
        verb = find_verb(argv[optind]);
        if (!verb)
                return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
        return verb->run(&cli, verb, argc - optind, argv + optind);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseal, the command line tool (man snpseal): shared definitions.
 *
 * Subcommands ("verbs") are dispatched from the table in snpseal.c; each
 * group of verbs has its own file and exports its table entries here. A verb
 * gets argv starting at its own name, parses its options with getopt_long()
 * (the global options are accepted after the verb too: CLI_GLOBAL_OPTIONS and
 * cli_common_option()) and returns an exit code.
 * Exit codes: 0 success, 1 failure, 2 usage error.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "binding.h"
#include "macro.h"

#define PROG "snpseal"
#define EXIT_USAGE 2

#define CLI_SOCKET_DEFAULT "/run/snpseal/agent.sock"
/* The same directory the agent serves credentials from (agent-config.h). */
#define CLI_CREDSTORE_DEFAULT SNPSEAL_SYSCONFDIR "/snpseal/credstore"
#define CLI_CREDENTIALS_SOCKET "/run/snpseal/credentials.sock"
/* Every read and write on the agent connection (a password layer costs the
 * agent a memory-hard KDF; socket activation may start the agent first). */
#define CLI_AGENT_TIMEOUT_MS 60000u

/* Global settings: --socket (or $SNPSEAL_SOCKET), --json. */
struct cli {
        const char *socket;
        bool json;
};

struct cli_verb {
        const char *name;
        const char *args;      /* synopsis after the name, for help */
        const char *summary;   /* one line for the command list */
        const char *options;   /* the verb's option help, or NULL */
        int (*run)(struct cli *cli, const struct cli_verb *verb, int argc, char **argv);
};

/* Long options every verb accepts; verbs number their own from CLI_OPT_VERB. */
enum {
        CLI_OPT_SOCKET = 0x100,
        CLI_OPT_JSON,
        CLI_OPT_VERSION,
        CLI_OPT_VERB = 0x200,
};
#define CLI_GLOBAL_OPTIONS                                               \
        { "socket",  required_argument, NULL, CLI_OPT_SOCKET },          \
        { "json",    no_argument,       NULL, CLI_OPT_JSON },            \
        { "help",    no_argument,       NULL, 'h' },                     \
        { "version", no_argument,       NULL, CLI_OPT_VERSION }
/* The getopt_long() option string: ':' first reports a missing value as ':'. */
#define CLI_OPTSTRING ":h"

/* cli_common_option() returns this when the verb goes on parsing. */
#define CLI_CONTINUE (-1)

/* ---- cli-util.c ---- */

/* Handle what getopt_long() returned that is not the verb's own option:
 * global options (CLI_CONTINUE), --help (prints the verb's help, 0),
 * --version (0), unknown options and missing values (a message, EXIT_USAGE).
 * argv/optind locate the offending argument for the message. */
int cli_common_option(struct cli *cli, const struct cli_verb *verb, int c, char **argv);
/* Print the verb's help to f. */
void cli_verb_help(const struct cli_verb *verb, FILE *f);
void cli_print_version(void);

/* "snpseal: VERB: message\n" on stderr (VERB may be NULL). Returns EXIT_FAILURE. */
int cli_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
/* The same, with "Try 'snpseal VERB --help'." Returns EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
/* Check the number of positional arguments left after option parsing. */
int cli_check_args(const char *verb, int n, int min, int max);

/* Connect to the agent at cli->socket. On failure prints the one line
 * "cannot reach the snpseal agent at PATH: REASON (is snpseald.socket
 * running?)" and returns < 0. */
struct varlink_client;
int cli_agent_connect(const struct cli *cli, struct varlink_client **ret);
/* Call io.snpseal.Agent.<method>. On success 0 and *ret_params (the reply's
 * parameters; free with json_object_put_wipe). On an error reply prints
 * "VERB: <message>" (the agent's message; the error's name is not shown)
 * and returns -EPROTO; on a transport failure
 * prints what happened and returns its -errno. When ret_error is not NULL it
 * gets the error name of an error reply (static storage) or NULL. */
int cli_agent_call(const struct cli *cli, struct varlink_client *c, const char *verb, const char *method,
                   json_object *params, json_object **ret_params, const char **ret_error);
/* Connect, call, disconnect. */
int cli_agent_call1(const struct cli *cli, const char *verb, const char *method, json_object *params,
                    json_object **ret_params);

/* Read fd to EOF into secret memory (NUL-terminated, *ret_size without the
 * NUL). -EFBIG when there are more than max bytes. */
int cli_read_capped(int fd, size_t max, char **ret_data, size_t *ret_size);
/* The secret to seal, from standard input (what: "the input", for
 * messages about a pipe): read as it is (at most max bytes) when it is not a terminal;
 * on a terminal typed without echo after "PROMPT: ", asked twice, without
 * the newline (as systemd-ask-password). Errors are printed. May be empty. */
int cli_secret_input(const char *verb, const char *what, const char *prompt, size_t max, char **ret,
                     size_t *ret_size);
/* Write all of buf to fd. */
int cli_write_all(int fd, const void *buf, size_t size);

/* Base64 of data in secret memory (NUL-terminated). */
int cli_base64_encode(const void *data, size_t size, char **ret_text);
/* Decode a base64 string into secret memory of at most max bytes. */
int cli_base64_decode(const char *text, size_t max, uint8_t **ret_data, size_t *ret_size);
/* Hex of 1..max bytes into out (zero-padded to max). -EINVAL for odd length,
 * a non-hex digit or more than max bytes. */
int cli_hex_decode_padded(const char *hex, uint8_t *out, size_t max);

/* A password into secret memory: the first line of file when file is not
 * NULL, else from the terminal (/dev/tty, without echo), asked twice when
 * confirm. Refuses empty passwords and more than SEALED_PASSWORD_MAX bytes;
 * prints what is wrong. */
int cli_password_get(const char *verb, const char *file, bool confirm, char **ret_pw, size_t *ret_len);
/* The same with another prompt on the terminal ("Old password" asks
 * "Old password: " and "Old password (again): "). */
int cli_password_get_prompt(const char *verb, const char *file, const char *prompt, bool confirm, char **ret_pw,
                            size_t *ret_len);

/* Print a JSON value to stdout, pretty, with a newline. */
int cli_json_print(json_object *o);
/* For a command whose output has no JSON form (plaintext): a usage error
 * naming what it writes when --json was given, else CLI_CONTINUE. */
int cli_json_refuse(const struct cli *cli, const char *verb, const char *what);
/* A string or a non-negative integer member as a uint64 ("0x…" or decimal);
 * -ENOENT missing, -EINVAL not a number. */
int cli_json_u64(json_object *o, const char *key, uint64_t *ret);
/* A string member, or NULL. */
const char *cli_json_str(json_object *o, const char *key);

/* ---- verb tables (verbs-agent.c, verb-credential.c) ---- */
extern const struct cli_verb cli_verb_status, cli_verb_report, cli_verb_seal, cli_verb_unseal;
extern const struct cli_verb cli_verb_credential;
/* verb-user.c */
extern const struct cli_verb cli_verb_user;
/* verbs-luks.c */
extern const struct cli_verb cli_verb_enroll, cli_verb_list, cli_verb_remove, cli_verb_reseal, cli_verb_unlock;

/* Binding options shared by seal and credential add (verbs-agent.c). */
#define CLI_BINDING_OPTIONS_HELP                                                         \
        "  --bind=FIELD[,FIELD...]   bind to these report fields (measurement, policy,\n" \
        "                            tcb_version, image_id, family_id, guest_svn);\n"     \
        "                            default measurement,policy,tcb_version\n"            \
        "  --root-key=vcek|vlek|vmrk derive from this root key (default vcek)\n"          \
        "  --vmpl=N                  VMPL of the key (default: the agent's own)\n"        \
        "  --guest-svn=N             guest SVN (default: the launch SVN)\n"               \
        "  --tcb=min|launch|committed|HEX\n"                                              \
        "                            TCB version (default min of launch and committed)\n" \
        "  --force                   accept a binding refused for persistent use\n"       \
        "                            (vmrk, or without measurement or tcb_version)\n"
enum {
        CLI_OPT_BIND = 0x180,
        CLI_OPT_ROOT_KEY,
        CLI_OPT_BINDING_VMPL,
        CLI_OPT_GUEST_SVN,
        CLI_OPT_TCB,
        CLI_OPT_FORCE,
};
#define CLI_BINDING_OPTIONS                                                \
        { "bind",      required_argument, NULL, CLI_OPT_BIND },            \
        { "root-key",  required_argument, NULL, CLI_OPT_ROOT_KEY },        \
        { "vmpl",      required_argument, NULL, CLI_OPT_BINDING_VMPL },    \
        { "guest-svn", required_argument, NULL, CLI_OPT_GUEST_SVN },       \
        { "tcb",       required_argument, NULL, CLI_OPT_TCB },             \
        { "force",     no_argument,       NULL, CLI_OPT_FORCE }

struct cli_binding_args {
        struct snp_binding_spec spec;
        bool any;       /* a binding option was given: resolve and send a binding */
        bool force;
};
void cli_binding_args_init(struct cli_binding_args *b);
/* Apply what getopt_long() returned when it is a binding option: 1 handled,
 * 0 not a binding option, -EINVAL a bad value (printed). */
int cli_binding_option(const char *verb, struct cli_binding_args *b, int c, const char *value);
/* Resolve the binding options against the running VM (GetStatus for the
 * agent's VMPL, GetReport for the report; the agent checks the result for
 * persistent use, honouring force): *ret_binding is the binding's JSON for Seal, or NULL when no binding
 * option was given (the agent applies its default). Errors are printed. */
int cli_binding_resolve(const struct cli *cli, struct varlink_client *c, const char *verb,
                        const struct cli_binding_args *b, json_object **ret_binding);
/* Seal data with purpose through the agent (binding NULL = the agent's
 * default). *ret_text is the sealed object's JSON text (malloc()ed). */
int cli_seal(const struct cli *cli, struct varlink_client *c, const char *verb, const char *purpose,
             json_object *binding, bool force, const char *data, size_t size, const char *password,
             char **ret_text);

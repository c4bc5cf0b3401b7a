/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal user enroll|list|remove|rewrap|unseal: per-user secrets, kept by
 * the agent in its user store (<store>/<uid>/<name>.sealed, purpose
 * user/<uid>/<name>) and unsealed at login by pam_snpseal. Thin clients of
 * the agent's StoreUserSecret, ListUserSecrets, RemoveUserSecret,
 * RewrapUserSecret and UnsealUserSecret (docs/PROTOCOL.md). The agent
 * enforces who may act for which uid; the CLI only resolves --user= and
 * passes the uid on.
 */

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cli.h"
#include "hexutil.h"
#include "json-util.h"
#include "json-values.h"
#include "purpose.h"
#include "sealed.h"
#include "secret.h"
#include "varlink.h"

#define USER_NAME_MAX 64u
#define USER_PREFIX "user/"

enum {
        OPT_NAME = CLI_OPT_VERB,
        OPT_USER,
        OPT_PASSWORD,
        OPT_PASSWORD_FILE,
        OPT_OLD_PASSWORD_FILE,
        OPT_NO_PASSWORD,
        OPT_GENERATE,
        OPT_REPLACE,
        OPT_FORCE,
};

#define OPTION_NAME          { "name",              required_argument, NULL, OPT_NAME }
#define OPTION_USER          { "user",              required_argument, NULL, OPT_USER }
#define OPTION_PASSWORD      { "password",          no_argument,       NULL, OPT_PASSWORD }
#define OPTION_PASSWORD_FILE { "password-file",     required_argument, NULL, OPT_PASSWORD_FILE }

/* Every option of every user verb; each verb's table says which it takes. */
struct user_args {
        const char *name;
        const char *user;               /* --user= as given */
        bool uid_set;                   /* --user= given: send uid */
        uid_t uid;                      /* the target: --user= or our own */
        bool password_ask;
        const char *password_file;
        const char *old_password_file;
        bool no_password;
        size_t generate;                /* --generate=BYTES, 0 = read stdin */
        bool replace;
        bool force;
};

/* A name: a purpose segment (A-Z a-z 0-9 . _ @ : + -, not "." or ".."), not
 * starting with '.', at most USER_NAME_MAX bytes. */
static int user_name_check(const char *verb, const char *name) {
        char purpose[PURPOSE_MAX + 1];
        int n;

        if (name[0] != '.' && !strchr(name, '/') && strlen(name) <= USER_NAME_MAX) {
                n = snprintf(purpose, sizeof(purpose), USER_PREFIX "0/%s", name);
                if (n > 0 && (size_t) n < sizeof(purpose) && purpose_validate(purpose) == 0)
                        return 0;
        }
        return cli_usage_error(verb, "invalid name '%s': use 1 to %u characters of A-Z a-z 0-9 . _ @ : + -, "
                               "not starting with '.'", name, USER_NAME_MAX);
}

/* USER: a user name, or a uid in decimal. */
static int user_resolve(const char *verb, const char *user, uid_t *ret) {
        const struct passwd *pw;
        uint32_t v;

        if (user[strspn(user, "0123456789")] == '\0') {
                if (parse_u32(user, UINT32_MAX - 1, &v) < 0)
                        return cli_usage_error(verb, "invalid --user '%s': expected a user name or uid", user);
                *ret = (uid_t) v;
                return 0;
        }
        errno = 0;
        pw = getpwnam(user);
        if (!pw)
                return cli_usage_error(verb, "unknown user '%s'%s%s", user, errno ? ": " : "",
                                       errno ? strerror(errno) : "");
        *ret = pw->pw_uid;
        return 0;
}

static int user_generate_option(const char *verb, const char *value, size_t *ret) {
        uint32_t v;

        if (parse_u32(value, SEALED_DATA_MAX, &v) < 0 || v == 0)
                return cli_usage_error(verb, "invalid --generate '%s': expected 1 to %u bytes", value,
                                       SEALED_DATA_MAX);
        *ret = v;
        return CLI_CONTINUE;
}

/* One option of a user verb: CLI_CONTINUE handled, 0 not ours, else an exit code. */
static int user_option(const char *verb, struct user_args *a, int c, const char *value) {
        switch (c) {
        case OPT_NAME:
                a->name = value;
                return CLI_CONTINUE;
        case OPT_USER:
                if (value[0] == '\0')
                        return cli_usage_error(verb, "--user= needs a user name or uid");
                a->user = value;
                return CLI_CONTINUE;
        case OPT_PASSWORD:
                a->password_ask = true;
                return CLI_CONTINUE;
        case OPT_PASSWORD_FILE:
        case OPT_OLD_PASSWORD_FILE:
                if (value[0] == '\0')
                        return cli_usage_error(verb, "--%spassword-file= needs a file name",
                                               c == OPT_OLD_PASSWORD_FILE ? "old-" : "");
                *(c == OPT_PASSWORD_FILE ? &a->password_file : &a->old_password_file) = value;
                return CLI_CONTINUE;
        case OPT_NO_PASSWORD:
                a->no_password = true;
                return CLI_CONTINUE;
        case OPT_GENERATE:
                return user_generate_option(verb, value, &a->generate);
        case OPT_REPLACE:
                a->replace = true;
                return CLI_CONTINUE;
        case OPT_FORCE:
                a->force = true;
                return CLI_CONTINUE;
        }
        return 0;
}

/* Parse a user verb's options (its table), then check what they have in
 * common: no positional arguments, --name= when needs_name, --user=. */
static int user_parse(struct cli *cli, const struct cli_verb *verb, int argc, char **argv,
                      const struct option *options, bool needs_name, struct user_args *a) {
        int c, r;

        *a = (struct user_args) { .uid = geteuid() };
        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                r = user_option(verb->name, a, c, optarg);
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        /* NAME, or --name=NAME (as credential verbs take their ID). */
        r = cli_check_args(verb->name, argc - optind, 0, needs_name ? 1 : 0);
        if (r != 0)
                return r;
        if (optind < argc) {
                if (a->name)
                        return cli_usage_error(verb->name, "give the name once: NAME or --name=NAME");
                a->name = argv[optind];
        }
        if (needs_name && !a->name)
                return cli_usage_error(verb->name, "missing NAME (or --name=NAME)");
        if (a->name && user_name_check(verb->name, a->name) != 0)
                return EXIT_USAGE;
        if (a->password_ask && a->password_file)
                return cli_usage_error(verb->name, "--password and --password-file= exclude each other");
        if (a->no_password && a->password_file)
                return cli_usage_error(verb->name, "--no-password and --password-file= exclude each other");
        if (a->user) {
                if (user_resolve(verb->name, a->user, &a->uid) != 0)
                        return EXIT_USAGE;
                a->uid_set = true;
        }
        return CLI_CONTINUE;
}

/* The parameters every user method takes: name (when set) and uid (when
 * --user= was given; the agent defaults to the caller). */
static json_object *user_params(const struct user_args *a) {
        _cleanup_(json_object_put_wipep) json_object *p = json_object_new_object();

        if (!p ||
            (a->name && json_add(p, "name", json_object_new_string(a->name)) < 0) ||
            (a->uid_set && json_add(p, "uid", json_object_new_int64((int64_t) a->uid)) < 0))
                return NULL;
        return TAKE_PTR(p);
}

/* Add a password (a secret string) to params; NULL adds nothing. */
static int params_add_secret(json_object *params, const char *key, const char *value) {
        if (!value)
                return 0;
        return json_add(params, key, json_object_new_string(value));
}

/* Call method on a fresh connection; takes params (NULL: its building
 * failed), which are wiped after the call. */
static int user_call(const struct cli *cli, const char *verb, const char *method, json_object *params,
                     json_object **ret_reply) {
        _cleanup_(json_object_put_wipep) json_object *p = params;

        if (!p)
                return cli_error(verb, "out of memory"), -ENOMEM;
        return cli_agent_call1(cli, verb, method, p, ret_reply);
}

/* user_params() with up to two secret strings (NULL values are left out). */
static json_object *user_params_secrets(const struct user_args *a, const char *key1, const char *value1,
                                        const char *key2, const char *value2) {
        _cleanup_(json_object_put_wipep) json_object *p = user_params(a);

        if (!p || params_add_secret(p, key1, value1) < 0 || (key2 && params_add_secret(p, key2, value2) < 0))
                return NULL;
        return TAKE_PTR(p);
}

static int flush_stdout(const char *verb) {
        if (fflush(stdout) != 0 || ferror(stdout))
                return cli_error(verb, "cannot write the output: %s", strerror(errno));
        return EXIT_SUCCESS;
}

/* The line that confirms a change ("DONE 'NAME' for uid UID[HOW]."), or
 * with --json {"name", "uid", "<key>": true[, "password": bool]}; password
 * < 0 leaves that member out. */
static int change_print(const struct cli *cli, const struct user_args *a, const char *done, const char *how,
                        const char *key, int password) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (!cli->json)
                return printf("%s '%s' for uid %u%s.\n", done, a->name, (unsigned) a->uid, how) < 0 ? -EIO : 0;
        o = json_object_new_object();
        if (!o || json_add(o, "name", json_object_new_string(a->name)) < 0 ||
            json_add(o, "uid", json_object_new_int64((int64_t) a->uid)) < 0 ||
            json_add(o, key, json_object_new_boolean(true)) < 0 ||
            (password >= 0 && json_add(o, "password", json_object_new_boolean(password > 0)) < 0))
                return -ENOMEM;
        return cli_json_print(o);
}

/* ---------------------------------------------------------------- enroll */

/* The secret: --generate random bytes, or standard input (not empty). */
static int enroll_secret(const char *verb, const struct user_args *a, char **ret, size_t *ret_size) {
        _cleanup_secret_ char *data = NULL;
        char prompt[USER_NAME_MAX + 64];
        size_t size;
        int r;

        if (a->generate > 0) {
                data = secret_alloc(a->generate + 1);
                if (!data)
                        return cli_error(verb, "out of memory"), -ENOMEM;
                if (RAND_bytes((unsigned char *) data, (int) a->generate) != 1)
                        return cli_error(verb, "cannot get random bytes for the secret"), -EIO;
                *ret_size = a->generate;
                *ret = TAKE_PTR(data);
                return 0;
        }
        (void) snprintf(prompt, sizeof(prompt), "Secret '%s' for uid %u", a->name, (unsigned) a->uid);
        r = cli_secret_input(verb, "the secret on standard input", prompt, SEALED_DATA_MAX, &data, &size);
        if (r < 0)
                return r;
        if (size == 0)
                return cli_error(verb, "the secret on standard input is empty (use --generate=BYTES for "
                                 "a random one)"), -EINVAL;
        *ret_size = size;
        *ret = TAKE_PTR(data);
        return 0;
}

static json_object *enroll_params(const struct user_args *a, const char *data, size_t size, const char *pw) {
        _cleanup_(json_object_put_wipep) json_object *p = user_params(a);
        _cleanup_secret_ char *b64 = NULL;

        if (!p || cli_base64_encode(data, size, &b64) < 0 ||
            json_add(p, "data", json_object_new_string(b64)) < 0 ||
            params_add_secret(p, "password", pw) < 0 ||
            (a->replace && json_add(p, "replace", json_object_new_boolean(true)) < 0))
                return NULL;
        return TAKE_PTR(p);
}

static int enroll_print(const struct cli *cli, const struct user_args *a, bool password, const char *path) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (!cli->json) {
                printf("Enrolled '%s' for uid %u%s: %s\n", a->name, (unsigned) a->uid,
                       password ? " with a password layer" : "", path);
                return 0;
        }
        o = json_object_new_object();
        if (!o || json_add(o, "name", json_object_new_string(a->name)) < 0 ||
            json_add(o, "uid", json_object_new_int64((int64_t) a->uid)) < 0 ||
            json_add(o, "password", json_object_new_boolean(password)) < 0 ||
            json_add(o, "path", json_object_new_string(path)) < 0)
                return -ENOMEM;
        return cli_json_print(o);
}

static int run_user_enroll(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                OPTION_NAME, OPTION_USER, OPTION_PASSWORD, OPTION_PASSWORD_FILE,
                { "generate", required_argument, NULL, OPT_GENERATE },
                { "replace",  no_argument,       NULL, OPT_REPLACE },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        _cleanup_(json_object_put_wipep) json_object *reply = NULL;
        _cleanup_secret_ char *data = NULL, *pw = NULL;
        struct user_args a;
        const char *path;
        size_t size, pw_len;
        int r;

        r = user_parse(cli, verb, argc, argv, options, true, &a);
        if (r != CLI_CONTINUE)
                return r;
        if (enroll_secret(verb->name, &a, &data, &size) < 0)
                return EXIT_FAILURE;
        if ((a.password_ask || a.password_file) &&
            cli_password_get(verb->name, a.password_file, true, &pw, &pw_len) < 0)
                return EXIT_FAILURE;
        if (user_call(cli, verb->name, "StoreUserSecret", enroll_params(&a, data, size, pw), &reply) < 0)
                return EXIT_FAILURE;
        path = cli_json_str(reply, "path");
        if (enroll_print(cli, &a, pw != NULL, path ?: "(the agent did not say where)") < 0)
                return cli_error(verb->name, "cannot write the output");
        return flush_stdout(verb->name);
}

static const struct cli_verb verb_user_enroll = {
        .name = "user enroll",
        .args = "NAME [--user=USER] [--password | --password-file=FILE] [--generate=BYTES] [--replace] "
                "[< SECRET]",
        .summary = "Seal a secret for a user (purpose user/UID/NAME) into the agent's user store",
        .options =
                "  --name=NAME               the same as NAME, the secret's name (pam_snpseal's\n"
                "                            name=)\n"
                "  --user=USER               the user (name or uid); default yourself\n"
                "  --password                add a password layer (asked twice on the terminal)\n"
                "  --password-file=FILE      add a password layer with the first line of FILE\n"
                "  --generate=BYTES          seal BYTES random bytes instead of standard input\n"
                "  --replace                 replace an existing secret of that name\n",
        .run = run_user_enroll,
};

/* ---------------------------------------------------------------- list */

/* The recorded identity, short: "measurement 3f2a1b2c…" or the first field. */
static void identity_short(json_object *id, char *buf, size_t size) {
        static const char *const keys[] = { "measurement", "image_id", "family_id", "policy", "tcb" };
        const char *v;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                v = cli_json_str(id, keys[i]);
                if (v) {
                        (void) snprintf(buf, size, "%s %.12s%s", keys[i], v, strlen(v) > 12 ? "\u2026" : "");
                        return;
                }
        }
        (void) snprintf(buf, size, "-");
}

static void list_entry_text(json_object *e) {
        json_object *v = NULL, *identity = NULL;
        struct snp_binding b;
        char binding[256], ident[64], err[256];
        const char *name = cli_json_str(e, "name") ?: "?", *error = cli_json_str(e, "error");
        bool password = false;

        if (error) {
                printf("%-20s (invalid: %s)\n", name, error);
                return;
        }
        if (json_object_object_get_ex(e, "password", &v))
                password = json_object_get_boolean(v);
        if (!json_object_object_get_ex(e, "binding", &v) || snp_binding_from_json(v, &b, err, sizeof(err)) < 0 ||
            snp_binding_format(&b, binding, sizeof(binding)) < 0)
                (void) snprintf(binding, sizeof(binding), "?");
        (void) json_object_object_get_ex(e, "identity", &identity);
        identity_short(identity, ident, sizeof(ident));
        printf("%-20s %-6s %-62s %s\n", name, password ? "yes" : "no", binding, ident);
}

/* The agent's list, each recorded identity in the CLI's form. */
static int list_json(json_object *secrets) {
        _cleanup_(json_object_putp) json_object *out = json_object_new_array();
        size_t n = json_object_array_length(secrets);

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(secrets, i), *id, *copy = NULL;

                if (json_object_deep_copy(e, &copy, NULL) < 0 || json_object_array_add(out, copy) < 0) {
                        json_object_put(copy);
                        return -ENOMEM;
                }
                if (json_object_object_get_ex(e, "identity", &id) && json_object_is_type(id, json_type_object) &&
                    json_add(copy, "identity", json_values_identity(id)) < 0)
                        return -ENOMEM;
        }
        return cli_json_print(out);
}

static int list_print(const struct cli *cli, const struct user_args *a, json_object *secrets) {
        size_t n = json_object_array_length(secrets);

        if (cli->json)
                return list_json(secrets);
        if (n == 0) {
                printf("No user secrets for uid %u.\n", (unsigned) a->uid);
                return 0;
        }
        printf("%-20s %-6s %-62s %s\n", "NAME", "PASSWD", "BINDING", "IDENTITY");
        for (size_t i = 0; i < n; i++)
                list_entry_text(json_object_array_get_idx(secrets, i));
        return 0;
}

static int run_user_list(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = { OPTION_USER, CLI_GLOBAL_OPTIONS, {} };
        _cleanup_(json_object_put_wipep) json_object *reply = NULL;
        json_object *secrets = NULL;
        struct user_args a;
        int r;

        r = user_parse(cli, verb, argc, argv, options, false, &a);
        if (r != CLI_CONTINUE)
                return r;
        if (user_call(cli, verb->name, "ListUserSecrets", user_params(&a), &reply) < 0)
                return EXIT_FAILURE;
        if (!json_object_object_get_ex(reply, "secrets", &secrets) ||
            !json_object_is_type(secrets, json_type_array))
                return cli_error(verb->name, "the agent's reply carries no list of secrets");
        if (list_print(cli, &a, secrets) < 0)
                return cli_error(verb->name, "cannot write the output");
        return flush_stdout(verb->name);
}

static const struct cli_verb verb_user_list = {
        .name = "user list",
        .args = "[--user=USER]",
        .summary = "List a user's secrets: name, password layer, binding, recorded identity",
        .options = "  --user=USER               the user (name or uid); default yourself\n",
        .run = run_user_list,
};

/* ---------------------------------------------------------------- remove */

static int run_user_remove(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = { OPTION_NAME, OPTION_USER, CLI_GLOBAL_OPTIONS, {} };
        _cleanup_(json_object_put_wipep) json_object *reply = NULL;
        struct user_args a;
        int r;

        r = user_parse(cli, verb, argc, argv, options, true, &a);
        if (r != CLI_CONTINUE)
                return r;
        if (user_call(cli, verb->name, "RemoveUserSecret", user_params(&a), &reply) < 0)
                return EXIT_FAILURE;
        if (change_print(cli, &a, "Removed", "", "removed", -1) < 0)
                return cli_error(verb->name, "cannot write the output");
        return flush_stdout(verb->name);
}

static const struct cli_verb verb_user_remove = {
        .name = "user remove",
        .args = "NAME [--user=USER]",
        .summary = "Remove a user's secret",
        .options =
                "  --name=NAME               the same as NAME, the secret's name\n"
                "  --user=USER               the user (name or uid); default yourself\n",
        .run = run_user_remove,
};

/* ---------------------------------------------------------------- rewrap */

/* The old password: from the file, else (not root) from the terminal; root
 * without a file sends none (the agent uses the VM layer). */
static int rewrap_old_password(const char *verb, const struct user_args *a, char **ret) {
        size_t len;

        if (!a->old_password_file && geteuid() == 0) {
                *ret = NULL;
                return 0;
        }
        if (!a->old_password_file) {
                _cleanup_(closep) int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

                if (fd < 0)
                        return cli_error(verb, "the old password is needed (only root may rewrap without it) and "
                                         "there is no terminal to ask for it: use --old-password-file=FILE"),
                               -ENOTTY;
        }
        return cli_password_get_prompt(verb, a->old_password_file, "Old password", false, ret, &len);
}

static int run_user_rewrap(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                OPTION_NAME, OPTION_USER, OPTION_PASSWORD_FILE,
                { "old-password-file", required_argument, NULL, OPT_OLD_PASSWORD_FILE },
                { "no-password",       no_argument,       NULL, OPT_NO_PASSWORD },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        _cleanup_(json_object_put_wipep) json_object *reply = NULL;
        _cleanup_secret_ char *old_pw = NULL, *new_pw = NULL;
        struct user_args a;
        size_t len;
        int r;

        r = user_parse(cli, verb, argc, argv, options, true, &a);
        if (r != CLI_CONTINUE)
                return r;
        if (rewrap_old_password(verb->name, &a, &old_pw) < 0)
                return EXIT_FAILURE;
        if (!a.no_password &&
            cli_password_get_prompt(verb->name, a.password_file, "New password", true, &new_pw, &len) < 0)
                return EXIT_FAILURE;
        if (user_call(cli, verb->name, "RewrapUserSecret",
                      user_params_secrets(&a, "old_password", old_pw, "new_password", new_pw), &reply) < 0)
                return EXIT_FAILURE;
        if (change_print(cli, &a, "Rewrapped", new_pw ? " with a new password layer" : " without a password layer",
                         "rewrapped", new_pw != NULL) < 0)
                return cli_error(verb->name, "cannot write the output");
        return flush_stdout(verb->name);
}

static const struct cli_verb verb_user_rewrap = {
        .name = "user rewrap",
        .args = "NAME [--user=USER] [--old-password-file=FILE] [--password-file=FILE | --no-password]",
        .summary = "Change the password layer of a user's secret (root: also without the old password)",
        .options =
                "  --name=NAME               the same as NAME, the secret's name\n"
                "  --user=USER               the user (name or uid); default yourself\n"
                "  --old-password-file=FILE  the old password is the first line of FILE; without\n"
                "                            it root rewraps from the VM layer, others are asked\n"
                "  --password-file=FILE      the new password is the first line of FILE (default:\n"
                "                            asked twice on the terminal)\n"
                "  --no-password             drop the password layer\n",
        .run = run_user_rewrap,
};

/* ---------------------------------------------------------------- unseal */

/* Whether the secret has a password layer, from ListUserSecrets: 1 yes,
 * 0 no or not listed (UnsealUserSecret then says what is wrong). */
static int unseal_has_password(const struct cli *cli, const char *verb, const struct user_args *a) {
        _cleanup_(json_object_put_wipep) json_object *reply = NULL;
        struct user_args list = *a;
        json_object *secrets, *v;
        size_t n;

        list.name = NULL;
        if (user_call(cli, verb, "ListUserSecrets", user_params(&list), &reply) < 0)
                return -EPROTO;
        if (!json_object_object_get_ex(reply, "secrets", &secrets) ||
            !json_object_is_type(secrets, json_type_array))
                return cli_error(verb, "the agent's reply carries no list of secrets"), -EBADMSG;
        n = json_object_array_length(secrets);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(secrets, i);
                const char *name = cli_json_str(e, "name");

                if (name && strcmp(name, a->name) == 0)
                        return json_object_object_get_ex(e, "password", &v) && json_object_get_boolean(v);
        }
        return 0;
}

static int unseal_do(const struct cli *cli, const char *verb, const struct user_args *a, const char *pw) {
        _cleanup_(json_object_put_wipep) json_object *reply = NULL;
        _cleanup_secret_ uint8_t *data = NULL;
        const char *b64;
        size_t size;
        int r;

        if (user_call(cli, verb, "UnsealUserSecret", user_params_secrets(a, "password", pw, NULL, NULL),
                      &reply) < 0)
                return EXIT_FAILURE;
        b64 = cli_json_str(reply, "data");
        if (!b64 || cli_base64_decode(b64, SEALED_DATA_MAX, &data, &size) < 0)
                return cli_error(verb, "the agent's reply carries no valid data");
        r = cli_write_all(STDOUT_FILENO, data, size);
        if (r < 0)
                return cli_error(verb, "cannot write the output: %s", strerror(-r));
        return EXIT_SUCCESS;
}

static int run_user_unseal(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                OPTION_NAME, OPTION_USER, OPTION_PASSWORD, OPTION_PASSWORD_FILE,
                { "force", no_argument, NULL, OPT_FORCE },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        _cleanup_secret_ char *pw = NULL;
        struct user_args a;
        size_t len;
        int r;

        r = user_parse(cli, verb, argc, argv, options, true, &a);
        if (r == CLI_CONTINUE)
                r = cli_json_refuse(cli, verb->name, "the secret");
        if (r != CLI_CONTINUE)
                return r;
        if (!a.force && isatty(STDOUT_FILENO))
                return cli_error(verb->name, "refusing to write the secret to a terminal; "
                                 "redirect the output or use --force");
        if (!a.password_ask && !a.password_file) {
                r = unseal_has_password(cli, verb->name, &a);
                if (r < 0)
                        return EXIT_FAILURE;
                a.password_ask = r > 0;
        }
        if ((a.password_ask || a.password_file) &&
            cli_password_get(verb->name, a.password_file, false, &pw, &len) < 0)
                return EXIT_FAILURE;
        return unseal_do(cli, verb->name, &a, pw);
}

static const struct cli_verb verb_user_unseal = {
        .name = "user unseal",
        .args = "NAME [--user=USER] [--password | --password-file=FILE] [--force] > SECRET",
        .summary = "Unseal a user's secret and write it to standard output",
        .options =
                "  --name=NAME               the same as NAME, the secret's name\n"
                "  --user=USER               the user (name or uid); default yourself\n"
                "  --password                ask for the password (asked anyway when the secret\n"
                "                            has a password layer)\n"
                "  --password-file=FILE      the password is the first line of FILE\n"
                "  --force                   write the secret even to a terminal\n",
        .run = run_user_unseal,
};

/* ---------------------------------------------------------------- the group */

static const struct {
        const char *name;
        const struct cli_verb *verb;
} user_verbs[] = {
        { "enroll", &verb_user_enroll },
        { "list",   &verb_user_list },
        { "remove", &verb_user_remove },
        { "rewrap", &verb_user_rewrap },
        { "unseal", &verb_user_unseal },
};

static int run_user(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        if (argc < 2)
                return cli_usage_error(verb->name, "missing subcommand: enroll, list, remove, rewrap or unseal");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                cli_verb_help(verb, stdout);
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < ELEMENTSOF(user_verbs); i++)
                if (strcmp(argv[1], user_verbs[i].name) == 0)
                        return user_verbs[i].verb->run(cli, user_verbs[i].verb, argc - 1, argv + 1);
        return cli_usage_error(verb->name, "unknown subcommand '%s': use enroll, list, remove, rewrap or unseal",
                               argv[1]);
}

const struct cli_verb cli_verb_user = {
        .name = "user",
        .args = "enroll|list|remove|rewrap|unseal [ARGS...]",
        .summary = "Manage per-user secrets (unsealed at login by pam_snpseal)",
        .options =
                "  enroll NAME [--user=USER] [--password | --password-file=FILE]\n"
                "         [--generate=BYTES] [--replace] [< SECRET]\n"
                "                            seal a secret for a user\n"
                "  list [--user=USER]        list a user's secrets\n"
                "  remove NAME [--user=USER]\n"
                "                            remove a secret\n"
                "  rewrap NAME [--user=USER] [--old-password-file=FILE]\n"
                "         [--password-file=FILE | --no-password]\n"
                "                            change a secret's password (root: without the old one)\n"
                "  unseal NAME [--user=USER] [--password-file=FILE] [--force] > SECRET\n"
                "                            write a secret to standard output\n"
                "\n"
                "  NAME may also be given as --name=NAME.\n"
                "  '" PROG " user COMMAND --help' shows a command's options.\n",
        .run = run_user,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal credential add|list|remove: sealed credentials for systemd
 * services. A credential ID is stored as <credstore>/<ID>.sealed (purpose
 * cred/<ID>) and served by the agent's credential socket to units with
 * LoadCredential=<ID>:/run/snpseal/credentials.sock.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json-util.h"
#include "json-values.h"
#include "purpose.h"
#include "sealed.h"
#include "secret.h"
#include "varlink.h"

#define SEALED_SUFFIX ".sealed"
#define CRED_PREFIX "cred/"
#define CRED_LIST_MAX 4096u   /* entries listed at most */

enum { OPT_CREDSTORE = CLI_OPT_VERB };

struct cred_args {
        const char *credstore;
        struct cli_binding_args binding;   /* add only; --force also replaces */
};

static const char *credstore_default(void) {
        const char *e = getenv("SNPSEAL_CREDSTORE");

        return e && e[0] ? e : CLI_CREDSTORE_DEFAULT;
}

/* A credential ID: a purpose segment (A-Z a-z 0-9 . _ @ : + -, not "." or
 * ".."), not starting with '.' (temporary files are hidden). */
static int cred_id_check(const char *verb, const char *id) {
        char purpose[PURPOSE_MAX + 2];

        if (id[0] != '.' && !strchr(id, '/') && strlen(id) + strlen(CRED_PREFIX) <= PURPOSE_MAX &&
            snprintf(purpose, sizeof(purpose), CRED_PREFIX "%s", id) > 0 && purpose_validate(purpose) == 0)
                return 0;
        return cli_usage_error(verb, "invalid credential ID '%s': use at most %zu characters of "
                               "A-Z a-z 0-9 . _ @ : + -, not starting with '.'",
                               id, PURPOSE_MAX - strlen(CRED_PREFIX));
}

/* Parse the options of one credential verb: binding options only for add. */
static int cred_parse(struct cli *cli, const struct cli_verb *verb, int argc, char **argv, bool add,
                      struct cred_args *a) {
        static const struct option add_options[] = {
                { "credstore", required_argument, NULL, OPT_CREDSTORE },
                CLI_BINDING_OPTIONS,
                CLI_GLOBAL_OPTIONS,
                {}
        };
        static const struct option other_options[] = {
                { "credstore", required_argument, NULL, OPT_CREDSTORE },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        const struct option *options = add ? add_options : other_options;
        int c, r;

        a->credstore = credstore_default();
        cli_binding_args_init(&a->binding);
        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                if (c == OPT_CREDSTORE) {
                        if (optarg[0] == '\0')
                                return cli_usage_error(verb->name, "--credstore= needs a directory");
                        a->credstore = optarg;
                        continue;
                }
                r = cli_binding_option(verb->name, &a->binding, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        return CLI_CONTINUE;
}

static char *cred_path(const char *dir, const char *id) {
        char *p;

        if (asprintf(&p, "%s/%s" SEALED_SUFFIX, dir, id) < 0)
                return NULL;
        return p;
}

/* ---------------------------------------------------------------- add */

/* mkdir -p: missing parents 0755, the credstore itself 0700. */
static int mkdir_credstore(char *dir) {
        struct stat st;

        if (stat(dir, &st) == 0)
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        for (char *s = strchr(dir + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;

                        *s = '/';
                        return r;
                }
                *s = '/';
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int fsync_dir(const char *dir) {
        _cleanup_(closep) int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* Write text to path through a temporary file in the same directory
 * (0600, O_EXCL), then rename; without replace an existing file stays. */
static int write_atomic(const char *dir, const char *id, const char *path, const char *text, bool replace) {
        _cleanup_(freep) char *tmp = NULL;
        _cleanup_(closep) int fd = -1;
        int r;

        if (asprintf(&tmp, "%s/." "%s" SEALED_SUFFIX ".XXXXXX", dir, id) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = fchmod(fd, 0600) < 0 ? -errno : 0;
        if (r >= 0)
                r = cli_write_all(fd, text, strlen(text));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, replace ? 0 : RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return fsync_dir(dir);
}

static int cred_add_seal(struct cli *cli, const char *verb, const char *id, const struct cred_args *a,
                         char **ret_text) {
        _cleanup_secret_ char *data = NULL;
        _cleanup_(json_object_putp) json_object *binding = NULL;
        struct varlink_client *client = NULL;
        char purpose[PURPOSE_MAX + 1], prompt[PURPOSE_MAX + 32];
        size_t size;
        int r;

        (void) snprintf(prompt, sizeof(prompt), "Secret for credential '%s'", id);
        r = cli_secret_input(verb, "the secret on standard input", prompt, SEALED_DATA_MAX, &data, &size);
        if (r < 0)
                return r;
        if (size == 0)
                return cli_error(verb, "the secret on standard input is empty: nothing to seal"), -EINVAL;
        (void) snprintf(purpose, sizeof(purpose), CRED_PREFIX "%s", id);
        r = cli_agent_connect(cli, &client);
        if (r < 0)
                return r;
        r = cli_binding_resolve(cli, client, verb, &a->binding, &binding);
        if (r >= 0)
                r = cli_seal(cli, client, verb, purpose, binding, a->binding.force, data, size, NULL, ret_text);
        varlink_client_free(client);
        return r;
}

static int cred_add_print(const struct cli *cli, const char *id, const char *path) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        char line[PURPOSE_MAX + sizeof("LoadCredential=:" CLI_CREDENTIALS_SOCKET)];

        (void) snprintf(line, sizeof(line), "LoadCredential=%s:" CLI_CREDENTIALS_SOCKET, id);
        if (!cli->json) {
                /* The confirmation on stderr: stdout is the unit setting alone. */
                fprintf(stderr, "Sealed credential '%s': %s; in the service's unit:\n", id, path);
                return puts(line) == EOF ? -EIO : 0;
        }
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "id", json_object_new_string(id)) < 0 ||
            json_object_object_add(o, "file", json_object_new_string(path)) < 0 ||
            json_object_object_add(o, "unit_setting", json_object_new_string(line)) < 0)
                return -ENOMEM;
        return cli_json_print(o);
}

static int run_cred_add(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        _cleanup_(freep) char *path = NULL, *text = NULL, *dir = NULL;
        struct cred_args a;
        const char *id;
        int r;

        r = cred_parse(cli, verb, argc, argv, true, &a);
        if (r != CLI_CONTINUE)
                return r;
        r = cli_check_args(verb->name, argc - optind, 1, 1);
        if (r != 0)
                return r;
        id = argv[optind];
        if (cred_id_check(verb->name, id) != 0)
                return EXIT_USAGE;
        path = cred_path(a.credstore, id);
        dir = strdup(a.credstore);
        if (!path || !dir)
                return cli_error(verb->name, "out of memory");
        if (!a.binding.force && access(path, F_OK) == 0)
                return cli_error(verb->name, "credential '%s' already exists (%s); use --force to replace it", id,
                                 path);
        if (cred_add_seal(cli, verb->name, id, &a, &text) < 0)
                return EXIT_FAILURE;
        r = mkdir_credstore(dir);
        if (r < 0)
                return cli_error(verb->name, "cannot create the credential store %s: %s", a.credstore,
                                 strerror(-r));
        r = write_atomic(a.credstore, id, path, text, a.binding.force);
        if (r == -EEXIST)
                return cli_error(verb->name, "credential '%s' already exists (%s); use --force to replace it", id,
                                 path);
        if (r < 0)
                return cli_error(verb->name, "cannot write %s: %s", path, strerror(-r));
        if (cred_add_print(cli, id, path) < 0)
                return cli_error(verb->name, "cannot write the output");
        return EXIT_SUCCESS;
}

static const struct cli_verb verb_cred_add = {
        .name = "credential add",
        .args = "ID [--credstore=DIR] [BINDING OPTIONS] [--force] < SECRET",
        .summary = "Seal the secret on standard input as credential ID and print the unit setting",
        .options =
                "  --credstore=DIR           the credential store (default $SNPSEAL_CREDSTORE or\n"
                "                            " CLI_CREDSTORE_DEFAULT ")\n"
                CLI_BINDING_OPTIONS_HELP
                "                            and replace an existing credential\n",
        .run = run_cred_add,
};

/* ---------------------------------------------------------------- list */

struct cred_entry {
        char id[NAME_MAX + 1];
        bool valid;
        char error[256];
        struct sealed_object obj;
};

/* Read and parse one credential file; problems go into e->error. */
static void cred_entry_load(int dirfd, const char *name, struct cred_entry *e) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(closep) int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        char purpose[sizeof(CRED_PREFIX) + NAME_MAX];
        struct stat st;
        size_t n = 0;
        ssize_t k = 0;

        if (fd < 0 || fstat(fd, &st) < 0) {
                (void) snprintf(e->error, sizeof(e->error), "cannot open: %s", strerror(errno));
                return;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t) SEALED_TEXT_MAX) {
                (void) snprintf(e->error, sizeof(e->error), "%s",
                                S_ISREG(st.st_mode) ? "too large for a sealed object" : "not a regular file");
                return;
        }
        text = malloc((size_t) st.st_size + 1);
        while (text && n < (size_t) st.st_size &&
               ((k = read(fd, text + n, (size_t) st.st_size - n)) > 0 || (k < 0 && errno == EINTR)))
                n += k > 0 ? (size_t) k : 0;
        if (!text || k < 0) {
                (void) snprintf(e->error, sizeof(e->error), "cannot read: %s", strerror(text ? errno : ENOMEM));
                return;
        }
        while (n > 0 && strchr(" \t\r\n", text[n - 1]))
                n--;
        if (sealed_parse(text, n, &e->obj, e->error, sizeof(e->error)) < 0)
                return;
        (void) snprintf(purpose, sizeof(purpose), CRED_PREFIX "%s", e->id);
        if (strcmp(e->obj.purpose, purpose) != 0) {
                (void) snprintf(e->error, sizeof(e->error), "purpose '%s' does not match the file name",
                                e->obj.purpose);
                return;
        }
        e->valid = true;
}

static int cred_entry_cmp(const void *a, const void *b) {
        return strcmp(((const struct cred_entry *) a)->id, ((const struct cred_entry *) b)->id);
}

static void cred_entries_free(struct cred_entry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++)
                sealed_object_done(&e[i].obj);
        free(e);
}

/* Every <ID>.sealed in dir (not hidden), sorted. A missing dir is empty. */
static int cred_entries_load(const char *dir, struct cred_entry **ret, size_t *ret_n) {
        _cleanup_(closep) int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct cred_entry *e = NULL;
        size_t n = 0, suffix = strlen(SEALED_SUFFIX);
        struct dirent *de;
        DIR *d;

        if (dfd < 0 && errno == ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        d = dfd < 0 ? NULL : fdopendir(dup(dfd));
        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < CRED_LIST_MAX) {
                size_t len = strlen(de->d_name);
                struct cred_entry *ne;

                if (de->d_name[0] == '.' || len <= suffix || strcmp(de->d_name + len - suffix, SEALED_SUFFIX) != 0)
                        continue;
                ne = realloc(e, (n + 1) * sizeof(*e));
                if (!ne)
                        break;
                e = ne;
                e[n] = (struct cred_entry) {};
                memcpy(e[n].id, de->d_name, len - suffix);
                cred_entry_load(dfd, de->d_name, &e[n]);
                n++;
        }
        (void) closedir(d);
        qsort(e, n, sizeof(*e), cred_entry_cmp);
        *ret = e;
        *ret_n = n;
        return 0;
}

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

static void cred_list_text(const struct cred_entry *e, size_t n) {
        char binding[256], ident[64];

        printf("%-20s %-26s %-6s %-62s %s\n", "ID", "PURPOSE", "PASSWD", "BINDING", "IDENTITY");
        for (size_t i = 0; i < n; i++) {
                if (!e[i].valid) {
                        printf("%-20s (invalid: %s)\n", e[i].id, e[i].error);
                        continue;
                }
                if (snp_binding_format(&e[i].obj.binding, binding, sizeof(binding)) < 0)
                        (void) snprintf(binding, sizeof(binding), "?");
                identity_short(e[i].obj.identity, ident, sizeof(ident));
                printf("%-20s %-26s %-6s %-62s %s\n", e[i].id, e[i].obj.purpose,
                       e[i].obj.has_password ? "yes" : "no", binding, ident);
        }
}

static json_object *cred_entry_json(const struct cred_entry *e) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return NULL;
        r = json_object_object_add(o, "id", json_object_new_string(e->id));
        r |= json_object_object_add(o, "valid", json_object_new_boolean(e->valid));
        if (!e->valid)
                r |= json_object_object_add(o, "error", json_object_new_string(e->error));
        else {
                r |= json_object_object_add(o, "purpose", json_object_new_string(e->obj.purpose));
                r |= json_object_object_add(o, "binding", snp_binding_to_json(&e->obj.binding));
                r |= json_add(o, "identity", json_values_identity(e->obj.identity));
                r |= json_object_object_add(o, "password", json_object_new_boolean(e->obj.has_password));
        }
        return r == 0 ? TAKE_PTR(o) : NULL;
}

static int cred_list_json(const struct cred_entry *e, size_t n) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *o = cred_entry_json(&e[i]);

                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        return cli_json_print(a);
}

static int run_cred_list(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        struct cred_entry *e = NULL;
        struct cred_args a;
        size_t n = 0;
        int r;

        r = cred_parse(cli, verb, argc, argv, false, &a);
        if (r != CLI_CONTINUE)
                return r;
        r = cli_check_args(verb->name, argc - optind, 0, 0);
        if (r != 0)
                return r;
        r = cred_entries_load(a.credstore, &e, &n);
        if (r < 0)
                return cli_error(verb->name, "cannot read the credential store %s: %s", a.credstore, strerror(-r));
        if (cli->json)
                r = cred_list_json(e, n);
        else
                cred_list_text(e, n);
        cred_entries_free(e, n);
        if (r < 0 || fflush(stdout) != 0)
                return cli_error(verb->name, "cannot write the output");
        return EXIT_SUCCESS;
}

static const struct cli_verb verb_cred_list = {
        .name = "credential list",
        .args = "[--credstore=DIR]",
        .summary = "List the sealed credentials: ID, purpose, binding, recorded identity",
        .options =
                "  --credstore=DIR           the credential store (default $SNPSEAL_CREDSTORE or\n"
                "                            " CLI_CREDSTORE_DEFAULT ")\n",
        .run = run_cred_list,
};

/* ---------------------------------------------------------------- remove */

/* "Removed credential 'ID': PATH", or {"id", "file", "removed": true}. */
static int cred_remove_print(const struct cli *cli, const char *id, const char *path) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (!cli->json)
                return printf("Removed credential '%s': %s\n", id, path) < 0 ? -EIO : 0;
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "id", json_object_new_string(id)) < 0 ||
            json_object_object_add(o, "file", json_object_new_string(path)) < 0 ||
            json_object_object_add(o, "removed", json_object_new_boolean(true)) < 0)
                return -ENOMEM;
        return cli_json_print(o);
}

static int run_cred_remove(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        _cleanup_(freep) char *path = NULL;
        struct cred_args a;
        const char *id;
        int r;

        r = cred_parse(cli, verb, argc, argv, false, &a);
        if (r != CLI_CONTINUE)
                return r;
        r = cli_check_args(verb->name, argc - optind, 1, 1);
        if (r != 0)
                return r;
        id = argv[optind];
        if (cred_id_check(verb->name, id) != 0)
                return EXIT_USAGE;
        path = cred_path(a.credstore, id);
        if (!path)
                return cli_error(verb->name, "out of memory");
        if (unlink(path) < 0) {
                if (errno == ENOENT)
                        return cli_error(verb->name, "no credential '%s' in %s", id, a.credstore);
                return cli_error(verb->name, "cannot remove %s: %s", path, strerror(errno));
        }
        if (cred_remove_print(cli, id, path) < 0 || fflush(stdout) != 0)
                return cli_error(verb->name, "cannot write the output");
        return EXIT_SUCCESS;
}

static const struct cli_verb verb_cred_remove = {
        .name = "credential remove",
        .args = "ID [--credstore=DIR]",
        .summary = "Remove the sealed credential ID",
        .options =
                "  --credstore=DIR           the credential store (default $SNPSEAL_CREDSTORE or\n"
                "                            " CLI_CREDSTORE_DEFAULT ")\n",
        .run = run_cred_remove,
};

/* ---------------------------------------------------------------- the group */

static const struct {
        const char *name;
        const struct cli_verb *verb;
} cred_verbs[] = {
        { "add",    &verb_cred_add },
        { "list",   &verb_cred_list },
        { "remove", &verb_cred_remove },
};

static int run_credential(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        if (argc < 2)
                return cli_usage_error(verb->name, "missing subcommand: add, list or remove");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                cli_verb_help(verb, stdout);
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < ELEMENTSOF(cred_verbs); i++)
                if (strcmp(argv[1], cred_verbs[i].name) == 0)
                        return cred_verbs[i].verb->run(cli, cred_verbs[i].verb, argc - 1, argv + 1);
        return cli_usage_error(verb->name, "unknown subcommand '%s': use add, list or remove", argv[1]);
}

const struct cli_verb cli_verb_credential = {
        .name = "credential",
        .args = "add|list|remove [ARGS...]",
        .summary = "Manage sealed credentials for systemd services (LoadCredential=)",
        .options =
                "  add ID [--credstore=DIR] [BINDING OPTIONS] [--force] < SECRET\n"
                "                            seal SECRET as credential ID; print the unit setting\n"
                "  list [--credstore=DIR]    list the credentials\n"
                "  remove ID [--credstore=DIR]\n"
                "                            remove credential ID\n"
                "\n"
                "  '" PROG " credential COMMAND --help' shows a command's options.\n",
        .run = run_credential,
};

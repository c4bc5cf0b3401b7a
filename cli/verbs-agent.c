/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal status, report, seal, unseal: thin clients of the agent's
 * GetStatus, GetReport, Seal and Unseal (docs/PROTOCOL.md).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cli.h"
#include "hexutil.h"
#include "json-util.h"
#include "json-values.h"
#include "purpose.h"
#include "sealed.h"
#include "secret.h"
#include "snp-decode.h"
#include "varlink.h"

#define NAME_WIDTH 20

_printf_(2, 3)
static void field(const char *name, const char *fmt, ...) {
        va_list ap;
        int pad = NAME_WIDTH - (int) strlen(name) - 1;

        printf("%s:%*s", name, pad > 1 ? pad : 1, "");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

static int flush_stdout(const char *verb) {
        if (fflush(stdout) != 0 || ferror(stdout))
                return cli_error(verb, "cannot write the output: %s", strerror(errno));
        return EXIT_SUCCESS;
}

/* ---------------------------------------------------------------- status */

/* Posture warnings, from the guest policy. */
static const struct {
        size_t offset;          /* a bool in struct snp_policy */
        bool when;              /* warn when the flag has this value */
        const char *text;
} policy_warnings[] = {
        { offsetof(struct snp_policy, debug), true,
          "debugging allowed (policy bit 19): the hypervisor can read this VM's memory" },
        { offsetof(struct snp_policy, migrate_ma), true,
          "migration agent allowed (policy bit 18): a migration agent can move this VM and its keys" },
        { offsetof(struct snp_policy, reserved_bit17), false,
          "malformed guest policy: reserved bit 17 is 0 (must be 1)" },
        { offsetof(struct snp_policy, smt), true,
          "SMT allowed (policy bit 16): informational; sibling threads may run other code" },
};

static bool status_is_simulator(json_object *st) {
        const char *backend = cli_json_str(st, "backend");

        return backend && strcmp(backend, "simulator") == 0;
}

static void status_warnings(json_object *st, uint64_t policy_raw) {
        struct snp_policy pol;
        unsigned n = 0;

        snp_policy_decode(policy_raw, &pol);
        puts("\nWarnings:");
        if (status_is_simulator(st)) {
                puts("  - running on the simulator: no hardware protection; for tests and demos only");
                n++;
        }
        for (size_t i = 0; i < ELEMENTSOF(policy_warnings); i++) {
                bool v = *(const bool *) ((const char *) &pol + policy_warnings[i].offset);

                if (v == policy_warnings[i].when) {
                        printf("  - %s\n", policy_warnings[i].text);
                        n++;
                }
        }
        if (n == 0)
                puts("  none");
}

/* The TCB layout the agent decoded the TCBs with. */
static enum snp_tcb_layout status_tcb_layout(json_object *st, bool *ret_assumed) {
        json_object *dec, *launch, *v;
        const char *name;

        *ret_assumed = true;
        if (json_object_object_get_ex(st, "tcb_decoded", &dec) &&
            json_object_object_get_ex(dec, "launch", &launch)) {
                if (json_object_object_get_ex(launch, "layout_assumed", &v))
                        *ret_assumed = json_object_get_boolean(v);
                name = cli_json_str(launch, "layout");
                if (name && strcmp(name, snp_tcb_layout_to_string(SNP_TCB_LAYOUT_TURIN)) == 0)
                        return SNP_TCB_LAYOUT_TURIN;
        }
        return SNP_TCB_LAYOUT_MILAN_GENOA;
}

static void status_tcbs(json_object *st) {
        static const char *const keys[] = { "launch_tcb", "committed_tcb", "current_tcb", "reported_tcb" };
        char text[SNP_DECODE_TEXT_MAX];
        bool assumed;
        enum snp_tcb_layout layout = status_tcb_layout(st, &assumed);
        uint64_t tcb;

        field("tcb_layout", "%s%s", snp_tcb_layout_to_string(layout), assumed ? " (assumed)" : "");
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *hex = cli_json_str(st, keys[i]);

                if (!hex || tcb_from_hex(hex, &tcb) < 0) {
                        field(keys[i], "(missing)");
                        continue;
                }
                if (snp_tcb_format(tcb, layout, text, sizeof(text)) < 0)
                        text[0] = '\0';
                field(keys[i], "%s (%s)", hex, text);
        }
}

#define SIMULATOR_BANNER \
        "*** SIMULATOR: this agent runs on the firmware simulator; keys have no hardware protection ***"

static void status_print(json_object *st) {
        char text[SNP_DECODE_TEXT_MAX];
        json_object *pi;
        uint64_t v, policy = 0;

        if (status_is_simulator(st))
                puts(SIMULATOR_BANNER);
        field("backend", "%s", cli_json_str(st, "backend") ?: "(missing)");
        if (cli_json_u64(st, "vmpl", &v) >= 0)
                field("vmpl", "%" PRIu64, v);
        field("measurement", "%s", cli_json_str(st, "measurement") ?: "(missing)");
        if (cli_json_u64(st, "policy", &policy) >= 0 && snp_policy_format(policy, text, sizeof(text)) >= 0)
                field("policy", "0x%016" PRIx64 " (%s)", policy, text);
        field("family_id", "%s", cli_json_str(st, "family_id") ?: "(missing)");
        field("image_id", "%s", cli_json_str(st, "image_id") ?: "(missing)");
        if (cli_json_u64(st, "guest_svn", &v) >= 0)
                field("guest_svn", "%" PRIu64, v);
        status_tcbs(st);
        if (json_object_object_get_ex(st, "platform_info", &pi) && cli_json_u64(pi, "raw", &v) >= 0 &&
            snp_platform_info_format(v, text, sizeof(text)) >= 0)
                field("platform_info", "0x%016" PRIx64 " (%s)", v, text);
        field("agent_version", "%s", cli_json_str(st, "version") ?: "(unknown)");
        status_warnings(st, policy);
}

static int run_status(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = { CLI_GLOBAL_OPTIONS, {} };
        _cleanup_(json_object_put_wipep) json_object *st = NULL;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0)
                if ((r = cli_common_option(cli, verb, c, argv)) != CLI_CONTINUE)
                        return r;
        r = cli_check_args(verb->name, argc - optind, 0, 0);
        if (r != 0)
                return r;
        if (cli_agent_call1(cli, verb->name, "GetStatus", NULL, &st) < 0)
                return EXIT_FAILURE;
        if (cli->json) {
                _cleanup_(json_object_putp) json_object *out = json_values_status(st);

                return !out || cli_json_print(out) < 0 ? cli_error(verb->name, "cannot write the output")
                                                       : EXIT_SUCCESS;
        }
        status_print(st);
        return flush_stdout(verb->name);
}

const struct cli_verb cli_verb_status = {
        .name = "status",
        .args = "",
        .summary = "Show the VM's identity and posture (policy, TCB, warnings)",
        .run = run_status,
};

/* ---------------------------------------------------------------- report */

struct report_args {
        const char *report_data;   /* 128 hex digits, or NULL */
        char report_data_hex[2 * SNP_REPORT_DATA_LEN + 1];
        bool vmpl_set;
        uint32_t vmpl;
        const char *raw;
};

enum { OPT_REPORT_DATA = CLI_OPT_VERB, OPT_REPORT_VMPL, OPT_RAW };

static int report_option(const char *verb, struct report_args *a, int c, const char *value) {
        uint8_t data[SNP_REPORT_DATA_LEN];

        switch (c) {
        case OPT_REPORT_DATA:
                if (cli_hex_decode_padded(value, data, sizeof(data)) < 0)
                        return cli_usage_error(verb, "invalid --report-data '%s': expected 1 to %u bytes in hex",
                                               value, SNP_REPORT_DATA_LEN);
                hex_encode(data, sizeof(data), a->report_data_hex);
                a->report_data = a->report_data_hex;
                return CLI_CONTINUE;
        case OPT_REPORT_VMPL:
                if (parse_u32(value, SNP_VMPL_MAX, &a->vmpl) < 0)
                        return cli_usage_error(verb, "invalid --vmpl '%s': expected 0..3", value);
                a->vmpl_set = true;
                return CLI_CONTINUE;
        case OPT_RAW:
                if (value[0] == '\0')
                        return cli_usage_error(verb, "--raw= needs a file name");
                a->raw = value;
                return CLI_CONTINUE;
        }
        return 0;
}

static int report_write_raw(const char *verb, const char *path, const struct snp_report *rep) {
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        int r;

        if (fd < 0) {
                r = -errno;
                cli_error(verb, "cannot create %s: %s", path, strerror(-r));
                return r;
        }
        r = cli_write_all(fd, rep, sizeof(*rep));
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r < 0)
                cli_error(verb, "cannot write %s: %s", path, strerror(-r));
        return r;
}

/* What the agent says about a report it bound to a caller other than root. */
struct report_binding {
        bool bound;
        uint64_t uid;
        char caller_data[2 * SNP_REPORT_DATA_LEN + 1];
};

/* Ask for a report and validate what came back; ret_binding may be NULL. */
static int report_get(const struct cli *cli, struct varlink_client *c, const char *verb,
                      const char *report_data, const uint32_t *vmpl, struct snp_report *ret,
                      struct report_binding *ret_binding) {
        _cleanup_(json_object_put_wipep) json_object *params = json_object_new_object(), *reply = NULL;
        uint8_t raw[SNP_REPORT_SIZE + 3];
        struct snp_error err = {};
        const char *b64;
        size_t n;
        int r;

        if (!params ||
            (report_data && json_object_object_add(params, "report_data", json_object_new_string(report_data)) < 0) ||
            (vmpl && json_object_object_add(params, "vmpl", json_object_new_int64(*vmpl)) < 0))
                return cli_error(verb, "out of memory"), -ENOMEM;
        r = cli_agent_call(cli, c, verb, "GetReport", params, &reply, NULL);
        if (r < 0)
                return r;
        b64 = cli_json_str(reply, "report");
        if (!b64 || base64_decode(b64, strlen(b64), raw, sizeof(raw), &n) < 0)
                return cli_error(verb, "the agent's reply carries no valid report"), -EBADMSG;
        r = snp_report_validate(raw, n, ret, &err);
        if (r < 0)
                return cli_error(verb, "the agent returned an invalid report: %s", err.message), r;
        if (ret_binding) {
                const char *cd = cli_json_str(reply, "caller_report_data");

                *ret_binding = (struct report_binding) {};
                if (cli_json_u64(reply, "bound_uid", &ret_binding->uid) >= 0 && cd &&
                    strlen(cd) == 2 * SNP_REPORT_DATA_LEN) {
                        ret_binding->bound = true;
                        memcpy(ret_binding->caller_data, cd, sizeof(ret_binding->caller_data));
                }
        }
        return 0;
}

/* A report bound to a user: say so, with what went into REPORT_DATA. */
static int report_binding_print(const struct report_binding *b, json_object *decoded) {
        if (!b->bound)
                return 0;
        if (decoded)
                return json_object_object_add(decoded, "bound_uid", json_object_new_int64((int64_t) b->uid)) < 0 ||
                       json_object_object_add(decoded, "caller_report_data",
                                              json_object_new_string(b->caller_data)) < 0 ? -ENOMEM : 0;
        fprintf(stderr, "snpseal report: not root: the agent bound uid %" PRIu64 " into REPORT_DATA "
                "(SHA-512 over a label, the uid and the report data given; see snpseal(1))\n", b->uid);
        return printf("bound_uid: %" PRIu64 "\ncaller_report_data: %s\n", b->uid, b->caller_data) < 0 ? -EIO : 0;
}

static int run_report(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "report-data", required_argument, NULL, OPT_REPORT_DATA },
                { "vmpl",        required_argument, NULL, OPT_REPORT_VMPL },
                { "raw",         required_argument, NULL, OPT_RAW },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        _cleanup_(json_object_putp) json_object *decoded = NULL, *out = NULL;
        _cleanup_(json_object_put_wipep) json_object *st = NULL;
        struct varlink_client *client = NULL;
        struct report_binding binding = {};
        struct report_args a = {};
        struct snp_report rep;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                r = report_option(verb->name, &a, c, optarg);
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        r = cli_check_args(verb->name, argc - optind, 0, 0);
        if (r != 0)
                return r;
        if (cli_agent_connect(cli, &client) < 0)
                return EXIT_FAILURE;
        /* The backend, for the same SIMULATOR banner as status. */
        r = cli_agent_call(cli, client, verb->name, "GetStatus", NULL, &st, NULL);
        if (r >= 0)
                r = report_get(cli, client, verb->name, a.report_data, a.vmpl_set ? &a.vmpl : NULL, &rep,
                               &binding);
        varlink_client_free(client);
        if (r < 0)
                return EXIT_FAILURE;
        if (a.raw && report_write_raw(verb->name, a.raw, &rep) < 0)
                return EXIT_FAILURE;
        if (!cli->json)
                return (status_is_simulator(st) && puts(SIMULATOR_BANNER) == EOF) ||
                       snp_report_format(&rep, stdout) < 0 || report_binding_print(&binding, NULL) < 0 ?
                       cli_error(verb->name, "cannot write the output") : EXIT_SUCCESS;
        decoded = snp_report_to_json(&rep);
        out = decoded ? json_values_report(decoded) : NULL;
        if (!out || report_binding_print(&binding, out) < 0 ||
            json_add(out, "backend", json_object_new_string(cli_json_str(st, "backend") ?: "unknown")) < 0 ||
            cli_json_print(out) < 0)
                return cli_error(verb->name, "cannot write the output");
        return EXIT_SUCCESS;
}

const struct cli_verb cli_verb_report = {
        .name = "report",
        .args = "[--report-data=HEX] [--vmpl=N] [--raw=FILE]",
        .summary = "Get and decode an attestation report",
        .options =
                "  --report-data=HEX         up to 64 bytes of caller data (zero-padded)\n"
                "  --vmpl=N                  request the report at VMPL N (default: the agent's)\n"
                "  --raw=FILE                also write the raw report (1184 bytes) to FILE\n",
        .run = run_report,
};

/* ---------------------------------------------------------------- binding and sealing */

void cli_binding_args_init(struct cli_binding_args *b) {
        *b = (struct cli_binding_args) {};
        snp_binding_spec_init_default(&b->spec);
}

int cli_binding_option(const char *verb, struct cli_binding_args *b, int c, const char *value) {
        static const struct {
                int id;
                const char *name;
        } names[] = {
                { CLI_OPT_BIND,         "bind" },
                { CLI_OPT_ROOT_KEY,     "root-key" },
                { CLI_OPT_BINDING_VMPL, "vmpl" },
                { CLI_OPT_GUEST_SVN,    "guest-svn" },
                { CLI_OPT_TCB,          "tcb" },
        };
        char err[256];

        if (c == CLI_OPT_FORCE) {
                b->force = true;
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                if (names[i].id != c)
                        continue;
                if (snp_binding_spec_set(&b->spec, names[i].name, value, err, sizeof(err)) < 0) {
                        cli_usage_error(verb, "%s", err);
                        return -EINVAL;
                }
                b->any = true;
                return 1;
        }
        return 0;
}

/* The agent's own VMPL, from GetStatus. */
static int agent_vmpl(const struct cli *cli, struct varlink_client *c, const char *verb, uint32_t *ret) {
        _cleanup_(json_object_put_wipep) json_object *st = NULL;
        uint64_t v;
        int r;

        r = cli_agent_call(cli, c, verb, "GetStatus", NULL, &st, NULL);
        if (r < 0)
                return r;
        if (cli_json_u64(st, "vmpl", &v) < 0 || v > SNP_VMPL_MAX)
                return cli_error(verb, "the agent's status carries no valid VMPL"), -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

int cli_binding_resolve(const struct cli *cli, struct varlink_client *c, const char *verb,
                        const struct cli_binding_args *b, json_object **ret_binding) {
        struct snp_report rep;
        struct snp_binding binding;
        json_object *o;
        uint32_t vmpl;
        char err[512];
        int r;

        if (!b->any) {
                *ret_binding = NULL;
                return 0;
        }
        r = agent_vmpl(cli, c, verb, &vmpl);
        if (r >= 0)
                r = report_get(cli, c, verb, NULL, NULL, &rep, NULL);
        if (r < 0)
                return r;
        r = snp_binding_resolve(&b->spec, &rep, vmpl, &binding, err, sizeof(err));
        if (r < 0)
                return cli_error(verb, "%s", err), r;
        o = snp_binding_to_json(&binding);
        if (!o)
                return cli_error(verb, "out of memory"), -ENOMEM;
        *ret_binding = o;
        return 0;
}

/* Seal's parameters; the data and password strings are wiped with them. */
static int seal_params(const char *purpose, json_object *binding, bool force, const char *data, size_t size,
                       const char *password, json_object **ret) {
        _cleanup_(json_object_put_wipep) json_object *p = json_object_new_object();
        _cleanup_secret_ char *b64 = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = cli_base64_encode(data, size, &b64);
        if (r < 0)
                return r;
        if (json_object_object_add(p, "purpose", json_object_new_string(purpose)) < 0 ||
            json_object_object_add(p, "data", json_object_new_string(b64)) < 0 ||
            (binding && json_object_object_add(p, "binding", json_object_get(binding)) < 0) ||
            (force && json_object_object_add(p, "force", json_object_new_boolean(true)) < 0) ||
            (password && json_object_object_add(p, "password", json_object_new_string(password)) < 0))
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

int cli_seal(const struct cli *cli, struct varlink_client *c, const char *verb, const char *purpose,
             json_object *binding, bool force, const char *data, size_t size, const char *password,
             char **ret_text) {
        _cleanup_(json_object_put_wipep) json_object *params = NULL, *reply = NULL;
        const char *text;
        char *dup;
        int r;

        r = seal_params(purpose, binding, force, data, size, password, &params);
        if (r < 0)
                return cli_error(verb, "%s", strerror(-r)), r;
        r = cli_agent_call(cli, c, verb, "Seal", params, &reply, NULL);
        if (r < 0)
                return r;
        text = cli_json_str(reply, "sealed");
        if (!text || !text[0])
                return cli_error(verb, "the agent's reply carries no sealed object"), -EBADMSG;
        dup = strdup(text);
        if (!dup)
                return cli_error(verb, "out of memory"), -ENOMEM;
        *ret_text = dup;
        return 0;
}

/* ---------------------------------------------------------------- seal */

struct password_args {
        bool ask;
        const char *file;
};

enum { OPT_PURPOSE = CLI_OPT_VERB, OPT_PASSWORD, OPT_PASSWORD_FILE, OPT_UNSEAL_FORCE };

static int password_option(const char *verb, struct password_args *a, int c, const char *value) {
        switch (c) {
        case OPT_PASSWORD:
                a->ask = true;
                return CLI_CONTINUE;
        case OPT_PASSWORD_FILE:
                if (value[0] == '\0')
                        return cli_usage_error(verb, "--password-file= needs a file name");
                a->file = value;
                return CLI_CONTINUE;
        }
        return 0;
}

static int password_args_check(const char *verb, const struct password_args *a) {
        if (a->ask && a->file)
                return cli_usage_error(verb, "--password and --password-file= exclude each other");
        return 0;
}

/* Read the sealed object to unseal; too large is an error of its own. */
static int read_input(const char *verb, size_t max, char **ret, size_t *ret_size) {
        int r = cli_read_capped(STDIN_FILENO, max, ret, ret_size);

        if (r == -EFBIG)
                cli_error(verb, "the input is larger than %zu bytes, the most a sealed object can be", max);
        else if (r < 0)
                cli_error(verb, "cannot read the input: %s", strerror(-r));
        return r;
}

static int seal_do(struct cli *cli, const char *verb, const char *purpose, const struct cli_binding_args *b,
                   const struct password_args *pa) {
        _cleanup_secret_ char *data = NULL, *pw = NULL;
        _cleanup_(json_object_putp) json_object *binding = NULL;
        _cleanup_(freep) char *text = NULL;
        struct varlink_client *client = NULL;
        char prompt[PURPOSE_MAX + 32];
        size_t size, pw_len;
        int r;

        (void) snprintf(prompt, sizeof(prompt), "Secret to seal (purpose %s)", purpose);
        if (cli_secret_input(verb, "the input", prompt, SEALED_DATA_MAX, &data, &size) < 0)
                return EXIT_FAILURE;
        if (size == 0)
                return cli_error(verb, "the input is empty: nothing to seal");
        if ((pa->ask || pa->file) && cli_password_get(verb, pa->file, true, &pw, &pw_len) < 0)
                return EXIT_FAILURE;
        if (cli_agent_connect(cli, &client) < 0)
                return EXIT_FAILURE;
        r = cli_binding_resolve(cli, client, verb, b, &binding);
        if (r >= 0)
                r = cli_seal(cli, client, verb, purpose, binding, b->force, data, size, pw, &text);
        varlink_client_free(client);
        if (r < 0)
                return EXIT_FAILURE;
        if (printf("%s\n", text) < 0)
                return cli_error(verb, "cannot write the output: %s", strerror(errno));
        return flush_stdout(verb);
}

static int run_seal(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "purpose",       required_argument, NULL, OPT_PURPOSE },
                { "password",      no_argument,       NULL, OPT_PASSWORD },
                { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
                CLI_BINDING_OPTIONS,
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct cli_binding_args b;
        struct password_args pa = {};
        const char *purpose = NULL;
        int c, r;

        cli_binding_args_init(&b);
        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                if (c == OPT_PURPOSE) {
                        purpose = optarg;
                        continue;
                }
                r = cli_binding_option(verb->name, &b, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                r = password_option(verb->name, &pa, c, optarg);
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        r = cli_check_args(verb->name, argc - optind, 0, 0);
        if (r == 0)
                r = password_args_check(verb->name, &pa);
        if (r != 0)
                return r;
        if (!purpose)
                return cli_usage_error(verb->name, "--purpose= is required (e.g. cred/ID or user/UID/NAME)");
        if (purpose_validate(purpose) < 0)
                return cli_usage_error(verb->name, "invalid purpose '%s': expected luks2, cred/ID or user/UID/NAME "
                                       "(at most %d characters of A-Z a-z 0-9 . _ @ : + -)", purpose, PURPOSE_MAX);
        return seal_do(cli, verb->name, purpose, &b, &pa);
}

const struct cli_verb cli_verb_seal = {
        .name = "seal",
        .args = "--purpose=PURPOSE [OPTIONS] < PLAINTEXT > SEALED",
        .summary = "Seal standard input to this VM; write the sealed object (JSON)",
        .options =
                "  --purpose=PURPOSE         luks2, cred/ID or user/UID/NAME (required)\n"
                CLI_BINDING_OPTIONS_HELP
                "  --password                add a password layer (asked twice on the terminal)\n"
                "  --password-file=FILE      add a password layer with the first line of FILE\n",
        .run = run_seal,
};

/* ---------------------------------------------------------------- unseal */

/* The password to send: asked for when the object has a password layer. */
static int unseal_password(const char *verb, const char *text, size_t len, const struct password_args *pa,
                           char **ret_pw) {
        _cleanup_(sealed_object_done) struct sealed_object o = {};
        char err[512];
        size_t pw_len;
        int r;

        r = sealed_parse(text, len, &o, err, sizeof(err));
        if (r < 0)
                return cli_error(verb, "the input is not a sealed object: %s", err), r;
        if (!pa->ask && !pa->file && !o.has_password) {
                *ret_pw = NULL;
                return 0;
        }
        return cli_password_get(verb, pa->file, false, ret_pw, &pw_len);
}

static int unseal_do(struct cli *cli, const char *verb, const struct password_args *pa) {
        _cleanup_(json_object_put_wipep) json_object *params = json_object_new_object(), *reply = NULL;
        _cleanup_secret_ char *text = NULL, *pw = NULL;
        _cleanup_secret_ uint8_t *data = NULL;
        const char *b64;
        size_t len, size;
        int r;

        if (!params)
                return cli_error(verb, "out of memory");
        if (read_input(verb, SEALED_TEXT_MAX, &text, &len) < 0)
                return EXIT_FAILURE;
        while (len > 0 && strchr(" \t\r\n", text[len - 1]))
                text[--len] = '\0';
        if (unseal_password(verb, text, len, pa, &pw) < 0)
                return EXIT_FAILURE;
        if (json_object_object_add(params, "sealed", json_object_new_string_len(text, (int) len)) < 0 ||
            (pw && json_object_object_add(params, "password", json_object_new_string(pw)) < 0))
                return cli_error(verb, "out of memory");
        if (cli_agent_call1(cli, verb, "Unseal", params, &reply) < 0)
                return EXIT_FAILURE;
        b64 = cli_json_str(reply, "data");
        if (!b64 || cli_base64_decode(b64, SEALED_DATA_MAX, &data, &size) < 0)
                return cli_error(verb, "the agent's reply carries no valid data");
        r = cli_write_all(STDOUT_FILENO, data, size);
        if (r < 0)
                return cli_error(verb, "cannot write the output: %s", strerror(-r));
        return EXIT_SUCCESS;
}

static int run_unseal(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "password",      no_argument,       NULL, OPT_PASSWORD },
                { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
                { "force",         no_argument,       NULL, OPT_UNSEAL_FORCE },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        struct password_args pa = {};
        bool force = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                if (c == OPT_UNSEAL_FORCE) {
                        force = true;
                        continue;
                }
                r = password_option(verb->name, &pa, c, optarg);
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE)
                        return r;
        }
        r = cli_check_args(verb->name, argc - optind, 0, 0);
        if (r == 0)
                r = password_args_check(verb->name, &pa);
        if (r != 0)
                return r;
        r = cli_json_refuse(cli, verb->name, "the plaintext");
        if (r != CLI_CONTINUE)
                return r;
        if (!force && isatty(STDOUT_FILENO))
                return cli_error(verb->name, "refusing to write the plaintext to a terminal; "
                                 "redirect the output or use --force");
        return unseal_do(cli, verb->name, &pa);
}

const struct cli_verb cli_verb_unseal = {
        .name = "unseal",
        .args = "[--password | --password-file=FILE] [--force] < SEALED > PLAINTEXT",
        .summary = "Unseal a sealed object from standard input; write the plaintext",
        .options =
                "  --password                ask for the password layer's password (asked\n"
                "                            anyway when the object has one)\n"
                "  --password-file=FILE      the password is the first line of FILE\n"
                "  --force                   write the plaintext even to a terminal\n",
        .run = run_unseal,
};

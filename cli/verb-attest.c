/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snpseal attest: evidence for a relying party (docs/ATTESTATION.md). Asks
 * the agent for a report through SNP_GET_EXT_REPORT with the caller's nonce
 * as REPORT_DATA (bound to the caller when it is not root) and the host's
 * certificate table, and writes one evidence file for snpseal verify.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base64.h"
#include "cli.h"
#include "hexutil.h"
#include "json-util.h"
#include "snp/evidence.h"
#include "snp/x509.h"
#include "verb-verify.h"

enum {
        OPT_NONCE = CLI_OPT_VERB,
        OPT_OUTPUT,
        OPT_VMPL,
};

struct attest_args {
        const char *nonce;
        const char *output;
        bool vmpl_set;
        uint32_t vmpl;
};

static int attest_option(const char *verb, struct attest_args *a, int c, const char *v) {
        uint8_t buf[SNP_REPORT_DATA_LEN];

        switch (c) {
        case OPT_NONCE:
                if (cli_hex_decode_padded(v, buf, sizeof(buf)) < 0)
                        return cli_usage_error(verb, "--nonce wants 1 to 64 bytes of hex"), -EINVAL;
                a->nonce = v;
                return 1;
        case OPT_OUTPUT:
                a->output = v;
                return 1;
        case OPT_VMPL:
                if (parse_u32(v, SNP_VMPL_MAX, &a->vmpl) < 0)
                        return cli_usage_error(verb, "--vmpl wants 0 to 3"), -EINVAL;
                a->vmpl_set = true;
                return 1;
        }
        return 0;
}

/* The host's certificates from the reply; one that does not parse is left
 * out with a warning (the relying party can still fetch from AMD). */
static int reply_certs(const char *verb, json_object *reply, STACK_OF(X509) *certs) {
        json_object *list;

        if (!json_object_object_get_ex(reply, "certificates", &list) || !json_object_is_type(list, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *item = json_object_array_get_idx(list, i);
                const char *kind = cli_json_str(item, "kind"), *b64 = cli_json_str(item, "der");
                _cleanup_(freep) uint8_t *der = NULL;
                char err[320], what[64];
                size_t n;

                if (!kind || !b64 || strcmp(kind, "crl") == 0)
                        continue;
                n = base64_decoded_max(strlen(b64));
                der = malloc(n + 1);
                if (!der)
                        return -ENOMEM;
                snprintf(what, sizeof(what), "the host's %s certificate", kind);
                if (base64_decode(b64, strlen(b64), der, n + 1, &n) < 0 ||
                    snp_certs_parse(der, n, certs, what, err, sizeof(err)) < 0)
                        fprintf(stderr, PROG " %s: %s does not parse; left out\n", verb, what);
        }
        return 0;
}

static int write_evidence(const char *verb, const char *path, const char *text) {
        _cleanup_(closep) int fd = -1;

        if (!path)
                return printf("%s\n", text) < 0 || fflush(stdout) != 0 ? cli_error(verb, "cannot write the output"),
                       -EIO : 0;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return cli_error(verb, "cannot write %s: %s", path, strerror(errno)), -errno;
        if (cli_write_all(fd, text, strlen(text)) < 0 || cli_write_all(fd, "\n", 1) < 0)
                return cli_error(verb, "cannot write %s: %s", path, strerror(errno)), -EIO;
        return 0;
}

static int attest_build(const char *verb, const struct attest_args *a, json_object *reply, char **ret_text) {
        _cleanup_x509_stack_ STACK_OF(X509) *certs = sk_X509_new_null();
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct snp_evidence e = {};
        const char *b64 = cli_json_str(reply, "report");
        uint64_t uid;
        size_t n;

        if (!certs)
                return cli_error(verb, "out of memory"), -ENOMEM;
        if (!b64 || base64_decode(b64, strlen(b64), e.report, sizeof(e.report), &n) < 0 || n != SNP_REPORT_SIZE)
                return cli_error(verb, "the agent's reply carries no valid report"), -EBADMSG;
        if (a->nonce) {
                n = strlen(a->nonce) / 2;
                if (hex_decode_exact(a->nonce, e.nonce, n) < 0)
                        return cli_error(verb, "bad nonce"), -EINVAL;
                e.has_nonce = true;
                e.nonce_len = n;
        }
        if (cli_json_u64(reply, "bound_uid", &uid) >= 0 && uid <= UINT32_MAX) {
                e.bound = true;
                e.bound_uid = (uint32_t) uid;
        }
        if (reply_certs(verb, reply, certs) < 0)
                return cli_error(verb, "out of memory"), -ENOMEM;
        o = snp_evidence_to_json(&e, certs);
        if (!o)
                return cli_error(verb, "cannot encode the evidence"), -ENOMEM;
        *ret_text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!*ret_text)
                return cli_error(verb, "out of memory"), -ENOMEM;
        if (e.bound)
                fprintf(stderr, PROG " %s: not root: the agent bound uid %" PRIu32 " into REPORT_DATA; a relying "
                        "party accepts it only with snpseal verify --bound-uid=%" PRIu32 "\n", verb, e.bound_uid,
                        e.bound_uid);
        if (sk_X509_num(certs) == 0)
                fprintf(stderr, PROG " %s: the host gave no certificates: the relying party gets them from AMD "
                        "(snpseal verify --fetch)\n", verb);
        return 0;
}

static int run_attest(struct cli *cli, const struct cli_verb *verb, int argc, char **argv) {
        static const struct option options[] = {
                { "nonce",  required_argument, NULL, OPT_NONCE },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "vmpl",   required_argument, NULL, OPT_VMPL },
                CLI_GLOBAL_OPTIONS,
                {}
        };
        _cleanup_(json_object_putp) json_object *reply = NULL, *params = NULL;
        _cleanup_(freep) char *text = NULL;
        struct attest_args a = {};
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, CLI_OPTSTRING, options, NULL)) >= 0) {
                r = attest_option(verb->name, &a, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r == 0)
                        r = cli_common_option(cli, verb, c, argv);
                if (r != CLI_CONTINUE && r != 1)
                        return r;
        }
        r = cli_check_args(verb->name, argc - optind, 0, 0);
        if (r != 0)
                return r;
        params = json_object_new_object();
        if (!params || json_add(params, "certificates", json_object_new_boolean(1)) < 0 ||
            (a.nonce && json_add(params, "report_data", json_object_new_string(a.nonce)) < 0) ||
            (a.vmpl_set && json_add(params, "vmpl", json_object_new_int64(a.vmpl)) < 0))
                return cli_error(verb->name, "out of memory");
        r = cli_agent_call1(cli, verb->name, "GetReport", params, &reply);
        if (r < 0)
                return EXIT_FAILURE;
        if (attest_build(verb->name, &a, reply, &text) < 0 || write_evidence(verb->name, a.output, text) < 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}

const struct cli_verb cli_verb_attest = {
        .name = "attest",
        .args = "[--nonce=HEX] [--output=FILE] [--vmpl=N]",
        .summary = "Write evidence (report and certificates) for a relying party",
        .options =
                "  --nonce=HEX               the relying party's nonce: up to 64 bytes, the\n"
                "                            report's REPORT_DATA (bound to you unless root)\n"
                "  --output=FILE             write the evidence to FILE (default stdout)\n"
                "  --vmpl=N                  request the report at VMPL N (default: the agent's)\n"
                "Check it anywhere with 'snpseal verify --nonce=HEX FILE'.\n",
        .run = run_attest,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snp_binding_spec_set(): the binding options of the CLI (--bind=,
 * --root-key=, --vmpl=, --guest-svn=, --tcb=) and the same settings from
 * configuration. Input: option NUL value [NUL option NUL value …]; a final
 * option without a value is passed a NULL value. Every spec that was set is
 * then resolved against a fixed running VM.
 * Invariants: a refused option leaves the spec unchanged and says why; a
 * resolved binding is valid, within what the VM may derive, and survives the
 * JSON round trip.
 */

#include <errno.h>
#include <string.h>

#include "binding.h"
#include "fuzz.h"
#include "json-util.h"
#include "macro.h"

#define FUZZ_OPTIONS_MAX 8
#define FUZZ_OWN_VMPL 1u
#define FUZZ_LAUNCH_SVN 2u

static bool binding_eq(const struct snp_binding *a, const struct snp_binding *b) {
        return a->root_key == b->root_key && a->fields == b->fields && a->vmpl == b->vmpl &&
               a->guest_svn == b->guest_svn && a->tcb_version == b->tcb_version;
}

static void check_resolved(const struct snp_binding_spec *s, const struct snp_report *vm) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        struct snp_binding b, b2;
        char err[256] = "";
        int r;

        r = snp_binding_resolve(s, vm, FUZZ_OWN_VMPL, &b, err, sizeof(err));
        if (r < 0) {
                FUZZ_CHECK(r == -ERANGE && err[0] != '\0');
                return;
        }
        FUZZ_CHECK(snp_binding_validate(&b, NULL, 0) == 0);
        FUZZ_CHECK(b.root_key == s->root_key && b.fields == s->fields);
        FUZZ_CHECK(b.vmpl >= FUZZ_OWN_VMPL && b.vmpl <= SNP_VMPL_MAX);
        FUZZ_CHECK(b.guest_svn <= FUZZ_LAUNCH_SVN);
        FUZZ_CHECK(snp_tcb_le(b.tcb_version, vm->committed_tcb));
        j = snp_binding_to_json(&b);
        FUZZ_CHECK(j);
        FUZZ_CHECK(snp_binding_from_json(j, &b2, err, sizeof(err)) == 0);
        FUZZ_CHECK(binding_eq(&b, &b2));
}

/* The next NUL-terminated piece of the input, copied (the last one need not
 * be terminated). NULL when the input is used up. */
static char *next_piece(const uint8_t **p, size_t *left) {
        const uint8_t *rest;
        size_t rest_size, n;
        char *s;

        if (*left == 0)
                return NULL;
        n = fuzz_split(*p, *left, &rest, &rest_size);
        s = strndup((const char *) *p, n);
        FUZZ_CHECK(s);
        *p = rest;
        *left = rest_size;
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct snp_report vm = {
                .version = 3,
                .guest_svn = FUZZ_LAUNCH_SVN,
                .launch_tcb = 0xd108000000000003u,      /* "03000000000008d1" */
                .committed_tcb = 0xd108000000000004u,
        };
        struct snp_binding_spec s, before;
        size_t left = size;
        bool any = false;

        snp_binding_spec_init_default(&s);
        for (unsigned i = 0; i < FUZZ_OPTIONS_MAX && left > 0; i++) {
                _cleanup_(freep) char *option = next_piece(&data, &left);
                _cleanup_(freep) char *value = next_piece(&data, &left);
                char err[256] = "";
                int r;

                memcpy(&before, &s, sizeof(s));
                r = snp_binding_spec_set(&s, option, value, err, sizeof(err));
                if (r < 0) {
                        FUZZ_CHECK(r == -EINVAL && err[0] != '\0');
                        FUZZ_CHECK(memcmp(&s, &before, sizeof(s)) == 0);
                        continue;
                }
                FUZZ_CHECK(value);
                any = true;
        }
        if (any)
                check_resolved(&s, &vm);
        return 0;
}

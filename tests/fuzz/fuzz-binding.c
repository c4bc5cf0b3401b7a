/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * snp_binding_from_json(): a binding arrives from clients (DeriveKey, Seal),
 * from LUKS2 token JSON and from sealed objects.
 * Invariants: an accepted binding is structurally valid, formats, and
 * survives to_json → from_json unchanged; a refusal says why.
 */

#include <errno.h>
#include <string.h>

#include "binding.h"
#include "fuzz.h"
#include "json-util.h"

static bool binding_eq(const struct snp_binding *a, const struct snp_binding *b) {
        return a->root_key == b->root_key && a->fields == b->fields && a->vmpl == b->vmpl &&
               a->guest_svn == b->guest_svn && a->tcb_version == b->tcb_version;
}

static void check_accepted(const struct snp_binding *b) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        struct snp_binding again = { 0 };
        struct snp_msg_key_req req;
        char err[512] = "", text[256];

        FUZZ_CHECK(snp_binding_validate(b, err, sizeof(err)) == 0);
        FUZZ_CHECK(snp_binding_format(b, text, sizeof(text)) > 0);
        FUZZ_CHECK(snp_binding_format(b, text, 8) == -ENOBUFS);
        snp_binding_to_key_req(b, &req);
        /* The floor holds whatever is forced. */
        FUZZ_CHECK((snp_binding_check_floor(b, err, sizeof(err)) == 0) ==
                   (snp_binding_check_persistent(b, false, true, err, sizeof(err)) == 0));
        (void) snp_binding_check_persistent(b, true, false, err, sizeof(err));
        j = snp_binding_to_json(b);
        FUZZ_CHECK(j);
        FUZZ_CHECK(snp_binding_from_json(j, &again, err, sizeof(err)) == 0);
        FUZZ_CHECK(binding_eq(b, &again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct snp_binding b = { 0 };
        char err[256] = "";
        int r;

        if (json_parse_bounded((const char *) data, size, JSON_DEPTH_MAX, &o, err, sizeof(err)) < 0)
                return 0;
        err[0] = '\0';
        r = snp_binding_from_json(o, &b, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                FUZZ_CHECK(strncmp(err, "binding: ", 9) == 0);
                return 0;
        }
        check_accepted(&b);
        return 0;
}

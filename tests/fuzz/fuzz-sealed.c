/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * sealed_parse(): sealed objects come from files (credstore, user secrets)
 * and from clients (Unseal). Accepted objects are then opened with a fixed
 * key, FUZZ_SEALED_KEY, which the seed corpus was sealed with, so the fuzzer
 * also reaches both layers of sealed_unseal().
 * Invariants: a refusal names the problem; an accepted object has a valid
 * purpose, binding and identity; opening it never succeeds unless it is
 * intact; sealing new data with its header fields gives an object that
 * parses to the same header and opens to that data; rewrapping from the VM
 * layer (the escrowed password key, no scrypt) succeeds exactly when the VM
 * layer verifies, and gives a password-less object holding the same data.
 */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "json-util.h"
#include "macro.h"
#include "purpose.h"
#include "sealed.h"
#include "secret.h"

/* The key and password the seed corpus was made with. */
#define FUZZ_SEALED_KEY_BYTE 0x42
#define FUZZ_SEALED_PASSWORD "fuzz-password"
/* Larger scrypt costs are skipped: they cost seconds and gigabytes. */
#define FUZZ_SCRYPT_MEM_MAX (8u * 1024u * 1024u)

static uint8_t key[32];

static bool same_json(json_object *a, json_object *b) {
        return strcmp(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
                      json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN)) == 0;
}

static bool binding_eq(const struct snp_binding *a, const struct snp_binding *b) {
        return a->root_key == b->root_key && a->fields == b->fields && a->vmpl == b->vmpl &&
               a->guest_svn == b->guest_svn && a->tcb_version == b->tcb_version;
}

static bool scrypt_cheap(const struct sealed_password_params *pw) {
        return pw->n <= FUZZ_SCRYPT_MEM_MAX / 128u / pw->r && pw->p <= 2;
}

/* Returns sealed_unseal()'s result without a password. */
static int check_unseal(const struct sealed_object *o) {
        _cleanup_secret_ void *data = NULL;
        size_t size = 0;
        int r, r0;

        r0 = r = sealed_unseal(o, key, NULL, 0, &data, &size);
        FUZZ_CHECK(r == -EBADMSG || (o->has_password ? r == -ENOKEY : r == 0));
        if (r == 0 || !o->has_password || r != -ENOKEY || !scrypt_cheap(&o->pw))
                return r0;
        r = sealed_unseal(o, key, "wrong", 5, &data, &size);
        FUZZ_CHECK(r == -EKEYREJECTED || r == -EBADMSG);
        r = sealed_unseal(o, key, FUZZ_SEALED_PASSWORD, strlen(FUZZ_SEALED_PASSWORD), &data, &size);
        FUZZ_CHECK(r == 0 || r == -EKEYREJECTED || r == -EBADMSG);
        return r0;
}

/* Rewrap from the VM layer to no password: no scrypt runs, so always tried. */
static void check_rewrap(const struct sealed_object *o, int unseal_result) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_secret_ void *data = NULL;
        struct sealed_object o2 = { 0 };
        char err[256] = "";
        size_t size = 0;
        int r;

        r = sealed_rewrap(o, key, key, NULL, 0, NULL, 0, &text);
        FUZZ_CHECK((r == 0) == (unseal_result != -EBADMSG));
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG && !text);
                return;
        }
        FUZZ_CHECK(sealed_parse(text, strlen(text), &o2, err, sizeof(err)) == 0);
        FUZZ_CHECK(!o2.has_password && strcmp(o->purpose, o2.purpose) == 0);
        FUZZ_CHECK(memcmp(o->salt, o2.salt, sizeof(o->salt)) == 0);
        FUZZ_CHECK(sealed_unseal(&o2, key, NULL, 0, &data, &size) == 0);
        FUZZ_CHECK(size == o->ciphertext_len - (o->has_password ? SEALED_ESCROW_LEN : 0));
        sealed_object_done(&o2);
}

/* Seal "fuzz" with the header of o, parse and open the result. */
static void check_reseal(const struct sealed_object *o) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_secret_ void *data = NULL;
        struct sealed_object o2 = { 0 };
        char err[256] = "";
        size_t size = 0;

        FUZZ_CHECK(sealed_seal(o->purpose, &o->binding, o->identity, o->salt, key, "fuzz", 4, NULL, 0,
                               &text) == 0);
        FUZZ_CHECK(sealed_parse(text, strlen(text), &o2, err, sizeof(err)) == 0);
        FUZZ_CHECK(strcmp(o->purpose, o2.purpose) == 0);
        FUZZ_CHECK(binding_eq(&o->binding, &o2.binding));
        FUZZ_CHECK(memcmp(o->salt, o2.salt, sizeof(o->salt)) == 0);
        FUZZ_CHECK(same_json(o->identity, o2.identity));
        FUZZ_CHECK(!o2.has_password);
        FUZZ_CHECK(sealed_unseal(&o2, key, NULL, 0, &data, &size) == 0);
        FUZZ_CHECK(size == 4 && memcmp(data, "fuzz", 4) == 0);
        sealed_object_done(&o2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct sealed_object o = { 0 };
        char err[256] = "";
        int r;

        if (key[0] == 0)
                memset(key, FUZZ_SEALED_KEY_BYTE, sizeof(key));
        r = sealed_parse((const char *) data, size, &o, err, sizeof(err));
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -EPROTONOSUPPORT);
                FUZZ_CHECK(err[0] != '\0');
                return 0;
        }
        FUZZ_CHECK(size <= SEALED_TEXT_MAX);
        FUZZ_CHECK(o.format == SEALED_FORMAT || o.format == SEALED_FORMAT_V1);
        FUZZ_CHECK(purpose_validate(o.purpose) == 0);
        FUZZ_CHECK(snp_binding_validate(&o.binding, NULL, 0) == 0);
        FUZZ_CHECK(json_object_is_type(o.identity, json_type_object));
        FUZZ_CHECK(!o.has_password || (o.pw.r >= 1 && o.pw.p >= 1));
        r = check_unseal(&o);
        check_rewrap(&o, r);
        check_reseal(&o);
        sealed_object_done(&o);
        return 0;
}

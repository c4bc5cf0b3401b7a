/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The varlink message parsers: varlink_call_parse() (the agent, on every
 * message a client sends) and varlink_reply_parse() (the clients: CLI, PAM
 * module, token plugin, on what the agent answers). The input is one message
 * without its NUL; both parsers see it.
 * Invariants: a refusal is -EBADMSG with a message; an accepted call has a
 * method and object parameters, and re-encodes to a message that parses to
 * the same call; the same for replies and errors.
 */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "json-util.h"
#include "secret.h"
#include "varlink.h"

static bool same_json(json_object *a, json_object *b) {
        return strcmp(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
                      json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN)) == 0;
}

/* Re-encoding may legitimately outgrow the cap ("/" becomes "\/"). */
static bool encode_ok(int r) {
        FUZZ_CHECK(r == 0 || r == -EMSGSIZE);
        return r == 0;
}

static void check_call(const char *msg, size_t len) {
        _cleanup_secret_ char *again = NULL;
        struct varlink_call c = { 0 }, c2 = { 0 };
        char err[256] = "";
        size_t again_len = 0;
        int r;

        r = varlink_call_parse(msg, len, &c, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0) {
                FUZZ_CHECK(err[0] != '\0');
                return;
        }
        FUZZ_CHECK(c.method && strchr(c.method, '.'));
        FUZZ_CHECK(json_object_is_type(c.parameters, json_type_object));
        if (encode_ok(varlink_encode_call(c.method, c.parameters, c.oneway, &again, &again_len))) {
                FUZZ_CHECK(again_len >= 1 && again_len <= VARLINK_MESSAGE_MAX && again[again_len - 1] == '\0');
                FUZZ_CHECK(strlen(again) == again_len - 1);
                FUZZ_CHECK(varlink_call_parse(again, again_len - 1, &c2, err, sizeof(err)) == 0);
                FUZZ_CHECK(strcmp(c.method, c2.method) == 0 && c.oneway == c2.oneway);
                FUZZ_CHECK(same_json(c.parameters, c2.parameters));
                varlink_call_done(&c2);
        }
        varlink_call_done(&c);
}

static int encode_reply(const struct varlink_reply *v, char **ret, size_t *ret_len) {
        if (v->error)
                return varlink_encode_error(v->error, v->parameters, ret, ret_len);
        return varlink_encode_reply(v->parameters, ret, ret_len);
}

static void check_reply(const char *msg, size_t len) {
        _cleanup_secret_ char *again = NULL;
        struct varlink_reply v = { 0 }, v2 = { 0 };
        char err[256] = "";
        size_t again_len = 0;
        int r;

        r = varlink_reply_parse(msg, len, &v, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0) {
                FUZZ_CHECK(err[0] != '\0');
                return;
        }
        FUZZ_CHECK(json_object_is_type(v.parameters, json_type_object));
        if (encode_ok(encode_reply(&v, &again, &again_len))) {
                FUZZ_CHECK(again_len >= 1 && again_len <= VARLINK_MESSAGE_MAX && again[again_len - 1] == '\0');
                FUZZ_CHECK(varlink_reply_parse(again, again_len - 1, &v2, err, sizeof(err)) == 0);
                FUZZ_CHECK(!v.error == !v2.error);
                FUZZ_CHECK(!v.error || strcmp(v.error, v2.error) == 0);
                FUZZ_CHECK(same_json(v.parameters, v2.parameters));
                varlink_reply_done(&v2);
        }
        varlink_reply_done(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_call((const char *) data, size);
        check_reply((const char *) data, size);
        return 0;
}

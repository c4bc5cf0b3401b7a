/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json-util.h"
#include "macro.h"
#include "token-json.h"

#define MEASUREMENT "69b5e1e161ffd9c9234b2eef782761a29d14044cdb143c2892091a4144a2506c0aaa511767ad64979a13011ed41caefc"
/* base64 of the 32 bytes 0x00..0x1f */
#define SALT_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const char valid_token[] =
        "{\"type\":\"snpseal\",\"keyslots\":[\"1\",\"4\"],\"snpseal_version\":1,"
        "\"snpseal_binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"policy\",\"tcb_version\"],"
        "\"vmpl\":0,\"guest_svn\":1,\"tcb_version\":\"03000000000008d1\"},"
        "\"snpseal_salt\":\"" SALT_B64 "\",\"snpseal_pin\":false,"
        "\"snpseal_identity\":{\"measurement\":\"" MEASUREMENT "\",\"policy\":\"0x30000\","
        "\"tcb\":\"03000000000008d1\"}}";

/* ---- helpers ---- */

/* valid_token with one member (top level, or "object.member") replaced by
 * the JSON text value, or removed when value is NULL. */
static char *token_with(const char *path, const char *value) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(valid_token);
        json_object *parent = o, *v = NULL;
        const char *dot = strchr(path, '.');
        char key[64];

        assert_non_null(o);
        if (dot) {
                (void) snprintf(key, sizeof(key), "%.*s", (int) (dot - path), path);
                assert_true(json_object_object_get_ex(o, key, &parent));
                path = dot + 1;
        }
        if (value) {
                v = json_tokener_parse(value);
                assert_true(v || strcmp(value, "null") == 0);
                assert_int_equal(json_object_object_add(parent, path, v), 0);
        } else
                json_object_object_del(parent, path);
        return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void assert_parse_fails(const char *json, int code, const char *message) {
        struct snpseal_token t = { .keyslot = 77 };
        char errbuf[512] = "";
        int r = token_json_parse(json, &t, errbuf, sizeof(errbuf));

        if (r != code || !strstr(errbuf, message))
                print_error("input %s\n  got %d \"%s\", expected %d \"%s\"\n", json, r, errbuf, code, message);
        assert_int_equal(r, code);
        assert_non_null(strstr(errbuf, message));
        /* ret is written only on success */
        assert_int_equal(t.keyslot, 77);
        assert_null(t.identity);
}

/* ---- accept/reject table ---- */

static const struct mutation {
        const char *path;
        const char *value;      /* NULL: remove */
        int code;               /* 0: accepted */
        const char *message;
} mutations[] = {
        /* forward compatibility: unknown members anywhere are ignored */
        { "snpseal_future",               "{\"x\":[1,2,3]}", 0, NULL },
        { "snpseal_binding.future",       "true",            0, NULL },
        { "snpseal_identity.future",      "\"x\"",           0, NULL },
        /* type */
        { "type",                         NULL,              -EINVAL, "missing \"type\"" },
        { "type",                         "null",            -EINVAL, "missing \"type\"" },
        { "type",                         "\"luks2-keyring\"", -EINVAL, "\"type\" must be \"snpseal\"" },
        { "type",                         "7",               -EINVAL, "\"type\" must be \"snpseal\"" },
        /* keyslots */
        { "keyslots",                     NULL,              -EINVAL, "missing \"keyslots\"" },
        { "keyslots",                     "\"1\"",           -EINVAL, "\"keyslots\" must be an array" },
        { "keyslots",                     "[1]",             -EINVAL, "\"keyslots\" must be an array of keyslot numbers" },
        { "keyslots",                     "[\"32\"]",        -EINVAL, "\"0\"..\"31\"" },
        { "keyslots",                     "[\"01\"]",        -EINVAL, "\"0\"..\"31\"" },
        { "keyslots",                     "[\"-1\"]",        -EINVAL, "\"0\"..\"31\"" },
        { "keyslots",                     "[\"\"]",          -EINVAL, "\"0\"..\"31\"" },
        { "keyslots",                     "[\"1\",null]",    -EINVAL, "\"0\"..\"31\"" },
        /* snpseal_version */
        { "snpseal_version",              NULL,              -EINVAL, "missing \"snpseal_version\"" },
        { "snpseal_version",              "\"1\"",           -EINVAL, "\"snpseal_version\" must be an integer" },
        { "snpseal_version",              "1.0",             -EINVAL, "\"snpseal_version\" must be an integer" },
        { "snpseal_version",              "0",               -EINVAL, "\"snpseal_version\" must be an integer" },
        { "snpseal_version",              "-1",              -EINVAL, "\"snpseal_version\" must be an integer" },
        { "snpseal_version",              "4294967296",      -EINVAL, "\"snpseal_version\" must be an integer" },
        { "snpseal_version",              "100000000000000000000000000", -EINVAL, "\"snpseal_version\" must be an integer" },
        { "snpseal_version",              "2",               -EPROTONOSUPPORT, "unsupported \"snpseal_version\" 2" },
        { "snpseal_version",              "99",              -EPROTONOSUPPORT, "update snpseal" },
        /* snpseal_binding */
        { "snpseal_binding",              NULL,              -EINVAL, "missing \"snpseal_binding\"" },
        { "snpseal_binding",              "[]",              -EINVAL, "\"snpseal_binding\": not a JSON object" },
        { "snpseal_binding.root_key",     "\"tpm\"",         -EINVAL, "\"snpseal_binding\": unknown root key" },
        { "snpseal_binding.root_key",     NULL,              -EINVAL, "\"snpseal_binding\": missing \"root_key\"" },
        { "snpseal_binding.fields",       "[\"bogus\"]",     -EINVAL, "unknown field \"bogus\"" },
        { "snpseal_binding.fields",       "\"measurement\"", -EINVAL, "\"fields\" must be an array" },
        { "snpseal_binding.vmpl",         "4",               -EINVAL, "\"vmpl\" must be an integer 0..3" },
        { "snpseal_binding.vmpl",         "100000000000000000000000000", -EINVAL, "\"vmpl\" must be an integer 0..3" },
        { "snpseal_binding.vmpl",         "\"0\"",           -EINVAL, "\"vmpl\" must be an integer 0..3" },
        { "snpseal_binding.guest_svn",    "4294967296",      -EINVAL, "\"guest_svn\" must be an integer" },
        { "snpseal_binding.guest_svn",    "-1",              -EINVAL, "\"guest_svn\" must be an integer" },
        { "snpseal_binding.tcb_version",  "\"03000000000008d\"", -EINVAL, "\"tcb_version\" must be a string of 16 hex digits" },
        { "snpseal_binding.tcb_version",  "3",               -EINVAL, "\"tcb_version\" must be a string of 16 hex digits" },
        /* snpseal_salt */
        { "snpseal_salt",                 NULL,              -EINVAL, "missing \"snpseal_salt\"" },
        { "snpseal_salt",                 "\"!!!!\"",        -EINVAL, "\"snpseal_salt\" must be base64 of 32 bytes" },
        { "snpseal_salt",                 "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"", -EINVAL, "\"snpseal_salt\" must be base64" },
        { "snpseal_salt",                 "\"AAECAwQFBgcICQoLDA0ODw==\"", -EINVAL, "\"snpseal_salt\" must be base64 of 32 bytes" },
        { "snpseal_salt",                 "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\"", -EINVAL, "\"snpseal_salt\" must be base64 of 32 bytes" },
        { "snpseal_salt",                 "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\"", -EINVAL, "\"snpseal_salt\" must be base64 of 32 bytes" },
        { "snpseal_salt",                 "32",              -EINVAL, "\"snpseal_salt\" must be base64 of 32 bytes" },
        /* snpseal_pin */
        { "snpseal_pin",                  NULL,              -EINVAL, "missing \"snpseal_pin\"" },
        { "snpseal_pin",                  "\"no\"",          -EINVAL, "\"snpseal_pin\" must be true or false" },
        { "snpseal_pin",                  "0",               -EINVAL, "\"snpseal_pin\" must be true or false" },
        /* snpseal_identity */
        { "snpseal_identity",             NULL,              -EINVAL, "missing \"snpseal_identity\"" },
        { "snpseal_identity",             "[]",              -EINVAL, "\"snpseal_identity\" must be an object" },
        { "snpseal_identity.measurement", NULL,              -EINVAL, "\"measurement\" is bound but not recorded" },
        { "snpseal_identity.measurement", "\"69B5\"",        -EINVAL, "\"measurement\" must be 96 lowercase hex digits" },
        { "snpseal_identity.policy",      "\"0x030000\"",    -EINVAL, "\"policy\" must be \"0x\" and 1 to 16" },
        { "snpseal_identity.policy",      "196608",          -EINVAL, "\"policy\" must be \"0x\"" },
        { "snpseal_identity.tcb",         NULL,              -EINVAL, "\"tcb\" is bound but not recorded" },
        { "snpseal_identity.guest_svn",   "\"1\"",           -EINVAL, "\"guest_svn\" must be an integer" },
        { "snpseal_identity.image_id",    "\"00\"",          -EINVAL, "\"image_id\" must be 32 lowercase hex digits" },
};

static void test_mutations(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(mutations); i++) {
                const struct mutation *m = &mutations[i];
                _cleanup_(freep) char *json = token_with(m->path, m->value);
                struct snpseal_token t;
                char errbuf[512] = "";
                int r;

                assert_non_null(json);
                if (m->code != 0) {
                        assert_parse_fails(json, m->code, m->message);
                        continue;
                }
                r = token_json_parse(json, &t, errbuf, sizeof(errbuf));
                if (r != 0)
                        print_error("input %s\n  got %d \"%s\"\n", json, r, errbuf);
                assert_int_equal(r, 0);
                token_json_done(&t);
        }
}

static void test_not_a_token(void **state) {
        _cleanup_(freep) char *big = malloc(SNPSEAL_TOKEN_JSON_MAX + 2);

        assert_parse_fails("{", -EINVAL, "not valid JSON");
        assert_parse_fails("{\"type\":\"snpseal\"} x", -EINVAL, "not valid JSON");
        assert_parse_fails("[]", -EINVAL, "not a JSON object");
        assert_parse_fails("\"snpseal\"", -EINVAL, "not a JSON object");
        assert_parse_fails("null", -EINVAL, "not a JSON object");
        assert_non_null(big);
        memset(big, ' ', SNPSEAL_TOKEN_JSON_MAX + 1);
        big[0] = '{';
        big[SNPSEAL_TOKEN_JSON_MAX] = '}';
        big[SNPSEAL_TOKEN_JSON_MAX + 1] = '\0';
        assert_parse_fails(big, -EINVAL, "larger than 16384 bytes");
        assert_parse_fails(NULL, -EINVAL, "no token JSON");
}

/* ---- accepted values ---- */

static void test_parse_valid(void **state) {
        struct snpseal_token t;
        json_object *v;
        char errbuf[256] = "";
        int r;

        r = token_json_parse(valid_token, &t, errbuf, sizeof(errbuf));
        assert_int_equal(r, 0);
        assert_int_equal(t.version, 1);
        assert_int_equal(t.binding.root_key, SNP_ROOT_KEY_VCEK);
        assert_int_equal(t.binding.fields, SNP_BINDING_DEFAULT_FIELDS);
        assert_int_equal(t.binding.vmpl, 0);
        assert_int_equal(t.binding.guest_svn, 1);
        assert_int_equal(t.binding.tcb_version, UINT64_C(0xd108000000000003));
        for (unsigned i = 0; i < SNPSEAL_TOKEN_SALT_LEN; i++)
                assert_int_equal(t.salt[i], i);
        assert_false(t.pin);
        assert_int_equal(t.keyslot, 1);
        assert_true(json_object_object_get_ex(t.identity, "measurement", &v));
        assert_string_equal(json_object_get_string(v), MEASUREMENT);
        token_json_done(&t);
        assert_null(t.identity);
        assert_int_equal(t.keyslot, -1);
        token_json_done(NULL);
}

static void test_parse_variants(void **state) {
        static const struct {
                const char *path, *value;
                int keyslot;
                bool pin;
        } cases[] = {
                { "keyslots",    "[]",            -1, false },
                { "keyslots",    "[\"0\"]",       0,  false },
                { "keyslots",    "[\"31\",\"2\"]", 31, false },
                { "snpseal_pin", "true",          1,  true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *json = token_with(cases[i].path, cases[i].value);
                struct snpseal_token t;

                assert_int_equal(token_json_parse(json, &t, NULL, 0), 0);
                assert_int_equal(t.keyslot, cases[i].keyslot);
                assert_int_equal(t.pin, cases[i].pin);
                token_json_done(&t);
        }
}

/* ---- build ---- */

static void test_build_round_trip(void **state) {
        struct snpseal_token t, back;
        _cleanup_(freep) char *json = NULL;
        json_object *ks;

        assert_int_equal(token_json_parse(valid_token, &t, NULL, 0), 0);
        t.pin = true;
        t.salt[0] = 0xff;
        assert_int_equal(token_json_build(&t, 7, &json), 0);
        assert_non_null(json);
        assert_non_null(strstr(json, "\"type\":\"snpseal\""));
        assert_non_null(strstr(json, "\"keyslots\":[\"7\"]"));
        assert_non_null(strstr(json, "\"snpseal_version\":1"));

        assert_int_equal(token_json_parse(json, &back, NULL, 0), 0);
        assert_int_equal(back.version, SNPSEAL_TOKEN_VERSION);
        assert_int_equal(back.keyslot, 7);
        assert_true(back.pin);
        assert_memory_equal(back.salt, t.salt, sizeof(t.salt));
        assert_memory_equal(&back.binding, &t.binding, sizeof(t.binding));
        assert_true(json_object_equal(back.identity, t.identity));
        token_json_done(&back);

        /* exactly one keyslot listed */
        {
                _cleanup_(json_object_putp) json_object *o = json_tokener_parse(json);

                assert_true(json_object_object_get_ex(o, "keyslots", &ks));
                assert_int_equal(json_object_array_length(ks), 1);
        }
        token_json_done(&t);
}

static void test_build_refuses(void **state) {
        struct snpseal_token t;
        json_object *saved;
        char *json = (char *) "untouched";

        assert_int_equal(token_json_parse(valid_token, &t, NULL, 0), 0);
        assert_int_equal(token_json_build(&t, -1, &json), -EINVAL);
        assert_int_equal(token_json_build(&t, 32, &json), -EINVAL);
        assert_int_equal(token_json_build(NULL, 1, &json), -EINVAL);

        /* an identity that does not record a bound field */
        json_object_object_del(t.identity, "measurement");
        assert_int_equal(token_json_build(&t, 1, &json), -EINVAL);

        saved = t.identity;
        t.identity = NULL;
        assert_int_equal(token_json_build(&t, 1, &json), -EINVAL);
        t.identity = saved;

        t.binding.vmpl = 4;
        assert_int_equal(token_json_build(&t, 1, &json), -EINVAL);
        assert_string_equal(json, "untouched");
        token_json_done(&t);
}

/* ---- dump ---- */

struct lines {
        char text[32][1024];
        size_t n;
};

static void collect(void *userdata, const char *text) {
        struct lines *l = userdata;

        assert_true(l->n < ELEMENTSOF(l->text));
        (void) snprintf(l->text[l->n++], sizeof(l->text[0]), "%s", text);
}

static const char *find_line(const struct lines *l, const char *label) {
        size_t len = strlen(label);

        for (size_t i = 0; i < l->n; i++)
                if (strncmp(l->text[i] + 1, label, len) == 0)
                        return l->text[i];
        return NULL;
}

static void test_dump(void **state) {
        static const struct {
                const char *label, *contains;
        } expected[] = {
                { "version:",       "1" },
                { "root key:",      "vcek" },
                { "bound fields:",  "policy, measurement, tcb_version" },
                { "VMPL:",          "0" },
                { "guest SVN:",     "1" },
                { "TCB:",           "03000000000008d1 (Milan/Genoa: boot_loader=3 tee=0 snp=8 microcode=209" },
                { "measurement:",   MEASUREMENT },
                { "policy:",        "0x30000 (ABI 0.0; SMT allowed" },
                { "committed TCB:", "03000000000008d1" },
                { "PIN:",           "not required" },
                { "header:",        "not authenticated (enrolled by snpseal 0.1; snpseal reseal adds it)" },
        };
        struct lines *l = calloc(1, sizeof(*l));
        struct snpseal_token t;

        assert_non_null(l);
        assert_int_equal(token_json_parse(valid_token, &t, NULL, 0), 0);
        assert_int_equal(token_json_dump(&t, collect, l), 0);
        assert_int_equal(l->n, ELEMENTSOF(expected));
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                const char *line = find_line(l, expected[i].label);

                if (!line || !strstr(line, expected[i].contains))
                        print_error("no line \"%s … %s\"\n", expected[i].label, expected[i].contains);
                assert_non_null(line);
                assert_int_equal(line[0], '\t');
                assert_non_null(strstr(line, expected[i].contains));
                /* values aligned in one column */
                assert_int_equal(strspn(line + 1 + strlen(expected[i].label), " ") + strlen(expected[i].label), 17);
        }
        assert_null(find_line(l, "image ID:"));

        /* a PIN token says so */
        t.pin = true;
        l->n = 0;
        assert_int_equal(token_json_dump(&t, collect, l), 0);
        assert_non_null(strstr(find_line(l, "PIN:"), "required"));
        assert_null(strstr(find_line(l, "PIN:"), "not required"));
        assert_int_equal(token_json_dump(&t, NULL, l), -EINVAL);
        token_json_done(&t);
        free(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mutations),
                cmocka_unit_test(test_not_a_token),
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_variants),
                cmocka_unit_test(test_build_round_trip),
                cmocka_unit_test(test_build_refuses),
                cmocka_unit_test(test_dump),
        };

        return cmocka_run_group_tests_name("token-json", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base64.h"
#include "json-util.h"
#include "macro.h"
#include "secret.h"
#include "varlink.h"

/* ---- base64 ---- */

static const struct {
        const char *plain, *encoded;
} b64_vectors[] = {   /* RFC 4648 §10 */
        { "",       "" },
        { "f",      "Zg==" },
        { "fo",     "Zm8=" },
        { "foo",    "Zm9v" },
        { "foob",   "Zm9vYg==" },
        { "fooba",  "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
};

static void test_base64_vectors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(b64_vectors); i++) {
                const char *p = b64_vectors[i].plain, *e = b64_vectors[i].encoded;
                char enc[16];
                uint8_t dec[16];
                size_t n = 99;

                assert_int_equal(base64_encoded_len(strlen(p)), strlen(e));
                assert_int_equal(base64_encode(p, strlen(p), enc, sizeof(enc)), (int) strlen(e));
                assert_string_equal(enc, e);
                assert_true(base64_decoded_max(strlen(e)) >= strlen(p));
                assert_int_equal(base64_decode(e, strlen(e), dec, sizeof(dec), &n), 0);
                assert_int_equal(n, strlen(p));
                assert_memory_equal(dec, p, n);
        }
}

static const struct {
        const char *in;
        size_t len;  /* 0: strlen */
        const char *what;
} b64_rejects[] = {
        { "Zg=",      0, "length not a multiple of 4" },
        { "Zm9vY",    0, "length not a multiple of 4" },
        { "Z",        0, "single character" },
        { "Zm9*",     0, "bad character" },
        { "Zm-v",     0, "url-safe alphabet" },
        { "Zm_v",     0, "url-safe alphabet" },
        { "Zm\x80v",  0, "high byte" },
        { "Zm9v\0AAA", 8, "NUL" },
        { "Zh==",     0, "non-canonical: unused bits set (two padding)" },
        { "Zm9=",     0, "non-canonical: unused bits set (one padding)" },
        { " Zg=",     0, "leading whitespace" },
        { "Zg==\n\n\n\n", 0, "trailing newlines" },
        { "Zm9v Zm9v", 0, "space inside" },
        { "Zg==Zg==", 0, "padding in the middle" },
        { "=Zg=",     0, "padding first" },
        { "Zg=a",     0, "padding before a character" },
        { "Z===",     0, "three padding characters" },
        { "====",     0, "only padding" },
};

static void test_base64_rejects(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(b64_rejects); i++) {
                size_t len = b64_rejects[i].len ? b64_rejects[i].len : strlen(b64_rejects[i].in);
                uint8_t out[16];
                size_t n = 77;

                memset(out, 0xaa, sizeof(out));
                print_message("# reject: %s\n", b64_rejects[i].what);
                assert_int_equal(base64_decode(b64_rejects[i].in, len, out, sizeof(out), &n), -EINVAL);
                assert_int_equal(n, 77);  /* untouched on failure */
        }
}

static void test_base64_partial_output_wiped(void **state) {
        uint8_t out[6];
        size_t n;

        /* The first group decodes fine, the second is bad: nothing of the
         * first may be left behind. */
        memset(out, 0xaa, sizeof(out));
        assert_int_equal(base64_decode("Zm9vYm*y", 8, out, sizeof(out), &n), -EINVAL);
        for (size_t i = 0; i < sizeof(out); i++)
                assert_int_equal(out[i], 0);
}

static void test_base64_buffer_too_small(void **state) {
        uint8_t out[6];
        char enc[9];
        size_t n;

        assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5, &n), -ENOBUFS);
        assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 4, &n), -ENOBUFS);
        assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 5, &n), 0);
        assert_int_equal(n, 5);
        assert_int_equal(base64_encode("foobar", 6, enc, 8), -ENOBUFS);   /* no room for the NUL */
        assert_int_equal(base64_encode("foobar", 6, enc, 9), 8);
        assert_int_equal(base64_encoded_len(SIZE_MAX), SIZE_MAX);
        assert_int_equal(base64_encoded_len(SIZE_MAX / 4 * 3 + 3), SIZE_MAX);
        assert_int_equal(base64_decoded_max(8), 6);
        assert_int_equal(base64_decoded_max(5), 6);
}

/* A plain table encoder to check the arithmetic one against, every byte value. */
static void ref_encode(const uint8_t *p, size_t n, char *out) {
        static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < n ? (uint32_t) p[i + 1] << 8 : 0) |
                             (i + 2 < n ? p[i + 2] : 0);

                out[o++] = t[v >> 18];
                out[o++] = t[(v >> 12) & 63];
                out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < n ? t[v & 63] : '=';
        }
        out[o] = '\0';
}

static void test_base64_all_bytes(void **state) {
        uint8_t data[258], dec[258];
        char enc[400], ref[400];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 7 + 3);
        for (size_t len = 0; len <= sizeof(data); len++) {
                size_t n;

                ref_encode(data, len, ref);
                assert_int_equal(base64_encode(data, len, enc, sizeof(enc)), (int) strlen(ref));
                assert_string_equal(enc, ref);
                assert_int_equal(base64_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
                assert_int_equal(n, len);
                assert_memory_equal(dec, data, len);
        }
}

/* ---- json_parse_bounded ---- */

static const struct {
        const char *text;
        json_type type;
} json_accepts[] = {
        { "{}",                                   json_type_object },
        { "[]",                                   json_type_array },
        { " {\"a\": [1, 2, {\"b\": null}]} \n",   json_type_object },
        { "123",                                  json_type_int },
        { "-0.5e-3",                              json_type_double },
        { "\"caf\\u00e9 caf\xc3\xa9 \xf0\x9f\x94\x91\"", json_type_string },
        { "true",                                 json_type_boolean },
        { "null",                                 json_type_null },
};

static void test_json_accepts(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(json_accepts); i++) {
                _cleanup_(json_object_put_wipep) json_object *o = NULL;
                char err[128] = "";

                assert_int_equal(json_parse_bounded(json_accepts[i].text, strlen(json_accepts[i].text),
                                                    JSON_DEPTH_MAX, &o, err, sizeof(err)), 0);
                assert_int_equal(json_object_get_type(o), json_accepts[i].type);
                assert_string_equal(err, "");
        }
}

static const struct {
        const char *text;
        size_t len;       /* 0: strlen */
        int depth;        /* 0: JSON_DEPTH_MAX */
        int code;
        const char *message;
} json_rejects[] = {
        { "{} x",               0, 0, -EBADMSG, "offset 3: unexpected character" },
        { "{}{}",               0, 0, -EBADMSG, "offset 2: unexpected character" },
        { "{} 1",               0, 0, -EBADMSG, "invalid JSON at offset" },
        { "{\"a\":\"x\0y\"}",   11, 0, -EBADMSG, "NUL byte at offset 7" },
        { "{}\0",               3, 0, -EBADMSG, "NUL byte at offset 2" },
        { "[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", 0, 0, -EBADMSG, "nesting too deep" },
        { "{\"a\":{\"b\":1}}",  0, 2, -EBADMSG, "nesting too deep" },
        { "\"\xff\"",           0, 0, -EBADMSG, "offset 1: invalid UTF-8" },
        { "\"\xc3\"",           0, 0, -EBADMSG, "invalid UTF-8" },
        { "\"\xc0\xaf\"",       0, 0, -EBADMSG, "invalid UTF-8" },    /* overlong */
        { "\"\xed\xa0\x80\"",   0, 0, -EBADMSG, "invalid UTF-8" },    /* surrogate */
        { "\"\xf4\x90\x80\x80\"", 0, 0, -EBADMSG, "invalid UTF-8" },  /* above U+10FFFF */
        { "[1 /* c */]",        0, 0, -EBADMSG, "offset 3: unexpected character" },
        { "// c\n{}",           0, 0, -EBADMSG, "offset 0: unexpected character" },
        { "{'a':1}",            0, 0, -EBADMSG, "offset 1: unexpected character" },
        { "['a']",              0, 0, -EBADMSG, "unexpected character" },
        { "[NaN]",              0, 0, -EBADMSG, "unexpected character" },
        { "[Infinity]",         0, 0, -EBADMSG, "unexpected character" },
        { "[1.]",               0, 0, -EBADMSG, "malformed number" },
        { "[01]",               0, 0, -EBADMSG, "malformed number" },
        { "[1e]",               0, 0, -EBADMSG, "malformed number" },
        { "[+1]",               0, 0, -EBADMSG, "unexpected character" },
        { "[truex]",            0, 0, -EBADMSG, "unexpected character" },
        { "[True]",             0, 0, -EBADMSG, "unexpected character" },
        { "\"a\tb\"",           0, 0, -EBADMSG, "control character in string" },
        { "\"\\x41\"",          0, 0, -EBADMSG, "invalid escape sequence" },
        { "\"\\u12g4\"",        0, 0, -EBADMSG, "invalid \\u escape" },
        { "\"abc",              0, 0, -EBADMSG, "unterminated string" },
        { "",                   0, 0, -EBADMSG, "empty text" },
        { " \n ",               0, 0, -EBADMSG, "empty text" },
        { "{\"a\":",            0, 0, -EBADMSG, "invalid JSON at offset 5" },
        { "[1,]",               0, 0, -EBADMSG, "offset 3: unexpected character" },
        { "{\"a\":1,}",         0, 0, -EBADMSG, "offset 7: unexpected character" },
        { "[,1]",               0, 0, -EBADMSG, "offset 1: unexpected character" },
        { "{,}",                0, 0, -EBADMSG, "offset 1: unexpected character" },
        { "{\"a\":}",           0, 0, -EBADMSG, "offset 5: unexpected character" },
        { "{\"a\"::1}",         0, 0, -EBADMSG, "offset 5: unexpected character" },
        { "[1,,2]",             0, 0, -EBADMSG, "offset 3: unexpected character" },
        { "[1 2]",              0, 0, -EBADMSG, "offset 3: unexpected character" },
        { "{\"a\":1 \"b\":2}", 0, 0, -EBADMSG, "offset 7: unexpected character" },
        { "{\"a\" 1}",          0, 0, -EBADMSG, "offset 5: unexpected character" },
};

static void test_json_rejects(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(json_rejects); i++) {
                size_t len = json_rejects[i].len ? json_rejects[i].len : strlen(json_rejects[i].text);
                int depth = json_rejects[i].depth ? json_rejects[i].depth : JSON_DEPTH_MAX;
                json_object *o = (json_object *) 0x1;
                char err[128] = "";

                assert_int_equal(json_parse_bounded(json_rejects[i].text, len, depth, &o, err, sizeof(err)),
                                 json_rejects[i].code);
                print_message("# %zu: %s\n", i, err);
                assert_non_null(strstr(err, json_rejects[i].message));
                assert_ptr_equal(o, (json_object *) 0x1);
        }
}

static void test_json_depth_limit(void **state) {
        char text[2 * 40 + 1];
        json_object *o;
        char err[128];

        /* json-c counts every level: 16 nested arrays need depth 16. */
        for (size_t depth = 1; depth <= 40; depth++) {
                memset(text, '[', depth);
                memset(text + depth, ']', depth);
                text[2 * depth] = '\0';
                if (depth <= JSON_DEPTH_MAX) {
                        assert_int_equal(json_parse_bounded(text, 2 * depth, JSON_DEPTH_MAX, &o, err, sizeof(err)), 0);
                        json_object_put(o);
                } else {
                        assert_int_equal(json_parse_bounded(text, 2 * depth, JSON_DEPTH_MAX, &o, err, sizeof(err)),
                                         -EBADMSG);
                        assert_non_null(strstr(err, "nesting too deep"));
                }
        }
}

/* ---- getters ---- */

enum getter { GET_STRING, GET_UINT, GET_BOOL, GET_OBJECT, GET_BASE64 };

static const char getters_json[] =
        "{\"s\":\"str\",\"n\":5,\"neg\":-1,\"big\":18446744073709551615,\"huge\":18446744073709551616,"
        "\"d\":1.5,\"b\":true,\"o\":{},\"nul\":null,\"z\":\"a\\u0000b\",\"k\":\"AAECAw==\",\"bad\":\"AAEC*w==\"}";

static const struct {
        enum getter kind;
        const char *key;
        uint64_t max;    /* GET_UINT; GET_BASE64: the size */
        int code;
        uint64_t value;  /* GET_UINT / GET_BOOL result */
} getters[] = {
        { GET_STRING, "s",       0, 0,       0 },
        { GET_STRING, "n",       0, -EINVAL, 0 },
        { GET_STRING, "missing", 0, -ENOENT, 0 },
        { GET_STRING, "nul",     0, -ENOENT, 0 },
        { GET_STRING, "z",       0, -EINVAL, 0 },   /* embedded NUL */
        { GET_UINT,   "n",       10, 0,      5 },
        { GET_UINT,   "n",       5, 0,       5 },
        { GET_UINT,   "n",       4, -ERANGE, 0 },
        { GET_UINT,   "neg",     10, -ERANGE, 0 },
        { GET_UINT,   "big",     UINT64_MAX, 0, UINT64_MAX },
        { GET_UINT,   "huge",    UINT64_MAX - 1, -ERANGE, 0 },
        { GET_UINT,   "d",       10, -EINVAL, 0 },
        { GET_UINT,   "s",       10, -EINVAL, 0 },
        { GET_UINT,   "b",       10, -EINVAL, 0 },
        { GET_UINT,   "missing", 10, -ENOENT, 0 },
        { GET_BOOL,   "b",       0, 0,       1 },
        { GET_BOOL,   "n",       0, -EINVAL, 0 },
        { GET_BOOL,   "nul",     0, -ENOENT, 0 },
        { GET_OBJECT, "o",       0, 0,       0 },
        { GET_OBJECT, "s",       0, -EINVAL, 0 },
        { GET_OBJECT, "missing", 0, -ENOENT, 0 },
        { GET_BASE64, "k",       4, 0,       0 },
        { GET_BASE64, "k",       3, -ERANGE, 0 },
        { GET_BASE64, "k",       5, -ERANGE, 0 },
        { GET_BASE64, "bad",     4, -EINVAL, 0 },
        { GET_BASE64, "s",       4, -EINVAL, 0 },
        { GET_BASE64, "n",       4, -EINVAL, 0 },
        { GET_BASE64, "missing", 4, -ENOENT, 0 },
};

static int run_getter(json_object *o, size_t i, uint64_t *ret_value, uint8_t out[static 8]) {
        const char *s = NULL;
        json_object *sub = NULL;
        bool b = false;
        int r = -EPERM;

        switch (getters[i].kind) {
        case GET_STRING:
                r = json_get_string(o, getters[i].key, &s);
                if (r == 0)
                        assert_string_equal(s, "str");
                break;
        case GET_UINT:
                r = json_get_uint(o, getters[i].key, getters[i].max, ret_value);
                break;
        case GET_BOOL:
                r = json_get_bool(o, getters[i].key, &b);
                *ret_value = b;
                break;
        case GET_OBJECT:
                r = json_get_object(o, getters[i].key, &sub);
                if (r == 0)
                        assert_true(json_object_is_type(sub, json_type_object));
                break;
        case GET_BASE64:
                r = json_get_base64_exact(o, getters[i].key, out, getters[i].max);
                break;
        }
        return r;
}

static void test_json_getters(void **state) {
        _cleanup_(json_object_put_wipep) json_object *o = NULL;
        json_object *arr = json_object_new_array();
        const char *s;
        char err[128];

        assert_int_equal(json_parse_bounded(getters_json, strlen(getters_json), JSON_DEPTH_MAX, &o, err, sizeof(err)), 0);
        for (size_t i = 0; i < ELEMENTSOF(getters); i++) {
                uint8_t out[8] = { 0 };
                uint64_t v = 12345;
                int r = run_getter(o, i, &v, out);

                print_message("# getter %zu (%s)\n", i, getters[i].key);
                assert_int_equal(r, getters[i].code);
                if (r == 0 && (getters[i].kind == GET_UINT || getters[i].kind == GET_BOOL))
                        assert_true(v == getters[i].value);
                if (getters[i].kind == GET_UINT && r < 0)
                        assert_true(v == 12345);  /* written only on success */
                if (getters[i].kind == GET_BASE64)
                        assert_memory_equal(out, r == 0 ? "\0\1\2\3\0\0\0\0" : "\0\0\0\0\0\0\0\0", 8);
        }
        /* Not an object at all. */
        assert_int_equal(json_get_string(arr, "s", &s), -EINVAL);
        json_object_put(arr);
}

static void test_json_to_string_dup(void **state) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_(freep) char *s = NULL;
        size_t len;

        assert_int_equal(json_object_object_add(o, "a", json_object_new_string("x/y")), 0);
        assert_int_equal(json_object_object_add(o, "n", json_object_new_int(1)), 0);
        assert_int_equal(json_to_string_dup(o, &s, &len), 0);
        assert_string_equal(s, "{\"a\":\"x/y\",\"n\":1}");
        assert_int_equal(len, strlen(s));
}

/* ---- json_object_put_wipe ---- */

static void test_json_put_wipe_shared(void **state) {
        static const char text[] = "{\"p\":{\"secret\":\"hunter2\",\"list\":[\"a\",\"b\"]},\"x\":\"y\"}";
        json_object *o, *p, *secret, *copy = NULL;
        const char *s;
        char err[128];

        assert_int_equal(json_parse_bounded(text, strlen(text), JSON_DEPTH_MAX, &o, err, sizeof(err)), 0);
        assert_int_equal(json_get_object(o, "p", &p), 0);
        json_object_get(p);
        json_object_put_wipe(o);

        /* The part still referenced is untouched and carries no hook any more. */
        assert_int_equal(json_get_string(p, "secret", &s), 0);
        assert_string_equal(s, "hunter2");
        assert_true(json_object_object_get_ex(p, "secret", &secret));
        assert_null(json_object_get_userdata(secret));
        assert_int_equal(json_object_deep_copy(p, &copy, NULL), 0);
        assert_true(json_object_equal(p, copy));
        json_object_put_wipe(copy);
        json_object_put_wipe(p);
        json_object_put_wipe(NULL);
}

static void test_json_put_wipe_same_string_twice(void **state) {
        json_object *a = json_object_new_array(), *s = json_object_new_string("twice");
        json_object *keep = json_object_new_string("kept");

        assert_int_equal(json_object_array_add(a, s), 0);
        assert_int_equal(json_object_array_add(a, json_object_get(s)), 0);
        assert_int_equal(json_object_array_add(a, json_object_get(keep)), 0);
        json_object_put_wipe(a);
        assert_string_equal(json_object_get_string(keep), "kept");
        assert_null(json_object_get_userdata(keep));
        json_object_put(keep);
}

static void test_json_put_wipe_foreign_userdata(void **state) {
        json_object *a = json_object_new_array(), *s = json_object_new_string("other");
        static char tag;

        json_object_set_userdata(s, &tag, NULL);
        assert_int_equal(json_object_array_add(a, json_object_get(s)), 0);
        json_object_put_wipe(a);
        assert_ptr_equal(json_object_get_userdata(s), &tag);
        assert_string_equal(json_object_get_string(s), "other");
        json_object_put(s);
}

/* ---- varlink_call_parse ---- */

static const struct {
        const char *msg;
        const char *method;
        bool oneway, more;
        const char *parameters;
} call_accepts[] = {
        { "{\"method\":\"io.snpseal.Agent.GetStatus\"}", "io.snpseal.Agent.GetStatus", false, false, "{}" },
        { "{\"method\":\"io.snpseal.Agent.DeriveKey\",\"parameters\":{\"salt\":\"AA==\",\"purpose\":\"luks/x\"},\"more\":false}",
          "io.snpseal.Agent.DeriveKey", false, false, "{\"salt\":\"AA==\",\"purpose\":\"luks/x\"}" },
        { "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{},\"oneway\":true,\"more\":true,\"upgrade\":false}",
          "org.varlink.service.GetInfo", true, true, "{}" },
        { "{\"parameters\":null,\"method\":\"a.b.C\"}", "a.b.C", false, false, "{}" },
        { " {\"method\" : \"x-y.z9.M1\", \"oneway\": null} ", "x-y.z9.M1", false, false, "{}" },
};

static void test_call_accepts(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(call_accepts); i++) {
                _cleanup_(json_object_putp) json_object *want = json_tokener_parse(call_accepts[i].parameters);
                struct varlink_call c;
                char err[256] = "";

                assert_int_equal(varlink_call_parse(call_accepts[i].msg, strlen(call_accepts[i].msg), &c,
                                                    err, sizeof(err)), 0);
                assert_string_equal(c.method, call_accepts[i].method);
                assert_int_equal(c.oneway, call_accepts[i].oneway);
                assert_int_equal(c.more, call_accepts[i].more);
                assert_non_null(c.parameters);
                assert_true(json_object_equal(c.parameters, want));
                varlink_call_done(&c);
                assert_null(c.method);
                assert_null(c.parameters);
        }
}

static const struct {
        const char *msg;
        const char *message;
} call_rejects[] = {
        { "[]",                                          "not a JSON object" },
        { "\"io.snpseal.Agent.GetStatus\"",              "not a JSON object" },
        { "null",                                        "not a JSON object" },
        { "{}",                                          "\"method\" missing" },
        { "{\"method\":null}",                           "\"method\" missing" },
        { "{\"parameters\":{}}",                         "\"method\" missing" },
        { "{\"method\":\"GetStatus\"}",                  "must be \"interface.Name\", not \"GetStatus\"" },
        { "{\"method\":\"snpseal.GetStatus\"}",          "must be \"interface.Name\"" },
        { "{\"method\":\"io.snpseal.Agent.getStatus\"}", "must be \"interface.Name\"" },
        { "{\"method\":\"io.snpseal.Agent.\"}",          "must be \"interface.Name\"" },
        { "{\"method\":\"io.snpseal.Agent.Get-Status\"}", "must be \"interface.Name\"" },
        { "{\"method\":\".io.snpseal.X\"}",              "must be \"interface.Name\"" },
        { "{\"method\":\"io..snpseal.X\"}",              "must be \"interface.Name\"" },
        { "{\"method\":\"io.-a.X\"}",                    "must be \"interface.Name\"" },
        { "{\"method\":\"9io.a.X\"}",                    "must be \"interface.Name\"" },
        { "{\"method\":\"io.a b.X\"}",                   "must be \"interface.Name\"" },
        { "{\"method\":42}",                             "\"method\" must be a string" },
        { "{\"method\":\"a.b.C\\u0000x\"}",              "\"method\" must be a string" },
        { "{\"method\":\"a.b.C\",\"parameters\":[]}",    "\"parameters\" must be an object" },
        { "{\"method\":\"a.b.C\",\"parameters\":\"x\"}", "\"parameters\" must be an object" },
        { "{\"method\":\"a.b.C\",\"oneway\":\"yes\"}",   "\"oneway\" must be a boolean" },
        { "{\"method\":\"a.b.C\",\"more\":1}",           "\"more\" must be a boolean" },
        { "{\"method\":\"a.b.C\",\"upgrade\":true}",     "\"upgrade\" is not supported" },
        { "{\"method\":\"a.b.C\",\"extra\":1}",          "unknown key \"extra\"" },
        { "{\"method\":\"a.b.C\",\"error\":\"a.b.E\"}",  "unknown key \"error\"" },
        { "{\"method\":\"a.b.C\"",                       "varlink message: invalid JSON" },
        { "{\"method\":\"a.b.C\"} x",                    "unexpected character" },
        { "{\"method\":\"a.b.C\",\"parameters\":{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}}", "nesting too deep" },
        { "garbage",                                     "unexpected character" },
};

static void test_call_rejects(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(call_rejects); i++) {
                struct varlink_call c = { .method = (char *) "untouched" };
                char err[256] = "";

                assert_int_equal(varlink_call_parse(call_rejects[i].msg, strlen(call_rejects[i].msg), &c,
                                                    err, sizeof(err)), -EBADMSG);
                print_message("# %zu: %s\n", i, err);
                assert_non_null(strstr(err, call_rejects[i].message));
                assert_string_equal(c.method, "untouched");
        }
}

static void test_call_too_large(void **state) {
        _cleanup_(freep) char *msg = malloc(VARLINK_MESSAGE_MAX + 1);
        struct varlink_call c;
        char err[256] = "";
        int n;

        assert_non_null(msg);
        /* A valid call of exactly VARLINK_MESSAGE_MAX bytes: one too many with the NUL. */
        n = snprintf(msg, VARLINK_MESSAGE_MAX, "{\"method\":\"a.b.C\",\"parameters\":{\"d\":\"");
        memset(msg + n, 'a', VARLINK_MESSAGE_MAX - n - 3);
        memcpy(msg + VARLINK_MESSAGE_MAX - 3, "\"}}", 4);
        assert_int_equal(strlen(msg), VARLINK_MESSAGE_MAX);
        assert_int_equal(varlink_call_parse(msg, VARLINK_MESSAGE_MAX, &c, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "varlink message too large"));
        /* One byte less fits. */
        memcpy(msg + VARLINK_MESSAGE_MAX - 4, "\"}}", 4);
        assert_int_equal(varlink_call_parse(msg, VARLINK_MESSAGE_MAX - 1, &c, err, sizeof(err)), 0);
        varlink_call_done(&c);
}

/* ---- varlink_reply_parse ---- */

static const struct {
        const char *msg;
        const char *error;     /* NULL: a reply */
        bool continues;
        const char *parameters;
} reply_accepts[] = {
        { "{\"parameters\":{\"a\":1}}", NULL, false, "{\"a\":1}" },
        { "{\"parameters\":{},\"continues\":true}", NULL, true, "{}" },
        { "{}", NULL, false, "{}" },
        { "{\"error\":\"io.snpseal.Agent.NotPermitted\",\"parameters\":{\"reason\":\"uid 1000\"}}",
          "io.snpseal.Agent.NotPermitted", false, "{\"reason\":\"uid 1000\"}" },
        { "{\"error\":\"org.varlink.service.MethodNotFound\"}", VARLINK_ERROR_METHOD_NOT_FOUND, false, "{}" },
};

static void test_reply_accepts(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(reply_accepts); i++) {
                _cleanup_(json_object_putp) json_object *want = json_tokener_parse(reply_accepts[i].parameters);
                struct varlink_reply r;
                char err[256] = "";

                assert_int_equal(varlink_reply_parse(reply_accepts[i].msg, strlen(reply_accepts[i].msg), &r,
                                                     err, sizeof(err)), 0);
                if (reply_accepts[i].error)
                        assert_string_equal(r.error, reply_accepts[i].error);
                else
                        assert_null(r.error);
                assert_int_equal(r.continues, reply_accepts[i].continues);
                assert_true(json_object_equal(r.parameters, want));
                varlink_reply_done(&r);
        }
}

static const struct {
        const char *msg;
        const char *message;
} reply_rejects[] = {
        { "[1]",                              "not a JSON object" },
        { "{\"error\":5}",                    "\"error\" must be a string" },
        { "{\"error\":\"NotPermitted\"}",     "must be \"interface.Name\", not \"NotPermitted\"" },
        { "{\"continues\":\"no\"}",           "\"continues\" must be a boolean" },
        { "{\"parameters\":1}",               "\"parameters\" must be an object" },
        { "{\"method\":\"a.b.C\"}",           "unknown key \"method\"" },
        { "{\"parameters\":{}",               "invalid JSON" },
};

static void test_reply_rejects(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(reply_rejects); i++) {
                struct varlink_reply r = { .error = (char *) "untouched" };
                char err[256] = "";

                assert_int_equal(varlink_reply_parse(reply_rejects[i].msg, strlen(reply_rejects[i].msg), &r,
                                                     err, sizeof(err)), -EBADMSG);
                print_message("# %zu: %s\n", i, err);
                assert_non_null(strstr(err, reply_rejects[i].message));
                assert_string_equal(r.error, "untouched");
        }
}

/* ---- encoders ---- */

static json_object *params_new(void) {
        json_object *p = json_object_new_object();

        assert_non_null(p);
        assert_int_equal(json_object_object_add(p, "password", json_object_new_string("hunter2/x")), 0);
        assert_int_equal(json_object_object_add(p, "n", json_object_new_int(7)), 0);
        return p;
}

static void assert_framed(const char *msg, size_t len) {
        assert_true(len >= 3);
        assert_int_equal(msg[len - 1], '\0');
        assert_int_equal(strlen(msg), len - 1);
        assert_true(secret_size(msg) >= len);   /* secret memory */
}

static void test_encode_call_roundtrip(void **state) {
        _cleanup_(json_object_putp) json_object *p = params_new();
        _cleanup_secret_ char *msg = NULL;
        struct varlink_call c;
        char err[256];
        size_t len;

        assert_int_equal(varlink_encode_call("io.snpseal.Agent.Seal", p, true, &msg, &len), 0);
        assert_framed(msg, len);
        assert_string_equal(msg, "{\"method\":\"io.snpseal.Agent.Seal\",\"parameters\":"
                                 "{\"password\":\"hunter2/x\",\"n\":7},\"oneway\":true}");
        assert_int_equal(varlink_call_parse(msg, len - 1, &c, err, sizeof(err)), 0);
        assert_string_equal(c.method, "io.snpseal.Agent.Seal");
        assert_true(c.oneway);
        assert_false(c.more);
        assert_true(json_object_equal(c.parameters, p));
        varlink_call_done(&c);
        /* The caller's parameters are still intact after encoding. */
        assert_string_equal(json_object_get_string(json_object_object_get(p, "password")), "hunter2/x");
}

static void test_encode_reply_error_roundtrip(void **state) {
        _cleanup_(json_object_putp) json_object *p = params_new();
        _cleanup_secret_ char *reply = NULL, *error = NULL, *empty = NULL;
        struct varlink_reply r;
        char err[256];
        size_t len;

        assert_int_equal(varlink_encode_reply(p, &reply, &len), 0);
        assert_framed(reply, len);
        assert_int_equal(varlink_reply_parse(reply, len - 1, &r, err, sizeof(err)), 0);
        assert_null(r.error);
        assert_true(json_object_equal(r.parameters, p));
        varlink_reply_done(&r);

        assert_int_equal(varlink_encode_error("io.snpseal.Agent.WrongPassword", p, &error, &len), 0);
        assert_framed(error, len);
        assert_int_equal(varlink_reply_parse(error, len - 1, &r, err, sizeof(err)), 0);
        assert_string_equal(r.error, "io.snpseal.Agent.WrongPassword");
        assert_true(json_object_equal(r.parameters, p));
        varlink_reply_done(&r);

        assert_int_equal(varlink_encode_call("a.b.C", NULL, false, &empty, &len), 0);
        assert_string_equal(empty, "{\"method\":\"a.b.C\",\"parameters\":{}}");
        assert_int_equal(len, strlen(empty) + 1);
}

static void test_encode_rejects(void **state) {
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
        char *msg = (char *) "untouched";
        size_t len = 99;

        assert_int_equal(varlink_encode_call("GetStatus", NULL, false, &msg, &len), -EINVAL);
        assert_int_equal(varlink_encode_error("NotPermitted", NULL, &msg, &len), -EINVAL);
        assert_int_equal(varlink_encode_reply(arr, &msg, &len), -EINVAL);
        assert_string_equal(msg, "untouched");
        assert_int_equal(len, 99);
}

static void test_encode_size_cap(void **state) {
        /* {"parameters":{"d":"…"}} is 23 bytes around the string. */
        size_t fits = VARLINK_MESSAGE_MAX - 1 - 23;
        _cleanup_(freep) char *big = malloc(fits + 2);
        _cleanup_secret_ char *msg = NULL;
        size_t len;

        assert_non_null(big);
        for (int extra = 0; extra <= 1; extra++) {
                _cleanup_(json_object_putp) json_object *p = json_object_new_object();

                memset(big, 'a', fits + extra);
                big[fits + extra] = '\0';
                assert_int_equal(json_object_object_add(p, "d", json_object_new_string(big)), 0);
                if (extra == 0) {
                        assert_int_equal(varlink_encode_reply(p, &msg, &len), 0);
                        assert_int_equal(len, VARLINK_MESSAGE_MAX);
                        assert_framed(msg, len);
                } else
                        assert_int_equal(varlink_encode_reply(p, &msg, &len), -EMSGSIZE);
        }
}

/* ---- framing ---- */

/* Also used by server threads: no cmocka assertions in here. */
static int write_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

                if (k <= 0)
                        return -errno;
                p = (const char *) p + k;
                n -= (size_t) k;
        }
        return 0;
}

static void test_rbuf_two_messages_one_write(void **state) {
        static const char stream[] = "{\"a\":1}\0{\"b\":2}";   /* plus the literal's NUL */
        struct varlink_rbuf b;
        const char *m;
        size_t n;
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(varlink_rbuf_init(&b), 0);
        assert_int_equal(varlink_rbuf_next(&b, &m, &n), 0);
        assert_int_equal(write_all(sv[1], stream, sizeof(stream)), 0);
        assert_int_equal(varlink_rbuf_read(&b, sv[0]), (int) sizeof(stream));
        assert_int_equal(varlink_rbuf_next(&b, &m, &n), 1);
        assert_int_equal(n, 7);
        assert_memory_equal(m, "{\"a\":1}", 8);
        varlink_rbuf_consume(&b, n + 1);
        assert_int_equal(varlink_rbuf_next(&b, &m, &n), 1);
        assert_int_equal(n, 7);
        assert_memory_equal(m, "{\"b\":2}", 8);
        varlink_rbuf_consume(&b, n + 1);
        assert_int_equal(b.len, 0);
        assert_int_equal(varlink_rbuf_next(&b, &m, &n), 0);
        /* Consumed bytes are wiped. */
        for (size_t i = 0; i < sizeof(stream); i++)
                assert_int_equal(b.data[i], 0);

        /* EOF, and EAGAIN on a non-blocking socket without data. */
        assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(varlink_rbuf_read(&b, sv[0]), -EAGAIN);
        close(sv[1]);
        assert_int_equal(varlink_rbuf_read(&b, sv[0]), 0);
        close(sv[0]);
        varlink_rbuf_done(&b);
        assert_null(b.data);
}

static void test_rbuf_byte_by_byte(void **state) {
        static const char msg[] = "{\"method\":\"a.b.C\"}";
        struct varlink_rbuf b;
        struct varlink_call c;
        const char *m = NULL;
        char err[128];
        size_t n = 0;
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(varlink_rbuf_init(&b), 0);
        for (size_t i = 0; i < sizeof(msg); i++) {   /* with the NUL */
                assert_int_equal(write_all(sv[1], msg + i, 1), 0);
                assert_int_equal(varlink_rbuf_read(&b, sv[0]), 1);
                assert_int_equal(varlink_rbuf_next(&b, &m, &n), i + 1 == sizeof(msg) ? 1 : 0);
        }
        assert_int_equal(n, sizeof(msg) - 1);
        assert_int_equal(varlink_call_parse(m, n, &c, err, sizeof(err)), 0);
        assert_string_equal(c.method, "a.b.C");
        varlink_call_done(&c);
        varlink_rbuf_consume(&b, n + 1);
        assert_int_equal(b.len, 0);
        close(sv[0]);
        close(sv[1]);
        varlink_rbuf_done(&b);
}

static void *write_unterminated(void *arg) {
        int fd = *(int *) arg;
        char chunk[4096];
        size_t left = VARLINK_MESSAGE_MAX + sizeof(chunk);

        memset(chunk, '{', sizeof(chunk));
        while (left > 0) {
                ssize_t k = send(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk), MSG_NOSIGNAL);

                if (k <= 0)
                        break;
                left -= (size_t) k;
        }
        close(fd);
        return NULL;
}

static void test_rbuf_oversized(void **state) {
        struct varlink_rbuf b;
        pthread_t t;
        const char *m;
        size_t n;
        int sv[2], r;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(varlink_rbuf_init(&b), 0);
        assert_int_equal(pthread_create(&t, NULL, write_unterminated, &sv[1]), 0);
        do
                r = varlink_rbuf_read(&b, sv[0]);
        while (r > 0);
        assert_int_equal(r, -EMSGSIZE);
        assert_int_equal(b.len, VARLINK_MESSAGE_MAX);
        assert_int_equal(varlink_rbuf_next(&b, &m, &n), 0);
        assert_int_equal(varlink_rbuf_read(&b, sv[0]), -EMSGSIZE);   /* stays refused */
        close(sv[0]);   /* the writer gets EPIPE/ECONNRESET and stops */
        assert_int_equal(pthread_join(t, NULL), 0);
        varlink_rbuf_done(&b);
}

/* ---- client ---- */

enum serve_mode {
        SERVE_REPLY,     /* echo the method name back */
        SERVE_ERROR,     /* answer io.snpseal.Agent.NotPermitted */
        SERVE_CLOSE,     /* read the call, close without answering */
        SERVE_HALF,      /* half a reply, then close */
        SERVE_GARBAGE,   /* a reply that is no varlink message */
        SERVE_SILENT,    /* read the call, never answer (until the client goes) */
};

struct server {
        int fd;           /* connected socket; or -1 with listen_fd */
        int listen_fd;
        enum serve_mode mode;
        int result;       /* what the server saw: 0 or -errno */
        char method[64];
};

static int server_read_call(struct server *s) {
        struct varlink_rbuf b;
        struct varlink_call c;
        const char *m;
        char err[128];
        size_t n;
        int r;

        r = varlink_rbuf_init(&b);
        if (r < 0)
                return r;
        while ((r = varlink_rbuf_next(&b, &m, &n)) == 0) {
                r = varlink_rbuf_read(&b, s->fd);
                if (r <= 0) {
                        r = r == 0 ? -ECONNRESET : r;
                        break;
                }
        }
        if (r > 0) {
                r = varlink_call_parse(m, n, &c, err, sizeof(err));
                if (r == 0) {
                        snprintf(s->method, sizeof(s->method), "%s", c.method);
                        varlink_call_done(&c);
                }
        }
        varlink_rbuf_done(&b);
        return r;
}

static int server_answer(struct server *s) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();
        _cleanup_secret_ char *msg = NULL;
        size_t len;
        int r = 0;
        char buf[1];

        switch (s->mode) {
        case SERVE_REPLY:
                json_object_object_add(p, "echo", json_object_new_string(s->method));
                r = varlink_encode_reply(p, &msg, &len);
                break;
        case SERVE_ERROR:
                r = varlink_encode_error("io.snpseal.Agent.NotPermitted", NULL, &msg, &len);
                break;
        case SERVE_HALF:
                return write_all(s->fd, "{\"parameters\":", 14);
        case SERVE_GARBAGE:
                return write_all(s->fd, "[1,2]", 6);
        case SERVE_SILENT:
                while (read(s->fd, buf, sizeof(buf)) > 0)
                        ;
                return 0;
        case SERVE_CLOSE:
                return 0;
        }
        if (r == 0)
                r = write_all(s->fd, msg, len);
        return r;
}

static void *serve(void *arg) {
        struct server *s = arg;

        if (s->listen_fd >= 0)
                s->fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        s->result = s->fd < 0 ? -errno : server_read_call(s);
        if (s->result == 0)
                s->result = server_answer(s);
        if (s->fd >= 0)
                close(s->fd);
        return NULL;
}

static const struct {
        enum serve_mode mode;
        unsigned timeout_ms;
        int code;
        const char *error;   /* for code 0: the error name, or NULL for a reply */
} client_cases[] = {
        { SERVE_REPLY,   2000, 0,            NULL },
        { SERVE_REPLY,   0,    0,            NULL },
        { SERVE_ERROR,   2000, 0,            "io.snpseal.Agent.NotPermitted" },
        { SERVE_CLOSE,   2000, -ECONNRESET,  NULL },
        { SERVE_HALF,    2000, -ECONNRESET,  NULL },
        { SERVE_GARBAGE, 2000, -EBADMSG,     NULL },
        { SERVE_SILENT,  150,  -ETIMEDOUT,   NULL },
};

static uint64_t mono_ms(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void test_client_socketpair(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(client_cases); i++) {
                struct server s = { .listen_fd = -1, .mode = client_cases[i].mode, .result = 1 };
                struct varlink_client *c = NULL;
                struct varlink_reply reply = { 0 };
                pthread_t t;
                uint64_t start;
                int sv[2], r;

                print_message("# client case %zu\n", i);
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                s.fd = sv[1];
                assert_int_equal(varlink_client_new_fd(sv[0], client_cases[i].timeout_ms, &c), 0);
                assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);
                start = mono_ms();
                r = varlink_client_call(c, "io.snpseal.Agent.GetStatus", NULL, &reply);
                assert_int_equal(r, client_cases[i].code);
                if (r == -ETIMEDOUT) {
                        assert_true(mono_ms() - start >= client_cases[i].timeout_ms - 10);
                        assert_true(mono_ms() - start < 5000);
                }
                varlink_client_free(c);   /* lets a silent server go */
                assert_int_equal(pthread_join(t, NULL), 0);
                assert_int_equal(s.result, 0);
                assert_string_equal(s.method, "io.snpseal.Agent.GetStatus");
                if (r < 0)
                        continue;
                if (client_cases[i].error) {
                        assert_string_equal(reply.error, client_cases[i].error);
                } else {
                        const char *echo;

                        assert_null(reply.error);
                        assert_int_equal(json_get_string(reply.parameters, "echo", &echo), 0);
                        assert_string_equal(echo, "io.snpseal.Agent.GetStatus");
                }
                varlink_reply_done(&reply);
        }
}

static void test_client_connect(void **state) {
        char dir[] = "/tmp/test-varlink-XXXXXX", path[96], missing[96], dead[96];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct server s = { .fd = -1, .mode = SERVE_REPLY, .result = 1 };
        struct varlink_client *c = NULL;
        struct varlink_reply reply;
        char longpath[200];
        const char *echo;
        pthread_t t;
        int dead_fd;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/agent.sock", dir);
        snprintf(missing, sizeof(missing), "%s/missing.sock", dir);
        snprintf(dead, sizeof(dead), "%s/dead.sock", dir);

        /* Nobody there: ENOENT, so the caller can say "agent not running". */
        assert_int_equal(varlink_client_connect(missing, 1000, &c), -ENOENT);
        assert_null(c);
        /* A socket file nobody listens on. */
        dead_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(dead_fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dead);
        assert_int_equal(bind(dead_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(dead_fd);
        assert_int_equal(varlink_client_connect(dead, 1000, &c), -ECONNREFUSED);
        memset(longpath, 'x', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        assert_int_equal(varlink_client_connect(longpath, 1000, &c), -ENAMETOOLONG);
        assert_int_equal(varlink_client_connect("", 1000, &c), -EINVAL);

        /* A real listener: one call round trip. */
        s.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s.listen_fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(bind(s.listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(s.listen_fd, 4), 0);
        assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);
        assert_int_equal(varlink_client_connect(path, 2000, &c), 0);
        assert_int_equal(varlink_client_call(c, "org.varlink.service.GetInfo", NULL, &reply), 0);
        assert_null(reply.error);
        assert_int_equal(json_get_string(reply.parameters, "echo", &echo), 0);
        assert_string_equal(echo, "org.varlink.service.GetInfo");
        varlink_reply_done(&reply);
        varlink_client_free(c);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(s.result, 0);
        close(s.listen_fd);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(dead), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_client_bad_method(void **state) {
        struct varlink_client *c = NULL;
        struct varlink_reply reply = { 0 };
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(varlink_client_new_fd(sv[0], 100, &c), 0);
        assert_int_equal(varlink_client_call(c, "GetStatus", NULL, &reply), -EINVAL);
        assert_null(reply.parameters);
        varlink_client_free(c);
        close(sv[1]);
        assert_int_equal(varlink_client_new_fd(-1, 100, &c), -EBADF);
        varlink_client_free(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base64_vectors),
                cmocka_unit_test(test_base64_rejects),
                cmocka_unit_test(test_base64_partial_output_wiped),
                cmocka_unit_test(test_base64_buffer_too_small),
                cmocka_unit_test(test_base64_all_bytes),
                cmocka_unit_test(test_json_accepts),
                cmocka_unit_test(test_json_rejects),
                cmocka_unit_test(test_json_depth_limit),
                cmocka_unit_test(test_json_getters),
                cmocka_unit_test(test_json_to_string_dup),
                cmocka_unit_test(test_json_put_wipe_shared),
                cmocka_unit_test(test_json_put_wipe_same_string_twice),
                cmocka_unit_test(test_json_put_wipe_foreign_userdata),
                cmocka_unit_test(test_call_accepts),
                cmocka_unit_test(test_call_rejects),
                cmocka_unit_test(test_call_too_large),
                cmocka_unit_test(test_reply_accepts),
                cmocka_unit_test(test_reply_rejects),
                cmocka_unit_test(test_encode_call_roundtrip),
                cmocka_unit_test(test_encode_reply_error_roundtrip),
                cmocka_unit_test(test_encode_rejects),
                cmocka_unit_test(test_encode_size_cap),
                cmocka_unit_test(test_rbuf_two_messages_one_write),
                cmocka_unit_test(test_rbuf_byte_by_byte),
                cmocka_unit_test(test_rbuf_oversized),
                cmocka_unit_test(test_client_socketpair),
                cmocka_unit_test(test_client_connect),
                cmocka_unit_test(test_client_bad_method),
        };

        return cmocka_run_group_tests_name("varlink", tests, NULL, NULL);
}

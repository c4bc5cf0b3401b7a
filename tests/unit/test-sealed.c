/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "base64.h"
#include "binding.h"
#include "hexutil.h"
#include "kdf.h"
#include "macro.h"
#include "sealed.h"
#include "secret.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

#define ALL_FIELDS SNP_FIELD_VALID_V1
#define PASSWORD "correct horse battery staple"

static const uint8_t k_use[32] = {
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x12,
};
static const uint8_t salt[SEALED_SALT_LEN] = { 0x5a, 0x17 };

static void assert_error_contains(const char *err, const char *want) {
        if (!strstr(err, want))
                fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static struct snp_binding test_binding(uint64_t fields) {
        return (struct snp_binding) {
                .root_key = SNP_ROOT_KEY_VCEK,
                .fields = fields,
                .vmpl = 0,
                .guest_svn = 1,
                .tcb_version = UINT64_C(0xd100000000000003),
        };
}

static json_object *test_identity(const struct snp_binding *b) {
        struct snp_report r = {
                .guest_svn = 1,
                .policy = UINT64_C(0x30000),
                .committed_tcb = UINT64_C(0xd100000000000003),
        };
        json_object *id = NULL;

        memset(r.measurement, 0x3f, sizeof(r.measurement));
        memset(r.image_id, 0x1a, sizeof(r.image_id));
        memset(r.family_id, 0xfa, sizeof(r.family_id));
        assert_int_equal(snp_binding_identity_json(b, &r, &id), 0);
        return id;
}

/* Seal with the test binding and identity; the text is malloc()ed. */
static char *seal_fields(uint64_t fields, const char *purpose, const void *data, size_t size, const char *pw) {
        struct snp_binding b = test_binding(fields);
        _cleanup_(json_object_putp) json_object *id = test_identity(&b);
        char *text = NULL;

        assert_int_equal(sealed_seal(purpose, &b, id, salt, k_use, data, size, pw, pw ? strlen(pw) : 0, &text), 0);
        assert_non_null(text);
        return text;
}

static char *seal_test(const char *pw) {
        return seal_fields(ALL_FIELDS, "cred/db", "hunter2 secret", 14, pw);
}

static int parse_text(const char *text, struct sealed_object *o, char *err, size_t errlen) {
        return sealed_parse(text, strlen(text), o, err, errlen);
}

/* Parse and open; returns the unseal result and checks the data on success. */
static int open_text(const char *text, const uint8_t key[32], const char *pw, const void *want, size_t want_size) {
        struct sealed_object o;
        char err[256] = "";
        void *data = NULL;
        size_t size = 0;
        int r;

        r = parse_text(text, &o, err, sizeof(err));
        if (r < 0)
                fail_msg("parse failed: %d %s", r, err);
        r = sealed_unseal(&o, key, pw, pw ? strlen(pw) : 0, &data, &size);
        if (r == 0) {
                assert_int_equal(size, want_size);
                assert_memory_equal(data, want, size);
                secret_free(data);
        } else
                assert_null(data);
        sealed_object_done(&o);
        return r;
}

/* ---- round trips ---- */

static void test_roundtrip(void **state) {
        static const size_t sizes[] = { 1, 100, SEALED_DATA_MAX };
        static const char *const passwords[] = { NULL, PASSWORD };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                for (size_t j = 0; j < ELEMENTSOF(passwords); j++) {
                        _cleanup_(freep) uint8_t *data = malloc(sizes[i]);
                        _cleanup_(freep) char *text = NULL;
                        struct sealed_object o;
                        char err[256] = "";

                        assert_non_null(data);
                        for (size_t k = 0; k < sizes[i]; k++)
                                data[k] = (uint8_t) ('A' + k % 26);
                        text = seal_fields(SNP_BINDING_DEFAULT_FIELDS, "user/1000/mail", data, sizes[i],
                                           passwords[j]);
                        assert_true(strlen(text) <= SEALED_TEXT_MAX);
                        assert_int_equal(text[strlen(text) - 1], '\n');
                        /* Only ciphertext: the plaintext does not show. */
                        if (sizes[i] >= 26)
                                assert_null(strstr(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
                        assert_int_equal(parse_text(text, &o, err, sizeof(err)), 0);
                        assert_string_equal(o.purpose, "user/1000/mail");
                        assert_int_equal(o.format, SEALED_FORMAT);
                        /* With a password, the VM layer also holds the escrowed K_pw. */
                        assert_int_equal(o.ciphertext_len, sizes[i] + (passwords[j] ? SEALED_ESCROW_LEN : 0));
                        assert_int_equal(o.has_password, passwords[j] != NULL);
                        assert_true(o.binding.fields == SNP_BINDING_DEFAULT_FIELDS);
                        if (passwords[j]) {
                                assert_true(o.pw.n == 1024);
                                assert_int_equal(o.pw.r, 8);
                                assert_int_equal(o.pw.p, 1);
                        }
                        sealed_object_done(&o);
                        assert_int_equal(open_text(text, k_use, passwords[j], data, sizes[i]), 0);
                }
}

static void test_nonces_fresh(void **state) {
        _cleanup_(freep) char *a = seal_test(PASSWORD), *b = seal_test(PASSWORD);
        struct sealed_object oa, ob;

        assert_int_equal(parse_text(a, &oa, NULL, 0), 0);
        assert_int_equal(parse_text(b, &ob, NULL, 0), 0);
        assert_memory_not_equal(oa.nonce, ob.nonce, SEALED_NONCE_LEN);
        assert_memory_not_equal(oa.pw.nonce, ob.pw.nonce, SEALED_NONCE_LEN);
        assert_memory_not_equal(oa.pw.salt, ob.pw.salt, SEALED_PW_SALT_LEN);
        assert_memory_not_equal(oa.ciphertext, ob.ciphertext, oa.ciphertext_len);
        sealed_object_done(&oa);
        sealed_object_done(&ob);
}

static void test_seal_refusals(void **state) {
        static uint8_t big[SEALED_DATA_MAX + 1];
        static char long_pw[SEALED_PASSWORD_MAX + 2];
        struct snp_binding b = test_binding(ALL_FIELDS), partial = test_binding(SNP_BINDING_DEFAULT_FIELDS);
        _cleanup_(json_object_putp) json_object *id = test_identity(&b);
        char *text = NULL;

        memset(long_pw, 'x', sizeof(long_pw) - 1);
        assert_int_equal(sealed_seal("cred/db", &b, id, salt, k_use, big, SEALED_DATA_MAX + 1, NULL, 0, &text),
                         -E2BIG);
        assert_int_equal(sealed_seal("cred/db", &b, id, salt, k_use, big, 0, NULL, 0, &text), -EINVAL);
        assert_int_equal(sealed_seal("cred/db", &b, id, salt, k_use, big, 1, "", 0, &text), -EINVAL);
        assert_int_equal(sealed_seal("cred/db", &b, id, salt, k_use, big, 1, long_pw, strlen(long_pw), &text),
                         -E2BIG);
        assert_int_equal(sealed_seal("cred/../db", &b, id, salt, k_use, big, 1, NULL, 0, &text), -EINVAL);
        /* The identity records exactly the bound fields. */
        assert_int_equal(sealed_seal("cred/db", &partial, id, salt, k_use, big, 1, NULL, 0, &text), -EINVAL);
        assert_null(text);
}

static void test_wrong_key(void **state) {
        static const char *const passwords[] = { NULL, PASSWORD };
        uint8_t other[32];

        memcpy(other, k_use, sizeof(other));
        other[31] ^= 0x01;
        for (size_t i = 0; i < ELEMENTSOF(passwords); i++) {
                _cleanup_(freep) char *text = seal_test(passwords[i]);

                assert_int_equal(open_text(text, other, passwords[i], NULL, 0), -EBADMSG);
                assert_int_equal(open_text(text, k_use, passwords[i], "hunter2 secret", 14), 0);
        }
}

static void test_password(void **state) {
        _cleanup_(freep) char *text = seal_test(PASSWORD), *plain = seal_test(NULL);
        static char long_pw[SEALED_PASSWORD_MAX + 2];

        memset(long_pw, 'x', sizeof(long_pw) - 1);
        assert_int_equal(open_text(text, k_use, NULL, NULL, 0), -ENOKEY);
        assert_int_equal(open_text(text, k_use, "correct horse battery stapler", NULL, 0), -EKEYREJECTED);
        assert_int_equal(open_text(text, k_use, "", NULL, 0), -EKEYREJECTED);
        assert_int_equal(open_text(text, k_use, long_pw, NULL, 0), -EKEYREJECTED);
        assert_int_equal(open_text(text, k_use, PASSWORD, "hunter2 secret", 14), 0);
        /* The VM layer is checked first: wrong VM with a wrong password is not "wrong password". */
        assert_int_equal(open_text(text, salt, "nope", NULL, 0), -EBADMSG);
        /* A password given for an object without one is not needed. */
        assert_int_equal(open_text(plain, k_use, PASSWORD, "hunter2 secret", 14), 0);
}

/* ---- rewrapping ---- */

/* Parse text and rewrap it; returns the result, *ret_text on success. */
static const uint8_t *rewrap_k_new;   /* the key to rewrap to; NULL: the same */

static int rewrap_text_r(const char *text, const uint8_t key[32], const char *old_pw, const char *new_pw,
                         char **ret_text) {
        struct sealed_object o;
        char err[256] = "";
        int r;

        r = parse_text(text, &o, err, sizeof(err));
        if (r < 0)
                fail_msg("parse failed: %d %s", r, err);
        r = sealed_rewrap(&o, key, rewrap_k_new, old_pw, old_pw ? strlen(old_pw) : 0, new_pw, new_pw ? strlen(new_pw) : 0,
                          ret_text);
        sealed_object_done(&o);
        return r;
}

static void rewrap_text(const char *text, const uint8_t key[32], const char *old_pw, const char *new_pw, int want,
                        char **ret_text) {
        char *out = NULL;
        int r = rewrap_text_r(text, key, old_pw, new_pw, &out);

        if (r != want)
                fail_msg("rewrap returned %d, want %d", r, want);
        if (want < 0)
                assert_null(out);
        else
                assert_non_null(out);
        *ret_text = out;
}

/* Each row: seal with `sealed_pw`, rewrap with old/new, then the result opens
 * with `new_pw` (or without a password when new is NULL) and not with the
 * others. */
static const struct rewrap_case {
        const char *name;
        const char *sealed_pw;
        const char *old_pw;     /* NULL: from the VM layer (the escrow) */
        const char *new_pw;     /* NULL: drop the password layer */
        int code;
} rewrap_cases[] = {
        { "from the VM layer",          PASSWORD, NULL,         "new password", 0 },
        { "with the old password",      PASSWORD, PASSWORD,     "new password", 0 },
        { "same password again",        PASSWORD, PASSWORD,     PASSWORD,       0 },
        { "wrong old password",         PASSWORD, "not it",     "new password", -EKEYREJECTED },
        { "empty old password",         PASSWORD, "",           "new password", -EKEYREJECTED },
        { "drop the password (VM)",     PASSWORD, NULL,         NULL,           0 },
        { "drop the password (old)",    PASSWORD, PASSWORD,     NULL,           0 },
        { "drop, wrong old password",   PASSWORD, "not it",     NULL,           -EKEYREJECTED },
        { "add a password",             NULL,     NULL,         "new password", 0 },
        { "add, old password unused",   NULL,     "anything",   "new password", 0 },
        { "VM-only stays VM-only",      NULL,     NULL,         NULL,           0 },
};

static void rewrap_check_result(const struct rewrap_case *c, const char *text) {
        _cleanup_(freep) char *again = NULL;
        struct sealed_object o;

        assert_int_equal(parse_text(text, &o, NULL, 0), 0);
        if (o.has_password != (c->new_pw != NULL))
                fail_msg("%s: has_password %d", c->name, o.has_password);
        sealed_object_done(&o);
        if (!c->new_pw) {
                assert_int_equal(open_text(text, k_use, NULL, "hunter2 secret", 14), 0);
                return;
        }
        assert_int_equal(open_text(text, k_use, c->new_pw, "hunter2 secret", 14), 0);
        assert_int_equal(open_text(text, k_use, NULL, NULL, 0), -ENOKEY);
        if (c->sealed_pw && strcmp(c->sealed_pw, c->new_pw) != 0)
                assert_int_equal(open_text(text, k_use, c->sealed_pw, NULL, 0), -EKEYREJECTED);
        /* Unsealing still needs the password: the escrow is for rewrapping only. The
         * result can be rewrapped from the VM layer again. */
        rewrap_text(text, k_use, NULL, "third", 0, &again);
        assert_int_equal(open_text(again, k_use, "third", "hunter2 secret", 14), 0);
        assert_int_equal(open_text(again, k_use, NULL, NULL, 0), -ENOKEY);
}

static void test_rewrap(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rewrap_cases); i++) {
                const struct rewrap_case *c = &rewrap_cases[i];
                _cleanup_(freep) char *base = seal_test(c->sealed_pw), *text = NULL;
                int r;

                r = rewrap_text_r(base, k_use, c->old_pw, c->new_pw, &text);
                if (r != c->code)
                        fail_msg("%s: rewrap returned %d, want %d", c->name, r, c->code);
                if (r < 0) {
                        assert_null(text);
                        continue;
                }
                rewrap_check_result(c, text);
                /* The old object is unchanged and still opens as before. */
                assert_int_equal(open_text(base, k_use, c->sealed_pw, "hunter2 secret", 14), 0);
        }
}

/* Same purpose, binding, identity and salt (so the same k_use), same data;
 * fresh nonces and scrypt salt, the current scrypt cost. */
static void test_rewrap_keeps_header(void **state) {
        _cleanup_(freep) char *base = seal_fields(SNP_BINDING_DEFAULT_FIELDS, "user/1000/mail", "x", 1, PASSWORD);
        _cleanup_(freep) char *text = NULL;
        struct sealed_object a, b;

        rewrap_text(base, k_use, NULL, "other", 0, &text);
        assert_int_equal(parse_text(base, &a, NULL, 0), 0);
        assert_int_equal(parse_text(text, &b, NULL, 0), 0);
        assert_string_equal(a.purpose, b.purpose);
        assert_memory_equal(&a.binding, &b.binding, sizeof(a.binding));
        assert_string_equal(json_object_to_json_string_ext(a.identity, JSON_C_TO_STRING_PLAIN),
                            json_object_to_json_string_ext(b.identity, JSON_C_TO_STRING_PLAIN));
        assert_memory_equal(a.salt, b.salt, SEALED_SALT_LEN);
        assert_int_equal(b.ciphertext_len, 1 + SEALED_ESCROW_LEN);
        assert_memory_not_equal(a.nonce, b.nonce, SEALED_NONCE_LEN);
        assert_memory_not_equal(a.pw.salt, b.pw.salt, SEALED_PW_SALT_LEN);
        assert_memory_not_equal(a.pw.nonce, b.pw.nonce, SEALED_NONCE_LEN);
        assert_true(b.pw.n == 1024);
        assert_int_equal(b.pw.r, 8);
        assert_int_equal(b.pw.p, 1);
        sealed_object_done(&a);
        sealed_object_done(&b);
        assert_int_equal(open_text(text, k_use, "other", "x", 1), 0);
}

static void test_rewrap_refusals(void **state) {
        _cleanup_(freep) char *base = seal_test(PASSWORD), *text = NULL;
        static char long_pw[SEALED_PASSWORD_MAX + 2];
        struct sealed_object o;
        uint8_t other[32];

        memset(long_pw, 'x', sizeof(long_pw) - 1);
        memcpy(other, k_use, sizeof(other));
        other[0] ^= 0x80;
        /* Another VM (K_use differs): the VM layer fails, with or without the old password. */
        rewrap_text(base, other, NULL, "new", -EBADMSG, &text);
        rewrap_text(base, other, PASSWORD, "new", -EBADMSG, &text);
        /* The new password: not empty, at most SEALED_PASSWORD_MAX bytes. */
        assert_int_equal(parse_text(base, &o, NULL, 0), 0);
        assert_int_equal(sealed_rewrap(&o, k_use, NULL, NULL, 0, "", 0, &text), -EINVAL);
        assert_int_equal(sealed_rewrap(&o, k_use, NULL, NULL, 0, long_pw, strlen(long_pw), &text), -E2BIG);
        assert_int_equal(sealed_rewrap(&o, k_use, NULL, NULL, 0, NULL, 0, NULL), -EINVAL);
        assert_int_equal(sealed_rewrap(NULL, k_use, NULL, NULL, 0, NULL, 0, &text), -EINVAL);
        sealed_object_done(&o);
        assert_null(text);
}

/* ---- editing sealed objects ---- */

enum edit_op {
        EDIT_NONE,
        EDIT_SET,       /* replace (or add) the member with the JSON value */
        EDIT_DEL,
        EDIT_FLIP,      /* flip the low bit of byte `index` of a base64 member */
};

struct edit {
        enum edit_op op;
        const char *path;       /* "salt", "password.n", "binding.vmpl" */
        const char *value;      /* EDIT_SET */
        size_t index;           /* EDIT_FLIP */
};

static json_object *edit_parent(json_object *root, const char *path, const char **ret_key) {
        const char *dot = strchr(path, '.');
        char head[64];
        json_object *child;

        if (!dot) {
                *ret_key = path;
                return root;
        }
        assert_true((size_t) (dot - path) < sizeof(head));
        memcpy(head, path, (size_t) (dot - path));
        head[dot - path] = '\0';
        assert_true(json_object_object_get_ex(root, head, &child));
        *ret_key = dot + 1;
        return child;
}

static void edit_flip(json_object *parent, const char *key, size_t index) {
        json_object *v;
        uint8_t buf[SEALED_DATA_MAX + 16];
        char enc[2 * SEALED_DATA_MAX];
        size_t len;

        assert_true(json_object_object_get_ex(parent, key, &v));
        assert_int_equal(base64_decode(json_object_get_string(v), (size_t) json_object_get_string_len(v), buf,
                                       sizeof(buf), &len), 0);
        assert_true(index < len);
        buf[index] ^= 0x01;
        assert_true(base64_encode(buf, len, enc, sizeof(enc)) > 0);
        assert_int_equal(json_object_object_add(parent, key, json_object_new_string(enc)), 0);
}

static void edit_apply(json_object *root, const struct edit *e) {
        const char *key;
        json_object *parent;

        if (e->op == EDIT_NONE)
                return;
        parent = edit_parent(root, e->path, &key);
        switch (e->op) {
        case EDIT_SET: {
                json_object *v = json_tokener_parse(e->value);

                assert_true(v || strcmp(e->value, "null") == 0);
                assert_int_equal(json_object_object_add(parent, key, v), 0);
                break;
        }
        case EDIT_DEL:
                assert_true(json_object_object_get_ex(parent, key, NULL));
                json_object_object_del(parent, key);
                break;
        case EDIT_FLIP:
                edit_flip(parent, key, e->index);
                break;
        default:
                fail();
        }
}

/* The text with the edits applied (malloc()ed). */
static char *edit_text(const char *text, const struct edit *edits, size_t n) {
        _cleanup_(json_object_putp) json_object *root = json_tokener_parse(text);
        char *s;

        assert_non_null(root);
        for (size_t i = 0; i < n; i++)
                edit_apply(root, &edits[i]);
        s = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        assert_non_null(s);
        return s;
}

/* ---- tampering: every field is authenticated ---- */

enum tamper_outcome {
        REFUSED_BY_PARSER,      /* -EBADMSG or -EPROTONOSUPPORT from sealed_parse */
        REFUSED_BY_AEAD,        /* parses, sealed_unseal -EBADMSG */
};

enum tamper_applies {
        BOTH,
        PW_ONLY,                /* only to the object with a password layer */
        VM_ONLY,                /* only to the object without one */
};

static const struct tamper_case {
        const char *name;
        enum tamper_applies applies;
        enum tamper_outcome outcome;
        struct edit edits[2];
} tamper_cases[] = {
        { "format",               BOTH,    REFUSED_BY_PARSER, { { EDIT_SET, "format", "3", 0 } } },
        /* a format 2 object relabelled 1: its AD (and key, in the agent) differ */
        { "format 1",             BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "format", "1", 0 } } },
        { "purpose",              BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "purpose", "\"cred/dc\"", 0 } } },
        { "purpose luks2",        BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "purpose", "\"luks2\"", 0 } } },
        { "binding.root_key",     BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "binding.root_key", "\"vlek\"", 0 } } },
        { "binding.fields",       BOTH,    REFUSED_BY_AEAD,
          { { EDIT_SET, "binding.fields",
              "[\"policy\",\"image_id\",\"measurement\",\"guest_svn\",\"tcb_version\"]", 0 },
            { EDIT_DEL, "identity.family_id", NULL, 0 } } },
        { "binding.fields alone", BOTH,    REFUSED_BY_PARSER,
          { { EDIT_SET, "binding.fields", "[\"measurement\"]", 0 } } },
        { "binding.vmpl",         BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "binding.vmpl", "1", 0 } } },
        { "binding.guest_svn",    BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "binding.guest_svn", "2", 0 } } },
        { "binding.tcb_version",  BOTH,    REFUSED_BY_AEAD,
          { { EDIT_SET, "binding.tcb_version", "\"030000000000d100\"", 0 } } },
        { "identity.measurement", BOTH,    REFUSED_BY_AEAD,
          { { EDIT_SET, "identity.measurement",
              "\"" "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f"
              "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3e" "\"", 0 } } },
        { "identity.policy",      BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "identity.policy", "\"0x30001\"", 0 } } },
        { "identity.image_id",    BOTH,    REFUSED_BY_AEAD,
          { { EDIT_SET, "identity.image_id", "\"1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1b\"", 0 } } },
        { "identity.family_id",   BOTH,    REFUSED_BY_AEAD,
          { { EDIT_SET, "identity.family_id", "\"0afafafafafafafafafafafafafafafa\"", 0 } } },
        { "identity.guest_svn",   BOTH,    REFUSED_BY_AEAD,   { { EDIT_SET, "identity.guest_svn", "2", 0 } } },
        { "identity.tcb",         BOTH,    REFUSED_BY_AEAD,
          { { EDIT_SET, "identity.tcb", "\"0300000000000000\"", 0 } } },
        { "salt",                 BOTH,    REFUSED_BY_AEAD,   { { EDIT_FLIP, "salt", NULL, 31 } } },
        { "nonce",                BOTH,    REFUSED_BY_AEAD,   { { EDIT_FLIP, "nonce", NULL, 0 } } },
        { "ciphertext first",     BOTH,    REFUSED_BY_AEAD,   { { EDIT_FLIP, "ciphertext", NULL, 0 } } },
        { "ciphertext last",      BOTH,    REFUSED_BY_AEAD,   { { EDIT_FLIP, "ciphertext", NULL, 13 } } },
        { "ciphertext shorter",   VM_ONLY, REFUSED_BY_AEAD,
          { { EDIT_SET, "ciphertext", "\"AAAAAAAAAAAAAAAA\"", 0 } } },
        /* 42 bytes: still longer than the escrow. */
        { "ciphertext shorter",   PW_ONLY, REFUSED_BY_AEAD,
          { { EDIT_SET, "ciphertext", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", 0 } } },
        /* The escrowed K_pw is the last 32 bytes of the VM layer's plaintext. */
        { "escrow first",         PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_FLIP, "ciphertext", NULL, 14 } } },
        { "escrow last",          PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_FLIP, "ciphertext", NULL, 45 } } },
        { "tag",                  BOTH,    REFUSED_BY_AEAD,   { { EDIT_FLIP, "tag", NULL, 15 } } },
        { "password removed",     PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_DEL, "password", NULL, 0 } } },
        { "password.kdf",         PW_ONLY, REFUSED_BY_PARSER, { { EDIT_SET, "password.kdf", "\"argon2id\"", 0 } } },
        { "password.salt",        PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_FLIP, "password.salt", NULL, 0 } } },
        { "password.n",           PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_SET, "password.n", "2048", 0 } } },
        { "password.r",           PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_SET, "password.r", "4", 0 } } },
        { "password.p",           PW_ONLY, REFUSED_BY_PARSER, { { EDIT_SET, "password.p", "2", 0 } } },
        { "password.nonce",       PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_FLIP, "password.nonce", NULL, 11 } } },
        { "password.tag",         PW_ONLY, REFUSED_BY_AEAD,   { { EDIT_FLIP, "password.tag", NULL, 0 } } },
        /* 14 bytes cannot hold the inner layer and the escrow. */
        { "password added",       VM_ONLY, REFUSED_BY_PARSER,
          { { EDIT_SET, "password",
              "{\"kdf\":\"scrypt\",\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"n\":1024,\"r\":8,\"p\":1,"
              "\"nonce\":\"AAAAAAAAAAAAAAAA\",\"tag\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}", 0 } } },
};

static void tamper_one(const char *base, const struct tamper_case *c, const char *pw) {
        _cleanup_(freep) char *text = edit_text(base, c->edits, ELEMENTSOF(c->edits)), *rewrapped = NULL;
        struct sealed_object o;
        char err[256] = "";
        void *data = NULL;
        size_t size = 0;
        int r;

        r = parse_text(text, &o, err, sizeof(err));
        if (c->outcome == REFUSED_BY_PARSER) {
                if (r != -EBADMSG && r != -EPROTONOSUPPORT)
                        fail_msg("%s: parse returned %d, want a refusal", c->name, r);
                assert_true(strlen(err) > 0);
                return;
        }
        if (r < 0)
                fail_msg("%s: parse failed (%d %s), want it to parse and fail authentication", c->name, r, err);
        r = sealed_unseal(&o, k_use, pw, pw ? strlen(pw) : 0, &data, &size);
        if (r != -EBADMSG)
                fail_msg("%s: unseal returned %d, want -EBADMSG", c->name, r);
        assert_null(data);
        /* Rewrapping from the VM layer (the escrow) checks the VM layer the same way. */
        r = sealed_rewrap(&o, k_use, k_use, NULL, 0, "new", 3, &rewrapped);
        sealed_object_done(&o);
        if (r != -EBADMSG)
                fail_msg("%s: rewrap returned %d, want -EBADMSG", c->name, r);
        assert_null(rewrapped);
}

static void test_tampering(void **state) {
        static const char *const passwords[] = { NULL, PASSWORD };

        for (size_t j = 0; j < ELEMENTSOF(passwords); j++) {
                _cleanup_(freep) char *base = seal_test(passwords[j]);
                _cleanup_(freep) char *same = edit_text(base, NULL, 0);

                /* Control: re-serialising without an edit still opens. */
                assert_int_equal(open_text(same, k_use, passwords[j], "hunter2 secret", 14), 0);
                for (size_t i = 0; i < ELEMENTSOF(tamper_cases); i++) {
                        if ((tamper_cases[i].applies == PW_ONLY && !passwords[j]) ||
                            (tamper_cases[i].applies == VM_ONLY && passwords[j]))
                                continue;
                        tamper_one(base, &tamper_cases[i], passwords[j]);
                }
        }
}

/* ---- parser rejections ---- */

static const struct reject_case {
        const char *name;
        int code;
        const char *message;
        struct edit edit;
} reject_cases[] = {
        { "unknown key",            -EBADMSG, "sealed object: unknown key \"extra\"", { EDIT_SET, "extra", "1", 0 } },
        { "unknown password key",   -EBADMSG, "password: unknown key \"iterations\"",
          { EDIT_SET, "password.iterations", "1", 0 } },
        { "unknown binding key",    -EBADMSG, "binding: unknown key \"pin\"", { EDIT_SET, "binding.pin", "true", 0 } },
        { "unknown identity key",   -EBADMSG, "identity: unknown key \"host_data\"",
          { EDIT_SET, "identity.host_data", "\"00\"", 0 } },
        { "missing format",         -EBADMSG, "missing \"format\"", { EDIT_DEL, "format", NULL, 0 } },
        { "missing purpose",        -EBADMSG, "missing \"purpose\"", { EDIT_DEL, "purpose", NULL, 0 } },
        { "missing binding",        -EBADMSG, "missing \"binding\"", { EDIT_DEL, "binding", NULL, 0 } },
        { "missing identity",       -EBADMSG, "missing \"identity\"", { EDIT_DEL, "identity", NULL, 0 } },
        { "missing salt",           -EBADMSG, "missing \"salt\"", { EDIT_DEL, "salt", NULL, 0 } },
        { "missing nonce",          -EBADMSG, "missing \"nonce\"", { EDIT_DEL, "nonce", NULL, 0 } },
        { "missing ciphertext",     -EBADMSG, "missing \"ciphertext\"", { EDIT_DEL, "ciphertext", NULL, 0 } },
        { "missing tag",            -EBADMSG, "missing \"tag\"", { EDIT_DEL, "tag", NULL, 0 } },
        { "missing password.n",     -EBADMSG, "missing \"password.n\"", { EDIT_DEL, "password.n", NULL, 0 } },
        { "missing password.tag",   -EBADMSG, "missing \"password.tag\"", { EDIT_DEL, "password.tag", NULL, 0 } },
        { "missing binding member", -EBADMSG, "binding: missing \"vmpl\"", { EDIT_DEL, "binding.vmpl", NULL, 0 } },
        { "unrecorded identity",    -EBADMSG, "identity: \"tcb\" is bound but not recorded",
          { EDIT_DEL, "identity.tcb", NULL, 0 } },
        { "format string",          -EBADMSG, "\"format\" must be an integer", { EDIT_SET, "format", "\"1\"", 0 } },
        { "format float",           -EBADMSG, "\"format\" must be an integer", { EDIT_SET, "format", "1.0", 0 } },
        { "format 3",               -EPROTONOSUPPORT, "sealed object format 3 is not supported by this version",
          { EDIT_SET, "format", "3", 0 } },
        { "format 0",               -EPROTONOSUPPORT, "sealed object format 0 is not supported",
          { EDIT_SET, "format", "0", 0 } },
        { "purpose number",         -EBADMSG, "\"purpose\" must be a string", { EDIT_SET, "purpose", "5", 0 } },
        { "purpose invalid",        -EBADMSG, "\"purpose\" is not a valid purpose",
          { EDIT_SET, "purpose", "\"cred/../x\"", 0 } },
        { "purpose with NUL",       -EBADMSG, "contains a NUL character",
          { EDIT_SET, "purpose", "\"cred/db\\u0000x\"", 0 } },
        { "binding array",          -EBADMSG, "\"binding\" must be an object", { EDIT_SET, "binding", "[]", 0 } },
        { "binding root key",       -EBADMSG, "binding: unknown root key \"vxek\"",
          { EDIT_SET, "binding.root_key", "\"vxek\"", 0 } },
        { "binding vmpl",           -EBADMSG, "binding: \"vmpl\" must be an integer 0..3",
          { EDIT_SET, "binding.vmpl", "4", 0 } },
        { "identity string",        -EBADMSG, "\"identity\" must be an object", { EDIT_SET, "identity", "\"x\"", 0 } },
        { "identity svn string",    -EBADMSG, "identity: \"guest_svn\" must be an integer",
          { EDIT_SET, "identity.guest_svn", "\"1\"", 0 } },
        { "identity hex upper",     -EBADMSG, "identity: \"image_id\" must be 32 lowercase hex digits",
          { EDIT_SET, "identity.image_id", "\"1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A\"", 0 } },
        { "identity hex short",     -EBADMSG, "identity: \"tcb\" must be 16 lowercase hex digits",
          { EDIT_SET, "identity.tcb", "\"03\"", 0 } },
        { "identity policy",        -EBADMSG, "identity: \"policy\" must be \"0x\"",
          { EDIT_SET, "identity.policy", "\"0x030000\"", 0 } },
        { "salt number",            -EBADMSG, "\"salt\" must be base64 of 32 bytes", { EDIT_SET, "salt", "5", 0 } },
        { "salt short",             -EBADMSG, "\"salt\" must be base64 of 32 bytes",
          { EDIT_SET, "salt", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"", 0 } },
        { "nonce bad base64",       -EBADMSG, "\"nonce\" must be base64 of 12 bytes",
          { EDIT_SET, "nonce", "\"!!!!!!!!!!!!!!!!\"", 0 } },
        { "nonce long",             -EBADMSG, "\"nonce\" must be base64 of 12 bytes",
          { EDIT_SET, "nonce", "\"AAAAAAAAAAAAAAAAAAAA\"", 0 } },
        { "tag short",              -EBADMSG, "\"tag\" must be base64 of 16 bytes",
          { EDIT_SET, "tag", "\"AAAAAAAAAAAAAAAAAAAA\"", 0 } },
        { "tag whitespace",         -EBADMSG, "\"tag\" must be base64 of 16 bytes",
          { EDIT_SET, "tag", "\"AAAAAAAAAAAAAAAAAAAAA \"", 0 } },
        { "ciphertext empty",       -EBADMSG, "\"ciphertext\" is empty", { EDIT_SET, "ciphertext", "\"\"", 0 } },
        { "ciphertext bad base64",  -EBADMSG, "\"ciphertext\" is not valid base64",
          { EDIT_SET, "ciphertext", "\"AAA*\"", 0 } },
        { "ciphertext padding",     -EBADMSG, "\"ciphertext\" is not valid base64",
          { EDIT_SET, "ciphertext", "\"AAA\"", 0 } },
        { "ciphertext array",       -EBADMSG, "\"ciphertext\" must be a base64 string",
          { EDIT_SET, "ciphertext", "[]", 0 } },
        { "ciphertext escrow only", -EBADMSG, "\"ciphertext\" must be longer than 32 bytes with a password layer",
          { EDIT_SET, "ciphertext", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"", 0 } },
        { "password string",        -EBADMSG, "\"password\" must be an object", { EDIT_SET, "password", "\"x\"", 0 } },
        { "password kdf",           -EBADMSG, "\"password.kdf\" must be \"scrypt\"",
          { EDIT_SET, "password.kdf", "\"pbkdf2\"", 0 } },
        { "scrypt n not pow2",      -EBADMSG, "\"password.n\" must be a power of two from 1024 to 32768",
          { EDIT_SET, "password.n", "1000", 0 } },
        /* the scrypt bomb of issue 11: N=2^20 r=32 p=16 was accepted */
        { "scrypt n too big",       -EBADMSG, "\"password.n\" must be a power of two",
          { EDIT_SET, "password.n", "65536", 0 } },
        { "scrypt n 2^20",          -EBADMSG, "\"password.n\" must be a power of two from 1024 to 32768",
          { EDIT_SET, "password.n", "1048576", 0 } },
        { "scrypt n too small",     -EBADMSG, "\"password.n\" must be a power of two",
          { EDIT_SET, "password.n", "512", 0 } },
        { "scrypt n negative",      -EBADMSG, "\"password.n\" must be a power of two",
          { EDIT_SET, "password.n", "-1024", 0 } },
        { "scrypt n string",        -EBADMSG, "\"password.n\" must be a power of two",
          { EDIT_SET, "password.n", "\"1024\"", 0 } },
        { "scrypt r 0",             -EBADMSG, "\"password.r\" must be an integer from 1 to 8",
          { EDIT_SET, "password.r", "0", 0 } },
        { "scrypt r 9",             -EBADMSG, "\"password.r\" must be an integer from 1 to 8",
          { EDIT_SET, "password.r", "9", 0 } },
        { "scrypt r 32",            -EBADMSG, "\"password.r\" must be an integer from 1 to 8",
          { EDIT_SET, "password.r", "32", 0 } },
        { "scrypt p 2",             -EBADMSG, "\"password.p\" must be an integer from 1 to 1",
          { EDIT_SET, "password.p", "2", 0 } },
        { "scrypt p 16",            -EBADMSG, "\"password.p\" must be an integer from 1 to 1",
          { EDIT_SET, "password.p", "16", 0 } },
        { "password salt",          -EBADMSG, "\"password.salt\" must be base64 of 16 bytes",
          { EDIT_SET, "password.salt", "\"AAAA\"", 0 } },
        { "password nonce",         -EBADMSG, "\"password.nonce\" must be base64 of 12 bytes",
          { EDIT_SET, "password.nonce", "null", 0 } },
};

static void reject_one(const char *base, const char *name, int code, const char *message, const struct edit *e) {
        _cleanup_(freep) char *text = edit_text(base, e, 1);
        struct sealed_object o;
        char err[256] = "";
        int r;

        memset(&o, 0xaa, sizeof(o));
        r = parse_text(text, &o, err, sizeof(err));
        if (r != code)
                fail_msg("%s: parse returned %d (%s), want %d", name, r, err, code);
        assert_error_contains(err, message);
        /* ret is written only on success. */
        assert_int_equal(o.format, 0xaaaaaaaau);
}

static void test_parser_rejects(void **state) {
        _cleanup_(freep) char *base = seal_test(PASSWORD);

        for (size_t i = 0; i < ELEMENTSOF(reject_cases); i++)
                reject_one(base, reject_cases[i].name, reject_cases[i].code, reject_cases[i].message,
                           &reject_cases[i].edit);
}

static void test_parser_recorded_not_bound(void **state) {
        _cleanup_(freep) char *base = seal_fields(SNP_BINDING_DEFAULT_FIELDS, "cred/db", "x", 1, NULL);
        const struct edit e = { EDIT_SET, "identity.image_id", "\"1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a\"", 0 };

        reject_one(base, "recorded, not bound", -EBADMSG, "identity: \"image_id\" is recorded but not bound", &e);
}

static void test_parser_text(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "",             "not valid JSON" },
                { "{",            "not valid JSON" },
                { "[]",           "not a JSON object" },
                { "\"x\"",        "not a JSON object" },
                { "{}",           "missing \"format\"" },
                { "{\"format\":1}", "missing \"purpose\"" },
                { "{\"format\":1} x", "not valid JSON" },
        };
        static char big[SEALED_TEXT_MAX + 2];
        struct sealed_object o;
        char err[256];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                err[0] = '\0';
                assert_int_equal(parse_text(cases[i].text, &o, err, sizeof(err)), -EBADMSG);
                assert_error_contains(err, cases[i].message);
        }
        memset(big, ' ', sizeof(big) - 1);
        big[0] = '{';
        big[sizeof(big) - 2] = '}';
        assert_int_equal(parse_text(big, &o, err, sizeof(err)), -EBADMSG);
        assert_error_contains(err, "larger than 61440 bytes");
}

/* A ciphertext longer than the data cap (plus the escrow with a password) is
 * refused by the parser. */
static void test_parser_ciphertext_too_long(void **state) {
        static const struct {
                const char *password;
                size_t len;
                const char *message;
        } cases[] = {
                { NULL,     SEALED_DATA_MAX + 1,                     "\"ciphertext\" is longer than 32768 bytes" },
                { NULL,     SEALED_DATA_MAX + SEALED_ESCROW_LEN + 1, "\"ciphertext\" is longer than 32800 bytes" },
                { PASSWORD, SEALED_DATA_MAX + SEALED_ESCROW_LEN + 1, "\"ciphertext\" is longer than 32800 bytes" },
        };
        static uint8_t data[SEALED_DATA_MAX + SEALED_ESCROW_LEN + 1];
        static char enc[2 * SEALED_DATA_MAX], value[2 * SEALED_DATA_MAX + 4];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *base = seal_test(cases[i].password);
                struct edit e = { EDIT_SET, "ciphertext", value, 0 };

                assert_true(base64_encode(data, cases[i].len, enc, sizeof(enc)) > 0);
                assert_true((size_t) snprintf(value, sizeof(value), "\"%s\"", enc) < sizeof(value));
                reject_one(base, "ciphertext too long", -EBADMSG, cases[i].message, &e);
        }
}

/* The largest ciphertexts parse: the data cap, plus the escrow with a password. */
static void test_parser_ciphertext_longest(void **state) {
        static const char *const passwords[] = { NULL, PASSWORD };
        static uint8_t data[SEALED_DATA_MAX + SEALED_ESCROW_LEN];
        static char enc[2 * SEALED_DATA_MAX], value[2 * SEALED_DATA_MAX + 4];

        for (size_t i = 0; i < ELEMENTSOF(passwords); i++) {
                _cleanup_(freep) char *base = seal_test(passwords[i]), *text = NULL;
                size_t len = SEALED_DATA_MAX + (passwords[i] ? SEALED_ESCROW_LEN : 0);
                struct edit e = { EDIT_SET, "ciphertext", value, 0 };
                struct sealed_object o;
                char err[256] = "";

                assert_true(base64_encode(data, len, enc, sizeof(enc)) > 0);
                assert_true((size_t) snprintf(value, sizeof(value), "\"%s\"", enc) < sizeof(value));
                text = edit_text(base, &e, 1);
                assert_int_equal(parse_text(text, &o, err, sizeof(err)), 0);
                assert_int_equal(o.ciphertext_len, len);
                sealed_object_done(&o);
        }
}

/* ---- known answer: the worked example of docs/SEALED-FORMAT.md ---- */

/* Made with a DUMMY K_fw (32 bytes 0x42) and salt 00 01 .. 1f. */
static const char doc_example[] =
        "{\n"
        "  \"format\": 1,\n"
        "  \"purpose\": \"cred/db\",\n"
        "  \"binding\": {\n"
        "    \"root_key\": \"vcek\",\n"
        "    \"fields\": [\n"
        "      \"policy\",\n"
        "      \"measurement\",\n"
        "      \"tcb_version\"\n"
        "    ],\n"
        "    \"vmpl\": 0,\n"
        "    \"guest_svn\": 1,\n"
        "    \"tcb_version\": \"0300000000000ad1\"\n"
        "  },\n"
        "  \"identity\": {\n"
        "    \"measurement\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeafa0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\n"
        "    \"policy\": \"0x30000\",\n"
        "    \"tcb\": \"0300000000000ad1\"\n"
        "  },\n"
        "  \"salt\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\n"
        "  \"nonce\": \"aG6hSrvQwt3/i9k2\",\n"
        "  \"ciphertext\": \"ZGK7VM6jmMwxHXSxhKF5Bk+EIwF4wUnHeXR/5yc+Q4FLJVrfG3oG\",\n"
        "  \"tag\": \"qgj0fBD/r6KDQtzthRxAyg==\",\n"
        "  \"password\": {\n"
        "    \"kdf\": \"scrypt\",\n"
        "    \"salt\": \"0ro5xECi83xLK77m1pnQOw==\",\n"
        "    \"n\": 32768,\n"
        "    \"r\": 8,\n"
        "    \"p\": 1,\n"
        "    \"nonce\": \"m9sNF5r6M3UEQgAC\",\n"
        "    \"tag\": \"mx3F5qJijvAWbTWuX3OSYw==\"\n"
        "  }\n"
        "}\n";

/* The example in the test is the one in the document. */
static void test_doc_example_in_doc(void **state) {
        const char *top = getenv("top_srcdir");
        _cleanup_(freep) char *path = NULL, *doc = NULL;
        const char *start, *end;
        FILE *f;
        long n;

        if (!top)
                skip();
        assert_true(asprintf(&path, "%s/docs/SEALED-FORMAT.md", top) > 0);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0 && n < 1024 * 1024);
        rewind(f);
        doc = calloc(1, (size_t) n + 1);
        assert_non_null(doc);
        assert_int_equal(fread(doc, 1, (size_t) n, f), (size_t) n);
        fclose(f);
        start = strstr(doc, "```json\n");
        assert_non_null(start);
        start += strlen("```json\n");
        end = strstr(start, "```");
        assert_non_null(end);
        assert_int_equal((size_t) (end - start), strlen(doc_example));
        assert_memory_equal(start, doc_example, strlen(doc_example));
}

static void test_doc_example(void **state) {
        _cleanup_(freep) char *text = NULL, *text2 = NULL;
        uint8_t k_fw[32], doc_salt[32], key[32], key2[32], want2[32];
        const char *pw = "correct horse battery staple", *info = "snpseal/sealed-object/v2/cred/db";
        struct sealed_object o;
        char err[256];

        memset(k_fw, 0x42, sizeof(k_fw));
        for (size_t i = 0; i < sizeof(doc_salt); i++)
                doc_salt[i] = (uint8_t) i;
        /* the example is format 1: its key is DeriveKey's */
        assert_int_equal(kdf_purpose_key(k_fw, doc_salt, "cred/db", NULL, 0, key), 0);
        assert_int_equal(sealed_object_key(k_fw, doc_salt, "cred/db", SEALED_FORMAT_V1, key2), 0);
        assert_memory_equal(key, key2, sizeof(key));
        assert_int_equal(open_text(doc_example, key, pw, "s3cret\n", 7), 0);
        assert_int_equal(open_text(doc_example, key, "wrong", NULL, 0), -EKEYREJECTED);
        /* The escrowed K_pw opens the password layer from the VM layer. A
         * format 1 object is rewritten in format 2 only: not under its own key. */
        assert_int_equal(rewrap_text_r(doc_example, key, NULL, "new", &text), -EPROTONOSUPPORT);
        /* format 2's key: HKDF(salt, K_fw, "snpseal/sealed-object/v2/" purpose), not DeriveKey's */
        assert_int_equal(sealed_object_key(k_fw, doc_salt, "cred/db", SEALED_FORMAT, key2), 0);
        assert_int_equal(kdf_hkdf_sha256(doc_salt, 32, k_fw, 32, info, strlen(info), want2, 32), 0);
        assert_memory_equal(key2, want2, sizeof(key2));
        assert_memory_not_equal(key, key2, sizeof(key));
        assert_int_equal(sealed_object_key(k_fw, doc_salt, "cred/db", 3, key2), -EPROTONOSUPPORT);
        assert_int_equal(sealed_object_key(k_fw, doc_salt, "bad purpose", SEALED_FORMAT, key2), -EINVAL);
        assert_int_equal(sealed_object_key(k_fw, doc_salt, "cred/db", SEALED_FORMAT, key2), 0);
        rewrap_k_new = key2;
        rewrap_text(doc_example, key, NULL, "new", 0, &text);
        rewrap_k_new = NULL;
        assert_int_equal(parse_text(text, &o, err, sizeof(err)), 0);
        assert_int_equal(o.format, SEALED_FORMAT);
        sealed_object_done(&o);
        assert_int_equal(open_text(text, key2, "new", "s3cret\n", 7), 0);
        assert_int_equal(open_text(text, key2, pw, NULL, 0), -EKEYREJECTED);
        assert_int_equal(open_text(text, key, "new", NULL, 0), -EBADMSG);
        /* a format 2 object rewraps under its own key */
        rewrap_text(text, key2, "new", "newer", 0, &text2);
        assert_int_equal(open_text(text2, key2, "newer", "s3cret\n", 7), 0);
        key[0] ^= 1;
        assert_int_equal(open_text(doc_example, key, pw, NULL, 0), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_nonces_fresh),
                cmocka_unit_test(test_seal_refusals),
                cmocka_unit_test(test_wrong_key),
                cmocka_unit_test(test_password),
                cmocka_unit_test(test_tampering),
                cmocka_unit_test(test_parser_rejects),
                cmocka_unit_test(test_parser_recorded_not_bound),
                cmocka_unit_test(test_parser_text),
                cmocka_unit_test(test_parser_ciphertext_too_long),
                cmocka_unit_test(test_parser_ciphertext_longest),
                cmocka_unit_test(test_rewrap),
                cmocka_unit_test(test_rewrap_keeps_header),
                cmocka_unit_test(test_rewrap_refusals),
                cmocka_unit_test(test_doc_example),
                cmocka_unit_test(test_doc_example_in_doc),
        };

        sealed_set_scrypt_cost(1024, 8, 1);
        return cmocka_run_group_tests_name("sealed", tests, NULL, NULL);
}

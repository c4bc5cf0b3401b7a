/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hexutil.h"
#include "kdf.h"
#include "macro.h"

/* RFC 5869 Appendix A, the SHA-256 cases. Byte runs are given as ranges. */
struct rfc5869_case {
        const char *name;
        uint8_t ikm_first, salt_first, info_first;   /* runs of consecutive bytes … */
        size_t ikm_len, salt_len, info_len;
        bool ikm_const;                               /* … or ikm_len times 0x0b */
        size_t okm_len;
        const char *okm;
};

static const struct rfc5869_case rfc5869_cases[] = {
        {
                .name = "A.1 basic",
                .ikm_const = true, .ikm_len = 22,
                .salt_first = 0x00, .salt_len = 13,
                .info_first = 0xf0, .info_len = 10,
                .okm_len = 42,
                .okm = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        },
        {
                .name = "A.2 longer inputs",
                .ikm_first = 0x00, .ikm_len = 80,
                .salt_first = 0x60, .salt_len = 80,
                .info_first = 0xb0, .info_len = 80,
                .okm_len = 82,
                .okm = "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                       "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                       "cc30c58179ec3e87c14c01d5c1f3434f1d87",
        },
        {
                .name = "A.3 zero-length salt and info",
                .ikm_const = true, .ikm_len = 22,
                .salt_len = 0, .info_len = 0,
                .okm_len = 42,
                .okm = "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        },
};

static void fill_run(uint8_t *p, uint8_t first, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (first + i);
}

static void test_rfc5869(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rfc5869_cases); i++) {
                const struct rfc5869_case *c = &rfc5869_cases[i];
                uint8_t ikm[80], salt[80], info[80], okm[82], want[82];

                if (c->ikm_const)
                        memset(ikm, 0x0b, c->ikm_len);
                else
                        fill_run(ikm, c->ikm_first, c->ikm_len);
                fill_run(salt, c->salt_first, c->salt_len);
                fill_run(info, c->info_first, c->info_len);
                assert_int_equal(hex_decode_exact(c->okm, want, c->okm_len), 0);

                print_message("# RFC 5869 %s\n", c->name);
                memset(okm, 0, sizeof(okm));
                assert_int_equal(kdf_hkdf_sha256(c->salt_len ? salt : NULL, c->salt_len, ikm, c->ikm_len,
                                                 c->info_len ? info : NULL, c->info_len, okm, c->okm_len), 0);
                assert_memory_equal(okm, want, c->okm_len);
        }
}

static void test_hkdf_refusals(void **state) {
        uint8_t ikm[32] = { 1 }, out[32];

        assert_int_equal(kdf_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out, 0), -EINVAL);
        assert_int_equal(kdf_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out, 255 * 32 + 1), -EINVAL);
        assert_int_equal(kdf_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, out, sizeof(out)), -EINVAL);
        assert_int_equal(kdf_hkdf_sha256(NULL, 5, ikm, sizeof(ikm), NULL, 0, out, sizeof(out)), -EINVAL);
        assert_int_equal(kdf_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 5, out, sizeof(out)), -EINVAL);
}

/* ---- purpose keys ---- */

static const uint8_t k_fw_a[KDF_KEY_LEN] = { 0x11, 0x22, 0x33, [31] = 0x44 };
static const uint8_t k_fw_b[KDF_KEY_LEN] = { 0x11, 0x22, 0x33, [31] = 0x45 };
static const uint8_t salt_a[KDF_SALT_LEN] = { 0xa0, [31] = 0xa1 };
static const uint8_t salt_b[KDF_SALT_LEN] = { 0xa0, [31] = 0xa2 };

static void purpose_key(const uint8_t *k, const uint8_t *salt, const char *purpose, const char *pin,
                        uint8_t out[KDF_KEY_LEN]) {
        assert_int_equal(kdf_purpose_key(k, salt, purpose, pin, pin ? strlen(pin) : 0, out), 0);
}

static void test_purpose_key_deterministic(void **state) {
        uint8_t a[KDF_KEY_LEN], b[KDF_KEY_LEN], zero[KDF_KEY_LEN] = { 0 };

        purpose_key(k_fw_a, salt_a, "luks2", NULL, a);
        purpose_key(k_fw_a, salt_a, "luks2", NULL, b);
        assert_memory_equal(a, b, KDF_KEY_LEN);
        assert_memory_not_equal(a, zero, KDF_KEY_LEN);
        purpose_key(k_fw_a, salt_a, "luks2", "1234", a);
        purpose_key(k_fw_a, salt_a, "luks2", "1234", b);
        assert_memory_equal(a, b, KDF_KEY_LEN);
}

/* Every derivation differs from every other: salt, purpose, K_fw and PIN all separate. */
static void test_purpose_key_separation(void **state) {
        static const struct {
                const char *name;
                const uint8_t *k, *salt;
                const char *purpose, *pin;
        } variants[] = {
                { "base",          k_fw_a, salt_a, "cred/db-password", NULL },
                { "other salt",    k_fw_a, salt_b, "cred/db-password", NULL },
                { "other purpose", k_fw_a, salt_a, "cred/db-passwore", NULL },
                { "other shape",   k_fw_a, salt_a, "luks2",            NULL },
                { "user purpose",  k_fw_a, salt_a, "user/1000/db-password", NULL },
                { "other K_fw",    k_fw_b, salt_a, "cred/db-password", NULL },
                { "with PIN",      k_fw_a, salt_a, "cred/db-password", "1234" },
                { "other PIN",     k_fw_a, salt_a, "cred/db-password", "1235" },
                { "longer PIN",    k_fw_a, salt_a, "cred/db-password", "12345" },
        };
        uint8_t keys[ELEMENTSOF(variants)][KDF_KEY_LEN];

        for (size_t i = 0; i < ELEMENTSOF(variants); i++)
                purpose_key(variants[i].k, variants[i].salt, variants[i].purpose, variants[i].pin, keys[i]);
        for (size_t i = 0; i < ELEMENTSOF(variants); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(variants); j++) {
                        if (memcmp(keys[i], keys[j], KDF_KEY_LEN) == 0)
                                fail_msg("%s gives the same key as %s", variants[i].name, variants[j].name);
                }
}

/* kdf_purpose_key is exactly HKDF(salt, K_fw [|| pin], "snpseal/v1/" purpose ["/pin"]). */
static void test_purpose_key_known_answer(void **state) {
        static const char pin[] = "correct horse";
        uint8_t got[KDF_KEY_LEN], want[KDF_KEY_LEN], ikm[KDF_KEY_LEN + sizeof(pin) - 1];
        static const char info_plain[] = "snpseal/v1/user/1000/mail";
        static const char info_pin[] = "snpseal/v1/user/1000/mail/pin";

        purpose_key(k_fw_a, salt_a, "user/1000/mail", NULL, got);
        assert_int_equal(kdf_hkdf_sha256(salt_a, sizeof(salt_a), k_fw_a, sizeof(k_fw_a),
                                         info_plain, strlen(info_plain), want, sizeof(want)), 0);
        assert_memory_equal(got, want, KDF_KEY_LEN);

        memcpy(ikm, k_fw_a, KDF_KEY_LEN);
        memcpy(ikm + KDF_KEY_LEN, pin, strlen(pin));
        purpose_key(k_fw_a, salt_a, "user/1000/mail", pin, got);
        assert_int_equal(kdf_hkdf_sha256(salt_a, sizeof(salt_a), ikm, sizeof(ikm),
                                         info_pin, strlen(info_pin), want, sizeof(want)), 0);
        assert_memory_equal(got, want, KDF_KEY_LEN);
}

static void test_purpose_key_refusals(void **state) {
        static uint8_t huge_pin[KDF_PIN_MAX + 1];
        static const struct {
                const char *name;
                const char *purpose;
                const void *pin;
                size_t pin_len;
                int error;
        } cases[] = {
                { "unknown purpose",      "ssh",            NULL, 0, -EINVAL },
                { "dot-dot segment",      "cred/..",        NULL, 0, -EINVAL },
                { "NULL purpose",         NULL,             NULL, 0, -EINVAL },
                { "empty PIN",            "luks2",          "",   0, -EINVAL },
                { "length without PIN",   "luks2",          NULL, 4, -EINVAL },
                { "PIN above the cap",    "luks2",          huge_pin, KDF_PIN_MAX + 1, -E2BIG },
        };
        uint8_t out[KDF_KEY_LEN], before[KDF_KEY_LEN];

        memset(huge_pin, '7', sizeof(huge_pin));
        memset(out, 0x5a, sizeof(out));
        memcpy(before, out, sizeof(out));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                print_message("# refusal: %s\n", cases[i].name);
                assert_int_equal(kdf_purpose_key(k_fw_a, salt_a, cases[i].purpose, cases[i].pin,
                                                 cases[i].pin_len, out), cases[i].error);
                assert_memory_equal(out, before, KDF_KEY_LEN);   /* untouched on failure */
        }
        /* The cap itself is allowed. */
        assert_int_equal(kdf_purpose_key(k_fw_a, salt_a, "luks2", huge_pin, KDF_PIN_MAX, out), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc5869),
                cmocka_unit_test(test_hkdf_refusals),
                cmocka_unit_test(test_purpose_key_deterministic),
                cmocka_unit_test(test_purpose_key_separation),
                cmocka_unit_test(test_purpose_key_known_answer),
                cmocka_unit_test(test_purpose_key_refusals),
        };
        return cmocka_run_group_tests_name("kdf", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "hexutil.h"
#include "log.h"
#include "secret.h"
#include "snp-error.h"

static void test_secret_zeroed_and_sized(void **state) {
        uint8_t *p = secret_alloc(100);

        assert_non_null(p);
        assert_int_equal(secret_size(p), 100);
        for (size_t i = 0; i < 100; i++)
                assert_int_equal(p[i], 0);
        memset(p, 0xaa, 100);
        secret_free(p);
        secret_free(NULL);
}

static void test_secret_size_zero_refused(void **state) {
        errno = 0;
        assert_null(secret_alloc(0));
        assert_int_equal(errno, EINVAL);
        assert_null(secret_alloc(SIZE_MAX - 8));
        assert_int_equal(errno, ENOMEM);
}

static void test_secret_locked_under_limit(void **state) {
        struct rlimit rl;
        uint8_t *p = secret_alloc(32);

        assert_non_null(p);
        assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
        /* Locking is best effort, but with a limit of a page or more it works. */
        if (rl.rlim_cur >= 8192)
                assert_true(secret_is_locked(p));
        secret_free(p);
}

/* The agent's pool: a freed page comes back wiped and locked; pages beyond
 * the pool's size, and larger buffers, are unmapped as before. */
static void test_secret_pool(void **state) {
        struct rlimit rl;
        uint8_t *p, *q, *big;

        assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
        if (rl.rlim_cur < 65536)
                skip();
        secret_pool_enable(1);
        p = secret_alloc(64);
        assert_non_null(p);
        memset(p, 0xaa, 64);
        secret_free(p);
        q = secret_alloc(200);          /* the same page, reused */
        assert_ptr_equal(q, p);
        assert_int_equal(secret_size(q), 200);
        assert_true(secret_is_locked(q));
        for (size_t i = 0; i < 200; i++)
                assert_int_equal(q[i], 0);
        big = secret_alloc(3 * 4096);   /* never pooled */
        assert_non_null(big);
        assert_int_equal(secret_size(big), 3 * 4096);
        secret_free(big);
        secret_free(q);
        secret_pool_enable(0);
        p = secret_alloc(64);           /* the pooled page is still handed out … */
        assert_ptr_equal(p, q);
        secret_free(p);                 /* … but no longer kept */
}

static void test_secret_dup(void **state) {
        const char src[] = "correct horse";
        _cleanup_secret_ char *p = secret_dup(src, sizeof(src));

        assert_non_null(p);
        assert_memory_equal(p, src, sizeof(src));
}

static void test_ct_memeq(void **state) {
        uint8_t a[33] = { 1, 2, 3 }, b[33] = { 1, 2, 3 };

        assert_true(ct_memeq(a, b, sizeof(a)));
        b[32] ^= 0x80;
        assert_false(ct_memeq(a, b, sizeof(a)));
        assert_true(ct_memeq(a, b, 0));
}

static void test_hex_roundtrip(void **state) {
        const uint8_t data[] = { 0x00, 0x3f, 0x2a, 0xff };
        uint8_t out[4];
        char hex[9];

        hex_encode(data, sizeof(data), hex);
        assert_string_equal(hex, "003f2aff");
        assert_int_equal(hex_decode_exact("003F2aFF", out, sizeof(out)), 0);
        assert_memory_equal(out, data, sizeof(data));
}

static void test_hex_rejects(void **state) {
        uint8_t out[2];
        static const char *const bad[] = { "abc", "abcdef", "zz00", "00 0", "", " 000", "0x00" };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(hex_decode_exact(bad[i], out, sizeof(out)), -EINVAL);
        assert_int_equal(hex_decode_exact(NULL, out, sizeof(out)), -EINVAL);
}

static void test_tcb_hex_byte_order(void **state) {
        char hex[TCB_HEX_LEN + 1];
        uint64_t t;

        /* byte 0 (boot loader) = 0x03, byte 1 (TEE) = 0x00, byte 6 (SNP) = 0x08, byte 7 (microcode) = 0xd1 */
        tcb_to_hex(UINT64_C(0xd108000000000003), hex);
        assert_string_equal(hex, "03000000000008d1");
        assert_int_equal(tcb_from_hex("03000000000008d1", &t), 0);
        assert_true(t == UINT64_C(0xd108000000000003));
        assert_int_equal(tcb_from_hex("03000000000008d", &t), -EINVAL);
        assert_int_equal(tcb_from_hex("03000000000008d1ff", &t), -EINVAL);
}

static void test_parse_numbers(void **state) {
        uint64_t v;
        uint32_t w;

        assert_int_equal(parse_u64("0", 10, &v), 0);
        assert_true(v == 0);
        assert_int_equal(parse_u64("0x1F", 100, &v), 0);
        assert_true(v == 31);
        assert_int_equal(parse_u64("10", 9, &v), -ERANGE);
        assert_int_equal(parse_u64("-1", UINT64_MAX, &v), -EINVAL);
        assert_int_equal(parse_u64(" 1", UINT64_MAX, &v), -EINVAL);
        assert_int_equal(parse_u64("+1", UINT64_MAX, &v), -EINVAL);
        assert_int_equal(parse_u64("1x", UINT64_MAX, &v), -EINVAL);
        assert_int_equal(parse_u64("", UINT64_MAX, &v), -EINVAL);
        assert_int_equal(parse_u64("0x", UINT64_MAX, &v), -EINVAL);
        assert_int_equal(parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_u32("3", 3, &w), 0);
        assert_int_equal(w, 3);
        assert_int_equal(parse_u32("4", 3, &w), -ERANGE);
}

static char last_message[1024];
static int last_level;

static void capture_sink(int level, const char *message, void *userdata) {
        last_level = level;
        snprintf(last_message, sizeof(last_message), "%s", message);
}

static void test_log_sink_and_level(void **state) {
        log_set_sink(capture_sink, NULL);
        log_set_max_level(LOG_INFO);
        last_message[0] = '\0';
        log_debug("hidden %d", 1);
        assert_string_equal(last_message, "");
        log_error("shown %s", "here");
        assert_string_equal(last_message, "shown here");
        assert_int_equal(last_level, LOG_ERR);
        log_set_sink(NULL, NULL);
}

static void test_error_record(void **state) {
        struct snp_error e = { 0 };

        assert_int_equal(snp_error_set(&e, -ENOTTY, 0, 0, "message key disabled: %s", "reboot required"), -ENOTTY);
        assert_int_equal(e.code, -ENOTTY);
        assert_string_equal(e.message, "message key disabled: reboot required");
        assert_int_equal(snp_error_set(NULL, -EIO, 0, 0, "ignored"), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret_zeroed_and_sized),
                cmocka_unit_test(test_secret_size_zero_refused),
                cmocka_unit_test(test_secret_locked_under_limit),
                cmocka_unit_test(test_secret_dup),
                cmocka_unit_test(test_secret_pool),
                cmocka_unit_test(test_ct_memeq),
                cmocka_unit_test(test_hex_roundtrip),
                cmocka_unit_test(test_hex_rejects),
                cmocka_unit_test(test_tcb_hex_byte_order),
                cmocka_unit_test(test_parse_numbers),
                cmocka_unit_test(test_log_sink_and_level),
                cmocka_unit_test(test_error_record),
        };
        return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}

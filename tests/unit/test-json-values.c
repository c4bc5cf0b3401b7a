/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * cli/json-values.c: one JSON form per value in snpseal's --json output
 * (snpseal(1), "JSON OUTPUT"): decoded objects split into the raw string
 * and "<name>_decoded", GetStatus's policy_flags and tcb_decoded renamed,
 * the recorded identity's policy padded; the arguments left alone.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json-util.h"
#include "json-values.h"

static json_object *parse(const char *text) {
        json_object *o = json_tokener_parse(text);

        assert_non_null(o);
        return o;
}

/* o's JSON text, compact, into a static buffer. */
static const char *text(json_object *o) {
        static char buf[4096];

        assert_non_null(o);
        (void) snprintf(buf, sizeof(buf), "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        return buf;
}

static void test_report(void **state) {
        _cleanup_(json_object_putp) json_object *in = parse(
                "{\"version\":3,\"policy\":{\"raw\":\"0x0000000000030000\",\"debug\":false},"
                "\"current_tcb\":{\"raw\":\"03000000000008d1\",\"snp\":8},\"cpuid\":{\"family\":25},"
                "\"report_data\":\"00\",\"nothing\":null}");
        _cleanup_(json_object_putp) json_object *before = NULL, *out = NULL;

        (void) state;
        assert_int_equal(json_object_deep_copy(in, &before, NULL), 0);
        out = json_values_report(in);
        assert_string_equal(text(out),
                            "{\"version\":3,\"policy\":\"0x0000000000030000\","
                            "\"policy_decoded\":{\"raw\":\"0x0000000000030000\",\"debug\":false},"
                            "\"current_tcb\":\"03000000000008d1\","
                            "\"current_tcb_decoded\":{\"raw\":\"03000000000008d1\",\"snp\":8},"
                            "\"cpuid\":{\"family\":25},\"report_data\":\"00\",\"nothing\":null}");
        /* The argument is not changed. */
        assert_true(json_object_equal(in, before));
}

static void test_status(void **state) {
        _cleanup_(json_object_putp) json_object *in = parse(
                "{\"backend\":\"simulator\",\"policy\":\"0x0000000000030000\","
                "\"policy_flags\":{\"raw\":\"0x0000000000030000\",\"smt\":true},"
                "\"launch_tcb\":\"03000000000008d1\",\"committed_tcb\":\"04000000000008d1\","
                "\"tcb_decoded\":{\"launch\":{\"raw\":\"03000000000008d1\",\"boot_loader\":3},"
                "\"committed\":{\"raw\":\"04000000000008d1\",\"boot_loader\":4}},"
                "\"platform_info\":{\"raw\":\"0x0000000000000025\",\"smt_enabled\":true},\"version\":\"0.1.0\"}");
        _cleanup_(json_object_putp) json_object *out = json_values_status(in);

        (void) state;
        assert_string_equal(text(out),
                            "{\"backend\":\"simulator\",\"policy\":\"0x0000000000030000\","
                            "\"policy_decoded\":{\"raw\":\"0x0000000000030000\",\"smt\":true},"
                            "\"launch_tcb\":\"03000000000008d1\","
                            "\"launch_tcb_decoded\":{\"raw\":\"03000000000008d1\",\"boot_loader\":3},"
                            "\"committed_tcb\":\"04000000000008d1\","
                            "\"committed_tcb_decoded\":{\"raw\":\"04000000000008d1\",\"boot_loader\":4},"
                            "\"platform_info\":\"0x0000000000000025\","
                            "\"platform_info_decoded\":{\"raw\":\"0x0000000000000025\",\"smt_enabled\":true},"
                            "\"version\":\"0.1.0\"}");
}

static void test_identity(void **state) {
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "{\"measurement\":\"3f2a\",\"policy\":\"0x30000\",\"tcb\":\"03000000000008d1\"}",
                  "{\"measurement\":\"3f2a\",\"policy\":\"0x0000000000030000\",\"tcb\":\"03000000000008d1\"}" },
                { "{\"policy\":\"0xffffffffffffffff\"}", "{\"policy\":\"0xffffffffffffffff\"}" },
                { "{\"policy\":\"0x0\"}", "{\"policy\":\"0x0000000000000000\"}" },
                /* Not a number: left as it is (the agent refuses it anyway). */
                { "{\"policy\":\"junk\"}", "{\"policy\":\"junk\"}" },
                { "{\"policy\":196608,\"guest_svn\":1}", "{\"policy\":196608,\"guest_svn\":1}" },
                { "{\"image_id\":null}", "{\"image_id\":null}" },
                { "{}", "{}" },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *in = parse(cases[i].in);
                _cleanup_(json_object_putp) json_object *out = json_values_identity(in);

                assert_string_equal(text(out), cases[i].want);
        }
}

static void test_not_objects(void **state) {
        _cleanup_(json_object_putp) json_object *a = parse("[1]");

        (void) state;
        assert_null(json_values_report(a));
        assert_null(json_values_status(a));
        assert_null(json_values_identity(a));
        assert_null(json_values_report(NULL));
        assert_null(json_values_identity(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_report),
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_identity),
                cmocka_unit_test(test_not_objects),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

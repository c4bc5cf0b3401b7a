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
#include <json-c/json.h>

#include "binding.h"
#include "hexutil.h"
#include "macro.h"
#include "purpose.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

#define F_POL SNP_FIELD_POLICY
#define F_IMG SNP_FIELD_IMAGE_ID
#define F_FAM SNP_FIELD_FAMILY_ID
#define F_MEAS SNP_FIELD_MEASUREMENT
#define F_SVN SNP_FIELD_GUEST_SVN
#define F_TCB SNP_FIELD_TCB_VERSION

/* TCB values as hex (byte 0 first), the way users write them. */
static uint64_t tcb(const char *hex) {
        uint64_t t;

        assert_int_equal(tcb_from_hex(hex, &t), 0);
        return t;
}

static void assert_error_contains(const char *err, const char *want) {
        if (!strstr(err, want))
                fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

/* ---- CLI syntax ---- */

static void assert_spec_equal(const struct snp_binding_spec *a, const struct snp_binding_spec *b) {
        assert_int_equal(a->root_key, b->root_key);
        assert_true(a->fields == b->fields);
        assert_int_equal(a->vmpl_set, b->vmpl_set);
        assert_int_equal(a->vmpl, b->vmpl);
        assert_int_equal(a->guest_svn_set, b->guest_svn_set);
        assert_int_equal(a->guest_svn, b->guest_svn);
        assert_int_equal(a->tcb, b->tcb);
        assert_true(a->tcb_version == b->tcb_version);
}

static void test_spec_default(void **state) {
        struct snp_binding_spec s;

        memset(&s, 0xff, sizeof(s));
        snp_binding_spec_init_default(&s);
        assert_int_equal(s.root_key, SNP_ROOT_KEY_VCEK);
        assert_true(s.fields == (F_MEAS | F_POL | F_TCB));
        assert_false(s.vmpl_set);
        assert_false(s.guest_svn_set);
        assert_int_equal(s.tcb, SNP_TCB_MIN);
}

static void test_spec_accept(void **state) {
        static const struct {
                const char *option, *value;
                /* what changes against the default */
                int root_key;           /* -1: unchanged */
                uint64_t fields;        /* 0: unchanged */
                int vmpl, guest_svn;    /* -1: unset */
                int tcb;                /* -1: unchanged */
                const char *tcb_hex;
        } cases[] = {
                { "bind", "measurement,policy,tcb_version", -1, F_MEAS | F_POL | F_TCB, -1, -1, -1, NULL },
                { "bind", "measurement", -1, F_MEAS, -1, -1, -1, NULL },
                { "bind", "tcb_version,guest_svn,family_id,image_id,measurement,policy", -1,
                  F_POL | F_IMG | F_FAM | F_MEAS | F_SVN | F_TCB, -1, -1, -1, NULL },
                { "root-key", "vcek", SNP_ROOT_KEY_VCEK, 0, -1, -1, -1, NULL },
                { "root-key", "vlek", SNP_ROOT_KEY_VLEK, 0, -1, -1, -1, NULL },
                { "root-key", "vmrk", SNP_ROOT_KEY_VMRK, 0, -1, -1, -1, NULL },
                { "vmpl", "0", -1, 0, 0, -1, -1, NULL },
                { "vmpl", "3", -1, 0, 3, -1, -1, NULL },
                { "guest-svn", "0", -1, 0, -1, 0, -1, NULL },
                { "guest-svn", "4294967", -1, 0, -1, 4294967, -1, NULL },
                { "tcb", "min", -1, 0, -1, -1, SNP_TCB_MIN, NULL },
                { "tcb", "launch", -1, 0, -1, -1, SNP_TCB_LAUNCH, NULL },
                { "tcb", "committed", -1, 0, -1, -1, SNP_TCB_COMMITTED, NULL },
                { "tcb", "03000000000008d1", -1, 0, -1, -1, SNP_TCB_EXPLICIT, "03000000000008d1" },
                { "tcb", "03000000000008D1", -1, 0, -1, -1, SNP_TCB_EXPLICIT, "03000000000008d1" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct snp_binding_spec s, want;
                char err[256] = "";

                print_message("# --%s=%s\n", cases[i].option, cases[i].value);
                snp_binding_spec_init_default(&s);
                snp_binding_spec_init_default(&want);
                if (cases[i].root_key >= 0)
                        want.root_key = (enum snp_root_key) cases[i].root_key;
                if (cases[i].fields)
                        want.fields = cases[i].fields;
                if (cases[i].vmpl >= 0) {
                        want.vmpl_set = true;
                        want.vmpl = (uint32_t) cases[i].vmpl;
                }
                if (cases[i].guest_svn >= 0) {
                        want.guest_svn_set = true;
                        want.guest_svn = (uint32_t) cases[i].guest_svn;
                }
                if (cases[i].tcb >= 0)
                        want.tcb = (enum snp_tcb_choice) cases[i].tcb;
                if (cases[i].tcb_hex)
                        want.tcb_version = tcb(cases[i].tcb_hex);
                assert_int_equal(snp_binding_spec_set(&s, cases[i].option, cases[i].value, err, sizeof(err)), 0);
                assert_string_equal(err, "");
                assert_spec_equal(&s, &want);
        }
}

static void test_spec_reject(void **state) {
        static const struct {
                const char *option, *value, *message;
        } cases[] = {
                { "bind", "measurement,measurement", "field 'measurement' given twice" },
                { "bind", "policy,measurement,policy", "field 'policy' given twice" },
                { "bind", "measurement,host_data", "unknown field 'host_data'" },
                { "bind", "measurement,Policy", "unknown field 'Policy'" },
                { "bind", "measurement,,policy", "empty field name" },
                { "bind", "measurement,", "empty field name" },
                { "bind", ",measurement", "empty field name" },
                { "bind", "", "needs at least one field" },
                { "bind", "measurement policy", "unknown field 'measurement policy'" },
                { "bind", NULL, "--bind needs a value" },
                { "root-key", "foo", "unknown root key 'foo': use vcek, vlek or vmrk" },
                { "root-key", "VCEK", "unknown root key 'VCEK'" },
                { "root-key", "", "unknown root key ''" },
                { "vmpl", "4", "invalid VMPL '4': expected a number 0..3" },
                { "vmpl", "-1", "invalid VMPL '-1'" },
                { "vmpl", "one", "invalid VMPL 'one'" },
                { "vmpl", "", "invalid VMPL ''" },
                { "guest-svn", "4294967296", "invalid guest SVN '4294967296'" },
                { "guest-svn", "-1", "invalid guest SVN '-1'" },
                { "guest-svn", "1.5", "invalid guest SVN '1.5'" },
                { "tcb", "latest", "invalid TCB 'latest': expected launch, committed, min or 16 hex digits" },
                { "tcb", "03000000000008d", "invalid TCB '03000000000008d'" },
                { "tcb", "03000000000008d1ff", "invalid TCB" },
                { "tcb", "0x03000000000008d1", "invalid TCB" },
                { "tcb", "03000000000008g1", "invalid TCB" },
                { "tcb", "Min", "invalid TCB 'Min'" },
                { "measurement", "1", "unknown binding option 'measurement'" },
                { "--bind", "measurement", "unknown binding option '--bind'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct snp_binding_spec s, before;
                char err[256] = "";

                print_message("# --%s=%s\n", cases[i].option, cases[i].value ? cases[i].value : "(none)");
                snp_binding_spec_init_default(&s);
                before = s;
                assert_int_equal(snp_binding_spec_set(&s, cases[i].option, cases[i].value, err, sizeof(err)),
                                 -EINVAL);
                assert_error_contains(err, cases[i].message);
                assert_spec_equal(&s, &before);   /* unchanged on failure */
        }
}

static void test_spec_unknown_field_lists_known(void **state) {
        struct snp_binding_spec s;
        char err[256];

        snp_binding_spec_init_default(&s);
        assert_int_equal(snp_binding_spec_set(&s, "bind", "measurment", err, sizeof(err)), -EINVAL);
        assert_error_contains(err, "unknown field 'measurment'");
        assert_error_contains(err, "policy, image_id, family_id, measurement, guest_svn, tcb_version");
        /* A NULL error buffer is fine. */
        assert_int_equal(snp_binding_spec_set(&s, "bind", "x", NULL, 0), -EINVAL);
}

/* ---- resolution ---- */

static struct snp_report make_report(const char *launch, const char *committed, uint32_t svn) {
        struct snp_report r;

        memset(&r, 0, sizeof(r));
        r.version = 3;
        r.guest_svn = svn;
        r.policy = UINT64_C(0x30000);
        r.launch_tcb = tcb(launch);
        r.committed_tcb = tcb(committed);
        r.current_tcb = r.committed_tcb;
        r.reported_tcb = r.committed_tcb;
        for (size_t i = 0; i < sizeof(r.measurement); i++)
                r.measurement[i] = (uint8_t) (0x30 + i);
        for (size_t i = 0; i < sizeof(r.image_id); i++) {
                r.image_id[i] = (uint8_t) (0xa0 + i);
                r.family_id[i] = (uint8_t) (0xf0 + i);
        }
        return r;
}

static void test_resolve_default(void **state) {
        /* LAUNCH is lower in byte 0, COMMITTED lower in byte 6: min takes each. */
        struct snp_report r = make_report("030000000000090d", "040000000000080d", 7);
        struct snp_binding_spec s;
        struct snp_binding b;
        char err[256] = "";

        snp_binding_spec_init_default(&s);
        assert_int_equal(snp_binding_resolve(&s, &r, 2, &b, err, sizeof(err)), 0);
        assert_int_equal(b.root_key, SNP_ROOT_KEY_VCEK);
        assert_true(b.fields == (F_MEAS | F_POL | F_TCB));
        assert_int_equal(b.vmpl, 2);
        assert_int_equal(b.guest_svn, 7);
        assert_true(b.tcb_version == tcb("030000000000080d"));
}

static void test_resolve_choices(void **state) {
        static const struct {
                const char *option, *value;
                const char *launch, *committed;
                uint32_t own_vmpl;
                int error;
                const char *message;    /* error text, or the resolved TCB */
                uint32_t vmpl, svn;
        } cases[] = {
                { "tcb", "launch",    "0300000000000708", "0400000000000808", 0, 0, "0300000000000708", 0, 5 },
                { "tcb", "committed", "0300000000000708", "0400000000000808", 0, 0, "0400000000000808", 0, 5 },
                { "tcb", "min",       "0300000000000908", "0400000000000808", 0, 0, "0300000000000808", 0, 5 },
                { "tcb", "0200000000000508", "0300000000000708", "0400000000000808", 0, 0, "0200000000000508", 0, 5 },
                /* explicit, equal to committed: allowed */
                { "tcb", "0400000000000808", "0300000000000708", "0400000000000808", 0, 0, "0400000000000808", 0, 5 },
                /* above committed in one byte only, below in another: refused */
                { "tcb", "0300000000000908", "0300000000000708", "0400000000000808", 0, -ERANGE,
                  "the requested TCB 0300000000000908 is above the committed TCB 0400000000000808", 0, 0 },
                { "tcb", "launch",    "0300000000000908", "0400000000000808", 0, -ERANGE,
                  "the launch TCB 0300000000000908 is above the committed TCB", 0, 0 },
                { "vmpl", "3",        "0300000000000708", "0400000000000808", 1, 0, "0300000000000708", 3, 5 },
                { "vmpl", "1",        "0300000000000708", "0400000000000808", 1, 0, "0300000000000708", 1, 5 },
                { "vmpl", "0",        "0300000000000708", "0400000000000808", 1, -ERANGE,
                  "VMPL 0 is below this VM's VMPL 1", 0, 0 },
                { "guest-svn", "4",   "0300000000000708", "0400000000000808", 0, 0, "0300000000000708", 0, 4 },
                { "guest-svn", "6",   "0300000000000708", "0400000000000808", 0, -ERANGE,
                  "guest SVN 6 is above the launch SVN 5", 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct snp_report r = make_report(cases[i].launch, cases[i].committed, 5);
                struct snp_binding_spec s;
                struct snp_binding b, before;
                char err[256] = "";
                int ret;

                print_message("# --%s=%s\n", cases[i].option, cases[i].value);
                snp_binding_spec_init_default(&s);
                assert_int_equal(snp_binding_spec_set(&s, cases[i].option, cases[i].value, err, sizeof(err)), 0);
                memset(&b, 0xee, sizeof(b));
                before = b;
                ret = snp_binding_resolve(&s, &r, cases[i].own_vmpl, &b, err, sizeof(err));
                assert_int_equal(ret, cases[i].error);
                if (ret < 0) {
                        assert_error_contains(err, cases[i].message);
                        assert_memory_equal(&b, &before, sizeof(b));
                        continue;
                }
                assert_true(b.tcb_version == tcb(cases[i].message));
                assert_int_equal(b.vmpl, cases[i].vmpl);
                assert_int_equal(b.guest_svn, cases[i].svn);
        }
}

/* ---- key request ---- */

static void test_key_req_mapping(void **state) {
        static const struct {
                enum snp_root_key root;
                uint32_t root_key_select;
        } cases[] = {
                /* VCEK: ROOT_KEY_SELECT 0, KEY_SEL 1 explicitly (never 0, which means VLEK if installed). */
                { SNP_ROOT_KEY_VCEK, UINT32_C(0x2) },
                { SNP_ROOT_KEY_VLEK, UINT32_C(0x4) },
                { SNP_ROOT_KEY_VMRK, UINT32_C(0x1) },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct snp_binding b = {
                        .root_key = cases[i].root,
                        .fields = F_MEAS | F_POL | F_TCB | F_SVN,
                        .vmpl = 2,
                        .guest_svn = 9,
                        .tcb_version = tcb("03000000000008d1"),
                };
                struct snp_msg_key_req req;

                memset(&req, 0xff, sizeof(req));
                snp_binding_to_key_req(&b, &req);
                assert_int_equal(req.root_key_select, cases[i].root_key_select);
                assert_int_equal(req.root_key_select & SNP_KEY_REQ_RESERVED_MASK, 0);
                assert_int_equal(req.reserved, 0);
                assert_true(req.guest_field_select == (F_MEAS | F_POL | F_TCB | F_SVN));
                assert_int_equal(req.vmpl, 2);
                assert_int_equal(req.guest_svn, 9);
                assert_true(req.tcb_version == UINT64_C(0xd108000000000003));
        }
        /* The VCEK selector is KEY_SEL = 1 in bits 2:1. */
        assert_int_equal((cases[0].root_key_select & SNP_KEY_REQ_KEY_SEL_MASK) >> SNP_KEY_REQ_KEY_SEL_SHIFT,
                         SNP_KEY_SEL_VCEK);
}

static void test_validate(void **state) {
        struct snp_binding b = { .root_key = SNP_ROOT_KEY_VCEK, .fields = F_MEAS };
        char err[256];

        assert_int_equal(snp_binding_validate(&b, err, sizeof(err)), 0);
        b.fields = SNP_FIELD_LAUNCH_MIT | F_MEAS;
        assert_int_equal(snp_binding_validate(&b, err, sizeof(err)), -EINVAL);
        assert_error_contains(err, "invalid field selection 0x48");
        b.fields = F_MEAS;
        b.vmpl = 4;
        assert_int_equal(snp_binding_validate(&b, err, sizeof(err)), -EINVAL);
        assert_error_contains(err, "invalid VMPL 4");
        b.vmpl = 0;
        b.root_key = _SNP_ROOT_KEY_MAX;
        assert_int_equal(snp_binding_validate(&b, err, sizeof(err)), -EINVAL);
        assert_error_contains(err, "invalid root key");
}

/* ---- persistent use ---- */

static void test_persistent_refusals(void **state) {
        static const struct {
                const char *name;
                enum snp_root_key root;
                uint64_t fields;
                const char *floor;      /* the floor's refusal; NULL: above it */
                const char *message;    /* refused with allow_weak_bindings unless forced; NULL: accepted */
        } cases[] = {
                { "default", SNP_ROOT_KEY_VCEK, F_MEAS | F_POL | F_TCB, NULL, NULL },
                { "vlek", SNP_ROOT_KEY_VLEK, F_MEAS | F_POL | F_TCB, NULL, NULL },
                { "all fields", SNP_ROOT_KEY_VCEK, SNP_FIELD_VALID_V1, NULL, NULL },
                { "vlek without policy", SNP_ROOT_KEY_VLEK, F_MEAS | F_TCB,
                  "binding (vlek; measurement,tcb_version; vmpl 0; svn 0; tcb 0000000000000000) does not bind "
                  "policy: a guest the host launches on this chip with another image or a debug policy could "
                  "derive the same key", NULL },
                { "vmrk", SNP_ROOT_KEY_VMRK, F_MEAS | F_POL | F_TCB, "derives from vmrk, not vcek or vlek",
                  "VMRK is generated anew at every launch: anything sealed to it is lost at the next reboot; "
                  "use --root-key=vcek, or --force" },
                { "ids only", SNP_ROOT_KEY_VCEK, F_IMG | F_FAM | F_SVN | F_TCB, "does not bind measurement, policy:",
                  "anyone can sign an ID block with the same family/image ID and SVN under their own key" },
                { "no fields", SNP_ROOT_KEY_VCEK, 0, "no fields; vmpl 0; svn 0; tcb 0000000000000000) does not bind "
                  "measurement, policy, tcb_version", "without the measurement any image could derive the key" },
                { "no tcb", SNP_ROOT_KEY_VCEK, F_MEAS | F_POL, "does not bind tcb_version",
                  "binding without tcb_version refused" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct snp_binding b = { .root_key = cases[i].root, .fields = cases[i].fields };
                char err[512] = "";

                print_message("# %s\n", cases[i].name);
                if (!cases[i].floor) {
                        assert_int_equal(snp_binding_check_floor(&b, err, sizeof(err)), 0);
                        assert_int_equal(snp_binding_check_persistent(&b, false, false, err, sizeof(err)), 0);
                } else {
                        /* --force alone never lowers the floor. */
                        assert_int_equal(snp_binding_check_floor(&b, err, sizeof(err)), -EPERM);
                        assert_error_contains(err, cases[i].floor);
                        assert_int_equal(snp_binding_check_persistent(&b, false, true, err, sizeof(err)), -EPERM);
                        assert_error_contains(err, cases[i].floor);
                        assert_error_contains(err, "only allow_weak_bindings = yes in snpseald.conf allows it");
                }
                if (!cases[i].message) {
                        assert_int_equal(snp_binding_check_persistent(&b, true, false, err, sizeof(err)), 0);
                        continue;
                }
                assert_int_equal(snp_binding_check_persistent(&b, true, false, err, sizeof(err)), -EPERM);
                assert_error_contains(err, cases[i].message);
                assert_error_contains(err, "--force");
                assert_int_equal(snp_binding_check_persistent(&b, true, true, err, sizeof(err)), 0);
        }
}

/* ---- JSON ---- */

static json_object *parse(const char *text) {
        json_object *o = json_tokener_parse(text);

        if (!o)
                fail_msg("test JSON does not parse: %s", text);
        return o;
}

static void test_json_exact(void **state) {
        struct snp_binding b = {
                .root_key = SNP_ROOT_KEY_VCEK,
                .fields = F_MEAS | F_POL | F_TCB,
                .vmpl = 0,
                .guest_svn = 1,
                .tcb_version = tcb("03000000000008d1"),
        };
        _cleanup_(json_object_putp) json_object *o = snp_binding_to_json(&b);

        assert_non_null(o);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"root_key\":\"vcek\",\"fields\":[\"policy\",\"measurement\",\"tcb_version\"],"
                            "\"vmpl\":0,\"guest_svn\":1,\"tcb_version\":\"03000000000008d1\"}");
}

static void test_json_roundtrip(void **state) {
        static const struct snp_binding cases[] = {
                { SNP_ROOT_KEY_VCEK, F_MEAS | F_POL | F_TCB, 0, 1, UINT64_C(0xd108000000000003) },
                { SNP_ROOT_KEY_VLEK, SNP_FIELD_VALID_V1, 3, UINT32_MAX, UINT64_MAX },
                { SNP_ROOT_KEY_VMRK, 0, 1, 0, 0 },
                { SNP_ROOT_KEY_VCEK, F_IMG | F_SVN, 2, 4294967, UINT64_C(0x0102030405060708) },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *o = snp_binding_to_json(&cases[i]), *back = NULL;
                struct snp_binding b;
                char err[256] = "";

                assert_non_null(o);
                /* Through text, as it is stored. */
                back = parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                memset(&b, 0xee, sizeof(b));
                assert_int_equal(snp_binding_from_json(back, &b, err, sizeof(err)), 0);
                assert_int_equal(b.root_key, cases[i].root_key);
                assert_true(b.fields == cases[i].fields);
                assert_int_equal(b.vmpl, cases[i].vmpl);
                assert_int_equal(b.guest_svn, cases[i].guest_svn);
                assert_true(b.tcb_version == cases[i].tcb_version);
        }
}

static void test_json_unknown_keys_ignored(void **state) {
        _cleanup_(json_object_putp) json_object *o = parse(
                "{\"future\":{\"x\":[1,2]},\"root_key\":\"vlek\",\"fields\":[\"measurement\",\"tcb_version\"],"
                "\"vmpl\":1,\"guest_svn\":2,\"tcb_version\":\"0300000000000000\",\"launch_mit\":7}");
        struct snp_binding b;
        char err[256] = "";

        assert_int_equal(snp_binding_from_json(o, &b, err, sizeof(err)), 0);
        assert_int_equal(b.root_key, SNP_ROOT_KEY_VLEK);
        assert_true(b.fields == (F_MEAS | F_TCB));
        assert_int_equal(b.vmpl, 1);
        assert_int_equal(b.guest_svn, 2);
        assert_true(b.tcb_version == 3);
}

#define J_FIELDS "\"fields\":[\"measurement\"]"
#define J_ROOT "\"root_key\":\"vcek\""
#define J_VMPL "\"vmpl\":0"
#define J_SVN "\"guest_svn\":1"
#define J_TCB "\"tcb_version\":\"03000000000008d1\""

static void test_json_reject(void **state) {
        static const struct {
                const char *json, *message;
        } cases[] = {
                { "[]", "not a JSON object" },
                { "\"vcek\"", "not a JSON object" },
                { "{" J_FIELDS "," J_VMPL "," J_SVN "," J_TCB "}", "missing \"root_key\"" },
                { "{" J_ROOT "," J_VMPL "," J_SVN "," J_TCB "}", "missing \"fields\"" },
                { "{" J_ROOT "," J_FIELDS "," J_SVN "," J_TCB "}", "missing \"vmpl\"" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL "," J_TCB "}", "missing \"guest_svn\"" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL "," J_SVN "}", "missing \"tcb_version\"" },
                { "{\"root_key\":\"foo\"," J_FIELDS "," J_VMPL "," J_SVN "," J_TCB "}", "unknown root key \"foo\"" },
                { "{\"root_key\":\"VCEK\"," J_FIELDS "," J_VMPL "," J_SVN "," J_TCB "}", "unknown root key \"VCEK\"" },
                { "{\"root_key\":1," J_FIELDS "," J_VMPL "," J_SVN "," J_TCB "}", "\"root_key\" must be a string" },
                { "{" J_ROOT ",\"fields\":\"measurement\"," J_VMPL "," J_SVN "," J_TCB "}",
                  "\"fields\" must be an array" },
                { "{" J_ROOT ",\"fields\":[3]," J_VMPL "," J_SVN "," J_TCB "}", "\"fields\" must be an array" },
                { "{" J_ROOT ",\"fields\":[\"measurement\",\"host_data\"]," J_VMPL "," J_SVN "," J_TCB "}",
                  "unknown field \"host_data\"" },
                { "{" J_ROOT ",\"fields\":[\"measurement\",\"measurement\"]," J_VMPL "," J_SVN "," J_TCB "}",
                  "field \"measurement\" listed twice" },
                { "{" J_ROOT "," J_FIELDS ",\"vmpl\":4," J_SVN "," J_TCB "}", "\"vmpl\" must be an integer 0..3" },
                { "{" J_ROOT "," J_FIELDS ",\"vmpl\":-1," J_SVN "," J_TCB "}", "\"vmpl\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS ",\"vmpl\":\"0\"," J_SVN "," J_TCB "}", "\"vmpl\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS ",\"vmpl\":0.0," J_SVN "," J_TCB "}", "\"vmpl\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS ",\"vmpl\":true," J_SVN "," J_TCB "}", "\"vmpl\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS ",\"vmpl\":null," J_SVN "," J_TCB "}", "\"vmpl\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL ",\"guest_svn\":-1," J_TCB "}",
                  "\"guest_svn\" must be an integer 0..4294967295" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL ",\"guest_svn\":4294967296," J_TCB "}",
                  "\"guest_svn\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL ",\"guest_svn\":18446744073709551615," J_TCB "}",
                  "\"guest_svn\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL ",\"guest_svn\":1e3," J_TCB "}",
                  "\"guest_svn\" must be an integer" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL "," J_SVN ",\"tcb_version\":\"03000000000008d\"}",
                  "\"tcb_version\" must be a string of 16 hex digits" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL "," J_SVN ",\"tcb_version\":\"03000000000008dx\"}",
                  "\"tcb_version\" must be a string of 16 hex digits" },
                { "{" J_ROOT "," J_FIELDS "," J_VMPL "," J_SVN ",\"tcb_version\":12345}",
                  "\"tcb_version\" must be a string of 16 hex digits" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *o = parse(cases[i].json);
                struct snp_binding b, before;
                char err[256] = "";

                print_message("# %s\n", cases[i].json);
                memset(&b, 0xee, sizeof(b));
                before = b;
                assert_int_equal(snp_binding_from_json(o, &b, err, sizeof(err)), -EINVAL);
                assert_error_contains(err, cases[i].message);
                assert_memory_equal(&b, &before, sizeof(b));
        }
        /* NULL (e.g. a missing object further up) is refused too. */
        {
                struct snp_binding b;
                char err[256] = "";

                assert_int_equal(snp_binding_from_json(NULL, &b, err, sizeof(err)), -EINVAL);
                assert_error_contains(err, "not a JSON object");
        }
}

static void test_format(void **state) {
        struct snp_binding b = {
                .root_key = SNP_ROOT_KEY_VCEK,
                .fields = F_MEAS | F_POL | F_TCB,
                .vmpl = 0,
                .guest_svn = 1,
                .tcb_version = tcb("03000000000008d1"),
        };
        char buf[128], small[10];
        int n;

        n = snp_binding_format(&b, buf, sizeof(buf));
        assert_int_equal(n, (int) strlen(buf));
        assert_string_equal(buf, "vcek; policy,measurement,tcb_version; vmpl 0; svn 1; tcb 03000000000008d1");
        b.root_key = SNP_ROOT_KEY_VMRK;
        b.fields = 0;
        b.vmpl = 3;
        assert_true(snp_binding_format(&b, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "vmrk; no fields; vmpl 3; svn 1; tcb 03000000000008d1");
        assert_int_equal(snp_binding_format(&b, small, sizeof(small)), -ENOBUFS);
}

/* ---- recorded identity ---- */

static void test_identity_json(void **state) {
        struct snp_report r = make_report("0300000000000708", "0400000000000808", 5);
        struct snp_binding b = { .root_key = SNP_ROOT_KEY_VCEK, .fields = F_MEAS | F_POL | F_TCB };
        _cleanup_(json_object_putp) json_object *id = NULL, *all = NULL;

        assert_int_equal(snp_binding_identity_json(&b, &r, &id), 0);
        assert_string_equal(json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN),
                            "{\"measurement\":\"303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f"
                            "505152535455565758595a5b5c5d5e5f\",\"policy\":\"0x30000\","
                            "\"tcb\":\"0400000000000808\"}");

        b.fields = SNP_FIELD_VALID_V1;
        assert_int_equal(snp_binding_identity_json(&b, &r, &all), 0);
        assert_int_equal(json_object_object_length(all), 6);
        assert_string_equal(json_object_get_string(json_object_object_get(all, "image_id")),
                            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
        assert_string_equal(json_object_get_string(json_object_object_get(all, "family_id")),
                            "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        assert_int_equal(json_object_get_int64(json_object_object_get(all, "guest_svn")), 5);
}

static void test_identity_diff(void **state) {
        struct snp_report sealed_r = make_report("0300000000000708", "0400000000000808", 5);
        struct snp_report run_r = sealed_r;
        struct snp_binding b = { .root_key = SNP_ROOT_KEY_VCEK, .fields = SNP_FIELD_VALID_V1 };
        _cleanup_(json_object_putp) json_object *sealed = NULL, *same = NULL, *cur = NULL, *late = NULL;
        char buf[1024];

        assert_int_equal(snp_binding_identity_json(&b, &sealed_r, &sealed), 0);
        assert_int_equal(snp_binding_identity_json(&b, &run_r, &same), 0);
        assert_int_equal(snp_identity_diff(sealed, same, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");

        sealed_r.measurement[0] = 0x3f;
        sealed_r.measurement[1] = 0x2a;
        run_r.measurement[0] = 0x9c;
        run_r.measurement[1] = 0x01;
        run_r.policy = UINT64_C(0xb0000);   /* debug allowed */
        run_r.committed_tcb = tcb("0300000000000808");
        run_r.guest_svn = 4;
        json_object_put(sealed);
        assert_int_equal(snp_binding_identity_json(&b, &sealed_r, &sealed), 0);
        assert_int_equal(snp_binding_identity_json(&b, &run_r, &cur), 0);
        assert_int_equal(snp_identity_diff(sealed, cur, buf, sizeof(buf)), 4);
        assert_string_equal(buf,
                            "measurement changed: sealed to 3f2a3233\u2026, running 9c013233\u2026\n"
                            "policy changed: sealed to 0x30000, running 0xb0000\n"
                            "guest SVN changed: sealed to 5, running 4\n"
                            "TCB changed: sealed to 0400000000000808, running 0300000000000808");

        /* A common prefix is elided: shown from the first differing byte. */
        run_r = sealed_r;
        run_r.image_id[6] ^= 1;
        assert_int_equal(snp_binding_identity_json(&b, &run_r, &late), 0);
        assert_int_equal(snp_identity_diff(sealed, late, buf, sizeof(buf)), 1);
        assert_string_equal(buf, "image ID changed: sealed to \u2026a6a7a8a9\u2026, running \u2026a7a7a8a9\u2026 "
                                 "(first difference at byte 6)");

        /* Truncation keeps the count and a terminated buffer. */
        assert_int_equal(snp_identity_diff(sealed, cur, buf, 20), 4);
        assert_int_equal(strlen(buf), 19);
        assert_int_equal(snp_identity_diff(sealed, cur, NULL, 0), 4);
        assert_int_equal(snp_identity_diff(sealed, NULL, buf, sizeof(buf)), -EINVAL);
}

/* Issue 12: measurements equal in their first 40 bytes were shown as two
 * equal prefixes; the first differing byte is shown, wherever it is. */
static void test_identity_diff_position(void **state) {
        static const struct {
                size_t byte;
                const char *want;
        } cases[] = {
                { 0,  "measurement changed: sealed to 3f000000\u2026, running 9c000000\u2026" },
                { 1,  "measurement changed: sealed to \u20263f000000\u2026, running \u20269c000000\u2026 "
                      "(first difference at byte 1)" },
                { 17, "measurement changed: sealed to \u20263f000000\u2026, running \u20269c000000\u2026 "
                      "(first difference at byte 17)" },
                { 40, "measurement changed: sealed to \u20263f000000\u2026, running \u20269c000000\u2026 "
                      "(first difference at byte 40)" },
                { 44, "measurement changed: sealed to \u20263f000000, running \u20269c000000 "
                      "(first difference at byte 44)" },
                { 47, "measurement changed: sealed to \u20263f, running \u20269c (first difference at byte 47)" },
        };
        struct snp_binding b = { .root_key = SNP_ROOT_KEY_VCEK, .fields = SNP_FIELD_MEASUREMENT };
        char buf[512];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *sealed = NULL, *cur = NULL;
                struct snp_report sr = {}, rr = {};

                sr.measurement[cases[i].byte] = 0x3f;
                rr.measurement[cases[i].byte] = 0x9c;
                assert_int_equal(snp_binding_identity_json(&b, &sr, &sealed), 0);
                assert_int_equal(snp_binding_identity_json(&b, &rr, &cur), 0);
                assert_int_equal(snp_identity_diff(sealed, cur, buf, sizeof(buf)), 1);
                assert_string_equal(buf, cases[i].want);
        }

        /* Only the low nibble differs: the window starts at that byte. */
        {
                _cleanup_(json_object_putp) json_object *sealed = NULL, *cur = NULL;
                struct snp_report sr = {}, rr = {};

                sr.measurement[17] = 0x31;
                rr.measurement[17] = 0x32;
                assert_int_equal(snp_binding_identity_json(&b, &sr, &sealed), 0);
                assert_int_equal(snp_binding_identity_json(&b, &rr, &cur), 0);
                assert_int_equal(snp_identity_diff(sealed, cur, buf, sizeof(buf)), 1);
                assert_string_equal(buf, "measurement changed: sealed to \u202631000000\u2026, running "
                                         "\u202632000000\u2026 (first difference at byte 17)");
        }
}

/* A long value against a missing one, or values of different lengths: no
 * position, the start of each. */
static void test_identity_diff_not_comparable(void **state) {
        _cleanup_(json_object_putp) json_object *sealed = parse("{\"policy\":\"0x30000\"}");
        _cleanup_(json_object_putp) json_object *cur = parse(
                "{\"measurement\":\"30f6afcb59326dc088270cf2bc82b3be\",\"policy\":\"0x30000\","
                "\"image_id\":\"00112233445566778899aabbccddeeff00\"}");
        _cleanup_(json_object_putp) json_object *other = parse(
                "{\"policy\":\"0x30000\",\"image_id\":\"00112233445566778899aabbccddeeff\"}");
        char buf[512];

        assert_int_equal(snp_identity_diff(sealed, cur, buf, sizeof(buf)), 2);
        assert_string_equal(buf, "measurement changed: sealed to (not recorded), running 30f6afcb\u2026\n"
                                 "image ID changed: sealed to (not recorded), running 00112233\u2026");
        assert_int_equal(snp_identity_diff(other, cur, buf, sizeof(buf)), 2);
        assert_string_equal(buf, "measurement changed: sealed to (not recorded), running 30f6afcb\u2026\n"
                                 "image ID changed: sealed to 00112233\u2026, running 00112233\u2026");
}

static void test_identity_diff_missing_key(void **state) {
        _cleanup_(json_object_putp) json_object *sealed = parse("{\"measurement\":\"aa\",\"future\":1}");
        _cleanup_(json_object_putp) json_object *cur = parse("{\"measurement\":\"aa\",\"policy\":\"0x30000\"}");
        char buf[256];

        assert_int_equal(snp_identity_diff(sealed, cur, buf, sizeof(buf)), 1);
        assert_string_equal(buf, "policy changed: sealed to (not recorded), running 0x30000");
}

/* ---- purposes ---- */

static void test_purpose_validate(void **state) {
        static const char *const good[] = {
                "luks2",
                "cred/db-password",
                "cred/a.b_c@d:e+f-g",
                "cred/X",
                "user/0/x",
                "user/1000/mail",
                "user/4294967295/n",
                "user/1000/.hidden",
                "user/1000/..x",
        };
        static const char *const bad[] = {
                "", "luks", "LUKS2", "luks2/x", "luks2/", "/luks2",
                "cred", "cred/", "cred//x", "cred/a/b", "cred/.", "cred/..", "cred/a b", "cred/a\\b",
                "cred/ä", "cred/a*", "cred/a\n",
                "user", "user/1000", "user/1000/", "user/1000/a/b", "user//mail",
                "user/01000/mail", "user/00/mail", "user/-1/mail", "user/+1/mail", "user/0x10/mail",
                "user/4294967296/mail", "user/12345678901/mail", "user/abc/mail", "user/1000/..",
                "user/1000/.", "ssh/x", "../luks2",
        };
        char longest[PURPOSE_MAX + 2];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (purpose_validate(good[i]) != 0)
                        fail_msg("purpose \"%s\" refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (purpose_validate(bad[i]) != -EINVAL)
                        fail_msg("purpose \"%s\" accepted", bad[i]);
        assert_int_equal(purpose_validate(NULL), -EINVAL);

        /* 128 bytes allowed, 129 not. */
        memset(longest, 'x', sizeof(longest));
        memcpy(longest, "cred/", 5);
        longest[PURPOSE_MAX] = '\0';
        assert_int_equal(purpose_validate(longest), 0);
        longest[PURPOSE_MAX] = 'x';
        longest[PURPOSE_MAX + 1] = '\0';
        assert_int_equal(purpose_validate(longest), -EINVAL);
}

static void test_purpose_access(void **state) {
        static const struct {
                const char *purpose;
                uid_t peer;
                int result;
        } cases[] = {
                { "luks2", 0, 0 },
                { "cred/db", 0, 0 },
                { "user/1000/mail", 0, 0 },
                { "user/0/mail", 0, 0 },
                { "user/1000/mail", 1000, 0 },
                { "luks2", 1000, -EPERM },
                { "cred/db", 1000, -EPERM },
                { "user/1001/mail", 1000, -EPERM },
                { "user/0/mail", 1000, -EPERM },
                { "user/100/mail", 1000, -EPERM },
                { "user/10000/mail", 1000, -EPERM },
                { "user/01000/mail", 1000, -EINVAL },
                { "user/1000/../x", 1000, -EINVAL },
                { "cred/..", 0, -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (purpose_check_access(cases[i].purpose, cases[i].peer) != cases[i].result)
                        fail_msg("purpose \"%s\" for uid %u: expected %d", cases[i].purpose,
                                 (unsigned) cases[i].peer, cases[i].result);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_default),
                cmocka_unit_test(test_spec_accept),
                cmocka_unit_test(test_spec_reject),
                cmocka_unit_test(test_spec_unknown_field_lists_known),
                cmocka_unit_test(test_resolve_default),
                cmocka_unit_test(test_resolve_choices),
                cmocka_unit_test(test_key_req_mapping),
                cmocka_unit_test(test_validate),
                cmocka_unit_test(test_persistent_refusals),
                cmocka_unit_test(test_json_exact),
                cmocka_unit_test(test_json_roundtrip),
                cmocka_unit_test(test_json_unknown_keys_ignored),
                cmocka_unit_test(test_json_reject),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_identity_json),
                cmocka_unit_test(test_identity_diff),
                cmocka_unit_test(test_identity_diff_position),
                cmocka_unit_test(test_identity_diff_not_comparable),
                cmocka_unit_test(test_identity_diff_missing_key),
                cmocka_unit_test(test_purpose_validate),
                cmocka_unit_test(test_purpose_access),
        };
        return cmocka_run_group_tests_name("binding", tests, NULL, NULL);
}

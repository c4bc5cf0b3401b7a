/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <cmocka.h>

#include "macro.h"
#include "snp-abi.h"

#if HAVE_LINUX_SEV_GUEST_H
#include <linux/sev-guest.h>
#endif

/* Layouts at run time, mirroring the static asserts of lib/snp/snp-abi.c, so a
 * broken build flag (packing, ABI) shows up as a named failure. */
struct layout {
        const char *name;
        size_t actual;
        size_t expected;
};

#define OFF(type, member, off) { #type "." #member, offsetof(struct type, member), off }
#define SIZE(type, size) { "sizeof " #type, sizeof(struct type), size }

static const struct layout abi_layouts[] = {
        SIZE(snp_msg_key_req, 32),
        OFF(snp_msg_key_req, root_key_select, 0x00),
        OFF(snp_msg_key_req, reserved, 0x04),
        OFF(snp_msg_key_req, guest_field_select, 0x08),
        OFF(snp_msg_key_req, vmpl, 0x10),
        OFF(snp_msg_key_req, guest_svn, 0x14),
        OFF(snp_msg_key_req, tcb_version, 0x18),

        SIZE(snp_msg_key_rsp, 64),
        OFF(snp_msg_key_rsp, status, 0x00),
        OFF(snp_msg_key_rsp, reserved, 0x04),
        OFF(snp_msg_key_rsp, key, 0x20),

        SIZE(snp_msg_report_req, 96),
        OFF(snp_msg_report_req, report_data, 0x00),
        OFF(snp_msg_report_req, vmpl, 0x40),
        OFF(snp_msg_report_req, key_sel, 0x44),
        OFF(snp_msg_report_req, reserved, 0x48),

        SIZE(snp_signature, 512),
        OFF(snp_signature, r, 0),
        OFF(snp_signature, s, 72),

        SIZE(snp_report, 0x4A0),
        OFF(snp_report, version, 0x000),
        OFF(snp_report, guest_svn, 0x004),
        OFF(snp_report, policy, 0x008),
        OFF(snp_report, family_id, 0x010),
        OFF(snp_report, image_id, 0x020),
        OFF(snp_report, vmpl, 0x030),
        OFF(snp_report, signature_algo, 0x034),
        OFF(snp_report, current_tcb, 0x038),
        OFF(snp_report, platform_info, 0x040),
        OFF(snp_report, signer_info, 0x048),
        OFF(snp_report, report_data, 0x050),
        OFF(snp_report, measurement, 0x090),
        OFF(snp_report, host_data, 0x0C0),
        OFF(snp_report, id_key_digest, 0x0E0),
        OFF(snp_report, author_key_digest, 0x110),
        OFF(snp_report, report_id, 0x140),
        OFF(snp_report, report_id_ma, 0x160),
        OFF(snp_report, reported_tcb, 0x180),
        OFF(snp_report, cpuid_fam_id, 0x188),
        OFF(snp_report, cpuid_mod_id, 0x189),
        OFF(snp_report, cpuid_step, 0x18A),
        OFF(snp_report, chip_id, 0x1A0),
        OFF(snp_report, committed_tcb, 0x1E0),
        OFF(snp_report, current_build, 0x1E8),
        OFF(snp_report, current_minor, 0x1E9),
        OFF(snp_report, current_major, 0x1EA),
        OFF(snp_report, committed_build, 0x1EC),
        OFF(snp_report, committed_minor, 0x1ED),
        OFF(snp_report, committed_major, 0x1EE),
        OFF(snp_report, launch_tcb, 0x1F0),
        OFF(snp_report, launch_mit_vector, 0x1F8),
        OFF(snp_report, current_mit_vector, 0x200),
        OFF(snp_report, signature, 0x2A0),

        SIZE(snp_msg_report_rsp, 0x20 + 0x4A0),
        OFF(snp_msg_report_rsp, status, 0x00),
        OFF(snp_msg_report_rsp, report_size, 0x04),
        OFF(snp_msg_report_rsp, reserved, 0x08),
        OFF(snp_msg_report_rsp, report, 0x20),

        SIZE(snp_guest_req_ioctl, 32),
        OFF(snp_guest_req_ioctl, msg_version, 0x00),
        OFF(snp_guest_req_ioctl, req_data, 0x08),
        OFF(snp_guest_req_ioctl, resp_data, 0x10),
        OFF(snp_guest_req_ioctl, exitinfo2, 0x18),
        OFF(snp_guest_req_ioctl, fw_error, 0x18),
        OFF(snp_guest_req_ioctl, vmm_error, 0x1C),
};

static void check_layouts(const struct layout *t, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (t[i].actual != t[i].expected)
                        fail_msg("%s is %zu (0x%zx), expected %zu (0x%zx)", t[i].name, t[i].actual,
                                 t[i].actual, t[i].expected, t[i].expected);
}

static void test_layouts(void **state) {
        check_layouts(abi_layouts, ELEMENTSOF(abi_layouts));
        assert_int_equal(SNP_REPORT_SIZE, sizeof(struct snp_report));
        assert_int_equal(SNP_REPORT_SIGNED_LEN, offsetof(struct snp_report, signature));
        assert_true(sizeof(struct snp_msg_report_rsp) <= SNP_REPORT_RESP_BUF_LEN);
}

static void test_exitinfo2_halves(void **state) {
        struct snp_guest_req_ioctl io = { .exitinfo2 = (UINT64_C(2) << SNP_VMM_ERR_SHIFT) | 0x16 };

        assert_int_equal(io.fw_error, 0x16);
        assert_int_equal(io.vmm_error, SNP_VMM_ERR_BUSY);
}

static void test_ioctl_numbers(void **state) {
        static const struct {
                unsigned long ours;
                unsigned long computed;
                unsigned long literal;
        } t[] = {
                { SNP_IOCTL_GET_REPORT, _IOWR('S', 0, struct snp_guest_req_ioctl), 0xC0205300UL },
                { SNP_IOCTL_GET_DERIVED_KEY, _IOWR('S', 1, struct snp_guest_req_ioctl), 0xC0205301UL },
                { SNP_IOCTL_GET_EXT_REPORT, _IOWR('S', 2, struct snp_guest_req_ioctl), 0xC0205302UL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(t[i].ours, t[i].literal);
                assert_int_equal(t[i].computed, t[i].literal);
        }
}

#if HAVE_LINUX_SEV_GUEST_H
#define KOFF(ktype, kmember, otype, omember) \
        { #ktype "." #kmember, offsetof(struct ktype, kmember), offsetof(struct otype, omember) }
#define KSIZE(ktype, otype) { "sizeof " #ktype, sizeof(struct ktype), sizeof(struct otype) }

static const struct layout kernel_layouts[] = {
        KSIZE(snp_derived_key_req, snp_msg_key_req),
        KOFF(snp_derived_key_req, root_key_select, snp_msg_key_req, root_key_select),
        KOFF(snp_derived_key_req, rsvd, snp_msg_key_req, reserved),
        KOFF(snp_derived_key_req, guest_field_select, snp_msg_key_req, guest_field_select),
        KOFF(snp_derived_key_req, vmpl, snp_msg_key_req, vmpl),
        KOFF(snp_derived_key_req, guest_svn, snp_msg_key_req, guest_svn),
        KOFF(snp_derived_key_req, tcb_version, snp_msg_key_req, tcb_version),
        KSIZE(snp_derived_key_resp, snp_msg_key_rsp),
        KSIZE(snp_report_req, snp_msg_report_req),
        KOFF(snp_report_req, user_data, snp_msg_report_req, report_data),
        KOFF(snp_report_req, vmpl, snp_msg_report_req, vmpl),
        /* The kernel's rsvd word is the firmware's KEY_SEL (AMD's SEV-SNP ABI specification). */
        KOFF(snp_report_req, rsvd, snp_msg_report_req, key_sel),
        KSIZE(snp_guest_request_ioctl, snp_guest_req_ioctl),
        KOFF(snp_guest_request_ioctl, msg_version, snp_guest_req_ioctl, msg_version),
        KOFF(snp_guest_request_ioctl, req_data, snp_guest_req_ioctl, req_data),
        KOFF(snp_guest_request_ioctl, resp_data, snp_guest_req_ioctl, resp_data),
        KOFF(snp_guest_request_ioctl, exitinfo2, snp_guest_req_ioctl, exitinfo2),
        KOFF(snp_guest_request_ioctl, fw_error, snp_guest_req_ioctl, fw_error),
        KOFF(snp_guest_request_ioctl, vmm_error, snp_guest_req_ioctl, vmm_error),
        { "sizeof snp_report_resp", sizeof(struct snp_report_resp), SNP_REPORT_RESP_BUF_LEN },
};

static void test_kernel_header(void **state) {
        check_layouts(kernel_layouts, ELEMENTSOF(kernel_layouts));
        assert_int_equal(SNP_GET_REPORT, SNP_IOCTL_GET_REPORT);
        assert_int_equal(SNP_GET_DERIVED_KEY, SNP_IOCTL_GET_DERIVED_KEY);
        assert_int_equal(SNP_GET_EXT_REPORT, SNP_IOCTL_GET_EXT_REPORT);
        assert_int_equal(SNP_GUEST_VMM_ERR_SHIFT, SNP_VMM_ERR_SHIFT);
        assert_int_equal(SNP_GUEST_VMM_ERR_INVALID_LEN, SNP_VMM_ERR_INVALID_LEN);
        assert_int_equal(SNP_GUEST_VMM_ERR_BUSY, SNP_VMM_ERR_BUSY);
}
#endif

static void test_tcb_byte(void **state) {
        const uint64_t tcb = UINT64_C(0xd108000000000003);

        assert_int_equal(snp_tcb_byte(tcb, 0), 0x03);
        assert_int_equal(snp_tcb_byte(tcb, 1), 0x00);
        assert_int_equal(snp_tcb_byte(tcb, 6), 0x08);
        assert_int_equal(snp_tcb_byte(tcb, 7), 0xd1);
}

static void test_tcb_le(void **state) {
        static const struct {
                uint64_t a, b;
                int le;
        } t[] = {
                /* bytes compared, not the integer: 0x0100 > 0x00ff as numbers,
                 * yet neither is below the other byte by byte. */
                { 0x0100, 0x00ff, 0 },
                { 0x00ff, 0x0100, 0 },
                { 0, 0, 1 },
                { 0x0100, 0x0100, 1 },
                { 0x0100, 0x01ff, 1 },
                { 0, UINT64_MAX, 1 },
                { UINT64_MAX, 0, 0 },
                { UINT64_C(0xd108000000000003), UINT64_C(0xd108000000000003), 1 },
                { UINT64_C(0xd108000000000003), UINT64_C(0xd109000000000003), 1 },
                { UINT64_C(0xd109000000000003), UINT64_C(0xd108000000000003), 0 },
                { UINT64_C(0xd108000000000003), UINT64_C(0xd108000000000002), 0 },
                /* a higher microcode does not make up for a lower SNP byte */
                { UINT64_C(0xd108000000000003), UINT64_C(0xff07000000000003), 0 },
                { UINT64_C(0x0100000000000000), UINT64_C(0x00ffffffffffffff), 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (snp_tcb_le(t[i].a, t[i].b) != t[i].le)
                        fail_msg("snp_tcb_le(0x%016llx, 0x%016llx) != %d", (unsigned long long) t[i].a,
                                 (unsigned long long) t[i].b, t[i].le);
}

static void test_tcb_min(void **state) {
        static const struct {
                uint64_t a, b, min;
        } t[] = {
                { 0x0100, 0x00ff, 0x0000 },
                { 0x00ff, 0x0100, 0x0000 },
                { UINT64_C(0xd108000000000003), UINT64_C(0xd20700000000000a), UINT64_C(0xd107000000000003) },
                { UINT64_C(0x0102030405060708), UINT64_C(0x0807060504030201), UINT64_C(0x0102030404030201) },
                { UINT64_MAX, UINT64_C(0x1122334455667788), UINT64_C(0x1122334455667788) },
                { 0, UINT64_MAX, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_true(snp_tcb_min(t[i].a, t[i].b) == t[i].min);
                assert_true(snp_tcb_min(t[i].b, t[i].a) == t[i].min);
                assert_true(snp_tcb_le(t[i].min, t[i].a));
                assert_true(snp_tcb_le(t[i].min, t[i].b));
        }
}

static void test_fw_status_str(void **state) {
        static const struct {
                uint32_t status;
                const char *str;
        } t[] = {
                { 0x00, "success" },
                { 0x16, "invalid parameter" },
                { 0x27, "invalid key selection" },
                { 0x04, "invalid length" },
                { 0x07, "policy failure" },
                { 0x15, "unsupported" },
                { 0x99, "unknown firmware status" },
                { UINT32_MAX, "unknown firmware status" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_string_equal(snp_fw_status_str(t[i].status), t[i].str);
}

static void test_vmm_error_str(void **state) {
        static const struct {
                uint32_t vmm;
                const char *str;
        } t[] = {
                { 0, "none" },
                { SNP_VMM_ERR_INVALID_LEN, "invalid length" },
                { SNP_VMM_ERR_BUSY, "busy" },
                { 3, "unknown VMM error" },
                { UINT32_MAX, "unknown VMM error" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_string_equal(snp_vmm_error_str(t[i].vmm), t[i].str);
}

static void test_bit_constants(void **state) {
        assert_true(SNP_FIELD_VALID_V1 == (SNP_FIELD_POLICY | SNP_FIELD_IMAGE_ID | SNP_FIELD_FAMILY_ID |
                                           SNP_FIELD_MEASUREMENT | SNP_FIELD_GUEST_SVN |
                                           SNP_FIELD_TCB_VERSION));
        assert_int_equal(SNP_KEY_REQ_KEY_SEL_MASK >> SNP_KEY_REQ_KEY_SEL_SHIFT, 3);
        assert_int_equal(SNP_KEY_REQ_RESERVED_MASK | SNP_KEY_REQ_KEY_SEL_MASK | SNP_KEY_REQ_ROOT_KEY_VMRK,
                         UINT32_MAX);
        assert_true(SNP_POLICY_RESERVED_MASK == UINT64_C(0xfffffffffc000000));
        assert_true(SNP_POLICY_PAGE_SWAP_DISABLE == UINT64_C(0x2000000));
        assert_int_equal(SNP_SIGNER_SIGNING_KEY_MASK >> SNP_SIGNER_SIGNING_KEY_SHIFT, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layouts),
                cmocka_unit_test(test_exitinfo2_halves),
                cmocka_unit_test(test_ioctl_numbers),
#if HAVE_LINUX_SEV_GUEST_H
                cmocka_unit_test(test_kernel_header),
#endif
                cmocka_unit_test(test_tcb_byte),
                cmocka_unit_test(test_tcb_le),
                cmocka_unit_test(test_tcb_min),
                cmocka_unit_test(test_fw_status_str),
                cmocka_unit_test(test_vmm_error_str),
                cmocka_unit_test(test_bit_constants),
        };
        return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}

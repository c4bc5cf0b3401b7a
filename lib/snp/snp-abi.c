/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>

#include "macro.h"
#include "snp-abi.h"

#define A SNP_ABI_ASSERT_LAYOUT

_Static_assert(sizeof(struct snp_msg_key_req) == 32, "MSG_KEY_REQ v1 is 32 bytes");
A(struct snp_msg_key_req, guest_field_select, 0x08);
A(struct snp_msg_key_req, vmpl, 0x10);
A(struct snp_msg_key_req, guest_svn, 0x14);
A(struct snp_msg_key_req, tcb_version, 0x18);

_Static_assert(sizeof(struct snp_msg_key_rsp) == 64, "MSG_KEY_RSP is 64 bytes");
A(struct snp_msg_key_rsp, key, 0x20);

_Static_assert(sizeof(struct snp_msg_report_req) == 96, "MSG_REPORT_REQ is 96 bytes");
A(struct snp_msg_report_req, vmpl, 0x40);

_Static_assert(sizeof(struct snp_signature) == 512, "signature is 512 bytes");
_Static_assert(sizeof(struct snp_report) == SNP_REPORT_SIZE, "report is 0x4A0 bytes");
A(struct snp_report, guest_svn, 0x004);
A(struct snp_report, policy, 0x008);
A(struct snp_report, family_id, 0x010);
A(struct snp_report, image_id, 0x020);
A(struct snp_report, vmpl, 0x030);
A(struct snp_report, signature_algo, 0x034);
A(struct snp_report, current_tcb, 0x038);
A(struct snp_report, platform_info, 0x040);
A(struct snp_report, signer_info, 0x048);
A(struct snp_report, report_data, 0x050);
A(struct snp_report, measurement, 0x090);
A(struct snp_report, host_data, 0x0C0);
A(struct snp_report, id_key_digest, 0x0E0);
A(struct snp_report, author_key_digest, 0x110);
A(struct snp_report, report_id, 0x140);
A(struct snp_report, report_id_ma, 0x160);
A(struct snp_report, reported_tcb, 0x180);
A(struct snp_report, cpuid_fam_id, 0x188);
A(struct snp_report, cpuid_mod_id, 0x189);
A(struct snp_report, cpuid_step, 0x18A);
A(struct snp_report, chip_id, 0x1A0);
A(struct snp_report, committed_tcb, 0x1E0);
A(struct snp_report, current_build, 0x1E8);
A(struct snp_report, current_minor, 0x1E9);
A(struct snp_report, current_major, 0x1EA);
A(struct snp_report, committed_build, 0x1EC);
A(struct snp_report, committed_minor, 0x1ED);
A(struct snp_report, committed_major, 0x1EE);
A(struct snp_report, launch_tcb, 0x1F0);
A(struct snp_report, launch_mit_vector, 0x1F8);
A(struct snp_report, current_mit_vector, 0x200);
A(struct snp_report, signature, 0x2A0);

_Static_assert(sizeof(struct snp_msg_report_rsp) == 0x20 + SNP_REPORT_SIZE, "MSG_REPORT_RSP");
A(struct snp_msg_report_rsp, report_size, 0x04);
A(struct snp_msg_report_rsp, report, 0x20);
_Static_assert(sizeof(struct snp_msg_report_rsp) <= SNP_REPORT_RESP_BUF_LEN, "fits the kernel buffer");

_Static_assert(sizeof(struct snp_msg_ext_report_req) == 112, "SNP_GET_EXT_REPORT request is 112 bytes");
A(struct snp_msg_ext_report_req, certs_address, 0x60);
A(struct snp_msg_ext_report_req, certs_len, 0x68);

_Static_assert(sizeof(struct snp_guest_req_ioctl) == 32, "ioctl argument is 32 bytes");
A(struct snp_guest_req_ioctl, req_data, 0x08);
A(struct snp_guest_req_ioctl, resp_data, 0x10);
A(struct snp_guest_req_ioctl, exitinfo2, 0x18);
A(struct snp_guest_req_ioctl, fw_error, 0x18);
A(struct snp_guest_req_ioctl, vmm_error, 0x1C);

#if HAVE_LINUX_SEV_GUEST_H
#include <sys/ioctl.h>
#include <linux/sev-guest.h>

/* Ours must match the kernel's byte for byte. */
_Static_assert(sizeof(struct snp_derived_key_req) == sizeof(struct snp_msg_key_req), "kernel key req");
A(struct snp_derived_key_req, root_key_select, offsetof(struct snp_msg_key_req, root_key_select));
A(struct snp_derived_key_req, guest_field_select, offsetof(struct snp_msg_key_req, guest_field_select));
A(struct snp_derived_key_req, vmpl, offsetof(struct snp_msg_key_req, vmpl));
A(struct snp_derived_key_req, guest_svn, offsetof(struct snp_msg_key_req, guest_svn));
A(struct snp_derived_key_req, tcb_version, offsetof(struct snp_msg_key_req, tcb_version));
_Static_assert(sizeof(struct snp_derived_key_resp) == sizeof(struct snp_msg_key_rsp), "kernel key resp");
_Static_assert(sizeof(struct snp_report_req) == sizeof(struct snp_msg_report_req), "kernel report req");
A(struct snp_report_req, vmpl, offsetof(struct snp_msg_report_req, vmpl));
_Static_assert(sizeof(struct snp_report_resp) == SNP_REPORT_RESP_BUF_LEN, "kernel report resp");
_Static_assert(sizeof(struct snp_ext_report_req) == sizeof(struct snp_msg_ext_report_req), "kernel ext report req");
A(struct snp_ext_report_req, certs_address, offsetof(struct snp_msg_ext_report_req, certs_address));
A(struct snp_ext_report_req, certs_len, offsetof(struct snp_msg_ext_report_req, certs_len));
_Static_assert(sizeof(struct snp_guest_request_ioctl) == sizeof(struct snp_guest_req_ioctl),
               "kernel ioctl argument");
A(struct snp_guest_request_ioctl, msg_version, 0x00);
A(struct snp_guest_request_ioctl, req_data, 0x08);
A(struct snp_guest_request_ioctl, resp_data, 0x10);
A(struct snp_guest_request_ioctl, exitinfo2, 0x18);
_Static_assert(SNP_GET_REPORT == SNP_IOCTL_GET_REPORT, "SNP_GET_REPORT");
_Static_assert(SNP_GET_DERIVED_KEY == SNP_IOCTL_GET_DERIVED_KEY, "SNP_GET_DERIVED_KEY");
_Static_assert(SNP_GET_EXT_REPORT == SNP_IOCTL_GET_EXT_REPORT, "SNP_GET_EXT_REPORT");
_Static_assert(SNP_GUEST_VMM_ERR_SHIFT == SNP_VMM_ERR_SHIFT, "VMM error shift");
_Static_assert(SNP_GUEST_VMM_ERR_INVALID_LEN == SNP_VMM_ERR_INVALID_LEN, "VMM invalid length");
_Static_assert(SNP_GUEST_VMM_ERR_BUSY == SNP_VMM_ERR_BUSY, "VMM busy");
#endif

/* Linux's include/uapi/linux/psp-sev.h (enum sev_ret_code). */
static const char *const fw_status_names[] = {
        [0x00] = "success",
        [0x01] = "invalid platform state",
        [0x02] = "invalid guest state",
        [0x03] = "invalid configuration",
        [0x04] = "invalid length",
        [0x05] = "platform already owned",
        [0x06] = "invalid certificate",
        [0x07] = "policy failure",
        [0x08] = "guest inactive",
        [0x09] = "invalid address",
        [0x0A] = "bad signature",
        [0x0B] = "bad measurement",
        [0x0C] = "ASID already owned",
        [0x0D] = "invalid ASID",
        [0x0E] = "WBINVD required",
        [0x0F] = "DF_FLUSH required",
        [0x10] = "invalid guest",
        [0x11] = "invalid command",
        [0x12] = "guest active",
        [0x13] = "hardware error (platform)",
        [0x14] = "hardware error (unsafe)",
        [0x15] = "unsupported",
        [0x16] = "invalid parameter",
        [0x17] = "resource limit",
        [0x18] = "secure data invalid",
        [0x19] = "invalid page size",
        [0x1A] = "invalid page state",
        [0x1B] = "invalid metadata entry",
        [0x1C] = "invalid page owner",
        [0x1D] = "AEAD counter overflow",
        [0x1F] = "RB mode exited",
        [0x20] = "RMP initialization required",
        [0x21] = "bad SVN",
        [0x22] = "bad version",
        [0x23] = "shutdown required",
        [0x24] = "update failed",
        [0x25] = "restore required",
        [0x26] = "RMP initialization failed",
        [0x27] = "invalid key selection",
};

const char *snp_fw_status_str(uint32_t status) {
        if (status < ELEMENTSOF(fw_status_names) && fw_status_names[status])
                return fw_status_names[status];
        return "unknown firmware status";
}

const char *snp_vmm_error_str(uint32_t vmm_error) {
        switch (vmm_error) {
        case 0: return "none";
        case SNP_VMM_ERR_INVALID_LEN: return "invalid length";
        case SNP_VMM_ERR_BUSY: return "busy";
        default: return "unknown VMM error";
        }
}

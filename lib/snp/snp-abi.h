/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SEV-SNP guest message ABI (AMD SEV-SNP Firmware ABI, publication 56860)
 * and the Linux /dev/sev-guest ioctl interface, as snpseal uses them.
 * All fields are little-endian; snpseal builds only for little-endian hosts.
 * Layouts are asserted below and, where <linux/sev-guest.h> exists, compared
 * with the kernel's structures (lib/snp/snp-abi.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- MSG_KEY_REQ (message type 3), message version 1 ---- */

#define SNP_KEY_REQ_ROOT_KEY_VMRK       UINT32_C(0x1)      /* bit 0 */
#define SNP_KEY_REQ_KEY_SEL_SHIFT       1                  /* bits 2:1 */
#define SNP_KEY_REQ_KEY_SEL_MASK        UINT32_C(0x6)
#define SNP_KEY_REQ_RESERVED_MASK       UINT32_C(0xfffffff8)

enum snp_key_sel {
        SNP_KEY_SEL_DEFAULT = 0,   /* VLEK if the host installed one, else VCEK */
        SNP_KEY_SEL_VCEK = 1,
        SNP_KEY_SEL_VLEK = 2,
        SNP_KEY_SEL_RESERVED = 3,
};

/* GUEST_FIELD_SELECT bits */
#define SNP_FIELD_POLICY        (UINT64_C(1) << 0)
#define SNP_FIELD_IMAGE_ID      (UINT64_C(1) << 1)
#define SNP_FIELD_FAMILY_ID     (UINT64_C(1) << 2)
#define SNP_FIELD_MEASUREMENT   (UINT64_C(1) << 3)
#define SNP_FIELD_GUEST_SVN     (UINT64_C(1) << 4)
#define SNP_FIELD_TCB_VERSION   (UINT64_C(1) << 5)
#define SNP_FIELD_LAUNCH_MIT    (UINT64_C(1) << 6)  /* message version 2 only: never used */
#define SNP_FIELD_VALID_V1      UINT64_C(0x3f)

#define SNP_VMPL_MAX            3u
#define SNP_MSG_VERSION         1   /* always (docs/SIMULATOR.md, kernel layer) */

struct snp_msg_key_req {
        uint32_t root_key_select;     /* 0x00 */
        uint32_t reserved;            /* 0x04 */
        uint64_t guest_field_select;  /* 0x08 */
        uint32_t vmpl;                /* 0x10 */
        uint32_t guest_svn;           /* 0x14 */
        uint64_t tcb_version;         /* 0x18 */
} __attribute__((packed));

/* ---- MSG_KEY_RSP (message type 4) ---- */

#define SNP_KEY_LEN 32

struct snp_msg_key_rsp {
        uint32_t status;              /* 0x00 */
        uint8_t reserved[28];         /* 0x04 */
        uint8_t key[SNP_KEY_LEN];     /* 0x20 */
} __attribute__((packed));

/* Firmware STATUS values seen in guest message responses. */
#define SNP_FW_SUCCESS            0x00u
#define SNP_FW_HWERROR_PLATFORM   0x13u
#define SNP_FW_INVALID_PARAM      0x16u
#define SNP_FW_INVALID_KEY        0x27u

/* ---- MSG_REPORT_REQ / MSG_REPORT_RSP ---- */

#define SNP_REPORT_DATA_LEN 64

struct snp_msg_report_req {
        uint8_t report_data[SNP_REPORT_DATA_LEN]; /* 0x00 */
        uint32_t vmpl;                            /* 0x40 */
        uint32_t key_sel;                         /* 0x44: bits 1:0 as in MSG_KEY_REQ (0 VLEK if
                                                   * installed, else VCEK; 1 VCEK; 2 VLEK); the
                                                   * kernel's uapi calls this word rsvd */
        uint8_t reserved[24];                     /* 0x48 */
} __attribute__((packed));
#define SNP_REPORT_REQ_KEY_SEL_MASK UINT32_C(0x3)

struct snp_signature {
        uint8_t r[72];                /* little-endian, zero-padded */
        uint8_t s[72];
        uint8_t reserved[368];
} __attribute__((packed));

#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1u

/* Signer info (report offset 0x48) */
#define SNP_SIGNER_AUTHOR_KEY_EN       (1u << 0)
#define SNP_SIGNER_MASK_CHIP_KEY       (1u << 1)
#define SNP_SIGNER_SIGNING_KEY_SHIFT   2
#define SNP_SIGNER_SIGNING_KEY_MASK    (7u << 2)
#define SNP_SIGNING_KEY_VCEK 0u
#define SNP_SIGNING_KEY_VLEK 1u
#define SNP_SIGNING_KEY_NONE 7u

struct snp_report {
        uint32_t version;               /* 0x000 */
        uint32_t guest_svn;             /* 0x004 */
        uint64_t policy;                /* 0x008 */
        uint8_t family_id[16];          /* 0x010 */
        uint8_t image_id[16];           /* 0x020 */
        uint32_t vmpl;                  /* 0x030 */
        uint32_t signature_algo;        /* 0x034 */
        uint64_t current_tcb;           /* 0x038 */
        uint64_t platform_info;         /* 0x040 */
        uint32_t signer_info;           /* 0x048 */
        uint32_t reserved0;             /* 0x04C */
        uint8_t report_data[SNP_REPORT_DATA_LEN]; /* 0x050 */
        uint8_t measurement[48];        /* 0x090 */
        uint8_t host_data[32];          /* 0x0C0 */
        uint8_t id_key_digest[48];      /* 0x0E0 */
        uint8_t author_key_digest[48];  /* 0x110 */
        uint8_t report_id[32];          /* 0x140 */
        uint8_t report_id_ma[32];       /* 0x160 */
        uint64_t reported_tcb;          /* 0x180 */
        uint8_t cpuid_fam_id;           /* 0x188, version 3+ */
        uint8_t cpuid_mod_id;           /* 0x189 */
        uint8_t cpuid_step;             /* 0x18A */
        uint8_t reserved1[21];          /* 0x18B */
        uint8_t chip_id[64];            /* 0x1A0 */
        uint64_t committed_tcb;         /* 0x1E0 */
        uint8_t current_build;          /* 0x1E8 */
        uint8_t current_minor;          /* 0x1E9 */
        uint8_t current_major;          /* 0x1EA */
        uint8_t reserved2;              /* 0x1EB */
        uint8_t committed_build;        /* 0x1EC */
        uint8_t committed_minor;        /* 0x1ED */
        uint8_t committed_major;        /* 0x1EE */
        uint8_t reserved3;              /* 0x1EF */
        uint64_t launch_tcb;            /* 0x1F0 */
        uint64_t launch_mit_vector;     /* 0x1F8, version 5 */
        uint64_t current_mit_vector;    /* 0x200, version 5 */
        uint8_t reserved4[152];         /* 0x208 */
        struct snp_signature signature; /* 0x2A0 */
} __attribute__((packed));

#define SNP_REPORT_SIZE        0x4A0u
#define SNP_REPORT_SIGNED_LEN  0x2A0u   /* bytes covered by the signature */
#define SNP_REPORT_VERSION_MIN 2u
#define SNP_REPORT_VERSION_MAX 5u

struct snp_msg_report_rsp {
        uint32_t status;                /* 0x00 */
        uint32_t report_size;           /* 0x04 */
        uint8_t reserved[24];           /* 0x08 */
        struct snp_report report;       /* 0x20 */
} __attribute__((packed));

/* SNP_GET_EXT_REPORT's request: the report request, then where the host's
 * certificate table goes (a multiple of 4096 bytes, at most 16 KiB in Linux;
 * lib/snp/snp-cert-table.h). Not packed: 112 bytes as in the kernel. When the
 * table does not fit the ioctl fails with -EIO, VMM error 1 (invalid length),
 * and the kernel writes the length needed into certs_len. */
struct snp_msg_ext_report_req {
        struct snp_msg_report_req data;           /* 0x00 */
        uint64_t certs_address;                   /* 0x60 */
        uint32_t certs_len;                       /* 0x68 */
        uint32_t pad;                             /* 0x6C */
};

/* The kernel's response buffer for SNP_GET_REPORT. */
#define SNP_REPORT_RESP_BUF_LEN 4000u

/* ---- guest policy (report offset 0x08) ---- */
#define SNP_POLICY_ABI_MINOR_MASK   UINT64_C(0xff)
#define SNP_POLICY_ABI_MAJOR_SHIFT  8
#define SNP_POLICY_SMT              (UINT64_C(1) << 16)
#define SNP_POLICY_RESERVED_1       (UINT64_C(1) << 17)  /* must be 1 */
#define SNP_POLICY_MIGRATE_MA       (UINT64_C(1) << 18)
#define SNP_POLICY_DEBUG            (UINT64_C(1) << 19)
#define SNP_POLICY_SINGLE_SOCKET    (UINT64_C(1) << 20)
#define SNP_POLICY_CXL_ALLOW        (UINT64_C(1) << 21)
#define SNP_POLICY_MEM_AES_256_XTS  (UINT64_C(1) << 22)
#define SNP_POLICY_RAPL_DIS         (UINT64_C(1) << 23)
#define SNP_POLICY_CIPHERTEXT_HIDING (UINT64_C(1) << 24)
#define SNP_POLICY_PAGE_SWAP_DISABLE (UINT64_C(1) << 25)
#define SNP_POLICY_RESERVED_MASK    (~UINT64_C(0) << 26)

/* ---- platform info (report offset 0x40) ---- */
#define SNP_PLATFORM_SMT_EN            (UINT64_C(1) << 0)
#define SNP_PLATFORM_TSME_EN           (UINT64_C(1) << 1)
#define SNP_PLATFORM_ECC_EN            (UINT64_C(1) << 2)
#define SNP_PLATFORM_RAPL_DIS          (UINT64_C(1) << 3)
#define SNP_PLATFORM_CIPHERTEXT_HIDING (UINT64_C(1) << 4)
#define SNP_PLATFORM_ALIAS_CHECK_DONE  (UINT64_C(1) << 5)
/* Set on real Turin reports (0x65); called reserved by most public decoders,
 * "IOMMU write safe" by one: shown as such, never a reason to fail. */
#define SNP_PLATFORM_IOMMU_WRITE_SAFE  (UINT64_C(1) << 6)
#define SNP_PLATFORM_TIO_EN            (UINT64_C(1) << 7)

/* ---- Linux /dev/sev-guest ---- */

#define SNP_DEFAULT_DEVICE "/dev/sev-guest"

struct snp_guest_req_ioctl {
        uint8_t msg_version;            /* 0x00, must be non-zero */
        uint8_t pad[7];
        uint64_t req_data;              /* 0x08 */
        uint64_t resp_data;             /* 0x10 */
        union {
                uint64_t exitinfo2;     /* 0x18 */
                struct {
                        uint32_t fw_error;
                        uint32_t vmm_error;
                };
        };
} __attribute__((packed));

/* _IOWR('S', n, struct snp_guest_request_ioctl), spelled out and asserted. */
#define SNP_IOCTL_GET_REPORT      0xC0205300UL
#define SNP_IOCTL_GET_DERIVED_KEY 0xC0205301UL
#define SNP_IOCTL_GET_EXT_REPORT  0xC0205302UL

#define SNP_VMM_ERR_SHIFT        32
#define SNP_VMM_ERR_INVALID_LEN  1u
#define SNP_VMM_ERR_BUSY         2u
/* Linux presets exitinfo2 to 0xff before a guest request and, up to 6.16,
 * copies that back on -ENOTTY and -EINVAL: "no firmware call", never a
 * firmware status. Older code (and the uapi's SEV_RET_NO_FW_CALL, -1) uses all
 * ones: snp_exitinfo2_no_fw_call() accepts both. */
#define SNP_EXITINFO2_NO_FW_CALL UINT64_C(0xff)
static inline int snp_exitinfo2_no_fw_call(uint64_t exitinfo2) {
        return exitinfo2 == SNP_EXITINFO2_NO_FW_CALL || exitinfo2 == UINT64_MAX;
}

#define SNP_ABI_ASSERT_LAYOUT(type, member, off) \
        _Static_assert(offsetof(type, member) == (off), #type "." #member " offset")

/* ---- TCB_VERSION: 8 bytes, byte 0 first ---- */
static inline uint8_t snp_tcb_byte(uint64_t tcb, unsigned i) {
        return (uint8_t) (tcb >> (8u * i));
}

/* Byte-by-byte comparison: true when every byte of a is <= the byte of b. */
static inline int snp_tcb_le(uint64_t a, uint64_t b) {
        for (unsigned i = 0; i < 8; i++)
                if (snp_tcb_byte(a, i) > snp_tcb_byte(b, i))
                        return 0;
        return 1;
}

/* Per-byte minimum, the default sealing TCB of min(LAUNCH, COMMITTED). */
static inline uint64_t snp_tcb_min(uint64_t a, uint64_t b) {
        uint64_t r = 0;
        for (unsigned i = 0; i < 8; i++) {
                uint8_t x = snp_tcb_byte(a, i), y = snp_tcb_byte(b, i);
                r |= (uint64_t) (x < y ? x : y) << (8u * i);
        }
        return r;
}

/* Firmware STATUS to a short English name; never NULL. */
const char *snp_fw_status_str(uint32_t status);
/* VMM error (upper half of exitinfo2) to a short English name; never NULL. */
const char *snp_vmm_error_str(uint32_t vmm_error);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Decoders for the values of the SEV-SNP attestation report (AMD's SEV-SNP ABI specification):
 * guest policy, TCB_VERSION, platform info, signer info and the whole report.
 *
 * Every decoder has three forms:
 *   snp_X_decode()   the raw value into a typed struct (pure, cannot fail);
 *   snp_X_format()   one line of English into a caller buffer; returns the
 *                    length written (>= 0) or -ENOBUFS when buf is too small
 *                    (SNP_DECODE_TEXT_MAX always suffices);
 *   snp_X_to_json()  a new json-c object (the caller owns the reference), or
 *                    NULL on ENOMEM.
 * The whole report is dumped to a FILE* instead (many lines).
 *
 * Raw values appear in JSON as strings: 64-bit fields as "0x" and 16 hex
 * digits, 32-bit fields as "0x" and 8, TCBs as 16 hex digits byte 0 first
 * (tcb_to_hex), byte arrays as lowercase hex in report order.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "snp-abi.h"
#include "snp-error.h"

struct json_object;

/* Enough for any one-line decoder output. */
#define SNP_DECODE_TEXT_MAX 512

/* ---- guest policy ---- */

struct snp_policy {
        uint64_t raw;
        uint8_t abi_major;
        uint8_t abi_minor;
        bool smt;
        bool reserved_bit17;       /* must be 1; false means a malformed policy */
        bool migrate_ma;
        bool debug;
        bool single_socket;
        bool cxl_allowed;
        bool mem_aes_256_xts;
        bool rapl_disabled;
        bool ciphertext_hiding;
        bool page_swap_disabled;
        uint64_t reserved_bits;    /* bits 63:26 as set in raw (should be 0) */
};

void snp_policy_decode(uint64_t raw, struct snp_policy *ret_policy);
/* "ABI 1.51; SMT allowed; migration agent not allowed; debugging not allowed; …"
 * and, when malformed, "; reserved bit 17 is 0 (must be 1)" and/or
 * "; reserved bits 63:26 set (0x…)". */
int snp_policy_format(uint64_t raw, char *buf, size_t size);
/* {"raw","abi_major","abi_minor","smt","migrate_ma","debug","single_socket",
 *  "cxl_allowed","mem_aes_256_xts","rapl_disabled","ciphertext_hiding",
 *  "page_swap_disabled","reserved_bit17","reserved_bits"} */
struct json_object *snp_policy_to_json(uint64_t raw);

/* ---- TCB_VERSION ---- */

enum snp_tcb_layout {
        SNP_TCB_LAYOUT_MILAN_GENOA,   /* 0 boot loader, 1 TEE, 6 SNP, 7 microcode */
        SNP_TCB_LAYOUT_TURIN,         /* 0 FMC, 1 boot loader, 2 TEE, 3 SNP, 7 microcode */
};

#define SNP_CPUID_FAMILY_MILAN_GENOA 0x19u
#define SNP_CPUID_FAMILY_TURIN       0x1Au

struct snp_tcb {
        uint64_t raw;
        enum snp_tcb_layout layout;
        uint8_t fmc;                  /* Turin only; 0 for Milan/Genoa */
        uint8_t boot_loader;
        uint8_t tee;
        uint8_t snp;
        uint8_t microcode;
};

/* "milan-genoa" or "turin"; never NULL. */
const char *snp_tcb_layout_to_string(enum snp_tcb_layout layout);
void snp_tcb_decode(uint64_t raw, enum snp_tcb_layout layout, struct snp_tcb *ret_tcb);
/* "boot_loader=3 tee=0 snp=8 microcode=209"; Turin starts with "fmc=N ". */
int snp_tcb_format(uint64_t raw, enum snp_tcb_layout layout, char *buf, size_t size);
/* {"raw":"<16 hex>","layout":…,"layout_assumed":bool,["fmc",]"boot_loader",
 *  "tee","snp","microcode"} */
struct json_object *snp_tcb_to_json(uint64_t raw, enum snp_tcb_layout layout, bool assumed);

/* The TCB layout of a report's CPU: Turin for version >= 3 with CPUID family
 * 0x1A, Milan/Genoa for family 0x19. A version-2 report carries no CPUID:
 * Turin when only the first 8 bytes of CHIP_ID are non-zero (Turin's shape),
 * else Milan/Genoa, with *ret_assumed = true; the same for an unknown family.
 * ret_assumed may be NULL. */
enum snp_tcb_layout snp_report_tcb_layout(const struct snp_report *r, bool *ret_assumed);
/* Why the layout was assumed ("report carries no CPUID", "report carries no
 * CPUID; CHIP_ID has 8 bytes, as on Turin", "report carries no CPUID and
 * CHIP_ID is zero: ambiguous", "unknown CPU family 0x17"), into buf; 0 length
 * when it was not assumed. */
int snp_report_tcb_layout_reason(const struct snp_report *r, char *buf, size_t size);

/* ---- platform info ---- */

struct snp_platform_info {
        uint64_t raw;
        bool smt_enabled;
        bool tsme_enabled;
        bool ecc_enabled;
        bool rapl_disabled;
        bool ciphertext_hiding;
        bool alias_check_complete;
        bool iommu_write_safe;        /* bit 6 */
        bool tio_enabled;             /* bit 7 */
};

void snp_platform_info_decode(uint64_t raw, struct snp_platform_info *ret_info);
/* "SMT enabled; TSME disabled; ECC enabled; RAPL enabled; …" */
int snp_platform_info_format(uint64_t raw, char *buf, size_t size);
/* {"raw","smt_enabled","tsme_enabled","ecc_enabled","rapl_disabled",
 *  "ciphertext_hiding","alias_check_complete","iommu_write_safe","tio_enabled"} */
struct json_object *snp_platform_info_to_json(uint64_t raw);

/* ---- signer info ---- */

struct snp_signer_info {
        uint32_t raw;
        bool author_key_en;
        bool mask_chip_key;
        unsigned signing_key;         /* SNP_SIGNING_KEY_VCEK/VLEK/NONE, or reserved */
};

/* "vcek", "vlek", "none" or "reserved"; never NULL. */
const char *snp_signing_key_to_string(unsigned signing_key);
void snp_signer_info_decode(uint32_t raw, struct snp_signer_info *ret_info);
/* "author key not enabled; chip key not masked; signed with VCEK" */
int snp_signer_info_format(uint32_t raw, char *buf, size_t size);
/* {"raw":"0x…8","author_key_en","mask_chip_key","signing_key":"vcek"…,
 *  "signing_key_id":N} */
struct json_object *snp_signer_info_to_json(uint32_t raw);

/* ---- the attestation report ---- */

/* Validate an untrusted report buffer and copy it into *ret_report.
 *   -EINVAL   buf is NULL or size is not SNP_REPORT_SIZE (0x4A0)
 *   -EBADMSG  version below 2, or signature algorithm not 1 (ECDSA P-384
 *             with SHA-384)
 * A version above 5 (SNP_REPORT_VERSION_MAX) is accepted and decoded as far
 * as known: the fields key derivation needs have never moved.
 * err (may be NULL) gets an English message. The signature is not checked. */
int snp_report_validate(const void *buf, size_t size, struct snp_report *ret_report,
                        struct snp_error *err);

/* Every field; see the key list in snp-decode.c. TCBs decoded with
 * snp_report_tcb_layout(). "cpuid" only for version >= 3, the mitigation
 * vectors only for version >= 5. NULL on ENOMEM. */
struct json_object *snp_report_to_json(const struct snp_report *r);

/* A readable dump, one "name: value" line a field, values aligned; the names
 * are the JSON keys; a last "note" line for a version newer than known.
 * Returns 0, or -EIO when writing failed. */
int snp_report_format(const struct snp_report *r, FILE *f);

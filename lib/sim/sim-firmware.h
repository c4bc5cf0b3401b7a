/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated guest-request path: kernel layer and firmware layer of
 * docs/SIMULATOR.md ("The rules the simulator implements"), shared by the simulator backend
 * and the LD_PRELOAD shim, so both answer exactly alike.
 *
 * The key derivation is a stand-in keyed hash, not AMD's (unpublished) KDF:
 * it follows the firmware's rules on which inputs change the key.
 */
#pragma once

#include <stdint.h>

#include "sim-state.h"
#include "snp-abi.h"

enum sim_msg_type {
        SIM_MSG_KEY_REQ = 3,
        SIM_MSG_REPORT_REQ = 5,
};

/*
 * One guest request as the kernel driver would handle it.
 *   msg_version: as in the ioctl argument.
 *   req/resp: NULL models a NULL user pointer.
 *   ret_exitinfo2: what the kernel would report in exitinfo2.
 * Returns 0 (the firmware answered; STATUS inside resp may be non-zero),
 * -EINVAL (version 0 or NULL buffer), -ENOTTY (message key disabled),
 * -EIO (command-level failure; s->vmpck_disabled becomes true),
 * -ETIMEDOUT (VMM busy fault).
 * resp for SIM_MSG_KEY_REQ is a struct snp_msg_key_rsp; for SIM_MSG_REPORT_REQ a
 * struct snp_msg_report_rsp. The caller persists *s if vmpck_disabled changed.
 */
int sim_guest_request(struct sim_state *s, enum sim_msg_type type, uint8_t msg_version,
                      const void *req, void *resp, uint64_t *ret_exitinfo2);

/*
 * SNP_GET_EXT_REPORT as the kernel handles it: the report request, then the
 * host's certificate table (sim_cert_table(): the chain of the key that
 * signed the report) into certs, *certs_len bytes — a multiple of 4096, at
 * most SNP_CERT_BLOB_MAX; certs NULL or *certs_len 0 ask for no table.
 * -EINVAL for another length (nothing sent); -EIO with VMM error 1 (invalid
 * length) in exitinfo2 and *certs_len set to what is needed when the table
 * does not fit (the message key stays enabled); otherwise as
 * sim_guest_request().
 */
int sim_guest_ext_report(struct sim_state *s, uint8_t msg_version, const struct snp_msg_report_req *req,
                         struct snp_msg_report_rsp *resp, uint8_t *certs, uint32_t *certs_len,
                         uint64_t *ret_exitinfo2);

/* The firmware layer alone (after the kernel layer let the request through). */
uint32_t sim_fw_key_request(const struct sim_state *s, const struct snp_msg_key_req *req,
                            struct snp_msg_key_rsp *rsp);
uint32_t sim_fw_report_request(const struct sim_state *s, const struct snp_msg_report_req *req,
                               struct snp_msg_report_rsp *rsp);

/* The simulated VCEK public key (for the reported TCB) as PEM, malloc()ed. */
int sim_vcek_public_pem(const struct sim_state *s, char **ret_pem);

/* The simulator's keys, all ECDSA P-384 derived from the state's secrets:
 * the report signing keys (VCEK from the chip secret, VLEK from the VLEK
 * secret, both for the reported TCB) and the simulated chain's ARK, ASK and
 * ASVK (from the chip secret). NULL on failure or, for the VLEK, without one. */
enum sim_key_id {
        SIM_KEY_VCEK,
        SIM_KEY_VLEK,
        SIM_KEY_ARK,
        SIM_KEY_ASK,
        SIM_KEY_ASVK,
};
struct evp_pkey_st;
struct evp_pkey_st *sim_key(const struct sim_state *s, enum sim_key_id id);

/* The CHIP_ID the simulated chip reports (Turin: 8 bytes, the rest zero). */
int sim_chip_id(const struct sim_state *s, uint8_t chip_id[64]);

#define SIM_CPUID_FAMILY_TURIN 0x1Au
/* The mitigation vectors of a Turin state's version 5 reports. */
#define SIM_TURIN_MIT_VECTOR UINT64_C(0x3)

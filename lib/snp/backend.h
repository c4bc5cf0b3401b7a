/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The firmware behind one interface: the real /dev/sev-guest device
 * (backend-sev-guest.c) or the simulator (backend-simulator.c). The
 * simulator is only ever selected explicitly.
 *
 * snp_backend_derive_key() validates every request before it reaches a
 * backend: structurally (reserved bits, KEY_SEL 3, VMPL > 3, unknown field
 * bits) and against the platform's limits read from the launch's
 * attestation report (VMPL below the caller's, SVN above the launch SVN, TCB
 * above COMMITTED_TCB in any byte). A request that fails validation is never
 * sent.
 *
 * The launch's report is kept: the values a key request is checked against
 * (measurement, policy, IDs, launch SVN, VMPL, launch TCB) do not change
 * during a launch, and the committed TCB only rises. It is replaced by every
 * fresh report of this guest's VMPL without REPORT_DATA (GetStatus), and
 * fetched again once when a check against it or the firmware refuses a key
 * request, before the request is refused. With a key cache
 * (snp_backend_set_key_cache(), key-cache.h) a key the firmware gave is
 * answered again for the same request without asking it.
 *
 * Firmware requests go one at a time; a report request waits for the request
 * in progress, not for the key requests queued before it (they alternate).
 *
 * A thread may ask for answers that need no waiting only
 * (snp_backend_no_wait_begin/_end: the agent's event loop answers repeated
 * DeriveKey calls itself that way): then every call that would send a
 * firmware request, or wait for one another thread sends, fails with
 * -EWOULDBLOCK instead, before anything is sent or claimed, and _end says
 * whether that happened.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "snp-abi.h"
#include "snp-error.h"

struct snp_backend;

struct snp_backend_ops {
        const char *name;  /* "sev-guest", "simulator" */
        /* Send one MSG_KEY_REQ; on success the 32-byte key is in key_out.
         * Implementations check the transport result, then STATUS, then
         * reject an all-zero key. */
        int (*derive_key)(struct snp_backend *b, const struct snp_msg_key_req *req,
                          uint8_t key_out[SNP_KEY_LEN], struct snp_error *err);
        /* Send one MSG_REPORT_REQ; on success *report_out holds the report. */
        int (*get_report)(struct snp_backend *b, const struct snp_msg_report_req *req,
                          struct snp_report *report_out, struct snp_error *err);
        /* The same through SNP_GET_EXT_REPORT: also the host's certificate
         * table into certs (SNP_CERT_BLOB_MAX bytes, zeroed when the host
         * gives none). NULL when the backend has no such call. */
        int (*get_ext_report)(struct snp_backend *b, const struct snp_msg_report_req *req,
                              struct snp_report *report_out, uint8_t *certs, struct snp_error *err);
        /* Release b->data; snp_backend_free() then frees b itself. */
        void (*free)(struct snp_backend *b);
        /* Whether the launch may have changed since the last call (the
         * simulator's state file was rewritten); NULL: it never does. */
        bool (*launch_changed)(struct snp_backend *b);
};

struct snp_key_cache;

struct snp_backend {
        const struct snp_backend_ops *ops;
        uint32_t own_vmpl;   /* the VMPL this guest software runs at */
        void *data;          /* backend-private */
        /* backend.c's own (zero from the backends' calloc) */
        struct snp_key_cache *key_cache;  /* NULL: every key from the firmware */
        bool have_launch_report;
        struct snp_report launch_report;
};

/* Open the real device (path NULL = /dev/sev-guest). own_vmpl: the VMPL the
 * guest kernel runs at (0 unless under an SVSM). */
int snp_backend_sev_guest_open(const char *path, uint32_t own_vmpl,
                               struct snp_backend **ret, struct snp_error *err);
/* The VMPL the guest kernel runs at, from /sys/devices/system/cpu/sev/vmpl
 * (Linux 6.11+); 0 when that file does not exist (older kernels, no SVSM).
 * -EBADMSG when the file holds no VMPL in 0..3. */
#define SNP_SYSFS_VMPL_PATH "/sys/devices/system/cpu/sev/vmpl"
int snp_detect_own_vmpl(uint32_t *ret_vmpl);
/* The same from another file (tests). */
int snp_detect_own_vmpl_from(const char *path, uint32_t *ret_vmpl);
/* Open the simulator driven by a state file (see sim-state.h). */
int snp_backend_simulator_open(const char *state_path,
                               struct snp_backend **ret, struct snp_error *err);
void snp_backend_free(struct snp_backend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_backend *, snp_backend_free);

/* Structural validation of a key request: 0 or -EINVAL with err filled. */
int snp_key_req_validate(const struct snp_msg_key_req *req, struct snp_error *err);
/* The request asks for a key from the VCEK (KEY_SEL 1, or 0 without a VLEK
 * installed) while the report says the host set MASK_CHIP_KEY: the firmware
 * would answer STATUS 0x27. */
bool snp_key_req_masked_chip_key(const struct snp_msg_key_req *req, const struct snp_report *report);
/* Validation against the platform's limits as an attestation report states
 * them (report->vmpl is taken as the caller's VMPL only when asked with
 * own_vmpl): 0 or -ERANGE with err filled. */
int snp_key_req_check_limits(const struct snp_msg_key_req *req, uint32_t own_vmpl,
                             const struct snp_report *report, struct snp_error *err);

/* Validated derivation: structure, then limits from the launch's report,
 * then the key cache or the backend (after a refusal, once more with a fresh
 * report). key_out must be secret memory (secret_alloc). */
int snp_backend_derive_key(struct snp_backend *b, const struct snp_msg_key_req *req,
                           uint8_t key_out[SNP_KEY_LEN], struct snp_error *err);
/* On this thread, until snp_backend_no_wait_end(): refuse to wait
 * (-EWOULDBLOCK, see above). */
void snp_backend_no_wait_begin(void);
/* Back to waiting; true when a call was refused since _begin. */
bool snp_backend_no_wait_end(void);
/* Cache the firmware's keys for ttl_sec (> 0); -ENOMEM. */
int snp_backend_set_key_cache(struct snp_backend *b, unsigned ttl_sec);
/* The launch's report (this guest's VMPL, REPORT_DATA zero): the kept one,
 * or fetched and kept. For checks against values fixed at launch; not for
 * attestation. */
int snp_backend_launch_report(struct snp_backend *b, struct snp_report *report_out, struct snp_error *err);
/* Report for report_data (NULL = zeros) at vmpl (validated first): always a
 * fresh one; with NULL report_data at this guest's VMPL it is also kept as
 * the launch's report. */
int snp_backend_get_report(struct snp_backend *b, const uint8_t report_data[SNP_REPORT_DATA_LEN],
                           uint32_t vmpl, struct snp_report *report_out, struct snp_error *err);

/* The same with the host's certificate table (lib/snp/snp-cert-table.h) into
 * certs, SNP_CERT_BLOB_MAX bytes; all zero (an empty table) when the host
 * gives none or the backend cannot ask. */
int snp_backend_get_ext_report(struct snp_backend *b, const uint8_t report_data[SNP_REPORT_DATA_LEN],
                               uint32_t vmpl, struct snp_report *report_out, uint8_t *certs,
                               struct snp_error *err);

/* ---- shared by the backends (implemented in backend.c) ---- */

/* Explain a failed guest request: rc is the -errno of the transport (ioctl
 * or simulated kernel layer), exitinfo2 as the kernel reported it. Returns
 * rc (mapped where needed) with err filled: message key disabled → "reboot
 * required", VMM busy/timeout, invalid length, command failure, ENOENT,
 * EACCES, … */
int snp_transport_error(int rc, uint64_t exitinfo2, struct snp_error *err);
/* Check a MSG_KEY_RSP: STATUS first (non-zero → -EREMOTEIO naming the
 * status), then an all-zero key (→ -EBADMSG). Copies the key on success. */
int snp_key_rsp_check(const struct snp_msg_key_rsp *rsp, uint8_t key_out[SNP_KEY_LEN],
                      struct snp_error *err);
/* Check a MSG_REPORT_RSP: STATUS, REPORT_SIZE, report version range. */
int snp_report_rsp_check(const struct snp_msg_report_rsp *rsp, struct snp_report *report_out,
                         struct snp_error *err);

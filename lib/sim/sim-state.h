/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's state, kept in a JSON state file (format in docs/SIMULATOR.md):
 * chip secret, optional VLEK secret, per-launch VMRK, guest policy,
 * measurement, family/image IDs, launch guest SVN, launch/committed/current/
 * reported TCB, VMPL of the caller, platform info, CPUID, report version, a
 * "message key disabled" flag, and optional fault injection.
 *
 * A simulated VM for tests and the demo — never a security boundary.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SIM_SECRET_LEN 32

enum sim_fault {
        SIM_FAULT_NONE = 0,
        SIM_FAULT_BUSY,        /* VMM busy: the kernel retries, then -ETIMEDOUT */
        SIM_FAULT_CMD_FAIL,    /* command-level failure: -EIO, message key disabled */
        SIM_FAULT_BAD_MSG,     /* the response fails the kernel's AES-GCM check: -EBADMSG,
                                * message key disabled */
};

struct sim_state {
        uint8_t chip_secret[SIM_SECRET_LEN];
        bool vlek_present;
        uint8_t vlek_secret[SIM_SECRET_LEN];
        uint8_t vmrk_secret[SIM_SECRET_LEN];   /* new at every simulated launch */
        uint64_t policy;
        uint8_t measurement[48];
        uint8_t family_id[16];
        uint8_t image_id[16];
        uint8_t host_data[32];
        uint32_t guest_svn;                    /* launch SVN from the ID block */
        uint64_t launch_tcb, committed_tcb, current_tcb, reported_tcb;
        uint32_t vmpl;                         /* VMPL of the caller */
        uint64_t platform_info;
        uint8_t cpuid_fam, cpuid_mod, cpuid_step;
        uint32_t report_version;
        uint8_t fw_build, fw_minor, fw_major;  /* current = committed firmware version */
        bool vmpck_disabled;
        bool mask_chip_key;                    /* signer info bit 1; VCEK key requests fail 0x27 */
        bool mask_chip_id;                     /* CHIP_ID zero in reports */
        enum sim_fault fault;
        uint32_t latency_ms;                   /* added to every request */
        uint32_t throttle_burst;               /* requests before each stall; 0: no throttling */
        uint32_t throttle_stall_ms;            /* the stall */
        bool count_requests;                   /* append to <state file>.requests */
        /* Not in the file: the state file it came from, set by whoever loaded
         * it (the backend, the shim) for the request counter; NULL: none. */
        const char *path;
};

/* The request counter next to the state file: one record of
 * SIM_COUNT_RECORD_LEN bytes per request that reaches the hypervisor,
 * "key    \n" or "report \n" (docs/SIMULATOR.md). */
#define SIM_COUNT_SUFFIX ".requests"
#define SIM_COUNT_RECORD_LEN 8

/* Fresh state: random chip and VMRK secrets, plausible defaults
 * (policy 0x30000, Milan CPUID, report version 3, TCBs 03000000000008d1, VMPL 0).
 * Details in docs/SIMULATOR.md. */
int sim_state_init(struct sim_state *ret);
/* Load / store the JSON state file. Store is atomic (temp file + rename) and
 * mode 0600. Load rejects unknown keys, wrong lengths and bad hex with a
 * message in errbuf. */
int sim_state_load(const char *path, struct sim_state *ret, char *errbuf, size_t errlen);
int sim_state_save(const char *path, const struct sim_state *s);
/* Set one KEY=VALUE as `snpseal-sim set` takes it; errbuf says what is wrong. */
int sim_state_set(struct sim_state *s, const char *key, const char *value, char *errbuf, size_t errlen);
/* Simulated reboot: new VMRK, message key enabled again. */
int sim_state_reboot(struct sim_state *s);
void sim_state_wipe(struct sim_state *s);

/* Report versions the simulator produces: 2..5, and 6 to play a firmware
 * newer than snpseal knows (laid out as version 5). */
#define SIM_REPORT_VERSION_MAX 6u

/* Upper bound on the state file's size; larger files are refused (-EFBIG). */
#define SIM_STATE_FILE_MAX (64u * 1024u)
/* Enough for any value sim_state_get() formats, NUL included. */
#define SIM_STATE_VALUE_MAX 128u

/* Like sim_state_save(), but fails with -EEXIST when path exists (atomically:
 * the temp file is link()ed into place). */
int sim_state_create(const char *path, const struct sim_state *s);
/* The keys in file order; NULL once i is past the last. */
const char *sim_state_key_name(size_t i);
/* One value formatted as `snpseal-sim set` takes it. Without reveal_secrets the
 * secrets (chip_secret, vlek, vmrk) read "(set)" or "(none)".
 * Returns 0, -ENOENT for an unknown key, -ENOBUFS when len is too small. */
int sim_state_get(const struct sim_state *s, const char *key, bool reveal_secrets, char *buf, size_t len);
/* The state as JSON text in the file format, "format": 1 first; without
 * reveal_secrets the public view ("(set)"/"(none)" for secrets). *ret_json
 * comes from secret_alloc(): free it with secret_free(). */
int sim_state_to_json(const struct sim_state *s, bool reveal_secrets, char **ret_json);

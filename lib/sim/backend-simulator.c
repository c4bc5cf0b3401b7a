/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The simulator backend: the simulated kernel and firmware layers
 * (sim-firmware.c) driven by a state file. The state is reloaded for every
 * request, so tests and `snpseal-sim set` can change the simulated VM
 * between requests, and saved again when the request disabled the message
 * key. Responses are interpreted exactly like the real device backend's.
 * Only ever selected explicitly; never a security boundary.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "log.h"
#include "secret.h"
#include "sim-firmware.h"
#include "snp-cert-table.h"
#include "sim-state.h"

struct sim_backend {
        char *state_path;
        struct stat seen;   /* the state file when last asked launch_changed */
        bool have_seen;
};

/* A loaded state: it holds the simulated chip's secrets, so it lives in
 * secret memory and is wiped on free. */
static void sim_state_freep(struct sim_state **p) {
        if (*p) {
                sim_state_wipe(*p);
                secret_free(*p);
        }
}

static int sim_backend_load(const char *path, struct sim_state **ret, struct snp_error *err) {
        _cleanup_(sim_state_freep) struct sim_state *s = secret_alloc(sizeof(*s));
        char errbuf[256] = "";
        int r;

        if (!s)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory loading the simulator state");
        r = sim_state_load(path, s, errbuf, sizeof(errbuf));
        if (r == -ENOENT)
                return snp_error_set(err, r, 0, 0,
                                     "simulator state file %s not found; create one with snpseal-sim init %s",
                                     path, path);
        if (r < 0)
                return snp_error_set(err, r, 0, 0, "simulator state file %s: %s", path,
                                     errbuf[0] ? errbuf : strerror(-r));
        *ret = TAKE_PTR(s);
        return 0;
}

/* Run one request through the simulated kernel; persist the state when the
 * request disabled the message key, as a real guest would stay disabled. */
static int sim_backend_request(struct snp_backend *b, enum sim_msg_type type,
                               const void *req, void *resp, struct snp_error *err) {
        const struct sim_backend *sb = b->data;
        _cleanup_(sim_state_freep) struct sim_state *s = NULL;
        uint64_t exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
        bool was_disabled;
        int r, k;

        r = sim_backend_load(sb->state_path, &s, err);
        if (r < 0)
                return r;
        s->path = sb->state_path;
        was_disabled = s->vmpck_disabled;
        r = sim_guest_request(s, type, SNP_MSG_VERSION, req, resp, &exitinfo2);
        if (s->vmpck_disabled != was_disabled) {
                k = sim_state_save(sb->state_path, s);
                if (k < 0)
                        log_debug("simulator: saving %s failed: %s", sb->state_path, strerror(-k));
        }
        if (r < 0)
                return snp_transport_error(r, exitinfo2, err);
        return 0;
}

static int sim_backend_derive_key(struct snp_backend *b, const struct snp_msg_key_req *req,
                                  uint8_t key_out[SNP_KEY_LEN], struct snp_error *err) {
        struct snp_msg_key_rsp rsp = {};
        int r;

        r = sim_backend_request(b, SIM_MSG_KEY_REQ, req, &rsp, err);
        if (r >= 0)
                r = snp_key_rsp_check(&rsp, key_out, err);
        secret_wipe(&rsp, sizeof(rsp));
        return r;
}

static int sim_backend_get_report(struct snp_backend *b, const struct snp_msg_report_req *req,
                                  struct snp_report *report_out, struct snp_error *err) {
        struct snp_msg_report_rsp rsp = {};
        int r;

        r = sim_backend_request(b, SIM_MSG_REPORT_REQ, req, &rsp, err);
        if (r < 0)
                return r;
        return snp_report_rsp_check(&rsp, report_out, err);
}

static int sim_backend_get_ext_report(struct snp_backend *b, const struct snp_msg_report_req *req,
                                      struct snp_report *report_out, uint8_t *certs, struct snp_error *err) {
        const struct sim_backend *sb = b->data;
        _cleanup_(sim_state_freep) struct sim_state *s = NULL;
        struct snp_msg_report_rsp rsp = {};
        uint64_t exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
        uint32_t certs_len = SNP_CERT_BLOB_MAX;
        bool was_disabled;
        int r, k;

        r = sim_backend_load(sb->state_path, &s, err);
        if (r < 0)
                return r;
        s->path = sb->state_path;
        was_disabled = s->vmpck_disabled;
        r = sim_guest_ext_report(s, SNP_MSG_VERSION, req, &rsp, certs, &certs_len, &exitinfo2);
        if (s->vmpck_disabled != was_disabled) {
                k = sim_state_save(sb->state_path, s);
                if (k < 0)
                        log_debug("simulator: saving %s failed: %s", sb->state_path, strerror(-k));
        }
        if (r < 0)
                return snp_transport_error(r, exitinfo2, err);
        return snp_report_rsp_check(&rsp, report_out, err);
}

/* The agent keeps the launch's report and the firmware's keys; a real
 * launch never changes under it, but the state file may be rewritten
 * (snpseal-sim set, reboot: always a new file renamed into place). Any
 * change counts as a new launch. */
static bool sim_backend_launch_changed(struct snp_backend *b) {
        struct sim_backend *sb = b->data;
        struct stat st;
        bool changed;

        if (stat(sb->state_path, &st) < 0)
                return true;
        changed = !sb->have_seen || st.st_ino != sb->seen.st_ino || st.st_dev != sb->seen.st_dev ||
                  st.st_size != sb->seen.st_size || st.st_mtim.tv_sec != sb->seen.st_mtim.tv_sec ||
                  st.st_mtim.tv_nsec != sb->seen.st_mtim.tv_nsec || st.st_ctim.tv_nsec != sb->seen.st_ctim.tv_nsec;
        sb->seen = st;
        sb->have_seen = true;
        return changed;
}

static void sim_backend_free(struct snp_backend *b) {
        struct sim_backend *sb = b->data;

        if (!sb)
                return;
        free(sb->state_path);
        free(sb);
        b->data = NULL;
}

static const struct snp_backend_ops sim_backend_ops = {
        .name = "simulator",
        .derive_key = sim_backend_derive_key,
        .get_report = sim_backend_get_report,
        .get_ext_report = sim_backend_get_ext_report,
        .free = sim_backend_free,
        .launch_changed = sim_backend_launch_changed,
};

int snp_backend_simulator_open(const char *state_path,
                               struct snp_backend **ret, struct snp_error *err) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = NULL;
        _cleanup_(sim_state_freep) struct sim_state *s = NULL;
        struct sim_backend *sb;
        int r;

        if (!state_path || !state_path[0])
                return snp_error_set(err, -EINVAL, 0, 0, "no simulator state file given");
        r = sim_backend_load(state_path, &s, err);
        if (r < 0)
                return r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory opening the simulator");
        b->ops = &sim_backend_ops;
        sb = calloc(1, sizeof(*sb));
        if (!sb)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory opening the simulator");
        b->data = sb;
        sb->state_path = strdup(state_path);
        if (!sb->state_path)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory opening the simulator");
        b->own_vmpl = s->vmpl;
        /* the file as opened is the launch */
        sb->have_seen = stat(state_path, &sb->seen) >= 0;
        log_debug("simulator backend on %s (VMPL %u)", state_path, b->own_vmpl);
        *ret = TAKE_PTR(b);
        return 0;
}

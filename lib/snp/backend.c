/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "hexutil.h"
#include "key-cache.h"
#include "log.h"
#include "snp-cert-table.h"
#include "secret.h"

void snp_backend_free(struct snp_backend *b) {
        if (!b)
                return;
        /* ops->free releases the backend's private data; the struct is ours. */
        if (b->ops && b->ops->free)
                b->ops->free(b);
        snp_key_cache_free(b->key_cache);
        secret_wipe(&b->launch_report, sizeof(b->launch_report));
        free(b);
}

/* ---- structural validation (never depends on the platform) ---- */

typedef int (*key_req_rule_fn)(const struct snp_msg_key_req *req, struct snp_error *err);

static int rule_root_key_reserved(const struct snp_msg_key_req *req, struct snp_error *err) {
        uint32_t bad = req->root_key_select & SNP_KEY_REQ_RESERVED_MASK;

        if (bad == 0)
                return 0;
        return snp_error_set(err, -EINVAL, 0, 0,
                             "key request refused before sending: ROOT_KEY_SELECT 0x%08x has reserved bits 0x%08x set "
                             "(only bit 0 and KEY_SEL bits 2:1 are defined)",
                             req->root_key_select, bad);
}

static int rule_reserved_word(const struct snp_msg_key_req *req, struct snp_error *err) {
        if (req->reserved == 0)
                return 0;
        return snp_error_set(err, -EINVAL, 0, 0,
                             "key request refused before sending: the reserved field at offset 0x04 is 0x%08x, must be zero",
                             req->reserved);
}

static int rule_key_sel(const struct snp_msg_key_req *req, struct snp_error *err) {
        uint32_t sel = (req->root_key_select & SNP_KEY_REQ_KEY_SEL_MASK) >> SNP_KEY_REQ_KEY_SEL_SHIFT;

        /* KEY_SEL together with the VMRK root is accepted: the firmware ignores
         * KEY_SEL when ROOT_KEY_SELECT picks the VMRK. */
        if (sel != SNP_KEY_SEL_RESERVED)
                return 0;
        return snp_error_set(err, -EINVAL, 0, 0,
                             "key request refused before sending: KEY_SEL 3 is reserved "
                             "(use 1 for the VCEK or 2 for the VLEK)");
}

static int rule_field_select(const struct snp_msg_key_req *req, struct snp_error *err) {
        uint64_t bad = req->guest_field_select & ~SNP_FIELD_VALID_V1;

        if (bad == 0)
                return 0;
        return snp_error_set(err, -EINVAL, 0, 0,
                             "key request refused before sending: GUEST_FIELD_SELECT 0x%llx has bits 0x%llx outside "
                             "the message version 1 set 0x%llx%s",
                             (unsigned long long) req->guest_field_select, (unsigned long long) bad,
                             (unsigned long long) SNP_FIELD_VALID_V1,
                             (bad & SNP_FIELD_LAUNCH_MIT) ? " (bit 6, the launch mitigation vector, needs message version 2, "
                                                            "which the kernel cannot send)" : "");
}

static int rule_vmpl_max(const struct snp_msg_key_req *req, struct snp_error *err) {
        if (req->vmpl <= SNP_VMPL_MAX)
                return 0;
        return snp_error_set(err, -EINVAL, 0, 0,
                             "key request refused before sending: VMPL %u is above %u", req->vmpl, SNP_VMPL_MAX);
}

static const key_req_rule_fn key_req_rules[] = {
        rule_root_key_reserved,
        rule_reserved_word,
        rule_key_sel,
        rule_field_select,
        rule_vmpl_max,
};

int snp_key_req_validate(const struct snp_msg_key_req *req, struct snp_error *err) {
        if (!req)
                return snp_error_set(err, -EINVAL, 0, 0, "key request refused: no request");
        for (size_t i = 0; i < ELEMENTSOF(key_req_rules); i++) {
                int r = key_req_rules[i](req, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- limits the platform states in its attestation report ---- */

static int check_vmpl_not_below(uint32_t vmpl, uint32_t own_vmpl, struct snp_error *err) {
        if (vmpl >= own_vmpl)
                return 0;
        return snp_error_set(err, -ERANGE, 0, 0,
                             "requested VMPL %u is below this guest's VMPL %u: "
                             "software at VMPL %u cannot use a more privileged level",
                             vmpl, own_vmpl, own_vmpl);
}

bool snp_key_req_masked_chip_key(const struct snp_msg_key_req *req, const struct snp_report *report) {
        uint32_t sel = (req->root_key_select & SNP_KEY_REQ_KEY_SEL_MASK) >> SNP_KEY_REQ_KEY_SEL_SHIFT;
        unsigned signer = (report->signer_info & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT;

        if (!(report->signer_info & SNP_SIGNER_MASK_CHIP_KEY) || (req->root_key_select & SNP_KEY_REQ_ROOT_KEY_VMRK))
                return false;
        /* KEY_SEL 0 means the VCEK unless a VLEK is installed; a report
         * requested with KEY_SEL 0 is VLEK-signed exactly then. */
        return sel == SNP_KEY_SEL_VCEK || (sel == SNP_KEY_SEL_DEFAULT && signer != SNP_SIGNING_KEY_VLEK);
}

int snp_key_req_check_limits(const struct snp_msg_key_req *req, uint32_t own_vmpl,
                             const struct snp_report *report, struct snp_error *err) {
        char want[TCB_HEX_LEN + 1], have[TCB_HEX_LEN + 1];
        int r;

        r = check_vmpl_not_below(req->vmpl, own_vmpl, err);
        if (r < 0)
                return r;
        if (req->guest_svn > report->guest_svn)
                return snp_error_set(err, -ERANGE, 0, 0,
                                     "requested GUEST_SVN %u is above the launch guest SVN %u from the ID block",
                                     req->guest_svn, report->guest_svn);
        if (snp_key_req_masked_chip_key(req, report))
                return snp_error_set(err, -ERANGE, 0, 0,
                                     "the host set MASK_CHIP_KEY (signer info bit 1 of the report): the firmware "
                                     "derives no keys from the VCEK on this platform; use a VLEK binding "
                                     "(--root-key=vlek) if the host installed one, or VMRK for keys that need "
                                     "not survive a restart");
        if (!snp_tcb_le(req->tcb_version, report->committed_tcb)) {
                tcb_to_hex(req->tcb_version, want);
                tcb_to_hex(report->committed_tcb, have);
                return snp_error_set(err, -ERANGE, 0, 0,
                                     "requested TCB %s is above the committed TCB %s: the firmware is older than "
                                     "the sealed TCB; update the host firmware, or unlock another way and reseal",
                                     want, have);
        }
        return 0;
}

/* ---- the validated front end ---- */

/* No-wait mode of this thread (backend.h). */
static __thread bool no_wait, wait_refused;

void snp_backend_no_wait_begin(void) {
        no_wait = true;
        wait_refused = false;
}

bool snp_backend_no_wait_end(void) {
        no_wait = false;
        return wait_refused;
}

/* In no-wait mode, -EWOULDBLOCK (and remember it); 0 otherwise. */
static int wait_check(struct snp_error *err) {
        if (!no_wait)
                return 0;
        wait_refused = true;
        return snp_error_set(err, -EWOULDBLOCK, 0, 0, "the answer needs a firmware request");
}

/* One firmware request at a time (the agent serves calls on threads): the
 * device serializes them anyway, and a backend need not be reentrant. A
 * report request (GetStatus, GetReport) waits for the request in progress,
 * not for every key request queued before it: when both kinds wait, they
 * take turns. */
static pthread_mutex_t firmware_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t firmware_free = PTHREAD_COND_INITIALIZER;
static bool firmware_busy, firmware_last_report;
static unsigned firmware_waiting[2];   /* [0] key requests, [1] report requests */

static bool firmware_turn(bool report) {
        if (firmware_busy)
                return false;
        if (report)
                return !(firmware_last_report && firmware_waiting[0] > 0);
        return !(!firmware_last_report && firmware_waiting[1] > 0);
}

static void firmware_enter(bool report) {
        (void) pthread_mutex_lock(&firmware_lock);
        firmware_waiting[report]++;
        while (!firmware_turn(report))
                (void) pthread_cond_wait(&firmware_free, &firmware_lock);
        firmware_waiting[report]--;
        firmware_busy = true;
        firmware_last_report = report;
        (void) pthread_mutex_unlock(&firmware_lock);
}

static void firmware_leave(void) {
        (void) pthread_mutex_lock(&firmware_lock);
        firmware_busy = false;
        (void) pthread_cond_broadcast(&firmware_free);
        (void) pthread_mutex_unlock(&firmware_lock);
}

/* The kept launch report (struct snp_backend's fields). */
static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;

static void launch_keep(struct snp_backend *b, const struct snp_report *report) {
        (void) pthread_mutex_lock(&keep_lock);
        b->launch_report = *report;
        b->have_launch_report = true;
        (void) pthread_mutex_unlock(&keep_lock);
}

/* Forget what was kept when the backend says the launch changed. */
static void launch_check(struct snp_backend *b) {
        bool changed;

        if (!b->ops->launch_changed)
                return;
        (void) pthread_mutex_lock(&keep_lock);
        changed = b->ops->launch_changed(b);
        if (changed)
                b->have_launch_report = false;
        (void) pthread_mutex_unlock(&keep_lock);
        if (!changed)
                return;
        log_debug("%s: the launch changed: the kept report and keys are dropped", b->ops->name);
        if (b->key_cache)
                snp_key_cache_clear(b->key_cache);
}

int snp_backend_set_key_cache(struct snp_backend *b, unsigned ttl_sec) {
        struct snp_key_cache *c = NULL;
        int r;

        r = snp_key_cache_new(ttl_sec, &c);
        if (r < 0)
                return r;
        snp_key_cache_free(b->key_cache);
        b->key_cache = c;
        return 0;
}

/* Validate and build a report request. */
static int report_req_make(struct snp_backend *b, const uint8_t *report_data, uint32_t vmpl,
                           struct snp_msg_report_req *ret, struct snp_error *err) {
        struct snp_msg_report_req req = { .vmpl = vmpl };
        int r;

        if (vmpl > SNP_VMPL_MAX)
                return snp_error_set(err, -EINVAL, 0, 0,
                                     "report request refused before sending: VMPL %u is above %u", vmpl, SNP_VMPL_MAX);
        r = check_vmpl_not_below(vmpl, b->own_vmpl, err);
        if (r < 0)
                return r;
        if (report_data)
                memcpy(req.report_data, report_data, SNP_REPORT_DATA_LEN);
        *ret = req;
        return 0;
}

int snp_backend_get_ext_report(struct snp_backend *b, const uint8_t report_data[SNP_REPORT_DATA_LEN],
                               uint32_t vmpl, struct snp_report *report_out, uint8_t *certs,
                               struct snp_error *err) {
        struct snp_msg_report_req req;
        struct snp_report report;
        int r;

        r = report_req_make(b, report_data, vmpl, &req, err);
        if (r < 0)
                return r;
        memset(certs, 0, SNP_CERT_BLOB_MAX);
        r = wait_check(err);
        if (r < 0)
                return r;
        firmware_enter(true);
        if (b->ops->get_ext_report)
                r = b->ops->get_ext_report(b, &req, &report, certs, err);
        else
                r = b->ops->get_report(b, &req, &report, err);
        firmware_leave();
        if (r < 0)
                return r;
        *report_out = report;
        return 0;
}

int snp_backend_get_report(struct snp_backend *b, const uint8_t report_data[SNP_REPORT_DATA_LEN],
                           uint32_t vmpl, struct snp_report *report_out, struct snp_error *err) {
        struct snp_msg_report_req req;
        struct snp_report report;
        int r;

        r = report_req_make(b, report_data, vmpl, &req, err);
        if (r >= 0)
                r = wait_check(err);
        if (r < 0)
                return r;
        firmware_enter(true);
        r = b->ops->get_report(b, &req, &report, err);
        firmware_leave();
        if (r < 0)
                return r;
        if (!report_data && vmpl == b->own_vmpl)
                launch_keep(b, &report);
        *report_out = report;
        return 0;
}

static bool launch_kept(struct snp_backend *b, struct snp_report *report_out) {
        bool have;

        (void) pthread_mutex_lock(&keep_lock);
        have = b->have_launch_report;
        if (have)
                *report_out = b->launch_report;
        (void) pthread_mutex_unlock(&keep_lock);
        return have;
}

/* Calls that find no kept report wait for one thread to read it. */
static pthread_mutex_t launch_fetch_lock = PTHREAD_MUTEX_INITIALIZER;

/* The kept launch report, or a fresh one (then *ret_fresh). */
static int launch_report(struct snp_backend *b, struct snp_report *report_out, bool *ret_fresh,
                         struct snp_error *err) {
        int r = 0;

        launch_check(b);
        *ret_fresh = false;
        if (launch_kept(b, report_out))
                return 0;
        r = wait_check(err);
        if (r < 0)
                return r;
        (void) pthread_mutex_lock(&launch_fetch_lock);
        if (!launch_kept(b, report_out)) {
                *ret_fresh = true;
                r = snp_backend_get_report(b, NULL, b->own_vmpl, report_out, err);
        }
        (void) pthread_mutex_unlock(&launch_fetch_lock);
        return r;
}

int snp_backend_launch_report(struct snp_backend *b, struct snp_report *report_out, struct snp_error *err) {
        bool fresh;

        return launch_report(b, report_out, &fresh, err);
}

/* The request checked against the launch's report; when the kept report
 * refuses it, once more against a fresh one (the committed TCB may have
 * risen, the host may have changed MASK_CHIP_KEY). */
static int key_req_check(struct snp_backend *b, const struct snp_msg_key_req *req, bool *ret_fresh,
                         struct snp_error *err) {
        struct snp_report report;
        int r;

        r = launch_report(b, &report, ret_fresh, err);
        if (r < 0)
                return r;
        r = snp_key_req_check_limits(req, b->own_vmpl, &report, err);
        if (r != -ERANGE || *ret_fresh)
                return r;
        *ret_fresh = true;
        r = snp_backend_get_report(b, NULL, b->own_vmpl, &report, err);
        if (r < 0)
                return r;
        *err = (struct snp_error) {};
        return snp_key_req_check_limits(req, b->own_vmpl, &report, err);
}

static int firmware_key(struct snp_backend *b, const struct snp_msg_key_req *req, uint8_t key_out[SNP_KEY_LEN],
                        struct snp_error *err) {
        int r;

        r = wait_check(err);
        if (r < 0)
                return r;
        log_debug("%s: key request fields 0x%llx vmpl %u", b->ops->name,
                  (unsigned long long) req->guest_field_select, req->vmpl);
        firmware_enter(false);
        r = b->ops->derive_key(b, req, key_out, err);
        firmware_leave();
        return r;
}

/* The firmware's key for req; after a refusal (a STATUS), once more after
 * checking req against a fresh report, which explains most refusals. */
static int firmware_key_retry(struct snp_backend *b, const struct snp_msg_key_req *req, bool fresh,
                              uint8_t key_out[SNP_KEY_LEN], struct snp_error *err) {
        struct snp_report report;
        int r;

        r = firmware_key(b, req, key_out, err);
        if (r != -EREMOTEIO || fresh)
                return r;
        log_debug("%s: the firmware refused a key request: once more with a fresh report", b->ops->name);
        *err = (struct snp_error) {};
        r = snp_backend_get_report(b, NULL, b->own_vmpl, &report, err);
        if (r >= 0)
                r = snp_key_req_check_limits(req, b->own_vmpl, &report, err);
        if (r < 0)
                return r;
        return firmware_key(b, req, key_out, err);
}

int snp_backend_derive_key(struct snp_backend *b, const struct snp_msg_key_req *req,
                           uint8_t key_out[SNP_KEY_LEN], struct snp_error *err) {
        enum snp_key_cache_result cached = SNP_KEY_CACHE_BYPASS;
        bool fresh = false;
        int r;

        r = snp_key_req_validate(req, err);
        if (r >= 0)   /* needs no report */
                r = check_vmpl_not_below(req->vmpl, b->own_vmpl, err);
        if (r < 0)
                return r;
        r = key_req_check(b, req, &fresh, err);
        if (r < 0)
                return r;
        if (no_wait)   /* a ready key, or nothing: never wait or claim */
                return b->key_cache && snp_key_cache_peek(b->key_cache, req, key_out) ? 0 : wait_check(err);
        if (b->key_cache)
                cached = snp_key_cache_get(b->key_cache, req, key_out);
        if (cached == SNP_KEY_CACHE_HIT)
                return 0;
        r = firmware_key_retry(b, req, fresh, key_out, err);
        if (cached == SNP_KEY_CACHE_FILL) {
                if (r >= 0)
                        snp_key_cache_put(b->key_cache, req, key_out);
                else
                        snp_key_cache_abandon(b->key_cache, req);
        }
        return r;
}

/* ---- explaining failures ---- */

struct transport_explain {
        int code;
        const char *text;
};

static const struct transport_explain transport_explain_table[] = {
        { -ENOENT, "SEV-SNP guest device not found: not an SEV-SNP guest, or the sev-guest driver is not loaded "
                   "(modprobe sev-guest)" },
        { -EACCES, "permission denied on the SEV-SNP guest device: only root (or the snpseal agent) may use it" },
        { -EPERM, "permission denied on the SEV-SNP guest device: only root (or the snpseal agent) may use it" },
        { -ENOTTY, "the kernel disabled the VM's message key (VMPCK) after an earlier failed guest request; "
                   "reboot required" },
        { -ETIMEDOUT, "the hypervisor stayed busy for over a minute (VMM error: busy); the kernel has now "
                      "disabled the VM's message key: reboot required" },
        { -EAGAIN, "the hypervisor is busy (VMM error: busy); try again later" },
        { -EINVAL, "the kernel refused the guest request as invalid (message version or buffers); no firmware "
                   "call, the message key is intact" },
        { -EBADMSG, "the response to the guest request failed the kernel's integrity check (AES-GCM): a hostile "
                    "or broken host; the kernel has now disabled the VM's message key: reboot required" },
        { -EFAULT, "the kernel could not access the guest request buffers (bad address): a bug in snpseal" },
};

static int transport_error_eio(uint64_t exitinfo2, struct snp_error *err) {
        uint32_t fw = (uint32_t) exitinfo2, vmm = (uint32_t) (exitinfo2 >> SNP_VMM_ERR_SHIFT);

        if (snp_exitinfo2_no_fw_call(exitinfo2) || exitinfo2 == 0)
                return snp_error_set(err, -EIO, 0, 0,
                                     "guest request failed at the command level (no firmware error reported); "
                                     "the kernel has now disabled the VM's message key: reboot required");
        if (vmm == SNP_VMM_ERR_INVALID_LEN)
                /* The kernel keeps the message key for this one. */
                return snp_error_set(err, -EIO, fw, vmm,
                                     "the hypervisor refused the guest request's buffer length "
                                     "(VMM error %u: %s, firmware error 0x%x)",
                                     vmm, snp_vmm_error_str(vmm), fw);
        return snp_error_set(err, -EIO, fw, vmm,
                             "guest request failed at the command level (firmware error 0x%x: %s, VMM error %u: %s); "
                             "the kernel has now disabled the VM's message key: reboot required",
                             fw, snp_fw_status_str(fw), vmm, snp_vmm_error_str(vmm));
}

int snp_transport_error(int rc, uint64_t exitinfo2, struct snp_error *err) {
        uint32_t fw = 0, vmm = 0;
        char buf[128];

        if (rc >= 0)
                rc = -EIO;
        if (rc == -EIO)
                return transport_error_eio(exitinfo2, err);
        if (!snp_exitinfo2_no_fw_call(exitinfo2)) {
                fw = (uint32_t) exitinfo2;
                vmm = (uint32_t) (exitinfo2 >> SNP_VMM_ERR_SHIFT);
        }
        /* Permission problems are one thing to the caller. */
        int code = rc == -EPERM ? -EACCES : rc;
        for (size_t i = 0; i < ELEMENTSOF(transport_explain_table); i++)
                if (transport_explain_table[i].code == rc)
                        return snp_error_set(err, code, fw, vmm, "%s", transport_explain_table[i].text);

        return snp_error_set(err, code, fw, vmm, "guest request failed: %s (errno %d)",
                             strerror_r(-rc, buf, sizeof(buf)), -rc);
}

struct fw_status_hint {
        uint32_t status;
        const char *hint;
};

static const struct fw_status_hint fw_status_hints[] = {
        { SNP_FW_INVALID_PARAM, "a field of the request is outside what this platform allows" },
        { SNP_FW_INVALID_KEY, "the selected root key is not available (KEY_SEL 2 needs a VLEK installed by the "
                              "host; a key from the VCEK is refused while the host sets MASK_CHIP_KEY, signer "
                              "info bit 1)" },
};

static const char *fw_status_hint(uint32_t status) {
        for (size_t i = 0; i < ELEMENTSOF(fw_status_hints); i++)
                if (fw_status_hints[i].status == status)
                        return fw_status_hints[i].hint;
        return "see the SEV-SNP firmware ABI specification";
}

int snp_key_rsp_check(const struct snp_msg_key_rsp *rsp, uint8_t key_out[SNP_KEY_LEN],
                      struct snp_error *err) {
        uint8_t acc = 0;

        if (rsp->status != SNP_FW_SUCCESS)
                return snp_error_set(err, -EREMOTEIO, rsp->status, 0,
                                     "firmware rejected the key request: STATUS 0x%x (%s); %s",
                                     rsp->status, snp_fw_status_str(rsp->status), fw_status_hint(rsp->status));
        for (size_t i = 0; i < SNP_KEY_LEN; i++)
                acc |= rsp->key[i];
        if (acc == 0)
                return snp_error_set(err, -EBADMSG, 0, 0,
                                     "firmware answered the key request with STATUS 0 but an all-zero key: "
                                     "treated as a failure");
        memcpy(key_out, rsp->key, SNP_KEY_LEN);
        return 0;
}

int snp_report_rsp_check(const struct snp_msg_report_rsp *rsp, struct snp_report *report_out,
                         struct snp_error *err) {
        const size_t max_size = SNP_REPORT_RESP_BUF_LEN - offsetof(struct snp_msg_report_rsp, report);
        uint32_t version = rsp->report.version;

        if (rsp->status != SNP_FW_SUCCESS)
                return snp_error_set(err, -EREMOTEIO, rsp->status, 0,
                                     "firmware rejected the report request: STATUS 0x%x (%s); %s",
                                     rsp->status, snp_fw_status_str(rsp->status), fw_status_hint(rsp->status));
        if (rsp->report_size < SNP_REPORT_SIZE || rsp->report_size > max_size)
                return snp_error_set(err, -EBADMSG, 0, 0,
                                     "malformed report response: REPORT_SIZE 0x%x, expected at least 0x%x "
                                     "and at most 0x%zx",
                                     rsp->report_size, SNP_REPORT_SIZE, max_size);
        /* A version above the newest known must not stop key derivation. */
        if (version < SNP_REPORT_VERSION_MIN)
                return snp_error_set(err, -EBADMSG, 0, 0,
                                     "malformed report response: report version %u, expected %u or later",
                                     version, SNP_REPORT_VERSION_MIN);
        if (version > SNP_REPORT_VERSION_MAX)
                log_debug("report version %u is newer than this snpseal knows (%u): decoding what is known",
                          version, SNP_REPORT_VERSION_MAX);
        *report_out = rsp->report;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "key-cache.h"
#include "secret.h"
#include "sim-state.h"

/* ---- fixtures ---- */

#define TCB_COMMITTED UINT64_C(0xd108000000000002)  /* "02000000000008d1" */

static char tmpdir[256];
static char state_path[300];

static int group_setup(void **state) {
        const char *base = getenv("TMPDIR");

        snprintf(tmpdir, sizeof(tmpdir), "%s/snpseal-test-backend-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(state_path, sizeof(state_path), "%s/state.json", tmpdir);
        return 0;
}

static int group_teardown(void **state) {
        char path[320];

        (void) unlink(state_path);
        snprintf(path, sizeof(path), "%s/vmpl", tmpdir);
        (void) unlink(path);
        return rmdir(tmpdir) < 0 ? -1 : 0;
}

/* A fresh simulated VM with known limits: launch SVN 5, committed TCB
 * 02…d1, the given caller VMPL. */
static void write_state(uint32_t vmpl, enum sim_fault fault) {
        struct sim_state s;

        assert_int_equal(sim_state_init(&s), 0);
        s.guest_svn = 5;
        s.launch_tcb = s.committed_tcb = s.current_tcb = s.reported_tcb = TCB_COMMITTED;
        s.vmpl = vmpl;
        s.fault = fault;
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
}

static struct snp_msg_key_req default_req(void) {
        return (struct snp_msg_key_req) {
                .root_key_select = SNP_KEY_SEL_VCEK << SNP_KEY_REQ_KEY_SEL_SHIFT,
                .guest_field_select = SNP_FIELD_MEASUREMENT | SNP_FIELD_POLICY | SNP_FIELD_TCB_VERSION,
                .vmpl = 0,
                .guest_svn = 0,
                .tcb_version = TCB_COMMITTED,
        };
}

/* A backend in front of the simulator that counts what reaches it, so a test
 * can tell that a refused request was never sent. */
struct counting {
        struct snp_backend *inner;
        unsigned n_key, n_report;
};

static int counting_derive_key(struct snp_backend *b, const struct snp_msg_key_req *req,
                               uint8_t key_out[SNP_KEY_LEN], struct snp_error *err) {
        struct counting *c = b->data;

        c->n_key++;
        return c->inner->ops->derive_key(c->inner, req, key_out, err);
}

static int counting_get_report(struct snp_backend *b, const struct snp_msg_report_req *req,
                               struct snp_report *report_out, struct snp_error *err) {
        struct counting *c = b->data;

        c->n_report++;
        return c->inner->ops->get_report(c->inner, req, report_out, err);
}

static void counting_free(struct snp_backend *b) {
        struct counting *c = b->data;

        snp_backend_free(c->inner);
        free(c);
}

static const struct snp_backend_ops counting_ops = {
        .name = "counting",
        .derive_key = counting_derive_key,
        .get_report = counting_get_report,
        .free = counting_free,
};

static struct snp_backend *counting_open(uint32_t vmpl, enum sim_fault fault) {
        struct snp_backend *b = calloc(1, sizeof(*b));
        struct counting *c = calloc(1, sizeof(*c));
        struct snp_error e = {};

        assert_non_null(b);
        assert_non_null(c);
        write_state(vmpl, fault);
        assert_int_equal(snp_backend_simulator_open(state_path, &c->inner, &e), 0);
        assert_int_equal(c->inner->own_vmpl, vmpl);
        b->ops = &counting_ops;
        b->own_vmpl = c->inner->own_vmpl;
        b->data = c;
        return b;
}

static struct counting *counts(struct snp_backend *b) {
        return b->data;
}

static struct sim_state load_state(void) {
        struct sim_state s;
        char errbuf[256];

        assert_int_equal(sim_state_load(state_path, &s, errbuf, sizeof(errbuf)), 0);
        return s;
}

/* ---- structural validation ---- */

struct validate_case {
        const char *name;
        uint32_t root_key_select;
        uint32_t reserved;
        uint64_t fields;
        uint32_t vmpl;
        int rc;
        const char *message;
};

static const struct validate_case validate_cases[] = {
        { "default VCEK", 1u << 1, 0, 0x29, 0, 0, NULL },
        { "KEY_SEL 0", 0, 0, 0x29, 0, 0, NULL },
        { "KEY_SEL 2 (VLEK) is structurally fine", 2u << 1, 0, 0x3f, 3, 0, NULL },
        { "VMRK with KEY_SEL set is accepted", 1u | (1u << 1), 0, 0x29, 0, 0, NULL },
        { "all v1 fields, VMPL 3", 1u << 1, 0, 0x3f, 3, 0, NULL },
        { "reserved ROOT_KEY_SELECT bit 3", (1u << 3) | (1u << 1), 0, 0x29, 0, -EINVAL,
          "ROOT_KEY_SELECT 0x0000000a has reserved bits 0x00000008 set" },
        { "reserved ROOT_KEY_SELECT bit 31", 0x80000000u, 0, 0x29, 0, -EINVAL,
          "reserved bits 0x80000000" },
        { "reserved word", 1u << 1, 1, 0x29, 0, -EINVAL,
          "reserved field at offset 0x04 is 0x00000001" },
        { "KEY_SEL 3", 3u << 1, 0, 0x29, 0, -EINVAL, "KEY_SEL 3 is reserved" },
        { "launch mitigation vector field", 1u << 1, 0, 0x69, 0, -EINVAL,
          "GUEST_FIELD_SELECT 0x69 has bits 0x40 outside the message version 1 set 0x3f (bit 6" },
        { "high field bit", 1u << 1, 0, UINT64_C(1) << 40, 0, -EINVAL,
          "GUEST_FIELD_SELECT 0x10000000000 has bits 0x10000000000" },
        { "VMPL 4", 1u << 1, 0, 0x29, 4, -EINVAL, "VMPL 4 is above 3" },
        { "VMPL 0xffffffff", 1u << 1, 0, 0x29, UINT32_MAX, -EINVAL, "VMPL 4294967295 is above 3" },
};

static void test_validate_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(validate_cases); i++) {
                const struct validate_case *c = &validate_cases[i];
                struct snp_msg_key_req req = {
                        .root_key_select = c->root_key_select,
                        .reserved = c->reserved,
                        .guest_field_select = c->fields,
                        .vmpl = c->vmpl,
                };
                struct snp_error e = {};
                int r = snp_key_req_validate(&req, &e);

                print_message("# validate: %s\n", c->name);
                assert_int_equal(r, c->rc);
                if (c->message) {
                        assert_int_equal(e.code, c->rc);
                        assert_non_null(strstr(e.message, c->message));
                        assert_non_null(strstr(e.message, "refused before sending"));
                }
        }
        assert_int_equal(snp_key_req_validate(NULL, NULL), -EINVAL);
}

/* ---- limits ---- */

struct limits_case {
        const char *name;
        uint32_t vmpl, svn;
        uint64_t tcb;
        int rc;
        const char *message;
};

static const struct limits_case limits_cases[] = {
        { "at every boundary", 1, 5, TCB_COMMITTED, 0, NULL },
        { "VMPL 3, lower SVN and TCB", 3, 0, UINT64_C(0xd100000000000001), 0, NULL },
        { "VMPL below own", 0, 0, TCB_COMMITTED, -ERANGE, "requested VMPL 0 is below this guest's VMPL 1" },
        { "SVN above launch", 1, 6, TCB_COMMITTED, -ERANGE,
          "requested GUEST_SVN 6 is above the launch guest SVN 5" },
        { "TCB byte 0 one above", 1, 5, TCB_COMMITTED + 1, -ERANGE,
          "requested TCB 03000000000008d1 is above the committed TCB 02000000000008d1: "
          "the firmware is older than the sealed TCB" },
        { "TCB microcode one above", 1, 5, UINT64_C(0xd208000000000002), -ERANGE,
          "requested TCB 02000000000008d2 is above the committed TCB 02000000000008d1" },
        /* Numerically smaller, but byte 0 is above: compared byte by byte. */
        { "TCB byte-wise, not numeric", 1, 5, UINT64_C(0x0000000000000003), -ERANGE,
          "requested TCB 0300000000000000 is above" },
};

static void test_limits_table(void **state) {
        struct snp_report report = {
                .version = 3, .guest_svn = 5, .vmpl = 1, .committed_tcb = TCB_COMMITTED,
        };

        for (size_t i = 0; i < ELEMENTSOF(limits_cases); i++) {
                const struct limits_case *c = &limits_cases[i];
                struct snp_msg_key_req req = default_req();
                struct snp_error e = {};

                req.vmpl = c->vmpl;
                req.guest_svn = c->svn;
                req.tcb_version = c->tcb;
                print_message("# limits: %s\n", c->name);
                assert_int_equal(snp_key_req_check_limits(&req, 1, &report, &e), c->rc);
                if (c->message) {
                        assert_int_equal(e.code, -ERANGE);
                        assert_non_null(strstr(e.message, c->message));
                }
        }
}

/* ---- the validated front end, against the simulator ---- */

static void test_derive_ok_and_deterministic(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *k1 = secret_alloc(SNP_KEY_LEN);
        _cleanup_secret_ uint8_t *k2 = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};
        static const uint8_t zero[SNP_KEY_LEN];

        assert_non_null(k1);
        assert_non_null(k2);
        assert_int_equal(snp_backend_derive_key(b, &req, k1, &e), 0);
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), 0);
        assert_memory_equal(k1, k2, SNP_KEY_LEN);
        assert_memory_not_equal(k1, zero, SNP_KEY_LEN);
        /* the launch's report is read once and kept; no key cache here */
        assert_int_equal(counts(b)->n_key, 2);
        assert_int_equal(counts(b)->n_report, 1);

        req.guest_svn = 5;
        req.guest_field_select |= SNP_FIELD_GUEST_SVN;
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), 0);
        assert_memory_not_equal(k1, k2, SNP_KEY_LEN);
}

/* The kept report is read again when it refuses a request: the committed
 * TCB rose since it was read. */
static void test_kept_report_refreshed(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};
        struct sim_state s;

        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), 0);
        assert_int_equal(counts(b)->n_report, 1);
        s = load_state();
        s.committed_tcb = s.current_tcb = TCB_COMMITTED + 1;
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
        req.tcb_version = TCB_COMMITTED + 1;
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), 0);
        assert_int_equal(counts(b)->n_report, 2);
        assert_int_equal(counts(b)->n_key, 2);
        /* and kept again */
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), 0);
        assert_int_equal(counts(b)->n_report, 2);
}

/* After a firmware refusal the request is checked against a fresh report
 * once, which here explains it (the host set MASK_CHIP_KEY after the
 * launch's report was read), and not sent again. */
static void test_refusal_rechecked(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};
        struct sim_state s;

        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), 0);
        s = load_state();
        s.mask_chip_key = true;
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), -ERANGE);
        assert_non_null(strstr(e.message, "the host set MASK_CHIP_KEY"));
        assert_int_equal(counts(b)->n_key, 2);
        assert_int_equal(counts(b)->n_report, 2);
}

/* With a key cache a repeated request costs no firmware request; another
 * request does; an expired key is wiped and asked for again. */
static void test_key_cache(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *k1 = secret_alloc(SNP_KEY_LEN);
        _cleanup_secret_ uint8_t *k2 = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};

        assert_int_equal(snp_backend_set_key_cache(b, 60), 0);
        assert_int_equal(snp_backend_derive_key(b, &req, k1, &e), 0);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), 0);
                assert_memory_equal(k1, k2, SNP_KEY_LEN);
        }
        assert_int_equal(counts(b)->n_key, 1);
        assert_int_equal(counts(b)->n_report, 1);
        assert_int_equal(snp_key_cache_size(b->key_cache), 1);
        assert_true(snp_key_cache_next_expiry(b->key_cache) > snp_key_cache_now());

        /* every byte of the request is the cache's key */
        req.guest_field_select |= SNP_FIELD_GUEST_SVN;
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), 0);
        assert_memory_not_equal(k1, k2, SNP_KEY_LEN);
        assert_int_equal(counts(b)->n_key, 2);
        assert_int_equal(snp_key_cache_size(b->key_cache), 2);

        /* expiry wipes; the next request asks the firmware again */
        assert_int_equal(snp_key_cache_expire(b->key_cache, snp_key_cache_now()), 0);
        assert_int_equal(snp_key_cache_expire(b->key_cache, UINT64_MAX - 1), 2);
        assert_int_equal(snp_key_cache_size(b->key_cache), 0);
        assert_int_equal(snp_key_cache_next_expiry(b->key_cache), UINT64_MAX);
        req = default_req();
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), 0);
        assert_memory_equal(k1, k2, SNP_KEY_LEN);
        assert_int_equal(counts(b)->n_key, 3);

        /* a refused request is not cached */
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), -EREMOTEIO);
        assert_int_equal(snp_key_cache_size(b->key_cache), 1);
}

/* No-wait mode (the agent's event loop): answers from what is kept, and
 * for anything else -EWOULDBLOCK before a request is sent or a cache entry
 * claimed. */
static void test_no_wait(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *k1 = secret_alloc(SNP_KEY_LEN);
        _cleanup_secret_ uint8_t *k2 = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req(), other = default_req();
        struct snp_report rep;
        struct snp_error e = {};

        (void) state;
        assert_int_equal(snp_backend_set_key_cache(b, 60), 0);
        /* nothing kept: refused, nothing sent */
        snp_backend_no_wait_begin();
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), -EWOULDBLOCK);
        assert_int_equal(snp_backend_launch_report(b, &rep, &e), -EWOULDBLOCK);
        assert_true(snp_backend_no_wait_end());
        assert_int_equal(counts(b)->n_key + counts(b)->n_report, 0);
        assert_int_equal(snp_key_cache_size(b->key_cache), 0);

        /* the waiting call fills what is kept (no entry was left claimed) */
        assert_int_equal(snp_backend_derive_key(b, &req, k1, &e), 0);
        assert_int_equal(counts(b)->n_key, 1);

        snp_backend_no_wait_begin();
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), 0);
        assert_memory_equal(k1, k2, SNP_KEY_LEN);
        assert_int_equal(snp_backend_launch_report(b, &rep, &e), 0);
        assert_false(snp_backend_no_wait_end());

        /* a key not cached, a fresh report: refused, nothing sent */
        other.guest_field_select |= SNP_FIELD_GUEST_SVN;
        snp_backend_no_wait_begin();
        assert_int_equal(snp_backend_derive_key(b, &other, k2, &e), -EWOULDBLOCK);
        assert_int_equal(snp_backend_get_report(b, NULL, 0, &rep, &e), -EWOULDBLOCK);
        assert_true(snp_backend_no_wait_end());
        assert_int_equal(counts(b)->n_key, 1);
        assert_int_equal(counts(b)->n_report, 1);

        /* an expired key is not answered */
        assert_int_equal(snp_key_cache_expire(b->key_cache, UINT64_MAX - 1), 1);
        snp_backend_no_wait_begin();
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), -EWOULDBLOCK);
        assert_true(snp_backend_no_wait_end());

        /* a request that fails validation fails as before, without a refusal to wait */
        req.root_key_select = 3u << SNP_KEY_REQ_KEY_SEL_SHIFT;
        snp_backend_no_wait_begin();
        assert_int_equal(snp_backend_derive_key(b, &req, k2, &e), -EINVAL);
        assert_false(snp_backend_no_wait_end());
        assert_int_equal(counts(b)->n_key, 1);
}

struct refused_case {
        const char *name;
        uint32_t own_vmpl;
        uint32_t root_key_select;
        uint32_t vmpl, svn;
        uint64_t tcb;
        int rc;
        unsigned n_report;  /* reports fetched before the refusal */
        const char *message;
};

static const struct refused_case refused_cases[] = {
        { "reserved bit", 0, (1u << 1) | (1u << 5), 0, 0, TCB_COMMITTED, -EINVAL, 0, "reserved bits 0x00000020" },
        { "KEY_SEL 3", 0, 3u << 1, 0, 0, TCB_COMMITTED, -EINVAL, 0, "KEY_SEL 3" },
        { "VMPL 4", 0, 1u << 1, 4, 0, TCB_COMMITTED, -EINVAL, 0, "VMPL 4 is above 3" },
        { "VMPL below own", 2, 1u << 1, 1, 0, TCB_COMMITTED, -ERANGE, 0, "VMPL 1 is below this guest's VMPL 2" },
        { "SVN above launch", 0, 1u << 1, 0, 6, TCB_COMMITTED, -ERANGE, 1, "GUEST_SVN 6 is above the launch guest SVN 5" },
        { "TCB above committed", 0, 1u << 1, 0, 0, TCB_COMMITTED + 1, -ERANGE, 1,
          "requested TCB 03000000000008d1 is above the committed TCB 02000000000008d1" },
};

static void test_refused_never_sent(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(refused_cases); i++) {
                const struct refused_case *c = &refused_cases[i];
                _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(c->own_vmpl, SIM_FAULT_NONE);
                _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
                struct snp_msg_key_req req = default_req();
                struct snp_error e = {};
                struct sim_state s;

                print_message("# refused: %s\n", c->name);
                req.root_key_select = c->root_key_select;
                req.vmpl = c->vmpl;
                req.guest_svn = c->svn;
                req.tcb_version = c->tcb;
                assert_int_equal(snp_backend_derive_key(b, &req, key, &e), c->rc);
                assert_int_equal(e.code, c->rc);
                assert_non_null(strstr(e.message, c->message));
                assert_int_equal(counts(b)->n_key, 0);
                assert_int_equal(counts(b)->n_report, c->n_report);
                s = load_state();
                assert_false(s.vmpck_disabled);
                sim_state_wipe(&s);
        }
}

static void test_firmware_status_failure(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};

        /* KEY_SEL 2 is well-formed; without a VLEK the firmware answers 0x27. */
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), -EREMOTEIO);
        assert_int_equal(e.fw_status, SNP_FW_INVALID_KEY);
        assert_non_null(strstr(e.message, "firmware rejected the key request: STATUS 0x27 (invalid key selection)"));
        assert_int_equal(counts(b)->n_key, 1);
}

/* MASK_CHIP_KEY: a key from the VCEK is refused before it is sent. */
static void test_masked_chip_key(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_report report = { .version = 3, .committed_tcb = TCB_COMMITTED,
                                     .signer_info = SNP_SIGNER_MASK_CHIP_KEY };
        struct snp_error e = {};
        struct sim_state s = load_state();

        s.mask_chip_key = true;
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), -ERANGE);
        assert_non_null(strstr(e.message, "the host set MASK_CHIP_KEY (signer info bit 1 of the report)"));
        assert_int_equal(counts(b)->n_key, 0);
        req.root_key_select = SNP_KEY_REQ_ROOT_KEY_VMRK;
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), 0);
        assert_int_equal(counts(b)->n_key, 1);

        /* The rule alone: KEY_SEL 1 always, KEY_SEL 0 unless the report is VLEK-signed. */
        req = default_req();
        assert_true(snp_key_req_masked_chip_key(&req, &report));
        req.root_key_select = 0;
        assert_true(snp_key_req_masked_chip_key(&req, &report));
        report.signer_info |= SNP_SIGNING_KEY_VLEK << SNP_SIGNER_SIGNING_KEY_SHIFT;
        assert_false(snp_key_req_masked_chip_key(&req, &report));
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_false(snp_key_req_masked_chip_key(&req, &report));
        report.signer_info = 0;
        req = default_req();
        assert_false(snp_key_req_masked_chip_key(&req, &report));
}

/* A report version newer than snpseal knows does not stop key derivation. */
static void test_newer_report_version(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_NONE);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_report report;
        struct snp_error e = {};
        struct sim_state s = load_state();

        s.report_version = 6;
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
        assert_int_equal(snp_backend_get_report(b, NULL, 0, &report, &e), 0);
        assert_int_equal(report.version, 6);
        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), 0);
        assert_int_equal(counts(b)->n_key, 1);
}

static void test_fw_status_names(void **state) {
        assert_string_equal(snp_fw_status_str(0x13), "hardware error (platform)");
        assert_string_equal(snp_fw_status_str(0x16), "invalid parameter");
        assert_string_equal(snp_fw_status_str(0x27), "invalid key selection");
        assert_string_equal(snp_fw_status_str(0x1E), "unknown firmware status");
        assert_string_equal(snp_fw_status_str(0x28), "unknown firmware status");
        assert_string_equal(snp_fw_status_str(UINT32_MAX), "unknown firmware status");
}

static void test_busy_fault(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(0, SIM_FAULT_BUSY);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};

        assert_int_equal(snp_backend_derive_key(b, &req, key, &e), -ETIMEDOUT);
        assert_int_equal(e.vmm_error, SNP_VMM_ERR_BUSY);
        assert_non_null(strstr(e.message, "busy"));
        assert_non_null(strstr(e.message, "reboot required"));
}

static void test_get_report(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = counting_open(1, SIM_FAULT_NONE);
        uint8_t data[SNP_REPORT_DATA_LEN];
        static const uint8_t zero[SNP_REPORT_DATA_LEN];
        struct snp_report report;
        struct snp_error e = {};
        struct sim_state s = load_state();

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) i;
        assert_int_equal(snp_backend_get_report(b, data, 1, &report, &e), 0);
        assert_memory_equal(report.report_data, data, sizeof(data));
        assert_memory_equal(report.measurement, s.measurement, sizeof(s.measurement));
        assert_int_equal(report.vmpl, 1);
        assert_true(report.committed_tcb == TCB_COMMITTED);

        assert_int_equal(snp_backend_get_report(b, NULL, 3, &report, &e), 0);
        assert_memory_equal(report.report_data, zero, sizeof(zero));
        assert_int_equal(report.vmpl, 3);
        assert_int_equal(counts(b)->n_report, 2);

        report.version = 0xdead;
        assert_int_equal(snp_backend_get_report(b, NULL, 4, &report, &e), -EINVAL);
        assert_non_null(strstr(e.message, "VMPL 4 is above 3"));
        assert_int_equal(snp_backend_get_report(b, NULL, 0, &report, &e), -ERANGE);
        assert_non_null(strstr(e.message, "VMPL 0 is below this guest's VMPL 1"));
        assert_int_equal(report.version, 0xdead);  /* untouched on failure */
        assert_int_equal(counts(b)->n_report, 2);
        sim_state_wipe(&s);
}

/* ---- transport errors ---- */

struct transport_case {
        int rc;
        uint64_t exitinfo2;
        int code;
        uint32_t fw, vmm;
        const char *message;
        const char *message2;
};

static const struct transport_case transport_cases[] = {
        { -ENOENT, SNP_EXITINFO2_NO_FW_CALL, -ENOENT, 0, 0, "not found", "modprobe sev-guest" },
        { -EACCES, SNP_EXITINFO2_NO_FW_CALL, -EACCES, 0, 0, "permission denied", "only root (or the snpseal agent)" },
        { -EPERM, SNP_EXITINFO2_NO_FW_CALL, -EACCES, 0, 0, "permission denied", "only root" },
        { -ENOTTY, SNP_EXITINFO2_NO_FW_CALL, -ENOTTY, 0, 0,
          "the kernel disabled the VM's message key (VMPCK) after an earlier failed guest request", "reboot required" },
        { -EIO, 0x16, -EIO, 0x16, 0,
          "guest request failed at the command level (firmware error 0x16: invalid parameter, VMM error 0: none)",
          "the kernel has now disabled the VM's message key: reboot required" },
        { -EIO, 0, -EIO, 0, 0, "command level", "reboot required" },
        { -EIO, (uint64_t) SNP_VMM_ERR_INVALID_LEN << 32, -EIO, 0, 1, "buffer length", "VMM error 1: invalid length" },
        { -ETIMEDOUT, (uint64_t) SNP_VMM_ERR_BUSY << 32, -ETIMEDOUT, 0, 2, "stayed busy", "reboot required" },
        { -EAGAIN, (uint64_t) SNP_VMM_ERR_BUSY << 32, -EAGAIN, 0, 2, "busy", "try again later" },
        { -EINVAL, SNP_EXITINFO2_NO_FW_CALL, -EINVAL, 0, 0, "refused the guest request as invalid", "message version" },
        { -EFAULT, SNP_EXITINFO2_NO_FW_CALL, -EFAULT, 0, 0, "bad address", "bug" },
        /* Linux up to 6.16 copies back its 0xff preset; all ones is "no firmware call" too. */
        { -EIO, 0xff, -EIO, 0, 0, "no firmware error reported", "reboot required" },
        { -EIO, UINT64_MAX, -EIO, 0, 0, "no firmware error reported", "reboot required" },
        { -EINVAL, 0xff, -EINVAL, 0, 0, "no firmware call", "the message key is intact" },
        { -EBADMSG, 0, -EBADMSG, 0, 0, "failed the kernel's integrity check (AES-GCM): a hostile or broken host",
          "disabled the VM's message key: reboot required" },
        { -ENOSPC, SNP_EXITINFO2_NO_FW_CALL, -ENOSPC, 0, 0, "guest request failed: ", "(errno 28)" },
};

static void test_transport_errors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(transport_cases); i++) {
                const struct transport_case *c = &transport_cases[i];
                struct snp_error e = {};

                print_message("# transport: errno %d\n", -c->rc);
                assert_int_equal(snp_transport_error(c->rc, c->exitinfo2, &e), c->code);
                assert_int_equal(e.code, c->code);
                assert_int_equal(e.fw_status, c->fw);
                assert_int_equal(e.vmm_error, c->vmm);
                assert_non_null(strstr(e.message, c->message));
                assert_non_null(strstr(e.message, c->message2));
        }
        assert_int_equal(snp_transport_error(-ENOTTY, 0, NULL), -ENOTTY);
}

/* ---- response checks ---- */

static void test_key_rsp_check(void **state) {
        _cleanup_secret_ struct snp_msg_key_rsp *rsp = secret_alloc(sizeof(*rsp));
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_error e = {};

        assert_non_null(rsp);
        assert_non_null(key);
        memset(key, 0x5a, SNP_KEY_LEN);

        rsp->status = SNP_FW_INVALID_PARAM;
        assert_int_equal(snp_key_rsp_check(rsp, key, &e), -EREMOTEIO);
        assert_int_equal(e.fw_status, 0x16);
        assert_non_null(strstr(e.message, "firmware rejected the key request: STATUS 0x16 (invalid parameter)"));

        rsp->status = SNP_FW_INVALID_KEY;
        memset(rsp->key, 0x11, SNP_KEY_LEN);  /* a key next to a failure STATUS is still refused */
        assert_int_equal(snp_key_rsp_check(rsp, key, &e), -EREMOTEIO);
        assert_int_equal(e.fw_status, 0x27);
        assert_non_null(strstr(e.message, "STATUS 0x27 (invalid key selection)"));
        assert_non_null(strstr(e.message, "VLEK"));

        rsp->status = 0;
        memset(rsp->key, 0, SNP_KEY_LEN);
        assert_int_equal(snp_key_rsp_check(rsp, key, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "all-zero key"));
        for (size_t i = 0; i < SNP_KEY_LEN; i++)
                assert_int_equal(key[i], 0x5a);  /* untouched on failure */

        rsp->key[SNP_KEY_LEN - 1] = 1;
        assert_int_equal(snp_key_rsp_check(rsp, key, &e), 0);
        assert_memory_equal(key, rsp->key, SNP_KEY_LEN);
}

struct report_rsp_case {
        uint32_t status, size, version;
        int rc;
        const char *message;
};

static const struct report_rsp_case report_rsp_cases[] = {
        { 0, SNP_REPORT_SIZE, 2, 0, NULL },
        { 0, SNP_REPORT_SIZE, 5, 0, NULL },
        { 0, SNP_REPORT_SIZE + 0x60, 3, 0, NULL },
        { 0x16, SNP_REPORT_SIZE, 3, -EREMOTEIO, "firmware rejected the report request: STATUS 0x16 (invalid parameter)" },
        { 0, SNP_REPORT_SIZE - 1, 3, -EBADMSG, "REPORT_SIZE 0x49f" },
        { 0, 0, 3, -EBADMSG, "REPORT_SIZE 0x0," },
        { 0, SNP_REPORT_RESP_BUF_LEN, 3, -EBADMSG, "REPORT_SIZE 0xfa0" },
        { 0, SNP_REPORT_SIZE, 1, -EBADMSG, "report version 1, expected 2 or later" },
        { 0, SNP_REPORT_SIZE, 6, 0, NULL },     /* newer than known: go on */
};

static void test_report_rsp_check(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(report_rsp_cases); i++) {
                const struct report_rsp_case *c = &report_rsp_cases[i];
                struct snp_msg_report_rsp rsp = {
                        .status = c->status,
                        .report_size = c->size,
                        .report = { .version = c->version, .guest_svn = 7 },
                };
                struct snp_report out = { .guest_svn = 99 };
                struct snp_error e = {};

                print_message("# report response %zu\n", i);
                assert_int_equal(snp_report_rsp_check(&rsp, &out, &e), c->rc);
                if (c->rc == 0) {
                        assert_int_equal(out.guest_svn, 7);
                        assert_int_equal(out.version, c->version);
                } else {
                        assert_int_equal(out.guest_svn, 99);
                        assert_int_equal(e.code, c->rc);
                        assert_non_null(strstr(e.message, c->message));
                }
        }
}

/* ---- own VMPL ---- */

static void test_detect_own_vmpl(void **state) {
        static const struct {
                const char *content;
                int rc;
                uint32_t vmpl;
        } cases[] = {
                { "0\n", 0, 0 }, { "2\n", 0, 2 }, { "3", 0, 3 },
                { "4\n", -EBADMSG, 0 }, { "x\n", -EBADMSG, 0 }, { "", -EBADMSG, 0 }, { "-1\n", -EBADMSG, 0 },
        };
        char path[320];
        uint32_t v;

        snprintf(path, sizeof(path), "%s/vmpl", tmpdir);
        v = 7;
        assert_int_equal(snp_detect_own_vmpl_from(path, &v), 0);  /* missing: VMPL 0 */
        assert_int_equal(v, 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                FILE *f = fopen(path, "we");

                assert_non_null(f);
                fputs(cases[i].content, f);
                assert_int_equal(fclose(f), 0);
                v = 7;
                assert_int_equal(snp_detect_own_vmpl_from(path, &v), cases[i].rc);
                assert_int_equal(v, cases[i].rc == 0 ? cases[i].vmpl : 7);
        }
        /* the real file, wherever we run: 0..3 or absent */
        assert_int_equal(snp_detect_own_vmpl(&v), 0);
        assert_true(v <= 3);
}

static void test_sev_guest_open_missing(void **state) {
        struct snp_backend *b = NULL;
        struct snp_error e = {};
        char path[320];

        snprintf(path, sizeof(path), "%s/no-such-sev-guest", tmpdir);
        assert_int_equal(snp_backend_sev_guest_open(path, 0, &b, &e), -ENOENT);
        assert_null(b);
        assert_non_null(strstr(e.message, "no-such-sev-guest not found: not an SEV-SNP guest"));
        assert_non_null(strstr(e.message, "modprobe sev-guest"));
        assert_int_equal(snp_backend_sev_guest_open(path, 4, &b, &e), -EINVAL);
        assert_non_null(strstr(e.message, "VMPL 4"));
        snp_backend_free(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validate_table),
                cmocka_unit_test(test_limits_table),
                cmocka_unit_test(test_derive_ok_and_deterministic),
                cmocka_unit_test(test_refused_never_sent),
                cmocka_unit_test(test_kept_report_refreshed),
                cmocka_unit_test(test_refusal_rechecked),
                cmocka_unit_test(test_key_cache),
                cmocka_unit_test(test_no_wait),
                cmocka_unit_test(test_firmware_status_failure),
                cmocka_unit_test(test_busy_fault),
                cmocka_unit_test(test_masked_chip_key),
                cmocka_unit_test(test_fw_status_names),
                cmocka_unit_test(test_newer_report_version),
                cmocka_unit_test(test_get_report),
                cmocka_unit_test(test_transport_errors),
                cmocka_unit_test(test_key_rsp_check),
                cmocka_unit_test(test_report_rsp_check),
                cmocka_unit_test(test_detect_own_vmpl),
                cmocka_unit_test(test_sev_guest_open_missing),
        };
        return cmocka_run_group_tests_name("backend", tests, group_setup, group_teardown);
}

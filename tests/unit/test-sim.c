/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The simulated firmware (lib/sim/sim-firmware.c) against docs/SIMULATOR.md, "The
 * rules the simulator implements": every rule accepted at its boundary and rejected one
 * step beyond, the kernel layer, the key derivation's sensitivity, signed
 * reports, and the simulator backend through snp_backend_*.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "backend.h"
#include "secret.h"
#include "sim-firmware.h"
#include "sim-state.h"
#include "snp-abi.h"

#define CALLER_VMPL   1u
#define LAUNCH_SVN    5u
/* Milan layout: boot loader 3, SNP 8, microcode 0xd1; no byte is 0xff. */
#define COMMITTED_TCB UINT64_C(0xd108000000000003)
#define TCB_UP(i)     (COMMITTED_TCB + (UINT64_C(1) << (8 * (i))))

#define check_case(cond, name) \
        do { if (!(cond)) fail_msg("case \"%s\": %s", (name), #cond); } while (0)

/* A state built by hand: the tests do not depend on sim_state_init(). */
static void base_state(struct sim_state *s) {
        memset(s, 0, sizeof(*s));
        memset(s->chip_secret, 0x11, sizeof(s->chip_secret));
        memset(s->vlek_secret, 0x22, sizeof(s->vlek_secret));
        memset(s->vmrk_secret, 0x33, sizeof(s->vmrk_secret));
        s->policy = UINT64_C(0x30000);
        for (size_t i = 0; i < sizeof(s->measurement); i++)
                s->measurement[i] = (uint8_t) (0x40 + i);
        memset(s->family_id, 0xf1, sizeof(s->family_id));
        memset(s->image_id, 0x1d, sizeof(s->image_id));
        memset(s->host_data, 0x4d, sizeof(s->host_data));
        s->guest_svn = LAUNCH_SVN;
        s->launch_tcb = s->committed_tcb = s->current_tcb = s->reported_tcb = COMMITTED_TCB;
        s->vmpl = CALLER_VMPL;
        s->platform_info = 0x25;
        s->cpuid_fam = 0x19;
        s->cpuid_mod = 0x01;
        s->cpuid_step = 0x01;
        s->report_version = 3;
        s->fw_major = 1;
        s->fw_minor = 55;
        s->fw_build = 21;
}

/* The request a careful caller sends: VCEK, every field, at the limits. */
static struct snp_msg_key_req base_req(const struct sim_state *s) {
        return (struct snp_msg_key_req) {
                .root_key_select = SNP_KEY_SEL_VCEK << SNP_KEY_REQ_KEY_SEL_SHIFT,
                .guest_field_select = SNP_FIELD_VALID_V1,
                .vmpl = s->vmpl,
                .guest_svn = s->guest_svn,
                .tcb_version = s->committed_tcb,
        };
}

static bool all_zero(const void *p, size_t size) {
        const uint8_t *b = p;

        for (size_t i = 0; i < size; i++)
                if (b[i])
                        return false;
        return true;
}

/* Derive through the firmware layer; checks the response's shape. */
static uint32_t derive(const struct sim_state *s, const struct snp_msg_key_req *req,
                       uint8_t key[SNP_KEY_LEN]) {
        struct snp_msg_key_rsp rsp;
        uint32_t status;

        memset(&rsp, 0xa5, sizeof(rsp));
        status = sim_fw_key_request(s, req, &rsp);
        assert_int_equal(rsp.status, status);
        assert_true(all_zero(rsp.reserved, sizeof(rsp.reserved)));
        if (status == SNP_FW_SUCCESS)
                assert_false(all_zero(rsp.key, sizeof(rsp.key)));
        else
                assert_true(all_zero(rsp.key, sizeof(rsp.key)));
        memcpy(key, rsp.key, SNP_KEY_LEN);
        secret_wipe(&rsp, sizeof(rsp));
        return status;
}

/* ---- firmware layer: key request rules ---- */

enum key_field {
        KF_NONE,
        KF_VMPL,
        KF_SVN,
        KF_TCB,
        KF_KEY_SEL,
        KF_ROOT_SELECT,
        KF_FIELDS,
};

static const struct key_case {
        const char *name;
        enum key_field field;
        uint64_t value;
        bool vlek;
        uint32_t status;
} key_cases[] = {
        { "base request",                      KF_NONE, 0, false, SNP_FW_SUCCESS },
        { "vmpl = caller's",                   KF_VMPL, CALLER_VMPL, false, SNP_FW_SUCCESS },
        { "vmpl = caller's - 1",               KF_VMPL, CALLER_VMPL - 1, false, SNP_FW_INVALID_PARAM },
        { "vmpl 3",                            KF_VMPL, 3, false, SNP_FW_SUCCESS },
        { "vmpl 4",                            KF_VMPL, 4, false, SNP_FW_INVALID_PARAM },
        { "vmpl 0xffffffff",                   KF_VMPL, UINT32_MAX, false, SNP_FW_INVALID_PARAM },
        { "svn = launch",                      KF_SVN, LAUNCH_SVN, false, SNP_FW_SUCCESS },
        { "svn = launch + 1",                  KF_SVN, LAUNCH_SVN + 1, false, SNP_FW_INVALID_PARAM },
        { "svn 0",                             KF_SVN, 0, false, SNP_FW_SUCCESS },
        { "tcb = committed",                   KF_TCB, COMMITTED_TCB, false, SNP_FW_SUCCESS },
        { "tcb byte 0 + 1",                    KF_TCB, TCB_UP(0), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 1 + 1",                    KF_TCB, TCB_UP(1), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 2 + 1",                    KF_TCB, TCB_UP(2), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 3 + 1",                    KF_TCB, TCB_UP(3), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 4 + 1",                    KF_TCB, TCB_UP(4), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 5 + 1",                    KF_TCB, TCB_UP(5), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 6 + 1",                    KF_TCB, TCB_UP(6), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 7 + 1",                    KF_TCB, TCB_UP(7), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 0 lower, byte 1 higher",   KF_TCB, UINT64_C(0xd108000000000102), false, SNP_FW_INVALID_PARAM },
        { "tcb byte 7 lower, byte 6 higher",   KF_TCB, UINT64_C(0xd009000000000003), false, SNP_FW_INVALID_PARAM },
        { "tcb below committed",               KF_TCB, UINT64_C(0xd107000000000002), false, SNP_FW_SUCCESS },
        { "tcb zero",                          KF_TCB, 0, false, SNP_FW_SUCCESS },
        { "key_sel 0 without VLEK",            KF_KEY_SEL, SNP_KEY_SEL_DEFAULT, false, SNP_FW_SUCCESS },
        { "key_sel 0 with VLEK",               KF_KEY_SEL, SNP_KEY_SEL_DEFAULT, true, SNP_FW_SUCCESS },
        { "key_sel 1 (VCEK)",                  KF_KEY_SEL, SNP_KEY_SEL_VCEK, false, SNP_FW_SUCCESS },
        { "key_sel 2 without VLEK",            KF_KEY_SEL, SNP_KEY_SEL_VLEK, false, SNP_FW_INVALID_KEY },
        { "key_sel 2 with VLEK",               KF_KEY_SEL, SNP_KEY_SEL_VLEK, true, SNP_FW_SUCCESS },
        { "key_sel 3",                         KF_KEY_SEL, SNP_KEY_SEL_RESERVED, false, SNP_FW_INVALID_KEY },
        { "key_sel 3 with VLEK",               KF_KEY_SEL, SNP_KEY_SEL_RESERVED, true, SNP_FW_INVALID_KEY },
        { "VMRK root",                         KF_ROOT_SELECT, SNP_KEY_REQ_ROOT_KEY_VMRK, false, SNP_FW_SUCCESS },
        { "no fields",                         KF_FIELDS, 0, false, SNP_FW_SUCCESS },
        { "all v1 fields",                     KF_FIELDS, SNP_FIELD_VALID_V1, false, SNP_FW_SUCCESS },
        { "launch mitigation bit in v1",       KF_FIELDS, SNP_FIELD_VALID_V1 | SNP_FIELD_LAUNCH_MIT, false, SNP_FW_INVALID_PARAM },
};

static void apply_key_case(const struct key_case *c, struct sim_state *s, struct snp_msg_key_req *req) {
        s->vlek_present = c->vlek;
        switch (c->field) {
        case KF_NONE:
                break;
        case KF_VMPL:
                req->vmpl = (uint32_t) c->value;
                break;
        case KF_SVN:
                req->guest_svn = (uint32_t) c->value;
                break;
        case KF_TCB:
                req->tcb_version = c->value;
                break;
        case KF_KEY_SEL:
                req->root_key_select = (uint32_t) c->value << SNP_KEY_REQ_KEY_SEL_SHIFT;
                break;
        case KF_ROOT_SELECT:
                req->root_key_select = (uint32_t) c->value;
                break;
        case KF_FIELDS:
                req->guest_field_select = c->value;
                break;
        }
}

static void test_key_rules(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(key_cases); i++) {
                const struct key_case *c = &key_cases[i];
                struct sim_state s;
                struct snp_msg_key_req req;
                uint8_t key[SNP_KEY_LEN];

                base_state(&s);
                req = base_req(&s);
                apply_key_case(c, &s, &req);
                if (derive(&s, &req, key) != c->status)
                        fail_msg("case \"%s\": status 0x%x, expected 0x%x", c->name,
                                 sim_fw_key_request(&s, &req, &(struct snp_msg_key_rsp) {}), c->status);
        }
}

/* Every reserved bit position, one at a time. */
static void test_key_reserved_bits(void **state) {
        struct sim_state s;
        uint8_t key[SNP_KEY_LEN];

        base_state(&s);
        for (unsigned bit = 3; bit < 32; bit++) {
                struct snp_msg_key_req req = base_req(&s);

                req.root_key_select |= UINT32_C(1) << bit;
                if (derive(&s, &req, key) != SNP_FW_INVALID_PARAM)
                        fail_msg("root_key_select bit %u accepted", bit);
        }
        for (unsigned bit = 0; bit < 32; bit++) {
                struct snp_msg_key_req req = base_req(&s);

                req.reserved = UINT32_C(1) << bit;
                if (derive(&s, &req, key) != SNP_FW_INVALID_PARAM)
                        fail_msg("reserved bit %u accepted", bit);
        }
        for (unsigned bit = 6; bit < 64; bit++) {
                struct snp_msg_key_req req = base_req(&s);

                req.guest_field_select |= UINT64_C(1) << bit;
                if (derive(&s, &req, key) != SNP_FW_INVALID_PARAM)
                        fail_msg("guest_field_select bit %u accepted", bit);
        }
}

/* The checks come in the firmware's order: a parameter error wins over KEY_SEL. */
static void test_key_check_order(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        uint8_t key[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        req.root_key_select = SNP_KEY_SEL_RESERVED << SNP_KEY_REQ_KEY_SEL_SHIFT;
        req.guest_svn = LAUNCH_SVN + 1;
        assert_int_equal(derive(&s, &req, key), SNP_FW_INVALID_PARAM);
        req.guest_svn = LAUNCH_SVN;
        assert_int_equal(derive(&s, &req, key), SNP_FW_INVALID_KEY);
}

/* ---- key derivation ---- */

static void test_key_deterministic(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        uint8_t a[SNP_KEY_LEN], b[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        assert_int_equal(derive(&s, &req, a), 0);
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_equal(a, b, SNP_KEY_LEN);
}

static void mut_policy(struct sim_state *s, struct snp_msg_key_req *r)      { s->policy |= SNP_POLICY_DEBUG; }
static void mut_image_id(struct sim_state *s, struct snp_msg_key_req *r)    { s->image_id[15] ^= 1; }
static void mut_family_id(struct sim_state *s, struct snp_msg_key_req *r)   { s->family_id[0] ^= 0x80; }
static void mut_measurement(struct sim_state *s, struct snp_msg_key_req *r) { s->measurement[47] ^= 1; }
static void mut_svn(struct sim_state *s, struct snp_msg_key_req *r)         { r->guest_svn--; }
static void mut_tcb(struct sim_state *s, struct snp_msg_key_req *r)         { r->tcb_version--; }
static void mut_host_data(struct sim_state *s, struct snp_msg_key_req *r)   { s->host_data[0] ^= 1; }
static void mut_other_tcbs(struct sim_state *s, struct snp_msg_key_req *r) {
        s->launch_tcb = s->current_tcb = s->reported_tcb = 0;
        s->platform_info ^= 1;
        s->report_version = 2;
}

/* For each selectable field, the mutation of the value the key mixes in:
 * the state's for policy/IDs/measurement, the request's for SVN and TCB
 * (the firmware mixes the requested values). bit 0: never selectable. */
static const struct sens_case {
        const char *name;
        uint64_t bit;
        void (*mutate)(struct sim_state *s, struct snp_msg_key_req *r);
} sens_cases[] = {
        { "policy",                SNP_FIELD_POLICY,      mut_policy },
        { "image id",              SNP_FIELD_IMAGE_ID,    mut_image_id },
        { "family id",             SNP_FIELD_FAMILY_ID,   mut_family_id },
        { "measurement",           SNP_FIELD_MEASUREMENT, mut_measurement },
        { "guest svn",             SNP_FIELD_GUEST_SVN,   mut_svn },
        { "tcb version",           SNP_FIELD_TCB_VERSION, mut_tcb },
        { "host data",             0,                     mut_host_data },
        { "other TCBs, platform",  0,                     mut_other_tcbs },
};

static void sens_one(const struct sens_case *c, uint64_t fields, bool expect_change) {
        struct sim_state s;
        struct snp_msg_key_req req;
        uint8_t a[SNP_KEY_LEN], b[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        req.guest_field_select = fields;
        assert_int_equal(derive(&s, &req, a), 0);
        c->mutate(&s, &req);
        assert_int_equal(derive(&s, &req, b), 0);
        if (expect_change == (memcmp(a, b, SNP_KEY_LEN) == 0))
                fail_msg("field \"%s\" with select 0x%llx: key %s", c->name, (unsigned long long) fields,
                         expect_change ? "unchanged" : "changed");
}

static void test_key_sensitivity(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(sens_cases); i++) {
                const struct sens_case *c = &sens_cases[i];

                sens_one(c, SNP_FIELD_VALID_V1, c->bit != 0);
                sens_one(c, SNP_FIELD_VALID_V1 & ~c->bit, false);
                if (c->bit) {
                        sens_one(c, c->bit, true);
                        sens_one(c, 0, false);
                }
        }
}

static void test_key_vmpl_counts(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        uint8_t a[SNP_KEY_LEN], b[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        req.guest_field_select = 0;
        req.vmpl = 1;
        assert_int_equal(derive(&s, &req, a), 0);
        req.vmpl = 2;
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_not_equal(a, b, SNP_KEY_LEN);
}

/* TCBs at or below committed each give their own, stable key. */
static void test_key_older_tcbs(void **state) {
        static const uint64_t tcbs[] = {
                COMMITTED_TCB,
                UINT64_C(0xd108000000000002),
                UINT64_C(0xd107000000000003),
                UINT64_C(0xd008000000000003),
                UINT64_C(0x0000000000000000),
        };
        uint8_t keys[ELEMENTSOF(tcbs)][SNP_KEY_LEN], again[SNP_KEY_LEN];
        struct sim_state s;

        base_state(&s);
        for (size_t i = 0; i < ELEMENTSOF(tcbs); i++) {
                struct snp_msg_key_req req = base_req(&s);

                req.tcb_version = tcbs[i];
                assert_int_equal(derive(&s, &req, keys[i]), 0);
                assert_int_equal(derive(&s, &req, again), 0);
                assert_memory_equal(keys[i], again, SNP_KEY_LEN);
                for (size_t j = 0; j < i; j++)
                        if (memcmp(keys[i], keys[j], SNP_KEY_LEN) == 0)
                                fail_msg("TCBs %zu and %zu give the same key", i, j);
        }
        /* Only the TCB bit selected: the TCB alone still separates the keys. */
        for (size_t i = 1; i < ELEMENTSOF(tcbs); i++) {
                struct snp_msg_key_req req = base_req(&s);
                uint8_t a[SNP_KEY_LEN], b[SNP_KEY_LEN];

                req.guest_field_select = SNP_FIELD_TCB_VERSION;
                assert_int_equal(derive(&s, &req, a), 0);
                req.tcb_version = tcbs[i];
                assert_int_equal(derive(&s, &req, b), 0);
                assert_memory_not_equal(a, b, SNP_KEY_LEN);
        }
}

/* Bit 5 clear: the root follows the committed TCB; the requested TCB is ignored. */
static void test_key_tcb_unselected(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        uint8_t a[SNP_KEY_LEN], b[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        req.guest_field_select = SNP_FIELD_VALID_V1 & ~SNP_FIELD_TCB_VERSION;
        req.tcb_version = 0;
        assert_int_equal(derive(&s, &req, a), 0);
        req.tcb_version = UINT64_C(0xd108000000000002);
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_equal(a, b, SNP_KEY_LEN);

        s.committed_tcb = TCB_UP(0);
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_not_equal(a, b, SNP_KEY_LEN);
}

/* VMRK: the per-launch secret as is; KEY_SEL and the chip secret play no part. */
static void test_key_vmrk_root(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req, vcek;
        uint8_t a[SNP_KEY_LEN], b[SNP_KEY_LEN], c[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        req.root_key_select = SNP_KEY_REQ_ROOT_KEY_VMRK;
        vcek = base_req(&s);
        assert_int_equal(derive(&s, &req, a), 0);
        assert_int_equal(derive(&s, &vcek, c), 0);
        assert_memory_not_equal(a, c, SNP_KEY_LEN);

        req.root_key_select = SNP_KEY_REQ_ROOT_KEY_VMRK | (SNP_KEY_SEL_VCEK << SNP_KEY_REQ_KEY_SEL_SHIFT);
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_equal(a, b, SNP_KEY_LEN);

        s.chip_secret[0] ^= 1;
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_equal(a, b, SNP_KEY_LEN);
        assert_int_equal(derive(&s, &vcek, b), 0);
        assert_memory_not_equal(c, b, SNP_KEY_LEN);   /* the VCEK key does follow it */

        s.vmrk_secret[31] ^= 1;                         /* a simulated relaunch */
        assert_int_equal(derive(&s, &req, b), 0);
        assert_memory_not_equal(a, b, SNP_KEY_LEN);
}

/* KEY_SEL 0 is the VLEK when the host installed one, else the VCEK. */
static void test_key_sel_default(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        uint8_t vcek[SNP_KEY_LEN], vlek[SNP_KEY_LEN], dflt[SNP_KEY_LEN];

        base_state(&s);
        req = base_req(&s);
        assert_int_equal(derive(&s, &req, vcek), 0);
        req.root_key_select = SNP_KEY_SEL_DEFAULT << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(derive(&s, &req, dflt), 0);
        assert_memory_equal(vcek, dflt, SNP_KEY_LEN);

        s.vlek_present = true;
        assert_int_equal(derive(&s, &req, dflt), 0);
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(derive(&s, &req, vlek), 0);
        assert_memory_equal(vlek, dflt, SNP_KEY_LEN);
        assert_memory_not_equal(vlek, vcek, SNP_KEY_LEN);

        /* The VLEK key follows the VLEK secret, not the chip secret. */
        s.chip_secret[5] ^= 1;
        assert_int_equal(derive(&s, &req, dflt), 0);
        assert_memory_equal(vlek, dflt, SNP_KEY_LEN);
        s.vlek_secret[5] ^= 1;
        assert_int_equal(derive(&s, &req, dflt), 0);
        assert_memory_not_equal(vlek, dflt, SNP_KEY_LEN);
}

/* ---- kernel layer ---- */

static const struct kernel_case {
        const char *name;
        uint8_t version;
        bool null_req, null_resp, disabled;
        enum sim_fault fault;
        int rc;
        uint64_t exitinfo2;
        bool disabled_after;
} kernel_cases[] = {
        { "version 1",               1, false, false, false, SIM_FAULT_NONE, 0, 0, false },
        { "version 0",               0, false, false, false, SIM_FAULT_NONE, -EINVAL, SNP_EXITINFO2_NO_FW_CALL, false },
        { "NULL request",            1, true,  false, false, SIM_FAULT_NONE, -EINVAL, SNP_EXITINFO2_NO_FW_CALL, false },
        { "NULL response",           1, false, true,  false, SIM_FAULT_NONE, -EINVAL, SNP_EXITINFO2_NO_FW_CALL, false },
        { "message key disabled",    1, false, false, true,  SIM_FAULT_NONE, -ENOTTY, SNP_EXITINFO2_NO_FW_CALL, true },
        { "version 2",               2, false, false, false, SIM_FAULT_NONE, -EIO, SNP_FW_INVALID_PARAM, true },
        { "version 255",           255, false, false, false, SIM_FAULT_NONE, -EIO, SNP_FW_INVALID_PARAM, true },
        { "busy fault",              1, false, false, false, SIM_FAULT_BUSY, -ETIMEDOUT,
          (uint64_t) SNP_VMM_ERR_BUSY << SNP_VMM_ERR_SHIFT, true },
        { "command failure fault",   1, false, false, false, SIM_FAULT_CMD_FAIL, -EIO, SNP_FW_INVALID_PARAM, true },
        { "disabled wins over fault", 1, false, false, true, SIM_FAULT_CMD_FAIL, -ENOTTY, SNP_EXITINFO2_NO_FW_CALL, true },
};

static void test_kernel_layer(void **state) {
        static const enum sim_msg_type types[] = { SIM_MSG_KEY_REQ, SIM_MSG_REPORT_REQ };

        for (size_t t = 0; t < ELEMENTSOF(types); t++)
                for (size_t i = 0; i < ELEMENTSOF(kernel_cases); i++) {
                        const struct kernel_case *c = &kernel_cases[i];
                        struct sim_state s;
                        struct snp_msg_key_req kreq;
                        struct snp_msg_report_req rreq = { .vmpl = CALLER_VMPL };
                        struct snp_msg_report_rsp resp;   /* large enough for either */
                        uint64_t exitinfo2 = 0x1234;
                        const void *req;
                        int rc;

                        base_state(&s);
                        kreq = base_req(&s);
                        s.vmpck_disabled = c->disabled;
                        s.fault = c->fault;
                        req = types[t] == SIM_MSG_KEY_REQ ? (const void *) &kreq : (const void *) &rreq;
                        rc = sim_guest_request(&s, types[t], c->version, c->null_req ? NULL : req,
                                               c->null_resp ? NULL : &resp, &exitinfo2);
                        check_case(rc == c->rc, c->name);
                        check_case(exitinfo2 == c->exitinfo2, c->name);
                        check_case(s.vmpck_disabled == c->disabled_after, c->name);
                        if (rc == 0)
                                check_case(resp.status == SNP_FW_SUCCESS, c->name);
                }
}

/* After a malformed message every request fails until the simulated reboot. */
static void test_kernel_disable_sticks(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        struct snp_msg_key_rsp rsp;
        struct snp_msg_report_req rreq = { .vmpl = CALLER_VMPL };
        struct snp_msg_report_rsp rrsp;
        uint64_t exitinfo2;

        base_state(&s);
        req = base_req(&s);
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), 0);
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 2, &req, &rsp, &exitinfo2), -EIO);
        assert_int_equal(exitinfo2 & UINT32_MAX, SNP_FW_INVALID_PARAM);
        assert_true(s.vmpck_disabled);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), -ENOTTY);
                assert_int_equal(sim_guest_request(&s, SIM_MSG_REPORT_REQ, 1, &rreq, &rrsp, &exitinfo2), -ENOTTY);
        }
        s.vmpck_disabled = false;
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), 0);
        secret_wipe(&rsp, sizeof(rsp));
}

/* The kernel layer hands the firmware's answer through unchanged. */
static void test_kernel_passes_status(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        struct snp_msg_key_rsp rsp, direct;
        uint64_t exitinfo2 = 7;

        base_state(&s);
        req = base_req(&s);
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), 0);
        assert_int_equal(sim_fw_key_request(&s, &req, &direct), 0);
        assert_memory_equal(&rsp, &direct, sizeof(rsp));

        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), 0);
        assert_int_equal(exitinfo2, 0);
        assert_int_equal(rsp.status, SNP_FW_INVALID_KEY);
        assert_true(all_zero(rsp.key, sizeof(rsp.key)));
        assert_false(s.vmpck_disabled);
        secret_wipe(&rsp, sizeof(rsp));
        secret_wipe(&direct, sizeof(direct));
}

static void test_kernel_delay(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        struct snp_msg_key_rsp rsp;
        struct timespec t0, t1;
        uint64_t exitinfo2;
        long long ms;

        base_state(&s);
        req = base_req(&s);
        s.latency_ms = 60;
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), 0);
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
        ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000LL;
        assert_true(ms >= 60);
        assert_int_equal(rsp.status, 0);
        secret_wipe(&rsp, sizeof(rsp));
}

static long long request_ms(struct sim_state *s, enum sim_msg_type type) {
        struct snp_msg_key_req req = base_req(s);
        struct snp_msg_report_req rreq = {};
        union { struct snp_msg_key_rsp key; struct snp_msg_report_rsp report; } rsp;
        struct timespec t0, t1;
        uint64_t exitinfo2;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
        assert_int_equal(sim_guest_request(s, type, 1, type == SIM_MSG_KEY_REQ ? (void *) &req : (void *) &rreq,
                                           &rsp, &exitinfo2), 0);
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
        secret_wipe(&rsp, sizeof(rsp));
        return (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000LL;
}

/* The request counter: one record per request in <state>.requests, across
 * whoever appends; throttling numbers requests by it and stalls the first
 * request of every burst after the first (only lower bounds are checked:
 * a sleep is never shorter). */
static void test_request_counter_and_throttle(void **state) {
        char dir[] = "/tmp/snpseal-test-sim-count-XXXXXX", path[64], counter[80], buf[64];
        struct sim_state s;
        ssize_t n;
        int fd;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/state.json", dir);
        snprintf(counter, sizeof(counter), "%s" SIM_COUNT_SUFFIX, path);
        base_state(&s);
        s.path = path;
        (void) request_ms(&s, SIM_MSG_KEY_REQ);       /* not counting: no file */
        assert_int_equal(access(counter, F_OK), -1);
        s.count_requests = true;
        (void) request_ms(&s, SIM_MSG_KEY_REQ);
        (void) request_ms(&s, SIM_MSG_REPORT_REQ);
        fd = open(counter, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        (void) close(fd);
        assert_int_equal(n, 2 * SIM_COUNT_RECORD_LEN);
        assert_memory_equal(buf, "key    \nreport \n", 2 * SIM_COUNT_RECORD_LEN);

        /* bursts of 2: requests 1 and 2 passed, 3 stalls, 4 passes, 5 stalls */
        s.count_requests = false;
        s.throttle_burst = 2;
        s.throttle_stall_ms = 150;
        assert_true(request_ms(&s, SIM_MSG_KEY_REQ) >= 150);
        (void) request_ms(&s, SIM_MSG_KEY_REQ);
        assert_true(request_ms(&s, SIM_MSG_REPORT_REQ) >= 150);
        fd = open(counter, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        (void) close(fd);
        assert_int_equal(n, 5 * SIM_COUNT_RECORD_LEN);   /* throttling counts without count_requests */
        assert_int_equal(unlink(counter), 0);
        assert_int_equal(rmdir(dir), 0);
        sim_state_wipe(&s);
}

/* ---- reports ---- */

static uint32_t get_report(const struct sim_state *s, uint32_t vmpl, uint8_t fill,
                           struct snp_msg_report_rsp *rsp) {
        struct snp_msg_report_req req = { .vmpl = vmpl };

        memset(req.report_data, fill, sizeof(req.report_data));
        memset(rsp, 0xa5, sizeof(*rsp));
        return sim_fw_report_request(s, &req, rsp);
}

static void test_report_fields(void **state) {
        struct sim_state s;
        struct snp_msg_report_rsp rsp, rsp2;
        const struct snp_report *r = &rsp.report;
        uint8_t data[SNP_REPORT_DATA_LEN];

        base_state(&s);
        s.launch_tcb = UINT64_C(0xd107000000000002);
        s.current_tcb = TCB_UP(0);
        s.reported_tcb = UINT64_C(0xd108000000000002);
        assert_int_equal(get_report(&s, 2, 0x5a, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(rsp.status, 0);
        assert_int_equal(rsp.report_size, SNP_REPORT_SIZE);
        assert_true(all_zero(rsp.reserved, sizeof(rsp.reserved)));
        assert_int_equal(r->version, 3);
        assert_int_equal(r->guest_svn, LAUNCH_SVN);
        assert_int_equal(r->policy, s.policy);
        assert_memory_equal(r->family_id, s.family_id, sizeof(s.family_id));
        assert_memory_equal(r->image_id, s.image_id, sizeof(s.image_id));
        assert_int_equal(r->vmpl, 2);   /* the requested VMPL, not the caller's */
        assert_int_equal(r->signature_algo, SNP_SIG_ALGO_ECDSA_P384_SHA384);
        assert_int_equal(r->current_tcb, s.current_tcb);
        assert_int_equal(r->platform_info, s.platform_info);
        assert_int_equal(r->signer_info, 0);
        memset(data, 0x5a, sizeof(data));
        assert_memory_equal(r->report_data, data, sizeof(data));
        assert_memory_equal(r->measurement, s.measurement, sizeof(s.measurement));
        assert_memory_equal(r->host_data, s.host_data, sizeof(s.host_data));
        assert_true(all_zero(r->id_key_digest, sizeof(r->id_key_digest)));
        assert_true(all_zero(r->author_key_digest, sizeof(r->author_key_digest)));
        assert_false(all_zero(r->report_id, sizeof(r->report_id)));
        assert_int_equal(r->reported_tcb, s.reported_tcb);
        assert_int_equal(r->cpuid_fam_id, 0x19);
        assert_int_equal(r->cpuid_mod_id, 0x01);
        assert_int_equal(r->cpuid_step, 0x01);
        assert_false(all_zero(r->chip_id, sizeof(r->chip_id)));
        assert_int_equal(r->committed_tcb, COMMITTED_TCB);
        assert_int_equal(r->committed_major, 1);
        assert_int_equal(r->committed_minor, 55);
        assert_int_equal(r->committed_build, 21);
        assert_int_equal(r->current_major, 1);
        assert_int_equal(r->current_minor, 55);
        assert_int_equal(r->current_build, 21);
        assert_int_equal(r->launch_tcb, s.launch_tcb);
        assert_int_equal(r->launch_mit_vector, 0);
        assert_int_equal(r->current_mit_vector, 0);
        assert_true(all_zero(r->reserved4, sizeof(r->reserved4)));
        assert_true(all_zero(r->signature.reserved, sizeof(r->signature.reserved)));

        /* A new report ID every time; the chip ID is the chip's. */
        assert_int_equal(get_report(&s, 2, 0x5a, &rsp2), SNP_FW_SUCCESS);
        assert_memory_not_equal(rsp.report.report_id, rsp2.report.report_id, 32);
        assert_memory_equal(rsp.report.chip_id, rsp2.report.chip_id, 64);
        s.chip_secret[0] ^= 1;
        assert_int_equal(get_report(&s, 2, 0x5a, &rsp2), SNP_FW_SUCCESS);
        assert_memory_not_equal(rsp.report.chip_id, rsp2.report.chip_id, 64);
}

/* CPUID appears from report version 3 on. */
static void test_report_version_cpuid(void **state) {
        static const struct {
                uint32_t version;
                bool cpuid;
        } cases[] = { { 2, false }, { 3, true }, { 4, true }, { 5, true } };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct sim_state s;
                struct snp_msg_report_rsp rsp;

                base_state(&s);
                s.report_version = cases[i].version;
                assert_int_equal(get_report(&s, CALLER_VMPL, 0, &rsp), SNP_FW_SUCCESS);
                assert_int_equal(rsp.report.version, cases[i].version);
                assert_int_equal(rsp.report.cpuid_fam_id, cases[i].cpuid ? 0x19 : 0);
                assert_int_equal(rsp.report.cpuid_mod_id, cases[i].cpuid ? 0x01 : 0);
                assert_int_equal(rsp.report.cpuid_step, cases[i].cpuid ? 0x01 : 0);
        }
}

static void test_report_rules(void **state) {
        static const struct {
                const char *name;
                uint32_t vmpl;
                uint32_t status;
        } cases[] = {
                { "vmpl = caller's",     CALLER_VMPL,     SNP_FW_SUCCESS },
                { "vmpl = caller's - 1", CALLER_VMPL - 1, SNP_FW_INVALID_PARAM },
                { "vmpl 3",              3,               SNP_FW_SUCCESS },
                { "vmpl 4",              4,               SNP_FW_INVALID_PARAM },
        };
        struct sim_state s;
        struct snp_msg_report_rsp rsp;

        base_state(&s);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t st = get_report(&s, cases[i].vmpl, 0x77, &rsp);

                check_case(st == cases[i].status, cases[i].name);
                check_case(rsp.status == cases[i].status, cases[i].name);
                if (st != SNP_FW_SUCCESS) {
                        check_case(rsp.report_size == 0, cases[i].name);
                        check_case(all_zero(&rsp.report, sizeof(rsp.report)), cases[i].name);
                }
        }
        for (size_t byte = 0; byte < sizeof(((struct snp_msg_report_req *) NULL)->reserved); byte++) {
                struct snp_msg_report_req req = { .vmpl = CALLER_VMPL };

                req.reserved[byte] = 0x01;
                if (sim_fw_report_request(&s, &req, &rsp) != SNP_FW_INVALID_PARAM)
                        fail_msg("reserved byte %zu of the report request accepted", byte);
                assert_true(all_zero(&rsp.report, sizeof(rsp.report)));
        }
}

static EVP_PKEY *vcek_pubkey(const struct sim_state *s) {
        char *pem = NULL;
        BIO *bio;
        EVP_PKEY *pkey;

        assert_int_equal(sim_vcek_public_pem(s, &pem), 0);
        assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
        bio = BIO_new_mem_buf(pem, -1);
        assert_non_null(bio);
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        assert_non_null(pkey);
        BIO_free(bio);
        free(pem);
        return pkey;
}

/* 1 valid, 0 invalid: R and S from little-endian back into DER. */
static int verify_report(const struct snp_report *r, EVP_PKEY *pkey) {
        ECDSA_SIG *sig = ECDSA_SIG_new();
        BIGNUM *br = BN_lebin2bn(r->signature.r, sizeof(r->signature.r), NULL);
        BIGNUM *bs = BN_lebin2bn(r->signature.s, sizeof(r->signature.s), NULL);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char *der = NULL;
        int der_len, ok;

        assert_non_null(sig);
        assert_non_null(br);
        assert_non_null(bs);
        assert_non_null(md);
        assert_int_equal(ECDSA_SIG_set0(sig, br, bs), 1);
        der_len = i2d_ECDSA_SIG(sig, &der);
        assert_true(der_len > 0);
        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pkey), 1);
        ok = EVP_DigestVerify(md, der, (size_t) der_len, (const unsigned char *) r, SNP_REPORT_SIGNED_LEN);
        OPENSSL_free(der);
        EVP_MD_CTX_free(md);
        ECDSA_SIG_free(sig);
        return ok == 1;
}

static void test_report_signature(void **state) {
        struct sim_state s;
        struct snp_msg_report_rsp rsp;
        EVP_PKEY *pkey, *other;
        char group[64] = "";
        size_t glen = 0;

        base_state(&s);
        pkey = vcek_pubkey(&s);
        assert_int_equal(EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen), 1);
        assert_string_equal(group, "secp384r1");

        assert_int_equal(get_report(&s, CALLER_VMPL, 0x42, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(verify_report(&rsp.report, pkey), 1);
        rsp.report.measurement[17] ^= 0x01;
        assert_int_equal(verify_report(&rsp.report, pkey), 0);
        rsp.report.measurement[17] ^= 0x01;
        rsp.report.signature.r[0] ^= 0x01;
        assert_int_equal(verify_report(&rsp.report, pkey), 0);
        rsp.report.signature.r[0] ^= 0x01;
        assert_int_equal(verify_report(&rsp.report, pkey), 1);

        /* The same chip and TCB: the same key. */
        other = vcek_pubkey(&s);
        assert_int_equal(EVP_PKEY_eq(pkey, other), 1);
        EVP_PKEY_free(other);

        /* Another reported TCB: another VCEK, which the old report does not verify under. */
        s.reported_tcb = UINT64_C(0xd108000000000002);
        other = vcek_pubkey(&s);
        assert_int_not_equal(EVP_PKEY_eq(pkey, other), 1);
        assert_int_equal(verify_report(&rsp.report, other), 0);
        assert_int_equal(get_report(&s, CALLER_VMPL, 0x42, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(verify_report(&rsp.report, other), 1);
        EVP_PKEY_free(other);

        /* Another chip, same TCB: another key too (the simulator keeps the
         * last key it made; what it is derived from decides whether it is
         * reused). */
        s.chip_secret[5] ^= 0x01;
        other = vcek_pubkey(&s);
        assert_int_not_equal(EVP_PKEY_eq(pkey, other), 1);
        assert_int_equal(get_report(&s, CALLER_VMPL, 0x42, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(verify_report(&rsp.report, other), 1);
        assert_int_equal(verify_report(&rsp.report, pkey), 0);
        EVP_PKEY_free(other);

        /* Back to the first chip and TCB: the first key again. */
        base_state(&s);
        other = vcek_pubkey(&s);
        assert_int_equal(EVP_PKEY_eq(pkey, other), 1);
        assert_int_equal(get_report(&s, CALLER_VMPL, 0x42, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(verify_report(&rsp.report, pkey), 1);
        EVP_PKEY_free(other);
        EVP_PKEY_free(pkey);
}

/* ---- the simulator backend ---- */

struct backend_fixture {
        char dir[64];
        char path[96];
        struct sim_state s;
};

static int backend_teardown(void **state) {
        struct backend_fixture *f = *state;

        (void) unlink(f->path);
        (void) rmdir(f->dir);
        free(f);
        return 0;
}

static int backend_setup(void **state) {
        struct backend_fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-sim.XXXXXX");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(f->path, sizeof(f->path), "%s/state.json", f->dir);
        base_state(&f->s);
        *state = f;
        if (sim_state_save(f->path, &f->s) < 0) {
                (void) backend_teardown(state);
                return -1;
        }
        return 0;
}

static void test_backend_missing_state(void **state) {
        struct backend_fixture *f = *state;
        struct snp_backend *b = NULL;
        struct snp_error err = {};
        char missing[128];

        snprintf(missing, sizeof(missing), "%s/nope.json", f->dir);
        assert_int_equal(snp_backend_simulator_open(missing, &b, &err), -ENOENT);
        assert_null(b);
        assert_int_equal(err.code, -ENOENT);
        assert_non_null(strstr(err.message, "not found"));
        assert_non_null(strstr(err.message, "snpseal-sim init"));
        assert_non_null(strstr(err.message, missing));
}

static void test_backend_derive_and_report(void **state) {
        struct backend_fixture *f = *state;
        _cleanup_(snp_backend_freep) struct snp_backend *b = NULL;
        struct snp_error err = {};
        struct snp_msg_key_req req = base_req(&f->s);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        _cleanup_secret_ uint8_t *key2 = secret_alloc(SNP_KEY_LEN);
        uint8_t direct[SNP_KEY_LEN], data[SNP_REPORT_DATA_LEN];
        struct snp_report report;

        assert_non_null(key);
        assert_non_null(key2);
        assert_int_equal(snp_backend_simulator_open(f->path, &b, &err), 0);
        assert_string_equal(b->ops->name, "simulator");
        assert_int_equal(b->own_vmpl, CALLER_VMPL);

        assert_int_equal(snp_backend_derive_key(b, &req, key, &err), 0);
        assert_int_equal(derive(&f->s, &req, direct), 0);
        assert_memory_equal(key, direct, SNP_KEY_LEN);

        memset(data, 0x3c, sizeof(data));
        assert_int_equal(snp_backend_get_report(b, data, 2, &report, &err), 0);
        assert_memory_equal(report.report_data, data, sizeof(data));
        assert_memory_equal(report.measurement, f->s.measurement, sizeof(f->s.measurement));
        assert_int_equal(report.vmpl, 2);

        /* The state is reloaded for every request. */
        f->s.measurement[0] ^= 0xff;
        assert_int_equal(sim_state_save(f->path, &f->s), 0);
        assert_int_equal(snp_backend_derive_key(b, &req, key2, &err), 0);
        assert_memory_not_equal(key, key2, SNP_KEY_LEN);
        secret_wipe(direct, sizeof(direct));
}

static void test_backend_fw_status(void **state) {
        struct backend_fixture *f = *state;
        _cleanup_(snp_backend_freep) struct snp_backend *b = NULL;
        struct snp_error err = {};
        struct snp_msg_key_req req = base_req(&f->s);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);

        assert_non_null(key);
        assert_int_equal(snp_backend_simulator_open(f->path, &b, &err), 0);
        /* Structurally fine, so it reaches the firmware, which answers 0x27. */
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(snp_backend_derive_key(b, &req, key, &err), -EREMOTEIO);
        assert_int_equal(err.fw_status, SNP_FW_INVALID_KEY);
        assert_non_null(strstr(err.message, "0x27"));
        /* Through the ops directly: no validation in front, the firmware says 0x16. */
        req = base_req(&f->s);
        req.guest_svn = LAUNCH_SVN + 1;
        assert_int_equal(b->ops->derive_key(b, &req, key, &err), -EREMOTEIO);
        assert_int_equal(err.fw_status, SNP_FW_INVALID_PARAM);
        assert_non_null(strstr(err.message, "0x16"));
}

static void test_backend_faults(void **state) {
        struct backend_fixture *f = *state;
        _cleanup_(snp_backend_freep) struct snp_backend *b = NULL;
        struct snp_error err = {};
        struct snp_msg_key_req req = base_req(&f->s);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct sim_state loaded;
        char errbuf[256];

        assert_non_null(key);
        assert_int_equal(snp_backend_simulator_open(f->path, &b, &err), 0);

        f->s.fault = SIM_FAULT_BUSY;
        assert_int_equal(sim_state_save(f->path, &f->s), 0);
        assert_int_equal(b->ops->derive_key(b, &req, key, &err), -ETIMEDOUT);
        assert_non_null(strstr(err.message, "busy"));
        assert_int_equal(sim_state_load(f->path, &loaded, errbuf, sizeof(errbuf)), 0);
        assert_true(loaded.vmpck_disabled);
        sim_state_wipe(&loaded);
        f->s.vmpck_disabled = false;

        f->s.fault = SIM_FAULT_CMD_FAIL;
        assert_int_equal(sim_state_save(f->path, &f->s), 0);
        assert_int_equal(b->ops->derive_key(b, &req, key, &err), -EIO);
        assert_non_null(strstr(err.message, "reboot"));
        /* The disabled message key was persisted ... */
        assert_int_equal(sim_state_load(f->path, &loaded, errbuf, sizeof(errbuf)), 0);
        assert_true(loaded.vmpck_disabled);
        sim_state_wipe(&loaded);
        /* ... so every later request fails, reports too. */
        assert_int_equal(b->ops->derive_key(b, &req, key, &err), -ENOTTY);
        assert_non_null(strstr(err.message, "reboot"));
        assert_int_equal(snp_backend_derive_key(b, &req, key, &err), -ENOTTY);
        assert_non_null(strstr(err.message, "reboot"));
        assert_true(all_zero(key, SNP_KEY_LEN));
}

/* ---- issue 13: VLEK-signed reports, KEY_SEL, MASK_CHIP_*, Turin, faults ---- */

static uint32_t get_report_sel(const struct sim_state *s, uint32_t key_sel, struct snp_msg_report_rsp *rsp) {
        struct snp_msg_report_req req = { .vmpl = CALLER_VMPL, .key_sel = key_sel };

        memset(rsp, 0xa5, sizeof(*rsp));
        return sim_fw_report_request(s, &req, rsp);
}

static unsigned signing_key_of(const struct snp_report *r) {
        return (r->signer_info & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT;
}

static void test_report_key_sel(void **state) {
        struct sim_state s;
        struct snp_msg_report_rsp rsp;
        EVP_PKEY *vcek, *vlek;

        base_state(&s);
        vcek = sim_key(&s, SIM_KEY_VCEK);
        assert_non_null(vcek);
        assert_null(sim_key(&s, SIM_KEY_VLEK));   /* no VLEK installed */
        /* Without a VLEK: KEY_SEL 0 and 1 sign with the VCEK, 2 is an invalid key, 3 and above invalid. */
        for (uint32_t sel = 0; sel <= 1; sel++) {
                assert_int_equal(get_report_sel(&s, sel, &rsp), SNP_FW_SUCCESS);
                assert_int_equal(signing_key_of(&rsp.report), SNP_SIGNING_KEY_VCEK);
                assert_int_equal(verify_report(&rsp.report, vcek), 1);
                assert_false(all_zero(rsp.report.chip_id, sizeof(rsp.report.chip_id)));
        }
        assert_int_equal(get_report_sel(&s, 2, &rsp), SNP_FW_INVALID_KEY);
        assert_true(all_zero(&rsp.report, sizeof(rsp.report)));
        assert_int_equal(get_report_sel(&s, 3, &rsp), SNP_FW_INVALID_PARAM);
        assert_int_equal(get_report_sel(&s, 4, &rsp), SNP_FW_INVALID_PARAM);

        /* With a VLEK: KEY_SEL 0 and 2 sign with it (CHIP_ID zero, as on AWS), 1 with the VCEK. */
        s.vlek_present = true;
        vlek = sim_key(&s, SIM_KEY_VLEK);
        assert_non_null(vlek);
        for (uint32_t sel = 0; sel <= 2; sel += 2) {
                assert_int_equal(get_report_sel(&s, sel, &rsp), SNP_FW_SUCCESS);
                assert_int_equal(signing_key_of(&rsp.report), SNP_SIGNING_KEY_VLEK);
                assert_int_equal(verify_report(&rsp.report, vlek), 1);
                assert_int_equal(verify_report(&rsp.report, vcek), 0);
                assert_true(all_zero(rsp.report.chip_id, sizeof(rsp.report.chip_id)));
        }
        assert_int_equal(get_report_sel(&s, 1, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(signing_key_of(&rsp.report), SNP_SIGNING_KEY_VCEK);
        assert_int_equal(verify_report(&rsp.report, vcek), 1);
        EVP_PKEY_free(vcek);
        EVP_PKEY_free(vlek);
}

static void test_mask_chip(void **state) {
        struct sim_state s;
        struct snp_msg_report_rsp rsp;
        struct snp_msg_key_req req;
        uint8_t key[SNP_KEY_LEN];

        base_state(&s);
        s.mask_chip_id = true;
        assert_int_equal(get_report_sel(&s, 0, &rsp), SNP_FW_SUCCESS);
        assert_true(all_zero(rsp.report.chip_id, sizeof(rsp.report.chip_id)));
        assert_int_equal(rsp.report.signer_info & SNP_SIGNER_MASK_CHIP_KEY, 0);

        base_state(&s);
        s.mask_chip_key = true;
        assert_int_equal(get_report_sel(&s, 0, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(rsp.report.signer_info & SNP_SIGNER_MASK_CHIP_KEY, SNP_SIGNER_MASK_CHIP_KEY);
        req = base_req(&s);                     /* KEY_SEL VCEK */
        assert_int_equal(derive(&s, &req, key), SNP_FW_INVALID_KEY);
        req.root_key_select = 0;                /* default, no VLEK: the VCEK */
        assert_int_equal(derive(&s, &req, key), SNP_FW_INVALID_KEY);
        req.root_key_select = SNP_KEY_REQ_ROOT_KEY_VMRK;
        assert_int_equal(derive(&s, &req, key), SNP_FW_SUCCESS);
        s.vlek_present = true;
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;
        assert_int_equal(derive(&s, &req, key), SNP_FW_SUCCESS);
        req.root_key_select = 0;                /* default with a VLEK: the VLEK */
        assert_int_equal(derive(&s, &req, key), SNP_FW_SUCCESS);
}

static void test_turin_state(void **state) {
        struct sim_state s;
        struct snp_msg_report_rsp rsp;
        uint8_t chip[64];

        base_state(&s);
        s.cpuid_fam = SIM_CPUID_FAMILY_TURIN;
        s.cpuid_mod = 0x02;
        s.report_version = 5;
        assert_int_equal(get_report_sel(&s, 0, &rsp), SNP_FW_SUCCESS);
        assert_false(all_zero(rsp.report.chip_id, 8));
        assert_true(all_zero(rsp.report.chip_id + 8, 56));
        assert_int_equal(sim_chip_id(&s, chip), 0);
        assert_memory_equal(chip, rsp.report.chip_id, 64);
        assert_int_equal(rsp.report.launch_mit_vector, SIM_TURIN_MIT_VECTOR);
        assert_int_equal(rsp.report.current_mit_vector, SIM_TURIN_MIT_VECTOR);
        assert_int_not_equal(SIM_TURIN_MIT_VECTOR, 0);
        /* Version 3 carries no mitigation vectors. */
        s.report_version = 3;
        assert_int_equal(get_report_sel(&s, 0, &rsp), SNP_FW_SUCCESS);
        assert_int_equal(rsp.report.launch_mit_vector, 0);
}

static void test_fault_bad_msg(void **state) {
        struct sim_state s;
        struct snp_msg_key_req req;
        struct snp_msg_key_rsp rsp;
        uint64_t exitinfo2 = 0;

        base_state(&s);
        req = base_req(&s);
        s.fault = SIM_FAULT_BAD_MSG;
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), -EBADMSG);
        assert_true(s.vmpck_disabled);
        /* Every later request: message key disabled. */
        s.fault = SIM_FAULT_NONE;
        assert_int_equal(sim_guest_request(&s, SIM_MSG_KEY_REQ, 1, &req, &rsp, &exitinfo2), -ENOTTY);
        assert_int_equal(exitinfo2, SNP_EXITINFO2_NO_FW_CALL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_rules),
                cmocka_unit_test(test_key_reserved_bits),
                cmocka_unit_test(test_key_check_order),
                cmocka_unit_test(test_key_deterministic),
                cmocka_unit_test(test_key_sensitivity),
                cmocka_unit_test(test_key_vmpl_counts),
                cmocka_unit_test(test_key_older_tcbs),
                cmocka_unit_test(test_key_tcb_unselected),
                cmocka_unit_test(test_key_vmrk_root),
                cmocka_unit_test(test_key_sel_default),
                cmocka_unit_test(test_kernel_layer),
                cmocka_unit_test(test_kernel_disable_sticks),
                cmocka_unit_test(test_kernel_passes_status),
                cmocka_unit_test(test_kernel_delay),
                cmocka_unit_test(test_request_counter_and_throttle),
                cmocka_unit_test(test_report_fields),
                cmocka_unit_test(test_report_version_cpuid),
                cmocka_unit_test(test_report_rules),
                cmocka_unit_test(test_report_signature),
                cmocka_unit_test_setup_teardown(test_backend_missing_state, backend_setup, backend_teardown),
                cmocka_unit_test_setup_teardown(test_backend_derive_and_report, backend_setup, backend_teardown),
                cmocka_unit_test_setup_teardown(test_backend_fw_status, backend_setup, backend_teardown),
                cmocka_unit_test_setup_teardown(test_backend_faults, backend_setup, backend_teardown),
                cmocka_unit_test(test_report_key_sel),
                cmocka_unit_test(test_mask_chip),
                cmocka_unit_test(test_turin_state),
                cmocka_unit_test(test_fault_bad_msg),
        };
        return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The REAL sev-guest backend (open + ioctl on a device node) against the
 * simulator, through the LD_PRELOAD shim tests/shim/sev-guest-shim.c. The
 * program re-executes itself with the shim preloaded; the device path is a
 * fake one in a temporary directory, so the real /dev is never touched.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "snp-cert-table.h"
#include "secret.h"
#include "sim-state.h"

#define TCB_COMMITTED UINT64_C(0xd108000000000002)  /* "02000000000008d1" */

static char tmpdir[256];
static char state_path[300], device_path[300], counter_path[300], missing_path[300];

/* ---- fixtures ---- */

static int group_setup(void **state) {
        const char *base = getenv("TMPDIR");

        snprintf(tmpdir, sizeof(tmpdir), "%s/snpseal-test-sev-guest-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(state_path, sizeof(state_path), "%s/state.json", tmpdir);
        snprintf(device_path, sizeof(device_path), "%s/sev-guest", tmpdir);
        snprintf(counter_path, sizeof(counter_path), "%s/counter", tmpdir);
        snprintf(missing_path, sizeof(missing_path), "%s/missing.json", tmpdir);
        if (setenv("SNPSEAL_SHIM_DEVICE", device_path, 1) < 0 ||
            setenv("SNPSEAL_SHIM_STATE", state_path, 1) < 0 ||
            setenv("SNPSEAL_SHIM_COUNTER", counter_path, 1) < 0)
                return -1;
        (void) unsetenv("SNPSEAL_SHIM_EACCES");
        return 0;
}

static int group_teardown(void **state) {
        (void) unlink(state_path);
        (void) unlink(counter_path);
        return rmdir(tmpdir) < 0 ? -1 : 0;
}

static void write_state_full(uint32_t vmpl, enum sim_fault fault, void (*tweak)(struct sim_state *s)) {
        struct sim_state s;

        assert_int_equal(sim_state_init(&s), 0);
        s.guest_svn = 5;
        s.launch_tcb = s.committed_tcb = s.current_tcb = s.reported_tcb = TCB_COMMITTED;
        s.vmpl = vmpl;
        s.fault = fault;
        if (tweak)
                tweak(&s);
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
}

static void write_state(uint32_t vmpl, enum sim_fault fault) {
        write_state_full(vmpl, fault, NULL);
}

/* Each test starts on a fresh simulated VM with an empty counter. */
static int test_setup(void **state) {
        (void) unlink(counter_path);
        (void) unsetenv("SNPSEAL_SHIM_EACCES");
        (void) setenv("SNPSEAL_SHIM_STATE", state_path, 1);
        write_state(0, SIM_FAULT_NONE);
        return 0;
}

static struct sim_state load_state(void) {
        struct sim_state s;
        char errbuf[256];

        assert_int_equal(sim_state_load(state_path, &s, errbuf, sizeof(errbuf)), 0);
        return s;
}

static void update_state(void (*tweak)(struct sim_state *s)) {
        struct sim_state s = load_state();

        tweak(&s);
        assert_int_equal(sim_state_save(state_path, &s), 0);
        sim_state_wipe(&s);
}

/* Lines of the counter file equal to name ("key", "report"). */
static unsigned count_sent(const char *name) {
        char line[32];
        unsigned n = 0;
        FILE *f = fopen(counter_path, "re");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (strcmp(line, name) == 0)
                        n++;
        }
        fclose(f);
        return n;
}

static struct snp_backend *open_device(uint32_t own_vmpl) {
        struct snp_backend *b = NULL;
        struct snp_error e = {};

        assert_int_equal(snp_backend_sev_guest_open(device_path, own_vmpl, &b, &e), 0);
        assert_non_null(b);
        assert_string_equal(b->ops->name, "sev-guest");
        return b;
}

static struct snp_backend *open_simulator(void) {
        struct snp_backend *b = NULL;
        struct snp_error e = {};

        assert_int_equal(snp_backend_simulator_open(state_path, &b, &e), 0);
        return b;
}

static struct snp_msg_key_req default_req(void) {
        return (struct snp_msg_key_req) {
                .root_key_select = SNP_KEY_SEL_VCEK << SNP_KEY_REQ_KEY_SEL_SHIFT,
                .guest_field_select = SNP_FIELD_MEASUREMENT | SNP_FIELD_POLICY | SNP_FIELD_TCB_VERSION,
                .tcb_version = TCB_COMMITTED,
        };
}

static void derive_ok(struct snp_backend *b, const struct snp_msg_key_req *req, uint8_t key[SNP_KEY_LEN]) {
        struct snp_error e = {};
        int r = snp_backend_derive_key(b, req, key, &e);

        if (r < 0)
                print_error("derive failed: %s\n", e.message);
        assert_int_equal(r, 0);
}

/* ---- agreement with the simulator backend ---- */

struct binding_case {
        const char *name;
        uint32_t root_key_select;
        uint64_t fields;
        uint32_t vmpl, svn;
        uint64_t tcb;
        int same_as;  /* index of a binding that must give the same key, or -1 */
};

static const struct binding_case bindings[] = {
        { "default", 1u << 1, 0x29, 0, 0, TCB_COMMITTED, -1 },
        { "every field", 1u << 1, 0x3f, 0, 5, TCB_COMMITTED, -1 },
        { "measurement only", 1u << 1, 0x08, 0, 0, TCB_COMMITTED, -1 },
        { "no field", 1u << 1, 0x00, 0, 0, TCB_COMMITTED, -1 },
        /* KEY_SEL 0 means the VCEK when the host installed no VLEK */
        { "KEY_SEL 0 without a VLEK", 0, 0x29, 0, 0, TCB_COMMITTED, 0 },
        { "VMRK", 1u, 0x29, 0, 0, TCB_COMMITTED, -1 },
        { "VMPL 2", 1u << 1, 0x29, 2, 0, TCB_COMMITTED, -1 },
        { "VMPL 3, SVN 3", 1u << 1, 0x39, 3, 3, TCB_COMMITTED, -1 },
        { "older TCB", 1u << 1, 0x29, 0, 0, UINT64_C(0xd100000000000001), -1 },
};

static void test_agrees_with_simulator(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_(snp_backend_freep) struct snp_backend *sim = open_simulator();
        _cleanup_secret_ uint8_t *keys = secret_alloc(ELEMENTSOF(bindings) * SNP_KEY_LEN);
        _cleanup_secret_ uint8_t *k = secret_alloc(SNP_KEY_LEN);

        assert_non_null(keys);
        assert_non_null(k);
        for (size_t i = 0; i < ELEMENTSOF(bindings); i++) {
                const struct binding_case *c = &bindings[i];
                struct snp_msg_key_req req = {
                        .root_key_select = c->root_key_select,
                        .guest_field_select = c->fields,
                        .vmpl = c->vmpl,
                        .guest_svn = c->svn,
                        .tcb_version = c->tcb,
                };
                uint8_t *ki = keys + i * SNP_KEY_LEN;

                print_message("# binding: %s\n", c->name);
                derive_ok(dev, &req, ki);
                derive_ok(sim, &req, k);
                assert_memory_equal(ki, k, SNP_KEY_LEN);   /* agreement */
                derive_ok(dev, &req, k);
                assert_memory_equal(ki, k, SNP_KEY_LEN);   /* determinism */
                for (size_t j = 0; j < i; j++)              /* distinct bindings, distinct keys */
                        if ((int) j == c->same_as)
                                assert_memory_equal(ki, keys + j * SNP_KEY_LEN, SNP_KEY_LEN);
                        else if (bindings[j].same_as < 0)
                                assert_memory_not_equal(ki, keys + j * SNP_KEY_LEN, SNP_KEY_LEN);
        }
        /* Each derivation one key request; the launch's report (limits) is
         * read once and kept. */
        assert_int_equal(count_sent("key"), 2 * ELEMENTSOF(bindings));
        assert_int_equal(count_sent("report"), 1);
}

/* ---- sensitivity ---- */

static void tweak_measurement(struct sim_state *s) {
        s->measurement[47] ^= 1;
}

static void tweak_policy_debug(struct sim_state *s) {
        s->policy |= SNP_POLICY_DEBUG;
}

struct sensitivity_case {
        const char *name;
        void (*tweak)(struct sim_state *s);
        uint64_t fields;
        uint64_t tcb;
        bool changes;
};

static const struct sensitivity_case sensitivity_cases[] = {
        { "measurement, selected", tweak_measurement, 0x29, TCB_COMMITTED, true },
        { "measurement, not selected", tweak_measurement, 0x21, TCB_COMMITTED, false },
        { "policy (debug), selected", tweak_policy_debug, 0x29, TCB_COMMITTED, true },
        { "policy (debug), not selected", tweak_policy_debug, 0x28, TCB_COMMITTED, false },
        { "requested TCB, selected", NULL, 0x29, UINT64_C(0xd108000000000001), true },
        { "requested TCB, microcode", NULL, 0x29, UINT64_C(0xd008000000000002), true },
};

static void test_sensitivity(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *k0 = secret_alloc(SNP_KEY_LEN);
        _cleanup_secret_ uint8_t *k1 = secret_alloc(SNP_KEY_LEN);

        assert_non_null(k0);
        assert_non_null(k1);
        for (size_t i = 0; i < ELEMENTSOF(sensitivity_cases); i++) {
                const struct sensitivity_case *c = &sensitivity_cases[i];
                struct snp_msg_key_req req = default_req();

                print_message("# sensitivity: %s\n", c->name);
                write_state(0, SIM_FAULT_NONE);
                req.guest_field_select = c->fields;
                derive_ok(dev, &req, k0);
                if (c->tweak)
                        update_state(c->tweak);
                req.tcb_version = c->tcb;
                derive_ok(dev, &req, k1);
                if (c->changes)
                        assert_memory_not_equal(k0, k1, SNP_KEY_LEN);
                else
                        assert_memory_equal(k0, k1, SNP_KEY_LEN);
        }
}

/* ---- opening ---- */

static void test_device_missing(void **state) {
        struct snp_backend *b = NULL;
        struct snp_error e = {};

        assert_int_equal(setenv("SNPSEAL_SHIM_STATE", missing_path, 1), 0);
        assert_int_equal(snp_backend_sev_guest_open(device_path, 0, &b, &e), -ENOENT);
        assert_null(b);
        assert_int_equal(e.code, -ENOENT);
        assert_non_null(strstr(e.message, device_path));
        assert_non_null(strstr(e.message, "not found: not an SEV-SNP guest, or the sev-guest driver is not loaded "
                                          "(modprobe sev-guest)"));
}

static void test_device_eacces(void **state) {
        struct snp_backend *b = NULL;
        struct snp_error e = {};

        assert_int_equal(setenv("SNPSEAL_SHIM_EACCES", "1", 1), 0);
        assert_int_equal(snp_backend_sev_guest_open(device_path, 0, &b, &e), -EACCES);
        assert_null(b);
        assert_non_null(strstr(e.message, "permission denied: only root (or the snpseal agent) may use"));
        assert_non_null(strstr(e.message, device_path));
}

/* ---- refusals never reach the device ---- */

struct refused_case {
        const char *name;
        uint32_t root_key_select;
        uint32_t svn;
        uint64_t tcb;
        int rc;
        unsigned n_report;
        const char *message;
};

static const struct refused_case refused_cases[] = {
        { "reserved bit", (1u << 1) | (1u << 4), 0, TCB_COMMITTED, -EINVAL, 0, "reserved bits 0x00000010" },
        { "KEY_SEL 3", 3u << 1, 0, TCB_COMMITTED, -EINVAL, 0, "KEY_SEL 3 is reserved" },
        { "SVN above launch", 1u << 1, 6, TCB_COMMITTED, -ERANGE, 1, "GUEST_SVN 6 is above the launch guest SVN 5" },
        { "TCB above committed", 1u << 1, 0, TCB_COMMITTED + 1, -ERANGE, 1,
          "requested TCB 03000000000008d1 is above the committed TCB 02000000000008d1: "
          "the firmware is older than the sealed TCB" },
};

static void test_refused_never_sent(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req ok = default_req();

        for (size_t i = 0; i < ELEMENTSOF(refused_cases); i++) {
                const struct refused_case *c = &refused_cases[i];
                struct snp_msg_key_req req = default_req();
                struct snp_error e = {};
                unsigned reports = count_sent("report");
                struct sim_state s;

                print_message("# refused: %s\n", c->name);
                req.root_key_select = c->root_key_select;
                req.guest_svn = c->svn;
                req.tcb_version = c->tcb;
                assert_int_equal(snp_backend_derive_key(dev, &req, key, &e), c->rc);
                assert_non_null(strstr(e.message, c->message));
                assert_int_equal(count_sent("key"), 0);
                assert_int_equal(count_sent("report"), reports + c->n_report);
                s = load_state();
                assert_false(s.vmpck_disabled);
                sim_state_wipe(&s);
        }
        /* and the message key still works */
        derive_ok(dev, &ok, key);
        assert_int_equal(count_sent("key"), 1);
}

/* ---- what disables the message key ---- */

static void test_version2_disables_vmpck(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        _cleanup_secret_ struct snp_msg_key_rsp *rsp = secret_alloc(sizeof(*rsp));
        struct snp_msg_key_req req = default_req();
        struct snp_guest_req_ioctl arg = {
                .msg_version = 2,
                .req_data = (uint64_t) (uintptr_t) &req,
                .resp_data = (uint64_t) (uintptr_t) rsp,
        };
        struct snp_report report;
        struct snp_error e = {};
        struct sim_state s;
        int fd;

        fd = open(device_path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        errno = 0;
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_DERIVED_KEY, &arg), -1);
        assert_int_equal(errno, EIO);
        assert_true(arg.exitinfo2 != 0 && arg.exitinfo2 != SNP_EXITINFO2_NO_FW_CALL);  /* copied back */
        assert_int_equal(count_sent("key"), 1);  /* it did reach the firmware */
        assert_int_equal(close(fd), 0);
        s = load_state();
        assert_true(s.vmpck_disabled);
        sim_state_wipe(&s);

        /* Every later request: -ENOTTY, reboot required, nothing sent. */
        assert_int_equal(snp_backend_derive_key(dev, &req, key, &e), -ENOTTY);
        assert_non_null(strstr(e.message, "message key (VMPCK)"));
        assert_non_null(strstr(e.message, "reboot required"));
        assert_int_equal(snp_backend_get_report(dev, NULL, 0, &report, &e), -ENOTTY);
        assert_non_null(strstr(e.message, "reboot required"));
        assert_int_equal(count_sent("key"), 1);
        assert_int_equal(count_sent("report"), 0);
}

static void test_command_failure(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_report report;
        struct snp_error e = {};

        assert_int_equal(snp_backend_get_report(dev, NULL, 0, &report, &e), 0);
        write_state(0, SIM_FAULT_CMD_FAIL);
        /* The backend's own key operation (validated already), failing at the command level. */
        assert_int_equal(snp_key_req_validate(&req, &e), 0);
        assert_int_equal(dev->ops->derive_key(dev, &req, key, &e), -EIO);
        assert_int_equal(e.fw_status, 0x16);
        assert_non_null(strstr(e.message, "failed at the command level (firmware error 0x16: invalid parameter"));
        assert_non_null(strstr(e.message, "the kernel has now disabled the VM's message key: reboot required"));
        /* The 6.17-rc1 note belongs to -EINVAL alone. */
        assert_null(strstr(e.message, "6.17-rc1"));
        assert_int_equal(count_sent("key"), 1);
        /* and from now on */
        assert_int_equal(snp_backend_get_report(dev, NULL, 0, &report, &e), -ENOTTY);
        assert_non_null(strstr(e.message, "reboot required"));
        assert_int_equal(snp_backend_derive_key(dev, &req, key, &e), -ENOTTY);
        assert_non_null(strstr(e.message, "reboot required"));
        assert_int_equal(count_sent("key"), 1);
}

static void test_firmware_status_failure(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_error e = {};
        struct sim_state s;

        memset(key, 0x77, SNP_KEY_LEN);
        req.root_key_select = SNP_KEY_SEL_VLEK << SNP_KEY_REQ_KEY_SEL_SHIFT;  /* no VLEK installed */
        assert_int_equal(snp_backend_derive_key(dev, &req, key, &e), -EREMOTEIO);
        assert_int_equal(e.fw_status, SNP_FW_INVALID_KEY);
        assert_non_null(strstr(e.message, "STATUS 0x27"));
        assert_int_equal(count_sent("key"), 1);  /* sent once, never retried */
        for (size_t i = 0; i < SNP_KEY_LEN; i++)
                assert_int_equal(key[i], 0x77);
        /* a message-level failure leaves the message key enabled */
        s = load_state();
        assert_false(s.vmpck_disabled);
        sim_state_wipe(&s);
        derive_ok(dev, &(struct snp_msg_key_req) { .root_key_select = 1u << 1, .guest_field_select = 0x29,
                                                   .tcb_version = TCB_COMMITTED }, key);
}

static void test_busy(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_report report;
        struct snp_error e = {};

        write_state(0, SIM_FAULT_BUSY);
        assert_int_equal(snp_backend_derive_key(dev, &req, key, &e), -ETIMEDOUT);
        assert_int_equal(e.vmm_error, SNP_VMM_ERR_BUSY);
        assert_non_null(strstr(e.message, "hypervisor stayed busy"));
        assert_non_null(strstr(e.message, "reboot required"));
        /* The kernel gave up on the request: the message key is gone. */
        assert_int_equal(snp_backend_get_report(dev, NULL, 0, &report, &e), -ENOTTY);
        assert_int_equal(count_sent("key"), 0);
}

/* ---- reports ---- */

static void tweak_report_fields(struct sim_state *s) {
        s->vmpl = 1;
        s->policy |= SNP_POLICY_SINGLE_SOCKET;
}

static void test_get_report(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = NULL;
        uint8_t data[SNP_REPORT_DATA_LEN];
        struct snp_report report;
        struct snp_error e = {};
        struct sim_state s;

        write_state_full(1, SIM_FAULT_NONE, tweak_report_fields);
        s = load_state();
        dev = open_device(1);
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (0xa0 ^ i);
        assert_int_equal(snp_backend_get_report(dev, data, 2, &report, &e), 0);
        assert_memory_equal(report.measurement, s.measurement, sizeof(s.measurement));
        assert_memory_equal(report.report_data, data, sizeof(data));
        assert_true(report.policy == s.policy);
        assert_true(report.committed_tcb == TCB_COMMITTED);
        assert_int_equal(report.guest_svn, 5);
        assert_int_equal(report.vmpl, 2);
        assert_int_equal(count_sent("report"), 1);
        assert_int_equal(snp_backend_get_report(dev, data, 0, &report, &e), -ERANGE);
        assert_int_equal(count_sent("report"), 1);
        sim_state_wipe(&s);
}

/* ---- the shim itself: the driver's argument handling ---- */

static void test_shim_driver_semantics(void **state) {
        struct snp_msg_key_req req = default_req();
        struct snp_msg_key_rsp rsp;
        struct snp_guest_req_ioctl arg = {
                .msg_version = 0,
                .req_data = (uint64_t) (uintptr_t) &req,
                .resp_data = (uint64_t) (uintptr_t) &rsp,
        };
        int fd, other;

        fd = open(device_path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        errno = 0;
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_DERIVED_KEY, NULL), -1);
        assert_int_equal(errno, EFAULT);
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_DERIVED_KEY, &arg), -1);
        assert_int_equal(errno, EINVAL);
        arg.msg_version = 1;
        assert_int_equal(ioctl(fd, 0xC02053ffUL, &arg), -1);
        assert_int_equal(errno, ENOTTY);
        arg.req_data = 0;
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_DERIVED_KEY, &arg), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(count_sent("key"), 0);

        /* success: exitinfo2 0, so the argument is not copied back */
        arg.req_data = (uint64_t) (uintptr_t) &req;
        arg.exitinfo2 = 0;
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_DERIVED_KEY, &arg), 0);
        assert_int_equal(rsp.status, 0);
        assert_true(arg.exitinfo2 == 0);
        assert_int_equal(count_sent("key"), 1);
        secret_wipe(&rsp, sizeof(rsp));

        /* other descriptors pass through to the real kernel */
        other = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(other >= 0);
        assert_int_equal(ioctl(other, SNP_IOCTL_GET_DERIVED_KEY, &arg), -1);
        assert_int_equal(errno, ENOTTY);
        assert_int_equal(close(other), 0);
        assert_int_equal(close(fd), 0);
        assert_int_equal(count_sent("key"), 1);
}

/* SNP_GET_EXT_REPORT: the report and the host's certificate table. */
static void test_ext_report(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_(freep) uint8_t *certs = calloc(1, SNP_CERT_BLOB_MAX);
        struct snp_cert_entry e[SNP_CERT_TABLE_MAX];
        struct snp_msg_ext_report_req ereq = { .data = { .vmpl = 0 } };
        struct snp_msg_report_rsp *rsp = calloc(1, SNP_REPORT_RESP_BUF_LEN);
        struct snp_guest_req_ioctl arg = {
                .msg_version = 1,
                .req_data = (uint64_t) (uintptr_t) &ereq,
                .resp_data = (uint64_t) (uintptr_t) rsp,
        };
        struct snp_report report;
        struct snp_error err = {};
        char errbuf[256];
        size_t n;
        int fd;

        assert_non_null(certs);
        assert_non_null(rsp);
        assert_int_equal(snp_backend_get_ext_report(dev, NULL, 0, &report, certs, &err), 0);
        assert_int_equal(snp_cert_table_parse(certs, SNP_CERT_BLOB_MAX, e, ELEMENTSOF(e), &n, errbuf,
                                              sizeof(errbuf)), 0);
        assert_int_equal(n, 3);
        assert_int_equal(e[0].kind, SNP_CERT_GUID_VCEK);
        assert_int_equal(e[1].kind, SNP_CERT_GUID_ASK);
        assert_int_equal(e[2].kind, SNP_CERT_GUID_ARK);
        assert_int_equal(count_sent("ext-report"), 1);

        /* The driver's rule: a length that is not a multiple of the page size is refused, unsent. */
        fd = open(device_path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        ereq.certs_address = (uint64_t) (uintptr_t) certs;
        ereq.certs_len = 100;
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_EXT_REPORT, &arg), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(count_sent("ext-report"), 1);
        /* No buffer: a plain report. */
        ereq.certs_address = 0;
        ereq.certs_len = 0;
        assert_int_equal(ioctl(fd, SNP_IOCTL_GET_EXT_REPORT, &arg), 0);
        assert_int_equal(rsp->status, 0);
        assert_int_equal(rsp->report_size, SNP_REPORT_SIZE);
        assert_int_equal(close(fd), 0);
        free(rsp);
}

/* A kernel that refuses the request as invalid (Linux 6.17-rc1's
 * SNP_GET_DERIVED_KEY): no firmware call, the message key intact, and the
 * note about that kernel only for the derived key. */
static void test_einval(void **state) {
        _cleanup_(snp_backend_freep) struct snp_backend *dev = open_device(0);
        _cleanup_secret_ uint8_t *key = secret_alloc(SNP_KEY_LEN);
        struct snp_msg_key_req req = default_req();
        struct snp_report report;
        struct snp_error e = {};

        assert_int_equal(setenv("SNPSEAL_SHIM_EINVAL", "1", 1), 0);
        assert_int_equal(dev->ops->derive_key(dev, &req, key, &e), -EINVAL);
        assert_non_null(strstr(e.message, "no firmware call, the message key is intact"));
        assert_non_null(strstr(e.message, "if this is Linux 6.17-rc1, its SNP_GET_DERIVED_KEY is broken"));
        assert_int_equal(snp_backend_get_report(dev, NULL, 0, &report, &e), -EINVAL);
        assert_null(strstr(e.message, "6.17-rc1"));
        assert_int_equal(unsetenv("SNPSEAL_SHIM_EINVAL"), 0);
        assert_int_equal(count_sent("key"), 0);
        assert_int_equal(snp_backend_get_report(dev, NULL, 0, &report, &e), 0);
}

/* ---- re-execution under the shim ---- */

static int reexec_under_shim(char **argv) {
        const char *shim = getenv("SNPSEAL_SHIM");
        const char *preload = getenv("LD_PRELOAD");
        const char *asan = getenv("ASAN_OPTIONS");
        char buf[4096];

        if (!shim || !*shim) {
                printf("1..0 # SKIP SNPSEAL_SHIM not set\n");
                return 0;
        }
        /* Whatever is preloaded already (a sanitizer runtime) stays first. */
        if (preload && *preload)
                snprintf(buf, sizeof(buf), "%s:%s", preload, shim);
        else
                snprintf(buf, sizeof(buf), "%s", shim);
        if (setenv("LD_PRELOAD", buf, 1) < 0 || setenv("SNPSEAL_SHIM_ACTIVE", "1", 1) < 0)
                return 99;
        if (asan && *asan)
                snprintf(buf, sizeof(buf), "%s:verify_asan_link_order=0", asan);
        else
                snprintf(buf, sizeof(buf), "verify_asan_link_order=0");
        if (setenv("ASAN_OPTIONS", buf, 1) < 0)
                return 99;
        execv("/proc/self/exe", argv);
        printf("Bail out! cannot re-execute under the shim: %s\n", strerror(errno));
        return 99;
}

#define T(f) cmocka_unit_test_setup(f, test_setup)

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                T(test_agrees_with_simulator),
                T(test_sensitivity),
                T(test_device_missing),
                T(test_device_eacces),
                T(test_refused_never_sent),
                T(test_version2_disables_vmpck),
                T(test_command_failure),
                T(test_firmware_status_failure),
                T(test_busy),
                T(test_get_report),
                T(test_shim_driver_semantics),
                T(test_ext_report),
                T(test_einval),
        };

        if (!getenv("SNPSEAL_SHIM_ACTIVE"))
                return reexec_under_shim(argv);
        return cmocka_run_group_tests_name("sev-guest", tests, group_setup, group_teardown);
}

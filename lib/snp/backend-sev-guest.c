/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend.h"
#include "hexutil.h"
#include "log.h"
#include "snp-cert-table.h"
#include "secret.h"

/*
 * The real /dev/sev-guest. Message version 1 always; every request reaching
 * here was validated by snp_backend_derive_key(). A failed request is never
 * retried: after a command-level failure the kernel has disabled the message
 * key, and a firmware STATUS failure would only repeat.
 */

struct sev_guest {
        int fd;
};

/* Linux 6.17-rc1 alone (commit 7ffeb2fc2670, fixed by c08ba63078dd before
 * rc2) refused every SNP_GET_DERIVED_KEY with -EINVAL ("buffers must be in
 * linear mapping"): no firmware call, the message key intact. Only -EINVAL
 * can be that. */
static const char kernel_derived_key_note[] =
        "; if this is Linux 6.17-rc1, its SNP_GET_DERIVED_KEY is broken (a \"buffers must be in linear "
        "mapping\" kernel warning; fixed in 6.17-rc2): use another kernel";

/* One ioctl. The kernel copies the argument back only when exitinfo2 is
 * non-zero, so exitinfo2 starts at 0 and 0 afterwards means "not reported". */
static int sev_guest_ioctl(struct snp_backend *b, unsigned long nr, const void *req, void *resp,
                           struct snp_error *err) {
        struct sev_guest *g = b->data;
        struct snp_guest_req_ioctl arg = {
                .msg_version = SNP_MSG_VERSION,
                .req_data = (uint64_t) (uintptr_t) req,
                .resp_data = (uint64_t) (uintptr_t) resp,
                .exitinfo2 = 0,
        };
        int r;

        do
                r = ioctl(g->fd, nr, &arg);
        while (r < 0 && errno == EINTR);
        if (r >= 0)
                return 0;

        r = snp_transport_error(-errno, arg.exitinfo2, err);
        log_debug("sev-guest: ioctl 0x%lx failed: %d, exitinfo2 0x%llx", nr, r,
                  (unsigned long long) arg.exitinfo2);
        return r;
}

static void append_note(struct snp_error *err, const char *note) {
        size_t len;

        if (!err)
                return;
        len = strnlen(err->message, sizeof(err->message));
        (void) snprintf(err->message + len, sizeof(err->message) - len, "%s", note);
}

static int sev_guest_derive_key(struct snp_backend *b, const struct snp_msg_key_req *req,
                                uint8_t key_out[SNP_KEY_LEN], struct snp_error *err) {
        _cleanup_secret_ struct snp_msg_key_rsp *rsp = secret_alloc(sizeof(*rsp));
        int r;

        if (!rsp)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory for the key response");

        r = sev_guest_ioctl(b, SNP_IOCTL_GET_DERIVED_KEY, req, rsp, err);
        if (r == -EINVAL)
                append_note(err, kernel_derived_key_note);
        if (r < 0)
                return r;
        return snp_key_rsp_check(rsp, key_out, err);
}

static int sev_guest_get_report(struct snp_backend *b, const struct snp_msg_report_req *req,
                                struct snp_report *report_out, struct snp_error *err) {
        _cleanup_(freep) uint8_t *buf = calloc(1, SNP_REPORT_RESP_BUF_LEN);
        int r;

        if (!buf)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory for the report response");

        r = sev_guest_ioctl(b, SNP_IOCTL_GET_REPORT, req, buf, err);
        if (r < 0)
                return r;
        return snp_report_rsp_check((const struct snp_msg_report_rsp *) buf, report_out, err);
}

/* SNP_GET_EXT_REPORT with a 16 KiB, page-aligned buffer for the host's
 * certificate table (Linux's limit). */
static int sev_guest_get_ext_report(struct snp_backend *b, const struct snp_msg_report_req *req,
                                    struct snp_report *report_out, uint8_t *certs, struct snp_error *err) {
        _cleanup_(freep) uint8_t *buf = calloc(1, SNP_REPORT_RESP_BUF_LEN);
        _cleanup_(freep) uint8_t *blob = aligned_alloc(SNP_CERT_BLOB_PAGE, SNP_CERT_BLOB_MAX);
        struct snp_msg_ext_report_req ereq = { .data = *req, .certs_len = SNP_CERT_BLOB_MAX };
        int r;

        if (!buf || !blob)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory for the extended report");
        memset(blob, 0, SNP_CERT_BLOB_MAX);
        ereq.certs_address = (uint64_t) (uintptr_t) blob;
        r = sev_guest_ioctl(b, SNP_IOCTL_GET_EXT_REPORT, &ereq, buf, err);
        if (r == -EIO && err && err->vmm_error == SNP_VMM_ERR_INVALID_LEN)
                append_note(err, "; the host's certificates need more than the 16 KiB Linux allows");
        if (r < 0)
                return r;
        r = snp_report_rsp_check((const struct snp_msg_report_rsp *) buf, report_out, err);
        if (r < 0)
                return r;
        memcpy(certs, blob, SNP_CERT_BLOB_MAX);
        return 0;
}

static void sev_guest_free(struct snp_backend *b) {
        struct sev_guest *g = b->data;

        if (!g)
                return;
        if (g->fd >= 0)
                (void) close(g->fd);
        free(g);
        b->data = NULL;
}

static const struct snp_backend_ops sev_guest_ops = {
        .name = "sev-guest",
        .derive_key = sev_guest_derive_key,
        .get_report = sev_guest_get_report,
        .get_ext_report = sev_guest_get_ext_report,
        .free = sev_guest_free,
};

static int open_error(const char *path, int errnum, struct snp_error *err) {
        char buf[128];

        switch (errnum) {
        case ENOENT:
        case ENXIO:
        case ENODEV:
                return snp_error_set(err, -ENOENT, 0, 0,
                                     "%s not found: not an SEV-SNP guest, or the sev-guest driver is not loaded "
                                     "(modprobe sev-guest)", path);
        case EACCES:
        case EPERM:
                return snp_error_set(err, -EACCES, 0, 0,
                                     "%s: permission denied: only root (or the snpseal agent) may use the "
                                     "SEV-SNP guest device", path);
        default:
                return snp_error_set(err, -errnum, 0, 0, "cannot open %s: %s", path,
                                     strerror_r(errnum, buf, sizeof(buf)));
        }
}

int snp_backend_sev_guest_open(const char *path, uint32_t own_vmpl,
                               struct snp_backend **ret, struct snp_error *err) {
        _cleanup_(snp_backend_freep) struct snp_backend *b = NULL;
        struct sev_guest *g;
        int fd;

        if (!path)
                path = SNP_DEFAULT_DEVICE;
        if (own_vmpl > SNP_VMPL_MAX)
                return snp_error_set(err, -EINVAL, 0, 0, "VMPL %u is above %u", own_vmpl, SNP_VMPL_MAX);

        b = calloc(1, sizeof(*b));
        if (!b)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory");
        b->ops = &sev_guest_ops;
        b->own_vmpl = own_vmpl;
        g = calloc(1, sizeof(*g));
        if (!g)
                return snp_error_set(err, -ENOMEM, 0, 0, "out of memory");
        g->fd = -1;
        b->data = g;

        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return open_error(path, errno, err);
        g->fd = fd;
        log_debug("sev-guest: opened %s at VMPL %u", path, own_vmpl);
        *ret = TAKE_PTR(b);
        return 0;
}

int snp_detect_own_vmpl_from(const char *path, uint32_t *ret_vmpl) {
        _cleanup_(closep) int fd = -1;
        char buf[16];
        ssize_t n;
        uint32_t v;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_vmpl = 0;  /* no SVSM support in this kernel: VMPL 0 */
                return 0;
        }
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        if (parse_u32(buf, SNP_VMPL_MAX, &v) < 0)
                return -EBADMSG;
        *ret_vmpl = v;
        return 0;
}

int snp_detect_own_vmpl(uint32_t *ret_vmpl) {
        return snp_detect_own_vmpl_from(SNP_SYSFS_VMPL_PATH, ret_vmpl);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * An LD_PRELOAD library that answers open()/ioctl()/close() on the SEV-SNP
 * guest device with the Linux sev-guest driver's semantics, backed by the
 * simulator (sim_guest_request(), the same path the simulator backend uses).
 * It lets tests run the REAL sev-guest backend code without the hardware.
 *
 * Environment:
 *   SNPSEAL_SHIM_DEVICE   the path answered (default /dev/sev-guest)
 *   SNPSEAL_SHIM_STATE    the simulator state file; missing → open() fails
 *                         with ENOENT, like a guest without the device
 *   SNPSEAL_SHIM_EACCES   "1" → open() fails with EACCES
 *   SNPSEAL_SHIM_EINVAL   set → every request fails with EINVAL and exitinfo2
 *                         0xff, as Linux 6.17-rc1's SNP_GET_DERIVED_KEY did
 *   SNPSEAL_SHIM_COUNTER  a file that gets one line ("key", "report" or
 *                         "ext-report") for
 *                         every request that left the kernel layer, so tests
 *                         can tell that a refused request was never sent
 *
 * Every other path and descriptor passes through untouched.
 */

/* We define open() and friends ourselves: no fortify wrappers around them. */
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "secret.h"
#include "sim-firmware.h"
#include "sim-state.h"
#include "snp-abi.h"

#define SHIM_MAX_FDS 64
#define SHIM_REQ_MAX 112  /* the largest request: SNP_GET_EXT_REPORT's */

/* The interposed entry points (prototypes for -Wmissing-prototypes where the
 * libc headers do not declare them). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);

struct shim_real {
        int (*open)(const char *path, int flags, ...);
        int (*open64)(const char *path, int flags, ...);
        int (*openat)(int dirfd, const char *path, int flags, ...);
        int (*openat64)(int dirfd, const char *path, int flags, ...);
        int (*open_2)(const char *path, int flags);
        int (*open64_2)(const char *path, int flags);
        int (*ioctl)(int fd, unsigned long request, ...);
        int (*close)(int fd);
};

static struct shim_real real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static int shim_fds[SHIM_MAX_FDS];
static size_t shim_n_fds;

static void shim_resolve(void) {
        real.open = (int (*)(const char *, int, ...)) dlsym(RTLD_NEXT, "open");
        real.open64 = (int (*)(const char *, int, ...)) dlsym(RTLD_NEXT, "open64");
        real.openat = (int (*)(int, const char *, int, ...)) dlsym(RTLD_NEXT, "openat");
        real.openat64 = (int (*)(int, const char *, int, ...)) dlsym(RTLD_NEXT, "openat64");
        real.open_2 = (int (*)(const char *, int)) dlsym(RTLD_NEXT, "__open_2");
        real.open64_2 = (int (*)(const char *, int)) dlsym(RTLD_NEXT, "__open64_2");
        real.ioctl = (int (*)(int, unsigned long, ...)) dlsym(RTLD_NEXT, "ioctl");
        real.close = (int (*)(int)) dlsym(RTLD_NEXT, "close");
}

static const struct shim_real *shim_real(void) {
        (void) pthread_once(&real_once, shim_resolve);
        return &real;
}

static int shim_fail(int errnum) {
        errno = errnum;
        return -1;
}

/* ---- which descriptors are "the device" ---- */

static const char *shim_device(void) {
        const char *p = getenv("SNPSEAL_SHIM_DEVICE");
        return p && *p ? p : SNP_DEFAULT_DEVICE;
}

static bool shim_is_device(const char *path) {
        return path && strcmp(path, shim_device()) == 0;
}

static bool shim_fd_find(int fd, size_t *ret_index) {
        for (size_t i = 0; i < shim_n_fds; i++)
                if (shim_fds[i] == fd) {
                        *ret_index = i;
                        return true;
                }
        return false;
}

static bool shim_fd_known(int fd) {
        size_t i;
        bool found;

        (void) pthread_mutex_lock(&shim_lock);
        found = shim_fd_find(fd, &i);
        (void) pthread_mutex_unlock(&shim_lock);
        return found;
}

static void shim_fd_forget(int fd) {
        size_t i;

        (void) pthread_mutex_lock(&shim_lock);
        if (shim_fd_find(fd, &i))
                shim_fds[i] = shim_fds[--shim_n_fds];
        (void) pthread_mutex_unlock(&shim_lock);
}

/* open() of the device: a real descriptor on /dev/null that we remember. */
static int shim_open_device(int flags) {
        const char *state = getenv("SNPSEAL_SHIM_STATE");
        const char *eacces = getenv("SNPSEAL_SHIM_EACCES");
        int fd;

        if (!state || access(state, F_OK) < 0)
                return shim_fail(ENOENT);
        if (eacces && strcmp(eacces, "1") == 0)
                return shim_fail(EACCES);

        fd = shim_real()->open("/dev/null", flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_TMPFILE));
        if (fd < 0)
                return -1;
        (void) pthread_mutex_lock(&shim_lock);
        if (shim_n_fds >= SHIM_MAX_FDS) {
                (void) pthread_mutex_unlock(&shim_lock);
                (void) shim_real()->close(fd);
                return shim_fail(EMFILE);
        }
        shim_fds[shim_n_fds++] = fd;
        (void) pthread_mutex_unlock(&shim_lock);
        return fd;
}

static mode_t shim_mode(int flags, va_list ap) {
        if (flags & (O_CREAT | O_TMPFILE))
                return (mode_t) va_arg(ap, int);
        return 0;
}

int open(const char *path, int flags, ...) {
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = shim_mode(flags, ap);
        va_end(ap);
        if (shim_is_device(path))
                return shim_open_device(flags);
        return shim_real()->open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = shim_mode(flags, ap);
        va_end(ap);
        if (shim_is_device(path))
                return shim_open_device(flags);
        return shim_real()->open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = shim_mode(flags, ap);
        va_end(ap);
        if (shim_is_device(path))
                return shim_open_device(flags);
        return shim_real()->openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = shim_mode(flags, ap);
        va_end(ap);
        if (shim_is_device(path))
                return shim_open_device(flags);
        return shim_real()->openat64(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags) {
        if (shim_is_device(path))
                return shim_open_device(flags);
        return shim_real()->open_2(path, flags);
}

int __open64_2(const char *path, int flags) {
        if (shim_is_device(path))
                return shim_open_device(flags);
        return shim_real()->open64_2(path, flags);
}

int close(int fd) {
        shim_fd_forget(fd);
        return shim_real()->close(fd);
}

/* ---- the driver ---- */

struct shim_cmd {
        unsigned long nr;
        enum sim_msg_type type;
        size_t req_len;
        size_t resp_len;
        const char *name;
};

/* SNP_GET_EXT_REPORT also writes the host's certificate table (the
 * simulated chain) to the user's buffer (sim_guest_ext_report()). */
static const struct shim_cmd shim_cmds[] = {
        { SNP_IOCTL_GET_EXT_REPORT, SIM_MSG_REPORT_REQ, sizeof(struct snp_msg_ext_report_req),
          SNP_REPORT_RESP_BUF_LEN, "ext-report" },
        { SNP_IOCTL_GET_DERIVED_KEY, SIM_MSG_KEY_REQ, sizeof(struct snp_msg_key_req),
          sizeof(struct snp_msg_key_rsp), "key" },
        { SNP_IOCTL_GET_REPORT, SIM_MSG_REPORT_REQ, sizeof(struct snp_msg_report_req),
          SNP_REPORT_RESP_BUF_LEN, "report" },
};

static const struct shim_cmd *shim_cmd_find(unsigned long nr) {
        for (size_t i = 0; i < ELEMENTSOF(shim_cmds); i++)
                if (shim_cmds[i].nr == nr)
                        return &shim_cmds[i];
        return NULL;
}

static void shim_count(const char *name) {
        const char *path = getenv("SNPSEAL_SHIM_COUNTER");
        char line[16];
        int fd, n;

        if (!path || !*path)
                return;
        fd = shim_real()->open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        n = snprintf(line, sizeof(line), "%s\n", name);
        if (n > 0)
                (void) !write(fd, line, (size_t) n);
        (void) shim_real()->close(fd);
}

/* The request through the simulated kernel and firmware; copies the
 * response out only on success, as the driver does. */
static int shim_request(const struct shim_cmd *cmd, struct sim_state *st, struct snp_guest_req_ioctl *arg) {
        _Alignas(8) uint8_t req[SHIM_REQ_MAX];
        _cleanup_secret_ uint8_t *resp = secret_alloc(SNP_REPORT_RESP_BUF_LEN);
        void *user_resp = (void *) (uintptr_t) arg->resp_data;
        const void *user_req = (const void *) (uintptr_t) arg->req_data;
        bool was_disabled = st->vmpck_disabled;
        uint64_t exitinfo2 = arg->exitinfo2;
        int r;

        if (!resp)
                return -ENOMEM;
        if (user_req)
                memcpy(req, user_req, cmd->req_len);
        if (cmd->nr == SNP_IOCTL_GET_EXT_REPORT && user_req) {
                struct snp_msg_ext_report_req *ext = (struct snp_msg_ext_report_req *) req;
                uint32_t certs_len = ext->certs_len;

                r = sim_guest_ext_report(st, arg->msg_version, &ext->data,
                                         user_resp ? (struct snp_msg_report_rsp *) resp : NULL,
                                         (uint8_t *) (uintptr_t) ext->certs_address, &certs_len, &exitinfo2);
                /* The kernel tells the caller the length it needs. */
                if (r == -EIO && certs_len != ext->certs_len)
                        memcpy((uint8_t *) user_req + offsetof(struct snp_msg_ext_report_req, certs_len), &certs_len,
                               sizeof(certs_len));
        } else
                r = sim_guest_request(st, cmd->type, arg->msg_version, user_req ? req : NULL,
                                      user_resp ? resp : NULL, &exitinfo2);
        arg->exitinfo2 = exitinfo2;
        if (exitinfo2 != SNP_EXITINFO2_NO_FW_CALL)
                shim_count(cmd->name);
        if (st->vmpck_disabled != was_disabled)
                (void) sim_state_save(getenv("SNPSEAL_SHIM_STATE"), st);
        if (r == 0)
                memcpy(user_resp, resp, cmd->resp_len);
        secret_wipe(req, sizeof(req));
        return r;
}

static int shim_guest_ioctl(unsigned long nr, void *argp) {
        const struct shim_cmd *cmd;
        struct snp_guest_req_ioctl arg;
        struct sim_state st;
        const char *state_path = getenv("SNPSEAL_SHIM_STATE");
        char errbuf[256];
        int r;

        if (!argp)
                return -EFAULT;
        memcpy(&arg, argp, sizeof(arg));
        if (arg.msg_version == 0)
                return -EINVAL;
        /* Tests: play a kernel that refuses every request as invalid
         * (Linux 6.17-rc1's SNP_GET_DERIVED_KEY), with the 0xff preset. */
        if (getenv("SNPSEAL_SHIM_EINVAL")) {
                arg.exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
                memcpy(argp, &arg, sizeof(arg));
                return -EINVAL;
        }
        cmd = shim_cmd_find(nr);
        if (!cmd)
                return -ENOTTY;

        arg.exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
        if (!state_path || sim_state_load(state_path, &st, errbuf, sizeof(errbuf)) < 0)
                return -ENXIO;  /* the device went away */
        st.path = state_path;   /* the request counter (docs/SIMULATOR.md) */
        if (st.vmpck_disabled)
                r = -ENOTTY;
        else
                r = shim_request(cmd, &st, &arg);
        sim_state_wipe(&st);

        /* Linux copies the argument back only when exitinfo2 is non-zero. */
        if (arg.exitinfo2 != 0)
                memcpy(argp, &arg, sizeof(arg));
        return r;
}

int ioctl(int fd, unsigned long request, ...) {
        va_list ap;
        void *argp;
        int r;

        va_start(ap, request);
        argp = va_arg(ap, void *);
        va_end(ap);

        if (!shim_fd_known(fd))
                return shim_real()->ioctl(fd, request, argp);
        r = shim_guest_ioctl(request, argp);
        if (r < 0)
                return shim_fail(-r);
        return 0;
}

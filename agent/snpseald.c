/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseald: the guest key agent. main() hardens the process, reads the
 * settings, opens the firmware backend and runs the server (agent-server.c).
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-server.h"
#include "agent.h"
#include "backend.h"
#include "log.h"
#include "secret.h"

#define SEV_GUEST_DEVICE "/dev/sev-guest"
#define AGENT_SECRET_POOL_PAGES 64u

/* Before anything holds a secret: no core dumps, no ptrace by the same uid. */
static int harden(void) {
        const struct rlimit no_core = { 0, 0 };

        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return -errno;
        if (setrlimit(RLIMIT_CORE, &no_core) < 0)
                return -errno;
        umask(0077);
        /* A peer that goes away while we write must not kill the agent. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return -errno;
        return 0;
}

/* Memory for a small, long-running server whose calls run on a few reused
 * threads: glibc would give each thread a malloc arena of its own (up to 8
 * per core), whose pages stay resident; one is plenty (repeated DeriveKey
 * calls run on the event loop, the threads serve the rare slow calls). The calls' secret
 * buffers (a few one-page mappings each) are reused instead of mapped,
 * locked, unlocked and unmapped every time. */
static void tune_memory(void) {
        (void) mallopt(M_ARENA_MAX, 1);
        secret_pool_enable(AGENT_SECRET_POOL_PAGES);
}

static int own_vmpl(const struct agent_config *cfg, uint32_t *ret) {
        int r;

        if (cfg->vmpl >= 0) {
                *ret = (uint32_t) cfg->vmpl;
                return 0;
        }
        r = snp_detect_own_vmpl(ret);
        if (r < 0)
                log_error("cannot read the guest's VMPL from %s: %s; set it with --vmpl=N or vmpl = N",
                          SNP_SYSFS_VMPL_PATH, strerror(-r));
        return r;
}

static int open_device(const struct agent_config *cfg, struct snp_backend **ret) {
        const char *dev = cfg->device ? cfg->device : SEV_GUEST_DEVICE;
        struct snp_error err = { 0 };
        uint32_t vmpl;
        int r;

        r = own_vmpl(cfg, &vmpl);
        if (r < 0)
                return r;
        r = snp_backend_sev_guest_open(dev, vmpl, ret, &err);
        /* auto never falls back to anything: without the device we stop. */
        if (r == -ENOENT)
                log_error("no SEV-SNP guest device at %s: this is not an SEV-SNP guest, or the sev-guest "
                          "driver is not loaded (modprobe sev-guest)%s", dev,
                          cfg->backend == AGENT_BACKEND_AUTO ?
                          "; backend auto never falls back to the simulator" : "");
        else if (r < 0)
                log_error("cannot open %s: %s", dev, err.message[0] ? err.message : strerror(-r));
        return r;
}

static int open_simulator(const struct agent_config *cfg, struct snp_backend **ret) {
        struct snp_error err = { 0 };
        struct snp_backend *b = NULL;
        int r;

        if (!cfg->simulator_state) {
                log_error("--backend=simulator needs --simulator-state=FILE (or simulator_state = FILE)");
                return -EINVAL;
        }
        log_warning("running on the SIMULATOR backend: keys are not protected by hardware — "
                    "for tests and demos only");
        r = snp_backend_simulator_open(cfg->simulator_state, &b, &err);
        if (r < 0) {
                log_error("cannot open the simulator: %s", err.message[0] ? err.message : strerror(-r));
                return r;
        }
        if (cfg->vmpl >= 0)
                b->own_vmpl = (uint32_t) cfg->vmpl;
        *ret = b;
        return 0;
}

static int open_backend(struct agent *a) {
        int r;

        if (a->cfg.backend == AGENT_BACKEND_SIMULATOR)
                r = open_simulator(&a->cfg, &a->backend);
        else
                r = open_device(&a->cfg, &a->backend);
        if (r < 0)
                return r;
        a->backend_name = a->backend->ops->name;
        return 0;
}

/* Keep the wrong-password counts in the user store, the one directory the
 * sandboxed agent may write (and only root may enter below); not persisted
 * when the store does not exist (an initrd, --stdio). */
static void ratelimit_persist(struct agent *a) {
        const char *store = a->cfg.user_store ?: AGENT_DEFAULT_USER_STORE;
        _cleanup_(freep) char *path = NULL;
        struct stat st;
        int r;

        if (stat(store, &st) < 0 || !S_ISDIR(st.st_mode)) {
                log_debug("user store %s missing: wrong-password counts are not persisted", store);
                return;
        }
        if (asprintf(&path, "%s/" AGENT_RATELIMIT_STATE_FILE, store) < 0) {
                path = NULL;
                log_warning("out of memory: wrong-password counts are not persisted");
                return;
        }
        r = agent_ratelimit_load(a->ratelimit, path);
        if (r < 0)
                log_warning("rate-limit state %s: %s; continuing with what could be read", path,
                            r == -EBADMSG ? "malformed lines skipped" : strerror(-r));
}

static int load_config(struct agent_config *cfg, int argc, char **argv) {
        char err[512] = "";
        int r;

        r = agent_config_parse_argv(cfg, argc, argv, err, sizeof(err));
        if (r == 0)
                r = agent_config_load_file(cfg, err, sizeof(err));
        if (r < 0)
                log_error("%s", err);
        return r;
}

int main(int argc, char **argv) {
        struct agent a = { 0 };
        int r;

        r = harden();
        if (r < 0) {
                fprintf(stderr, "snpseald: cannot harden the process: %s\n", strerror(-r));
                return 1;
        }
        tune_memory();
        agent_log_setup();
        agent_config_init(&a.cfg);
        r = load_config(&a.cfg, argc, argv);
        if (r > 0) {   /* --help, --version */
                agent_config_done(&a.cfg);
                return 0;
        }
        if (r < 0)
                goto out;
        r = open_backend(&a);
        if (r < 0)
                goto out;
        if (a.cfg.key_cache_sec > 0 && (r = snp_backend_set_key_cache(a.backend, a.cfg.key_cache_sec)) < 0) {
                log_error("cannot set up the firmware key cache: %s", strerror(-r));
                goto out;
        }
        r = agent_ratelimit_new(a.cfg.ratelimit_attempts, a.cfg.ratelimit_window_sec, &a.ratelimit);
        if (r < 0) {
                log_error("cannot set up rate limiting: %s", strerror(-r));
                goto out;
        }
        ratelimit_persist(&a);
        log_info("snpseald %s starting: backend %s, VMPL %u", PACKAGE_VERSION, a.backend_name,
                 a.backend->own_vmpl);
        r = agent_server_run(&a);
out:
        agent_ratelimit_free(a.ratelimit);
        snp_backend_free(a.backend);
        agent_config_done(&a.cfg);
        return r < 0 ? 1 : r;
}

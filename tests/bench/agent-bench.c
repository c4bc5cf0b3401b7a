/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Load generator for snpseald (issue 15): the real agent on the simulator,
 * driven over its real socket in the varlink wire format (a NUL-terminated
 * JSON call per message, one call at a time per connection).
 *
 * Prints, never judges (a benchmark, not a test):
 *   - DeriveKey (luks2) calls/s and p50/p99 latency at 1, 4, 16 and 64
 *     connections, key cache warm (the default cache, one binding) and cold
 *     (--key-cache=0: a firmware key request per call), simulator latency_ms
 *     0 and 8; GetStatus p50/p99 on its own connection under that load;
 *   - the agent's CPU time per call (user + system, from /proc: what the
 *     figures would be on an idle machine is about cores / this);
 *   - the agent's RSS before and after the load (with SNPSEAL_BENCH_SMAPS
 *     set, also its mappings of 64 KiB or more resident);
 *   - firmware requests counted by the simulator (count_requests) for one
 *     unlock and for a boot of 1, 4 and 16 volumes sharing a binding,
 *     unlocked at once, on a fresh agent, with the cache and without.
 *
 *   tests/bench/agent-bench [SECONDS [warm]]   (default 2 per point; make bench runs it)
 *
 * "warm" runs only the warm-cache points at simulator latency 0 (the ones
 * the targets are read against), e.g. under perf.
 *
 * Environment: SNPSEALD (the agent).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-harness.h"
#include "macro.h"

#define MAX_CONNS 64
#define STATUS_EVERY_MS 20
#define MAX_SAMPLES (1u << 20)

static const unsigned conn_levels[] = { 1, 4, 16, 64 };
static const unsigned boot_volumes[] = { 1, 4, 16 };

static long long now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- a minimal varlink client: the call's bytes are built once ---- */

struct client {
        int fd;
        char buf[8192];
        size_t len;       /* bytes in buf */
};

static int client_open(const char *path, struct client *c) {
        struct th_conn tc;
        int r = th_conn_open(path, &tc);

        if (r < 0)
                return r;
        c->fd = tc.fd;
        free(tc.buf);
        c->len = 0;
        return 0;
}

/* Send msg (with its NUL), read one reply; 0 for a success reply, -EPROTO
 * for an error reply, -errno. */
static int client_call(struct client *c, const char *msg, size_t size) {
        size_t off = 0;

        while (off < size) {
                ssize_t n = send(c->fd, msg + off, size - off, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -errno;
                off += (size_t) n;
        }
        for (;;) {
                char *nul = memchr(c->buf, '\0', c->len);

                if (nul) {
                        size_t used = (size_t) (nul - c->buf) + 1;
                        bool error = strstr(c->buf, "\"error\"") != NULL;

                        memmove(c->buf, c->buf + used, c->len - used);
                        c->len -= used;
                        return error ? -EPROTO : 0;
                }
                if (c->len == sizeof(c->buf))
                        return -E2BIG;
                ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n == 0 ? -ECONNRESET : -errno;
                c->len += (size_t) n;
        }
}

/* ---- samples ---- */

struct series {
        long long *ns;
        atomic_uint n;
        atomic_uint failed;
};

static int series_init(struct series *s) {
        s->ns = malloc(MAX_SAMPLES * sizeof(*s->ns));
        atomic_store(&s->n, 0);
        atomic_store(&s->failed, 0);
        return s->ns ? 0 : -ENOMEM;
}

static void series_add(struct series *s, long long ns) {
        unsigned i = atomic_fetch_add(&s->n, 1);

        if (i < MAX_SAMPLES)
                s->ns[i] = ns;
}

static int cmp_ll(const void *a, const void *b) {
        long long x = *(const long long *) a, y = *(const long long *) b;

        return (x > y) - (x < y);
}

static double pct_ms(struct series *s, double p) {
        unsigned n = atomic_load(&s->n);

        if (n > MAX_SAMPLES)
                n = MAX_SAMPLES;
        if (n == 0)
                return 0;
        qsort(s->ns, n, sizeof(*s->ns), cmp_ll);
        return (double) s->ns[(unsigned) ((n - 1) * p)] / 1e6;
}

/* ---- the load ---- */

struct run {
        const char *sock;
        const char *call;        /* DeriveKey message, NUL included in size */
        size_t call_size;
        atomic_bool stop;
        struct series derive, status;
};

static void *derive_thread(void *p) {
        struct run *run = p;
        struct client c;

        if (client_open(run->sock, &c) < 0) {
                atomic_fetch_add(&run->derive.failed, 1);
                return NULL;
        }
        while (!atomic_load(&run->stop)) {
                long long t0 = now_ns();

                if (client_call(&c, run->call, run->call_size) < 0) {
                        atomic_fetch_add(&run->derive.failed, 1);
                        break;
                }
                series_add(&run->derive, now_ns() - t0);
        }
        (void) close(c.fd);
        return NULL;
}

static const char status_call[] = "{\"method\":\"io.snpseal.Agent.GetStatus\",\"parameters\":{}}";

static void *status_thread(void *p) {
        struct run *run = p;
        struct client c;

        if (client_open(run->sock, &c) < 0) {
                atomic_fetch_add(&run->status.failed, 1);
                return NULL;
        }
        while (!atomic_load(&run->stop)) {
                long long t0 = now_ns();

                if (client_call(&c, status_call, sizeof(status_call)) < 0) {
                        atomic_fetch_add(&run->status.failed, 1);
                        break;
                }
                series_add(&run->status, now_ns() - t0);
                sleep_ms(STATUS_EVERY_MS);
        }
        (void) close(c.fd);
        return NULL;
}

static char *derive_call(struct th_agent *t, unsigned salt_byte) {
        char tcb[SIM_STATE_VALUE_MAX], *msg = NULL;
        uint8_t salt[32];
        char *b64;

        memset(salt, (int) salt_byte, sizeof(salt));
        b64 = th_b64(salt, sizeof(salt));
        if (!b64 || sim_state_get(&t->sim, "committed_tcb", false, tcb, sizeof(tcb)) < 0 ||
            asprintf(&msg, "{\"method\":\"io.snpseal.Agent.DeriveKey\",\"parameters\":{\"binding\":{"
                     "\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"policy\",\"tcb_version\"],\"vmpl\":%u,"
                     "\"guest_svn\":0,\"tcb_version\":\"%s\"},\"salt\":\"%s\",\"purpose\":\"luks2\"}}",
                     (unsigned) t->sim.vmpl, tcb, b64) < 0)
                msg = NULL;
        free(b64);
        return msg;
}

/* The agent's CPU time (user + system) in microseconds, from /proc/PID/stat. */
static double cpu_us(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long ut = 0, st = 0;
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');   /* after the command name: state is field 3 */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return 0;
        return (double) (ut + st) * 1e6 / (double) sysconf(_SC_CLK_TCK);
}

/* One point: conns connections calling DeriveKey for seconds, GetStatus
 * beside them. Returns the number of failed calls. */
static unsigned run_point(struct th_agent *t, const char *call, unsigned conns, double seconds,
                          const char *label) {
        pthread_t th[MAX_CONNS + 1];
        struct run run = { .sock = t->sock, .call = call, .call_size = strlen(call) + 1 };
        long long t0, t1;
        unsigned failed, n;
        double cpu0 = cpu_us(t->pid);

        if (series_init(&run.derive) < 0 || series_init(&run.status) < 0) {
                free(run.derive.ns);
                return 1;
        }
        t0 = now_ns();
        for (unsigned i = 0; i < conns; i++)
                (void) pthread_create(&th[i], NULL, derive_thread, &run);
        (void) pthread_create(&th[conns], NULL, status_thread, &run);
        sleep_ms((int) (seconds * 1000));
        atomic_store(&run.stop, true);
        for (unsigned i = 0; i <= conns; i++)
                (void) pthread_join(th[i], NULL);
        t1 = now_ns();
        n = atomic_load(&run.derive.n);
        failed = atomic_load(&run.derive.failed) + atomic_load(&run.status.failed);
        printf("  %-22s %3u conn  %7.0f calls/s  p50 %8.3f ms  p99 %8.3f ms  agent CPU %5.0f us/call   "
               "GetStatus p50 %6.3f p99 %7.3f ms (%u)%s\n",
               label, conns, n / ((double) (t1 - t0) / 1e9), pct_ms(&run.derive, 0.50), pct_ms(&run.derive, 0.99),
               n + atomic_load(&run.status.n) ? (cpu_us(t->pid) - cpu0) / (n + atomic_load(&run.status.n)) : 0.0,
               pct_ms(&run.status, 0.50), pct_ms(&run.status, 0.99), atomic_load(&run.status.n),
               failed ? "  FAILED CALLS" : "");
        fflush(stdout);
        free(run.derive.ns);
        free(run.status.ns);
        return failed;
}

static int agent_up(struct th_agent *t, const char *latency_ms, const char *key_cache) {
        char opt[64];
        const char *extra[] = { "--max-connections=256", opt, NULL };
        int r;

        snprintf(opt, sizeof(opt), "--key-cache=%s", key_cache);
        r = th_agent_setup(t);
        if (r >= 0)
                r = th_agent_set_state(t, "latency_ms", latency_ms);
        if (r >= 0)
                r = th_agent_set_state(t, "count_requests", "true");
        if (r >= 0)
                r = th_agent_start(t, extra);
        if (r < 0) {
                fprintf(stderr, "cannot start the agent: %s\n", strerror(-r));
                th_agent_dump_log(t);
                th_agent_cleanup(t);
        }
        return r;
}

static void agent_down(struct th_agent *t) {
        int status;

        (void) th_agent_stop(t, &status);
        th_agent_cleanup(t);
}

/* Records of kind in <state>.requests. */
static unsigned count_sent(const struct th_agent *t, const char *kind) {
        char path[PATH_MAX + 16], line[64];
        unsigned n = 0;
        FILE *f;

        snprintf(path, sizeof(path), "%s" SIM_COUNT_SUFFIX, t->state);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                n += strncmp(line, kind, strlen(kind)) == 0;
        fclose(f);
        return n;
}

/* "VmRSS … (anon …, file …, threads …)" from /proc/PID/status. */
static void rss_text(pid_t pid, char *buf, size_t size) {
        char path[64], line[256];
        long rss = -1, anon = -1, file = -1, shmem = -1, threads = -1, pss = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                (void) (sscanf(line, "VmRSS: %ld", &rss) == 1 || sscanf(line, "RssAnon: %ld", &anon) == 1 ||
                        sscanf(line, "RssFile: %ld", &file) == 1 || sscanf(line, "RssShmem: %ld", &shmem) == 1 ||
                        sscanf(line, "Threads: %ld", &threads) == 1);
        }
        if (f)
                fclose(f);
        /* PSS: shared library pages divided among the processes mapping them */
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                (void) sscanf(line, "Pss: %ld", &pss);
        if (f)
                fclose(f);
        snprintf(buf, size, "%ld KiB (anon %ld, file %ld; PSS %ld; %ld threads)", rss, anon, file, pss, threads);
}

/* With SNPSEAL_BENCH_SMAPS set: the agent's mappings holding 64 KiB (or
 * SNPSEAL_BENCH_SMAPS KiB, when above 1) or more resident (where RSS goes). */
static void smaps_print(pid_t pid) {
        char path[64], line[512], name[256] = "";
        const char *env = getenv("SNPSEAL_BENCH_SMAPS");
        long min_kb = env && atol(env) > 1 ? atol(env) : 64;
        FILE *f;

        if (!env)
                return;
        snprintf(path, sizeof(path), "/proc/%d/smaps", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                long kb;
                char perm[8];

                if (sscanf(line, "%*x-%*x %7s %*s %*s %*s %255[^\n]", perm, name) >= 1 && strchr(line, '-') < strchr(line, ' ')) {
                        if (sscanf(line, "%*x-%*x %7s %*s %*s %*s %255[^\n]", perm, name) < 2)
                                snprintf(name, sizeof(name), "[anon %s]", perm);
                        else
                                snprintf(name + strlen(name), sizeof(name) - strlen(name), " %s", perm);
                        continue;
                }
                if (sscanf(line, "Rss: %ld", &kb) == 1 && kb >= min_kb)
                        printf("    %6ld KiB  %s\n", kb, name);
        }
        if (f)
                fclose(f);
}

static unsigned load(const char *latency, double seconds, bool warm_only) {
        static const struct { const char *label, *cache; } caches[] = {
                { "cache warm", "120" },
                { "cache cold (off)", "0" },
        };
        unsigned failed = 0;

        for (size_t k = 0; k < (warm_only ? 1 : ELEMENTSOF(caches)); k++) {
                struct th_agent t = {};
                char label[64], *call;
                char rss0[128], rss1[128];

                if (agent_up(&t, latency, caches[k].cache) < 0)
                        return 1;
                rss_text(t.pid, rss0, sizeof(rss0));
                smaps_print(t.pid);
                call = derive_call(&t, 1);
                if (!call) {
                        agent_down(&t);
                        return 1;
                }
                snprintf(label, sizeof(label), "%s, %s ms", caches[k].label, latency);
                /* warm: the launch's report and the key, once */
                failed += run_point(&t, call, 1, 0.2, "(warm-up)");
                for (size_t i = 0; i < ELEMENTSOF(conn_levels); i++)
                        failed += run_point(&t, call, conn_levels[i], seconds, label);
                sleep_ms(500);   /* idle threads settle */
                rss_text(t.pid, rss1, sizeof(rss1));
                smaps_print(t.pid);
                printf("  agent RSS idle after start %s\n  agent RSS after this load   %s\n"
                       "  firmware requests: %u key, %u report\n", rss0, rss1, count_sent(&t, "key"),
                       count_sent(&t, "report"));
                free(call);
                agent_down(&t);
        }
        return failed;
}

/* A boot: n volumes sharing a binding unlocked at once on a fresh agent. */
static unsigned boot(unsigned n, const char *key_cache, const char *latency) {
        struct th_agent t = {};
        struct client c[16];
        char *calls[16] = {};
        unsigned failed = 0;

        if (agent_up(&t, latency, key_cache) < 0)
                return 1;
        for (unsigned i = 0; i < n; i++) {
                calls[i] = derive_call(&t, i);
                if (!calls[i] || client_open(t.sock, &c[i]) < 0)
                        failed++;
        }
        for (unsigned i = 0; !failed && i < n; i++)
                if (send(c[i].fd, calls[i], strlen(calls[i]) + 1, MSG_NOSIGNAL) < 0)
                        failed++;
        for (unsigned i = 0; !failed && i < n; i++)
                if (client_call(&c[i], "", 0) < 0)   /* nothing more to send: read the reply */
                        failed++;
        printf("  boot, %2u volume%s, key_cache %-3s: %2u key + %u report firmware requests%s\n", n,
               n == 1 ? " " : "s", key_cache, count_sent(&t, "key"), count_sent(&t, "report"),
               failed ? "  FAILED" : "");
        if (!failed && n == 1) {
                /* a second unlock on the running agent */
                if (client_call(&c[0], calls[0], strlen(calls[0]) + 1) < 0)
                        failed++;
                printf("  then one more unlock of it:     %2u key + %u report in all\n", count_sent(&t, "key"),
                       count_sent(&t, "report"));
        }
        for (unsigned i = 0; i < n; i++) {
                free(calls[i]);
                if (calls[i])
                        (void) close(c[i].fd);
        }
        agent_down(&t);
        return failed;
}

/* One unlock through snpseald --stdio (the token plugin's fallback when no
 * agent listens): a fresh agent process for one DeriveKey. */
static unsigned stdio_unlock(void) {
        struct th_agent t = {};
        char opt_state[PATH_MAX + 32], opt_conf[PATH_MAX + 32], *call = NULL;
        int sv[2] = { -1, -1 }, status = 0;
        unsigned failed = 1;
        struct client c = { .fd = -1 };
        pid_t pid;

        if (th_agent_setup(&t) < 0 || th_agent_set_state(&t, "count_requests", "true") < 0 ||
            !(call = derive_call(&t, 0)) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                goto out;
        snprintf(opt_state, sizeof(opt_state), "--simulator-state=%s", t.state);
        snprintf(opt_conf, sizeof(opt_conf), "--config=%s", t.conf);
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                (void) dup2(sv[1], 0);
                (void) dup2(sv[1], 1);
                if (null >= 0)
                        (void) dup2(null, 2);
                execl(getenv("SNPSEALD"), "snpseald", "--stdio", "--backend=simulator", opt_state, opt_conf,
                      (char *) NULL);
                _exit(127);
        }
        (void) close(sv[1]);
        c.fd = sv[0];
        if (pid > 0 && client_call(&c, call, strlen(call) + 1) >= 0)
                failed = 0;
        (void) shutdown(sv[0], SHUT_RDWR);
        if (pid > 0)
                (void) waitpid(pid, &status, 0);
        printf("  one unlock through snpseald --stdio: %u key + %u report firmware requests%s\n",
               count_sent(&t, "key"), count_sent(&t, "report"), failed ? "  FAILED" : "");
out:
        if (sv[0] >= 0)
                (void) close(sv[0]);
        free(call);
        th_agent_cleanup(&t);
        return failed;
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 2.0;
        bool warm_only = argc > 2 && strcmp(argv[2], "warm") == 0;
        unsigned failed = 0;
        struct utsname u;
        double la[3] = {};
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        if (seconds <= 0)
                seconds = 2.0;
        if (!getenv("SNPSEALD")) {
                fprintf(stderr, "SNPSEALD is not set\n");
                return 77;
        }
        (void) uname(&u);
        (void) getloadavg(la, 3);
        printf("snpseald load generator: %s %s, %ld CPUs online, load average %.2f %.2f %.2f; %.1f s per point\n",
               u.sysname, u.release, ncpu, la[0], la[1], la[2], seconds);
        printf("DeriveKey (luks2, one binding) and GetStatus (every %d ms, own connection):\n", STATUS_EVERY_MS);
        failed += load("0", seconds, warm_only);
        if (!warm_only) {
                failed += load("8", seconds, false);
                printf("firmware requests (simulator count_requests), latency_ms 0:\n");
                for (size_t i = 0; i < ELEMENTSOF(boot_volumes); i++) {
                        failed += boot(boot_volumes[i], "120", "0");
                        failed += boot(boot_volumes[i], "0", "0");
                }
                failed += stdio_unlock();
        }
        (void) getloadavg(la, 3);
        printf("load average after: %.2f %.2f %.2f\n", la[0], la[1], la[2]);
        printf("targets: DeriveKey >= 20000 calls/s with p99 < 1 ms (latency 0, cache warm, 2 cores); "
               "one key request per binding per boot; agent RSS <= 4096 KiB\n");
        return failed ? 1 : 0;
}

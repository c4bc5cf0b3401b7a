/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Load generator for snpseald (issue 15): the real agent on the simulator,
 * driven over its real socket in the varlink wire format (a NUL-terminated
 * JSON call per message, one call at a time per connection).
 *
 * Prints, never judges (a benchmark, not a test):
 *   - DeriveKey (luks2) calls/s and p50/p99 latency at 1, 4, 16 and 64
 *     connections, driven from one thread, closed loop (the throughput) and,
 *     at latency 0 with the cache warm, open loop at the target's 20,000
 *     calls/s (latency from when each call was due; docs/ARCHITECTURE.md,
 *     "Benchmarks"), key cache warm (the default cache, one binding) and cold
 *     (--key-cache=0: a firmware key request per call), simulator latency_ms
 *     0 and 8; GetStatus p50/p99 on its own connection under that load;
 *     and the open-loop points at 4 and 16 connections once more with the
 *     agent's threads and the generator's pinned to one CPU (the wake-ups
 *     of a call then stay on that CPU: what the agent costs without the
 *     wake-up of another vCPU, which on a virtual machine is a trip through
 *     the host; no GetStatus beside these);
 *   - the agent's CPU time per call (user + system, from /proc: what the
 *     figures would be on an idle machine is about cores / this);
 *   - the RSS of tests/bench/link-floor, linked as snpseald is and calling
 *     nothing (what the libraries alone cost a process);
 *   - the agent's RSS before the load (idle, with the launch's report read,
 *     which a listening agent does before it reports ready) and
 *     after it (with SNPSEAL_BENCH_SMAPS set, also its mappings of 64 KiB
 *     or more resident);
 *   - firmware requests counted by the simulator (count_requests) for one
 *     unlock and for a boot of 1, 4 and 16 volumes sharing a binding,
 *     unlocked at once, on a fresh agent, with the cache and without.
 *
 *   tests/bench/agent-bench [SECONDS [warm]]   (default 2 per point; make bench runs it)
 *
 * "warm" runs only the warm-cache points at simulator latency 0 (the ones
 * the targets are read against), e.g. under perf.
 *
 * Environment: SNPSEALD (the agent); SNPSEAL_BENCH_CONNS="4 16" (only those
 * connection counts); SNPSEAL_BENCH_NO_STATUS=1 (no GetStatus beside the
 * load: on the simulator each one signs a report, 2-3 ms of CPU on the
 * cores the load shares, which real firmware does not cost);
 * SNPSEAL_BENCH_FLOOR (the link-floor program, default next to this one).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
#define TARGET_RATE 20000.0   /* DeriveKey calls/s the issue asks for */

static const unsigned conn_levels[] = { 1, 4, 16, 64 };
static const unsigned boot_volumes[] = { 1, 4, 16 };

static double cpu_us(pid_t pid);

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

/* The share of the samples above limit_ns, in percent. */
static double pct_over(struct series *s, long long limit_ns) {
        unsigned n = atomic_load(&s->n), over = 0;

        if (n > MAX_SAMPLES)
                n = MAX_SAMPLES;
        for (unsigned i = 0; i < n; i++)
                over += s->ns[i] > limit_ns;
        return n ? 100.0 * over / n : 0;
}

/* ---- the load ---- */

struct run {
        const char *sock;
        const char *call;        /* DeriveKey message, NUL included in size */
        size_t call_size;
        pid_t pid;               /* the agent */
        atomic_bool started;     /* the connections are up and have made their first call */
        atomic_bool stop;
        long long t0;            /* when the measured calls began (set before started) */
        double cpu0;             /* the agent's CPU time then */
        struct series derive, status;
};

/* ---- the DeriveKey load: every connection driven from one thread ---- */

struct load_conn {
        struct client c;
        long long due;       /* when its next call is due */
        long long sent;      /* when the outstanding call was sent */
        bool busy;           /* a call outstanding */
};

static int conn_send(struct run *run, struct load_conn *lc, long long now) {
        size_t off = 0;

        /* the call (under 1 KiB) fits in an idle connection's socket buffer */
        while (off < run->call_size) {
                ssize_t n = send(lc->c.fd, run->call + off, run->call_size - off, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -errno;
                off += (size_t) n;
        }
        lc->sent = now;
        lc->busy = true;
        return 0;
}

/* Read what is there: 1 when a whole success reply is in, 0 when more is
 * to come, < 0 on failure (an error reply, a closed connection). */
static int conn_receive(struct load_conn *lc) {
        struct client *c = &lc->c;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, MSG_DONTWAIT);
        char *nul;

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -ECONNRESET;
        c->len += (size_t) n;
        nul = memchr(c->buf, '\0', c->len);
        if (!nul)
                return c->len == sizeof(c->buf) - 1 ? -E2BIG : 0;
        if (nul != c->buf + c->len - 1)
                return -EPROTO;   /* one call at a time: nothing may follow its reply */
        c->len = 0;
        lc->busy = false;
        return strstr(c->buf, "\"error\"") ? -EPROTO : 1;
}

/*
 * conns connections calling DeriveKey until run->stop, all from this one
 * thread (epoll), so that the generator costs a thread, not one per
 * connection, on the cores it shares with the agent.
 *
 * rate 0: closed loop, each connection sends its next call as soon as the
 * reply is in: the agent's throughput, latency counted from the send.
 * rate > 0: open loop, rate calls/s in all, each connection one every
 * conns/rate s, the connections staggered; a call's latency counts from
 * when it was due, not from when it could be sent, so a slow reply also
 * counts against the calls it held up (no "coordinated omission").
 */
static void drive(struct run *run, unsigned conns, double rate) {
        struct load_conn lc[MAX_CONNS] = {};
        struct epoll_event ev[MAX_CONNS];
        long long period = rate > 0 ? (long long) (1e9 * conns / rate) : 0, t0;
        unsigned open = 0;
        int ep = epoll_create1(EPOLL_CLOEXEC);

        if (ep < 0) {
                atomic_fetch_add(&run->derive.failed, 1);
                return;
        }
        for (unsigned i = 0; i < conns; i++) {
                if (client_open(run->sock, &lc[i].c) < 0)
                        goto fail;
                open++;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, lc[i].c.fd, &(struct epoll_event) { .events = EPOLLIN, .data.u32 = i }) < 0)
                        goto fail;
        }
        /* one call on each first, so that the points measure the calls and
         * not the agent accepting the connections */
        for (unsigned i = 0; i < conns; i++)
                if (client_call(&lc[i].c, run->call, run->call_size) < 0)
                        goto fail;
        t0 = now_ns();
        run->t0 = t0;
        run->cpu0 = cpu_us(run->pid);
        atomic_store(&run->started, true);
        for (unsigned i = 0; i < conns; i++)
                lc[i].due = t0 + period * i / conns;
        while (!atomic_load(&run->stop)) {
                long long now = now_ns(), next = now + 100000000LL;
                struct timespec timeout;
                int n;

                for (unsigned i = 0; i < conns; i++) {
                        if (lc[i].busy)
                                continue;
                        if (lc[i].due <= now) {
                                if (conn_send(run, &lc[i], now) < 0)
                                        goto fail;
                        } else if (lc[i].due < next)
                                next = lc[i].due;
                }
                timeout = (struct timespec) { .tv_sec = (time_t) ((next - now) / 1000000000LL),
                                              .tv_nsec = (long) ((next - now) % 1000000000LL) };
                n = epoll_pwait2(ep, ev, MAX_CONNS, &timeout, NULL);
                if (n < 0 && errno != EINTR)
                        goto fail;
                now = now_ns();
                for (int k = 0; k < n; k++) {
                        struct load_conn *l = &lc[ev[k].data.u32];
                        int r = conn_receive(l);

                        if (r < 0)
                                goto fail;
                        if (r == 0)
                                continue;
                        if (period > 0) {
                                series_add(&run->derive, now - l->due);
                                l->due += period;
                        } else {
                                series_add(&run->derive, now - l->sent);
                                l->due = now;
                        }
                }
        }
        goto out;
fail:
        atomic_fetch_add(&run->derive.failed, 1);
        atomic_store(&run->started, true);
out:
        for (unsigned i = 0; i < open; i++)
                (void) close(lc[i].c.fd);
        (void) close(ep);
}

struct drive_args {
        struct run *run;
        unsigned conns;
        double rate;
};

static void *drive_thread(void *p) {
        struct drive_args *a = p;

        drive(a->run, a->conns, a->rate);
        return NULL;
}

/* No GetStatus beside the points (SNPSEAL_BENCH_NO_STATUS, or the one-CPU
 * points: a simulated report's signature there would hold the CPU the
 * calls need, which real firmware does not). */
static bool status_off;

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

                if (status_off || getenv("SNPSEAL_BENCH_NO_STATUS")) {
                        sleep_ms(STATUS_EVERY_MS);
                        continue;
                }
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

/* One point: conns connections calling DeriveKey for seconds (rate 0:
 * closed loop; else rate calls/s offered, open loop), GetStatus beside
 * them. Returns the number of failed calls. */
static unsigned run_point(struct th_agent *t, const char *call, unsigned conns, double rate, double seconds,
                          const char *label) {
        pthread_t th[2];
        struct run run = { .sock = t->sock, .call = call, .call_size = strlen(call) + 1, .pid = t->pid };
        struct drive_args args = { .run = &run, .conns = conns, .rate = rate };
        char offered[32] = "closed loop";
        long long t1;
        unsigned failed, n;

        if (series_init(&run.derive) < 0 || series_init(&run.status) < 0) {
                free(run.derive.ns);
                return 1;
        }
        if (rate > 0)
                snprintf(offered, sizeof(offered), "%.0f/s offered", rate);
        (void) pthread_create(&th[0], NULL, drive_thread, &args);
        /* the point's time and CPU count from when every connection is up */
        while (!atomic_load(&run.started))
                sleep_ms(1);
        (void) pthread_create(&th[1], NULL, status_thread, &run);
        sleep_ms((int) (seconds * 1000));
        atomic_store(&run.stop, true);
        for (unsigned i = 0; i < ELEMENTSOF(th); i++)
                (void) pthread_join(th[i], NULL);
        t1 = now_ns();
        n = atomic_load(&run.derive.n);
        failed = atomic_load(&run.derive.failed) + atomic_load(&run.status.failed);
        printf("  %-22s %3u conn %-15s %7.0f calls/s  p50 %7.3f ms  p99 %8.3f ms  >1ms %5.2f%%  agent CPU %5.0f us/call   "
               "GetStatus p50 %6.3f p99 %7.3f ms (%u)%s\n",
               label, conns, offered, n / ((double) (t1 - run.t0) / 1e9), pct_ms(&run.derive, 0.50),
               pct_ms(&run.derive, 0.99), pct_over(&run.derive, 1000000),
               n + atomic_load(&run.status.n) ? (cpu_us(t->pid) - run.cpu0) / (n + atomic_load(&run.status.n)) : 0.0,
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

/* The RSS of tests/bench/link-floor (next to this program, or
 * $SNPSEAL_BENCH_FLOOR): a program linked as snpseald is that calls nothing,
 * i.e. what its libraries cost any process before it does anything. */
static void floor_text(char *buf, size_t size) {
        char self[PATH_MAX], path[PATH_MAX + 16], line[8];
        const char *env = getenv("SNPSEAL_BENCH_FLOOR");
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        ssize_t n;
        pid_t pid;

        snprintf(buf, size, "not measured");
        if (env && *env)
                snprintf(path, sizeof(path), "%s", env);
        else {
                n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n <= 0)
                        return;
                self[n] = '\0';
                if (strrchr(self, '/'))
                        *strrchr(self, '/') = '\0';
                snprintf(path, sizeof(path), "%s/link-floor", self);
        }
        if (access(path, X_OK) < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                goto out;
        pid = fork();
        if (pid == 0) {
                if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execl(path, path, (char *) NULL);
                _exit(127);
        }
        if (pid < 0)
                goto out;
        (void) close(out[1]);
        out[1] = -1;
        if (read(out[0], line, sizeof(line)) > 0)
                rss_text(pid, buf, size);
        (void) close(in[1]);   /* it exits */
        in[1] = -1;
        (void) waitpid(pid, NULL, 0);
out:
        for (int i = 0; i < 2; i++) {
                if (in[i] >= 0)
                        (void) close(in[i]);
                if (out[i] >= 0)
                        (void) close(out[i]);
        }
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

/* SNPSEAL_BENCH_CONNS="4 16": only those connection counts (e.g. under perf). */
static bool level_wanted(unsigned conns) {
        const char *e = getenv("SNPSEAL_BENCH_CONNS");

        if (!e || !*e)
                return true;
        while (*e) {
                char *end;
                unsigned long v = strtoul(e, &end, 10);

                if (end == e)
                        return false;
                if (v == conns)
                        return true;
                e = end + strspn(end, " ,");
        }
        return false;
}

/*
 * Every thread of pid and this thread (whose new threads inherit it) on the
 * CPUs of set. For the points that put the agent and the generator on one
 * CPU: a call then wakes the other side on its own CPU, no wake-up of
 * another (virtual) CPU in between; afterwards, the same call with the
 * affinity saved before puts them back. Returns 0 when all were set.
 */
static int pin(pid_t pid, const cpu_set_t *set) {
        char path[64];
        struct dirent *de;
        DIR *d;
        int r = 0;

        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && sched_setaffinity((pid_t) atoi(de->d_name), sizeof(*set), set) < 0)
                        r = -errno;
        closedir(d);
        if (sched_setaffinity(0, sizeof(*set), set) < 0)
                r = -errno;
        return r;
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
                char rss0[128], rss1[128], rssf[128];

                if (agent_up(&t, latency, caches[k].cache) < 0)
                        return 1;
                /* idle: a listening agent has read the launch's report before
                 * it reported ready (the simulator signs it in the agent) */
                sleep_ms(500);
                rss_text(t.pid, rss0, sizeof(rss0));
                smaps_print(t.pid);
                call = derive_call(&t, 1);
                if (!call) {
                        agent_down(&t);
                        return 1;
                }
                snprintf(label, sizeof(label), "%s, %s ms", caches[k].label, latency);
                /* warm: the launch's report and the key, once */
                failed += run_point(&t, call, 1, 0, 0.2, "(warm-up)");
                for (size_t i = 0; i < ELEMENTSOF(conn_levels); i++)
                        if (level_wanted(conn_levels[i]))
                                failed += run_point(&t, call, conn_levels[i], 0, seconds, label);
                /* the target's rate, offered: its latency without queueing behind the generator */
                for (size_t i = 0; k == 0 && strcmp(latency, "0") == 0 && i < ELEMENTSOF(conn_levels); i++)
                        if (level_wanted(conn_levels[i]))
                                failed += run_point(&t, call, conn_levels[i], TARGET_RATE, seconds, label);
                /* the same, the agent and the generator on one CPU (the one this runs on) */
                if (k == 0 && strcmp(latency, "0") == 0) {
                        cpu_set_t saved, one;
                        int cpu = sched_getcpu(), r = cpu < 0 ? -errno : 0;

                        /* the agent's threads have this thread's affinity (they were started from it) */
                        if (r == 0 && sched_getaffinity(0, sizeof(saved), &saved) < 0)
                                r = -errno;
                        if (r == 0) {
                                CPU_ZERO(&one);
                                CPU_SET(cpu, &one);
                                r = pin(t.pid, &one);
                        }
                        if (r < 0)
                                printf("  (one CPU: cannot pin the agent and the generator to CPU %d: %s)\n", cpu,
                                       strerror(-r));
                        status_off = true;
                        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(conn_levels); i++)
                                if (level_wanted(conn_levels[i]) && conn_levels[i] >= 4 && conn_levels[i] <= 16)
                                        failed += run_point(&t, call, conn_levels[i], TARGET_RATE, seconds,
                                                            "warm, 0 ms, one CPU");
                        status_off = false;
                        if (r >= 0)
                                (void) pin(t.pid, &saved);
                }
                sleep_ms(500);   /* idle threads settle */
                rss_text(t.pid, rss1, sizeof(rss1));
                smaps_print(t.pid);
                floor_text(rssf, sizeof(rssf));
                printf("  RSS floor (link-floor)     %s\n", rssf);
                printf("  agent RSS idle, report read %s\n  agent RSS after this load   %s\n"
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

/*
 * The machine's own stalls: a thread that only sleeps 100 us at a time, with
 * nothing else of ours running, and how late it wakes. On a virtual machine
 * a late wake-up is the host not running the vCPU (another guest, its own
 * work) or the vCPU's wake-up from halt; a call that meets such a stall
 * waits as long, in the agent or in this generator, and at 20,000 calls/s
 * a few stalls of some milliseconds a second are more than 1 % of the calls.
 * It bounds what any p99 below can show, so it is printed beside them.
 */
static void platform_stalls(double seconds) {
        long long t0 = now_ns(), end = t0 + (long long) (seconds * 1e9), worst = 0;
        struct series late;
        unsigned over1 = 0, n;

        if (series_init(&late) < 0)
                return;
        while (now_ns() < end) {
                long long a = now_ns(), o;

                (void) nanosleep(&(struct timespec) { .tv_nsec = 100000 }, NULL);
                o = now_ns() - a - 100000;
                series_add(&late, o);
                if (o > worst)
                        worst = o;
                if (o > 1000000)
                        over1++;
        }
        n = atomic_load(&late.n);
        printf("platform: a thread sleeping 100 us at a time for %.1f s, nothing else of ours running: woke late by "
               "p50 %.3f ms, p99 %.3f ms, at most %.3f ms; %.1f times a second by more than 1 ms (%u wake-ups)\n",
               seconds, pct_ms(&late, 0.50), pct_ms(&late, 0.99), (double) worst / 1e6,
               (double) over1 / seconds, n);
        free(late.ns);
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
        platform_stalls(seconds);
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

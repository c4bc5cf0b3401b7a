/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile clients against the real snpseald (--max-connections=4
 * --connection-timeout=2): each gets an error or is dropped, a well-behaved
 * client is served afterwards (and meanwhile, where that matters), and the
 * daemon's file descriptors are back to their baseline exactly and its
 * resident memory close to it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent-harness.h"

#define M_STATUS "io.snpseal.Agent.GetStatus"
#define MAX_CONNECTIONS 4
#define TIMEOUT_SEC 2
/* Closing "promptly" means before the idle timeout could have done it. */
#define PROMPT_MS 1500

#if defined(__SANITIZE_ADDRESS__)
#define RSS_SLACK_KIB (64 * 1024)   /* ASan's quarantine keeps freed memory */
#else
#define RSS_SLACK_KIB (2 * 1024)
#endif

struct fixture {
        struct th_agent t;
        int base_fds;
        long base_rss;
};

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int status_ok(struct th_agent *t) {
        json_object *reply = NULL;
        int r = th_call(t->sock, M_STATUS, NULL, &reply);

        if (r >= 0 && th_error(reply))
                r = -EPROTO;
        if (r >= 0 && !th_str(th_params(reply), "measurement"))
                r = -EBADMSG;
        json_object_put(reply);
        return r;
}

/* The fd count once it stops changing (the server closes asynchronously). */
static int settled_fds(pid_t pid) {
        int prev = -1, n = th_proc_fd_count(pid);

        for (int i = 0; i < 50 && n != prev; i++) {
                sleep_ms(100);
                prev = n;
                n = th_proc_fd_count(pid);
        }
        return n;
}

static int setup(void **state) {
        static const char *const extra[] = { "--max-connections=4", "--connection-timeout=2", NULL };
        struct fixture *f = calloc(1, sizeof(*f));
        int r;

        if (!f)
                return -1;
        r = th_agent_setup(&f->t);
        if (r >= 0)
                r = th_agent_start(&f->t, extra);
        /* warm up: the first calls initialize libraries */
        for (int i = 0; r >= 0 && i < 10; i++)
                r = status_ok(&f->t);
        if (r < 0) {
                print_message("# cannot start the agent: %s\n", strerror(-r));
                th_agent_dump_log(&f->t);
                th_agent_cleanup(&f->t);
                free(f);
                return -1;
        }
        f->base_fds = settled_fds(f->t.pid);
        f->base_rss = th_proc_rss_kib(f->t.pid);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status = 0, r = 0;

        if (f->t.pid > 0) {
                r = th_agent_stop(&f->t, &status);
                if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        print_message("# the agent did not exit 0 on SIGTERM (r=%d status=0x%x)\n", r, status);
                        th_agent_dump_log(&f->t);
                        r = -1;
                }
        }
        if (getenv("TH_VERBOSE"))
                th_agent_dump_log(&f->t);
        th_agent_cleanup(&f->t);
        free(f);
        return r;
}

/* A well-behaved client is served, fds are back exactly, memory nearly. */
static void assert_recovered(struct fixture *f) {
        int fds;
        long rss;

        assert_int_equal(status_ok(&f->t), 0);
        fds = th_wait_fd_count(f->t.pid, f->base_fds, 5000);
        if (fds != f->base_fds)
                print_message("# fds: baseline %d, now %d\n", f->base_fds, fds);
        assert_int_equal(fds, f->base_fds);
        rss = th_proc_rss_kib(f->t.pid);
        if (rss > f->base_rss + RSS_SLACK_KIB)
                print_message("# VmRSS: baseline %ld KiB, now %ld KiB\n", f->base_rss, rss);
        assert_true(rss > 0 && rss <= f->base_rss + RSS_SLACK_KIB);
}

/* Either an error reply arrives or the connection is closed, promptly. */
static void assert_error_or_closed(struct th_conn *c, const char *what) {
        json_object *reply = NULL;
        int r = th_conn_recv(c, PROMPT_MS, &reply);

        if (r == 0 && !th_error(reply))
                r = -EPROTO;
        if (r < 0 && r != -ECONNRESET)
                print_message("# %s: neither an error nor a close (%s)\n", what, strerror(-r));
        assert_true(r == 0 || r == -ECONNRESET);
        json_object_put(reply);
}

static void open_conn(struct fixture *f, struct th_conn *c) {
        assert_int_equal(th_conn_open(f->t.sock, c), 0);
}

/* ---- malformed messages ---- */

static void test_malformed(void **state) {
        static const struct {
                const char *name;
                const char *bytes;
                size_t len;
        } cases[] = {
#define C(n, s) { n, s, sizeof(s) }   /* includes the terminating NUL */
                C("garbage", "\x01\x02\xff\xfe garbage \x80\x81"),
                C("non-JSON", "hello world"),
                C("JSON array", "[1,2,3]"),
                C("JSON number", "42"),
                C("JSON with trailing data", "{\"method\":\"io.snpseal.Agent.GetStatus\"} {}"),
                C("no method", "{\"parameters\":{}}"),
                C("method not a string", "{\"method\":5}"),
                C("method without interface", "{\"method\":\"GetStatus\"}"),
                C("parameters not an object", "{\"method\":\"io.snpseal.Agent.GetStatus\",\"parameters\":[]}"),
                C("method name not capitalized", "{\"method\":\"io.snpseal.Agent.getStatus\"}"),
                C("upgrade", "{\"method\":\"io.snpseal.Agent.GetStatus\",\"upgrade\":true}"),
                C("just a NUL", ""),
#undef C
        };
        struct fixture *f = *state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct th_conn c;

                open_conn(f, &c);
                assert_int_equal(th_conn_send(&c, cases[i].bytes, cases[i].len), 0);
                assert_error_or_closed(&c, cases[i].name);
                th_conn_close(&c);
                assert_int_equal(status_ok(&f->t), 0);
        }
        assert_recovered(f);
}

static void test_deep_nesting(void **state) {
        struct fixture *f = *state;
        char buf[4096];
        struct th_conn c;
        size_t n = 0;

        for (int i = 0; i < 1000; i++)
                buf[n++] = '[';
        for (int i = 0; i < 1000; i++)
                buf[n++] = ']';
        buf[n++] = 0;
        open_conn(f, &c);
        assert_int_equal(th_conn_send(&c, buf, n), 0);
        assert_error_or_closed(&c, "deep nesting");
        th_conn_close(&c);
        assert_recovered(f);
}

static void test_unterminated_then_close(void **state) {
        static const char partial[] = "{\"method\":\"io.snpseal.Agent.GetStatus\",\"parameters\":{";
        struct fixture *f = *state;
        struct th_conn c;

        open_conn(f, &c);
        assert_int_equal(th_conn_send(&c, partial, sizeof(partial) - 1), 0);
        th_conn_close(&c);
        assert_recovered(f);
}

/* 70 KiB: beyond the 64 KiB message limit. */
static void send_oversized(struct fixture *f, bool with_nul) {
        static const char head[] = "{\"method\":\"io.snpseal.Agent.GetStatus\",\"parameters\":{\"pad\":\"";
        size_t len = 70 * 1024;
        char *big = malloc(len);
        struct th_conn c;
        unsigned errors = 0;
        long long start;
        int r;

        assert_non_null(big);
        memset(big, 'x', len);
        memcpy(big, head, sizeof(head) - 1);
        if (with_nul) {
                memcpy(big + len - 4, "\"}}", 3);
                big[len - 1] = 0;
        }
        open_conn(f, &c);
        start = now_ms();
        r = th_conn_send(&c, big, len);
        /* the agent may already have hung up */
        assert_true(r == 0 || r == -EPIPE || r == -ECONNRESET);
        r = th_conn_expect_closed(&c, PROMPT_MS, &errors);
        if (r < 0)
                print_message("# oversized message: not dropped within %d ms (%s)\n", PROMPT_MS, strerror(-r));
        assert_int_equal(r, 0);
        assert_true(now_ms() - start < TIMEOUT_SEC * 1000);
        th_conn_close(&c);
        free(big);
}

static void test_oversized(void **state) {
        struct fixture *f = *state;

        send_oversized(f, false);
        assert_int_equal(status_ok(&f->t), 0);
        send_oversized(f, true);
        assert_recovered(f);
}

/* ---- well-formed calls the agent refuses; the connection stays usable ---- */

static void test_unknown_method(void **state) {
        static const char *const methods[] = {
                "io.snpseal.Agent.Frobnicate",
                "io.snpseal.Agent.GetStatusX",
                "org.varlink.service.Frobnicate",
                "com.example.Foo.Bar",
        };
        struct fixture *f = *state;
        struct th_conn c;

        open_conn(f, &c);
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                json_object *reply = NULL;

                assert_int_equal(th_conn_call(&c, methods[i], NULL, &reply), 0);
                assert_non_null(th_error(reply));
                assert_string_equal(th_error(reply), "org.varlink.service.MethodNotFound");
                json_object_put(reply);
        }
        /* same connection, a real call */
        {
                json_object *reply = NULL;

                assert_int_equal(th_conn_call(&c, M_STATUS, NULL, &reply), 0);
                assert_null(th_error(reply));
                json_object_put(reply);
        }
        th_conn_close(&c);
        assert_recovered(f);
}

static void test_wrong_parameter_types(void **state) {
        static const struct {
                const char *method, *params, *parameter;
        } cases[] = {
                { "io.snpseal.Agent.DeriveKey", "{\"binding\":\"vcek\",\"salt\":\"AAAA\",\"purpose\":\"luks2\"}", "binding" },
                { "io.snpseal.Agent.DeriveKey",
                  "{\"binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\"],\"vmpl\":0,\"guest_svn\":1,"
                  "\"tcb_version\":\"03000000000008d1\"},\"salt\":7,\"purpose\":\"luks2\"}", "salt" },
                { "io.snpseal.Agent.DeriveKey",
                  "{\"binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\"],\"vmpl\":0,\"guest_svn\":1,"
                  "\"tcb_version\":\"03000000000008d1\"},"
                  "\"salt\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"purpose\":5}", "purpose" },
                { "io.snpseal.Agent.Seal", "{\"purpose\":\"cred/x\",\"data\":5}", "data" },
                { "io.snpseal.Agent.Seal", "{\"purpose\":[\"cred/x\"],\"data\":\"eA==\"}", "purpose" },
                { "io.snpseal.Agent.Seal", "{\"purpose\":\"cred/x\",\"data\":\"eA==\",\"password\":true}", "password" },
                { "io.snpseal.Agent.Unseal", "{\"sealed\":{}}", "sealed" },
                { "io.snpseal.Agent.Unseal", "{}", "sealed" },
                { "io.snpseal.Agent.GetReport", "{\"vmpl\":\"2\"}", "vmpl" },
                { "io.snpseal.Agent.GetReport", "{\"vmpl\":-1}", "vmpl" },
                { "io.snpseal.Agent.GetReport", "{\"report_data\":5}", "report_data" },
                { "org.varlink.service.GetInterfaceDescription", "{\"interface\":5}", "interface" },
        };
        struct fixture *f = *state;
        struct th_conn c;

        open_conn(f, &c);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_object *reply = NULL;
                const char *e, *p;

                assert_int_equal(th_conn_call(&c, cases[i].method, th_json("%s", cases[i].params), &reply), 0);
                e = th_error(reply);
                p = th_str(th_params(reply), "parameter");
                if (!e || !strstr(e, ".InvalidParameter") || !p || strcmp(p, cases[i].parameter) != 0)
                        print_message("# %s %s: expected InvalidParameter for \"%s\", got %s %s\n", cases[i].method,
                                      cases[i].params, cases[i].parameter, e ? e : "success",
                                      json_object_to_json_string(th_params(reply)));
                assert_non_null(e);
                assert_true(strcmp(e, "org.varlink.service.InvalidParameter") == 0 ||
                            strcmp(e, "io.snpseal.Agent.InvalidParameter") == 0);
                assert_non_null(p);
                assert_string_equal(p, cases[i].parameter);
                json_object_put(reply);
        }
        th_conn_close(&c);
        assert_recovered(f);
}

/* ---- resource limits ---- */

static void test_connection_flood(void **state) {
        enum { N = 12 };
        struct fixture *f = *state;
        struct th_conn c[N];
        unsigned closed = 0, open_left = 0;

        assert_int_equal(th_wait_fd_count(f->t.pid, f->base_fds, 5000), f->base_fds);
        for (int i = 0; i < N; i++)
                open_conn(f, &c[i]);
        /* the ones beyond the limit are closed promptly */
        for (int i = 0; i < N; i++) {
                int r = th_conn_expect_closed(&c[i], i < MAX_CONNECTIONS ? 50 : 300, NULL);

                if (r == 0) {
                        closed++;
                        th_conn_close(&c[i]);
                } else
                        assert_int_equal(r, -ETIMEDOUT);
        }
        assert_int_equal(closed, N - MAX_CONNECTIONS);
        /* the admitted ones are served */
        for (int i = 0; i < N; i++) {
                json_object *reply = NULL;

                if (c[i].fd < 0)
                        continue;
                assert_int_equal(th_conn_call(&c[i], M_STATUS, NULL, &reply), 0);
                assert_null(th_error(reply));
                json_object_put(reply);
                open_left++;
                th_conn_close(&c[i]);
        }
        assert_int_equal(open_left, MAX_CONNECTIONS);
        assert_recovered(f);
}

/* Send GetStatus calls without ever reading, until the agent stops taking
 * them (or 1.5 s). Returns the number of calls sent. */
static unsigned flood_without_reading(struct th_conn *c) {
        static const char call[] = "{\"method\":\"io.snpseal.Agent.GetStatus\",\"parameters\":{}}";
        long long end = now_ms() + PROMPT_MS;
        unsigned sent = 0;
        size_t off = 0;

        while (now_ms() < end) {
                struct pollfd p = { .fd = c->fd, .events = POLLOUT };
                ssize_t k;

                if (poll(&p, 1, 200) == 0)
                        break;   /* both directions are full: the agent stopped reading */
                k = send(c->fd, call + off, sizeof(call) - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (k < 0)
                        break;   /* already dropped */
                off += (size_t) k;
                if (off == sizeof(call)) {
                        off = 0;
                        sent++;
                }
        }
        return sent;
}

static void test_never_reads(void **state) {
        struct fixture *f = *state;
        struct th_conn bad;
        unsigned sent;
        long long start;
        int r;

        open_conn(f, &bad);
        sent = flood_without_reading(&bad);
        assert_true(sent > 0);
        /* everyone else is served meanwhile */
        start = now_ms();
        assert_int_equal(status_ok(&f->t), 0);
        assert_true(now_ms() - start < 1000);
        /* the reader-less client is dropped after the timeout */
        assert_int_equal(th_wait_fd_count(f->t.pid, f->base_fds, (TIMEOUT_SEC + 4) * 1000), f->base_fds);
        /* and sees the end of its stream after whatever replies were sent */
        for (;;) {
                json_object *reply = NULL;

                r = th_conn_recv(&bad, 2000, &reply);
                json_object_put(reply);
                if (r < 0)
                        break;
        }
        assert_int_equal(r, -ECONNRESET);
        th_conn_close(&bad);
        assert_recovered(f);
}

static void test_silent_client(void **state) {
        struct fixture *f = *state;
        struct th_conn c;
        long long start;
        int r;

        open_conn(f, &c);
        start = now_ms();
        /* others are served while it sits there */
        assert_int_equal(status_ok(&f->t), 0);
        r = th_conn_expect_closed(&c, (TIMEOUT_SEC + 3) * 1000, NULL);
        assert_int_equal(r, 0);
        /* dropped by the idle timeout, not at once */
        assert_true(now_ms() - start >= 1000);
        th_conn_close(&c);
        assert_recovered(f);
}

/* ---- starvation by an unprivileged uid (issue 11, finding 2) ---- */

static int count_log_lines(const struct th_agent *t, const char *s) {
        char line[4096];
        int n = 0;
        FILE *fp = fopen(t->log, "re");

        if (!fp)
                return -1;
        while (fgets(line, sizeof(line), fp))
                n += strstr(line, s) != NULL;
        fclose(fp);
        return n;
}

/* A child under uid 65534 opens N connections and keeps them until the
 * parent closes *ret_release; the number the agent admitted (not closed
 * within 300 ms) arrives on the result pipe as "admitted=K\n". */
static pid_t nobody_hog(struct fixture *f, int n, int *ret_release, char *res, size_t size) {
        int rp[2], cp[2];
        pid_t pid;
        ssize_t k;

        assert_int_equal(pipe2(rp, O_CLOEXEC), 0);
        assert_int_equal(pipe2(cp, O_CLOEXEC), 0);
        fflush(stdout);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct th_conn c[64];
                int admitted = 0;
                char b;

                close(rp[0]);
                close(cp[1]);
                if (setgroups(0, NULL) < 0 || setresgid(TH_NOBODY, TH_NOBODY, TH_NOBODY) < 0 ||
                    setresuid(TH_NOBODY, TH_NOBODY, TH_NOBODY) < 0)
                        _exit(125);
                for (int i = 0; i < n && i < 64; i++)
                        if (th_conn_open(f->t.sock, &c[i]) < 0)
                                _exit(2);
                for (int i = 0; i < n && i < 64; i++)
                        admitted += th_conn_expect_closed(&c[i], 300, NULL) == -ETIMEDOUT;
                dprintf(rp[1], "admitted=%d\n", admitted);
                close(rp[1]);
                if (read(cp[0], &b, 1) < 0)   /* until the parent lets go */
                        _exit(3);
                _exit(0);
        }
        close(rp[1]);
        close(cp[0]);
        k = read(rp[0], res, size - 1);
        res[k > 0 ? k : 0] = '\0';
        close(rp[0]);
        *ret_release = cp[1];
        return pid;
}

static void nobody_release(pid_t pid, int release) {
        int status = 0;

        close(release);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* One uid opens many connections: it gets max_connections/8 (at least 1),
 * the rest are refused with one log line, and root is still served, twice
 * at once (its reserved slot and the one the user could not take). */
static void test_uid_cannot_starve_root(void **state) {
        struct fixture *f = *state;
        char res[64];
        int release;
        pid_t pid = nobody_hog(f, 12, &release, res, sizeof(res));
        struct th_conn r1, r2;
        json_object *reply = NULL;
        long long start;

        assert_string_equal(res, "admitted=1\n");
        start = now_ms();
        assert_int_equal(status_ok(&f->t), 0);
        assert_true(now_ms() - start < 1000);
        /* root holds the remaining slots, the reserved one included */
        open_conn(f, &r1);
        open_conn(f, &r2);
        assert_int_equal(th_conn_call(&r1, M_STATUS, NULL, &reply), 0);
        assert_null(th_error(reply));
        json_object_put(reply);
        assert_int_equal(th_conn_call(&r2, M_STATUS, NULL, &reply), 0);
        assert_null(th_error(reply));
        json_object_put(reply);
        th_conn_close(&r1);
        th_conn_close(&r2);
        nobody_release(pid, release);
        /* 11 refusals, one line (rate-limited), naming the uid and the reason */
        assert_true(th_agent_log_contains(&f->t, "refusing connection from uid 65534"));
        assert_true(th_agent_log_contains(&f->t, "already has 1 connections open"));
        assert_int_equal(count_log_lines(&f->t, "refusing connection from uid"), 1);
        assert_recovered(f);
}

/* A byte every 300 ms keeps resetting the idle timer; the message deadline
 * (connection_timeout from the first byte) still ends the connection. */
static void test_trickle(void **state) {
        struct fixture *f = *state;
        static const char msg[] = "{\"method\":\"io.snpseal.Agent.GetStatus\",\"parameters\":{}}";
        struct th_conn c;
        long long start, dropped = -1;

        open_conn(f, &c);
        start = now_ms();
        for (size_t i = 0; i < sizeof(msg) - 1 && now_ms() - start < (TIMEOUT_SEC + 3) * 1000; i++) {
                if (send(c.fd, msg + i, 1, MSG_NOSIGNAL) < 0) {
                        dropped = now_ms() - start;
                        break;
                }
                sleep_ms(300);
        }
        if (dropped < 0 && th_conn_expect_closed(&c, 2000, NULL) == 0)
                dropped = now_ms() - start;
        th_conn_close(&c);
        print_message("# trickling client dropped after %lld ms\n", dropped);
        assert_true(dropped >= TIMEOUT_SEC * 1000 - 200 && dropped <= (TIMEOUT_SEC + 2) * 1000);
        assert_true(th_agent_log_contains(&f->t, "message not complete 2 s after its first byte"));
        assert_recovered(f);
}

/* The next reply on c: "info" (GetInfo), "status" (GetStatus) or the error
 * name. */
static void expect_reply(struct th_conn *c, const char *what) {
        json_object *reply = NULL;
        const char *got;

        assert_int_equal(th_conn_recv(c, TIMEOUT_SEC * 1000, &reply), 0);
        got = th_error(reply) ? th_error(reply)
              : json_object_object_get_ex(th_params(reply), "vendor", NULL)  ? "info"
              : json_object_object_get_ex(th_params(reply), "backend", NULL) ? "status"
                                                                             : "?";
        print_message("# reply: %s\n", got);
        assert_string_equal(got, what);
        json_object_put(reply);
}

/* Calls written together, a call split across writes, and a call with the
 * start of the next: each answered once, in order, whether the loop answers
 * it at once (GetInfo, an unknown method) or a thread does (GetStatus). */
static void test_batched_and_split(void **state) {
        static const char info[] = "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{}}";
        static const char status[] = "{\"method\":\"" M_STATUS "\",\"parameters\":{}}";
        static const char unknown[] = "{\"method\":\"io.snpseal.Agent.Frobnicate\",\"parameters\":{}}";
        struct fixture *f = *state;
        char buf[1024];
        size_t n = 0, half = sizeof(status) / 2;
        struct th_conn c;

        open_conn(f, &c);
        /* four calls in one write (each with its NUL) */
        memcpy(buf + n, info, sizeof(info)), n += sizeof(info);
        memcpy(buf + n, status, sizeof(status)), n += sizeof(status);
        memcpy(buf + n, unknown, sizeof(unknown)), n += sizeof(unknown);
        memcpy(buf + n, info, sizeof(info)), n += sizeof(info);
        assert_int_equal(th_conn_send(&c, buf, n), 0);
        expect_reply(&c, "info");
        expect_reply(&c, "status");
        expect_reply(&c, "org.varlink.service.MethodNotFound");
        expect_reply(&c, "info");
        /* one call in two writes */
        assert_int_equal(th_conn_send(&c, status, half), 0);
        sleep_ms(100);
        assert_int_equal(th_conn_send(&c, status + half, sizeof(status) - half), 0);
        expect_reply(&c, "status");
        /* a call and the start of the next, then the rest */
        n = 0;
        memcpy(buf + n, info, sizeof(info)), n += sizeof(info);
        memcpy(buf + n, status, half), n += half;
        assert_int_equal(th_conn_send(&c, buf, n), 0);
        expect_reply(&c, "info");
        sleep_ms(100);
        assert_int_equal(th_conn_send(&c, status + half, sizeof(status) - half), 0);
        expect_reply(&c, "status");
        th_conn_close(&c);
        assert_recovered(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_malformed),
                T(test_deep_nesting),
                T(test_unterminated_then_close),
                T(test_oversized),
                T(test_unknown_method),
                T(test_wrong_parameter_types),
                T(test_connection_flood),
                T(test_never_reads),
                T(test_silent_client),
                T(test_uid_cannot_starve_root),
                T(test_trickle),
                T(test_batched_and_split),
#undef T
        };

        return cmocka_run_group_tests_name("agent-hostile", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The credential socket as systemd's LoadCredential=ID:SOCKET uses it: a
 * client bound to the abstract name "\0<random>/unit/<unit>/<id>" connects
 * and reads until EOF. The plaintext of <credstore>/<id>.sealed comes back
 * for uid 0 peers; everything else gets nothing and a closed connection.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent-harness.h"

#define DEMO_SECRET "demo credential: s3cret\n"

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect to the credential socket bound to "\0<name>" (name NULL: unbound),
 * read until EOF. Returns the number of bytes read, -errno on failure. */
static int cred_fetch(const char *cred_sock, const char *name, char *out, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX }, local = { .sun_family = AF_UNIX };
        long long end = now_ms() + 5000;
        size_t len = 0;
        int fd, r = 0;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (name) {
                size_t n = strlen(name);

                if (n + 1 > sizeof(local.sun_path)) {
                        close(fd);
                        return -ENAMETOOLONG;
                }
                memcpy(local.sun_path + 1, name, n);
                if (bind(fd, (struct sockaddr *) &local, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0)
                        goto fail;
        }
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cred_sock);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                goto fail;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = end - now_ms();
                ssize_t k;

                if (left <= 0 || poll(&p, 1, (int) left) <= 0) {
                        close(fd);
                        return -ETIMEDOUT;
                }
                k = read(fd, out + len, size - 1 - len);
                if (k < 0 && errno == ECONNRESET)
                        break;
                if (k < 0)
                        goto fail;
                if (k == 0 || (len += (size_t) k) == size - 1)
                        break;
        }
        out[len] = 0;
        close(fd);
        return (int) len;
fail:
        r = -errno;
        close(fd);
        return r;
}

/* "\0" is added by cred_fetch; this is the rest of systemd's name. */
static void peer_name(const char *unit, const char *id, char *buf, size_t size) {
        uint64_t rnd = 0;

        assert_int_equal(getrandom(&rnd, sizeof(rnd), 0), (ssize_t) sizeof(rnd));
        snprintf(buf, size, "%" PRIx64 "/unit/%s/%s", rnd, unit, id);
}

static int setup(void **state) {
        struct th_agent *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -1;
        r = th_agent_setup(t);
        if (r >= 0)
                r = th_agent_start(t, NULL);
        if (r < 0) {
                print_message("# cannot start the agent: %s\n", strerror(-r));
                th_agent_dump_log(t);
                th_agent_cleanup(t);
                free(t);
                return -1;
        }
        *state = t;
        return 0;
}

static int teardown(void **state) {
        struct th_agent *t = *state;
        int status = 0, r = 0;

        if (t->pid > 0) {
                r = th_agent_stop(t, &status);
                if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        print_message("# the agent did not exit 0 on SIGTERM (r=%d status=0x%x)\n", r, status);
                        th_agent_dump_log(t);
                        r = -1;
                }
        }
        if (getenv("TH_VERBOSE"))
                th_agent_dump_log(t);
        th_agent_cleanup(t);
        free(t);
        return r;
}

/* Seal data for purpose through the agent's Seal method and store it as
 * <credstore>/<id>.sealed (0600). */
static void store_credential(struct th_agent *t, const char *purpose, const char *id, const char *data) {
        char *b64 = th_b64(data, strlen(data)), path[PATH_MAX + 64];
        json_object *reply = NULL, *o;
        const char *sealed;
        struct stat st;
        FILE *f;

        assert_int_equal(th_call(t->sock, "io.snpseal.Agent.Seal",
                                 th_json("{\"purpose\":\"%s\",\"data\":\"%s\"}", purpose, b64), &reply), 0);
        free(b64);
        if (th_error(reply))
                print_message("# Seal: %s: %s\n", th_error(reply), th_message(reply));
        assert_null(th_error(reply));
        sealed = th_str(th_params(reply), "sealed");
        assert_non_null(sealed);
        o = th_json("%s", sealed);
        assert_non_null(o);
        assert_string_equal(th_str(o, "purpose"), purpose);
        json_object_put(o);
        snprintf(path, sizeof(path), "%s/%s.sealed", t->credstore, id);
        (void) unlink(path);
        f = fopen(path, "wxe");
        assert_non_null(f);
        assert_int_equal(fchmod(fileno(f), 0600), 0);
        fputs(sealed, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal((size_t) st.st_size, strlen(sealed));
        json_object_put(reply);
}

static void assert_served(struct th_agent *t, const char *unit, const char *id, const char *want) {
        char name[108], out[4096];

        peer_name(unit, id, name, sizeof(name));
        assert_int_equal(cred_fetch(t->cred_sock, name, out, sizeof(out)), (int) strlen(want));
        assert_string_equal(out, want);
}

static void assert_nothing(struct th_agent *t, const char *name, const char *what) {
        char out[4096];
        int r = cred_fetch(t->cred_sock, name, out, sizeof(out));

        if (r != 0)
                print_message("# %s: expected nothing and a close, got %d%s%s\n", what, r,
                              r > 0 ? " bytes: " : "", r > 0 ? out : "");
        assert_int_equal(r, 0);
}

static void test_load_credential(void **state) {
        struct th_agent *t = *state;

        store_credential(t, "cred/demo", "demo", DEMO_SECRET);
        assert_served(t, "test.service", "demo", DEMO_SECRET);
        /* another unit asking for the same id gets it too (uid 0) */
        assert_served(t, "other-unit@1.service", "demo", DEMO_SECRET);
        /* and again: nothing is consumed */
        assert_served(t, "test.service", "demo", DEMO_SECRET);
}

static void test_refused_peers(void **state) {
        static const struct {
                const char *what;
                const char *name;      /* NULL: unbound client; "%R": random hex prefix */
        } cases[] = {
                { "unbound client",       NULL },
                { "no /unit/",            "%R/demo" },
                { "no id",                "%R/unit/test.service/" },
                { "no unit",              "%R/unit//demo" },
                { "only a unit",          "%R/unit/test.service" },
                { "unknown id",           "%R/unit/test.service/nope" },
                { "id with ..",           "%R/unit/test.service/.." },
                { "id escaping",          "%R/unit/test.service/../demo" },
                { "trailing slash",       "%R/unit/test.service/demo/" },
                { "not systemd's prefix", "%R/user/test.service/demo" },
        };
        struct th_agent *t = *state;

        store_credential(t, "cred/demo", "demo", DEMO_SECRET);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char name[108];

                if (cases[i].name) {
                        uint64_t rnd = 0;

                        /* abstract names are system-wide: random, as systemd's */
                        assert_int_equal(getrandom(&rnd, sizeof(rnd), 0), (ssize_t) sizeof(rnd));
                        snprintf(name, sizeof(name), "%016" PRIx64 "%s", rnd, cases[i].name + 2);
                }
                assert_nothing(t, cases[i].name ? name : NULL, cases[i].what);
                /* the agent goes on serving */
                assert_served(t, "test.service", "demo", DEMO_SECRET);
        }
        /* the refusals are logged with a reason */
        assert_true(th_agent_log_contains(t, "nope"));
}

static void test_wrong_purpose(void **state) {
        struct th_agent *t = *state;
        char name[108];

        /* an object for another id (or another use) under demo.sealed */
        store_credential(t, "cred/other", "demo", DEMO_SECRET);
        peer_name("test.service", "demo", name, sizeof(name));
        assert_nothing(t, name, "cred/other saved as demo.sealed");
        store_credential(t, "user/0/demo", "demo", DEMO_SECRET);
        peer_name("test.service", "demo", name, sizeof(name));
        assert_nothing(t, name, "user/0/demo saved as demo.sealed");
        store_credential(t, "cred/demo", "demo", DEMO_SECRET);
        assert_served(t, "test.service", "demo", DEMO_SECRET);
}

static void test_identity_mismatch(void **state) {
        struct th_agent *t = *state;
        char name[108];

        store_credential(t, "cred/demo", "demo", DEMO_SECRET);
        t->sim.measurement[0] ^= 0x01;
        assert_int_equal(th_agent_save_state(t), 0);
        peer_name("test.service", "demo", name, sizeof(name));
        assert_nothing(t, name, "identity mismatch");
        t->sim.measurement[0] ^= 0x01;
        assert_int_equal(th_agent_save_state(t), 0);
        assert_served(t, "test.service", "demo", DEMO_SECRET);
}

static int nobody_fetch(void *arg, int wfd) {
        struct th_agent *t = arg;
        char name[108], out[4096], line[64];
        uint64_t rnd = 0;
        int r;

        if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                return -EIO;
        snprintf(name, sizeof(name), "%" PRIx64 "/unit/test.service/demo", rnd);
        r = cred_fetch(t->cred_sock, name, out, sizeof(out));
        snprintf(line, sizeof(line), "%d\n", r);
        return write(wfd, line, strlen(line)) < 0 ? -errno : 0;
}

static void test_nonroot_peer(void **state) {
        struct th_agent *t = *state;
        char out[256];
        int r;

        store_credential(t, "cred/demo", "demo", DEMO_SECRET);
        assert_int_equal(th_run_as_nobody(nobody_fetch, t, out, sizeof(out)), 0);
        r = atoi(out);
        /* nothing: either the socket refuses nobody or the agent closes */
        if (r != 0 && r != -EACCES)
                print_message("# uid 65534 got %s", out);
        assert_true(r == 0 || r == -EACCES);
        assert_served(t, "test.service", "demo", DEMO_SECRET);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_load_credential),
                T(test_refused_peers),
                T(test_wrong_purpose),
                T(test_identity_mismatch),
                T(test_nonroot_peer),
#undef T
        };

        return cmocka_run_group_tests_name("agent-credentials", tests, NULL, NULL);
}

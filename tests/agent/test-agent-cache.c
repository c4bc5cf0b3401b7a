/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The firmware key cache and the event loop, on the real snpseald over real
 * sockets with the simulator counting every firmware request in
 * <state>.requests (docs/SIMULATOR.md, count_requests):
 *
 *  - N DeriveKey calls for one binding, at once on N connections and then
 *    one after another, cost one key request; after the cache's expiry the
 *    key is wiped with nobody calling, and the next call asks again;
 *  - with key_cache 0 every call asks the firmware;
 *  - a GetStatus sent after DeriveKey calls that wait for a slow firmware
 *    (latency_ms) is answered while they are still outstanding: the loop
 *    never waits for them, and a report request is not queued behind them.
 *
 *  - successful calls are logged one by one up to 50 per 10 s, the rest of
 *    a burst as a count (at the latest when the agent exits); refusals
 *    always one by one.
 *
 * Orderings and counts only, no timing thresholds.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent-harness.h"

#define M_STATUS "io.snpseal.Agent.GetStatus"
#define M_DERIVE "io.snpseal.Agent.DeriveKey"
#define N_CALLS 8
#define SLOW_MS "700"
#define N_SLOW 4

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Records of kind ("key" or "report") in <state>.requests. */
static unsigned count_sent(const struct th_agent *t, const char *kind) {
        char path[PATH_MAX + 16], line[64];
        unsigned n = 0;
        FILE *f;

        snprintf(path, sizeof(path), "%s" SIM_COUNT_SUFFIX, t->state);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                n += strncmp(line, kind, strlen(kind)) == 0 && line[strlen(kind)] == ' ';
        fclose(f);
        return n;
}

static void start(struct th_agent *t, const char *const *extra, const char *latency_ms) {
        int r;

        assert_int_equal(th_agent_setup(t), 0);
        assert_int_equal(th_agent_set_state(t, "count_requests", "true"), 0);
        if (latency_ms)
                assert_int_equal(th_agent_set_state(t, "latency_ms", latency_ms), 0);
        r = th_agent_start(t, extra);
        if (r < 0) {
                th_agent_dump_log(t);
                fail_msg("cannot start the agent: %s", strerror(-r));
        }
}

static void stop(struct th_agent *t) {
        int status = 0;

        assert_int_equal(th_agent_stop(t, &status), 0);
        th_agent_cleanup(t);
}

/* DeriveKey (luks2) for the default binding at guest SVN svn, with a salt of
 * its own per call (the cache is keyed on the firmware request, not on it). */
static json_object *derive_params(struct th_agent *t, unsigned svn, unsigned salt_byte) {
        char tcb[SIM_STATE_VALUE_MAX];
        uint8_t salt[32];
        char *b64;
        json_object *o;

        memset(salt, (int) salt_byte, sizeof(salt));
        b64 = th_b64(salt, sizeof(salt));
        assert_int_equal(sim_state_get(&t->sim, "committed_tcb", false, tcb, sizeof(tcb)), 0);
        o = th_json("{\"binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"policy\",\"tcb_version\","
                    "\"guest_svn\"],\"vmpl\":%u,\"guest_svn\":%u,\"tcb_version\":\"%s\"},"
                    "\"salt\":\"%s\",\"purpose\":\"luks2\"}", (unsigned) t->sim.vmpl, svn, tcb, b64);
        free(b64);
        assert_non_null(o);
        return o;
}

static void call_ok(struct th_agent *t, const char *method, json_object *params) {
        json_object *reply = NULL;

        assert_int_equal(th_call(t->sock, method, params, &reply), 0);
        if (th_error(reply))
                fail_msg("%s: %s: %s", method, th_error(reply), th_message(reply));
        json_object_put(reply);
}

/* n DeriveKey calls sent at once on n connections, then every reply read. */
static void derive_at_once(struct th_agent *t, unsigned n) {
        struct th_conn c[N_CALLS];

        assert_true(n <= N_CALLS);
        for (unsigned i = 0; i < n; i++) {
                json_object *p = derive_params(t, 0, i);
                const char *text;

                assert_int_equal(th_conn_open(t->sock, &c[i]), 0);
                json_object *call = json_object_new_object();
                json_object_object_add(call, "method", json_object_new_string(M_DERIVE));
                json_object_object_add(call, "parameters", p);
                text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
                assert_int_equal(th_conn_send(&c[i], text, strlen(text) + 1), 0);
                json_object_put(call);
        }
        for (unsigned i = 0; i < n; i++) {
                json_object *reply = NULL;

                assert_int_equal(th_conn_recv(&c[i], TH_CALL_TIMEOUT_MS, &reply), 0);
                if (th_error(reply))
                        fail_msg("DeriveKey %u: %s: %s", i, th_error(reply), th_message(reply));
                json_object_put(reply);
                th_conn_close(&c[i]);
        }
}

static void test_one_request_per_binding(void **state) {
        static const char *const extra[] = { "--key-cache=2", NULL };
        struct th_agent t = {};
        unsigned waited = 0;

        start(&t, extra, NULL);
        derive_at_once(&t, N_CALLS);
        assert_int_equal(count_sent(&t, "key"), 1);
        for (unsigned i = 0; i < N_CALLS; i++)
                call_ok(&t, M_DERIVE, derive_params(&t, 0, i));
        assert_int_equal(count_sent(&t, "key"), 1);
        /* the launch's report, read once */
        assert_int_equal(count_sent(&t, "report"), 1);
        /* another binding is another request */
        call_ok(&t, M_DERIVE, derive_params(&t, 1, 0));
        assert_int_equal(count_sent(&t, "key"), 2);

        /* expiry wipes the keys with nobody calling (the agent says so) */
        while (!th_agent_log_contains(&t, "key cache: 2 firmware keys expired and wiped") && waited < 10000) {
                sleep_ms(TH_POLL_STEP_MS);
                waited += TH_POLL_STEP_MS;
        }
        if (!th_agent_log_contains(&t, "key cache: 2 firmware keys expired and wiped")) {
                th_agent_dump_log(&t);
                fail_msg("the cached keys were not wiped at expiry");
        }
        call_ok(&t, M_DERIVE, derive_params(&t, 0, 0));
        assert_int_equal(count_sent(&t, "key"), 3);
        stop(&t);
}

static void test_cache_off(void **state) {
        static const char *const extra[] = { "--key-cache=0", NULL };
        struct th_agent t = {};

        start(&t, extra, NULL);
        derive_at_once(&t, N_CALLS);
        assert_int_equal(count_sent(&t, "key"), N_CALLS);
        for (unsigned i = 0; i < N_CALLS; i++)
                call_ok(&t, M_DERIVE, derive_params(&t, 0, i));
        assert_int_equal(count_sent(&t, "key"), 2 * N_CALLS);
        assert_int_equal(count_sent(&t, "report"), 1);
        stop(&t);
}

/* Before it reports ready the agent reads the launch's report (at boot,
 * while udev still looks for the disk): the first DeriveKey then makes one
 * firmware request, the key's. Read before READY=1, it cannot race with a
 * state change after the start (a fault set then would have disabled the
 * message key for the test's first call). */
static void test_report_read_ahead(void **state) {
        struct th_agent t = {};

        start(&t, NULL, NULL);   /* returns on READY=1 */
        assert_int_equal(count_sent(&t, "report"), 1);
        assert_int_equal(count_sent(&t, "key"), 0);
        call_ok(&t, M_DERIVE, derive_params(&t, 0, 0));
        assert_int_equal(count_sent(&t, "report"), 1);
        assert_int_equal(count_sent(&t, "key"), 1);
        stop(&t);
}

/* A changed state file is a new launch to the agent: cached keys go. */
static void test_state_change_drops_cache(void **state) {
        struct th_agent t = {};

        start(&t, NULL, NULL);
        call_ok(&t, M_DERIVE, derive_params(&t, 0, 0));
        call_ok(&t, M_DERIVE, derive_params(&t, 0, 1));
        assert_int_equal(count_sent(&t, "key"), 1);
        assert_int_equal(th_agent_set_state(&t, "platform_info", "0x27"), 0);
        call_ok(&t, M_DERIVE, derive_params(&t, 0, 0));
        assert_int_equal(count_sent(&t, "key"), 2);
        assert_int_equal(count_sent(&t, "report"), 2);
        stop(&t);
}

/* GetStatus while DeriveKey calls wait for a slow firmware. */
#define N_LOG 200
#define LOG_OK_BURST 50

/* The log's lines for successful DeriveKey calls, and the successes it
 * counted without a line. */
static void log_count(const struct th_agent *t, unsigned *ret_lines, unsigned *ret_unlogged) {
        char line[4096];
        unsigned lines = 0, unlogged = 0, n;
        FILE *f = fopen(t->log, "re");
        const char *p;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                lines += strstr(line, M_DERIVE " from uid 0 pid ") && strstr(line, " purpose luks2: ok\n");
                p = strstr(line, "snpseald: ");
                if (p && sscanf(p, "snpseald: %u further successful call", &n) == 1 &&
                    strstr(line, "not logged one by one (the first 50 of every 10 s are)"))
                        unlogged += n;
        }
        fclose(f);
        *ret_lines = lines;
        *ret_unlogged = unlogged;
}

static void test_success_log_limit(void **state) {
        struct th_agent t = {};
        json_object *reply = NULL;
        unsigned lines, unlogged;
        int status = 0;

        start(&t, NULL, NULL);
        for (unsigned i = 0; i < N_LOG; i++)
                call_ok(&t, M_DERIVE, derive_params(&t, 0, i));
        /* a refusal inside the burst is logged all the same */
        assert_int_equal(th_call(t.sock, M_DERIVE, th_json("{\"purpose\":\"luks2\"}"), &reply), 0);
        assert_string_equal(th_error(reply), "io.snpseal.Agent.InvalidParameter");
        json_object_put(reply);
        assert_int_equal(th_agent_stop(&t, &status), 0);   /* logs the count still open */
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        log_count(&t, &lines, &unlogged);
        if (lines + unlogged != N_LOG || lines < LOG_OK_BURST || unlogged == 0 ||
            !th_agent_log_contains(&t, M_DERIVE " from uid 0 pid ") ||
            !th_agent_log_contains(&t, ": io.snpseal.Agent.InvalidParameter")) {
                th_agent_dump_log(&t);
                fail_msg("%u successes logged one by one, %u counted, of %u", lines, unlogged, N_LOG);
        }
        th_agent_cleanup(&t);
}

static void test_status_not_behind_derive(void **state) {
        static const char status_call[] = "{\"method\":\"" M_STATUS "\",\"parameters\":{}}";
        static const char *const extra[] = { "--key-cache=0", NULL };
        struct th_agent t = {};
        struct th_conn d[N_SLOW], s;
        struct pollfd pfd[N_SLOW + 1];
        bool done[N_SLOW + 1] = {};
        unsigned outstanding_at_status = 0, left = N_SLOW + 1, waited = 0;

        start(&t, extra, SLOW_MS);
        call_ok(&t, M_STATUS, NULL);    /* the launch's report, kept */
        for (unsigned i = 0; i < N_SLOW; i++) {
                json_object *call = json_object_new_object();
                const char *text;

                assert_int_equal(th_conn_open(t.sock, &d[i]), 0);
                json_object_object_add(call, "method", json_object_new_string(M_DERIVE));
                json_object_object_add(call, "parameters", derive_params(&t, 0, i));
                text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
                assert_int_equal(th_conn_send(&d[i], text, strlen(text) + 1), 0);
                json_object_put(call);
        }
        /* the first key request is with the firmware */
        while (count_sent(&t, "key") == 0 && waited < TH_CALL_TIMEOUT_MS) {
                sleep_ms(TH_POLL_STEP_MS);
                waited += TH_POLL_STEP_MS;
        }
        assert_int_equal(count_sent(&t, "key"), 1);
        assert_int_equal(th_conn_open(t.sock, &s), 0);
        assert_int_equal(th_conn_send(&s, status_call, sizeof(status_call)), 0);

        while (left > 0) {
                unsigned n = 0, idx[N_SLOW + 1];

                for (unsigned i = 0; i <= N_SLOW; i++)
                        if (!done[i]) {
                                pfd[n] = (struct pollfd) { .fd = i < N_SLOW ? d[i].fd : s.fd, .events = POLLIN };
                                idx[n++] = i;
                        }
                assert_true(poll(pfd, n, 4 * TH_CALL_TIMEOUT_MS) > 0);
                for (unsigned k = 0; k < n; k++) {
                        json_object *reply = NULL;
                        unsigned i = idx[k];

                        if (!(pfd[k].revents & (POLLIN | POLLHUP)))
                                continue;
                        assert_int_equal(th_conn_recv(i < N_SLOW ? &d[i] : &s, TH_CALL_TIMEOUT_MS, &reply), 0);
                        if (th_error(reply))
                                fail_msg("call %u: %s: %s", i, th_error(reply), th_message(reply));
                        json_object_put(reply);
                        done[i] = true;
                        left--;
                        if (i == N_SLOW)
                                outstanding_at_status = left;
                }
        }
        print_message("# GetStatus answered with %u of %u DeriveKey calls outstanding\n", outstanding_at_status,
                      N_SLOW);
        /* it waited for the key request in progress, not for the queue */
        assert_true(outstanding_at_status >= N_SLOW - 2);
        assert_int_equal(count_sent(&t, "key"), N_SLOW);
        for (unsigned i = 0; i < N_SLOW; i++)
                th_conn_close(&d[i]);
        th_conn_close(&s);
        stop(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_request_per_binding),
                cmocka_unit_test(test_cache_off),
                cmocka_unit_test(test_report_read_ahead),
                cmocka_unit_test(test_state_change_drops_cache),
                cmocka_unit_test(test_status_not_behind_derive),
                cmocka_unit_test(test_success_log_limit),
        };

        return cmocka_run_group_tests_name("agent-cache", tests, NULL, NULL);
}

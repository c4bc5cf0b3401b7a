/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration-test harness for snpseald: a temporary directory with a
 * simulator state, the real daemon ("$SNPSEALD") started with a NOTIFY_SOCKET
 * the harness listens on, and a small raw varlink client over real sockets
 * (independent of lib/varlink.c, so hostile bytes can be sent too).
 *
 * Every wait is bounded; helpers return 0 / -errno and never call cmocka,
 * so they are safe in forked children.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "sim-state.h"

#define TH_READY_TIMEOUT_MS 10000
#define TH_STOP_TIMEOUT_MS 10000
#define TH_CALL_TIMEOUT_MS 10000
#define TH_POLL_STEP_MS 20
#define TH_NOBODY 65534

struct th_agent {
        char dir[64];                 /* mkdtemp() directory, mode 0755 */
        char state[PATH_MAX];         /* simulator state file */
        char sock[PATH_MAX];          /* varlink socket */
        char cred_sock[PATH_MAX];     /* credential socket */
        char conf[PATH_MAX];          /* config file (credstore = …) */
        char credstore[PATH_MAX];     /* credstore directory */
        char users[PATH_MAX];         /* user secret store (--user-store) */
        char notify[PATH_MAX];        /* NOTIFY_SOCKET path */
        char log[PATH_MAX];           /* the daemon's stdout + stderr */
        struct sim_state sim;         /* the state as last saved */
        pid_t pid;                    /* running daemon, 0 if none */
        int notify_fd;
        bool ready_seen;
        char status_text[256];        /* last STATUS= sent through sd_notify */
};

/* Create the directory, a fresh simulator state and the config file. */
int th_agent_setup(struct th_agent *t);
/* Write t->sim to t->state. */
int th_agent_save_state(struct th_agent *t);
/* Set KEY=VALUE in t->sim (sim_state_set) and save it. */
int th_agent_set_state(struct th_agent *t, const char *key, const char *value);
/* Build the daemon's argv: "$SNPSEALD" --backend=simulator … then extra
 * (NULL-terminated, may be NULL). *ret is malloc()ed, entries are static or
 * point into t. */
int th_agent_argv(struct th_agent *t, const char *const *extra, char ***ret);
/* Start the daemon with extra arguments and wait for READY=1 on the notify
 * socket (bounded). -ECHILD when it exited first, -ETIMEDOUT. */
int th_agent_start(struct th_agent *t, const char *const *extra);
/* Start argv (argv[0] is the program) as the daemon under the notify socket,
 * without waiting. */
int th_agent_spawn(struct th_agent *t, char *const *argv);
/* Wait for READY=1 (bounded). */
int th_agent_wait_ready(struct th_agent *t);
/* SIGTERM and a bounded wait; *ret_status is the waitpid() status. */
int th_agent_stop(struct th_agent *t, int *ret_status);
/* Wait (bounded) for the daemon to exit by itself. -ETIMEDOUT. */
int th_agent_wait_exit(struct th_agent *t, int timeout_ms, int *ret_status);
/* Kill whatever still runs, remove the directory. */
void th_agent_cleanup(struct th_agent *t);
/* Print the daemon's log as TAP comments. */
void th_agent_dump_log(const struct th_agent *t);
/* Whether the daemon's log contains s. */
bool th_agent_log_contains(const struct th_agent *t, const char *s);

/* /proc/PID/fd entries and VmRSS in KiB. */
int th_proc_fd_count(pid_t pid);
long th_proc_rss_kib(pid_t pid);
/* Wait until the daemon has exactly want fds open (bounded); returns the last count. */
int th_wait_fd_count(pid_t pid, int want, int timeout_ms);

/* ---- a raw varlink connection ---- */

struct th_conn {
        int fd;
        char *buf;        /* receive buffer */
        size_t len;
};

/* Connect to an AF_UNIX stream socket (a fresh blocking fd, CLOEXEC). */
int th_conn_open(const char *path, struct th_conn *ret);
int th_conn_from_fd(int fd, struct th_conn *ret);
void th_conn_close(struct th_conn *c);
/* Write all of p (bounded by TH_CALL_TIMEOUT_MS). */
int th_conn_send(struct th_conn *c, const void *p, size_t n);
/* Receive one NUL-terminated message and parse it as a JSON object.
 * -ECONNRESET on EOF or reset, -ETIMEDOUT, -EBADMSG (not a JSON object). */
int th_conn_recv(struct th_conn *c, int timeout_ms, json_object **ret);
/* Send {"method": method, "parameters": params} and receive the reply.
 * params is taken (NULL = {}). */
int th_conn_call(struct th_conn *c, const char *method, json_object *params, json_object **ret);
/* One call on a new connection to path. */
int th_call(const char *path, const char *method, json_object *params, json_object **ret);
/* Wait until the peer closes (EOF or reset) within timeout_ms, accepting
 * (and counting in *ret_errors) only complete varlink error messages before
 * that. -ETIMEDOUT if still open, -EBADMSG if something else arrived. */
int th_conn_expect_closed(struct th_conn *c, int timeout_ms, unsigned *ret_errors);

/* The reply's error name, NULL for a success reply. */
const char *th_error(json_object *reply);
/* The reply's parameters (never NULL for a parsed reply: {} when absent). */
json_object *th_params(json_object *reply);
/* A string member or NULL. */
const char *th_str(json_object *o, const char *key);
/* parameters.message of an error, or "". */
const char *th_message(json_object *reply);
/* JSON from a printf format (NULL on bad JSON). */
json_object *th_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* base64 (standard, padded) for tests: encode into a malloc()ed string,
 * decode into out (at most outsize) with *ret_len. */
char *th_b64(const void *p, size_t n);
int th_unb64(const char *s, void *out, size_t outsize, size_t *ret_len);
/* Lowercase hex into a malloc()ed string. */
char *th_hex(const void *p, size_t n);

/* Run fn(arg, wfd) in a child under uid/gid 65534; fn writes its results to
 * wfd. The child's output is read into buf (NUL-terminated). Returns the
 * child's exit status (0..255) or -errno. */
int th_run_as_nobody(int (*fn)(void *arg, int wfd), void *arg, char *buf, size_t size);

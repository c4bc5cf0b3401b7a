/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The server: listening sockets, varlink connections and their limits on
 * sd-event, and the logging set-up.
 *
 * A connection handles one request at a time: it reads until a complete
 * message is buffered, processes it, and does not read again until the reply
 * has been written. A client that never reads stalls only itself and is
 * dropped when its idle timer (reset on any progress) expires. Messages are
 * processed from a deferred event source, one per loop iteration, so a client
 * pipelining many requests does not starve the others.
 *
 * Method calls (but org.varlink.service's) and credential requests run on
 * threads (agent-worker.c): while one runs, its connection neither reads nor
 * times out; the loop goes on serving the others.
 *
 * Starvation: a non-root uid may hold at most agent_server_uid_limit()
 * connections, and the last agent_server_root_reserve() slots are for uid 0
 * only, so root (systemd-cryptsetup, the PAM posture gate, `snpseal status`)
 * is served however many connections users open. A message must be complete
 * within connection_timeout seconds of its first byte, so a trickle of bytes
 * does not keep a connection alive. Refusals are logged at most once per
 * REFUSE_LOG_INTERVAL, with the number of refusals not logged.
 *
 * Before it reports ready, a listening agent reads the launch's report
 * (not with --stdio, whose one connection is already waiting): at boot the
 * agent is started while udev still looks for the disks, and the first
 * unlock then finds the report kept and makes one firmware request, the
 * key's, instead of two. Connections that come meanwhile wait in the socket,
 * as the first one would have waited for the report anyway. Done before
 * READY=1, the read never races with anything a client does afterwards.
 *
 * Every call is logged, but successful ones one by one only up to
 * LOG_OK_BURST per LOG_OK_INTERVAL (a boot's unlocks are far fewer); the
 * rest of such a burst is counted and logged as one line when its interval
 * ends. Refused and failed calls are always logged one by one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <systemd/sd-journal.h>

#include "agent-server.h"
#include "backend.h"
#include "json-util.h"
#include "key-cache.h"
#include "log.h"
#include "macro.h"
#include "secret.h"
#include "varlink.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define LOG_FIELD_MAX 160
#define REFUSE_LOG_INTERVAL_USEC (10 * USEC_PER_SEC)
#define LOG_OK_BURST 50u
#define LOG_OK_INTERVAL_SEC 10u

enum listener_kind {
        LISTENER_VARLINK,
        LISTENER_CREDENTIALS,
        _LISTENER_MAX,
};

static const char *const listener_names[_LISTENER_MAX] = {
        [LISTENER_VARLINK] = "varlink",
        [LISTENER_CREDENTIALS] = "credentials",
};

struct listener {
        int fd;
        char *bound_path;          /* unlinked at exit when we bound it */
        dev_t bound_dev;           /* ... and it is still the socket we bound */
        ino_t bound_ino;
        sd_event_source *source;
};

struct agent_server;
struct connection;

/* One method call on a worker thread. */
struct call_job {
        struct connection *c;      /* NULL once the connection is gone */
        struct agent *agent;
        struct agent_peer peer;
        struct varlink_call call;
        struct agent_reply reply;
        int r;
};

struct connection {
        struct agent_server *server;
        struct connection *prev, *next;
        int in_fd, out_fd;         /* the same socket, or 0 and 1 for --stdio */
        struct agent_peer peer;
        struct varlink_rbuf rbuf;
        char *wbuf;                /* pending reply (secret memory) */
        size_t wlen, woff;
        bool eof, need_data;
        sd_event_source *in_source, *out_source, *process_source, *timer;
        sd_event_source *msg_timer;        /* deadline of the message being received */
        struct call_job *job;              /* the call running on a thread */
};

struct agent_server {
        struct agent *agent;
        sd_event_source *log_timer;        /* logs the count of unlogged successes */
        sd_event *event;
        struct listener listeners[_LISTENER_MAX];
        struct connection *connections;
        unsigned n_connections;
        unsigned idle_exit_sec;    /* 0: no idle exit */
        struct agent_worker *worker;
        uint64_t refuse_logged;    /* CLOCK_MONOTONIC usec of the last refusal logged */
        unsigned refuse_unlogged;  /* refusals since then not logged */
        sd_event_source *idle_timer;
        sd_event_source *key_cache_timer;  /* wipes expired firmware keys */
        bool stdio;
        int stdio_flags[2];        /* fd 0/1 flags to restore */
};

/* ---- logging ---- */

static bool log_journal;

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void agent_log_setup(void) {
        /* JOURNAL_STREAM names the journal stream systemd connected stderr to;
         * when it is set but stderr is elsewhere, someone redirected it. */
        if (getenv("JOURNAL_STREAM"))
                log_journal = stderr_is_journal();
        else
                log_journal = getenv("INVOCATION_ID") != NULL;
        log_set_sink(log_journal ? log_sink_journal : log_sink_stderr, (void *) "snpseald");
}

bool agent_log_to_journal(void) {
        return log_journal;
}

/* A printable copy of a peer-controlled string. */
static const char *log_clean(const char *s, char *buf, size_t size) {
        size_t i;

        for (i = 0; s[i] && i + 1 < size; i++)
                buf[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
        buf[i] = '\0';
        return buf;
}

/* Successful calls logged one by one (agent_log_call); shared with the
 * worker threads. */
static pthread_mutex_t log_ok_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t log_ok_start;     /* CLOCK_MONOTONIC usec the interval began; 0: none */
static unsigned log_ok_logged;    /* successes logged one by one in it */
static unsigned log_ok_unlogged;  /* and not */

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

static void log_unlogged(unsigned n) {
        if (n == 0)
                return;
        if (!log_journal) {
                log_info("%u further successful call%s not logged one by one (the first %u of every %u s are)",
                         n, n == 1 ? "" : "s", LOG_OK_BURST, LOG_OK_INTERVAL_SEC);
                return;
        }
        if (LOG_INFO > log_get_max_level())
                return;
        (void) sd_journal_send("MESSAGE=%u further successful call%s not logged one by one "
                               "(the first %u of every %u s are)", n, n == 1 ? "" : "s",
                               LOG_OK_BURST, LOG_OK_INTERVAL_SEC,
                               "PRIORITY=%i", LOG_INFO,
                               "SYSLOG_IDENTIFIER=snpseald",
                               "UNLOGGED_CALLS=%u", n,
                               NULL);
}

/* Whether this success is logged one by one; a finished interval's count
 * of unlogged ones is logged first. */
static bool log_ok_admit(void) {
        uint64_t now = monotonic_usec();
        unsigned flushed = 0;
        bool admit;

        (void) pthread_mutex_lock(&log_ok_lock);
        if (log_ok_start == 0 || now - log_ok_start >= LOG_OK_INTERVAL_SEC * USEC_PER_SEC) {
                flushed = log_ok_unlogged;
                log_ok_start = now;
                log_ok_logged = log_ok_unlogged = 0;
        }
        admit = log_ok_logged < LOG_OK_BURST;
        if (admit)
                log_ok_logged++;
        else
                log_ok_unlogged++;
        (void) pthread_mutex_unlock(&log_ok_lock);
        log_unlogged(flushed);
        return admit;
}

/* The end of the interval whose unlogged successes are still to be logged
 * (CLOCK_MONOTONIC usec), 0 when none are. */
static uint64_t log_ok_due(void) {
        uint64_t due = 0;

        (void) pthread_mutex_lock(&log_ok_lock);
        if (log_ok_unlogged > 0)
                due = log_ok_start + LOG_OK_INTERVAL_SEC * USEC_PER_SEC;
        (void) pthread_mutex_unlock(&log_ok_lock);
        return due;
}

/* Log the count of unlogged successes: when their interval has ended, or
 * (at exit) now. */
static void log_ok_flush(bool now) {
        unsigned n = 0;

        (void) pthread_mutex_lock(&log_ok_lock);
        if (log_ok_unlogged > 0 &&
            (now || monotonic_usec() - log_ok_start >= LOG_OK_INTERVAL_SEC * USEC_PER_SEC)) {
                n = log_ok_unlogged;
                log_ok_start = 0;
                log_ok_logged = log_ok_unlogged = 0;
        }
        (void) pthread_mutex_unlock(&log_ok_lock);
        log_unlogged(n);
}

void agent_log_call(const char *method, const char *purpose, const struct agent_peer *peer,
                    const char *result) {
        char m[LOG_FIELD_MAX], p[LOG_FIELD_MAX];
        int prio = result && strcmp(result, "ok") == 0 ? LOG_INFO : LOG_NOTICE;

        if (prio == LOG_INFO && (prio > log_get_max_level() || !log_ok_admit()))
                return;

        log_clean(method ? method : "?", m, sizeof(m));
        log_clean(purpose ? purpose : "", p, sizeof(p));
        result = result ? result : "?";
        if (!log_journal) {
                log_full(prio, "%s from uid %u pid %d%s%s: %s", m, (unsigned) peer->uid, (int) peer->pid,
                         purpose ? " purpose " : "", p, result);
                return;
        }
        if (prio > log_get_max_level())
                return;
        (void) sd_journal_send("MESSAGE=%s from uid %u pid %d%s%s: %s", m, (unsigned) peer->uid,
                               (int) peer->pid, purpose ? " purpose " : "", p, result,
                               "PRIORITY=%i", prio,
                               "SYSLOG_IDENTIFIER=snpseald",
                               "METHOD=%s", m,
                               "PURPOSE=%s", p,
                               "PEER_UID=%u", (unsigned) peer->uid,
                               "PEER_PID=%d", (int) peer->pid,
                               "RESULT=%s", result,
                               NULL);
}

/* ---- timers ---- */

static int timer_arm(sd_event_source *s, unsigned sec) {
        uint64_t now;
        int r;

        r = sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_source_set_time(s, now + (uint64_t) sec * USEC_PER_SEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct agent_server *srv = userdata;

        log_info("no connections for %u s, exiting", srv->idle_exit_sec);
        return sd_event_exit(srv->event, 0);
}

/* Arm the idle-exit timer when nothing is connected, disarm it otherwise. */
static void server_idle_update(struct agent_server *srv) {
        int r;

        if (!srv->idle_timer)
                return;
        if (srv->n_connections > 0)
                r = sd_event_source_set_enabled(srv->idle_timer, SD_EVENT_OFF);
        else
                r = timer_arm(srv->idle_timer, srv->idle_exit_sec);
        if (r < 0)
                log_warning("cannot update the idle timer: %s", strerror(-r));
}

/* ---- connections ---- */

static void connection_free(struct connection *c, bool dropped) {
        struct agent_server *srv = c->server;

        sd_event_source_disable_unref(c->in_source);
        sd_event_source_disable_unref(c->out_source);
        sd_event_source_disable_unref(c->process_source);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->msg_timer);
        if (c->job)
                c->job->c = NULL;  /* the call finishes without us */
        if (!srv->stdio && c->in_fd >= 0)
                (void) close(c->in_fd);
        varlink_rbuf_done(&c->rbuf);
        secret_free(c->wbuf);
        if (c->prev)
                c->prev->next = c->next;
        else
                srv->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        srv->n_connections--;
        free(c);
        /* After a burst, give back the heap pages its buffers left free
         * (glibc keeps them otherwise): the agent idles most of its life. */
        if (srv->n_connections == 0)
                (void) malloc_trim(0);
        if (srv->stdio)
                (void) sd_event_exit(srv->event, dropped ? 1 : 0);
        else
                server_idle_update(srv);
}

static void connection_drop(struct connection *c, const char *fmt, ...) _printf_(2, 3);
static void connection_drop(struct connection *c, const char *fmt, ...) {
        char reason[256];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        log_warning("dropping connection from uid %u pid %d: %s", (unsigned) c->peer.uid,
                    (int) c->peer.pid, reason);
        connection_free(c, true);
}

/* Watch for input only when we want the next request, for output only while
 * a reply is pending. */
static int connection_update(struct connection *c) {
        bool want_in = !c->wbuf && !c->eof && c->need_data && !c->job;
        bool want_out = c->wbuf;
        int r;

        if (!c->out_source)   /* one socket: one source, switch its events */
                return sd_event_source_set_io_events(c->in_source,
                                                     (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0));
        r = sd_event_source_set_enabled(c->in_source, want_in ? SD_EVENT_ON : SD_EVENT_OFF);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->out_source, want_out ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void connection_progress(struct connection *c) {
        if (c->timer && timer_arm(c->timer, c->server->agent->cfg.connection_timeout_sec) < 0)
                log_warning("cannot reset a connection timer");
}

/* The absolute deadline of a message: armed at its first byte, never
 * extended by further bytes, disarmed when the message is complete. */
static void connection_message_deadline(struct connection *c) {
        int enabled = SD_EVENT_OFF;

        if (!c->msg_timer)
                return;
        if (c->rbuf.len == 0) {
                if (sd_event_source_set_enabled(c->msg_timer, SD_EVENT_OFF) < 0)
                        log_warning("cannot stop a message timer");
                return;
        }
        if (sd_event_source_get_enabled(c->msg_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        if (timer_arm(c->msg_timer, c->server->agent->cfg.connection_timeout_sec) < 0)
                log_warning("cannot arm a message timer");
}

/* Write what we can of the pending reply: 1 when all is written, 0 when the
 * peer is not ready, < 0 on failure. */
static int connection_flush(struct connection *c) {
        while (c->woff < c->wlen) {
                ssize_t n = write(c->out_fd, c->wbuf + c->woff, c->wlen - c->woff);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n < 0)
                        return -errno;
                c->woff += (size_t) n;
                connection_progress(c);
        }
        secret_free(c->wbuf);
        c->wbuf = NULL;
        c->wlen = c->woff = 0;
        return 1;
}

/* Queue the reply of a call (r from agent_dispatch). */
static int connection_reply(struct connection *c, const struct varlink_call *call, const struct agent_reply *reply,
                            int r) {
        if (r >= 0 && !call->oneway)
                r = reply->error ? varlink_encode_error(reply->error, reply->parameters, &c->wbuf, &c->wlen)
                                 : varlink_encode_reply(reply->parameters, &c->wbuf, &c->wlen);
        if (r < 0)
                connection_drop(c, "cannot build the reply: %s", strerror(-r));
        return r;
}

static void call_job_run(void *arg) {
        struct call_job *j = arg;

        j->r = agent_dispatch(j->agent, &j->peer, j->call.method, j->call.parameters, &j->reply);
}

static int connection_continue(struct connection *c);

/* ---- the firmware key cache's expiry ---- */

/* Keys enter the cache on worker threads; after each call, on the loop, the
 * timer is set to the earliest expiry, so an expired key is wiped even when
 * nobody calls again. */
static void server_key_cache_arm(struct agent_server *srv) {
        struct snp_key_cache *kc = srv->agent->backend->key_cache;
        uint64_t next;

        if (!kc || !srv->key_cache_timer)
                return;
        next = snp_key_cache_next_expiry(kc);
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(srv->key_cache_timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(srv->key_cache_timer, next);
        (void) sd_event_source_set_enabled(srv->key_cache_timer, SD_EVENT_ONESHOT);
}

static int on_key_cache_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct agent_server *srv = userdata;
        unsigned n = snp_key_cache_expire(srv->agent->backend->key_cache, snp_key_cache_now());

        if (n > 0)
                log_info("key cache: %u firmware key%s expired and wiped", n, n == 1 ? "" : "s");
        server_key_cache_arm(srv);
        return 0;
}

/* ---- the count of successes not logged one by one ---- */

/* After calls, on the loop: log the count when its interval ends, even
 * when nobody calls then. */
static void server_log_arm(struct agent_server *srv) {
        uint64_t due = log_ok_due();
        int enabled = SD_EVENT_OFF;

        if (!srv->log_timer || due == 0 ||
            (sd_event_source_get_enabled(srv->log_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF))
                return;
        (void) sd_event_source_set_time(srv->log_timer, due);
        (void) sd_event_source_set_enabled(srv->log_timer, SD_EVENT_ONESHOT);
}

static int on_log_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        log_ok_flush(false);
        server_log_arm(userdata);
        return 0;
}

static int server_log_setup(struct agent_server *srv) {
        return sd_event_add_time(srv->event, &srv->log_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_log_timer, srv);
}

static int server_key_cache_setup(struct agent_server *srv) {
        if (!srv->agent->backend->key_cache)
                return 0;
        return sd_event_add_time(srv->event, &srv->key_cache_timer, CLOCK_BOOTTIME, UINT64_MAX, 0,
                                 on_key_cache_timer, srv);
}

static void call_job_done(void *arg, bool ran) {
        struct call_job *j = arg;
        struct connection *c = j->c;

        server_key_cache_arm(j->agent->server);
        server_log_arm(j->agent->server);

        if (c) {
                c->job = NULL;
                if (connection_reply(c, &j->call, &j->reply, ran ? j->r : -ENOMEM) >= 0) {
                        connection_progress(c);
                        (void) connection_continue(c);
                }
        }
        agent_reply_done(&j->reply);
        varlink_call_done(&j->call);
        free(j);
}

/* Hand the call to a worker thread; c waits (no reads, no idle timeout). */
static int connection_submit(struct connection *c, struct varlink_call *call) {
        struct call_job *j = calloc(1, sizeof(*j));
        int r;

        if (!j)
                return -ENOMEM;
        *j = (struct call_job) { .c = c, .agent = c->server->agent, .peer = c->peer, .call = *call };
        *call = (struct varlink_call) {};
        c->job = j;
        if (c->timer)
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        r = agent_worker_submit(c->server->worker, c->peer.uid, call_job_run, call_job_done, j);
        if (r < 0) {
                c->job = NULL;
                *call = j->call;
                free(j);
        }
        return r;
}

/* Parse and dispatch one message: org.varlink.service at once, and a call
 * that needs no waiting (agent_dispatch_no_wait); the rest on a thread. */
static int connection_handle(struct connection *c, const char *msg, size_t len) {
        struct varlink_call call = { 0 };
        struct agent_reply reply = { 0 };
        char err[256];
        int r;

        r = varlink_call_parse(msg, len, &call, err, sizeof(err));
        if (r < 0) {
                connection_drop(c, "malformed message: %s", err);
                return r;
        }
        if (c->server->worker && strncmp(call.method, "org.varlink.service.", 20) != 0) {
                /* answered here when that needs no waiting (a repeated DeriveKey) */
                r = agent_dispatch_no_wait(c->server->agent, &c->peer, call.method, call.parameters, &reply);
                if (r != -EWOULDBLOCK) {
                        server_log_arm(c->server);
                        r = connection_reply(c, &call, &reply, r);
                        agent_reply_done(&reply);
                        varlink_call_done(&call);
                        return r;
                }
                r = connection_submit(c, &call);
                varlink_call_done(&call);
                if (r < 0)
                        connection_drop(c, "cannot start the call: %s", strerror(-r));
                return r;
        }
        r = agent_dispatch(c->server->agent, &c->peer, call.method, call.parameters, &reply);
        server_log_arm(c->server);
        r = connection_reply(c, &call, &reply, r);
        agent_reply_done(&reply);
        varlink_call_done(&call);
        return r;
}

/* One step: the next buffered message, or the end of the connection.
 * Returns 0 to go on, < 0 when c was freed. */
static int connection_step(struct connection *c) {
        unsigned max = c->server->agent->cfg.max_message;
        const char *msg;
        size_t len;
        int r;

        r = varlink_rbuf_next(&c->rbuf, &msg, &len);
        if (r < 0) {
                connection_drop(c, "cannot frame the input: %s", strerror(-r));
                return r;
        }
        if (r == 0) {
                c->need_data = true;
                if (c->rbuf.len >= max) {
                        connection_drop(c, "message larger than %u bytes", max);
                        return -EMSGSIZE;
                }
                if (c->eof && c->rbuf.len > 0) {
                        connection_drop(c, "connection closed inside a message (no NUL terminator)");
                        return -EBADMSG;
                }
                if (c->eof) {
                        connection_free(c, false);
                        return -ECONNRESET;
                }
                return 0;
        }
        if (len + 1 > max) {
                connection_drop(c, "message larger than %u bytes", max);
                return -EMSGSIZE;
        }
        r = connection_handle(c, msg, len);
        if (r < 0)
                return r;
        varlink_rbuf_consume(&c->rbuf, len + 1);
        /* Another message may be buffered: then the next step takes it. When
         * none is, and nothing else is left to check (a call on a thread, the
         * end of input, a full buffer), want input at once, without another
         * turn of the loop: every turn polls every ready connection. */
        c->need_data = !c->job && !c->eof && c->rbuf.len < max && varlink_rbuf_next(&c->rbuf, &msg, &len) == 0;
        /* the next message's deadline starts now, from its buffered bytes */
        if (c->msg_timer)
                (void) sd_event_source_set_enabled(c->msg_timer, SD_EVENT_OFF);
        connection_message_deadline(c);
        return 0;
}

/* After any event: write what is pending, schedule processing, update the
 * watched events. */
static int connection_continue(struct connection *c) {
        int r;

        if (c->wbuf) {
                r = connection_flush(c);
                if (r < 0) {
                        log_info("connection from uid %u pid %d closed while sending: %s",
                                 (unsigned) c->peer.uid, (int) c->peer.pid, strerror(-r));
                        connection_free(c, r != -EPIPE && r != -ECONNRESET);
                        return r;
                }
        }
        if (!c->wbuf && !c->job && (!c->need_data || c->eof)) {
                r = sd_event_source_set_enabled(c->process_source, SD_EVENT_ONESHOT);
                if (r < 0)
                        goto fail;
        }
        r = connection_update(c);
        if (r < 0)
                goto fail;
        return 0;
fail:
        connection_drop(c, "event loop failure: %s", strerror(-r));
        return r;
}

static int on_connection_process(sd_event_source *s, void *userdata) {
        struct connection *c = userdata;

        if (c->wbuf || c->job)
                return 0;
        if (connection_step(c) < 0)
                return 0;
        (void) connection_continue(c);
        return 0;
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct connection *c = userdata;
        int r;

        if (!c->wbuf && !c->eof && c->need_data) {
                r = varlink_rbuf_read(&c->rbuf, c->in_fd);
                if (r == -EMSGSIZE) {
                        connection_drop(c, "message larger than %u bytes",
                                        c->server->agent->cfg.max_message);
                        return 0;
                }
                if (r < 0 && r != -EAGAIN && r != -EINTR) {
                        log_info("connection from uid %u pid %d: read failed: %s", (unsigned) c->peer.uid,
                                 (int) c->peer.pid, strerror(-r));
                        connection_free(c, r != -ECONNRESET);
                        return 0;
                }
                if (r == 0)
                        c->eof = true;
                if (r >= 0) {
                        c->need_data = false;
                        connection_progress(c);
                        connection_message_deadline(c);
                        /* the message now, not on the next turn of the loop */
                        if (!c->job && connection_step(c) < 0)
                                return 0;
                }
        }
        (void) connection_continue(c);
        return 0;
}

static int on_connection_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct connection *c = userdata;

        connection_drop(c, "%s for %u s", c->wbuf ? "not reading its reply" : "idle",
                        c->server->agent->cfg.connection_timeout_sec);
        return 0;
}

static int on_message_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct connection *c = userdata;

        connection_drop(c, "message not complete %u s after its first byte",
                        c->server->agent->cfg.connection_timeout_sec);
        return 0;
}

static int connection_sources(struct connection *c) {
        sd_event *e = c->server->event;
        int r;

        r = sd_event_add_io(e, &c->in_source, c->in_fd, EPOLLIN, on_connection_io, c);
        if (r < 0)
                return r;
        if (c->out_fd != c->in_fd) {
                r = sd_event_add_io(e, &c->out_source, c->out_fd, EPOLLOUT, on_connection_io, c);
                if (r < 0)
                        return r;
        }
        r = sd_event_add_defer(e, &c->process_source, on_connection_process, c);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(c->process_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        if (!c->server->stdio) {
                r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_connection_timer, c);
                if (r < 0)
                        return r;
                r = timer_arm(c->timer, c->server->agent->cfg.connection_timeout_sec);
                if (r < 0)
                        return r;
                r = sd_event_add_time(e, &c->msg_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_message_timer, c);
                if (r < 0)
                        return r;
                r = sd_event_source_set_enabled(c->msg_timer, SD_EVENT_OFF);
                if (r < 0)
                        return r;
        }
        return connection_update(c);
}

/* Takes the fds (closed on failure unless --stdio). */
static int connection_new(struct agent_server *srv, int in_fd, int out_fd, const struct agent_peer *peer) {
        struct connection *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                if (!srv->stdio)
                        (void) close(in_fd);
                return -ENOMEM;
        }
        *c = (struct connection) {
                .server = srv, .in_fd = in_fd, .out_fd = out_fd, .peer = *peer,
                .need_data = true, .next = srv->connections,
        };
        if (srv->connections)
                srv->connections->prev = c;
        srv->connections = c;
        srv->n_connections++;
        r = varlink_rbuf_init(&c->rbuf);
        if (r >= 0)
                r = connection_sources(c);
        if (r < 0) {
                log_error("cannot set up a connection: %s", strerror(-r));
                connection_free(c, true);
                return r;
        }
        server_idle_update(srv);
        return 0;
}

/* The peer of socket fd; on failure *ret is nobody's (uid and gid -1, pid 0),
 * which callers that go on regardless (the credential socket) rely on. */
static int peer_of(int fd, struct agent_peer *ret) {
        struct ucred uc;
        socklen_t len = sizeof(uc);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
                int r = -errno;

                *ret = (struct agent_peer) { .uid = (uid_t) -1, .gid = (gid_t) -1, .pid = 0 };
                return r;
        }
        *ret = (struct agent_peer) { .uid = uc.uid, .gid = uc.gid, .pid = uc.pid };
        return 0;
}

/* ---- admission ---- */

unsigned agent_server_uid_limit(unsigned max_connections) {
        return max_connections / 8 > 1 ? max_connections / 8 : 1;
}

unsigned agent_server_root_reserve(unsigned max_connections) {
        unsigned r = max_connections / 8 > 1 ? max_connections / 8 : 1;

        return r < max_connections ? r : 0;
}

static unsigned connections_of(const struct agent_server *srv, uid_t uid) {
        unsigned n = 0;

        for (const struct connection *c = srv->connections; c; c = c->next)
                n += c->peer.uid == uid;
        return n;
}

/* NULL to admit peer, else why not. */
static const char *admission_refusal(const struct agent_server *srv, const struct agent_peer *peer,
                                     char *buf, size_t size) {
        unsigned max = srv->agent->cfg.max_connections;

        if (srv->n_connections >= max)
                (void) snprintf(buf, size, "%u connections open (max_connections)", srv->n_connections);
        else if (peer->uid == 0)
                return NULL;
        else if (srv->n_connections >= max - agent_server_root_reserve(max))
                (void) snprintf(buf, size, "the last %u of %u connections are reserved for root",
                                agent_server_root_reserve(max), max);
        else if (connections_of(srv, peer->uid) >= agent_server_uid_limit(max))
                (void) snprintf(buf, size, "uid %u already has %u connections open (at most max_connections/8)",
                                (unsigned) peer->uid, agent_server_uid_limit(max));
        else
                return NULL;
        return buf;
}

/* One log line per REFUSE_LOG_INTERVAL_USEC at most, counting the others. */
static void log_refusal(struct agent_server *srv, const struct agent_peer *peer, const char *why) {
        uint64_t now = 0;

        (void) sd_event_now(srv->event, CLOCK_MONOTONIC, &now);
        if (srv->refuse_logged != 0 && now - srv->refuse_logged < REFUSE_LOG_INTERVAL_USEC) {
                srv->refuse_unlogged++;
                return;
        }
        if (srv->refuse_unlogged > 0)
                log_warning("refusing connection from uid %u pid %d: %s (and %u refusals not logged "
                            "in the last %u s)", (unsigned) peer->uid, (int) peer->pid, why,
                            srv->refuse_unlogged, (unsigned) (REFUSE_LOG_INTERVAL_USEC / USEC_PER_SEC));
        else
                log_warning("refusing connection from uid %u pid %d: %s", (unsigned) peer->uid,
                            (int) peer->pid, why);
        srv->refuse_logged = now;
        srv->refuse_unlogged = 0;
}

/* ---- listeners ---- */

static int on_varlink_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct agent_server *srv = userdata;
        struct agent_peer peer;
        const char *why;
        char buf[128];
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning("accept on the varlink socket failed: %m");
                return 0;
        }
        if (peer_of(cfd, &peer) < 0) {
                log_warning("cannot read peer credentials, closing the connection: %m");
                (void) close(cfd);
                return 0;
        }
        why = admission_refusal(srv, &peer, buf, sizeof(buf));
        if (why) {
                log_refusal(srv, &peer, why);
                (void) close(cfd);
                return 0;
        }
        (void) connection_new(srv, cfd, cfd, &peer);
        return 0;
}

/* A credential request on a worker thread: it reaches the firmware. */
struct cred_job {
        struct agent_server *srv;
        int fd;
};

static void cred_job_run(void *arg) {
        struct cred_job *j = arg;

        agent_credentials_serve(j->srv->agent, TAKE_FD(j->fd));
}

static void cred_job_done(void *arg, bool ran) {
        struct cred_job *j = arg;

        if (j->fd >= 0)
                (void) close(j->fd);
        server_key_cache_arm(j->srv);
        server_log_arm(j->srv);
        if (ran)
                server_idle_update(j->srv);
        free(j);
}

static int on_credentials_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct agent_server *srv = userdata;
        struct agent_peer peer = {};
        struct cred_job *j;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning("accept on the credential socket failed: %m");
                return 0;
        }
        /* the peer is checked when served; its uid only decides admission here */
        (void) peer_of(cfd, &peer);
        j = srv->worker ? malloc(sizeof(*j)) : NULL;
        if (j) {
                *j = (struct cred_job) { .srv = srv, .fd = cfd };
                if (agent_worker_submit(srv->worker, peer.uid, cred_job_run, cred_job_done, j) >= 0)
                        return 0;
                free(j);
        }
        agent_credentials_serve(srv->agent, cfd);
        server_idle_update(srv);
        return 0;
}

static const sd_event_io_handler_t listener_handlers[_LISTENER_MAX] = {
        [LISTENER_VARLINK] = on_varlink_accept,
        [LISTENER_CREDENTIALS] = on_credentials_accept,
};

/* A stale socket file is replaced; a live one (someone accepts) is not. */
static int listen_prepare_path(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(closep) int fd = -1;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode)) {
                log_error("%s exists and is not a socket; not replacing it", path);
                return -EEXIST;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                log_error("another process is listening on %s", path);
                return -EADDRINUSE;
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Create the parent directory (0755) when it is missing. */
static int listen_make_parent(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        const char *dir;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        if (mkdir(dir, 0755) < 0)
                return errno == EEXIST ? 0 : -errno;
        if (chmod(dir, 0755) < 0)   /* undo the umask */
                return -errno;
        return 0;
}

static int listen_bind(const char *path, mode_t mode, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(closep) int fd = -1;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        r = listen_make_parent(path);
        if (r < 0)
                return r;
        r = listen_prepare_path(path);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        /* Access is decided per peer uid for the varlink socket; the
         * credential socket is root's. */
        if (chmod(path, mode) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void) unlink(path);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int server_add_listener(struct agent_server *srv, enum listener_kind k, int fd) {
        int r;

        srv->listeners[k].fd = fd;
        r = sd_event_add_io(srv->event, &srv->listeners[k].source, fd, EPOLLIN, listener_handlers[k], srv);
        if (r < 0)
                log_error("cannot watch the %s socket: %s", listener_names[k], strerror(-r));
        return r;
}

/* Socket activation: 0 when none was passed, 1 when listeners were set up. */
static int server_listen_activated(struct agent_server *srv) {
        char **names = NULL;
        int n, r = 1;

        n = sd_listen_fds_with_names(1, &names);
        if (n <= 0) {
                if (n < 0)
                        log_warning("ignoring socket activation: %s", strerror(-n));
                return 0;
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i, k = -1;

                for (int j = 0; j < _LISTENER_MAX; j++)
                        if (names && names[i] && strcmp(names[i], listener_names[j]) == 0)
                                k = j;
                if (k < 0 && n == 1)
                        k = LISTENER_VARLINK;   /* one unnamed socket */
                if (k < 0 || srv->listeners[k].fd >= 0 || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
                        log_error("unexpected socket passed by the service manager (#%d, name '%s'): "
                                  "expected listening AF_UNIX stream sockets named 'varlink' and 'credentials'",
                                  i, names && names[i] ? names[i] : "");
                        r = -EBADF;
                        (void) close(fd);
                        continue;
                }
                if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
                    server_add_listener(srv, (enum listener_kind) k, fd) < 0)
                        r = -EBADF;
        }
        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

static int server_listen_one(struct agent_server *srv, enum listener_kind k, const char *path, mode_t mode) {
        struct stat st;
        int fd = -1, r;

        r = listen_bind(path, mode, &fd);
        if (r < 0) {
                log_error("cannot listen on %s: %s", path, strerror(-r));
                return r;
        }
        srv->listeners[k].bound_path = strdup(path);
        if (!srv->listeners[k].bound_path || lstat(path, &st) < 0) {
                r = srv->listeners[k].bound_path ? -errno : -ENOMEM;
                (void) close(fd);
                (void) unlink(path);
                return r;
        }
        srv->listeners[k].bound_dev = st.st_dev;
        srv->listeners[k].bound_ino = st.st_ino;
        return server_add_listener(srv, k, fd);
}

/* Bind the sockets ourselves. The credential socket is bound at its
 * configured path, or at the default when the varlink socket is at its
 * default too: an agent started on a test socket does not take over the
 * system's credential socket. */
static int server_listen_bind(struct agent_server *srv) {
        const struct agent_config *cfg = &srv->agent->cfg;
        int r;

        r = server_listen_one(srv, LISTENER_VARLINK, cfg->listen ? cfg->listen : AGENT_DEFAULT_SOCKET, 0666);
        if (r < 0)
                return r;
        if (cfg->credentials_listen)
                return server_listen_one(srv, LISTENER_CREDENTIALS, cfg->credentials_listen, 0600);
        if (!agent_config_is_explicit(cfg, AGENT_SETTING_LISTEN))
                return server_listen_one(srv, LISTENER_CREDENTIALS, AGENT_DEFAULT_CRED_SOCKET, 0600);
        return 0;
}

/* --stdio: one connection on fd 0 (read) and fd 1 (write). */
static int server_stdio(struct agent_server *srv) {
        struct agent_peer peer = { .uid = getuid(), .gid = getgid(), .pid = getppid() }, sock;
        int r;

        if (peer_of(STDIN_FILENO, &sock) >= 0)   /* when stdin is a socket */
                peer = sock;
        for (int fd = 0; fd < 2; fd++) {
                srv->stdio_flags[fd] = fcntl(fd, F_GETFL);
                if (srv->stdio_flags[fd] < 0 || fcntl(fd, F_SETFL, srv->stdio_flags[fd] | O_NONBLOCK) < 0) {
                        log_error("--stdio: fd %d is not usable: %m", fd);
                        return -EBADF;
                }
        }
        r = connection_new(srv, STDIN_FILENO, STDOUT_FILENO, &peer);
        if (r == -EPERM)
                log_error("--stdio needs pipes, sockets or a terminal on stdin and stdout, not regular "
                          "files or /dev/null");
        return r;
}

static int server_setup(struct agent_server *srv) {
        const struct agent_config *cfg = &srv->agent->cfg;
        bool activated = false;
        int r;

        if (cfg->stdio)
                return server_stdio(srv);
        r = server_listen_activated(srv);
        if (r < 0)
                return r;
        activated = r > 0;
        if (!activated) {
                r = server_listen_bind(srv);
                if (r < 0)
                        return r;
        }
        if (activated || agent_config_is_explicit(cfg, AGENT_SETTING_IDLE_EXIT))
                srv->idle_exit_sec = cfg->idle_exit_sec;
        if (srv->idle_exit_sec > 0) {
                r = sd_event_add_time(srv->event, &srv->idle_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
                                      on_idle_timer, srv);
                if (r < 0)
                        return r;
                server_idle_update(srv);
        }
        return 0;
}

static void server_done(struct agent_server *srv) {
        struct stat st;

        while (srv->connections)
                connection_free(srv->connections, false);
        agent_worker_free(srv->worker);   /* waits for running calls */
        srv->worker = NULL;
        sd_event_source_disable_unref(srv->idle_timer);
        sd_event_source_disable_unref(srv->key_cache_timer);
        sd_event_source_disable_unref(srv->log_timer);
        log_ok_flush(true);
        for (int k = 0; k < _LISTENER_MAX; k++) {
                struct listener *l = &srv->listeners[k];

                sd_event_source_disable_unref(l->source);
                if (l->fd >= 0)
                        (void) close(l->fd);
                /* Only our own socket: another agent may have replaced it
                 * at that path since (after a stale one was removed). */
                if (l->bound_path && lstat(l->bound_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
                    st.st_dev == l->bound_dev && st.st_ino == l->bound_ino)
                        (void) unlink(l->bound_path);
                free(l->bound_path);
        }
        for (int fd = 0; srv->stdio && fd < 2; fd++)
                if (srv->stdio_flags[fd] >= 0)
                        (void) fcntl(fd, F_SETFL, srv->stdio_flags[fd]);
        sd_event_unref(srv->event);
}

static int server_signals(struct agent_server *srv) {
        sigset_t ss;
        int r;

        if (sigemptyset(&ss) < 0 || sigaddset(&ss, SIGTERM) < 0 || sigaddset(&ss, SIGINT) < 0 ||
            sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        /* No handler: the loop exits with status 0. */
        r = sd_event_add_signal(srv->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(srv->event, NULL, SIGINT, NULL, NULL);
        return r;
}

static void server_notify_ready(const struct agent_server *srv) {
        const struct agent_config *cfg = &srv->agent->cfg;

        if (srv->stdio)
                return;
        (void) sd_notifyf(0, "READY=1\nSTATUS=Serving on %s (backend %s)%s",
                          srv->listeners[LISTENER_VARLINK].bound_path ?
                          srv->listeners[LISTENER_VARLINK].bound_path : "the activated socket",
                          srv->agent->backend_name,
                          cfg->backend == AGENT_BACKEND_SIMULATOR ? ", SIMULATOR: not for production" : "");
        log_info("ready: varlink on %s%s%s, backend %s",
                 srv->listeners[LISTENER_VARLINK].bound_path ?
                 srv->listeners[LISTENER_VARLINK].bound_path : "the activated socket",
                 srv->listeners[LISTENER_CREDENTIALS].fd >= 0 ? ", credentials on " : "",
                 srv->listeners[LISTENER_CREDENTIALS].fd < 0 ? "" :
                 srv->listeners[LISTENER_CREDENTIALS].bound_path ?
                 srv->listeners[LISTENER_CREDENTIALS].bound_path : "the activated socket",
                 srv->agent->backend_name);
}

/* The launch's report, read ahead. A failure is left to the first call
 * that needs the report: it asks again and says why. */
static void prefetch_report(struct agent *a) {
        struct snp_report report;
        struct snp_error err = {};

        if (snp_backend_launch_report(a->backend, &report, &err) < 0)
                log_debug("reading the launch's report ahead failed: %s", err.message);
        else
                log_debug("the launch's report read ahead and kept");
}

int agent_server_run(struct agent *a) {
        struct agent_server srv = {
                .agent = a,
                .stdio = a->cfg.stdio,
                .listeners = { { .fd = -1 }, { .fd = -1 } },
                .stdio_flags = { -1, -1 },
        };
        int r;

        r = sd_event_new(&srv.event);
        if (r < 0) {
                log_error("cannot create the event loop: %s", strerror(-r));
                return r;
        }
        (void) sd_event_set_watchdog(srv.event, true);   /* WatchdogSec= in the unit, if set */
        a->server = &srv;
        r = server_signals(&srv);
        if (r >= 0)
                r = agent_worker_new(srv.event, &srv.worker);
        if (r >= 0)
                r = server_key_cache_setup(&srv);
        if (r >= 0)
                r = server_log_setup(&srv);
        if (r >= 0)
                r = server_setup(&srv);
        if (r >= 0) {
                if (!srv.stdio)
                        prefetch_report(a);
                server_notify_ready(&srv);
                r = sd_event_loop(srv.event);
                if (r < 0)
                        log_error("event loop failed: %s", strerror(-r));
                if (!srv.stdio)
                        (void) sd_notify(0, "STOPPING=1");
        }
        server_done(&srv);
        a->server = NULL;
        return r;
}

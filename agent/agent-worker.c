/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Slow work off the event loop: every method call that may reach the
 * firmware or run a KDF, and every credential request, runs on a thread of
 * its own, and its completion is
 * handed back to the loop through a pipe. The loop never waits for a call, so
 * one slow call (an expensive Unseal, a stalled firmware request) does not
 * delay the others.
 *
 * Admission bounds what users can make the agent do at once: a uid other
 * than 0 has at most WORKER_PER_UID calls running and all of them together
 * at most WORKER_USERS; further calls wait in FIFO order for one of theirs
 * to finish. Root's calls always start at once, so root is never queued
 * behind users (docs/PROTOCOL.md).
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-server.h"
#include "log.h"
#include "macro.h"

struct worker_job {
        struct agent_worker *w;
        uid_t uid;
        agent_worker_fn fn;
        agent_worker_done_fn done;
        void *arg;
        pthread_t thread;
        bool started;
        struct worker_job *prev, *next;
};

struct agent_worker {
        sd_event_source *source;
        int pipe[2];                /* job pointers of finished calls */
        struct worker_job *jobs;    /* running and queued, oldest first */
        struct worker_job *last;
        unsigned running_users;     /* running calls of uids other than 0 */
};

static unsigned running_of(const struct agent_worker *w, uid_t uid) {
        unsigned n = 0;

        for (const struct worker_job *j = w->jobs; j; j = j->next)
                n += j->started && j->uid == uid;
        return n;
}

static bool admissible(const struct agent_worker *w, uid_t uid) {
        return uid == 0 || (w->running_users < AGENT_WORKER_USERS && running_of(w, uid) < AGENT_WORKER_PER_UID);
}

static void *job_thread(void *p) {
        struct worker_job *j = p;
        ssize_t n;

        j->fn(j->arg);
        do
                n = write(j->w->pipe[1], &j, sizeof(j));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(j))
                log_error("cannot hand a finished call back to the event loop: %m");
        return NULL;
}

static int job_start(struct worker_job *j) {
        pthread_attr_t attr;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_create(&j->thread, &attr, job_thread, j);
        (void) pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        j->started = true;
        if (j->uid != 0)
                j->w->running_users++;
        return 0;
}

static void job_unlink(struct worker_job *j) {
        struct agent_worker *w = j->w;

        if (j->prev)
                j->prev->next = j->next;
        else
                w->jobs = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                w->last = j->prev;
        if (j->started && j->uid != 0)
                w->running_users--;
}

/* Start what the admission rules allow now, oldest first. A job that cannot
 * get a thread is finished as failed (fn never ran: done gets ran false). */
static void worker_schedule(struct agent_worker *w) {
        struct worker_job *j = w->jobs, *next;

        for (; j; j = next) {
                next = j->next;
                if (j->started || !admissible(w, j->uid))
                        continue;
                if (job_start(j) < 0) {
                        log_error("cannot start a thread for a call");
                        job_unlink(j);
                        j->done(j->arg, false);
                        free(j);
                }
        }
}

static int on_worker_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct agent_worker *w = userdata;
        struct worker_job *j;

        while (read(fd, &j, sizeof(j)) == (ssize_t) sizeof(j)) {
                (void) pthread_join(j->thread, NULL);
                job_unlink(j);
                j->done(j->arg, true);
                free(j);
        }
        worker_schedule(w);
        return 0;
}

int agent_worker_new(sd_event *e, struct agent_worker **ret) {
        struct agent_worker *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = -errno;
                free(w);
                return r;
        }
        r = sd_event_add_io(e, &w->source, w->pipe[0], EPOLLIN, on_worker_pipe, w);
        if (r < 0) {
                (void) close(w->pipe[0]);
                (void) close(w->pipe[1]);
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int agent_worker_submit(struct agent_worker *w, uid_t uid, agent_worker_fn fn, agent_worker_done_fn done,
                        void *arg) {
        struct worker_job *j = calloc(1, sizeof(*j));

        if (!j)
                return -ENOMEM;
        *j = (struct worker_job) { .w = w, .uid = uid, .fn = fn, .done = done, .arg = arg, .prev = w->last };
        if (w->last)
                w->last->next = j;
        else
                w->jobs = j;
        w->last = j;
        worker_schedule(w);
        return 0;
}

void agent_worker_free(struct agent_worker *w) {
        if (!w)
                return;
        /* wait for the running calls; the queued ones never run */
        while (w->jobs) {
                struct worker_job *j = w->jobs;

                if (j->started)
                        (void) pthread_join(j->thread, NULL);
                job_unlink(j);
                j->done(j->arg, j->started);
                free(j);
        }
        sd_event_source_disable_unref(w->source);
        (void) close(w->pipe[0]);
        (void) close(w->pipe[1]);
        free(w);
}

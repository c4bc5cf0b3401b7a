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
 *
 * Threads are reused: a thread that finished a call waits for the next one,
 * and at most WORKER_IDLE_MAX wait at once (the rest exit), so a burst of
 * calls does not pay a thread creation each, and the agent does not keep a
 * thread (and its stack) per past call. A thread that left is joined on
 * the loop (it has finished by then but for its exit).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent-server.h"
#include "log.h"
#include "macro.h"

#define WORKER_IDLE_MAX 4u

struct agent_worker;

/* A pool thread; joined after it leaves (its thread-local state, OpenSSL's
 * included, is released only when it has really exited). Its stack is ours
 * (mapped here, unmapped after the join): glibc keeps the stacks it maps
 * for exited threads in a cache of up to 40 MiB, every page a call touched
 * still resident, so after a burst of concurrent calls the agent would hold
 * a stack's worth of pages per thread of the burst. */
struct pool_thread {
        struct agent_worker *w;
        pthread_t thread;
        void *stack;               /* WORKER_STACK_SIZE, the lowest page a guard */
        struct pool_thread *next;
};
#define WORKER_STACK_SIZE (512u * 1024u)

struct worker_job {
        struct agent_worker *w;
        uid_t uid;
        agent_worker_fn fn;
        agent_worker_done_fn done;
        void *arg;
        bool started;
        struct worker_job *prev, *next;
        struct worker_job *run_next;  /* started, waiting for a thread */
};

struct agent_worker {
        sd_event_source *source;
        int pipe[2];                /* job pointers of finished calls */
        struct worker_job *jobs;    /* running and queued, oldest first */
        struct worker_job *last;
        unsigned running_users;     /* running calls of uids other than 0 */
        /* the threads, shared with them under lock */
        pthread_mutex_t lock;
        pthread_cond_t work;        /* run_queue gained a job, or stopping */
        pthread_cond_t gone;        /* a thread exited */
        struct worker_job *run_queue, *run_last;
        struct pool_thread *exited;   /* threads that left the pool, to join */
        unsigned threads, idle, queued;   /* queued: in run_queue */
        bool stopping;
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

static void job_finished(struct worker_job *j) {
        ssize_t n;

        do
                n = write(j->w->pipe[1], &j, sizeof(j));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(j))
                log_error("cannot hand a finished call back to the event loop: %m");
}

/* Give back the stack pages below this frame that earlier calls touched
 * (glibc keeps the stacks of exited threads for reuse, and with them every
 * page a deep call chain — OpenSSL, json-c — once touched). */
static void stack_trim(void) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        uintptr_t lo, hi;
        long ps = sysconf(_SC_PAGESIZE);
        char here;

        if (ps <= 0 || pthread_getattr_np(pthread_self(), &attr) != 0)
                return;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr) {
                lo = ((uintptr_t) addr + (uintptr_t) ps - 1) & ~((uintptr_t) ps - 1);
                /* keep a page of margin below this frame */
                hi = (((uintptr_t) &here) & ~((uintptr_t) ps - 1)) - (uintptr_t) ps;
                if (hi > lo && hi <= (uintptr_t) addr + size)
                        (void) madvise((void *) lo, hi - lo, MADV_DONTNEED);
        }
        (void) pthread_attr_destroy(&attr);
}

/* Run started jobs until none is waiting and enough threads idle, or the
 * worker stops; then leave the pool to be joined. */
static void *pool_thread(void *p) {
        struct pool_thread *self = p;
        struct agent_worker *w = self->w;

        (void) pthread_mutex_lock(&w->lock);
        for (;;) {
                struct worker_job *j = w->run_queue;

                if (j) {
                        w->run_queue = j->run_next;
                        if (!w->run_queue)
                                w->run_last = NULL;
                        w->queued--;
                        (void) pthread_mutex_unlock(&w->lock);
                        j->fn(j->arg);
                        job_finished(j);
                        (void) pthread_mutex_lock(&w->lock);
                        continue;
                }
                if (w->stopping || w->idle >= WORKER_IDLE_MAX)
                        break;
                w->idle++;
                (void) pthread_cond_wait(&w->work, &w->lock);
                w->idle--;
        }
        (void) pthread_mutex_unlock(&w->lock);
        stack_trim();
        (void) pthread_mutex_lock(&w->lock);
        self->next = w->exited;
        w->exited = self;
        w->threads--;
        (void) pthread_cond_broadcast(&w->gone);
        (void) pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void pool_thread_free(struct pool_thread *t) {
        if (t->stack)
                (void) munmap(t->stack, WORKER_STACK_SIZE);
        free(t);
}

/* A new thread for the pool (called with w->lock held). */
static int pool_grow(struct agent_worker *w) {
        struct pool_thread *t = calloc(1, sizeof(*t));
        long ps = sysconf(_SC_PAGESIZE);
        pthread_attr_t attr;
        int r;

        if (!t)
                return -ENOMEM;
        t->w = w;
        t->stack = mmap(NULL, WORKER_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                        -1, 0);
        if (t->stack == MAP_FAILED) {
                free(t);
                return -ENOMEM;
        }
        /* the guard: an overflow faults instead of running into other memory */
        if (ps <= 0 || mprotect(t->stack, (size_t) ps, PROT_NONE) < 0) {
                pool_thread_free(t);
                return -ENOMEM;
        }
        r = pthread_attr_init(&attr);
        if (r == 0) {
                r = pthread_attr_setstack(&attr, t->stack, WORKER_STACK_SIZE);
                if (r == 0)
                        r = pthread_create(&t->thread, &attr, pool_thread, t);
                (void) pthread_attr_destroy(&attr);
        }
        if (r != 0) {
                pool_thread_free(t);
                return -r;
        }
        return 0;
}

/* Join the threads that left the pool. */
static void pool_reap(struct agent_worker *w) {
        struct pool_thread *t;

        (void) pthread_mutex_lock(&w->lock);
        t = w->exited;
        w->exited = NULL;
        (void) pthread_mutex_unlock(&w->lock);
        while (t) {
                struct pool_thread *next = t->next;

                (void) pthread_join(t->thread, NULL);
                pool_thread_free(t);
                t = next;
        }
}

static int job_start(struct worker_job *j) {
        struct agent_worker *w = j->w;
        int r = 0;

        (void) pthread_mutex_lock(&w->lock);
        if (w->idle <= w->queued) {   /* every idle thread has a job already */
                r = pool_grow(w);
                if (r >= 0)
                        w->threads++;
        }
        if (r >= 0) {
                j->run_next = NULL;
                if (w->run_last)
                        w->run_last->run_next = j;
                else
                        w->run_queue = j;
                w->run_last = j;
                w->queued++;
                (void) pthread_cond_signal(&w->work);
        }
        (void) pthread_mutex_unlock(&w->lock);
        if (r < 0)
                return r;
        j->started = true;
        if (j->uid != 0)
                w->running_users++;
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
                job_unlink(j);
                j->done(j->arg, true);
                free(j);
        }
        pool_reap(w);
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
        (void) pthread_mutex_init(&w->lock, NULL);
        (void) pthread_cond_init(&w->work, NULL);
        (void) pthread_cond_init(&w->gone, NULL);
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

/* The next finished job from the pipe, waiting for it. */
static struct worker_job *finished_wait(struct agent_worker *w) {
        struct worker_job *j;
        struct pollfd p = { .fd = w->pipe[0], .events = POLLIN };

        for (;;) {
                ssize_t n = read(w->pipe[0], &j, sizeof(j));

                if (n == (ssize_t) sizeof(j))
                        return j;
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return NULL;
                (void) poll(&p, 1, -1);
        }
}

void agent_worker_free(struct agent_worker *w) {
        unsigned running = 0;

        if (!w)
                return;
        /* the queued calls never run; wait for the running ones */
        for (struct worker_job *j = w->jobs, *next; j; j = next) {
                next = j->next;
                running += j->started;
                if (!j->started) {
                        job_unlink(j);
                        j->done(j->arg, false);
                        free(j);
                }
        }
        while (running > 0) {
                struct worker_job *j = finished_wait(w);

                if (!j)
                        break;
                job_unlink(j);
                j->done(j->arg, true);
                free(j);
                running--;
        }
        (void) pthread_mutex_lock(&w->lock);
        w->stopping = true;
        (void) pthread_cond_broadcast(&w->work);
        while (w->threads > 0)
                (void) pthread_cond_wait(&w->gone, &w->lock);
        (void) pthread_mutex_unlock(&w->lock);
        pool_reap(w);
        sd_event_source_disable_unref(w->source);
        (void) close(w->pipe[0]);
        (void) close(w->pipe[1]);
        (void) pthread_cond_destroy(&w->gone);
        (void) pthread_cond_destroy(&w->work);
        (void) pthread_mutex_destroy(&w->lock);
        free(w);
}

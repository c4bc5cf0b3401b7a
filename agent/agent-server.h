/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseald's server: logging set-up, the sd-event loop with its listening
 * sockets (socket activation, bound sockets or --stdio), varlink connections
 * with their limits, and the credential socket (agent-credentials.c).
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <systemd/sd-event.h>
#include <sys/un.h>

#include "agent.h"
#include "purpose.h"

/* Install the log sink: the journal when running under systemd (stderr is
 * the journal stream, or INVOCATION_ID without JOURNAL_STREAM), stderr with
 * a "snpseald: " prefix otherwise. */
void agent_log_setup(void);
bool agent_log_to_journal(void);

/* Serve per a->cfg until the loop exits (SIGTERM/SIGINT, idle exit, the end
 * of the --stdio connection). Returns the exit status (0, or 1 when the
 * --stdio peer was dropped), or -errno when the server could not start
 * (logged). */
int agent_server_run(struct agent *a);

/* Connection admission for max_connections: a non-root uid may hold at most
 * agent_server_uid_limit() connections (max/8, at least 1); the last
 * agent_server_root_reserve() slots (max/8, at least 1, none when max is 1)
 * admit only uid 0. */
unsigned agent_server_uid_limit(unsigned max_connections);
unsigned agent_server_root_reserve(unsigned max_connections);

/* ---- method calls on threads (agent-worker.c) ---- */

/* Calls of a uid other than 0 running at once, per uid and in all. */
#define AGENT_WORKER_PER_UID 2u
#define AGENT_WORKER_USERS 4u

struct agent_worker;
typedef void (*agent_worker_fn)(void *arg);                 /* on the call's thread */
typedef void (*agent_worker_done_fn)(void *arg, bool ran);  /* on the event loop, after fn */

int agent_worker_new(sd_event *e, struct agent_worker **ret);
/* Run fn(arg) on a thread of its own as soon as uid's admission allows,
 * then done(arg, true) on the loop. */
int agent_worker_submit(struct agent_worker *w, uid_t uid, agent_worker_fn fn, agent_worker_done_fn done,
                        void *arg);
/* Join the running calls (done(arg, true)); queued ones get done(arg, false). */
void agent_worker_free(struct agent_worker *w);

/* ---- the credential socket (agent-credentials.c) ---- */

/* "cred/" + id must be a valid purpose. */
#define AGENT_CRED_ID_MAX (PURPOSE_MAX - 5)
#define AGENT_UNIT_NAME_MAX 255

/* What systemd's LoadCredential=ID:/path/to/socket tells us in the address
 * it binds its connecting socket to: "\0<hex random>/unit/<unit>/<id>". */
struct agent_cred_request {
        char unit[AGENT_UNIT_NAME_MAX + 1];
        char id[AGENT_CRED_ID_MAX + 1];
};

/* Parse a peer address as getpeername() returned it (len bytes of sa).
 * -EBADMSG for anything but the format above with a valid unit name and
 * credential id. */
int agent_cred_request_parse(const struct sockaddr_un *sa, socklen_t len, struct agent_cred_request *ret);

/* Serve one accepted connection of the credential socket: check the peer,
 * unseal <credstore>/<id>.sealed (purpose "cred/<id>"), write the plaintext.
 * Always closes fd; every refusal is logged. */
void agent_credentials_serve(struct agent *a, int fd);

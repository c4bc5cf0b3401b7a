/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The credential socket: systemd's LoadCredential=ID:/run/snpseal/credentials.sock.
 * systemd binds its connecting AF_UNIX stream socket to the abstract address
 * "\0<random hex>/unit/<unit>/<id>", connects, and reads until EOF. We serve
 * only uid 0 peers, unseal <credstore>/<id>.sealed (purpose "cred/<id>"),
 * write the plaintext and close. On any refusal nothing is written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-server.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "purpose.h"
#include "sealed.h"
#include "secret.h"

#define RANDOM_HEX_MAX 16
#define CRED_METHOD "LoadCredential"

static bool unit_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr(":-_.\\@", c));
}

static bool hex_char_ok(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Copy the segment [s, s+len) into out (size outsz) when every byte passes ok. */
static int segment_copy(const char *s, size_t len, bool (*ok)(char), char *out, size_t outsz) {
        if (len == 0 || len >= outsz)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++)
                if (!ok(s[i]))
                        return -EBADMSG;
        memcpy(out, s, len);
        out[len] = '\0';
        return 0;
}

int agent_cred_request_parse(const struct sockaddr_un *sa, socklen_t len, struct agent_cred_request *ret) {
        static const char marker[] = "/unit/";
        struct agent_cred_request req = { 0 };
        char purpose[PURPOSE_MAX + 1];
        const char *name, *p, *slash, *end;
        size_t n;

        if (len <= offsetof(struct sockaddr_un, sun_path) + 1 || (size_t) len > sizeof(*sa) ||
            sa->sun_family != AF_UNIX || sa->sun_path[0] != '\0')
                return -EBADMSG;   /* unbound or a path name: not systemd */
        name = sa->sun_path + 1;
        n = (size_t) len - offsetof(struct sockaddr_un, sun_path) - 1;
        end = name + n;
        if (memchr(name, '\0', n))
                return -EBADMSG;

        /* <random hex> */
        p = memchr(name, '/', n);
        if (!p || p == name || (size_t) (p - name) > RANDOM_HEX_MAX)
                return -EBADMSG;
        for (const char *q = name; q < p; q++)
                if (!hex_char_ok(*q))
                        return -EBADMSG;
        /* /unit/<unit>/<id> */
        if ((size_t) (end - p) < strlen(marker) || memcmp(p, marker, strlen(marker)) != 0)
                return -EBADMSG;
        p += strlen(marker);
        slash = memchr(p, '/', (size_t) (end - p));
        if (!slash || segment_copy(p, (size_t) (slash - p), unit_char_ok, req.unit, sizeof(req.unit)) < 0)
                return -EBADMSG;
        p = slash + 1;
        if ((size_t) (end - p) >= sizeof(req.id) || memchr(p, '/', (size_t) (end - p)))
                return -EBADMSG;
        memcpy(req.id, p, (size_t) (end - p));
        /* The id must make a valid purpose "cred/<id>": the purpose charset,
         * not empty, not "." or "..". */
        if (snprintf(purpose, sizeof(purpose), "cred/%s", req.id) >= (int) sizeof(purpose) ||
            purpose_validate(purpose) < 0)
                return -EBADMSG;
        *ret = req;
        return 0;
}

/* Read <credstore>/<id>.sealed: a regular file (no symlink) of at most
 * SEALED_TEXT_MAX bytes. *ret_text is malloc()ed and NUL-terminated. */
static int cred_read_sealed(const char *credstore, const char *id, char **ret_text, size_t *ret_len) {
        _cleanup_(closep) int dfd = -1;
        char name[AGENT_CRED_ID_MAX + sizeof(".sealed")];

        dfd = open(credstore, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        snprintf(name, sizeof(name), "%s.sealed", id);
        return agent_read_sealed_at(dfd, name, ret_text, ret_len);
}

/* Write all of data with the socket's send timeout. */
static int cred_write_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t k = send(fd, p, size, MSG_NOSIGNAL);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

static const char *cred_open_error(int r) {
        switch (r) {
        case -ENOENT:
                return "no such credential in the credential store";
        case -EFBIG:
                return "sealed file too large";
        case -ELOOP:
                return "sealed file is a symbolic link";
        case -EBADFD:
                return "sealed file is not a regular file";
        default:
                return strerror(-r);
        }
}

/* Unseal the credential req names. 0 with *ret_data and *ret_size (secret), or
 * < 0 with the reason logged. *outcome is set either way, for the call log. */
static int cred_unseal(struct agent *a, const struct agent_peer *peer, const struct agent_cred_request *req,
                       const char *purpose, void **ret_data, size_t *ret_size, const char **outcome) {
        const char *credstore = a->cfg.credstore ? a->cfg.credstore : AGENT_DEFAULT_CREDSTORE;
        _cleanup_(freep) char *text = NULL;
        struct sealed_object o = { 0 };
        struct agent_reply reply = { 0 };
        char err[256];
        size_t len = 0;
        int r;

        *outcome = "refused";
        r = cred_read_sealed(credstore, req->id, &text, &len);
        if (r < 0) {
                log_warning("credential '%s' for %s: %s/%s.sealed: %s; nothing sent", req->id, req->unit,
                            credstore, req->id, cred_open_error(r));
                return r;
        }
        r = sealed_parse(text, len, &o, err, sizeof(err));
        if (r < 0) {
                log_warning("credential '%s' for %s: malformed sealed object: %s; nothing sent",
                            req->id, req->unit, err);
                return r;
        }
        if (strcmp(o.purpose, purpose) != 0) {
                log_warning("credential '%s' for %s: sealed for purpose '%s', not '%s'; nothing sent",
                            req->id, req->unit, o.purpose, purpose);
                sealed_object_done(&o);
                return -EPERM;
        }
        sealed_object_done(&o);
        r = agent_unseal_text(a, peer, text, len, NULL, 0, ret_data, ret_size, &reply);
        if (r < 0) {
                const char *msg = NULL;

                if (reply.parameters)
                        (void) json_get_string(reply.parameters, "message", &msg);
                log_warning("credential '%s' for %s: %s; nothing sent", req->id, req->unit,
                            msg ? msg : strerror(-r));
                *outcome = reply.error ? reply.error : "refused";
                agent_reply_done(&reply);
                return r;
        }
        agent_reply_done(&reply);
        *outcome = "ok";
        return 0;
}

/* The peer: uid 0 with a well-formed systemd address. */
static int cred_check_peer(int fd, struct agent_peer *ret_peer, struct agent_cred_request *ret_req) {
        struct sockaddr_un sa = { 0 };
        socklen_t salen = sizeof(sa);
        struct ucred uc;
        socklen_t uclen = sizeof(uc);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &uclen) < 0) {
                log_warning("credential socket: cannot read peer credentials: %m");
                return -errno;
        }
        *ret_peer = (struct agent_peer) { .uid = uc.uid, .gid = uc.gid, .pid = uc.pid };
        if (uc.uid != 0) {
                log_warning("credential socket: refusing uid %u pid %d: only root (systemd) is served",
                            (unsigned) uc.uid, (int) uc.pid);
                return -EPERM;
        }
        if (getpeername(fd, (struct sockaddr *) &sa, &salen) < 0) {
                log_warning("credential socket: getpeername failed for pid %d: %m", (int) uc.pid);
                return -errno;
        }
        if (agent_cred_request_parse(&sa, salen, ret_req) < 0) {
                log_warning("credential socket: pid %d is not bound to systemd's "
                            "\"\\0<random>/unit/<unit>/<id>\" address or names an invalid credential; "
                            "closing", (int) uc.pid);
                return -EBADMSG;
        }
        return 0;
}

void agent_credentials_serve(struct agent *a, int fd) {
        _cleanup_(closep) int cfd = fd;
        struct agent_cred_request req;
        struct agent_peer peer = { 0 };
        char purpose[PURPOSE_MAX + 1];
        _cleanup_secret_ void *data = NULL;
        const char *result = "refused";
        struct timeval tv = { .tv_sec = a->cfg.connection_timeout_sec };
        size_t size = 0;
        int r;

        if (cred_check_peer(cfd, &peer, &req) < 0)
                return;
        snprintf(purpose, sizeof(purpose), "cred/%s", req.id);
        r = cred_unseal(a, &peer, &req, purpose, &data, &size, &result);
        if (r >= 0) {
                (void) setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                r = cred_write_all(cfd, data, size);
                if (r < 0) {
                        log_warning("credential '%s' for %s: sending failed: %s", req.id, req.unit,
                                    strerror(-r));
                        result = "send-failed";
                } else
                        log_info("credential '%s' sent to %s (%zu bytes)", req.id, req.unit, size);
        }
        agent_log_call(CRED_METHOD, purpose, &peer, result);
}

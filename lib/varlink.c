/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "secret.h"
#include "snp-error.h"
#include "varlink.h"

#define VARLINK_NAME_MAX 255   /* a qualified method or error name */
#define VARLINK_QUOTE_MAX 64   /* how much of a peer's string goes into a message */

static int varlink_error(char *errbuf, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static int varlink_error(char *errbuf, size_t errlen, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = errbuf_setv(errbuf, errlen, -EBADMSG, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- names ---- */

static bool ascii_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ascii_alnum(char c) {
        return ascii_alpha(c) || (c >= '0' && c <= '9');
}

/* Interface names of the varlink spec: at least two dot-separated parts of
 * letters, digits and inner dashes, starting with a letter
 * ([A-Za-z](-*[A-Za-z0-9])*(\.[A-Za-z0-9](-*[A-Za-z0-9])*)+). */
static bool varlink_interface_valid(const char *s, size_t n) {
        size_t parts = 0, i = 0;

        if (n == 0 || !ascii_alpha(s[0]))
                return false;
        while (i <= n) {
                size_t start = i;

                while (i < n && s[i] != '.') {
                        if (!ascii_alnum(s[i]) && s[i] != '-')
                                return false;
                        i++;
                }
                if (i == start || s[start] == '-' || s[i - 1] == '-')
                        return false;
                parts++;
                i++;  /* the dot, or past the end */
        }
        return parts >= 2;
}

/* "interface.Member": a method or error name, Member = [A-Z][A-Za-z0-9]*. */
static bool varlink_qualified_name_valid(const char *s) {
        size_t n = strnlen(s, VARLINK_NAME_MAX + 1);
        const char *dot = memrchr(s, '.', n);

        if (n > VARLINK_NAME_MAX || !dot || !(dot[1] >= 'A' && dot[1] <= 'Z'))
                return false;
        for (const char *p = dot + 2; *p; p++)
                if (!ascii_alnum(*p))
                        return false;
        return varlink_interface_valid(s, (size_t) (dot - s));
}

/* ---- decoding ---- */

struct varlink_key {
        const char *name;
        json_type type;
};

static const struct varlink_key call_keys[] = {
        { "method",     json_type_string },
        { "parameters", json_type_object },
        { "oneway",     json_type_boolean },
        { "more",       json_type_boolean },
        { "upgrade",    json_type_boolean },
};

static const struct varlink_key reply_keys[] = {
        { "parameters", json_type_object },
        { "continues",  json_type_boolean },
        { "error",      json_type_string },
};

/* Parse a message into an object whose keys are all in the table, each of
 * the type the table says (or null, which counts as absent). */
static int varlink_parse_object(const char *msg, size_t len, const struct varlink_key *keys, size_t n_keys,
                                json_object **ret, char *errbuf, size_t errlen) {
        _cleanup_(json_object_put_wipep) json_object *o = NULL;
        struct json_object_iterator it, end;
        char jerr[160];
        int r;

        if (len >= VARLINK_MESSAGE_MAX)
                return varlink_error(errbuf, errlen, "varlink message too large (%zu bytes, at most %u)",
                                     len, VARLINK_MESSAGE_MAX - 1);
        r = json_parse_bounded(msg, len, JSON_DEPTH_MAX, &o, jerr, sizeof(jerr));
        if (r == -EBADMSG || r == -EMSGSIZE)
                return varlink_error(errbuf, errlen, "varlink message: %s", jerr);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return varlink_error(errbuf, errlen, "varlink message is not a JSON object");
        it = json_object_iter_begin(o);
        end = json_object_iter_end(o);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                const char *name = json_object_iter_peek_name(&it);
                json_object *v = json_object_iter_peek_value(&it);
                size_t k;

                for (k = 0; k < n_keys; k++)
                        if (strcmp(keys[k].name, name) == 0)
                                break;
                if (k == n_keys)
                        return varlink_error(errbuf, errlen, "varlink message: unknown key \"%.*s\"",
                                             VARLINK_QUOTE_MAX, name);
                if (v && !json_object_is_type(v, keys[k].type))
                        return varlink_error(errbuf, errlen, "varlink message: \"%s\" must be a%s %s", name,
                                             keys[k].type == json_type_object ? "n" : "",
                                             json_type_to_name(keys[k].type));
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* The parameters member, a new reference; {} when absent. */
static json_object *varlink_take_parameters(json_object *o) {
        json_object *p;

        if (json_get_object(o, "parameters", &p) >= 0)
                return json_object_get(p);
        return json_object_new_object();
}

/* A qualified name member: copied on success. */
static int varlink_get_name(json_object *o, const char *key, bool required, char **ret,
                            char *errbuf, size_t errlen) {
        const char *s;
        int r;

        r = json_get_string(o, key, &s);
        if (r == -ENOENT && !required) {
                *ret = NULL;
                return 0;
        }
        if (r == -ENOENT)
                return varlink_error(errbuf, errlen, "varlink message: \"%s\" missing", key);
        if (r < 0)
                return varlink_error(errbuf, errlen, "varlink message: \"%s\" must be a string", key);
        if (!varlink_qualified_name_valid(s))
                return varlink_error(errbuf, errlen,
                                     "varlink message: \"%s\" must be \"interface.Name\", not \"%.*s\"",
                                     key, VARLINK_QUOTE_MAX, s);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int varlink_call_parse(const char *msg, size_t len, struct varlink_call *ret, char *errbuf, size_t errlen) {
        _cleanup_(json_object_put_wipep) json_object *o = NULL;
        _cleanup_(freep) char *method = NULL;
        bool oneway = false, more = false, upgrade = false;
        json_object *parameters;
        int r;

        r = varlink_parse_object(msg, len, call_keys, ELEMENTSOF(call_keys), &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = varlink_get_name(o, "method", true, &method, errbuf, errlen);
        if (r < 0)
                return r;
        /* Types were checked: absent (or null) leaves the default. */
        (void) json_get_bool(o, "oneway", &oneway);
        (void) json_get_bool(o, "more", &more);
        (void) json_get_bool(o, "upgrade", &upgrade);
        if (upgrade)
                return varlink_error(errbuf, errlen, "varlink call: \"upgrade\" is not supported");
        parameters = varlink_take_parameters(o);
        if (!parameters)
                return -ENOMEM;
        *ret = (struct varlink_call) {
                .method = TAKE_PTR(method),
                .parameters = parameters,
                .oneway = oneway,
                .more = more,
        };
        return 0;
}

void varlink_call_done(struct varlink_call *c) {
        if (!c)
                return;
        free(c->method);
        json_object_put_wipe(c->parameters);
        *c = (struct varlink_call) { 0 };
}

int varlink_reply_parse(const char *msg, size_t len, struct varlink_reply *ret, char *errbuf, size_t errlen) {
        _cleanup_(json_object_put_wipep) json_object *o = NULL;
        _cleanup_(freep) char *error = NULL;
        bool continues = false;
        json_object *parameters;
        int r;

        r = varlink_parse_object(msg, len, reply_keys, ELEMENTSOF(reply_keys), &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = varlink_get_name(o, "error", false, &error, errbuf, errlen);
        if (r < 0)
                return r;
        (void) json_get_bool(o, "continues", &continues);
        parameters = varlink_take_parameters(o);
        if (!parameters)
                return -ENOMEM;
        *ret = (struct varlink_reply) {
                .error = TAKE_PTR(error),
                .parameters = parameters,
                .continues = continues,
        };
        return 0;
}

void varlink_reply_done(struct varlink_reply *r) {
        if (!r)
                return;
        free(r->error);
        json_object_put_wipe(r->parameters);
        *r = (struct varlink_reply) { 0 };
}

/* ---- encoding ---- */

/* Add v (owned) under key; v == NULL is an allocation failure. */
static int json_add_parameters(json_object *o, json_object *parameters) {
        if (!parameters)
                return json_add(o, "parameters", json_object_new_object());
        if (!json_object_is_type(parameters, json_type_object))
                return -EINVAL;
        return json_add(o, "parameters", json_object_get(parameters));
}

/* Serialize into secret memory with the NUL. json-c serializes into the
 * message object's own print buffer, which is wiped here; when that buffer
 * had to grow, realloc() may have left partial copies in freed heap memory
 * that cannot be reached (best effort). */
static int varlink_serialize(json_object *m, char **ret_msg, size_t *ret_len) {
        const char *s;
        size_t len;
        char *buf;

        s = json_object_to_json_string_length(m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;
        if (len >= VARLINK_MESSAGE_MAX) {
                secret_wipe((char *) s, len);
                return -EMSGSIZE;
        }
        buf = secret_alloc(len + 1);   /* zeroed: the NUL is there */
        if (buf)
                memcpy(buf, s, len);
        secret_wipe((char *) s, len);
        if (!buf)
                return -ENOMEM;
        *ret_msg = buf;
        *ret_len = len + 1;
        return 0;
}

/* Build {name_key: name, "parameters": …[, "oneway": true]} and serialize it. */
static int varlink_encode(const char *name_key, const char *name, json_object *parameters, bool oneway,
                          char **ret_msg, size_t *ret_len) {
        _cleanup_(json_object_putp) json_object *m = NULL;
        int r;

        m = json_object_new_object();
        if (!m)
                return -ENOMEM;
        if (name_key) {
                if (!varlink_qualified_name_valid(name))
                        return -EINVAL;
                r = json_add(m, name_key, json_object_new_string(name));
                if (r < 0)
                        return r;
        }
        r = json_add_parameters(m, parameters);
        if (r < 0)
                return r;
        if (oneway) {
                r = json_add(m, "oneway", json_object_new_boolean(1));
                if (r < 0)
                        return r;
        }
        return varlink_serialize(m, ret_msg, ret_len);
}

int varlink_encode_call(const char *method, json_object *parameters, bool oneway,
                        char **ret_msg, size_t *ret_len) {
        return varlink_encode("method", method, parameters, oneway, ret_msg, ret_len);
}

int varlink_encode_reply(json_object *parameters, char **ret_msg, size_t *ret_len) {
        return varlink_encode(NULL, NULL, parameters, false, ret_msg, ret_len);
}

int varlink_encode_error(const char *error, json_object *parameters, char **ret_msg, size_t *ret_len) {
        return varlink_encode("error", error, parameters, false, ret_msg, ret_len);
}

/* ---- framing ---- */

int varlink_rbuf_init(struct varlink_rbuf *b) {
        char *data = secret_alloc(VARLINK_MESSAGE_MAX);

        if (!data)
                return -ENOMEM;
        *b = (struct varlink_rbuf) { .data = data };
        return 0;
}

void varlink_rbuf_done(struct varlink_rbuf *b) {
        if (!b)
                return;
        secret_free(b->data);
        *b = (struct varlink_rbuf) { 0 };
}

static bool varlink_rbuf_complete(const struct varlink_rbuf *b) {
        return b->len > 0 && memchr(b->data, 0, b->len);
}

int varlink_rbuf_read(struct varlink_rbuf *b, int fd) {
        ssize_t n;

        if (b->len >= VARLINK_MESSAGE_MAX)
                /* Full: a complete message must be consumed first. */
                return varlink_rbuf_complete(b) ? -ENOBUFS : -EMSGSIZE;
        do
                n = read(fd, b->data + b->len, VARLINK_MESSAGE_MAX - b->len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
                return 0;
        b->len += (size_t) n;
        if (b->len == VARLINK_MESSAGE_MAX && !varlink_rbuf_complete(b))
                return -EMSGSIZE;
        return n > INT_MAX ? INT_MAX : (int) n;
}

int varlink_rbuf_next(struct varlink_rbuf *b, const char **ret_msg, size_t *ret_len) {
        const char *nul;

        if (b->len == 0)
                return 0;
        nul = memchr(b->data, 0, b->len);
        if (!nul)
                return 0;
        *ret_msg = b->data;
        *ret_len = (size_t) (nul - b->data);
        return 1;
}

void varlink_rbuf_consume(struct varlink_rbuf *b, size_t n) {
        if (n > b->len)
                n = b->len;
        memmove(b->data, b->data + n, b->len - n);
        /* Wipe what is no longer buffered: the tail the move left behind. */
        secret_wipe(b->data + b->len - n, n);
        b->len -= n;
}

/* ---- client ---- */

struct varlink_client {
        int fd;
        unsigned timeout_ms;
        struct varlink_rbuf rbuf;
};

static uint64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Wait for events until the deadline (0: none). */
static int client_wait(struct varlink_client *c, short events, uint64_t deadline) {
        struct pollfd p = { .fd = c->fd, .events = events };

        for (;;) {
                int timeout = -1, r;

                if (deadline != 0) {
                        uint64_t now = now_ms();

                        if (now >= deadline)
                                return -ETIMEDOUT;
                        timeout = deadline - now > INT_MAX ? INT_MAX : (int) (deadline - now);
                }
                r = poll(&p, 1, timeout);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                return 0;  /* readiness, hang-up or error: the next I/O tells */
        }
}

static int client_send(struct varlink_client *c, const char *msg, size_t len, uint64_t deadline) {
        size_t off = 0;

        while (off < len) {
                ssize_t n;
                int r;

                r = client_wait(c, POLLOUT, deadline);
                if (r < 0)
                        return r;
                n = send(c->fd, msg + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                        continue;
                if (n < 0)
                        return errno == EPIPE ? -ECONNRESET : -errno;
                off += (size_t) n;
        }
        return 0;
}

static int client_receive(struct varlink_client *c, uint64_t deadline, struct varlink_reply *ret) {
        char errbuf[256];
        const char *m;
        size_t n;
        int r;

        while ((r = varlink_rbuf_next(&c->rbuf, &m, &n)) == 0) {
                r = client_wait(c, POLLIN, deadline);
                if (r < 0)
                        return r;
                r = varlink_rbuf_read(&c->rbuf, c->fd);
                if (r == 0)
                        return -ECONNRESET;  /* closed before the reply was complete */
                if (r < 0 && r != -EAGAIN)
                        return r;
        }
        r = varlink_reply_parse(m, n, ret, errbuf, sizeof(errbuf));
        varlink_rbuf_consume(&c->rbuf, n + 1);
        if (r < 0)
                log_debug("varlink: malformed reply: %s", errbuf);
        return r;
}

int varlink_client_new_fd(int fd, unsigned timeout_ms, struct varlink_client **ret) {
        _cleanup_(closep) int owned = fd;
        struct varlink_client *c;
        int r;

        if (fd < 0)
                return -EBADF;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = varlink_rbuf_init(&c->rbuf);
        if (r < 0) {
                free(c);
                return r;
        }
        c->fd = TAKE_FD(owned);
        c->timeout_ms = timeout_ms;
        *ret = c;
        return 0;
}

int varlink_client_connect(const char *path, unsigned timeout_ms, struct varlink_client **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
        _cleanup_(closep) int fd = -1;
        size_t n = strlen(path);
        socklen_t salen;

        if (n == 0)
                return -EINVAL;
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Bounds a blocking connect() to a listener whose backlog is full;
         * sends use MSG_DONTWAIT and poll(), so it does not matter there. */
        if (timeout_ms > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        if (connect(fd, (const struct sockaddr *) &sa, salen) < 0)
                return errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
        return varlink_client_new_fd(TAKE_FD(fd), timeout_ms, ret);
}

void varlink_client_free(struct varlink_client *c) {
        if (!c)
                return;
        closep(&c->fd);
        varlink_rbuf_done(&c->rbuf);
        free(c);
}

/* One deadline for the whole call (send and reply), so a peer that drips
 * bytes cannot stretch it. */
int varlink_client_call(struct varlink_client *c, const char *method, json_object *parameters,
                        struct varlink_reply *ret_reply) {
        _cleanup_secret_ char *msg = NULL;
        uint64_t deadline = c->timeout_ms > 0 ? now_ms() + c->timeout_ms : 0;
        size_t len;
        int r;

        r = varlink_encode_call(method, parameters, false, &msg, &len);
        if (r < 0)
                return r;
        /* Without the NUL the buffer holds the JSON; the NUL is the frame end. */
        r = client_send(c, msg, len, deadline);
        if (r < 0)
                return r;
        return client_receive(c, deadline, ret_reply);
}

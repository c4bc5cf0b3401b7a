/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The varlink wire format (https://varlink.org): each message is one JSON
 * object followed by a NUL byte.
 *   call:  {"method":"io.snpseal.Agent.GetStatus","parameters":{…}[,"oneway":true][,"more":true]}
 *   reply: {"parameters":{…}[,"continues":true]}
 *   error: {"error":"io.snpseal.Agent.NotPermitted","parameters":{…}}
 * Messages are capped at VARLINK_MESSAGE_MAX bytes including the NUL; every
 * buffer that holds a message is secret memory (messages carry passwords,
 * plaintext and keys).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#define VARLINK_MESSAGE_MAX (64u * 1024u)

#define VARLINK_INTERFACE_AGENT "io.snpseal.Agent"
#define VARLINK_INTERFACE_SERVICE "org.varlink.service"
/* Standard errors of org.varlink.service */
#define VARLINK_ERROR_METHOD_NOT_FOUND   "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_INVALID_PARAMETER  "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"

/* ---- decoding ---- */

struct varlink_call {
        char *method;             /* malloc()ed, e.g. "io.snpseal.Agent.GetStatus" */
        json_object *parameters;  /* an object, never NULL ({} when absent) */
        bool oneway;
        bool more;
};

/* Parse one message (without its NUL) as a call. Refuses: bad JSON, not an
 * object, method missing or not a string or not "interface.Method" form,
 * parameters not an object, oneway/more not booleans, "upgrade" true,
 * unknown top-level keys. -EBADMSG with errbuf. */
int varlink_call_parse(const char *msg, size_t len, struct varlink_call *ret, char *errbuf, size_t errlen);
void varlink_call_done(struct varlink_call *c);   /* wipes parameters */

struct varlink_reply {
        char *error;              /* NULL for a reply, else the error name */
        json_object *parameters;  /* never NULL */
        bool continues;
};
int varlink_reply_parse(const char *msg, size_t len, struct varlink_reply *ret, char *errbuf, size_t errlen);
void varlink_reply_done(struct varlink_reply *r);

/* ---- encoding: results are secret_alloc()ed and include the NUL;
 *      *ret_len counts the NUL ---- */
int varlink_encode_call(const char *method, json_object *parameters, bool oneway,
                        char **ret_msg, size_t *ret_len);
int varlink_encode_reply(json_object *parameters, char **ret_msg, size_t *ret_len);
int varlink_encode_error(const char *error, json_object *parameters, char **ret_msg, size_t *ret_len);

/* ---- framing over a byte stream ---- */

struct varlink_rbuf {
        char *data;   /* secret_alloc(VARLINK_MESSAGE_MAX) */
        size_t len;   /* bytes buffered */
};
int varlink_rbuf_init(struct varlink_rbuf *b);
void varlink_rbuf_done(struct varlink_rbuf *b);
/* Read what is available from fd (non-blocking or not). Returns bytes read
 * (> 0), 0 on EOF, -EAGAIN, -EMSGSIZE when the buffer is full without a
 * complete message, or another -errno. */
/* (-ENOBUFS when called on a full buffer that holds a complete message:
 * consume it first.) */
int varlink_rbuf_read(struct varlink_rbuf *b, int fd);
/* The first complete message, if any: 1 with *ret_msg (not NUL-terminated
 * copy — points into the buffer; NUL at ret_msg[ret_len]) and *ret_len, 0 if
 * none is complete yet. Call varlink_rbuf_consume(b, len + 1) after use. */
int varlink_rbuf_next(struct varlink_rbuf *b, const char **ret_msg, size_t *ret_len);
void varlink_rbuf_consume(struct varlink_rbuf *b, size_t n);

/* ---- a blocking client ---- */

struct varlink_client;
/* Connect to an AF_UNIX stream socket path, with a timeout for every
 * operation (milliseconds, 0 = none). */
int varlink_client_connect(const char *path, unsigned timeout_ms, struct varlink_client **ret);
/* Use an already connected fd (socketpair with snpseald --stdio). Takes it
 * (closed on failure too). */
int varlink_client_new_fd(int fd, unsigned timeout_ms, struct varlink_client **ret);
void varlink_client_free(struct varlink_client *c);
/* Call method with parameters (NULL = {}); on success *ret_reply holds the
 * reply or the error the server sent (check ret_reply->error). Transport
 * failures: -ECONNRESET, -ETIMEDOUT, -EBADMSG, -EMSGSIZE, … */
/* (The timeout is one deadline for the whole call, send and reply. A closed
 * connection before the reply is complete is -ECONNRESET. connect: a missing
 * socket -ENOENT, nobody listening -ECONNREFUSED, -EACCES; varlink_client_free
 * takes NULL.) */
int varlink_client_call(struct varlink_client *c, const char *method, json_object *parameters,
                        struct varlink_reply *ret_reply);

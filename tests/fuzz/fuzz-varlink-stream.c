/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * varlink framing: a peer's byte stream through varlink_rbuf_read(),
 * varlink_rbuf_next() and varlink_rbuf_consume() over a real socket, each
 * message then through varlink_call_parse(), as the agent does it.
 * Input: byte 0 sets the chunk size the peer writes in, byte 1 bit 0 puts
 * VARLINK_MESSAGE_MAX - 64 spaces before the rest (to reach the size limit
 * with short inputs), the rest is the stream.
 * Invariants: the messages come out exactly as the stream splits at NUL
 * bytes, in order, each shorter than VARLINK_MESSAGE_MAX; a message that
 * does not fit ends the stream with -EMSGSIZE, never with a truncated one.
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"
#include "varlink.h"

#define FLOOD_LEN (VARLINK_MESSAGE_MAX - 64u)

struct stream {
        uint8_t *data;          /* everything the peer sends */
        size_t size;
        size_t prefix;          /* of it, the flood of spaces */
        size_t matched;         /* bytes accounted for by messages so far */
};

/* Take the complete messages out of b, checking each against the stream. */
static void drain(struct varlink_rbuf *b, struct stream *s) {
        const char *msg;
        size_t len;

        while (varlink_rbuf_next(b, &msg, &len) == 1) {
                struct varlink_call c = { 0 };
                char err[256];

                FUZZ_CHECK(len < VARLINK_MESSAGE_MAX && msg[len] == '\0');
                FUZZ_CHECK(s->matched + len < s->size);
                FUZZ_CHECK(memcmp(msg, s->data + s->matched, len) == 0 && s->data[s->matched + len] == 0);
                s->matched += len + 1;
                if (varlink_call_parse(msg, len, &c, err, sizeof(err)) == 0)
                        varlink_call_done(&c);
                varlink_rbuf_consume(b, len + 1);
        }
}

/* Feed s in chunks; returns the last varlink_rbuf_read() error, or 0 at EOF. */
static int feed(struct varlink_rbuf *b, struct stream *s, size_t chunk) {
        _cleanup_(closep) int peer = -1, fd = -1;
        int sv[2], r = 0;

        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
        peer = sv[0];
        fd = sv[1];
        for (size_t off = 0, n; off < s->size && r == 0; off += n) {
                /* The flood in one piece, the rest in chunks. */
                n = off < s->prefix ? s->prefix - off : chunk;
                if (n > s->size - off)
                        n = s->size - off;

                FUZZ_CHECK(write(peer, s->data + off, n) == (ssize_t) n);
                while ((r = varlink_rbuf_read(b, fd)) > 0)
                        drain(b, s);
                if (r == -EAGAIN)
                        r = 0;
        }
        if (r < 0)
                return r;
        (void) close(TAKE_FD(peer));
        r = varlink_rbuf_read(b, fd);
        FUZZ_CHECK(r <= 0);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) uint8_t *buf = NULL;
        struct varlink_rbuf b;
        struct stream s = { 0 };
        size_t chunk;
        int r;

        if (size < 2)
                return 0;
        chunk = 1 + (size_t) data[0] * 16;
        s.prefix = (data[1] & 1) ? FLOOD_LEN : 0;
        s.size = s.prefix + size - 2;
        buf = malloc(s.size > 0 ? s.size : 1);
        FUZZ_CHECK(buf);
        memset(buf, ' ', s.prefix);
        memcpy(buf + s.prefix, data + 2, size - 2);
        s.data = buf;

        FUZZ_CHECK(varlink_rbuf_init(&b) == 0);
        r = feed(&b, &s, chunk);
        if (r == -EMSGSIZE) {
                /* A full buffer without a NUL: exactly the next bytes of the stream. */
                FUZZ_CHECK(b.len == VARLINK_MESSAGE_MAX && s.size - s.matched >= VARLINK_MESSAGE_MAX);
                FUZZ_CHECK(!memchr(s.data + s.matched, 0, VARLINK_MESSAGE_MAX));
        } else {
                /* EOF: what is left is the unterminated tail. */
                FUZZ_CHECK(r == 0);
                FUZZ_CHECK(b.len == s.size - s.matched);
                FUZZ_CHECK(!memchr(s.data + s.matched, 0, b.len));
                FUZZ_CHECK(memcmp(b.data, s.data + s.matched, b.len) == 0);
        }
        varlink_rbuf_done(&b);
        return 0;
}

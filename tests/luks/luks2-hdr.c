/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * luks2-hdr: the host, which writes every byte of the disks a confidential VM
 * sees, editing a LUKS2 header (test tool; docs/BOOT.md "Threat model", issue 10).
 * Works on an image file or a block device:
 *
 *   luks2-hdr dump DEV                the JSON metadata, pretty-printed (input for put)
 *   luks2-hdr get DEV PATH            one value: a string as is, anything else as JSON
 *   luks2-hdr set DEV PATH=VALUE...   set values
 *   luks2-hdr del DEV PATH...         delete object members or array elements
 *   luks2-hdr put DEV < JSON          replace the whole metadata
 *
 * PATH is dotted: object members by name, array elements by index. In LUKS2
 * the keyslots, segments, digests and tokens are objects with numeric names
 * ("segments.0.encryption"); "digests.0.segments.0" is an array element. set
 * creates missing objects along PATH, and an index one past the end of an
 * array appends. VALUE is JSON when all of it parses as JSON (4096, true,
 * null, "16777216", {"type":"x","keyslots":[]}); anything else is a string
 * (cipher_null-ecb, aes-cbc-essiv:sha256). LUKS2 keeps 64-bit numbers as
 * strings: write offsets and sizes quoted.
 *
 * Reading takes the valid copy (magic, offset, size, SHA-256 checksum) with
 * the higher sequence ID, as cryptsetup does. Every write (set, del, put)
 * writes both copies — the primary at 0 and the secondary at hdr_size — with
 * the same JSON area, the sequence ID plus one, and each binary header's
 * checksum recomputed: SHA-256 over the 4096-byte binary header with its
 * checksum field zeroed, followed by the whole JSON area. Nothing else is
 * checked: the host need not follow the rules (cryptsetup's validation is
 * what the tests exercise). No cryptsetup locks are taken.
 *
 * Exit 0 on success, 1 on failure (a message on stderr), 2 on a usage error.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <endian.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"

#define BIN_LEN 4096u
#define CSUM_LEN 64u
#define SHA256_LEN 32u
#define HDR_SIZE_MIN (16u * 1024)
#define HDR_SIZE_MAX (4u * 1024 * 1024)
#define JSON_PARSE_DEPTH 32
#define PATH_DEPTH_MAX 16

static const char magic1[6] = "LUKS\xba\xbe";
static const char magic2[6] = "SKUL\xba\xbe";

/* The binary header (docs/on-disk-format-luks2.pdf, "LUKS2 binary header"):
 * integers big-endian. */
struct luks2_bin {
        char magic[6];
        uint16_t version;
        uint64_t hdr_size;
        uint64_t seqid;
        char label[48];
        char csum_alg[32];
        uint8_t salt[64];
        char uuid[40];
        char subsystem[48];
        uint64_t hdr_offset;
        uint8_t padding[184];
        uint8_t csum[CSUM_LEN];
        uint8_t padding4096[7 * 512];
} __attribute__((packed));

_Static_assert(sizeof(struct luks2_bin) == BIN_LEN, "LUKS2 binary header is 4096 bytes");
_Static_assert(offsetof(struct luks2_bin, csum) == 448, "LUKS2 checksum at offset 448");

struct hdr_copy {
        struct luks2_bin bin;
        bool seen;      /* the magic was there */
        bool valid;     /* and everything else, checksum included */
};

struct hdr {
        const char *dev;
        int fd;
        uint64_t size;          /* hdr_size: binary header + JSON area */
        struct hdr_copy copy[2];
        int src;                /* the copy the metadata was read from */
        json_object *json;
};

static int fail(const struct hdr *h, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(const struct hdr *h, int r, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "luks2-hdr: %s: ", h->dev);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r;
}

/* ---------------------------------------------------------------- on disk */

static int pread_all(int fd, void *buf, size_t len, uint64_t off) {
        size_t n = 0;

        while (n < len) {
                ssize_t k = pread(fd, (char *) buf + n, len - n, (off_t) (off + n));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO;
                n += (size_t) k;
        }
        return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
        size_t n = 0;

        while (n < len) {
                ssize_t k = pwrite(fd, (const char *) buf + n, len - n, (off_t) (off + n));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                n += (size_t) k;
        }
        return 0;
}

/* SHA-256 over the binary header with a zeroed checksum field and the JSON area. */
static int csum_compute(const struct luks2_bin *bin, const char *area, size_t area_len,
                        uint8_t ret[SHA256_LEN]) {
        struct luks2_bin tmp = *bin;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned len = 0;
        int ok;

        if (!ctx)
                return -ENOMEM;
        memset(tmp.csum, 0, sizeof(tmp.csum));
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, &tmp, sizeof(tmp)) == 1 &&
             EVP_DigestUpdate(ctx, area, area_len) == 1 && EVP_DigestFinal_ex(ctx, ret, &len) == 1 &&
             len == SHA256_LEN;
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : -EIO;
}

/* The binary header at off, with its magic; whether it is sane. */
static int bin_read(int fd, uint64_t off, int which, struct hdr_copy *c) {
        int r = pread_all(fd, &c->bin, sizeof(c->bin), off);

        if (r < 0)
                return r;
        c->seen = memcmp(c->bin.magic, which ? magic2 : magic1, sizeof(magic1)) == 0;
        if (!c->seen || be16toh(c->bin.version) != 2 || be64toh(c->bin.hdr_offset) != off)
                return -EINVAL;
        if (be64toh(c->bin.hdr_size) < HDR_SIZE_MIN || be64toh(c->bin.hdr_size) > HDR_SIZE_MAX ||
            be64toh(c->bin.hdr_size) % BIN_LEN != 0 || (which == 1 && be64toh(c->bin.hdr_size) != off))
                return -EINVAL;
        if (strncmp(c->bin.csum_alg, "sha256", sizeof(c->bin.csum_alg)) != 0)
                return -EOPNOTSUPP;
        return 0;
}

/* The JSON area of a sane binary header at off; the copy is valid when its
 * checksum matches. */
static int copy_read(int fd, uint64_t off, int which, struct hdr_copy *c, char **ret_area) {
        _cleanup_(freep) char *area = NULL;
        uint8_t sum[SHA256_LEN];
        size_t area_len;
        int r;

        *c = (struct hdr_copy) {};
        r = bin_read(fd, off, which, c);
        if (r < 0)
                return r;
        area_len = be64toh(c->bin.hdr_size) - BIN_LEN;
        area = malloc(area_len);
        if (!area)
                return -ENOMEM;
        r = pread_all(fd, area, area_len, off + BIN_LEN);
        if (r >= 0)
                r = csum_compute(&c->bin, area, area_len, sum);
        if (r < 0)
                return r;
        if (memcmp(sum, c->bin.csum, sizeof(sum)) != 0)
                return -EBADMSG;
        c->valid = true;
        *ret_area = TAKE_PTR(area);
        return 0;
}

/* Where the secondary may be when the primary says nothing (cryptsetup's list). */
static const uint64_t secondary_offsets[] = {
        0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
};

static int hdr_read_copies(struct hdr *h, char **area0, char **area1) {
        (void) copy_read(h->fd, 0, 0, &h->copy[0], area0);
        if (h->copy[0].valid) {
                (void) copy_read(h->fd, be64toh(h->copy[0].bin.hdr_size), 1, &h->copy[1], area1);
        } else {
                for (size_t i = 0; i < ELEMENTSOF(secondary_offsets) && !h->copy[1].valid; i++)
                        (void) copy_read(h->fd, secondary_offsets[i], 1, &h->copy[1], area1);
        }
        if (!h->copy[0].valid && !h->copy[1].valid)
                return fail(h, -EINVAL, "no valid LUKS2 header (magic, version, offset, size and SHA-256 "
                            "checksum) in either copy");
        if (h->copy[0].valid && h->copy[1].valid)
                h->src = be64toh(h->copy[1].bin.seqid) > be64toh(h->copy[0].bin.seqid) ? 1 : 0;
        else
                h->src = h->copy[0].valid ? 0 : 1;
        h->size = be64toh(h->copy[h->src].bin.hdr_size);
        return 0;
}

static int hdr_read(struct hdr *h) {
        _cleanup_(freep) char *area0 = NULL;
        _cleanup_(freep) char *area1 = NULL;
        char err[256];
        const char *area;
        int r;

        r = hdr_read_copies(h, &area0, &area1);
        if (r < 0)
                return r;
        area = h->src == 0 ? area0 : area1;
        r = json_parse_bounded(area, strnlen(area, h->size - BIN_LEN), JSON_PARSE_DEPTH, &h->json, err,
                               sizeof(err));
        if (r < 0)
                return fail(h, r, "the %s header's JSON area does not parse: %s",
                            h->src == 0 ? "primary" : "secondary", err);
        if (!json_object_is_type(h->json, json_type_object))
                return fail(h, -EINVAL, "the JSON metadata is not an object");
        return 0;
}

/* Both copies from the metadata in h->json: the source's binary header with
 * each copy's magic and offset (and its own salt where it had one), the
 * sequence ID above both, the checksum over the new JSON area. */
static int hdr_write(struct hdr *h) {
        const char *text = json_object_to_json_string_ext(h->json, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t area_len = h->size - BIN_LEN, len = text ? strlen(text) : 0;
        uint64_t seqid = be64toh(h->copy[h->src].bin.seqid);
        _cleanup_(freep) char *area = NULL;
        int r = 0;

        if (!text)
                return fail(h, -ENOMEM, "out of memory");
        if (len >= area_len)
                return fail(h, -EMSGSIZE, "the JSON metadata (%zu bytes) does not fit the JSON area (%zu bytes "
                            "with a NUL)", len, area_len);
        area = calloc(1, area_len);
        if (!area)
                return fail(h, -ENOMEM, "out of memory");
        memcpy(area, text, len);
        for (int i = 0; i < 2; i++)
                if (h->copy[i].valid && be64toh(h->copy[i].bin.seqid) > seqid)
                        seqid = be64toh(h->copy[i].bin.seqid);
        for (int i = 0; i < 2 && r >= 0; i++) {
                struct luks2_bin bin = h->copy[h->src].bin;
                uint64_t off = i == 0 ? 0 : h->size;

                memcpy(bin.magic, i == 0 ? magic1 : magic2, sizeof(magic1));
                if (h->copy[i].seen)
                        memcpy(bin.salt, h->copy[i].bin.salt, sizeof(bin.salt));
                bin.hdr_offset = htobe64(off);
                bin.seqid = htobe64(seqid + 1);
                memset(bin.csum, 0, sizeof(bin.csum));
                r = csum_compute(&bin, area, area_len, bin.csum);
                if (r >= 0)
                        r = pwrite_all(h->fd, &bin, sizeof(bin), off);
                if (r >= 0)
                        r = pwrite_all(h->fd, area, area_len, off + BIN_LEN);
        }
        if (r >= 0 && fsync(h->fd) < 0)
                r = -errno;
        if (r < 0)
                return fail(h, r, "cannot write the header: %s", strerror(-r));
        return 0;
}

/* ---------------------------------------------------------------- paths */

struct path {
        char *buf;
        char *part[PATH_DEPTH_MAX];
        size_t n;
};

static void path_free(struct path *p) {
        free(p->buf);
}

static int path_parse(const struct hdr *h, const char *s, struct path *ret) {
        struct path p = {};
        char *save = NULL;

        p.buf = strdup(s);
        if (!p.buf)
                return -ENOMEM;
        for (char *t = strtok_r(p.buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
                if (p.n == PATH_DEPTH_MAX) {
                        free(p.buf);
                        return fail(h, -EINVAL, "path '%s' is deeper than %d", s, PATH_DEPTH_MAX);
                }
                p.part[p.n++] = t;
        }
        if (p.n == 0) {
                free(p.buf);
                return fail(h, -EINVAL, "empty path '%s'", s);
        }
        *ret = p;
        return 0;
}

/* An array index: decimal, below limit. */
static int path_index(const char *s, size_t limit, size_t *ret) {
        char *end;
        unsigned long v;

        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v >= limit)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* The member or element name of o; NULL when missing. */
static json_object *path_child(json_object *o, const char *name) {
        json_object *v = NULL;
        size_t i;

        if (json_object_is_type(o, json_type_object))
                return json_object_object_get_ex(o, name, &v) ? v : NULL;
        if (json_object_is_type(o, json_type_array) && path_index(name, json_object_array_length(o), &i) >= 0)
                return json_object_array_get_idx(o, i);
        return NULL;
}

/* The container of p's last part; with create, missing objects on the way are
 * added to objects. */
static int path_parent(const struct hdr *h, const struct path *p, const char *s, bool create,
                       json_object **ret) {
        json_object *o = h->json;

        for (size_t i = 0; i + 1 < p->n; i++) {
                json_object *next = path_child(o, p->part[i]);

                if (!next && create && json_object_is_type(o, json_type_object)) {
                        next = json_object_new_object();
                        if (!next || json_object_object_add(o, p->part[i], next) < 0)
                                return fail(h, -ENOMEM, "out of memory");
                }
                if (!next)
                        return fail(h, -ENOENT, "%s: no '%s' in %s", s, p->part[i],
                                    json_type_to_name(json_object_get_type(o)));
                o = next;
        }
        if (!json_object_is_type(o, json_type_object) && !json_object_is_type(o, json_type_array))
                return fail(h, -ENOTDIR, "%s: the parent of '%s' is a %s, not an object or array", s,
                            p->part[p->n - 1], json_type_to_name(json_object_get_type(o)));
        *ret = o;
        return 0;
}

/* ---------------------------------------------------------------- verbs */

static int verb_dump(struct hdr *h, _unused_ int argc, _unused_ char **argv) {
        const char *s = json_object_to_json_string_ext(h->json, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);

        return s && puts(s) >= 0 ? 0 : -EIO;
}

static int verb_get(struct hdr *h, _unused_ int argc, char **argv) {
        _cleanup_(path_free) struct path p = {};
        json_object *parent, *v;
        int r;

        r = path_parse(h, argv[0], &p);
        if (r >= 0)
                r = path_parent(h, &p, argv[0], false, &parent);
        if (r < 0)
                return r;
        v = path_child(parent, p.part[p.n - 1]);
        if (!v)
                return fail(h, -ENOENT, "%s: no such value", argv[0]);
        if (json_object_is_type(v, json_type_string))
                return puts(json_object_get_string(v)) >= 0 ? 0 : -EIO;
        return puts(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) >=
                       0 ? 0 : -EIO;
}

/* VALUE: JSON when all of it parses (a top-level null is JSON null), else a string. */
static json_object *value_parse(const char *s) {
        char err[128];
        json_object *v = NULL;

        if (json_parse_bounded(s, strlen(s), JSON_PARSE_DEPTH, &v, err, sizeof(err)) >= 0)
                return v ? v : json_object_new_null();
        return json_object_new_string(s);
}

static int set_one(struct hdr *h, const char *arg) {
        _cleanup_(path_free) struct path p = {};
        _cleanup_(freep) char *ps = NULL;
        const char *eq = strchr(arg, '=');
        json_object *parent, *v;
        size_t i;
        int r;

        if (!eq)
                return fail(h, -EINVAL, "'%s' is not PATH=VALUE", arg);
        ps = strndup(arg, (size_t) (eq - arg));
        if (!ps)
                return -ENOMEM;
        r = path_parse(h, ps, &p);
        if (r >= 0)
                r = path_parent(h, &p, ps, true, &parent);
        if (r < 0)
                return r;
        v = value_parse(eq + 1);
        if (!v)
                return fail(h, -ENOMEM, "out of memory");
        if (json_object_is_type(parent, json_type_object))
                return json_object_object_add(parent, p.part[p.n - 1], v) < 0 ? -ENOMEM : 0;
        if (path_index(p.part[p.n - 1], json_object_array_length(parent) + 1, &i) < 0) {
                json_object_put(v);
                return fail(h, -ERANGE, "%s: '%s' is not an index of an array of %zu", ps, p.part[p.n - 1],
                            json_object_array_length(parent));
        }
        return json_object_array_put_idx(parent, i, v) < 0 ? -ENOMEM : 0;
}

static int verb_set(struct hdr *h, int argc, char **argv) {
        for (int i = 0; i < argc; i++) {
                int r = set_one(h, argv[i]);

                if (r < 0)
                        return r;
        }
        return 0;
}

static int del_one(struct hdr *h, const char *arg) {
        _cleanup_(path_free) struct path p = {};
        json_object *parent;
        const char *last;
        int r;

        r = path_parse(h, arg, &p);
        if (r >= 0)
                r = path_parent(h, &p, arg, false, &parent);
        if (r < 0)
                return r;
        last = p.part[p.n - 1];
        if (!path_child(parent, last))
                return fail(h, -ENOENT, "%s: no such value", arg);
        if (json_object_is_type(parent, json_type_object))
                json_object_object_del(parent, last);
        else
                (void) json_object_array_del_idx(parent, strtoul(last, NULL, 10), 1);
        return 0;
}

static int verb_del(struct hdr *h, int argc, char **argv) {
        for (int i = 0; i < argc; i++) {
                int r = del_one(h, argv[i]);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* The whole metadata from stdin, at most the JSON area's size. */
static int verb_put(struct hdr *h, _unused_ int argc, _unused_ char **argv) {
        size_t max = h->size - BIN_LEN, n;
        _cleanup_(freep) char *buf = malloc(max + 1);
        json_object *j = NULL;
        char err[256];
        int r;

        if (!buf)
                return -ENOMEM;
        r = fileio_read_upto(STDIN_FILENO, buf, max + 1, &n);
        if (r < 0)
                return fail(h, r, "cannot read the JSON from stdin: %s", strerror(-r));
        if (n > max)
                return fail(h, -EMSGSIZE, "the JSON on stdin is larger than the JSON area (%zu bytes)", max);
        r = json_parse_bounded(buf, n, JSON_PARSE_DEPTH, &j, err, sizeof(err));
        if (r < 0)
                return fail(h, r, "the JSON on stdin does not parse: %s", err);
        if (!json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return fail(h, -EINVAL, "the JSON on stdin is not an object");
        }
        json_object_put(h->json);
        h->json = j;
        return 0;
}

static const struct verb {
        const char *name;
        const char *args;
        int min_args, max_args;
        bool write;
        int (*run)(struct hdr *h, int argc, char **argv);
} verbs[] = {
        { "dump", "DEV",                  0, 0,       false, verb_dump },
        { "get",  "DEV PATH",             1, 1,       false, verb_get },
        { "set",  "DEV PATH=VALUE...",    1, INT_MAX, true,  verb_set },
        { "del",  "DEV PATH...",          1, INT_MAX, true,  verb_del },
        { "put",  "DEV < JSON",           0, 0,       true,  verb_put },
};

static int usage(void) {
        fputs("Usage:\n", stderr);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(stderr, "  luks2-hdr %s %s\n", verbs[i].name, verbs[i].args);
        return 2;
}

int main(int argc, char **argv) {
        const struct verb *v = NULL;
        struct hdr h = { .fd = -1 };
        int r;

        for (size_t i = 0; argc >= 3 && i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        v = &verbs[i];
        if (!v || argc - 3 < v->min_args || argc - 3 > v->max_args)
                return usage();
        h.dev = argv[2];
        h.fd = open(h.dev, (v->write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (h.fd < 0)
                return fail(&h, 1, "cannot open: %s", strerror(errno));
        r = hdr_read(&h);
        if (r >= 0)
                r = v->run(&h, argc - 3, argv + 3);
        if (r >= 0 && v->write)
                r = hdr_write(&h);
        json_object_put(h.json);
        close(h.fd);
        return r < 0 ? 1 : 0;
}

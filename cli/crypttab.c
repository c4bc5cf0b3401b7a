/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * crypttab(5) parsing for snpseal reseal --crypttab (crypttab.h). Like
 * systemd-cryptsetup-generator: a '#' comments out a whole line only, fields
 * are split at blanks, SOURCE tags become /dev/disk/by-* paths. Stricter
 * than it in one point: a line with more than four fields is reported (the
 * generator ignores the extra fields).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypttab.h"
#include "fileio.h"
#include "macro.h"

#define BLANKS " \t\n\v\f\r"

_printf_(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* ---- SOURCE ---- */

/* The length (2..4) of the valid multi-byte UTF-8 character at s, else 0:
 * no overlong forms, surrogates, non-characters or values above U+10FFFF
 * (systemd's utf8_encoded_valid_unichar(), which udev's escaping uses). */
static size_t utf8_char_len(const unsigned char *s) {
        static const struct {
                unsigned char mask, lead;
                size_t len;
                uint32_t min;
        } forms[] = {
                { 0xe0, 0xc0, 2, 0x80 },
                { 0xf0, 0xe0, 3, 0x800 },
                { 0xf8, 0xf0, 4, 0x10000 },
        };

        for (size_t f = 0; f < ELEMENTSOF(forms); f++) {
                uint32_t c;

                if ((s[0] & forms[f].mask) != forms[f].lead)
                        continue;
                c = s[0] & (unsigned char) ~forms[f].mask;
                for (size_t i = 1; i < forms[f].len; i++) {
                        if ((s[i] & 0xc0) != 0x80)
                                return 0;       /* also stops at the NUL */
                        c = (c << 6) | (s[i] & 0x3f);
                }
                if (c < forms[f].min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ||
                    (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe)
                        return 0;
                return forms[f].len;
        }
        return 0;
}

static bool devnode_char_ok(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c != '\0' && strchr("#+-.:=@_", c));
}

/* dir + value escaped like udev's encode_devnode_name(). */
static int devnode_path(const char *dir, const char *value, size_t len, char **ret) {
        size_t dirlen = strlen(dir), j = dirlen, size;
        char *p;

        if (!SIZE_MUL_OK(len, 4, &size) || !SIZE_ADD_OK(size, dirlen + 1, &size))
                return -ENOMEM;
        p = malloc(size);
        if (!p)
                return -ENOMEM;
        memcpy(p, dir, dirlen);
        for (size_t i = 0; i < len; i++) {
                size_t n = utf8_char_len((const unsigned char *) value + i);

                if (n > 1 && i + n <= len) {
                        memcpy(p + j, value + i, n);
                        j += n;
                        i += n - 1;
                } else if (devnode_char_ok(value[i]))
                        p[j++] = value[i];
                else
                        j += (size_t) snprintf(p + j, size - j, "\\x%02x", (unsigned char) value[i]);
        }
        p[j] = '\0';
        *ret = p;
        return 0;
}

int crypttab_source_path(const char *source, char **ret) {
        static const struct {
                const char *tag;
                const char *dir;
        } tags[] = {
                { "UUID=",      "/dev/disk/by-uuid/" },
                { "PARTUUID=",  "/dev/disk/by-partuuid/" },
                { "LABEL=",     "/dev/disk/by-label/" },
                { "PARTLABEL=", "/dev/disk/by-partlabel/" },
        };

        for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
                const char *v;
                size_t len;

                if (strncmp(source, tags[i].tag, strlen(tags[i].tag)) != 0)
                        continue;
                v = source + strlen(tags[i].tag);
                len = strlen(v);
                /* One pair of matching quotes around the value goes. */
                if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
                        v++;
                        len -= 2;
                }
                if (len == 0)
                        return -EINVAL;
                return devnode_path(tags[i].dir, v, len, ret);
        }
        if (source[0] != '/')
                return -EINVAL;
        *ret = strdup(source);
        return *ret ? 0 : -ENOMEM;
}

/* ---- one line ---- */

void crypttab_entry_done(struct crypttab_entry *e) {
        free(e->name);
        free(e->source);
        free(e->device);
        free(e->header);
        *e = (struct crypttab_entry) {};
}

/* header=PATH among the comma-separated options (the last one counts). */
static int option_header(const char *options, char **ret, char *err, size_t errlen) {
        _cleanup_(freep) char *copy = strdup(options);
        const char *value = NULL;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
                if (strncmp(o, "header=", 7) == 0)
                        value = o + 7;
        if (!value)
                return 0;
        if (value[0] != '/' || strchr(value, ':'))
                return fail(err, errlen, "header=%.80s: only an absolute path is supported (not PATH:DEVICE)",
                            value);
        *ret = strdup(value);
        return *ret ? 0 : -ENOMEM;
}

static int entry_make(char **field, size_t n, struct crypttab_entry *ret, char *err, size_t errlen) {
        struct crypttab_entry e = {};
        int r;

        if (strchr(field[0], '/'))
                return fail(err, errlen, "invalid NAME '%.80s': a device-mapper name has no '/'", field[0]);
        r = crypttab_source_path(field[1], &e.device);
        if (r == -EINVAL)
                return fail(err, errlen, "invalid SOURCE '%.80s': expected an absolute path, or UUID=, "
                            "PARTUUID=, LABEL= or PARTLABEL= with a value", field[1]);
        if (r >= 0 && n == 4)
                r = option_header(field[3], &e.header, err, errlen);
        if (r >= 0 && (!(e.name = strdup(field[0])) || !(e.source = strdup(field[1]))))
                r = -ENOMEM;
        if (r < 0) {
                crypttab_entry_done(&e);
                return r;
        }
        *ret = e;
        return 1;
}

int crypttab_parse_line(const char *line, struct crypttab_entry *ret, char *err, size_t errlen) {
        _cleanup_(freep) char *copy = NULL;
        char *field[5], *save = NULL;
        size_t n = 0;

        line += strspn(line, BLANKS);
        if (line[0] == '\0' || line[0] == '#')
                return 0;
        copy = strdup(line);
        if (!copy)
                return -ENOMEM;
        for (char *p = strtok_r(copy, BLANKS, &save); p && n < ELEMENTSOF(field); p = strtok_r(NULL, BLANKS, &save))
                field[n++] = p;
        if (n < 2)
                return fail(err, errlen, "no SOURCE: expected NAME SOURCE [KEY [OPTIONS]]");
        if (n > 4)
                return fail(err, errlen, "more than four fields: expected NAME SOURCE [KEY [OPTIONS]]");
        return entry_make(field, n, ret, err, errlen);
}

/* ---- the file ---- */

void crypttab_done(struct crypttab *t) {
        for (size_t i = 0; i < t->n_entries; i++)
                crypttab_entry_done(&t->entries[i]);
        free(t->entries);
        free(t->errors);
        *t = (struct crypttab) {};
}

static int add_error(struct crypttab *t, unsigned line, const char *message) {
        struct crypttab_error *a = reallocarray(t->errors, t->n_errors + 1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        t->errors = a;
        a[t->n_errors].line = line;
        (void) snprintf(a[t->n_errors].message, sizeof(a[t->n_errors].message), "%s", message);
        t->n_errors++;
        return 0;
}

static int add_entry(struct crypttab *t, const struct crypttab_entry *e) {
        struct crypttab_entry *a = reallocarray(t->entries, t->n_entries + 1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        t->entries = a;
        a[t->n_entries++] = *e;
        return 0;
}

static int parse_one(struct crypttab *t, unsigned line, const char *text, size_t len) {
        _cleanup_(freep) char *copy = NULL;
        char err[sizeof(t->errors->message)];
        struct crypttab_entry e;
        int r;

        if (memchr(text, '\0', len))
                return add_error(t, line, "contains a NUL byte");
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;
        r = crypttab_parse_line(copy, &e, err, sizeof(err));
        if (r == -EINVAL)
                return add_error(t, line, err);
        if (r <= 0)
                return r;
        e.line = line;
        r = add_entry(t, &e);
        if (r < 0)
                crypttab_entry_done(&e);
        return r;
}

int crypttab_parse(const char *text, size_t size, struct crypttab *ret) {
        struct crypttab t = {};
        unsigned line = 0;
        int r = 0;

        for (size_t pos = 0; r >= 0 && pos < size; line++) {
                const char *nl = memchr(text + pos, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - (text + pos)) : size - pos;

                r = parse_one(&t, line + 1, text + pos, len);
                pos += len + (nl ? 1 : 0);
        }
        if (r < 0) {
                crypttab_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int crypttab_read(const char *path, struct crypttab *ret) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0;
        int r;

        if (fd < 0)
                return -errno;
        buf = malloc(CRYPTTAB_SIZE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        r = fileio_read_upto(fd, buf, CRYPTTAB_SIZE_MAX + 1, &size);
        if (r < 0)
                return r;
        if (size > CRYPTTAB_SIZE_MAX)
                return -EFBIG;
        return crypttab_parse(buf, size, ret);
}

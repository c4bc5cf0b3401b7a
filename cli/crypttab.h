/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /etc/crypttab (crypttab(5)) for snpseal reseal --crypttab: the file is
 * parsed into entries first; the reseal code acts on those only.
 *
 * A line is NAME SOURCE [KEY [OPTIONS]], fields separated by blanks; empty
 * lines and lines whose first non-blank character is '#' are ignored. SOURCE
 * is an absolute path or UUID=, PARTUUID=, LABEL=, PARTLABEL= with a value
 * (optionally in matching quotes), resolved as systemd does: to
 * /dev/disk/by-uuid/VALUE and so on, the value escaped the way udev names
 * those links (every byte that is not part of a valid multi-byte UTF-8
 * character and not one of 0-9 A-Z a-z # + - . : = @ _ becomes \xNN, so
 * "a/b" is "a\x2fb"). Of the OPTIONS only header=PATH (a detached LUKS2
 * header; an absolute path, not the PATH:DEVICE form) is used.
 *
 * A line that does not parse becomes an error (its number and an English
 * message); the other lines still count. Nothing here prints.
 */
#pragma once

#include <stddef.h>

#define CRYPTTAB_DEFAULT "/etc/crypttab"
/* A larger file is refused (-EFBIG). */
#define CRYPTTAB_SIZE_MAX (1024u * 1024u)

struct crypttab_entry {
        unsigned line;          /* 1-based */
        char *name;             /* NAME, the device-mapper name */
        char *source;           /* SOURCE as written */
        char *device;           /* the path SOURCE resolves to */
        char *header;           /* header=PATH, or NULL */
};

struct crypttab_error {
        unsigned line;
        char message[192];
};

struct crypttab {
        struct crypttab_entry *entries;
        size_t n_entries;
        struct crypttab_error *errors;
        size_t n_errors;
};

/* One line (NUL-terminated, without the newline): 1 and *ret filled for an
 * entry, 0 for a blank or comment line, -EINVAL with the reason in err for a
 * line that does not parse, -ENOMEM. */
int crypttab_parse_line(const char *line, struct crypttab_entry *ret, char *err, size_t errlen);
void crypttab_entry_done(struct crypttab_entry *e);

/* The device path of a SOURCE (malloc()ed): -EINVAL for a relative path, an
 * unknown tag or an empty value, -ENOMEM. */
int crypttab_source_path(const char *source, char **ret);

/* The whole text (size bytes, need not be NUL-terminated): entries and
 * errors in line order. Fails only with -ENOMEM. */
int crypttab_parse(const char *text, size_t size, struct crypttab *ret);
/* Read and parse the file at path: -errno when it cannot be read, -EFBIG
 * when it is larger than CRYPTTAB_SIZE_MAX. */
int crypttab_read(const char *path, struct crypttab *ret);
void crypttab_done(struct crypttab *t);

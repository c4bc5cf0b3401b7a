/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * crypttab_parse(): /etc/crypttab for snpseal reseal --crypttab, written by
 * the administrator but parsed by a tool that acts on every volume it names.
 * Input: the file's text.
 * Invariants: never more entries and errors than lines; every entry has a
 * name, a SOURCE and an absolute device path (what crypttab_source_path
 * gives for that SOURCE), a header only as an absolute path; line numbers
 * increase; every error has a message.
 */

#include <errno.h>
#include <string.h>

#include "crypttab.h"
#include "fuzz.h"
#include "macro.h"

static size_t count_lines(const uint8_t *data, size_t size) {
        size_t n = size > 0;

        for (size_t i = 0; i + 1 < size; i++)
                n += data[i] == '\n';
        return n;
}

static void check_entry(const struct crypttab_entry *e, unsigned prev_line) {
        _cleanup_(freep) char *path = NULL;

        FUZZ_CHECK(e->line > prev_line);
        FUZZ_CHECK(e->name && e->name[0]);
        FUZZ_CHECK(e->source && e->source[0]);
        FUZZ_CHECK(e->device && e->device[0] == '/');
        FUZZ_CHECK(!e->header || e->header[0] == '/');
        FUZZ_CHECK(crypttab_source_path(e->source, &path) == 0);
        FUZZ_CHECK(strcmp(path, e->device) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct crypttab t = {};
        unsigned prev = 0;

        if (size > CRYPTTAB_SIZE_MAX)
                return 0;
        if (crypttab_parse((const char *) data, size, &t) < 0)
                return 0;       /* -ENOMEM only */
        FUZZ_CHECK(t.n_entries + t.n_errors <= count_lines(data, size));
        for (size_t i = 0; i < t.n_entries; i++) {
                check_entry(&t.entries[i], prev);
                prev = t.entries[i].line;
        }
        prev = 0;
        for (size_t i = 0; i < t.n_errors; i++) {
                FUZZ_CHECK(t.errors[i].line > prev);
                FUZZ_CHECK(t.errors[i].message[0] != '\0');
                prev = t.errors[i].line;
        }
        crypttab_done(&t);
        return 0;
}

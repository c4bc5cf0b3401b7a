/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* cli/crypttab.c: accept and reject tables for single lines, udev's
 * escaping of LABEL= values, whole files with line numbers, the file reader. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypttab.h"
#include "macro.h"

static const struct {
        const char *line;
        const char *name, *device, *header;
} accepted[] = {
        { "data UUID=1234-abcd none luks",            "data", "/dev/disk/by-uuid/1234-abcd", NULL },
        { "  data\tUUID=\"1234\"   \r",               "data", "/dev/disk/by-uuid/1234", NULL },
        { "data UUID=1234 /etc/key",                  "data", "/dev/disk/by-uuid/1234", NULL },
        { "v LABEL='my-vol'",                         "v", "/dev/disk/by-label/my-vol", NULL },
        { "v LABEL=\"a'",                             "v", "/dev/disk/by-label/\\x22a\\x27", NULL },
        { "v LABEL=a/b",                              "v", "/dev/disk/by-label/a\\x2fb", NULL },
        { "v LABEL=a\\b",                             "v", "/dev/disk/by-label/a\\x5cb", NULL },
        { "v LABEL=a$b*c",                            "v", "/dev/disk/by-label/a\\x24b\\x2ac", NULL },
        { "v LABEL=#+-.:=@_",                         "v", "/dev/disk/by-label/#+-.:=@_", NULL },
        /* Valid UTF-8 stays; invalid bytes, overlong forms, surrogates are escaped. */
        { "v LABEL=\xc3\xa9t\xc3\xa9",                "v", "/dev/disk/by-label/\xc3\xa9t\xc3\xa9", NULL },
        { "v LABEL=\xf0\x9f\x94\x92",                 "v", "/dev/disk/by-label/\xf0\x9f\x94\x92", NULL },
        { "v LABEL=\xc3(",                            "v", "/dev/disk/by-label/\\xc3\\x28", NULL },
        { "v LABEL=\xc0\xaf",                         "v", "/dev/disk/by-label/\\xc0\\xaf", NULL },
        { "v LABEL=\xed\xa0\x80",                     "v", "/dev/disk/by-label/\\xed\\xa0\\x80", NULL },
        { "v LABEL=\xef\xbf\xbe",                     "v", "/dev/disk/by-label/\\xef\\xbf\\xbe", NULL },
        { "v LABEL=\xf4\x90\x80\x80",                 "v", "/dev/disk/by-label/\\xf4\\x90\\x80\\x80", NULL },
        { "v PARTUUID=0a1b-02",                       "v", "/dev/disk/by-partuuid/0a1b-02", NULL },
        { "v PARTLABEL=root",                         "v", "/dev/disk/by-partlabel/root", NULL },
        { "v /dev/vdb",                               "v", "/dev/vdb", NULL },
        { "v /dev/vdb none header=/boot/h.img,discard", "v", "/dev/vdb", "/boot/h.img" },
        { "v /dev/vdb - discard,header=/a,header=/b", "v", "/dev/vdb", "/b" },
        { "v /dev/vdb none luks,discard",             "v", "/dev/vdb", NULL },
};

static const struct {
        const char *line;
        const char *message;
} rejected[] = {
        { "lonely",                           "no SOURCE" },
        { "  lonely  ",                       "no SOURCE" },
        { "a /dev/b c d e",                   "more than four fields" },
        { "a relative/path",                  "invalid SOURCE 'relative/path'" },
        { "a UUID=",                          "invalid SOURCE" },
        { "a LABEL=\"\"",                     "invalid SOURCE" },
        { "a FOO=bar",                        "invalid SOURCE" },
        { "a uuid=1234",                      "invalid SOURCE" },
        { "a/b /dev/x",                       "invalid NAME 'a/b'" },
        { "a /dev/x none header=rel.img",     "header=rel.img: only an absolute path" },
        { "a /dev/x none header=/h:UUID=1",   "header=/h:UUID=1: only an absolute path" },
        { "a /dev/x none header=",            "only an absolute path" },
};

static void test_accepted(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                struct crypttab_entry e = {};
                char err[256] = "";

                print_message("# accepted %zu: %s\n", i, accepted[i].line);
                assert_int_equal(crypttab_parse_line(accepted[i].line, &e, err, sizeof(err)), 1);
                assert_string_equal(e.name, accepted[i].name);
                assert_string_equal(e.device, accepted[i].device);
                if (accepted[i].header)
                        assert_string_equal(e.header, accepted[i].header);
                else
                        assert_null(e.header);
                assert_string_equal(err, "");
                crypttab_entry_done(&e);
        }
}

static void test_rejected(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rejected); i++) {
                struct crypttab_entry e = {};
                char err[256] = "";

                print_message("# rejected %zu: %s\n", i, rejected[i].line);
                assert_int_equal(crypttab_parse_line(rejected[i].line, &e, err, sizeof(err)), -EINVAL);
                assert_non_null(strstr(err, rejected[i].message));
                assert_null(e.name);
        }
}

static void test_ignored(void **state) {
        static const char *const lines[] = { "", "   ", "\t", "# data UUID=1", "   # a b c d e f", "#" };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                struct crypttab_entry e = {};
                char err[64] = "";

                assert_int_equal(crypttab_parse_line(lines[i], &e, err, sizeof(err)), 0);
                assert_null(e.name);
        }
}

static void test_source_path(void **state) {
        char *p = NULL;

        assert_int_equal(crypttab_source_path("LABEL=x y", &p), 0);
        assert_string_equal(p, "/dev/disk/by-label/x\\x20y");
        free(p);
        assert_int_equal(crypttab_source_path("PARTLABEL='a b'", &p), 0);
        assert_string_equal(p, "/dev/disk/by-partlabel/a\\x20b");
        free(p);
        assert_int_equal(crypttab_source_path("UUID='", &p), 0);      /* one quote is the value */
        assert_string_equal(p, "/dev/disk/by-uuid/\\x27");
        free(p);
        assert_int_equal(crypttab_source_path("", &p), -EINVAL);
        assert_int_equal(crypttab_source_path("disk", &p), -EINVAL);
}

static void test_file(void **state) {
        static const char text[] =
                "# crypttab\n"
                "root UUID=1111 none luks,discard\n"
                "\n"
                "bad\n"
                "swap /dev/vdc /dev/urandom swap,cipher=aes-xts-plain64\r\n"
                "nul \0 here\n"
                "data LABEL=d/1";        /* no newline at the end */
        struct crypttab t;

        assert_int_equal(crypttab_parse(text, sizeof(text) - 1, &t), 0);
        assert_int_equal(t.n_entries, 3);
        assert_int_equal(t.entries[0].line, 2);
        assert_string_equal(t.entries[0].name, "root");
        assert_string_equal(t.entries[0].source, "UUID=1111");
        assert_string_equal(t.entries[0].device, "/dev/disk/by-uuid/1111");
        assert_int_equal(t.entries[1].line, 5);
        assert_string_equal(t.entries[1].device, "/dev/vdc");
        assert_int_equal(t.entries[2].line, 7);
        assert_string_equal(t.entries[2].device, "/dev/disk/by-label/d\\x2f1");
        assert_int_equal(t.n_errors, 2);
        assert_int_equal(t.errors[0].line, 4);
        assert_non_null(strstr(t.errors[0].message, "no SOURCE"));
        assert_int_equal(t.errors[1].line, 6);
        assert_non_null(strstr(t.errors[1].message, "NUL"));
        crypttab_done(&t);

        assert_int_equal(crypttab_parse("", 0, &t), 0);
        assert_int_equal(t.n_entries, 0);
        assert_int_equal(t.n_errors, 0);
        crypttab_done(&t);
}

static void test_read(void **state) {
        char path[] = "/tmp/test-crypttab.XXXXXX";
        _cleanup_(closep) int fd = mkstemp(path);
        _cleanup_(freep) char *big = calloc(1, CRYPTTAB_SIZE_MAX + 1);
        struct crypttab t;

        assert_true(fd >= 0);
        assert_non_null(big);
        assert_int_equal(write(fd, "a /dev/a\n", 9), 9);
        assert_int_equal(crypttab_read(path, &t), 0);
        assert_int_equal(t.n_entries, 1);
        assert_string_equal(t.entries[0].device, "/dev/a");
        crypttab_done(&t);

        /* Exactly the limit is read, one byte more is refused. */
        memset(big, '\n', CRYPTTAB_SIZE_MAX + 1);
        assert_int_equal(pwrite(fd, big, CRYPTTAB_SIZE_MAX, 0), (ssize_t) CRYPTTAB_SIZE_MAX);
        assert_int_equal(crypttab_read(path, &t), 0);
        crypttab_done(&t);
        assert_int_equal(pwrite(fd, big, CRYPTTAB_SIZE_MAX + 1, 0), (ssize_t) CRYPTTAB_SIZE_MAX + 1);
        assert_int_equal(crypttab_read(path, &t), -EFBIG);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(crypttab_read(path, &t), -ENOENT);
        assert_int_equal(crypttab_read("/", &t), -EISDIR);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepted),
                cmocka_unit_test(test_rejected),
                cmocka_unit_test(test_ignored),
                cmocka_unit_test(test_source_path),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_read),
        };

        return cmocka_run_group_tests_name("crypttab", tests, NULL, NULL);
}

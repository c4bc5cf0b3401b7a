/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The main() of a fuzz harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput() once over every file of the harness's seed corpus
 * and prints TAP, one "ok N - <file>" per input. An input that breaks an
 * invariant aborts the program, which fails the test.
 *
 *   fuzz-NAME              the corpus $top_srcdir/tests/fuzz/corpus/NAME/
 *   fuzz-NAME PATH…        these files, or every file of these directories
 *                          (to reproduce a crash found by a fuzzing build)
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

/* Corpus files are small; anything larger is a mistake. */
#define REPLAY_FILE_MAX (1024u * 1024u)
#define REPLAY_FILES_MAX 4096u

#include "fuzz.h"

struct file_list {
        char *paths[REPLAY_FILES_MAX];
        size_t n;
        size_t shown_from;      /* TAP names leave out the $top_srcdir/ prefix */
};

static int list_add(struct file_list *l, const char *dir, const char *name) {
        char *p;

        if (l->n >= REPLAY_FILES_MAX)
                return -E2BIG;
        if (dir ? asprintf(&p, "%s/%s", dir, name) < 0 : !(p = strdup(name)))
                return -ENOMEM;
        l->paths[l->n++] = p;
        return 0;
}

static int skip_dot(const struct dirent *d) {
        return d->d_name[0] != '.';
}

/* Every regular file of dir, sorted by name; a plain file is taken as is. */
static int list_path(struct file_list *l, const char *path) {
        struct dirent **names = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return list_add(l, NULL, path);
        n = scandir(path, &names, skip_dot, alphasort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                if (r >= 0)
                        r = list_add(l, path, names[i]->d_name);
                free(names[i]);
        }
        free(names);
        return r;
}

/* Exactly the file's bytes in a buffer of exactly that size, so that the
 * sanitizers see any read past the end. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) uint8_t *buf = NULL;
        struct stat st;
        size_t got = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EISDIR;
        if ((uint64_t) st.st_size > REPLAY_FILE_MAX)
                return -EFBIG;
        buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        if (!buf)
                return -ENOMEM;
        while (got < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + got, (size_t) st.st_size - got);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO;
                got += (size_t) k;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = got;
        return 0;
}

/* "fuzz-base64" (or libtool's "lt-fuzz-base64") → "base64". */
static const char *corpus_name(const char *argv0) {
        const char *name = strrchr(argv0, '/');

        name = name ? name + 1 : argv0;
        if (strncmp(name, "lt-", 3) == 0)
                name += 3;
        if (strncmp(name, "fuzz-", 5) == 0)
                name += 5;
        return name;
}

static int default_corpus(const char *argv0, struct file_list *l) {
        const char *top = getenv("top_srcdir");
        _cleanup_(freep) char *dir = NULL;
        int r;

        if (!top || !*top)
                top = ".";
        if (asprintf(&dir, "%s/tests/fuzz/corpus/%s", top, corpus_name(argv0)) < 0)
                return -ENOMEM;
        l->shown_from = strlen(top) + 1;
        r = list_path(l, dir);
        if (r < 0)
                printf("Bail out! %s: %s\n", dir, strerror(-r));
        else if (l->n == 0) {
                printf("Bail out! %s: empty seed corpus\n", dir);
                r = -ENOENT;
        }
        return r;
}

static int collect(int argc, char **argv, struct file_list *l) {
        if (argc < 2)
                return default_corpus(argv[0], l);
        for (int i = 1; i < argc; i++) {
                int r = list_path(l, argv[i]);

                if (r < 0) {
                        printf("Bail out! %s: %s\n", argv[i], strerror(-r));
                        return r;
                }
        }
        return 0;
}

int main(int argc, char **argv) {
        static struct file_list l;
        int failed = 0;

        if (collect(argc, argv, &l) < 0)
                return EXIT_FAILURE;
        printf("1..%zu\n", l.n);
        for (size_t i = 0; i < l.n; i++) {
                _cleanup_(freep) uint8_t *data = NULL;
                size_t size = 0;
                int r;

                r = read_file(l.paths[i], &data, &size);
                if (r < 0) {
                        printf("not ok %zu - %s: %s\n", i + 1, l.paths[i] + l.shown_from, strerror(-r));
                        failed = 1;
                        continue;
                }
                fflush(stdout);
                (void) LLVMFuzzerTestOneInput(data, size);
                printf("ok %zu - %s (%zu bytes)\n", i + 1, l.paths[i] + l.shown_from, size);
        }
        for (size_t i = 0; i < l.n; i++)
                free(l.paths[i]);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

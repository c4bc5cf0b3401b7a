/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * token-open: check-only activation of a LUKS2 image through its tokens with
 * libcryptsetup (crypt_activate_by_token_pin(), name NULL), printing the exact
 * return code, which the cryptsetup binary folds into its exit status:
 *
 *   token-open IMAGE [--token-id=N] [--type=TYPE] [--pin-file=FILE]
 *
 * stdout: "r=N NAME" (NAME: ENOENT, EAGAIN, ENOANO, EPERM, … or OK).
 * stderr: libcryptsetup's and the plugin's messages (crypt_logf).
 * Exit: 0 when r >= 0, 1 when r < 0, 2 on a usage or setup error.
 * Run inside luks_in_ns (tests/luks/luks-env.sh) so the build tree's plugin
 * is loaded.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcryptsetup.h>

#include "macro.h"

#define PIN_MAX 1024

struct args {
        const char *image;
        const char *type;
        const char *pin_file;
        int token_id;
};

static const struct errno_name {
        int e;
        const char *name;
} errno_names[] = {
        { ENOENT, "ENOENT" }, { EAGAIN, "EAGAIN" }, { ENOANO, "ENOANO" },
        { EPERM, "EPERM" },   { EINVAL, "EINVAL" }, { ENOMEM, "ENOMEM" },
        { EIO, "EIO" },       { ENOKEY, "ENOKEY" }, { EKEYREJECTED, "EKEYREJECTED" },
};

static const char *errno_name(int r) {
        if (r >= 0)
                return "OK";
        for (size_t i = 0; i < ELEMENTSOF(errno_names); i++)
                if (errno_names[i].e == -r)
                        return errno_names[i].name;
        return "other";
}

static void log_cb(int level, const char *msg, void *usrptr) {
        fputs(msg, stderr);
}

static int parse_args(int argc, char **argv, struct args *ret) {
        struct args a = { .token_id = CRYPT_ANY_TOKEN };

        for (int i = 1; i < argc; i++) {
                if (strncmp(argv[i], "--token-id=", 11) == 0)
                        a.token_id = atoi(argv[i] + 11);
                else if (strncmp(argv[i], "--type=", 7) == 0)
                        a.type = argv[i] + 7;
                else if (strncmp(argv[i], "--pin-file=", 11) == 0)
                        a.pin_file = argv[i] + 11;
                else if (argv[i][0] != '-' && !a.image)
                        a.image = argv[i];
                else
                        return -EINVAL;
        }
        if (!a.image)
                return -EINVAL;
        *ret = a;
        return 0;
}

/* The PIN: the file's bytes up to the first newline (at most PIN_MAX). */
static int read_pin(const char *path, char *buf, size_t size, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f)
                return -errno;
        n = fread(buf, 1, size - 1, f);
        fclose(f);
        buf[n] = '\0';
        *ret_len = strcspn(buf, "\n");
        return 0;
}

int main(int argc, char **argv) {
        struct crypt_device *cd = NULL;
        struct args a;
        char pin[PIN_MAX + 1] = "";
        size_t pin_len = 0;
        int r;

        if (parse_args(argc, argv, &a) < 0) {
                fputs("Usage: token-open IMAGE [--token-id=N] [--type=TYPE] [--pin-file=FILE]\n", stderr);
                return 2;
        }
        if (a.pin_file && read_pin(a.pin_file, pin, sizeof(pin), &pin_len) < 0) {
                fprintf(stderr, "token-open: cannot read %s\n", a.pin_file);
                return 2;
        }
        crypt_set_log_callback(NULL, log_cb, NULL);
        r = crypt_init(&cd, a.image);
        if (r >= 0) {
                crypt_set_log_callback(cd, log_cb, NULL);
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
        }
        if (r < 0) {
                fprintf(stderr, "token-open: cannot load %s: %s\n", a.image, strerror(-r));
                crypt_free(cd);
                return 2;
        }
        r = crypt_activate_by_token_pin(cd, NULL, a.type, a.token_id, a.pin_file ? pin : NULL,
                                        pin_len, NULL, 0);
        explicit_bzero(pin, sizeof(pin));
        crypt_free(cd);
        printf("r=%d %s\n", r < 0 ? r : 0, errno_name(r));
        return r < 0 ? 1 : 0;
}

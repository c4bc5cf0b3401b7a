/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * toctou-preload.so: the host rewriting the disk between the token plugin's
 * check of a LUKS2 header and libcryptsetup's activation (test only; VM boot
 * test 7, issue 10). LD_PRELOAD it into the process that activates (the
 * guest's systemd-cryptsetup@data.service, or cryptsetup):
 *
 *   SNPSEAL_TEST_AFTER_CHECK=CMD   run "/bin/sh -c CMD" once, after the first
 *                                  call of the hooked function has returned,
 *                                  and wait for it
 *   SNPSEAL_TEST_AFTER=FUNCTION    the hooked function: crypt_volume_key_get
 *                                  (default: the plugin calls it once it has
 *                                  verified the header in memory, to check the
 *                                  volume key) or crypt_token_json_get (the
 *                                  plugin reads its token: for a plugin that
 *                                  does not check the volume key)
 *
 * Both functions are interposed; each calls libcryptsetup's own (RTLD_NEXT,
 * or libcryptsetup.so.12 when it was loaded locally, as by dlopen()) and
 * returns its result unchanged. CMD runs without LD_PRELOAD in its
 * environment. One line on stderr (the unit's journal) says that it ran and
 * how it ended: "toctou-preload: after FUNCTION: CMD: exit N".
 */

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "macro.h"

#define LIBCRYPTSETUP_SONAME "libcryptsetup.so.12"

static atomic_bool ran;

static void *real_symbol(const char *name) {
        void *h, *f = dlsym(RTLD_NEXT, name);

        if (f)
                return f;
        h = dlopen(LIBCRYPTSETUP_SONAME, RTLD_NOW | RTLD_NOLOAD);
        if (h)
                f = dlsym(h, name);
        if (!f)
                fprintf(stderr, "toctou-preload: %s not found in libcryptsetup\n", name);
        return f;
}

static void run_after(const char *func) {
        const char *cmd = getenv("SNPSEAL_TEST_AFTER_CHECK");
        const char *hook = getenv("SNPSEAL_TEST_AFTER");
        int status = 0;
        pid_t pid;

        if (!cmd || !cmd[0] || strcmp(func, hook && hook[0] ? hook : "crypt_volume_key_get") != 0 ||
            atomic_exchange(&ran, true))
                return;
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "toctou-preload: after %s: fork: %m\n", func);
                return;
        }
        if (pid == 0) {
                unsetenv("LD_PRELOAD");
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "toctou-preload: after %s: waitpid: %m\n", func);
                        return;
                }
        if (WIFEXITED(status))
                fprintf(stderr, "toctou-preload: after %s: %s: exit %d\n", func, cmd, WEXITSTATUS(status));
        else
                fprintf(stderr, "toctou-preload: after %s: %s: killed by signal %d\n", func, cmd,
                        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

_public_ int crypt_volume_key_get(struct crypt_device *cd, int keyslot, char *volume_key, size_t *volume_key_size,
                                  const char *passphrase, size_t passphrase_size) {
        int (*real)(struct crypt_device *, int, char *, size_t *, const char *, size_t) =
                (int (*)(struct crypt_device *, int, char *, size_t *, const char *, size_t)) real_symbol(
                        "crypt_volume_key_get");
        int r;

        if (!real)
                return -ENOSYS;
        r = real(cd, keyslot, volume_key, volume_key_size, passphrase, passphrase_size);
        run_after("crypt_volume_key_get");
        return r;
}

_public_ int crypt_token_json_get(struct crypt_device *cd, int token, const char **json) {
        int (*real)(struct crypt_device *, int, const char **) =
                (int (*)(struct crypt_device *, int, const char **)) real_symbol("crypt_token_json_get");
        int r;

        if (!real)
                return -ENOSYS;
        r = real(cd, token, json);
        run_after("crypt_token_json_get");
        return r;
}

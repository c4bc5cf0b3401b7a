/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "macro.h"
#include "snp-error.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = '\0';
        return s;
}

/* One line (newline included), lineno for messages. */
static int conffile_line(const char *path, unsigned lineno, char *line, conffile_setting_t setting,
                         void *userdata, char *errbuf, size_t errlen) {
        char *key, *value, *eq, msg[512] = "";
        int r;

        key = strip(line);
        if (key[0] == '\0' || key[0] == '#')
                return 0;
        eq = strchr(key, '=');
        if (!eq)
                return errbuf_set(errbuf, errlen, -EINVAL, "%s:%u: expected 'key = value'", path, lineno);
        *eq = '\0';
        key = strip(key);
        value = strip(eq + 1);
        r = setting(key, value, userdata, msg, sizeof(msg));
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "%s:%u: %s", path, lineno, msg);
        return 0;
}

static int conffile_lines(const char *path, FILE *f, conffile_setting_t setting, void *userdata, char *errbuf,
                          size_t errlen) {
        _cleanup_(freep) char *line = NULL;
        size_t size = 0, total = 0;
        unsigned lineno = 0;
        ssize_t n;
        int r;

        errno = 0;
        while ((n = getline(&line, &size, f)) >= 0) {
                lineno++;
                total += (size_t) n;
                if (total > CONFFILE_MAX)
                        return errbuf_set(errbuf, errlen, -EFBIG, "%s: larger than %u bytes", path, CONFFILE_MAX);
                if ((size_t) n > CONFFILE_LINE_MAX)
                        return errbuf_set(errbuf, errlen, -EINVAL, "%s:%u: line longer than %u bytes", path,
                                          lineno, CONFFILE_LINE_MAX);
                if (memchr(line, '\0', (size_t) n))
                        return errbuf_set(errbuf, errlen, -EINVAL, "%s:%u: NUL byte in line", path, lineno);
                r = conffile_line(path, lineno, line, setting, userdata, errbuf, errlen);
                if (r < 0)
                        return r;
                errno = 0;
        }
        if (ferror(f) || errno != 0)
                return errbuf_set(errbuf, errlen, -EIO, "%s: read error: %s", path, strerror(errno ? errno : EIO));
        return 0;
}

int conffile_read(const char *path, bool must_exist, conffile_setting_t setting, void *userdata,
                  char *errbuf, size_t errlen) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");

        if (!f) {
                int r = -errno;

                if (r == -ENOENT && !must_exist)
                        return 0;
                return errbuf_set(errbuf, errlen, r, "%s: cannot open: %s", path, strerror(-r));
        }
        return conffile_lines(path, f, setting, userdata, errbuf, errlen);
}

int conffile_parse_bool(const char *value, bool *ret) {
        static const struct { const char *word; bool value; } words[] = {
                { "yes", true }, { "true", true }, { "1", true },
                { "no", false }, { "false", false }, { "0", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (strcmp(value, words[i].word) == 0) {
                        *ret = words[i].value;
                        return 0;
                }
        return -EINVAL;
}

/* ---- the policy settings ---- */

static const struct {
        const char *key;
        size_t offset;
} policy_keys[] = {
        { "allow_weak_bindings",      offsetof(struct snpseal_policy, allow_weak_bindings) },
        { "allow_tokens_without_mac", offsetof(struct snpseal_policy, allow_tokens_without_mac) },
};

static int policy_setting(const char *key, const char *value, void *userdata, char *errbuf, size_t errlen) {
        for (size_t i = 0; i < ELEMENTSOF(policy_keys); i++) {
                if (strcmp(key, policy_keys[i].key) != 0)
                        continue;
                if (conffile_parse_bool(value, (bool *) (void *) ((char *) userdata + policy_keys[i].offset)) < 0)
                        return errbuf_set(errbuf, errlen, -EINVAL, "invalid value '%s' for %s: expected yes or no",
                                          value, key);
                return 0;
        }
        return 0;
}

const char *snpseal_policy_path(void) {
        const char *e = secure_getenv("SNPSEAL_CONFIG");

        return e && *e ? e : SNPSEAL_DEFAULT_CONFIG;
}

int snpseal_policy_load(const char *path, struct snpseal_policy *ret, char *errbuf, size_t errlen) {
        struct snpseal_policy p = {};
        int r;

        r = conffile_read(path, false, policy_setting, &p, errbuf, errlen);
        *ret = r < 0 ? (struct snpseal_policy) {} : p;
        return r;
}

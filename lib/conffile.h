/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The snpseald.conf syntax (snpseald.conf(5)): "key = value" lines, blank
 * lines and lines starting with '#' ignored, at most CONFFILE_LINE_MAX bytes
 * a line and CONFFILE_MAX a file, no NUL bytes.
 *
 * The agent reads the whole file strictly through conffile_read(). The token
 * plugin and the CLI need only the policy settings that decide what an
 * administrator allowed (snpseal_policy_load()): they use the same reader.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CONFFILE_MAX (64u * 1024u)
#define CONFFILE_LINE_MAX 4096u
#define SNPSEAL_DEFAULT_CONFIG SNPSEAL_SYSCONFDIR "/snpseal/snpseald.conf"

/* Called once per "key = value" line with both stripped of blanks. A
 * failure (< 0) stops the read; the callback writes the reason (without
 * file and line: conffile_read() prefixes "FILE:LINE: ") into errbuf. */
typedef int (*conffile_setting_t)(const char *key, const char *value, void *userdata, char *errbuf,
                                  size_t errlen);

/* Read path. A missing file is 0 (nothing read) unless must_exist. Errors:
 * -ENOENT/-EACCES/… cannot open, -EFBIG too large, -EINVAL a malformed line,
 * -EIO a read error, or the callback's error; errbuf says "FILE[:LINE]: …". */
int conffile_read(const char *path, bool must_exist, conffile_setting_t setting, void *userdata,
                  char *errbuf, size_t errlen);

/* "yes"/"true"/"1" and "no"/"false"/"0": 0 with *ret, or -EINVAL. */
int conffile_parse_bool(const char *value, bool *ret);

/* What the administrator allowed in snpseald.conf, against the threat model
 * (docs/BOOT.md "Threat model"); both default to false. */
struct snpseal_policy {
        bool allow_weak_bindings;       /* allow_weak_bindings = yes */
        bool allow_tokens_without_mac;  /* allow_tokens_without_mac = yes */
};

/* The file snpseald reads: $SNPSEAL_CONFIG (secure_getenv, so never from a
 * setuid caller's environment) or SNPSEAL_DEFAULT_CONFIG. */
const char *snpseal_policy_path(void);
/* Read the policy settings from path (other keys are the agent's to check).
 * A missing file gives the defaults. On any error the result is the strict
 * default and the error is returned with errbuf set: a broken file never
 * relaxes anything. */
int snpseal_policy_load(const char *path, struct snpseal_policy *ret, char *errbuf, size_t errlen);

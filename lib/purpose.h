/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Purposes separate keys by use and by caller (docs/PROTOCOL.md, "Authorization"):
 * "luks2", "cred/<id>" and "user/<uid>/<name>". At most PURPOSE_MAX bytes of
 * [A-Za-z0-9._@:+-] with '/' between non-empty segments that are not "." or "..".
 * uid 0 may use any purpose; any other peer only "user/<its own uid>/<name>".
 */
#pragma once

#include <sys/types.h>

#define PURPOSE_MAX 128

/* 0, or -EINVAL for anything but the three shapes above. */
int purpose_validate(const char *p);
/* 0 when peer may use p; -EPERM when not; -EINVAL when p is invalid. */
int purpose_check_access(const char *p, uid_t peer);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What went wrong talking to the firmware, in enough detail for the front end
 * to tell the user what to do. Functions return -errno and, on failure, fill
 * a struct snp_error when the caller passes one.
 *
 * errno conventions of the backends:
 *   -ENOENT      device node missing (not an SNP guest / driver not loaded)
 *   -EACCES      permission denied on the device
 *   -ENOTTY      the kernel disabled the VM's message key: reboot required
 *   -EIO         the guest request failed at the command level (the kernel
 *                disables the message key after this)
 *   -ETIMEDOUT   VMM busy for too long
 *   -EAGAIN      VMM busy
 *   -EREMOTEIO   the firmware answered with a non-zero STATUS (fw_status)
 *   -EBADMSG     the firmware answered STATUS 0 with an all-zero key, or a
 *                malformed response
 *   -EINVAL      the request was refused before it was sent (malformed)
 *   -ERANGE      the request asks for more than the platform allows (VMPL
 *                below ours, SVN above the launch SVN, TCB above committed)
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct snp_error {
        int code;            /* the -errno also returned */
        uint32_t fw_status;  /* firmware STATUS (message level) or fw_error (command level) */
        uint32_t vmm_error;  /* VMM error from exitinfo2 */
        char message[320];   /* an English sentence: what happened and what to do */
};

/* Format into errbuf (when non-NULL and errlen > 0) and return code: the
 * error-message convention of the parsers (char *errbuf, size_t errlen). */
int errbuf_set(char *errbuf, size_t errlen, int code, const char *fmt, ...) _printf_(4, 5);
int errbuf_setv(char *errbuf, size_t errlen, int code, const char *fmt, va_list ap) _printf_(4, 0);

/* Fill err (when non-NULL) and return code. */
int snp_error_set(struct snp_error *err, int code, uint32_t fw_status, uint32_t vmm_error,
                  const char *fmt, ...) _printf_(5, 6);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "snp-error.h"

int snp_error_set(struct snp_error *err, int code, uint32_t fw_status, uint32_t vmm_error,
                  const char *fmt, ...) {
        va_list ap;

        if (!err)
                return code;
        err->code = code;
        err->fw_status = fw_status;
        err->vmm_error = vmm_error;
        va_start(ap, fmt);
        (void) vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return code;
}

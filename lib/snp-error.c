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

int errbuf_setv(char *errbuf, size_t errlen, int code, const char *fmt, va_list ap) {
        if (errbuf && errlen > 0)
                (void) vsnprintf(errbuf, errlen, fmt, ap);
        return code;
}

int errbuf_set(char *errbuf, size_t errlen, int code, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        code = errbuf_setv(errbuf, errlen, code, fmt, ap);
        va_end(ap);
        return code;
}

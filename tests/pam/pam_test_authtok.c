/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * pam_test_authtok.so: a test module standing in for pam_unix in the test
 * stacks. In every group it sets the items named by its arguments and returns
 * the code of ret= (default PAM_SUCCESS):
 *
 *   authtok=STR     PAM_AUTHTOK (only modules may set it)
 *   oldauthtok=STR  PAM_OLDAUTHTOK
 *   ret=success|ignore|auth_err|…   (see the table below)
 *
 * In the password group it sets the items in both the PRELIM and the UPDATE
 * pass. Built as a check module only; never installed.
 */

#include <stdbool.h>
#include <string.h>

#include <security/pam_modules.h>

#include "macro.h"

static const struct {
        const char *name;
        int code;
} rets[] = {
        { "success",          PAM_SUCCESS },
        { "ignore",           PAM_IGNORE },
        { "auth_err",         PAM_AUTH_ERR },
        { "authinfo_unavail", PAM_AUTHINFO_UNAVAIL },
        { "perm_denied",      PAM_PERM_DENIED },
        { "system_err",       PAM_SYSTEM_ERR },
        /* The tests' marker for "the module before me returned PAM_IGNORE". */
        { "no_module_data",   PAM_NO_MODULE_DATA },
};

static int ret_code(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(rets); i++)
                if (strcmp(rets[i].name, s) == 0)
                        return rets[i].code;
        return PAM_SERVICE_ERR;
}

static int run(pam_handle_t *h, int argc, const char **argv) {
        int ret = PAM_SUCCESS;

        for (int i = 0; i < argc; i++) {
                int r = PAM_SUCCESS;

                if (strncmp(argv[i], "authtok=", 8) == 0)
                        r = pam_set_item(h, PAM_AUTHTOK, argv[i] + 8);
                else if (strncmp(argv[i], "oldauthtok=", 11) == 0)
                        r = pam_set_item(h, PAM_OLDAUTHTOK, argv[i] + 11);
                else if (strncmp(argv[i], "ret=", 4) == 0)
                        ret = ret_code(argv[i] + 4);
                else
                        r = PAM_SERVICE_ERR;
                if (r != PAM_SUCCESS)
                        return r;
        }
        return ret;
}

_public_ int pam_sm_authenticate(pam_handle_t *h, int flags, int argc, const char **argv) {
        return run(h, argc, argv);
}

_public_ int pam_sm_setcred(pam_handle_t *h, int flags, int argc, const char **argv) {
        return run(h, argc, argv);
}

_public_ int pam_sm_acct_mgmt(pam_handle_t *h, int flags, int argc, const char **argv) {
        return run(h, argc, argv);
}

_public_ int pam_sm_open_session(pam_handle_t *h, int flags, int argc, const char **argv) {
        return run(h, argc, argv);
}

_public_ int pam_sm_close_session(pam_handle_t *h, int flags, int argc, const char **argv) {
        return run(h, argc, argv);
}

_public_ int pam_sm_chauthtok(pam_handle_t *h, int flags, int argc, const char **argv) {
        return run(h, argc, argv);
}

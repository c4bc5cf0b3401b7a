/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The account group of pam_snpseal.so: the VM posture gate. Only with
 * "enforce": the agent's GetStatus against the rules deny_debug,
 * deny_migrate and min_tcb=HEX; any broken rule, and any failure to learn
 * the posture, is PAM_PERM_DENIED (fail closed).
 *
 * min_tcb is 16 hex digits, byte 0 first (the report's order, as snpseal
 * status prints it); it is compared byte by byte with the COMMITTED TCB —
 * the level the host's firmware cannot roll back below — and a single byte
 * below the minimum denies.
 */

#include <stdio.h>

#include "hexutil.h"
#include "pam-snpseal.h"
#include "snp-abi.h"

/* A broken rule's reason into buf, or "" when the rule holds. */
typedef void (*rule_fn)(const struct pam_snpseal_options *o, const struct pam_posture *p, char *buf, size_t size);

static void rule_debug(const struct pam_snpseal_options *o, const struct pam_posture *p, char *buf, size_t size) {
        if (o->deny_debug && p->debug)
                (void) snprintf(buf, size, "the VM was launched with debugging allowed (policy DEBUG)");
}

static void rule_migrate(const struct pam_snpseal_options *o, const struct pam_posture *p, char *buf, size_t size) {
        if (o->deny_migrate && p->migrate_ma)
                (void) snprintf(buf, size, "the VM was launched with a migration agent allowed (policy MIGRATE_MA)");
}

static void rule_min_tcb(const struct pam_snpseal_options *o, const struct pam_posture *p, char *buf, size_t size) {
        char have[TCB_HEX_LEN + 1], want[TCB_HEX_LEN + 1];

        if (!o->have_min_tcb || snp_tcb_le(o->min_tcb, p->committed_tcb))
                return;
        tcb_to_hex(p->committed_tcb, have);
        tcb_to_hex(o->min_tcb, want);
        (void) snprintf(buf, size, "the committed TCB %s is below the minimum %s", have, want);
}

static const rule_fn rules[] = { rule_debug, rule_migrate, rule_min_tcb };

static int deny(pam_handle_t *pamh, const struct pam_snpseal_options *o, const char *why) {
        pam_syslog(pamh, LOG_ERR, "access denied by the VM posture rules: %s", why);
        pam_snpseal_tell(pamh, o, "Login refused: %s.", why);
        return PAM_PERM_DENIED;
}

int pam_posture_account(pam_handle_t *pamh, const struct pam_snpseal_options *o) {
        _cleanup_(pam_agent_freep) struct pam_agent *a = NULL;
        struct pam_posture p = {};
        enum pam_agent_result res;
        char why[256] = "";

        if (!o->enforce)
                return PAM_IGNORE;
        res = pam_agent_open(o->socket, &a);
        if (res == PAM_AGENT_OK)
                res = pam_agent_status(a, &p);
        if (res != PAM_AGENT_OK) {
                (void) snprintf(why, sizeof(why), "the VM's posture is unknown (%s)",
                                a ? pam_agent_message(a) : "out of memory");
                return deny(pamh, o, why);
        }
        for (size_t i = 0; i < ELEMENTSOF(rules) && !why[0]; i++)
                rules[i](o, &p, why, sizeof(why));
        if (why[0])
                return deny(pamh, o, why);
        pam_snpseal_debug(pamh, o, "VM posture acceptable (backend %s)", p.backend[0] ? p.backend : "unknown");
        return PAM_SUCCESS;
}

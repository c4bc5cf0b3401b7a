/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The kernel keyring through add_key(2) and keyctl(2) directly (no
 * libkeyutils). Keys are of type "user", owned by the target user, with
 * permissions possessor all + user (owner) all, nothing for group and other:
 * the user may read, update, revoke and re-time them; nobody else may.
 *
 * keyring=session: the calling process's session keyring (pam_keyinit
 * before us gives the login its own). We add as root, set the permissions
 * and the timeout while we still own the key, and hand it to the user last.
 * keyring=user: the same, then the key is linked into the user's user
 * keyring (KEY_SPEC_USER_KEYRING is resolved from the real uid, which we set
 * to the user's for that one call) and unlinked from the session keyring.
 * Revoking from the user keyring needs the owner's rights: we switch real
 * and effective ids to the user (saved ids stay root to switch back).
 */

#include <errno.h>
#include <linux/keyctl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pam-snpseal.h"

/* <keyutils.h>'s permission bits */
#define KEY_POS_ALL 0x3f000000u
#define KEY_USR_ALL 0x003f0000u
#define KEY_PERM (KEY_POS_ALL | KEY_USR_ALL)

static long sys_add_key(const char *type, const char *desc, const void *data, size_t len, int32_t keyring) {
        return syscall(SYS_add_key, type, desc, data, len, keyring);
}

static long sys_keyctl(int cmd, unsigned long a2, unsigned long a3, unsigned long a4) {
        return syscall(SYS_keyctl, cmd, a2, a3, a4, 0UL);
}

struct saved_ids {
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;
        bool switched;
};

/* Become uid/gid for the keyring (real and effective ids); a no-op when we
 * are that user already. */
static int ids_enter(uid_t uid, gid_t gid, struct saved_ids *ret) {
        struct saved_ids s = {};

        if (getresuid(&s.ruid, &s.euid, &s.suid) < 0 || getresgid(&s.rgid, &s.egid, &s.sgid) < 0)
                return -errno;
        if (s.ruid == uid && s.euid == uid) {
                *ret = s;
                return 0;
        }
        if (s.euid != 0)
                return -EPERM;
        if (setresgid(gid, gid, (gid_t) -1) < 0)
                return -errno;
        if (setresuid(uid, uid, (uid_t) -1) < 0) {
                int r = -errno;
                if (setresgid(s.rgid, s.egid, s.sgid) < 0)
                        abort();        /* cannot happen: we are still root */
                return r;
        }
        s.switched = true;
        *ret = s;
        return 0;
}

static int ids_leave(const struct saved_ids *s) {
        if (!s->switched)
                return 0;
        /* uid first: setting the gids back needs root again */
        if (setresuid(s->ruid, s->euid, s->suid) < 0 || setresgid(s->rgid, s->egid, s->sgid) < 0)
                return -errno;
        return 0;
}

/* Permissions, timeout, then (session keyring) the owner. */
static int key_setup(int32_t serial, bool chown_it, uid_t uid, gid_t gid, uint32_t timeout) {
        if (sys_keyctl(KEYCTL_SETPERM, (unsigned long) serial, KEY_PERM, 0) < 0)
                return -errno;
        if (timeout > 0 && sys_keyctl(KEYCTL_SET_TIMEOUT, (unsigned long) serial, timeout, 0) < 0)
                return -errno;
        if (chown_it && sys_keyctl(KEYCTL_CHOWN, (unsigned long) serial, uid, gid) < 0)
                return -errno;
        return 0;
}

static int key_add(int32_t keyring, bool chown_it, uid_t uid, gid_t gid, const char *desc, const void *data,
                   size_t len, uint32_t timeout, int32_t *ret_serial) {
        long serial;
        int r;

        serial = sys_add_key("user", desc, data, len, keyring);
        if (serial < 0)
                return -errno;
        r = key_setup((int32_t) serial, chown_it, uid, gid, timeout);
        if (r < 0) {
                (void) sys_keyctl(KEYCTL_REVOKE, (unsigned long) serial, 0, 0);
                return r;
        }
        *ret_serial = (int32_t) serial;
        return 0;
}

/* Link the (possessed) key into the user's user keyring: KEY_SPEC_USER_KEYRING
 * is resolved from the real uid, and a keyring named that way counts as
 * possessed, which gives us the right to link into it. Only the real uid
 * changes, briefly; the effective ids stay ours. */
static int link_to_user_keyring(int32_t serial, uid_t uid) {
        uid_t ruid, euid, suid;
        int r = 0;

        if (getresuid(&ruid, &euid, &suid) < 0)
                return -errno;
        if (ruid != uid && setresuid(uid, (uid_t) -1, (uid_t) -1) < 0)
                return -errno;
        if (sys_keyctl(KEYCTL_LINK, (unsigned long) serial, (unsigned long) KEY_SPEC_USER_KEYRING, 0) < 0)
                r = -errno;
        if (ruid != uid && setresuid(ruid, (uid_t) -1, (uid_t) -1) < 0)
                abort();        /* cannot happen: the effective uid is unchanged */
        return r;
}

int pam_keyring_add(enum pam_snpseal_keyring k, uid_t uid, gid_t gid, const char *desc, const void *data,
                    size_t len, uint32_t timeout, int32_t *ret_serial) {
        int32_t serial = 0;
        int r;

        /* Staged in our session keyring, where we possess the key: that is
         * what allows setting its permissions and timeout. */
        r = key_add(KEY_SPEC_SESSION_KEYRING, true, uid, gid, desc, data, len, timeout, &serial);
        if (r < 0 || k == PAM_SNPSEAL_KEYRING_SESSION) {
                if (r >= 0)
                        *ret_serial = serial;
                return r;
        }
        r = link_to_user_keyring(serial, uid);
        if (r < 0)
                (void) sys_keyctl(KEYCTL_REVOKE, (unsigned long) serial, 0, 0);
        else
                (void) sys_keyctl(KEYCTL_UNLINK, (unsigned long) serial, (unsigned long) KEY_SPEC_SESSION_KEYRING, 0);
        if (r >= 0)
                *ret_serial = serial;
        return r;
}

static bool key_gone(int e) {
        return e == ENOKEY || e == EKEYREVOKED || e == EKEYEXPIRED;
}

static int revoke_all(const int32_t *serials, size_t n) {
        int r = 0;

        for (size_t i = 0; i < n; i++)
                if (sys_keyctl(KEYCTL_REVOKE, (unsigned long) serials[i], 0, 0) < 0 && !key_gone(errno) && r == 0)
                        r = -errno;
        return r;
}

int pam_keyring_revoke(enum pam_snpseal_keyring k, uid_t uid, gid_t gid, const int32_t *serials, size_t n) {
        struct saved_ids s = {};
        int r, q;

        if (k == PAM_SNPSEAL_KEYRING_SESSION)
                return revoke_all(serials, n);
        r = ids_enter(uid, gid, &s);
        if (r < 0)
                return r;
        r = revoke_all(serials, n);
        q = ids_leave(&s);
        return q < 0 ? q : r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * pam-run: drives a real Linux-PAM stack for the shell tests.
 *
 *   pam-run [--password=PW] [--no-new-session] CONFDIR SERVICE USER ACTION...
 *   pam-run --keyring-probe
 *   pam-run --user-keys=USER | --revoke-user-keys=USER
 *
 * pam_start_confdir(SERVICE, USER, conv, CONFDIR) loads CONFDIR/SERVICE, then
 * the ACTIONs run in order:
 *
 *   authenticate[:FLAGS] setcred[:FLAGS] acct_mgmt[:FLAGS] open_session[:FLAGS]
 *   close_session[:FLAGS] chauthtok[:FLAGS]
 *           FLAGS: comma-separated silent, disallow_null, establish, delete,
 *           reinit, refresh, change_expired
 *   fork    the remaining actions run in a child process (another pid, same
 *           handle); the parent waits for it
 *   keys:session | keys:user
 *           lists the session keyring (of this process) or the user keyring
 *           of USER (from a child that switched to USER's uid/gid)
 *
 * Output (stdout, one line each, in order):
 *   "ACTION: PAM_NAME (pam_strerror text)"          a PAM call's result
 *   "conv: error|info|prompt-echo-on|prompt-echo-off: TEXT"   conversation
 *   "key: id=N desc=D type=T uid=U gid=G perm=XXXXXXXX timeout=X len=L data=P"
 *   "key: id=N error=ERRNO"                         a link we cannot describe
 *   "keys: KEYRING count=N"
 * --keyring-probe says whether this process can use keyrings ("keyring:
 * available", exit 0; else "keyring: unavailable: REASON", exit 1);
 * --user-keys=USER lists USER's user keyring like keys:user, without PAM;
 * --revoke-user-keys=USER also revokes the "snpseal:*" keys in it ("revoked:
 * id=N desc=D"), for the tests' cleanup.
 *   "syslog: TEXT"                                  a line a module logged
 *                                                    with pam_syslog(3)
 * Prompts are answered with --password= or $PAM_RUN_PASSWORD; without one
 * the conversation fails (PAM_CONV_ERR). The process joins a new anonymous
 * session keyring first, so the tests never touch the caller's keyrings.
 * The payload is printed because test secrets are test data.
 * Exit: 0 when every action ran (whatever PAM answered), 1 on a setup error,
 * 2 on a usage error; the child of "fork" exits the same way.
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/keyctl.h>
#include <security/pam_appl.h>

#include "macro.h"

#define KEYS_MAX 256

DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose)

/* pam_syslog(3) ends in glibc's __syslog_chk (libpam is built fortified);
 * this executable's definition interposes it, so the tests read what the
 * module logged on stdout instead of the system log. */
void __syslog_chk(int priority, int flag, const char *fmt, ...) _printf_(3, 4);
void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap) _printf_(3, 0);

void __vsyslog_chk(_unused_ int priority, _unused_ int flag, const char *fmt, va_list ap) {
        fputs("syslog: ", stdout);
        vprintf(fmt, ap);
        fputs("\n", stdout);
        fflush(stdout);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        __vsyslog_chk(priority, flag, fmt, ap);
        va_end(ap);
}
#define PAYLOAD_MAX 4096

static const struct code_name {
        int code;
        const char *name;
} code_names[] = {
#define C(x) { x, #x }
        C(PAM_SUCCESS), C(PAM_OPEN_ERR), C(PAM_SYMBOL_ERR), C(PAM_SERVICE_ERR),
        C(PAM_SYSTEM_ERR), C(PAM_BUF_ERR), C(PAM_PERM_DENIED), C(PAM_AUTH_ERR),
        C(PAM_CRED_INSUFFICIENT), C(PAM_AUTHINFO_UNAVAIL), C(PAM_USER_UNKNOWN),
        C(PAM_MAXTRIES), C(PAM_NEW_AUTHTOK_REQD), C(PAM_ACCT_EXPIRED),
        C(PAM_SESSION_ERR), C(PAM_CRED_UNAVAIL), C(PAM_CRED_EXPIRED), C(PAM_CRED_ERR),
        C(PAM_NO_MODULE_DATA), C(PAM_CONV_ERR), C(PAM_AUTHTOK_ERR),
        C(PAM_AUTHTOK_RECOVERY_ERR), C(PAM_AUTHTOK_LOCK_BUSY),
        C(PAM_AUTHTOK_DISABLE_AGING), C(PAM_TRY_AGAIN), C(PAM_IGNORE), C(PAM_ABORT),
        C(PAM_AUTHTOK_EXPIRED), C(PAM_MODULE_UNKNOWN), C(PAM_BAD_ITEM),
        C(PAM_CONV_AGAIN), C(PAM_INCOMPLETE),
#undef C
};

static const struct flag_name {
        const char *name;
        int flag;
} flag_names[] = {
        { "silent",         PAM_SILENT },
        { "disallow_null",  PAM_DISALLOW_NULL_AUTHTOK },
        { "establish",      PAM_ESTABLISH_CRED },
        { "delete",         PAM_DELETE_CRED },
        { "reinit",         PAM_REINITIALIZE_CRED },
        { "refresh",        PAM_REFRESH_CRED },
        { "change_expired", PAM_CHANGE_EXPIRED_AUTHTOK },
};

enum action_kind {
        ACTION_PAM,
        ACTION_FORK,
        ACTION_KEYS_SESSION,
        ACTION_KEYS_USER,
};

static const struct pam_call {
        const char *name;
        int (*call)(pam_handle_t *h, int flags);
        int default_flags;
} pam_calls[] = {
        { "authenticate",  pam_authenticate,  0 },
        { "setcred",       pam_setcred,       PAM_ESTABLISH_CRED },
        { "acct_mgmt",     pam_acct_mgmt,     0 },
        { "open_session",  pam_open_session,  0 },
        { "close_session", pam_close_session, 0 },
        { "chauthtok",     pam_chauthtok,     0 },
};

struct action {
        enum action_kind kind;
        const struct pam_call *call;
        int flags;
};

struct args {
        const char *password;
        bool new_session;
        bool keyring_probe;
        const char *user_keys;
        bool revoke;
        const char *confdir;
        const char *service;
        const char *user;
        struct action *actions;
        size_t n_actions;
};

static const char *code_name(int code) {
        for (size_t i = 0; i < ELEMENTSOF(code_names); i++)
                if (code_names[i].code == code)
                        return code_names[i].name;
        return "PAM_(unknown)";
}

static long keyctl5(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d) {
        return syscall(SYS_keyctl, op, a, b, c, d);
}

/* The conversation: prints every message, answers echo-off/on prompts with
 * the password. */
static int conv(int n, const struct pam_message **msg, struct pam_response **ret_resp, void *userdata) {
        const char *password = userdata;
        struct pam_response *resp;

        if (n <= 0 || n > PAM_MAX_NUM_MSG)
                return PAM_CONV_ERR;
        resp = calloc((size_t) n, sizeof(*resp));
        if (!resp)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                static const char *const styles[] = {
                        [PAM_PROMPT_ECHO_OFF] = "prompt-echo-off",
                        [PAM_PROMPT_ECHO_ON] = "prompt-echo-on",
                        [PAM_ERROR_MSG] = "error",
                        [PAM_TEXT_INFO] = "info",
                };
                int style = msg[i]->msg_style;
                bool prompt = style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON;

                printf("conv: %s: %s\n",
                       style >= 1 && style <= PAM_TEXT_INFO ? styles[style] : "unknown",
                       msg[i]->msg ?: "(null)");
                if (prompt && password)
                        resp[i].resp = strdup(password);
                if (prompt && !resp[i].resp) {
                        for (int j = 0; j < i; j++)
                                free(resp[j].resp);
                        free(resp);
                        fflush(stdout);
                        return PAM_CONV_ERR;
                }
        }
        fflush(stdout);
        *ret_resp = resp;
        return PAM_SUCCESS;
}

static int parse_flags(const char *s, int *flags) {
        while (s && *s) {
                size_t len = strcspn(s, ",");
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(flag_names); i++)
                        if (strlen(flag_names[i].name) == len && strncmp(flag_names[i].name, s, len) == 0) {
                                *flags |= flag_names[i].flag;
                                found = true;
                        }
                if (!found)
                        return -EINVAL;
                s += len;
                if (*s == ',')
                        s++;
        }
        return 0;
}

static int parse_action(const char *s, struct action *ret) {
        const char *colon = strchr(s, ':');
        size_t len = colon ? (size_t) (colon - s) : strlen(s);

        if (strcmp(s, "fork") == 0) {
                *ret = (struct action) { .kind = ACTION_FORK };
                return 0;
        }
        if (strcmp(s, "keys:session") == 0 || strcmp(s, "keys:user") == 0) {
                *ret = (struct action) { .kind = s[5] == 's' ? ACTION_KEYS_SESSION : ACTION_KEYS_USER };
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(pam_calls); i++) {
                struct action a = { .kind = ACTION_PAM, .call = &pam_calls[i] };

                if (strlen(pam_calls[i].name) != len || strncmp(pam_calls[i].name, s, len) != 0)
                        continue;
                if (colon) {
                        if (parse_flags(colon + 1, &a.flags) < 0)
                                return -EINVAL;
                } else
                        a.flags = pam_calls[i].default_flags;
                *ret = a;
                return 0;
        }
        return -EINVAL;
}

static int parse_args(int argc, char **argv, struct args *ret) {
        struct args a = { .password = getenv("PAM_RUN_PASSWORD"), .new_session = true };
        int i = 1;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                if (strncmp(argv[i], "--password=", 11) == 0)
                        a.password = argv[i] + 11;
                else if (strcmp(argv[i], "--no-new-session") == 0)
                        a.new_session = false;
                else if (strcmp(argv[i], "--keyring-probe") == 0)
                        a.keyring_probe = true;
                else if (strncmp(argv[i], "--user-keys=", 12) == 0)
                        a.user_keys = argv[i] + 12;
                else if (strncmp(argv[i], "--revoke-user-keys=", 19) == 0) {
                        a.user_keys = argv[i] + 19;
                        a.revoke = true;
                }
                else {
                        fprintf(stderr, "pam-run: unknown option '%s'\n", argv[i]);
                        return -EINVAL;
                }
        }
        if (a.keyring_probe || a.user_keys) {
                *ret = a;
                return 0;
        }
        if (argc - i < 4) {
                fprintf(stderr, "usage: pam-run [--password=PW] [--no-new-session] CONFDIR SERVICE USER ACTION...\n"
                                "       pam-run --keyring-probe\n"
                                "       pam-run --user-keys=USER | --revoke-user-keys=USER\n");
                return -EINVAL;
        }
        a.confdir = argv[i];
        a.service = argv[i + 1];
        a.user = argv[i + 2];
        a.n_actions = (size_t) (argc - i - 3);
        a.actions = calloc(a.n_actions, sizeof(*a.actions));
        if (!a.actions)
                return -ENOMEM;
        for (size_t j = 0; j < a.n_actions; j++)
                if (parse_action(argv[i + 3 + (int) j], &a.actions[j]) < 0) {
                        fprintf(stderr, "pam-run: unknown action '%s'\n", argv[i + 3 + (int) j]);
                        free(a.actions);
                        return -EINVAL;
                }
        *ret = a;
        return 0;
}

/* The timeout column of /proc/keys for key ID ("perm", "expd", "59s", …). */
static void key_timeout(long id, char *buf, size_t size) {
        _cleanup_(fclosep) FILE *f = fopen("/proc/keys", "re");
        char line[512];

        snprintf(buf, size, "unknown");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long kid;
                char flags[16], timeout[16];
                int usage;

                if (sscanf(line, "%lx %15s %d %15s", &kid, flags, &usage, timeout) == 4 && (long) kid == id) {
                        snprintf(buf, size, "%s", timeout);
                        return;
                }
        }
}

static void print_payload(long id) {
        _cleanup_(freep) char *buf = malloc(PAYLOAD_MAX);
        long n;

        if (!buf) {
                printf(" len=? data=?");
                return;
        }
        n = keyctl5(KEYCTL_READ, (unsigned long) id, (unsigned long) buf, PAYLOAD_MAX, 0);
        if (n < 0) {
                printf(" len=? data=(%s)", strerrorname_np(errno) ?: "error");
                return;
        }
        printf(" len=%ld data=", n);
        for (long i = 0; i < n && i < PAYLOAD_MAX; i++) {
                unsigned char c = (unsigned char) buf[i];

                if (c > 0x20 && c < 0x7f && c != '\\')
                        putchar(c);
                else
                        printf("\\x%02x", c);
        }
}

/* "type;uid;gid;perm;description" */
static void print_key(long id) {
        char desc[1024], type[64], timeout[16];
        unsigned uid, gid, perm;
        int off = 0;
        long n = keyctl5(KEYCTL_DESCRIBE, (unsigned long) id, (unsigned long) desc, sizeof(desc), 0);

        if (n < 0) {
                printf("key: id=%ld error=%s\n", id, strerrorname_np(errno) ?: "unknown");
                return;
        }
        desc[sizeof(desc) - 1] = '\0';
        if (sscanf(desc, "%63[^;];%u;%u;%x;%n", type, &uid, &gid, &perm, &off) != 4 || off == 0) {
                printf("key: id=%ld error=unparseable\n", id);
                return;
        }
        key_timeout(id, timeout, sizeof(timeout));
        printf("key: id=%ld desc=%s type=%s uid=%u gid=%u perm=%08x timeout=%s", id, desc + off, type, uid, gid,
               perm, timeout);
        if (strcmp(type, "user") == 0)
                print_payload(id);
        putchar('\n');
}

static int list_keyring(long ring, const char *label) {
        int32_t ids[KEYS_MAX];
        long n = keyctl5(KEYCTL_READ, (unsigned long) ring, (unsigned long) ids, sizeof(ids), 0);

        if (n < 0) {
                printf("keys: %s error=%s\n", label, strerrorname_np(errno) ?: "unknown");
                return -errno;
        }
        n /= (long) sizeof(int32_t);
        if (n > KEYS_MAX)
                n = KEYS_MAX;
        for (long i = 0; i < n; i++)
                print_key(ids[i]);
        printf("keys: %s count=%ld\n", label, n);
        return 0;
}

/* As USER: revoke every key "snpseal:*" in USER's user keyring (cleanup, so
 * no test key outlives the test account). */
static void revoke_user_keys(void) {
        int32_t ids[KEYS_MAX];
        long n = keyctl5(KEYCTL_READ, KEY_SPEC_USER_KEYRING, (unsigned long) ids, sizeof(ids), 0);

        n = n < 0 ? 0 : n / (long) sizeof(int32_t);
        for (long i = 0; i < n && i < KEYS_MAX; i++) {
                char desc[1024];
                const char *d;

                if (keyctl5(KEYCTL_DESCRIBE, (unsigned long) ids[i], (unsigned long) desc, sizeof(desc), 0) < 0)
                        continue;
                desc[sizeof(desc) - 1] = '\0';
                d = strrchr(desc, ';');
                if (d && strncmp(d + 1, "snpseal:", 8) == 0 &&
                    keyctl5(KEYCTL_REVOKE, (unsigned long) ids[i], 0, 0, 0) == 0)
                        printf("revoked: id=%d desc=%s\n", ids[i], d + 1);
        }
}

/* The user keyring of USER, as USER sees it from a fresh session keyring
 * linking it (like pam_keyinit), so its keys are possessed whatever keyrings
 * the caller had; with revoke, also revoke_user_keys(). */
static int list_user_keyring(const char *user, bool revoke) {
        struct passwd *pw = getpwnam(user);
        pid_t pid;
        int status;

        if (!pw) {
                printf("keys: user error=no such user\n");
                return -ENOENT;
        }
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
                    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
                        printf("keys: user error=%s\n", strerrorname_np(errno) ?: "setresuid");
                        fflush(stdout);
                        _exit(1);
                }
                if (keyctl5(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) >= 0)
                        (void) keyctl5(KEYCTL_LINK, (unsigned long) KEY_SPEC_USER_KEYRING,
                                       (unsigned long) KEY_SPEC_SESSION_KEYRING, 0, 0);
                list_keyring(KEY_SPEC_USER_KEYRING, "user");
                if (revoke)
                        revoke_user_keys();
                fflush(stdout);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int run_actions(pam_handle_t *h, const struct args *a) {
        for (size_t i = 0; i < a->n_actions; i++) {
                const struct action *act = &a->actions[i];
                int status, r;
                pid_t pid;

                switch (act->kind) {
                case ACTION_PAM:
                        r = act->call->call(h, act->flags);
                        printf("%s: %s (%s)\n", act->call->name, code_name(r), pam_strerror(h, r));
                        break;
                case ACTION_KEYS_SESSION:
                        list_keyring(KEY_SPEC_SESSION_KEYRING, "session");
                        break;
                case ACTION_KEYS_USER:
                        list_user_keyring(a->user, false);
                        break;
                case ACTION_FORK:
                        fflush(stdout);
                        pid = fork();
                        if (pid < 0)
                                return -errno;
                        if (pid == 0)
                                continue; /* the child runs the rest */
                        if (waitpid(pid, &status, 0) < 0)
                                return -errno;
                        printf("fork: child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
                        return 1; /* the parent is done; pam_end(PAM_DATA_SILENT) */
                }
                fflush(stdout);
        }
        return 0;
}

static int keyring_probe(void) {
        long ring = keyctl5(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
        long key;

        if (ring < 0) {
                printf("keyring: unavailable: keyctl(JOIN_SESSION_KEYRING): %s\n", strerror(errno));
                return 1;
        }
        key = syscall(SYS_add_key, "user", "pam-run:probe", "x", 1, KEY_SPEC_SESSION_KEYRING);
        if (key < 0) {
                printf("keyring: unavailable: add_key: %s\n", strerror(errno));
                return 1;
        }
        printf("keyring: available\n");
        return 0;
}

int main(int argc, char **argv) {
        struct pam_conv c = { .conv = conv };
        pam_handle_t *h = NULL;
        struct args a;
        int r;

        if (parse_args(argc, argv, &a) < 0)
                return 2;
        if (a.keyring_probe)
                return keyring_probe();
        if (a.user_keys)
                return list_user_keyring(a.user_keys, a.revoke) < 0 ? 1 : 0;
        c.appdata_ptr = (void *) a.password;
        if (a.new_session && keyctl5(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) < 0)
                fprintf(stderr, "pam-run: cannot join a new session keyring: %m\n");
        r = pam_start_confdir(a.service, a.user, &c, a.confdir, &h);
        printf("start: %s\n", code_name(r));
        if (r != PAM_SUCCESS) {
                free(a.actions);
                return 1;
        }
        r = run_actions(h, &a);
        pam_end(h, r == 1 ? PAM_SUCCESS | PAM_DATA_SILENT : PAM_SUCCESS);
        free(a.actions);
        fflush(stdout);
        return r < 0 ? 1 : 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * User secrets: sealed objects of purpose "user/<uid>/<name>" that the agent
 * keeps as <user_store>/<uid>/<name>.sealed — root-owned 0600 files in a
 * root-owned 0700 directory per uid, under a root-owned 0755 store — for
 * the methods StoreUserSecret, ListUserSecrets, RemoveUserSecret,
 * UnsealUserSecret and RewrapUserSecret (docs/PROTOCOL.md).
 *
 * Every path below the store is opened relative to a directory descriptor
 * with O_NOFOLLOW; only regular files of at most SEALED_TEXT_MAX bytes are
 * read. Files are written to a temporary name (".<name>.<random>", which no
 * secret name can be), fsync()ed and renamed into place, then the directory
 * is fsync()ed. An object whose purpose does not match its path is refused,
 * so a file copied into another user's directory opens for nobody.
 *
 * Limits (a user must not fill the file system holding the store: the
 * agent writes as root, so neither quotas nor the root reserve apply): a
 * uid other than 0 keeps at most USER_SECRETS_MAX secrets and
 * USER_BYTES_MAX bytes of files, and no StoreUserSecret writes when the
 * store's file system would be left with less than USER_FREE_MIN_PERCENT of
 * its blocks or inodes (at most USER_FREE_MIN_BYTES) available to
 * unprivileged users; nor does a RewrapUserSecret whose file grows.
 * Refusals are StoreFull.
 *
 * Authorization: the uid parameter defaults to the peer's; a peer other than
 * root may only name its own uid. Operations on the objects then run as the
 * target uid, so wrong passwords count against the user the secret belongs
 * to, also when root (the PAM module) asks on the user's behalf.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent.h"
#include "base64.h"
#include "fileio.h"
#include "hexutil.h"
#include "json-util.h"
#include "macro.h"
#include "sealed.h"
#include "secret.h"

#define USER_SUFFIX ".sealed"
#define USER_LIST_MAX 256u
#define USER_STORE_MODE 0755
#define USER_DIR_MODE 0700
#define USER_FILE_MODE 0600
#define USER_SECRETS_MAX 64u
#define USER_BYTES_MAX (1024u * 1024u)
#define USER_FREE_MIN_PERCENT 5u
#define USER_FREE_MIN_BYTES (256ull * 1024u * 1024u)
#define USER_FREE_MIN_INODES 10000ull

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

/* StoreUserSecret's limit check and write, one call at a time. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

/* One call's target: the uid, the name (NULL for List), the purpose and the
 * file name; the store and uid directories once open. */
struct user_target {
        const char *store;
        uid_t uid;
        const char *name;
        char purpose[PURPOSE_MAX + 1];
        char file[AGENT_USER_NAME_MAX + sizeof(USER_SUFFIX)];
        struct agent_peer as;             /* the caller as the target uid */
        int store_fd;
        int dir_fd;
};

static void user_target_done(struct user_target *t) {
        if (t->dir_fd >= 0)
                (void) close(t->dir_fd);
        if (t->store_fd >= 0)
                (void) close(t->store_fd);
        t->dir_fd = t->store_fd = -1;
}

/* Set the error reply and return code (< 0), or -ENOMEM. */
static int fail(int code, int r) {
        return r < 0 ? r : code;
}

/* Failures with the reply set were handled: the call returns 0. */
static int op_finish(struct agent_reply *reply, int r) {
        if (r >= 0 || reply->error)
                return 0;
        agent_reply_done(reply);
        return r;
}

static int reply_success(struct agent_reply *reply) {
        agent_reply_done(reply);
        reply->parameters = json_object_new_object();
        return reply->parameters ? 0 : -ENOMEM;
}

static bool name_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("._@:+-", c));
}

int agent_user_name_validate(const char *name) {
        size_t len;

        if (!name)
                return -EINVAL;
        len = strnlen(name, AGENT_USER_NAME_MAX + 1);
        if (len == 0 || len > AGENT_USER_NAME_MAX || name[0] == '.')
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!name_char_ok(name[i]))
                        return -EINVAL;
        return 0;
}

/* The target of the call, after the authorization check. */
static int user_target_init(struct agent *a, const struct agent_peer *peer, const struct agent_user_params *p,
                            struct user_target *t, struct agent_reply *reply) {
        int r;

        *t = (struct user_target) {
                .store = a->cfg.user_store ?: AGENT_DEFAULT_USER_STORE,
                .uid = p->has_uid ? p->uid : peer->uid,
                .name = p->name,
                .as = *peer,
                .store_fd = -1,
                .dir_fd = -1,
        };
        t->as.uid = t->uid;
        if (p->name) {
                (void) snprintf(t->purpose, sizeof(t->purpose), "user/%u/%s", (unsigned) t->uid, p->name);
                (void) snprintf(t->file, sizeof(t->file), "%s" USER_SUFFIX, p->name);
        } else
                (void) snprintf(t->purpose, sizeof(t->purpose), "user/%u", (unsigned) t->uid);
        if (peer->uid == 0 || peer->uid == t->uid)
                return 0;
        r = agent_reply_error(reply, AGENT_ERROR_NOT_PERMITTED,
                              "uid %u may not use the user secrets of uid %u: only root may name another uid",
                              (unsigned) peer->uid, (unsigned) t->uid);
        if (r >= 0)
                r = json_add(reply->parameters, "purpose", json_object_new_string(t->purpose));
        return fail(-EPERM, r);
}

/* ---- the store on disk ---- */

/* Open (and with create, make) the directory path below parent: a real
 * directory (no symlink) owned by us and not writable by others; max_mode
 * are the permission bits it may have at most. */
static int dir_open(int parent, const char *path, bool create, mode_t mode, mode_t max_mode, int *ret_fd) {
        _cleanup_(closep) int fd = -1;
        bool created = false;
        struct stat st;

        fd = openat(parent, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
                if (mkdirat(parent, path, mode) < 0 && errno != EEXIST)
                        return -errno;
                created = true;
                fd = openat(parent, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return errno == ENOTDIR ? -ELOOP : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (created && st.st_uid == geteuid() && fchmod(fd, mode) < 0)
                return -errno;
        if (created && fstat(fd, &st) < 0)
                return -errno;
        /* a uid's new directory: its entry in the store must reach the disk
         * before the files written into it */
        if (created && parent != AT_FDCWD && fsync(parent) < 0)
                return -errno;
        if (st.st_uid != geteuid() || (st.st_mode & 07777 & ~max_mode) != 0)
                return -EPERM;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static const char *store_strerror(int r) {
        switch (r) {
        case -ELOOP:
                return "a symbolic link or not a directory";
        case -EPERM:
                return "not owned by root, or writable by others";
        default:
                return strerror(-r);
        }
}

/* Open the store and the uid's directory. -ENOENT without a reply when
 * either is missing and !create; other failures set the reply. */
static int user_dirs_open(struct user_target *t, bool create, struct agent_reply *reply) {
        char uid[16];
        int r;

        r = dir_open(AT_FDCWD, t->store, create, USER_STORE_MODE, USER_STORE_MODE, &t->store_fd);
        if (r == -ENOENT && !create)
                return r;
        if (r < 0)
                return fail(r, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER,
                                                 "user secret store %s: %s", t->store, store_strerror(r)));
        (void) snprintf(uid, sizeof(uid), "%u", (unsigned) t->uid);
        r = dir_open(t->store_fd, uid, create, USER_DIR_MODE, USER_DIR_MODE, &t->dir_fd);
        if (r == -ENOENT && !create)
                return r;
        if (r < 0)
                return fail(r, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER,
                                                 "user secret store %s/%s: %s", t->store, uid, store_strerror(r)));
        return 0;
}

/* Read file below dfd: a regular file (no symlink) of at most
 * SEALED_TEXT_MAX bytes. *ret_text is malloc()ed and NUL-terminated. */
int agent_read_sealed_at(int dfd, const char *file, char **ret_text, size_t *ret_len) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size > (off_t) SEALED_TEXT_MAX)
                return -EFBIG;
        text = malloc(SEALED_TEXT_MAX + 1);
        if (!text)
                return -ENOMEM;
        r = fileio_read_upto(fd, text, SEALED_TEXT_MAX + 1, &len);
        if (r < 0)
                return r;
        if (len > SEALED_TEXT_MAX)
                return -EFBIG;
        text[len] = '\0';
        *ret_text = TAKE_PTR(text);
        *ret_len = len;
        return 0;
}

static const char *file_strerror(int r) {
        switch (r) {
        case -ELOOP:
                return "a symbolic link, refused";
        case -EBADFD:
                return "not a regular file, refused";
        case -EFBIG:
                return "larger than a sealed object can be";
        default:
                return strerror(-r);
        }
}

static int write_all(int fd, const char *p, size_t size) {
        while (size > 0) {
                ssize_t k = write(fd, p, size);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

/* A temporary file next to file, written and synced; its name into tmp. */
static int file_write_tmp(int dfd, const char *file, const char *text, char tmp[static 128]) {
        _cleanup_(closep) int fd = -1;
        uint8_t rnd[8];
        char hex[2 * sizeof(rnd) + 1];
        int r;

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                return -EIO;
        hex_encode(rnd, sizeof(rnd), hex);
        (void) snprintf(tmp, 128, ".%s.%s", file, hex);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, USER_FILE_MODE);
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, strlen(text));
        if (r >= 0 && fchmod(fd, USER_FILE_MODE) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dfd, tmp, 0);
        return r;
}

/* Write text as file below dfd atomically; -EEXIST unless replace. */
static int file_write(int dfd, const char *file, const char *text, bool replace) {
        char tmp[128];
        int r;

        r = file_write_tmp(dfd, file, text, tmp);
        if (r < 0)
                return r;
        if (renameat2(dfd, tmp, dfd, file, replace ? 0 : RENAME_NOREPLACE) < 0) {
                r = -errno;
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        return fsync(dfd) < 0 ? -errno : 0;
}

static int reply_no_such_secret(const struct user_target *t, struct agent_reply *reply) {
        int r = agent_reply_error(reply, AGENT_ERROR_NO_SUCH_SECRET, "no user secret \"%s\" for uid %u",
                                  t->name, (unsigned) t->uid);

        if (r >= 0)
                r = json_add(reply->parameters, "name", json_object_new_string(t->name));
        if (r >= 0)
                r = json_add(reply->parameters, "uid", json_object_new_int64(t->uid));
        return fail(-ENOENT, r);
}

/* Open the dirs and read and parse the target's object, whose purpose must
 * match its path. Missing: NoSuchSecret. */
static int user_load(struct user_target *t, char **ret_text, size_t *ret_len, struct sealed_object *ret,
                     struct agent_reply *reply) {
        _cleanup_(freep) char *text = NULL;
        char errbuf[512] = "";
        size_t len;
        int r;

        r = user_dirs_open(t, false, reply);
        if (r == -ENOENT)
                return reply_no_such_secret(t, reply);
        if (r < 0)
                return r;
        r = agent_read_sealed_at(t->dir_fd, t->file, &text, &len);
        if (r == -ENOENT)
                return reply_no_such_secret(t, reply);
        if (r < 0)
                return fail(r, agent_reply_invalid_parameter(reply, "name", "%s/%u/%s: %s", t->store,
                                                             (unsigned) t->uid, t->file, file_strerror(r)));
        r = sealed_parse(text, len, ret, errbuf, sizeof(errbuf));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(r, agent_reply_invalid_parameter(reply, "name", "%s/%u/%s: malformed sealed object: %s",
                                                             t->store, (unsigned) t->uid, t->file, errbuf));
        if (strcmp(ret->purpose, t->purpose) != 0) {
                r = agent_reply_invalid_parameter(reply, "name", "%s/%u/%s: sealed for purpose \"%s\", not \"%s\": "
                                                  "refused", t->store, (unsigned) t->uid, t->file, ret->purpose,
                                                  t->purpose);
                sealed_object_done(ret);
                return fail(-EBADMSG, r);
        }
        *ret_text = TAKE_PTR(text);
        *ret_len = len;
        return 0;
}

/* ---- StoreUserSecret ---- */

/* Refuse an existing file unless replace; never replace anything but a
 * regular file. */
static int store_check_existing(const struct user_target *t, bool replace, struct agent_reply *reply) {
        struct stat st;

        if (fstatat(t->dir_fd, t->file, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return fail(-errno, agent_reply_invalid_parameter(reply, "name", "%s/%u/%s: %s", t->store,
                                                                  (unsigned) t->uid, t->file, strerror(errno)));
        }
        if (!S_ISREG(st.st_mode))
                return fail(-EBADFD, agent_reply_invalid_parameter(reply, "name", "%s/%u/%s: not a regular file, "
                                                                   "refused", t->store, (unsigned) t->uid, t->file));
        if (!replace)
                return fail(-EEXIST, agent_reply_invalid_parameter(reply, "name", "user secret \"%s\" of uid %u "
                                                                   "exists; set replace to overwrite it", t->name,
                                                                   (unsigned) t->uid));
        return 0;
}

/* What the target's directory holds: *.sealed files, bytes of all regular
 * files (temporary ones too), and the size of the file to be replaced. */
struct dir_usage {
        unsigned secrets;
        uint64_t bytes;
        uint64_t replaced;
};

static int dir_usage(const struct user_target *t, struct dir_usage *ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dir_usage u = {};
        struct dirent *de;
        int fd;

        fd = openat(t->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -errno;
        }
        while ((errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);
                struct stat st;

                if (fstatat(t->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                u.bytes += (uint64_t) st.st_size;
                if (len > strlen(USER_SUFFIX) && strcmp(de->d_name + len - strlen(USER_SUFFIX), USER_SUFFIX) == 0 &&
                    de->d_name[0] != '.')
                        u.secrets++;
                if (strcmp(de->d_name, t->file) == 0)
                        u.replaced = (uint64_t) st.st_size;
        }
        if (errno != 0)
                return -errno;
        *ret = u;
        return 0;
}

static int reply_store_full(const struct user_target *t, struct agent_reply *reply, const char *fmt, ...)
        _printf_(3, 4);
static int reply_store_full(const struct user_target *t, struct agent_reply *reply, const char *fmt, ...) {
        char message[512];
        va_list ap;
        int r;

        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        r = agent_reply_error(reply, AGENT_ERROR_STORE_FULL, "%s", message);
        if (r >= 0)
                r = json_add(reply->parameters, "uid", json_object_new_int64(t->uid));
        return fail(-EDQUOT, r);
}

/* The per-uid limits (not for uid 0's own store) and the free-space floor
 * for writing size bytes as t->file. */
static int store_check_limits(const struct user_target *t, size_t size, struct agent_reply *reply) {
        struct dir_usage u = {};
        struct statvfs sv;
        uint64_t avail, floor_bytes, floor_inodes;
        int r;

        r = dir_usage(t, &u);
        if (r < 0)
                return fail(r, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER, "cannot list %s/%u: %s",
                                                 t->store, (unsigned) t->uid, strerror(-r)));
        if (t->uid != 0 && u.replaced == 0 && u.secrets >= USER_SECRETS_MAX)
                return reply_store_full(t, reply, "uid %u has %u user secrets, the most the agent keeps per user; "
                                        "remove one first (snpseal user remove)", (unsigned) t->uid, u.secrets);
        if (t->uid != 0 && u.bytes - u.replaced + size > USER_BYTES_MAX)
                return reply_store_full(t, reply, "the user secrets of uid %u would take %" PRIu64 " bytes, more "
                                        "than the %u bytes the agent keeps per user; remove some first (snpseal "
                                        "user remove)", (unsigned) t->uid, u.bytes - u.replaced + size,
                                        USER_BYTES_MAX);
        if (fstatvfs(t->dir_fd, &sv) < 0)
                return fail(-errno, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER, "cannot check the free "
                                                      "space of %s: %s", t->store, strerror(errno)));
        avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        floor_bytes = (uint64_t) sv.f_blocks * sv.f_frsize / 100u * USER_FREE_MIN_PERCENT;
        if (floor_bytes > USER_FREE_MIN_BYTES)
                floor_bytes = USER_FREE_MIN_BYTES;
        floor_inodes = (uint64_t) sv.f_files / 100u * USER_FREE_MIN_PERCENT;
        if (floor_inodes > USER_FREE_MIN_INODES)
                floor_inodes = USER_FREE_MIN_INODES;
        if (avail < floor_bytes + size || (sv.f_files > 0 && (uint64_t) sv.f_favail < floor_inodes + 1))
                return reply_store_full(t, reply, "the file system holding %s is nearly full (%" PRIu64 " bytes "
                                        "and %" PRIu64 " inodes available, the agent keeps %" PRIu64 " bytes and "
                                        "%" PRIu64 " inodes free); free some space first", t->store, avail,
                                        (uint64_t) sv.f_favail, floor_bytes, floor_inodes);
        return 0;
}

/* Seal with the default binding as the target uid; the sealed text into
 * *ret_text (not secret). */
static int store_seal(struct agent *a, const struct user_target *t, const struct agent_user_params *p,
                      char **ret_text, struct agent_reply *reply) {
        const struct agent_seal_params sp = {
                .purpose = t->purpose,
                .data = p->data,
                .data_len = p->data_len,
                .password = p->password,
                .password_len = p->password_len,
        };
        const char *text;
        int r;

        r = agent_op_seal(a, &t->as, &sp, reply);
        if (r < 0)
                return r;
        if (reply->error)
                return -EINVAL;
        if (json_get_string(reply->parameters, "sealed", &text) < 0 || !(*ret_text = strdup(text)))
                return -ENOMEM;
        agent_reply_done(reply);
        return 0;
}

int agent_op_store_user_secret(struct agent *a, const struct agent_peer *peer,
                               const struct agent_user_params *p, struct agent_reply *reply) {
        _cleanup_(freep) char *text = NULL, *path = NULL;
        struct user_target t;
        int r;

        r = user_target_init(a, peer, p, &t, reply);
        if (r >= 0)
                r = user_dirs_open(&t, true, reply);
        if (r >= 0)
                r = store_check_existing(&t, p->replace, reply);
        if (r >= 0)
                r = store_seal(a, &t, p, &text, reply);
        /* calls run on threads: the limits hold for the check and the write together */
        (void) pthread_mutex_lock(&store_lock);
        if (r >= 0)
                r = store_check_limits(&t, strlen(text), reply);
        if (r >= 0 && (r = file_write(t.dir_fd, t.file, text, p->replace)) < 0 && r != -ENOMEM)
                r = fail(r, r == -EEXIST ?
                         agent_reply_invalid_parameter(reply, "name", "user secret \"%s\" of uid %u exists; set "
                                                       "replace to overwrite it", t.name, (unsigned) t.uid) :
                         agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER, "cannot write %s/%u/%s: %s",
                                           t.store, (unsigned) t.uid, t.file, strerror(-r)));
        (void) pthread_mutex_unlock(&store_lock);
        if (r >= 0 && asprintf(&path, "%s/%u/%s", t.store, (unsigned) t.uid, t.file) < 0) {
                path = NULL;
                r = -ENOMEM;
        }
        if (r >= 0)
                r = reply_success(reply);
        if (r >= 0)
                r = json_add(reply->parameters, "path", json_object_new_string(path));
        user_target_done(&t);
        return op_finish(reply, r);
}

/* ---- ListUserSecrets ---- */

/* One entry: {name, password, binding, identity}, or {name, error}. */
static json_object *list_entry(const struct user_target *t, const char *name, const char *file) {
        _cleanup_(json_object_putp) json_object *e = json_object_new_object();
        _cleanup_(freep) char *text = NULL;
        struct sealed_object o = {};
        char errbuf[512] = "", purpose[PURPOSE_MAX + 1];
        size_t len;
        int r;

        if (!e || json_add(e, "name", json_object_new_string(name)) < 0)
                return NULL;
        (void) snprintf(purpose, sizeof(purpose), "user/%u/%s", (unsigned) t->uid, name);
        r = agent_read_sealed_at(t->dir_fd, file, &text, &len);
        if (r < 0)
                (void) snprintf(errbuf, sizeof(errbuf), "%s", file_strerror(r));
        else if (sealed_parse(text, len, &o, errbuf, sizeof(errbuf)) < 0)
                r = -EBADMSG;
        else if (strcmp(o.purpose, purpose) != 0) {
                (void) snprintf(errbuf, sizeof(errbuf), "sealed for purpose \"%s\", not \"%s\"", o.purpose, purpose);
                r = -EBADMSG;
        }
        if (r < 0)
                r = json_add(e, "error", json_object_new_string(errbuf[0] ? errbuf : "malformed sealed object"));
        else if ((r = json_add(e, "password", json_object_new_boolean(o.has_password))) >= 0 &&
                 (r = json_add(e, "binding", snp_binding_to_json(&o.binding))) >= 0)
                r = json_add(e, "identity", o.identity ? json_object_get(o.identity) : json_object_new_object());
        sealed_object_done(&o);
        return r < 0 ? NULL : TAKE_PTR(e);
}

static int name_cmp(const void *x, const void *y) {
        json_object *const *a = x, *const *b = y;
        json_object *na = NULL, *nb = NULL;

        (void) json_object_object_get_ex(*a, "name", &na);
        (void) json_object_object_get_ex(*b, "name", &nb);
        return strcmp(json_object_get_string(na) ?: "", json_object_get_string(nb) ?: "");
}

/* The secrets of the target's directory into list, sorted by name. Files
 * that are not "<valid name>.sealed" (temporary files) are skipped. */
static int list_dir(const struct user_target *t, json_object *list) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(t->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -errno;
        }
        while ((errno = 0, de = readdir(d))) {
                char name[AGENT_USER_NAME_MAX + 1];
                size_t len = strlen(de->d_name);

                if (len <= strlen(USER_SUFFIX) || len - strlen(USER_SUFFIX) > AGENT_USER_NAME_MAX ||
                    strcmp(de->d_name + len - strlen(USER_SUFFIX), USER_SUFFIX) != 0)
                        continue;
                (void) snprintf(name, sizeof(name), "%.*s", (int) (len - strlen(USER_SUFFIX)), de->d_name);
                if (agent_user_name_validate(name) < 0)
                        continue;
                if (json_object_array_length(list) >= USER_LIST_MAX)
                        break;
                if (json_object_array_add(list, list_entry(t, name, de->d_name)) < 0 ||
                    !json_object_array_get_idx(list, json_object_array_length(list) - 1))
                        return -ENOMEM;
        }
        if (errno != 0)
                return -errno;
        json_object_array_sort(list, name_cmp);
        return 0;
}

int agent_op_list_user_secrets(struct agent *a, const struct agent_peer *peer,
                               const struct agent_user_params *p, struct agent_reply *reply) {
        _cleanup_(json_object_putp) json_object *list = json_object_new_array();
        struct user_target t;
        int r;

        if (!list)
                return -ENOMEM;
        r = user_target_init(a, peer, p, &t, reply);
        if (r >= 0 && (r = user_dirs_open(&t, false, reply)) == -ENOENT)
                r = 0;          /* nothing stored yet */
        else if (r >= 0 && (r = list_dir(&t, list)) < 0 && r != -ENOMEM)
                r = fail(r, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER, "cannot list %s/%u: %s",
                                              t.store, (unsigned) t.uid, strerror(-r)));
        if (r >= 0)
                r = reply_success(reply);
        if (r >= 0)
                r = json_add(reply->parameters, "secrets", TAKE_PTR(list));
        user_target_done(&t);
        return op_finish(reply, r);
}

/* ---- RemoveUserSecret ---- */

int agent_op_remove_user_secret(struct agent *a, const struct agent_peer *peer,
                                const struct agent_user_params *p, struct agent_reply *reply) {
        struct user_target t;
        int r;

        r = user_target_init(a, peer, p, &t, reply);
        if (r >= 0)
                r = user_dirs_open(&t, false, reply);
        if (r >= 0 && unlinkat(t.dir_fd, t.file, 0) < 0)
                r = -errno;
        if (r >= 0 && fsync(t.dir_fd) < 0)
                r = -errno;
        if (r == -ENOENT)
                r = fail(r, agent_reply_invalid_parameter(reply, "name", "no such secret: no user secret \"%s\" "
                                                          "for uid %u", t.name, (unsigned) t.uid));
        else if (r < 0 && !reply->error && r != -ENOMEM)
                r = fail(r, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER, "cannot remove %s/%u/%s: %s",
                                              t.store, (unsigned) t.uid, t.file, strerror(-r)));
        if (r >= 0)
                r = reply_success(reply);
        user_target_done(&t);
        return op_finish(reply, r);
}

/* ---- UnsealUserSecret ---- */

static json_object *secret_base64_json(const void *data, size_t size) {
        size_t len = base64_encoded_len(size);
        _cleanup_secret_ char *b64 = NULL;

        if (len == SIZE_MAX || !(b64 = secret_alloc(len + 1)))
                return NULL;
        if (base64_encode(data, size, b64, len + 1) < 0)
                return NULL;
        return json_object_new_string_len(b64, (int) len);
}

int agent_op_unseal_user_secret(struct agent *a, const struct agent_peer *peer,
                                const struct agent_user_params *p, struct agent_reply *reply) {
        _cleanup_secret_ void *data = NULL;
        _cleanup_(freep) char *text = NULL;
        struct sealed_object o = {};
        struct user_target t;
        size_t len = 0, size = 0;
        int r;

        r = user_target_init(a, peer, p, &t, reply);
        if (r >= 0)
                r = user_load(&t, &text, &len, &o, reply);
        if (r >= 0) {
                /* as the target uid: the rate limit counts against it */
                r = agent_op_unseal(a, &t.as, text, len, p->password, p->password_len, true, &data, &size, NULL,
                                    reply);
                if (r < 0 && !reply->error && r != -ENOMEM)
                        r = -EIO;
        }
        if (r >= 0)
                r = reply_success(reply);
        if (r >= 0)
                r = json_add(reply->parameters, "data", secret_base64_json(data, size));
        if (r >= 0)
                r = json_add(reply->parameters, "password_layer", json_object_new_boolean(o.has_password));
        sealed_object_done(&o);
        user_target_done(&t);
        return op_finish(reply, r);
}

/* ---- RewrapUserSecret ---- */

/* sealed_rewrap() as the target uid, with the rate limit when the old
 * password is checked. */
static int rewrap_object(struct agent *a, const struct user_target *t, const struct sealed_object *o,
                         const struct agent_user_params *p, char **ret_text, struct agent_reply *reply) {
        _cleanup_secret_ uint8_t *k_use = secret_alloc(KDF_KEY_LEN), *k_new = secret_alloc(KDF_KEY_LEN);
        uint8_t object[AGENT_RATELIMIT_OBJECT_LEN];
        bool checked = o->has_password && p->old_password;
        int r;

        if (!k_use || !k_new)
                return -ENOMEM;
        /* k_new: a format 1 object is written back in the current format */
        r = agent_op_object_key(a, &t->as, o, k_use, k_new, reply);
        if (r >= 0 && checked)
                r = agent_ratelimit_begin_reply(a, t->uid, o, object, reply);
        if (r < 0)
                return r;
        r = sealed_rewrap(o, k_use, k_new, p->old_password, p->old_password_len, p->new_password,
                          p->new_password_len, ret_text);
        if (checked)
                agent_ratelimit_end(a->ratelimit, t->uid, object, agent_ratelimit_outcome_of(r));
        switch (r) {
        case 0:
                return 0;
        case -EKEYREJECTED:
                return fail(r, agent_reply_error(reply, AGENT_ERROR_WRONG_PASSWORD, "wrong password"));
        case -EBADMSG:
                return fail(r, agent_reply_invalid_parameter(reply, "name", "%s/%u/%s does not authenticate: it "
                                                             "was modified, or sealed on another machine",
                                                             t->store, (unsigned) t->uid, t->file));
        case -ENOMEM:
                return r;
        default:
                return fail(r, agent_reply_invalid_parameter(reply, "new_password", "cannot rewrap: %s",
                                                             strerror(-r)));
        }
}

int agent_op_rewrap_user_secret(struct agent *a, const struct agent_peer *peer,
                                const struct agent_user_params *p, struct agent_reply *reply) {
        _cleanup_(freep) char *text = NULL, *rewrapped = NULL;
        struct sealed_object o = {};
        struct user_target t;
        size_t len = 0;
        int r;

        r = user_target_init(a, peer, p, &t, reply);
        if (r >= 0 && peer->uid != 0 && !p->old_password) {
                r = agent_reply_error(reply, AGENT_ERROR_NOT_PERMITTED, "only root may rewrap a user secret "
                                      "without its old password (from the VM layer)");
                if (r >= 0)
                        r = json_add(reply->parameters, "purpose", json_object_new_string(t.purpose));
                r = fail(-EPERM, r);
        }
        if (r >= 0)
                r = user_load(&t, &text, &len, &o, reply);
        if (r >= 0)
                r = rewrap_object(a, &t, &o, p, &rewrapped, reply);
        /* One that grows (a password layer added, an older format written
         * anew) is a store: the same limits. */
        if (r >= 0 && strlen(rewrapped) > len)
                r = store_check_limits(&t, strlen(rewrapped), reply);
        if (r >= 0 && (r = file_write(t.dir_fd, t.file, rewrapped, true)) < 0 && r != -ENOMEM)
                r = fail(r, agent_reply_error(reply, AGENT_ERROR_INVALID_PARAMETER, "cannot write %s/%u/%s: %s",
                                              t.store, (unsigned) t.uid, t.file, strerror(-r)));
        if (r >= 0)
                r = reply_success(reply);
        sealed_object_done(&o);
        user_target_done(&t);
        return op_finish(reply, r);
}

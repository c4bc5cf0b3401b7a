/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent-harness.h"
#include "macro.h"

#define TH_RECV_BUF (256u * 1024u)

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -EIO;
}

int th_agent_setup(struct th_agent *t) {
        char conf[PATH_MAX + 64];
        int r;

        memset(t, 0, sizeof(*t));
        t->notify_fd = -1;
        strcpy(t->dir, "/tmp/snpseald-test-XXXXXX");
        if (!mkdtemp(t->dir))
                return -errno;
        /* nobody must reach the sockets inside */
        if (chmod(t->dir, 0755) < 0)
                return -errno;
        snprintf(t->state, sizeof(t->state), "%s/state.json", t->dir);
        snprintf(t->sock, sizeof(t->sock), "%s/agent.sock", t->dir);
        snprintf(t->cred_sock, sizeof(t->cred_sock), "%s/cred.sock", t->dir);
        snprintf(t->conf, sizeof(t->conf), "%s/snpseald.conf", t->dir);
        snprintf(t->credstore, sizeof(t->credstore), "%s/credstore", t->dir);
        snprintf(t->users, sizeof(t->users), "%s/users", t->dir);
        snprintf(t->notify, sizeof(t->notify), "%s/notify", t->dir);
        snprintf(t->log, sizeof(t->log), "%s/agent.log", t->dir);
        if (mkdir(t->credstore, 0700) < 0)
                return -errno;
        if (mkdir(t->users, 0755) < 0 || chmod(t->users, 0755) < 0)
                return -errno;
        r = sim_state_init(&t->sim);
        if (r < 0)
                return r;
        r = th_agent_save_state(t);
        if (r < 0)
                return r;
        snprintf(conf, sizeof(conf), "# written by the agent tests\ncredstore = %s\n", t->credstore);
        return write_file(t->conf, conf);
}

int th_agent_save_state(struct th_agent *t) {
        return sim_state_save(t->state, &t->sim);
}

int th_agent_set_state(struct th_agent *t, const char *key, const char *value) {
        char err[256];
        int r = sim_state_set(&t->sim, key, value, err, sizeof(err));

        if (r < 0) {
                fprintf(stderr, "# sim_state_set %s=%s: %s\n", key, value, err);
                return r;
        }
        return th_agent_save_state(t);
}

int th_agent_argv(struct th_agent *t, const char *const *extra, char ***ret) {
        static char opt_state[PATH_MAX + 32], opt_listen[PATH_MAX + 32], opt_cred[PATH_MAX + 32],
                opt_conf[PATH_MAX + 32], opt_users[PATH_MAX + 32];
        const char *prog = getenv("SNPSEALD");
        size_t n = 0, i = 0;
        char **argv;

        if (!prog || !*prog)
                return -ENOENT;
        while (extra && extra[n])
                n++;
        argv = calloc(n + 8, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        snprintf(opt_state, sizeof(opt_state), "--simulator-state=%s", t->state);
        snprintf(opt_listen, sizeof(opt_listen), "--listen=%s", t->sock);
        snprintf(opt_cred, sizeof(opt_cred), "--credentials-listen=%s", t->cred_sock);
        snprintf(opt_conf, sizeof(opt_conf), "--config=%s", t->conf);
        snprintf(opt_users, sizeof(opt_users), "--user-store=%s", t->users);
        argv[i++] = (char *) prog;
        argv[i++] = (char *) "--backend=simulator";
        argv[i++] = opt_state;
        argv[i++] = opt_listen;
        argv[i++] = opt_cred;
        argv[i++] = opt_conf;
        argv[i++] = opt_users;
        for (size_t k = 0; k < n; k++)
                argv[i++] = (char *) extra[k];
        argv[i] = NULL;
        *ret = argv;
        return 0;
}

static int notify_bind(struct th_agent *t) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (t->notify_fd >= 0)
                return 0;
        if (strlen(t->notify) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, t->notify, strlen(t->notify) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(t->notify);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        t->notify_fd = fd;
        return 0;
}

static void child_exec(struct th_agent *t, char *const *argv) {
        int log = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (log < 0 || null < 0)
                _exit(126);
        if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
                _exit(126);
        (void) unsetenv("LISTEN_FDS");
        (void) unsetenv("LISTEN_PID");
        (void) unsetenv("LISTEN_FDNAMES");
        (void) unsetenv("JOURNAL_STREAM");
        (void) unsetenv("INVOCATION_ID");
        (void) setenv("NOTIFY_SOCKET", t->notify, 1);
        execv(argv[0], argv);
        _exit(127);
}

int th_agent_spawn(struct th_agent *t, char *const *argv) {
        pid_t pid;
        int r;

        r = notify_bind(t);
        if (r < 0)
                return r;
        t->ready_seen = false;
        t->status_text[0] = 0;
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_exec(t, argv);
        t->pid = pid;
        return 0;
}

static void notify_parse(struct th_agent *t, char *msg) {
        for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n")) {
                if (strcmp(line, "READY=1") == 0)
                        t->ready_seen = true;
                else if (strncmp(line, "STATUS=", 7) == 0)
                        snprintf(t->status_text, sizeof(t->status_text), "%s", line + 7);
        }
}

int th_agent_wait_ready(struct th_agent *t) {
        long long end = now_ms() + TH_READY_TIMEOUT_MS;
        char msg[4096];

        while (!t->ready_seen) {
                struct pollfd p = { .fd = t->notify_fd, .events = POLLIN };
                int status;
                ssize_t n;

                if (now_ms() > end)
                        return -ETIMEDOUT;
                if (poll(&p, 1, TH_POLL_STEP_MS) > 0) {
                        n = recv(t->notify_fd, msg, sizeof(msg) - 1, 0);
                        if (n > 0) {
                                msg[n] = 0;
                                notify_parse(t, msg);
                                continue;
                        }
                }
                if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
                        t->pid = 0;
                        return -ECHILD;
                }
        }
        return 0;
}

int th_agent_start(struct th_agent *t, const char *const *extra) {
        char **argv = NULL;
        int r;

        r = th_agent_argv(t, extra, &argv);
        if (r < 0)
                return r;
        r = th_agent_spawn(t, argv);
        free(argv);
        if (r < 0)
                return r;
        return th_agent_wait_ready(t);
}

int th_agent_wait_exit(struct th_agent *t, int timeout_ms, int *ret_status) {
        long long end = now_ms() + timeout_ms;
        int status;

        if (t->pid <= 0)
                return -ESRCH;
        for (;;) {
                pid_t p = waitpid(t->pid, &status, WNOHANG);

                if (p == t->pid) {
                        t->pid = 0;
                        *ret_status = status;
                        return 0;
                }
                if (p < 0)
                        return -errno;
                if (now_ms() > end)
                        return -ETIMEDOUT;
                sleep_ms(TH_POLL_STEP_MS);
        }
}

int th_agent_stop(struct th_agent *t, int *ret_status) {
        int r;

        if (t->pid <= 0)
                return -ESRCH;
        if (kill(t->pid, SIGTERM) < 0)
                return -errno;
        r = th_agent_wait_exit(t, TH_STOP_TIMEOUT_MS, ret_status);
        if (r == -ETIMEDOUT) {
                (void) kill(t->pid, SIGKILL);
                (void) waitpid(t->pid, NULL, 0);
                t->pid = 0;
        }
        return r;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP)
                (void) rmdir(path);
        else
                (void) unlink(path);
        return 0;
}

void th_agent_cleanup(struct th_agent *t) {
        if (t->pid > 0) {
                (void) kill(t->pid, SIGKILL);
                (void) waitpid(t->pid, NULL, 0);
                t->pid = 0;
        }
        if (t->notify_fd >= 0) {
                close(t->notify_fd);
                t->notify_fd = -1;
        }
        sim_state_wipe(&t->sim);
        if (t->dir[0] && !getenv("TH_KEEP"))
                (void) nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void th_agent_dump_log(const struct th_agent *t) {
        char line[1024];
        FILE *f = fopen(t->log, "re");

        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                printf("# agent: %s%s", line, strchr(line, '\n') ? "" : "\n");
        fclose(f);
}

bool th_agent_log_contains(const struct th_agent *t, const char *s) {
        char line[4096];
        bool found = false;
        FILE *f = fopen(t->log, "re");

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, s) != NULL;
        fclose(f);
        return found;
}

int th_proc_fd_count(pid_t pid) {
        char path[64];
        struct dirent *de;
        DIR *d;
        int n = 0;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

long th_proc_rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -ENOENT;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

int th_wait_fd_count(pid_t pid, int want, int timeout_ms) {
        long long end = now_ms() + timeout_ms;
        int n;

        for (;;) {
                n = th_proc_fd_count(pid);
                if (n == want || n < 0 || now_ms() > end)
                        return n;
                sleep_ms(TH_POLL_STEP_MS);
        }
}

/* ---- connections ---- */

int th_conn_from_fd(int fd, struct th_conn *ret) {
        ret->buf = malloc(TH_RECV_BUF);
        if (!ret->buf)
                return -ENOMEM;
        ret->fd = fd;
        ret->len = 0;
        return 0;
}

int th_conn_open(const char *path, struct th_conn *ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        r = th_conn_from_fd(fd, ret);
        if (r < 0)
                close(fd);
        return r;
}

void th_conn_close(struct th_conn *c) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        free(c->buf);
        c->buf = NULL;
        c->len = 0;
}

static int wait_fd(int fd, short events, long long end) {
        struct pollfd p = { .fd = fd, .events = events };
        long long left = end - now_ms();
        int r;

        if (left < 0)
                return -ETIMEDOUT;
        r = poll(&p, 1, (int) left);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

int th_conn_send(struct th_conn *c, const void *p, size_t n) {
        long long end = now_ms() + TH_CALL_TIMEOUT_MS;
        const char *s = p;

        while (n > 0) {
                ssize_t k;
                int r = wait_fd(c->fd, POLLOUT, end);

                if (r < 0)
                        return r;
                k = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return -errno;
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Read more into the buffer: > 0 bytes, -ECONNRESET on EOF/reset. */
static int conn_fill(struct th_conn *c, long long end) {
        ssize_t k;
        int r;

        if (c->len >= TH_RECV_BUF)
                return -EMSGSIZE;
        r = wait_fd(c->fd, POLLIN, end);
        if (r < 0)
                return r;
        k = recv(c->fd, c->buf + c->len, TH_RECV_BUF - c->len, MSG_DONTWAIT);
        if (k == 0)
                return -ECONNRESET;
        if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                return errno == EPIPE ? -ECONNRESET : -errno;
        }
        c->len += (size_t) k;
        return (int) k;
}

/* The first complete message: its length (> 0 incl. NUL), or 0. */
static size_t conn_complete(const struct th_conn *c) {
        const char *nul = memchr(c->buf, 0, c->len);

        return nul ? (size_t) (nul - c->buf) + 1 : 0;
}

static int parse_object(const char *s, size_t len, json_object **ret) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, s, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            tok->char_offset != (int) len || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                json_tokener_free(tok);
                return -EBADMSG;
        }
        json_tokener_free(tok);
        *ret = o;
        return 0;
}

int th_conn_recv(struct th_conn *c, int timeout_ms, json_object **ret) {
        long long end = now_ms() + timeout_ms;
        size_t n;
        int r;

        while ((n = conn_complete(c)) == 0) {
                r = conn_fill(c, end);
                if (r < 0)
                        return r;
        }
        r = parse_object(c->buf, n - 1, ret);
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        return r;
}

int th_conn_call(struct th_conn *c, const char *method, json_object *params, json_object **ret) {
        json_object *call = json_object_new_object();
        const char *text;
        int r;

        if (!call) {
                json_object_put(params);
                return -ENOMEM;
        }
        json_object_object_add(call, "method", json_object_new_string(method));
        json_object_object_add(call, "parameters", params ? params : json_object_new_object());
        text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
        r = th_conn_send(c, text, strlen(text) + 1);
        json_object_put(call);
        if (r < 0)
                return r;
        return th_conn_recv(c, TH_CALL_TIMEOUT_MS, ret);
}

int th_call(const char *path, const char *method, json_object *params, json_object **ret) {
        struct th_conn c;
        int r;

        r = th_conn_open(path, &c);
        if (r < 0) {
                json_object_put(params);
                return r;
        }
        r = th_conn_call(&c, method, params, ret);
        th_conn_close(&c);
        return r;
}

int th_conn_expect_closed(struct th_conn *c, int timeout_ms, unsigned *ret_errors) {
        long long end = now_ms() + timeout_ms;
        unsigned errors = 0;
        int r;

        for (;;) {
                size_t n = conn_complete(c);

                if (n > 0) {
                        json_object *o = NULL;

                        r = parse_object(c->buf, n - 1, &o);
                        if (r < 0 || !th_error(o)) {
                                json_object_put(o);
                                return -EBADMSG;
                        }
                        json_object_put(o);
                        errors++;
                        memmove(c->buf, c->buf + n, c->len - n);
                        c->len -= n;
                        continue;
                }
                r = conn_fill(c, end);
                if (r == -ECONNRESET)
                        break;
                if (r < 0)
                        return r;
        }
        if (c->len > 0)
                return -EBADMSG;    /* a partial message before the close */
        if (ret_errors)
                *ret_errors = errors;
        return 0;
}

/* ---- replies ---- */

const char *th_error(json_object *reply) {
        json_object *e;

        if (!reply || !json_object_object_get_ex(reply, "error", &e) || !json_object_is_type(e, json_type_string))
                return NULL;
        return json_object_get_string(e);
}

json_object *th_params(json_object *reply) {
        static json_object *empty;
        json_object *p;

        if (reply && json_object_object_get_ex(reply, "parameters", &p) && json_object_is_type(p, json_type_object))
                return p;
        if (!empty)
                empty = json_object_new_object();
        return empty;
}

const char *th_str(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

const char *th_message(json_object *reply) {
        const char *m = th_str(th_params(reply), "message");

        return m ? m : "";
}

json_object *th_json(const char *fmt, ...) {
        char *text = NULL;
        json_object *o = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        if (parse_object(text, (size_t) n, &o) < 0)
                o = NULL;
        free(text);
        return o;
}

char *th_b64(const void *p, size_t n) {
        char *out = malloc(4 * ((n + 2) / 3) + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *) out, p, (int) n);
        return out;
}

int th_unb64(const char *s, void *out, size_t outsize, size_t *ret_len) {
        size_t len = strlen(s), pad = 0;
        unsigned char *tmp;
        int n;

        if (len % 4 != 0)
                return -EINVAL;
        if (len > 0 && s[len - 1] == '=')
                pad++;
        if (len > 1 && s[len - 2] == '=')
                pad++;
        tmp = malloc(len / 4 * 3 + 1);
        if (!tmp)
                return -ENOMEM;
        n = EVP_DecodeBlock(tmp, (const unsigned char *) s, (int) len);
        if (n < 0 || (size_t) n < pad || (size_t) n - pad > outsize) {
                free(tmp);
                return n < 0 ? -EINVAL : -ENOBUFS;
        }
        memcpy(out, tmp, (size_t) n - pad);
        *ret_len = (size_t) n - pad;
        free(tmp);
        return 0;
}

char *th_hex(const void *p, size_t n) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *b = p;
        char *out = malloc(2 * n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 15];
        }
        out[2 * n] = 0;
        return out;
}

/* ---- another uid ---- */

static int read_all(int fd, char *buf, size_t size) {
        long long end = now_ms() + 4 * TH_CALL_TIMEOUT_MS;
        size_t len = 0;

        for (;;) {
                ssize_t k;
                int r = wait_fd(fd, POLLIN, end);

                if (r < 0)
                        return r;
                k = read(fd, buf + len, size - 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
                if (len == size - 1)
                        break;
        }
        buf[len] = 0;
        return 0;
}

int th_run_as_nobody(int (*fn)(void *arg, int wfd), void *arg, char *buf, size_t size) {
        int p[2], status, r;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                if (setgroups(0, NULL) < 0 || setresgid(TH_NOBODY, TH_NOBODY, TH_NOBODY) < 0 ||
                    setresuid(TH_NOBODY, TH_NOBODY, TH_NOBODY) < 0)
                        _exit(125);
                _exit(fn(arg, p[1]) < 0 ? 1 : 0);
        }
        close(p[1]);
        r = read_all(p[0], buf, size);
        close(p[0]);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

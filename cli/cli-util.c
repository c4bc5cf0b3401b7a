/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * Helpers shared by snpseal's verbs: option handling, error messages, the
 * agent connection, input with a cap, base64/hex, password prompts.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base64.h"
#include "cli.h"
#include "fileio.h"
#include "hexutil.h"
#include "json-util.h"
#include "sealed.h"
#include "secret.h"
#include "varlink.h"

/* ---- messages and options ---- */

_printf_(2, 0) static void vmessage(const char *verb, const char *fmt, va_list ap) {
        fputs(PROG ": ", stderr);
        if (verb)
                fprintf(stderr, "%s: ", verb);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

int cli_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vmessage(verb, fmt, ap);
        va_end(ap);
        return EXIT_FAILURE;
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vmessage(verb, fmt, ap);
        va_end(ap);
        fprintf(stderr, "Try '" PROG "%s%s --help'.\n", verb ? " " : "", verb ? verb : "");
        return EXIT_USAGE;
}

int cli_check_args(const char *verb, int n, int min, int max) {
        if (n < min)
                return cli_usage_error(verb, "missing argument");
        if (n > max)
                return cli_usage_error(verb, "too many arguments");
        return 0;
}

void cli_print_version(void) {
        puts(PROG " " PACKAGE_VERSION);
}

void cli_verb_help(const struct cli_verb *verb, FILE *f) {
        fprintf(f, "Usage: " PROG " [GLOBAL OPTIONS] %s%s%s\n\n%s.\n", verb->name, verb->args[0] ? " " : "",
                verb->args, verb->summary);
        if (verb->options)
                fprintf(f, "\nOptions:\n%s", verb->options);
        fputs("\nGlobal options:\n"
              "  --socket=PATH             the agent's socket (default $SNPSEAL_SOCKET or\n"
              "                            " CLI_SOCKET_DEFAULT ")\n"
              "  --json                    machine-readable output\n"
              "  -h, --help                show this help\n"
              "  --version                 show the version\n", f);
}

int cli_common_option(struct cli *cli, const struct cli_verb *verb, int c, char **argv) {
        const char *name = verb ? verb->name : NULL;

        switch (c) {
        case CLI_OPT_SOCKET:
                if (optarg[0] == '\0')
                        return cli_usage_error(name, "--socket= needs a path");
                cli->socket = optarg;
                return CLI_CONTINUE;
        case CLI_OPT_JSON:
                cli->json = true;
                return CLI_CONTINUE;
        case CLI_OPT_VERSION:
                cli_print_version();
                return EXIT_SUCCESS;
        case 'h':
                cli_verb_help(verb, stdout);
                return EXIT_SUCCESS;
        case ':':
                return cli_usage_error(name, "option '%s' needs a value", argv[optind - 1]);
        case '?':
                if (optopt && optopt < 0x100)
                        return cli_usage_error(name, "unknown option '-%c'", optopt);
                return cli_usage_error(name, "unknown option '%s'", argv[optind - 1]);
        default:
                return cli_usage_error(name, "unhandled option %d", c);
        }
}

/* ---- the agent ---- */

static const struct {
        const char *name;
        const char *what;
} agent_errors[] = {
        { "io.snpseal.Agent.NotPermitted",       "not permitted" },
        { "io.snpseal.Agent.InvalidParameter",   "invalid parameter" },
        { "io.snpseal.Agent.IdentityMismatch",   "identity mismatch" },
        { "io.snpseal.Agent.WrongPassword",      "wrong password" },
        { "io.snpseal.Agent.RateLimited",        "too many wrong passwords" },
        { "io.snpseal.Agent.NoSuchSecret",       "no such secret" },
        { "io.snpseal.Agent.StoreFull",          "user secret store full" },
        { "io.snpseal.Agent.FirmwareError",      "firmware error" },
        { "io.snpseal.Agent.DeviceUnavailable",  "SEV-SNP device unavailable" },
        { VARLINK_ERROR_METHOD_NOT_FOUND,        "the agent does not know this method (an older agent?)" },
        { VARLINK_ERROR_INTERFACE_NOT_FOUND,     "the agent does not know this interface" },
        { VARLINK_ERROR_INVALID_PARAMETER,       "the agent refused a parameter" },
        { VARLINK_ERROR_METHOD_NOT_IMPLEMENTED,  "the agent does not implement this method" },
};

int cli_agent_connect(const struct cli *cli, struct varlink_client **ret) {
        int r = varlink_client_connect(cli->socket, CLI_AGENT_TIMEOUT_MS, ret);

        if (r < 0)
                fprintf(stderr, PROG ": cannot reach the snpseal agent at %s: %s (is snpseald.socket running?)\n",
                        cli->socket, strerror(-r));
        return r;
}

/* Print an error reply: "VERB: message", continuation lines indented. The
 * agent's message names the object and the reason; the error's name is
 * the protocol's business and is not shown (only a reply without a
 * message is described by it). */
static void print_agent_error(const char *verb, const char *error, json_object *params) {
        const char *what = error, *msg = cli_json_str(params, "message");
        const char *param = cli_json_str(params, "parameter");

        fprintf(stderr, PROG ": %s: ", verb);
        if (msg && msg[0]) {
                for (const char *p = msg; *p; p++) {
                        fputc(*p, stderr);
                        if (*p == '\n' && p[1])
                                fputs("  ", stderr);
                }
                fputc('\n', stderr);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(agent_errors); i++)
                if (strcmp(error, agent_errors[i].name) == 0)
                        what = agent_errors[i].what;
        fputs(what, stderr);
        if (param)
                fprintf(stderr, " '%s'", param);
        fputc('\n', stderr);
}

int cli_agent_call(const struct cli *cli, struct varlink_client *c, const char *verb, const char *method,
                   json_object *params, json_object **ret_params, const char **ret_error) {
        struct varlink_reply reply = {};
        char name[128];
        int r;

        (void) snprintf(name, sizeof(name), VARLINK_INTERFACE_AGENT ".%s", method);
        r = varlink_client_call(c, name, params, &reply);
        if (r < 0) {
                cli_error(verb, "the snpseal agent at %s did not answer %s: %s", cli->socket, method,
                          strerror(-r));
                return r;
        }
        if (reply.error) {
                print_agent_error(verb, reply.error, reply.parameters);
                if (ret_error) {
                        *ret_error = "unknown";
                        for (size_t i = 0; i < ELEMENTSOF(agent_errors); i++)
                                if (strcmp(reply.error, agent_errors[i].name) == 0)
                                        *ret_error = agent_errors[i].name;
                }
                varlink_reply_done(&reply);
                return -EPROTO;
        }
        if (ret_error)
                *ret_error = NULL;
        *ret_params = TAKE_PTR(reply.parameters);
        varlink_reply_done(&reply);
        return 0;
}

int cli_agent_call1(const struct cli *cli, const char *verb, const char *method, json_object *params,
                    json_object **ret_params) {
        struct varlink_client *c = NULL;
        int r;

        r = cli_agent_connect(cli, &c);
        if (r < 0)
                return r;
        r = cli_agent_call(cli, c, verb, method, params, ret_params, NULL);
        varlink_client_free(c);
        return r;
}

/* ---- input and output ---- */

int cli_read_capped(int fd, size_t max, char **ret_data, size_t *ret_size) {
        _cleanup_secret_ char *buf = NULL;
        size_t n, alloc;
        int r;

        if (!SIZE_ADD_OK(max, 2, &alloc))
                return -EOVERFLOW;
        buf = secret_alloc(alloc);
        if (!buf)
                return -ENOMEM;
        /* One byte more than allowed tells "too large" from "exactly max". */
        r = fileio_read_upto(fd, buf, max + 1, &n);
        if (r < 0)
                return r;
        if (n > max)
                return -EFBIG;
        buf[n] = '\0';
        *ret_data = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int cli_write_all(int fd, const void *buf, size_t size) {
        const char *p = buf;

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

int cli_base64_encode(const void *data, size_t size, char **ret_text) {
        _cleanup_secret_ char *text = NULL;
        size_t len = base64_encoded_len(size);
        int r;

        if (len == SIZE_MAX)
                return -EOVERFLOW;
        text = secret_alloc(len + 1);
        if (!text)
                return -ENOMEM;
        r = base64_encode(data, size, text, len + 1);
        if (r < 0)
                return r;
        *ret_text = TAKE_PTR(text);
        return 0;
}

int cli_base64_decode(const char *text, size_t max, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_secret_ uint8_t *data = NULL;
        size_t len = strlen(text), n;
        int r;

        /* Padding makes the bound up to 2 bytes larger than the data. */
        if (max > SIZE_MAX - 3 || base64_decoded_max(len) > max + 2)
                return -EFBIG;
        data = secret_alloc(max + 3);
        if (!data)
                return -ENOMEM;
        r = base64_decode(text, len, data, max + 2, &n);
        if (r < 0)
                return r == -ENOBUFS ? -EFBIG : r;
        if (n > max)
                return -EFBIG;
        *ret_data = TAKE_PTR(data);
        *ret_size = n;
        return 0;
}

int cli_hex_decode_padded(const char *hex, uint8_t *out, size_t max) {
        size_t len = strlen(hex);

        if (len == 0 || len % 2 != 0 || len / 2 > max)
                return -EINVAL;
        memset(out, 0, max);
        return hex_decode_exact(hex, out, len / 2);
}

/* ---- passwords ---- */

static struct termios tty_saved;
static int tty_fd = -1;

static void tty_restore_on_signal(int sig) {
        if (tty_fd >= 0)
                (void) tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Read one line from the terminal without echo into buf (size bytes incl.
 * the NUL): -E2BIG when longer. The whole line is consumed either way. */
static int tty_read_line(int fd, const char *prompt, char *buf, size_t size, size_t *ret_len) {
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
        struct sigaction sa = { .sa_handler = tty_restore_on_signal }, old[ELEMENTSOF(sigs)];
        struct termios t;
        size_t n = 0;
        bool too_long = false;
        char ch;
        ssize_t k;

        if (tcgetattr(fd, &tty_saved) < 0)
                return -errno;
        t = tty_saved;
        t.c_lflag &= ~(tcflag_t) (ECHO | ECHOE | ECHOK | ECHONL);
        tty_fd = fd;
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                (void) sigaction(sigs[i], &sa, &old[i]);
        /* Echo off (and what was typed before dropped) first, then the
         * prompt: what is typed once the prompt shows is kept. */
        if (tcsetattr(fd, TCSAFLUSH, &t) == 0) {
                (void) cli_write_all(fd, prompt, strlen(prompt));
                while ((k = read(fd, &ch, 1)) == 1 || (k < 0 && errno == EINTR)) {
                        if (k < 0)
                                continue;
                        if (ch == '\n')
                                break;
                        if (n + 1 < size)
                                buf[n++] = ch;
                        else
                                too_long = true;
                }
                ch = 0;
                (void) tcsetattr(fd, TCSAFLUSH, &tty_saved);
        }
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                (void) sigaction(sigs[i], &old[i], NULL);
        tty_fd = -1;
        (void) cli_write_all(fd, "\n", 1);
        buf[n] = '\0';
        if (too_long)
                return -E2BIG;
        *ret_len = n;
        return 0;
}

static int password_from_tty(const char *verb, const char *prompt, bool confirm, char *pw, size_t size,
                             size_t *ret_len) {
        _cleanup_secret_ char *again = NULL;
        _cleanup_(closep) int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        char p1[128], p2[128];
        size_t len, len2;
        int r;

        if (fd < 0) {
                cli_error(verb, "cannot ask for the password: no terminal (%s); use --password-file=FILE",
                          strerror(errno));
                return -ENOTTY;
        }
        (void) snprintf(p1, sizeof(p1), "%s: ", prompt);
        (void) snprintf(p2, sizeof(p2), "%s (again): ", prompt);
        r = tty_read_line(fd, p1, pw, size, &len);
        if (r < 0)
                return cli_error(verb, "the password is too long (at most %u bytes)", SEALED_PASSWORD_MAX), r;
        if (!confirm) {
                *ret_len = len;
                return 0;
        }
        again = secret_alloc(size);
        if (!again)
                return -ENOMEM;
        r = tty_read_line(fd, p2, again, size, &len2);
        if (r < 0 || len != len2 || !ct_memeq(pw, again, len))
                return cli_error(verb, "the passwords do not match"), -EINVAL;
        *ret_len = len;
        return 0;
}

int cli_secret_input(const char *verb, const char *what, const char *prompt, size_t max, char **ret,
                     size_t *ret_size) {
        _cleanup_secret_ char *data = NULL, *again = NULL;
        _cleanup_(closep) int tty = -1;
        char p1[256], p2[256];
        size_t n, n2;
        int r;

        if (!isatty(STDIN_FILENO)) {
                r = cli_read_capped(STDIN_FILENO, max, &data, &n);
                if (r == -EFBIG)
                        return cli_error(verb, "%s is larger than %zu bytes, the most a sealed object holds",
                                         what, max), r;
                if (r < 0)
                        return cli_error(verb, "cannot read %s: %s", what, strerror(-r)), r;
                *ret = TAKE_PTR(data);
                *ret_size = n;
                return 0;
        }
        /* A terminal: typed without echo, asked twice, without the newline. */
        tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        data = secret_alloc(max + 1);
        again = secret_alloc(max + 1);
        if (!data || !again)
                return cli_error(verb, "out of memory"), -ENOMEM;
        (void) snprintf(p1, sizeof(p1), "%s: ", prompt);
        (void) snprintf(p2, sizeof(p2), "%s (again): ", prompt);
        r = tty_read_line(tty >= 0 ? tty : STDIN_FILENO, p1, data, max + 1, &n);
        if (r == -E2BIG)
                return cli_error(verb, "the secret is longer than %zu bytes", max), r;
        if (r < 0)
                return cli_error(verb, "cannot read the secret from the terminal: %s", strerror(-r)), r;
        if (n > 0) {
                r = tty_read_line(tty >= 0 ? tty : STDIN_FILENO, p2, again, max + 1, &n2);
                if (r < 0 || n != n2 || !ct_memeq(data, again, n))
                        return cli_error(verb, "the two entries do not match; nothing sealed"), -EINVAL;
        }
        *ret = TAKE_PTR(data);
        *ret_size = n;
        return 0;
}

/* The first line of file (without its newline). */
static int password_from_file(const char *verb, const char *file, char *pw, size_t size, size_t *ret_len) {
        _cleanup_(closep) int fd = open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        size_t n;
        char *nl;
        int r;

        if (fd < 0) {
                r = -errno;
                cli_error(verb, "cannot open the password file %s: %s", file, strerror(-r));
                return r;
        }
        r = fileio_read_upto(fd, pw, size - 1, &n);
        if (r < 0)
                return cli_error(verb, "cannot read the password file %s: %s", file, strerror(-r)), r;
        pw[n] = '\0';
        nl = memchr(pw, '\n', n);
        if (nl) {
                n = (size_t) (nl - pw);
                secret_wipe(nl, size - 1 - n);
        }
        if (n > SEALED_PASSWORD_MAX)
                return cli_error(verb, "the password in %s is too long (at most %u bytes)", file,
                                 SEALED_PASSWORD_MAX), -E2BIG;
        *ret_len = n;
        return 0;
}

int cli_password_get(const char *verb, const char *file, bool confirm, char **ret_pw, size_t *ret_len) {
        return cli_password_get_prompt(verb, file, "Password", confirm, ret_pw, ret_len);
}

int cli_password_get_prompt(const char *verb, const char *file, const char *prompt, bool confirm, char **ret_pw,
                            size_t *ret_len) {
        /* Room for the longest password, a newline and the NUL. */
        const size_t size = SEALED_PASSWORD_MAX + 2;
        _cleanup_secret_ char *pw = secret_alloc(size);
        size_t len = 0;
        int r;

        if (!pw)
                return cli_error(verb, "out of memory"), -ENOMEM;
        if (file)
                r = password_from_file(verb, file, pw, size, &len);
        else
                r = password_from_tty(verb, prompt, confirm, pw, SEALED_PASSWORD_MAX + 1, &len);
        if (r < 0)
                return r;
        if (len == 0)
                return cli_error(verb, "the password is empty"), -EINVAL;
        *ret_pw = TAKE_PTR(pw);
        *ret_len = len;
        return 0;
}

/* ---- JSON ---- */

int cli_json_refuse(const struct cli *cli, const char *verb, const char *what) {
        if (!cli->json)
                return CLI_CONTINUE;
        return cli_usage_error(verb, "--json: %s writes %s as it is; it has no JSON form", verb, what);
}

int cli_json_print(json_object *o) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!s)
                return -ENOMEM;
        if (puts(s) == EOF || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

const char *cli_json_str(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int cli_json_u64(json_object *o, const char *key, uint64_t *ret) {
        json_object *v;
        int64_t i;

        if (!o || !json_object_object_get_ex(o, key, &v) || !v)
                return -ENOENT;
        if (json_object_is_type(v, json_type_string))
                return parse_u64(json_object_get_string(v), UINT64_MAX, ret);
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        errno = 0;
        i = json_object_get_int64(v);
        if (i < 0 || errno != 0)
                return -EINVAL;
        *ret = (uint64_t) i;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* snpseald's settings: command line, config file, and the credential
 * socket's peer-address parser. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent-config.h"
#include "agent-server.h"
#include "macro.h"

#define ARGS_MAX 8

static int parse_args(struct agent_config *c, const char *const *args, char *err, size_t errlen) {
        char *argv[ARGS_MAX + 2] = { (char *) "snpseald" };
        int argc = 1;

        for (size_t i = 0; i < ARGS_MAX && args[i]; i++)
                argv[argc++] = (char *) args[i];
        return agent_config_parse_argv(c, argc, argv, err, errlen);
}

/* A temporary config file with text; returns its malloc()ed path. */
static char *write_config(const char *text) {
        char *path = strdup("/tmp/test-agent-config.XXXXXX");
        FILE *f;
        int fd;

        assert_non_null(path);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
        assert_int_equal(fclose(f), 0);
        return path;
}

/* Load text as the config file, with extra command-line options first. */
static int load_text(struct agent_config *c, const char *text, const char *const *args,
                     char *err, size_t errlen, char **ret_path) {
        char *path = write_config(text);
        char opt[128];
        const char *argv[ARGS_MAX + 1] = { opt };
        int r;

        snprintf(opt, sizeof(opt), "--config=%s", path);
        for (size_t i = 0; args && args[i] && i + 1 < ARGS_MAX; i++)
                argv[i + 1] = args[i];
        r = parse_args(c, argv, err, errlen);
        assert_int_equal(r, 0);
        r = agent_config_load_file(c, err, errlen);
        (void) unlink(path);
        if (ret_path)
                *ret_path = path;
        else
                free(path);
        return r;
}

static void test_defaults(void **state) {
        struct agent_config c;

        agent_config_init(&c);
        assert_int_equal(c.backend, AGENT_BACKEND_AUTO);
        assert_null(c.device);
        assert_null(c.listen);
        assert_null(c.config_path);
        assert_false(c.stdio);
        assert_int_equal(c.idle_exit_sec, 60);
        assert_int_equal(c.max_message, 65536);
        assert_int_equal(c.max_connections, 64);
        assert_int_equal(c.connection_timeout_sec, 30);
        assert_int_equal(c.ratelimit_attempts, 5);
        assert_int_equal(c.ratelimit_window_sec, 60);
        assert_int_equal(c.vmpl, -1);
        assert_int_equal(c.set_by_argv, 0);
        assert_false(agent_config_is_explicit(&c, AGENT_SETTING_IDLE_EXIT));
        agent_config_done(&c);
}

static void test_argv_every_option(void **state) {
        const char *const args1[] = {
                "--config=/x/snpseald.conf", "--backend=simulator", "--device=/dev/sg",
                "--simulator-state=/s/state.json", "--listen=/run/t/a.sock",
                "--credentials-listen=/run/t/c.sock", "--credstore=/cs", "--stdio", NULL,
        };
        const char *const args3[] = { "--user-store=/us", "--key-cache=0", NULL };
        const char *const args2[] = {
                "--idle-exit=0", "--max-message=1024", "--max-connections=4096",
                "--connection-timeout", "3", "--ratelimit-attempts=2", "--ratelimit-window=0x10",
                "--vmpl=3", NULL,
        };
        struct agent_config c;
        char err[256] = "";

        agent_config_init(&c);
        assert_int_equal(parse_args(&c, args1, err, sizeof(err)), 0);
        assert_int_equal(parse_args(&c, args2, err, sizeof(err)), 0);
        assert_int_equal(parse_args(&c, args3, err, sizeof(err)), 0);
        assert_string_equal(c.config_path, "/x/snpseald.conf");
        assert_int_equal(c.backend, AGENT_BACKEND_SIMULATOR);
        assert_string_equal(c.device, "/dev/sg");
        assert_string_equal(c.simulator_state, "/s/state.json");
        assert_string_equal(c.listen, "/run/t/a.sock");
        assert_string_equal(c.credentials_listen, "/run/t/c.sock");
        assert_string_equal(c.credstore, "/cs");
        assert_string_equal(c.user_store, "/us");
        assert_true(c.stdio);
        assert_int_equal(c.idle_exit_sec, 0);
        assert_int_equal(c.max_message, 1024);
        assert_int_equal(c.max_connections, 4096);
        assert_int_equal(c.connection_timeout_sec, 3);
        assert_int_equal(c.ratelimit_attempts, 2);
        assert_int_equal(c.ratelimit_window_sec, 16);
        assert_int_equal(c.vmpl, 3);
        assert_int_equal(c.key_cache_sec, 0);
        for (int s = 0; s < _AGENT_SETTING_MAX; s++)
                if (s != AGENT_SETTING_ALLOW_WEAK_BINDINGS && s != AGENT_SETTING_ALLOW_TOKENS_WITHOUT_MAC)
                        assert_true(agent_config_is_explicit(&c, (enum agent_setting) s));
        assert_int_equal(c.set_in_file, 0);
        agent_config_done(&c);
}

static void test_argv_backends(void **state) {
        static const struct {
                const char *arg;
                enum agent_backend_kind kind;
        } cases[] = {
                { "--backend=auto", AGENT_BACKEND_AUTO },
                { "--backend=sev-guest", AGENT_BACKEND_SEV_GUEST },
                { "--backend=simulator", AGENT_BACKEND_SIMULATOR },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *const args[] = { cases[i].arg, NULL };
                struct agent_config c;
                char err[256] = "";

                agent_config_init(&c);
                c.backend = AGENT_BACKEND_SIMULATOR + 1;   /* must be overwritten */
                assert_int_equal(parse_args(&c, args, err, sizeof(err)), 0);
                assert_int_equal(c.backend, cases[i].kind);
                agent_config_done(&c);
        }
}

static void test_argv_rejects(void **state) {
        static char long_path[160];
        static const struct {
                const char *args[3];
                const char *message;
        } cases[] = {
                { { "--backend=tpm" }, "invalid value 'tpm' for --backend: expected auto, sev-guest or simulator" },
                { { "--backend=" }, "empty value for --backend" },
                { { "--max-connections=0" }, "invalid value '0' for --max-connections: expected a number from 1 to 4096" },
                { { "--max-connections=abc" }, "invalid value 'abc' for --max-connections" },
                { { "--max-connections=4097" }, "expected a number from 1 to 4096" },
                { { "--max-message=65537" }, "invalid value '65537' for --max-message: expected a number from 1024 to 65536" },
                { { "--max-message=100" }, "expected a number from 1024 to 65536" },
                { { "--connection-timeout=0" }, "for --connection-timeout: expected a number from 1 to 3600" },
                { { "--connection-timeout=" }, "empty value for --connection-timeout" },
                { { "--idle-exit=-1" }, "invalid value '-1' for --idle-exit" },
                { { "--idle-exit=10s" }, "invalid value '10s' for --idle-exit" },
                { { "--ratelimit-attempts=0" }, "for --ratelimit-attempts: expected a number from 1 to 1000" },
                { { "--ratelimit-window=86401" }, "for --ratelimit-window: expected a number from 1 to 86400" },
                { { "--vmpl=4" }, "invalid value '4' for --vmpl: expected a number from 0 to 3" },
                { { "--vmpl=auto" }, "invalid value 'auto' for --vmpl" },
                { { long_path }, "value for --listen is longer than 107 bytes" },
                { { "--frobnicate" }, "unknown option or unexpected value '--frobnicate'" },
                { { "--stdio=yes" }, "unknown option or unexpected value '--stdio=yes'" },
                { { "-x" }, "unknown option or unexpected value '-x'" },
                { { "--listen" }, "option '--listen' requires a value" },
                { { "--stdio", "extra" }, "unexpected argument 'extra'" },
                /* Weakening settings exist only in the administrator's file. */
                { { "--allow-weak-bindings=yes" }, "unknown option or unexpected value '--allow-weak-bindings=yes'" },
                { { "--allow-tokens-without-mac=yes" },
                  "unknown option or unexpected value '--allow-tokens-without-mac=yes'" },
        };

        snprintf(long_path, sizeof(long_path), "--listen=/%0108d", 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct agent_config c;
                char err[256] = "";

                agent_config_init(&c);
                assert_int_equal(parse_args(&c, cases[i].args, err, sizeof(err)), -EINVAL);
                if (!strstr(err, cases[i].message))
                        fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].message);
                agent_config_done(&c);
        }
}

static void test_argv_help_version(void **state) {
        static const char *const cases[] = { "--help", "-h", "--version" };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *const args[] = { cases[i], "--frobnicate", NULL };
                struct agent_config c;
                char err[256] = "";
                int r;

                int saved, devnull;

                /* Keep the help text out of the TAP stream. */
                fflush(stdout);
                saved = dup(STDOUT_FILENO);
                devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                assert_true(saved >= 0 && devnull >= 0);
                assert_int_equal(dup2(devnull, STDOUT_FILENO), STDOUT_FILENO);
                agent_config_init(&c);
                r = parse_args(&c, args, err, sizeof(err));
                fflush(stdout);
                assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
                (void) close(saved);
                (void) close(devnull);
                assert_int_equal(r, 1);
                assert_string_equal(err, "");
                agent_config_done(&c);
        }
}

static void test_file_every_key(void **state) {
        static const char text[] =
                "# snpseald.conf\n"
                "\n"
                "backend = simulator\n"
                "   device=/dev/sg   \n"
                "simulator_state = /var/lib/snpseal/sim state.json\n"
                "\t# indented comment\n"
                "listen = /run/t/a.sock\r\n"
                "credentials_listen = /run/t/c.sock\n"
                "credstore = /etc/cs#not-a-comment\n"
                "user_store = /srv/users\n"
                "idle_exit = 120\n"
                "max_message = 2048\n"
                "max_connections = 8\n"
                "connection_timeout = 5\n"
                "ratelimit_attempts = 3\n"
                "ratelimit_window = 600\n"
                "vmpl = 1\n"
                "key_cache = 3600\n"
                "allow_weak_bindings = yes\n"
                "allow_tokens_without_mac = true\n"
                "max_connections = 9\n";   /* the last one counts */
        struct agent_config c;
        char err[256] = "";

        agent_config_init(&c);
        assert_int_equal(load_text(&c, text, NULL, err, sizeof(err), NULL), 0);
        assert_int_equal(c.backend, AGENT_BACKEND_SIMULATOR);
        assert_string_equal(c.device, "/dev/sg");
        assert_string_equal(c.simulator_state, "/var/lib/snpseal/sim state.json");
        assert_string_equal(c.listen, "/run/t/a.sock");
        assert_string_equal(c.credentials_listen, "/run/t/c.sock");
        assert_string_equal(c.credstore, "/etc/cs#not-a-comment");
        assert_string_equal(c.user_store, "/srv/users");
        assert_int_equal(c.idle_exit_sec, 120);
        assert_int_equal(c.max_message, 2048);
        assert_int_equal(c.max_connections, 9);
        assert_int_equal(c.connection_timeout_sec, 5);
        assert_int_equal(c.ratelimit_attempts, 3);
        assert_int_equal(c.ratelimit_window_sec, 600);
        assert_int_equal(c.vmpl, 1);
        assert_int_equal(c.key_cache_sec, 3600);
        assert_true(c.allow_weak_bindings);
        assert_true(c.allow_tokens_without_mac);
        assert_true(agent_config_is_explicit(&c, AGENT_SETTING_IDLE_EXIT));
        assert_false(agent_config_is_explicit(&c, AGENT_SETTING_STDIO));
        assert_true(c.set_in_file & (UINT64_C(1) << AGENT_SETTING_VMPL));
        assert_false(c.set_by_argv & (UINT64_C(1) << AGENT_SETTING_VMPL));
        agent_config_done(&c);
}

static void test_file_rejects(void **state) {
        static const struct {
                const char *text;
                const char *message;   /* after "PATH:" */
        } cases[] = {
                { "backend = simulator\n\nbakend = auto\n", ":3: unknown setting 'bakend'" },
                { "max-connections = 5\n", ":1: unknown setting 'max-connections'" },
                { "stdio = yes\n", ":1: unknown setting 'stdio'" },
                { "config = /etc/other.conf\n", ":1: unknown setting 'config'" },
                { "# c\nmax_connections = many\n",
                  ":2: invalid value 'many' for max_connections: expected a number from 1 to 4096" },
                { "backend = tpm\n", ":1: invalid value 'tpm' for backend: expected auto, sev-guest or simulator" },
                { "vmpl = 7\n", ":1: invalid value '7' for vmpl: expected a number from 0 to 3" },
                { "listen =\n", ":1: empty value for listen" },
                { "just some words\n", ":1: expected 'key = value'" },
                { "= value\n", ":1: unknown setting ''" },
                { "allow_weak_bindings = maybe\n",
                  ":1: invalid value 'maybe' for allow_weak_bindings: expected yes or no" },
                { "allow_tokens_without_mac =\n", ":1: empty value for allow_tokens_without_mac" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct agent_config c;
                char err[256] = "", expect[320];
                char *path = NULL;

                agent_config_init(&c);
                assert_int_equal(load_text(&c, cases[i].text, NULL, err, sizeof(err), &path), -EINVAL);
                snprintf(expect, sizeof(expect), "%s%s", path, cases[i].message);
                if (strcmp(err, expect) != 0)
                        fail_msg("case %zu: '%s' is not '%s'", i, err, expect);
                free(path);
                agent_config_done(&c);
        }
}

static void test_file_long_line_and_nul(void **state) {
        char *text = malloc(5000);
        struct agent_config c;
        char err[256] = "";

        assert_non_null(text);
        memset(text, 'a', 4999);
        text[4999] = '\0';
        agent_config_init(&c);
        assert_int_equal(load_text(&c, text, NULL, err, sizeof(err), NULL), -EINVAL);
        assert_non_null(strstr(err, ":1: line longer than 4096 bytes"));
        agent_config_done(&c);
        free(text);

        {
                char *path = write_config("backend = auto\nvmpl = 1X\n");
                const char *const args[] = { NULL };
                FILE *f = fopen(path, "r+");

                assert_non_null(f);
                assert_int_equal(fseek(f, 23, SEEK_SET), 0);   /* the X */
                assert_int_equal(fputc('\0', f), 0);
                assert_int_equal(fclose(f), 0);
                agent_config_init(&c);
                assert_int_equal(parse_args(&c, args, err, sizeof(err)), 0);
                c.config_path = path;
                assert_int_equal(agent_config_load_file(&c, err, sizeof(err)), -EINVAL);
                assert_non_null(strstr(err, ":2: NUL byte in line"));
                (void) unlink(path);
                agent_config_done(&c);   /* frees path */
        }
}

static void test_command_line_wins(void **state) {
        static const char text[] =
                "max_connections = 9\n"
                "backend = sev-guest\n"
                "listen = /run/file.sock\n"
                "idle_exit = 5\n";
        const char *const args[] = { "--max-connections=7", "--listen=/run/argv.sock", NULL };
        struct agent_config c;
        char err[256] = "";

        agent_config_init(&c);
        assert_int_equal(load_text(&c, text, args, err, sizeof(err), NULL), 0);
        assert_int_equal(c.max_connections, 7);
        assert_string_equal(c.listen, "/run/argv.sock");
        assert_int_equal(c.backend, AGENT_BACKEND_SEV_GUEST);
        assert_int_equal(c.idle_exit_sec, 5);
        agent_config_done(&c);

        /* A bad value in the file is an error even when the command line
         * overrides that setting: a broken file is never silently used. */
        agent_config_init(&c);
        assert_int_equal(load_text(&c, "max_connections = 0\n", args, err, sizeof(err), NULL), -EINVAL);
        assert_non_null(strstr(err, ":1: invalid value '0' for max_connections"));
        assert_int_equal(c.max_connections, 7);
        agent_config_done(&c);
}

static void test_missing_file(void **state) {
        const char *const explicit_args[] = { "--config=/nonexistent/snpseald.conf", NULL };
        struct agent_config c;
        char err[256] = "";

        /* The default path, missing: fine, defaults stay. */
        agent_config_init(&c);
        c.config_path = strdup("/nonexistent/snpseald.conf");
        assert_non_null(c.config_path);
        assert_int_equal(agent_config_load_file(&c, err, sizeof(err)), 0);
        assert_int_equal(c.max_connections, 64);
        agent_config_done(&c);

        /* Given on the command line, missing: an error. */
        agent_config_init(&c);
        assert_int_equal(parse_args(&c, explicit_args, err, sizeof(err)), 0);
        assert_int_equal(agent_config_load_file(&c, err, sizeof(err)), -ENOENT);
        assert_string_equal(err, "/nonexistent/snpseald.conf: cannot open: No such file or directory");
        agent_config_done(&c);
}

/* ---- the credential socket's peer address ---- */

static socklen_t make_addr(struct sockaddr_un *sa, const char *name, size_t len) {
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        assert_true(len <= sizeof(sa->sun_path));
        memcpy(sa->sun_path, name, len);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
}

#define ABSTRACT(s) { s, sizeof(s) - 1 }

static void test_cred_request_accepts(void **state) {
        static const struct {
                const char *name;
                size_t len;
                const char *unit, *id;
        } cases[] = {
                { "\0" "1f3a9c00d2e4b567/unit/postgresql.service/db", 44, "postgresql.service", "db" },
                { "\0" "0/unit/getty@tty1.service/x.y_z-1+@:", 37, "getty@tty1.service", "x.y_z-1+@:" },
                { "\0" "ab/unit/foo\\x2dbar.service/key", 31, "foo\\x2dbar.service", "key" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct agent_cred_request req;
                struct sockaddr_un sa;
                socklen_t len = make_addr(&sa, cases[i].name, cases[i].len);

                assert_int_equal(agent_cred_request_parse(&sa, len, &req), 0);
                assert_string_equal(req.unit, cases[i].unit);
                assert_string_equal(req.id, cases[i].id);
        }
}

static void test_cred_request_rejects(void **state) {
        static const struct {
                const char *name;
                size_t len;
        } cases[] = {
                { "", 0 },                                               /* unbound */
                ABSTRACT("\0"),
                { "/run/x.sock", 11 },                                   /* a path, not abstract */
                ABSTRACT("\0/unit/a.service/db"),                        /* no random part */
                ABSTRACT("\0" "12345678901234567/unit/a.service/db"),    /* 17 hex digits */
                ABSTRACT("\0" "ABC/unit/a.service/db"),                  /* not lowercase hex */
                ABSTRACT("\0" "abc/units/a.service/db"),
                ABSTRACT("\0" "abc/unit/a.service"),                     /* no id */
                ABSTRACT("\0" "abc/unit//db"),                           /* empty unit */
                ABSTRACT("\0" "abc/unit/a.service/"),                    /* empty id */
                ABSTRACT("\0" "abc/unit/a.service/db/x"),                /* '/' in id */
                ABSTRACT("\0" "abc/unit/a.service/.."),
                ABSTRACT("\0" "abc/unit/a.service/."),
                ABSTRACT("\0" "abc/unit/a.service/d b"),
                ABSTRACT("\0" "abc/unit/a.service/d\nb"),
                ABSTRACT("\0" "abc/unit/a service/db"),
                ABSTRACT("\0" "abc/unit/a.service/d\0b"),                /* NUL inside */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct agent_cred_request req;
                struct sockaddr_un sa;
                socklen_t len = make_addr(&sa, cases[i].name, cases[i].len);

                if (agent_cred_request_parse(&sa, len, &req) != -EBADMSG)
                        fail_msg("case %zu was accepted", i);
        }
}

static void test_cred_request_longest(void **state) {
        struct agent_cred_request req;
        struct sockaddr_un sa;
        char name[sizeof(sa.sun_path)];
        socklen_t len;

        /* The address fills sun_path: an 88-byte id. */
        memcpy(name, "\0abc/unit/a.service/", 20);
        memset(name + 20, 'k', sizeof(name) - 20);
        len = make_addr(&sa, name, sizeof(name));
        assert_int_equal(agent_cred_request_parse(&sa, len, &req), 0);
        assert_int_equal(strlen(req.id), sizeof(name) - 20);
        assert_string_equal(req.unit, "a.service");
        /* A length beyond the structure is refused. */
        assert_int_equal(agent_cred_request_parse(&sa, sizeof(sa) + 1, &req), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_argv_every_option),
                cmocka_unit_test(test_argv_backends),
                cmocka_unit_test(test_argv_rejects),
                cmocka_unit_test(test_argv_help_version),
                cmocka_unit_test(test_file_every_key),
                cmocka_unit_test(test_file_rejects),
                cmocka_unit_test(test_file_long_line_and_nul),
                cmocka_unit_test(test_command_line_wins),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_cred_request_accepts),
                cmocka_unit_test(test_cred_request_rejects),
                cmocka_unit_test(test_cred_request_longest),
        };

        return cmocka_run_group_tests_name("agent-config", tests, NULL, NULL);
}

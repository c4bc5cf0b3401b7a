/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * libcryptsetup-token-snpseal.so: the LUKS2 external token plugin of type
 * "snpseal" (man libcryptsetup-token-snpseal(8), docs/TOKEN-FORMAT.md).
 * A thin client of the agent: the keyslot passphrase is base64(K_use) as the
 * agent's DeriveKey returns it for purpose "luks2".
 *
 * Return codes follow libcryptsetup's token contract and nothing else:
 *   -ENOENT  not for us: bad metadata, unknown version, identity mismatch,
 *            the agent refused;
 *   -EAGAIN  the agent or the device is not available right now;
 *   -ENOANO  a PIN is needed (or cannot be right).
 * Any other errno would stop libcryptsetup from trying the next token or the
 * passphrase. usrptr is never used (systemd passes NULL).
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "base64.h"
#include "binding.h"
#include "conffile.h"
#include "json-util.h"
#include "luks2-mac.h"
#include "luks2-meta.h"
#include "macro.h"
#include "secret.h"
#include "token-json.h"
#include "varlink.h"

#ifndef SNPSEALD_PATH
#error "SNPSEALD_PATH must name the agent binary"
#endif

#define AGENT_SOCKET_DEFAULT "/run/snpseal/agent.sock"
/* Socket activation queues the connection while the agent starts; at boot
 * on a loaded machine (and under emulation) that took more than 30 s. */
#define AGENT_TIMEOUT_MS 90000u
/* How long a --stdio agent may take to exit after its connection closed. */
#define AGENT_REAP_MS 5000u
#define AGENT_METHOD_DERIVE_KEY VARLINK_INTERFACE_AGENT ".DeriveKey"
#define AGENT_ERROR_PREFIX VARLINK_INTERFACE_AGENT "."
#define KEY_LEN 32
#define PIN_MAX 1024
#define ERRBUF_MAX 512
/* LUKS2 volume keys are at most 512 bytes (cryptsetup's LUKS2 limit is 256). */
#define VOLUME_KEY_MAX 512
#define CHANGED " the LUKS2 header changed after enrollment; not unlocking"

_printf_(3, 4)
static void token_log(struct crypt_device *cd, int level, const char *fmt, ...) {
        char buf[1536];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        /* crypt_logf() ends error, verbose and debug messages with a newline
         * itself; normal-level text (luksDump lines) is printed as given. */
        if (level != CRYPT_LOG_NORMAL) {
                size_t n = strlen(buf);
                if (n > 0 && buf[n - 1] == '\n')
                        buf[n - 1] = '\0';
        }
        crypt_logf(cd, level, "%s", buf);
}

/* ---- the token ---- */

/* Parse the token's JSON; 0, or -ENOENT (step aside) with the reason logged. */
static int token_load(struct crypt_device *cd, int token, struct snpseal_token *ret) {
        char errbuf[ERRBUF_MAX] = "";
        const char *json = NULL;
        int r;

        r = crypt_token_json_get(cd, token, &json);
        if (r < 0 || !json) {
                token_log(cd, CRYPT_LOG_DEBUG, "snpseal token %d: cannot read its JSON (%d).", token, r);
                return -ENOENT;
        }
        r = token_json_parse(json, ret, errbuf, sizeof(errbuf));
        if (r == -EPROTONOSUPPORT) {
                token_log(cd, CRYPT_LOG_NORMAL, "snpseal token %d: %s; skipping it.\n", token, errbuf);
                return -ENOENT;
        }
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: invalid metadata: %s; skipping it.\n", token, errbuf);
                return -ENOENT;
        }
        return 0;
}

/* DeriveKey's parameters; the PIN (when given) is wiped with the object. */
static int derive_params(const struct snpseal_token *t, const char *pin, size_t pin_size, json_object **ret) {
        _cleanup_(json_object_put_wipep) json_object *p = json_object_new_object();
        char salt[64];

        if (!p || base64_encode(t->salt, sizeof(t->salt), salt, sizeof(salt)) < 0)
                return -ENOMEM;
        if (json_add(p, "binding", snp_binding_to_json(&t->binding)) < 0 ||
            json_add(p, "salt", json_object_new_string(salt)) < 0 ||
            json_add(p, "purpose", json_object_new_string(SNPSEAL_TOKEN_PURPOSE)) < 0 ||
            json_add(p, "expect", json_object_get(t->identity)) < 0)
                return -ENOMEM;
        if (pin && json_add(p, "pin", json_object_new_string_len(pin, (int) pin_size)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- talking to the agent ---- */

static const char *agent_socket(void) {
        const char *e = secure_getenv("SNPSEAL_SOCKET");

        return e && *e ? e : AGENT_SOCKET_DEFAULT;
}

/* In the child of fork(): only async-signal-safe calls. */
static _Noreturn void agent_exec(int fd, long open_max) {
        char *const argv[] = { (char *) "snpseald", (char *) "--stdio", NULL };
        sigset_t none;

        /* Above 0..2 first, so that dup2() below always clears CLOEXEC. */
        fd = fcntl(fd, F_DUPFD, 3);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
                _exit(127);
        if (close_range(3, ~0u, 0) < 0)
                for (long i = 3; i < open_max; i++)
                        (void) close((int) i);
        (void) sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        execv(SNPSEALD_PATH, argv);
        _exit(127);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        (void) nanosleep(&ts, NULL);
}

/* Wait for the --stdio agent; kill it when it does not exit in time. Returns
 * its wait status, or -1 when it cannot be known. */
static int agent_reap(pid_t pid) {
        int status;

        for (unsigned waited = 0; waited < AGENT_REAP_MS; waited += 5) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid)
                        return status;
                if (w < 0 && errno != EINTR)
                        return -1;
                sleep_ms(5);
        }
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return status;
}

/* What became of the --stdio agent, for the message. */
static void agent_status_text(int status, char *buf, size_t size) {
        if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
                (void) snprintf(buf, size, "; " SNPSEALD_PATH " could not be run");
        else if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
                (void) snprintf(buf, size, "; it exited with status %d (see its messages above)", WEXITSTATUS(status));
        else if (status >= 0 && WIFSIGNALED(status))
                (void) snprintf(buf, size, "; it was killed by signal %d", WTERMSIG(status));
        else
                buf[0] = '\0';
}

/* No agent listens: run "snpseald --stdio" for this one call. */
static int agent_call_stdio(struct crypt_device *cd, int token, json_object *params, struct varlink_reply *ret) {
        long open_max = sysconf(_SC_OPEN_MAX);
        struct varlink_client *c = NULL;
        char why[128] = "";
        int sv[2], r, status;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                r = -errno;
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: cannot run the snpseal agent: %s.\n",
                          token, strerror(-r));
                return -EAGAIN;
        }
        pid = fork();
        if (pid == 0)
                agent_exec(sv[1], open_max > 0 ? open_max : 1024);
        r = pid < 0 ? -errno : 0;
        (void) close(sv[1]);
        if (r < 0)
                (void) close(sv[0]);
        else
                r = varlink_client_new_fd(sv[0], AGENT_TIMEOUT_MS, &c);
        if (r >= 0)
                r = varlink_client_call(c, AGENT_METHOD_DERIVE_KEY, params, ret);
        varlink_client_free(c);
        if (pid > 0) {
                status = agent_reap(pid);
                agent_status_text(status, why, sizeof(why));
        }
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR,
                          "snpseal token %d: no snpseal agent listens at %s, and running " SNPSEALD_PATH
                          " --stdio failed: %s%s.\n", token, agent_socket(), strerror(-r), pid > 0 ? why : "");
                return -EAGAIN;
        }
        return 0;
}

/* DeriveKey through the agent's socket, or a --stdio agent when nobody
 * listens (root only). Transport failures are -EAGAIN, logged. */
static int agent_call(struct crypt_device *cd, int token, json_object *params, struct varlink_reply *ret) {
        const char *path = agent_socket();
        struct varlink_client *c = NULL;
        int r;

        r = varlink_client_connect(path, AGENT_TIMEOUT_MS, &c);
        if (r >= 0) {
                r = varlink_client_call(c, AGENT_METHOD_DERIVE_KEY, params, ret);
                varlink_client_free(c);
                if (r < 0) {
                        token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the snpseal agent at %s did not answer: %s.\n",
                                  token, path, strerror(-r));
                        return -EAGAIN;
                }
                return 0;
        }
        if (r != -ENOENT && r != -ECONNREFUSED) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: cannot reach the snpseal agent at %s: %s.\n",
                          token, path, strerror(-r));
                return -EAGAIN;
        }
        if (geteuid() != 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: no snpseal agent listens at %s (is snpseald.socket "
                          "running?); only root can run one for this request.\n", token, path);
                return -EAGAIN;
        }
        token_log(cd, CRYPT_LOG_DEBUG, "snpseal token %d: no agent at %s, running " SNPSEALD_PATH " --stdio.",
                  token, path);
        return agent_call_stdio(cd, token, params, ret);
}

/* ---- the reply ---- */

/* How each agent error is reported, and what libcryptsetup is told. */
static const struct agent_error {
        const char *name;        /* without the interface prefix */
        int code;
        const char *what;
} agent_errors[] = {
        { "IdentityMismatch",  -ENOENT, "this VM differs from the one the volume was sealed to" },
        { "NotPermitted",      -ENOENT, "the snpseal agent refused" },
        { "InvalidParameter",  -ENOENT, "the snpseal agent rejected the token" },
        { "WrongPassword",     -ENOENT, "wrong password" },
        { "RateLimited",       -EAGAIN, "too many attempts, try again later" },
        { "DeviceUnavailable", -EAGAIN, "the SEV-SNP guest device is not available" },
        { "FirmwareError",     -EAGAIN, "the SEV-SNP firmware failed" },
};

static const struct agent_error *agent_error_find(const char *error) {
        if (strncmp(error, AGENT_ERROR_PREFIX, strlen(AGENT_ERROR_PREFIX)) != 0)
                return NULL;
        error += strlen(AGENT_ERROR_PREFIX);
        for (size_t i = 0; i < ELEMENTSOF(agent_errors); i++)
                if (strcmp(error, agent_errors[i].name) == 0)
                        return &agent_errors[i];
        return NULL;
}

static int reply_error(struct crypt_device *cd, int token, const struct varlink_reply *reply) {
        const struct agent_error *e = agent_error_find(reply->error);
        const char *msg = NULL, *device = crypt_get_device_name(cd);

        if (json_get_string(reply->parameters, "message", &msg) < 0)
                msg = NULL;
        if (!e) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the snpseal agent answered %.100s%s%s.\n",
                          token, reply->error, msg ? ": " : "", msg ?: "");
                return -ENOENT;
        }
        if (strcmp(e->name, "IdentityMismatch") == 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: %s:\n%s\nUnlock with a passphrase or the recovery "
                          "key, then run: snpseal reseal %s\n", token, e->what, msg ?: "(no details)",
                          device ?: "DEVICE");
                return e->code;
        }
        token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: %s%s%s.\n", token, e->what, msg ? ": " : "", msg ?: "");
        return e->code;
}

/* The key text exactly as the agent sent it: base64 of 32 bytes. */
static int reply_key(struct crypt_device *cd, int token, json_object *params, char **ret, size_t *ret_len) {
        uint8_t key[KEY_LEN + 3];
        const char *b64;
        size_t n = 0, len;
        char *buf;
        int r;

        r = json_get_string(params, "key", &b64);
        len = r >= 0 ? strlen(b64) : 0;
        if (r >= 0 && (len != base64_encoded_len(KEY_LEN) || base64_decode(b64, len, key, sizeof(key), &n) < 0 ||
                       n != KEY_LEN))
                r = -EBADMSG;
        secret_wipe(key, sizeof(key));
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the snpseal agent's reply carries no valid key.\n",
                          token);
                return -EAGAIN;
        }
        buf = secret_alloc(len + 1);
        if (!buf)
                return -EAGAIN;
        memcpy(buf, b64, len);
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* ---- what the administrator allows, and the binding floor ---- */

static void policy_get(struct crypt_device *cd, int token, struct snpseal_policy *ret) {
        char errbuf[ERRBUF_MAX] = "";

        if (snpseal_policy_load(snpseal_policy_path(), ret, errbuf, sizeof(errbuf)) < 0)
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: %s; nothing in it is relaxed.\n", token, errbuf);
}

/* The threat model's floor (docs/BOOT.md): the host writes the token, so a
 * binding that lacks what makes this VM unique never gets a key. */
static int token_check_policy(struct crypt_device *cd, int token, const struct snpseal_token *t,
                              const struct snpseal_policy *policy) {
        char errbuf[ERRBUF_MAX] = "";
        const char *device = crypt_get_device_name(cd);

        if (!policy->allow_weak_bindings && snp_binding_check_floor(&t->binding, errbuf, sizeof(errbuf)) < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: %s; not unlocking (only allow_weak_bindings = "
                          "yes in snpseald.conf allows it).\n", token, errbuf);
                return -ENOENT;
        }
        if (!t->has_mac && !policy->allow_tokens_without_mac) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the token does not authenticate the LUKS2 header "
                          "(enrolled by an older snpseal); not unlocking. Unlock with a passphrase or the recovery "
                          "key, then run: snpseal reseal %s\n", token, device ?: "DEVICE");
                return -ENOENT;
        }
        return 0;
}

/* ---- the header, as libcryptsetup loaded it ---- */

/* The authenticated items of the header in memory: libcryptsetup activates
 * from this copy, not from a re-read of the disk (docs/BOOT.md). */
static int header_load(struct crypt_device *cd, int token, const struct snpseal_token *t, struct luks2_meta *ret) {
        char errbuf[ERRBUF_MAX] = "";
        const char *json = NULL;
        int r;

        r = crypt_dump_json(cd, &json, 0);
        if (r < 0 || !json) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: cannot read the LUKS2 metadata (%d); not "
                          "unlocking.\n", token, r);
                return -ENOENT;
        }
        r = luks2_meta_from_header(json, strlen(json), t->keyslot, ret, errbuf, sizeof(errbuf));
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: unexpected LUKS2 metadata: %s; not unlocking.\n",
                          token, errbuf);
                return -ENOENT;
        }
        return 0;
}

/* "data segment cipher is X, enrolled Y" (recorded, when authentic,
 * against current). */
static void header_diff(const struct luks2_meta *recorded, const struct luks2_meta *m, char *buf, size_t size) {
        if (!recorded || luks2_meta_diff(recorded, m, buf, size) <= 0)
                (void) snprintf(buf, size, "the header's authentication code does not match (the token was "
                                "not enrolled on this header, or token and header were both changed)");
}

static void log_changed(struct crypt_device *cd, int token, const char *what) {
        const char *device = crypt_get_device_name(cd);

        token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: %s:" CHANGED ". If you changed it yourself "
                  "(cryptsetup reencrypt), unlock another way and run: snpseal reseal %s\n", token, what,
                  device ?: "DEVICE");
}

/* Before the agent is asked: only ciphers that encrypt. */
static int header_check_ciphers(struct crypt_device *cd, int token, const struct snpseal_token *t,
                                const struct luks2_meta *m) {
        char errbuf[ERRBUF_MAX] = "", diff[ERRBUF_MAX];

        if (luks2_meta_check_ciphers(m, errbuf, sizeof(errbuf)) >= 0)
                return 0;
        if (t->has_mac && t->header && luks2_meta_diff(t->header, m, diff, sizeof(diff)) > 0)
                log_changed(cd, token, diff);
        else
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: %s; not unlocking.\n", token, errbuf);
        return -ENOENT;
}

/* The header MAC under K_mac: the items now, else why not. */
static int header_check_mac(struct crypt_device *cd, int token, const struct snpseal_token *t,
                            const struct luks2_meta *m, const uint8_t *k_mac) {
        uint8_t mac[LUKS2_MAC_LEN], rec[LUKS2_MAC_LEN];
        char diff[ERRBUF_MAX];

        if (luks2_mac_header(k_mac, m, mac) < 0)
                return -EAGAIN;
        if (luks2_mac_equal(mac, t->header_mac))
                return 0;
        /* Say what changed only when the record itself is authentic. */
        if (luks2_mac_header(k_mac, t->header, rec) >= 0 && luks2_mac_equal(rec, t->header_mac))
                header_diff(t->header, m, diff, sizeof(diff));
        else
                header_diff(NULL, m, diff, sizeof(diff));
        log_changed(cd, token, diff);
        return -ENOENT;
}

/* Open the token's keyslot with the passphrase and check the volume key's
 * MAC: a volume the host formatted has another key. */
static int volume_key_check(struct crypt_device *cd, int token, const struct snpseal_token *t, const char *pass,
                            size_t pass_len, const uint8_t *k_mac) {
        _cleanup_secret_ char *vk = secret_alloc(VOLUME_KEY_MAX);
        uint8_t mac[LUKS2_MAC_LEN];
        size_t vk_size = VOLUME_KEY_MAX;
        int r;

        if (!vk)
                return -EAGAIN;
        r = crypt_volume_key_get(cd, t->keyslot, vk, &vk_size, pass, pass_len);
        if (r == -EPERM) {
                /* It opens nothing: libcryptsetup reports the wrong
                 * passphrase as it would without this check. */
                if (t->pin)
                        token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: wrong PIN (the key derived with it does not "
                                  "open keyslot %d).\n", token, t->keyslot);
                else
                        token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the derived key does not open keyslot %d "
                                  "(enrolled on another chip?).\n", token, t->keyslot);
                return 0;
        }
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: cannot open keyslot %d: %s.\n", token, t->keyslot,
                          strerror(-r));
                return -ENOENT;
        }
        r = luks2_mac_volume_key(k_mac, vk, vk_size, mac);
        if (r < 0)
                return -EAGAIN;
        if (!luks2_mac_equal(mac, t->volume_key_mac)) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the volume key of keyslot %d is not the one "
                          "enrolled: this volume was not enrolled by this VM; not unlocking.\n", token, t->keyslot);
                return -ENOENT;
        }
        return 0;
}

/* K_mac from the agent's reply ("macKey", base64 of 32 bytes). */
static int reply_mac_key(struct crypt_device *cd, int token, json_object *params, uint8_t *ret) {
        uint8_t key[LUKS2_MAC_KEY_LEN + 3];
        const char *b64;
        size_t n = 0;
        int r;

        r = json_get_string(params, "macKey", &b64);
        if (r >= 0 && (strlen(b64) != base64_encoded_len(LUKS2_MAC_KEY_LEN) ||
                       base64_decode(b64, strlen(b64), key, sizeof(key), &n) < 0 || n != LUKS2_MAC_KEY_LEN))
                r = -EBADMSG;
        if (r >= 0)
                memcpy(ret, key, LUKS2_MAC_KEY_LEN);
        secret_wipe(key, sizeof(key));
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: the snpseal agent's reply carries no header MAC "
                          "key (an older agent?).\n", token);
                return -EAGAIN;
        }
        return 0;
}

/* After the agent answered: the header MAC, then the volume key's. */
static int token_verify(struct crypt_device *cd, int token, const struct snpseal_token *t,
                        const struct luks2_meta *m, json_object *params, const char *pass, size_t pass_len) {
        _cleanup_secret_ uint8_t *k_mac = secret_alloc(LUKS2_MAC_KEY_LEN);
        int r;

        if (!t->has_mac)
                return 0;       /* allow_tokens_without_mac */
        if (!k_mac)
                return -EAGAIN;
        r = reply_mac_key(cd, token, params, k_mac);
        if (r >= 0)
                r = header_check_mac(cd, token, t, m, k_mac);
        if (r >= 0)
                r = volume_key_check(cd, token, t, pass, pass_len, k_mac);
        return r;
}

/* ---- opening ---- */

/* Before libcryptsetup asks for a PIN: whether this VM is the one the token
 * was enrolled in at all (a made-up PIN still lets the agent compare the
 * recorded identity; the key it gives is thrown away). A mismatch steps
 * aside with the reason instead of asking for a PIN that cannot help. */
static int token_probe_identity(struct crypt_device *cd, int token, const struct snpseal_token *t) {
        static const char probe[] = "-";
        _cleanup_(json_object_put_wipep) json_object *params = NULL;
        struct varlink_reply reply = { 0 };
        int r;

        if (derive_params(t, probe, sizeof(probe) - 1, &params) < 0)
                return -ENOANO;
        r = agent_call(cd, token, params, &reply);
        if (r >= 0 && reply.error && strcmp(reply.error, AGENT_ERROR_PREFIX "IdentityMismatch") == 0)
                r = reply_error(cd, token, &reply);
        else
                r = -ENOANO;
        varlink_reply_done(&reply);
        return r;
}

static int token_check_pin(struct crypt_device *cd, int token, const struct snpseal_token *t, const char *pin,
                           size_t pin_size) {
        if (t->pin && !pin) {
                token_log(cd, CRYPT_LOG_DEBUG, "snpseal token %d needs a PIN.", token);
                return token_probe_identity(cd, token, t);
        }
        if (t->pin && (pin_size == 0 || pin_size > PIN_MAX || memchr(pin, '\0', pin_size))) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token %d: a PIN is 1 to %d bytes without NUL.\n",
                          token, PIN_MAX);
                return -ENOANO;
        }
        return 0;
}

/* Everything that can be checked without the agent. */
static int token_precheck(struct crypt_device *cd, int token, const struct snpseal_token *t, const char *pin,
                          size_t pin_size, struct luks2_meta *ret_meta) {
        struct snpseal_policy policy;
        int r;

        policy_get(cd, token, &policy);
        r = token_check_policy(cd, token, t, &policy);
        if (r >= 0)
                r = header_load(cd, token, t, ret_meta);
        if (r >= 0)
                r = header_check_ciphers(cd, token, t, ret_meta);
        if (r >= 0)
                r = token_check_pin(cd, token, t, pin, pin_size);
        return r;
}

static int token_open_common(struct crypt_device *cd, int token, const char *pin, size_t pin_size,
                             char **buffer, size_t *buffer_len) {
        _cleanup_(json_object_put_wipep) json_object *params = NULL;
        _cleanup_(freep) struct luks2_meta *meta = NULL;
        struct varlink_reply reply = { 0 };
        struct snpseal_token t;
        char *pass = NULL;
        size_t pass_len = 0;
        int r;

        if (!cd || token < 0 || !buffer || !buffer_len)
                return -ENOENT;
        meta = malloc(sizeof(*meta));
        if (!meta)
                return -EAGAIN;
        r = token_load(cd, token, &t);
        if (r < 0)
                return r;
        r = token_precheck(cd, token, &t, pin, pin_size, meta);
        if (r >= 0)
                r = derive_params(&t, t.pin ? pin : NULL, pin_size, &params) < 0 ? -EAGAIN : 0;
        if (r >= 0)
                r = agent_call(cd, token, params, &reply);
        if (r >= 0)
                r = reply.error ? reply_error(cd, token, &reply) : reply_key(cd, token, reply.parameters, &pass,
                                                                             &pass_len);
        if (r >= 0)
                r = token_verify(cd, token, &t, meta, reply.parameters, pass, pass_len);
        varlink_reply_done(&reply);
        token_json_done(&t);
        if (r < 0) {
                secret_free(pass);
                return r;
        }
        *buffer = pass;
        *buffer_len = pass_len;
        return 0;
}

/* ---- the ABI ---- */

/* The exports (the version script lists them); checked against
 * libcryptsetup's typedefs at the end of this file. */
_public_ int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
                                   void *usrptr);
_public_ int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin, size_t pin_size,
                                       char **buffer, size_t *buffer_len, void *usrptr);
_public_ void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len);
_public_ int cryptsetup_token_validate(struct crypt_device *cd, const char *json);
_public_ void cryptsetup_token_dump(struct crypt_device *cd, const char *json);
_public_ const char *cryptsetup_token_version(void);

_public_ int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
                                   void *usrptr) {
        return token_open_common(cd, token, NULL, 0, buffer, buffer_len);
}

_public_ int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin, size_t pin_size,
                                       char **buffer, size_t *buffer_len, void *usrptr) {
        return token_open_common(cd, token, pin, pin_size, buffer, buffer_len);
}

_public_ void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len) {
        secret_free(buffer);
}

_public_ int cryptsetup_token_validate(struct crypt_device *cd, const char *json) {
        char errbuf[ERRBUF_MAX] = "";
        struct snpseal_token t;
        int r;

        r = token_json_parse(json, &t, errbuf, sizeof(errbuf));
        if (r == -EPROTONOSUPPORT) {
                /* Written by a newer snpseal: keep it, open steps aside. */
                token_log(cd, CRYPT_LOG_DEBUG, "snpseal token: %s.", errbuf);
                return 0;
        }
        if (r < 0) {
                token_log(cd, CRYPT_LOG_ERROR, "snpseal token: invalid metadata: %s.\n", errbuf);
                return -EINVAL;
        }
        token_json_done(&t);
        return 0;
}

static void dump_line(void *userdata, const char *text) {
        token_log(userdata, CRYPT_LOG_NORMAL, "%s\n", text);
}

_public_ void cryptsetup_token_dump(struct crypt_device *cd, const char *json) {
        char errbuf[ERRBUF_MAX] = "";
        struct snpseal_token t;
        int r;

        r = token_json_parse(json, &t, errbuf, sizeof(errbuf));
        if (r < 0) {
                token_log(cd, CRYPT_LOG_NORMAL, "\t%s\n", errbuf);
                return;
        }
        (void) token_json_dump(&t, dump_line, cd);
        token_json_done(&t);
}

_public_ const char *cryptsetup_token_version(void) {
        return PACKAGE_VERSION;
}

/* Each export has the type libcryptsetup looks it up as. */
_unused_ static const crypt_token_open_func abi_open = cryptsetup_token_open;
_unused_ static const crypt_token_open_pin_func abi_open_pin = cryptsetup_token_open_pin;
_unused_ static const crypt_token_buffer_free_func abi_buffer_free = cryptsetup_token_buffer_free;
_unused_ static const crypt_token_validate_func abi_validate = cryptsetup_token_validate;
_unused_ static const crypt_token_dump_func abi_dump = cryptsetup_token_dump;
_unused_ static const crypt_token_version_func abi_version = cryptsetup_token_version;

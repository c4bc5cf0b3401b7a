/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snpseald settings: /etc/snpseal/snpseald.conf (key = value lines, '#'
 * comments; see snpseald.conf(5)) overridden by the command line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conffile.h"

enum agent_backend_kind {
        AGENT_BACKEND_AUTO,       /* the real device if present, else an error — never the simulator */
        AGENT_BACKEND_SEV_GUEST,
        AGENT_BACKEND_SIMULATOR,
};

#define AGENT_DEFAULT_CONFIG      SNPSEAL_DEFAULT_CONFIG
#define AGENT_DEFAULT_SOCKET      "/run/snpseal/agent.sock"
#define AGENT_DEFAULT_CRED_SOCKET "/run/snpseal/credentials.sock"
#define AGENT_DEFAULT_CREDSTORE   SNPSEAL_SYSCONFDIR "/snpseal/credstore"
#define AGENT_DEFAULT_USER_STORE  "/var/lib/snpseal/users"
/* Firmware keys are kept 120 s by default: a boot's unlocks wait at most
 * systemd's 90 s device timeout for their devices, so every volume of one
 * boot that shares a binding finds the key (docs/ARCHITECTURE.md). */
#define AGENT_KEY_CACHE_DEFAULT   120u
#define AGENT_KEY_CACHE_MAX       3600u

/* One bit each in set_by_argv / set_in_file (agent-config.c's table). */
enum agent_setting {
        AGENT_SETTING_CONFIG,
        AGENT_SETTING_BACKEND,
        AGENT_SETTING_DEVICE,
        AGENT_SETTING_SIMULATOR_STATE,
        AGENT_SETTING_LISTEN,
        AGENT_SETTING_CREDENTIALS_LISTEN,
        AGENT_SETTING_CREDSTORE,
        AGENT_SETTING_STDIO,
        AGENT_SETTING_IDLE_EXIT,
        AGENT_SETTING_MAX_MESSAGE,
        AGENT_SETTING_MAX_CONNECTIONS,
        AGENT_SETTING_CONNECTION_TIMEOUT,
        AGENT_SETTING_RATELIMIT_ATTEMPTS,
        AGENT_SETTING_RATELIMIT_WINDOW,
        AGENT_SETTING_KEY_CACHE,
        AGENT_SETTING_VMPL,
        AGENT_SETTING_USER_STORE,
        AGENT_SETTING_ALLOW_WEAK_BINDINGS,
        AGENT_SETTING_ALLOW_TOKENS_WITHOUT_MAC,
        _AGENT_SETTING_MAX,
};

struct agent_config {
        char *config_path;
        enum agent_backend_kind backend;
        char *device;                 /* NULL = /dev/sev-guest */
        char *simulator_state;
        char *listen;                 /* varlink socket when not socket-activated */
        char *credentials_listen;     /* credential socket when not socket-activated */
        char *credstore;              /* directory of <id>.sealed */
        char *user_store;             /* directory of <uid>/<name>.sealed; NULL = AGENT_DEFAULT_USER_STORE */
        bool stdio;                   /* serve one connection on stdin/stdout */
        unsigned idle_exit_sec;       /* 0 = never (only honoured when socket-activated or --idle-exit given) */
        unsigned max_message;         /* bytes incl. NUL, <= VARLINK_MESSAGE_MAX; default 65536 */
        unsigned max_connections;     /* default 64 */
        unsigned connection_timeout_sec; /* idle per connection; default 30 */
        unsigned ratelimit_attempts;  /* wrong passwords per window and uid; default 5 */
        unsigned ratelimit_window_sec; /* default 60 */
        unsigned key_cache_sec;       /* firmware keys kept this long; 0 = not kept */
        int vmpl;                     /* own VMPL; -1 = detect */
        bool allow_weak_bindings;     /* file only: keys below the binding floor (binding.h) */
        bool allow_tokens_without_mac; /* file only: read by the token plugin, accepted here */
        uint64_t set_by_argv;         /* bit per setting given on the command line (agent-config.c) */
        uint64_t set_in_file;         /* bit per setting given in the config file */
};

void agent_config_init(struct agent_config *c);
void agent_config_done(struct agent_config *c);
/* Parse argv into c (getopt_long, table-driven). Options given on the command
 * line are remembered so a later config file does not override them.
 * Returns 0, 1 when --help/--version was handled, -EINVAL with errbuf. */
int agent_config_parse_argv(struct agent_config *c, int argc, char **argv, char *errbuf, size_t errlen);
/* Load c->config_path (missing file is fine unless it was given explicitly).
 * Unknown keys and bad values: -EINVAL with "FILE:LINE: …" in errbuf. */
int agent_config_load_file(struct agent_config *c, char *errbuf, size_t errlen);
/* Whether s was given on the command line or in the config file (rather
 * than left at its default). */
bool agent_config_is_explicit(const struct agent_config *c, enum agent_setting s);

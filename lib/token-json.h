/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The snpseal LUKS2 token (type "snpseal"), documented in
 * docs/TOKEN-FORMAT.md:
 *
 *   { "type": "snpseal", "keyslots": ["1"],
 *     "snpseal_version": 1,
 *     "snpseal_binding": { "root_key": "vcek", "fields": [...], "vmpl": 0,
 *                          "guest_svn": 1, "tcb_version": "03000000000008d1" },
 *     "snpseal_salt": "<base64, 32 bytes>",
 *     "snpseal_pin": false,
 *     "snpseal_identity": { "measurement": "…", "policy": "0x30000", … },
 *     "snpseal_header": { "segment.0.encryption": "aes-xts-plain64", … },
 *     "snpseal_header_mac": "<base64, 32 bytes>",
 *     "snpseal_volume_key_mac": "<base64, 32 bytes>" }
 *
 * The last three (header authentication, luks2-meta.h and luks2-mac.h) are
 * written together or not at all: tokens of snpseal before 0.2 lack them.
 *
 * The keyslot's passphrase is base64(K_use), K_use = HKDF(salt, K_fw [|| pin],
 * "snpseal/v1/luks2" [|| "/pin"]) — exactly what the agent's DeriveKey returns
 * for purpose "luks2". Unknown fields are ignored (forward compatibility); an
 * unknown snpseal_version makes the plugin step aside.
 *
 * Used by the token plugin and the CLI: json-c only, no OpenSSL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "binding.h"
#include "luks2-meta.h"

#define SNPSEAL_TOKEN_MAC_LEN 32

#define SNPSEAL_TOKEN_TYPE     "snpseal"
#define SNPSEAL_TOKEN_VERSION  1
#define SNPSEAL_TOKEN_PURPOSE  "luks2"
#define SNPSEAL_TOKEN_SALT_LEN 32
#define SNPSEAL_TOKEN_JSON_MAX (16u * 1024u)

struct snpseal_token {
        unsigned version;
        struct snp_binding binding;
        uint8_t salt[SNPSEAL_TOKEN_SALT_LEN];
        bool pin;
        json_object *identity;      /* recorded identity (owned), never NULL after parse */
        int keyslot;                /* the first keyslot listed, -1 when none */
        bool has_mac;               /* the header authentication fields are present */
        struct luks2_meta *header;  /* the recorded header items (owned), NULL without MAC */
        uint8_t header_mac[SNPSEAL_TOKEN_MAC_LEN];
        uint8_t volume_key_mac[SNPSEAL_TOKEN_MAC_LEN];
};

/* Parse and validate a token's JSON text (as libcryptsetup hands it over).
 * -EINVAL with errbuf for anything malformed (wrong type field, missing or
 * mistyped fields, bad base64, out-of-range numbers, keyslots not a list of
 * decimal strings); -EPROTONOSUPPORT for an unknown snpseal_version.
 * Unknown keys are ignored. */
int token_json_parse(const char *json, struct snpseal_token *ret, char *errbuf, size_t errlen);
void token_json_done(struct snpseal_token *t);

/* Build the token JSON for keyslot (malloc()ed text). */
int token_json_build(const struct snpseal_token *t, int keyslot, char **ret_json);

/* A readable multi-line description (binding, decoded TCB, recorded
 * measurement and policy, PIN), each line "\tname: value", as luksDump
 * prints token details. Calls line() once per line. */
int token_json_dump(const struct snpseal_token *t, void (*line)(void *userdata, const char *text),
                    void *userdata);

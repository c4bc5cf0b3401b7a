/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/luks2-meta.c and lib/luks2-mac.c (LUKS2 header authentication, issue
 * 10) and the header fields of the token (lib/token-json.c): the items taken
 * from real crypt_dump_json() metadata, the reject table with its messages,
 * the canonical encoding and both MACs as known answers, the record round
 * trip, the cipher allowlist, and the messages that say what changed.
 *
 * The real fixtures are `cryptsetup luksDump --dump-json-metadata` of images
 * made by cryptsetup 2.6.1 (Debian 12):
 *   header_default:      cryptsetup luksFormat --type luks2 --iter-time 100
 *   header_two_keyslots: luksFormat (defaults), luksAddKey --pbkdf pbkdf2
 *                        --pbkdf-force-iterations 1000, token import of
 *                        {"type":"snpseal","keyslots":["1"],...}
 * The others are written by hand after them (dm-integrity and a reencryption
 * cannot be set up without device-mapper). The MAC known answers were
 * computed independently: the encoding by a separate script, the MAC by
 *   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f FILE
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "hexutil.h"
#include "json-util.h"
#include "luks2-mac.h"
#include "luks2-meta.h"
#include "macro.h"
#include "token-json.h"

/* ---- fixtures ---- */

/* cryptsetup luksFormat --type luks2 --iter-time 100 (cryptsetup 2.6.1) */
static const char header_default[] =
        "{\n"
        "  \"keyslots\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"luks2\",\n"
        "      \"key_size\":64,\n"
        "      \"af\":{\n"
        "        \"type\":\"luks1\",\n"
        "        \"stripes\":4000,\n"
        "        \"hash\":\"sha256\"\n"
        "      },\n"
        "      \"area\":{\n"
        "        \"type\":\"raw\",\n"
        "        \"offset\":\"32768\",\n"
        "        \"size\":\"258048\",\n"
        "        \"encryption\":\"aes-xts-plain64\",\n"
        "        \"key_size\":64\n"
        "      },\n"
        "      \"kdf\":{\n"
        "        \"type\":\"argon2id\",\n"
        "        \"time\":4,\n"
        "        \"memory\":65536,\n"
        "        \"cpus\":2,\n"
        "        \"salt\":\"Q0Hg2CdHhQ7CwdBmOGUHP7z71hsRk3UxKRz1d1W45vM=\"\n"
        "      }\n"
        "    }\n"
        "  },\n"
        "  \"tokens\":{\n"
        "  },\n"
        "  \"segments\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"crypt\",\n"
        "      \"offset\":\"16777216\",\n"
        "      \"size\":\"dynamic\",\n"
        "      \"iv_tweak\":\"0\",\n"
        "      \"encryption\":\"aes-xts-plain64\",\n"
        "      \"sector_size\":4096\n"
        "    }\n"
        "  },\n"
        "  \"digests\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"pbkdf2\",\n"
        "      \"keyslots\":[\n"
        "        \"0\"\n"
        "      ],\n"
        "      \"segments\":[\n"
        "        \"0\"\n"
        "      ],\n"
        "      \"hash\":\"sha256\",\n"
        "      \"iterations\":262144,\n"
        "      \"salt\":\"Ykpnv6iI+Qi9EA6HgjT2vszjceELOaNLBXnyTPzlW4M=\",\n"
        "      \"digest\":\"EeS7YAnvhl7SF2XRNyWLHP+WUJfi34TdJOdW2V8gxmU=\"\n"
        "    }\n"
        "  },\n"
        "  \"config\":{\n"
        "    \"json_size\":\"12288\",\n"
        "    \"keyslots_size\":\"16744448\"\n"
        "  }\n"
        "}"
        ;

/* luksFormat with defaults, a second keyslot (1, PBKDF2) and a token for it. */
static const char header_two_keyslots[] =
        "{\n"
        "  \"keyslots\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"luks2\",\n"
        "      \"key_size\":64,\n"
        "      \"af\":{\n"
        "        \"type\":\"luks1\",\n"
        "        \"stripes\":4000,\n"
        "        \"hash\":\"sha256\"\n"
        "      },\n"
        "      \"area\":{\n"
        "        \"type\":\"raw\",\n"
        "        \"offset\":\"32768\",\n"
        "        \"size\":\"258048\",\n"
        "        \"encryption\":\"aes-xts-plain64\",\n"
        "        \"key_size\":64\n"
        "      },\n"
        "      \"kdf\":{\n"
        "        \"type\":\"argon2id\",\n"
        "        \"time\":4,\n"
        "        \"memory\":248065,\n"
        "        \"cpus\":2,\n"
        "        \"salt\":\"D4V3muwWjTILQ9Nx/si2qfXKucgJf4mmTDtkSMU03zs=\"\n"
        "      }\n"
        "    },\n"
        "    \"1\":{\n"
        "      \"type\":\"luks2\",\n"
        "      \"key_size\":64,\n"
        "      \"af\":{\n"
        "        \"type\":\"luks1\",\n"
        "        \"stripes\":4000,\n"
        "        \"hash\":\"sha256\"\n"
        "      },\n"
        "      \"area\":{\n"
        "        \"type\":\"raw\",\n"
        "        \"offset\":\"290816\",\n"
        "        \"size\":\"258048\",\n"
        "        \"encryption\":\"aes-xts-plain64\",\n"
        "        \"key_size\":64\n"
        "      },\n"
        "      \"kdf\":{\n"
        "        \"type\":\"pbkdf2\",\n"
        "        \"hash\":\"sha256\",\n"
        "        \"iterations\":1000,\n"
        "        \"salt\":\"Tv4usf+lEVx3PttSuwNzBnJdSJzSWim5hgsOaDL9sSk=\"\n"
        "      }\n"
        "    }\n"
        "  },\n"
        "  \"tokens\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"snpseal\",\n"
        "      \"keyslots\":[\n"
        "        \"1\"\n"
        "      ],\n"
        "      \"snpseal_version\":1\n"
        "    }\n"
        "  },\n"
        "  \"segments\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"crypt\",\n"
        "      \"offset\":\"16777216\",\n"
        "      \"size\":\"dynamic\",\n"
        "      \"iv_tweak\":\"0\",\n"
        "      \"encryption\":\"aes-xts-plain64\",\n"
        "      \"sector_size\":4096\n"
        "    }\n"
        "  },\n"
        "  \"digests\":{\n"
        "    \"0\":{\n"
        "      \"type\":\"pbkdf2\",\n"
        "      \"keyslots\":[\n"
        "        \"0\",\n"
        "        \"1\"\n"
        "      ],\n"
        "      \"segments\":[\n"
        "        \"0\"\n"
        "      ],\n"
        "      \"hash\":\"sha256\",\n"
        "      \"iterations\":260321,\n"
        "      \"salt\":\"GHjdIGIwsTDv/qefYXO/d6kGL++KKMrlF4Vsk84JIYE=\",\n"
        "      \"digest\":\"5ShdOSmS9Av1i8RCDY7j3vOlmpIfE2Z6qwJMCNraOT4=\"\n"
        "    }\n"
        "  },\n"
        "  \"config\":{\n"
        "    \"json_size\":\"12288\",\n"
        "    \"keyslots_size\":\"16744448\"\n"
        "  }\n"
        "}"
        ;

/* Hand-written after those: the pieces the variants share. */
#define AF "\"af\":{\"type\":\"luks1\",\"stripes\":4000,\"hash\":\"sha256\"}"
#define KDF "\"kdf\":{\"type\":\"pbkdf2\",\"hash\":\"sha256\",\"iterations\":1000," \
        "\"salt\":\"eGsweGwk47xN9IzvndTxZRknPmq8MxoaSYQvJuHSk3Q=\"}"
#define KEYSLOT(id, key_size, offset) \
        "\"" id "\":{\"type\":\"luks2\",\"key_size\":" key_size "," AF ",\"area\":{\"type\":\"raw\"," \
        "\"offset\":\"" offset "\",\"size\":\"258048\",\"encryption\":\"aes-xts-plain64\",\"key_size\":64}," KDF "}"
#define DIGEST(id, keyslots, segments, salt) \
        "\"" id "\":{\"type\":\"pbkdf2\",\"keyslots\":[" keyslots "],\"segments\":[" segments "]," \
        "\"hash\":\"sha256\",\"iterations\":1000,\"salt\":\"" salt "\"," \
        "\"digest\":\"O8zr3Q8b91aa7f87H+L9XKmevLdkLic5bwUSkMWXPRA=\"}"
#define SALT0 "tcSeLoaMwF5L1KoSof7+d1nt+CGEK+Gyxnn94RF/E6M="
#define SALT1 "GHjdIGIwsTDv/qefYXO/d6kGL++KKMrlF4Vsk84JIYE="
#define CONFIG "\"config\":{\"json_size\":\"12288\",\"keyslots_size\":\"16744448\"}"

/* luksFormat --integrity hmac-sha256: a 96-byte key (64 for XTS, 32 for the HMAC). */
static const char header_integrity[] =
        "{\"keyslots\":{" KEYSLOT("0", "96", "32768") "},\"tokens\":{},"
        "\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\","
        "\"encryption\":\"aes-xts-random\",\"sector_size\":4096,\"integrity\":{\"type\":\"hmac(sha256)\","
        "\"journal_encryption\":\"none\",\"journal_integrity\":\"none\"}}},"
        "\"digests\":{" DIGEST("0", "\"0\"", "\"0\"", SALT0) "}," CONFIG "}";

/* luksFormat --cipher aes-gcm-random --integrity aead --key-size 256 */
static const char header_aead[] =
        "{\"keyslots\":{" KEYSLOT("0", "32", "32768") "},\"tokens\":{},"
        "\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\","
        "\"encryption\":\"aes-gcm-random\",\"sector_size\":4096,\"integrity\":{\"type\":\"aead\","
        "\"journal_encryption\":\"none\",\"journal_integrity\":\"none\"}}},"
        "\"digests\":{" DIGEST("0", "\"0\"", "\"0\"", SALT0) "}," CONFIG "}";

/* In the middle of cryptsetup reencrypt: segment 0 under the new key
 * (keyslot 0, digest 0), segment 1 still under the old one (keyslot 1,
 * digest 1), backup segments 2 and 3, the reencrypt keyslot 2. */
static const char header_reencrypt[] =
        "{\"keyslots\":{" KEYSLOT("0", "64", "32768") "," KEYSLOT("1", "64", "290816") ","
        "\"2\":{\"type\":\"reencrypt\",\"key_size\":1,\"area\":{\"type\":\"checksum\",\"offset\":\"548864\","
        "\"size\":\"4096\",\"hash\":\"sha256\",\"sector_size\":4096},\"mode\":\"reencrypt\",\"direction\":\"forward\"}},"
        "\"tokens\":{},"
        "\"segments\":{"
        "\"0\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"8388608\",\"iv_tweak\":\"0\","
        "\"encryption\":\"aes-xts-plain64\",\"sector_size\":4096},"
        "\"1\":{\"type\":\"crypt\",\"offset\":\"25165824\",\"size\":\"dynamic\",\"iv_tweak\":\"16384\","
        "\"encryption\":\"aes-xts-plain64\",\"sector_size\":512},"
        "\"2\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\","
        "\"encryption\":\"aes-xts-plain64\",\"sector_size\":4096,\"flags\":[\"backup-final\"]},"
        "\"3\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\","
        "\"encryption\":\"aes-xts-plain64\",\"sector_size\":512,\"flags\":[\"backup-previous\"]}},"
        "\"digests\":{" DIGEST("0", "\"0\"", "\"0\",\"2\"", SALT0) "," DIGEST("1", "\"1\"", "\"1\",\"3\"", SALT1) "},"
        "\"config\":{\"json_size\":\"12288\",\"keyslots_size\":\"16744448\","
        "\"requirements\":{\"mandatory\":[\"online-reencrypt-v2\"]}}}";

/* The MAC key of the known answers: 0x00..0x1f. */
static const uint8_t mac_key[LUKS2_MAC_KEY_LEN] = {
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* ---- helpers ---- */

static struct luks2_meta *meta_new(void) {
        struct luks2_meta *m = calloc(1, sizeof(*m));

        assert_non_null(m);
        return m;
}

/* The items of json for keyslot; the test fails with the message otherwise. */
static struct luks2_meta *meta_parse(const char *json, int keyslot) {
        struct luks2_meta *m = meta_new();
        char errbuf[512] = "";
        int r = luks2_meta_from_header(json, strlen(json), keyslot, m, errbuf, sizeof(errbuf));

        if (r != 0)
                fail_msg("keyslot %d: %d \"%s\"", keyslot, r, errbuf);
        return m;
}

/* json with the member at path ("segments/0/encryption") set to the JSON
 * text value, or removed when value is NULL. malloc()ed. */
static char *json_with(const char *json, const char *path, const char *value) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(json);
        json_object *parent = o, *v = NULL;
        char key[64];
        const char *p = path, *slash;

        assert_non_null(o);
        while ((slash = strchr(p, '/'))) {
                (void) snprintf(key, sizeof(key), "%.*s", (int) (slash - p), p);
                if (!json_object_object_get_ex(parent, key, &parent))
                        fail_msg("%s: no %s", path, key);
                p = slash + 1;
        }
        if (value) {
                v = json_tokener_parse(value);
                if (!v && strcmp(value, "null") != 0)
                        fail_msg("%s: not JSON: %s", path, value);
                assert_int_equal(json_object_object_add(parent, p, v), 0);
        } else
                json_object_object_del(parent, p);
        return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static struct luks2_meta *meta_parse_with(const char *json, int keyslot, const char *path, const char *value) {
        _cleanup_(freep) char *text = json_with(json, path, value);

        return meta_parse(text, keyslot);
}

/* The items of a record given as JSON text. */
static struct luks2_meta *meta_record(const char *record) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(record);
        struct luks2_meta *m = meta_new();
        char errbuf[512] = "";
        int r;

        assert_non_null(o);
        r = luks2_meta_from_record(o, m, errbuf, sizeof(errbuf));
        if (r != 0)
                fail_msg("record %s: %d \"%s\"", record, r, errbuf);
        return m;
}

static void assert_same_encoding(const struct luks2_meta *a, const struct luks2_meta *b) {
        _cleanup_(freep) uint8_t *ea = NULL, *eb = NULL;
        size_t la = 0, lb = 0;

        assert_int_equal(luks2_meta_encode(a, &ea, &la), 0);
        assert_int_equal(luks2_meta_encode(b, &eb, &lb), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(ea, eb, la);
}

static void assert_mac(const struct luks2_meta *m, const char *hex) {
        uint8_t mac[LUKS2_MAC_LEN], want[LUKS2_MAC_LEN];
        char got[2 * LUKS2_MAC_LEN + 1];

        assert_int_equal(hex_decode_exact(hex, want, sizeof(want)), 0);
        assert_int_equal(luks2_mac_header(mac_key, m, mac), 0);
        hex_encode(mac, sizeof(mac), got);
        assert_string_equal(got, hex);
        assert_true(luks2_mac_equal(mac, want));
}

struct item {
        const char *name, *value;
};

static void assert_items(const struct luks2_meta *m, const struct item *want, size_t n) {
        for (size_t i = 0; i < n && i < m->n; i++) {
                assert_string_equal(m->items[i].name, want[i].name);
                assert_string_equal(m->items[i].value, want[i].value);
        }
        assert_int_equal(m->n, n);
}

/* ---- parsing real metadata ---- */

static void test_default(void **state) {
        static const struct item want[] = {     /* sorted by name */
                { "digest.0.digest",           "EeS7YAnvhl7SF2XRNyWLHP+WUJfi34TdJOdW2V8gxmU=" },
                { "digest.0.hash",             "sha256" },
                { "digest.0.iterations",       "262144" },
                { "digest.0.salt",             "Ykpnv6iI+Qi9EA6HgjT2vszjceELOaNLBXnyTPzlW4M=" },
                { "digest.0.segments",         "0" },
                { "digest.0.type",             "pbkdf2" },
                { "keyslot.0.area.encryption", "aes-xts-plain64" },
                { "keyslot.0.area.key_size",   "64" },
                { "keyslot.0.area.type",       "raw" },
                { "keyslot.0.key_size",        "64" },
                { "keyslot.0.type",            "luks2" },
                { "segment.0.encryption",      "aes-xts-plain64" },
                { "segment.0.iv_tweak",        "0" },
                { "segment.0.offset",          "16777216" },
                { "segment.0.sector_size",     "4096" },
                { "segment.0.size",            "dynamic" },
                { "segment.0.type",            "crypt" },
        };
        _cleanup_(freep) struct luks2_meta *m = meta_parse(header_default, 0);
        _cleanup_(freep) struct luks2_meta *segs = meta_parse(header_default, -1);
        char errbuf[256] = "";

        assert_items(m, want, ELEMENTSOF(want));
        assert_string_equal(luks2_meta_get(m, "segment.0.encryption"), "aes-xts-plain64");
        assert_null(luks2_meta_get(m, "segment.0.integrity.type"));
        assert_null(luks2_meta_get(m, "segment.0"));
        assert_int_equal(luks2_meta_check_ciphers(m, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_check_segments(m, 64, errbuf, sizeof(errbuf)), 0);
        assert_string_equal(errbuf, "");
        /* keyslot < 0: the segments only */
        assert_items(segs, want + 11, 6);
        assert_int_equal(luks2_meta_check_segments(segs, 64, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_check_ciphers(segs, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "the header names no keyslot");
}

static void test_two_keyslots(void **state) {
        static const struct item want[] = {
                { "digest.0.digest",           "5ShdOSmS9Av1i8RCDY7j3vOlmpIfE2Z6qwJMCNraOT4=" },
                { "digest.0.hash",             "sha256" },
                { "digest.0.iterations",       "260321" },
                { "digest.0.salt",             "GHjdIGIwsTDv/qefYXO/d6kGL++KKMrlF4Vsk84JIYE=" },
                { "digest.0.segments",         "0" },
                { "digest.0.type",             "pbkdf2" },
                { "keyslot.1.area.encryption", "aes-xts-plain64" },
                { "keyslot.1.area.key_size",   "64" },
                { "keyslot.1.area.type",       "raw" },
                { "keyslot.1.key_size",        "64" },
                { "keyslot.1.type",            "luks2" },
                { "segment.0.encryption",      "aes-xts-plain64" },
                { "segment.0.iv_tweak",        "0" },
                { "segment.0.offset",          "16777216" },
                { "segment.0.sector_size",     "4096" },
                { "segment.0.size",            "dynamic" },
                { "segment.0.type",            "crypt" },
        };
        _cleanup_(freep) struct luks2_meta *m1 = meta_parse(header_two_keyslots, 1);
        _cleanup_(freep) struct luks2_meta *m0 = meta_parse(header_two_keyslots, 0);
        char errbuf[256] = "";

        /* only the token's keyslot: nothing of keyslot 0, the token or config */
        assert_items(m1, want, ELEMENTSOF(want));
        assert_int_equal(luks2_meta_check_ciphers(m1, errbuf, sizeof(errbuf)), 0);
        assert_non_null(luks2_meta_get(m0, "keyslot.0.type"));
        assert_null(luks2_meta_get(m0, "keyslot.1.type"));
        assert_int_equal(luks2_meta_check_ciphers(m0, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_diff(m0, m1, NULL, 0), 10);
}

/* What a token's MAC does not cover changes legitimately and leaves the
 * items as they were. */
static void test_legitimate_changes(void **state) {
        static const struct {
                const char *path, *value;
        } changes[] = {
                { "keyslots/0", NULL },                           /* luksKillSlot 0 ... */
                { "digests/0/keyslots", "[\"1\"]" },              /* ... and its digest entry */
                { "keyslots/1/kdf/iterations", "2000" },          /* keyslot 1 converted */
                { "keyslots/1/area/offset", "\"548864\"" },       /* area layout */
                { "keyslots/1/af/stripes", "4001" },
                { "keyslots/1/priority", "2" },
                { "keyslots/2", "{\"type\":\"luks2\",\"key_size\":64}" },  /* luksAddKey */
                { "tokens/0", NULL },                             /* token removed ... */
                { "tokens/1", "{\"type\":\"systemd-fido2\",\"keyslots\":[\"0\"]}" },  /* ... another added */
                { "config/label", "\"data\"" },                   /* config --label */
                { "config/subsystem", "\"x\"" },
                { "segments/0/flags", "[]" },
                { "digests/1", "{\"type\":\"pbkdf2\",\"keyslots\":[\"2\"],\"segments\":[\"0\"]}" },
        };
        _cleanup_(freep) struct luks2_meta *before = meta_parse(header_two_keyslots, 1);
        _cleanup_(freep) char *json = strdup(header_two_keyslots);

        assert_non_null(json);
        for (size_t i = 0; i < ELEMENTSOF(changes); i++) {
                char *next = json_with(json, changes[i].path, changes[i].value);
                _cleanup_(freep) struct luks2_meta *after = NULL;

                free(json);
                json = next;
                after = meta_parse(json, 1);
                assert_int_equal(luks2_meta_diff(before, after, NULL, 0), 0);
                assert_same_encoding(before, after);
        }
}

static void test_integrity(void **state) {
        static const struct item want[] = {
                { "segment.0.encryption",                   "aes-xts-random" },
                { "segment.0.integrity.journal_encryption", "none" },
                { "segment.0.integrity.journal_integrity",  "none" },
                { "segment.0.integrity.type",               "hmac(sha256)" },
                { "segment.0.iv_tweak",                     "0" },
                { "segment.0.offset",                       "16777216" },
                { "segment.0.sector_size",                  "4096" },
                { "segment.0.size",                         "dynamic" },
                { "segment.0.type",                         "crypt" },
        };
        _cleanup_(freep) struct luks2_meta *m = meta_parse(header_integrity, 0);
        _cleanup_(freep) struct luks2_meta *segs = meta_parse(header_integrity, -1);
        _cleanup_(freep) struct luks2_meta *aead = meta_parse(header_aead, 0);
        char errbuf[256] = "";

        assert_items(segs, want, ELEMENTSOF(want));
        assert_int_equal(m->n, 6 + 5 + ELEMENTSOF(want));
        assert_string_equal(luks2_meta_get(m, "keyslot.0.key_size"), "96");
        assert_int_equal(luks2_meta_check_ciphers(m, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_check_segments(segs, 96, errbuf, sizeof(errbuf)), 0);

        assert_string_equal(luks2_meta_get(aead, "segment.0.encryption"), "aes-gcm-random");
        assert_string_equal(luks2_meta_get(aead, "segment.0.integrity.type"), "aead");
        assert_string_equal(luks2_meta_get(aead, "keyslot.0.key_size"), "32");
        assert_int_equal(luks2_meta_check_ciphers(aead, errbuf, sizeof(errbuf)), 0);
        assert_string_equal(errbuf, "");

        /* the integrity is part of what is authenticated */
        assert_int_equal(luks2_meta_diff(m, aead, NULL, 0), 3);
}

static void test_reencrypt(void **state) {
        _cleanup_(freep) struct luks2_meta *m0 = meta_parse(header_reencrypt, 0);
        _cleanup_(freep) struct luks2_meta *m1 = meta_parse(header_reencrypt, 1);
        char errbuf[256] = "";

        /* four segments of six items, the keyslot's five, the digest's six */
        assert_int_equal(m0->n, 4 * 6 + 5 + 6);
        assert_string_equal(luks2_meta_get(m0, "digest.0.segments"), "0,2");
        assert_string_equal(luks2_meta_get(m1, "digest.1.segments"), "1,3");
        assert_string_equal(luks2_meta_get(m0, "segment.1.iv_tweak"), "16384");
        assert_string_equal(luks2_meta_get(m0, "segment.3.sector_size"), "512");
        assert_null(luks2_meta_get(m0, "digest.1.segments"));
        assert_null(luks2_meta_get(m0, "keyslot.2.type"));
        assert_int_equal(luks2_meta_check_ciphers(m0, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_check_ciphers(m1, errbuf, sizeof(errbuf)), 0);
        /* the reencrypt keyslot is in no digest */
        assert_int_equal(luks2_meta_from_header(header_reencrypt, strlen(header_reencrypt), 2, m1, errbuf,
                                                sizeof(errbuf)), -EINVAL);
        assert_string_equal(errbuf, "no digest covers keyslot 2");
}

/* Absent and null members add nothing; integers and strings as written. */
static void test_optional_members(void **state) {
        _cleanup_(freep) struct luks2_meta *m = meta_parse(header_default, 0);
        _cleanup_(freep) struct luks2_meta *no_tweak = meta_parse_with(header_default, 0, "segments/0/iv_tweak", NULL);
        _cleanup_(freep) struct luks2_meta *null_tweak = meta_parse_with(header_default, 0, "segments/0/iv_tweak",
                                                                         "null");
        _cleanup_(freep) struct luks2_meta *null_integrity = meta_parse_with(header_default, 0,
                                                                             "segments/0/integrity", "null");
        _cleanup_(freep) struct luks2_meta *big = meta_parse_with(header_default, 0, "digests/0/iterations",
                                                                  "9223372036854775807");
        _cleanup_(freep) struct luks2_meta *empty = meta_parse_with(header_default, 0, "digests/0/segments", "[]");

        assert_int_equal(no_tweak->n, m->n - 1);
        assert_null(luks2_meta_get(no_tweak, "segment.0.iv_tweak"));
        assert_same_encoding(no_tweak, null_tweak);
        assert_same_encoding(m, null_integrity);
        assert_string_equal(luks2_meta_get(big, "digest.0.iterations"), "9223372036854775807");
        assert_string_equal(luks2_meta_get(empty, "digest.0.segments"), "");
}

/* ---- malformed metadata ---- */

#define NOT_LUKS2 "not LUKS2 metadata (segments, keyslots, digests)"
#define NOT_STRING_OR_UINT ": not a string or a non-negative integer"

static const struct reject {
        int keyslot;
        const char *path;       /* in header_default; NULL: value is the whole text */
        const char *value;      /* JSON text; NULL: remove */
        const char *message;    /* exactly */
} rejects[] = {
        { 0, NULL,                         "[]",        NOT_LUKS2 },
        { 0, NULL,                         "\"luks2\"", NOT_LUKS2 },
        { 0, NULL,                         "{}",        NOT_LUKS2 },
        { 0, "segments",                   NULL,        NOT_LUKS2 },
        { 0, "segments",                   "[]",        NOT_LUKS2 },
        { 0, "segments",                   "null",      NOT_LUKS2 },
        { 0, "keyslots",                   NULL,        NOT_LUKS2 },
        { 0, "keyslots",                   "[{}]",      NOT_LUKS2 },
        { 0, "digests",                    NULL,        NOT_LUKS2 },
        { 0, "digests",                    "null",      "\"digests\": not an object" },
        { 0, "digests",                    "[]",        "\"digests\": not an object" },
        { 0, "segments",                   "{}",        "the header has no data segment" },
        /* the keyslot */
        { 1, "tokens",                     "{}",        "keyslot 1 does not exist" },
        { 31, "tokens",                    "{}",        "keyslot 31 does not exist" },
        { 0, "keyslots/0",                 "null",      "keyslot 0 does not exist" },
        { 0, "keyslots/0",                 "[]",        "keyslot.0: not an object" },
        { 0, "keyslots/0/area",            NULL,        "keyslot 0 has no area" },
        { 0, "keyslots/0/area",            "null",      "keyslot 0 has no area" },
        { 0, "keyslots/0/area",            "\"raw\"",   "keyslot.0.area: not an object" },
        { 0, "keyslots/0/key_size",        "false",     "keyslot.0.key_size" NOT_STRING_OR_UINT },
        { 0, "keyslots/0/key_size",        "-64",       "keyslot.0.key_size" NOT_STRING_OR_UINT },
        { 0, "keyslots/0/type",            "[\"luks2\"]", "keyslot.0.type" NOT_STRING_OR_UINT },
        { 0, "keyslots/0/area/encryption", "{}",        "keyslot.0.area.encryption" NOT_STRING_OR_UINT },
        { 0, "keyslots/0/area/key_size",   "64.0",      "keyslot.0.area.key_size" NOT_STRING_OR_UINT },
        /* the digest over it: none, two, or not a LUKS2 id */
        { 0, "digests/0/keyslots",         "[]",        "no digest covers keyslot 0" },
        { 0, "digests/0/keyslots",         "[\"1\"]",   "no digest covers keyslot 0" },
        { 0, "digests/0/keyslots",         "[0]",       "no digest covers keyslot 0" },
        { 0, "digests/0/keyslots",         "\"0\"",     "no digest covers keyslot 0" },
        { 0, "digests/0/keyslots",         NULL,        "no digest covers keyslot 0" },
        { 0, "digests/0",                  "[\"0\"]",   "no digest covers keyslot 0" },
        { 0, "digests/0",                  NULL,        "no digest covers keyslot 0" },
        { 0, "digests/1",                  "{\"type\":\"pbkdf2\",\"keyslots\":[\"2\",\"0\"],\"segments\":[]}",
          "keyslot 0 is in two digests" },
        { 0, "digests",                    "{\"x\":{\"type\":\"pbkdf2\",\"keyslots\":[\"0\"],\"segments\":[\"0\"]}}",
          "no digest covers keyslot 0" },
        { 0, "digests",                    "{\"00\":{\"type\":\"pbkdf2\",\"keyslots\":[\"0\"],\"segments\":[\"0\"]}}",
          "no digest covers keyslot 0" },
        { 0, "digests/0/segments",         NULL,        "digest 0 has no segments" },
        { 0, "digests/0/segments",         "null",      "digest 0 has no segments" },
        { 0, "digests/0/segments",         "\"0\"",     "digest.0.segments: not an array" },
        { 0, "digests/0/segments",         "[0]",       "digest.0.segments: not a list of segment ids" },
        { 0, "digests/0/segments",         "[\"a\"]",   "digest.0.segments: not a list of segment ids" },
        { 0, "digests/0/segments",         "[\"0\",\"01\"]", "digest.0.segments: not a list of segment ids" },
        { 0, "digests/0/segments",         "[\"100\"]", "digest.0.segments: not a list of segment ids" },
        { 0, "digests/0/segments",         "[null]",    "digest.0.segments: not a list of segment ids" },
        { 0, "digests/0/salt",             "-1",        "digest.0.salt" NOT_STRING_OR_UINT },
        { 0, "digests/0/iterations",       "1e3",       "digest.0.iterations" NOT_STRING_OR_UINT },
        { 0, "digests/0/digest",           "true",      "digest.0.digest" NOT_STRING_OR_UINT },
        /* segments: numeric ids 0..99 only */
        { 0, "segments/a",                 "{}",        "segment id \"a\" is not a number 0..99" },
        { 0, "segments/00",                "{}",        "segment id \"00\" is not a number 0..99" },
        { 0, "segments/01",                "{}",        "segment id \"01\" is not a number 0..99" },
        { 0, "segments/100",               "{}",        "segment id \"100\" is not a number 0..99" },
        { 0, "segments/-1",                "{}",        "segment id \"-1\" is not a number 0..99" },
        { 0, "segments/",                  "{}",        "segment id \"\" is not a number 0..99" },
        { 0, "segments/1 ",                "{}",        "segment id \"1 \" is not a number 0..99" },
        { 0, "segments/backup-final",      "{}",        "segment id \"backup-f\" is not a number 0..99" },
        { 0, "segments/0",                 "\"crypt\"", "segment.0: not an object" },
        { 0, "segments/0",                 "null",      "segment.0: not an object" },
        { 0, "segments/0/encryption",      "5.5",       "segment.0.encryption" NOT_STRING_OR_UINT },
        { 0, "segments/0/encryption",      "true",      "segment.0.encryption" NOT_STRING_OR_UINT },
        { 0, "segments/0/encryption",      "[]",        "segment.0.encryption" NOT_STRING_OR_UINT },
        { 0, "segments/0/encryption",      "{}",        "segment.0.encryption" NOT_STRING_OR_UINT },
        { 0, "segments/0/type",            "-1",        "segment.0.type" NOT_STRING_OR_UINT },
        { 0, "segments/0/sector_size",     "-4096",     "segment.0.sector_size" NOT_STRING_OR_UINT },
        { 0, "segments/0/offset",          "1.6777216e7", "segment.0.offset" NOT_STRING_OR_UINT },
        { 0, "segments/0/iv_tweak",        "-0.0",      "segment.0.iv_tweak" NOT_STRING_OR_UINT },
        { 0, "segments/0/integrity",       "\"hmac(sha256)\"", "segment.0.integrity: not an object" },
        { 0, "segments/0/integrity",       "{\"type\":1.5}", "segment.0.integrity.type" NOT_STRING_OR_UINT },
        { 0, "segments/0/integrity",       "{\"journal_integrity\":false}",
          "segment.0.integrity.journal_integrity" NOT_STRING_OR_UINT },
        /* the segments are checked even when the keyslot is not wanted */
        { -1, "segments/0/size",           "[]",        "segment.0.size" NOT_STRING_OR_UINT },
        { -1, "segments/x",                "{}",        "segment id \"x\" is not a number 0..99" },
};

static void assert_header_rejected(const char *json, size_t len, int keyslot, const char *message, bool prefix) {
        struct luks2_meta *m = meta_new();
        char errbuf[512] = "";
        int r;

        m->n = 4242;
        r = luks2_meta_from_header(json, len, keyslot, m, errbuf, sizeof(errbuf));
        if (r != -EINVAL || (prefix ? strncmp(errbuf, message, strlen(message)) : strcmp(errbuf, message)) != 0)
                fail_msg("input %.300s keyslot %d\n  got %d \"%s\", expected \"%s\"", json ?: "(null)", keyslot, r,
                         errbuf, message);
        /* ret is written only on success */
        assert_int_equal(m->n, 4242);
        free(m);
}

static void test_rejects(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rejects); i++) {
                const struct reject *x = &rejects[i];
                _cleanup_(freep) char *json = x->path ? json_with(header_default, x->path, x->value) : strdup(x->value);

                assert_non_null(json);
                assert_header_rejected(json, strlen(json), x->keyslot, x->message, false);
        }
}

static void test_rejects_text(void **state) {
        static const char *const bad[] = { "", "{", "{\"segments\":{}", "{} x", "{\"a\":1,}", "nul", "{'a':1}" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_header_rejected(bad[i], strlen(bad[i]), 0, "the LUKS2 metadata is not valid JSON: ", true);
        /* exactly len bytes: a NUL inside or text cut short */
        assert_header_rejected("{}\0{}", 5, 0, "the LUKS2 metadata is not valid JSON: invalid JSON: NUL byte at offset 2",
                               false);
        assert_header_rejected(header_default, strlen(header_default) - 1, 0, "the LUKS2 metadata is not valid JSON: ",
                               true);
        assert_header_rejected(NULL, 0, 0, "no metadata", false);
        /* the size is checked before a byte is read */
        assert_header_rejected(header_default, 4u * 1024u * 1024u + 1u, 0,
                               "the LUKS2 metadata is larger than 4194304 bytes", false);
        /* deeper than the JSON depth limit */
        {
                char deep[128] = "";

                for (size_t i = 0; i < 40; i++)
                        strcat(deep, "[");
                for (size_t i = 0; i < 40; i++)
                        strcat(deep, "]");
                assert_header_rejected(deep, strlen(deep), 0, "the LUKS2 metadata is not valid JSON: ", true);
        }
}

/* LUKS2_META_VALUE_MAX bytes are fine, one more is not. */
static void test_rejects_long_values(void **state) {
        char value[LUKS2_META_VALUE_MAX + 4], text[LUKS2_META_VALUE_MAX + 8];
        _cleanup_(freep) struct luks2_meta *m = NULL;

        memset(value, 'a', sizeof(value));
        value[LUKS2_META_VALUE_MAX] = '\0';
        (void) snprintf(text, sizeof(text), "\"%s\"", value);
        m = meta_parse_with(header_default, 0, "segments/0/encryption", text);
        assert_int_equal(strlen(luks2_meta_get(m, "segment.0.encryption")), LUKS2_META_VALUE_MAX);

        value[LUKS2_META_VALUE_MAX] = 'a';
        value[LUKS2_META_VALUE_MAX + 1] = '\0';
        (void) snprintf(text, sizeof(text), "\"%s\"", value);
        {
                _cleanup_(freep) char *json = json_with(header_default, "segments/0/encryption", text);

                assert_header_rejected(json, strlen(json), 0, "segment.0.encryption: longer than 256 bytes", false);
        }
        {
                _cleanup_(freep) char *json = json_with(header_default, "digests/0/salt", text);

                assert_header_rejected(json, strlen(json), 0, "digest.0.salt: longer than 256 bytes", false);
        }
}

/* A segment list longer than a value may be. */
static void test_rejects_long_segment_list(void **state) {
        char list[512] = "[";
        _cleanup_(freep) char *json = NULL;

        for (unsigned i = 10; i < 96; i++)      /* 86 ids of 2 digits: 257 bytes joined */
                (void) snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%u\"", i > 10 ? "," : "", i);
        strcat(list, "]");
        json = json_with(header_default, "digests/0/segments", list);
        assert_header_rejected(json, strlen(json), 0, "digest.0.segments: not a list of segment ids", false);
}

/* Metadata with n segments of 8 items each. */
static char *header_with_segments(unsigned n) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(header_default);
        json_object *segments = json_object_new_object();

        assert_non_null(o);
        assert_non_null(segments);
        for (unsigned i = 0; i < n; i++) {
                json_object *s = json_tokener_parse("{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\","
                                                    "\"iv_tweak\":\"0\",\"encryption\":\"aes-xts-plain64\","
                                                    "\"sector_size\":4096,\"integrity\":{\"type\":\"aead\","
                                                    "\"journal_encryption\":\"none\"}}");
                char id[16];

                assert_non_null(s);
                (void) snprintf(id, sizeof(id), "%u", i);
                assert_int_equal(json_object_object_add(segments, id, s), 0);
        }
        assert_int_equal(json_object_object_add(o, "segments", segments), 0);
        return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void test_rejects_too_many_items(void **state) {
        _cleanup_(freep) char *eight = header_with_segments(8), *nine = header_with_segments(9);
        _cleanup_(freep) struct luks2_meta *m = meta_parse(eight, -1);

        /* 64 items: the limit */
        assert_int_equal(m->n, LUKS2_META_ITEMS_MAX);
        assert_string_equal(m->items[0].name, "segment.0.encryption");
        assert_string_equal(m->items[63].name, "segment.7.type");
        /* and one more */
        assert_header_rejected(eight, strlen(eight), 0, "more than 64 authenticated header items", false);
        assert_header_rejected(nine, strlen(nine), -1, "more than 64 authenticated header items", false);
}

/* ---- the canonical encoding ---- */

static void test_encode_known_answer(void **state) {
        /* names out of order in the record: the encoding sorts them */
        static const uint8_t want[] = {
                's', 'n', 'p', 's', 'e', 'a', 'l', '-', 'l', 'u', 'k', 's', '2', '-',
                'h', 'e', 'a', 'd', 'e', 'r', '/', 'v', '1', 0x00,
                0x00, 0x00, 0x00, 0x01, 'a',
                0x00, 0x00, 0x00, 0x02, 'x', 'y',
                0x00, 0x00, 0x00, 0x01, 'b',
                0x00, 0x00, 0x00, 0x01, '2',
        };
        _cleanup_(freep) struct luks2_meta *m = meta_record("{\"b\":\"2\",\"a\":\"xy\"}");
        _cleanup_(freep) struct luks2_meta *empty = meta_new();
        _cleanup_(freep) uint8_t *enc = NULL, *enc_empty = NULL;
        size_t len = 0, len_empty = 0;

        assert_int_equal(luks2_meta_encode(m, &enc, &len), 0);
        assert_int_equal(len, sizeof(want));
        assert_memory_equal(enc, want, sizeof(want));
        assert_string_equal(LUKS2_META_TAG, "snpseal-luks2-header/v1");

        /* no items: the tag and its NUL */
        assert_int_equal(luks2_meta_encode(empty, &enc_empty, &len_empty), 0);
        assert_int_equal(len_empty, 24);
        assert_memory_equal(enc_empty, want, 24);
}

/* Where a name ends and its value begins is part of the encoding. */
static void test_encode_unambiguous(void **state) {
        static const char *const records[] = {
                "{\"a\":\"bc\"}",
                "{\"ab\":\"c\"}",
                "{\"a\":\"\",\"bc\":\"\"}",
                "{\"a\":\"b\",\"c\":\"\"}",
                "{\"a\":\"\"}",
                "{}",
        };
        uint8_t *enc[ELEMENTSOF(records)];
        size_t len[ELEMENTSOF(records)];

        for (size_t i = 0; i < ELEMENTSOF(records); i++) {
                _cleanup_(freep) struct luks2_meta *m = meta_record(records[i]);

                assert_int_equal(luks2_meta_encode(m, &enc[i], &len[i]), 0);
                for (size_t j = 0; j < i; j++)
                        assert_false(len[i] == len[j] && memcmp(enc[i], enc[j], len[i]) == 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(records); i++)
                free(enc[i]);
}

/* ---- the token's record ---- */

static void test_record_round_trip(void **state) {
        static const struct {
                const char *json;
                int keyslot;
        } fixtures[] = {
                { header_default, 0 },
                { header_default, -1 },
                { header_two_keyslots, 1 },
                { header_integrity, 0 },
                { header_aead, 0 },
                { header_reencrypt, 0 },
                { header_reencrypt, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                _cleanup_(freep) struct luks2_meta *m = meta_parse(fixtures[i].json, fixtures[i].keyslot);
                _cleanup_(freep) struct luks2_meta *back = meta_new();
                _cleanup_(json_object_putp) json_object *record = luks2_meta_to_record(m);
                _cleanup_(json_object_putp) json_object *reparsed = NULL;
                const char *text;
                char errbuf[256] = "";

                assert_non_null(record);
                /* a flat object of name -> string */
                assert_int_equal(json_object_object_length(record), m->n);
                json_object_object_foreach(record, name, v) {
                        assert_true(json_object_is_type(v, json_type_string));
                        assert_string_equal(json_object_get_string(v), luks2_meta_get(m, name));
                }
                assert_int_equal(luks2_meta_from_record(record, back, errbuf, sizeof(errbuf)), 0);
                assert_int_equal(back->n, m->n);
                assert_same_encoding(m, back);
                assert_int_equal(luks2_meta_diff(m, back, NULL, 0), 0);

                /* and through its text, as the token stores it */
                text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN);
                assert_int_equal(json_parse_bounded(text, strlen(text), JSON_DEPTH_MAX, &reparsed, NULL, 0), 0);
                memset(back, 0, sizeof(*back));
                assert_int_equal(luks2_meta_from_record(reparsed, back, errbuf, sizeof(errbuf)), 0);
                assert_same_encoding(m, back);
        }
}

static void assert_record_rejected(const char *record, const char *message) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(record);
        struct luks2_meta *m = meta_new();
        char errbuf[512] = "";
        int r;

        assert_true(o || strcmp(record, "null") == 0);
        m->n = 4242;
        r = luks2_meta_from_record(o, m, errbuf, sizeof(errbuf));
        if (r != -EINVAL || strcmp(errbuf, message) != 0)
                fail_msg("record %.300s\n  got %d \"%s\", expected \"%s\"", record, r, errbuf, message);
        assert_int_equal(m->n, 4242);
        free(m);
}

#define NOT_NAMES_TO_STRINGS "\"snpseal_header\" must map item names to strings"

static void test_record_rejects(void **state) {
        static const struct {
                const char *record, *message;
        } rejects_[] = {
                { "[]",                               "\"snpseal_header\" must be an object" },
                { "\"segment.0.type\"",               "\"snpseal_header\" must be an object" },
                { "null",                             "\"snpseal_header\" must be an object" },
                { "{\"segment.0.type\":1}",           NOT_NAMES_TO_STRINGS },
                { "{\"segment.0.type\":null}",        NOT_NAMES_TO_STRINGS },
                { "{\"segment.0.type\":[\"crypt\"]}", NOT_NAMES_TO_STRINGS },
                { "{\"segment.0.type\":{}}",          NOT_NAMES_TO_STRINGS },
                { "{\"segment.0.type\":true}",        NOT_NAMES_TO_STRINGS },
                { "{\"a\":\"x\",\"b\":2}",            NOT_NAMES_TO_STRINGS },
                { "{\"\":\"x\"}",                     NOT_NAMES_TO_STRINGS },
                { "{\"Segment.0.type\":\"crypt\"}",   NOT_NAMES_TO_STRINGS },
                { "{\"segment 0\":\"crypt\"}",        NOT_NAMES_TO_STRINGS },
                { "{\"segment-0\":\"crypt\"}",        NOT_NAMES_TO_STRINGS },
                { "{\"segment/0\":\"crypt\"}",        NOT_NAMES_TO_STRINGS },
                { "{\"s\\u00e9gment\":\"crypt\"}",    NOT_NAMES_TO_STRINGS },
        };
        char name[LUKS2_META_NAME_MAX + 2], value[LUKS2_META_VALUE_MAX + 2], record[1024];
        _cleanup_(freep) struct luks2_meta *m = NULL;

        for (size_t i = 0; i < ELEMENTSOF(rejects_); i++)
                assert_record_rejected(rejects_[i].record, rejects_[i].message);

        /* names up to 64 bytes, values up to 256 */
        memset(name, 'n', sizeof(name));
        memset(value, 'v', sizeof(value));
        name[LUKS2_META_NAME_MAX] = value[LUKS2_META_VALUE_MAX] = '\0';
        (void) snprintf(record, sizeof(record), "{\"%s\":\"%s\"}", name, value);
        m = meta_record(record);
        assert_int_equal(m->n, 1);
        name[LUKS2_META_NAME_MAX] = 'n';
        name[LUKS2_META_NAME_MAX + 1] = '\0';
        (void) snprintf(record, sizeof(record), "{\"%s\":\"v\"}", name);
        assert_record_rejected(record, NOT_NAMES_TO_STRINGS);
        value[LUKS2_META_VALUE_MAX] = 'v';
        value[LUKS2_META_VALUE_MAX + 1] = '\0';
        (void) snprintf(record, sizeof(record), "{\"segment.0.encryption\":\"%s\"}", value);
        assert_record_rejected(record, "segment.0.encryption: longer than 256 bytes");
}

static void test_record_items_max(void **state) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_(freep) struct luks2_meta *m = meta_new();
        char errbuf[256] = "", name[32];

        assert_non_null(o);
        /* added in descending order: stored sorted */
        for (unsigned i = LUKS2_META_ITEMS_MAX; i > 0; i--) {
                (void) snprintf(name, sizeof(name), "item.%02u", i - 1);
                assert_int_equal(json_add(o, name, json_object_new_string(name)), 0);
        }
        assert_int_equal(luks2_meta_from_record(o, m, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(m->n, LUKS2_META_ITEMS_MAX);
        for (size_t i = 0; i < m->n; i++) {
                (void) snprintf(name, sizeof(name), "item.%02zu", i);
                assert_string_equal(m->items[i].name, name);
                assert_string_equal(m->items[i].value, name);
        }
        assert_string_equal(luks2_meta_get(m, "item.42"), "item.42");
        assert_null(luks2_meta_get(m, "item.64"));

        assert_int_equal(json_add(o, "item.64", json_object_new_string("x")), 0);
        m->n = 4242;
        assert_int_equal(luks2_meta_from_record(o, m, errbuf, sizeof(errbuf)), -EINVAL);
        assert_string_equal(errbuf, "more than 64 authenticated header items");
        assert_int_equal(m->n, 4242);
}

/* ---- the cipher allowlist ---- */

/* A header of one crypt segment and keyslot 0. NULL members are left out. */
static struct luks2_meta *meta_ciphers(const char *encryption, const char *integrity, const char *key_size,
                                       const char *area_encryption, const char *area_key_size) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        struct luks2_meta *m = meta_new();
        char errbuf[256] = "";
        const struct item items[] = {
                { "segment.0.type",            "crypt" },
                { "segment.0.encryption",      encryption },
                { "segment.0.integrity.type",  integrity },
                { "keyslot.0.type",            "luks2" },
                { "keyslot.0.key_size",        key_size },
                { "keyslot.0.area.encryption", area_encryption },
                { "keyslot.0.area.key_size",   area_key_size },
        };

        assert_non_null(o);
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                if (items[i].value)
                        assert_int_equal(json_add(o, items[i].name, json_object_new_string(items[i].value)), 0);
        assert_int_equal(luks2_meta_from_record(o, m, errbuf, sizeof(errbuf)), 0);
        return m;
}

#define XTS "aes-xts-plain64"

static const struct cipher_case {
        const char *encryption, *integrity, *key_size, *area_encryption, *area_key_size;
        const char *message;    /* NULL: accepted */
} cipher_cases[] = {
        /* accepted */
        { XTS,                          NULL,           "64", XTS, "64", NULL },
        { XTS,                          NULL,           "32", XTS, "32", NULL },
        { XTS,                          "none",         "64", XTS, "64", NULL },
        { "aes-xts-plain",              NULL,           "64", XTS, "64", NULL },
        { "aes-xts-plain64be",          NULL,           "64", XTS, "64", NULL },
        { "aes-xts-essiv:sha256",       NULL,           "64", XTS, "64", NULL },
        { "serpent-xts-plain64",        NULL,           "64", XTS, "64", NULL },
        { "twofish-xts-plain64",        NULL,           "32", XTS, "64", NULL },
        { "camellia-xts-plain64",       NULL,           "64", XTS, "64", NULL },
        { "sm4-xts-plain64",            NULL,           "32", XTS, "64", NULL },
        { "aes-cbc-essiv:sha256",       NULL,           "16", XTS, "64", NULL },
        { "aes-cbc-essiv:sha256",       NULL,           "24", XTS, "64", NULL },
        { "aes-cbc-essiv:sha256",       NULL,           "32", "aes-cbc-essiv:sha256", "32", NULL },
        { "xchacha12,aes-adiantum-plain64", NULL,       "32", XTS, "64", NULL },
        { "xchacha20,aes-adiantum-plain64", NULL,       "32", XTS, "64", NULL },
        { "aes-xts-random",             "hmac(sha256)", "96", XTS, "64", NULL },
        { "aes-xts-random",             "hmac(sha256)", "64", XTS, "64", NULL },
        { "aes-xts-plain64",            "hmac(sha512)", "128", XTS, "64", NULL },
        { "aes-cbc-random",             "hmac(sha256)", "64", XTS, "64", NULL },
        { "aes-gcm-random",             "aead",         "32", XTS, "64", NULL },
        { "aes-gcm-random",             "aead",         "16", XTS, "64", NULL },
        { "aes-ccm-random",             "aead",         "35", XTS, "64", NULL },
        { "chacha20-random",            "poly1305",     "32", XTS, "64", NULL },
        { "chacha20-plain64",           "poly1305",     "32", XTS, "64", NULL },
        { "aegis128-random",            "aead",         "16", XTS, "64", NULL },
        { "aegis256-random",            "aead",         "32", XTS, "64", NULL },
        /* no encryption, ECB */
        { "cipher_null-ecb",            NULL,           "64", XTS, "64",
          "data segment cipher cipher_null-ecb is not allowed: no encryption" },
        { "cipher_null",                NULL,           "64", XTS, "64",
          "data segment cipher cipher_null is not allowed: no encryption" },
        { "null",                       NULL,           "64", XTS, "64",
          "data segment cipher null is not allowed: no encryption" },
        { "cipher_null-ecb",            "none",         "64", XTS, "64",
          "data segment cipher cipher_null-ecb is not allowed: no encryption" },
        { "aes-ecb",                    NULL,           "32", XTS, "64",
          "data segment cipher aes-ecb is not allowed: ECB shows which blocks are equal" },
        { "serpent-ecb",                NULL,           "32", XTS, "64",
          "data segment cipher serpent-ecb is not allowed: ECB shows which blocks are equal" },
        { "aes-ecb",                    "hmac(sha256)", "64", XTS, "64",
          "data segment cipher aes-ecb with integrity hmac(sha256) is not allowed: ECB shows which blocks are equal" },
        /* key sizes */
        { XTS,                          NULL,           "48", XTS, "64",
          "data segment cipher aes-xts-plain64 with a 384-bit key is not allowed: not a key size for it" },
        { XTS,                          NULL,           "16", XTS, "64",
          "data segment cipher aes-xts-plain64 with a 128-bit key is not allowed: not a key size for it" },
        { XTS,                          NULL,           "128", XTS, "64",
          "data segment cipher aes-xts-plain64 with a 1024-bit key is not allowed: not a key size for it" },
        { "aes-cbc-essiv:sha256",       NULL,           "64", XTS, "64",
          "data segment cipher aes-cbc-essiv:sha256 with a 512-bit key is not allowed: not a key size for it" },
        { "xchacha12,aes-adiantum-plain64", NULL,       "64", XTS, "64",
          "data segment cipher xchacha12,aes-adiantum-plain64 with a 512-bit key is not allowed: not a key size "
          "for it" },
        /* the integrity key comes off the top */
        { "aes-xts-random",             "hmac(sha256)", "48", XTS, "64",
          "data segment cipher aes-xts-random with a 128-bit key is not allowed: not a key size for it" },
        { "aes-xts-random",             "hmac(sha256)", "16", XTS, "64",
          "data segment cipher aes-xts-random with a 0-bit key is not allowed: not a key size for it" },
        /* IVs and integrity that go together only */
        { "aes-xts-random",             NULL,           "64", XTS, "64",
          "data segment cipher aes-xts-random is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-xts-random",             "none",         "64", XTS, "64",
          "data segment cipher aes-xts-random is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-gcm-random",             NULL,           "32", XTS, "64",
          "data segment cipher aes-gcm-random is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-gcm-random",             "hmac(sha256)", "64", XTS, "64",
          "data segment cipher aes-gcm-random with integrity hmac(sha256) is not allowed: not a cipher and mode "
          "snpseal accepts" },
        { "aes-xts-plain64",            "aead",         "64", XTS, "64",
          "data segment cipher aes-xts-plain64 with integrity aead is not allowed: not a cipher and mode snpseal "
          "accepts" },
        { "chacha20-random",            NULL,           "32", XTS, "64",
          "data segment cipher chacha20-random is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-xts-random",             "crc32c",       "64", XTS, "64",
          "data segment cipher aes-xts-random with integrity crc32c is not allowed: not a cipher and mode snpseal "
          "accepts" },
        { "aes-cbc-plain64",            NULL,           "32", XTS, "64",
          "data segment cipher aes-cbc-plain64 is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-cbc-plain",              NULL,           "32", XTS, "64",
          "data segment cipher aes-cbc-plain is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-xts-benbi",              NULL,           "64", XTS, "64",
          "data segment cipher aes-xts-benbi is not allowed: not a cipher and mode snpseal accepts" },
        { "sm4-xts-plain",              NULL,           "32", XTS, "64",
          "data segment cipher sm4-xts-plain is not allowed: not a cipher and mode snpseal accepts" },
        /* kernel crypto API names and unknown ciphers */
        { "capi:xts(aes)-plain64",      NULL,           "64", XTS, "64",
          "data segment cipher capi:xts(aes)-plain64 is not allowed: not a cipher and mode snpseal accepts" },
        { "capi:cbc(aes)-essiv:sha256", NULL,           "32", XTS, "64",
          "data segment cipher capi:cbc(aes)-essiv:sha256 is not allowed: not a cipher and mode snpseal accepts" },
        { "des-xts-plain64",            NULL,           "64", XTS, "64",
          "data segment cipher des-xts-plain64 is not allowed: not a cipher and mode snpseal accepts" },
        { "aes",                        NULL,           "64", XTS, "64",
          "data segment cipher aes is not allowed: not a cipher and mode snpseal accepts" },
        { "",                           NULL,           "64", XTS, "64",
          "data segment cipher  is not allowed: not a cipher and mode snpseal accepts" },
        { "AES-XTS-PLAIN64",            NULL,           "64", XTS, "64",
          "data segment cipher AES-XTS-PLAIN64 is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-xts-plain64-",           NULL,           "64", XTS, "64",
          "data segment cipher aes-xts-plain64- is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-xtsplain64",             NULL,           "64", XTS, "64",
          "data segment cipher aes-xtsplain64 is not allowed: not a cipher and mode snpseal accepts" },
        { "aes|serpent-xts-plain64",    NULL,           "64", XTS, "64",
          "data segment cipher aes|serpent-xts-plain64 is not allowed: not a cipher and mode snpseal accepts" },
        { "aes-xts-plain64|plain",      NULL,           "64", XTS, "64",
          "data segment cipher aes-xts-plain64|plain is not allowed: not a cipher and mode snpseal accepts" },
        { NULL,                         NULL,           "64", XTS, "64", "data segment cipher has no cipher" },
        /* the keyslot's size of the volume key */
        { XTS,                          NULL,           NULL, XTS, "64", "keyslot 0 has no key size" },
        { XTS,                          NULL,           "0",  XTS, "64", "keyslot 0 has no key size" },
        { XTS,                          NULL,           "64x", XTS, "64", "keyslot 0 has no key size" },
        { XTS,                          NULL,           "",   XTS, "64", "keyslot 0 has no key size" },
        /* the keyslot area */
        { XTS,                          NULL,           "64", "cipher_null-ecb", "64",
          "keyslot 0 cipher cipher_null-ecb is not allowed: no encryption" },
        { XTS,                          NULL,           "64", "cipher_null-ecb", "0",
          "keyslot 0 cipher cipher_null-ecb is not allowed: no encryption" },
        { XTS,                          NULL,           "64", "aes-ecb", "32",
          "keyslot 0 cipher aes-ecb is not allowed: ECB shows which blocks are equal" },
        { XTS,                          NULL,           "64", XTS, "48",
          "keyslot 0 cipher aes-xts-plain64 with a 384-bit key is not allowed: not a key size for it" },
        { XTS,                          NULL,           "64", "capi:xts(aes)-plain64", "64",
          "keyslot 0 cipher capi:xts(aes)-plain64 is not allowed: not a cipher and mode snpseal accepts" },
        { XTS,                          NULL,           "64", "aes-xts-random", "64",
          "keyslot 0 cipher aes-xts-random is not allowed: not a cipher and mode snpseal accepts" },
        { XTS,                          NULL,           "64", NULL, "64", "keyslot 0 cipher has no cipher" },
        { XTS,                          NULL,           "64", XTS, NULL, "keyslot 0 cipher has no key size" },
        { XTS,                          NULL,           "64", XTS, "64 ", "keyslot 0 cipher has no key size" },
        /* the data segment before the keyslot */
        { "aes-ecb",                    NULL,           "32", "cipher_null-ecb", "0",
          "data segment cipher aes-ecb is not allowed: ECB shows which blocks are equal" },
};

static void test_ciphers(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cipher_cases); i++) {
                const struct cipher_case *c = &cipher_cases[i];
                _cleanup_(freep) struct luks2_meta *m = meta_ciphers(c->encryption, c->integrity, c->key_size,
                                                                     c->area_encryption, c->area_key_size);
                char errbuf[512] = "";
                int r = luks2_meta_check_ciphers(m, errbuf, sizeof(errbuf));

                if (r != (c->message ? -EPERM : 0) || strcmp(errbuf, c->message ?: "") != 0)
                        fail_msg("%s with %s, key %s, keyslot %s %s: got %d \"%s\", expected \"%s\"",
                                 c->encryption ?: "(none)", c->integrity ?: "(none)", c->key_size ?: "(none)",
                                 c->area_encryption ?: "(none)", c->area_key_size ?: "(none)", r, errbuf,
                                 c->message ?: "");
        }
}

/* Every segment, named by its id when there are several: a crypt segment
 * with a cipher on the list, no other type. */
static void test_ciphers_segments(void **state) {
        _cleanup_(freep) struct luks2_meta *two = meta_record(
                "{\"segment.0.type\":\"crypt\",\"segment.0.encryption\":\"aes-xts-plain64\","
                "\"segment.1.type\":\"crypt\",\"segment.1.encryption\":\"aes-ecb\","
                "\"keyslot.0.key_size\":\"64\",\"keyslot.0.area.encryption\":\"aes-xts-plain64\","
                "\"keyslot.0.area.key_size\":\"64\"}");
        _cleanup_(freep) struct luks2_meta *reencrypt = meta_parse_with(header_reencrypt, 0, "segments/3/encryption",
                                                                        "\"cipher_null-ecb\"");
        _cleanup_(freep) struct luks2_meta *default_ = meta_parse(header_default, -1);
        _cleanup_(freep) struct luks2_meta *null_ = meta_parse_with(header_default, -1, "segments/0/encryption",
                                                                    "\"cipher_null-ecb\"");
        _cleanup_(freep) struct luks2_meta *no_encryption = meta_parse_with(header_default, -1,
                                                                            "segments/0/encryption", NULL);
        char errbuf[512] = "";

        assert_int_equal(luks2_meta_check_ciphers(two, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "segment 1 cipher aes-ecb is not allowed: ECB shows which blocks are equal");
        assert_int_equal(luks2_meta_check_ciphers(reencrypt, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "segment 3 cipher cipher_null-ecb is not allowed: no encryption");

        /* before enrolling: the segments for a volume key of the size given */
        assert_int_equal(luks2_meta_check_segments(default_, 64, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_check_segments(default_, 32, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(luks2_meta_check_segments(default_, 48, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "data segment cipher aes-xts-plain64 with a 384-bit key is not allowed: not a "
                            "key size for it");
        assert_int_equal(luks2_meta_check_segments(default_, 0, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "data segment cipher aes-xts-plain64 with a 0-bit key is not allowed: not a key "
                            "size for it");
        assert_int_equal(luks2_meta_check_segments(null_, 64, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "data segment cipher cipher_null-ecb is not allowed: no encryption");
        assert_int_equal(luks2_meta_check_segments(no_encryption, 64, errbuf, sizeof(errbuf)), -EPERM);
        assert_string_equal(errbuf, "data segment cipher has no cipher");

        /* only crypt segments encrypt: cryptsetup 2.6.1 loads a header whose
         * data segment is "linear" and reports its cipher as cipher_null-ecb */
        {
                _cleanup_(freep) char *a = json_with(header_default, "segments/0/type", "\"linear\"");
                _cleanup_(freep) char *linear = json_with(a, "segments/0/encryption", NULL);
                _cleanup_(freep) struct luks2_meta *l = meta_parse(linear, 0);
                _cleanup_(freep) struct luks2_meta *l_segs = meta_parse(linear, -1);
                _cleanup_(freep) struct luks2_meta *opal = meta_parse_with(header_default, 0, "segments/0/type",
                                                                           "\"hw-opal\"");
                _cleanup_(freep) struct luks2_meta *re = meta_parse_with(header_reencrypt, 0, "segments/3/type",
                                                                         "\"linear\"");

                assert_int_equal(luks2_meta_check_ciphers(l, errbuf, sizeof(errbuf)), -EPERM);
                assert_string_equal(errbuf, "data segment type linear is not allowed: no encryption");
                assert_int_equal(luks2_meta_check_segments(l_segs, 64, errbuf, sizeof(errbuf)), -EPERM);
                assert_string_equal(errbuf, "data segment type linear is not allowed: no encryption");
                assert_int_equal(luks2_meta_check_ciphers(opal, errbuf, sizeof(errbuf)), -EPERM);
                assert_string_equal(errbuf, "data segment type hw-opal is not allowed: no encryption");
                assert_int_equal(luks2_meta_check_ciphers(re, errbuf, sizeof(errbuf)), -EPERM);
                assert_string_equal(errbuf, "segment 3 type linear is not allowed: no encryption");
        }

        /* a short buffer holds the start of the message */
        assert_int_equal(luks2_meta_check_segments(null_, 64, errbuf, 13), -EPERM);
        assert_string_equal(errbuf, "data segment");
        assert_int_equal(luks2_meta_check_segments(null_, 64, NULL, 0), -EPERM);
}

/* ---- what changed ---- */

static const struct diff_case {
        const char *json;
        int keyslot;
        const char *path, *value;       /* the change to the header */
        const char *message;            /* exactly */
} diff_cases[] = {
        /* the attack of issue 10 */
        { header_default, 0, "segments/0/encryption", "\"cipher_null-ecb\"",
          "data segment cipher is cipher_null-ecb, enrolled aes-xts-plain64" },
        { header_default, 0, "segments/0/encryption", "\"aes-ecb\"",
          "data segment cipher is aes-ecb, enrolled aes-xts-plain64" },
        { header_default, 0, "segments/0/sector_size", "512", "data segment sector size is 512, enrolled 4096" },
        { header_default, 0, "segments/0/iv_tweak", "\"8\"", "data segment IV tweak is 8, enrolled 0" },
        { header_default, 0, "segments/0/offset", "\"0\"", "data segment offset is 0, enrolled 16777216" },
        { header_default, 0, "segments/0/size", "\"4096\"", "data segment size is 4096, enrolled dynamic" },
        { header_default, 0, "segments/0/type", "\"linear\"", "data segment type is linear, enrolled crypt" },
        /* items on one side only */
        { header_default, 0, "segments/0/iv_tweak", NULL, "data segment IV tweak is (none), enrolled 0" },
        { header_default, 0, "segments/0/integrity", "{\"type\":\"hmac(sha256)\"}",
          "data segment integrity is hmac(sha256), enrolled (none)" },
        { header_integrity, 0, "segments/0/integrity", "{\"type\":\"hmac(sha256)\",\"journal_encryption\":\"x\"}",
          "data segment integrity journal encryption is x, enrolled none; "
          "data segment integrity journal integrity is (none), enrolled none" },
        /* two segments: named by id */
        { header_reencrypt, 0, "segments/1/encryption", "\"cipher_null-ecb\"",
          "segment 1 cipher is cipher_null-ecb, enrolled aes-xts-plain64" },
        { header_reencrypt, 0, "segments/0/sector_size", "512", "segment 0 sector size is 512, enrolled 4096" },
        { header_reencrypt, 1, "digests/1/segments", "[\"1\"]", "volume key digest (segments) is 1, enrolled 1,3" },
        /* the keyslot */
        { header_two_keyslots, 1, "keyslots/1/area/encryption", "\"cipher_null-ecb\"",
          "keyslot 1 cipher is cipher_null-ecb, enrolled aes-xts-plain64" },
        { header_two_keyslots, 1, "keyslots/1/area/key_size", "32", "keyslot 1 key size is 32, enrolled 64" },
        { header_two_keyslots, 1, "keyslots/1/area/type", "\"none\"", "keyslot 1 area type is none, enrolled raw" },
        { header_two_keyslots, 1, "keyslots/1/key_size", "32", "volume key size is 32, enrolled 64" },
        { header_two_keyslots, 1, "keyslots/1/type", "\"reencrypt\"", "keyslot 1 type is reencrypt, enrolled luks2" },
        /* the digest over it */
        { header_two_keyslots, 1, "digests/0/iterations", "1000",
          "volume key digest (iterations) is 1000, enrolled 260321" },
        { header_default, 0, "digests/0/hash", "\"sha1\"", "volume key digest (hash) is sha1, enrolled sha256" },
        { header_default, 0, "digests/0/salt", "\"AA==\"",
          "volume key digest (salt) is AA==, enrolled Ykpnv6iI+Qi9EA6HgjT2vszjceELOaNLBXnyTPzlW4M=" },
        { header_default, 0, "digests/0/segments", "[\"0\",\"1\"]", "volume key digest (segments) is 0,1, enrolled 0" },
        /* another digest id: every item of both */
        { header_default, 0, "digests", "{\"3\":{\"type\":\"pbkdf2\",\"keyslots\":[\"0\"],\"segments\":[\"0\"]}}",
          "volume key digest (digest) is (none), enrolled EeS7YAnvhl7SF2XRNyWLHP+WUJfi34TdJOdW2V8gxmU=; "
          "volume key digest (hash) is (none), enrolled sha256; "
          "volume key digest (iterations) is (none), enrolled 262144; "
          "volume key digest (salt) is (none), enrolled Ykpnv6iI+Qi9EA6HgjT2vszjceELOaNLBXnyTPzlW4M=; "
          "volume key digest (segments) is (none), enrolled 0; "
          "volume key digest (type) is (none), enrolled pbkdf2; "
          "volume key digest (segments) is 0, enrolled (none); "
          "volume key digest (type) is pbkdf2, enrolled (none)" },
};

static void test_diff(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(diff_cases); i++) {
                const struct diff_case *c = &diff_cases[i];
                _cleanup_(freep) struct luks2_meta *recorded = meta_parse(c->json, c->keyslot);
                _cleanup_(freep) struct luks2_meta *current = meta_parse_with(c->json, c->keyslot, c->path, c->value);
                size_t n = 1;
                char buf[2048];
                int r;

                for (const char *p = c->message; (p = strstr(p, "; ")); p += 2)
                        n++;
                memset(buf, 'x', sizeof(buf));
                r = luks2_meta_diff(recorded, current, buf, sizeof(buf));
                if (r != (int) n || strcmp(buf, c->message) != 0)
                        fail_msg("%s = %s: got %d \"%s\", expected %zu \"%s\"", c->path, c->value ?: "(removed)", r,
                                 buf, n, c->message);
                /* nothing changed: nothing to say */
                memset(buf, 'x', sizeof(buf));
                assert_int_equal(luks2_meta_diff(recorded, recorded, buf, sizeof(buf)), 0);
                assert_string_equal(buf, "");
                assert_int_equal(luks2_meta_diff(current, current, buf, sizeof(buf)), 0);
        }
}

/* Several differences, in the order of the names, joined by "; ". */
static void test_diff_several(void **state) {
        static const char want[] =
                "data segment cipher is cipher_null-ecb, enrolled aes-xts-plain64; "
                "data segment offset is 4096, enrolled 16777216; "
                "data segment sector size is 512, enrolled 4096";
        _cleanup_(freep) char *a = json_with(header_default, "segments/0/sector_size", "512");
        _cleanup_(freep) char *b = json_with(a, "segments/0/encryption", "\"cipher_null-ecb\"");
        _cleanup_(freep) char *c = json_with(b, "segments/0/offset", "\"4096\"");
        _cleanup_(freep) char *d = json_with(header_default, "segments/1",
                                             "{\"type\":\"crypt\",\"encryption\":\"aes-xts-plain64\"}");
        _cleanup_(freep) struct luks2_meta *recorded = meta_parse(header_default, 0);
        _cleanup_(freep) struct luks2_meta *current = meta_parse(c, 0);
        _cleanup_(freep) struct luks2_meta *added = meta_parse(d, 0);
        _cleanup_(freep) struct luks2_meta *empty = meta_new();
        char buf[4096];

        assert_int_equal(luks2_meta_diff(recorded, current, buf, sizeof(buf)), 3);
        assert_string_equal(buf, want);

        /* a segment added: labelled as the header that has it */
        assert_int_equal(luks2_meta_diff(recorded, added, buf, sizeof(buf)), 2);
        assert_string_equal(buf, "segment 1 cipher is aes-xts-plain64, enrolled (none); "
                            "segment 1 type is crypt, enrolled (none)");
        assert_int_equal(luks2_meta_diff(added, recorded, buf, sizeof(buf)), 2);
        assert_string_equal(buf, "segment 1 cipher is (none), enrolled aes-xts-plain64; "
                            "segment 1 type is (none), enrolled crypt");

        /* against nothing: every item */
        assert_int_equal(luks2_meta_diff(recorded, empty, buf, sizeof(buf)), (int) recorded->n);
        assert_non_null(strstr(buf, "data segment cipher is (none), enrolled aes-xts-plain64"));
        assert_non_null(strstr(buf, "keyslot 0 cipher is (none), enrolled aes-xts-plain64"));
        assert_int_equal(luks2_meta_diff(empty, recorded, buf, sizeof(buf)), (int) recorded->n);
        assert_non_null(strstr(buf, "volume key size is 64, enrolled (none)"));
        assert_int_equal(luks2_meta_diff(empty, empty, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
}

/* Names that are not of a header (a record can say anything) are quoted as they are. */
static void test_diff_odd_names(void **state) {
        _cleanup_(freep) struct luks2_meta *recorded = meta_record(
                "{\"zz\":\"1\",\"segment.123.type\":\"crypt\",\"keyslot.0.bogus\":\"1\",\"digest.0\":\"x\","
                "\"segment.0.integrity.bogus\":\"y\",\"keyslot.0.area\":\"z\"}");
        _cleanup_(freep) struct luks2_meta *empty = meta_new();
        char buf[1024];

        assert_int_equal(luks2_meta_diff(recorded, empty, buf, sizeof(buf)), 6);
        assert_string_equal(buf, "volume key digest () is (none), enrolled x; "
                            "keyslot.0.area is (none), enrolled z; "
                            "keyslot.0.bogus is (none), enrolled 1; "
                            "segment.0.integrity.bogus is (none), enrolled y; "
                            "segment.123.type is (none), enrolled crypt; "
                            "zz is (none), enrolled 1");
}

/* Short buffers: always terminated, a prefix of the whole, nothing written past size. */
static void test_diff_truncated(void **state) {
        _cleanup_(freep) char *a = json_with(header_default, "segments/0/sector_size", "512");
        _cleanup_(freep) char *b = json_with(a, "segments/0/encryption", "\"cipher_null-ecb\"");
        _cleanup_(freep) struct luks2_meta *recorded = meta_parse(header_default, 0);
        _cleanup_(freep) struct luks2_meta *current = meta_parse(b, 0);
        char full[1024];
        size_t len;

        assert_int_equal(luks2_meta_diff(recorded, current, full, sizeof(full)), 2);
        len = strlen(full);
        assert_int_equal(len, strlen("data segment cipher is cipher_null-ecb, enrolled aes-xts-plain64; "
                                     "data segment sector size is 512, enrolled 4096"));
        assert_int_equal(luks2_meta_diff(recorded, current, NULL, 0), 2);
        for (size_t size = 1; size <= len + 2; size++) {
                char *buf = malloc(size);       /* exactly size: ASan and valgrind see an overrun */
                size_t want = size - 1 < len ? size - 1 : len;

                assert_non_null(buf);
                memset(buf, 'x', size);
                assert_int_equal(luks2_meta_diff(recorded, current, buf, size), 2);
                assert_int_equal(strnlen(buf, size), want);
                assert_memory_equal(buf, full, want);
                free(buf);
        }
}

/* ---- the MACs ---- */

static void test_mac_known_answers(void **state) {
        _cleanup_(freep) struct luks2_meta *small = meta_record("{\"b\":\"2\",\"a\":\"xy\"}");
        _cleanup_(freep) struct luks2_meta *empty = meta_new();
        _cleanup_(freep) struct luks2_meta *def = meta_parse(header_default, 0);
        _cleanup_(freep) struct luks2_meta *two = meta_parse(header_two_keyslots, 1);
        _cleanup_(freep) uint8_t *enc = NULL;
        size_t len = 0;

        assert_mac(small, "f19cc7789854211bf4e5f7face8151f2d2fcae51079adb91acbe76321297032e");
        assert_mac(empty, "0c8eedc94bf5e0d015f597ba17d6f181c0f51a79b739b7eb6026e651fda6474f");
        assert_mac(def, "c955bbaf50798c54297d2b2ed6092a4929c0789114dcab481dd631927e490f80");
        assert_mac(two, "2f31f527e9ce77c8b515599e41581b035beb7d099d97c4723386637cf1232817");
        /* the encoding the default header's MAC was computed over: 626 bytes */
        assert_int_equal(luks2_meta_encode(def, &enc, &len), 0);
        assert_int_equal(len, 626);
}

static void test_mac_volume_key(void **state) {
        _cleanup_(freep) struct luks2_meta *def = meta_parse(header_default, 0);
        _cleanup_(freep) uint8_t *enc = NULL;
        uint8_t vk[64], mac[LUKS2_MAC_LEN], mac2[LUKS2_MAC_LEN], header_mac[LUKS2_MAC_LEN];
        char hex[2 * LUKS2_MAC_LEN + 1];
        size_t len = 0;

        for (size_t i = 0; i < sizeof(vk); i++)
                vk[i] = (uint8_t) i;
        assert_int_equal(luks2_mac_volume_key(mac_key, vk, sizeof(vk), mac), 0);
        hex_encode(mac, sizeof(mac), hex);
        assert_string_equal(hex, "24a91ff10b8f8c071a6a7adbe3fba1b0728754f5477f6ee82e3c35a9de189a73");
        assert_string_equal(LUKS2_MAC_VK_TAG, "snpseal-luks2-volume-key/v1");

        /* the same bytes as a volume key and as a header: other MACs */
        assert_int_equal(luks2_meta_encode(def, &enc, &len), 0);
        assert_int_equal(luks2_mac_volume_key(mac_key, enc, len, mac), 0);
        hex_encode(mac, sizeof(mac), hex);
        assert_string_equal(hex, "09a412eebcc7cf0cccfd1c62c872cfa48dab921bd630c9ab3e61906198f0729d");
        assert_int_equal(luks2_mac_header(mac_key, def, header_mac), 0);
        assert_false(luks2_mac_equal(mac, header_mac));

        /* every byte of the key counts */
        assert_int_equal(luks2_mac_volume_key(mac_key, vk, sizeof(vk) - 1, mac2), 0);
        assert_false(luks2_mac_equal(mac, mac2));
        assert_int_equal(luks2_mac_volume_key(mac_key, vk, sizeof(vk), mac), 0);
        for (size_t i = 0; i < sizeof(vk); i++) {
                vk[i] ^= 0x80;
                assert_int_equal(luks2_mac_volume_key(mac_key, vk, sizeof(vk), mac2), 0);
                assert_false(luks2_mac_equal(mac, mac2));
                vk[i] ^= 0x80;
        }
}

/* Any item changed, removed, added or renamed, or another key: another MAC. */
static void test_mac_every_item(void **state) {
        _cleanup_(freep) struct luks2_meta *m = meta_parse(header_integrity, 0);
        _cleanup_(freep) struct luks2_meta *x = meta_new();
        uint8_t mac[LUKS2_MAC_LEN], other[LUKS2_MAC_LEN], key[LUKS2_MAC_KEY_LEN];

        assert_int_equal(luks2_mac_header(mac_key, m, mac), 0);
        for (size_t i = 0; i < m->n; i++) {
                char *v;

                /* a value changed */
                *x = *m;
                v = x->items[i].value;
                v[0] = v[0] == '1' ? '2' : '1';
                assert_int_equal(luks2_mac_header(mac_key, x, other), 0);
                assert_false(luks2_mac_equal(mac, other));
                /* a value one byte longer */
                *x = *m;
                strcat(x->items[i].value, "0");
                assert_int_equal(luks2_mac_header(mac_key, x, other), 0);
                assert_false(luks2_mac_equal(mac, other));
                /* removed */
                x->n = 0;
                for (size_t j = 0; j < m->n; j++)
                        if (j != i)
                                x->items[x->n++] = m->items[j];
                assert_int_equal(luks2_mac_header(mac_key, x, other), 0);
                assert_false(luks2_mac_equal(mac, other));
                /* renamed */
                *x = *m;
                x->items[i].name[strlen(x->items[i].name) - 1] ^= 1;
                assert_int_equal(luks2_mac_header(mac_key, x, other), 0);
                assert_false(luks2_mac_equal(mac, other));
        }
        /* one item more */
        *x = *m;
        (void) snprintf(x->items[x->n].name, sizeof(x->items[0].name), "zz");
        x->items[x->n++].value[0] = '\0';
        assert_int_equal(luks2_mac_header(mac_key, x, other), 0);
        assert_false(luks2_mac_equal(mac, other));
        /* every byte of the key */
        memcpy(key, mac_key, sizeof(key));
        for (size_t i = 0; i < sizeof(key); i++) {
                key[i] ^= (uint8_t) (1u << (i % 8));
                assert_int_equal(luks2_mac_header(key, m, other), 0);
                assert_false(luks2_mac_equal(mac, other));
                key[i] ^= (uint8_t) (1u << (i % 8));
        }
        /* and the same items give the same MAC */
        assert_int_equal(luks2_mac_header(mac_key, m, other), 0);
        assert_true(luks2_mac_equal(mac, other));
}

static void test_mac_equal(void **state) {
        uint8_t a[LUKS2_MAC_LEN], b[LUKS2_MAC_LEN];

        for (size_t i = 0; i < sizeof(a); i++)
                a[i] = (uint8_t) (i * 7);
        memcpy(b, a, sizeof(b));
        assert_true(luks2_mac_equal(a, b));
        for (size_t i = 0; i < sizeof(a) * 8; i++) {
                b[i / 8] ^= (uint8_t) (1u << (i % 8));
                assert_false(luks2_mac_equal(a, b));
                b[i / 8] ^= (uint8_t) (1u << (i % 8));
        }
}

/* ---- the token's header fields ---- */

#define MEASUREMENT "69b5e1e161ffd9c9234b2eef782761a29d14044cdb143c2892091a4144a2506c0aaa511767ad64979a13011ed41caefc"
/* base64 of the 32 bytes 0x00..0x1f and 0x20..0x3f */
#define MAC_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define VK_MAC_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define COME_TOGETHER "\"snpseal_header\", \"snpseal_header_mac\" and \"snpseal_volume_key_mac\" come together"

static const char token_base[] =
        "{\"type\":\"snpseal\",\"keyslots\":[\"1\"],\"snpseal_version\":1,"
        "\"snpseal_binding\":{\"root_key\":\"vcek\",\"fields\":[\"measurement\",\"policy\",\"tcb_version\"],"
        "\"vmpl\":0,\"guest_svn\":1,\"tcb_version\":\"03000000000008d1\"},"
        "\"snpseal_salt\":\"" MAC_B64 "\",\"snpseal_pin\":false,"
        "\"snpseal_identity\":{\"measurement\":\"" MEASUREMENT "\",\"policy\":\"0x30000\","
        "\"tcb\":\"03000000000008d1\"}}";

/* token_base with the header fields named in which ("h", "m", "v"), the
 * record of header_two_keyslots for keyslot 1. malloc()ed. */
static char *token_with_auth(const char *which) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(token_base);
        _cleanup_(freep) struct luks2_meta *m = meta_parse(header_two_keyslots, 1);

        assert_non_null(o);
        if (strchr(which, 'h'))
                assert_int_equal(json_add(o, "snpseal_header", luks2_meta_to_record(m)), 0);
        if (strchr(which, 'm'))
                assert_int_equal(json_add(o, "snpseal_header_mac", json_object_new_string(MAC_B64)), 0);
        if (strchr(which, 'v'))
                assert_int_equal(json_add(o, "snpseal_volume_key_mac", json_object_new_string(VK_MAC_B64)), 0);
        return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void assert_token_rejected(const char *json, const char *message) {
        struct snpseal_token t = { .keyslot = 77 };
        char errbuf[512] = "";
        int r = token_json_parse(json, &t, errbuf, sizeof(errbuf));

        if (r != -EINVAL || strcmp(errbuf, message) != 0)
                fail_msg("token %s\n  got %d \"%s\", expected \"%s\"", json, r, errbuf, message);
        assert_int_equal(t.keyslot, 77);
        assert_null(t.header);
}

static void test_token_parse(void **state) {
        _cleanup_(freep) char *json = token_with_auth("hmv");
        _cleanup_(freep) char *old = token_with_auth("");
        _cleanup_(freep) struct luks2_meta *m = meta_parse(header_two_keyslots, 1);
        struct snpseal_token t;
        char errbuf[512] = "";

        assert_int_equal(token_json_parse(json, &t, errbuf, sizeof(errbuf)), 0);
        assert_true(t.has_mac);
        assert_non_null(t.header);
        assert_same_encoding(t.header, m);
        for (unsigned i = 0; i < SNPSEAL_TOKEN_MAC_LEN; i++) {
                assert_int_equal(t.header_mac[i], i);
                assert_int_equal(t.volume_key_mac[i], 0x20 + i);
        }
        token_json_done(&t);
        assert_null(t.header);
        assert_false(t.has_mac);

        /* tokens of snpseal before 0.2: none of the three */
        assert_int_equal(token_json_parse(old, &t, errbuf, sizeof(errbuf)), 0);
        assert_false(t.has_mac);
        assert_null(t.header);
        token_json_done(&t);
}

static void test_token_build(void **state) {
        _cleanup_(freep) char *json = token_with_auth("hmv");
        _cleanup_(freep) char *built = NULL, *built_old = NULL;
        struct snpseal_token t, back;
        struct luks2_meta *saved;

        assert_int_equal(token_json_parse(json, &t, NULL, 0), 0);
        assert_int_equal(token_json_build(&t, 1, &built), 0);
        assert_non_null(strstr(built, "\"snpseal_header_mac\":\"" MAC_B64 "\""));
        assert_non_null(strstr(built, "\"snpseal_volume_key_mac\":\"" VK_MAC_B64 "\""));
        assert_non_null(strstr(built, "\"snpseal_header\":{\"digest.0.digest\":"));
        assert_non_null(strstr(built, "\"segment.0.encryption\":\"aes-xts-plain64\""));
        assert_int_equal(token_json_parse(built, &back, NULL, 0), 0);
        assert_true(back.has_mac);
        assert_same_encoding(back.header, t.header);
        assert_memory_equal(back.header_mac, t.header_mac, sizeof(t.header_mac));
        assert_memory_equal(back.volume_key_mac, t.volume_key_mac, sizeof(t.volume_key_mac));
        token_json_done(&back);

        /* has_mac without the items to write: refused (today as -ENOMEM,
         * header_auth_add()'s -EINVAL is not passed on) */
        saved = t.header;
        t.header = NULL;
        assert_true(token_json_build(&t, 1, &built_old) < 0);
        assert_null(built_old);
        t.header = saved;

        /* without has_mac: none of the three is written */
        t.has_mac = false;
        assert_int_equal(token_json_build(&t, 1, &built_old), 0);
        assert_null(strstr(built_old, "snpseal_header"));
        assert_null(strstr(built_old, "snpseal_volume_key_mac"));
        token_json_done(&t);
}

static void test_token_come_together(void **state) {
        static const char *const partial[] = { "h", "m", "v", "hm", "hv", "mv" };

        for (size_t i = 0; i < ELEMENTSOF(partial); i++) {
                _cleanup_(freep) char *json = token_with_auth(partial[i]);

                assert_token_rejected(json, COME_TOGETHER);
        }
        /* a null counts as absent */
        {
                _cleanup_(freep) char *all = token_with_auth("hmv");
                _cleanup_(freep) char *json = json_with(all, "snpseal_header", "null");
                _cleanup_(freep) char *json2 = json_with(all, "snpseal_volume_key_mac", "null");

                assert_token_rejected(json, COME_TOGETHER);
                assert_token_rejected(json2, COME_TOGETHER);
        }
}

static void test_token_rejects(void **state) {
        static const struct {
                const char *path, *value, *message;
        } cases[] = {
                { "snpseal_header_mac", "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"",
                  "\"snpseal_header_mac\" must be base64 of 32 bytes" },                 /* 43 characters */
                { "snpseal_header_mac", "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==\"",
                  "\"snpseal_header_mac\" must be base64 of 32 bytes" },                 /* 45 */
                { "snpseal_header_mac", "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"",
                  "\"snpseal_header_mac\" must be base64 of 32 bytes" },                 /* 31 bytes */
                { "snpseal_header_mac", "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\"",
                  "\"snpseal_header_mac\" must be base64 of 32 bytes" },                 /* 33 bytes */
                { "snpseal_header_mac", "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!=\"",
                  "\"snpseal_header_mac\" must be base64 of 32 bytes" },
                { "snpseal_header_mac", "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\"",
                  "\"snpseal_header_mac\" must be base64 of 32 bytes" },                 /* not canonical */
                { "snpseal_header_mac", "\"\"",  "\"snpseal_header_mac\" must be base64 of 32 bytes" },
                { "snpseal_header_mac", "32",    "\"snpseal_header_mac\" must be base64 of 32 bytes" },
                { "snpseal_header_mac", "[]",    "\"snpseal_header_mac\" must be base64 of 32 bytes" },
                { "snpseal_volume_key_mac", "\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\"",
                  "\"snpseal_volume_key_mac\" must be base64 of 32 bytes" },
                { "snpseal_volume_key_mac", "\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pg==\"",
                  "\"snpseal_volume_key_mac\" must be base64 of 32 bytes" },
                { "snpseal_volume_key_mac", "\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8gICA=\"",
                  "\"snpseal_volume_key_mac\" must be base64 of 32 bytes" },
                { "snpseal_volume_key_mac", "false", "\"snpseal_volume_key_mac\" must be base64 of 32 bytes" },
                { "snpseal_header", "[]",            "\"snpseal_header\" must be an object" },
                { "snpseal_header", "\"x\"",         "\"snpseal_header\" must be an object" },
                { "snpseal_header/segment.0.type", "1", NOT_NAMES_TO_STRINGS },
                { "snpseal_header/Segment.0.type", "\"crypt\"", NOT_NAMES_TO_STRINGS },
        };
        _cleanup_(freep) char *all = token_with_auth("hmv");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *json = json_with(all, cases[i].path, cases[i].value);

                assert_token_rejected(json, cases[i].message);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default),
                cmocka_unit_test(test_two_keyslots),
                cmocka_unit_test(test_legitimate_changes),
                cmocka_unit_test(test_integrity),
                cmocka_unit_test(test_reencrypt),
                cmocka_unit_test(test_optional_members),
                cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_rejects_text),
                cmocka_unit_test(test_rejects_long_values),
                cmocka_unit_test(test_rejects_long_segment_list),
                cmocka_unit_test(test_rejects_too_many_items),
                cmocka_unit_test(test_encode_known_answer),
                cmocka_unit_test(test_encode_unambiguous),
                cmocka_unit_test(test_record_round_trip),
                cmocka_unit_test(test_record_rejects),
                cmocka_unit_test(test_record_items_max),
                cmocka_unit_test(test_ciphers),
                cmocka_unit_test(test_ciphers_segments),
                cmocka_unit_test(test_diff),
                cmocka_unit_test(test_diff_several),
                cmocka_unit_test(test_diff_odd_names),
                cmocka_unit_test(test_diff_truncated),
                cmocka_unit_test(test_mac_known_answers),
                cmocka_unit_test(test_mac_volume_key),
                cmocka_unit_test(test_mac_every_item),
                cmocka_unit_test(test_mac_equal),
                cmocka_unit_test(test_token_parse),
                cmocka_unit_test(test_token_build),
                cmocka_unit_test(test_token_come_together),
                cmocka_unit_test(test_token_rejects),
        };

        return cmocka_run_group_tests_name("luks2-meta", tests, NULL, NULL);
}

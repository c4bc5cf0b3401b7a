/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The simulator's state file: one flat JSON object, "format": 1 and one member
 * per key of sim_keys[] below (docs/SIMULATOR.md). The file is parsed by the
 * simulator backend and the LD_PRELOAD shim, so the loader treats it as
 * hostile: size cap, depth-limited strict json-c parse, exact types, exact hex
 * lengths, ranges. Loading and `snpseal-sim set` go through the same
 * per-key parsers, so both accept exactly the same values.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "hexutil.h"
#include "log.h"
#include "secret.h"
#include "sim-state.h"
#include "snp-error.h"
#include "snp-abi.h"

#define SIM_STATE_FORMAT 1
#define SIM_JSON_DEPTH 4             /* the file is one flat object */
#define SIM_JSON_TEXT_MAX 4096u      /* what sim_state_to_json() writes is about 1 KiB */
#define SIM_LATENCY_MS_MAX 60000u
#define SIM_THROTTLE_BURST_MAX 1000000u
/* Milan: boot loader 3, TEE 0, SNP 8, microcode 0xd1 (209). */
#define SIM_DEFAULT_TCB UINT64_C(0xd108000000000003)
#define SIM_DEFAULT_POLICY (SNP_POLICY_RESERVED_1 | SNP_POLICY_SMT)
#define SIM_DEFAULT_PLATFORM_INFO \
        (SNP_PLATFORM_SMT_EN | SNP_PLATFORM_ECC_EN | SNP_PLATFORM_ALIAS_CHECK_DONE)

enum sim_kind {
        KIND_BYTES,       /* fixed-length byte string as hex */
        KIND_VLEK,        /* like KIND_BYTES, "" = no VLEK */
        KIND_TCB,         /* TCB_VERSION, 16 hex digits byte 0 first */
        KIND_UINT,        /* unsigned integer of size 1, 4 or 8 in [min, max] */
        KIND_HEX64,       /* u64 written as "0x…" in the file */
        KIND_POLICY,      /* guest policy: KIND_HEX64 plus the policy rules */
        KIND_BOOL,
        KIND_FAULT,
        KIND_FW_VERSION,  /* "major.minor.build" */
};

struct sim_key {
        const char *name;
        enum sim_kind kind;
        size_t offset;
        size_t size;
        uint64_t min, max;  /* KIND_UINT */
        bool secret;        /* never shown, never echoed in messages */
        bool optional;      /* may be absent from the file (default: zero) */
};

#define FIELD(m) .offset = offsetof(struct sim_state, m), .size = sizeof(((struct sim_state *) NULL)->m)

static const struct sim_key sim_keys[] = {
        { "chip_secret",    KIND_BYTES,      FIELD(chip_secret),    .secret = true },
        { "vlek",           KIND_VLEK,       FIELD(vlek_secret),    .secret = true, .optional = true },
        { "vmrk",           KIND_BYTES,      FIELD(vmrk_secret),    .secret = true },
        { "measurement",    KIND_BYTES,      FIELD(measurement) },
        { "policy",         KIND_POLICY,     FIELD(policy) },
        { "family_id",      KIND_BYTES,      FIELD(family_id) },
        { "image_id",       KIND_BYTES,      FIELD(image_id) },
        { "host_data",      KIND_BYTES,      FIELD(host_data) },
        { "guest_svn",      KIND_UINT,       FIELD(guest_svn),      .max = UINT32_MAX },
        { "launch_tcb",     KIND_TCB,        FIELD(launch_tcb) },
        { "committed_tcb",  KIND_TCB,        FIELD(committed_tcb) },
        { "current_tcb",    KIND_TCB,        FIELD(current_tcb) },
        { "reported_tcb",   KIND_TCB,        FIELD(reported_tcb) },
        { "vmpl",           KIND_UINT,       FIELD(vmpl),           .max = SNP_VMPL_MAX },
        { "platform_info",  KIND_HEX64,      FIELD(platform_info) },
        { "cpuid_fam",      KIND_UINT,       FIELD(cpuid_fam),      .max = UINT8_MAX },
        { "cpuid_mod",      KIND_UINT,       FIELD(cpuid_mod),      .max = UINT8_MAX },
        { "cpuid_step",     KIND_UINT,       FIELD(cpuid_step),     .max = UINT8_MAX },
        { "report_version", KIND_UINT,       FIELD(report_version),
          .min = SNP_REPORT_VERSION_MIN, .max = SIM_REPORT_VERSION_MAX },
        { "fw_version",     KIND_FW_VERSION },
        { "vmpck_disabled", KIND_BOOL,       FIELD(vmpck_disabled), .optional = true },
        { "mask_chip_key",  KIND_BOOL,       FIELD(mask_chip_key),  .optional = true },
        { "mask_chip_id",   KIND_BOOL,       FIELD(mask_chip_id),   .optional = true },
        { "fault",          KIND_FAULT,      FIELD(fault),          .optional = true },
        { "latency_ms",       KIND_UINT,       FIELD(latency_ms),       .max = SIM_LATENCY_MS_MAX, .optional = true },
        { "throttle_burst", KIND_UINT,       FIELD(throttle_burst), .max = SIM_THROTTLE_BURST_MAX, .optional = true },
        { "throttle_stall_ms", KIND_UINT,    FIELD(throttle_stall_ms), .max = SIM_LATENCY_MS_MAX, .optional = true },
        { "count_requests", KIND_BOOL,       FIELD(count_requests), .optional = true },
};

static const char *const fault_names[] = {
        [SIM_FAULT_NONE] = "none",
        [SIM_FAULT_BUSY] = "busy",
        [SIM_FAULT_CMD_FAIL] = "cmd_fail",
        [SIM_FAULT_BAD_MSG] = "bad_msg",
};

static const struct sim_key *key_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(sim_keys); i++)
                if (strcmp(sim_keys[i].name, name) == 0)
                        return &sim_keys[i];
        return NULL;
}

static void *field(struct sim_state *s, const struct sim_key *k) {
        return (uint8_t *) s + k->offset;
}

static const void *field_const(const struct sim_state *s, const struct sim_key *k) {
        return (const uint8_t *) s + k->offset;
}

static uint64_t uint_get(const struct sim_state *s, const struct sim_key *k) {
        const void *p = field_const(s, k);
        uint8_t u8;
        uint32_t u32;
        uint64_t u64;

        switch (k->size) {
        case 1:
                memcpy(&u8, p, 1);
                return u8;
        case 4:
                memcpy(&u32, p, 4);
                return u32;
        default:
                memcpy(&u64, p, 8);
                return u64;
        }
}

static void uint_put(struct sim_state *s, const struct sim_key *k, uint64_t v) {
        void *p = field(s, k);
        uint8_t u8 = (uint8_t) v;
        uint32_t u32 = (uint32_t) v;

        switch (k->size) {
        case 1:
                memcpy(p, &u8, 1);
                break;
        case 4:
                memcpy(p, &u32, 4);
                break;
        default:
                memcpy(p, &v, 8);
                break;
        }
}

/* ------------------------------------------------------------ parsers */

static int parse_bytes(const struct sim_key *k, const char *value, struct sim_state *s,
                       char *errbuf, size_t errlen) {
        uint8_t buf[SIM_STATE_VALUE_MAX / 2];
        int r;

        if (strlen(value) != 2 * k->size)
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: expected %zu hex digits, got %zu",
                            k->name, 2 * k->size, strlen(value));
        r = hex_decode_exact(value, buf, k->size);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "%s: not a hex string (expected %zu hex digits)",
                            k->name, 2 * k->size);
        memcpy(field(s, k), buf, k->size);
        secret_wipe(buf, sizeof(buf));
        return 0;
}

static int parse_vlek(const struct sim_key *k, const char *value, struct sim_state *s,
                      char *errbuf, size_t errlen) {
        int r;

        if (value[0] == '\0') {
                s->vlek_present = false;
                secret_wipe(s->vlek_secret, sizeof(s->vlek_secret));
                return 0;
        }
        r = parse_bytes(k, value, s, errbuf, errlen);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "%s: expected %zu hex digits, or \"\" for no VLEK",
                            k->name, 2 * k->size);
        s->vlek_present = true;
        return 0;
}

static int parse_tcb(const struct sim_key *k, const char *value, struct sim_state *s,
                     char *errbuf, size_t errlen) {
        uint64_t tcb;

        if (tcb_from_hex(value, &tcb) < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                            "%s: \"%.40s\" is not a TCB: expected %d hex digits, byte 0 first "
                            "(e.g. 03000000000008d1)", k->name, value, TCB_HEX_LEN);
        uint_put(s, k, tcb);
        return 0;
}

static int parse_number(const struct sim_key *k, const char *value, uint64_t *ret,
                        char *errbuf, size_t errlen) {
        int r = parse_u64(value, UINT64_MAX, ret);

        if (r == -ERANGE)
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%.40s\" does not fit in 64 bits",
                            k->name, value);
        if (r < 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                            "%s: \"%.40s\" is not a number (decimal or 0x-prefixed hex)",
                            k->name, value);
        return 0;
}

static int parse_uint(const struct sim_key *k, const char *value, struct sim_state *s,
                      char *errbuf, size_t errlen) {
        uint64_t v;
        int r;

        r = parse_number(k, value, &v, errbuf, errlen);
        if (r < 0)
                return r;
        if (v < k->min || v > k->max)
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: %" PRIu64 " is out of range (%" PRIu64
                            "..%" PRIu64 ")", k->name, v, k->min, k->max);
        uint_put(s, k, v);
        return 0;
}

static int parse_hex64(const struct sim_key *k, const char *value, struct sim_state *s,
                       char *errbuf, size_t errlen) {
        uint64_t v;
        int r;

        r = parse_number(k, value, &v, errbuf, errlen);
        if (r < 0)
                return r;
        uint_put(s, k, v);
        return 0;
}

static int parse_policy(const struct sim_key *k, const char *value, struct sim_state *s,
                        char *errbuf, size_t errlen) {
        uint64_t v;
        int r;

        r = parse_number(k, value, &v, errbuf, errlen);
        if (r < 0)
                return r;
        if (v & SNP_POLICY_RESERVED_MASK)
                return errbuf_set(errbuf, errlen, -EINVAL,
                            "%s: 0x%" PRIx64 " sets reserved bits 63:26 (0x%" PRIx64 "); "
                            "they must be zero, the firmware refuses such a guest policy",
                            k->name, v, v & SNP_POLICY_RESERVED_MASK);
        if (!(v & SNP_POLICY_RESERVED_1))
                return errbuf_set(errbuf, errlen, -EINVAL,
                            "%s: 0x%" PRIx64 " has bit 17 clear; bit 17 (0x20000) must be 1 in "
                            "every SNP guest policy, e.g. 0x30000 (SMT allowed)", k->name, v);
        uint_put(s, k, v);
        return 0;
}

static int parse_bool(const struct sim_key *k, const char *value, struct sim_state *s,
                      char *errbuf, size_t errlen) {
        bool b;

        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                b = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                b = false;
        else
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%.40s\" is not a boolean (true, false, 1, 0)",
                            k->name, value);
        memcpy(field(s, k), &b, sizeof(b));
        return 0;
}

static int parse_fault(const struct sim_key *k, const char *value, struct sim_state *s,
                       char *errbuf, size_t errlen) {
        for (size_t i = 0; i < ELEMENTSOF(fault_names); i++)
                if (strcmp(value, fault_names[i]) == 0) {
                        s->fault = (enum sim_fault) i;
                        return 0;
                }
        return errbuf_set(errbuf, errlen, -EINVAL, "%s: \"%.40s\" is not a fault (none, busy, cmd_fail, bad_msg)",
                    k->name, value);
}

static int parse_fw_version(const struct sim_key *k, const char *value, struct sim_state *s,
                            char *errbuf, size_t errlen) {
        char buf[16], *part[3], *save = NULL, *p = buf;
        uint32_t v[3];
        size_t n = 0;

        if (strlen(value) >= sizeof(buf) || strspn(value, "0123456789.") != strlen(value))
                goto invalid;
        strcpy(buf, value);
        /* strtok_r would merge empty parts: count the dots first. */
        for (const char *c = value; *c; c++)
                n += *c == '.';
        if (n != 2)
                goto invalid;
        for (n = 0; n < 3; n++, p = NULL) {
                part[n] = strtok_r(p, ".", &save);
                if (!part[n] || parse_u32(part[n], UINT8_MAX, &v[n]) < 0)
                        goto invalid;
        }
        s->fw_major = (uint8_t) v[0];
        s->fw_minor = (uint8_t) v[1];
        s->fw_build = (uint8_t) v[2];
        return 0;
invalid:
        return errbuf_set(errbuf, errlen, -EINVAL,
                    "%s: \"%.40s\" is not a firmware version: expected major.minor.build, "
                    "each 0..255 (e.g. 1.55.21)", k->name, value);
}

/* ------------------------------------------------------------ formatters */

static void format_value(const struct sim_key *k, const struct sim_state *s, char *buf, size_t len) {
        switch (k->kind) {
        case KIND_BYTES:
                /* callers check len >= 2 * size + 1 */
                hex_encode(field_const(s, k), k->size, buf);
                break;
        case KIND_VLEK:
                if (s->vlek_present)
                        hex_encode(s->vlek_secret, sizeof(s->vlek_secret), buf);
                else
                        buf[0] = '\0';
                break;
        case KIND_TCB:
                tcb_to_hex(uint_get(s, k), buf);
                break;
        case KIND_UINT:
                (void) snprintf(buf, len, "%" PRIu64, uint_get(s, k));
                break;
        case KIND_HEX64:
        case KIND_POLICY:
                (void) snprintf(buf, len, "0x%" PRIx64, uint_get(s, k));
                break;
        case KIND_BOOL:
                (void) snprintf(buf, len, "%s", *(const bool *) field_const(s, k) ? "true" : "false");
                break;
        case KIND_FAULT:
                (void) snprintf(buf, len, "%s", (size_t) s->fault < ELEMENTSOF(fault_names) &&
                                fault_names[s->fault] ? fault_names[s->fault] : "invalid");
                break;
        case KIND_FW_VERSION:
                (void) snprintf(buf, len, "%u.%u.%u", s->fw_major, s->fw_minor, s->fw_build);
                break;
        }
}

static bool secret_is_set(const struct sim_key *k, const struct sim_state *s) {
        return k->kind != KIND_VLEK || s->vlek_present;
}

/* How the key appears in the JSON file: a string, a number or a boolean. */
static enum json_type key_json_type(const struct sim_key *k) {
        switch (k->kind) {
        case KIND_UINT:
                return json_type_int;
        case KIND_BOOL:
                return json_type_boolean;
        default:
                return json_type_string;
        }
}

/* ------------------------------------------------------------ public: keys */

typedef int (*parse_fn)(const struct sim_key *k, const char *value, struct sim_state *s,
                        char *errbuf, size_t errlen);

static const parse_fn parsers[] = {
        [KIND_BYTES] = parse_bytes,
        [KIND_VLEK] = parse_vlek,
        [KIND_TCB] = parse_tcb,
        [KIND_UINT] = parse_uint,
        [KIND_HEX64] = parse_hex64,
        [KIND_POLICY] = parse_policy,
        [KIND_BOOL] = parse_bool,
        [KIND_FAULT] = parse_fault,
        [KIND_FW_VERSION] = parse_fw_version,
};

static int key_parse(const struct sim_key *k, const char *value, struct sim_state *s,
                     char *errbuf, size_t errlen) {
        return parsers[k->kind](k, value, s, errbuf, errlen);
}

int sim_state_set(struct sim_state *s, const char *key, const char *value, char *errbuf, size_t errlen) {
        const struct sim_key *k;

        if (!s || !key || !value)
                return errbuf_set(errbuf, errlen, -EINVAL, "missing key or value");
        k = key_find(key);
        if (!k)
                return errbuf_set(errbuf, errlen, -EINVAL, "unknown key \"%.40s\"", key);
        log_debug("simulator state: setting %s", k->name);
        return key_parse(k, value, s, errbuf, errlen);
}

const char *sim_state_key_name(size_t i) {
        return i < ELEMENTSOF(sim_keys) ? sim_keys[i].name : NULL;
}

int sim_state_get(const struct sim_state *s, const char *key, bool reveal_secrets, char *buf, size_t len) {
        char tmp[SIM_STATE_VALUE_MAX];
        const struct sim_key *k = key ? key_find(key) : NULL;
        int r = 0;

        if (!k)
                return -ENOENT;
        if (k->secret && !reveal_secrets)
                (void) snprintf(tmp, sizeof(tmp), "%s", secret_is_set(k, s) ? "(set)" : "(none)");
        else
                format_value(k, s, tmp, sizeof(tmp));
        if (strlen(tmp) >= len)
                r = -ENOBUFS;
        else
                memcpy(buf, tmp, strlen(tmp) + 1);
        secret_wipe(tmp, sizeof(tmp));
        return r;
}

/* ------------------------------------------------------------ init / reboot */

static int random_bytes(void *p, size_t n) {
        uint8_t *b = p;

        while (n > 0) {
                ssize_t k = getrandom(b, n, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                b += k;
                n -= (size_t) k;
        }
        return 0;
}

int sim_state_init(struct sim_state *ret) {
        struct sim_state s = {
                .policy = SIM_DEFAULT_POLICY,
                .guest_svn = 1,
                .launch_tcb = SIM_DEFAULT_TCB,
                .committed_tcb = SIM_DEFAULT_TCB,
                .current_tcb = SIM_DEFAULT_TCB,
                .reported_tcb = SIM_DEFAULT_TCB,
                .vmpl = 0,
                .platform_info = SIM_DEFAULT_PLATFORM_INFO,
                .cpuid_fam = 0x19, .cpuid_mod = 0x01, .cpuid_step = 0x01,   /* Milan */
                .report_version = 3,
                .fw_major = 1, .fw_minor = 55, .fw_build = 21,
                .fault = SIM_FAULT_NONE,
        };
        int r;

        if (!ret)
                return -EINVAL;
        r = random_bytes(s.chip_secret, sizeof(s.chip_secret));
        if (r >= 0)
                r = random_bytes(s.vmrk_secret, sizeof(s.vmrk_secret));
        if (r >= 0)
                r = random_bytes(s.measurement, sizeof(s.measurement));
        if (r >= 0)
                *ret = s;
        sim_state_wipe(&s);
        return r;
}

int sim_state_reboot(struct sim_state *s) {
        uint8_t vmrk[SIM_SECRET_LEN];
        int r;

        if (!s)
                return -EINVAL;
        r = random_bytes(vmrk, sizeof(vmrk));
        if (r >= 0) {
                memcpy(s->vmrk_secret, vmrk, sizeof(vmrk));
                s->vmpck_disabled = false;
        }
        secret_wipe(vmrk, sizeof(vmrk));
        return r;
}

void sim_state_wipe(struct sim_state *s) {
        if (s)
                secret_wipe(s, sizeof(*s));
}

/* ------------------------------------------------------------ JSON text */

int sim_state_to_json(const struct sim_state *s, bool reveal_secrets, char **ret_json) {
        _cleanup_secret_ char *out = NULL;
        char value[SIM_STATE_VALUE_MAX];
        size_t used;
        int n;

        if (!s || !ret_json)
                return -EINVAL;
        out = secret_alloc(SIM_JSON_TEXT_MAX);
        if (!out)
                return -ENOMEM;
        used = (size_t) snprintf(out, SIM_JSON_TEXT_MAX, "{\n  \"format\": %d", SIM_STATE_FORMAT);
        for (size_t i = 0; i < ELEMENTSOF(sim_keys); i++) {
                const struct sim_key *k = &sim_keys[i];
                bool quoted = key_json_type(k) == json_type_string;

                (void) sim_state_get(s, k->name, reveal_secrets, value, sizeof(value));
                n = snprintf(out + used, SIM_JSON_TEXT_MAX - used, ",\n  \"%s\": %s%s%s",
                             k->name, quoted ? "\"" : "", value, quoted ? "\"" : "");
                secret_wipe(value, sizeof(value));
                if (n < 0 || (size_t) n >= SIM_JSON_TEXT_MAX - used)
                        return -ENOBUFS;
                used += (size_t) n;
        }
        if (used + 3 > SIM_JSON_TEXT_MAX)
                return -ENOBUFS;
        memcpy(out + used, "\n}\n", 4);
        *ret_json = TAKE_PTR(out);
        return 0;
}

/* ------------------------------------------------------------ load */

static int read_capped(const char *path, char **ret_buf, size_t *ret_len, char *errbuf, size_t errlen) {
        _cleanup_(closep) int fd = -1;
        _cleanup_secret_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errbuf_set(errbuf, errlen, -errno, "cannot open: %s", strerror(errno));
        if (fstat(fd, &st) < 0)
                return errbuf_set(errbuf, errlen, -errno, "cannot stat: %s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return errbuf_set(errbuf, errlen, -EINVAL, "not a regular file");
        if (st.st_size > (off_t) SIM_STATE_FILE_MAX)
                return errbuf_set(errbuf, errlen, -EFBIG, "larger than %u bytes: not a state file",
                            SIM_STATE_FILE_MAX);
        buf = secret_alloc(SIM_STATE_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        /* Read up to one byte past the cap: the file may have grown since fstat(). */
        r = fileio_read_upto(fd, buf, SIM_STATE_FILE_MAX + 1, &len);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "cannot read: %s", strerror(-r));
        if (len > SIM_STATE_FILE_MAX)
                return errbuf_set(errbuf, errlen, -EFBIG, "larger than %u bytes: not a state file",
                            SIM_STATE_FILE_MAX);
        *ret_buf = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int parse_json_text(const char *buf, size_t len, struct json_object **ret,
                           char *errbuf, size_t errlen) {
        struct json_tokener *tok;
        struct json_object *obj;
        enum json_tokener_error jerr;
        size_t end;

        if (memchr(buf, '\0', len))
                return errbuf_set(errbuf, errlen, -EINVAL, "not a state file: contains a NUL byte");
        tok = json_tokener_new_ex(SIM_JSON_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                               JSON_TOKENER_VALIDATE_UTF8);
        obj = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!obj || jerr != json_tokener_success) {
                json_object_put(obj);
                return errbuf_set(errbuf, errlen, -EINVAL, "not valid JSON: %s",
                            jerr == json_tokener_continue ? "unexpected end of file"
                                                          : json_tokener_error_desc(jerr));
        }
        for (; end < len; end++)
                if (!strchr(" \t\r\n", buf[end])) {
                        json_object_put(obj);
                        return errbuf_set(errbuf, errlen, -EINVAL, "not valid JSON: data after the object");
                }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return errbuf_set(errbuf, errlen, -EINVAL, "not a state file: not a JSON object");
        }
        *ret = obj;
        return 0;
}

static int check_format(struct json_object *v, char *errbuf, size_t errlen) {
        if (!json_object_is_type(v, json_type_int))
                return errbuf_set(errbuf, errlen, -EINVAL, "format: expected a number, got %s",
                            json_type_to_name(json_object_get_type(v)));
        if (json_object_get_int64(v) != SIM_STATE_FORMAT)
                return errbuf_set(errbuf, errlen, -EINVAL,
                            "format: unsupported version %" PRId64 " (this simulator reads format %d)",
                            json_object_get_int64(v), SIM_STATE_FORMAT);
        return 0;
}

/* The JSON value as the string `set` would take, after checking its type. */
static int json_value_text(const struct sim_key *k, struct json_object *v, char *buf, size_t len,
                           const char **ret, char *errbuf, size_t errlen) {
        enum json_type want = key_json_type(k);
        const char *str;

        if (!json_object_is_type(v, want))
                return errbuf_set(errbuf, errlen, -EINVAL, "%s: expected %s, got %s", k->name,
                            want == json_type_int ? "a number" :
                            want == json_type_boolean ? "a boolean" : "a string",
                            json_type_to_name(json_object_get_type(v)));
        switch (want) {
        case json_type_int:
                if (json_object_get_int64(v) < 0)
                        return errbuf_set(errbuf, errlen, -EINVAL, "%s: must not be negative", k->name);
                (void) snprintf(buf, len, "%" PRId64, json_object_get_int64(v));
                *ret = buf;
                return 0;
        case json_type_boolean:
                *ret = json_object_get_boolean(v) ? "true" : "false";
                return 0;
        default:
                str = json_object_get_string(v);
                if (strlen(str) != (size_t) json_object_get_string_len(v))
                        return errbuf_set(errbuf, errlen, -EINVAL, "%s: contains a NUL character", k->name);
                *ret = str;
                return 0;
        }
}

/* Best effort: json-c's copies of the secrets are wiped before it frees them. */
static void json_wipe_secrets(struct json_object *obj) {
        for (size_t i = 0; i < ELEMENTSOF(sim_keys); i++) {
                struct json_object *v;

                if (sim_keys[i].secret && json_object_object_get_ex(obj, sim_keys[i].name, &v) &&
                    json_object_is_type(v, json_type_string))
                        secret_wipe((char *) json_object_get_string(v),
                                    (size_t) json_object_get_string_len(v));
        }
}

static int state_from_json(struct json_object *obj, struct sim_state *s, char *errbuf, size_t errlen) {
        bool seen[ELEMENTSOF(sim_keys)] = {};
        struct json_object *format;
        char num[32];
        int r;

        /* The format first: another format may have other keys. */
        if (!json_object_object_get_ex(obj, "format", &format))
                return errbuf_set(errbuf, errlen, -EINVAL, "format: missing (expected \"format\": %d)",
                            SIM_STATE_FORMAT);
        r = check_format(format, errbuf, errlen);
        if (r < 0)
                return r;
        json_object_object_foreach(obj, key, v) {
                const struct sim_key *k;
                const char *text = NULL;

                if (strcmp(key, "format") == 0)
                        continue;
                k = key_find(key);
                if (!k)
                        return errbuf_set(errbuf, errlen, -EINVAL, "unknown key \"%.40s\"", key);
                r = json_value_text(k, v, num, sizeof(num), &text, errbuf, errlen);
                if (r < 0)
                        return r;
                r = key_parse(k, text, s, errbuf, errlen);
                if (r < 0)
                        return r;
                seen[k - sim_keys] = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(sim_keys); i++)
                if (!seen[i] && !sim_keys[i].optional)
                        return errbuf_set(errbuf, errlen, -EINVAL, "%s: missing", sim_keys[i].name);
        return 0;
}

int sim_state_load(const char *path, struct sim_state *ret, char *errbuf, size_t errlen) {
        _cleanup_secret_ char *buf = NULL;
        struct json_object *obj = NULL;
        struct sim_state s = {};
        size_t len = 0;
        int r;

        if (!path || !ret)
                return errbuf_set(errbuf, errlen, -EINVAL, "no state file given");
        r = read_capped(path, &buf, &len, errbuf, errlen);
        if (r < 0)
                return r;
        r = parse_json_text(buf, len, &obj, errbuf, errlen);
        if (r < 0)
                return r;
        r = state_from_json(obj, &s, errbuf, errlen);
        json_wipe_secrets(obj);
        json_object_put(obj);
        if (r >= 0) {
                *ret = s;
                log_debug("simulator state loaded from %s", path);
        }
        sim_state_wipe(&s);
        return r;
}

/* ------------------------------------------------------------ store */

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* A new file "<path>.tmp-<random>" in the same directory, mode 0600. */
static int open_temp(const char *path, char **ret_tmp) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                uint64_t rnd;
                char *tmp = NULL;
                int fd, r;

                r = random_bytes(&rnd, sizeof(rnd));
                if (r < 0)
                        return r;
                if (asprintf(&tmp, "%s.tmp-%016" PRIx64, path, rnd) < 0)
                        return -ENOMEM;
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
                if (fd >= 0) {
                        *ret_tmp = tmp;
                        return fd;
                }
                r = -errno;
                free(tmp);
                if (r != -EEXIST)
                        return r;
        }
        return -EEXIST;
}

static int save_file(const char *path, const struct sim_state *s, bool replace) {
        _cleanup_secret_ char *text = NULL;
        _cleanup_(freep) char *tmp = NULL;
        int fd, r;

        if (!path || !s)
                return -EINVAL;
        r = sim_state_to_json(s, true, &text);
        if (r < 0)
                return r;
        fd = open_temp(path, &tmp);
        if (fd < 0)
                return fd;
        r = write_all(fd, text, strlen(text));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r < 0)
                goto unlink_tmp;
        /* rename() replaces atomically; link() refuses an existing path atomically. */
        if (replace ? rename(tmp, path) < 0 : link(tmp, path) < 0) {
                r = -errno;
                goto unlink_tmp;
        }
        if (!replace)
                (void) unlink(tmp);
        log_debug("simulator state saved to %s", path);
        return 0;
unlink_tmp:
        (void) unlink(tmp);
        return r;
}

int sim_state_save(const char *path, const struct sim_state *s) {
        return save_file(path, s, true);
}

int sim_state_create(const char *path, const struct sim_state *s) {
        return save_file(path, s, false);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * The simulated guest-request path (docs/SIMULATOR.md, "The rules the simulator implements").
 *
 * The key derivation below is a STAND-IN, NOT AMD's algorithm: AMD's KDF is
 * not public. It is an HMAC-SHA-256 chain that follows the firmware's rules on
 * which inputs change the key, nothing more:
 *
 *   root  = VMRK secret                                         (ROOT_KEY_SELECT 1)
 *         | HMAC(VCEK/VLEK secret, "snpseal-sim/vcek-tcb" | "snpseal-sim/vlek-tcb" || TCB)
 *           where TCB is the requested TCB_VERSION when field bit 5 is
 *           set, the COMMITTED_TCB when it is clear
 *   key   = HMAC(root, "snpseal-sim/key/<vcek|vlek|vmrk>" || VMPL || GUEST_FIELD_SELECT
 *                || the selected fields in a fixed order)
 *
 * The report signing key ("VCEK") is a P-384 scalar derived from the chip
 * secret and the REPORTED TCB. A simulator, never a security boundary.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "log.h"
#include "secret.h"
#include "sim-firmware.h"
#include "sim-x509.h"
#include "snp-cert-table.h"

/* The firmware's "hardware error" status (HWERROR_PLATFORM, 0x13 in Linux's
 * psp-sev.h): the simulator answers it when its own crypto fails, which
 * never happens in practice. */
#define SIM_FW_INTERNAL_ERROR SNP_FW_HWERROR_PLATFORM

#define SIM_MAC_MAX_PARTS 12
#define SIM_P384_SCALAR_SEED_LEN 64  /* 512 bits reduced mod n: negligible bias */
#define SIM_P384_POINT_LEN 97        /* uncompressed point */
#define SIM_P384_COORD_LEN 48

struct sim_buf {
        const void *data;
        size_t size;
};

/* HMAC-<digest>(key, parts...) into out (outlen = the digest size). */
static int sim_mac(const char *digest, const void *key, size_t keylen,
                   const struct sim_buf *parts, size_t n_parts, uint8_t *out, size_t outlen) {
        EVP_MAC *mac = NULL;
        EVP_MAC_CTX *ctx = NULL;
        OSSL_PARAM params[2];
        size_t len = 0;
        int r = -EIO;

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) digest, 0);
        params[1] = OSSL_PARAM_construct_end();

        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (!mac)
                goto out;
        ctx = EVP_MAC_CTX_new(mac);
        if (!ctx || EVP_MAC_init(ctx, key, keylen, params) != 1)
                goto out;
        for (size_t i = 0; i < n_parts; i++)
                if (EVP_MAC_update(ctx, parts[i].data, parts[i].size) != 1)
                        goto out;
        if (EVP_MAC_final(ctx, out, &len, outlen) != 1 || len != outlen)
                goto out;
        r = 0;
out:
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
        return r;
}

/* ---- kernel layer ---- */

static void sim_sleep_ms(uint32_t ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Count a request that reaches the hypervisor: one record appended to
 * <state file>.requests (O_APPEND: whole records, in order, across
 * processes). Returns its number from 1, or 0 when not counted. */
static uint64_t sim_count_request(const struct sim_state *s, enum sim_msg_type type) {
        static const char records[2][SIM_COUNT_RECORD_LEN + 1] = { "key    \n", "report \n" };
        char path[PATH_MAX];
        ssize_t n;
        off_t end;
        int fd, k;

        if (!s->path || !(s->count_requests || s->throttle_burst > 0))
                return 0;
        k = snprintf(path, sizeof(path), "%s" SIM_COUNT_SUFFIX, s->path);
        if (k < 0 || (size_t) k >= sizeof(path))
                return 0;
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                log_debug("simulator: cannot count the request in %s: %m", path);
                return 0;
        }
        n = write(fd, records[type == SIM_MSG_KEY_REQ ? 0 : 1], SIM_COUNT_RECORD_LEN);
        /* after an O_APPEND write the offset is the end of this record */
        end = lseek(fd, 0, SEEK_CUR);
        (void) close(fd);
        if (n != SIM_COUNT_RECORD_LEN || end < SIM_COUNT_RECORD_LEN)
                return 0;
        return (uint64_t) end / SIM_COUNT_RECORD_LEN;
}

/* The round trip through the hypervisor: counted, latency_ms long, and with
 * throttling, the first request of every burst after the first stalls
 * throttle_stall_ms (requests 1..N pass, N+1 stalls, N+2..2N pass, …). */
static void sim_host_round_trip(const struct sim_state *s, enum sim_msg_type type) {
        uint64_t nr = sim_count_request(s, type), burst = s->throttle_burst;

        if (s->latency_ms > 0)
                sim_sleep_ms(s->latency_ms);
        if (burst > 0 && nr > burst && (nr - 1) % burst == 0 && s->throttle_stall_ms > 0)
                sim_sleep_ms(s->throttle_stall_ms);
}

static void sim_set_exitinfo2(uint64_t *ret_exitinfo2, uint64_t v) {
        if (ret_exitinfo2)
                *ret_exitinfo2 = v;
}

/* Command-level failure: -EIO, the firmware error in exitinfo2, and the kernel
 * disables the message key (as Linux's sev-guest driver does). */
static int sim_cmd_fail(struct sim_state *s, uint64_t *ret_exitinfo2) {
        s->vmpck_disabled = true;
        sim_set_exitinfo2(ret_exitinfo2, SNP_FW_INVALID_PARAM);
        return -EIO;
}

int sim_guest_request(struct sim_state *s, enum sim_msg_type type, uint8_t msg_version,
                      const void *req, void *resp, uint64_t *ret_exitinfo2) {
        if (!s)
                return -EINVAL;
        /* Nothing reaches the firmware before these checks: Linux leaves
         * exitinfo2 at "no firmware call". */
        sim_set_exitinfo2(ret_exitinfo2, SNP_EXITINFO2_NO_FW_CALL);
        if (msg_version == 0 || !req || !resp)
                return -EINVAL;
        if (type != SIM_MSG_KEY_REQ && type != SIM_MSG_REPORT_REQ)
                return -EINVAL;
        if (s->vmpck_disabled)
                return -ENOTTY;

        sim_host_round_trip(s, type);

        switch (s->fault) {
        case SIM_FAULT_BUSY:
                /* The driver retried for a minute itself, then gave up; like
                 * every failed request but "invalid length", that costs the
                 * message key (the sequence numbers are out of step). */
                s->vmpck_disabled = true;
                sim_set_exitinfo2(ret_exitinfo2, (uint64_t) SNP_VMM_ERR_BUSY << SNP_VMM_ERR_SHIFT);
                return -ETIMEDOUT;
        case SIM_FAULT_CMD_FAIL:
                return sim_cmd_fail(s, ret_exitinfo2);
        case SIM_FAULT_BAD_MSG:
                /* The response failed the kernel's AES-GCM check: a hostile or
                 * broken host. The kernel disables the message key; exitinfo2
                 * holds what the firmware answered (success). */
                s->vmpck_disabled = true;
                sim_set_exitinfo2(ret_exitinfo2, 0);
                return -EBADMSG;
        case SIM_FAULT_NONE:
                break;
        }

        /* A message the firmware cannot authenticate or parse: command-level failure. */
        if (msg_version != SNP_MSG_VERSION)
                return sim_cmd_fail(s, ret_exitinfo2);

        if (type == SIM_MSG_KEY_REQ)
                (void) sim_fw_key_request(s, req, resp);
        else
                (void) sim_fw_report_request(s, req, resp);
        sim_set_exitinfo2(ret_exitinfo2, 0);
        return 0;
}

int sim_guest_ext_report(struct sim_state *s, uint8_t msg_version, const struct snp_msg_report_req *req,
                         struct snp_msg_report_rsp *resp, uint8_t *certs, uint32_t *certs_len,
                         uint64_t *ret_exitinfo2) {
        _cleanup_(freep) uint8_t *table = NULL;
        bool want = certs && certs_len && *certs_len > 0, vlek;
        size_t len = 0, need;
        int r;

        if (want && (*certs_len % SNP_CERT_BLOB_PAGE != 0 || *certs_len > SNP_CERT_BLOB_MAX)) {
                sim_set_exitinfo2(ret_exitinfo2, SNP_EXITINFO2_NO_FW_CALL);
                return -EINVAL;
        }
        r = sim_guest_request(s, SIM_MSG_REPORT_REQ, msg_version, req, resp, ret_exitinfo2);
        if (r < 0 || !want || resp->status != SNP_FW_SUCCESS)
                return r;
        vlek = ((resp->report.signer_info & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT) ==
                SNP_SIGNING_KEY_VLEK;
        table = calloc(1, SNP_CERT_BLOB_MAX);
        if (!table)
                return -ENOMEM;
        if (sim_cert_table(s, vlek, table, SNP_CERT_BLOB_MAX, &len) < 0)
                len = 0;  /* the host has no certificates: an empty table */
        need = (len + SNP_CERT_BLOB_PAGE - 1) / SNP_CERT_BLOB_PAGE * SNP_CERT_BLOB_PAGE;
        if (need > *certs_len) {
                memset(resp, 0, sizeof(*resp));
                *certs_len = (uint32_t) need;
                sim_set_exitinfo2(ret_exitinfo2, (uint64_t) SNP_VMM_ERR_INVALID_LEN << SNP_VMM_ERR_SHIFT);
                return -EIO;
        }
        memset(certs, 0, *certs_len);
        memcpy(certs, table, len);
        return 0;
}

/* ---- firmware layer: key request ---- */

static uint32_t sim_key_sel(const struct snp_msg_key_req *req) {
        return (req->root_key_select & SNP_KEY_REQ_KEY_SEL_MASK) >> SNP_KEY_REQ_KEY_SEL_SHIFT;
}

static bool key_check_reserved(const struct sim_state *s, const struct snp_msg_key_req *req) {
        /* Bit 6 (LAUNCH_MIT) exists only in message version 2: reserved here. */
        return (req->root_key_select & SNP_KEY_REQ_RESERVED_MASK) == 0 &&
                req->reserved == 0 &&
                (req->guest_field_select & ~SNP_FIELD_VALID_V1) == 0;
}

static bool key_check_vmpl(const struct sim_state *s, const struct snp_msg_key_req *req) {
        return req->vmpl >= s->vmpl && req->vmpl <= SNP_VMPL_MAX;
}

static bool key_check_svn(const struct sim_state *s, const struct snp_msg_key_req *req) {
        return req->guest_svn <= s->guest_svn;
}

static bool key_check_tcb(const struct sim_state *s, const struct snp_msg_key_req *req) {
        return snp_tcb_le(req->tcb_version, s->committed_tcb);
}

static bool key_check_key_sel(const struct sim_state *s, const struct snp_msg_key_req *req) {
        uint32_t sel = sim_key_sel(req);

        if (sel == SNP_KEY_SEL_RESERVED)
                return false;
        if (sel == SNP_KEY_SEL_VLEK && !s->vlek_present)
                return false;
        /* MASK_CHIP_KEY: no key from the chip's own root (the VCEK). */
        return !(s->mask_chip_key && !(req->root_key_select & SNP_KEY_REQ_ROOT_KEY_VMRK) &&
                 (sel == SNP_KEY_SEL_VCEK || (sel == SNP_KEY_SEL_DEFAULT && !s->vlek_present)));
}

/* The firmware's checks, in the order it makes them. */
static const struct {
        bool (*ok)(const struct sim_state *s, const struct snp_msg_key_req *req);
        uint32_t status;
} key_checks[] = {
        { key_check_reserved, SNP_FW_INVALID_PARAM },
        { key_check_vmpl,     SNP_FW_INVALID_PARAM },
        { key_check_svn,      SNP_FW_INVALID_PARAM },
        { key_check_tcb,      SNP_FW_INVALID_PARAM },
        { key_check_key_sel,  SNP_FW_INVALID_KEY },
};

enum sim_root {
        SIM_ROOT_VCEK,
        SIM_ROOT_VLEK,
        SIM_ROOT_VMRK,
};

static const char *const sim_root_tcb_label[] = {
        [SIM_ROOT_VCEK] = "snpseal-sim/vcek-tcb",
        [SIM_ROOT_VLEK] = "snpseal-sim/vlek-tcb",
};

static const char *const sim_root_key_label[] = {
        [SIM_ROOT_VCEK] = "snpseal-sim/key/vcek",
        [SIM_ROOT_VLEK] = "snpseal-sim/key/vlek",
        [SIM_ROOT_VMRK] = "snpseal-sim/key/vmrk",
};

static enum sim_root sim_resolve_root(const struct sim_state *s, const struct snp_msg_key_req *req) {
        if (req->root_key_select & SNP_KEY_REQ_ROOT_KEY_VMRK)
                return SIM_ROOT_VMRK;  /* KEY_SEL is ignored */
        switch (sim_key_sel(req)) {
        case SNP_KEY_SEL_VCEK:
                return SIM_ROOT_VCEK;
        case SNP_KEY_SEL_VLEK:
                return SIM_ROOT_VLEK;
        default:
                return s->vlek_present ? SIM_ROOT_VLEK : SIM_ROOT_VCEK;
        }
}

/* The root key: VMRK as is; VCEK/VLEK made specific to one TCB. */
static int sim_root_key(const struct sim_state *s, const struct snp_msg_key_req *req,
                        enum sim_root root, uint8_t out[32]) {
        const uint8_t *secret = root == SIM_ROOT_VLEK ? s->vlek_secret : s->chip_secret;
        uint64_t tcb = (req->guest_field_select & SNP_FIELD_TCB_VERSION) ? req->tcb_version
                                                                          : s->committed_tcb;
        const char *label;

        if (root == SIM_ROOT_VMRK) {
                memcpy(out, s->vmrk_secret, SIM_SECRET_LEN);
                return 0;
        }
        label = sim_root_tcb_label[root];
        struct sim_buf parts[] = {
                { label, strlen(label) + 1 },
                { &tcb, sizeof(tcb) },
        };
        return sim_mac("SHA256", secret, SIM_SECRET_LEN, parts, ELEMENTSOF(parts), out, 32);
}

static int sim_derive_key(const struct sim_state *s, const struct snp_msg_key_req *req,
                          uint8_t out[SNP_KEY_LEN]) {
        /* The selectable fields in their fixed order, with the field-select bit of each. */
        const struct {
                uint64_t bit;
                struct sim_buf buf;
        } fields[] = {
                { SNP_FIELD_POLICY,      { &s->policy, sizeof(s->policy) } },
                { SNP_FIELD_IMAGE_ID,    { s->image_id, sizeof(s->image_id) } },
                { SNP_FIELD_FAMILY_ID,   { s->family_id, sizeof(s->family_id) } },
                { SNP_FIELD_MEASUREMENT, { s->measurement, sizeof(s->measurement) } },
                { SNP_FIELD_GUEST_SVN,   { &req->guest_svn, sizeof(req->guest_svn) } },
                { SNP_FIELD_TCB_VERSION, { &req->tcb_version, sizeof(req->tcb_version) } },
        };
        enum sim_root root = sim_resolve_root(s, req);
        const char *label = sim_root_key_label[root];
        struct sim_buf parts[SIM_MAC_MAX_PARTS];
        size_t n = 0;
        _cleanup_secret_ uint8_t *root_key = secret_alloc(32);
        int r;

        _Static_assert(3 + ELEMENTSOF(fields) <= SIM_MAC_MAX_PARTS, "room for every field");
        if (!root_key)
                return -ENOMEM;
        r = sim_root_key(s, req, root, root_key);
        if (r < 0)
                return r;

        parts[n++] = (struct sim_buf) { label, strlen(label) + 1 };
        parts[n++] = (struct sim_buf) { &req->vmpl, sizeof(req->vmpl) };
        parts[n++] = (struct sim_buf) { &req->guest_field_select, sizeof(req->guest_field_select) };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (req->guest_field_select & fields[i].bit)
                        parts[n++] = fields[i].buf;

        return sim_mac("SHA256", root_key, 32, parts, n, out, SNP_KEY_LEN);
}

uint32_t sim_fw_key_request(const struct sim_state *s, const struct snp_msg_key_req *req,
                            struct snp_msg_key_rsp *rsp) {
        uint32_t status = SNP_FW_SUCCESS;

        secret_wipe(rsp, sizeof(*rsp));
        for (size_t i = 0; i < ELEMENTSOF(key_checks) && status == SNP_FW_SUCCESS; i++)
                if (!key_checks[i].ok(s, req))
                        status = key_checks[i].status;

        if (status == SNP_FW_SUCCESS && sim_derive_key(s, req, rsp->key) < 0) {
                secret_wipe(rsp->key, sizeof(rsp->key));
                status = SIM_FW_INTERNAL_ERROR;
        }
        rsp->status = status;
        log_debug("simulator: MSG_KEY_REQ status 0x%02x", status);
        return status;
}

/* ---- the simulated VCEK ---- */

/* A private scalar in [1, n-1] from a secret, a label and (for the VCEK and
 * VLEK) the reported TCB. */
static BIGNUM *sim_key_scalar(const uint8_t secret[SIM_SECRET_LEN], const char *label, const uint64_t *tcb,
                              const EC_GROUP *group, BN_CTX *bnctx) {
        struct sim_buf parts[] = {
                { label, strlen(label) + 1 },
                { tcb, tcb ? sizeof(*tcb) : 0 },
        };
        _cleanup_secret_ uint8_t *seed = secret_alloc(SIM_P384_SCALAR_SEED_LEN);
        BIGNUM *d = BN_secure_new(), *nm1 = BN_new(), *x = BN_secure_new();
        bool ok = false;

        if (!seed || !d || !nm1 || !x)
                goto out;
        if (sim_mac("SHA512", secret, SIM_SECRET_LEN, parts, tcb ? 2 : 1, seed, SIM_P384_SCALAR_SEED_LEN) < 0)
                goto out;
        /* d = (seed mod (n - 1)) + 1 */
        ok = BN_copy(nm1, EC_GROUP_get0_order(group)) &&
                BN_sub_word(nm1, 1) &&
                BN_bin2bn(seed, SIM_P384_SCALAR_SEED_LEN, x) &&
                BN_nnmod(d, x, nm1, bnctx) &&
                BN_add_word(d, 1);
out:
        BN_clear_free(x);
        BN_free(nm1);
        if (!ok) {
                BN_clear_free(d);
                return NULL;
        }
        return d;
}

static EVP_PKEY *sim_pkey_from(const BIGNUM *d, const uint8_t *pub, size_t pub_len) {
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;

        if (!bld ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len))
                goto out;
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
                pkey = NULL;
out:
        EVP_PKEY_CTX_free(ctx);
        /* d is a secure BIGNUM: its copy lives in the secure part, which
         * OSSL_PARAM_free() cleanses before freeing. */
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        return pkey;
}

static const struct {
        const char *label;
        bool vlek_secret;
        bool tcb;
} sim_keys[] = {
        [SIM_KEY_VCEK] = { "snpseal-sim/vcek-sign", false, true },
        [SIM_KEY_VLEK] = { "snpseal-sim/vlek-sign", true, true },
        [SIM_KEY_ARK]  = { "snpseal-sim/ark", false, false },
        [SIM_KEY_ASK]  = { "snpseal-sim/ask", false, false },
        [SIM_KEY_ASVK] = { "snpseal-sim/asvk", false, false },
};

/* The keys made last, one per id, for the life of the process. Making one
 * costs a P-384 scalar multiplication (the public key), as much as the
 * signature it is for: half of a simulated report's CPU, and the agent asks
 * for a fresh report on every GetStatus. A key is reused only while what it
 * is derived from is the same: its secret, label and TCB, compared through a
 * SHA-256 of them (the state file may change between two requests). The
 * simulator protects no key (snpseal-sim(1)); the cached private keys are in
 * OpenSSL's EVP_PKEYs, as the uncached ones were for the length of a call. */
static struct {
        uint8_t tag[SHA256_DIGEST_LENGTH];
        EVP_PKEY *pkey;
} sim_key_cache[ELEMENTSOF(sim_keys)];
static pthread_mutex_t sim_key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int sim_key_tag(const uint8_t secret[SIM_SECRET_LEN], const char *label, const uint64_t *tcb,
                       uint8_t tag[SHA256_DIGEST_LENGTH]) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = md &&
                EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                EVP_DigestUpdate(md, label, strlen(label) + 1) == 1 &&
                EVP_DigestUpdate(md, tcb ? tcb : &(uint64_t) { 0 }, sizeof(*tcb)) == 1 &&
                EVP_DigestUpdate(md, &(uint8_t) { tcb != NULL }, 1) == 1 &&
                EVP_DigestUpdate(md, secret, SIM_SECRET_LEN) == 1 &&
                EVP_DigestFinal_ex(md, tag, NULL) == 1;

        EVP_MD_CTX_free(md);
        return ok ? 0 : -EIO;
}

static EVP_PKEY *sim_key_make(const uint8_t secret[SIM_SECRET_LEN], const char *label, const uint64_t *tcb);

EVP_PKEY *sim_key(const struct sim_state *s, enum sim_key_id id) {
        const uint8_t *secret;
        const uint64_t *tcb;
        uint8_t tag[SHA256_DIGEST_LENGTH];
        EVP_PKEY *pkey = NULL;

        if ((size_t) id >= ELEMENTSOF(sim_keys) || (sim_keys[id].vlek_secret && !s->vlek_present))
                return NULL;
        secret = sim_keys[id].vlek_secret ? s->vlek_secret : s->chip_secret;
        tcb = sim_keys[id].tcb ? &s->reported_tcb : NULL;
        if (sim_key_tag(secret, sim_keys[id].label, tcb, tag) < 0)
                return NULL;
        pthread_mutex_lock(&sim_key_cache_lock);
        if (sim_key_cache[id].pkey && memcmp(sim_key_cache[id].tag, tag, sizeof(tag)) == 0) {
                pkey = sim_key_cache[id].pkey;
        } else {
                pkey = sim_key_make(secret, sim_keys[id].label, tcb);
                if (pkey) {
                        EVP_PKEY_free(sim_key_cache[id].pkey);
                        sim_key_cache[id].pkey = pkey;
                        memcpy(sim_key_cache[id].tag, tag, sizeof(tag));
                }
        }
        if (pkey && EVP_PKEY_up_ref(pkey) != 1)
                pkey = NULL;
        pthread_mutex_unlock(&sim_key_cache_lock);
        return pkey;
}

static EVP_PKEY *sim_key_make(const uint8_t secret[SIM_SECRET_LEN], const char *label, const uint64_t *tcb) {
        EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_secp384r1);
        BN_CTX *bnctx = BN_CTX_secure_new();
        BIGNUM *d = NULL;
        EC_POINT *pub = NULL;
        uint8_t pub_oct[SIM_P384_POINT_LEN];
        EVP_PKEY *pkey = NULL;

        if (!group || !bnctx)
                goto out;
        d = sim_key_scalar(secret, label, tcb, group, bnctx);
        pub = EC_POINT_new(group);
        if (!d || !pub || EC_POINT_mul(group, pub, d, NULL, NULL, bnctx) != 1)
                goto out;
        if (EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, pub_oct,
                               sizeof(pub_oct), bnctx) != sizeof(pub_oct))
                goto out;
        pkey = sim_pkey_from(d, pub_oct, sizeof(pub_oct));
out:
        EC_POINT_free(pub);
        BN_clear_free(d);
        BN_CTX_free(bnctx);
        EC_GROUP_free(group);
        return pkey;
}

int sim_vcek_public_pem(const struct sim_state *s, char **ret_pem) {
        EVP_PKEY *pkey = sim_key(s, SIM_KEY_VCEK);
        BIO *bio = BIO_new(BIO_s_mem());
        char *data = NULL, *pem = NULL;
        long len;
        int r = -EIO;

        if (!pkey || !bio || PEM_write_bio_PUBKEY(bio, pkey) != 1)
                goto out;
        len = BIO_get_mem_data(bio, &data);
        if (len <= 0 || !data)
                goto out;
        pem = strndup(data, (size_t) len);
        if (!pem) {
                r = -ENOMEM;
                goto out;
        }
        *ret_pem = pem;
        r = 0;
out:
        BIO_free(bio);
        EVP_PKEY_free(pkey);
        return r;
}

/* ---- firmware layer: report request ---- */

/* ECDSA P-384 / SHA-384 over bytes 0x000–0x29F; R and S little-endian, 72 bytes each. */
static int sim_sign_report(const struct sim_state *s, bool vlek, struct snp_report *report) {
        EVP_PKEY *pkey = sim_key(s, vlek ? SIM_KEY_VLEK : SIM_KEY_VCEK);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t der[160];  /* a P-384 DER signature is at most 104 bytes */
        size_t der_len = sizeof(der);
        const unsigned char *p = der;
        ECDSA_SIG *sig = NULL;
        const BIGNUM *sr, *ss;
        int r = -EIO;

        if (!pkey || !md ||
            EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, pkey) != 1 ||
            EVP_DigestSign(md, der, &der_len, (const unsigned char *) report,
                           SNP_REPORT_SIGNED_LEN) != 1)
                goto out;
        sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
        if (!sig)
                goto out;
        ECDSA_SIG_get0(sig, &sr, &ss);
        memset(&report->signature, 0, sizeof(report->signature));
        if (BN_bn2lebinpad(sr, report->signature.r, sizeof(report->signature.r)) < 0 ||
            BN_bn2lebinpad(ss, report->signature.s, sizeof(report->signature.s)) < 0)
                goto out;
        r = 0;
out:
        ECDSA_SIG_free(sig);
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(pkey);
        return r;
}

static bool sim_all_zero(const void *p, size_t size) {
        const uint8_t *b = p;
        uint8_t acc = 0;

        for (size_t i = 0; i < size; i++)
                acc |= b[i];
        return acc == 0;
}

int sim_chip_id(const struct sim_state *s, uint8_t chip_id[64]) {
        static const char chip_id_label[] = "snpseal-sim/chip-id";
        struct sim_buf parts[] = { { chip_id_label, sizeof(chip_id_label) } };

        if (sim_mac("SHA512", s->chip_secret, SIM_SECRET_LEN, parts, ELEMENTSOF(parts), chip_id, 64) < 0)
                return -EIO;
        /* Turin's CHIP_ID is 8 bytes; the rest of the field is zero. */
        if (s->cpuid_fam == SIM_CPUID_FAMILY_TURIN)
                memset(chip_id + 8, 0, 64 - 8);
        return 0;
}

/* The report is signed by the VLEK when one is installed and KEY_SEL asks
 * for it or leaves the choice to the firmware (0). */
static bool sim_report_by_vlek(const struct sim_state *s, const struct snp_msg_report_req *req) {
        return s->vlek_present && (req->key_sel == SNP_KEY_SEL_DEFAULT || req->key_sel == SNP_KEY_SEL_VLEK);
}

static int sim_fill_report(const struct sim_state *s, const struct snp_msg_report_req *req,
                           struct snp_report *rep) {
        bool vlek = sim_report_by_vlek(s, req);

        rep->version = s->report_version;
        rep->guest_svn = s->guest_svn;
        rep->policy = s->policy;
        memcpy(rep->family_id, s->family_id, sizeof(rep->family_id));
        memcpy(rep->image_id, s->image_id, sizeof(rep->image_id));
        rep->vmpl = req->vmpl;
        rep->signature_algo = SNP_SIG_ALGO_ECDSA_P384_SHA384;
        rep->current_tcb = s->current_tcb;
        rep->platform_info = s->platform_info;
        rep->signer_info = (vlek ? SNP_SIGNING_KEY_VLEK : SNP_SIGNING_KEY_VCEK) << SNP_SIGNER_SIGNING_KEY_SHIFT;
        if (s->mask_chip_key)
                rep->signer_info |= SNP_SIGNER_MASK_CHIP_KEY;
        memcpy(rep->report_data, req->report_data, sizeof(rep->report_data));
        memcpy(rep->measurement, s->measurement, sizeof(rep->measurement));
        memcpy(rep->host_data, s->host_data, sizeof(rep->host_data));
        if (RAND_bytes(rep->report_id, sizeof(rep->report_id)) != 1)
                return -EIO;
        /* No migration agent: the firmware reports all ones. */
        memset(rep->report_id_ma, 0xff, sizeof(rep->report_id_ma));
        rep->reported_tcb = s->reported_tcb;
        if (s->report_version >= 3) {
                rep->cpuid_fam_id = s->cpuid_fam;
                rep->cpuid_mod_id = s->cpuid_mod;
                rep->cpuid_step = s->cpuid_step;
        }
        /* A VLEK is not bound to one chip, and MASK_CHIP_ID hides it: zero. */
        if (!vlek && !s->mask_chip_id && sim_chip_id(s, rep->chip_id) < 0)
                return -EIO;
        rep->committed_tcb = s->committed_tcb;
        rep->current_build = rep->committed_build = s->fw_build;
        rep->current_minor = rep->committed_minor = s->fw_minor;
        rep->current_major = rep->committed_major = s->fw_major;
        rep->launch_tcb = s->launch_tcb;
        if (s->report_version >= 5 && s->cpuid_fam == SIM_CPUID_FAMILY_TURIN)
                rep->launch_mit_vector = rep->current_mit_vector = SIM_TURIN_MIT_VECTOR;
        return sim_sign_report(s, vlek, rep);
}

uint32_t sim_fw_report_request(const struct sim_state *s, const struct snp_msg_report_req *req,
                               struct snp_msg_report_rsp *rsp) {
        uint32_t status = SNP_FW_SUCCESS;

        memset(rsp, 0, sizeof(*rsp));
        if (!sim_all_zero(req->reserved, sizeof(req->reserved)) ||
            (req->key_sel & ~SNP_REPORT_REQ_KEY_SEL_MASK) || req->key_sel == SNP_KEY_SEL_RESERVED ||
            req->vmpl < s->vmpl || req->vmpl > SNP_VMPL_MAX)
                status = SNP_FW_INVALID_PARAM;
        else if (req->key_sel == SNP_KEY_SEL_VLEK && !s->vlek_present)
                status = SNP_FW_INVALID_KEY;
        else if (sim_fill_report(s, req, &rsp->report) < 0) {
                memset(&rsp->report, 0, sizeof(rsp->report));
                status = SIM_FW_INTERNAL_ERROR;
        } else
                rsp->report_size = SNP_REPORT_SIZE;
        rsp->status = status;
        log_debug("simulator: MSG_REPORT_REQ status 0x%02x", status);
        return status;
}

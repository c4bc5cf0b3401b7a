/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * AMD's key distribution service (KDS) for snpseal verify: a cache
 * directory, and with --fetch the documented URLs (docs/ATTESTATION.md)
 *   {url}/vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=[&fmcSPL=]
 *   {url}/vcek/v1/{product}/cert_chain        (and /vlek/v1/… for the ASVK)
 *   {url}/vcek/v1/{product}/crl
 * fetched with libcurl when snpseal was built with it. Cache layout:
 *   {cache}/{product}/vcek-{hwid}-{tcb}.der, cert_chain.pem,
 *   vlek_cert_chain.pem, crl.der
 * Nothing fetched is trusted for being fetched: verify checks the chain
 * against the pinned ARKs. The KDS rate-limits: 429 and 503 answers are
 * retried with exponential backoff.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if HAVE_LIBCURL
#include <curl/curl.h>
#endif

#include "hexutil.h"
#include "snp-abi.h"
#include "snp-decode.h"
#include "snp/x509.h"
#include "verb-verify.h"

#define KDS_PATH_MAX 4096
#define KDS_TRIES 5
#define KDS_RETRY_MS_DEFAULT 1000u
#define KDS_TIMEOUT_S 30L

struct kds_target {
        const char *product;
        bool turin;
        char hwid[2 * 64 + 1];
        char tcb[TCB_HEX_LEN + 1];
        char query[128];
};

static bool has_kind(STACK_OF(X509) *certs, enum snp_cert_kind kind) {
        for (int i = 0; i < sk_X509_num(certs); i++)
                if (snp_cert_kind(sk_X509_value(certs, i), NULL) == kind)
                        return true;
        return false;
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* The products this report may come from, most likely first. */
static size_t report_products(const struct snp_report *r, const char *out[3]) {
        if (r->version >= 3 && r->cpuid_fam_id == SNP_CPUID_FAMILY_TURIN) {
                out[0] = "Turin";
                return 1;
        }
        if (r->version >= 3 && r->cpuid_fam_id == SNP_CPUID_FAMILY_MILAN_GENOA) {
                bool genoa = r->cpuid_mod_id >= 0x10;

                out[0] = genoa ? "Genoa" : "Milan";
                return 1;
        }
        /* Version 2: Turin's CHIP_ID has only its first 8 bytes set. */
        if (all_zero(r->chip_id + 8, sizeof(r->chip_id) - 8)) {
                out[0] = "Turin";
                return 1;
        }
        out[0] = "Milan";
        out[1] = "Genoa";
        return 2;
}

static void target_init(struct kds_target *t, const struct snp_report *r, const char *product) {
        uint64_t tcb = r->reported_tcb;

        t->product = product;
        t->turin = strcmp(product, "Turin") == 0;
        hex_encode(r->chip_id, t->turin ? SNP_HWID_LEN_TURIN : SNP_HWID_LEN, t->hwid);
        tcb_to_hex(tcb, t->tcb);
        if (t->turin)
                snprintf(t->query, sizeof(t->query), "blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u&fmcSPL=%u",
                         snp_tcb_byte(tcb, 1), snp_tcb_byte(tcb, 2), snp_tcb_byte(tcb, 3), snp_tcb_byte(tcb, 7),
                         snp_tcb_byte(tcb, 0));
        else
                snprintf(t->query, sizeof(t->query), "blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
                         snp_tcb_byte(tcb, 0), snp_tcb_byte(tcb, 1), snp_tcb_byte(tcb, 6), snp_tcb_byte(tcb, 7));
}

/* Add the certificates of a cache file; 1 when it exists, 0 when not. */
static int cache_add(const char *verb, const char *path, STACK_OF(X509) *certs) {
        char err[320];

        if (access(path, F_OK) < 0)
                return 0;
        if (snp_certs_load_file(path, certs, err, sizeof(err)) < 0) {
                cli_error(verb, "KDS cache: %s (remove the file to fetch it again)", err);
                return -EBADMSG;
        }
        return 1;
}

#if HAVE_LIBCURL

struct kds_buf {
        uint8_t *data;
        size_t size;
        bool overflow;
};

static size_t kds_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct kds_buf *b = userdata;
        size_t n = size * nmemb;
        uint8_t *p;

        if (b->size + n > SNP_CERT_FILE_MAX) {
                b->overflow = true;
                return 0;
        }
        p = realloc(b->data, b->size + n + 1);
        if (!p)
                return 0;
        memcpy(p + b->size, ptr, n);
        b->data = p;
        b->size += n;
        return n;
}

static unsigned retry_ms(void) {
        const char *e = getenv("SNPSEAL_KDS_RETRY_MS");
        uint32_t v;

        return e && parse_u32(e, 60000, &v) >= 0 ? v : KDS_RETRY_MS_DEFAULT;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* One GET with retries on rate limiting; 0 with the body, or < 0 printed. */
static int kds_get(const char *verb, const char *url, struct kds_buf *out) {
        unsigned delay = retry_ms();
        long status = 0;

        for (int attempt = 1; attempt <= KDS_TRIES; attempt++) {
                CURL *h = curl_easy_init();
                CURLcode rc;

                if (!h)
                        return cli_error(verb, "cannot start libcurl"), -ENOMEM;
                free(out->data);
                *out = (struct kds_buf) {};
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, kds_write);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
                curl_easy_setopt(h, CURLOPT_TIMEOUT, KDS_TIMEOUT_S);
                curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(h, CURLOPT_USERAGENT, "snpseal/" PACKAGE_VERSION);
                rc = curl_easy_perform(h);
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_cleanup(h);
                if (rc != CURLE_OK) {
                        if (out->overflow)
                                return cli_error(verb, "KDS: %s: the answer is larger than %u bytes", url,
                                                 SNP_CERT_FILE_MAX), -EFBIG;
                        return cli_error(verb, "KDS: %s: %s", url, curl_easy_strerror(rc)), -EIO;
                }
                if (status == 200 && out->size > 0)
                        return 0;
                if (status != 429 && status != 503)
                        break;
                if (attempt < KDS_TRIES) {
                        fprintf(stderr, PROG " %s: KDS: rate-limited (HTTP %ld), retrying in %u ms\n", verb, status,
                                delay);
                        sleep_ms(delay);
                        delay *= 2;
                }
        }
        if (status == 429 || status == 503)
                return cli_error(verb, "KDS: %s: still rate-limited (HTTP %ld) after %d tries; try again later", url,
                                 status, KDS_TRIES), -EAGAIN;
        return cli_error(verb, "KDS: %s: HTTP %ld", url, status), status == 404 ? -ENOENT : -EIO;
}

/* DIR/PRODUCT, creating DIR's missing parents too (mode 0755: the cache
 * holds public certificates). */
static int mkdir_p(const char *dir, const char *product, char *out, size_t size) {
        if ((size_t) snprintf(out, size, "%s/%s", dir, product) >= size)
                return -ENAMETOOLONG;
        for (char *p = out + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(out, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;

                        *p = '/';
                        return r;
                }
                *p = '/';
        }
        if (mkdir(out, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_atomic(const char *path, const uint8_t *data, size_t size) {
        char tmp[KDS_PATH_MAX];
        int fd, r = 0;

        if ((size_t) snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = cli_write_all(fd, data, size);
        if (r >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r > 0)
                r = 0;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

/* Fetch url into the cache file path (checked to parse as certificates or a CRL). */
static int kds_fetch(const char *verb, const struct verify_kds *k, const char *product, const char *url,
                     const char *path, bool crl) {
        struct kds_buf b = {};
        char dir[KDS_PATH_MAX], err[320];
        STACK_OF(X509) *tmp = NULL;
        int r;

        r = kds_get(verb, url, &b);
        if (r >= 0 && !crl) {
                tmp = sk_X509_new_null();
                r = tmp ? snp_certs_parse(b.data, b.size, tmp, url, err, sizeof(err)) : -ENOMEM;
                if (r < 0)
                        cli_error(verb, "KDS: %s", err);
                snp_x509_stack_freep(&tmp);
        }
        if (r >= 0) {
                r = mkdir_p(k->cache, product, dir, sizeof(dir));
                if (r >= 0)
                        r = write_atomic(path, b.data, b.size);
                if (r < 0)
                        cli_error(verb, "cannot write %s: %s", path, strerror(-r));
        }
        free(b.data);
        return r;
}

static int fetch_missing(const char *verb, const struct verify_kds *k, const struct kds_target *t,
                         const char *vcek_path, const char *chain_path, const char *crl_path, bool need_vcek) {
        const char *base = k->url ? k->url : VERIFY_KDS_URL_DEFAULT;
        char url[KDS_PATH_MAX];
        int r;

        if (need_vcek && access(vcek_path, F_OK) < 0) {
                snprintf(url, sizeof(url), "%s/vcek/v1/%s/%s?%s", base, t->product, t->hwid, t->query);
                r = kds_fetch(verb, k, t->product, url, vcek_path, false);
                if (r < 0)
                        return r;
        }
        if (access(chain_path, F_OK) < 0) {
                snprintf(url, sizeof(url), "%s/%s/v1/%s/cert_chain", base, need_vcek ? "vcek" : "vlek", t->product);
                r = kds_fetch(verb, k, t->product, url, chain_path, false);
                if (r < 0)
                        return r;
        }
        /* The CRL changes: always fresh with --fetch. Without one the
         * revocation check is skipped, and said so. */
        snprintf(url, sizeof(url), "%s/vcek/v1/%s/crl", base, t->product);
        (void) unlink(crl_path);
        if (kds_fetch(verb, k, t->product, url, crl_path, true) < 0)
                fprintf(stderr, PROG " %s: KDS: no CRL: revocation is not checked\n", verb);
        return 0;
}

#endif /* HAVE_LIBCURL */

static int kds_product(const char *verb, const struct verify_kds *k, const struct kds_target *t, bool need_vcek,
                       bool need_chain, STACK_OF(X509) *certs, X509_CRL **crl) {
        char vcek_path[KDS_PATH_MAX], chain_path[KDS_PATH_MAX], crl_path[KDS_PATH_MAX];
        int r;

        if ((size_t) snprintf(vcek_path, sizeof(vcek_path), "%s/%s/vcek-%s-%s.der", k->cache, t->product, t->hwid,
                              t->tcb) >= sizeof(vcek_path) ||
            (size_t) snprintf(chain_path, sizeof(chain_path), "%s/%s/%scert_chain.pem", k->cache, t->product,
                              need_vcek ? "" : "vlek_") >= sizeof(chain_path) ||
            (size_t) snprintf(crl_path, sizeof(crl_path), "%s/%s/crl.der", k->cache, t->product) >= sizeof(crl_path))
                return cli_error(verb, "--cache: path too long"), -ENAMETOOLONG;
        if (k->fetch) {
#if HAVE_LIBCURL
                r = fetch_missing(verb, k, t, vcek_path, chain_path, crl_path, need_vcek);
                if (r < 0)
                        return r;
#else
                return cli_error(verb, "--fetch: this snpseal was built without libcurl; fetch the VCEK and "
                                 "cert_chain yourself and give them with --cert"), -EOPNOTSUPP;
#endif
        }
        r = need_vcek ? cache_add(verb, vcek_path, certs) : 1;
        if (r > 0 && need_chain)
                r = cache_add(verb, chain_path, certs);
        if (r > 0 && k->fetch && !*crl && access(crl_path, F_OK) == 0) {
                char err[320];

                if (snp_crl_load_file(crl_path, crl, err, sizeof(err)) < 0)
                        return cli_error(verb, "KDS: %s", err), -EBADMSG;
        }
        return r;
}

int verify_kds_certs(const char *verb, const struct verify_kds *k, const uint8_t *report, STACK_OF(X509) *certs,
                     X509_CRL **crl) {
        struct snp_report r;
        const char *products[3];
        size_t n;
        bool vlek, need_leaf, need_chain;
        int ret = 0;

        memcpy(&r, report, sizeof(r));
        vlek = ((r.signer_info & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT) == SNP_SIGNING_KEY_VLEK;
        need_leaf = !has_kind(certs, vlek ? SNP_CERT_VLEK : SNP_CERT_VCEK);
        need_chain = !has_kind(certs, vlek ? SNP_CERT_ASVK : SNP_CERT_ASK);
        if ((!need_leaf && !need_chain) || (vlek && need_leaf))
                return 0;   /* complete, or a VLEK: the KDS does not hand those out */
        n = report_products(&r, products);
        for (size_t i = 0; i < n; i++) {
                struct kds_target t;

                target_init(&t, &r, products[i]);
                ret = kds_product(verb, k, &t, need_leaf, need_chain, certs, crl);
                if (ret != 0 && !(ret == -ENOENT && i + 1 < n))
                        break;
        }
        return ret < 0 ? ret : 0;
}

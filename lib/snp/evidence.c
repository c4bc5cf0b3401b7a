/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/err.h>

#include "base64.h"
#include "evidence.h"
#include "hexutil.h"
#include "json-util.h"
#include "snp-error.h"
#include "x509.h"

bool snp_evidence_sniff(const void *data, size_t size) {
        const char *p = data;

        for (size_t i = 0; i < size; i++) {
                if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
                        continue;
                return p[i] == '{';
        }
        return false;
}

static const char *const kinds[] = { "vcek", "vlek", "ask", "asvk", "ark" };

static bool kind_known(const char *k) {
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (strcmp(k, kinds[i]) == 0)
                        return true;
        return false;
}

static int parse_cert(json_object *item, size_t i, STACK_OF(X509) *certs, char *errbuf, size_t errlen) {
        _cleanup_(freep) uint8_t *der = NULL;
        const char *kind, *b64;
        char what[64];
        size_t n;

        if (!json_object_is_type(item, json_type_object) || json_get_string(item, "kind", &kind) < 0 ||
            json_get_string(item, "der", &b64) < 0)
                return errbuf_set(errbuf, errlen, -EBADMSG,
                                  "evidence: certificates[%zu] needs \"kind\" and \"der\" strings", i);
        if (!kind_known(kind))
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: certificates[%zu]: unknown kind", i);
        n = base64_decoded_max(strlen(b64));
        if (n == 0 || n > SNP_CERT_FILE_MAX)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: certificates[%zu]: bad size", i);
        der = malloc(n);
        if (!der)
                return -ENOMEM;
        if (base64_decode(b64, strlen(b64), der, n, &n) < 0)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: certificates[%zu]: \"der\" is not base64", i);
        snprintf(what, sizeof(what), "evidence: certificates[%zu]", i);
        return snp_certs_parse(der, n, certs, what, errbuf, errlen);
}

static int parse_optional(json_object *o, struct snp_evidence *e, char *errbuf, size_t errlen) {
        const char *nonce;
        uint64_t uid;
        int r;

        r = json_get_string(o, "nonce", &nonce);
        if (r >= 0) {
                size_t len = strlen(nonce);

                if (len == 0 || len % 2 || len / 2 > sizeof(e->nonce) || hex_decode_exact(nonce, e->nonce, len / 2) < 0)
                        return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: \"nonce\" must be 1 to 64 bytes of hex");
                e->has_nonce = true;
                e->nonce_len = len / 2;
        } else if (r != -ENOENT)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: \"nonce\" must be a string");
        r = json_get_uint(o, "bound_uid", UINT32_MAX, &uid);
        if (r >= 0) {
                e->bound = true;
                e->bound_uid = (uint32_t) uid;
        } else if (r != -ENOENT)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: \"bound_uid\" must be a uid");
        return 0;
}

int snp_evidence_parse(const char *text, size_t len, struct snp_evidence *ret, STACK_OF(X509) *certs,
                       char *errbuf, size_t errlen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct snp_evidence e = { 0 };
        json_object *list = NULL;
        const char *format, *report;
        uint64_t version;
        int r;

        if (len > SNP_EVIDENCE_MAX)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: larger than %u bytes", SNP_EVIDENCE_MAX);
        r = json_parse_bounded(text, len, JSON_DEPTH_MAX, &o, errbuf, errlen);
        if (r < 0)
                return r;
        if (!o || !json_object_is_type(o, json_type_object) || json_get_string(o, "format", &format) < 0 ||
            strcmp(format, SNP_EVIDENCE_FORMAT) != 0)
                return errbuf_set(errbuf, errlen, -EBADMSG, "not snpseal evidence (\"format\": \"%s\" expected)",
                                  SNP_EVIDENCE_FORMAT);
        if (json_get_uint(o, "version", UINT32_MAX, &version) < 0 || version != SNP_EVIDENCE_VERSION)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: version not supported (this snpseal reads %d)",
                                  SNP_EVIDENCE_VERSION);
        if (json_get_string(o, "report", &report) < 0 ||
            json_get_base64_exact(o, "report", e.report, sizeof(e.report)) < 0)
                return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: \"report\" must be the base64 of %u bytes",
                                  SNP_REPORT_SIZE);
        r = parse_optional(o, &e, errbuf, errlen);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(o, "certificates", &list)) {
                if (!json_object_is_type(list, json_type_array))
                        return errbuf_set(errbuf, errlen, -EBADMSG, "evidence: \"certificates\" must be an array");
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        r = parse_cert(json_object_array_get_idx(list, i), i, certs, errbuf, errlen);
                        if (r < 0)
                                return r;
                }
        }
        *ret = e;
        return 0;
}

static const char *cert_kind_key(X509 *x) {
        switch (snp_cert_kind(x, NULL)) {
        case SNP_CERT_ARK:
                return "ark";
        case SNP_CERT_ASK:
                return "ask";
        case SNP_CERT_ASVK:
                return "asvk";
        case SNP_CERT_VCEK:
                return "vcek";
        case SNP_CERT_VLEK:
                return "vlek";
        default:
                return NULL;
        }
}

static int add_b64(json_object *o, const char *key, const void *data, size_t size) {
        size_t n = base64_encoded_len(size);
        _cleanup_(freep) char *s = NULL;

        if (n == SIZE_MAX || !(s = malloc(n + 1)) || base64_encode(data, size, s, n + 1) < 0)
                return -ENOMEM;
        return json_add(o, key, json_object_new_string(s));
}

static int add_certs(json_object *o, STACK_OF(X509) *certs) {
        json_object *list = json_object_new_array();

        if (json_add(o, "certificates", list) < 0)
                return -ENOMEM;
        for (int i = 0; certs && i < sk_X509_num(certs); i++) {
                X509 *x = sk_X509_value(certs, i);
                const char *kind = cert_kind_key(x);
                unsigned char *der = NULL;
                json_object *item;
                int len, r;

                if (!kind)
                        continue;   /* only AMD's kinds go into evidence */
                len = i2d_X509(x, &der);
                if (len <= 0)
                        return -EIO;
                item = json_object_new_object();
                r = item && json_object_array_add(list, item) == 0 ? 0 : -ENOMEM;
                if (r < 0)
                        json_object_put(item);
                if (r >= 0)
                        r = json_add(item, "kind", json_object_new_string(kind));
                if (r >= 0)
                        r = add_b64(item, "der", der, (size_t) len);
                OPENSSL_free(der);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct json_object *snp_evidence_to_json(const struct snp_evidence *e, STACK_OF(X509) *certs) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        char hex[2 * SNP_REPORT_DATA_LEN + 1];

        if (!o || json_add(o, "format", json_object_new_string(SNP_EVIDENCE_FORMAT)) < 0 ||
            json_add(o, "version", json_object_new_int(SNP_EVIDENCE_VERSION)) < 0 ||
            add_b64(o, "report", e->report, sizeof(e->report)) < 0 || add_certs(o, certs) < 0)
                return NULL;
        if (e->has_nonce) {
                hex_encode(e->nonce, e->nonce_len, hex);
                if (json_add(o, "nonce", json_object_new_string(hex)) < 0)
                        return NULL;
        }
        if (e->bound && json_add(o, "bound_uid", json_object_new_int64(e->bound_uid)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

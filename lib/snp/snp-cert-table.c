/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"
#include "snp-cert-table.h"
#include "snp-error.h"

/* RFC 4122 byte order: the bytes as the text reads. */
static const struct {
        enum snp_cert_guid kind;
        const char *name;
        uint8_t guid[16];
} guids[] = {
        { SNP_CERT_GUID_ARK,  "ark",  { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                        0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
        { SNP_CERT_GUID_ASK,  "ask",  { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                        0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
        { SNP_CERT_GUID_VCEK, "vcek", { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                        0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
        { SNP_CERT_GUID_VLEK, "vlek", { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                                        0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
        { SNP_CERT_GUID_CRL,  "crl",  { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
                                        0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea } },
};

const char *snp_cert_guid_to_string(enum snp_cert_guid kind) {
        for (size_t i = 0; i < ELEMENTSOF(guids); i++)
                if (guids[i].kind == kind)
                        return guids[i].name;
        return "other";
}

/* The same GUID in the mixed-endian (EFI) order: the first three fields swapped. */
static void guid_swap(const uint8_t in[16], uint8_t out[16]) {
        static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

        for (size_t i = 0; i < 16; i++)
                out[i] = in[order[i]];
}

static enum snp_cert_guid guid_kind(const uint8_t g[16]) {
        uint8_t swapped[16];

        guid_swap(g, swapped);
        for (size_t i = 0; i < ELEMENTSOF(guids); i++)
                if (memcmp(g, guids[i].guid, 16) == 0 || memcmp(swapped, guids[i].guid, 16) == 0)
                        return guids[i].kind;
        return SNP_CERT_GUID_OTHER;
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

int snp_cert_table_parse(const uint8_t *blob, size_t size, struct snp_cert_entry *entries, size_t max,
                         size_t *ret_n, char *errbuf, size_t errlen) {
        size_t n = 0;

        for (size_t i = 0;; i++) {
                const uint8_t *e = blob + i * SNP_CERT_ENTRY_SIZE;
                struct snp_cert_entry ent;

                if ((i + 1) * SNP_CERT_ENTRY_SIZE > size)
                        return errbuf_set(errbuf, errlen, -EBADMSG,
                                          "certificate table: no end entry within the %zu bytes the host gave", size);
                if (all_zero(e, SNP_CERT_ENTRY_SIZE))
                        break;
                if (i >= SNP_CERT_TABLE_MAX)
                        return errbuf_set(errbuf, errlen, -EBADMSG, "certificate table: more than %u entries",
                                          SNP_CERT_TABLE_MAX);
                memcpy(ent.guid, e, 16);
                ent.kind = guid_kind(e);
                ent.offset = get_le32(e + 16);
                ent.length = get_le32(e + 20);
                if (ent.length == 0 || ent.offset > size || ent.length > size - ent.offset)
                        return errbuf_set(errbuf, errlen, -EBADMSG,
                                          "certificate table: entry %zu (%s) at offset %u, %u bytes, lies outside "
                                          "the %zu bytes the host gave", i, snp_cert_guid_to_string(ent.kind),
                                          ent.offset, ent.length, size);
                if (n < max)
                        entries[n++] = ent;
        }
        *ret_n = n;
        return 0;
}

static const uint8_t *guid_bytes(enum snp_cert_guid kind) {
        for (size_t i = 0; i < ELEMENTSOF(guids); i++)
                if (guids[i].kind == kind)
                        return guids[i].guid;
        return NULL;
}

int snp_cert_table_build(const struct snp_cert_blob_item *items, size_t n, uint8_t *blob, size_t size,
                         size_t *ret_len) {
        size_t off = (n + 1) * SNP_CERT_ENTRY_SIZE;

        if (n >= SNP_CERT_TABLE_MAX || off > size)
                return -ENOBUFS;
        memset(blob, 0, size);
        for (size_t i = 0; i < n; i++) {
                const uint8_t *g = guid_bytes(items[i].kind);
                uint8_t *e = blob + i * SNP_CERT_ENTRY_SIZE;

                if (!g || items[i].length == 0 || items[i].length > size - off || off > UINT32_MAX)
                        return -ENOBUFS;
                memcpy(e, g, 16);
                put_le32(e + 16, (uint32_t) off);
                put_le32(e + 20, (uint32_t) items[i].length);
                memcpy(blob + off, items[i].data, items[i].length);
                off += items[i].length;
        }
        *ret_len = off;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The certificate table of SNP_GET_EXT_REPORT (GHCB specification; what the
 * host hands the guest next to a report): entries of a 16-byte GUID, a 32-bit
 * offset and a 32-bit length (little-endian), ended by an all-zero entry;
 * offsets are from the start of the blob. The GUIDs, in RFC 4122 byte order
 * (the order of their text), name the certificate:
 *   ARK  c0b406a4-a803-4952-9743-3fb6014cd0ae
 *   ASK  4ab7b379-bbac-4fe4-a02f-05aef327c782  (the ASVK for a VLEK)
 *   VCEK 63da758d-e664-4564-adc5-f4b93be8accd
 *   VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1
 *   CRL  92f81bc3-5811-4d3d-97ff-d19f88dc67ea
 * The table comes from the host: untrusted. The parser checks every entry
 * against the blob and takes GUIDs in the mixed-endian (EFI) order too.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Linux's limit on the blob (SEV_FW_BLOB_MAX_SIZE) and its page granularity. */
#define SNP_CERT_BLOB_MAX  0x4000u
#define SNP_CERT_BLOB_PAGE 0x1000u
#define SNP_CERT_TABLE_MAX 16u
#define SNP_CERT_ENTRY_SIZE 24u

enum snp_cert_guid {
        SNP_CERT_GUID_ARK,
        SNP_CERT_GUID_ASK,
        SNP_CERT_GUID_VCEK,
        SNP_CERT_GUID_VLEK,
        SNP_CERT_GUID_CRL,
        SNP_CERT_GUID_OTHER,
};

struct snp_cert_entry {
        enum snp_cert_guid kind;
        uint8_t guid[16];
        uint32_t offset;
        uint32_t length;
};

/* "ark", "ask", "vcek", "vlek", "crl", "other" */
const char *snp_cert_guid_to_string(enum snp_cert_guid kind);

/* Parse the table at the start of blob (size bytes). At most max entries
 * into entries, *ret_n of them. -EBADMSG with a message in errbuf when the
 * table has no end within the blob or within SNP_CERT_TABLE_MAX entries, or
 * an entry points outside the blob or has length 0. An all-zero blob is an
 * empty table (the host gave no certificates). */
int snp_cert_table_parse(const uint8_t *blob, size_t size, struct snp_cert_entry *entries, size_t max,
                         size_t *ret_n, char *errbuf, size_t errlen);

struct snp_cert_blob_item {
        enum snp_cert_guid kind;   /* not SNP_CERT_GUID_OTHER */
        const void *data;
        size_t length;
};
/* Build a table with n items into blob (size bytes, zeroed first): the
 * entries, the terminator, then the data. -ENOBUFS when it does not fit;
 * *ret_len is the bytes used. */
int snp_cert_table_build(const struct snp_cert_blob_item *items, size_t n, uint8_t *blob, size_t size,
                         size_t *ret_len);

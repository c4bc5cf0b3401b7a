/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bindings: the full MSG_KEY_REQ parameter set a key is derived with
 * (docs/PROTOCOL.md, "Identity and TCB rules"). A binding spec is what the user asked for
 * (CLI options); resolving it against the running VM's report gives a binding,
 * which maps 1:1 onto a key request and is stored next to every sealed object.
 *
 * Functions taking errbuf/errlen write an English sentence there on failure
 * (when errbuf is non-NULL). Errors: -EINVAL syntax or malformed input,
 * -ERANGE a value the platform cannot derive for (VMPL below ours, SVN above
 * the launch SVN, TCB above committed), -EPERM a binding refused for
 * persistent use, -ENOMEM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "snp-abi.h"

enum snp_root_key {
        SNP_ROOT_KEY_VCEK,
        SNP_ROOT_KEY_VLEK,
        SNP_ROOT_KEY_VMRK,
        _SNP_ROOT_KEY_MAX,
};

/* The default fields: measurement, policy, tcb_version. */
#define SNP_BINDING_DEFAULT_FIELDS (SNP_FIELD_MEASUREMENT | SNP_FIELD_POLICY | SNP_FIELD_TCB_VERSION)

/* A fully resolved binding. fields uses the GUEST_FIELD_SELECT bits (v1 only). */
struct snp_binding {
        enum snp_root_key root_key;
        uint64_t fields;
        uint32_t vmpl;
        uint32_t guest_svn;
        uint64_t tcb_version;
};

enum snp_tcb_choice {
        SNP_TCB_MIN,            /* per-byte min(LAUNCH_TCB, COMMITTED_TCB), the default */
        SNP_TCB_LAUNCH,
        SNP_TCB_COMMITTED,
        SNP_TCB_EXPLICIT,       /* tcb_version below */
};

/* What the user asked for, before resolution against the running VM. */
struct snp_binding_spec {
        enum snp_root_key root_key;
        uint64_t fields;
        bool vmpl_set;          /* otherwise: the caller's own VMPL */
        uint32_t vmpl;
        bool guest_svn_set;     /* otherwise: the launch SVN from the report */
        uint32_t guest_svn;
        enum snp_tcb_choice tcb;
        uint64_t tcb_version;   /* only for SNP_TCB_EXPLICIT */
};

/* "vcek", "vlek", "vmrk"; NULL for an invalid value. */
const char *snp_root_key_to_string(enum snp_root_key k);
/* Returns the enum value (>= 0) or -EINVAL. */
int snp_root_key_from_string(const char *s);
/* Name of one GUEST_FIELD_SELECT bit ("policy", …); NULL for other values. */
const char *snp_field_to_string(uint64_t bit);
/* The bit for a field name, or 0 when unknown. */
uint64_t snp_field_from_string(const char *s);

/* vcek; measurement,policy,tcb_version; own VMPL; launch SVN; min TCB. */
void snp_binding_spec_init_default(struct snp_binding_spec *s);
/* Apply one CLI option: "bind", "root-key", "vmpl", "guest-svn" or "tcb".
 * s is changed only on success. */
int snp_binding_spec_set(struct snp_binding_spec *s, const char *option, const char *value,
                         char *errbuf, size_t errlen);
/* Resolve against the running VM (its report) and the caller's VMPL. */
int snp_binding_resolve(const struct snp_binding_spec *s, const struct snp_report *running,
                        uint32_t own_vmpl, struct snp_binding *ret, char *errbuf, size_t errlen);

/* Structural check: known root key, v1 fields only, VMPL 0..3. */
int snp_binding_validate(const struct snp_binding *b, char *errbuf, size_t errlen);
/* The key request for a valid binding (message version 1, KEY_SEL explicit). */
void snp_binding_to_key_req(const struct snp_binding *b, struct snp_msg_key_req *ret);
/* The binding floor (docs/BOOT.md "Threat model"): every key that protects
 * something persistent comes from the VCEK or VLEK and binds measurement,
 * policy and tcb_version, or any guest the host launches on the same chip
 * could derive it. -EPERM naming the binding and what it lacks. */
int snp_binding_check_floor(const struct snp_binding *b, char *errbuf, size_t errlen);
/* For enrolling and sealing: the floor unless allow_weak (the administrator's
 * allow_weak_bindings); then VMRK, a missing measurement or a missing
 * tcb_version unless forced. -EPERM. */
int snp_binding_check_persistent(const struct snp_binding *b, bool allow_weak, bool force, char *errbuf,
                                 size_t errlen);

/* {"root_key","fields","vmpl","guest_svn","tcb_version"}; NULL on ENOMEM. */
json_object *snp_binding_to_json(const struct snp_binding *b);
/* Strict parse; unknown object keys are ignored. */
int snp_binding_from_json(json_object *o, struct snp_binding *ret, char *errbuf, size_t errlen);
/* "vcek; policy,measurement,tcb_version; vmpl 0; svn 1; tcb 03000000000008d1".
 * Returns the length, or -ENOBUFS when size is too small. */
int snp_binding_format(const struct snp_binding *b, char *buf, size_t size);

/* The members of a recorded identity, in canonical order (the order of
 * differences in messages and of sealed objects' associated data). */
enum snp_identity_type {
        SNP_IDENTITY_HEX,       /* lowercase hex of a fixed length */
        SNP_IDENTITY_POLICY,    /* "0x" and 1..16 lowercase hex digits, no leading zero */
        SNP_IDENTITY_U32,       /* a JSON integer 0..2^32-1 */
};
struct snp_identity_member {
        const char *key;         /* JSON key */
        const char *label;       /* in difference messages ("image ID") */
        const char *long_label;  /* in dumps ("committed TCB") */
        uint64_t bit;            /* the GUEST_FIELD_SELECT bit it records */
        enum snp_identity_type type;
        size_t hex_len;
};
#define SNP_IDENTITY_MEMBERS 6
extern const struct snp_identity_member snp_identity_members[SNP_IDENTITY_MEMBERS];
const struct snp_identity_member *snp_identity_member_find(const char *key);
/* Check a recorded identity against the bound fields: every bound member
 * recorded and well-formed. strict: nothing else (unknown keys and recorded
 * but unbound members refused); otherwise unknown keys are ignored and known
 * ones must be well-formed. Messages start with what ("identity"). -EINVAL. */
int snp_identity_check(json_object *id, uint64_t fields, bool strict, const char *what,
                       char *errbuf, size_t errlen);

/* The recorded identity: the running VM's values of the bound fields
 * ("measurement", "policy", "image_id", "family_id", "guest_svn", "tcb"). */
int snp_binding_identity_json(const struct snp_binding *b, const struct snp_report *r, json_object **ret);
/* Write one line per differing field ("measurement changed: sealed to 3f2a…,
 * running 9c01…"; a long value from its first differing byte: "sealed to
 * …3f2a0000…, running …9c010000… (first difference at byte 17)"), separated
 * by '\n', into buf (truncated to fit; buf may be NULL when size is 0). Returns the number of differing fields, or -EINVAL
 * when either argument is not an object. */
int snp_identity_diff(json_object *sealed, json_object *current, char *buf, size_t size);

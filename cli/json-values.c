/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * One JSON form per value in what snpseal prints with --json (snpseal(1),
 * "JSON OUTPUT"): a value's member holds its raw form, a string that is the
 * same in every command — "0x" and 16 hex digits for a 64-bit register
 * (policy, platform_info), 16 hex digits for a TCB version, lowercase hex
 * for byte strings —, and where snpseal decodes it, the decoding is a
 * sibling member "<name>_decoded". The agent's replies and the stored
 * formats keep theirs (the recorded identity's policy is "0x30000" in
 * sealed objects and tokens): the CLI translates here, and only here.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hexutil.h"
#include "json-util.h"
#include "json-values.h"

#define DECODED_SUFFIX "_decoded"

/* The "raw" string of a decoded object, or NULL. */
static const char *decoded_raw(json_object *v) {
        json_object *raw;

        if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "raw", &raw) ||
            !json_object_is_type(raw, json_type_string))
                return NULL;
        return json_object_get_string(raw);
}

static int add_decoded(json_object *out, const char *key, json_object *decoded) {
        char name[128];

        if ((size_t) snprintf(name, sizeof(name), "%s" DECODED_SUFFIX, key) >= sizeof(name))
                return -EINVAL;
        return json_add(out, name, json_object_get(decoded));
}

/* key: value, or for a decoded object key: its raw string and
 * key_decoded: the object. */
static int add_value(json_object *out, const char *key, json_object *v) {
        const char *raw = decoded_raw(v);

        if (!v)
                return json_object_object_add(out, key, NULL) < 0 ? -ENOMEM : 0;
        if (!raw)
                return json_add(out, key, json_object_get(v));
        if (json_add(out, key, json_object_new_string(raw)) < 0)
                return -ENOMEM;
        return add_decoded(out, key, v);
}

json_object *json_values_report(json_object *report) {
        _cleanup_(json_object_putp) json_object *out = json_object_new_object();

        if (!out || !json_object_is_type(report, json_type_object))
                return NULL;
        json_object_object_foreach(report, key, v)
                if (add_value(out, key, v) < 0)
                        return NULL;
        return TAKE_PTR(out);
}

/* GetStatus: "policy" with "policy_flags", "launch_tcb" … with
 * "tcb_decoded": {"launch": …}, "platform_info" decoded in place. */
json_object *json_values_status(json_object *st) {
        _cleanup_(json_object_putp) json_object *out = json_object_new_object();
        json_object *tcbs = NULL, *d;
        size_t len;

        if (!out || !json_object_is_type(st, json_type_object))
                return NULL;
        (void) json_object_object_get_ex(st, "tcb_decoded", &tcbs);
        json_object_object_foreach(st, key, v) {
                char which[64];
                int r = 0;

                len = strlen(key);
                if (strcmp(key, "tcb_decoded") == 0)
                        continue;
                if (strcmp(key, "policy_flags") == 0)
                        r = add_decoded(out, "policy", v);
                else
                        r = add_value(out, key, v);
                /* "launch_tcb" is followed by tcb_decoded.launch. */
                if (r >= 0 && len > 4 && len - 4 < sizeof(which) && strcmp(key + len - 4, "_tcb") == 0) {
                        memcpy(which, key, len - 4);
                        which[len - 4] = '\0';
                        if (tcbs && json_object_object_get_ex(tcbs, which, &d))
                                r = add_decoded(out, key, d);
                }
                if (r < 0)
                        return NULL;
        }
        return TAKE_PTR(out);
}

json_object *json_values_identity(json_object *identity) {
        _cleanup_(json_object_putp) json_object *out = json_object_new_object();
        uint64_t policy;
        char hex[2 + 16 + 1];

        if (!out || !json_object_is_type(identity, json_type_object))
                return NULL;
        json_object_object_foreach(identity, key, v) {
                json_object *nv = json_object_get(v);

                /* The recorded "0x30000" as every other policy: padded. */
                if (strcmp(key, "policy") == 0 && json_object_is_type(v, json_type_string) &&
                    parse_u64(json_object_get_string(v), UINT64_MAX, &policy) >= 0) {
                        (void) snprintf(hex, sizeof(hex), "0x%016" PRIx64, policy);
                        json_object_put(nv);
                        nv = json_object_new_string(hex);
                }
                if (!v ? json_object_object_add(out, key, NULL) < 0 : json_add(out, key, nv) < 0)
                        return NULL;
        }
        return TAKE_PTR(out);
}

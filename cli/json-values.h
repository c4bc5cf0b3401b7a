/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One JSON form per value in snpseal's --json output (json-values.c,
 * snpseal(1) "JSON OUTPUT"). Each function returns a new object (NULL on
 * ENOMEM or when the argument is not an object); the argument is not
 * changed.
 */
#pragma once

#include <json-c/json.h>

/* A decoded report (snp_report_to_json()): every decoded member
 * {"raw": R, …} becomes "key": R and "key_decoded": {…}. */
json_object *json_values_report(json_object *report);
/* The agent's GetStatus reply: "policy_flags" becomes "policy_decoded",
 * "tcb_decoded": {"launch": …} becomes "launch_tcb_decoded" …, and decoded
 * members as in json_values_report(). */
json_object *json_values_status(json_object *st);
/* A recorded identity with its policy as "0x" and 16 hex digits. */
json_object *json_values_identity(json_object *identity);

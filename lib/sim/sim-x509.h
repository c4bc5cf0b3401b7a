/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's certificate chain in real X.509 form (docs/SIMULATOR.md):
 * its own "ARK" (self-signed) → "ASK" → VCEK, and ARK → "ASVK" → VLEK, with
 * AMD's subject names and extensions (productName, SPLs equal to the
 * reported TCB, hwID equal to CHIP_ID — 8 bytes on Turin —, cspID on the
 * VLEK), so that snpseal verify runs end to end on simulator output. The
 * keys are ECDSA P-384, derived from the state's secrets (sim_key());
 * AMD's ARK and ASK are RSA-4096 with RSA-PSS. A simulated root is trusted
 * only when named (snpseal verify --trust-anchor), never by default.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "sim-state.h"

/* "Milan", "Genoa" or "Turin" from the state's CPUID. */
const char *sim_product(const struct sim_state *s);

/* The chain for reports signed by the VLEK (vlek) or the VCEK: leaf, ASK or
 * ASVK, ARK. -ENOENT for the VLEK chain without a VLEK. */
int sim_cert_chain(const struct sim_state *s, bool vlek, STACK_OF(X509) **ret);

/* The extended report's certificate table for that chain (snp-cert-table.h)
 * into blob (size bytes); *ret_len the bytes used. */
int sim_cert_table(const struct sim_state *s, bool vlek, uint8_t *blob, size_t size, size_t *ret_len);

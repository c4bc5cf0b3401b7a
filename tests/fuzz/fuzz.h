/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the fuzz harnesses: the libFuzzer entry point and an invariant
 * check that stays on with NDEBUG and crashes so both libFuzzer and the
 * replay runner (replay.c) report the input.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,      \
                                __LINE__, #cond);                                       \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* Returns the length of the part of data before the first NUL; *ret_rest is
 * what follows that NUL (empty when there is none). */
static inline size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **ret_rest,
                                size_t *ret_rest_size) {
        for (size_t i = 0; i < size; i++)
                if (data[i] == 0) {
                        *ret_rest = data + i + 1;
                        *ret_rest_size = size - i - 1;
                        return i;
                }
        *ret_rest = data + size;
        *ret_rest_size = 0;
        return size;
}

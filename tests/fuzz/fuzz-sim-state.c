/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/*
 * sim_state_load(): the simulator's state file is read by the agent's
 * simulator backend and by the LD_PRELOAD shim. The input is written to a
 * memfd and loaded through /proc/self/fd/N, the same path as a real file.
 * Invariants: a refusal says why; an accepted state saves as JSON that loads
 * again to the same state (compared through its JSON text).
 */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"
#include "secret.h"
#include "sim-state.h"

static int memfd = -1;
static char memfd_path[64];

static void put_file(const void *data, size_t size) {
        if (memfd < 0) {
                memfd = memfd_create("fuzz-sim-state", MFD_CLOEXEC);
                FUZZ_CHECK(memfd >= 0);
                (void) snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
        }
        FUZZ_CHECK(ftruncate(memfd, 0) == 0);
        FUZZ_CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t) size);
}

static void check_round_trip(const struct sim_state *s) {
        _cleanup_secret_ char *text = NULL, *again = NULL, *pub = NULL;
        struct sim_state s2;
        char err[256] = "", value[SIM_STATE_VALUE_MAX];
        const char *key;

        FUZZ_CHECK(sim_state_to_json(s, true, &text) == 0);
        put_file(text, strlen(text));
        FUZZ_CHECK(sim_state_load(memfd_path, &s2, err, sizeof(err)) == 0);
        FUZZ_CHECK(sim_state_to_json(&s2, true, &again) == 0);
        FUZZ_CHECK(strcmp(text, again) == 0);
        FUZZ_CHECK(sim_state_to_json(s, false, &pub) == 0);
        for (size_t i = 0; (key = sim_state_key_name(i)); i++)
                FUZZ_CHECK(sim_state_get(s, key, false, value, sizeof(value)) == 0);
        sim_state_wipe(&s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct sim_state s;
        char err[256] = "";
        int r;

        put_file(data, size);
        r = sim_state_load(memfd_path, &s, err, sizeof(err));
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -EFBIG || r == -ERANGE);
                FUZZ_CHECK(err[0] != '\0');
                FUZZ_CHECK(size <= SIM_STATE_FILE_MAX || r == -EFBIG);
                return 0;
        }
        FUZZ_CHECK(size <= SIM_STATE_FILE_MAX);
        check_round_trip(&s);
        sim_state_wipe(&s);
        return 0;
}

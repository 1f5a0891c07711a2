/* Shared by loom's libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by
 * ./configure --enable-fuzzing, run by scripts/fuzz). Every loom reader
 * takes a path, so the fuzzer's bytes go to a file first; a refusal must
 * come with a message, anything else (a crash, a sanitizer report, an
 * abort below) is a bug. */
#ifndef LOOM_FUZZ_UTIL_H
#define LOOM_FUZZ_UTIL_H

#include "base/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to this process's file `tag` (one per harness and process)
 * and returns its path. */
static inline const char *fuzz_file(const char *tag, const uint8_t *data, size_t size)
{
    static char path[128];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/loom-fuzz-%s.%d", dir && *dir ? dir : "/tmp", tag,
             (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return path;
}

/* A failure must say why. */
static inline void fuzz_refused(int rc)
{
    if (rc < 0 && !*loom_error_message())
        abort();
    loom_error_clear();
}

#endif

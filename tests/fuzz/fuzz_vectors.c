/* libFuzzer target for the vector file readers (src/embed/vectors.c): any
 * bytes, plain or gzip, must load or be refused with a message, never
 * crash or read out of bounds. Built and run by scripts/fuzz-vectors. */
#include "config.h"
#include "base/error.h"
#include "embed/vectors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/loom-fuzz-vectors.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    loom_vectors *v;
    int rc = loom_vectors_load(&v, path);
    if (rc == 0) {
        /* A loaded file is consistent: every word is found at its row. */
        for (size_t i = 0; i < loom_vectors_count(v); i++)
            if (loom_vectors_find(v, loom_vectors_word(v, i)) != (long)i)
                abort();
        loom_vectors_free(v);
    } else if (!*loom_error_message()) {
        abort(); /* refused without saying why */
    }
    unlink(path);
    return 0;
}

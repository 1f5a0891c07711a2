/* libFuzzer target for the vector file readers (src/embed/vectors.c): any
 * bytes, plain or gzip, must load or be refused with a message, never
 * crash or read out of bounds. */
#include "config.h"
#include "embed/vectors.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("vectors", data, size);
    loom_vectors *v;
    int rc = loom_vectors_load(&v, path);
    if (rc == 0) {
        /* A loaded file is consistent: every word is found at its row. */
        for (size_t i = 0; i < loom_vectors_count(v); i++)
            if (loom_vectors_find(v, loom_vectors_word(v, i)) != (long)i)
                abort();
        loom_vectors_free(v);
    }
    fuzz_refused(rc);
    unlink(path);
    return 0;
}

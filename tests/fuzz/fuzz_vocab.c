/* libFuzzer target for vocabulary files ("word count" lines, src/text/vocab.c):
 * a file that loads must find each of its words at its id. */
#include "config.h"
#include "text/vocab.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("vocab", data, size);
    loom_vocab *v;
    int rc = loom_vocab_load(&v, path);
    if (rc == 0) {
        for (size_t i = 0; i < loom_vocab_size(v); i++) {
            const char *w = loom_vocab_word(v, (int32_t)i);
            if (loom_vocab_find(v, w, strlen(w)) != (int32_t)i)
                abort();
        }
        loom_vocab_free(v);
    }
    fuzz_refused(rc);
    unlink(path);
    return 0;
}

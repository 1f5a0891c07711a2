/* libFuzzer target for SentencePiece .model files (src/text/subword.cc), as
 * `loom subword` and model files that embed them load them: a model that
 * loads must encode a sentence into ids it holds and decode them again. */
#include "config.h"
#include "text/subword.h"
#include "fuzz_util.h"

#include <string.h>

/* SentencePiece's wrapper is a module that the first load opens: opened
 * here, before fuzzing, so that libFuzzer counts its coverage. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    loom_subword *sw;
    if (loom_subword_load_bytes(&sw, "", 0, "nothing") == 0)
        loom_subword_free(sw);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_subword *sw;
    int rc = loom_subword_load_bytes(&sw, data, size, "fuzz.model");
    if (rc == 0) {
        static const char text[] = "Tom isn't here, Mary. \xc3\xa9t\xc3\xa9 42 \xe2\x82\xac!";
        loom_pieces p = {0};
        int n = loom_subword_size(sw);
        rc = loom_subword_encode(sw, text, sizeof text - 1, &p);
        if (rc == 0) {
            int32_t ids[256];
            size_t k = p.n < 256 ? p.n : 256;
            for (size_t i = 0; i < k; i++) {
                if (p.v[i].id < 0 || p.v[i].id >= n || p.v[i].end > sizeof text - 1 ||
                    p.v[i].begin > p.v[i].end)
                    abort();
                ids[i] = p.v[i].id;
            }
            rc = loom_subword_decode(sw, ids, k, &p);
        }
        fuzz_refused(rc); /* encoding may refuse a model that loaded, with a message */
        rc = 0;
        for (int i = 0; i < n && i < 64; i++)
            if (!loom_subword_piece(sw, i))
                abort();
        loom_pieces_free(&p);
        loom_subword_free(sw);
    }
    fuzz_refused(rc);
    return 0;
}

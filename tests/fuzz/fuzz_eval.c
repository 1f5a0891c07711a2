/* libFuzzer target for the evaluation files (src/embed/eval.c): the bytes
 * are read both as an analogy file (questions-words.txt format) and as a
 * word-pair similarity file, against a small fixed set of vectors. */
#include "config.h"
#include "embed/eval.h"
#include "embed/vectors.h"
#include "fuzz_util.h"

static const loom_index *vectors(void)
{
    static loom_index *ix;
    if (ix)
        return ix;
    static const char *const words[] = {"king",  "queen",  "man", "woman",
                                        "paris", "France", "a",   "Ä"};
    float rows[8 * 3];
    for (int i = 0; i < 8 * 3; i++)
        rows[i] = (float)((i * 7919) % 13) - 6.0f;
    const char *path = fuzz_file("eval-vectors.txt", NULL, 0);
    loom_vectors *v;
    if (loom_vectors_save_rows(path, LOOM_VEC_TEXT, 8, 3, words, rows) < 0 ||
        loom_vectors_load(&v, path) < 0 || loom_index_new(&ix, v, LOOM_INDEX_IN_PLACE, 1) < 0)
        abort();
    unlink(path);
    return ix; /* kept for the process's life, with v */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const loom_index *ix = vectors();
    const char *path = fuzz_file("eval", data, size);
    loom_eval_opts opts = {0, size > 0 && (data[0] & 1), size > 0 && (data[0] & 2) ? 1 : 0};
    loom_analogy_eval *a;
    int rc = loom_eval_analogies(&a, ix, path, &opts);
    if (rc == 0)
        loom_analogy_eval_free(a);
    fuzz_refused(rc);
    loom_similarity_eval s;
    fuzz_refused(loom_eval_similarity(&s, ix, path, &opts));
    unlink(path);
    return 0;
}

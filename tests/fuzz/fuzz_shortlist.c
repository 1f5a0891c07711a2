/* libFuzzer target for vocabulary shortlist tables (src/seq/shortlist.c,
 * 'source<TAB>target target ...' lines), read for small vocabularies: a
 * table that loads must give candidate sets in increasing id order that
 * start with the specials, whatever the source ids of a batch. */
#include "config.h"
#include "seq/shortlist.h"
#include "text/vocab.h"
#include "fuzz_util.h"

#include <string.h>

static loom_vocab *small_vocab(const char *const *words, int n)
{
    loom_vocab *v = NULL;
    if (loom_vocab_new(&v) || loom_vocab_add_specials(v))
        abort();
    for (int i = 0; i < n; i++)
        if (loom_vocab_add(v, words[i], strlen(words[i]), (uint64_t)(n - i)))
            abort();
    if (loom_vocab_finalize(v, 1, 1000))
        abort();
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static loom_vocab *src, *tgt;
    if (!src) {
        static const char *const s[] = {"a", "b", "c", "the", "cat", "\xc3\xa9t\xc3\xa9"};
        static const char *const t[] = {"a", "b", "le", "chat", "\xc3\xa9t\xc3\xa9", "x", "y"};
        src = small_vocab(s, 6);
        tgt = small_vocab(t, 7);
    }
    const char *path = fuzz_file("shortlist", data, size);
    loom_shortlist *sl;
    int top = size ? data[0] % 8 : 0, best = size > 1 ? data[1] % 4 : 0;
    int rc = loom_shortlist_read(&sl, path, src, tgt, top, best);
    if (rc == 0) {
        int V = (int)loom_vocab_size(tgt), cand[64];
        int batch[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4, 9, -1, 1000};
        int n = loom_shortlist_candidates(sl, batch, sizeof batch / sizeof *batch, cand);
        if (n < 4 || n > V || loom_shortlist_tgt_vocab(sl) != V)
            abort();
        for (int k = 0; k < n; k++)
            if ((k < 4 && cand[k] != k) || (k > 0 && cand[k] <= cand[k - 1]) || cand[k] >= V)
                abort();
        loom_shortlist_free(sl);
    }
    fuzz_refused(rc);
    unlink(path);
    return 0;
}

/* libFuzzer target for sentence-pair files (src/seq/data.c): read, count
 * vocabularies, map to ids and cut every batch, as seq2seq does. */
#include "config.h"
#include "seq/data.h"
#include "fuzz_util.h"

static int batches(const loom_seq_pairs *p)
{
    loom_vocab *v[2] = {NULL, NULL};
    loom_seq_corpus *c = NULL;
    loom_seq_batcher *bt = NULL;
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++)
        if ((rc = loom_vocab_new(&v[s])) == 0 && (rc = loom_vocab_add_specials(v[s])) == 0 &&
            (rc = loom_seq_pairs_count_vocab(p, s, v[s])) == 0)
            rc = loom_vocab_finalize(v[s], 1, 1000);
    if (rc == 0)
        rc = loom_seq_corpus_build(&c, p, v[0], v[1], 50);
    if (rc == 0 && c->n > 0 && (rc = loom_seq_batcher_new(&bt, c, 4, 1)) == 0) {
        loom_seq_batcher_epoch(bt, 0, 1);
        for (size_t k = 0; k < loom_seq_batcher_count(bt) && rc == 0; k++) {
            loom_seq_batch b;
            rc = loom_seq_batcher_get(bt, k, &b);
        }
    }
    loom_seq_batcher_free(bt);
    loom_seq_corpus_free(c);
    loom_vocab_free(v[0]);
    loom_vocab_free(v[1]);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("pairs", data, size);
    loom_tok_opts tok;
    loom_tok_opts_default(&tok);
    loom_seq_pairs *p;
    int rc = loom_seq_pairs_read(&p, path, NULL, &tok, &tok);
    if (rc == 0) {
        rc = batches(p);
        loom_seq_pairs_free(p);
    }
    fuzz_refused(rc);
    unlink(path);
    return 0;
}

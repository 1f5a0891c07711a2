/* loom: transfer learning for sequence models: initialising an embedding
 * table from a word vector file (any format loom reads) and measuring how
 * much of a vocabulary the file covers. Knows words, vectors and one
 * parameter; nothing of training. */
#ifndef LOOM_SEQ_TRANSFER_H
#define LOOM_SEQ_TRANSFER_H

#include <stdint.h>

#include "core/param.h"
#include "text/vocab.h"

typedef struct {
    size_t words, found;           /* vocabulary words (specials excluded) and found ones */
    uint64_t tokens, tokens_found; /* running tokens (vocabulary counts) and found ones */
} loom_seq_coverage;

/* Copies the vector of every vocabulary word found in `path` into its row
 * of `emb` (vocab size x dim); the other rows are drawn N(0, sd) with sd
 * the standard deviation of the file's values, so both kinds of row have
 * one scale. A dimension other than emb's is LOOM_EINVAL naming the file. */
int loom_seq_init_embedding(loom_param *emb, const loom_vocab *v, const char *path, uint64_t seed,
                            loom_seq_coverage *cov);

#endif

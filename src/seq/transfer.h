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
    double sd, scale; /* the file's standard deviation and the factor applied (1: none) */
} loom_seq_coverage;

/* Copies the vector of every vocabulary word found in `path` into its row
 * of `emb` (vocab size x dim); the other rows are drawn N(0, sd) with sd
 * the standard deviation of the file's values, so both kinds of row have
 * one scale. With `unit_sd`, every copied value is first multiplied by
 * 1/sd (one factor for the whole file) and the other rows are N(0, 1):
 * the scale of the random initialisation, which word2vec vectors (sd
 * ~0.1-0.3) are far below. A dimension other than emb's is LOOM_EINVAL
 * naming the file. */
int loom_seq_init_embedding(loom_param *emb, const loom_vocab *v, const char *path, int unit_sd,
                            uint64_t seed, loom_seq_coverage *cov);

/* A vocabulary that also holds the words of a vector file, so that words
 * the training data lacks (or has too rarely) get their own row, filled
 * from their vector, instead of <unk>: the words of `counts` (training
 * counts with specials, finalised without pruning) seen at least
 * min_count times (at most max_size of them; 0: no limit), then the first
 * `vec_words` words of the vector file `path` (0: all; a word2vec file
 * lists the most frequent first) that those lack, each with its training
 * count (0 if never seen). Ids follow loom_vocab_finalize's order.
 * `*added` is the number of words taken from the vectors. */
int loom_seq_vocab_with_vectors(loom_vocab **out, const loom_vocab *counts, uint64_t min_count,
                                size_t max_size, const char *path, size_t vec_words, size_t *added);

#endif

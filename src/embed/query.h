/* loom: nearest-word and analogy queries over a vector file. The matrix is
 * unit-normalised once; a query is one GEMV, a batch of queries a GEMM over
 * the matrix in blocks, each followed by a partial top-k selection. Worker
 * threads take blocks of queries. Knows vectors, not files or evaluation.
 * The index, nearest, analogy and search are public (loom.h); the workers
 * call BLAS themselves, so a search sets OpenBLAS to one thread while it
 * runs (and restores the count after). */
#ifndef LOOM_EMBED_QUERY_H
#define LOOM_EMBED_QUERY_H

#include <stddef.h>

#include "base/parallel.h"
#include "embed/vectors.h"
#include "loom.h"

const loom_vectors *loom_index_vectors(const loom_index *ix);
/* Row i scaled to unit length (a zero row stays zero). */
const float *loom_index_unit(const loom_index *ix, size_t i);

/* The index's searches run their shares through run(fctx, ...) instead of
 * loom_parallel_run (NULL: loom_parallel_run again). */
void loom_index_set_fanout(loom_index *ix, loom_fanout_fn run, void *fctx);

/* Many nearest queries at once (one GEMM per block of them): query i sums
 * the rows rows[i * width .. i * width + width), where -1 entries are
 * padding, and excludes them. hits is m x k. */
int loom_index_nearest_many(const loom_index *ix, size_t m, const long *rows, size_t width,
                            size_t k, size_t limit, loom_hit *hits);

/* gensim's most_similar (LOOM_ANALOGY_ADD: the cosine with the mean of
 * the positive unit vectors minus the negative ones) and
 * most_similar_cosmul (LOOM_ANALOGY_MUL: the product of (1 + cos) / 2 over
 * the positives over the product over the negatives, + 1e-6) for m queries
 * at once, one GEMM per block of them: query i has the positive rows
 * pos[i * npos .. + npos) and the negative rows neg[i * nneg .. + nneg),
 * -1 entries being padding, and excludes all of them. 1 to 1024 rows per
 * query. hits is m x k. */
int loom_index_most_similar(const loom_index *ix, size_t m, const long *pos, size_t npos,
                            const long *neg, size_t nneg, int method, size_t k, size_t limit,
                            loom_hit *hits);

#endif

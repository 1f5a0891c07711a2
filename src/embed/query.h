/* loom: nearest-word and analogy queries over a vector file. The matrix is
 * unit-normalised once; a query is one GEMV, a batch of queries a GEMM over
 * the matrix in blocks, each followed by a partial top-k selection. Worker
 * threads take blocks of queries. Knows vectors, not files or evaluation. */
#ifndef LOOM_EMBED_QUERY_H
#define LOOM_EMBED_QUERY_H

#include <stddef.h>

#include "embed/vectors.h"

typedef struct loom_index loom_index;

/* One answer: a row of the vectors and its score (cosine for nearest and
 * 3CosAdd, the 3CosMul objective for 3CosMul). */
typedef struct {
    long row;
    float score;
} loom_hit;

enum {
    LOOM_INDEX_IN_PLACE = 1, /* normalise v's own matrix instead of a copy */
    /* a lone query goes through the GEMM too (not a GEMV, which sums in
     * another order) and every GEMM has a multiple of 16 rows: a query's
     * hits then do not depend on how many queries are searched with it, its
     * scores being the same to the bit with OpenBLAS's Prescott, Sandybridge,
     * SkylakeX and Cooperlake kernels (within 1e-6 with its Haswell ones);
     * a server batching its clients' queries needs that (test_vectors) */
    LOOM_INDEX_BATCH_INVARIANT = 2
};

enum { LOOM_ANALOGY_ADD = 0, LOOM_ANALOGY_MUL = 1 };

/* Builds the index of v (which must outlive it). `threads` <= 0 means one
 * per core. The workers call BLAS themselves, so a search sets OpenBLAS to
 * one thread while it runs (and restores the count after): results do not
 * depend on the number of threads. */
int loom_index_new(loom_index **out, loom_vectors *v, int flags, int threads);
void loom_index_free(loom_index *ix);

const loom_vectors *loom_index_vectors(const loom_index *ix);
/* Row i scaled to unit length (a zero row stays zero). */
const float *loom_index_unit(const loom_index *ix, size_t i);

/* The best k rows for each of m query vectors Q (m x dim, any length; the
 * score is the cosine with the query's direction). Only rows below `limit`
 * are candidates (0: all). exclude is m x nexclude rows to skip (-1 for
 * none; NULL when nexclude is 0). hits is m x k, each query's best first;
 * ties go to the lower row; when fewer than k candidates exist the rest
 * have row -1. */
int loom_index_search(const loom_index *ix, size_t m, const float *Q, const long *exclude,
                      size_t nexclude, size_t k, size_t limit, loom_hit *hits);

/* The k nearest rows to the sum of the unit vectors of rows[0..n), those
 * rows excluded (word2vec's `distance`, gensim's most_similar). */
int loom_index_nearest(const loom_index *ix, const long *rows, size_t n, size_t k, size_t limit,
                       loom_hit *hits);

/* Many such queries at once (one GEMM per block of them): query i sums the
 * rows rows[i * width .. i * width + width), where -1 entries are padding,
 * and excludes them. hits is m x k. */
int loom_index_nearest_many(const loom_index *ix, size_t m, const long *rows, size_t width,
                            size_t k, size_t limit, loom_hit *hits);

/* Analogies "a is to b as c is to ?" for m triples (abc is m x 3 rows),
 * a, b and c excluded: 3CosAdd ranks by cos(x, b - a + c) of unit vectors,
 * 3CosMul (Levy and Goldberg 2014) by cos'(x,b) cos'(x,c) / (cos'(x,a) +
 * 1e-6) with cos' = (1 + cos) / 2, as gensim's most_similar_cosmul.
 * hits is m x k. */
int loom_index_analogy(const loom_index *ix, size_t m, const long *abc, int method, size_t k,
                       size_t limit, loom_hit *hits);

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

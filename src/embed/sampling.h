/* loom: the two random choices of the word2vec trainer. Negative words are
 * drawn from the unigram distribution raised to a power (0.75) with Walker's
 * alias method: O(1) per draw, exact, and 8 bytes a word instead of
 * word2vec's 400 MB table. Frequent words are kept with word2vec's
 * subsampling probability. Knows counts, not words or vectors. */
#ifndef LOOM_EMBED_SAMPLING_H
#define LOOM_EMBED_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

/* One alias-table cell: keep `self` with probability prob / 2^32, else take
 * `alias`. Interleaved so a draw touches one cache line. */
typedef struct {
    uint32_t prob;
    uint32_t alias;
} loom_alias_cell;

typedef struct {
    loom_alias_cell *cells;
    uint32_t n;
} loom_noise;

/* Builds the table for weights counts[i]^power, i < n. Fails with
 * LOOM_EINVAL when n is 0 or every weight is 0. */
int loom_noise_build(loom_noise *t, const uint64_t *counts, size_t n, double power);
void loom_noise_free(loom_noise *t);

/* One draw: 32 bits pick the cell, the other 32 toss its coin. The toss
 * is a mask, not a branch: a branch on it mispredicts half the time and,
 * waiting on the cell's cache miss, keeps the next draws' misses from
 * overlapping with it. */
static inline uint32_t loom_noise_draw(const loom_noise *t, loom_rng *rng)
{
    uint64_t r = loom_rng_next(rng);
    uint32_t i = (uint32_t)(((r >> 32) * (uint64_t)t->n) >> 32);
    loom_alias_cell c = t->cells[i];
    uint32_t other = 0u - (uint32_t)((uint32_t)r >= c.prob);
    return i ^ ((i ^ c.alias) & other);
}

/* Subsampling thresholds: word i is kept when a uniform 32-bit draw is
 * below keep[i] (2^32 means always). word2vec's and gensim's formula with
 * f the word's share of `total`: p = (sqrt(f / sample) + 1) * sample / f.
 * sample <= 0 keeps every word. keep has n entries. */
void loom_subsample_thresholds(uint64_t *keep, const uint64_t *counts, size_t n, uint64_t total,
                               double sample);

static inline int loom_subsample_keep(const uint64_t *keep, uint32_t id, loom_rng *rng)
{
    return (loom_rng_next(rng) >> 32) < keep[id];
}

#endif

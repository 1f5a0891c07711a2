/* loom: the one random number generator, xoshiro256** (Blackman & Vigna),
 * seeded through splitmix64. Each thread takes its own stream (a jump of
 * 2^128 steps per stream number), so runs with a seed are repeatable. */
#ifndef LOOM_BASE_RNG_H
#define LOOM_BASE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} loom_rng;

/* Stream `stream` of the generator seeded by `seed`. */
void loom_rng_seed(loom_rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t loom_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t loom_rng_next(loom_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = loom_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = loom_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 24 bits, exact in float. */
static inline float loom_rng_uniform(loom_rng *r)
{
    return (float)(loom_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform in [0, 1) with 53 bits. */
static inline double loom_rng_double(loom_rng *r)
{
    return (double)(loom_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire). */
static inline uint32_t loom_rng_below(loom_rng *r, uint32_t n)
{
    uint64_t m = (uint64_t)(uint32_t)(loom_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(loom_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Standard normal (Box-Muller, one value per call). */
double loom_rng_normal(loom_rng *r);

#endif

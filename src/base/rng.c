/* loom: seeding and jumping for xoshiro256**; the hot functions are inline
 * in rng.h. */
#include "config.h"
#include "base/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Advances 2^128 steps: the reference jump polynomial. */
static void jump(loom_rng *r)
{
    static const uint64_t poly[] = {0x180ec6d33cfd0aba, 0xd5a61266f0c9392c, 0xa9582618e03fc9aa,
                                    0x39abdc4529b1661c};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) {
            if (poly[i] & (1ull << b)) {
                s0 ^= r->s[0];
                s1 ^= r->s[1];
                s2 ^= r->s[2];
                s3 ^= r->s[3];
            }
            loom_rng_next(r);
        }
    }
    r->s[0] = s0, r->s[1] = s1, r->s[2] = s2, r->s[3] = s3;
}

void loom_rng_seed(loom_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    /* Streams beyond a few hundred are cheaper to derive by reseeding. */
    if (stream > 256) {
        x = seed ^ (stream * 0xd1b54a32d192ed03ull);
        for (int i = 0; i < 4; i++)
            r->s[i] = splitmix64(&x);
        return;
    }
    for (uint64_t k = 0; k < stream; k++)
        jump(r);
}

double loom_rng_normal(loom_rng *r)
{
    double u1 = loom_rng_double(r), u2 = loom_rng_double(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

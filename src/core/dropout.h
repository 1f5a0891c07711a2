/* loom: inverted dropout. In training each element is kept with
 * probability 1 - p and scaled by 1 / (1 - p), so evaluation is the
 * identity and needs no call at all. The keep/scale mask is drawn from the
 * caller's RNG (one stream per thread), so a seed repeats a run. */
#ifndef LOOM_CORE_DROPOUT_H
#define LOOM_CORE_DROPOUT_H

#include <stddef.h>

#include "base/rng.h"

/* inp (n) -> out (n), mask (n) receives 0 or 1 / (1 - p). 0 <= p < 1;
 * p = 0 copies. out may equal inp. */
void loom_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                          loom_rng *rng);
/* dinp += dout * mask */
void loom_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n);

#endif

/* loom: inverted dropout (see dropout.h). */
#include "core/dropout.h"

void loom_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                          loom_rng *rng)
{
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        mask[i] = p > 0.0f && loom_rng_uniform(rng) < p ? 0.0f : scale;
        out[i] = inp[i] * mask[i];
    }
}

void loom_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * mask[i];
}

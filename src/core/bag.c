/* loom: mean of a bag of embedding rows (see bag.h). Row sums in the
 * order of the ids, so a bag's output does not depend on its neighbours;
 * one multiply by 1/n per bag rather than a division per element. */
#include "core/bag.h"

#include <stddef.h>
#include <string.h>

void loom_bag_mean_forward(float *out, const int *ids, const int *offsets, const float *E, int B,
                           int D)
{
    for (int b = 0; b < B; b++) {
        float *restrict o = out + (size_t)b * D;
        memset(o, 0, (size_t)D * sizeof *o);
        int n = offsets[b + 1] - offsets[b];
        if (n <= 0)
            continue;
        for (int j = offsets[b]; j < offsets[b + 1]; j++) {
            const float *restrict row = E + (size_t)ids[j] * D;
            for (int k = 0; k < D; k++)
                o[k] += row[k];
        }
        float scale = 1.0f / (float)n;
        for (int k = 0; k < D; k++)
            o[k] *= scale;
    }
}

void loom_bag_mean_backward(float *dE, const float *dout, const int *ids, const int *offsets, int B,
                            int D)
{
    if (!dE)
        return;
    for (int b = 0; b < B; b++) {
        int n = offsets[b + 1] - offsets[b];
        if (n <= 0)
            continue;
        /* forward was out[b] = (1/n) sum_j E[ids[j]], so dE[ids[j]] += dout[b] / n. */
        float scale = 1.0f / (float)n;
        const float *g = dout + (size_t)b * D;
        for (int j = offsets[b]; j < offsets[b + 1]; j++) {
            float *row = dE + (size_t)ids[j] * D;
            for (int k = 0; k < D; k++)
                row[k] += scale * g[k];
        }
    }
}

/* loom: embedding lookup and its sparse-row gradient (see embedding.h). */
#include "core/embedding.h"

#include <string.h>

void loom_embedding_forward(float *out, const int *ids, const float *E, int N, int D)
{
    for (int i = 0; i < N; i++) {
        float *row = out + (size_t)i * D;
        if (ids[i] < 0)
            memset(row, 0, (size_t)D * sizeof *row);
        else
            memcpy(row, E + (size_t)ids[i] * D, (size_t)D * sizeof *row);
    }
}

void loom_embedding_backward(float *dE, const float *dout, const int *ids, int N, int D)
{
    /* forward was out[i] = E[ids[i]]: a repeated id collects every row. */
    if (!dE) /* a frozen table */
        return;
    for (int i = 0; i < N; i++) {
        if (ids[i] < 0)
            continue;
        float *g = dE + (size_t)ids[i] * D;
        const float *d = dout + (size_t)i * D;
        for (int j = 0; j < D; j++)
            g[j] += d[j];
    }
}

/* loom: concatenation of column blocks (see concat.h). */
#include "core/concat.h"

#include <string.h>

static int total_cols(const loom_block *in, int nin)
{
    int n = 0;
    for (int k = 0; k < nin; k++)
        n += in[k].cols;
    return n;
}

void loom_concat_forward(float *out, const loom_block *in, int nin, int B)
{
    size_t D = (size_t)total_cols(in, nin);
    for (int i = 0; i < B; i++) {
        float *row = out + i * D;
        for (int k = 0; k < nin; k++) {
            memcpy(row, in[k].x + (size_t)i * in[k].cols, (size_t)in[k].cols * sizeof *row);
            row += in[k].cols;
        }
    }
}

void loom_concat_backward(const loom_block *in, int nin, const float *dout, int B)
{
    /* forward was out[i] = [x_1[i] x_2[i] ...]: each block takes its columns back */
    size_t D = (size_t)total_cols(in, nin);
    for (int i = 0; i < B; i++) {
        const float *d = dout + i * D;
        for (int k = 0; k < nin; k++) {
            float *g = in[k].dx ? in[k].dx + (size_t)i * in[k].cols : NULL;
            for (int j = 0; g && j < in[k].cols; j++)
                g[j] += d[j];
            d += in[k].cols;
        }
    }
}

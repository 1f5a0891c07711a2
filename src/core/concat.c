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

/* Output row r is input row src(r): every row (rows NULL) or the gathered ones. */
static size_t src_row(const int *rows, int r)
{
    return rows ? (size_t)rows[r] : (size_t)r;
}

static void gather(float *out, const loom_block *in, int nin, const int *rows, int n)
{
    size_t D = (size_t)total_cols(in, nin);
    for (int r = 0; r < n; r++) {
        float *row = out + r * D;
        size_t i = src_row(rows, r);
        for (int k = 0; k < nin; k++) {
            memcpy(row, in[k].x + i * in[k].cols, (size_t)in[k].cols * sizeof *row);
            row += in[k].cols;
        }
    }
}

static void scatter_add(const loom_block *in, int nin, const float *dout, const int *rows, int n)
{
    /* forward was out[r] = [x_1[i] x_2[i] ...], i = src(r): each block takes
     * its columns back */
    size_t D = (size_t)total_cols(in, nin);
    for (int r = 0; r < n; r++) {
        const float *d = dout + r * D;
        size_t i = src_row(rows, r);
        for (int k = 0; k < nin; k++) {
            float *g = in[k].dx ? in[k].dx + i * in[k].cols : NULL;
            for (int j = 0; g && j < in[k].cols; j++)
                g[j] += d[j];
            d += in[k].cols;
        }
    }
}

void loom_concat_forward(float *out, const loom_block *in, int nin, int B)
{
    gather(out, in, nin, NULL, B);
}

void loom_concat_backward(const loom_block *in, int nin, const float *dout, int B)
{
    scatter_add(in, nin, dout, NULL, B);
}

void loom_split_forward(const loom_split_block *out, int nout, const float *x, int B)
{
    for (int r = 0; r < B; r++)
        for (int k = 0; k < nout; k++) {
            size_t cols = (size_t)out[k].cols;
            memcpy(out[k].y + r * cols, x, cols * sizeof *x);
            x += cols;
        }
}

void loom_split_backward(float *dx, const loom_split_block *out, int nout, int B)
{
    for (int r = 0; r < B; r++)
        for (int k = 0; k < nout; k++) {
            size_t cols = (size_t)out[k].cols;
            const float *d = out[k].dy ? out[k].dy + r * cols : NULL;
            for (size_t j = 0; d && j < cols; j++)
                dx[j] += d[j];
            dx += cols;
        }
}

void loom_concat_gather_forward(float *out, const loom_block *in, int nin, const int *rows, int n)
{
    gather(out, in, nin, rows, n);
}

void loom_concat_gather_backward(const loom_block *in, int nin, const float *dout, const int *rows,
                                 int n)
{
    scatter_add(in, nin, dout, rows, n);
}

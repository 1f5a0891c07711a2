/* loom: packed convolution + max-pool over time (see convpool.h). Forward
 * is conv1d.c's route on the windows that exist: a window of W rows of a
 * packed sequence is W * C_in contiguous floats of inp, so its col row is
 * one memcpy; then one GEMM and a max per sequence. Backward visits the
 * B * C_out maxima: each adds its gradient times its window into dK's
 * column and times K's column into the window's rows. Both are done on
 * K's transpose (C_out, W * C_in), whose rows are contiguous like the
 * windows. */
#include "core/convpool.h"
#include "core/blas.h"

#include <string.h>

static int windows_of(int len, int W)
{
    return (len > W ? len : W) - W + 1;
}

size_t loom_convpool_windows(const int *lens, int B, int W)
{
    size_t n = 0;
    for (int b = 0; b < B; b++)
        n += (size_t)windows_of(lens[b], W);
    return n;
}

size_t loom_convpool_work_size(int C_in, int C_out, int W)
{
    return 2 * (size_t)W * C_in * C_out;
}

void loom_convpool_forward(float *out, int *argmax, float *col, float *y, const float *inp,
                           const int *start, const int *lens, const float *K, const float *bias,
                           int B, int C_in, int C_out, int W)
{
    size_t KC = (size_t)W * C_in, rows = 0;
    for (int b = 0; b < B; b++) /* col row r: the window's W rows side by side */
        for (int t = 0; t < windows_of(lens[b], W); t++, rows++)
            memcpy(col + rows * KC, inp + ((size_t)start[b] + t) * C_in, KC * sizeof *col);
    float beta = 0.0f;
    if (bias) {
        for (size_t r = 0; r < rows; r++)
            memcpy(y + r * C_out, bias, (size_t)C_out * sizeof *y);
        beta = 1.0f;
    }
    /* y (rows, C_out) = col (rows, W*C_in) x K (W*C_in, C_out) + bias */
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, (int)rows, C_out, (int)KC, 1.0f, col, (int)KC, K, C_out,
              beta, y, C_out);
    const float *yr = y;
    for (int b = 0; b < B; b++) {
        float *restrict o = out + (size_t)b * C_out;
        int *restrict a = argmax + (size_t)b * C_out, n = windows_of(lens[b], W);
        memcpy(o, yr, (size_t)C_out * sizeof *o);
        for (int f = 0; f < C_out; f++)
            a[f] = start[b];
        for (int t = 1; t < n; t++) {
            const float *restrict x = yr + (size_t)t * C_out;
            for (int f = 0; f < C_out; f++)
                if (x[f] > o[f]) { /* first maximum wins */
                    o[f] = x[f];
                    a[f] = start[b] + t;
                }
        }
        yr += (size_t)n * C_out;
    }
}

/* dst (cols, rows) = src (rows, cols) transposed. */
static void transpose(float *restrict dst, const float *restrict src, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

void loom_convpool_backward(float *dinp, float *dK, float *dbias, float *work, const float *dout,
                            const int *argmax, const float *inp, const float *K, int B, int C_in,
                            int C_out, int W)
{
    size_t KC = (size_t)W * C_in;
    float *Kt = work, *dKt = work + KC * C_out; /* (C_out, W*C_in) each */
    /* forward: out[b, f] = y[r, f] with r the window at argmax[b, f], and
     * y[r, f] = sum_j inp[argmax[b, f] * C_in + j] K[j, f] + bias[f] */
    if (dbias)
        for (int b = 0; b < B; b++)
            for (int f = 0; f < C_out; f++)
                dbias[f] += dout[(size_t)b * C_out + f];
    if (dK) { /* one column of dK at a time, kept in cache over the batch */
        for (int f = 0; f < C_out; f++) {
            float *restrict d = dKt + f * KC;
            memset(d, 0, KC * sizeof *d);
            for (int b = 0; b < B; b++) {
                float g = dout[(size_t)b * C_out + f];
                if (g != 0.0f) /* ReLU and dropout zero many of them */
                    loom_axpy(KC, g, inp + (size_t)argmax[(size_t)b * C_out + f] * C_in, d);
            }
        }
        for (size_t j = 0; j < KC; j++) /* dK += dKt^T */
            for (int f = 0; f < C_out; f++)
                dK[j * C_out + f] += dKt[f * KC + j];
    }
    if (dinp) {
        transpose(Kt, K, KC, (size_t)C_out);
        for (int b = 0; b < B; b++)
            for (int f = 0; f < C_out; f++) {
                float g = dout[(size_t)b * C_out + f];
                if (g != 0.0f)
                    loom_axpy(KC, g, Kt + f * KC,
                              dinp + (size_t)argmax[(size_t)b * C_out + f] * C_in);
            }
    }
}

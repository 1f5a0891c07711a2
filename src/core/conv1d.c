/* loom: conv1d by im2col + GEMM, and max/mean pooling over time (see
 * conv1d.h). The col matrix has one row per (sequence, output step); row
 * (b, t) is the W input steps t - pad .. t - pad + W - 1 side by side, zero
 * where they fall outside 0 .. T-1. */
#include "core/conv1d.h"
#include "core/blas.h"

#include <string.h>

static int pad_left(int W, int padding)
{
    return padding == LOOM_CONV_SAME ? (W - 1) / 2 : 0;
}

int loom_conv1d_out_len(int T, int W, int padding)
{
    int n = padding == LOOM_CONV_SAME ? T : T - W + 1;
    return n > 0 ? n : 0;
}

size_t loom_conv1d_col_size(int B, int T, int C_in, int W, int padding)
{
    return (size_t)B * loom_conv1d_out_len(T, W, padding) * W * C_in;
}

static void im2col(float *col, const float *inp, int B, int T, int C_in, int W, int padding)
{
    int T_out = loom_conv1d_out_len(T, W, padding), pad = pad_left(W, padding);
    size_t width = (size_t)C_in * sizeof *col;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++) {
            float *row = col + ((size_t)b * T_out + t) * W * C_in;
            for (int j = 0; j < W; j++) {
                int s = t - pad + j;
                if (s < 0 || s >= T)
                    memset(row + (size_t)j * C_in, 0, width);
                else
                    memcpy(row + (size_t)j * C_in, inp + ((size_t)b * T + s) * C_in, width);
            }
        }
}

/* The adjoint of im2col: each col entry adds back into the step it came from. */
static void col2im(float *dinp, const float *dcol, int B, int T, int C_in, int W, int padding)
{
    int T_out = loom_conv1d_out_len(T, W, padding), pad = pad_left(W, padding);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++) {
            const float *row = dcol + ((size_t)b * T_out + t) * W * C_in;
            for (int j = 0; j < W; j++) {
                int s = t - pad + j;
                if (s < 0 || s >= T)
                    continue;
                float *d = dinp + ((size_t)b * T + s) * C_in;
                const float *r = row + (size_t)j * C_in;
                for (int c = 0; c < C_in; c++)
                    d[c] += r[c];
            }
        }
}

void loom_conv1d_forward(float *out, float *col, const float *inp, const float *K,
                         const float *bias, int B, int T, int C_in, int C_out, int W, int padding)
{
    int rows = B * loom_conv1d_out_len(T, W, padding), KC = W * C_in;
    if (rows == 0)
        return;
    im2col(col, inp, B, T, C_in, W, padding);
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < rows; i++)
            memcpy(out + (size_t)i * C_out, bias, (size_t)C_out * sizeof *out);
        beta = 1.0f;
    }
    /* out (rows, C_out) = col (rows, W*C_in) x K (W*C_in, C_out) + bias */
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, rows, C_out, KC, 1.0f, col, KC, K, C_out, beta, out,
              C_out);
}

void loom_conv1d_backward(float *dinp, float *dK, float *dbias, float *col, const float *dout,
                          const float *inp, const float *K, int B, int T, int C_in, int C_out,
                          int W, int padding)
{
    int rows = B * loom_conv1d_out_len(T, W, padding), KC = W * C_in;
    if (rows == 0)
        return;
    /* forward was out = col K + bias, with col = im2col(inp), so: */
    if (dK) { /* dK += col^T dout */
        im2col(col, inp, B, T, C_in, W, padding);
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, KC, C_out, rows, 1.0f, col, KC, dout, C_out, 1.0f, dK,
                  C_out);
    }
    if (dbias)
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < C_out; c++)
                dbias[c] += dout[(size_t)i * C_out + c];
    if (dinp) { /* dcol = dout K^T, then dinp += col2im(dcol) */
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, rows, KC, C_out, 1.0f, dout, C_out, K, C_out, 0.0f, col,
                  KC);
        col2im(dinp, col, B, T, C_in, W, padding);
    }
}

static int seq_len(const int *lens, int b, int T)
{
    if (!lens)
        return T;
    return lens[b] < 0 ? 0 : lens[b] > T ? T : lens[b];
}

void loom_maxpool_forward(float *out, int *argmax, const float *inp, const int *lens, int B, int T,
                          int C)
{
    for (int b = 0; b < B; b++) {
        int n = seq_len(lens, b, T);
        float *o = out + (size_t)b * C;
        int *a = argmax + (size_t)b * C;
        for (int c = 0; c < C; c++) {
            o[c] = 0.0f;
            a[c] = -1;
        }
        for (int t = 0; t < n; t++) {
            const float *x = inp + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++)
                if (a[c] < 0 || x[c] > o[c]) { /* first maximum wins, as in PyTorch */
                    o[c] = x[c];
                    a[c] = t;
                }
        }
    }
}

void loom_maxpool_backward(float *dinp, const float *dout, const int *argmax, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            int t = argmax[(size_t)b * C + c];
            if (t >= 0)
                dinp[((size_t)b * T + t) * C + c] += dout[(size_t)b * C + c];
        }
}

void loom_meanpool_forward(float *out, const float *inp, const int *lens, int B, int T, int C)
{
    for (int b = 0; b < B; b++) {
        int n = seq_len(lens, b, T);
        float *o = out + (size_t)b * C;
        memset(o, 0, (size_t)C * sizeof *o);
        for (int t = 0; t < n; t++) {
            const float *x = inp + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++)
                o[c] += x[c];
        }
        if (n > 0)
            for (int c = 0; c < C; c++)
                o[c] /= (float)n;
    }
}

void loom_meanpool_backward(float *dinp, const float *dout, const int *lens, int B, int T, int C)
{
    for (int b = 0; b < B; b++) {
        int n = seq_len(lens, b, T);
        if (n == 0)
            continue;
        float inv = 1.0f / (float)n;
        for (int t = 0; t < n; t++) {
            float *d = dinp + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++)
                d[c] += dout[(size_t)b * C + c] * inv;
        }
    }
}

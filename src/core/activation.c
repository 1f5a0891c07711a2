/* loom: activations (see activation.h). Softmax subtracts the row maximum
 * first, so no exp overflows. The exponentials, sigmoids and tanhs run four
 * lanes at a time through the core's vector maths (core/vmath.h, Cephes
 * within 2 ulp): a softmax over a vocabulary is exp-bound, and the vector
 * exp is several times glibc's scalar expf. LOOM_VECTORIZE lets GCC -O2
 * vectorise the remaining elementwise loops. Row sums are accumulated four
 * lanes wide in float: rows are at most a vocabulary wide and the terms of
 * a softmax are positive, so the error stays ~1e-7 relative. */
#include "core/activation.h"
#include "core/vmath.h"

#include <math.h>

void loom_sigmoid_forward(float *out, const float *inp, size_t n)
{
    loom_vsigmoid(out, inp, n);
}

LOOM_VECTORIZE void loom_sigmoid_backward(float *dinp, const float *dout, const float *out,
                                          size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void loom_tanh_forward(float *out, const float *inp, size_t n)
{
    loom_vtanh(out, inp, n);
}

LOOM_VECTORIZE void loom_tanh_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

LOOM_VECTORIZE void loom_relu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

LOOM_VECTORIZE void loom_relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f)
            dinp[i] += dout[i];
}

/* Row maximum and sum keep four vectors of partial results, so that 16
 * lanes are in flight rather than one chain of dependent operations. */
static float row_max(const float *x, int C)
{
    loom_v4f m[4];
    for (int k = 0; k < 4; k++)
        m[k] = loom_v4_splat(-INFINITY);
    int j = 0;
    for (; j + 16 <= C; j += 16)
        for (int k = 0; k < 4; k++) {
            loom_v4f v = loom_v4_load(x + j + 4 * k);
            m[k] = loom_v4_select(v > m[k], v, m[k]);
        }
    float r = -INFINITY;
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < 4; l++)
            r = m[k][l] > r ? m[k][l] : r;
    for (; j < C; j++)
        r = x[j] > r ? x[j] : r;
    return r;
}

float loom_row_sum(const float *x, int C)
{
    loom_v4f s[4];
    for (int k = 0; k < 4; k++)
        s[k] = loom_v4_splat(0.0f);
    int j = 0;
    for (; j + 16 <= C; j += 16)
        for (int k = 0; k < 4; k++)
            s[k] += loom_v4_load(x + j + 4 * k);
    loom_v4f t = (s[0] + s[1]) + (s[2] + s[3]);
    float r = (t[0] + t[1]) + (t[2] + t[3]);
    for (; j < C; j++)
        r += x[j];
    return r;
}

/* y = exp(x - m), returning the sum of y. */
LOOM_VECTORIZE static float exp_shifted(float *y, const float *x, float m, int C)
{
    for (int j = 0; j < C; j++)
        y[j] = x[j] - m;
    loom_vexp(y, y, (size_t)C);
    return loom_row_sum(y, C);
}

LOOM_VECTORIZE void loom_softmax_forward(float *out, const float *inp, int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float inv = 1.0f / exp_shifted(y, x, row_max(x, C), C);
        for (int j = 0; j < C; j++)
            y[j] *= inv;
    }
}

LOOM_VECTORIZE void loom_softmax_backward(float *dinp, const float *dout, const float *out, int B,
                                          int C)
{
    for (int i = 0; i < B; i++) {
        const float *dy = dout + (size_t)i * C, *y = out + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float dot = 0.0f;
        for (int j = 0; j < C; j++)
            dot += dy[j] * y[j];
        for (int j = 0; j < C; j++)
            dx[j] += y[j] * (dy[j] - dot);
    }
}

/* y = x - lse(x) for one row of C, e (C) receiving exp(x - max) first (e
 * may be y when y is not x). Rows are vocabulary-wide here (a decoder's
 * every step), so the max and the exponentials' sum take vmath's
 * eight-lane reductions, the sum in double. */
LOOM_VECTORIZE static void log_softmax_row(float *y, float *e, const float *x, int C)
{
    float m = loom_vmax(x, (size_t)C);
    for (int j = 0; j < C; j++)
        e[j] = x[j] - m;
    loom_vexp(e, e, (size_t)C);
    float lse = m + (float)log(loom_vsum(e, (size_t)C));
    for (int j = 0; j < C; j++)
        y[j] = x[j] - lse;
}

void loom_log_softmax_forward(float *out, const float *inp, int B, int C)
{
    for (int i = 0; i < B; i++)
        log_softmax_row(out + (size_t)i * C, out + (size_t)i * C, inp + (size_t)i * C, C);
}

void loom_log_softmax_inplace(float *x, float *scratch, int B, int C)
{
    for (int i = 0; i < B; i++)
        log_softmax_row(x + (size_t)i * C, scratch, x + (size_t)i * C, C);
}

/* In blocks through a stack buffer, so the exponentials take loom_vexp's
 * widest path and nothing is allocated. */
LOOM_VECTORIZE void loom_exp_axpy(float *d, float alpha, const float *x, float beta, int C)
{
    float e[256];
    for (int j = 0; j < C; j += 256) {
        int n = C - j < 256 ? C - j : 256;
        loom_vexp(e, x + j, (size_t)n);
        for (int k = 0; k < n; k++)
            d[j + k] += alpha * (e[k] - beta);
    }
}

LOOM_VECTORIZE void loom_log_softmax_backward(float *dinp, const float *dout, const float *out,
                                              int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *dy = dout + (size_t)i * C, *y = out + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        /* forward was y = x - lse(x), so dx = dy - softmax(x) * sum(dy) */
        float sum = loom_row_sum(dy, C);
        for (int j = 0; j < C; j++)
            dx[j] += dy[j];
        loom_exp_axpy(dx, -sum, y, 0.0f, C);
    }
}

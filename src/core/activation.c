/* loom: activations (see activation.h). Softmax subtracts the row maximum
 * first, so no exp overflows; the sigmoid picks the form whose exp cannot
 * overflow. Sums of a row are accumulated in float: rows are at most a
 * vocabulary wide and the terms are positive, so the error stays ~1e-7. */
#include "core/activation.h"

#include <math.h>

static inline float sigmoidf(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void loom_sigmoid_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sigmoidf(inp[i]);
}

void loom_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void loom_tanh_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = tanhf(inp[i]);
}

void loom_tanh_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void loom_relu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void loom_relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f)
            dinp[i] += dout[i];
}

static float row_max(const float *x, int C)
{
    float m = -INFINITY;
    for (int j = 0; j < C; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

void loom_softmax_forward(float *out, const float *inp, int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float m = row_max(x, C), sum = 0.0f;
        for (int j = 0; j < C; j++) {
            y[j] = expf(x[j] - m);
            sum += y[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < C; j++)
            y[j] *= inv;
    }
}

void loom_softmax_backward(float *dinp, const float *dout, const float *out, int B, int C)
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

void loom_log_softmax_forward(float *out, const float *inp, int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float m = row_max(x, C), sum = 0.0f;
        for (int j = 0; j < C; j++)
            sum += expf(x[j] - m);
        float lse = m + logf(sum);
        for (int j = 0; j < C; j++)
            y[j] = x[j] - lse;
    }
}

void loom_log_softmax_backward(float *dinp, const float *dout, const float *out, int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *dy = dout + (size_t)i * C, *y = out + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float sum = 0.0f;
        for (int j = 0; j < C; j++)
            sum += dy[j];
        for (int j = 0; j < C; j++)
            dx[j] += dy[j] - expf(y[j]) * sum;
    }
}

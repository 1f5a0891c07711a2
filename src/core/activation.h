/* loom: elementwise activations and row-wise softmax, forward and backward.
 * Backward functions accumulate (+=) into dinp and read the forward's
 * output (or input, for ReLU), which the caller keeps. In-place forward
 * (out == inp) is allowed for the elementwise functions and softmax. */
#ifndef LOOM_CORE_ACTIVATION_H
#define LOOM_CORE_ACTIVATION_H

#include <stddef.h>

/* out = 1 / (1 + exp(-inp)), n elements; stable for large |inp|. */
void loom_sigmoid_forward(float *out, const float *inp, size_t n);
/* dinp += dout * out * (1 - out) */
void loom_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);

void loom_tanh_forward(float *out, const float *inp, size_t n);
/* dinp += dout * (1 - out^2) */
void loom_tanh_backward(float *dinp, const float *dout, const float *out, size_t n);

/* out = max(inp, 0) */
void loom_relu_forward(float *out, const float *inp, size_t n);
/* dinp += dout where out > 0 (the gradient at 0 is 0, as in PyTorch) */
void loom_relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* Row-wise over inp (B, C): out = exp(x - max) / sum exp(x - max). */
void loom_softmax_forward(float *out, const float *inp, int B, int C);
/* dinp += out * (dout - sum_j dout_j out_j), per row */
void loom_softmax_backward(float *dinp, const float *dout, const float *out, int B, int C);

/* Row-wise out = x - max - log sum exp(x - max); out must not alias inp. */
void loom_log_softmax_forward(float *out, const float *inp, int B, int C);
/* The same in place, x (B, C) overwritten, with C floats of scratch: a
 * decoder's vocabulary-wide rows need no second (B, C) buffer. */
void loom_log_softmax_inplace(float *x, float *scratch, int B, int C);
/* dinp += dout - exp(out) * sum_j dout_j, per row */
void loom_log_softmax_backward(float *dinp, const float *dout, const float *out, int B, int C);

/* d[j] += alpha * (exp(x[j]) - beta) for j < C: the inner loop of the
 * softmax gradients (log-softmax backward, cross-entropy), on the vector exp. */
void loom_exp_axpy(float *d, float alpha, const float *x, float beta, int C);
/* sum_j x[j] for j < C, four lanes wide. */
float loom_row_sum(const float *x, int C);

#endif

/* loom: 1-d convolution over time and pooling over time, for text: the
 * input is a padded batch of sequences of C_in-wide vectors. Convolution is
 * im2col + one GEMM (darknet's route): each output step's receptive field
 * (W steps of C_in) is laid out as one row, then (B*T_out, W*C_in) x
 * (W*C_in, C_out). Stride 1. The kernel K is (W, C_in, C_out), so K viewed
 * as (W*C_in, C_out) is the GEMM's right-hand matrix; PyTorch's Conv1d
 * weight (C_out, C_in, W) is K permuted (2, 1, 0).
 *
 * Padding: LOOM_CONV_VALID gives T_out = T - W + 1; LOOM_CONV_SAME gives
 * T_out = T with (W - 1) / 2 zero steps before and the rest after, as
 * PyTorch's padding="same". Steps of a sequence past its length must be
 * zero in inp (then "same" sees exactly the zero padding it would see on
 * the unpadded sequence); the pooling below then takes the lengths.
 * Nothing allocates: the caller gives the col workspace. */
#ifndef LOOM_CORE_CONV1D_H
#define LOOM_CORE_CONV1D_H

#include <stddef.h>

enum { LOOM_CONV_VALID = 0, LOOM_CONV_SAME = 1 };

/* Output length for input length T. */
int loom_conv1d_out_len(int T, int W, int padding);
/* Floats of the col workspace: B * T_out * W * C_in. */
size_t loom_conv1d_col_size(int B, int T, int C_in, int W, int padding);

/* inp (B, T, C_in), K (W, C_in, C_out), bias (C_out) or NULL
 *   -> out (B, T_out, C_out); col is workspace (loom_conv1d_col_size). */
void loom_conv1d_forward(float *out, float *col, const float *inp, const float *K,
                         const float *bias, int B, int T, int C_in, int C_out, int W, int padding);

/* Accumulates dinp (B, T, C_in), dK (W, C_in, C_out), dbias (C_out), each
 * skipped when NULL, from dout (B, T_out, C_out). col is workspace (its
 * contents from forward are not needed: it is rebuilt). */
void loom_conv1d_backward(float *dinp, float *dK, float *dbias, float *col, const float *dout,
                          const float *inp, const float *K, int B, int T, int C_in, int C_out,
                          int W, int padding);

/* Max over time: inp (B, T, C) -> out (B, C), over the first lens[b] steps
 * of sequence b (lens NULL: all T). argmax (B, C) records the step chosen,
 * for backward; a sequence of length 0 gives zeros and argmax -1. */
void loom_maxpool_forward(float *out, int *argmax, const float *inp, const int *lens, int B, int T,
                          int C);
/* dinp[b, argmax[b,c], c] += dout[b, c] */
void loom_maxpool_backward(float *dinp, const float *dout, const int *argmax, int B, int T, int C);

/* Mean over the first lens[b] steps (lens NULL: all T); length 0 gives zeros. */
void loom_meanpool_forward(float *out, const float *inp, const int *lens, int B, int T, int C);
/* dinp[b, t, c] += dout[b, c] / lens[b] for t < lens[b] */
void loom_meanpool_backward(float *dinp, const float *dout, const int *lens, int B, int T, int C);

#endif

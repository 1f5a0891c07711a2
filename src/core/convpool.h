/* loom: a valid 1-d convolution followed by max-pooling over time, on
 * sequences packed one after another instead of padded to the longest, and
 * its backward pass through the pooled maxima only. The result is that of
 * loom_conv1d_forward (LOOM_CONV_VALID) + loom_maxpool_forward on the
 * padded batch (tests/test_convpool.c checks it equal), at a fraction of
 * the cost: forward convolves the windows of each sequence and no padding,
 * and backward, since max-pooling passes a gradient to one window per
 * (sequence, filter), adds B * C_out window-sized rows instead of two full
 * GEMMs. On the pros-and-cons sentences (perf, batches of 50), the padded
 * convolution's backward was half of a CNN training step, and the step
 * took 2.9x the CPU time it takes with this layer.
 *
 * Layout: sequence b holds rows start[b] .. start[b] + lens[b] - 1 of inp
 * (N, C_in), followed by zero rows up to max(lens[b], W) rows, so that a
 * sequence shorter than the kernel gives one window over zero padding (as
 * the padded batch does). Its windows start at rows start[b] + t,
 * t = 0 .. max(lens[b], W) - W. K is (W, C_in, C_out) as in conv1d.h.
 * Nothing allocates: the caller gives the workspaces. */
#ifndef LOOM_CORE_CONVPOOL_H
#define LOOM_CORE_CONVPOOL_H

#include <stddef.h>

/* Windows of the batch for width W: sum over b of max(lens[b], W) - W + 1.
 * Forward's col workspace is windows * W * C_in floats, its y workspace
 * windows * C_out floats. */
size_t loom_convpool_windows(const int *lens, int B, int W);
/* Floats of backward's workspace: 2 * W * C_in * C_out. */
size_t loom_convpool_work_size(int C_in, int C_out, int W);

/* inp (N, C_in), K (W, C_in, C_out), bias (C_out) or NULL
 *   -> out (B, C_out): out[b, f] = max over b's windows of the convolution;
 * argmax (B, C_out) records the row of inp where the chosen window starts
 * (first maximum wins, as PyTorch). col and y are workspaces (above). */
void loom_convpool_forward(float *out, int *argmax, float *col, float *y, const float *inp,
                           const int *start, const int *lens, const float *K, const float *bias,
                           int B, int C_in, int C_out, int W);

/* Accumulates dinp (N, C_in), dK (W, C_in, C_out), dbias (C_out), each
 * skipped when NULL, from dout (B, C_out), after forward gave argmax.
 * work: loom_convpool_work_size floats. */
void loom_convpool_backward(float *dinp, float *dK, float *dbias, float *work, const float *dout,
                            const int *argmax, const float *inp, const float *K, int B, int C_in,
                            int C_out, int W);

#endif

/* loom: the dense (fully connected) layer, y = x W + b, batched.
 * W is (in, out) as in the design's shape notes, so the forward pass is one
 * matrix product (B, in) x (in, out); the bias is an explicit vector (NULL
 * for none), added after the product. Plain functions on caller-owned
 * buffers: nothing allocates.
 *
 * Variants, each the same layer:
 *  - _add accumulates the product (out += x W): a layer applied in parts,
 *    as a decoder adds its context's share of an input projection, step by
 *    step, to the embeddings' share computed for all steps at once.
 *  - _blocks reads an input that is the concatenation [x_1 x_2 ...] of
 *    column blocks (core/concat.h) where the blocks lie: the product is
 *    sum_k x_k W_k, W_k being block k's rows of W. A decoder's output layer
 *    over [s; c; e] thus needs no (rows, in) copy of its input.
 *  - the backward passes take a scale: the gradient of scale * loss, the
 *    scale applied as the products' alpha (a loss summed over a batch and
 *    divided by its token count needs no pass over dout to scale it). */
#ifndef LOOM_CORE_DENSE_H
#define LOOM_CORE_DENSE_H

#include "core/concat.h"

/* inp (B, IN), W (IN, OUT), b (OUT) or NULL  ->  out (B, OUT).
 * out must not alias inp. One row goes to sgemv and up to 16 rows to the
 * core's few-row kernel (core/smallmm.h), which beat sgemm there. */
void loom_dense_forward(float *out, const float *inp, const float *W, const float *b, int B, int IN,
                        int OUT);
/* out (B, OUT) += inp W */
void loom_dense_forward_add(float *out, const float *inp, const float *W, int B, int IN, int OUT);

/* Accumulates (+=), each skipped when NULL:
 *   dinp (B, IN)  += dout W^T
 *   dW   (IN, OUT) += inp^T dout
 *   db   (OUT)    += column sums of dout (B, OUT) */
void loom_dense_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                         const float *W, int B, int IN, int OUT);

/* out (B, OUT) = sum_k in[k].x W_k + b, W (sum of cols, OUT). */
void loom_dense_forward_blocks(float *out, const loom_block *in, int nin, const float *W,
                               const float *b, int B, int OUT);
/* Accumulates the gradient of scale * loss given dout = d loss / d out:
 *   in[k].dx += scale dout W_k^T   (blocks whose dx is NULL are skipped)
 *   dW_k     += scale in[k].x^T dout  (dW NULL: no weight gradients)
 *   db       += scale column sums of dout */
void loom_dense_backward_blocks(const loom_block *in, int nin, float *dW, float *db,
                                const float *dout, const float *W, int B, int OUT, float scale);

#endif

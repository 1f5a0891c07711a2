/* loom: the dense (fully connected) layer, y = x W + b, batched.
 * W is (in, out) as in the design's shape notes, so the forward pass is one
 * GEMM (B, in) x (in, out); the bias is an explicit vector (NULL for none).
 * Plain functions on caller-owned buffers: nothing allocates. */
#ifndef LOOM_CORE_DENSE_H
#define LOOM_CORE_DENSE_H

/* inp (B, IN), W (IN, OUT), b (OUT) or NULL  ->  out (B, OUT).
 * out must not alias inp. */
void loom_dense_forward(float *out, const float *inp, const float *W, const float *b, int B, int IN,
                        int OUT);

/* Accumulates (+=), each skipped when NULL:
 *   dinp (B, IN)  += dout W^T
 *   dW   (IN, OUT) += inp^T dout
 *   db   (OUT)    += column sums of dout (B, OUT) */
void loom_dense_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                         const float *W, int B, int IN, int OUT);

#endif

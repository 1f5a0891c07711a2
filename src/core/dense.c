/* loom: the dense layer (see dense.h). Three products in all, one forward
 * and two backward; the bias costs a pass over the output rows, which is
 * small beside the product for any useful width. Knows nothing of what x
 * means. */
#include "core/dense.h"
#include "core/blas.h"
#include "core/smallmm.h"

#include <stddef.h>

static void add_bias(float *out, const float *b, int B, int OUT)
{
    for (int i = 0; i < B; i++) {
        float *row = out + (size_t)i * OUT;
        for (int j = 0; j < OUT; j++)
            row[j] += b[j];
    }
}

void loom_dense_forward(float *out, const float *inp, const float *W, const float *b, int B, int IN,
                        int OUT)
{
    loom_mm(B, OUT, IN, inp, W, 0.0f, out);
    if (b)
        add_bias(out, b, B, OUT);
}

void loom_dense_forward_add(float *out, const float *inp, const float *W, int B, int IN, int OUT)
{
    loom_mm(B, OUT, IN, inp, W, 1.0f, out);
}

void loom_dense_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                         const float *W, int B, int IN, int OUT)
{
    loom_block in = {inp, dinp, IN};
    loom_dense_backward_blocks(&in, 1, dW, db, dout, W, B, OUT, 1.0f);
}

void loom_dense_forward_blocks(float *out, const loom_block *in, int nin, const float *W,
                               const float *b, int B, int OUT)
{
    /* out = x_1 W_1 + x_2 W_2 + ...: the first product writes, the others add */
    for (int k = 0; k < nin; k++) {
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, B, OUT, in[k].cols, 1.0f, in[k].x, in[k].cols, W, OUT,
                  k ? 1.0f : 0.0f, out, OUT);
        W += (size_t)in[k].cols * OUT;
    }
    if (b)
        add_bias(out, b, B, OUT);
}

void loom_dense_backward_blocks(const loom_block *in, int nin, float *dW, float *db,
                                const float *dout, const float *W, int B, int OUT, float scale)
{
    /* forward was out = sum_k x_k W_k + b, so: */
    for (int k = 0; k < nin; k++) {
        int IN = in[k].cols;
        if (in[k].dx) /* dx_k += scale dout W_k^T : (B, OUT) x (OUT, IN) */
            loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, IN, OUT, scale, dout, OUT, W, OUT, 1.0f,
                      in[k].dx, IN);
        if (dW) { /* dW_k += scale x_k^T dout : (IN, B) x (B, OUT) */
            loom_gemm(LOOM_TRANS, LOOM_NOTRANS, IN, OUT, B, scale, in[k].x, IN, dout, OUT, 1.0f, dW,
                      OUT);
            dW += (size_t)IN * OUT;
        }
        W += (size_t)IN * OUT;
    }
    for (int i = 0; db && i < B; i++)
        loom_axpy((size_t)OUT, scale, dout + (size_t)i * OUT, db);
}

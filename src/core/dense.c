/* loom: the dense layer (see dense.h). Three GEMMs in all, one forward and
 * two backward; the bias costs a pass over the output rows, which is small
 * beside the GEMM for any useful width. Knows nothing of what x means. */
#include "core/dense.h"
#include "core/blas.h"

#include <string.h>

void loom_dense_forward(float *out, const float *inp, const float *W, const float *b, int B, int IN,
                        int OUT)
{
    /* Seed each output row with the bias, then out = 1 * inp W + 1 * out. */
    float beta = 0.0f;
    if (b) {
        for (int i = 0; i < B; i++)
            memcpy(out + (size_t)i * OUT, b, (size_t)OUT * sizeof *out);
        beta = 1.0f;
    }
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, B, OUT, IN, 1.0f, inp, IN, W, OUT, beta, out, OUT);
}

void loom_dense_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                         const float *W, int B, int IN, int OUT)
{
    /* forward was out = inp W + b, so: */
    if (dinp) /* dinp += dout W^T : (B, OUT) x (OUT, IN) */
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, IN, OUT, 1.0f, dout, OUT, W, OUT, 1.0f, dinp, IN);
    if (dW) /* dW += inp^T dout : (IN, B) x (B, OUT) */
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, IN, OUT, B, 1.0f, inp, IN, dout, OUT, 1.0f, dW, OUT);
    if (db)
        for (int i = 0; i < B; i++) {
            const float *row = dout + (size_t)i * OUT;
            for (int j = 0; j < OUT; j++)
                db[j] += row[j];
        }
}

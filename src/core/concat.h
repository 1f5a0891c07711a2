/* loom: concatenation of column blocks, [x_1 x_2 ...] row by row, and the
 * block description that layers reading such an input share (the dense
 * layer's block variant reads the blocks where they lie, without the copy).
 * A decoder's output layer reads [s_t; c_t; e_t]; a bidirectional encoder's
 * final states (2, B, H) become (B, 2H). Plain copies: nothing allocates. */
#ifndef LOOM_CORE_CONCAT_H
#define LOOM_CORE_CONCAT_H

/* One block of an input: B rows of `cols` floats, contiguous. dx, where a
 * backward pass wants it, receives the block's gradient (accumulated, +=);
 * NULL skips it. */
typedef struct {
    const float *x;
    float *dx;
    int cols;
} loom_block;

/* out (B, sum of cols): row i is [in[0].x row i, in[1].x row i, ...]. */
void loom_concat_forward(float *out, const loom_block *in, int nin, int B);
/* in[k].dx (B, cols_k) += the columns of dout (B, sum of cols) that were
 * block k's. */
void loom_concat_backward(const loom_block *in, int nin, const float *dout, int B);

#endif

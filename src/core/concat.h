/* loom: concatenation of column blocks, [x_1 x_2 ...] row by row, and the
 * block description that layers reading such an input share (the dense
 * layer's block variant reads the blocks where they lie, without the copy).
 * A decoder's output layer reads [s_t; c_t; e_t]; a bidirectional encoder's
 * final states (2, B, H) become (B, 2H). Its inverse, the split, takes a
 * matrix's column blocks apart: a stacked decoder's bridge computes every
 * layer's s_0 in one product and splits them. Plain copies: nothing
 * allocates. */
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

/* The gather variant: only rows rows[0..n) of the blocks (indices into
 * their rows, each at most once), so that a layer above them works on
 * those rows alone. A decoder's output layer thus multiplies and takes
 * the softmax of its real target positions and skips the padding.
 *   out (n, sum of cols): row r is [in[0].x row rows[r], in[1].x row rows[r], ...] */
void loom_concat_gather_forward(float *out, const loom_block *in, int nin, const int *rows, int n);
/* in[k].dx row rows[r] += block k's columns of dout row r (rows not
 * gathered get nothing). */
void loom_concat_gather_backward(const loom_block *in, int nin, const float *dout, const int *rows,
                                 int n);

/* One block of a split's output: B rows of `cols` floats, contiguous. y
 * receives the block in the forward pass; dy, its gradient, is read by the
 * backward pass (NULL: zero). */
typedef struct {
    float *y;
    const float *dy;
    int cols;
} loom_split_block;

/* out[k].y (B, cols_k) = block k's columns of x (B, sum of cols). */
void loom_split_forward(const loom_split_block *out, int nout, const float *x, int B);
/* dx (B, sum of cols) += [out[0].dy out[1].dy ...] row by row. */
void loom_split_backward(float *dx, const loom_split_block *out, int nout, int B);

#endif

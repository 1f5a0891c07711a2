/* loom: the inner step of the word2vec trainer, in the HogBatch form of Ji
 * et al.: m input rows (a window's context words, or CBOW's mean) are
 * scored against n output rows (the target and the negatives shared by the
 * window, or the target's Huffman path) in one small matrix product, and
 * both sides get their logistic-loss gradient. Knows rows of floats, not
 * words. Shapes: in is (m, dim), out is (n, dim), scores are (m, n). */
#ifndef LOOM_EMBED_HOGBATCH_H
#define LOOM_EMBED_HOGBATCH_H

#include <stddef.h>

/* The logistic function and its log on [-LOOM_SIGMOID_MAX, LOOM_SIGMOID_MAX]
 * by table, as word2vec does; beyond that the gradient saturates. */
#define LOOM_SIGMOID_MAX 8.0f
#define LOOM_SIGMOID_SIZE 2048

typedef struct {
    float sigmoid[LOOM_SIGMOID_SIZE + 1];
    float log_sigmoid[LOOM_SIGMOID_SIZE + 1]; /* log sigmoid(x), for the loss */
    int avx2;   /* loom_simd_level() allows AVX2: use the kernels written for it */
    int avx512; /* it allows AVX-512: the sixteen-lane step (both set) */
} loom_sigmoid_table;

/* Fills the tables and picks the kernels through core's one dispatch point
 * (loom_simd_level: LOOM_NO_AVX2 in the environment forces the portable
 * ones). */
void loom_sigmoid_table_init(loom_sigmoid_table *t);

/* One step. For each pair (a, k): score s = in[a] . out[k], gradient
 * g = alpha * (label[k] - sigmoid(s)). Then
 *     din[a]  = sum_k g[a,k] out[k]      (din is (m, dim), overwritten)
 *     out[k] += sum_a g[a,k] in[a]       (updated in place)
 * both from the values before the step. The caller adds din to the input
 * rows. Returns the summed loss -log sigmoid(+-s). `work` holds
 * m * n + m floats. Input rows must not alias output rows. */
float loom_hogbatch_step(float *const *in, size_t m, float *const *out, const float *label,
                         size_t n, size_t dim, float alpha, const loom_sigmoid_table *t,
                         float *work, float *din);

/* rows[a] += din[a] for a < m, in order (a row listed twice gets both). */
void loom_hogbatch_add_rows(float *const *rows, size_t m, const float *din, size_t dim);

/* loom_hogbatch_step, then loom_hogbatch_add_rows(in, m, din, dim): the
 * same bits. Where it can (AVX2, at most 8 output rows, no input row listed
 * twice), the step adds each row's gradient in its pass over the
 * dimensions, and din is scratch. */
float loom_hogbatch_step_apply(float *const *in, size_t m, float *const *out, const float *label,
                               size_t n, size_t dim, float alpha, const loom_sigmoid_table *t,
                               float *work, float *din);

#endif

/* loom: the HogBatch step (see hogbatch.h). The rows are short (dim 100
 * is typical) and the matrices tiny (a few rows each), so a BLAS call
 * costs more than the arithmetic: the loops below are written in blocks
 * of eight floats that the compiler turns into vector instructions. */
#include "config.h"
#include "embed/hogbatch.h"
#include "core/vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void loom_sigmoid_table_init(loom_sigmoid_table *t)
{
    for (int i = 0; i <= LOOM_SIGMOID_SIZE; i++) {
        double x = ((double)i / LOOM_SIGMOID_SIZE * 2.0 - 1.0) * LOOM_SIGMOID_MAX;
        t->sigmoid[i] = (float)(1.0 / (1.0 + exp(-x)));
        t->log_sigmoid[i] = (float)-log1p(exp(-x));
    }
    t->avx2 = loom_simd_level() >= LOOM_SIMD_AVX2;
    t->avx512 = loom_simd_level() >= LOOM_SIMD_AVX512;
}

/* The portable path: four floats as one value (core/vmath.h's loom_v4f,
 * SSE on x86-64, NEON on ARM); rows need not be aligned. */
static inline float dot_v4(const float *restrict x, const float *restrict y, size_t n)
{
    loom_v4f a0 = {0}, a1 = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 += loom_v4_load(x + i) * loom_v4_load(y + i);
        a1 += loom_v4_load(x + i + 4) * loom_v4_load(y + i + 4);
    }
    if (i + 4 <= n) {
        a0 += loom_v4_load(x + i) * loom_v4_load(y + i);
        i += 4;
    }
    a0 += a1;
    float s = (a0[0] + a0[1]) + (a0[2] + a0[3]);
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* combine_v4 and combine_avx2's last elements, y[i..n), one at a time. */
static inline void combine_tail(float *restrict y, int from_zero, float *const *x, const float *c,
                                size_t nx, size_t i, size_t n)
{
    for (; i < n; i++) {
        float acc = from_zero ? 0.0f : y[i];
        for (size_t j = 0; j < nx; j++)
            acc += c[j] * x[j][i];
        y[i] = acc;
    }
}

/* y = y0 + sum_j c[j] x[j], a block at a time held in registers, so y is
 * read and written once however many rows are summed. y0 is y itself, or
 * zero when from_zero. */
static inline void combine_v4(float *restrict y, int from_zero, float *const *x, const float *c,
                              size_t nx, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        loom_v4f acc = from_zero ? (loom_v4f){0} : loom_v4_load(y + i);
        for (size_t j = 0; j < nx; j++)
            acc += c[j] * loom_v4_load(x[j] + i);
        loom_v4_store(y + i, acc);
    }
    combine_tail(y, from_zero, x, c, nx, i, n);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same with AVX2 and FMA, chosen at run time when the CPU has them. */
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

__attribute__((target("avx2,fma"))) static inline float dot_avx2(const float *restrict x,
                                                                 const float *restrict y, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    if (i + 8 <= n) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        i += 8;
    }
    a0 = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    if (i + 4 <= n) {
        h = _mm_fmadd_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i), h);
        i += 4;
    }
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

__attribute__((target("avx2,fma"))) static inline void
combine_avx2(float *restrict y, int from_zero, float *const *x, const float *c, size_t nx, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 acc = from_zero ? _mm256_setzero_ps() : _mm256_loadu_ps(y + i);
        for (size_t j = 0; j < nx; j++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(c[j]), _mm256_loadu_ps(x[j] + i), acc);
        _mm256_storeu_ps(y + i, acc);
    }
    for (; i + 4 <= n; i += 4) {
        __m128 acc = from_zero ? _mm_setzero_ps() : _mm_loadu_ps(y + i);
        for (size_t j = 0; j < nx; j++)
            acc = _mm_fmadd_ps(_mm_set1_ps(c[j]), _mm_loadu_ps(x[j] + i), acc);
        _mm_storeu_ps(y + i, acc);
    }
    combine_tail(y, from_zero, x, c, nx, i, n);
}
#endif

/* alpha * (label - sigmoid(s)), with the loss of the true side added to
 * *loss: one table index for both, log sigmoid(s) for label 1 and, for
 * label 0, log sigmoid(-s) = log sigmoid(s) - s */
static inline float score_grad(float s, float label, float alpha, const loom_sigmoid_table *t,
                               float *loss)
{
    const float scale = LOOM_SIGMOID_SIZE / (2.0f * LOOM_SIGMOID_MAX);
    float sig, logsig;
    if (s >= LOOM_SIGMOID_MAX) {
        sig = 1.0f;
        logsig = 0.0f;
    } else if (s <= -LOOM_SIGMOID_MAX) {
        sig = 0.0f;
        logsig = s;
    } else {
        int i = (int)((s + LOOM_SIGMOID_MAX) * scale + 0.5f);
        sig = t->sigmoid[i];
        logsig = t->log_sigmoid[i];
    }
    *loss -= label > 0.5f ? logsig : logsig - s;
    return alpha * (label - sig);
}

/* The step, written once and compiled twice: `avx2` is a constant in each
 * caller, so the other path's calls vanish. */
static inline __attribute__((always_inline)) float
step(float *const *in, size_t m, float *const *out, const float *label, size_t n, size_t dim,
     float alpha, const loom_sigmoid_table *t, float *work, float *din, int avx2)
{
    float loss = 0;
    /* scores and gradients: work[a*n + k] */
    for (size_t a = 0; a < m; a++) {
        for (size_t k = 0; k < n; k++) {
            float s;
#ifdef HAVE_AVX2_PATH
            if (avx2)
                s = dot_avx2(in[a], out[k], dim);
            else
#endif
                s = dot_v4(in[a], out[k], dim);
            work[a * n + k] = score_grad(s, label[k], alpha, t, &loss);
        }
    }
    /* din[a] = sum_k g[a,k] out[k], from the old output rows */
    for (size_t a = 0; a < m; a++) {
#ifdef HAVE_AVX2_PATH
        if (avx2)
            combine_avx2(din + a * dim, 1, out, work + a * n, n, dim);
        else
#endif
            combine_v4(din + a * dim, 1, out, work + a * n, n, dim);
    }
    /* out[k] += sum_a g[a,k] in[a], from the old input rows: g's column k,
     * gathered into a row of its own (after work's m x n block) */
    float *col = work + m * n;
    for (size_t k = 0; k < n; k++) {
        for (size_t a = 0; a < m; a++)
            col[a] = work[a * n + k];
#ifdef HAVE_AVX2_PATH
        if (avx2)
            combine_avx2(out[k], 0, in, col, m, dim);
        else
#endif
            combine_v4(out[k], 0, in, col, m, dim);
    }
    return loss;
}

#ifdef HAVE_AVX2_PATH
/* ---- eight lanes, fused (AVX2+FMA) ----
 * The sixteen-lane step's organisation (below) on eight lanes: the scores
 * of one input row against up to 4 output rows share each load of it, and
 * with at most GROUP output rows the input gradient and the output update
 * are made in one pass over the dimensions. Sixteen registers cannot hold
 * 8 output blocks beside their 8 sums, so the FMAs read the output blocks
 * from memory (L1: the same instruction count); the sums stay in
 * registers. A row's last dim % 8 floats go through masked loads and
 * stores. */
#define GROUP 8

/* The lanes of the block at dim - left: all when left >= 8. */
__attribute__((target("avx2"))) static inline __m256i tail_mask8(size_t left)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int k = left >= 8 ? 8 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), lane);
}

/* A block of 8 floats, all of it or (masked) the lanes of mk. */
__attribute__((target("avx2"), always_inline)) static inline __m256
load8(const float *p, __m256i mk, const int masked)
{
    return masked ? _mm256_maskload_ps(p, mk) : _mm256_loadu_ps(p);
}

__attribute__((target("avx2"), always_inline)) static inline void
store8(float *p, __m256 v, __m256i mk, const int masked)
{
    if (masked)
        _mm256_maskstore_ps(p, mk, v);
    else
        _mm256_storeu_ps(p, v);
}

/* s[0..3] = the sums of the lanes of a0..a3 */
__attribute__((target("avx2"))) static inline void sum4_avx2(__m256 a0, __m256 a1, __m256 a2,
                                                             __m256 a3, float *s)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    _mm_storeu_ps(s, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

/* s[r * 4 + j] = x[r] . y[j] for r < A, j < G, A (1..2) and G (1..4)
 * constants at each call: up to eight independent sums (named variables,
 * so that they stay in registers), each output block loaded once for both
 * input rows */
__attribute__((target("avx2,fma"), always_inline)) static inline void
dots_avx2(float *const *x, float *const *y, size_t dim, float *s, const size_t A, const size_t G)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0, x0, x1 = a0, o;
    __m256i mk = _mm256_set1_epi32(-1);
/* the block at i; M: masked loads (the row's last dim % 8 floats) */
#define LOOM_DOTS_COL(j, acc_a, acc_b, M)                                                          \
    if (G > j) {                                                                                   \
        o = load8(y[j] + i, mk, M);                                                                \
        acc_a = _mm256_fmadd_ps(x0, o, acc_a);                                                     \
        if (A > 1)                                                                                 \
            acc_b = _mm256_fmadd_ps(x1, o, acc_b);                                                 \
    }
#define LOOM_DOTS_BLOCK(M)                                                                         \
    x0 = load8(x[0] + i, mk, M);                                                                   \
    if (A > 1)                                                                                     \
        x1 = load8(x[1] + i, mk, M);                                                               \
    LOOM_DOTS_COL(0, a0, b0, M)                                                                    \
    LOOM_DOTS_COL(1, a1, b1, M)                                                                    \
    LOOM_DOTS_COL(2, a2, b2, M)                                                                    \
    LOOM_DOTS_COL(3, a3, b3, M)
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        LOOM_DOTS_BLOCK(0)
    }
    if (i < dim) {
        mk = tail_mask8(dim - i);
        LOOM_DOTS_BLOCK(1)
    }
#undef LOOM_DOTS_BLOCK
#undef LOOM_DOTS_COL
    sum4_avx2(a0, a1, a2, a3, s);
    if (A > 1)
        sum4_avx2(b0, b1, b2, b3, s + 4);
}

/* dots_avx2 with G a variable: one constant instance per value */
__attribute__((target("avx2,fma"), always_inline)) static inline void
dots_avx2_g(float *const *x, float *const *y, size_t dim, float *s, const size_t A, size_t G)
{
    if (G == 4)
        dots_avx2(x, y, dim, s, A, 4);
    else if (G == 3)
        dots_avx2(x, y, dim, s, A, 3);
    else if (G == 2)
        dots_avx2(x, y, dim, s, A, 2);
    else
        dots_avx2(x, y, dim, s, A, 1);
}

/* One block of fused_avx2 at offset i: din[a] = sum_k g[a,k] out[k] and
 * out[k] += sum_a g[a,k] in[a], both from the values before (every read of
 * the output rows comes before their stores, so a row listed twice gets
 * both updates). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
fused_block_avx2(float *const *in, size_t m, float *const *out, size_t n, size_t dim,
                 const float *g, float *din, size_t i, __m256i mk, const int masked,
                 const int apply)
{
    __m256 u[GROUP];
#pragma GCC unroll 8
    for (size_t k = 0; k < GROUP; k++)
        u[k] = _mm256_setzero_ps();
    for (size_t a = 0; a < m; a++) {
        __m256 x = load8(in[a] + i, mk, masked);
        __m256 d0 = _mm256_setzero_ps(), d1 = d0;
        const float *ga = g + a * n;
#pragma GCC unroll 8
        for (size_t k = 0; k < GROUP; k++)
            if (k < n) {
                __m256 gk = _mm256_broadcast_ss(ga + k);
                if (k & 1)
                    d1 = _mm256_fmadd_ps(gk, load8(out[k] + i, mk, masked), d1);
                else
                    d0 = _mm256_fmadd_ps(gk, load8(out[k] + i, mk, masked), d0);
                u[k] = _mm256_fmadd_ps(gk, x, u[k]);
            }
        if (apply) /* in[a] += din[a]: x is its only read */
            store8(in[a] + i, _mm256_add_ps(x, _mm256_add_ps(d0, d1)), mk, masked);
        else
            store8(din + a * dim + i, _mm256_add_ps(d0, d1), mk, masked);
    }
#pragma GCC unroll 8
    for (size_t k = 0; k < GROUP; k++)
        if (k < n)
            store8(out[k] + i, _mm256_add_ps(load8(out[k] + i, mk, masked), u[k]), mk, masked);
}

/* score_grad over the scores in work (m rows of n <= GROUP), a row per
 * eight-lane vector: work[a*n + k] becomes alpha * (label[k] - sigmoid(s))
 * and the loss of the true sides is returned (the same table entries and
 * saturation as score_grad; the loss summed in another order). */
__attribute__((target("avx2,fma"))) static float grads_avx2(float *work, size_t m,
                                                            const float *label, size_t n,
                                                            float alpha,
                                                            const loom_sigmoid_table *t)
{
    const __m256 hi = _mm256_set1_ps(LOOM_SIGMOID_MAX), lo = _mm256_set1_ps(-LOOM_SIGMOID_MAX);
    const __m256 scale = _mm256_set1_ps(LOOM_SIGMOID_SIZE / (2.0f * LOOM_SIGMOID_MAX));
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 zero = _mm256_setzero_ps(), av = _mm256_set1_ps(alpha);
    const __m256i mk = tail_mask8(n);
    const __m256 lab = _mm256_maskload_ps(label, mk), keep = _mm256_castsi256_ps(mk);
    const __m256 neg = _mm256_sub_ps(one, lab); /* 1 for label 0: log sigmoid(-s) = ... - s */
    __m256 loss = zero;
    for (size_t a = 0; a < m; a++) {
        __m256 s = _mm256_maskload_ps(work + a * n, mk);
        __m256 c = _mm256_min_ps(_mm256_max_ps(s, lo), hi);
        __m256i i =
            _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(c, hi), scale), half));
        __m256 sig = _mm256_i32gather_ps(t->sigmoid, i, 4);
        __m256 ls = _mm256_i32gather_ps(t->log_sigmoid, i, 4);
        __m256 above = _mm256_cmp_ps(s, hi, _CMP_GE_OQ), below = _mm256_cmp_ps(s, lo, _CMP_LE_OQ);
        sig = _mm256_blendv_ps(_mm256_blendv_ps(sig, one, above), zero, below);
        ls = _mm256_blendv_ps(_mm256_blendv_ps(ls, zero, above), s, below);
        _mm256_maskstore_ps(work + a * n, mk, _mm256_mul_ps(av, _mm256_sub_ps(lab, sig)));
        loss = _mm256_add_ps(loss, _mm256_and_ps(keep, _mm256_fnmadd_ps(neg, s, ls)));
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(loss), _mm256_extractf128_ps(loss, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return -_mm_cvtss_f32(h);
}

/* The input gradient and the output update in one pass; n <= GROUP. With
 * apply, the input gradient is added to the input rows (which must then
 * be distinct) instead of written to din. */
__attribute__((target("avx2,fma"))) static void fused_avx2(float *const *in, size_t m,
                                                           float *const *out, size_t n, size_t dim,
                                                           const float *g, float *din, int apply)
{
    const __m256i all = _mm256_set1_epi32(-1);
    size_t i = 0;
    if (apply) {
        for (; i + 8 <= dim; i += 8)
            fused_block_avx2(in, m, out, n, dim, g, din, i, all, 0, 1);
        if (i < dim)
            fused_block_avx2(in, m, out, n, dim, g, din, i, tail_mask8(dim - i), 1, 1);
        return;
    }
    for (; i + 8 <= dim; i += 8)
        fused_block_avx2(in, m, out, n, dim, g, din, i, all, 0, 0);
    if (i < dim)
        fused_block_avx2(in, m, out, n, dim, g, din, i, tail_mask8(dim - i), 1, 0);
}

__attribute__((target("avx2,fma"))) static float
step_avx2(float *const *in, size_t m, float *const *out, const float *label, size_t n, size_t dim,
          float alpha, const loom_sigmoid_table *t, float *work, float *din, int apply)
{
    if (n > GROUP) /* a long Huffman path: row by row */
        return step(in, m, out, label, n, dim, alpha, t, work, din, 1);
    float s[8];
    for (size_t a = 0; a < m; a += 2) {
        size_t r = m - a >= 2 ? 2 : 1;
        for (size_t k0 = 0; k0 < n; k0 += 4) {
            size_t g = n - k0 >= 4 ? 4 : n - k0;
            if (r == 2)
                dots_avx2_g(in + a, out + k0, dim, s, 2, g);
            else
                dots_avx2_g(in + a, out + k0, dim, s, 1, g);
            for (size_t b = 0; b < r; b++)
                for (size_t j = 0; j < g; j++)
                    work[(a + b) * n + k0 + j] = s[b * 4 + j];
        }
    }
    float loss = grads_avx2(work, m, label, n, alpha, t);
    fused_avx2(in, m, out, n, dim, work, din, apply);
    return loss;
}
#endif

#ifdef HAVE_AVX2_PATH
/* ---- sixteen lanes (AVX-512F) ----
 * The same step, organised for registers rather than rows: the scores of
 * one input row against up to 4 output rows share each load of the input
 * row; and when there are at most 8 output rows (negative sampling's
 * target and negatives), the input gradient and the output update are made
 * in one pass over the dimensions: each 16-float block of the output rows
 * is loaded once, every input row's block is read once, and din's block is
 * written once. A row's last dim % 16 floats go through masked loads and
 * stores, so no scalar tail. GROUP (8) is the eight-lane step's. */

__attribute__((target("avx512f"))) static inline __mmask16 tail_mask(size_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* s[j] = x . y[j] for j < G, G a constant 1..4 at each call: the sums are
 * named variables, not an array, so that they stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
dots_avx512(const float *x, float *const *y, size_t dim, float *s, const size_t G)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < dim; i += 16) {
        __mmask16 mk = tail_mask(dim - i);
        __m512 xv = _mm512_maskz_loadu_ps(mk, x + i);
        a0 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mk, y[0] + i), a0);
        if (G > 1)
            a1 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mk, y[1] + i), a1);
        if (G > 2)
            a2 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mk, y[2] + i), a2);
        if (G > 3)
            a3 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mk, y[3] + i), a3);
    }
    s[0] = _mm512_reduce_add_ps(a0);
    if (G > 1)
        s[1] = _mm512_reduce_add_ps(a1);
    if (G > 2)
        s[2] = _mm512_reduce_add_ps(a2);
    if (G > 3)
        s[3] = _mm512_reduce_add_ps(a3);
}

/* y = y0 + sum_j c[j] x[j] (y0 = y, or 0 when from_zero), sixteen lanes */
__attribute__((target("avx512f"))) static inline void combine_avx512(float *restrict y,
                                                                     int from_zero, float *const *x,
                                                                     const float *c, size_t nx,
                                                                     size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        __m512 acc = from_zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk, y + i);
        for (size_t j = 0; j < nx; j++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(c[j]), _mm512_maskz_loadu_ps(mk, x[j] + i), acc);
        _mm512_mask_storeu_ps(y + i, mk, acc);
    }
}

/* din[a] = sum_k g[a,k] out[k] and out[k] += sum_a g[a,k] in[a], both from
 * the values before, in one pass over the dimensions; n <= GROUP. An output
 * row listed twice (a repeated negative) gets both updates: each is added
 * to the row as it is in memory at the block's end. */
__attribute__((target("avx512f"), always_inline)) static inline void
fused_avx512(float *const *in, size_t m, float *const *out, size_t n, size_t dim, const float *g,
             float *din)
{
    for (size_t i = 0; i < dim; i += 16) {
        __mmask16 mk = tail_mask(dim - i);
        __m512 o[GROUP], u[GROUP];
#pragma GCC unroll 8
        for (size_t k = 0; k < GROUP; k++) {
            o[k] = k < n ? _mm512_maskz_loadu_ps(mk, out[k] + i) : _mm512_setzero_ps();
            u[k] = _mm512_setzero_ps();
        }
        for (size_t a = 0; a < m; a++) {
            __m512 x = _mm512_maskz_loadu_ps(mk, in[a] + i), d = _mm512_setzero_ps();
            const float *ga = g + a * n;
#pragma GCC unroll 8
            for (size_t k = 0; k < GROUP; k++)
                if (k < n) {
                    __m512 gk = _mm512_set1_ps(ga[k]);
                    d = _mm512_fmadd_ps(gk, o[k], d);
                    u[k] = _mm512_fmadd_ps(gk, x, u[k]);
                }
            _mm512_mask_storeu_ps(din + a * dim + i, mk, d);
        }
#pragma GCC unroll 8
        for (size_t k = 0; k < GROUP; k++)
            if (k < n)
                _mm512_mask_storeu_ps(out[k] + i, mk,
                                      _mm512_add_ps(_mm512_maskz_loadu_ps(mk, out[k] + i), u[k]));
    }
}

__attribute__((target("avx512f"))) static float
step_avx512(float *const *in, size_t m, float *const *out, const float *label, size_t n, size_t dim,
            float alpha, const loom_sigmoid_table *t, float *work, float *din)
{
    float loss = 0, s[4];
    for (size_t a = 0; a < m; a++)
        for (size_t k0 = 0; k0 < n;) {
            size_t g = n - k0 >= 4 ? 4 : n - k0;
            if (g == 4)
                dots_avx512(in[a], out + k0, dim, s, 4);
            else if (g == 3)
                dots_avx512(in[a], out + k0, dim, s, 3);
            else if (g == 2)
                dots_avx512(in[a], out + k0, dim, s, 2);
            else
                dots_avx512(in[a], out + k0, dim, s, 1);
            for (size_t j = 0; j < g; j++)
                work[a * n + k0 + j] = score_grad(s[j], label[k0 + j], alpha, t, &loss);
            k0 += g;
        }
    if (n <= GROUP) {
        fused_avx512(in, m, out, n, dim, work, din);
        return loss;
    }
    /* more outputs than registers (a long Huffman path): din from the old
     * output rows first, then the output rows, as the other paths do */
    for (size_t a = 0; a < m; a++)
        combine_avx512(din + a * dim, 1, out, work + a * n, n, dim);
    float *col = work + m * n;
    for (size_t k = 0; k < n; k++) {
        for (size_t a = 0; a < m; a++)
            col[a] = work[a * n + k];
        combine_avx512(out[k], 0, in, col, m, dim);
    }
    return loss;
}
#endif

float loom_hogbatch_step(float *const *in, size_t m, float *const *out, const float *label,
                         size_t n, size_t dim, float alpha, const loom_sigmoid_table *t,
                         float *work, float *din)
{
#ifdef HAVE_AVX2_PATH
    if (t->avx512)
        return step_avx512(in, m, out, label, n, dim, alpha, t, work, din);
    if (t->avx2)
        return step_avx2(in, m, out, label, n, dim, alpha, t, work, din, 0);
#endif
    return step(in, m, out, label, n, dim, alpha, t, work, din, 0);
}

/* No row listed twice among the m. */
static int distinct(float *const *rows, size_t m)
{
    for (size_t a = 1; a < m; a++)
        for (size_t b = 0; b < a; b++)
            if (rows[a] == rows[b])
                return 0;
    return 1;
}

void loom_hogbatch_add_rows(float *const *rows, size_t m, const float *din, size_t dim)
{
    for (size_t a = 0; a < m; a++) {
        float *restrict row = rows[a];
        const float *restrict d = din + a * dim;
        for (size_t i = 0; i < dim; i++)
            row[i] += d[i];
    }
}

float loom_hogbatch_step_apply(float *const *in, size_t m, float *const *out, const float *label,
                               size_t n, size_t dim, float alpha, const loom_sigmoid_table *t,
                               float *work, float *din)
{
#ifdef HAVE_AVX2_PATH
    /* the eight-lane step adds din as it makes it: one pass less over the
     * input rows (skip-gram's windows rarely repeat a word) */
    if (t->avx2 && !t->avx512 && n <= GROUP && distinct(in, m))
        return step_avx2(in, m, out, label, n, dim, alpha, t, work, din, 1);
#endif
    float loss = loom_hogbatch_step(in, m, out, label, n, dim, alpha, t, work, din);
    loom_hogbatch_add_rows(in, m, din, dim);
    return loss;
}

/* loom: the three matrix products of the recurrent layers and attention,
 * Y = X W, Y = X W^T and Y += X^T D, with X possibly a single row (a
 * decoder step at batch 1). OpenBLAS's sgemm with one row costs about five
 * times its sgemv (measured, 128 x 384, OpenBLAS 0.3.21), so one row goes
 * to sgemv (or sger). A private header of the core, not installed. */
#ifndef LOOM_CORE_SMALLMM_H
#define LOOM_CORE_SMALLMM_H

#include "core/blas.h"
#include "core/vmath.h"

/* Y (M,N) = X (M,K) W (K,N) + beta Y for M <= LOOM_MM_ROWS_MAX rows with
 * row strides ldx, ldw, ldy (smallgemm.c): W is read once for all rows,
 * without the packing that makes sgemm slow on few rows (beam search: 30%
 * faster at beam 5). Other shapes, or a machine without AVX2 and FMA, go
 * to loom_gemm. One row stays with sgemv, which is faster still there.
 * Only for a W of at most LOOM_MM_ROWS_MAX_W floats (1 MB, the hidden
 * layers' products): the kernel walks W's rows down 8 or 16 columns at a
 * time, so for an output layer (320 x 8,000 floats) each of its K loads is
 * on another page and W comes from memory once per 8 rows; there sgemm's
 * packing is cheaper (greedy decoding at batch 16 took 3-4x the CPU, beam 5
 * at batch 1 twice as much). */
#define LOOM_MM_ROWS_MAX 16
#define LOOM_MM_ROWS_MAX_W (256 * 1024)
void loom_mm_rows(int M, int N, int K, const float *X, int ldx, const float *W, int ldw, float beta,
                  float *Y, int ldy);
/* 1 when loom_mm_rows has its fast kernel on this machine. */
int loom_mm_rows_fast(void);
/* loom_mm_rows through the kernels of `level` (at most the CPU's): AVX-512F
 * and AVX2 give the same bits; below AVX2, loom_gemm. For the tests. */
void loom_mm_rows_level(loom_simd level, int M, int N, int K, const float *X, int ldx,
                        const float *W, int ldw, float beta, float *Y, int ldy);
/* The AVX-512 kernels' code (smallgemm16.h) run on AVX2 instructions, two
 * halves to a vector, so that a CPU without AVX-512 can test it: the same
 * bits as loom_mm_rows. No product uses it. Returns -1, computing nothing,
 * where the CPU (or the build) has no AVX2. */
int loom_mm_rows_halves(int M, int N, int K, const float *X, int ldx, const float *W, int ldw,
                        float beta, float *Y, int ldy);

/* Y (M,N) = X (M,K) W (K,N) + beta Y, X's rows ldx floats apart */
static inline void loom_mm_ldx(int M, int N, int K, const float *X, int ldx, const float *W,
                               float beta, float *Y)
{
    if (M == 1)
        loom_gemv(LOOM_TRANS, K, N, 1.0f, W, N, X, beta, Y);
    else if (M <= LOOM_MM_ROWS_MAX && (size_t)K * (size_t)N <= LOOM_MM_ROWS_MAX_W &&
             loom_mm_rows_fast())
        loom_mm_rows(M, N, K, X, ldx, W, N, beta, Y, N);
    else
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, ldx, W, N, beta, Y, N);
}

/* Y (M,N) = X (M,K) W (K,N) + beta Y */
static inline void loom_mm(int M, int N, int K, const float *X, const float *W, float beta,
                           float *Y)
{
    loom_mm_ldx(M, N, K, X, K, W, beta, Y);
}

/* Y (M,N) = X (M,K) W^T + beta Y, W stored (N,K) */
static inline void loom_mm_nt(int M, int N, int K, const float *X, const float *W, float beta,
                              float *Y)
{
    if (M == 1)
        loom_gemv(LOOM_NOTRANS, N, K, 1.0f, W, K, X, beta, Y);
    else
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, M, N, K, 1.0f, X, K, W, K, beta, Y, N);
}

/* Y (M,N) += X^T D, X stored (K,M), D (K,N): the weight gradient of K rows */
static inline void loom_mm_tn_acc(int M, int N, int K, const float *X, const float *D, float *Y)
{
    if (K == 1)
        loom_ger(M, N, 1.0f, X, D, Y, N);
    else
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, M, D, N, 1.0f, Y, N);
}

#endif

/* loom: row-major float32 linear algebra on OpenBLAS, named for the maths.
 * Thin wrappers only: shapes are checked by the caller, nothing allocates.
 * The core never calls cblas directly outside blas.c, so loom alone decides
 * how many threads OpenBLAS runs (loom_blas_set_threads). */
#ifndef LOOM_CORE_BLAS_H
#define LOOM_CORE_BLAS_H

#include <stddef.h>

enum { LOOM_NOTRANS = 0, LOOM_TRANS = 1 };

/* C = alpha * op(A) * op(B) + beta * C, all row-major.
 * op(A) is (M, K), op(B) is (K, N), C is (M, N); lda/ldb/ldc are the row
 * strides of A, B, C as stored (A stored (M, K) or, transposed, (K, M)).
 * With beta = 1 the product accumulates, which is how backward passes add
 * into gradients. */
void loom_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* The same product in float32 (OpenBLAS's sgemm) whatever the thread's
 * precision below. */
void loom_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

/* What loom_gemm computes in on the calling thread: float32 (the default:
 * sgemm, bit for bit), or bfloat16 operands with float32 accumulation
 * (core/gemm_bf16.h: where the CPU lacks AVX-512 BF16, float32 after all).
 * Training sets it around its forward and backward passes (seq2seq
 * --precision bf16), so every product of the core's layers on that thread
 * follows. A setting per thread: other threads (decoding, serving) keep
 * theirs. Returns the previous setting. */
enum { LOOM_PRECISION_FP32 = 0, LOOM_PRECISION_BF16 = 1 };
int loom_gemm_set_precision(int precision);
int loom_gemm_precision(void);

/* y = alpha * op(A) * x + beta * y; A is stored (M, N) row-major.
 * op(A) = A: x has N entries, y has M. op(A) = A^T: x has M, y has N. */
void loom_gemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
               float beta, float *y);

/* A += alpha * x y^T; A is (M, N), x has M entries, y has N. */
void loom_ger(int M, int N, float alpha, const float *x, const float *y, float *A, int lda);

/* y += alpha * x */
void loom_axpy(size_t n, float alpha, const float *x, float *y);
/* x . y */
float loom_dot(size_t n, const float *x, const float *y);
/* x *= alpha */
void loom_scal(size_t n, float alpha, float *x);
/* ||x||_2 */
float loom_nrm2(size_t n, const float *x);

/* OpenBLAS's own thread count. Callers running their own threads (the word
 * vector trainer, data-parallel training) set 1 so the two never
 * oversubscribe the cores. n <= 0 means one per core. A count equal to
 * the current one does nothing (no restart of OpenBLAS's thread pool). */
void loom_blas_set_threads(int n);
int loom_blas_threads(void);

/* The kernel set OpenBLAS chose when it loaded ("Haswell", "SkylakeX",
 * "Cooperlake", ...). */
const char *loom_blas_core(void);

/* OpenBLAS picks its kernels by CPU model when it loads, and a model newer
 * than the library falls back to generic SSE3 kernels: OpenBLAS 0.3.21
 * (Debian 12) takes an Intel family 6 model 207 Xeon for a "Prescott", and
 * its sgemm then runs about 5x slower than with the AVX-512 kernels the CPU
 * has (6 against 30 GFLOP/s, 640 x 4900 x 384, measured on such a Xeon).
 * When the chosen set is such a fallback (no AVX2 kernels) although the CPU
 * has AVX2 and FMA, and OPENBLAS_CORETYPE is not set, this names the set
 * the CPU can run, in OPENBLAS_CORETYPE's spelling ("Cooperlake" with
 * AVX-512 BF16, "SkylakeX" with AVX-512, else "Haswell"); otherwise NULL.
 * The CPU's features are those of loom_simd_level (core/vmath.h), so
 * LOOM_NO_AVX2 gives NULL and LOOM_NO_AVX512 at most "Haswell".
 * OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so a program sets it
 * before it starts, or starts itself again with it (as `loom` does). */
const char *loom_blas_better_core(void);

#endif

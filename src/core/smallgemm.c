/* loom: Y = X W + beta Y for a few rows of X (decoding: a beam of K
 * hypotheses, one sentence, a greedy step). OpenBLAS's sgemm packs all of
 * W (K x N) on every call, which for 2-8 rows costs more than the product
 * itself (perf: sgemm_itcopy 23% of beam-5 decoding), and its sgemv reads W
 * once per row. Here W streams through once, 16 (or 8) columns at a time,
 * while the rows' partial sums for those columns stay in registers: every
 * weight is loaded once and used M times. AVX2 + FMA chosen at run time;
 * other machines (and shapes outside the kernel's range) use loom_gemm. */
#include "config.h"
#include "core/smallmm.h"

#include "core/vmath.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LOOM_AVX2 __attribute__((target("avx2,fma")))

/* Columns [j, j + 8 * NV) of M rows; n8 (<= 8) columns of the last vector
 * are real when `tail` (masked loads and stores), all 8 otherwise. */
#define TILE(M, NV)                                                                                \
    LOOM_AVX2 static void tile_##M##_##NV(int K, const float *X, int ldx, const float *W, int ldw, \
                                          float beta, float *Y, int ldy, __m256i mask, int tail)   \
    {                                                                                              \
        __m256 acc[M][NV];                                                                         \
        _Pragma("GCC unroll 8") for (int m = 0; m < M; m++)                                        \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                                   \
        {                                                                                          \
            int last = tail && v == NV - 1;                                                        \
            __m256 y = beta == 0.0f ? _mm256_setzero_ps()                                          \
                       : last       ? _mm256_maskload_ps(Y + m * ldy + 8 * v, mask)                \
                                    : _mm256_loadu_ps(Y + m * ldy + 8 * v);                              \
            acc[m][v] = beta == 1.0f || beta == 0.0f ? y : _mm256_mul_ps(y, _mm256_set1_ps(beta)); \
        }                                                                                          \
        for (int k = 0; k < K; k++) {                                                              \
            __m256 w[NV];                                                                          \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) w[v] =                            \
                tail && v == NV - 1 ? _mm256_maskload_ps(W + (size_t)k * ldw + 8 * v, mask)        \
                                    : _mm256_loadu_ps(W + (size_t)k * ldw + 8 * v);                \
            _Pragma("GCC unroll 8") for (int m = 0; m < M; m++)                                    \
            {                                                                                      \
                __m256 x = _mm256_broadcast_ss(X + (size_t)m * ldx + k);                           \
                _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[m][v] =                   \
                    _mm256_fmadd_ps(x, w[v], acc[m][v]);                                           \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int m = 0; m < M; m++)                                        \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                                   \
        {                                                                                          \
            if (tail && v == NV - 1)                                                               \
                _mm256_maskstore_ps(Y + m * ldy + 8 * v, mask, acc[m][v]);                         \
            else                                                                                   \
                _mm256_storeu_ps(Y + m * ldy + 8 * v, acc[m][v]);                                  \
        }                                                                                          \
    }

/* 16 columns per tile up to 6 rows (12 accumulators + 2 weights + 1
 * broadcast of the 16 registers), 8 columns for 7 and 8 rows. */
TILE(1, 2)
TILE(2, 2)
TILE(3, 2)
TILE(4, 2)
TILE(5, 2)
TILE(6, 2)
TILE(7, 1)
TILE(8, 1)
TILE(1, 1)
TILE(2, 1)
TILE(3, 1)
TILE(4, 1)
TILE(5, 1)
TILE(6, 1)

typedef void tile_fn(int, const float *, int, const float *, int, float, float *, int, __m256i,
                     int);
static tile_fn *const wide[9] = {NULL,     tile_1_2, tile_2_2, tile_3_2, tile_4_2,
                                 tile_5_2, tile_6_2, tile_7_1, tile_8_1};
static tile_fn *const narrow[9] = {NULL,     tile_1_1, tile_2_1, tile_3_1, tile_4_1,
                                   tile_5_1, tile_6_1, tile_7_1, tile_8_1};

LOOM_AVX2 static void mm_rows_avx2(int M, int N, int K, const float *X, int ldx, const float *W,
                                   int ldw, float beta, float *Y, int ldy)
{
    int step = M <= 6 ? 16 : 8, j = 0;
    __m256i all = _mm256_set1_epi32(-1);
    for (; j + step <= N; j += step)
        wide[M](K, X, ldx, W + j, ldw, beta, Y + j, ldy, all, 0);
    for (; j + 8 <= N; j += 8)
        narrow[M](K, X, ldx, W + j, ldw, beta, Y + j, ldy, all, 0);
    if (j < N) {
        int r = N - j;
        __m256i mask =
            _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        narrow[M](K, X, ldx, W + j, ldw, beta, Y + j, ldy, mask, 1);
    }
}

int loom_mm_rows_fast(void)
{
    return loom_simd_level() >= LOOM_SIMD_AVX2;
}

void loom_mm_rows(int M, int N, int K, const float *X, int ldx, const float *W, int ldw, float beta,
                  float *Y, int ldy)
{
    if (M >= 1 && N > 0 && K > 0 && loom_simd_level() >= LOOM_SIMD_AVX2) {
        for (int m = 0; m < M; m += 8) /* 8 rows per pass over W */
            mm_rows_avx2(M - m < 8 ? M - m : 8, N, K, X + (size_t)m * ldx, ldx, W, ldw, beta,
                         Y + (size_t)m * ldy, ldy);
        return;
    }
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, ldx, W, ldw, beta, Y, ldy);
}

#else

int loom_mm_rows_fast(void)
{
    return 0;
}

void loom_mm_rows(int M, int N, int K, const float *X, int ldx, const float *W, int ldw, float beta,
                  float *Y, int ldy)
{
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, ldx, W, ldw, beta, Y, ldy);
}

#endif

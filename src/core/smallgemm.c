/* loom: Y = X W + beta Y for a few rows of X (decoding: a beam of K
 * hypotheses, one sentence, a greedy step). OpenBLAS's sgemm packs all of
 * W (K x N) on every call, which for 2-8 rows costs more than the product
 * itself (perf: sgemm_itcopy 23% of beam-5 decoding), and its sgemv reads W
 * once per row. Here W streams through once, 16 or 8 columns at a time
 * (AVX2; AVX-512: 32 or 16), while the rows' partial sums for those
 * columns stay in registers: every weight is loaded once and used M times.
 * AVX-512F (16 lanes, smallgemm16.h) or AVX2 + FMA (8 lanes) chosen at run
 * time through loom_simd_level, with the same bits; other machines (and
 * shapes outside the kernel's range) use loom_gemm. */
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

/* ---- sixteen lanes: smallgemm16.h on AVX-512F ---- */
#define S16(name) name##_avx512
#define S16_TARGET __attribute__((target("avx512f")))
#define V16 __m512
#define M16 __mmask16
#define v16_zero() _mm512_setzero_ps()
#define v16_load(p) _mm512_loadu_ps(p)
#define v16_loadm(p, mk) _mm512_maskz_loadu_ps(mk, p)
#define v16_set1(x) _mm512_set1_ps(x)
#define v16_mul(a, b) _mm512_mul_ps(a, b)
#define v16_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define v16_store(p, v) _mm512_storeu_ps(p, v)
#define v16_storem(p, mk, v) _mm512_mask_storeu_ps(p, mk, v)
#define m16_first(n) ((__mmask16)((n) >= 16 ? 0xffffu : (1u << (n)) - 1u))
#include "core/smallgemm16.h" /* which #undefs the names above */

/* ---- the same sixteen-lane code on AVX2: each vector two halves ---- */
typedef struct {
    __m256 lo, hi;
} half_v16;
typedef struct {
    __m256i lo, hi;
} half_m16;

LOOM_AVX2 static inline half_v16 half_zero(void)
{
    return (half_v16){_mm256_setzero_ps(), _mm256_setzero_ps()};
}
LOOM_AVX2 static inline half_v16 half_load(const float *p)
{
    return (half_v16){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
LOOM_AVX2 static inline half_v16 half_loadm(const float *p, half_m16 mk)
{
    return (half_v16){_mm256_maskload_ps(p, mk.lo), _mm256_maskload_ps(p + 8, mk.hi)};
}
LOOM_AVX2 static inline half_v16 half_set1(float x)
{
    return (half_v16){_mm256_set1_ps(x), _mm256_set1_ps(x)};
}
LOOM_AVX2 static inline half_v16 half_mul(half_v16 a, half_v16 b)
{
    return (half_v16){_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)};
}
LOOM_AVX2 static inline half_v16 half_fma(half_v16 a, half_v16 b, half_v16 c)
{
    return (half_v16){_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
LOOM_AVX2 static inline void half_store(float *p, half_v16 v)
{
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
}
LOOM_AVX2 static inline void half_storem(float *p, half_m16 mk, half_v16 v)
{
    _mm256_maskstore_ps(p, mk.lo, v.lo);
    _mm256_maskstore_ps(p + 8, mk.hi, v.hi);
}
LOOM_AVX2 static inline half_m16 half_first(int n)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return (half_m16){_mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane),
                      _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane)};
}

#define S16(name) name##_halves
#define S16_TARGET LOOM_AVX2
#define V16 half_v16
#define M16 half_m16
#define v16_zero half_zero
#define v16_load half_load
#define v16_loadm half_loadm
#define v16_set1 half_set1
#define v16_mul half_mul
#define v16_fma half_fma
#define v16_store half_store
#define v16_storem half_storem
#define m16_first half_first
#include "core/smallgemm16.h" /* which #undefs the names above */

int loom_mm_rows_fast(void)
{
    return loom_simd_level() >= LOOM_SIMD_AVX2;
}

typedef void rows_fn(int, int, int, const float *, int, const float *, int, float, float *, int);

/* 8 rows per pass over W */
static void by_eight(rows_fn *f, int M, int N, int K, const float *X, int ldx, const float *W,
                     int ldw, float beta, float *Y, int ldy)
{
    for (int m = 0; m < M; m += 8)
        f(M - m < 8 ? M - m : 8, N, K, X + (size_t)m * ldx, ldx, W, ldw, beta, Y + (size_t)m * ldy,
          ldy);
}

void loom_mm_rows_level(loom_simd level, int M, int N, int K, const float *X, int ldx,
                        const float *W, int ldw, float beta, float *Y, int ldy)
{
    loom_simd cpu = loom_simd_level();
    if (level > cpu)
        level = cpu;
    if (M >= 1 && N > 0 && K > 0 && level >= LOOM_SIMD_AVX2) {
        by_eight(level >= LOOM_SIMD_AVX512 ? mm_rows_avx512 : mm_rows_avx2, M, N, K, X, ldx, W, ldw,
                 beta, Y, ldy);
        return;
    }
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, ldx, W, ldw, beta, Y, ldy);
}

int loom_mm_rows_halves(int M, int N, int K, const float *X, int ldx, const float *W, int ldw,
                        float beta, float *Y, int ldy)
{
    if (loom_simd_level() < LOOM_SIMD_AVX2)
        return -1;
    if (M >= 1 && N > 0 && K > 0)
        by_eight(mm_rows_halves, M, N, K, X, ldx, W, ldw, beta, Y, ldy);
    return 0;
}

#else

int loom_mm_rows_fast(void)
{
    return 0;
}

void loom_mm_rows_level(loom_simd level, int M, int N, int K, const float *X, int ldx,
                        const float *W, int ldw, float beta, float *Y, int ldy)
{
    (void)level;
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, ldx, W, ldw, beta, Y, ldy);
}

int loom_mm_rows_halves(int M, int N, int K, const float *X, int ldx, const float *W, int ldw,
                        float beta, float *Y, int ldy)
{
    (void)M, (void)N, (void)K, (void)X, (void)ldx, (void)W, (void)ldw, (void)beta, (void)Y,
        (void)ldy;
    return -1;
}

#endif

void loom_mm_rows(int M, int N, int K, const float *X, int ldx, const float *W, int ldw, float beta,
                  float *Y, int ldy)
{
    loom_mm_rows_level(loom_simd_level(), M, N, K, X, ldx, W, ldw, beta, Y, ldy);
}

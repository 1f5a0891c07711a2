/* loom: the product with a pre-packed W (see packmm.h). Panel p holds
 * columns [32p, 32p + 32) of W as K rows of 32 floats (the last panel
 * zero-padded), 64-byte aligned. For each panel, rows of X go through in
 * groups (12 rows x 32 columns in 24 AVX-512 accumulators; 6 rows x 16
 * columns in 12 AVX2 ones, the panel taken in two halves), so the panel is
 * read from memory once per call and from L1/L2 by the other groups. */
#include "config.h"
#include "core/packmm.h"

#include "base/alloc.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>

#define NR LOOM_PACKW_NR

struct loom_packw {
    int K, N, np; /* rows, columns, panels */
    float *panels;
};

/* p's panels from W (K, N), element (k, j) at W[k * sk + c(j) * sj],
 * c(j) = cols[j] (cols not NULL) or j */
static void fill(loom_packw *p, const float *W, size_t sk, size_t sj, const int *cols)
{
    int K = p->K, N = p->N;
    for (int q = 0; q < p->np; q++) {
        int j0 = q * NR, n = N - j0 < NR ? N - j0 : NR;
        float *dst = p->panels + (size_t)q * K * NR;
        for (int k = 0; k < K; k++, dst += NR) {
            const float *src = W + (size_t)k * sk;
            if (!cols && sj == 1)
                memcpy(dst, src + j0, (size_t)n * sizeof *dst);
            else
                for (int j = 0; j < n; j++)
                    dst[j] = src[(cols ? (size_t)cols[j0 + j] : (size_t)(j0 + j)) * sj];
            for (int j = n; j < NR; j++)
                dst[j] = 0.0f;
        }
    }
}

/* W (K, N) from element (k, j) at W[k * sk + c(j) * sj], c(j) = cols[j]
 * (cols not NULL) or j */
static int pack(loom_packw **out, const float *W, int K, int N, size_t sk, size_t sj,
                const int *cols)
{
    *out = NULL;
    loom_packw *p = loom_calloc(1, sizeof *p);
    if (!p)
        return LOOM_ENOMEM;
    p->K = K, p->N = N, p->np = (N + NR - 1) / NR;
    p->panels = loom_aligned_alloc((size_t)p->np * K * NR, sizeof(float));
    if (!p->panels) {
        free(p);
        return LOOM_ENOMEM;
    }
    fill(p, W, sk, sj, cols);
    *out = p;
    return 0;
}

void loom_packw_refill(loom_packw *p, const float *W, int ld, int trans)
{
    if (trans) { /* T (N, K): element (k, j) at T[j * ld + k] */
        /* by blocks of 16 of T's columns, so that each of its rows read
         * serves 16 panel rows while they are in cache */
        int K = p->K, N = p->N;
        for (int q = 0; q < p->np; q++) {
            int j0 = q * NR, n = N - j0 < NR ? N - j0 : NR;
            float *panel = p->panels + (size_t)q * K * NR;
            for (int k0 = 0; k0 < K; k0 += 16) {
                int k1 = K - k0 < 16 ? K : k0 + 16;
                for (int j = 0; j < n; j++) {
                    const float *src = W + (size_t)(j0 + j) * ld;
                    for (int k = k0; k < k1; k++)
                        panel[(size_t)k * NR + j] = src[k];
                }
                for (int k = k0; k < k1; k++)
                    for (int j = n; j < NR; j++)
                        panel[(size_t)k * NR + j] = 0.0f;
            }
        }
    } else {
        fill(p, W, (size_t)ld, 1, NULL);
    }
}

int loom_packw_new(loom_packw **out, const float *W, int K, int N, int ldw)
{
    *out = NULL;
    if (K < 1 || N < 1 || ldw < N)
        return loom_error(LOOM_EINVAL, "packw: a %d x %d matrix (row stride %d)", K, N, ldw);
    return pack(out, W, K, N, (size_t)ldw, 1, NULL);
}

int loom_packw_new_cols(loom_packw **out, const float *W, int K, int N, int ldw, const int *cols,
                        int n)
{
    *out = NULL;
    if (K < 1 || n < 1 || ldw < N)
        return loom_error(LOOM_EINVAL, "packw: %d columns of a %d x %d matrix (row stride %d)", n,
                          K, N, ldw);
    for (int j = 0; j < n; j++)
        if (cols[j] < 0 || cols[j] >= N)
            return loom_error(LOOM_EINVAL, "packw: column %d is %d, outside [0, %d)", j, cols[j],
                              N);
    return pack(out, W, K, n, (size_t)ldw, 1, cols);
}

int loom_packw_new_t(loom_packw **out, const float *T, int K, int N, int ldt)
{
    *out = NULL;
    if (K < 1 || N < 1 || ldt < K)
        return loom_error(LOOM_EINVAL, "packw: a %d x %d matrix (row stride %d)", N, K, ldt);
    return pack(out, T, K, N, 1, (size_t)ldt, NULL);
}

void loom_packw_free(loom_packw *p)
{
    if (!p)
        return;
    free(p->panels);
    free(p);
}

int loom_packw_rows(const loom_packw *p)
{
    return p->K;
}

int loom_packw_cols(const loom_packw *p)
{
    return p->N;
}

/* Each path computes one panel: its first n (<= NR) columns for M rows;
 * Y's and b's column 0 is the panel's first column. */
typedef void panel_fn(int K, const float *P, int n, int M, const float *X, size_t ldx,
                      const float *b, float *Y, size_t ldy);

/* The portable path: k in order from zero, then the bias, per output. */
static void panel_portable(int K, const float *P, int n, int M, const float *X, size_t ldx,
                           const float *b, float *Y, size_t ldy)
{
    for (int m = 0; m < M; m++) {
        float acc[NR] = {0};
        const float *x = X + (size_t)m * ldx;
        for (int k = 0; k < K; k++) {
            float xv = x[k];
            const float *w = P + (size_t)k * NR;
            for (int j = 0; j < NR; j++)
                acc[j] += xv * w[j];
        }
        float *y = Y + (size_t)m * ldy;
        for (int j = 0; j < n; j++)
            y[j] = b ? acc[j] + b[j] : acc[j];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define INLINE inline __attribute__((always_inline))

/* ---- AVX-512: MR rows x 32 columns of one panel (NV = 2), or its first
 * 16 (NV = 1: a narrow last panel, whose other columns are not computed;
 * each column is its own sum, so the same bits) ---- */

#define MR512 12

AVX512 static INLINE void tile512(const int MR, const int NV, int K, const float *X, size_t ldx,
                                  const float *P, const float *b, float *Y, size_t ldy,
                                  __mmask16 k0, __mmask16 k1)
{
    __m512 a0[MR512], a1[MR512];
#pragma GCC unroll 12
    for (int m = 0; m < MR; m++)
        a0[m] = a1[m] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 w0 = _mm512_load_ps(P + (size_t)k * NR),
               w1 = NV > 1 ? _mm512_load_ps(P + (size_t)k * NR + 16) : w0;
#pragma GCC unroll 12
        for (int m = 0; m < MR; m++) {
            __m512 x = _mm512_set1_ps(X[(size_t)m * ldx + k]);
            a0[m] = _mm512_fmadd_ps(x, w0, a0[m]);
            if (NV > 1)
                a1[m] = _mm512_fmadd_ps(x, w1, a1[m]);
        }
    }
    __m512 b0 = b ? _mm512_maskz_loadu_ps(k0, b) : _mm512_setzero_ps();
    __m512 b1 = b && NV > 1 ? _mm512_maskz_loadu_ps(k1, b + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int m = 0; m < MR; m++) {
        float *y = Y + (size_t)m * ldy;
        _mm512_mask_storeu_ps(y, k0, b ? _mm512_add_ps(a0[m], b0) : a0[m]);
        if (NV > 1)
            _mm512_mask_storeu_ps(y + 16, k1, b ? _mm512_add_ps(a1[m], b1) : a1[m]);
    }
}

typedef void tile512_fn(int, const float *, size_t, const float *, const float *, float *, size_t,
                        __mmask16, __mmask16);
#define T512(MR)                                                                                   \
    AVX512 static void tile512_##MR(int K, const float *X, size_t ldx, const float *P,             \
                                    const float *b, float *Y, size_t ldy, __mmask16 k0,            \
                                    __mmask16 k1)                                                  \
    {                                                                                              \
        tile512(MR, 2, K, X, ldx, P, b, Y, ldy, k0, k1);                                           \
    }                                                                                              \
    AVX512 static void tile512_##MR##_1(int K, const float *X, size_t ldx, const float *P,         \
                                        const float *b, float *Y, size_t ldy, __mmask16 k0,        \
                                        __mmask16 k1)                                              \
    {                                                                                              \
        tile512(MR, 1, K, X, ldx, P, b, Y, ldy, k0, k1);                                           \
    }
T512(1)
T512(2)
T512(3)
T512(4)
T512(5)
T512(6)
T512(7)
T512(8)
T512(9)
T512(10)
T512(11)
T512(12)
/* [NV - 1][MR] */
static tile512_fn *const tiles512[2][MR512 + 1] = {
    {NULL, tile512_1_1, tile512_2_1, tile512_3_1, tile512_4_1, tile512_5_1, tile512_6_1,
     tile512_7_1, tile512_8_1, tile512_9_1, tile512_10_1, tile512_11_1, tile512_12_1},
    {NULL, tile512_1, tile512_2, tile512_3, tile512_4, tile512_5, tile512_6, tile512_7, tile512_8,
     tile512_9, tile512_10, tile512_11, tile512_12}};

static void panel_avx512(int K, const float *P, int n, int M, const float *X, size_t ldx,
                         const float *b, float *Y, size_t ldy)
{
    __mmask16 k0 = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
    __mmask16 k1 = (__mmask16)(n >= 32 ? 0xffffu : n > 16 ? (1u << (n - 16)) - 1u : 0u);
    tile512_fn *const *tiles = tiles512[n > 16];
    for (int m = 0; m < M; m += MR512) {
        int mr = M - m < MR512 ? M - m : MR512;
        tiles[mr](K, X + (size_t)m * ldx, ldx, P, b, Y + (size_t)m * ldy, ldy, k0, k1);
    }
}

/* ---- AVX2: MR rows x 16 columns (half a panel, NV = 2), or its first 8
 * (NV = 1: the narrow end of a last panel, as for AVX-512) ---- */

#define MR256 6
/* The first tile over a half panel prefetches its rows PF256 ahead (4 KB:
 * a page, past L3's latency at ~6 cycles a row): the panel comes from L3 at
 * each step of training (the step's packs, ~5 MB, do not stay in L2), and
 * the hardware's prefetch stops at page ends. Measured alone (G2P's six
 * per-step products in turn, 4 MB touched between them, thread CPU time):
 * 32 rows 77.0 -> 78.3 GFLOP/s, 1-12 rows 1-12% faster; in G2P training
 * the first tiles' perf samples fell by a sixth. */
#define PF256 32

AVX2 static INLINE void tile256(const int MR, const int NV, const int PF, int K, const float *X,
                                size_t ldx, const float *P, const float *b, float *Y, size_t ldy,
                                __m256i k0, __m256i k1)
{
    __m256 a0[MR256], a1[MR256];
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++)
        a0[m] = a1[m] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        if (PF) /* a hint: it never faults, past the panels too */
            _mm_prefetch((const char *)(P + (size_t)(k + PF) * NR), _MM_HINT_T0);
        __m256 w0 = _mm256_load_ps(P + (size_t)k * NR),
               w1 = NV > 1 ? _mm256_load_ps(P + (size_t)k * NR + 8) : w0;
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++) {
            __m256 x = _mm256_broadcast_ss(X + (size_t)m * ldx + k);
            a0[m] = _mm256_fmadd_ps(x, w0, a0[m]);
            if (NV > 1)
                a1[m] = _mm256_fmadd_ps(x, w1, a1[m]);
        }
    }
    __m256 b0 = b ? _mm256_maskload_ps(b, k0) : _mm256_setzero_ps();
    __m256 b1 = b && NV > 1 ? _mm256_maskload_ps(b + 8, k1) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++) {
        float *y = Y + (size_t)m * ldy;
        _mm256_maskstore_ps(y, k0, b ? _mm256_add_ps(a0[m], b0) : a0[m]);
        if (NV > 1)
            _mm256_maskstore_ps(y + 8, k1, b ? _mm256_add_ps(a1[m], b1) : a1[m]);
    }
}

typedef void tile256_fn(int, const float *, size_t, const float *, const float *, float *, size_t,
                        __m256i, __m256i);
#define T256(MR)                                                                                   \
    AVX2 static void tile256_##MR(int K, const float *X, size_t ldx, const float *P,               \
                                  const float *b, float *Y, size_t ldy, __m256i k0, __m256i k1)    \
    {                                                                                              \
        tile256(MR, 2, 0, K, X, ldx, P, b, Y, ldy, k0, k1);                                        \
    }                                                                                              \
    AVX2 static void tile256_##MR##_pf(int K, const float *X, size_t ldx, const float *P,          \
                                       const float *b, float *Y, size_t ldy, __m256i k0,           \
                                       __m256i k1)                                                 \
    {                                                                                              \
        tile256(MR, 2, PF256, K, X, ldx, P, b, Y, ldy, k0, k1);                                    \
    }                                                                                              \
    AVX2 static void tile256_##MR##_1(int K, const float *X, size_t ldx, const float *P,           \
                                      const float *b, float *Y, size_t ldy, __m256i k0,            \
                                      __m256i k1)                                                  \
    {                                                                                              \
        tile256(MR, 1, 0, K, X, ldx, P, b, Y, ldy, k0, k1);                                        \
    }
T256(1)
T256(2)
T256(3)
T256(4)
T256(5)
T256(6)
/* [NV - 1][MR]; [2][MR]: NV = 2, prefetching the panel ahead */
static tile256_fn *const tiles256[3][MR256 + 1] = {
    {NULL, tile256_1_1, tile256_2_1, tile256_3_1, tile256_4_1, tile256_5_1, tile256_6_1},
    {NULL, tile256_1, tile256_2, tile256_3, tile256_4, tile256_5, tile256_6},
    {NULL, tile256_1_pf, tile256_2_pf, tile256_3_pf, tile256_4_pf, tile256_5_pf, tile256_6_pf}};

/* lanes [0, n) of a vector of 8 set */
AVX2 static __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2 static void panel_avx2(int K, const float *P, int n, int M, const float *X, size_t ldx,
                            const float *b, float *Y, size_t ldy)
{
    for (int h = 0; h < NR / 16 && 16 * h < n; h++) {
        int nh = n - 16 * h;
        __m256i k0 = lanes(nh), k1 = lanes(nh - 8);
        int j = 16 * h;
        tile256_fn *const *tiles = tiles256[nh > 8];
        /* M's rows in as few tiles as MR256 allows, of even heights: a
         * tile of 1 or 2 rows has too few sums to hide the multiply-add's
         * latency (32 rows: 6,6,5,5,5,5 instead of 6,6,6,6,6,2) */
        int nt = (M + MR256 - 1) / MR256;
        for (int m = 0, t = 0; t < nt; t++) {
            int mr = (M - m + nt - t - 1) / (nt - t);
            /* the first tile reads the half panel from L2 or beyond */
            tile256_fn *const *tl = t == 0 && nh > 8 ? tiles256[2] : tiles;
            tl[mr](K, X + (size_t)m * ldx, ldx, P + j, b ? b + j : NULL, Y + (size_t)m * ldy + j,
                   ldy, k0, k1);
            m += mr;
        }
    }
}

#endif

/* columns [j0, j0 + n) of the product through the path of `level` */
static void mm_range(loom_simd level, const loom_packw *p, int M, const float *X, int ldx,
                     const float *b, float *Y, int ldy, int j0, int n)
{
    if (M <= 0 || n <= 0 || j0 % NR || j0 + n > p->N)
        return;
    panel_fn *panel = panel_portable;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    loom_simd cpu = loom_simd_level();
    if (level > cpu)
        level = cpu;
    if (level >= LOOM_SIMD_AVX512)
        panel = panel_avx512;
    else if (level == LOOM_SIMD_AVX2)
        panel = panel_avx2;
#else
    (void)level;
#endif
    int K = p->K;
    for (int c = 0; c < n; c += NR) { /* c: the panel's first column in Y and b */
        int q = (j0 + c) / NR, w = n - c < NR ? n - c : NR;
        panel(K, p->panels + (size_t)q * K * NR, w, M, X, (size_t)ldx, b ? b + c : NULL, Y + c,
              (size_t)ldy);
    }
}

void loom_packw_mm_level(loom_simd level, const loom_packw *p, int M, const float *X, int ldx,
                         const float *b, float *Y, int ldy)
{
    mm_range(level, p, M, X, ldx, b, Y, ldy, 0, p->N);
}

void loom_packw_mm(const loom_packw *p, int M, const float *X, int ldx, const float *b, float *Y,
                   int ldy)
{
    mm_range(loom_simd_level(), p, M, X, ldx, b, Y, ldy, 0, p->N);
}

void loom_packw_mm_cols(const loom_packw *p, int M, const float *X, int ldx, float *Y, int ldy,
                        int j0, int n)
{
    mm_range(loom_simd_level(), p, M, X, ldx, NULL, Y, ldy, j0, n);
}

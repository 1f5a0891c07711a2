/* loom: the bfloat16 product (see gemm_bf16.h), in the usual blocked
 * layout: B is packed in blocks of KC x NC, A in blocks of MC x KC, both
 * as bfloat16 pairs along k (the pairs vdpbf16ps multiplies and adds),
 * and a 6 x 64 kernel keeps 24 accumulators of 16 floats in registers.
 * Edges are zero-padded in the panels, so the kernel always runs whole;
 * only its stores are cut to the matrix. */
#include "config.h"
#include "core/gemm_bf16.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "core/blas.h"
#include "core/vmath.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_BF16_KERNEL 1
#endif

enum {
    MR = 6,    /* rows of the kernel */
    NR = 64,   /* columns of the kernel: 4 vectors of 16 */
    KC = 384,  /* depth of a block (even) */
    MC = 96,   /* rows of an A block (a multiple of MR) */
    NC = 1024, /* columns of a B block (a multiple of NR) */
};

int loom_gemm_bf16_available(void)
{
#ifdef HAVE_BF16_KERNEL
    static int known = -1;
    if (known < 0) {
        unsigned a, b, c, d;
        known = loom_simd_level() >= LOOM_SIMD_AVX512 && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
                (a & (1u << 5)); /* AVX512_BF16 */
    }
    return known;
#else
    return 0;
#endif
}

#ifdef HAVE_BF16_KERNEL

/* element (i, j) of op(X), X stored row-major with row stride ld */
static inline float elem(const float *X, int trans, int ld, int i, int j)
{
    return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

static inline uint32_t pair(float lo, float hi)
{
    return (uint32_t)loom_bf16_round(lo) | (uint32_t)loom_bf16_round(hi) << 16;
}

/* A's rows i0..i0+mc, depth k0..k0+kc, as panels of MR rows: panel p holds,
 * for each pair of k, MR pairs (row r's a[k], a[k+1]); rows and k past the
 * matrix are 0. */
LOOM_VECTORIZE static void pack_a(uint32_t *dst, const float *A, int ta, int lda, int i0, int mc,
                                  int M, int k0, int kc, int K)
{
    int kp_n = (kc + 1) / 2;
    for (int p = 0; p < mc; p += MR) {
        for (int kp = 0; kp < kp_n; kp++) {
            int k = k0 + 2 * kp;
            for (int r = 0; r < MR; r++) {
                int i = i0 + p + r;
                float lo = 0, hi = 0;
                if (i < M && p + r < mc) {
                    lo = k < K ? elem(A, ta, lda, i, k) : 0;
                    hi = k + 1 < K && 2 * kp + 1 < kc ? elem(A, ta, lda, i, k + 1) : 0;
                }
                dst[r] = pair(lo, hi);
            }
            dst += MR;
        }
    }
}

/* B's depth k0..k0+kc, columns j0..j0+nc, as panels of NR columns: panel
 * q holds, for each pair of k, NR pairs (column j's b[k], b[k+1]). The
 * row-major case (B not transposed, the common one) runs 16 columns a
 * vector: two rows rounded in integer lanes and interleaved by shifts. */
__attribute__((target("avx512f,avx512bw"))) static void
pack_b(uint32_t *dst, const float *B, int tb, int ldb, int k0, int kc, int j0, int nc, int N)
{
    int kp_n = (kc + 1) / 2;
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    for (int q = 0; q < nc; q += NR) {
        for (int kp = 0; kp < kp_n; kp++) {
            int k = k0 + 2 * kp, has_hi = 2 * kp + 1 < kc;
            for (int c = 0; c < NR; c += 16) {
                int j = j0 + q + c, n = N - j < 16 ? N - j : 16;
                if (q + c >= nc)
                    n = 0;
                if (!tb && n == 16) {
                    __m512i lo = _mm512_loadu_si512(B + (size_t)k * ldb + j);
                    __m512i hi = has_hi ? _mm512_loadu_si512(B + (size_t)(k + 1) * ldb + j)
                                        : _mm512_setzero_si512();
                    /* round to nearest even, NaN aside (weights and
                     * gradients are finite or the run is lost anyway) */
                    lo = _mm512_add_epi32(
                        lo,
                        _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(lo, 16), one)));
                    hi = _mm512_add_epi32(
                        hi,
                        _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(hi, 16), one)));
                    __m512i v = _mm512_or_si512(_mm512_srli_epi32(lo, 16),
                                                _mm512_slli_epi32(_mm512_srli_epi32(hi, 16), 16));
                    if (!has_hi)
                        v = _mm512_and_si512(v, _mm512_set1_epi32(0xffff));
                    _mm512_storeu_si512(dst + c, v);
                    continue;
                }
                for (int x = 0; x < 16; x++) {
                    float lo = 0, hi = 0;
                    if (x < n) {
                        lo = elem(B, tb, ldb, k, j + x);
                        hi = has_hi ? elem(B, tb, ldb, k + 1, j + x) : 0;
                    }
                    dst[c + x] = pair(lo, hi);
                }
            }
            dst += NR;
        }
    }
}

#define BF16 __attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw")))

/* C[0..mr, 0..nr] = (first ? beta C : C) + alpha a b over kp_n pairs of k. */
BF16 static void kernel(int kp_n, const uint32_t *a, const uint32_t *b, float *C, int ldc, int mr,
                        int nr, float alpha, float beta, int first)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c43 = c00;
    __m512 c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    for (int kp = 0; kp < kp_n; kp++, a += MR, b += NR) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 32),
                 b3 = (__m512bh)_mm512_loadu_si512(b + 48);
#define ROW(r)                                                                                     \
    {                                                                                              \
        __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);                                      \
        c##r##0 = _mm512_dpbf16_ps(c##r##0, ar, b0);                                               \
        c##r##1 = _mm512_dpbf16_ps(c##r##1, ar, b1);                                               \
        c##r##2 = _mm512_dpbf16_ps(c##r##2, ar, b2);                                               \
        c##r##3 = _mm512_dpbf16_ps(c##r##3, ar, b3);                                               \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    __m512 acc[MR][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23},
                         {c30, c31, c32, c33}, {c40, c41, c42, c43}, {c50, c51, c52, c53}};
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < mr; r++) {
        float *row = C + (size_t)r * ldc;
        for (int q = 0; q < 4; q++) {
            int n = nr - 16 * q;
            if (n <= 0)
                break;
            __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
            __m512 v = _mm512_mul_ps(va, acc[r][q]);
            if (!first || beta != 0.0f) {
                __m512 old = _mm512_maskz_loadu_ps(m, row + 16 * q);
                v = first ? _mm512_fmadd_ps(vb, old, v) : _mm512_add_ps(old, v);
            }
            _mm512_mask_storeu_ps(row + 16 * q, m, v);
        }
    }
}

#endif

void loom_gemm_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                    int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
#ifdef HAVE_BF16_KERNEL
    uint32_t *pa = NULL, *pb = NULL;
    if (M > 0 && N > 0 && K > 0 && loom_gemm_bf16_available()) {
        /* the panels, per call, as large as this product needs (at most
         * 0.8 MB): training's small recurrent products take a few KB */
        size_t kp = (size_t)((K < KC ? K : KC) + 1) / 2;
        size_t mp = (size_t)((M < MC ? M : MC) + MR - 1) / MR * MR;
        size_t np = (size_t)((N < NC ? N : NC) + NR - 1) / NR * NR;
        pa = loom_aligned_alloc(mp * kp, sizeof *pa);
        pb = loom_aligned_alloc(np * kp, sizeof *pb);
    }
    if (pa && pb) {
        for (int jc = 0; jc < N; jc += NC) {
            int nc = N - jc < NC ? N - jc : NC;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = K - pc < KC ? K - pc : KC, kp_n = (kc + 1) / 2;
                pack_b(pb, B, trans_b, ldb, pc, kc, jc, nc, N);
                for (int ic = 0; ic < M; ic += MC) {
                    int mc = M - ic < MC ? M - ic : MC;
                    pack_a(pa, A, trans_a, lda, ic, mc, M, pc, kc, K);
                    for (int jr = 0; jr < nc; jr += NR) {
                        const uint32_t *bp = pb + (size_t)(jr / NR) * kp_n * NR;
                        int nr = nc - jr < NR ? nc - jr : NR;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = mc - ir < MR ? mc - ir : MR;
                            kernel(kp_n, pa + (size_t)(ir / MR) * kp_n * MR, bp,
                                   C + (size_t)(ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha, beta,
                                   pc == 0);
                        }
                    }
                }
            }
        }
        free(pa);
        free(pb);
        return;
    }
    free(pa);
    free(pb);
#endif
    loom_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

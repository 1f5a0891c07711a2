/* The bfloat16 product (core/gemm_bf16.h) and loom_gemm's precision
 * switch (core/blas.h). On a CPU with AVX-512 BF16 the kernel is checked,
 * at each class of shape (edges of its 6 x 64 tile, odd depths, several
 * blocks of depth, rows and columns, the four transposes, alpha and beta),
 * against a double-precision product within the bound bf16 rounding
 * allows, and against the double-precision product of the bf16-rounded
 * operands within float32 summation's bound (so the operands are rounded
 * as documented, no more, no less); a planted error fails both checks.
 * Without the kernel (another CPU, or LOOM_NO_AVX512: tests/e2e/test_bf16.sh
 * runs this program under it) loom_gemm_bf16 and a bf16 loom_gemm must be
 * sgemm, bit for bit. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/gemm_bf16.h"

static float urand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_matrix(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = urand(&seed) * 3.0f;
    return x;
}

static float at(const float *X, int trans, int ld, int i, int j)
{
    return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

static double bf(float x)
{
    return loom_bf16_float(loom_bf16_round(x));
}

/* Per entry of op(A) op(B): the exact sum, the sum of the bf16-rounded
 * operands' products, and the sums of their magnitudes, in double. */
typedef struct {
    double *exact, *rounded, *mag, *rmag;
} ref;

static ref reference(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                     int ldb)
{
    ref r;
    size_t n = (size_t)M * N;
    r.exact = calloc(4 * n, sizeof(double));
    ck_assert_ptr_nonnull(r.exact);
    r.rounded = r.exact + n, r.mag = r.rounded + n, r.rmag = r.mag + n;
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            double a = at(A, ta, lda, i, k), ra = bf(at(A, ta, lda, i, k));
            for (int j = 0; j < N; j++) {
                double b = at(B, tb, ldb, k, j), rb = bf(at(B, tb, ldb, k, j));
                size_t e = (size_t)i * N + j;
                r.exact[e] += a * b, r.mag[e] += fabs(a * b);
                r.rounded[e] += ra * rb, r.rmag[e] += fabs(ra * rb);
            }
        }
    return r;
}

/* Checks C (beta applied to C0) against both references; returns the
 * number of entries out of bound. */
static int check_product(const ref *r, int M, int N, int K, float alpha, float beta,
                         const float *C0, const float *C, int ldc)
{
    int bad = 0;
    double eps = ldexp(1, -24);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            size_t e = (size_t)i * N + j;
            double c = C[(size_t)i * ldc + j], base = (double)beta * C0[(size_t)i * ldc + j];
            /* float32's K-term sum, then alpha and beta */
            double sum_bound = (K + 4) * eps * (fabs(alpha) * r->rmag[e] + fabs(base));
            /* each operand within 2^-8 relative (8 significant bits):
             * each product within 2^-7 + 2^-16 */
            double bf_bound =
                (ldexp(1, -7) + ldexp(1, -16) + (K + 4) * eps) * fabs(alpha) * r->mag[e] +
                sum_bound;
            if (fabs(c - (alpha * r->exact[e] + base)) > bf_bound ||
                fabs(c - (alpha * r->rounded[e] + base)) > sum_bound)
                bad++;
        }
    return bad;
}

typedef struct {
    int M, N, K;
} shape;

/* the kernel's shape classes: one tile and less; ragged rows (M % 6) and
 * columns (N % 64, N % 16); an odd depth (a half pair); more than one block
 * of depth (KC 384), of rows (MC 96) and of columns (NC 1024); the output
 * layer's shape at training (rows x vocabulary x [s; c; e]) */
static const shape shapes[] = {{1, 1, 1},     {6, 64, 2},       {5, 17, 3},     {7, 65, 9},
                               {13, 130, 31}, {12, 48, 384},    {3, 20, 385},   {97, 70, 40},
                               {20, 1030, 8}, {100, 1100, 800}, {64, 2000, 320}};

START_TEST(test_bf16_against_double)
{
    if (!loom_gemm_bf16_available())
        return; /* test_bf16_fallback covers this CPU */
    const shape *s = &shapes[_i / 4];
    int ta = _i % 4 / 2, tb = _i % 2, M = s->M, N = s->N, K = s->K;
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2; /* strides past the edge */
    float *A = rand_matrix((size_t)(ta ? K : M) * lda, 1 + _i);
    float *B = rand_matrix((size_t)(tb ? N : K) * ldb, 100 + _i);
    float *C0 = rand_matrix((size_t)M * ldc, 200 + _i), *C = malloc((size_t)M * ldc * sizeof *C);
    ck_assert_ptr_nonnull(C);
    ref r = reference(ta, tb, M, N, K, A, lda, B, ldb);
    const float ab[][2] = {{1.0f, 0.0f}, {-0.5f, 1.0f}, {2.0f, 0.25f}};
    for (int v = 0; v < 3; v++) {
        float alpha = ab[v][0], beta = ab[v][1];
        memcpy(C, C0, (size_t)M * ldc * sizeof *C);
        loom_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        ck_assert_msg(check_product(&r, M, N, K, alpha, beta, C0, C, ldc) == 0,
                      "%dx%dx%d trans %d%d alpha %g beta %g: out of bound", M, N, K, ta, tb, alpha,
                      beta);
        /* the padding between rows of C is not written */
        for (int i = 0; i < M; i++)
            for (int j = N; j < ldc; j++)
                ck_assert(C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j]);
        /* a planted error of 2% of one entry's magnitude fails */
        size_t e = (size_t)(M / 2) * N + N / 2;
        C[(size_t)(M / 2) * ldc + N / 2] += (float)(0.02 * fabs(alpha) * r.mag[e]);
        ck_assert_int_eq(check_product(&r, M, N, K, alpha, beta, C0, C, ldc), 1);
    }
    /* and the float32 product is not what the kernel gives: it fails the
     * rounded-operand check (the operands are rounded) */
    if (K >= 8) {
        memcpy(C, C0, (size_t)M * ldc * sizeof *C);
        loom_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
        ck_assert_int_gt(check_product(&r, M, N, K, 1.0f, 0.0f, C0, C, ldc), 0);
    }
    free(r.exact);
    free(A), free(B), free(C0), free(C);
}
END_TEST

/* loom_gemm follows the calling thread's precision: bf16 gives the
 * kernel's bits, fp32 (the default, and after switching back) sgemm's. */
START_TEST(test_bf16_precision_switch)
{
    int M = 40, N = 300, K = 70;
    float *A = rand_matrix((size_t)M * K, 7), *B = rand_matrix((size_t)K * N, 8);
    float *C1 = calloc((size_t)M * N, sizeof(float)), *C2 = calloc((size_t)M * N, sizeof(float));
    ck_assert(C1 && C2);
    ck_assert_int_eq(loom_gemm_precision(), LOOM_PRECISION_FP32);
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
    loom_sgemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N);
    ck_assert(memcmp(C1, C2, (size_t)M * N * sizeof(float)) == 0);
    ck_assert_int_eq(loom_gemm_set_precision(LOOM_PRECISION_BF16), LOOM_PRECISION_FP32);
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
    loom_gemm_bf16(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N);
    ck_assert(memcmp(C1, C2, (size_t)M * N * sizeof(float)) == 0);
    ck_assert_int_eq(loom_gemm_set_precision(LOOM_PRECISION_FP32), LOOM_PRECISION_BF16);
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
    loom_sgemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N);
    ck_assert(memcmp(C1, C2, (size_t)M * N * sizeof(float)) == 0);
    free(A), free(B), free(C1), free(C2);
}
END_TEST

/* Without the kernel, bf16 is sgemm, bit for bit (the documented fallback). */
START_TEST(test_bf16_fallback)
{
    if (loom_gemm_bf16_available())
        return; /* test_bf16_against_double covers this CPU */
    int M = 13, N = 77, K = 31;
    float *A = rand_matrix((size_t)M * K, 3), *B = rand_matrix((size_t)K * N, 4);
    float *C1 = rand_matrix((size_t)M * N, 5), *C2 = malloc((size_t)M * N * sizeof(float));
    ck_assert_ptr_nonnull(C2);
    memcpy(C2, C1, (size_t)M * N * sizeof(float));
    loom_gemm_bf16(LOOM_NOTRANS, LOOM_TRANS, M, N, K, 0.5f, A, K, B, K, 1.0f, C1, N);
    loom_sgemm(LOOM_NOTRANS, LOOM_TRANS, M, N, K, 0.5f, A, K, B, K, 1.0f, C2, N);
    ck_assert(memcmp(C1, C2, (size_t)M * N * sizeof(float)) == 0);
    free(A), free(B), free(C1), free(C2);
}
END_TEST

START_TEST(test_bf16_round)
{
    ck_assert_uint_eq(loom_bf16_round(1.0f), 0x3f80);
    ck_assert_uint_eq(loom_bf16_round(-2.0f), 0xc000);
    /* ties to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 */
    ck_assert(loom_bf16_float(loom_bf16_round(1.0f + 0x1p-8f)) == 1.0f);
    ck_assert(loom_bf16_float(loom_bf16_round(1.0f + 0x1p-7f + 0x1p-8f)) == 1.0f + 0x1p-6f);
    ck_assert(loom_bf16_float(loom_bf16_round(1.0f + 0x1p-8f + 0x1p-20f)) == 1.0f + 0x1p-7f);
    ck_assert(isnan(loom_bf16_float(loom_bf16_round(NAN))));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("bf16");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_bf16_against_double, 0, (int)(4 * sizeof shapes / sizeof *shapes));
    tcase_add_test(tc, test_bf16_precision_switch);
    tcase_add_test(tc, test_bf16_fallback);
    tcase_add_test(tc, test_bf16_round);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* Tests for src/core/rnn.h and src/core/attention.h: gradient checks
 * against central finite differences for every input and parameter of
 * every layer, the single-step interface against whole sequences, padding
 * rules, and PyTorch references (tests/fixtures/core/rnn_*.safetensors,
 * written by tests/fixtures/core/make_rnn_fixtures.py). */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/safetensors.h"
#include "core/attention.h"
#include "core/attn_rnn.h"
#include "core/dense.h"
#include "core/packmm.h"
#include "core/rnn.h"
#include "core/smallmm.h"
#include "core/vmath.h"

/* ---- helpers ---- */

static unsigned long long rng_state = 88172645463325252ULL;

static float urand(void) /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1ULL << 24))) * 2.0f - 1.0f;
}

static float *fill(size_t n, float scale)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * urand();
    return p;
}

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* sum of |a_i b_i| over the dot products of the last loss evaluation: the
 * scale of the float32 rounding in that loss (see grad_check) */
static double loss_magnitude;

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        loss_magnitude += fabs((double)a[i] * b[i]);
    }
    return s;
}

/* A tensor whose gradient is checked: values x (perturbed in place) and the
 * analytic gradient g, n floats. */
typedef struct {
    const char *name;
    float *x;
    const float *g;
    size_t n;
} tensor_ref;

/* The check: a sixth-order central difference
 *   D(h) = (45 (L(x+h) - L(x-h)) - 9 (L(x+2h) - L(x-2h)) + (L(x+3h) - L(x-3h))) / 60h
 * of the loss L = sum_i R_i y_i (summed in double), averaged over eight
 * step sizes h = 4e-2 ... 7.5e-2. Its truncation error (~h^6 f^(7) / 140) is
 * negligible; what remains is the float32 rounding of the layers' outputs
 * y_i, a few ulp relative to M = sum_i |R_i y_i|: a pseudo-random noise of
 * order 2^-24 M / h on each D(h), which the average over h reduces (by ~3)
 * and which no finite difference in float32 can get below. So an element's
 * error is
 *   |num - ana| / max(|num|, |ana|, 0.05 max|ana|, 1000 * 2^-24 M / h),
 * i.e. 1e-3 relative for every element above 5% of its tensor's scale and
 * above the resolvable level, and an absolute 2^-24 M / h (5e-5 of the
 * scale) for the rest. Bound: 1e-3. LOOM_TEST_VERBOSE=1 prints each
 * tensor's worst error (GC_EPS scales the step sizes, for measuring). */
static float gc_eps = 4e-2f;
static void gc_env(void)
{
    if (getenv("GC_EPS"))
        gc_eps = strtof(getenv("GC_EPS"), NULL);
}
#define GC_TOL 1e-3

static double grad_check(double (*loss)(void *), void *ctx, tensor_ref t)
{
    enum { NH = 8 };
    static const float step[6] = {3.0f, 2.0f, 1.0f, -1.0f, -2.0f, -3.0f};
    double gmax = 0.0, worst = 0.0;
    for (size_t i = 0; i < t.n; i++)
        gmax = fmax(gmax, fabs(t.g[i]));
    loss_magnitude = 0.0;
    loss(ctx);
    double resolvable = 1000.0 * 0x1p-24 * loss_magnitude / gc_eps;
    for (size_t i = 0; i < t.n; i++) {
        float keep = t.x[i];
        double num = 0.0, ana = t.g[i];
        for (int m = 0; m < NH; m++) {
            float h = gc_eps * (1.0f + 0.125f * m);
            double l[6];
            for (int k = 0; k < 6; k++) {
                t.x[i] = keep + step[k] * h;
                l[k] = loss(ctx);
            }
            num += (45.0 * (l[2] - l[3]) - 9.0 * (l[1] - l[4]) + (l[0] - l[5])) / (60.0 * h);
        }
        t.x[i] = keep;
        num /= NH;
        double den = fmax(fmax(fabs(num), fabs(ana)), fmax(0.05 * gmax, resolvable));
        worst = fmax(worst, fabs(num - ana) / den);
    }
    return worst;
}

static void check_all(double (*loss)(void *), void *ctx, tensor_ref *t, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        double err = grad_check(loss, ctx, t[i]);
        if (getenv("LOOM_TEST_VERBOSE"))
            fprintf(stderr, "gradcheck %-10s %-8s %.2e\n", what, t[i].name, err);
        if (err > GC_TOL)
            ck_abort_msg("%s: gradient of %s off by %.3g relative", what, t[i].name, err);
    }
}

/* ---- the vectorised nonlinearities (src/core/vmath.h) ---- */

/* exp, sigmoid and tanh within a few ulp of double precision over the
 * range the gates see, odd lengths included (the tail path). */
START_TEST(vector_math_is_accurate)
{
    enum { N = 4003 };
    static float x[N], y[N];
    typedef void (*vfun)(float *, const float *, size_t);
    static const vfun funs[2][3] = {{loom_vexp, loom_vsigmoid, loom_vtanh},
                                    {loom_vexp_generic, loom_vsigmoid_generic, loom_vtanh_generic}};
    for (int i = 0; i < N; i++)
        x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    x[N / 2] = 0.0f, x[7] = 1e-6f, x[8] = -3e-4f, x[9] = 0.6249f, x[10] = -0.6251f;
    for (int v = 0; v < 2; v++) {
        double worst[3] = {0, 0, 0};
        for (int f = 0; f < 3; f++) {
            funs[v][f](y, x, N);
            for (int i = 0; i < N; i++) {
                double xd = x[i];
                double ref = f == 0 ? exp(xd) : f == 1 ? 1.0 / (1.0 + exp(-xd)) : tanh(xd);
                double err = ref == 0.0 ? fabs(y[i]) : fabs(y[i] - ref) / fabs(ref);
                worst[f] = fmax(worst[f], err);
            }
        }
        if (getenv("LOOM_TEST_VERBOSE"))
            fprintf(stderr, "vmath %s rel err: exp %.2e sigmoid %.2e tanh %.2e\n",
                    v ? "generic" : loom_simd_name(loom_simd_level()), worst[0], worst[1],
                    worst[2]);
        /* 2 ulp of float32 is 2.4e-7 relative */
        for (int f = 0; f < 3; f++)
            ck_assert_double_le(worst[f], 2.5e-7);
    }
}
END_TEST

/* Every level's kernels against the portable ones, in one process (the
 * _level entry points run a given level, at most the CPU's): exp, sigmoid
 * and tanh within 2 ulp of the four-lane version at every length around
 * the 8- and 16-lane blocks (the masked tails), the AVX-512 results the
 * same bits as the AVX2 ones, and the maximum exact at every level. */
START_TEST(each_simd_level_agrees_with_portable)
{
    enum { N = 1037 };
    static float x[N], ref[N], y[N], y8[N];
    typedef void (*lvfun)(loom_simd, float *, const float *, size_t);
    typedef void (*vfun)(float *, const float *, size_t);
    static const lvfun at[3] = {loom_vexp_level, loom_vsigmoid_level, loom_vtanh_level};
    static const vfun generic[3] = {loom_vexp_generic, loom_vsigmoid_generic, loom_vtanh_generic};
    for (int i = 0; i < N; i++)
        x[i] = urand() * 24.0f;
    x[3] = 0.6249f, x[4] = -0.6251f, x[5] = 1e-6f, x[6] = 100.0f, x[7] = -100.0f;
    if (getenv("LOOM_TEST_VERBOSE"))
        fprintf(stderr, "simd levels compared up to %s\n", loom_simd_name(loom_simd_level()));
    size_t lens[48], nlens = 0;
    for (size_t n = 1; n <= 40; n++)
        lens[nlens++] = n;
    const size_t more[] = {63, 64, 65, 127, 128, 129, N};
    for (size_t k = 0; k < sizeof more / sizeof *more; k++)
        lens[nlens++] = more[k];
    for (int f = 0; f < 3; f++)
        for (size_t li = 0; li < nlens; li++) {
            size_t n = lens[li];
            generic[f](ref, x, n);
            for (int level = LOOM_SIMD_PORTABLE; level <= LOOM_SIMD_AVX512; level++) {
                memset(y, 0x7f, sizeof y);
                at[f]((loom_simd)level, y, x, n);
                for (size_t i = 0; i < n; i++) {
                    double err =
                        ref[i] == 0 ? fabs(y[i]) : fabs((double)y[i] - ref[i]) / fabs(ref[i]);
                    ck_assert_msg(err <= 2.5e-7,
                                  "function %d level %d n %zu: x %.9g gives %.9g, portable %.9g", f,
                                  level, n, x[i], y[i], ref[i]);
                }
                for (size_t i = n; i < N; i++) { /* nothing written past n */
                    uint32_t u;
                    memcpy(&u, &y[i], sizeof u);
                    ck_assert_uint_eq(u, 0x7f7f7f7fu);
                }
                if (level == LOOM_SIMD_AVX2)
                    memcpy(y8, y, n * sizeof *y);
                if (level == LOOM_SIMD_AVX512)
                    ck_assert_mem_eq(y, y8, n * sizeof *y);
            }
        }
    for (size_t n = 1; n <= 70; n++)
        for (int level = LOOM_SIMD_PORTABLE; level <= LOOM_SIMD_AVX512; level++) {
            float best = x[0];
            for (size_t i = 1; i < n; i++)
                best = x[i] > best ? x[i] : best;
            ck_assert_float_eq(loom_vmax_level((loom_simd)level, x, n), best);
        }
}
END_TEST

/* The softmax reductions: loom_vmax equals the scalar maximum exactly and
 * loom_vsum the double-precision sum (to double rounding), for every
 * length around the 8-lane blocks, the maximum anywhere in the array. */
START_TEST(vector_max_and_sum_match_scalar)
{
    float x[41];
    for (int n = 1; n <= 41; n++)
        for (int at = 0; at < n; at++) {
            for (int i = 0; i < n; i++)
                x[i] = urand() * 5.0f;
            x[at] = 7.5f + 0.001f * (float)n;
            double sum = 0;
            for (int i = 0; i < n; i++)
                sum += x[i];
            ck_assert_float_eq(loom_vmax(x, (size_t)n), x[at]);
            ck_assert_msg(fabs(loom_vsum(x, (size_t)n) - sum) <= 1e-12 * (1 + fabs(sum)),
                          "n %d: sum %.17g, want %.17g", n, loom_vsum(x, (size_t)n), sum);
        }
}
END_TEST

/* The few-row product (smallgemm.c) against a double-precision loop, for
 * every row count of its kernels and past it, column counts with and
 * without a partial last vector (1, 7, 8, 13, 16, 34, 40), beta 0, 1 and
 * 0.5, and row strides wider than the rows. */
START_TEST(few_row_products_match_reference)
{
    static const int Ns[] = {1, 7, 8, 13, 16, 34, 40};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int K = 19;
    for (int M = 1; M <= LOOM_MM_ROWS_MAX + 1; M++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (int bi = 0; bi < 3; bi++) {
                int N = Ns[ni], ldx = K + 3, ldw = N + 5, ldy = N + 2;
                float beta = betas[bi];
                float *X = fill((size_t)M * ldx, 1.0f), *W = fill((size_t)K * ldw, 1.0f);
                float *Y = fill((size_t)M * ldy, 1.0f), *Y0 = zeros((size_t)M * ldy);
                memcpy(Y0, Y, (size_t)M * ldy * sizeof(float));
                loom_mm_rows(M, N, K, X, ldx, W, ldw, beta, Y, ldy);
                for (int m = 0; m < M; m++)
                    for (int j = 0; j < ldy; j++) {
                        float got = Y[(size_t)m * ldy + j];
                        if (j >= N) { /* past the columns: untouched */
                            ck_assert_float_eq(got, Y0[(size_t)m * ldy + j]);
                            continue;
                        }
                        double want = beta * (double)Y0[(size_t)m * ldy + j];
                        for (int k = 0; k < K; k++)
                            want += (double)X[(size_t)m * ldx + k] * W[(size_t)k * ldw + j];
                        ck_assert_msg(fabs(got - want) <= 1e-5 * (1 + fabs(want)),
                                      "M %d N %d beta %g: Y[%d][%d] = %g, want %g", M, N, beta, m,
                                      j, got, want);
                    }
                free(X), free(W), free(Y), free(Y0);
            }
}
END_TEST

/* The few-row product's sixteen-lane kernels (smallgemm16.h) give the
 * AVX2 kernels' bits (both one FMA per k, in k order, from y, beta y or
 * 0): run on AVX2 instructions (two halves to a vector) on every CPU with
 * AVX2, and as AVX-512 where the CPU has it. Row counts 1-17 (passes of 8
 * rows, tiles of 1-8), column counts around the 16- and 32-column vectors
 * and tiles (every tail length of one and two vectors), beta 0, 1 and 0.5,
 * strides wider than the rows; the columns past N untouched. */
START_TEST(few_row_products_same_bits_at_each_level)
{
    if (loom_simd_level() < LOOM_SIMD_AVX2)
        return; /* nothing but loom_gemm to compare */
    static const int Ns[] = {1, 5, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 49, 63, 64, 70};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int K = 21, levels = loom_simd_level() >= LOOM_SIMD_AVX512 ? 2 : 1;
    fprintf(stderr, "few-row product: sixteen lanes on AVX2%s\n",
            levels == 2 ? " and on AVX-512" : " (no AVX-512 here)");
    for (int M = 1; M <= LOOM_MM_ROWS_MAX + 1; M++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (int bi = 0; bi < 3; bi++) {
                int N = Ns[ni], ldx = K + 2, ldw = N + 3, ldy = N + 5;
                size_t ny = (size_t)M * ldy;
                float *X = fill((size_t)M * ldx, 1.0f), *W = fill((size_t)K * ldw, 1.0f);
                float *Y0 = fill(ny, 1.0f), *want = zeros(ny), *got = zeros(ny);
                memcpy(want, Y0, ny * sizeof *want);
                loom_mm_rows_level(LOOM_SIMD_AVX2, M, N, K, X, ldx, W, ldw, betas[bi], want, ldy);
                for (int l = 0; l < levels; l++) {
                    memcpy(got, Y0, ny * sizeof *got);
                    if (l == 0)
                        ck_assert_int_eq(
                            loom_mm_rows_halves(M, N, K, X, ldx, W, ldw, betas[bi], got, ldy), 0);
                    else
                        loom_mm_rows_level(LOOM_SIMD_AVX512, M, N, K, X, ldx, W, ldw, betas[bi],
                                           got, ldy);
                    for (size_t i = 0; i < ny; i++)
                        ck_assert_msg(memcmp(&got[i], &want[i], sizeof *got) == 0,
                                      "%s: M %d N %d beta %g: Y[%zu][%zu] = %.9g, AVX2 %.9g",
                                      l ? "AVX-512" : "sixteen lanes on AVX2", M, N,
                                      (double)betas[bi], i / (size_t)ldy, i % (size_t)ldy,
                                      (double)got[i], (double)want[i]);
                }
                free(X), free(W), free(Y0), free(want), free(got);
            }
}
END_TEST

/* The product with a packed W (packmm.c) at each level: within the
 * rounding bound of a K-term fp32 sum, (K + 2) 2^-24 (sum |x w| + |b|),
 * of a double-precision reference and of sgemm; the AVX2 and AVX-512 paths
 * give the same bits (both one FMA per k, in k order); every row the same
 * bits as that row multiplied alone (batch independence); columns past N
 * untouched. Row counts over the kernels' groups of 12 and 6 rows; column
 * counts around the 8/16/32-column vectors and panels (a last panel of
 * at most 8 or 16 columns takes the kernels' narrow tiles). */
START_TEST(packed_products_match_reference_at_each_level)
{
    static const int Ns[] = {1, 7, 8, 9, 16, 17, 24, 33, 50, 71};
    static const int Ks[] = {1, 19};
    const int Ms[] = {1, 2, 6, 7, 13, 25};
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
                for (int with_b = 0; with_b < 2; with_b++) {
                    int K = Ks[ki], N = Ns[ni], M = Ms[mi], ldw = N + 3, ldx = K + 2, ldy = N + 5;
                    float *W = fill((size_t)K * ldw, 1.0f), *X = fill((size_t)M * ldx, 1.0f);
                    float *b = with_b ? fill((size_t)N, 1.0f) : NULL;
                    float *G = zeros((size_t)M * N), *Y[3], *one = zeros((size_t)ldy);
                    float *Y0 = fill((size_t)M * ldy, 9.0f);
                    loom_packw *p;
                    ck_assert_int_eq(loom_packw_new(&p, W, K, N, ldw), 0);
                    ck_assert_int_eq(loom_packw_rows(p), K);
                    ck_assert_int_eq(loom_packw_cols(p), N);
                    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, N, K, 1.0f, X, ldx, W, ldw, 0.0f, G,
                              N);
                    for (int l = 0; l < 3; l++) {
                        Y[l] = zeros((size_t)M * ldy);
                        memcpy(Y[l], Y0, (size_t)M * ldy * sizeof(float));
                        loom_packw_mm_level((loom_simd)l, p, M, X, ldx, b, Y[l], ldy);
                        for (int m = 0; m < M; m++) {
                            loom_packw_mm_level((loom_simd)l, p, 1, X + (size_t)m * ldx, ldx, b,
                                                one, ldy);
                            for (int j = 0; j < ldy; j++) {
                                float got = Y[l][(size_t)m * ldy + j];
                                if (j >= N) {
                                    ck_assert_float_eq(got, Y0[(size_t)m * ldy + j]);
                                    continue;
                                }
                                ck_assert_msg(got == one[j], "level %d M %d: row %d differs alone",
                                              l, M, m);
                                double want = b ? b[j] : 0.0, mag = b ? fabs(b[j]) : 0.0;
                                for (int k = 0; k < K; k++) {
                                    double t =
                                        (double)X[(size_t)m * ldx + k] * W[(size_t)k * ldw + j];
                                    want += t, mag += fabs(t);
                                }
                                double tol = (K + 2) * ldexp(1.0, -24) * mag;
                                double g = G[(size_t)m * N + j] + (b ? b[j] : 0.0f);
                                ck_assert_msg(
                                    fabs(got - want) <= tol && fabs(got - g) <= 2 * tol,
                                    "level %d K %d N %d M %d: Y[%d][%d] = %.9g, want %.9g "
                                    "(sgemm %.9g, bound %.3g)",
                                    l, K, N, M, m, j, got, want, g, tol);
                            }
                        }
                    }
                    if (loom_simd_level() >= LOOM_SIMD_AVX512)
                        ck_assert_mem_eq(Y[1], Y[2], (size_t)M * ldy * sizeof(float));
                    loom_packw_free(p);
                    free(W), free(X), free(b), free(G), free(one), free(Y0);
                    for (int l = 0; l < 3; l++)
                        free(Y[l]);
                }
}
END_TEST

/* A W packed from its transpose gives the same bits as W packed as it
 * is; a range of columns (a search's chunk) the same bits as those columns
 * of the whole product; a range that does not start on a panel, or runs
 * past N, writes nothing. */
START_TEST(packed_transpose_and_column_ranges)
{
    int K = 23, N = 150, M = 14, ldt = K + 3;
    float *T = fill((size_t)N * ldt, 1.0f), *W = zeros((size_t)K * N),
          *X = fill((size_t)M * K, 1.0f);
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++)
            W[(size_t)k * N + j] = T[(size_t)j * ldt + k];
    loom_packw *p, *pt;
    ck_assert_int_eq(loom_packw_new(&p, W, K, N, N), 0);
    ck_assert_int_ne(loom_packw_new_t(&pt, T, K, N, K - 1), 0); /* stride below K: refused */
    ck_assert_ptr_null(pt);
    ck_assert_int_eq(loom_packw_new_t(&pt, T, K, N, ldt), 0);
    float *Y = zeros((size_t)M * N), *Yt = zeros((size_t)M * N), *C = zeros((size_t)M * 70);
    loom_packw_mm(p, M, X, K, NULL, Y, N);
    loom_packw_mm(pt, M, X, K, NULL, Yt, N);
    ck_assert_mem_eq(Y, Yt, (size_t)M * N * sizeof(float));
    static const int ranges[][2] = {{0, 32}, {32, 64}, {64, 70}, {128, 22}, {96, 54}};
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++) {
        int j0 = ranges[r][0], n = ranges[r][1];
        memset(C, 0, (size_t)M * 70 * sizeof(float));
        loom_packw_mm_cols(pt, M, X, K, C, n, j0, n);
        for (int m = 0; m < M; m++)
            ck_assert_msg(
                !memcmp(C + (size_t)m * n, Y + (size_t)m * N + j0, (size_t)n * sizeof(float)),
                "columns %d..%d, row %d", j0, j0 + n, m);
    }
    memset(C, 0, (size_t)M * 70 * sizeof(float));
    loom_packw_mm_cols(pt, M, X, K, C, 40, 8, 40);   /* not on a panel */
    loom_packw_mm_cols(pt, M, X, K, C, 40, 128, 40); /* past N */
    for (int i = 0; i < M * 70; i++)
        ck_assert_float_eq(C[i], 0.0f);
    /* packed again from new values: the panels of new packs */
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++)
            W[(size_t)k * N + j] = T[(size_t)j * ldt + k] = 0.5f - (float)((j * 7 + k) % 11);
    loom_packw *p2, *pt2;
    ck_assert_int_eq(loom_packw_new(&p2, W, K, N, N), 0);
    ck_assert_int_eq(loom_packw_new_t(&pt2, T, K, N, ldt), 0);
    loom_packw_refill(p, W, N, 0);
    loom_packw_refill(pt, T, ldt, 1);
    float *Y2 = zeros((size_t)M * N);
    loom_packw_mm(p2, M, X, K, NULL, Y2, N);
    loom_packw_mm(p, M, X, K, NULL, Y, N);
    ck_assert_mem_eq(Y, Y2, (size_t)M * N * sizeof(float));
    loom_packw_mm(pt, M, X, K, NULL, Yt, N);
    ck_assert_mem_eq(Yt, Y2, (size_t)M * N * sizeof(float));
    loom_packw_free(p2), loom_packw_free(pt2), free(Y2);
    loom_packw_free(p), loom_packw_free(pt);
    free(T), free(W), free(X), free(Y), free(Yt), free(C);
}
END_TEST

/* Columns packed from an index list (a shortlist's candidates, in any
 * order, one panel and a part, the last column included) give the same
 * bits as those columns gathered into a matrix and packed, at every level
 * and for any number of rows; a column out of range is refused. */
START_TEST(packed_from_column_list_equals_gather_then_pack)
{
    int K = 19, N = 90, ldw = N + 5, M = 13;
    static const int cols[] = {89, 0,  3,  4,  17, 31, 32, 33, 50, 51, 52, 60, 61, 62,
                               63, 64, 65, 70, 71, 72, 73, 74, 75, 76, 77, 80, 81, 82,
                               83, 84, 85, 86, 87, 88, 1,  2,  5,  6,  7,  8};
    int n = (int)(sizeof cols / sizeof *cols);
    float *W = fill((size_t)K * ldw, 1.0f), *G = zeros((size_t)K * n),
          *X = fill((size_t)M * K, 1.0f), *b = fill((size_t)n, 1.0f), *Y = zeros((size_t)M * n),
          *Yc = zeros((size_t)M * n);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < n; j++)
            G[(size_t)k * n + j] = W[(size_t)k * ldw + cols[j]];
    loom_packw *p, *pc;
    ck_assert_int_eq(loom_packw_new(&p, G, K, n, n), 0);
    ck_assert_int_eq(loom_packw_new_cols(&pc, W, K, N, ldw, cols, n), 0);
    ck_assert_int_eq(loom_packw_rows(pc), K);
    ck_assert_int_eq(loom_packw_cols(pc), n);
    for (int l = LOOM_SIMD_PORTABLE; l <= LOOM_SIMD_AVX512; l++)
        for (int rows = 1; rows <= M; rows += 4) {
            memset(Y, 0, (size_t)M * n * sizeof(float));
            memset(Yc, 0xff, (size_t)M * n * sizeof(float));
            loom_packw_mm_level((loom_simd)l, p, rows, X, K, b, Y, n);
            loom_packw_mm_level((loom_simd)l, pc, rows, X, K, b, Yc, n);
            ck_assert_msg(!memcmp(Y, Yc, (size_t)rows * n * sizeof(float)), "level %d, %d rows", l,
                          rows);
        }
    loom_packw_free(p), loom_packw_free(pc);
    static const int bad[] = {3, 90};
    ck_assert_int_ne(loom_packw_new_cols(&pc, W, K, N, ldw, bad, 2), 0);
    ck_assert_ptr_null(pc);
    ck_assert_int_ne(loom_packw_new_cols(&pc, W, K, N, N - 1, cols, n), 0);
    ck_assert_ptr_null(pc);
    free(W), free(G), free(X), free(b), free(Y), free(Yc);
}
END_TEST

/* ---- a recurrent layer (one or two directions) with all its buffers ---- */

typedef struct {
    loom_rnn dir[2];
    int ndir, B, T, C, H;
    int lens[8];
    float *w[2][4], *dw[2][4]; /* Wx Wh bx bh per direction */
    float *inp, *h0, *c0, *dinp, *dh0, *dc0;
    float *out, *hf, *cf, *Rout, *Rh, *Rc;
    float *cache, *work;
} rnn_case;

static void rnn_case_init(rnn_case *rc, loom_rnn_cell cell, int ndir, int B, int T, int C, int H,
                          const int *lens)
{
    memset(rc, 0, sizeof *rc);
    rc->ndir = ndir, rc->B = B, rc->T = T, rc->C = C, rc->H = H;
    memcpy(rc->lens, lens, B * sizeof *lens);
    int GH = loom_rnn_gates(cell) * H;
    size_t sizes[4] = {(size_t)C * GH, (size_t)H * GH, GH, GH};
    for (int d = 0; d < ndir; d++) {
        for (int k = 0; k < 4; k++) {
            rc->w[d][k] = fill(sizes[k], 0.6f);
            rc->dw[d][k] = zeros(sizes[k]);
        }
        rc->dir[d] = (loom_rnn){cell,
                                C,
                                H,
                                d,
                                rc->w[d][0],
                                rc->w[d][1],
                                rc->w[d][2],
                                rc->w[d][3],
                                rc->dw[d][0],
                                rc->dw[d][1],
                                rc->dw[d][2],
                                rc->dw[d][3],
                                NULL,
                                NULL};
    }
    size_t BTC = (size_t)B * T * C, DBH = (size_t)ndir * B * H;
    rc->inp = fill(BTC, 1.0f), rc->dinp = zeros(BTC);
    rc->h0 = fill(DBH, 0.5f), rc->dh0 = zeros(DBH);
    rc->c0 = fill(DBH, 0.5f), rc->dc0 = zeros(DBH);
    rc->out = zeros((size_t)B * T * ndir * H), rc->Rout = fill((size_t)B * T * ndir * H, 1.0f);
    rc->hf = zeros(DBH), rc->Rh = fill(DBH, 1.0f);
    rc->cf = zeros(DBH), rc->Rc = fill(DBH, 1.0f);
    if (ndir == 2) {
        rc->cache = zeros(loom_birnn_cache_size(&rc->dir[0], &rc->dir[1], B, T));
        rc->work = zeros(loom_birnn_work_size(&rc->dir[0], &rc->dir[1], B, T));
    } else {
        rc->cache = zeros(loom_rnn_cache_size(&rc->dir[0], B, T));
        rc->work = zeros(loom_rnn_work_size(&rc->dir[0], B, T));
    }
}

static void rnn_case_free(rnn_case *rc)
{
    for (int d = 0; d < rc->ndir; d++)
        for (int k = 0; k < 4; k++)
            free(rc->w[d][k]), free(rc->dw[d][k]);
    float *p[] = {rc->inp, rc->h0, rc->c0,   rc->dinp, rc->dh0, rc->dc0,   rc->out,
                  rc->hf,  rc->cf, rc->Rout, rc->Rh,   rc->Rc,  rc->cache, rc->work};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        free(p[i]);
}

static int is_lstm(const rnn_case *rc)
{
    return rc->dir[0].cell == LOOM_RNN_LSTM;
}

static void rnn_case_forward(rnn_case *rc)
{
    float *cf = is_lstm(rc) ? rc->cf : NULL, *c0 = is_lstm(rc) ? rc->c0 : NULL;
    if (rc->ndir == 2)
        loom_birnn_forward(&rc->dir[0], &rc->dir[1], rc->out, rc->hf, cf, rc->cache, rc->work,
                           rc->inp, rc->lens, rc->h0, c0, rc->B, rc->T);
    else
        loom_rnn_forward(&rc->dir[0], rc->out, rc->hf, cf, rc->cache, rc->work, rc->inp, rc->lens,
                         rc->h0, c0, rc->B, rc->T);
}

/* loss = out . Rout + h_final . Rh (+ c_final . Rc), in double */
static double rnn_case_loss(void *ctx)
{
    rnn_case *rc = ctx;
    rnn_case_forward(rc);
    size_t DBH = (size_t)rc->ndir * rc->B * rc->H;
    double l = dot_d(rc->out, rc->Rout, (size_t)rc->B * rc->T * rc->ndir * rc->H) +
               dot_d(rc->hf, rc->Rh, DBH);
    if (is_lstm(rc))
        l += dot_d(rc->cf, rc->Rc, DBH);
    return l;
}

/* Zeroes every gradient, runs forward then backward with the R's. */
static void rnn_case_backward(rnn_case *rc)
{
    int GH = loom_rnn_gates(rc->dir[0].cell) * rc->H;
    size_t sizes[4] = {(size_t)rc->C * GH, (size_t)rc->H * GH, GH, GH};
    for (int d = 0; d < rc->ndir; d++)
        for (int k = 0; k < 4; k++)
            memset(rc->dw[d][k], 0, sizes[k] * sizeof(float));
    size_t DBH = (size_t)rc->ndir * rc->B * rc->H;
    memset(rc->dinp, 0, (size_t)rc->B * rc->T * rc->C * sizeof(float));
    memset(rc->dh0, 0, DBH * sizeof(float));
    memset(rc->dc0, 0, DBH * sizeof(float));
    rnn_case_forward(rc);
    int l = is_lstm(rc);
    if (rc->ndir == 2)
        loom_birnn_backward(&rc->dir[0], &rc->dir[1], rc->dinp, rc->dh0, l ? rc->dc0 : NULL,
                            rc->work, rc->Rout, rc->Rh, l ? rc->Rc : NULL, rc->cache, rc->inp,
                            rc->lens, rc->B, rc->T);
    else
        loom_rnn_backward(&rc->dir[0], rc->dinp, rc->dh0, l ? rc->dc0 : NULL, rc->work, rc->Rout,
                          rc->Rh, l ? rc->Rc : NULL, rc->cache, rc->inp, rc->lens, rc->B, rc->T);
}

/* lens in no order, and sorted (decreasing), where the steps' products
 * skip the finished sequences */
static void rnn_gradcheck_lens(loom_rnn_cell cell, int ndir, const char *what, const int *lens)
{
    rnn_case rc;
    rnn_case_init(&rc, cell, ndir, 3, 5, 4, 3, lens);
    rnn_case_backward(&rc);
    static const char *wn[2][4] = {{"Wx", "Wh", "bx", "bh"}, {"bw.Wx", "bw.Wh", "bw.bx", "bw.bh"}};
    int GH = loom_rnn_gates(cell) * rc.H;
    size_t sizes[4] = {(size_t)rc.C * GH, (size_t)rc.H * GH, GH, GH};
    size_t DBH = (size_t)ndir * rc.B * rc.H;
    tensor_ref t[12];
    int n = 0;
    t[n++] = (tensor_ref){"inp", rc.inp, rc.dinp, (size_t)rc.B * rc.T * rc.C};
    t[n++] = (tensor_ref){"h0", rc.h0, rc.dh0, DBH};
    if (cell == LOOM_RNN_LSTM)
        t[n++] = (tensor_ref){"c0", rc.c0, rc.dc0, DBH};
    for (int d = 0; d < ndir; d++)
        for (int k = 0; k < 4; k++)
            t[n++] = (tensor_ref){wn[d][k], rc.w[d][k], rc.dw[d][k], sizes[k]};
    check_all(rnn_case_loss, &rc, t, n, what);
    rnn_case_free(&rc);
}

static void rnn_gradcheck(loom_rnn_cell cell, int ndir, const char *what)
{
    static const int unsorted[] = {5, 2, 4}, sorted[] = {5, 4, 2};
    rnn_gradcheck_lens(cell, ndir, what, unsorted);
    rnn_gradcheck_lens(cell, ndir, what, sorted);
}

START_TEST(elman_gradients_match_finite_differences)
{
    rnn_gradcheck(LOOM_RNN_ELMAN, 1, "elman");
    rnn_gradcheck(LOOM_RNN_ELMAN, 2, "elman bi");
}
END_TEST

START_TEST(gru_gradients_match_finite_differences)
{
    rnn_gradcheck(LOOM_RNN_GRU, 1, "gru");
    rnn_gradcheck(LOOM_RNN_GRU, 2, "gru bi");
}
END_TEST

START_TEST(lstm_gradients_match_finite_differences)
{
    rnn_gradcheck(LOOM_RNN_LSTM, 1, "lstm");
    rnn_gradcheck(LOOM_RNN_LSTM, 2, "lstm bi");
}
END_TEST

/* Padded steps output zeros, keep the state, and take no gradient. */
START_TEST(padding_keeps_state_and_outputs_zeros)
{
    for (int cell = 0; cell < 3; cell++) {
        static const int lens[] = {4, 2, 0};
        rnn_case rc;
        rnn_case_init(&rc, cell, 2, 3, 4, 3, 5, lens);
        rnn_case_backward(&rc);
        int H = rc.H, T = rc.T;
        for (int b = 0; b < rc.B; b++)
            for (int p = lens[b]; p < T; p++) {
                for (int j = 0; j < 2 * H; j++)
                    ck_assert_float_eq(rc.out[((size_t)b * T + p) * 2 * H + j], 0.0f);
                for (int c = 0; c < rc.C; c++)
                    ck_assert_float_eq(rc.dinp[((size_t)b * T + p) * rc.C + c], 0.0f);
            }
        /* forward direction: the final state is the output at the last real
         * step; backward direction: the output at position 0 */
        for (int j = 0; j < H; j++) {
            ck_assert_float_eq(rc.hf[1 * H + j], rc.out[((size_t)1 * T + 1) * 2 * H + j]);
            ck_assert_float_eq(rc.hf[(size_t)rc.B * H + 1 * H + j],
                               rc.out[((size_t)1 * T + 0) * 2 * H + H + j]);
            /* an empty sequence ends where it began, and passes dh through */
            ck_assert_float_eq(rc.hf[2 * H + j], rc.h0[2 * H + j]);
            ck_assert_float_eq(rc.dh0[2 * H + j], rc.Rh[2 * H + j]);
        }
        rnn_case_free(&rc);
    }
}
END_TEST

/* The birnn functions with bw = NULL are the one-direction layer: same
 * outputs, states and gradients, bit for bit. */
START_TEST(birnn_without_bw_is_one_direction)
{
    static const int lens[] = {4, 2, 3};
    for (int cell = 0; cell < 3; cell++) {
        rnn_case rc;
        rnn_case_init(&rc, cell, 1, 3, 4, 3, 5, lens);
        rnn_case_backward(&rc); /* loom_rnn_forward / loom_rnn_backward */
        size_t nout = (size_t)3 * 4 * 5, ninp = (size_t)3 * 4 * 3, nh = 3 * 5;
        size_t nW = (size_t)3 * loom_rnn_gates(cell) * 5;
        float *out = zeros(nout), *hf = zeros(nh), *cf = zeros(nh), *dinp = zeros(ninp);
        float *dh0 = zeros(nh), *dc0 = zeros(nh), *dWx = zeros(nW);
        memcpy(out, rc.out, nout * sizeof *out), memcpy(hf, rc.hf, nh * sizeof *hf);
        memcpy(cf, rc.cf, nh * sizeof *cf), memcpy(dinp, rc.dinp, ninp * sizeof *dinp);
        memcpy(dh0, rc.dh0, nh * sizeof *dh0), memcpy(dc0, rc.dc0, nh * sizeof *dc0);
        memcpy(dWx, rc.dw[0][0], nW * sizeof *dWx);
        memset(rc.dinp, 0, ninp * sizeof *dinp), memset(rc.dh0, 0, nh * sizeof *dh0);
        memset(rc.dc0, 0, nh * sizeof *dc0), memset(rc.dw[0][0], 0, nW * sizeof *dWx);
        int l = is_lstm(&rc);
        loom_birnn_forward(&rc.dir[0], NULL, rc.out, rc.hf, l ? rc.cf : NULL, rc.cache, rc.work,
                           rc.inp, rc.lens, rc.h0, l ? rc.c0 : NULL, rc.B, rc.T);
        loom_birnn_backward(&rc.dir[0], NULL, rc.dinp, rc.dh0, l ? rc.dc0 : NULL, rc.work, rc.Rout,
                            rc.Rh, l ? rc.Rc : NULL, rc.cache, rc.inp, rc.lens, rc.B, rc.T);
        ck_assert(loom_birnn_cache_size(&rc.dir[0], NULL, 3, 4) ==
                  loom_rnn_cache_size(&rc.dir[0], 3, 4));
        ck_assert(memcmp(out, rc.out, nout * sizeof *out) == 0);
        ck_assert(memcmp(hf, rc.hf, nh * sizeof *hf) == 0);
        ck_assert(!l || memcmp(cf, rc.cf, nh * sizeof *cf) == 0);
        ck_assert(memcmp(dinp, rc.dinp, ninp * sizeof *dinp) == 0);
        ck_assert(memcmp(dh0, rc.dh0, nh * sizeof *dh0) == 0);
        ck_assert(!l || memcmp(dc0, rc.dc0, nh * sizeof *dc0) == 0);
        ck_assert(memcmp(dWx, rc.dw[0][0], nW * sizeof *dWx) == 0);
        free(out), free(hf), free(cf), free(dinp), free(dh0), free(dc0), free(dWx);
        rnn_case_free(&rc);
    }
}
END_TEST

/* Backward passes add into the gradients (llm.c's convention): a second
 * backward without zeroing doubles every gradient. */
START_TEST(backward_accumulates)
{
    for (int cell = 0; cell < 3; cell++) {
        static const int lens[] = {4, 2, 3};
        rnn_case rc;
        rnn_case_init(&rc, cell, 2, 3, 4, 3, 5, lens);
        rnn_case_backward(&rc);
        int GH = loom_rnn_gates(cell) * rc.H;
        size_t sizes[4] = {(size_t)rc.C * GH, (size_t)rc.H * GH, GH, GH};
        size_t nin = (size_t)rc.B * rc.T * rc.C, nh = 2 * (size_t)rc.B * rc.H;
        float *once[4], *din = zeros(nin), *dh0 = zeros(nh);
        memcpy(din, rc.dinp, nin * sizeof *din);
        memcpy(dh0, rc.dh0, nh * sizeof *dh0);
        for (int k = 0; k < 4; k++) {
            once[k] = zeros(sizes[k]);
            memcpy(once[k], rc.dw[1][k], sizes[k] * sizeof(float));
        }
        int l = cell == LOOM_RNN_LSTM;
        loom_birnn_backward(&rc.dir[0], &rc.dir[1], rc.dinp, rc.dh0, l ? rc.dc0 : NULL, rc.work,
                            rc.Rout, rc.Rh, l ? rc.Rc : NULL, rc.cache, rc.inp, rc.lens, rc.B,
                            rc.T);
        for (size_t i = 0; i < nin; i++)
            ck_assert_float_eq_tol(rc.dinp[i], 2.0f * din[i], 1e-5f);
        for (size_t i = 0; i < nh; i++)
            ck_assert_float_eq_tol(rc.dh0[i], 2.0f * dh0[i], 1e-5f);
        for (int k = 0; k < 4; k++) {
            for (size_t i = 0; i < sizes[k]; i++)
                ck_assert_float_eq_tol(rc.dw[1][k][i], 2.0f * once[k][i], 1e-5f);
            free(once[k]);
        }
        free(din), free(dh0);
        rnn_case_free(&rc);
    }
}
END_TEST

/* The per-word table passes (loom_rnn_*_ids) against the plain passes on
 * the same inputs written out as embedding rows: same outputs and final
 * states; the same weight, bias and initial-state gradients; and dWx, demb
 * from loom_rnn_table_backward equal to the plain dWx and to the plain
 * input gradients summed per word. */
START_TEST(table_passes_match_plain_passes)
{
    enum { V = 5 };
    static const int lens[] = {4, 2, 3};
    for (int cell = 0; cell < 3; cell++)
        for (int ndir = 1; ndir <= 2; ndir++) {
            rnn_case rc;
            rnn_case_init(&rc, cell, ndir, 3, 4, 3, 5, lens);
            int B = rc.B, T = rc.T, C = rc.C, H = rc.H, GH = loom_rnn_gates(cell) * H;
            int ids[12];
            float *emb = fill((size_t)V * C, 1.0f);
            for (int k = 0; k < B * T; k++) {
                ids[k] = (int)((unsigned)(k * 7 + 3 * cell + ndir) % V);
                memcpy(rc.inp + (size_t)k * C, emb + (size_t)ids[k] * C, C * sizeof(float));
            }
            rnn_case_backward(&rc); /* the plain passes */
            int l = is_lstm(&rc);
            size_t DBH = (size_t)ndir * B * H, nout = (size_t)B * T * ndir * H;
            size_t sizes[4] = {(size_t)C * GH, (size_t)H * GH, GH, GH};
            float *out = zeros(nout), *hf = zeros(DBH), *cf = zeros(DBH), *dh0 = zeros(DBH);
            float *dc0 = zeros(DBH), *dw[2][4], *tab[2], *dtab[2], *demb = zeros((size_t)V * C);
            for (int d = 0; d < ndir; d++) {
                for (int k = 0; k < 4; k++) {
                    dw[d][k] = zeros(sizes[k]);
                    memcpy(dw[d][k], rc.dw[d][k], sizes[k] * sizeof(float));
                    memset(rc.dw[d][k], 0, sizes[k] * sizeof(float));
                }
                tab[d] = zeros((size_t)V * GH), dtab[d] = zeros((size_t)V * GH);
                loom_rnn_table(&rc.dir[d], tab[d], emb, V);
            }
            float *c0 = l ? rc.c0 : NULL, *cfo = l ? cf : NULL;
            if (ndir == 2) {
                loom_birnn_forward_ids(&rc.dir[0], &rc.dir[1], out, hf, cfo, rc.cache, rc.work,
                                       tab[0], tab[1], ids, rc.lens, rc.h0, c0, B, T);
                loom_birnn_backward_ids(&rc.dir[0], &rc.dir[1], dtab[0], dtab[1], dh0,
                                        l ? dc0 : NULL, rc.work, rc.Rout, rc.Rh, l ? rc.Rc : NULL,
                                        rc.cache, ids, rc.lens, B, T);
            } else {
                loom_rnn_forward_ids(&rc.dir[0], out, hf, cfo, rc.cache, rc.work, tab[0], ids,
                                     rc.lens, rc.h0, c0, B, T);
                loom_rnn_backward_ids(&rc.dir[0], dtab[0], dh0, l ? dc0 : NULL, rc.work, rc.Rout,
                                      rc.Rh, l ? rc.Rc : NULL, rc.cache, ids, rc.lens, B, T);
            }
            for (int d = 0; d < ndir; d++)
                loom_rnn_table_backward(&rc.dir[d], demb, dtab[d], emb, V);
            for (size_t i = 0; i < nout; i++)
                ck_assert_float_eq_tol(out[i], rc.out[i], 1e-5f);
            for (size_t i = 0; i < DBH; i++) {
                ck_assert_float_eq_tol(hf[i], rc.hf[i], 1e-5f);
                ck_assert_float_eq_tol(dh0[i], rc.dh0[i], 1e-5f);
                if (l) {
                    ck_assert_float_eq_tol(cf[i], rc.cf[i], 1e-5f);
                    ck_assert_float_eq_tol(dc0[i], rc.dc0[i], 1e-5f);
                }
            }
            for (int d = 0; d < ndir; d++)
                for (int k = 0; k < 4; k++)
                    for (size_t i = 0; i < sizes[k]; i++)
                        ck_assert_msg(fabsf(rc.dw[d][k][i] - dw[d][k][i]) <= 1e-4f,
                                      "cell %d dirs %d weight %d[%zu]: %g, plain %g", cell, ndir, k,
                                      i, rc.dw[d][k][i], dw[d][k][i]);
            float *want = zeros((size_t)V * C);
            for (int k = 0; k < B * T; k++)
                for (int j = 0; j < C; j++)
                    want[(size_t)ids[k] * C + j] += rc.dinp[(size_t)k * C + j];
            for (size_t i = 0; i < (size_t)V * C; i++)
                ck_assert_msg(fabsf(demb[i] - want[i]) <= 1e-4f, "demb[%zu] %g, plain %g", i,
                              demb[i], want[i]);
            for (int d = 0; d < ndir; d++) {
                for (int k = 0; k < 4; k++)
                    free(dw[d][k]);
                free(tab[d]), free(dtab[d]);
            }
            free(out), free(hf), free(cf), free(dh0), free(dc0), free(demb), free(want), free(emb);
            rnn_case_free(&rc);
        }
}
END_TEST

/* ---- the single-step interface ---- */

typedef struct {
    loom_rnn r;
    int B;
    float *xp, *hp, *cp, *h, *c, *cache, *work, *Rh, *Rc;
    float *dxp, *dhp, *dcp;
} step_case;

static double step_loss(void *ctx)
{
    step_case *sc = ctx;
    int lstm = sc->r.cell == LOOM_RNN_LSTM;
    loom_rnn_step_forward(&sc->r, sc->h, lstm ? sc->c : NULL, sc->cache, sc->work, sc->xp, sc->hp,
                          lstm ? sc->cp : NULL, sc->B);
    size_t BH = (size_t)sc->B * sc->r.H;
    return dot_d(sc->h, sc->Rh, BH) + (lstm ? dot_d(sc->c, sc->Rc, BH) : 0.0);
}

/* Running the step T times over loom_rnn_project's output gives the
 * sequence layer's outputs, and the step's gradients pass the check. */
START_TEST(step_matches_sequence_and_gradients)
{
    for (int cell = 0; cell < 3; cell++) {
        static const int lens[] = {4, 4};
        rnn_case rc;
        rnn_case_init(&rc, cell, 1, 2, 4, 3, 5, lens);
        rnn_case_forward(&rc);
        loom_rnn *r = &rc.dir[0];
        int B = rc.B, T = rc.T, H = rc.H, C = rc.C, GH = loom_rnn_gates(cell) * H;
        int lstm = cell == LOOM_RNN_LSTM;
        float *x = zeros((size_t)B * C), *xp = zeros((size_t)B * GH);
        float *h = zeros((size_t)B * H), *c = zeros((size_t)B * H);
        float *hn = zeros((size_t)B * H), *cn = zeros((size_t)B * H);
        float *cache = zeros(loom_rnn_step_cache_size(r, B));
        float *work = zeros(loom_rnn_step_work_size(r, B));
        memcpy(h, rc.h0, (size_t)B * H * sizeof *h);
        memcpy(c, rc.c0, (size_t)B * H * sizeof *c);
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++)
                memcpy(x + b * C, rc.inp + ((size_t)b * T + t) * C, C * sizeof *x);
            loom_rnn_project(r, xp, x, B);
            loom_rnn_step_forward(r, hn, lstm ? cn : NULL, cache, work, xp, h, lstm ? c : NULL, B);
            for (int b = 0; b < B; b++)
                for (int j = 0; j < H; j++)
                    ck_assert_float_eq_tol(hn[b * H + j], rc.out[((size_t)b * T + t) * H + j],
                                           1e-6f);
            memcpy(h, hn, (size_t)B * H * sizeof *h);
            memcpy(c, cn, (size_t)B * H * sizeof *c);
        }

        step_case sc = {*r,
                        B,
                        fill((size_t)B * GH, 1.0f),
                        fill((size_t)B * H, 0.8f),
                        fill((size_t)B * H, 0.8f),
                        hn,
                        cn,
                        cache,
                        work,
                        fill((size_t)B * H, 1.0f),
                        fill((size_t)B * H, 1.0f),
                        zeros((size_t)B * GH),
                        zeros((size_t)B * H),
                        zeros((size_t)B * H)};
        size_t sizes[4] = {(size_t)C * GH, (size_t)H * GH, GH, GH};
        for (int k = 0; k < 4; k++)
            memset(rc.dw[0][k], 0, sizes[k] * sizeof(float));
        step_loss(&sc);
        loom_rnn_step_backward(&sc.r, sc.dxp, sc.dhp, lstm ? sc.dcp : NULL, work, sc.Rh,
                               lstm ? sc.Rc : NULL, cache, hn, sc.hp, lstm ? sc.cp : NULL, B);
        tensor_ref t[] = {
            {"xp", sc.xp, sc.dxp, (size_t)B * GH},     {"h_prev", sc.hp, sc.dhp, (size_t)B * H},
            {"Wh", rc.w[0][1], rc.dw[0][1], sizes[1]}, {"bx", rc.w[0][2], rc.dw[0][2], sizes[2]},
            {"bh", rc.w[0][3], rc.dw[0][3], sizes[3]}, {"c_prev", sc.cp, sc.dcp, (size_t)B * H}};
        check_all(step_loss, &sc, t, lstm ? 6 : 5, "step");
        float *p[] = {x,     xp,    h,     c,     hn,    cn,     cache,  work,
                      sc.xp, sc.hp, sc.cp, sc.Rh, sc.Rc, sc.dxp, sc.dhp, sc.dcp};
        for (size_t i = 0; i < sizeof p / sizeof *p; i++)
            free(p[i]);
        rnn_case_free(&rc);
    }
}
END_TEST

/* ---- attention ---- */

typedef struct {
    loom_attn a;
    int B, S, Dv;
    int lens[4];
    float *W, *U, *b, *v, *dW, *dU, *db, *dv;
    float *q, *keys, *values, *kp, *ctx, *weights, *cache, *work, *Rctx;
    float *dq, *dkeys, *dvalues, *dkp;
} attn_case;

static void attn_case_init(attn_case *ac, loom_attn_kind kind, int B, int S, int Dq, int Dk, int Dv,
                           int A, const int *lens)
{
    memset(ac, 0, sizeof *ac);
    ac->B = B, ac->S = S, ac->Dv = Dv;
    memcpy(ac->lens, lens, B * sizeof *lens);
    size_t nW = kind == LOOM_ATTN_BAHDANAU ? (size_t)Dq * A : (size_t)Dq * Dk;
    ac->W = fill(nW, 0.5f), ac->dW = zeros(nW);
    ac->U = fill((size_t)Dk * A, 0.5f), ac->dU = zeros((size_t)Dk * A);
    ac->b = fill(A, 0.5f), ac->db = zeros(A);
    ac->v = fill(A, 1.0f), ac->dv = zeros(A);
    ac->a = (loom_attn){kind,  Dq,     Dk,     A,      ac->W,  ac->U, ac->b,
                        ac->v, ac->dW, ac->dU, ac->db, ac->dv, NULL,  NULL};
    ac->q = fill((size_t)B * Dq, 1.0f), ac->dq = zeros((size_t)B * Dq);
    ac->keys = fill((size_t)B * S * Dk, 1.0f), ac->dkeys = zeros((size_t)B * S * Dk);
    ac->values = fill((size_t)B * S * Dv, 1.0f), ac->dvalues = zeros((size_t)B * S * Dv);
    ac->kp = zeros((size_t)B * S * A), ac->dkp = zeros((size_t)B * S * A);
    ac->ctx = zeros((size_t)B * Dv), ac->Rctx = fill((size_t)B * Dv, 1.0f);
    ac->weights = zeros((size_t)B * S);
    ac->cache = zeros(loom_attn_cache_size(&ac->a, B, S));
    ac->work = zeros(loom_attn_work_size(&ac->a, B, S));
}

static void attn_case_free(attn_case *ac)
{
    float *p[] = {ac->W,     ac->U,    ac->b,    ac->v,      ac->dW,    ac->dU,      ac->db,
                  ac->dv,    ac->q,    ac->keys, ac->values, ac->kp,    ac->ctx,     ac->weights,
                  ac->cache, ac->work, ac->Rctx, ac->dq,     ac->dkeys, ac->dvalues, ac->dkp};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        free(p[i]);
}

static void attn_case_forward(attn_case *ac)
{
    if (ac->a.kind == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys(&ac->a, ac->kp, ac->keys, ac->B * ac->S);
    loom_attn_forward(&ac->a, ac->ctx, ac->weights, ac->cache, ac->q, ac->keys, ac->kp, ac->values,
                      ac->lens, ac->B, ac->S, ac->Dv);
}

static double attn_case_loss(void *ctx)
{
    attn_case *ac = ctx;
    attn_case_forward(ac);
    return dot_d(ac->ctx, ac->Rctx, (size_t)ac->B * ac->Dv);
}

static void attn_case_backward(attn_case *ac)
{
    const loom_attn *a = &ac->a;
    int B = ac->B, S = ac->S;
    size_t nW = a->kind == LOOM_ATTN_BAHDANAU ? (size_t)a->Dq * a->A : (size_t)a->Dq * a->Dk;
    memset(ac->dW, 0, nW * sizeof(float));
    memset(ac->dU, 0, (size_t)a->Dk * a->A * sizeof(float));
    memset(ac->db, 0, a->A * sizeof(float));
    memset(ac->dv, 0, a->A * sizeof(float));
    memset(ac->dq, 0, (size_t)B * a->Dq * sizeof(float));
    memset(ac->dkeys, 0, (size_t)B * S * a->Dk * sizeof(float));
    memset(ac->dvalues, 0, (size_t)B * S * ac->Dv * sizeof(float));
    memset(ac->dkp, 0, (size_t)B * S * a->A * sizeof(float));
    attn_case_forward(ac);
    loom_attn_backward(a, ac->dq, ac->dkeys, ac->dkp, ac->dvalues, ac->work, ac->Rctx, ac->cache,
                       ac->weights, ac->q, ac->keys, ac->values, ac->lens, B, S, ac->Dv);
    if (a->kind == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys_backward(a, ac->dkeys, ac->dkp, ac->keys, B * S);
}

static void attn_gradcheck(loom_attn_kind kind, const char *what)
{
    static const int lens[] = {5, 2, 0};
    attn_case ac;
    int Dq = kind == LOOM_ATTN_DOT ? 4 : 3, Dk = 4, A = 6;
    attn_case_init(&ac, kind, 3, 5, Dq, Dk, 3, A, lens);
    attn_case_backward(&ac);
    size_t nW = kind == LOOM_ATTN_BAHDANAU ? (size_t)Dq * A : (size_t)Dq * Dk;
    tensor_ref t[] = {{"q", ac.q, ac.dq, (size_t)3 * Dq},
                      {"keys", ac.keys, ac.dkeys, (size_t)3 * 5 * Dk},
                      {"values", ac.values, ac.dvalues, (size_t)3 * 5 * 3},
                      {"W", ac.W, ac.dW, nW},
                      {"U", ac.U, ac.dU, (size_t)Dk * A},
                      {"b", ac.b, ac.db, A},
                      {"v", ac.v, ac.dv, A}};
    int n = kind == LOOM_ATTN_BAHDANAU ? 7 : kind == LOOM_ATTN_GENERAL ? 4 : 3;
    check_all(attn_case_loss, &ac, t, n, what);
    /* masked positions: zero weight, no gradient; the empty sentence: zero
     * context */
    for (int b = 0; b < 3; b++)
        for (int s = lens[b]; s < 5; s++) {
            ck_assert_float_eq(ac.weights[b * 5 + s], 0.0f);
            for (int k = 0; k < Dk; k++)
                ck_assert_float_eq(ac.dkeys[((size_t)b * 5 + s) * Dk + k], 0.0f);
        }
    for (int j = 0; j < 3; j++)
        ck_assert_float_eq(ac.ctx[2 * 3 + j], 0.0f);
    attn_case_free(&ac);
}

START_TEST(attention_gradients_match_finite_differences)
{
    attn_gradcheck(LOOM_ATTN_BAHDANAU, "bahdanau");
    attn_gradcheck(LOOM_ATTN_DOT, "dot");
    attn_gradcheck(LOOM_ATTN_GENERAL, "general");
}
END_TEST

/* ---- the attentional step (core/attn_rnn.h) ----
 * Loss = h . Rh + c . Rc (LSTM) + ctx . Rctx over one step of R rows; the
 * test adds the caller's share of dWx (ctx^T dxp) and Bahdanau's key
 * projection, as a decoder does. */
typedef struct {
    rnn_case rc;  /* the cell: weights, h_prev = h0, c_prev = c0 and their gradients */
    attn_case ac; /* the attention: weights, keys (the source) and their gradients */
    loom_attn_rnn d;
    int R, S, E, Dv, GH, lstm;
    float *xp0, *xp, *dxp, *h, *c, *Rh, *Rc, *dctx, *cache, *acache, *work, *ctx2;
} ar_case;

static loom_attn_rnn_src ar_src(ar_case *k)
{
    return (loom_attn_rnn_src){k->ac.keys, k->ac.kp, NULL, k->ac.lens, k->S, 1};
}

static double ar_loss(void *p)
{
    ar_case *k = p;
    loom_attn_rnn_src src = ar_src(k);
    if (k->ac.a.kind == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys(&k->ac.a, k->ac.kp, k->ac.keys, k->R * k->S);
    memcpy(k->xp, k->xp0, (size_t)k->R * k->GH * sizeof(float));
    loom_attn_rnn_forward(&k->d, &src, k->h, k->lstm ? k->c : NULL, k->ac.ctx, k->ac.weights,
                          k->cache, k->acache, k->work, k->xp, k->rc.h0, k->lstm ? k->rc.c0 : NULL,
                          k->R);
    size_t RH = (size_t)k->R * k->rc.H;
    return dot_d(k->h, k->Rh, RH) + (k->lstm ? dot_d(k->c, k->Rc, RH) : 0.0) +
           dot_d(k->ac.ctx, k->ac.Rctx, (size_t)k->R * k->Dv);
}

static void ar_init(ar_case *k, loom_rnn_cell cell, loom_attn_kind kind)
{
    static const int ones[4] = {1, 1, 1, 1}, lens[4] = {5, 2, 4, 0};
    memset(k, 0, sizeof *k);
    k->R = 4, k->S = 5, k->E = 2, k->Dv = 4;
    int H = 4, A = 3;
    k->lstm = cell == LOOM_RNN_LSTM;
    k->GH = loom_rnn_gates(cell) * H;
    rnn_case_init(&k->rc, cell, 1, k->R, 1, k->E + k->Dv, H, ones);
    attn_case_init(&k->ac, kind, k->R, k->S, H, k->Dv, k->Dv, A, lens);
    k->d = (loom_attn_rnn){.rnn = &k->rc.dir[0], .attn = &k->ac.a, .E = k->E, .Dv = k->Dv};
    size_t RG = (size_t)k->R * k->GH, RH = (size_t)k->R * H;
    k->xp0 = fill(RG, 1.0f), k->xp = zeros(RG), k->dxp = zeros(RG);
    k->h = zeros(RH), k->c = zeros(RH), k->Rh = fill(RH, 1.0f), k->Rc = fill(RH, 1.0f);
    k->dctx = zeros((size_t)k->R * k->Dv), k->ctx2 = zeros((size_t)k->R * k->Dv);
    k->cache = zeros(loom_attn_rnn_cache_size(&k->d, k->R));
    k->acache = zeros(loom_attn_rnn_attn_cache_size(&k->d, k->R, k->S));
    k->work = zeros(loom_attn_rnn_work_size(&k->d, k->R, k->S));
}

static void ar_backward(ar_case *k)
{
    const loom_rnn *r = &k->rc.dir[0];
    loom_attn_rnn_src src = ar_src(k);
    ar_loss(k);
    memcpy(k->dctx, k->ac.Rctx, (size_t)k->R * k->Dv * sizeof(float));
    loom_attn_rnn_backward(&k->d, &src, k->dxp, k->rc.dh0, k->lstm ? k->rc.dc0 : NULL, k->dctx,
                           k->ac.dkeys, k->ac.dkp, k->ctx2, k->acache, k->work, k->Rh,
                           k->lstm ? k->Rc : NULL, k->cache, k->h, k->rc.h0,
                           k->lstm ? k->rc.c0 : NULL, k->ac.weights, k->R);
    /* the caller's shares: dWx[E:] += ctx^T dxp; Bahdanau's keys */
    loom_dense_backward(NULL, r->dWx + (size_t)k->E * k->GH, NULL, k->dxp, k->ac.ctx,
                        r->Wx + (size_t)k->E * k->GH, k->R, k->Dv, k->GH);
    if (k->ac.a.kind == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys_backward(&k->ac.a, k->ac.dkeys, k->ac.dkp, k->ac.keys, k->R * k->S);
}

static void ar_free(ar_case *k)
{
    rnn_case_free(&k->rc);
    attn_case_free(&k->ac);
    float *p[] = {k->xp0, k->xp,   k->dxp,  k->h,     k->c,      k->Rh,
                  k->Rc,  k->dctx, k->ctx2, k->cache, k->acache, k->work};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        free(p[i]);
}

START_TEST(attn_rnn_step_gradients_match_finite_differences)
{
    static const char *const names[3] = {"bahdanau", "dot", "general"};
    for (int cell = LOOM_RNN_GRU; cell <= LOOM_RNN_LSTM; cell++)
        for (int kind = 0; kind < 3; kind++) {
            ar_case k;
            ar_init(&k, cell, kind);
            ar_backward(&k);
            const loom_rnn *r = &k.rc.dir[0];
            int H = k.rc.H, A = k.ac.a.A, Dq = H, Dk = k.Dv, GH = k.GH;
            size_t RH = (size_t)k.R * H,
                   nW = kind == LOOM_ATTN_BAHDANAU ? (size_t)Dq * A : (size_t)Dq * Dk;
            tensor_ref t[12];
            int n = 0;
            t[n++] = (tensor_ref){"h_prev", k.rc.h0, k.rc.dh0, RH};
            t[n++] = (tensor_ref){"xp", k.xp0, k.dxp, (size_t)k.R * GH};
            t[n++] = (tensor_ref){"keys", k.ac.keys, k.ac.dkeys, (size_t)k.R * k.S * Dk};
            t[n++] = (tensor_ref){"Wx[E:]", (float *)r->Wx + (size_t)k.E * GH,
                                  r->dWx + (size_t)k.E * GH, (size_t)k.Dv * GH};
            t[n++] = (tensor_ref){"Wh", (float *)r->Wh, r->dWh, (size_t)H * GH};
            t[n++] = (tensor_ref){"bx", (float *)r->bx, r->dbx, (size_t)GH};
            t[n++] = (tensor_ref){"bh", (float *)r->bh, r->dbh, (size_t)GH};
            if (k.lstm)
                t[n++] = (tensor_ref){"c_prev", k.rc.c0, k.rc.dc0, RH};
            if (kind != LOOM_ATTN_DOT)
                t[n++] = (tensor_ref){"attn W", k.ac.W, k.ac.dW, nW};
            if (kind == LOOM_ATTN_BAHDANAU) {
                t[n++] = (tensor_ref){"attn U", k.ac.U, k.ac.dU, (size_t)Dk * A};
                t[n++] = (tensor_ref){"attn b", k.ac.b, k.ac.db, (size_t)A};
                t[n++] = (tensor_ref){"attn v", k.ac.v, k.ac.dv, (size_t)A};
            }
            check_all(ar_loss, &k, t, n, names[kind]);
            /* the check has teeth: one entry 0.5% off fails it */
            k.rc.dh0[1] *= 1.005f;
            ck_assert(grad_check(ar_loss, &k, t[0]) > GC_TOL);
            ar_free(&k);
        }
}
END_TEST

/* All queries at once: Tq queries per sentence, checked against finite
 * differences and against Tq one-query calls. */
typedef struct {
    attn_case *ac; /* parameters, keys, values, lens */
    int Tq;
    float *q, *ctx, *weights, *cache, *R, *dq;
} attn_all_case;

static double attn_all_loss(void *ctx)
{
    attn_all_case *c = ctx;
    attn_case *ac = c->ac;
    if (ac->a.kind == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys(&ac->a, ac->kp, ac->keys, ac->B * ac->S);
    loom_attn_forward_all(&ac->a, c->ctx, c->weights, c->cache, c->q, ac->keys, ac->kp, ac->values,
                          ac->lens, ac->B, c->Tq, ac->S, ac->Dv);
    return dot_d(c->ctx, c->R, (size_t)ac->B * c->Tq * ac->Dv);
}

START_TEST(attention_all_queries_match_single_queries_and_gradients)
{
    for (int kind = LOOM_ATTN_BAHDANAU; kind <= LOOM_ATTN_GENERAL; kind++) {
        static const int lens[] = {4, 2};
        int B = 2, Tq = 3, S = 4, Dv = 3, Dk = 4, A = 5, Dq = kind == LOOM_ATTN_DOT ? 4 : 3;
        attn_case ac;
        attn_case_init(&ac, kind, B, S, Dq, Dk, Dv, A, lens);
        size_t csz = loom_attn_cache_size(&ac.a, B, S);
        attn_all_case c = {&ac,
                           Tq,
                           fill((size_t)B * Tq * Dq, 1.0f),
                           zeros((size_t)B * Tq * Dv),
                           zeros((size_t)B * Tq * S),
                           zeros(Tq * csz),
                           fill((size_t)B * Tq * Dv, 1.0f),
                           zeros((size_t)B * Tq * Dq)};
        attn_all_loss(&c);
        /* the same as one query at a time */
        float *q1 = zeros((size_t)B * Dq), *c1 = zeros((size_t)B * Dv), *w1 = zeros((size_t)B * S);
        for (int t = 0; t < Tq; t++) {
            for (int b = 0; b < B; b++)
                memcpy(q1 + b * Dq, c.q + ((size_t)b * Tq + t) * Dq, Dq * sizeof *q1);
            loom_attn_forward(&ac.a, c1, w1, ac.cache, q1, ac.keys, ac.kp, ac.values, lens, B, S,
                              Dv);
            for (int b = 0; b < B; b++)
                for (int j = 0; j < Dv; j++)
                    ck_assert_float_eq_tol(c1[b * Dv + j], c.ctx[((size_t)b * Tq + t) * Dv + j],
                                           1e-6f);
        }
        loom_attn_backward_all(&ac.a, c.dq, ac.dkeys, ac.dkp, ac.dvalues, ac.work, c.R, c.cache,
                               c.weights, c.q, ac.keys, ac.values, lens, B, Tq, S, Dv);
        if (kind == LOOM_ATTN_BAHDANAU)
            loom_attn_project_keys_backward(&ac.a, ac.dkeys, ac.dkp, ac.keys, B * S);
        size_t nW = kind == LOOM_ATTN_BAHDANAU ? (size_t)Dq * A : (size_t)Dq * Dk;
        tensor_ref t[] = {{"q", c.q, c.dq, (size_t)B * Tq * Dq},
                          {"keys", ac.keys, ac.dkeys, (size_t)B * S * Dk},
                          {"values", ac.values, ac.dvalues, (size_t)B * S * Dv},
                          {"W", ac.W, ac.dW, nW},
                          {"U", ac.U, ac.dU, (size_t)Dk * A},
                          {"b", ac.b, ac.db, A},
                          {"v", ac.v, ac.dv, A}};
        int n = kind == LOOM_ATTN_BAHDANAU ? 7 : kind == LOOM_ATTN_GENERAL ? 4 : 3;
        check_all(attn_all_loss, &c, t, n, "attn all");
        float *p[] = {c.q, c.ctx, c.weights, c.cache, c.R, c.dq, q1, c1, w1};
        for (size_t i = 0; i < sizeof p / sizeof *p; i++)
            free(p[i]);
        attn_case_free(&ac);
    }
}
END_TEST

/* ---- PyTorch references ---- */

static loom_st_file *open_fixture(const char *name)
{
    const char *dir = getenv("LOOM_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/core/%s.safetensors", dir ? dir : ".", name);
    loom_st_file *f = NULL;
    int rc = loom_st_open(&f, path);
    if (rc)
        ck_abort_msg("%s", loom_error_message());
    return f;
}

static int meta_int(const loom_st_file *f, const char *key)
{
    const char *v = loom_st_meta(f, key);
    ck_assert_msg(v != NULL, "fixture lacks %s", key);
    return atoi(v);
}

/* A float32 tensor of n elements from the fixture. */
static const float *fx(const loom_st_file *f, const char *name, size_t n)
{
    const loom_st_tensor *t = loom_st_find(f, name);
    ck_assert_msg(t != NULL, "fixture lacks %s", name);
    ck_assert_msg(t->dtype == LOOM_ST_F32 && t->numel == n, "%s: %zu floats, expected %zu", name,
                  t->numel, n);
    return t->data;
}

static void load(float *dst, const loom_st_file *f, const char *name, size_t n)
{
    memcpy(dst, fx(f, name, n), n * sizeof *dst);
}

/* max |a - ref| / max |ref| over the tensor */
static void expect_close(const float *a, const loom_st_file *f, const char *name, size_t n,
                         double tol, const char *what)
{
    const float *ref = fx(f, name, n);
    double diff = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    if (getenv("LOOM_TEST_VERBOSE"))
        fprintf(stderr, "torch %-14s %-8s %.2e\n", what, name, diff / scale);
    if (diff / scale > tol)
        ck_abort_msg("%s: %s differs from PyTorch by %.3g relative", what, name, diff / scale);
}

static void rnn_fixture(const char *name, double tol)
{
    loom_st_file *f = open_fixture(name);
    ck_assert_str_eq(loom_st_meta(f, "torch_version") ? "ok" : "missing", "ok");
    const char *cellname = loom_st_meta(f, "cell");
    loom_rnn_cell cell = !strcmp(cellname, "gru")    ? LOOM_RNN_GRU
                         : !strcmp(cellname, "lstm") ? LOOM_RNN_LSTM
                                                     : LOOM_RNN_ELMAN;
    int ndir = meta_int(f, "bidirectional") ? 2 : 1;
    int B = meta_int(f, "B"), T = meta_int(f, "T"), C = meta_int(f, "C"), H = meta_int(f, "H");
    const loom_st_tensor *lt = loom_st_find(f, "lens");
    ck_assert(lt && lt->dtype == LOOM_ST_I32 && lt->numel == (size_t)B && B <= 8);
    rnn_case rc;
    rnn_case_init(&rc, cell, ndir, B, T, C, H, lt->data);
    int GH = loom_rnn_gates(cell) * H, lstm = cell == LOOM_RNN_LSTM;
    size_t sizes[4] = {(size_t)C * GH, (size_t)H * GH, GH, GH};
    size_t BTC = (size_t)B * T * C, DBH = (size_t)ndir * B * H, BTO = (size_t)B * T * ndir * H;
    static const char *wn[2][4] = {{"Wx", "Wh", "bx", "bh"}, {"Wx", "Wh", "bx", "bh"}};
    char key[64];
    load(rc.inp, f, "inp", BTC);
    load(rc.h0, f, "h0", DBH);
    load(rc.Rout, f, "R_out", BTO);
    load(rc.Rh, f, "R_h", DBH);
    if (lstm) {
        load(rc.c0, f, "c0", DBH);
        load(rc.Rc, f, "R_c", DBH);
    }
    for (int d = 0; d < ndir; d++)
        for (int k = 0; k < 4; k++) {
            snprintf(key, sizeof key, "%s%s", ndir == 2 ? (d ? "bw." : "fw.") : "", wn[d][k]);
            load(rc.w[d][k], f, key, sizes[k]);
        }
    rnn_case_backward(&rc);
    expect_close(rc.out, f, "out", BTO, tol, name);
    expect_close(rc.hf, f, "h_n", DBH, tol, name);
    expect_close(rc.dinp, f, "d_inp", BTC, tol, name);
    expect_close(rc.dh0, f, "d_h0", DBH, tol, name);
    if (lstm) {
        expect_close(rc.cf, f, "c_n", DBH, tol, name);
        expect_close(rc.dc0, f, "d_c0", DBH, tol, name);
    }
    for (int d = 0; d < ndir; d++)
        for (int k = 0; k < 4; k++) {
            snprintf(key, sizeof key, "%sd%s", ndir == 2 ? (d ? "bw." : "fw.") : "", wn[d][k]);
            expect_close(rc.dw[d][k], f, key, sizes[k], tol, name);
        }
    rnn_case_free(&rc);
    loom_st_close(f);
}

/* Short sequences within 1e-5; 60 steps (GRU bidirectional, LSTM) 1e-4. */
START_TEST(elman_matches_pytorch)
{
    rnn_fixture("rnn_elman", 1e-5);
    rnn_fixture("rnn_elman_bi", 1e-5);
}
END_TEST

START_TEST(gru_matches_pytorch)
{
    rnn_fixture("rnn_gru", 1e-5);
    rnn_fixture("rnn_gru_bi", 1e-5);
    rnn_fixture("rnn_gru_long", 1e-4);
}
END_TEST

START_TEST(lstm_matches_pytorch)
{
    rnn_fixture("rnn_lstm", 1e-5);
    rnn_fixture("rnn_lstm_bi", 1e-5);
    rnn_fixture("rnn_lstm_long", 1e-4);
}
END_TEST

static void attn_fixture(const char *name, loom_attn_kind kind)
{
    loom_st_file *f = open_fixture(name);
    ck_assert_ptr_nonnull(loom_st_meta(f, "torch_version"));
    int B = meta_int(f, "B"), S = meta_int(f, "S"), Dq = meta_int(f, "Dq");
    int Dk = meta_int(f, "Dk"), Dv = meta_int(f, "Dv"), A = meta_int(f, "A");
    const loom_st_tensor *lt = loom_st_find(f, "lens");
    ck_assert(lt && lt->dtype == LOOM_ST_I32 && lt->numel == (size_t)B && B <= 4);
    attn_case ac;
    attn_case_init(&ac, kind, B, S, Dq, Dk, Dv, A, lt->data);
    size_t nW = kind == LOOM_ATTN_BAHDANAU ? (size_t)Dq * A : (size_t)Dq * Dk;
    load(ac.q, f, "q", (size_t)B * Dq);
    load(ac.keys, f, "keys", (size_t)B * S * Dk);
    load(ac.values, f, "values", (size_t)B * S * Dv);
    load(ac.Rctx, f, "R_ctx", (size_t)B * Dv);
    if (kind != LOOM_ATTN_DOT)
        load(ac.W, f, "W", nW);
    if (kind == LOOM_ATTN_BAHDANAU) {
        load(ac.U, f, "U", (size_t)Dk * A);
        load(ac.b, f, "b", A);
        load(ac.v, f, "v", A);
    }
    attn_case_backward(&ac);
    expect_close(ac.ctx, f, "ctx", (size_t)B * Dv, 1e-5, name);
    expect_close(ac.weights, f, "weights", (size_t)B * S, 1e-5, name);
    expect_close(ac.dq, f, "d_q", (size_t)B * Dq, 1e-5, name);
    expect_close(ac.dkeys, f, "d_keys", (size_t)B * S * Dk, 1e-5, name);
    expect_close(ac.dvalues, f, "d_values", (size_t)B * S * Dv, 1e-5, name);
    if (kind != LOOM_ATTN_DOT)
        expect_close(ac.dW, f, "dW", nW, 1e-5, name);
    if (kind == LOOM_ATTN_BAHDANAU) {
        expect_close(ac.dU, f, "dU", (size_t)Dk * A, 1e-5, name);
        expect_close(ac.db, f, "db", A, 1e-5, name);
        expect_close(ac.dv, f, "dv", A, 1e-5, name);
    }
    attn_case_free(&ac);
    loom_st_close(f);
}

/* The attentional step against PyTorch (GRUCell/LSTMCell on [e; ctx]):
 * the caller's parts as a decoder does them, xp = e Wx[:E] before and
 * dWx[:E], de from dxp after. */
static void attn_rnn_fixture(const char *name, loom_rnn_cell cell, loom_attn_kind kind)
{
    loom_st_file *f = open_fixture(name);
    ck_assert_ptr_nonnull(loom_st_meta(f, "torch_version"));
    ar_case k;
    ar_init(&k, cell, kind);
    ck_assert(meta_int(f, "R") == k.R && meta_int(f, "S") == k.S && meta_int(f, "E") == k.E &&
              meta_int(f, "Dv") == k.Dv && meta_int(f, "H") == k.rc.H &&
              meta_int(f, "A") == k.ac.a.A);
    const loom_st_tensor *lt = loom_st_find(f, "lens");
    ck_assert(lt && lt->dtype == LOOM_ST_I32 && lt->numel == (size_t)k.R);
    memcpy(k.ac.lens, lt->data, k.R * sizeof(int));
    int R = k.R, H = k.rc.H, E = k.E, GH = k.GH, C = E + k.Dv, A = k.ac.a.A;
    size_t RH = (size_t)R * H, nW = kind == LOOM_ATTN_BAHDANAU ? (size_t)H * A : (size_t)H * k.Dv;
    loom_rnn *r = &k.rc.dir[0];
    float *e = zeros((size_t)R * E), *de = zeros((size_t)R * E);
    load(e, f, "e", (size_t)R * E);
    load((float *)r->Wx, f, "Wx", (size_t)C * GH);
    load((float *)r->Wh, f, "Wh", (size_t)H * GH);
    load((float *)r->bx, f, "bx", GH);
    load((float *)r->bh, f, "bh", GH);
    load(k.rc.h0, f, "h_prev", RH);
    if (k.lstm)
        load(k.rc.c0, f, "c_prev", RH);
    load(k.ac.keys, f, "keys", (size_t)R * k.S * k.Dv);
    load(k.ac.W, f, "W", nW);
    if (kind == LOOM_ATTN_BAHDANAU) {
        load(k.ac.U, f, "U", (size_t)k.Dv * A);
        load(k.ac.b, f, "b", A);
        load(k.ac.v, f, "v", A);
    }
    load(k.Rh, f, "R_h", RH);
    load(k.Rc, f, "R_c", RH);
    load(k.ac.Rctx, f, "R_ctx", (size_t)R * k.Dv);
    loom_dense_forward(k.xp0, e, r->Wx, NULL, R, E, GH);
    ar_backward(&k);
    loom_dense_backward(de, r->dWx, NULL, k.dxp, e, r->Wx, R, E, GH);
    expect_close(k.h, f, "h", RH, 1e-5, name);
    expect_close(k.ac.ctx, f, "ctx", (size_t)R * k.Dv, 1e-5, name);
    expect_close(k.rc.dh0, f, "d_h_prev", RH, 1e-5, name);
    expect_close(k.ac.dkeys, f, "d_keys", (size_t)R * k.S * k.Dv, 1e-5, name);
    expect_close(de, f, "d_e", (size_t)R * E, 1e-5, name);
    expect_close(r->dWx, f, "dWx", (size_t)C * GH, 1e-5, name);
    expect_close(r->dWh, f, "dWh", (size_t)H * GH, 1e-5, name);
    expect_close(r->dbx, f, "dbx", GH, 1e-5, name);
    expect_close(r->dbh, f, "dbh", GH, 1e-5, name);
    expect_close(k.ac.dW, f, "dW", nW, 1e-5, name);
    if (k.lstm) {
        expect_close(k.c, f, "c", RH, 1e-5, name);
        expect_close(k.rc.dc0, f, "d_c_prev", RH, 1e-5, name);
    }
    if (kind == LOOM_ATTN_BAHDANAU) {
        expect_close(k.ac.dU, f, "dU", (size_t)k.Dv * A, 1e-5, name);
        expect_close(k.ac.db, f, "db", A, 1e-5, name);
        expect_close(k.ac.dv, f, "dv", A, 1e-5, name);
    }
    free(e), free(de);
    ar_free(&k);
    loom_st_close(f);
}

START_TEST(attn_rnn_step_matches_pytorch)
{
    attn_rnn_fixture("rnn_attn_rnn_gru", LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU);
    attn_rnn_fixture("rnn_attn_rnn_lstm", LOOM_RNN_LSTM, LOOM_ATTN_GENERAL);
}
END_TEST

START_TEST(attention_matches_pytorch)
{
    attn_fixture("rnn_attn_bahdanau", LOOM_ATTN_BAHDANAU);
    attn_fixture("rnn_attn_dot", LOOM_ATTN_DOT);
    attn_fixture("rnn_attn_general", LOOM_ATTN_GENERAL);
}
END_TEST

/* ---- the one dispatch point: LOOM_NO_AVX2 gives the portable kernels ---- */

/* Checked fixture of the "portable" case: Check runs each test in a
 * process of its own, so the level is decided after this, in the test. */
static void no_avx2(void)
{
    setenv("LOOM_NO_AVX2", "1", 1);
}

/* Under LOOM_NO_AVX2 every dispatched kernel gives exactly what its
 * portable version gives (the case's other tests check that those results
 * are within tolerance of double precision and of PyTorch). */
START_TEST(no_avx2_takes_the_portable_paths)
{
    ck_assert_int_eq(loom_simd_level(), LOOM_SIMD_PORTABLE);
    ck_assert_str_eq(loom_simd_name(loom_simd_level()), "portable");
    enum { N = 1001, M = 5, C = 37, K = 23 };
    static float x[N], y[N], z[N];
    for (int i = 0; i < N; i++)
        x[i] = urand() * 8.0f;
    loom_vexp(y, x, N), loom_vexp_generic(z, x, N);
    ck_assert_mem_eq(y, z, sizeof y);
    loom_vsigmoid(y, x, N), loom_vsigmoid_generic(z, x, N);
    ck_assert_mem_eq(y, z, sizeof y);
    loom_vtanh(y, x, N), loom_vtanh_generic(z, x, N);
    ck_assert_mem_eq(y, z, sizeof y);
    /* the few-row product falls back to BLAS */
    float *X = fill((size_t)M * K, 1.0f), *W = fill((size_t)K * C, 1.0f);
    float *Y = zeros((size_t)M * C), *Y2 = zeros((size_t)M * C);
    loom_mm_rows(M, C, K, X, K, W, C, 0.0f, Y, C);
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, M, C, K, 1.0f, X, K, W, C, 0.0f, Y2, C);
    ck_assert_mem_eq(Y, Y2, (size_t)M * C * sizeof *Y);
    free(X), free(W), free(Y), free(Y2);
}
END_TEST

Suite *rnn_suite(void);

Suite *rnn_suite(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, vector_math_is_accurate);
    tcase_add_test(tc, each_simd_level_agrees_with_portable);
    tcase_add_test(tc, few_row_products_match_reference);
    tcase_add_test(tc, few_row_products_same_bits_at_each_level);
    tcase_add_test(tc, packed_products_match_reference_at_each_level);
    tcase_add_test(tc, packed_transpose_and_column_ranges);
    tcase_add_test(tc, packed_from_column_list_equals_gather_then_pack);
    tcase_add_test(tc, vector_max_and_sum_match_scalar);
    tcase_add_test(tc, elman_gradients_match_finite_differences);
    tcase_add_test(tc, gru_gradients_match_finite_differences);
    tcase_add_test(tc, lstm_gradients_match_finite_differences);
    tcase_add_test(tc, padding_keeps_state_and_outputs_zeros);
    tcase_add_test(tc, backward_accumulates);
    tcase_add_test(tc, birnn_without_bw_is_one_direction);
    tcase_add_test(tc, table_passes_match_plain_passes);
    tcase_add_test(tc, step_matches_sequence_and_gradients);
    tcase_add_test(tc, attention_gradients_match_finite_differences);
    tcase_add_test(tc, attention_all_queries_match_single_queries_and_gradients);
    tcase_add_test(tc, attn_rnn_step_gradients_match_finite_differences);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("portable");
    /* not Check's 4 s a test: the portable packed products took 5.3 s under
     * ASan on the loaded 2-core machine */
    tcase_set_timeout(tn, 120);
    tcase_add_checked_fixture(tn, no_avx2, NULL);
    tcase_add_test(tn, no_avx2_takes_the_portable_paths);
    tcase_add_test(tn, vector_math_is_accurate);
    tcase_add_test(tn, few_row_products_match_reference);
    tcase_add_test(tn, packed_products_match_reference_at_each_level);
    tcase_add_test(tn, packed_transpose_and_column_ranges);
    tcase_add_test(tn, packed_from_column_list_equals_gather_then_pack);
    tcase_add_test(tn, vector_max_and_sum_match_scalar);
    tcase_add_test(tn, gru_matches_pytorch);
    tcase_add_test(tn, lstm_matches_pytorch);
    tcase_add_test(tn, attention_matches_pytorch);
    suite_add_tcase(s, tn);

    TCase *tp = tcase_create("pytorch");
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, elman_matches_pytorch);
    tcase_add_test(tp, gru_matches_pytorch);
    tcase_add_test(tp, lstm_matches_pytorch);
    tcase_add_test(tp, attention_matches_pytorch);
    tcase_add_test(tp, attn_rnn_step_matches_pytorch);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    gc_env();
    if (getenv("GC_SEED"))
        rng_state = strtoull(getenv("GC_SEED"), NULL, 10);
    SRunner *sr = srunner_create(rnn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

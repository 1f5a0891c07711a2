/* Tests for src/core (core A): BLAS wrappers, parameter sets and
 * initialisers, dense (and its block variant), concatenation, activations, embedding, conv1d +
 * pooling, dropout, losses, optimizers and schedules, and selection over a
 * row (argmax, top-k).
 *
 * Two kinds of evidence for every layer and loss:
 *  - gradient checks: the analytic backward against central finite
 *    differences of the forward, for every input and parameter. The
 *    objective is L = sum(out * R) for a fixed random R (so dout = R),
 *    accumulated in double, differenced with a fourth-order stencil.
 *    Layers linear in the checked tensor (dense, conv, pooling, embedding,
 *    dropout) have no truncation error, so a large step (h = 0.1) leaves
 *    only float rounding; nonlinear ones use h = 0.05 (truncation error
 *    h^4/30 f^(5) < 1e-6). Only the outputs a perturbation touches change,
 *    and they are recomputed bit for bit otherwise, so the rounding noise
 *    is ~1e-7 * |R| / h per touched output, ~1e-6. The test fails
 *    when |analytic - numeric| > 1e-3 * max(|analytic|, |numeric|, 1e-2):
 *    relative 1e-3, with gradients below 1e-2 held to an absolute 1e-5
 *    because float rounding of L (~1e-7 * |L| / 2h) cannot resolve them
 *    relatively.
 *  - PyTorch references from tests/fixtures/core/make_core_fixtures.py
 *    (torch version in each file's metadata), matched within 1e-5
 *    relative (absolute 1e-5 * the tensor's largest entry for entries
 *    much smaller than it, where relative error is float noise). */
#include "config.h"
#include "base/error.h"
#include "base/safetensors.h"
#include "core/activation.h"
#include "core/attention.h"
#include "core/blas.h"
#include "core/concat.h"
#include "core/conv1d.h"
#include "core/dense.h"
#include "core/dropout.h"
#include "core/embedding.h"
#include "core/loss.h"
#include "core/optim.h"
#include "core/param.h"
#include "core/select.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static loom_rng test_rng;

static void setup(void)
{
    loom_rng_seed(&test_rng, 20261125, 0);
}

static float *randn(size_t n, float scale)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)loom_rng_normal(&test_rng) * scale;
    return x;
}

static float *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The objective: runs the forward pass on the current buffers, returns L. */
typedef double (*objective)(void *ctx);

/* Fourth-order central differences, (-f(x+2h) + 8 f(x+h) - 8 f(x-h) +
 * f(x-2h)) / 12h: truncation error h^4/30 f^(5), so a step large enough to
 * swamp float rounding (h = 0.05) still leaves under 1e-6. */
static double grad_check_error(objective f, void *ctx, float *x, const float *analytic, size_t n,
                               float h, size_t *worst_i)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        double fx[4];
        const float step[4] = {2, 1, -1, -2};
        for (int k = 0; k < 4; k++) {
            x[i] = x0 + step[k] * h;
            fx[k] = f(ctx);
        }
        x[i] = x0;
        double num = (-fx[0] + 8 * fx[1] - 8 * fx[2] + fx[3]) / (12.0 * h), a = analytic[i];
        double denom = fmax(fmax(fabs(a), fabs(num)), 1e-2);
        double err = fabs(a - num) / denom;
        if (err > worst) {
            worst = err;
            *worst_i = i;
        }
    }
    return worst;
}

static void grad_check(const char *what, objective f, void *ctx, float *x, const float *analytic,
                       size_t n, float h)
{
    size_t worst_i = 0;
    double worst = grad_check_error(f, ctx, x, analytic, n, h, &worst_i);
    if (getenv("LOOM_TEST_VERBOSE"))
        fprintf(stderr, "gradcheck %-30s worst relative error %.2e\n", what, worst);
    ck_assert_msg(worst <= 1e-3, "%s: gradient check failed at %zu: relative error %.3g", what,
                  worst_i, worst);
}

static loom_st_file *fixture(const char *name)
{
    const char *src = getenv("LOOM_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/core/%s", src ? src : ".", name);
    loom_st_file *f;
    int rc = loom_st_open(&f, path);
    ck_assert_msg(rc == 0, "cannot open fixture: %s", loom_error_message());
    const char *v = loom_st_meta(f, "torch_version");
    ck_assert_msg(v && *v, "%s: no torch_version in metadata", name);
    return f;
}

static const float *fx(const loom_st_file *f, const char *name, size_t n)
{
    const loom_st_tensor *t = loom_st_find(f, name);
    ck_assert_msg(t != NULL, "fixture %s lacks %s", loom_st_path(f), name);
    ck_assert_int_eq(t->dtype, LOOM_ST_F32);
    ck_assert_uint_eq(t->numel, n);
    return t->data;
}

static void fx_ints(const loom_st_file *f, const char *name, int *out, size_t n)
{
    const loom_st_tensor *t = loom_st_find(f, name);
    ck_assert_msg(t && t->dtype == LOOM_ST_I64 && t->numel == n, "fixture lacks I64 %s", name);
    for (size_t i = 0; i < n; i++)
        out[i] = (int)((const int64_t *)t->data)[i];
}

static double max_rel_err(const float *got, const float *want, size_t n)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double denom = fmax(fabs(want[i]), 1e-2 * scale);
        if (denom == 0)
            denom = 1;
        worst = fmax(worst, fabs((double)got[i] - want[i]) / denom);
    }
    return worst;
}

static void expect_match(const char *what, const float *got, const float *want, size_t n)
{
    double err = max_rel_err(got, want, n);
    if (getenv("LOOM_TEST_VERBOSE"))
        fprintf(stderr, "torch     %-30s worst relative error %.2e\n", what, err);
    ck_assert_msg(err <= 1e-5, "%s: differs from PyTorch by %.3g relative", what, err);
}

/* ---------------------------------------------------------------- BLAS */

static void naive_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       const float *B, float beta, float *C)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s +=
                    (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
            C[i * N + j] = (float)(alpha * s + beta * C[i * N + j]);
        }
}

START_TEST(test_blas_gemm_all_transposes)
{
    int M = 5, N = 7, K = 3;
    float *A = randn(M * K, 1), *B = randn(K * N, 1), *C0 = randn(M * N, 1);
    float C1[35], C2[35];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            memcpy(C1, C0, sizeof C1);
            memcpy(C2, C0, sizeof C2);
            loom_gemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 2.0f, C1, N);
            naive_gemm(ta, tb, M, N, K, 0.5f, A, B, 2.0f, C2);
            for (int i = 0; i < M * N; i++)
                ck_assert_float_eq_tol(C1[i], C2[i], 1e-5);
        }
    free(A);
    free(B);
    free(C0);
}
END_TEST

START_TEST(test_blas_vector_ops)
{
    float A[6] = {1, 2, 3, 4, 5, 6}; /* (2, 3) */
    float x3[3] = {1, -1, 2}, x2[2] = {3, -2}, y2[2] = {1, 1}, y3[3] = {0, 0, 1};
    loom_gemv(LOOM_NOTRANS, 2, 3, 1.0f, A, 3, x3, 2.0f, y2); /* A x + 2 y */
    ck_assert_float_eq(y2[0], 1 - 2 + 6 + 2);
    ck_assert_float_eq(y2[1], 4 - 5 + 12 + 2);
    loom_gemv(LOOM_TRANS, 2, 3, 1.0f, A, 3, x2, 0.0f, y3); /* A^T x */
    ck_assert_float_eq(y3[0], 3 - 8);
    ck_assert_float_eq(y3[2], 9 - 12);
    float G[6] = {0};
    loom_ger(2, 3, 2.0f, x2, x3, G, 3);
    ck_assert_float_eq(G[5], 2.0f * -2 * 2);
    float a[3] = {1, 2, 2}, b[3] = {1, 1, 1};
    loom_axpy(3, 2.0f, a, b);
    ck_assert_float_eq(b[2], 5);
    ck_assert_float_eq(loom_dot(3, a, a), 9);
    ck_assert_float_eq(loom_nrm2(3, a), 3);
    loom_scal(3, -1.0f, a);
    ck_assert_float_eq(a[1], -2);
    /* Empty products: C = beta C, y = beta y, and nothing printed. */
    float c2[2] = {1, 2}, y1[1] = {3};
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, 1, 2, 0, 1.0f, NULL, 0, NULL, 2, 0.5f, c2, 2);
    ck_assert(c2[0] == 0.5f && c2[1] == 1.0f);
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, 0, 2, 3, 1.0f, NULL, 3, NULL, 2, 0.0f, NULL, 2);
    loom_gemv(LOOM_NOTRANS, 1, 0, 1.0f, NULL, 0, NULL, 0.0f, y1);
    ck_assert_float_eq(y1[0], 0.0f);
    loom_blas_set_threads(1);
    ck_assert_int_eq(loom_blas_threads(), 1);
    loom_blas_set_threads(2);
    ck_assert_int_eq(loom_blas_threads(), 2);
    loom_blas_set_threads(1);
}
END_TEST

/* ------------------------------------------------------------ params */

START_TEST(test_params_flat_block_views_and_freeze)
{
    loom_params *ps;
    loom_param *a, *b, *c;
    int shape3[3] = {2, 3, 4};
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add2(ps, &a, "enc.W", 3, 5), 0);
    ck_assert_int_eq(loom_params_add1(ps, &b, "enc.b", 5), 0);
    ck_assert_int_eq(loom_params_add(ps, &c, "dec.K", 3, shape3), 0);
    ck_assert_int_eq(loom_params_add1(ps, NULL, "enc.b", 2), LOOM_EINVAL);
    ck_assert_int_eq(loom_params_add1(ps, NULL, "zero", 0), LOOM_EINVAL);
    ck_assert_ptr_null(a->value);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    ck_assert_int_eq(loom_params_add1(ps, NULL, "late", 2), LOOM_EINVAL);
    ck_assert_uint_eq(loom_params_len(ps), 3);
    ck_assert_ptr_eq(loom_params_find(ps, "enc.b"), b);
    ck_assert_ptr_null(loom_params_find(ps, "nope"));
    /* One block, views 64-byte aligned, in declaration order. */
    size_t nf;
    float *vals = loom_params_values(ps, &nf);
    ck_assert_ptr_eq(a->value, vals);
    ck_assert_uint_eq((uintptr_t)b->value % 64, 0);
    ck_assert_uint_eq((uintptr_t)c->grad % 64, 0);
    ck_assert(b->value >= a->value + 15 && c->value >= b->value + 5);
    ck_assert(c->value + 24 <= vals + nf);
    ck_assert_uint_eq(loom_params_numel(ps, 0), 15 + 5 + 24);
    ck_assert_uint_eq(loom_params_freeze(ps, "enc.", 1), 2);
    ck_assert_uint_eq(loom_params_numel(ps, 1), 24);
    ck_assert_uint_eq(loom_params_freeze(ps, "", 0), 3);
    /* zero_grad clears every gradient. */
    for (size_t i = 0; i < 24; i++)
        c->grad[i] = 1;
    a->grad[3] = 2;
    loom_params_zero_grad(ps);
    ck_assert_float_eq(c->grad[23], 0);
    ck_assert_float_eq(a->grad[3], 0);
    loom_params_free(ps);
    loom_params_free(NULL);
}
END_TEST

START_TEST(test_params_clip_grad_norm_as_torch)
{
    loom_params *ps;
    loom_param *a, *b;
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add1(ps, &a, "a", 2), 0);
    ck_assert_int_eq(loom_params_add1(ps, &b, "b", 1), 0);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    a->grad[0] = 3;
    a->grad[1] = 0;
    b->grad[0] = 4;
    ck_assert_double_eq_tol(loom_params_grad_norm(ps), 5, 1e-12);
    /* Below the limit: untouched. */
    ck_assert_double_eq_tol(loom_params_clip_grad_norm(ps, 10), 5, 1e-12);
    ck_assert_float_eq(a->grad[0], 3);
    /* Above: scaled by max_norm / (norm + 1e-6), as clip_grad_norm_. */
    ck_assert_double_eq_tol(loom_params_clip_grad_norm(ps, 1), 5, 1e-12);
    ck_assert_float_eq_tol(a->grad[0], 3 * (1 / (5 + 1e-6)), 1e-7);
    ck_assert_float_eq_tol(b->grad[0], 4 * (1 / (5 + 1e-6)), 1e-7);
    /* Frozen gradients neither count nor change. */
    b->frozen = 1;
    b->grad[0] = 100;
    ck_assert_double_eq_tol(loom_params_grad_norm(ps), 0.6, 1e-6);
    loom_params_clip_grad_norm(ps, 0.1);
    ck_assert_float_eq(b->grad[0], 100);
    loom_params_free(ps);
    /* The factor alone: 1 at or below the limit, else the float of
     * max_norm / (norm + 1e-6). */
    ck_assert(loom_clip_coef(5, 10) == 1.0f);
    ck_assert(loom_clip_coef(0, 1) == 1.0f);
    ck_assert(loom_clip_coef(5, 1) == (float)(1 / (5 + 1e-6)));
    ck_assert(loom_clip_coef(5, 1) < 1.0f);
}
END_TEST

START_TEST(test_initialisers)
{
    float w[600];
    loom_rng r1, r2;
    loom_rng_seed(&r1, 7, 0);
    loom_init_uniform(w, 600, 0.25f, &r1);
    float lo = 1, hi = -1;
    for (int i = 0; i < 600; i++) {
        lo = fminf(lo, w[i]);
        hi = fmaxf(hi, w[i]);
    }
    ck_assert(lo >= -0.25f && hi < 0.25f && lo < -0.2f && hi > 0.2f);
    /* Glorot: bound sqrt(6 / (fan_in + fan_out)), reached closely. */
    loom_init_glorot(w, 20, 30, &r1);
    float bound = sqrtf(6.0f / 50), m = 0;
    for (int i = 0; i < 600; i++)
        m = fmaxf(m, fabsf(w[i]));
    ck_assert(m <= bound && m > 0.95f * bound);
    /* Same seed, same weights. */
    float u[10], v[10];
    loom_rng_seed(&r1, 9, 3);
    loom_rng_seed(&r2, 9, 3);
    loom_init_normal(u, 10, 1.0f, &r1);
    loom_init_normal(v, 10, 1.0f, &r2);
    ck_assert_int_eq(memcmp(u, v, sizeof u), 0);
    loom_init_zeros(u, 10);
    ck_assert_float_eq(u[9], 0);
    /* Orthogonal: W W^T = I for wide, W^T W = I for tall, times gain. */
    int shapes[3][2] = {{4, 6}, {6, 4}, {5, 5}};
    for (int s = 0; s < 3; s++) {
        int R = shapes[s][0], C = shapes[s][1];
        ck_assert_int_eq(loom_init_orthogonal(w, R, C, 2.0f, &r1), 0);
        int n = R <= C ? R : C;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int k = 0; k < (R <= C ? C : R); k++)
                    d += R <= C ? (double)w[i * C + k] * w[j * C + k]
                                : (double)w[k * C + i] * w[k * C + j];
                ck_assert_double_eq_tol(d, i == j ? 4.0 : 0.0, 1e-5);
            }
    }
}
END_TEST

/* ------------------------------------------------------------- dense */

typedef struct {
    float *x, *W, *b, *y, *R;
    int B, IN, OUT;
} dense_ctx;

static double dense_obj(void *p)
{
    dense_ctx *c = p;
    loom_dense_forward(c->y, c->x, c->W, c->b, c->B, c->IN, c->OUT);
    return dot_d(c->y, c->R, (size_t)c->B * c->OUT);
}

START_TEST(test_dense_gradcheck)
{
    dense_ctx c = {.B = 4, .IN = 6, .OUT = 5};
    c.x = randn(24, 1);
    c.W = randn(30, 0.5f);
    c.b = randn(5, 1);
    c.y = zeros(20);
    c.R = randn(20, 1);
    float *dx = zeros(24), *dW = zeros(30), *db = zeros(5);
    dense_obj(&c);
    loom_dense_backward(dx, dW, db, c.R, c.x, c.W, c.B, c.IN, c.OUT);
    grad_check("dense dx", dense_obj, &c, c.x, dx, 24, 0.1f);
    grad_check("dense dW", dense_obj, &c, c.W, dW, 30, 0.1f);
    grad_check("dense db", dense_obj, &c, c.b, db, 5, 0.1f);
    /* The check has teeth: a gradient 0.5% off in one entry fails it. */
    size_t at = 0;
    dW[11] *= 1.005f;
    ck_assert(grad_check_error(dense_obj, &c, c.W, dW, 30, 0.1f, &at) > 1e-3 && at == 11);
    dW[11] /= 1.005f;
    /* Backward accumulates: a second call doubles the gradients. */
    float before = dW[7];
    loom_dense_backward(NULL, dW, NULL, c.R, c.x, c.W, c.B, c.IN, c.OUT);
    ck_assert_float_eq_tol(dW[7], 2 * before, 1e-5);
    /* No bias: y = x W exactly. */
    loom_dense_forward(c.y, c.x, c.W, NULL, c.B, c.IN, c.OUT);
    double s = 0;
    for (int k = 0; k < 6; k++)
        s += (double)c.x[6 + k] * c.W[k * 5 + 2];
    ck_assert_double_eq_tol(c.y[5 + 2], s, 1e-5);
    free(c.x), free(c.W), free(c.b), free(c.y), free(c.R), free(dx), free(dW), free(db);
}
END_TEST

START_TEST(test_dense_matches_torch)
{
    loom_st_file *f = fixture("dense.safetensors");
    int B = 4, IN = 5, OUT = 3;
    float y[12], dx[20] = {0}, dW[15] = {0}, db[3] = {0};
    const float *x = fx(f, "x", 20), *W = fx(f, "W", 15), *b = fx(f, "b", 3);
    loom_dense_forward(y, x, W, b, B, IN, OUT);
    expect_match("dense y", y, fx(f, "y", 12), 12);
    loom_dense_backward(dx, dW, db, fx(f, "dy", 12), x, W, B, IN, OUT);
    expect_match("dense dx", dx, fx(f, "dx", 20), 20);
    expect_match("dense dW", dW, fx(f, "dW", 15), 15);
    expect_match("dense db", db, fx(f, "db", 3), 3);
    loom_st_close(f);
}
END_TEST

/* The block variant: the input as three column blocks, the gradient of
 * scale * L (scale as the products' alpha). */
typedef struct {
    float *x[3], *W, *b, *y, *R;
    int B, OUT, cols[3];
    float scale;
} blocks_ctx;

static void blocks_of(blocks_ctx *c, loom_block *in, float **dx)
{
    for (int k = 0; k < 3; k++)
        in[k] = (loom_block){c->x[k], dx ? dx[k] : NULL, c->cols[k]};
}

static double blocks_obj(void *p)
{
    blocks_ctx *c = p;
    loom_block in[3];
    blocks_of(c, in, NULL);
    loom_dense_forward_blocks(c->y, in, 3, c->W, c->b, c->B, c->OUT);
    return c->scale * dot_d(c->y, c->R, (size_t)c->B * c->OUT);
}

START_TEST(test_dense_blocks_gradcheck)
{
    blocks_ctx c = {.B = 4, .OUT = 5, .cols = {2, 3, 4}, .scale = 0.5f};
    int IN = 9;
    float *dx[3];
    for (int k = 0; k < 3; k++) {
        c.x[k] = randn((size_t)c.B * c.cols[k], 1);
        dx[k] = zeros((size_t)c.B * c.cols[k]);
    }
    c.W = randn((size_t)IN * c.OUT, 0.5f);
    c.b = randn(c.OUT, 1);
    c.y = zeros(20);
    c.R = randn(20, 1);
    float *dW = zeros((size_t)IN * c.OUT), *db = zeros(c.OUT);
    /* the blocks' product equals the dense layer on the concatenation */
    loom_block in[3];
    blocks_of(&c, in, dx);
    float cat[36], y2[20];
    loom_concat_forward(cat, in, 3, c.B);
    loom_dense_forward(y2, cat, c.W, c.b, c.B, IN, c.OUT);
    blocks_obj(&c);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq_tol(c.y[i], y2[i], 1e-5);
    loom_dense_backward_blocks(in, 3, dW, db, c.R, c.W, c.B, c.OUT, c.scale);
    for (int k = 0; k < 3; k++)
        grad_check("dense blocks dx", blocks_obj, &c, c.x[k], dx[k], (size_t)c.B * c.cols[k], 0.1f);
    grad_check("dense blocks dW", blocks_obj, &c, c.W, dW, (size_t)IN * c.OUT, 0.1f);
    grad_check("dense blocks db", blocks_obj, &c, c.b, db, c.OUT, 0.1f);
    /* The check has teeth: a gradient 0.5% off in one entry fails it. */
    size_t at = 0;
    dx[1][4] *= 1.005f;
    ck_assert(grad_check_error(blocks_obj, &c, c.x[1], dx[1], 12, 0.1f, &at) > 1e-3 && at == 4);
    /* A block without dx is skipped; the others still accumulate. */
    in[1].dx = NULL;
    float before = dx[0][3], mid = dx[1][4];
    loom_dense_backward_blocks(in, 3, NULL, NULL, c.R, c.W, c.B, c.OUT, c.scale);
    ck_assert_float_eq_tol(dx[0][3], 2 * before, 1e-5);
    ck_assert_float_eq(dx[1][4], mid);
    /* _add accumulates the product without bias */
    float acc[20];
    for (int i = 0; i < 20; i++)
        acc[i] = 1.0f;
    loom_dense_forward_add(acc, cat, c.W, c.B, IN, c.OUT);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq_tol(acc[i], 1.0f + y2[i] - c.b[i % 5], 1e-5);
    for (int k = 0; k < 3; k++)
        free(c.x[k]), free(dx[k]);
    free(c.W), free(c.b), free(c.y), free(c.R), free(dW), free(db);
}
END_TEST

START_TEST(test_dense_blocks_match_torch)
{
    loom_st_file *f = fixture("dense_blocks.safetensors");
    int B = 5, OUT = 6, cols[3] = {3, 2, 4};
    float y[30], dW[54] = {0}, db[6] = {0}, dx[3][20] = {{0}};
    loom_block in[3];
    char name[8];
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "x%d", k);
        in[k] = (loom_block){fx(f, name, (size_t)B * cols[k]), dx[k], cols[k]};
    }
    const float *W = fx(f, "W", 54), *b = fx(f, "b", 6);
    float scale = fx(f, "scale", 1)[0];
    loom_dense_forward_blocks(y, in, 3, W, b, B, OUT);
    expect_match("dense blocks y", y, fx(f, "y", 30), 30);
    loom_dense_backward_blocks(in, 3, dW, db, fx(f, "dy", 30), W, B, OUT, scale);
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "dx%d", k);
        expect_match("dense blocks dx", dx[k], fx(f, name, (size_t)B * cols[k]),
                     (size_t)B * cols[k]);
    }
    expect_match("dense blocks dW", dW, fx(f, "dW", 54), 54);
    expect_match("dense blocks db", db, fx(f, "db", 6), 6);
    loom_st_close(f);
}
END_TEST

START_TEST(test_concat_copies_and_routes_back)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, out[6], da[4] = {0}, db[2] = {1, 1};
    loom_block in[2] = {{a, da, 2}, {b, db, 1}};
    loom_concat_forward(out, in, 2, 2);
    const float want[6] = {1, 2, 5, 3, 4, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(out[i], want[i]);
    const float d[6] = {10, 20, 30, 40, 50, 60};
    loom_concat_backward(in, 2, d, 2);
    ck_assert(da[0] == 10 && da[1] == 20 && da[2] == 40 && da[3] == 50);
    ck_assert(db[0] == 31 && db[1] == 61); /* accumulated */
}
END_TEST

/* The gather variant: rows {4, 0, 2} of three blocks of 5 rows, as the
 * concatenation of those rows; the objective is a weighted sum of the
 * gathered matrix, so its gradient reaches exactly the gathered rows. */
typedef struct {
    float *x[3], *out, *R;
    int cols[3], rows[3];
} gather_ctx;

static double gather_obj(void *p)
{
    gather_ctx *c = p;
    loom_block in[3];
    for (int k = 0; k < 3; k++)
        in[k] = (loom_block){c->x[k], NULL, c->cols[k]};
    loom_concat_gather_forward(c->out, in, 3, c->rows, 3);
    return dot_d(c->out, c->R, 3 * 9);
}

START_TEST(test_concat_gather_gradcheck)
{
    gather_ctx c = {.cols = {2, 3, 4}, .rows = {4, 0, 2}};
    float *dx[3], full[45];
    loom_block in[3];
    for (int k = 0; k < 3; k++) {
        c.x[k] = randn((size_t)5 * c.cols[k], 1);
        dx[k] = zeros((size_t)5 * c.cols[k]);
        in[k] = (loom_block){c.x[k], dx[k], c.cols[k]};
    }
    c.out = zeros(27);
    c.R = randn(27, 1);
    /* the gathered rows are those rows of the full concatenation */
    gather_obj(&c);
    loom_concat_forward(full, in, 3, 5);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 9; j++)
            ck_assert_float_eq(c.out[r * 9 + j], full[c.rows[r] * 9 + j]);
    loom_concat_gather_backward(in, 3, c.R, c.rows, 3);
    for (int k = 0; k < 3; k++) {
        grad_check("concat gather dx", gather_obj, &c, c.x[k], dx[k], (size_t)5 * c.cols[k], 0.1f);
        for (int j = 0; j < c.cols[k]; j++) /* rows 1 and 3 were not gathered */
            ck_assert(dx[k][1 * c.cols[k] + j] == 0 && dx[k][3 * c.cols[k] + j] == 0);
    }
    /* The check has teeth: a gradient 0.5% off in one entry fails it. */
    size_t at = 0;
    dx[2][9] *= 1.005f;
    ck_assert(grad_check_error(gather_obj, &c, c.x[2], dx[2], 20, 0.1f, &at) > 1e-3 && at == 9);
    for (int k = 0; k < 3; k++)
        free(c.x[k]), free(dx[k]);
    free(c.out), free(c.R);
}
END_TEST

/* The split: x (4, 9) into blocks of 2, 3 and 4 columns; the objective is
 * a weighted sum of the blocks, so d x is the weights side by side. */
typedef struct {
    float *x, *y[3], *R[3];
    int cols[3];
} split_ctx;

static double split_obj(void *p)
{
    split_ctx *c = p;
    loom_split_block out[3];
    for (int k = 0; k < 3; k++)
        out[k] = (loom_split_block){c->y[k], NULL, c->cols[k]};
    loom_split_forward(out, 3, c->x, 4);
    double L = 0;
    for (int k = 0; k < 3; k++)
        L += dot_d(c->y[k], c->R[k], (size_t)4 * c->cols[k]);
    return L;
}

START_TEST(test_split_inverts_concat_gradcheck)
{
    split_ctx c = {.cols = {2, 3, 4}};
    loom_split_block out[3];
    loom_block in[3];
    float back[36];
    c.x = randn(36, 1);
    for (int k = 0; k < 3; k++) {
        c.y[k] = zeros((size_t)4 * c.cols[k]);
        c.R[k] = randn((size_t)4 * c.cols[k], 1);
        out[k] = (loom_split_block){c.y[k], c.R[k], c.cols[k]};
        in[k] = (loom_block){c.y[k], NULL, c.cols[k]};
    }
    /* the blocks concatenated give x back, bit for bit */
    split_obj(&c);
    ck_assert(c.y[1][0] == c.x[2] && c.y[2][4 * 3 + 3] == c.x[35]);
    loom_concat_forward(back, in, 3, 4);
    ck_assert(memcmp(back, c.x, sizeof back) == 0);
    /* backward accumulates: from 1 everywhere, d x = 1 + R's blocks side by side */
    float *dx = zeros(36);
    for (int i = 0; i < 36; i++)
        dx[i] = 1;
    loom_split_backward(dx, out, 3, 4);
    ck_assert_float_eq(dx[0], 1 + c.R[0][0]);
    ck_assert_float_eq(dx[9 + 2], 1 + c.R[1][3]);
    for (int i = 0; i < 36; i++)
        dx[i] -= 1;
    grad_check("split dx", split_obj, &c, c.x, dx, 36, 0.1f);
    /* a NULL dy adds nothing */
    float dz[36] = {0};
    out[1].dy = NULL;
    loom_split_backward(dz, out, 3, 4);
    ck_assert(dz[2] == 0 && dz[9 + 4] == 0 && dz[9 + 5] == c.R[2][4]);
    /* The check has teeth: a gradient 0.5% off in one entry fails it. */
    size_t at = 0;
    dx[13] *= 1.005f;
    ck_assert(grad_check_error(split_obj, &c, c.x, dx, 36, 0.1f, &at) > 1e-3 && at == 13);
    for (int k = 0; k < 3; k++)
        free(c.y[k]), free(c.R[k]);
    free(c.x), free(dx);
}
END_TEST

START_TEST(test_attn_mix_add_is_context_times_weights)
{
    /* mixing values already multiplied by W gives ctx W, for K rows per sentence */
    enum { N = 2, K = 2, R = N * K, S = 4, Dk = 3, Dv = 5 };
    loom_attn a = {.kind = LOOM_ATTN_DOT, .Dq = Dk, .Dk = Dk};
    float *q = randn(R * Dk, 1), *keys = randn(R * S * Dk, 1), *W = randn(Dk * Dv, 1);
    int lens[R] = {4, 4, 2, 2};
    float ctx[R * Dk], wts[R * S], cache[64], want[R * Dv], P[N * S * Dv], got[R * Dv];
    ck_assert(loom_attn_cache_size(&a, R, S) <= 64);
    loom_attn_forward(&a, ctx, wts, cache, q, keys, NULL, keys, lens, R, S, Dk);
    loom_dense_forward(want, ctx, W, NULL, R, Dk, Dv);
    for (int i = 0; i < N; i++) /* sentence i's values are row i*K's keys */
        loom_dense_forward(P + i * S * Dv, keys + i * K * S * Dk, W, NULL, S, Dk, Dv);
    for (int r = 0; r < R; r++) /* rows of one sentence share its keys */
        memcpy(keys + r * S * Dk, keys + (r / K) * K * S * Dk, S * Dk * sizeof(float));
    loom_attn_forward(&a, ctx, wts, cache, q, keys, NULL, keys, lens, R, S, Dk);
    loom_dense_forward(want, ctx, W, NULL, R, Dk, Dv);
    for (int i = 0; i < R * Dv; i++)
        got[i] = 1.0f;
    loom_attn_mix_add(got, wts, P, lens, R, K, S, Dv);
    for (int i = 0; i < R * Dv; i++)
        ck_assert_float_eq_tol(got[i], 1.0f + want[i], 1e-5);
    free(q), free(keys), free(W);
}
END_TEST

/* -------------------------------------------------------- activations */

enum { ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_SOFTMAX, ACT_LOG_SOFTMAX, NACT };
static const char *const act_names[NACT] = {"sigmoid", "tanh", "relu", "softmax", "log_softmax"};

static void act_forward(int k, float *y, const float *x, int B, int C)
{
    size_t n = (size_t)B * C;
    switch (k) {
    case ACT_SIGMOID:
        loom_sigmoid_forward(y, x, n);
        break;
    case ACT_TANH:
        loom_tanh_forward(y, x, n);
        break;
    case ACT_RELU:
        loom_relu_forward(y, x, n);
        break;
    case ACT_SOFTMAX:
        loom_softmax_forward(y, x, B, C);
        break;
    default:
        loom_log_softmax_forward(y, x, B, C);
        break;
    }
}

static void act_backward(int k, float *dx, const float *dy, const float *x, const float *y, int B,
                         int C)
{
    size_t n = (size_t)B * C;
    (void)x;
    switch (k) {
    case ACT_SIGMOID:
        loom_sigmoid_backward(dx, dy, y, n);
        break;
    case ACT_TANH:
        loom_tanh_backward(dx, dy, y, n);
        break;
    case ACT_RELU:
        loom_relu_backward(dx, dy, y, n);
        break;
    case ACT_SOFTMAX:
        loom_softmax_backward(dx, dy, y, B, C);
        break;
    default:
        loom_log_softmax_backward(dx, dy, y, B, C);
        break;
    }
}

typedef struct {
    int k, B, C;
    float *x, *y, *R;
} act_ctx;

static double act_obj(void *p)
{
    act_ctx *c = p;
    act_forward(c->k, c->y, c->x, c->B, c->C);
    return dot_d(c->y, c->R, (size_t)c->B * c->C);
}

START_TEST(test_activations_gradcheck)
{
    act_ctx c = {.k = _i, .B = 3, .C = 7};
    c.x = randn(21, 1.5f);
    for (int i = 0; i < 21; i++) /* keep ReLU's kink out of reach of the step */
        if (fabsf(c.x[i]) < 0.25f)
            c.x[i] = 0.3f;
    c.y = zeros(21);
    c.R = randn(21, 1);
    float *dx = zeros(21);
    act_obj(&c);
    act_backward(c.k, dx, c.R, c.x, c.y, c.B, c.C);
    grad_check(act_names[c.k], act_obj, &c, c.x, dx, 21, 0.05f);
    free(c.x), free(c.y), free(c.R), free(dx);
}
END_TEST

START_TEST(test_activations_match_torch)
{
    loom_st_file *f = fixture("activations.safetensors");
    const float *x = fx(f, "x", 18), *dy = fx(f, "dy", 18);
    for (int k = 0; k < NACT; k++) {
        float y[18], dx[18] = {0};
        char dname[32];
        act_forward(k, y, x, 3, 6);
        expect_match(act_names[k], y, fx(f, act_names[k], 18), 18);
        act_backward(k, dx, dy, x, y, 3, 6);
        snprintf(dname, sizeof dname, "d_%s", act_names[k]);
        expect_match(dname, dx, fx(f, dname, 18), 18);
        for (int i = 0; i < 18; i++)
            ck_assert(isfinite(y[i]));
    }
    /* In place is allowed. */
    float z[18];
    memcpy(z, x, sizeof z);
    loom_softmax_forward(z, z, 3, 6);
    expect_match("softmax in place", z, fx(f, "softmax", 18), 18);
    /* log-softmax in place, with a row of scratch: the same bits */
    float lz[18], ref[18], scratch[6];
    memcpy(lz, x, sizeof lz);
    loom_log_softmax_inplace(lz, scratch, 3, 6);
    loom_log_softmax_forward(ref, x, 3, 6);
    ck_assert(memcmp(lz, ref, sizeof lz) == 0);
    loom_st_close(f);
}
END_TEST

/* ---------------------------------------------------------- embedding */

typedef struct {
    float *E, *y, *R;
    const int *ids;
    int N, D;
} emb_ctx;

static double emb_obj(void *p)
{
    emb_ctx *c = p;
    loom_embedding_forward(c->y, c->ids, c->E, c->N, c->D);
    return dot_d(c->y, c->R, (size_t)c->N * c->D);
}

START_TEST(test_embedding_sparse_rows_and_gradcheck)
{
    const int ids[6] = {2, 0, 2, -1, 5, 2};
    emb_ctx c = {.ids = ids, .N = 6, .D = 3};
    c.E = randn(8 * 3, 1);
    c.y = zeros(18);
    c.R = randn(18, 1);
    float *dE = zeros(24);
    emb_obj(&c);
    ck_assert_int_eq(memcmp(c.y + 3, c.E, 3 * sizeof(float)), 0);
    ck_assert_float_eq(c.y[3 * 3 + 1], 0.0f); /* padding id: zero row */
    loom_embedding_backward(dE, c.R, ids, c.N, c.D);
    /* Row 2 collects three output rows; untouched rows stay exactly zero. */
    ck_assert_float_eq_tol(dE[2 * 3], c.R[0] + c.R[6] + c.R[15], 1e-6);
    for (int r = 0; r < 8; r++)
        if (r != 0 && r != 2 && r != 5)
            for (int j = 0; j < 3; j++)
                ck_assert_float_eq(dE[r * 3 + j], 0.0f);
    grad_check("embedding dE", emb_obj, &c, c.E, dE, 24, 0.1f);
    loom_embedding_backward(NULL, c.R, ids, c.N, c.D); /* frozen: no gradient, no crash */
    free(c.E), free(c.y), free(c.R), free(dE);
}
END_TEST

/* ------------------------------------------------------ conv + pooling */

typedef struct {
    int B, T, CI, CO, W, pad, pool; /* pool: 0 conv only, 1 max, 2 mean */
    const int *lens, *out_lens;
    float *x, *K, *b, *y, *col, *pooled, *R;
    int *argmax;
} conv_ctx;

static double conv_obj(void *p)
{
    conv_ctx *c = p;
    int To = loom_conv1d_out_len(c->T, c->W, c->pad);
    loom_conv1d_forward(c->y, c->col, c->x, c->K, c->b, c->B, c->T, c->CI, c->CO, c->W, c->pad);
    if (c->pool == 0)
        return dot_d(c->y, c->R, (size_t)c->B * To * c->CO);
    if (c->pool == 1)
        loom_maxpool_forward(c->pooled, c->argmax, c->y, c->out_lens, c->B, To, c->CO);
    else
        loom_meanpool_forward(c->pooled, c->y, c->out_lens, c->B, To, c->CO);
    return dot_d(c->pooled, c->R, (size_t)c->B * c->CO);
}

static void conv_gradcheck(int W, int pad, int pool)
{
    static const int lens[3] = {7, 5, 3};
    int out_lens[3];
    conv_ctx c = {.B = 3,
                  .T = 7,
                  .CI = 4,
                  .CO = 5,
                  .W = W,
                  .pad = pad,
                  .pool = pool,
                  .lens = lens,
                  .out_lens = out_lens};
    int To = loom_conv1d_out_len(c.T, W, pad);
    for (int b = 0; b < 3; b++)
        out_lens[b] = pad == LOOM_CONV_SAME ? lens[b] : (lens[b] - W + 1 > 0 ? lens[b] - W + 1 : 0);
    size_t nx = 3 * 7 * 4, nk = (size_t)W * 4 * 5, ny = (size_t)3 * To * 5;
    c.x = randn(nx, 1);
    for (int b = 0; b < 3; b++) /* padded steps are zero, as the layer requires */
        memset(c.x + ((size_t)b * 7 + lens[b]) * 4, 0, (size_t)(7 - lens[b]) * 4 * sizeof(float));
    c.K = randn(nk, 0.5f);
    c.b = randn(5, 1);
    c.y = zeros(ny);
    c.col = zeros(loom_conv1d_col_size(3, 7, 4, W, pad));
    c.pooled = zeros(15);
    c.argmax = calloc(15, sizeof(int));
    c.R = randn(pool ? 15 : ny, 1);
    float *dx = zeros(nx), *dK = zeros(nk), *db = zeros(5), *dy = zeros(ny);
    conv_obj(&c);
    if (pool == 0)
        memcpy(dy, c.R, ny * sizeof(float));
    else if (pool == 1)
        loom_maxpool_backward(dy, c.R, c.argmax, 3, To, 5);
    else
        loom_meanpool_backward(dy, c.R, out_lens, 3, To, 5);
    loom_conv1d_backward(dx, dK, db, c.col, dy, c.x, c.K, 3, 7, 4, 5, W, pad);
    char what[3][64];
    const char *pools[3] = {"", "+max", "+mean"};
    for (int k = 0; k < 3; k++)
        snprintf(what[k], sizeof what[k], "conv W=%d %s%s d%s", W, pad ? "same" : "valid",
                 pools[pool],
                 k == 0   ? "x"
                 : k == 1 ? "K"
                          : "b");
    grad_check(what[0], conv_obj, &c, c.x, dx, nx, 0.1f);
    grad_check(what[1], conv_obj, &c, c.K, dK, nk, 0.1f);
    grad_check(what[2], conv_obj, &c, c.b, db, 5, 0.1f);
    free(c.x), free(c.K), free(c.b), free(c.y), free(c.col), free(c.pooled), free(c.argmax);
    free(c.R), free(dx), free(dK), free(db), free(dy);
}

START_TEST(test_conv1d_pool_gradcheck)
{
    /* _i: width 3 valid, 4 same, 3 same; each alone and under mean pooling
     * (max pooling, piecewise linear, is checked on well-separated values
     * below, where no step can change the arg max). */
    static const int cases[3][2] = {{3, LOOM_CONV_VALID}, {4, LOOM_CONV_SAME}, {3, LOOM_CONV_SAME}};
    conv_gradcheck(cases[_i][0], cases[_i][1], 0);
    conv_gradcheck(cases[_i][0], cases[_i][1], 2);
}
END_TEST

static void conv_torch(const char *name, int W, int pad)
{
    loom_st_file *f = fixture(name);
    int B = 3, T = 7, CI = 4, CO = 5, To = loom_conv1d_out_len(T, W, pad);
    int lens[3], out_lens[3], argmax[15];
    fx_ints(f, "lens", lens, 3);
    fx_ints(f, "out_lens", out_lens, 3);
    size_t nx = (size_t)B * T * CI, nk = (size_t)W * CI * CO, ny = (size_t)B * To * CO;
    const float *x = fx(f, "x", nx), *K = fx(f, "K", nk), *b = fx(f, "b", CO);
    float *y = zeros(ny), *col = zeros(loom_conv1d_col_size(B, T, CI, W, pad));
    float mx[15], mean[15];
    loom_conv1d_forward(y, col, x, K, b, B, T, CI, CO, W, pad);
    /* Outputs past a sequence's end are not compared: PyTorch computes them
     * from the zero padding as loom does, but nothing downstream reads them. */
    expect_match("conv y", y, fx(f, "y", ny), ny);
    loom_maxpool_forward(mx, argmax, y, out_lens, B, To, CO);
    loom_meanpool_forward(mean, y, out_lens, B, To, CO);
    expect_match("max pool", mx, fx(f, "max", 15), 15);
    expect_match("mean pool", mean, fx(f, "mean", 15), 15);
    float *dy = zeros(ny), *dx = zeros(nx), *dK = zeros(nk), db[5] = {0};
    loom_maxpool_backward(dy, fx(f, "r_max", 15), argmax, B, To, CO);
    loom_meanpool_backward(dy, fx(f, "r_mean", 15), out_lens, B, To, CO);
    expect_match("pool dy", dy, fx(f, "dy", ny), ny);
    loom_conv1d_backward(dx, dK, db, col, dy, x, K, B, T, CI, CO, W, pad);
    expect_match("conv dx", dx, fx(f, "dx", nx), nx);
    expect_match("conv dK", dK, fx(f, "dK", nk), nk);
    expect_match("conv db", db, fx(f, "db", 5), 5);
    free(y), free(col), free(dy), free(dx), free(dK);
    loom_st_close(f);
}

START_TEST(test_conv1d_pool_match_torch)
{
    conv_torch("conv_same.safetensors", 4, LOOM_CONV_SAME);
    conv_torch("conv_valid.safetensors", 3, LOOM_CONV_VALID);
}
END_TEST

typedef struct {
    float *x, *out, *R;
    int *argmax;
    const int *lens;
} pool_ctx;

static double maxpool_obj(void *p)
{
    pool_ctx *c = p;
    loom_maxpool_forward(c->out, c->argmax, c->x, c->lens, 3, 6, 4);
    return dot_d(c->out, c->R, 12);
}

START_TEST(test_maxpool_gradcheck)
{
    /* Values a permutation of 0.5 * (0 .. 71): any two differ by >= 0.5, so
     * the stencil's largest step (2h = 0.2) never changes the arg max. */
    static const int lens[3] = {6, 4, 1};
    pool_ctx c = {.x = zeros(72), .out = zeros(12), .R = randn(12, 1), .lens = lens};
    c.argmax = calloc(12, sizeof(int));
    for (int i = 0; i < 72; i++)
        c.x[i] = 0.5f * (float)((i * 29) % 72);
    float *dx = zeros(72);
    maxpool_obj(&c);
    loom_maxpool_backward(dx, c.R, c.argmax, 3, 6, 4);
    grad_check("maxpool dx", maxpool_obj, &c, c.x, dx, 72, 0.1f);
    for (int b = 0; b < 3; b++)
        for (int ch = 0; ch < 4; ch++)
            ck_assert_int_lt(c.argmax[b * 4 + ch], lens[b]); /* padding never wins */
    free(c.x), free(c.out), free(c.R), free(c.argmax), free(dx);
}
END_TEST

START_TEST(test_pooling_empty_sequence)
{
    float x[2 * 3 * 2], out[4], dx[12] = {0}, dout[4] = {1, 1, 1, 1};
    int lens[2] = {0, 2}, argmax[4];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i - 20;
    loom_maxpool_forward(out, argmax, x, lens, 2, 3, 2);
    ck_assert_float_eq(out[0], 0);
    ck_assert_int_eq(argmax[0], -1);
    ck_assert_float_eq(out[2], -20 + 6 + 2); /* max of steps 0..1 of sequence 1 */
    loom_maxpool_backward(dx, dout, argmax, 2, 3, 2);
    ck_assert_float_eq(dx[6 + 2], 1); /* step 1 of sequence 1 */
    ck_assert_float_eq(dx[6 + 4], 0); /* step 2 is padding */
    loom_meanpool_forward(out, x, lens, 2, 3, 2);
    ck_assert_float_eq(out[1], 0);
    ck_assert_float_eq(out[3], ((-13) + (-11)) / 2.0f);
}
END_TEST

/* ------------------------------------------------------------ dropout */

typedef struct {
    float *x, *y, *mask, *R;
    size_t n;
} drop_ctx;

static double drop_obj(void *p)
{
    drop_ctx *c = p;
    for (size_t i = 0; i < c->n; i++) /* the forward with the mask held fixed */
        c->y[i] = c->x[i] * c->mask[i];
    return dot_d(c->y, c->R, c->n);
}

START_TEST(test_dropout_seeded_inverted)
{
    size_t n = 10000;
    float *x = randn(n, 1), *y = zeros(n), *y2 = zeros(n), *mask = zeros(n), *mask2 = zeros(n);
    loom_rng r1, r2;
    loom_rng_seed(&r1, 5, 0);
    loom_rng_seed(&r2, 5, 0);
    loom_dropout_forward(y, mask, x, n, 0.3f, &r1);
    loom_dropout_forward(y2, mask2, x, n, 0.3f, &r2);
    ck_assert_int_eq(memcmp(y, y2, n * sizeof(float)), 0); /* same seed, same mask */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(mask[i] == 0.0f || mask[i] == 1.0f / 0.7f);
        kept += mask[i] != 0.0f;
        ck_assert_float_eq(y[i], x[i] * mask[i]);
    }
    ck_assert(kept > 6800 && kept < 7200); /* 7000 +- 4.6 sigma */
    loom_rng r3; /* element i dropped exactly when the stream's i-th uniform is below p */
    loom_rng_seed(&r3, 5, 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((mask[i] == 0.0f) == (loom_rng_uniform(&r3) < 0.3f), "element %zu", i);
    drop_ctx c = {.x = x, .y = y, .mask = mask, .R = randn(n, 1), .n = 50};
    float *dx = zeros(n);
    loom_dropout_backward(dx, c.R, mask, 50);
    grad_check("dropout dx", drop_obj, &c, x, dx, 50, 0.1f);
    loom_dropout_forward(y, mask, x, n, 0.0f, &r1);
    ck_assert_int_eq(memcmp(y, x, n * sizeof(float)), 0);
    free(x), free(y), free(y2), free(mask), free(mask2), free(c.R), free(dx);
}
END_TEST

/* ------------------------------------------------------------- losses */

typedef struct {
    float *logits, *logp, *mask, eps;
    const int *targets;
    int N, V;
} xent_ctx;

static double xent_obj(void *p)
{
    xent_ctx *c = p;
    return loom_xent_forward(c->logp, NULL, c->logits, c->targets, c->mask, c->N, c->V, c->eps);
}

START_TEST(test_xent_gradcheck)
{
    const int targets[6] = {1, 4, 0, -1, 3, 3};
    float mask[6] = {1, 1, 0, 1, 1, 1};
    for (int smooth = 0; smooth < 2; smooth++) {
        xent_ctx c = {.targets = targets, .mask = mask, .N = 6, .V = 5, .eps = smooth ? 0.2f : 0};
        c.logits = randn(30, 2);
        c.logp = zeros(30);
        float *d = zeros(30);
        double count;
        loom_xent_forward(c.logp, &count, c.logits, targets, mask, 6, 5, c.eps);
        ck_assert_double_eq(count, 4); /* row 2 masked, row 3 has target -1 */
        loom_xent_backward(d, c.logp, targets, mask, 6, 5, c.eps, 1.0f);
        for (int j = 0; j < 5; j++) /* masked rows get no gradient */
            ck_assert(d[2 * 5 + j] == 0 && d[3 * 5 + j] == 0);
        grad_check(smooth ? "xent smoothed" : "xent", xent_obj, &c, c.logits, d, 30, 0.05f);
        free(c.logits), free(c.logp), free(d);
    }
    /* Nothing real: zero loss, no gradient, no NaN. */
    float z[10] = {0}, lp[10], dz[10] = {0}, none[2] = {0, 0};
    int t[2] = {0, 1};
    ck_assert_float_eq(loom_xent_forward(lp, NULL, z, t, none, 2, 5, 0.1f), 0);
    loom_xent_backward(dz, lp, t, none, 2, 5, 0.1f, 1.0f);
    ck_assert_float_eq(dz[0], 0);
}
END_TEST

START_TEST(test_xent_matches_torch)
{
    loom_st_file *f = fixture("xent.safetensors");
    int N = 8, V = 7, targets[8];
    fx_ints(f, "targets", targets, 8);
    const float *logits = fx(f, "logits", 56), *mask = fx(f, "mask", 8);
    float eps = fx(f, "smoothing", 1)[0], logp[56], d[56] = {0};
    float loss = loom_xent_forward(logp, NULL, logits, targets, mask, N, V, eps);
    expect_match("xent loss", &loss, fx(f, "loss", 1), 1);
    loom_xent_backward(d, logp, targets, mask, N, V, eps, 1.0f);
    expect_match("xent dlogits", d, fx(f, "dlogits", 56), 56);
    float plain = loom_xent_forward(logp, NULL, logits, targets, mask, N, V, 0.0f);
    expect_match("xent loss without smoothing", &plain, fx(f, "loss_plain", 1), 1);
    loom_st_close(f);
}
END_TEST

/* The in-place variant: the summed loss and its gradient written over the
 * logits. The objective runs it on a copy. */
typedef struct {
    float *logits, *work;
    const int *targets;
    int N, V;
    float eps;
} xin_ctx;

static double xin_obj(void *p)
{
    xin_ctx *c = p;
    long n;
    memcpy(c->work, c->logits, (size_t)c->N * c->V * sizeof(float));
    return loom_xent_inplace(c->work, NULL, &n, c->targets, c->N, c->V, c->eps, 0);
}

START_TEST(test_xent_inplace_gradcheck)
{
    const int targets[6] = {1, 4, -1, 0, 3, 3};
    for (int smooth = 0; smooth < 2; smooth++) {
        xin_ctx c = {.targets = targets, .N = 6, .V = 5, .eps = smooth ? 0.2f : 0};
        c.logits = randn(30, 2);
        c.work = zeros(30);
        float *g = zeros(30), lp[6], ref[30];
        long n;
        memcpy(g, c.logits, sizeof ref);
        double loss = loom_xent_inplace(g, lp, &n, targets, 6, 5, c.eps, 1);
        ck_assert_int_eq(n, 5);
        ck_assert_double_eq_tol(loss, xin_obj(&c), 1e-6 * fabs(loss));
        /* the mean equals the out-of-place loss, log p(target) its log-softmax */
        float mean = loom_xent_forward(ref, NULL, c.logits, targets, NULL, 6, 5, c.eps);
        ck_assert_double_eq_tol(loss / 5, mean, 1e-6);
        for (int i = 0; i < 6; i++)
            ck_assert_float_eq_tol(lp[i], targets[i] < 0 ? 0 : ref[i * 5 + targets[i]], 1e-6);
        for (int j = 0; j < 5; j++) /* the padded row's gradient is 0 */
            ck_assert(g[2 * 5 + j] == 0);
        grad_check(smooth ? "xent in place smoothed" : "xent in place", xin_obj, &c, c.logits, g,
                   30, 0.05f);
        size_t at = 0;
        g[17] *= 1.005f;
        ck_assert(grad_check_error(xin_obj, &c, c.logits, g, 30, 0.05f, &at) > 1e-3 && at == 17);
        free(c.logits), free(c.work), free(g);
    }
}
END_TEST

START_TEST(test_xent_inplace_matches_torch)
{
    loom_st_file *f = fixture("xent_sum.safetensors");
    int N = 7, V = 9, targets[7];
    fx_ints(f, "targets", targets, 7);
    float z[63], lp[7];
    long n;
    memcpy(z, fx(f, "logits", 63), sizeof z);
    float loss = (float)loom_xent_inplace(z, lp, &n, targets, N, V, fx(f, "smoothing", 1)[0], 1);
    ck_assert_int_eq(n, 5);
    expect_match("xent in place loss", &loss, fx(f, "loss", 1), 1);
    expect_match("xent in place dlogits", z, fx(f, "dlogits", 63), 63);
    expect_match("xent in place log p(target)", lp, fx(f, "logp_target", 7), 7);
    loom_st_close(f);
}
END_TEST

typedef struct {
    float *s, *y;
    int N;
} sig_ctx;

static double sig_obj(void *p)
{
    sig_ctx *c = p;
    return loom_sigmoid_loss_forward(c->s, c->y, c->N);
}

START_TEST(test_sigmoid_loss_gradcheck_and_torch)
{
    float y[7] = {1, 0, 0, 1, 0, 0, 0};
    sig_ctx c = {.s = randn(7, 3), .y = y, .N = 7};
    float d[7] = {0};
    loom_sigmoid_loss_backward(d, c.s, y, 7, 1.0f);
    grad_check("sigmoid loss", sig_obj, &c, c.s, d, 7, 0.05f);
    free(c.s);
    /* Extreme scores stay finite. */
    float big[2] = {-200, 200}, yb[2] = {1, 0};
    ck_assert_float_eq_tol(loom_sigmoid_loss_forward(big, yb, 2), 200, 1e-3);
    loom_st_file *f = fixture("sigmoid_loss.safetensors");
    const float *s = fx(f, "scores", 9), *lab = fx(f, "labels", 9);
    float loss = loom_sigmoid_loss_forward(s, lab, 9), ds[9] = {0};
    expect_match("sigmoid loss", &loss, fx(f, "loss", 1), 1);
    loom_sigmoid_loss_backward(ds, s, lab, 9, 1.0f);
    expect_match("sigmoid loss dscores", ds, fx(f, "dscores", 9), 9);
    loom_st_close(f);
}
END_TEST

/* ---------------------------------------------------------- optimizers */

static loom_params *one_param(loom_param **p, int rows, int cols)
{
    loom_params *ps;
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add2(ps, p, "w", rows, cols), 0);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    return ps;
}

START_TEST(test_optimizers_match_torch)
{
    static const struct {
        const char *name;
        loom_optim_kind kind;
        float lr, wd, momentum, beta1, beta2, eps;
        int nesterov;
    } cases[] = {
        {"adam", LOOM_ADAM, -1, -1, 0, -1, -1, -1, 0},
        {"adam_wd", LOOM_ADAM, 0.01f, 0.1f, 0, -1, -1, -1, 0},
        {"adamw", LOOM_ADAMW, -1, -1, 0, -1, -1, -1, 0},
        {"adamw_lr", LOOM_ADAMW, 0.05f, 0.3f, 0, 0.8f, 0.99f, 1e-6f, 0},
        {"sgd_momentum", LOOM_SGD, 0.1f, -1, 0.9f, -1, -1, -1, 0},
        {"sgd_nesterov", LOOM_SGD, 0.1f, 0.01f, 0.9f, -1, -1, -1, 1},
    };
    loom_st_file *f = fixture("optim.safetensors");
    const float *p0 = fx(f, "p0", 12), *grads = fx(f, "grads", 36);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        loom_param *p;
        loom_params *ps = one_param(&p, 3, 4);
        loom_optim_config cfg = loom_optim_defaults(cases[k].kind);
        if (cases[k].lr >= 0)
            cfg.lr = cases[k].lr;
        if (cases[k].wd >= 0)
            cfg.weight_decay = cases[k].wd;
        if (cases[k].beta1 >= 0)
            cfg.beta1 = cases[k].beta1, cfg.beta2 = cases[k].beta2, cfg.eps = cases[k].eps;
        cfg.momentum = cases[k].momentum;
        cfg.nesterov = cases[k].nesterov;
        loom_optim *o;
        ck_assert_int_eq(loom_optim_new(&o, ps, &cfg), 0);
        memcpy(p->value, p0, 12 * sizeof(float));
        const float *prev = p0;
        for (int step = 1; step <= 3; step++) {
            char name[64];
            float before[12], delta[12], want_delta[12];
            memcpy(before, p->value, sizeof before);
            memcpy(p->grad, grads + (step - 1) * 12, 12 * sizeof(float));
            ck_assert_int_eq(loom_optim_step(o, -1), 0);
            snprintf(name, sizeof name, "%s.step%d", cases[k].name, step);
            const float *want = fx(f, name, 12);
            expect_match(name, p->value, want, 12);
            /* The update itself, not just the weights (an update ~1e-3 of
             * weights ~1 hides in their relative error): same bound. */
            for (int j = 0; j < 12; j++) {
                delta[j] = p->value[j] - before[j];
                want_delta[j] = want[j] - prev[j];
            }
            double err = max_rel_err(delta, want_delta, 12);
            if (getenv("LOOM_TEST_VERBOSE"))
                fprintf(stderr, "torch     %-30s update relative error %.2e\n", name, err);
            ck_assert_msg(err <= 1e-5, "%s: update differs from PyTorch by %.3g", name, err);
            prev = want;
        }
        ck_assert_int_eq(loom_optim_steps(o), 3);
        loom_optim_free(o);
        loom_params_free(ps);
    }
    /* The defaults are PyTorch's. */
    loom_optim_config a = loom_optim_defaults(LOOM_ADAM), w = loom_optim_defaults(LOOM_ADAMW);
    ck_assert(a.lr == 1e-3f && a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f &&
              a.weight_decay == 0 && w.weight_decay == 1e-2f);
    loom_st_close(f);
}
END_TEST

/* Adam's vectorised loop (8 lanes where the CPU has AVX2) gives the bits
 * of the scalar formula on every element, the 8-lane body and the tail. */
static void no_avx512(void)
{
    setenv("LOOM_NO_AVX512", "1", 1);
}

static void no_avx2(void)
{
    setenv("LOOM_NO_AVX2", "1", 1);
}

/* Adam's vector paths (16 lanes with AVX-512, 8 with AVX2) give the bits
 * of the scalar loop; run at each level (the avx2 and portable cases). */
START_TEST(test_adam_vector_path_is_bit_exact)
{
    enum { N = 37 };
    loom_param *p;
    loom_params *ps = one_param(&p, 1, N);
    loom_optim_config cfg = loom_optim_defaults(LOOM_ADAM);
    cfg.lr = 0.002f;
    loom_optim *o;
    ck_assert_int_eq(loom_optim_new(&o, ps, &cfg), 0);
    float w[N], m[N] = {0}, v[N] = {0};
    for (int j = 0; j < N; j++)
        w[j] = p->value[j] = 0.1f * (float)(j % 7) - 0.3f;
    for (int step = 1; step <= 3; step++) {
        for (int j = 0; j < N; j++)
            p->grad[j] = (float)sin(0.7 * j + step) * (j % 5 == 0 ? 1e-3f : 1.0f);
        ck_assert_int_eq(loom_optim_step(o, -1), 0);
        double bc1 = 1.0 - pow(cfg.beta1, step), bc2 = 1.0 - pow(cfg.beta2, step);
        float step_size = (float)(cfg.lr / bc1), bc2_sqrt = (float)sqrt(bc2);
        for (int j = 0; j < N; j++) {
            float g = p->grad[j];
            m[j] = m[j] * cfg.beta1 + g * (1.0f - cfg.beta1);
            v[j] = v[j] * cfg.beta2 + g * g * (1.0f - cfg.beta2);
            float denom = sqrtf(v[j]) / bc2_sqrt + cfg.eps;
            w[j] += -step_size * (m[j] / denom);
            ck_assert_msg(memcmp(&w[j], &p->value[j], sizeof(float)) == 0,
                          "step %d, element %d: %.9g, scalar %.9g", step, j, p->value[j], w[j]);
        }
    }
    loom_optim_free(o);
    loom_params_free(ps);
}
END_TEST

/* loom_optim_update_part in n parts (any order), with the clipping scale,
 * gives the bits of loom_params_clip_grad_norm + loom_optim_step, for Adam
 * and SGD with momentum; parameters of sizes around the 64-element split
 * and the update's blocks. */
START_TEST(test_optim_parts_match_step)
{
    static const int sizes[] = {37, 64, 129, 20000};
    for (int kind = 0; kind < 2; kind++)
        for (int n = 1; n <= 5; n++) {
            loom_params *ps[2];
            loom_optim *o[2];
            loom_optim_config cfg = loom_optim_defaults(kind ? LOOM_SGD : LOOM_ADAM);
            cfg.lr = 0.01f, cfg.momentum = kind ? 0.9f : 0.0f;
            for (int r = 0; r < 2; r++) {
                ck_assert_int_eq(loom_params_new(&ps[r]), 0);
                for (int i = 0; i < 4; i++) {
                    char name[8];
                    snprintf(name, sizeof name, "p%d", i);
                    ck_assert_int_eq(loom_params_add1(ps[r], NULL, name, sizes[i]), 0);
                }
                ck_assert_int_eq(loom_params_alloc(ps[r]), 0);
                ck_assert_int_eq(loom_optim_new(&o[r], ps[r], &cfg), 0);
            }
            for (int step = 1; step <= 3; step++) {
                for (int r = 0; r < 2; r++)
                    for (int i = 0; i < 4; i++) {
                        loom_param *p = loom_params_at(ps[r], (size_t)i);
                        for (size_t j = 0; j < p->size; j++)
                            p->grad[j] = (float)sin(0.37 * (double)j + step + i);
                    }
                /* the reference: one pass each; clipping scales (norm >> 1) */
                loom_params_clip_grad_norm(ps[0], 1.0);
                ck_assert_int_eq(loom_optim_step(o[0], -1), 0);
                double sum = 0;
                for (int i = 0; i < 4; i++)
                    sum += loom_param_grad_sumsq(loom_params_at(ps[1], (size_t)i));
                ck_assert_double_eq(sqrt(sum), loom_params_grad_norm(ps[1]));
                float scale = (float)(1.0 / (sqrt(sum) + 1e-6));
                ck_assert_int_eq(loom_optim_begin_step(o[1]), 0);
                for (int k = n - 1; k >= 0; k--)
                    loom_optim_update_part(o[1], -1, scale, k, n);
                for (int i = 0; i < 4; i++) {
                    loom_param *a = loom_params_at(ps[0], (size_t)i);
                    loom_param *b = loom_params_at(ps[1], (size_t)i);
                    ck_assert_msg(memcmp(a->value, b->value, sizeof(float) * a->size) == 0 &&
                                      memcmp(a->grad, b->grad, sizeof(float) * a->size) == 0,
                                  "kind %d, %d parts, step %d, parameter %d differs", kind, n, step,
                                  i);
                }
            }
            ck_assert_int_eq(loom_optim_steps(o[1]), 3);
            for (int r = 0; r < 2; r++) {
                loom_optim_free(o[r]);
                loom_params_free(ps[r]);
            }
        }
}
END_TEST

START_TEST(test_frozen_params_no_update_no_state)
{
    loom_params *ps;
    loom_param *emb, *w;
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add2(ps, &emb, "emb", 100, 8), 0);
    ck_assert_int_eq(loom_params_add2(ps, &w, "w", 8, 2), 0);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    loom_params_freeze(ps, "emb", 1);
    for (int i = 0; i < 800; i++)
        emb->value[i] = 1, emb->grad[i] = 1;
    for (int i = 0; i < 16; i++)
        w->grad[i] = 1;
    loom_optim *o;
    loom_optim_config cfg = loom_optim_defaults(LOOM_ADAMW);
    ck_assert_int_eq(loom_optim_new(&o, ps, &cfg), 0);
    ck_assert_uint_eq(loom_optim_state_floats(o), 2 * 16); /* Adam's m and v for w only */
    ck_assert_int_eq(loom_optim_step(o, -1), 0);
    for (int i = 0; i < 800; i++)
        ck_assert_float_eq(emb->value[i], 1); /* not even weight decay */
    ck_assert_float_eq_tol(w->value[0], -1e-3, 1e-6);
    /* Unfreezing (fine-tuning) brings state and updates on the next step. */
    loom_params_freeze(ps, "emb", 0);
    ck_assert_int_eq(loom_optim_step(o, -1), 0);
    ck_assert_uint_eq(loom_optim_state_floats(o), 2 * 816);
    ck_assert_float_lt(emb->value[0], 1.0f);
    loom_optim_free(o);
    /* SGD without momentum needs no state at all. */
    cfg = loom_optim_defaults(LOOM_SGD);
    ck_assert_int_eq(loom_optim_new(&o, ps, &cfg), 0);
    ck_assert_uint_eq(loom_optim_state_floats(o), 0);
    loom_optim_free(o);
    loom_optim_free(NULL);
    loom_params_free(ps);
}
END_TEST

START_TEST(test_optim_state_resume_is_exact)
{
    char path[] = "/tmp/loom-test-optim.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    loom_param *p, *q;
    loom_params *a = one_param(&p, 4, 3), *b = one_param(&q, 4, 3);
    loom_optim_config cfg = loom_optim_defaults(LOOM_ADAM);
    loom_optim *oa, *ob;
    ck_assert_int_eq(loom_optim_new(&oa, a, &cfg), 0);
    ck_assert_int_eq(loom_optim_new(&ob, b, &cfg), 0);
    float *g = randn(12 * 4, 1);
    for (int s = 0; s < 2; s++) {
        memcpy(p->grad, g + 12 * s, 12 * sizeof(float));
        loom_optim_step(oa, -1);
    }
    loom_st_writer *w;
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    ck_assert_int_eq(loom_params_write(a, w), 0);
    ck_assert_int_eq(loom_optim_save_state(oa, w), 0);
    ck_assert_int_eq(loom_st_writer_save(w, path), 0);
    loom_st_writer_free(w);
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, path), 0);
    ck_assert_ptr_nonnull(loom_st_find(f, "optim.w.v"));
    ck_assert_int_eq(loom_params_read(b, f), 0);
    ck_assert_int_eq(memcmp(p->value, q->value, 12 * sizeof(float)), 0);
    ck_assert_int_eq(loom_optim_load_state(ob, f), 0);
    loom_st_close(f);
    ck_assert_int_eq(loom_optim_steps(ob), 2);
    for (int s = 2; s < 4; s++) {
        memcpy(p->grad, g + 12 * s, 12 * sizeof(float));
        memcpy(q->grad, g + 12 * s, 12 * sizeof(float));
        loom_optim_step(oa, -1);
        loom_optim_step(ob, -1);
    }
    ck_assert_int_eq(memcmp(p->value, q->value, 12 * sizeof(float)), 0);
    unlink(path);
    free(g);
    loom_optim_free(oa), loom_optim_free(ob), loom_params_free(a), loom_params_free(b);
}
END_TEST

START_TEST(test_unfrozen_param_starts_fresh_after_load)
{
    /* Frozen when the optimizer was made, unfrozen later, its state absent
     * from the checkpoint: it must then move exactly as under a new Adam. */
    char path[] = "/tmp/loom-test-optim2.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    loom_param *p, *q;
    loom_params *a = one_param(&p, 2, 3), *b = one_param(&q, 2, 3);
    loom_optim_config cfg = loom_optim_defaults(LOOM_ADAM);
    loom_optim *oa, *ob;
    p->frozen = 1;
    ck_assert_int_eq(loom_optim_new(&oa, a, &cfg), 0);
    ck_assert_int_eq(loom_optim_new(&ob, b, &cfg), 0);
    ck_assert_uint_eq(loom_optim_state_floats(oa), 0);
    loom_st_writer *w;
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    ck_assert_int_eq(loom_optim_save_state(oa, w), 0);
    ck_assert_int_eq(loom_st_writer_save(w, path), 0);
    loom_st_writer_free(w);
    p->frozen = 0;
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, path), 0);
    ck_assert_int_eq(loom_optim_load_state(oa, f), 0);
    loom_st_close(f);
    for (int i = 0; i < 6; i++)
        p->grad[i] = q->grad[i] = (float)(i - 2);
    loom_optim_step(oa, -1);
    loom_optim_step(ob, -1);
    ck_assert_int_eq(memcmp(p->value, q->value, 6 * sizeof(float)), 0);
    ck_assert_float_eq_tol(p->value[0], 1e-3f, 1e-7); /* first Adam step: -lr * sign(g) */
    unlink(path);
    loom_optim_free(oa), loom_optim_free(ob), loom_params_free(a), loom_params_free(b);
}
END_TEST

START_TEST(test_lr_schedules)
{
    loom_lr_schedule c = {.kind = LOOM_LR_CONSTANT, .lr = 0.5f};
    ck_assert_float_eq(loom_lr_at(&c, 0), 0.5f);
    ck_assert_float_eq(loom_lr_at(&c, 1000), 0.5f);
    loom_lr_schedule l = {
        .kind = LOOM_LR_LINEAR, .lr = 1.0f, .total_steps = 100, .end_factor = 0.0f};
    ck_assert_float_eq(loom_lr_at(&l, 0), 1.0f);
    ck_assert_float_eq_tol(loom_lr_at(&l, 25), 0.75f, 1e-7);
    ck_assert_float_eq(loom_lr_at(&l, 100), 0.0f);
    ck_assert_float_eq(loom_lr_at(&l, 500), 0.0f);
    l.end_factor = 1e-4f; /* word2vec's floor */
    ck_assert_float_eq_tol(loom_lr_at(&l, 100), 1e-4f, 1e-10);
    loom_lr_schedule s = {.kind = LOOM_LR_STEP, .lr = 1.0f, .step_size = 10, .gamma = 0.5f};
    ck_assert_float_eq(loom_lr_at(&s, 9), 1.0f);
    ck_assert_float_eq(loom_lr_at(&s, 10), 0.5f);
    ck_assert_float_eq(loom_lr_at(&s, 25), 0.25f);
    s.warmup_steps = 4;
    ck_assert_float_eq(loom_lr_at(&s, 0), 0.25f);
    ck_assert_float_eq(loom_lr_at(&s, 3), 1.0f);
}
END_TEST

/* ---- selection over a row (core/select.h) ---- */

START_TEST(test_argmax_first_of_ties)
{
    float x[] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
    ck_assert_int_eq(loom_argmax(x, 5), 1);
    ck_assert_int_eq(loom_argmax(x, 1), 0);
    ck_assert_int_eq(loom_argmax(NULL, 0), 0);
    float y[] = {-INFINITY, -INFINITY, -1e30f};
    ck_assert_int_eq(loom_argmax(y, 3), 2);
    ck_assert_int_eq(loom_argmax(y, 2), 0);
    float z[] = {0.0f, NAN, -1.0f, 2.0f, NAN};
    ck_assert_int_eq(loom_argmax(z, 5), 3); /* a NaN never wins after x[0] */
    /* against a plain scan on rows with many equal values */
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)loom_rng_below(&test_rng, 300);
        float r[300];
        for (int i = 0; i < n; i++)
            r[i] = (float)loom_rng_below(&test_rng, 7);
        int want = 0;
        for (int i = 0; i < n; i++)
            if (r[i] > r[want] || (r[i] == r[want] && i < want))
                want = i;
        ck_assert_int_eq(loom_argmax(r, n), want);
    }
}
END_TEST

/* The reference top-k: all scores sorted by score, best first, the earlier
 * offered first among equals (a stable sort), cut to k. */
typedef struct {
    float score;
    int order, id;
} ref_entry;

static int ref_better_first(const void *pa, const void *pb)
{
    const ref_entry *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

START_TEST(test_topk_is_stable_sorted_prefix)
{
    enum { MAXN = 500, MAXK = 12 };
    static float x[MAXN];
    static ref_entry ref[3 * MAXN];
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + (int)loom_rng_below(&test_rng, MAXN),
            k = 1 + (int)loom_rng_below(&test_rng, MAXK);
        int rows = 1 + (int)loom_rng_below(&test_rng, 3), nref = 0;
        loom_scored top[MAXK], pieces[MAXK];
        int have = 0, have_p = 0;
        for (int row = 0; row < rows; row++) {
            /* small integers, so that many scores tie; the row's offset as
             * the beam's cumulative score */
            for (int i = 0; i < n; i++)
                x[i] = (float)loom_rng_below(&test_rng, trial % 2 ? 5 : 1000) - 2.0f;
            float add = (float)loom_rng_below(&test_rng, 3) * 0.5f;
            for (int i = 0; i < n; i++)
                ref[nref] = (ref_entry){x[i] + add, nref, row * MAXN + i}, nref++;
            loom_topk_offer(top, &have, k, x, n, add, row * MAXN);
            /* the same row offered in two pieces */
            int cut = (int)loom_rng_below(&test_rng, (uint32_t)n + 1);
            loom_topk_offer(pieces, &have_p, k, x, cut, add, row * MAXN);
            loom_topk_offer(pieces, &have_p, k, x + cut, n - cut, add, row * MAXN + cut);
        }
        qsort(ref, nref, sizeof *ref, ref_better_first);
        int want = nref < k ? nref : k;
        ck_assert_int_eq(have, want);
        ck_assert_int_eq(have_p, want);
        for (int j = 0; j < want; j++) {
            ck_assert_float_eq(top[j].score, ref[j].score);
            ck_assert_int_eq(top[j].id, ref[j].id);
            ck_assert_float_eq(pieces[j].score, ref[j].score);
            ck_assert_int_eq(pieces[j].id, ref[j].id);
        }
    }
}
END_TEST

START_TEST(test_topk_full_list_rejects_equal_score)
{
    float x[] = {2.0f, 1.0f, 2.0f, 3.0f, 1.0f, -INFINITY};
    loom_scored top[2];
    int have = 0;
    loom_topk_offer(top, &have, 2, x, 6, 1.0f, 10);
    ck_assert_int_eq(have, 2);
    ck_assert_int_eq(top[0].id, 13);
    ck_assert_float_eq(top[0].score, 4.0f);
    ck_assert_int_eq(top[1].id, 10);
    ck_assert_float_eq(top[1].score, 3.0f);
    /* an offer that only equals the last entry does not displace it */
    float y = 2.0f;
    loom_topk_offer(top, &have, 2, &y, 1, 1.0f, 99);
    ck_assert_int_eq(top[1].id, 10);
    /* a short row fills the list only as far as it goes */
    have = 0;
    loom_topk_offer(top, &have, 2, x + 5, 1, 0.0f, 0);
    ck_assert_int_eq(have, 1);
    ck_assert_int_eq(top[0].id, 0);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_blas_gemm_all_transposes);
    tcase_add_test(tc, test_blas_vector_ops);
    tcase_add_test(tc, test_params_flat_block_views_and_freeze);
    tcase_add_test(tc, test_params_clip_grad_norm_as_torch);
    tcase_add_test(tc, test_initialisers);
    tcase_add_test(tc, test_dense_gradcheck);
    tcase_add_test(tc, test_dense_matches_torch);
    tcase_add_test(tc, test_dense_blocks_gradcheck);
    tcase_add_test(tc, test_dense_blocks_match_torch);
    tcase_add_test(tc, test_concat_copies_and_routes_back);
    tcase_add_test(tc, test_concat_gather_gradcheck);
    tcase_add_test(tc, test_split_inverts_concat_gradcheck);
    tcase_add_test(tc, test_attn_mix_add_is_context_times_weights);
    tcase_add_loop_test(tc, test_activations_gradcheck, 0, NACT);
    tcase_add_test(tc, test_activations_match_torch);
    tcase_add_test(tc, test_embedding_sparse_rows_and_gradcheck);
    tcase_add_loop_test(tc, test_conv1d_pool_gradcheck, 0, 3);
    tcase_add_test(tc, test_conv1d_pool_match_torch);
    tcase_add_test(tc, test_maxpool_gradcheck);
    tcase_add_test(tc, test_pooling_empty_sequence);
    tcase_add_test(tc, test_dropout_seeded_inverted);
    tcase_add_test(tc, test_xent_gradcheck);
    tcase_add_test(tc, test_xent_matches_torch);
    tcase_add_test(tc, test_xent_inplace_gradcheck);
    tcase_add_test(tc, test_xent_inplace_matches_torch);
    tcase_add_test(tc, test_sigmoid_loss_gradcheck_and_torch);
    tcase_add_test(tc, test_optimizers_match_torch);
    tcase_add_test(tc, test_adam_vector_path_is_bit_exact);
    tcase_add_test(tc, test_optim_parts_match_step);
    tcase_add_test(tc, test_frozen_params_no_update_no_state);
    tcase_add_test(tc, test_optim_state_resume_is_exact);
    tcase_add_test(tc, test_unfrozen_param_starts_fresh_after_load);
    tcase_add_test(tc, test_lr_schedules);
    tcase_add_test(tc, test_argmax_first_of_ties);
    tcase_add_test(tc, test_topk_is_stable_sorted_prefix);
    tcase_add_test(tc, test_topk_full_list_rejects_equal_score);
    suite_add_tcase(s, tc);
    /* the vector paths below the CPU's own level (Check runs each test in
     * a process of its own, which decides its level after the fixture) */
    TCase *t8 = tcase_create("avx2");
    tcase_set_timeout(t8, 60);
    tcase_add_checked_fixture(t8, no_avx512, NULL);
    tcase_add_test(t8, test_adam_vector_path_is_bit_exact);
    suite_add_tcase(s, t8);
    TCase *t4 = tcase_create("portable");
    tcase_set_timeout(t4, 60);
    tcase_add_checked_fixture(t4, no_avx2, NULL);
    tcase_add_test(t4, test_adam_vector_path_is_bit_exact);
    tcase_add_test(t4, test_optimizers_match_torch);
    suite_add_tcase(s, t4);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

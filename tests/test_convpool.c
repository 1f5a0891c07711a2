/* Tests for src/core/convpool.c, the packed convolution + max-pool: its
 * forward and backward equal loom_conv1d_forward + loom_maxpool_forward
 * (and their backward passes, checked against PyTorch in test_core) on
 * the same sequences padded into a batch, and its gradients pass a check
 * against central finite differences (a planted 0.5% error must fail it).
 * The layer is piecewise linear: the check asserts that no step of it
 * moves a maximum to another window, so the differences see one piece. */
#include "config.h"
#include "base/rng.h"
#include "core/conv1d.h"
#include "core/convpool.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { B = 5, CI = 3, CO = 4, T = 6, WMAX = 3 };
/* one sequence longer than every kernel, one shorter than all, one empty */
static const int lens[B] = {6, 4, 1, 3, 0};

typedef struct {
    int W, N;
    int start[B];
    float *inp, *K, *bias, *R; /* R: the weights of the objective sum(out * R) */
    float out[B * CO];
    int argmax[B * CO];
    float *col, *y;
} packed;

static void fill(float *x, size_t n, loom_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)loom_rng_normal(rng);
}

/* Packs the sequences of a padded (B, T, CI) batch: each takes
 * max(len, WMAX) rows, zero past its length. */
static void pack(packed *p, const float *padded, int W)
{
    p->W = W;
    p->N = 0;
    for (int b = 0; b < B; b++) {
        p->start[b] = p->N;
        p->N += lens[b] > WMAX ? lens[b] : WMAX;
    }
    p->inp = calloc((size_t)p->N * CI, sizeof(float));
    for (int b = 0; b < B; b++)
        memcpy(p->inp + (size_t)p->start[b] * CI, padded + (size_t)b * T * CI,
               (size_t)lens[b] * CI * sizeof(float));
    size_t win = loom_convpool_windows(lens, B, W);
    p->col = malloc(win * W * CI * sizeof(float));
    p->y = malloc(win * CO * sizeof(float));
}

static double objective(packed *p)
{
    loom_convpool_forward(p->out, p->argmax, p->col, p->y, p->inp, p->start, lens, p->K, p->bias, B,
                          CI, CO, p->W);
    double s = 0;
    for (int i = 0; i < B * CO; i++)
        s += (double)p->out[i] * p->R[i];
    return s;
}

START_TEST(test_convpool_equals_padded_conv_and_maxpool)
{
    for (int W = 1; W <= WMAX; W++) {
        loom_rng rng;
        loom_rng_seed(&rng, 11, (uint64_t)W);
        float padded[B * T * CI] = {0}, K[WMAX * CI * CO], bias[CO], dout[B * CO];
        for (int b = 0; b < B; b++)
            fill(padded + (size_t)b * T * CI, (size_t)lens[b] * CI, &rng);
        fill(K, sizeof K / sizeof *K, &rng);
        fill(bias, CO, &rng);
        fill(dout, B * CO, &rng);
        dout[3] = dout[6] = 0; /* zeros (ReLU, dropout) are skipped */
        /* the padded pair, as src/classify/cnn.c used it */
        int To = loom_conv1d_out_len(T, W, LOOM_CONV_VALID), lens_out[B], am[B * CO];
        for (int b = 0; b < B; b++)
            lens_out[b] = (lens[b] > W ? lens[b] : W) - W + 1;
        float y[B * T * CO], col[B * T * WMAX * CI], pool[B * CO], dy[B * T * CO] = {0};
        float dpad[B * T * CI] = {0}, dK[WMAX * CI * CO] = {0}, db[CO] = {0};
        loom_conv1d_forward(y, col, padded, K, bias, B, T, CI, CO, W, LOOM_CONV_VALID);
        loom_maxpool_forward(pool, am, y, lens_out, B, To, CO);
        loom_maxpool_backward(dy, dout, am, B, To, CO);
        loom_conv1d_backward(dpad, dK, db, col, dy, padded, K, B, T, CI, CO, W, LOOM_CONV_VALID);

        packed p = {.K = K, .bias = bias};
        pack(&p, padded, W);
        loom_convpool_forward(p.out, p.argmax, p.col, p.y, p.inp, p.start, lens, K, bias, B, CI, CO,
                              W);
        float *dinp = calloc((size_t)p.N * CI, sizeof(float)), dK2[WMAX * CI * CO] = {0};
        float db2[CO] = {0}, work[2 * WMAX * CI * CO];
        ck_assert_uint_eq(loom_convpool_work_size(CI, CO, W), (size_t)2 * W * CI * CO);
        loom_convpool_backward(dinp, dK2, db2, work, dout, p.argmax, p.inp, K, B, CI, CO, W);
        for (int i = 0; i < B * CO; i++) {
            ck_assert_msg(fabsf(p.out[i] - pool[i]) <= 1e-5f, "W %d: out[%d]", W, i);
            ck_assert_int_eq(p.argmax[i], p.start[i / CO] + am[i]);
        }
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int c = 0; c < CI; c++) {
                    /* rows past a sequence's packed rows get nothing; in the
                     * padded batch they are the padding, whose gradient is
                     * not used */
                    int rows = lens[b] > WMAX ? lens[b] : WMAX;
                    if (t >= rows)
                        continue;
                    float a = dinp[((size_t)p.start[b] + t) * CI + c];
                    float e = dpad[((size_t)b * T + t) * CI + c];
                    ck_assert_msg(fabsf(a - e) <= 1e-5f, "W %d: dinp[%d, %d, %d]", W, b, t, c);
                }
        for (int i = 0; i < W * CI * CO; i++)
            ck_assert_msg(fabsf(dK2[i] - dK[i]) <= 1e-5f, "W %d: dK[%d]", W, i);
        for (int i = 0; i < CO; i++)
            ck_assert_msg(fabsf(db2[i] - db[i]) <= 1e-5f, "W %d: dbias[%d]", W, i);
        free(dinp), free(p.inp), free(p.col), free(p.y);
    }
}
END_TEST

/* Worst relative error of `analytic` against fourth-order central
 * differences over the n entries of x; every perturbed forward must keep
 * the maxima where they were. */
static double check_error(packed *p, float *x, const float *analytic, size_t n, size_t *worst_i)
{
    const float h = 0.01f, step[4] = {2, 1, -1, -2};
    int am[B * CO];
    objective(p);
    memcpy(am, p->argmax, sizeof am);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        double f[4];
        for (int k = 0; k < 4; k++) {
            x[i] = x0 + step[k] * h;
            f[k] = objective(p);
            ck_assert_msg(memcmp(am, p->argmax, sizeof am) == 0,
                          "a step of %g moved a maximum: choose another seed", (double)h);
        }
        x[i] = x0;
        double num = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12.0 * h), a = analytic[i];
        double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), 1e-1);
        if (err > worst) {
            worst = err;
            *worst_i = i;
        }
    }
    return worst;
}

START_TEST(test_convpool_gradcheck)
{
    loom_rng rng;
    loom_rng_seed(&rng, 5, 0);
    enum { W = 2 };
    float padded[B * T * CI] = {0}, K[W * CI * CO], bias[CO], R[B * CO];
    for (int b = 0; b < B; b++)
        fill(padded + (size_t)b * T * CI, (size_t)lens[b] * CI, &rng);
    fill(K, sizeof K / sizeof *K, &rng);
    fill(bias, CO, &rng);
    fill(R, B * CO, &rng);
    packed p = {.K = K, .bias = bias, .R = R};
    pack(&p, padded, W);
    objective(&p);
    float *dinp = calloc((size_t)p.N * CI, sizeof(float)), dK[W * CI * CO] = {0}, db[CO] = {0};
    float work[2 * W * CI * CO];
    loom_convpool_backward(dinp, dK, db, work, R, p.argmax, p.inp, K, B, CI, CO, W);
    size_t at = 0;
    double e = check_error(&p, p.inp, dinp, (size_t)p.N * CI, &at);
    ck_assert_msg(e <= 1e-3, "dinp: gradient check failed at %zu: %.3g", at, e);
    e = check_error(&p, K, dK, W * CI * CO, &at);
    ck_assert_msg(e <= 1e-3, "dK: gradient check failed at %zu: %.3g", at, e);
    e = check_error(&p, bias, db, CO, &at);
    ck_assert_msg(e <= 1e-3, "dbias: gradient check failed at %zu: %.3g", at, e);
    /* The check has teeth: one entry 0.5% off fails it, at that entry. */
    dK[7] *= 1.005f;
    ck_assert(check_error(&p, K, dK, W * CI * CO, &at) > 1e-3 && at == 7);
    size_t hit = 0; /* an input entry with a gradient */
    while (dinp[hit] == 0.0f)
        hit++;
    dinp[hit] *= 1.005f;
    ck_assert(check_error(&p, p.inp, dinp, (size_t)p.N * CI, &at) > 1e-3 && at == hit);
    /* NULL gradients are skipped */
    loom_convpool_backward(NULL, NULL, NULL, work, R, p.argmax, p.inp, K, B, CI, CO, W);
    free(dinp), free(p.inp), free(p.col), free(p.y);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("convpool");
    TCase *tc = tcase_create("convpool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_convpool_equals_padded_conv_and_maxpool);
    tcase_add_test(tc, test_convpool_gradcheck);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

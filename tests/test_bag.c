/* Tests for src/core/bag.c, the mean of a bag of embedding rows: a
 * gradient check against central finite differences (with a planted 0.5%
 * error that must fail it) and PyTorch's nn.EmbeddingBag(mode="mean") on
 * the same table (tests/fixtures/core/make_bag_fixtures.py). The layer is
 * linear in the table, so a large step (h = 0.1) leaves only float
 * rounding, as in tests/test_core.c. */
#include "config.h"
#include "base/error.h"
#include "base/rng.h"
#include "base/safetensors.h"
#include "core/bag.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const int *ids, *offsets;
    int B, D;
    float *E, *y, *R;
} bag_ctx;

static double bag_obj(bag_ctx *c)
{
    loom_bag_mean_forward(c->y, c->ids, c->offsets, c->E, c->B, c->D);
    double s = 0;
    for (int i = 0; i < c->B * c->D; i++)
        s += (double)c->y[i] * c->R[i];
    return s;
}

/* Worst relative error of `analytic` against fourth-order central
 * differences over every entry of E (see tests/test_core.c). */
static double bag_check_error(bag_ctx *c, const float *analytic, size_t n, size_t *worst_i)
{
    const float h = 0.1f, step[4] = {2, 1, -1, -2};
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float x0 = c->E[i];
        double f[4];
        for (int k = 0; k < 4; k++) {
            c->E[i] = x0 + step[k] * h;
            f[k] = bag_obj(c);
        }
        c->E[i] = x0;
        double num = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12.0 * h), a = analytic[i];
        double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), 1e-2);
        if (err > worst) {
            worst = err;
            *worst_i = i;
        }
    }
    return worst;
}

START_TEST(test_bag_mean_gradcheck)
{
    /* Bag 1 is empty, bag 2 holds one id three times, row 6 is never used. */
    const int ids[] = {0, 4, 2, 5, 5, 5, 1, 3, 0};
    const int offsets[] = {0, 3, 3, 6, 9};
    enum { V = 7, D = 4, B = 4 };
    loom_rng rng;
    loom_rng_seed(&rng, 7, 0);
    float E[V * D], y[B * D], R[B * D], dE[V * D] = {0};
    for (int i = 0; i < V * D; i++)
        E[i] = (float)loom_rng_normal(&rng);
    for (int i = 0; i < B * D; i++)
        R[i] = (float)loom_rng_normal(&rng);
    bag_ctx c = {ids, offsets, B, D, E, y, R};
    bag_obj(&c);
    for (int k = 0; k < D; k++) {
        ck_assert_float_eq_tol(y[k], (E[0 * D + k] + E[4 * D + k] + E[2 * D + k]) / 3, 1e-6);
        ck_assert_float_eq(y[1 * D + k], 0.0f); /* empty bag: zeros */
        ck_assert_float_eq_tol(y[2 * D + k], E[5 * D + k], 1e-6);
    }
    loom_bag_mean_backward(dE, R, ids, offsets, B, D);
    for (int k = 0; k < D; k++)
        ck_assert_float_eq(dE[6 * D + k], 0.0f); /* untouched row stays exactly zero */
    size_t at = 0;
    double worst = bag_check_error(&c, dE, V * D, &at);
    ck_assert_msg(worst <= 1e-3, "bag dE: gradient check failed at %zu: %.3g", at, worst);
    /* The check has teeth: one entry 0.5% off fails it, at that entry. */
    dE[13] *= 1.005f;
    ck_assert(bag_check_error(&c, dE, V * D, &at) > 1e-3 && at == 13);
    dE[13] /= 1.005f;
    /* Backward accumulates; a frozen table (NULL) is a no-op. */
    float before = dE[2];
    loom_bag_mean_backward(dE, R, ids, offsets, B, D);
    ck_assert_float_eq_tol(dE[2], 2 * before, 1e-6);
    loom_bag_mean_backward(NULL, R, ids, offsets, B, D);
}
END_TEST

START_TEST(test_bag_mean_matches_torch)
{
    const char *src = getenv("LOOM_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/core/bag.safetensors", src ? src : ".");
    loom_st_file *f;
    ck_assert_msg(loom_st_open(&f, path) == 0, "%s", loom_error_message());
    ck_assert_ptr_nonnull(loom_st_meta(f, "torch_version"));
    const loom_st_tensor *E = loom_st_find(f, "E"), *ids = loom_st_find(f, "ids"),
                         *off = loom_st_find(f, "offsets"), *out = loom_st_find(f, "out"),
                         *R = loom_st_find(f, "R"), *dE = loom_st_find(f, "dE");
    ck_assert(E && ids && off && out && R && dE);
    ck_assert(ids->dtype == LOOM_ST_I32 && off->dtype == LOOM_ST_I32);
    int V = (int)E->shape[0], D = (int)E->shape[1], B = (int)off->numel - 1;
    float *y = malloc(out->nbytes), *g = calloc(E->numel, sizeof *g);
    loom_bag_mean_forward(y, ids->data, off->data, E->data, B, D);
    loom_bag_mean_backward(g, R->data, ids->data, off->data, B, D);
    const float *ty = out->data, *tg = dE->data;
    for (int i = 0; i < B * D; i++)
        ck_assert_msg(fabsf(y[i] - ty[i]) <= 1e-5f * fmaxf(1, fabsf(ty[i])), "out[%d]", i);
    for (int i = 0; i < V * D; i++)
        ck_assert_msg(fabsf(g[i] - tg[i]) <= 1e-5f * fmaxf(1, fabsf(tg[i])), "dE[%d]", i);
    free(y), free(g);
    loom_st_close(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bag");
    TCase *tc = tcase_create("bag");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bag_mean_gradcheck);
    tcase_add_test(tc, test_bag_mean_matches_torch);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

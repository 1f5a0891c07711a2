/* Tests for src/seq (the encoder-decoder): PyTorch equivalence of the
 * forward pass on committed fixtures, finite-difference gradients, beam
 * search never worse than greedy, data and model-file errors, transfer
 * learning with frozen embeddings and a vocabulary taken from vectors. Tiny models: the suite takes
 * seconds. */
#include "config.h"
#include "base/error.h"
#include "base/safetensors.h"
#include "embed/vectors.h"
#include "seq/data.h"
#include "seq/decode.h"
#include "seq/model.h"
#include "seq/model_file.h"
#include "seq/train.h"
#include "seq/transfer.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *fixture(const char *name)
{
    static char buf[4][1024];
    static int i;
    const char *src = getenv("LOOM_SRCDIR");
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/tests/fixtures/seq/%s", src ? src : ".", name);
    return buf[i];
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- PyTorch equivalence ---- */

static const char *const equiv_models[] = {
    "gru-bahdanau", "gru-dot",       "gru-general", "gru-none", "lstm-bahdanau",
    "lstm-dot",     "lstm-general",  "lstm-none",   "gru-tied", "elman-bahdanau",
    "elman-dot",    "elman-general", "elman-none",  "gru-dec2", "lstm-dec3"};

START_TEST(forward_matches_pytorch)
{
    char name[64];
    snprintf(name, sizeof name, "equiv-%s.loom", equiv_models[_i]);
    loom_seq_bundle b;
    ck_assert_msg(loom_seq_file_load(&b, fixture(name), NULL) == 0, "%s", loom_error_message());
    loom_seq_pairs *p;
    ck_assert_int_eq(loom_seq_pairs_read(&p, fixture("equiv.tsv"), NULL, &b.tok[0], &b.tok[1]), 0);
    loom_seq_corpus *c;
    ck_assert_int_eq(loom_seq_corpus_build(&c, p, b.vocab[0], b.vocab[1], 0), 0);
    size_t idx[64];
    for (size_t i = 0; i < c->n; i++)
        idx[i] = i;
    loom_seq_batch bt;
    ck_assert_int_eq(loom_seq_batch_make(&bt, c, idx, (int)c->n), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, b.model), 0);
    float *logp = calloc((size_t)bt.n * bt.tgt_len, sizeof(float));
    double loss;
    long tokens;
    ck_assert_int_eq(loom_seq_forward(b.model, w, &bt, 0, 0, NULL, &loss, &tokens, logp), 0);

    snprintf(name, sizeof name, "equiv-%s.logp", equiv_models[_i]);
    FILE *f = fopen(fixture(name), "r");
    ck_assert_ptr_nonnull(f);
    double worst = 0;
    long compared = 0;
    for (int i = 0; i < bt.n; i++)
        for (int t = 0; t < bt.tgt_lens[i]; t++) {
            double want;
            ck_assert_int_eq(fscanf(f, "%lf", &want), 1);
            double d = fabs(want - logp[(size_t)i * bt.tgt_len + t]);
            worst = d > worst ? d : worst;
            compared++;
        }
    fclose(f);
    ck_assert_int_eq(compared, tokens);
    ck_assert_msg(worst < 1e-4, "%s: worst |loom - torch| = %g", equiv_models[_i], worst);

    /* the summed label-smoothed cross-entropy: PyTorch's F.cross_entropy
     * (label_smoothing, padding ignored) on the same batch */
    snprintf(name, sizeof name, "equiv-%s.loss", equiv_models[_i]);
    f = fopen(fixture(name), "r");
    ck_assert_ptr_nonnull(f);
    double eps, want;
    int lines = 0;
    while (fscanf(f, "%lf %lf", &eps, &want) == 2) {
        ck_assert_int_eq(
            loom_seq_forward(b.model, w, &bt, 0, (float)eps, NULL, &loss, &tokens, NULL), 0);
        ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want),
                      "%s, label smoothing %g: loom %.9g, torch %.9g", equiv_models[_i], eps, loss,
                      want);
        lines++;
    }
    fclose(f);
    ck_assert_int_eq(lines, 3);
    free(logp);
    loom_seq_work_free(w);
    loom_seq_batch_release(&bt);
    loom_seq_corpus_free(c);
    loom_seq_pairs_free(p);
    loom_seq_bundle_free(&b);
}
END_TEST

/* ---- gradients ----
 * Every element of every parameter of 16 small models (each cell with
 * each attention, bidirectional, 2 layers, tied tables, the per-word
 * tables, fixed dropout masks, label smoothing 0.1) against a six-point
 * central difference (error O(h^6)) of the summed loss, through the public
 * loom_seq_forward/backward. The model computes in float, whose rounding
 * puts ~1e-5 of noise into each difference, so the check has a floor: an
 * element's error is |analytic - numeric| / max(|analytic|, |numeric|,
 * GRAD_FLOOR) and must be within GRAD_TOL (the worst seen is 1.4e-3).
 * GRAD_TOL is below the 0.5% that a wrong gradient shows at an element
 * above the floor: the test plants that error in the largest element of
 * every tensor above the floor and requires the check to catch it. Run by
 * hand, a 0.5% error planted in src/seq/model.c's backward fails it too:
 * the bridge weight's gradient GEMM (alpha 1.005: 14 of 16 models fail),
 * the output bias's sum (16 of 16), the gradient into the encoder's final
 * states (13 of 16; the other three, LSTMs with attention, get most of
 * their encoder gradient through the attention, so 0.5% of the bridge's
 * share stays under the noise).
 * LOOM_TEST_VERBOSE=1 prints each model's worst error. */

#define GRAD_STEP 0.07f
#define GRAD_FLOOR 0.02
#define GRAD_TOL 2e-3

static const loom_seq_config grad_configs[] = {
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 2, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_LSTM, LOOM_ATTN_GENERAL, 1, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_GRU, LOOM_ATTN_DOT, 1, 0, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_LSTM, LOOM_ATTN_NONE, 2, 0, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 7, 8, 0.3f, 0, 1}, /* fixed dropout masks */
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 8, 8, 0, 1, 1},    /* tied tables */
    {LOOM_RNN_LSTM, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 7, 6, 0, 0, 1},   /* per-word table */
    {LOOM_RNN_GRU, LOOM_ATTN_GENERAL, 1, 1, 3, 4, 3, 7, 40, 0, 0, 1},    /* no target table */
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 9, 8, 0, 0, 1},    /* no source table */
    {LOOM_RNN_LSTM, LOOM_ATTN_BAHDANAU, 2, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_LSTM, LOOM_ATTN_DOT, 2, 0, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_GRU, LOOM_ATTN_NONE, 1, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_ELMAN, LOOM_ATTN_BAHDANAU, 2, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_ELMAN, LOOM_ATTN_GENERAL, 2, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    {LOOM_RNN_ELMAN, LOOM_ATTN_DOT, 1, 0, 3, 4, 3, 7, 6, 0.3f, 0, 1},
    {LOOM_RNN_ELMAN, LOOM_ATTN_NONE, 1, 1, 3, 4, 3, 7, 8, 0, 0, 1},
    /* stacked decoder layers (the last field) */
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 7, 8, 0, 0, 2},
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 2, 1, 3, 4, 3, 7, 8, 0, 0, 2},
    {LOOM_RNN_GRU, LOOM_ATTN_DOT, 1, 0, 3, 4, 3, 7, 8, 0.3f, 0, 2},       /* dropout between */
    {LOOM_RNN_LSTM, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 7, 8, 0.3f, 0, 2}, /* dropout between */
    {LOOM_RNN_LSTM, LOOM_ATTN_BAHDANAU, 1, 1, 3, 4, 3, 7, 6, 0, 0, 2},    /* per-word table */
    {LOOM_RNN_GRU, LOOM_ATTN_GENERAL, 1, 1, 3, 4, 3, 7, 8, 0, 0, 3},
};

/* 4 pairs: ids below 6 so that every configuration's vocabularies hold
 * them; 12 target rows, enough for the per-word table of a 6-word target
 * vocabulary (the last configuration) */
static int gsrc[] = {4, 5, 6, 0, 5, 0, 0, 0, 6, 4, 4, 5, 4, 4, 0, 0};
static int gsrc_lens[] = {3, 1, 4, 2};
static int gtin[] = {2, 4, 5, 2, 5, 0, 2, 4, 4, 2, 5, 4};
static int gtout[] = {4, 5, 3, 5, 3, 0, 4, 4, 3, 5, 4, 3};
static int gtgt_lens[] = {3, 2, 3, 3};
/* the same sentences in another order, the last one's target cut to its
 * end token: the rows after the last running sentence are padding from
 * step 1 on (step 1 computes 3 rows, step 2 two), which the decoder skips
 * (model.c's step_rows) */
static int gsrc2[] = {4, 5, 6, 0, 6, 4, 4, 5, 5, 0, 0, 0, 4, 4, 0, 0};
static int gsrc_lens2[] = {3, 4, 1, 2};
static int gtin2[] = {2, 4, 5, 2, 4, 4, 2, 5, 0, 2, 0, 0};
static int gtout2[] = {4, 5, 3, 4, 4, 3, 5, 3, 0, 3, 0, 0};
static int gtgt_lens2[] = {3, 3, 2, 1};
#define N_GRAD_CONFIGS (int)(sizeof grad_configs / sizeof *grad_configs)

/* The summed loss (label smoothing 0.1); with backward, its gradient is
 * accumulated (scale 1). */
static double batch_loss(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, int backward)
{
    loom_rng rng;
    loom_rng_seed(&rng, 5, 0); /* the same dropout masks every time */
    double loss;
    long tokens;
    ck_assert_int_eq(loom_seq_forward(m, w, b, 1, 0.1f, &rng, &loss, &tokens, NULL), 0);
    if (backward)
        ck_assert_int_eq(loom_seq_backward(m, w, b, 1.0f), 0);
    return loss;
}

static double grad_error(double analytic, double numeric)
{
    return fabs(analytic - numeric) / fmax(fmax(fabs(analytic), fabs(numeric)), GRAD_FLOOR);
}

/* _i < N_GRAD_CONFIGS: config _i on the first batch; then config
 * _i - N_GRAD_CONFIGS on the second, whose padding rows are skipped */
START_TEST(gradients_match_finite_differences)
{
    int skip = _i >= N_GRAD_CONFIGS;
    loom_seq_model *m;
    ck_assert_int_eq(loom_seq_model_new(&m, &grad_configs[_i % N_GRAD_CONFIGS], 42), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    loom_seq_batch b = {4, 4, 3, gsrc, gsrc_lens, gtin, gtout, gtgt_lens};
    if (skip)
        b = (loom_seq_batch){4, 4, 3, gsrc2, gsrc_lens2, gtin2, gtout2, gtgt_lens2};
    loom_params *ps = loom_seq_model_params(m);
    loom_params_zero_grad(ps);
    batch_loss(m, w, &b, 1);
    double worst = 0;
    size_t checked = 0, above_floor = 0;
    const char *worst_name = "";
    for (size_t k = 0; k < loom_params_len(ps); k++) {
        loom_param *p = loom_params_at(ps, k);
        size_t big = 0; /* the tensor's largest gradient element */
        double big_num = 0;
        for (size_t i = 0; i < p->size; i++) {
            const float keep = p->value[i];
            const float h = GRAD_STEP;
            /* six-point central difference, error O(h^6) */
            static const float step[6] = {3, 2, 1, -1, -2, -3};
            static const double coef[6] = {1, -9, 45, -45, 9, -1};
            double num = 0;
            for (int s = 0; s < 6; s++) {
                p->value[i] = keep + step[s] * h;
                num += coef[s] * batch_loss(m, w, &b, 0);
            }
            p->value[i] = keep;
            num /= 60.0 * h;
            double ana = p->grad[i];
            double err = grad_error(ana, num);
            ck_assert_msg(err <= GRAD_TOL, "config %d, %s[%zu]: analytic %.7g, numeric %.7g", _i,
                          p->name, i, ana, num);
            if (err > worst)
                worst = err, worst_name = p->name;
            if (fabs(ana) > fabs(p->grad[big]))
                big = i, big_num = num;
            else if (i == 0)
                big_num = num;
            checked++;
            above_floor += fabs(ana) >= GRAD_FLOOR;
        }
        /* the check has teeth: the largest element 0.5% off fails it */
        if (getenv("LOOM_TEST_VERBOSE"))
            fprintf(stderr, "   %-28s n %5zu largest %.3g planted err %.2e\n", p->name, p->size,
                    fabs(p->grad[big]), grad_error(p->grad[big] * 1.005, big_num));
        if (fabs(p->grad[big]) >= GRAD_FLOOR)
            ck_assert_msg(grad_error(p->grad[big] * 1.005, big_num) > GRAD_TOL,
                          "config %d, %s: a 0.5%% error at [%zu] passes", _i, p->name, big);
    }
    ck_assert_uint_eq(checked, loom_params_numel(ps, 0));
    ck_assert_uint_gt(above_floor, checked / 6);
    if (getenv("LOOM_TEST_VERBOSE"))
        fprintf(stderr,
                "seq gradcheck config %2d: %zu elements (%zu above the floor), worst %.2e (%s)\n",
                _i, checked, above_floor, worst, worst_name);
    loom_seq_work_free(w);
    loom_seq_model_free(m);
}
END_TEST

/* Training and decoding run one decoder step: teacher-forced through
 * loom_seq_step along the reference targets, the log-probabilities of the
 * gold tokens equal loom_seq_forward's, for every configuration, with and
 * without the decoding tables, one row per sentence and K = 3 rows each. */
START_TEST(step_logp_equals_forward_logp)
{
    loom_seq_model *m;
    ck_assert_int_eq(loom_seq_model_new(&m, &grad_configs[_i], 42), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    enum { N = 4, S = 4, T = 3 };
    loom_seq_batch b = {N, S, T, gsrc, gsrc_lens, gtin, gtout, gtgt_lens};
    double loss;
    long tokens;
    float want[N * T];
    ck_assert_int_eq(loom_seq_forward(m, w, &b, 0, 0, NULL, &loss, &tokens, want), 0);
    int V = grad_configs[_i].tgt_vocab;
    float *logp = malloc(sizeof(float) * N * 3 * V);
    for (int variant = 0; variant < 4; variant++) {
        int K = variant & 1 ? 3 : 1;
        if (variant == 2)
            ck_assert_int_eq(loom_seq_model_prepare_decoding(m), 0);
        loom_seq_state *st;
        ck_assert_int_eq(loom_seq_start(&st, m, w, gsrc, gsrc_lens, N, S, K), 0);
        for (int t = 0; t < T; t++) {
            int prev[N * 3];
            for (int r = 0; r < N * K; r++)
                prev[r] = gtin[(r / K) * T + t];
            loom_seq_step(m, st, prev, logp, NULL);
            for (int r = 0; r < N * K; r++) {
                int i = r / K;
                if (t >= gtgt_lens[i])
                    continue;
                double got = logp[(size_t)r * V + gtout[i * T + t]], ref = want[i * T + t];
                ck_assert_msg(fabs(got - ref) <= 1e-5 * fabs(ref) + 1e-6,
                              "config %d, K %d, sentence %d step %d: step %.7g, forward %.7g", _i,
                              K, i, t, got, ref);
            }
        }
        loom_seq_state_free(st);
    }
    free(logp);
    loom_seq_work_free(w);
    loom_seq_model_free(m);
}
END_TEST

/* A replica's gradients plus the model's over a split batch equal the
 * gradient of the whole batch (data-parallel training). */
START_TEST(replica_gradients_add_up)
{
    loom_seq_model *m, *r;
    loom_seq_config c = grad_configs[0];
    ck_assert_int_eq(loom_seq_model_new(&m, &c, 1), 0);
    ck_assert_int_eq(loom_seq_model_replica(&r, m), 0);
    loom_seq_work *w, *w2;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    ck_assert_int_eq(loom_seq_work_new(&w2, r), 0);
    loom_seq_batch b = {3, 4, 3, gsrc, gsrc_lens, gtin, gtout, gtgt_lens};
    loom_params *ps = loom_seq_model_params(m);
    double loss;
    long tokens;
    loom_params_zero_grad(ps);
    ck_assert_int_eq(loom_seq_forward(m, w, &b, 1, 0, NULL, &loss, &tokens, NULL), 0);
    ck_assert_int_eq(loom_seq_backward(m, w, &b, 1.0f / tokens), 0);
    size_t nf, nr;
    float *g = loom_params_grads(ps, &nf);
    float *whole = malloc(nf * sizeof(float));
    memcpy(whole, g, nf * sizeof(float));
    loom_params_zero_grad(ps);
    loom_seq_batch b1 = b, b2 = b;
    b1.n = 1;
    b2.n = 2, b2.src += 4, b2.src_lens += 1, b2.tgt_in += 3, b2.tgt_out += 3, b2.tgt_lens += 1;
    ck_assert_int_eq(loom_seq_forward(m, w, &b1, 1, 0, NULL, &loss, &tokens, NULL), 0);
    ck_assert_int_eq(loom_seq_backward(m, w, &b1, 1.0f / 8), 0);
    ck_assert_int_eq(loom_seq_forward(r, w2, &b2, 1, 0, NULL, &loss, &tokens, NULL), 0);
    ck_assert_int_eq(loom_seq_backward(r, w2, &b2, 1.0f / 8), 0);
    float *g2 = loom_seq_replica_grads(r, &nr);
    ck_assert_uint_eq(nf, nr);
    for (size_t i = 0; i < nf; i++)
        ck_assert_msg(fabsf(g[i] + g2[i] - whole[i]) < 1e-5f, "gradient %zu", i);
    free(whole);
    loom_seq_work_free(w);
    loom_seq_work_free(w2);
    loom_seq_model_free(r);
    loom_seq_model_free(m);
}
END_TEST

/* Training passes that read packs shared by the step's workers (refilled
 * in parts after the weights changed) give the loss and the gradients of
 * passes that pack the weights themselves, to the bit. */
START_TEST(shared_packs_equal_own_packs)
{
    loom_seq_model *m;
    ck_assert_int_eq(loom_seq_model_new(&m, &grad_configs[_i], 7), 0);
    loom_seq_work *own, *shared;
    loom_seq_packs *pk;
    ck_assert_int_eq(loom_seq_work_new(&own, m), 0);
    ck_assert_int_eq(loom_seq_work_new(&shared, m), 0);
    ck_assert_int_eq(loom_seq_packs_new(&pk, m), 0);
    loom_seq_work_set_packs(shared, pk);
    loom_seq_batch b = {4, 4, 3, gsrc, gsrc_lens, gtin, gtout, gtgt_lens};
    loom_params *ps = loom_seq_model_params(m);
    /* an update after the packs were made: they must be refilled */
    for (size_t k = 0; k < loom_params_len(ps); k++) {
        loom_param *p = loom_params_at(ps, k);
        for (size_t i = 0; i < p->size; i++)
            p->value[i] += 0.01f * (float)((i * 7 + k) % 5) - 0.02f;
    }
    for (int part = 0; part < 3; part++)
        loom_seq_packs_refill(pk, m, part, 3);
    size_t nf;
    float *g = loom_params_grads(ps, &nf);
    float *want = malloc(nf * sizeof(float));
    loom_params_zero_grad(ps);
    double loss_own = batch_loss(m, own, &b, 1);
    memcpy(want, g, nf * sizeof(float));
    loom_params_zero_grad(ps);
    double loss_shared = batch_loss(m, shared, &b, 1);
    ck_assert_msg(loss_own == loss_shared, "loss %.9g, shared packs %.9g", loss_own, loss_shared);
    for (size_t i = 0; i < nf; i++)
        ck_assert_msg(memcmp(&g[i], &want[i], sizeof(float)) == 0, "gradient %zu: %.9g, %.9g", i,
                      g[i], want[i]);
    free(want);
    loom_seq_packs_free(pk);
    loom_seq_work_free(own);
    loom_seq_work_free(shared);
    loom_seq_model_free(m);
}
END_TEST

/* ---- decoding ---- */

static void random_sources(loom_rng *rng, int *src, int *lens, int n, int S, int V)
{
    for (int i = 0; i < n; i++) {
        lens[i] = 1 + (int)loom_rng_below(rng, (uint32_t)S);
        for (int j = 0; j < S; j++)
            src[i * S + j] = j < lens[i] ? 4 + (int)loom_rng_below(rng, (uint32_t)(V - 4)) : 0;
    }
}

START_TEST(beam_never_scores_below_greedy)
{
    loom_seq_config c = {
        _i % 2 ? LOOM_RNN_LSTM : LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 8, 12, 8, 15, 9, 0, 0, 1};
    loom_seq_model *m;
    ck_assert_int_eq(loom_seq_model_new(&m, &c, 100 + _i), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    enum { N = 24, S = 6 };
    int src[N * S], lens[N], counts[N], counts_g[N];
    loom_rng rng;
    loom_rng_seed(&rng, 7, _i);
    random_sources(&rng, src, lens, N, S, c.src_vocab);
    loom_seq_decode_opts o;
    loom_seq_decode_defaults(&o);
    loom_seq_hyp greedy[N];
    ck_assert_int_eq(loom_seq_decode(m, w, src, lens, N, S, &o, greedy, counts_g), 0);
    for (int K = 2; K <= 6; K += 2) {
        for (float alpha = 0; alpha <= 1.01f; alpha += 0.5f) {
            loom_seq_hyp beam[N * 2], g1[N];
            o.beam = K, o.nbest = 2, o.alpha = alpha;
            ck_assert_int_eq(loom_seq_decode(m, w, src, lens, N, S, &o, beam, counts), 0);
            loom_seq_decode_opts og = o;
            og.beam = 1, og.nbest = 1;
            ck_assert_int_eq(loom_seq_decode(m, w, src, lens, N, S, &og, g1, counts_g), 0);
            for (int i = 0; i < N; i++) {
                ck_assert_int_ge(counts[i], 1);
                ck_assert_msg(beam[i * 2].score >= g1[i].score - 1e-6f,
                              "K %d alpha %g sentence %d: beam %g < greedy %g", K, alpha, i,
                              beam[i * 2].score, g1[i].score);
                if (counts[i] > 1) /* the n-best list is sorted */
                    ck_assert(beam[i * 2].score >= beam[i * 2 + 1].score);
                loom_seq_hyps_free(&beam[i * 2], counts[i]);
            }
            loom_seq_hyps_free(g1, N);
        }
    }
    loom_seq_hyps_free(greedy, N);
    loom_seq_work_free(w);
    loom_seq_model_free(m);
}
END_TEST

/* Batched decoding gives each sentence what decoding it alone gives. */
START_TEST(batched_decoding_equals_one_at_a_time)
{
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, b.model), 0);
    enum { N = 8, S = 6 };
    int src[N * S], lens[N], counts[N], c1;
    loom_rng rng;
    loom_rng_seed(&rng, 3, 0);
    random_sources(&rng, src, lens, N, S, (int)loom_vocab_size(b.vocab[0]));
    loom_seq_decode_opts o;
    loom_seq_decode_defaults(&o);
    o.beam = _i ? 4 : 1;
    o.align = 1;
    loom_seq_hyp all[N], one;
    ck_assert_int_eq(loom_seq_decode(b.model, w, src, lens, N, S, &o, all, counts), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(
            loom_seq_decode(b.model, w, src + i * S, &lens[i], 1, lens[i], &o, &one, &c1), 0);
        ck_assert_int_eq(one.len, all[i].len);
        ck_assert_mem_eq(one.ids, all[i].ids, one.len * sizeof(int));
        ck_assert_msg(fabsf(one.score - all[i].score) < 1e-4f, "scores %g %g", one.score,
                      all[i].score);
        /* the same attention rows, batched (sentences leave the batched
         * state as they end) or alone; each sums to 1 over the source */
        ck_assert_int_eq(one.src_len, lens[i]);
        ck_assert_int_eq(all[i].src_len, S);
        for (int t = 0; t < one.len; t++)
            for (int j = 0; j < lens[i]; j++)
                ck_assert_float_eq_tol(one.align[t * one.src_len + j],
                                       all[i].align[t * all[i].src_len + j], 1e-5f);
        for (int t = 0; t < one.len; t++) {
            float s = 0;
            for (int j = 0; j < lens[i]; j++)
                s += one.align[t * one.src_len + j];
            ck_assert(fabsf(s - 1) < 1e-4f);
        }
        loom_seq_hyps_free(&one, 1);
    }
    /* the trained reverse model reverses */
    int abc[] = {(int)loom_vocab_find(b.vocab[0], "a", 1), (int)loom_vocab_find(b.vocab[0], "b", 1),
                 (int)loom_vocab_find(b.vocab[0], "c", 1)};
    int n3 = 3;
    ck_assert_int_eq(loom_seq_decode(b.model, w, abc, &n3, 1, 3, &o, &one, &c1), 0);
    ck_assert_int_eq(one.len, 3);
    ck_assert_str_eq(loom_vocab_word(b.vocab[1], one.ids[0]), "c");
    ck_assert_str_eq(loom_vocab_word(b.vocab[1], one.ids[2]), "a");
    loom_seq_hyps_free(&one, 1);
    loom_seq_hyps_free(all, N);
    loom_seq_work_free(w);
    loom_seq_bundle_free(&b);
}
END_TEST

/* A sentence's output never depends on the sentences decoded with it: the
 * default length limit (2 x source length + 10) is each sentence's own.
 * A model that can never end (</s> made impossible) runs every hypothesis
 * to its limit, batched or alone, greedy and beam. */
START_TEST(length_limits_are_per_sentence)
{
    loom_seq_config c = {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 8, 12, 8, 15, 9, 0, 0, 1};
    loom_seq_model *m;
    ck_assert_int_eq(loom_seq_model_new(&m, &c, 7), 0);
    loom_param *bias = loom_params_find(loom_seq_model_params(m), "out.bias");
    ck_assert_ptr_nonnull(bias);
    bias->value[LOOM_EOS] = -1e4f;
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    enum { N = 6, S = 9 };
    int src[N * S], lens[N] = {9, 1, 4, 9, 2, 6}, counts[N], c1;
    for (int i = 0; i < N * S; i++)
        src[i] = i % S < lens[i / S] ? 4 + i % 11 : 0;
    loom_seq_decode_opts o;
    loom_seq_decode_defaults(&o);
    o.beam = _i ? 3 : 1;
    loom_seq_hyp all[N], one;
    ck_assert_int_eq(loom_seq_decode(m, w, src, lens, N, S, &o, all, counts), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(counts[i], 1);
        ck_assert_int_eq(all[i].finished, 0);
        ck_assert_int_eq(all[i].len, 2 * lens[i] + 10);
        ck_assert_int_eq(loom_seq_decode(m, w, src + i * S, &lens[i], 1, lens[i], &o, &one, &c1),
                         0);
        ck_assert_int_eq(one.len, all[i].len);
        ck_assert_mem_eq(one.ids, all[i].ids, one.len * sizeof(int));
        loom_seq_hyps_free(&one, 1);
    }
    loom_seq_hyps_free(all, N);
    /* a fixed --max-len applies to every sentence alike */
    o.max_len = 5;
    ck_assert_int_eq(loom_seq_decode(m, w, src, lens, N, S, &o, all, counts), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(all[i].len, 5);
    loom_seq_hyps_free(all, N);
    loom_seq_work_free(w);
    loom_seq_model_free(m);
}
END_TEST

/* ---- decoding scores are the model's probabilities ---- */

static const loom_seq_config score_configs[] = {
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 2, 1, 8, 12, 8, 15, 9, 0, 0, 1},
    {LOOM_RNN_LSTM, LOOM_ATTN_GENERAL, 1, 1, 8, 12, 8, 15, 9, 0, 0, 1},
    {LOOM_RNN_ELMAN, LOOM_ATTN_DOT, 1, 0, 8, 12, 8, 15, 9, 0, 0, 1},
    {LOOM_RNN_GRU, LOOM_ATTN_NONE, 1, 1, 8, 12, 8, 15, 40, 0, 0, 1},
    {LOOM_RNN_LSTM, LOOM_ATTN_BAHDANAU, 1, 1, 8, 12, 8, 15, 15, 0, 1, 1},
    {LOOM_RNN_GRU, LOOM_ATTN_BAHDANAU, 1, 1, 8, 12, 8, 15, 9, 0, 0, 2}, /* stacked decoder */
    {LOOM_RNN_GRU, LOOM_ATTN_GENERAL, 2, 1, 8, 12, 8, 15, 9, 0, 0, 3},
};
#define N_SCORE_CONFIGS ((int)(sizeof score_configs / sizeof *score_configs))

/* A teacher-forced batch of n target sequences, each for one of the
 * sources (src_of[k] indexes src/lens): tgt_in = <s> y, tgt_out = y </s>. */
typedef struct {
    loom_seq_batch b;
    int *buf;
} test_batch;

static void test_batch_make(test_batch *t, const int *src, const int *lens, int S,
                            const int *src_of, int *const *ys, const int *ylens, int n)
{
    int T = 1;
    for (int k = 0; k < n; k++)
        T = ylens[k] + 1 > T ? ylens[k] + 1 : T;
    t->buf = calloc((size_t)n * (S + 3 * T + 2), sizeof(int));
    ck_assert_ptr_nonnull(t->buf);
    int *p = t->buf;
    t->b = (loom_seq_batch){n,
                            S,
                            T,
                            p,
                            p + (size_t)n * S,
                            p + (size_t)n * (S + 1),
                            p + (size_t)n * (S + 1 + T),
                            p + (size_t)n * (S + 1 + 2 * T)};
    for (int k = 0; k < n; k++) {
        memcpy(t->b.src + (size_t)k * S, src + (size_t)src_of[k] * S, S * sizeof(int));
        t->b.src_lens[k] = lens[src_of[k]];
        int *ti = t->b.tgt_in + (size_t)k * T, *to = t->b.tgt_out + (size_t)k * T;
        ti[0] = LOOM_BOS;
        for (int j = 0; j < ylens[k]; j++)
            ti[j + 1] = to[j] = ys[k][j];
        to[ylens[k]] = LOOM_EOS;
        t->b.tgt_lens[k] = ylens[k] + 1;
    }
}

/* rel, and 1e-6 absolute: a log-probability near 0 (a likely token) keeps
 * the log-softmax's absolute rounding, ~1e-7 of the largest logit, and
 * decoding and training round differently (few-row and batched products) */
static int rel_close(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-6;
}

/* Greedy and beam hypotheses carry log p(y | x) = the sum of
 * loom_seq_forward's per-token log-probabilities along them (</s>
 * included when the hypothesis ended), with and without the decoding
 * tables of loom_seq_model_prepare_decoding. */
static const char *const score_fixtures[] = {"reverse.loom", "old-gru.loom", "old-lstm.loom"};
#define N_SCORE_MODELS (N_SCORE_CONFIGS + 3)

START_TEST(decode_scores_equal_forward_log_probabilities)
{
    /* random models of each kind (which rarely end: hypotheses stop at the
     * length limit), then trained ones (which end) */
    int which = _i % N_SCORE_MODELS;
    loom_seq_model *m;
    loom_seq_bundle fb = {0};
    if (which < N_SCORE_CONFIGS) {
        ck_assert_int_eq(loom_seq_model_new(&m, &score_configs[which], 200 + _i), 0);
    } else {
        ck_assert_int_eq(
            loom_seq_file_load(&fb, fixture(score_fixtures[which - N_SCORE_CONFIGS]), NULL), 0);
        m = fb.model;
    }
    const loom_seq_config *c = loom_seq_model_config(m);
    if (_i >= N_SCORE_MODELS)
        ck_assert_int_eq(loom_seq_model_prepare_decoding(m), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    enum { N = 10, S = 6, K = 4 };
    int src[N * S], lens[N], counts[N];
    loom_rng rng;
    loom_rng_seed(&rng, 11, _i);
    random_sources(&rng, src, lens, N, S, c->src_vocab);
    loom_seq_decode_opts o;
    loom_seq_decode_defaults(&o);
    o.alpha = 0.6f;
    long compared = 0, finished = 0, tokens_out = 0;
    for (int beam = 1; beam <= K; beam += K - 1) {
        o.beam = beam, o.nbest = beam;
        loom_seq_hyp hyps[N * K];
        ck_assert_int_eq(loom_seq_decode(m, w, src, lens, N, S, &o, hyps, counts), 0);
        int src_of[N * K], ylens[N * K], *ys[N * K], n = 0;
        const loom_seq_hyp *h[N * K];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < counts[i]; j++) {
                h[n] = &hyps[i * beam + j];
                src_of[n] = i, ys[n] = h[n]->ids, ylens[n] = h[n]->len;
                n++;
            }
        test_batch t;
        test_batch_make(&t, src, lens, S, src_of, ys, ylens, n);
        float *logp = calloc((size_t)n * t.b.tgt_len, sizeof(float));
        double loss;
        long tokens;
        ck_assert_int_eq(loom_seq_forward(m, w, &t.b, 0, 0, NULL, &loss, &tokens, logp), 0);
        for (int k = 0; k < n; k++) {
            double sum = 0;
            for (int j = 0; j < h[k]->len + h[k]->finished; j++)
                sum += logp[(size_t)k * t.b.tgt_len + j];
            ck_assert_msg(rel_close(sum, h[k]->logp, 1e-5),
                          "config %d, beam %d, hypothesis %d (%d tokens%s): decoder %.8g, "
                          "forward %.8g",
                          _i, beam, k, h[k]->len, h[k]->finished ? " and </s>" : "", h[k]->logp,
                          sum);
            ck_assert(rel_close(h[k]->score,
                                loom_seq_score(h[k]->logp, h[k]->len + h[k]->finished, o.alpha),
                                1e-6));
            compared++;
            finished += h[k]->finished;
            tokens_out += h[k]->len;
        }
        free(logp);
        free(t.buf);
        for (int i = 0; i < N; i++)
            loom_seq_hyps_free(&hyps[i * beam], counts[i]);
    }
    ck_assert_int_gt(compared, N);
    ck_assert_int_gt(tokens_out, compared);
    if (which >= N_SCORE_CONFIGS)
        ck_assert_int_gt(finished, compared / 2);
    if (getenv("LOOM_TEST_VERBOSE"))
        fprintf(stderr, "decode scores model %d: %ld hypotheses (%ld finished), %ld tokens\n", _i,
                compared, finished, tokens_out);
    loom_seq_work_free(w);
    if (fb.model)
        loom_seq_bundle_free(&fb);
    else
        loom_seq_model_free(m);
}
END_TEST

/* loom_seq_step fed a reference sentence gives, at every position, the
 * log-probability of the reference token that loom_seq_forward gives
 * (teacher forcing), with and without the decoding tables; its
 * distributions are normalised. */
START_TEST(step_log_probabilities_equal_forward)
{
    const loom_seq_config *c = &score_configs[_i % N_SCORE_CONFIGS];
    loom_seq_model *m;
    ck_assert_int_eq(loom_seq_model_new(&m, c, 300 + _i), 0);
    if (_i >= N_SCORE_CONFIGS)
        ck_assert_int_eq(loom_seq_model_prepare_decoding(m), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, m), 0);
    enum { N = 7, S = 6, L = 9 };
    int src[N * S], lens[N], y[N][L], ylens[N], src_of[N], *ys[N];
    loom_rng rng;
    loom_rng_seed(&rng, 13, _i);
    random_sources(&rng, src, lens, N, S, c->src_vocab);
    for (int i = 0; i < N; i++) {
        src_of[i] = i, ys[i] = y[i];
        ylens[i] = 1 + (int)loom_rng_below(&rng, L);
        for (int j = 0; j < ylens[i]; j++) /* any id but <pad> and <s>: </s>, <unk> too */
            do
                y[i][j] = 1 + (int)loom_rng_below(&rng, (uint32_t)(c->tgt_vocab - 1));
            while (y[i][j] == LOOM_BOS);
    }
    test_batch t;
    test_batch_make(&t, src, lens, S, src_of, ys, ylens, N);
    int T = t.b.tgt_len, V = c->tgt_vocab;
    float *logp = calloc((size_t)N * T, sizeof(float)),
          *rows = malloc((size_t)N * V * sizeof(float));
    double loss;
    long tokens;
    ck_assert_int_eq(loom_seq_forward(m, w, &t.b, 0, 0, NULL, &loss, &tokens, logp), 0);
    loom_seq_state *st;
    ck_assert_int_eq(loom_seq_start(&st, m, w, src, lens, N, S, 1), 0);
    ck_assert_int_eq(loom_seq_state_rows(st), N);
    int prev[N];
    long compared = 0;
    for (int j = 0; j < T; j++) {
        for (int i = 0; i < N; i++)
            prev[i] = t.b.tgt_in[(size_t)i * T + j];
        loom_seq_step(m, st, prev, rows, NULL);
        for (int i = 0; i < N; i++) {
            if (j >= t.b.tgt_lens[i])
                continue;
            double z = 0;
            for (int v = 0; v < V; v++)
                z += exp(rows[(size_t)i * V + v]);
            ck_assert_msg(fabs(z - 1) < 1e-5, "sum of p %g", z);
            float want = logp[(size_t)i * T + j];
            float got = rows[(size_t)i * V + t.b.tgt_out[(size_t)i * T + j]];
            ck_assert_msg(rel_close(got, want, 1e-5),
                          "config %d, sentence %d, position %d: step %.8g, forward %.8g", _i, i, j,
                          got, want);
            compared++;
        }
    }
    ck_assert_int_eq(compared, tokens);
    loom_seq_state_free(st);
    free(t.buf);
    free(logp);
    free(rows);
    loom_seq_work_free(w);
    loom_seq_model_free(m);
}
END_TEST

/* ---- data ---- */

static void expect_read_error(const char *text, const char *want, int two_files)
{
    loom_tok_opts t;
    loom_tok_opts_default(&t);
    loom_seq_pairs *p = NULL;
    const char *path = test_path(two_files ? "src.txt" : "pairs.tsv");
    write_text(path, text);
    const char *tgt = NULL;
    if (two_files) {
        tgt = test_path("tgt.txt");
        write_text(tgt, "un\ndeux\n");
    }
    int rc = loom_seq_pairs_read(&p, path, tgt, &t, &t);
    ck_assert_int_eq(rc, LOOM_EFORMAT);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(loom_error_message(), want), "message '%s' lacks '%s'",
                  loom_error_message(), want);
}

START_TEST(bad_pairs_are_errors_with_file_and_line)
{
    expect_read_error("a b\tc d\nno tab here\n", "pairs.tsv:2: no TAB", 0);
    expect_read_error("a\tb\n\t\tx\n", "pairs.tsv:2: empty source side", 0);
    expect_read_error("a\tb\nc\tb\nd\t\n", "pairs.tsv:3: empty target side", 0);
    expect_read_error("a\tb\nok\tbad \xff\xfe\n", "pairs.tsv:2:", 0);
    expect_read_error("one\ntwo\nthree\n", "tgt.txt: ends at line 3", 1);
}
END_TEST

/* path's pairs (*p), vocabularies of all their words (v) and the corpus
 * of the pairs of at most 4 tokens a side; small_corpus_free frees all */
static loom_seq_corpus *small_corpus(const char *path, loom_seq_pairs **p, loom_vocab *v[2])
{
    loom_tok_opts t;
    loom_tok_opts_default(&t);
    ck_assert_int_eq(loom_seq_pairs_read(p, path, NULL, &t, &t), 0);
    for (int s = 0; s < 2; s++) {
        ck_assert_int_eq(loom_vocab_new(&v[s]), 0);
        loom_vocab_add_specials(v[s]);
        loom_seq_pairs_count_vocab(*p, s, v[s]);
        loom_vocab_finalize(v[s], 1, 0);
    }
    loom_seq_corpus *c;
    ck_assert_int_eq(loom_seq_corpus_build(&c, *p, v[0], v[1], 4), 0);
    return c;
}

static void small_corpus_free(loom_seq_corpus *c, loom_seq_pairs *p, loom_vocab *v[2])
{
    loom_seq_corpus_free(c);
    loom_vocab_free(v[0]);
    loom_vocab_free(v[1]);
    loom_seq_pairs_free(p);
}

START_TEST(pairs_read_columns_and_batches)
{
    const char *path = test_path("p.tsv");
    write_text(path, "Hello, world!\tBonjour le monde !\textra\n\nA B C D E F\tx\nshort\tcourt\n");
    loom_seq_pairs *p;
    loom_vocab *v[2];
    loom_seq_corpus *c = small_corpus(path, &p, v);
    ck_assert_uint_eq(loom_seq_pairs_count(p), 3);
    ck_assert_uint_eq(loom_seq_pairs_len(p, 0, 0), 4); /* hello , world ! */
    ck_assert_uint_eq(loom_seq_pairs_len(p, 0, 1), 4); /* the third column is ignored */
    ck_assert_str_eq(loom_seq_pairs_token(p, 0, 0, 0), "hello");
    ck_assert_uint_eq(c->n, 2);
    ck_assert_uint_eq(c->dropped, 1); /* the 6-word source */
    loom_seq_batcher *bt;
    ck_assert_int_eq(loom_seq_batcher_new(&bt, c, 2, 1), 0);
    loom_seq_batcher_epoch(bt, 0, 1);
    loom_seq_batch b;
    ck_assert_int_eq(loom_seq_batcher_get(bt, 0, &b), 0);
    ck_assert_int_eq(b.n, 2);
    ck_assert_int_eq(b.src_len, 4);
    ck_assert_int_eq(b.tgt_len, 5);
    for (int i = 0; i < 2; i++) {
        int L = b.tgt_lens[i];
        ck_assert_int_eq(b.tgt_in[i * b.tgt_len], LOOM_BOS);
        ck_assert_int_eq(b.tgt_out[i * b.tgt_len + L - 1], LOOM_EOS);
        for (int j = b.src_lens[i]; j < b.src_len; j++)
            ck_assert_int_eq(b.src[i * b.src_len + j], LOOM_PAD);
    }
    loom_seq_batcher_free(bt);
    small_corpus_free(c, p, v);
}
END_TEST

/* With parts set, every batch holds the same pairs as without, and each
 * worker's share of its rows (share g of n: [n g / P, n (g + 1) / P))
 * runs longest target first, the shares dealt alike lengths. */
START_TEST(batches_dealt_to_workers_run_longest_first)
{
    const char *path = test_path("deal.tsv");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 23; i++) { /* sources of 1-3 words, targets of 1-4 */
        for (int k = 0; k <= i % 3; k++)
            fprintf(f, "%sw%d", k ? " " : "", k);
        fputc('\t', f);
        for (int k = 0; k <= i * 7 % 4; k++)
            fprintf(f, "%st%d", k ? " " : "", (i + k) % 5);
        fputc('\n', f);
    }
    fclose(f);
    loom_seq_pairs *p;
    loom_vocab *v[2];
    loom_seq_corpus *c = small_corpus(path, &p, v);
    ck_assert_uint_eq(c->n, 23);
    loom_seq_batcher *plain, *dealt;
    ck_assert_int_eq(loom_seq_batcher_new(&plain, c, 7, 3), 0);
    ck_assert_int_eq(loom_seq_batcher_new(&dealt, c, 7, 3), 0);
    int P = 2 + _i; /* 2 and 3 workers; the last batch has 2 rows */
    loom_seq_batcher_set_parts(dealt, P);
    loom_seq_batcher_epoch(plain, 1, 1);
    loom_seq_batcher_epoch(dealt, 1, 1);
    ck_assert_uint_eq(loom_seq_batcher_count(dealt), 4);
    int reordered = 0;
    for (size_t k = 0; k < 4; k++) {
        loom_seq_batch a, b;
        ck_assert_int_eq(loom_seq_batcher_get(plain, k, &a), 0);
        int n = a.n, S = a.src_len, T = a.tgt_len;
        int key_a[7], key_b[7]; /* each row as its lengths and first ids */
        for (int i = 0; i < n; i++)
            key_a[i] = ((a.src_lens[i] * 8 + a.tgt_lens[i]) * 64 + a.tgt_out[i * T]) * 64 +
                       a.tgt_out[i * T + 1];
        ck_assert_int_eq(loom_seq_batcher_get(dealt, k, &b), 0);
        ck_assert_int_eq(b.n, n);
        ck_assert_int_eq(b.src_len, S);
        ck_assert_int_eq(b.tgt_len, T);
        int most = 0;
        for (int i = 0; i < n; i++) {
            key_b[i] = ((b.src_lens[i] * 8 + b.tgt_lens[i]) * 64 + b.tgt_out[i * T]) * 64 +
                       b.tgt_out[i * T + 1];
            reordered += key_b[i] != key_a[i];
            most = b.tgt_lens[i] > most ? b.tgt_lens[i] : most;
        }
        for (int i = 0; i < n; i++) { /* the same rows: each key as often in both */
            int na = 0, nb = 0;
            for (int j = 0; j < n; j++)
                na += key_a[j] == key_a[i], nb += key_b[j] == key_a[i];
            ck_assert_int_eq(na, nb);
        }
        int parts = P < n ? P : n;
        for (int g = 0; g < parts; g++) {
            int r0 = n * g / parts, r1 = n * (g + 1) / parts;
            for (int i = r0 + 1; i < r1; i++)
                ck_assert_int_ge(b.tgt_lens[i - 1], b.tgt_lens[i]);
            if (g == 0)
                ck_assert_int_eq(b.tgt_lens[0], most);
            else /* dealt in turn: share g starts no longer than share g - 1 */
                ck_assert_int_le(b.tgt_lens[r0], b.tgt_lens[n * (g - 1) / parts]);
        }
    }
    ck_assert_int_gt(reordered, 0);
    loom_seq_batcher_free(plain);
    loom_seq_batcher_free(dealt);
    small_corpus_free(c, p, v);
}
END_TEST

/* ---- model files ---- */

START_TEST(model_file_round_trip_and_bad_files)
{
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    loom_st_writer *w;
    ck_assert_int_eq(loom_seq_file_writer(&w, &b), 0);
    const char *copy = test_path("copy.loom");
    ck_assert_int_eq(loom_st_writer_save(w, copy), 0);
    loom_st_writer_free(w);
    loom_seq_bundle b2;
    ck_assert_int_eq(loom_seq_file_load(&b2, copy, NULL), 0);
    loom_params *p1 = loom_seq_model_params(b.model), *p2 = loom_seq_model_params(b2.model);
    size_t n1, n2;
    float *v1 = loom_params_values(p1, &n1), *v2 = loom_params_values(p2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(v1, v2, n1 * sizeof(float));
    for (int s = 0; s < 2; s++) {
        ck_assert_uint_eq(loom_vocab_size(b.vocab[s]), loom_vocab_size(b2.vocab[s]));
        for (size_t i = 0; i < loom_vocab_size(b.vocab[s]); i++)
            ck_assert_str_eq(loom_vocab_word(b.vocab[s], (int32_t)i),
                             loom_vocab_word(b2.vocab[s], (int32_t)i));
    }
    char *desc;
    ck_assert_int_eq(loom_seq_describe(&desc, copy), 0);
    ck_assert_ptr_nonnull(strstr(desc, "loom-seq2seq"));
    ck_assert_ptr_nonnull(strstr(desc, "bahdanau"));
    free(desc);
    loom_seq_bundle_free(&b2);

    /* truncated: every cut is refused, none crashes */
    FILE *f = fopen(copy, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bytes = malloc(size);
    ck_assert_int_eq(fread(bytes, 1, size, f), size);
    fclose(f);
    const char *cut = test_path("cut.loom");
    long cuts[] = {0, 4, 8, 20, size / 2, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        FILE *g = fopen(cut, "wb");
        fwrite(bytes, 1, cuts[k], g);
        fclose(g);
        ck_assert_int_lt(loom_seq_file_load(&b2, cut, NULL), 0);
        ck_assert_ptr_nonnull(strstr(loom_error_message(), "cut.loom"));
    }
    free(bytes);
    /* foreign: a valid safetensors file that is not a loom model */
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    float x[2] = {1, 2};
    int shape[1] = {2};
    loom_st_writer_add_f32(w, "x", 1, shape, x);
    const char *foreign = test_path("foreign.safetensors");
    ck_assert_int_eq(loom_st_writer_save(w, foreign), 0);
    loom_st_writer_free(w);
    ck_assert_int_eq(loom_seq_file_load(&b2, foreign, NULL), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "not a loom sequence model"));
    ck_assert_int_eq(loom_seq_is_model_file(foreign), 0);
    ck_assert_int_eq(loom_seq_is_model_file(copy), 1);
    loom_seq_bundle_free(&b);
}
END_TEST

/* ---- transfer learning ---- */

START_TEST(frozen_source_embeddings_stay_the_vectors)
{
    loom_tok_opts t;
    loom_tok_opts_default(&t);
    loom_seq_pairs *p;
    ck_assert_int_eq(loom_seq_pairs_read(&p, fixture("reverse-valid.tsv"), NULL, &t, &t), 0);
    loom_seq_bundle b = {0};
    for (int s = 0; s < 2; s++) {
        ck_assert_int_eq(loom_vocab_new(&b.vocab[s]), 0);
        loom_vocab_add_specials(b.vocab[s]);
        loom_seq_pairs_count_vocab(p, s, b.vocab[s]);
        loom_vocab_finalize(b.vocab[s], 1, 0);
        b.tok[s] = t;
    }
    /* vectors for a, b, c, d and a word the data lacks; dimension 5 */
    const char *words[] = {"a", "b", "c", "d", "zz"};
    float rows[25];
    for (int i = 0; i < 25; i++)
        rows[i] = 0.1f * (float)(i % 7) - 0.3f + 1e-7f * (float)i;
    const char *vec = test_path("v.bin");
    ck_assert_int_eq(loom_vectors_save_rows(vec, LOOM_VEC_BIN, 5, 5, words, rows), 0);
    loom_seq_config c = {LOOM_RNN_GRU,
                         LOOM_ATTN_BAHDANAU,
                         1,
                         1,
                         5,
                         6,
                         4,
                         (int)loom_vocab_size(b.vocab[0]),
                         (int)loom_vocab_size(b.vocab[1]),
                         0.1f,
                         0,
                         1};
    ck_assert_int_eq(loom_seq_model_new(&b.model, &c, 1), 0);
    loom_params *ps = loom_seq_model_params(b.model);
    loom_param *emb = loom_params_find(ps, "src_emb.weight");
    loom_seq_coverage cov;
    ck_assert_int_eq(loom_seq_init_embedding(emb, b.vocab[0], vec, 0, 1, &cov), 0);
    ck_assert_uint_eq(cov.found, 4);
    ck_assert_uint_eq(cov.words, 8);
    loom_params_freeze(ps, "src_emb.", 1);
    float *frozen_before = malloc(emb->size * sizeof(float));
    memcpy(frozen_before, emb->value, emb->size * sizeof(float));
    loom_seq_corpus *corpus;
    ck_assert_int_eq(loom_seq_corpus_build(&corpus, p, b.vocab[0], b.vocab[1], 0), 0);
    loom_seq_train_opts o;
    loom_seq_train_defaults(&o);
    o.epochs = 2, o.batch = 16, o.lr = 0.05f, o.checkpoint = NULL;
    loom_seq_train_result res;
    const char *model = test_path("frozen.loom");
    ck_assert_int_eq(loom_seq_train(&b, corpus, NULL, &o, model, NULL, NULL, NULL, NULL, &res), 0);
    ck_assert_int_gt(res.steps, 0);
    loom_seq_bundle back;
    ck_assert_int_eq(loom_seq_file_load(&back, model, NULL), 0);
    const float *saved =
        loom_params_find(loom_seq_model_params(back.model), "src_emb.weight")->value;
    for (int k = 0; k < 4; k++) {
        int32_t id = loom_vocab_find(back.vocab[0], words[k], 1);
        ck_assert_int_ge(id, 4);
        ck_assert_mem_eq(saved + (size_t)id * 5, rows + k * 5, 5 * sizeof(float));
    }
    /* the frozen table is bit for bit what it was before training, and
     * every other tensor did train: compared with its initial value (a
     * fresh model of the same seed), every element of every weight and
     * bias changed, and the target table's rows of the words and of <s>
     * changed */
    loom_params *bps = loom_seq_model_params(back.model);
    ck_assert_mem_eq(saved, frozen_before, emb->size * sizeof(float));
    ck_assert_mem_eq(emb->value, frozen_before, emb->size * sizeof(float));
    loom_seq_model *fresh;
    ck_assert_int_eq(loom_seq_model_new(&fresh, &c, 1), 0);
    loom_params *fps = loom_seq_model_params(fresh);
    ck_assert_uint_eq(loom_params_len(bps), loom_params_len(fps));
    for (size_t k = 0; k < loom_params_len(bps); k++) {
        const loom_param *trained = loom_params_at(bps, k), *init = loom_params_at(fps, k);
        ck_assert_str_eq(trained->name, init->name);
        if (strcmp(trained->name, "src_emb.weight") == 0)
            continue;
        int is_tgt = strcmp(trained->name, "tgt_emb.weight") == 0;
        for (size_t i = 0; i < trained->size; i++) {
            size_t row = i / (size_t)c.emb; /* the target table: <s> and the words */
            if (is_tgt && row != LOOM_BOS && row < 4)
                continue;
            ck_assert_msg(trained->value[i] != init->value[i], "%s[%zu] did not change in training",
                          trained->name, i);
        }
    }
    /* a vector file of another dimension is a clear error */
    ck_assert_int_eq(loom_vectors_save_rows(vec, LOOM_VEC_BIN, 5, 1, words, rows), 0);
    ck_assert_int_eq(loom_seq_init_embedding(emb, b.vocab[0], vec, 0, 1, &cov), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "dimension 1"));
    loom_seq_model_free(fresh);
    free(frozen_before);
    loom_seq_bundle_free(&back);
    loom_seq_corpus_free(corpus);
    loom_seq_bundle_free(&b);
    loom_seq_pairs_free(p);
}
END_TEST

START_TEST(vocab_from_vectors_adds_the_vectors_words)
{
    loom_vocab *counts, *v;
    ck_assert_int_eq(loom_vocab_new(&counts), 0);
    loom_vocab_add_specials(counts);
    loom_vocab_add(counts, "the", 3, 5);
    loom_vocab_add(counts, "cat", 3, 2);
    loom_vocab_add(counts, "rare", 4, 1);
    loom_vocab_add(counts, "once", 4, 1);
    ck_assert_int_eq(loom_vocab_finalize(counts, 1, 0), 0);
    const char *path = test_path("v.txt");
    write_text(path, "5 2\ndog 1 2\nthe 3 4\nrare 5 6\n</s> 7 8\nant 9 10\n");
    size_t added;
    /* all the vectors' words: training words reaching --min-count 2 first,
     * then by count (rare was seen once, dog and ant never), then bytes */
    ck_assert_int_eq(loom_seq_vocab_with_vectors(&v, counts, 2, 0, path, 0, &added), 0);
    ck_assert_uint_eq(added, 3);
    ck_assert_uint_eq(loom_vocab_size(v), 9);
    const char *order[] = {"the", "cat", "rare", "ant", "dog"};
    const uint64_t count[] = {5, 2, 1, 0, 0};
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(loom_vocab_word(v, 4 + i), order[i]);
        ck_assert_uint_eq(loom_vocab_count(v, 4 + i), count[i]);
    }
    ck_assert_int_eq(loom_vocab_find(v, "once", 4), -1); /* under min-count, no vector */
    ck_assert_int_eq(loom_vocab_find(v, "</s>", 4), LOOM_EOS);
    loom_vocab_free(v);
    /* only the first 2 words of the file; --max-vocab 1 */
    ck_assert_int_eq(loom_seq_vocab_with_vectors(&v, counts, 2, 1, path, 2, &added), 0);
    ck_assert_uint_eq(added, 1);
    ck_assert_uint_eq(loom_vocab_size(v), 6);
    ck_assert_int_ge(loom_vocab_find(v, "dog", 3), 4);
    ck_assert_int_eq(loom_vocab_find(v, "cat", 3), -1);
    ck_assert_int_eq(loom_vocab_find(v, "rare", 4), -1);
    loom_vocab_free(v);
    ck_assert_int_eq(
        loom_seq_vocab_with_vectors(&v, counts, 2, 0, test_path("none.txt"), 0, &added),
        LOOM_ENOTFOUND);
    ck_assert_ptr_null(v);
    loom_vocab_free(counts);
}
END_TEST

/* Words the training data never saw get their vectors, and keep them
 * through training (frozen) and the model file: a word seen once ("q")
 * and an unseen one that sorts before it ("c") keep their ids. */
START_TEST(vocab_from_vectors_survives_training_and_the_model_file)
{
    const char *pairs = test_path("p.tsv");
    FILE *f = fopen(pairs, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 40; i++)
        fputs(i % 2 ? "a b\tb a\n" : "b a b\tb a b\n", f);
    fputs("a q\tq a\n", f);
    fclose(f);
    const char *vec = test_path("v.txt");
    write_text(vec, "3 4\nb 0.5 -0.25 0.125 1\nq 0.1 0.2 0.3 0.4\nc -1.5 2.5 0.75 -0.5\n");
    const float qrow[] = {0.1f, 0.2f, 0.3f, 0.4f}, crow[] = {-1.5f, 2.5f, 0.75f, -0.5f};
    loom_tok_opts t;
    loom_tok_opts_default(&t);
    loom_seq_pairs *p;
    ck_assert_int_eq(loom_seq_pairs_read(&p, pairs, NULL, &t, &t), 0);
    loom_seq_bundle b = {0};
    loom_vocab *counts;
    ck_assert_int_eq(loom_vocab_new(&counts), 0);
    loom_vocab_add_specials(counts);
    loom_seq_pairs_count_vocab(p, 0, counts);
    loom_vocab_finalize(counts, 1, 0);
    size_t added;
    ck_assert_int_eq(loom_seq_vocab_with_vectors(&b.vocab[0], counts, 1, 0, vec, 0, &added), 0);
    loom_vocab_free(counts);
    ck_assert_uint_eq(added, 1);
    ck_assert_int_eq(loom_vocab_new(&b.vocab[1]), 0);
    loom_vocab_add_specials(b.vocab[1]);
    loom_seq_pairs_count_vocab(p, 1, b.vocab[1]);
    loom_vocab_finalize(b.vocab[1], 1, 0);
    b.tok[0] = b.tok[1] = t;
    int32_t qid = loom_vocab_find(b.vocab[0], "q", 1), cid = loom_vocab_find(b.vocab[0], "c", 1);
    ck_assert_int_eq(qid, 6);
    ck_assert_int_eq(cid, 7);
    loom_seq_config c = {LOOM_RNN_GRU,
                         LOOM_ATTN_BAHDANAU,
                         1,
                         1,
                         4,
                         6,
                         4,
                         (int)loom_vocab_size(b.vocab[0]),
                         (int)loom_vocab_size(b.vocab[1]),
                         0,
                         0,
                         1};
    ck_assert_int_eq(loom_seq_model_new(&b.model, &c, 1), 0);
    loom_params *ps = loom_seq_model_params(b.model);
    loom_seq_coverage cov;
    ck_assert_int_eq(loom_seq_init_embedding(loom_params_find(ps, "src_emb.weight"), b.vocab[0],
                                             vec, 0, 1, &cov),
                     0);
    ck_assert_uint_eq(cov.found, 3);
    ck_assert_uint_eq(cov.words, 4);
    loom_params_freeze(ps, "src_emb.", 1);
    loom_seq_corpus *corpus;
    ck_assert_int_eq(loom_seq_corpus_build(&corpus, p, b.vocab[0], b.vocab[1], 0), 0);
    ck_assert_uint_eq(corpus->unknown[0], 0);
    loom_seq_train_opts o;
    loom_seq_train_defaults(&o);
    o.epochs = 1, o.batch = 8, o.checkpoint = NULL;
    loom_seq_train_result res;
    const char *model = test_path("vv.loom");
    ck_assert_int_eq(loom_seq_train(&b, corpus, NULL, &o, model, NULL, NULL, NULL, NULL, &res), 0);
    loom_seq_bundle back;
    ck_assert_int_eq(loom_seq_file_load(&back, model, NULL), 0);
    ck_assert_int_eq(loom_vocab_find(back.vocab[0], "q", 1), qid);
    ck_assert_int_eq(loom_vocab_find(back.vocab[0], "c", 1), cid);
    ck_assert_uint_eq(loom_vocab_count(back.vocab[0], cid), 0);
    const float *saved =
        loom_params_find(loom_seq_model_params(back.model), "src_emb.weight")->value;
    ck_assert_mem_eq(saved + (size_t)qid * 4, qrow, sizeof qrow);
    ck_assert_mem_eq(saved + (size_t)cid * 4, crow, sizeof crow);
    loom_seq_bundle_free(&back);
    loom_seq_corpus_free(corpus);
    loom_seq_bundle_free(&b);
    loom_seq_pairs_free(p);
}
END_TEST

START_TEST(scale_vectors_gives_unit_standard_deviation)
{
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    loom_vocab_add_specials(v);
    loom_vocab_add(v, "a", 1, 3);
    loom_vocab_add(v, "b", 1, 2);
    loom_vocab_add(v, "unseen", 6, 1);
    loom_vocab_finalize(v, 1, 0);
    /* values 1 -1 3 -3 1 -1 3 -3: mean 0, standard deviation sqrt(5) */
    const char *path = test_path("v.txt");
    write_text(path, "2 4\na 1 -1 3 -3\nb 1 -1 3 -3\n");
    loom_param emb = {0};
    float value[7 * 4];
    emb.value = value, emb.ndim = 2, emb.shape[0] = 7, emb.shape[1] = 4, emb.size = 28;
    loom_seq_coverage cov;
    ck_assert_int_eq(loom_seq_init_embedding(&emb, v, path, 0, 1, &cov), 0);
    ck_assert_double_eq_tol(cov.sd, sqrt(5.0), 1e-6);
    ck_assert_double_eq(cov.scale, 1);
    const float raw[] = {1, -1, 3, -3};
    ck_assert_mem_eq(value + 4 * 4, raw, sizeof raw); /* unscaled: the vectors as they are */
    ck_assert_int_eq(loom_seq_init_embedding(&emb, v, path, 1, 1, &cov), 0);
    ck_assert_double_eq_tol(cov.scale, 1 / sqrt(5.0), 1e-6);
    for (int id = 4; id < 6; id++)
        for (int j = 0; j < 4; j++)
            ck_assert_float_eq_tol(value[id * 4 + j], raw[j] / sqrtf(5.0f), 1e-6f);
    loom_vocab_free(v);
}
END_TEST

static Suite *seq_suite(void)
{
    Suite *s = suite_create("seq");
    TCase *tc = tcase_create("seq");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, forward_matches_pytorch, 0,
                        (int)(sizeof equiv_models / sizeof *equiv_models));
    tcase_add_loop_test(tc, gradients_match_finite_differences, 0, 2 * N_GRAD_CONFIGS);
    tcase_add_loop_test(tc, step_logp_equals_forward_logp, 0,
                        sizeof grad_configs / sizeof *grad_configs);
    tcase_add_test(tc, replica_gradients_add_up);
    tcase_add_loop_test(tc, shared_packs_equal_own_packs, 0,
                        (int)(sizeof grad_configs / sizeof *grad_configs));
    tcase_add_loop_test(tc, beam_never_scores_below_greedy, 0, 4);
    tcase_add_loop_test(tc, batched_decoding_equals_one_at_a_time, 0, 2);
    tcase_add_loop_test(tc, length_limits_are_per_sentence, 0, 2);
    tcase_add_loop_test(tc, decode_scores_equal_forward_log_probabilities, 0, 2 * N_SCORE_CONFIGS);
    tcase_add_loop_test(tc, step_log_probabilities_equal_forward, 0, 2 * N_SCORE_CONFIGS);
    tcase_add_test(tc, bad_pairs_are_errors_with_file_and_line);
    tcase_add_test(tc, pairs_read_columns_and_batches);
    tcase_add_loop_test(tc, batches_dealt_to_workers_run_longest_first, 0, 2);
    tcase_add_test(tc, model_file_round_trip_and_bad_files);
    tcase_add_test(tc, frozen_source_embeddings_stay_the_vectors);
    tcase_add_test(tc, vocab_from_vectors_adds_the_vectors_words);
    tcase_add_test(tc, scale_vectors_gives_unit_standard_deviation);
    tcase_add_test(tc, vocab_from_vectors_survives_training_and_the_model_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(seq_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

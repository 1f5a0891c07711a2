/* Tests for src/seq/translator (translation as a library call): strings in,
 * translations out, equal to the search on ids; each sentence's result is
 * what it is alone, whatever the batch, the threads or the concurrent
 * calls; ensembles follow the mean of their members' log-probabilities;
 * --replace-unk and hard alignments; the post-processing hook; files read
 * in windows; errors naming the sentence, the line or the model. */
#include "config.h"
#include "base/error.h"
#include "base/rng.h"
#include "seq/decode.h"
#include "seq/model_file.h"
#include "seq/translator.h"
#include "text/vocab.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* N sentences of random source words of the reverse model (some empty). */
enum { N = 40 };
static char sentences[N][256];
static const char *sentence_ptrs[N];

static void make_sentences(const loom_vocab *v, uint64_t seed)
{
    loom_rng rng;
    loom_rng_seed(&rng, seed, 0);
    uint32_t V = (uint32_t)loom_vocab_size(v);
    for (int i = 0; i < N; i++) {
        int len = i % 13 == 5 ? 0 : 1 + (int)loom_rng_below(&rng, 9);
        char *p = sentences[i];
        *p = '\0';
        for (int k = 0; k < len; k++)
            p += sprintf(p, "%s%s", k ? " " : "",
                         loom_vocab_word(v, 4 + loom_rng_below(&rng, V - 4)));
        sentence_ptrs[i] = sentences[i];
    }
}

static loom_translator *open_reverse(int beam, int nbest, int batch, int threads, int align)
{
    loom_translate_opts o;
    loom_translate_defaults(&o);
    o.decode.beam = beam, o.decode.nbest = nbest, o.decode.align = align;
    o.batch = batch, o.threads = threads;
    const char *path = fixture("reverse.loom");
    loom_translator *t;
    ck_assert_msg(loom_translator_open(&t, &path, 1, &o) == 0, "%s", loom_error_message());
    return t;
}

/* Two translations are the same: texts, ids, scores (to rounding) and
 * attention over the sentence's own tokens. */
static void assert_same(const loom_translation *a, const loom_translation *b)
{
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->src_len, b->src_len);
    for (int j = 0; j < a->n; j++) {
        const loom_seq_hyp *x = &a->hyps[j].hyp, *y = &b->hyps[j].hyp;
        ck_assert_str_eq(a->hyps[j].text, b->hyps[j].text);
        ck_assert_int_eq(x->len, y->len);
        ck_assert_int_eq(x->finished, y->finished);
        ck_assert_mem_eq(x->ids, y->ids, x->len * sizeof(int));
        ck_assert_msg(fabsf(x->score - y->score) < 1e-4f, "scores %g %g", x->score, y->score);
        ck_assert(!x->align == !y->align);
        if (!x->align)
            continue;
        ck_assert_int_eq(x->src_len, a->src_len);
        ck_assert_int_eq(y->src_len, b->src_len);
        for (int k = 0; k < (x->len + x->finished) * x->src_len; k++)
            ck_assert_float_eq_tol(x->align[k], y->align[k], 1e-5f);
    }
}

/* The translator gives what the search on ids gives, with the words of
 * the target vocabulary; the reverse model reverses. */
START_TEST(translate_matches_the_search_on_ids)
{
    loom_translator *t = open_reverse(3, 2, 64, 1, 0);
    const char *src[] = {"a b c", "h g f e d", ""};
    loom_translation out[3];
    ck_assert_int_eq(loom_translator_translate(t, src, NULL, 3, out), 0);
    ck_assert_str_eq(out[0].hyps[0].text, "c b a");
    ck_assert_str_eq(out[1].hyps[0].text, "d e f g h");
    ck_assert_int_eq(out[2].n, 0);
    ck_assert_int_eq(out[2].src_len, 0);
    ck_assert_int_eq(out[1].src_len, 5);
    ck_assert_str_eq(out[1].src_tokens[4], "d");

    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, b.model), 0);
    for (int i = 0; i < 2; i++) {
        loom_seq_hyp hyps[2];
        int count, len = out[i].src_len;
        ck_assert_int_eq(loom_seq_decode(b.model, w, out[i].src_ids, &len, 1, len,
                                         &loom_translator_opts(t)->decode, hyps, &count),
                         0);
        ck_assert_int_eq(count, out[i].n);
        for (int j = 0; j < count; j++) {
            const loom_translation_hyp *h = &out[i].hyps[j];
            ck_assert_int_eq(hyps[j].len, h->hyp.len);
            ck_assert_mem_eq(hyps[j].ids, h->hyp.ids, hyps[j].len * sizeof(int));
            ck_assert_float_eq_tol(hyps[j].score, h->hyp.score, 1e-6f);
            for (int k = 0; k < h->hyp.len; k++)
                ck_assert_str_eq(h->words[k], loom_vocab_word(b.vocab[1], h->hyp.ids[k]));
        }
        loom_seq_hyps_free(hyps, count);
    }
    loom_seq_work_free(w);
    loom_seq_bundle_free(&b);
    loom_translations_free(out, 3);
    loom_translator_free(t);
}
END_TEST

/* The same output bytes (text, ids, ending) and the same scores and
 * attention to float rounding: 1e-5 relative. Not to the bit: the matrix
 * products round differently with the number of rows they hold (seen:
 * last-bit differences, about 2e-6 relative, with and without AVX2). */
static void assert_identical(const loom_translation *a, const loom_translation *b, int i)
{
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->src_len, b->src_len);
    for (int j = 0; j < a->n; j++) {
        const loom_seq_hyp *x = &a->hyps[j].hyp, *y = &b->hyps[j].hyp;
        ck_assert_str_eq(a->hyps[j].text, b->hyps[j].text);
        ck_assert_int_eq(x->len, y->len);
        ck_assert_int_eq(x->finished, y->finished);
        ck_assert_mem_eq(x->ids, y->ids, x->len * sizeof(int));
        ck_assert_msg(fabsf(x->score - y->score) <= 1e-5f * fabsf(y->score) &&
                          fabsf(x->logp - y->logp) <= 1e-5f * fabsf(y->logp),
                      "sentence %d hypothesis %d: score %.9g / %.9g, log p %.9g / %.9g", i, j,
                      x->score, y->score, x->logp, y->logp);
        ck_assert(!x->align == !y->align);
        for (int k = 0; x->align && k < (x->len + x->finished) * x->src_len; k++)
            ck_assert_msg(fabsf(x->align[k] - y->align[k]) <= 1e-5f,
                          "sentence %d: attention %.9g / %.9g", i, x->align[k], y->align[k]);
    }
}

/* Each sentence's translation is what it is alone: translated in calls of
 * 2, 5, 16 and 40 sentences (one batch per call, so its company is the
 * other sentences of the call, shorter and longer, padded to the longest)
 * and in batches of 7 on two threads, beam or greedy, with attention. A
 * server may merge the requests of many clients into one call. */
START_TEST(a_sentence_does_not_depend_on_its_batch_company)
{
    int beam = _i ? 4 : 1;
    loom_translator *alone = open_reverse(beam, beam, 1, 1, 1);
    make_sentences(loom_translator_vocab(alone, 0), 11);
    loom_translation one[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(loom_translator_translate(alone, &sentence_ptrs[i], NULL, 1, &one[i]), 0);
    int sizes[] = {2, 5, 16, N, 7}, nonempty = 0;
    for (int c = 0; c < 5; c++) {
        int B = sizes[c];
        loom_translator *batched = open_reverse(beam, beam, B, c == 4 ? 2 : 1, 1);
        loom_translation all[N];
        for (int i0 = 0; i0 < N; i0 += B) {
            int n = c == 4 ? N : N - i0 < B ? N - i0 : B;
            ck_assert_int_eq(
                loom_translator_translate(batched, &sentence_ptrs[i0], NULL, n, &all[i0]), 0);
            if (c == 4)
                break;
        }
        for (int i = 0; i < N; i++) {
            ck_assert(sentences[i][0] ? all[i].n >= 1 : all[i].n == 0);
            nonempty += all[i].n > 0;
            assert_identical(&all[i], &one[i], i);
        }
        loom_translations_free(all, N);
        loom_translator_free(batched);
    }
    ck_assert_int_gt(nonempty, 4 * N);
    loom_translations_free(one, N);
    loom_translator_free(alone);
}
END_TEST

/* Continuous batching: sentences that join a running greedy batch (a
 * stream) at different steps, five at once or one a step, with a 20-word
 * sentence that widens the state and more sentences than its first room,
 * each get what they get alone; each is handed back once. */
typedef struct {
    loom_translation *out;
    int *got;
} stream_sink;

static int take_translation(void *ctx, void *tag, int index, loom_translation *tr)
{
    stream_sink *k = ctx;
    int i = (int)(intptr_t)tag + index;
    if (k->got[i]++)
        loom_translations_free(&k->out[i], 1);
    k->out[i] = *tr;
    return 0;
}

START_TEST(a_sentence_joining_a_running_batch_is_translated_as_alone)
{
    loom_translator *t = open_reverse(1, 1, 1, 1, 0);
    const loom_vocab *v = loom_translator_vocab(t, 0);
    make_sentences(v, 12);
    enum { M = N + 1 };
    static char longest[512];
    char *p = longest;
    for (int k = 0; k < 20; k++)
        p += sprintf(p, "%s%s", k ? " " : "",
                     loom_vocab_word(v, 4 + (k * 5) % (loom_vocab_size(v) - 4)));
    const char *src[M];
    for (int i = 0; i < N; i++)
        src[i] = sentence_ptrs[i];
    src[N] = longest;
    loom_translation one[M], all[M];
    int got[M] = {0};
    for (int i = 0; i < M; i++)
        ck_assert_int_eq(loom_translator_translate(t, &src[i], NULL, 1, &one[i]), 0);
    ck_assert(one[N].n == 1 && one[N].src_len == 20);

    loom_translator_stream *ts;
    ck_assert_int_eq(loom_translator_stream_new(&ts, t, loom_translator_opts(t), 3), 0);
    stream_sink k = {all, got};
    /* five at once, then one a step: the long one joins in the middle */
    int order[M], added = 0, steps = 0;
    for (int i = 0; i < M; i++)
        order[i] = i < 20 ? i : i == 20 ? N : i - 1;
    ck_assert_int_eq(loom_translator_stream_add(ts, src, NULL, 5, (void *)(intptr_t)0), 0);
    added = 5;
    while ((added < M || loom_translator_stream_size(ts) > 0) && steps < 10000) {
        if (added < M) {
            int i = order[added++];
            ck_assert_int_eq(loom_translator_stream_add(ts, &src[i], NULL, 1, (void *)(intptr_t)i),
                             0);
        }
        ck_assert_int_eq(loom_translator_stream_step(ts, take_translation, &k), 0);
        steps++;
    }
    ck_assert_int_eq(loom_translator_stream_size(ts), 0);
    /* the same words, ids and ending; scores to rounding (a lone sentence
     * mixes its attention contexts through P, a running batch by one GEMM:
     * seen 1e-6 apart in log p) */
    for (int i = 0; i < M; i++) {
        ck_assert_int_eq(got[i], 1);
        ck_assert_int_eq(all[i].n, one[i].n);
        ck_assert_int_eq(all[i].src_len, one[i].src_len);
        for (int j = 0; j < one[i].n; j++) {
            const loom_seq_hyp *x = &all[i].hyps[j].hyp, *y = &one[i].hyps[j].hyp;
            ck_assert_str_eq(all[i].hyps[j].text, one[i].hyps[j].text);
            ck_assert_int_eq(x->len, y->len);
            ck_assert_int_eq(x->finished, y->finished);
            ck_assert_mem_eq(x->ids, y->ids, x->len * sizeof(int));
            ck_assert_msg(fabsf(x->score - y->score) <= 1e-5f && fabsf(x->logp - y->logp) <= 1e-5f,
                          "sentence %d: score %.9g / %.9g, log p %.9g / %.9g", i, x->score,
                          y->score, x->logp, y->logp);
        }
    }
    loom_translations_free(all, M);
    /* a stream freed with sentences in it (the sanitizers look for leaks) */
    ck_assert_int_eq(loom_translator_stream_add(ts, src, NULL, 8, (void *)(intptr_t)0), 0);
    ck_assert_int_eq(loom_translator_stream_step(ts, take_translation, &k), 0);
    ck_assert_int_eq(loom_translator_stream_add(ts, src + 8, NULL, 3, (void *)(intptr_t)8), 0);
    loom_translator_stream_free(ts);
    for (int i = 0; i < M; i++)
        if (got[i] > 1)
            loom_translations_free(&all[i], 1);
    /* beam search, alignments, replace_unk: not a stream's (the first two
     * the decoding stream refuses, the last the translator) */
    loom_translate_opts o = *loom_translator_opts(t);
    ck_assert(loom_translator_stream_fits(t, &o));
    o.decode.beam = 4;
    ck_assert(!loom_translator_stream_fits(t, &o));
    ck_assert_int_eq(loom_translator_stream_new(&ts, t, &o, 4), LOOM_EINVAL);
    ck_assert_ptr_null(ts);
    o.decode.beam = 1, o.decode.align = 1;
    ck_assert(!loom_translator_stream_fits(t, &o));
    ck_assert_int_eq(loom_translator_stream_new(&ts, t, &o, 4), LOOM_EINVAL);
    o.decode.align = 0, o.replace_unk = 1;
    ck_assert(!loom_translator_stream_fits(t, &o));
    ck_assert_int_eq(loom_translator_stream_new(&ts, t, &o, 4), LOOM_EINVAL);
    ck_assert_ptr_null(ts);
    loom_translations_free(one, M);
    loom_translator_free(t);
}
END_TEST

/* Calls from several threads at once share one translator (workspaces come
 * from its pool) and each gets what a lone call gets. */
typedef struct {
    loom_translator *t;
    loom_translation out[N];
    int rc;
} caller;

static void *call_translate(void *arg)
{
    caller *c = arg;
    for (int rep = 0; rep < 3 && !c->rc; rep++) {
        if (rep)
            loom_translations_free(c->out, N);
        c->rc = loom_translator_translate(c->t, sentence_ptrs, NULL, N, c->out);
    }
    return NULL;
}

START_TEST(concurrent_calls_get_what_a_lone_call_gets)
{
    loom_translator *t = open_reverse(3, 1, 8, 2, 1);
    make_sentences(loom_translator_vocab(t, 0), 12);
    loom_translation ref[N];
    ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, ref), 0);
    enum { CALLERS = 4 };
    static caller c[CALLERS];
    pthread_t tid[CALLERS];
    for (int k = 0; k < CALLERS; k++) {
        c[k] = (caller){.t = t};
        ck_assert_int_eq(pthread_create(&tid[k], NULL, call_translate, &c[k]), 0);
    }
    for (int k = 0; k < CALLERS; k++)
        pthread_join(tid[k], NULL);
    for (int k = 0; k < CALLERS; k++) {
        ck_assert_int_eq(c[k].rc, 0);
        for (int i = 0; i < N; i++)
            assert_same(&c[k].out[i], &ref[i]);
        loom_translations_free(c[k].out, N);
    }
    loom_translations_free(ref, N);
    loom_translator_free(t);
}
END_TEST

/* Options given for one call are that call's: the same as a translator
 * made with them, and the translator's own are left as they were. */
START_TEST(options_for_one_call)
{
    loom_translator *t = open_reverse(1, 1, 64, 1, 0), *t4 = open_reverse(4, 2, 5, 2, 1);
    make_sentences(loom_translator_vocab(t, 0), 16);
    loom_translation a[N], b[N], c[N];
    ck_assert_int_eq(
        loom_translator_translate_with(t, loom_translator_opts(t4), sentence_ptrs, NULL, N, a), 0);
    ck_assert_int_eq(loom_translator_translate(t4, sentence_ptrs, NULL, N, b), 0);
    ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, c), 0);
    for (int i = 0; i < N; i++) {
        assert_same(&a[i], &b[i]);
        ck_assert(c[i].n <= 1 && (c[i].n == 0 || !c[i].hyps[0].hyp.align));
    }
    loom_translate_opts bad = *loom_translator_opts(t);
    bad.decode.nbest = 3;
    ck_assert_int_eq(loom_translator_translate_with(t, &bad, sentence_ptrs, NULL, N, c),
                     LOOM_EINVAL);
    loom_translations_free(a, N);
    loom_translations_free(b, N);
    loom_translations_free(c, N);
    loom_translator_free(t);
    loom_translator_free(t4);
}
END_TEST

/* Adds noise to every weight: a second model with the same vocabularies. */
static void perturb(loom_seq_model *m, uint64_t seed)
{
    loom_rng rng;
    loom_rng_seed(&rng, seed, 0);
    loom_params *ps = loom_seq_model_params(m);
    for (size_t p = 0; p < loom_params_len(ps); p++) {
        loom_param *w = loom_params_at(ps, p);
        for (size_t k = 0; k < w->size; k++)
            w->value[k] += 0.3f * (loom_rng_uniform(&rng) - 0.5f);
    }
}

/* An ensemble of one is the model; of the model twice, the model too
 * (the mean of equal log-probabilities is exact). */
START_TEST(an_ensemble_of_copies_is_the_model)
{
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    loom_seq_bundle *one[] = {&b}, *two[] = {&b, &b};
    loom_translate_opts o;
    loom_translate_defaults(&o);
    o.decode.beam = 3, o.decode.nbest = 3, o.decode.align = 1;
    loom_translator *t1, *t2, *t0 = open_reverse(3, 3, 64, 1, 1);
    ck_assert_int_eq(loom_translator_new(&t1, one, 1, &o), 0);
    ck_assert_int_eq(loom_translator_new(&t2, two, 2, &o), 0);
    make_sentences(b.vocab[0], 13);
    loom_translation r0[N], r1[N], r2[N];
    ck_assert_int_eq(loom_translator_translate(t0, sentence_ptrs, NULL, N, r0), 0);
    ck_assert_int_eq(loom_translator_translate(t1, sentence_ptrs, NULL, N, r1), 0);
    ck_assert_int_eq(loom_translator_translate(t2, sentence_ptrs, NULL, N, r2), 0);
    for (int i = 0; i < N; i++) {
        assert_same(&r1[i], &r0[i]);
        assert_same(&r2[i], &r0[i]);
        for (int j = 0; j < r0[i].n; j++)
            ck_assert(r2[i].hyps[j].hyp.score == r0[i].hyps[j].hyp.score);
    }
    /* a translation stream runs one model: not an ensemble's, even of one */
    loom_translate_opts g = o;
    g.decode.beam = g.decode.nbest = 1, g.decode.align = 0;
    loom_translator_stream *ts;
    ck_assert(loom_translator_stream_fits(t1, &g));
    ck_assert(!loom_translator_stream_fits(t2, &g));
    ck_assert_int_eq(loom_translator_stream_new(&ts, t2, &g, 4), LOOM_EINVAL);
    ck_assert_ptr_null(ts);
    loom_translations_free(r0, N);
    loom_translations_free(r1, N);
    loom_translations_free(r2, N);
    loom_translator_free(t0);
    loom_translator_free(t1);
    loom_translator_free(t2);
    loom_seq_bundle_free(&b);
}
END_TEST

/* An ensemble of two different models follows the mean of their
 * log-probabilities: stepping each member along the greedy output, every
 * chosen token is the mean's best and the score is the sum of the means. */
START_TEST(an_ensemble_follows_the_mean_log_probability)
{
    loom_seq_bundle a, b;
    ck_assert_int_eq(loom_seq_file_load(&a, fixture("reverse.loom"), NULL), 0);
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    perturb(b.model, 5);
    loom_seq_bundle *two[] = {&a, &b};
    loom_translate_opts o;
    loom_translate_defaults(&o);
    o.decode.alpha = 0; /* the score is the log-probability */
    loom_translator *t;
    ck_assert_int_eq(loom_translator_new(&t, two, 2, &o), 0);
    make_sentences(a.vocab[0], 14);
    loom_translation out[N];
    ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, out), 0);
    loom_seq_model *m[2] = {a.model, b.model};
    loom_seq_work *w[2];
    for (int e = 0; e < 2; e++)
        ck_assert_int_eq(loom_seq_work_new(&w[e], m[e]), 0);
    int V = (int)loom_vocab_size(a.vocab[1]), differs = 0;
    float *lp[2] = {malloc(V * sizeof(float)), malloc(V * sizeof(float))};
    for (int i = 0; i < N; i++) {
        if (out[i].n == 0)
            continue;
        const loom_seq_hyp *h = &out[i].hyps[0].hyp;
        loom_seq_state *st[2];
        int len = out[i].src_len, prev = LOOM_BOS;
        for (int e = 0; e < 2; e++)
            ck_assert_int_eq(loom_seq_start(&st[e], m[e], w[e], out[i].src_ids, &len, 1, len, 1),
                             0);
        double sum = 0, single = 0;
        for (int k = 0; k < h->len + h->finished; k++) {
            int tok = k < h->len ? h->ids[k] : LOOM_EOS;
            for (int e = 0; e < 2; e++)
                loom_seq_step(m[e], st[e], &prev, lp[e], NULL);
            float chosen = 0.5f * (lp[0][tok] + lp[1][tok]);
            for (int v = LOOM_UNK; v < V; v++)
                if (v != LOOM_BOS)
                    ck_assert_msg(0.5f * (lp[0][v] + lp[1][v]) <= chosen,
                                  "sentence %d step %d: token %d beats the chosen %d", i, k, v,
                                  tok);
            sum += chosen;
            single += lp[0][tok];
            prev = tok;
        }
        ck_assert_msg(fabs(sum - h->logp) < 1e-4 * (1 + fabs(sum)), "logp %g, mean %g", h->logp,
                      sum);
        differs += fabs(single - sum) > 1e-3;
        for (int e = 0; e < 2; e++)
            loom_seq_state_free(st[e]);
    }
    ck_assert_msg(differs > 0, "the members never disagreed: the test proves nothing");
    free(lp[0]);
    free(lp[1]);
    for (int e = 0; e < 2; e++)
        loom_seq_work_free(w[e]);
    loom_translations_free(out, N);
    loom_translator_free(t);
    loom_seq_bundle_free(&a);
    loom_seq_bundle_free(&b);
}
END_TEST

/* Models with other target vocabularies cannot form an ensemble; nor can
 * models that tokenise the source differently. */
START_TEST(an_ensemble_needs_one_target_vocabulary)
{
    loom_seq_bundle a, b;
    ck_assert_int_eq(loom_seq_file_load(&a, fixture("reverse.loom"), NULL), 0);
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    loom_vocab *v; /* the same size, one word changed */
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    ck_assert_int_eq(loom_vocab_add_specials(v), 0);
    for (size_t k = 4; k < loom_vocab_size(a.vocab[1]); k++) {
        const char *w = k == 6 ? "zz" : loom_vocab_word(a.vocab[1], (int32_t)k);
        ck_assert_int_eq(loom_vocab_add(v, w, strlen(w), 100 - k), 0);
    }
    ck_assert_int_eq(loom_vocab_finalize(v, 1, 0), 0);
    ck_assert_int_eq(loom_vocab_size(v), loom_vocab_size(a.vocab[1]));
    loom_vocab *kept = b.vocab[1];
    b.vocab[1] = v;
    loom_seq_bundle *two[] = {&a, &b};
    loom_translate_opts o;
    loom_translate_defaults(&o);
    loom_translator *t = (loom_translator *)1;
    ck_assert_int_eq(loom_translator_new(&t, two, 2, &o), LOOM_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(loom_error_message(), "ensemble member 2: its target vocabulary") != NULL,
                  "%s", loom_error_message());
    b.vocab[1] = kept;
    loom_vocab_free(v);
    b.tok[0].keep_case = !a.tok[0].keep_case;
    ck_assert_int_eq(loom_translator_new(&t, two, 2, &o), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "source tokenizer"));
    b.tok[0] = a.tok[0];
    o.decode.nbest = 2; /* above the beam */
    ck_assert_int_eq(loom_translator_new(&t, two, 2, &o), LOOM_EINVAL);
    o.decode.nbest = 1;
    ck_assert_int_eq(loom_translator_new(&t, two, 2, &o), 0);
    loom_translator_free(t);
    loom_seq_bundle_free(&a);
    loom_seq_bundle_free(&b);
}
END_TEST

/* --replace-unk writes an <unk> as the source token it attends to most;
 * hard alignments take the first of equal maxima. */
START_TEST(replace_unk_and_hard_alignments_take_the_attention_argmax)
{
    int ids[] = {5, LOOM_UNK, LOOM_UNK};
    float align[] = {0.5f, 0.2f, 0.3f,  /* row 0 */
                     0.1f, 0.1f, 0.8f,  /* row 1 */
                     0.4f, 0.4f, 0.2f,  /* row 2: a tie */
                     1.0f, 0.0f, 0.0f}; /* </s> */
    const char *tokens[] = {"x", "y", "zebra", NULL};
    const char *words[] = {"five", "<unk>", "<unk>"};
    loom_translation tr = {.src_len = 3, .src_tokens = tokens};
    loom_translation_hyp h = {.hyp = {ids, 3, 1, 0, 0, align, 3}, .words = words};
    loom_translation_replace_unk(&tr, &h);
    ck_assert_str_eq(words[0], "five");
    ck_assert_str_eq(words[1], "zebra");
    ck_assert_str_eq(words[2], "x");
    int hard[3];
    loom_seq_hard_align(&h.hyp, hard);
    ck_assert_int_eq(hard[0], 0);
    ck_assert_int_eq(hard[1], 2);
    ck_assert_int_eq(hard[2], 0);
    ck_assert_int_eq(loom_seq_align_argmax(align + 3, 2), 0);
    /* without attention nothing changes */
    words[1] = "<unk>";
    h.hyp.align = NULL;
    loom_translation_replace_unk(&tr, &h);
    ck_assert_str_eq(words[1], "<unk>");
}
END_TEST

/* The post-processing hook sees every hypothesis and may replace its text. */
static int shout(void *ctx, const loom_translation *t, loom_translation_hyp *h)
{
    (void)t;
    ++*(int *)ctx;
    size_t n = strlen(h->text);
    char *s = malloc(n + 2);
    if (!s)
        return LOOM_ENOMEM;
    for (size_t k = 0; k < n; k++)
        s[k] = (char)(h->text[k] >= 'a' && h->text[k] <= 'z' ? h->text[k] - 32 : h->text[k]);
    memcpy(s + n, "!", 2);
    free(h->text);
    h->text = s;
    return 0;
}

START_TEST(postprocessing_rewrites_each_hypothesis)
{
    loom_translate_opts o;
    loom_translate_defaults(&o);
    o.decode.beam = 2, o.decode.nbest = 2;
    int calls = 0;
    o.postprocess = shout, o.postprocess_ctx = &calls;
    const char *path = fixture("reverse.loom");
    loom_translator *t;
    ck_assert_int_eq(loom_translator_open(&t, &path, 1, &o), 0);
    const char *src[] = {"a b c", "d e"};
    loom_translation out[2];
    ck_assert_int_eq(loom_translator_translate(t, src, NULL, 2, out), 0);
    ck_assert_int_eq(calls, out[0].n + out[1].n);
    ck_assert_str_eq(out[0].hyps[0].text, "C B A!");
    ck_assert_str_eq(out[0].hyps[0].words[0], "c");
    loom_translations_free(out, 2);
    loom_translator_free(t);
}
END_TEST

/* The hook translator.h shows for BPE output, as printed there. */
static int join_bpe(void *ctx, const loom_translation *t, loom_translation_hyp *h)
{
    (void)ctx;
    int n = h->hyp.len, words = 0, *word = malloc((n + 1) * sizeof *word);
    char *p = h->text; /* the joined text is never longer */
    for (int k = 0; k < n; k++) {
        size_t len = strlen(h->words[k]);
        int piece = len > 2 && strcmp(h->words[k] + len - 2, "@@") == 0;
        memcpy(p, h->words[k], len - 2 * piece);
        p += len - 2 * piece;
        if (!piece && k + 1 < n)
            *p++ = ' ';
        word[k] = words;
        words += !piece || k + 1 == n;
    }
    *p = '\0';
    int rc = loom_translation_merge_align(t, h, word, words, NULL, t->src_len);
    free(word);
    return rc;
}

/* Subword merging through the hook: the reverse model with its target
 * words b and d renamed b@@ and d@@ (pieces that join the next word)
 * prints joined words, and the word alignment is the mean of the pieces'
 * attention rows (a source merge sums columns); rows stay distributions. */
START_TEST(postprocessing_merges_subword_pieces)
{
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, fixture("reverse.loom"), NULL), 0);
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    ck_assert_int_eq(loom_vocab_add_specials(v), 0);
    size_t V = loom_vocab_size(b.vocab[1]);
    for (size_t k = 4; k < V; k++) {
        const char *w = loom_vocab_word(b.vocab[1], (int32_t)k);
        char piece[64];
        snprintf(piece, sizeof piece, "%s%s", w, !strcmp(w, "b") || !strcmp(w, "d") ? "@@" : "");
        ck_assert_int_eq(loom_vocab_add(v, piece, strlen(piece), 100 - k), 0);
    }
    ck_assert_int_eq(loom_vocab_finalize(v, 1, 0), 0);
    ck_assert_int_eq(loom_vocab_size(v), V);
    loom_vocab *kept = b.vocab[1];
    b.vocab[1] = v;
    loom_seq_bundle *one[] = {&b};
    loom_translate_opts o;
    loom_translate_defaults(&o);
    o.decode.align = 1, o.postprocess = join_bpe;
    loom_translator *t;
    ck_assert_int_eq(loom_translator_new(&t, one, 1, &o), 0);
    const char *src[] = {"a b c", "e d c b", "d"};
    loom_translation out[3];
    ck_assert_int_eq(loom_translator_translate(t, src, NULL, 3, out), 0);
    ck_assert_str_eq(out[0].hyps[0].text, "c ba");
    ck_assert_str_eq(out[1].hyps[0].text, "bc de"); /* b@@ c d@@ e */
    ck_assert_str_eq(out[2].hyps[0].text, "d");
    for (int i = 0; i < 3; i++) {
        const loom_translation_hyp *h = &out[i].hyps[0];
        ck_assert_ptr_nonnull(h->word_align);
        ck_assert_int_eq(h->word_src_len, out[i].src_len);
        for (int r = 0; r < h->word_len; r++) {
            double sum = 0;
            for (int q = 0; q < h->word_src_len; q++)
                sum += h->word_align[r * h->word_src_len + q];
            ck_assert_msg(fabs(sum - 1) < 1e-5, "sentence %d word %d: weights sum to %g", i, r,
                          sum);
        }
    }
    /* "c ba": word 0 is piece 0, word 1 the mean of pieces 1 and 2 */
    const loom_translation_hyp *h = &out[0].hyps[0];
    const float *a = h->hyp.align;
    ck_assert_int_eq(h->word_len, 2);
    for (int q = 0; q < 3; q++) {
        ck_assert_float_eq_tol(h->word_align[q], a[q], 1e-7f);
        ck_assert_float_eq_tol(h->word_align[3 + q], 0.5f * (a[3 + q] + a[6 + q]), 1e-7f);
    }
    /* source tokens a b | c as two words: columns add up */
    loom_translation_hyp copy = *h;
    copy.word_align = NULL;
    int tgt[] = {0, 1, 1}, srcw[] = {0, 0, 1};
    ck_assert_int_eq(loom_translation_merge_align(&out[0], &copy, tgt, 2, srcw, 2), 0);
    ck_assert_int_eq(copy.word_src_len, 2);
    ck_assert_float_eq_tol(copy.word_align[0], a[0] + a[1], 1e-7f);
    ck_assert_float_eq_tol(copy.word_align[2], 0.5f * (a[3] + a[4] + a[6] + a[7]), 1e-6f);
    ck_assert_float_eq_tol(copy.word_align[3], 0.5f * (a[5] + a[8]), 1e-6f);
    free(copy.word_align);
    int bad[] = {0, 2, 1};
    ck_assert_int_eq(loom_translation_merge_align(&out[0], &copy, bad, 2, NULL, 3), LOOM_EINVAL);
    loom_translations_free(out, 3);
    loom_translator_free(t);
    b.vocab[1] = kept;
    loom_vocab_free(v);
    loom_seq_bundle_free(&b);
}
END_TEST

/* Bad input names the sentence; lengths may be given instead of NULs. */
START_TEST(a_bad_sentence_is_named)
{
    loom_translator *t = open_reverse(1, 1, 64, 1, 0);
    const char *src[] = {"a b", "c \xff d"};
    loom_translation out[2];
    ck_assert_int_eq(loom_translator_translate(t, src, NULL, 2, out), LOOM_EFORMAT);
    ck_assert_msg(strncmp(loom_error_message(), "sentence 2: ", 12) == 0, "%s",
                  loom_error_message());
    size_t lens[] = {3, 1}; /* "a b", "c" */
    ck_assert_int_eq(loom_translator_translate(t, src, lens, 2, out), 0);
    ck_assert_str_eq(out[0].hyps[0].text, "b a");
    ck_assert_str_eq(out[1].hyps[0].text, "c");
    loom_translations_free(out, 2);
    loom_translator_free(t);
}
END_TEST

/* A file is translated line by line in input order, whatever the window,
 * as the array call translates it; errors name the file and line. */
typedef struct {
    loom_translation *want;
    long long lines;
    int stop_at;
} file_check;

static int check_line(void *ctx, long long line, const loom_translation *t)
{
    file_check *c = ctx;
    ck_assert_int_eq(line, c->lines + 1);
    assert_same(t, &c->want[c->lines]);
    c->lines++;
    return line == c->stop_at ? LOOM_EIO : 0;
}

START_TEST(files_are_translated_in_input_order)
{
    int batch = _i == 0 ? 1 : _i == 1 ? 3 : 64;
    loom_translator *t = open_reverse(2, 1, batch, 2, 1);
    make_sentences(loom_translator_vocab(t, 0), 15);
    char text[N * 260], *p = text;
    for (int i = 0; i < N; i++)
        p += sprintf(p, "%s\n", sentences[i]);
    const char *path = test_path("in.txt");
    test_write_file(path, text, (size_t)(p - text));
    loom_translation want[N];
    ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, want), 0);
    file_check c = {want, 0, 0};
    ck_assert_int_eq(loom_translator_translate_file(t, path, check_line, &c), 0);
    ck_assert_int_eq(c.lines, N);
    c = (file_check){want, 0, 7};
    ck_assert_int_eq(loom_translator_translate_file(t, path, check_line, &c), LOOM_EIO);
    ck_assert_int_eq(c.lines, 7);
    test_write_file(path, "a b\nc \xff\n", 8);
    c = (file_check){want, 0, 0};
    ck_assert_int_eq(loom_translator_translate_file(t, path, check_line, &c), LOOM_EFORMAT);
    ck_assert_msg(strstr(loom_error_message(), "in.txt:2: ") != NULL, "%s", loom_error_message());
    loom_translations_free(want, N);
    loom_translator_free(t);
}
END_TEST

static Suite *translate_suite(void)
{
    Suite *s = suite_create("translate");
    TCase *tc = tcase_create("translate");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, translate_matches_the_search_on_ids);
    tcase_add_loop_test(tc, a_sentence_does_not_depend_on_its_batch_company, 0, 2);
    tcase_add_test(tc, a_sentence_joining_a_running_batch_is_translated_as_alone);
    tcase_add_test(tc, concurrent_calls_get_what_a_lone_call_gets);
    tcase_add_test(tc, options_for_one_call);
    tcase_add_test(tc, an_ensemble_of_copies_is_the_model);
    tcase_add_test(tc, an_ensemble_follows_the_mean_log_probability);
    tcase_add_test(tc, an_ensemble_needs_one_target_vocabulary);
    tcase_add_test(tc, replace_unk_and_hard_alignments_take_the_attention_argmax);
    tcase_add_test(tc, postprocessing_rewrites_each_hypothesis);
    tcase_add_test(tc, postprocessing_merges_subword_pieces);
    tcase_add_test(tc, a_bad_sentence_is_named);
    tcase_add_loop_test(tc, files_are_translated_in_input_order, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(translate_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

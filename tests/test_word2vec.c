/* Tests for the word2vec trainer: the Huffman tree, the noise and
 * subsampling draws, the HogBatch step against a plain per-pair
 * computation, corpus byte ranges that lose and repeat no word, and the
 * trainer itself (repeatable with one thread, learns co-occurrence, the
 * same vectors from the corpus held as ids as from its text, clear
 * errors). */
#include "config.h"
#include "base/error.h"
#include "base/rng.h"
#include "embed/hogbatch.h"
#include "embed/huffman.h"
#include "embed/idstream.h"
#include "embed/sampling.h"
#include "embed/shards.h"
#include "embed/word2vec.h"
#include "text/tokenizer.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

static void write_gzip(const char *path, const char *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

/* ---- Huffman ---- */

START_TEST(huffman_codes_are_a_complete_prefix_code)
{
    uint64_t counts[] = {50, 40, 30, 20, 10, 5, 5, 3, 2, 1, 1};
    size_t n = sizeof counts / sizeof *counts;
    loom_huffman h;
    ck_assert_int_eq(loom_huffman_build(&h, counts, n), 0);
    double kraft = 0;
    for (size_t w = 0; w < n; w++) {
        size_t len = h.offset[w + 1] - h.offset[w];
        ck_assert_uint_ge(len, 1);
        kraft += ldexp(1.0, -(int)len);
        /* every path starts at the root (row 0) and stays in range */
        ck_assert_uint_eq(h.points[h.offset[w]], 0);
        for (size_t i = h.offset[w]; i < h.offset[w + 1]; i++)
            ck_assert_uint_lt(h.points[i], n - 1);
        /* no code is a prefix of another */
        for (size_t u = 0; u < n; u++) {
            size_t lu = h.offset[u + 1] - h.offset[u];
            if (u == w || lu < len)
                continue;
            ck_assert_msg(memcmp(h.codes + h.offset[u], h.codes + h.offset[w], len) != 0,
                          "code of %zu is a prefix of %zu's", w, u);
        }
    }
    ck_assert_double_eq_tol(kraft, 1.0, 1e-12);
    /* frequent words get codes no longer than rare ones */
    ck_assert_uint_le(h.offset[1] - h.offset[0], h.offset[n] - h.offset[n - 1]);
    loom_huffman_free(&h);
}
END_TEST

START_TEST(huffman_single_word_has_empty_path)
{
    uint64_t counts[] = {7};
    loom_huffman h;
    ck_assert_int_eq(loom_huffman_build(&h, counts, 1), 0);
    ck_assert_uint_eq(h.offset[1] - h.offset[0], 0);
    loom_huffman_free(&h);
}
END_TEST

/* ---- sampling ---- */

START_TEST(noise_follows_counts_to_the_075)
{
    uint64_t counts[] = {1000, 100, 10, 1, 0};
    size_t n = 5;
    loom_noise t;
    ck_assert_int_eq(loom_noise_build(&t, counts, n, 0.75), 0);
    double want[5], sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += want[i] = pow((double)counts[i], 0.75);
    long hits[5] = {0};
    const long draws = 2000000;
    loom_rng rng;
    loom_rng_seed(&rng, 42, 0);
    for (long d = 0; d < draws; d++)
        hits[loom_noise_draw(&t, &rng)]++;
    for (size_t i = 0; i < n; i++) {
        double p = want[i] / sum, got = (double)hits[i] / draws;
        double sd = sqrt(p * (1 - p) / draws);
        ck_assert_msg(fabs(got - p) <= 5 * sd + 1e-9, "word %zu: %f, want %f", i, got, p);
    }
    ck_assert_int_eq(hits[4], 0);
    loom_noise_free(&t);
}
END_TEST

START_TEST(noise_of_nothing_is_an_error)
{
    uint64_t counts[] = {0, 0};
    loom_noise t;
    ck_assert_int_eq(loom_noise_build(&t, counts, 2, 0.75), LOOM_EINVAL);
    ck_assert_int_eq(loom_noise_build(&t, counts, 0, 0.75), LOOM_EINVAL);
}
END_TEST

START_TEST(subsampling_uses_word2vec_formula)
{
    uint64_t counts[] = {100000, 1000, 10};
    uint64_t keep[3];
    loom_subsample_thresholds(keep, counts, 3, 1000000, 1e-3);
    double f = 0.1, p = (sqrt(f / 1e-3) + 1) * 1e-3 / f;
    ck_assert_double_eq_tol(ldexp((double)keep[0], -32), p, 1e-6);
    ck_assert_uint_eq(keep[2], (uint64_t)1 << 32); /* rare: always kept */
    loom_subsample_thresholds(keep, counts, 3, 1000000, 0);
    ck_assert_uint_eq(keep[0], (uint64_t)1 << 32);
    /* the draw keeps about p of the time */
    loom_subsample_thresholds(keep, counts, 3, 1000000, 1e-3);
    loom_rng rng;
    loom_rng_seed(&rng, 1, 0);
    long kept = 0;
    for (int i = 0; i < 100000; i++)
        kept += loom_subsample_keep(keep, 0, &rng);
    ck_assert_double_eq_tol(kept / 100000.0, p, 0.01);
}
END_TEST

/* ---- the HogBatch step ---- */

/* The step done the plain way, pair by pair, in double precision. */
static double reference_step(float *in, size_t m, float *out, const float *label, size_t n,
                             size_t dim, float alpha, float *din)
{
    double loss = 0;
    double *g = calloc(m * n, sizeof *g);
    for (size_t a = 0; a < m; a++)
        for (size_t k = 0; k < n; k++) {
            double s = 0;
            for (size_t d = 0; d < dim; d++)
                s += (double)in[a * dim + d] * out[k * dim + d];
            double sig = 1 / (1 + exp(-s));
            g[a * n + k] = alpha * (label[k] - sig);
            loss -= label[k] > 0.5 ? log(sig) : log(1 - sig);
        }
    for (size_t a = 0; a < m; a++)
        for (size_t d = 0; d < dim; d++) {
            double v = 0;
            for (size_t k = 0; k < n; k++)
                v += g[a * n + k] * out[k * dim + d];
            din[a * dim + d] = (float)v;
        }
    for (size_t k = 0; k < n; k++)
        for (size_t d = 0; d < dim; d++) {
            double v = 0;
            for (size_t a = 0; a < m; a++)
                v += g[a * n + k] * in[a * dim + d];
            out[k * dim + d] += (float)v;
        }
    free(g);
    return loss;
}

/* level: 0 portable, 1 AVX2, 2 AVX-512; n output rows (more than 8 takes
 * the AVX-512 step's unfused path); dup: output row 2 repeats row 1 */
static void check_step(int level, size_t dim, size_t N, int dup)
{
    enum { M = 7 };
    loom_sigmoid_table t;
    loom_sigmoid_table_init(&t);
    if ((level >= 1 && !t.avx2) || (level >= 2 && !t.avx512))
        return; /* this CPU has not the level: the lower paths are tested */
    t.avx2 = level >= 1;
    t.avx512 = level >= 2;
    loom_rng rng;
    loom_rng_seed(&rng, 3, 0);
    float *in = malloc(M * dim * sizeof *in), *out = malloc(N * dim * sizeof *out);
    float *out2 = malloc(N * dim * sizeof *out2), *din = malloc(M * dim * sizeof *din);
    float *din2 = malloc(M * dim * sizeof *din2), *work = malloc((M * N + M) * sizeof *work);
    for (size_t i = 0; i < M * dim; i++)
        in[i] = (loom_rng_uniform(&rng) - 0.5f) * 0.8f;
    for (size_t i = 0; i < N * dim; i++)
        out2[i] = out[i] = (loom_rng_uniform(&rng) - 0.5f) * 0.8f;
    float *label = malloc(N * sizeof *label);
    float *inp[M], **outp = malloc(N * sizeof *outp);
    for (size_t k = 0; k < N; k++)
        label[k] = k == 0 || (N > 8 && k % 3 == 0);
    for (size_t a = 0; a < M; a++)
        inp[a] = in + a * dim;
    for (size_t k = 0; k < N; k++)
        outp[k] = out + k * dim;
    if (dup)
        outp[2] = outp[1]; /* a negative drawn twice: both updates land */
    float loss = loom_hogbatch_step(inp, M, outp, label, N, dim, 0.1f, &t, work, din);
    double want;
    if (dup) {
        /* the reference: row 2 scored as row 1, both gradients added to row 1 */
        float *o3 = malloc(N * dim * sizeof *o3), *o1 = malloc(N * dim * sizeof *o1);
        memcpy(o3, out2, N * dim * sizeof *o3);
        memcpy(o3 + 2 * dim, out2 + dim, dim * sizeof *o3);
        memcpy(o1, o3, N * dim * sizeof *o1);
        want = reference_step(in, M, o3, label, N, dim, 0.1f, din2);
        for (size_t d = 0; d < dim; d++)
            o3[dim + d] += o3[2 * dim + d] - o1[2 * dim + d];
        memcpy(o3 + 2 * dim, out2 + 2 * dim, dim * sizeof *o3);
        memcpy(out2, o3, N * dim * sizeof *o3);
        free(o3), free(o1);
    } else {
        want = reference_step(in, M, out2, label, N, dim, 0.1f, din2);
    }
    /* the sigmoid table's step is 16/2048: gradients agree to ~1e-3 of alpha */
    ck_assert_double_eq_tol(loss, want, 0.01 * want);
    for (size_t i = 0; i < M * dim; i++)
        ck_assert_float_eq_tol(din[i], din2[i], 2e-3f);
    for (size_t i = 0; i < N * dim; i++)
        ck_assert_float_eq_tol(out[i], out2[i], 2e-3f);
    free(in), free(out), free(out2), free(din), free(din2), free(work), free(label), free(outp);
}

START_TEST(step_matches_pairwise_reference)
{
    /* dims that exercise every block and remainder of the kernels (8 and 16 lanes) */
    size_t dims[] = {1, 3, 4, 7, 8, 13, 15, 16, 17, 31, 32, 33, 100, 101};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
        for (int level = 0; level <= 2; level++) {
            check_step(level, dims[i], 6, 0);
            check_step(level, dims[i], 6, 1);
            check_step(level, dims[i], 8, 0);
            check_step(level, dims[i], 11, 0);
            check_step(level, dims[i], 1, 0);
        }
}
END_TEST

/* step_apply is step then add_rows, to the bit, at each level: with
 * distinct input rows (the AVX2 step adds them in its pass) and with an
 * input row listed twice (it cannot) */
static void check_step_apply(int level, size_t dim, size_t N, int dup_in)
{
    enum { M = 6 };
    loom_sigmoid_table t;
    loom_sigmoid_table_init(&t);
    if ((level >= 1 && !t.avx2) || (level >= 2 && !t.avx512))
        return;
    t.avx2 = level >= 1;
    t.avx512 = level >= 2;
    loom_rng rng;
    loom_rng_seed(&rng, 5, 0);
    float *mats[2][2]; /* [run][in, out] */
    for (int r = 0; r < 2; r++) {
        mats[r][0] = malloc(M * dim * sizeof(float));
        mats[r][1] = malloc(N * dim * sizeof(float));
    }
    for (size_t i = 0; i < M * dim; i++)
        mats[0][0][i] = mats[1][0][i] = (loom_rng_uniform(&rng) - 0.5f) * 0.8f;
    for (size_t i = 0; i < N * dim; i++)
        mats[0][1][i] = mats[1][1][i] = (loom_rng_uniform(&rng) - 0.5f) * 0.8f;
    float label[16], *din = malloc(M * dim * sizeof *din),
                     *work = malloc((M * N + M) * sizeof *work);
    for (size_t k = 0; k < N; k++)
        label[k] = k == 0;
    float loss[2];
    for (int r = 0; r < 2; r++) {
        float *inp[M], *outp[16];
        for (size_t a = 0; a < M; a++)
            inp[a] = mats[r][0] + a * dim;
        if (dup_in)
            inp[4] = inp[1]; /* a word twice in the window */
        for (size_t k = 0; k < N; k++)
            outp[k] = mats[r][1] + k * dim;
        if (r == 0) {
            loss[r] = loom_hogbatch_step(inp, M, outp, label, N, dim, 0.1f, &t, work, din);
            loom_hogbatch_add_rows(inp, M, din, dim);
        } else {
            loss[r] = loom_hogbatch_step_apply(inp, M, outp, label, N, dim, 0.1f, &t, work, din);
        }
    }
    ck_assert_float_eq(loss[0], loss[1]);
    ck_assert_int_eq(memcmp(mats[0][0], mats[1][0], M * dim * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(mats[0][1], mats[1][1], N * dim * sizeof(float)), 0);
    for (int r = 0; r < 2; r++)
        free(mats[r][0]), free(mats[r][1]);
    free(din), free(work);
}

START_TEST(step_apply_is_step_then_add)
{
    size_t dims[] = {1, 7, 8, 13, 16, 100, 101};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
        for (int level = 0; level <= 2; level++)
            for (int dup = 0; dup <= 1; dup++) {
                check_step_apply(level, dims[i], 6, dup);
                check_step_apply(level, dims[i], 1, dup);
                check_step_apply(level, dims[i], 11, dup);
            }
}
END_TEST

START_TEST(step_loss_falls_when_repeated)
{
    loom_sigmoid_table t;
    loom_sigmoid_table_init(&t);
    float in[2][8] = {{0.1f, -0.2f, 0.3f, 0.1f, 0, 0.2f, -0.1f, 0.05f},
                      {-0.1f, 0.1f, 0.2f, -0.3f, 0.1f, 0, 0.1f, 0.2f}};
    float out[3][8] = {{0}};
    float *inp[2] = {in[0], in[1]}, *outp[3] = {out[0], out[1], out[2]};
    float label[3] = {1, 0, 0}, work[2 * 3 + 2], din[2 * 8];
    out[1][0] = 0.5f;
    out[2][3] = -0.5f;
    float first = 0, last = 0;
    for (int it = 0; it < 50; it++) {
        last = loom_hogbatch_step(inp, 2, outp, label, 3, 8, 0.5f, &t, work, din);
        if (it == 0)
            first = last;
        for (int a = 0; a < 2; a++)
            for (int d = 0; d < 8; d++)
                in[a][d] += din[a * 8 + d];
    }
    ck_assert_float_lt(last, first * 0.5f);
}
END_TEST

/* ---- corpus byte ranges ---- */

typedef struct {
    char text[1 << 16];
    size_t len;
    int sentences;
} collected;

static int collect_token(void *ctx, const char *tok, size_t len)
{
    collected *c = ctx;
    ck_assert_uint_lt(c->len + len + 1, sizeof c->text);
    memcpy(c->text + c->len, tok, len);
    c->len += len;
    c->text[c->len++] = ' ';
    return 0;
}

static int collect_eol(void *ctx)
{
    ((collected *)ctx)->sentences++;
    return 0;
}

/* Scans the corpus in k ranges; returns the tokens, space-separated. */
static void scan_in_parts(loom_shards *s, int k, collected *c)
{
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    loom_tokenizer *t;
    ck_assert_int_eq(loom_tokenizer_new(&t, &o), 0);
    memset(c, 0, sizeof *c);
    loom_scan_fns fns = {collect_token, collect_eol, NULL, c, NULL};
    long long size = loom_shards_size(s);
    for (int i = 0; i < k; i++)
        ck_assert_int_eq(loom_shards_scan(s, size * i / k, size * (i + 1) / k, t, &fns), 0);
    loom_tokenizer_free(t);
}

START_TEST(ranges_lose_and_repeat_no_word)
{
    /* lines, a long line without newline, runs of spaces, a file that
     * ends without a newline, and a gzip file */
    const char *a = "the quick brown fox\njumps over  the lazy dog\n\n  spaces   here \n";
    char b[3000];
    size_t bl = 0;
    for (int i = 0; i < 300; i++)
        bl += (size_t)snprintf(b + bl, sizeof b - bl, "w%d ", i % 37);
    const char *c = "last file\nno newline at end";
    test_write_file(test_path("a.txt"), a, strlen(a));
    write_gzip(test_path("b.txt.gz"), b, bl);
    test_write_file(test_path("c.txt"), c, strlen(c));
    const char *paths[] = {test_path("a.txt"), test_path("b.txt.gz"), test_path("c.txt")};
    loom_shards *s;
    ck_assert_int_eq(loom_shards_open(&s, paths, 3), 0);
    ck_assert_int_eq(loom_shards_size(s), (long long)(strlen(a) + bl + strlen(c)));
    collected *whole = malloc(sizeof *whole), *parts = malloc(sizeof *parts);
    scan_in_parts(s, 1, whole);
    ck_assert_uint_gt(whole->len, 0);
    for (int k = 2; k <= 40; k++) {
        scan_in_parts(s, k, parts);
        ck_assert_msg(parts->len == whole->len && memcmp(parts->text, whole->text, whole->len) == 0,
                      "%d ranges read other words than one", k);
    }
    free(whole), free(parts);
    loom_shards_free(s);
}
END_TEST

START_TEST(missing_corpus_file_is_an_error)
{
    const char *paths[] = {test_path("nope.txt")};
    loom_shards *s;
    ck_assert_int_eq(loom_shards_open(&s, paths, 1), LOOM_EIO);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "nope.txt"));
}
END_TEST

/* ---- the trainer ---- */

/* Two families of words that only ever meet their own kind. */
static void write_two_topics(const char *path)
{
    static const char *const topic[2][6] = {{"cat", "dog", "mouse", "horse", "cow", "sheep"},
                                            {"red", "blue", "green", "black", "white", "pink"}};
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    loom_rng rng;
    loom_rng_seed(&rng, 9, 0);
    for (int line = 0; line < 2000; line++) {
        int t = line % 2;
        for (int i = 0; i < 10; i++)
            fprintf(f, "%s%c", topic[t][loom_rng_below(&rng, 6)], i == 9 ? '\n' : ' ');
    }
    ck_assert_int_eq(fclose(f), 0);
}

static loom_w2v *train(const char *path, loom_w2v_opts *o)
{
    const char *paths[] = {path};
    loom_w2v *w;
    ck_assert_int_eq(loom_w2v_new(&w, o, paths, 1), 0);
    ck_assert_int_eq(loom_w2v_count(w, NULL), 0);
    ck_assert_int_eq(loom_w2v_train(w, NULL), 0);
    return w;
}

static double cosine(const loom_w2v *w, const char *x, const char *y, int dim)
{
    const loom_vocab *v = loom_w2v_vocab(w);
    int32_t i = loom_vocab_find(v, x, strlen(x)), j = loom_vocab_find(v, y, strlen(y));
    ck_assert_int_ge(i, 0);
    ck_assert_int_ge(j, 0);
    const float *a = loom_w2v_vectors(w) + (size_t)i * dim,
                *b = loom_w2v_vectors(w) + (size_t)j * dim;
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < dim; d++)
        ab += a[d] * b[d], aa += a[d] * a[d], bb += b[d] * b[d];
    return ab / sqrt(aa * bb);
}

static void check_learns_topics(int model, int loss)
{
    write_two_topics(test_path("topics.txt"));
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    o.model = model;
    o.loss = loss;
    o.dim = 16;
    o.epochs = 3;
    o.threads = 2;
    o.sample = 0;
    loom_w2v *w = train(test_path("topics.txt"), &o);
    double same = cosine(w, "cat", "dog", 16) + cosine(w, "red", "blue", 16);
    double other = cosine(w, "cat", "red", 16) + cosine(w, "dog", "blue", 16);
    ck_assert_msg(same > other + 0.5, "model %d loss %d: same topic %.3f, other %.3f", model, loss,
                  same / 2, other / 2);
    loom_w2v_stats st;
    loom_w2v_get_stats(w, &st);
    ck_assert_uint_eq(st.words, 3 * 20000);
    loom_w2v_free(w);
}

START_TEST(trainer_learns_cooccurrence_in_every_mode)
{
    check_learns_topics(LOOM_W2V_SKIPGRAM, LOOM_W2V_NS);
    check_learns_topics(LOOM_W2V_SKIPGRAM, LOOM_W2V_HS);
    check_learns_topics(LOOM_W2V_CBOW, LOOM_W2V_NS);
    check_learns_topics(LOOM_W2V_CBOW, LOOM_W2V_HS);
}
END_TEST

START_TEST(one_thread_is_repeatable)
{
    write_two_topics(test_path("topics.txt"));
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    o.dim = 10;
    o.epochs = 2;
    o.seed = 5;
    loom_w2v *a = train(test_path("topics.txt"), &o);
    loom_w2v *b = train(test_path("topics.txt"), &o);
    size_t n = loom_vocab_size(loom_w2v_vocab(a)) * 10;
    ck_assert_int_eq(memcmp(loom_w2v_vectors(a), loom_w2v_vectors(b), n * sizeof(float)), 0);
    o.seed = 6;
    loom_w2v *c = train(test_path("topics.txt"), &o);
    ck_assert_int_ne(memcmp(loom_w2v_vectors(a), loom_w2v_vectors(c), n * sizeof(float)), 0);
    loom_w2v_free(a), loom_w2v_free(b), loom_w2v_free(c);
}
END_TEST

START_TEST(empty_corpus_and_rare_words_are_errors)
{
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    loom_w2v *w;
    test_write_file(test_path("empty.txt"), "  \n\n", 4);
    const char *empty[] = {test_path("empty.txt")};
    ck_assert_int_eq(loom_w2v_new(&w, &o, empty, 1), 0);
    ck_assert_int_eq(loom_w2v_count(w, NULL), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "empty"));
    ck_assert_int_eq(loom_w2v_train(w, NULL), LOOM_EINVAL);
    loom_w2v_free(w);

    test_write_file(test_path("rare.txt"), "a b c a\n", 8);
    const char *rare[] = {test_path("rare.txt")};
    ck_assert_int_eq(loom_w2v_new(&w, &o, rare, 1), 0);
    ck_assert_int_eq(loom_w2v_count(w, NULL), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "min-count"));
    loom_w2v_free(w);
}
END_TEST

START_TEST(bad_options_are_refused)
{
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    ck_assert_int_eq(loom_w2v_opts_check(&o), 0);
    o.dim = 0;
    ck_assert_int_eq(loom_w2v_opts_check(&o), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "dim"));
    loom_w2v_opts_default(&o);
    o.window = -1;
    ck_assert_int_eq(loom_w2v_opts_check(&o), LOOM_EINVAL);
    loom_w2v_opts_default(&o);
    o.model = LOOM_W2V_CBOW;
    ck_assert_double_eq(loom_w2v_start_alpha(&o), 0.05);
    o.model = LOOM_W2V_SKIPGRAM;
    ck_assert_double_eq(loom_w2v_start_alpha(&o), 0.025);
    o.min_alpha = 0.03;
    ck_assert_int_eq(loom_w2v_opts_check(&o), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "min-alpha"));
    o.alpha = 0.05;
    ck_assert_int_eq(loom_w2v_opts_check(&o), 0);
    o.min_alpha = -0.001;
    ck_assert_int_eq(loom_w2v_opts_check(&o), LOOM_EINVAL);
    loom_w2v_opts_default(&o);
    o.lr_schedule = 2;
    ck_assert_int_eq(loom_w2v_opts_check(&o), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "lr-schedule"));
}
END_TEST

START_TEST(lr_schedule_values_at_known_points)
{
    /* linear (word2vec.c): every thread's words out of epochs x corpus + 1 */
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_LINEAR, 0, 0, 0, 3, 1000), 0);
    ck_assert_double_eq_tol(loom_w2v_lr_progress(LOOM_W2V_LR_LINEAR, 1500, 7, 1, 3, 1000),
                            1500.0 / 3001.0, 1e-15);
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_LINEAR, 5000, 0, 2, 3, 1000), 1);
    /* per-worker (gensim corpus_file): (epoch + own words / corpus) / epochs */
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_PER_WORKER, 0, 0, 0, 3, 999), 0);
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_PER_WORKER, 9999, 0, 1, 2, 999), 0.5);
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_PER_WORKER, 0, 500, 1, 2, 999), 0.75);
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_PER_WORKER, 0, 999, 1, 2, 999), 0.9995);
    ck_assert_double_eq(loom_w2v_lr_progress(LOOM_W2V_LR_PER_WORKER, 0, 5000, 1, 2, 999), 1);
    /* the rate: min_alpha 0 is word2vec.c's start x (1 - progress), floored at 1e-4 x start */
    ck_assert_float_eq(loom_w2v_lr(0.025f, 0, 0), 0.025f);
    ck_assert_float_eq(loom_w2v_lr(0.025f, 0, 0.5), 0.0125f);
    ck_assert_float_eq(loom_w2v_lr(0.025f, 0, 1), 0.025f * 1e-4f);
    ck_assert_float_eq_tol(loom_w2v_lr(0.025f, 0.001, 0.5), 0.013f, 1e-9);
    ck_assert_float_eq_tol(loom_w2v_lr(0.025f, 0.001, 0.25), 0.019f, 1e-9);
    ck_assert_float_eq_tol(loom_w2v_lr(0.025f, 0.001, 1), 0.001f, 1e-9);
    ck_assert_float_eq_tol(loom_w2v_lr(0.025f, 0.001, 1.5), 0.001f, 1e-9);
    /* gensim's saw-tooth, 2 workers over 3 epochs: each epoch starts on its
     * step and ends half-way down it; the last ends at ~(start - min) / 6 */
    double half = 1000.0 / 2,
           steps[][3] = {{0, 0, 1.0},        {0, half, 5.0 / 6}, {1, 0, 4.0 / 6},
                         {1, half, 3.0 / 6}, {2, 0, 2.0 / 6},    {2, half, 1.0 / 6}};
    for (int i = 0; i < 6; i++) {
        double p = loom_w2v_lr_progress(LOOM_W2V_LR_PER_WORKER, 0, (uint64_t)steps[i][1],
                                        (int)steps[i][0], 3, 999);
        ck_assert_float_eq_tol(loom_w2v_lr(0.0251f, 1e-4, p), 1e-4 + 0.025 * steps[i][2], 1e-8);
    }
}
END_TEST

START_TEST(lr_schedule_changes_training)
{
    write_two_topics(test_path("topics.txt"));
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    o.dim = 10;
    o.epochs = 2;
    loom_w2v *a = train(test_path("topics.txt"), &o);
    size_t n = loom_vocab_size(loom_w2v_vocab(a)) * 10;
    o.min_alpha = 0.01;
    loom_w2v *b = train(test_path("topics.txt"), &o);
    ck_assert_int_ne(memcmp(loom_w2v_vectors(a), loom_w2v_vectors(b), n * sizeof(float)), 0);
    o.min_alpha = 0;
    o.lr_schedule = LOOM_W2V_LR_PER_WORKER;
    loom_w2v *c = train(test_path("topics.txt"), &o);
    ck_assert_int_ne(memcmp(loom_w2v_vectors(a), loom_w2v_vectors(c), n * sizeof(float)), 0);
    loom_w2v_free(a), loom_w2v_free(b), loom_w2v_free(c);
}
END_TEST

/* ---- the corpus held as ids ---- */

START_TEST(idstream_maps_drops_unknown_and_keeps_ends)
{
    loom_idstream s = {0};
    loom_idstream_start(&s, 100);
    const int32_t in[] = {0, 1, LOOM_IDS_EOL, 2, 3, LOOM_IDS_EOL, LOOM_IDS_EOL, 1};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        loom_idstream_push(&s, in[i]);
    const int32_t map[] = {7, -1, 0, 5}; /* word 1 is unknown to the trainer */
    loom_idstream_finish(&s, map, 4);
    const int32_t want[] = {7, LOOM_IDS_EOL, 0, 5, LOOM_IDS_EOL, LOOM_IDS_EOL};
    ck_assert_int_eq(s.state, LOOM_IDS_READY);
    ck_assert_uint_eq(s.n, sizeof want / sizeof *want);
    ck_assert_int_eq(memcmp(s.ids, want, sizeof want), 0);
    loom_idstream_drop(&s);
    /* past its limit a stream is dropped, not cut */
    loom_idstream_start(&s, 3);
    for (int i = 0; i < 4; i++)
        loom_idstream_push(&s, i);
    loom_idstream_finish(&s, NULL, 0);
    ck_assert_int_eq(s.state, LOOM_IDS_OFF);
    ck_assert_ptr_null(s.ids);
    loom_idstream_start(&s, 0);
    loom_idstream_push(&s, 1);
    ck_assert_int_eq(s.state, LOOM_IDS_OFF);
}
END_TEST

/* The topics, plus what the ends of sentence and the unknown words test:
 * words below min_count, empty lines, a line longer than a sentence
 * (10,000 known words), and `lines` more topic lines. */
static void write_cache_corpus(const char *path, int lines)
{
    write_two_topics(path);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("\n\nrare1 cat rare2 dog\n \n", f);
    for (int i = 0; i < 12000; i++)
        fprintf(f, "%s%s", i % 3 ? "horse " : "blue ", i % 3000 == 0 ? "rare3 " : "");
    fputs("\ncow", f);
    for (int line = 0; line < lines; line++)
        fputs(line % 2 ? "\nred pink white green black" : "\nsheep cow mouse horse cat", f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Trains on path (count, or with the vocabulary `v` given) and checks
 * the vectors against `ref` (NULL: returns them) and the words replayed. */
static float *train_cached(const char *path, loom_w2v_opts *o, const loom_vocab *v,
                           const float *ref, uint64_t replayed)
{
    const char *paths[] = {path};
    loom_w2v *w;
    ck_assert_int_eq(loom_w2v_new(&w, o, paths, 1), 0);
    if (v) {
        loom_vocab *copy;
        ck_assert_int_eq(loom_vocab_new(&copy), 0);
        for (size_t id = 0; id < loom_vocab_size(v); id++) {
            const char *word = loom_vocab_word(v, (int32_t)id);
            ck_assert_int_eq(
                loom_vocab_add(copy, word, strlen(word), loom_vocab_count(v, (int32_t)id)), 0);
        }
        ck_assert_int_eq(loom_w2v_set_vocab(w, copy), 0);
    } else {
        ck_assert_int_eq(loom_w2v_count(w, NULL), 0);
    }
    ck_assert_int_eq(loom_w2v_train(w, NULL), 0);
    loom_w2v_stats st;
    loom_w2v_get_stats(w, &st);
    ck_assert_msg(st.replayed == replayed, "cache_mb %zu: %llu words replayed, not %llu",
                  o->cache_mb, (unsigned long long)st.replayed, (unsigned long long)replayed);
    size_t n = loom_vocab_size(loom_w2v_vocab(w)) * (size_t)o->dim * sizeof(float);
    float *out = NULL;
    if (ref) {
        ck_assert_msg(memcmp(loom_w2v_vectors(w), ref, n) == 0, "cache_mb %zu: other vectors",
                      o->cache_mb);
    } else {
        out = malloc(n);
        ck_assert_ptr_nonnull(out);
        memcpy(out, loom_w2v_vectors(w), n);
    }
    loom_w2v_free(w);
    return out;
}

/* The same bits whether the epochs read the text or the ids: recorded in
 * the vocabulary pass, in the first epoch (a vocabulary given), or not at
 * all (cache off, or the corpus too large for it), in every mode. */
START_TEST(ids_held_in_memory_give_the_same_vectors)
{
    static const int modes[4][2] = {{LOOM_W2V_SKIPGRAM, LOOM_W2V_NS},
                                    {LOOM_W2V_CBOW, LOOM_W2V_NS},
                                    {LOOM_W2V_SKIPGRAM, LOOM_W2V_HS},
                                    {LOOM_W2V_CBOW, LOOM_W2V_HS}};
    const char *path = test_path("cache.txt");
    write_cache_corpus(path, 0);
    for (int m = 0; m < 4; m++) {
        loom_w2v_opts o;
        loom_w2v_opts_default(&o);
        o.model = modes[m][0];
        o.loss = modes[m][1];
        o.dim = 8;
        o.epochs = 3;
        o.seed = 11;
        o.cache_mb = 0;
        float *ref = train_cached(path, &o, NULL, NULL, 0);
        const char *paths[] = {path};
        loom_w2v *w;
        ck_assert_int_eq(loom_w2v_new(&w, &o, paths, 1), 0);
        ck_assert_int_eq(loom_w2v_count(w, NULL), 0);
        uint64_t words = loom_vocab_total(loom_w2v_vocab(w));
        o.cache_mb = 1;
        train_cached(path, &o, NULL, ref, 3 * words);
        train_cached(path, &o, loom_w2v_vocab(w), ref, 2 * words);
        loom_w2v_free(w);
        free(ref);
    }
    /* over 1 MB of ids (262,144): read from the text every epoch */
    write_cache_corpus(path, 60000);
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    o.dim = 4;
    o.epochs = 2;
    o.cache_mb = 0;
    float *ref = train_cached(path, &o, NULL, NULL, 0);
    o.cache_mb = 1;
    train_cached(path, &o, NULL, ref, 0);
    o.cache_mb = 2;
    train_cached(path, &o, NULL, ref, 2 * (20000 + 2 + 12000 + 1 + 5 * 60000));
    free(ref);
}
END_TEST

static Suite *word2vec_suite(void)
{
    Suite *s = suite_create("word2vec");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, huffman_codes_are_a_complete_prefix_code);
    tcase_add_test(tc, huffman_single_word_has_empty_path);
    tcase_add_test(tc, noise_follows_counts_to_the_075);
    tcase_add_test(tc, noise_of_nothing_is_an_error);
    tcase_add_test(tc, subsampling_uses_word2vec_formula);
    tcase_add_test(tc, step_matches_pairwise_reference);
    tcase_add_test(tc, step_loss_falls_when_repeated);
    tcase_add_test(tc, step_apply_is_step_then_add);
    tcase_add_test(tc, ranges_lose_and_repeat_no_word);
    tcase_add_test(tc, missing_corpus_file_is_an_error);
    tcase_add_test(tc, trainer_learns_cooccurrence_in_every_mode);
    tcase_add_test(tc, one_thread_is_repeatable);
    tcase_add_test(tc, empty_corpus_and_rare_words_are_errors);
    tcase_add_test(tc, bad_options_are_refused);
    tcase_add_test(tc, lr_schedule_values_at_known_points);
    tcase_add_test(tc, lr_schedule_changes_training);
    tcase_add_test(tc, idstream_maps_drops_unknown_and_keeps_ends);
    tcase_add_test(tc, ids_held_in_memory_give_the_same_vectors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(word2vec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

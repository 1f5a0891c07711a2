/* Tests for src/embed vector files, queries and evaluation: round trips in
 * every format, the tolerated variants, every refused file with its record
 * number (a binary cut at every byte), top-k search against brute force,
 * 3CosAdd/3CosMul, and the rank correlations against scipy's values. */
#include "config.h"
#include "base/error.h"
#include "embed/eval.h"
#include "embed/query.h"
#include "embed/vectors.h"
#include "serve/batcher.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

static void write_str(const char *path, const char *s)
{
    test_write_file(path, s, strlen(s));
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*n + 1);
    ck_assert_uint_eq(fread(buf, 1, *n, f), *n);
    fclose(f);
    return buf;
}

static const char *const words3[] = {"alpha", "beta", "Gamma"};
static const float rows3[] = {0.5f, -1.25f, 3e-7f, 1.0f / 3, 2, 0, -0.1f, 1e20f, 7};

static void check_rows3(const loom_vectors *v)
{
    ck_assert_uint_eq(loom_vectors_count(v), 3);
    ck_assert_uint_eq(loom_vectors_dim(v), 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(loom_vectors_word(v, i), words3[i]);
        ck_assert_int_eq(loom_vectors_find(v, words3[i]), (long)i);
        ck_assert_int_eq(memcmp(loom_vectors_row(v, i), rows3 + 3 * i, 3 * sizeof(float)), 0);
    }
    ck_assert_int_eq(loom_vectors_find(v, "gamma"), -1);
    ck_assert_int_eq(loom_vectors_find(v, "alph"), -1);
}

/* Loads `path` expecting failure with a message matching all of `parts`. */
static void expect_refused(const char *path, const char *part1, const char *part2)
{
    loom_vectors *v = (loom_vectors *)1;
    int rc = loom_vectors_load(&v, path);
    ck_assert_msg(rc == LOOM_EFORMAT, "%s loaded (rc %d), expected an error with '%s'", path, rc,
                  part1);
    ck_assert_ptr_null(v);
    const char *msg = loom_error_message();
    ck_assert_msg(strstr(msg, part1), "message '%s' lacks '%s'", msg, part1);
    if (part2)
        ck_assert_msg(strstr(msg, part2), "message '%s' lacks '%s'", msg, part2);
}

START_TEST(round_trip_every_format)
{
    static const char *const names[] = {"v.bin",    "v.txt",    "v.vec",
                                        "v.bin.gz", "v.vec.gz", "v.other"};
    static const int formats[] = {LOOM_VEC_BIN, LOOM_VEC_TEXT, LOOM_VEC_TEXT,
                                  LOOM_VEC_BIN, LOOM_VEC_TEXT, LOOM_VEC_BIN};
    for (size_t f = 0; f < sizeof names / sizeof *names; f++) {
        const char *p = test_path(names[f]);
        ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_AUTO, 3, 3, words3, rows3), 0);
        loom_vectors *v;
        ck_assert_int_eq(loom_vectors_load(&v, p), 0);
        check_rows3(v);
        ck_assert_int_eq(loom_vectors_format(v), formats[f]);
        ck_assert_int_eq(loom_vectors_gzip(v), strstr(names[f], ".gz") != NULL);
        /* Saving what was loaded writes the same bytes. */
        const char *q = test_path("again");
        ck_assert_int_eq(loom_vectors_save(v, q, formats[f]), 0);
        loom_vectors_free(v);
        if (!strstr(names[f], ".gz")) {
            size_t n1, n2;
            char *a = read_all(p, &n1), *b = read_all(q, &n2);
            ck_assert_uint_eq(n1, n2);
            ck_assert_int_eq(memcmp(a, b, n1), 0);
            free(a);
            free(b);
        }
    }
}
END_TEST

START_TEST(text_uses_shortest_decimals)
{
    const char *p = test_path("v.txt");
    ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_TEXT, 3, 3, words3, rows3), 0);
    size_t n;
    char *s = read_all(p, &n);
    s[n] = '\0';
    ck_assert_str_eq(s, "3 3\nalpha 0.5 -1.25 3e-07\nbeta 0.33333334 2 0\nGamma -0.1 1e+20 7\n");
    free(s);
}
END_TEST

START_TEST(binary_variants)
{
    /* gensim 4 writes no "\n" after a binary row; word2vec does; some
     * writers put it before the word. All read the same. */
    char buf[512];
    size_t n;
    for (int variant = 0; variant < 3; variant++) {
        n = (size_t)sprintf(buf, "3 3\n");
        for (int i = 0; i < 3; i++) {
            if (variant == 2)
                buf[n++] = '\n';
            n += (size_t)sprintf(buf + n, "%s ", words3[i]);
            memcpy(buf + n, rows3 + 3 * i, 12);
            n += 12;
            if (variant == 1)
                buf[n++] = '\n';
        }
        const char *p = test_path("var.bin");
        test_write_file(p, buf, n);
        loom_vectors *v;
        ck_assert_msg(loom_vectors_load(&v, p) == 0, "variant %d: %s", variant,
                      loom_error_message());
        check_rows3(v);
        ck_assert_int_eq(loom_vectors_format(v), LOOM_VEC_BIN);
        loom_vectors_free(v);
    }
}
END_TEST

START_TEST(text_variants)
{
    static const char *const texts[] = {
        "3 3\nalpha 0.5 -1.25 3e-07\nbeta 0.33333334 2 0\nGamma -0.1 1e+20 7\n",
        "3 3\r\nalpha 0.5 -1.25 3e-07\r\nbeta 0.33333334 2 0\r\nGamma -0.1 1e+20 7\r\n",
        "3 3 \nalpha 0.5 -1.25 3e-07 \nbeta 0.33333334 2 0   \nGamma -0.1 1e+20 7 ",
        "3 3\nalpha\t0.5\t-1.25\t3e-07\nbeta 0.33333334 2 0\n\nGamma -0.1 1e+20 7\n\n",
        "alpha 0.5 -1.25 3e-07\nbeta 0.33333334 2 0\nGamma -0.1 1e+20 7\n", /* GloVe */
    };
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        const char *p = test_path("var.txt");
        write_str(p, texts[t]);
        loom_vectors *v;
        ck_assert_msg(loom_vectors_load(&v, p) == 0, "text %zu: %s", t, loom_error_message());
        check_rows3(v);
        ck_assert_int_eq(loom_vectors_has_header(v), t != 4);
        loom_vectors_free(v);
    }
}
END_TEST

/* A binary file whose first row reads, up to its first float's second
 * byte, as a short text row: word ',', then the float bytes 31 0a ("1\n").
 * loom embed wrote such a file (the demo's vectors, one run in many) and
 * its reader took it for text with a 1-value row. */
START_TEST(binary_first_row_that_reads_as_short_text)
{
    static const unsigned char row1[16] = {0x31, 0x0a, 0x64, 0x3e, 0x4d, 0xb8, 0x3d, 0x5f,
                                           0x01, 0x00, 0x80, 0x3e, 0x97, 0x35, 0x14, 0xbd};
    static const float row2[4] = {0.5f, -1.25f, 2.0f, 3.0f};
    const char *p = test_path("short-looking.bin");
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("2 4\n, ", f);
    fwrite(row1, 1, sizeof row1, f);
    fputs("\nb ", f);
    fwrite(row2, sizeof *row2, 4, f);
    fputc('\n', f);
    fclose(f);
    loom_vectors *v;
    ck_assert_msg(loom_vectors_load(&v, p) == 0, "%s", loom_error_message());
    ck_assert_int_eq(loom_vectors_count(v), 2);
    ck_assert_int_eq(loom_vectors_find(v, ","), 0);
    float want[4];
    memcpy(want, row1, sizeof want);
    ck_assert_mem_eq(loom_vectors_row(v, 0), want, sizeof want);
    ck_assert_mem_eq(loom_vectors_row(v, 1), row2, sizeof row2);
    loom_vectors_free(v);
}
END_TEST

START_TEST(text_words_with_spaces)
{
    const char *p = test_path("sp.txt");
    write_str(p, "2 2\nnew york 1 2\nparis 3 4\n");
    loom_vectors *v;
    ck_assert_int_eq(loom_vectors_load(&v, p), 0);
    ck_assert_int_eq(loom_vectors_find(v, "new york"), 0);
    ck_assert_float_eq(loom_vectors_row(v, 0)[1], 2);
    /* ... but such a word cannot be written back. */
    ck_assert_int_eq(loom_vectors_save(v, test_path("out.txt"), LOOM_VEC_AUTO), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "'new york' contains a space"));
    loom_vectors_free(v);
}
END_TEST

START_TEST(refused_files_name_the_record)
{
    const char *p = test_path("bad.txt");
    write_str(p, "");
    expect_refused(p, "empty file", NULL);
    write_str(p, "3 0\n");
    expect_refused(p, "dimension 0", NULL);
    write_str(p, "2 3\nalpha 1 2 3\nbeta 1 2\n");
    expect_refused(p, "record 2 ('beta'): short row: 2 values, expected 3", NULL);
    write_str(p, "2 3\nalpha 1 2 3\nbeta 1 2 3 4\n");
    expect_refused(p, "record 2 ('beta'): long row: 4 values, expected 3", NULL);
    write_str(p, "3 2\nalpha 1 2\nbeta 1 2\n");
    expect_refused(p, "header says 3 words but the file ends after 2", NULL);
    write_str(p, "1 2\nalpha 1 2\nbeta 1 2\n");
    expect_refused(p, "header says 1 words but more follow (record 2", NULL);
    write_str(p, "2 2\nalpha 1 nan\nbeta 1 2\n");
    expect_refused(p, "record 1 ('alpha'): NaN or infinite", NULL);
    write_str(p, "2 2\nalpha 1 2\nbeta -inf 2\n");
    expect_refused(p, "record 2 ('beta'): NaN or infinite", NULL);
    write_str(p, "3 2\nalpha 1 2\nbeta 1 2\nalpha 3 4\n");
    expect_refused(p, "record 3: duplicate word 'alpha' (first at record 1)", NULL);
    write_str(p, "2 2\nalpha 1 2\nbeta 1 2x\n");
    expect_refused(p, "record 2 ('beta'): value 2 '2x' is not a number", NULL);
    write_str(p, "hello world, this is prose\n");
    expect_refused(p, "not a vector file", NULL);
    loom_vectors *none;
    ck_assert_int_eq(loom_vectors_load(&none, test_path("nonexistent")), LOOM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "No such file"));

    float inf = INFINITY;
    char buf[64];
    size_t n = (size_t)sprintf(buf, "1 2\nw ");
    memcpy(buf + n, &inf, 4);
    memcpy(buf + n + 4, &inf, 4);
    test_write_file(p, buf, n + 8);
    expect_refused(p, "record 1 ('w'): NaN or infinite", NULL);
    float one = 1;
    memcpy(buf, "1 1\na\0b ", 9);
    memcpy(buf + 9, &one, 4);
    test_write_file(p, buf, 13);
    expect_refused(p, "record 1: the word holds a NUL byte", NULL);
}
END_TEST

START_TEST(duplicates_kept_first_on_request)
{
    const char *p = test_path("dup.txt");
    write_str(p, "3 2\nalpha 1 2\nbeta 1 2\nalpha 3 4\n");
    loom_vectors *v;
    ck_assert_int_eq(loom_vectors_load_opts(&v, p, LOOM_VEC_KEEP_FIRST, 0), 0);
    ck_assert_uint_eq(loom_vectors_count(v), 2);
    ck_assert_uint_eq(loom_vectors_dropped(v), 1);
    ck_assert_float_eq(loom_vectors_row(v, 0)[0], 1);
    loom_vectors_free(v);
}
END_TEST

START_TEST(max_words_reads_a_prefix)
{
    const char *p = test_path("v.bin");
    ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_AUTO, 3, 3, words3, rows3), 0);
    loom_vectors *v;
    ck_assert_int_eq(loom_vectors_load_opts(&v, p, 0, 2), 0);
    ck_assert_uint_eq(loom_vectors_count(v), 2);
    ck_assert_int_eq(loom_vectors_find(v, "Gamma"), -1);
    loom_vectors_free(v);
}
END_TEST

/* A binary file cut at every byte is refused with the record or the
 * header named, never read past its end (ASan runs this too). */
START_TEST(binary_cut_at_every_byte)
{
    const char *p = test_path("full.bin");
    ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_BIN, 3, 3, words3, rows3), 0);
    size_t n;
    char *full = read_all(p, &n);
    const char *q = test_path("cut.bin");
    for (size_t cut = 0; cut + 1 < n; cut++) {
        test_write_file(q, full, cut);
        loom_vectors *v;
        int rc = loom_vectors_load(&v, q);
        ck_assert_msg(rc == LOOM_EFORMAT, "cut at %zu loaded (rc %d)", cut, rc);
        const char *msg = loom_error_message();
        ck_assert_msg(strstr(msg, "record") || strstr(msg, "header") || strstr(msg, "empty"),
                      "cut at %zu: '%s'", cut, msg);
    }
    free(full);
}
END_TEST

START_TEST(gzip_cut_names_the_record)
{
    enum { N = 400, D = 50 };
    char **words = malloc(N * sizeof *words);
    float *rows = malloc(N * D * sizeof *rows);
    for (int i = 0; i < N; i++) {
        words[i] = malloc(16);
        sprintf(words[i], "w%d", i);
        for (int j = 0; j < D; j++)
            rows[i * D + j] = (float)((i * 7919 + j * 104729) % 1000) / 997.0f;
    }
    const char *p = test_path("v.txt.gz");
    ck_assert_int_eq(
        loom_vectors_save_rows(p, LOOM_VEC_AUTO, N, D, (const char *const *)words, rows), 0);
    size_t n;
    char *gz = read_all(p, &n);
    const char *q = test_path("cut.txt.gz");
    long last = 0;
    for (int part = 2; part < 8; part++) {
        test_write_file(q, gz, n * (size_t)part / 8);
        expect_refused(q, "truncated gzip file", "(while reading record ");
        long rec = atol(strstr(loom_error_message(), "record ") + 7);
        ck_assert_int_gt(rec, last); /* later cuts are found at later records */
        last = rec;
    }
    for (int i = 0; i < N; i++)
        free(words[i]);
    free(words);
    free(rows);
    free(gz);
}
END_TEST

START_TEST(save_refuses_bad_rows)
{
    const char *p = test_path("out.bin");
    const char *spaced[] = {"a", "b c", "d"};
    ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_AUTO, 3, 3, spaced, rows3), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "row 2: the word 'b c' contains a space"));
    const char *empty[] = {"a", "", "d"};
    ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_AUTO, 3, 3, empty, rows3), LOOM_EINVAL);
    float nan_rows[9] = {0, 0, 0, 0, NAN, 0, 0, 0, 0};
    ck_assert_int_eq(loom_vectors_save_rows(p, LOOM_VEC_AUTO, 3, 3, words3, nan_rows), LOOM_EINVAL);
    ck_assert_int_eq(access(p, F_OK), -1); /* nothing written */
}
END_TEST

/* ---- search ---- */

enum { SN = 700, SD = 16 };

static loom_vectors *random_vectors(unsigned seed)
{
    char **words = malloc(SN * sizeof *words);
    float *rows = malloc(SN * SD * sizeof *rows);
    srand(seed);
    for (int i = 0; i < SN; i++) {
        words[i] = malloc(16);
        sprintf(words[i], "w%d", i);
        for (int j = 0; j < SD; j++)
            rows[i * SD + j] = (float)rand() / RAND_MAX - 0.5f;
    }
    const char *p = test_path("rand.bin");
    ck_assert_int_eq(
        loom_vectors_save_rows(p, LOOM_VEC_AUTO, SN, SD, (const char *const *)words, rows), 0);
    for (int i = 0; i < SN; i++)
        free(words[i]);
    free(words);
    free(rows);
    loom_vectors *v;
    ck_assert_int_eq(loom_vectors_load(&v, p), 0);
    return v;
}

static double cosine(const float *a, const float *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < SD; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return ab / sqrt(aa * bb);
}

/* The best k rows below limit by score(), brute force, excluding ex[0..3). */
static void brute_top(double (*score)(const loom_vectors *, const long *, long),
                      const loom_vectors *v, const long *abc, const long *ex, size_t k,
                      size_t limit, long *best)
{
    for (size_t t = 0; t < k; t++) {
        long arg = -1;
        double top = -INFINITY;
        for (size_t r = 0; r < limit; r++) {
            int skip = r == (size_t)ex[0] || r == (size_t)ex[1] || r == (size_t)ex[2];
            for (size_t u = 0; u < t; u++)
                skip |= best[u] == (long)r;
            double s = skip ? -INFINITY : score(v, abc, (long)r);
            if (s > top) {
                top = s;
                arg = (long)r;
            }
        }
        best[t] = arg;
    }
}

static double score_nearest(const loom_vectors *v, const long *abc, long r)
{
    return cosine(loom_vectors_row(v, (size_t)abc[0]), loom_vectors_row(v, (size_t)r));
}

static double score_add(const loom_vectors *v, const long *abc, long r)
{
    float q[SD];
    const float *a = loom_vectors_row(v, (size_t)abc[0]), *b = loom_vectors_row(v, (size_t)abc[1]),
                *c = loom_vectors_row(v, (size_t)abc[2]);
    double la = 0, lb = 0, lc = 0;
    for (int j = 0; j < SD; j++) {
        la += (double)a[j] * a[j];
        lb += (double)b[j] * b[j];
        lc += (double)c[j] * c[j];
    }
    for (int j = 0; j < SD; j++)
        q[j] = (float)(b[j] / sqrt(lb) - a[j] / sqrt(la) + c[j] / sqrt(lc));
    return cosine(q, loom_vectors_row(v, (size_t)r));
}

static double score_mul(const loom_vectors *v, const long *abc, long r)
{
    const float *x = loom_vectors_row(v, (size_t)r);
    double ca = (1 + cosine(loom_vectors_row(v, (size_t)abc[0]), x)) / 2;
    double cb = (1 + cosine(loom_vectors_row(v, (size_t)abc[1]), x)) / 2;
    double cc = (1 + cosine(loom_vectors_row(v, (size_t)abc[2]), x)) / 2;
    return cb * cc / (ca + 1e-6);
}

START_TEST(nearest_equals_brute_force)
{
    loom_vectors *v = random_vectors(1);
    loom_vectors *raw = random_vectors(1);
    for (int threads = 1; threads <= 3; threads++) {
        loom_index *ix;
        ck_assert_int_eq(loom_index_new(&ix, v, 0, threads), 0);
        for (long w = 0; w < SN; w += 97) {
            loom_hit hits[10];
            long best[10], ex[3] = {w, w, w}, abc[3] = {w, w, w};
            size_t limit = w % 2 ? 0 : 300;
            ck_assert_int_eq(loom_index_nearest(ix, &w, 1, 10, limit, hits), 0);
            brute_top(score_nearest, raw, abc, ex, 10, limit ? limit : SN, best);
            for (int t = 0; t < 10; t++) {
                ck_assert_int_eq(hits[t].row, best[t]);
                ck_assert_double_eq_tol(hits[t].score, score_nearest(raw, abc, best[t]), 1e-5);
            }
        }
        loom_index_free(ix);
    }
    loom_vectors_free(v);
    loom_vectors_free(raw);
}
END_TEST

START_TEST(batched_search_equals_one_by_one)
{
    loom_vectors *v = random_vectors(2);
    loom_index *ix;
    ck_assert_int_eq(loom_index_new(&ix, v, LOOM_INDEX_IN_PLACE, 2), 0);
    enum { M = 150, K = 7 };
    float *Q = malloc(M * SD * sizeof *Q);
    for (int i = 0; i < M * SD; i++)
        Q[i] = (float)((i * 37) % 101) / 50.0f - 1;
    loom_hit *all = malloc(M * K * sizeof *all);
    ck_assert_int_eq(loom_index_search(ix, M, Q, NULL, 0, K, 0, all), 0);
    for (int i = 0; i < M; i++) {
        loom_hit one[K];
        ck_assert_int_eq(loom_index_search(ix, 1, Q + i * SD, NULL, 0, K, 0, one), 0);
        for (int t = 0; t < K; t++)
            ck_assert_int_eq(all[i * K + t].row, one[t].row);
    }
    /* The same scores, to the bit, with one worker. */
    loom_vectors *v2 = random_vectors(2);
    loom_index *one_ix;
    ck_assert_int_eq(loom_index_new(&one_ix, v2, 0, 1), 0);
    loom_hit *serial = malloc(M * K * sizeof *serial);
    ck_assert_int_eq(loom_index_search(one_ix, M, Q, NULL, 0, K, 0, serial), 0);
    for (int i = 0; i < M * K; i++) {
        ck_assert_int_eq(serial[i].row, all[i].row);
        ck_assert_int_eq(memcmp(&serial[i].score, &all[i].score, sizeof(float)), 0);
    }
    free(serial);
    loom_index_free(one_ix);
    loom_vectors_free(v2);
    /* More answers asked than candidates: the rest are row -1. */
    loom_hit few[5];
    ck_assert_int_eq(loom_index_search(ix, 1, Q, NULL, 0, 5, 3, few), 0);
    ck_assert_int_ge(few[2].row, 0);
    ck_assert_int_eq(few[3].row, -1);
    ck_assert_int_eq(few[4].row, -1);
    free(Q);
    free(all);
    loom_index_free(ix);
    loom_vectors_free(v);
}
END_TEST

START_TEST(analogies_equal_brute_force)
{
    loom_vectors *v = random_vectors(3);
    loom_index *ix;
    ck_assert_int_eq(loom_index_new(&ix, v, 0, 2), 0);
    enum { M = 40 };
    long abc[3 * M];
    for (int i = 0; i < 3 * M; i++)
        abc[i] = (i * 7907) % SN;
    for (int method = LOOM_ANALOGY_ADD; method <= LOOM_ANALOGY_MUL; method++) {
        loom_hit hits[M * 5];
        ck_assert_int_eq(loom_index_analogy(ix, M, abc, method, 5, 0, hits), 0);
        for (int i = 0; i < M; i++) {
            long best[5];
            brute_top(method == LOOM_ANALOGY_ADD ? score_add : score_mul, v, abc + 3 * i,
                      abc + 3 * i, 5, SN, best);
            for (int t = 0; t < 5; t++)
                ck_assert_msg(hits[i * 5 + t].row == best[t],
                              "method %d question %d rank %d: %ld, want %ld", method, i, t,
                              hits[i * 5 + t].row, best[t]);
        }
    }
    loom_index_free(ix);
    loom_vectors_free(v);
}
END_TEST

/* With LOOM_INDEX_BATCH_INVARIANT a query's hits do not depend on the
 * queries searched with it (several widths and batch sizes, each query also
 * searched alone): the same rows and the same scores to the bit (the packed
 * product scores each row on its own), at each SIMD level. */
static void no_batch(void *ctx, loom_serve_job **jobs, int n, size_t items)
{
    (void)ctx, (void)jobs, (void)n, (void)items;
}

START_TEST(batch_invariant_index_scores_do_not_depend_on_company)
{
    static const size_t dims[] = {24, 300};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        size_t n = 1000, dim = dims[d];
        float *rows = malloc(n * dim * sizeof *rows);
        char **words = malloc(n * sizeof *words);
        uint64_t x = 88172645463325252ull + d;
        for (size_t i = 0; i < n * dim; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            rows[i] = (float)((x >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
        }
        for (size_t i = 0; i < n; i++) {
            words[i] = malloc(16);
            snprintf(words[i], 16, "w%zu", i);
        }
        char path[64];
        snprintf(path, sizeof path, "/tmp/loom-test-invariant-%d.bin", (int)getpid());
        ck_assert_int_eq(
            loom_vectors_save_rows(path, LOOM_VEC_BIN, n, dim, (const char *const *)words, rows),
            0);
        loom_vectors *v;
        ck_assert_int_eq(loom_vectors_load(&v, path), 0);
        unlink(path);
        loom_index *ix;
        ck_assert_int_eq(loom_index_new(&ix, v, LOOM_INDEX_BATCH_INVARIANT, 2), 0);
        enum { M = 70, K = 5 };
        long q[M];
        for (int i = 0; i < M; i++)
            q[i] = (i * 577 + 3) % (long)n;
        loom_hit alone[M * K];
        for (int i = 0; i < M; i++)
            ck_assert_int_eq(loom_index_nearest_many(ix, 1, q + i, 1, K, 0, alone + i * K), 0);
        /* 13 and 31: a batch split between the two threads (blocks of 12
         * and 1, 18 and 13 queries), on threads of loom_parallel_run's and
         * (fan-out 1) on a server's batcher and its helper thread */
        static const int sizes[] = {2, 7, 13, 31, 64};
        loom_serve_batcher *bt;
        ck_assert_int_eq(loom_serve_batcher_new(&bt, no_batch, NULL, 64, 0, 64, 1), 0);
        ck_assert_int_eq(loom_serve_batcher_add_helper(bt), 0);
        for (size_t b = 0; b < 2 * sizeof sizes / sizeof sizes[0]; b++) {
            int m = sizes[b % (sizeof sizes / sizeof sizes[0])];
            if (b == sizeof sizes / sizeof sizes[0])
                loom_index_set_fanout(ix, loom_serve_batcher_fanout, bt);
            loom_hit together[M * K];
            for (int i0 = 0; i0 < M; i0 += m) {
                int mm = M - i0 < m ? M - i0 : m;
                ck_assert_int_eq(
                    loom_index_nearest_many(ix, (size_t)mm, q + i0, 1, K, 0, together + i0 * K), 0);
            }
            for (int i = 0; i < M * K; i++) {
                ck_assert_int_eq(together[i].row, alone[i].row);
                ck_assert_msg(
                    together[i].score == alone[i].score,
                    "dim %zu batch %d fan-out %d: query %d's score %.9g alone, %.9g batched", dim,
                    m, b >= sizeof sizes / sizeof sizes[0], i / K, alone[i].score,
                    together[i].score);
            }
        }
        loom_index_free(ix);
        loom_serve_batcher_free(bt);
        loom_vectors_free(v);
        for (size_t i = 0; i < n; i++)
            free(words[i]);
        free(words);
        free(rows);
    }
}
END_TEST

/* The server answers 503 with the batcher's message: a full queue says the
 * server is busy, a stopping batcher that it is shutting down (not busy);
 * the job queued before the stop is completed. */
static void count_completed(loom_serve_job *j)
{
    ++*(int *)j->owner;
}

START_TEST(batcher_refusals_say_why)
{
    loom_serve_batcher *bt;
    /* a batch is due after 60 s or at 64 items: the first job stays queued */
    ck_assert_int_eq(loom_serve_batcher_new(&bt, no_batch, NULL, 64, 60000, 4, 1), 0);
    int completed = 0;
    loom_serve_job queued = {.size = 3, .complete = count_completed, .owner = &completed};
    loom_serve_job more = {.size = 2, .complete = count_completed, .owner = &completed};
    ck_assert_int_eq(loom_serve_batcher_submit(bt, &queued), 0);
    ck_assert_int_eq(loom_serve_batcher_submit(bt, &more), LOOM_EINVAL);
    ck_assert_str_eq(loom_error_message(), "the server is busy (3 items are waiting); try again");
    loom_serve_batcher_stop(bt);
    ck_assert_int_eq(completed, 1);
    loom_serve_job late = {.size = 1, .complete = count_completed, .owner = &completed};
    ck_assert_int_eq(loom_serve_batcher_submit(bt, &late), LOOM_EINVAL);
    ck_assert_str_eq(loom_error_message(), "the server is shutting down");
    loom_serve_batcher_free(bt);
    ck_assert_int_eq(completed, 1);
}
END_TEST

/* most_similar(positive=[b, c], negative=[a]) is the analogy, score for
 * score, with both methods; padding (-1) in the row lists changes nothing. */
START_TEST(most_similar_is_the_analogy_and_ignores_padding)
{
    loom_vectors *v = random_vectors(4);
    loom_index *ix;
    ck_assert_int_eq(loom_index_new(&ix, v, 0, 2), 0);
    enum { M = 30, K = 6 };
    long abc[3 * M], pos[3 * M], neg[2 * M];
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < 3; j++)
            abc[3 * i + j] = (i * 31 + j * 7 + 3) % SN;
        /* positives b, c then padding; negatives padding then a */
        pos[3 * i] = abc[3 * i + 1], pos[3 * i + 1] = abc[3 * i + 2], pos[3 * i + 2] = -1;
        neg[2 * i] = -1, neg[2 * i + 1] = abc[3 * i];
    }
    for (int method = LOOM_ANALOGY_ADD; method <= LOOM_ANALOGY_MUL; method++) {
        loom_hit want[M * K], got[M * K];
        ck_assert_int_eq(loom_index_analogy(ix, M, abc, method, K, 0, want), 0);
        ck_assert_int_eq(loom_index_most_similar(ix, M, pos, 3, neg, 2, method, K, 0, got), 0);
        for (int i = 0; i < M * K; i++) {
            ck_assert_int_eq(got[i].row, want[i].row);
            ck_assert_float_eq_tol(got[i].score, want[i].score,
                                   1e-6 * fmaxf(1, fabsf(want[i].score)));
        }
    }
    /* one positive word: add ranks as nearest; mul scores (1 + cos) / 2 / (1 + 1e-6) */
    long one = 5;
    loom_hit near[K], add[K], mul[K];
    ck_assert_int_eq(loom_index_nearest(ix, &one, 1, K, 0, near), 0);
    ck_assert_int_eq(loom_index_most_similar(ix, 1, &one, 1, NULL, 0, LOOM_ANALOGY_ADD, K, 0, add),
                     0);
    ck_assert_int_eq(loom_index_most_similar(ix, 1, &one, 1, NULL, 0, LOOM_ANALOGY_MUL, K, 0, mul),
                     0);
    for (int t = 0; t < K; t++) {
        ck_assert_int_eq(add[t].row, near[t].row);
        ck_assert_int_eq(mul[t].row, near[t].row);
        ck_assert_float_eq_tol(mul[t].score, (1 + near[t].score) / 2 / (1 + 1e-6f), 1e-6);
    }
    long bad = SN;
    ck_assert_int_eq(loom_index_most_similar(ix, 1, &bad, 1, NULL, 0, LOOM_ANALOGY_ADD, K, 0, add),
                     LOOM_EINVAL);
    loom_index_free(ix);
    loom_vectors_free(v);
}
END_TEST

/* ---- evaluation ---- */

START_TEST(rank_correlations_match_scipy)
{
    double x1[] = {1, 2, 3, 4, 5}, y1[] = {5, 6, 7, 8, 7};
    ck_assert_double_eq_tol(loom_spearman(x1, y1, 5), 0.8207826816681233, 1e-12);
    double x2[] = {1, 1, 2, 3, 3, 3}, y2[] = {2, 1, 4, 4, 3, 5};
    ck_assert_double_eq_tol(loom_spearman(x2, y2, 6), 0.7514691493021796, 1e-12);
    double x3[] = {1, 2, 3, 4}, y3[] = {2, 4, 5, 9};
    ck_assert_double_eq_tol(loom_pearson(x3, y3, 4), 0.9647638212377322, 1e-12);
    ck_assert(isnan(loom_spearman(x1, y1, 1)));
}
END_TEST

/* Six words in 3-D. "King", a rarer case variant of "king", is the best
 * candidate for "apple : man :: king : ?" but, being the input king in
 * another case, is skipped (gensim's rule), so queen answers. */
START_TEST(analogy_eval_counts_like_gensim)
{
    const char *vp = test_path("plane.txt");
    write_str(
        vp, "6 3\nman 1 0 0\nwoman 1 1 0\nking 3 0 1\nqueen 3 1 1\nKing 3 0.01 1\napple 0 0 -1\n");
    const char *qp = test_path("q.txt");
    write_str(qp, ": royal\nMAN WOMAN KING QUEEN\napple man king queen\nman woman pear queen\n"
                  "not four words\n: gram-plural\nwoman man queen king\n");
    loom_vectors *v;
    ck_assert_int_eq(loom_vectors_load(&v, vp), 0);
    loom_index *ix;
    ck_assert_int_eq(loom_index_new(&ix, v, 0, 1), 0);
    loom_eval_opts opts = {0};
    loom_analogy_eval *e;
    ck_assert_int_eq(loom_eval_analogies(&e, ix, qp, &opts), 0);
    ck_assert_uint_eq(e->nsections, 2);
    ck_assert_str_eq(e->sections[0].name, "royal");
    ck_assert_uint_eq(e->sections[0].total, 3);
    ck_assert_uint_eq(e->sections[0].seen, 2); /* "pear" is unknown */
    ck_assert_uint_eq(e->sections[0].correct, 2);
    ck_assert_uint_eq(e->sections[1].correct, 1);
    ck_assert_uint_eq(e->semantic.seen, 2);
    ck_assert_uint_eq(e->syntactic.seen, 1);
    ck_assert_uint_eq(e->total.correct, 3);
    ck_assert_uint_eq(e->skipped_lines, 1);
    loom_analogy_eval_free(e);
    /* Restricted to the first 3 words, only questions within them count. */
    opts.restrict_vocab = 3;
    ck_assert_int_eq(loom_eval_analogies(&e, ix, qp, &opts), 0);
    ck_assert_uint_eq(e->total.seen, 0);
    ck_assert_uint_eq(e->total.total, 4);
    loom_analogy_eval_free(e);
    /* Case-sensitive: MAN WOMAN KING QUEEN is no longer known, and King is
     * a word of its own, the (wrong) answer to apple : man :: king. */
    opts.restrict_vocab = 0;
    opts.case_sensitive = 1;
    ck_assert_int_eq(loom_eval_analogies(&e, ix, qp, &opts), 0);
    ck_assert_uint_eq(e->sections[0].seen, 1);
    ck_assert_uint_eq(e->sections[0].correct, 0);
    loom_analogy_eval_free(e);

    const char *sp = test_path("sim.tsv");
    write_str(
        sp,
        "# comment\nman\twoman\t3\nking\tqueen\t2.5\nKING\tapple\t0.1\nman\tpear\t1\nbad line\n");
    loom_similarity_eval s;
    opts.case_sensitive = 0;
    ck_assert_int_eq(loom_eval_similarity(&s, ix, sp, &opts), 0);
    ck_assert_uint_eq(s.pairs, 4);
    ck_assert_uint_eq(s.found, 3);
    ck_assert_uint_eq(s.skipped_lines, 1);
    ck_assert(!isnan(s.spearman));
    loom_index_free(ix);
    loom_vectors_free(v);
}
END_TEST

static Suite *vectors_suite(void)
{
    Suite *s = suite_create("vectors");
    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 60);
    tcase_add_checked_fixture(files, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(files, round_trip_every_format);
    tcase_add_test(files, text_uses_shortest_decimals);
    tcase_add_test(files, binary_variants);
    tcase_add_test(files, text_variants);
    tcase_add_test(files, binary_first_row_that_reads_as_short_text);
    tcase_add_test(files, text_words_with_spaces);
    tcase_add_test(files, refused_files_name_the_record);
    tcase_add_test(files, duplicates_kept_first_on_request);
    tcase_add_test(files, max_words_reads_a_prefix);
    tcase_add_test(files, binary_cut_at_every_byte);
    tcase_add_test(files, gzip_cut_names_the_record);
    tcase_add_test(files, save_refuses_bad_rows);
    suite_add_tcase(s, files);
    TCase *query = tcase_create("query");
    tcase_add_checked_fixture(query, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(query, 60);
    tcase_add_test(query, nearest_equals_brute_force);
    tcase_add_test(query, batched_search_equals_one_by_one);
    tcase_add_test(query, analogies_equal_brute_force);
    suite_add_tcase(s, query);
    TCase *eval = tcase_create("eval");
    tcase_set_timeout(eval, 60);
    tcase_add_checked_fixture(eval, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(eval, rank_correlations_match_scipy);
    tcase_add_test(eval, analogy_eval_counts_like_gensim);
    tcase_add_test(eval, most_similar_is_the_analogy_and_ignores_padding);
    tcase_add_test(eval, batch_invariant_index_scores_do_not_depend_on_company);
    tcase_add_test(eval, batcher_refusals_say_why);
    suite_add_tcase(s, eval);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vectors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Tests for src/seq/bleu: 13a tokenisation, corpus BLEU-4 and chrF against
 * the figures of tests/fixtures/bleu/make_bleu_fixtures.py (a transcription
 * of sacreBLEU 2.x's defaults), and the accumulator's behaviour. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/reader.h"
#include "seq/bleu.h"

typedef struct {
    char **line;
    size_t *len;
    size_t n;
} lines;

static const char *fixture(const char *name)
{
    static char path[4096];
    const char *src = getenv("LOOM_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/bleu/%s", src ? src : ".", name);
    return path;
}

static lines read_lines(const char *name)
{
    lines l = {0};
    loom_reader *r;
    ck_assert_msg(loom_reader_open(&r, fixture(name)) == 0, "%s", loom_error_message());
    char *buf = NULL;
    size_t cap = 0, len;
    while (loom_reader_getline(r, &buf, &cap, &len, 1 << 20) == 1) {
        l.line = realloc(l.line, (l.n + 1) * sizeof *l.line);
        l.len = realloc(l.len, (l.n + 1) * sizeof *l.len);
        l.line[l.n] = malloc(len + 1);
        memcpy(l.line[l.n], buf, len + 1);
        l.len[l.n++] = len;
    }
    free(buf);
    loom_reader_close(r);
    return l;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    free(l->line);
    free(l->len);
}

static loom_bleu_score score_of(const lines *hyp, const lines *ref, const loom_bleu_options *opt,
                                int reverse)
{
    loom_bleu *b;
    ck_assert_int_eq(loom_bleu_new(&b, opt), 0);
    ck_assert_uint_eq(hyp->n, ref->n);
    for (size_t k = 0; k < hyp->n; k++) {
        size_t i = reverse ? hyp->n - 1 - k : k;
        ck_assert_msg(loom_bleu_add(b, hyp->line[i], hyp->len[i], ref->line[i], ref->len[i]) == 0,
                      "%s", loom_error_message());
    }
    loom_bleu_score s;
    loom_bleu_get(b, &s);
    loom_bleu_free(b);
    return s;
}

START_TEST(tokenize_13a_matches_sacrebleu)
{
    lines in = read_lines("tok13a.in"), want = read_lines("tok13a.out");
    ck_assert_uint_eq(in.n, want.n);
    ck_assert_uint_gt(in.n, 20);
    char *out = NULL;
    size_t cap = 0, len;
    for (size_t i = 0; i < in.n; i++) {
        ck_assert_int_eq(loom_bleu_tokenize_13a(in.line[i], in.len[i], &out, &cap, &len), 0);
        ck_assert_msg(len == want.len[i] && memcmp(out, want.line[i], len) == 0,
                      "13a of '%s': got '%s', want '%s'", in.line[i], out, want.line[i]);
    }
    free(out);
    free_lines(&in);
    free_lines(&want);
}
END_TEST

START_TEST(corpus_scores_match_reference_within_001)
{
    lines exp = read_lines("expected.txt");
    int cases = 0;
    for (size_t i = 0; i < exp.n; i++) {
        if (exp.line[i][0] == '#')
            continue;
        char name[64], rf[64], hf[64], tok[16], smooth[16];
        double bleu, chrf;
        long long sys_len, ref_len;
        ck_assert_int_eq(sscanf(exp.line[i], "%63s %63s %63s %15s %15s %lf %lf %lld %lld", name, rf,
                                hf, tok, smooth, &bleu, &chrf, &sys_len, &ref_len),
                         9);
        loom_bleu_options opt = {
            strcmp(tok, "13a") == 0 ? LOOM_BLEU_TOK_13A : LOOM_BLEU_TOK_NONE,
            strcmp(smooth, "exp") == 0    ? LOOM_BLEU_SMOOTH_EXP
            : strcmp(smooth, "none") == 0 ? LOOM_BLEU_SMOOTH_NONE
                                          : LOOM_BLEU_SMOOTH_FLOOR,
        };
        lines ref = read_lines(rf), hyp = read_lines(hf);
        loom_bleu_score s = score_of(&hyp, &ref, &opt, 0);
        ck_assert_msg(fabs(s.bleu - bleu) < 0.01, "%s %s %s: BLEU %.6f, want %.6f", name, tok,
                      smooth, s.bleu, bleu);
        ck_assert_msg(fabs(s.chrf - chrf) < 0.01, "%s: chrF %.6f, want %.6f", name, s.chrf, chrf);
        ck_assert_int_eq(s.sys_len, sys_len);
        ck_assert_int_eq(s.ref_len, ref_len);
        ck_assert_int_eq(s.sentences, (long long)hyp.n);
        free_lines(&ref);
        free_lines(&hyp);
        cases++;
    }
    ck_assert_int_ge(cases, 20);
    free_lines(&exp);
}
END_TEST

START_TEST(smoothing_decides_when_an_order_has_no_match)
{
    lines ref = read_lines("short.ref"), hyp = read_lines("short.hyp");
    loom_bleu_options none = {LOOM_BLEU_TOK_13A, LOOM_BLEU_SMOOTH_NONE};
    loom_bleu_score s0 = score_of(&hyp, &ref, &none, 0);
    loom_bleu_score s1 = score_of(&hyp, &ref, NULL, 0); /* exp by default */
    ck_assert_int_eq(s0.correct[3], 0);
    ck_assert(s0.bleu == 0.0);
    ck_assert(s1.bleu > 10.0);
    ck_assert(s1.bp < 1.0); /* 7 hypothesis words against 8 */
    free_lines(&ref);
    free_lines(&hyp);
}
END_TEST

START_TEST(order_of_pairs_does_not_change_scores)
{
    lines ref = read_lines("ref.txt"), hyp = read_lines("hyp.txt");
    loom_bleu_score a = score_of(&hyp, &ref, NULL, 0), b = score_of(&hyp, &ref, NULL, 1);
    ck_assert(a.bleu == b.bleu && a.chrf == b.chrf);
    ck_assert(a.bleu > 30.0 && a.bleu < 90.0);
    free_lines(&ref);
    free_lines(&hyp);
}
END_TEST

START_TEST(reset_forgets_earlier_pairs)
{
    loom_bleu *b;
    ck_assert_int_eq(loom_bleu_new(&b, NULL), 0);
    const char *h = "le chat dort sur le tapis", *r = "un chien court dans la rue";
    ck_assert_int_eq(loom_bleu_add(b, h, strlen(h), r, strlen(r)), 0);
    loom_bleu_score s;
    loom_bleu_get(b, &s);
    ck_assert(s.bleu < 1.0);
    loom_bleu_reset(b);
    ck_assert_int_eq(loom_bleu_add(b, h, strlen(h), h, strlen(h)), 0);
    loom_bleu_get(b, &s);
    ck_assert(fabs(s.bleu - 100.0) < 1e-9 && fabs(s.chrf - 100.0) < 1e-9);
    ck_assert_int_eq(s.sentences, 1);
    loom_bleu_free(b);
    loom_bleu_free(NULL);
}
END_TEST

START_TEST(empty_corpus_and_empty_lines_score_zero)
{
    loom_bleu *b;
    ck_assert_int_eq(loom_bleu_new(&b, NULL), 0);
    loom_bleu_score s;
    loom_bleu_get(b, &s);
    ck_assert(s.bleu == 0.0 && s.chrf == 0.0);
    ck_assert_int_eq(loom_bleu_add(b, "", 0, "une phrase", 10), 0);
    loom_bleu_get(b, &s);
    ck_assert(s.bleu == 0.0 && s.chrf == 0.0 && s.bp == 0.0);
    ck_assert_int_eq(s.ref_len, 2);
    loom_bleu_free(b);
}
END_TEST

START_TEST(invalid_utf8_is_an_error_with_offset)
{
    loom_bleu *b;
    ck_assert_int_eq(loom_bleu_new(&b, NULL), 0);
    const char bad[] = "caf\xc3 ok", good[] = "ok";
    ck_assert_int_eq(loom_bleu_add(b, bad, strlen(bad), good, 2), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "hypothesis"));
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "byte 3"));
    const char overlong[] = "\xc0\xaf";
    ck_assert_int_eq(loom_bleu_add(b, good, 2, overlong, 2), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "reference"));
    const char surrogate[] = "\xed\xa0\x80";
    ck_assert_int_eq(loom_bleu_add(b, surrogate, 3, good, 2), LOOM_EFORMAT);
    loom_bleu_score s;
    loom_bleu_get(b, &s);
    ck_assert_int_eq(s.sentences, 0); /* rejected pairs add nothing */
    loom_bleu_free(b);
    loom_bleu_options bad_opt = {(loom_bleu_tokenize)7, LOOM_BLEU_SMOOTH_EXP};
    ck_assert_int_eq(loom_bleu_new(&b, &bad_opt), LOOM_EINVAL);
    ck_assert_ptr_null(b);
}
END_TEST

START_TEST(chrf_ignores_whitespace_and_counts_code_points)
{
    loom_bleu *b;
    ck_assert_int_eq(loom_bleu_new(&b, NULL), 0);
    /* Same characters, different spacing: chrF 100, BLEU not. */
    const char *h = "l'été  est là", *r = "l' étéest\xc2\xa0l\xc3\xa0";
    ck_assert_int_eq(loom_bleu_add(b, h, strlen(h), r, strlen(r)), 0);
    loom_bleu_score s;
    loom_bleu_get(b, &s);
    ck_assert(fabs(s.chrf - 100.0) < 1e-9);
    ck_assert(s.bleu < 100.0);
    ck_assert_int_eq(s.chrf_ref[0], 10); /* l ' é t é e s t l à */
    loom_bleu_free(b);
}
END_TEST

static Suite *bleu_suite(void)
{
    Suite *s = suite_create("bleu");
    TCase *tc = tcase_create("bleu");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tokenize_13a_matches_sacrebleu);
    tcase_add_test(tc, corpus_scores_match_reference_within_001);
    tcase_add_test(tc, smoothing_decides_when_an_order_has_no_match);
    tcase_add_test(tc, order_of_pairs_does_not_change_scores);
    tcase_add_test(tc, reset_forgets_earlier_pairs);
    tcase_add_test(tc, empty_corpus_and_empty_lines_score_zero);
    tcase_add_test(tc, invalid_utf8_is_an_error_with_offset);
    tcase_add_test(tc, chrf_ignores_whitespace_and_counts_code_points);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bleu_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

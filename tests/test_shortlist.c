/* Tests for src/seq/shortlist (the decode-time vocabulary shortlist): a
 * shortlist holding every target word decodes exactly as no shortlist,
 * to the bit; a word outside the candidates is never produced; a batch's
 * candidates are the top words, the always-candidates and its source
 * words' first targets, in id order; a table built from the reverse task's
 * pairs maps each word to itself first; bad tables are refused naming the
 * file and line. */
#include "config.h"
#include "base/error.h"
#include "base/rng.h"
#include "seq/decode.h"
#include "seq/model_file.h"
#include "seq/shortlist.h"
#include "seq/translator.h"
#include "text/vocab.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *fixture(const char *dir, const char *name)
{
    static char buf[4][1024];
    static int i;
    const char *src = getenv("LOOM_SRCDIR");
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/tests/fixtures/%s/%s", src ? src : ".", dir, name);
    return buf[i];
}

static loom_translator *open_model(const char *path, int beam, int nbest, int align)
{
    loom_translate_opts o;
    loom_translate_defaults(&o);
    o.decode.beam = beam, o.decode.nbest = nbest, o.decode.align = align;
    o.batch = 16;
    loom_translator *t;
    ck_assert_msg(loom_translator_open(&t, &path, 1, &o) == 0, "%s", loom_error_message());
    return t;
}

/* n sentences of random source words (ids 4..) of vocabulary v, joined by
 * `sep` (subword pieces: none) */
enum { N = 24 };
static char sentences[N][512];
static const char *sentence_ptrs[N];

static void make_sentences(const loom_vocab *v, uint64_t seed, const char *sep)
{
    loom_rng rng;
    loom_rng_seed(&rng, seed, 0);
    uint32_t V = (uint32_t)loom_vocab_size(v);
    for (int i = 0; i < N; i++) {
        int len = 1 + (int)loom_rng_below(&rng, 9);
        char *p = sentences[i];
        *p = '\0';
        for (int k = 0; k < len; k++) {
            const char *w = loom_vocab_word(v, 4 + loom_rng_below(&rng, V - 4));
            if (strlen(w) + (size_t)(p - sentences[i]) + 2 >= sizeof sentences[i])
                break;
            p += sprintf(p, "%s%s", k ? sep : "", w);
        }
        sentence_ptrs[i] = sentences[i];
    }
}

/* A table: an always line listing target words [first, V) when always is
 * set, and a line per source word listing the targets `targets`. */
static const char *write_table(const loom_vocab *src, const loom_vocab *tgt, int always,
                               const char *targets)
{
    const char *path = test_path("table.txt");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (always) {
        fputc('\t', f);
        for (size_t v = 4; v < loom_vocab_size(tgt); v++)
            fprintf(f, "%s%s", v > 4 ? " " : "", loom_vocab_word(tgt, (int32_t)v));
        fputc('\n', f);
    }
    for (size_t s = 4; s < loom_vocab_size(src) && targets; s++)
        fprintf(f, "%s\t%s\n", loom_vocab_word(src, (int32_t)s), targets);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* Every target word a candidate: the same bits as exact decoding (same ids,
 * log-probabilities, scores and attention), greedy and beam 5 with n-best
 * lists, on the reverse model (12 target words) and on the subword model
 * (hundreds of pieces: the gathered columns cross the packed panels). */
START_TEST(a_shortlist_of_every_word_is_exact)
{
    const char *model =
        _i < 2 ? fixture("seq", "reverse.loom") : fixture("translate", "en-fr-subword.loom");
    int beam = _i % 2 ? 5 : 1, nbest = _i % 2 ? 3 : 1;
    loom_translator *t = open_model(model, beam, nbest, 1);
    const loom_vocab *vs = loom_translator_vocab(t, 0), *vt = loom_translator_vocab(t, 1);
    make_sentences(vs, 7 + _i, _i < 2 ? " " : "");
    loom_translation want[N], got[N];
    ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, want), 0);
    loom_shortlist *sl;
    ck_assert_msg(loom_shortlist_read(&sl, write_table(vs, vt, 1, NULL), vs, vt, 4, 0) == 0, "%s",
                  loom_error_message());
    loom_translator_set_shortlist(t, sl);
    ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, got), 0);
    int words = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(want[i].n, got[i].n);
        for (int j = 0; j < want[i].n; j++) {
            const loom_seq_hyp *x = &want[i].hyps[j].hyp, *y = &got[i].hyps[j].hyp;
            ck_assert_str_eq(want[i].hyps[j].text, got[i].hyps[j].text);
            ck_assert_int_eq(x->len, y->len);
            ck_assert_int_eq(x->finished, y->finished);
            ck_assert_mem_eq(x->ids, y->ids, x->len * sizeof(int));
            ck_assert_msg(x->logp == y->logp && x->score == y->score,
                          "sentence %d: log p %.9g / %.9g", i, x->logp, y->logp);
            ck_assert_mem_eq(x->align, y->align,
                             (size_t)(x->len + x->finished) * x->src_len * sizeof(float));
            words += x->len;
        }
    }
    ck_assert_int_gt(words, N); /* not a test of empty outputs */
    loom_translations_free(want, N);
    loom_translations_free(got, N);
    loom_translator_free(t);
    loom_shortlist_free(sl);
}
END_TEST

/* With every source word listing only "a b", the reverse model (which
 * writes its input reversed) never writes another word, greedy or beam,
 * whatever its input; without the shortlist it does. */
START_TEST(a_word_outside_the_shortlist_is_never_produced)
{
    int beam = _i ? 5 : 1;
    loom_translator *t = open_model(fixture("seq", "reverse.loom"), beam, beam, 0);
    const loom_vocab *vs = loom_translator_vocab(t, 0), *vt = loom_translator_vocab(t, 1);
    make_sentences(vs, 11, " ");
    int32_t a = loom_vocab_find(vt, "a", 1), b = loom_vocab_find(vt, "b", 1);
    ck_assert_int_ge(a, 4);
    ck_assert_int_ge(b, 4);
    loom_translation out[N];
    int others = 0;
    for (int pass = 0; pass < 2; pass++) {
        loom_shortlist *sl = NULL;
        if (pass) {
            ck_assert_msg(loom_shortlist_read(&sl, write_table(vs, vt, 0, "a b"), vs, vt, 4, 0) ==
                              0,
                          "%s", loom_error_message());
            loom_translator_set_shortlist(t, sl);
        }
        ck_assert_int_eq(loom_translator_translate(t, sentence_ptrs, NULL, N, out), 0);
        int seen = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < out[i].n; j++)
                for (int k = 0; k < out[i].hyps[j].hyp.len; k++, seen++) {
                    int id = out[i].hyps[j].hyp.ids[k];
                    if (!pass)
                        others += id != a && id != b;
                    else
                        ck_assert_msg(id == a || id == b || id == LOOM_UNK,
                                      "sentence %d wrote '%s'", i, loom_vocab_word(vt, id));
                }
        ck_assert_int_gt(seen, N);
        loom_translations_free(out, N);
        loom_translator_set_shortlist(t, NULL);
        loom_shortlist_free(sl);
    }
    ck_assert_int_gt(others, N); /* exact decoding writes the other words */
    loom_translator_free(t);
}
END_TEST

/* A batch's candidates: the specials and top words, the always line, and
 * the first `best` known targets of its source words, in increasing id
 * order; unknown words and specials are no keys. */
START_TEST(candidates_of_a_batch)
{
    loom_seq_bundle bu;
    ck_assert_int_eq(loom_seq_file_load(&bu, fixture("seq", "reverse.loom"), NULL), 0);
    const loom_vocab *vs = bu.vocab[0], *vt = bu.vocab[1];
    int Vt = (int)loom_vocab_size(vt);
    const char *path = test_path("t.txt");
    const char *table = "a\tzebra c b\n"
                        "b\td\n"
                        "a\te\n"
                        "\tf\n"
                        "nope\tg h\n"
                        "<unk>\th\n";
    test_write_file(path, table, strlen(table));
    loom_shortlist *sl;
    ck_assert_msg(loom_shortlist_read(&sl, path, vs, vt, 0, 2) == 0, "%s", loom_error_message());
    ck_assert_int_eq(loom_shortlist_tgt_vocab(sl), Vt);
    ck_assert_int_eq((int)loom_shortlist_entries(sl), 3); /* a: c b (e beyond best 2), b: d */
    int cand[64], src[4] = {loom_vocab_find(vs, "a", 1), LOOM_PAD, LOOM_UNK, LOOM_EOS};
    int n = loom_shortlist_candidates(sl, src, 4, cand);
    const char *want[] = {"b", "c", "f"};
    int wid[3];
    for (int k = 0; k < 3; k++)
        wid[k] = loom_vocab_find(vt, want[k], 1);
    ck_assert_int_eq(n, 4 + 3);
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(cand[k], k);
    for (int k = 1; k < n; k++)
        ck_assert_int_lt(cand[k - 1], cand[k]);
    for (int k = 0; k < 3; k++) {
        int found = 0;
        for (int j = 4; j < n; j++)
            found |= cand[j] == wid[k];
        ck_assert_msg(found, "%s is a candidate", want[k]);
    }
    loom_shortlist_free(sl);
    /* top 7: ids 0..6 as well */
    ck_assert_int_eq(loom_shortlist_read(&sl, path, vs, vt, 7, 0), 0);
    n = loom_shortlist_candidates(sl, src + 1, 3, cand);
    ck_assert_int_eq(n, 7 + (loom_vocab_find(vt, "f", 1) >= 7));
    loom_shortlist_free(sl);
    loom_seq_bundle_free(&bu);
}
END_TEST

/* A table built from the reverse task's pairs (each target a permutation of
 * its source) ranks each word's own translation first. */
START_TEST(a_table_built_from_pairs)
{
    loom_seq_bundle bu;
    ck_assert_int_eq(loom_seq_file_load(&bu, fixture("seq", "reverse.loom"), NULL), 0);
    const char *out = test_path("built.txt");
    size_t nsources = 0;
    ck_assert_msg(
        loom_shortlist_build(fixture("seq", "reverse-train.tsv"), &bu, 2, out, &nsources) == 0,
        "%s", loom_error_message());
    ck_assert_int_eq((int)nsources, (int)loom_vocab_size(bu.vocab[0]) - 4);
    loom_shortlist *sl;
    ck_assert_int_eq(loom_shortlist_read(&sl, out, bu.vocab[0], bu.vocab[1], 4, 1), 0);
    for (size_t s = 4; s < loom_vocab_size(bu.vocab[0]); s++) {
        int src = (int)s, cand[64];
        const char *w = loom_vocab_word(bu.vocab[0], src);
        ck_assert_int_eq(loom_shortlist_candidates(sl, &src, 1, cand), 5);
        ck_assert_str_eq(loom_vocab_word(bu.vocab[1], cand[4]), w);
    }
    loom_shortlist_free(sl);
    ck_assert_int_eq(loom_shortlist_build(test_path("missing.tsv"), &bu, 2, out, &nsources),
                     LOOM_EIO);
    ck_assert_int_eq(
        loom_shortlist_build(fixture("seq", "reverse-train.tsv"), &bu, 0, out, &nsources),
        LOOM_EINVAL);
    loom_seq_bundle_free(&bu);
}
END_TEST

/* Bad tables: one message naming the file and line. */
START_TEST(bad_tables_are_named)
{
    static const struct {
        const char *text, *want;
        int rc;
    } cases[] = {
        {"a\tb\nb c\n", "t.txt:2: expected 'source<TAB>target", LOOM_EFORMAT},
        {"a\tb\tc\n", "t.txt:1: a second TAB", LOOM_EFORMAT},
        {"a\tb  c\n", "t.txt:1: an empty target word", LOOM_EFORMAT},
        {"\n\na\tb \n", "t.txt:3: an empty target word", LOOM_EFORMAT},
        {"a\t b\n", "t.txt:1: an empty target word", LOOM_EFORMAT},
        {"zebra\tb\n", "t.txt: none of its source words", LOOM_EFORMAT},
        {"\n\n", "t.txt: holds no entry", LOOM_EFORMAT},
    };
    loom_seq_bundle bu;
    ck_assert_int_eq(loom_seq_file_load(&bu, fixture("seq", "reverse.loom"), NULL), 0);
    const char *path = test_path("t.txt");
    loom_shortlist *sl = (loom_shortlist *)&bu;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        test_write_file(path, cases[i].text, strlen(cases[i].text));
        ck_assert_int_eq(loom_shortlist_read(&sl, path, bu.vocab[0], bu.vocab[1], 4, 0),
                         cases[i].rc);
        ck_assert_ptr_null(sl);
        ck_assert_msg(strstr(loom_error_message(), cases[i].want), "case %zu: %s", i,
                      loom_error_message());
    }
    ck_assert_int_eq(
        loom_shortlist_read(&sl, test_path("none.txt"), bu.vocab[0], bu.vocab[1], 4, 0), LOOM_EIO);
    /* a table read for another target vocabulary is refused by the search */
    test_write_file(path, "a\tb\n", 4);
    ck_assert_int_eq(loom_shortlist_read(&sl, path, bu.vocab[0], bu.vocab[0], 4, 0), 0);
    loom_seq_work *w;
    ck_assert_int_eq(loom_seq_work_new(&w, bu.model), 0);
    loom_seq_decode_opts o;
    loom_seq_decode_defaults(&o);
    o.shortlist = sl;
    int src[2] = {4, 5}, len = 2, count;
    loom_seq_hyp h;
    int same = loom_vocab_size(bu.vocab[0]) == loom_vocab_size(bu.vocab[1]);
    ck_assert_int_eq(loom_seq_decode(bu.model, w, src, &len, 1, 2, &o, &h, &count),
                     same ? 0 : LOOM_EINVAL);
    if (same)
        loom_seq_hyps_free(&h, count);
    loom_seq_work_free(w);
    loom_shortlist_free(sl);
    loom_seq_bundle_free(&bu);
}
END_TEST

static Suite *shortlist_suite(void)
{
    Suite *s = suite_create("shortlist");
    TCase *tc = tcase_create("shortlist");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, a_shortlist_of_every_word_is_exact, 0, 4);
    tcase_add_loop_test(tc, a_word_outside_the_shortlist_is_never_produced, 0, 2);
    tcase_add_test(tc, candidates_of_a_batch);
    tcase_add_test(tc, a_table_built_from_pairs);
    tcase_add_test(tc, bad_tables_are_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(shortlist_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

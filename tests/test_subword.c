/* Tests for src/text/subword: the C interface over SentencePiece. Byte
 * offsets of encoded and decoded pieces, the vocabulary queries, loading
 * from bytes and files, the streams, and damaged models refused with a
 * message (never a crash). Interchange with Python's sentencepiece is
 * checked end to end by tests/e2e/test_subword.sh. */
#include "config.h"
#include "base/error.h"
#include "base/reader.h"
#include "base/rng.h"
#include "base/writer.h"
#include "text/subword.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* One model for the whole suite: trained once on the shipped corpus. */
static loom_subword *model;
static char corpus[4096];

static void train_model(void)
{
    const char *src = getenv("LOOM_SRCDIR");
    snprintf(corpus, sizeof corpus, "%s/tests/fixtures/subword/tatoeba.txt", src ? src : ".");
    loom_subword_opts o;
    loom_subword_opts_default(&o);
    o.vocab_size = 500;
    const char *paths[] = {corpus};
    if (loom_subword_train(&model, paths, 1, &o, NULL) != 0) {
        fprintf(stderr, "cannot train the test model: %s\n", loom_error_message());
        abort();
    }
}

static void free_model(void)
{
    loom_subword_free(model);
    model = NULL;
}

/* "Il est s\u00fbr\u00a0?": the no-break space before "?" is NFKC-normalised to a
 * space, so the pieces say "\u2581?" while the input there holds 2 bytes. */
static const char nbsp_text[] = "Il est s\xc3\xbbr\xc2\xa0?";

START_TEST(encode_spans_cover_the_input_in_order)
{
    const char *texts[] = {"Tom is a good swimmer.", nbsp_text, "  Deux   espaces  ",
                           "Zo\xc3\xab \xe2\x99\xa5 \xe6\x9d\xb1\xe4\xba\xac", ""};
    loom_pieces p = {0};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        const char *s = texts[t];
        size_t len = strlen(s);
        ck_assert_int_eq(loom_subword_encode(model, s, len, &p), 0);
        size_t at = 0;
        for (size_t i = 0; i < p.n; i++) {
            ck_assert_uint_le(at, p.v[i].begin);
            ck_assert_uint_le(p.v[i].begin, p.v[i].end);
            ck_assert_uint_le(p.v[i].end, len);
            /* Between pieces there is only white space that normalisation dropped. */
            for (size_t k = at; k < p.v[i].begin; k++)
                ck_assert_msg(s[k] == ' ', "'%s': byte %zu skipped", s, k);
            ck_assert_uint_eq(strlen(p.v[i].piece), p.v[i].piece_len);
            at = p.v[i].end;
        }
        for (size_t k = at; k < len; k++)
            ck_assert_msg(s[k] == ' ', "'%s': trailing byte %zu not covered", s, k);
        if (len == 0)
            ck_assert_uint_eq(p.n, 0);
    }
    /* The last piece of nbsp_text covers the no-break space and "?". */
    ck_assert_int_eq(loom_subword_encode(model, nbsp_text, strlen(nbsp_text), &p), 0);
    loom_piece *last = &p.v[p.n - 1];
    ck_assert_str_eq(last->piece, "\xe2\x96\x81?");
    ck_assert_uint_eq(last->begin, strlen(nbsp_text) - 3);
    ck_assert_uint_eq(last->end, strlen(nbsp_text));
    loom_pieces_free(&p);
}
END_TEST

typedef struct {
    char buf[512];
    size_t len;
    int n, starts;
} token_log;

static int log_token(void *ctx, const char *tok, size_t len)
{
    token_log *l = ctx;
    ck_assert_uint_lt(l->len + len + 1, sizeof l->buf);
    if (l->n++)
        l->buf[l->len++] = ' ';
    memcpy(l->buf + l->len, tok, len);
    l->len += len;
    l->buf[l->len] = '\0';
    l->starts += loom_subword_piece_starts_word(tok, len);
    return 0;
}

static int stop_at_second(void *ctx, const char *tok, size_t len)
{
    (void)tok, (void)len;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

/* Pieces as tokens: the same pieces as encoding, in the tokenizer's
 * callback, one word start per word; the callback's non-zero return stops. */
START_TEST(tokenize_gives_the_pieces_as_tokens)
{
    const char *s = "Tom isn't here, Mary.";
    loom_pieces p = {0};
    ck_assert_int_eq(loom_subword_encode(model, s, strlen(s), &p), 0);
    char want[512] = "";
    for (size_t i = 0; i < p.n; i++) {
        if (i)
            strcat(want, " ");
        strncat(want, p.v[i].piece, p.v[i].piece_len);
    }
    token_log l = {.len = 0};
    ck_assert_int_eq(loom_subword_tokenize(model, s, strlen(s), log_token, &l), 0);
    ck_assert_str_eq(l.buf, want);
    ck_assert_int_eq(l.n, (int)p.n);
    ck_assert_int_eq(l.starts, 4); /* Tom, isn't, here, Mary. */
    ck_assert_int_gt(l.n, 4);
    int calls = 0;
    ck_assert_int_eq(loom_subword_tokenize(model, s, strlen(s), stop_at_second, &calls), 42);
    ck_assert_int_eq(calls, 2);
    ck_assert(!loom_subword_piece_starts_word("ab", 2));
    ck_assert(!loom_subword_piece_starts_word("\xe2\x96", 2));
    loom_pieces_free(&p);
}
END_TEST

START_TEST(decode_gives_text_and_spans)
{
    const char *s = "Tom is a good swimmer.";
    loom_pieces enc = {0}, dec = {0};
    ck_assert_int_eq(loom_subword_encode(model, s, strlen(s), &enc), 0);
    int32_t ids[64];
    ck_assert_uint_le(enc.n, 64);
    for (size_t i = 0; i < enc.n; i++)
        ids[i] = enc.v[i].id;
    ck_assert_int_eq(loom_subword_decode(model, ids, enc.n, &dec), 0);
    ck_assert_str_eq(dec.text, s);
    ck_assert_uint_eq(dec.text_len, strlen(s));
    ck_assert_uint_eq(dec.n, enc.n);
    /* Each decoded span is its piece with U+2581 read as a space (none
     * before the first word). */
    for (size_t i = 0; i < dec.n; i++) {
        const char *pc = loom_subword_piece(model, ids[i]);
        char want[64];
        size_t w = 0;
        for (const char *c = pc; *c;) {
            if (strncmp(c, "\xe2\x96\x81", 3) == 0) {
                if (i > 0 || c != pc)
                    want[w++] = ' ';
                c += 3;
            } else {
                want[w++] = *c++;
            }
        }
        ck_assert_uint_eq(dec.v[i].end - dec.v[i].begin, w);
        ck_assert_int_eq(memcmp(dec.text + dec.v[i].begin, want, w), 0);
    }
    /* The same through pieces given as text. */
    const char *pieces[64];
    size_t lens[64];
    for (size_t i = 0; i < enc.n; i++) {
        pieces[i] = enc.v[i].piece;
        lens[i] = enc.v[i].piece_len;
    }
    ck_assert_int_eq(loom_subword_decode_pieces(model, pieces, lens, enc.n, &dec), 0);
    ck_assert_str_eq(dec.text, s);
    /* A shorter result reuses the buffers. */
    ck_assert_int_eq(loom_subword_decode(model, ids, 1, &dec), 0);
    ck_assert_uint_eq(dec.n, 1);
    ck_assert_uint_eq(strlen(dec.text), dec.text_len);
    ck_assert_int_eq(loom_subword_decode(model, ids, 0, &dec), 0);
    ck_assert_str_eq(dec.text, "");
    loom_pieces_free(&enc);
    loom_pieces_free(&dec);
    loom_pieces_free(NULL);
}
END_TEST

START_TEST(decode_refuses_ids_out_of_range)
{
    loom_pieces dec = {0};
    int32_t bad[] = {5, loom_subword_size(model)};
    ck_assert_int_eq(loom_subword_decode(model, bad, 2, &dec), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "id 500 out of range"));
    int32_t neg[] = {-1};
    ck_assert_int_eq(loom_subword_decode(model, neg, 1, &dec), LOOM_EINVAL);
    loom_pieces_free(&dec);
}
END_TEST

START_TEST(vocabulary_queries)
{
    int n = loom_subword_size(model);
    ck_assert_int_eq(n, 500);
    ck_assert_int_eq(loom_subword_unk_id(model), 0);
    ck_assert_int_eq(loom_subword_bos_id(model), 1);
    ck_assert_int_eq(loom_subword_eos_id(model), 2);
    ck_assert_int_eq(loom_subword_pad_id(model), -1);
    ck_assert_int_eq(loom_subword_kind(model, 0), LOOM_PIECE_UNKNOWN);
    ck_assert_int_eq(loom_subword_kind(model, 1), LOOM_PIECE_CONTROL);
    ck_assert_int_eq(loom_subword_kind(model, 2), LOOM_PIECE_CONTROL);
    ck_assert_str_eq(loom_subword_piece(model, 0), "<unk>");
    for (int id = 0; id < n; id++) {
        const char *p = loom_subword_piece(model, id);
        ck_assert_int_eq(loom_subword_find(model, p, strlen(p)), id);
        if (id >= 3) {
            ck_assert_int_eq(loom_subword_kind(model, id), LOOM_PIECE_NORMAL);
            ck_assert(loom_subword_score(model, id) < 0);
        }
    }
    ck_assert_ptr_null(loom_subword_piece(model, n));
    ck_assert_ptr_null(loom_subword_piece(model, -1));
    ck_assert_int_eq(loom_subword_find(model, "no such piece", 13), -1);
    ck_assert_int_eq(loom_subword_find(model, "<unk>x", 5), 0); /* length counts */
}
END_TEST

START_TEST(bytes_and_files_load_the_same_model)
{
    size_t size;
    const void *bytes = loom_subword_bytes(model, &size);
    ck_assert_uint_gt(size, 1000);
    loom_subword *copy;
    ck_assert_int_eq(loom_subword_load_bytes(&copy, bytes, size, "copy"), 0);
    const char *path = test_path("m.model");
    ck_assert_int_eq(loom_subword_save(model, path), 0);
    loom_subword *fromfile;
    ck_assert_int_eq(loom_subword_load(&fromfile, path), 0);
    size_t size2;
    const void *bytes2 = loom_subword_bytes(fromfile, &size2);
    ck_assert_uint_eq(size2, size);
    ck_assert_int_eq(memcmp(bytes, bytes2, size), 0);
    const char *s = "Je ne sais pas pourquoi il est parti.";
    loom_pieces a = {0}, b = {0}, c = {0};
    ck_assert_int_eq(loom_subword_encode(model, s, strlen(s), &a), 0);
    ck_assert_int_eq(loom_subword_encode(copy, s, strlen(s), &b), 0);
    ck_assert_int_eq(loom_subword_encode(fromfile, s, strlen(s), &c), 0);
    ck_assert_uint_eq(a.n, b.n);
    ck_assert_uint_eq(a.n, c.n);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_int_eq(a.v[i].id, b.v[i].id);
        ck_assert_int_eq(a.v[i].id, c.v[i].id);
    }
    loom_pieces_free(&a);
    loom_pieces_free(&b);
    loom_pieces_free(&c);
    loom_subword_free(copy);
    loom_subword_free(fromfile);
    loom_subword_free(NULL);
}
END_TEST

START_TEST(vocab_file_is_spm_trains)
{
    const char *path = test_path("m.vocab");
    ck_assert_int_eq(loom_subword_save_vocab(model, path), 0);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int id = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        ck_assert_ptr_nonnull(tab);
        *tab = '\0';
        ck_assert_str_eq(line, loom_subword_piece(model, id));
        char want[32];
        snprintf(want, sizeof want, "%g\n", (double)loom_subword_score(model, id));
        ck_assert_str_eq(tab + 1, want);
        id++;
    }
    fclose(f);
    ck_assert_int_eq(id, loom_subword_size(model));
}
END_TEST

/* Damaged models: cut at many lengths, bytes overwritten at random. Each
 * must load (protocol buffers tolerate some damage) and then work, or be
 * refused with a message naming it; never crash. */
START_TEST(damaged_models_are_refused_or_work)
{
    size_t size;
    const unsigned char *bytes = loom_subword_bytes(model, &size);
    unsigned char *buf = malloc(size);
    ck_assert_ptr_nonnull(buf);
    loom_rng rng;
    loom_rng_seed(&rng, 7, 0);
    int refused = 0, loaded = 0;
    loom_pieces p = {0};
    for (int trial = 0; trial < 300; trial++) {
        size_t n = size;
        memcpy(buf, bytes, size);
        if (trial < 100) {
            n = (size_t)(loom_rng_next(&rng) % size);
        } else {
            int k = 1 + (int)(loom_rng_next(&rng) % 8);
            for (int j = 0; j < k; j++)
                buf[loom_rng_next(&rng) % size] = (unsigned char)loom_rng_next(&rng);
        }
        loom_subword *sw;
        int rc = loom_subword_load_bytes(&sw, buf, n, "damaged.model");
        if (rc == 0) {
            loaded++;
            const char *s = "Il ne fait pas beau aujourd'hui.";
            int e = loom_subword_encode(sw, s, strlen(s), &p);
            ck_assert(e == 0 || e == LOOM_EINVAL);
            loom_subword_free(sw);
        } else {
            refused++;
            ck_assert_int_eq(rc, LOOM_EFORMAT);
            ck_assert_ptr_null(sw);
            ck_assert_ptr_nonnull(strstr(loom_error_message(), "damaged.model: "));
        }
    }
    ck_assert_int_gt(refused, 50);
    loom_pieces_free(&p);
    free(buf);
}
END_TEST

START_TEST(load_errors_name_the_file)
{
    loom_subword *sw = (loom_subword *)1;
    ck_assert_int_eq(loom_subword_load(&sw, test_path("missing.model")), LOOM_EIO);
    ck_assert_ptr_null(sw);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "missing.model"));
    const char *text = test_path("text.model");
    test_write_file(text, "hello world\n", 12);
    ck_assert_int_eq(loom_subword_load(&sw, text), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "text.model: not a SentencePiece model"));
    const char *empty = test_path("empty.model");
    test_write_file(empty, "", 0);
    ck_assert_int_eq(loom_subword_load(&sw, empty), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "empty.model: empty file"));
    ck_assert_int_eq(loom_subword_load_bytes(&sw, "\x0a\x05", 2, "mem"), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "mem: "));
}
END_TEST

START_TEST(train_errors)
{
    loom_subword_opts o;
    loom_subword_opts_default(&o);
    o.vocab_size = 100000;
    loom_subword *sw = (loom_subword *)1;
    const char *paths[] = {corpus};
    ck_assert_int_eq(loom_subword_train(&sw, paths, 1, &o, NULL), LOOM_EINVAL);
    ck_assert_ptr_null(sw);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "Vocabulary size too high (100000)"));
    const char *missing[] = {test_path("nope.txt")};
    o.vocab_size = 100;
    ck_assert_int_eq(loom_subword_train(&sw, missing, 1, &o, NULL), LOOM_EIO);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "nope.txt"));
    const char *empty[] = {test_path("empty.txt")};
    test_write_file(empty[0], "", 0);
    ck_assert_int_eq(loom_subword_train(&sw, empty, 1, &o, NULL), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "no lines to train on"));
    o.character_coverage = 0;
    ck_assert_int_eq(loom_subword_train(&sw, paths, 1, &o, NULL), LOOM_EINVAL);
}
END_TEST

/* The streams: lines in, lines out; a bad id names the file and line. */
static char *run_stream(int encode, int ids, const char *input, int *rc)
{
    const char *in = test_path("in.txt"), *out = test_path("out.txt");
    test_write_file(in, input, strlen(input));
    loom_reader *r;
    loom_writer *w;
    ck_assert_int_eq(loom_reader_open(&r, in), 0);
    ck_assert_int_eq(loom_writer_open(&w, out, LOOM_WRITE_PLAIN), 0);
    *rc = encode ? loom_subword_encode_stream(model, r, w, ids, NULL, 0)
                 : loom_subword_decode_stream(model, r, w, ids, NULL, 0);
    loom_reader_close(r);
    if (*rc)
        loom_writer_abort(w);
    else
        ck_assert_int_eq(loom_writer_commit(w), 0);
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(out, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

START_TEST(streams_keep_lines)
{
    int rc;
    char *pieces = strdup(run_stream(1, 0, "Tom is here.\n\nC'est la vie.\n", &rc));
    ck_assert_int_eq(rc, 0);
    char *text = run_stream(0, 0, pieces, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(text, "Tom is here.\n\nC'est la vie.\n");
    char *ids = strdup(run_stream(1, 1, "Tom is here.\r\nC'est la vie.", &rc));
    ck_assert_int_eq(rc, 0);
    text = run_stream(0, 1, ids, &rc);
    ck_assert_str_eq(text, "Tom is here.\nC'est la vie.\n");
    run_stream(0, 1, "4 5\n4 x5\n", &rc);
    ck_assert_int_eq(rc, LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "in.txt:2: 'x5' is not a piece id"));
    run_stream(0, 1, "4 99999999999\n", &rc);
    ck_assert_int_eq(rc, LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "in.txt:1: "));
    free(pieces);
    free(ids);
}
END_TEST

static Suite *subword_suite(void)
{
    Suite *s = suite_create("subword");
    TCase *tc = tcase_create("subword");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, train_model, free_model);
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(tc, encode_spans_cover_the_input_in_order);
    tcase_add_test(tc, decode_gives_text_and_spans);
    tcase_add_test(tc, tokenize_gives_the_pieces_as_tokens);
    tcase_add_test(tc, decode_refuses_ids_out_of_range);
    tcase_add_test(tc, vocabulary_queries);
    tcase_add_test(tc, bytes_and_files_load_the_same_model);
    tcase_add_test(tc, vocab_file_is_spm_trains);
    tcase_add_test(tc, damaged_models_are_refused_or_work);
    tcase_add_test(tc, load_errors_name_the_file);
    tcase_add_test(tc, train_errors);
    tcase_add_test(tc, streams_keep_lines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(subword_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

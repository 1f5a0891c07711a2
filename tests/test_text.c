/* Tests for src/text: the tokenizer's rules on hand-made edge cases (NFKC,
 * case folding, apostrophes, numbers, scripts without spaces, emoji, RTL
 * text), every class of invalid UTF-8 in both modes, streaming across the
 * reader's pieces, line endings and NUL; the vocabulary's counting,
 * ordering, pruning, specials and file format. The UDHR texts are checked
 * end to end by tests/e2e/test_text.sh. */
#include "config.h"
#include "base/error.h"
#include "base/reader.h"
#include "base/rng.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Tokens joined by single spaces, lines by "|". */
typedef struct {
    char *s;
    size_t len, cap;
    int first;
} joined;

static void put(joined *j, const char *s, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        j->cap = (j->len + n + 1) * 2;
        j->s = realloc(j->s, j->cap);
        ck_assert_ptr_nonnull(j->s);
    }
    memcpy(j->s + j->len, s, n);
    j->len += n;
    j->s[j->len] = '\0';
}

static int on_tok(void *ctx, const char *tok, size_t len)
{
    joined *j = ctx;
    if (!j->first)
        put(j, " ", 1);
    j->first = 0;
    put(j, tok, len);
    return 0;
}

static int on_eol(void *ctx)
{
    joined *j = ctx;
    put(j, "|", 1);
    j->first = 1;
    return 0;
}

/* Tokenizes s with the given options; returns the joined tokens, or
 * "ERROR: <message>" (static storage, valid until the next call). */
static const char *tok_with(const char *s, size_t n, const loom_tok_opts *o);

static const char *tok_opts(const char *s, size_t n, int keep_case, int punct, int invalid,
                            int pretokenized)
{
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    o.keep_case = keep_case, o.punct = punct, o.invalid = invalid, o.pretokenized = pretokenized;
    return tok_with(s, n, &o);
}

/* Characters as tokens (o.chars), case folded or kept. */
static const char *tok_chars(const char *s, int keep_case, int invalid)
{
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    o.chars = 1, o.keep_case = keep_case, o.invalid = invalid;
    return tok_with(s, strlen(s), &o);
}

static const char *tok_with(const char *s, size_t n, const loom_tok_opts *o)
{
    static char *last;
    free(last);
    loom_tokenizer *t;
    ck_assert_int_eq(loom_tokenizer_new(&t, o), 0);
    joined j = {NULL, 0, 0, 1};
    put(&j, "", 0);
    int rc = loom_tokenize_string(t, s, n, on_tok, &j);
    loom_tokenizer_free(t);
    if (rc) {
        free(j.s);
        j.s = malloc(strlen(loom_error_message()) + 8);
        sprintf(j.s, "ERROR: %s", loom_error_message());
    }
    last = j.s;
    return last;
}

static const char *tok(const char *s)
{
    return tok_opts(s, strlen(s), 0, LOOM_PUNCT_KEEP, LOOM_INVALID_ERROR, 0);
}

static const char *tok_case(const char *s)
{
    return tok_opts(s, strlen(s), 1, LOOM_PUNCT_KEEP, LOOM_INVALID_ERROR, 0);
}

static const char *tok_drop(const char *s)
{
    return tok_opts(s, strlen(s), 0, LOOM_PUNCT_DROP, LOOM_INVALID_ERROR, 0);
}

/* ---- Rules --------------------------------------------------------------- */

START_TEST(words_punctuation_and_case)
{
    ck_assert_str_eq(tok("Hello, World!"), "hello , world !");
    ck_assert_str_eq(tok_case("Hello, World!"), "Hello , World !");
    ck_assert_str_eq(tok_drop("Hello, World! (really?)"), "hello world really");
    ck_assert_str_eq(tok("  many   spaces\tand\ttabs  "), "many spaces and tabs");
    ck_assert_str_eq(tok("state-of-the-art"), "state - of - the - art");
    ck_assert_str_eq(tok("e-mail: a@b.org $5 #1"), "e - mail : a @ b . org $ 5 # 1");
    ck_assert_str_eq(tok(""), "");
    ck_assert_str_eq(tok("..."), ". . .");
}
END_TEST

START_TEST(apostrophes_inside_words)
{
    ck_assert_str_eq(tok("Don't"), "don't");
    ck_assert_str_eq(tok("l'homme l\xe2\x80\x99homme"), "l'homme l'homme");
    ck_assert_str_eq(tok("rock'n'roll"), "rock'n'roll");
    ck_assert_str_eq(tok("students' rights"), "students ' rights");
    ck_assert_str_eq(tok("'quoted'"), "' quoted '");
    ck_assert_str_eq(tok("90's"), "90 ' s");
    ck_assert_str_eq(tok("it''s"), "it ' ' s");
    ck_assert_str_eq(tok_drop("students' l\xe2\x80\x99homme"), "students l'homme");
    /* A right quote that is not between letters stays as written. */
    ck_assert_str_eq(tok("\xe2\x80\x98hi\xe2\x80\x99"), "\xe2\x80\x98 hi \xe2\x80\x99");
}
END_TEST

START_TEST(numbers_stay_whole)
{
    ck_assert_str_eq(tok("In 1999 pi was 3.14"), "in 1999 pi was 3.14");
    ck_assert_str_eq(tok("1,000,000 people"), "1,000,000 people");
    ck_assert_str_eq(tok("10.12.1948"), "10.12.1948");
    ck_assert_str_eq(tok("It was 3. Then 4,"), "it was 3 . then 4 ,");
    ck_assert_str_eq(tok("v1.2 a.b 3.x"), "v1.2 a . b 3 . x");
    ck_assert_str_eq(tok(".5 5."), ". 5 5 .");
    ck_assert_str_eq(tok_drop("cost: 3.14, 1,000."), "cost 3.14 1,000");
}
END_TEST

START_TEST(nfkc_ligatures_and_fullwidth)
{
    ck_assert_str_eq(tok("\xef\xac\x81nd"), "find");      /* ﬁnd */
    ck_assert_str_eq(tok_case("\xef\xac\x81nd"), "find"); /* NFKC even with case kept */
    ck_assert_str_eq(tok("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93"), "123"); /* １２３ */
    ck_assert_str_eq(tok("\xef\xbc\x93\xef\xbc\x8e\xef\xbc\x91\xef\xbc\x94"),
                     "3.14");                                             /* ３．１４ */
    ck_assert_str_eq(tok("\xef\xbc\xa1\xef\xbd\x82\xef\xbd\x83"), "abc"); /* Ａｂｃ */
    ck_assert_str_eq(tok("x\xc2\xa0y"), "x y");                           /* NBSP */
    ck_assert_str_eq(tok("\xe2\x91\xa0"), "1");                           /* ① */
}
END_TEST

START_TEST(case_folding)
{
    ck_assert_str_eq(tok("Stra\xc3\x9f"
                         "e STRASSE"),
                     "strasse strasse");
    ck_assert_str_eq(tok_case("Stra\xc3\x9f"
                              "e"),
                     "Stra\xc3\x9f"
                     "e");
    /* Greek: final sigma folds to sigma, so both spellings meet. */
    ck_assert_str_eq(tok("\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\xbf\xce\xb4\xce\xbf\xcf\x82"),
                     "\xce\xbf\xce\xb4\xce\xbf\xcf\x83 \xce\xbf\xce\xb4\xce\xbf\xcf\x83");
    ck_assert_str_eq(tok_case("\xce\xbf\xce\xb4\xce\xbf\xcf\x82"),
                     "\xce\xbf\xce\xb4\xce\xbf\xcf\x82");
    ck_assert_str_eq(tok("\xd0\x9c\xd0\x98\xd0\xa0"), "\xd0\xbc\xd0\xb8\xd1\x80"); /* МИР -> мир */
}
END_TEST

START_TEST(combining_marks_compose)
{
    /* e + U+0301 -> é (U+00E9), also when the base came by the ASCII path. */
    ck_assert_str_eq(tok("Cafe\xcc\x81 cafe\xcc\x81s"), "caf\xc3\xa9 caf\xc3\xa9s");
    ck_assert_str_eq(tok("caf\xc3\xa9"), "caf\xc3\xa9");
    /* Marks with no precomposed form stay, inside the word. */
    ck_assert_str_eq(tok("q\xcc\x83q"), "q\xcc\x83q");
    /* A mark after a space starts a word rather than vanishing. */
    ck_assert_str_eq(tok("a \xcc\x81"), "a \xcc\x81");
    /* Hindi: virama and vowel signs are marks inside the word. */
    ck_assert_str_eq(tok("\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80 "
                         "\xe0\xa4\xb6\xe0\xa5\x8d\xe0\xa4\xb0\xe0\xa5\x80"),
                     "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80 "
                     "\xe0\xa4\xb6\xe0\xa5\x8d\xe0\xa4\xb0\xe0\xa5\x80");
}
END_TEST

START_TEST(scripts_without_spaces)
{
    /* 東京は日本 */
    ck_assert_str_eq(tok("\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xaf\xe6\x97\xa5\xe6\x9c\xac"),
                     "\xe6\x9d\xb1 \xe4\xba\xac \xe3\x81\xaf \xe6\x97\xa5 \xe6\x9c\xac");
    /* Katakana with the prolonged sound mark: コーヒー */
    ck_assert_str_eq(tok("\xe3\x82\xb3\xe3\x83\xbc\xe3\x83\x92\xe3\x83\xbc"),
                     "\xe3\x82\xb3 \xe3\x83\xbc \xe3\x83\x92 \xe3\x83\xbc");
    /* Thai: a consonant keeps its combining vowel and tone mark: ที่ดี */
    ck_assert_str_eq(tok("\xe0\xb8\x97\xe0\xb8\xb5\xe0\xb9\x88\xe0\xb8\x94\xe0\xb8\xb5"),
                     "\xe0\xb8\x97\xe0\xb8\xb5\xe0\xb9\x88 \xe0\xb8\x94\xe0\xb8\xb5");
    /* Numbers and Latin words next to Han stay whole: 2024年Tokyo */
    ck_assert_str_eq(tok("2024\xe5\xb9\xb4Tokyo"), "2024 \xe5\xb9\xb4 tokyo");
    /* Korean is written with spaces: words. 한국어 문장 */
    ck_assert_str_eq(tok("\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xeb\xac\xb8\xec\x9e\xa5"),
                     "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xeb\xac\xb8\xec\x9e\xa5");
    /* Ideographic punctuation: 。 is punctuation */
    ck_assert_str_eq(tok_drop("\xe4\xba\xba\xe3\x80\x82"), "\xe4\xba\xba");
}
END_TEST

START_TEST(emoji_clusters)
{
    const char *family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7";
    char in[128], want[128];
    snprintf(in, sizeof in, "we%sare", family);
    snprintf(want, sizeof want, "we %s are", family);
    ck_assert_str_eq(tok(in), want);
    ck_assert_str_eq(tok_drop(in), "we are");
    /* Thumbs up with a skin tone, a flag (two regional indicators), a heart
     * with its variation selector: one token each. */
    ck_assert_str_eq(tok("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\xf0\x9f\x87\xab\xf0\x9f\x87\xb7\xe2\x9d"
                         "\xa4\xef\xb8\x8f"),
                     "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd \xf0\x9f\x87\xab\xf0\x9f\x87\xb7 "
                     "\xe2\x9d\xa4\xef\xb8\x8f");
}
END_TEST

START_TEST(right_to_left_text)
{
    /* Arabic, with a right-to-left mark, which is invisible and removed:
     * "مرحبا بالعالم." */
    ck_assert_str_eq(tok("\xe2\x80\x8f\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 "
                         "\xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85.\xe2\x80\x8f"),
                     "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 "
                     "\xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85 .");
    /* Hebrew with Latin and a number: "שלום World 2024" */
    ck_assert_str_eq(tok("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d World 2024"),
                     "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d world 2024");
    /* Arabic-Indic digits are digits: ١٢٣ */
    ck_assert_str_eq(tok("\xd9\xa1\xd9\xa2\xd9\xa3"), "\xd9\xa1\xd9\xa2\xd9\xa3");
}
END_TEST

START_TEST(invisible_and_control_characters)
{
    ck_assert_str_eq(tok_opts("a\0b", 3, 0, 0, 0, 0), "a b"); /* NUL separates */
    ck_assert_str_eq(tok("a\rb"), "a b");                     /* lone CR separates */
    ck_assert_str_eq(tok("co\xc2\xad"
                         "operate"),
                     "cooperate");                       /* soft hyphen removed */
    ck_assert_str_eq(tok("\xef\xbb\xbfhello"), "hello"); /* BOM removed */
    ck_assert_str_eq(tok("a\x01"
                         "b\x7f"
                         "c"),
                     "a b c"); /* controls separate */
}
END_TEST

START_TEST(long_tokens_are_cut)
{
    size_t n = 3000;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    const char *got = tok(s);
    /* 1024 + 1024 + 952, separated by two spaces. */
    ck_assert_uint_eq(strlen(got), n + 2);
    ck_assert_int_eq(got[LOOM_TOKEN_MAX], ' ');
    ck_assert_int_eq(got[2 * LOOM_TOKEN_MAX + 1], ' ');
    free(s);
}
END_TEST

START_TEST(pretokenized_splits_on_ascii_space_only)
{
    const char *s = "Don't  STOP,\tnow\xc2\xa0ok \xef\xac\x81";
    ck_assert_str_eq(tok_opts(s, strlen(s), 0, 0, 0, 1), "Don't STOP, now\xc2\xa0ok \xef\xac\x81");
    ck_assert_str_eq(tok_opts("a\0b\rc", 5, 0, 0, 0, 1), "a b c");
    /* On clean lower-case text it agrees with the full tokenizer. */
    const char *clean = "the quick brown fox jumps over the lazy dog";
    char *pre = strdup(tok_opts(clean, strlen(clean), 0, 0, 0, 1));
    ck_assert_str_eq(pre, tok(clean));
    free(pre);
}
END_TEST

/* ---- Characters as tokens ---------------------------------------------- */

START_TEST(chars_are_grapheme_clusters)
{
    /* folded by default, kept on request; one space token between words */
    ck_assert_str_eq(tok_chars("LOOM", 0, 0), "l o o m");
    ck_assert_str_eq(tok_chars("LOOM", 1, 0), "L O O M");
    ck_assert_str_eq(tok_chars("  ab \t c  ", 1, 0), "a b \xe2\x96\x81 c");
    /* e + combining acute composes (NFKC) into one token; the ligature fi
     * becomes two; a flag (two regional indicators) and a ZWJ family stay
     * one cluster each; Hangul jamo compose into one syllable */
    ck_assert_str_eq(tok_chars("cafe\xcc\x81", 0, 0), "c a f \xc3\xa9");
    ck_assert_str_eq(tok_chars("\xef\xac\x81x", 0, 0), "f i x");
    ck_assert_str_eq(tok_chars("\xf0\x9f\x87\xab\xf0\x9f\x87\xb7!", 0, 0),
                     "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7 !");
    ck_assert_str_eq(tok_chars("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"
                               "a",
                               0, 0),
                     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 a");
    ck_assert_str_eq(tok_chars("\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", 0, 0), "\xed\x95\x9c");
    /* punctuation is a character like any other, and digits too */
    ck_assert_str_eq(tok_chars("a,1", 0, 0), "a , 1");
    /* invalid UTF-8: an error, or U+FFFD */
    ck_assert_str_eq(tok_chars("a\xff"
                               "b",
                               0, 0),
                     "ERROR: invalid UTF-8 at byte 1");
    ck_assert_str_eq(tok_chars("a\xff"
                               "b",
                               0, 1),
                     "a \xef\xbf\xbd b");
    /* chars wins over pretokenized */
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    o.chars = o.pretokenized = 1;
    ck_assert_str_eq(tok_with("ab c", 4, &o), "a b \xe2\x96\x81 c");
}
END_TEST

START_TEST(chars_span_reader_pieces)
{
    /* a cluster (e + three combining marks) cut by the reader's pieces is
     * still one token; lines do not carry a space token over */
    const char *text = "abcde\xcc\x81\xcc\xa3\xcc\x88"
                       "fgh ij \nk\n";
    char *path = strdup(test_path("chars.txt"));
    test_write_file(path, text, strlen(text));
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    o.chars = 1;
    for (size_t bufsize = 4; bufsize <= 64; bufsize *= 2) {
        joined j = {NULL, 0, 0, 1};
        put(&j, "", 0);
        loom_tokenizer *t;
        loom_reader *r;
        ck_assert_int_eq(loom_tokenizer_new(&t, &o), 0);
        ck_assert_int_eq(loom_reader_open_sized(&r, path, bufsize), 0);
        ck_assert_int_eq(loom_tokenize_stream(t, r, on_tok, on_eol, &j), 0);
        loom_reader_close(r);
        loom_tokenizer_free(t);
        ck_assert_msg(
            strcmp(j.s, "a b c d \xe1\xba\xb9\xcc\x81\xcc\x88 f g h \xe2\x96\x81 i j|k|") == 0,
            "piece size %zu: '%s'", bufsize, j.s);
        free(j.s);
    }
    free(path);
}
END_TEST

/* ---- Invalid UTF-8 ------------------------------------------------------ */

static const struct {
    const char *name;
    const char *bytes; /* placed between "a" and "b" */
    int replacements;  /* U+FFFD in replace mode: one per maximal subpart */
} bad_utf8[] = {
    {"overlong 2-byte (C0)", "\xc0\xaf", 2},
    {"overlong 2-byte (C1)", "\xc1\xbf", 2},
    {"overlong 3-byte", "\xe0\x80\xaf", 3},
    {"overlong 4-byte", "\xf0\x80\x80\xaf", 4},
    {"surrogate", "\xed\xa0\x80", 3},
    {"past U+10FFFF", "\xf4\x90\x80\x80", 4},
    {"byte F5", "\xf5", 1},
    {"byte FF", "\xff", 1},
    {"stray continuation", "\x80", 1},
    {"truncated 3-byte", "\xe2\x82", 1},
    {"truncated 4-byte", "\xf0\x9f\x98", 1},
};
#define N_BAD (sizeof bad_utf8 / sizeof bad_utf8[0])

START_TEST(invalid_utf8_is_an_error)
{
    char in[32];
    snprintf(in, sizeof in, "a%sb", bad_utf8[_i].bytes);
    for (int pre = 0; pre < 2; pre++) {
        const char *got = tok_opts(in, strlen(in), 0, 0, LOOM_INVALID_ERROR, pre);
        ck_assert_msg(strcmp(got, "ERROR: invalid UTF-8 at byte 1") == 0, "%s%s: got '%s'",
                      bad_utf8[_i].name, pre ? " (pretokenized)" : "", got);
    }
}
END_TEST

START_TEST(invalid_utf8_is_replaced)
{
    char in[32], want[64] = "a";
    snprintf(in, sizeof in, "a%sb", bad_utf8[_i].bytes);
    for (int k = 0; k < bad_utf8[_i].replacements; k++)
        strcat(want, " \xef\xbf\xbd");
    strcat(want, " b");
    const char *got = tok_opts(in, strlen(in), 0, 0, LOOM_INVALID_REPLACE, 0);
    ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s'", bad_utf8[_i].name, got);
    /* Pretokenized: the replacement stays inside the token. */
    char want_pre[64] = "a";
    for (int k = 0; k < bad_utf8[_i].replacements; k++)
        strcat(want_pre, "\xef\xbf\xbd");
    strcat(want_pre, "b");
    got = tok_opts(in, strlen(in), 0, 0, LOOM_INVALID_REPLACE, 1);
    ck_assert_msg(strcmp(got, want_pre) == 0, "%s (pretokenized): got '%s'", bad_utf8[_i].name,
                  got);
}
END_TEST

/* Tokenizes a file through the reader with a given piece size. */
static const char *tok_file(const char *path, size_t bufsize, int invalid, int pretokenized)
{
    static joined j;
    free(j.s);
    memset(&j, 0, sizeof j);
    j.first = 1;
    put(&j, "", 0);
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    o.invalid = invalid;
    o.pretokenized = pretokenized;
    loom_tokenizer *t;
    loom_reader *r;
    ck_assert_int_eq(loom_tokenizer_new(&t, &o), 0);
    ck_assert_int_eq(loom_reader_open_sized(&r, path, bufsize), 0);
    int rc = loom_tokenize_stream(t, r, on_tok, on_eol, &j);
    loom_reader_close(r);
    loom_tokenizer_free(t);
    if (rc) {
        j.len = 0;
        put(&j, "ERROR: ", 7);
        put(&j, loom_error_message(), strlen(loom_error_message()));
    }
    return j.s;
}

START_TEST(invalid_utf8_names_file_line_and_byte)
{
    const char *path = test_path("bad.txt");
    test_write_file(path, "first line\nsecond \xc0 line\n", 25);
    char want[512];
    snprintf(want, sizeof want, "ERROR: %s:2: invalid UTF-8 at byte 18", path);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_ERROR, 0), want);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_ERROR, 1), want);
    ck_assert_str_eq(tok_file(path, 64, LOOM_INVALID_ERROR, 0), want);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_REPLACE, 0),
                     "first line|second \xef\xbf\xbd line|");
}
END_TEST

START_TEST(sequence_cut_at_end_of_file)
{
    const char *path = test_path("cut.txt");
    test_write_file(path, "ok\nab\xe2\x82", 7);
    char want[512];
    snprintf(want, sizeof want, "ERROR: %s:2: invalid UTF-8 at byte 5", path);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_ERROR, 0), want);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_ERROR, 1), want);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_REPLACE, 0), "ok|ab \xef\xbf\xbd|");
    /* A sequence cut by the end of its line is as bad. */
    test_write_file(path, "ab\xe2\x82\ncd\n", 8);
    snprintf(want, sizeof want, "ERROR: %s:1: invalid UTF-8 at byte 2", path);
    ck_assert_str_eq(tok_file(path, 1 << 16, LOOM_INVALID_ERROR, 0), want);
}
END_TEST

/* ---- Streaming ------------------------------------------------------------ */

START_TEST(line_endings)
{
    const char *path = test_path("crlf.txt");
    test_write_file(path, "One two\r\nthree\rfour\n\nfive\r\n", 27);
    ck_assert_str_eq(tok_file(path, 1 << 16, 0, 0), "one two|three four||five|");
    ck_assert_str_eq(tok_file(path, 1 << 16, 0, 1), "One two|three four||five|");
    test_write_file(path, "no newline at end", 17);
    ck_assert_str_eq(tok_file(path, 1 << 16, 0, 0), "no newline at end|");
    test_write_file(path, "nul\0inside\n", 11);
    ck_assert_str_eq(tok_file(path, 1 << 16, 0, 0), "nul inside|");
}
END_TEST

/* A long line read in pieces of every small size gives the tokens of the
 * whole line at once: words, numbers, held apostrophes, combining marks,
 * CJK and emoji clusters all carry across the cuts. */
START_TEST(pieces_carry_partial_tokens)
{
    static const char unit[] =
        "Don't cafe\xcc\x81 3.14 l\xe2\x80\x99homme \xe6\x9d\xb1\xe4\xba\xac Stra\xc3\x9f"
        "e "
        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 1,000, "
        "\xe0\xb8\x97\xe0\xb8\xb5\xe0\xb9\x88 e\xcc\x81\xcc\x81 students' ok. ";
    size_t ulen = strlen(unit), reps = 60, n = ulen * reps;
    char *line = malloc(n + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(line + i * ulen, unit, ulen);
    line[n] = '\n';
    const char *path = test_path("long.txt");
    test_write_file(path, line, n + 1);
    char *want = strdup(tok_opts(line, n, 0, 0, 0, 0));
    size_t wlen = strlen(want);
    want = realloc(want, wlen + 2);
    strcpy(want + wlen, "|");
    for (size_t bufsize = 64; bufsize < 140; bufsize++) {
        const char *got = tok_file(path, bufsize, 0, 0);
        ck_assert_msg(strcmp(got, want) == 0, "piece size %zu differs", bufsize);
    }
    free(want);
    free(line);
}
END_TEST

/* Text with no ASCII at all (Chinese, Thai) is normalised in parts of at
 * most 16 KB, cut between clusters: 60 KB of it give exactly the tokens of
 * its units, whole or in pieces. */
START_TEST(long_runs_without_ascii)
{
    /* 東京は日本の首都です。ที่ดี, then an ideographic space */
    static const char unit[] = "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xaf\xe6\x97\xa5\xe6\x9c\xac"
                               "\xe3\x81\xae\xe9\xa6\x96\xe9\x83\xbd\xe3\x81\xa7\xe3\x81\x99"
                               "\xe3\x80\x82\xe0\xb8\x97\xe0\xb8\xb5\xe0\xb9\x88\xe0\xb8\x94"
                               "\xe0\xb8\xb5\xe3\x80\x80";
    size_t ulen = strlen(unit), reps = 1200, n = ulen * reps;
    char *unit_tokens = strdup(tok(unit));
    size_t tlen = strlen(unit_tokens);
    char *want = malloc((tlen + 1) * reps + 2);
    char *line = malloc(n + 1);
    for (size_t i = 0; i < reps; i++) {
        memcpy(line + i * ulen, unit, ulen);
        memcpy(want + i * (tlen + 1), unit_tokens, tlen);
        want[i * (tlen + 1) + tlen] = ' ';
    }
    want[(tlen + 1) * reps - 1] = '\0';
    ck_assert_str_eq(tok_opts(line, n, 0, 0, 0, 0), want);
    line[n] = '\n';
    const char *path = test_path("cjk.txt");
    test_write_file(path, line, n + 1);
    strcat(want, "|");
    ck_assert_str_eq(tok_file(path, 1 << 20, 0, 0), want);
    for (size_t bufsize = 64; bufsize < 80; bufsize++)
        ck_assert_msg(strcmp(tok_file(path, bufsize, 0, 0), want) == 0, "piece size %zu differs",
                      bufsize);
    free(line);
    free(want);
    free(unit_tokens);
}
END_TEST

/* Random lines built from awkward pieces (apostrophes and separators next
 * to digits and letters, combining marks, CJK, Thai, emoji, bad bytes):
 * read through the reader in pieces of random sizes they give the tokens
 * of the whole line at once, in both tokenizer modes. A fixed seed. */
START_TEST(random_lines_in_random_pieces)
{
    static const char *const bits[] = {"a",
                                       "Z",
                                       "7",
                                       " ",
                                       "  ",
                                       "'",
                                       "\xe2\x80\x99",
                                       ".",
                                       ",",
                                       "-",
                                       "\t",
                                       "\r",
                                       "\xcc\x81",
                                       "\xc3\xa9",
                                       "\xe6\x9d\xb1",
                                       "\xe0\xb8\x97\xe0\xb8\xb5\xe0\xb9\x88",
                                       "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
                                       "\xef\xac\x81",
                                       "\xc3\x9f",
                                       "\xc0",
                                       "\xe2\x82",
                                       "\xed\xa0\x80",
                                       "\xff",
                                       "\x80",
                                       "\xe2\x80\x8f",
                                       "\xc2\xa0",
                                       "word",
                                       "3.14"};
    const size_t nbits = sizeof bits / sizeof bits[0];
    loom_rng rng;
    loom_rng_seed(&rng, 20260301, 0);
    const char *path = test_path("random.txt");
    char line[4096];
    for (int round = 0; round < 60; round++) {
        size_t n = 0;
        while (n < 3000) {
            const char *b = bits[loom_rng_next(&rng) % nbits];
            memcpy(line + n, b, strlen(b));
            n += strlen(b);
        }
        for (int pre = 0; pre < 2; pre++) {
            char *want = strdup(tok_opts(line, n, 0, 0, LOOM_INVALID_REPLACE, pre));
            want = realloc(want, strlen(want) + 2);
            strcat(want, "|");
            line[n] = '\n';
            test_write_file(path, line, n + 1);
            size_t bufsize = 64 + loom_rng_next(&rng) % 200;
            const char *got = tok_file(path, bufsize, LOOM_INVALID_REPLACE, pre);
            ck_assert_msg(strcmp(got, want) == 0, "round %d, pretokenized %d, piece size %zu",
                          round, pre, bufsize);
            free(want);
        }
    }
}
END_TEST

static int stop_after_two(void *ctx, const char *tok, size_t len)
{
    int *n = ctx;
    return ++*n == 2 ? 42 : 0;
}

START_TEST(callback_stops_tokenizing)
{
    loom_tokenizer *t;
    ck_assert_int_eq(loom_tokenizer_new(&t, NULL), 0);
    int n = 0;
    ck_assert_int_eq(loom_tokenize_string(t, "a b c d", 7, stop_after_two, &n), 42);
    ck_assert_int_eq(n, 2);
    loom_tokenizer_free(t);
    loom_tokenizer_free(NULL);
}
END_TEST

/* ---- Vocabulary ------------------------------------------------------------ */

static void add(loom_vocab *v, const char *w, uint64_t count)
{
    ck_assert_int_eq(loom_vocab_add(v, w, strlen(w), count), 0);
}

static int32_t find(const loom_vocab *v, const char *w)
{
    return loom_vocab_find(v, w, strlen(w));
}

START_TEST(vocab_sorts_by_count_then_bytes)
{
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    add(v, "b", 2), add(v, "ab", 1), add(v, "c", 5), add(v, "a", 2), add(v, "ab", 1);
    add(v, "rare", 1);
    ck_assert_int_eq(find(v, "c"), 2); /* insertion order before finalize */
    ck_assert_int_eq(loom_vocab_finalize(v, 1, 0), 0);
    ck_assert_uint_eq(loom_vocab_size(v), 5);
    const char *want[] = {"c", "a", "ab", "b", "rare"};
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(loom_vocab_word(v, i), want[i]);
        ck_assert_int_eq(find(v, want[i]), i);
    }
    ck_assert_uint_eq(loom_vocab_count(v, 0), 5);
    ck_assert_uint_eq(loom_vocab_total(v), 12);
    ck_assert_int_eq(find(v, "abc"), -1);
    ck_assert_int_eq(find(v, ""), -1);
    ck_assert_ptr_null(loom_vocab_word(v, 5));
    loom_vocab_free(v);
    loom_vocab_free(NULL);
}
END_TEST

START_TEST(vocab_min_count_and_max_size)
{
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    add(v, "x", 10), add(v, "y", 3), add(v, "z", 2), add(v, "w", 1);
    ck_assert_int_eq(loom_vocab_finalize(v, 2, 2), 0);
    ck_assert_uint_eq(loom_vocab_size(v), 2);
    ck_assert_str_eq(loom_vocab_word(v, 1), "y");
    ck_assert_int_eq(find(v, "z"), -1);
    ck_assert_uint_eq(loom_vocab_total(v), 13);
    loom_vocab_free(v);
}
END_TEST

START_TEST(vocab_specials_come_first)
{
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    ck_assert_int_eq(loom_vocab_add_specials(v), 0);
    add(v, "the", 9), add(v, "rare", 1);
    ck_assert_int_eq(loom_vocab_finalize(v, 2, 0), 0);
    ck_assert_uint_eq(loom_vocab_size(v), 5);
    ck_assert_int_eq(find(v, "<pad>"), LOOM_PAD);
    ck_assert_int_eq(find(v, "<unk>"), LOOM_UNK);
    ck_assert_int_eq(find(v, "<s>"), LOOM_BOS);
    ck_assert_int_eq(find(v, "</s>"), LOOM_EOS);
    ck_assert_int_eq(find(v, "the"), 4);
    ck_assert_uint_eq(loom_vocab_count(v, LOOM_UNK), 0);
    loom_vocab_free(v);
}
END_TEST

START_TEST(vocab_prunes_rare_words_past_the_bound)
{
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    loom_vocab_set_prune_limit(v, 100);
    ck_assert_int_eq(loom_vocab_add_specials(v), 0);
    char w[32];
    for (int i = 0; i < 1000; i++) {
        add(v, "often", 1);
        snprintf(w, sizeof w, "once%d", i);
        add(v, w, 1);
    }
    unsigned prunings;
    uint64_t dropped, threshold;
    loom_vocab_prune_stats(v, &prunings, &dropped, &threshold);
    ck_assert_uint_gt(prunings, 0);
    ck_assert_uint_gt(dropped, 900);
    /* As in word2vec, each pruning raises the threshold by one. */
    ck_assert_uint_eq(threshold, prunings);
    ck_assert_int_eq(loom_vocab_finalize(v, 1, 0), 0);
    ck_assert_uint_le(loom_vocab_size(v), 100);
    ck_assert_int_eq(find(v, "</s>"), LOOM_EOS);
    ck_assert_int_eq(find(v, "often"), 4);
    ck_assert_uint_eq(loom_vocab_count(v, 4), 1000);
    loom_vocab_free(v);
}
END_TEST

START_TEST(vocab_table_grows)
{
    loom_vocab *v;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    char w[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(w, sizeof w, "w%d", i);
        add(v, w, (uint64_t)(i % 7) + 1);
    }
    for (int i = 0; i < 100000; i += 997) {
        snprintf(w, sizeof w, "w%d", i);
        ck_assert_int_eq(find(v, w), i);
    }
    ck_assert_int_eq(loom_vocab_finalize(v, 7, 0), 0);
    ck_assert_uint_eq(loom_vocab_size(v), 100000 / 7);
    /* All kept words have count 7: byte order decides, a prefix first. */
    ck_assert_int_eq(find(v, "w1000"), 0);
    ck_assert_int_eq(find(v, "w10002"), 1);
    loom_vocab_free(v);
}
END_TEST

START_TEST(vocab_save_and_load)
{
    loom_vocab *v, *u;
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    ck_assert_int_eq(loom_vocab_add_specials(v), 0);
    add(v, "caf\xc3\xa9", 3), add(v, "the", 7), add(v, "a", 3);
    ck_assert_int_eq(loom_vocab_finalize(v, 1, 0), 0);
    const char *path = test_path("v.txt");
    ck_assert_int_eq(loom_vocab_save(v, path), 0);
    FILE *f = fopen(path, "r");
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "<pad> 0\n<unk> 0\n<s> 0\n</s> 0\nthe 7\na 3\ncaf\xc3\xa9 3\n");
    ck_assert_int_eq(loom_vocab_load(&u, path), 0);
    ck_assert_uint_eq(loom_vocab_size(u), 7);
    for (int32_t i = 0; i < 7; i++) {
        ck_assert_str_eq(loom_vocab_word(u, i), loom_vocab_word(v, i));
        ck_assert_uint_eq(loom_vocab_count(u, i), loom_vocab_count(v, i));
    }
    ck_assert_uint_eq(loom_vocab_total(u), 13);
    loom_vocab_free(u);
    /* The file's order is kept, even when it is not sorted. */
    test_write_file(path, "</s> 0\nzeta 1\nalpha 5\n", 22);
    ck_assert_int_eq(loom_vocab_load(&u, path), 0);
    ck_assert_int_eq(find(u, "zeta"), 1);
    ck_assert_int_eq(find(u, "alpha"), 2);
    loom_vocab_free(u);
    loom_vocab_free(v);
}
END_TEST

START_TEST(vocab_load_errors_name_the_line)
{
    loom_vocab *u;
    const char *path = test_path("bad.vocab");
    char want[512];
    test_write_file(path, "good 1\nbad\n", 11);
    ck_assert_int_eq(loom_vocab_load(&u, path), LOOM_EFORMAT);
    ck_assert_ptr_null(u);
    snprintf(want, sizeof want, "%s:2: expected 'word count'", path);
    ck_assert_str_eq(loom_error_message(), want);
    test_write_file(path, "good 1\nbad 12x\n", 15);
    ck_assert_int_eq(loom_vocab_load(&u, path), LOOM_EFORMAT);
    snprintf(want, sizeof want, "%s:2: bad count '12x'", path);
    ck_assert_str_eq(loom_error_message(), want);
    test_write_file(path, "w 1\nw 2\n", 8);
    ck_assert_int_eq(loom_vocab_load(&u, path), LOOM_EFORMAT);
    snprintf(want, sizeof want, "%s:2: duplicate word 'w'", path);
    ck_assert_str_eq(loom_error_message(), want);
    ck_assert_int_eq(loom_vocab_load(&u, test_path("missing")), LOOM_EIO);
}
END_TEST

START_TEST(vocab_counts_a_stream)
{
    const char *path = test_path("c.txt");
    test_write_file(path, "The cat, the hat.\nthe END\n", 26);
    loom_tokenizer *t;
    loom_reader *r;
    loom_vocab *v;
    ck_assert_int_eq(loom_tokenizer_new(&t, NULL), 0);
    ck_assert_int_eq(loom_reader_open(&r, path), 0);
    ck_assert_int_eq(loom_vocab_new(&v), 0);
    ck_assert_int_eq(loom_vocab_count_stream(v, t, r), 0);
    ck_assert_int_eq(loom_vocab_finalize(v, 1, 0), 0);
    ck_assert_str_eq(loom_vocab_word(v, 0), "the");
    ck_assert_uint_eq(loom_vocab_count(v, 0), 3);
    ck_assert_uint_eq(loom_vocab_total(v), 8);
    loom_vocab_free(v);
    loom_reader_close(r);
    loom_tokenizer_free(t);
}
END_TEST

static Suite *text_suite(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("tokenizer");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(tc, words_punctuation_and_case);
    tcase_add_test(tc, apostrophes_inside_words);
    tcase_add_test(tc, numbers_stay_whole);
    tcase_add_test(tc, nfkc_ligatures_and_fullwidth);
    tcase_add_test(tc, case_folding);
    tcase_add_test(tc, combining_marks_compose);
    tcase_add_test(tc, scripts_without_spaces);
    tcase_add_test(tc, emoji_clusters);
    tcase_add_test(tc, right_to_left_text);
    tcase_add_test(tc, invisible_and_control_characters);
    tcase_add_test(tc, long_tokens_are_cut);
    tcase_add_test(tc, pretokenized_splits_on_ascii_space_only);
    tcase_add_test(tc, chars_are_grapheme_clusters);
    tcase_add_test(tc, chars_span_reader_pieces);
    tcase_add_loop_test(tc, invalid_utf8_is_an_error, 0, N_BAD);
    tcase_add_loop_test(tc, invalid_utf8_is_replaced, 0, N_BAD);
    tcase_add_test(tc, invalid_utf8_names_file_line_and_byte);
    tcase_add_test(tc, sequence_cut_at_end_of_file);
    tcase_add_test(tc, line_endings);
    tcase_add_test(tc, pieces_carry_partial_tokens);
    tcase_add_test(tc, long_runs_without_ascii);
    tcase_add_test(tc, random_lines_in_random_pieces);
    tcase_add_test(tc, callback_stops_tokenizing);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("vocab");
    tcase_set_timeout(tv, 60);
    tcase_add_checked_fixture(tv, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(tv, vocab_sorts_by_count_then_bytes);
    tcase_add_test(tv, vocab_min_count_and_max_size);
    tcase_add_test(tv, vocab_specials_come_first);
    tcase_add_test(tv, vocab_prunes_rare_words_past_the_bound);
    tcase_add_test(tv, vocab_table_grows);
    tcase_add_test(tv, vocab_save_and_load);
    tcase_add_test(tv, vocab_load_errors_name_the_line);
    tcase_add_test(tv, vocab_counts_a_stream);
    suite_add_tcase(s, tv);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(text_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

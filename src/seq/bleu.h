/* loom: corpus BLEU-4 and chrF, computed as sacreBLEU computes them by
 * default (13a tokenisation, exponential brevity penalty, "exp" smoothing;
 * chrF with character 6-grams, beta 2, whitespace ignored). An accumulator
 * takes (hypothesis, reference) sentence pairs as UTF-8 strings, so the
 * seq2seq trainer can score its validation set without touching files.
 * Knows nothing of models or vocabularies. */
#ifndef LOOM_SEQ_BLEU_H
#define LOOM_SEQ_BLEU_H

#include <stddef.h>
#include <stdint.h>

enum { LOOM_BLEU_ORDER = 4, LOOM_CHRF_ORDER = 6 };

/* How hypothesis and reference are split into words for BLEU. */
typedef enum {
    LOOM_BLEU_TOK_13A = 0, /* sacreBLEU's default, mteval-v13a */
    LOOM_BLEU_TOK_NONE = 1 /* split on whitespace only */
} loom_bleu_tokenize;

/* What to do with an n-gram order that has no match (sacreBLEU's
 * --smooth-method; "exp" is its default for corpus BLEU). */
typedef enum {
    LOOM_BLEU_SMOOTH_EXP = 0,  /* precision 1 / (2^k total), k-th such order */
    LOOM_BLEU_SMOOTH_NONE = 1, /* precision 0, so BLEU 0 */
    LOOM_BLEU_SMOOTH_FLOOR = 2 /* precision 0.1 / total */
} loom_bleu_smooth;

typedef struct {
    loom_bleu_tokenize tokenize;
    loom_bleu_smooth smooth;
} loom_bleu_options;

/* The sufficient statistics and the scores derived from them. */
typedef struct {
    long long sentences;
    long long sys_len, ref_len;         /* BLEU words after tokenisation */
    long long correct[LOOM_BLEU_ORDER]; /* clipped n-gram matches, n = 1..4 */
    long long total[LOOM_BLEU_ORDER];   /* hypothesis n-grams */
    double precision[LOOM_BLEU_ORDER];  /* percent, after smoothing */
    double bp;                          /* brevity penalty */
    double bleu;                        /* 0..100 */
    /* chrF: per order hypothesis, reference and matching character n-grams */
    long long chrf_hyp[LOOM_CHRF_ORDER], chrf_ref[LOOM_CHRF_ORDER], chrf_match[LOOM_CHRF_ORDER];
    double chrf; /* 0..100 */
} loom_bleu_score;

typedef struct loom_bleu loom_bleu;

/* `opt` NULL means sacreBLEU's defaults (13a, exp smoothing). */
int loom_bleu_new(loom_bleu **out, const loom_bleu_options *opt);
void loom_bleu_free(loom_bleu *b);
/* Forgets every pair added so far (for the next validation round). */
void loom_bleu_reset(loom_bleu *b);

/* Adds one sentence pair: `hyp` and `ref` are UTF-8, `hyp_len`/`ref_len`
 * bytes long (no NUL needed). Trailing whitespace is ignored, as sacreBLEU
 * strips it. Invalid UTF-8 is LOOM_EFORMAT with the byte offset. */
int loom_bleu_add(loom_bleu *b, const char *hyp, size_t hyp_len, const char *ref, size_t ref_len);

/* The corpus scores of every pair added since the last reset. */
void loom_bleu_get(const loom_bleu *b, loom_bleu_score *out);

/* 13a tokenisation of one line into `out` (words joined by single spaces,
 * NUL-terminated; `*out`/`*cap` grow as needed, caller frees `*out`).
 * Exposed for tests and for tools that want to show what BLEU saw. */
int loom_bleu_tokenize_13a(const char *line, size_t len, char **out, size_t *cap, size_t *out_len);

#endif

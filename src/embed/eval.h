/* loom: evaluation of word vectors. Analogy files in word2vec's
 * questions-words.txt format (": section" lines, then "a b c expected")
 * and word-pair similarity files ("w1 w2 score", TAB- or blank-separated,
 * '#' comments). The numbers follow gensim's evaluate_word_analogies and
 * evaluate_word_pairs exactly (restrict_vocab, case-insensitive matching,
 * skipped lines), computed with batched GEMMs (embed/query.h). */
#ifndef LOOM_EMBED_EVAL_H
#define LOOM_EMBED_EVAL_H

#include <stddef.h>

#include "embed/query.h"

typedef struct {
    char *name;     /* "capital-common-countries"; "semantic", "syntactic", "total" */
    size_t correct; /* answered right */
    size_t seen;    /* questions whose four words are all known */
    size_t total;   /* questions in the section */
} loom_analogy_section;

typedef struct {
    loom_analogy_section *sections; /* in file order */
    size_t nsections, sections_cap;
    /* Sections named "gram..." are syntactic, the others semantic (the
     * convention of word2vec's compute-accuracy). */
    loom_analogy_section semantic, syntactic, total;
    size_t skipped_lines; /* lines that are not four words (gensim skips them too) */
} loom_analogy_eval;

/* Options shared by both evaluations. */
typedef struct {
    size_t restrict_vocab; /* only the first N words are known (0: all) */
    int case_sensitive;    /* default 0: words match case-insensitively */
    int method;            /* LOOM_ANALOGY_ADD (default) or LOOM_ANALOGY_MUL */
} loom_eval_opts;

/* Answers every question of `path` with 3CosAdd (or 3CosMul) among the
 * first restrict_vocab words, the question's words excluded. Case-
 * insensitive matching uppercases words (Unicode simple case mapping plus
 * German sharp s, as Python's str.upper) and uses, for each uppercased
 * form, the first (most frequent) word that has it. */
int loom_eval_analogies(loom_analogy_eval **out, const loom_index *ix, const char *path,
                        const loom_eval_opts *opts);
void loom_analogy_eval_free(loom_analogy_eval *e);

typedef struct {
    size_t pairs;         /* well-formed pairs in the file */
    size_t found;         /* pairs whose two words are known */
    size_t skipped_lines; /* malformed lines (not two words and a number) */
    double spearman;      /* Spearman's rho, ties by average rank; NAN when found < 2 */
    double pearson;       /* Pearson's r of the raw scores */
} loom_similarity_eval;

int loom_eval_similarity(loom_similarity_eval *out, const loom_index *ix, const char *path,
                         const loom_eval_opts *opts);

/* Spearman's rho of x and y (n values each), ties ranked by their average
 * rank; NAN when undefined (n < 2 or a constant series). */
double loom_spearman(const double *x, const double *y, size_t n);
double loom_pearson(const double *x, const double *y, size_t n);

#endif

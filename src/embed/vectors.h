/* loom: word vector files. Reads word2vec binary and text files and
 * fastText .vec files (plain or gzip, the format detected from the content)
 * into one matrix plus a vocabulary, and writes them back atomically.
 * This module knows files and words; queries live in embed/query.h.
 *
 * Reading policy (see README "Vector files"):
 *  - tolerated: a missing final newline, "\n" before each binary word or
 *    not, trailing spaces or tabs, CRLF line ends, text files without the
 *    "N D" header (GloVe), words containing spaces in text files when the
 *    last D fields are the numbers;
 *  - refused with LOOM_EFORMAT and a message naming the file and the record
 *    (1-based, in file order): empty files, dimension 0, a header whose word
 *    count disagrees with the body, truncated records, short or long text
 *    rows, NaN or infinite values, cut gzip streams, and duplicate words
 *    (unless LOOM_VEC_KEEP_FIRST is given, which keeps the first occurrence
 *    like gensim and drops the later ones). */
#ifndef LOOM_EMBED_VECTORS_H
#define LOOM_EMBED_VECTORS_H

#include <stddef.h>

/* AUTO: by name: .bin[.gz] binary, .txt/.vec[.gz] text, anything else
 * binary. */
enum { LOOM_VEC_AUTO = 0, LOOM_VEC_BIN = 1, LOOM_VEC_TEXT = 2 };

typedef struct loom_vectors loom_vectors;

/* Loads any format, gzip or not, detected from the content. */
int loom_vectors_load(loom_vectors **out, const char *path);
void loom_vectors_free(loom_vectors *v);

size_t loom_vectors_count(const loom_vectors *v);
size_t loom_vectors_dim(const loom_vectors *v);
const char *loom_vectors_word(const loom_vectors *v, size_t i);
/* Row i, dim floats, raw as in the file. */
const float *loom_vectors_row(const loom_vectors *v, size_t i);
/* The index of `word` (exact bytes), or -1. */
long loom_vectors_find(const loom_vectors *v, const char *word);

/* Writes n rows of dim floats; words[i] is row i's word. Atomic
 * (base/writer.h); gzip when the name ends in ".gz". Words must be
 * non-empty and free of spaces, tabs and line breaks. */
int loom_vectors_save_rows(const char *path, int format, size_t n, size_t dim,
                           const char *const *words, const float *rows);
int loom_vectors_save(const loom_vectors *v, const char *path, int format);

/* ---- additions beyond the first interface ---- */

/* Load flags. */
enum {
    LOOM_VEC_KEEP_FIRST = 1 /* duplicate words: keep the first, drop the rest */
};

/* Loads like loom_vectors_load with `flags`; with `max_words` > 0 only the
 * first max_words records are read (the rest of the file is not checked). */
int loom_vectors_load_opts(loom_vectors **out, const char *path, int flags, size_t max_words);

/* The format a file was read in (LOOM_VEC_BIN or LOOM_VEC_TEXT). */
int loom_vectors_format(const loom_vectors *v);
/* 1 when the file was gzip-compressed. */
int loom_vectors_gzip(const loom_vectors *v);
/* 1 when the text file had an "N D" header (fastText .vec and word2vec
 * text do; GloVe files do not). */
int loom_vectors_has_header(const loom_vectors *v);
/* Duplicate records dropped under LOOM_VEC_KEEP_FIRST. */
size_t loom_vectors_dropped(const loom_vectors *v);
/* The whole matrix, count x dim, row-major. Writable, for in-place
 * normalisation by the owner. */
float *loom_vectors_matrix(loom_vectors *v);
/* The format LOOM_VEC_AUTO picks for `path`. */
int loom_vectors_format_for(const char *path);

/* Scales every row to unit length (zero rows stay zero). */
void loom_vectors_normalize(loom_vectors *v);

#endif

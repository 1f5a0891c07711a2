/* loom: word vector files. Reads word2vec binary and text files and
 * fastText .vec files (plain or gzip, the format detected from the content)
 * into one matrix plus a vocabulary, and writes them back atomically.
 * This module knows files and words; queries live in embed/query.h. The
 * object, loading, saving and row access are public (loom.h).
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

#include "loom.h"

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

/* Loads the vectors at path for embeddings of `dim` columns: LOOM_EINVAL
 * "PATH: vectors of dimension D, but WHAT is DIM (--FLAG)" (nothing
 * loaded) when their dimension differs; else as loom_vectors_load. */
int loom_vectors_load_dim(loom_vectors **out, const char *path, size_t dim, const char *what,
                          const char *flag);
/* The standard deviation of all of v's values (at least 1e-6; 1 when v is
 * empty): the scale of rows drawn for words the file lacks. */
double loom_vectors_sd(const loom_vectors *v);

#endif

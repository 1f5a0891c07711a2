/* loom: a decode-time vocabulary shortlist, as Marian's lexical shortlist
 * and CTranslate2's vocabulary map (use_vmap) have it. For each batch the
 * output layer's logits, softmax and search run over candidate target
 * words only: the `top` most frequent target words (ids below `top`: the
 * vocabulary is sorted by count, the specials first) and, for every source
 * token of the batch, its translation candidates from a lexical table.
 *
 * The table is a text file (plain or gzip), one source word a line:
 *
 *   source<TAB>target target target ...
 *
 * words as the model's tokenizer (or subword model) writes them, targets
 * best first, separated by single spaces. A line with an empty source
 * lists targets that are always candidates (CTranslate2's habit). Several
 * lines of one source add up; words a vocabulary does not hold are
 * skipped, so that a table outlives a vocabulary change. `loom shortlist`
 * (loom_shortlist_build) writes one from training pairs, scoring each
 * (source, target) pair of words by the Dice coefficient of the sentence
 * pairs they occur in. */
#ifndef LOOM_SEQ_SHORTLIST_H
#define LOOM_SEQ_SHORTLIST_H

#include <stddef.h>

#include "seq/model_file.h"
#include "text/vocab.h"

typedef struct loom_shortlist loom_shortlist;

/* Reads a table for a model's vocabularies (source keys, target values),
 * keeping the first `best` known targets of each source word (0: all) and
 * the `top` most frequent target words (at least the 4 specials). A line
 * without a TAB, with a second TAB, or with an empty target word (two
 * spaces, a space at an end) is LOOM_EFORMAT naming the file and line; so
 * is a table in which no source word is known (and no always-candidate). */
int loom_shortlist_read(loom_shortlist **out, const char *path, const loom_vocab *src,
                        const loom_vocab *tgt, int top, int best);
void loom_shortlist_free(loom_shortlist *s);

/* The target vocabulary's size, and the number of table entries kept. */
int loom_shortlist_tgt_vocab(const loom_shortlist *s);
size_t loom_shortlist_entries(const loom_shortlist *s);

/* The candidates of a batch whose source ids are src[0..n) (padding and
 * other specials are no keys): the top words, the always-candidates, and
 * each source id's targets, written to cand in increasing id order (cand
 * holds tgt_vocab ints); returns their number. cand always starts with the
 * specials 0..3, so a search's special ids are the same in both numberings.
 * Thread-safe. */
int loom_shortlist_candidates(const loom_shortlist *s, const int *src, size_t n, int *cand);

/* Writes a table for model b from the pairs file `pairs` (TAB-separated,
 * read with the model's tokenizers or subword models): for each source
 * word the `best` target words (> 0) of highest Dice coefficient
 * 2 c(s,t) / (c(s) + c(t)), c counting the sentence pairs a word (or both)
 * occur in, ties to the more frequent pair then the lower id. Specials are
 * neither keys nor values. Written through the atomic writer. */
int loom_shortlist_build(const char *pairs, const loom_seq_bundle *b, int best, const char *out,
                         size_t *nsources);

#endif

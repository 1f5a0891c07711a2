/* loom: the vocabulary. Word counts in an open-addressing hash table,
 * pruned like word2vec's when it outgrows a memory bound, sorted into ids
 * (count descending, then bytes ascending), with the special tokens of
 * sequence models, saved and read as word2vec's "word count" lines. */
#ifndef LOOM_TEXT_VOCAB_H
#define LOOM_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/reader.h"
#include "text/tokenizer.h"

/* The special tokens' ids, first in every vocabulary: the one numbering,
 * used by the sequence models' batches, decoders and files too. */
enum { LOOM_PAD = 0, LOOM_UNK = 1, LOOM_BOS = 2, LOOM_EOS = 3 };

typedef struct loom_vocab loom_vocab;

int loom_vocab_new(loom_vocab **out);
void loom_vocab_free(loom_vocab *v);

/* Adds `count` occurrences of a word (new words go to the end). */
int loom_vocab_add(loom_vocab *v, const char *word, size_t len, uint64_t count);
/* Tokenizes all of r and counts every token. */
int loom_vocab_count_stream(loom_vocab *v, loom_tokenizer *t, loom_reader *r);

/* <pad> <unk> <s> </s> get ids 0..3 and survive pruning; call before finalize. */
int loom_vocab_add_specials(loom_vocab *v);

/* Drops words below min_count, keeps at most max_size words (0 = no limit),
 * sorts by count descending then by bytes ascending; ids 0..n-1 follow. */
int loom_vocab_finalize(loom_vocab *v, uint64_t min_count, size_t max_size);

int32_t loom_vocab_find(const loom_vocab *v, const char *word, size_t len); /* id or -1 */
size_t loom_vocab_size(const loom_vocab *v);
const char *loom_vocab_word(const loom_vocab *v, int32_t id);
uint64_t loom_vocab_count(const loom_vocab *v, int32_t id);
uint64_t loom_vocab_total(const loom_vocab *v); /* sum of the kept words' counts */

int loom_vocab_save(const loom_vocab *v, const char *path); /* word2vec "word count" lines */
int loom_vocab_load(loom_vocab **out, const char *path);    /* keeps the file's order */

/* Memory bound while counting: when more than `max_words` distinct words
 * are held, the rarest are pruned as word2vec's ReduceVocab does (drop
 * every word whose count is at most a threshold that starts at 1 and rises
 * by one per pruning). Default LOOM_VOCAB_PRUNE_AT; 0 turns pruning off. */
#define LOOM_VOCAB_PRUNE_AT 20000000u
void loom_vocab_set_prune_limit(loom_vocab *v, size_t max_words);
/* How many prunings happened, how many distinct words they dropped, and the
 * last threshold (words seen at most that often may have been dropped, and
 * the counts of kept words may be low by up to that much). */
void loom_vocab_prune_stats(const loom_vocab *v, unsigned *prunings, uint64_t *dropped,
                            uint64_t *threshold);

#endif

/* loom: the vocabulary. Word counts in an open-addressing hash table,
 * pruned like word2vec's when it outgrows a memory bound, sorted into ids
 * (count descending, then bytes ascending), with the special tokens of
 * sequence models (LOOM_PAD.. in loom.h, the one numbering used by the
 * batches, decoders and files too), saved and read as word2vec's "word
 * count" lines. The object and most functions are public (loom.h). */
#ifndef LOOM_TEXT_VOCAB_H
#define LOOM_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/reader.h"
#include "loom.h"
#include "text/tokenizer.h"

/* 1 when a and b list the same words in the same id order. */
int loom_vocab_same(const loom_vocab *a, const loom_vocab *b);

/* loom_vocab_add that also gives the word's id, which holds until the next
 * pruning or loom_vocab_finalize (-1 when this add pruned). */
int loom_vocab_add_id(loom_vocab *v, const char *word, size_t len, uint64_t count, int32_t *id);

/* Tokenizes all of r and counts every token. */
int loom_vocab_count_stream(loom_vocab *v, loom_tokenizer *t, loom_reader *r);

/* <pad> <unk> <s> </s> get ids 0..3 and survive pruning; call before finalize. */
int loom_vocab_add_specials(loom_vocab *v);

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

/* loom: parallel data for sequence models. Reads `source<TAB>target` lines
 * (further columns ignored) or two aligned files, plain or gzip, tokenises
 * each side with the text layer, counts vocabularies, maps to ids, drops
 * over-long pairs, and cuts shuffled batches of similar lengths, padded.
 * Knows words and ids; nothing of models or gradients. */
#ifndef LOOM_SEQ_DATA_H
#define LOOM_SEQ_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "seq/model.h"
#include "text/subword.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

/* Tokenised pairs, as words. */
typedef struct loom_seq_pairs loom_seq_pairs;

/* Reads `path` as TAB-separated pairs, or, when tgt_path is not NULL, the
 * aligned files path (source) and tgt_path (target). Lines that are empty
 * on both sides are skipped; a line without a TAB, an empty side after
 * tokenisation, invalid UTF-8 or files of different lengths are
 * LOOM_EFORMAT naming the file and line. */
int loom_seq_pairs_read(loom_seq_pairs **out, const char *path, const char *tgt_path,
                        const loom_tok_opts *src_tok, const loom_tok_opts *tgt_tok);
/* The same with a side segmented into pieces by subword model sw[side]
 * (sw[side] NULL: that side's tokenizer); sw may be NULL. */
int loom_seq_pairs_read_subword(loom_seq_pairs **out, const char *path, const char *tgt_path,
                                const loom_tok_opts *src_tok, const loom_tok_opts *tgt_tok,
                                const loom_subword *const *sw);
void loom_seq_pairs_free(loom_seq_pairs *p);
size_t loom_seq_pairs_count(const loom_seq_pairs *p);
/* Tokens of one side (0 source, 1 target) of pair i. */
size_t loom_seq_pairs_len(const loom_seq_pairs *p, size_t i, int side);
const char *loom_seq_pairs_token(const loom_seq_pairs *p, size_t i, int side, size_t k);

/* Counts every token of one side into v (before loom_vocab_finalize). */
int loom_seq_pairs_count_vocab(const loom_seq_pairs *p, int side, loom_vocab *v);

/* Pairs as ids: the training set. */
typedef struct {
    size_t n;
    size_t *off[2]; /* (n + 1) offsets into ids[side] */
    int32_t *ids[2];
    size_t dropped; /* pairs over max_len */
    size_t tokens[2], unknown[2];
    char **tgt_text; /* NULL, or each pair's target side as text (a subword target) */
} loom_seq_corpus;

/* Maps the pairs to ids (unknown words to <unk>), dropping pairs with a
 * side longer than max_len tokens (0: no limit; </s> not counted). */
int loom_seq_corpus_build(loom_seq_corpus **out, const loom_seq_pairs *p, const loom_vocab *src,
                          const loom_vocab *tgt, int max_len);
void loom_seq_corpus_free(loom_seq_corpus *c);
/* Fills c->tgt_text with the target side of each pair of p (the pairs c
 * was built from, none dropped) as raw text: its pieces joined by
 * loom_subword_pieces_text, the reference that validation scores the
 * detokenised hypotheses against. The text is the input after
 * SentencePiece's normalisation (NFKC, runs of spaces as one). */
int loom_seq_corpus_set_tgt_text(loom_seq_corpus *c, const loom_seq_pairs *p,
                                 const loom_subword *sw);

/* Tokenises one sentence and maps it to ids (unknown: <unk>); *ids grows. */
int loom_seq_encode_sentence(loom_tokenizer *t, const loom_vocab *v, const char *s, size_t len,
                             int32_t **ids, size_t *n, size_t *cap);

/* Batches of similar lengths. An epoch's order is a function of the seed
 * and the epoch only (so a resumed run sees the same batches). */
typedef struct loom_seq_batcher loom_seq_batcher;

int loom_seq_batcher_new(loom_seq_batcher **out, const loom_seq_corpus *c, int batch,
                         uint64_t seed);
void loom_seq_batcher_free(loom_seq_batcher *bt);
/* Lays out epoch `epoch` (0-based): shuffles, sorts windows by length. */
void loom_seq_batcher_epoch(loom_seq_batcher *bt, int epoch, int shuffle);
size_t loom_seq_batcher_count(const loom_seq_batcher *bt);
/* From the next loom_seq_batcher_epoch on, each batch's rows are laid out
 * for `parts` workers that take contiguous shares of them (share g of a
 * batch of n: rows [n g / parts, n (g + 1) / parts)): the same pairs per
 * batch, ordered by target length, longest first, and dealt in turn to
 * the shares, so that every share runs longest first and the shares are
 * even. 0 (the default): the rows in the order of the sorted window. */
void loom_seq_batcher_set_parts(loom_seq_batcher *bt, int parts);
/* Fills batch k of the current epoch into b (buffers owned by the batcher,
 * valid until the next call). */
int loom_seq_batcher_get(loom_seq_batcher *bt, size_t k, loom_seq_batch *b);

/* One batch from explicit pair indices (for evaluation in file order). */
int loom_seq_batch_make(loom_seq_batch *b, const loom_seq_corpus *c, const size_t *idx, int n);
void loom_seq_batch_release(loom_seq_batch *b);

#endif

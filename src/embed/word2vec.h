/* loom: the word2vec trainer. Skip-gram and CBOW, negative sampling and
 * hierarchical softmax, frequent-word subsampling, a dynamic window and a
 * linearly decaying learning rate, as in Mikolov et al.'s word2vec; N
 * threads over byte ranges of the corpus, updating shared matrices without
 * locks (Hogwild); each window's update done as one small matrix step
 * (HogBatch, embed/hogbatch.h). The text is read once and the epochs
 * replay it as word ids held in memory (embed/idstream.h), or, past
 * cache_mb, stream it again every epoch. Where loom differs from
 * word2vec.c, see README. The options and the trainer's life cycle are
 * public (loom.h). */
#ifndef LOOM_EMBED_WORD2VEC_H
#define LOOM_EMBED_WORD2VEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/progress.h"
#include "loom.h"
#include "text/subword.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

/* The start learning rate in effect (alpha, or the model's default). */
double loom_w2v_start_alpha(const loom_w2v_opts *o);
/* The fraction of the learning rate's decay done, 0..1. LINEAR (word2vec.c):
 * done words of every thread out of epochs x epoch_words (+ 1); PER_WORKER
 * (gensim corpus_file): (epoch + worker_done / (epoch_words + 1)) / epochs,
 * worker_done being the words this thread read in this epoch (0-based). */
double loom_w2v_lr_progress(int schedule, uint64_t done, uint64_t worker_done, int epoch,
                            int epochs, uint64_t epoch_words);
/* The learning rate at `progress` (0..1): start - (start - min_alpha) x
 * progress, never below min_alpha; min_alpha 0: start x (1 - progress),
 * never below 1e-4 x start (word2vec.c). */
float loom_w2v_lr(float start, double min_alpha, double progress);
/* Reads the corpus as the pieces of SentencePiece model sw (borrowed: it
 * must outlive w) instead of the tokenizer's words, so that the vectors
 * are the pieces' (the tokenizer options no longer apply). Call before
 * counting or training. */
void loom_w2v_set_subword(loom_w2v *w, const loom_subword *sw);
/* Bytes in the corpus (uncompressed). */
long long loom_w2v_corpus_bytes(const loom_w2v *w);

#endif

/* loom: the word2vec trainer. Skip-gram and CBOW, negative sampling and
 * hierarchical softmax, frequent-word subsampling, a dynamic window and a
 * linearly decaying learning rate, as in Mikolov et al.'s word2vec; N
 * threads over byte ranges of the corpus, updating shared matrices without
 * locks (Hogwild); each window's update done as one small matrix step
 * (HogBatch, embed/hogbatch.h). The corpus is streamed every epoch, never
 * held in memory. Where loom differs from word2vec.c, see README.
 *
 *   loom_w2v_new -> loom_w2v_count (or loom_w2v_set_vocab) -> loom_w2v_train
 *   -> loom_w2v_save / loom_w2v_vectors -> loom_w2v_free */
#ifndef LOOM_EMBED_WORD2VEC_H
#define LOOM_EMBED_WORD2VEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/progress.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

enum { LOOM_W2V_SKIPGRAM = 0, LOOM_W2V_CBOW = 1 };
enum { LOOM_W2V_NS = 0, LOOM_W2V_HS = 1 };

typedef struct {
    int model;           /* LOOM_W2V_SKIPGRAM (default) or LOOM_W2V_CBOW */
    int loss;            /* LOOM_W2V_NS (default) or LOOM_W2V_HS */
    int dim;             /* vector size, 100 */
    int window;          /* largest distance to a context word, 5 */
    int negative;        /* negatives per target (NS), 5 */
    double sample;       /* subsampling threshold, 1e-3; 0 keeps every word */
    uint64_t min_count;  /* rarer words are dropped, 5 */
    size_t max_vocab;    /* keep at most this many words, 0: no limit */
    int epochs;          /* passes over the corpus, 5 */
    double alpha;        /* start learning rate; 0: 0.025 skip-gram, 0.05 CBOW */
    int threads;         /* 1 */
    uint64_t seed;       /* 1; with one thread the output depends on it alone */
    uint64_t sync_words; /* under mpirun: words each process reads between two
                            exchanges of the ranks' changes, 200000 */
    loom_tok_opts tok;   /* how the corpus is cut into words */
} loom_w2v_opts;

void loom_w2v_opts_default(loom_w2v_opts *o);
/* LOOM_EINVAL with a message naming the option when a value is out of range. */
int loom_w2v_opts_check(const loom_w2v_opts *o);
/* The start learning rate in effect (alpha, or the model's default). */
double loom_w2v_start_alpha(const loom_w2v_opts *o);

typedef struct loom_w2v loom_w2v;

/* Checks the options and opens the corpus files ("-" is stdin, spooled to
 * a temporary file; .gz is read through zlib). Under mpirun every rank reads
 * the files itself: stdin and pipes are refused there. */
int loom_w2v_new(loom_w2v **out, const loom_w2v_opts *o, const char *const *paths, size_t n);
void loom_w2v_free(loom_w2v *w);

/* Counts the corpus' words (in parallel over byte ranges) and keeps those
 * with min_count or more, at most max_vocab. An empty corpus, or one where
 * no word reaches min_count, is LOOM_EINVAL with a message saying so. */
int loom_w2v_count(loom_w2v *w, loom_progress *p);
/* Uses a vocabulary given by the caller instead (e.g. read with
 * loom_vocab_load); min_count and max_vocab still apply. Takes ownership,
 * also on failure. */
int loom_w2v_set_vocab(loom_w2v *w, loom_vocab *v);
const loom_vocab *loom_w2v_vocab(const loom_w2v *w);
/* Bytes in the corpus (uncompressed). */
long long loom_w2v_corpus_bytes(const loom_w2v *w);

/* Trains. Progress reports words (of all ranks under mpirun); its detail
 * shows epoch, mean loss over the last interval, learning rate and words/s
 * per thread, and a note at the end of each epoch. */
int loom_w2v_train(loom_w2v *w, loom_progress *p);

/* The input vectors, vocabulary size x dim, row i for vocabulary id i. */
const float *loom_w2v_vectors(const loom_w2v *w);
/* Saves them (format LOOM_VEC_AUTO, _BIN or _TEXT of embed/vectors.h). */
int loom_w2v_save(const loom_w2v *w, const char *path, int format);

typedef struct {
    uint64_t words;      /* corpus words read in training, all epochs */
    uint64_t trained;    /* words kept by subsampling, all epochs */
    double seconds;      /* training wall time */
    double loss;         /* mean loss per prediction over the last epoch */
    int ranks;           /* processes that trained (1 without mpirun) */
    int syncs;           /* averagings of the ranks' matrices */
    double sync_seconds; /* wall time this rank spent in them */
} loom_w2v_stats;

void loom_w2v_get_stats(const loom_w2v *w, loom_w2v_stats *s);

#endif

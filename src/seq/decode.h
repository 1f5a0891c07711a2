/* loom: decoding a trained encoder-decoder: greedy and beam search over a
 * batch of source sentences, GNMT length normalisation, n-best lists and
 * attention alignments. Works on ids; words are the caller's business. */
#ifndef LOOM_SEQ_DECODE_H
#define LOOM_SEQ_DECODE_H

#include "seq/model.h"

typedef struct loom_shortlist loom_shortlist; /* seq/shortlist.h */

typedef struct {
    int beam;    /* K; 1 is greedy */
    float alpha; /* GNMT length penalty ((5 + |Y|) / 6)^alpha; 0: raw log-probability */
    int nbest;   /* hypotheses returned per sentence, 1..beam */
    int max_len; /* output tokens; 0: 2 * source length + 10 */
    int align;   /* keep attention weights of the returned hypotheses */
    /* NULL (the default): exact, every target word. Else a vocabulary
     * shortlist read for the (first) model's vocabularies: each call's
     * output layer and search cover the candidates of its sentences only
     * (loom_shortlist_candidates of the first model's source ids), so a
     * sentence's output may then depend on the sentences decoded with it. */
    const loom_shortlist *shortlist;
} loom_seq_decode_opts;

void loom_seq_decode_defaults(loom_seq_decode_opts *o);

/* Models an ensemble may hold. */
#define LOOM_SEQ_MAX_ENSEMBLE 16

/* One output hypothesis. |Y| counts the </s> when the hypothesis has one. */
typedef struct {
    int *ids; /* without </s> */
    int len;
    int finished; /* 1: ended with </s>; 0: stopped at max_len */
    float logp;   /* sum of log-probabilities, </s> included */
    float score;  /* logp / lp(|Y|) */
    float *align; /* (len + finished) x src_len attention weights, or NULL */
    int src_len;
} loom_seq_hyp;

/* The length-normalised score of a hypothesis. */
float loom_seq_score(float logp, int len_with_eos, float alpha);

/* Decodes n sentences (ids batch-major, padded to src_len, with lens).
 * Fills hyps[i * nbest + j] for sentence i's j-th best (by score) and
 * counts[i] with how many there are. Beam search keeps K live hypotheses;
 * a candidate ending in </s> finishes only when it ranks inside the top K
 * of its step. The greedy hypothesis is always scored too and returned
 * when it beats what the beam found, so a beam never does worse than
 * greedy. Free the hypotheses with loom_seq_hyps_free. */
int loom_seq_decode(loom_seq_model *m, loom_seq_work *w, const int *src, const int *lens, int n,
                    int src_len, const loom_seq_decode_opts *o, loom_seq_hyp *hyps, int *counts);
void loom_seq_hyps_free(loom_seq_hyp *hyps, int n);

/* The same search over an ensemble of nm models: each model steps its own
 * decoder state (model e reads src[e], the sentences in its own source
 * vocabulary, with workspace w[e]) and the search follows the mean of
 * their log-probabilities; alignments are the mean attention of the
 * members that have attention. The models must share the target
 * vocabulary (LOOM_EINVAL when their sizes differ). One model is exactly
 * loom_seq_decode. */
int loom_seq_decode_ensemble(loom_seq_model *const *m, loom_seq_work *const *w, int nm,
                             const int *const *src, const int *lens, int n, int src_len,
                             const loom_seq_decode_opts *o, loom_seq_hyp *hyps, int *counts);

/* The source position a row of attention weights favours most (the first
 * of equal maxima); 0 when src_len < 1. */
int loom_seq_align_argmax(const float *row, int src_len);
/* Hard alignment: out[k] is the source position output token k attends to
 * most, for k < h->len (none for </s>). Needs h->align. */
void loom_seq_hard_align(const loom_seq_hyp *h, int *out);

#endif

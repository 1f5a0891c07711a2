/* loom: attention over a padded batch of source sequences, one query per
 * sentence (a decoder step): additive (Bahdanau) and multiplicative (Luong
 * dot and general) scores, a softmax over each sentence's real positions,
 * and the context as the weighted sum of the values. Plain functions on raw
 * float pointers as in llm.c; the caller owns every buffer; nothing here
 * allocates or knows what a sentence is.
 *
 * Shapes (row-major float32):
 *   q       (B, Dq)      one query per sentence
 *   keys    (B, S, Dk)   source positions; sentence b has lens[b] real ones
 *   values  (B, S, Dv)   often the same buffer as keys
 *   weights (B, S)       softmax over s < lens[b], exactly 0 beyond
 *   ctx     (B, Dv)      sum_s weights[b,s] values[b,s,:]
 * Scores:
 *   Bahdanau  e = v . tanh(q W + k U + b)   W (Dq,A), U (Dk,A), b (A), v (A)
 *   dot       e = q . k                     (Dq == Dk)
 *   general   e = (q W) . k                 W (Dq,Dk), i.e. q^T W k
 * W and U are (in, out) as everywhere in loom: PyTorch's nn.Linear weights
 * transposed; b is the sum of the two Linear biases of the usual
 * `Wa(q) + Ua(k)` (and v's bias is dropped: the softmax cancels it).
 *
 * Bahdanau's key term k U + b does not depend on the query, so it is
 * computed once per source batch by loom_attn_project_keys (kp, (B, S, A))
 * and handed to every step; the steps' gradients with respect to kp are
 * summed in one dkp buffer and taken back to keys, U and b once per batch
 * by loom_attn_project_keys_backward. For dot and general, kp is unused
 * (pass NULL).
 *
 * Backward passes accumulate (+=) into every gradient; NULL gradient
 * pointers are skipped. A sentence with lens[b] == 0 gets zero weights and
 * a zero context. */
#ifndef LOOM_CORE_ATTENTION_H
#define LOOM_CORE_ATTENTION_H

#include <stddef.h>

#include "core/packmm.h"

/* The one numbering of attention kinds, used by the seq model, its options
 * and its files too (files store the names). LOOM_ATTN_NONE is a model
 * without attention: the layer's functions are never called with it. */
typedef enum {
    LOOM_ATTN_NONE = 0,
    LOOM_ATTN_BAHDANAU = 1,
    LOOM_ATTN_DOT = 2,
    LOOM_ATTN_GENERAL = 3
} loom_attn_kind;

/* "none", "bahdanau", "dot", "general", indexed by loom_attn_kind,
 * NULL-terminated (an option parser's list of choices). */
extern const char *const loom_attn_kind_names[];
/* The name of a kind, "?" if out of range. */
const char *loom_attn_kind_name(int kind);
/* The kind named s, or -1. */
int loom_attn_kind_parse(const char *s);

typedef struct {
    loom_attn_kind kind;
    int Dq, Dk, A;          /* query and key sizes; A: Bahdanau's hidden size */
    const float *W;         /* Bahdanau (Dq, A); general (Dq, Dk); dot: unused */
    const float *U, *b, *v; /* Bahdanau only: (Dk, A), (A), (A) */
    float *dW, *dU, *db, *dv;
    /* Optional (NULL: unused): W packed by the caller (core/packmm.h) as
     * loom_packw_new(W, Dq, X) and loom_packw_new_t(W, X, Dq), X = A or
     * Dk, for the queries' products q W and dq += g W^T when there are
     * several (a training pass packs W once per step; sgemm packs it again
     * at every decoder step). */
    const loom_packw *W_pack, *W_pack_t;
} loom_attn;

/* Floats of the per-step cache (forward fills, backward reads) and of the
 * backward's scratch, for B sentences of S positions. */
size_t loom_attn_cache_size(const loom_attn *a, int B, int S);
size_t loom_attn_work_size(const loom_attn *a, int B, int S);

/* Bahdanau: kp = keys U + b for N = B*S rows: keys (N, Dk), kp (N, A). */
void loom_attn_project_keys(const loom_attn *a, float *kp, const float *keys, int N);
/* dU += keys^T dkp; db += column sums of dkp; dkeys += dkp U^T. */
void loom_attn_project_keys_backward(const loom_attn *a, float *dkeys, const float *dkp,
                                     const float *keys, int N);

/* ctx (B, Dv) and weights (B, S) are written; lens NULL means all S real. */
void loom_attn_forward(const loom_attn *a, float *ctx, float *weights, float *cache, const float *q,
                       const float *keys, const float *kp, const float *values, const int *lens,
                       int B, int S, int Dv);

/* dctx (B, Dv): upstream gradient. Accumulates dq (B, Dq), dkeys (B, S, Dk)
 * (dot, general), dkp (B, S, A) (Bahdanau), dvalues (B, S, Dv) and the
 * parameters' gradients; any may be NULL. */
void loom_attn_backward(const loom_attn *a, float *dq, float *dkeys, float *dkp, float *dvalues,
                        float *work, const float *dctx, const float *cache, const float *weights,
                        const float *q, const float *keys, const float *values, const int *lens,
                        int B, int S, int Dv);

/* out_r += weights_r values_{r/K} for R rows, K per sentence (a beam's K
 * hypotheses share their sentence's values): the context of weights that
 * loom_attn_forward computed, mixed from other values, typically the
 * values already multiplied by the layer that reads the context
 * (c W = sum_s a_s (v_s W)). A decoder projects its source once per
 * sentence and mixes (len, Dv) per step and row instead of multiplying
 * each step's contexts. weights (R, S), values (R/K, S, Dv), out (R, Dv);
 * rows with lens[r] == 0 are left alone. Decoding only: no backward. */
void loom_attn_mix_add(float *out, const float *weights, const float *values, const int *lens,
                       int R, int K, int S, int Dv);

/* All Tq queries of each sentence (a decoder without input feeding, or
 * scoring a whole target side): q (B, Tq, Dq), ctx (B, Tq, Dv), weights
 * (B, Tq, S), dq and dctx likewise; the cache is Tq times
 * loom_attn_cache_size(a, B, S), the work as for one query. Same results as
 * Tq calls of the one-query functions. */
void loom_attn_forward_all(const loom_attn *a, float *ctx, float *weights, float *cache,
                           const float *q, const float *keys, const float *kp, const float *values,
                           const int *lens, int B, int Tq, int S, int Dv);
void loom_attn_backward_all(const loom_attn *a, float *dq, float *dkeys, float *dkp, float *dvalues,
                            float *work, const float *dctx, const float *cache,
                            const float *weights, const float *q, const float *keys,
                            const float *values, const int *lens, int B, int Tq, int S, int Dv);

#endif

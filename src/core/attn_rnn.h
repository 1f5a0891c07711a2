/* loom: one step of an attentional recurrent decoder with input feeding
 * (Bahdanau et al. 2015; Luong et al. 2015): the previous state queries
 * the source, and the context joins the cell's input.
 *   c_t  = attention(h_{t-1}, keys)            core/attention.h
 *   xp_t = e_t Wx[:E] + c_t Wx[E:]             the caller gives e_t Wx[:E]
 *   h_t  = cell(xp_t, h_{t-1})                 core/rnn.h, one step
 * The embedding's share of the input projection is the caller's, because
 * it is best computed outside the recurrence: one GEMM over all steps (or
 * a per-word table) when training, a table row when decoding. Likewise the
 * backward pass leaves dWx to the caller, who takes it over all steps at
 * once (dWx[E:] += C^T dXP, C the contexts). Both passes serve any number
 * of rows: a training batch, greedy sentences or beam hypotheses.
 *
 * Shapes (R rows, S source positions, GH = gates * H):
 *   keys    (R, S, Dv)  the source (keys = values), per row
 *   kp      (R, S, A)   Bahdanau's projected keys (core/attention.h), or NULL
 *   P       (R/K, S, GH) keys Wx[E:], per source sentence shared by its K
 *                       rows; NULL: the step multiplies its contexts by
 *                       Wx[E:] instead (one GEMM, better with many rows)
 *   xp      (R, GH)     in: e_t Wx[:E]; out: the whole projection
 *   h, c    (R, H)      the states (c: LSTM only, else NULL)
 *   ctx     (R, Dv), weights (R, S): the context and attention weights
 * A layer without attention (attn NULL) is the plain recurrent step. */
#ifndef LOOM_CORE_ATTN_RNN_H
#define LOOM_CORE_ATTN_RNN_H

#include <stddef.h>

#include "core/attention.h"
#include "core/rnn.h"

typedef struct {
    const loom_rnn *rnn;   /* the cell; its Wx is (E + Dv, GH) */
    const loom_attn *attn; /* NULL: no attention */
    int E, Dv;             /* the input's embedding part; the context size (0 without attention) */
    /* Optional (NULL: unused): the context's rows of Wx, Wx[E:] (Dv, GH),
     * packed by the caller as loom_packw_new(Wx[E:], Dv, GH) and
     * loom_packw_new_t(Wx[E:], GH, Dv), for the per-step products c_t Wx[E:]
     * and dc_t += dxp_t Wx[E:]^T (see loom_rnn's Wh_pack). */
    const loom_packw *Wc_pack, *Wc_pack_t;
} loom_attn_rnn;

/* The source the steps attend to, fixed for a batch. */
typedef struct {
    const float *keys, *kp, *P;
    const int *lens; /* (R) real source positions per row */
    int S, K;
} loom_attn_rnn_src;

/* Floats of a step's recurrent cache (kept from forward to backward), of
 * its attention cache (the backward pass recomputes it, so one step's
 * worth serves all steps) and of the scratch both passes use. */
size_t loom_attn_rnn_cache_size(const loom_attn_rnn *d, int R);
size_t loom_attn_rnn_attn_cache_size(const loom_attn_rnn *d, int R, int S);
size_t loom_attn_rnn_work_size(const loom_attn_rnn *d, int R, int S);

void loom_attn_rnn_forward(const loom_attn_rnn *d, const loom_attn_rnn_src *src, float *h, float *c,
                           float *ctx, float *weights, float *cache, float *acache, float *work,
                           float *xp, const float *h_prev, const float *c_prev, int R);

/* dh, dc: the gradients of h_t, c_t; dctx (R, Dv): in, the gradient of c_t
 * from elsewhere (an output layer reading it), then scratch. Accumulates
 * dxp (R, GH), dh_prev, dc_prev (R, H), dsrc (R, S, Dv: the source's
 * gradient as values and, for dot and general attention, as keys), dkp
 * (R, S, A; Bahdanau's keys, taken back to the source by
 * loom_attn_project_keys_backward once per batch), and the cell's and
 * attention's weight gradients (not dWx, see above). The attention is
 * recomputed (acache, ctx2 (R, Dv) scratch; weights rewritten with the
 * same values). P must be NULL (training). */
void loom_attn_rnn_backward(const loom_attn_rnn *d, const loom_attn_rnn_src *src, float *dxp,
                            float *dh_prev, float *dc_prev, float *dctx, float *dsrc, float *dkp,
                            float *ctx2, float *acache, float *work, const float *dh,
                            const float *dc, const float *cache, const float *h,
                            const float *h_prev, const float *c_prev, float *weights, int R);

/* The same step with the attention's query q (R, Dq) apart from the
 * cell's previous state (a stacked decoder: the top layer's previous state
 * queries, the first layer's runs the cell); backward accumulates the
 * query's gradient into dq. The functions above are these with q = h_prev,
 * dq = dh_prev. */
void loom_attn_rnn_forward_q(const loom_attn_rnn *d, const loom_attn_rnn_src *src, const float *q,
                             float *h, float *c, float *ctx, float *weights, float *cache,
                             float *acache, float *work, float *xp, const float *h_prev,
                             const float *c_prev, int R);
void loom_attn_rnn_backward_q(const loom_attn_rnn *d, const loom_attn_rnn_src *src, const float *q,
                              float *dq, float *dxp, float *dh_prev, float *dc_prev, float *dctx,
                              float *dsrc, float *dkp, float *ctx2, float *acache, float *work,
                              const float *dh, const float *dc, const float *cache, const float *h,
                              const float *h_prev, const float *c_prev, float *weights, int R);

#endif

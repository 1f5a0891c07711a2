/* loom: the attentional recurrent step (see attn_rnn.h): the attention,
 * the context's share of the input projection, the cell. */
#include "core/attn_rnn.h"
#include "core/blas.h"
#include "core/dense.h"

size_t loom_attn_rnn_cache_size(const loom_attn_rnn *d, int R)
{
    return loom_rnn_step_cache_size(d->rnn, R);
}

size_t loom_attn_rnn_attn_cache_size(const loom_attn_rnn *d, int R, int S)
{
    return d->attn ? loom_attn_cache_size(d->attn, R, S) : 0;
}

size_t loom_attn_rnn_work_size(const loom_attn_rnn *d, int R, int S)
{
    size_t a = loom_rnn_step_work_size(d->rnn, R),
           b = d->attn ? loom_attn_work_size(d->attn, R, S) : 0;
    size_t c = (size_t)R * (d->Dv > loom_rnn_gates(d->rnn->cell) * d->rnn->H
                                ? d->Dv
                                : loom_rnn_gates(d->rnn->cell) * d->rnn->H);
    a = a > b ? a : b;
    return a > c ? a : c; /* the packed products' scratch */
}

void loom_attn_rnn_forward(const loom_attn_rnn *d, const loom_attn_rnn_src *src, float *h, float *c,
                           float *ctx, float *weights, float *cache, float *acache, float *work,
                           float *xp, const float *h_prev, const float *c_prev, int R)
{
    loom_attn_rnn_forward_q(d, src, h_prev, h, c, ctx, weights, cache, acache, work, xp, h_prev,
                            c_prev, R);
}

void loom_attn_rnn_forward_q(const loom_attn_rnn *d, const loom_attn_rnn_src *src, const float *q,
                             float *h, float *c, float *ctx, float *weights, float *cache,
                             float *acache, float *work, float *xp, const float *h_prev,
                             const float *c_prev, int R)
{
    int GH = loom_rnn_gates(d->rnn->cell) * d->rnn->H;
    const float *Wc = d->rnn->Wx + (size_t)d->E * GH; /* the context's rows of Wx */
    if (d->attn) {
        loom_attn_forward(d->attn, ctx, weights, acache, q, src->keys, src->kp, src->keys,
                          src->lens, R, src->S, d->Dv);
        if (src->P) /* c_t Wx[E:] = sum_s a_ts (keys_s Wx[E:]) */
            loom_attn_mix_add(xp, weights, src->P, src->lens, R, src->K, src->S, GH);
        else if (d->Wc_pack && R > 1) { /* work is free until the cell's step */
            loom_packw_mm(d->Wc_pack, R, ctx, d->Dv, NULL, work, GH);
            loom_axpy((size_t)R * GH, 1.0f, work, xp);
        } else
            loom_dense_forward_add(xp, ctx, Wc, R, d->Dv, GH);
    }
    loom_rnn_step_forward(d->rnn, h, c, cache, work, xp, h_prev, c_prev, R);
}

void loom_attn_rnn_backward(const loom_attn_rnn *d, const loom_attn_rnn_src *src, float *dxp,
                            float *dh_prev, float *dc_prev, float *dctx, float *dsrc, float *dkp,
                            float *ctx2, float *acache, float *work, const float *dh,
                            const float *dc, const float *cache, const float *h,
                            const float *h_prev, const float *c_prev, float *weights, int R)
{
    loom_attn_rnn_backward_q(d, src, h_prev, dh_prev, dxp, dh_prev, dc_prev, dctx, dsrc, dkp, ctx2,
                             acache, work, dh, dc, cache, h, h_prev, c_prev, weights, R);
}

void loom_attn_rnn_backward_q(const loom_attn_rnn *d, const loom_attn_rnn_src *src, const float *q,
                              float *dq, float *dxp, float *dh_prev, float *dc_prev, float *dctx,
                              float *dsrc, float *dkp, float *ctx2, float *acache, float *work,
                              const float *dh, const float *dc, const float *cache, const float *h,
                              const float *h_prev, const float *c_prev, float *weights, int R)
{
    int GH = loom_rnn_gates(d->rnn->cell) * d->rnn->H;
    /* in the forward pass h_t = cell(xp_t, h_{t-1}) */
    loom_rnn_step_backward(d->rnn, dxp, dh_prev, dc_prev, work, dh, dc, cache, h, h_prev, c_prev,
                           R);
    if (!d->attn)
        return;
    /* xp_t += c_t Wx[E:]: so dc_t += dxp_t Wx[E:]^T */
    if (d->Wc_pack_t && R > 1) { /* work is free until the attention's backward */
        loom_packw_mm(d->Wc_pack_t, R, dxp, GH, NULL, work, d->Dv);
        loom_axpy((size_t)R * d->Dv, 1.0f, work, dctx);
    } else
        loom_dense_backward(dctx, NULL, NULL, dxp, NULL, d->rnn->Wx + (size_t)d->E * GH, R, d->Dv,
                            GH);
    /* c_t = attention(h_{t-1}, keys), its cache recomputed */
    int bahdanau = d->attn->kind == LOOM_ATTN_BAHDANAU;
    loom_attn_forward(d->attn, ctx2, weights, acache, q, src->keys, src->kp, src->keys, src->lens,
                      R, src->S, d->Dv);
    loom_attn_backward(d->attn, dq, bahdanau ? NULL : dsrc, bahdanau ? dkp : NULL, dsrc, work, dctx,
                       acache, weights, q, src->keys, src->keys, src->lens, R, src->S, d->Dv);
}

/* loom: Bahdanau, Luong dot and Luong general attention with masks, forward
 * and backward (see attention.h for shapes and the PyTorch mapping).
 * Scores, masked softmax and context are per sentence; the query-side
 * products (q W, and its backward) are one GEMM over the batch.
 *
 * Cache: Bahdanau  wq (B, A) then t = tanh(kp + wq) (B, S, A);
 *        general   qw = q W (B, Dk);  dot: nothing. */
#include "core/attention.h"

#include <string.h>

#include "core/blas.h"
#include "core/smallmm.h"
#include "core/vmath.h"

const char *const loom_attn_kind_names[] = {"none", "bahdanau", "dot", "general", NULL};

const char *loom_attn_kind_name(int kind)
{
    return kind >= LOOM_ATTN_NONE && kind <= LOOM_ATTN_GENERAL ? loom_attn_kind_names[kind] : "?";
}

int loom_attn_kind_parse(const char *s)
{
    for (int i = 0; loom_attn_kind_names[i]; i++)
        if (strcmp(s, loom_attn_kind_names[i]) == 0)
            return i;
    return -1;
}

size_t loom_attn_cache_size(const loom_attn *a, int B, int S)
{
    switch (a->kind) {
    case LOOM_ATTN_BAHDANAU:
        return (size_t)B * a->A + (size_t)B * S * a->A;
    case LOOM_ATTN_GENERAL:
        return (size_t)B * a->Dk;
    default:
        return 0;
    }
}

/* The per-sentence score gradient (S), then the gradient of the query-side
 * product (B, A or Dk). */
size_t loom_attn_work_size(const loom_attn *a, int B, int S)
{
    int X = a->kind == LOOM_ATTN_BAHDANAU ? a->A : a->Dk;
    return (size_t)S + (size_t)B * X + (size_t)B * a->Dq; /* de, g, g W^T */
}

void loom_attn_project_keys(const loom_attn *a, float *kp, const float *keys, int N)
{
    int A = a->A;
    for (int n = 0; n < N; n++)
        memcpy(kp + (size_t)n * A, a->b, A * sizeof *kp);
    loom_mm(N, A, a->Dk, keys, a->U, 1.0f, kp);
}

void loom_attn_project_keys_backward(const loom_attn *a, float *dkeys, const float *dkp,
                                     const float *keys, int N)
{
    int A = a->A, Dk = a->Dk;
    if (a->dU)
        loom_mm_tn_acc(Dk, A, N, keys, dkp, a->dU);
    if (a->db)
        for (int n = 0; n < N; n++)
            loom_axpy(A, 1.0f, dkp + (size_t)n * A, a->db);
    if (dkeys)
        loom_mm_nt(N, Dk, A, dkp, a->U, 1.0f, dkeys);
}

/* In place: w[0..len) = softmax(w[0..len)), w[len..S) = 0. */
static void masked_softmax(float *w, int len, int S)
{
    if (len > 0) {
        float mx = w[0], sum = 0.0f;
        for (int s = 1; s < len; s++)
            mx = w[s] > mx ? w[s] : mx;
        for (int s = 0; s < len; s++)
            w[s] -= mx;
        loom_vexp(w, w, len);
        for (int s = 0; s < len; s++)
            sum += w[s];
        float inv = 1.0f / sum;
        for (int s = 0; s < len; s++)
            w[s] *= inv;
    }
    for (int s = len < 0 ? 0 : len; s < S; s++)
        w[s] = 0.0f;
}

/* e[s] = v . tanh(kp[s] + wq) for s < len, keeping the tanh in t: the sums,
 * one tanh pass over the sentence, one sgemv for the scores. */
LOOM_VECTORIZE static void additive_scores(float *restrict e, float *restrict t,
                                           const float *restrict kp, const float *restrict wq,
                                           const float *restrict v, int len, int A)
{
    for (int s = 0; s < len; s++) {
        float *restrict tr = t + (size_t)s * A;
        const float *restrict kr = kp + (size_t)s * A;
        for (int j = 0; j < A; j++)
            tr[j] = kr[j] + wq[j];
    }
    loom_vtanh(t, t, (size_t)len * A);
    loom_gemv(LOOM_NOTRANS, len, A, 1.0f, t, A, v, 0.0f, e);
}

/* loom_attn_forward with row strides for q, ctx and weights (in floats),
 * so that one query of each sentence can be picked out of (B, Tq, .). */
static void attn_forward(const loom_attn *a, float *ctx, int ldc, float *weights, int ldw,
                         float *cache, const float *q, int ldq, const float *keys, const float *kp,
                         const float *values, const int *lens, int B, int S, int Dv)
{
    int Dk = a->Dk, A = a->A;
    if (a->kind == LOOM_ATTN_BAHDANAU || a->kind == LOOM_ATTN_GENERAL) {
        int X = a->kind == LOOM_ATTN_BAHDANAU ? A : Dk; /* q W's columns */
        if (a->W_pack && B > 1)
            loom_packw_mm(a->W_pack, B, q, ldq, NULL, cache, X);
        else
            loom_mm_ldx(B, X, a->Dq, q, ldq, a->W, 0.0f, cache);
    }
    for (int b = 0; b < B; b++) {
        int len = lens ? lens[b] : S;
        float *w = weights + (size_t)b * ldw, *c = ctx + (size_t)b * ldc;
        const float *kb = keys + (size_t)b * S * Dk;
        if (len > 0) {
            switch (a->kind) {
            case LOOM_ATTN_BAHDANAU:
                additive_scores(w, cache + (size_t)B * A + (size_t)b * S * A,
                                kp + (size_t)b * S * A, cache + (size_t)b * A, a->v, len, A);
                break;
            case LOOM_ATTN_DOT:
                loom_gemv(LOOM_NOTRANS, len, Dk, 1.0f, kb, Dk, q + (size_t)b * ldq, 0.0f, w);
                break;
            case LOOM_ATTN_GENERAL:
                loom_gemv(LOOM_NOTRANS, len, Dk, 1.0f, kb, Dk, cache + (size_t)b * Dk, 0.0f, w);
                break;
            case LOOM_ATTN_NONE: /* no layer: a model without attention never calls it */
                break;
            }
        }
        masked_softmax(w, len, S);
        if (len > 0)
            loom_gemv(LOOM_TRANS, len, Dv, 1.0f, values + (size_t)b * S * Dv, Dv, w, 0.0f, c);
        else
            memset(c, 0, Dv * sizeof *c);
    }
}

void loom_attn_forward(const loom_attn *a, float *ctx, float *weights, float *cache, const float *q,
                       const float *keys, const float *kp, const float *values, const int *lens,
                       int B, int S, int Dv)
{
    attn_forward(a, ctx, Dv, weights, S, cache, q, a->Dq, keys, kp, values, lens, B, S, Dv);
}

/* Bahdanau's per-sentence backward: de[s] is the score gradient; in the
 * forward pass this was: e[s] = v . t[s], t[s] = tanh(kp[s] + wq); so
 * dv += de t, and dpre = de v (1 - t^2) goes to both kp[s] and wq. */
LOOM_VECTORIZE static void additive_backward(float *restrict dwq, float *restrict dkp,
                                             float *restrict dv, const float *restrict de,
                                             const float *restrict t, const float *restrict v,
                                             int len, int A)
{
    if (dv)
        loom_gemv(LOOM_TRANS, len, A, 1.0f, t, A, de, 1.0f, dv);
    for (int s = 0; s < len; s++) {
        const float *restrict tr = t + (size_t)s * A;
        float g = de[s];
        if (dkp) {
            float *restrict dk = dkp + (size_t)s * A;
            for (int j = 0; j < A; j++) {
                float d = g * v[j] * (1.0f - tr[j] * tr[j]);
                dwq[j] += d;
                dk[j] += d;
            }
        } else {
            for (int j = 0; j < A; j++)
                dwq[j] += g * v[j] * (1.0f - tr[j] * tr[j]);
        }
    }
}

static void attn_backward(const loom_attn *a, float *dq, float *dkeys, float *dkp, float *dvalues,
                          float *work, const float *dctx, int ldc, const float *cache,
                          const float *weights, int ldw, const float *q, int ldq, const float *keys,
                          const float *values, const int *lens, int B, int S, int Dv)
{
    int Dq = a->Dq, Dk = a->Dk, A = a->A;
    int X = a->kind == LOOM_ATTN_BAHDANAU ? A : Dk; /* width of the query-side product */
    float *de = work, *g = work + S;
    if (a->kind != LOOM_ATTN_DOT)
        memset(g, 0, (size_t)B * X * sizeof *g);
    for (int b = 0; b < B; b++) {
        int len = lens ? lens[b] : S;
        if (len <= 0)
            continue;
        const float *w = weights + (size_t)b * ldw, *dc = dctx + (size_t)b * ldc;
        const float *vb = values + (size_t)b * S * Dv, *kb = keys + (size_t)b * S * Dk;
        /* in the forward pass this was: ctx = sum_s w[s] values[s]; so
         * dvalues[s] += w[s] dctx and dw[s] = values[s] . dctx */
        if (dvalues)
            loom_ger(len, Dv, 1.0f, w, dc, dvalues + (size_t)b * S * Dv, Dv);
        loom_gemv(LOOM_NOTRANS, len, Dv, 1.0f, vb, Dv, dc, 0.0f, de);
        /* softmax: de[s] = w[s] (dw[s] - sum_s' w[s'] dw[s']) */
        float dot = 0.0f;
        for (int s = 0; s < len; s++)
            dot += w[s] * de[s];
        for (int s = 0; s < len; s++)
            de[s] = w[s] * (de[s] - dot);
        switch (a->kind) {
        case LOOM_ATTN_DOT: /* e[s] = q . k[s] */
            if (dq)
                loom_gemv(LOOM_TRANS, len, Dk, 1.0f, kb, Dk, de, 1.0f, dq + (size_t)b * ldq);
            if (dkeys)
                loom_ger(len, Dk, 1.0f, de, q + (size_t)b * ldq, dkeys + (size_t)b * S * Dk, Dk);
            break;
        case LOOM_ATTN_GENERAL: /* e[s] = qw . k[s], qw = q W */
            loom_gemv(LOOM_TRANS, len, Dk, 1.0f, kb, Dk, de, 0.0f, g + (size_t)b * Dk);
            if (dkeys)
                loom_ger(len, Dk, 1.0f, de, cache + (size_t)b * Dk, dkeys + (size_t)b * S * Dk, Dk);
            break;
        case LOOM_ATTN_BAHDANAU:
            additive_backward(g + (size_t)b * A, dkp ? dkp + (size_t)b * S * A : NULL, a->dv, de,
                              cache + (size_t)B * A + (size_t)b * S * A, a->v, len, A);
            break;
        case LOOM_ATTN_NONE:
            break;
        }
    }
    if (a->kind == LOOM_ATTN_DOT)
        return;
    /* in the forward pass this was: wq = q W; so dq += g W^T, dW += q^T g */
    if (dq && B == 1) {
        loom_gemv(LOOM_NOTRANS, Dq, X, 1.0f, a->W, X, g, 1.0f, dq);
    } else if (dq && a->W_pack_t) {
        float *gw = g + (size_t)B * X;
        loom_packw_mm(a->W_pack_t, B, g, X, NULL, gw, Dq);
        for (int b = 0; b < B; b++)
            loom_axpy((size_t)Dq, 1.0f, gw + (size_t)b * Dq, dq + (size_t)b * ldq);
    } else if (dq)
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, Dq, X, 1.0f, g, X, a->W, X, 1.0f, dq, ldq);
    if (a->dW && B == 1)
        loom_ger(Dq, X, 1.0f, q, g, a->dW, X);
    else if (a->dW)
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, Dq, X, B, 1.0f, q, ldq, g, X, 1.0f, a->dW, X);
}

void loom_attn_backward(const loom_attn *a, float *dq, float *dkeys, float *dkp, float *dvalues,
                        float *work, const float *dctx, const float *cache, const float *weights,
                        const float *q, const float *keys, const float *values, const int *lens,
                        int B, int S, int Dv)
{
    attn_backward(a, dq, dkeys, dkp, dvalues, work, dctx, Dv, cache, weights, S, q, a->Dq, keys,
                  values, lens, B, S, Dv);
}

/* ---- all Tq queries of each sentence ---- */

void loom_attn_forward_all(const loom_attn *a, float *ctx, float *weights, float *cache,
                           const float *q, const float *keys, const float *kp, const float *values,
                           const int *lens, int B, int Tq, int S, int Dv)
{
    size_t step = loom_attn_cache_size(a, B, S);
    for (int t = 0; t < Tq; t++)
        attn_forward(a, ctx + (size_t)t * Dv, Tq * Dv, weights + (size_t)t * S, Tq * S,
                     cache + t * step, q + (size_t)t * a->Dq, Tq * a->Dq, keys, kp, values, lens, B,
                     S, Dv);
}

void loom_attn_backward_all(const loom_attn *a, float *dq, float *dkeys, float *dkp, float *dvalues,
                            float *work, const float *dctx, const float *cache,
                            const float *weights, const float *q, const float *keys,
                            const float *values, const int *lens, int B, int Tq, int S, int Dv)
{
    size_t step = loom_attn_cache_size(a, B, S);
    for (int t = 0; t < Tq; t++)
        attn_backward(a, dq ? dq + (size_t)t * a->Dq : NULL, dkeys, dkp, dvalues, work,
                      dctx + (size_t)t * Dv, Tq * Dv, cache + t * step, weights + (size_t)t * S,
                      Tq * S, q + (size_t)t * a->Dq, Tq * a->Dq, keys, values, lens, B, S, Dv);
}

void loom_attn_mix_add(float *out, const float *weights, const float *values, const int *lens,
                       int R, int K, int S, int Dv)
{
    for (int r = 0; r < R; r++)
        if (lens[r] > 0) /* out_r += a_r values: (len) x (len, Dv) */
            loom_gemv(LOOM_TRANS, lens[r], Dv, 1.0f, values + (size_t)(r / K) * S * Dv, Dv,
                      weights + (size_t)r * S, 1.0f, out + (size_t)r * Dv);
}

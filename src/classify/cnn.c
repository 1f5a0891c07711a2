/* loom: the convolutional classifier's passes (see cnn.h). Pointer set-up,
 * then one core call per layer; backward is the same calls in reverse.
 * Pooling comes before the ReLU (max and ReLU commute, and the ReLU then
 * runs on B x features instead of B x T x features). */
#include "config.h"
#include "classify/cnn.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "classify/model.h"
#include "core/activation.h"
#include "core/conv1d.h"
#include "core/dense.h"
#include "core/dropout.h"
#include "core/embedding.h"

struct loom_cls_cnn_work {
    size_t cap_bt, cap_b, cap_col;   /* capacities: B*T rows, B rows, col floats */
    int32_t *ids;                    /* (B, T), for the embedding backward */
    int *lens_out;                   /* (B) pooled steps for one width */
    float *xe, *xs, *x;              /* (B*T, D) tuned and static channel; (B*T, C) input */
    float *y, *col;                  /* one width's convolution output; im2col workspace */
    int *argmax;                     /* (widths, B, F) */
    float *pool;                     /* (B, F) */
    float *feat, *act, *drop, *mask; /* (B, NF): pooled, after ReLU, after dropout */
    float *dh, *dfeat, *dx, *dxe;
    int B, T, dropped;
};

void loom_cls_cnn_work_free(loom_cls_cnn_work *w)
{
    if (!w)
        return;
    free(w->ids), free(w->lens_out), free(w->xe), free(w->xs), free(w->x), free(w->y);
    free(w->col), free(w->argmax), free(w->pool), free(w->feat), free(w->act), free(w->drop);
    free(w->mask), free(w->dh), free(w->dfeat), free(w->dx), free(w->dxe), free(w);
}

int loom_cls_cnn_work_new(loom_cls_cnn_work **out, const loom_classifier *m)
{
    (void)m;
    *out = loom_calloc(1, sizeof **out);
    return *out ? 0 : LOOM_ENOMEM;
}

static int grow(void *pp, size_t n, size_t size)
{
    void **p = pp;
    void *q = loom_realloc(*p, n ? n : 1, size);
    if (!q)
        return LOOM_ENOMEM;
    *p = q;
    return 0;
}

/* Sizes every buffer for a batch of B sentences of T steps. */
static int reserve(const loom_classifier *m, loom_cls_cnn_work *w, int B, int T)
{
    const loom_cls_config *c = &m->cfg;
    size_t bt = (size_t)B * T, D = (size_t)c->dim, C = D * c->channels, F = (size_t)c->filters;
    size_t NF = F * c->nwidths, col = 0;
    for (int i = 0; i < c->nwidths; i++) {
        size_t k = loom_conv1d_col_size(B, T, (int)C, c->widths[i], LOOM_CONV_VALID);
        col = k > col ? k : col;
    }
    int rc = 0;
    if (bt > w->cap_bt) {
        rc = grow(&w->ids, bt, sizeof(int32_t)) || grow(&w->xe, bt * D, sizeof(float)) ||
             grow(&w->xs, bt * D, sizeof(float)) || grow(&w->x, bt * C, sizeof(float)) ||
             grow(&w->y, bt * F, sizeof(float)) || grow(&w->dx, bt * C, sizeof(float)) ||
             grow(&w->dxe, bt * D, sizeof(float));
        w->cap_bt = rc ? 0 : bt;
    }
    if (!rc && (size_t)B > w->cap_b) {
        rc = grow(&w->lens_out, (size_t)B, sizeof(int)) ||
             grow(&w->argmax, (size_t)B * NF, sizeof(int)) ||
             grow(&w->pool, (size_t)B * F, sizeof(float)) ||
             grow(&w->feat, (size_t)B * NF, sizeof(float)) ||
             grow(&w->act, (size_t)B * NF, sizeof(float)) ||
             grow(&w->drop, (size_t)B * NF, sizeof(float)) ||
             grow(&w->mask, (size_t)B * NF, sizeof(float)) ||
             grow(&w->dh, (size_t)B * NF, sizeof(float)) ||
             grow(&w->dfeat, (size_t)B * NF, sizeof(float));
        w->cap_b = rc ? 0 : (size_t)B;
    }
    if (!rc && col > w->cap_col) {
        rc = grow(&w->col, col, sizeof(float));
        w->cap_col = rc ? 0 : col;
    }
    return rc ? LOOM_ENOMEM : 0;
}

/* Columns [at, at + n) of a (rows, ld) matrix from / to a (rows, n) one. */
static void put_cols(float *dst, int ld, int at, const float *src, int rows, int n)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * ld + at, src + (size_t)r * n, (size_t)n * sizeof *dst);
}

static void get_cols(float *dst, const float *src, int ld, int at, int rows, int n)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * n, src + (size_t)r * ld + at, (size_t)n * sizeof *dst);
}

/* Embeddings -> conv -> max-pool -> ReLU: w->act (B, NF). */
static void features_forward(const loom_classifier *m, loom_cls_cnn_work *w, const int *lens, int B,
                             int T)
{
    const loom_cls_config *c = &m->cfg;
    int D = c->dim, C = D * c->channels, F = c->filters, NF = F * c->nwidths, N = B * T;
    loom_embedding_forward(w->xe, w->ids, m->emb->value, N, D);
    float *x = w->xe;
    if (c->channels == 2) { /* channels side by side: x[n] = [tuned(n), static(n)] */
        loom_embedding_forward(w->xs, w->ids, m->emb_static->value, N, D);
        put_cols(w->x, C, 0, w->xe, N, D);
        put_cols(w->x, C, D, w->xs, N, D);
        x = w->x;
    }
    for (int i = 0; i < c->nwidths; i++) {
        int W = c->widths[i], To = loom_conv1d_out_len(T, W, LOOM_CONV_VALID);
        for (int b = 0; b < B; b++) /* a sentence shorter than W still gives one window */
            w->lens_out[b] = (lens[b] > W ? lens[b] : W) - W + 1;
        loom_conv1d_forward(w->y, w->col, x, m->conv_k[i]->value, m->conv_b[i]->value, B, T, C, F,
                            W, LOOM_CONV_VALID);
        loom_maxpool_forward(w->pool, w->argmax + (size_t)i * B * F, w->y, w->lens_out, B, To, F);
        put_cols(w->feat, NF, i * F, w->pool, B, F);
    }
    loom_relu_forward(w->act, w->feat, (size_t)B * NF);
}

int loom_cls_cnn_forward(const loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                         const int *lens, int B, int T, float *logits, loom_rng *rng)
{
    const loom_cls_config *c = &m->cfg;
    int NF = c->filters * c->nwidths, L = loom_cls_labels(m);
    int rc = reserve(m, w, B, T);
    if (rc)
        return rc;
    memcpy(w->ids, ids, (size_t)B * T * sizeof *ids);
    w->B = B, w->T = T;
    features_forward(m, w, lens, B, T);
    const float *h = w->act;
    w->dropped = rng && c->dropout > 0;
    if (w->dropped) {
        loom_dropout_forward(w->drop, w->mask, w->act, (size_t)B * NF, c->dropout, rng);
        h = w->drop;
    }
    loom_dense_forward(logits, h, m->out_w->value, m->out_b->value, B, NF, L);
    return 0;
}

void loom_cls_cnn_backward(const loom_classifier *m, loom_cls_cnn_work *w, const float *dlogits)
{
    const loom_cls_config *c = &m->cfg;
    int B = w->B, T = w->T, D = c->dim, C = D * c->channels, F = c->filters, NF = F * c->nwidths;
    int L = loom_cls_labels(m), N = B * T;
    size_t n = (size_t)B * NF;
    const float *h = w->dropped ? w->drop : w->act;
    float *g = w->dh; /* d(the dense layer's input) */
    memset(w->dh, 0, n * sizeof(float));
    /* forward: logits = h out.W + out.b */
    loom_dense_backward(w->dh, m->out_w->frozen ? NULL : m->out_w->grad,
                        m->out_b->frozen ? NULL : m->out_b->grad, dlogits, h, m->out_w->value, B,
                        NF, L);
    if (w->dropped) { /* forward: drop = act * mask */
        memset(w->dfeat, 0, n * sizeof(float));
        loom_dropout_backward(w->dfeat, w->dh, w->mask, n);
        g = w->dfeat;
    }
    /* forward: act = relu(feat); the gradient lands in dh again (free now) */
    float *dfeat = g == w->dh ? w->dfeat : w->dh;
    memset(dfeat, 0, n * sizeof(float));
    loom_relu_backward(dfeat, g, w->act, n);
    int tune = !m->emb->frozen;
    float *x = c->channels == 2 ? w->x : w->xe;
    if (tune)
        memset(w->dx, 0, (size_t)N * C * sizeof(float));
    for (int i = 0; i < c->nwidths; i++) {
        int W = c->widths[i], To = loom_conv1d_out_len(T, W, LOOM_CONV_VALID);
        /* forward: feat[:, i*F:(i+1)*F] = maxpool(y); y = conv(x, K_i) + b_i */
        get_cols(w->pool, dfeat, NF, i * F, B, F);
        memset(w->y, 0, (size_t)B * To * F * sizeof(float));
        loom_maxpool_backward(w->y, w->pool, w->argmax + (size_t)i * B * F, B, To, F);
        loom_conv1d_backward(tune ? w->dx : NULL, m->conv_k[i]->frozen ? NULL : m->conv_k[i]->grad,
                             m->conv_b[i]->frozen ? NULL : m->conv_b[i]->grad, w->col, w->y, x,
                             m->conv_k[i]->value, B, T, C, F, W, LOOM_CONV_VALID);
    }
    if (!tune)
        return;
    const float *dxe = w->dx;
    if (c->channels == 2) { /* the tuned channel is columns [0, D) of x */
        get_cols(w->dxe, w->dx, C, 0, N, D);
        dxe = w->dxe;
    }
    loom_embedding_backward(m->emb->grad, dxe, w->ids, N, D);
}

int loom_cls_cnn_features(const loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                          size_t n, float *out)
{
    int T = (int)n;
    for (int i = 0; i < m->cfg.nwidths; i++)
        T = m->cfg.widths[i] > T ? m->cfg.widths[i] : T;
    int rc = reserve(m, w, 1, T);
    if (rc)
        return rc;
    for (int t = 0; t < T; t++)
        w->ids[t] = (size_t)t < n ? ids[t] : -1;
    int len = (int)n;
    features_forward(m, w, &len, 1, T);
    memcpy(out, w->act, (size_t)m->cfg.filters * m->cfg.nwidths * sizeof *out);
    return 0;
}

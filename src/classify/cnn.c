/* loom: the convolutional classifier's passes (see cnn.h). Pointer set-up,
 * then one core call per layer; backward is the same calls in reverse.
 * Pooling comes before the ReLU (max and ReLU commute, and the ReLU then
 * runs on B x features instead of N x features). */
#include "config.h"
#include "classify/cnn.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "classify/model.h"
#include "core/activation.h"
#include "core/convpool.h"
#include "core/dense.h"
#include "core/dropout.h"
#include "core/embedding.h"

struct loom_cls_cnn_work {
    size_t cap_n, cap_b, cap_col;    /* capacities: N rows, B sentences, col floats */
    int32_t *ids;                    /* (N), for the embedding backward */
    int *start, *lens;               /* (B) */
    float *xe, *xs, *x;              /* (N, D) tuned and static channel; (N, C) input */
    float *y, *col, *cwork;          /* one width's windows (N, F); col; convpool workspace */
    int *argmax;                     /* (widths, B, F) */
    float *pool;                     /* (B, F) */
    float *feat, *act, *drop, *mask; /* (B, NF): pooled, after ReLU, after dropout */
    float *dh, *dfeat, *dx, *dxe;
    int B, N, dropped;
};

void loom_cls_cnn_work_free(loom_cls_cnn_work *w)
{
    if (!w)
        return;
    free(w->ids), free(w->start), free(w->lens), free(w->xe), free(w->xs), free(w->x);
    free(w->y), free(w->col), free(w->cwork), free(w->argmax), free(w->pool), free(w->feat);
    free(w->act), free(w->drop), free(w->mask), free(w->dh), free(w->dfeat), free(w->dx);
    free(w->dxe), free(w);
}

int loom_cls_cnn_work_new(loom_cls_cnn_work **out, const loom_classifier *m)
{
    const loom_cls_config *c = &m->cfg;
    *out = loom_calloc(1, sizeof **out);
    if (!*out)
        return LOOM_ENOMEM;
    size_t n = loom_convpool_work_size(c->dim * c->channels, c->filters, loom_cls_cnn_min_rows(m));
    (*out)->cwork = loom_malloc(n, sizeof(float));
    if (!(*out)->cwork) {
        loom_cls_cnn_work_free(*out);
        *out = NULL;
        return LOOM_ENOMEM;
    }
    return 0;
}

int loom_cls_cnn_min_rows(const loom_classifier *m)
{
    int W = 1;
    for (int i = 0; i < m->cfg.nwidths; i++)
        W = m->cfg.widths[i] > W ? m->cfg.widths[i] : W;
    return W;
}

int loom_cls_cnn_pack(const loom_classifier *m, int32_t *ids, int *start,
                      const int32_t *const *seqs, const int *lens, int B)
{
    int W = loom_cls_cnn_min_rows(m), N = 0;
    for (int b = 0; b < B; b++) {
        start[b] = N;
        memcpy(ids + N, seqs[b], (size_t)lens[b] * sizeof *ids);
        N += lens[b];
        for (int t = lens[b]; t < W; t++)
            ids[N++] = -1;
    }
    return N;
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

/* Sizes every buffer for a batch of B sentences in N rows: a width's
 * windows are at most N (each sentence has at least as many rows as
 * windows of any width). */
static int reserve(const loom_classifier *m, loom_cls_cnn_work *w, int B, int N)
{
    const loom_cls_config *c = &m->cfg;
    size_t n = (size_t)N, D = (size_t)c->dim, C = D * c->channels, F = (size_t)c->filters;
    size_t NF = F * c->nwidths, col = n * C * loom_cls_cnn_min_rows(m);
    int rc = 0;
    if (n > w->cap_n) {
        rc = grow(&w->ids, n, sizeof(int32_t)) || grow(&w->xe, n * D, sizeof(float)) ||
             grow(&w->xs, n * D, sizeof(float)) || grow(&w->x, n * C, sizeof(float)) ||
             grow(&w->y, n * F, sizeof(float)) || grow(&w->dx, n * C, sizeof(float)) ||
             grow(&w->dxe, n * D, sizeof(float));
        w->cap_n = rc ? 0 : n;
    }
    if (!rc && (size_t)B > w->cap_b) {
        rc = grow(&w->start, (size_t)B, sizeof(int)) || grow(&w->lens, (size_t)B, sizeof(int)) ||
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

/* Embeddings -> conv + max-pool per width -> ReLU: w->act (B, NF). */
static void features_forward(const loom_classifier *m, loom_cls_cnn_work *w)
{
    const loom_cls_config *c = &m->cfg;
    int D = c->dim, C = D * c->channels, F = c->filters, NF = F * c->nwidths, B = w->B, N = w->N;
    loom_embedding_forward(w->xe, w->ids, m->emb->value, N, D);
    float *x = w->xe;
    if (c->channels == 2) { /* channels side by side: x[n] = [tuned(n), static(n)] */
        loom_embedding_forward(w->xs, w->ids, m->emb_static->value, N, D);
        put_cols(w->x, C, 0, w->xe, N, D);
        put_cols(w->x, C, D, w->xs, N, D);
        x = w->x;
    }
    for (int i = 0; i < c->nwidths; i++) {
        loom_convpool_forward(w->pool, w->argmax + (size_t)i * B * F, w->col, w->y, x, w->start,
                              w->lens, m->conv_k[i]->value, m->conv_b[i]->value, B, C, F,
                              c->widths[i]);
        put_cols(w->feat, NF, i * F, w->pool, B, F);
    }
    loom_relu_forward(w->act, w->feat, (size_t)B * NF);
}

/* Copies a packed batch into w. */
static int load_batch(const loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                      const int *start, const int *lens, int B, int N)
{
    int rc = reserve(m, w, B, N);
    if (rc)
        return rc;
    memcpy(w->ids, ids, (size_t)N * sizeof *ids);
    memcpy(w->start, start, (size_t)B * sizeof *start);
    memcpy(w->lens, lens, (size_t)B * sizeof *lens);
    w->B = B, w->N = N;
    return 0;
}

int loom_cls_cnn_forward(const loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                         const int *start, const int *lens, int B, int N, float *logits,
                         loom_rng *rng)
{
    const loom_cls_config *c = &m->cfg;
    int NF = c->filters * c->nwidths, L = loom_cls_labels(m);
    int rc = load_batch(m, w, ids, start, lens, B, N);
    if (rc)
        return rc;
    features_forward(m, w);
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
    int B = w->B, N = w->N, D = c->dim, C = D * c->channels, F = c->filters, NF = F * c->nwidths;
    int L = loom_cls_labels(m);
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
        /* forward: feat[:, i*F:(i+1)*F] = maxpool(conv(x, K_i) + b_i) */
        get_cols(w->pool, dfeat, NF, i * F, B, F);
        loom_convpool_backward(
            tune ? w->dx : NULL, m->conv_k[i]->frozen ? NULL : m->conv_k[i]->grad,
            m->conv_b[i]->frozen ? NULL : m->conv_b[i]->grad, w->cwork, w->pool,
            w->argmax + (size_t)i * B * F, x, m->conv_k[i]->value, B, C, F, c->widths[i]);
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
    int len = (int)n, rows = len > loom_cls_cnn_min_rows(m) ? len : loom_cls_cnn_min_rows(m);
    int rc = reserve(m, w, 1, rows);
    if (rc)
        return rc;
    w->B = 1, w->N = loom_cls_cnn_pack(m, w->ids, w->start, &ids, &len, 1);
    w->lens[0] = len;
    features_forward(m, w);
    memcpy(out, w->act, (size_t)m->cfg.filters * m->cfg.nwidths * sizeof *out);
    return 0;
}

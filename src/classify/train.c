/* loom: training classifiers (see train.h). The bag's step is fastText's
 * update written as core calls: bag mean -> dense -> loss forward, then
 * loss -> dense -> bag backward, the SGD step folded in as fastText does
 * (dense weights from a per-thread gradient, input rows updated in place
 * through the bag's sparse backward). */
#include "config.h"
#include "classify/train.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/parallel.h"
#include "classify/cnn.h"
#include "classify/eval.h"
#include "embed/sampling.h"
#include "core/bag.h"
#include "core/blas.h"
#include "core/dense.h"
#include "core/embedding.h"
#include "core/loss.h"
#include "core/optim.h"

void loom_cls_train_opts_default(loom_cls_train_opts *o, loom_cls_arch arch)
{
    memset(o, 0, sizeof *o);
    o->lr = arch == LOOM_CLS_BAG ? 0.1 : 1e-3;
    o->epochs = arch == LOOM_CLS_BAG ? 5 : 10;
    o->threads = 1;
    o->seed = 1;
    o->batch = 50;
    o->patience = 3;
    o->lr_update_rate = 100;
    o->neg = 5;
}

double loom_cls_loss_step(const loom_classifier *m, const float *logits, const int *targets,
                          const int32_t *const *labs, const size_t *nlabs, int B, float *work,
                          float *dlogits, float scale)
{
    int L = loom_cls_labels(m);
    size_t n = (size_t)B * L;
    memset(dlogits, 0, n * sizeof *dlogits);
    if (m->cfg.loss == LOOM_CLS_SOFTMAX) {
        /* work: the log-softmax (B, L); the core's loss is the mean over rows */
        double loss = loom_xent_forward(work, NULL, logits, targets, NULL, B, L, 0.0f);
        loom_xent_backward(dlogits, work, targets, NULL, B, L, 0.0f, scale * (float)B);
        return loss * B;
    }
    /* ova: work holds the 0/1 targets; the core's loss is the mean over B * L */
    memset(work, 0, n * sizeof *work);
    for (int b = 0; b < B; b++)
        for (size_t j = 0; j < nlabs[b]; j++)
            work[(size_t)b * L + labs[b][j]] = 1.0f;
    double loss = loom_sigmoid_loss_forward(logits, work, (int)n);
    loom_sigmoid_loss_backward(dlogits, logits, work, (int)n, scale * (float)n);
    return loss * (double)n;
}

/* ------------------------------------------------------------------- bag */

typedef struct {
    loom_classifier *m;
    const loom_cls_data *data;
    const loom_cls_train_opts *o;
    loom_progress *progress;
    const loom_noise *noise; /* ns: labels drawn by count^0.5 */
    atomic_ullong tokens;    /* shared count of tokens done, for the schedule */
    double total;            /* epochs * data tokens */
    double *loss_sum;        /* per thread, last epoch */
    uint64_t *loss_n;
    int err;
} bag_ctx;

/* The output rows an ns or hs step scores, with their 0/1 targets: the
 * target and `neg` labels drawn from the noise table other than it (as
 * fastText: repeats allowed), or the inner nodes of the target's path and
 * its branch bits. Returns how many. */
static int choose_rows(const loom_classifier *m, const loom_noise *noise, int target, int neg,
                       loom_rng *rng, int32_t *sel, float *y)
{
    if (m->cfg.loss == LOOM_CLS_HS) {
        const loom_huffman *h = &m->tree;
        int n = (int)(h->offset[target + 1] - h->offset[target]);
        for (int j = 0; j < n; j++) {
            sel[j] = (int32_t)h->points[h->offset[target] + j];
            y[j] = m->codes[h->offset[target] + j];
        }
        return n;
    }
    sel[0] = target, y[0] = 1.0f;
    int n = 1;
    if (noise->n < 2) /* one label: no negative exists */
        return n;
    for (; n <= neg; n++) {
        uint32_t k;
        do
            k = loom_noise_draw(noise, rng);
        while ((int)k == target);
        sel[n] = (int32_t)k, y[n] = 0.0f;
    }
    return n;
}

/* One SGD step of fastText's binary losses (ns, hs) on the n chosen rows
 * sel of R (rows, D): scores = R[sel] hidden, the summed sigmoid loss
 * against y, then R[sel] -= lr dR in place and dh = d(loss)/d(hidden) for
 * the caller's input update. Returns the loss. */
static double binary_step(float *R, const int32_t *sel, const float *y, int n, const float *hidden,
                          int D, float lr, float *rows, float *drows, float *scores, float *dscores,
                          float *dh)
{
    if (n == 0) { /* hs with a single label: probability 1, nothing to learn */
        memset(dh, 0, (size_t)D * sizeof *dh);
        return 0;
    }
    loom_embedding_forward(rows, sel, R, n, D);
    loom_gemv(LOOM_NOTRANS, n, D, 1.0f, rows, D, hidden, 0.0f, scores);
    double loss = (double)loom_sigmoid_loss_forward(scores, y, n) * n;
    memset(dscores, 0, (size_t)n * sizeof *dscores);
    loom_sigmoid_loss_backward(dscores, scores, y, n, (float)n); /* of the sum */
    /* forward was scores = rows hidden: dh = rows^T dscores (the rows
     * before their update, as fastText), drows = dscores hidden^T */
    loom_gemv(LOOM_TRANS, n, D, 1.0f, rows, D, dscores, 0.0f, dh);
    memset(drows, 0, (size_t)n * D * sizeof *drows);
    loom_ger(n, D, -lr, dscores, hidden, drows, D);
    loom_embedding_backward(R, drows, sel, n, D); /* the SGD step, row by row */
    return loss;
}

static int bag_share(void *p, int t, int T)
{
    bag_ctx *c = p;
    loom_classifier *m = c->m;
    const loom_cls_data *d = c->data;
    int D = m->cfg.dim, L = loom_cls_labels(m);
    size_t lo = d->n * (size_t)t / (size_t)T, hi = d->n * (size_t)(t + 1) / (size_t)T;
    size_t n = hi - lo;
    /* ns, hs: up to S chosen output rows (the target and its negatives,
     * or the inner nodes on the target's path) */
    int S = m->cfg.loss == LOOM_CLS_NS ? c->o->neg + 1 : (int)m->tree.max_len + 1;
    size_t out = m->out_w ? (size_t)D * L : 0;
    float *buf =
        loom_calloc((size_t)(3 * D + 4 * L) + out + (size_t)S * (2 * D + 3), sizeof(float));
    int32_t *sel = loom_malloc((size_t)S, sizeof *sel);
    size_t *order = loom_malloc(n ? n : 1, sizeof *order);
    if (!buf || !order || !sel) {
        free(buf), free(order), free(sel);
        return LOOM_ENOMEM;
    }
    float *hidden = buf, *dh = hidden + D, *logits = dh + D, *work = logits + L,
          *dlogits = work + L, *dW = dlogits + L, *rows = dW + out, *drows = rows + (size_t)S * D,
          *scores = drows + (size_t)S * D, *dscores = scores + S, *y = dscores + S;
    float *E = m->emb->value;
    int tune = !m->emb->frozen;
    loom_rng rng;
    loom_rng_seed(&rng, c->o->seed, (uint64_t)t + 1);
    for (size_t i = 0; i < n; i++)
        order[i] = lo + i;
    unsigned long long local = 0;
    for (int epoch = 0; epoch < c->o->epochs; epoch++) {
        /* fastText reads its share in file order; loom shuffles each epoch,
         * so that files sorted by label train as well as shuffled ones. */
        for (size_t i = n; i > 1; i--) {
            size_t j = loom_rng_below(&rng, (uint32_t)i), x = order[i - 1];
            order[i - 1] = order[j], order[j] = x;
        }
        c->loss_sum[t] = 0, c->loss_n[t] = 0;
        for (size_t k = 0; k < n; k++) {
            size_t i = order[k];
            local += d->tokens[i];
            const int32_t *ids = d->ids + d->id_off[i], *lab = d->lab + d->lab_off[i];
            size_t nids = d->id_off[i + 1] - d->id_off[i], nlab = d->lab_off[i + 1] - d->lab_off[i];
            if (nids == 0 || nlab == 0)
                continue;
            double done = (double)atomic_load_explicit(&c->tokens, memory_order_relaxed);
            float lr = (float)(c->o->lr * (1.0 - done / c->total));
            int offsets[2] = {0, (int)nids};
            /* softmax: one of the example's labels, drawn as fastText does */
            int target = lab[nlab > 1 ? loom_rng_below(&rng, (uint32_t)nlab) : 0];
            loom_bag_mean_forward(hidden, ids, offsets, E, 1, D);
            if (m->out_rows) {
                /* ns, hs: the chosen rows' scores against 1/0 targets */
                int n_sel = choose_rows(m, c->noise, target, c->o->neg, &rng, sel, y);
                c->loss_sum[t] += binary_step(m->out_rows->value, sel, y, n_sel, hidden, D, lr,
                                              rows, drows, scores, dscores, dh);
            } else {
                loom_dense_forward(logits, hidden, m->out_w->value, NULL, 1, D, L);
                c->loss_sum[t] +=
                    loom_cls_loss_step(m, logits, &target, &lab, &nlab, 1, work, dlogits, 1.0f);
                /* forward was logits = hidden W */
                memset(dh, 0, (size_t)D * sizeof *dh);
                memset(dW, 0, (size_t)D * L * sizeof *dW);
                loom_dense_backward(dh, dW, NULL, dlogits, hidden, m->out_w->value, 1, D, L);
                loom_axpy((size_t)D * L, -lr, dW, m->out_w->value);
            }
            c->loss_n[t]++;
            /* hidden = mean of E's rows */
            if (tune) {
                loom_scal((size_t)D, -lr, dh);
                loom_bag_mean_backward(E, dh, ids, offsets, 1, D);
            }
            if (local > (unsigned long long)c->o->lr_update_rate) {
                double now = (double)atomic_fetch_add(&c->tokens, local) + (double)local;
                local = 0;
                if (t == 0 && loom_progress_due(c->progress)) {
                    char detail[96];
                    snprintf(detail, sizeof detail, "loss %.4f  lr %.5f  epoch %d/%d",
                             c->loss_sum[0] / (double)(c->loss_n[0] ? c->loss_n[0] : 1), lr,
                             epoch + 1, c->o->epochs);
                    loom_progress_update(c->progress, now, detail);
                }
            }
        }
    }
    atomic_fetch_add(&c->tokens, local);
    free(buf), free(order), free(sel);
    return 0;
}

static int train_bag(loom_classifier *m, const loom_cls_data *d, const loom_cls_train_opts *o,
                     loom_progress *progress, loom_cls_train_stats *st)
{
    int T = o->threads < 1 ? 1 : o->threads;
    if ((size_t)T > d->n)
        T = d->n ? (int)d->n : 1;
    loom_noise noise = {0};
    if (m->cfg.loss == LOOM_CLS_NS) { /* fastText's label negatives: count^0.5 */
        int L = loom_cls_labels(m);
        uint64_t *counts = loom_malloc((size_t)L, sizeof *counts);
        if (!counts)
            return LOOM_ENOMEM;
        for (int i = 0; i < L; i++)
            counts[i] = loom_vocab_count(m->dict->labels, i);
        int rc = loom_noise_build(&noise, counts, (size_t)L, 0.5);
        free(counts);
        if (rc)
            return rc;
    }
    bag_ctx c = {.m = m, .data = d, .o = o, .progress = progress, .noise = &noise};
    atomic_init(&c.tokens, 0);
    c.total = (double)o->epochs * (double)d->ntokens;
    c.loss_sum = loom_calloc((size_t)T, sizeof *c.loss_sum);
    c.loss_n = loom_calloc((size_t)T, sizeof *c.loss_n);
    if (!c.loss_sum || !c.loss_n) {
        free(c.loss_sum), free(c.loss_n);
        loom_noise_free(&noise);
        return LOOM_ENOMEM;
    }
    loom_progress_set_total(progress, c.total);
    int blas = loom_blas_threads();
    loom_blas_set_threads(1); /* the Hogwild threads are the parallelism */
    int rc = loom_parallel_run(T, bag_share, &c);
    loom_blas_set_threads(blas);
    double sum = 0;
    uint64_t n = 0;
    for (int t = 0; t < T; t++)
        sum += c.loss_sum[t], n += c.loss_n[t];
    st->loss = n ? sum / (double)n : 0;
    st->examples = (uint64_t)o->epochs * d->n;
    st->epochs_run = o->epochs;
    free(c.loss_sum), free(c.loss_n);
    loom_noise_free(&noise);
    return rc;
}

/* ------------------------------------------------------------------- cnn */

/* P@1 on `d`, for early stopping. */
static int valid_score(const loom_classifier *m, const loom_cls_data *d, double *out)
{
    loom_cls_meter mt;
    int rc = loom_cls_test(m, d, 1, 0.0f, &mt);
    if (rc)
        return rc;
    *out = mt.predicted ? (double)mt.correct / (double)mt.predicted : 0;
    loom_cls_meter_free(&mt);
    return 0;
}

typedef struct {
    int32_t *ids;
    int *start, *lens, *targets;
    const int32_t **seqs, **labs;
    size_t *nlabs;
    float *logits, *work, *dlogits;
} cnn_batch;

/* Packs examples order[0..B) into a batch (loom_cls_cnn_pack); returns
 * its rows. Examples longer than Tmax are cut. */
static int fill_batch(cnn_batch *bt, const loom_classifier *m, const loom_cls_data *d,
                      const size_t *order, int B, int Tmax, loom_rng *rng)
{
    for (int b = 0; b < B; b++) {
        size_t i = order[b], n = d->id_off[i + 1] - d->id_off[i];
        size_t nlab = d->lab_off[i + 1] - d->lab_off[i];
        bt->seqs[b] = d->ids + d->id_off[i];
        bt->lens[b] = n > (size_t)Tmax ? Tmax : (int)n;
        bt->labs[b] = d->lab + d->lab_off[i];
        bt->nlabs[b] = nlab;
        bt->targets[b] = bt->labs[b][nlab > 1 ? loom_rng_below(rng, (uint32_t)nlab) : 0];
    }
    return loom_cls_cnn_pack(m, bt->ids, bt->start, bt->seqs, bt->lens, B);
}

static int train_cnn(loom_classifier *m, const loom_cls_data *d, const loom_cls_data *valid,
                     const loom_cls_train_opts *o, loom_progress *progress,
                     loom_cls_train_stats *st)
{
    enum { TMAX = 1024 }; /* longer examples are cut (sentences, not books) */
    int B = o->batch < 1 ? 1 : o->batch, L = loom_cls_labels(m);
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) /* examples with words and labels */
        n += d->id_off[i + 1] > d->id_off[i] && d->lab_off[i + 1] > d->lab_off[i];
    if (n == 0)
        return loom_error(LOOM_EINVAL, "no example with both words and a label");
    loom_optim_config oc = loom_optim_defaults(LOOM_ADAM);
    oc.lr = (float)o->lr;
    loom_optim *opt = NULL;
    loom_cls_cnn_work *w = NULL;
    cnn_batch bt = {0};
    size_t nvals;
    float *vals = loom_params_values(m->params, &nvals), *best = NULL;
    size_t *order = loom_malloc(n, sizeof *order);
    bt.ids = loom_malloc((size_t)B * TMAX, sizeof *bt.ids);
    bt.start = loom_malloc((size_t)B, sizeof *bt.start);
    bt.lens = loom_malloc((size_t)B, sizeof *bt.lens);
    bt.seqs = loom_malloc((size_t)B, sizeof *bt.seqs);
    bt.targets = loom_malloc((size_t)B, sizeof *bt.targets);
    bt.labs = loom_malloc((size_t)B, sizeof *bt.labs);
    bt.nlabs = loom_malloc((size_t)B, sizeof *bt.nlabs);
    bt.logits = loom_malloc((size_t)B * L, sizeof(float));
    bt.work = loom_malloc((size_t)B * L, sizeof(float));
    bt.dlogits = loom_malloc((size_t)B * L, sizeof(float));
    if (valid)
        best = loom_malloc(nvals, sizeof *best);
    int rc = order && bt.ids && bt.start && bt.lens && bt.seqs && bt.targets && bt.labs &&
                     bt.nlabs && bt.logits && bt.work && bt.dlogits && (!valid || best)
                 ? 0
                 : LOOM_ENOMEM;
    rc = rc ? rc : loom_optim_new(&opt, m->params, &oc);
    rc = rc ? rc : loom_cls_cnn_work_new(&w, m);
    for (size_t i = 0, k = 0; !rc && i < d->n; i++)
        if (d->id_off[i + 1] > d->id_off[i] && d->lab_off[i + 1] > d->lab_off[i])
            order[k++] = i;
    loom_rng rng;
    loom_rng_seed(&rng, o->seed, 1);
    int blas = loom_blas_threads();
    loom_blas_set_threads(o->threads < 1 ? 1 : o->threads);
    size_t steps_per_epoch = (n + (size_t)B - 1) / (size_t)B;
    loom_progress_set_total(progress, (double)o->epochs * (double)n);
    st->best_epoch = 0;
    st->best_valid = -1;
    int since_best = 0;
    for (int epoch = 0; !rc && epoch < o->epochs; epoch++) {
        for (size_t i = n; i > 1; i--) {
            size_t j = loom_rng_below(&rng, (uint32_t)i), x = order[i - 1];
            order[i - 1] = order[j], order[j] = x;
        }
        double loss = 0;
        for (size_t s = 0; !rc && s < steps_per_epoch; s++) {
            size_t lo = s * (size_t)B;
            int b = (int)(n - lo < (size_t)B ? n - lo : (size_t)B);
            int N = fill_batch(&bt, m, d, order + lo, b, TMAX, &rng);
            loom_params_zero_grad(m->params);
            rc = loom_cls_cnn_forward(m, w, bt.ids, bt.start, bt.lens, b, N, bt.logits, &rng);
            if (rc)
                break;
            /* the mean loss over the batch, as PyTorch's cross_entropy */
            loss += loom_cls_loss_step(m, bt.logits, bt.targets, bt.labs, bt.nlabs, b, bt.work,
                                       bt.dlogits, 1.0f / (float)b);
            loom_cls_cnn_backward(m, w, bt.dlogits);
            rc = loom_optim_step(opt, -1.0f);
            double done = (double)epoch * (double)n + (double)(lo + (size_t)b);
            if (!rc && loom_progress_due(progress)) {
                char detail[96];
                snprintf(detail, sizeof detail, "loss %.4f  epoch %d/%d", loss / (double)(lo + b),
                         epoch + 1, o->epochs);
                loom_progress_update(progress, done, detail);
            }
        }
        if (rc)
            break;
        st->loss = loss / (double)n;
        st->epochs_run = epoch + 1;
        if (!valid)
            continue;
        double score;
        if ((rc = valid_score(m, valid, &score)))
            break;
        int better = score > st->best_valid;
        loom_progress_note(progress, "epoch %d: training loss %.4f, validation P@1 %.4f%s",
                           epoch + 1, st->loss, score, better ? " (best)" : "");
        if (better) {
            st->best_valid = score;
            st->best_epoch = epoch + 1;
            memcpy(best, vals, nvals * sizeof *best);
            since_best = 0;
        } else if (o->patience > 0 && ++since_best >= o->patience) {
            break;
        }
    }
    if (!rc && valid && st->best_epoch > 0)
        memcpy(vals, best, nvals * sizeof *best); /* keep the best epoch's weights */
    loom_blas_set_threads(blas);
    st->examples = (uint64_t)st->epochs_run * n;
    loom_optim_free(opt);
    loom_cls_cnn_work_free(w);
    free(order), free(best), free(bt.ids), free(bt.start), free(bt.lens), free(bt.seqs);
    free(bt.targets), free(bt.labs);
    free(bt.nlabs), free(bt.logits), free(bt.work), free(bt.dlogits);
    return rc;
}

int loom_cls_train(loom_classifier *m, const loom_cls_data *train, const loom_cls_data *valid,
                   const loom_cls_train_opts *o, loom_progress *progress,
                   loom_cls_train_stats *stats)
{
    if (o->epochs < 1 || !(o->lr > 0))
        return loom_error(LOOM_EINVAL, "epochs must be >= 1 and lr > 0");
    loom_cls_train_stats st = {0};
    double t0 = loom_now();
    int rc = m->cfg.arch == LOOM_CLS_BAG ? train_bag(m, train, o, progress, &st)
                                         : train_cnn(m, train, valid, o, progress, &st);
    st.seconds = loom_now() - t0;
    if (stats)
        *stats = st;
    return rc;
}

/* loom: the convolutional classifier's forward and backward passes (Kim
 * 2014) on a batch of sentences packed one after another (no padding to
 * the longest): embeddings (one or two channels) -> conv1d per width
 * (valid) and max-pool over each sentence's windows (one core layer,
 * core/convpool.h) -> ReLU -> dropout -> dense -> logits. One core call
 * per layer; the copies between them only place columns (channels side by
 * side, widths side by side). */
#ifndef LOOM_CLASSIFY_CNN_H
#define LOOM_CLASSIFY_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

struct loom_classifier;
typedef struct loom_cls_cnn_work loom_cls_cnn_work;

int loom_cls_cnn_work_new(loom_cls_cnn_work **out, const struct loom_classifier *m);
void loom_cls_cnn_work_free(loom_cls_cnn_work *w); /* accepts NULL */

/* The widest convolution: every sentence of a batch takes at least this
 * many rows, so that it has a window of every width. */
int loom_cls_cnn_min_rows(const struct loom_classifier *m);

/* Lays out B sentences (sentence b: lens[b] ids at seqs[b]) packed one
 * after another: ids gets each sentence's ids, then -1 (a zero embedding)
 * up to loom_cls_cnn_min_rows; start[b] is its first row. Returns the rows
 * N; ids must have room for sum of max(lens[b], min_rows). */
int loom_cls_cnn_pack(const struct loom_classifier *m, int32_t *ids, int *start,
                      const int32_t *const *seqs, const int *lens, int B);

/* The features (before the output layer, after ReLU; no dropout) of one
 * example of n ids: out (filters * widths). */
int loom_cls_cnn_features(const struct loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                          size_t n, float *out);

/* Forward over a packed batch (loom_cls_cnn_pack: ids (N), start and lens
 * (B)) -> logits (B, labels). With rng (training) dropout is applied;
 * NULL evaluates. Keeps what backward needs in w. */
int loom_cls_cnn_forward(const struct loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                         const int *start, const int *lens, int B, int N, float *logits,
                         loom_rng *rng);
/* Accumulates every trainable parameter's gradient (m->params' grad
 * buffers) from dlogits (B, labels), after loom_cls_cnn_forward on the
 * same batch. */
void loom_cls_cnn_backward(const struct loom_classifier *m, loom_cls_cnn_work *w,
                           const float *dlogits);

#endif

/* loom: the convolutional classifier's forward and backward passes (Kim
 * 2014) on a padded batch: embeddings (one or two channels) -> conv1d per
 * width (valid) -> max-pool over each sentence's steps -> ReLU -> dropout
 * -> dense -> logits. One core call per layer; the copies between them
 * only place columns (channels side by side, widths side by side). */
#ifndef LOOM_CLASSIFY_CNN_H
#define LOOM_CLASSIFY_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

struct loom_classifier;
typedef struct loom_cls_cnn_work loom_cls_cnn_work;

int loom_cls_cnn_work_new(loom_cls_cnn_work **out, const struct loom_classifier *m);
void loom_cls_cnn_work_free(loom_cls_cnn_work *w); /* accepts NULL */

/* The features (before the output layer, after ReLU; no dropout) of one
 * example of n ids: out (filters * widths). */
int loom_cls_cnn_features(const struct loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                          size_t n, float *out);

/* Forward over a batch: ids (B, T) row-major, -1 past each sentence's
 * length lens[b] (T at least the widest filter). logits (B, labels).
 * With rng (training) dropout is applied; NULL evaluates. Keeps what
 * backward needs in w. */
int loom_cls_cnn_forward(const struct loom_classifier *m, loom_cls_cnn_work *w, const int32_t *ids,
                         const int *lens, int B, int T, float *logits, loom_rng *rng);
/* Accumulates every trainable parameter's gradient (m->params' grad
 * buffers) from dlogits (B, labels), after loom_cls_cnn_forward on the
 * same batch. */
void loom_cls_cnn_backward(const struct loom_classifier *m, loom_cls_cnn_work *w,
                           const float *dlogits);

#endif

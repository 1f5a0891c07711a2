/* loom: training classifiers. `bag` as fastText's supervised mode: SGD one
 * example at a time, Hogwild threads (each on its own share of the
 * examples, all writing the same weights without locks), the learning
 * rate falling linearly to zero over all epochs' tokens. `cnn` with
 * mini-batches and Adam, the best epoch on the validation data kept
 * (early stopping). Reports numbers to a progress line; never prints. */
#ifndef LOOM_CLASSIFY_TRAIN_H
#define LOOM_CLASSIFY_TRAIN_H

#include <stdint.h>

#include "base/progress.h"
#include "classify/data.h"
#include "classify/model.h"

typedef struct {
    double lr;   /* bag: 0.1 (fastText); cnn: 1e-3 (Adam) */
    int epochs;  /* bag: 5 (fastText); cnn: 10 */
    int threads; /* bag: Hogwild threads; cnn: BLAS threads */
    uint64_t seed;
    int batch;    /* cnn: sentences per step (Kim: 50) */
    int patience; /* cnn with validation data: epochs without a better score before stopping (0:
                     never) */
    int neg;      /* bag with ns: negatives per example (fastText: 5) */
    int lr_update_rate; /* bag: tokens a thread counts before adding them to the shared count
                           (fastText: 100) */
} loom_cls_train_opts;

void loom_cls_train_opts_default(loom_cls_train_opts *o, loom_cls_arch arch);

typedef struct {
    double loss;       /* mean training loss of the last epoch */
    double seconds;    /* wall time of training */
    uint64_t examples; /* examples seen (all epochs) */
    int epochs_run;    /* cnn: may stop early */
    int best_epoch;    /* cnn with validation data: the epoch kept (1-based) */
    double best_valid; /* its validation P@1 */
} loom_cls_train_stats;

/* Trains m (already initialised) on `train`; `valid` (may be NULL) is
 * used by cnn for early stopping. */
int loom_cls_train(loom_classifier *m, const loom_cls_data *train, const loom_cls_data *valid,
                   const loom_cls_train_opts *o, loom_progress *progress,
                   loom_cls_train_stats *stats);

/* Loss and its gradient for a batch of B logit rows: softmax cross-entropy
 * against one target per row, or one sigmoid per label (ova) against the
 * row's label set (labels of row b: lab[lab_off[b] .. lab_off[b+1])).
 * dlogits (B, L) is overwritten with d(sum of the rows' losses) * scale. */
double loom_cls_loss_step(const loom_classifier *m, const float *logits, const int *targets,
                          const int32_t *const *labs, const size_t *nlabs, int B, float *work,
                          float *dlogits, float scale);

#endif

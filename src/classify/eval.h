/* loom: testing classifiers as fastText does: for each example with at
 * least one label, the k best labels with probability >= threshold are
 * predicted; precision is true predictions over predictions, recall true
 * predictions over gold labels, overall and per label. */
#ifndef LOOM_CLASSIFY_EVAL_H
#define LOOM_CLASSIFY_EVAL_H

#include <stdint.h>

#include "classify/data.h"
#include "classify/model.h"

typedef struct {
    uint64_t examples;
    uint64_t gold, predicted, correct; /* over all labels */
    int nlabels;
    uint64_t *label_gold, *label_predicted, *label_correct; /* per label (nlabels) */
} loom_cls_meter;

/* Fills a meter (its arrays malloc'd; loom_cls_meter_free). */
int loom_cls_test(const loom_classifier *m, const loom_cls_data *d, int k, float threshold,
                  loom_cls_meter *out);
void loom_cls_meter_free(loom_cls_meter *mt);

/* Precision and recall (NaN when undefined), and F1; label < 0: overall. */
double loom_cls_precision(const loom_cls_meter *mt, int label);
double loom_cls_recall(const loom_cls_meter *mt, int label);
double loom_cls_f1(const loom_cls_meter *mt, int label);

#endif

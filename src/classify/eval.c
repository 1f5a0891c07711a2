/* loom: testing classifiers (see eval.h), counting as fastText's Meter. */
#include "config.h"
#include "classify/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

void loom_cls_meter_free(loom_cls_meter *mt)
{
    if (!mt)
        return;
    free(mt->label_gold), free(mt->label_predicted), free(mt->label_correct);
    memset(mt, 0, sizeof *mt);
}

int loom_cls_test(const loom_classifier *m, const loom_cls_data *d, int k, float threshold,
                  loom_cls_meter *out)
{
    int L = loom_cls_labels(m);
    loom_cls_meter mt = {.nlabels = L};
    loom_cls_work *w = NULL;
    float *probs = loom_malloc((size_t)L, sizeof *probs), *p = loom_malloc((size_t)L, sizeof *p);
    int *top = loom_malloc((size_t)L, sizeof *top);
    mt.label_gold = loom_calloc((size_t)L, sizeof(uint64_t));
    mt.label_predicted = loom_calloc((size_t)L, sizeof(uint64_t));
    mt.label_correct = loom_calloc((size_t)L, sizeof(uint64_t));
    int rc = probs && p && top && mt.label_gold && mt.label_predicted && mt.label_correct
                 ? loom_cls_work_new(&w, m)
                 : LOOM_ENOMEM;
    for (size_t i = 0; !rc && i < d->n; i++) {
        const int32_t *lab = d->lab + d->lab_off[i];
        size_t nlab = d->lab_off[i + 1] - d->lab_off[i], nids = d->id_off[i + 1] - d->id_off[i];
        if (nlab == 0 || nids == 0)
            continue;
        if ((rc = loom_cls_predict(m, w, d->ids + d->id_off[i], nids, probs)))
            break;
        int got = loom_cls_top_k(probs, L, k, threshold, top, p);
        mt.examples++;
        mt.gold += nlab;
        mt.predicted += (uint64_t)got;
        for (size_t j = 0; j < nlab; j++)
            mt.label_gold[lab[j]]++;
        for (int j = 0; j < got; j++) {
            mt.label_predicted[top[j]]++;
            for (size_t g = 0; g < nlab; g++)
                if (lab[g] == top[j]) {
                    mt.correct++;
                    mt.label_correct[top[j]]++;
                    break;
                }
        }
    }
    free(probs), free(p), free(top);
    loom_cls_work_free(w);
    if (rc) {
        loom_cls_meter_free(&mt);
        return rc;
    }
    *out = mt;
    return 0;
}

double loom_cls_precision(const loom_cls_meter *mt, int label)
{
    uint64_t c = label < 0 ? mt->correct : mt->label_correct[label];
    uint64_t n = label < 0 ? mt->predicted : mt->label_predicted[label];
    return n ? (double)c / (double)n : NAN;
}

double loom_cls_recall(const loom_cls_meter *mt, int label)
{
    uint64_t c = label < 0 ? mt->correct : mt->label_correct[label];
    uint64_t n = label < 0 ? mt->gold : mt->label_gold[label];
    return n ? (double)c / (double)n : NAN;
}

double loom_cls_f1(const loom_cls_meter *mt, int label)
{
    double p = loom_cls_precision(mt, label), r = loom_cls_recall(mt, label);
    return p + r != 0 ? 2 * p * r / (p + r) : NAN;
}

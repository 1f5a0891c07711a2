/* loom: text classifiers as lists of core layers. `bag` is fastText's
 * supervised model: the mean of the word (and n-gram) rows -> dense (no
 * bias) -> softmax or one sigmoid per label. `cnn` is Kim (2014):
 * embeddings -> conv1d of several widths -> max-pool over time -> ReLU ->
 * dropout -> dense -> softmax. This file holds the parameters, the
 * forward pass for prediction and the model file; training is in
 * train.h. Knows ids and labels through the dictionary, no file format
 * of the data. */
#ifndef LOOM_CLASSIFY_MODEL_H
#define LOOM_CLASSIFY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "classify/data.h"
#include "core/param.h"
#include "embed/huffman.h"

#define LOOM_CLS_FORMAT "loom-classifier"
#define LOOM_CLS_FORMAT_VERSION "1"
#define LOOM_CLS_MAX_WIDTHS 8

typedef enum { LOOM_CLS_BAG = 0, LOOM_CLS_CNN = 1 } loom_cls_arch;
/* softmax: one label per example (fastText draws one of several);
 * ova: an independent sigmoid per label (multi-label);
 * ns: negative sampling, as fastText's: the drawn label's sigmoid against
 *     that of a few labels drawn by count^0.5, O(neg) per example; predicts
 *     one sigmoid per label;
 * hs: hierarchical softmax, as fastText's: a sigmoid at each inner node of
 *     the Huffman tree of the label counts on the label's path, O(log L)
 *     per example; a label's probability is the product along its path.
 * (bag only for ns and hs; the names are those of fastText's -loss.) */
typedef enum {
    LOOM_CLS_SOFTMAX = 0,
    LOOM_CLS_OVA = 1,
    LOOM_CLS_NS = 2,
    LOOM_CLS_HS = 3
} loom_cls_loss;

/* The loss's name ("softmax", "ova", "ns", "hs"), as the model file and
 * the command line spell it; NULL-terminated list in enum order. */
extern const char *const loom_cls_loss_names[];

typedef struct {
    loom_cls_arch arch;
    loom_cls_loss loss;
    int dim; /* embedding width */
    /* cnn only */
    int nwidths;
    int widths[LOOM_CLS_MAX_WIDTHS]; /* convolution widths, e.g. 3 4 5 */
    int filters;                     /* per width */
    float dropout;                   /* before the output layer, training only */
    int channels;                    /* 1, or 2: a frozen and a tuned copy of the embeddings */
} loom_cls_config;

/* fastText's bag (dim 100, softmax) or Kim's CNN (dim 100 unless vectors
 * say otherwise, widths 3 4 5, 100 filters each, dropout 0.5, 1 channel). */
void loom_cls_config_default(loom_cls_config *c, loom_cls_arch arch);

typedef struct loom_classifier {
    loom_cls_config cfg;
    loom_cls_dict *dict; /* owned */
    loom_params *params;
    loom_param *emb;                         /* (rows, dim): words, then n-gram buckets */
    loom_param *emb_static;                  /* cnn with 2 channels: the frozen copy */
    loom_param *conv_k[LOOM_CLS_MAX_WIDTHS]; /* cnn: (width, channels * dim, filters) */
    loom_param *conv_b[LOOM_CLS_MAX_WIDTHS]; /* cnn: (filters) */
    loom_param *out_w;                       /* softmax, ova: (features, labels) */
    loom_param *out_b;                       /* cnn: (labels); bag: none, as fastText */
    /* ns: one row per label, hs: one per inner node of the tree (labels -
     * 1, at least 1), (rows, features); fastText's output matrix */
    loom_param *out_rows;
    loom_huffman tree; /* hs: each label's path, from the label counts */
    float *codes;      /* hs: tree.codes as 0/1 floats, the sigmoid loss's targets */
} loom_classifier;

/* A model for `dict` (taken over: freed with the model, also on failure),
 * weights zero until loom_classifier_init. */
int loom_classifier_new(loom_classifier **out, const loom_cls_config *cfg, loom_cls_dict *dict);
void loom_classifier_free(loom_classifier *m); /* accepts NULL */
/* Random weights: bag as fastText (input rows U(-1/dim, 1/dim), output
 * zero); cnn as PyTorch's defaults (embeddings N(0, 1), conv and dense
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in))). */
void loom_classifier_init(loom_classifier *m, uint64_t seed);
int loom_cls_labels(const loom_classifier *m);
/* Width of the layer before the output (dim for bag, filters * widths for cnn). */
int loom_cls_features(const loom_classifier *m);

/* Transfer learning: how much of the dictionary a vector file covers. */
typedef struct {
    size_t words, found;           /* dictionary words (the end-of-line word excluded) */
    uint64_t tokens, tokens_found; /* their training counts */
    double sd;                     /* standard deviation of the file's values */
} loom_cls_coverage;

/* Copies the vector of each dictionary word found in `path` (any format
 * loom reads) into its embedding row (both channels). For cnn the other
 * word rows are drawn N(0, sd^2) with sd the file's, so every row has one
 * scale (Kim's "variance matched" random rows); for bag they keep
 * fastText's initialisation, as fastText's -pretrainedVectors does. A
 * dimension other than cfg.dim is LOOM_EINVAL naming the file. */
int loom_cls_init_vectors(loom_classifier *m, const char *path, uint64_t seed,
                          loom_cls_coverage *cov);
/* The dimension of a vector file (reads its first record only). */
int loom_cls_vectors_dim(const char *path, int *dim);

/* Saving: the parameters plus, in __metadata__, the format, the
 * configuration, the dictionary (words and labels with counts, n-gram
 * settings, tokenizer options) and `extra` (NULL-terminated key, value
 * pairs, e.g. training options; may be NULL). Atomic. */
int loom_classifier_save(const loom_classifier *m, const char *path, const char *const *extra);
/* Loading checks the format and every size before allocating; another
 * kind of file is LOOM_EFORMAT naming it. */
int loom_classifier_load(loom_classifier **out, const char *path);
/* 1 when `path` is a safetensors file whose format is loom-classifier. */
int loom_cls_is_model_file(const char *path);
/* A human-readable description (malloc'd) of a classifier file. */
int loom_cls_describe(char **out, const char *path);

/* Prediction workspace, one per thread. */
typedef struct loom_cls_work loom_cls_work;
int loom_cls_work_new(loom_cls_work **out, const loom_classifier *m);
void loom_cls_work_free(loom_cls_work *w); /* accepts NULL */

/* Label probabilities (labels) of one encoded example (ids from the
 * dictionary's encoder): softmax; one sigmoid per label for ova and ns;
 * the product of the sigmoids on the label's path for hs. */
int loom_cls_predict(const loom_classifier *m, loom_cls_work *w, const int32_t *ids, size_t n,
                     float *probs);

/* The k most probable labels with probability >= threshold, best first
 * (fewer when fewer pass); returns how many. k <= 0 means all labels. */
int loom_cls_top_k(const float *probs, int nlabels, int k, float threshold, int *labels, float *p);

#endif

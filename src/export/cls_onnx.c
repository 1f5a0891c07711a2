/* loom: a classifier as one ONNX graph (see cls_onnx.h), layer by layer
 * as loom_cls_predict computes it:
 *  - the rows of the ids, zeroed past each example's length (a padded
 *    position is loom's zero row, id -1);
 *  - bag: their sum over the example divided by its length;
 *  - cnn: the channels side by side, zero rows added at the end so that
 *    every example has a window of each width (loom packs an example to
 *    at least the widest convolution), ONNX's Conv (loom's kernel (w, C,
 *    F) as (F, C, w)), the windows from max(len, w) - w + 1 on masked out,
 *    max over time, ReLU;
 *  - the output layer and its probabilities. */
#include "config.h"
#include "export/cls_onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "classify/cnn.h"
#include "export/onnx_graph.h"
#include "export/outdir.h"

/* protobuf refuses messages of 2 GB and more: the weights must stay below. */
#define MAX_WEIGHT_BYTES ((size_t)2000 << 20)

static size_t weight_bytes(const loom_classifier *m)
{
    return loom_params_numel(m->params, 0) * sizeof(float);
}

int loom_export_cls_check(const loom_classifier *m, const char *model_path)
{
    if (m->dict->fmt.tok.chars)
        return loom_error(LOOM_EINVAL,
                          "%s: option chars (characters as tokens) cannot be exported: "
                          "loom-onnx.js has no grapheme-cluster tokenizer",
                          model_path);
    size_t bytes = weight_bytes(m);
    if (bytes >= MAX_WEIGHT_BYTES)
        return loom_error(LOOM_EINVAL,
                          "%s: options dim=%d and bucket=%ld give %zu MB of weights: one ONNX "
                          "file holds less than 2,000 MB (train with a smaller --bucket or --dim)",
                          model_path, m->cfg.dim, m->dict->fmt.bucket, bytes >> 20);
    return 0;
}

static const char *as_is(og *g, const loom_param *p)
{
    int64_t dims[3];
    for (int i = 0; i < p->ndim && i < 3; i++)
        dims[i] = p->shape[i];
    return og_init_f32(g, p->name, dims, p->ndim, p->value, 0);
}

/* mask[b, t] = t < lens[b] as float (B, T). */
static const char *length_mask(og *g, const char *lens, const char *ids)
{
    int64_t zero = 0, one = 1;
    const char *T =
        og_op(g, "Gather", 2, og_op(g, "Shape", 1, ids), og_init_i64(g, NULL, NULL, 0, &one));
    const char *pos = og_op(g, "Range", 3, og_init_i64(g, NULL, NULL, 0, &zero), T,
                            og_init_i64(g, NULL, NULL, 0, &one));
    return og_op_i(g, "Cast", "to", OG_FLOAT, 1,
                   og_op(g, "Less", 2, pos, og_op(g, "Unsqueeze", 2, lens, og_ints(g, 1, 1))));
}

/* The rows of ids in table p, zero past each length: (B, T, D). */
static const char *rows(og *g, const loom_param *p, const char *mask3)
{
    return og_op(g, "Mul", 2, og_op(g, "Gather", 2, as_is(g, p), "ids"), mask3);
}

static const char *bag_features(og *g, const loom_classifier *m, const char *mask3)
{
    float one = 1.0f;
    const char *sum =
        og_op(g, "ReduceSum", 2, rows(g, m->emb, mask3), og_ints(g, 1, 1)); /* keepdims */
    const char *n = og_op(g, "Max", 2, og_op_i(g, "Cast", "to", OG_FLOAT, 1, "lens"),
                          og_init_f32(g, NULL, NULL, 0, &one, 1));
    return og_op(g, "Div", 2, og_op(g, "Squeeze", 2, sum, og_ints(g, 1, 1)),
                 og_op(g, "Unsqueeze", 2, n, og_ints(g, 1, 1)));
}

static const char *cnn_features(og *g, const loom_classifier *m, const char *mask3)
{
    const loom_cls_config *c = &m->cfg;
    int W = loom_cls_cnn_min_rows(m), C = c->dim * c->channels, F = c->filters;
    const char *x = rows(g, m->emb, mask3);
    if (c->channels == 2)
        x = og_op_i(g, "Concat", "axis", 2, 2, x, rows(g, m->emb_static, mask3));
    /* (B, C, T + W): W zero rows at the end */
    static const int64_t bct[3] = {0, 2, 1};
    og_node *t = og_node_new(g, "Transpose", &x, 1, 1);
    og_attr_ints(g, t, "perm", bct, 3);
    x = og_op(g, "Pad", 2, og_out(t, 0), og_ints(g, 6, 0, 0, 0, 0, 0, W));
    int64_t zero = 0, one = 1;
    const char *feats[LOOM_CLS_MAX_WIDTHS];
    float neg = -3.0e38f;
    for (int i = 0; i < c->nwidths; i++) {
        int w = c->widths[i];
        /* loom's (w, C, F) as ONNX's (F, C, w) */
        float *k = loom_malloc((size_t)F * C * w, sizeof *k);
        if (!k)
            return NULL;
        const float *K = m->conv_k[i]->value;
        for (int f = 0; f < F; f++)
            for (int ch = 0; ch < C; ch++)
                for (int j = 0; j < w; j++)
                    k[((size_t)f * C + ch) * w + j] = K[((size_t)j * C + ch) * F + f];
        char name[64];
        snprintf(name, sizeof name, "conv%d.weight", i);
        int64_t kd[3] = {F, C, w};
        const char *kw = og_init_f32(g, name, kd, 3, k, 1);
        free(k);
        const char *y = og_op(g, "Conv", 3, x, kw, as_is(g, m->conv_b[i])); /* (B, F, Tw) */
        /* windows of an example: max(len, w) - w + 1 (core/convpool.c) */
        int64_t two = 2, w64 = w, w1 = w - 1;
        const char *eff = og_op(g, "Max", 2, "lens", og_init_i64(g, NULL, NULL, 0, &w64));
        const char *Tw =
            og_op(g, "Gather", 2, og_op(g, "Shape", 1, y), og_init_i64(g, NULL, NULL, 0, &two));
        const char *pos = og_op(g, "Range", 3, og_init_i64(g, NULL, NULL, 0, &zero), Tw,
                                og_init_i64(g, NULL, NULL, 0, &one));
        const char *limit = og_op(g, "Sub", 2, eff, og_init_i64(g, NULL, NULL, 0, &w1));
        const char *valid =
            og_op(g, "Unsqueeze", 2,
                  og_op(g, "Less", 2, pos, og_op(g, "Unsqueeze", 2, limit, og_ints(g, 1, 1))),
                  og_ints(g, 1, 1)); /* (B, 1, Tw) */
        y = og_op(g, "Where", 3, valid, y, og_init_f32(g, NULL, NULL, 0, &neg, 1));
        og_node *mx = og_node_new(g, "ReduceMax", &y, 1, 1);
        og_attr_ints(g, mx, "axes", (const int64_t[]){2}, 1);
        og_attr_int(g, mx, "keepdims", 0);
        feats[i] = og_out(mx, 0);
    }
    og_node *cat = og_node_new(g, "Concat", feats, c->nwidths, 1);
    og_attr_int(g, cat, "axis", 1);
    return og_op(g, "Relu", 1, og_out(cat, 0));
}

/* hs: p(label) = prod over its path of s(x) (code 1) or s(-x) (code 0),
 * x the inner node's score: exp(-sum softplus(-sign x)) over the path,
 * paths padded to the longest (padding masked out). */
static const char *hs_probs(og *g, const loom_classifier *m, const char *scores)
{
    const loom_huffman *h = &m->tree;
    int L = loom_cls_labels(m), P = (int)(h->max_len ? h->max_len : 1);
    int64_t *idx = loom_malloc((size_t)L * P, sizeof *idx);
    float *sign = loom_malloc((size_t)L * P, sizeof *sign);
    float *on = loom_malloc((size_t)L * P, sizeof *on);
    const char *r = NULL;
    if (idx && sign && on) {
        for (int l = 0; l < L; l++)
            for (int j = 0; j < P; j++) {
                size_t at = h->offset[l] + (size_t)j, k = (size_t)l * P + j;
                int in = at < h->offset[l + 1];
                idx[k] = in ? h->points[at] : 0;
                sign[k] = in ? (h->codes[at] ? -1.0f : 1.0f) : 0.0f; /* -sign */
                on[k] = in ? 1.0f : 0.0f;
            }
        int64_t dims[2] = {L, P};
        const char *x = og_op_i(g, "Gather", "axis", 1, 2, scores,
                                og_init_i64(g, "hs.points", dims, 2, idx)); /* (B, L, P) */
        const char *sp = og_op(g, "Softplus", 1,
                               og_op(g, "Mul", 2, x, og_init_f32(g, "hs.sign", dims, 2, sign, 1)));
        sp = og_op(g, "Mul", 2, sp, og_init_f32(g, "hs.on", dims, 2, on, 1));
        og_node *s = og_node_new(g, "ReduceSum", (const char *[]){sp, og_ints(g, 1, 2)}, 2, 1);
        og_attr_int(g, s, "keepdims", 0);
        r = og_op(g, "Exp", 1, og_op(g, "Neg", 1, og_out(s, 0)));
    }
    free(idx), free(sign), free(on);
    return r;
}

static void build(og *g, const loom_classifier *m)
{
    const loom_cls_config *c = &m->cfg;
    char shape[64];
    og_input(g, "ids", OG_INT64, "batch,len");
    og_input(g, "lens", OG_INT64, "batch");
    const char *mask3 = og_op(g, "Unsqueeze", 2, length_mask(g, "lens", "ids"), og_ints(g, 1, 2));
    const char *feat =
        c->arch == LOOM_CLS_BAG ? bag_features(g, m, mask3) : cnn_features(g, m, mask3);
    if (!feat)
        return;
    const char *probs = NULL;
    if (c->loss == LOOM_CLS_NS || c->loss == LOOM_CLS_HS) {
        og_node *n = og_node_new(g, "Gemm", (const char *[]){feat, as_is(g, m->out_rows)}, 2, 1);
        og_attr_int(g, n, "transB", 1);
        const char *scores = og_out(n, 0);
        probs = c->loss == LOOM_CLS_NS ? og_op(g, "Sigmoid", 1, scores) : hs_probs(g, m, scores);
    } else {
        const char *z = m->out_b ? og_op(g, "Gemm", 3, feat, as_is(g, m->out_w), as_is(g, m->out_b))
                                 : og_op(g, "MatMul", 2, feat, as_is(g, m->out_w));
        probs = c->loss == LOOM_CLS_OVA ? og_op(g, "Sigmoid", 1, z)
                                        : og_op_i(g, "Softmax", "axis", -1, 1, z);
    }
    if (!probs)
        return;
    snprintf(shape, sizeof shape, "batch,%d", loom_cls_labels(m));
    og_output(g, probs, "probs", OG_FLOAT, shape);
}

static json_t *words_json(const loom_vocab *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < loom_vocab_size(v) && a; i++)
        json_array_append_new(a, json_string(loom_vocab_word(v, (int32_t)i)));
    return a;
}

static json_t *dict_json(const loom_classifier *m)
{
    const loom_cls_format *f = &m->dict->fmt;
    return json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:b,s:s,s:i,s:i,s:I,s:s,s:s}", "format",
        "loom-onnx-classifier", "arch", m->cfg.arch == LOOM_CLS_BAG ? "bag" : "cnn", "loss",
        loom_cls_loss_names[m->cfg.loss], "tokenizer", loom_export_tok_json(&f->tok), "words",
        words_json(m->dict->words), "labels", words_json(m->dict->labels), "eos", LOOM_CLS_EOS,
        "tsv", f->tsv, "label_prefix", f->label_prefix, "nwords",
        (int)loom_vocab_size(m->dict->words), "word_ngrams", f->word_ngrams, "bucket",
        (json_int_t)f->bucket, "ids",
        "the line's labels left out (fastText format: words starting with label_prefix; tsv: "
        "the field before the tab), its text tokenized, each known word's id in order (unknown "
        "words left out), eos's id, then for word_ngrams > 1 each run of 2..word_ngrams words "
        "(unknown words and eos included) as nwords + h % bucket",
        "hash",
        "h of a word: FNV-1a over its UTF-8 bytes read as signed chars (h = 2166136261; h ^= "
        "sign-extended byte; h *= 16777619, 32 bits); a run: h = sign-extended 64-bit h(w1), "
        "then h = h * 116049371 + sign-extended h(wj), modulo 2^64");
}

int loom_export_cls(const loom_classifier *m, const char *model_path, const char *dir,
                    const loom_export_opts *o)
{
    int rc = loom_export_cls_check(m, model_path);
    if (rc)
        return rc;
    if (o->web)
        return loom_error(LOOM_EINVAL,
                          "%s: --web writes the translation page; a classifier has none",
                          model_path);
    static const char *const names[] = {"classifier.onnx", "classifier.json", "interface.json",
                                        NULL};
    loom_outdir d;
    if ((rc = loom_outdir_begin(&d, dir, names)))
        return rc;
    og *g = NULL;
    if (!(rc = og_new(&g, "loom_classifier"))) {
        build(g, m);
        og_meta(g, "loom.format", "loom-onnx-classifier");
        og_meta(g, "loom.arch", m->cfg.arch == LOOM_CLS_BAG ? "bag" : "cnn");
        og_meta(g, "loom.loss", loom_cls_loss_names[m->cfg.loss]);
        rc = loom_export_write_graph(&d, "classifier.onnx", g);
    }
    if (!rc)
        rc = loom_outdir_json(&d, "classifier.json", dict_json(m));
    if (!rc)
        rc = loom_outdir_json(&d, "interface.json",
                              json_pack("{s:s,s:i,s:{s:o}}", "format", "loom-onnx-classifier",
                                        "version", 1, "graphs", "classifier",
                                        loom_export_graph_json(g, "classifier.onnx")));
    og_free(g);
    return loom_outdir_finish(&d, rc);
}

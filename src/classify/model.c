/* loom: classifier parameters, prediction and the model file (see
 * model.h). The forward passes are one core call per layer; the file keys
 * live here and nowhere else. */
#include "config.h"
#include "classify/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/safetensors.h"
#include "classify/cnn.h"
#include "core/activation.h"
#include "core/bag.h"
#include "core/blas.h"
#include "core/dense.h"
#include "core/loss.h"
#include "embed/vectors.h"
#include "seq/model_file.h" /* tokenizer options as one metadata string */

void loom_cls_config_default(loom_cls_config *c, loom_cls_arch arch)
{
    memset(c, 0, sizeof *c);
    c->arch = arch;
    c->loss = LOOM_CLS_SOFTMAX;
    c->dim = 100;
    c->nwidths = 3;
    c->widths[0] = 3, c->widths[1] = 4, c->widths[2] = 5;
    c->filters = 100;
    c->dropout = 0.5f;
    c->channels = 1;
}

int loom_cls_labels(const loom_classifier *m)
{
    return (int)loom_cls_dict_nlabels(m->dict);
}

int loom_cls_features(const loom_classifier *m)
{
    return m->cfg.arch == LOOM_CLS_BAG ? m->cfg.dim : m->cfg.filters * m->cfg.nwidths;
}

static int check_config(const loom_cls_config *c)
{
    if (c->dim < 1 || c->dim > 4096)
        return loom_error(LOOM_EINVAL, "dim %d out of range [1, 4096]", c->dim);
    if (c->arch == LOOM_CLS_CNN) {
        if (c->nwidths < 1 || c->nwidths > LOOM_CLS_MAX_WIDTHS)
            return loom_error(LOOM_EINVAL, "between 1 and %d convolution widths",
                              LOOM_CLS_MAX_WIDTHS);
        for (int i = 0; i < c->nwidths; i++)
            if (c->widths[i] < 1 || c->widths[i] > 64)
                return loom_error(LOOM_EINVAL, "convolution width %d out of range [1, 64]",
                                  c->widths[i]);
        if (c->filters < 1 || c->filters > 4096)
            return loom_error(LOOM_EINVAL, "filters %d out of range [1, 4096]", c->filters);
        if (!(c->dropout >= 0 && c->dropout < 1))
            return loom_error(LOOM_EINVAL, "dropout must be in [0, 1)");
        if (c->channels != 1 && c->channels != 2)
            return loom_error(LOOM_EINVAL, "channels must be 1 or 2");
        if (c->loss == LOOM_CLS_NS || c->loss == LOOM_CLS_HS)
            return loom_error(LOOM_EINVAL, "the cnn's loss is softmax or ova");
    }
    return 0;
}

/* Declares the parameters (not yet allocated). */
static int classifier_declare(loom_classifier **out, const loom_cls_config *cfg,
                              loom_cls_dict *dict)
{
    int rc = check_config(cfg);
    loom_classifier *m = rc ? NULL : loom_calloc(1, sizeof *m);
    if (!m) {
        loom_cls_dict_free(dict);
        return rc ? rc : LOOM_ENOMEM;
    }
    m->cfg = *cfg;
    m->dict = dict;
    size_t rows = loom_cls_dict_rows(dict);
    int L = loom_cls_labels(m), D = cfg->dim, F = loom_cls_features(m);
    if (rows > (size_t)1 << 30)
        rc = loom_error(LOOM_EINVAL, "%zu embedding rows: too many", rows);
    if (!rc)
        rc = loom_params_new(&m->params);
    if (!rc)
        rc = loom_params_add2(m->params, &m->emb, "emb", (int)rows, D);
    if (!rc && cfg->arch == LOOM_CLS_CNN && cfg->channels == 2)
        rc = loom_params_add2(m->params, &m->emb_static, "emb_static", (int)rows, D);
    for (int i = 0; !rc && cfg->arch == LOOM_CLS_CNN && i < cfg->nwidths; i++) {
        char name[32];
        int shape[3] = {cfg->widths[i], cfg->channels * D, cfg->filters};
        snprintf(name, sizeof name, "conv%d.K", i);
        rc = loom_params_add(m->params, &m->conv_k[i], name, 3, shape);
        snprintf(name, sizeof name, "conv%d.b", i);
        if (!rc)
            rc = loom_params_add1(m->params, &m->conv_b[i], name, cfg->filters);
    }
    if (!rc && cfg->loss == LOOM_CLS_HS) {
        uint64_t *counts = loom_malloc((size_t)L, sizeof *counts);
        rc = counts ? 0 : LOOM_ENOMEM;
        for (int i = 0; !rc && i < L; i++)
            counts[i] = loom_vocab_count(dict->labels, i);
        rc = rc ? rc : loom_huffman_build(&m->tree, counts, (size_t)L);
        free(counts);
        size_t n = rc ? 0 : m->tree.offset[L];
        m->codes = rc ? NULL : loom_malloc(n ? n : 1, sizeof *m->codes);
        rc = rc ? rc : m->codes ? 0 : LOOM_ENOMEM;
        for (size_t i = 0; !rc && i < n; i++)
            m->codes[i] = (float)m->tree.codes[i];
    }
    if (!rc && (cfg->loss == LOOM_CLS_NS || cfg->loss == LOOM_CLS_HS))
        rc = loom_params_add2(m->params, &m->out_rows, "out.rows",
                              cfg->loss == LOOM_CLS_NS ? L
                              : L > 1                  ? L - 1
                                                       : 1,
                              F);
    else if (!rc)
        rc = loom_params_add2(m->params, &m->out_w, "out.W", F, L);
    if (!rc && cfg->arch == LOOM_CLS_CNN)
        rc = loom_params_add1(m->params, &m->out_b, "out.b", L);
    if (rc) {
        loom_classifier_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* The bag trains by SGD in place and needs no gradient buffers (they
 * would double the memory of a large n-gram table); the CNN uses them. */
static int classifier_alloc(loom_classifier *m)
{
    int rc = m->cfg.arch == LOOM_CLS_BAG ? loom_params_alloc_values(m->params)
                                         : loom_params_alloc(m->params);
    if (!rc && m->emb_static)
        m->emb_static->frozen = 1;
    return rc;
}

int loom_classifier_new(loom_classifier **out, const loom_cls_config *cfg, loom_cls_dict *dict)
{
    loom_classifier *m;
    int rc = classifier_declare(&m, cfg, dict);
    if (!rc && (rc = classifier_alloc(m)))
        loom_classifier_free(m);
    if (!rc)
        *out = m;
    return rc;
}

void loom_classifier_free(loom_classifier *m)
{
    if (!m)
        return;
    loom_params_free(m->params);
    loom_cls_dict_free(m->dict);
    loom_huffman_free(&m->tree);
    free(m->codes);
    free(m);
}

void loom_classifier_init(loom_classifier *m, uint64_t seed)
{
    loom_rng rng;
    loom_rng_seed(&rng, seed, 0);
    int D = m->cfg.dim;
    if (m->cfg.arch == LOOM_CLS_BAG) {
        loom_init_uniform(m->emb->value, m->emb->size, 1.0f / (float)D, &rng);
        loom_param *out = m->out_w ? m->out_w : m->out_rows;
        loom_init_zeros(out->value, out->size);
        return;
    }
    loom_init_normal(m->emb->value, m->emb->size, 1.0f, &rng);
    if (m->emb_static)
        memcpy(m->emb_static->value, m->emb->value, m->emb->size * sizeof(float));
    for (int i = 0; i < m->cfg.nwidths; i++) {
        float a = 1.0f / sqrtf((float)(m->cfg.widths[i] * m->cfg.channels * D));
        loom_init_uniform(m->conv_k[i]->value, m->conv_k[i]->size, a, &rng);
        loom_init_uniform(m->conv_b[i]->value, m->conv_b[i]->size, a, &rng);
    }
    float a = 1.0f / sqrtf((float)loom_cls_features(m));
    loom_init_uniform(m->out_w->value, m->out_w->size, a, &rng);
    loom_init_uniform(m->out_b->value, m->out_b->size, a, &rng);
}

/* ------------------------------------------------------ transfer learning */

int loom_cls_vectors_dim(const char *path, int *dim)
{
    loom_vectors *v;
    int rc = loom_vectors_load_opts(&v, path, 0, 1);
    if (rc)
        return rc;
    *dim = (int)loom_vectors_dim(v);
    loom_vectors_free(v);
    return 0;
}

int loom_cls_init_vectors(loom_classifier *m, const char *path, uint64_t seed,
                          loom_cls_coverage *cov)
{
    memset(cov, 0, sizeof *cov);
    size_t D = (size_t)m->cfg.dim;
    loom_vectors *vec;
    int rc = loom_vectors_load_dim(&vec, path, D, "the model's", "dim");
    if (rc)
        return rc;
    cov->sd = loom_vectors_sd(vec);
    loom_rng rng;
    loom_rng_seed(&rng, seed, 11);
    const loom_vocab *words = m->dict->words;
    for (size_t id = 0; id < loom_vocab_size(words); id++) {
        const char *word = loom_vocab_word(words, (int32_t)id);
        float *row = m->emb->value + id * D;
        long k = loom_vectors_find(vec, word);
        if (strcmp(word, LOOM_CLS_EOS) != 0) {
            uint64_t c = loom_vocab_count(words, (int32_t)id);
            cov->words++, cov->tokens += c;
            if (k >= 0)
                cov->found++, cov->tokens_found += c;
        }
        if (k >= 0)
            memcpy(row, loom_vectors_row(vec, (size_t)k), D * sizeof *row);
        else if (m->cfg.arch == LOOM_CLS_CNN)
            loom_init_normal(row, D, (float)cov->sd, &rng);
        if (m->emb_static)
            memcpy(m->emb_static->value + id * D, row, D * sizeof *row);
    }
    loom_vectors_free(vec);
    return 0;
}

/* ------------------------------------------------------------ predicting */

struct loom_cls_work {
    float *hidden, *logits, *path;
    loom_cls_cnn_work *cnn;
};

int loom_cls_work_new(loom_cls_work **out, const loom_classifier *m)
{
    loom_cls_work *w = loom_calloc(1, sizeof *w);
    if (!w)
        return LOOM_ENOMEM;
    w->hidden = loom_calloc((size_t)loom_cls_features(m), sizeof(float));
    w->logits = loom_calloc((size_t)loom_cls_labels(m), sizeof(float));
    w->path = loom_calloc(m->tree.max_len + 1, sizeof(float));
    int rc = w->hidden && w->logits && w->path ? 0 : LOOM_ENOMEM;
    if (!rc && m->cfg.arch == LOOM_CLS_CNN)
        rc = loom_cls_cnn_work_new(&w->cnn, m);
    if (rc) {
        loom_cls_work_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void loom_cls_work_free(loom_cls_work *w)
{
    if (!w)
        return;
    free(w->hidden);
    free(w->logits);
    free(w->path);
    loom_cls_cnn_work_free(w->cnn);
    free(w);
}

int loom_cls_predict(const loom_classifier *m, loom_cls_work *w, const int32_t *ids, size_t n,
                     float *probs)
{
    int D = m->cfg.dim, L = loom_cls_labels(m), F = loom_cls_features(m);
    if (n > (size_t)1 << 30)
        return loom_error(LOOM_EINVAL, "example of %zu ids: too long", n);
    if (m->cfg.arch == LOOM_CLS_BAG) {
        int offsets[2] = {0, (int)n};
        loom_bag_mean_forward(w->hidden, ids, offsets, m->emb->value, 1, D);
    } else {
        int rc = loom_cls_cnn_features(m, w->cnn, ids, n, w->hidden);
        if (rc)
            return rc;
    }
    if (m->cfg.loss == LOOM_CLS_NS || m->cfg.loss == LOOM_CLS_HS) {
        /* scores of every row: out.rows (rows, F) times the features */
        loom_gemv(LOOM_NOTRANS, (int)m->out_rows->shape[0], F, 1.0f, m->out_rows->value, F,
                  w->hidden, 0.0f, w->logits);
        if (m->cfg.loss == LOOM_CLS_NS) {
            loom_sigmoid_forward(probs, w->logits, (size_t)L);
            return 0;
        }
        /* hs: p(label) = prod over its path of s(score) or s(-score), the
         * exp of minus the summed sigmoid loss of the path's scores */
        const loom_huffman *h = &m->tree;
        for (int l = 0; l < L; l++) {
            int len = (int)(h->offset[l + 1] - h->offset[l]);
            for (int j = 0; j < len; j++)
                w->path[j] = w->logits[h->points[h->offset[l] + j]];
            probs[l] = len ? expf(-(float)len *
                                  loom_sigmoid_loss_forward(w->path, m->codes + h->offset[l], len))
                           : 1.0f;
        }
        return 0;
    }
    loom_dense_forward(w->logits, w->hidden, m->out_w->value, m->out_b ? m->out_b->value : NULL, 1,
                       F, L);
    if (m->cfg.loss == LOOM_CLS_OVA)
        loom_sigmoid_forward(probs, w->logits, (size_t)L);
    else
        loom_softmax_forward(probs, w->logits, 1, L);
    return 0;
}

int loom_cls_top_k(const float *probs, int nlabels, int k, float threshold, int *labels, float *p)
{
    if (k <= 0 || k > nlabels)
        k = nlabels;
    int got = 0;
    /* Insertion into a sorted list of k: k is small (1..a few). */
    for (int i = 0; i < nlabels; i++) {
        float v = probs[i];
        if (!(v >= threshold) || (got == k && v <= p[got - 1]))
            continue;
        int at = got < k ? got++ : k - 1;
        while (at > 0 && p[at - 1] < v) {
            p[at] = p[at - 1];
            labels[at] = labels[at - 1];
            at--;
        }
        p[at] = v;
        labels[at] = i;
    }
    return got;
}

/* ------------------------------------------------------------ model file */

static const char *const arch_names[] = {"bag", "cnn"};
const char *const loom_cls_loss_names[] = {"softmax", "ova", "ns", "hs", NULL};

/* A vocabulary as "word\tcount\n" lines. */
static char *vocab_text(const loom_vocab *v)
{
    size_t n = loom_vocab_size(v), len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(loom_vocab_word(v, (int32_t)i)) + 24;
    char *s = loom_malloc(len, 1), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\t%llu\n", loom_vocab_word(v, (int32_t)i),
                     (unsigned long long)loom_vocab_count(v, (int32_t)i));
    return s;
}

/* Rebuilds a vocabulary from vocab_text's lines; ids come back in the
 * same order because the order is a function of the counts and bytes. */
static int vocab_parse(loom_vocab **out, const char *s, size_t expect, const char *path,
                       const char *key)
{
    loom_vocab *v;
    int rc = loom_vocab_new(&v);
    if (rc)
        return rc;
    for (const char *p = s; *p && !rc;) {
        const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
        char *end;
        unsigned long long count = tab && nl && tab < nl ? strtoull(tab + 1, &end, 10) : 0;
        if (!tab || !nl || tab > nl || tab == p || end != nl || count == 0)
            rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' is not word<TAB>count lines", path,
                            key);
        else
            rc = loom_vocab_add(v, p, (size_t)(tab - p), count);
        p = nl ? nl + 1 : p + strlen(p);
    }
    if (!rc)
        rc = loom_vocab_finalize(v, 0, 0);
    if (!rc && loom_vocab_size(v) != expect)
        rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' holds %zu entries, the header says %zu",
                        path, key, loom_vocab_size(v), expect);
    if (rc)
        loom_vocab_free(v), v = NULL;
    *out = v;
    return rc;
}

static int meta_long(loom_st_writer *w, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return loom_st_writer_meta(w, key, buf);
}

int loom_classifier_save(const loom_classifier *m, const char *path, const char *const *extra)
{
    const loom_cls_config *c = &m->cfg;
    const loom_cls_format *f = &m->dict->fmt;
    loom_st_writer *w;
    int rc = loom_st_writer_new(&w);
    if (rc)
        return rc;
    char buf[256], *words = vocab_text(m->dict->words), *labels = vocab_text(m->dict->labels);
    rc = words && labels ? 0 : LOOM_ENOMEM;
    rc = rc ? rc : loom_st_writer_meta(w, "format", LOOM_CLS_FORMAT);
    rc = rc ? rc : loom_st_writer_meta(w, "format_version", LOOM_CLS_FORMAT_VERSION);
    rc = rc ? rc : loom_st_writer_meta(w, "arch", arch_names[c->arch]);
    rc = rc ? rc : loom_st_writer_meta(w, "loss", loom_cls_loss_names[c->loss]);
    rc = rc ? rc : meta_long(w, "dim", c->dim);
    if (c->arch == LOOM_CLS_CNN) {
        size_t len = 0;
        buf[0] = '\0';
        for (int i = 0; i < c->nwidths; i++)
            len +=
                (size_t)snprintf(buf + len, sizeof buf - len, "%s%d", i ? "," : "", c->widths[i]);
        rc = rc ? rc : loom_st_writer_meta(w, "widths", buf);
        rc = rc ? rc : meta_long(w, "filters", c->filters);
        snprintf(buf, sizeof buf, "%.9g", (double)c->dropout);
        rc = rc ? rc : loom_st_writer_meta(w, "dropout", buf);
        rc = rc ? rc : meta_long(w, "channels", c->channels);
    }
    rc = rc ? rc : meta_long(w, "word_ngrams", f->word_ngrams);
    rc = rc ? rc : meta_long(w, "bucket", f->bucket);
    rc = rc ? rc : loom_st_writer_meta(w, "data_format", f->tsv ? "tsv" : "fasttext");
    rc = rc ? rc : loom_st_writer_meta(w, "label_prefix", f->label_prefix);
    loom_seq_tok_format(buf, sizeof buf, &f->tok);
    rc = rc ? rc : loom_st_writer_meta(w, "tokenizer", buf);
    rc = rc ? rc : meta_long(w, "nwords", (long long)loom_cls_dict_nwords(m->dict));
    rc = rc ? rc : meta_long(w, "nlabels", (long long)loom_cls_dict_nlabels(m->dict));
    rc = rc ? rc : loom_st_writer_meta(w, "words", words);
    rc = rc ? rc : loom_st_writer_meta(w, "labels", labels);
    for (size_t i = 0; !rc && extra && extra[i]; i += 2)
        rc = loom_st_writer_meta(w, extra[i], extra[i + 1]);
    rc = rc ? rc : loom_params_write(m->params, w);
    rc = rc ? rc : loom_st_writer_save(w, path);
    free(words);
    free(labels);
    loom_st_writer_free(w);
    return rc;
}

static int need_long(const loom_st_file *f, const char *key, long long lo, long long hi,
                     long long *out)
{
    const char *s = loom_st_meta(f, key);
    char *end;
    if (!s)
        return loom_error(LOOM_EFORMAT, "%s: metadata '%s' missing", loom_st_path(f), key);
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return loom_error(LOOM_EFORMAT,
                          "%s: metadata '%s' = '%.40s' is not an integer in [%lld, %lld]",
                          loom_st_path(f), key, s, lo, hi);
    *out = v;
    return 0;
}

static int need_choice(const loom_st_file *f, const char *key, const char *const *names, int n,
                       int *out)
{
    const char *s = loom_st_meta(f, key);
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return loom_error(LOOM_EFORMAT, "%s: metadata '%s' missing or unknown ('%.40s')",
                      loom_st_path(f), key, s ? s : "");
}

/* The configuration and dictionary of an open classifier file. */
static int read_header(const loom_st_file *f, loom_cls_config *c, loom_cls_dict **dict_out)
{
    const char *path = loom_st_path(f), *fmt = loom_st_meta(f, "format");
    if (!fmt || strcmp(fmt, LOOM_CLS_FORMAT) != 0)
        return loom_error(LOOM_EFORMAT, "%s: not a loom classifier (format '%.40s')", path,
                          fmt ? fmt : "none");
    const char *ver = loom_st_meta(f, "format_version");
    if (!ver || strcmp(ver, LOOM_CLS_FORMAT_VERSION) != 0)
        return loom_error(LOOM_EFORMAT,
                          "%s: classifier format version '%.20s' (this loom reads %s)", path,
                          ver ? ver : "none", LOOM_CLS_FORMAT_VERSION);
    int arch = 0, loss = 0, tsv = 0;
    long long v = 0, nwords = 0, nlabels = 0;
    int rc = need_choice(f, "arch", arch_names, 2, &arch);
    loom_cls_config_default(c, (loom_cls_arch)arch);
    rc = rc ? rc : need_choice(f, "loss", loom_cls_loss_names, 4, &loss);
    c->loss = (loom_cls_loss)loss;
    rc = rc ? rc : need_long(f, "dim", 1, 4096, &v);
    c->dim = (int)v;
    if (!rc && c->arch == LOOM_CLS_CNN) {
        const char *ws = loom_st_meta(f, "widths");
        c->nwidths = 0;
        for (const char *p = ws; p && *p && c->nwidths < LOOM_CLS_MAX_WIDTHS;) {
            char *end;
            long x = strtol(p, &end, 10);
            if (end == p || x < 1 || x > 64)
                break;
            c->widths[c->nwidths++] = (int)x;
            p = *end == ',' ? end + 1 : end;
            if (!*end)
                ws = NULL;
        }
        if (ws || c->nwidths == 0)
            rc = loom_error(LOOM_EFORMAT, "%s: metadata 'widths' missing or malformed", path);
        rc = rc ? rc : need_long(f, "filters", 1, 4096, &v);
        c->filters = (int)v;
        rc = rc ? rc : need_long(f, "channels", 1, 2, &v);
        c->channels = (int)v;
        const char *dp = loom_st_meta(f, "dropout");
        c->dropout = dp ? strtof(dp, NULL) : 0;
    }
    loom_cls_format fm;
    loom_cls_format_default(&fm);
    rc = rc ? rc : need_long(f, "word_ngrams", 1, 64, &v);
    fm.word_ngrams = (int)v;
    rc = rc ? rc : need_long(f, "bucket", 0, 100000000, &v);
    fm.bucket = (long)v;
    static const char *const data_formats[] = {"fasttext", "tsv"};
    rc = rc ? rc : need_choice(f, "data_format", data_formats, 2, &tsv);
    fm.tsv = tsv;
    const char *prefix = loom_st_meta(f, "label_prefix"), *tok = loom_st_meta(f, "tokenizer");
    if (!rc && (!prefix || strlen(prefix) >= sizeof fm.label_prefix))
        rc = loom_error(LOOM_EFORMAT, "%s: metadata 'label_prefix' missing or too long", path);
    if (!rc)
        strcpy(fm.label_prefix, prefix);
    if (!rc && (!tok || loom_seq_tok_parse(&fm.tok, tok)))
        rc = loom_error(LOOM_EFORMAT, "%s: metadata 'tokenizer' missing or malformed", path);
    rc = rc ? rc : need_long(f, "nwords", 0, 1 << 28, &nwords);
    rc = rc ? rc : need_long(f, "nlabels", 1, 1 << 24, &nlabels);
    const char *words = loom_st_meta(f, "words"), *labels = loom_st_meta(f, "labels");
    if (!rc && (!words || !labels))
        rc = loom_error(LOOM_EFORMAT, "%s: metadata 'words' or 'labels' missing", path);
    if (rc)
        return rc;
    loom_cls_dict *d = loom_calloc(1, sizeof *d);
    if (!d)
        return LOOM_ENOMEM;
    d->fmt = fm;
    rc = vocab_parse(&d->words, words, (size_t)nwords, path, "words");
    rc = rc ? rc : vocab_parse(&d->labels, labels, (size_t)nlabels, path, "labels");
    if (rc) {
        loom_cls_dict_free(d);
        return rc;
    }
    *dict_out = d;
    return 0;
}

int loom_classifier_load(loom_classifier **out, const char *path)
{
    loom_st_file *f;
    int rc = loom_st_open(&f, path);
    if (rc)
        return rc;
    loom_cls_config c;
    loom_cls_dict *d = NULL;
    loom_classifier *m = NULL;
    rc = read_header(f, &c, &d);
    if (!rc)
        rc = classifier_declare(&m, &c, d);
    else
        loom_cls_dict_free(d);
    /* Every size comes from the header: check that each tensor is in the
     * file with the declared shape before taking the memory. */
    for (size_t i = 0; !rc && i < loom_params_len(m->params); i++) {
        const loom_param *p = loom_params_at(m->params, i);
        const loom_st_tensor *t = loom_st_find(f, p->name);
        int same = t && t->ndim == p->ndim && t->dtype == LOOM_ST_F32;
        for (int k = 0; same && k < p->ndim; k++)
            same = t->shape[k] == p->shape[k];
        if (!same)
            rc = loom_error(LOOM_EFORMAT,
                            "%s: tensor '%s' missing or not of the shape the header gives", path,
                            p->name);
    }
    if (!rc)
        rc = classifier_alloc(m);
    if (!rc)
        rc = loom_params_read(m->params, f);
    if (rc) {
        loom_classifier_free(m);
        m = NULL;
    }
    loom_st_close(f);
    if (rc)
        return rc;
    *out = m;
    return 0;
}

int loom_cls_is_model_file(const char *path)
{
    loom_st_file *f;
    if (loom_st_open(&f, path))
        return 0;
    const char *fmt = loom_st_meta(f, "format");
    int yes = fmt && strcmp(fmt, LOOM_CLS_FORMAT) == 0;
    loom_st_close(f);
    return yes;
}

int loom_cls_describe(char **out, const char *path)
{
    loom_classifier *m;
    int rc = loom_classifier_load(&m, path);
    if (rc)
        return rc;
    const loom_cls_config *c = &m->cfg;
    const loom_cls_format *f = &m->dict->fmt;
    size_t cap = 4096, len = 0, nl = loom_cls_dict_nlabels(m->dict);
    char *s = loom_malloc(cap + 64 * (nl < 20 ? nl : 20), 1), tok[128];
    if (!s) {
        loom_classifier_free(m);
        return LOOM_ENOMEM;
    }
    cap += 64 * (nl < 20 ? nl : 20);
    loom_seq_tok_format(tok, sizeof tok, &f->tok);
    len += (size_t)snprintf(s + len, cap - len,
                            "format:      %s %s (text classifier)\n"
                            "arch:        %s\nloss:        %s\ndim:         %d\n",
                            LOOM_CLS_FORMAT, LOOM_CLS_FORMAT_VERSION, arch_names[c->arch],
                            loom_cls_loss_names[c->loss], c->dim);
    if (c->arch == LOOM_CLS_CNN) {
        len += (size_t)snprintf(s + len, cap - len, "widths:     ");
        for (int i = 0; i < c->nwidths; i++)
            len += (size_t)snprintf(s + len, cap - len, " %d", c->widths[i]);
        len += (size_t)snprintf(s + len, cap - len,
                                "\nfilters:     %d per width\ndropout:     %g\nchannels:    %d\n",
                                c->filters, (double)c->dropout, c->channels);
    }
    len += (size_t)snprintf(s + len, cap - len,
                            "words:       %zu\nword n-grams: %d (%ld buckets)\n"
                            "data format: %s\ntokenizer:   %s\nparameters:  %zu\nlabels:      %zu:",
                            loom_cls_dict_nwords(m->dict), f->word_ngrams, f->bucket,
                            f->tsv ? "label<TAB>text" : "fastText (__label__ words)", tok,
                            loom_params_numel(m->params, 0), nl);
    for (size_t i = 0; i < nl && i < 20; i++)
        len += (size_t)snprintf(s + len, cap - len, " %.50s",
                                loom_vocab_word(m->dict->labels, (int32_t)i));
    snprintf(s + len, cap - len, "%s\n", nl > 20 ? " ..." : "");
    loom_classifier_free(m);
    *out = s;
    return 0;
}

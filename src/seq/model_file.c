/* loom: reading and writing sequence model files (safetensors with the
 * vocabularies, tokenizer options and hyperparameters in __metadata__).
 * Knows the file's keys; the arithmetic is in model.c. */
#include "config.h"
#include "seq/model_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

void loom_seq_bundle_free(loom_seq_bundle *b)
{
    if (!b)
        return;
    loom_seq_model_free(b->model);
    loom_vocab_free(b->vocab[0]);
    loom_vocab_free(b->vocab[1]);
    memset(b, 0, sizeof *b);
}

void loom_seq_tok_format(char *buf, size_t n, const loom_tok_opts *o)
{
    snprintf(buf, n, "keep_case=%d punct=%s invalid=%s pretokenized=%d", o->keep_case,
             o->punct == LOOM_PUNCT_DROP ? "drop" : "keep",
             o->invalid == LOOM_INVALID_REPLACE ? "replace" : "error", o->pretokenized);
}

int loom_seq_tok_parse(loom_tok_opts *o, const char *s)
{
    char punct[16], invalid[16];
    loom_tok_opts_default(o);
    if (sscanf(s, "keep_case=%d punct=%15s invalid=%15s pretokenized=%d", &o->keep_case, punct,
               invalid, &o->pretokenized) != 4)
        return LOOM_EFORMAT;
    o->punct = strcmp(punct, "drop") == 0 ? LOOM_PUNCT_DROP : LOOM_PUNCT_KEEP;
    o->invalid = strcmp(invalid, "replace") == 0 ? LOOM_INVALID_REPLACE : LOOM_INVALID_ERROR;
    return 0;
}

/* The vocabulary without its 4 specials as "word\tcount\n" lines. */
static char *vocab_text(const loom_vocab *v)
{
    size_t n = loom_vocab_size(v), len = 1;
    for (size_t i = 4; i < n; i++)
        len += strlen(loom_vocab_word(v, (int32_t)i)) + 24;
    char *s = loom_malloc(len, 1), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t i = 4; i < n; i++)
        p += sprintf(p, "%s\t%llu\n", loom_vocab_word(v, (int32_t)i),
                     (unsigned long long)loom_vocab_count(v, (int32_t)i));
    return s;
}

/* Rebuilds a vocabulary from vocab_text's lines, checking that the ids
 * come back in the same order. */
static int vocab_parse(loom_vocab **out, const char *s, const char *path, const char *key)
{
    loom_vocab *v;
    int rc = loom_vocab_new(&v);
    if (rc)
        return rc;
    size_t expect = 4;
    for (const char *p = s; *p;) {
        const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
        if (!tab || !nl || tab > nl) {
            loom_vocab_free(v);
            return loom_error(LOOM_EFORMAT, "%s: metadata '%s' is not word<TAB>count lines", path,
                              key);
        }
        unsigned long long count = strtoull(tab + 1, NULL, 10);
        if ((rc = loom_vocab_add(v, p, (size_t)(tab - p), count))) {
            loom_vocab_free(v);
            return rc;
        }
        expect++;
        p = nl + 1;
    }
    if ((rc = loom_vocab_add_specials(v)) || (rc = loom_vocab_finalize(v, 0, 0))) {
        loom_vocab_free(v);
        return rc;
    }
    if (loom_vocab_size(v) != expect) {
        loom_vocab_free(v);
        return loom_error(LOOM_EFORMAT, "%s: metadata '%s' has repeated words", path, key);
    }
    *out = v;
    return 0;
}

static int meta_int(loom_st_writer *w, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return loom_st_writer_meta(w, key, buf);
}

int loom_seq_file_writer(loom_st_writer **out, const loom_seq_bundle *b)
{
    *out = NULL;
    loom_st_writer *w;
    int rc = loom_st_writer_new(&w);
    if (rc)
        return rc;
    const loom_seq_config *c = loom_seq_model_config(b->model);
    char buf[128];
    rc |= loom_st_writer_meta(w, "format", LOOM_SEQ_FORMAT);
    rc |= loom_st_writer_meta(w, "version", LOOM_SEQ_FORMAT_VERSION);
    rc |= loom_st_writer_meta(w, "layout", "matrices are (in, out): PyTorch's weight transposed");
    rc |= loom_st_writer_meta(w, "cell", loom_rnn_cell_name(c->cell));
    rc |= loom_st_writer_meta(w, "attention", loom_attn_kind_name(c->attention));
    rc |= meta_int(w, "layers", c->layers);
    rc |= meta_int(w, "bidirectional", c->bidirectional);
    rc |= meta_int(w, "emb", c->emb);
    rc |= meta_int(w, "hidden", c->hidden);
    rc |= meta_int(w, "attn_dim", c->attn_dim);
    rc |= meta_int(w, "src_vocab_size", c->src_vocab);
    rc |= meta_int(w, "tgt_vocab_size", c->tgt_vocab);
    rc |= meta_int(w, "tie_embeddings", c->tie_embeddings);
    snprintf(buf, sizeof buf, "%.9g", c->dropout);
    rc |= loom_st_writer_meta(w, "dropout", buf);
    for (int s = 0; s < 2; s++) {
        loom_seq_tok_format(buf, sizeof buf, &b->tok[s]);
        rc |= loom_st_writer_meta(w, s ? "tgt_tokenizer" : "src_tokenizer", buf);
        char *text = vocab_text(b->vocab[s]);
        if (!text) {
            loom_st_writer_free(w);
            return LOOM_ENOMEM;
        }
        rc |= loom_st_writer_meta(w, s ? "tgt_vocab" : "src_vocab", text);
        free(text);
    }
    loom_params *ps = loom_seq_model_params(b->model);
    for (size_t i = 0; i < loom_params_len(ps); i++) {
        loom_param *p = loom_params_at(ps, i);
        rc |= loom_st_writer_add_f32(w, p->name, p->ndim, p->shape, p->value);
    }
    if (rc) {
        loom_st_writer_free(w);
        return rc < 0 ? LOOM_ENOMEM : rc;
    }
    *out = w;
    return 0;
}

static int need_int(const loom_st_file *f, const char *key, long long lo, long long hi, int *out)
{
    const char *s = loom_st_meta(f, key);
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end || v < lo || v > hi)
        return loom_error(LOOM_EFORMAT, "%s: metadata '%s' is %s", loom_st_path(f), key,
                          s ? "out of range" : "missing");
    *out = (int)v;
    return 0;
}

static int check_format(const loom_st_file *f)
{
    const char *fmt = loom_st_meta(f, "format"), *ver = loom_st_meta(f, "version");
    if (!fmt || strcmp(fmt, LOOM_SEQ_FORMAT) != 0)
        return loom_error(LOOM_EFORMAT, "%s: not a loom sequence model (format '%s')",
                          loom_st_path(f), fmt ? fmt : "none");
    if (!ver || strcmp(ver, LOOM_SEQ_FORMAT_VERSION) != 0)
        return loom_error(LOOM_EFORMAT, "%s: model format version %s, this loom reads %s",
                          loom_st_path(f), ver ? ver : "none", LOOM_SEQ_FORMAT_VERSION);
    return 0;
}

static int read_config(const loom_st_file *f, loom_seq_config *c)
{
    const char *path = loom_st_path(f);
    memset(c, 0, sizeof *c);
    const char *cell = loom_st_meta(f, "cell"), *attn = loom_st_meta(f, "attention");
    int ci = cell ? loom_rnn_cell_parse(cell) : -1, ai = attn ? loom_attn_kind_parse(attn) : -1;
    if (ci < 0 || ai < 0)
        return loom_error(LOOM_EFORMAT, "%s: metadata 'cell' or 'attention' missing or unknown",
                          path);
    c->cell = (loom_rnn_cell)ci, c->attention = (loom_attn_kind)ai;
    int rc = 0;
    if ((rc = need_int(f, "layers", 1, LOOM_SEQ_MAX_LAYERS, &c->layers)) ||
        (rc = need_int(f, "bidirectional", 0, 1, &c->bidirectional)) ||
        (rc = need_int(f, "emb", 1, 65536, &c->emb)) ||
        (rc = need_int(f, "hidden", 1, 65536, &c->hidden)) ||
        (rc = need_int(f, "attn_dim", 0, 65536, &c->attn_dim)) ||
        (rc = need_int(f, "src_vocab_size", 5, 1 << 30, &c->src_vocab)) ||
        (rc = need_int(f, "tgt_vocab_size", 5, 1 << 30, &c->tgt_vocab)))
        return rc;
    const char *tie = loom_st_meta(f, "tie_embeddings");
    c->tie_embeddings = tie && strcmp(tie, "1") == 0;
    const char *d = loom_st_meta(f, "dropout");
    c->dropout = d ? strtof(d, NULL) : 0;
    rc = loom_seq_config_check(c);
    return rc ? loom_error_prefix(rc, path, 0) : 0;
}

typedef struct {
    loom_seq_config c;
    loom_seq_model *model;
} load_ctx;

/* The size in values a tensor named `name` must have in a model file or
 * checkpoint of the model whose parameters are `ps`: a parameter's, the
 * same for its optimizer state ("optim.NAME.m", ".v", ".momentum"), 1 for
 * "optim.NAME.step"; 0 when no such tensor belongs in the file. */
static size_t expected_numel(const loom_params *ps, const char *name)
{
    size_t len = strlen(name), want = 0;
    const char *suffix = NULL;
    if (strncmp(name, "optim.", 6) == 0 && (suffix = strrchr(name, '.')) > name + 6) {
        name += 6;
        len = (size_t)(suffix - name);
        suffix++;
    }
    for (size_t j = 0; j < loom_params_len(ps) && !want; j++) {
        const loom_param *p = loom_params_at(ps, j);
        if (strncmp(p->name, name, len) == 0 && p->name[len] == '\0')
            want = p->size;
    }
    if (suffix && strcmp(suffix, "step") == 0)
        return want ? 1 : 0;
    if (suffix && strcmp(suffix, "m") && strcmp(suffix, "v") && strcmp(suffix, "momentum"))
        return 0;
    return want;
}

/* Runs on the header alone, before any tensor data is read: the model's
 * shape comes from the metadata, and each tensor of the file must be one
 * of its parameters (or their optimizer state) with its size, so data the
 * model has no use for (a small .gz claiming gigabytes) is never inflated. */
static int check_tensors(const loom_st_file *f, void *arg)
{
    load_ctx *x = arg;
    int rc;
    if ((rc = check_format(f)) || (rc = read_config(f, &x->c)))
        return rc;
    if ((rc = loom_seq_model_new_zero(&x->model, &x->c)))
        return loom_error_prefix(rc, loom_st_path(f), 0);
    const loom_params *ps = loom_seq_model_params(x->model);
    for (size_t i = 0; i < loom_st_count(f); i++) {
        const loom_st_tensor *t = loom_st_at(f, i);
        size_t want = expected_numel(ps, t->name);
        if (!want)
            return loom_error(LOOM_EFORMAT, "%s: tensor '%s' is not a parameter of this model",
                              loom_st_path(f), t->name);
        if (t->numel != want)
            return loom_error(LOOM_EFORMAT,
                              "%s: tensor '%s' holds %zu values, the model's metadata make it %zu",
                              loom_st_path(f), t->name, t->numel, want);
    }
    return 0;
}

int loom_seq_file_load(loom_seq_bundle *b, const char *path, loom_st_file **f_out)
{
    memset(b, 0, sizeof *b);
    if (f_out)
        *f_out = NULL;
    loom_st_file *f;
    load_ctx x = {0};
    int rc = loom_st_open_checked(&f, path, check_tensors, &x);
    if (rc) {
        loom_seq_model_free(x.model);
        return rc;
    }
    loom_seq_config c = x.c;
    b->model = x.model;
    for (int s = 0; s < 2; s++) {
        const char *key = s ? "tgt_tokenizer" : "src_tokenizer";
        const char *t = loom_st_meta(f, key);
        if (!t || loom_seq_tok_parse(&b->tok[s], t)) {
            rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' missing or malformed", path, key);
            goto fail;
        }
        key = s ? "tgt_vocab" : "src_vocab";
        const char *v = loom_st_meta(f, key);
        if (!v) {
            rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' missing", path, key);
            goto fail;
        }
        if ((rc = vocab_parse(&b->vocab[s], v, path, key)))
            goto fail;
        if ((int)loom_vocab_size(b->vocab[s]) != (s ? c.tgt_vocab : c.src_vocab)) {
            rc = loom_error(LOOM_EFORMAT, "%s: '%s' has %zu words, the model %d", path, key,
                            loom_vocab_size(b->vocab[s]), s ? c.tgt_vocab : c.src_vocab);
            goto fail;
        }
    }
    loom_params *ps = loom_seq_model_params(b->model);
    for (size_t i = 0; i < loom_params_len(ps); i++) {
        loom_param *p = loom_params_at(ps, i);
        int64_t shape[2] = {p->shape[0], p->ndim > 1 ? p->shape[1] : 0};
        const float *data;
        if ((rc = loom_st_get_f32(f, p->name, p->ndim, shape, &data))) {
            if (rc == LOOM_ENOTFOUND)
                rc = LOOM_EFORMAT;
            goto fail;
        }
        memcpy(p->value, data, p->size * sizeof(float));
    }
    if (f_out)
        *f_out = f;
    else
        loom_st_close(f);
    return 0;
fail:
    loom_st_close(f);
    loom_seq_bundle_free(b);
    return rc;
}

/* Decides on the header and stops the open there: no tensor is read. */
static int format_only(const loom_st_file *f, void *arg)
{
    const char *fmt = loom_st_meta(f, "format");
    *(int *)arg = fmt && strcmp(fmt, LOOM_SEQ_FORMAT) == 0;
    return LOOM_ENOTFOUND;
}

int loom_seq_is_model_file(const char *path)
{
    loom_st_file *f;
    int yes = 0;
    if (loom_st_open_checked(&f, path, format_only, &yes) == 0)
        loom_st_close(f);
    loom_error_clear();
    return yes;
}

/* Appends printf output to a growing string. */
static int appendf(char **s, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int appendf(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *p = loom_realloc(*s, c, 1);
        if (!p)
            return LOOM_ENOMEM;
        *s = p, *cap = c;
    }
    va_start(ap, fmt);
    vsnprintf(*s + *len, *cap - *len, fmt, ap);
    va_end(ap);
    *len += n;
    return 0;
}

/* Training hyperparameters written by the trainer, shown by describe. */
/* clang-format off */
static const char *const train_keys[] = {
    "threads", "valid_every",     "patience",    "lr",
    "clip",    "label_smoothing", "batch",       "epochs",
    "seed",    "max_len",         "min_count",   "max_vocab",
    "src_vocab_from_vectors", "scale_vectors",
    "freeze",  "src_vectors",     "tgt_vectors", "best_by",
    "steps",   "epoch",           "best_valid_loss", "best_valid_bleu",
    "valid_bleu", "train_tokens_per_s",
    NULL};
/* clang-format on */

int loom_seq_describe(char **out, const char *path)
{
    *out = NULL;
    loom_seq_bundle b;
    loom_st_file *f;
    int rc = loom_seq_file_load(&b, path, &f);
    if (rc)
        return rc;
    const loom_seq_config *c = loom_seq_model_config(b.model);
    char *s = NULL, tok[128];
    size_t len = 0, cap = 0;
    loom_params *ps = loom_seq_model_params(b.model);
    rc |= appendf(&s, &len, &cap, "file: %s\nformat: %s version %s (safetensors)\n", path,
                  LOOM_SEQ_FORMAT, LOOM_SEQ_FORMAT_VERSION);
    rc |= appendf(&s, &len, &cap,
                  "model: %s encoder, %d layer%s, %s; %s attention; %s decoder with input "
                  "feeding\n",
                  loom_rnn_cell_name(c->cell), c->layers, c->layers > 1 ? "s" : "",
                  c->bidirectional ? "bidirectional" : "unidirectional",
                  loom_attn_kind_name(c->attention), loom_rnn_cell_name(c->cell));
    rc |= appendf(&s, &len, &cap, "sizes: embedding %d%s, hidden %d, attention %d, dropout %g\n",
                  c->emb, c->tie_embeddings ? " (one table for both sides)" : "", c->hidden,
                  c->attn_dim, c->dropout);
    rc |= appendf(&s, &len, &cap, "parameters: %zu in %zu tensors\n", loom_params_numel(ps, 0),
                  loom_params_len(ps));
    for (int side = 0; side < 2; side++) {
        loom_seq_tok_format(tok, sizeof tok, &b.tok[side]);
        size_t n = loom_vocab_size(b.vocab[side]);
        rc |= appendf(&s, &len, &cap, "%s vocabulary: %zu words (", side ? "target" : "source", n);
        for (size_t i = 4; i < n && i < 12; i++)
            rc |= appendf(&s, &len, &cap, "%s%s", i > 4 ? " " : "",
                          loom_vocab_word(b.vocab[side], (int32_t)i));
        rc |= appendf(&s, &len, &cap, "%s); tokenizer %s\n", n > 12 ? " ..." : "", tok);
    }
    for (int i = 0; train_keys[i]; i++) {
        const char *v = loom_st_meta(f, train_keys[i]);
        if (v)
            rc |= appendf(&s, &len, &cap, "%s: %s\n", train_keys[i], v);
    }
    if (loom_st_find(f, "optim.out.bias.m"))
        rc |= appendf(&s, &len, &cap, "checkpoint: holds optimizer state (--resume)\n");
    loom_st_close(f);
    loom_seq_bundle_free(&b);
    if (rc) {
        free(s);
        return LOOM_ENOMEM;
    }
    *out = s;
    return 0;
}

/* loom: reading and writing sequence model files (safetensors with the
 * vocabularies, tokenizer options and hyperparameters in __metadata__).
 * The options' keys and their rules are options.c's table; this file adds
 * the format name, the vocabularies and the tensors, and checks what it
 * reads before it trusts it. The arithmetic is in model.c. */
#include "config.h"
#include "seq/model_file.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

static const char *const subword_tensor[3] = {LOOM_SEQ_SUBWORD_SRC, LOOM_SEQ_SUBWORD_TGT,
                                              LOOM_SEQ_SUBWORD_JOINT};

/* Which side's subword model tensor `name` is (2: both), or -1. */
static int subword_side(const char *name)
{
    for (int s = 0; s < 3; s++)
        if (strcmp(name, subword_tensor[s]) == 0)
            return s;
    return -1;
}

void loom_seq_bundle_free(loom_seq_bundle *b)
{
    if (!b)
        return;
    loom_seq_model_free(b->model);
    loom_vocab_free(b->vocab[0]);
    loom_vocab_free(b->vocab[1]);
    loom_subword_free(b->subword[0]);
    loom_subword_free(b->subword[1]);
    memset(b, 0, sizeof *b);
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

/* Rebuilds a vocabulary from vocab_text's lines. The ids must come back
 * as the lines number them (the embedding rows follow that order): a list
 * that is not in the vocabulary's own order (count descending, then bytes)
 * is refused, never re-sorted. */
static int vocab_parse(loom_vocab **out, const char *s, const char *path, const char *key)
{
    loom_vocab *v;
    int rc = loom_vocab_new(&v);
    if (rc)
        return rc;
    size_t line = 0;
    for (const char *p = s; *p && !rc; line++) {
        const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
        size_t digits = tab && nl > tab ? strspn(tab + 1, "0123456789") : 0;
        if (!nl || tab == p || digits == 0 || digits > 19 || tab + 1 + digits != nl)
            rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' line %zu is not word<TAB>count", path,
                            key, line + 1);
        else
            rc = loom_vocab_add(v, p, (size_t)(tab - p), strtoull(tab + 1, NULL, 10));
        p = nl ? nl + 1 : p + strlen(p);
    }
    if (!rc && !(rc = loom_vocab_add_specials(v)))
        rc = loom_vocab_finalize(v, 0, 0);
    if (!rc && loom_vocab_size(v) != line + 4)
        rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' has repeated words", path, key);
    size_t id = 4;
    for (const char *p = s; *p && !rc; id++) {
        const char *tab = strchr(p, '\t');
        const char *w = loom_vocab_word(v, (int32_t)id);
        if (strlen(w) != (size_t)(tab - p) || memcmp(w, p, (size_t)(tab - p)) != 0)
            rc = loom_error(LOOM_EFORMAT,
                            "%s: metadata '%s' line %zu is out of order (words must be listed "
                            "by count, then bytes, as their ids and the embedding rows are)",
                            path, key, id - 3);
        p = strchr(p, '\n') + 1;
    }
    if (rc) {
        loom_vocab_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int loom_seq_file_writer(loom_st_writer **out, const loom_seq_bundle *b)
{
    *out = NULL;
    loom_st_writer *w;
    int rc = loom_st_writer_new(&w);
    if (rc)
        return rc;
    loom_seq_train_opts o; /* the model's rows of the options table */
    loom_seq_train_defaults(&o);
    o.model = *loom_seq_model_config(b->model);
    o.tok[0] = b->tok[0], o.tok[1] = b->tok[1];
    rc |= loom_st_writer_meta(w, "format", LOOM_SEQ_FORMAT);
    rc |= loom_st_writer_meta(w, "version", LOOM_SEQ_FORMAT_VERSION);
    rc |= loom_st_writer_meta(w, "layout", "matrices are (in, out): PyTorch's weight transposed");
    rc |= loom_seq_meta_write(w, LOOM_SEQ_META_MODEL, &o, NULL);
    for (int s = 0; s < 2; s++) {
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
    size_t size[2] = {0, 0};
    const void *bytes[2] = {NULL, NULL}; /* the .model files' bytes, borrowed from b */
    for (int s = 0; s < 2; s++)
        bytes[s] = b->subword[s] ? loom_subword_bytes(b->subword[s], &size[s]) : NULL;
    int joint = bytes[0] && bytes[1] && size[0] == size[1] && !memcmp(bytes[0], bytes[1], size[0]);
    for (int s = 0; s < 2 - joint; s++) {
        int64_t shape[1] = {(int64_t)size[s]};
        if (bytes[s])
            rc |= loom_st_writer_add(w, subword_tensor[joint ? 2 : s], LOOM_ST_U8, 1, shape,
                                     bytes[s]);
    }
    if (rc) {
        loom_st_writer_free(w);
        return rc < 0 ? LOOM_ENOMEM : rc;
    }
    *out = w;
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

/* Every value a float tensor of the file holds is a number: weights or
 * optimizer state that are NaN or infinite would decode as garbage. */
static int check_finite(const loom_st_file *f)
{
    for (size_t i = 0; i < loom_st_count(f); i++) {
        const loom_st_tensor *t = loom_st_at(f, i);
        if (t->dtype != LOOM_ST_F32)
            continue;
        const float *x = t->data;
        for (size_t k = 0; k < t->numel; k++)
            if (!isfinite(x[k]))
                return loom_error(LOOM_EFORMAT, "%s: tensor '%s' holds %s (element %zu)",
                                  loom_st_path(f), t->name, isnan(x[k]) ? "NaN" : "an infinity", k);
    }
    return 0;
}

/* The file's metadata, every key checked (loom_seq_meta_read), and the
 * model's shape from it. */
static int read_options(const loom_st_file *f, loom_seq_train_opts *o)
{
    loom_seq_position pos;
    loom_seq_train_defaults(o);
    memset(&pos, 0, sizeof pos);
    int rc = loom_seq_meta_read(f, LOOM_SEQ_META_ALL, LOOM_SEQ_META_MODEL, o, &pos);
    if (!rc && (rc = loom_seq_config_check(&o->model)))
        rc = loom_error_prefix(rc, loom_st_path(f), 0);
    return rc;
}

typedef struct {
    loom_seq_train_opts o; /* the metadata, every value checked */
    loom_params *want;     /* the parameters it implies, declared, not allocated */
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

/* Runs on the header alone, before any tensor data is read or any memory
 * is taken for the model: the metadata is checked by the options table,
 * the parameters it implies are declared (not allocated) and each must be
 * in the file with its shape, and each tensor of the file must be one of
 * them (or their optimizer state) with its size, so data the model has no
 * use for (a small .gz claiming gigabytes) is never inflated. */
static int check_header(const loom_st_file *f, void *arg)
{
    load_ctx *x = arg;
    const loom_seq_config *c = &x->o.model;
    int rc;
    if ((rc = check_format(f)) || (rc = read_options(f, &x->o)) ||
        (rc = loom_seq_model_declare(&x->want, c)))
        return rc;
    if ((rc = loom_params_match(x->want, f))) {
        char why[512]; /* and say which sizes the tensors were held to */
        snprintf(why, sizeof why, "%s", loom_error_message());
        if (rc == LOOM_EFORMAT)
            rc = loom_error(rc,
                            "%s, as metadata 'emb' %d, 'hidden' %d, 'attn_dim' %d and the "
                            "vocabulary sizes %d and %d imply",
                            why, c->emb, c->hidden, c->attn_dim, c->src_vocab, c->tgt_vocab);
        return rc;
    }
    for (size_t i = 0; i < loom_st_count(f); i++) {
        const loom_st_tensor *t = loom_st_at(f, i);
        if (subword_side(t->name) >= 0) { /* an embedded .model file: bytes */
            if (t->dtype != LOOM_ST_U8 || t->ndim != 1 || t->numel == 0 ||
                t->numel > LOOM_SEQ_SUBWORD_MAX_BYTES)
                return loom_error(LOOM_EFORMAT,
                                  "%s: tensor '%s' must hold a SentencePiece model's bytes "
                                  "(U8, one dimension, 1 byte to %zu MB)",
                                  loom_st_path(f), t->name, LOOM_SEQ_SUBWORD_MAX_BYTES >> 20);
            continue;
        }
        size_t want = expected_numel(x->want, t->name);
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
    loom_st_file *f = NULL;
    load_ctx x = {0};
    int rc = loom_st_open_checked(&f, path, check_header, &x);
    if (rc)
        goto fail;
    const loom_seq_config *c = &x.o.model;
    b->tok[0] = x.o.tok[0], b->tok[1] = x.o.tok[1];
    for (int s = 0; s < 2; s++) {
        const char *key = s ? "tgt_vocab" : "src_vocab";
        const char *v = loom_st_meta(f, key);
        if (!v) {
            rc = loom_error(LOOM_EFORMAT, "%s: metadata '%s' is missing", path, key);
            goto fail;
        }
        if ((rc = vocab_parse(&b->vocab[s], v, path, key)))
            goto fail;
        if ((int)loom_vocab_size(b->vocab[s]) != (s ? c->tgt_vocab : c->src_vocab)) {
            rc = loom_error(LOOM_EFORMAT, "%s: '%s' has %zu words, the model %d", path, key,
                            loom_vocab_size(b->vocab[s]), s ? c->tgt_vocab : c->src_vocab);
            goto fail;
        }
    }
    const loom_st_tensor *joint = loom_st_find(f, LOOM_SEQ_SUBWORD_JOINT);
    for (int s = 0; s < 2; s++) { /* an embedded subword model must load */
        const loom_st_tensor *t = loom_st_find(f, subword_tensor[s]);
        char name[4200];
        if (t && joint) {
            rc =
                loom_error(LOOM_EFORMAT, "%s: tensors '%s' and '%s' both segment the %s side", path,
                           subword_tensor[s], LOOM_SEQ_SUBWORD_JOINT, s ? "target" : "source");
            goto fail;
        }
        t = t ? t : joint;
        snprintf(name, sizeof name, "%s: tensor '%s'", path, t ? t->name : "");
        if (t && (rc = loom_subword_load_bytes(&b->subword[s], t->data, t->nbytes, name)))
            goto fail;
    }
    if ((rc = check_finite(f)) || (rc = loom_seq_model_new_zero(&b->model, c)) ||
        (rc = loom_params_read(loom_seq_model_params(b->model), f)))
        goto fail;
    loom_params_free(x.want);
    if (f_out)
        *f_out = f;
    else
        loom_st_close(f);
    return 0;
fail:
    loom_params_free(x.want);
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

typedef struct {
    char *s;
    size_t len, cap;
} text;

static int append_key(void *ctx, const char *key, const char *value)
{
    text *t = ctx;
    return appendf(&t->s, &t->len, &t->cap, "%s: %s\n", key, value);
}

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
    char dec[48] = "";
    if (c->dec_layers > 1)
        snprintf(dec, sizeof dec, " (%d stacked layers)", c->dec_layers);
    rc |= appendf(&s, &len, &cap,
                  "model: %s encoder, %d layer%s, %s; %s attention; %s decoder%s with input "
                  "feeding\n",
                  loom_rnn_cell_name(c->cell), c->layers, c->layers > 1 ? "s" : "",
                  c->bidirectional ? "bidirectional" : "unidirectional",
                  loom_attn_kind_name(c->attention), loom_rnn_cell_name(c->cell), dec);
    rc |= appendf(&s, &len, &cap, "sizes: embedding %d%s, hidden %d, attention %d, dropout %g\n",
                  c->emb, c->tie_embeddings ? " (one table for both sides)" : "", c->hidden,
                  c->attn_dim, c->dropout);
    rc |= appendf(&s, &len, &cap, "parameters: %zu in %zu tensors\n", loom_params_numel(ps, 0),
                  loom_params_len(ps));
    for (int side = 0; side < 2; side++) {
        loom_seq_tok_format(tok, sizeof tok, &b.tok[side]);
        size_t n = loom_vocab_size(b.vocab[side]);
        rc |= appendf(&s, &len, &cap, "%s vocabulary: %zu %s (", side ? "target" : "source", n,
                      b.subword[side] ? "pieces" : "words");
        for (size_t i = 4; i < n && i < 12; i++)
            rc |= appendf(&s, &len, &cap, "%s%s", i > 4 ? " " : "",
                          loom_vocab_word(b.vocab[side], (int32_t)i));
        rc |= appendf(&s, &len, &cap, "%s); tokenizer %s\n", n > 12 ? " ..." : "", tok);
    }
    for (int side = 0; side < 2; side++)
        if (b.subword[side]) {
            size_t bytes;
            loom_subword_bytes(b.subword[side], &bytes);
            rc |= appendf(&s, &len, &cap,
                          "%s subword model: SentencePiece, %d pieces (tensor '%s', %zu bytes); "
                          "the tokenizer options do not apply\n",
                          side ? "target" : "source", loom_subword_size(b.subword[side]),
                          loom_st_find(f, LOOM_SEQ_SUBWORD_JOINT) ? LOOM_SEQ_SUBWORD_JOINT
                                                                  : subword_tensor[side],
                          bytes);
        }
    text t = {s, len, cap}; /* how it was trained, from the options table */
    rc |= loom_seq_meta_each(f, LOOM_SEQ_META_TRAIN | LOOM_SEQ_META_RESULT, append_key, &t);
    s = t.s, len = t.len, cap = t.cap;
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

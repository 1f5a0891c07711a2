/* loom: classification data (see data.h). One line parser serves the
 * counting pass, the encoding of whole files and the encoding of single
 * lines for prediction, so training, testing and predicting read a line
 * the same way. Labels are taken from the raw line before tokenising
 * (the tokenizer would cut "__label__pos" into pieces). */
#include "config.h"
#include "classify/data.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/reader.h"

void loom_cls_format_default(loom_cls_format *f)
{
    memset(f, 0, sizeof *f);
    strcpy(f->label_prefix, LOOM_CLS_LABEL_PREFIX);
    loom_tok_opts_default(&f->tok);
    f->word_ngrams = 1;
    f->bucket = 0;
}

uint32_t loom_cls_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)(int32_t)(int8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

/* ------------------------------------------------------------ growable */

typedef struct {
    void *p;
    size_t n, cap, size;
} vec;

/* Appends n items of v->size bytes. */
static int vec_append(vec *v, const void *x, size_t n)
{
    int rc = loom_grow(&v->p, &v->cap, v->n + n, v->size);
    if (rc < 0)
        return rc;
    if (n)
        memcpy((char *)v->p + v->n * v->size, x, n * v->size);
    v->n += n;
    return 0;
}

static int vec_push(vec *v, const void *x)
{
    return vec_append(v, x, 1);
}

/* ------------------------------------------------------------- encoder */

struct loom_cls_encoder {
    const loom_cls_dict *dict;              /* NULL while counting */
    loom_vocab *count_words, *count_labels; /* counting pass only */
    loom_tokenizer *tok;
    vec text;              /* the line with its labels blanked, NUL-terminated */
    vec ids, hashes, labs; /* int32_t, uint32_t, int32_t */
    size_t label_fields;   /* labels written on the line, known or not */
    size_t unknown_at;     /* offset in the line of the first unknown label */
    size_t unknown_len;    /* 0: none */
    uint32_t tokens;       /* words + end-of-line + labels, as fastText counts */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

static int on_label(loom_cls_encoder *e, const char *s, size_t len, size_t at)
{
    e->label_fields++;
    e->tokens++;
    if (!e->dict)
        return loom_vocab_add(e->count_labels, s, len, 1);
    int32_t id = loom_vocab_find(e->dict->labels, s, len);
    if (id < 0) {
        if (!e->unknown_len) {
            e->unknown_at = at;
            e->unknown_len = len;
        }
        return 0;
    }
    for (size_t i = 0; i < e->labs.n; i++) /* a label written twice counts once */
        if (((int32_t *)e->labs.p)[i] == id)
            return 0;
    return vec_push(&e->labs, &id);
}

static int on_word(void *ctx, const char *s, size_t len)
{
    loom_cls_encoder *e = ctx;
    e->tokens++;
    if (!e->dict)
        return loom_vocab_add(e->count_words, s, len, 1);
    int32_t id = loom_vocab_find(e->dict->words, s, len);
    uint32_t h = loom_cls_hash(s, len);
    int rc = vec_push(&e->hashes, &h);
    if (!rc && id >= 0)
        rc = vec_push(&e->ids, &id);
    return rc;
}

/* fastText's addWordNgrams: each run of 2..n word hashes (unknown words
 * included) folded as h = h * 116049371 + hash, with the int32 hashes
 * sign-extended to 64 bits as fastText's vector<int32_t> does. */
static int add_ngrams(loom_cls_encoder *e)
{
    const loom_cls_format *f = &e->dict->fmt;
    if (f->word_ngrams <= 1 || f->bucket <= 0)
        return 0;
    int32_t nwords = (int32_t)loom_vocab_size(e->dict->words);
    const uint32_t *hs = e->hashes.p;
    size_t n = e->hashes.n;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = (uint64_t)(int64_t)(int32_t)hs[i];
        for (size_t j = i + 1; j < n && j < i + (size_t)f->word_ngrams; j++) {
            h = h * 116049371u + (uint64_t)(int64_t)(int32_t)hs[j];
            int32_t id = nwords + (int32_t)(h % (uint64_t)f->bucket);
            int rc = vec_push(&e->ids, &id);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Parses one line: labels to on_label, words through the tokenizer, then
 * the end-of-line word and the n-grams. */
static int parse(loom_cls_encoder *e, const loom_cls_format *f, const char *line, size_t len)
{
    e->ids.n = e->hashes.n = e->labs.n = e->text.n = 0;
    e->label_fields = e->unknown_len = 0;
    e->tokens = 0;
    char nul = '\0';
    if (vec_append(&e->text, line, len) || vec_push(&e->text, &nul))
        return LOOM_ENOMEM;
    char *s = e->text.p;
    size_t start = 0;
    int rc = 0;
    if (f->tsv) {
        const char *tab = memchr(s, '\t', len);
        size_t end = tab ? (size_t)(tab - s) : 0; /* no tab: no label field */
        for (size_t i = 0; i < end && !rc;) {
            while (i < end && s[i] == ' ')
                i++;
            size_t j = i;
            while (j < end && s[j] != ' ')
                j++;
            if (j > i)
                rc = on_label(e, s + i, j - i, i);
            i = j;
        }
        start = tab ? end + 1 : 0;
    } else {
        size_t plen = strlen(f->label_prefix);
        for (size_t i = 0; i < len && !rc;) {
            while (i < len && is_space(s[i]))
                i++;
            size_t j = i;
            while (j < len && !is_space(s[j]))
                j++;
            if (j > i && j - i >= plen && memcmp(s + i, f->label_prefix, plen) == 0) {
                rc = on_label(e, s + i, j - i, i);
                memset(s + i, ' ', j - i);
            }
            i = j;
        }
    }
    if (!rc)
        rc = loom_tokenize_string(e->tok, s + start, len - start, on_word, e);
    if (!rc)
        rc = on_word(e, LOOM_CLS_EOS, strlen(LOOM_CLS_EOS));
    if (!rc && e->dict)
        rc = add_ngrams(e);
    return rc;
}

static int encoder_init(loom_cls_encoder **out, const loom_cls_dict *d, const loom_tok_opts *tok)
{
    loom_cls_encoder *e = loom_calloc(1, sizeof *e);
    if (!e)
        return LOOM_ENOMEM;
    e->dict = d;
    e->text.size = 1;
    e->ids.size = e->labs.size = sizeof(int32_t);
    e->hashes.size = sizeof(uint32_t);
    int rc = loom_tokenizer_new(&e->tok, tok);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int loom_cls_encoder_new(loom_cls_encoder **out, const loom_cls_dict *d)
{
    return encoder_init(out, d, &d->fmt.tok);
}

void loom_cls_encoder_free(loom_cls_encoder *e)
{
    if (!e)
        return;
    loom_tokenizer_free(e->tok);
    free(e->text.p);
    free(e->ids.p);
    free(e->hashes.p);
    free(e->labs.p);
    free(e);
}

int loom_cls_encode(loom_cls_encoder *e, const char *line, size_t len, const int32_t **ids,
                    size_t *nids, const int32_t **labels, size_t *nlabels)
{
    int rc = parse(e, &e->dict->fmt, line, len);
    if (rc)
        return rc;
    *ids = e->ids.p;
    *nids = e->ids.n;
    if (labels)
        *labels = e->labs.p;
    if (nlabels)
        *nlabels = e->labs.n;
    return 0;
}

/* ---------------------------------------------------------- file passes */

/* Calls `each` on every line of `path` but empty ones; errors get the
 * file and line. A file without a non-empty line is an error. */
typedef int (*line_fn)(void *ctx, loom_cls_encoder *e, const char *line, size_t len,
                       long long lineno, const char *path);

typedef struct {
    loom_cls_encoder *e;
    const loom_cls_format *f;
    line_fn each;
    void *ctx;
} each_ctx;

static int each_example(void *ctx, char *line, size_t len, const char *name, long long lineno)
{
    each_ctx *c = ctx;
    int rc = parse(c->e, c->f, line, len);
    if (rc)
        return loom_error_prefix(rc, name, lineno);
    return c->each(c->ctx, c->e, line, len, lineno, name);
}

static int each_line(const char *path, loom_cls_encoder *e, const loom_cls_format *f, line_fn each,
                     void *ctx)
{
    each_ctx c = {e, f, each, ctx};
    return loom_reader_each_line(path, LOOM_CLS_MAX_LINE, each_example, &c,
                                 "empty file: no examples");
}

static int no_label(const char *path, long long line, const loom_cls_format *f)
{
    if (f->tsv)
        return loom_error(LOOM_EFORMAT, "%s:%lld: no label (expected label<TAB>text)", path, line);
    return loom_error(LOOM_EFORMAT, "%s:%lld: no label (expected a word starting with '%s')", path,
                      line, f->label_prefix);
}

static int count_line(void *ctx, loom_cls_encoder *e, const char *line, size_t len,
                      long long lineno, const char *path)
{
    (void)line, (void)len;
    if (e->label_fields == 0)
        return no_label(path, lineno, ctx);
    return 0;
}

int loom_cls_dict_build(loom_cls_dict **out, const char *path, const loom_cls_format *fmt,
                        uint64_t min_count, uint64_t min_count_label)
{
    loom_cls_dict *d = loom_calloc(1, sizeof *d);
    loom_cls_encoder *e = NULL;
    if (!d)
        return LOOM_ENOMEM;
    d->fmt = *fmt;
    if (d->fmt.word_ngrams <= 1)
        d->fmt.bucket = 0; /* as fastText: no buckets without n-grams */
    int rc = loom_vocab_new(&d->words);
    if (!rc)
        rc = loom_vocab_new(&d->labels);
    if (!rc)
        rc = encoder_init(&e, NULL, &fmt->tok);
    if (!rc) {
        e->count_words = d->words;
        e->count_labels = d->labels;
        rc = each_line(path, e, &d->fmt, count_line, &d->fmt);
    }
    if (!rc)
        rc = loom_vocab_finalize(d->words, min_count ? min_count : 1, 0);
    if (!rc)
        rc = loom_vocab_finalize(d->labels, min_count_label ? min_count_label : 1, 0);
    if (!rc && loom_vocab_size(d->labels) == 0)
        rc = loom_error(LOOM_EFORMAT, "%s: no label seen at least %llu times", path,
                        (unsigned long long)min_count_label);
    loom_cls_encoder_free(e);
    if (rc) {
        loom_cls_dict_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void loom_cls_dict_free(loom_cls_dict *d)
{
    if (!d)
        return;
    loom_vocab_free(d->words);
    loom_vocab_free(d->labels);
    free(d);
}

size_t loom_cls_dict_nwords(const loom_cls_dict *d)
{
    return loom_vocab_size(d->words);
}

size_t loom_cls_dict_nlabels(const loom_cls_dict *d)
{
    return loom_vocab_size(d->labels);
}

size_t loom_cls_dict_rows(const loom_cls_dict *d)
{
    return loom_vocab_size(d->words) + (size_t)(d->fmt.word_ngrams > 1 ? d->fmt.bucket : 0);
}

/* ------------------------------------------------------------- data set */

typedef struct {
    vec ids, id_off, lab, lab_off, tokens, line;
    int flags;
    const loom_cls_format *fmt;
} reading;

static int read_line(void *ctx, loom_cls_encoder *e, const char *line, size_t len, long long lineno,
                     const char *path)
{
    reading *rd = ctx;
    (void)len;
    if ((rd->flags & LOOM_CLS_NEED_LABELS) && e->label_fields == 0)
        return no_label(path, lineno, rd->fmt);
    if ((rd->flags & LOOM_CLS_KNOWN_LABELS) && e->unknown_len)
        return loom_error(LOOM_EFORMAT, "%s:%lld: label '%.*s' is not one of the model's labels",
                          path, lineno, (int)(e->unknown_len > 200 ? 200 : e->unknown_len),
                          line + e->unknown_at);
    if (vec_append(&rd->ids, e->ids.p, e->ids.n) || vec_append(&rd->lab, e->labs.p, e->labs.n))
        return LOOM_ENOMEM;
    size_t a = rd->ids.n, b = rd->lab.n;
    if (vec_push(&rd->id_off, &a) || vec_push(&rd->lab_off, &b) ||
        vec_push(&rd->tokens, &e->tokens) || vec_push(&rd->line, &lineno))
        return LOOM_ENOMEM;
    return 0;
}

int loom_cls_data_read(loom_cls_data **out, const loom_cls_dict *d, const char *path, int flags)
{
    reading rd = {.ids.size = sizeof(int32_t),
                  .id_off.size = sizeof(size_t),
                  .lab.size = sizeof(int32_t),
                  .lab_off.size = sizeof(size_t),
                  .tokens.size = sizeof(uint32_t),
                  .line.size = sizeof(long long),
                  .flags = flags,
                  .fmt = &d->fmt};
    loom_cls_encoder *e = NULL;
    loom_cls_data *data = loom_calloc(1, sizeof *data);
    size_t zero = 0;
    int rc = data ? 0 : LOOM_ENOMEM;
    if (!rc)
        rc = vec_push(&rd.id_off, &zero) || vec_push(&rd.lab_off, &zero) ? LOOM_ENOMEM : 0;
    if (!rc)
        rc = loom_cls_encoder_new(&e, d);
    if (!rc)
        rc = each_line(path, e, &d->fmt, read_line, &rd);
    loom_cls_encoder_free(e);
    if (rc) {
        free(rd.ids.p), free(rd.id_off.p), free(rd.lab.p), free(rd.lab_off.p);
        free(rd.tokens.p), free(rd.line.p), free(data);
        return rc;
    }
    data->n = rd.tokens.n;
    data->ids = rd.ids.p;
    data->id_off = rd.id_off.p;
    data->lab = rd.lab.p;
    data->lab_off = rd.lab_off.p;
    data->tokens = rd.tokens.p;
    data->line = rd.line.p;
    for (size_t i = 0; i < data->n; i++)
        data->ntokens += data->tokens[i];
    *out = data;
    return 0;
}

void loom_cls_data_free(loom_cls_data *data)
{
    if (!data)
        return;
    free(data->ids), free(data->id_off), free(data->lab), free(data->lab_off);
    free(data->tokens), free(data->line), free(data);
}

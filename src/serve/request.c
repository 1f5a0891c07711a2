/* loom serve: request bodies into request structs (see request.h). Every
 * field is looked up by name, type-checked and bounded here; the handlers
 * that follow trust what they get. */
#include "config.h"
#include "serve/request.h"

#include "base/alloc.h"
#include "embed/query.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void loom_serve_limits_default(loom_serve_limits *l)
{
    l->max_body = 1 << 20;
    l->max_depth = 16;
    l->max_array = 10000;
    l->max_sentences = 256;
    l->max_sentence = 4096;
    l->max_tokens = 200;
    l->max_k = 1000;
    l->max_query_words = 64;
    l->max_beam = 16;
}

int loom_serve_fail(loom_serve_status *st, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
    st->status = status;
    return status;
}

/* Nesting and array lengths, checked once on the whole tree. */
static int check_tree(const json_t *j, int depth, const loom_serve_limits *lim,
                      loom_serve_status *st)
{
    if (!json_is_array(j) && !json_is_object(j))
        return 0;
    if (depth > lim->max_depth)
        return loom_serve_fail(st, 400, "JSON nested deeper than %d levels", lim->max_depth);
    if (json_is_array(j)) {
        if (json_array_size(j) > lim->max_array)
            return loom_serve_fail(st, 400, "an array has %zu elements, more than %zu",
                                   json_array_size(j), lim->max_array);
        size_t i;
        const json_t *v;
        json_array_foreach(j, i, v) if (check_tree(v, depth + 1, lim, st)) return st->status;
    } else {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)j, key,
                            v) if (check_tree(v, depth + 1, lim, st)) return st->status;
    }
    return 0;
}

json_t *loom_serve_parse_json(const char *body, size_t n, const loom_serve_limits *lim,
                              loom_serve_status *st)
{
    if (n > lim->max_body) {
        loom_serve_fail(st, 413, "the body has %zu bytes, more than %zu", n, lim->max_body);
        return NULL;
    }
    if (n == 0) {
        loom_serve_fail(st, 400, "the body is empty: a JSON object is expected");
        return NULL;
    }
    json_error_t e;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        loom_serve_fail(st, 400, "malformed JSON at byte %d: %s", e.position, e.text);
        return NULL;
    }
    if (check_tree(root, 1, lim, st)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- fields ---- */

static int need_object(const json_t *root, loom_serve_status *st)
{
    return json_is_object(root) ? 0 : loom_serve_fail(st, 400, "the body must be a JSON object");
}

/* An optional string field: *out stays NULL when absent. */
static int opt_string(const json_t *o, const char *key, const char **out, loom_serve_status *st)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return loom_serve_fail(st, 400, "\"%s\" must be a string", key);
    *out = json_string_value(v);
    return 0;
}

/* An optional integer in [lo, hi]; *out keeps its default when absent. */
static int opt_int(const json_t *o, const char *key, long long lo, long long hi, long long *out,
                   loom_serve_status *st)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return loom_serve_fail(st, 400, "\"%s\" must be an integer", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return loom_serve_fail(st, 400, "\"%s\" must be in %lld..%lld, not %lld", key, lo, hi, x);
    *out = x;
    return 0;
}

static int opt_number(const json_t *o, const char *key, double lo, double hi, double *out,
                      loom_serve_status *st)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return loom_serve_fail(st, 400, "\"%s\" must be a number", key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return loom_serve_fail(st, 400, "\"%s\" must be in %g..%g", key, lo, hi);
    *out = x;
    return 0;
}

static int opt_bool(const json_t *o, const char *key, int *out, loom_serve_status *st)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return loom_serve_fail(st, 400, "\"%s\" must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

/* An array of n strings into out[0..n) (and their lengths). */
static int string_array(const json_t *a, const char *what, size_t max, const char **out,
                        size_t *lens, size_t max_len, loom_serve_status *st)
{
    if (!json_is_array(a))
        return loom_serve_fail(st, 400, "\"%s\" must be an array of strings", what);
    if (json_array_size(a) > max)
        return loom_serve_fail(st, 400, "\"%s\" has %zu entries, more than %zu", what,
                               json_array_size(a), max);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return loom_serve_fail(st, 400, "%s[%zu] must be a string", what, i);
        if (json_string_length(v) > max_len)
            return loom_serve_fail(st, 400, "%s[%zu] has %zu bytes, more than %zu", what, i,
                                   json_string_length(v), max_len);
        out[i] = json_string_value(v);
        if (lens)
            lens[i] = json_string_length(v);
    }
    return 0;
}

/* Takes a reference to root for the request; fails on non-objects. */
static int begin(json_t **slot, json_t *root, loom_serve_status *st)
{
    *slot = NULL;
    if (need_object(root, st))
        return st->status;
    *slot = json_incref(root);
    return 0;
}

/* ---- nearest and analogy ---- */

static int parse_method(const json_t *root, int *method, loom_serve_status *st)
{
    const char *m = NULL;
    if (opt_string(root, "method", &m, st))
        return st->status;
    *method = LOOM_ANALOGY_ADD;
    if (!m || strcmp(m, "add") == 0)
        return 0;
    if (strcmp(m, "mul") == 0) {
        *method = LOOM_ANALOGY_MUL;
        return 0;
    }
    return loom_serve_fail(st, 400, "\"method\" must be \"add\" or \"mul\"");
}

static int alloc_queries(loom_serve_nearest_req *r, size_t n, size_t npos, size_t nneg,
                         loom_serve_status *st)
{
    r->nqueries = n, r->npos = npos, r->nneg = nneg;
    r->pos = loom_calloc(n * npos + 1, sizeof *r->pos);
    r->neg = loom_calloc(n * nneg + 1, sizeof *r->neg);
    if (!r->pos || !r->neg)
        return loom_serve_fail(st, 503, "out of memory");
    return 0;
}

static int parse_nearest_words(loom_serve_nearest_req *r, const loom_serve_limits *lim,
                               loom_serve_status *st)
{
    const json_t *words = json_object_get(r->root, "words");
    const json_t *pos = json_object_get(r->root, "positive");
    const json_t *neg = json_object_get(r->root, "negative");
    if (words && (pos || neg))
        return loom_serve_fail(st, 400, "give \"words\" or \"positive\"/\"negative\", not both");
    if (words) {
        if (!json_is_array(words) || json_array_size(words) == 0)
            return loom_serve_fail(st, 400, "\"words\" must be a non-empty array of strings");
        r->by_word = 1;
        if (alloc_queries(r, json_array_size(words), 1, 0, st))
            return st->status;
        return string_array(words, "words", lim->max_array, r->pos, NULL, lim->max_sentence, st);
    }
    if (!pos)
        return loom_serve_fail(st, 400, "\"words\" or \"positive\" is required");
    size_t np = json_is_array(pos) ? json_array_size(pos) : 0;
    size_t nn = json_is_array(neg) ? json_array_size(neg) : 0;
    if (np == 0)
        return loom_serve_fail(st, 400, "\"positive\" must be a non-empty array of strings");
    if (neg && !json_is_array(neg))
        return loom_serve_fail(st, 400, "\"negative\" must be an array of strings");
    if (np + nn > (size_t)lim->max_query_words)
        return loom_serve_fail(st, 400, "a query takes at most %d words", lim->max_query_words);
    if (alloc_queries(r, 1, np, nn, st))
        return st->status;
    if (string_array(pos, "positive", np, r->pos, NULL, lim->max_sentence, st))
        return st->status;
    return neg ? string_array(neg, "negative", nn, r->neg, NULL, lim->max_sentence, st) : 0;
}

static int parse_analogy_queries(loom_serve_nearest_req *r, const loom_serve_limits *lim,
                                 loom_serve_status *st)
{
    const json_t *q = json_object_get(r->root, "queries");
    if (!q) {
        const char *abc[3] = {NULL, NULL, NULL};
        static const char *const keys[3] = {"a", "b", "c"};
        for (int i = 0; i < 3; i++) {
            if (opt_string(r->root, keys[i], &abc[i], st))
                return st->status;
            if (!abc[i])
                return loom_serve_fail(st, 400,
                                       "\"queries\" or \"a\", \"b\" and \"c\" are required");
        }
        if (alloc_queries(r, 1, 2, 1, st))
            return st->status;
        r->pos[0] = abc[1], r->pos[1] = abc[2], r->neg[0] = abc[0];
        return 0;
    }
    if (!json_is_array(q) || json_array_size(q) == 0)
        return loom_serve_fail(st, 400, "\"queries\" must be a non-empty array of [a, b, c]");
    if (alloc_queries(r, json_array_size(q), 2, 1, st))
        return st->status;
    size_t i;
    const json_t *t;
    json_array_foreach(q, i, t)
    {
        const char *abc[3];
        if (!json_is_array(t) || json_array_size(t) != 3)
            return loom_serve_fail(st, 400, "queries[%zu] must be [a, b, c]", i);
        char what[32];
        snprintf(what, sizeof what, "queries[%zu]", i);
        if (string_array(t, what, 3, abc, NULL, lim->max_sentence, st))
            return st->status;
        r->pos[2 * i] = abc[1], r->pos[2 * i + 1] = abc[2], r->neg[i] = abc[0];
    }
    return 0;
}

int loom_serve_parse_nearest(loom_serve_nearest_req *r, json_t *root, int analogy,
                             const loom_serve_limits *lim, loom_serve_status *st)
{
    memset(r, 0, sizeof *r);
    if (begin(&r->root, root, st))
        return st->status;
    long long k = LOOM_SERVE_MAX_K_DEFAULT, restrict_vocab = 0;
    if (opt_string(root, "vectors", &r->vectors, st) || opt_int(root, "k", 1, lim->max_k, &k, st) ||
        opt_int(root, "restrict_vocab", 0, 1LL << 40, &restrict_vocab, st) ||
        opt_bool(root, "with_vectors", &r->with_vectors, st) || parse_method(root, &r->method, st))
        return st->status;
    r->k = (int)k;
    r->restrict_vocab = (long)restrict_vocab;
    return analogy ? parse_analogy_queries(r, lim, st) : parse_nearest_words(r, lim, st);
}

void loom_serve_nearest_done(loom_serve_nearest_req *r)
{
    free(r->pos);
    free(r->neg);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

/* ---- similarity ---- */

int loom_serve_parse_similarity(loom_serve_similarity_req *r, json_t *root,
                                const loom_serve_limits *lim, loom_serve_status *st)
{
    memset(r, 0, sizeof *r);
    if (begin(&r->root, root, st) || opt_string(root, "vectors", &r->vectors, st))
        return st->status;
    const json_t *pairs = json_object_get(root, "pairs");
    if (!json_is_array(pairs) || json_array_size(pairs) == 0)
        return loom_serve_fail(st, 400, "\"pairs\" must be a non-empty array of [w1, w2]");
    r->npairs = json_array_size(pairs);
    r->words = loom_calloc(2 * r->npairs, sizeof *r->words);
    if (!r->words)
        return loom_serve_fail(st, 503, "out of memory");
    size_t i;
    const json_t *p;
    json_array_foreach(pairs, i, p)
    {
        char what[32];
        snprintf(what, sizeof what, "pairs[%zu]", i);
        if (!json_is_array(p) || json_array_size(p) != 2)
            return loom_serve_fail(st, 400, "%s must be [w1, w2]", what);
        if (string_array(p, what, 2, r->words + 2 * i, NULL, lim->max_sentence, st))
            return st->status;
    }
    return 0;
}

void loom_serve_similarity_done(loom_serve_similarity_req *r)
{
    free(r->words);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

/* ---- texts: tokenize, classify ---- */

static int parse_texts(loom_serve_texts_req *r, json_t *root, const char *model_key,
                       const loom_serve_limits *lim, loom_serve_status *st)
{
    memset(r, 0, sizeof *r);
    r->keep_case = r->punct_drop = -1;
    if (begin(&r->root, root, st) || opt_string(root, model_key, &r->model, st))
        return st->status;
    const json_t *one = json_object_get(root, "text"), *many = json_object_get(root, "texts");
    if ((one != NULL) == (many != NULL))
        return loom_serve_fail(st, 400, "give one of \"text\" and \"texts\"");
    r->many = many != NULL;
    r->ntexts = many ? json_array_size(many) : 1;
    if (many && (!json_is_array(many) || r->ntexts == 0))
        return loom_serve_fail(st, 400, "\"texts\" must be a non-empty array of strings");
    if (r->ntexts > (size_t)lim->max_sentences)
        return loom_serve_fail(st, 400, "\"texts\" has %zu entries, more than %d", r->ntexts,
                               lim->max_sentences);
    r->texts = loom_calloc(r->ntexts, sizeof *r->texts);
    r->lens = loom_calloc(r->ntexts, sizeof *r->lens);
    if (!r->texts || !r->lens)
        return loom_serve_fail(st, 503, "out of memory");
    if (many)
        return string_array(many, "texts", r->ntexts, r->texts, r->lens, lim->max_sentence, st);
    if (!json_is_string(one))
        return loom_serve_fail(st, 400, "\"text\" must be a string");
    if (json_string_length(one) > lim->max_sentence)
        return loom_serve_fail(st, 400, "\"text\" has %zu bytes, more than %zu",
                               json_string_length(one), lim->max_sentence);
    r->texts[0] = json_string_value(one);
    r->lens[0] = json_string_length(one);
    return 0;
}

int loom_serve_parse_tokenize(loom_serve_texts_req *r, json_t *root, const loom_serve_limits *lim,
                              loom_serve_status *st)
{
    if (parse_texts(r, root, "model", lim, st) || opt_bool(root, "keep_case", &r->keep_case, st))
        return st->status;
    const char *punct = NULL;
    if (opt_string(root, "punct", &punct, st))
        return st->status;
    if (punct) {
        if (strcmp(punct, "keep") != 0 && strcmp(punct, "drop") != 0)
            return loom_serve_fail(st, 400, "\"punct\" must be \"keep\" or \"drop\"");
        r->punct_drop = strcmp(punct, "drop") == 0;
    }
    const char *side = NULL;
    if (opt_string(root, "side", &side, st))
        return st->status;
    if (side && strcmp(side, "src") != 0 && strcmp(side, "tgt") != 0)
        return loom_serve_fail(st, 400, "\"side\" must be \"src\" or \"tgt\"");
    r->side = side && strcmp(side, "tgt") == 0;
    return 0;
}

int loom_serve_parse_classify(loom_serve_texts_req *r, json_t *root, const loom_serve_limits *lim,
                              loom_serve_status *st)
{
    long long k = 1;
    r->threshold = 0;
    if (parse_texts(r, root, "classifier", lim, st) || opt_int(root, "k", 0, 1 << 20, &k, st) ||
        opt_number(root, "threshold", 0, 1, &r->threshold, st))
        return st->status;
    r->k = (int)k;
    return 0;
}

void loom_serve_texts_done(loom_serve_texts_req *r)
{
    free(r->texts);
    free(r->lens);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

/* ---- translate ---- */

static int alloc_sentences(loom_serve_translate_req *r, size_t n, const loom_serve_limits *lim,
                           loom_serve_status *st)
{
    if (n == 0)
        return loom_serve_fail(st, 400, "no sentences to translate");
    if (n > (size_t)lim->max_sentences)
        return loom_serve_fail(st, 400, "%zu sentences, more than %d per request", n,
                               lim->max_sentences);
    r->n = n;
    r->src = loom_calloc(n, sizeof *r->src);
    r->lens = loom_calloc(n, sizeof *r->lens);
    return r->src && r->lens ? 0 : loom_serve_fail(st, 503, "out of memory");
}

int loom_serve_parse_translate(loom_serve_translate_req *r, json_t *root,
                               const loom_serve_limits *lim, loom_serve_status *st)
{
    memset(r, 0, sizeof *r);
    r->beam = r->nbest = r->align = -1;
    r->alpha = NAN;
    if (begin(&r->root, root, st))
        return st->status;
    long long beam = -1, nbest = -1;
    if (opt_string(root, "model", &r->model, st) ||
        opt_int(root, "beam", 1, lim->max_beam, &beam, st) ||
        opt_int(root, "nbest", 1, lim->max_beam, &nbest, st) ||
        opt_number(root, "alpha", 0, 10, &r->alpha, st) || opt_bool(root, "align", &r->align, st))
        return st->status;
    r->beam = (int)beam, r->nbest = (int)nbest;
    const json_t *src = json_object_get(root, "src");
    if (!json_is_array(src))
        return loom_serve_fail(st, 400, "\"src\" must be an array of sentences");
    if (alloc_sentences(r, json_array_size(src), lim, st))
        return st->status;
    return string_array(src, "src", r->n, r->src, r->lens, lim->max_sentence, st);
}

int loom_serve_parse_onmt(loom_serve_translate_req *r, json_t *root, const loom_serve_limits *lim,
                          loom_serve_status *st)
{
    memset(r, 0, sizeof *r);
    r->beam = r->nbest = r->align = -1;
    r->alpha = NAN;
    if (!json_is_array(root))
        return loom_serve_fail(st, 400, "the body must be a list of {\"src\": ..., \"id\": ...}");
    r->root = json_incref(root);
    if (alloc_sentences(r, json_array_size(root), lim, st))
        return st->status;
    /* a numeric id is looked up as its decimal name; the buffer lives in
     * the root as a new string member of the first entry */
    size_t i;
    json_t *e;
    const char *id0 = NULL;
    json_array_foreach(root, i, e)
    {
        if (!json_is_object(e))
            return loom_serve_fail(st, 400, "entry %zu must be an object with \"src\"", i);
        const json_t *s = json_object_get(e, "src");
        if (!json_is_string(s))
            return loom_serve_fail(st, 400, "entry %zu: \"src\" must be a string", i);
        if (json_string_length(s) > lim->max_sentence)
            return loom_serve_fail(st, 400, "entry %zu: \"src\" has %zu bytes, more than %zu", i,
                                   json_string_length(s), lim->max_sentence);
        r->src[i] = json_string_value(s);
        r->lens[i] = json_string_length(s);
        const json_t *id = json_object_get(e, "id");
        char buf[32];
        const char *name = NULL;
        if (json_is_integer(id)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
            name = buf;
        } else if (json_is_string(id)) {
            name = json_string_value(id);
        } else if (id && !json_is_null(id)) {
            return loom_serve_fail(st, 400, "entry %zu: \"id\" must be a number or a string", i);
        }
        if (i == 0 && name) {
            if (json_object_set_new(e, "loom_model_id", json_string(name)) != 0)
                return loom_serve_fail(st, 400, "entry 0: \"id\" is not valid UTF-8");
            id0 = json_string_value(json_object_get(e, "loom_model_id"));
        } else if ((name == NULL) != (id0 == NULL) || (name && strcmp(name, id0) != 0)) {
            return loom_serve_fail(st, 400, "entry %zu: every entry must ask for the same model id",
                                   i);
        }
    }
    r->model = id0;
    return 0;
}

void loom_serve_translate_done(loom_serve_translate_req *r)
{
    free(r->src);
    free(r->lens);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

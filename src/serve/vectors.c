/* loom serve: the vector routes. /v1/nearest and /v1/analogy resolve their
 * words, then wait in the nearest batcher, whose worker answers every
 * gathered query of the same vectors and method with one
 * loom_index_most_similar call (one GEMM per block of queries);
 * /v1/similarity is answered at once (a dot product per pair). */
#include "config.h"
#include "serve/internal.h"

#include "base/alloc.h"
#include "base/error.h"
#include "embed/query.h"
#include "embed/vectors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    loom_serve_job job;
    loom_serve_nearest_req req;
    int analogy;
    served_vectors *sv;
    long *pos, *neg; /* rows: nqueries x npos, nqueries x nneg; -1 padding */
    loom_hit *hits;  /* nqueries x k */
    int rc;
    char err[256];
} nearest_state;

static void nearest_done(void *p)
{
    nearest_state *st = p;
    if (!st)
        return;
    loom_serve_nearest_done(&st->req);
    free(st->pos);
    free(st->neg);
    free(st->hits);
    free(st);
}

/* Words to rows; the unknown ones make a 422 naming them all. */
static int resolve(const loom_vectors *v, const char **words, size_t n, long *rows, json_t *unknown)
{
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i] = words[i] ? loom_vectors_find(v, words[i]) : -1;
        if (words[i] && rows[i] < 0) {
            json_array_append_new(unknown, json_string(words[i]));
            missing = 1;
        }
    }
    return missing;
}

static answer unknown_words(json_t *unknown, const char *vectors)
{
    size_t n = json_array_size(unknown);
    const char *first = n ? json_string_value(json_array_get(unknown, 0)) : "";
    answer a = serve_error(422, "%zu word%s not in the vectors '%s' (\"%s\"%s)", n,
                           n == 1 ? " is" : "s are", vectors, first, n > 1 ? ", ..." : "");
    json_object_set_new(json_object_get(a.body, "error"), "unknown", unknown);
    return a;
}

static json_t *floats(const float *x, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(x[i]));
    return a;
}

static json_t *neighbours(const served_vectors *sv, const loom_hit *h, int k, int with_vectors)
{
    json_t *a = json_array();
    for (int i = 0; i < k && h[i].row >= 0; i++) {
        /* set by hand rather than by json_pack, whose format is parsed and
         * whose keys are checked for UTF-8 again for each of the k
         * neighbours of every query; a word that is not UTF-8 is left out,
         * as json_pack left it out */
        json_t *word = json_string(loom_vectors_word(sv->v, (size_t)h[i].row));
        json_t *one = word ? json_object() : NULL;
        if (!one || json_object_set_new_nocheck(one, "word", word) != 0 ||
            json_object_set_new_nocheck(one, "score", json_real((double)h[i].score)) != 0) {
            if (!one)
                json_decref(word);
            json_decref(one);
            continue;
        }
        if (with_vectors)
            json_object_set_new(
                one, "vector",
                floats(loom_index_unit(sv->ix, (size_t)h[i].row), loom_vectors_dim(sv->v)));
        json_array_append_new(a, one);
    }
    return a;
}

/* The direction of query q: its positive unit vectors minus its negative
 * ones, scaled to unit length (what add ranks by). */
static json_t *query_vector(const nearest_state *st, size_t q)
{
    size_t dim = loom_vectors_dim(st->sv->v), np = st->req.npos, nn = st->req.nneg;
    float *x = loom_calloc(dim, sizeof *x);
    if (!x)
        return json_null();
    for (size_t t = 0; t < np + nn; t++) {
        long row = t < np ? st->pos[q * np + t] : st->neg[q * nn + t - np];
        if (row < 0)
            continue;
        const float *u = loom_index_unit(st->sv->ix, (size_t)row);
        for (size_t j = 0; j < dim; j++)
            x[j] += t < np ? u[j] : -u[j];
    }
    double ss = 0;
    for (size_t j = 0; j < dim; j++)
        ss += (double)x[j] * x[j];
    for (size_t j = 0; ss > 0 && j < dim; j++)
        x[j] = (float)(x[j] / sqrt(ss));
    json_t *a = floats(x, dim);
    free(x);
    return a;
}

static json_t *word_list(const char **w, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (w[i])
            json_array_append_new(a, json_string(w[i]));
    return a;
}

static answer nearest_answer(nearest_state *st)
{
    if (st->rc < 0)
        return serve_error(500, "the search failed: %s", st->err);
    loom_serve_nearest_req *r = &st->req;
    json_t *results = json_array();
    for (size_t q = 0; q < r->nqueries; q++) {
        json_t *nb = neighbours(st->sv, st->hits + q * (size_t)r->k, r->k, r->with_vectors);
        json_t *one;
        if (r->by_word)
            one = json_pack("{s:s,s:o}", "word", r->pos[q], "neighbours", nb);
        else if (st->analogy)
            one = json_pack("{s:[s,s,s],s:o}", "query", r->neg[q], r->pos[2 * q], r->pos[2 * q + 1],
                            "neighbours", nb);
        else
            one = json_pack("{s:o,s:o,s:o}", "positive", word_list(r->pos + q * r->npos, r->npos),
                            "negative", word_list(r->neg + q * r->nneg, r->nneg), "neighbours", nb);
        if (r->with_vectors)
            json_object_set_new(one, "vector", query_vector(st, q));
        json_array_append_new(results, one);
    }
    return serve_ok(json_pack("{s:s,s:s,s:o}", "vectors", st->sv->name, "method",
                              r->method == LOOM_ANALOGY_MUL ? "mul" : "add", "results", results));
}

static answer handle_nearest_or_analogy(loom_server *s, const char *body, size_t n, void **state,
                                        int analogy)
{
    nearest_state *st = *state;
    if (st) /* resumed: the batch is done */
        return nearest_answer(st);
    answer err;
    json_t *root;
    if (!(st = serve_begin(s, body, n, sizeof *st, state, &root, &err)))
        return err;
    loom_serve_status bad = {0};
    st->analogy = analogy;
    int rc = loom_serve_parse_nearest(&st->req, root, analogy, &s->o.limits, &bad);
    json_decref(root);
    if (rc)
        return serve_error_st(&bad);
    loom_serve_nearest_req *r = &st->req;
    st->sv = serve_find_vectors(s, r->vectors);
    if (!st->sv)
        return r->vectors
                   ? serve_error(400, "no vectors named '%s' (see GET /v1/models)", r->vectors)
                   : serve_error(400, "no vectors are served (loom serve --vectors NAME=FILE)");
    size_t np = r->nqueries * r->npos, nn = r->nqueries * r->nneg;
    st->pos = loom_malloc(np + 1, sizeof *st->pos);
    st->neg = loom_malloc(nn + 1, sizeof *st->neg);
    st->hits = loom_malloc(r->nqueries * (size_t)r->k, sizeof *st->hits);
    json_t *unknown = json_array();
    if (!st->pos || !st->neg || !st->hits || !unknown) {
        json_decref(unknown);
        return serve_error(503, "out of memory");
    }
    int missing = resolve(st->sv->v, r->pos, np, st->pos, unknown);
    missing |= resolve(st->sv->v, r->neg, nn, st->neg, unknown);
    if (missing)
        return unknown_words(unknown, st->sv->name);
    json_decref(unknown);
    st->job.size = r->nqueries;
    return (answer){0, NULL, &st->job, s->nearest_batcher};
}

static answer handle_nearest(loom_server *s, const char *body, size_t n, void **state)
{
    return handle_nearest_or_analogy(s, body, n, state, 0);
}
static answer handle_analogy(loom_server *s, const char *body, size_t n, void **state)
{
    return handle_nearest_or_analogy(s, body, n, state, 1);
}

const handler serve_nearest_handler = {handle_nearest, nearest_done};
const handler serve_analogy_handler = {handle_analogy, nearest_done};

/* ---- the batch ---- */

static int same_group(const nearest_state *a, const nearest_state *b)
{
    return a->sv == b->sv && a->req.method == b->req.method &&
           a->req.restrict_vocab == b->req.restrict_vocab;
}

/* One search for the jobs g[0..n) (same vectors, method and candidates):
 * their queries padded to the widest, k the largest (a top-k is the first
 * k of a larger top list: ties go to the lower row either way). */
static void search_group(loom_server *s, nearest_state **g, int n)
{
    size_t m = 0, np = 1, nn = 0, k = 1;
    for (int i = 0; i < n; i++) {
        m += g[i]->req.nqueries;
        np = g[i]->req.npos > np ? g[i]->req.npos : np;
        nn = g[i]->req.nneg > nn ? g[i]->req.nneg : nn;
        k = (size_t)g[i]->req.k > k ? (size_t)g[i]->req.k : k;
    }
    long *pos = loom_malloc(m * np, sizeof *pos);
    long *neg = loom_malloc(m * nn + 1, sizeof *neg);
    loom_hit *hits = loom_malloc(m * k, sizeof *hits);
    int rc = pos && neg && hits ? 0 : LOOM_ENOMEM;
    size_t q = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const loom_serve_nearest_req *r = &g[i]->req;
        for (size_t j = 0; j < r->nqueries; j++, q++) {
            for (size_t t = 0; t < np; t++)
                pos[q * np + t] = t < r->npos ? g[i]->pos[j * r->npos + t] : -1;
            for (size_t t = 0; t < nn; t++)
                neg[q * nn + t] = t < r->nneg ? g[i]->neg[j * r->nneg + t] : -1;
        }
    }
    if (rc == 0)
        rc = loom_index_most_similar(g[0]->sv->ix, m, pos, np, neg, nn, g[0]->req.method, k,
                                     (size_t)g[0]->req.restrict_vocab, hits);
    loom_serve_metrics_batch(s->metrics, LOOM_SERVE_BATCH_NEAREST, m);
    q = 0;
    for (int i = 0; i < n; i++) {
        nearest_state *st = g[i];
        st->rc = rc;
        if (rc < 0) {
            snprintf(st->err, sizeof st->err, "%s", loom_error_message());
            continue;
        }
        for (size_t j = 0; j < st->req.nqueries; j++, q++)
            memcpy(st->hits + j * (size_t)st->req.k, hits + q * k,
                   (size_t)st->req.k * sizeof *hits);
    }
    free(pos);
    free(neg);
    free(hits);
}

void serve_nearest_batch(void *ctx, loom_serve_job **jobs, int n, size_t items)
{
    (void)items;
    loom_server *s = ctx;
    nearest_state **g = loom_malloc((size_t)n, sizeof *g);
    char *taken = loom_calloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        if (g && taken && taken[i])
            continue;
        nearest_state *first = (nearest_state *)jobs[i];
        if (!g || !taken) { /* no memory to group: one job at a time */
            search_group(s, &first, 1);
            continue;
        }
        int gn = 0;
        for (int j = i; j < n; j++)
            if (!taken[j] && same_group(first, (nearest_state *)jobs[j])) {
                taken[j] = 1;
                g[gn++] = (nearest_state *)jobs[j];
            }
        search_group(s, g, gn);
    }
    free(g);
    free(taken);
}

/* ---- similarity ---- */

typedef struct {
    loom_serve_similarity_req req;
} similarity_state;

static void similarity_done(void *p)
{
    similarity_state *st = p;
    if (!st)
        return;
    loom_serve_similarity_done(&st->req);
    free(st);
}

static answer handle_similarity(loom_server *s, const char *body, size_t n, void **state)
{
    answer err;
    json_t *root;
    similarity_state *st = serve_begin(s, body, n, sizeof *st, state, &root, &err);
    if (!st)
        return err;
    loom_serve_status bad = {0};
    int rc = loom_serve_parse_similarity(&st->req, root, &s->o.limits, &bad);
    json_decref(root);
    if (rc)
        return serve_error_st(&bad);
    served_vectors *sv = serve_find_vectors(s, st->req.vectors);
    if (!sv)
        return serve_error(400, "no vectors named '%s' (see GET /v1/models)",
                           st->req.vectors ? st->req.vectors : "(any)");
    size_t nw = 2 * st->req.npairs;
    long *rows = loom_malloc(nw, sizeof *rows);
    json_t *unknown = json_array();
    if (!rows || !unknown) {
        free(rows);
        json_decref(unknown);
        return serve_error(503, "out of memory");
    }
    if (resolve(sv->v, st->req.words, nw, rows, unknown)) {
        free(rows);
        return unknown_words(unknown, sv->name);
    }
    json_decref(unknown);
    json_t *sims = json_array();
    size_t dim = loom_vectors_dim(sv->v);
    for (size_t i = 0; i < st->req.npairs; i++) {
        const float *a = loom_index_unit(sv->ix, (size_t)rows[2 * i]);
        const float *b = loom_index_unit(sv->ix, (size_t)rows[2 * i + 1]);
        double dot = 0;
        for (size_t j = 0; j < dim; j++)
            dot += (double)a[j] * b[j];
        json_array_append_new(sims, json_real(dot));
    }
    free(rows);
    return serve_ok(json_pack("{s:s,s:o}", "vectors", sv->name, "similarities", sims));
}

const handler serve_similarity_handler = {handle_similarity, similarity_done};

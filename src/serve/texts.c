/* loom serve: the routes over plain texts, answered on the request's own
 * thread: /v1/tokenize (the tokenizer with the request's options, or with
 * a served classifier's or translation model's: the words it reads, or the
 * pieces of the model's embedded subword model for that side) and
 * /v1/classify (a served classifier's label probabilities, each text
 * predicted alone). */
#include "config.h"
#include "serve/internal.h"

#include "base/alloc.h"
#include "base/error.h"
#include "classify/model.h"
#include "text/subword.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    loom_serve_texts_req req;
} texts_state;

static void texts_done(void *p)
{
    texts_state *st = p;
    if (!st)
        return;
    loom_serve_texts_done(&st->req);
    free(st);
}

/* Parses the body with `parse` into a new state. */
static int begin(loom_server *s, const char *body, size_t n, void **state,
                 int (*parse)(loom_serve_texts_req *, json_t *, const loom_serve_limits *,
                              loom_serve_status *),
                 answer *err)
{
    json_t *root;
    texts_state *st = serve_begin(s, body, n, sizeof *st, state, &root, err);
    if (!st)
        return -1;
    loom_serve_status bad = {0};
    int rc = parse(&st->req, root, &s->o.limits, &bad);
    json_decref(root);
    if (rc) {
        *err = serve_error_st(&bad);
        return -1;
    }
    return 0;
}

/* ---- tokenize ---- */

static int add_token(void *ctx, const char *tok, size_t len)
{
    json_t *t = json_stringn(tok, len);
    return t && json_array_append_new(ctx, t) == 0 ? 0 : LOOM_ENOMEM;
}

static answer handle_tokenize(loom_server *s, const char *body, size_t n, void **state)
{
    answer err;
    if (begin(s, body, n, state, loom_serve_parse_tokenize, &err))
        return err;
    loom_serve_texts_req *r = &((texts_state *)*state)->req;
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    const loom_subword *sw = NULL; /* a subword side: its pieces, whatever the options */
    if (r->model) {
        served_classifier *c = serve_find_classifier(s, r->model);
        served_model *m = c ? NULL : serve_find_model(s, r->model);
        if (!c && !m)
            return serve_error(400, "no classifier or model named '%s' (see GET /v1/models)",
                               r->model);
        o = c ? c->m->dict->fmt.tok : m->bundle->tok[r->side];
        sw = m ? m->bundle->subword[r->side] : NULL;
    }
    if (r->keep_case >= 0)
        o.keep_case = r->keep_case;
    if (r->punct_drop >= 0)
        o.punct = r->punct_drop ? LOOM_PUNCT_DROP : LOOM_PUNCT_KEEP;
    /* the request's text is not a file: never let bad bytes through */
    o.invalid = LOOM_INVALID_ERROR;
    loom_tokenizer *t;
    if (loom_tokenizer_new(&t, &o) != 0)
        return serve_error(503, "%s", loom_error_message());
    json_t *all = json_array();
    for (size_t i = 0; i < r->ntexts; i++) {
        json_t *toks = json_array();
        int rc = sw ? loom_subword_tokenize(sw, r->texts[i], r->lens[i], add_token, toks)
                    : loom_tokenize_string(t, r->texts[i], r->lens[i], add_token, toks);
        if (rc < 0) {
            json_decref(toks);
            json_decref(all);
            loom_tokenizer_free(t);
            return serve_error(400, "text %zu: %s", i, loom_error_message());
        }
        json_array_append_new(all, toks);
    }
    loom_tokenizer_free(t);
    if (r->many)
        return serve_ok(json_pack("{s:o}", "tokens", all));
    json_t *one = json_incref(json_array_get(all, 0));
    json_decref(all);
    return serve_ok(json_pack("{s:o}", "tokens", one));
}

const handler serve_tokenize_handler = {handle_tokenize, texts_done};

/* ---- classify ---- */

static answer handle_classify(loom_server *s, const char *body, size_t n, void **state)
{
    answer err;
    if (begin(s, body, n, state, loom_serve_parse_classify, &err))
        return err;
    loom_serve_texts_req *r = &((texts_state *)*state)->req;
    served_classifier *c = serve_find_classifier(s, r->model);
    if (!c)
        return r->model
                   ? serve_error(400, "no classifier named '%s' (see GET /v1/models)", r->model)
                   : serve_error(400, "no classifier is served (loom serve --classifier "
                                      "NAME=FILE)");
    const loom_classifier *m = c->m;
    int nl = loom_cls_labels(m);
    loom_cls_encoder *enc = NULL;
    loom_cls_work *w = NULL;
    float *probs = loom_malloc((size_t)nl, sizeof *probs);
    float *p = loom_malloc((size_t)nl, sizeof *p);
    int *labels = loom_malloc((size_t)nl, sizeof *labels);
    json_t *results = json_array();
    int rc = probs && p && labels ? 0 : LOOM_ENOMEM;
    if (rc == 0)
        rc = loom_cls_encoder_new(&enc, m->dict);
    if (rc == 0)
        rc = loom_cls_work_new(&w, m);
    size_t bad_text = 0;
    for (size_t i = 0; i < r->ntexts && rc == 0; i++) {
        const int32_t *ids, *lab;
        size_t nids, nlab;
        rc = loom_cls_encode(enc, r->texts[i], r->lens[i], &ids, &nids, &lab, &nlab);
        if (rc == 0)
            rc = loom_cls_predict(m, w, ids, nids, probs);
        if (rc < 0) {
            bad_text = i;
            break;
        }
        int k = loom_cls_top_k(probs, nl, r->k, (float)r->threshold, labels, p);
        json_t *ls = json_array();
        for (int j = 0; j < k; j++)
            json_array_append_new(ls, json_pack("{s:s,s:f}", "label",
                                                loom_vocab_word(m->dict->labels, labels[j]), "prob",
                                                (double)p[j]));
        json_array_append_new(results, json_pack("{s:o}", "labels", ls));
    }
    loom_cls_work_free(w);
    loom_cls_encoder_free(enc);
    free(probs);
    free(p);
    free(labels);
    if (rc < 0) {
        json_decref(results);
        return rc == LOOM_ENOMEM ? serve_error(503, "out of memory")
                                 : serve_error(400, "text %zu: %s", bad_text, loom_error_message());
    }
    if (r->many)
        return serve_ok(json_pack("{s:s,s:o}", "classifier", c->name, "results", results));
    json_t *one = json_incref(json_array_get(results, 0));
    json_decref(results);
    json_object_set_new(one, "classifier", json_string(c->name));
    return serve_ok(one);
}

const handler serve_classify_handler = {handle_classify, texts_done};

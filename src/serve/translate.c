/* loom serve: the translation routes. /v1/translate and OpenNMT-py's
 * /translator/translate parse their request, check each sentence's length
 * in tokens with the model's own tokenizer, and wait in the translate
 * batcher; its worker merges the sentences of every waiting request with
 * the same model and search options into one loom_translator call (whose
 * answer for a sentence never depends on its company: seq/translator.h). */
#include "config.h"
#include "serve/internal.h"

#include "base/alloc.h"
#include "base/error.h"
#include "seq/model_file.h"
#include "seq/translator.h"
#include "text/subword.h"
#include "text/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ---- */

int loom_server_add_model(loom_server *s, const char *name, const char *path)
{
    if (!name || !*name || strlen(name) > 128)
        return loom_error(LOOM_EINVAL, "a name must have 1 to 128 bytes");
    if (serve_find_vectors(s, name) || serve_find_model(s, name) || serve_find_classifier(s, name))
        return loom_error(LOOM_EINVAL, "the name '%s' is given twice", name);
    int rc = loom_grow((void **)&s->mod, &s->capmod, s->nmod + 1, sizeof *s->mod);
    if (rc < 0)
        return rc;
    served_model *m = &s->mod[s->nmod];
    memset(m, 0, sizeof *m);
    m->bundle = loom_calloc(1, sizeof *m->bundle);
    if (!m->bundle)
        return LOOM_ENOMEM;
    loom_translate_opts o;
    loom_translate_defaults(&o);
    rc = loom_seq_file_load(m->bundle, path, NULL);
    if (rc == 0)
        rc = loom_translator_new(&m->translator, &m->bundle, 1, &o);
    if (rc == 0)
        rc = loom_seq_describe(&m->info, path);
    if (rc == 0 && (!(m->name = loom_strdup(name)) || !(m->path = loom_strdup(path))))
        rc = LOOM_ENOMEM;
    if (rc < 0) {
        serve_model_free(m);
        return rc;
    }
    s->nmod++;
    return 0;
}

void serve_model_free(served_model *m)
{
    loom_translator_free(m->translator);
    if (m->bundle)
        loom_seq_bundle_free(m->bundle);
    free(m->bundle);
    free(m->info);
    free(m->name);
    free(m->path);
    memset(m, 0, sizeof *m);
}

/* ---- the requests ---- */

typedef struct {
    loom_serve_job job;
    loom_serve_translate_req req;
    int onmt;
    served_model *m;
    loom_translate_opts o;
    loom_translation *out; /* req.n, filled by the batch */
    int done;              /* out holds translations to free */
    size_t left;           /* continuous batching: sentences not translated yet */
    int rc;
    char err[256];
} translate_state;

static void translate_done(void *p)
{
    translate_state *st = p;
    if (!st)
        return;
    if (st->done)
        loom_translations_free(st->out, (int)st->req.n);
    free(st->out);
    loom_serve_translate_done(&st->req);
    free(st);
}

static int count_token(void *ctx, const char *tok, size_t len)
{
    (void)tok, (void)len;
    ++*(int *)ctx;
    return 0;
}

/* The number of tokens of each sentence, by the model's tokenizer (or its
 * source subword model: pieces): more than max_tokens (or bytes it
 * refuses) is a 400 naming the sentence. */
static answer check_lengths(loom_server *s, translate_state *st)
{
    loom_tokenizer *t;
    if (loom_tokenizer_new(&t, &st->m->bundle->tok[0]) != 0)
        return serve_error(503, "%s", loom_error_message());
    answer a = {0};
    for (size_t i = 0; i < st->req.n && !a.body; i++) {
        int n = 0;
        const loom_subword *sw = st->m->bundle->subword[0];
        if ((sw ? loom_subword_tokenize(sw, st->req.src[i], st->req.lens[i], count_token, &n)
                : loom_tokenize_string(t, st->req.src[i], st->req.lens[i], count_token, &n)) < 0)
            a = serve_error(400, "sentence %zu: %s", i, loom_error_message());
        else if (n > s->o.limits.max_tokens)
            a = serve_error(400, "sentence %zu has %d tokens, more than %d (--max-tokens)", i, n,
                            s->o.limits.max_tokens);
    }
    loom_tokenizer_free(t);
    return a;
}

static json_t *align_matrix(const loom_translation *t, const loom_translation_hyp *h)
{
    json_t *rows = json_array();
    int nr = h->hyp.len + h->hyp.finished, nc = h->hyp.src_len;
    for (int i = 0; h->hyp.align && i < nr; i++) {
        json_t *row = json_array();
        for (int j = 0; j < nc; j++)
            json_array_append_new(row, json_real(h->hyp.align[(size_t)i * nc + j]));
        json_array_append_new(rows, row);
    }
    (void)t;
    return rows;
}

static json_t *words(const char *const *w, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(w[i]));
    return a;
}

static answer v1_answer(translate_state *st)
{
    json_t *all = json_array();
    for (size_t i = 0; i < st->req.n; i++) {
        const loom_translation *t = &st->out[i];
        json_t *nbest = json_array();
        for (int k = 0; k < t->n; k++)
            json_array_append_new(nbest,
                                  json_pack("{s:s,s:o,s:f,s:f}", "tgt", t->hyps[k].text, "tokens",
                                            words(t->hyps[k].words, t->hyps[k].hyp.len), "score",
                                            (double)t->hyps[k].hyp.score, "logp",
                                            (double)t->hyps[k].hyp.logp));
        const loom_translation_hyp *best = t->n ? &t->hyps[0] : NULL;
        json_t *one = json_pack("{s:s,s:o,s:o,s:f,s:f,s:o}", "tgt", best ? best->text : "",
                                "tokens", best ? words(best->words, best->hyp.len) : json_array(),
                                "src_tokens", words(t->src_tokens, t->src_len), "score",
                                best ? (double)best->hyp.score : 0.0, "logp",
                                best ? (double)best->hyp.logp : 0.0, "nbest", nbest);
        if (st->o.decode.align)
            json_object_set_new(one, "align", best ? align_matrix(t, best) : json_array());
        json_array_append_new(all, one);
    }
    return serve_ok(json_pack("{s:s,s:o}", "model", st->m->name, "translations", all));
}

/* OpenNMT-py's answer: n_best lists, list k holding every sentence's k-th
 * hypothesis {"src", "tgt", "n_best", "pred_score"}. */
static answer onmt_answer(translate_state *st)
{
    int nbest = st->o.decode.nbest;
    json_t *out = json_array();
    for (int k = 0; k < nbest; k++) {
        json_t *list = json_array();
        for (size_t i = 0; i < st->req.n; i++) {
            const loom_translation *t = &st->out[i];
            const loom_translation_hyp *h = k < t->n ? &t->hyps[k] : NULL;
            json_array_append_new(list,
                                  json_pack("{s:s%,s:s,s:i,s:f}", "src", st->req.src[i],
                                            st->req.lens[i], "tgt", h ? h->text : "", "n_best",
                                            nbest, "pred_score", h ? (double)h->hyp.score : 0.0));
        }
        json_array_append_new(out, list);
    }
    return serve_ok(out);
}

static answer onmt_error(answer a)
{
    /* OpenNMT-py's clients look for {"error": message, "status": "error"} */
    json_t *e = json_object_get(a.body, "error");
    json_t *body = json_pack("{s:O,s:s,s:i}", "error", json_object_get(e, "message"), "status",
                             "error", "code", (int)json_integer_value(json_object_get(e, "code")));
    json_decref(a.body);
    a.body = body;
    return a;
}

static answer handle(loom_server *s, const char *body, size_t n, void **state, int onmt)
{
    translate_state *st = *state;
    if (st) { /* resumed: the batch is done */
        if (st->rc < 0)
            return serve_error(500, "translation failed: %s", st->err);
        return onmt ? onmt_answer(st) : v1_answer(st);
    }
    answer err;
    json_t *root;
    if (!(st = serve_begin(s, body, n, sizeof *st, state, &root, &err)))
        return err;
    loom_serve_status bad = {0};
    st->onmt = onmt;
    int rc = onmt ? loom_serve_parse_onmt(&st->req, root, &s->o.limits, &bad)
                  : loom_serve_parse_translate(&st->req, root, &s->o.limits, &bad);
    json_decref(root);
    if (rc)
        return serve_error_st(&bad);
    loom_serve_translate_req *r = &st->req;
    st->m = serve_find_model(s, r->model);
    if (!st->m)
        return r->model ? serve_error(400, "no model named '%s' (see GET /v1/models)", r->model)
                        : serve_error(400, "no translation model is served (loom serve --model "
                                           "NAME=FILE)");
    st->o = *loom_translator_opts(st->m->translator);
    if (r->beam > 0)
        st->o.decode.beam = r->beam;
    if (r->nbest > 0)
        st->o.decode.nbest = r->nbest;
    if (r->nbest > 0 && r->nbest > st->o.decode.beam)
        return serve_error(400, "\"nbest\" (%d) must not exceed the beam (%d)", r->nbest,
                           st->o.decode.beam);
    if (st->o.decode.nbest > st->o.decode.beam)
        st->o.decode.nbest = st->o.decode.beam;
    if (!isnan(r->alpha))
        st->o.decode.alpha = (float)r->alpha;
    if (r->align >= 0)
        st->o.decode.align = r->align;
    st->o.threads = s->o.threads;
    st->o.batch = s->o.max_batch;
    answer a = check_lengths(s, st);
    if (a.body)
        return a;
    st->out = loom_calloc(r->n, sizeof *st->out);
    if (!st->out)
        return serve_error(503, "out of memory");
    st->job.size = r->n;
    return (answer){0, NULL, &st->job, s->translate_batcher};
}

static answer handle_v1(loom_server *s, const char *body, size_t n, void **state)
{
    return handle(s, body, n, state, 0);
}

static answer handle_onmt(loom_server *s, const char *body, size_t n, void **state)
{
    answer a = handle(s, body, n, state, 1);
    return a.status >= 400 ? onmt_error(a) : a;
}

const handler serve_translate_handler = {handle_v1, translate_done};
const handler serve_onmt_handler = {handle_onmt, translate_done};

/* ---- the batch ---- */

static int same_search(const translate_state *a, const translate_state *b)
{
    const loom_seq_decode_opts *x = &a->o.decode, *y = &b->o.decode;
    return a->m == b->m && x->beam == y->beam && x->nbest == y->nbest && x->alpha == y->alpha &&
           x->align == y->align && x->max_len == y->max_len;
}

/* One translator call for the jobs g[0..n) (same model and search). */
static void translate_group(loom_server *s, translate_state **g, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += g[i]->req.n;
    const char **src = loom_malloc(total, sizeof *src);
    size_t *lens = loom_malloc(total, sizeof *lens);
    loom_translation *out = loom_calloc(total, sizeof *out);
    int rc = src && lens && out ? 0 : LOOM_ENOMEM;
    for (int i = 0, k = 0; i < n && rc == 0; i++)
        for (size_t j = 0; j < g[i]->req.n; j++, k++) {
            src[k] = g[i]->req.src[j];
            lens[k] = g[i]->req.lens[j];
        }
    /* a gathered batch (at most --max-batch sentences) is one decoder
     * batch on this worker's thread, while the batcher's other workers
     * decode the batches gathered meanwhile (cutting it into a batch per
     * thread made batches of 16 at 64 clients, and left the cores idle while
     * the next requests came); a larger request takes every thread */
    loom_translate_opts o = g[0]->o;
    if (total <= (size_t)o.batch)
        o.threads = 1;
    if (rc == 0)
        rc = loom_translator_translate_with(g[0]->m->translator, &o, src, lens, (int)total, out);
    loom_serve_metrics_batch(s->metrics, LOOM_SERVE_BATCH_TRANSLATE, total);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        translate_state *st = g[i];
        st->rc = rc;
        if (rc < 0) {
            snprintf(st->err, sizeof st->err, "%s", loom_error_message());
            continue;
        }
        memcpy(st->out, out + k, st->req.n * sizeof *out);
        st->done = 1;
        k += st->req.n;
    }
    free(out);
    free(src);
    free(lens);
}

void serve_translate_batch(void *ctx, loom_serve_job **jobs, int n, size_t items)
{
    (void)items;
    loom_server *s = ctx;
    translate_state **g = loom_malloc((size_t)n, sizeof *g);
    char *taken = loom_calloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        translate_state *first = (translate_state *)jobs[i];
        if (!g || !taken) { /* no memory to group: one job at a time */
            translate_group(s, &first, 1);
            continue;
        }
        if (taken[i])
            continue;
        int gn = 0;
        for (int j = i; j < n; j++)
            if (!taken[j] && same_search(first, (translate_state *)jobs[j])) {
                taken[j] = 1;
                g[gn++] = (translate_state *)jobs[j];
            }
        translate_group(s, g, gn);
    }
    free(g);
    free(taken);
}

/* ---- continuous batching ----
 * Each batcher worker keeps a running greedy batch (a translator stream,
 * seq/translator.h) of up to --max-batch sentences: between decoder steps
 * the queued requests whose sentences fit join it, and a request is
 * answered as soon as its last sentence ends. A request that a stream
 * cannot take (beam search, alignments, another model than the stream's
 * while it runs, more sentences than --max-batch) is translated at once,
 * merged with the others taken with it as the batch worker did before. */

typedef struct {
    loom_server *s;
    served_model *m; /* the stream's model and options */
    loom_translate_opts o;
    loom_translator_stream *ts;
    translate_state **in; /* the requests in the stream */
    size_t nin, capin;
} translate_loop;

static void loop_fail(translate_loop *L, const char *why)
{
    for (size_t i = 0; i < L->nin; i++) {
        translate_state *st = L->in[i];
        st->rc = LOOM_EINVAL;
        snprintf(st->err, sizeof st->err, "%s", why);
        st->job.complete(&st->job);
    }
    L->nin = 0;
    loom_translator_stream_free(L->ts);
    L->ts = NULL, L->m = NULL;
}

static int loop_take_translation(void *ctx, void *tag, int index, loom_translation *tr)
{
    translate_loop *L = ctx;
    translate_state *st = tag;
    st->out[index] = *tr;
    if (--st->left > 0)
        return 0;
    for (size_t i = 0; i < L->nin; i++)
        if (L->in[i] == st) {
            L->in[i] = L->in[--L->nin];
            break;
        }
    st->rc = 0;
    st->job.complete(&st->job);
    return 0;
}

/* Joins st to the stream (made for its model and options when there is
 * none); 0, or 1 when the stream cannot take it. */
static int loop_join(translate_loop *L, translate_state *st)
{
    if (st->req.n > loom_serve_batcher_max_batch(L->s->translate_batcher) ||
        !loom_translator_stream_fits(st->m->translator, &st->o))
        return 1;
    if (L->ts && (L->m != st->m || L->o.decode.alpha != st->o.decode.alpha ||
                  L->o.decode.max_len != st->o.decode.max_len)) {
        if (L->nin > 0)
            return 1;
        loom_translator_stream_free(L->ts);
        L->ts = NULL;
    }
    if (!L->ts) {
        loom_translate_opts o = st->o;
        o.threads = 1;
        if (loom_translator_stream_new(
                &L->ts, st->m->translator, &o,
                (int)loom_serve_batcher_max_batch(L->s->translate_batcher)) != 0) {
            L->ts = NULL;
            return 1;
        }
        L->m = st->m, L->o = st->o;
    }
    if (loom_grow((void **)&L->in, &L->capin, L->nin + 1, sizeof *L->in) != 0)
        return 1;
    st->done = 1; /* out (zeroed) holds what the stream hands back */
    st->left = st->req.n;
    if (loom_translator_stream_add(L->ts, st->req.src, st->req.lens, (int)st->req.n, st) != 0) {
        st->rc = LOOM_EINVAL;
        snprintf(st->err, sizeof st->err, "%s", loom_error_message());
        st->job.complete(&st->job);
        return 0;
    }
    L->in[L->nin++] = st;
    return 0;
}

void serve_translate_loop(void *ctx, loom_serve_batcher *b)
{
    translate_loop L = {.s = ctx};
    loom_serve_job **jobs = NULL;
    size_t cap = 0, max = loom_serve_batcher_max_batch(b);
    for (;;) {
        int busy = L.ts && loom_translator_stream_size(L.ts) > 0;
        size_t rows = busy ? (size_t)loom_translator_stream_size(L.ts) : 0;
        int n = loom_serve_batcher_take(b, &jobs, &cap, rows < max ? max - rows : 0, !busy);
        if (n < 0)
            break;
        /* the jobs the stream cannot take are batched as before (those
         * with the same model and search together), then answered */
        int other = 0;
        for (int i = 0; i < n; i++)
            if (loop_join(&L, (translate_state *)jobs[i]))
                jobs[other++] = jobs[i];
        if (other > 0) {
            serve_translate_batch(L.s, jobs, other, 0);
            for (int i = 0; i < other; i++)
                jobs[i]->complete(jobs[i]);
        }
        if (!L.ts || loom_translator_stream_size(L.ts) == 0)
            continue;
        loom_serve_metrics_batch(L.s->metrics, LOOM_SERVE_BATCH_TRANSLATE,
                                 (size_t)loom_translator_stream_size(L.ts));
        if (loom_translator_stream_step(L.ts, loop_take_translation, &L) != 0)
            loop_fail(&L, loom_error_message());
    }
    loom_translator_stream_free(L.ts);
    free(L.in);
    free(jobs);
}

/* loom: greedy decoding as a running batch (stream.h). The rows of the
 * decoder state are the sentences in the order they joined; after a step
 * the ended ones are dropped (loom_seq_state_keep) and the rest close up.
 * Each row keeps its own output ids, log-probability and length limit; the
 * word chosen and the scores are decode.c's greedy search's (its beam of 1:
 * the top candidate among <unk>..V but <s>, the first of equal scores). */
#include "config.h"
#include "seq/stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "core/select.h"

typedef struct {
    void *tag;
    int *ids; /* the output so far */
    int len, cap;
    int limit; /* output tokens at most (</s> included) */
    int prev;  /* the last token fed */
    float cum; /* log-probability so far */
} row;

struct loom_seq_stream {
    loom_seq_model *m;
    loom_seq_state *st;
    loom_seq_decode_opts o;
    row *r;
    size_t rcap;
    int n;
    float *logp; /* (rows, V) */
    size_t logp_cap;
    int *prev, *keep;
    size_t prev_cap, keep_cap;
};

int loom_seq_stream_fits(const loom_seq_decode_opts *o)
{
    return o->beam == 1 && o->nbest == 1 && !o->align && !o->shortlist;
}

int loom_seq_stream_new(loom_seq_stream **out, loom_seq_model *m, int cap,
                        const loom_seq_decode_opts *o)
{
    *out = NULL;
    if (!loom_seq_stream_fits(o))
        return loom_error(LOOM_EINVAL, "a decoding stream is greedy (beam 1, nbest 1), without "
                                       "alignments or a shortlist");
    loom_seq_stream *s = loom_calloc(1, sizeof *s);
    if (!s)
        return LOOM_ENOMEM;
    s->m = m, s->o = *o;
    int rc = loom_seq_state_new(&s->st, m, cap, 16);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void loom_seq_stream_free(loom_seq_stream *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->r[i].ids);
    free(s->r);
    free(s->logp);
    free(s->prev);
    free(s->keep);
    loom_seq_state_free(s->st);
    free(s);
}

int loom_seq_stream_rows(const loom_seq_stream *s)
{
    return s->n;
}

void *loom_seq_stream_tag(const loom_seq_stream *s, int i)
{
    return s->r[i].tag;
}

int loom_seq_stream_add(loom_seq_stream *s, loom_seq_work *w, const int *src, const int *lens,
                        int n, int S, void *const *tags)
{
    if (n <= 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (lens[i] < 1 || lens[i] > S)
            return loom_error(LOOM_EINVAL, "sentence %d: length %d (1 to %d)", i, lens[i], S);
    int rc = loom_grow((void **)&s->r, &s->rcap, (size_t)s->n + n, sizeof *s->r);
    if (rc)
        return rc;
    if ((rc = loom_seq_state_add(s->st, w, src, lens, n, S)))
        return rc;
    for (int i = 0; i < n; i++) {
        int lim = s->o.max_len > 0 ? s->o.max_len : 2 * lens[i] + 10;
        s->r[s->n + i] = (row){tags[i], NULL, 0, 0, lim, LOOM_BOS, 0.0f};
    }
    s->n += n;
    return 0;
}

/* Appends id to a row's output. */
static int row_push(row *r, int id)
{
    if (r->len == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        int *p = loom_realloc(r->ids, (size_t)cap, sizeof *p);
        if (!p)
            return LOOM_ENOMEM;
        r->ids = p, r->cap = cap;
    }
    r->ids[r->len++] = id;
    return 0;
}

/* The ids a search may produce: decode.c's two ranges, [<unk>, <s>) and
 * (<s>, V), offered in id order. */
#define FIRST LOOM_UNK
#define AFTER_BOS (LOOM_BOS + 1)

int loom_seq_stream_step(loom_seq_stream *s, loom_seq_stream_fn fn, void *ctx)
{
    int R = s->n, V = loom_seq_model_config(s->m)->tgt_vocab;
    if (R == 0)
        return 0;
    int rc = loom_grow((void **)&s->logp, &s->logp_cap, (size_t)R * V, sizeof *s->logp);
    if (!rc)
        rc = loom_grow((void **)&s->prev, &s->prev_cap, (size_t)R, sizeof *s->prev);
    if (!rc)
        rc = loom_grow((void **)&s->keep, &s->keep_cap, (size_t)R, sizeof *s->keep);
    if (rc)
        return rc;
    for (int i = 0; i < R; i++)
        s->prev[i] = s->r[i].prev;
    loom_seq_step(s->m, s->st, s->prev, s->logp, NULL);
    /* after an error the rows not looked at stay as they are (the stream
     * is to be freed); an ended row leaves once fn has it, even when fn
     * fails */
    int nkeep = 0;
    for (int i = 0; i < R; i++) {
        row *r = &s->r[i];
        if (rc) {
            s->keep[nkeep++] = i;
            continue;
        }
        const float *lp = s->logp + (size_t)i * V;
        loom_scored top[2];
        int have = 0;
        loom_topk_offer(top, &have, 2, lp + FIRST, LOOM_BOS - FIRST, r->cum, FIRST);
        loom_topk_offer(top, &have, 2, lp + AFTER_BOS, V - AFTER_BOS, r->cum, AFTER_BOS);
        int v = top[0].id, t = r->len; /* this step's output position */
        float c = top[0].score;
        int ended = v == LOOM_EOS || t + 1 >= r->limit;
        if (v != LOOM_EOS && (rc = row_push(r, v)) != 0) {
            s->keep[nkeep++] = i;
            continue;
        }
        r->cum = c, r->prev = v;
        if (!ended) {
            s->keep[nkeep++] = i;
            continue;
        }
        loom_seq_hyp h = {0};
        h.finished = v == LOOM_EOS;
        h.len = r->len;
        h.logp = c;
        h.score = loom_seq_score(c, t + 1, s->o.alpha);
        h.ids = r->ids ? r->ids : loom_malloc(1, sizeof(int));
        if (!h.ids) {
            rc = LOOM_ENOMEM;
            s->keep[nkeep++] = i;
            continue;
        }
        r->ids = NULL, r->len = r->cap = 0;
        rc = fn(ctx, r->tag, &h);
    }
    /* the rows that go on close up, in order */
    for (int j = 0; j < nkeep; j++)
        s->r[j] = s->r[s->keep[j]];
    s->n = nkeep;
    loom_seq_state_keep(s->st, s->keep, nkeep);
    return rc;
}

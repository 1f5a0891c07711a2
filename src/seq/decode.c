/* loom: greedy and beam search over model.h's decoder steps. All the
 * sentences of a call advance together, K rows each, one batched step per
 * output position; the search keeps per-step back-pointers (and attention
 * weights when asked) and rebuilds the returned hypotheses from them. */
#include "config.h"
#include "seq/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "core/blas.h"
#include "core/select.h"
#include "seq/shortlist.h"

void loom_seq_decode_defaults(loom_seq_decode_opts *o)
{
    o->beam = 1;
    o->alpha = 0.6f;
    o->nbest = 1;
    o->max_len = 0;
    o->align = 0;
    o->shortlist = NULL;
}

float loom_seq_score(float logp, int len, float alpha)
{
    if (alpha == 0)
        return logp;
    return logp / powf((5.0f + (float)len) / 6.0f, alpha);
}

void loom_seq_hyps_free(loom_seq_hyp *hyps, int n)
{
    for (int i = 0; i < n; i++) {
        free(hyps[i].ids);
        free(hyps[i].align);
        hyps[i].ids = NULL;
        hyps[i].align = NULL;
    }
}

/* An ended hypothesis: where its last step was and on which row. */
typedef struct {
    int t, row, finished;
    float logp, score;
} ending;

typedef struct {
    ending *e;
    int n, cap;
} ending_list;

static int ending_add(ending_list *l, int t, int row, int finished, float logp, float score)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        ending *p = loom_realloc(l->e, cap, sizeof *p);
        if (!p)
            return LOOM_ENOMEM;
        l->e = p, l->cap = cap;
    }
    l->e[l->n++] = (ending){t, row, finished, logp, score};
    return 0;
}

static int by_score(const void *a, const void *b)
{
    float x = ((const ending *)a)->score, y = ((const ending *)b)->score;
    return x > y ? -1 : x < y;
}

/* The search's memory of every step. */
typedef struct {
    int R, S, T;
    int *tok, *par; /* (T, R) token chosen into slot r at step t, and its producing row */
    float *wts;     /* (T, R, S) attention of the producing rows, or NULL */
} history;

/* Rebuilds one hypothesis by walking back-pointers. */
static int rebuild(const history *h, const ending *e, loom_seq_hyp *out)
{
    int n = e->t + 1 - e->finished, rows = n + e->finished;
    memset(out, 0, sizeof *out);
    out->ids = loom_malloc((size_t)n + 1, sizeof(int));
    if (!out->ids)
        return LOOM_ENOMEM;
    if (h->wts) {
        out->align = loom_malloc((size_t)rows * h->S + 1, sizeof(float));
        if (!out->align)
            return LOOM_ENOMEM;
        out->src_len = h->S;
    }
    int s = e->t, j = e->row;
    if (e->finished) {
        if (h->wts)
            memcpy(out->align + (size_t)n * h->S, h->wts + ((size_t)s * h->R + j) * h->S,
                   h->S * sizeof(float));
        s--;
    }
    for (int k = n - 1; k >= 0; k--, s--) {
        int p = h->par[(size_t)s * h->R + j];
        out->ids[k] = h->tok[(size_t)s * h->R + j];
        if (h->wts)
            memcpy(out->align + (size_t)k * h->S, h->wts + ((size_t)s * h->R + p) * h->S,
                   h->S * sizeof(float));
        j = p;
    }
    out->len = n;
    out->finished = e->finished;
    out->logp = e->logp;
    out->score = e->score;
    return 0;
}

/* The ids a search may produce are every target id from <unk> on but <s>:
 * two ranges of a row of log-probabilities, [<unk>, <s>) and (<s>, V),
 * taken in id order. */
_Static_assert(LOOM_UNK < LOOM_BOS && LOOM_BOS < LOOM_EOS, "the special ids' order");
#define FIRST LOOM_UNK
#define AFTER_BOS (LOOM_BOS + 1)

/* Greedy search for one row: the best word, the lowest id on ties. */
static int best_word(const float *lp, int V)
{
    int a = FIRST + loom_argmax(lp + FIRST, LOOM_BOS - FIRST);
    int b = AFTER_BOS + loom_argmax(lp + AFTER_BOS, V - AFTER_BOS);
    return lp[b] > lp[a] ? b : a;
}

/* Beam search: offers beam row k's words, scored cum + log p, to the top
 * list; an entry's id is k * V + the word. */
static void offer_words(loom_scored *top, int *have, int ntop, const float *lp, int V, float cum,
                        int k)
{
    loom_topk_offer(top, have, ntop, lp + FIRST, LOOM_BOS - FIRST, cum, k * V + FIRST);
    loom_topk_offer(top, have, ntop, lp + AFTER_BOS, V - AFTER_BOS, cum, k * V + AFTER_BOS);
}

/* The models a search steps, each with its workspace. */
typedef struct {
    loom_seq_model *const *m;
    loom_seq_work *const *w;
    int nm;
} ensemble;

/* One decoder step of every member for the state's `rows` rows: one model
 * writes logp (and wts) itself; an ensemble's log-probabilities are
 * averaged, and its attention over the members that have attention. */
static void ensemble_step(const ensemble *en, loom_seq_state *const *st, int rows, const int *prev,
                          float *logp, float *wts, float *member, int V, int S)
{
    if (en->nm == 1) {
        loom_seq_step(en->m[0], st[0], prev, logp, wts);
        return;
    }
    size_t nl = (size_t)rows * V, na = (size_t)rows * S;
    float *mwts = wts ? member + nl : NULL;
    int attending = 0;
    memset(logp, 0, nl * sizeof(float));
    if (wts)
        memset(wts, 0, na * sizeof(float));
    for (int e = 0; e < en->nm; e++) {
        int attends = wts && loom_seq_model_config(en->m[e])->attention != LOOM_ATTN_NONE;
        loom_seq_step(en->m[e], st[e], prev, member, attends ? mwts : NULL);
        loom_axpy(nl, 1.0f, member, logp);
        if (attends)
            loom_axpy(na, 1.0f, mwts, wts);
        attending += attends;
    }
    loom_scal(nl, 1.0f / (float)en->nm, logp);
    if (attending)
        loom_scal(na, 1.0f / (float)attending, wts);
}

/* One search with K beam rows per sentence, plus (lane = 1) a greedy row
 * that follows its own argmax path in the same batched steps; appends each
 * sentence's endings. */
static int search(const ensemble *en, const int *const *src, const int *lens, int n, int S, int K,
                  int lane, int fixed_len, float alpha, int align, const loom_shortlist *sl,
                  ending_list *ends, history *h)
{
    /* each sentence's own limit, so that its output does not depend on the
     * sentences it is batched with */
    int max_len = 1;
    for (int i = 0; i < n; i++) {
        int lim = fixed_len > 0 ? fixed_len : 2 * lens[i] + 10;
        max_len = lim > max_len ? lim : max_len;
    }
    int V = loom_seq_model_config(en->m[0])->tgt_vocab, G = K + lane, R = n * G;
    loom_seq_state *st[LOOM_SEQ_MAX_ENSEMBLE] = {0};
    int rc = 0;
    for (int e = 0; e < en->nm && !rc; e++)
        rc = loom_seq_start(&st[e], en->m[e], en->w[e], src[e], lens, n, S, G);
    /* a shortlist: the members' output layers and the search cover the
     * candidates only, V of them, cand[v] being the id of column v (the
     * specials keep their ids: cand starts with 0..3) */
    int *cand = NULL;
    if (!rc && sl) {
        if (loom_shortlist_tgt_vocab(sl) != V)
            rc = loom_error(LOOM_EINVAL,
                            "the shortlist was read for %d target words, the model has %d",
                            loom_shortlist_tgt_vocab(sl), V);
        else if (!(cand = loom_malloc(V, sizeof(int))))
            rc = LOOM_ENOMEM;
        if (!rc)
            V = loom_shortlist_candidates(sl, src[0], (size_t)n * S, cand);
        for (int e = 0; e < en->nm && !rc; e++)
            rc = loom_seq_state_restrict(st[e], cand, V);
    }
    /* an ensemble's members write their own rows, then the mean is taken */
    float *member = NULL;
    if (!rc && en->nm > 1 &&
        !(member = loom_malloc((size_t)R * (V + (align ? S : 0)) + 1, sizeof(float))))
        rc = LOOM_ENOMEM;
    if (rc) {
        for (int e = 0; e < en->nm; e++)
            loom_seq_state_free(st[e]);
        free(cand);
        return rc;
    }
    /* The search's arrays use the sentences' own rows (sentence i: rows
     * i*G ..); the decoder state drops sentences whose search has ended, so
     * state sentence j is sentence slot[j] and state row j*G + k is row
     * slot[j]*G + k here. */
    h->R = R, h->S = S, h->T = max_len;
    h->tok = loom_malloc((size_t)max_len * R, sizeof(int));
    h->par = loom_malloc((size_t)max_len * R, sizeof(int));
    h->wts = align ? loom_malloc((size_t)max_len * R * S, sizeof(float)) : NULL;
    float *logp = loom_malloc((size_t)R * V, sizeof(float));
    float *wts = align ? loom_calloc((size_t)R * S, sizeof(float)) : NULL;
    float *cum = loom_malloc(R, sizeof(float)), *ncum = loom_malloc(R, sizeof(float));
    int *prev = loom_malloc(R, sizeof(int)), *from = loom_malloc(R, sizeof(int));
    int *sprev = loom_malloc(R, sizeof(int)), *slot = loom_malloc(n, sizeof(int));
    char *active = loom_calloc(3 * (size_t)n, 1), *lane_on = active + n, *finished = active + 2 * n;
    int *beam_ends = loom_calloc(n, sizeof(int));
    loom_scored *cands = loom_malloc(2 * (size_t)K, sizeof *cands);
    if (!h->tok || !h->par || (align && (!h->wts || !wts)) || !logp || !cum || !ncum || !prev ||
        !from || !sprev || !slot || !active || !beam_ends || !cands) {
        rc = LOOM_ENOMEM;
        goto done;
    }
    for (int r = 0; r < R; r++) {
        /* one live start per sentence (and the lane's) */
        cum[r] = r % G == 0 || r % G == K ? 0.0f : -INFINITY;
        prev[r] = LOOM_BOS;
    }
    for (int i = 0; i < n; i++)
        slot[i] = i;
    for (int i = 0; i < n; i++)
        active[i] = 1, lane_on[i] = (char)lane;
    int nactive = n, nl = n; /* sentences searching, and in the state */
    for (int t = 0; t < max_len && nactive > 0; t++) {
        for (int j = 0; j < nl; j++)
            for (int k = 0; k < G; k++)
                sprev[j * G + k] = prev[slot[j] * G + k];
        ensemble_step(en, st, nl * G, sprev, logp, wts, member, V, S);
        int *tok = h->tok + (size_t)t * R, *par = h->par + (size_t)t * R;
        for (int r = 0; r < R; r++) {
            par[r] = r;
            tok[r] = LOOM_PAD;
            ncum[r] = -INFINITY;
        }
        for (int j = 0; j < nl; j++) {
            int i = slot[j], r0 = i * G, q0 = j * G; /* own rows, state rows */
            int last = t == (fixed_len > 0 ? fixed_len : 2 * lens[i] + 10) - 1;
            for (int k = 0; k < G; k++)
                from[q0 + k] = q0 + k;
            if (wts)
                memcpy(h->wts + ((size_t)t * R + r0) * S, wts + (size_t)q0 * S,
                       (size_t)G * S * sizeof(float));
            if (finished[i])
                continue;
            if (lane_on[i]) {
                int r = r0 + K, v = best_word(logp + (size_t)(q0 + K) * V, V);
                float c = cum[r] + logp[(size_t)(q0 + K) * V + v];
                tok[r] = cand ? cand[v] : v;
                if (v == LOOM_EOS) {
                    rc |= ending_add(&ends[i], t, r, 1, c, loom_seq_score(c, t + 1, alpha));
                    lane_on[i] = 0;
                } else {
                    ncum[r] = c;
                    if (last)
                        rc |= ending_add(&ends[i], t, r, 0, c, loom_seq_score(c, t + 1, alpha));
                }
            }
            if (active[i]) {
                int nc = 0, live = 0;
                for (int k = 0; k < K; k++)
                    if (cum[r0 + k] != -INFINITY)
                        offer_words(cands, &nc, 2 * K, logp + (size_t)(q0 + k) * V, V, cum[r0 + k],
                                    k);
                for (int c = 0; c < nc && live < K; c++) {
                    int k = cands[c].id / V, v = cands[c].id % V;
                    float cc = cands[c].score;
                    if (v == LOOM_EOS) {
                        if (c < K) { /* only an </s> inside the top K ends a hypothesis */
                            rc |= ending_add(&ends[i], t, r0 + k, 1, cc,
                                             loom_seq_score(cc, t + 1, alpha));
                            beam_ends[i]++;
                        }
                        continue;
                    }
                    par[r0 + live] = r0 + k;
                    from[q0 + live] = q0 + k;
                    tok[r0 + live] = cand ? cand[v] : v;
                    ncum[r0 + live] = cc;
                    live++;
                }
                if (beam_ends[i] >= K || live == 0) {
                    active[i] = 0;
                } else if (last) {
                    for (int k = 0; k < live; k++)
                        rc |= ending_add(&ends[i], t, r0 + k, 0, ncum[r0 + k],
                                         loom_seq_score(ncum[r0 + k], t + 1, alpha));
                }
            }
            if (last) /* the sentence's limit: what is unfinished ended above */
                active[i] = lane_on[i] = 0;
            if (!active[i] && !lane_on[i]) {
                finished[i] = 1;
                nactive--;
            }
        }
        if (rc)
            goto done;
        for (int e = 0; e < en->nm && K > 1; e++)
            loom_seq_state_reorder(st[e], from);
        memcpy(cum, ncum, R * sizeof(float));
        memcpy(prev, tok, R * sizeof(int));
        /* drop ended sentences from the state once they are an eighth of it
         * (the move costs about what a step on those rows would) */
        int gone = 0;
        for (int j = 0; j < nl; j++)
            gone += finished[slot[j]];
        if (nactive > 0 && gone * 8 >= nl) {
            int nk = 0;
            for (int j = 0; j < nl; j++)
                if (!finished[slot[j]])
                    from[nk] = j, slot[nk++] = slot[j]; /* from: free until next step */
            for (int e = 0; e < en->nm; e++)
                loom_seq_state_keep(st[e], from, nk);
            nl = nk;
        }
    }
done:
    free(logp);
    free(wts);
    free(sprev);
    free(slot);
    free(cum);
    free(ncum);
    free(prev);
    free(from);
    free(active);
    free(beam_ends);
    free(cands);
    free(member);
    free(cand);
    for (int e = 0; e < en->nm; e++)
        loom_seq_state_free(st[e]);
    return rc;
}

static void history_free(history *h)
{
    free(h->tok);
    free(h->par);
    free(h->wts);
    memset(h, 0, sizeof *h);
}

static int same_ids(const loom_seq_hyp *a, const loom_seq_hyp *b)
{
    return a->len == b->len && a->finished == b->finished &&
           memcmp(a->ids, b->ids, a->len * sizeof(int)) == 0;
}

static int by_hyp_score(const void *a, const void *b)
{
    float x = ((const loom_seq_hyp *)a)->score, y = ((const loom_seq_hyp *)b)->score;
    return x > y ? -1 : x < y;
}

int loom_seq_decode(loom_seq_model *m, loom_seq_work *w, const int *src, const int *lens, int n,
                    int S, const loom_seq_decode_opts *o, loom_seq_hyp *hyps, int *counts)
{
    return loom_seq_decode_ensemble(&m, &w, 1, &src, lens, n, S, o, hyps, counts);
}

int loom_seq_decode_ensemble(loom_seq_model *const *m, loom_seq_work *const *w, int nm,
                             const int *const *src, const int *lens, int n, int S,
                             const loom_seq_decode_opts *o, loom_seq_hyp *hyps, int *counts)
{
    int K = o->beam, nbest = o->nbest;
    if (K < 1 || nbest < 1 || nbest > K)
        return loom_error(LOOM_EINVAL, "beam must be >= 1 and n-best between 1 and the beam");
    if (nm < 1 || nm > LOOM_SEQ_MAX_ENSEMBLE)
        return loom_error(LOOM_EINVAL, "an ensemble has 1 to %d models, not %d",
                          LOOM_SEQ_MAX_ENSEMBLE, nm);
    for (int e = 1; e < nm; e++)
        if (loom_seq_model_config(m[e])->tgt_vocab != loom_seq_model_config(m[0])->tgt_vocab)
            return loom_error(
                LOOM_EINVAL, "ensemble member %d has %d target words, the first model %d", e + 1,
                loom_seq_model_config(m[e])->tgt_vocab, loom_seq_model_config(m[0])->tgt_vocab);
    ensemble en = {m, w, nm};

    memset(hyps, 0, (size_t)n * nbest * sizeof *hyps);
    memset(counts, 0, n * sizeof(int));
    int rc = 0;
    loom_seq_hyp *found = loom_calloc((size_t)n * (K + 1), sizeof *found);
    int *nfound = loom_calloc(n, sizeof(int));
    ending_list *ends = loom_calloc(n, sizeof *ends);
    if (!found || !nfound || !ends) {
        rc = LOOM_ENOMEM;
        goto done;
    }
    /* one batched search: K beam rows and, when K > 1, a greedy lane; each
     * sentence keeps its best K + 1 distinct hypotheses of both */
    history h = {0};
    rc = search(&en, src, lens, n, S, K, K > 1, o->max_len, o->alpha, o->align, o->shortlist, ends,
                &h);
    for (int i = 0; i < n && !rc; i++) {
        qsort(ends[i].e, ends[i].n, sizeof(ending), by_score);
        for (int e = 0; e < ends[i].n && nfound[i] <= K && !rc; e++) {
            loom_seq_hyp *slot = &found[(size_t)i * (K + 1) + nfound[i]];
            if ((rc = rebuild(&h, &ends[i].e[e], slot)))
                break;
            int dup = 0;
            for (int j = 0; j < nfound[i] && !dup; j++)
                dup = same_ids(&found[(size_t)i * (K + 1) + j], slot);
            if (dup || nfound[i] == K + 1)
                loom_seq_hyps_free(slot, 1);
            else
                nfound[i]++;
        }
    }
    history_free(&h);
    for (int i = 0; i < n && !rc; i++) {
        loom_seq_hyp *f = &found[(size_t)i * (K + 1)];
        qsort(f, nfound[i], sizeof *f, by_hyp_score);
        counts[i] = nfound[i] < nbest ? nfound[i] : nbest;
        for (int j = 0; j < nfound[i]; j++) {
            if (j < counts[i])
                hyps[(size_t)i * nbest + j] = f[j];
            else
                loom_seq_hyps_free(&f[j], 1);
        }
        nfound[i] = 0;
    }
done:
    if (rc && found)
        for (int i = 0; i < n; i++)
            loom_seq_hyps_free(&found[(size_t)i * (K + 1)], nfound ? nfound[i] : 0);
    if (ends)
        for (int i = 0; i < n; i++)
            free(ends[i].e);
    free(ends);
    free(found);
    free(nfound);
    return rc;
}

int loom_seq_align_argmax(const float *row, int src_len)
{
    return loom_argmax(row, src_len);
}

void loom_seq_hard_align(const loom_seq_hyp *h, int *out)
{
    for (int k = 0; k < h->len; k++)
        out[k] = loom_seq_align_argmax(h->align + (size_t)k * h->src_len, h->src_len);
}

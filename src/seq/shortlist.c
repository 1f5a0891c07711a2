/* loom: the vocabulary shortlist (shortlist.h): reading a lexical table
 * into per-source lists of target ids, a batch's candidate set, and
 * building a table from pairs by Dice coefficients. */
#include "config.h"
#include "seq/shortlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/reader.h"
#include "base/writer.h"
#include "seq/data.h"

#define SHORTLIST_LINE_MAX ((size_t)1 << 20)
#define NSPECIAL 4 /* <pad> <unk> <s> </s>: ids 0..3 */

struct loom_shortlist {
    int Vs, Vt, top;
    size_t *off; /* Vs + 1 offsets into tgt: source id s's targets */
    int *tgt;
    char *always; /* Vt flags: candidates of every batch (top words, empty-source lines) */
};

/* ---- reading ---- */

typedef struct {
    const loom_vocab *src, *tgt;
    int best;
    int *have;     /* per source id: targets kept */
    int32_t *pair; /* (source, target) entries in file order */
    size_t n, cap;
    char *always;
    size_t known; /* lines whose source is known, and known always-candidates */
} reading;

static int table_line(void *ctx, char *line, size_t len, const char *name, long long lineno)
{
    reading *r = ctx;
    char *tab = memchr(line, '\t', len);
    if (!tab)
        return loom_error(LOOM_EFORMAT, "%s:%lld: expected 'source<TAB>target target ...'", name,
                          lineno);
    size_t slen = (size_t)(tab - line), rest = len - slen - 1;
    const char *t = tab + 1;
    if (memchr(t, '\t', rest))
        return loom_error(LOOM_EFORMAT, "%s:%lld: a second TAB (one source and its targets a line)",
                          name, lineno);
    int32_t s = -1;
    if (slen > 0) {
        s = loom_vocab_find(r->src, line, slen);
        if (s < NSPECIAL)
            s = -2; /* unknown words and specials are no keys */
        else
            r->known++;
    }
    for (size_t i = 0; i < rest;) {
        const char *w = t + i, *sp = memchr(w, ' ', rest - i);
        size_t wl = sp ? (size_t)(sp - w) : rest - i;
        if (wl == 0 || (sp && i + wl + 1 == rest))
            return loom_error(LOOM_EFORMAT,
                              "%s:%lld: an empty target word (targets are separated by one space)",
                              name, lineno);
        i += wl + 1;
        int32_t v = loom_vocab_find(r->tgt, w, wl);
        if (v < 0 || s == -2)
            continue;
        if (s == -1) {
            r->always[v] = 1;
            r->known++;
            continue;
        }
        if (r->best > 0 && r->have[s] >= r->best)
            continue;
        if (r->n + 2 > r->cap) {
            int rc = loom_grow((void **)&r->pair, &r->cap, r->n + 2, sizeof *r->pair);
            if (rc < 0)
                return rc;
        }
        r->pair[r->n++] = s;
        r->pair[r->n++] = v;
        r->have[s]++;
    }
    return 0;
}

int loom_shortlist_read(loom_shortlist **out, const char *path, const loom_vocab *src,
                        const loom_vocab *tgt, int top, int best)
{
    *out = NULL;
    size_t Vs = loom_vocab_size(src), Vt = loom_vocab_size(tgt);
    if (Vs < NSPECIAL || Vt < NSPECIAL || Vs > INT32_MAX || Vt > INT32_MAX)
        return loom_error(LOOM_EINVAL, "%s: the vocabularies lack the special words", path);
    if (top < 0 || best < 0)
        return loom_error(LOOM_EINVAL, "%s: negative top (%d) or best (%d)", path, top, best);
    loom_shortlist *s = loom_calloc(1, sizeof *s);
    reading r = {.src = src, .tgt = tgt, .best = best};
    r.have = loom_calloc(Vs, sizeof(int));
    if (!s || !r.have) {
        free(s);
        free(r.have);
        return LOOM_ENOMEM;
    }
    s->Vs = (int)Vs, s->Vt = (int)Vt;
    s->top = top < NSPECIAL ? NSPECIAL : top > (int)Vt ? (int)Vt : top;
    s->off = loom_calloc(Vs + 1, sizeof(size_t));
    s->always = r.always = loom_calloc(Vt, 1);
    int rc = !s->off || !s->always ? LOOM_ENOMEM : 0;
    if (!rc)
        rc = loom_reader_each_line(path, SHORTLIST_LINE_MAX, table_line, &r, "holds no entry");
    if (!rc && r.known == 0)
        rc = loom_error(LOOM_EFORMAT, "%s: none of its source words is in the model's vocabulary",
                        path);
    size_t ne = r.n / 2;
    if (!rc && !(s->tgt = loom_malloc(ne + 1, sizeof(int))))
        rc = LOOM_ENOMEM;
    if (!rc) {
        /* per-source lists in file order: counts, offsets, then a stable fill */
        for (size_t k = 0; k < ne; k++)
            s->off[r.pair[2 * k] + 1]++;
        for (size_t i = 0; i < Vs; i++)
            s->off[i + 1] += s->off[i];
        memset(r.have, 0, Vs * sizeof(int));
        for (size_t k = 0; k < ne; k++) {
            int32_t a = r.pair[2 * k];
            s->tgt[s->off[a] + (size_t)r.have[a]++] = r.pair[2 * k + 1];
        }
        for (int v = 0; v < s->top; v++)
            s->always[v] = 1;
    }
    free(r.have);
    free(r.pair);
    if (rc) {
        loom_shortlist_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void loom_shortlist_free(loom_shortlist *s)
{
    if (!s)
        return;
    free(s->off);
    free(s->tgt);
    free(s->always);
    free(s);
}

int loom_shortlist_tgt_vocab(const loom_shortlist *s)
{
    return s->Vt;
}

size_t loom_shortlist_entries(const loom_shortlist *s)
{
    return s->off[s->Vs];
}

int loom_shortlist_candidates(const loom_shortlist *s, const int *src, size_t n, int *cand)
{
    /* cand doubles as the marks: -1 marks a candidate, then the marks are
     * compacted into the ids in increasing order */
    for (int v = 0; v < s->Vt; v++)
        cand[v] = s->always[v] ? -1 : 0;
    for (size_t i = 0; i < n; i++) {
        int a = src[i];
        if (a < NSPECIAL || a >= s->Vs)
            continue;
        for (size_t k = s->off[a]; k < s->off[a + 1]; k++)
            cand[s->tgt[k]] = -1;
    }
    int nc = 0;
    for (int v = 0; v < s->Vt; v++)
        if (cand[v] == -1)
            cand[nc++] = v;
    return nc;
}

/* ---- building ---- */

static int by_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int32_t t;
    uint32_t c;
    double dice;
} scored;

static int by_dice(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->dice != y->dice)
        return x->dice > y->dice ? -1 : 1;
    if (x->c != y->c)
        return x->c > y->c ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

/* The distinct non-special ids of ids[0..n) into out (sorted); their number. */
static size_t distinct(const int32_t *ids, size_t n, uint64_t *out, uint64_t *mark, uint64_t stamp)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= NSPECIAL && mark[ids[i]] != stamp)
            mark[ids[i]] = stamp, out[k++] = (uint64_t)ids[i];
    return k;
}

static int write_table(const char *out, const loom_seq_bundle *b, const uint64_t *keys, size_t nk,
                       const uint32_t *cs, const uint32_t *ct, int best, size_t *nsources)
{
    loom_writer *w;
    int rc = loom_writer_open(&w, out, LOOM_WRITE_AUTO);
    if (rc)
        return rc;
    scored *row = NULL;
    size_t cap = 0, written = 0;
    for (size_t i = 0; i < nk && !rc;) {
        uint32_t s = (uint32_t)(keys[i] >> 32);
        size_t n = 0;
        for (; i < nk && (uint32_t)(keys[i] >> 32) == s;) {
            uint32_t t = (uint32_t)keys[i], c = 0;
            for (; i < nk && keys[i] == (((uint64_t)s << 32) | t); i++)
                c++;
            if ((rc = loom_grow((void **)&row, &cap, n + 1, sizeof *row)) < 0)
                break;
            row[n++] = (scored){(int32_t)t, c, 2.0 * c / ((double)cs[s] + ct[t])};
        }
        if (rc)
            break;
        qsort(row, n, sizeof *row, by_dice);
        rc = loom_writer_printf(w, "%s\t", loom_vocab_word(b->vocab[0], (int32_t)s));
        for (size_t k = 0; k < n && k < (size_t)best && !rc; k++)
            rc =
                loom_writer_printf(w, "%s%s", k ? " " : "", loom_vocab_word(b->vocab[1], row[k].t));
        if (!rc)
            rc = loom_writer_puts(w, "\n");
        written++;
    }
    free(row);
    *nsources = written;
    return loom_writer_finish(w, rc);
}

int loom_shortlist_build(const char *pairs, const loom_seq_bundle *b, int best, const char *out,
                         size_t *nsources)
{
    *nsources = 0;
    if (best < 1)
        return loom_error(LOOM_EINVAL, "%s: best must be >= 1, not %d", out, best);
    loom_seq_pairs *p = NULL;
    loom_seq_corpus *c = NULL;
    const loom_subword *sw[2] = {b->subword[0], b->subword[1]};
    int rc = loom_seq_pairs_read_subword(&p, pairs, NULL, &b->tok[0], &b->tok[1], sw);
    if (!rc)
        rc = loom_seq_corpus_build(&c, p, b->vocab[0], b->vocab[1], 0);
    loom_seq_pairs_free(p);
    if (rc)
        return rc;
    size_t Vs = loom_vocab_size(b->vocab[0]), Vt = loom_vocab_size(b->vocab[1]);
    size_t V = Vs > Vt ? Vs : Vt, nk = 0, cap = 0;
    /* sentence counts of each word and the (source, target) keys of each
     * pair's distinct words, sorted so that equal keys are neighbours */
    uint32_t *cs = loom_calloc(Vs, sizeof *cs), *ct = loom_calloc(Vt, sizeof *ct);
    uint64_t *mark = loom_calloc(V, sizeof *mark), *us = loom_malloc(V, sizeof *us);
    uint64_t *ut = loom_malloc(V, sizeof *ut), *keys = NULL;
    if (!cs || !ct || !mark || !us || !ut)
        rc = LOOM_ENOMEM;
    for (size_t i = 0; i < c->n && !rc; i++) {
        const int32_t *s = c->ids[0] + c->off[0][i], *t = c->ids[1] + c->off[1][i];
        size_t ns = distinct(s, c->off[0][i + 1] - c->off[0][i], us, mark, 2 * i + 1);
        size_t nt = distinct(t, c->off[1][i + 1] - c->off[1][i], ut, mark, 2 * i + 2);
        for (size_t a = 0; a < ns; a++)
            cs[us[a]]++;
        for (size_t a = 0; a < nt; a++)
            ct[ut[a]]++;
        if ((rc = loom_grow((void **)&keys, &cap, nk + ns * nt + 1, sizeof *keys)) < 0)
            break;
        for (size_t a = 0; a < ns; a++)
            for (size_t d = 0; d < nt; d++)
                keys[nk++] = us[a] << 32 | ut[d];
    }
    if (!rc) {
        qsort(keys, nk, sizeof *keys, by_key);
        rc = write_table(out, b, keys, nk, cs, ct, best, nsources);
    }
    free(keys);
    free(cs);
    free(ct);
    free(mark);
    free(us);
    free(ut);
    loom_seq_corpus_free(c);
    return rc;
}

/* loom: parallel data for sequence models: reading pairs, tokenising,
 * ids, and length-bucketed shuffled batches. Words and ids only. */
#include "config.h"
#include "seq/data.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/reader.h"

#define LINE_MAX_BYTES (1u << 20)

struct loom_seq_pairs {
    size_t n, cap;
    uint32_t *start; /* (2n + 1): side k of pair i is tokens start[2i+k] .. start[2i+k+1] */
    size_t ntok, tokcap;
    uint32_t *tok; /* byte offset of each token in text (32 bits: memory is the limit) */
    char *text;
    size_t len, textcap;
    const loom_subword *sw[2]; /* while reading: the sides' subword models, or NULL */
};

static int on_token(void *ctx, const char *tok, size_t len)
{
    loom_seq_pairs *p = ctx;
    if (p->len + len + 1 > UINT32_MAX || p->ntok + 1 > UINT32_MAX)
        return loom_error(LOOM_EINVAL, "more than 4 GB of tokens in the training pairs");
    if (loom_grow((void **)&p->tok, &p->tokcap, p->ntok + 1, sizeof(uint32_t)) ||
        loom_grow((void **)&p->text, &p->textcap, p->len + len + 1, 1))
        return LOOM_ENOMEM;
    p->tok[p->ntok++] = (uint32_t)p->len;
    memcpy(p->text + p->len, tok, len);
    p->text[p->len + len] = '\0';
    p->len += len + 1;
    return 0;
}

/* Tokenises one side of the pair being added; empty is an error. */
static int add_side(loom_seq_pairs *p, loom_tokenizer *t, const loom_subword *sw, const char *s,
                    size_t n, const char *path, long long line, const char *side)
{
    size_t before = p->ntok;
    int rc = sw ? loom_subword_tokenize(sw, s, n, on_token, p)
                : loom_tokenize_string(t, s, n, on_token, p);
    if (rc)
        return loom_error_prefix(rc, path, line);
    if (p->ntok == before)
        return loom_error(LOOM_EFORMAT, "%s:%lld: empty %s side", path, line, side);
    if (loom_grow((void **)&p->start, &p->cap, 2 * p->n + 3, sizeof(uint32_t)))
        return LOOM_ENOMEM;
    return 0;
}

static int add_pair(loom_seq_pairs *p, loom_tokenizer *ts, loom_tokenizer *tt, const char *src,
                    size_t ns, const char *tgt, size_t nt, const char *spath, long long sline,
                    const char *tpath, long long tline)
{
    int rc;
    if (loom_grow((void **)&p->start, &p->cap, 2 * p->n + 3, sizeof(uint32_t)))
        return LOOM_ENOMEM;
    size_t mark_tok = p->ntok, mark_len = p->len;
    p->start[2 * p->n] = (uint32_t)p->ntok;
    if ((rc = add_side(p, ts, p->sw[0], src, ns, spath, sline, "source")))
        goto undo;
    p->start[2 * p->n + 1] = (uint32_t)p->ntok;
    if ((rc = add_side(p, tt, p->sw[1], tgt, nt, tpath, tline, "target")))
        goto undo;
    p->n++;
    p->start[2 * p->n] = (uint32_t)p->ntok;
    return 0;
undo:
    p->ntok = mark_tok, p->len = mark_len;
    return rc;
}

typedef struct {
    loom_seq_pairs *p;
    loom_tokenizer *ts, *tt;
} tsv_ctx;

static int tsv_line(void *ctx, char *buf, size_t len, const char *name, long long line)
{
    tsv_ctx *c = ctx;
    char *tab = memchr(buf, '\t', len);
    if (!tab)
        return loom_error(LOOM_EFORMAT, "%s:%lld: no TAB between source and target", name, line);
    char *tgt = tab + 1;
    size_t nt = len - (size_t)(tgt - buf);
    char *tab2 = memchr(tgt, '\t', nt);
    if (tab2)
        nt = (size_t)(tab2 - tgt);
    return add_pair(c->p, c->ts, c->tt, buf, (size_t)(tab - buf), tgt, nt, name, line, name, line);
}

static int read_tsv(loom_seq_pairs *p, loom_tokenizer *ts, loom_tokenizer *tt, const char *path)
{
    tsv_ctx c = {p, ts, tt};
    return loom_reader_each_line(path, LINE_MAX_BYTES, tsv_line, &c, NULL);
}

static int read_two(loom_seq_pairs *p, loom_tokenizer *ts, loom_tokenizer *tt, const char *spath,
                    const char *tpath)
{
    loom_reader *rs = NULL, *rt = NULL;
    int rc = loom_reader_open(&rs, spath);
    if (!rc)
        rc = loom_reader_open(&rt, tpath);
    char *bs = NULL, *bt = NULL;
    size_t cs = 0, ct = 0, ls, lt;
    while (!rc) {
        int gs = loom_reader_getline(rs, &bs, &cs, &ls, LINE_MAX_BYTES);
        int gt = loom_reader_getline(rt, &bt, &ct, &lt, LINE_MAX_BYTES);
        if (gs < 0 || gt < 0) {
            rc = gs < 0 ? gs : gt;
            break;
        }
        if (gs == 0 && gt == 0)
            break;
        if (gs != gt) {
            loom_reader *shorter = gs == 0 ? rs : rt;
            rc = loom_error(LOOM_EFORMAT, "%s: ends at line %lld, before %s does",
                            loom_reader_path(shorter), loom_reader_line_number(shorter) + 1,
                            loom_reader_path(gs == 0 ? rt : rs));
            break;
        }
        if (ls == 0 && lt == 0)
            continue;
        rc = add_pair(p, ts, tt, bs, ls, bt, lt, loom_reader_path(rs), loom_reader_line_number(rs),
                      loom_reader_path(rt), loom_reader_line_number(rt));
    }
    free(bs);
    free(bt);
    loom_reader_close(rs);
    loom_reader_close(rt);
    return rc;
}

int loom_seq_pairs_read(loom_seq_pairs **out, const char *path, const char *tgt_path,
                        const loom_tok_opts *src_tok, const loom_tok_opts *tgt_tok)
{
    return loom_seq_pairs_read_subword(out, path, tgt_path, src_tok, tgt_tok, NULL);
}

int loom_seq_pairs_read_subword(loom_seq_pairs **out, const char *path, const char *tgt_path,
                                const loom_tok_opts *src_tok, const loom_tok_opts *tgt_tok,
                                const loom_subword *const *sw)
{
    *out = NULL;
    loom_seq_pairs *p = loom_calloc(1, sizeof *p);
    if (!p)
        return LOOM_ENOMEM;
    p->sw[0] = sw ? sw[0] : NULL, p->sw[1] = sw ? sw[1] : NULL;
    loom_tokenizer *ts = NULL, *tt = NULL;
    int rc = loom_tokenizer_new(&ts, src_tok);
    if (!rc)
        rc = loom_tokenizer_new(&tt, tgt_tok);
    if (!rc && loom_grow((void **)&p->start, &p->cap, 3, sizeof(uint32_t)))
        rc = LOOM_ENOMEM;
    if (!rc) {
        p->start[0] = 0;
        rc = tgt_path ? read_two(p, ts, tt, path, tgt_path) : read_tsv(p, ts, tt, path);
    }
    loom_tokenizer_free(ts);
    loom_tokenizer_free(tt);
    p->sw[0] = p->sw[1] = NULL;
    if (rc) {
        loom_seq_pairs_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void loom_seq_pairs_free(loom_seq_pairs *p)
{
    if (!p)
        return;
    free(p->start);
    free(p->tok);
    free(p->text);
    free(p);
}

size_t loom_seq_pairs_count(const loom_seq_pairs *p)
{
    return p->n;
}

size_t loom_seq_pairs_len(const loom_seq_pairs *p, size_t i, int side)
{
    return p->start[2 * i + side + 1] - p->start[2 * i + side];
}

const char *loom_seq_pairs_token(const loom_seq_pairs *p, size_t i, int side, size_t k)
{
    return p->text + p->tok[p->start[2 * i + side] + k];
}

int loom_seq_pairs_count_vocab(const loom_seq_pairs *p, int side, loom_vocab *v)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < loom_seq_pairs_len(p, i, side); k++) {
            const char *w = loom_seq_pairs_token(p, i, side, k);
            int rc = loom_vocab_add(v, w, strlen(w), 1);
            if (rc)
                return rc;
        }
    return 0;
}

/* ---- ids ---- */

void loom_seq_corpus_free(loom_seq_corpus *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->tgt_text && i < c->n; i++)
        free(c->tgt_text[i]);
    free(c->tgt_text);
    for (int s = 0; s < 2; s++) {
        free(c->off[s]);
        free(c->ids[s]);
    }
    free(c);
}

int loom_seq_corpus_build(loom_seq_corpus **out, const loom_seq_pairs *p, const loom_vocab *src,
                          const loom_vocab *tgt, int max_len)
{
    *out = NULL;
    loom_seq_corpus *c = loom_calloc(1, sizeof *c);
    if (!c)
        return LOOM_ENOMEM;
    const loom_vocab *v[2] = {src, tgt};
    size_t side_tokens[2] = {0, 0};
    for (size_t i = 0; i < p->n; i++)
        for (int s = 0; s < 2; s++)
            side_tokens[s] += loom_seq_pairs_len(p, i, s);
    for (int s = 0; s < 2; s++) {
        c->off[s] = loom_malloc(p->n + 1, sizeof(size_t));
        c->ids[s] = loom_malloc(side_tokens[s] + 1, sizeof(int32_t));
        if (!c->off[s] || !c->ids[s]) {
            loom_seq_corpus_free(c);
            return LOOM_ENOMEM;
        }
        c->off[s][0] = 0;
    }
    for (size_t i = 0; i < p->n; i++) {
        size_t l0 = loom_seq_pairs_len(p, i, 0), l1 = loom_seq_pairs_len(p, i, 1);
        if (max_len > 0 && (l0 > (size_t)max_len || l1 > (size_t)max_len)) {
            c->dropped++;
            continue;
        }
        for (int s = 0; s < 2; s++) {
            size_t o = c->off[s][c->n];
            for (size_t k = 0; k < loom_seq_pairs_len(p, i, s); k++) {
                const char *w = loom_seq_pairs_token(p, i, s, k);
                int32_t id = loom_vocab_find(v[s], w, strlen(w));
                if (id < 0) {
                    id = LOOM_UNK;
                    c->unknown[s]++;
                }
                c->ids[s][o++] = id;
            }
            c->tokens[s] += o - c->off[s][c->n];
            c->off[s][c->n + 1] = o;
        }
        c->n++;
    }
    *out = c;
    return 0;
}

int loom_seq_corpus_set_tgt_text(loom_seq_corpus *c, const loom_seq_pairs *p,
                                 const loom_subword *sw)
{
    if (c->n != p->n || c->tgt_text)
        return loom_error(LOOM_EINVAL, "the target text needs the corpus' own pairs, none dropped");
    size_t most = 0;
    for (size_t i = 0; i < p->n; i++)
        if (loom_seq_pairs_len(p, i, 1) > most)
            most = loom_seq_pairs_len(p, i, 1);
    const char **pieces = loom_malloc(most + 1, sizeof *pieces);
    c->tgt_text = loom_calloc(c->n + 1, sizeof *c->tgt_text);
    int rc = pieces && c->tgt_text ? 0 : LOOM_ENOMEM;
    for (size_t i = 0; i < p->n && !rc; i++) {
        size_t n = loom_seq_pairs_len(p, i, 1);
        for (size_t k = 0; k < n; k++)
            pieces[k] = loom_seq_pairs_token(p, i, 1, k);
        rc = loom_subword_pieces_text(sw, pieces, (int)n, &c->tgt_text[i]);
    }
    free(pieces);
    return rc;
}

typedef struct {
    const loom_vocab *v;
    int32_t **ids;
    size_t *n, *cap;
} sentence_ctx;

static int on_sentence_token(void *ctx, const char *tok, size_t len)
{
    sentence_ctx *s = ctx;
    if (loom_grow((void **)s->ids, s->cap, *s->n + 1, sizeof(int32_t)))
        return LOOM_ENOMEM;
    int32_t id = loom_vocab_find(s->v, tok, len);
    (*s->ids)[(*s->n)++] = id < 0 ? LOOM_UNK : id;
    return 0;
}

int loom_seq_encode_sentence(loom_tokenizer *t, const loom_vocab *v, const char *s, size_t len,
                             int32_t **ids, size_t *n, size_t *cap)
{
    sentence_ctx ctx = {v, ids, n, cap};
    *n = 0;
    return loom_tokenize_string(t, s, len, on_sentence_token, &ctx);
}

/* ---- batches ---- */

struct loom_seq_batcher {
    const loom_seq_corpus *c;
    int batch;
    uint64_t seed;
    size_t *order;  /* pair indices of the epoch, batch after batch */
    size_t *starts; /* (nbatches + 1) */
    size_t nbatches;
    int parts; /* loom_seq_batcher_set_parts; 0: rows in window order */
    loom_seq_batch b;
    size_t bcap; /* capacity of the id buffers in b */
};

int loom_seq_batcher_new(loom_seq_batcher **out, const loom_seq_corpus *c, int batch, uint64_t seed)
{
    *out = NULL;
    if (batch < 1)
        return loom_error(LOOM_EINVAL, "batch size must be positive");
    if (c->n == 0)
        return loom_error(LOOM_EINVAL, "no training pairs");
    loom_seq_batcher *bt = loom_calloc(1, sizeof *bt);
    if (!bt)
        return LOOM_ENOMEM;
    bt->c = c, bt->batch = batch, bt->seed = seed;
    bt->order = loom_malloc(c->n, sizeof(size_t));
    bt->starts = loom_malloc(c->n / batch + 2, sizeof(size_t));
    if (!bt->order || !bt->starts) {
        loom_seq_batcher_free(bt);
        return LOOM_ENOMEM;
    }
    loom_seq_batcher_epoch(bt, 0, 0);
    *out = bt;
    return 0;
}

void loom_seq_batcher_free(loom_seq_batcher *bt)
{
    if (!bt)
        return;
    free(bt->order);
    free(bt->starts);
    loom_seq_batch_release(&bt->b);
    free(bt);
}

static const loom_seq_corpus *sort_corpus; /* qsort has no context argument */

static size_t pair_len(const loom_seq_corpus *c, size_t i, int s)
{
    return c->off[s][i + 1] - c->off[s][i];
}

static int by_length(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const loom_seq_corpus *c = sort_corpus;
    size_t li = pair_len(c, i, 0), lj = pair_len(c, j, 0);
    if (li != lj)
        return li < lj ? -1 : 1;
    li = pair_len(c, i, 1), lj = pair_len(c, j, 1);
    if (li != lj)
        return li < lj ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* the longer target first, then the earlier pair */
static int by_target_desc(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t li = pair_len(sort_corpus, i, 1), lj = pair_len(sort_corpus, j, 1);
    if (li != lj)
        return li > lj ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Orders the n pairs of a batch for P workers that take contiguous shares
 * of its rows (share g: rows [n g / P, n (g + 1) / P), train.c's split):
 * by target length, longest first, dealt in turn to the shares, so that
 * each share runs longest first (the decoder skips the rows whose
 * sentences have ended, model.c's step_rows) and the shares hold alike
 * lengths (their work is even). fill: P counters. */
static void deal_rows(size_t *idx, size_t n, int P, size_t *fill)
{
    qsort(idx, n, sizeof *idx, by_target_desc);
    size_t *sorted = idx + n; /* the scratch after the batch's slice */
    memcpy(sorted, idx, n * sizeof *idx);
    for (int g = 0; g < P; g++)
        fill[g] = 0;
    for (size_t r = 0, g = 0; r < n; r++, g = (g + 1) % (size_t)P) {
        while (fill[g] == n * (g + 1) / P - n * g / P) /* share g is full */
            g = (g + 1) % (size_t)P;
        idx[n * g / P + fill[g]++] = sorted[r];
    }
}

static void shuffle(size_t *a, size_t n, loom_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = loom_rng_below(rng, (uint32_t)i);
        size_t t = a[i - 1];
        a[i - 1] = a[j], a[j] = t;
    }
}

/* Shuffle, then sort windows of 64 batches by length so a batch holds
 * similar lengths (little padding), then shuffle the batches. */
void loom_seq_batcher_epoch(loom_seq_batcher *bt, int epoch, int shuf)
{
    const loom_seq_corpus *c = bt->c;
    size_t n = c->n, B = (size_t)bt->batch, window = 64 * B;
    loom_rng rng;
    loom_rng_seed(&rng, bt->seed, 1000 + (uint64_t)epoch);
    for (size_t i = 0; i < n; i++)
        bt->order[i] = i;
    if (shuf)
        shuffle(bt->order, n, &rng);
    sort_corpus = c;
    for (size_t w = 0; w < n; w += window)
        qsort(bt->order + w, n - w < window ? n - w : window, sizeof(size_t), by_length);
    bt->nbatches = 0;
    for (size_t s = 0; s < n; s += B)
        bt->starts[bt->nbatches++] = s;
    bt->starts[bt->nbatches] = n;
    if (shuf && bt->nbatches > 1) {
        /* shuffle batch order: permute the start indices, keep ends implicit */
        size_t *perm = malloc(bt->nbatches * sizeof *perm);
        size_t *copy = malloc(n * sizeof *copy);
        if (perm && copy) {
            for (size_t k = 0; k < bt->nbatches; k++)
                perm[k] = k;
            shuffle(perm, bt->nbatches, &rng);
            size_t o = 0;
            size_t *starts = malloc((bt->nbatches + 1) * sizeof *starts);
            if (starts) {
                for (size_t k = 0; k < bt->nbatches; k++) {
                    size_t a = bt->starts[perm[k]], e = bt->starts[perm[k] + 1];
                    starts[k] = o;
                    memcpy(copy + o, bt->order + a, (e - a) * sizeof(size_t));
                    o += e - a;
                }
                starts[bt->nbatches] = n;
                memcpy(bt->order, copy, n * sizeof(size_t));
                memcpy(bt->starts, starts, (bt->nbatches + 1) * sizeof(size_t));
                free(starts);
            }
        }
        free(perm);
        free(copy);
    }
    if (bt->parts > 0) {
        size_t *tmp = malloc(2 * B * sizeof *tmp), *fill = malloc(B * sizeof *fill);
        for (size_t k = 0; tmp && fill && k < bt->nbatches; k++) {
            size_t a = bt->starts[k], e = bt->starts[k + 1];
            int P = (size_t)bt->parts < e - a ? bt->parts : (int)(e - a);
            memcpy(tmp, bt->order + a, (e - a) * sizeof *tmp);
            deal_rows(tmp, e - a, P, fill);
            memcpy(bt->order + a, tmp, (e - a) * sizeof *tmp);
        }
        free(tmp);
        free(fill);
    }
}

void loom_seq_batcher_set_parts(loom_seq_batcher *bt, int parts)
{
    bt->parts = parts;
}

size_t loom_seq_batcher_count(const loom_seq_batcher *bt)
{
    return bt->nbatches;
}

void loom_seq_batch_release(loom_seq_batch *b)
{
    free(b->src);
    free(b->src_lens);
    free(b->tgt_in);
    free(b->tgt_out);
    free(b->tgt_lens);
    memset(b, 0, sizeof *b);
}

/* Lays out a batch in b's buffers, reallocating them when too small. */
static int fill_batch(loom_seq_batch *b, size_t *bcap, const loom_seq_corpus *c, const size_t *idx,
                      int n)
{
    int S = 1, T = 1;
    for (int k = 0; k < n; k++) {
        int ls = (int)pair_len(c, idx[k], 0), lt = (int)pair_len(c, idx[k], 1) + 1;
        S = ls > S ? ls : S;
        T = lt > T ? lt : T;
    }
    size_t need = (size_t)n * (S > T ? S : T);
    if (need > *bcap || !b->src_lens) {
        loom_seq_batch_release(b);
        b->src = loom_malloc(need, sizeof(int));
        b->tgt_in = loom_malloc(need, sizeof(int));
        b->tgt_out = loom_malloc(need, sizeof(int));
        b->src_lens = loom_malloc(need + 1, sizeof(int));
        b->tgt_lens = loom_malloc(need + 1, sizeof(int));
        if (!b->src || !b->tgt_in || !b->tgt_out || !b->src_lens || !b->tgt_lens) {
            loom_seq_batch_release(b);
            *bcap = 0;
            return LOOM_ENOMEM;
        }
        *bcap = need;
    }
    b->n = n, b->src_len = S, b->tgt_len = T;
    for (int k = 0; k < n; k++) {
        size_t i = idx[k];
        int ls = (int)pair_len(c, i, 0), lt = (int)pair_len(c, i, 1);
        const int32_t *s = c->ids[0] + c->off[0][i], *t = c->ids[1] + c->off[1][i];
        int *src = b->src + (size_t)k * S, *ti = b->tgt_in + (size_t)k * T;
        int *to = b->tgt_out + (size_t)k * T;
        for (int j = 0; j < S; j++)
            src[j] = j < ls ? s[j] : LOOM_PAD;
        for (int j = 0; j < T; j++) {
            ti[j] = j == 0 ? LOOM_BOS : j <= lt ? t[j - 1] : LOOM_PAD;
            to[j] = j < lt ? t[j] : j == lt ? LOOM_EOS : LOOM_PAD;
        }
        b->src_lens[k] = ls;
        b->tgt_lens[k] = lt + 1;
    }
    return 0;
}

int loom_seq_batcher_get(loom_seq_batcher *bt, size_t k, loom_seq_batch *b)
{
    if (k >= bt->nbatches)
        return loom_error(LOOM_EINVAL, "batch %zu asked of an epoch of %zu", k, bt->nbatches);
    size_t s = bt->starts[k], e = bt->starts[k + 1];
    int rc = fill_batch(&bt->b, &bt->bcap, bt->c, bt->order + s, (int)(e - s));
    *b = bt->b;
    return rc;
}

int loom_seq_batch_make(loom_seq_batch *b, const loom_seq_corpus *c, const size_t *idx, int n)
{
    size_t cap = 0;
    memset(b, 0, sizeof *b);
    return fill_batch(b, &cap, c, idx, n);
}

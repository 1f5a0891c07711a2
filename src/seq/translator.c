/* loom: the translator (translator.h). Sentences in, translations out:
 * tokenise with the first model's source tokenizer, map the tokens to each
 * member's source ids, sort by length, decode batches on threads (through
 * loom_parallel_run, each with a workspace from the pool), and give every
 * hypothesis its words, text and an alignment cut to its own sentence. Prints nothing; knows no
 * option syntax (tools/translate.c does). */
#include "config.h"
#include "seq/translator.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/parallel.h"
#include "base/reader.h"
#include "base/writer.h"
#include "seq/data.h"
#include "seq/stream.h"

/* What one thread needs to translate: a workspace per member, a tokenizer,
 * the padded batch and the tokens of the sentence being read. */
typedef struct worker {
    loom_seq_work *w[LOOM_SEQ_MAX_ENSEMBLE];
    loom_tokenizer *tok;
    int *src; /* members x batch x longest source */
    size_t src_cap;
    char *tokbuf; /* the tokens of one sentence, NUL-separated */
    size_t tokbuf_len, tokbuf_cap;
    size_t *tokoff; /* their offsets in tokbuf */
    size_t ntok, tokoff_cap;
} worker;

struct loom_translator {
    loom_translate_opts o;
    int nm;
    loom_seq_bundle *b[LOOM_SEQ_MAX_ENSEMBLE];
    loom_seq_model *models[LOOM_SEQ_MAX_ENSEMBLE];
    int same_src[LOOM_SEQ_MAX_ENSEMBLE]; /* 1: the member reads the first model's source ids */
    loom_seq_bundle *owned;              /* the bundles loom_translator_open loaded */
    /* idle workers; a call takes one per thread and gives it back */
    pthread_mutex_t lock;
    worker **pool;
    int npool, pool_cap;
};

void loom_translate_defaults(loom_translate_opts *o)
{
    memset(o, 0, sizeof *o);
    loom_seq_decode_defaults(&o->decode);
    o->batch = 64;
    o->threads = 1;
}

/* ---- workers ---- */

static void worker_free(worker *wk)
{
    if (!wk)
        return;
    for (int e = 0; e < LOOM_SEQ_MAX_ENSEMBLE; e++)
        loom_seq_work_free(wk->w[e]);
    loom_tokenizer_free(wk->tok);
    free(wk->src);
    free(wk->tokbuf);
    free(wk->tokoff);
    free(wk);
}

/* A worker from the pool, or a new one when all are busy. */
static int worker_take(loom_translator *t, worker **out)
{
    pthread_mutex_lock(&t->lock);
    *out = t->npool > 0 ? t->pool[--t->npool] : NULL;
    pthread_mutex_unlock(&t->lock);
    if (*out)
        return 0;
    worker *wk = loom_calloc(1, sizeof *wk);
    if (!wk)
        return LOOM_ENOMEM;
    int rc = loom_tokenizer_new(&wk->tok, &t->b[0]->tok[0]);
    for (int e = 0; e < t->nm && !rc; e++)
        rc = loom_seq_work_new(&wk->w[e], t->models[e]);
    if (rc) {
        worker_free(wk);
        return rc;
    }
    *out = wk;
    return 0;
}

static void worker_give(loom_translator *t, worker *wk)
{
    if (!wk)
        return;
    pthread_mutex_lock(&t->lock);
    if (t->npool == t->pool_cap) {
        int cap = t->pool_cap ? 2 * t->pool_cap : 4;
        worker **p = loom_realloc(t->pool, cap, sizeof *p);
        if (p)
            t->pool = p, t->pool_cap = cap;
    }
    if (t->npool < t->pool_cap) {
        t->pool[t->npool++] = wk;
        wk = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    worker_free(wk); /* the pool could not grow: not kept */
}

/* ---- making a translator ---- */

static int same_tok(const loom_tok_opts *a, const loom_tok_opts *b)
{
    return a->keep_case == b->keep_case && a->punct == b->punct && a->invalid == b->invalid &&
           a->pretokenized == b->pretokenized && a->chars == b->chars;
}

/* 1 when both are NULL or hold the same serialized model. */
static int same_subword(const loom_subword *a, const loom_subword *b)
{
    size_t na, nb;
    if (!a || !b)
        return a == b;
    const void *x = loom_subword_bytes(a, &na), *y = loom_subword_bytes(b, &nb);
    return na == nb && memcmp(x, y, na) == 0;
}

static int check_opts(const loom_translate_opts *o)
{
    const loom_seq_decode_opts *d = &o->decode;
    if (d->beam < 1 || d->nbest < 1 || d->nbest > d->beam)
        return loom_error(LOOM_EINVAL, "beam must be >= 1 and n-best between 1 and the beam");
    if (o->batch < 1 || o->threads < 1 || o->threads > LOOM_TRANSLATE_MAX_THREADS)
        return loom_error(LOOM_EINVAL, "batch must be >= 1 and threads between 1 and %d",
                          LOOM_TRANSLATE_MAX_THREADS);
    return 0;
}

/* names: the members' files for messages, or NULL ("ensemble member N"). */
static int make(loom_translator **out, loom_seq_bundle *const *models, const char *const *names,
                int n, const loom_translate_opts *o)
{
    *out = NULL;
    if (n < 1 || n > LOOM_SEQ_MAX_ENSEMBLE)
        return loom_error(LOOM_EINVAL, "a translator takes 1 to %d models, not %d",
                          LOOM_SEQ_MAX_ENSEMBLE, n);
    int rc = check_opts(o);
    if (rc)
        return rc;
    for (int e = 1; e < n; e++) {
        char who[64];
        if (!names)
            snprintf(who, sizeof who, "ensemble member %d", e + 1);
        const char *name = names ? names[e] : who, *first = names ? names[0] : "the first model";
        if (!loom_vocab_same(models[e]->vocab[1], models[0]->vocab[1]))
            return loom_error(LOOM_EINVAL,
                              "%s: its target vocabulary differs from %s's (the models of an "
                              "ensemble must share it)",
                              name, first);
        if (!same_tok(&models[e]->tok[0], &models[0]->tok[0]))
            return loom_error(LOOM_EINVAL,
                              "%s: its source tokenizer options differ from %s's (the models of "
                              "an ensemble must read the same tokens)",
                              name, first);
        for (int side = 0; side < 2; side++)
            if (!same_subword(models[e]->subword[side], models[0]->subword[side]))
                return loom_error(LOOM_EINVAL,
                                  "%s: its %s subword model differs from %s's (the models of an "
                                  "ensemble must read and write the same pieces)",
                                  name, side ? "target" : "source", first);
    }
    loom_translator *t = loom_calloc(1, sizeof *t);
    if (!t)
        return LOOM_ENOMEM;
    t->o = *o;
    t->nm = n;
    pthread_mutex_init(&t->lock, NULL);
    for (int e = 0; e < n && !rc; e++) {
        t->b[e] = models[e];
        t->models[e] = models[e]->model;
        t->same_src[e] = loom_vocab_same(models[e]->vocab[0], models[0]->vocab[0]);
        rc = loom_seq_model_prepare_decoding(t->models[e]);
    }
    /* a first worker, so that a call can only fail on its own input */
    worker *wk = NULL;
    if (!rc && !(rc = worker_take(t, &wk)))
        worker_give(t, wk);
    if (rc) {
        loom_translator_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int loom_translator_new(loom_translator **out, loom_seq_bundle *const *models, int n,
                        const loom_translate_opts *o)
{
    return make(out, models, NULL, n, o);
}

int loom_translator_open(loom_translator **out, const char *const *paths, int n,
                         const loom_translate_opts *o)
{
    *out = NULL;
    if (n < 1 || n > LOOM_SEQ_MAX_ENSEMBLE)
        return loom_error(LOOM_EINVAL, "a translator takes 1 to %d models, not %d",
                          LOOM_SEQ_MAX_ENSEMBLE, n);
    loom_seq_bundle *owned = loom_calloc(n, sizeof *owned), *ptrs[LOOM_SEQ_MAX_ENSEMBLE];
    if (!owned)
        return LOOM_ENOMEM;
    int rc = 0, loaded = 0;
    for (; loaded < n && !rc; loaded++) {
        ptrs[loaded] = &owned[loaded];
        rc = loom_seq_file_load(&owned[loaded], paths[loaded], NULL);
    }
    if (!rc)
        rc = make(out, ptrs, paths, n, o);
    if (rc) {
        for (int e = 0; e < loaded; e++)
            loom_seq_bundle_free(&owned[e]);
        free(owned);
        return rc;
    }
    (*out)->owned = owned;
    return 0;
}

void loom_translator_free(loom_translator *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->npool; i++)
        worker_free(t->pool[i]);
    free(t->pool);
    pthread_mutex_destroy(&t->lock);
    for (int e = 0; t->owned && e < t->nm; e++)
        loom_seq_bundle_free(&t->owned[e]);
    free(t->owned);
    free(t);
}

const loom_translate_opts *loom_translator_opts(const loom_translator *t)
{
    return &t->o;
}

void loom_translator_set_shortlist(loom_translator *t, const loom_shortlist *sl)
{
    t->o.decode.shortlist = sl;
}

const loom_vocab *loom_translator_vocab(const loom_translator *t, int side)
{
    return t->b[0]->vocab[side ? 1 : 0];
}

/* ---- reading a sentence ---- */

static int collect_token(void *ctx, const char *tok, size_t len)
{
    worker *wk = ctx;
    if (wk->ntok == wk->tokoff_cap) {
        size_t cap = wk->tokoff_cap ? 2 * wk->tokoff_cap : 64;
        size_t *p = loom_realloc(wk->tokoff, cap, sizeof *p);
        if (!p)
            return LOOM_ENOMEM;
        wk->tokoff = p, wk->tokoff_cap = cap;
    }
    if (wk->tokbuf_len + len + 1 > wk->tokbuf_cap) {
        size_t cap = 2 * (wk->tokbuf_len + len + 1);
        char *p = loom_realloc(wk->tokbuf, cap, 1);
        if (!p)
            return LOOM_ENOMEM;
        wk->tokbuf = p, wk->tokbuf_cap = cap;
    }
    wk->tokoff[wk->ntok++] = wk->tokbuf_len;
    memcpy(wk->tokbuf + wk->tokbuf_len, tok, len);
    wk->tokbuf[wk->tokbuf_len + len] = '\0';
    wk->tokbuf_len += len + 1;
    return 0;
}

static void translation_clear(loom_translation *tr)
{
    for (int j = 0; j < tr->n; j++) {
        loom_translation_hyp *h = &tr->hyps[j];
        loom_seq_hyps_free(&h->hyp, 1);
        free(h->words);
        free(h->text);
        free(h->word_align);
    }
    free(tr->hyps);
    free(tr->src_tokens); /* one block with the token text */
    free(tr->member_ids);
    memset(tr, 0, sizeof *tr);
}

void loom_translations_free(loom_translation *out, int n)
{
    for (int i = 0; out && i < n; i++)
        translation_clear(&out[i]);
}

/* Tokenises one sentence into tr: its tokens and each member's ids. */
static int read_sentence(const loom_translator *t, worker *wk, const char *s, size_t len,
                         loom_translation *tr)
{
    memset(tr, 0, sizeof *tr);
    wk->ntok = wk->tokbuf_len = 0;
    const loom_subword *sw = t->b[0]->subword[0];
    int rc = sw ? loom_subword_tokenize(sw, s, len, collect_token, wk)
                : loom_tokenize_string(wk->tok, s, len, collect_token, wk);
    if (rc < 0)
        return rc;
    size_t n = wk->ntok;
    tr->src_tokens = malloc((n + 1) * sizeof(char *) + wk->tokbuf_len + 1);
    tr->member_ids = loom_malloc((size_t)t->nm * n + 1, sizeof(int32_t));
    if (!tr->src_tokens || !tr->member_ids) {
        translation_clear(tr);
        return LOOM_ENOMEM;
    }
    char *text = (char *)(tr->src_tokens + n + 1);
    if (wk->tokbuf_len) /* tokbuf is NULL until a worker has read a token */
        memcpy(text, wk->tokbuf, wk->tokbuf_len);
    for (size_t k = 0; k < n; k++)
        tr->src_tokens[k] = text + wk->tokoff[k];
    tr->src_tokens[n] = NULL;
    tr->src_len = (int)n;
    tr->src_ids = tr->member_ids;
    for (int e = 0; e < t->nm; e++) {
        int32_t *ids = tr->member_ids + (size_t)e * n;
        if (e > 0 && t->same_src[e]) {
            memcpy(ids, tr->member_ids, n * sizeof(int32_t));
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            const char *w = tr->src_tokens[k];
            int32_t id = loom_vocab_find(t->b[e]->vocab[0], w, strlen(w));
            ids[k] = id < 0 ? LOOM_UNK : id;
        }
    }
    return 0;
}

/* ---- decoding a set of read sentences ---- */

/* The search over a set of sentences: sorted by length, longest first,
 * cut into batches that the threads take in turn. */
typedef struct {
    loom_translator *t;
    const loom_translate_opts *o;
    loom_translation *tr;
    const int *order; /* sentence of each rank */
    const int *lens;  /* source length of each rank */
    loom_seq_hyp *hyps;
    int *counts;
    loom_chunks batches; /* ranks with a non-empty sentence, a batch at a time */
    atomic_int failed;   /* set when a share fails: the others stop */
} search_job;

static int decode_batch(search_job *j, worker *wk, int r0, int nb)
{
    loom_translator *t = j->t;
    int S = j->lens[r0], nm = t->nm;
    size_t need = (size_t)nm * nb * S + 1;
    if (need > wk->src_cap) {
        int *p = loom_realloc(wk->src, need, sizeof(int));
        if (!p)
            return LOOM_ENOMEM;
        wk->src = p, wk->src_cap = need;
    }
    const int *src[LOOM_SEQ_MAX_ENSEMBLE];
    for (int e = 0; e < nm; e++) {
        int *pad = wk->src + (size_t)e * nb * S;
        src[e] = pad;
        for (int r = 0; r < nb; r++) {
            const loom_translation *tr = &j->tr[j->order[r0 + r]];
            const int32_t *ids = tr->member_ids + (size_t)e * tr->src_len;
            for (int q = 0; q < S; q++)
                pad[(size_t)r * S + q] = q < tr->src_len ? ids[q] : LOOM_PAD;
        }
    }
    int K = j->o->decode.nbest;
    return loom_seq_decode_ensemble(t->models, wk->w, nm, src, j->lens + r0, nb, S, &j->o->decode,
                                    j->hyps + (size_t)r0 * K, j->counts + r0);
}

/* One thread's share (loom_parallel_run): the next batch not yet taken,
 * until none is left (a thread that drew short sentences takes more
 * batches). Results go to fixed slots, so they do not depend on which
 * thread decoded what. */
static int search_share(void *ctx, int thread, int nthreads)
{
    (void)thread, (void)nthreads;
    search_job *j = ctx;
    worker *wk = NULL;
    size_t r0, r1;
    int rc = worker_take(j->t, &wk);
    while (!rc && !atomic_load(&j->failed) && loom_chunks_take(&j->batches, &r0, &r1))
        rc = decode_batch(j, wk, (int)r0, (int)(r1 - r0));
    worker_give(j->t, wk);
    if (rc)
        atomic_store(&j->failed, 1);
    return rc;
}

static int by_length_desc(const void *x, const void *y, void *ctx)
{
    const loom_translation *tr = ctx;
    int a = *(const int *)x, b = *(const int *)y;
    int la = tr[a].src_len, lb = tr[b].src_len;
    return la != lb ? (la > lb ? -1 : 1) : a - b;
}

/* Rows of attention over the padded batch become rows over the sentence's
 * own tokens, so that the result does not show its batch company. */
static void cut_align(loom_seq_hyp *h, int ns)
{
    if (!h->align || h->src_len == ns)
        return;
    int rows = h->len + h->finished;
    for (int i = 0; i < rows; i++)
        memmove(h->align + (size_t)i * ns, h->align + (size_t)i * h->src_len, ns * sizeof(float));
    h->src_len = ns;
}

void loom_translation_replace_unk(const loom_translation *t, loom_translation_hyp *h)
{
    if (!h->hyp.align || t->src_len < 1)
        return;
    for (int k = 0; k < h->hyp.len; k++) {
        if (h->hyp.ids[k] != LOOM_UNK)
            continue;
        const float *a = h->hyp.align + (size_t)k * h->hyp.src_len;
        int best =
            loom_seq_align_argmax(a, t->src_len < h->hyp.src_len ? t->src_len : h->hyp.src_len);
        h->words[k] = t->src_tokens[best];
    }
}

int loom_translation_merge_align(const loom_translation *t, loom_translation_hyp *h,
                                 const int *tgt_word, int ntgt, const int *src_word, int nsrc)
{
    const loom_seq_hyp *y = &h->hyp;
    int ns = t->src_len < y->src_len ? t->src_len : y->src_len;
    if (!y->align)
        return 0;
    if (ntgt < 0 || nsrc < 0 || (!src_word && nsrc != ns))
        return loom_error(LOOM_EINVAL, "merging alignments: %d output and %d source words", ntgt,
                          nsrc);
    for (int k = 0; k < y->len; k++)
        if (tgt_word[k] < 0 || tgt_word[k] >= ntgt)
            return loom_error(LOOM_EINVAL, "merging alignments: output piece %d in word %d of %d",
                              k, tgt_word[k], ntgt);
    for (int q = 0; src_word && q < ns; q++)
        if (src_word[q] < 0 || src_word[q] >= nsrc)
            return loom_error(LOOM_EINVAL, "merging alignments: source token %d in word %d of %d",
                              q, src_word[q], nsrc);
    float *a = loom_calloc((size_t)ntgt * nsrc + 1, sizeof(float));
    int *pieces = loom_calloc((size_t)ntgt + 1, sizeof(int));
    if (!a || !pieces) {
        free(a);
        free(pieces);
        return LOOM_ENOMEM;
    }
    for (int k = 0; k < y->len; k++) {
        float *row = a + (size_t)tgt_word[k] * nsrc;
        pieces[tgt_word[k]]++;
        for (int q = 0; q < ns; q++)
            row[src_word ? src_word[q] : q] += y->align[(size_t)k * y->src_len + q];
    }
    for (int i = 0; i < ntgt; i++)
        for (int q = 0; q < nsrc && pieces[i] > 1; q++)
            a[(size_t)i * nsrc + q] /= (float)pieces[i];
    free(pieces);
    free(h->word_align);
    h->word_align = a, h->word_len = ntgt, h->word_src_len = nsrc;
    return 0;
}

/* Word numbers of pieces: word[k] is the whitespace-separated word of the
 * decoded text that piece k belongs to; returns the count. A U+2581 "▁"
 * is a space: the next piece with text after it opens a word, and a piece
 * that is only spaces belongs to the word before it (or the first). */
static int piece_words(const char *const *pieces, int n, int *word)
{
    int w = -1, space = 1;
    for (int k = 0; k < n; k++) {
        const char *p = pieces[k];
        size_t len = strlen(p);
        while (loom_subword_piece_starts_word(p, len))
            p += 3, len -= 3, space = 1;
        if (len > 0 && space)
            w++, space = 0;
        word[k] = w < 0 ? 0 : w;
    }
    return w < 0 ? n > 0 : w + 1;
}

/* A subword model's output: the pieces decoded into raw text, and the
 * attention merged to words on the sides read as pieces. */
static int detokenise(const loom_translator *t, const loom_translation *tr, loom_translation_hyp *h)
{
    const loom_subword *src_sw = t->b[0]->subword[0], *tgt_sw = t->b[0]->subword[1];
    int n = h->hyp.len, ns = tr->src_len, rc = 0;
    int *word = loom_malloc((size_t)n + 1, sizeof *word);
    int *src_word = loom_malloc((size_t)ns + 1, sizeof *src_word);
    if (!word || !src_word) {
        rc = LOOM_ENOMEM;
        goto done;
    }
    int nw = n;
    if (tgt_sw) {
        char *text;
        if ((rc = loom_subword_pieces_text(tgt_sw, h->words, n, &text)))
            goto done;
        free(h->text);
        h->text = text;
        nw = piece_words(h->words, n, word);
    } else {
        for (int k = 0; k < n; k++)
            word[k] = k;
    }
    int nsw = src_sw ? piece_words(tr->src_tokens, ns, src_word) : ns;
    rc = loom_translation_merge_align(tr, h, word, nw, src_sw ? src_word : NULL, nsw);
done:
    free(word);
    free(src_word);
    return rc;
}

/* The words of a hypothesis, replace_unk, the text and the post-processing. */
static int finish_hyp(const loom_translator *t, const loom_translate_opts *o,
                      const loom_translation *tr, loom_translation_hyp *h)
{
    const loom_vocab *v = t->b[0]->vocab[1];
    int n = h->hyp.len;
    h->words = loom_malloc((size_t)n + 1, sizeof *h->words);
    if (!h->words)
        return LOOM_ENOMEM;
    for (int k = 0; k < n; k++)
        h->words[k] = loom_vocab_word(v, h->hyp.ids[k]);
    if (o->replace_unk)
        loom_translation_replace_unk(tr, h);
    /* words joined by spaces; characters (a target read as characters)
     * joined as they are, the white space token standing for a space */
    const loom_seq_bundle *b = t->b[0];
    int chars = b->tok[1].chars && !b->subword[1];
    size_t len = 1;
    for (int k = 0; k < n; k++)
        len += strlen(h->words[k]) + 1;
    if (!(h->text = malloc(len)))
        return LOOM_ENOMEM;
    char *p = h->text;
    for (int k = 0; k < n; k++) {
        const char *wd = h->words[k];
        size_t wl = strlen(wd);
        if (chars && strcmp(wd, LOOM_TOK_SPACE) == 0)
            wd = " ", wl = 1;
        else if (k && !chars)
            *p++ = ' ';
        memcpy(p, wd, wl);
        p += wl;
    }
    *p = '\0';
    int rc = 0;
    if (!o->pieces && (b->subword[0] || b->subword[1]))
        rc = detokenise(t, tr, h);
    return rc ? rc : o->postprocess ? o->postprocess(o->postprocess_ctx, tr, h) : 0;
}

/* Decodes the read sentences tr[0..n) and fills their hypotheses. */
static int decode_read(loom_translator *t, const loom_translate_opts *opts, loom_translation *tr,
                       int n)
{
    /* --replace-unk reads the attention: it says what an <unk> stands for */
    loom_translate_opts o = *opts;
    o.decode.align |= o.replace_unk;
    int K = o.decode.nbest, rc = 0;
    int *order = loom_malloc((size_t)n + 1, sizeof(int)), *lens = loom_malloc(n + 1, sizeof(int));
    int *counts = loom_calloc((size_t)n + 1, sizeof(int));
    loom_seq_hyp *hyps = loom_calloc((size_t)n * K + 1, sizeof *hyps);
    if (!order || !lens || !counts || !hyps) {
        rc = LOOM_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(int), by_length_desc, tr);
    int m = 0;
    while (m < n && tr[order[m]].src_len > 0)
        m++;
    for (int r = 0; r < m; r++)
        lens[r] = tr[order[r]].src_len;
    if (m > 0) {
        /* a thread only for a share that has a batch */
        int B = o.batch, threads = (int)(((long long)m + B - 1) / B);
        threads = threads < o.threads ? threads : o.threads;
        search_job j = {.t = t,
                        .o = &o,
                        .tr = tr,
                        .order = order,
                        .lens = lens,
                        .hyps = hyps,
                        .counts = counts};
        loom_chunks_init(&j.batches, (size_t)m, (size_t)B);
        atomic_init(&j.failed, 0);
        rc = loom_parallel_run(threads, search_share, &j);
    }
    for (int r = 0; r < m && !rc; r++) {
        loom_translation *s = &tr[order[r]];
        s->hyps = loom_calloc((size_t)counts[r] + 1, sizeof *s->hyps);
        if (!s->hyps) {
            rc = LOOM_ENOMEM;
            break;
        }
        for (int k = 0; k < counts[r]; k++) {
            s->hyps[k].hyp = hyps[(size_t)r * K + k];
            memset(&hyps[(size_t)r * K + k], 0, sizeof *hyps);
            s->n++;
            cut_align(&s->hyps[k].hyp, s->src_len);
            if ((rc = finish_hyp(t, &o, s, &s->hyps[k])))
                break;
        }
    }
done:
    for (int r = 0; hyps && counts && r < n; r++)
        loom_seq_hyps_free(&hyps[(size_t)r * K], counts[r]);
    free(hyps);
    free(counts);
    free(order);
    free(lens);
    return rc;
}

int loom_translator_translate(loom_translator *t, const char *const *src, const size_t *lens, int n,
                              loom_translation *out)
{
    return loom_translator_translate_with(t, &t->o, src, lens, n, out);
}

int loom_translator_translate_with(loom_translator *t, const loom_translate_opts *o,
                                   const char *const *src, const size_t *lens, int n,
                                   loom_translation *out)
{
    int rc = check_opts(o);
    if (rc)
        return rc;
    if (n < 0)
        return loom_error(LOOM_EINVAL, "a negative number of sentences (%d)", n);
    memset(out, 0, (size_t)n * sizeof *out);
    worker *wk = NULL;
    rc = worker_take(t, &wk);
    for (int i = 0; i < n && !rc; i++) {
        rc = read_sentence(t, wk, src[i], lens ? lens[i] : strlen(src[i]), &out[i]);
        if (rc && rc != LOOM_ENOMEM)
            rc = loom_error(rc, "sentence %d: %s", i + 1, loom_error_message());
    }
    worker_give(t, wk);
    if (!rc)
        rc = decode_read(t, o, out, n);
    if (rc)
        loom_translations_free(out, n);
    return rc;
}

/* ---- files ---- */

int loom_translator_translate_file(loom_translator *t, const char *path, loom_translation_fn fn,
                                   void *ctx)
{
    /* a window of lines is read before decoding: 16 batches, so that
     * sorting by length leaves little padding; at batch 1 stdin streams
     * (each line answered before the next is read), while a file at batch
     * 1 on several threads is read 16 lines per thread, each sentence still
     * decoded on its own and the threads taking them in turn */
    long long B = t->o.batch;
    int window = B == 1 ? 1 : (int)(B * 16 < 16384 ? B * 16 : 16384);
    if (B == 1 && t->o.threads > 1 && strcmp(path, "-") != 0)
        window = t->o.threads * 16;
    if (window < B)
        window = (int)B;
    loom_translation *tr = loom_calloc(window, sizeof *tr);
    if (!tr)
        return LOOM_ENOMEM;
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc) {
        free(tr);
        return rc;
    }
    worker *wk = NULL;
    char *buf = NULL;
    size_t cap = 0, len;
    long long first = 1; /* the window's first line */
    int n = 0, more = 1;
    rc = worker_take(t, &wk);
    while (!rc && more) {
        rc = loom_reader_getline(r, &buf, &cap, &len, 1u << 20);
        more = rc == 1;
        if (rc < 0)
            break;
        rc = 0;
        if (more && (rc = read_sentence(t, wk, buf, len, &tr[n])) != 0) {
            rc = loom_error_prefix(rc, loom_reader_path(r), loom_reader_line_number(r));
            break;
        }
        n += more;
        if (n == 0 || (more && n < window))
            continue;
        /* the workspace goes back to the pool while the window decodes */
        worker_give(t, wk);
        wk = NULL;
        rc = decode_read(t, &t->o, tr, n);
        for (int i = 0; i < n && !rc; i++)
            rc = fn(ctx, first + i, &tr[i]);
        loom_translations_free(tr, n);
        first += n, n = 0;
        if (!rc && more)
            rc = worker_take(t, &wk);
    }
    loom_translations_free(tr, n);
    worker_give(t, wk);
    free(buf);
    free(tr);
    loom_reader_close(r);
    return rc;
}

/* ---- attention heat maps ---- */

/* A word, XML-escaped. */
static int svg_text(loom_writer *w, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        const char *e = *s == '<'   ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '&' ? "&amp;"
                        : *s == '"' ? "&quot;"
                                    : NULL;
        rc = e ? loom_writer_puts(w, e) : loom_writer_write(w, s, 1);
    }
    return rc;
}

static int svg_body(loom_writer *w, const loom_translator *t, const loom_translation *tr,
                    const loom_seq_hyp *h)
{
    int rows = h->len + h->finished, ns = tr->src_len, cell = 28, left = 120, top = 120;
    int rc = loom_writer_printf(w,
                                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                                "height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n",
                                left + cell * (ns > 0 ? ns : 1) + 10, top + cell * rows + 10);
    for (int j = 0; j < ns && !rc; j++) {
        rc = loom_writer_printf(w, "<text transform=\"translate(%d,%d) rotate(-60)\">",
                                left + j * cell + cell / 2, top - 6);
        rc = rc ? rc : svg_text(w, loom_vocab_word(t->b[0]->vocab[0], tr->src_ids[j]));
        rc = rc ? rc : loom_writer_puts(w, "</text>\n");
    }
    for (int i = 0; i < rows && !rc; i++) {
        rc = loom_writer_printf(w, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
                                top + i * cell + cell / 2 + 4);
        rc = rc ? rc
                : svg_text(w, i < h->len ? loom_vocab_word(t->b[0]->vocab[1], h->ids[i]) : "</s>");
        rc = rc ? rc : loom_writer_puts(w, "</text>\n");
        for (int j = 0; j < ns && !rc; j++) {
            float a = h->align ? h->align[(size_t)i * h->src_len + j] : 0;
            rc = loom_writer_printf(w,
                                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                                    "fill=\"#1f4e9c\" fill-opacity=\"%.3f\" stroke=\"#ddd\">"
                                    "<title>%.3f</title></rect>\n",
                                    left + j * cell, top + i * cell, cell, cell, a, a);
        }
    }
    return rc ? rc : loom_writer_puts(w, "</svg>\n");
}

int loom_translator_write_svg(const loom_translator *t, const loom_translation *tr,
                              const loom_translation_hyp *h, const char *path)
{
    loom_writer *w;
    int rc = loom_writer_open(&w, path, LOOM_WRITE_PLAIN);
    if (rc)
        return rc;
    if ((rc = svg_body(w, t, tr, &h->hyp)) != 0) {
        loom_writer_abort(w);
        return rc;
    }
    return loom_writer_commit(w);
}

/* ---- continuous batching ---- */

/* A sentence in a stream: its translation so far and whose it is. */
typedef struct {
    loom_translation tr;
    void *tag;
    int index;
} stream_sentence;

struct loom_translator_stream {
    loom_translator *t;
    loom_translate_opts o;
    worker *wk;
    loom_seq_stream *s;
    stream_sentence **wait; /* read, not encoded yet */
    size_t nwait, wait_cap;
    int size;
    int *lens;
    size_t lens_cap;
    loom_translator_stream_fn fn;
    void *ctx;
};

int loom_translator_stream_fits(const loom_translator *t, const loom_translate_opts *o)
{
    return t->nm == 1 && !o->replace_unk && loom_seq_stream_fits(&o->decode);
}

int loom_translator_stream_new(loom_translator_stream **out, loom_translator *t,
                               const loom_translate_opts *o, int cap)
{
    *out = NULL;
    int rc = check_opts(o);
    if (rc)
        return rc;
    /* the decoding options are the decoding stream's to check */
    if (t->nm != 1 || o->replace_unk)
        return loom_error(LOOM_EINVAL, "a translation stream runs one model, without replace_unk");
    loom_translator_stream *ts = loom_calloc(1, sizeof *ts);
    if (!ts)
        return LOOM_ENOMEM;
    ts->t = t, ts->o = *o;
    rc = loom_seq_stream_new(&ts->s, t->models[0], cap, &o->decode);
    if (!rc)
        rc = worker_take(t, &ts->wk);
    if (rc) {
        loom_translator_stream_free(ts);
        return rc;
    }
    *out = ts;
    return 0;
}

static void sentence_free(stream_sentence *x)
{
    if (!x)
        return;
    translation_clear(&x->tr);
    free(x);
}

void loom_translator_stream_free(loom_translator_stream *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->nwait; i++)
        sentence_free(ts->wait[i]);
    free(ts->wait);
    free(ts->lens);
    /* the sentences decoding are the decoding stream's tags */
    for (int i = 0; ts->s && i < loom_seq_stream_rows(ts->s); i++)
        sentence_free(loom_seq_stream_tag(ts->s, i));
    worker_give(ts->t, ts->wk);
    loom_seq_stream_free(ts->s);
    free(ts);
}

int loom_translator_stream_size(const loom_translator_stream *ts)
{
    return ts->size;
}

int loom_translator_stream_add(loom_translator_stream *ts, const char *const *src,
                               const size_t *lens, int n, void *tag)
{
    if (n <= 0)
        return 0;
    int rc = loom_grow((void **)&ts->wait, &ts->wait_cap, ts->nwait + (size_t)n, sizeof *ts->wait);
    if (rc)
        return rc;
    size_t first = ts->nwait;
    for (int i = 0; i < n && !rc; i++) {
        stream_sentence *x = loom_calloc(1, sizeof *x);
        if (!x) {
            rc = LOOM_ENOMEM;
            break;
        }
        x->tag = tag, x->index = i;
        rc = read_sentence(ts->t, ts->wk, src[i], lens ? lens[i] : strlen(src[i]), &x->tr);
        if (rc) {
            free(x);
            if (rc != LOOM_ENOMEM)
                rc = loom_error(rc, "sentence %d: %s", i + 1, loom_error_message());
            break;
        }
        ts->wait[ts->nwait++] = x;
    }
    if (rc) { /* none of them joins */
        for (size_t i = first; i < ts->nwait; i++)
            sentence_free(ts->wait[i]);
        ts->nwait = first;
        return rc;
    }
    ts->size += n;
    return 0;
}

/* Hands a sentence back (and frees its record); the callee owns the
 * translation from here. */
static int stream_hand(loom_translator_stream *ts, stream_sentence *x)
{
    ts->size--;
    int rc = ts->fn(ts->ctx, x->tag, x->index, &x->tr);
    free(x);
    return rc;
}

/* A hypothesis from the decoding stream: its words and text. */
static int stream_done(void *ctx, void *tag, loom_seq_hyp *h)
{
    loom_translator_stream *ts = ctx;
    stream_sentence *x = tag;
    loom_translation *tr = &x->tr;
    tr->hyps = loom_calloc(1, sizeof *tr->hyps);
    if (!tr->hyps) {
        loom_seq_hyps_free(h, 1);
        sentence_free(x);
        ts->size--;
        return LOOM_ENOMEM;
    }
    tr->hyps[0].hyp = *h;
    tr->n = 1;
    int rc = finish_hyp(ts->t, &ts->o, tr, &tr->hyps[0]);
    if (rc) {
        sentence_free(x);
        ts->size--;
        return rc;
    }
    return stream_hand(ts, x);
}

int loom_translator_stream_step(loom_translator_stream *ts, loom_translator_stream_fn fn, void *ctx)
{
    ts->fn = fn, ts->ctx = ctx;
    int rc = 0;
    if (ts->nwait > 0) {
        /* the sentences that joined: one encoder call, padded to the longest */
        int S = 1, n = 0;
        for (size_t i = 0; i < ts->nwait; i++)
            S = ts->wait[i]->tr.src_len > S ? ts->wait[i]->tr.src_len : S;
        size_t need = ts->nwait * (size_t)S + 1;
        if (need > ts->wk->src_cap) {
            int *p = loom_realloc(ts->wk->src, need, sizeof(int));
            if (!p)
                return LOOM_ENOMEM;
            ts->wk->src = p, ts->wk->src_cap = need;
        }
        if ((rc = loom_grow((void **)&ts->lens, &ts->lens_cap, ts->nwait, sizeof *ts->lens)))
            return rc;
        /* the sentences with tokens move to the front of wait; the others
         * (no tokens: nothing to translate) are answered now */
        for (size_t i = 0; i < ts->nwait; i++) {
            stream_sentence *x = ts->wait[i];
            if (x->tr.src_len == 0) {
                ts->wait[i] = NULL;
                if (!rc)
                    rc = stream_hand(ts, x);
                else
                    sentence_free(x), ts->size--;
                continue;
            }
            int *pad = ts->wk->src + (size_t)n * S;
            for (int q = 0; q < S; q++)
                pad[q] = q < x->tr.src_len ? x->tr.src_ids[q] : LOOM_PAD;
            ts->lens[n] = x->tr.src_len;
            ts->wait[n++] = x;
        }
        ts->nwait = (size_t)n;
        if (rc)
            return rc;
        rc = loom_seq_stream_add(ts->s, ts->wk->w[0], ts->wk->src, ts->lens, n, S,
                                 (void *const *)ts->wait);
        if (rc)
            return rc;
        ts->nwait = 0;
    }
    return loom_seq_stream_step(ts->s, stream_done, ts);
}

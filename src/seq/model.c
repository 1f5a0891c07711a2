/* loom: the encoder-decoder's forward and backward passes, from the core's
 * recurrent layers (core/rnn.h) and attention (core/attention.h). The
 * shape of the model is in model.h; this file is the arithmetic, written to
 * be read top to bottom like llm.c. It knows ids, not words or files.
 *
 * Layouts: the encoder is batch-major (B, S, C) as core/rnn.h wants; the
 * decoder keeps its per-step tensors time-major (T, B, C) so that a step's
 * rows are contiguous and all steps' rows form one GEMM operand. */
#include "config.h"
#include "seq/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "core/attention.h"
#include "core/blas.h"
#include "core/rnn.h"
#include "core/smallmm.h"
#include "core/vmath.h"

/* Target vocabularies up to this size take the out layer's input gradients
 * step by step (no (rows, H + Dc) buffer); larger ones in one GEMM. */
#define LOOM_SEQ_STEP_OUT_MAX 256

struct loom_seq_model {
    loom_seq_config c;
    loom_params *ps;
    int dirs, He, Dc, Dout, G; /* directions, encoder output, context, out-layer input, gates */
    loom_param *src_emb, *tgt_emb;
    loom_param *enc_p[LOOM_SEQ_MAX_LAYERS][2][4]; /* Wx Wh bx bh */
    loom_rnn enc[LOOM_SEQ_MAX_LAYERS][2];
    loom_param *bridge_w, *bridge_b;
    loom_param *attn_W, *attn_U, *attn_b, *attn_v;
    loom_attn attn;
    loom_param *dec_p[4];
    loom_rnn dec;
    loom_param *out_w, *out_b;
    /* decoding only (loom_seq_model_prepare_decoding): the per-word input
     * projections of the encoder's first layer (per direction, bias
     * included) and of the decoder's embedding share (no bias) */
    float *dec_tab_src[2], *dec_tab_tgt;
    /* replicas only: private copies of the parameters, pointing at the
     * master's values and at an own gradient block */
    loom_param *own;
    float *own_grads;
    size_t own_nfloats;
};

int loom_seq_config_check(const loom_seq_config *c)
{
    if ((int)c->cell < 0 || c->cell > LOOM_RNN_LSTM)
        return loom_error(LOOM_EINVAL, "unknown cell %d", c->cell);
    if ((int)c->attention < 0 || c->attention > LOOM_ATTN_GENERAL)
        return loom_error(LOOM_EINVAL, "unknown attention %d", c->attention);
    if (c->layers < 1 || c->layers > LOOM_SEQ_MAX_LAYERS)
        return loom_error(LOOM_EINVAL, "layers must be 1..%d, not %d", LOOM_SEQ_MAX_LAYERS,
                          c->layers);
    if (c->emb < 1 || c->hidden < 1 || c->emb > 65536 || c->hidden > 65536)
        return loom_error(LOOM_EINVAL, "embedding and hidden sizes must be 1..65536");
    if (c->attention == LOOM_ATTN_BAHDANAU && (c->attn_dim < 1 || c->attn_dim > 65536))
        return loom_error(LOOM_EINVAL, "attention size must be 1..65536, not %d", c->attn_dim);
    if (c->src_vocab < 5 || c->tgt_vocab < 5)
        return loom_error(LOOM_EINVAL, "vocabularies need the 4 specials and a word");
    if (c->tie_embeddings && c->src_vocab != c->tgt_vocab)
        return loom_error(LOOM_EINVAL, "tied embeddings need one vocabulary for both sides");
    if (c->dropout < 0 || c->dropout >= 1)
        return loom_error(LOOM_EINVAL, "dropout must be in [0, 1), not %g", c->dropout);
    if (c->attention == LOOM_ATTN_DOT && c->bidirectional)
        return loom_error(LOOM_EINVAL,
                          "dot attention needs the decoder's size (%d) to equal the "
                          "encoder's output size (%d): use --attention general or a "
                          "unidirectional encoder",
                          c->hidden, 2 * c->hidden);
    return 0;
}

/* ---- construction ---- */

static int add2(loom_seq_model *m, loom_param **p, const char *name, int r, int c)
{
    return loom_params_add2(m->ps, p, name, r, c);
}

static int add1(loom_seq_model *m, loom_param **p, const char *name, int n)
{
    return loom_params_add1(m->ps, p, name, n);
}

static int declare(loom_seq_model *m)
{
    const loom_seq_config *c = &m->c;
    int H = c->hidden, GH = m->G * H, rc = 0;
    char name[64];
    rc |= add2(m, &m->src_emb, "src_emb.weight", c->src_vocab, c->emb);
    if (c->tie_embeddings)
        m->tgt_emb = m->src_emb; /* gradients of both sides add up in one table */
    else
        rc |= add2(m, &m->tgt_emb, "tgt_emb.weight", c->tgt_vocab, c->emb);
    for (int l = 0; l < c->layers; l++) {
        int C = l == 0 ? c->emb : m->He;
        for (int d = 0; d < m->dirs; d++) {
            const char *sfx = d ? "_reverse" : "";
            snprintf(name, sizeof name, "encoder.weight_ih_l%d%s", l, sfx);
            rc |= add2(m, &m->enc_p[l][d][0], name, C, GH);
            snprintf(name, sizeof name, "encoder.weight_hh_l%d%s", l, sfx);
            rc |= add2(m, &m->enc_p[l][d][1], name, H, GH);
            snprintf(name, sizeof name, "encoder.bias_ih_l%d%s", l, sfx);
            rc |= add1(m, &m->enc_p[l][d][2], name, GH);
            snprintf(name, sizeof name, "encoder.bias_hh_l%d%s", l, sfx);
            rc |= add1(m, &m->enc_p[l][d][3], name, GH);
        }
    }
    rc |= add2(m, &m->bridge_w, "bridge.weight", m->He, H);
    rc |= add1(m, &m->bridge_b, "bridge.bias", H);
    if (c->attention == LOOM_ATTN_BAHDANAU) {
        rc |= add2(m, &m->attn_W, "attention.query.weight", H, c->attn_dim);
        rc |= add2(m, &m->attn_U, "attention.key.weight", m->He, c->attn_dim);
        rc |= add1(m, &m->attn_b, "attention.key.bias", c->attn_dim);
        rc |= add1(m, &m->attn_v, "attention.v.weight", c->attn_dim);
    } else if (c->attention == LOOM_ATTN_GENERAL) {
        rc |= add2(m, &m->attn_W, "attention.weight", H, m->He);
    }
    rc |= add2(m, &m->dec_p[0], "decoder.weight_ih", c->emb + m->Dc, GH);
    rc |= add2(m, &m->dec_p[1], "decoder.weight_hh", H, GH);
    rc |= add1(m, &m->dec_p[2], "decoder.bias_ih", GH);
    rc |= add1(m, &m->dec_p[3], "decoder.bias_hh", GH);
    rc |= add2(m, &m->out_w, "out.weight", m->Dout, c->tgt_vocab);
    rc |= add1(m, &m->out_b, "out.bias", c->tgt_vocab);
    return rc ? LOOM_EINVAL : 0;
}

static void bind_rnn(loom_rnn *r, loom_param **p, loom_rnn_cell cell, int C, int H, int reverse)
{
    r->cell = cell;
    r->C = C;
    r->H = H;
    r->reverse = reverse;
    r->Wx = p[0]->value, r->Wh = p[1]->value, r->bx = p[2]->value, r->bh = p[3]->value;
    r->dWx = p[0]->grad, r->dWh = p[1]->grad, r->dbx = p[2]->grad, r->dbh = p[3]->grad;
}

/* Points the core layers at the allocated parameters. */
static void bind(loom_seq_model *m)
{
    const loom_seq_config *c = &m->c;
    loom_rnn_cell cell = c->cell;
    for (int l = 0; l < c->layers; l++)
        for (int d = 0; d < m->dirs; d++)
            bind_rnn(&m->enc[l][d], m->enc_p[l][d], cell, l == 0 ? c->emb : m->He, c->hidden, d);
    bind_rnn(&m->dec, m->dec_p, cell, c->emb + m->Dc, c->hidden, 0);
    memset(&m->attn, 0, sizeof m->attn);
    m->attn.Dq = c->hidden;
    m->attn.Dk = m->He;
    if (c->attention == LOOM_ATTN_BAHDANAU) {
        m->attn.kind = LOOM_ATTN_BAHDANAU;
        m->attn.A = c->attn_dim;
        m->attn.W = m->attn_W->value, m->attn.dW = m->attn_W->grad;
        m->attn.U = m->attn_U->value, m->attn.dU = m->attn_U->grad;
        m->attn.b = m->attn_b->value, m->attn.db = m->attn_b->grad;
        m->attn.v = m->attn_v->value, m->attn.dv = m->attn_v->grad;
    } else if (c->attention == LOOM_ATTN_GENERAL) {
        m->attn.kind = LOOM_ATTN_GENERAL;
        m->attn.W = m->attn_W->value, m->attn.dW = m->attn_W->grad;
    } else {
        m->attn.kind = c->attention; /* dot, or none (never called) */
    }
}

/* PyTorch's defaults: nn.GRU/LSTM U(+-1/sqrt(H)) for every tensor,
 * nn.Linear U(+-1/sqrt(in)) for weight and bias, nn.Embedding N(0, 1). */
static void init_weights(loom_seq_model *m, uint64_t seed)
{
    loom_rng rng;
    loom_rng_seed(&rng, seed, 0);
    size_t n = loom_params_len(m->ps);
    float ah = 1.0f / sqrtf((float)m->c.hidden);
    for (size_t i = 0; i < n; i++) {
        loom_param *p = loom_params_at(m->ps, i);
        if (p == m->src_emb || p == m->tgt_emb)
            loom_init_normal(p->value, p->size, 1.0f, &rng);
        else if (strncmp(p->name, "encoder.", 8) == 0 || strncmp(p->name, "decoder.", 8) == 0)
            loom_init_uniform(p->value, p->size, ah, &rng);
        else if (p == m->bridge_b)
            loom_init_uniform(p->value, p->size, 1.0f / sqrtf((float)m->He), &rng);
        else if (p == m->out_b)
            loom_init_uniform(p->value, p->size, 1.0f / sqrtf((float)m->Dout), &rng);
        else if (p == m->attn_b || p == m->attn_v)
            loom_init_uniform(p->value, p->size, 1.0f / sqrtf((float)p->size), &rng);
        else /* (in, out) matrices: fan-in is the row count */
            loom_init_uniform(p->value, p->size, 1.0f / sqrtf((float)p->shape[0]), &rng);
    }
}

static int model_alloc(loom_seq_model **out, const loom_seq_config *c)
{
    *out = NULL;
    int rc = loom_seq_config_check(c);
    if (rc)
        return rc;
    loom_seq_model *m = loom_calloc(1, sizeof *m);
    if (!m)
        return LOOM_ENOMEM;
    m->c = *c;
    m->dirs = c->bidirectional ? 2 : 1;
    m->He = m->dirs * c->hidden;
    m->Dc = c->attention == LOOM_ATTN_NONE ? 0 : m->He;
    m->Dout = c->hidden + m->Dc + c->emb;
    m->G = loom_rnn_gates(c->cell);
    if ((rc = loom_params_new(&m->ps)) || (rc = declare(m)) || (rc = loom_params_alloc(m->ps))) {
        loom_seq_model_free(m);
        return rc;
    }
    bind(m);
    *out = m;
    return 0;
}

int loom_seq_model_new(loom_seq_model **out, const loom_seq_config *c, uint64_t seed)
{
    int rc = model_alloc(out, c);
    if (!rc)
        init_weights(*out, seed);
    return rc;
}

int loom_seq_model_new_zero(loom_seq_model **out, const loom_seq_config *c)
{
    return model_alloc(out, c);
}

/* The tables cost (V_src * dirs + V_tgt) * GH floats; above this many
 * bytes decoding does without them. */
#define DECODE_TABLES_MAX_BYTES (64u << 20)

int loom_seq_model_prepare_decoding(loom_seq_model *m)
{
    const loom_seq_config *c = &m->c;
    size_t GH = (size_t)m->G * c->hidden;
    for (int d = 0; d < 2; d++)
        free(m->dec_tab_src[d]), m->dec_tab_src[d] = NULL;
    free(m->dec_tab_tgt), m->dec_tab_tgt = NULL;
    if (((size_t)c->src_vocab * m->dirs + c->tgt_vocab) * GH * sizeof(float) >
        DECODE_TABLES_MAX_BYTES)
        return 0;
    for (int d = 0; d < m->dirs; d++) {
        if (!(m->dec_tab_src[d] = loom_aligned_alloc((size_t)c->src_vocab * GH, sizeof(float))))
            return LOOM_ENOMEM;
        loom_rnn_table(&m->enc[0][d], m->dec_tab_src[d], m->src_emb->value, c->src_vocab);
    }
    if (!(m->dec_tab_tgt = loom_aligned_alloc((size_t)c->tgt_vocab * GH, sizeof(float))))
        return LOOM_ENOMEM;
    loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, c->tgt_vocab, (int)GH, c->emb, 1.0f, m->tgt_emb->value,
              c->emb, m->dec.Wx, (int)GH, 0.0f, m->dec_tab_tgt, (int)GH);
    return 0;
}

void loom_seq_model_free(loom_seq_model *m)
{
    if (!m)
        return;
    if (m->own) {
        free(m->own);
        free(m->own_grads);
    } else {
        loom_params_free(m->ps);
        free(m->dec_tab_src[0]);
        free(m->dec_tab_src[1]);
        free(m->dec_tab_tgt);
    }
    free(m);
}

/* The replica's copy of master parameter p. */
static loom_param *remap(const loom_seq_model *m, loom_param *p)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < loom_params_len(m->ps); i++)
        if (loom_params_at(m->ps, i) == p)
            return &m->own[i];
    return NULL;
}

int loom_seq_model_replica(loom_seq_model **out, loom_seq_model *m)
{
    *out = NULL;
    loom_seq_model *r = loom_malloc(1, sizeof *r);
    if (!r)
        return LOOM_ENOMEM;
    *r = *m;
    r->dec_tab_src[0] = r->dec_tab_src[1] = r->dec_tab_tgt = NULL;
    size_t n = loom_params_len(m->ps), nf;
    float *base = loom_params_grads(m->ps, &nf);
    r->own = loom_calloc(n, sizeof *r->own);
    r->own_grads = loom_aligned_alloc(nf, sizeof(float));
    r->own_nfloats = nf;
    if (!r->own || !r->own_grads) {
        free(r->own);
        free(r->own_grads);
        free(r);
        return LOOM_ENOMEM;
    }
    memset(r->own_grads, 0, nf * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        r->own[i] = *loom_params_at(m->ps, i);
        r->own[i].grad = r->own_grads + (r->own[i].grad - base);
    }
    r->src_emb = remap(r, m->src_emb), r->tgt_emb = remap(r, m->tgt_emb);
    if (m->c.tie_embeddings)
        r->tgt_emb = r->src_emb;
    for (int l = 0; l < m->c.layers; l++)
        for (int d = 0; d < m->dirs; d++)
            for (int k = 0; k < 4; k++)
                r->enc_p[l][d][k] = remap(r, m->enc_p[l][d][k]);
    r->bridge_w = remap(r, m->bridge_w), r->bridge_b = remap(r, m->bridge_b);
    r->attn_W = remap(r, m->attn_W), r->attn_U = remap(r, m->attn_U);
    r->attn_b = remap(r, m->attn_b), r->attn_v = remap(r, m->attn_v);
    for (int k = 0; k < 4; k++)
        r->dec_p[k] = remap(r, m->dec_p[k]);
    r->out_w = remap(r, m->out_w), r->out_b = remap(r, m->out_b);
    bind(r);
    *out = r;
    return 0;
}

float *loom_seq_replica_grads(loom_seq_model *r, size_t *nfloats)
{
    *nfloats = r->own_nfloats;
    return r->own_grads;
}

const loom_seq_config *loom_seq_model_config(const loom_seq_model *m)
{
    return &m->c;
}

loom_params *loom_seq_model_params(loom_seq_model *m)
{
    return m->ps;
}

/* ---- the workspace ---- */

enum {
    /* encoder, per layer: input after dropout, its mask, output, cache */
    W_X0,
    W_XMASK0 = W_X0 + LOOM_SEQ_MAX_LAYERS,
    W_Y = W_XMASK0 + LOOM_SEQ_MAX_LAYERS,
    W_ECACHE = W_Y + LOOM_SEQ_MAX_LAYERS,
    W_HFIN = W_ECACHE + LOOM_SEQ_MAX_LAYERS, /* (dirs, B, H) top layer's final h */
    W_FINAL,                                 /* (B, He) [fw; bw] */
    W_KP,                                    /* (B, S, A) Bahdanau key projection */
    W_EMB,                                   /* (T, B, E) target embeddings after dropout */
    W_EMASK,                                 /* its dropout mask */
    W_XP,                                    /* (T, B, GH) decoder input projections */
    W_S,                                     /* (T+1, B, H) decoder states, s_0 first */
    W_C,                                     /* (T+1, B, H) LSTM cells */
    W_SCACHE,                                /* (T, step cache) */
    W_CTX,                                   /* (T, B, Dc) contexts */
    W_WTS,                                   /* (T, B, S) attention weights */
    W_ACACHE, /* one step's attention cache (backward recomputes it per step) */
    W_CTX2,   /* (B, Dc) the recomputed context, discarded */
    W_O,      /* (T, B, Dout) out-layer inputs after dropout */
    W_OMASK,  /* its dropout mask */
    W_LOGITS, /* (T, B, V) logits, then d loss / d logits */
    W_DO,     /* (T, B, Dout) */
    W_DXP,    /* (T, B, GH) */
    W_DS,
    W_DC,
    W_DSP,
    W_DCP,    /* (B, H) running state gradients */
    W_DCTX,   /* (B, Dc) */
    W_DENC,   /* (B, S, He) */
    W_DKP,    /* (B, S, A) */
    W_DFINAL, /* (dirs, B, H) */
    W_DEMB,   /* (T, B, E) */
    W_DX,
    W_DY,    /* (B, S, max C) encoder input/output gradients */
    W_RWORK, /* scratch of the recurrent layers and attention */
    W_TAB,   /* (Vt, GH) per-word input projections, small vocabularies only */
    W_ETAB,  /* (dirs, Vs, GH) the encoder's per-word projections, likewise */
    W_DETAB, /* their gradients */
    W_COUNT
};

struct loom_seq_work {
    const loom_seq_model *m;
    int B, S, T;  /* capacity */
    int src_tabs; /* 1: the last encode read the source through W_ETAB */
    float *buf[W_COUNT];
    size_t bytes;
};

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

static void work_sizes(const loom_seq_model *m, int B, int S, int T, size_t *sz)
{
    const loom_seq_config *c = &m->c;
    size_t H = c->hidden, E = c->emb, He = m->He, GH = m->G * H, V = c->tgt_vocab;
    size_t A = c->attention == LOOM_ATTN_BAHDANAU ? c->attn_dim : 0;
    size_t BS = (size_t)B * S, TB = (size_t)T * B, drop = c->dropout > 0;
    size_t rwork = 0;
    memset(sz, 0, W_COUNT * sizeof *sz);
    for (int l = 0; l < c->layers; l++) {
        size_t C = l == 0 ? E : He;
        const loom_rnn *fw = &m->enc[l][0], *bw = &m->enc[l][1];
        sz[W_X0 + l] = BS * C;
        sz[W_XMASK0 + l] = drop ? BS * C : 0;
        sz[W_Y + l] = BS * He;
        sz[W_ECACHE + l] =
            m->dirs == 2 ? loom_birnn_cache_size(fw, bw, B, S) : loom_rnn_cache_size(fw, B, S);
        rwork = max_sz(rwork, m->dirs == 2 ? loom_birnn_work_size(fw, bw, B, S)
                                           : loom_rnn_work_size(fw, B, S));
    }
    rwork = max_sz(rwork, loom_rnn_step_work_size(&m->dec, B));
    if (m->Dc)
        rwork = max_sz(rwork, loom_attn_work_size(&m->attn, B, S));
    sz[W_HFIN] = (size_t)m->dirs * B * H;
    sz[W_FINAL] = (size_t)B * He;
    sz[W_KP] = BS * A;
    sz[W_EMB] = TB * E;
    sz[W_EMASK] = drop ? TB * E : 0;
    sz[W_XP] = TB * GH;
    sz[W_S] = (TB + B) * H;
    sz[W_C] = c->cell == LOOM_RNN_LSTM ? (TB + B) * H : 0;
    sz[W_SCACHE] = T * loom_rnn_step_cache_size(&m->dec, B);
    sz[W_CTX] = TB * m->Dc;
    sz[W_WTS] = m->Dc ? TB * S : 0;
    /* Bahdanau's cache is (B, S, A) per step, the largest buffer by far if
     * kept for all T steps; the backward pass recomputes it step by step
     * (one attention forward more per step) and memory stays flat in T. */
    sz[W_ACACHE] = m->Dc ? loom_attn_cache_size(&m->attn, B, S) : 0;
    sz[W_CTX2] = (size_t)B * m->Dc;
    /* Without dropout the out layer reads [s; c; e] from where they already
     * are (three GEMMs on the blocks of W) and needs no copy of them. */
    sz[W_O] = drop ? TB * m->Dout : 0;
    sz[W_OMASK] = drop ? TB * m->Dout : 0;
    sz[W_LOGITS] = TB * V;
    /* without dropout, d[s; c] of all steps at once only for large
     * vocabularies, where per-step products would re-read W's V columns */
    sz[W_DO] = drop ? TB * m->Dout : V > LOOM_SEQ_STEP_OUT_MAX ? TB * (H + m->Dc) : 0;
    sz[W_DXP] = 0; /* the backward pass reuses W_XP, dead after the forward pass */
    sz[W_DS] = sz[W_DC] = sz[W_DSP] = sz[W_DCP] = (size_t)B * H;
    sz[W_DCTX] = (size_t)B * m->Dc;
    sz[W_DENC] = BS * He;
    sz[W_DKP] = BS * A;
    sz[W_DFINAL] = (size_t)m->dirs * B * H;
    sz[W_DEMB] = TB * E;
    sz[W_DX] = BS * max_sz(E, He);
    sz[W_DY] = c->layers > 1 ? BS * He : 0;
    sz[W_RWORK] = rwork;
    sz[W_TAB] = (size_t)V * GH;
    sz[W_ETAB] = sz[W_DETAB] = (size_t)m->dirs * c->src_vocab * GH;
}

int loom_seq_work_new(loom_seq_work **out, const loom_seq_model *m)
{
    *out = loom_calloc(1, sizeof **out);
    if (!*out)
        return LOOM_ENOMEM;
    (*out)->m = m;
    return 0;
}

void loom_seq_work_free(loom_seq_work *w)
{
    if (!w)
        return;
    for (int i = 0; i < W_COUNT; i++)
        free(w->buf[i]);
    free(w);
}

size_t loom_seq_work_bytes(const loom_seq_work *w)
{
    return w->bytes;
}

/* Makes room for a batch of B sentences, S source and T target steps. */
static int work_reserve(loom_seq_work *w, int B, int S, int T)
{
    if (B <= w->B && S <= w->S && T <= w->T)
        return 0;
    B = B > w->B ? B : w->B;
    S = S > w->S ? S : w->S;
    T = T > w->T ? T : w->T;
    size_t sz[W_COUNT];
    work_sizes(w->m, B, S, T, sz);
    w->bytes = 0;
    for (int i = 0; i < W_COUNT; i++) {
        free(w->buf[i]);
        w->buf[i] = NULL;
        if (sz[i] && !(w->buf[i] = loom_aligned_alloc(sz[i], sizeof(float)))) {
            w->B = w->S = w->T = 0;
            return LOOM_ENOMEM;
        }
        w->bytes += sz[i] * sizeof(float);
    }
    w->B = B, w->S = S, w->T = T;
    return 0;
}

/* ---- small pieces ---- */

/* Inverted dropout: x *= mask, mask = 0 or 1/(1-p). */
static void dropout_forward(float *x, float *mask, size_t n, float p, loom_rng *rng)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        mask[i] = loom_rng_uniform(rng) < p ? 0.0f : keep;
        x[i] *= mask[i];
    }
}

static void mul_inplace(float *restrict x, const float *restrict mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= mask[i];
}

static void add_rows_bias(float *restrict y, const float *restrict b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            y[r * n + j] += b[j];
}

static void colsum_add(float *restrict acc, const float *restrict x, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            acc[j] += x[r * n + j];
}

/* Log-softmax cross-entropy of one row with label smoothing eps (the
 * target distribution puts 1 - eps on y and eps / V on every class, as
 * torch.nn.CrossEntropyLoss(label_smoothing=eps)). Returns the loss and
 * log p(y) in *lp; overwrites z, with d loss / d z when `grad`. In place,
 * rather than core/loss.h's loom_xent_*, to spare a second (N, V) buffer. */
LOOM_VECTORIZE static float xent_row(float *restrict z, int V, int y, float eps, int grad,
                                     float *lp)
{
    float mx = loom_vmax(z, (size_t)V);
    double zsum = eps > 0 ? loom_vsum(z, (size_t)V) : 0;
    float zy = z[y];
    for (int j = 0; j < V; j++)
        z[j] -= mx;
    loom_vexp(z, z, (size_t)V); /* z now holds exp(z - max) */
    double sum = loom_vsum(z, (size_t)V);
    float lse = mx + (float)log(sum);
    float logp_y = zy - lse;
    *lp = logp_y;
    float loss = -(1 - eps) * logp_y - eps / V * (float)(zsum - (double)V * lse);
    if (grad) {
        float inv = (float)(1.0 / sum), off = eps / V;
        for (int j = 0; j < V; j++)
            z[j] = z[j] * inv - off;
        z[y] -= 1 - eps;
    }
    return loss;
}

/* ---- the encoder ---- */

/* The first encoder layer reads the source through per-word tables
 * (core/rnn.h) when the vocabulary is small next to the batch's positions
 * and no dropout makes two occurrences of a word differ. */
static int src_by_word(const loom_seq_model *m, int rows, float drop)
{
    return drop == 0 && 2 * m->c.src_vocab <= rows;
}

/* Embeds the source, runs the layers and the bridge: enc = Y[top] (B,S,He),
 * s_0 into W_S (and c_0 = 0 into W_C for LSTM). With `decoding`, the
 * tables of loom_seq_model_prepare_decoding are used when there are. */
static void encode(loom_seq_model *m, loom_seq_work *w, const int *src, const int *lens, int B,
                   int S, int train, int decoding, loom_rng *rng)
{
    const loom_seq_config *c = &m->c;
    int H = c->hidden, E = c->emb, L = c->layers;
    float drop = train ? c->dropout : 0;
    float *tabs[2] = {NULL, NULL};
    size_t GH = (size_t)m->G * H;
    if (decoding && m->dec_tab_src[0]) {
        tabs[0] = m->dec_tab_src[0], tabs[1] = m->dec_tab_src[1];
    } else if (src_by_word(m, B * S, drop)) {
        for (int d = 0; d < m->dirs; d++) {
            tabs[d] = w->buf[W_ETAB] + d * c->src_vocab * GH;
            loom_rnn_table(&m->enc[0][d], tabs[d], m->src_emb->value, c->src_vocab);
        }
    }
    w->src_tabs = tabs[0] != NULL;
    float *x = w->buf[W_X0];
    for (int i = 0; i < B * S && !tabs[0]; i++) {
        int id = src[i];
        memcpy(x + (size_t)i * E, m->src_emb->value + (size_t)id * E, E * sizeof(float));
    }
    for (int l = 0; l < L; l++) {
        int C = l == 0 ? E : m->He;
        float *in = w->buf[W_X0 + l];
        if (l > 0)
            memcpy(in, w->buf[W_Y + l - 1], (size_t)B * S * C * sizeof(float));
        if (drop > 0)
            dropout_forward(in, w->buf[W_XMASK0 + l], (size_t)B * S * C, drop, rng);
        float *hfin = l == L - 1 ? w->buf[W_HFIN] : NULL;
        if (l == 0 && tabs[0] && m->dirs == 2)
            loom_birnn_forward_ids(&m->enc[0][0], &m->enc[0][1], w->buf[W_Y], hfin, NULL,
                                   w->buf[W_ECACHE], w->buf[W_RWORK], tabs[0], tabs[1], src, lens,
                                   NULL, NULL, B, S);
        else if (l == 0 && tabs[0])
            loom_rnn_forward_ids(&m->enc[0][0], w->buf[W_Y], hfin, NULL, w->buf[W_ECACHE],
                                 w->buf[W_RWORK], tabs[0], src, lens, NULL, NULL, B, S);
        else if (m->dirs == 2)
            loom_birnn_forward(&m->enc[l][0], &m->enc[l][1], w->buf[W_Y + l], hfin, NULL,
                               w->buf[W_ECACHE + l], w->buf[W_RWORK], in, lens, NULL, NULL, B, S);
        else
            loom_rnn_forward(&m->enc[l][0], w->buf[W_Y + l], hfin, NULL, w->buf[W_ECACHE + l],
                             w->buf[W_RWORK], in, lens, NULL, NULL, B, S);
    }
    /* bridge: s_0 = tanh([h_fw; h_bw] Wb + bb) */
    float *fin = w->buf[W_FINAL], *hf = w->buf[W_HFIN], *s0 = w->buf[W_S];
    for (int b = 0; b < B; b++)
        for (int d = 0; d < m->dirs; d++)
            memcpy(fin + (size_t)b * m->He + d * H, hf + ((size_t)d * B + b) * H,
                   H * sizeof(float));
    loom_mm(B, H, m->He, fin, m->bridge_w->value, 0.0f, s0);
    for (int i = 0; i < B * H; i++)
        s0[i] = tanhf(s0[i] + m->bridge_b->value[i % H]);
    if (c->cell == LOOM_RNN_LSTM)
        memset(w->buf[W_C], 0, (size_t)B * H * sizeof(float));
    if (c->attention == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys(&m->attn, w->buf[W_KP], w->buf[W_Y + L - 1], B * S);
}

/* Gradients of the encoder from d enc (W_DENC, (B,S,He)) and d s_0's
 * pre-bridge side (W_DFINAL, (dirs,B,H)). */
static void encode_backward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b)
{
    const loom_seq_config *c = &m->c;
    int B = b->n, S = b->src_len, E = c->emb, L = c->layers;
    const float *dout = w->buf[W_DENC];
    for (int l = L - 1; l >= 0; l--) {
        int C = l == 0 ? E : m->He;
        float *dx = w->buf[W_DX];
        const float *dfin = l == L - 1 ? w->buf[W_DFINAL] : NULL;
        if (l == 0 && w->src_tabs) {
            size_t GH = (size_t)m->G * c->hidden, V = c->src_vocab;
            float *dtab = w->buf[W_DETAB];
            memset(dtab, 0, m->dirs * V * GH * sizeof(float));
            if (m->dirs == 2)
                loom_birnn_backward_ids(&m->enc[0][0], &m->enc[0][1], dtab, dtab + V * GH, NULL,
                                        NULL, w->buf[W_RWORK], dout, dfin, NULL, w->buf[W_ECACHE],
                                        b->src, b->src_lens, B, S);
            else
                loom_rnn_backward_ids(&m->enc[0][0], dtab, NULL, NULL, w->buf[W_RWORK], dout, dfin,
                                      NULL, w->buf[W_ECACHE], b->src, b->src_lens, B, S);
            float *demb = m->src_emb->frozen ? NULL : m->src_emb->grad;
            for (int d = 0; d < m->dirs; d++)
                loom_rnn_table_backward(&m->enc[0][d], demb, dtab + d * V * GH, m->src_emb->value,
                                        (int)V);
            return;
        }
        memset(dx, 0, (size_t)B * S * C * sizeof(float));
        if (m->dirs == 2)
            loom_birnn_backward(&m->enc[l][0], &m->enc[l][1], dx, NULL, NULL, w->buf[W_RWORK], dout,
                                dfin, NULL, w->buf[W_ECACHE + l], w->buf[W_X0 + l], b->src_lens, B,
                                S);
        else
            loom_rnn_backward(&m->enc[l][0], dx, NULL, NULL, w->buf[W_RWORK], dout, dfin, NULL,
                              w->buf[W_ECACHE + l], w->buf[W_X0 + l], b->src_lens, B, S);
        if (c->dropout > 0)
            mul_inplace(dx, w->buf[W_XMASK0 + l], (size_t)B * S * C);
        if (l > 0) {
            memcpy(w->buf[W_DY], dx, (size_t)B * S * C * sizeof(float));
            dout = w->buf[W_DY];
        }
    }
    /* embedding rows: sparse accumulation over real positions */
    const float *dx = w->buf[W_DX];
    float *g = m->src_emb->grad;
    for (int i = 0; i < B; i++)
        for (int t = 0; t < b->src_lens[i]; t++) {
            size_t k = (size_t)i * S + t;
            loom_axpy(E, 1.0f, dx + k * E, g + (size_t)b->src[k] * E);
        }
}

/* ---- the training pass ---- */

/* The decoder's embedding share of the input projection goes through a
 * per-word table when the target vocabulary is small next to the batch's
 * rows (the reverse task: 34 words, ~1,000 rows) and no dropout makes two
 * occurrences of a word differ: 3 GEMMs of (V, E, 3H) instead of (rows,
 * E, 3H). */
static int by_word(const loom_seq_model *m, int rows)
{
    return m->c.dropout == 0 && 2 * m->c.tgt_vocab <= rows;
}

int loom_seq_forward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, int train,
                     float label_smoothing, loom_rng *rng, double *loss, long *tokens, float *logp)
{
    const loom_seq_config *c = &m->c;
    int B = b->n, S = b->src_len, T = b->tgt_len;
    int H = c->hidden, E = c->emb, V = c->tgt_vocab, Dc = m->Dc, Dout = m->Dout;
    int GH = m->G * H, lstm = c->cell == LOOM_RNN_LSTM;
    float drop = train ? c->dropout : 0;
    int rc = work_reserve(w, B, S, T);
    if (rc)
        return rc;
    encode(m, w, b->src, b->src_lens, B, S, train, 0, rng);
    const float *enc = w->buf[W_Y + c->layers - 1];

    /* target embeddings, time-major, and their input projections (all steps) */
    float *emb = w->buf[W_EMB];
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B; i++)
            memcpy(emb + ((size_t)t * B + i) * E,
                   m->tgt_emb->value + (size_t)b->tgt_in[(size_t)i * T + t] * E, E * sizeof(float));
    if (drop > 0)
        dropout_forward(emb, w->buf[W_EMASK], (size_t)T * B * E, drop, rng);
    float *xp = w->buf[W_XP];
    if (by_word(m, T * B)) { /* project each vocabulary word once, then look rows up */
        float *tab = w->buf[W_TAB];
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, V, GH, E, 1.0f, m->tgt_emb->value, E, m->dec.Wx, GH,
                  0.0f, tab, GH);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < B; i++)
                memcpy(xp + ((size_t)t * B + i) * GH,
                       tab + (size_t)b->tgt_in[(size_t)i * T + t] * GH, GH * sizeof(float));
    } else {
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, T * B, GH, E, 1.0f, emb, E, m->dec.Wx, GH, 0.0f, xp,
                  GH);
    }

    size_t scache = loom_rnn_step_cache_size(&m->dec, B);
    float *st = w->buf[W_S], *cs = w->buf[W_C];
    for (int t = 0; t < T; t++) {
        size_t tb = (size_t)t * B;
        float *s_prev = st + tb * H, *s = s_prev + (size_t)B * H;
        float *c_prev = lstm ? cs + tb * H : NULL, *cn = lstm ? c_prev + (size_t)B * H : NULL;
        float *xpt = xp + tb * GH;
        if (Dc) {
            float *ctx = w->buf[W_CTX] + tb * Dc;
            loom_attn_forward(&m->attn, ctx, w->buf[W_WTS] + tb * S, w->buf[W_ACACHE], s_prev, enc,
                              w->buf[W_KP], enc, b->src_lens, B, S, Dc);
            /* input feeding: the context's share of the input projection */
            loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, B, GH, Dc, 1.0f, ctx, Dc,
                      m->dec.Wx + (size_t)E * GH, GH, 1.0f, xpt, GH);
        }
        loom_rnn_step_forward(&m->dec, s, cn, w->buf[W_SCACHE] + t * scache, w->buf[W_RWORK], xpt,
                              s_prev, c_prev, B);
        /* out-layer input [s_t; c_t; e_t] (dropout applies to the copy) */
        for (int i = 0; i < B && w->buf[W_O]; i++) {
            float *o = w->buf[W_O] + (tb + i) * Dout;
            memcpy(o, s + (size_t)i * H, H * sizeof(float));
            if (Dc)
                memcpy(o + H, w->buf[W_CTX] + (tb + i) * Dc, Dc * sizeof(float));
            memcpy(o + H + Dc, emb + (tb + i) * E, E * sizeof(float));
        }
    }
    float *O = w->buf[W_O], *z = w->buf[W_LOGITS];
    const float *Wo = m->out_w->value;
    if (O) {
        if (drop > 0)
            dropout_forward(O, w->buf[W_OMASK], (size_t)T * B * Dout, drop, rng);
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, T * B, V, Dout, 1.0f, O, Dout, Wo, V, 0.0f, z, V);
    } else { /* z = s W[:H] + c W[H:H+Dc] + e W[H+Dc:] */
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, T * B, V, H, 1.0f, st + (size_t)B * H, H, Wo, V, 0.0f,
                  z, V);
        if (Dc)
            loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, T * B, V, Dc, 1.0f, w->buf[W_CTX], Dc,
                      Wo + (size_t)H * V, V, 1.0f, z, V);
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, T * B, V, E, 1.0f, emb, E, Wo + (size_t)(H + Dc) * V,
                  V, 1.0f, z, V);
    }
    add_rows_bias(z, m->out_b->value, (size_t)T * B, V);

    double total = 0;
    long ntok = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B; i++) {
            float *zr = z + ((size_t)t * B + i) * V, lp;
            if (t >= b->tgt_lens[i]) {
                if (train)
                    memset(zr, 0, V * sizeof(float));
                if (logp)
                    logp[(size_t)i * T + t] = 0;
                continue;
            }
            total += xent_row(zr, V, b->tgt_out[(size_t)i * T + t], label_smoothing, train, &lp);
            ntok++;
            if (logp)
                logp[(size_t)i * T + t] = lp;
        }
    *loss = total;
    *tokens = ntok;
    return 0;
}

int loom_seq_backward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, float scale)
{
    const loom_seq_config *c = &m->c;
    int B = b->n, S = b->src_len, T = b->tgt_len;
    int H = c->hidden, E = c->emb, V = c->tgt_vocab, Dc = m->Dc, Dout = m->Dout;
    int GH = m->G * H, lstm = c->cell == LOOM_RNN_LSTM, TB = T * B;
    const float *enc = w->buf[W_Y + c->layers - 1];
    const float *dz = w->buf[W_LOGITS], *O = w->buf[W_O];

    /* out layer: in the forward pass z = O W + b, O = [s; c; e] */
    float *dO = w->buf[W_DO], *st = w->buf[W_S], *demb = w->buf[W_DEMB];
    const float *Wo = m->out_w->value;
    float *gWo = m->out_w->grad;
    if (O) {
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, TB, Dout, V, scale, dz, V, Wo, V, 0.0f, dO, Dout);
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, Dout, V, TB, scale, O, Dout, dz, V, 1.0f, gWo, V);
        if (c->dropout > 0)
            mul_inplace(dO, w->buf[W_OMASK], (size_t)TB * Dout);
    } else { /* by blocks of W; d s and d c are taken per step below */
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, H, V, TB, scale, st + (size_t)B * H, H, dz, V, 1.0f,
                  gWo, V);
        if (Dc)
            loom_gemm(LOOM_TRANS, LOOM_NOTRANS, Dc, V, TB, scale, w->buf[W_CTX], Dc, dz, V, 1.0f,
                      gWo + (size_t)H * V, V);
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, E, V, TB, scale, w->buf[W_EMB], E, dz, V, 1.0f,
                  gWo + (size_t)(H + Dc) * V, V);
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, TB, E, V, scale, dz, V, Wo + (size_t)(H + Dc) * V, V,
                  0.0f, demb, E);
        if (dO) /* d[s; c] = dz W[:H+Dc]^T, all steps */
            loom_gemm(LOOM_NOTRANS, LOOM_TRANS, TB, H + Dc, V, scale, dz, V, Wo, V, 0.0f, dO,
                      H + Dc);
    }
    {
        float *db = m->out_b->grad;
        for (int r = 0; r < TB; r++)
            loom_axpy(V, scale, dz + (size_t)r * V, db);
    }

    /* decoder steps, last to first */
    float *ds = w->buf[W_DS], *dc = w->buf[W_DC], *dsp = w->buf[W_DSP], *dcp = w->buf[W_DCP];
    float *dxp = w->buf[W_XP], *dctx = w->buf[W_DCTX];
    float *cs = w->buf[W_C];
    size_t scache = loom_rnn_step_cache_size(&m->dec, B);
    memset(ds, 0, (size_t)B * H * sizeof(float));
    if (lstm)
        memset(dc, 0, (size_t)B * H * sizeof(float));
    if (Dc) {
        memset(w->buf[W_DENC], 0, (size_t)B * S * m->He * sizeof(float));
        if (c->attention == LOOM_ATTN_BAHDANAU)
            memset(w->buf[W_DKP], 0, (size_t)B * S * c->attn_dim * sizeof(float));
    }
    memset(dxp, 0, (size_t)TB * GH * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        size_t tb = (size_t)t * B;
        const float *s_prev = st + tb * H, *s = s_prev + (size_t)B * H;
        const float *c_prev = lstm ? cs + tb * H : NULL;
        if (!O && dO) { /* route d[s; c] of step t */
            for (int i = 0; i < B; i++) {
                const float *d = dO + (tb + i) * (H + Dc);
                loom_axpy(H, 1.0f, d, ds + (size_t)i * H);
                if (Dc)
                    memcpy(dctx + (size_t)i * Dc, d + H, Dc * sizeof(float));
            }
        } else if (!O) { /* d s_t += dz_t W[:H]^T, d c_t = dz_t W[H:H+Dc]^T */
            const float *dzt = dz + tb * V;
            loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, H, V, scale, dzt, V, Wo, V, 1.0f, ds, H);
            if (Dc)
                loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, Dc, V, scale, dzt, V, Wo + (size_t)H * V, V,
                          0.0f, dctx, Dc);
        }
        /* O = [s; c; e]: route dO's pieces */
        for (int i = 0; i < B && O; i++) {
            const float *d = dO + (tb + i) * Dout;
            loom_axpy(H, 1.0f, d, ds + (size_t)i * H);
            if (Dc)
                memcpy(dctx + (size_t)i * Dc, d + H, Dc * sizeof(float));
            memcpy(demb + (tb + i) * E, d + H + Dc, E * sizeof(float));
        }
        memset(dsp, 0, (size_t)B * H * sizeof(float));
        if (lstm)
            memset(dcp, 0, (size_t)B * H * sizeof(float));
        float *dxpt = dxp + tb * GH;
        loom_rnn_step_backward(&m->dec, dxpt, dsp, lstm ? dcp : NULL, w->buf[W_RWORK], ds,
                               lstm ? dc : NULL, w->buf[W_SCACHE] + t * scache, s, s_prev, c_prev,
                               B);
        if (Dc) {
            /* xp_t = e_t Wx[:E] + c_t Wx[E:]: the context's gradient */
            loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, Dc, GH, 1.0f, dxpt, GH,
                      m->dec.Wx + (size_t)E * GH, GH, 1.0f, dctx, Dc);
            float *dkeys = c->attention == LOOM_ATTN_BAHDANAU ? NULL : w->buf[W_DENC];
            float *dkp = c->attention == LOOM_ATTN_BAHDANAU ? w->buf[W_DKP] : NULL;
            loom_attn_forward(&m->attn, w->buf[W_CTX2], w->buf[W_WTS] + tb * S, w->buf[W_ACACHE],
                              s_prev, enc, w->buf[W_KP], enc, b->src_lens, B, S, Dc);
            loom_attn_backward(&m->attn, dsp, dkeys, dkp, w->buf[W_DENC], w->buf[W_RWORK], dctx,
                               w->buf[W_ACACHE], w->buf[W_WTS] + tb * S, s_prev, enc, enc,
                               b->src_lens, B, S, Dc);
        }
        float *tmp = ds;
        ds = dsp, dsp = tmp;
        if (lstm)
            tmp = dc, dc = dcp, dcp = tmp;
    }
    /* weights of the decoder's input projection, over all steps at once */
    const float *emb = w->buf[W_EMB];
    if (Dc)
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, Dc, GH, TB, 1.0f, w->buf[W_CTX], Dc, dxp, GH, 1.0f,
                  m->dec.dWx + (size_t)E * GH, GH);
    if (by_word(m, TB)) {
        /* in the forward pass xp = tab[id], tab = Emb Wx[:E]: sum the rows'
         * gradients per word, then dWx[:E] += Emb^T dtab, dEmb += dtab Wx[:E]^T */
        float *dtab = w->buf[W_TAB];
        memset(dtab, 0, (size_t)V * GH * sizeof(float));
        for (int t = 0; t < T; t++)
            for (int i = 0; i < B; i++)
                if (t < b->tgt_lens[i])
                    loom_axpy(GH, 1.0f, dxp + ((size_t)t * B + i) * GH,
                              dtab + (size_t)b->tgt_in[(size_t)i * T + t] * GH);
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, E, GH, V, 1.0f, m->tgt_emb->value, E, dtab, GH, 1.0f,
                  m->dec.dWx, GH);
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, V, E, GH, 1.0f, dtab, GH, m->dec.Wx, GH, 1.0f,
                  m->tgt_emb->grad, E);
    } else {
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, E, GH, TB, 1.0f, emb, E, dxp, GH, 1.0f, m->dec.dWx, GH);
        loom_gemm(LOOM_NOTRANS, LOOM_TRANS, TB, E, GH, 1.0f, dxp, GH, m->dec.Wx, GH, 1.0f, demb, E);
    }
    if (c->dropout > 0)
        mul_inplace(demb, w->buf[W_EMASK], (size_t)TB * E);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B; i++) {
            if (t >= b->tgt_lens[i])
                continue;
            int id = b->tgt_in[(size_t)i * T + t];
            loom_axpy(E, 1.0f, demb + ((size_t)t * B + i) * E, m->tgt_emb->grad + (size_t)id * E);
        }

    /* bridge: in the forward pass s_0 = tanh(fin Wb + bb) */
    const float *s0 = st, *fin = w->buf[W_FINAL];
    for (int i = 0; i < B * H; i++)
        ds[i] *= 1.0f - s0[i] * s0[i];
    loom_gemm(LOOM_TRANS, LOOM_NOTRANS, m->He, H, B, 1.0f, fin, m->He, ds, H, 1.0f,
              m->bridge_w->grad, H);
    colsum_add(m->bridge_b->grad, ds, B, H);
    float *dfin = w->buf[W_DX]; /* (B, He) scratch, free until encode_backward */
    loom_gemm(LOOM_NOTRANS, LOOM_TRANS, B, m->He, H, 1.0f, ds, H, m->bridge_w->value, H, 0.0f, dfin,
              m->He);
    float *dhf = w->buf[W_DFINAL];
    for (int i = 0; i < B; i++)
        for (int d = 0; d < m->dirs; d++)
            memcpy(dhf + ((size_t)d * B + i) * H, dfin + (size_t)i * m->He + d * H,
                   H * sizeof(float));
    if (!Dc)
        memset(w->buf[W_DENC], 0, (size_t)B * S * m->He * sizeof(float));
    if (c->attention == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys_backward(&m->attn, w->buf[W_DENC], w->buf[W_DKP], enc, B * S);
    encode_backward(m, w, b);
    return 0;
}

/* ---- decoding ---- */

struct loom_seq_state {
    loom_seq_model *m;
    int rows, S, K;
    int *lens;               /* (rows) source lengths */
    float *enc, *kp;         /* (rows, S, He), (rows, S, A) */
    float *P;                /* (sentences, S, GH): enc Wx[E:], the context's input share
                                (few rows only; NULL: each step multiplies the contexts) */
    float *s, *s2, *c, *c2;  /* (rows, H) states and their next values */
    float *x, *xp, *o, *ctx; /* step scratch */
    float *wts, *cache, *work;
    float *scratch; /* (tgt_vocab) */
};

void loom_seq_state_free(loom_seq_state *st)
{
    if (!st)
        return;
    free(st->lens);
    float *bufs[] = {st->enc, st->kp, st->P,   st->s,   st->s2,    st->c,    st->c2,     st->x,
                     st->xp,  st->o,  st->ctx, st->wts, st->cache, st->work, st->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
    free(st);
}

int loom_seq_state_rows(const loom_seq_state *st)
{
    return st->rows;
}

int loom_seq_state_src_len(const loom_seq_state *st)
{
    return st->S;
}

static float *state_alloc(size_t n, int *fail)
{
    if (n == 0)
        return NULL;
    float *p = loom_aligned_alloc(n, sizeof(float));
    if (!p)
        *fail = 1;
    return p;
}

/* Decoder states with fewer rows than this precompute the contexts' share
 * of the input projection (the P of loom_seq_state). */
#define DECODE_P_ROWS 16

/* Sentences encoded at once when decoding: the encoder's workspace (its
 * backward cache included) grows with the batch, the state does not need it. */
#define ENCODE_CHUNK 32

int loom_seq_start(loom_seq_state **out, loom_seq_model *m, loom_seq_work *w, const int *src,
                   const int *lens, int n, int S, int K)
{
    *out = NULL;
    const loom_seq_config *c = &m->c;
    int H = c->hidden, R = n * K, He = m->He, GH = m->G * H;
    size_t A = c->attention == LOOM_ATTN_BAHDANAU ? c->attn_dim : 0;
    int rc = work_reserve(w, n < ENCODE_CHUNK ? n : ENCODE_CHUNK, S, 1);
    if (rc)
        return rc;
    loom_seq_state *st = loom_calloc(1, sizeof *st);
    if (!st)
        return LOOM_ENOMEM;
    int fail = 0;
    st->m = m, st->rows = R, st->S = S, st->K = K;
    st->lens = loom_malloc(R, sizeof(int));
    fail |= !st->lens;
    st->enc = state_alloc((size_t)R * S * He, &fail);
    st->kp = state_alloc((size_t)R * S * A, &fail);
    /* P is per sentence, shared by its K rows; multiplying contexts costs
     * per row: beams use P, batched greedy decoding the GEMM */
    int use_P = m->Dc && (K > 1 || R < DECODE_P_ROWS);
    st->P = state_alloc(use_P ? (size_t)n * S * GH : 0, &fail);
    st->s = state_alloc((size_t)R * H, &fail);
    st->s2 = state_alloc((size_t)R * H, &fail);
    st->c = state_alloc(c->cell == LOOM_RNN_LSTM ? (size_t)R * H : 0, &fail);
    st->c2 = state_alloc(c->cell == LOOM_RNN_LSTM ? (size_t)R * H : 0, &fail);
    st->x = state_alloc((size_t)R * (c->emb + m->Dc), &fail);
    st->xp = state_alloc((size_t)R * GH, &fail);
    st->o = state_alloc((size_t)R * m->Dout, &fail);
    st->ctx = state_alloc((size_t)R * (m->Dc + 1), &fail);
    st->wts = state_alloc((size_t)R * S, &fail);
    st->cache = state_alloc(loom_rnn_step_cache_size(&m->dec, R) +
                                (m->Dc ? loom_attn_cache_size(&m->attn, R, S) : 0),
                            &fail);
    st->work = state_alloc(loom_rnn_step_work_size(&m->dec, R) + 1, &fail);
    st->scratch = state_alloc((size_t)c->tgt_vocab, &fail);
    if (fail) {
        loom_seq_state_free(st);
        return LOOM_ENOMEM;
    }
    const float *enc = w->buf[W_Y + c->layers - 1];
    for (int i0 = 0; i0 < n; i0 += ENCODE_CHUNK) {
        int nb = n - i0 < ENCODE_CHUNK ? n - i0 : ENCODE_CHUNK;
        encode(m, w, src + (size_t)i0 * S, lens + i0, nb, S, 0, 1, NULL);
        for (int r = i0 * K; r < (i0 + nb) * K; r++) {
            int i = r / K - i0;
            st->lens[r] = lens[i0 + i];
            memcpy(st->enc + (size_t)r * S * He, enc + (size_t)i * S * He, (size_t)S * He * 4);
            if (A)
                memcpy(st->kp + (size_t)r * S * A, w->buf[W_KP] + (size_t)i * S * A, S * A * 4);
            memcpy(st->s + (size_t)r * H, w->buf[W_S] + (size_t)i * H, H * sizeof(float));
        }
        /* The context enters the decoder's input projection as c_t Wx[E:] =
         * sum_j a_tj (enc_j Wx[E:]): with few rows, project the source
         * positions once here, and a step mixes S rows of GH (a
         * matrix-vector product per row) instead of multiplying (Dc, GH)
         * per step; with many rows one GEMM per step does better. */
        if (use_P)
            loom_mm(nb * S, GH, He, enc, m->dec.Wx + (size_t)c->emb * GH, 0.0f,
                    st->P + (size_t)i0 * S * GH);
    }
    if (st->c)
        memset(st->c, 0, (size_t)R * H * sizeof(float));
    *out = st;
    return 0;
}

void loom_seq_state_keep(loom_seq_state *st, const int *keep, int nkeep)
{
    const loom_seq_model *m = st->m;
    size_t K = (size_t)st->K, S = (size_t)st->S, H = (size_t)m->c.hidden, He = (size_t)m->He;
    size_t A = m->c.attention == LOOM_ATTN_BAHDANAU ? (size_t)m->c.attn_dim : 0;
    size_t GH = (size_t)m->G * H;
    for (int j = 0; j < nkeep; j++) {
        size_t from = (size_t)keep[j], to = (size_t)j;
        if (from == to)
            continue; /* keep is increasing: to < from below, moves never overlap wrongly */
        memmove(st->enc + to * K * S * He, st->enc + from * K * S * He, K * S * He * sizeof(float));
        if (A)
            memmove(st->kp + to * K * S * A, st->kp + from * K * S * A, K * S * A * sizeof(float));
        if (st->P)
            memmove(st->P + to * S * GH, st->P + from * S * GH, S * GH * sizeof(float));
        memmove(st->s + to * K * H, st->s + from * K * H, K * H * sizeof(float));
        if (st->c)
            memmove(st->c + to * K * H, st->c + from * K * H, K * H * sizeof(float));
        memmove(st->lens + to * K, st->lens + from * K, K * sizeof(int));
    }
    st->rows = nkeep * st->K;
}

void loom_seq_state_reorder(loom_seq_state *st, const int *from)
{
    int H = st->m->c.hidden;
    for (int r = 0; r < st->rows; r++)
        memcpy(st->s2 + (size_t)r * H, st->s + (size_t)from[r] * H, H * sizeof(float));
    float *t = st->s;
    st->s = st->s2, st->s2 = t;
    if (st->c) {
        for (int r = 0; r < st->rows; r++)
            memcpy(st->c2 + (size_t)r * H, st->c + (size_t)from[r] * H, H * sizeof(float));
        t = st->c, st->c = st->c2, st->c2 = t;
    }
}

/* z = log softmax(z + bias), e scratch of V floats. */
LOOM_VECTORIZE static void log_softmax_row(float *restrict z, const float *restrict bias,
                                           float *restrict e, int V)
{
    for (int j = 0; j < V; j++)
        z[j] += bias[j];
    float mx = loom_vmax(z, (size_t)V);
    for (int j = 0; j < V; j++)
        e[j] = z[j] - mx;
    loom_vexp(e, e, (size_t)V);
    float lse = mx + (float)log(loom_vsum(e, (size_t)V));
    for (int j = 0; j < V; j++)
        z[j] -= lse;
}

void loom_seq_step(loom_seq_model *m, loom_seq_state *st, const int *prev, float *logp,
                   float *align)
{
    const loom_seq_config *c = &m->c;
    int R = st->rows, S = st->S, H = c->hidden, E = c->emb, Dc = m->Dc, Dout = m->Dout;
    int V = c->tgt_vocab, GH = m->G * H, Dx = E + Dc;
    size_t scache = loom_rnn_step_cache_size(&m->dec, R);
    if (Dc)
        loom_attn_forward(&m->attn, st->ctx, st->wts, st->cache + scache, st->s, st->enc, st->kp,
                          st->enc, st->lens, R, S, Dc);
    for (int r = 0; r < R; r++) {
        float *x = st->x + (size_t)r * Dx;
        memcpy(x, m->tgt_emb->value + (size_t)prev[r] * E, E * sizeof(float));
        if (Dc)
            memcpy(x + E, st->ctx + (size_t)r * Dc, Dc * sizeof(float));
    }
    if (m->dec_tab_tgt)
        for (int r = 0; r < R; r++)
            memcpy(st->xp + (size_t)r * GH, m->dec_tab_tgt + (size_t)prev[r] * GH,
                   GH * sizeof(float));
    else if (R == 1)
        loom_gemv(LOOM_TRANS, E, GH, 1.0f, m->dec.Wx, GH, st->x, 0.0f, st->xp);
    else
        loom_gemm(LOOM_NOTRANS, LOOM_NOTRANS, R, GH, E, 1.0f, st->x, Dx, m->dec.Wx, GH, 0.0f,
                  st->xp, GH);
    if (Dc && !st->P)
        loom_mm(R, GH, Dc, st->ctx, m->dec.Wx + (size_t)E * GH, 1.0f, st->xp);
    for (int r = 0; Dc && st->P && r < R; r++) {
        const float *a = st->wts + (size_t)r * S, *P = st->P + (size_t)(r / st->K) * S * GH;
        if (st->lens[r] > 0) /* xp_r += a_r P: (len) x (len, GH) */
            loom_gemv(LOOM_TRANS, st->lens[r], GH, 1.0f, P, GH, a, 1.0f, st->xp + (size_t)r * GH);
    }
    loom_rnn_step_forward(&m->dec, st->s2, st->c2, st->cache, st->work, st->xp, st->s, st->c, R);
    float *t = st->s;
    st->s = st->s2, st->s2 = t;
    if (st->c)
        t = st->c, st->c = st->c2, st->c2 = t;
    for (int r = 0; r < R; r++) {
        float *o = st->o + (size_t)r * Dout;
        memcpy(o, st->s + (size_t)r * H, H * sizeof(float));
        memcpy(o + H, st->x + (size_t)r * Dx + E, Dc * sizeof(float));
        memcpy(o + H + Dc, st->x + (size_t)r * Dx, E * sizeof(float));
    }
    loom_mm(R, V, Dout, st->o, m->out_w->value, 0.0f, logp);
    for (int r = 0; r < R; r++)
        log_softmax_row(logp + (size_t)r * V, m->out_b->value, st->scratch, V);
    if (align && Dc)
        memcpy(align, st->wts, (size_t)R * S * sizeof(float));
}

/* loom: the encoder-decoder's passes (its parameters are params.c's), as
 * calls of the core's layers (embedding, dropout, recurrent layers, attention, dense,
 * concatenation, cross-entropy): pointer set-up, then one call per layer,
 * the backward pass the same calls in reverse, in the manner of llm.c.
 * It deliberately holds no arithmetic of its own (a new kernel belongs in
 * src/core, with its gradient check), and knows ids, not words or files.
 * One decoder step (core/attn_rnn.h) serves training and decoding.
 *
 * Layouts: the encoder is batch-major (B, S, C) as core/rnn.h wants; the
 * decoder keeps its per-step tensors time-major (T, B, C) so that a step's
 * rows are contiguous and all steps' rows form one GEMM operand. */
#include "config.h"
#include "seq/model_impl.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "core/activation.h"
#include "core/attention.h"
#include "core/attn_rnn.h"
#include "core/blas.h"
#include "core/concat.h"
#include "core/dense.h"
#include "core/dropout.h"
#include "core/embedding.h"
#include "core/loss.h"
#include "core/rnn.h"

/* ---- the workspace ---- */

enum {
    /* encoder, per layer: input after dropout (dropout only), its mask, output, cache */
    W_X0, /* layer 0: the source embeddings (also without dropout) */
    W_XMASK0 = W_X0 + LOOM_SEQ_MAX_LAYERS,
    W_Y = W_XMASK0 + LOOM_SEQ_MAX_LAYERS,
    W_ECACHE = W_Y + LOOM_SEQ_MAX_LAYERS,
    W_HFIN = W_ECACHE + LOOM_SEQ_MAX_LAYERS, /* (dirs, B, H) top layer's final h */
    W_FINAL,                                 /* (B, He) [fw; bw] */
    W_KP,                                    /* (B, S, A) Bahdanau key projection */
    W_EMB,    /* (T, B, E) target embeddings after dropout; backward: their gradient */
    W_EMASK,  /* its dropout mask */
    W_XP,     /* (T, B, GH) decoder input projections; backward: their gradients */
    W_S,      /* (DL, T+1, B, H) decoder states per layer, s_0 first */
    W_C,      /* (DL, T+1, B, H) LSTM cells */
    W_SCACHE, /* (T, step cache) */
    W_CTX,    /* (T, B, Dc) contexts */
    W_WTS,    /* (T, B, S) attention weights */
    W_ACACHE, /* one step's attention cache (backward recomputes it per step) */
    W_CTX2,   /* (B, Dc) the recomputed context, discarded */
    /* the out layer works on the R real (non-padding) positions only */
    W_O,      /* (R, Dout) their [s; c; e], gathered, after dropout; backward: d O */
    W_OMASK,  /* its dropout mask */
    W_LOGITS, /* (R, V) logits, then d loss / d logits */
    W_LOGP,   /* (R) log p(gold) */
    W_DO,     /* (R, Dout) d O before dropout's backward (dropout only) */
    W_DCTX,   /* (B, Dc) d c of one step */
    W_DS,
    W_DC,
    W_DSP,
    W_DCP,    /* (DL, B, H) running state gradients */
    W_DENC,   /* (B, S, He) */
    W_DKP,    /* (B, S, A) */
    W_DFINAL, /* (dirs, B, H) */
    W_DEMB,   /* (T, B, E) */
    W_DX,
    W_DY,    /* (B, S, max C) encoder input/output gradients, in turns */
    W_RWORK, /* scratch of the recurrent layers and attention */
    W_TAB,   /* (Vt, GH) per-word input projections, small vocabularies only */
    W_ETAB,  /* (dirs, Vs, GH) the encoder's per-word projections, likewise */
    W_DETAB, /* their gradients */
    /* decoder layers 2..DL (none with one) */
    W_BR,     /* (B, DL*H) the bridge's output: every layer's s_0 */
    W_DBR,    /* its gradient */
    W_UX,     /* (DL-1, T, B, H) their inputs after dropout (dropout only) */
    W_UMASK,  /* their dropout masks */
    W_UCACHE, /* (DL-1, T, step cache) */
    W_UXP,    /* (B, GH) one step's input projection; backward: its gradient */
    W_UDX,    /* (B, H) the gradient of a layer's dropped input (dropout only) */
    W_COUNT
};

/* The batch's ids as the layers read them (batch_ids). */
enum {
    I_SRC,     /* (B, S) source, -1 at padding */
    I_IN,      /* (T, B) decoder inputs, time-major as the decoder's rows */
    I_IN_REAL, /* the same, -1 at padding */
    I_OUT,     /* (T, B) targets, -1 at padding */
    I_ROWS,    /* (R) the real positions' indices in (T, B), step by step */
    I_ROWB,    /* (R) their rows in their step (the sentence's index in the batch) */
    I_STEP,    /* (T + 1) step t's real positions are I_ROWS[I_STEP[t] .. I_STEP[t + 1]) */
    I_TGT,     /* (R) their targets */
    I_COUNT
};

enum {
    PK_DEC = 4 * LOOM_SEQ_MAX_LAYERS,
    PK_CTX = PK_DEC + 2,
    PK_ATT = PK_CTX + 2,
    PK_COUNT = PK_ATT + 2
};

struct loom_seq_work {
    const loom_seq_model *m;
    int B, S, T;  /* capacity */
    int src_tabs; /* 1: the last encode read the source through W_ETAB */
    int R;        /* the batch's real target positions (I_ROWS) */
    float *buf[W_COUNT];
    int *ids[I_COUNT];
    /* the recurrent weights' packs this training pass reads (NULL: none,
     * sgemm): `shared` when the caller set them (loom_seq_work_set_packs),
     * else the work's `own`, packed anew by each training pass */
    const loom_seq_packs *use, *shared;
    loom_seq_packs *own;
};

/* The recurrent weights a training pass multiplies at every time step,
 * packed (core/packmm.h): each encoder layer's Wh per direction (slots
 * 4l + 2d + t), the decoder's Wh (PK_DEC + t) and its Wx[E:] (PK_CTX + t),
 * as W (t = 0) and as W^T (t = 1), and the attention's query weights
 * (PK_ATT + t); unused slots are NULL. */
struct loom_seq_packs {
    loom_packw *pk[PK_COUNT];
};

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* p + off, NULL staying NULL (buffers of size 0 are NULL). */
static float *at(float *p, size_t off)
{
    return p ? p + off : NULL;
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
        sz[W_X0 + l] = l == 0 || drop ? BS * C : 0;
        sz[W_XMASK0 + l] = drop ? BS * C : 0;
        sz[W_Y + l] = BS * He;
        sz[W_ECACHE + l] = loom_birnn_cache_size(&m->enc[l][0], m->enc_bw[l], B, S);
        rwork = max_sz(rwork, loom_birnn_work_size(&m->enc[l][0], m->enc_bw[l], B, S));
    }
    rwork = max_sz(rwork, loom_attn_rnn_work_size(&m->decoder, B, S));
    size_t DL = m->DL, up = DL - 1, ucache = up ? loom_rnn_step_cache_size(&m->dec_up[1], B) : 0;
    if (up)
        rwork = max_sz(rwork, loom_rnn_step_work_size(&m->dec_up[1], B));
    sz[W_HFIN] = (size_t)m->dirs * B * H;
    sz[W_FINAL] = (size_t)B * He;
    sz[W_KP] = BS * A;
    sz[W_EMB] = TB * E;
    sz[W_EMASK] = drop ? TB * E : 0;
    sz[W_XP] = TB * GH;
    sz[W_S] = DL * (TB + B) * H;
    sz[W_C] = c->cell == LOOM_RNN_LSTM ? DL * (TB + B) * H : 0;
    sz[W_SCACHE] = T * loom_attn_rnn_cache_size(&m->decoder, B);
    sz[W_CTX] = TB * m->Dc;
    sz[W_WTS] = m->Dc ? TB * S : 0;
    /* Bahdanau's cache is (B, S, A) per step, the largest buffer by far if
     * kept for all T steps; the backward pass recomputes it step by step
     * (one attention forward more per step) and memory stays flat in T. */
    sz[W_ACACHE] = loom_attn_rnn_attn_cache_size(&m->decoder, B, S);
    sz[W_CTX2] = (size_t)B * m->Dc;
    /* The out layer gathers the real positions' [s; c; e] into one matrix:
     * padding costs no product, and one product over Dout columns packs
     * its operands once, where three over the blocks in place packed the
     * (rows, V) logits three times (12% slower at 8,000 words). Its
     * gradient takes O's place once dWo is made, and each backward step
     * reads its rows of it: no (T, B, Dout) or (T, B, H + Dc) gradient
     * buffers (they were 3.6 MB a thread, a third of training's peak
     * RSS growth, on scripts/bench-compare's model). */
    sz[W_O] = TB * m->Dout;
    sz[W_OMASK] = drop ? TB * m->Dout : 0;
    sz[W_LOGITS] = TB * V;
    sz[W_LOGP] = TB;
    sz[W_DO] = drop ? TB * m->Dout : 0;
    sz[W_DCTX] = (size_t)B * m->Dc;
    sz[W_DS] = sz[W_DC] = sz[W_DSP] = sz[W_DCP] = DL * B * H;
    sz[W_DENC] = BS * He;
    sz[W_DKP] = BS * A;
    sz[W_DFINAL] = (size_t)m->dirs * B * H;
    sz[W_DEMB] = TB * E;
    sz[W_DX] = BS * max_sz(E, He);
    sz[W_DY] = c->layers > 1 ? BS * max_sz(E, He) : 0;
    sz[W_RWORK] = rwork;
    sz[W_TAB] = (size_t)V * GH;
    sz[W_ETAB] = sz[W_DETAB] = (size_t)m->dirs * c->src_vocab * GH;
    sz[W_BR] = sz[W_DBR] = up ? DL * B * H : 0;
    sz[W_UX] = sz[W_UMASK] = up && drop ? up * TB * H : 0;
    sz[W_UCACHE] = up * T * ucache;
    sz[W_UXP] = up ? (size_t)B * GH : 0;
    sz[W_UDX] = up && drop ? (size_t)B * H : 0;
}

int loom_seq_work_new(loom_seq_work **out, const loom_seq_model *m)
{
    *out = loom_calloc(1, sizeof **out);
    if (!*out)
        return LOOM_ENOMEM;
    (*out)->m = m;
    return 0;
}

static void work_release(loom_seq_work *w)
{
    for (int i = 0; i < W_COUNT; i++)
        free(w->buf[i]), w->buf[i] = NULL;
    for (int i = 0; i < I_COUNT; i++)
        free(w->ids[i]), w->ids[i] = NULL;
}

void loom_seq_work_free(loom_seq_work *w)
{
    if (!w)
        return;
    work_release(w);
    loom_seq_packs_free(w->own);
    free(w);
}

/* Makes room for a batch of B sentences, S source and T target steps. */
static int work_reserve(loom_seq_work *w, int B, int S, int T)
{
    if (B <= w->B && S <= w->S && T <= w->T)
        return 0;
    B = B > w->B ? B : w->B;
    S = S > w->S ? S : w->S;
    T = T > w->T ? T : w->T;
    size_t TB = (size_t)T * B, sz[W_COUNT];
    size_t isz[I_COUNT] = {(size_t)B * S, TB, TB, TB, TB, TB, (size_t)T + 1, TB};
    work_sizes(w->m, B, S, T, sz);
    work_release(w);
    w->B = w->S = w->T = 0;
    for (int i = 0; i < W_COUNT; i++)
        if (sz[i] && !(w->buf[i] = loom_aligned_alloc(sz[i], sizeof(float))))
            return LOOM_ENOMEM;
    for (int i = 0; i < I_COUNT; i++)
        if (!(w->ids[i] = loom_malloc(isz[i] ? isz[i] : 1, sizeof(int))))
            return LOOM_ENOMEM;
    w->B = B, w->S = S, w->T = T;
    return 0;
}

/* Fills the work's ids from a batch: the source with -1 at padding (the
 * embedding's gradient skips it), the target side time-major (T, B) as the
 * decoder's rows are, with -1 at padding where a gradient or the loss must
 * skip the position. */
static void batch_ids(loom_seq_work *w, const loom_seq_batch *b)
{
    int B = b->n, S = b->src_len, T = b->tgt_len, R = 0;
    for (int i = 0; i < B; i++)
        for (int s = 0; s < S; s++)
            w->ids[I_SRC][i * S + s] = s < b->src_lens[i] ? b->src[(size_t)i * S + s] : -1;
    for (int t = 0; t < T; t++) {
        w->ids[I_STEP][t] = R;
        for (int i = 0; i < B; i++) {
            size_t bt = (size_t)i * T + t, tb = (size_t)t * B + i;
            int real = t < b->tgt_lens[i];
            w->ids[I_IN][tb] = b->tgt_in[bt];
            w->ids[I_IN_REAL][tb] = real ? b->tgt_in[bt] : -1;
            w->ids[I_OUT][tb] = real ? b->tgt_out[bt] : -1;
            if (real) {
                w->ids[I_ROWS][R] = (int)tb;
                w->ids[I_ROWB][R] = i;
                w->ids[I_TGT][R++] = b->tgt_out[bt];
            }
        }
    }
    w->ids[I_STEP][T] = R;
    w->R = R;
}

/* The rows of step t that the decoder computes: those up to the last
 * sentence still running at t. The rows after it are padding from t to
 * the end (a sentence that has ended stays ended), so nothing reads their
 * states, and their products would be work for nothing (8.8% of G2P
 * training's decoder rows at batch 64 and two threads, 3.2% with this).
 * 0 when no sentence runs at t (a worker's share of the batch can end
 * before the batch does). */
static int step_rows(const loom_seq_work *w, int t)
{
    int end = w->ids[I_STEP][t + 1];
    return end > w->ids[I_STEP][t] ? w->ids[I_ROWB][end - 1] + 1 : 0;
}

/* The out layer's input [s; c; e] as blocks (core/concat.h): the
 * context's only with attention. Returns the number of blocks. */
static int out_blocks(const loom_seq_model *m, loom_block *o, const float *s, float *ds,
                      const float *ctx, float *dctx, const float *e, float *de)
{
    int n = 0;
    o[n++] = (loom_block){s, ds, m->c.hidden};
    if (m->Dc)
        o[n++] = (loom_block){ctx, dctx, m->Dc};
    o[n++] = (loom_block){e, de, m->c.emb};
    return n;
}

/* ---- the encoder ---- */

/* The first encoder layer reads the source through per-word tables
 * (core/rnn.h) when the vocabulary is small next to the batch's positions
 * and no dropout makes two occurrences of a word differ. */
static int src_by_word(const loom_seq_model *m, int rows, float drop)
{
    return drop == 0 && 2 * m->c.src_vocab <= rows;
}

/* Layer l's input as its recurrent layer reads it: the embeddings (l = 0),
 * the layer below's output, or a dropped-out copy of either. */
#define ENC_INPUT(w, l, dropout)                                                                   \
    ((l) == 0 || (dropout) ? (w)->buf[W_X0 + (l)] : (w)->buf[W_Y + (l)-1])

/* ---- the recurrent weights packed for a training step ----
 * sgemm would pack them again at each time step (17.5% of G2P training's
 * samples). Their values change with every optimizer step, so they are
 * packed anew once per step, before the step's passes. */

/* Slot i's matrix W (K, N) (rows N floats apart) and whether the slot is
 * its transpose; 0 when the model has no such matrix. */
static int pack_source(const loom_seq_model *m, int i, const float **W, int *K, int *N, int *trans)
{
    int H = m->c.hidden, GH = m->G * H;
    *N = GH, *K = H, *trans = i % 2;
    if (i < PK_DEC) {
        int l = i / 4, d = i / 2 % 2;
        if (l >= m->c.layers || d >= m->dirs)
            return 0;
        *W = m->enc[l][d].Wh;
    } else if (i < PK_CTX) {
        *W = m->dec.Wh;
    } else if (i < PK_ATT) {
        if (!m->Dc)
            return 0;
        *W = m->dec.Wx + (size_t)m->c.emb * GH, *K = m->Dc;
    } else {
        const loom_attn *a = &m->attn;
        if (!m->Dc || (a->kind != LOOM_ATTN_BAHDANAU && a->kind != LOOM_ATTN_GENERAL))
            return 0;
        *W = a->W, *K = a->Dq, *N = a->kind == LOOM_ATTN_BAHDANAU ? a->A : a->Dk;
    }
    return 1;
}

int loom_seq_packs_new(loom_seq_packs **out, const loom_seq_model *m)
{
    loom_seq_packs *p = loom_calloc(1, sizeof *p);
    int rc = p ? 0 : LOOM_ENOMEM;
    for (int i = 0; i < PK_COUNT && !rc; i++) {
        const float *W;
        int K, N, t;
        if (pack_source(m, i, &W, &K, &N, &t))
            rc =
                t ? loom_packw_new_t(&p->pk[i], W, N, K, N) : loom_packw_new(&p->pk[i], W, K, N, N);
    }
    if (rc)
        loom_seq_packs_free(p), p = NULL;
    *out = p;
    return rc;
}

void loom_seq_packs_refill(loom_seq_packs *p, const loom_seq_model *m, int part, int nparts)
{
    /* slots dealt in order to the least loaded part: every part makes the
     * same deal and packs its own */
    size_t load[PK_COUNT] = {0}; /* parts past the slots' count get none */
    nparts = nparts < PK_COUNT ? nparts : PK_COUNT;
    for (int i = 0; i < PK_COUNT; i++) {
        const float *W;
        int K, N, t, best = 0;
        if (!pack_source(m, i, &W, &K, &N, &t))
            continue;
        for (int k = 1; k < nparts; k++)
            best = load[k] < load[best] ? k : best;
        load[best] += (size_t)K * N;
        if (best == part)
            loom_packw_refill(p->pk[i], W, N, t);
    }
}

void loom_seq_packs_free(loom_seq_packs *p)
{
    if (!p)
        return;
    for (int i = 0; i < PK_COUNT; i++)
        loom_packw_free(p->pk[i]);
    free(p);
}

void loom_seq_work_set_packs(loom_seq_work *w, const loom_seq_packs *p)
{
    w->shared = p;
}

/* The packs this training pass reads: the shared ones, else the work's
 * own packed now from m's weights. */
static int work_packs(const loom_seq_model *m, loom_seq_work *w)
{
    int rc = 0;
    w->use = NULL;
    if (w->shared) {
        w->use = w->shared;
        return 0;
    }
    if (w->own)
        loom_seq_packs_refill(w->own, m, 0, 1);
    else
        rc = loom_seq_packs_new(&w->own, m);
    w->use = rc ? NULL : w->own;
    return rc;
}

/* The layers a pass runs: the model's, with the packed weights of pk
 * (NULL: none). */
typedef struct {
    loom_rnn enc[LOOM_SEQ_MAX_LAYERS][2], dec;
    loom_attn attn;
    loom_attn_rnn decoder;
} layers;

static void layer_views(const loom_seq_model *m, const loom_seq_packs *pk, layers *v)
{
    for (int l = 0; l < m->c.layers; l++)
        for (int d = 0; d < m->dirs; d++) {
            v->enc[l][d] = m->enc[l][d];
            if (pk)
                v->enc[l][d].Wh_pack = pk->pk[4 * l + 2 * d],
                v->enc[l][d].Wh_pack_t = pk->pk[4 * l + 2 * d + 1];
        }
    v->dec = m->dec;
    v->decoder = m->decoder;
    v->decoder.rnn = &v->dec;
    v->attn = m->attn;
    if (m->decoder.attn)
        v->decoder.attn = &v->attn;
    if (pk) {
        v->dec.Wh_pack = pk->pk[PK_DEC], v->dec.Wh_pack_t = pk->pk[PK_DEC + 1];
        v->decoder.Wc_pack = pk->pk[PK_CTX], v->decoder.Wc_pack_t = pk->pk[PK_CTX + 1];
        v->attn.W_pack = pk->pk[PK_ATT], v->attn.W_pack_t = pk->pk[PK_ATT + 1];
    }
}

/* The first layer's backward when it read the source through the tables:
 * the input gradient goes through them to the embedding and Wx (a frozen
 * embedding gets none). */
static void enc_first_backward_ids(const loom_seq_model *m, const layers *v, loom_seq_work *w,
                                   const float *dout, const float *dfin, const int *src,
                                   const int *lens, int B, int S)
{
    size_t GH = (size_t)m->G * m->c.hidden, V = m->c.src_vocab;
    float *dtab = w->buf[W_DETAB];
    memset(dtab, 0, m->dirs * V * GH * sizeof(float));
    loom_birnn_backward_ids(&v->enc[0][0], m->enc_bw[0] ? &v->enc[0][1] : NULL, dtab, dtab + V * GH,
                            NULL, NULL, w->buf[W_RWORK], dout, dfin, NULL, w->buf[W_ECACHE], src,
                            lens, B, S);
    float *demb = m->src_emb->frozen ? NULL : m->src_emb->grad;
    for (int d = 0; d < m->dirs; d++)
        loom_rnn_table_backward(&m->enc[0][d], demb, dtab + d * V * GH, m->src_emb->value, (int)V);
}

/* The bridge's input [h_fw; h_bw]: the directions' final states. */
static int final_blocks(const loom_seq_model *m, loom_block *f, const float *hf, float *dhf, int B)
{
    size_t BH = (size_t)B * m->c.hidden;
    for (int d = 0; d < m->dirs; d++)
        f[d] = (loom_block){hf + d * BH, dhf ? dhf + d * BH : NULL, m->c.hidden};
    return m->dirs;
}

/* Embeds the source, runs the layers and the bridge: enc = Y[top] (B,S,He),
 * s_0 into W_S (and c_0 = 0 into W_C for LSTM). With `decoding`, the
 * tables of loom_seq_model_prepare_decoding are used when there are. */
static void encode(loom_seq_model *m, loom_seq_work *w, const int *src, const int *lens, int B,
                   int S, int train, int decoding, loom_rng *rng)
{
    const loom_seq_config *c = &m->c;
    int H = c->hidden, E = c->emb, L = c->layers, He = m->He;
    float drop = train ? c->dropout : 0;
    float *tabs[2] = {NULL, NULL}, *fin = w->buf[W_FINAL], *s0 = w->buf[W_S];
    size_t GH = (size_t)m->G * H;
    layers v;
    layer_views(m, train ? w->use : NULL, &v);
    loom_block f[2]; /* the bridge's input [h_fw; h_bw] */
    int nf = final_blocks(m, f, w->buf[W_HFIN], NULL, B);
    if (decoding && m->dec_tab_src[0]) {
        tabs[0] = m->dec_tab_src[0], tabs[1] = m->dec_tab_src[1];
    } else if (src_by_word(m, B * S, drop)) {
        for (int d = 0; d < m->dirs; d++) {
            tabs[d] = w->buf[W_ETAB] + d * c->src_vocab * GH;
            loom_rnn_table(&m->enc[0][d], tabs[d], m->src_emb->value, c->src_vocab);
        }
    }
    w->src_tabs = tabs[0] != NULL;
    if (!tabs[0])
        loom_embedding_forward(w->buf[W_X0], src, m->src_emb->value, B * S, E);
    for (int l = 0; l < L; l++) {
        float *in = ENC_INPUT(w, l, drop > 0);
        if (drop > 0)
            loom_dropout_forward(in, w->buf[W_XMASK0 + l], l ? w->buf[W_Y + l - 1] : in,
                                 (size_t)B * S * (l ? He : E), drop, rng);
        float *y = w->buf[W_Y + l], *cache = w->buf[W_ECACHE + l], *work = w->buf[W_RWORK];
        float *hfin = l == L - 1 ? w->buf[W_HFIN] : NULL;
        if (l == 0 && tabs[0])
            loom_birnn_forward_ids(&v.enc[0][0], m->enc_bw[0] ? &v.enc[0][1] : NULL, y, hfin, NULL,
                                   cache, work, tabs[0], tabs[1], src, lens, NULL, NULL, B, S);
        else
            loom_birnn_forward(&v.enc[l][0], m->enc_bw[l] ? &v.enc[l][1] : NULL, y, hfin, NULL,
                               cache, work, in, lens, NULL, NULL, B, S);
    }
    /* bridge: s_0 = tanh([h_fw; h_bw] Wb + bb); with DL decoder layers,
     * (B, DL*H) into W_BR, each layer's s_0 a block of H columns */
    float *br = m->DL > 1 ? w->buf[W_BR] : s0;
    loom_concat_forward(fin, f, nf, B);
    loom_dense_forward(br, fin, m->bridge_w->value, m->bridge_b->value, B, He, m->DL * H);
    loom_tanh_forward(br, br, (size_t)B * m->DL * H);
    if (c->cell == LOOM_RNN_LSTM)
        memset(w->buf[W_C], 0, (size_t)B * H * sizeof(float));
    if (c->attention == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys(&m->attn, w->buf[W_KP], w->buf[W_Y + L - 1], B * S);
}

/* Gradients of the bridge and the encoder from d s_0 (ds, (B, H)) and d enc
 * (W_DENC, (B, S, He)); dpre is (B, H) scratch. */
static void encode_backward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b,
                            const float *ds, float *dpre)
{
    const loom_seq_config *c = &m->c;
    int B = b->n, S = b->src_len, E = c->emb, H = c->hidden, He = m->He, L = c->layers;
    int drop = c->dropout > 0, DL = m->DL;
    layers v;
    layer_views(m, w->use, &v);
    /* bridge: in the forward pass s_0 = tanh(fin Wb + bb), fin = [h_fw; h_bw]
     * (DL layers: the layers' s_0 side by side, W_BR) */
    float *dfin = w->buf[W_DX], *dhf = w->buf[W_DFINAL]; /* W_DX is free until the layers */
    const float *dbr = ds, *br = w->buf[W_S];
    if (DL > 1) { /* ds holds the layers' d s_0 one after another */
        loom_split_block blk[LOOM_SEQ_MAX_LAYERS];
        for (int l = 0; l < DL; l++)
            blk[l] = (loom_split_block){NULL, ds + (size_t)l * B * H, H};
        memset(w->buf[W_DBR], 0, (size_t)B * DL * H * sizeof(float));
        loom_split_backward(w->buf[W_DBR], blk, DL, B);
        dbr = w->buf[W_DBR], br = w->buf[W_BR];
    }
    memset(dpre, 0, (size_t)B * DL * H * sizeof(float));
    loom_tanh_backward(dpre, dbr, br, (size_t)B * DL * H);
    memset(dfin, 0, (size_t)B * He * sizeof(float));
    loom_dense_backward(dfin, m->bridge_w->grad, m->bridge_b->grad, dpre, w->buf[W_FINAL],
                        m->bridge_w->value, B, He, DL * H);
    memset(dhf, 0, (size_t)m->dirs * B * H * sizeof(float));
    loom_block f[2];
    loom_concat_backward(f, final_blocks(m, f, NULL, dhf, B), dfin, B);
    if (c->attention == LOOM_ATTN_BAHDANAU)
        loom_attn_project_keys_backward(&m->attn, w->buf[W_DENC], w->buf[W_DKP],
                                        w->buf[W_Y + L - 1], B * S);

    /* the layers, top to bottom; each one's input gradient is the next one's dout */
    const float *dout = w->buf[W_DENC];
    for (int l = L - 1; l >= 0; l--) {
        const float *dfinal = l == L - 1 ? dhf : NULL;
        if (l == 0 && w->src_tabs) {
            enc_first_backward_ids(m, &v, w, dout, dfinal, b->src, b->src_lens, B, S);
            return;
        }
        size_t n = (size_t)B * S * (l ? He : E);
        float *dx = dout == w->buf[W_DX] ? w->buf[W_DY] : w->buf[W_DX];
        float *in = ENC_INPUT(w, l, drop);
        memset(dx, 0, n * sizeof(float));
        loom_birnn_backward(&v.enc[l][0], m->enc_bw[l] ? &v.enc[l][1] : NULL, dx, NULL, NULL,
                            w->buf[W_RWORK], dout, dfinal, NULL, w->buf[W_ECACHE + l], in,
                            b->src_lens, B, S);
        if (drop) { /* in = x * mask; the dropped copy is dead now and takes d x */
            memset(in, 0, n * sizeof(float));
            loom_dropout_backward(in, dx, w->buf[W_XMASK0 + l], n);
            dx = in;
        }
        dout = dx;
    }
    loom_embedding_backward(m->src_emb->grad, dout, w->ids[I_SRC], B * S, E);
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

/* The source the decoder attends to in a training batch. */
static loom_attn_rnn_src train_src(const loom_seq_model *m, loom_seq_work *w,
                                   const loom_seq_batch *b)
{
    return (loom_attn_rnn_src){
        w->buf[W_Y + m->c.layers - 1], w->buf[W_KP], NULL, b->src_lens, b->src_len, 1};
}

/* ---- decoder layers 2..DL (core/rnn.h's step on the layer below's state) ---- */

/* Every layer's s_0 from the bridge's W_BR (B, DL*H), c_0 = 0 (layer 1's
 * c_0 is encode's). LS: floats of one layer's (T+1, B, H) states. */
static void upper_start(const loom_seq_model *m, loom_seq_work *w, int B, size_t LS)
{
    int H = m->c.hidden;
    loom_split_block blk[LOOM_SEQ_MAX_LAYERS];
    for (int l = 0; l < m->DL; l++) {
        blk[l] = (loom_split_block){w->buf[W_S] + l * LS, NULL, H};
        if (l && w->buf[W_C])
            memset(w->buf[W_C] + l * LS, 0, (size_t)B * H * sizeof(float));
    }
    loom_split_forward(blk, m->DL, w->buf[W_BR], B);
}

/* Layer l's input at step t: the layer below's new state, or its dropped
 * copy; its dropout mask; its step cache. */
static float *upper_in(const loom_seq_model *m, loom_seq_work *w, int l, int t, int B, int T,
                       int dropped)
{
    size_t H = m->c.hidden, TB = (size_t)T * B, LS = (TB + B) * H;
    if (dropped)
        return w->buf[W_UX] + ((l - 1) * TB + (size_t)t * B) * H;
    return w->buf[W_S] + (l - 1) * LS + ((size_t)t * B + B) * H;
}

static float *upper_cache(const loom_seq_model *m, loom_seq_work *w, int l, int t, int B, int T)
{
    return w->buf[W_UCACHE] +
           ((size_t)(l - 1) * T + t) * loom_rnn_step_cache_size(&m->dec_up[l], B);
}

/* s^l_t = cell_l(dropout(s^{l-1}_t), s^l_{t-1}) for the first n rows
 * (step_rows; the dropout's mask covers all B, so that its draws do not
 * depend on n) */
static void upper_forward(const loom_seq_model *m, loom_seq_work *w, int l, int t, int B, int T,
                          int n, float drop, loom_rng *rng)
{
    size_t H = m->c.hidden, TB = (size_t)T * B, LS = (TB + B) * H, tb = (size_t)t * B;
    float *x = upper_in(m, w, l, t, B, T, 0), *s = w->buf[W_S] + l * LS, *cs = w->buf[W_C];
    if (drop > 0) {
        float *xd = upper_in(m, w, l, t, B, T, 1);
        loom_dropout_forward(xd, xd - w->buf[W_UX] + w->buf[W_UMASK], x, B * H, drop, rng);
        x = xd;
    }
    loom_rnn_project(&m->dec_up[l], w->buf[W_UXP], x, n);
    loom_rnn_step_forward(&m->dec_up[l], s + (tb + B) * H, cs ? cs + l * LS + (tb + B) * H : NULL,
                          upper_cache(m, w, l, t, B, T), w->buf[W_RWORK], w->buf[W_UXP], s + tb * H,
                          cs ? cs + l * LS + tb * H : NULL, n);
}

/* Layer l's step t backward over its first n rows: from ds, dc (DL, B, H:
 * the gradients of the layers' s_t, c_t) into dsp, dcp (those of s_{t-1},
 * c_{t-1}), the layer's weights and the layer below's ds. */
static void upper_backward(const loom_seq_model *m, loom_seq_work *w, int l, int t, int B, int T,
                           int n, float *ds, float *dc, float *dsp, float *dcp)
{
    size_t H = m->c.hidden, GH = (size_t)m->G * H, TB = (size_t)T * B, LS = (TB + B) * H;
    size_t tb = (size_t)t * B, BH = (size_t)B * H;
    int drop = m->c.dropout > 0;
    const float *s = w->buf[W_S] + l * LS, *cs = w->buf[W_C];
    float *dxp = w->buf[W_UXP];
    memset(dxp, 0, B * GH * sizeof(float));
    loom_rnn_step_backward(&m->dec_up[l], dxp, dsp + l * BH, dcp ? dcp + l * BH : NULL,
                           w->buf[W_RWORK], ds + l * BH, dc ? dc + l * BH : NULL,
                           upper_cache(m, w, l, t, B, T), s + (tb + B) * H, s + tb * H,
                           cs ? cs + l * LS + tb * H : NULL, n);
    float *x = upper_in(m, w, l, t, B, T, drop);
    float *dx = drop ? w->buf[W_UDX] : ds + (l - 1) * BH;
    if (drop)
        memset(dx, 0, BH * sizeof(float));
    loom_rnn_project_backward(&m->dec_up[l], dx, dxp, x, n);
    if (drop) /* x = s^{l-1}_t * mask */
        loom_dropout_backward(ds + (l - 1) * BH, dx, x - w->buf[W_UX] + w->buf[W_UMASK], BH);
}

int loom_seq_forward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, int train,
                     float label_smoothing, loom_rng *rng, double *loss, long *tokens, float *logp)
{
    const loom_seq_config *c = &m->c;
    int B = b->n, S = b->src_len, T = b->tgt_len, TB = T * B;
    int H = c->hidden, E = c->emb, V = c->tgt_vocab, GH = m->G * H, Dc = m->Dc, Dout = m->Dout;
    float drop = train ? c->dropout : 0;
    int rc = work_reserve(w, B, S, T);
    if (!rc && train && loom_gemm_precision() == LOOM_PRECISION_FP32) /* bf16: loom_gemm's */
        rc = work_packs(m, w);
    else
        w->use = NULL;
    if (rc)
        return rc;
    batch_ids(w, b);
    layers v;
    layer_views(m, w->use, &v);
    /* pointer set-up: the decoder's tensors, time-major; s and c hold s_0
     * (the bridge's) then the T steps' states */
    const int *in_ids = w->ids[I_IN];
    const float *Wx = m->dec.Wx, *Wo = m->out_w->value, *bo = m->out_b->value;
    float *emb = w->buf[W_EMB], *xp = w->buf[W_XP], *tab = w->buf[W_TAB], *O = w->buf[W_O];
    int R = w->R;
    const int *rows = w->ids[I_ROWS];
    float *s = w->buf[W_S], *cs = w->buf[W_C], *ctx = w->buf[W_CTX], *wts = w->buf[W_WTS];
    float *z = w->buf[W_LOGITS], *lp = w->buf[W_LOGP];
    size_t BH = (size_t)B * H;
    int tables = by_word(m, TB);
    loom_attn_rnn_src src = train_src(m, w, b);
    size_t LS = ((size_t)TB + B) * H;   /* one decoder layer's states */
    float *stop = s + (m->DL - 1) * LS; /* the top layer's: the out layer and the query read them */
    loom_block o[3];                    /* the out layer's input [s; c; e] */
    int no = out_blocks(m, o, stop + BH, NULL, ctx, NULL, emb, NULL);

    encode(m, w, b->src, b->src_lens, B, S, train, 0, rng);
    if (m->DL > 1)
        upper_start(m, w, B, LS);
    size_t scache = loom_attn_rnn_cache_size(&m->decoder, B);
    /* the decoder's inputs, all steps at once: embeddings and their share
     * of the input projection (through a table of each word's share when
     * that is less work) */
    loom_embedding_forward(emb, in_ids, m->tgt_emb->value, TB, E);
    if (drop > 0)
        loom_dropout_forward(emb, w->buf[W_EMASK], emb, (size_t)TB * E, drop, rng);
    if (tables) {
        loom_dense_forward(tab, m->tgt_emb->value, Wx, NULL, V, E, GH);
        loom_embedding_forward(xp, in_ids, tab, TB, GH);
    } else {
        loom_dense_forward(xp, emb, Wx, NULL, TB, E, GH);
    }
    for (size_t t = 0, tb = 0; t < (size_t)T; t++, tb += B) { /* s_t, c_t from s_{t-1} */
        int n = step_rows(w, (int)t);
        if (Dc) /* the rows past n: decoder_input_backward's dWx reads them */
            memset(ctx + (tb + n) * Dc, 0, (size_t)(B - n) * Dc * sizeof *ctx);
        if (!n)
            continue;
        loom_attn_rnn_forward_q(&v.decoder, &src, stop + tb * H, s + tb * H + BH,
                                cs ? cs + tb * H + BH : NULL, Dc ? ctx + tb * Dc : NULL,
                                Dc ? wts + tb * S : NULL, w->buf[W_SCACHE] + t * scache,
                                w->buf[W_ACACHE], w->buf[W_RWORK], xp + tb * GH, s + tb * H,
                                cs ? cs + tb * H : NULL, n);
        for (int l = 1; l < m->DL; l++)
            upper_forward(m, w, l, (int)t, B, T, n, drop, rng);
    }
    /* the out layer over the real positions of all steps: O = dropout([s;
     * c; e] gathered), z = O Wo + bo, and the loss in place */
    loom_concat_gather_forward(O, o, no, rows, R);
    if (drop > 0)
        loom_dropout_forward(O, w->buf[W_OMASK], O, (size_t)R * Dout, drop, rng);
    loom_dense_forward(z, O, Wo, bo, R, Dout, V);
    *loss = loom_xent_inplace(z, lp, tokens, w->ids[I_TGT], R, V, label_smoothing, train);
    if (logp) { /* to batch-major, 0 at padding */
        memset(logp, 0, (size_t)TB * sizeof *logp);
        for (int r = 0; r < R; r++)
            logp[(size_t)(rows[r] % B) * T + rows[r] / B] = lp[r];
    }
    return 0;
}

/* The out layer's backward over all steps (dz = d loss / d logits of the
 * real positions in W_LOGITS): dWo, dbo, and d [s; c; e] (R, Dout) in
 * W_O's place (read step by step by output_backward_step), whose e columns
 * go to W_DEMB here. */
static void output_backward(loom_seq_model *m, loom_seq_work *w, float scale)
{
    int R = w->R, V = m->c.tgt_vocab, Dout = m->Dout;
    float *O = w->buf[W_O], *dz = w->buf[W_LOGITS];
    const float *Wo = m->out_w->value;
    /* dWo first, while O holds the forward's input; then O takes d O */
    loom_dense_backward_blocks(&(loom_block){O, NULL, Dout}, 1, m->out_w->grad, m->out_b->grad, dz,
                               Wo, R, V, scale);
    float *dO = m->c.dropout > 0 ? w->buf[W_DO] : O;
    memset(dO, 0, (size_t)R * Dout * sizeof(float));
    loom_dense_backward_blocks(&(loom_block){NULL, dO, Dout}, 1, NULL, NULL, dz, Wo, R, V, scale);
    if (m->c.dropout > 0) { /* O = dropped [s; c; e]: it takes d [s; c; e] */
        memset(O, 0, (size_t)R * Dout * sizeof(float));
        loom_dropout_backward(O, dO, w->buf[W_OMASK], (size_t)R * Dout);
    }
    loom_block o[3];
    int no = out_blocks(m, o, NULL, NULL, NULL, NULL, NULL, w->buf[W_DEMB]);
    loom_concat_gather_backward(o, no, O, w->ids[I_ROWS], R);
}

/* The out layer's gradient of step t's s_t (added to ds) and c_t (returned,
 * W_DCTX; 0 at padding): step t's rows of d [s; c; e]. */
static float *output_backward_step(loom_seq_model *m, loom_seq_work *w, int t, int B, float *ds)
{
    int r0 = w->ids[I_STEP][t], n = w->ids[I_STEP][t + 1] - r0;
    float *dctx = w->buf[W_DCTX];
    if (dctx)
        memset(dctx, 0, (size_t)B * m->Dc * sizeof(float));
    loom_block o[3];
    int no = out_blocks(m, o, NULL, ds, NULL, dctx, NULL, NULL);
    loom_concat_gather_backward(o, no, w->buf[W_O] + (size_t)r0 * m->Dout, w->ids[I_ROWB] + r0, n);
    return dctx;
}

/* The decoder input's backward, all steps at once: in the forward pass
 * xp = e Wx[:E] (through the table when by_word) and, per step, + c Wx[E:];
 * e = dropout(emb[ids]). */
static void decoder_input_backward(loom_seq_model *m, loom_seq_work *w, int B, int T)
{
    const loom_seq_config *c = &m->c;
    int TB = T * B, E = c->emb, V = c->tgt_vocab, GH = m->G * c->hidden, Dc = m->Dc;
    const float *dxp = w->buf[W_XP], *Wx = m->dec.Wx;
    float *emb = w->buf[W_EMB], *demb = w->buf[W_DEMB], *dtab = w->buf[W_TAB];
    if (Dc)
        loom_dense_backward(NULL, m->dec.dWx + (size_t)E * GH, NULL, dxp, w->buf[W_CTX],
                            Wx + (size_t)E * GH, TB, Dc, GH);
    if (by_word(m, TB)) { /* xp = tab[id], tab = Emb Wx[:E] */
        memset(dtab, 0, (size_t)V * GH * sizeof(float));
        loom_embedding_backward(dtab, dxp, w->ids[I_IN_REAL], TB, GH);
        loom_dense_backward(m->tgt_emb->grad, m->dec.dWx, NULL, dtab, m->tgt_emb->value, Wx, V, E,
                            GH);
    } else {
        loom_dense_backward(demb, m->dec.dWx, NULL, dxp, emb, Wx, TB, E, GH);
    }
    if (c->dropout > 0) { /* the dropped embeddings are dead now: they take d emb */
        memset(emb, 0, (size_t)TB * E * sizeof(float));
        loom_dropout_backward(emb, demb, w->buf[W_EMASK], (size_t)TB * E);
        demb = emb;
    }
    loom_embedding_backward(m->tgt_emb->grad, demb, w->ids[I_IN_REAL], TB, E);
}

int loom_seq_backward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, float scale)
{
    const loom_seq_config *c = &m->c;
    int B = b->n, S = b->src_len, T = b->tgt_len, TB = T * B;
    int H = c->hidden, E = c->emb, GH = m->G * H, lstm = c->cell == LOOM_RNN_LSTM;
    size_t BH = (size_t)B * H, LS = ((size_t)TB + B) * H;
    int DL = m->DL, top = DL - 1;
    float *ds = w->buf[W_DS], *dc = w->buf[W_DC], *dsp = w->buf[W_DSP], *dcp = w->buf[W_DCP];
    memset(w->buf[W_DEMB], 0, (size_t)TB * E * sizeof(float));
    memset(w->buf[W_XP], 0, (size_t)TB * GH * sizeof(float)); /* now d xp */
    memset(w->buf[W_DENC], 0, (size_t)B * S * m->He * sizeof(float));
    if (w->buf[W_DKP])
        memset(w->buf[W_DKP], 0, (size_t)B * S * c->attn_dim * sizeof(float));
    memset(ds, 0, DL * BH * sizeof(float));
    if (lstm)
        memset(dc, 0, DL * BH * sizeof(float));

    output_backward(m, w, scale);
    layers v;
    layer_views(m, w->use, &v);
    loom_attn_rnn_src src = train_src(m, w, b);
    float *s = w->buf[W_S], *cs = w->buf[W_C], *wts = w->buf[W_WTS];
    size_t scache = loom_attn_rnn_cache_size(&m->decoder, B);
    for (int t = T - 1; t >= 0; t--) {
        size_t tb = (size_t)t * B;
        int n = step_rows(w, t); /* the rows the forward pass computed; ds is 0 past them */
        float *dctx = output_backward_step(m, w, t, B, ds + top * BH);
        memset(dsp, 0, DL * BH * sizeof(float));
        if (lstm)
            memset(dcp, 0, DL * BH * sizeof(float));
        for (int l = top; l > 0 && n; l--) /* the upper layers first: they read layer 1's s_t */
            upper_backward(m, w, l, t, B, T, n, ds, lstm ? dc : NULL, dsp, lstm ? dcp : NULL);
        /* layer 1, its attention queried by the top layer's s_{t-1} */
        if (n)
            loom_attn_rnn_backward_q(&v.decoder, &src, s + top * LS + tb * H, dsp + top * BH,
                                     w->buf[W_XP] + tb * GH, dsp, lstm ? dcp : NULL, dctx,
                                     w->buf[W_DENC], w->buf[W_DKP], w->buf[W_CTX2],
                                     w->buf[W_ACACHE], w->buf[W_RWORK], ds, lstm ? dc : NULL,
                                     w->buf[W_SCACHE] + t * scache, s + (tb + B) * H, s + tb * H,
                                     lstm ? cs + tb * H : NULL, at(wts, tb * S), n);
        float *tmp = ds;
        ds = dsp, dsp = tmp;
        if (lstm)
            tmp = dc, dc = dcp, dcp = tmp;
    }
    decoder_input_backward(m, w, B, T);
    encode_backward(m, w, b, ds, dsp);
    return 0;
}

/* ---- decoding ---- */

struct loom_seq_state {
    loom_seq_model *m;
    int rows, S, K;
    int cap;                 /* the rows it was made with: a decoder layer's stride in rows */
    int *lens;               /* (rows) source lengths */
    float *enc, *kp;         /* (rows, S, He), (rows, S, A) */
    float *P;                /* (sentences, S, GH): enc Wx[E:], the context's input share
                                (few rows only; NULL: each step multiplies the contexts) */
    float *s, *s2, *c, *c2;  /* (DL, cap, H) states per layer and their next values */
    float *e, *xp, *o, *ctx; /* step scratch: embeddings, input projections, [s; c; e], contexts */
    float *wts, *cache, *work;
    float *scratch; /* (tgt_vocab) */
    /* a vocabulary shortlist (loom_seq_state_restrict): the output layer's
     * candidate columns packed, their biases and their number; NULL: all */
    loom_packw *sub;
    float *sub_b;
    int sub_n;
};

void loom_seq_state_free(loom_seq_state *st)
{
    if (!st)
        return;
    free(st->lens);
    float *bufs[] = {st->enc, st->kp, st->P,   st->s,   st->s2,    st->c,    st->c2,     st->e,
                     st->xp,  st->o,  st->ctx, st->wts, st->cache, st->work, st->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
    loom_packw_free(st->sub);
    free(st->sub_b);
    free(st);
}

int loom_seq_state_restrict(loom_seq_state *st, const int *cols, int n)
{
    const loom_seq_model *m = st->m;
    int V = m->c.tgt_vocab, D = m->Dout;
    loom_packw_free(st->sub);
    free(st->sub_b);
    st->sub = NULL, st->sub_b = NULL, st->sub_n = 0;
    if (!cols || n <= 0)
        return 0;
    for (int j = 0; j < n; j++)
        if (cols[j] < 0 || cols[j] >= V || (j > 0 && cols[j] <= cols[j - 1]))
            return loom_error(LOOM_EINVAL, "shortlist column %d: id %d out of order or range", j,
                              cols[j]);
    /* the candidate columns of out_w packed straight from it */
    st->sub_b = loom_malloc(n, sizeof(float));
    int rc = !st->sub_b ? LOOM_ENOMEM : 0;
    if (!rc) {
        const float *bo = m->out_b->value;
        for (int j = 0; j < n; j++)
            st->sub_b[j] = bo[cols[j]];
        rc = loom_packw_new_cols(&st->sub, m->out_w->value, D, V, V, cols, n);
    }
    if (rc) {
        free(st->sub_b);
        st->sub_b = NULL;
        return rc;
    }
    st->sub_n = n;
    return 0;
}

int loom_seq_state_rows(const loom_seq_state *st)
{
    return st->rows;
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

/* Allocates st's buffers for cap rows (K a sentence) over sources of S
 * tokens; P for nP sentences (0: none). */
static int state_buffers(loom_seq_state *st, loom_seq_model *m, int cap, int S, int K, int nP)
{
    const loom_seq_config *c = &m->c;
    int H = c->hidden, R = cap, He = m->He, GH = m->G * H, E = c->emb;
    size_t A = c->attention == LOOM_ATTN_BAHDANAU ? c->attn_dim : 0;
    int fail = 0;
    st->m = m, st->rows = R, st->S = S, st->K = K, st->cap = R;
    st->lens = loom_malloc(R, sizeof(int));
    fail |= !st->lens;
    st->enc = state_alloc((size_t)R * S * He, &fail);
    st->kp = state_alloc((size_t)R * S * A, &fail);
    st->P = state_alloc((size_t)nP * S * GH, &fail);
    size_t LRH = (size_t)m->DL * R * H;
    st->s = state_alloc(LRH, &fail);
    st->s2 = state_alloc(LRH, &fail);
    st->c = state_alloc(c->cell == LOOM_RNN_LSTM ? LRH : 0, &fail);
    st->c2 = state_alloc(c->cell == LOOM_RNN_LSTM ? LRH : 0, &fail);
    st->e = state_alloc((size_t)R * E, &fail);
    st->xp = state_alloc((size_t)R * GH, &fail);
    st->o = state_alloc((size_t)R * m->Dout, &fail);
    st->ctx = state_alloc((size_t)R * (m->Dc + 1), &fail);
    st->wts = state_alloc((size_t)R * S, &fail);
    st->cache = state_alloc(loom_attn_rnn_cache_size(&m->decoder, R) +
                                loom_attn_rnn_attn_cache_size(&m->decoder, R, S),
                            &fail);
    st->work = state_alloc(loom_attn_rnn_work_size(&m->decoder, R, S) + 1, &fail);
    st->scratch = state_alloc((size_t)c->tgt_vocab, &fail);
    return fail ? LOOM_ENOMEM : 0;
}

/* Encodes n sentences (ids padded to S, S <= st->S) into the state's rows
 * row0 .. row0 + n*K (K rows a sentence, each at its initial decoder
 * state; the layers' states at stride st->cap rows), source positions from
 * S to st->S zeroed; also P when the state has it (row0 = 0, S = st->S). */
static void state_encode(loom_seq_state *st, loom_seq_work *w, const int *src, const int *lens,
                         int n, int S, int row0)
{
    loom_seq_model *m = st->m;
    const loom_seq_config *c = &m->c;
    int H = c->hidden, K = st->K, He = m->He, GH = m->G * H, E = c->emb;
    size_t A = c->attention == LOOM_ATTN_BAHDANAU ? c->attn_dim : 0, SS = (size_t)st->S;
    size_t LR = (size_t)st->cap * H;
    const float *enc = w->buf[W_Y + c->layers - 1];
    const float *br = m->DL > 1 ? w->buf[W_BR] : w->buf[W_S]; /* (B, DL*H) s_0 of each layer */
    for (int i0 = 0; i0 < n; i0 += ENCODE_CHUNK) {
        int nb = n - i0 < ENCODE_CHUNK ? n - i0 : ENCODE_CHUNK;
        encode(m, w, src + (size_t)i0 * S, lens + i0, nb, S, 0, 1, NULL);
        for (int r = i0 * K; r < (i0 + nb) * K; r++) {
            int i = r / K - i0;
            size_t q = (size_t)row0 + r;
            st->lens[q] = lens[i0 + i];
            float *e = st->enc + q * SS * He;
            memcpy(e, enc + (size_t)i * S * He, (size_t)S * He * 4);
            memset(e + (size_t)S * He, 0, (SS - S) * He * 4);
            if (A) {
                float *kq = st->kp + q * SS * A;
                memcpy(kq, w->buf[W_KP] + (size_t)i * S * A, S * A * 4);
                memset(kq + (size_t)S * A, 0, (SS - S) * A * 4);
            }
            for (int l = 0; l < m->DL; l++)
                memcpy(st->s + l * LR + q * H, br + ((size_t)i * m->DL + l) * H, H * sizeof(float));
            if (st->c)
                for (int l = 0; l < m->DL; l++)
                    memset(st->c + l * LR + q * H, 0, H * sizeof(float));
        }
        /* The context enters the decoder's input projection as c_t Wx[E:] =
         * sum_j a_tj (enc_j Wx[E:]): with few rows, project the source
         * positions once here, and a step mixes S rows of GH (a
         * matrix-vector product per row, loom_attn_mix_add) instead of
         * multiplying (Dc, GH) per step; with many rows one GEMM per step
         * does better. */
        if (st->P)
            loom_dense_forward(st->P + (size_t)i0 * S * GH, enc, m->dec.Wx + (size_t)E * GH, NULL,
                               nb * S, He, GH);
    }
}

int loom_seq_start(loom_seq_state **out, loom_seq_model *m, loom_seq_work *w, const int *src,
                   const int *lens, int n, int S, int K)
{
    *out = NULL;
    int R = n * K;
    int rc = work_reserve(w, n < ENCODE_CHUNK ? n : ENCODE_CHUNK, S, 1);
    if (rc)
        return rc;
    loom_seq_state *st = loom_calloc(1, sizeof *st);
    if (!st)
        return LOOM_ENOMEM;
    /* P is per sentence, shared by its K rows; multiplying contexts costs
     * per row: beams use P, batched greedy decoding the GEMM */
    int use_P = m->Dc && (K > 1 || R < DECODE_P_ROWS);
    if (state_buffers(st, m, R, S, K, use_P ? n : 0)) {
        loom_seq_state_free(st);
        return LOOM_ENOMEM;
    }
    state_encode(st, w, src, lens, n, S, 0);
    *out = st;
    return 0;
}

int loom_seq_state_new(loom_seq_state **out, loom_seq_model *m, int cap, int S)
{
    *out = NULL;
    loom_seq_state *st = loom_calloc(1, sizeof *st);
    if (!st)
        return LOOM_ENOMEM;
    if (state_buffers(st, m, cap < 1 ? 1 : cap, S < 1 ? 1 : S, 1, 0)) {
        loom_seq_state_free(st);
        return LOOM_ENOMEM;
    }
    st->rows = 0;
    *out = st;
    return 0;
}

/* Moves a K = 1 state without P into buffers for cap rows and sources of S
 * tokens (cap >= rows, S >= st->S), its rows keeping their values. */
static int state_grow(loom_seq_state *st, int cap, int S)
{
    loom_seq_model *m = st->m;
    loom_seq_state *ns = loom_calloc(1, sizeof *ns);
    if (!ns || state_buffers(ns, m, cap, S, 1, 0)) {
        loom_seq_state_free(ns);
        return LOOM_ENOMEM;
    }
    size_t H = (size_t)m->c.hidden, He = (size_t)m->He, OS = (size_t)st->S, NS = (size_t)S;
    size_t A = m->c.attention == LOOM_ATTN_BAHDANAU ? (size_t)m->c.attn_dim : 0;
    for (size_t r = 0; r < (size_t)st->rows; r++) {
        ns->lens[r] = st->lens[r];
        memcpy(ns->enc + r * NS * He, st->enc + r * OS * He, OS * He * sizeof(float));
        memset(ns->enc + (r * NS + OS) * He, 0, (NS - OS) * He * sizeof(float));
        if (A) {
            memcpy(ns->kp + r * NS * A, st->kp + r * OS * A, OS * A * sizeof(float));
            memset(ns->kp + (r * NS + OS) * A, 0, (NS - OS) * A * sizeof(float));
        }
        for (size_t l = 0; l < (size_t)m->DL; l++) {
            memcpy(ns->s + (l * cap + r) * H, st->s + (l * st->cap + r) * H, H * sizeof(float));
            if (st->c)
                memcpy(ns->c + (l * cap + r) * H, st->c + (l * st->cap + r) * H, H * sizeof(float));
        }
    }
    ns->rows = st->rows;
    ns->sub = st->sub, ns->sub_b = st->sub_b, ns->sub_n = st->sub_n;
    st->sub = NULL, st->sub_b = NULL;
    loom_seq_state tmp = *st;
    *st = *ns;
    *ns = tmp;
    loom_seq_state_free(ns);
    return 0;
}

int loom_seq_state_add(loom_seq_state *st, loom_seq_work *w, const int *src, const int *lens, int n,
                       int S)
{
    if (st->K != 1 || st->P)
        return loom_error(LOOM_EINVAL, "sentences join a greedy state made by loom_seq_state_new");
    if (n <= 0)
        return 0;
    int rc = work_reserve(w, n < ENCODE_CHUNK ? n : ENCODE_CHUNK, S, 1);
    if (rc)
        return rc;
    if (st->rows + n > st->cap || S > st->S) {
        int cap = st->cap, NS = st->S;
        while (cap < st->rows + n)
            cap *= 2;
        if (S > NS)
            NS = S + 15 - (S + 15) % 16; /* a few more, so that the next long one fits */
        if ((rc = state_grow(st, cap, NS)))
            return rc;
    }
    state_encode(st, w, src, lens, n, S, st->rows);
    st->rows += n;
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
        for (size_t l = 0, LR = (size_t)st->cap * H; l < (size_t)m->DL; l++) {
            memmove(st->s + l * LR + to * K * H, st->s + l * LR + from * K * H,
                    K * H * sizeof(float));
            if (st->c)
                memmove(st->c + l * LR + to * K * H, st->c + l * LR + from * K * H,
                        K * H * sizeof(float));
        }
        memmove(st->lens + to * K, st->lens + from * K, K * sizeof(int));
    }
    st->rows = nkeep * st->K;
}

void loom_seq_state_reorder(loom_seq_state *st, const int *from)
{
    /* row r takes row from[r]: a lookup with the old rows as the table */
    int H = st->m->c.hidden;
    size_t LR = (size_t)st->cap * H;
    float *t;
    for (int l = 0; l < st->m->DL; l++) {
        loom_embedding_forward(st->s2 + l * LR, from, st->s + l * LR, st->rows, H);
        if (st->c)
            loom_embedding_forward(st->c2 + l * LR, from, st->c + l * LR, st->rows, H);
    }
    t = st->s, st->s = st->s2, st->s2 = t;
    t = st->c, st->c = st->c2, st->c2 = t;
}

void loom_seq_step(loom_seq_model *m, loom_seq_state *st, const int *prev, float *logp,
                   float *align)
{
    const loom_seq_config *c = &m->c;
    int R = st->rows, S = st->S, E = c->emb, V = c->tgt_vocab, GH = m->G * c->hidden;
    loom_attn_rnn_src src = {st->enc, st->kp, st->P, st->lens, S, st->K};
    size_t LR = (size_t)st->cap * c->hidden, top = (size_t)m->DL - 1;
    loom_block o[3]; /* the out layer's input [s; c; e], s being the top layer's new state */
    int no = out_blocks(m, o, st->s2 + top * LR, NULL, st->ctx, NULL, st->e, NULL);
    /* the input: the embedding of prev and its share of the input projection */
    loom_embedding_forward(st->e, prev, m->tgt_emb->value, R, E);
    if (m->dec_tab_tgt)
        loom_embedding_forward(st->xp, prev, m->dec_tab_tgt, R, GH);
    else
        loom_dense_forward(st->xp, st->e, m->dec.Wx, NULL, R, E, GH);
    loom_attn_rnn_forward_q(&m->decoder, &src, st->s + top * LR, st->s2, st->c2, st->ctx, st->wts,
                            st->cache, st->cache + loom_attn_rnn_cache_size(&m->decoder, R),
                            st->work, st->xp, st->s, st->c, R);
    for (size_t l = 1; l <= top; l++) { /* the layers above read the new state below */
        loom_rnn_project(&m->dec_up[l], st->xp, st->s2 + (l - 1) * LR, R);
        loom_rnn_step_forward(&m->dec_up[l], st->s2 + l * LR, st->c2 ? st->c2 + l * LR : NULL,
                              st->cache, st->work, st->xp, st->s + l * LR,
                              st->c ? st->c + l * LR : NULL, R);
    }
    /* the out layer, log p = log softmax([s; c; e] Wo + bo): a few rows, so
     * one copy and one product (training multiplies the blocks in place) */
    loom_concat_forward(st->o, o, no, R);
    if (st->sub) { /* a shortlist: its columns only */
        V = st->sub_n;
        loom_packw_mm(st->sub, R, st->o, m->Dout, st->sub_b, logp, V);
    } else if (m->out_pack) { /* prepared for decoding: W packed once, not per step by sgemm */
        loom_packw_mm(m->out_pack, R, st->o, m->Dout, m->out_b->value, logp, V);
    } else {
        loom_dense_forward(logp, st->o, m->out_w->value, m->out_b->value, R, m->Dout, V);
    }
    loom_log_softmax_inplace(logp, st->scratch, R, V);
    if (align && m->Dc)
        memcpy(align, st->wts, (size_t)R * S * sizeof(float));
    else if (align) /* no attention: no weights */
        memset(align, 0, (size_t)R * S * sizeof(float));
    float *t = st->s; /* the new states become the current ones */
    st->s = st->s2, st->s2 = t;
    t = st->c, st->c = st->c2, st->c2 = t;
}

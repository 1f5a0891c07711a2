/* loom: what the encoder-decoder is made of: the configuration's checks,
 * its parameters declared with PyTorch's state_dict names and shapes,
 * drawn as PyTorch's defaults draw them, the core layers (recurrent
 * layers, attention, the decoder step) bound to them, replicas for
 * data-parallel training and the per-word tables decoding reads. The
 * passes over them are model.c's; files are model_file.c's. */
#include "config.h"
#include "seq/model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "core/dense.h"
#include "core/packmm.h"

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
    if (c->dec_layers < 0 || c->dec_layers > LOOM_SEQ_MAX_LAYERS)
        return loom_error(LOOM_EINVAL, "decoder layers must be 1..%d, not %d", LOOM_SEQ_MAX_LAYERS,
                          c->dec_layers);
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
    /* one bridge for all decoder layers: layer l's s_0 is its columns l*H.. */
    rc |= add2(m, &m->bridge_w, "bridge.weight", m->He, m->DL * H);
    rc |= add1(m, &m->bridge_b, "bridge.bias", m->DL * H);
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
    for (int l = 1; l < m->DL; l++) { /* PyTorch's names for a stack's layer l */
        snprintf(name, sizeof name, "decoder.weight_ih_l%d", l);
        rc |= add2(m, &m->dec_up_p[l][0], name, H, GH);
        snprintf(name, sizeof name, "decoder.weight_hh_l%d", l);
        rc |= add2(m, &m->dec_up_p[l][1], name, H, GH);
        snprintf(name, sizeof name, "decoder.bias_ih_l%d", l);
        rc |= add1(m, &m->dec_up_p[l][2], name, GH);
        snprintf(name, sizeof name, "decoder.bias_hh_l%d", l);
        rc |= add1(m, &m->dec_up_p[l][3], name, GH);
    }
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
    for (int l = 0; l < c->layers; l++)
        m->enc_bw[l] = m->dirs == 2 ? &m->enc[l][1] : NULL;
    bind_rnn(&m->dec, m->dec_p, cell, c->emb + m->Dc, c->hidden, 0);
    for (int l = 1; l < m->DL; l++)
        bind_rnn(&m->dec_up[l], m->dec_up_p[l], cell, c->hidden, c->hidden, 0);
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
    m->decoder =
        (loom_attn_rnn){.rnn = &m->dec, .attn = m->Dc ? &m->attn : NULL, .E = c->emb, .Dv = m->Dc};
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

/* A model with its parameters declared, not yet allocated. */
static int model_declare(loom_seq_model **out, const loom_seq_config *c)
{
    *out = NULL;
    int rc = loom_seq_config_check(c);
    if (rc)
        return rc;
    loom_seq_model *m = loom_calloc(1, sizeof *m);
    if (!m)
        return LOOM_ENOMEM;
    m->c = *c;
    m->c.dec_layers = m->DL = c->dec_layers > 1 ? c->dec_layers : 1;
    m->dirs = c->bidirectional ? 2 : 1;
    m->He = m->dirs * c->hidden;
    m->Dc = c->attention == LOOM_ATTN_NONE ? 0 : m->He;
    m->Dout = c->hidden + m->Dc + c->emb;
    m->G = loom_rnn_gates(c->cell);
    if ((rc = loom_params_new(&m->ps)) || (rc = declare(m))) {
        loom_seq_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int model_alloc(loom_seq_model **out, const loom_seq_config *c)
{
    int rc = model_declare(out, c);
    if (!rc && (rc = loom_params_alloc((*out)->ps))) {
        loom_seq_model_free(*out);
        *out = NULL;
    }
    if (!rc)
        bind(*out);
    return rc;
}

int loom_seq_model_declare(loom_params **out, const loom_seq_config *c)
{
    loom_seq_model *m;
    *out = NULL;
    int rc = model_declare(&m, c);
    if (rc)
        return rc;
    *out = m->ps;
    m->ps = NULL;
    loom_seq_model_free(m);
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
    loom_packw_free(m->out_pack), m->out_pack = NULL;
    int rc = loom_packw_new(&m->out_pack, m->out_w->value, m->Dout, c->tgt_vocab, c->tgt_vocab);
    if (rc)
        return rc;
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
    loom_dense_forward(m->dec_tab_tgt, m->tgt_emb->value, m->dec.Wx, NULL, c->tgt_vocab, c->emb,
                       (int)GH);
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
        loom_packw_free(m->out_pack);
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
    r->out_pack = NULL;
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
    for (int l = 1; l < m->DL; l++)
        for (int k = 0; k < 4; k++)
            r->dec_up_p[l][k] = remap(r, m->dec_up_p[l][k]);
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

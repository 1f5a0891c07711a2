/* loom: the encoder-decoder (seq/model.h) as two ONNX graphs, written
 * layer by layer as model.c calls the core: embedding, the recurrent
 * layers, the bridge, the key projection; then the decoder step's
 * attention, input feeding, cell and output layer. Weights are the
 * model's tensors, reordered where ONNX wants another layout:
 *  - ONNX's GRU/LSTM take W (dirs, G*H, in), gates in the order z,r,h
 *    (GRU) and i,o,f,c (LSTM), where loom (like PyTorch) keeps (in, G*H)
 *    with r,z,n and i,f,g,o;
 *  - loom's GRU applies the reset gate after the recurrent product,
 *    r * (h' Wh_n + bh_n): ONNX's linear_before_reset = 1, not its
 *    default 0.
 * Knows the model through its parameter names and configuration only. */
#include "config.h"
#include "export/seq_onnx.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "export/onnx_graph.h"
#include "export/outdir.h"
#include "export/web.h"

const char *const loom_export_cell_names[] = {"op", "unrolled", NULL};

void loom_export_opts_default(loom_export_opts *o)
{
    o->step_cell = LOOM_EXPORT_CELL_OP;
    o->web = 0;
    o->ort_web = NULL;
}

/* What the graphs need to know of the model. */
typedef struct {
    const loom_seq_config *c;
    const loom_params *ps;
    int G, H, E, He, A, dirs, lstm, attn;
    loom_export_cell step_cell;
    unsigned char *used; /* per parameter: written into a graph */
} model_view;

static const loom_param *param(const model_view *v, const char *name)
{
    const loom_param *p = loom_params_find(v->ps, name);
    for (size_t i = 0; p && v->used && i < loom_params_len(v->ps); i++)
        if (loom_params_at(v->ps, i) == p)
            v->used[i] = 1;
    return p;
}

/* A parameter the graphs do not read belongs to something the exporter
 * does not know (a layer added since): refused, naming it. */
static int check_all_used(const model_view *v, const char *model_path)
{
    for (size_t i = 0; i < loom_params_len(v->ps); i++)
        if (!v->used[i])
            return loom_error(LOOM_EINVAL,
                              "%s: parameter '%s' belongs to a part of the model the ONNX "
                              "exporter does not write",
                              model_path, loom_params_at(v->ps, i)->name);
    return 0;
}

int loom_export_seq_check(const loom_seq_bundle *b, const char *model_path)
{
    const loom_seq_config *c = loom_seq_model_config(b->model);
    if (c->cell != LOOM_RNN_GRU && c->cell != LOOM_RNN_LSTM)
        return loom_error(LOOM_EINVAL,
                          "%s: option cell=%s cannot be exported: the ONNX exporter writes GRU and "
                          "LSTM models",
                          model_path, loom_rnn_cell_name(c->cell));
    if (c->dec_layers > 1)
        return loom_error(LOOM_EINVAL,
                          "%s: option dec-layers=%d cannot be exported: the ONNX exporter writes "
                          "one decoder layer",
                          model_path, c->dec_layers);
    for (int side = 0; side < 2; side++)
        if (b->tok[side].chars)
            return loom_error(LOOM_EINVAL,
                              "%s: option %s (characters as tokens) cannot be exported: "
                              "loom-onnx.js has no grapheme-cluster tokenizer",
                              model_path, side ? "tgt-char" : "src-char");
    return 0;
}

/* ---- weights in ONNX's layouts ---- */

/* ONNX's gates as loom's (PyTorch's) gate blocks: GRU z,r,h = blocks 1,0,2;
 * LSTM i,o,f,c = blocks 0,3,1,2. */
static const int gru_blocks[3] = {1, 0, 2}, lstm_blocks[4] = {0, 3, 1, 2};

static const int *gate_blocks(const model_view *v)
{
    return v->lstm ? lstm_blocks : gru_blocks;
}

/* W or R (dirs, GH, in) from loom's (in, GH) matrices of each direction. */
static const char *onnx_weight(og *g, const model_view *v, const char *name,
                               const loom_param *const *p, int dirs)
{
    int in = p[0]->shape[0], H = v->H, G = v->G;
    size_t GH = (size_t)G * H;
    const int *blk = gate_blocks(v);
    float *w = loom_malloc((size_t)dirs * GH * in, sizeof *w);
    if (!w)
        return NULL;
    for (int d = 0; d < dirs; d++)
        for (int q = 0; q < G; q++)
            for (int j = 0; j < H; j++)
                for (int c = 0; c < in; c++)
                    w[((size_t)d * GH + (size_t)q * H + j) * in + c] =
                        p[d]->value[(size_t)c * GH + (size_t)blk[q] * H + j];
    int64_t dims[3] = {dirs, (int64_t)GH, in};
    const char *r = og_init_f32(g, name, dims, 3, w, 1);
    free(w);
    return r;
}

/* B (dirs, 2 GH): the input biases then the recurrent ones, reordered. */
static const char *onnx_bias(og *g, const model_view *v, const char *name,
                             const loom_param *const *bx, const loom_param *const *bh, int dirs)
{
    int H = v->H, G = v->G;
    size_t GH = (size_t)G * H;
    const int *blk = gate_blocks(v);
    float *b = loom_malloc((size_t)dirs * 2 * GH, sizeof *b);
    if (!b)
        return NULL;
    for (int d = 0; d < dirs; d++)
        for (int q = 0; q < G; q++)
            for (int j = 0; j < H; j++) {
                b[(size_t)d * 2 * GH + (size_t)q * H + j] = bx[d]->value[(size_t)blk[q] * H + j];
                b[(size_t)d * 2 * GH + GH + (size_t)q * H + j] =
                    bh[d]->value[(size_t)blk[q] * H + j];
            }
    int64_t dims[2] = {dirs, 2 * (int64_t)GH};
    const char *r = og_init_f32(g, name, dims, 2, b, 1);
    free(b);
    return r;
}

/* A parameter as it is (loom's (in, out) is what MatMul and Gemm read). */
static const char *as_is(og *g, const loom_param *p)
{
    int64_t dims[2] = {p->shape[0], p->ndim > 1 ? p->shape[1] : 0};
    return og_init_f32(g, p->name, dims, p->ndim, p->value, 0);
}

static const char *transpose(og *g, const char *x, int n, const int64_t *perm)
{
    og_node *t = og_node_new(g, "Transpose", &x, 1, 1);
    og_attr_ints(g, t, "perm", perm, n);
    return og_out(t, 0);
}

/* ONNX's GRU or LSTM operator: in = X, W, R, B, sequence_lens (or ""),
 * initial_h, initial_c (or absent); outputs Y, Y_h (, Y_c). */
static og_node *rnn_op(og *g, const model_view *v, const char *const *in, int nin, int bidi)
{
    og_node *n = og_node_new(g, v->lstm ? "LSTM" : "GRU", in, nin, v->lstm ? 3 : 2);
    og_attr_int(g, n, "hidden_size", v->H);
    og_attr_str(g, n, "direction", bidi ? "bidirectional" : "forward");
    if (!v->lstm)
        og_attr_int(g, n, "linear_before_reset", 1);
    return n;
}

/* ---- encoder.onnx ---- */

static void build_encoder(og *g, const model_view *v)
{
    const loom_seq_config *c = v->c;
    char name[64], shape[64];
    og_input(g, "src_ids", OG_INT64, "batch,src_len");
    og_input(g, "src_lens", OG_INT64, "batch");
    /* x = src_emb[ids], time-major (S, B, E) as the operators read it */
    const char *x = og_op(g, "Gather", 2, as_is(g, param(v, "src_emb.weight")), "src_ids");
    static const int64_t tbc[3] = {1, 0, 2}, sdbh[4] = {0, 2, 1, 3};
    x = transpose(g, x, 3, tbc);
    const char *lens = og_op_i(g, "Cast", "to", OG_INT32, 1, "src_lens");
    const char *hfin = NULL;
    for (int l = 0; l < c->layers; l++) {
        const loom_param *p[4][2];
        static const char *const kind[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        for (int k = 0; k < 4; k++)
            for (int d = 0; d < v->dirs; d++) {
                snprintf(name, sizeof name, "encoder.%s_l%d%s", kind[k], l, d ? "_reverse" : "");
                p[k][d] = param(v, name);
            }
        snprintf(name, sizeof name, "encoder.W_l%d", l);
        const char *W = onnx_weight(g, v, name, p[0], v->dirs);
        snprintf(name, sizeof name, "encoder.R_l%d", l);
        const char *R = onnx_weight(g, v, name, p[1], v->dirs);
        snprintf(name, sizeof name, "encoder.B_l%d", l);
        const char *B = onnx_bias(g, v, name, p[2], p[3], v->dirs);
        if (!W || !R || !B)
            return;
        const char *in[5] = {x, W, R, B, lens};
        og_node *n = rnn_op(g, v, in, 5, v->dirs == 2);
        /* Y (S, dirs, B, H) -> (S, B, dirs * H): [forward; backward] per position */
        x = og_op(g, "Reshape", 2, transpose(g, og_out(n, 0), 4, sdbh), og_ints(g, 3, 0, 0, -1));
        hfin = og_out(n, 1);
    }
    /* the bridge: h0 = tanh([h_fw; h_bw] Wb + bb) from the top layer's final states */
    const char *fin = og_op(g, "Reshape", 2, transpose(g, hfin, 3, tbc), og_ints(g, 2, 0, -1));
    const char *h0 = og_op(g, "Tanh", 1,
                           og_op(g, "Gemm", 3, fin, as_is(g, param(v, "bridge.weight")),
                                 as_is(g, param(v, "bridge.bias"))));
    const char *c0 = v->lstm ? og_op(g, "ConstantOfShape", 1, og_op(g, "Shape", 1, h0)) : NULL;
    const char *enc = NULL, *keys = NULL, *mask = NULL;
    if (v->attn) {
        enc = transpose(g, x, 3, tbc);
        if (c->attention == LOOM_ATTN_BAHDANAU)
            keys = og_op(g, "Add", 2,
                         og_op(g, "MatMul", 2, enc, as_is(g, param(v, "attention.key.weight"))),
                         as_is(g, param(v, "attention.key.bias")));
        /* mask[b, s] = s < lens[b] */
        int64_t one = 1, zero = 0;
        const char *S = og_op(g, "Gather", 2, og_op(g, "Shape", 1, "src_ids"),
                              og_init_i64(g, NULL, NULL, 0, &one));
        const char *pos = og_op(g, "Range", 3, og_init_i64(g, NULL, NULL, 0, &zero), S,
                                og_init_i64(g, NULL, NULL, 0, &one));
        const char *lt =
            og_op(g, "Less", 2, pos, og_op(g, "Unsqueeze", 2, "src_lens", og_ints(g, 1, 1)));
        mask = og_op_i(g, "Cast", "to", OG_FLOAT, 1, lt);
    }
    snprintf(shape, sizeof shape, "batch,%d", v->H);
    og_output(g, h0, "h0", OG_FLOAT, shape);
    if (c0)
        og_output(g, c0, "c0", OG_FLOAT, shape);
    if (enc) {
        snprintf(shape, sizeof shape, "batch,src_len,%d", v->He);
        og_output(g, enc, "enc", OG_FLOAT, shape);
        if (keys) {
            snprintf(shape, sizeof shape, "batch,src_len,%d", v->A);
            og_output(g, keys, "keys", OG_FLOAT, shape);
        }
        og_output(g, mask, "mask", OG_FLOAT, "batch,src_len");
    }
}

/* ---- decoder_step.onnx ---- */

/* The attention of query h over enc: writes the context and the weights. */
static void attention(og *g, const model_view *v, const char **ctx, const char **wts)
{
    const char *sc = NULL;
    switch (v->c->attention) {
    case LOOM_ATTN_BAHDANAU: { /* e = v . tanh(h W + keys) */
        const char *wq = og_op(g, "MatMul", 2, "h", as_is(g, param(v, "attention.query.weight")));
        const char *t =
            og_op(g, "Tanh", 1,
                  og_op(g, "Add", 2, "keys", og_op(g, "Unsqueeze", 2, wq, og_ints(g, 1, 1))));
        const loom_param *pv = param(v, "attention.v.weight");
        int64_t dims[2] = {v->A, 1};
        sc = og_op(g, "MatMul", 2, t, og_init_f32(g, pv->name, dims, 2, pv->value, 0));
        break;
    }
    case LOOM_ATTN_DOT: /* e = enc . h */
        sc = og_op(g, "MatMul", 2, "enc", og_op(g, "Unsqueeze", 2, "h", og_ints(g, 1, 2)));
        break;
    default: { /* general: e = enc . (h W) */
        const char *qw = og_op(g, "MatMul", 2, "h", as_is(g, param(v, "attention.weight")));
        sc = og_op(g, "MatMul", 2, "enc", og_op(g, "Unsqueeze", 2, qw, og_ints(g, 1, 2)));
        break;
    }
    }
    sc = og_op(g, "Squeeze", 2, sc, og_ints(g, 1, 2));
    /* padding scores -1e9: their weights are exactly 0, as loom's */
    float one = 1.0f, big = 1e9f;
    const char *neg =
        og_op(g, "Mul", 2, og_op(g, "Sub", 2, "mask", og_init_f32(g, NULL, NULL, 0, &one, 1)),
              og_init_f32(g, NULL, NULL, 0, &big, 1));
    *wts = og_op_i(g, "Softmax", "axis", -1, 1, og_op(g, "Add", 2, sc, neg));
    /* ctx = sum_s a_s enc_s */
    const char *a3 = og_op(g, "Unsqueeze", 2, *wts, og_ints(g, 1, 1));
    *ctx = og_op(g, "Squeeze", 2, og_op(g, "MatMul", 2, a3, "enc"), og_ints(g, 1, 1));
}

/* The decoder's cell on input x and state h (, c): writes the new state. */
static void step_cell(og *g, const model_view *v, const char *x, const char **hn, const char **cn)
{
    const loom_param *Wx = param(v, "decoder.weight_ih"), *Wh = param(v, "decoder.weight_hh");
    const loom_param *bx = param(v, "decoder.bias_ih"), *bh = param(v, "decoder.bias_hh");
    if (v->step_cell == LOOM_EXPORT_CELL_OP) {
        const char *W = onnx_weight(g, v, "decoder.W", &Wx, 1);
        const char *R = onnx_weight(g, v, "decoder.R", &Wh, 1);
        const char *B = onnx_bias(g, v, "decoder.B", &bx, &bh, 1);
        const char *ax0 = og_ints(g, 1, 0);
        const char *in[7] = {og_op(g, "Unsqueeze", 2, x, ax0),
                             W,
                             R,
                             B,
                             "",
                             og_op(g, "Unsqueeze", 2, "h", ax0),
                             v->lstm ? og_op(g, "Unsqueeze", 2, "c", ax0) : ""};
        if (!W || !R || !B)
            return;
        og_node *n = rnn_op(g, v, in, v->lstm ? 7 : 6, 0);
        *hn = og_op(g, "Squeeze", 2, og_out(n, 1), ax0);
        *cn = v->lstm ? og_op(g, "Squeeze", 2, og_out(n, 2), ax0) : NULL;
        return;
    }
    /* unrolled, in rnn.h's equations: xp = x Wx + bx, hp = h Wh + bh */
    int H = v->H;
    const char *xp = og_op(g, "Gemm", 3, x, as_is(g, Wx), as_is(g, bx));
    const char *hp = og_op(g, "Gemm", 3, "h", as_is(g, Wh), as_is(g, bh));
    if (v->lstm) { /* c = s(f) c' + s(i) tanh(g); h = s(o) tanh(c) */
        og_node *s = og_node_new(g, "Split", (const char *[]){og_op(g, "Add", 2, xp, hp)}, 1, 4);
        og_attr_int(g, s, "axis", 1);
        const char *i = og_op(g, "Sigmoid", 1, og_out(s, 0));
        const char *f = og_op(g, "Sigmoid", 1, og_out(s, 1));
        const char *gg = og_op(g, "Tanh", 1, og_out(s, 2));
        const char *o = og_op(g, "Sigmoid", 1, og_out(s, 3));
        *cn = og_op(g, "Add", 2, og_op(g, "Mul", 2, f, "c"), og_op(g, "Mul", 2, i, gg));
        *hn = og_op(g, "Mul", 2, o, og_op(g, "Tanh", 1, *cn));
        return;
    }
    /* GRU: r, z = s(xp_rz + hp_rz); n = tanh(xp_n + r hp_n); h = n + z (h' - n) */
    const char *sizes = og_ints(g, 2, 2 * H, H);
    og_node *sx = og_node_new(g, "Split", (const char *[]){xp, sizes}, 2, 2);
    og_node *sh = og_node_new(g, "Split", (const char *[]){hp, sizes}, 2, 2);
    og_attr_int(g, sx, "axis", 1);
    og_attr_int(g, sh, "axis", 1);
    const char *rz = og_op(g, "Sigmoid", 1, og_op(g, "Add", 2, og_out(sx, 0), og_out(sh, 0)));
    og_node *srz = og_node_new(g, "Split", &rz, 1, 2);
    og_attr_int(g, srz, "axis", 1);
    const char *n =
        og_op(g, "Tanh", 1,
              og_op(g, "Add", 2, og_out(sx, 1), og_op(g, "Mul", 2, og_out(srz, 0), og_out(sh, 1))));
    *hn = og_op(g, "Add", 2, n, og_op(g, "Mul", 2, og_out(srz, 1), og_op(g, "Sub", 2, "h", n)));
    *cn = NULL;
}

static void build_step(og *g, const model_view *v)
{
    const loom_seq_config *c = v->c;
    char shape[64];
    snprintf(shape, sizeof shape, "rows,%d", v->H);
    og_input(g, "prev", OG_INT64, "rows");
    og_input(g, "h", OG_FLOAT, shape);
    if (v->lstm)
        og_input(g, "c", OG_FLOAT, shape);
    if (v->attn) {
        snprintf(shape, sizeof shape, "rows,src_len,%d", v->He);
        og_input(g, "enc", OG_FLOAT, shape);
        if (c->attention == LOOM_ATTN_BAHDANAU) {
            snprintf(shape, sizeof shape, "rows,src_len,%d", v->A);
            og_input(g, "keys", OG_FLOAT, shape);
        }
        og_input(g, "mask", OG_FLOAT, "rows,src_len");
    }
    const loom_param *temb = param(v, c->tie_embeddings ? "src_emb.weight" : "tgt_emb.weight");
    const char *e = og_op(g, "Gather", 2, as_is(g, temb), "prev");
    const char *ctx = NULL, *wts = NULL, *x = e, *hn = NULL, *cn = NULL;
    if (v->attn) { /* input feeding: the context of h joins the cell's input */
        attention(g, v, &ctx, &wts);
        x = og_op_i(g, "Concat", "axis", 1, 2, e, ctx);
    }
    step_cell(g, v, x, &hn, &cn);
    if (!hn)
        return;
    /* log p = log softmax([h; ctx; e] Wo + bo) */
    const char *o = v->attn ? og_op_i(g, "Concat", "axis", 1, 3, hn, ctx, e)
                            : og_op_i(g, "Concat", "axis", 1, 2, hn, e);
    const char *z =
        og_op(g, "Gemm", 3, o, as_is(g, param(v, "out.weight")), as_is(g, param(v, "out.bias")));
    const char *logp = og_op_i(g, "LogSoftmax", "axis", -1, 1, z);
    snprintf(shape, sizeof shape, "rows,%d", c->tgt_vocab);
    og_output(g, logp, "logp", OG_FLOAT, shape);
    snprintf(shape, sizeof shape, "rows,%d", v->H);
    og_output(g, hn, "h_out", OG_FLOAT, shape);
    if (cn)
        og_output(g, cn, "c_out", OG_FLOAT, shape);
    if (wts)
        og_output(g, wts, "attn", OG_FLOAT, "rows,src_len");
}

/* ---- the directory ---- */

static void graph_meta(og *g, const model_view *v)
{
    char buf[32];
    og_meta(g, "loom.format", "loom-onnx");
    og_meta(g, "loom.cell", loom_rnn_cell_name(v->c->cell));
    og_meta(g, "loom.attention", loom_attn_kind_name(v->c->attention));
    snprintf(buf, sizeof buf, "%d", v->c->layers);
    og_meta(g, "loom.layers", buf);
    og_meta(g, "loom.bidirectional", v->c->bidirectional ? "1" : "0");
}

static json_t *specials_json(void)
{
    return json_pack("{s:i,s:i,s:i,s:i}", "pad", LOOM_PAD, "unk", LOOM_UNK, "bos", LOOM_BOS, "eos",
                     LOOM_EOS);
}

static json_t *interface_json(const model_view *v, const og *enc, const og *step)
{
    const loom_seq_config *c = v->c;
    json_t *state = json_array();
    json_array_append_new(
        state, json_pack("{s:s,s:s,s:s}", "initial", "h0", "input", "h", "output", "h_out"));
    if (v->lstm)
        json_array_append_new(
            state, json_pack("{s:s,s:s,s:s}", "initial", "c0", "input", "c", "output", "c_out"));
    json_t *src = json_array(); /* encoder outputs the step reads, one copy per row */
    const char *per_src[3] = {"enc", c->attention == LOOM_ATTN_BAHDANAU ? "keys" : NULL, "mask"};
    for (int i = 0; i < 3 && v->attn; i++)
        if (per_src[i])
            json_array_append_new(src, json_string(per_src[i]));
    return json_pack(
        "{s:s,s:i,s:{s:s,s:s,s:i,s:b,s:i,s:i,s:i,s:i,s:i},s:{s:s,s:s,s:s},"
        "s:{s:o,s:o},s:o,s:o,s:o,s:{s:s,s:s,s:s,s:s,s:f}}",
        "format", "loom-onnx", "version", 1, "model", "cell", loom_rnn_cell_name(c->cell),
        "attention", loom_attn_kind_name(c->attention), "layers", c->layers, "bidirectional",
        c->bidirectional, "embedding", c->emb, "hidden", c->hidden, "attention_size", v->A,
        "src_vocab", c->src_vocab, "tgt_vocab", c->tgt_vocab, "dims", "batch",
        "sentences encoded together", "src_len",
        "source tokens of the longest sentence (the others padded with pad, their lengths in "
        "src_lens)",
        "rows", "hypotheses stepped together (a sentence's encoder outputs repeated per row)",
        "graphs", "encoder", loom_export_graph_json(enc, "encoder.onnx"), "decoder_step",
        loom_export_graph_json(step, "decoder_step.onnx"), "state", state, "per_source", src,
        "special_ids", specials_json(), "search", "start",
        "every row starts with prev = bos and the encoder's initial state", "tokens",
        "a hypothesis never takes pad or bos; eos ends it", "max_len",
        "2 * source length + 10 output tokens, eos included", "score",
        "sum of log p, eos included, divided by ((5 + |Y|) / 6)^alpha, |Y| counting eos", "alpha",
        0.6);
}

/* The SentencePiece model of a side: its file in DIR, unk id and every
 * piece with its score and kind (0 normal, 1 unknown, 2 control, 3 byte,
 * 4 unused), for a segmenter in JavaScript. */
static json_t *subword_json(const loom_subword *sw, const char *file)
{
    json_t *pieces = json_array();
    for (int i = 0; i < loom_subword_size(sw) && pieces; i++)
        json_array_append_new(pieces, json_pack("[s,f,i]", loom_subword_piece(sw, i),
                                                (double)loom_subword_score(sw, i),
                                                (int)loom_subword_kind(sw, i)));
    return json_pack("{s:s,s:i,s:o}", "model", file, "unk", loom_subword_unk_id(sw), "pieces",
                     pieces);
}

static const char *const subword_files[2] = {"source.model", "target.model"};

static json_t *side_json(const loom_seq_bundle *b, int side)
{
    const loom_vocab *vocab = b->vocab[side];
    json_t *words = json_array();
    for (size_t i = 0; i < loom_vocab_size(vocab) && words; i++)
        json_array_append_new(words, json_string(loom_vocab_word(vocab, (int32_t)i)));
    json_t *j =
        json_pack("{s:o,s:o}", "tokenizer", loom_export_tok_json(&b->tok[side]), "words", words);
    if (j && b->subword[side])
        json_object_set_new(j, "subword", subword_json(b->subword[side], subword_files[side]));
    return j;
}

/* The SentencePiece models, as .model files beside the graphs. */
static int write_subword(const loom_outdir *d, const loom_seq_bundle *b)
{
    int rc = 0;
    for (int side = 0; side < 2 && !rc; side++) {
        size_t len;
        const void *bytes = b->subword[side] ? loom_subword_bytes(b->subword[side], &len) : NULL;
        if (bytes)
            rc = loom_outdir_bytes(d, subword_files[side], bytes, len);
    }
    return rc;
}

/* The files an export may write, for loom_outdir_begin: `own` then the
 * page's (NULL-terminated in names, which has room for max). */
void loom_export_file_names(const char **names, int max, const char *const *own)
{
    int n = 0;
    for (int i = 0; own[i] && n < max - 1; i++)
        names[n++] = own[i];
    for (const loom_web_file *f = loom_web_files; f->name && n < max - 1; f++)
        names[n++] = f->name;
    for (int i = 0; loom_ort_web_files[i] && n < max - 1; i++)
        names[n++] = loom_ort_web_files[i];
    names[n] = NULL;
}

int loom_export_seq(const loom_seq_bundle *b, const char *model_path, const char *dir,
                    const loom_export_opts *o)
{
    int rc = loom_export_seq_check(b, model_path);
    if (rc)
        return rc;
    const loom_seq_config *c = loom_seq_model_config(b->model);
    model_view v = {c,
                    loom_seq_model_params(b->model),
                    loom_rnn_gates(c->cell),
                    c->hidden,
                    c->emb,
                    (c->bidirectional ? 2 : 1) * c->hidden,
                    c->attention == LOOM_ATTN_BAHDANAU ? c->attn_dim : 0,
                    c->bidirectional ? 2 : 1,
                    c->cell == LOOM_RNN_LSTM,
                    c->attention != LOOM_ATTN_NONE,
                    o->step_cell,
                    NULL};
    static const char *const own[] = {"encoder.onnx",
                                      "decoder_step.onnx",
                                      "interface.json",
                                      "vocab.json",
                                      "source.model",
                                      "target.model",
                                      NULL};
    const char *names[32];
    loom_export_file_names(names, 32, own);
    loom_outdir d;
    if ((rc = loom_outdir_begin(&d, dir, names)))
        return rc;
    og *enc = NULL, *step = NULL;
    if ((rc = og_new(&enc, "loom_encoder")) || (rc = og_new(&step, "loom_decoder_step")))
        goto done;
    if (!(v.used = loom_calloc(loom_params_len(v.ps) + 1, 1))) {
        rc = LOOM_ENOMEM;
        goto done;
    }
    build_encoder(enc, &v);
    build_step(step, &v);
    if ((rc = check_all_used(&v, model_path)))
        goto done;
    graph_meta(enc, &v);
    graph_meta(step, &v);
    if ((rc = loom_export_write_graph(&d, "encoder.onnx", enc)) ||
        (rc = loom_export_write_graph(&d, "decoder_step.onnx", step)))
        goto done;
    rc = loom_outdir_json(&d, "interface.json", interface_json(&v, enc, step));
    if (!rc)
        rc = loom_outdir_json(&d, "vocab.json",
                              json_pack("{s:o,s:o,s:o}", "special_ids", specials_json(), "source",
                                        side_json(b, 0), "target", side_json(b, 1)));
    if (!rc)
        rc = write_subword(&d, b);
    if (!rc && o->web)
        rc = loom_export_web(d.tmp, o->ort_web);
done:
    free(v.used);
    og_free(enc);
    og_free(step);
    return loom_outdir_finish(&d, rc);
}

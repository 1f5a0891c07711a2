/* loom: the encoder-decoder's insides, shared by the two files that make
 * it: params.c (what the model is made of: its parameters, their names,
 * shapes and initialisation, the core layers bound to them, replicas) and
 * model.c (what it does: the training pass and decoding). Private to
 * src/seq: everyone else goes through seq/model.h. */
#ifndef LOOM_SEQ_MODEL_IMPL_H
#define LOOM_SEQ_MODEL_IMPL_H

#include "core/attention.h"
#include "core/attn_rnn.h"
#include "core/packmm.h"
#include "core/param.h"
#include "core/rnn.h"
#include "seq/model.h"

struct loom_seq_model {
    loom_seq_config c;
    loom_params *ps;
    int dirs, He, Dc, Dout, G; /* directions, encoder output, context, out-layer input, gates */
    loom_param *src_emb, *tgt_emb;
    loom_param *enc_p[LOOM_SEQ_MAX_LAYERS][2][4]; /* Wx Wh bx bh */
    loom_rnn enc[LOOM_SEQ_MAX_LAYERS][2];
    const loom_rnn *enc_bw[LOOM_SEQ_MAX_LAYERS]; /* &enc[l][1], or NULL: one direction */
    loom_param *bridge_w, *bridge_b;
    loom_param *attn_W, *attn_U, *attn_b, *attn_v;
    loom_attn attn;
    loom_param *dec_p[4];
    loom_rnn dec;
    int DL; /* decoder layers (c.dec_layers, at least 1) */
    /* decoder layers 2..DL: [l] for l = 1 .. DL - 1 ([0] unused) */
    loom_param *dec_up_p[LOOM_SEQ_MAX_LAYERS][4];
    loom_rnn dec_up[LOOM_SEQ_MAX_LAYERS];
    loom_attn_rnn decoder; /* the step: attention, input feeding, dec */
    loom_param *out_w, *out_b;
    /* decoding only (loom_seq_model_prepare_decoding): the per-word input
     * projections of the encoder's first layer (per direction, bias
     * included) and of the decoder's embedding share (no bias) */
    float *dec_tab_src[2], *dec_tab_tgt;
    /* decoding only: out_w packed for the few-row product (core/packmm.h) */
    loom_packw *out_pack;
    /* replicas only: private copies of the parameters, pointing at the
     * master's values and at an own gradient block */
    loom_param *own;
    float *own_grads;
    size_t own_nfloats;
};

#endif

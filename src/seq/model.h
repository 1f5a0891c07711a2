/* loom: the attention + RNN encoder-decoder. Its parameters, the
 * teacher-forced training pass (forward, loss, backward) and the two pieces
 * decoding needs (encode a batch, one decoder step): params.c makes the
 * model, model.c runs it. Built from the core's
 * recurrent layers and attention; knows token ids, not words (vocabularies
 * and the file format live in model_file.c, search in decode.c).
 *
 *   x_src -> src_emb -> encoder (GRU/LSTM, layers, optionally bidirectional)
 *   s_0   = tanh(bridge([h_fw_last; h_bw_first]))     (LSTM: c_0 = 0)
 *   c_t   = attention(s_{t-1}, encoder outputs)       (none: no context)
 *   s_t   = cell([emb(y_{t-1}); c_t], s_{t-1})        (input feeding)
 *   p_t   = softmax(out([s_t; c_t; emb(y_{t-1})]))
 *
 * With N stacked decoder layers (dec_layers, as OpenNMT's and Marian's
 * stacked RNN decoders): the bridge gives N states, s^l_0 = columns
 * l*H..(l+1)*H of tanh(bridge([h_fw_last; h_bw_first])) (the encoder's top
 * layer's final states, whatever the number of encoder layers); layer 1
 * is the cell above; layer l > 1 reads the new state of the layer below,
 * s^l_t = cell_l(dropout(s^{l-1}_t), s^l_{t-1}); the attention's query is
 * the top layer's previous state s^N_{t-1} (Luong's and OpenNMT's choice:
 * the state the output layer reads), and the out layer reads
 * [s^N_t; c_t; emb]. N = 1 is the model above.
 *
 * Tensors are named like a PyTorch state_dict ("decoder.weight_ih"); as
 * everywhere in loom, matrices are stored (in, out), PyTorch's transposed. */
#ifndef LOOM_SEQ_MODEL_H
#define LOOM_SEQ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "core/attention.h"
#include "core/param.h"
#include "core/rnn.h"
#include "text/vocab.h" /* the special ids LOOM_PAD, LOOM_UNK, LOOM_BOS, LOOM_EOS */

#define LOOM_SEQ_MAX_LAYERS 8

/* The cell and attention kinds are the core's enums (loom_rnn_cell,
 * loom_attn_kind); their names, as files store them, come from
 * loom_rnn_cell_name/parse and loom_attn_kind_name/parse. */
typedef struct {
    loom_rnn_cell cell;       /* LOOM_RNN_GRU or LOOM_RNN_LSTM */
    loom_attn_kind attention; /* LOOM_ATTN_* (NONE: no attention) */
    int layers;               /* encoder layers */
    int bidirectional;        /* 1: the encoder reads both ways */
    int emb;                  /* embedding size, both sides */
    int hidden;               /* hidden size per encoder direction, and the decoder's */
    int attn_dim;             /* Bahdanau's inner size */
    int src_vocab, tgt_vocab;
    float dropout;
    int tie_embeddings; /* 1: one embedding table for both sides (one vocabulary) */
    int dec_layers;     /* decoder layers, stacked (0 is taken as 1) */
} loom_seq_config;

/* Checks sizes and combinations (dot attention needs equal query and key
 * sizes). LOOM_EINVAL with a message. */
int loom_seq_config_check(const loom_seq_config *c);

typedef struct loom_seq_model loom_seq_model;

/* Allocates a model; weights drawn as PyTorch's defaults draw them
 * (U(+-1/sqrt(fan)) for recurrent and linear layers, N(0,1) embeddings). */
int loom_seq_model_new(loom_seq_model **out, const loom_seq_config *c, uint64_t seed);
void loom_seq_model_free(loom_seq_model *m);
/* A model of that shape with every weight 0, for a loader to fill. */
int loom_seq_model_new_zero(loom_seq_model **out, const loom_seq_config *c);

/* The parameters a model of that shape has, declared (names and shapes)
 * but not allocated: a loader checks a file's tensors against them before
 * it takes memory (core/param.h: loom_params_match). Free with
 * loom_params_free. */
int loom_seq_model_declare(loom_params **out, const loom_seq_config *c);

/* Makes decoding read the embeddings through per-word tables (each word's
 * share of the first encoder layer's and of the decoder's input
 * projection, computed once: a row copy per token in place of a
 * matrix-vector product). For a model whose weights no longer change, as
 * in `loom translate`; call it again after changing them (training never
 * calls it). Skipped, returning 0, when the tables would exceed 64 MB.
 * Also packs the output layer's weights once (core/packmm.h: a copy of
 * them) for the decoder step's few-row product, whatever their size. */
int loom_seq_model_prepare_decoding(loom_seq_model *m);

/* A replica for data-parallel training: shares m's weights, has its own
 * gradients (zeroed by loom_seq_replica_zero_grad, summed into m's by the
 * trainer). Free it with loom_seq_model_free before m. */
int loom_seq_model_replica(loom_seq_model **out, loom_seq_model *m);
/* The replica's gradient block (same layout as loom_params_grads of m). */
float *loom_seq_replica_grads(loom_seq_model *r, size_t *nfloats);

const loom_seq_config *loom_seq_model_config(const loom_seq_model *m);
loom_params *loom_seq_model_params(loom_seq_model *m);

/* A batch of n pairs, ids batch-major and padded with LOOM_PAD.
 * tgt_in is <s> y1 .. y_{L-1}; tgt_out is y1 .. y_{L-1} </s>; tgt_lens
 * count the </s>. */
typedef struct {
    int n, src_len, tgt_len;
    int *src, *src_lens;
    int *tgt_in, *tgt_out, *tgt_lens;
} loom_seq_batch;

/* A workspace for the training pass and the encoder; one per thread. It
 * grows to the largest batch seen and is reused without allocation. */
typedef struct loom_seq_work loom_seq_work;
int loom_seq_work_new(loom_seq_work **out, const loom_seq_model *m);
void loom_seq_work_free(loom_seq_work *w);

/* The recurrent weights a training pass multiplies at every time step
 * (the encoder's and the decoder's Wh, the decoder's context share of
 * Wx), packed for core/packmm.h's kernel: one read-only copy per
 * optimizer step for all of a step's workers. loom_seq_packs_new packs
 * m's current weights; loom_seq_packs_refill packs them again (after an
 * update), part `part` of `nparts` (each part packs its share of the
 * matrices, on its own thread; all parts done: the whole). */
typedef struct loom_seq_packs loom_seq_packs;
int loom_seq_packs_new(loom_seq_packs **out, const loom_seq_model *m);
void loom_seq_packs_refill(loom_seq_packs *p, const loom_seq_model *m, int part, int nparts);
void loom_seq_packs_free(loom_seq_packs *p); /* accepts NULL */
/* w's fp32 training passes read p (refilled from the current weights by
 * the caller) instead of packing the weights themselves; NULL: they pack
 * them into w, anew at each pass. The same bits either way. */
void loom_seq_work_set_packs(loom_seq_work *w, const loom_seq_packs *p);

/* Teacher-forced forward pass: *loss is the summed (label-smoothed)
 * cross-entropy over the batch's target tokens and *tokens their number.
 * With train = 1 dropout is on (drawing from rng) and what backward needs
 * is kept. When logp is not NULL it receives log p(gold token) for every
 * target position (n x tgt_len, batch-major, 0 at padding). */
int loom_seq_forward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, int train,
                     float label_smoothing, loom_rng *rng, double *loss, long *tokens, float *logp);
/* Accumulates d(scale * loss)/d(parameters) into the gradients (scale is
 * typically 1 / tokens). Needs the batch's forward with train = 1. */
int loom_seq_backward(loom_seq_model *m, loom_seq_work *w, const loom_seq_batch *b, float scale);

/* ---- decoding ----
 * A decoder state holds `rows` hypotheses: K rows per source sentence,
 * sentence i owning rows i*K .. i*K+K-1, each with its own copy of the
 * sentence's encoder memory. */
typedef struct loom_seq_state loom_seq_state;

/* Encodes n sentences (ids batch-major, padded to src_len) and returns a
 * state of n*K rows, every row at its sentence's initial decoder state. */
int loom_seq_start(loom_seq_state **out, loom_seq_model *m, loom_seq_work *w, const int *src,
                   const int *lens, int n, int src_len, int K);
void loom_seq_state_free(loom_seq_state *st);
int loom_seq_state_rows(const loom_seq_state *st);
/* Beam reordering: row r takes the decoder state of row from[r], which
 * must belong to the same sentence. */
void loom_seq_state_reorder(loom_seq_state *st, const int *from);
/* Keeps only the sentences keep[0..nkeep) (indices into the state's
 * current sentences, increasing), moved to the front in that order: later
 * steps skip the sentences whose search has ended. */
void loom_seq_state_keep(loom_seq_state *st, const int *keep, int nkeep);
/* Continuous greedy decoding (a server's running batch): an empty state
 * of one row a sentence (K = 1), with room for cap rows over sources of up
 * to S tokens (both grow as sentences join). */
int loom_seq_state_new(loom_seq_state **out, loom_seq_model *m, int cap, int S);
/* Encodes n sentences (ids batch-major, padded to S, lengths >= 1) and
 * adds them as the state's last rows, at their initial decoder state;
 * rows already there keep theirs. A row's steps give what they give in
 * loom_seq_start's state of its sentence alone (to float rounding: the
 * matrix products round with the number of rows they hold). Rows leave
 * with loom_seq_state_keep. LOOM_EINVAL for a state of loom_seq_start's. */
int loom_seq_state_add(loom_seq_state *st, loom_seq_work *w, const int *src, const int *lens, int n,
                       int S);
/* One decoder step for every row: feeds prev[r], writes log-probabilities
 * (rows x tgt_vocab) to logp and, when align is not NULL, the attention
 * weights (rows x src_len; zeros for a model without attention). Training's
 * loom_seq_forward runs the same step (attention, input feeding, cell) on
 * its teacher-forced inputs. */
void loom_seq_step(loom_seq_model *m, loom_seq_state *st, const int *prev, float *logp,
                   float *align);
/* A vocabulary shortlist (seq/shortlist.h): later steps compute the output
 * layer for the target ids cols[0..n) only (increasing), their logits,
 * softmax and log-probabilities, so that logp rows hold n values, column j
 * for id cols[j]. The candidate columns of the output weights are gathered
 * and packed once here. cols NULL or n = 0: the whole vocabulary again.
 * LOOM_EINVAL for ids out of order or range, LOOM_ENOMEM. */
int loom_seq_state_restrict(loom_seq_state *st, const int *cols, int n);

#endif

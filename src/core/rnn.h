/* loom: recurrent layers (Elman, GRU, LSTM) over a padded batch, with
 * backpropagation through time, a bidirectional wrapper and a single-step
 * interface for decoders that run one time step at a time. Plain functions
 * on raw float pointers in the manner of llm.c: the caller owns every
 * buffer (weights, gradients, cache, workspace); nothing here allocates,
 * threads or knows what the sequences mean.
 *
 * Shapes (row-major float32). G is the number of gates: Elman 1, GRU 3,
 * LSTM 4; GH = G * H.
 *   inp  (B, T, C)    padded batch; sequence b has lens[b] real steps
 *   out  (B, T, H)    h_t at real positions, zeros at padded positions
 *   Wx   (C, GH)      input weights,     = PyTorch weight_ih_l0 transposed
 *   Wh   (H, GH)      recurrent weights, = PyTorch weight_hh_l0 transposed
 *   bx   (GH)         = PyTorch bias_ih_l0
 *   bh   (GH)         = PyTorch bias_hh_l0
 * The GH columns are PyTorch's gate blocks of H in PyTorch's order, so
 * exchanging weights is a transpose and nothing else:
 *   Elman  h = tanh(x Wx + bx + h' Wh + bh)                 (nn.RNN, tanh)
 *   GRU    r,z,n:  r = s(x Wx_r + bx_r + h' Wh_r + bh_r)
 *                  z = s(x Wx_z + bx_z + h' Wh_z + bh_z)
 *                  n = tanh(x Wx_n + bx_n + r * (h' Wh_n + bh_n))
 *                  h = (1 - z) * n + z * h'                  (nn.GRU)
 *   LSTM   i,f,g,o: c = s(f) * c' + s(i) * tanh(g);  h = s(o) * tanh(c)
 * (s is the logistic sigmoid, h' and c' the previous states).
 *
 * Padding follows pack_padded_sequence: a padded step keeps the previous
 * state and outputs zeros, so the final state is the state after each
 * sequence's last real token. A reverse layer (reverse = 1) reads each
 * sequence from position lens[b] - 1 down to 0, as the backward half of a
 * PyTorch bidirectional layer does.
 *
 * Speed: the input projection of all time steps is one GEMM (B*T, C) x
 * (C, GH) before the recurrence; each step is one GEMM (B, H) x (H, GH) and
 * one fused pass over the gates; the backward pass does one GEMM per step
 * for dh' and one GEMM each for dWh, dWx and dinp over all steps. When
 * lens is sorted in decreasing order, each step's products cover only the
 * sequences still running (sort batches by length to get this). The
 * benchmark of one GRU time step (scripts/bench-core, batch 64, hidden
 * 256, forward+backward) times loom_rnn_step_forward followed by
 * loom_rnn_step_backward: 3 * 2*B*H*GH flops (one GEMM forward, two
 * backward) plus the gates.
 *
 * Backward passes accumulate (+=) into every gradient (weights, inputs,
 * initial states); gradient pointers that are NULL are skipped. */
#ifndef LOOM_CORE_RNN_H
#define LOOM_CORE_RNN_H

#include <stddef.h>

#include "core/packmm.h"

/* The one numbering of cell kinds: the seq model, its options and its files
 * use it too (files store the names, not the numbers). */
typedef enum { LOOM_RNN_ELMAN = 0, LOOM_RNN_GRU = 1, LOOM_RNN_LSTM = 2 } loom_rnn_cell;

/* "elman", "gru", "lstm", indexed by loom_rnn_cell, NULL-terminated (an
 * option parser's list of choices). */
extern const char *const loom_rnn_cell_names[];
/* The name of a cell, "?" if out of range. */
const char *loom_rnn_cell_name(int cell);
/* The cell named s, or -1. */
int loom_rnn_cell_parse(const char *s);

/* One recurrent layer (one direction): sizes and views of its weights and
 * their gradients (typically loom_param values/grads). */
typedef struct {
    loom_rnn_cell cell;
    int C, H;    /* input size, hidden size */
    int reverse; /* 1: runs from each sequence's last real step to its first */
    const float *Wx, *Wh, *bx, *bh;
    float *dWx, *dWh, *dbx, *dbh; /* NULL: that gradient is not wanted */
    /* Optional (NULL: unused): Wh packed by the caller (core/packmm.h) as
     * loom_packw_new(Wh, H, GH) and as loom_packw_new_t(Wh, GH, H), for the
     * per-step products h' Wh and dh' += dhp Wh^T. sgemm packs Wh again at
     * every step; a training pass that packs it once per batch saves that
     * (G2P, batch 32 per worker: sgemm spent 30% of its time packing). They
     * must hold Wh's current values. */
    const loom_packw *Wh_pack, *Wh_pack_t;
} loom_rnn;

/* Number of gates G (1, 3, 4) of a cell. */
int loom_rnn_gates(loom_rnn_cell cell);

/* ---- whole sequences ---- */

/* Floats of the cache that forward fills and backward reads, and of the
 * scratch workspace both use (contents need not survive between calls). */
size_t loom_rnn_cache_size(const loom_rnn *r, int B, int T);
size_t loom_rnn_work_size(const loom_rnn *r, int B, int T);

/* out (B,T,H) may be NULL; h_final (B,H) and, for LSTM, c_final (B,H) may be
 * NULL; lens (B) NULL means every sequence has T steps (0 <= lens[b] <= T);
 * h0, c0 (B,H) NULL mean zeros. */
void loom_rnn_forward(const loom_rnn *r, float *out, float *h_final, float *c_final, float *cache,
                      float *work, const float *inp, const int *lens, const float *h0,
                      const float *c0, int B, int T);

/* dout (B,T,H), dh_final, dc_final (B,H): upstream gradients, each may be
 * NULL (zero). Accumulates dinp (B,T,C), dh0, dc0 (B,H) when not NULL, and
 * the weight gradients. inp, lens, B, T as given to forward. */
void loom_rnn_backward(const loom_rnn *r, float *dinp, float *dh0, float *dc0, float *work,
                       const float *dout, const float *dh_final, const float *dc_final,
                       const float *cache, const float *inp, const int *lens, int B, int T);

/* ---- bidirectional: fw (reverse = 0) and bw (reverse = 1) over one input ----
 * out (B,T,2H) is [forward; backward] per position as in PyTorch; h_final,
 * c_final, h0, c0, dh0, dc0 are (2,B,H): forward direction first, as
 * PyTorch's h_n. Cache and work sizes are those of the pair. bw NULL is a
 * layer of one direction (fw alone, out (B,T,H), states (1,B,H)), so that
 * an encoder runs any of its layers with one call. */
size_t loom_birnn_cache_size(const loom_rnn *fw, const loom_rnn *bw, int B, int T);
size_t loom_birnn_work_size(const loom_rnn *fw, const loom_rnn *bw, int B, int T);
void loom_birnn_forward(const loom_rnn *fw, const loom_rnn *bw, float *out, float *h_final,
                        float *c_final, float *cache, float *work, const float *inp,
                        const int *lens, const float *h0, const float *c0, int B, int T);
void loom_birnn_backward(const loom_rnn *fw, const loom_rnn *bw, float *dinp, float *dh0,
                         float *dc0, float *work, const float *dout, const float *dh_final,
                         const float *dc_final, const float *cache, const float *inp,
                         const int *lens, int B, int T);

/* ---- inputs that are rows of an embedding table ----
 * When the input at position k is row ids[k] of an embedding table emb
 * (V, C), its projection is row ids[k] of tab = emb Wx + bx (V, GH): a
 * GEMM of V rows (loom_rnn_table) instead of B*T, then one row copy per
 * position. Worth it when V is small next to B*T (a small vocabulary,
 * many tokens), or when the weights stay fixed (decoding) and tab is made
 * once. The _ids passes take tab and ids (B, T) in place of inp; the
 * backward pass accumulates into dtab (V, GH) each real position's
 * projection gradient under its id (and dbx, dWh, dbh, dh0 as usual, but
 * not dWx), and loom_rnn_table_backward turns dtab into dWx += emb^T dtab
 * and demb += dtab Wx^T (demb may be NULL). Results equal the plain passes
 * up to float rounding. */
void loom_rnn_table(const loom_rnn *r, float *tab, const float *emb, int V);
void loom_rnn_table_backward(const loom_rnn *r, float *demb, const float *dtab, const float *emb,
                             int V);
void loom_rnn_forward_ids(const loom_rnn *r, float *out, float *h_final, float *c_final,
                          float *cache, float *work, const float *tab, const int *ids,
                          const int *lens, const float *h0, const float *c0, int B, int T);
void loom_rnn_backward_ids(const loom_rnn *r, float *dtab, float *dh0, float *dc0, float *work,
                           const float *dout, const float *dh_final, const float *dc_final,
                           const float *cache, const int *ids, const int *lens, int B, int T);
void loom_birnn_forward_ids(const loom_rnn *fw, const loom_rnn *bw, float *out, float *h_final,
                            float *c_final, float *cache, float *work, const float *tab_fw,
                            const float *tab_bw, const int *ids, const int *lens, const float *h0,
                            const float *c0, int B, int T);
void loom_birnn_backward_ids(const loom_rnn *fw, const loom_rnn *bw, float *dtab_fw, float *dtab_bw,
                             float *dh0, float *dc0, float *work, const float *dout,
                             const float *dh_final, const float *dc_final, const float *cache,
                             const int *ids, const int *lens, int B, int T);

/* ---- one time step (decoders) ----
 * The input enters as its projection xp = x Wx (B, GH), without bias (the
 * step adds bx and bh). loom_rnn_project computes it from a raw input; a
 * decoder with input feeding can instead project the embeddings of all
 * steps at once and add feed Wx[E:] per step (rows E.. of Wx are the
 * feed's weights, contiguous), then hand the sum to the step.
 * Cache: loom_rnn_step_cache_size floats per step, kept until its backward.
 * work: loom_rnn_step_work_size floats of scratch. c, c_prev, dc, dc_prev
 * are for LSTM only (NULL otherwise). No padding here: every row is real.
 * Outputs must not overlap inputs (h vs h_prev, dh_prev vs dh).
 * At batch 1 (greedy decoding) every product is an sgemv, bound by reading
 * the weights; a decoder can precompute its embedding table times Wx[:E]
 * once per model, so that the embedding's share of xp is a row copy. */
size_t loom_rnn_step_cache_size(const loom_rnn *r, int B);
size_t loom_rnn_step_work_size(const loom_rnn *r, int B);
void loom_rnn_step_forward(const loom_rnn *r, float *h, float *c, float *cache, float *work,
                           const float *xp, const float *h_prev, const float *c_prev, int B);
/* dh, dc: gradient of the step's outputs h, c. Accumulates dxp (B,GH),
 * dh_prev, dc_prev (B,H) and dWh, dbx, dbh. h is the step's output. */
void loom_rnn_step_backward(const loom_rnn *r, float *dxp, float *dh_prev, float *dc_prev,
                            float *work, const float *dh, const float *dc, const float *cache,
                            const float *h, const float *h_prev, const float *c_prev, int B);

/* xp = x Wx for N rows: x (N, C), xp (N, GH). */
void loom_rnn_project(const loom_rnn *r, float *xp, const float *x, int N);
/* Backward of the projection: dWx += x^T dxp; dx += dxp Wx^T (dx may be NULL). */
void loom_rnn_project_backward(const loom_rnn *r, float *dx, const float *dxp, const float *x,
                               int N);

#endif

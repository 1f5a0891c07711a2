/* loom: Elman, GRU and LSTM layers with backpropagation through time (see
 * rnn.h for shapes, gate equations and the PyTorch weight mapping).
 * Each cell is a pair of row kernels (one batch row, one time step, all
 * gates fused in one pass); the recurrence around them, the padding rules
 * and the GEMMs are shared by the three cells. Nothing here allocates.
 *
 * Cache of a sequence (floats), S = per-row gate cache (Elman 0, GRU 4H:
 * r z n hn, LSTM 5H: i f g o tanh(c)):
 *   hs     (T+1, B, H)  hs[0] = h0, hs[s+1] = state after step s
 *   cs     (T+1, B, H)  LSTM cell states, same indexing
 *   gates  (T, B, S)
 * Step s of a forward layer is position s; of a reverse layer, position
 * lens[b] - 1 - s. Steps past a sequence's length are padding. */
#include "core/rnn.h"

#include <assert.h>
#include <string.h>

#include "core/blas.h"
#include "core/smallmm.h"
#include "core/vmath.h"

const char *const loom_rnn_cell_names[] = {"elman", "gru", "lstm", NULL};

const char *loom_rnn_cell_name(int cell)
{
    return cell >= LOOM_RNN_ELMAN && cell <= LOOM_RNN_LSTM ? loom_rnn_cell_names[cell] : "?";
}

int loom_rnn_cell_parse(const char *s)
{
    for (int i = 0; loom_rnn_cell_names[i]; i++)
        if (strcmp(s, loom_rnn_cell_names[i]) == 0)
            return i;
    return -1;
}

int loom_rnn_gates(loom_rnn_cell cell)
{
    return cell == LOOM_RNN_GRU ? 3 : cell == LOOM_RNN_LSTM ? 4 : 1;
}

/* Floats of gate cache per batch row and step. */
static size_t gate_cache(const loom_rnn *r)
{
    return r->cell == LOOM_RNN_GRU    ? 4 * (size_t)r->H
           : r->cell == LOOM_RNN_LSTM ? 5 * (size_t)r->H
                                      : 0;
}

/* The input position that step s of row b reads, or -1 on padding. */
static inline int step_pos(const loom_rnn *r, const int *lens, int T, int b, int s)
{
    int len = lens ? lens[b] : T;
    if (s >= len)
        return -1;
    return r->reverse ? len - 1 - s : s;
}

/* acc (cols) += sum of the rows of m (rows, cols). */
LOOM_VECTORIZE static void add_colsum(float *restrict acc, const float *restrict m, size_t rows,
                                      size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            acc[j] += m[i * cols + j];
}

/* y (rows, n) = x + b on every row. */
LOOM_VECTORIZE static void add_rows(float *restrict y, const float *restrict x,
                                    const float *restrict b, size_t rows, size_t n)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n; j++)
            y[i * n + j] = x[i * n + j] + b[j];
}

/* Each of the rows (rows, n) = b. */
static void fill_rows(float *y, const float *b, size_t rows, size_t n)
{
    for (size_t i = 0; i < rows; i++)
        memcpy(y + i * n, b, n * sizeof *y);
}

/* hp (M, GH) = bh + h' Wh: through the packed Wh when there is one (the
 * same sum in k order, then the bias) */
static void mm_wh(const loom_rnn *r, int M, const float *h, float *hp)
{
    int GH = loom_rnn_gates(r->cell) * r->H;
    if (r->Wh_pack && M > 1) {
        loom_packw_mm(r->Wh_pack, M, h, r->H, r->bh, hp, GH);
        return;
    }
    fill_rows(hp, r->bh, (size_t)M, (size_t)GH);
    loom_mm(M, GH, r->H, h, r->Wh, 1.0f, hp);
}

/* dh (M, H) += dhp Wh^T; tmp (M, H) scratch for the packed product */
static void mm_wh_t(const loom_rnn *r, int M, const float *dhp, float *dh, float *tmp)
{
    int GH = loom_rnn_gates(r->cell) * r->H;
    if (r->Wh_pack_t && M > 1) {
        loom_packw_mm(r->Wh_pack_t, M, dhp, GH, NULL, tmp, r->H);
        loom_axpy((size_t)M * r->H, 1.0f, tmp, dh);
        return;
    }
    loom_mm_nt(M, r->H, GH, dhp, r->Wh, 1.0f, dh);
}

/* ---- row kernels: xr = x Wx + bx (GH), hr = h' Wh + bh (GH) ----
 * The biases are folded into the products (rows preset to the bias, then
 * a GEMM with beta = 1, which also spares OpenBLAS its zeroing pass). */

LOOM_VECTORIZE static void elman_row_forward(int H, float *restrict h, const float *restrict xr,
                                             const float *restrict hr)
{
    for (int j = 0; j < H; j++)
        h[j] = xr[j] + hr[j];
    loom_vtanh(h, h, H);
}

/* in the forward pass this was: h = tanh(pre); so dpre = dh * (1 - h^2),
 * and pre = x Wx + bx + h' Wh + bh takes it whole on both sides. */
LOOM_VECTORIZE static void elman_row_backward(int H, float *restrict dx, float *restrict dhh,
                                              const float *restrict dh, const float *restrict h)
{
    for (int j = 0; j < H; j++) {
        float d = dh[j] * (1.0f - h[j] * h[j]);
        dx[j] = d;
        dhh[j] = d;
    }
}

LOOM_VECTORIZE static void gru_row_forward(int H, float *restrict h, float *restrict g,
                                           const float *restrict xr, const float *restrict hr,
                                           const float *restrict hprev)
{
    float *restrict rz = g, *restrict ng = g + 2 * H, *restrict hn = g + 3 * H;
    const float *restrict rg = g, *restrict zg = g + H;
    for (int j = 0; j < 2 * H; j++)
        rz[j] = xr[j] + hr[j];
    loom_vsigmoid(rz, rz, 2 * (size_t)H);
    for (int j = 0; j < H; j++) {
        hn[j] = hr[2 * H + j];
        ng[j] = xr[2 * H + j] + rg[j] * hn[j];
    }
    loom_vtanh(ng, ng, H);
    for (int j = 0; j < H; j++)
        h[j] = ng[j] + zg[j] * (hprev[j] - ng[j]);
}

/* in the forward pass this was: h = (1 - z) n + z h', n = tanh(xn + r hn),
 * hn = h' Wh_n + bh_n; so the x side of the n gate sees dn_pre and the h
 * side sees dn_pre * r, while r and z see the same on both sides. dhd is
 * the direct part of dh' (through z h'); the part through Wh comes later. */
LOOM_VECTORIZE static void gru_row_backward(int H, float *restrict dx, float *restrict dhh,
                                            float *restrict dhd, const float *restrict dh,
                                            const float *restrict g, const float *restrict hprev)
{
    const float *rg = g, *zg = g + H, *ng = g + 2 * H, *hn = g + 3 * H;
    for (int j = 0; j < H; j++) {
        float r = rg[j], z = zg[j], n = ng[j], d = dh[j];
        float dn = d * (1.0f - z);
        float dz = d * (hprev[j] - n);
        float dnp = dn * (1.0f - n * n);
        float drp = dnp * hn[j] * r * (1.0f - r);
        float dzp = dz * z * (1.0f - z);
        dhd[j] = d * z;
        dx[j] = drp;
        dx[H + j] = dzp;
        dx[2 * H + j] = dnp;
        dhh[j] = drp;
        dhh[H + j] = dzp;
        dhh[2 * H + j] = dnp * r;
    }
}

LOOM_VECTORIZE static void lstm_row_forward(int H, float *restrict h, float *restrict c,
                                            float *restrict g, const float *restrict xr,
                                            const float *restrict hr, const float *restrict cprev)
{
    const float *restrict ig = g, *restrict fg = g + H, *restrict gg = g + 2 * H;
    const float *restrict og = g + 3 * H;
    float *restrict tc = g + 4 * H;
    for (int j = 0; j < 4 * H; j++)
        g[j] = xr[j] + hr[j];
    loom_vsigmoid(g, g, 2 * (size_t)H);
    loom_vtanh(g + 2 * H, g + 2 * H, H);
    loom_vsigmoid(g + 3 * H, g + 3 * H, H);
    for (int j = 0; j < H; j++)
        c[j] = fg[j] * cprev[j] + ig[j] * gg[j];
    loom_vtanh(tc, c, H);
    for (int j = 0; j < H; j++)
        h[j] = og[j] * tc[j];
}

/* in the forward pass this was: c = f c' + i g; h = o tanh(c); dc arrives
 * from the next step and dh adds dh * o * (1 - tanh(c)^2) to it. */
LOOM_VECTORIZE static void lstm_row_backward(int H, float *restrict dx, float *restrict dhh,
                                             float *restrict dcd, const float *restrict dh,
                                             const float *restrict dc, const float *restrict g,
                                             const float *restrict cprev)
{
    const float *restrict ig = g, *restrict fg = g + H, *restrict gg = g + 2 * H;
    const float *restrict og = g + 3 * H, *restrict tc = g + 4 * H;
    for (int j = 0; j < H; j++) {
        float i = ig[j], f = fg[j], gt = gg[j], o = og[j], t = tc[j];
        float dct = dc[j] + dh[j] * o * (1.0f - t * t);
        float dip = dct * gt * i * (1.0f - i);
        float dfp = dct * cprev[j] * f * (1.0f - f);
        float dgp = dct * i * (1.0f - gt * gt);
        float dop = dh[j] * t * o * (1.0f - o);
        dcd[j] = dct * f;
        dx[j] = dip;
        dx[H + j] = dfp;
        dx[2 * H + j] = dgp;
        dx[3 * H + j] = dop;
    }
    memcpy(dhh, dx, 4 * (size_t)H * sizeof *dhh);
}

/* ---- one step over B rows, shared by sequences and the step interface ----
 * Row b reads xp at row b*T + pos (pos from step_pos); out, when not NULL,
 * gets h at row b*T + pos with row stride ldo. hp = h' Wh is already done. */
static void step_forward_rows(const loom_rnn *r, float *hnext, float *cnext, float *gates,
                              const float *hp, const float *xp, const float *hprev,
                              const float *cprev, const int *lens, int T, int s, float *out,
                              int ldo, int B)
{
    int H = r->H;
    size_t GH = (size_t)loom_rnn_gates(r->cell) * H, S = gate_cache(r);
    for (int b = 0; b < B; b++) {
        float *h = hnext + (size_t)b * H;
        const float *hpv = hprev + (size_t)b * H;
        int p = step_pos(r, lens, T, b, s);
        if (p < 0) { /* padding: the state carries over */
            memcpy(h, hpv, H * sizeof *h);
            if (cnext)
                memcpy(cnext + (size_t)b * H, cprev + (size_t)b * H, H * sizeof *h);
            continue;
        }
        const float *xr = xp + ((size_t)b * T + p) * GH, *hr = hp + b * GH;
        switch (r->cell) {
        case LOOM_RNN_ELMAN:
            elman_row_forward(H, h, xr, hr);
            break;
        case LOOM_RNN_GRU:
            gru_row_forward(H, h, gates + b * S, xr, hr, hpv);
            break;
        case LOOM_RNN_LSTM:
            lstm_row_forward(H, h, cnext + (size_t)b * H, gates + b * S, xr, hr,
                             cprev + (size_t)b * H);
            break;
        }
        if (out)
            memcpy(out + ((size_t)b * T + p) * ldo, h, H * sizeof *h);
    }
}

/* Backward of step_forward_rows before the GEMM through Wh: writes (=)
 * dXP's rows of this step's real positions, dhp (B, GH) (zero rows on
 * padding), dhd (B, H), the part of dh' that bypasses Wh, and for LSTM dcd,
 * the gradient of c'. dh and dc are the gradients of this step's states. */
static void step_backward_rows(const loom_rnn *r, float *dXP, float *dhp, float *dhd, float *dcd,
                               const float *dh, const float *dc, const float *gates,
                               const float *hnext, const float *hprev, const float *cprev,
                               const int *lens, int T, int s, int B)
{
    int H = r->H;
    size_t GH = (size_t)loom_rnn_gates(r->cell) * H, S = gate_cache(r);
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * H;
        float *dhh = dhp + b * GH;
        int p = step_pos(r, lens, T, b, s);
        if (p < 0) {
            memset(dhh, 0, GH * sizeof *dhh);
            memcpy(dhd + o, dh + o, H * sizeof *dhd);
            if (dcd)
                memcpy(dcd + o, dc + o, H * sizeof *dcd);
            continue;
        }
        float *dx = dXP + ((size_t)b * T + p) * GH;
        switch (r->cell) {
        case LOOM_RNN_ELMAN:
            elman_row_backward(H, dx, dhh, dh + o, hnext + o);
            memset(dhd + o, 0, H * sizeof *dhd);
            break;
        case LOOM_RNN_GRU:
            gru_row_backward(H, dx, dhh, dhd + o, dh + o, gates + b * S, hprev + o);
            break;
        case LOOM_RNN_LSTM:
            lstm_row_backward(H, dx, dhh, dcd + o, dh + o, dc + o, gates + b * S, cprev + o);
            memset(dhd + o, 0, H * sizeof *dhd);
            break;
        }
    }
}

/* ---- input projection ---- */

void loom_rnn_project(const loom_rnn *r, float *xp, const float *x, int N)
{
    int GH = loom_rnn_gates(r->cell) * r->H;
    loom_mm(N, GH, r->C, x, r->Wx, 0.0f, xp);
}

void loom_rnn_project_backward(const loom_rnn *r, float *dx, const float *dxp, const float *x,
                               int N)
{
    int GH = loom_rnn_gates(r->cell) * r->H;
    if (r->dWx)
        loom_mm_tn_acc(r->C, GH, N, x, dxp, r->dWx);
    if (dx)
        loom_mm_nt(N, r->C, GH, dxp, r->Wx, 1.0f, dx);
}

/* ---- whole sequences ---- */

size_t loom_rnn_cache_size(const loom_rnn *r, int B, int T)
{
    size_t states = (size_t)(T + 1) * B * r->H;
    return states * (r->cell == LOOM_RNN_LSTM ? 2 : 1) + (size_t)T * B * gate_cache(r);
}

size_t loom_rnn_work_size(const loom_rnn *r, int B, int T)
{
    size_t GH = (size_t)loom_rnn_gates(r->cell) * r->H;
    size_t fwd = (size_t)B * T * GH + B * GH;
    size_t bwd = 2 * (size_t)B * T * GH + 5 * (size_t)B * r->H;
    return fwd > bwd ? fwd : bwd;
}

/* The three views of a sequence cache. */
static void cache_views(const loom_rnn *r, const float *cache, int B, int T, float **hs, float **cs,
                        float **gates)
{
    size_t states = (size_t)(T + 1) * B * r->H;
    *hs = (float *)cache;
    *cs = r->cell == LOOM_RNN_LSTM ? (float *)cache + states : NULL;
    *gates = (float *)cache + states * (r->cell == LOOM_RNN_LSTM ? 2 : 1);
}

/* Rows that take part in step s's products: all B, or, when lens is sorted
 * in decreasing order (as a length-sorted batch is), only the prefix of
 * sequences still running; the rows past it are padding, whose state is
 * carried and whose gradients are zero. */
static int active_rows(const int *lens, int B, int s)
{
    if (!lens)
        return B;
    for (int b = 1; b < B; b++)
        if (lens[b] > lens[b - 1])
            return B;
    int n = 0;
    while (n < B && lens[n] > s)
        n++;
    return n;
}

/* loom_rnn_forward with out's row stride ldo (the bidirectional layer
 * interleaves two directions in one output). */
static void rnn_forward(const loom_rnn *r, float *out, int ldo, float *h_final, float *c_final,
                        float *cache, float *work, const float *inp, const float *tab,
                        const int *ids, const int *lens, const float *h0, const float *c0, int B,
                        int T)
{
    int H = r->H;
    size_t GH = (size_t)loom_rnn_gates(r->cell) * H, S = gate_cache(r), BH = (size_t)B * H;
    float *hs, *cs, *gates;
    cache_views(r, cache, B, T, &hs, &cs, &gates);
    float *xp = work, *hp = work + (size_t)B * T * GH;

    if (h0)
        memcpy(hs, h0, BH * sizeof *hs);
    else
        memset(hs, 0, BH * sizeof *hs);
    if (cs && c0)
        memcpy(cs, c0, BH * sizeof *cs);
    else if (cs)
        memset(cs, 0, BH * sizeof *cs);
    for (int b = 0; lens && b < B; b++) {
        assert(lens[b] >= 0 && lens[b] <= T && "sequence length outside 0..T");
        for (int p = lens[b]; out && p < T; p++)
            memset(out + ((size_t)b * T + p) * ldo, 0, H * sizeof *out);
    }

    if (tab) { /* xp = tab[id]: the projection of each word, bias included */
        for (size_t k = 0; k < (size_t)B * T; k++)
            memcpy(xp + k * GH, tab + (size_t)ids[k] * GH, GH * sizeof *xp);
    } else {
        fill_rows(xp, r->bx, (size_t)B * T, GH);
        loom_mm(B * T, (int)GH, r->C, inp, r->Wx, 1.0f, xp);
    }
    for (int s = 0; s < T; s++) {
        const float *hprev = hs + s * BH;
        int Bs = active_rows(lens, B, s);
        if (Bs > 0)
            mm_wh(r, Bs, hprev, hp);
        step_forward_rows(r, hs + (s + 1) * BH, cs ? cs + (s + 1) * BH : NULL, gates + s * B * S,
                          hp, xp, hprev, cs ? cs + s * BH : NULL, lens, T, s, out, ldo, B);
    }
    if (h_final)
        memcpy(h_final, hs + T * BH, BH * sizeof *h_final);
    if (c_final && cs)
        memcpy(c_final, cs + T * BH, BH * sizeof *c_final);
}

static void rnn_backward(const loom_rnn *r, float *dinp, float *dtab, const int *ids, float *dh0,
                         float *dc0, float *work, const float *dout, int ldo, const float *dh_final,
                         const float *dc_final, const float *cache, const float *inp,
                         const int *lens, int B, int T)
{
    int H = r->H;
    size_t GH = (size_t)loom_rnn_gates(r->cell) * H, S = gate_cache(r), BH = (size_t)B * H;
    float *hs, *cs, *gates;
    cache_views(r, cache, B, T, &hs, &cs, &gates);
    float *dXP = work, *dHP = dXP + (size_t)B * T * GH;
    float *dh = dHP + (size_t)T * B * GH, *dhn = dh + BH, *dc = dhn + BH, *dcn = dc + BH;
    float *tmp = dcn + BH;

    if (dh_final)
        memcpy(dh, dh_final, BH * sizeof *dh);
    else
        memset(dh, 0, BH * sizeof *dh);
    if (cs && dc_final)
        memcpy(dc, dc_final, BH * sizeof *dc);
    else
        memset(dc, 0, BH * sizeof *dc);
    for (int b = 0; b < B; b++) /* padded positions get no gradient */
        for (int p = lens ? lens[b] : T; p < T; p++)
            memset(dXP + ((size_t)b * T + p) * GH, 0, GH * sizeof *dXP);

    for (int s = T - 1; s >= 0; s--) {
        float *dhp = dHP + s * B * GH;
        if (dout)
            for (int b = 0; b < B; b++) {
                int p = step_pos(r, lens, T, b, s);
                if (p >= 0)
                    loom_axpy(H, 1.0f, dout + ((size_t)b * T + p) * ldo, dh + b * H);
            }
        step_backward_rows(r, dXP, dhp, dhn, cs ? dcn : NULL, dh, dc, gates + s * B * S,
                           hs + (s + 1) * BH, hs + s * BH, cs ? cs + s * BH : NULL, lens, T, s, B);
        /* in the forward pass this was: hp = h' Wh; so dh' += dhp Wh^T */
        if (s > 0 || dh0) {
            int Bs = active_rows(lens, B, s);
            if (Bs > 0)
                mm_wh_t(r, Bs, dhp, dhn, tmp);
        }
        float *t = dh;
        dh = dhn, dhn = t;
        t = dc, dc = dcn, dcn = t;
    }
    if (dh0)
        loom_axpy(BH, 1.0f, dh, dh0);
    if (dc0 && cs)
        loom_axpy(BH, 1.0f, dc, dc0);

    /* the weights see every step at once: dWh += sum_s h'_s^T dhp_s */
    if (r->dWh)
        loom_gemm(LOOM_TRANS, LOOM_NOTRANS, H, (int)GH, T * B, 1.0f, hs, H, dHP, (int)GH, 1.0f,
                  r->dWh, (int)GH);
    if (r->dbh)
        add_colsum(r->dbh, dHP, (size_t)T * B, GH);
    if (r->dbx)
        add_colsum(r->dbx, dXP, (size_t)B * T, GH);
    if (dtab) { /* the projection's gradient, summed per word (padding is 0) */
        for (int b = 0; b < B; b++)
            for (int p = 0; p < (lens ? lens[b] : T); p++) {
                size_t k = (size_t)b * T + p;
                loom_axpy(GH, 1.0f, dXP + k * GH, dtab + (size_t)ids[k] * GH);
            }
    } else {
        loom_rnn_project_backward(r, dinp, dXP, inp, B * T);
    }
}

void loom_rnn_forward(const loom_rnn *r, float *out, float *h_final, float *c_final, float *cache,
                      float *work, const float *inp, const int *lens, const float *h0,
                      const float *c0, int B, int T)
{
    rnn_forward(r, out, r->H, h_final, c_final, cache, work, inp, NULL, NULL, lens, h0, c0, B, T);
}

void loom_rnn_backward(const loom_rnn *r, float *dinp, float *dh0, float *dc0, float *work,
                       const float *dout, const float *dh_final, const float *dc_final,
                       const float *cache, const float *inp, const int *lens, int B, int T)
{
    rnn_backward(r, dinp, NULL, NULL, dh0, dc0, work, dout, r->H, dh_final, dc_final, cache, inp,
                 lens, B, T);
}

/* ---- bidirectional ---- */

size_t loom_birnn_cache_size(const loom_rnn *fw, const loom_rnn *bw, int B, int T)
{
    return loom_rnn_cache_size(fw, B, T) + (bw ? loom_rnn_cache_size(bw, B, T) : 0);
}

size_t loom_birnn_work_size(const loom_rnn *fw, const loom_rnn *bw, int B, int T)
{
    size_t a = loom_rnn_work_size(fw, B, T), b = bw ? loom_rnn_work_size(bw, B, T) : 0;
    return a > b ? a : b;
}

/* Offset of the second direction's (B,H) block in a (2,B,H) state, or NULL. */
static const float *second(const float *p, int B, int H)
{
    return p ? p + (size_t)B * H : NULL;
}

/* The bidirectional forward pass from raw inputs (tab NULL) or from the
 * per-word tables of the two directions. */
static void birnn_forward(const loom_rnn *fw, const loom_rnn *bw, float *out, float *h_final,
                          float *c_final, float *cache, float *work, const float *inp,
                          const float *tab_fw, const float *tab_bw, const int *ids, const int *lens,
                          const float *h0, const float *c0, int B, int T)
{
    if (!bw) { /* one direction */
        rnn_forward(fw, out, fw->H, h_final, c_final, cache, work, inp, tab_fw, ids, lens, h0, c0,
                    B, T);
        return;
    }
    assert(fw->H == bw->H && fw->C == bw->C && !fw->reverse && bw->reverse);
    int H = fw->H;
    rnn_forward(fw, out, 2 * H, h_final, c_final, cache, work, inp, tab_fw, ids, lens, h0, c0, B,
                T);
    rnn_forward(bw, out ? out + H : NULL, 2 * H, (float *)second(h_final, B, H),
                (float *)second(c_final, B, H), cache + loom_rnn_cache_size(fw, B, T), work, inp,
                tab_bw, ids, lens, second(h0, B, H), second(c0, B, H), B, T);
}

void loom_birnn_forward(const loom_rnn *fw, const loom_rnn *bw, float *out, float *h_final,
                        float *c_final, float *cache, float *work, const float *inp,
                        const int *lens, const float *h0, const float *c0, int B, int T)
{
    birnn_forward(fw, bw, out, h_final, c_final, cache, work, inp, NULL, NULL, NULL, lens, h0, c0,
                  B, T);
}

static void birnn_backward(const loom_rnn *fw, const loom_rnn *bw, float *dinp, float *dtab_fw,
                           float *dtab_bw, const int *ids, float *dh0, float *dc0, float *work,
                           const float *dout, const float *dh_final, const float *dc_final,
                           const float *cache, const float *inp, const int *lens, int B, int T)
{
    if (!bw) { /* one direction */
        rnn_backward(fw, dinp, dtab_fw, ids, dh0, dc0, work, dout, fw->H, dh_final, dc_final, cache,
                     inp, lens, B, T);
        return;
    }
    assert(fw->H == bw->H && fw->C == bw->C && !fw->reverse && bw->reverse);
    int H = fw->H;
    rnn_backward(fw, dinp, dtab_fw, ids, dh0, dc0, work, dout, 2 * H, dh_final, dc_final, cache,
                 inp, lens, B, T);
    rnn_backward(bw, dinp, dtab_bw, ids, (float *)second(dh0, B, H), (float *)second(dc0, B, H),
                 work, dout ? dout + H : NULL, 2 * H, second(dh_final, B, H),
                 second(dc_final, B, H), cache + loom_rnn_cache_size(fw, B, T), inp, lens, B, T);
}

void loom_birnn_backward(const loom_rnn *fw, const loom_rnn *bw, float *dinp, float *dh0,
                         float *dc0, float *work, const float *dout, const float *dh_final,
                         const float *dc_final, const float *cache, const float *inp,
                         const int *lens, int B, int T)
{
    birnn_backward(fw, bw, dinp, NULL, NULL, NULL, dh0, dc0, work, dout, dh_final, dc_final, cache,
                   inp, lens, B, T);
}

/* ---- inputs that are rows of an embedding table ---- */

void loom_rnn_table(const loom_rnn *r, float *tab, const float *emb, int V)
{
    size_t GH = (size_t)loom_rnn_gates(r->cell) * r->H;
    fill_rows(tab, r->bx, (size_t)V, GH);
    loom_mm(V, (int)GH, r->C, emb, r->Wx, 1.0f, tab);
}

void loom_rnn_table_backward(const loom_rnn *r, float *demb, const float *dtab, const float *emb,
                             int V)
{
    loom_rnn_project_backward(r, demb, dtab, emb, V);
}

void loom_rnn_forward_ids(const loom_rnn *r, float *out, float *h_final, float *c_final,
                          float *cache, float *work, const float *tab, const int *ids,
                          const int *lens, const float *h0, const float *c0, int B, int T)
{
    rnn_forward(r, out, r->H, h_final, c_final, cache, work, NULL, tab, ids, lens, h0, c0, B, T);
}

void loom_rnn_backward_ids(const loom_rnn *r, float *dtab, float *dh0, float *dc0, float *work,
                           const float *dout, const float *dh_final, const float *dc_final,
                           const float *cache, const int *ids, const int *lens, int B, int T)
{
    rnn_backward(r, NULL, dtab, ids, dh0, dc0, work, dout, r->H, dh_final, dc_final, cache, NULL,
                 lens, B, T);
}

void loom_birnn_forward_ids(const loom_rnn *fw, const loom_rnn *bw, float *out, float *h_final,
                            float *c_final, float *cache, float *work, const float *tab_fw,
                            const float *tab_bw, const int *ids, const int *lens, const float *h0,
                            const float *c0, int B, int T)
{
    birnn_forward(fw, bw, out, h_final, c_final, cache, work, NULL, tab_fw, tab_bw, ids, lens, h0,
                  c0, B, T);
}

void loom_birnn_backward_ids(const loom_rnn *fw, const loom_rnn *bw, float *dtab_fw, float *dtab_bw,
                             float *dh0, float *dc0, float *work, const float *dout,
                             const float *dh_final, const float *dc_final, const float *cache,
                             const int *ids, const int *lens, int B, int T)
{
    birnn_backward(fw, bw, NULL, dtab_fw, dtab_bw, ids, dh0, dc0, work, dout, dh_final, dc_final,
                   cache, NULL, lens, B, T);
}

/* ---- one time step ---- */

size_t loom_rnn_step_cache_size(const loom_rnn *r, int B)
{
    return (size_t)B * gate_cache(r);
}

size_t loom_rnn_step_work_size(const loom_rnn *r, int B)
{
    size_t GH = (size_t)loom_rnn_gates(r->cell) * r->H;
    return 2 * (size_t)B * GH + 4 * (size_t)B * r->H;
}

void loom_rnn_step_forward(const loom_rnn *r, float *h, float *c, float *cache, float *work,
                           const float *xp, const float *h_prev, const float *c_prev, int B)
{
    int H = r->H, GH = loom_rnn_gates(r->cell) * H;
    size_t BG = (size_t)B * GH;
    float *hp = work, *xb = work + BG;
    mm_wh(r, B, h_prev, hp);
    add_rows(xb, xp, r->bx, B, GH);
    step_forward_rows(r, h, c, cache, hp, xb, h_prev, c_prev, NULL, 1, 0, NULL, 0, B);
}

void loom_rnn_step_backward(const loom_rnn *r, float *dxp, float *dh_prev, float *dc_prev,
                            float *work, const float *dh, const float *dc, const float *cache,
                            const float *h, const float *h_prev, const float *c_prev, int B)
{
    int H = r->H, GH = loom_rnn_gates(r->cell) * H;
    size_t BH = (size_t)B * H, BG = (size_t)B * GH;
    float *dxs = work, *dhp = dxs + BG, *dhd = dhp + BG, *dcd = dhd + BH, *dcz = dcd + BH;
    float *tmp = dcz + BH;
    int lstm = r->cell == LOOM_RNN_LSTM;
    if (lstm && !dc) {
        memset(dcz, 0, BH * sizeof *dcz);
        dc = dcz;
    }
    step_backward_rows(r, dxs, dhp, dhd, lstm ? dcd : NULL, dh, dc, cache, h, h_prev, c_prev, NULL,
                       1, 0, B);
    if (dxp)
        loom_axpy(BG, 1.0f, dxs, dxp);
    if (r->dbx)
        add_colsum(r->dbx, dxs, B, GH);
    if (r->dbh)
        add_colsum(r->dbh, dhp, B, GH);
    if (r->dWh)
        loom_mm_tn_acc(H, GH, B, h_prev, dhp, r->dWh);
    if (dh_prev) {
        loom_axpy(BH, 1.0f, dhd, dh_prev);
        mm_wh_t(r, B, dhp, dh_prev, tmp);
    }
    if (dc_prev && lstm)
        loom_axpy(BH, 1.0f, dcd, dc_prev);
}

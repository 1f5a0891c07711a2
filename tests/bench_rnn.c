/* Driver of scripts/bench-rnn: times loom's recurrent layers and attention
 * on the seq2seq benchmark's shapes (issue 7: embedding 64, bidirectional
 * GRU 128 encoder, GRU decoder with input feeding, Bahdanau attention 128,
 * batch 64 and batch 1). Prints one "name<TAB>microseconds" line per case:
 * the best of many rounds, so that a busy machine disturbs it little.
 * Usage: bench_rnn THREADS SECONDS_PER_CASE */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/attention.h"
#include "core/blas.h"
#include "core/rnn.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static unsigned long long seed = 42;

static float *rnd(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = ((float)(seed >> 40) / (float)(1 << 24) - 0.5f) * 0.2f;
    }
    return p;
}

static float *zer(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        exit(1);
    return p;
}

static loom_rnn layer(loom_rnn_cell cell, int C, int H, int reverse)
{
    size_t GH = (size_t)loom_rnn_gates(cell) * H;
    return (loom_rnn){cell,    C,           H,           reverse, rnd(C * GH), rnd(H * GH), rnd(GH),
                      rnd(GH), zer(C * GH), zer(H * GH), zer(GH), zer(GH),     NULL,        NULL};
}

/* Best CPU time per call over rounds of ~10 ms during `seconds` of CPU. */
static double best_us(void (*f)(void *), void *ctx, double seconds)
{
    f(ctx);
    double best = 1e30, end = now() + seconds;
    while (now() < end) {
        int n = 0;
        double t0 = now(), t;
        do {
            f(ctx);
            n++;
        } while ((t = now() - t0) < 0.01);
        if (t / n < best)
            best = t / n;
    }
    return best * 1e6;
}

/* ---- encoder: bidirectional or not, over (B, T, C) with lengths ---- */

typedef struct {
    loom_rnn fw, bw;
    int bi, B, T, backward;
    int *lens;
    float *inp, *out, *hf, *cf, *dout, *dinp, *cache, *work;
} enc_case;

static void enc_run(void *p)
{
    enc_case *e = p;
    float *cf = e->fw.cell == LOOM_RNN_LSTM ? e->cf : NULL;
    if (e->bi)
        loom_birnn_forward(&e->fw, &e->bw, e->out, e->hf, cf, e->cache, e->work, e->inp, e->lens,
                           NULL, NULL, e->B, e->T);
    else
        loom_rnn_forward(&e->fw, e->out, e->hf, cf, e->cache, e->work, e->inp, e->lens, NULL, NULL,
                         e->B, e->T);
    if (!e->backward)
        return;
    if (e->bi)
        loom_birnn_backward(&e->fw, &e->bw, e->dinp, NULL, NULL, e->work, e->dout, NULL, NULL,
                            e->cache, e->inp, e->lens, e->B, e->T);
    else
        loom_rnn_backward(&e->fw, e->dinp, NULL, NULL, e->work, e->dout, NULL, NULL, e->cache,
                          e->inp, e->lens, e->B, e->T);
}

static double enc_bench(loom_rnn_cell cell, int bi, int B, int T, int C, int H, int backward,
                        double seconds)
{
    enc_case e = {.fw = layer(cell, C, H, 0),
                  .bw = layer(cell, C, H, 1),
                  .bi = bi,
                  .B = B,
                  .T = T,
                  .backward = backward};
    int D = bi ? 2 : 1;
    e.lens = malloc(B * sizeof *e.lens);
    for (int b = 0; b < B; b++) /* 10 down to 5, sorted as a bucketed batch is */
        e.lens[b] = B == 1 ? T : T - (b * (T / 2 + 1)) / B;
    e.inp = rnd((size_t)B * T * C), e.dinp = zer((size_t)B * T * C);
    e.out = zer((size_t)B * T * D * H), e.dout = rnd((size_t)B * T * D * H);
    e.hf = zer((size_t)D * B * H), e.cf = zer((size_t)D * B * H);
    e.cache =
        zer(bi ? loom_birnn_cache_size(&e.fw, &e.bw, B, T) : loom_rnn_cache_size(&e.fw, B, T));
    e.work = zer(bi ? loom_birnn_work_size(&e.fw, &e.bw, B, T) : loom_rnn_work_size(&e.fw, B, T));
    return best_us(enc_run, &e, seconds);
}

/* ---- decoder step: input [emb; ctx] projected, then the GRU step ---- */

typedef struct {
    loom_rnn r;
    int B, backward;
    float *x, *xp, *h_prev, *h, *cache, *work, *dh, *dxp, *dh_prev, *dx;
} step_case;

static void step_run(void *p)
{
    step_case *s = p;
    loom_rnn_project(&s->r, s->xp, s->x, s->B);
    loom_rnn_step_forward(&s->r, s->h, NULL, s->cache, s->work, s->xp, s->h_prev, NULL, s->B);
    if (!s->backward)
        return;
    memset(s->dxp, 0, (size_t)s->B * 3 * s->r.H * sizeof *s->dxp);
    loom_rnn_step_backward(&s->r, s->dxp, s->dh_prev, NULL, s->work, s->dh, NULL, s->cache, s->h,
                           s->h_prev, NULL, s->B);
    loom_rnn_project_backward(&s->r, s->dx, s->dxp, s->x, s->B);
}

static double step_bench(int B, int C, int H, int backward, double seconds)
{
    step_case s = {.r = layer(LOOM_RNN_GRU, C, H, 0), .B = B, .backward = backward};
    size_t GH = 3 * (size_t)H;
    s.x = rnd((size_t)B * C), s.xp = zer(B * GH), s.h_prev = rnd((size_t)B * H);
    s.h = zer((size_t)B * H), s.cache = zer(loom_rnn_step_cache_size(&s.r, B));
    s.work = zer(loom_rnn_step_work_size(&s.r, B)), s.dh = rnd((size_t)B * H);
    s.dxp = zer(B * GH), s.dh_prev = zer((size_t)B * H), s.dx = zer((size_t)B * C);
    return best_us(step_run, &s, seconds);
}

/* ---- Bahdanau attention, one decoder step ---- */

typedef struct {
    loom_attn a;
    int B, S, Dv, backward;
    float *q, *keys, *kp, *ctx, *wts, *cache, *work, *dctx, *dq, *dkp, *dkeys;
} attn_case;

static void attn_run(void *p)
{
    attn_case *c = p;
    loom_attn_forward(&c->a, c->ctx, c->wts, c->cache, c->q, c->keys, c->kp, c->keys, NULL, c->B,
                      c->S, c->Dv);
    if (c->backward)
        loom_attn_backward(&c->a, c->dq, NULL, c->dkp, c->dkeys, c->work, c->dctx, c->cache, c->wts,
                           c->q, c->keys, c->keys, NULL, c->B, c->S, c->Dv);
}

static double attn_bench(int B, int S, int Dq, int Dk, int A, int backward, double seconds)
{
    attn_case c = {.a = {LOOM_ATTN_BAHDANAU, Dq, Dk, A, rnd((size_t)Dq * A), rnd((size_t)Dk * A),
                         rnd(A), rnd(A), zer((size_t)Dq * A), zer((size_t)Dk * A), zer(A), zer(A)},
                   .B = B,
                   .S = S,
                   .Dv = Dk,
                   .backward = backward};
    c.q = rnd((size_t)B * Dq), c.keys = rnd((size_t)B * S * Dk), c.kp = zer((size_t)B * S * A);
    c.ctx = zer((size_t)B * Dk), c.wts = zer((size_t)B * S);
    c.cache = zer(loom_attn_cache_size(&c.a, B, S)), c.work = zer(loom_attn_work_size(&c.a, B, S));
    c.dctx = rnd((size_t)B * Dk), c.dq = zer((size_t)B * Dq), c.dkp = zer((size_t)B * S * A);
    c.dkeys = zer((size_t)B * S * Dk);
    loom_attn_project_keys(&c.a, c.kp, c.keys, B * S);
    return best_us(attn_run, &c, seconds);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_rnn SECONDS_PER_CASE\n");
        return 2;
    }
    loom_blas_set_threads(1);
    double sec = atof(argv[1]);
    printf("bi-GRU encoder fwd+bwd B=64 T=10\t%.1f\n",
           enc_bench(LOOM_RNN_GRU, 1, 64, 10, 64, 128, 1, sec));
    printf("bi-GRU encoder fwd B=64 T=10\t%.1f\n",
           enc_bench(LOOM_RNN_GRU, 1, 64, 10, 64, 128, 0, sec));
    printf("bi-GRU encoder fwd B=1 T=10\t%.1f\n",
           enc_bench(LOOM_RNN_GRU, 1, 1, 10, 64, 128, 0, sec));
    printf("LSTM encoder fwd+bwd B=64 T=10\t%.1f\n",
           enc_bench(LOOM_RNN_LSTM, 0, 64, 10, 64, 128, 1, sec));
    printf("GRU decoder step fwd+bwd B=64\t%.1f\n", step_bench(64, 64 + 256, 128, 1, sec));
    printf("GRU decoder step fwd B=1\t%.1f\n", step_bench(1, 64 + 256, 128, 0, sec));
    printf("Bahdanau step fwd+bwd B=64 S=10\t%.1f\n", attn_bench(64, 10, 128, 256, 128, 1, sec));
    printf("Bahdanau step fwd B=1 S=10\t%.1f\n", attn_bench(1, 10, 128, 256, 128, 0, sec));
    return 0;
}

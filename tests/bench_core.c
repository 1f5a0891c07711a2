/* Benchmark driver for scripts/bench-core: GFLOP/s of raw cblas_sgemm (the
 * peer) against loom's dense forward+backward and one GRU time step
 * forward+backward, for the same GEMM shapes, at a given OpenBLAS thread
 * count. Not a test: it only measures and prints. Flops count the GEMMs
 * only (2*M*N*K each); loom's extra work (bias, gates) is overhead to it.
 *
 *   bench_core THREADS [SECONDS]
 * prints one line per case: name, raw GFLOP/s, loom GFLOP/s, loom/raw. */
#include "config.h"
#include "core/blas.h"
#include "core/dense.h"
#include "core/rnn.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *buffer(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return x;
}

typedef void (*kernel)(void *ctx);

/* Seconds per call of the peer and of loom, measured in alternating short
 * rounds (100 each, sharing `budget` seconds) and keeping each side's best
 * round: on a busy machine the best round is the one least disturbed, and
 * alternating gives both sides the same chances. */
static void time_pair(kernel raw, kernel mine, void *ctx, double budget, double *t_raw,
                      double *t_mine)
{
    raw(ctx), mine(ctx); /* warm up caches and OpenBLAS's threads */
    double t0 = now();
    raw(ctx);
    double once = now() - t0;
    int n = once > 0 ? (int)(budget / 200 / once) + 1 : 1;
    *t_raw = *t_mine = 1e30;
    for (int round = 0; round < 100; round++)
        for (int side = 0; side < 2; side++) {
            kernel k = side ? mine : raw;
            t0 = now();
            for (int i = 0; i < n; i++)
                k(ctx);
            double t = (now() - t0) / n, *best = side ? t_mine : t_raw;
            *best = t < *best ? t : *best;
        }
}

/* ---- dense: (B, IN) x (IN, OUT), forward + both backward GEMMs ---- */

typedef struct {
    int B, IN, OUT;
    float *x, *W, *b, *y, *dy, *dx, *dW, *db;
} dense_case;

static void raw_dense(void *p)
{
    dense_case *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->B, c->OUT, c->IN, 1.0f, c->x, c->IN,
                c->W, c->OUT, 0.0f, c->y, c->OUT);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->B, c->IN, c->OUT, 1.0f, c->dy, c->OUT,
                c->W, c->OUT, 1.0f, c->dx, c->IN);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c->IN, c->OUT, c->B, 1.0f, c->x, c->IN,
                c->dy, c->OUT, 1.0f, c->dW, c->OUT);
}

static void loom_dense(void *p)
{
    dense_case *c = p;
    loom_dense_forward(c->y, c->x, c->W, c->b, c->B, c->IN, c->OUT);
    loom_dense_backward(c->dx, c->dW, c->db, c->dy, c->x, c->W, c->B, c->IN, c->OUT);
}

static void bench_dense(int B, int IN, int OUT, double budget)
{
    dense_case c = {.B = B, .IN = IN, .OUT = OUT};
    size_t nx = (size_t)B * IN, nw = (size_t)IN * OUT, ny = (size_t)B * OUT;
    c.x = buffer(nx, 1), c.W = buffer(nw, 2), c.b = buffer(OUT, 3), c.y = buffer(ny, 4);
    c.dy = buffer(ny, 5), c.dx = buffer(nx, 6), c.dW = buffer(nw, 7), c.db = buffer(OUT, 8);
    double flops = 3.0 * 2.0 * B * IN * OUT;
    double raw, mine;
    time_pair(raw_dense, loom_dense, &c, budget, &raw, &mine);
    printf("dense %dx%d batch %d fwd+bwd\t%.1f\t%.1f\t%.3f\n", IN, OUT, B, flops / raw * 1e-9,
           flops / mine * 1e-9, raw / mine);
    free(c.x), free(c.W), free(c.b), free(c.y), free(c.dy), free(c.dx), free(c.dW), free(c.db);
}

/* ---- one GRU step: h = GRU(xp, h') forward, then backward ---- */

typedef struct {
    loom_rnn r;
    int B;
    float *xp, *h_prev, *h, *cache, *work, *dh, *dxp, *dh_prev;
    float *Wh, *dWh, *out3; /* for the raw peer */
} gru_case;

static void raw_gru(void *p)
{
    gru_case *c = p;
    int B = c->B, H = c->r.H, GH = 3 * H;
    /* the step's three GEMMs: h' Wh; dWh += h'^T dg; dh' += dg Wh^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, GH, H, 1.0f, c->h_prev, H, c->Wh, GH,
                0.0f, c->out3, GH);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, GH, B, 1.0f, c->h_prev, H, c->out3, GH,
                1.0f, c->dWh, GH);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, GH, 1.0f, c->out3, GH, c->Wh, GH,
                1.0f, c->dh_prev, H);
}

static void loom_gru(void *p)
{
    gru_case *c = p;
    loom_rnn_step_forward(&c->r, c->h, NULL, c->cache, c->work, c->xp, c->h_prev, NULL, c->B);
    loom_rnn_step_backward(&c->r, c->dxp, c->dh_prev, NULL, c->work, c->dh, NULL, c->cache, c->h,
                           c->h_prev, NULL, c->B);
}

static void bench_gru(int B, int H, double budget)
{
    gru_case c = {.B = B};
    int GH = 3 * H;
    c.Wh = buffer((size_t)H * GH, 11);
    c.dWh = buffer((size_t)H * GH, 12);
    float *Wx = buffer((size_t)H * GH, 13), *dWx = buffer((size_t)H * GH, 14);
    float *bx = buffer(GH, 15), *bh = buffer(GH, 16), *dbx = buffer(GH, 17), *dbh = buffer(GH, 18);
    c.r = (loom_rnn){.cell = LOOM_RNN_GRU,
                     .C = H,
                     .H = H,
                     .Wx = Wx,
                     .Wh = c.Wh,
                     .bx = bx,
                     .bh = bh,
                     .dWx = dWx,
                     .dWh = c.dWh,
                     .dbx = dbx,
                     .dbh = dbh};
    c.xp = buffer((size_t)B * GH, 19);
    c.h_prev = buffer((size_t)B * H, 20);
    c.h = buffer((size_t)B * H, 21);
    c.dh = buffer((size_t)B * H, 22);
    c.dxp = buffer((size_t)B * GH, 23);
    c.dh_prev = buffer((size_t)B * H, 24);
    c.out3 = buffer((size_t)B * GH, 25);
    c.cache = buffer(loom_rnn_step_cache_size(&c.r, B) + 1, 26);
    c.work = buffer(loom_rnn_step_work_size(&c.r, B) + 1, 27);
    double flops = 3.0 * 2.0 * B * H * GH;
    double raw, mine;
    time_pair(raw_gru, loom_gru, &c, budget, &raw, &mine);
    printf("GRU step hidden %d batch %d fwd+bwd\t%.1f\t%.1f\t%.3f\n", H, B, flops / raw * 1e-9,
           flops / mine * 1e-9, raw / mine);
    free(c.Wh), free(c.dWh), free(Wx), free(dWx), free(bx), free(bh), free(dbx), free(dbh);
    free(c.xp), free(c.h_prev), free(c.h), free(c.dh), free(c.dxp), free(c.dh_prev);
    free(c.out3), free(c.cache), free(c.work);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_core THREADS [SECONDS]\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    double budget = argc > 2 ? atof(argv[2]) : 2.0;
    loom_blas_set_threads(threads);
    printf("# threads %d (OpenBLAS reports %d)\n", threads, loom_blas_threads());
    printf("# case\traw GFLOP/s\tloom GFLOP/s\tloom/raw\n");
    bench_dense(64, 256, 256, budget);
    bench_dense(64, 512, 2048, budget);
    bench_gru(64, 256, budget);
    return 0;
}

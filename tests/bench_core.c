/* Benchmark driver for scripts/bench-core: GFLOP/s of raw cblas_sgemm (the
 * peer) against loom's dense forward+backward and one GRU time step
 * forward+backward, for the same GEMM shapes, at a given OpenBLAS thread
 * count. Not a test: it only measures and prints. Flops count the GEMMs
 * only (2*M*N*K each); loom's extra work (bias, gates) is overhead to it.
 *
 *   bench_core THREADS [SECONDS]
 * prints one line per case: name, raw GFLOP/s, loom GFLOP/s, loom/raw by
 * wall time, loom/raw by CPU time. */
#include "config.h"
#include "core/blas.h"
#include "core/dense.h"
#include "core/rnn.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
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
 * alternating gives both sides the same chances. Wall time gives the
 * GFLOP/s; the process's CPU time (all its threads) gives a second ratio
 * that other processes on the machine disturb far less. */
typedef struct {
    double wall, cpu;
} timing;

static void time_pair(kernel raw, kernel mine, void *ctx, double budget, timing *t_raw,
                      timing *t_mine)
{
    raw(ctx), mine(ctx); /* warm up caches and OpenBLAS's threads */
    double t0 = now();
    raw(ctx);
    double once = now() - t0;
    int n = once > 0 ? (int)(budget / 200 / once) + 1 : 1;
    t_raw->wall = t_raw->cpu = t_mine->wall = t_mine->cpu = 1e30;
    for (int round = 0; round < 100; round++)
        for (int side = 0; side < 2; side++) {
            kernel k = side ? mine : raw;
            timing *best = side ? t_mine : t_raw;
            double w0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            for (int i = 0; i < n; i++)
                k(ctx);
            double w = (now() - w0) / n, c = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / n;
            best->wall = w < best->wall ? w : best->wall;
            best->cpu = c < best->cpu ? c : best->cpu;
        }
}

static void report(const char *name, double flops, const timing *raw, const timing *mine)
{
    printf("%s\t%.1f\t%.1f\t%.3f\t%.3f\n", name, flops / raw->wall * 1e-9,
           flops / mine->wall * 1e-9, raw->wall / mine->wall, raw->cpu / mine->cpu);
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
    timing raw, mine;
    char name[96];
    time_pair(raw_dense, loom_dense, &c, budget, &raw, &mine);
    snprintf(name, sizeof name, "dense %dx%d batch %d fwd+bwd", IN, OUT, B);
    report(name, flops, &raw, &mine);
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
    timing raw, mine;
    char name[96];
    time_pair(raw_gru, loom_gru, &c, budget, &raw, &mine);
    snprintf(name, sizeof name, "GRU step hidden %d batch %d fwd+bwd", H, B);
    report(name, flops, &raw, &mine);
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
    printf("# case\traw GFLOP/s\tloom GFLOP/s\tloom/raw\tloom/raw (CPU time)\n");
    bench_dense(64, 256, 256, budget);
    bench_dense(64, 512, 2048, budget);
    bench_gru(64, 256, budget);
    return 0;
}

/* loom serve: request, error, latency and batch-size counters, written out
 * in Prometheus's text exposition format (version 0.0.4): counters end in
 * _total, histograms have cumulative _bucket{le=...}, _sum and _count. */
#include "config.h"
#include "serve/metrics.h"

#include "base/alloc.h"
#include "base/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the statuses counted one by one; anything else counts under "other" */
static const int codes[] = {200, 400, 404, 405, 413, 422, 500, 503};
enum { NCODES = sizeof codes / sizeof codes[0] + 1 };

static const double lat_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
enum { NLAT = sizeof lat_le / sizeof lat_le[0] };
static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
enum { NBATCH = sizeof batch_le / sizeof batch_le[0] };
static const char *const batch_names[LOOM_SERVE_BATCH_KINDS] = {"nearest", "translate"};

typedef struct {
    unsigned long long count[NCODES];
    unsigned long long lat[NLAT + 1]; /* per bucket, not cumulative; last is +Inf */
    double lat_sum;
} route_counts;

typedef struct {
    unsigned long long n[NBATCH + 1];
    double sum;
} batch_counts;

struct loom_serve_metrics {
    pthread_mutex_t mu;
    const char *const *routes;
    int nroutes;
    route_counts *r;
    batch_counts b[LOOM_SERVE_BATCH_KINDS];
    long inflight;
};

int loom_serve_metrics_new(loom_serve_metrics **out, const char *const *routes, int nroutes)
{
    *out = NULL;
    loom_serve_metrics *m = loom_calloc(1, sizeof *m);
    if (!m || !(m->r = loom_calloc((size_t)nroutes, sizeof *m->r))) {
        free(m);
        return LOOM_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->routes = routes;
    m->nroutes = nroutes;
    *out = m;
    return 0;
}

void loom_serve_metrics_free(loom_serve_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->r);
    free(m);
}

static int bucket(const double *le, int n, double x)
{
    int i = 0;
    while (i < n && x > le[i])
        i++;
    return i;
}

void loom_serve_metrics_request(loom_serve_metrics *m, int route, int status, double seconds)
{
    if (route < 0 || route >= m->nroutes)
        return;
    int c = NCODES - 1;
    for (int i = 0; i < NCODES - 1; i++)
        if (codes[i] == status)
            c = i;
    pthread_mutex_lock(&m->mu);
    route_counts *r = &m->r[route];
    r->count[c]++;
    r->lat[bucket(lat_le, NLAT, seconds)]++;
    r->lat_sum += seconds;
    pthread_mutex_unlock(&m->mu);
}

void loom_serve_metrics_batch(loom_serve_metrics *m, int kind, size_t size)
{
    if (kind < 0 || kind >= LOOM_SERVE_BATCH_KINDS)
        return;
    pthread_mutex_lock(&m->mu);
    m->b[kind].n[bucket(batch_le, NBATCH, (double)size)]++;
    m->b[kind].sum += (double)size;
    pthread_mutex_unlock(&m->mu);
}

void loom_serve_metrics_inflight(loom_serve_metrics *m, int delta)
{
    pthread_mutex_lock(&m->mu);
    m->inflight += delta;
    pthread_mutex_unlock(&m->mu);
}

/* ---- the text ---- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        if (t->oom)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        if (n < 0 || loom_grow((void **)&t->s, &t->cap, t->len + (size_t)n + 1, 1) != 0)
            t->oom = 1;
    }
}

static void put_histogram(text *t, const char *name, const char *label, const double *le, int n,
                          const unsigned long long *counts, double sum)
{
    unsigned long long cum = 0;
    for (int i = 0; i <= n; i++) {
        cum += counts[i];
        if (i < n)
            put(t, "%s_bucket{%s,le=\"%g\"} %llu\n", name, label, le[i], cum);
        else
            put(t, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, label, cum);
    }
    put(t, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, label, sum, name, label, cum);
}

char *loom_serve_metrics_text(loom_serve_metrics *m)
{
    text t = {0};
    if (loom_grow((void **)&t.s, &t.cap, 4096, 1) != 0)
        return NULL;
    t.s[0] = 0;
    pthread_mutex_lock(&m->mu);
    put(&t, "# HELP loom_requests_total Requests answered, by route and HTTP status.\n"
            "# TYPE loom_requests_total counter\n");
    for (int r = 0; r < m->nroutes; r++)
        for (int c = 0; c < NCODES; c++) {
            char code[16];
            if (c < NCODES - 1)
                snprintf(code, sizeof code, "%d", codes[c]);
            else
                snprintf(code, sizeof code, "other");
            put(&t, "loom_requests_total{route=\"%s\",code=\"%s\"} %llu\n", m->routes[r], code,
                m->r[r].count[c]);
        }
    put(&t, "# HELP loom_errors_total Requests answered with a status of 400 or more.\n"
            "# TYPE loom_errors_total counter\n");
    for (int r = 0; r < m->nroutes; r++) {
        unsigned long long e = 0;
        for (int c = 1; c < NCODES; c++)
            e += m->r[r].count[c];
        put(&t, "loom_errors_total{route=\"%s\"} %llu\n", m->routes[r], e);
    }
    put(&t, "# HELP loom_request_seconds Time from the request's arrival to its answer.\n"
            "# TYPE loom_request_seconds histogram\n");
    for (int r = 0; r < m->nroutes; r++) {
        char label[128];
        snprintf(label, sizeof label, "route=\"%s\"", m->routes[r]);
        put_histogram(&t, "loom_request_seconds", label, lat_le, NLAT, m->r[r].lat,
                      m->r[r].lat_sum);
    }
    put(&t, "# HELP loom_batch_size Queries or sentences per batch the batchers formed.\n"
            "# TYPE loom_batch_size histogram\n");
    for (int k = 0; k < LOOM_SERVE_BATCH_KINDS; k++) {
        char label[64];
        snprintf(label, sizeof label, "batcher=\"%s\"", batch_names[k]);
        put_histogram(&t, "loom_batch_size", label, batch_le, NBATCH, m->b[k].n, m->b[k].sum);
    }
    put(&t,
        "# HELP loom_requests_in_flight Requests being answered now.\n"
        "# TYPE loom_requests_in_flight gauge\nloom_requests_in_flight %ld\n",
        m->inflight);
    pthread_mutex_unlock(&m->mu);
    if (t.oom) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

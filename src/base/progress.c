/* loom: the progress line. On a terminal it redraws one line with "\r";
 * otherwise (forced with --progress into a file) it prints a line every
 * few seconds. */
#include "config.h"
#include "base/progress.h"
#include "base/alloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct loom_progress {
    char label[64];
    char unit[16];
    double total, start, last_draw, interval;
    int tty, drawn;
    pthread_mutex_t lock;
};

double loom_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

loom_progress *loom_progress_new(const char *label, double total, const char *unit, int enabled)
{
    if (!enabled)
        return NULL;
    loom_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->start = loom_now();
    p->tty = isatty(STDERR_FILENO);
    p->interval = p->tty ? 0.25 : 5.0;
    p->last_draw = p->start;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void human(char *out, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(out, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

static void draw(loom_progress *p, double done, const char *detail, double now, int final)
{
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? done / elapsed : 0;
    char rates[32], pct[16] = "", eta[32] = "";
    human(rates, sizeof rates, rate);
    if (p->total > 0) {
        snprintf(pct, sizeof pct, "%5.1f%%  ", 100.0 * done / p->total);
        double left = rate > 0 ? (p->total - done) / rate : 0;
        if (left < 0 || final)
            left = 0;
        int s = (int)(final ? elapsed : left);
        snprintf(eta, sizeof eta, "  %s %d:%02d:%02d", final ? "time" : "ETA", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, "%s%s: %s%s %s/s%s%s%s%s", p->tty ? "\r" : "", p->label, pct, rates, p->unit,
            detail && *detail ? "  " : "", detail ? detail : "", eta,
            p->tty ? "\033[K" : "\n");
    if (final && p->tty)
        fputc('\n', stderr);
    fflush(stderr);
    p->drawn = !final;
}

int loom_progress_due(loom_progress *p)
{
    return p && loom_now() - p->last_draw >= p->interval;
}

void loom_progress_update(loom_progress *p, double done, const char *detail)
{
    if (!p)
        return;
    double now = loom_now();
    if (now - p->last_draw < p->interval)
        return;
    if (pthread_mutex_trylock(&p->lock) != 0)
        return;
    if (now - p->last_draw >= p->interval) {
        p->last_draw = now;
        draw(p, done, detail, now, 0);
    }
    pthread_mutex_unlock(&p->lock);
}

void loom_progress_set_total(loom_progress *p, double total)
{
    if (p)
        p->total = total;
}

void loom_progress_note(loom_progress *p, const char *fmt, ...)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->drawn && p->tty)
        fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    p->drawn = 0;
    p->last_draw = 0; /* redraw the progress line at the next update */
    pthread_mutex_unlock(&p->lock);
}

void loom_progress_finish(loom_progress *p, const char *detail)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    draw(p, p->total > 0 ? p->total : 0, detail, loom_now(), 1);
    pthread_mutex_unlock(&p->lock);
}

void loom_progress_free(loom_progress *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

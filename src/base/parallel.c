/* loom: the thread fan-out, its team of kept threads, and the chunk counter
 * (see parallel.h). A share whose thread cannot start runs on the caller's
 * thread; a share's error message, which lives in its own thread's
 * storage, is carried back to the caller's. */
#include "config.h"
#include "base/parallel.h"
#include "base/alloc.h"
#include "base/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for any message error.c keeps. */
#define MESSAGE_BYTES 1024

typedef struct {
    loom_share_fn fn;
    void *ctx;
    int thread, nthreads;
    int rc;
    char message[MESSAGE_BYTES];
} share;

static void run_share(share *s)
{
    s->rc = s->fn(s->ctx, s->thread, s->nthreads);
    if (s->rc < 0)
        snprintf(s->message, sizeof s->message, "%s", loom_error_message());
}

static void *share_main(void *arg)
{
    run_share(arg);
    return NULL;
}

/* The lowest-numbered failure, its message set on this thread. */
static int first_error(const share *s, int n)
{
    for (int t = 0; t < n; t++)
        if (s[t].rc < 0)
            return loom_error(s[t].rc, "%s", s[t].message);
    return 0;
}

int loom_parallel_run(int nthreads, loom_share_fn fn, void *ctx)
{
    if (nthreads < 1)
        return loom_error(LOOM_EINVAL, "parallel run on %d threads", nthreads);
    share *s = loom_calloc((size_t)nthreads, sizeof *s);
    pthread_t *tid = loom_calloc((size_t)nthreads, sizeof *tid);
    char *started = loom_calloc((size_t)nthreads, 1);
    if (!s || !tid || !started) {
        free(s), free(tid), free(started);
        return LOOM_ENOMEM;
    }
    for (int t = 0; t < nthreads; t++) {
        s[t] = (share){.fn = fn, .ctx = ctx, .thread = t, .nthreads = nthreads};
        if (t > 0)
            started[t] = pthread_create(&tid[t], NULL, share_main, &s[t]) == 0;
    }
    run_share(&s[0]);
    for (int t = 1; t < nthreads; t++)
        if (!started[t])
            run_share(&s[t]);
    for (int t = 1; t < nthreads; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    int rc = first_error(s, nthreads);
    free(s), free(tid), free(started);
    return rc;
}

/* ---- the team ---- */

/* One mutex guards the run's bookkeeping: which run is posted, which of
 * its shares are taken (by their thread, or by the caller when it gets
 * there first) and how many are unfinished. A share is taken under the
 * mutex while its run is the posted one, so a thread woken late never
 * takes a share of the next run by mistake. */
struct loom_team {
    int nthreads;
    share *s;       /* the posted run's shares */
    char *taken;    /* per share, of the posted run */
    pthread_t *tid; /* threads 1..nthreads-1 */
    char *started;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long run; /* runs posted so far */
    int pending;       /* shares of the posted run taken by threads and not finished */
    int stop;
};

typedef struct {
    loom_team *tm;
    int thread;
} member;

static void *member_main(void *arg)
{
    loom_team *tm = ((member *)arg)->tm;
    int t = ((member *)arg)->thread;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&tm->mu);
    for (;;) {
        while (tm->run == seen && !tm->stop)
            pthread_cond_wait(&tm->go, &tm->mu);
        if (tm->stop)
            break;
        seen = tm->run;
        if (tm->taken[t]) /* the caller ran it: woken too late */
            continue;
        tm->taken[t] = 1;
        tm->pending++;
        pthread_mutex_unlock(&tm->mu);
        run_share(&tm->s[t]);
        pthread_mutex_lock(&tm->mu);
        if (--tm->pending == 0)
            pthread_cond_signal(&tm->done);
    }
    pthread_mutex_unlock(&tm->mu);
    return NULL;
}

int loom_team_new(loom_team **out, int nthreads)
{
    *out = NULL;
    if (nthreads < 1)
        return loom_error(LOOM_EINVAL, "thread team of %d threads", nthreads);
    loom_team *tm = loom_calloc(1, sizeof *tm);
    if (!tm)
        return LOOM_ENOMEM;
    tm->nthreads = nthreads;
    tm->s = loom_calloc((size_t)nthreads, sizeof *tm->s);
    tm->taken = loom_calloc((size_t)nthreads, 1);
    tm->tid = loom_calloc((size_t)nthreads, sizeof *tm->tid);
    tm->started = loom_calloc((size_t)nthreads, 1);
    if (!tm->s || !tm->taken || !tm->tid || !tm->started) {
        free(tm->s), free(tm->taken), free(tm->tid), free(tm->started), free(tm);
        return LOOM_ENOMEM;
    }
    pthread_mutex_init(&tm->mu, NULL);
    pthread_cond_init(&tm->go, NULL);
    pthread_cond_init(&tm->done, NULL);
    for (int t = 1; t < nthreads; t++) {
        member *m = loom_malloc(1, sizeof *m);
        if (m)
            *m = (member){tm, t};
        tm->started[t] = m && pthread_create(&tm->tid[t], NULL, member_main, m) == 0;
        if (m && !tm->started[t])
            free(m);
    }
    *out = tm;
    return 0;
}

int loom_team_run(loom_team *tm, loom_share_fn fn, void *ctx)
{
    int n = tm->nthreads;
    pthread_mutex_lock(&tm->mu);
    for (int t = 0; t < n; t++) {
        tm->s[t] = (share){.fn = fn, .ctx = ctx, .thread = t, .nthreads = n};
        tm->taken[t] = t == 0;
    }
    tm->run++;
    pthread_cond_broadcast(&tm->go);
    pthread_mutex_unlock(&tm->mu);
    run_share(&tm->s[0]);
    for (int t = 1; t < n; t++) { /* the shares no thread has begun */
        pthread_mutex_lock(&tm->mu);
        int mine = !tm->taken[t];
        tm->taken[t] = 1;
        pthread_mutex_unlock(&tm->mu);
        if (mine)
            run_share(&tm->s[t]);
    }
    pthread_mutex_lock(&tm->mu);
    while (tm->pending > 0)
        pthread_cond_wait(&tm->done, &tm->mu);
    pthread_mutex_unlock(&tm->mu);
    return first_error(tm->s, n);
}

void loom_team_free(loom_team *tm)
{
    if (!tm)
        return;
    pthread_mutex_lock(&tm->mu);
    tm->stop = 1;
    pthread_cond_broadcast(&tm->go);
    pthread_mutex_unlock(&tm->mu);
    for (int t = 1; t < tm->nthreads; t++)
        if (tm->started[t])
            pthread_join(tm->tid[t], NULL);
    pthread_cond_destroy(&tm->go);
    pthread_cond_destroy(&tm->done);
    pthread_mutex_destroy(&tm->mu);
    free(tm->s), free(tm->taken), free(tm->tid), free(tm->started), free(tm);
}

void loom_chunks_init(loom_chunks *c, size_t n, size_t chunk)
{
    atomic_init(&c->next, 0);
    c->n = n;
    c->chunk = chunk ? chunk : 1;
}

int loom_chunks_take(loom_chunks *c, size_t *begin, size_t *end)
{
    /* the load keeps `next` from creeping towards overflow once all is taken */
    if (atomic_load_explicit(&c->next, memory_order_relaxed) >= c->n)
        return 0;
    size_t b = atomic_fetch_add(&c->next, c->chunk);
    if (b >= c->n)
        return 0;
    *begin = b;
    *end = c->n - b < c->chunk ? c->n : b + c->chunk;
    return 1;
}

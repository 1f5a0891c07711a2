/* loom serve: a queue of jobs and worker threads that take them in batches
 * (see batcher.h). One mutex guards the queue; the batch function and the
 * completions run outside it. */
#include "config.h"
#include "serve/batcher.h"

#include "base/alloc.h"
#include "base/error.h"
#include "base/parallel.h"
#include "base/progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct loom_serve_batcher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    loom_serve_job *head, *tail;
    size_t pending; /* items queued */
    size_t max_batch, max_pending;
    int wait_ms;
    int stopping;
    loom_serve_batch_fn fn;
    loom_serve_loop_fn loop; /* continuous batching: the workers run it */
    void *ctx;
    int nworkers;
    pthread_t *workers;
    /* the helper (loom_serve_batcher_add_helper): share 1 of a two-share
     * fan-out, handed over under hmu; run_mu: one fan-out at a time */
    pthread_mutex_t hmu, run_mu;
    pthread_cond_t hcv;
    pthread_t helper;
    int has_helper, hstop, posted, done, hrc;
    loom_share_fn hfn;
    void *hctx;
    char hmsg[256];
};

/* Waits (mutex held) until a batch is due; returns 0 when stopping with an
 * empty queue. */
static int wait_for_batch(loom_serve_batcher *b)
{
    for (;;) {
        if (!b->head) {
            if (b->stopping)
                return 0;
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        double due = b->head->queued + b->wait_ms * 1e-3;
        if (b->pending >= b->max_batch || b->stopping || loom_now() >= due)
            return 1;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = due - loom_now();
        long long ns = (long long)(left * 1e9) + 1;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec += (long)(ns % 1000000000);
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
}

/* Takes queued jobs in order while their items fit in room (the first one
 * whatever its size when take_big); mutex held. */
static int take_jobs(loom_serve_batcher *b, loom_serve_job ***jobs, size_t *cap, size_t room,
                     int take_big)
{
    int n = 0;
    size_t items = 0;
    while (b->head && ((n == 0 && take_big) || items + b->head->size <= room)) {
        if (loom_grow((void **)jobs, cap, (size_t)n + 1, sizeof **jobs) != 0)
            break;
        loom_serve_job *j = b->head;
        b->head = j->next;
        if (!b->head)
            b->tail = NULL;
        b->pending -= j->size;
        items += j->size;
        (*jobs)[n++] = j;
    }
    if (b->head)
        pthread_cond_signal(&b->cv); /* another worker may take the rest */
    return n;
}

static void *worker(void *arg)
{
    loom_serve_batcher *b = arg;
    if (b->loop) {
        b->loop(b->ctx, b);
        return NULL;
    }
    loom_serve_job **jobs = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&b->mu);
    while (wait_for_batch(b)) {
        size_t items = 0;
        int n = take_jobs(b, &jobs, &cap, b->max_batch, 1);
        for (int i = 0; i < n; i++)
            items += jobs[i]->size;
        pthread_mutex_unlock(&b->mu);
        if (n > 0)
            b->fn(b->ctx, jobs, n, items);
        for (int i = 0; i < n; i++)
            jobs[i]->complete(jobs[i]);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    free(jobs);
    return NULL;
}

static void *helper(void *arg)
{
    loom_serve_batcher *b = arg;
    pthread_mutex_lock(&b->hmu);
    for (;;) {
        while (!b->posted && !b->hstop)
            pthread_cond_wait(&b->hcv, &b->hmu);
        if (!b->posted)
            break;
        b->posted = 0;
        pthread_mutex_unlock(&b->hmu);
        int rc = b->hfn(b->hctx, 1, 2);
        if (rc < 0)
            snprintf(b->hmsg, sizeof b->hmsg, "%s", loom_error_message());
        pthread_mutex_lock(&b->hmu);
        b->hrc = rc;
        b->done = 1;
        pthread_cond_broadcast(&b->hcv);
    }
    pthread_mutex_unlock(&b->hmu);
    return NULL;
}

int loom_serve_batcher_add_helper(loom_serve_batcher *b)
{
    if (b->has_helper)
        return 0;
    int e = pthread_create(&b->helper, NULL, helper, b);
    if (e != 0)
        return loom_error(LOOM_ENOMEM, "cannot start a search helper thread (error %d)", e);
    b->has_helper = 1;
    return 0;
}

int loom_serve_batcher_fanout(void *fctx, int nthreads, loom_share_fn fn, void *ctx)
{
    loom_serve_batcher *b = fctx;
    if (!b->has_helper || nthreads != 2 || pthread_mutex_trylock(&b->run_mu) != 0)
        return loom_parallel_run(nthreads, fn, ctx);
    pthread_mutex_lock(&b->hmu);
    b->hfn = fn, b->hctx = ctx;
    b->posted = 1;
    pthread_cond_broadcast(&b->hcv);
    pthread_mutex_unlock(&b->hmu);
    int rc = fn(ctx, 0, 2), rc1 = 0;
    pthread_mutex_lock(&b->hmu);
    if (b->posted) {
        /* the helper has not woken yet (a loaded machine): share 1 is
         * taken back rather than waited for */
        b->posted = 0;
        pthread_mutex_unlock(&b->hmu);
        if (rc == 0)
            rc = fn(ctx, 1, 2);
    } else {
        while (!b->done)
            pthread_cond_wait(&b->hcv, &b->hmu);
        b->done = 0;
        rc1 = b->hrc;
        pthread_mutex_unlock(&b->hmu);
    }
    pthread_mutex_unlock(&b->run_mu);
    if (rc == 0 && rc1 < 0) /* as loom_parallel_run: the lowest share's error */
        rc = loom_error(rc1, "%s", b->hmsg);
    return rc;
}

int loom_serve_batcher_take(loom_serve_batcher *b, loom_serve_job ***jobs, size_t *cap, size_t room,
                            int wait)
{
    pthread_mutex_lock(&b->mu);
    int n = 0;
    if (wait) {
        n = wait_for_batch(b) ? take_jobs(b, jobs, cap, b->max_batch, 1) : -1;
    } else if (b->head) {
        n = take_jobs(b, jobs, cap, room, 0);
    }
    pthread_mutex_unlock(&b->mu);
    return n;
}

size_t loom_serve_batcher_max_batch(const loom_serve_batcher *b)
{
    return b->max_batch;
}

static int make(loom_serve_batcher **out, loom_serve_batch_fn fn, loom_serve_loop_fn loop,
                void *ctx, size_t max_batch, int wait_ms, size_t max_pending, int workers)
{
    *out = NULL;
    loom_serve_batcher *b = loom_calloc(1, sizeof *b);
    if (!b)
        return LOOM_ENOMEM;
    b->fn = fn, b->loop = loop, b->ctx = ctx;
    b->max_batch = max_batch ? max_batch : 1;
    b->wait_ms = wait_ms < 0 ? 0 : wait_ms;
    b->max_pending = max_pending;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->hmu, NULL);
    pthread_mutex_init(&b->run_mu, NULL);
    pthread_cond_init(&b->hcv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    b->workers = loom_calloc(workers > 0 ? (size_t)workers : 1, sizeof *b->workers);
    if (!b->workers) {
        loom_serve_batcher_free(b);
        return LOOM_ENOMEM;
    }
    for (int i = 0; i < (workers > 0 ? workers : 1); i++) {
        int e = pthread_create(&b->workers[i], NULL, worker, b);
        if (e != 0) {
            loom_serve_batcher_free(b);
            return loom_error(LOOM_ENOMEM, "cannot start a batch thread (error %d)", e);
        }
        b->nworkers++;
    }
    *out = b;
    return 0;
}

int loom_serve_batcher_new(loom_serve_batcher **out, loom_serve_batch_fn fn, void *ctx,
                           size_t max_batch, int wait_ms, size_t max_pending, int workers)
{
    return make(out, fn, NULL, ctx, max_batch, wait_ms, max_pending, workers);
}

int loom_serve_batcher_new_loop(loom_serve_batcher **out, loom_serve_loop_fn loop, void *ctx,
                                size_t max_batch, int wait_ms, size_t max_pending, int workers)
{
    return make(out, NULL, loop, ctx, max_batch, wait_ms, max_pending, workers);
}

void loom_serve_batcher_stop(loom_serve_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->nworkers; i++)
        pthread_join(b->workers[i], NULL);
    b->nworkers = 0;
}

void loom_serve_batcher_free(loom_serve_batcher *b)
{
    if (!b)
        return;
    loom_serve_batcher_stop(b);
    if (b->has_helper) {
        pthread_mutex_lock(&b->hmu);
        b->hstop = 1;
        pthread_cond_broadcast(&b->hcv);
        pthread_mutex_unlock(&b->hmu);
        pthread_join(b->helper, NULL);
    }
    pthread_cond_destroy(&b->hcv);
    pthread_mutex_destroy(&b->hmu);
    pthread_mutex_destroy(&b->run_mu);
    free(b->workers);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int loom_serve_batcher_submit(loom_serve_batcher *b, loom_serve_job *j)
{
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        return loom_error(LOOM_EINVAL, "the server is shutting down");
    }
    if (b->pending > 0 && b->pending + j->size > b->max_pending) {
        size_t pending = b->pending;
        pthread_mutex_unlock(&b->mu);
        return loom_error(LOOM_EINVAL, "the server is busy (%zu items are waiting); try again",
                          pending);
    }
    j->next = NULL;
    j->queued = loom_now();
    int was_empty = !b->head;
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    b->pending += j->size;
    /* a worker is woken when the queue starts (it then sleeps until the
     * batch is due) and when a full batch is there: not once per job, which
     * woke a worker per request only for it to go back to sleep */
    if (was_empty || (b->pending >= b->max_batch && b->pending - j->size < b->max_batch))
        pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

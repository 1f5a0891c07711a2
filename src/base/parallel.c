/* loom: the thread fan-out and the chunk counter (see parallel.h). A share
 * whose thread cannot start runs on the caller's thread; a share's error
 * message, which lives in its own thread's storage, is carried back to the
 * caller's. */
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

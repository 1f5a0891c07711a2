/* loom serve: the dynamic batcher. Jobs (a request's queries or sentences)
 * wait in a queue; a worker takes what has gathered once the oldest job has
 * waited `wait_ms` or `max_batch` items are there, hands the batch to the
 * owner's function and then completes each job (the server resumes the
 * request's connection). Knows nothing of what a job holds. */
#ifndef LOOM_SERVE_BATCHER_H
#define LOOM_SERVE_BATCHER_H

#include <stddef.h>

#include "base/parallel.h"

typedef struct loom_serve_job loom_serve_job;
struct loom_serve_job {
    size_t size;                         /* items (queries, sentences), >= 1 */
    void (*complete)(loom_serve_job *j); /* called by the worker once the batch is done */
    void *owner;                         /* for complete() */
    /* owned by the batcher */
    loom_serve_job *next;
    double queued;
};

/* Runs one batch: jobs[0..n) (their sizes add up to at most max_batch,
 * or one job larger than that). Each job's result goes into the job. */
typedef void (*loom_serve_batch_fn)(void *ctx, loom_serve_job **jobs, int n, size_t items);

typedef struct loom_serve_batcher loom_serve_batcher;

/* `workers` threads take batches; at most `max_pending` items wait (more
 * are refused). */
int loom_serve_batcher_new(loom_serve_batcher **out, loom_serve_batch_fn fn, void *ctx,
                           size_t max_batch, int wait_ms, size_t max_pending, int workers);
/* Refuses new jobs, completes the queued ones and stops the workers;
 * accepts NULL and a stopped batcher. */
void loom_serve_batcher_stop(loom_serve_batcher *b);
/* Continuous batching: each worker runs loop(ctx, b) instead of taking
 * batches for a batch function. The loop takes jobs with
 * loom_serve_batcher_take, completes them itself and returns once take
 * says the batcher stops (after which no job is left to it). */
typedef void (*loom_serve_loop_fn)(void *ctx, loom_serve_batcher *b);
int loom_serve_batcher_new_loop(loom_serve_batcher **out, loom_serve_loop_fn loop, void *ctx,
                                size_t max_batch, int wait_ms, size_t max_pending, int workers);
/* For a loop: takes queued jobs, in order, into *jobs (grown as loom_grow
 * grows, *cap its capacity). wait = 1 (the loop has nothing in hand):
 * waits until a batch is due, as a batch worker does, and takes up to
 * max_batch items (the first job whatever its size); returns -1 when the
 * batcher stops with an empty queue. wait = 0: takes without waiting the
 * jobs that fit in room items, possibly none. Returns the jobs taken. */
int loom_serve_batcher_take(loom_serve_batcher *b, loom_serve_job ***jobs, size_t *cap, size_t room,
                            int wait);
/* Starts the batcher's helper thread, kept until loom_serve_batcher_free.
 * loom_serve_batcher_fanout (a loom_fanout_fn, fctx the batcher) then runs
 * a fan-out of two shares on the calling thread and the helper, handing it
 * share 1 through a condition variable instead of starting a thread per
 * fan-out (and running it itself after share 0 if the helper has not woken
 * by then); other fan-outs (or one while another runs) go to
 * loom_parallel_run. */
int loom_serve_batcher_add_helper(loom_serve_batcher *b);
int loom_serve_batcher_fanout(void *fctx, int nthreads, loom_share_fn fn, void *ctx);
size_t loom_serve_batcher_max_batch(const loom_serve_batcher *b);

/* Stops it and frees it; accepts NULL. */
void loom_serve_batcher_free(loom_serve_batcher *b);

/* Queues j; its complete() runs later on a worker thread. Returns 0, or
 * LOOM_EINVAL when the batcher stops ("the server is shutting down") or
 * its queue is full ("the server is busy ..."): the server answers 503
 * with that message. */
int loom_serve_batcher_submit(loom_serve_batcher *b, loom_serve_job *j);

#endif

/* loom: the one thread fan-out. Every multi-threaded loop of the library
 * (word2vec, queries, training, translation) runs its shares through
 * loom_parallel_run, and hands out work with a loom_chunks counter when
 * shares should take the next untaken piece rather than a fixed range.
 * Knows nothing of what the shares compute. */
#ifndef LOOM_BASE_PARALLEL_H
#define LOOM_BASE_PARALLEL_H

#include <stdatomic.h>
#include <stddef.h>

/* One share of a fan-out: `thread` is 0..nthreads-1 (share 0 runs on the
 * caller's thread). Returns 0 or a negative LOOM_E* code with its message
 * set (loom_error) on the thread that ran it. */
typedef int (*loom_share_fn)(void *ctx, int thread, int nthreads);

/* Runs fn(ctx, t, nthreads) for t = 0..nthreads-1, share 0 on the calling
 * thread and the others on threads of their own, and returns when all have
 * finished. Returns 0 when every share did, otherwise the error of the
 * lowest-numbered share that failed, with that share's message copied to
 * the caller's thread (loom_error_message()). LOOM_EINVAL when nthreads < 1,
 * LOOM_ENOMEM when the bookkeeping (a few bytes and 1 KB per share) cannot
 * be allocated; then no share has run.
 *
 * A thread that cannot be started (pthread_create fails: a process or
 * memory limit) is not an error: its share runs on the calling thread after
 * share 0, so the result is the one the threads would have given, only
 * later. Shares must therefore never wait for one another (no barriers);
 * they may share state through atomics and locks. */
int loom_parallel_run(int nthreads, loom_share_fn fn, void *ctx);

/* Something that runs a fan-out as loom_parallel_run does (same shares,
 * same result), on threads of its own: loom_serve_batcher_fanout. */
typedef int (*loom_fanout_fn)(void *fctx, int nthreads, loom_share_fn fn, void *ctx);

/* A fan-out whose threads are started once and kept, for a loop that fans
 * out many times a second: seq training runs five fan-outs a step, and
 * loom_parallel_run's start and join cost ~70 us a thread each time (this
 * VM). Between runs the team's threads sleep on a condition variable.
 *
 * loom_team_new starts nthreads - 1 threads (LOOM_EINVAL when nthreads < 1,
 * LOOM_ENOMEM when the bookkeeping cannot be allocated; a thread that
 * cannot be started is not an error). loom_team_run(tm, fn, ctx) is then
 * loom_parallel_run(nthreads, fn, ctx): the same shares, share 0 on the
 * caller, the same result and error. A share whose thread has not begun it
 * by the time the caller has finished its own (a thread that never
 * started, or one not yet woken on a loaded machine) is run by the caller
 * instead, so shares must never wait for one another here either. One run
 * at a time: a team belongs to one caller. loom_team_free stops and joins
 * the threads; it accepts NULL. */
typedef struct loom_team loom_team;
int loom_team_new(loom_team **out, int nthreads);
int loom_team_run(loom_team *tm, loom_share_fn fn, void *ctx);
void loom_team_free(loom_team *tm);

/* Hands out the items [0, n) in chunks of `chunk` items, each chunk to
 * exactly one taker, in increasing order; safe to share between threads.
 *
 *     loom_chunks c;
 *     loom_chunks_init(&c, n, 64);
 *     size_t begin, end;
 *     while (loom_chunks_take(&c, &begin, &end))
 *         for (size_t i = begin; i < end; i++) ...
 */
typedef struct {
    atomic_size_t next;
    size_t n, chunk;
} loom_chunks;

/* chunk 0 is taken as 1. */
void loom_chunks_init(loom_chunks *c, size_t n, size_t chunk);

/* Takes the next untaken chunk: returns 1 with [*begin, *end) set (the
 * last chunk may be shorter), or 0 when every item has been taken. */
int loom_chunks_take(loom_chunks *c, size_t *begin, size_t *end);

#endif

/* loom: allocation that reports failure through the error convention, and
 * an arena for per-batch workspaces (bump allocation, reset per step). */
#ifndef LOOM_BASE_ALLOC_H
#define LOOM_BASE_ALLOC_H

#include <stddef.h>

/* Like malloc/calloc/realloc, but set LOOM_ENOMEM's message on failure.
 * Sizes are checked for overflow (n * size). */
void *loom_malloc(size_t n, size_t size);
void *loom_calloc(size_t n, size_t size);
void *loom_realloc(void *p, size_t n, size_t size);
/* 64-byte aligned, for SIMD and BLAS buffers; release with free(). */
void *loom_aligned_alloc(size_t n, size_t size);
/* Like loom_aligned_alloc, for a large table read at random rows (word2vec's
 * matrices): from 2 MiB up it is aligned to 2 MiB and the kernel is asked
 * for transparent huge pages, so rows cost no TLB miss; release with free(). */
void *loom_huge_alloc(size_t n, size_t size);
char *loom_strdup(const char *s);

/* The one growable array. Makes the array *p, of *cap items of `size`
 * bytes, hold at least `need` items: when *cap is smaller it reallocates to
 * the largest of need, twice *cap and 16 items, and updates *p and *cap.
 * Items already there are kept; the new ones are uninitialised. Returns 0,
 * or LOOM_ENOMEM (overflow or out of memory) leaving *p and *cap as they
 * were. p is the address of the caller's pointer, cast:
 *
 *     if ((rc = loom_grow((void **)&v->items, &v->cap, v->n + 1, sizeof *v->items)) < 0)
 *         return rc;
 *
 * Arrays that share one capacity grow with loom_grow_size and
 * loom_realloc. */
int loom_grow(void **p, size_t *cap, size_t need, size_t size);

/* loom_grow for a buffer whose final size is known or bounded: the new
 * capacity is never above `most` items (need <= most), so a buffer filled
 * as data arrives doubles towards its bound instead of overshooting it. */
int loom_grow_max(void **p, size_t *cap, size_t need, size_t most, size_t size);

/* The capacity loom_grow moves to from `cap` to hold `need` items, or 0
 * when that would exceed SIZE_MAX / size. */
size_t loom_grow_size(size_t cap, size_t need, size_t size);

/* An arena: memory owned by one context, handed out in order and released
 * all at once. Allocations are 64-byte aligned. */
typedef struct loom_arena loom_arena;

int loom_arena_new(loom_arena **out, size_t capacity);
void *loom_arena_alloc(loom_arena *a, size_t n, size_t size);
/* Floats zeroed, the common case for workspaces. */
float *loom_arena_floats(loom_arena *a, size_t n);
size_t loom_arena_used(const loom_arena *a);
void loom_arena_reset(loom_arena *a);
void loom_arena_free(loom_arena *a);

#endif

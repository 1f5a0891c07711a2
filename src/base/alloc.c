/* loom: checked allocation and a simple bump arena. The arena never grows
 * behind the caller's back: a workspace that is too small is a bug in the
 * size computation, reported as LOOM_ENOMEM with both sizes. */
#include "config.h"
#include "base/alloc.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int overflows(size_t n, size_t size)
{
    return size != 0 && n > SIZE_MAX / size;
}

void *loom_malloc(size_t n, size_t size)
{
    if (overflows(n, size)) {
        loom_error(LOOM_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = malloc(n * size > 0 ? n * size : 1);
    if (!p)
        loom_error(LOOM_ENOMEM, "out of memory allocating %zu bytes", n * size);
    return p;
}

void *loom_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        loom_error(LOOM_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *loom_realloc(void *p, size_t n, size_t size)
{
    if (overflows(n, size)) {
        loom_error(LOOM_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *q = realloc(p, n * size > 0 ? n * size : 1);
    if (!q)
        loom_error(LOOM_ENOMEM, "out of memory allocating %zu bytes", n * size);
    return q;
}

void *loom_aligned_alloc(size_t n, size_t size)
{
    if (overflows(n, size)) {
        loom_error(LOOM_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    size_t bytes = (n * size + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        loom_error(LOOM_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

/* One 2 MiB page: the huge page size of x86-64 and of arm64 with 4 KiB pages. */
#define HUGE_PAGE ((size_t)2 << 20)

void *loom_huge_alloc(size_t n, size_t size)
{
    if (overflows(n, size) || n * size < HUGE_PAGE)
        return loom_aligned_alloc(n, size);
    size_t bytes = (n * size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0) {
        loom_error(LOOM_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    /* Only advice: where THP is off this fails and 4 KiB pages serve. */
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

char *loom_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = loom_malloc(n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

size_t loom_grow_size(size_t cap, size_t need, size_t size)
{
    size_t limit = SIZE_MAX / (size ? size : 1);
    if (need > limit)
        return 0;
    size_t c = cap > limit / 2 ? limit : 2 * cap;
    if (c < 16)
        c = 16 < limit ? 16 : limit;
    return c > need ? c : need;
}

int loom_grow(void **p, size_t *cap, size_t need, size_t size)
{
    return loom_grow_max(p, cap, need, SIZE_MAX, size);
}

int loom_grow_max(void **p, size_t *cap, size_t need, size_t most, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = loom_grow_size(*cap, need, size);
    if (c == 0)
        return loom_error(LOOM_ENOMEM, "array of %zu x %zu bytes overflows", need, size);
    if (c > most)
        c = most > need ? most : need;
    /* through memcpy, so that any object pointer type may be passed */
    void *old;
    memcpy(&old, p, sizeof old);
    void *q = loom_realloc(old, c, size);
    if (!q)
        return LOOM_ENOMEM;
    memcpy(p, &q, sizeof q);
    *cap = c;
    return 0;
}

struct loom_arena {
    unsigned char *base;
    size_t capacity;
    size_t used;
};

int loom_arena_new(loom_arena **out, size_t capacity)
{
    *out = NULL;
    loom_arena *a = loom_calloc(1, sizeof *a);
    if (!a)
        return LOOM_ENOMEM;
    a->base = loom_aligned_alloc(capacity ? capacity : 64, 1);
    if (!a->base) {
        free(a);
        return LOOM_ENOMEM;
    }
    a->capacity = capacity;
    *out = a;
    return 0;
}

void *loom_arena_alloc(loom_arena *a, size_t n, size_t size)
{
    if (overflows(n, size)) {
        loom_error(LOOM_ENOMEM, "arena request of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    size_t bytes = (n * size + 63) & ~(size_t)63;
    if (bytes > a->capacity - a->used) {
        loom_error(LOOM_ENOMEM, "arena exhausted: %zu bytes asked, %zu of %zu left", bytes,
                   a->capacity - a->used, a->capacity);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += bytes;
    return p;
}

float *loom_arena_floats(loom_arena *a, size_t n)
{
    float *p = loom_arena_alloc(a, n, sizeof(float));
    if (p)
        memset(p, 0, n * sizeof(float));
    return p;
}

size_t loom_arena_used(const loom_arena *a)
{
    return a->used;
}

void loom_arena_reset(loom_arena *a)
{
    a->used = 0;
}

void loom_arena_free(loom_arena *a)
{
    if (!a)
        return;
    free(a->base);
    free(a);
}

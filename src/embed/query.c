/* loom: nearest-word and analogy search. Queries are scored against the
 * unit-normalised matrix in blocks (queries x candidate rows) by one GEMM
 * (a GEMV for a lone query); each block's scores then go through a bounded
 * min-heap per query, so top-k costs one comparison per candidate. Worker
 * threads take whole blocks of queries, so no merging is needed. */
#include "config.h"
#include "embed/query.h"

#include "base/alloc.h"
#include "base/error.h"
#include "base/parallel.h"
#include "core/blas.h"
#include "core/packmm.h"
#include "core/vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    QUERY_BLOCK = 64, /* queries per block (one GEMM's rows) */
    ROW_CHUNK = 4096, /* candidate rows per GEMM */
    SPLIT_ROWS = 6    /* a split batch's blocks: whole tiles of core/packmm.c's AVX2 kernel */
};

struct loom_index {
    loom_vectors *v;
    float *unit; /* count x dim */
    int own;     /* unit is our copy */
    int gemm;    /* LOOM_INDEX_BATCH_INVARIANT: no GEMV for a lone query */
    /* LOOM_INDEX_BATCH_INVARIANT: unit^T packed once (core/packmm.h), the
     * product of every search (NULL: no memory for it, padded GEMMs) */
    loom_packw *pack;
    size_t n, dim;
    int threads;
    loom_fanout_fn fanout; /* or loom_parallel_run */
    void *fanout_ctx;
};

void loom_index_set_fanout(loom_index *ix, loom_fanout_fn run, void *fctx)
{
    ix->fanout = run;
    ix->fanout_ctx = fctx;
}

static void normalize_rows(float *rows, size_t n, size_t dim)
{
    for (size_t i = 0; i < n; i++) {
        float *r = rows + i * dim;
        double ss = 0;
        for (size_t j = 0; j < dim; j++)
            ss += (double)r[j] * r[j];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t j = 0; j < dim; j++)
                r[j] *= inv;
        }
    }
}

int loom_index_new(loom_index **out, loom_vectors *v, int flags, int threads)
{
    *out = NULL;
    loom_index *ix = loom_calloc(1, sizeof *ix);
    if (!ix)
        return LOOM_ENOMEM;
    ix->v = v;
    ix->n = loom_vectors_count(v);
    ix->dim = loom_vectors_dim(v);
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    ix->threads = threads;
    ix->gemm = (flags & LOOM_INDEX_BATCH_INVARIANT) != 0;
    if (flags & LOOM_INDEX_IN_PLACE) {
        ix->unit = loom_vectors_matrix(v);
    } else {
        ix->unit = loom_aligned_alloc(ix->n ? ix->n * ix->dim : 1, sizeof(float));
        if (!ix->unit) {
            free(ix);
            return LOOM_ENOMEM;
        }
        if (ix->n)
            memcpy(ix->unit, loom_vectors_row(v, 0), ix->n * ix->dim * sizeof(float));
        ix->own = 1;
    }
    normalize_rows(ix->unit, ix->n, ix->dim);
    /* a server's searches: a few queries each, against the whole matrix,
     * which sgemm would pack on every call; packed once here, every row of
     * a search scored as if alone */
    if (ix->gemm && ix->n && ix->n <= 0x7fffffff && ix->dim <= 0x7fffffff &&
        loom_packw_new_t(&ix->pack, ix->unit, (int)ix->dim, (int)ix->n, (int)ix->dim) != 0)
        ix->pack = NULL;
    *out = ix;
    return 0;
}

void loom_index_free(loom_index *ix)
{
    if (!ix)
        return;
    if (ix->own)
        free(ix->unit);
    loom_packw_free(ix->pack);
    free(ix);
}

const loom_vectors *loom_index_vectors(const loom_index *ix)
{
    return ix->v;
}
const float *loom_index_unit(const loom_index *ix, size_t i)
{
    return ix->unit + i * ix->dim;
}

/* ---- the bounded heap: the k best so far, the worst on top ---- */

static int worse(loom_hit a, loom_hit b)
{
    if (a.row < 0 || b.row < 0)
        return a.row < 0 && b.row >= 0;
    return a.score < b.score || (a.score == b.score && a.row > b.row);
}

static void heap_down(loom_hit *h, size_t k, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && worse(h[l], h[m]))
            m = l;
        if (r < k && worse(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        loom_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int cmp_best_first(const void *pa, const void *pb)
{
    loom_hit a = *(const loom_hit *)pa, b = *(const loom_hit *)pb;
    return worse(b, a) ? -1 : worse(a, b) ? 1 : 0;
}

/* ---- the search ---- */

typedef struct {
    const loom_index *ix;
    size_t m;
    const float *Q;           /* m * per x dim */
    size_t per;               /* query rows per query: 1, or the unit rows of a 3CosMul query */
    int mul;                  /* 3CosMul: the per rows are combined by combine_mul */
    const signed char *kinds; /* mul: m x per, +1 positive, -1 negative, 0 padding */
    const long *exclude;
    size_t nexclude;
    size_t k, limit;
    loom_hit *hits;
    loom_chunks blocks; /* blocks of queries, taken by the threads in turn; blocks
                         * smaller than QUERY_BLOCK (a split batch): thread t
                         * searches block t */
} search_job;

/* Feeds scores s[0..n) of candidate rows row0.. into query q's heap. */
static void select_top(const search_job *job, size_t q, const float *s, size_t n, size_t row0)
{
    loom_hit *h = job->hits + q * job->k;
    const long *ex = job->exclude ? job->exclude + q * job->nexclude : NULL;
    size_t k = job->k;
    float thr = h[0].row < 0 ? -INFINITY : h[0].score;
    for (size_t j = 0; j < n; j++) {
        /* once the heap is full, most runs of 64 scores hold no candidate:
         * one SIMD maximum skips them (NaN scores, which never enter, are
         * skipped either way) */
        if (j % 64 == 0 && n - j >= 64 && h[0].row >= 0 && !(loom_vmax(s + j, 64) > thr)) {
            j += 63;
            continue;
        }
        if (!(s[j] > thr))
            continue;
        long row = (long)(row0 + j);
        int skip = 0;
        for (size_t e = 0; e < job->nexclude; e++)
            skip |= ex[e] == row;
        if (skip)
            continue;
        h[0] = (loom_hit){row, s[j]};
        heap_down(h, k, 0);
        thr = h[0].row < 0 ? -INFINITY : h[0].score;
    }
}

/* 3CosMul (gensim's most_similar_cosmul): the per rows of cosines of one
 * query become one row of objectives in place, the product of (1 + cos) / 2
 * over its positive rows over the product over its negative rows + 1e-6. */
static void combine_mul(float *s, const signed char *kinds, size_t per, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        float num = 1, den = 1;
        for (size_t r = 0; r < per; r++) {
            float p = (1 + s[r * n + j]) * 0.5f;
            if (kinds[r] > 0)
                num *= p;
            else if (kinds[r] < 0)
                den *= p;
        }
        s[j] = num / (den + 1e-6f);
    }
}

static void search_block(search_job *job, size_t q0, size_t qn, float *Qb, float *S)
{
    const loom_index *ix = job->ix;
    size_t dim = ix->dim, per = job->per, rows = qn * per;
    size_t limit = job->limit && job->limit < ix->n ? job->limit : ix->n;
    memcpy(Qb, job->Q + q0 * per * dim, rows * dim * sizeof *Qb);
    if (!job->mul)
        normalize_rows(Qb, rows, dim);
    /* batch invariance: the GEMM always has a multiple of 16 rows (zero
     * rows pad it), so no query lands in a kernel's edge case, whose sums
     * may run in another order (seen with OpenBLAS's Prescott kernels) */
    size_t grows = rows;
    if (ix->gemm && !ix->pack) {
        grows = (rows + 15) / 16 * 16;
        memset(Qb + rows * dim, 0, (grows - rows) * dim * sizeof *Qb);
    }
    for (size_t i = 0; i < qn * job->k; i++)
        job->hits[q0 * job->k + i] = (loom_hit){-1, -INFINITY};
    for (size_t c0 = 0; c0 < limit; c0 += ROW_CHUNK) {
        size_t cn = limit - c0 < ROW_CHUNK ? limit - c0 : ROW_CHUNK;
        const float *U = ix->unit + c0 * dim;
        if (ix->pack)
            loom_packw_mm_cols(ix->pack, (int)rows, Qb, (int)dim, S, (int)cn, (int)c0, (int)cn);
        else if (rows == 1 && !ix->gemm)
            loom_gemv(LOOM_NOTRANS, (int)cn, (int)dim, 1.0f, U, (int)dim, Qb, 0.0f, S);
        else
            loom_gemm(LOOM_NOTRANS, LOOM_TRANS, (int)grows, (int)cn, (int)dim, 1.0f, Qb, (int)dim,
                      U, (int)dim, 0.0f, S, (int)cn);
        for (size_t q = 0; q < qn; q++) {
            float *s = S + q * per * cn;
            if (job->mul)
                combine_mul(s, job->kinds + (q0 + q) * per, per, cn);
            select_top(job, q0 + q, s, cn, c0);
        }
    }
    for (size_t q = 0; q < qn; q++)
        qsort(job->hits + (q0 + q) * job->k, job->k, sizeof(loom_hit), cmp_best_first);
}

/* One thread's share: blocks of queries until none is left. */
static int search_share(void *ctx, int thread, int nthreads)
{
    (void)nthreads;
    search_job *job = ctx;
    size_t per = job->per, dim = job->ix->dim;
    float *Qb = loom_aligned_alloc(QUERY_BLOCK * per * dim, sizeof(float));
    float *S = loom_aligned_alloc(QUERY_BLOCK * per * ROW_CHUNK, sizeof(float));
    int rc = Qb && S ? 0 : LOOM_ENOMEM;
    size_t q0, q1, b = job->blocks.chunk;
    if (b < QUERY_BLOCK) { /* a split batch: block `thread`; the caller's cannot take all */
        q0 = (size_t)thread * b;
        q1 = q0 + b < job->m ? q0 + b : job->m;
        if (rc == 0 && q0 < q1)
            search_block(job, q0, q1 - q0, Qb, S);
    } else {
        while (rc == 0 && loom_chunks_take(&job->blocks, &q0, &q1))
            search_block(job, q0, q1 - q0, Qb, S);
    }
    free(Qb);
    free(S);
    return rc;
}

static int run_search(search_job *job)
{
    if (job->k == 0 || job->m == 0)
        return 0;
    if (job->ix->dim > (size_t)1 << 20 || job->ix->n > (size_t)0x7fffffff)
        return loom_error(LOOM_EINVAL, "the matrix is too large for one BLAS call");
    /* A server's batch (a batch-invariant index) of fewer queries than a
     * block is split evenly among the threads, in whole tiles of the packed
     * product (SPLIT_ROWS rows), rather than searched on one of them: one
     * search runs at a time and the clients wait on it. Each row's scores
     * are its own whatever its block, so the same bits. */
    size_t block = QUERY_BLOCK, t = (size_t)job->ix->threads;
    if (job->ix->pack && t > 1 && job->m < QUERY_BLOCK && job->m >= 2 * SPLIT_ROWS) {
        block = (job->m + t - 1) / t;
        block = (block + SPLIT_ROWS - 1) / SPLIT_ROWS * SPLIT_ROWS;
    }
    size_t blocks = (job->m + block - 1) / block;
    size_t workers = t < blocks ? t : blocks;
    loom_chunks_init(&job->blocks, job->m, block);
    /* Single-threaded BLAS inside each worker: no oversubscription, and
     * the same scores (to the last bit) whatever the number of workers.
     * loom_blas_set_threads does nothing when BLAS is on one thread
     * already (a server's batch workers search many times a second). */
    int blas_threads = loom_blas_threads();
    loom_blas_set_threads(1);
    int nt = workers > 1 ? (int)workers : 1;
    int rc = job->ix->fanout ? job->ix->fanout(job->ix->fanout_ctx, nt, search_share, job)
                             : loom_parallel_run(nt, search_share, job);
    loom_blas_set_threads(blas_threads);
    return rc;
}

int loom_index_search(const loom_index *ix, size_t m, const float *Q, const long *exclude,
                      size_t nexclude, size_t k, size_t limit, loom_hit *hits)
{
    search_job job = {.ix = ix,
                      .m = m,
                      .Q = Q,
                      .per = 1,
                      .exclude = exclude,
                      .nexclude = exclude ? nexclude : 0,
                      .k = k,
                      .limit = limit,
                      .hits = hits};
    return run_search(&job);
}

static int check_rows(const loom_index *ix, const long *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i] < 0 || (size_t)rows[i] >= ix->n)
            return loom_error(LOOM_EINVAL, "row %ld is not in the vectors (0..%zu)", rows[i],
                              ix->n);
    return 0;
}

int loom_index_nearest_many(const loom_index *ix, size_t m, const long *rows, size_t width,
                            size_t k, size_t limit, loom_hit *hits)
{
    for (size_t i = 0; i < m * width; i++)
        if (rows[i] != -1 && (rows[i] < 0 || (size_t)rows[i] >= ix->n))
            return loom_error(LOOM_EINVAL, "row %ld is not in the vectors (0..%zu)", rows[i],
                              ix->n);
    float *Q = loom_calloc(m * ix->dim, sizeof *Q);
    if (!Q)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < width; j++)
            if (rows[i * width + j] >= 0)
                loom_axpy(ix->dim, 1.0f, loom_index_unit(ix, (size_t)rows[i * width + j]),
                          Q + i * ix->dim);
    /* The padding (-1) never equals a row, so the query rows double as the
     * exclusion lists. */
    int rc = loom_index_search(ix, m, Q, rows, width, k, limit, hits);
    free(Q);
    return rc;
}

int loom_index_nearest(const loom_index *ix, const long *rows, size_t n, size_t k, size_t limit,
                       loom_hit *hits)
{
    int rc = check_rows(ix, rows, n);
    return rc < 0 ? rc : loom_index_nearest_many(ix, 1, rows, n, k, limit, hits);
}

int loom_index_most_similar(const loom_index *ix, size_t m, const long *pos, size_t npos,
                            const long *neg, size_t nneg, int method, size_t k, size_t limit,
                            loom_hit *hits)
{
    size_t dim = ix->dim, width = npos + nneg;
    if (method != LOOM_ANALOGY_ADD && method != LOOM_ANALOGY_MUL)
        return loom_error(LOOM_EINVAL, "unknown analogy method %d", method);
    if (width == 0 || width > 1024)
        return loom_error(LOOM_EINVAL, "a query takes 1 to 1024 words, not %zu", width);
    /* the rows of query i, positives first; they are also its exclusions */
    long *rows = loom_malloc(m ? m * width : 1, sizeof *rows);
    if (!rows)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < npos; j++)
            rows[i * width + j] = pos[i * npos + j];
        for (size_t j = 0; j < nneg; j++)
            rows[i * width + npos + j] = neg[i * nneg + j];
    }
    int rc = 0;
    for (size_t i = 0; i < m * width && rc == 0; i++)
        if (rows[i] != -1)
            rc = check_rows(ix, rows + i, 1);
    int mul = method == LOOM_ANALOGY_MUL;
    size_t per = mul ? width : 1;
    float *Q = rc ? NULL : loom_calloc(m ? m * per * dim : 1, sizeof *Q);
    signed char *kinds = rc || !mul ? NULL : loom_calloc(m ? m * per : 1, 1);
    if (rc == 0 && (!Q || (mul && !kinds)))
        rc = LOOM_ENOMEM;
    for (size_t i = 0; i < m && rc == 0; i++)
        for (size_t j = 0; j < width; j++) {
            long r = rows[i * width + j];
            if (r < 0)
                continue;
            float sign = j < npos ? 1.0f : -1.0f;
            if (!mul) {
                /* gensim's mean of unit vectors, up to a length the search drops */
                loom_axpy(dim, sign, loom_index_unit(ix, (size_t)r), Q + i * dim);
            } else {
                memcpy(Q + (i * per + j) * dim, loom_index_unit(ix, (size_t)r), dim * sizeof *Q);
                kinds[i * per + j] = (signed char)sign;
            }
        }
    if (rc == 0) {
        search_job job = {.ix = ix,
                          .m = m,
                          .Q = Q,
                          .per = per,
                          .mul = mul,
                          .kinds = kinds,
                          .exclude = rows,
                          .nexclude = width,
                          .k = k,
                          .limit = limit,
                          .hits = hits};
        rc = run_search(&job);
    }
    free(kinds);
    free(Q);
    free(rows);
    return rc;
}

int loom_index_analogy(const loom_index *ix, size_t m, const long *abc, int method, size_t k,
                       size_t limit, loom_hit *hits)
{
    int rc = check_rows(ix, abc, 3 * m);
    if (rc < 0)
        return rc;
    if (method != LOOM_ANALOGY_ADD && method != LOOM_ANALOGY_MUL)
        return loom_error(LOOM_EINVAL, "unknown analogy method %d", method);
    size_t dim = ix->dim, per = method == LOOM_ANALOGY_MUL ? 3 : 1;
    static const signed char abc_kinds[3] = {-1, 1, 1}; /* b - a + c */
    float *Q = loom_malloc(m * per * dim, sizeof *Q);
    signed char *kinds = per > 1 ? loom_malloc(m * per, 1) : NULL;
    if (!Q || (per > 1 && !kinds)) {
        free(Q);
        free(kinds);
        return LOOM_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        const float *a = loom_index_unit(ix, (size_t)abc[3 * i]);
        const float *b = loom_index_unit(ix, (size_t)abc[3 * i + 1]);
        const float *c = loom_index_unit(ix, (size_t)abc[3 * i + 2]);
        float *q = Q + i * per * dim;
        if (per == 1) {
            for (size_t j = 0; j < dim; j++)
                q[j] = b[j] - a[j] + c[j];
        } else {
            memcpy(q, a, dim * sizeof *q);
            memcpy(q + dim, b, dim * sizeof *q);
            memcpy(q + 2 * dim, c, dim * sizeof *q);
            memcpy(kinds + i * per, abc_kinds, 3);
        }
    }
    search_job job = {.ix = ix,
                      .m = m,
                      .Q = Q,
                      .per = per,
                      .mul = method == LOOM_ANALOGY_MUL,
                      .kinds = kinds,
                      .exclude = abc,
                      .nexclude = 3,
                      .k = k,
                      .limit = limit,
                      .hits = hits};
    rc = run_search(&job);
    free(kinds);
    free(Q);
    return rc;
}

/* loom: the word2vec trainer (see word2vec.h): vocabulary pass, model
 * set-up, worker threads over corpus byte ranges, the skip-gram and CBOW
 * windows, learning-rate schedule and progress. The arithmetic of one
 * window is in hogbatch.c; the random choices in sampling.c; the tree in
 * huffman.c; reading the corpus in shards.c, holding it as ids in
 * idstream.c. */
#include "config.h"
#include "embed/word2vec.h"
#include "base/alloc.h"
#include "base/dist.h"
#include "base/error.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "embed/hogbatch.h"
#include "embed/huffman.h"
#include "embed/idstream.h"
#include "embed/sampling.h"
#include "embed/shards.h"
#include "embed/vectors.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A line longer than this many known words is trained as several
 * sentences (gensim's limit). */
#define MAX_SENTENCE 10000
/* Threads publish their word counts and refresh the learning rate every
 * this many words (word2vec's interval). */
#define SYNC_WORDS 10000
/* Without min_alpha, the learning rate never falls below this fraction
 * of its start. */
#define MIN_ALPHA_RATIO 1e-4
/* With more than one thread, the epochs replayed from the id streams are
 * dealt in blocks of about 1/BLOCKS_PER_THREAD of a thread's share (see
 * replay_blocks). */
#define BLOCKS_PER_THREAD 64
/* Under mpirun, matrices are exchanged in chunks of this many floats. */
#define SYNC_CHUNK ((size_t)1 << 20)

struct loom_w2v {
    loom_w2v_opts o;
    float start_alpha;
    loom_shards *corpus;
    const loom_subword *subword; /* pieces instead of words (borrowed), or NULL */
    loom_vocab *vocab;
    loom_idstream *ids;   /* each thread's share as ids of vocab, o.threads */
    struct id_block *blocks; /* the streams cut at ends of sentence, or NULL */
    size_t nblocks;
    atomic_uint_fast64_t next_block; /* over all epochs: epoch * nblocks + block */
    size_t nwords;        /* vocabulary size */
    uint64_t train_words; /* sum of the kept words' counts: one epoch */
    float *syn0;          /* input vectors, nwords x dim (x stride while training) */
    float *syn1;          /* output vectors (NS) or inner nodes (HS), x stride */
    size_t stride;        /* floats from a row to the next while training */
    uint64_t *keep;       /* subsampling thresholds */
    loom_noise noise;
    loom_huffman tree;
    loom_sigmoid_table sigmoid;

    /* shared while training */
    atomic_uint_fast64_t words_done;
    pthread_mutex_t lock; /* guards what follows */
    double interval_loss;
    uint64_t interval_n;
    double *epoch_loss;
    uint64_t *epoch_n;
    int *epoch_threads;
    double start_time;
    loom_progress *progress;
    loom_w2v_stats stats;

    /* under mpirun: the ranks' exchanges (see dist_sync) */
    int ranks, rank;
    pthread_mutex_t dist_lock;        /* one thread at a time talks to the ranks */
    atomic_uint_fast64_t next_sync;   /* this rank's words_done when the next is due */
    atomic_uint_fast64_t global_base; /* words read by all ranks at the last sync */
    atomic_uint_fast64_t local_base;  /* this rank's words_done then */
    atomic_int threads_done;          /* threads that finished every epoch */
    float *sync_buf;                  /* a chunk of a matrix on its way */
    float *base[2];                   /* syn0 and syn1 as at the last sync */
};

void loom_w2v_opts_default(loom_w2v_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = LOOM_W2V_SKIPGRAM;
    o->loss = LOOM_W2V_NS;
    o->dim = 100;
    o->window = 5;
    o->negative = 5;
    o->sample = 1e-3;
    o->min_count = 5;
    o->epochs = 5;
    o->threads = 1;
    o->seed = 1;
    o->sync_words = 200000;
    o->cache_mb = 1024;
    loom_tok_opts_default(&o->tok);
}

double loom_w2v_start_alpha(const loom_w2v_opts *o)
{
    if (o->alpha > 0)
        return o->alpha;
    return o->model == LOOM_W2V_CBOW ? 0.05 : 0.025;
}

double loom_w2v_lr_progress(int schedule, uint64_t done, uint64_t worker_done, int epoch,
                            int epochs, uint64_t epoch_words)
{
    double p;
    if (schedule == LOOM_W2V_LR_PER_WORKER)
        p = (epoch + (double)worker_done / ((double)epoch_words + 1)) / epochs;
    else
        p = (double)done / ((double)epoch_words * epochs + 1);
    return p < 1 ? p : 1;
}

float loom_w2v_lr(float start, double min_alpha, double progress)
{
    double left = 1.0 - progress;
    if (min_alpha <= 0) /* word2vec.c's: down to ~0 */
        return start * (float)(left > MIN_ALPHA_RATIO ? left : MIN_ALPHA_RATIO);
    double a = min_alpha + (start - min_alpha) * left;
    return (float)(a > min_alpha ? a : min_alpha);
}

int loom_w2v_opts_check(const loom_w2v_opts *o)
{
    if (o->model != LOOM_W2V_SKIPGRAM && o->model != LOOM_W2V_CBOW)
        return loom_error(LOOM_EINVAL, "model must be skipgram or cbow");
    if (o->loss != LOOM_W2V_NS && o->loss != LOOM_W2V_HS)
        return loom_error(LOOM_EINVAL, "loss must be ns or hs");
    if (o->dim < 1 || o->dim > 100000)
        return loom_error(LOOM_EINVAL, "dim must be 1..100000, not %d", o->dim);
    if (o->window < 1 || o->window > 10000)
        return loom_error(LOOM_EINVAL, "window must be 1..10000, not %d", o->window);
    if (o->loss == LOOM_W2V_NS && (o->negative < 1 || o->negative > 1000))
        return loom_error(LOOM_EINVAL, "negative must be 1..1000, not %d", o->negative);
    if (!(o->sample >= 0 && o->sample <= 1))
        return loom_error(LOOM_EINVAL, "sample must be 0..1");
    if (o->epochs < 1 || o->epochs > 100000)
        return loom_error(LOOM_EINVAL, "epochs must be 1..100000, not %d", o->epochs);
    if (!(o->alpha >= 0 && o->alpha <= 10))
        return loom_error(LOOM_EINVAL, "alpha must be 0..10");
    if (!(o->min_alpha >= 0 && o->min_alpha <= loom_w2v_start_alpha(o)))
        return loom_error(LOOM_EINVAL, "min-alpha must be 0..alpha (%g), not %g",
                          loom_w2v_start_alpha(o), o->min_alpha);
    if (o->lr_schedule != LOOM_W2V_LR_LINEAR && o->lr_schedule != LOOM_W2V_LR_PER_WORKER)
        return loom_error(LOOM_EINVAL, "lr-schedule must be linear or per-worker");
    if (o->threads < 1 || o->threads > 1024)
        return loom_error(LOOM_EINVAL, "threads must be 1..1024, not %d", o->threads);
    if (o->sync_words < 1000)
        return loom_error(LOOM_EINVAL, "sync-words must be at least 1000");
    return 0;
}

int loom_w2v_new(loom_w2v **out, const loom_w2v_opts *o, const char *const *paths, size_t n)
{
    *out = NULL;
    int rc = loom_w2v_opts_check(o);
    if (rc < 0)
        return rc;
    if (n == 0)
        return loom_error(LOOM_EINVAL, "no corpus file given");
    for (size_t i = 0; i < n && loom_dist_size() > 1; i++) {
        struct stat st;
        if (strcmp(paths[i], "-") == 0 || (stat(paths[i], &st) == 0 && !S_ISREG(st.st_mode)))
            return loom_error(LOOM_EINVAL,
                              "%s: under mpirun every process reads the corpus itself: give "
                              "a regular file, not stdin or a pipe",
                              strcmp(paths[i], "-") == 0 ? "stdin" : paths[i]);
    }
    loom_w2v *w = loom_calloc(1, sizeof *w);
    if (!w)
        return LOOM_ENOMEM;
    w->o = *o;
    w->start_alpha = (float)loom_w2v_start_alpha(o);
    w->ranks = loom_dist_size();
    w->rank = loom_dist_rank();
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->dist_lock, NULL);
    loom_sigmoid_table_init(&w->sigmoid);
    w->ids = loom_calloc((size_t)o->threads, sizeof *w->ids);
    if (!w->ids) {
        loom_w2v_free(w);
        return LOOM_ENOMEM;
    }
    if ((rc = loom_shards_open(&w->corpus, paths, n)) < 0) {
        loom_w2v_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Forgets the threads' id streams (the vocabulary or the tokens change). */
static void drop_ids(loom_w2v *w)
{
    for (int i = 0; w->ids && i < w->o.threads; i++)
        loom_idstream_drop(&w->ids[i]);
}

/* The entries each thread's id stream may hold. */
static size_t ids_limit(const loom_w2v *w)
{
    return w->o.cache_mb * ((size_t)1 << 20) / sizeof(int32_t) / (size_t)w->o.threads;
}

void loom_w2v_free(loom_w2v *w)
{
    if (!w)
        return;
    loom_shards_free(w->corpus);
    drop_ids(w);
    free(w->ids);
    loom_vocab_free(w->vocab);
    free(w->syn0), free(w->syn1), free(w->keep);
    loom_noise_free(&w->noise);
    loom_huffman_free(&w->tree);
    free(w->epoch_loss), free(w->epoch_n), free(w->epoch_threads);
    free(w->sync_buf), free(w->base[0]), free(w->base[1]);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->dist_lock);
    free(w);
}

const loom_vocab *loom_w2v_vocab(const loom_w2v *w)
{
    return w->vocab;
}

long long loom_w2v_corpus_bytes(const loom_w2v *w)
{
    return loom_shards_size(w->corpus);
}

const float *loom_w2v_vectors(const loom_w2v *w)
{
    return w->syn0;
}

void loom_w2v_get_stats(const loom_w2v *w, loom_w2v_stats *s)
{
    *s = w->stats;
}

/* ---- the vocabulary pass ---- */

typedef struct {
    loom_w2v *w;
    loom_vocab *vocab;
    long long begin, end;
    atomic_llong *bytes;
    loom_progress *progress;
    loom_idstream ids; /* the tokens as ids of vocab, for training to replay */
} count_job;

static int count_token(void *ctx, const char *tok, size_t len)
{
    count_job *j = ctx;
    int32_t id;
    int rc = loom_vocab_add_id(j->vocab, tok, len, 1, &id);
    loom_idstream_push(&j->ids, id);
    return rc;
}

static int count_eol(void *ctx)
{
    count_job *j = ctx;
    loom_idstream_push(&j->ids, LOOM_IDS_EOL);
    return 0;
}

static int count_bytes(void *ctx, size_t n)
{
    count_job *j = ctx;
    long long done = atomic_fetch_add(j->bytes, (long long)n) + (long long)n;
    loom_progress_update(j->progress, (double)done / 1e6, NULL);
    return 0;
}

/* One thread's share of the vocabulary pass: ctx is the array of jobs. */
static int count_share(void *ctx, int thread, int nthreads)
{
    (void)nthreads;
    count_job *j = (count_job *)ctx + thread;
    loom_tokenizer *t;
    int rc = loom_tokenizer_new(&t, &j->w->o.tok);
    if (rc < 0)
        return rc;
    loom_scan_fns fns = {count_token, count_eol, count_bytes, j, j->w->subword};
    rc = loom_shards_scan(j->w->corpus, j->begin, j->end, t, &fns);
    loom_tokenizer_free(t);
    return rc;
}

/* Splits [0, size) into n ranges. */
static long long split(long long size, int i, int n)
{
    return (long long)((__int128)size * i / n);
}

/* Under mpirun: every rank's counts added into v, in rank order, so that
 * every rank ends with the same vocabulary (ids included). */
static int merge_ranks(loom_vocab **v)
{
    if (loom_dist_size() == 1)
        return 0;
    /* this rank's words as "word\0" + 8 bytes of count */
    size_t bytes = 0, nw = loom_vocab_size(*v);
    for (size_t id = 0; id < nw; id++)
        bytes += strlen(loom_vocab_word(*v, (int32_t)id)) + 1 + sizeof(uint64_t);
    char *mine = loom_malloc(bytes ? bytes : 1, 1), *all = NULL, *q = mine;
    size_t *sizes = loom_malloc((size_t)loom_dist_size(), sizeof *sizes);
    loom_vocab *merged = NULL;
    int rc = mine && sizes ? loom_vocab_new(&merged) : LOOM_ENOMEM;
    for (size_t id = 0; id < nw && rc == 0; id++) {
        const char *word = loom_vocab_word(*v, (int32_t)id);
        uint64_t count = loom_vocab_count(*v, (int32_t)id);
        size_t len = strlen(word) + 1;
        memcpy(q, word, len);
        memcpy(q + len, &count, sizeof count);
        q += len + sizeof count;
    }
    if (rc == 0)
        rc = loom_dist_allgather(mine, bytes, &all, sizes);
    const char *r = all, *end = all ? all + bytes : NULL;
    if (all) {
        end = all;
        for (int k = 0; k < loom_dist_size(); k++)
            end += sizes[k];
    }
    while (rc == 0 && r < end) {
        size_t len = strlen(r);
        uint64_t count;
        memcpy(&count, r + len + 1, sizeof count);
        rc = loom_vocab_add(merged, r, len, count);
        r += len + 1 + sizeof count;
    }
    free(mine), free(all), free(sizes);
    if (rc < 0) {
        loom_vocab_free(merged);
        return rc;
    }
    loom_vocab_free(*v);
    *v = merged;
    return 0;
}

/* The byte range of the corpus that thread `i` of this rank reads. */
static void thread_range(const loom_w2v *w, long long size, int i, long long *begin, long long *end)
{
    int all = w->ranks * w->o.threads, k = w->rank * w->o.threads + i;
    *begin = split(size, k, all);
    *end = split(size, k + 1, all);
}

/* Maps job j's stream from its own count's ids to the trainer's. */
static void map_ids(const loom_w2v *w, count_job *j)
{
    size_t n = loom_vocab_size(j->vocab);
    int32_t *map = j->ids.state == LOOM_IDS_RECORDING ? loom_malloc(n ? n : 1, sizeof *map) : NULL;
    for (size_t id = 0; map && id < n; id++) {
        const char *word = loom_vocab_word(j->vocab, (int32_t)id);
        map[id] = loom_vocab_find(w->vocab, word, strlen(word));
    }
    if (map)
        loom_idstream_finish(&j->ids, map, n);
    else
        loom_idstream_drop(&j->ids);
    free(map);
}

int loom_w2v_count(loom_w2v *w, loom_progress *p)
{
    int n = w->o.threads;
    long long size = loom_shards_size(w->corpus);
    drop_ids(w);
    count_job *jobs = loom_calloc((size_t)n, sizeof *jobs);
    if (!jobs)
        return LOOM_ENOMEM;
    atomic_llong bytes = 0;
    long long first, last, unused;
    thread_range(w, size, 0, &first, &unused);
    thread_range(w, size, n - 1, &unused, &last);
    loom_progress_set_total(p, (double)(last - first) / 1e6);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        jobs[i] = (count_job){w, NULL, 0, 0, &bytes, p, {0}};
        thread_range(w, size, i, &jobs[i].begin, &jobs[i].end);
        loom_idstream_start(&jobs[i].ids, ids_limit(w));
        rc = loom_vocab_new(&jobs[i].vocab);
    }
    if (rc == 0)
        rc = loom_parallel_run(n, count_share, jobs);
    /* A pruning renumbered a job's words: its stream is of no use. */
    for (int i = 0; i < n; i++) {
        unsigned prunings = 0;
        uint64_t dropped, threshold;
        if (jobs[i].vocab)
            loom_vocab_prune_stats(jobs[i].vocab, &prunings, &dropped, &threshold);
        if (prunings)
            loom_idstream_drop(&jobs[i].ids);
    }
    /* Merge the threads' counts into the first vocabulary; while the
     * first's stream is kept, into a new one, which then holds the same
     * words in the same order (that job never pruned), so that the
     * first's own ids can still be mapped. */
    int keep_first = jobs[0].ids.state == LOOM_IDS_RECORDING;
    loom_vocab *v = keep_first ? NULL : jobs[0].vocab;
    if (rc == 0 && keep_first)
        rc = loom_vocab_new(&v);
    for (int i = keep_first ? 0 : 1; i < n && rc == 0; i++) {
        const loom_vocab *u = jobs[i].vocab;
        for (size_t id = 0; id < loom_vocab_size(u) && rc == 0; id++) {
            const char *word = loom_vocab_word(u, (int32_t)id);
            rc = loom_vocab_add(v, word, strlen(word), loom_vocab_count(u, (int32_t)id));
        }
    }
    if (rc == 0)
        rc = merge_ranks(&v);
    if (rc < 0)
        loom_vocab_free(v);
    else
        loom_progress_finish(p, NULL);
    if (rc == 0)
        rc = loom_w2v_set_vocab(w, v);
    for (int i = 0; i < n; i++) {
        if (rc == 0)
            map_ids(w, &jobs[i]);
        else
            loom_idstream_drop(&jobs[i].ids);
        w->ids[i] = jobs[i].ids;
        if (i > 0 || keep_first)
            loom_vocab_free(jobs[i].vocab);
    }
    free(jobs);
    return rc;
}

/* ---- the model ---- */

/* The rows of the output matrix (NS: one per word; HS: the inner nodes). */
static size_t out_rows(const loom_w2v *w)
{
    return w->o.loss == LOOM_W2V_HS ? (w->nwords > 1 ? w->nwords - 1 : 1) : w->nwords;
}

/* While training, a row takes dim floats rounded up to a block of 8, the
 * rest zero: the step's kernels then run whole blocks, with no masked
 * tail, and (rows 32-byte aligned) no load crosses a cache line. Zeros
 * stay zero (their gradients are products with zeros). The fused steps
 * (negative sampling; paths of up to 8 nodes) give the same bits as with
 * rows of dim floats, since their masked tails also multiply zeros; the
 * row-by-row step of longer Huffman paths sums a dot product in another
 * order when dim is not a multiple of 16. */
static size_t row_stride(size_t dim)
{
    return (dim + 7) & ~(size_t)7;
}

static int setup_model(loom_w2v *w)
{
    size_t n = w->nwords, dim = (size_t)w->o.dim, stride = row_stride(dim);
    uint64_t *counts = loom_malloc(n, sizeof *counts);
    w->stride = stride;
    w->keep = loom_malloc(n, sizeof *w->keep);
    w->syn0 = loom_huge_alloc(n * stride, sizeof(float));
    w->syn1 = loom_huge_alloc(out_rows(w) * stride, sizeof(float));
    if (!counts || !w->keep || !w->syn0 || !w->syn1) {
        free(counts);
        return LOOM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        counts[i] = loom_vocab_count(w->vocab, (int32_t)i);
    loom_subsample_thresholds(w->keep, counts, n, w->train_words, w->o.sample);
    int rc = w->o.loss == LOOM_W2V_HS ? loom_huffman_build(&w->tree, counts, n)
                                      : loom_noise_build(&w->noise, counts, n, 0.75);
    free(counts);
    if (rc < 0)
        return rc;
    /* gensim's start: inputs uniform in [-1, 1) / dim (word2vec.c's range
     * is half that; on the benchmark corpus gensim's scored better),
     * outputs 0 */
    loom_rng rng;
    loom_rng_seed(&rng, w->o.seed, 0);
    memset(w->syn0, 0, n * stride * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < dim; d++)
            w->syn0[i * stride + d] = (2.0f * loom_rng_uniform(&rng) - 1.0f) / (float)dim;
    memset(w->syn1, 0, out_rows(w) * stride * sizeof(float));
    return 0;
}

/* After training: syn0's rows back to dim floats each, in place. */
static void pack_rows(loom_w2v *w)
{
    size_t dim = (size_t)w->o.dim;
    if (w->stride != dim)
        for (size_t i = 1; i < w->nwords; i++)
            memmove(w->syn0 + i * dim, w->syn0 + i * w->stride, dim * sizeof(float));
    w->stride = dim;
}

void loom_w2v_set_subword(loom_w2v *w, const loom_subword *sw)
{
    drop_ids(w);
    w->subword = sw;
}

int loom_w2v_set_vocab(loom_w2v *w, loom_vocab *v)
{
    uint64_t seen = 0, most = 0;
    for (size_t id = 0; id < loom_vocab_size(v); id++) {
        uint64_t c = loom_vocab_count(v, (int32_t)id);
        seen += c;
        if (c > most)
            most = c;
    }
    int rc = loom_vocab_finalize(v, w->o.min_count, w->o.max_vocab);
    if (rc == 0 && seen == 0)
        rc = loom_error(LOOM_EINVAL, "the corpus is empty: no words to train on");
    else if (rc == 0 && loom_vocab_size(v) == 0)
        rc = loom_error(LOOM_EINVAL,
                        "no word occurs --min-count %llu times (the most frequent occurs %llu "
                        "times)",
                        (unsigned long long)w->o.min_count, (unsigned long long)most);
    else if (rc == 0 && loom_vocab_size(v) > INT32_MAX / 2)
        rc = loom_error(LOOM_EINVAL, "vocabulary too large: %zu words", loom_vocab_size(v));
    if (rc < 0) {
        loom_vocab_free(v);
        return rc;
    }
    drop_ids(w);
    loom_vocab_free(w->vocab);
    w->vocab = v;
    w->nwords = loom_vocab_size(v);
    w->train_words = loom_vocab_total(v);
    return 0;
}

/* ---- training ---- */

/* A run of whole sentences of an id stream. */
struct id_block {
    const int32_t *ids;
    size_t n;
};

typedef struct {
    loom_w2v *w;
    int id;
    long long begin, end;
    loom_rng rng;
    int epoch;
    float alpha;
    uint64_t unsynced;   /* words read since the last sync */
    uint64_t kept;       /* words kept by subsampling since the last sync */
    uint64_t epoch_read; /* words read in this epoch, to the last sync */
    double loss;         /* since the last sync */
    uint64_t loss_n;
    double epoch_loss;
    uint64_t epoch_n;
    loom_idstream *record; /* in the first epoch: where the ids read go, or NULL */
    int32_t *sent;         /* the sentence being read, after subsampling */
    uint32_t *negs;        /* its centres' negatives (NS), `negative` each */
    int *reach;            /* its centres' window reach */
    size_t len, read;
    float **in, **out[2]; /* out and label: this centre's and the next */
    float *label[2], *work, *din, *mean;
    int rc;
} worker;

static inline void prefetch_row(const float *row, size_t dim)
{
    for (size_t i = 0; i < dim; i += 16)
        __builtin_prefetch(row + i, 1);
}

/* Under mpirun: one exchange with the other ranks, made by one thread of
 * each rank (holding dist_lock) when its rank has read sync_words more
 * words, or when its rank has finished. The ranks first add up how many
 * words each read since the last exchange and how many are still training
 * (`active`); then, chunk by chunk, they add up their matrices' changes
 * since the last exchange and every rank takes the last exchange's values
 * plus all ranks' changes: as if every rank's updates had been made to one
 * matrix (Hogwild across processes; an average would halve each rank's
 * learning rate). The other threads go on training meanwhile, so an update
 * made while its chunk is on the way can be lost. Every rank makes the same
 * calls in the same order, whichever of its threads makes them. Returns the
 * number of ranks that were still training, or a negative error. */
static int dist_sync(loom_w2v *w, int active)
{
    uint64_t local = atomic_load(&w->words_done);
    uint64_t head[2] = {local - atomic_load(&w->local_base), (uint64_t)active};
    int rc = loom_dist_sum_u64(head, 2);
    if (rc < 0)
        return rc;
    atomic_fetch_add(&w->global_base, head[0]);
    atomic_store(&w->local_base, local);
    atomic_store(&w->next_sync, local + w->o.sync_words);
    w->stats.syncs++;
    if (head[1] == 0)
        return 0;
    size_t chunk = SYNC_CHUNK;
    float *mats[2] = {w->syn0, w->syn1};
    size_t lens[2] = {w->nwords * w->stride, out_rows(w) * w->stride};
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; i < lens[m]; i += chunk) {
            size_t n = lens[m] - i < chunk ? lens[m] - i : chunk;
            float *cur = mats[m] + i, *base = w->base[m] + i;
            for (size_t j = 0; j < n; j++)
                w->sync_buf[j] = cur[j] - base[j];
            if ((rc = loom_dist_sum_f32(w->sync_buf, n)) < 0)
                return rc;
            for (size_t j = 0; j < n; j++)
                cur[j] = base[j] += w->sync_buf[j];
        }
    return (int)head[1];
}

/* Under mpirun: the exchange's buffer and the matrices as they start (the
 * same on every rank: the same seed). */
static int dist_setup(loom_w2v *w)
{
    size_t lens[2] = {w->nwords * w->stride, out_rows(w) * w->stride};
    free(w->sync_buf), free(w->base[0]), free(w->base[1]);
    w->sync_buf = loom_malloc(SYNC_CHUNK, sizeof(float));
    w->base[0] = loom_malloc(lens[0], sizeof(float));
    w->base[1] = loom_malloc(lens[1], sizeof(float));
    if (!w->sync_buf || !w->base[0] || !w->base[1])
        return LOOM_ENOMEM;
    memcpy(w->base[0], w->syn0, lens[0] * sizeof(float));
    memcpy(w->base[1], w->syn1, lens[1] * sizeof(float));
    return 0;
}

/* The words read so far by every rank: exact at each exchange, this rank's
 * own words times the ranks in between. */
static uint64_t global_words(loom_w2v *w, uint64_t local)
{
    if (w->ranks == 1)
        return local;
    uint64_t base = atomic_load(&w->local_base);
    return atomic_load(&w->global_base) + (local > base ? local - base : 0) * (uint64_t)w->ranks;
}

/* The learning rate after `done` words of all threads and ranks (the
 * linear schedule) or this worker's epoch_read words of its epoch (the
 * per-worker one). */
static void refresh_alpha(worker *k, uint64_t done)
{
    const loom_w2v *w = k->w;
    k->alpha = loom_w2v_lr(w->start_alpha, w->o.min_alpha,
                           loom_w2v_lr_progress(w->o.lr_schedule, done, k->epoch_read, k->epoch,
                                                w->o.epochs, w->train_words));
}

/* Words in, learning rate out; reports progress when it is due. */
static void sync_worker(worker *k)
{
    loom_w2v *w = k->w;
    uint64_t local = atomic_fetch_add(&w->words_done, k->unsynced) + k->unsynced;
    if (w->ranks > 1 && local >= atomic_load(&w->next_sync) &&
        pthread_mutex_trylock(&w->dist_lock) == 0) {
        if (local >= atomic_load(&w->next_sync) && k->rc == 0)
            k->rc = dist_sync(w, 1) < 0 ? LOOM_EIO : 0;
        pthread_mutex_unlock(&w->dist_lock);
    }
    uint64_t done = global_words(w, local);
    k->epoch_read += k->unsynced;
    refresh_alpha(k, done);
    pthread_mutex_lock(&w->lock);
    w->interval_loss += k->loss;
    w->interval_n += k->loss_n;
    w->stats.trained += k->kept;
    if (loom_progress_due(w->progress)) {
        double secs = loom_now() - w->start_time;
        char detail[160];
        snprintf(detail, sizeof detail, "epoch %d/%d  loss %.4f  lr %.5f  %.0fk words/s/thread",
                 k->epoch + 1, w->o.epochs,
                 w->interval_n ? w->interval_loss / (double)w->interval_n : 0.0, k->alpha,
                 secs > 0 ? (double)done / secs / w->o.threads / w->ranks / 1e3 : 0.0);
        loom_progress_update(w->progress, (double)done, detail);
        w->interval_loss = 0;
        w->interval_n = 0;
    }
    pthread_mutex_unlock(&w->lock);
    k->epoch_loss += k->loss;
    k->epoch_n += k->loss_n;
    k->unsynced = k->kept = 0;
    k->loss = 0;
    k->loss_n = 0;
}

/* The sentence's random choices, drawn before it is trained, in the order
 * the training loop used to draw them (centre i+1's negatives, then centre
 * i's reach): the alias-table reads of a whole sentence overlap instead of
 * each waiting behind a step. Negatives (NS) are drawn raw; outputs()
 * drops those equal to the target. */
static void draw_sentence(worker *k)
{
    loom_w2v *w = k->w;
    const size_t len = k->len, neg = w->o.loss == LOOM_W2V_HS ? 0 : (size_t)w->o.negative;
    for (size_t j = 0; j < neg; j++)
        k->negs[j] = loom_noise_draw(&w->noise, &k->rng);
    for (size_t i = 0; i < len; i++) {
        if (i + 1 < len)
            for (size_t j = 0; j < neg; j++)
                k->negs[(i + 1) * neg + j] = loom_noise_draw(&w->noise, &k->rng);
        k->reach[i] = w->o.window - (int)loom_rng_below(&k->rng, (uint32_t)w->o.window);
    }
}

/* The output rows and labels for predicting centre i of the sentence into
 * set `b` of the two: its word and its negatives (NS), or the inner nodes
 * on its path (HS). Returns the count. The rows are prefetched: the set is
 * built one centre word ahead, so they arrive while the current one is
 * trained. */
static size_t outputs(worker *k, size_t i, int b)
{
    loom_w2v *w = k->w;
    size_t dim = w->stride, n = 0;
    int32_t target = k->sent[i];
    float **out = k->out[b], *label = k->label[b];
    if (w->o.loss == LOOM_W2V_HS) {
        for (uint32_t j = w->tree.offset[target]; j < w->tree.offset[target + 1]; j++, n++) {
            out[n] = w->syn1 + (size_t)w->tree.points[j] * dim;
            label[n] = 1.0f - (float)w->tree.codes[j];
        }
    } else {
        out[n] = w->syn1 + (size_t)target * dim;
        label[n++] = 1.0f;
        const uint32_t *negs = k->negs + i * (size_t)w->o.negative;
        for (int j = 0; j < w->o.negative; j++) {
            if (negs[j] == (uint32_t)target)
                continue;
            out[n] = w->syn1 + (size_t)negs[j] * dim;
            label[n++] = 0.0f;
        }
    }
    for (size_t j = 0; j < n; j++)
        prefetch_row(out[j], dim);
    return n;
}

static void add_to(float *restrict row, const float *restrict d, size_t dim)
{
    size_t i = 0;
    for (; i + 8 <= dim; i += 8)
        for (int j = 0; j < 8; j++)
            row[i + j] += d[i + j];
    for (; i < dim; i++)
        row[i] += d[i];
}

/* One pass of skip-gram or CBOW over the sentence k->sent. Each centre
 * word takes a window of 1..window words each side (word2vec's dynamic
 * window); negatives are drawn once per centre and shared by its window. */
static void train_sentence(worker *k)
{
    loom_w2v *w = k->w;
    const size_t dim = w->stride, len = k->len; /* the pads are trained as zeros */
    const int cbow = w->o.model == LOOM_W2V_CBOW;
    draw_sentence(k);
    size_t n_next = outputs(k, 0, 0);
    for (size_t i = 0; i < len; i++) {
        int b = (int)(i & 1);
        size_t n = n_next;
        if (i + 1 < len) {
            n_next = outputs(k, i + 1, b ^ 1);
            if (i + 1 + (size_t)w->o.window < len)
                prefetch_row(w->syn0 + (size_t)k->sent[i + 1 + w->o.window] * dim, dim);
        }
        size_t reach = (size_t)k->reach[i];
        size_t lo = i > reach ? i - reach : 0, hi = i + reach < len ? i + reach : len - 1;
        size_t m = 0;
        for (size_t j = lo; j <= hi; j++)
            if (j != i)
                k->in[m++] = w->syn0 + (size_t)k->sent[j] * dim;
        if (m == 0 || n == 0)
            continue;
        if (!cbow) {
            k->loss += loom_hogbatch_step_apply(k->in, m, k->out[b], k->label[b], n, dim, k->alpha,
                                                &w->sigmoid, k->work, k->din);
            k->loss_n += m;
        } else {
            /* the mean of the context rows predicts the centre; each
             * context row then gets the whole input gradient */
            memcpy(k->mean, k->in[0], dim * sizeof(float));
            for (size_t a = 1; a < m; a++)
                add_to(k->mean, k->in[a], dim);
            float inv = 1.0f / (float)m;
            for (size_t d = 0; d < dim; d++)
                k->mean[d] *= inv;
            k->loss += loom_hogbatch_step(&k->mean, 1, k->out[b], k->label[b], n, dim, k->alpha,
                                          &w->sigmoid, k->work, k->din);
            k->loss_n++;
            for (size_t a = 0; a < m; a++)
                add_to(k->in[a], k->din, dim);
        }
    }
}

static int end_sentence(void *ctx)
{
    worker *k = ctx;
    if (k->unsynced >= SYNC_WORDS)
        sync_worker(k);
    if (k->len > 1)
        train_sentence(k);
    k->len = k->read = 0;
    return k->rc;
}

/* A word of the vocabulary read. */
static void take_word(worker *k, int32_t id)
{
    k->unsynced++;
    k->read++;
    if (loom_subsample_keep(k->w->keep, (uint32_t)id, &k->rng)) {
        k->sent[k->len++] = id;
        k->kept++;
    }
    if (k->read == MAX_SENTENCE)
        end_sentence(k);
}

static int on_word(void *ctx, const char *tok, size_t len)
{
    worker *k = ctx;
    int32_t id = loom_vocab_find(k->w->vocab, tok, len);
    if (id < 0)
        return 0;
    if (k->record)
        loom_idstream_push(k->record, id);
    take_word(k, id);
    return 0;
}

static int on_eol(void *ctx)
{
    worker *k = ctx;
    if (k->record)
        loom_idstream_push(k->record, LOOM_IDS_EOL);
    return end_sentence(k);
}

/* Ids recorded: the same words and ends of sentence, in the same order,
 * as reading the text again gives. */
static int replay(worker *k, const int32_t *ids, size_t n)
{
    uint64_t words = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int32_t id = ids[i];
        if (id != LOOM_IDS_EOL) {
            take_word(k, id);
            words++;
        } else {
            rc = end_sentence(k);
        }
    }
    pthread_mutex_lock(&k->w->lock);
    k->w->stats.replayed += words;
    pthread_mutex_unlock(&k->w->lock);
    return rc;
}

static int worker_alloc(worker *k)
{
    loom_w2v *w = k->w;
    size_t dim = w->stride, win = 2 * (size_t)w->o.window;
    size_t outs = w->o.loss == LOOM_W2V_HS ? w->tree.max_len + 1 : (size_t)w->o.negative + 1;
    k->sent = loom_malloc(MAX_SENTENCE, sizeof *k->sent);
    k->negs = loom_malloc(w->o.loss == LOOM_W2V_HS ? 1 : MAX_SENTENCE * (size_t)w->o.negative,
                          sizeof *k->negs);
    k->reach = loom_malloc(MAX_SENTENCE, sizeof *k->reach);
    k->in = loom_malloc(win, sizeof *k->in);
    for (int b = 0; b < 2; b++) {
        k->out[b] = loom_malloc(outs, sizeof *k->out[b]);
        k->label[b] = loom_malloc(outs, sizeof *k->label[b]);
        if (!k->out[b] || !k->label[b])
            return LOOM_ENOMEM;
    }
    k->work = loom_malloc(win * outs + win, sizeof *k->work);
    k->din = loom_aligned_alloc(win * dim, sizeof *k->din);
    k->mean = loom_aligned_alloc(dim, sizeof *k->mean);
    if (!k->sent || !k->negs || !k->reach || !k->in || !k->work || !k->din || !k->mean)
        return LOOM_ENOMEM;
    return 0;
}

static void worker_release(worker *k)
{
    free(k->sent), free(k->negs), free(k->reach), free(k->in), free(k->work), free(k->din);
    for (int b = 0; b < 2; b++)
        free(k->out[b]), free(k->label[b]);
    free(k->mean);
}

/* At the end of an epoch: the last thread to finish it writes the note. */
static void end_epoch(worker *k)
{
    loom_w2v *w = k->w;
    sync_worker(k);
    pthread_mutex_lock(&w->lock);
    int e = k->epoch;
    w->epoch_loss[e] += k->epoch_loss;
    w->epoch_n[e] += k->epoch_n;
    if (++w->epoch_threads[e] == w->o.threads) {
        double loss = w->epoch_n[e] ? w->epoch_loss[e] / (double)w->epoch_n[e] : 0;
        w->stats.loss = loss;
        loom_progress_note(w->progress, "epoch %d/%d: loss %.4f, %.1f s", e + 1, w->o.epochs, loss,
                           loom_now() - w->start_time);
    }
    pthread_mutex_unlock(&w->lock);
    k->epoch_loss = 0;
    k->epoch_n = 0;
    k->epoch_read = 0;
}

/* Under mpirun, the last of a rank's threads to finish hands its rank's
 * last words to the others, then keeps answering their exchanges, as an
 * idle rank, until every rank has finished: all end with the same average. */
static int drain(loom_w2v *w)
{
    if (w->ranks == 1 || atomic_fetch_add(&w->threads_done, 1) + 1 < w->o.threads)
        return 0;
    pthread_mutex_lock(&w->dist_lock);
    int rc = dist_sync(w, 1);
    while (rc > 0)
        rc = dist_sync(w, 0);
    pthread_mutex_unlock(&w->dist_lock);
    return rc < 0 ? rc : 0;
}

/* Every epoch from the id streams, in blocks taken in turn by whichever
 * thread is free: the threads end together although their shares'
 * sentences differ (on the benchmark corpus, the first half's sentences
 * are longer, so each of its words has more context: its thread took 10%
 * longer than the other's). A thread ends its epoch when the blocks it
 * takes are the next epoch's. */
static void replay_blocks(worker *k)
{
    loom_w2v *w = k->w;
    const uint64_t nb = w->nblocks, epochs = (uint64_t)w->o.epochs;
    for (;;) {
        uint64_t g = atomic_fetch_add(&w->next_block, 1);
        uint64_t e = g / nb < epochs ? g / nb : epochs;
        for (; (uint64_t)k->epoch < e && k->rc == 0; k->epoch++) {
            end_epoch(k);
            if (w->o.lr_schedule == LOOM_W2V_LR_PER_WORKER)
                refresh_alpha(k, 0);
        }
        if (e == epochs || k->rc)
            return;
        const struct id_block *b = &w->blocks[g % nb];
        k->rc = replay(k, b->ids, b->n);
        if (k->rc == 0 && k->read)
            k->rc = end_sentence(k); /* a stream's last block may not end one */
    }
}

/* Cuts the threads' id streams into blocks at ends of sentence, when every
 * stream is held and there are threads to balance; else leaves none. */
static int cut_blocks(loom_w2v *w)
{
    int n = w->o.threads;
    size_t total = 0;
    free(w->blocks);
    w->blocks = NULL;
    w->nblocks = 0;
    for (int i = 0; i < n; i++) {
        if (w->ids[i].state != LOOM_IDS_READY)
            return 0;
        total += w->ids[i].n;
    }
    if (n == 1 || total == 0)
        return 0;
    size_t size = total / ((size_t)n * BLOCKS_PER_THREAD) + 1;
    struct id_block *rest = loom_malloc((size_t)n, sizeof *rest); /* each stream's */
    w->blocks = loom_malloc(total / size + (size_t)n + 1, sizeof *w->blocks);
    if (!rest || !w->blocks) {
        free(rest), free(w->blocks);
        w->blocks = NULL;
        return LOOM_ENOMEM;
    }
    /* Dealt round the streams: a block of the first, then of the second...
     * so that, as before, the threads train different parts of the corpus
     * at once and every part at each learning rate (taken in the streams'
     * order instead, the threads would sweep the corpus front to back
     * together and the lowest rates would fall on its end alone: analogy
     * 18.2-19.1% against 19.6-21.7%, 3 seeds). */
    for (int i = 0; i < n; i++)
        rest[i] = (struct id_block){w->ids[i].ids, w->ids[i].n};
    for (size_t done = 0; done < total;)
        for (int i = 0; i < n; i++) {
            struct id_block *r = &rest[i];
            if (r->n == 0)
                continue;
            size_t m = r->n < size ? r->n : size;
            while (m < r->n && r->ids[m - 1] != LOOM_IDS_EOL)
                m++;
            w->blocks[w->nblocks++] = (struct id_block){r->ids, m};
            r->ids += m;
            r->n -= m;
            done += m;
        }
    free(rest);
    atomic_store(&w->next_block, 0);
    return 0;
}

/* One thread's share of training: ctx is the array of workers. */
static int train_share(void *ctx, int thread, int nthreads)
{
    (void)nthreads;
    worker *k = (worker *)ctx + thread;
    loom_tokenizer *t = NULL;
    k->rc = worker_alloc(k);
    if (k->rc == 0 && k->w->blocks) {
        replay_blocks(k);
        worker_release(k);
        if (k->rc == 0)
            k->rc = drain(k->w);
        return k->rc;
    }
    if (k->rc == 0)
        k->rc = loom_tokenizer_new(&t, &k->w->o.tok);
    loom_scan_fns fns = {on_word, on_eol, NULL, k, k->w->subword};
    loom_idstream *ids = &k->w->ids[thread];
    for (k->epoch = 0; k->rc == 0 && k->epoch < k->w->o.epochs; k->epoch++) {
        /* Per worker, each epoch starts on its step (epoch_read is 0 here). */
        if (k->w->o.lr_schedule == LOOM_W2V_LR_PER_WORKER)
            refresh_alpha(k, 0);
        if (ids->state == LOOM_IDS_READY) {
            k->rc = replay(k, ids->ids, ids->n);
        } else {
            if (k->epoch == 0 && k->w->o.epochs > 1) {
                loom_idstream_start(ids, ids_limit(k->w));
                k->record = ids;
            }
            k->rc = loom_shards_scan(k->w->corpus, k->begin, k->end, t, &fns);
            if (k->record && k->rc == 0)
                loom_idstream_finish(ids, NULL, 0);
            else if (k->record)
                loom_idstream_drop(ids);
            k->record = NULL;
        }
        if (k->rc == 0)
            end_epoch(k);
    }
    loom_tokenizer_free(t);
    worker_release(k);
    if (k->rc == 0)
        k->rc = drain(k->w);
    return k->rc;
}

/* The training proper, on the model set up and the n workers zeroed. */
static int run_workers(loom_w2v *w, worker *jobs, loom_progress *p)
{
    int rc, n = w->o.threads;
    long long size = loom_shards_size(w->corpus);
    for (int i = 0; i < n; i++) {
        jobs[i].w = w;
        jobs[i].id = i;
        thread_range(w, size, i, &jobs[i].begin, &jobs[i].end);
        jobs[i].alpha = w->start_alpha;
        loom_rng_seed(&jobs[i].rng, w->o.seed, (uint64_t)(w->rank * n + i) + 1);
    }
    if (w->ranks > 1 && (rc = dist_setup(w)) < 0)
        return rc;
    if ((rc = cut_blocks(w)) < 0)
        return rc;
    atomic_store(&w->words_done, 0);
    atomic_store(&w->global_base, 0);
    atomic_store(&w->local_base, 0);
    atomic_store(&w->next_sync, w->o.sync_words);
    atomic_store(&w->threads_done, 0);
    memset(&w->stats, 0, sizeof w->stats);
    w->stats.ranks = w->ranks;
    double comm0 = loom_dist_seconds();
    w->interval_loss = 0;
    w->interval_n = 0;
    w->progress = p;
    loom_progress_set_total(p, (double)w->train_words * w->o.epochs);
    w->start_time = loom_now();
    rc = loom_parallel_run(n, train_share, jobs);
    w->stats.seconds = loom_now() - w->start_time;
    w->stats.words = w->ranks > 1 ? atomic_load(&w->global_base) : atomic_load(&w->words_done);
    w->stats.sync_seconds = loom_dist_seconds() - comm0;
    w->progress = NULL;
    if (rc == 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "loss %.4f  %.0fk words/s/thread", w->stats.loss,
                 w->stats.seconds > 0
                     ? (double)w->stats.words / w->stats.seconds / n / w->ranks / 1e3
                     : 0);
        loom_progress_finish(p, detail);
    }
    return rc;
}

int loom_w2v_train(loom_w2v *w, loom_progress *p)
{
    if (!w->vocab)
        return loom_error(LOOM_EINVAL, "no vocabulary: count the corpus or set one first");
    free(w->syn0), free(w->syn1), free(w->keep);
    w->syn0 = w->syn1 = NULL;
    w->keep = NULL;
    loom_noise_free(&w->noise);
    loom_huffman_free(&w->tree);
    int rc = setup_model(w);
    if (rc < 0)
        return rc;
    int n = w->o.threads, epochs = w->o.epochs;
    free(w->epoch_loss), free(w->epoch_n), free(w->epoch_threads);
    w->epoch_loss = loom_calloc((size_t)epochs, sizeof *w->epoch_loss);
    w->epoch_n = loom_calloc((size_t)epochs, sizeof *w->epoch_n);
    w->epoch_threads = loom_calloc((size_t)epochs, sizeof *w->epoch_threads);
    worker *jobs = loom_calloc((size_t)n, sizeof *jobs);
    if (!w->epoch_loss || !w->epoch_n || !w->epoch_threads || !jobs)
        rc = LOOM_ENOMEM;
    else
        rc = run_workers(w, jobs, p);
    free(jobs);
    free(w->blocks); /* they point into the id streams */
    w->blocks = NULL;
    pack_rows(w); /* whatever happened: loom_w2v_vectors hands out rows of dim floats */
    return rc;
}

int loom_w2v_save(const loom_w2v *w, const char *path, int format)
{
    if (!w->syn0)
        return loom_error(LOOM_EINVAL, "no vectors: train first");
    const char **words = loom_malloc(w->nwords, sizeof *words);
    if (!words)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < w->nwords; i++)
        words[i] = loom_vocab_word(w->vocab, (int32_t)i);
    int rc = loom_vectors_save_rows(path, format, w->nwords, (size_t)w->o.dim, words, w->syn0);
    free(words);
    return rc;
}

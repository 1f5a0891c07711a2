/* loom: the sequence model's training loop. Adam and clipping come from
 * the core (core/optim.h, core/param.h); the passes from model.c; the
 * batches from data.c. A checkpoint is the model file plus the optimizer's
 * state and the loop's position (epoch, batch, step, dropout stream), all
 * at a batch boundary, so a resumed run repeats the uninterrupted one. */
#include "config.h"
#include "seq/train.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dist.h"
#include "base/error.h"
#include "base/parallel.h"
#include "core/blas.h"
#include "core/optim.h"
#include "seq/bleu.h"
#include "seq/decode.h"

/* ---- evaluation ---- */

/* Appends the words of ids to *s, space-separated. `unk` spells <unk>:
 * references pass a spelling no hypothesis can produce, because a word
 * the vocabulary lacks is never a correct answer, even when the model
 * also says <unk>. */
static int append_words(char **s, size_t *len, size_t *cap, const loom_vocab *v, const int *ids,
                        int n, const char *unk)
{
    for (int k = 0; k < n; k++) {
        const char *word = ids[k] == LOOM_UNK ? unk : loom_vocab_word(v, ids[k]);
        size_t wl = strlen(word);
        if (*len + wl + 2 > *cap) {
            size_t c = (*len + wl + 2) * 2;
            char *p = loom_realloc(*s, c, 1);
            if (!p)
                return LOOM_ENOMEM;
            *s = p, *cap = c;
        }
        if (k)
            (*s)[(*len)++] = ' ';
        memcpy(*s + *len, word, wl);
        *len += wl;
    }
    return 0;
}

/* The text of a hypothesis of a subword target: its pieces decoded, as
 * loom translate prints it, into *s (grown as needed). */
static int piece_text(const loom_seq_bundle *b, const int *ids, int n, char **s, size_t *len,
                      size_t *cap)
{
    const char **pieces = loom_malloc((size_t)n + 1, sizeof *pieces);
    char *text = NULL;
    if (!pieces)
        return LOOM_ENOMEM;
    for (int k = 0; k < n; k++)
        pieces[k] = loom_vocab_word(b->vocab[1], ids[k]);
    int rc = loom_subword_pieces_text(b->subword[1], pieces, n, &text);
    free(pieces);
    if (rc)
        return rc;
    *len = strlen(text);
    if (*len + 1 > *cap) {
        char *p = loom_realloc(*s, *len + 1, 1);
        if (!p) {
            free(text);
            return LOOM_ENOMEM;
        }
        *s = p, *cap = *len + 1;
    }
    memcpy(*s, text, *len + 1);
    free(text);
    return 0;
}

int loom_seq_evaluate(loom_seq_bundle *b, loom_seq_work *w, const loom_seq_corpus *c, int batch,
                      double *loss, double *bleu, double *exact)
{
    loom_bleu *bl = NULL;
    loom_seq_batch bt = {0};
    size_t *idx = loom_malloc((size_t)batch, sizeof(size_t));
    loom_seq_hyp *hyps = loom_calloc((size_t)batch, sizeof *hyps);
    int *counts = loom_calloc((size_t)batch, sizeof(int));
    char *hs = NULL, *rs = NULL;
    size_t hcap = 0, rcap = 0;
    double total = 0;
    long tokens = 0, matches = 0;
    int rc = loom_bleu_new(&bl, NULL);
    if (!idx || !hyps || !counts)
        rc = LOOM_ENOMEM;
    loom_seq_decode_opts o;
    loom_seq_decode_defaults(&o);
    for (size_t s = 0; s < c->n && !rc; s += batch) {
        int n = (int)(c->n - s < (size_t)batch ? c->n - s : (size_t)batch);
        for (int k = 0; k < n; k++)
            idx[k] = s + k;
        if ((rc = loom_seq_batch_make(&bt, c, idx, n)))
            break;
        double l;
        long t;
        rc = loom_seq_forward(b->model, w, &bt, 0, 0, NULL, &l, &t, NULL);
        total += l, tokens += t;
        if (!rc)
            rc = loom_seq_decode(b->model, w, bt.src, bt.src_lens, n, bt.src_len, &o, hyps, counts);
        for (int k = 0; k < n && !rc; k++) {
            const int32_t *ref = c->ids[1] + c->off[1][idx[k]];
            int rl = (int)(c->off[1][idx[k] + 1] - c->off[1][idx[k]]);
            loom_seq_hyp *h = &hyps[k];
            size_t hl = 0, rlen = 0;
            int same = counts[k] && h->finished && h->len == rl;
            for (int j = 0; same && j < rl; j++)
                same = h->ids[j] == ref[j] && ref[j] != LOOM_UNK;
            matches += same;
            if (c->tgt_text && b->subword[1]) { /* detokenised text against the raw reference */
                rc = piece_text(b, h->ids, counts[k] ? h->len : 0, &hs, &hl, &hcap);
                if (!rc)
                    rc =
                        loom_bleu_add(bl, hs, hl, c->tgt_text[idx[k]], strlen(c->tgt_text[idx[k]]));
                continue;
            }
            rc =
                append_words(&hs, &hl, &hcap, b->vocab[1], h->ids, counts[k] ? h->len : 0, "<unk>");
            int *refi = loom_malloc((size_t)rl + 1, sizeof(int));
            if (!refi)
                rc = LOOM_ENOMEM;
            for (int j = 0; !rc && j < rl; j++)
                refi[j] = ref[j];
            if (!rc)
                rc = append_words(&rs, &rlen, &rcap, b->vocab[1], refi, rl, "<unk:reference>");
            free(refi);
            if (!rc)
                rc = loom_bleu_add(bl, hs ? hs : "", hl, rs ? rs : "", rlen);
        }
        loom_seq_hyps_free(hyps, n);
        loom_seq_batch_release(&bt);
    }
    if (!rc) {
        loom_bleu_score sc;
        loom_bleu_get(bl, &sc);
        *loss = tokens ? total / tokens : 0;
        *bleu = sc.bleu;
        *exact = c->n ? (double)matches / c->n : 0;
    }
    loom_bleu_free(bl);
    free(idx);
    free(hyps);
    free(counts);
    free(hs);
    free(rs);
    return rc;
}

/* ---- checkpoints ---- */

typedef loom_seq_position position;

/* The model file, or with the optimizer a checkpoint: the model's rows
 * (model_file.c), then the run's options and position, as options.c's
 * table writes them. */
static int save_model(loom_seq_bundle *b, const loom_seq_train_opts *o, const char *path,
                      const position *p, const loom_optim *opt)
{
    if (loom_dist_rank() != 0) /* under mpirun every rank holds the same model: one writes */
        return 0;
    position at = *p;
    at.best_loss = at.best_bleu = NAN;
    if (isfinite(p->best) && o->best_by == LOOM_SEQ_BEST_BLEU)
        at.best_bleu = -p->best;
    else if (isfinite(p->best))
        at.best_loss = p->best;
    loom_st_writer *w;
    int rc = loom_seq_file_writer(&w, b);
    if (rc)
        return rc;
    unsigned sections = LOOM_SEQ_META_TRAIN | LOOM_SEQ_META_RESULT;
    rc = loom_seq_meta_write(w, sections | (opt ? LOOM_SEQ_META_CKPT : 0), o, &at);
    if (!rc && opt)
        rc = loom_optim_save_state(opt, w);
    if (!rc)
        rc = loom_st_writer_save(w, path);
    loom_st_writer_free(w);
    return rc < 0 ? rc : rc ? LOOM_EINVAL : 0;
}

/* The loop's position and the optimizer's state from a checkpoint, checked
 * against the data it resumes on. */
static int restore(position *p, loom_optim *opt, const loom_st_file *f, const loom_seq_batcher *bt,
                   int batch)
{
    const char *path = loom_st_path(f);
    if (!loom_st_meta(f, "train_epoch"))
        return loom_error(LOOM_EFORMAT,
                          "%s: not a training checkpoint (no optimizer state: "
                          "resume from the .ckpt file)",
                          path);
    loom_seq_train_opts unused;
    int rc = loom_seq_meta_read(f, LOOM_SEQ_META_CKPT, LOOM_SEQ_META_CKPT, &unused, p);
    if (rc)
        return rc;
    size_t nb = loom_seq_batcher_count(bt);
    if ((size_t)p->batch > nb)
        return loom_error(LOOM_EFORMAT,
                          "%s: metadata 'train_batch' is %ld, but the data make %zu batches of "
                          "%d (resume on the run's data)",
                          path, p->batch, nb, batch);
    return loom_optim_load_state(opt, f);
}

/* ---- one step, data-parallel ---- */

/* Each worker takes a contiguous share of the batch's rows through the
 * forward and backward passes into its own gradients (worker 0: the
 * model's; the others: replicas'), with dropout drawn from a stream fixed
 * by (seed, step, worker): a run is repeatable for a given thread count,
 * and a resumed run needs no random state from the checkpoint. */
typedef struct {
    loom_seq_model *m;
    loom_seq_work *w;
    loom_seq_batch sub;
    float smoothing, scale;
    uint64_t seed;
    long step;
    int idx, rc;
    int precision; /* LOOM_PRECISION_* of the thread's products */
    double loss;
    long tokens;
    float *zero; /* the gradients this thread clears first (NULL: none) */
    size_t nzero;
} worker;

static void work_share(worker *k)
{
    if (k->zero)
        memset(k->zero, 0, k->nzero * sizeof(float));
    loom_rng rng;
    loom_rng_seed(&rng, k->seed * 0x9E3779B97F4A7C15ull + (uint64_t)k->step, 100 + k->idx);
    k->loss = 0, k->tokens = 0;
    if (k->sub.n == 0)
        return;
    int was = loom_gemm_set_precision(k->precision);
    k->rc =
        loom_seq_forward(k->m, k->w, &k->sub, 1, k->smoothing, &rng, &k->loss, &k->tokens, NULL);
    if (!k->rc)
        k->rc = loom_seq_backward(k->m, k->w, &k->sub, k->scale);
    loom_gemm_set_precision(was);
}

static loom_seq_batch rows_of(const loom_seq_batch *b, int a, int e)
{
    loom_seq_batch s = *b;
    s.n = e - a;
    s.src = b->src + (size_t)a * b->src_len;
    s.src_lens = b->src_lens + a;
    s.tgt_in = b->tgt_in + (size_t)a * b->tgt_len;
    s.tgt_out = b->tgt_out + (size_t)a * b->tgt_len;
    s.tgt_lens = b->tgt_lens + a;
    return s;
}

/* ---- a step's phases on the run's team of threads ----
 * A step is five fan-outs on the same threads (base/parallel.h's team,
 * started once for the whole run): the recurrent weights packed once for
 * all workers (PHASE_PACK, each thread packing its share of the
 * matrices); the workers' forward and backward passes (PHASE_GRAD); then
 * memory-bound passes over every parameter, each thread taking its part:
 * the replicas' gradients summed (PHASE_SUM), the clipping norm
 * (PHASE_SUMSQ) and the optimizer's update (PHASE_UPDATE). Every element's
 * arithmetic is as on one thread (sums in worker order, sums of squares
 * per parameter added in parameter order, core/optim.h's parts), so the
 * bits do not depend on the split. */
enum { PHASE_PACK, PHASE_GRAD, PHASE_SUM, PHASE_SUMSQ, PHASE_UPDATE };
typedef struct {
    int phase;
    worker *wk; /* PHASE_GRAD: workers 0..used-1; PHASE_SUM: their replicas 1..used-1 */
    int used;
    float *g; /* PHASE_SUM: the summed gradients, nf floats */
    size_t nf;
    loom_params *ps; /* PHASE_SUMSQ */
    double *sumsq;   /* per parameter */
    loom_optim *opt; /* PHASE_UPDATE */
    float lr, scale;
    loom_seq_packs *packs; /* PHASE_PACK, from model's weights */
    const loom_seq_model *model;
} shared;

/* part k of n of sh's phase (a loom_share_fn) */
static int shared_part(void *ctx, int k, int n)
{
    const shared *sh = ctx;
    if (sh->phase == PHASE_GRAD) {
        if (k == 0 || k < sh->used) /* worker 0 also clears the model's gradients */
            work_share(&sh->wk[k]);
    } else if (sh->phase == PHASE_SUM) {
        if (k >= sh->used)
            return 0;
        n = sh->used;
        size_t lo = sh->nf / 16 * (size_t)k / (size_t)n * 16;
        size_t hi = k + 1 == n ? sh->nf : sh->nf / 16 * (size_t)(k + 1) / (size_t)n * 16;
        for (int t = 1; t < sh->used; t++) {
            size_t n2;
            const float *g2 = loom_seq_replica_grads(sh->wk[t].m, &n2);
            size_t e = hi < n2 ? hi : n2;
            if (e > lo) /* each sum rounded once: the same bits on any split */
                loom_axpy(e - lo, 1.0f, g2 + lo, sh->g + lo);
        }
    } else if (sh->phase == PHASE_SUMSQ) {
        /* parameters dealt in order to the least loaded part: every part
         * makes the same deal and takes its own */
        size_t load[LOOM_SEQ_MAX_THREADS] = {0};
        for (size_t i = 0; i < loom_params_len(sh->ps); i++) {
            const loom_param *p = loom_params_at(sh->ps, i);
            if (p->frozen)
                continue;
            int best = 0;
            for (int t = 1; t < n; t++)
                best = load[t] < load[best] ? t : best;
            load[best] += p->size;
            if (best == k)
                sh->sumsq[i] = loom_param_grad_sumsq(p);
        }
    } else if (sh->phase == PHASE_UPDATE) {
        loom_optim_update_part(sh->opt, sh->lr, sh->scale, k, n);
    } else {
        loom_seq_packs_refill(sh->packs, sh->model, k, n);
    }
    return 0;
}

/* runs sh's phase on the team's threads, part 0 on this one */
static void run_shared(loom_team *team, shared *sh)
{
    loom_team_run(team, shared_part, sh); /* never fails: a worker's error is in its rc */
}

/* clipping (o->clip > 0) and the optimizer's step, on the team's threads:
 * the same bits as loom_params_clip_grad_norm + loom_optim_step */
static int update_shared(loom_team *team, loom_params *ps, loom_optim *opt, double clip, float lr)
{
    float scale = 1.0f;
    if (clip > 0) {
        size_t np = loom_params_len(ps);
        double *sumsq = loom_calloc(np ? np : 1, sizeof *sumsq);
        if (!sumsq)
            return LOOM_ENOMEM;
        shared sh = {.phase = PHASE_SUMSQ, .ps = ps, .sumsq = sumsq};
        run_shared(team, &sh);
        double sum = 0;
        for (size_t i = 0; i < np; i++)
            if (!loom_params_at(ps, i)->frozen)
                sum += sumsq[i];
        free(sumsq);
        scale = loom_clip_coef(sqrt(sum), clip);
    }
    int rc = loom_optim_begin_step(opt);
    if (rc)
        return rc;
    shared sh = {.phase = PHASE_UPDATE, .opt = opt, .lr = lr, .scale = scale};
    run_shared(team, &sh);
    return 0;
}

/* Gradients of the mean loss over the batch's target tokens, summed into
 * the model's gradient block. Under mpirun (base/dist.h) every rank holds
 * the whole batch (they all read the same data in the same order) and the
 * ranks' threads are the workers of one run: thread t of rank r is worker
 * r * nthreads + t, with that worker's rows and dropout stream, so that N
 * ranks of T threads compute what one process of N x T threads does; the
 * gradients, loss and token counts are then summed over the ranks, and
 * every rank takes the same optimizer step. */
static int batch_gradients(loom_team *team, worker *wk, int nthreads, loom_params *ps,
                           const loom_seq_batch *b, double *loss, long *tokens)
{
    long total = 0;
    for (int i = 0; i < b->n; i++)
        total += b->tgt_lens[i];
    int all = nthreads * loom_dist_size(), first = nthreads * loom_dist_rank();
    int used = all < b->n ? all : b->n;
    used = used - first < 0 ? 0 : used - first < nthreads ? used - first : nthreads;
    size_t nf;
    float *g = loom_params_grads(ps, &nf);
    /* each worker clears its own gradients, on its own thread */
    wk[0].zero = g, wk[0].nzero = nf;
    if (used < 1)
        loom_params_zero_grad(ps);
    all = all < b->n ? all : b->n;
    wk[0].sub = rows_of(b, 0, 0);
    for (int t = 0; t < used; t++) {
        long gi = first + t;
        wk[t].sub = rows_of(b, (int)((long)b->n * gi / all), (int)((long)b->n * (gi + 1) / all));
        wk[t].scale = 1.0f / (float)(total ? total : 1);
        wk[t].rc = 0;
        if (t > 0)
            wk[t].zero = loom_seq_replica_grads(wk[t].m, &wk[t].nzero);
    }
    wk[0].rc = 0;
    shared sh = {.phase = PHASE_GRAD, .wk = wk, .used = used};
    run_shared(team, &sh);
    int rc = wk[0].rc;
    *loss = wk[0].loss, *tokens = wk[0].tokens;
    for (int t = 1; t < used; t++) {
        rc = rc ? rc : wk[t].rc;
        *loss += wk[t].loss, *tokens += wk[t].tokens;
    }
    if (!rc && used > 1) { /* the replicas' gradients summed into g, by ranges on `used` threads */
        shared sum = {.phase = PHASE_SUM, .wk = wk, .used = used, .g = g, .nf = nf};
        run_shared(team, &sum);
    }
    if (rc || loom_dist_size() == 1)
        return rc;
    double sums[2] = {*loss, (double)*tokens};
    if ((rc = loom_dist_sum_f32(g, nf)) || (rc = loom_dist_sum_f64(sums, 2)))
        return rc;
    *loss = sums[0], *tokens = (long)sums[1];
    return 0;
}

/* ---- the loop ---- */

typedef struct {
    loom_seq_bundle *b;
    const loom_seq_corpus *valid;
    const loom_seq_train_opts *o;
    const char *path;
    loom_seq_work *w;
    loom_seq_report_fn report;
    void *ctx;
    loom_seq_train_result *res;
    int saved;
    double train_time; /* seconds in training steps (validation and saving excluded) */
    int threads;
    long tokens; /* target tokens trained on in this run (a resumed run's earlier ones excluded) */
    double t0;   /* when this run's loop began */
} loop;

static void say(const loop *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const loop *l, const char *fmt, ...)
{
    if (!l->report)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    l->report(l->ctx, buf);
}

/* The learning rate of step p->step: warm-up, then decay (options.h). */
static float lr_at(const loom_seq_train_opts *o, const position *p)
{
    double f = p->lr_scale, step = (double)p->step + 1, warm = o->lr_warmup;
    if (warm > 0 && step < warm)
        f *= step / warm;
    else if (o->lr_decay == LOOM_SEQ_DECAY_INV_SQRT)
        f *= sqrt(warm / step);
    return (float)(o->lr * f);
}

/* Validates; keeps the model when it is the best so far. Sets *stop for
 * early stopping or a reached exact-match target. */
static int validate(loop *l, position *p, int *stop)
{
    double loss, bleu, exact;
    /* in batches of a worker's share: the workspace keeps its size */
    int share = (l->o->batch + l->threads - 1) / l->threads;
    int rc = loom_seq_evaluate(l->b, l->w, l->valid, share, &loss, &bleu, &exact);
    if (rc)
        return rc;
    /* p->best is kept as "lower is better": the loss, or minus the BLEU */
    double score = l->o->best_by == LOOM_SEQ_BEST_BLEU ? -bleu : loss;
    int better = score < p->best;
    if (better) {
        p->best = score;
        p->bad = 0;
        l->res->valid_loss = loss, l->res->valid_bleu = bleu, l->res->valid_exact = exact;
        if ((rc = save_model(l->b, l->o, l->path, p, NULL)))
            return rc;
        l->saved = 1;
    } else {
        p->bad++;
        if (l->o->lr_decay == LOOM_SEQ_DECAY_PLATEAU)
            p->lr_scale *= l->o->lr_decay_factor;
    }
    if (l->o->keep_last > 0) { /* the last N validations' models, in turn */
        char kept[4200];
        snprintf(kept, sizeof kept, "%s.%d", l->path, p->nvalid % l->o->keep_last + 1);
        if ((rc = save_model(l->b, l->o, kept, p, NULL)))
            return rc;
    }
    p->nvalid++;
    /* the tail is read by the benchmarks: training target tokens per
     * second of training (validation and saving excluded) and per second
     * of the run's wall clock */
    double wall = loom_now() - l->t0;
    say(l,
        "step %ld: valid loss %.4f, BLEU %.2f, exact match %.1f%%%s, lr %.3g, training %.1f s, "
        "%ld target tokens (%.0f/s of training, %.0f/s of %.1f s wall)",
        p->step, loss, bleu, 100 * exact, better ? " (best, saved)" : "", lr_at(l->o, p),
        l->train_time, l->tokens, l->tokens / (l->train_time > 0 ? l->train_time : 1e-9),
        l->tokens / (wall > 0 ? wall : 1e-9), wall);
    if (l->o->patience > 0 && p->bad >= l->o->patience) {
        say(l, "no improvement in %d validations: stopping", p->bad);
        l->res->stopped_early = 1;
        *stop = 1;
    }
    if (l->o->stop_at_exact > 0 && exact >= l->o->stop_at_exact) {
        say(l, "exact match %.1f%% reached the target: stopping", 100 * exact);
        *stop = 1;
    }
    return 0;
}

int loom_seq_train(loom_seq_bundle *b, const loom_seq_corpus *train, const loom_seq_corpus *valid,
                   const loom_seq_train_opts *o, const char *path, const loom_st_file *resume,
                   loom_progress *progress, loom_seq_report_fn report, void *ctx,
                   loom_seq_train_result *res)
{
    memset(res, 0, sizeof *res);
    res->valid_loss = res->valid_bleu = res->valid_exact = -1;
    int rc = loom_seq_opts_check(o);
    if (rc)
        return rc;
    loom_params *ps = loom_seq_model_params(b->model);
    loom_optim_config oc = loom_optim_defaults(LOOM_ADAM);
    oc.lr = o->lr;
    loom_optim *opt = NULL;
    loom_seq_batcher *bt = NULL;
    loom_seq_work *w = NULL;
    loom_seq_packs *packs = NULL; /* the workers' one copy; bf16 runs use loom_gemm */
    loom_team *team = NULL;       /* the step's threads, kept for the run */
    position p = {0};
    p.best = INFINITY;
    p.best_loss = p.best_bleu = NAN;
    p.lr_scale = 1;
    int nthreads = o->threads < 1                      ? 1
                   : o->threads > LOOM_SEQ_MAX_THREADS ? LOOM_SEQ_MAX_THREADS
                                                       : o->threads;
    worker wk[LOOM_SEQ_MAX_THREADS];
    memset(wk, 0, sizeof wk);
    rc = loom_optim_new(&opt, ps, &oc);
    if (!rc)
        rc = loom_seq_batcher_new(&bt, train, o->batch, o->seed);
    if (!rc) /* batch_gradients' workers: every thread of every rank */
        loom_seq_batcher_set_parts(bt, nthreads * loom_dist_size());
    if (!rc)
        rc = loom_seq_work_new(&w, b->model);
    for (int t = 0; t < nthreads && !rc; t++) {
        wk[t].idx = loom_dist_rank() * nthreads + t; /* its dropout stream: batch_gradients */
        wk[t].seed = o->seed, wk[t].smoothing = o->label_smoothing;
        wk[t].precision =
            o->precision == LOOM_SEQ_PRECISION_BF16 ? LOOM_PRECISION_BF16 : LOOM_PRECISION_FP32;
        wk[t].m = b->model, wk[t].w = w;
        if (t > 0 && !(rc = loom_seq_model_replica(&wk[t].m, b->model)))
            rc = loom_seq_work_new(&wk[t].w, wk[t].m);
    }
    if (!rc && o->precision != LOOM_SEQ_PRECISION_BF16 &&
        !(rc = loom_seq_packs_new(&packs, b->model)))
        for (int t = 0; t < nthreads; t++)
            loom_seq_work_set_packs(wk[t].w, packs);
    if (!rc)
        rc = loom_team_new(&team, nthreads);
    if (!rc && resume)
        rc = restore(&p, opt, resume, bt, o->batch);
    if (rc)
        goto done;
    double t0 = loom_now(), last_ckpt = t0;
    loop l = {b, valid, o, path, w, report, ctx, res, 0, 0, nthreads, 0, t0};
    long step0 = p.step, tokens0 = p.tokens;
    loom_progress_set_total(progress, (double)o->epochs * loom_seq_batcher_count(bt));
    int stop = 0;
    for (; p.epoch < o->epochs && !stop; p.epoch++, p.batch = 0) {
        loom_seq_batcher_epoch(bt, p.epoch, 1);
        long nb = (long)loom_seq_batcher_count(bt);
        double epoch_loss = 0;
        long epoch_tokens = 0;
        for (; p.batch < nb && !stop;) {
            double ts = loom_now();
            loom_seq_batch batch;
            double loss;
            long ntok;
            if ((rc = loom_seq_batcher_get(bt, (size_t)p.batch, &batch)))
                goto done;
            for (int t = 0; t < nthreads; t++)
                wk[t].step = p.step;
            if (packs) { /* the weights as the last update left them */
                shared sh = {.phase = PHASE_PACK, .packs = packs, .model = b->model};
                run_shared(team, &sh);
            }
            if ((rc = batch_gradients(team, wk, nthreads, ps, &batch, &loss, &ntok)))
                goto done;
            if (nthreads > 1) {
                if ((rc = update_shared(team, ps, opt, o->clip, lr_at(o, &p))))
                    goto done;
            } else {
                if (o->clip > 0)
                    loom_params_clip_grad_norm(ps, o->clip);
                if ((rc = loom_optim_step(opt, lr_at(o, &p))))
                    goto done;
            }
            l.train_time += loom_now() - ts;
            p.batch++, p.step++, p.tokens += ntok, l.tokens += ntok;
            epoch_loss += loss, epoch_tokens += ntok;
            res->tokens_per_s = (p.tokens - tokens0) / (l.train_time > 0 ? l.train_time : 1e-9);
            if (loom_progress_due(progress)) {
                char detail[160];
                snprintf(detail, sizeof detail, "step %ld  epoch %d/%d  loss %.3f  %.0f tok/s",
                         p.step, p.epoch + 1, o->epochs,
                         epoch_loss / (epoch_tokens ? epoch_tokens : 1), res->tokens_per_s);
                loom_progress_update(progress, (double)p.epoch * nb + p.batch, detail);
            }
            if (valid && o->valid_every > 0 && p.step % o->valid_every == 0 &&
                (rc = validate(&l, &p, &stop)))
                goto done;
            if (o->max_steps > 0 && p.step >= o->max_steps) {
                res->hit_max_steps = 1;
                stop = 1;
            }
            if (o->stop && *o->stop) {
                res->interrupted = 1;
                stop = 1;
            }
            int due =
                o->checkpoint_minutes > 0 && loom_now() - last_ckpt >= 60 * o->checkpoint_minutes;
            if (o->checkpoint && (due || res->hit_max_steps || res->interrupted)) {
                if ((rc = save_model(b, o, o->checkpoint, &p, opt)))
                    goto done;
                last_ckpt = loom_now();
            }
        }
        if (stop && p.batch < nb)
            break;
        res->train_loss = epoch_loss / (epoch_tokens ? epoch_tokens : 1);
        say(&l, "epoch %d/%d: step %ld, train loss %.4f, %.0f tokens/s, %.1f s", p.epoch + 1,
            o->epochs, p.step, res->train_loss, res->tokens_per_s, loom_now() - t0);
        if (valid && o->valid_every == 0 && (rc = validate(&l, &p, &stop)))
            goto done;
        res->epochs_done = p.epoch + 1;
    }
    if (!l.saved && (rc = save_model(b, o, path, &p, NULL)))
        goto done;
    if (o->checkpoint && !res->hit_max_steps && !res->interrupted) {
        if (p.epoch >= o->epochs)
            p.batch = 0;
        rc = save_model(b, o, o->checkpoint, &p, opt);
    }
    res->steps = p.step;
    res->tokens = p.tokens;
    res->seconds = loom_now() - t0;
    (void)step0;
done:
    loom_team_free(team);
    for (int t = 1; t < nthreads; t++) {
        loom_seq_work_free(wk[t].w);
        loom_seq_model_free(wk[t].m);
    }
    loom_optim_free(opt);
    loom_seq_batcher_free(bt);
    loom_seq_work_free(w);
    loom_seq_packs_free(packs);
    return rc;
}

/* loom: training a sequence model: teacher forcing, Adam, global-norm
 * clipping, label smoothing, validation (loss, greedy BLEU, exact match)
 * with best-model keeping and early stopping, and resumable checkpoints.
 * Reports through base/progress.h and a line callback; never prints. */
#ifndef LOOM_SEQ_TRAIN_H
#define LOOM_SEQ_TRAIN_H

#include <signal.h>

#include "base/progress.h"
#include "seq/data.h"
#include "seq/model_file.h"
#include "seq/options.h"

#define LOOM_SEQ_MAX_THREADS 64

typedef struct {
    long steps, tokens;
    double seconds, tokens_per_s;
    double train_loss;                          /* mean over the last epoch's tokens */
    double valid_loss, valid_bleu, valid_exact; /* of the kept model; -1 if no validation */
    int epochs_done, stopped_early, hit_max_steps;
    int interrupted; /* stopped by o->stop */
} loom_seq_train_result;

/* Called with one line (an epoch or validation summary). */
typedef void (*loom_seq_report_fn)(void *ctx, const char *line);

/* Trains b->model on `train`, validating on `valid` (may be NULL), and
 * writes the model file to `path` (the best by validation loss, or BLEU
 * with o->best_by, when there is validation, else the last); patience
 * counts validations without a new best by that measure. `resume` (may be NULL) is an open
 * checkpoint to continue from: weights are already in b, the optimizer
 * state, the position in the data and the random streams come from it. */
int loom_seq_train(loom_seq_bundle *b, const loom_seq_corpus *train, const loom_seq_corpus *valid,
                   const loom_seq_train_opts *o, const char *path, const loom_st_file *resume,
                   loom_progress *progress, loom_seq_report_fn report, void *ctx,
                   loom_seq_train_result *res);

/* A whole run as `loom seq2seq` makes it, from the options alone: reads
 * the pairs (o->pairs, or o->src and o->tgt) and o->valid, builds both
 * vocabularies and a new model (embeddings from o->vectors) or takes them
 * from the checkpoint o->resume (with the options that make its run),
 * freezes what o->freeze says, and trains with loom_seq_train into
 * o->output, checkpointing to o->checkpoint (NULL: o->output + ".ckpt").
 * What it finds (coverage of the vectors, data sizes) goes to `report`. */
int loom_seq_train_run(const loom_seq_train_opts *o, loom_progress *progress,
                       loom_seq_report_fn report, void *ctx, loom_seq_train_result *res);

/* Validation figures of a model on a corpus: mean loss per target token,
 * greedy BLEU (ids joined as words) and exact-match share (0..1). */
int loom_seq_evaluate(loom_seq_bundle *b, loom_seq_work *w, const loom_seq_corpus *c, int batch,
                      double *loss, double *bleu, double *exact);

#endif

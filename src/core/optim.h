/* loom: optimizers over a parameter set (SGD with momentum, Adam, AdamW),
 * learning-rate schedules; clipping is loom_params_clip_grad_norm in
 * param.h. Updates follow PyTorch's torch.optim step by step (same order
 * of operations, same defaults), so a loom run and a PyTorch run from the
 * same weights and gradients agree to float rounding. Frozen parameters are
 * skipped and get no state (state appears if one is unfrozen later). */
#ifndef LOOM_CORE_OPTIM_H
#define LOOM_CORE_OPTIM_H

#include <stddef.h>

#include "base/safetensors.h"
#include "core/param.h"

typedef enum { LOOM_SGD = 0, LOOM_ADAM = 1, LOOM_ADAMW = 2 } loom_optim_kind;

typedef struct {
    loom_optim_kind kind;
    float lr;           /* default learning rate (the step may override it) */
    float momentum;     /* SGD */
    float dampening;    /* SGD */
    int nesterov;       /* SGD */
    float beta1, beta2; /* Adam(W) */
    float eps;          /* Adam(W) */
    float weight_decay; /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
} loom_optim_config;

/* PyTorch's defaults: SGD lr 0.01 (torch has none; word2vec-like users
 * override it), momentum 0, dampening 0, no nesterov, weight decay 0;
 * Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0;
 * AdamW the same with weight decay 1e-2. */
loom_optim_config loom_optim_defaults(loom_optim_kind kind);

typedef struct loom_optim loom_optim;

/* The optimizer keeps `ps` (not owned) and allocates state (momentum
 * buffer; Adam's two moments) for its trainable parameters only. */
int loom_optim_new(loom_optim **out, loom_params *ps, const loom_optim_config *cfg);
void loom_optim_free(loom_optim *o); /* accepts NULL */

/* One update of every trainable parameter from its gradient with learning
 * rate lr (lr < 0: the configured one). Gradients are left as they are.
 * Returns LOOM_ENOMEM only if a newly unfrozen parameter needs state. */
int loom_optim_step(loom_optim *o, float lr);

/* The same step shared by threads: loom_optim_begin_step once (state for
 * newly unfrozen parameters, step counts; LOOM_ENOMEM as above), then
 * loom_optim_update_part(o, lr, scale, k, n) for every k in [0, n), on any
 * threads at once: part k updates its own elements, the k-th n-th of every
 * parameter (split at multiples of 64 elements), first multiplying their
 * gradients by grad_scale unless it is 1 (the clipping coefficient, as
 * loom_scal would). The same bits as loom_optim_step for any n. */
int loom_optim_begin_step(loom_optim *o);
void loom_optim_update_part(loom_optim *o, float lr, float grad_scale, int part, int nparts);

long loom_optim_steps(const loom_optim *o);          /* steps taken */
size_t loom_optim_state_floats(const loom_optim *o); /* optimizer memory, in floats */

/* Optimizer state round trip for resumable checkpoints: tensors named
 * "optim.<param>.m", "optim.<param>.v" (Adam) or "optim.<param>.momentum"
 * (SGD) and "optim.<param>.step" (I64 scalar), added to the given writer
 * (borrowed: save the writer before the next step) or read from the given
 * file; a trainable parameter whose state is missing from the file starts
 * fresh, a state of the wrong shape is LOOM_EFORMAT. */
int loom_optim_save_state(const loom_optim *o, loom_st_writer *w);
int loom_optim_load_state(loom_optim *o, const loom_st_file *f);

/* Learning-rate schedules, as a pure function of the step (0-based). */
typedef enum {
    LOOM_LR_CONSTANT = 0, /* lr */
    LOOM_LR_LINEAR = 1,   /* lr falling linearly to lr * end_factor at total_steps, then flat */
    LOOM_LR_STEP = 2      /* lr * gamma^floor(step / step_size), as torch StepLR */
} loom_lr_kind;

typedef struct {
    loom_lr_kind kind;
    float lr;
    long total_steps;  /* LINEAR */
    float end_factor;  /* LINEAR: e.g. 1e-4 as word2vec's floor */
    long step_size;    /* STEP */
    float gamma;       /* STEP */
    long warmup_steps; /* any kind: linear ramp from lr/warmup up to the schedule */
} loom_lr_schedule;

float loom_lr_at(const loom_lr_schedule *s, long step);

#endif

/* loom: named parameters and parameter sets. Every trainable tensor of every
 * model is a loom_param in one loom_params set; optimizers, zeroing,
 * clipping, counting, freezing and saving/loading all iterate over the set,
 * so no model repeats them. The set knows nothing of what the tensors mean.
 *
 * Two phases, as in llm.c: declare every parameter (name and shape), then
 * loom_params_alloc() places all values in one flat 64-byte-aligned block and
 * all gradients in another, each parameter a named view into them. The
 * loom_param pointers handed out by _add stay valid for the set's life;
 * their value/grad pointers are NULL until _alloc. */
#ifndef LOOM_CORE_PARAM_H
#define LOOM_CORE_PARAM_H

#include <stddef.h>

#include "base/rng.h"

#define LOOM_PARAM_MAX_DIMS 4

typedef struct {
    const char *name;               /* owned by the set, e.g. "enc.gru.W_ih" */
    float *value;                   /* size floats, row-major */
    float *grad;                    /* size floats, same layout as value */
    int ndim;                       /* 1..LOOM_PARAM_MAX_DIMS */
    int shape[LOOM_PARAM_MAX_DIMS]; /* shape[0] is the slowest dimension */
    size_t size;                    /* product of the shape */
    int frozen;                     /* 1: optimizers skip it (no state either) */
} loom_param;

typedef struct loom_params loom_params;

int loom_params_new(loom_params **out);
void loom_params_free(loom_params *ps); /* accepts NULL */

/* Declares a parameter. Names are unique within the set (LOOM_EINVAL on a
 * duplicate, a bad shape, or after _alloc). *out may be NULL. */
int loom_params_add(loom_params *ps, loom_param **out, const char *name, int ndim,
                    const int *shape);
/* Shorthands for vectors and matrices. */
int loom_params_add1(loom_params *ps, loom_param **out, const char *name, int n);
int loom_params_add2(loom_params *ps, loom_param **out, const char *name, int rows, int cols);

/* Allocates the value and gradient blocks, all zero. */
int loom_params_alloc(loom_params *ps);
/* Allocates the values only (every grad stays NULL): for models that are
 * only evaluated, or trained by sparse SGD in place (fastText's bag, whose
 * n-gram table alone can be 800 MB). The gradient functions below
 * (zero_grad excepted) and optimizers must not be used on such a set. */
int loom_params_alloc_values(loom_params *ps);

size_t loom_params_len(const loom_params *ps);                         /* number of parameters */
loom_param *loom_params_at(const loom_params *ps, size_t i);           /* in declaration order */
loom_param *loom_params_find(const loom_params *ps, const char *name); /* NULL if absent */

/* Number of scalars: all, or only the trainable (not frozen) ones. */
size_t loom_params_numel(const loom_params *ps, int trainable_only);

/* The flat blocks (NULL before _alloc) and their length in floats, padding
 * included; handy for all-reduce over MPI or for copying a whole model. */
float *loom_params_values(const loom_params *ps, size_t *nfloats);
float *loom_params_grads(const loom_params *ps, size_t *nfloats);

/* Zeroes every gradient; call once per step before the backward passes. */
void loom_params_zero_grad(loom_params *ps);

/* Sets frozen = `frozen` on every parameter whose name starts with
 * `prefix` ("" matches all). Returns how many matched. */
size_t loom_params_freeze(loom_params *ps, const char *prefix, int frozen);

/* L2 norm of all trainable gradients together (accumulated in double):
 * the square root of the sum, in parameter order, of each trainable
 * parameter's loom_param_grad_sumsq (threads may compute those apart). */
double loom_params_grad_norm(const loom_params *ps);
double loom_param_grad_sumsq(const loom_param *p);
/* Global-norm clipping as torch.nn.utils.clip_grad_norm_: when the norm
 * exceeds max_norm, scales all trainable gradients by
 * max_norm / (norm + 1e-6). Returns the norm before clipping. */
double loom_params_clip_grad_norm(loom_params *ps, double max_norm);
/* The factor that clipping scales the gradients by, for a global norm
 * `norm`: (float)(max_norm / (norm + 1e-6)) when that is below 1, else 1
 * (for callers that sum the norm over threads themselves). */
float loom_clip_coef(double norm, double max_norm);

/* Saving and loading through the model file (base/safetensors.h): one
 * float32 tensor per parameter, named as the parameter. `meta` is an
 * optional NULL-terminated list of key, value, key, value, ... strings put
 * in the header's __metadata__ (NULL for none). Loading fills an allocated
 * set by name; every parameter must be present with the same shape (extra
 * tensors in the file are ignored) else LOOM_EFORMAT naming file and tensor.
 * Values round-trip bit for bit. */
int loom_params_save(const loom_params *ps, const char *path, const char *const *meta);
int loom_params_load(loom_params *ps, const char *path);

/* The same on an open writer or file, for files that hold more than the
 * parameters (a checkpoint adds loom_optim_save_state's tensors and its own
 * metadata): _write adds one tensor per parameter (values borrowed until
 * the writer is saved); _read fills the set from `f` as _load does. */
struct loom_st_writer;
struct loom_st_file;
int loom_params_write(const loom_params *ps, struct loom_st_writer *w);
int loom_params_read(loom_params *ps, const struct loom_st_file *f);
/* Checks that f holds every parameter of the set with its shape, as _read
 * does, without touching values: on a set not yet allocated, it refuses a
 * file whose tensors do not fit before any memory is taken. */
int loom_params_match(const loom_params *ps, const struct loom_st_file *f);

/* Initialisers, all drawing from `rng` in row-major order so a seed gives
 * the same weights on every machine. */
void loom_init_zeros(float *w, size_t n);
/* U(-a, a) */
void loom_init_uniform(float *w, size_t n, float a, loom_rng *rng);
/* N(0, std^2) */
void loom_init_normal(float *w, size_t n, float std, loom_rng *rng);
/* Glorot/Xavier uniform as torch.nn.init.xavier_uniform_ (gain 1):
 * U(-a, a) with a = sqrt(6 / (fan_in + fan_out)). */
void loom_init_glorot(float *w, int fan_in, int fan_out, loom_rng *rng);
/* A (rows, cols) matrix with orthonormal rows (rows <= cols) or columns
 * (rows > cols), times gain, as torch.nn.init.orthogonal_. For recurrent
 * weights. Returns LOOM_ENOMEM on allocation failure. */
int loom_init_orthogonal(float *w, int rows, int cols, float gain, loom_rng *rng);

#endif

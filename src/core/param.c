/* loom: parameter sets (see param.h): declaration, one flat allocation with
 * named views, zeroing, freezing, global-norm clipping, saving and loading
 * through the safetensors container, and the initialisers. What a
 * parameter means is the model's business, not this file's. */
#include "config.h"
#include "core/param.h"
#include "base/alloc.h"
#include "base/error.h"
#include "core/blas.h"
#include "base/safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Each view starts on a 64-byte boundary (16 floats) so that SIMD loads
 * and BLAS see aligned rows whatever came before. */
#define ALIGN_FLOATS 16

struct loom_params {
    loom_param **p; /* each allocated separately: pointers stay valid */
    size_t n, cap;
    float *values, *grads;
    size_t nfloats;
};

int loom_params_new(loom_params **out)
{
    *out = loom_calloc(1, sizeof **out);
    return *out ? 0 : LOOM_ENOMEM;
}

void loom_params_free(loom_params *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        free((char *)ps->p[i]->name);
        free(ps->p[i]);
    }
    free(ps->p);
    free(ps->values);
    free(ps->grads);
    free(ps);
}

int loom_params_add(loom_params *ps, loom_param **out, const char *name, int ndim, const int *shape)
{
    if (ps->values)
        return loom_error(LOOM_EINVAL, "parameter '%s' declared after the set was allocated", name);
    if (!name || !*name || ndim < 1 || ndim > LOOM_PARAM_MAX_DIMS)
        return loom_error(LOOM_EINVAL, "parameter '%s': bad name or rank", name ? name : "");
    if (loom_params_find(ps, name))
        return loom_error(LOOM_EINVAL, "duplicate parameter name '%s'", name);
    size_t size = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0 || size > SIZE_MAX / 4 / (size_t)shape[d])
            return loom_error(LOOM_EINVAL, "parameter '%s': bad shape", name);
        size *= (size_t)shape[d];
    }
    if (loom_grow((void **)&ps->p, &ps->cap, ps->n + 1, sizeof *ps->p) < 0)
        return LOOM_ENOMEM;
    loom_param *p = loom_calloc(1, sizeof *p);
    char *copy = loom_strdup(name);
    if (!p || !copy) {
        free(p);
        free(copy);
        return LOOM_ENOMEM;
    }
    p->name = copy;
    p->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        p->shape[d] = shape[d];
    p->size = size;
    ps->p[ps->n++] = p;
    if (out)
        *out = p;
    return 0;
}

int loom_params_add1(loom_params *ps, loom_param **out, const char *name, int n)
{
    return loom_params_add(ps, out, name, 1, &n);
}

int loom_params_add2(loom_params *ps, loom_param **out, const char *name, int rows, int cols)
{
    int shape[2] = {rows, cols};
    return loom_params_add(ps, out, name, 2, shape);
}

static int params_alloc(loom_params *ps, int with_grads)
{
    if (ps->values)
        return loom_error(LOOM_EINVAL, "parameter set allocated twice");
    size_t total = 0;
    for (size_t i = 0; i < ps->n; i++)
        total += (ps->p[i]->size + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    size_t n = total ? total : ALIGN_FLOATS;
    ps->values = loom_aligned_alloc(n, sizeof(float));
    ps->grads = with_grads ? loom_aligned_alloc(n, sizeof(float)) : NULL;
    if (!ps->values || (with_grads && !ps->grads)) {
        free(ps->values);
        free(ps->grads);
        ps->values = ps->grads = NULL;
        return LOOM_ENOMEM;
    }
    memset(ps->values, 0, n * sizeof(float));
    if (with_grads)
        memset(ps->grads, 0, n * sizeof(float));
    size_t off = 0;
    for (size_t i = 0; i < ps->n; i++) {
        ps->p[i]->value = ps->values + off;
        ps->p[i]->grad = with_grads ? ps->grads + off : NULL;
        off += (ps->p[i]->size + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    }
    ps->nfloats = total;
    return 0;
}

int loom_params_alloc(loom_params *ps)
{
    return params_alloc(ps, 1);
}

int loom_params_alloc_values(loom_params *ps)
{
    return params_alloc(ps, 0);
}

size_t loom_params_len(const loom_params *ps)
{
    return ps->n;
}

loom_param *loom_params_at(const loom_params *ps, size_t i)
{
    return i < ps->n ? ps->p[i] : NULL;
}

loom_param *loom_params_find(const loom_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i]->name, name) == 0)
            return ps->p[i];
    return NULL;
}

size_t loom_params_numel(const loom_params *ps, int trainable_only)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++)
        if (!trainable_only || !ps->p[i]->frozen)
            n += ps->p[i]->size;
    return n;
}

float *loom_params_values(const loom_params *ps, size_t *nfloats)
{
    if (nfloats)
        *nfloats = ps->nfloats;
    return ps->values;
}

float *loom_params_grads(const loom_params *ps, size_t *nfloats)
{
    if (nfloats)
        *nfloats = ps->nfloats;
    return ps->grads;
}

void loom_params_zero_grad(loom_params *ps)
{
    if (ps->grads)
        memset(ps->grads, 0, ps->nfloats * sizeof(float));
}

size_t loom_params_freeze(loom_params *ps, const char *prefix, int frozen)
{
    size_t k = 0, len = strlen(prefix);
    for (size_t i = 0; i < ps->n; i++)
        if (strncmp(ps->p[i]->name, prefix, len) == 0) {
            ps->p[i]->frozen = frozen != 0;
            k++;
        }
    return k;
}

double loom_param_grad_sumsq(const loom_param *p)
{
    /* four independent sums: a quarter of the latency of one chain */
    const float *g = p->grad;
    double s4[4] = {0, 0, 0, 0};
    size_t j = 0;
    for (; j + 4 <= p->size; j += 4)
        for (int k = 0; k < 4; k++)
            s4[k] += (double)g[j + k] * g[j + k];
    for (; j < p->size; j++)
        s4[0] += (double)g[j] * g[j];
    return (s4[0] + s4[1]) + (s4[2] + s4[3]);
}

double loom_params_grad_norm(const loom_params *ps)
{
    double sum = 0;
    for (size_t i = 0; i < ps->n; i++)
        if (!ps->p[i]->frozen)
            sum += loom_param_grad_sumsq(ps->p[i]);
    return sqrt(sum);
}

float loom_clip_coef(double norm, double max_norm)
{
    double coef = max_norm / (norm + 1e-6);
    return coef < 1 ? (float)coef : 1.0f;
}

double loom_params_clip_grad_norm(loom_params *ps, double max_norm)
{
    double norm = loom_params_grad_norm(ps);
    float c = loom_clip_coef(norm, max_norm);
    if (c != 1.0f) {
        for (size_t i = 0; i < ps->n; i++) {
            loom_param *p = ps->p[i];
            if (!p->frozen)
                loom_scal(p->size, c, p->grad);
        }
    }
    return norm;
}

int loom_params_write(const loom_params *ps, loom_st_writer *w)
{
    if (!ps->values)
        return loom_error(LOOM_EINVAL, "cannot save a parameter set before it is allocated");
    for (size_t i = 0; i < ps->n; i++) {
        const loom_param *p = ps->p[i];
        int rc = loom_st_writer_add_f32(w, p->name, p->ndim, p->shape, p->value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int loom_params_save(const loom_params *ps, const char *path, const char *const *meta)
{
    loom_st_writer *w;
    int rc = loom_st_writer_new(&w);
    if (rc < 0)
        return rc;
    rc = loom_params_write(ps, w);
    for (size_t i = 0; meta && meta[i] && rc == 0; i += 2) {
        if (!meta[i + 1])
            rc = loom_error(LOOM_EINVAL, "metadata key '%s' has no value", meta[i]);
        else
            rc = loom_st_writer_meta(w, meta[i], meta[i + 1]);
    }
    if (rc == 0)
        rc = loom_st_writer_save(w, path);
    else
        loom_error_prefix(rc, path, 0);
    loom_st_writer_free(w);
    return rc;
}

int loom_params_match(const loom_params *ps, const loom_st_file *f)
{
    const char *path = loom_st_path(f);
    for (size_t i = 0; i < ps->n; i++) {
        const loom_param *p = ps->p[i];
        int64_t shape[LOOM_PARAM_MAX_DIMS];
        const float *data;
        for (int d = 0; d < p->ndim; d++)
            shape[d] = p->shape[d];
        int rc = loom_st_get_f32(f, p->name, p->ndim, shape, &data);
        if (rc == LOOM_ENOTFOUND)
            rc = loom_error(LOOM_EFORMAT, "%s: model file lacks parameter '%s'", path, p->name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int loom_params_read(loom_params *ps, const loom_st_file *f)
{
    const char *path = loom_st_path(f);
    if (!ps->values)
        return loom_error(LOOM_EINVAL,
                          "%s: cannot load into a parameter set before it is "
                          "allocated",
                          path);
    int rc = loom_params_match(ps, f);
    for (size_t i = 0; i < ps->n && !rc; i++)
        memcpy(ps->p[i]->value, loom_st_find(f, ps->p[i]->name)->data,
               ps->p[i]->size * sizeof(float));
    return rc;
}

int loom_params_load(loom_params *ps, const char *path)
{
    loom_st_file *f;
    if (!ps->values)
        return loom_error(LOOM_EINVAL,
                          "%s: cannot load into a parameter set before it is "
                          "allocated",
                          path);
    int rc = loom_st_open(&f, path);
    if (rc < 0)
        return rc;
    rc = loom_params_read(ps, f);
    loom_st_close(f);
    return rc;
}

/* ------------------------------------------------------------ initialisers */

void loom_init_zeros(float *w, size_t n)
{
    memset(w, 0, n * sizeof *w);
}

void loom_init_uniform(float *w, size_t n, float a, loom_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (2.0f * loom_rng_uniform(rng) - 1.0f) * a;
}

void loom_init_normal(float *w, size_t n, float std, loom_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(loom_rng_normal(rng) * std);
}

void loom_init_glorot(float *w, int fan_in, int fan_out, loom_rng *rng)
{
    float a = sqrtf(6.0f / (float)(fan_in + fan_out));
    loom_init_uniform(w, (size_t)fan_in * (size_t)fan_out, a, rng);
}

/* Orthonormalises the r rows (each c long, r <= c) of q in place by
 * modified Gram-Schmidt, in double. A row that collapses (probability
 * zero for Gaussian input) is redrawn. */
static void gram_schmidt(double *q, int r, int c, loom_rng *rng)
{
    for (int i = 0; i < r; i++) {
        double *qi = q + (size_t)i * c;
        for (;;) {
            for (int j = 0; j < i; j++) {
                const double *qj = q + (size_t)j * c;
                double d = 0;
                for (int k = 0; k < c; k++)
                    d += qi[k] * qj[k];
                for (int k = 0; k < c; k++)
                    qi[k] -= d * qj[k];
            }
            double norm = 0;
            for (int k = 0; k < c; k++)
                norm += qi[k] * qi[k];
            norm = sqrt(norm);
            if (norm > 1e-10) {
                for (int k = 0; k < c; k++)
                    qi[k] /= norm;
                break;
            }
            for (int k = 0; k < c; k++)
                qi[k] = loom_rng_normal(rng);
        }
    }
}

int loom_init_orthogonal(float *w, int rows, int cols, float gain, loom_rng *rng)
{
    /* Orthonormalise along the longer dimension: rows <= cols gives
     * orthonormal rows directly; otherwise build orthonormal columns as the
     * rows of the transpose. */
    int r = rows <= cols ? rows : cols, c = rows <= cols ? cols : rows;
    double *q = loom_malloc((size_t)r * c, sizeof *q);
    if (!q)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < (size_t)r * c; i++)
        q[i] = loom_rng_normal(rng);
    gram_schmidt(q, r, c, rng);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            w[(size_t)i * cols + j] =
                (float)(gain * (rows <= cols ? q[(size_t)i * c + j] : q[(size_t)j * c + i]));
    free(q);
    return 0;
}

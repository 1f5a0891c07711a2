/* loom: SGD (momentum), Adam and AdamW over a parameter set, and the
 * learning-rate schedules (see optim.h). The update lines follow
 * torch/optim/{sgd,adam,adamw}.py (single-tensor path) in the same order,
 * so that the rounding matches too. */
#include "config.h"
#include "core/optim.h"

#include "base/alloc.h"
#include "base/error.h"
#include "core/blas.h"
#include "core/vmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *m; /* Adam: first moment; SGD: momentum buffer (NULL until needed) */
    float *v; /* Adam: second moment */
    int64_t step;
} state;

struct loom_optim {
    loom_optim_config cfg;
    loom_params *ps;
    state *st; /* one per parameter, in the set's order */
    size_t nparams;
    long steps;
    char **names; /* state tensor names for save_state, built on demand */
};

loom_optim_config loom_optim_defaults(loom_optim_kind kind)
{
    loom_optim_config c = {.kind = kind, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    if (kind == LOOM_SGD)
        c.lr = 0.01f;
    if (kind == LOOM_ADAMW)
        c.weight_decay = 1e-2f;
    return c;
}

static int needs_v(const loom_optim *o)
{
    return o->cfg.kind != LOOM_SGD;
}

static int needs_m(const loom_optim *o)
{
    return o->cfg.kind != LOOM_SGD || o->cfg.momentum != 0.0f;
}

/* Allocates a parameter's state, zeroed, on first use: frozen ones never
 * get any. Moments and momentum buffers start at zero as in PyTorch (SGD's
 * buffer is then set from the first gradient, see sgd_update). */
static int ensure_state(loom_optim *o, size_t i)
{
    const loom_param *p = loom_params_at(o->ps, i);
    state *s = &o->st[i];
    float **buf[2] = {needs_m(o) ? &s->m : NULL, needs_v(o) ? &s->v : NULL};
    for (int k = 0; k < 2; k++)
        if (buf[k] && !*buf[k]) {
            if (!(*buf[k] = loom_aligned_alloc(p->size, sizeof(float))))
                return LOOM_ENOMEM;
            memset(*buf[k], 0, p->size * sizeof(float));
        }
    return 0;
}

int loom_optim_new(loom_optim **out, loom_params *ps, const loom_optim_config *cfg)
{
    *out = NULL;
    if (cfg->kind > LOOM_ADAMW || cfg->lr < 0 || cfg->momentum < 0 || cfg->beta1 < 0 ||
        cfg->beta1 >= 1 || cfg->beta2 < 0 || cfg->beta2 >= 1 || cfg->eps < 0 ||
        cfg->weight_decay < 0 || (cfg->nesterov && (cfg->momentum <= 0 || cfg->dampening != 0)))
        return loom_error(LOOM_EINVAL, "invalid optimizer settings");
    if (!loom_params_values(ps, NULL))
        return loom_error(LOOM_EINVAL, "optimizer over a parameter set that is not allocated");
    loom_optim *o = loom_calloc(1, sizeof *o);
    if (!o)
        return LOOM_ENOMEM;
    o->cfg = *cfg;
    o->ps = ps;
    o->nparams = loom_params_len(ps);
    o->st = loom_calloc(o->nparams + 1, sizeof *o->st);
    if (!o->st) {
        free(o);
        return LOOM_ENOMEM;
    }
    for (size_t i = 0; i < o->nparams; i++)
        if (!loom_params_at(ps, i)->frozen && ensure_state(o, i) < 0) {
            loom_optim_free(o);
            return LOOM_ENOMEM;
        }
    *out = o;
    return 0;
}

void loom_optim_free(loom_optim *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nparams; i++) {
        free(o->st[i].m);
        free(o->st[i].v);
        if (o->names)
            for (int k = 0; k < 3; k++)
                free(o->names[3 * i + k]);
    }
    free(o->names);
    free(o->st);
    free(o);
}

/* torch.optim.SGD:
 *   d_p = grad + weight_decay * param
 *   buf = d_p (first step) or momentum * buf + (1 - dampening) * d_p
 *   d_p = d_p + momentum * buf (nesterov) or buf
 *   param -= lr * d_p */
/* The updates below run over elements [lo, hi) of a parameter: every
 * element's arithmetic is its own, so any split gives the same bits. */
static void sgd_update(const loom_optim_config *c, loom_param *p, state *s, float lr, size_t lo,
                       size_t hi)
{
    float *w = p->value + lo, *buf = s->m ? s->m + lo : NULL;
    const float *g = p->grad + lo;
    for (size_t j = 0; j < hi - lo; j++) {
        float d = g[j];
        if (c->weight_decay != 0.0f)
            d += c->weight_decay * w[j];
        if (c->momentum != 0.0f) {
            buf[j] = s->step == 1 ? d : c->momentum * buf[j] + (1.0f - c->dampening) * d;
            d = c->nesterov ? d + c->momentum * buf[j] : buf[j];
        }
        w[j] -= lr * d;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* The Adam update of adam_update below without weight decay, 8 lanes at a
 * time: the same operations in the same order (separate multiplies and
 * adds, IEEE sqrt and division), so the same bits as the scalar loop.
 * Returns how many leading elements it did (a multiple of 8). */
__attribute__((target("avx2"))) static size_t
adam_plain_avx2(float *restrict w, float *restrict m, float *restrict v, const float *restrict g,
                size_t n, float b1, float b2, float eps, float step_size, float bc2_sqrt)
{
    __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2);
    __m256 c1 = _mm256_set1_ps(1.0f - b1), c2 = _mm256_set1_ps(1.0f - b2);
    __m256 veps = _mm256_set1_ps(eps), vbc = _mm256_set1_ps(bc2_sqrt);
    __m256 vstep = _mm256_set1_ps(-step_size);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 gj = _mm256_loadu_ps(g + j);
        __m256 mj =
            _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + j), vb1), _mm256_mul_ps(gj, c1));
        __m256 vj = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j), vb2),
                                  _mm256_mul_ps(_mm256_mul_ps(gj, gj), c2));
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vj), vbc), veps);
        __m256 wj =
            _mm256_add_ps(_mm256_loadu_ps(w + j), _mm256_mul_ps(vstep, _mm256_div_ps(mj, denom)));
        _mm256_storeu_ps(m + j, mj);
        _mm256_storeu_ps(v + j, vj);
        _mm256_storeu_ps(w + j, wj);
    }
    return j;
}

/* The same sixteen lanes at a time (the same bits again). */
__attribute__((target("avx512f"))) static size_t
adam_plain_avx512(float *restrict w, float *restrict m, float *restrict v, const float *restrict g,
                  size_t n, float b1, float b2, float eps, float step_size, float bc2_sqrt)
{
    __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2);
    __m512 c1 = _mm512_set1_ps(1.0f - b1), c2 = _mm512_set1_ps(1.0f - b2);
    __m512 veps = _mm512_set1_ps(eps), vbc = _mm512_set1_ps(bc2_sqrt);
    __m512 vstep = _mm512_set1_ps(-step_size);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 gj = _mm512_loadu_ps(g + j);
        __m512 mj =
            _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(m + j), vb1), _mm512_mul_ps(gj, c1));
        __m512 vj = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(v + j), vb2),
                                  _mm512_mul_ps(_mm512_mul_ps(gj, gj), c2));
        __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vj), vbc), veps);
        __m512 wj =
            _mm512_add_ps(_mm512_loadu_ps(w + j), _mm512_mul_ps(vstep, _mm512_div_ps(mj, denom)));
        _mm512_storeu_ps(m + j, mj);
        _mm512_storeu_ps(v + j, vj);
        _mm512_storeu_ps(w + j, wj);
    }
    return j;
}
#else
static size_t adam_plain_avx512(float *w, float *m, float *v, const float *g, size_t n, float b1,
                                float b2, float eps, float step_size, float bc2_sqrt)
{
    return 0;
}
static size_t adam_plain_avx2(float *w, float *m, float *v, const float *g, size_t n, float b1,
                              float b2, float eps, float step_size, float bc2_sqrt)
{
    return 0;
}
#endif

/* torch.optim.Adam / AdamW:
 *   AdamW: param *= 1 - lr * weight_decay;  Adam: grad += weight_decay * param
 *   m = beta1 * m + (1 - beta1) * grad
 *   v = beta2 * v + (1 - beta2) * grad^2
 *   step_size = lr / (1 - beta1^t);  denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   param -= step_size * m / denom
 * The bias corrections are computed in double as Python does, then used in
 * float as the tensor kernels do. */
static void adam_update(const loom_optim_config *c, loom_param *p, state *s, float lr, size_t lo,
                        size_t hi)
{
    double bc1 = 1.0 - pow(c->beta1, (double)s->step);
    double bc2 = 1.0 - pow(c->beta2, (double)s->step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float decay = c->kind == LOOM_ADAMW ? (float)(1.0 - (double)lr * c->weight_decay) : 1.0f;
    float l2 = c->kind == LOOM_ADAM ? c->weight_decay : 0.0f;
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    float *restrict w = p->value + lo, *restrict m = s->m + lo, *restrict v = s->v + lo;
    const float *restrict g = p->grad + lo;
    size_t j = 0, n = hi - lo;
    if (decay == 1.0f && l2 == 0.0f && loom_simd_level() >= LOOM_SIMD_AVX512)
        j = adam_plain_avx512(w, m, v, g, n, b1, b2, eps, step_size, bc2_sqrt);
    else if (decay == 1.0f && l2 == 0.0f && loom_simd_level() >= LOOM_SIMD_AVX2)
        j = adam_plain_avx2(w, m, v, g, n, b1, b2, eps, step_size, bc2_sqrt);
    for (; j < n; j++) {
        if (decay != 1.0f)
            w[j] *= decay;
        float gj = l2 != 0.0f ? g[j] + l2 * w[j] : g[j];
        m[j] = m[j] * b1 + gj * (1.0f - b1);
        v[j] = v[j] * b2 + gj * gj * (1.0f - b2);
        float denom = sqrtf(v[j]) / bc2_sqrt + eps;
        w[j] += -step_size * (m[j] / denom);
    }
}

int loom_optim_begin_step(loom_optim *o)
{
    for (size_t i = 0; i < o->nparams; i++) {
        if (loom_params_at(o->ps, i)->frozen)
            continue;
        if (ensure_state(o, i) < 0) /* a parameter unfrozen since the last step */
            return LOOM_ENOMEM;
        o->st[i].step++;
    }
    o->steps++;
    return 0;
}

/* elements per block: the gradient scaled and the update made while the
 * block is in cache */
#define OPTIM_BLOCK 8192

void loom_optim_update_part(loom_optim *o, float lr, float grad_scale, int part, int nparts)
{
    if (lr < 0)
        lr = o->cfg.lr;
    for (size_t i = 0; i < o->nparams; i++) {
        loom_param *p = loom_params_at(o->ps, i);
        if (p->frozen)
            continue;
        /* part k's elements: [k/n, (k+1)/n) of the parameter, at multiples of 64 */
        size_t chunks = (p->size + 63) / 64;
        size_t lo = chunks * (size_t)part / (size_t)nparts * 64;
        size_t hi = chunks * (size_t)(part + 1) / (size_t)nparts * 64;
        hi = hi < p->size ? hi : p->size;
        for (size_t a = lo; a < hi; a += OPTIM_BLOCK) {
            size_t e = hi - a < OPTIM_BLOCK ? hi : a + OPTIM_BLOCK;
            if (grad_scale != 1.0f)
                loom_scal(e - a, grad_scale, p->grad + a);
            if (o->cfg.kind == LOOM_SGD)
                sgd_update(&o->cfg, p, &o->st[i], lr, a, e);
            else
                adam_update(&o->cfg, p, &o->st[i], lr, a, e);
        }
    }
}

int loom_optim_step(loom_optim *o, float lr)
{
    int rc = loom_optim_begin_step(o);
    if (!rc)
        loom_optim_update_part(o, lr, 1.0f, 0, 1);
    return rc;
}

long loom_optim_steps(const loom_optim *o)
{
    return o->steps;
}

size_t loom_optim_state_floats(const loom_optim *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nparams; i++) {
        size_t size = loom_params_at(o->ps, i)->size;
        n += (o->st[i].m ? size : 0) + (o->st[i].v ? size : 0);
    }
    return n;
}

static const char *const suffix[3] = {"m", "v", "step"};

static char *state_name(const loom_param *p, int k, int sgd)
{
    const char *suf = sgd && k == 0 ? "momentum" : suffix[k];
    size_t n = strlen(p->name) + strlen(suf) + 8;
    char *s = loom_malloc(n, 1);
    if (s)
        snprintf(s, n, "optim.%s.%s", p->name, suf);
    return s;
}

int loom_optim_save_state(const loom_optim *o, loom_st_writer *w)
{
    loom_optim *mo = (loom_optim *)o; /* the name cache is not observable state */
    int sgd = o->cfg.kind == LOOM_SGD;
    if (!mo->names && !(mo->names = loom_calloc(3 * o->nparams + 1, sizeof *mo->names)))
        return LOOM_ENOMEM;
    for (size_t i = 0; i < o->nparams; i++) {
        const loom_param *p = loom_params_at(o->ps, i);
        const state *s = &o->st[i];
        if (!s->m && !s->v)
            continue;
        for (int k = 0; k < 3; k++)
            if (!mo->names[3 * i + k] && !(mo->names[3 * i + k] = state_name(p, k, sgd)))
                return LOOM_ENOMEM;
        int rc = 0;
        if (s->m)
            rc = loom_st_writer_add_f32(w, mo->names[3 * i], p->ndim, p->shape, s->m);
        if (rc == 0 && s->v)
            rc = loom_st_writer_add_f32(w, mo->names[3 * i + 1], p->ndim, p->shape, s->v);
        if (rc == 0)
            rc = loom_st_writer_add(w, mo->names[3 * i + 2], LOOM_ST_I64, 0, NULL, &s->step);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int loom_optim_load_state(loom_optim *o, const loom_st_file *f)
{
    int sgd = o->cfg.kind == LOOM_SGD;
    long max_step = 0;
    for (size_t i = 0; i < o->nparams; i++) {
        const loom_param *p = loom_params_at(o->ps, i);
        state *s = &o->st[i];
        if (p->frozen)
            continue;
        char *name[3] = {state_name(p, 0, sgd), state_name(p, 1, sgd), state_name(p, 2, sgd)};
        int rc = name[0] && name[1] && name[2] ? ensure_state(o, i) : LOOM_ENOMEM;
        const loom_st_tensor *step = rc == 0 ? loom_st_find(f, name[2]) : NULL;
        if (step && (step->dtype != LOOM_ST_I64 || step->numel != 1))
            rc = loom_error(LOOM_EFORMAT, "%s: tensor '%s' is not an I64 scalar", loom_st_path(f),
                            name[2]);
        int64_t shape[LOOM_PARAM_MAX_DIMS];
        for (int d = 0; d < p->ndim; d++)
            shape[d] = p->shape[d];
        for (int k = 0; k < 2 && rc == 0 && step; k++) {
            float *dst = k == 0 ? s->m : s->v;
            const float *src;
            if (!dst)
                continue;
            rc = loom_st_get_f32(f, name[k], p->ndim, shape, &src);
            if (rc == 0)
                memcpy(dst, src, p->size * sizeof(float));
        }
        if (rc == 0 && step) {
            s->step = *(const int64_t *)step->data;
            max_step = s->step > max_step ? (long)s->step : max_step;
        }
        for (int k = 0; k < 3; k++)
            free(name[k]);
        if (rc < 0)
            return rc;
    }
    o->steps = max_step;
    return 0;
}

float loom_lr_at(const loom_lr_schedule *s, long step)
{
    double lr = s->lr;
    switch (s->kind) {
    case LOOM_LR_LINEAR:
        if (s->total_steps > 0) {
            double frac = step >= s->total_steps ? 1.0 : (double)step / s->total_steps;
            lr *= 1.0 - (1.0 - s->end_factor) * frac;
        }
        break;
    case LOOM_LR_STEP:
        if (s->step_size > 0)
            lr *= pow(s->gamma, (double)(step / s->step_size));
        break;
    default:
        break;
    }
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        lr *= (double)(step + 1) / s->warmup_steps;
    return (float)lr;
}

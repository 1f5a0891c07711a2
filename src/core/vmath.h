/* loom: exp, logistic sigmoid and tanh over float arrays, four lanes at a
 * time with GCC/Clang vector extensions (SSE2 on any x86-64, NEON on ARM),
 * for the gate nonlinearities of the recurrent layers and attention.
 * Not approximations: Cephes' single-precision expf and tanhf (range
 * reduction plus minimax polynomials), within 2 ulp of the correctly
 * rounded result (tests/test_rnn.c checks this against double precision),
 * about as close as glibc's scalar expf/tanhf and PyTorch's vectorised ones,
 * while running 4 or 8 lanes wide. A private header of the core, not
 * installed. */
#ifndef LOOM_CORE_VMATH_H
#define LOOM_CORE_VMATH_H

#include <stddef.h>
#include <string.h>

/* GCC at -O2 vectorises only loops that need no scalar epilogue (its "very
 * cheap" cost model), which leaves the gate loops over H scalar; this asks
 * for the usual cost model on the functions that carry such loops.
 * Clang vectorises them at -O2 already. */
#if defined(__GNUC__) && !defined(__clang__)
#define LOOM_VECTORIZE __attribute__((optimize("-ftree-vectorize", "-fvect-cost-model=dynamic")))
#else
#define LOOM_VECTORIZE
#endif

typedef float loom_v4f __attribute__((vector_size(16)));
typedef int loom_v4i __attribute__((vector_size(16)));

static inline loom_v4f loom_v4_splat(float x)
{
    return (loom_v4f){x, x, x, x};
}

static inline loom_v4f loom_v4_select(loom_v4i mask, loom_v4f a, loom_v4f b)
{
    loom_v4i ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    loom_v4i r = (ia & mask) | (ib & ~mask);
    loom_v4f out;
    memcpy(&out, &r, sizeof out);
    return out;
}

/* Cephes expf: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, times 2^n built in the exponent bits. */
static inline loom_v4f loom_v4_exp(loom_v4f x)
{
    x = loom_v4_select(x > loom_v4_splat(88.3762626647949f), loom_v4_splat(88.3762626647949f), x);
    x = loom_v4_select(x < loom_v4_splat(-87.3365447505531f), loom_v4_splat(-87.3365447505531f), x);
    loom_v4f t = x * 1.44269504088896341f + 0.5f;
    loom_v4i n = __builtin_convertvector(t, loom_v4i); /* truncates; make it floor */
    loom_v4f fn = __builtin_convertvector(n, loom_v4f);
    fn = loom_v4_select(fn > t, fn - 1.0f, fn);
    x = x - fn * 0.693359375f - fn * -2.12194440e-4f;
    loom_v4f z = x * x;
    loom_v4f y = ((((1.9875691500e-4f * x + 1.3981999507e-3f) * x + 8.3334519073e-3f) * x +
                   4.1665795894e-2f) *
                      x +
                  1.6666665459e-1f) *
                     x +
                 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    loom_v4i e = (__builtin_convertvector(fn, loom_v4i) + 127) << 23;
    loom_v4f scale;
    memcpy(&scale, &e, sizeof scale);
    return y * scale;
}

static inline loom_v4f loom_v4_sigmoid(loom_v4f x)
{
    return 1.0f / (1.0f + loom_v4_exp(-x));
}

/* Cephes tanhf: an odd polynomial below |x| = 0.625, where 1 - 2/(e^2x + 1)
 * would cancel, and that formula above it. */
static inline loom_v4f loom_v4_tanh(loom_v4f x)
{
    loom_v4f ax = loom_v4_select(x < 0.0f, -x, x);
    loom_v4f z = x * x;
    loom_v4f small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                       1.33314422036e-1f) *
                          z -
                      3.33332819422e-1f) *
                         z * x +
                     x;
    loom_v4f big = 1.0f - 2.0f / (loom_v4_exp(ax + ax) + 1.0f);
    big = loom_v4_select(x < 0.0f, -big, big);
    return loom_v4_select(ax < 0.625f, small, big);
}

static inline loom_v4f loom_v4_load(const float *p)
{
    loom_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void loom_v4_store(float *p, loom_v4f v)
{
    memcpy(p, &v, sizeof v);
}

/* The one CPU-dispatch point. Every SIMD kernel of the library (vmath,
 * the few-row product, Adam, word2vec's HogBatch step) asks it which
 * version to run; none asks the CPU itself. Levels are ordered, so a
 * kernel tests `loom_simd_level() >= LOOM_SIMD_AVX2`. */
typedef enum {
    LOOM_SIMD_PORTABLE = 0, /* four lanes through vector extensions (SSE2, NEON) */
    LOOM_SIMD_AVX2 = 1,     /* eight lanes with AVX2 and FMA */
    LOOM_SIMD_AVX512 = 2    /* AVX-512F (and DQ) too: sixteen lanes */
} loom_simd;

/* The highest level this CPU runs, lowered by the environment: LOOM_NO_AVX2
 * set (to anything but "" or "0") gives LOOM_SIMD_PORTABLE, LOOM_NO_AVX512
 * at most LOOM_SIMD_AVX2. Decided once per process, at the first call;
 * results differ between levels only by rounding. */
loom_simd loom_simd_level(void);

/* "portable", "avx2" or "avx512". */
const char *loom_simd_name(loom_simd level);

/* y[i] = f(x[i]) for n floats (y may equal x; the arrays must not
 * otherwise overlap). vmath.c picks, once per process (loom_simd_level),
 * an AVX-512 version (sixteen lanes) or an AVX2+FMA one (eight lanes) when
 * the CPU has them, else the four-lane one above; the same Cephes
 * polynomials, all within 2 ulp, and the AVX2 and AVX-512 versions give
 * the same bits. */
void loom_vexp(float *y, const float *x, size_t n);
void loom_vsigmoid(float *y, const float *x, size_t n);
void loom_vtanh(float *y, const float *x, size_t n);

/* The same at a given level (at most the CPU's: a higher one runs the
 * CPU's own), so that the tests compare each path with the portable one. */
void loom_vexp_level(loom_simd level, float *y, const float *x, size_t n);
void loom_vsigmoid_level(loom_simd level, float *y, const float *x, size_t n);
void loom_vtanh_level(loom_simd level, float *y, const float *x, size_t n);
float loom_vmax_level(loom_simd level, const float *x, size_t n);

/* The four-lane versions, always available (the tests check both). */
void loom_vexp_generic(float *y, const float *x, size_t n);
void loom_vsigmoid_generic(float *y, const float *x, size_t n);
void loom_vtanh_generic(float *y, const float *x, size_t n);

/* The largest of n >= 1 floats (NaNs are skipped unless all are), and the
 * sum of n floats accumulated in double: the reductions of a softmax over a
 * vocabulary, sixteen lanes (max) or eight (sum) wide where AVX-512 or
 * AVX2 is (same dispatch as above). The sum's order depends only on n and
 * is the same at both levels, so results repeat run to run and machine to
 * machine. */
float loom_vmax(const float *x, size_t n);
double loom_vsum(const float *x, size_t n);

#endif

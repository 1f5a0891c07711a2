/* loom: the array forms of vmath.h's exp, sigmoid and tanh, four lanes
 * with GCC/Clang vector extensions everywhere, eight lanes with AVX2 and
 * FMA and sixteen with AVX-512 on x86-64 CPUs that have them (chosen at
 * run time, so the build needs no -march flag). The polynomials are the
 * same; only the width and the fused multiply-adds differ, and the eight-
 * and sixteen-lane versions give the same bits. */
#include "core/vmath.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static loom_simd detect(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        env_set("LOOM_NO_AVX2"))
        return LOOM_SIMD_PORTABLE;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        !env_set("LOOM_NO_AVX512"))
        return LOOM_SIMD_AVX512;
    return LOOM_SIMD_AVX2;
#else
    return LOOM_SIMD_PORTABLE;
#endif
}

loom_simd loom_simd_level(void)
{
    /* decided once; the answer never changes, so a relaxed atomic is
     * enough for threads that ask at the same time */
    static _Atomic int level = -1;
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) {
        l = (int)detect();
        atomic_store_explicit(&level, l, memory_order_relaxed);
    }
    return (loom_simd)l;
}

const char *loom_simd_name(loom_simd level)
{
    return level >= LOOM_SIMD_AVX512 ? "avx512" : level == LOOM_SIMD_AVX2 ? "avx2" : "portable";
}

/* Applies the four-lane f to whole vectors, then to the tail through one
 * zero-padded vector so every element takes the same path. */
#define MAP4(name, f)                                                                              \
    void name(float *y, const float *x, size_t n)                                                  \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 4 <= n; i += 4)                                                                 \
            loom_v4_store(y + i, f(loom_v4_load(x + i)));                                          \
        if (i < n) {                                                                               \
            float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                                 \
            memcpy(t, x + i, (n - i) * sizeof *t);                                                 \
            loom_v4_store(t, f(loom_v4_load(t)));                                                  \
            memcpy(y + i, t, (n - i) * sizeof *t);                                                 \
        }                                                                                          \
    }

MAP4(loom_vexp_generic, loom_v4_exp)
MAP4(loom_vsigmoid_generic, loom_v4_sigmoid)
MAP4(loom_vtanh_generic, loom_v4_tanh)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3365447505531f));
    __m256 fn = _mm256_floor_ps(
        _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_add_ps(_mm256_fmadd_ps(y, z, x), _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fn), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

AVX2 static inline __m256 sigmoid8(__m256 x)
{
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

AVX2 static inline __m256 tanh8(__m256 x)
{
    __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 big = _mm256_sub_ps(
        one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(ax, ax)), one)));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

#define MAP8(name, f)                                                                              \
    AVX2 static void name(float *y, const float *x, size_t n)                                      \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));                                    \
        if (i < n) {                                                                               \
            float t[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};                         \
            memcpy(t, x + i, (n - i) * sizeof *t);                                                 \
            _mm256_storeu_ps(t, f(_mm256_loadu_ps(t)));                                            \
            memcpy(y + i, t, (n - i) * sizeof *t);                                                 \
        }                                                                                          \
    }

MAP8(vexp_avx2, exp8)
MAP8(vsigmoid_avx2, sigmoid8)
MAP8(vtanh_avx2, tanh8)

AVX2 static float vmax_avx2(const float *x, size_t n)
{
    __m256 m = _mm256_set1_ps(x[0]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_loadu_ps(x + i), m); /* a NaN lane keeps m */
    float t[8], best = x[0];
    _mm256_storeu_ps(t, m);
    for (int k = 0; k < 8; k++)
        best = t[k] > best ? t[k] : best;
    for (; i < n; i++)
        best = x[i] > best ? x[i] : best;
    return best;
}

AVX2 static double vsum_avx2(const float *x, size_t n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double t[4], s = 0;
    _mm256_storeu_pd(t, _mm256_add_pd(a0, a1));
    s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++)
        s += x[i];
    return s;
}

/* The same polynomials 16 lanes wide: every operation of exp8/tanh8 in
 * the same order with the same fused multiply-adds, so each element comes
 * out bit for bit as the eight-lane version gives it (the tests check). */
#define AVX512 __attribute__((target("avx512f,avx512dq")))

AVX512 static inline __m512 exp16(__m512 x)
{
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3365447505531f));
    __m512 fn = _mm512_roundscale_ps(
        _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
        _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fn, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fn, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_add_ps(_mm512_fmadd_ps(y, z, x), _mm512_set1_ps(1.0f));
    __m512i e =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fn), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

AVX512 static inline __m512 sigmoid16(__m512 x)
{
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

AVX512 static inline __m512 tanh16(__m512 x)
{
    __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 ax = _mm512_andnot_ps(sign, x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 big = _mm512_sub_ps(
        one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(exp16(_mm512_add_ps(ax, ax)), one)));
    big = _mm512_or_ps(big, _mm512_and_ps(x, sign));
    __mmask16 lt = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(lt, big, small);
}

/* The tail through one masked vector: the lanes past n compute on zeros
 * and are not stored, so every element takes the same path. */
#define MAP16(name, f)                                                                             \
    AVX512 static void name(float *y, const float *x, size_t n)                                    \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));                                    \
        if (i < n) {                                                                               \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                        \
            _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));                   \
        }                                                                                          \
    }

MAP16(vexp_avx512, exp16)
MAP16(vsigmoid_avx512, sigmoid16)
MAP16(vtanh_avx512, tanh16)

AVX512 static float vmax_avx512(const float *x, size_t n)
{
    __m512 m = _mm512_set1_ps(x[0]);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(_mm512_loadu_ps(x + i), m); /* a NaN lane keeps m */
    float t[16], best = x[0];
    _mm512_storeu_ps(t, m);
    for (int k = 0; k < 16; k++)
        best = t[k] > best ? t[k] : best;
    for (; i < n; i++)
        best = x[i] > best ? x[i] : best;
    return best;
}

#define DISPATCH(name, fast8, fast16)                                                              \
    void name##_level(loom_simd level, float *y, const float *x, size_t n)                         \
    {                                                                                              \
        level = level < loom_simd_level() ? level : loom_simd_level();                             \
        if (level >= LOOM_SIMD_AVX512)                                                             \
            fast16(y, x, n);                                                                       \
        else if (level == LOOM_SIMD_AVX2)                                                          \
            fast8(y, x, n);                                                                        \
        else                                                                                       \
            name##_generic(y, x, n);                                                               \
    }                                                                                              \
    void name(float *y, const float *x, size_t n)                                                  \
    {                                                                                              \
        name##_level(loom_simd_level(), y, x, n);                                                  \
    }

#else

#define DISPATCH(name, fast8, fast16)                                                              \
    void name##_level(loom_simd level, float *y, const float *x, size_t n)                         \
    {                                                                                              \
        (void)level;                                                                               \
        name##_generic(y, x, n);                                                                   \
    }                                                                                              \
    void name(float *y, const float *x, size_t n)                                                  \
    {                                                                                              \
        name##_generic(y, x, n);                                                                   \
    }

#endif

static float vmax_generic(const float *x, size_t n)
{
    float best = x[0];
    for (size_t i = 1; i < n; i++)
        best = x[i] > best ? x[i] : best;
    return best;
}

static double vsum_generic(const float *x, size_t n)
{
    double s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += x[i + k];
    for (; i < n; i++)
        s[0] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

float loom_vmax_level(loom_simd level, const float *x, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    level = level < loom_simd_level() ? level : loom_simd_level();
    if (level >= LOOM_SIMD_AVX512)
        return vmax_avx512(x, n);
    if (level == LOOM_SIMD_AVX2)
        return vmax_avx2(x, n);
#else
    (void)level;
#endif
    return vmax_generic(x, n);
}

float loom_vmax(const float *x, size_t n)
{
    return loom_vmax_level(loom_simd_level(), x, n);
}

double loom_vsum(const float *x, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (loom_simd_level() >= LOOM_SIMD_AVX2)
        return vsum_avx2(x, n);
#endif
    return vsum_generic(x, n);
}

DISPATCH(loom_vexp, vexp_avx2, vexp_avx512)
DISPATCH(loom_vsigmoid, vsigmoid_avx2, vsigmoid_avx512)
DISPATCH(loom_vtanh, vtanh_avx2, vtanh_avx512)

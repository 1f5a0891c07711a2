/* loom: the row-major float32 wrappers of blas.h over OpenBLAS's cblas.
 * This is the only file of the core that includes cblas.h. */
#include "core/blas.h"
#include "core/gemm_bf16.h"
#include "core/vmath.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* the calling thread's loom_gemm precision (LOOM_PRECISION_*) */
static _Thread_local int precision;

int loom_gemm_set_precision(int p)
{
    int old = precision;
    precision = p;
    return old;
}

int loom_gemm_precision(void)
{
    return precision;
}

void loom_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc)
{
    if (precision == LOOM_PRECISION_BF16)
        loom_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        loom_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void loom_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc)
{
    /* Empty products are handled here: OpenBLAS's argument checks would
     * reject the zero leading dimensions that come with them, and print. */
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void loom_gemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
               float beta, float *y)
{
    if (M <= 0 || N <= 0) { /* y = beta y, as for an empty sum */
        int n = trans ? N : M;
        for (int i = 0; i < n; i++)
            y[i] = beta == 0.0f ? 0.0f : beta * y[i];
        return;
    }
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, M, N, alpha, A, lda, x, 1, beta,
                y, 1);
}

void loom_ger(int M, int N, float alpha, const float *x, const float *y, float *A, int lda)
{
    cblas_sger(CblasRowMajor, M, N, alpha, x, 1, y, 1, A, lda);
}

void loom_axpy(size_t n, float alpha, const float *x, float *y)
{
    cblas_saxpy((blasint)n, alpha, x, 1, y, 1);
}

float loom_dot(size_t n, const float *x, const float *y)
{
    return cblas_sdot((blasint)n, x, 1, y, 1);
}

void loom_scal(size_t n, float alpha, float *x)
{
    cblas_sscal((blasint)n, alpha, x, 1);
}

float loom_nrm2(size_t n, const float *x)
{
    return cblas_snrm2((blasint)n, x, 1);
}

/* OpenBLAS's pthread build starts its worker threads when it loads, and
 * an idle worker spins on sched_yield for about 2^28 cycles before it
 * sleeps: a whole core for the first 0.1 s of every process, which
 * competes with loom's own threads. When BLAS is to run on one thread the
 * pool is shut down (OpenBLAS restarts it by itself if more threads are
 * asked for later). A weak reference: other builds lack the symbol. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void loom_blas_set_threads(int n)
{
    if (n <= 0)
        n = openblas_get_num_procs();
    /* OpenBLAS 0.3.21 starts its thread pool again on every
     * openblas_set_num_threads (and the shutdown below ends it): a thread
     * created and joined per call, and concurrent callers (a server's
     * batch workers) would race in the pool. An unchanged count is left
     * alone. */
    if (n == openblas_get_num_threads())
        return;
    openblas_set_num_threads(n);
    if (n == 1 && blas_thread_shutdown_)
        blas_thread_shutdown_();
}

int loom_blas_threads(void)
{
    return openblas_get_num_threads();
}

const char *loom_blas_core(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "?";
}

/* Kernel sets of OpenBLAS's x86 DYNAMIC_ARCH builds that use no AVX2. */
static int generic_core(const char *name)
{
    static const char *const generic[] = {
        "Prescott",   "Core2",     "Penryn", "Dunnington", "Nehalem", "Atom",      "Nano", "Katmai",
        "Coppermine", "Northwood", "Banias", "Athlon",     "Opteron", "Barcelona", NULL};
    for (int i = 0; generic[i]; i++)
        if (strcasecmp(name, generic[i]) == 0 ||
            strncasecmp(name, generic[i], strlen(generic[i])) == 0)
            return 1;
    return 0;
}

const char *loom_blas_better_core(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE") || !generic_core(loom_blas_core()))
        return NULL;
    /* the level loom's own kernels run at (vmath.h: LOOM_NO_AVX2 and
     * LOOM_NO_AVX512 lower it), then what OpenBLAS's kernel sets need
     * beyond it */
    loom_simd level = loom_simd_level();
    if (level < LOOM_SIMD_AVX2)
        return NULL;
    /* __builtin_cpu_supports checks that the OS saves the AVX-512 state too */
    if (level < LOOM_SIMD_AVX512 || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
        return "Haswell";
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5))) /* AVX512_BF16 */
        return "Cooperlake";
    return "SkylakeX";
#else
    return NULL;
#endif
}

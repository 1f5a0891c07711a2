/* loom: the row-major float32 wrappers of blas.h over OpenBLAS's cblas.
 * This is the only file of the core that includes cblas.h. */
#include "core/blas.h"

#include <cblas.h>

void loom_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
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
    openblas_set_num_threads(n);
    if (n == 1 && blas_thread_shutdown_)
        blas_thread_shutdown_();
}

int loom_blas_threads(void)
{
    return openblas_get_num_threads();
}

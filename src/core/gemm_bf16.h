/* loom: matrix products in bfloat16 with float32 accumulation, for the
 * CPUs whose AVX-512 has the BF16 dot product (vdpbf16ps: 32 products per
 * instruction, twice the float32 FMA's). Whether that is faster depends on
 * the CPU: on the Xeon of family 6 model 207 this was written on,
 * vdpbf16ps peaks at 78 GFLOP/s where OpenBLAS's sgemm reaches 90-130, so
 * this kernel (40-60 GFLOP/s) is the slower one there (scripts/bench-bf16);
 * it is for CPUs where bf16 runs at twice the float32 rate. OpenBLAS 0.3.21
 * as Debian builds it has no sbgemm, so this is the core's own kernel:
 * operands are read as float32 (the master copy), rounded to bfloat16
 * (nearest even) while they are packed into the
 * kernel's panels, multiplied in pairs and summed in float32. A private
 * header of the core, not installed.
 *
 * Precision: each operand keeps 8 significant bits (relative rounding
 * error up to 2^-8), products and sums are float32, so a result differs
 * from the exact product by at most about 2^-7 of the sum of |a_ik b_kj|
 * (tests/test_bf16.c checks that bound); it is
 * for training's large products (opt-in, `--precision bf16`), never for
 * results that must be bit-reproducible across precisions. */
#ifndef LOOM_CORE_GEMM_BF16_H
#define LOOM_CORE_GEMM_BF16_H

#include <stdint.h>

/* 1 when this CPU (and the environment: LOOM_NO_AVX512 turns it off) runs
 * the bfloat16 kernel. */
int loom_gemm_bf16_available(void);

/* As loom_gemm (core/blas.h): C = alpha op(A) op(B) + beta C, row-major,
 * with op(A) and op(B) rounded to bfloat16. Where the kernel is not
 * available, or its packing buffers cannot be had, the float32 product
 * runs instead (loom_sgemm). */
void loom_gemm_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                    int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The bfloat16 nearest to x (ties to even), as its 16 bits; NaN stays NaN. */
static inline uint16_t loom_bf16_round(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {x};
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((v.u >> 16) | 0x40u);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

/* The float a bfloat16's bits stand for. */
static inline float loom_bf16_float(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

#endif

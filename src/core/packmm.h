/* loom: Y = X W + b for a W that stays fixed while X changes: a decoder's
 * output layer (K x vocabulary) at decode time, multiplied by a few rows
 * (a beam, a batch of greedy hypotheses, what loom serve gathered) every
 * step. sgemm packs all of W on every call (perf on loom serve's translate
 * load: 46% of the server's CPU in OpenBLAS packing the 320 x 8,000 output
 * matrix), and the few-row kernel of smallmm.h reads W's rows a page apart.
 * Here W is packed once (loom_packw_new, at model load) into panels of
 * LOOM_PACKW_NR columns, each panel K x NR floats in one contiguous run;
 * the product streams the panels once per call, all of X's rows against
 * each panel while it is in cache.
 *
 * Every output is sum_k X[m][k] W[k][j] accumulated in k order from zero,
 * then b[j] added: the same result for a row whatever the other rows are
 * (batch-independent), and at the AVX2 and AVX-512 levels (one fused
 * multiply-add per k) the same bits at both levels. The portable level
 * (no FMA) differs from them by rounding only. A private header of the
 * core, not installed. */
#ifndef LOOM_CORE_PACKMM_H
#define LOOM_CORE_PACKMM_H

#include "core/vmath.h"

#include <stddef.h>

#define LOOM_PACKW_NR 32 /* columns per panel */

typedef struct loom_packw loom_packw;

/* Packs W (K, N), rows ldw floats apart (ldw >= N), into a new *out.
 * Returns 0 or LOOM_ENOMEM (or LOOM_EINVAL for K or N < 1). */
int loom_packw_new(loom_packw **out, const float *W, int K, int N, int ldw);
/* The same from W's transpose T (N, K), rows ldt floats apart (ldt >= K):
 * X T^T, as scores of queries X against the rows of T. */
int loom_packw_new_t(loom_packw **out, const float *T, int K, int N, int ldt);
/* Packs columns cols[0..n) of W (K, N), rows ldw floats apart, as the
 * columns of a K x n matrix, in one pass over W (no gathered copy): a
 * decoder's output layer over a vocabulary shortlist's candidates. The
 * same bits as gathering those columns into a matrix and packing it with
 * loom_packw_new. Returns 0, LOOM_ENOMEM, or LOOM_EINVAL for K or n < 1,
 * ldw < N or a column outside [0, N). */
int loom_packw_new_cols(loom_packw **out, const float *W, int K, int N, int ldw, const int *cols,
                        int n);
/* Packs p again from a matrix of the shape it was made for: W (K, N), rows
 * ld floats apart, when p came from loom_packw_new (trans 0), or its
 * transpose T (N, K) when p came from loom_packw_new_t (trans 1); the same
 * panels as a new pack, without allocating (a training pass packs the
 * weights anew after each update). Not for loom_packw_new_cols's packs. */
void loom_packw_refill(loom_packw *p, const float *W, int ld, int trans);
/* accepts NULL */
void loom_packw_free(loom_packw *p);
int loom_packw_rows(const loom_packw *p); /* K */
int loom_packw_cols(const loom_packw *p); /* N */

/* Y (M, N) = X (M, K) W + b, X's rows ldx floats apart and Y's ldy; b is
 * NULL (no bias) or N floats. Y must not overlap X. Any M >= 0. */
void loom_packw_mm(const loom_packw *p, int M, const float *X, int ldx, const float *b, float *Y,
                   int ldy);
/* Columns [j0, j0 + n) of X W (no bias) into Y's columns [0, n); j0 a
 * multiple of LOOM_PACKW_NR and j0 + n <= N (else nothing is done): a
 * search over a chunk of the columns. */
void loom_packw_mm_cols(const loom_packw *p, int M, const float *X, int ldx, float *Y, int ldy,
                        int j0, int n);
/* The same at a given level (at most the CPU's: a higher one runs the
 * CPU's own), so that the tests compare each path with the others. */
void loom_packw_mm_level(loom_simd level, const loom_packw *p, int M, const float *X, int ldx,
                         const float *b, float *Y, int ldy);

#endif

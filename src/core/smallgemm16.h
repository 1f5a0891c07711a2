/* loom: the few-row product's sixteen-lane tiles (smallgemm.c), written
 * once over a handful of vector operations and included twice: on
 * AVX-512F, the path loom_mm_rows takes on such CPUs; and on AVX2, each
 * vector a pair of 8-float halves, which no product takes but which runs
 * this very code (its tiling, row groups and masked last vector) on CPUs
 * without AVX-512, where the tests compare it with the AVX2 tiles. No
 * include guard: smallgemm.c includes it once per instance, after
 * defining
 *   S16(name)       the instance's name for `name`
 *   S16_TARGET      its target attribute
 *   V16, M16        a vector of 16 floats, a mask of its lanes
 *   v16_zero(), v16_load(p), v16_loadm(p, mk), v16_set1(x),
 *   v16_mul(a, b), v16_fma(a, b, c) (a b + c, one rounding),
 *   v16_store(p, v), v16_storem(p, mk, v), m16_first(n) (lanes [0, n))
 * A masked load or store touches no memory outside its lanes. It #undefs
 * them all at its end, ready for the next instance.
 *
 * Each column's sum is the AVX2 tiles' to the bit: y (or beta y, or 0),
 * then one fused multiply-add per k in k order. */

/* Columns [j, j + 16 NV) of M rows, the last vector's lanes in mask when
 * tail. Up to 8 rows x 2 vectors: 16 accumulators, 2 weights and a
 * broadcast of AVX-512's 32 registers. */
S16_TARGET static inline __attribute__((always_inline)) void
S16(tile)(const int M, const int NV, int K, const float *X, int ldx, const float *W, int ldw,
          float beta, float *Y, int ldy, M16 mask, int tail)
{
    V16 acc[8][2];
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            const float *y = Y + (size_t)m * ldy + 16 * v;
            V16 a = beta == 0.0f          ? v16_zero()
                    : tail && v == NV - 1 ? v16_loadm(y, mask)
                                          : v16_load(y);
            acc[m][v] = beta == 1.0f || beta == 0.0f ? a : v16_mul(a, v16_set1(beta));
        }
    for (int k = 0; k < K; k++) {
        const float *wk = W + (size_t)k * ldw;
        V16 w[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            w[v] = tail && v == NV - 1 ? v16_loadm(wk + 16 * v, mask) : v16_load(wk + 16 * v);
#pragma GCC unroll 8
        for (int m = 0; m < M; m++) {
            V16 x = v16_set1(X[(size_t)m * ldx + k]);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[m][v] = v16_fma(x, w[v], acc[m][v]);
        }
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            float *y = Y + (size_t)m * ldy + 16 * v;
            if (tail && v == NV - 1)
                v16_storem(y, mask, acc[m][v]);
            else
                v16_store(y, acc[m][v]);
        }
}

#define S16_TILES(M)                                                                               \
    S16_TARGET static void S16(tile_##M##_2)(int K, const float *X, int ldx, const float *W,       \
                                             int ldw, float beta, float *Y, int ldy, M16 mask,     \
                                             int tail)                                             \
    {                                                                                              \
        S16(tile)(M, 2, K, X, ldx, W, ldw, beta, Y, ldy, mask, tail);                              \
    }                                                                                              \
    S16_TARGET static void S16(tile_##M##_1)(int K, const float *X, int ldx, const float *W,       \
                                             int ldw, float beta, float *Y, int ldy, M16 mask,     \
                                             int tail)                                             \
    {                                                                                              \
        S16(tile)(M, 1, K, X, ldx, W, ldw, beta, Y, ldy, mask, tail);                              \
    }
S16_TILES(1)
S16_TILES(2)
S16_TILES(3)
S16_TILES(4)
S16_TILES(5)
S16_TILES(6)
S16_TILES(7)
S16_TILES(8)
#undef S16_TILES

/* M (1..8) rows: 32 columns at a time, then 17-31 as a whole vector and a
 * masked one, or 1-16 as one vector, masked when short */
S16_TARGET static void S16(mm_rows)(int M, int N, int K, const float *X, int ldx, const float *W,
                                    int ldw, float beta, float *Y, int ldy)
{
    typedef void tile16_fn(int, const float *, int, const float *, int, float, float *, int, M16,
                           int);
    static tile16_fn *const wide[9] = {NULL,          S16(tile_1_2), S16(tile_2_2),
                                       S16(tile_3_2), S16(tile_4_2), S16(tile_5_2),
                                       S16(tile_6_2), S16(tile_7_2), S16(tile_8_2)};
    static tile16_fn *const narrow[9] = {NULL,          S16(tile_1_1), S16(tile_2_1),
                                         S16(tile_3_1), S16(tile_4_1), S16(tile_5_1),
                                         S16(tile_6_1), S16(tile_7_1), S16(tile_8_1)};
    M16 all = m16_first(16);
    int j = 0;
    for (; j + 32 <= N; j += 32)
        wide[M](K, X, ldx, W + j, ldw, beta, Y + j, ldy, all, 0);
    int r = N - j;
    if (r > 16)
        wide[M](K, X, ldx, W + j, ldw, beta, Y + j, ldy, m16_first(r - 16), 1);
    else if (r > 0)
        narrow[M](K, X, ldx, W + j, ldw, beta, Y + j, ldy, m16_first(r), r < 16);
}

#undef S16
#undef S16_TARGET
#undef V16
#undef M16
#undef v16_zero
#undef v16_load
#undef v16_loadm
#undef v16_set1
#undef v16_mul
#undef v16_fma
#undef v16_store
#undef v16_storem
#undef m16_first

/* bf16 linear layers, y (M, N) = x (M, K) · Wᵀ + b, on CPUs with AVX-512 BF16 dot products.
 *
 * The weight is packed once (linear.py) in blocks of 16 output features: block j holds, for every
 * pair of input features (k, k+1), the 16 features' two weights side by side, so one 64-byte load
 * is the right-hand side of one VDPBF16PS for 16 outputs, and each x pair is a 4-byte broadcast.
 * Tiles of up to 8 rows × 64 features keep their sums in 32 registers' worth of accumulators; the
 * weights stream from memory once per 8 rows (from cache for the next 8). At the 1–16 rows of a
 * decode step that is a pass over the weights at close to the read bandwidth, where oneDNN's packed
 * GEMM reaches about half of it. Sums are fp32 (the bf16 products are exact), the bias is added in
 * fp32, and the result is rounded to bf16 once, to nearest even.
 */
#include <stdint.h>

#include "dispatch.h"

#define BLOCK 16   /* output features per packed block (one zmm of fp32 sums) */
#define GROUP 4    /* blocks per task: 64 features */
#define MAX_TILE_ROWS 8

#if defined(LMSTACK_X86)
#include <immintrin.h>

#define T_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* One tile: ROWS rows (≤ 8) × NB blocks (≤ 4) over all K/2 input pairs. ROWS and NB are constants
 * at every call, so the accumulators live in registers. */
static inline T_BF16 __attribute__((always_inline)) void tile(const uint16_t *restrict x, int64_t ldx, const int rows,
                                                              const uint16_t *restrict w, const int nb, int64_t pairs,
                                                              const float *restrict bias, uint16_t *restrict y,
                                                              int64_t ldy, int64_t n0, int64_t N) {
    __m512 acc[MAX_TILE_ROWS][GROUP];
    for (int m = 0; m < rows; ++m)
        for (int j = 0; j < nb; ++j) acc[m][j] = _mm512_setzero_ps();
    const int64_t block_stride = pairs * 2 * BLOCK;
    for (int64_t p = 0; p < pairs; ++p) {
        __m512bh wv[GROUP];
        for (int j = 0; j < nb; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w + j * block_stride + p * 2 * BLOCK);
        for (int m = 0; m < rows; ++m) {
            const __m512bh xb = (__m512bh)_mm512_set1_epi32(((const int32_t *)(x + m * ldx))[p]);
            for (int j = 0; j < nb; ++j) acc[m][j] = _mm512_dpbf16_ps(acc[m][j], xb, wv[j]);
        }
    }
    for (int j = 0; j < nb; ++j) {
        const int64_t n = n0 + j * BLOCK;
        if (n >= N) break;
        const __mmask16 mask = N - n >= BLOCK ? (__mmask16)0xffff : (__mmask16)((1u << (N - n)) - 1u);
        const __m512 b = bias != NULL ? _mm512_loadu_ps(bias + n) : _mm512_setzero_ps(); /* padded to the group */
        for (int m = 0; m < rows; ++m) {
            const __m256i out = (__m256i)_mm512_cvtneps_pbh(_mm512_add_ps(acc[m][j], b));
            _mm256_mask_storeu_epi16(y + m * ldy + n, mask, out);
        }
    }
}

#define TILE_CASE(R, NB) \
    case R: tile(x, ldx, R, w, NB, pairs, bias, y, ldy, n0, N); break;

/* rows (1..8) × one group of 4 blocks starting at feature n0: 4 blocks at once up to 4 rows, else 2 by 2. */
static T_BF16 void group(const uint16_t *restrict x, int64_t ldx, int rows, const uint16_t *restrict w, int64_t pairs,
                         const float *restrict bias, uint16_t *restrict y, int64_t ldy, int64_t n0, int64_t N) {
    if (rows <= 4) {
        switch (rows) { TILE_CASE(1, 4) TILE_CASE(2, 4) TILE_CASE(3, 4) TILE_CASE(4, 4) }
        return;
    }
    for (int half = 0; half < 2; ++half, w += 2 * pairs * 2 * BLOCK, n0 += 2 * BLOCK) {
        if (n0 >= N) break;
        switch (rows) { TILE_CASE(5, 2) TILE_CASE(6, 2) TILE_CASE(7, 2) TILE_CASE(8, 2) }
    }
}

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}
#else
static int supported(void) { return 0; }
#endif

/* 1 where this CPU runs lmstack_linear_bf16 (AVX-512 BF16), else 0. */
int lmstack_linear_supported(void) { return supported(); }

/* x (M, K) bf16 with row stride ldx (K even, x's rows 4-byte aligned); packed: the weight as
 * linear.py packs it, (ceil(N/64)·4, K/2, 16, 2) bf16, zero past N; bias: fp32, padded to a multiple
 * of 64, or NULL; y (M, N) bf16 with row stride ldy. Returns 0, or -2 where the CPU lacks AVX-512
 * BF16 or K is odd. */
int lmstack_linear_bf16(const uint16_t *x, int64_t M, int64_t ldx, int64_t K, const uint16_t *packed, const float *bias,
                        int64_t N, uint16_t *y, int64_t ldy, int threads) {
    if (!supported() || K % 2 != 0) return -2;
#if defined(LMSTACK_X86)
    const int64_t pairs = K / 2, groups = (N + GROUP * BLOCK - 1) / (GROUP * BLOCK);
    /* Groups handed out two at a time: a thread the event loop or another process preempts holds up
     * two groups, not half the matrix (as a static split would) — the cores are shared with HTTP. */
    _Pragma("omp parallel for schedule(dynamic, 2) num_threads(threads)")
    for (int64_t g = 0; g < groups; ++g) {
        const uint16_t *w = packed + g * GROUP * pairs * 2 * BLOCK;
        for (int64_t m0 = 0; m0 < M; m0 += MAX_TILE_ROWS) {
            const int rows = M - m0 < MAX_TILE_ROWS ? (int)(M - m0) : MAX_TILE_ROWS;
            group(x + m0 * ldx, ldx, rows, w, pairs, bias, y + m0 * ldy, ldy, g * GROUP * BLOCK, N);
        }
    }
#endif
    return 0;
}

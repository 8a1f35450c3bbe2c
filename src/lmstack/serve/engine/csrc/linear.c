/* bf16 linear layers, y (M, N) = x (M, K) · Wᵀ + b, on CPUs with AVX-512 BF16 dot products.
 *
 * The weight is packed once (linear.py) in blocks of 16 output features: block j holds, for every
 * pair of input features (k, k+1), the 16 features' two weights side by side, so one 64-byte load
 * is the right-hand side of one VDPBF16PS for 16 outputs, and each x pair is a 4-byte broadcast.
 * Tiles of up to 6 rows × 64 features keep their sums in 24 registers; from 4 rows on the weights
 * are prefetched ahead of the loads. More than 6 rows go in panels of up to 64 rows, each over the
 * input pairs in chunks: a chunk of weights comes from memory once and serves every 6-row tile of
 * the panel from L1. At the 1–16 rows of a decode step that is one pass over the weights at close
 * to the read bandwidth, where oneDNN's packed GEMM reaches about half of it. Sums are fp32 (the bf16 products are exact), the bias is added in
 * fp32, and the result is rounded to bf16 once, to nearest even.
 */
#include <stdint.h>

#include "dispatch.h"

#define BLOCK 16   /* output features per packed block (one zmm of fp32 sums) */
#define GROUP 4    /* blocks per task: 64 features */
#define MAX_TILE_ROWS 6 /* rows per tile: 6 × 4 accumulators */
#define AHEAD 48        /* input pairs the weight prefetch runs ahead of the loads */
#define PREFETCH_ROWS 4 /* tiles of this many rows and more prefetch their weights */
#define PANEL 64        /* rows that share one chunk of weights from L1 */
#define CHUNK 64        /* input pairs per chunk: 4 blocks × 64 pairs × 64 bytes = 16 KB of weights */

#if defined(LMSTACK_X86)
#include <immintrin.h>

#define T_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* One tile: ROWS rows (≤ 6) × NB blocks (≤ 4) over input pairs [p0, p1). ROWS and NB are constants
 * at every call, so the accumulators live in registers. A product of more than 6 rows goes over the
 * pairs in chunks, every row tile per chunk, so each chunk of weights comes from memory once and is
 * reused from L1: `part` (rows × 64 fp32, NULL for one chunk) carries a tile's sums from one chunk
 * to the next; the first chunk starts from zero and the last one writes y. */
static inline T_BF16 __attribute__((always_inline)) void tile(const uint16_t *restrict x, int64_t ldx, const int rows,
                                                              const uint16_t *restrict w, const int nb,
                                                              int64_t block_stride, int64_t p0, int64_t p1,
                                                              const float *restrict bias, uint16_t *restrict y,
                                                              int64_t ldy, int64_t n0, int64_t N, float *restrict part,
                                                              int first, int last) {
    __m512 acc[MAX_TILE_ROWS][GROUP];
    for (int m = 0; m < rows; ++m)
        for (int j = 0; j < nb; ++j)
            acc[m][j] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + m * GROUP * BLOCK + j * BLOCK);
    for (int64_t p = p0; p < p1; ++p) {
        __m512bh wv[GROUP];
        for (int j = 0; j < nb; ++j) {
            /* from 2 rows on the hardware prefetcher alone keeps too few lines in flight per stream */
            if (rows >= PREFETCH_ROWS)
                _mm_prefetch((const char *)(w + j * block_stride + (p + AHEAD) * 2 * BLOCK), _MM_HINT_T0);
            wv[j] = (__m512bh)_mm512_loadu_si512(w + j * block_stride + p * 2 * BLOCK);
        }
        for (int m = 0; m < rows; ++m) {
            const __m512bh xb = (__m512bh)_mm512_set1_epi32(((const int32_t *)(x + m * ldx))[p]);
            for (int j = 0; j < nb; ++j) acc[m][j] = _mm512_dpbf16_ps(acc[m][j], xb, wv[j]);
        }
    }
    if (!last) {
        for (int m = 0; m < rows; ++m)
            for (int j = 0; j < nb; ++j) _mm512_store_ps(part + m * GROUP * BLOCK + j * BLOCK, acc[m][j]);
        return;
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

#define TILE_CASE(R)                                                                                         \
    case R: tile(x, ldx, R, w, GROUP, block_stride, p0, p1, bias, y, ldy, n0, N, part, first, last); break;

/* rows (1..6) × one group of 4 blocks starting at feature n0, pairs [p0, p1): 24 sums in registers
 * at 6 rows, 4 weight loads and 6 broadcasts per 24 dot products. */
static T_BF16 void group(const uint16_t *restrict x, int64_t ldx, int rows, const uint16_t *restrict w,
                         int64_t block_stride, int64_t p0, int64_t p1, const float *restrict bias,
                         uint16_t *restrict y, int64_t ldy, int64_t n0, int64_t N, float *restrict part, int first,
                         int last) {
    switch (rows) { TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6) }
}

/* One group of 64 features for all M rows: up to 6 rows in one pass over the pairs; more in row
 * blocks of up to PANEL rows, each over the pairs in chunks of CHUNK with every 6-row tile per chunk. */
static T_BF16 void rows_of_group(const uint16_t *x, int64_t M, int64_t ldx, const uint16_t *w, int64_t pairs,
                                 const float *bias, uint16_t *y, int64_t ldy, int64_t n0, int64_t N) {
    const int64_t block_stride = pairs * 2 * BLOCK;
    if (M <= MAX_TILE_ROWS) {
        group(x, ldx, (int)M, w, block_stride, 0, pairs, bias, y, ldy, n0, N, NULL, 1, 1);
        return;
    }
    float part[PANEL * GROUP * BLOCK] __attribute__((aligned(64)));
    const int64_t chunk = M > PANEL ? 2 * CHUNK : CHUNK; /* measured: longer chunks pay off at prompt sizes */
    for (int64_t r0 = 0; r0 < M; r0 += PANEL) {
        const int64_t panel = M - r0 < PANEL ? M - r0 : PANEL;
        for (int64_t p0 = 0; p0 < pairs; p0 += chunk) {
            const int64_t p1 = pairs - p0 < chunk ? pairs : p0 + chunk;
            for (int64_t m0 = r0; m0 < r0 + panel; m0 += MAX_TILE_ROWS) {
                const int rows = r0 + panel - m0 < MAX_TILE_ROWS ? (int)(r0 + panel - m0) : MAX_TILE_ROWS;
                group(x + m0 * ldx, ldx, rows, w, block_stride, p0, p1, bias, y + m0 * ldy, ldy, n0, N,
                      part + (m0 - r0) * GROUP * BLOCK, p0 == 0, p1 == pairs);
            }
        }
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
    for (int64_t g = 0; g < groups; ++g)
        rows_of_group(x, M, ldx, packed + g * GROUP * pairs * 2 * BLOCK, pairs, bias, y, ldy, g * GROUP * BLOCK, N);
#endif
    return 0;
}

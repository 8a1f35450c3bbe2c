/* bf16 linear layers, y (M, N) = x (M, K) · Wᵀ + b, on CPUs with AMX tiles (AMX-TILE, AMX-BF16).
 *
 * The same packed weight as linear.c: block j holds, for every pair of input features, the 16
 * features' two weights side by side. Sixteen consecutive pairs of a block are 16 rows of 64 bytes,
 * which is exactly the right-hand tile of TDPBF16PS (K pairs × 16 outputs × 2), so a block streams
 * from memory as contiguous 1 KB tiles with no repacking. A task takes 4 blocks (64 outputs) and up
 * to 16 rows of x: four fp32 sum tiles (16 rows × 16 outputs each), one tile of x (16 rows × 32
 * inputs), weight tiles loaded in turn. The sums go through a small buffer to the same epilogue as
 * linear.c: fp32 bias added, rounded to bf16 once, to nearest even. A product of up to 16 rows (a
 * decode step) reads every weight from memory once and prefetches the next tile step's four weight
 * tiles while it computes: 3-4% less time than the hardware prefetcher alone on a 2-core Xeon. Longer
 * inputs gained nothing from it (their later row tiles find the weights in L2) and lost at 64 rows.
 *
 * A longer input makes one pass over a group's weights per 16 rows: the first pass waits on memory,
 * the others compute from L2. So while a group computes, a share of the next group's weights is
 * fetched into L2 with every tile step, and that group's first pass finds them there. For that each
 * thread must know its next group: the groups are split into one contiguous range per thread, the
 * owner takes from the front of its range and a thread that runs out steals from the back of the
 * others' (a preempted core's work still gets done). Against two groups at a time with no fetch ahead,
 * on a 2-core Xeon shared with other tenants (interleaved runs): 1.07-1.20x at 128 rows, a median of
 * 1.07x at 256-272 rows (0.94-1.17x over twelve runs); a static split without stealing lost up to
 * 0.74x there whenever one core was slowed.
 *
 * Linux hands out the tile registers' state only on request (arch_prctl ARCH_REQ_XCOMP_PERM); the
 * first call asks, and the kernel reports itself unsupported where that is refused.
 */
#include <stdint.h>

#include "dispatch.h"

#define BLOCK 16        /* output features per packed block (one tile's 16 fp32 columns) */
#define GROUP 4         /* blocks per task: 64 features, four sum tiles */
#define TILE_ROWS 16    /* rows of x per tile */
#define TILE_PAIRS 16   /* input pairs per tile step: 32 bf16 = 64 bytes of each x row */
#define TILE_BYTES 1024 /* one weight tile: 16 pairs × 16 features × 2 bf16 */

#if defined(LMSTACK_X86)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <omp.h>

#include "amx_tiles.h"

#define T_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* Sum tiles 0-3 and x tile 4 hold `rows` rows; weight tiles 5-7 hold 16 pairs. */
static T_AMX void configure(int rows) {
    struct tile_config cfg __attribute__((aligned(64))) = {0};
    cfg.palette = 1;
    for (int t = 0; t < 5; ++t) {
        cfg.rows[t] = (uint8_t)rows;
        cfg.colsb[t] = 64;
    }
    for (int t = 5; t < 8; ++t) {
        cfg.rows[t] = TILE_PAIRS;
        cfg.colsb[t] = 64;
    }
    load_tile_config(&cfg);
}

/* One task: `rows` rows (≤ 16) × 4 blocks from feature n0, over all K/2 pairs (K/2 a multiple of 16);
 * `prefetch`: fetch each block's next weight tile into L1 ahead of its load; `pf`: fetch lines
 * [pf_first, pf_first + pf_step) of the next group's weights into L2 at the first tile step, the next
 * pf_step lines at the second, and so on, stopping at pf_end (NULL: none). */
static T_AMX void group(const uint16_t *restrict x, int64_t ldx, int rows, const uint16_t *restrict w, int64_t pairs,
                        const float *restrict bias, uint16_t *restrict y, int64_t ldy, int64_t n0, int64_t N,
                        float *restrict sums, int prefetch, const char *pf, int64_t pf_first, int64_t pf_step,
                        int64_t pf_end) {
    const int64_t block_stride = pairs * 2 * BLOCK; /* elements from one block to the next */
    const int64_t x_stride = ldx * 2;               /* bytes */
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t p = 0; p < pairs; p += TILE_PAIRS) {
        const uint16_t *wp = w + p * 2 * BLOCK;
        if (prefetch) /* past the last step it touches the next block's first tile, or the end: a hint, never a fault */
            for (int j = 0; j < GROUP; ++j)
                for (int line = 0; line < TILE_BYTES; line += 64)
                    _mm_prefetch((const char *)(wp + j * block_stride + TILE_PAIRS * 2 * BLOCK) + line, _MM_HINT_T0);
        if (pf != NULL) { /* a share of the next group's weights into L2 while this pass computes */
            const int64_t lo = pf_first + (p / TILE_PAIRS) * pf_step;
            const int64_t hi = lo + pf_step < pf_end ? lo + pf_step : pf_end;
            for (int64_t l = lo; l < hi; ++l) _mm_prefetch(pf + l * 64, _MM_HINT_T1);
        }
        _tile_loadd(4, x + p * 2, x_stride);
        _tile_loadd(5, wp, 64);
        _tile_loadd(6, wp + block_stride, 64);
        _tile_dpbf16ps(0, 4, 5);
        _tile_loadd(7, wp + 2 * block_stride, 64);
        _tile_dpbf16ps(1, 4, 6);
        _tile_loadd(5, wp + 3 * block_stride, 64);
        _tile_dpbf16ps(2, 4, 7);
        _tile_dpbf16ps(3, 4, 5);
    }
    /* sums[m][j·16 + f]: row m, block j, feature f */
    _tile_stored(0, sums, GROUP * BLOCK * 4);
    _tile_stored(1, sums + BLOCK, GROUP * BLOCK * 4);
    _tile_stored(2, sums + 2 * BLOCK, GROUP * BLOCK * 4);
    _tile_stored(3, sums + 3 * BLOCK, GROUP * BLOCK * 4);
    for (int j = 0; j < GROUP; ++j) {
        const int64_t n = n0 + j * BLOCK;
        if (n >= N) break;
        const __mmask16 mask = N - n >= BLOCK ? (__mmask16)0xffff : (__mmask16)((1u << (N - n)) - 1u);
        const __m512 b = bias != NULL ? _mm512_loadu_ps(bias + n) : _mm512_setzero_ps(); /* padded to the group */
        for (int m = 0; m < rows; ++m) {
            const __m512 s = _mm512_load_ps(sums + m * GROUP * BLOCK + j * BLOCK);
            const __m256i out = (__m256i)_mm512_cvtneps_pbh(_mm512_add_ps(s, b));
            _mm256_mask_storeu_epi16(y + m * ldy + n, mask, out);
        }
    }
}

static int ask_for_tiles(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    __builtin_cpu_init();
    if (!amx_bf16 || !amx_tile || !__builtin_cpu_supports("avx512bf16") || !__builtin_cpu_supports("avx512bw"))
        return 0;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

static int supported(void) {
    static int state = -1; /* racing first calls ask twice, which is harmless */
    if (state < 0) state = ask_for_tiles();
    return state;
}

/* Takes a group from a thread's range, packed as (front << 32) | back: its owner takes from the front,
 * other threads steal from the back. Returns 0 when the range is empty. */
static int take(uint64_t *range, int from_back, int64_t *group) {
    uint64_t old = __atomic_load_n(range, __ATOMIC_RELAXED);
    for (;;) {
        const uint32_t front = (uint32_t)(old >> 32), back = (uint32_t)old;
        if (front >= back) return 0;
        const uint64_t next = from_back ? (old & ~(uint64_t)0xffffffffu) | (back - 1) : old + ((uint64_t)1 << 32);
        if (__atomic_compare_exchange_n(range, &old, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            *group = from_back ? back - 1 : front;
            return 1;
        }
    }
}

/* Group g over all M rows, fetching group `next` into L2 meanwhile (-1: none). */
static T_AMX void one_group(const uint16_t *x, int64_t M, int64_t ldx, const uint16_t *packed, int64_t pairs,
                            const float *bias, uint16_t *y, int64_t ldy, int64_t N, int64_t g, int64_t next,
                            float *sums, int *configured) {
    const uint16_t *w = packed + g * GROUP * pairs * 2 * BLOCK;
    const int64_t passes = (M + TILE_ROWS - 1) / TILE_ROWS, steps = pairs / TILE_PAIRS;
    const int64_t lines = GROUP * pairs; /* 64-byte lines of one group's weights */
    const int64_t pf_step = (lines + passes * steps - 1) / (passes * steps);
    const char *pf = M > TILE_ROWS && next >= 0 ? (const char *)(packed + next * GROUP * pairs * 2 * BLOCK) : NULL;
    for (int64_t m0 = 0; m0 < M; m0 += TILE_ROWS) {
        const int rows = M - m0 < TILE_ROWS ? (int)(M - m0) : TILE_ROWS;
        if (rows != *configured) {
            configure(rows);
            *configured = rows;
        }
        group(x + m0 * ldx, ldx, rows, w, pairs, bias, y + m0 * ldy, ldy, g * GROUP * BLOCK, N, sums,
              M <= TILE_ROWS, pf, (m0 / TILE_ROWS) * steps * pf_step, pf_step, lines);
    }
}

#define MAX_THREADS 256 /* more threads than that take the groups two at a time, without the ranges */

static T_AMX void run(const uint16_t *x, int64_t M, int64_t ldx, int64_t K, const uint16_t *packed, const float *bias,
                      int64_t N, uint16_t *y, int64_t ldy, int threads) {
    const int64_t pairs = K / 2, groups = (N + GROUP * BLOCK - 1) / (GROUP * BLOCK);
    if (M <= TILE_ROWS || threads > MAX_THREADS) { /* one pass per group: nothing to fetch ahead for */
        _Pragma("omp parallel num_threads(threads)") {
            float sums[TILE_ROWS * GROUP * BLOCK] __attribute__((aligned(64)));
            int configured = -1;
            /* Groups handed out two at a time, as in linear.c: the cores are shared with HTTP. */
            _Pragma("omp for schedule(dynamic, 2)")
            for (int64_t g = 0; g < groups; ++g)
                one_group(x, M, ldx, packed, pairs, bias, y, ldy, N, g, -1, sums, &configured);
            if (configured >= 0) _tile_release();
        }
        return;
    }
    uint64_t ranges[MAX_THREADS];
    _Pragma("omp parallel num_threads(threads)") {
        float sums[TILE_ROWS * GROUP * BLOCK] __attribute__((aligned(64)));
        int configured = -1;
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const uint64_t lo = (uint64_t)(groups * t / nt), hi = (uint64_t)(groups * (t + 1) / nt);
        __atomic_store_n(&ranges[t], (lo << 32) | hi, __ATOMIC_RELAXED);
        _Pragma("omp barrier")
        int64_t g;
        while (take(&ranges[t], 0, &g)) {
            const uint64_t now = __atomic_load_n(&ranges[t], __ATOMIC_RELAXED);
            const int64_t next = (uint32_t)(now >> 32) < (uint32_t)now ? (int64_t)(now >> 32) : -1;
            one_group(x, M, ldx, packed, pairs, bias, y, ldy, N, g, next, sums, &configured);
        }
        for (int v = 1; v < nt; ++v) /* then steal from the others' far ends */
            while (take(&ranges[(t + v) % nt], 1, &g))
                one_group(x, M, ldx, packed, pairs, bias, y, ldy, N, g, -1, sums, &configured);
        if (configured >= 0) _tile_release();
    }
}
#else
static int supported(void) { return 0; }
#endif

/* 1 where this CPU and OS run lmstack_linear_amx_bf16, else 0. */
int lmstack_linear_amx_supported(void) { return supported(); }

/* As lmstack_linear_bf16 (linear.c), with K a multiple of 32. Returns 0, or -2 where the CPU or OS
 * gives no AMX tiles or K is not a multiple of 32. */
int lmstack_linear_amx_bf16(const uint16_t *x, int64_t M, int64_t ldx, int64_t K, const uint16_t *packed,
                            const float *bias, int64_t N, uint16_t *y, int64_t ldy, int threads) {
    if (!supported() || K % (2 * TILE_PAIRS) != 0) return -2;
#if defined(LMSTACK_X86)
    run(x, M, ldx, K, packed, bias, N, y, ldy, threads);
#endif
    return 0;
}

/* Causal attention of one prompt chunk over the engine's slot KV cache, on CPUs with AMX tiles.
 *
 * The same task as prompt_attention.c (32 query rows × the G query heads of one KV head, keys in
 * blocks, an online softmax), with both products on tiles. Per block of 32 keys:
 *   - scores S = Q·Kᵀ: the task's queries packed once as bf16 rows (the left-hand tiles, 16 queries ×
 *     32 dimensions), the block's K as bf16 pairs across 16 keys (the right-hand tiles' layout, the
 *     same packing as prompt_attention.c), two sum tiles of 16 queries × 16 keys per query tile;
 *   - the softmax in fp32 vectors (mask, scale, running maximum and sum per query), its weights P
 *     rounded to bf16 once, 16 queries × 32 keys: a left-hand tile as stored. The running maximum
 *     moves only when a score passes it by more than RESCALE, so most blocks need no horizontal
 *     maximum and no rescale, and the running sum is kept per lane (of the rounded weights, the ones
 *     P·V takes) with one horizontal sum per query at the end;
 *   - P·V: the block's V packed as bf16 pairs across keys (pairs of rows interleaved), 16 queries ×
 *     16 dimensions per sum tile, added into each query's fp32 sums after the running rescale.
 * Scores, the softmax and the sums are fp32; P in bf16 is the one rounding that prompt_attention.c
 * does not make (FlashAttention's on GPUs), ≤ 2⁻⁹ of each weight. On a 2-core Xeon with AMX a
 * 256-token chunk's attention runs at 300–440 GFLOP/s, 2.7–3.4× prompt_attention.c, and a 2,048-token
 * prompt of a 125M model prefills 1.4–1.6× faster (benchmarks/serve/long_prompt.py).
 *
 * The tile registers are granted as for linear_amx.c (`lmstack_linear_amx_supported`).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bf16.h"
#include "dispatch.h"
#include "key_pairs.h"
#include "softmax.h"

#define ROWS 32       /* query rows per task */
#define KB 32         /* keys per block: 32 bf16 weights per query make one 64-byte tile row */
#define MASKED -1e30f /* the score of a key a query does not see (fast-math: no infinities) */

int lmstack_linear_amx_supported(void);       /* linear_amx.c: the CPU has AMX-BF16 and the OS grants the tiles */
int lmstack_prompt_attention_supported(void); /* prompt_attention.c: AVX-512 BF16 */

#if defined(LMSTACK_X86)
#include <immintrin.h>

#include "amx_tiles.h"

#define T_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))

/* Every tile 16 rows of 64 bytes. */
static T_AMX void configure(void) {
    struct tile_config cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    load_tile_config(&cfg);
}

/* The element indexes that interleave two rows of 32 bf16 (a, b) into pairs (a[i], b[i]): i = 0..15
 * and i = 16..31, for _mm512_permutex2var_epi16. */
static const uint16_t INTERLEAVE[2][32] __attribute__((aligned(64))) = {
    {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39, 8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47},
    {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
     24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63},
};

/* A task's scratch, for np queries (a multiple of 16) of D dimensions. */
struct work {
    uint16_t *qp;  /* (np, D) the queries, bf16 */
    uint16_t *pb;  /* (np, KB) the block's weights, bf16 */
    uint32_t *kp;  /* (2, D/2, 16) the block's K: per half of 16 keys, bf16 pairs across the keys */
    uint16_t *vp;  /* (D/16, 16, 32) the block's V: per 16 dimensions, 16 key pairs × 16 (value, value) */
    float *s;      /* (np, KB) scores */
    float *o;      /* (np, D) running sums */
    float *tmp;    /* (16, D) one query tile's P·V */
    float *m, *alpha; /* (np) the running maximum the weights are taken against, the old sums' factor */
    float *l;         /* (np, 16) the running sum of the weights, per lane */
};

static void *alloc_work(struct work *w, int64_t np, int64_t D) {
    const size_t sizes[] = {(size_t)(np * D * 2), (size_t)(np * KB * 2), (size_t)(2 * D / 2 * 16 * 4),
                            (size_t)(D * KB * 2),  (size_t)(np * KB * 4), (size_t)(np * D * 4),
                            (size_t)(16 * D * 4),  (size_t)(np * 4),      (size_t)(np * 16 * 4), (size_t)(np * 4)};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) total += (sizes[i] + 63) / 64 * 64;
    char *base = aligned_alloc(64, total), *at = base;
    if (base == NULL) return NULL;
    void **parts[] = {(void **)&w->qp, (void **)&w->pb,  (void **)&w->kp, (void **)&w->vp, (void **)&w->s,
                      (void **)&w->o,  (void **)&w->tmp, (void **)&w->m,  (void **)&w->l,  (void **)&w->alpha};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) { /* 64-byte aligned pieces of one allocation */
        *parts[i] = at;
        at += (sizes[i] + 63) / 64 * 64;
    }
    return base;
}

/* The block's K and V from keys k0.. (nk of them; the rest of the block's 32 as zeros). */
static T_AMX void pack_block(const uint16_t *restrict k, const uint16_t *restrict v, int64_t k0, int64_t nk,
                             int64_t D, struct work *w) {
    for (int64_t h = 0; h < KB / 16; ++h) /* per 16 keys: one right-hand tile per 16 dimension pairs */
        pack_key_pairs(k + (k0 + 16 * h) * D, D, nk - 16 * h, w->kp + h * (D / 2) * 16);
    const __m512i lo = _mm512_load_si512(INTERLEAVE[0]), hi = _mm512_load_si512(INTERLEAVE[1]);
    for (int64_t jp = 0; jp < KB / 2; ++jp) {
        const int64_t j = 2 * jp;
        for (int64_t c = 0; c < D / 32; ++c) {
            const __m512i a = j < nk ? _mm512_loadu_si512(v + (k0 + j) * D + 32 * c) : _mm512_setzero_si512();
            const __m512i b = j + 1 < nk ? _mm512_loadu_si512(v + (k0 + j + 1) * D + 32 * c) : _mm512_setzero_si512();
            _mm512_store_si512(w->vp + (2 * c) * 512 + jp * 32, _mm512_permutex2var_epi16(a, lo, b));
            _mm512_store_si512(w->vp + (2 * c + 1) * 512 + jp * 32, _mm512_permutex2var_epi16(a, hi, b));
        }
    }
}

/* S (np × 32) = Q · Kᵀ for the block: per query tile, two sum tiles (keys 0-15, 16-31). */
static T_AMX void scores(int64_t np, int64_t D, struct work *w) {
    const int64_t pairs = D / 2;
    for (int64_t qt = 0; qt < np / 16; ++qt) {
        _tile_zero(0);
        _tile_zero(1);
        for (int64_t c = 0; c < D / 32; ++c) {
            _tile_loadd(2, w->qp + qt * 16 * D + c * 32, D * 2);
            _tile_loadd(3, w->kp + c * 16 * 16, 64);
            _tile_loadd(4, w->kp + (pairs + c * 16) * 16, 64);
            _tile_dpbf16ps(0, 2, 3);
            _tile_dpbf16ps(1, 2, 4);
        }
        _tile_stored(0, w->s + qt * 16 * KB, KB * 4);
        _tile_stored(1, w->s + qt * 16 * KB + 16, KB * 4);
    }
}

/* Four sum tiles of P·V: dimensions 16·n0 .. 16·n0 + 63 of the query tile in tile 2, into tmp. */
static inline T_AMX __attribute__((always_inline)) void values4(int64_t n0, int64_t D, struct work *w) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(5);
    _tile_zero(6);
    _tile_loadd(3, w->vp + (n0 + 0) * 512, 64);
    _tile_loadd(4, w->vp + (n0 + 1) * 512, 64);
    _tile_dpbf16ps(0, 2, 3);
    _tile_loadd(7, w->vp + (n0 + 2) * 512, 64);
    _tile_dpbf16ps(1, 2, 4);
    _tile_loadd(3, w->vp + (n0 + 3) * 512, 64);
    _tile_dpbf16ps(5, 2, 7);
    _tile_dpbf16ps(6, 2, 3);
    _tile_stored(0, w->tmp + (n0 + 0) * 16, D * 4);
    _tile_stored(1, w->tmp + (n0 + 1) * 16, D * 4);
    _tile_stored(5, w->tmp + (n0 + 2) * 16, D * 4);
    _tile_stored(6, w->tmp + (n0 + 3) * 16, D * 4);
}

/* One task: `rows` query rows (G heads each) at positions p0.. over keys [lo, hi] of one (slot, head)'s
 * K and V. q and out: row r, head g at r·ld + g·D. */
static T_AMX void task(const uint16_t *restrict q, uint16_t *restrict out, int64_t ld, const uint16_t *restrict k,
                       const uint16_t *restrict v, int64_t rows, int64_t G, int64_t D, int64_t p0, int64_t window,
                       float scale, struct work *w) {
    const int64_t nq = rows * G, np = (nq + 15) / 16 * 16;
    for (int64_t qi = 0; qi < np; ++qi) {
        if (qi < nq)
            memcpy(w->qp + qi * D, q + (qi / G) * ld + (qi % G) * D, (size_t)D * 2);
        else /* padding queries: scored, never weighted, never written */
            memset(w->qp + qi * D, 0, (size_t)D * 2), memset(w->pb + qi * KB, 0, KB * 2);
        w->m[qi] = MASKED;
        _mm512_storeu_ps(w->l + qi * 16, _mm512_setzero_ps());
    }
    memset(w->o, 0, (size_t)(np * D) * sizeof(float));
    const int64_t hi = p0 + rows - 1;
    const int64_t lo = window > 0 && p0 - window + 1 > 0 ? p0 - window + 1 : 0;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512 sc = _mm512_set1_ps(scale), masked = _mm512_set1_ps(MASKED);
    configure();
    for (int64_t k0 = lo - lo % KB; k0 <= hi; k0 += KB) {
        const int64_t nk = hi + 1 - k0 < KB ? hi + 1 - k0 : KB;
        pack_block(k, v, k0, nk, D, w);
        scores(np, D, w);
        const __m512i keys0 = _mm512_add_epi32(_mm512_set1_epi32((int32_t)k0), iota);
        const __m512i keys1 = _mm512_add_epi32(keys0, _mm512_set1_epi32(16));
        /* every query sees every key of the block: no masks (most blocks of a long prompt) */
        const int all_seen = k0 + KB - 1 <= p0 && (window == 0 || k0 >= hi - window + 1);
        for (int64_t qi = 0; qi < nq; ++qi) { /* online softmax: the block's weights, the old sums' factor */
            __mmask16 seen0 = 0xffff, seen1 = 0xffff;
            if (!all_seen) {
                const int64_t p = p0 + qi / G, first = window > 0 && p - window + 1 > 0 ? p - window + 1 : 0;
                const __m512i pv = _mm512_set1_epi32((int32_t)p), fv = _mm512_set1_epi32((int32_t)first);
                seen0 = _mm512_cmple_epi32_mask(keys0, pv) & _mm512_cmpge_epi32_mask(keys0, fv);
                seen1 = _mm512_cmple_epi32_mask(keys1, pv) & _mm512_cmpge_epi32_mask(keys1, fv);
            }
            const float *sq = w->s + qi * KB;
            const __m512 s0 = _mm512_mask_mul_ps(masked, seen0, _mm512_loadu_ps(sq), sc);
            const __m512 s1 = _mm512_mask_mul_ps(masked, seen1, _mm512_loadu_ps(sq + 16), sc);
            /* e^(s - m) against the running maximum m while no score passes m + RESCALE (softmax.h); a
             * score above it (and the first seen key) moves m to the block's maximum */
            float top = w->m[qi], alpha = 1.0f;
            const __m512 limit = _mm512_set1_ps(top + RESCALE);
            if (_mm512_cmp_ps_mask(s0, limit, _CMP_GT_OQ) | _mm512_cmp_ps_mask(s1, limit, _CMP_GT_OQ)) {
                const float block_top = _mm512_reduce_max_ps(_mm512_max_ps(s0, s1));
                alpha = top <= MASKED ? 0.0f : expf(top - block_top);
                w->m[qi] = top = block_top;
            }
            const __m512 t = _mm512_set1_ps(top);
            const __m512 e0 = _mm512_maskz_mov_ps(seen0, exp16(_mm512_sub_ps(s0, t)));
            const __m512 e1 = _mm512_maskz_mov_ps(seen1, exp16(_mm512_sub_ps(s1, t)));
            const __m512i pq = (__m512i)_mm512_cvtne2ps_pbh(e1, e0); /* keys 0-15 in the low half */
            _mm512_storeu_si512(w->pb + qi * KB, pq);
            w->alpha[qi] = alpha;
            /* the sum of the weights as rounded, the ones P·V takes; kept per lane: one horizontal sum
             * per query, at the end */
            const __m512 r0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(pq)), 16));
            const __m512 r1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(pq, 1)), 16));
            float *lq = w->l + qi * 16;
            _mm512_storeu_ps(lq, _mm512_fmadd_ps(_mm512_set1_ps(alpha), _mm512_loadu_ps(lq), _mm512_add_ps(r0, r1)));
        }
        for (int64_t qt = 0; qt < np / 16; ++qt) {
            _tile_loadd(2, w->pb + qt * 16 * KB, KB * 2);
            for (int64_t n0 = 0; n0 < D / 16; n0 += 4) values4(n0, D, w);
            const int64_t end = nq < (qt + 1) * 16 ? nq : (qt + 1) * 16;
            for (int64_t qi = qt * 16; qi < end; ++qi) {
                const __m512 a = _mm512_set1_ps(w->alpha[qi]);
                float *oq = w->o + qi * D;
                const float *tq = w->tmp + (qi - qt * 16) * D;
                for (int64_t c = 0; c < D; c += 16)
                    _mm512_storeu_ps(oq + c, _mm512_fmadd_ps(a, _mm512_loadu_ps(oq + c), _mm512_loadu_ps(tq + c)));
            }
        }
    }
    for (int64_t qi = 0; qi < nq; ++qi) {
        uint16_t *restrict dst = out + (qi / G) * ld + (qi % G) * D;
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_loadu_ps(w->l + qi * 16)));
        for (int64_t c = 0; c < D; c += 16) /* round to nearest even, as float_to_bf16 */
            _mm256_storeu_si256((__m256i *)(dst + c),
                                (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(w->o + qi * D + c), inv)));
    }
}

static T_AMX int run(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *out, int64_t L, int64_t H,
                     int64_t G, int64_t D, int64_t C, int64_t slot, int64_t start, int64_t window, float scale,
                     int threads) {
    const int64_t blocks = (L + ROWS - 1) / ROWS, tasks = blocks * H, ld = H * G * D;
    int failed = 0;
    _Pragma("omp parallel num_threads(threads) reduction(| : failed)") {
        int used = 0;
        /* the last rows see the most keys: they go first */
        _Pragma("omp for schedule(dynamic, 1)")
        for (int64_t t = 0; t < tasks; ++t) {
            const int64_t block = blocks - 1 - t / H, h = t % H, r0 = block * ROWS;
            const int64_t rows = L - r0 < ROWS ? L - r0 : ROWS;
            struct work w;
            void *base = alloc_work(&w, (rows * G + 15) / 16 * 16, D);
            if (base == NULL) {
                failed = 1;
                continue;
            }
            const uint16_t *kh = k + (slot * H + h) * C * D, *vh = v + (slot * H + h) * C * D;
            task(q + r0 * ld + h * G * D, out + r0 * ld + h * G * D, ld, kh, vh, rows, G, D, start + r0, window, scale,
                 &w);
            used = 1;
            free(base);
        }
        if (used) _tile_release();
    }
    return failed;
}
#endif

/* 1 where this CPU and OS run lmstack_prompt_attention_amx_bf16 (AMX-BF16 tiles granted, AVX-512 BF16). */
int lmstack_prompt_attention_amx_supported(void) {
    return lmstack_prompt_attention_supported() && lmstack_linear_amx_supported();
}

/* As lmstack_prompt_attention_bf16 (prompt_attention.c), on AMX tiles. Returns 0; -2 (nothing written)
 * where the tiles are not granted, D is not 64 or 128, or the chunk does not fit the cache; -1 where
 * scratch memory is short. */
int lmstack_prompt_attention_amx_bf16(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *out,
                                      int64_t L, int64_t S, int64_t H, int64_t G, int64_t D, int64_t C, int64_t slot,
                                      int64_t start, int64_t window, float scale, int threads) {
    if (!lmstack_prompt_attention_amx_supported() || (D != 64 && D != 128) || L < 1 || G < 1 || H < 1 || slot < 0 ||
        slot >= S || start < 0 || start + L > C || window < 0)
        return -2;
#if defined(LMSTACK_X86)
    return run(q, k, v, out, L, H, G, D, C, slot, start, window, scale, threads) ? -1 : 0;
#else
    (void)q, (void)k, (void)v, (void)out, (void)scale, (void)threads;
    return -2;
#endif
}

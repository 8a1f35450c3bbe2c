/* Causal attention of one prompt chunk over the engine's slot KV cache, in blocks, on CPUs with
 * AVX-512 BF16.
 *
 * A prompt chunk of L tokens at positions start.. of one slot: token r sees the keys [lo_r, start + r]
 * of that slot (lo_r = 0, or start + r - W + 1 with a sliding window W), all written to the cache
 * before the call. decode_attention.c serves these rows one at a time, each reading its K and V
 * again: for long prompts attention then costs a large part of the prefill (a 2,048-token prompt of a
 * 125M model: 39%). Here a task is 32 rows × the G query heads of one KV head, and takes the keys in
 * blocks of 16, FlashAttention's way: the block's K packed once as bf16 pairs across its 16 keys, so
 * that one VDPBF16PS gives 16 keys' partial scores for one query (no horizontal sums), its V
 * converted to fp32 once, both reused by the task's 96 queries (G = 3); a running maximum and sum per
 * query make the softmax one pass. Scores, softmax and the weighted sums are fp32 (the bf16 products
 * are exact); the output is rounded to bf16 once, to nearest even. On 2 Zen 4 cores a 256-token
 * chunk runs at ~185 GFLOP/s against the row kernel's ~100 (benchmarks/serve/kernels_ab.py).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bf16.h"
#include "dispatch.h"
#include "key_pairs.h"
#include "softmax.h"

#define ROWS 32      /* query rows per task */
#define KEYS 16      /* keys per block: one zmm of scores */
#define QS 8        /* queries scored together */
#define MASKED -1e30f /* the score of a key a query does not see (fast-math: no infinities) */

#if defined(LMSTACK_X86)
#include <immintrin.h>

#define T_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

/* One task: `rows` query rows (of G heads each, D = 16·VECS dimensions) at positions p0.., over keys
 * [lo, hi] of one (slot, head)'s K and V (C rows of D). q and out: row r, head g at r·ld + g·D. QT
 * queries share each pass over a block's V (their sums in QT·VECS ≤ 16 registers). */
#define TASK(VECS, QT)                                                                                     \
    static T_BF16 void task_##VECS(const uint16_t *restrict q, uint16_t *restrict out, int64_t ld,          \
                                   const uint16_t *restrict k, const uint16_t *restrict v, int64_t rows,    \
                                   int64_t G, int64_t p0, int64_t window, float scale, float *restrict work) { \
        const int64_t D = 16 * (VECS), nq = rows * G;                                                       \
        uint32_t *restrict kp = (uint32_t *)work;   /* (D/2, KEYS) bf16 pairs */                            \
        float *restrict vf = work + D / 2 * KEYS;   /* (KEYS, D) */                                         \
        float *restrict o = vf + KEYS * D;          /* (nq, D) running sums */                              \
        float *restrict m = o + nq * D;             /* running maximum per query (softmax.h) */           \
        float *restrict l = m + nq;                 /* (nq, 16) running sum per query, per lane */        \
        float *restrict alpha = l + 16 * nq;        /* the factor of each query's old sums */             \
        float *restrict s = alpha + nq;             /* (nq, KEYS) this block's scores, then weights */     \
        for (int64_t i = 0; i < nq; ++i) m[i] = MASKED;                                                     \
        for (int64_t i = 0; i < 16 * nq; ++i) l[i] = 0.0f;                                                  \
        for (int64_t i = 0; i < nq * D; ++i) o[i] = 0.0f;                                                   \
        const int64_t hi = p0 + rows - 1;                                                                   \
        const int64_t lo = window > 0 && p0 - window + 1 > 0 ? p0 - window + 1 : 0;                         \
        const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);        \
        for (int64_t k0 = lo - lo % KEYS; k0 <= hi; k0 += KEYS) {                                           \
            const int64_t nk = hi + 1 - k0 < KEYS ? hi + 1 - k0 : KEYS;                                     \
            pack_key_pairs(k + k0 * D, D, nk, kp); /* K as pairs across the block's keys (zeros past nk) */ \
            for (int64_t j = 0; j < nk; ++j) { /* V in fp32 */                                              \
                const uint16_t *vr = v + (k0 + j) * D;                                                      \
                for (int64_t d = 0; d < D; ++d) vf[j * D + d] = bf16_to_float(vr[d]);                       \
            }                                                                                               \
            const __m512i keys = _mm512_add_epi32(_mm512_set1_epi32((int32_t)k0), iota);                    \
            for (int64_t q0 = 0; q0 < nq; q0 += QS) { /* QS queries at a time: QS independent sums */        \
                const int64_t ns = nq - q0 < QS ? nq - q0 : QS;                                             \
                const uint32_t *qr[QS];                                                                     \
                for (int t = 0; t < QS; ++t) {                                                              \
                    const int64_t qi = q0 + (t < ns ? t : 0);                                               \
                    qr[t] = (const uint32_t *)(q + (qi / G) * ld + (qi % G) * D);                           \
                }                                                                                           \
                __m512 acc[QS];                                                                             \
                for (int t = 0; t < QS; ++t) acc[t] = _mm512_setzero_ps();                                  \
                for (int64_t d = 0; d < D / 2; ++d) {                                                       \
                    const __m512bh kv = (__m512bh)_mm512_loadu_si512(kp + d * KEYS);                        \
                    for (int t = 0; t < QS; ++t)                                                            \
                        acc[t] = _mm512_dpbf16_ps(acc[t], (__m512bh)_mm512_set1_epi32((int32_t)qr[t][d]), kv); \
                }                                                                                           \
                for (int t = 0; t < ns; ++t) {                                                              \
                    const int64_t qi = q0 + t, p = p0 + qi / G;                                             \
                    const int64_t first = window > 0 && p - window + 1 > 0 ? p - window + 1 : 0;            \
                    const __mmask16 seen = _mm512_cmple_epi32_mask(keys, _mm512_set1_epi32((int32_t)p)) &   \
                                           _mm512_cmpge_epi32_mask(keys, _mm512_set1_epi32((int32_t)first)); \
                    _mm512_storeu_ps(s + qi * KEYS, _mm512_mask_mov_ps(_mm512_set1_ps(MASKED), seen,        \
                                                                       _mm512_mul_ps(acc[t], _mm512_set1_ps(scale)))); \
                }                                                                                           \
            }                                                                                               \
            for (int64_t qi = 0; qi < nq; ++qi) { /* online softmax: the block's weights, the old sums' factor */ \
                const __m512 sv = _mm512_loadu_ps(s + qi * KEYS);                                           \
                const __mmask16 seen = _mm512_cmp_ps_mask(sv, _mm512_set1_ps(MASKED), _CMP_GT_OQ);           \
                float top = m[qi], a = 1.0f; /* m moves only past m + RESCALE (softmax.h) */                \
                if (_mm512_cmp_ps_mask(sv, _mm512_set1_ps(top + RESCALE), _CMP_GT_OQ)) {                    \
                    const float block_top = _mm512_reduce_max_ps(sv);                                       \
                    a = top <= MASKED ? 0.0f : expf(top - block_top);                                       \
                    m[qi] = top = block_top;                                                                \
                }                                                                                           \
                const __m512 e = _mm512_maskz_mov_ps(seen, exp16(_mm512_sub_ps(sv, _mm512_set1_ps(top))));   \
                _mm512_storeu_ps(s + qi * KEYS, e);                                                         \
                alpha[qi] = a;                                                                              \
                _mm512_storeu_ps(l + 16 * qi, _mm512_fmadd_ps(_mm512_set1_ps(a), _mm512_loadu_ps(l + 16 * qi), e)); \
            }                                                                                               \
            for (int64_t q0 = 0; q0 < nq; q0 += (QT)) {                                                     \
                const int64_t nt = nq - q0 < (QT) ? nq - q0 : (QT);                                         \
                __m512 acc[(QT) * (VECS)];                                                                  \
                for (int t = 0; t < (QT); ++t)                                                              \
                    for (int c = 0; c < (VECS); ++c)                                                        \
                        acc[t * (VECS) + c] = t < nt ? _mm512_mul_ps(_mm512_set1_ps(alpha[q0 + t]),          \
                                                                     _mm512_loadu_ps(o + (q0 + t) * D + 16 * c)) \
                                                     : _mm512_setzero_ps();                          \
                for (int64_t j = 0; j < nk; ++j) {                                                          \
                    __m512 vv[VECS];                                                                        \
                    for (int c = 0; c < (VECS); ++c) vv[c] = _mm512_loadu_ps(vf + j * D + 16 * c);          \
                    for (int t = 0; t < (QT); ++t) {                                                        \
                        if (t >= nt) break;                                                                 \
                        const __m512 w = _mm512_set1_ps(s[(q0 + t) * KEYS + j]);                            \
                        for (int c = 0; c < (VECS); ++c)                                                    \
                            acc[t * (VECS) + c] = _mm512_fmadd_ps(w, vv[c], acc[t * (VECS) + c]);           \
                    }                                                                                       \
                }                                                                                           \
                for (int t = 0; t < (QT) && t < nt; ++t)                                                    \
                    for (int c = 0; c < (VECS); ++c) _mm512_storeu_ps(o + (q0 + t) * D + 16 * c, acc[t * (VECS) + c]); \
            }                                                                                               \
        }                                                                                                   \
        for (int64_t qi = 0; qi < nq; ++qi) {                                                               \
            uint16_t *restrict dst = out + (qi / G) * ld + (qi % G) * D;                                    \
            const float inv = 1.0f / _mm512_reduce_add_ps(_mm512_loadu_ps(l + 16 * qi));                    \
            for (int64_t d = 0; d < D; ++d) dst[d] = float_to_bf16(o[qi * D + d] * inv);                    \
        }                                                                                                   \
    }
TASK(4, 4)
TASK(8, 2)
#else
static int supported(void) { return 0; }
#endif

/* 1 where this CPU runs lmstack_prompt_attention_bf16 (AVX-512 BF16), else 0. */
int lmstack_prompt_attention_supported(void) { return supported(); }

/* q, out: (L, H, G, D) bf16 contiguous, the chunk's queries and outputs; k, v: one layer's cache
 * buffers (S, H, C, D) bf16 contiguous; the chunk is positions [start, start + L) of `slot`; window:
 * the sliding window, 0 for none. Returns 0; -2 (nothing written) where the CPU lacks AVX-512 BF16,
 * D is not 64 or 128, or the chunk does not fit the cache; -1 where scratch memory is short. */
int lmstack_prompt_attention_bf16(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *out, int64_t L,
                                  int64_t S, int64_t H, int64_t G, int64_t D, int64_t C, int64_t slot, int64_t start,
                                  int64_t window, float scale, int threads) {
    if (!supported() || (D != 64 && D != 128) || L < 1 || G < 1 || H < 1 || slot < 0 || slot >= S || start < 0 ||
        start + L > C || window < 0)
        return -2;
#if defined(LMSTACK_X86)
    const int64_t blocks = (L + ROWS - 1) / ROWS, tasks = blocks * H, ld = H * G * D;
    const size_t floats = (size_t)(D / 2 * KEYS + KEYS * D + ROWS * G * (D + 18 + KEYS));
    int failed = 0;
    /* the last rows see the most keys: they go first */
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(| : failed)")
    for (int64_t task = 0; task < tasks; ++task) {
        const int64_t block = blocks - 1 - task / H, h = task % H, r0 = block * ROWS;
        const int64_t rows = L - r0 < ROWS ? L - r0 : ROWS;
        float *work = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        if (work == NULL) { failed = 1; continue; }
        const uint16_t *kh = k + (slot * H + h) * C * D, *vh = v + (slot * H + h) * C * D;
        if (D == 64)
            task_4(q + r0 * ld + h * G * D, out + r0 * ld + h * G * D, ld, kh, vh, rows, G, start + r0, window, scale,
                   work);
        else
            task_8(q + r0 * ld + h * G * D, out + r0 * ld + h * G * D, ld, kh, vh, rows, G, start + r0, window, scale,
                   work);
        free(work);
    }
    return failed ? -1 : 0;
#else
    (void)q, (void)k, (void)v, (void)out, (void)scale, (void)threads;
    return -2;
#endif
}

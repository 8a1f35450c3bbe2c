/* Attention over the engine's slot KV cache, for CPUs.
 *
 * One engine step has B rows; row b reads slot slots[b] of a layer's buffers (slots, H, C, D), slot b
 * when `slots` is NULL, and sees its keys [start_b, length_b). A decode row is one sequence's next
 * token; a prompt chunk is several rows of one slot, each seeing the keys up to its own position.
 * The G = Hq / H query heads that share KV head h are the G queries of one task (b, h), so each task
 * reads its K and V rows once, straight from the cache (bf16 or fp32), and keeps scores and sums in
 * fp32; queries and outputs are in the cache's type. Tasks run on OpenMP threads:
 * torch's own libgomp when torch is loaded first, so the engine thread's team is reused, not a second.
 *
 * torch's CPU SDPA does the same work as small GEMMs per (row, head) and pays for packing and task
 * set-up on every call: about 5x the time of reading K and V at 200 positions. This loop reads them
 * once. Called through ctypes (lmstack.serve.engine.decode_attention).
 *
 * Two forms. The loop form (TASK_BODY) runs everywhere, for any head size, compiled per instruction
 * set. On AVX-512 CPUs, bf16 heads of 64 or 128 take task_avx512: the G weighted sums of the values
 * stay in registers over all n keys (in the loop form they go through memory, a load and a store per
 * multiply-add), and the K rows a few keys ahead and the V rows are prefetched, since a step's K/V
 * mostly come from DRAM (the linear layers' weights pass through the caches in between). A 125M
 * model's 16-row decode step on 2 cores: 16.1 vs 16.8 ms at ~160 positions, 20.7 vs 23.9 ms at 500
 * (benchmarks/serve/RESULTS.md, with the kernel alone in cache and from DRAM).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bf16.h"
#include "dispatch.h"

#define LOAD_bf16(dst, src, D) for (int64_t d = 0; d < (D); ++d) (dst)[d] = bf16_to_float((src)[d]);
#define LOAD_f32(dst, src, D) for (int64_t d = 0; d < (D); ++d) (dst)[d] = (src)[d];
#define STORE_bf16(dst, src, D) for (int64_t d = 0; d < (D); ++d) (dst)[d] = float_to_bf16((src)[d]);
#define STORE_f32(dst, src, D) for (int64_t d = 0; d < (D); ++d) (dst)[d] = (src)[d];

/* One task: G queries (qt) over n keys and values (kt, vt; rows of DV values) into ot. `scores` holds
 * G * n floats, `row` DV floats. DV is a constant where the caller can make it one, so the loops over
 * the head dimension unroll into whole vectors. */
#define SCORES(SUFFIX, DV, BEFORE_ROW)                                                            \
    for (int64_t i = 0; i < n; ++i) {                                                             \
        BEFORE_ROW                                                                                \
        LOAD_##SUFFIX(row, kt + i * (DV), DV)                                                     \
        for (int64_t g = 0; g < G; ++g) {                                                         \
            float s = 0.0f;                                                                       \
            for (int64_t d = 0; d < (DV); ++d) s += qt[g * (DV) + d] * row[d];                    \
            scores[g * n + i] = s * scale;                                                        \
        }                                                                                         \
    }

/* scores (G·n) → softmax per query (in place). */
#define SOFTMAX()                                                                                 \
    for (int64_t g = 0; g < G; ++g) {                                                             \
        float *restrict sg = scores + g * n, top = -FLT_MAX, sum = 0.0f;                          \
        for (int64_t i = 0; i < n; ++i) top = sg[i] > top ? sg[i] : top;                          \
        for (int64_t i = 0; i < n; ++i) { sg[i] = expf(sg[i] - top); sum += sg[i]; }              \
        const float inv = 1.0f / sum;                                                             \
        for (int64_t i = 0; i < n; ++i) sg[i] *= inv;                                             \
    }

/* The values weighted by the softmaxed scores into ot (G·DV). */
#define VALUES(SUFFIX, DV)                                                                        \
    for (int64_t d = 0; d < G * (DV); ++d) ot[d] = 0.0f;                                          \
    for (int64_t i = 0; i < n; ++i) {                                                             \
        LOAD_##SUFFIX(row, vt + i * (DV), DV)                                                     \
        for (int64_t g = 0; g < G; ++g) {                                                         \
            const float p = scores[g * n + i];                                                    \
            for (int64_t d = 0; d < (DV); ++d) ot[g * (DV) + d] += p * row[d];                    \
        }                                                                                         \
    }

#define TASK_BODY(SUFFIX, DV) SCORES(SUFFIX, DV, ) SOFTMAX() VALUES(SUFFIX, DV)

typedef void (*task_fn)(const float *restrict, const void *restrict, const void *restrict, float *restrict,
                        float *restrict, float *restrict, int64_t, int64_t, int64_t, float);

#define DEFINE_TASK(SUFFIX, KV_T, NAME, TARGET)                                                   \
    TARGET static void NAME(                                                                      \
        const float *restrict qt, const void *restrict kp, const void *restrict vp,               \
        float *restrict ot, float *restrict scores, float *restrict row, int64_t n, int64_t G,    \
        int64_t D, float scale) {                                                                 \
        const KV_T *restrict kt = kp, *restrict vt = vp;                                          \
        if (D == 64) { TASK_BODY(SUFFIX, 64) }                                                    \
        else if (D == 128) { TASK_BODY(SUFFIX, 128) }                                             \
        else { TASK_BODY(SUFFIX, D) }                                                             \
    }

#define DEFINE_TASKS(SUFFIX, KV_T)                                                                \
    FOR_EACH_ISA(DEFINE_TASK_##SUFFIX, task_##SUFFIX)
#define DEFINE_TASK_bf16(NAME, TARGET) DEFINE_TASK(bf16, uint16_t, NAME, TARGET)
#define DEFINE_TASK_f32(NAME, TARGET) DEFINE_TASK(f32, float, NAME, TARGET)
DEFINE_TASKS(bf16, uint16_t)
DEFINE_TASKS(f32, float)

#if defined(LMSTACK_X86)
#include <immintrin.h>

/* Rows prefetched ahead. 24 against 8, K/V from DRAM: 4–7% less time on Zen 4 at 160–1,500 keys; the
 * same on an AMX Xeon at 16–64 (benchmarks/serve/RESULTS.md). */
#define AHEAD 24

static inline T_AVX512 __m512 load16_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

/* ot rows g0..g0+GS-1 (of D = 16·VECS) = Σ_i p[g][i] · V[i], GS·VECS ≤ 16 sums held in registers the
 * whole way (the loop form above keeps them in memory: a load and a store per multiply-add). */
#define VALUES_BLOCK(VECS, GS)                                                                        \
    static inline T_AVX512 void values_##VECS##_##GS(const uint16_t *restrict vt, const float *restrict scores, \
                                                     float *restrict ot, int64_t n, int64_t g0) {     \
        __m512 acc[(GS) * (VECS)];                                                                    \
        for (int a = 0; a < (GS) * (VECS); ++a) acc[a] = _mm512_setzero_ps();                         \
        for (int64_t i = 0; i < n; ++i) {                                                             \
            const uint16_t *vi = vt + i * 16 * (VECS);                                                \
            if (i + AHEAD < n)                                                                        \
                for (int c = 0; c < (VECS); c += 2) /* 2 vectors of 16 bf16: one 64-byte line */      \
                    _mm_prefetch((const char *)(vi + AHEAD * 16 * (VECS) + c * 16), _MM_HINT_T0);     \
            __m512 v[VECS];                                                                           \
            for (int c = 0; c < (VECS); ++c) v[c] = load16_bf16(vi + c * 16);                         \
            for (int g = 0; g < (GS); ++g) {                                                          \
                const __m512 p = _mm512_set1_ps(scores[(g0 + g) * n + i]);                            \
                for (int c = 0; c < (VECS); ++c)                                                      \
                    acc[g * (VECS) + c] = _mm512_fmadd_ps(p, v[c], acc[g * (VECS) + c]);              \
            }                                                                                         \
        }                                                                                             \
        for (int g = 0; g < (GS); ++g)                                                                \
            for (int c = 0; c < (VECS); ++c)                                                          \
                _mm512_storeu_ps(ot + (g0 + g) * 16 * (VECS) + c * 16, acc[g * (VECS) + c]);          \
    }
VALUES_BLOCK(4, 1)
VALUES_BLOCK(4, 2)
VALUES_BLOCK(4, 3)
VALUES_BLOCK(4, 4)
VALUES_BLOCK(8, 1)
VALUES_BLOCK(8, 2)

/* VALUES for bf16 heads of 64 or 128: four (two) queries per pass over V. */
static T_AVX512 void values_avx512(const uint16_t *restrict vt, const float *restrict scores, float *restrict ot,
                                   int64_t n, int64_t G, int64_t D) {
    int64_t g0 = 0;
    if (D == 64) {
        for (; g0 + 4 <= G; g0 += 4) values_4_4(vt, scores, ot, n, g0);
        if (G - g0 == 3) values_4_3(vt, scores, ot, n, g0);
        else if (G - g0 == 2) values_4_2(vt, scores, ot, n, g0);
        else if (G - g0 == 1) values_4_1(vt, scores, ot, n, g0);
    } else {
        for (; g0 + 2 <= G; g0 += 2) values_8_2(vt, scores, ot, n, g0);
        if (G - g0 == 1) values_8_1(vt, scores, ot, n, g0);
    }
}

/* The AVX-512 task for bf16 heads of 64 or 128 dimensions, values summed in registers. */
static T_AVX512 void task_avx512(const float *restrict qt, const void *restrict kp, const void *restrict vp,
                                 float *restrict ot, float *restrict scores, float *restrict row, int64_t n,
                                 int64_t G, int64_t D, float scale) {
    const uint16_t *restrict kt = kp, *restrict vt = vp;
    /* K rows AHEAD keys ahead into L1; the V rows, read after the softmax, on their way to L2 */
#define PREFETCH_ROW                                                                              \
    for (int64_t c = 0; c < D; c += 32) { /* 32 bf16: one 64-byte line */                        \
        if (i + AHEAD < n) _mm_prefetch((const char *)(kt + (i + AHEAD) * D + c), _MM_HINT_T0);  \
        _mm_prefetch((const char *)(vt + i * D + c), _MM_HINT_T1);                                \
    }
    if (D == 64) { SCORES(bf16, 64, PREFETCH_ROW) }
    else { SCORES(bf16, 128, PREFETCH_ROW) }
#undef PREFETCH_ROW
    SOFTMAX()
    values_avx512(vp, scores, ot, n, G, D);
}

static task_fn pick_bf16(int64_t G, int64_t D) {
    (void)G;
    if ((D == 64 || D == 128) && PICK_ISA(task_bf16) == task_bf16_avx512) return task_avx512;
    return PICK_ISA(task_bf16);
}
#else
static task_fn pick_bf16(int64_t G, int64_t D) { (void)G, (void)D; return PICK_ISA(task_bf16); }
#endif

static task_fn pick_loop_bf16(int64_t G, int64_t D) { (void)G, (void)D; return PICK_ISA(task_bf16); }
static task_fn pick_f32(int64_t G, int64_t D) { (void)G, (void)D; return PICK_ISA(task_f32); }

/* q, out: (B, H, G, D) contiguous, of the cache's type; k, v: (S, H, C, D) contiguous; slots: (B,),
 * the slot each row reads, NULL for row b = slot b; lengths, starts: (B,), starts NULL for all zeros.
 * Rows of one slot may repeat: the tokens of a prompt chunk are rows of its slot, each seeing the keys
 * up to its own position. Returns 0; -2 (nothing computed) when a row's slot is not in [0, S) or its
 * range is not 0 <= start < length <= C; -1 when scratch memory could not be allocated. */
#define DEFINE_KERNEL(NAME, SUFFIX, KV_T, PICK)                                                         \
    int NAME(const KV_T *q, const KV_T *k, const KV_T *v, const int64_t *slots, const int64_t *lengths,   \
             const int64_t *starts, KV_T *out, int64_t B, int64_t S, int64_t H, int64_t G, int64_t D,     \
             int64_t C, float scale, int threads) {                                                      \
        for (int64_t b = 0; b < B; ++b) {                                                                \
            const int64_t start = starts != NULL ? starts[b] : 0, slot = slots != NULL ? slots[b] : b;   \
            if (slot < 0 || slot >= S || start < 0 || start >= lengths[b] || lengths[b] > C) return -2;  \
        }                                                                                                \
        const task_fn fn = PICK(G, D);                                                                   \
        int failed = 0;                                                                                  \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(| : failed)")      \
        for (int64_t task = 0; task < B * H; ++task) {                                                   \
            const int64_t b = task / H, h = task % H, slot = slots != NULL ? slots[b] : b;               \
            const int64_t start = starts != NULL ? starts[b] : 0, n = lengths[b] - start;                \
            /* scores (G·n), one K/V row (D), the task's queries and outputs in fp32 (G·D each) */       \
            float *scratch = malloc(sizeof(float) * (size_t)(G * n + D + 2 * G * D));                    \
            if (scratch == NULL) { failed = 1; continue; }                                               \
            float *qf = scratch + G * n + D, *of = qf + G * D;                                           \
            LOAD_##SUFFIX(qf, q + task * G * D, G * D)                                                   \
            fn(qf, k + ((slot * H + h) * C + start) * D, v + ((slot * H + h) * C + start) * D, of,       \
               scratch, scratch + G * n, n, G, D, scale);                                                \
            STORE_##SUFFIX(out + task * G * D, of, G * D)                                                \
            free(scratch);                                                                               \
        }                                                                                                \
        return failed ? -1 : 0;                                                                          \
    }

/* bf16 heads of 64 or 128 on AVX-512 through task_avx512; `_loop_bf16` always through the loop form
 * (for comparisons). */
DEFINE_KERNEL(lmstack_decode_attention_bf16, bf16, uint16_t, pick_bf16)
DEFINE_KERNEL(lmstack_decode_attention_loop_bf16, bf16, uint16_t, pick_loop_bf16)
DEFINE_KERNEL(lmstack_decode_attention_f32, f32, float, pick_f32)

/* Decode attention over the engine's slot KV cache, for CPUs.
 *
 * One decode step has B rows; row b is slot b of a layer's buffers (slots, H, C, D) and sees its keys
 * [start_b, length_b). The G = Hq / H query heads that share KV head h are the G queries of one task
 * (b, h), so each task reads its K and V rows once, straight from the cache (bf16 or fp32), and keeps
 * scores and sums in fp32; queries and outputs are in the cache's type. Tasks run on OpenMP threads: torch's own libgomp when torch is loaded first,
 * so the engine thread's team is reused, not a second one.
 *
 * torch's CPU SDPA does the same work as small GEMMs per (row, head) and pays for packing and task
 * set-up on every call: about 5x the time of reading K and V at 200 positions. This loop reads them
 * once at memory speed. Called through ctypes (lmstack.serve.engine.decode_attention).
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
#define TASK_BODY(SUFFIX, DV)                                                                     \
    for (int64_t i = 0; i < n; ++i) {                                                             \
        LOAD_##SUFFIX(row, kt + i * (DV), DV)                                                     \
        for (int64_t g = 0; g < G; ++g) {                                                         \
            float s = 0.0f;                                                                       \
            for (int64_t d = 0; d < (DV); ++d) s += qt[g * (DV) + d] * row[d];                    \
            scores[g * n + i] = s * scale;                                                        \
        }                                                                                         \
    }                                                                                             \
    for (int64_t g = 0; g < G; ++g) {                                                             \
        float *restrict sg = scores + g * n, top = -FLT_MAX, sum = 0.0f;                          \
        for (int64_t i = 0; i < n; ++i) top = sg[i] > top ? sg[i] : top;                          \
        for (int64_t i = 0; i < n; ++i) { sg[i] = expf(sg[i] - top); sum += sg[i]; }              \
        const float inv = 1.0f / sum;                                                             \
        for (int64_t i = 0; i < n; ++i) sg[i] *= inv;                                             \
        for (int64_t d = 0; d < (DV); ++d) ot[g * (DV) + d] = 0.0f;                               \
    }                                                                                             \
    for (int64_t i = 0; i < n; ++i) {                                                             \
        LOAD_##SUFFIX(row, vt + i * (DV), DV)                                                     \
        for (int64_t g = 0; g < G; ++g) {                                                         \
            const float p = scores[g * n + i];                                                    \
            for (int64_t d = 0; d < (DV); ++d) ot[g * (DV) + d] += p * row[d];                    \
        }                                                                                         \
    }

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

/* q, out: (B, H, G, D) contiguous, of the cache's type; k, v: (slots, H, C, D) contiguous; lengths,
 * starts: (B,), starts NULL for all zeros. Returns 0; -2 (nothing computed) when a row's range is not
 * 0 <= start < length <= C; -1 when scratch memory could not be allocated. */
#define DEFINE_KERNEL(SUFFIX, KV_T)                                                                     \
    int lmstack_decode_attention_##SUFFIX(const KV_T *q, const KV_T *k, const KV_T *v,                  \
                                          const int64_t *lengths, const int64_t *starts, KV_T *out,     \
                                          int64_t B, int64_t H, int64_t G, int64_t D, int64_t C,        \
                                          float scale, int threads) {                                   \
        for (int64_t b = 0; b < B; ++b) {                                                                \
            const int64_t start = starts != NULL ? starts[b] : 0;                                        \
            if (start < 0 || start >= lengths[b] || lengths[b] > C) return -2;                           \
        }                                                                                                \
        const task_fn fn = PICK_ISA(task_##SUFFIX);                                                      \
        int failed = 0;                                                                                  \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(| : failed)")      \
        for (int64_t task = 0; task < B * H; ++task) {                                                   \
            const int64_t b = task / H, h = task % H;                                                    \
            const int64_t start = starts != NULL ? starts[b] : 0, n = lengths[b] - start;                \
            /* scores (G·n), one K/V row (D), the task's queries and outputs in fp32 (G·D each) */       \
            float *scratch = malloc(sizeof(float) * (size_t)(G * n + D + 2 * G * D));                    \
            if (scratch == NULL) { failed = 1; continue; }                                               \
            float *qf = scratch + G * n + D, *of = qf + G * D;                                           \
            LOAD_##SUFFIX(qf, q + task * G * D, G * D)                                                   \
            fn(qf, k + ((b * H + h) * C + start) * D, v + ((b * H + h) * C + start) * D, of, scratch,    \
               scratch + G * n, n, G, D, scale);                                                         \
            STORE_##SUFFIX(out + task * G * D, of, G * D)                                                \
            free(scratch);                                                                               \
        }                                                                                                \
        return failed ? -1 : 0;                                                                          \
    }

DEFINE_KERNEL(bf16, uint16_t)
DEFINE_KERNEL(f32, float)

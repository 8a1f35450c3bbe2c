/* The decoder step's pointwise work, fused: RMSNorm (with the residual add before it), SiLU(gate)·up and
 * rotary embeddings (with the step's keys and values stored in the cache). Each is one pass instead of torch's 3 to 8 ops, and each rounds where torch's
 * bf16 ops round (the R_ steps below), so results match transformers' modules to the last bit or
 * within one bf16 step where expf or a sum's order differ. One decode row of a 125M model is
 * 768 values, so a torch op's dispatch costs more than its arithmetic; these calls have one dispatch.
 * Row functions are compiled per instruction set (dispatch.h); rows are split over OpenMP threads
 * only when there are enough values to pay for a parallel region.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bf16.h"
#include "dispatch.h"

#define PARALLEL_ELEMENTS (1 << 16)

#define LD_bf16(x) bf16_to_float(x)
#define ST_bf16(x) float_to_bf16(x)
#define R_bf16(x) round_bf16(x)
#define LD_f32(x) (x)
#define ST_f32(x) (x)
#define R_f32(x) (x)

/* One row of each operation, for element type T (suffix S). */
#define DEFINE_RMS_ROW(S, T, NAME, TARGET)                                                               \
    TARGET static void NAME(T *restrict x, const T *restrict delta, const T *restrict w, T *restrict o, \
                            int64_t dim, float eps) {                                                    \
        float ss = 0.0f;                                                                                 \
        if (delta != NULL) {                                                                             \
            for (int64_t d = 0; d < dim; ++d) {                                                          \
                const float v = R_##S(LD_##S(x[d]) + LD_##S(delta[d]));                                  \
                x[d] = ST_##S(v);                                                                        \
                ss += v * v;                                                                             \
            }                                                                                            \
        } else {                                                                                         \
            for (int64_t d = 0; d < dim; ++d) { const float v = LD_##S(x[d]); ss += v * v; }             \
        }                                                                                                \
        const float inv = 1.0f / sqrtf(ss / (float)dim + eps);                                           \
        for (int64_t d = 0; d < dim; ++d) o[d] = ST_##S(LD_##S(w[d]) * R_##S(LD_##S(x[d]) * inv));       \
    }

#define DEFINE_SILU_ROW(S, T, NAME, TARGET)                                                              \
    TARGET static void NAME(const T *restrict g, const T *restrict u, T *restrict o, int64_t inter) {   \
        for (int64_t j = 0; j < inter; ++j) {                                                            \
            const float x = LD_##S(g[j]);                                                                \
            o[j] = ST_##S(R_##S(x / (1.0f + expf(-x))) * LD_##S(u[j]));                                  \
        }                                                                                                \
    }

#define DEFINE_ROPE_ROW(S, T, NAME, TARGET)                                                              \
    TARGET static void NAME(const T *restrict x, const T *restrict c, const T *restrict s, T *restrict o, \
                            int64_t heads, int64_t D) {                                                  \
        const int64_t half = D / 2;                                                                      \
        for (int64_t h = 0; h < heads; ++h) {                                                            \
            const T *restrict xv = x + h * D;                                                            \
            T *restrict ov = o + h * D;                                                                  \
            for (int64_t d = 0; d < half; ++d)                                                           \
                ov[d] = ST_##S(R_##S(LD_##S(xv[d]) * LD_##S(c[d])) + R_##S(LD_##S(xv[d + half]) * -LD_##S(s[d]))); \
            for (int64_t d = half; d < D; ++d)                                                           \
                ov[d] = ST_##S(R_##S(LD_##S(xv[d]) * LD_##S(c[d])) + R_##S(LD_##S(xv[d - half]) * LD_##S(s[d]))); \
        }                                                                                                \
    }

#define ROWS_bf16(KIND, NAME, TARGET) DEFINE_##KIND##_ROW(bf16, uint16_t, NAME, TARGET)
#define ROWS_f32(KIND, NAME, TARGET) DEFINE_##KIND##_ROW(f32, float, NAME, TARGET)
#define RMS_bf16(NAME, TARGET) ROWS_bf16(RMS, NAME, TARGET)
#define RMS_f32(NAME, TARGET) ROWS_f32(RMS, NAME, TARGET)
#define SILU_bf16(NAME, TARGET) ROWS_bf16(SILU, NAME, TARGET)
#define SILU_f32(NAME, TARGET) ROWS_f32(SILU, NAME, TARGET)
#define ROPE_bf16(NAME, TARGET) ROWS_bf16(ROPE, NAME, TARGET)
#define ROPE_f32(NAME, TARGET) ROWS_f32(ROPE, NAME, TARGET)

#define DEFINE_POINTWISE(S, T)                                                                           \
    FOR_EACH_ISA(RMS_##S, rms_row_##S)                                                                   \
    FOR_EACH_ISA(SILU_##S, silu_row_##S)                                                                 \
    FOR_EACH_ISA(ROPE_##S, rope_row_##S)                                                                 \
                                                                                                         \
    /* x (rows, dim): with delta, x += delta in place first (rounded); out = weight · R(x · rsqrt(mean(x²) \
     * + eps)), transformers' LlamaRMSNorm. */                                                           \
    void lmstack_rms_norm_##S(T *x, const T *delta, const T *weight, T *out, int64_t rows, int64_t dim, \
                              float eps, int threads) {                                                 \
        void (*row)(T *restrict, const T *restrict, const T *restrict, T *restrict, int64_t, float) =    \
            PICK_ISA(rms_row_##S);                                                                       \
        _Pragma("omp parallel for num_threads(threads) if (rows * dim >= PARALLEL_ELEMENTS)")            \
        for (int64_t r = 0; r < rows; ++r)                                                               \
            row(x + r * dim, delta == NULL ? NULL : delta + r * dim, weight, out + r * dim, dim, eps);   \
    }                                                                                                    \
                                                                                                         \
    /* gate_up (rows, 2·inter), gate first: out (rows, inter) = R(silu(gate)) · up. */                   \
    void lmstack_silu_mul_##S(const T *gate_up, T *out, int64_t rows, int64_t inter, int threads) {     \
        void (*row)(const T *restrict, const T *restrict, T *restrict, int64_t) = PICK_ISA(silu_row_##S); \
        _Pragma("omp parallel for num_threads(threads) if (rows * inter >= PARALLEL_ELEMENTS)")          \
        for (int64_t r = 0; r < rows; ++r)                                                               \
            row(gate_up + r * 2 * inter, gate_up + r * 2 * inter + inter, out + r * inter, inter);       \
    }                                                                                                    \
                                                                                                         \
    /* x: rows of `heads` vectors of D values, row r at x + r·stride; cos, sin (rows, D); out (rows,    \
     * heads, D) = R(R(x·cos) + R(rotate_half(x)·sin)), transformers' apply_rotary_pos_emb. */           \
    void lmstack_rope_##S(const T *x, int64_t stride, const T *cos, const T *sin, T *out, int64_t rows, \
                          int64_t heads, int64_t D, int threads) {                                       \
        void (*row)(const T *restrict, const T *restrict, const T *restrict, T *restrict, int64_t,       \
                    int64_t) = PICK_ISA(rope_row_##S);                                                   \
        _Pragma("omp parallel for num_threads(threads) if (rows * heads * D >= PARALLEL_ELEMENTS)")      \
        for (int64_t r = 0; r < rows; ++r)                                                               \
            row(x + r * stride, cos + r * D, sin + r * D, out + r * heads * D, heads, D);                \
    }                                                                                                    \
                                                                                                         \
    /* One step's q/k/v rows (row r at qkv + r·stride: `heads` queries, `kv_heads` keys, `kv_heads`      \
     * values of D each): q_out (rows, heads, D) = rope(queries); the rotated keys and the values go to  \
     * keys/values (slots, kv_heads, C, D) at (slots[r], ·, positions[r]). Returns 0, or -2 (nothing     \
     * written) when a slot or position lies outside the cache. */                                       \
    int lmstack_rope_store_##S(const T *qkv, int64_t stride, const T *cos, const T *sin, T *q_out, T *keys, \
                               T *values, const int64_t *slots, const int64_t *positions, int64_t rows,  \
                               int64_t heads, int64_t kv_heads, int64_t D, int64_t num_slots, int64_t C, \
                               int threads) {                                                            \
        for (int64_t r = 0; r < rows; ++r)                                                               \
            if (slots[r] < 0 || slots[r] >= num_slots || positions[r] < 0 || positions[r] >= C) return -2; \
        void (*row)(const T *restrict, const T *restrict, const T *restrict, T *restrict, int64_t,       \
                    int64_t) = PICK_ISA(rope_row_##S);                                                   \
        _Pragma("omp parallel for num_threads(threads) if (rows * (heads + kv_heads) * D >= PARALLEL_ELEMENTS)") \
        for (int64_t r = 0; r < rows; ++r) {                                                             \
            const T *x = qkv + r * stride, *c = cos + r * D, *s = sin + r * D;                           \
            row(x, c, s, q_out + r * heads * D, heads, D);                                               \
            for (int64_t h = 0; h < kv_heads; ++h) {                                                     \
                const int64_t at = ((slots[r] * kv_heads + h) * C + positions[r]) * D;                   \
                row(x + (heads + h) * D, c, s, keys + at, 1, D);                                         \
                memcpy(values + at, x + (heads + kv_heads + h) * D, sizeof(T) * (size_t)D);              \
            }                                                                                            \
        }                                                                                                \
        return 0;                                                                                        \
    }

DEFINE_POINTWISE(bf16, uint16_t)
DEFINE_POINTWISE(f32, float)

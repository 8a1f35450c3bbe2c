/* The bf16 kernels one decode step calls, for C callers in this extension (decoder_layers.c). Each is
 * documented where it is defined. */
#ifndef LMSTACK_KERNELS_H
#define LMSTACK_KERNELS_H

#include <stdint.h>

void lmstack_rms_norm_bf16(uint16_t *x, const uint16_t *delta, const uint16_t *weight, uint16_t *out, int64_t rows,
                           int64_t dim, float eps, int threads);
void lmstack_silu_mul_bf16(const uint16_t *gate_up, uint16_t *out, int64_t rows, int64_t inter, int threads);
int lmstack_rope_store_bf16(const uint16_t *qkv, int64_t stride, const uint16_t *cos, const uint16_t *sin,
                            uint16_t *q_out, uint16_t *keys, uint16_t *values, const int64_t *slots,
                            const int64_t *positions, int64_t rows, int64_t heads, int64_t kv_heads, int64_t D,
                            int64_t num_slots, int64_t C, int threads);
int lmstack_decode_attention_bf16(const uint16_t *q, const uint16_t *k, const uint16_t *v, const int64_t *slots,
                                  const int64_t *lengths, const int64_t *starts, uint16_t *out, int64_t B, int64_t S,
                                  int64_t H, int64_t G, int64_t D, int64_t C, float scale, int threads);
int lmstack_linear_bf16(const uint16_t *x, int64_t M, int64_t ldx, int64_t K, const uint16_t *packed,
                        const float *bias, int64_t N, uint16_t *y, int64_t ldy, int threads);
int lmstack_linear_amx_bf16(const uint16_t *x, int64_t M, int64_t ldx, int64_t K, const uint16_t *packed,
                            const float *bias, int64_t N, uint16_t *y, int64_t ldy, int threads);

#endif

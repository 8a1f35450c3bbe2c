/* bfloat16 <-> float, as torch converts them (round to nearest even; NaN stays NaN). */
#ifndef LMSTACK_BF16_H
#define LMSTACK_BF16_H

#include <stdint.h>
#include <string.h>

static inline float bf16_to_float(uint16_t x) {
    uint32_t bits = (uint32_t)x << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t float_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (bits >> 16) | 0x40u;
    return (uint16_t)((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded); /* a select: vectorises */
}

/* A float rounded to the nearest bfloat16, kept as a float: what torch computes in bf16 arithmetic. */
static inline float round_bf16(float f) { return bf16_to_float(float_to_bf16(f)); }

#endif

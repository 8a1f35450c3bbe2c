/* A block of 16 keys as the prompt kernels' right-hand operand: for each pair of dimensions, the 16
 * keys' (bf16, bf16) pairs side by side (prompt_attention.c, prompt_attention_amx.c). */
#ifndef LMSTACK_KEY_PAIRS_H
#define LMSTACK_KEY_PAIRS_H

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#define T_PAIRS __attribute__((target("avx512f"), always_inline))

/* r[j][i] → r[i][j] for 16 × 16 32-bit elements: interleave pairs of rows, then pairs of pairs, then
 * 128-bit lanes (64 shuffles). */
static inline T_PAIRS void transpose16x16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* u[g + c], 128-bit lane L: column 4L + c of rows g..g+3 */
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int c = 0; c < 4; ++c) {
        const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88), v2 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
        const __m512i w1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
        const __m512i w2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_i32x4(v1, w1, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(v2, w2, 0x88);
        r[8 + c] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
        r[12 + c] = _mm512_shuffle_i32x4(v2, w2, 0xDD);
    }
}

/* The keys k[0..nk) (rows of D bf16; 16 - nk more as zeros) into dst (D/2, 16) 32-bit pairs. */
static inline T_PAIRS void pack_key_pairs(const uint16_t *restrict k, int64_t D, int64_t nk, uint32_t *restrict dst) {
    for (int64_t c = 0; c < D / 32; ++c) { /* 16 dimension pairs at a time */
        __m512i r[16];
        for (int64_t j = 0; j < 16; ++j)
            r[j] = j < nk ? _mm512_loadu_si512(k + j * D + 32 * c) : _mm512_setzero_si512();
        transpose16x16(r);
        for (int p = 0; p < 16; ++p) _mm512_storeu_si512(dst + (16 * c + p) * 16, r[p]);
    }
}
#endif

#endif

/* The prompt-attention kernels' online softmax (prompt_attention.c, prompt_attention_amx.c): its
 * vector exponential and how far a score may pass the running maximum. */
#ifndef LMSTACK_SOFTMAX_H
#define LMSTACK_SOFTMAX_H

/* The weights are e^(s - m) against a running maximum m that moves only when a block's score passes
 * it by more than this: weights stay below e^8 (fp32 and bf16 hold them), and most blocks of a long
 * prompt need no horizontal maximum and no rescale of the sums so far. */
#define RESCALE 8.0f

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* e^x for x ≤ 0, 16 floats at a time: 2^n · e^f with n = round(x·log2 e) and f = x − n·ln 2 in [−ln2/2, ln2/2] (ln 2 in two parts), e^f
 * from its degree-6 Taylor polynomial (relative error ~1e-7, as expf's); 0 below e^-87. */
static inline __attribute__((target("avx512f"), always_inline)) __m512 exp16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT);
    const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);   /* x - n·ln 2, in two parts */
    const __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}
#endif

#endif

/* All decoder layers of one decode-only step of a Llama-family model in one call, bf16 on the CPU.
 *
 * The lean step (decoder_step.py) runs each layer as nine kernel calls from Python: RMSNorm with the
 * residual add, the q/k/v product, rotary embeddings with the K/V cache write, decode attention, the
 * output product, RMSNorm with the residual add, the gate/up product, SiLU·up and the down product.
 * At one to sixteen rows a 125M model's step is ~110 such calls, and their Python side (argument
 * checks, ctypes, tensor allocations) took about 2 ms of a 12-16 ms step on 2 cores. This loop makes
 * the same calls, with the same arguments in the same order, from C: the results are the same bits.
 * Called through ctypes (lmstack.serve.engine.native_layers), which checks shapes once at start.
 */
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/* One layer's weights, as native_layers.py lays them out (ctypes Structure of the same fields). */
struct lmstack_layer {
    const uint16_t *input_norm, *post_norm; /* RMSNorm weights (E) */
    const uint16_t *qkv, *o, *gate_up, *down; /* packed weights (linear.py) */
    const float *qkv_bias, *o_bias, *gate_up_bias, *down_bias; /* fp32, padded; NULL for none */
    int64_t window; /* sliding-window attention over this many positions; 0 for none */
    /* per product, 1: on AMX tiles (linear_amx.c), 0: AVX-512 BF16 dot products (linear.c) */
    int32_t qkv_amx, o_amx, gate_up_amx, down_amx;
    float input_eps, post_eps;
};

/* The model's sizes and the cache's. */
struct lmstack_dims {
    int64_t layers, hidden, heads, kv_heads, head_dim, intermediate, num_slots, context;
    float scale, final_eps;
};

/* Per-step buffers, all bf16 and row-major with `rows` rows: normed (E), qkv ((Hq + 2H)·D),
 * q (Hq·D), attn (Hq·D), o (E), gate_up (2I), act (I), down (E). */
struct lmstack_work {
    uint16_t *normed, *qkv, *q, *attn, *o, *gate_up, *act, *down;
    int64_t *starts; /* rows int64: the first key each row sees in a sliding-window layer */
};

static int linear(int amx, const uint16_t *x, int64_t rows, int64_t K, const uint16_t *packed, const float *bias,
                  int64_t N, uint16_t *y, int threads) {
    return amx ? lmstack_linear_amx_bf16(x, rows, K, K, packed, bias, N, y, N, threads)
               : lmstack_linear_bf16(x, rows, K, K, packed, bias, N, y, N, threads);
}

/* h (rows, E): the step's residual stream after the embedding, updated in place; row r is slot r at
 * positions[r] (it sees keys [0, positions[r]] of its slot, lengths[r] = positions[r] + 1). cos, sin
 * (rows, D). keys, values: the whole cache, (layers, slots, H, C, D) each. On return, `out` (rows, E)
 * holds the final RMSNorm of h. Row r must be slot r (the scheduler keeps running sequences packed in
 * slots 0..R-1; decode attention reads slot r for row r). Returns 0; -2 when a row is not in its own
 * slot or a position lies outside the cache (checked before the first layer writes anything); -1 when
 * a kernel could not run (no AVX-512 BF16 or AMX here, no scratch memory). */
int lmstack_decode_layers_bf16(const struct lmstack_layer *layers, const struct lmstack_dims *dims,
                               uint16_t *h, int64_t rows, const uint16_t *cos, const uint16_t *sin,
                               uint16_t *keys, uint16_t *values, const int64_t *slots, const int64_t *positions,
                               const int64_t *lengths, const uint16_t *final_norm, uint16_t *out,
                               const struct lmstack_work *work, int threads) {
    const int64_t E = dims->hidden, Hq = dims->heads, H = dims->kv_heads, D = dims->head_dim;
    const int64_t I = dims->intermediate, qkv_width = (Hq + 2 * H) * D;
    const int64_t layer_elements = dims->num_slots * H * dims->context * D;
    for (int64_t r = 0; r < rows; ++r)
        if (slots[r] != r || r >= dims->num_slots || positions[r] < 0 || positions[r] >= dims->context ||
            lengths[r] != positions[r] + 1)
            return -2;
    const uint16_t *delta = NULL; /* what the last block adds to h, folded into the next norm */
    for (int64_t index = 0; index < dims->layers; ++index) {
        const struct lmstack_layer *layer = layers + index;
        uint16_t *layer_keys = keys + index * layer_elements, *layer_values = values + index * layer_elements;
        lmstack_rms_norm_bf16(h, delta, layer->input_norm, work->normed, rows, E, layer->input_eps, threads);
        if (linear(layer->qkv_amx, work->normed, rows, E, layer->qkv, layer->qkv_bias, qkv_width, work->qkv, threads))
            return -1;
        if (lmstack_rope_store_bf16(work->qkv, qkv_width, cos, sin, work->q, layer_keys, layer_values, slots, positions,
                                    rows, Hq, H, D, dims->num_slots, dims->context, threads))
            return -2;
        const int64_t *starts = NULL;
        if (layer->window > 0) {
            for (int64_t r = 0; r < rows; ++r)
                work->starts[r] = lengths[r] > layer->window ? lengths[r] - layer->window : 0;
            starts = work->starts;
        }
        if (lmstack_decode_attention_bf16(work->q, layer_keys, layer_values, NULL, lengths, starts, work->attn, rows,
                                          dims->num_slots, H, Hq / H, D, dims->context, dims->scale, threads))
            return -1;
        if (linear(layer->o_amx, work->attn, rows, Hq * D, layer->o, layer->o_bias, E, work->o, threads)) return -1;
        lmstack_rms_norm_bf16(h, work->o, layer->post_norm, work->normed, rows, E, layer->post_eps, threads);
        if (linear(layer->gate_up_amx, work->normed, rows, E, layer->gate_up, layer->gate_up_bias, 2 * I,
                   work->gate_up, threads))
            return -1;
        lmstack_silu_mul_bf16(work->gate_up, work->act, rows, I, threads);
        if (linear(layer->down_amx, work->act, rows, I, layer->down, layer->down_bias, E, work->down, threads))
            return -1;
        delta = work->down;
    }
    lmstack_rms_norm_bf16(h, delta, final_norm, out, rows, E, dims->final_eps, threads);
    return 0;
}

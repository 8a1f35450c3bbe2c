/* AMX tile configuration shared by the AMX kernels (linear_amx.c, prompt_attention_amx.c). */
#ifndef LMSTACK_AMX_TILES_H
#define LMSTACK_AMX_TILES_H

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

/* ldtilecfg's 64-byte operand (palette 1): per tile register, its rows and bytes per row. */
struct tile_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Loads `cfg`. The barrier tells the compiler that ldtilecfg reads all 64 bytes: GCC 12's
 * _tile_loadconfig names only the first 8 as read, which lets the optimiser drop stores to the rest. */
static inline __attribute__((target("amx-tile"), always_inline)) void load_tile_config(const struct tile_config *cfg) {
    __asm__ volatile("" : : "r"(cfg) : "memory");
    _tile_loadconfig(cfg);
}
#endif

#endif

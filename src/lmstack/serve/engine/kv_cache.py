"""The engine's KV cache: one preallocated buffer per slot, and a transformers `Cache` that writes into it.

Layout: keys and values are each one tensor (layers, slots, kv_heads, max_context, head_dim),
allocated once when the engine starts and never resized. Per-slot contiguous buffers rather than
paged blocks, because:

- the engine runs at most `max_batch_size` sequences of at most `max_context` tokens, so a slot
  per sequence is exactly the bound paging would also have to reserve for the worst case;
- the scheduler keeps running sequences packed in slots 0..R-1, so a decode step's K/V is a plain
  slice of the buffer — no block table, no gather copy, and transformers' stock SDPA attention
  reads it directly. Paging pays off when memory is short relative to batch × context (GPUs
  serving long contexts); on a CPU server of small models the buffer is small (llama-125m,
  16 × 2048 tokens in bf16: 16 × 2048 × 12 layers × 2 × 4 heads × 64 × 2 B ≈ 0.4 GB).

`SlotCache` is what the model sees for one forward: transformers' Llama code calls
`cache.update(k, v, layer_idx)` after rotary embeddings; we write the new K/V at each row's own
position and hand back views of the slots up to the longest row. The rows' differing lengths are
handled by the explicit 4-D attention mask the engine passes (`attention_mask`), which
transformers uses as given.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedConfig
from transformers.cache_utils import Cache

from lmstack.serve.engine.scheduler import SlotMove


class KVCache:
    """Preallocated K/V buffers for `num_slots` sequences of up to `max_context` tokens."""

    def __init__(self, config: PreTrainedConfig, *, num_slots: int, max_context: int, dtype: torch.dtype,
                 device: torch.device | str = "cpu"):
        text = config.get_text_config()
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
        shape = (text.num_hidden_layers, num_slots, kv_heads, max_context, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.num_slots = num_slots
        self.max_context = max_context

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes

    def move(self, moves: list[SlotMove]) -> None:
        """Copy slots as the scheduler asks, to keep running sequences packed."""
        for m in moves:
            self.keys[:, m.dst, :, : m.length] = self.keys[:, m.src, :, : m.length]
            self.values[:, m.dst, :, : m.length] = self.values[:, m.src, :, : m.length]

    def view(self, first_slot: int, positions: torch.Tensor, q_len: int) -> SlotCache:
        """The cache for one forward over slots first_slot.. (one row each), row i starting at positions[i]."""
        return SlotCache(self, first_slot, positions, q_len)


class SlotCache(Cache):
    """A `transformers` Cache over rows of consecutive slots of a `KVCache`, for one forward pass."""

    def __init__(self, kv: KVCache, first_slot: int, positions: torch.Tensor, q_len: int):
        super().__init__(layers=[])
        self.kv = kv
        self.slots = slice(first_slot, first_slot + len(positions))
        self.kv_len = int(positions.max()) + q_len
        if q_len == 1:
            # Decode: every row writes its one token at its own position.
            self.index = (torch.arange(len(positions)), slice(None), positions)
        else:
            if len(positions) != 1:
                raise ValueError("a multi-token forward runs one sequence at a time")
            start = int(positions[0])
            self.index = (slice(0, 1), slice(None), slice(start, start + q_len))

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write (B, kv_heads, q, head_dim) at each row's positions; return (B, kv_heads, kv_len, head_dim) views."""
        keys = self.kv.keys[layer_idx, self.slots]  # (B, H, T, D)
        values = self.kv.values[layer_idx, self.slots]
        if isinstance(self.index[2], torch.Tensor):
            keys[self.index] = key_states[:, :, 0]  # (B, H, D)
            values[self.index] = value_states[:, :, 0]
        else:
            keys[self.index] = key_states
            values[self.index] = value_states
        return keys[:, :, : self.kv_len], values[:, :, : self.kv_len]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.kv_len

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

On the CPU the buffers are written once at start (`huge_pages.populate`) where both take at most
`POPULATE_SHARE` of the memory available, so no step pays the first-touch page faults; a larger
cache is left to the OS to fill as contexts grow, and the start-up log says so.

One forward per engine step runs every row of the step: the decode rows (one token each) and the
prompt chunks, flattened into a single sequence of T tokens, so the weights are read once per step
whatever the mix. `SlotCache` is what the model sees: transformers' Llama code calls
`cache.update(k, v, layer_idx)` after rotary embeddings, and we scatter the T new K/V entries to
their (slot, position) in the buffers. Attention cannot treat the flat sequence as one (each
token attends to its own slot's history), so the engine installs `slot_attention`, registered with
transformers' `AttentionInterface`: given the step's `StepLayout` (passed through the model's
forward kwargs) it runs the whole step in one call of lmstack's attention kernel
(`decode_attention`), every token reading its own slot up to its own position, decode rows and
prompt chunks alike. Where the kernel is not built it runs one batched SDPA over the decode rows'
slots (a plain slice: running sequences occupy slots 0..R-1) and one causal SDPA per prompt chunk
over its slot. Called without a layout (HF `generate` on the same model object) it is transformers'
own SDPA attention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, PreTrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from lmstack.serve.engine import decode_attention, huge_pages, prompt_attention
from lmstack.serve.engine.scheduler import SlotMove

POPULATE_SHARE = 0.25  # a CPU cache up to this share of the available memory is written at start

log = logging.getLogger(__name__)


class KVCache:
    """Preallocated K/V buffers for `num_slots` sequences of up to `max_context` tokens."""

    def __init__(self, config: PreTrainedConfig, *, num_slots: int, max_context: int, dtype: torch.dtype,
                 device: torch.device | str = "cpu"):
        text = config.get_text_config()
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
        shape = (text.num_hidden_layers, num_slots, kv_heads, max_context, head_dim)
        if torch.device(device).type == "cpu":  # decode attention streams it: 2 MB pages (huge_pages.py)
            arena = huge_pages.Arena()
            self.keys, self.values = arena.zeros(shape, dtype), arena.zeros(shape, dtype)
            nbytes, available = 2 * self.keys.nbytes, huge_pages.available_memory()
            self.populated = available is not None and nbytes <= available * POPULATE_SHARE
            if self.populated:
                huge_pages.populate(self.keys)
                huge_pages.populate(self.values)
            else:
                log.info("KV cache of %.2f GB is more than a quarter of the memory available: its pages are "
                         "allocated as contexts first reach them", nbytes / 1e9)
        else:
            self.keys = torch.zeros(shape, dtype=dtype, device=device)
            self.values = torch.zeros(shape, dtype=dtype, device=device)
            self.populated = True
        self.num_slots = num_slots
        self.max_context = max_context

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes

    def write(self, layer: int, layout: StepLayout, keys: torch.Tensor, values: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one step's (T, kv_heads, head_dim) keys and values at each token's (slot, position) of
        `layer`; return that layer's whole buffers, (slots, kv_heads, max_context, head_dim) each."""
        layer_keys, layer_values = self.keys[layer], self.values[layer]
        index = (layout.slots, slice(None), layout.positions)
        layer_keys[index] = keys
        layer_values[index] = values
        return layer_keys, layer_values

    def move(self, moves: list[SlotMove]) -> None:
        """Copy slots as the scheduler asks, to keep running sequences packed."""
        for m in moves:
            self.keys[:, m.dst, :, : m.length] = self.keys[:, m.src, :, : m.length]
            self.values[:, m.dst, :, : m.length] = self.values[:, m.src, :, : m.length]



@dataclass(frozen=True)
class PromptSegment:
    """Tokens [offset, offset + length) of the flat step are prompt positions start.. of `slot`."""

    offset: int
    length: int
    slot: int
    start: int


@dataclass(frozen=True)
class StepLayout:
    """Where each token of one flat engine step lives: decode rows first (row i = slot i), then prompt chunks."""

    num_decode: int
    slots: torch.Tensor  # (T,) slot of each token
    positions: torch.Tensor  # (T,) its position in that slot
    segments: tuple[PromptSegment, ...]
    decode_kv_len: int = 0
    decode_mask: torch.Tensor | None = None  # (B, 1, 1, decode_kv_len): row i sees positions ≤ its own
    lengths: torch.Tensor | None = None  # (T,) int64: each token sees its slot's keys [0, its position + 1)

    @classmethod
    def build(cls, slots: list[int], positions: list[int], num_decode: int, segments: list[PromptSegment],
              device: torch.device | str = "cpu") -> StepLayout:
        pos = torch.tensor(positions)
        kv_len, mask = 0, None
        if num_decode:
            kv_len = int(pos[:num_decode].max()) + 1
            # Slots hold other rows' padding or a freed sequence's stale entries past a row's length.
            mask = (torch.arange(kv_len)[None, :] <= pos[:num_decode, None])[:, None, None, :].to(device)
        return cls(num_decode, torch.tensor(slots, device=device), pos.to(device), tuple(segments), kv_len, mask,
                   (pos + 1).to(device))

    def select(self, rows: torch.Tensor) -> StepLayout:
        """The layout of the step's `rows` only (flat positions in order, every decode row first): each
        prompt token kept becomes a one-token chunk at its own position, seeing the keys written up to it."""
        kept = rows.tolist()
        if kept[: self.num_decode] != list(range(self.num_decode)):
            raise ValueError("StepLayout.select: the rows must start with every decode row, in order")
        slots, positions = self.slots[rows], self.positions[rows]
        segments = tuple(PromptSegment(offset, 1, int(slots[offset]), int(positions[offset]))
                         for offset in range(self.num_decode, len(kept)))
        lengths = self.lengths[rows] if self.lengths is not None else None
        return StepLayout(self.num_decode, slots, positions, segments, self.decode_kv_len, self.decode_mask, lengths)


class SlotCache(Cache):
    """A `transformers` Cache that scatters one flat step's K/V into a `KVCache`'s slots."""

    def __init__(self, kv: KVCache, layout: StepLayout):
        super().__init__(layers=[])
        self.kv = kv
        self.layout = layout

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write (1, kv_heads, T, head_dim) at each token's (slot, position); return the layer's whole buffers."""
        return self.kv.write(layer_idx, self.layout, key_states[0].transpose(0, 1), value_states[0].transpose(0, 1))

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return int(self.layout.positions.max()) + 1


def slot_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                   **kwargs) -> tuple[torch.Tensor, None]:
    """Attention for a flat engine step (see the module docstring); (1, Hq, T, D) → (1, T, Hq, D)."""
    layout: StepLayout | None = kwargs.get("slot_layout")
    if layout is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    return attend(query[0], key, value, layout, scaling, kwargs.get("sliding_window")).transpose(0, 1)[None], None


def attend(q: torch.Tensor, key: torch.Tensor, value: torch.Tensor, layout: StepLayout, scaling: float | None,
           window: int | None = None) -> torch.Tensor:
    """Each token of a flat step attends to its own slot: q (Hq, T, D) over one layer's buffers
    (slots, H, C, D) → (Hq, T, D). With a sliding `window` W, a token at position p sees the keys at
    positions p-W+1..p only (transformers' sliding-window mask)."""
    heads, kv_heads, dim = q.shape[0], key.shape[1], q.shape[2]
    scale = scaling if scaling is not None else dim ** -0.5
    # The G = Hq / H query heads that share a KV head (heads h·G..h·G+G-1, as in repeat_kv) act as G
    # queries of that head: no repeated K/V.
    if decode_attention.available(key) and layout.lengths is not None:
        # lmstack's kernel, every token of the step in one call (decode_attention.py): a prompt chunk's
        # tokens are rows of its slot, each seeing the keys up to its own position (in the cache by now).
        t = q.shape[1]
        rows = q.transpose(0, 1).reshape(t, kv_heads, heads // kv_heads, dim)
        lengths = layout.lengths
        starts = (lengths - window).clamp_(min=0) if window is not None else None  # None: from 0
        # long prompt chunks: the blocked kernel, 32 rows × 16 keys at a time (prompt_attention.py)
        blocked = [seg for seg in layout.segments if seg.length >= prompt_attention.MIN_ROWS]
        if not blocked or not prompt_attention.available(key):
            out = decode_attention.decode_attention(rows, key, value, lengths, starts, scale,
                                                    layout.slots if layout.segments else None)
            return out.reshape(t, heads, dim).transpose(0, 1)
        out = torch.empty(rows.shape, dtype=key.dtype, device=rows.device)
        rest = torch.ones(t, dtype=torch.bool)  # the rows the row kernel serves
        for seg in blocked:
            span = slice(seg.offset, seg.offset + seg.length)
            prompt_attention.prompt_attention(rows[span], key, value, slot=seg.slot, start=seg.start, window=window,
                                              scale=scale, out=out[span])
            rest[span] = False
        if bool(rest.any()):
            index = rest.nonzero()[:, 0].to(rows.device)
            out[index] = decode_attention.decode_attention(rows[index], key, value, lengths[index],
                                                           starts[index] if starts is not None else None, scale,
                                                           layout.slots[index]).to(key.dtype)
        return out.to(q.dtype).reshape(t, heads, dim).transpose(0, 1)
    outs = []
    b = layout.num_decode
    if b:
        qd = q[:, :b].transpose(0, 1).reshape(b, kv_heads, heads // kv_heads, dim)
        # without the kernel: one (B, H, G, D) SDPA over the slots' prefix, masked per row
        k, v = key[:b, :, : layout.decode_kv_len], value[:b, :, : layout.decode_kv_len]  # (B, H, L, D)
        mask = layout.decode_mask
        if window is not None and layout.decode_kv_len > window:
            oldest = layout.positions[:b, None] - window  # keys at or before this fell out of the window
            mask = mask & (torch.arange(layout.decode_kv_len, device=q.device)[None, :] > oldest)[:, None, None, :]
        out = F.scaled_dot_product_attention(qd, k, v, attn_mask=mask, scale=scale)  # (B, H, G, D)
        outs.append(out.reshape(b, heads, dim).transpose(0, 1))  # (Hq, B, D)
    for seg in layout.segments:
        end = seg.start + seg.length
        k, v = key[seg.slot: seg.slot + 1, :, :end], value[seg.slot: seg.slot + 1, :, :end]
        qs = q[None, :, seg.offset: seg.offset + seg.length]  # (1, Hq, L, D)
        if seg.start == 0 and (window is None or end <= window):
            out = F.scaled_dot_product_attention(qs, k, v, is_causal=True, scale=scaling, enable_gqa=True)
        else:  # the chunk's queries sit at positions start.., below the keys' end: causal from that offset
            rows = torch.arange(seg.start, end, device=q.device)[:, None]
            keys = torch.arange(end, device=q.device)[None, :]
            mask = keys <= rows
            if window is not None:
                mask &= keys > rows - window
            out = F.scaled_dot_product_attention(qs, k, v, attn_mask=mask, scale=scaling, enable_gqa=True)
        outs.append(out[0])
    return torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]


SLOT_ATTENTION = "lmstack_slots"
AttentionInterface.register(SLOT_ATTENTION, slot_attention)
AttentionMaskInterface.register(SLOT_ATTENTION, sdpa_mask)  # HF generate on the same model builds SDPA masks


def install_slot_attention(model: PreTrainedModel) -> str:
    """Route the model's attention through `slot_attention` (transformers' SDPA whenever no layout is given).

    Returns the implementation it replaced, for `model.set_attn_implementation` to restore.
    """
    before = model.config._attn_implementation
    model.set_attn_implementation(SLOT_ATTENTION)
    return before

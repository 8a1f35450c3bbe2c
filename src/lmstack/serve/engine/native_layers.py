"""All decoder layers of a decode-only step in one call to lmstack's C kernels (`csrc/decoder_layers.c`).

    >>> layers = NativeLayers.build(step)                     # doctest: +SKIP
    >>> if layers is not None and layers.applies(layout, kv):
    ...     normed = layers(h, cos, sin, layout, kv)          # the final RMSNorm of the residual stream

`DecoderStep._fused_step` runs each layer as nine kernel calls from Python; at one to sixteen decode
rows their Python side (argument checks, ctypes, allocations) is about 2 ms of a 12-16 ms step of a
125M model on 2 cores. This makes the same kernel calls with the same arguments from C, so the step
gives the same bits (tested). It applies where every product of every layer runs on lmstack's
packed linear kernel at the step's row count (`linear.LinearPlan`), the KV cache is a contiguous
bf16 CPU buffer, and the step holds decode rows only (row i in slot i); prompt chunks keep the
Python loop, which runs their attention through torch's SDPA.
"""

from __future__ import annotations

import ctypes

import torch

from lmstack.serve.engine import native
from lmstack.serve.engine.kv_cache import KVCache, StepLayout
from lmstack.serve.engine.linear import ALL_ROWS, PackedLinear, RowSwitch

_P, _I64, _I32, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_float


class _Layer(ctypes.Structure):  # struct lmstack_layer
    _fields_ = [("input_norm", _P), ("post_norm", _P), ("qkv", _P), ("o", _P), ("gate_up", _P), ("down", _P),
                ("qkv_bias", _P), ("o_bias", _P), ("gate_up_bias", _P), ("down_bias", _P), ("window", _I64),
                ("qkv_amx", _I32), ("o_amx", _I32), ("gate_up_amx", _I32), ("down_amx", _I32),
                ("input_eps", _F), ("post_eps", _F)]


class _Dims(ctypes.Structure):  # struct lmstack_dims
    _fields_ = [(name, _I64) for name in ("layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate",
                                          "num_slots", "context")] + [("scale", _F), ("final_eps", _F)]


class _Work(ctypes.Structure):  # struct lmstack_work
    _fields_ = [(name, _P) for name in ("normed", "qkv", "q", "attn", "o", "gate_up", "act", "down", "starts")]


def _packed(product) -> tuple[PackedLinear, int] | None:
    """lmstack's packed product behind a layer's product and the rows up to which it runs, or None."""
    if isinstance(product, PackedLinear):
        return product, ALL_ROWS
    if isinstance(product, RowSwitch) and isinstance(product.small, PackedLinear):
        return product.small, product.rows
    return None


class NativeLayers:
    """The layers of one `DecoderStep`, laid out once for `lmstack_decode_layers_bf16`."""

    def __init__(self, layers: ctypes.Array, sizes: dict[str, int], scale: float, final_norm: torch.nn.Module,
                 max_rows: int, keep_alive: list[object]):
        self._layers = layers
        self.sizes = sizes
        self.scale = scale
        self.final_norm = final_norm
        self.max_rows = max_rows  # the step's products run on the packed kernel up to this many rows
        self._keep_alive = keep_alive  # owners of every pointer in `layers`
        self._work: dict[int, tuple[_Work, list[torch.Tensor]]] = {}
        self._fn = native.library().lmstack_decode_layers_bf16

    @classmethod
    def build(cls, step) -> NativeLayers | None:
        """For a `DecoderStep` with the fused kernels; None where any product is not lmstack's kernel."""
        if not step.fused or native.library() is None or step.embed.weight.dtype != torch.bfloat16:
            return None
        structs, keep, max_rows = [], [], ALL_ROWS
        for layer in step.layers:
            products = [_packed(p) for p in (layer.qkv, layer.o, layer.gate_up, layer.down)]
            if any(p is None for p in products):
                return None
            max_rows = min([max_rows] + [rows for _, rows in products])
            (qkv, _), (o, _), (gate_up, _), (down, _) = products
            norm_in, norm_post = layer.norms
            keep += [qkv, o, gate_up, down, norm_in, norm_post]
            structs.append(_Layer(
                norm_in.weight.data_ptr(), norm_post.weight.data_ptr(), qkv.packed.data_ptr(), o.packed.data_ptr(),
                gate_up.packed.data_ptr(), down.packed.data_ptr(),
                *(p.bias.data_ptr() if p.bias is not None else None for p in (qkv, o, gate_up, down)),
                layer.window or 0, int(qkv.amx), int(o.amx), int(gate_up.amx), int(down.amx),
                norm_in.variance_epsilon, norm_post.variance_epsilon))
        if max_rows == 0:
            return None
        sizes = dict(hidden=step.embed.weight.shape[1], heads=step.heads, kv_heads=step.kv_heads,
                     head_dim=step.head_dim, intermediate=step.intermediate)
        return cls((_Layer * len(structs))(*structs), sizes, step.scaling, step.final_norm, max_rows, keep)

    def applies(self, layout: StepLayout, kv: KVCache) -> bool:
        """Whether this step can run here: decode rows only, the packed kernel at its row count, a bf16 CPU cache."""
        rows = layout.num_decode
        return (not layout.segments and 0 < rows <= self.max_rows and rows == layout.slots.shape[0]
                and native.usable(kv.keys, kv.values) and kv.keys.dtype == torch.bfloat16
                and kv.keys.shape[0] == len(self._layers))

    def _buffers(self, rows: int) -> _Work:
        if rows not in self._work:
            s = self.sizes
            q_width = s["heads"] * s["head_dim"]
            widths = (s["hidden"], q_width + 2 * s["kv_heads"] * s["head_dim"], q_width, q_width, s["hidden"],
                      2 * s["intermediate"], s["intermediate"], s["hidden"])
            tensors = [torch.empty(rows, w, dtype=torch.bfloat16) for w in widths]
            tensors.append(torch.empty(rows, dtype=torch.int64))
            self._work[rows] = (_Work(*(t.data_ptr() for t in tensors)), tensors)
        return self._work[rows][0]

    def __call__(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, layout: StepLayout,
                 kv: KVCache) -> torch.Tensor:
        """h (rows, E) bf16, the embedded tokens, updated in place into the residual stream; cos, sin (rows, D).
        Returns the final RMSNorm of the residual stream, (rows, E)."""
        rows = h.shape[0]
        s = self.sizes
        contiguous = h.is_contiguous() and cos.is_contiguous() and sin.is_contiguous()
        if not contiguous or cos.shape != (rows, s["head_dim"]) or sin.shape != cos.shape:
            raise ValueError(f"native layers: h {tuple(h.shape)}, cos {tuple(cos.shape)} do not fit")
        layers, slots, context = kv.keys.shape[0], kv.keys.shape[1], kv.keys.shape[3]
        dims = _Dims(layers, s["hidden"], s["heads"], s["kv_heads"], s["head_dim"], s["intermediate"], slots, context,
                     self.scale, self.final_norm.variance_epsilon)
        slots_t = layout.slots.to(torch.int64).contiguous()
        positions = layout.positions.to(torch.int64).contiguous()
        lengths = layout.lengths[:layout.num_decode].to(torch.int64).contiguous()
        out = torch.empty_like(h)
        rc = self._fn(self._layers, ctypes.byref(dims), h.data_ptr(), rows, cos.data_ptr(), sin.data_ptr(),
                      kv.keys.data_ptr(), kv.values.data_ptr(), slots_t.data_ptr(), positions.data_ptr(),
                      lengths.data_ptr(), self.final_norm.weight.data_ptr(), out.data_ptr(),
                      ctypes.byref(self._buffers(rows)), torch.get_num_threads())
        if rc == -2:
            raise ValueError(f"native layers: row i must be in slot i and its position inside the cache ({slots} slots "
                             f"× {context}): slots {layout.slots.tolist()}, positions {layout.positions.tolist()}")
        if rc != 0:
            raise RuntimeError("native layers: a kernel could not run (no AVX-512 BF16 or AMX here, or no memory)")
        return out

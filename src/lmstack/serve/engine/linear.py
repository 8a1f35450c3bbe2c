"""bf16 linear layers through lmstack's AVX-512 BF16 kernel (`csrc/linear.c`), weights packed once.

    >>> qkv = PackedLinear.build([attn.q_proj, attn.k_proj, attn.v_proj])   # doctest: +SKIP
    >>> y = qkv(x)   # (rows, q + k + v) in bf16: the three layers' outputs side by side

A decode step multiplies each weight matrix by a few rows, one per running sequence: its time is
the time to read the weights. The kernel reads a layout made for VDPBF16PS (16 output features ×
2 input features per 64-byte load) and keeps up to 8 rows × 64 features of sums in registers, so 1
to 16 rows cost about one pass over the weights (benchmarks/serve/RESULTS.md has the numbers
against oneDNN's packed GEMM). The packed copy is made once, when the engine starts; the model's
own weights are not changed. `build` returns None where the kernel cannot run (no AVX-512 BF16,
LMSTACK_KERNELS=0, another dtype or device, an odd input size): the caller keeps its own path.
"""

from __future__ import annotations

import torch
from torch import nn

from lmstack.serve.engine import native

BLOCK, GROUP = 16, 4  # output features per packed block, blocks per kernel task (csrc/linear.c)


def available() -> bool:
    """Whether the kernel is built and this CPU runs it."""
    lib = native.library()
    return lib is not None and bool(lib.lmstack_linear_supported())


def pack(weight: torch.Tensor) -> torch.Tensor:
    """(N, K) bf16 → (ceil(N/64)·4, K/2, 16, 2): per block of 16 output features, the pairs of inputs."""
    n, k = weight.shape
    padded = -(-n // (BLOCK * GROUP)) * BLOCK * GROUP
    w = torch.zeros(padded, k, dtype=torch.bfloat16)
    w[:n] = weight
    return w.view(padded // BLOCK, BLOCK, k // 2, 2).transpose(1, 2).contiguous()


class PackedLinear:
    """Linear layers that read the same input, as one bf16 product on the packed weights."""

    def __init__(self, packed: torch.Tensor, bias: torch.Tensor | None, in_features: int, out_features: int):
        self.packed, self.bias = packed, bias
        self.in_features, self.out_features = in_features, out_features

    @classmethod
    def build(cls, linears: list[nn.Linear]) -> PackedLinear | None:
        """One packed product for `linears` (outputs side by side), or None where the kernel does not apply."""
        weights = [m.weight for m in linears]
        k = weights[0].shape[1]
        if (not available() or k % 2 or any(w.shape[1] != k for w in weights)
                or any(w.dtype != torch.bfloat16 or w.device.type != "cpu" for w in weights)):
            return None
        with torch.no_grad():
            weight = torch.cat(weights) if len(weights) > 1 else weights[0]
            n = weight.shape[0]
            bias = None
            if any(m.bias is not None for m in linears):
                bias = torch.zeros(-(-n // (BLOCK * GROUP)) * BLOCK * GROUP)  # fp32, padded like the weight
                bias[:n] = torch.cat([m.bias if m.bias is not None else m.weight.new_zeros(m.out_features)
                                      for m in linears]).float()
            return cls(pack(weight), bias, k, n)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, K) bf16 on the CPU → (M, N) bf16."""
        if x.dtype != torch.bfloat16 or x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"PackedLinear takes (rows, {self.in_features}) bf16, not {tuple(x.shape)} {x.dtype}")
        if x.stride(1) != 1 or x.stride(0) % 2 or x.data_ptr() % 4:
            x = x.contiguous()
        y = x.new_empty(x.shape[0], self.out_features)
        rc = native.kernel("linear", torch.bfloat16)(
            x.data_ptr(), x.shape[0], x.stride(0), self.in_features, self.packed.data_ptr(),
            self.bias.data_ptr() if self.bias is not None else None, self.out_features, y.data_ptr(),
            self.out_features, torch.get_num_threads())
        if rc != 0:
            raise RuntimeError("lmstack's linear kernel does not run on this CPU (no AVX-512 BF16)")
        return y

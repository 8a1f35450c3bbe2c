"""oneDNN-prepacked linear weights: the same logits as plain bf16 linears, and a clean uninstall."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from lmstack.serve.engine.packed_linear import PackedLinears


@pytest.fixture(scope="module")
def bf16_llama(tiny_llama):
    return copy.deepcopy(tiny_llama).to(torch.bfloat16).eval()


def test_packed_forward_matches_plain_bf16(bf16_llama):
    ids = torch.randint(4, bf16_llama.config.vocab_size, (3, 17), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        plain = bf16_llama(ids).logits.float()
        packed = PackedLinears.install(bf16_llama)
        try:
            fast = bf16_llama(ids).logits.float()
        finally:
            packed.remove()
    linears = sum(type(m) is nn.Linear for m in bf16_llama.modules())
    assert len(packed.modules) == 0 and linears == 2 * 7 + 1  # llama-1m: 2 layers × 7 matrices + LM head
    assert (fast.argmax(-1) == plain.argmax(-1)).all()
    assert (fast - plain).abs().max().item() < 0.05


def test_install_and_remove_restore_the_model(bf16_llama, tiny_llama):
    packed = PackedLinears.install(bf16_llama)
    assert len(packed.modules) == 15 and all(hasattr(m, "_lmstack_packed") for m in packed.modules)
    packed.remove()
    assert not any(hasattr(m, "_lmstack_packed") or "forward" in vars(m) for m in bf16_llama.modules())
    assert PackedLinears.install(tiny_llama).modules == []  # fp32: nothing to pack

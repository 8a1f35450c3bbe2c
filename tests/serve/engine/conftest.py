"""A tiny random Llama whose greedy output varies from token to token, in fp32 for exact parity."""

from __future__ import annotations

import pytest
import torch

from lmstack.models.build import build_model


@pytest.fixture(scope="session")
def tiny_llama(tiny_tokenizer):
    """llama-1m with weights re-drawn large enough that it does not just echo its last input token."""
    tok = tiny_tokenizer
    model = build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else 0.15))
    return model

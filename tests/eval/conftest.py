"""A tiny random Llama with the shared tiny tokenizer, for perplexity and multiple choice."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_lm(tiny_tokenizer):
    from lmstack.models.build import build_model

    tok = tiny_tokenizer
    model = build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, seed=0)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory, tiny_lm, tiny_tokenizer):
    out = tmp_path_factory.mktemp("tiny-lm") / "model"
    tiny_lm.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out

"""MoE: router hooks count exactly what the routers chose; training logs shares, plots them, warns on collapse."""

import dataclasses
import json
import logging

import pytest
import torch

from lmstack.errors import UserError
from lmstack.models.build import build_model
from lmstack.models.presets import get_preset
from lmstack.train.moe import ExpertLoad, collapsed_expert, moe, routers
from lmstack.train.packing import pack

CPU = torch.device("cpu")


@pytest.fixture
def mixtral(tiny_tokenizer):
    """moe-4m cut to two layers: the per-expert loop makes a Mixtral step slow on a CPU."""
    preset = get_preset("moe-4m")
    preset = dataclasses.replace(preset, config={**preset.config, "num_hidden_layers": 2})
    t = tiny_tokenizer
    return build_model(preset, vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                       eos_token_id=t.eos_token_id, max_position_embeddings=64, seed=0)


def test_hooks_count_each_routers_top_k_choices(mixtral):
    load = ExpertLoad(mixtral, 8)
    load.attach()
    x = torch.randint(5, 500, (2, 16))
    mixtral.train()
    out = mixtral(x, output_router_logits=True)
    load.detach()
    # The model returns every layer's router logits; top-2 of each row is what the router chose.
    expected = torch.zeros(8, dtype=torch.long)
    for logits in out.router_logits:  # (tokens, experts) per layer
        expected += torch.bincount(logits.topk(2, dim=-1).indices.reshape(-1), minlength=8)
    assert len(routers(mixtral)) == 2
    assert torch.equal(load.window, expected)
    assert load.tokens[0] == 2 * 2 * 16
    assert sum(load.shares(load.window, load.tokens[0])) == pytest.approx(2.0, abs=1e-3)


def test_collapse_is_the_largest_share_above_the_limit():
    assert collapsed_expert([0.25] * 8, 0.5) is None
    assert collapsed_expert([0.1, 0.9, 0.6, 0.1], 0.5) == 1
    assert collapsed_expert([], 0.5) is None


def test_moe_trains_logs_expert_shares_and_plots_them(mixtral, tiny_tokenizer, corpus_lines, tmp_path, tiny_train,
                                                      caplog):
    rows = pack(tiny_tokenizer, corpus_lines, 32)
    cfg = tiny_train(max_steps=6, batch_size=4, lr=1e-2, log_every=2, save_every=6, moe_collapse_share=0.3)
    with torch.no_grad():
        before = mixtral(rows[:16], labels=rows[:16]).loss.item()
    with caplog.at_level(logging.WARNING, logger="lmstack.train.moe"):
        m = moe(mixtral, tiny_tokenizer, rows, tmp_path, cfg, seed=0, device=CPU, bf16=False)
    mixtral.eval()
    with torch.no_grad():
        after = mixtral(rows[:16], labels=rows[:16]).loss.item()
    assert after < before - 0.5, (before, after)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    shares = [r for r in logged if "expert_share" in r]
    assert [r["step"] for r in shares] == [2, 4, 6]
    assert all(len(r["expert_share"]) == 8 and sum(r["expert_share"]) == pytest.approx(2.0, abs=1e-2) for r in shares)
    assert all(r["router_aux_loss"] > 0 for r in shares)
    assert m["experts"] == 8 and m["top_k"] == 2 and m["even_share"] == 0.25
    assert sum(m["expert_share"]) == pytest.approx(2.0, abs=1e-2)
    assert (tmp_path / "expert_share.png").stat().st_size > 1000
    # Top-2 of 8 gives 0.25 each when even, so a 0.3 limit flags the busiest expert of a short run.
    assert m["collapsed_expert"] == max(range(8), key=m["expert_share"].__getitem__)
    assert f"router collapse: expert {m['collapsed_expert']}" in caplog.text


def test_a_dense_model_is_refused(llama, tiny_tokenizer, corpus_lines, tmp_path, tiny_train):
    rows = pack(tiny_tokenizer, corpus_lines, 32)
    with pytest.raises(UserError, match="has no routers"):
        moe(llama(), tiny_tokenizer, rows, tmp_path, tiny_train(), seed=0, device=CPU, bf16=False)

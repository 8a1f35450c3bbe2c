"""The preset table: exact counts, honest names, typo help."""

from __future__ import annotations

import re

import pytest
import torch

from lmstack.errors import UserError
from lmstack.models.presets import ARCHITECTURES, PRESETS, count_parameters, get_preset, make_config, preset_table

# Presets small enough to instantiate for real in a fast test.
SMALL = [name for name in PRESETS if count_parameters(PRESETS[name])["total"] < 25_000_000]


def _size_in_name(name: str) -> float:
    number, unit = re.search(r"-(\d+)([mb])$", name).groups()
    return int(number) * {"m": 1e6, "b": 1e9}[unit]


@pytest.mark.parametrize("name", SMALL)
def test_meta_count_equals_a_real_instance(name):
    preset = PRESETS[name]
    with torch.random.fork_rng(devices=[]):
        model = ARCHITECTURES[preset.arch].model_class(make_config(preset))
    assert count_parameters(preset)["total"] == sum(p.numel() for p in model.parameters())


def test_count_follows_the_vocab_size():
    preset = get_preset("llama-1m")
    hidden = preset.config["hidden_size"]
    # Tied embeddings: one vocab × hidden matrix, so 1,000 more tokens add 1,000 rows only.
    assert count_parameters(preset, 5096)["total"] - count_parameters(preset, 4096)["total"] == 1000 * hidden


@pytest.mark.parametrize("name", list(PRESETS))
def test_name_suffix_is_the_parameter_count_within_25_percent(name):
    total = count_parameters(PRESETS[name])["total"]
    assert 0.75 <= total / _size_in_name(name) <= 1.25, f"{name} has {total:,} parameters"


def test_presets_span_tiny_to_a_billion():
    totals = [count_parameters(p)["total"] for p in PRESETS.values()]
    assert min(totals) <= 2_000_000
    assert max(totals) >= 900_000_000
    assert {p.arch for p in PRESETS.values()} == set(ARCHITECTURES)


def test_moe_active_parameters_are_exact():
    preset = get_preset("moe-4m")
    config = make_config(preset)
    counts = count_parameters(preset)
    E, k, L = config.num_local_experts, config.num_experts_per_tok, config.num_hidden_layers
    # One SwiGLU expert: gate, up and down projections, no biases.
    per_expert = 3 * config.hidden_size * config.intermediate_size
    assert counts["total"] - counts["active"] == L * (E - k) * per_expert
    assert config.output_router_logits and config.router_aux_loss_coef > 0


def test_dense_presets_are_fully_active():
    for preset in PRESETS.values():
        if ARCHITECTURES[preset.arch].experts_module is None:
            counts = count_parameters(preset)
            assert counts["active"] == counts["total"]


def test_preset_table_rows():
    rows = {row["name"]: row for row in preset_table()}
    assert list(rows) == list(PRESETS)
    llama = rows["llama-1b"]
    shape = (llama["layers"], llama["hidden"], llama["heads"], llama["kv_heads"], llama["context"])
    assert shape == (16, 2048, 32, 8, 4096)
    assert rows["seq2seq-60m"]["layers"] == "6+6" and rows["seq2seq-60m"]["hidden"] == 512
    assert rows["moe-1b"]["experts"] == 8 and rows["moe-1b"]["active_params"] < rows["moe-1b"]["params"] / 2
    assert rows["clip-150m"]["layers"] == "12+12" and rows["clip-150m"]["hidden"] == "512/768"
    assert rows["llama-1m"]["experts"] is None


def test_unknown_preset_suggests_the_closest_name():
    with pytest.raises(UserError) as err:
        get_preset("lama-5m")
    assert "llama-5m" in err.value.hint


def test_nonsense_preset_points_to_the_list():
    with pytest.raises(UserError) as err:
        get_preset("gpt-17")
    assert "lmstack models presets" in err.value.hint


def test_presets_do_not_share_mutable_config():
    preset = get_preset("clip-2m")
    make_config(preset, 999).text_config.vocab_size = 5
    assert make_config(preset).text_config.vocab_size == preset.vocab_size

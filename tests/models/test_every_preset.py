"""Every preset builds and runs: real weights up to ~70M parameters (saved, reloaded bit for bit);
above that, full width with one layer per stack (a whole 1B model would cost gigabytes and
minutes here, and depth only repeats the layer that runs)."""

from __future__ import annotations

import pytest
import torch

from lmstack.models.build import build_model
from lmstack.models.loading import load_model
from lmstack.models.presets import PRESETS, count_parameters, make_config

VOCAB = 512
REAL_LIMIT = 70_000_000
SMALL = [n for n, p in PRESETS.items() if count_parameters(p, VOCAB)["total"] <= REAL_LIMIT]
LARGE = [n for n in PRESETS if n not in SMALL]


def batch_for(arch: str, vocab: int, image_size: int | None = None) -> dict:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, vocab, (2, 12), generator=g)
    ids[:, -1] = 0  # eos closes each text (CLIP pools there)
    batch = {"input_ids": ids}
    if arch == "seq2seq":
        batch["decoder_input_ids"] = ids[:, :5]
    if arch == "dual_encoder":
        batch["pixel_values"] = torch.randn(3, 3, image_size, image_size, generator=g)
    return batch


def image_size(model) -> int | None:
    vision = getattr(model.config, "vision_config", None)
    return vision.image_size if vision is not None else None


def test_presets_are_split_between_the_two_checks():
    assert SMALL and LARGE and set(SMALL) | set(LARGE) == set(PRESETS)


@pytest.mark.parametrize("name", SMALL)
def test_small_preset_builds_saves_reloads_and_runs(name, tmp_path):
    preset = PRESETS[name]
    model = build_model(name, vocab_size=VOCAB, pad_token_id=1, bos_token_id=0, eos_token_id=0, seed=0).eval()
    model.save_pretrained(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.bin"))
    loaded, _ = load_model(tmp_path / "m", device="cpu", dtype="float32")
    original, reloaded = model.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    assert all(torch.equal(original[k], reloaded[k]) for k in original)
    batch = batch_for(preset.arch, VOCAB, image_size(model))
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    key = "logits_per_image" if preset.arch == "dual_encoder" else "logits"
    torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    if preset.arch != "dual_encoder":
        assert a.logits.shape[-1] == VOCAB


LAYER_KEYS = ("num_hidden_layers", "encoder_layers", "decoder_layers")


def one_layer_per_stack(config):
    for sub in (config, getattr(config, "text_config", None), getattr(config, "vision_config", None)):
        for key in LAYER_KEYS:
            if sub is not None and hasattr(sub, key):
                setattr(sub, key, 1)
    return config


@pytest.mark.parametrize("name", LARGE)
def test_large_preset_runs_at_full_width(name):
    from lmstack.models.presets import ARCHITECTURES

    preset = PRESETS[name]
    config = one_layer_per_stack(make_config(preset, VOCAB, pad_token_id=1, bos_token_id=0, eos_token_id=0))
    model = ARCHITECTURES[preset.arch].model_class(config).eval()
    batch = batch_for(preset.arch, VOCAB, image_size(model))
    with torch.no_grad():
        out = model(**batch)
    if preset.arch == "dual_encoder":
        assert out.logits_per_image.shape == (3, 2)
    else:
        seq = batch["decoder_input_ids" if preset.arch == "seq2seq" else "input_ids"].shape[1]
        assert out.logits.shape == (2, seq, VOCAB)
        assert torch.isfinite(out.logits).all()

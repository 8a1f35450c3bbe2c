"""model_info reads a folder's config and safetensors headers, never its weights."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from lmstack.atomic import atomic_path
from lmstack.errors import UserError
from lmstack.models.build import build_model
from lmstack.models.info import model_info, read_safetensors_header


def _save(model, folder, tokenizer=None, **kwargs):
    with atomic_path(folder) as tmp:
        model.save_pretrained(tmp, **kwargs)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    return folder


def _llama(tok):
    return build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)


def test_info_of_a_saved_llama(tmp_path, tiny_tokenizer):
    model = _llama(tiny_tokenizer)
    info = model_info(_save(model, tmp_path / "m", tiny_tokenizer))
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["dtype"] == "float32" and info["dtypes"] == {"float32": info["parameters"]}
    assert (info["model_type"], info["kind"], info["architectures"]) == ("llama", "causal_lm", ["LlamaForCausalLM"])
    assert (info["vocab_size"], info["context_length"]) == (len(tiny_tokenizer), 512)
    assert (info["hidden_size"], info["num_layers"], info["num_heads"], info["num_kv_heads"]) == (128, 2, 4, 2)
    assert info["has_tokenizer"] and info["has_chat_template"]
    names = {f["name"] for f in info["files"]}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= names
    assert info["size_bytes"] == sum(f["bytes"] for f in info["files"])
    # fp32 weights: four bytes per parameter, plus a small JSON header.
    weights = next(f["bytes"] for f in info["files"] if f["name"] == "model.safetensors")
    assert 0 < weights - 4 * info["parameters"] < 64_000


def test_info_of_sharded_bf16_weights_without_tokenizer(tmp_path, tiny_tokenizer):
    model = _llama(tiny_tokenizer).to(torch.bfloat16)
    folder = _save(model, tmp_path / "m", max_shard_size="200KB")
    assert (folder / "model.safetensors.index.json").is_file()
    info = model_info(folder)
    assert len([f for f in info["files"] if f["name"].endswith(".safetensors")]) > 1
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["dtype"] == "bfloat16"
    assert not info["has_tokenizer"] and not info["has_chat_template"]


def test_info_of_moe_and_clip(tmp_path, tiny_tokenizer):
    ids = {"vocab_size": len(tiny_tokenizer), "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 0}
    moe = build_model("moe-4m", **ids)
    info = model_info(_save(moe, tmp_path / "moe"))
    assert (info["kind"], info["parameters"]) == ("moe", sum(p.numel() for p in moe.parameters()))
    clip = build_model("clip-2m", **ids)
    info = model_info(_save(clip, tmp_path / "clip"))
    assert (info["kind"], info["hidden_size"], info["context_length"]) == ("dual_encoder", 128, 77)


def test_safetensors_header_is_read_without_the_data(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(3, 4), "b": torch.zeros(5, dtype=torch.float16)}, path, metadata={"format": "pt"})
    header = read_safetensors_header(path)
    assert {k: (v["dtype"], v["shape"]) for k, v in header.items()} == {"a": ("F32", [3, 4]), "b": ("F16", [5])}


def test_info_refuses_a_pickle_only_folder(tmp_path, tiny_tokenizer):
    folder = _save(_llama(tiny_tokenizer), tmp_path / "m")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(UserError) as err:
        model_info(folder)
    assert "pytorch_model.bin" in err.value.message


def test_info_counts_what_marian_stores(tmp_path, tiny_tokenizer):
    model = build_model("seq2seq-2m", vocab_size=len(tiny_tokenizer), pad_token_id=1, bos_token_id=0, eos_token_id=0)
    info = model_info(_save(model, tmp_path / "m"))
    # Marian recomputes its sinusoidal position tables on load and saves its output bias buffer.
    positions = model.model.encoder.embed_positions.weight.numel() + model.model.decoder.embed_positions.weight.numel()
    expected = sum(p.numel() for p in model.parameters()) - positions + model.final_logits_bias.numel()
    assert (info["kind"], info["parameters"], info["num_layers"]) == ("seq2seq", expected, 3)

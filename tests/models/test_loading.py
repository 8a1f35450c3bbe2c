"""Loading refuses what it cannot load safely, and says what to do instead."""

from __future__ import annotations

import json

import huggingface_hub.constants
import pytest
from transformers import AutoConfig, BertConfig, LlamaConfig, MarianConfig, MixtralConfig

from lmstack.errors import UserError
from lmstack.models.loading import check_model_folder, load_model, model_kind
from lmstack.models.presets import PRESETS, make_config


def _config_only(folder):
    folder.mkdir(parents=True, exist_ok=True)
    LlamaConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=1, intermediate_size=128,
                vocab_size=300).save_pretrained(folder)
    return folder


def test_missing_folder(tmp_path):
    with pytest.raises(UserError) as err:
        load_model(tmp_path / "nope")
    assert "does not exist" in err.value.message and "save_pretrained" in err.value.hint


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError) as err:
        check_model_folder(tmp_path / "model.safetensors")
    assert "config.json" in err.value.hint


def test_folder_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError) as err:
        load_model(tmp_path)
    assert "no config.json" in err.value.message and "save_pretrained" in err.value.hint


def test_empty_folder(tmp_path):
    with pytest.raises(UserError) as err:
        load_model(tmp_path)
    assert "no config.json" in err.value.message


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.pt", "model.pth", "last.ckpt"])
def test_pickle_weights_are_refused_with_a_conversion_recipe(tmp_path, weights):
    folder = _config_only(tmp_path / "m")
    (folder / weights).write_bytes(b"not even opened")
    with pytest.raises(UserError) as err:
        load_model(folder)
    assert weights in err.value.message and "execute" in err.value.message
    assert "save_pretrained" in err.value.hint and "trust" in err.value.hint


def test_config_without_weights(tmp_path):
    folder = _config_only(tmp_path / "m")
    with pytest.raises(UserError) as err:
        load_model(folder)
    assert "no weights" in err.value.message and ".safetensors" in err.value.hint


def test_missing_shard(tmp_path):
    folder = _config_only(tmp_path / "m")
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"")
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                            "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(UserError) as err:
        check_model_folder(folder)
    assert "model-00002-of-00002.safetensors" in err.value.message


def test_remote_code_needs_an_explicit_opt_in(tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "my_custom_lm", "architectures": ["MyCustomLM"],
        "auto_map": {"AutoConfig": "configuration_my.MyConfig", "AutoModelForCausalLM": "modeling_my.MyCustomLM"}}))
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError) as err:
        load_model(folder)
    assert "trust_remote_code=True" in err.value.hint


def test_unreachable_hub_id_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, at import; the test runs after that.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as err:
        load_model("some-org/some-model")
    assert "could not fetch 'some-org/some-model'" in err.value.message
    assert "pass the folder" in err.value.hint


@pytest.mark.parametrize("config, kind", [
    (LlamaConfig(architectures=["LlamaForCausalLM"]), "causal_lm"),
    (LlamaConfig(), "causal_lm"),
    (MixtralConfig(architectures=["MixtralForCausalLM"]), "moe"),
    (MarianConfig(architectures=["MarianMTModel"]), "seq2seq"),
    (AutoConfig.for_model("bart", architectures=["BartForConditionalGeneration"]), "seq2seq"),
    (AutoConfig.for_model("bart", architectures=["BartForCausalLM"]), "causal_lm"),
    (AutoConfig.for_model("qwen2_moe", architectures=["Qwen2MoeForCausalLM"]), "moe"),
    (BertConfig(architectures=["BertModel"]), "encoder"),
])
def test_model_kind(config, kind):
    assert model_kind(config) == kind


def test_model_kind_of_every_preset():
    for preset in PRESETS.values():
        assert model_kind(make_config(preset)) == preset.arch


def test_broken_config_json(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError) as err:
        load_model(tmp_path)
    assert "not valid JSON" in err.value.message


def test_unknown_model_type_without_code(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "from_the_future"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError) as err:
        load_model(tmp_path)
    assert "upgrade transformers" in err.value.hint

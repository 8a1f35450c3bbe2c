"""The model-facing commands on tiny local models: presets, info, tokenizer train, generate."""

import json

import pytest
from typer.testing import CliRunner

from lmstack.cli import app
from lmstack.generate import generate_text
from lmstack.models.build import build_model
from lmstack.models.presets import PRESETS, count_parameters

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer):
    tok = tiny_tokenizer
    model = build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, seed=0)
    out = tmp_path_factory.mktemp("model") / "llama"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_presets_json_lists_every_preset_with_exact_counts():
    result = runner.invoke(app, ["models", "presets", "--json"])
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == list(PRESETS)
    assert rows[0]["params"] == count_parameters(PRESETS[rows[0]["name"]])["total"]


def test_presets_table_filters_by_arch():
    result = runner.invoke(app, ["models", "presets", "--arch", "moe"])
    assert result.exit_code == 0
    assert "moe-4m" in result.output and "llama-1m" not in result.output


def test_models_info(tiny_model_dir):
    data = json.loads(runner.invoke(app, ["models", "info", str(tiny_model_dir), "--json"]).output)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert data["parameters"] == sum(p.numel() for p in model.parameters())
    assert data["kind"] == "causal_lm" and data["has_chat_template"] is True
    table = runner.invoke(app, ["models", "info", str(tiny_model_dir)])
    assert table.exit_code == 0 and "causal_lm" in table.output


def test_tokenizer_train(tmp_path, corpus_lines):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": line}, ensure_ascii=False) for line in corpus_lines))
    result = runner.invoke(app, ["tokenizer", "train", str(corpus), "--vocab-size", "400", "--out", str(tmp_path / "tok")])
    assert result.exit_code == 0, result.output
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert len(tok) == 400 and tok.decode(tok.encode("兰亭银行 bank")) == "兰亭银行 bank"


def test_tokenizer_train_reports_a_bad_row(tmp_path):
    from lmstack.errors import UserError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"oops": 1}\n')
    result = runner.invoke(app, ["tokenizer", "train", str(bad), "--out", str(tmp_path / "t")])
    assert isinstance(result.exception, UserError)
    assert f"{bad}:2: row has no text" in result.exception.message
    assert not (tmp_path / "t").exists()


def test_generate_streams_the_greedy_completion(tiny_model_dir, tiny_tokenizer):
    from lmstack.models.loading import load_model

    model, tok = load_model(tiny_model_dir, device="cpu")
    expected = generate_text(model, tok, "The model reads", max_new_tokens=8)
    result = runner.invoke(app, ["generate", str(tiny_model_dir), "The model reads", "-n", "8", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert expected.strip() and expected.strip() in result.output


def test_generate_with_chat_template(tiny_model_dir):
    result = runner.invoke(app, ["generate", str(tiny_model_dir), "你好", "-n", "4", "--chat", "--temperature", "0.8"])
    assert result.exit_code == 0, result.output


def test_generate_refuses_a_pickle_folder(tmp_path):
    from lmstack.errors import UserError

    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80")
    result = runner.invoke(app, ["generate", str(tmp_path), "hi"])
    assert isinstance(result.exception, UserError) and "safetensors" in result.exception.message

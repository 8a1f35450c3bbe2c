"""`lmstack serve --model NAME=PATH` for every model kind: causal, seq2seq, embedding and CLIP folders."""

from __future__ import annotations

import pytest
import typer
from fastapi.testclient import TestClient
from transformers import BertConfig, BertModel
from typer.testing import CliRunner

from lmstack.cli import serve_cmd
from lmstack.errors import UserError
from lmstack.models.build import build_model
from lmstack.serve.clip import ClipEmbedder
from lmstack.serve.embeddings import SentenceEmbedder
from lmstack.serve.server import KINDS, ModelSpec, StderrHandler, parse_model_specs, read_registry_file

app = typer.Typer()
app.command("serve")(serve_cmd.serve)
app.command("usage")(serve_cmd.usage)
runner = CliRunner()


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_tokenizer):
    tok = tiny_tokenizer
    ids = {"vocab_size": len(tok), "pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id,
           "eos_token_id": tok.eos_token_id}
    root = tmp_path_factory.mktemp("kinds")
    out = {}
    for name, preset in (("lm", "llama-1m"), ("mt", "seq2seq-2m"), ("clip", "clip-2m")):
        build_model(preset, **ids).save_pretrained(root / name)
        out[name] = root / name
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, pad_token_id=tok.pad_token_id)).save_pretrained(root / "enc")
    out["enc"] = root / "enc"
    for folder in out.values():
        tok.save_pretrained(folder)
    return out


def test_model_specs_take_every_kind():
    specs = parse_model_specs(["a=/m/a", "b=seq2seq:/m/b", "c=clip:/m/c", "d=embedding:/m/d", "e=causal:C:/m/e",
                               "f=/m/x:y"])
    assert [(s.name, s.kind, s.path) for s in specs] == [
        ("a", "auto", "/m/a"), ("b", "seq2seq", "/m/b"), ("c", "clip", "/m/c"), ("d", "embedding", "/m/d"),
        ("e", "causal", "C:/m/e"), ("f", "auto", "/m/x:y")]
    assert KINDS == ("auto", "causal", "seq2seq", "embedding", "clip")


def test_registry_yaml_accepts_the_new_kinds(tmp_path):
    reg = tmp_path / "models.yaml"
    reg.write_text("models:\n  - {name: mt, path: /m/mt, kind: seq2seq}\n  - {name: c, path: /m/c, kind: clip}\n"
                   "  - {name: lm, path: /m/lm}\n")
    assert read_registry_file(reg).models == [ModelSpec(name="mt", path="/m/mt", kind="seq2seq"),
                                              ModelSpec(name="c", path="/m/c", kind="clip"),
                                              ModelSpec(name="lm", path="/m/lm", kind="auto")]
    reg.write_text("models:\n  - {name: x, path: /m/x, kind: vision}\n")
    with pytest.raises(UserError, match="not a valid model registry"):
        read_registry_file(reg)


def test_serve_builds_every_kind_from_name_equals_path(folders, monkeypatch, tmp_path):
    served = {}
    monkeypatch.setattr("lmstack.serve.server.run_server", lambda app, **kw: served.update(app=app, **kw))
    args = ["serve", "--no-embeddings", "--db-url", f"sqlite:///{tmp_path / 's.db'}", "--dtype", "float32"]
    for name, folder in folders.items():
        args += ["--model", f"{name}={folder}"]
    r = runner.invoke(app, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    registry = served["app"].state.services.registry
    assert {n: m.kind for n, m in registry.generators.items()} == {"lm": "causal", "mt": "seq2seq"}
    assert isinstance(registry.embedders["clip"], ClipEmbedder)
    assert isinstance(registry.embedders["enc"], SentenceEmbedder)
    with TestClient(served["app"]) as c:
        cards = {m["id"]: m["kind"] for m in c.get("/v1/models").json()["data"]}
        assert cards == {"lm": "causal", "mt": "seq2seq", "clip": "embedding", "enc": "embedding"}
        for model in ("lm", "mt"):
            r = c.post("/v1/completions", json={"model": model, "prompt": "The model", "max_tokens": 3,
                                                "temperature": 0, "ignore_eos": True})
            assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 3, r.text
        for model in ("clip", "enc"):
            r = c.post("/v1/embeddings", json={"model": model, "input": ["The model reads"]})
            assert r.status_code == 200 and len(r.json()["data"][0]["embedding"]) in (128, 32), r.text


def test_a_wrong_explicit_kind_is_a_user_error(folders):
    from lmstack.serve.engine.seq2seq_engine import load_seq2seq_engine

    with pytest.raises(UserError, match="not an encoder-decoder model"):
        load_seq2seq_engine(str(folders["lm"]))
    with pytest.raises(UserError, match="not a CLIP dual encoder"):
        ClipEmbedder(folders["mt"])


def test_serve_help_names_the_kinds():
    text = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout
    for kind in ("seq2seq", "embedding", "clip", "causal"):
        assert kind in text


def test_serve_says_which_linear_products_a_bf16_engine_picked(folders, monkeypatch, tmp_path, caplog):
    import logging

    def start_and_stop(app, **kw):  # the engines build their steps when the app starts
        with TestClient(app):
            pass

    monkeypatch.setattr("lmstack.serve.server.run_server", start_and_stop)
    monkeypatch.setenv("LMSTACK_LINEAR", "onednn")  # fixed, so the line is known whatever this CPU has
    logger = logging.getLogger("lmstack")
    handlers, level = list(logger.handlers), logger.level
    try:
        with caplog.at_level(logging.INFO, logger="lmstack"):
            r = runner.invoke(app, ["serve", "--no-embeddings", "--db-url", f"sqlite:///{tmp_path / 's.db'}",
                                    "--dtype", "bfloat16", "--device", "cpu", "--model", f"lm={folders['lm']}"],
                              catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert "bf16 linear layers: oneDNN at every row count (oneDNN only)" in caplog.text
        assert sum(isinstance(h, StderrHandler) for h in logger.handlers) == 1  # on stderr too, once
        assert "INFO:     bf16 linear layers: oneDNN" in r.stderr
    finally:
        logger.handlers[:], logger.level = handlers, level

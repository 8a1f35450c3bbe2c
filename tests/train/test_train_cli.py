"""`lmstack train` and `lmstack export --merge-lora`, through typer apps holding just these commands."""

import pytest
import torch
import typer
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from lmstack.cli import train_cmd
from lmstack.cli.export_cmd import export
from lmstack.cli.train_cmd import train
from lmstack.errors import UserError

runner = CliRunner()


def app_of(command) -> typer.Typer:
    app = typer.Typer()
    app.command()(command)
    app.command("unused")(lambda: None)  # two commands keep typer from folding the name away
    return app


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"project: {{name: t, run_dir: {tmp_path / 'runs'}}}\ndata: {{corpus: [c.txt]}}\n"
                    "model: {preset: llama-1m, context_length: 32}\ntrain: {recipe: sft}\n", encoding="utf-8")
    return path


def test_train_runs_each_stage_up_to_train(project, monkeypatch):
    from lmstack import pipeline
    from lmstack.runs import StageOutcome

    calls = []

    def fake_run_project(cfg, *, force, only, console):
        calls.append((cfg.train.recipe, cfg.train.lr, force, only))
        manifest = {"metrics": {"steps": 3, "train_loss": 1.5}, "outputs": {"model": {"path": "model"}}}
        return {only: StageOutcome(only, project.parent / only, manifest, skipped=False)}
    monkeypatch.setattr(pipeline, "run_project", fake_run_project)
    result = runner.invoke(app_of(train), ["train", str(project), "-o", "train.lr=0.01", "--force"])
    assert result.exit_code == 0, result.output
    assert calls == [("sft", 0.01, True, "data"), ("sft", 0.01, True, "tokenizer"), ("sft", 0.01, True, "train")]
    assert "train (sft): steps 3, train_loss 1.5" in result.output


def test_no_resume_refuses_to_touch_an_interrupted_run(project, tmp_path):
    (tmp_path / "runs" / "t" / "train" / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    result = runner.invoke(app_of(train), ["train", str(project), "--no-resume"])
    assert isinstance(result.exception, UserError)
    assert "interrupted training run left checkpoints" in result.exception.message
    assert "--force" in result.exception.hint
    assert train_cmd.interrupted_checkpoints(tmp_path / "runs" / "t") is not None


def test_export_merge_lora_gives_the_adapter_models_logits(tmp_path, llama, tiny_tokenizer):
    from peft import LoraConfig, PeftModel, get_peft_model

    base = llama()
    base.save_pretrained(tmp_path / "base")
    tiny_tokenizer.save_pretrained(tmp_path / "base")
    base.name_or_path = str(tmp_path / "base")
    # Random (not zero) B matrices, so the merge changes the weights and parity means something.
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")

    result = runner.invoke(app_of(export), ["export", str(tmp_path / "adapter"), "--merge-lora",
                                            "--out", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter")
    x = torch.tensor([[5, 17, 42, 99, 3, 250]])
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(tmp_path / "base")(x).logits
        torch.testing.assert_close(merged(x).logits, adapter.eval()(x).logits, rtol=1e-5, atol=1e-5)
        assert (merged(x).logits - plain).abs().max() > 1e-3


def test_export_needs_an_adapter_folder(tmp_path):
    result = runner.invoke(app_of(export), ["export", str(tmp_path), "--merge-lora", "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, UserError) and "no adapter_config.json" in result.exception.message
    result = runner.invoke(app_of(export), ["export", str(tmp_path), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, UserError) and "--merge-lora" in result.exception.hint


def test_nproc_sets_the_train_sections_process_count(project, monkeypatch):
    from lmstack import pipeline
    from lmstack.runs import StageOutcome

    seen = []

    def fake_run_project(cfg, *, force, only, console):
        seen.append(cfg.train.nproc)
        manifest = {"metrics": {"steps": 3}, "outputs": {"model": {"path": "model"}}}
        return {only: StageOutcome(only, project.parent / only, manifest, skipped=False)}
    monkeypatch.setattr(pipeline, "run_project", fake_run_project)
    result = runner.invoke(app_of(train), ["train", str(project), "--nproc", "2"])
    assert result.exit_code == 0, result.output
    assert seen == [2, 2, 2]
    assert runner.invoke(app_of(train), ["train", str(project), "--nproc", "0"]).exit_code == 2

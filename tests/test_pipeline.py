"""`lmstack run` on a tiny project: every stage runs, is skipped when up to date, and resumes."""

import json
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lmstack.config import load_config
from lmstack.errors import UserError
from lmstack.pipeline import run_project
from lmstack.train import progress

WORDS_EN = "card transfer limit password account balance loan branch fee rate".split()
WORDS_ZH = list("银行卡转账限额密码账户余额贷款网点手续费利率")


@pytest.fixture
def project(tmp_path):
    rng = random.Random(0)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(
        " ".join(rng.choices(WORDS_EN, k=12)) + " " + "".join(rng.choices(WORDS_ZH, k=12)) for _ in range(400)
    ), encoding="utf-8")
    path = tmp_path / "project.yaml"
    path.write_text(f"""
project: {{name: tiny, run_dir: {tmp_path / 'runs'}, seed: 0}}
data: {{corpus: [corpus.txt]}}
model: {{preset: llama-1m, context_length: 32, tokenizer: {{vocab_size: 300}}, autocast: false}}
train: {{max_steps: 6, batch_size: 4, log_every: 1, eval_every: 3, save_every: 2, lr: 1.0e-2,
         sample_prompts: ["card ", "银行"], sample_max_new_tokens: 5}}
""", encoding="utf-8")
    return path


def test_run_trains_skips_and_forces(project):
    cfg = load_config(project)
    done = run_project(cfg)
    assert [o.skipped for o in done.values()] == [False, False, False, False]
    train = done["train"]
    m = train.manifest["metrics"]
    assert m["steps"] == 6 and m["train_tokens"] == 6 * 4 * 32 and m["val_loss"] > 0
    log = [json.loads(line) for line in train.output("metrics").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert (train.stage_dir / "loss.png").stat().st_size > 1000
    samples = [json.loads(s) for s in train.output("samples").read_text().splitlines()]
    assert [s["prompt"] for s in samples] == ["card ", "银行"]

    model = AutoModelForCausalLM.from_pretrained(train.output("model"))
    tok = AutoTokenizer.from_pretrained(train.output("model"))
    assert model.config.vocab_size == len(tok) == done["tokenizer"].manifest["metrics"]["vocab_size"]
    assert sorted(p.name for p in train.output("model").glob("*.safetensors")) == ["model.safetensors"]

    again = run_project(load_config(project))
    assert [o.skipped for o in again.values()] == [True, True, True, True]
    changed = run_project(load_config(project, ["train.max_steps=4"]))
    assert [o.skipped for o in changed.values()] == [True, True, False, False]
    forced = run_project(load_config(project, ["train.max_steps=4"]), force=True)
    assert [o.skipped for o in forced.values()] == [False, False, False, False]
    assert forced["eval"].manifest["metrics"] == {"skipped": "no eval.tasks and no test split"}


def test_only_needs_finished_upstream(project):
    cfg = load_config(project)
    with pytest.raises(UserError, match="stage 'data' has not finished"):
        run_project(cfg, only="train")
    with pytest.raises(UserError, match="unknown stage"):
        run_project(cfg, only="deploy")


def test_killed_training_resumes_from_its_checkpoint(project, monkeypatch):
    cfg = load_config(project)
    uninterrupted = run_project(load_config(project, ["project.name=full"]))["train"].manifest["metrics"]

    real = progress.TimeBudget.on_step_end

    def kill_at_step_5(self, args, state, control, **kw):
        if state.global_step == 5:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after this point runs
        return real(self, args, state, control, **kw)
    monkeypatch.setattr(progress.TimeBudget, "on_step_end", kill_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        run_project(cfg)
    stage = cfg.run_root / "train"
    assert not (stage / "manifest.json").exists() and not (stage / "model").exists()
    monkeypatch.setattr(progress.TimeBudget, "on_step_end", real)

    resumed = run_project(cfg)["train"].manifest["metrics"]
    assert resumed["resumed_from"].endswith("checkpoint-4")
    assert resumed["steps"] == 6
    assert resumed["val_loss"] == pytest.approx(uninterrupted["val_loss"], abs=1e-3)


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    path = tmp_path / "p.yaml"
    path.write_text(f"project: {{name: e, run_dir: {tmp_path / 'runs'}}}\ndata: {{corpus: [empty.txt]}}\n"
                    "model: {preset: llama-1m, context_length: 32, tokenizer: {vocab_size: 300}}\n")
    with pytest.raises(UserError, match="no text"):
        run_project(load_config(path))


def test_seed_makes_training_deterministic(project):
    a = run_project(load_config(project, ["project.name=a"]))["train"]
    b = run_project(load_config(project, ["project.name=b"]))["train"]
    wa = AutoModelForCausalLM.from_pretrained(a.output("model")).state_dict()
    wb = AutoModelForCausalLM.from_pretrained(b.output("model")).state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_data_stage_runs_the_cleaning_recipe(project, tmp_path):
    corpus = tmp_path / "corpus.txt"
    lines = corpus.read_text(encoding="utf-8").splitlines()
    corpus.write_text("\n".join(lines + lines[:10] + ["x"]), encoding="utf-8")  # 10 exact duplicates, 1 too short
    (tmp_path / "clean.yaml").write_text(
        "inputs: [corpus.txt]\nsteps:\n  - op: length\n    min: 2\n  - op: exact_dedup\n", encoding="utf-8")
    project.write_text(project.read_text(encoding="utf-8").replace(
        "data: {corpus: [corpus.txt]}", "data: {corpus: [corpus.txt], recipe: clean.yaml}"), encoding="utf-8")
    data = run_project(load_config(project))["data"]
    index = json.loads(data.output("dataset").read_text())
    assert index["corpus"] == ["clean/corpus.jsonl"]
    kept = (data.stage_dir / "clean/corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(kept) == len(set(lines)) == data.manifest["metrics"]["clean"]["rows_kept"]


def test_eval_stage_scores_the_trained_model(project, tmp_path):
    rows = [{"id": f"r{i}", "text": line} for i, line in
            enumerate((tmp_path / "corpus.txt").read_text(encoding="utf-8").splitlines()[:20])]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    (tmp_path / "tasks.yaml").write_text(
        "tasks:\n  - name: ppl\n    kind: perplexity\n    dataset: {path: test.jsonl, id_field: id}\n"
        "    prompt: '{{ text }}'\n    max_length: 32\n    stride: 16\n", encoding="utf-8")
    project.write_text(project.read_text(encoding="utf-8") + "eval: {tasks: tasks.yaml}\n", encoding="utf-8")
    evaluation = run_project(load_config(project))["eval"]
    assert evaluation.output("report").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    ppl = evaluation.manifest["metrics"]["tasks"]["ppl"]["perplexity"]["scores"]["trained"]
    from lmstack.eval.perplexity import perplexity

    model = AutoModelForCausalLM.from_pretrained(run_project(load_config(project))["train"].output("model"))
    tok = AutoTokenizer.from_pretrained(run_project(load_config(project))["train"].output("model"))
    expected = perplexity(model, tok, [r["text"] for r in rows], max_length=32, stride=16).perplexity
    assert ppl == pytest.approx(expected, rel=1e-3)


def test_without_tasks_the_eval_stage_scores_eval_metrics_on_the_test_split(project, tmp_path):
    rows = [{"id": f"q{i}", "lang": lang, "question": q, "answer": a} for i, (lang, q, a) in enumerate(
        [("en", "card limit", "transfer fee"), ("zh", "银行卡", "转账限额"), ("en", "loan rate", "branch fee"),
         ("zh", "密码", "账户余额")])]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    project.write_text(project.read_text(encoding="utf-8").replace(
        "data: {corpus: [corpus.txt]}", "data: {corpus: [corpus.txt], test: [test.jsonl]}")
        + "eval: {metrics: [perplexity, bleu], max_length: 32, stride: 16, max_new_tokens: 4}\n", encoding="utf-8")
    tasks = run_project(load_config(project))["eval"].manifest["metrics"]["tasks"]
    assert sorted(tasks) == ["test-en-answers", "test-en-perplexity", "test-zh-answers", "test-zh-perplexity"]
    assert tasks["test-zh-perplexity"]["perplexity"]["scores"]["trained"] > 1
    assert "bleu" in tasks["test-en-answers"]

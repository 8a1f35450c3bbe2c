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
plan: {{hardware: {{device: L4}}}}
bench: {{enabled: false}}
""", encoding="utf-8")
    return path


def test_run_trains_skips_and_forces(project):
    cfg = load_config(project)
    done = run_project(cfg)
    assert list(done) == ["plan", "data", "tokenizer", "train", "finetune", "eval", "bench", "report"]
    assert [o.skipped for o in done.values()] == [False] * 8
    assert done["finetune"].manifest["metrics"] == {"skipped": "the project has no finetune section"}
    assert done["bench"].manifest["metrics"] == {"skipped": "bench.enabled is false"}
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
    assert [o.skipped for o in again.values()] == [True] * 7 + [False]  # the report is always rendered
    changed = run_project(load_config(project, ["train.max_steps=4"]))
    assert [name for name, o in changed.items() if not o.skipped] == ["train", "finetune", "eval", "bench", "report"]
    forced = run_project(load_config(project, ["train.max_steps=4"]), force=True)
    assert [o.skipped for o in forced.values()] == [False] * 8
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


def test_from_reruns_that_stage_and_the_later_ones(project):
    run_project(load_config(project))
    again = run_project(load_config(project), start="eval")
    assert list(again) == ["plan", "data", "tokenizer", "train", "finetune", "eval", "bench", "report"]
    assert [name for name, o in again.items() if not o.skipped] == ["eval", "bench", "report"]
    with pytest.raises(UserError, match="--from: unknown stage 'deploy'"):
        run_project(load_config(project), start="deploy")
    with pytest.raises(UserError, match="do not go together"):
        run_project(load_config(project), start="eval", only="eval")


CHATS = [("What is the card limit?", "The card limit is set in the app."), ("转账限额是多少？", "转账限额可以在手机银行设置。"),
         ("How do I reset my password?", "Reset it in online banking settings."), ("贷款利率是多少？", "贷款利率以官网公布为准。")]


@pytest.mark.slow
def test_pretrain_then_sft_is_evaluated_against_the_untuned_model_served_and_reported(project, tmp_path):
    """The whole method on a tiny model: pretrain, SFT from it, eval base vs tuned, bench, one report."""
    rows = [{"id": f"q{i}", "lang": "zh" if any(ord(ch) > 127 for ch in q) else "en", "question": q, "answer": a,
             "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate(CHATS * 4)]
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    project.write_text(f"""
project: {{name: tiny, run_dir: {tmp_path / 'runs'}, seed: 0, languages: [en, zh]}}
plan: {{hardware: {{device: L4}}}}
data: {{corpus: [corpus.txt], train: [qa.jsonl], test: [qa.jsonl]}}
model: {{preset: llama-1m, context_length: 128, tokenizer: {{vocab_size: 300}}, autocast: false}}
train: {{sources: [corpus], max_steps: 4, batch_size: 4, log_every: 1, eval_every: 2, save_every: 2}}
finetune: {{recipe: sft, max_steps: 4, batch_size: 4, lr: 1.0e-2, log_every: 1, eval_every: 2, save_every: 2,
           sample_prompts: ["What is the card limit?"], sample_max_new_tokens: 4}}
eval: {{metrics: [bleu], max_new_tokens: 4, max_length: 128, stride: 64}}
bench: {{concurrency: [1, 2], num_prompts: 2, input_len: 8, output_len: 4, warmup: 0}}
""", encoding="utf-8")
    done = run_project(load_config(project))
    assert done["train"].manifest["config"]["train"]["sources"] == ["corpus"]
    assert done["finetune"].manifest["metrics"]["steps"] == 4
    tuned = done["finetune"].output("model")
    assert "chat_template" in (tuned / "tokenizer_config.json").read_text(encoding="utf-8") or \
        (tuned / "chat_template.jinja").is_file()

    summary = json.loads(done["eval"].output("summary").read_text(encoding="utf-8"))
    assert summary["baseline"] == "base" and set(summary["results"]) == {"base", "tuned"}
    task = summary["tasks"]["qa-en-answers"]["bleu"]
    assert set(task["scores"]) == {"base", "tuned"} and "tuned" in task["differences"]
    tasks = (done["eval"].stage_dir / "tasks.yaml").read_text(encoding="utf-8")
    assert "chat_template: true" in tasks  # an SFT model is asked in its chat template

    bench = json.loads(done["bench"].output("summary").read_text(encoding="utf-8"))
    assert sorted(bench) == ["1", "2"]
    for c, s in bench.items():
        assert s["completed"] == 2 and s["failed"] == 0 and s["load_shape"]["max_concurrency"] == int(c)
        assert s["output_tokens_per_s"] > 0 and s["ttft_ms"]["median"] > 0

    page = done["report"].output("report").read_text(encoding="utf-8")
    for heading in ("1 · Scenario and plan", "2 · Data", "3 · Training", "4 · Evaluation: base against tuned",
                    "5 · The served model under load", "6 · Serve it"):
        assert heading in page
    assert page.count("data:image/png;base64,") >= 5  # two loss curves, scores, trade-off, two latency CDFs
    assert f"lmstack serve --model tiny={tuned}" in page

    again = run_project(load_config(project))
    assert [name for name, o in again.items() if not o.skipped] == ["report"]


def test_both_examples_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "examples"
    cs = load_config(root / "customer-service" / "project.yaml")
    assert (cs.train.recipe, cs.train.sources, cs.finetune.recipe) == ("pretrain", ["corpus"], "sft")
    it = load_config(root / "image-text" / "project.yaml")
    assert it.train.recipe == "contrastive" and it.data.example.name == "image-text"


def test_run_command_passes_from_and_serves_the_final_model(project, monkeypatch):
    from typer.testing import CliRunner

    from lmstack import pipeline
    from lmstack.cli import app
    from lmstack.serve import server

    seen = {}
    real = pipeline.run_project

    def recording(cfg, **kw):
        seen["run"] = {k: kw[k] for k in ("force", "only", "start")}
        return real(cfg, **kw)
    monkeypatch.setattr(pipeline, "run_project", recording)
    monkeypatch.setattr(server, "serve", lambda specs, section, **kw: seen.update(specs=specs, port=section.port))
    result = CliRunner().invoke(app, ["run", str(project), "--serve", "-o", "serve.port=8123"])
    assert result.exit_code == 0, result.output
    assert seen["run"] == {"force": False, "only": None, "start": None}
    [spec] = seen["specs"]
    assert (spec.name, seen["port"]) == ("tiny", 8123) and spec.path.endswith("tiny/train/model")
    assert "report/index.html" in result.output.replace("\n", "")

    result = CliRunner().invoke(app, ["run", str(project), "--from", "eval"])
    assert result.exit_code == 0, result.output
    assert seen["run"] == {"force": False, "only": None, "start": "eval"}


@pytest.mark.slow
def test_image_text_example_runs_through_retrieval_eval(tmp_path):
    """The second example's path on a few pairs: drawn data, caption tokenizer, contrastive training,
    recall of trained and untrained models on the test pairs, and the report."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "image-text" / "project.yaml"
    cfg = load_config(example, [f"project.run_dir={tmp_path / 'runs'}", "data.example.scale=0.02",
                                "train.max_steps=3", "train.batch_size=8", "train.save_every=3",
                                "plan.hardware.device=L4"])
    done = run_project(cfg)
    index = json.loads(done["data"].output("dataset").read_text(encoding="utf-8"))
    assert index["test"] == ["example/test/captions.jsonl"] and index["corpus"] == []
    assert len((done["data"].stage_dir / "example/test/captions.jsonl").read_text().splitlines()) == 8  # 200 × 0.02 → min 8
    metrics = done["eval"].manifest["metrics"]
    assert metrics["test_pairs"] == 8 and set(metrics["scores"]) == {"base", "trained"}
    for scores in metrics["scores"].values():
        assert scores["image_to_text_recall@10"] == 1.0  # 8 candidates: the true one is always in the top 10
        assert 0 <= scores["image_to_text_recall@1"] <= 1
    assert done["bench"].manifest["metrics"] == {"skipped": "bench.enabled is false"}
    page = done["report"].output("report").read_text(encoding="utf-8")
    assert "4 · Evaluation: base against trained" in page and "/v1/embeddings" in page


def test_report_shows_how_to_call_the_model_with_the_projects_own_prompt(tmp_path):
    import shlex
    from pathlib import Path

    from lmstack.pipeline.report_stage import serve_commands
    from lmstack.runs import StageOutcome

    example = Path(__file__).resolve().parents[1] / "examples" / "customer-service" / "project.yaml"
    cfg = load_config(example, ["finetune.sample_prompts=[\"It's 转账?\"]"])
    tuned = StageOutcome("finetune", tmp_path / "finetune", {"outputs": {"model": {"path": "model"}}}, skipped=True)
    text = serve_commands(cfg, {"finetune": tuned})
    assert f"lmstack serve --model customer-service={tmp_path / 'finetune' / 'model'} --port 8000" in text
    curl = next(line for line in text.splitlines() if line.lstrip().startswith("-d "))
    body = json.loads(shlex.split(curl)[1])  # the shell quoting gives back valid JSON with the prompt
    assert body["messages"] == [{"role": "user", "content": "It's 转账?"}]
    assert serve_commands(cfg, {}) == "Train a model first: lmstack run <project.yaml>"

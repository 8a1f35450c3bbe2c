"""evaluate_models: base vs fine-tuned on the same tasks, one report, a summary of differences."""

from __future__ import annotations

import json

import pytest
import yaml

from lmstack.errors import UserError
from lmstack.eval.efficiency import load_bench
from lmstack.eval.multi import evaluate_models

ROWS = [{"id": f"r{i}", "question": q, "answer": a} for i, (q, a) in enumerate([
    ("老师阅读这份报告。", "我的朋友检查客户邮件。"), ("The model reads the report.", "Our team writes a short story."),
    ("模型在第3天翻译训练数据。", "这个服务总结42张发票。"), ("My friend checks customer emails.", "The teacher reads the report.")])]
TASKS = {"tasks": [
    {"name": "answers", "dataset": {"path": "qa.jsonl", "id_field": "id"}, "prompt": "{{ question }}",
     "reference": "answer", "generation": {"max_new_tokens": 3}, "metrics": ["chrf", "f1"], "language": "zh"},
    {"name": "ppl", "kind": "perplexity", "dataset": {"path": "qa.jsonl", "id_field": "id"},
     "prompt": "{{ question }} {{ answer }}", "max_length": 16, "stride": 8},
]}


@pytest.fixture(scope="module")
def other_lm_dir(tmp_path_factory, tiny_tokenizer):
    """A second tiny model: same architecture and tokenizer, other weights (seed 1)."""
    from lmstack.models.build import build_model

    tok = tiny_tokenizer
    out = tmp_path_factory.mktemp("tiny-lm-2") / "model"
    build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, seed=1).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture
def tasks_file(tmp_path):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(TASKS, allow_unicode=True), encoding="utf-8")
    return tmp_path / "tasks.yaml"


def test_two_models_one_report_and_a_summary_of_differences(tasks_file, tiny_lm_dir, other_lm_dir, bench_json,
                                                            tmp_path):
    out = tmp_path / "eval"
    summary = evaluate_models(tasks_file, {"base": tiny_lm_dir, "tuned": other_lm_dir}, out, device="cpu",
                              batch_size=4, resamples=200, show_progress=False, benches={"tuned": bench_json})
    assert json.loads((out / "summary.json").read_text()) == summary
    records = {n: json.loads((out / n / "results.json").read_text()) for n in ("base", "tuned")}
    assert records["base"]["model"]["path"] == str(tiny_lm_dir) and "efficiency" not in records["base"]
    assert records["tuned"]["efficiency"] == load_bench(bench_json)
    assert summary["baseline"] == "base" and set(summary["tasks"]) == {"answers", "ppl"}
    assert set(summary["tasks"]["answers"]) == {"chrf", "f1"}
    for task, scores in summary["tasks"].items():
        for score, entry in scores.items():
            metric = next(m for m in records["base"]["tasks"][task]["metrics"].values() if score in m["scores"])
            tuned = next(m for m in records["tuned"]["tasks"][task]["metrics"].values() if score in m["scores"])
            assert entry["scores"] == {"base": metric["scores"][score], "tuned": tuned["scores"][score]}
            diff = entry["differences"]["tuned"]
            assert diff["value"] == pytest.approx(tuned["scores"][score] - metric["scores"][score])
            lo, hi = diff["interval"]
            assert lo <= hi
    ppl = summary["tasks"]["ppl"]["perplexity"]
    assert ppl["scores"]["base"] != ppl["scores"]["tuned"]  # two different models really were evaluated
    assert summary["efficiency"]["tuned"]["completed"] == 6 and "latencies_ms" not in summary["efficiency"]["tuned"]
    html = (out / "report.html").read_text()
    assert str(out / "tuned" / "results.json") in html and html.count('alt="latency CDF"') == 2


def test_bad_model_names_or_benches_fail_before_any_model_loads(tasks_file, tmp_path):
    with pytest.raises(UserError, match="cannot be folder names"):
        evaluate_models(tasks_file, {"../up": "x"}, tmp_path)
    with pytest.raises(UserError, match="unknown models"):
        evaluate_models(tasks_file, {"base": "x"}, tmp_path, benches={"tuned": "b.json"})
    with pytest.raises(UserError, match="at least one model"):
        evaluate_models(tasks_file, {}, tmp_path)


def test_cli_eval_models(tasks_file, tiny_lm_dir, other_lm_dir, tmp_path):
    from typer.testing import CliRunner

    from lmstack.cli.eval_cmd import app

    ppl_only = {"tasks": [TASKS["tasks"][1]]}
    tasks_file.write_text(yaml.safe_dump(ppl_only, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["models", str(tasks_file), "-m", f"base={tiny_lm_dir}", "-m", f"tuned={other_lm_dir}",
                                 "--out", str(out), "--device", "cpu", "--resamples", "50"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    ppl = summary["tasks"]["ppl"]["perplexity"]
    assert f"ppl perplexity: base {ppl['scores']['base']:.4g}, tuned {ppl['differences']['tuned']['value']:+.3g}" in r.output
    assert (out / "report.html").is_file()
    r = CliRunner().invoke(app, ["models", str(tasks_file), "-m", "base", "--out", str(out)])
    assert r.exit_code != 0 and "is not NAME=VALUE" in str(r.exception)

"""`lmstack eval compare` and the eval CLI commands."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from lmstack.cli.eval_cmd import app, default_out_dir
from lmstack.errors import UserError
from lmstack.eval.compare import compare, load_record
from lmstack.eval.run import evaluate
from lmstack.eval.tasks import GenerationParams

ROWS = [{"id": f"r{i}", "question": f"Q{i}", "answer": f"the answer to question number {i} is here"} for i in range(12)]
TASKS = {"tasks": [{"name": "qa", "dataset": {"path": "qa.jsonl", "id_field": "id"}, "prompt": "{{ question }}",
                    "reference": "answer", "metrics": ["exact_match", "bleu"], "language": "en"}]}


class TableRunner:
    """Answers from a fixed table: right for the ids in `right`, wrong otherwise."""

    batch_size = 4

    def __init__(self, name: str, right: set[int]):
        self.name, self.right = name, right

    def describe(self):
        return {"kind": "fake", "path": self.name}

    def generate(self, prompts, params: GenerationParams, on_answers=None):
        return [f"the answer to question number {p[1:]} is here" if int(p[1:]) in self.right else "<b>no</b> idea" for p in prompts]


@pytest.fixture
def records(tmp_path):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(TASKS))
    evaluate(tmp_path / "tasks.yaml", TableRunner("base", set(range(3))), tmp_path / "a", show_progress=False)
    evaluate(tmp_path / "tasks.yaml", TableRunner("tuned", set(range(9))), tmp_path / "b", show_progress=False)
    return tmp_path / "a" / "results.json", tmp_path / "b" / "results.json"


def test_compare_gives_differences_with_paired_bootstrap_intervals(records):
    rows = compare([load_record(p) for p in records], resamples=300)
    em = next(r for r in rows if r.score == "exact_match")
    assert em.values == [pytest.approx(3 / 12), pytest.approx(9 / 12)]
    assert em.differences[1] == pytest.approx(0.5)
    lo, hi = em.intervals[1]
    # Six examples flip from wrong to right, none the other way: every resample improves.
    assert 0 < lo < 0.5 < hi <= 1
    bleu = next(r for r in rows if r.score == "bleu")
    assert bleu.differences[1] > 0 and 0 <= bleu.intervals[1][0] < bleu.differences[1] < bleu.intervals[1][1]


def test_compare_refuses_a_single_or_foreign_file(records, tmp_path):
    with pytest.raises(UserError, match="at least two"):
        compare([load_record(records[0])])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(UserError, match="not an eval results record"):
        load_record(tmp_path / "x.json")


def test_cli_compare_prints_the_side_by_side_table(records):
    result = CliRunner().invoke(app, ["compare", str(records[0]), str(records[1]), "--resamples", "50"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "exact_match" in result.output and "0.75 (+0.5 [" in result.output


def test_cli_run_on_a_local_model_folder(tmp_path, tiny_lm_dir):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:3]))
    spec = {"tasks": [{**TASKS["tasks"][0], "generation": {"max_new_tokens": 4}, "metrics": ["f1"]}]}
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "tasks.yaml"), "--model", str(tiny_lm_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "results.json").read_text())
    assert record["model"]["kind"] == "local" and record["tasks"]["qa"]["dataset"]["examples"] == 3
    assert "qa (3 examples): f1" in result.output


def test_cli_business_prints_rates_with_intervals(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"session_id": i, "turns": 2, "resolved": i < 8}) + "\n" for i in range(10)) + "oops\n")
    result = CliRunner().invoke(app, ["business", str(log)])
    assert result.exit_code == 0, result.output
    assert "task completion: 0.800 [0.490, 0.943] (n=10)" in result.output
    assert "skipped line 11: not valid JSON" in result.output


def test_default_out_dir_is_file_name_safe(tmp_path):
    assert str(default_out_dir(tmp_path / "eval.yaml", "http://127.0.0.1:8000/v1")) == "runs/eval/eval/127.0.0.1_8000_v1"
    assert str(default_out_dir(tmp_path / "eval.yaml", "runs/cs/train/model/")) == "runs/eval/eval/runs_cs_train_model"


def test_html_report_has_a_chart_per_score_escaped_worst_examples(records, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(records[0]), str(records[1]), "--out", str(out),
                                      "--worst", "2", "--resamples", "50"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count("<img") == 2  # exact_match and bleu, one bar per model each
    assert "Worst 2 examples of [0] by exact_match" in html and "Worst 2 examples of [1] by exact_match" in html
    assert "&lt;b&gt;no&lt;/b&gt; idea" in html and "<b>no</b>" not in html
    assert "0.75 (+0.5 [" in html

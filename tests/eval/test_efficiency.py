"""Efficiency beside quality: a real `lmstack bench serve` result in records, compare and the HTML report."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from lmstack.cli.eval_cmd import app
from lmstack.errors import UserError
from lmstack.eval.efficiency import efficiency_rows, load_bench, parse_bench_options
from lmstack.eval.run import evaluate
from lmstack.eval.tasks import GenerationParams

ROWS = [{"id": f"r{i}", "question": f"Q{i}", "answer": f"answer {i}"} for i in range(6)]
TASKS = {"tasks": [{"name": "qa", "dataset": {"path": "qa.jsonl", "id_field": "id"}, "prompt": "{{ question }}",
                    "reference": "answer", "metrics": ["exact_match"], "language": "en"}]}


class TableRunner:
    batch_size = 3

    def __init__(self, name: str, right: int):
        self.name, self.right = name, right

    def describe(self):
        return {"kind": "fake", "path": self.name}

    def generate(self, prompts, params: GenerationParams, on_answers=None):
        return [f"answer {p[1:]}" if int(p[1:]) < self.right else "?" for p in prompts]


@pytest.fixture
def records(tmp_path):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(TASKS))
    evaluate(tmp_path / "tasks.yaml", TableRunner("base", 2), tmp_path / "a", show_progress=False)
    evaluate(tmp_path / "tasks.yaml", TableRunner("tuned", 5), tmp_path / "b", show_progress=False)
    return tmp_path / "a" / "results.json", tmp_path / "b" / "results.json"


def test_bench_entry_keeps_summary_load_shape_and_per_request_latencies(bench_json):
    raw = json.loads(bench_json.read_text())
    entry = load_bench(bench_json)
    assert (entry["completed"], entry["failed"]) == (6, 0)
    for key in ("request_throughput_qps", "output_tokens_per_s", "ttft_ms", "tpot_ms", "e2el_ms", "load_shape"):
        assert entry[key] == raw[key]
    assert entry["load_shape"]["max_concurrency"] == 2 and entry["load_shape"]["output_len"] == 5
    ttft, e2e = entry["latencies_ms"]["ttft"], entry["latencies_ms"]["e2el"]
    assert len(ttft) == len(e2e) == 6 and ttft == sorted(ttft)
    assert e2e == sorted(r["e2e_s"] * 1000 for r in raw["requests"])
    assert raw["e2el_ms"]["median"] == pytest.approx((e2e[2] + e2e[3]) / 2)  # same numbers as the summary
    rows = dict(efficiency_rows([entry, None]))
    assert rows["load shape"][0].startswith("concurrency 2, request rate inf/s") and rows["load shape"][1] == "–"
    assert "input 12 / output 5 tokens, 6 prompts" in rows["load shape"][0]
    assert rows["QPS (req/s)"][0] == f"{raw['request_throughput_qps']:.2f}"
    assert rows["TTFT p99 (ms)"][0] == f"{raw['ttft_ms']['p99']:.1f}"


def test_compare_and_report_show_efficiency_side_by_side(records, bench_json, tmp_path):
    a, b = records
    raw = json.loads(bench_json.read_text())
    cli = CliRunner()
    r = cli.invoke(app, ["compare", str(a), str(b), "--resamples", "50", "--bench", f"0={bench_json}",
                         "--bench", f"tuned={bench_json}"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "serving efficiency" in r.output and "concurrency 2" in r.output
    qps_line = next(line for line in r.output.splitlines() if "QPS" in line)
    assert qps_line.count(f"{raw['request_throughput_qps']:.2f}") == 2

    out = tmp_path / "report.html"
    r = cli.invoke(app, ["report", str(a), str(b), "--resamples", "50", "--out", str(out), "--bench", f"1={bench_json}"])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "<h2>Efficiency" in html and html.count('alt="latency CDF"') == 2 and html.count('alt="bar chart"') == 1
    assert f"{raw['output_tokens_per_s']:.1f}" in html and "concurrency 2, request rate inf/s" in html


def test_eval_run_stores_the_bench_beside_the_scores(tiny_lm_dir, bench_json, tmp_path):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]))
    tasks = {"tasks": [{**TASKS["tasks"][0], "generation": {"max_new_tokens": 2}}]}
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(tasks))
    r = CliRunner().invoke(app, ["run", str(tmp_path / "tasks.yaml"), "--model", str(tiny_lm_dir), "--device", "cpu",
                                 "--out", str(tmp_path / "out"), "--bench", str(bench_json)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["efficiency"] == load_bench(bench_json)
    assert "load shape: concurrency 2" in r.output and "TTFT median (ms)" in r.output


def test_bad_bench_input_is_a_user_error(tmp_path, records):
    with pytest.raises(UserError, match="does not exist"):
        load_bench(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text(json.dumps({"completed": 1}))
    with pytest.raises(UserError, match="lacks load_shape"):
        load_bench(tmp_path / "x.json")
    with pytest.raises(UserError, match="no model 'other'"):
        parse_bench_options(["other=b.json"], ["base", "tuned"])
    with pytest.raises(UserError, match="not NAME=bench.json"):
        parse_bench_options(["b.json"], ["base"])
    r = CliRunner().invoke(app, ["compare", *map(str, records), "--bench", "7=b.json"])
    assert r.exit_code != 0 and "no model '7'" in str(r.exception)

"""Efficiency across load shapes: bench files gathered from folders and globs, a row per load shape,
CDFs and throughput against latency in an HTML fragment, and the CLI around them."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from lmstack.cli.eval_cmd import app
from lmstack.errors import UserError
from lmstack.eval.efficiency import bench_paths, load_bench, load_benches, load_efficiency, load_shape_table
from lmstack.eval.efficiency_html import render_efficiency_html, tradeoff_panels
from lmstack.eval.run import evaluate
from lmstack.eval.tasks import GenerationParams

# (concurrency, QPS, output tok/s, TTFT p50/p99, TPOT p50/p99, E2E p50/p99): throughput grows with the
# concurrency and so does every latency, as on a real server.
SHAPES = {1: (1.25, 80.0, 12.0, 15.5, 10.0, 11.0, 650.0, 700.0),
          8: (6.5, 416.0, 40.0, 90.25, 17.5, 21.0, 1150.0, 1300.0),
          16: (9.0, 576.0, 75.0, 180.0, 26.0, 33.5, 1750.0, 2100.5)}


def summary(concurrency: int, *, requests: bool = True) -> dict:
    qps, tok_s, ttft50, ttft99, tpot50, tpot99, e2e50, e2e99 = SHAPES[concurrency]
    out = {"load_shape": {"num_prompts": 4, "input_len": 32, "output_len": 64, "request_rate": "inf",
                          "burstiness": 1.0, "max_concurrency": concurrency, "warmup": 1, "vocab_size": 400, "seed": 0},
           "duration_s": 4 / qps, "completed": 4, "failed": 0, "errors": [], "request_throughput_qps": qps,
           "output_tokens_per_s": tok_s, "total_tokens_per_s": tok_s * 1.5,
           "ttft_ms": {"mean": ttft50, "median": ttft50, "p99": ttft99},
           "tpot_ms": {"mean": tpot50, "median": tpot50, "p99": tpot99},
           "itl_ms": {"mean": tpot50, "median": tpot50, "p99": tpot99},
           "e2el_ms": {"mean": e2e50, "median": e2e50, "p99": e2e99}}
    if requests:
        out["requests"] = [{"ok": True, "prompt_tokens": 32, "output_tokens": 64, "start_s": 0.0, "ttft_s": t / 1000,
                            "e2e_s": e / 1000, "itl_s": [], "error": ""}
                           for t, e in [(ttft50, e2e50), (ttft50, e2e50), (ttft99, e2e99), (ttft99, e2e99)]]
        out["requests"].append({"ok": False, "prompt_tokens": 32, "error": "timeout"})  # not in the CDFs
    return out


@pytest.fixture
def bench_dir(tmp_path):
    """bench/c<N>/bench.json, as three `lmstack bench serve --out bench/c<N>` runs write them."""
    for c in (16, 1, 8):
        (tmp_path / "bench" / f"c{c}").mkdir(parents=True)
        (tmp_path / "bench" / f"c{c}" / "bench.json").write_text(json.dumps(summary(c)))
    return tmp_path / "bench"


def _pngs(html: str) -> dict[str, Image.Image]:
    found = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    return {alt: Image.open(io.BytesIO(base64.b64decode(data))) for alt, data in found}


def test_bench_files_from_a_folder_or_a_glob_sorted_by_concurrency(bench_dir):
    assert [p.parent.name for p in bench_paths(bench_dir)] == ["c1", "c16", "c8"]
    assert len(bench_paths(str(bench_dir / "c1*" / "bench.json"))) == 2
    entries = load_benches([bench_dir, bench_dir / "c8" / "bench.json"])  # c8 named twice: counted once
    assert [e["load_shape"]["max_concurrency"] for e in entries] == [1, 8, 16]
    assert entries[0]["latencies_ms"]["ttft"] == [12.0, 12.0, 15.5, 15.5]  # the failed request is left out
    single = load_efficiency([bench_dir / "c8" / "bench.json"])
    assert single == load_bench(bench_dir / "c8" / "bench.json")  # one file: the entry itself, as before
    assert load_efficiency([]) is None and len(load_efficiency([bench_dir])) == 3
    (bench_dir.parent / "empty").mkdir()
    with pytest.raises(UserError, match="no bench.json under folder"):
        bench_paths(bench_dir.parent / "empty")
    with pytest.raises(UserError, match="no file matches"):
        bench_paths(str(bench_dir / "*.yaml"))


def test_a_summary_file_by_concurrency_beside_the_per_shape_files(tmp_path):
    """The project's bench stage writes bench.json {concurrency: summary} and c<N>/bench.json."""
    stage = tmp_path / "bench"
    for c in (1, 8):
        (stage / f"c{c}").mkdir(parents=True)
        (stage / f"c{c}" / "bench.json").write_text(json.dumps(summary(c)))
    (stage / "bench.json").write_text(json.dumps({"1": summary(1, requests=False), "8": summary(8, requests=False)}))
    entries = load_benches([stage])  # each measurement once, with its per-request latencies
    assert [(e["load_shape"]["max_concurrency"], len(e["latencies_ms"]["ttft"])) for e in entries] == [(1, 4), (8, 4)]
    only_summary = load_benches([stage / "bench.json"])
    assert [(e["output_tokens_per_s"], e["latencies_ms"]["ttft"]) for e in only_summary] == [(80.0, []), (416.0, [])]


def test_table_has_a_row_per_load_shape_with_its_numbers():
    header, rows = load_shape_table([load_bench_entry(c) for c in (16, 1, 8)])
    assert header == ["load shape", "ok / failed", "QPS (req/s)", "output tok/s", "TTFT p50 (ms)", "TTFT p99 (ms)",
                      "TPOT p50 (ms)", "TPOT p99 (ms)", "E2E p50 (ms)", "E2E p99 (ms)"]
    assert [r[0].split(",")[0] for r in rows] == ["concurrency 16", "concurrency 1", "concurrency 8"]  # as given
    assert rows[1][1:] == ["4 / 0", "1.25", "80.0", "12.0", "15.5", "10.0", "11.0", "650.0", "700.0"]
    assert rows[2][2:] == ["6.50", "416.0", "40.0", "90.2", "17.5", "21.0", "1150.0", "1300.0"]
    assert "input 32 / output 64 tokens, 4 prompts" in rows[0][0]
    with_slo = load_bench_entry(8) | {"goodput_qps": 5.5, "slos_ms": {"ttft_ms": 500.0}}
    header, rows = load_shape_table([load_bench_entry(1), with_slo])
    assert header[-1] == "goodput (req/s)" and [r[-1] for r in rows] == ["–", "5.50 within ttft ≤ 500 ms"]


def load_bench_entry(concurrency: int) -> dict:
    from lmstack.eval.efficiency import bench_entry

    return bench_entry(summary(concurrency))


def test_fragment_rows_numbers_and_plots():
    html = render_efficiency_html([summary(16), summary(1), summary(8)], title="tuned <v2>",
                                  quality={"answers-en chrf": 41.234, "answers-en bleu": None})
    assert "tuned &lt;v2&gt;" in html  # escaped
    body_rows = re.findall(r"<tr><td>(concurrency \d+)[^<]*</td>((?:<td class=\"num\">[^<]*</td>)+)</tr>", html)
    assert [r[0] for r in body_rows] == ["concurrency 1", "concurrency 8", "concurrency 16"]  # load order
    cells = re.findall(r'<td class="num">([^<]*)</td>', body_rows[2][1])
    assert cells == ["4 / 0", "9.00", "576.0", "75.0", "180.0", "26.0", "33.5", "1750.0", "2100.5"]
    assert "<td>answers-en chrf</td><td class=\"num\">41.23</td>" in html and "<td class=\"num\">–</td>" in html
    pngs = _pngs(html)
    assert list(pngs) == ["TTFT CDF by load shape", "E2E latency CDF by load shape", "throughput vs latency"]
    assert all(img.format == "PNG" and img.size[0] > 300 for img in pngs.values())
    assert pngs["throughput vs latency"].size[0] > pngs["TTFT CDF by load shape"].size[0]  # two panels


def test_tradeoff_points_follow_the_concurrency():
    tpot, ttft = tradeoff_panels([load_bench_entry(c) for c in (1, 8, 16)])
    assert (tpot.xs, tpot.ys, tpot.labels) == ([10.0, 17.5, 26.0], [80.0, 416.0, 576.0], ["c=1", "c=8", "c=16"])
    assert (ttft.xs, ttft.ys) == ([12.0, 40.0, 75.0], [1.25, 6.5, 9.0])


def test_summaries_without_per_request_timings_still_give_table_and_tradeoff():
    html = render_efficiency_html([summary(1, requests=False), summary(8, requests=False)])
    assert list(_pngs(html)) == ["throughput vs latency"]
    assert html.count("<tr><td>concurrency") == 2


class Runner:
    batch_size = 4

    def describe(self):
        return {"kind": "fake", "path": "tuned"}

    def generate(self, prompts, params: GenerationParams, on_answers=None):
        return [f"answer {p[1:]}" for p in prompts]


def test_report_and_compare_with_several_load_shapes(tmp_path, bench_dir):
    rows = [{"id": f"r{i}", "question": f"Q{i}", "answer": f"answer {i}"} for i in range(4)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = {"tasks": [{"name": "qa", "dataset": {"path": "qa.jsonl", "id_field": "id"}, "prompt": "{{ question }}",
                        "reference": "answer", "metrics": ["exact_match"], "language": "en"}]}
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(tasks))
    evaluate(tmp_path / "tasks.yaml", Runner(), tmp_path / "a", show_progress=False,
             efficiency=load_efficiency([bench_dir]))
    results = tmp_path / "a" / "results.json"
    assert [e["load_shape"]["max_concurrency"] for e in json.loads(results.read_text())["efficiency"]] == [1, 8, 16]

    cli = CliRunner()
    out = tmp_path / "report.html"
    r = cli.invoke(app, ["report", str(results), "--out", str(out), "--resamples", "20"])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "Efficiency across load shapes" in html and html.count("<tr><td>concurrency") == 3
    assert '<td>qa exact_match</td><td class="num">1</td>' in html  # quality beside the serving figures
    assert len(_pngs(html)) == 4  # 3 efficiency plots + 1 bar chart

    # --bench NAME=PATH repeated: c1 and c16 only (replacing the stored three); the other model has none
    evaluate(tmp_path / "tasks.yaml", Runner(), tmp_path / "b", show_progress=False)
    r = cli.invoke(app, ["compare", str(results), str(tmp_path / "b" / "results.json"),
                         "--bench", f"0={bench_dir / 'c1'}", "--bench", f"0={bench_dir / 'c16' / 'bench.json'}"],
                   env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if "concurrency" in line]
    assert len(lines) == 2 and "1.25" in lines[0] and "576.0" in lines[1] and "2100.5" in lines[1]
    assert "serving efficiency of [0] tuned by load shape" in r.output and "of [1]" not in r.output


def test_eval_run_takes_a_folder_of_benches(tiny_lm_dir, bench_dir, tmp_path):
    (tmp_path / "qa.jsonl").write_text(json.dumps({"id": "r0", "question": "Q0", "answer": "a"}) + "\n")
    tasks = {"tasks": [{"name": "qa", "dataset": {"path": "qa.jsonl", "id_field": "id"}, "prompt": "{{ question }}",
                        "reference": "answer", "metrics": ["exact_match"], "generation": {"max_new_tokens": 2}}]}
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(tasks))
    r = CliRunner().invoke(app, ["run", str(tmp_path / "tasks.yaml"), "--model", str(tiny_lm_dir), "--device", "cpu",
                                 "--out", str(tmp_path / "out"), "--bench", str(bench_dir)], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["efficiency"] == load_benches([bench_dir])
    assert "serving efficiency of this model by load shape" in r.output
    assert [line.split()[2] for line in r.output.splitlines() if "concurrency" in line] == ["1,", "8,", "16,"]


def test_eval_models_takes_a_bench_per_load_shape(tiny_lm_dir, bench_dir, tmp_path):
    (tmp_path / "qa.jsonl").write_text(json.dumps({"id": "r0", "question": "Q0", "answer": "a"}) + "\n")
    tasks = {"tasks": [{"name": "qa", "dataset": {"path": "qa.jsonl", "id_field": "id"}, "prompt": "{{ question }}",
                        "reference": "answer", "metrics": ["exact_match"], "generation": {"max_new_tokens": 2}}]}
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(tasks))
    r = CliRunner().invoke(app, ["models", str(tmp_path / "tasks.yaml"), "--model", f"base={tiny_lm_dir}",
                                 "--bench", f"base={bench_dir / 'c8'}", "--bench", f"base={bench_dir / 'c1'}",
                                 "--out", str(tmp_path / "out"), "--device", "cpu", "--resamples", "20"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    shapes = summary["efficiency"]["base"]
    assert [(s["load_shape"]["max_concurrency"], s["output_tokens_per_s"]) for s in shapes] == [(1, 80.0), (8, 416.0)]
    assert all("latencies_ms" not in s for s in shapes)
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("<tr><td>concurrency") == 2 and 'alt="throughput vs latency"' in html

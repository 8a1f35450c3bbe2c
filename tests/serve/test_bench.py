"""`lmstack bench serve`: the load generator against a live server, and the metric definitions."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import typer
from typer.testing import CliRunner

from lmstack.cli import serve_cmd
from lmstack.errors import UserError
from lmstack.serve.app import create_app
from lmstack.serve.bench_metrics import parse_slos, percentile, summarize
from lmstack.serve.loadgen import LoadShape, RequestResult, arrival_gaps


def test_bench_serve_against_a_live_server(registry, engine, start_server, tmp_path):
    engine.token_delay_s = 0.01
    server = start_server(create_app(registry))
    app = typer.Typer()
    app.command("serve")(serve_cmd.bench_serve)
    app.command("noop")(lambda: None)
    r = CliRunner().invoke(app, ["serve", "--url", server.url, "--model", "tiny", "--num-prompts", "6",
                                 "--input-len", "20", "--output-len", "8", "--max-concurrency", "3",
                                 "--warmup", "1", "--vocab-size", "500", "--goodput", "ttft:10000 tpot:10000",
                                 "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "bench.json").read_text())
    assert (summary["completed"], summary["failed"]) == (6, 0)
    assert [len(q.prompt_token_ids) for q in engine.requests] == [20] * 7
    assert all(q.params.ignore_eos and q.params.max_tokens == 8 for q in engine.requests)
    # usage counts tokens; chunks can be fewer (a character split over tokens streams once whole)
    assert all(req["output_tokens"] == 8 and 1 <= len(req["itl_s"]) <= 7 for req in summary["requests"])
    assert summary["tpot_ms"]["median"] >= 9.0  # the engine sleeps 10 ms per token
    assert summary["goodput_qps"] == pytest.approx(summary["request_throughput_qps"])
    assert (tmp_path / "latency_cdf.png").stat().st_size > 1000
    assert "output tokens/s" in r.stdout and "concurrency 3" in r.stdout


def test_poisson_arrivals_have_the_requested_mean_rate():
    gaps = arrival_gaps(LoadShape(num_prompts=4000, request_rate=8.0, burstiness=1.0))
    assert statistics.fmean(gaps) == pytest.approx(1 / 8, rel=0.05)
    bursty = arrival_gaps(LoadShape(num_prompts=4000, request_rate=8.0, burstiness=0.25))
    assert statistics.fmean(bursty) == pytest.approx(1 / 8, rel=0.1)
    assert statistics.stdev(bursty) > 1.5 * statistics.stdev(gaps)  # CV = 1/sqrt(shape)


def test_summary_follows_vllm_definitions():
    results = [RequestResult(True, 10, output_tokens=5, ttft_s=0.1, e2e_s=0.5, itl_s=[0.1] * 4),
               RequestResult(True, 10, output_tokens=3, ttft_s=0.3, e2e_s=0.5, itl_s=[0.1, 0.1]),
               RequestResult(False, 10, error="HTTP 429")]
    s = summarize(results, duration_s=2.0, shape=LoadShape(num_prompts=3), slos_ms={"ttft_ms": 200})
    assert (s["completed"], s["failed"], s["errors"]) == (2, 1, ["HTTP 429"])
    assert s["request_throughput_qps"] == 1.0 and s["output_tokens_per_s"] == 4.0 and s["total_tokens_per_s"] == 14.0
    assert s["tpot_ms"]["mean"] == pytest.approx(100.0)  # (0.5-0.1)/4 and (0.5-0.3)/2
    assert s["ttft_ms"]["median"] == pytest.approx(200.0)
    assert s["goodput_qps"] == 0.5
    assert percentile([float(i) for i in range(101)], 99) == 99.0 and math.isnan(percentile([], 50))


def test_bad_slo_is_a_user_error():
    with pytest.raises(UserError):
        parse_slos("latency:5")


def test_run_load_sends_given_text_prompts_and_can_leave_out_ignore_eos(registry, engine, start_server):
    import asyncio

    from lmstack.serve.loadgen import run_load

    engine.token_delay_s = 0.001
    server = start_server(create_app(registry))
    texts = [f"prompt number {i}" for i in range(4)]
    shape = LoadShape(num_prompts=3, output_len=5, warmup=1, max_concurrency=2, ignore_eos=False)
    results, duration_s = asyncio.run(run_load(server.url, "tiny", shape, prompts=texts))
    assert [r.ok for r in results] == [True] * 3 and duration_s > 0
    tokenizer = registry.generator("tiny").tokenizer
    # the warm-up prompt first; then two at a time, so the server may see the next two in either order
    sent = [q.prompt_token_ids for q in engine.requests]
    expected = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    assert sent[0] == expected[0] and sorted(sent[1:]) == sorted(expected[1:])
    assert not any(q.params.ignore_eos for q in engine.requests)
    with pytest.raises(UserError, match="4 prompts given; this load needs 5"):
        asyncio.run(run_load(server.url, "tiny", LoadShape(num_prompts=4, warmup=1), prompts=texts))


def test_a_failing_server_gives_failed_requests_with_the_status_not_an_exception(registry, start_server):
    import asyncio

    from lmstack.serve.loadgen import run_load

    server = start_server(create_app(registry))
    results, _ = asyncio.run(run_load(server.url, "no-such-model", LoadShape(num_prompts=2, warmup=0)))
    assert [r.ok for r in results] == [False, False]
    assert all(r.error.startswith("HTTP 404") for r in results)
    results, _ = asyncio.run(run_load("http://127.0.0.1:9", "tiny", LoadShape(num_prompts=1, warmup=0)))
    assert not results[0].ok and "Connect" in results[0].error

"""Stage `bench`: serve the project's final model on a loopback port and measure it under load.

The server is the one `lmstack serve` runs (same engine, same API), started in this process for
the measurement and stopped after it; each `bench.concurrency` is one load shape, measured with
`lmstack bench serve`'s protocol and written to `c<N>/bench.json` with its latency CDF.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from lmstack.atomic import write_json
from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError
from lmstack.pipeline.common import final_model, skipped
from lmstack.runs import RunDir, StageOutcome, StageResult


def stage_bench(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    section = cfg.bench
    upstream = [done["train"], done["finetune"]]
    recipe = (cfg.finetune or cfg.train).recipe
    if not section.enabled:
        return run.run_stage("bench", skipped("bench.enabled is false"), config=None, upstream=upstream, force=force)
    if recipe == "contrastive":
        reason = "the load test measures text generation; a dual encoder serves /v1/embeddings"
        return run.run_stage("bench", skipped(reason), config=None, upstream=upstream, force=force)

    def body(stage_dir: Path) -> StageResult:
        from lmstack.serve.bench import bench_serve
        from lmstack.serve.loadgen import LoadShape

        model = final_model(done)
        slos = {k: v for k, v in (("ttft_ms", section.slo_ttft_ms or cfg.plan.ttft_ms),
                                  ("tpot_ms", section.slo_tpot_ms or cfg.plan.tpot_ms)) if v}
        summaries = {}
        with served(model, cfg, max_batch_size=max(section.concurrency)) as (url, vocab_size):
            for c in section.concurrency:
                shape = LoadShape(num_prompts=section.num_prompts, input_len=section.input_len,
                                  output_len=section.output_len, max_concurrency=c, warmup=section.warmup,
                                  vocab_size=vocab_size, seed=cfg.project.seed)
                summary = bench_serve(url, cfg.project.name, shape, slos_ms=slos or None, out_dir=stage_dir / f"c{c}")
                if summary.get("failed"):
                    raise UserError(f"{summary['failed']} of {section.num_prompts} requests failed at concurrency {c}",
                                    hint=f"see {stage_dir / f'c{c}' / 'bench.json'}")
                summaries[str(c)] = {k: v for k, v in summary.items() if k != "requests"}
        write_json(stage_dir / "bench.json", summaries)
        outputs = {"summary": "bench.json"} | {f"c{c}": f"c{c}/bench.json" for c in section.concurrency}
        return StageResult(outputs=outputs, metrics={"model": str(model), "by_concurrency": summaries})

    config = {"bench": section.model_dump(mode="json"), "slo": [cfg.plan.ttft_ms, cfg.plan.tpot_ms],
              "device": cfg.model.device, "dtype": cfg.model.dtype}
    return run.run_stage("bench", body, config=config, upstream=upstream, force=force)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(model: Path, cfg: ProjectConfig, *, max_batch_size: int):
    """`lmstack serve` of `model` (named after the project) on a free loopback port, in a thread:
    yields (base URL, vocabulary size) and stops the server on exit."""
    import uvicorn

    from lmstack.hardware.openmp import release_openmp_workers
    from lmstack.serve.app import create_app
    from lmstack.serve.limits import Limits
    from lmstack.serve.server import ModelSpec, build_registry

    registry = build_registry([ModelSpec(name=cfg.project.name, path=str(model))], bundled_embeddings=False,
                              device=cfg.model.device, dtype=cfg.model.dtype, max_batch_size=max_batch_size,
                              max_queue=cfg.serve.max_queue)
    vocab_size = len(registry.generator(cfg.project.name).tokenizer)
    app = create_app(registry, limits=Limits.from_section(cfg.serve))
    port = free_port()
    release_openmp_workers()  # this thread trained and loaded the model; its idle team would slow the engine
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="lmstack-bench-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise UserError(f"the server for {model} did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", vocab_size
    finally:
        server.should_exit = True
        thread.join(timeout=60)

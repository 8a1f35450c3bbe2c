"""Several models on the same tasks, one HTML report comparing them: the pipeline's eval stage.

    >>> summary = evaluate_models("examples/customer-service/eval.yaml",
    ...                           {"base": "models/base", "tuned": "runs/cs/train/model"},
    ...                           "runs/cs/eval")                                       # doctest: +SKIP
    >>> summary["tasks"]["answers-zh"]["chrf"]["differences"]["tuned"]                 # doctest: +SKIP
    {'value': 12.3, 'interval': [8.1, 16.4]}

The first model is the baseline: every other model's difference from it comes with a paired
bootstrap interval over the shared examples (see `lmstack.eval.compare`). Each model's results
go to `<out_dir>/<name>/` (resumable, like `lmstack eval run`), the report to
`<out_dir>/report.html` and the summary to `<out_dir>/summary.json`.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmstack.atomic import write_json
from lmstack.errors import UserError
from lmstack.eval.compare import compare
from lmstack.eval.efficiency import bench_entries, load_efficiency
from lmstack.eval.report import write_report
from lmstack.eval.run import evaluate
from lmstack.eval.runners import open_runner

_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")  # becomes a folder name


def evaluate_models(tasks_path: str | os.PathLike, models: Mapping[str, str | os.PathLike],
                    out_dir: str | os.PathLike, *,
                    benches: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]] | None = None,
                    tokenizer: str | os.PathLike | None = None, batch_size: int = 8, device: str = "auto",
                    dtype: str = "auto", concurrency: int = 8, retries: int = 3, confidence: float = 0.95,
                    resamples: int = 1000, restart: bool = False, show_progress: bool = True,
                    data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Evaluate each model (a folder or an OpenAI-compatible URL) on the tasks; report and summarise.

    `benches` attaches `lmstack bench serve` results by model name: a bench.json, a folder of them,
    a glob, or a list of those (a file per load shape; see `lmstack.eval.efficiency`). `tokenizer` is
    used for local checkpoints saved without one; `data_dir`, when given, is where relative dataset
    paths are looked up first (see `evaluate`). Returns (and writes as summary.json)
    `{"baseline", "report", "results": {name: path}, "tasks": {task: {score: {"scores": {name: value},
    "differences": {name: {"value", "interval"}}}}}, "efficiency": {name: {...} or [{...}, …]}}`.
    """
    if not models:
        raise UserError("evaluate_models needs at least one model")
    bad = [n for n in models if not _NAME.match(n)]
    if bad:
        raise UserError(f"model names {bad} cannot be folder names", hint="use letters, digits, '.', '_' and '-'")
    unknown = sorted(set(benches or {}) - set(models))
    if unknown:
        raise UserError(f"benches given for unknown models {unknown}", hint=f"models: {', '.join(models)}")
    efficiency = {name: load_efficiency([specs] if isinstance(specs, (str, os.PathLike)) else specs)
                  for name, specs in (benches or {}).items()}  # fail before any model call
    out_dir = Path(out_dir)
    records, paths = [], {}
    for name, model in models.items():
        runner = open_runner(str(model), batch_size=batch_size, tokenizer=str(tokenizer) if tokenizer else None,
                             device=device, dtype=dtype, concurrency=concurrency, retries=retries)
        records.append(evaluate(tasks_path, runner, out_dir / name, restart=restart, confidence=confidence,
                                show_progress=show_progress, efficiency=efficiency.get(name), data_dir=data_dir))
        paths[name] = str(out_dir / name / "results.json")
        del runner  # free one model's weights before loading the next
        gc.collect()
    names = list(models)
    report = write_report(records, out_dir / "report.html", paths=list(paths.values()), resamples=resamples,
                          confidence=confidence)
    summary: dict[str, Any] = {"baseline": names[0], "report": str(report), "results": paths, "confidence": confidence,
                               "tasks": {},
                               "efficiency": {n: _efficiency_summary(e) for n, e in efficiency.items() if e}}
    if len(records) > 1:
        for row in compare(records, resamples=resamples, confidence=confidence):
            summary["tasks"].setdefault(row.task, {})[row.score] = {
                "scores": dict(zip(names, row.values)),
                "differences": {n: {"value": d, "interval": list(ci) if ci else None}
                                for n, d, ci in zip(names[1:], row.differences[1:], row.intervals[1:])}}
    else:
        for task, result in records[0]["tasks"].items():
            for metric in result["metrics"].values():
                for score, value in metric["scores"].items():
                    summary["tasks"].setdefault(task, {})[score] = {"scores": {names[0]: value}, "differences": {}}
    write_json(out_dir / "summary.json", summary)
    return summary


def _efficiency_summary(efficiency: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """The record's efficiency entry (or entries, one per load shape) without the per-request latencies."""
    summaries = [{k: v for k, v in e.items() if k != "latencies_ms"} for e in bench_entries(efficiency)]
    return summaries[0] if isinstance(efficiency, dict) else summaries

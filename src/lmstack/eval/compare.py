"""`lmstack eval compare`: models side by side, with confidence intervals on each difference.

Each record keeps per-example statistics, so the difference between two models on a task is
bootstrapped by resampling the same examples for both (a paired bootstrap; for BLEU and chrF the
sentence statistics are summed, as sacrebleu's own significance test does). The first record is
the baseline; every other model is compared with it on the examples both have.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmstack.errors import UserError
from lmstack.eval.choice import ChoiceScores
from lmstack.eval.metrics import METRICS
from lmstack.eval.perplexity import PerplexityScores
from lmstack.eval.stats import paired_bootstrap

SCORERS: dict[str, type] = {**METRICS, "perplexity": PerplexityScores, "multiple_choice": ChoiceScores}


@dataclass
class ComparisonRow:
    task: str
    score: str
    values: list[float | None]  # one per record, None where the record lacks the task
    differences: list[float | None]  # value − baseline, per record (None for the baseline)
    intervals: list[tuple[float, float] | None]  # paired-bootstrap interval of each difference


def load_record(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise UserError(f"results file {str(path)!r} does not exist", hint="pass results.json files written by `lmstack eval run`") from e
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON ({e.msg})") from e
    if not isinstance(record, dict) or "tasks" not in record or "model" not in record:
        raise UserError(f"{path} is not an eval results record", hint="pass results.json files written by `lmstack eval run`")
    return record


def model_label(record: dict[str, Any]) -> str:
    model = record["model"]
    return str(model.get("path") or f"{model.get('url')} ({model.get('model')})")


def compare(records: Sequence[dict[str, Any]], *, resamples: int = 1000, confidence: float = 0.95,
            seed: int = 0) -> list[ComparisonRow]:
    """One row per (task, score) found in the baseline (the first record)."""
    if len(records) < 2:
        raise UserError("compare needs at least two results files")
    base = records[0]
    rows = []
    for task_name, base_task in base["tasks"].items():
        for metric_name, base_metric in base_task["metrics"].items():
            scorer = SCORERS[metric_name](language=base_task["language"], **base_metric.get("options", {}))
            base_stats = dict(zip(base_task["example_ids"], base_metric["stats"]))
            per_score: dict[str, ComparisonRow] = {
                key: ComparisonRow(task_name, key, [value], [None], [None]) for key, value in base_metric["scores"].items()}
            for other in records[1:]:
                task = other["tasks"].get(task_name)
                metric = task["metrics"].get(metric_name) if task else None
                if metric is None:
                    for row in per_score.values():
                        row.values.append(None), row.differences.append(None), row.intervals.append(None)
                    continue
                other_stats = dict(zip(task["example_ids"], metric["stats"]))
                shared = [i for i in base_task["example_ids"] if i in other_stats]
                intervals = paired_bootstrap([base_stats[i] for i in shared], [other_stats[i] for i in shared],
                                             scorer.aggregate, resamples=resamples, confidence=confidence,
                                             seed=seed) if shared else {}
                for key, row in per_score.items():
                    value = metric["scores"].get(key)
                    row.values.append(value)
                    row.differences.append(None if value is None else value - row.values[0])
                    row.intervals.append(intervals.get(key))
            rows.extend(per_score.values())
    return rows

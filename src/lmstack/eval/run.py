"""`lmstack eval run`: every task of a tasks file against one model, saved so that it can resume.

    lmstack eval run examples/customer-service/eval.yaml --model runs/customer-service/train/model

Setup (load tasks and data, render every prompt so template errors surface before any model
call), loop (batches of unfinished examples, each result appended to
`<out>/examples/<task>.jsonl`), save (metrics into `<out>/results.json`, written atomically).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from lmstack import runs
from lmstack.atomic import write_json
from lmstack.errors import UserError
from lmstack.eval.dataset import load_examples
from lmstack.eval.metrics import build_metric, score
from lmstack.eval.partial import PartialResults
from lmstack.eval.prompts import field, render
from lmstack.eval.runners.base import ModelRunner, Prompt
from lmstack.eval.runners.local import LocalRunner
from lmstack.eval.stats import bootstrap_interval
from lmstack.eval.tasks import Task, load_tasks

RECORD_VERSION = 1
EVAL_PACKAGES = ("sacrebleu", "rouge-score", "jieba", "openai", "jinja2")


def package_versions() -> dict[str, str | None]:
    """The run directory's pinned versions plus the metric libraries'."""
    out = runs.package_versions()
    for name in EVAL_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class _Rate(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed:.2f} ex/s" if task.speed else "… ex/s")


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _prompt(task: Task, row: dict[str, Any], row_id: str) -> Prompt:
    text = render(task.prompt, row, row_id, task.name)
    if not task.chat_template:
        return text
    return ([{"role": "system", "content": task.system}] if task.system else []) + [{"role": "user", "content": text}]


def _fingerprint(task: Task, dataset_sha: str, model: dict[str, Any]) -> str:
    settings = task.model_dump(exclude={"dataset": {"limit"}})  # a larger limit keeps finished examples
    blob = json.dumps({"task": settings, "dataset": dataset_sha, "model": model}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _need_local(runner: ModelRunner, task: Task) -> LocalRunner:
    if not isinstance(runner, LocalRunner):
        raise UserError(f"task {task.name!r} ({task.kind}) needs the model's token probabilities, which an "
                        "endpoint does not give", hint="run it with --model pointing at a local checkpoint")
    return runner


def _run_examples(task: Task, runner: ModelRunner, examples: list[tuple[str, dict[str, Any]]],
                  partial: PartialResults, progress: Progress) -> None:
    """Compute and append every unfinished example; every prompt and reference is checked first."""
    rows = dict(examples)
    pending = [ex_id for ex_id, _ in examples if ex_id not in partial.done]
    bar = progress.add_task(task.name, total=len(examples), completed=len(examples) - len(pending))
    if task.kind == "generate":
        prompts = {ex_id: _prompt(task, row, ex_id) for ex_id, row in examples}
        references = {ex_id: field(row, task.reference or "", ex_id, task.name) for ex_id, row in examples}
        reported = 0

        def on_answers(n: int) -> None:  # an endpoint reports each answer as it arrives: rate and ETA move
            nonlocal reported
            reported += n
            progress.advance(bar, n)

        for chunk in _chunks(pending, runner.batch_size):
            reported = 0
            answers = runner.generate([prompts[i] for i in chunk], task.generation, on_answers=on_answers)
            for ex_id, answer in zip(chunk, answers):
                partial.append(ex_id, {"prompt": prompts[ex_id], "prediction": answer, "reference": references[ex_id]})
            progress.advance(bar, len(chunk) - reported)  # what a runner did not report
    elif task.kind == "perplexity":
        from lmstack.eval.perplexity import text_stats

        local = _need_local(runner, task)
        texts = {ex_id: render(task.prompt, row, ex_id, task.name) for ex_id, row in examples}
        for chunk in _chunks(pending, runner.batch_size):
            stats = text_stats(local.model, local.tokenizer, [texts[i] for i in chunk], max_length=task.max_length,
                               stride=task.stride, batch_size=runner.batch_size)
            for ex_id, s in zip(chunk, stats):
                partial.append(ex_id, {"stats": [s.nll, s.tokens, s.bytes, s.chars]})
            progress.advance(bar, len(chunk))
    else:
        from lmstack.eval.choice import score_options

        local = _need_local(runner, task)
        for ex_id in pending:
            row = rows[ex_id]
            options = field(row, task.choices or "", ex_id, task.name)
            if not isinstance(options, list) or len(options) < 2:
                raise UserError(f"task {task.name!r}, row {ex_id}: field {task.choices!r} must be a list of 2+ options")
            result = score_options(local.model, local.tokenizer, render(task.prompt, row, ex_id, task.name),
                                   [str(o) for o in options], max_length=task.max_length)
            partial.append(ex_id, {"loglikelihoods": result.loglikelihoods, "best": result.best,
                                   "best_normalised": result.best_normalised})
            progress.advance(bar, 1)


def _answer_index(task: Task, row: dict[str, Any], ex_id: str) -> int:
    answer, options = field(row, task.reference or "", ex_id, task.name), row[task.choices or ""]
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(options):
        return answer
    if answer in options:
        return options.index(answer)
    raise UserError(f"task {task.name!r}, row {ex_id}: answer {answer!r} is neither an option nor an option index")


def _entry(scorer: Any, stats: list[Any], options: dict[str, Any], confidence: float) -> dict[str, Any]:
    """A metric's record entry: scores, bootstrap intervals, settings and per-example statistics."""
    intervals = bootstrap_interval(stats, scorer.aggregate, confidence=confidence)
    return {"scores": scorer.aggregate(stats), "intervals": {k: list(v) for k, v in intervals.items()},
            "confidence": confidence, "settings": scorer.settings(), "options": options, "stats": stats}


def _metrics(task: Task, examples: list[tuple[str, dict[str, Any]]], done: dict[str, dict[str, Any]],
             confidence: float) -> dict[str, Any]:
    ids = [ex_id for ex_id, _ in examples]
    if task.kind == "perplexity":
        from lmstack.eval.perplexity import PerplexityScores

        options = {"max_length": task.max_length, "stride": task.stride}
        return {"perplexity": _entry(PerplexityScores(**options), [done[i]["stats"] for i in ids], options, confidence)}
    if task.kind == "multiple_choice":
        from lmstack.eval.choice import ChoiceScores

        answers = [_answer_index(task, row, ex_id) for ex_id, row in examples]
        stats = [[float(done[i]["best"] == a), float(done[i]["best_normalised"] == a)] for i, a in zip(ids, answers)]
        options = {"max_length": task.max_length}
        return {"multiple_choice": _entry(ChoiceScores(**options), stats, options, confidence)}
    predictions = [done[i]["prediction"] for i in ids]
    references = [field(row, task.reference or "", ex_id, task.name) for ex_id, row in examples]
    out = {}
    for name in task.metrics:
        options = task.metric_options.get(name, {})
        metric = build_metric(name, task.language, **options)
        result = score(metric, predictions, references, allow_empty_predictions=task.allow_empty_predictions, ids=ids)
        out[name] = _entry(metric, result.stats, options, confidence)
    return out


def evaluate(tasks_path: str | os.PathLike, runner: ModelRunner, out_dir: str | os.PathLike, *,
             only: Sequence[str] = (), restart: bool = False, confidence: float = 0.95,
             show_progress: bool = True, efficiency: dict[str, Any] | list[dict[str, Any]] | None = None,
             data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the tasks (or those named in `only`) against `runner`; write and return the results record.

    Each score gets a bootstrap interval over the examples at `confidence`. `efficiency`, from
    `lmstack.eval.efficiency.load_efficiency` (one entry, or one per load shape), is stored as the
    record's serving figures. A relative dataset path is looked up first in `data_dir` when given
    (a project's data stage folder), then beside the task file.
    """
    task_file, task_dir = load_tasks(tasks_path)
    tasks = [t for t in task_file.tasks if not only or t.name in only]
    if only and len(tasks) != len(set(only)):
        missing = sorted(set(only) - {t.name for t in tasks})
        raise UserError(f"no task named {', '.join(missing)} in {tasks_path}",
                        hint=f"tasks: {', '.join(t.name for t in task_file.tasks)}")
    out_dir = Path(out_dir)
    model = runner.describe()
    record: dict[str, Any] = {"record_version": RECORD_VERSION, "created": datetime.now(UTC).isoformat(),
                              "command": " ".join(sys.argv), "tasks_file": str(tasks_path), "model": model,
                              "versions": package_versions(), "tasks": {}}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(), TimeRemainingColumn()]
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        for task in tasks:
            in_data_dir = data_dir is not None and (Path(data_dir) / task.dataset.path).exists()
            examples, dataset_sha = load_examples(task.dataset, Path(data_dir) if in_data_dir else task_dir)
            if task.kind != "generate":
                for ex_id, row in examples:
                    render(task.prompt, row, ex_id, task.name)
            partial = PartialResults(out_dir / "examples" / f"{task.name}.jsonl",
                                     _fingerprint(task, dataset_sha, model), restart=restart)
            _run_examples(task, runner, examples, partial, progress)
            record["tasks"][task.name] = {
                "kind": task.kind, "language": task.language,
                "prompt_template": task.prompt, "system": task.system, "chat_template": task.chat_template,
                "chat_template_text": model.get("chat_template") if task.chat_template else None,
                "generation": task.generation.model_dump() if task.kind == "generate" else None,
                "dataset": {**task.dataset.model_dump(), "sha256": dataset_sha, "examples": len(examples)},
                "examples_file": str(partial.path), "example_ids": [ex_id for ex_id, _ in examples],
                "metrics": _metrics(task, examples, partial.done, confidence),
            }
    if efficiency is not None:
        record["efficiency"] = efficiency
    write_json(out_dir / "results.json", record)
    return record

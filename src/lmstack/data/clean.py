"""Run a cleaning recipe: stream rows through the operators, keep every removed row with its reason,
and gate the result on the removal budget.

Output folder (written under a temporary name and renamed when complete, so a crash leaves the
previous output or none, and a rerun writes the same bytes):

    <input stem>.jsonl          kept rows, in input order
    exclusions/<step>.jsonl     every removed row: file, line, id, step, op, reason, the row itself
    changes/<step>.jsonl        every changed row: file, line, id, step, tags (e.g. the PII kinds)
    rejects.jsonl               unreadable rows: file, line, reason
    augmented.jsonl             with an `augment:` section: EDA copies of kept rows, each naming its source
    report.json                 counts, budget, PII, languages, lengths (+ noise scores with a sidecar)

>>> summary = clean(load_recipe("examples/customer-service/clean.yaml"), "out/clean")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import IO, Any

from lmstack.atomic import atomic_path, write_json
from lmstack.data.augment.back_translation import make_translator
from lmstack.data.augment.run import augment
from lmstack.data.budget import OverBudget, over_budget_error, relaxations
from lmstack.data.chat import normalise_chat
from lmstack.data.io import Rejects, Row, read_file
from lmstack.data.noise_score import score_noise
from lmstack.data.ops import build
from lmstack.data.progress import Advance, count_rows, progress_bar
from lmstack.data.ops.base import Operator, Outcome, Params
from lmstack.data.recipe import Recipe
from lmstack.data.report import RunStats, StepStats
from lmstack.errors import UserError

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def row_texts(row: Row, recipe: Recipe) -> tuple[dict[str, Any], list[str]] | str:
    """(the row in its output shape, its texts), or the reason it has none."""
    if recipe.format != "text":
        chat = normalise_chat(row.data)
        if chat is not None:
            return chat, [m["content"] for m in chat["messages"]]
        if recipe.format == "chat":
            return "missing field: no messages, conversations, instruction/output or question/answer"
    text = row.data.get(recipe.text_field)
    if not isinstance(text, str):
        return f"missing field: no string {recipe.text_field!r}"
    return row.data, [text]


def with_texts(data: dict[str, Any], texts: list[str], recipe: Recipe) -> dict[str, Any]:
    if "messages" in data and recipe.format != "text":
        return {**data, "messages": [{**m, "content": t} for m, t in zip(data["messages"], texts)]}
    return {**data, recipe.text_field: texts[0]}


class _Sinks:
    """Exclusion and change files, opened on first use so a step that did nothing leaves no file."""

    def __init__(self, root: Path, stack: ExitStack):
        self.root, self.stack, self.files = root, stack, {}

    def write(self, kind: str, step: str, entry: dict[str, Any]) -> None:
        key = (kind, step)
        if key not in self.files:
            (self.root / kind).mkdir(exist_ok=True)
            self.files[key] = self.stack.enter_context(open(self.root / kind / f"{step}.jsonl", "w", encoding="utf-8"))
        f: IO = self.files[key]
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


_BATCH = 256  # rows pushed through the steps together: embedding steps run one model call per batch


def _apply(op: Operator, items: list[tuple[list[str], str]]) -> list[Outcome]:
    """The step's outcomes for rows in input order; a step with `batch` sees them all at once."""
    if hasattr(op, "batch"):
        return op.batch(items)
    if getattr(op, "wants_where", False):
        return [op(texts, where) for texts, where in items]
    return [op(texts) for texts, _ in items]


def _run(recipe: Recipe, params: dict[str, Params], out: Path, advance: Advance) -> tuple[RunStats, Rejects]:
    """One pass over the inputs into the folder `out`, `_BATCH` rows at a time: each step sees the
    rows in input order, so the output is the same as row by row."""
    ops = [(s.step_name, s.op, build(s.op, params[s.step_name]), set(s.files) if s.files else None) for s in recipe.steps]
    stats = RunStats({name: StepStats(name, op) for name, op, _, _ in ops})
    out.mkdir(parents=True)
    with ExitStack() as stack:
        rejects = Rejects(sink=stack.enter_context(open(out / "rejects.jsonl", "w", encoding="utf-8")))
        augmented = stack.enter_context(open(out / "augmented.jsonl", "w", encoding="utf-8")) if recipe.augment else None
        put = partial(with_texts, recipe=recipe)
        pending: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = []  # kept rows waiting to be augmented
        translator = (make_translator(recipe.augment.back_translation)
                      if recipe.augment and "back_translation" in recipe.augment.method_set else None)
        sinks = _Sinks(out, stack)

        def flush_augment() -> None:
            if augmented is not None and pending:
                for copy in augment(pending, recipe.augment, stats.augmented, put, translator):
                    augmented.write(json.dumps(copy, ensure_ascii=False) + "\n")
            pending.clear()

        def run_batch(batch: list[tuple[Row, dict[str, Any], list[str]]], target: IO) -> None:
            texts_of = [texts for _, _, texts in batch]
            alive = [True] * len(batch)
            for name, op_name, op, files in ops:
                todo = [i for i, (row, _, _) in enumerate(batch) if alive[i] and (files is None or row.file in files)]
                if not todo:
                    continue
                step = stats.steps[name]
                outcomes = _apply(op, [(texts_of[i], f"{batch[i][0].file}:{batch[i][0].line}") for i in todo])
                for i, outcome in zip(todo, outcomes):
                    row, data, texts = batch[i][0], batch[i][1], texts_of[i]
                    if outcome.texts is None:
                        alive[i] = False
                        step.removed += 1
                        step.reasons[_NUMBER.sub("#", outcome.reason or "")] += 1
                        sinks.write("exclusions", name, {**row.where(), "step": name, "op": op_name, "reason": outcome.reason,
                                                         "row": with_texts(data, texts, recipe)})
                    elif outcome.texts != texts:
                        step.changed += 1
                        step.tags.update(outcome.tags)
                        sinks.write("changes", name, {**row.where(), "step": name, "tags": list(outcome.tags)})
                        texts_of[i] = outcome.texts
            for i, (row, data, _) in enumerate(batch):
                if not alive[i]:
                    continue
                stats.kept(row.file, "\n".join(texts_of[i]))
                kept = with_texts(data, texts_of[i], recipe)
                target.write(json.dumps(kept, ensure_ascii=False) + "\n")
                if augmented is not None:
                    pending.append((kept, row.where(), texts_of[i]))
                    if len(pending) >= recipe.augment.back_translation.batch_size:
                        flush_augment()

        for path in recipe.inputs:
            target = stack.enter_context(open(out / f"{path.stem}.jsonl", "w", encoding="utf-8"))
            batch: list[tuple[Row, dict[str, Any], list[str]]] = []
            for row in read_file(recipe.resolve(path), rejects, name=path.as_posix()):
                advance(1)
                shaped = row_texts(row, recipe)
                if isinstance(shaped, str):
                    rejects.add(row.file, row.line, shaped, json.dumps(row.data, ensure_ascii=False))
                    continue
                data, texts = shaped
                stats.saw(row.file, "\n".join(texts))
                batch.append((row, data, texts))
                if len(batch) >= _BATCH:
                    run_batch(batch, target)
                    batch = []
            run_batch(batch, target)
        flush_augment()
    return stats, rejects


def clean(recipe: Recipe, out_dir: str | Path | None = None, *, progress: bool = False) -> dict[str, Any]:
    """Clean the recipe's inputs into `out_dir` (default: the recipe's output_dir); return the report dict.

    `progress` shows a bar on stderr (rows, rows/s, and the ETA for line-based inputs).

    Over the removal budget it raises a UserError with the per-step table, or, with
    `on_budget: relax`, reruns with each relaxation in turn and reports which it applied.
    """
    out = Path(out_dir) if out_dir is not None else recipe.output_dir
    if out is None:
        raise UserError("the recipe has no output_dir", hint="add `output_dir:` to the recipe or pass --out")
    params = recipe.step_params()
    total = count_rows([recipe.resolve(p) for p in recipe.inputs]) if progress else None
    applied: list[dict[str, Any]] = []
    steps = relaxations(recipe) if recipe.on_budget == "relax" else iter(())
    while True:
        try:
            with atomic_path(out) as tmp, progress_bar(total, enabled=progress) as advance:
                stats, rejects = _run(recipe, params, tmp, advance)
                if stats.removed_share > recipe.max_removed_ratio:
                    raise OverBudget(stats)
                budget = {"max_removed_ratio": recipe.max_removed_ratio, "on_budget": recipe.on_budget, "relaxed": applied}
                report = stats.report(rejects.counts, budget)
                if recipe.noise_sidecar is not None:
                    report["noise"] = score_noise(recipe.resolve(recipe.noise_sidecar), tmp, recipe.noise_targets)
                write_json(tmp / "report.json", report)
            return report
        except OverBudget as e:
            nxt = next(steps, None)
            if nxt is None:
                raise over_budget_error(e.stats, recipe, applied) from None
            params = nxt.apply(params, recipe)
            applied.append({"step": nxt.step, "param": nxt.param, "value": nxt.value,
                            "removed_share_before": round(e.stats.removed_share, 4)})

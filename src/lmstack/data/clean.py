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

The per-row work (parsing, normalisers, filters, PII, dedup hashes) runs in `num_proc` worker
processes or on Ray Data (`executor: ray`); the dedup decisions and the budget are made here, in
input order, so every executor and process count writes the same bytes. A run killed outright
leaves a hidden temporary folder, which the next run into the same place removes.

>>> summary = clean(load_recipe("examples/customer-service/clean.yaml"), "out/clean")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

from lmstack.atomic import atomic_path, write_json
from lmstack.data.augment.back_translation import make_translator
from lmstack.data.augment.run import augment
from lmstack.data.budget import OverBudget, over_budget_error, relaxations
from lmstack.data.io import Rejects, read_units
from lmstack.data.noise_score import score_noise
from lmstack.data.ops import build
from lmstack.data.progress import Advance, count_rows, progress_bar
from lmstack.data.ops.base import Operator, Outcome, Params
from lmstack.data.parallel import map_stage
from lmstack.data.recipe import Recipe
from lmstack.data.report import RunStats, StepStats
from lmstack.data.stage import Done, Rejected, Result, Stage, Step, Unit, with_texts
from lmstack.errors import UserError

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class _Sinks:
    """Exclusion and change files, opened on first use so a step that did nothing leaves no file."""

    def __init__(self, root: Path, stack: ExitStack):
        self.root, self.stack, self.files = root, stack, {}

    def write_line(self, kind: str, step: str, line: str) -> None:
        key = (kind, step)
        if key not in self.files:
            (self.root / kind).mkdir(exist_ok=True)
            self.files[key] = self.stack.enter_context(open(self.root / kind / f"{step}.jsonl", "w", encoding="utf-8"))
        f: IO = self.files[key]
        f.write(line + "\n")

    def write(self, kind: str, step: str, entry: dict[str, Any]) -> None:
        self.write_line(kind, step, json.dumps(entry, ensure_ascii=False))


_BATCH = 256  # rows pushed through the steps together: embedding steps run one model call per batch


def _apply(op: Operator, items: list[tuple[list[str], str]]) -> list[Outcome]:
    """The step's outcomes for rows in input order; a step with `batch` sees them all at once."""
    if hasattr(op, "batch"):
        return op.batch(items)
    if getattr(op, "wants_where", False):
        return [op(texts, where) for texts, where in items]
    return [op(texts) for texts, _ in items]


def _batches(recipe: Recipe) -> Iterator[tuple[int, list[Unit]]]:
    """(input index, up to `_BATCH` units) over every input in order; a batch holds one file's units."""
    for tag, path in enumerate(recipe.inputs):
        units: list[Unit] = []
        for unit in read_units(recipe.resolve(path), name=path.as_posix()):
            units.append(unit)
            if len(units) >= _BATCH:
                yield tag, units
                units = []
        if units:
            yield tag, units


def _results(recipe: Recipe, stage: Stage, params: dict[str, Params]) -> Iterator[tuple[int, list[Result]]]:
    if recipe.executor == "ray":
        from lmstack.data.ray_exec import map_stage_ray

        files = [(tag, str(recipe.resolve(p)), p.as_posix()) for tag, p in enumerate(recipe.inputs)]
        return map_stage_ray(stage, files, _BATCH, recipe.num_proc, params)
    return map_stage(stage, _batches(recipe), recipe.num_proc, params)


def _excluded(where: dict[str, Any], step: str, op: str, reason: str, row_json: str) -> str:
    """The exclusion line json.dumps({**where, step, op, reason, row}) gives, from the row's JSON."""
    head = json.dumps({**where, "step": step, "op": op, "reason": reason}, ensure_ascii=False)
    return f'{head[:-1]}, "row": {row_json}}}'


def _run(recipe: Recipe, params: dict[str, Params], out: Path, advance: Advance) -> tuple[RunStats, Rejects]:
    """One pass over the inputs into the folder `out`, `_BATCH` rows at a time.

    The per-row work (lmstack.data.stage) runs here, in worker processes or on Ray; the stateful
    steps then see every batch in input order here, so the output is the same as row by row."""
    stage = Stage.build(recipe, params, build=build)
    steps = stage.steps
    stateful = [i for i, s in enumerate(steps) if s.role != "row"]
    stats = RunStats({s.name: StepStats(s.name, s.op_name) for s in steps})
    out.mkdir(parents=True)
    for step in steps:  # a bounded dedup index spills into the run's own temp folder
        if hasattr(step.op, "use_temp_folder"):
            step.op.use_temp_folder(out)
    with ExitStack() as stack:
        rejects = Rejects(sink=stack.enter_context(open(out / "rejects.jsonl", "w", encoding="utf-8")))
        augmented = stack.enter_context(open(out / "augmented.jsonl", "w", encoding="utf-8")) if recipe.augment else None
        targets = [stack.enter_context(open(out / f"{p.stem}.jsonl", "w", encoding="utf-8")) for p in recipe.inputs]
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

        def remove(step: Step, reason: str, line: str) -> None:
            s = stats.steps[step.name]
            s.removed += 1
            s.reasons[_NUMBER.sub("#", reason)] += 1
            sinks.write_line("exclusions", step.name, line)

        def finish(results: list[Result], target: IO) -> None:
            advance(len(results))
            rows: list[Done] = []
            for r in results:
                if isinstance(r, Rejected):
                    rejects.add(r.file, r.line, r.reason, r.raw)
                else:
                    stats.saw(r.file, r.before)
                    rows.append(r)
            gone = [len(steps)] * len(rows)  # index of the stateful step that removed the row
            for k in stateful:
                step = steps[k]
                todo = [i for i, d in enumerate(rows) if gone[i] == len(steps) and k in d.seen]
                if not todo:
                    continue
                wheres = [f"{rows[i].file}:{rows[i].line}" for i in todo]
                if step.role == "prepare":
                    reasons = [step.op.decide(rows[i].seen[k].prepared, w) for i, w in zip(todo, wheres)]
                else:
                    outcomes = _apply(step.op, [(rows[i].seen[k].texts, w) for i, w in zip(todo, wheres)])
                    reasons = [None if o.texts is not None else (o.reason or "") for o in outcomes]
                for i, reason in zip(todo, reasons):
                    if reason is not None:
                        gone[i] = k
                        d = rows[i]
                        remove(step, reason, _excluded(d.where, step.name, step.op_name, reason, d.seen[k].row_json or d.out))
            for d, limit in zip(rows, gone):
                for j, tags in d.changes:
                    if j > limit:
                        break
                    s = stats.steps[steps[j].name]
                    s.changed += 1
                    s.tags.update(tags)
                    sinks.write("changes", steps[j].name, {**d.where, "step": steps[j].name, "tags": list(tags)})
                if d.removed is not None:
                    if d.removed[0] < limit:
                        remove(steps[d.removed[0]], d.removed[1], d.removed[2])
                    continue
                if limit < len(steps):
                    continue
                stats.kept(d.file, d.after)
                target.write(d.out + "\n")
                if augmented is not None:
                    pending.append((with_texts(d.data, d.texts, recipe), d.where, d.texts))
                    if len(pending) >= recipe.augment.back_translation.batch_size:
                        flush_augment()

        for tag, results in _results(recipe, stage, params):
            finish(results, targets[tag])
        flush_augment()
    return stats, rejects


@contextmanager
def _claimed(out: Path) -> Iterator[None]:
    """Hold a shared lock on the output's folder for the run; a run that finds no other run holding
    it first removes the temporary folders that killed runs (SIGKILL, power loss) left beside `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): leftovers stay, and are hidden dot-folders
        yield
        return
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for stale in [*out.parent.glob(f".{out.name}.*.tmp"), out.parent / f".{out.name}.old"]:
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                elif stale.exists():
                    stale.unlink()
        except BlockingIOError:
            pass  # another run is writing here: its temporary folder is not stale
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def clean(recipe: Recipe, out_dir: str | Path | None = None, *, progress: bool = False,
          num_proc: int | None = None, executor: str | None = None) -> dict[str, Any]:
    """Clean the recipe's inputs into `out_dir` (default: the recipe's output_dir); return the report dict.

    `progress` shows a bar on stderr (rows, rows/s, and the ETA for line-based inputs); `num_proc`
    and `executor` override the recipe's (the output is the same whatever they are).

    Over the removal budget it raises a UserError with the per-step table, or, with
    `on_budget: relax`, reruns with each relaxation in turn and reports which it applied.
    """
    out = Path(out_dir) if out_dir is not None else recipe.output_dir
    if out is None:
        raise UserError("the recipe has no output_dir", hint="add `output_dir:` to the recipe or pass --out")
    if num_proc is not None:
        if num_proc < 1:
            raise UserError(f"num_proc must be at least 1, not {num_proc}", hint="1 runs in this process; 2 or more use workers")
        recipe = recipe.model_copy(update={"num_proc": num_proc})
    if executor is not None:
        if executor not in ("local", "ray"):
            raise UserError(f"unknown executor {executor!r}", hint="choose local or ray")
        recipe = recipe.model_copy(update={"executor": executor})
    params = recipe.step_params()
    total = count_rows([recipe.resolve(p) for p in recipe.inputs]) if progress else None
    applied: list[dict[str, Any]] = []
    steps = relaxations(recipe) if recipe.on_budget == "relax" else iter(())
    while True:
        try:
            with _claimed(out), atomic_path(out) as tmp, progress_bar(total, enabled=progress) as advance:
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

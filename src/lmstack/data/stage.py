"""The per-row half of a cleaning run: everything that needs no other row.

A run reads its inputs as *units* (a JSON line, a parsed record, or a read error), in batches.
`Stage` turns a batch into results: it parses and shapes each row, runs every per-row operator
(normalisers, filters, PII) in recipe order, and does the per-row part of each stateful operator
(the exact-dedup digest, the MinHash signature) without deciding anything. What is left — which
rows repeat earlier ones, the budget, the files — is decided in input order by the cleaning process
(lmstack.data.clean), so a stage may run in the same process, in worker processes or on Ray, and
the output is the same.

Stateful operators (dedup) only keep or remove rows, never change texts, so the per-row operators
after one of them see the same texts whatever it decides; a row that it removes simply has its
later results thrown away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from lmstack.data.chat import normalise_chat
from lmstack.data.io import Row, parse_object
from lmstack.data.ops.base import Operator, Params
from lmstack.data.report import measure
from lmstack.errors import UserError

# (file, line, kind, payload): kind "json" → payload is a JSON line to parse; "row" → a parsed
# record (a dict); "reject" → (reason, raw) of a row the reader could not read.
Unit = tuple[str, int, str, Any]
Role = Literal["row", "prepare", "parent"]


def role_of(op: Operator) -> Role:
    """row: needs only its row (runs in the stage); prepare: stateful, with a per-row `prepare` the stage
    runs and a `decide` the cleaning process runs; parent: stateful, run whole by the cleaning process."""
    if not (getattr(op, "wants_where", False) or hasattr(op, "batch")):
        return "row"
    return "prepare" if hasattr(op, "prepare") else "parent"


@dataclass(frozen=True)
class Step:
    name: str
    op_name: str
    files: frozenset[str] | None
    op: Operator
    role: Role


@dataclass(slots=True)
class Rejected:
    file: str
    line: int
    reason: str
    raw: str | None


@dataclass(slots=True)
class Seen:
    """What a stateful step needs about a row that reached it."""

    prepared: Any              # the op's `prepare` result (role prepare)
    texts: list[str] | None    # the row's texts there (role parent only)
    row_json: str | None       # the row as it was there, as JSON; None when it equals the kept row's `out`


@dataclass(slots=True)
class Done:
    """A row after every per-row step: its changes, its removal if one removed it, and its output line."""

    file: str
    line: int
    where: dict[str, Any]
    before: tuple[int, str]                                    # measure() of the texts as read
    changes: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)  # (step index, tags)
    removed: tuple[int, str, str] | None = None                # (step index, reason, exclusion JSON line)
    seen: dict[int, Seen] = field(default_factory=dict)        # stateful step index → Seen
    out: str | None = None                                     # the kept row as a JSON line (no newline)
    after: tuple[int, str] | None = None                       # measure() of the kept texts
    data: dict[str, Any] | None = None                         # with augmentation: the row and its final texts
    texts: list[str] | None = None


Result = Rejected | Done


@dataclass(frozen=True)
class Failed:
    """A UserError raised in a worker, carried back whole (pickling an exception keeps only its message)."""

    message: str
    hint: str | None

    def raise_(self) -> None:
        raise UserError(self.message, hint=self.hint)


def run_in_worker(stage: Stage, units: list[Unit]) -> list[Result] | Failed:
    """The stage's results, or the UserError it raised as a `Failed`."""
    try:
        return stage(units)
    except UserError as e:
        return Failed(e.message, e.hint)


def row_texts(row: Row, recipe) -> tuple[dict[str, Any], list[str]] | str:
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


def with_texts(data: dict[str, Any], texts: list[str], recipe) -> dict[str, Any]:
    if "messages" in data and recipe.format != "text":
        return {**data, "messages": [{**m, "content": t} for m, t in zip(data["messages"], texts)]}
    return {**data, recipe.text_field: texts[0]}


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


class Stage:
    """Callable on a batch of units; build it in each process that runs it (`Stage.build`)."""

    def __init__(self, recipe, steps: list[Step]):
        self.recipe, self.steps = recipe, steps
        self.keep_rows = recipe.augment is not None

    @classmethod
    def build(cls, recipe, params: dict[str, Params], build=None) -> Stage:
        """Build every operator of the recipe (with `build`, default lmstack.data.ops.build)."""
        if build is None:
            from lmstack.data.ops import build
        steps = []
        for s in recipe.steps:
            op = build(s.op, params[s.step_name])
            steps.append(Step(s.step_name, s.op, frozenset(s.files) if s.files else None, op, role_of(op)))
        return cls(recipe, steps)

    def __call__(self, units: list[Unit]) -> list[Result]:
        return [self.one(*u) for u in units]

    def one(self, file: str, line: int, kind: str, payload: Any) -> Result:
        if kind == "reject":
            return Rejected(file, line, *payload)
        data = parse_object(payload) if kind == "json" else payload
        if isinstance(data, str):
            return Rejected(file, line, data, payload)
        row = Row(data, file, line)
        shaped = row_texts(row, self.recipe)
        if isinstance(shaped, str):
            return Rejected(file, line, shaped, dumps(data))
        data, texts = shaped
        done = Done(file, line, row.where(), measure(texts))
        at: dict[int, list[str]] = {}  # stateful step index → the texts it saw
        for i, step in enumerate(self.steps):
            if step.files is not None and file not in step.files:
                continue
            if step.role != "row":
                at[i] = texts
                done.seen[i] = Seen(step.op.prepare(texts) if step.role == "prepare" else None,
                                    texts if step.role == "parent" else None, None)
                continue
            outcome = step.op(texts)
            if outcome.texts is None:
                entry = {**done.where, "step": step.name, "op": step.op_name, "reason": outcome.reason,
                         "row": with_texts(data, texts, self.recipe)}
                done.removed = (i, outcome.reason or "", dumps(entry))
                break
            if outcome.texts != texts:
                done.changes.append((i, tuple(outcome.tags)))
                texts = outcome.texts
        if done.removed is None:
            done.out = dumps(with_texts(data, texts, self.recipe))
            done.after = measure(texts)
            if self.keep_rows:
                done.data, done.texts = data, texts
        for i, seen_texts in at.items():
            if seen_texts is not texts or done.removed is not None:
                done.seen[i].row_json = dumps(with_texts(data, seen_texts, self.recipe))
        return done

"""What an operator is, and the table that finds one by name.

An operator sees the texts of one row (a corpus row has one, a chat row one per message) and
returns an `Outcome`: new texts, or the reason it removes the row. Parameters are a pydantic model,
so a recipe's typo is caught at load time with a suggestion, and `lmstack data ops` can list them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from lmstack.errors import UserError


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Outcome:
    """`texts` is None when the row is removed, and `reason` says why; `tags` label a change (PII types)."""

    texts: list[str] | None
    reason: str | None = None
    tags: tuple[str, ...] = ()


def keep(texts: list[str], tags: tuple[str, ...] = ()) -> Outcome:
    return Outcome(texts, None, tags)


def drop(reason: str) -> Outcome:
    return Outcome(None, reason)


def drop_on_first(check: Callable[[str], str | None], texts: list[str]) -> Outcome:
    """Drop the row with the reason of the first text `check` rejects; keep it when none is."""
    for text in texts:
        reason = check(text)
        if reason:
            return drop(reason)
    return keep(texts)


class Operator(Protocol):
    """Called once per row, in input order. Stateful operators (dedup) set `wants_where = True`
    and are then called as `op(texts, "file:line")`, so a removal can name the row it repeats;
    they keep or remove a row, never change its texts. An operator that gains from batches
    (embeddings) may also define `batch([(texts, where), ...]) -> [Outcome, ...]`, giving what calls
    row by row, in order, would give. A stateful operator whose per-row work needs no other row
    may split itself into `prepare(texts) -> value` (run in parallel workers; picklable value) and
    `decide(value, where) -> removal reason or None` (run in input order)."""

    def __call__(self, texts: list[str]) -> Outcome: ...


@dataclass(frozen=True)
class OpSpec:
    name: str
    family: str
    params: type[Params]
    build: Callable[[Any], Operator]
    doc: str = field(default="")


OPERATORS: dict[str, OpSpec] = {}


def register(name: str, family: str, params: type[Params]):
    """Class decorator: add an operator (constructed from its params model) to `OPERATORS`."""
    def wrap(cls):
        OPERATORS[name] = OpSpec(name, family, params, cls, (cls.__doc__ or "").strip().split("\n\n")[0])
        return cls
    return wrap


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else f"choose from: {', '.join(sorted(choices))}"


def op_spec(name: str, where: str = "recipe") -> OpSpec:
    if name not in OPERATORS:
        raise UserError(f"{where}: unknown operator {name!r}",
                        hint=f"{_suggest(name, OPERATORS)} (`lmstack data ops` lists them)")
    return OPERATORS[name]


def parse_params(name: str, params: dict[str, Any], where: str = "recipe") -> Params:
    """Validate an operator's parameters; an unknown one gets a close-match suggestion."""
    spec = op_spec(name, where)
    try:
        return spec.params.model_validate(params)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            raise UserError(f"{where}: operator {name!r} has no parameter {key!r}",
                            hint=_suggest(str(first["loc"][0]), spec.params.model_fields)) from None
        raise UserError(f"{where}: operator {name!r}, parameter {key!r}: {first['msg']}",
                        hint=f"`lmstack data ops` shows {name}'s parameters and defaults") from None


def build(name: str, params: Params) -> Operator:
    return OPERATORS[name].build(params)


def describe() -> list[dict[str, Any]]:
    """Every operator with its family, summary, and parameters (type, default, description)."""
    rows = []
    for spec in OPERATORS.values():
        params = [{"name": pname, "type": str(f.annotation).replace("typing.", ""),
                   "default": f.default if not callable(f.default_factory) else f.default_factory(),
                   "description": f.description or ""}
                  for pname, f in spec.params.model_fields.items()]
        rows.append({"name": spec.name, "family": spec.family, "summary": spec.doc, "params": params})
    return rows

"""Rubric pass rate: an answer passes when it has every required phrase and no forbidden one.

The reference of each example is a rubric, e.g. `{"required": ["挂失", "re:95\\d{3}"],
"forbidden": ["密码"]}`; an entry starting with `re:` is a regular expression, any other a
substring. Matching ignores case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lmstack.config.base import Language
from lmstack.errors import UserError

REGEX_PREFIX = "re:"


def _matches(entry: str, text: str) -> bool:
    if entry.startswith(REGEX_PREFIX):
        return re.search(entry[len(REGEX_PREFIX):], text, flags=re.IGNORECASE) is not None
    return entry.lower() in text.lower()


def check_rubric(rubric: Any, row: int | str) -> Mapping[str, list[str]]:
    """The rubric as {'required': [...], 'forbidden': [...]}, or a UserError naming the row."""
    if not isinstance(rubric, Mapping) or not set(rubric) <= {"required", "forbidden"} or not rubric:
        raise UserError(f"row {row}: a rubric must be a mapping with 'required' and/or 'forbidden' lists, got {rubric!r}",
                        hint='e.g. {"required": ["hotline"], "forbidden": ["re:password\\\\s*is"]}')
    for key, entries in rubric.items():
        if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
            raise UserError(f"row {row}: rubric field {key!r} must be a list of non-empty strings")
        for entry in entries:
            if entry.startswith(REGEX_PREFIX):
                try:
                    re.compile(entry[len(REGEX_PREFIX):])
                except re.error as e:
                    raise UserError(f"row {row}: bad regular expression {entry!r} in rubric field {key!r}: {e}") from e
    return rubric


class RubricMetric:
    name = "rubric"

    def __init__(self, language: Language = "en"):
        self.language = language

    def settings(self) -> dict[str, Any]:
        return {"match": "case-insensitive substring, or regex after 're:'", "pass": "all required, no forbidden"}

    def example_stats(self, predictions: Sequence[str], references: Sequence[Any]) -> list[Any]:
        out = []
        for i, (pred, ref) in enumerate(zip(predictions, references)):
            rubric = check_rubric(ref, i)
            ok = (all(_matches(e, pred) for e in rubric.get("required", []))
                  and not any(_matches(e, pred) for e in rubric.get("forbidden", [])))
            out.append(float(ok))
        return out

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        return {"rubric_pass_rate": sum(stats) / len(stats)}

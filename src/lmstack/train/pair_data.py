"""(source, target) text pairs from .jsonl/.json rows, for the seq2seq recipe.

    >>> data = read_pairs(["qa/train.jsonl"], source_field="question", target_field="answer")  # doctest: +SKIP
    >>> data.pairs[0]                                                                          # doctest: +SKIP
    ('提额申请被拒了是什么原因？', '您可在兰亭银行手机银行…')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmstack.errors import UserError
from lmstack.jsonl import RowError, json_rows
from lmstack.train.chat_data import Reject


@dataclass
class PairData:
    """Usable pairs with their (file, line), and the rows rejected."""

    pairs: list[tuple[str, str]]
    origins: list[tuple[str, int]]
    rejects: list[Reject]


def to_pair(row, source_field: str, target_field: str) -> tuple[str, str]:
    """(source, target) of one row; RowError saying why when a field is missing, empty or not text."""
    if isinstance(row, RowError):
        raise row
    if not isinstance(row, dict):
        raise RowError(f"expected a JSON object, got {type(row).__name__}")
    texts = []
    for field in (source_field, target_field):
        value = row.get(field)
        if value is None:
            raise RowError(f"no {field!r} field (keys: {', '.join(sorted(row)) or 'none'})")
        if not isinstance(value, str) or not value.strip():
            raise RowError(f"{field!r} must be non-empty text")
        texts.append(value)
    return texts[0], texts[1]


def read_pairs(paths: list[str | Path], *, source_field: str, target_field: str) -> PairData:
    """Every file's pairs; a UserError listing the rejects (file:line: reason) when none is usable."""
    out = PairData([], [], [])
    for path in map(Path, paths):
        if not path.is_file():
            raise UserError(f"pair data file {str(path)!r} does not exist", hint="check data.train / data.validation")
        for line, row in json_rows(path):
            try:
                out.pairs.append(to_pair(row, source_field, target_field))
                out.origins.append((str(path), line))
            except RowError as e:
                out.rejects.append(Reject(str(path), line, str(e)))
    if not out.pairs:
        shown = "".join(f"\n  {r}" for r in out.rejects[:10])
        raise UserError(f"no usable ({source_field} → {target_field}) pairs in {', '.join(map(str, paths))}"
                        + (f":{shown}" if shown else ": the files are empty"),
                        hint="set train.source_field and train.target_field to the names of the text fields")
    return out

"""Rows of a JSON-lines file (or a .json array) with their line numbers, bad lines kept as errors,
so each reader decides whether a bad row is a reject (reported with its line) or a stop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmstack.errors import UserError


class RowError(ValueError):
    """One row does not fit its format; the message is the reason shown to the user."""


def json_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed row) of a .jsonl file, or (item number, row) of a .json array; a line that
    is not JSON comes as (line number, RowError)."""
    if Path(path).suffix == ".json":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as e:
            raise UserError(f"{path} is not valid JSON ({e})", hint="a .json file holds one array of rows; "
                            "use .jsonl for one row per line") from e
        if not isinstance(data, list):
            raise UserError(f"{path} holds a JSON {type(data).__name__}, not an array of rows")
        yield from enumerate(data, start=1)
        return
    with open(path, encoding="utf-8") as f:  # streamed: a log may be larger than memory
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError as e:
                yield number, RowError(f"not valid JSON ({e.args[0] if e.args else e})")

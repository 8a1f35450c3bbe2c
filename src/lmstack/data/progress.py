"""A rich progress bar for cleaning runs: rows read, rows per second, and an ETA when the total is known.

The total is known for line-based inputs (jsonl, plain text), whose newlines are counted in one
fast binary pass; for others the bar shows the count and the rate only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

_LINE_BASED = {".jsonl", ".txt", ".text"}


class Advance(Protocol):
    def __call__(self, rows: int) -> None: ...


def count_rows(paths: Sequence[Path]) -> int | None:
    """Lines in all the inputs (an upper bound on rows: blank lines count too), or None if any is not line-based."""
    total = 0
    for path in paths:
        if path.suffix.lower() not in _LINE_BASED or not path.is_file():
            return None
        with open(path, "rb") as f:
            tail = b""
            for chunk in iter(lambda: f.read(1 << 20), b""):
                total += chunk.count(b"\n")
                tail = chunk[-1:]
            total += tail not in (b"", b"\n")  # a last line without a newline
    return total


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "- rows/s")


@contextmanager
def progress_bar(total: int | None, *, enabled: bool = True, console: Console | None = None) -> Iterator[Advance]:
    """Yield `advance(rows)`; with `enabled` it drives a transient bar on stderr (a no-op otherwise)."""
    if not enabled:
        yield lambda rows: None
        return
    columns: list[ProgressColumn] = [TextColumn("cleaning"), BarColumn(), MofNCompleteColumn(), _RowsPerSecond(),
                                     TimeElapsedColumn()]
    if total is not None:
        columns.append(TimeRemainingColumn())
    with Progress(*columns, console=console or Console(stderr=True), transient=True) as bar:
        task = bar.add_task("rows", total=total)
        yield lambda rows: bar.advance(task, rows)

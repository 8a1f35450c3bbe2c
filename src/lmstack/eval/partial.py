"""Per-example results appended line by line, so an interrupted eval resumes where it stopped.

Each finished example is one JSON line written with a single `write` on a file opened for
appending, then flushed and fsynced: a crash loses at most the line being written. On resume
the lines already there are read back (a torn last line is dropped) and their examples skipped.
Every line carries the fingerprint of the settings that produced it; lines made with other
settings are never mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lmstack.atomic import write_jsonl
from lmstack.errors import UserError


class PartialResults:
    """Finished examples of one task, keyed by example id."""

    def __init__(self, path: Path, fingerprint: str, *, restart: bool = False):
        self.path, self.fingerprint = path, fingerprint
        self.done: dict[str, dict[str, Any]] = {}
        if restart and path.exists():
            path.unlink()
        if path.exists():
            self._load()

    def _load(self) -> None:
        rows, torn = [], False
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    torn = True  # only a crash mid-write leaves such a line; the example is redone
        stale = [r for r in rows if r.get("fingerprint") != self.fingerprint]
        if stale:
            raise UserError(f"{self.path} holds results made with other settings (task, model or dataset changed)",
                            hint="pass --restart to discard them, or --out another folder")
        self.done = {r["id"]: r for r in rows}
        if torn:
            write_jsonl(self.path, rows)

    def append(self, example_id: str, record: dict[str, Any]) -> None:
        row = {"id": example_id, "fingerprint": self.fingerprint, **record}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done[example_id] = row

"""Stream rows out of data files, with every unreadable row kept in a rejects file.

Formats (by suffix): `.jsonl`, `.json` (a list of objects), `.csv`, `.parquet`, `.txt` (a document
per non-empty line) and a saved Hugging Face dataset (a folder holding `dataset_info.json`). Every
row comes out as a `Row`: the record plus where it came from, so an exclusion or a reject can name
its file and line. Files are read line by line (parquet by record batch, saved datasets through
their memory map), never whole — except `.json`, which is one JSON value and must be parsed whole
(use `.jsonl` for large data).

>>> rejects = Rejects()
>>> rows = list(read_rows(["corpus.jsonl"], rejects))         # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lmstack.errors import UserError

FORMATS = (".jsonl", ".json", ".csv", ".parquet", ".txt", "hf-dataset")
_PARQUET_BATCH_ROWS = 1024


@dataclass
class Row:
    """One record and where it came from (`line` is 1-based; the row number for parquet and datasets)."""

    data: dict[str, Any]
    file: str
    line: int

    def where(self) -> dict[str, Any]:
        where: dict[str, Any] = {"file": self.file, "line": self.line}
        if "id" in self.data:
            where["id"] = self.data["id"]
        return where


@dataclass
class Rejects:
    """Rows that could not be read: each with its file, line and reason, counted by reason.

    With a `sink` (an open text file) each is written there as a JSON line as it comes, so a
    badly broken file costs no memory; without one they collect in `rows`.
    """

    sink: IO[str] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def add(self, file: str, line: int, reason: str, raw: str | None = None) -> None:
        entry: dict[str, Any] = {"file": file, "line": line, "reason": reason}
        if raw is not None:
            entry["raw"] = raw[:1000]
        if self.sink is None:
            self.rows.append(entry)
        else:
            self.sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.counts[reason.split(":")[0]] += 1


def file_format(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_info.json").is_file():
            return "hf-dataset"
        raise UserError(f"{path}: a folder that is not a saved Hugging Face dataset",
                        hint="give a data file, or a folder written by datasets' save_to_disk")
    if not path.is_file():
        raise UserError(f"{path}: no such data file", hint="check the recipe's inputs (paths are relative to the recipe)")
    if path.suffix not in FORMATS:
        raise UserError(f"{path}: unsupported file type {path.suffix!r}", hint=f"use one of {', '.join(FORMATS)}")
    return path.suffix


def decoded_lines(path: Path, rejects: Rejects, name: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of each non-empty line; a line that is not UTF-8 becomes a reject.

    Decoding per line, not per file, keeps one mis-encoded line from losing its neighbours.
    """
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                rejects.add(name, lineno, f"bad encoding: not UTF-8 at byte {e.start}",
                            raw.decode("utf-8", errors="replace"))
                continue
            line = line.lstrip("\ufeff") if lineno == 1 else line
            if line.strip():
                yield lineno, line.rstrip("\r\n")


def parse_object(line: str) -> dict[str, Any] | str:
    """One JSON-lines row as a dict, or the reason it is not one."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        return f"bad JSON: {e.msg}"
    if not isinstance(data, dict):
        return f"bad JSON: a {type(data).__name__}, not an object"
    return data


def _jsonl(path: Path, rejects: Rejects, name: str) -> Iterator[Row]:
    for lineno, line in decoded_lines(path, rejects, name):
        data = parse_object(line)
        if isinstance(data, str):
            rejects.add(name, lineno, data, line)
            continue
        yield Row(data, name, lineno)


def _json(path: Path, rejects: Rejects, name: str) -> Iterator[Row]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not a readable JSON file ({e})",
                        hint="a .json file must be one UTF-8 JSON list of objects; use .jsonl for large data") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: the JSON file holds a {type(data).__name__}, not a list of rows")
    for i, item in enumerate(data, 1):
        if isinstance(item, dict):
            yield Row(item, name, i)
        else:
            rejects.add(name, i, f"bad JSON: a {type(item).__name__}, not an object", json.dumps(item))


def _csv(path: Path, rejects: Rejects, name: str) -> Iterator[Row]:
    lines = decoded_lines(path, rejects, name)
    header = next(lines, None)
    if header is None:
        return
    names = next(csv.reader([header[1]]))
    for lineno, line in lines:
        values = next(csv.reader([line]))
        if len(values) != len(names):
            rejects.add(name, lineno, f"bad CSV: {len(values)} fields, the header has {len(names)}", line)
            continue
        yield Row(dict(zip(names, values)), name, lineno)


def _txt(path: Path, rejects: Rejects, name: str) -> Iterator[Row]:
    for lineno, line in decoded_lines(path, rejects, name):
        yield Row({"text": line.strip()}, name, lineno)


def _parquet(path: Path, rejects: Rejects, name: str) -> Iterator[Row]:
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_PARQUET_BATCH_ROWS):
        for data in batch.to_pylist():
            n += 1
            yield Row(data, name, n)


def _hf_dataset(path: Path, rejects: Rejects, name: str) -> Iterator[Row]:
    from datasets import load_from_disk

    dataset = load_from_disk(str(path))  # memory-mapped: rows are read as they are iterated
    if hasattr(dataset, "keys"):
        raise UserError(f"{path}: a DatasetDict with splits {list(dataset.keys())}",
                        hint="point the recipe at one split's folder, e.g. path/train")
    for n, data in enumerate(dataset, 1):
        yield Row(dict(data), name, n)


_READERS = {".jsonl": _jsonl, ".json": _json, ".csv": _csv, ".txt": _txt, ".parquet": _parquet,
            "hf-dataset": _hf_dataset}


def read_file(path: str | Path, rejects: Rejects, name: str | None = None) -> Iterator[Row]:
    """Yield the rows of one file; unreadable rows go to `rejects` instead. `name` is the file's
    name in rows and rejects (default: the path), e.g. the path as the recipe wrote it."""
    path = Path(path)
    yield from _READERS[file_format(path)](path, rejects, name or str(path))


def read_rows(paths: Iterable[str | Path], rejects: Rejects) -> Iterator[Row]:
    """Yield the rows of every file in order."""
    for path in paths:
        yield from read_file(path, rejects)



def read_units(path: str | Path, name: str | None = None) -> Iterator[tuple[str, int, str, Any]]:
    """The file as (file, line, kind, payload) units, in order, with its read errors among them:
    a JSON-lines file gives ("json", the line) for the parsing to happen where the rows are processed;
    other formats give ("row", the record); a row that cannot be read gives ("reject", (reason, raw))."""
    path = Path(path)
    name = name or str(path)
    collected = Rejects()

    def flush() -> Iterator[tuple[str, int, str, Any]]:
        for r in collected.rows:
            yield r["file"], r["line"], "reject", (r["reason"], r.get("raw"))
        collected.rows.clear()

    if file_format(path) == ".jsonl":
        for lineno, line in decoded_lines(path, collected, name):
            yield from flush()
            yield name, lineno, "json", line
    else:
        for row in read_file(path, collected, name):
            yield from flush()
            yield row.file, row.line, "row", row.data
    yield from flush()

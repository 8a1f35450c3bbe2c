"""Read eval examples from jsonl, csv, parquet or a saved Hugging Face dataset, and hash them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from lmstack.errors import UserError
from lmstack.jsonl import RowError, json_rows
from lmstack.eval.tasks import DatasetSpec
from lmstack.runs import tree_sha256


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line_no, row in json_rows(path):
        if isinstance(row, RowError):
            raise UserError(f"{path}, line {line_no}: {row}", hint="fix or remove that line")
        if not isinstance(row, dict):
            raise UserError(f"{path}, line {line_no}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def _read_saved(path: Path, split: str | None) -> list[dict[str, Any]]:
    from datasets import DatasetDict, load_from_disk

    data = load_from_disk(str(path))
    if isinstance(data, DatasetDict):
        if split not in data:
            raise UserError(f"{path} is a DatasetDict; split {split!r} is not one of {list(data)}",
                            hint="set dataset.split in the task")
        data = data[split]
    return data.to_list()


def _read(path: Path, split: str | None) -> list[dict[str, Any]]:
    if path.is_dir():
        return _read_saved(path, split)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return _read_jsonl(path)
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raise UserError(f"cannot read {path}: unknown format {suffix!r}",
                    hint="use .jsonl, .csv, .parquet or a folder written by Dataset.save_to_disk")


def load_examples(spec: DatasetSpec, base: Path) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """[(example id, row)] after filter and limit, and the sha256 of the source."""
    path = Path(spec.path) if Path(spec.path).is_absolute() else base / spec.path
    if not path.exists():
        raise UserError(f"dataset {str(path)!r} does not exist", hint="dataset.path is relative to the tasks file")
    rows = _read(path, spec.split)
    examples = []
    for i, row in enumerate(rows):
        if any(row.get(k) != v for k, v in spec.filter.items()):
            continue
        if spec.id_field is not None and spec.id_field not in row:
            raise UserError(f"{path}, row {i}: no id field {spec.id_field!r}", hint="fix dataset.id_field or the data")
        examples.append((str(row[spec.id_field]) if spec.id_field else str(i), row))
    ids = [ex_id for ex_id, _ in examples]
    if len(set(ids)) != len(ids):
        raise UserError(f"{path}: example ids in {spec.id_field!r} are not unique", hint="choose a unique id field")
    examples = examples[:spec.limit] if spec.limit else examples
    if not examples:
        raise UserError(f"{path}: no rows left after the filter {spec.filter}", hint="check the filter values")
    return examples, tree_sha256(path)

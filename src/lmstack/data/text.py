"""Read plain text out of corpus and training files, with the file and line of every bad row.

- `.txt`: one document per non-empty line.
- `.jsonl`: one JSON object per line; the text is `text_field`, or a question/answer pair, or
  chat `messages` (their contents joined by newlines).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from lmstack.errors import UserError

SUFFIXES = (".txt", ".jsonl")


def row_text(row: dict, text_field: str = "text") -> str | None:
    """The text a row stands for, or None when it has none of the known shapes."""
    if isinstance(row.get(text_field), str):
        return row[text_field]
    if isinstance(row.get("question"), str) and isinstance(row.get("answer"), str):
        return f"{row['question']}\n{row['answer']}"
    messages = row.get("messages")
    if isinstance(messages, list) and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        return "\n".join(m["content"] for m in messages)
    return None


def iter_texts(paths: Iterable[str | Path], text_field: str = "text") -> Iterator[str]:
    """Yield the non-empty texts of every file in `paths`, in order.

    A row that is not JSON, or has no text, stops with a UserError naming the file and line:
    training on silently half-read data is worse than not training.
    """
    for path in map(Path, paths):
        if not path.is_file():
            raise UserError(f"{path}: no such data file", hint="check data.corpus / data.train paths (relative to the config file)")
        if path.suffix not in SUFFIXES:
            raise UserError(f"{path}: unsupported file type {path.suffix!r}", hint=f"use one of {', '.join(SUFFIXES)}")
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                if path.suffix == ".txt":
                    yield line
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg})",
                                    hint="each line of a .jsonl file must be one JSON object") from None
                text = row_text(row, text_field) if isinstance(row, dict) else None
                if text is None:
                    raise UserError(f"{path}:{lineno}: row has no text",
                                    hint=f"give a {text_field!r} field, question+answer, or chat messages")
                if text.strip():
                    yield text


def require_text(texts: Iterator[str], where: str) -> Iterator[str]:
    """`texts` unchanged, or a UserError when it yields nothing (an empty corpus)."""
    first = next(texts, None)
    if first is None:
        raise UserError(f"no text in {where}", hint="the files are empty; give a corpus with some text")
    return itertools.chain([first], texts)

"""Chat rows in three common formats, detected per file and normalised to OpenAI `messages`.

    >>> to_messages({"instruction": "Add", "input": "1+1", "output": "2"}, "alpaca")
    [{'role': 'user', 'content': 'Add\\n\\n1+1'}, {'role': 'assistant', 'content': '2'}]

- messages: ``{"messages": [{"role": "user", "content": "…"}, …]}`` (OpenAI, TRL, LLaMA-Factory)
- alpaca: ``{"instruction", "input"?, "output", "system"?}`` (Stanford Alpaca)
- sharegpt: ``{"conversations": [{"from": "human", "value": "…"}, …], "system"?}`` (ShareGPT, Vicuna)

Rows that do not fit are kept as `Reject`s with file, line and reason, so a user can fix them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmstack.errors import UserError
from lmstack.jsonl import RowError, json_rows

FORMATS = ("messages", "alpaca", "sharegpt")
# The key that identifies each format, in the order they are tried.
FORMAT_KEYS = {"messages": "messages", "sharegpt": "conversations", "alpaca": "instruction"}
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user",
                  "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant"}

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Reject:
    """A row that could not be used: where it is and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ChatData:
    """Normalised conversations with their (file, line), the rows rejected, and each file's format."""

    conversations: list[Messages]
    origins: list[tuple[str, int]]
    rejects: list[Reject]
    formats: dict[str, str]


def detect_format(row: dict[str, Any]) -> str | None:
    """'messages', 'sharegpt' or 'alpaca' by the row's keys; None when no format's key is present."""
    return next((fmt for fmt, key in FORMAT_KEYS.items() if key in row), None)


def _text(row: dict, key: str, where: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise RowError(f"{where}{key!r} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise RowError(f"{where}{key!r} is empty")
    return value


def _from_messages(row: dict) -> Messages:
    turns = row["messages"]
    if not isinstance(turns, list):
        raise RowError(f"'messages' must be a list, got {type(turns).__name__}")
    out = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RowError(f"messages[{i}] must be an object with role and content")
        role = turn.get("role")
        if role not in ROLES:
            raise RowError(f"messages[{i}] has role {role!r}; expected one of {', '.join(ROLES)}")
        out.append({"role": role, "content": _text(turn, "content", f"messages[{i}]: ", required=role == "assistant")})
    return out


def _from_alpaca(row: dict) -> Messages:
    instruction = _text(row, "instruction", "")
    extra = _text(row, "input", "", required=False)
    system = _text(row, "system", "", required=False)
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    head = [{"role": "system", "content": system}] if system.strip() else []
    return head + [{"role": "user", "content": user}, {"role": "assistant", "content": _text(row, "output", "")}]


def _from_sharegpt(row: dict) -> Messages:
    turns = row["conversations"]
    if not isinstance(turns, list):
        raise RowError(f"'conversations' must be a list, got {type(turns).__name__}")
    system = _text(row, "system", "", required=False)
    out = [{"role": "system", "content": system}] if system.strip() else []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RowError(f"conversations[{i}] must be an object with from and value")
        role = SHAREGPT_ROLES.get(turn.get("from"))
        if role is None:
            raise RowError(f"conversations[{i}] has from={turn.get('from')!r}; expected one of "
                           f"{', '.join(SHAREGPT_ROLES)}")
        out.append({"role": role, "content": _text(turn, "value", f"conversations[{i}]: ", required=role == "assistant")})
    return out


NORMALISERS = {"messages": _from_messages, "alpaca": _from_alpaca, "sharegpt": _from_sharegpt}


def to_messages(row: Any, fmt: str) -> Messages:
    """`row` in format `fmt` as a list of {role, content}; RowError saying why when it does not fit."""
    if not isinstance(row, dict):
        raise RowError(f"expected a JSON object, got {type(row).__name__}")
    if FORMAT_KEYS[fmt] not in row:
        raise RowError(f"no {FORMAT_KEYS[fmt]!r} field for the {fmt} format (keys: {', '.join(sorted(row)) or 'none'})")
    messages = NORMALISERS[fmt](row)
    if not any(m["role"] == "assistant" for m in messages):
        raise RowError("no assistant turn to learn from")
    return messages


def read_chat_file(path: str | Path, data_format: str = "auto") -> ChatData:
    """Read one .jsonl/.json file; the format is `data_format`, or detected from its first object row."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"chat data file {str(path)!r} does not exist", hint="check data.train / data.validation")
    rows = list(json_rows(path))
    fmt = data_format
    if fmt == "auto":
        fmt = next((f for _, row in rows if isinstance(row, dict) and (f := detect_format(row))), None)
    conversations, origins, rejects = [], [], []
    for number, row in rows:
        try:
            if isinstance(row, RowError):
                raise row
            if fmt is None:
                raise RowError("no 'messages', 'conversations' or 'instruction' field in any row of the file")
            conversations.append(to_messages(row, fmt))
            origins.append((str(path), number))
        except RowError as e:
            rejects.append(Reject(str(path), number, str(e)))
    return ChatData(conversations, origins, rejects, {str(path): fmt or "unknown"})


def read_chat_files(paths: list[str | Path], data_format: str = "auto") -> ChatData:
    """All files' conversations; a UserError listing the rejects when no row is usable."""
    out = ChatData([], [], [], {})
    for path in paths:
        part = read_chat_file(path, data_format)
        out.conversations += part.conversations
        out.origins += part.origins
        out.rejects += part.rejects
        out.formats |= part.formats
    if not out.conversations:
        raise no_rows_error(", ".join(map(str, paths)) or "(no files)", out.rejects)
    return out


def no_rows_error(where: str, rejects: list[Reject]) -> UserError:
    """The error for data with no usable row: every reject (the first ten) with file, line and reason."""
    shown = "\n  ".join(map(str, rejects[:10]))
    more = f"\n  … and {len(rejects) - 10} more" if len(rejects) > 10 else ""
    detail = f"; every row was rejected:\n  {shown}{more}" if rejects else ": the files are empty"
    return UserError(f"no usable chat rows in {where}{detail}",
                     hint="rows need 'messages' (role/content, with an assistant turn), alpaca "
                          "'instruction'/'output', or sharegpt 'conversations' (from/value); "
                          "set train.data_format to force one")

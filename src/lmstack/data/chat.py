"""Chat data in its three common shapes, normalised into one: `messages` = [{role, content}, ...].

- messages: `{"messages": [{"role": "user", "content": ...}, ...]}` (OpenAI, ChatML)
- alpaca: `{"instruction": ..., "input": ..., "output": ...}` (input optional)
- sharegpt: `{"conversations": [{"from": "human", "value": ...}, ...]}`
- a question/answer pair counts as one user turn and one assistant turn.

>>> to_messages({"instruction": "Translate", "input": "你好", "output": "Hello"})
[{'role': 'user', 'content': 'Translate\\n\\n你好'}, {'role': 'assistant', 'content': 'Hello'}]
>>> to_messages({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]})
[{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}]
"""

from __future__ import annotations

from typing import Any

# The source fields each shape uses; the normalised row keeps every other field as it was.
CHAT_SOURCE_FIELDS = ("messages", "conversations", "instruction", "input", "output", "question", "answer")
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "system": "system",
                   "tool": "tool", "function": "tool", "observation": "tool"}


def _message_list(turns: Any, role_key: str, content_key: str, roles: dict[str, str] | None) -> list[dict] | None:
    if not isinstance(turns, list) or not turns:
        return None
    out = []
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get(content_key), str):
            return None
        role = turn.get(role_key)
        role = roles.get(role) if roles is not None else role
        if not isinstance(role, str):
            return None
        out.append({"role": role, "content": turn[content_key]})
    return out


def to_messages(row: dict[str, Any]) -> list[dict[str, str]] | None:
    """The row's conversation as `messages`, or None when it has no chat shape."""
    if "messages" in row:
        return _message_list(row["messages"], "role", "content", None)
    if "conversations" in row:
        return _message_list(row["conversations"], "from", "value", _SHAREGPT_ROLES)
    if isinstance(row.get("instruction"), str) and isinstance(row.get("output"), str):
        prompt = row["instruction"]
        if isinstance(row.get("input"), str) and row["input"].strip():
            prompt = f"{prompt}\n\n{row['input']}"
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
    if isinstance(row.get("question"), str) and isinstance(row.get("answer"), str):
        return [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
    return None


def normalise_chat(row: dict[str, Any]) -> dict[str, Any] | None:
    """The row with its chat fields replaced by `messages`, or None when it has no chat shape."""
    messages = to_messages(row)
    if messages is None:
        return None
    kept = {k: v for k, v in row.items() if k not in CHAT_SOURCE_FIELDS}
    return {**kept, "messages": messages}

"""Chat rows in messages, alpaca and sharegpt formats: detection, normalisation, rejects with line numbers."""

import json

import pytest

from lmstack.errors import UserError
from lmstack.train.chat_data import RowError, detect_format, read_chat_file, read_chat_files, to_messages

ALPACA = {"instruction": "Translate to French", "input": "good morning", "output": "bonjour", "system": "Be terse."}
SHAREGPT = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"},
                              {"from": "human", "value": "Bye"}, {"from": "gpt", "value": "Goodbye."}]}
MESSAGES = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}


def test_each_format_is_detected_and_normalised():
    assert [detect_format(r) for r in (ALPACA, SHAREGPT, MESSAGES, {"text": "x"})] == [
        "alpaca", "sharegpt", "messages", None]
    assert to_messages(ALPACA, "alpaca") == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Translate to French\n\ngood morning"},
        {"role": "assistant", "content": "bonjour"}]
    assert to_messages({"instruction": "Say hi", "input": "", "output": "hi"}, "alpaca") == [
        {"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "hi"}]
    assert to_messages(SHAREGPT, "sharegpt") == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye."}]
    assert to_messages(MESSAGES, "messages") == MESSAGES["messages"]


@pytest.mark.parametrize("row, fmt, reason", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages", "no assistant turn"),
    ({"messages": [{"role": "bot", "content": "hi"}]}, "messages", "role 'bot'"),
    ({"messages": "hi"}, "messages", "must be a list"),
    ({"instruction": "x", "output": ""}, "alpaca", "'output' is empty"),
    ({"instruction": "x", "output": 3}, "alpaca", "'output' must be a string"),
    ({"conversations": [{"from": "robot", "value": "x"}]}, "sharegpt", "from='robot'"),
    ({"text": "x"}, "messages", "no 'messages' field"),
])
def test_bad_rows_say_why(row, fmt, reason):
    with pytest.raises(RowError, match=reason):
        to_messages(row, fmt)


def test_formats_are_detected_per_file_and_rejects_keep_their_line(tmp_path, write_jsonl):
    alpaca = write_jsonl(tmp_path / "a.jsonl", [ALPACA, {"instruction": "x"}, "", "{not json", ALPACA])
    (tmp_path / "s.json").write_text(json.dumps([SHAREGPT, SHAREGPT]), encoding="utf-8")
    data = read_chat_files([alpaca, tmp_path / "s.json"])
    assert data.formats == {str(alpaca): "alpaca", str(tmp_path / "s.json"): "sharegpt"}
    assert len(data.conversations) == 4
    assert data.origins == [(str(alpaca), 1), (str(alpaca), 5), (str(tmp_path / "s.json"), 1),
                            (str(tmp_path / "s.json"), 2)]
    assert [(r.line, r.reason.split(" (")[0]) for r in data.rejects] == [
        (2, "'output' must be a string, got NoneType"), (4, "not valid JSON")]


def test_forced_format_rejects_other_rows(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "mixed.jsonl", [MESSAGES, ALPACA])
    data = read_chat_file(path, "messages")
    assert len(data.conversations) == 1
    assert [(r.line, r.reason.startswith("no 'messages' field")) for r in data.rejects] == [(2, True)]


def test_no_usable_row_lists_every_reject(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}, "[1, 2]"])
    with pytest.raises(UserError) as e:
        read_chat_files([path])
    assert f"{path}:1: no assistant turn to learn from" in e.value.message
    assert f"{path}:2: expected a JSON object, got list" in e.value.message
    assert "data_format" in e.value.hint


def test_empty_file_is_a_clear_error(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "empty.jsonl", [])
    with pytest.raises(UserError, match="the files are empty"):
        read_chat_files([path])

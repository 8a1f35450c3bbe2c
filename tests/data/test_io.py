"""Readers for every format, chat normalisation, and rejects with file, line and reason."""

import json

import pytest

from lmstack.data.chat import normalise_chat, to_messages
from lmstack.data.io import Rejects, read_file, read_rows
from lmstack.errors import UserError


def test_jsonl_bad_rows_go_to_rejects_with_file_line_and_reason(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"text": "good one"}\n'
                     b'{"text": broken\n'
                     b'\n'
                     + '{"text": "GBK 编码"}\n'.encode("gbk")
                     + b'[1, 2]\n'
                     b'{"text": "good two"}\n')
    rejects = Rejects()
    rows = list(read_file(path, rejects, name="mixed.jsonl"))
    assert [(r.data["text"], r.line) for r in rows] == [("good one", 1), ("good two", 6)]
    assert [(e["file"], e["line"], e["reason"].split(":")[0]) for e in rejects.rows] == [
        ("mixed.jsonl", 2, "bad JSON"), ("mixed.jsonl", 4, "bad encoding"), ("mixed.jsonl", 5, "bad JSON")]
    assert rejects.rows[1]["reason"] == "bad encoding: not UTF-8 at byte 14"
    assert rejects.counts == {"bad JSON": 2, "bad encoding": 1}


def test_json_csv_txt_parquet_and_saved_dataset(tmp_path):
    rows = [{"id": 1, "text": "你好"}, {"id": 2, "text": "hello, world"}]
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "a.csv").write_text('id,text\n1,你好\n2,"hello, world"\n3,too,many\n', encoding="utf-8")
    (tmp_path / "a.txt").write_text("你好\n\nhello, world\n", encoding="utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet")
    from datasets import Dataset
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))

    rejects = Rejects()
    texts = {name: [r.data["text"] for r in read_file(tmp_path / name, rejects)]
             for name in ("a.json", "a.csv", "a.txt", "a.parquet", "ds")}
    assert all(t == ["你好", "hello, world"] for t in texts.values()), texts
    assert [(e["line"], e["reason"]) for e in rejects.rows] == [(4, "bad CSV: 3 fields, the header has 2")]
    assert [r.line for r in read_file(tmp_path / "a.txt", rejects)] == [1, 3]


def test_parquet_streams_in_batches(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pylist([{"text": str(i)} for i in range(3000)]), tmp_path / "big.parquet", row_group_size=500)
    rows = read_rows([tmp_path / "big.parquet"], Rejects())
    assert next(rows).line == 1 and sum(1 for _ in rows) == 2999


def test_unreadable_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such data file"):
        list(read_file(tmp_path / "missing.jsonl", Rejects()))
    (tmp_path / "a.xlsx").write_text("x")
    with pytest.raises(UserError, match="unsupported file type"):
        list(read_file(tmp_path / "a.xlsx", Rejects()))
    (tmp_path / "folder").mkdir()
    with pytest.raises(UserError, match="not a saved Hugging Face dataset"):
        list(read_file(tmp_path / "folder", Rejects()))


def test_chat_shapes_normalise_to_messages():
    want = [{"role": "user", "content": "怎么挂失？"}, {"role": "assistant", "content": "请拨打95386。"}]
    assert to_messages({"messages": want}) == want
    assert to_messages({"question": "怎么挂失？", "answer": "请拨打95386。"}) == want
    assert to_messages({"instruction": "怎么挂失？", "output": "请拨打95386。"}) == want
    assert to_messages({"conversations": [{"from": "human", "value": "怎么挂失？"},
                                          {"from": "gpt", "value": "请拨打95386。"}]}) == want
    assert to_messages({"instruction": "Translate", "input": "你好", "output": "Hello"})[0]["content"] == "Translate\n\n你好"
    assert normalise_chat({"id": 3, "question": "q", "answer": "a", "messages": want}) == {"id": 3, "messages": want}
    assert to_messages({"conversations": [{"from": "alien", "value": "x"}]}) is None
    assert normalise_chat({"text": "plain"}) is None

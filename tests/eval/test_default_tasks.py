import json

import pytest

from lmstack.errors import UserError
from lmstack.eval.default_tasks import default_tasks
from lmstack.eval.tasks import TaskFile

KW = dict(max_new_tokens=8, max_length=64, stride=32)


def write(tmp_path, rows, name="test.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_text_rows_get_one_perplexity_task_that_validates(tmp_path):
    doc = default_tasks([write(tmp_path, [{"text": "a b c"}])], ["perplexity"], ["zh", "en"], **KW)
    TaskFile.model_validate(doc)
    assert [(t["name"], t["prompt"], t["language"]) for t in doc["tasks"]] == [("test-perplexity", "{{ text }}", "zh")]


def test_chat_rows_score_every_message(tmp_path):
    doc = default_tasks([write(tmp_path, [{"messages": [{"role": "user", "content": "hi"}]}])], ["perplexity"], ["en"], **KW)
    assert "messages" in doc["tasks"][0]["prompt"]


@pytest.mark.parametrize("rows, metrics, message", [
    ([{"text": "x"}], ["accuracy"], "need labels or rubrics"),
    ([{"messages": [{"role": "user", "content": "hi"}]}], ["bleu"], "need question/answer rows"),
    ([{"label": 1}], ["perplexity"], "none of the fields"),
    ([], ["perplexity"], "the test split is empty"),
])
def test_what_cannot_be_scored_without_tasks_is_a_clear_error(tmp_path, rows, metrics, message):
    with pytest.raises(UserError, match=message):
        default_tasks([write(tmp_path, rows)], metrics, ["en"], **KW)

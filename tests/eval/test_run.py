"""Tasks end to end: local batched generation, perplexity, multiple choice, resume and records."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from lmstack.errors import UserError
from lmstack.eval.choice import score_options
from lmstack.eval.perplexity import perplexity
from lmstack.eval.run import evaluate
from lmstack.eval.runners import LocalRunner
from lmstack.eval.tasks import GenerationParams, load_tasks

ROWS = [
    {"id": "q1", "question": "我的信用卡丢了怎么办？", "answer": "请拨打95555挂失。", "lang": "zh",
     "choices": ["请拨打95555挂失。", "The model reads the report.", "42张发票"], "label": 0},
    {"id": "q2", "question": "转账限额是多少？", "answer": "每日限额五万元。", "lang": "zh",
     "choices": ["每日限额五万元。", "老师翻译一个短故事。"], "label": "老师翻译一个短故事。"},
    {"id": "q3", "question": "How do I reset my password?", "answer": "Use the app settings.", "lang": "en",
     "choices": ["Use the app settings.", "Our team writes a short story."], "label": 1},
    {"id": "q4", "question": "网银怎么开通？", "answer": "带身份证到网点开通。", "lang": "zh",
     "choices": ["带身份证到网点开通。", "我的朋友检查客户邮件。"], "label": 0},
    {"id": "q5", "question": "卡被吞了？", "answer": "请联系网点取卡。", "lang": "zh",
     "choices": ["请联系网点取卡。", "这个服务总结训练数据。"], "label": 1},
]

TASKS = {"tasks": [
    {"name": "answers", "dataset": {"path": "qa.jsonl", "filter": {"lang": "zh"}, "id_field": "id"},
     "prompt": "{{ question }}\n", "reference": "answer", "generation": {"max_new_tokens": 6},
     "metrics": ["bleu", "chrf", "rouge", "exact_match", "f1"], "language": "zh"},
    {"name": "ppl", "kind": "perplexity", "dataset": {"path": "qa.jsonl", "id_field": "id"},
     "prompt": "{{ question }}\n{{ answer }}", "max_length": 8, "stride": 5},
    {"name": "choice", "kind": "multiple_choice", "dataset": {"path": "qa.jsonl", "id_field": "id"},
     "prompt": "{{ question }}\n", "choices": "choices", "reference": "label"},
]}


class EchoRunner:
    """Answers each prompt with its reversed text; counts prompts; can crash after some batches."""

    name = "echo"
    batch_size = 2

    def __init__(self, crash_after_batches: int | None = None):
        self.seen: list[str] = []
        self.crash_after = crash_after_batches

    def describe(self):
        return {"kind": "fake", "path": self.name}

    def generate(self, prompts, params: GenerationParams, on_answers=None):
        if self.crash_after is not None and len(self.seen) >= self.crash_after * self.batch_size:
            raise KeyboardInterrupt
        self.seen += prompts
        return [(p if isinstance(p, str) else p[-1]["content"]).strip()[::-1] for p in prompts]


@pytest.fixture
def task_dir(tmp_path) -> Path:
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(TASKS, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_local_model_end_to_end(task_dir, tiny_lm, tiny_tokenizer):
    runner = LocalRunner(tiny_lm, tiny_tokenizer, name="tiny", batch_size=3)
    record = evaluate(task_dir / "tasks.yaml", runner, task_dir / "out", show_progress=False)
    assert json.loads((task_dir / "out" / "results.json").read_text()) == record
    zh = [r for r in ROWS if r["lang"] == "zh"]

    answers = record["tasks"]["answers"]
    assert answers["dataset"]["sha256"] == hashlib.sha256((task_dir / "qa.jsonl").read_bytes()).hexdigest()
    assert answers["example_ids"] == [r["id"] for r in zh]
    assert answers["generation"]["max_new_tokens"] == 6 and answers["prompt_template"] == "{{ question }}\n"
    assert answers["metrics"]["bleu"]["settings"]["tokenize"] == "zh"
    assert answers["metrics"]["rouge"]["settings"]["tokenizer"] == "jieba"
    assert record["versions"]["sacrebleu"] and record["model"]["chat_template"]
    # Batched left-padded greedy answers equal one-at-a-time unpadded ones.
    lines = [json.loads(x) for x in (task_dir / "out" / "examples" / "answers.jsonl").read_text().splitlines()]
    for line, row in zip(lines, zh):
        ids = tiny_tokenizer(row["question"] + "\n", return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = tiny_lm.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tiny_tokenizer.pad_token_id)
        assert line["prediction"] == tiny_tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)

    texts = [f"{r['question']}\n{r['answer']}" for r in ROWS]
    direct = perplexity(tiny_lm, tiny_tokenizer, texts, max_length=8, stride=5)
    assert record["tasks"]["ppl"]["metrics"]["perplexity"]["scores"]["perplexity"] == pytest.approx(direct.perplexity, rel=1e-5)
    assert record["tasks"]["ppl"]["metrics"]["perplexity"]["scores"]["bits_per_byte"] == pytest.approx(direct.bits_per_byte, rel=1e-5)

    answers_index = [0, 1, 1, 0, 1]
    best = [score_options(tiny_lm, tiny_tokenizer, r["question"] + "\n", r["choices"]).best for r in ROWS]
    acc = sum(b == a for b, a in zip(best, answers_index)) / len(ROWS)
    assert record["tasks"]["choice"]["metrics"]["multiple_choice"]["scores"]["acc"] == pytest.approx(acc)


def test_interrupted_eval_resumes_without_recomputing_finished_rows(task_dir):
    tasks = task_dir / "tasks.yaml"
    TASKS_ONLY_ANSWERS = ["answers"]
    crashing = EchoRunner(crash_after_batches=1)
    with pytest.raises(KeyboardInterrupt):
        evaluate(tasks, crashing, task_dir / "out", only=TASKS_ONLY_ANSWERS, show_progress=False)
    partial = task_dir / "out" / "examples" / "answers.jsonl"
    assert len(partial.read_text().splitlines()) == 2 and not (task_dir / "out" / "results.json").exists()
    with partial.open("a") as f:
        f.write('{"id": "q4", "fingerpr')  # a line torn by the crash

    resumed = EchoRunner()
    record = evaluate(tasks, resumed, task_dir / "out", only=TASKS_ONLY_ANSWERS, show_progress=False)
    assert resumed.seen == ["网银怎么开通？\n", "卡被吞了？\n"]  # q1, q2 were not asked again
    fresh = evaluate(tasks, EchoRunner(), task_dir / "fresh", only=TASKS_ONLY_ANSWERS, show_progress=False)
    assert record["tasks"]["answers"]["metrics"] == fresh["tasks"]["answers"]["metrics"]

    again = EchoRunner()
    evaluate(tasks, again, task_dir / "out", only=TASKS_ONLY_ANSWERS, show_progress=False)
    assert again.seen == []


def test_changed_settings_do_not_mix_with_saved_results(task_dir):
    tasks = task_dir / "tasks.yaml"
    evaluate(tasks, EchoRunner(), task_dir / "out", only=["answers"], show_progress=False)
    changed = yaml.safe_load(tasks.read_text())
    changed["tasks"][0]["generation"]["max_new_tokens"] = 7
    tasks.write_text(yaml.safe_dump(changed, allow_unicode=True))
    with pytest.raises(UserError, match="other settings"):
        evaluate(tasks, EchoRunner(), task_dir / "out", only=["answers"], show_progress=False)
    runner = EchoRunner()
    evaluate(tasks, runner, task_dir / "out", only=["answers"], restart=True, show_progress=False)
    assert len(runner.seen) == 4


def test_template_with_a_missing_field_names_row_and_field_before_any_model_call(task_dir):
    spec = yaml.safe_load((task_dir / "tasks.yaml").read_text())
    spec["tasks"][0]["prompt"] = "{{ question }} {{ product }}"
    (task_dir / "tasks.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    runner = EchoRunner()
    with pytest.raises(UserError, match=r"task 'answers', row q1: .*'product' is undefined"):
        evaluate(task_dir / "tasks.yaml", runner, task_dir / "out", show_progress=False)
    assert runner.seen == []


def test_missing_reference_names_the_row_before_any_model_call(task_dir):
    rows = [dict(r) for r in ROWS]
    del rows[1]["answer"]
    (task_dir / "qa.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    runner = EchoRunner()
    with pytest.raises(UserError, match="row q2: field 'answer' is missing"):
        evaluate(task_dir / "tasks.yaml", runner, task_dir / "out", only=["answers"], show_progress=False)
    assert runner.seen == []


def test_endpoint_cannot_score_log_likelihood_tasks(task_dir):
    with pytest.raises(UserError, match="needs the model's token probabilities"):
        evaluate(task_dir / "tasks.yaml", EchoRunner(), task_dir / "out", only=["ppl"], show_progress=False)


@pytest.mark.parametrize(("change", "message"), [
    ({"metrics": ["blue"]}, "unknown metrics"),
    ({"reference": None}, "needs `metrics` and a `reference`"),
    ({"name": "bad name"}, "tasks.0.name"),
])
def test_invalid_task_files_are_user_errors(tmp_path, change, message):
    spec = {"tasks": [{**TASKS["tasks"][0], **change}]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    with pytest.raises(UserError, match=message):
        load_tasks(tmp_path / "t.yaml")


def test_other_dataset_formats_read_the_same_rows(task_dir):
    import pandas as pd
    from datasets import Dataset

    from lmstack.eval.dataset import load_examples
    from lmstack.eval.tasks import DatasetSpec

    flat = [{k: v for k, v in r.items() if k not in ("choices", "label")} for r in ROWS]
    pd.DataFrame(flat).to_csv(task_dir / "qa.csv", index=False)
    pd.DataFrame(flat).to_parquet(task_dir / "qa.parquet")
    Dataset.from_list(flat).save_to_disk(str(task_dir / "saved"))
    for path in ("qa.jsonl", "qa.csv", "qa.parquet", "saved"):
        examples, sha = load_examples(DatasetSpec(path=path, filter={"lang": "zh"}, id_field="id", limit=3), task_dir)
        assert [(i, r["answer"]) for i, r in examples] == [(r["id"], r["answer"]) for r in ROWS if r["lang"] == "zh"][:3]
        assert len(sha) == 64


def test_customer_service_example_tasks_run(tmp_path, tiny_lm, tiny_tokenizer):
    from lmstack.examples.customer_service import generate

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "examples" / "customer-service").mkdir(parents=True)
    shutil.copy(root / "examples" / "customer-service" / "eval.yaml", tmp_path / "examples" / "customer-service")
    generate(tmp_path / "runs" / "customer-service" / "data" / "example", seed=0, scale=0.05)
    task_file, _ = load_tasks(tmp_path / "examples" / "customer-service" / "eval.yaml")
    assert [t.name for t in task_file.tasks] == ["answers-zh", "answers-en", "answers-perplexity"]
    runner = LocalRunner(tiny_lm, tiny_tokenizer, name="tiny", batch_size=16)
    record = evaluate(tmp_path / "examples" / "customer-service" / "eval.yaml", runner, tmp_path / "out",
                      only=["answers-perplexity"], show_progress=False,
                      data_dir=tmp_path / "runs" / "customer-service" / "data")
    result = record["tasks"]["answers-perplexity"]
    assert result["dataset"]["examples"] == 52
    assert result["metrics"]["perplexity"]["scores"]["perplexity"] > 1


def test_chat_template_tasks_send_messages_and_apply_the_models_template(task_dir, tiny_lm, tiny_tokenizer):
    spec = yaml.safe_load((task_dir / "tasks.yaml").read_text())
    spec["tasks"][0].update(chat_template=True, system="你是兰亭银行的客服。", metrics=["f1"])
    (task_dir / "tasks.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    echo = EchoRunner()
    evaluate(task_dir / "tasks.yaml", echo, task_dir / "echo", only=["answers"], show_progress=False)
    assert echo.seen[0] == [{"role": "system", "content": "你是兰亭银行的客服。"}, {"role": "user", "content": "我的信用卡丢了怎么办？\n"}]

    runner = LocalRunner(tiny_lm, tiny_tokenizer, name="tiny", batch_size=4)
    record = evaluate(task_dir / "tasks.yaml", runner, task_dir / "out", only=["answers"], show_progress=False)
    assert record["tasks"]["answers"]["chat_template_text"] == tiny_tokenizer.chat_template
    text = tiny_tokenizer.apply_chat_template(echo.seen[0], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    first = json.loads((task_dir / "out" / "examples" / "answers.jsonl").read_text().splitlines()[0])
    ids = tiny_tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = tiny_lm.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tiny_tokenizer.pad_token_id)
    assert first["prediction"] == tiny_tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    f1 = record["tasks"]["answers"]["metrics"]["f1"]
    lo, hi = f1["intervals"]["f1"]
    assert lo <= f1["scores"]["f1"] <= hi and f1["confidence"] == 0.95


def test_task_file_mistakes_name_their_line_and_the_closest_key(tmp_path):
    (tmp_path / "t.yaml").write_text("tasks:\n  - name: a\n    dataset: {path: d.jsonl}\n    promt: '{{ q }}'\n")
    with pytest.raises(UserError) as err:
        load_tasks(tmp_path / "t.yaml")
    message = err.value.message
    assert f"{tmp_path / 't.yaml'}:4: tasks.0.promt: unknown key; did you mean 'prompt'?" in message
    assert f"{tmp_path / 't.yaml'}:2: tasks.0.prompt: required field is missing" in message

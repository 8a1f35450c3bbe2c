"""Metrics go to TensorBoard (read back with its EventAccumulator) exactly as to metrics.jsonl; MLflow on request."""

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lmstack.errors import UserError
from lmstack.train.logs import metric_loggers
from lmstack.train.pretrain import pretrain

CPU = torch.device("cpu")


def test_tensorboard_scalars_equal_the_jsonl_metrics(tmp_path, llama, tiny_tokenizer, tiny_train):
    rows = torch.randint(0, len(tiny_tokenizer), (20, 16), generator=torch.Generator().manual_seed(0))  # (N, T)
    pretrain(llama(), tiny_tokenizer, rows[4:], tmp_path, tiny_train(max_steps=4, batch_size=4), seed=0, device=CPU,
             bf16=False, validation=rows[:4])
    jsonl = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    pairs = (("loss", "train/loss"), ("eval_loss", "eval/loss"), ("learning_rate", "train/learning_rate"))
    for jsonl_key, tb_tag in pairs:
        expected = [(row["step"], row[jsonl_key]) for row in jsonl if jsonl_key in row]
        assert expected, jsonl_key
        logged = [(e.step, e.value) for e in events.Scalars(tb_tag)]
        assert [s for s, _ in logged] == [s for s, _ in expected]
        assert [v for _, v in logged] == pytest.approx([v for _, v in expected], rel=1e-6)  # stored as float32
    assert len(events.Scalars("train/loss")) == 4 and len(events.Scalars("eval/loss")) == 2  # at step 4, and after


def test_mlflow_without_the_package_is_a_clear_error(tiny_train, tmp_path, monkeypatch):
    import lmstack.train.logs as logs

    monkeypatch.setattr(logs, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="mlflow package is not installed") as e:
        metric_loggers(tiny_train(mlflow=True), tmp_path)
    assert "train.mlflow: false" in e.value.hint
    assert metric_loggers(tiny_train(), tmp_path) == []

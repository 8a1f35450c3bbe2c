"""Fixtures for the training recipes: a tiny chat set in each format and tiny models (never downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmstack.train.config import TrainSection

QA = [("What is my card limit?", "Your limit is 5000."), ("How do I reset a password?", "Use the app settings."),
      ("Where is the branch?", "It is on Main Street."), ("信用卡额度是多少？", "您的额度是5000元。"),
      ("How long does a transfer take?", "Up to two days."), ("怎么重置密码？", "请在手机银行设置中重置。")]


def messages_row(question: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": "You are a bank assistant."},
                         {"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the build machines' cores are shared: two threads
    there measured 10× slower than one (oversubscribed), so every training test pins one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def write_jsonl():
    """write_jsonl(path, rows): dicts as JSON lines, strings verbatim (for malformed lines)."""
    return _write_jsonl


@pytest.fixture
def chat_file(tmp_path) -> Path:
    return _write_jsonl(tmp_path / "chat.jsonl", [messages_row(q, a) for q, a in QA])


@pytest.fixture
def tiny_train():
    """tiny_train(**overrides): a few steps on small batches, every step logged, nothing held out."""
    def make(**overrides) -> TrainSection:
        settings = dict(max_steps=8, batch_size=3, lr=1e-2, warmup_ratio=0.0, log_every=1, eval_every=4,
                        save_every=4, validation_share=0.0, weight_decay=0.0)
        return TrainSection(**(settings | overrides))
    return make


@pytest.fixture
def llama(tiny_tokenizer):
    """A fresh llama-1m sized to the tiny tokenizer, 128 positions."""
    from lmstack.models.build import build_model

    def make(seed: int = 0):
        t = tiny_tokenizer
        return build_model("llama-1m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                           eos_token_id=t.eos_token_id, max_position_embeddings=128, seed=seed)
    return make

"""Shared fixtures: a tiny bilingual corpus and a tokenizer trained on it in-process (never downloaded)."""

from __future__ import annotations

import itertools

import pytest

_EN_SUBJECTS = ["The model", "Our team", "A small robot", "The teacher", "My friend", "This service"]
_EN_VERBS = ["reads", "writes", "translates", "checks", "summarises"]
_EN_OBJECTS = ["the report", "a short story", "customer emails", "the training data", "42 invoices"]
_ZH_SUBJECTS = ["模型", "我们的团队", "一个小机器人", "老师", "我的朋友", "这个服务"]
_ZH_VERBS = ["阅读", "撰写", "翻译", "检查", "总结"]
_ZH_OBJECTS = ["这份报告", "一个短故事", "客户邮件", "训练数据", "42张发票"]


def bilingual_lines() -> list[str]:
    """About 300 short lines: English, Chinese, and both mixed, with digits and punctuation."""
    lines = []
    for i, (s, v, o) in enumerate(itertools.product(range(6), range(5), range(5))):
        en = f"{_EN_SUBJECTS[s]} {_EN_VERBS[v]} {_EN_OBJECTS[o]} on day {i % 31 + 1}."
        zh = f"{_ZH_SUBJECTS[s]}在第{i % 31 + 1}天{_ZH_VERBS[v]}{_ZH_OBJECTS[o]}。"
        lines += [en, zh] if i % 3 else [f"{zh} ({en})"]
    return lines


@pytest.fixture(scope="session")
def corpus_lines() -> list[str]:
    return bilingual_lines()


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory, corpus_lines):
    """A folder holding a 512-token byte-level BPE tokenizer with the ChatML template."""
    from lmstack.models.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tokenizer") / "tok"
    train_tokenizer(iter(corpus_lines), vocab_size=512, out_dir=out)
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)

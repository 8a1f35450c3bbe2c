"""Semantic dedup with the real bundled models: planted paraphrases go, unrelated rows stay, in zh and en."""

import numpy as np

from lmstack.data.ops import build, parse_params
from lmstack.data.ops.semantic import _Ring

EN = ["How do I raise my credit card limit?",
      "I lost my bank card yesterday, what should I do?",
      "What are your opening hours on Sunday?",
      "Please transfer 500 dollars to my savings account.",
      "How can I increase the limit on my credit card?",          # paraphrase of 1
      "My bank card went missing yesterday. What do I do now?"]   # paraphrase of 2
ZH = ["我的信用卡额度怎么提高？",
      "我的银行卡昨天丢了，怎么办？",
      "周日营业时间是几点？",
      "请帮我转账五百元到储蓄账户。",
      "如何提升信用卡的额度？",                                     # paraphrase of 1
      "昨天银行卡遗失了，该如何处理？"]                             # paraphrase of 2


def reasons(rows: list[str], **params) -> list[str | None]:
    step = build("semantic_dedup", parse_params("semantic_dedup", params))
    return [step([text], f"f:{i}").reason for i, text in enumerate(rows, 1)]


def test_english_paraphrases_are_removed_and_unrelated_rows_kept():
    got = reasons(EN)
    assert got[:4] == [None] * 4
    assert got[4].startswith("semantic_dedup: cosine") and got[4].endswith("with f:1")
    assert got[5].endswith("with f:2")


def test_chinese_paraphrases_are_removed_and_unrelated_rows_kept():
    got = reasons(ZH)
    assert got[:4] == [None] * 4
    assert got[4].startswith("semantic_dedup: cosine") and got[4].endswith("with f:1")
    assert got[5].endswith("with f:2")


def test_languages_are_compared_only_with_their_own_and_runs_repeat():
    mixed = [EN[0], ZH[0], EN[4], ZH[4], ZH[2]]
    first = reasons(mixed)
    assert [r is None for r in first] == [True, True, False, False, True]
    assert first[2].endswith("with f:1") and first[3].endswith("with f:2")
    assert reasons(mixed) == first


def test_a_strict_threshold_keeps_paraphrases():
    assert reasons(EN, threshold_en=0.999) == [None] * 6


def test_the_window_bounds_what_is_remembered():
    ring = _Ring(2)
    for i, v in enumerate(np.eye(3, dtype=np.float32)):
        ring.add(v, f"r{i}")
    assert len(ring.vectors) == 2 and sorted(ring.names) == ["r1", "r2"]
    assert ring.best(np.array([1, 0, 0], np.float32))[0] == 0.0      # r0 was forgotten
    assert ring.best(np.array([0, 0, 1], np.float32)) == (1.0, "r2")


def test_a_batch_decides_as_row_by_row_does():
    rows = [EN[0], ZH[0], EN[4], ZH[4], EN[4], ZH[2]]
    step = build("semantic_dedup", parse_params("semantic_dedup", {}))
    batched = [o.reason for o in step.batch([([t], f"f:{i}") for i, t in enumerate(rows, 1)])]
    assert batched == reasons(rows)
    assert batched[4].endswith("with f:1")   # a repeat inside the batch names the first row, not the removed one

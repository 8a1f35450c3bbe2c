"""Exact match and token F1, SQuAD-style, with Chinese compared character by character.

Normalisation (the SQuAD v1.1 script's): lowercase, drop punctuation, drop English articles,
collapse spaces. Tokens are words, except that each Chinese character is a token (the CMRC 2018
convention), so the same metric serves both languages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from lmstack.config.base import Language
from lmstack.eval.metrics.text import mixed_tokens

_ARTICLES = re.compile(r"\b(a|an|the)\b")
NORMALISATION = "lower, strip punctuation, drop a/an/the, CJK characters as tokens"


def normalise_tokens(text: str) -> list[str]:
    """SQuAD normalisation, then words and CJK characters.

    >>> normalise_tokens("The  Bank's 转账!")
    ['bank', 's', '转', '账']
    """
    return mixed_tokens(_ARTICLES.sub(" ", text.lower()))


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalise_tokens(prediction), normalise_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


class ExactMatchMetric:
    name = "exact_match"

    def __init__(self, language: Language = "en"):
        self.language = language

    def settings(self) -> dict[str, Any]:
        return {"normalisation": NORMALISATION}

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        return [float(normalise_tokens(p) == normalise_tokens(r)) for p, r in zip(predictions, references)]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        return {"exact_match": sum(stats) / len(stats)}


class TokenF1Metric:
    name = "f1"

    def __init__(self, language: Language = "en"):
        self.language = language

    def settings(self) -> dict[str, Any]:
        return {"normalisation": NORMALISATION}

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        return [token_f1(p, r) for p, r in zip(predictions, references)]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        return {"f1": sum(stats) / len(stats)}

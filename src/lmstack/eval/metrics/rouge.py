"""ROUGE-1/2/L through rouge-score, with a tokenizer that keeps Chinese.

rouge-score's default tokenizer deletes every character outside [a-z0-9], so Chinese text scores
0. Chinese is split with jieba words or single characters instead; the tokenizer is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, Literal

from rouge_score import rouge_scorer, tokenize

from lmstack.config.base import Language
from lmstack.eval.metrics.text import is_punctuation, mixed_tokens

RougeTokenizer = Literal["jieba", "char", "default"]
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
DEFAULT_TOKENIZER: dict[str, RougeTokenizer] = {"zh": "jieba", "en": "default"}


class JiebaTokenizer:
    """jieba words (precise mode), lowercased, punctuation and spaces dropped."""

    def __init__(self) -> None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not ours to print

    def tokenize(self, text: str) -> list[str]:
        import jieba

        return [w.lower() for w in jieba.lcut(text) if w.strip() and not is_punctuation(w.strip())]


class CharTokenizer:
    """Chinese characters one by one, other words whole, lowercased."""

    def tokenize(self, text: str) -> list[str]:
        return [t.lower() for t in mixed_tokens(text)]


class DefaultTokenizer:
    """rouge-score's own: lowercase, [a-z0-9] words (for English only)."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize.tokenize(text, None)


_TOKENIZERS = {"jieba": JiebaTokenizer, "char": CharTokenizer, "default": DefaultTokenizer}


class RougeMetric:
    """Mean per-example F-measure of ROUGE-1, ROUGE-2 and ROUGE-L (the rouge-score convention)."""

    name = "rouge"

    def __init__(self, language: Language = "en", tokenizer: RougeTokenizer | None = None):
        self.tokenizer = tokenizer or DEFAULT_TOKENIZER.get(language, "default")
        self._scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=_TOKENIZERS[self.tokenizer]())

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"types": list(ROUGE_TYPES), "tokenizer": self.tokenizer, "stemmer": False,
                               "aggregate": "mean_fmeasure", "rouge_score": version("rouge-score")}
        if self.tokenizer == "jieba":
            out["jieba"] = version("jieba")
        return out

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        # rouge-score's argument order is (target, prediction).
        return [[self._scorer.score(ref, pred)[t].fmeasure for t in ROUGE_TYPES]
                for pred, ref in zip(predictions, references)]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        return {t: sum(row[i] for row in stats) / len(stats) for i, t in enumerate(ROUGE_TYPES)}

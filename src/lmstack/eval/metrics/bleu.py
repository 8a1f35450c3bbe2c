"""BLEU and chrF through sacrebleu, with the signature that reproduces each score.

Chinese targets use sacrebleu's `zh` tokenizer, others `13a`: the same Chinese output scores
34.3 with 13a and 56.0 with zh, so the tokenizer is part of the number and kept in its signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from lmstack.config.base import Language

BLEU_TOKENIZER: dict[str, str] = {"zh": "zh", "en": "13a"}


class BleuMetric:
    """Corpus BLEU; per-example statistics are sacrebleu's n-gram counts, summed to aggregate."""

    name = "bleu"

    def __init__(self, language: Language = "en", tokenize: str | None = None):
        self.tokenize = tokenize or BLEU_TOKENIZER.get(language, "13a")
        self._bleu = BLEU(tokenize=self.tokenize)

    def settings(self) -> dict[str, Any]:
        return {"tokenize": self.tokenize, "signature": str(self._bleu.get_signature())}

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        # sacrebleu's paired bootstrap resamples these same per-sentence statistics.
        return [list(map(int, row)) for row in self._bleu._extract_corpus_statistics(list(predictions), [list(references)])]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        totals = [sum(col) for col in zip(*stats)]
        return {"bleu": float(self._bleu._compute_score_from_stats(totals).score)}


class ChrfMetric:
    """Corpus chrF (character 6-grams, beta 2); word n-grams with `word_order=2` give chrF++."""

    name = "chrf"

    def __init__(self, language: Language = "en", word_order: int = 0):
        self.word_order = word_order
        self._chrf = CHRF(word_order=word_order)

    def settings(self) -> dict[str, Any]:
        return {"word_order": self.word_order, "signature": str(self._chrf.get_signature())}

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        return [list(map(int, row)) for row in self._chrf._extract_corpus_statistics(list(predictions), [list(references)])]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        totals = [sum(col) for col in zip(*stats)]
        return {"chrf": float(self._chrf._compute_score_from_stats(totals).score)}

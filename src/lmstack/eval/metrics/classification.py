"""Accuracy and macro-F1 over labels (intents, sentiment, …), compared after trimming spaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmstack.config.base import Language


class AccuracyMetric:
    name = "accuracy"

    def __init__(self, language: Language = "en"):
        self.language = language

    def settings(self) -> dict[str, Any]:
        return {"match": "exact after strip"}

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        return [float(str(p).strip() == str(r).strip()) for p, r in zip(predictions, references)]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        return {"accuracy": sum(stats) / len(stats)}


class MacroF1Metric:
    """Unweighted mean of per-label F1 over every label seen in references or predictions.

    Matches `sklearn.metrics.f1_score(average="macro", zero_division=0)`.
    """

    name = "macro_f1"

    def __init__(self, language: Language = "en"):
        self.language = language

    def settings(self) -> dict[str, Any]:
        return {"average": "macro", "labels": "union of references and predictions", "zero_division": 0}

    def example_stats(self, predictions: Sequence[str], references: Sequence[str]) -> list[Any]:
        return [[str(p).strip(), str(r).strip()] for p, r in zip(predictions, references)]

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        labels = sorted({label for pair in stats for label in pair})
        f1s = []
        for label in labels:
            tp = sum(p == label and r == label for p, r in stats)
            fp = sum(p == label and r != label for p, r in stats)
            fn = sum(p != label and r == label for p, r in stats)
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        return {"macro_f1": sum(f1s) / len(f1s)}

"""What every quality metric shares: per-example statistics that aggregate into scores.

A metric turns each (prediction, reference) pair into sufficient statistics (n-gram counts for
BLEU, a 0/1 for exact match), then aggregates a list of them into named scores. Keeping the
statistics makes corpus-level metrics resamplable: `lmstack eval compare` bootstraps BLEU by
summing resampled sentence statistics, as sacrebleu's own paired bootstrap does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lmstack.errors import UserError


class Metric(Protocol):
    """A quality metric: `settings` pin how it was computed, so a score can be reproduced."""

    name: str

    def settings(self) -> dict[str, Any]:
        """Everything needed to recompute the score: tokenizer, signature, library version."""
        ...

    def example_stats(self, predictions: Sequence[Any], references: Sequence[Any]) -> list[Any]:
        """One JSON-serialisable statistic per example."""
        ...

    def aggregate(self, stats: Sequence[Any]) -> dict[str, float]:
        """Named scores from per-example statistics (any subset, for resampling)."""
        ...


@dataclass
class MetricResult:
    """Scores of one metric over a set of examples, with what reproduces them."""

    name: str
    scores: dict[str, float]
    settings: dict[str, Any]
    stats: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scores": self.scores, "settings": self.settings, "stats": self.stats}


def check_pairs(predictions: Sequence[Any], references: Sequence[Any], *, allow_empty_predictions: bool = False,
                ids: Sequence[str] | None = None) -> None:
    """Raise a UserError naming the first row whose prediction or reference is unusable.

    Empty predictions are refused by default because a blank usually means a broken pipeline
    (a wrong output field); a model that really answered nothing is scored with
    `allow_empty_predictions=True`.
    """
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)} predictions but {len(references)} references",
                        hint="give exactly one prediction per reference, in the same order")
    if not references:
        raise UserError("no examples to score", hint="check the dataset path and any filter or limit")
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        row = ids[i] if ids is not None else i
        if ref is None or (isinstance(ref, str) and not ref.strip()):
            raise UserError(f"row {row}: the reference is missing or empty",
                            hint="fill the reference field of that row, or drop the row")
        if pred is None or (not allow_empty_predictions and isinstance(pred, str) and not pred.strip()):
            raise UserError(f"row {row}: the prediction is missing or empty",
                            hint="check the prediction field; to score blank answers as wrong, "
                                 "pass allow_empty_predictions=True")


def score(metric: Metric, predictions: Sequence[Any], references: Sequence[Any], *,
          allow_empty_predictions: bool = False, ids: Sequence[str] | None = None) -> MetricResult:
    """Check the pairs, then compute `metric` over them.

    >>> from lmstack.eval.metrics import build_metric
    >>> score(build_metric("exact_match"), ["Paris"], ["paris"]).scores
    {'exact_match': 1.0}
    """
    check_pairs(predictions, references, allow_empty_predictions=allow_empty_predictions, ids=ids)
    stats = metric.example_stats(predictions, references)
    return MetricResult(metric.name, metric.aggregate(stats), metric.settings(), stats)

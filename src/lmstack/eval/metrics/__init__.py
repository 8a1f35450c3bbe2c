"""Quality metrics, one family per file, looked up by name.

    >>> from lmstack.eval.metrics import build_metric, score
    >>> round(score(build_metric("bleu", language="zh"), ["我的卡丢了"], ["我的卡丢了"]).scores["bleu"], 1)
    100.0
"""

from __future__ import annotations

from typing import Any

from lmstack.config.base import Language
from lmstack.errors import UserError
from lmstack.eval.metrics.base import Metric, MetricResult, check_pairs, score
from lmstack.eval.metrics.bleu import BleuMetric, ChrfMetric
from lmstack.eval.metrics.classification import AccuracyMetric, MacroF1Metric
from lmstack.eval.metrics.qa import ExactMatchMetric, TokenF1Metric
from lmstack.eval.metrics.rouge import RougeMetric
from lmstack.eval.metrics.rubric import RubricMetric

METRICS: dict[str, type] = {
    "bleu": BleuMetric,
    "chrf": ChrfMetric,
    "rouge": RougeMetric,
    "exact_match": ExactMatchMetric,
    "f1": TokenF1Metric,
    "accuracy": AccuracyMetric,
    "macro_f1": MacroF1Metric,
    "rubric": RubricMetric,
}


def build_metric(name: str, language: Language = "en", **options: Any) -> Metric:
    """The metric called `name` for text in `language`; options go to its constructor."""
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}", hint=f"choose from {', '.join(METRICS)}")
    try:
        return METRICS[name](language=language, **options)
    except TypeError as e:
        raise UserError(f"bad options for metric {name!r}: {options}", hint=str(e)) from e


__all__ = ["METRICS", "Metric", "MetricResult", "build_metric", "check_pairs", "score"]

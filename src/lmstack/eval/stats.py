"""Confidence intervals: Wilson score intervals for proportions, paired bootstrap for differences."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Any


def z_value(confidence: float) -> float:
    """Two-sided normal quantile: 1.959964 for 95%."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; sound at small n and at 0% or 100%.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n <= 0:
        return (0.0, 1.0)
    z = z_value(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Normal-approximation interval for a mean (sample standard deviation)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return (mean, mean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = z_value(confidence) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def bootstrap_interval(stats: Sequence[Any], aggregate: Callable[[Sequence[Any]], dict[str, float]], *,
                       resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile interval of each score, resampling examples (statistics) with replacement."""
    rng = random.Random(seed)
    n = len(stats)
    draws: dict[str, list[float]] = {}
    for _ in range(resamples):
        for key, value in aggregate([stats[rng.randrange(n)] for _ in range(n)]).items():
            draws.setdefault(key, []).append(value)
    return {key: _percentiles(values, confidence) for key, values in draws.items()}


def _percentiles(values: list[float], confidence: float) -> tuple[float, float]:
    values = sorted(values)
    tail = (1 - confidence) / 2
    return (values[math.floor(tail * (len(values) - 1))], values[math.ceil((1 - tail) * (len(values) - 1))])


def paired_bootstrap(stats_a: Sequence[Any], stats_b: Sequence[Any],
                     aggregate: Callable[[Sequence[Any]], dict[str, float]], *, resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile interval of aggregate(B) − aggregate(A) per score, resampling the same examples for both.

    `stats_a[i]` and `stats_b[i]` must describe the same example.
    """
    rng = random.Random(seed)
    n = len(stats_a)
    diffs: dict[str, list[float]] = {}
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        a = aggregate([stats_a[i] for i in idx])
        b = aggregate([stats_b[i] for i in idx])
        for key in a:
            diffs.setdefault(key, []).append(b[key] - a[key])
    return {key: _percentiles(values, confidence) for key, values in diffs.items()}

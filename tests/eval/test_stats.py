"""Confidence intervals against table values."""

from __future__ import annotations

import pytest

from lmstack.eval.stats import mean_interval, paired_bootstrap, wilson_interval


def test_wilson_interval_matches_the_table_value():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=5e-5)
    # Newcombe (1998), table I: 81/263 → 0.2553–0.3662 at 95%.
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0) and hi == pytest.approx(0.2775, abs=5e-5)


def test_mean_interval_uses_the_sample_standard_deviation():
    lo, hi = mean_interval([1, 2, 3, 4, 5])
    assert (lo + hi) / 2 == pytest.approx(3.0)
    assert hi - 3.0 == pytest.approx(1.959964 * (2.5 ** 0.5) / 5 ** 0.5, rel=1e-5)


def test_paired_bootstrap_interval_is_a_point_when_the_difference_is_constant():
    a, b = [0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]
    ci = paired_bootstrap(a, b, lambda s: {"m": sum(s) / len(s)}, resamples=200)
    lo, hi = ci["m"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0
    same = paired_bootstrap(a, a, lambda s: {"m": sum(s) / len(s)}, resamples=50)
    assert same["m"] == (0.0, 0.0)


def test_bootstrap_interval_brackets_the_mean():
    from lmstack.eval.stats import bootstrap_interval

    stats = [1.0] * 8 + [0.0] * 2
    lo, hi = bootstrap_interval(stats, lambda s: {"m": sum(s) / len(s)}, resamples=500)["m"]
    assert 0.5 <= lo < 0.8 < hi <= 1.0
    assert bootstrap_interval([1.0] * 5, lambda s: {"m": sum(s) / len(s)}, resamples=20)["m"] == (1.0, 1.0)

"""measure() on this machine's CPU: real numbers, within budget, leaving torch's threads as found."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

import lmstack.hardware.measure as measure_module
from lmstack.errors import UserError
from lmstack.hardware.device import cpu_supports_bf16, physical_cores
from lmstack.hardware.measure import GEMV_IN_FEATURES, Measurements, measure

BUDGET_S = 1.0


@pytest.fixture(scope="module")
def timed_run() -> tuple[Measurements, float, int]:
    """One measurement started from a thread count lmstack would not choose (1 of 2+ cores)."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        result = measure(budget_s=BUDGET_S)
        elapsed_s = time.perf_counter() - start
        threads_after = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads_before)
    return result, elapsed_s, threads_after


def test_finishes_within_budget(timed_run):
    result, elapsed_s, _ = timed_run
    assert elapsed_s < BUDGET_S + 2.0
    assert 0 < result.seconds <= elapsed_s


def test_numbers_are_physically_plausible(timed_run):
    result, _, _ = timed_run
    assert result.device == "cpu"
    bandwidths = [result.read_bandwidth_gbs, result.gemv_bandwidth_gbs_fp32, result.gemv_bandwidth_gbs_bf16]
    for gbs in [b for b in bandwidths if b is not None]:
        assert 0.5 < gbs < 2000
    for gflops in [g for g in [result.matmul_gflops_fp32, result.matmul_gflops_bf16] if g is not None]:
        assert 1 < gflops < 1e6


def test_bf16_measured_exactly_when_native(timed_run):
    result, _, _ = timed_run
    native = cpu_supports_bf16()
    assert (result.gemv_bandwidth_gbs_bf16 is not None) == native
    assert (result.matmul_gflops_bf16 is not None) == native


def test_bf16_skipped_when_cpu_lacks_it(monkeypatch):
    monkeypatch.setattr(measure_module, "cpu_supports_bf16", lambda: False)
    result = measure(budget_s=0.3)
    assert result.gemv_bandwidth_gbs_bf16 is None
    assert result.matmul_gflops_bf16 is None
    assert result.gemv_bandwidth_gbs_fp32 > 0.5 and result.matmul_gflops_fp32 > 1


def test_runs_at_lmstack_threads_and_restores_callers(timed_run):
    result, _, threads_after = timed_run
    assert result.threads == physical_cores()
    assert threads_after == 1


def test_explicit_threads_are_used_then_restored():
    threads_before = torch.get_num_threads()
    result = measure(budget_s=0.3, threads=1)
    assert result.threads == 1
    assert torch.get_num_threads() == threads_before


def test_threads_restored_when_a_measurement_fails(monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(measure_module, "_gemm_gflops", fail)
    threads_before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="out of memory"):
        measure(budget_s=0.3, threads=1)
    assert torch.get_num_threads() == threads_before


def test_to_dict_is_json_and_complete(timed_run):
    result, _, _ = timed_run
    as_dict = result.to_dict()
    assert list(as_dict) == [field.name for field in dataclasses.fields(Measurements)]
    assert json.loads(json.dumps(as_dict)) == as_dict
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.threads = 3  # type: ignore[misc]


def test_rejects_non_positive_budget():
    with pytest.raises(UserError, match="budget"):
        measure(budget_s=0)


def test_streamed_buffer_dwarfs_cache_and_stays_small():
    nbytes = measure_module._stream_bytes(torch.device("cpu"))
    llc = measure_module._last_level_cache_bytes(torch.device("cpu"))
    assert 256 * 2**20 <= nbytes <= 512 * 2**20
    assert nbytes >= min(4 * llc, 512 * 2**20)
    assert nbytes % (GEMV_IN_FEATURES * 4) == 0


@pytest.mark.skipif(not Path("/sys/devices/system/cpu/cpu0/cache/index0/size").exists(), reason="no sysfs caches")
def test_last_level_cache_read_from_sysfs():
    sizes = [p.read_text().strip() for p in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size")]
    largest = max(measure_module._parse_cache_size(s) for s in sizes)
    assert measure_module._last_level_cache_bytes(torch.device("cpu")) == largest >= 2**20


@pytest.mark.parametrize(("text", "nbytes"), [("32768K\n", 32 * 2**20), ("1M", 2**20), ("2G", 2 * 2**30), ("512", 512)])
def test_parse_cache_size(text, nbytes):
    assert measure_module._parse_cache_size(text) == nbytes

"""Fixtures for the planner: a fake measured CPU, so tests never time this machine."""

from __future__ import annotations

import pytest

from lmstack.hardware.measure import Measurements


@pytest.fixture
def fake_cpu() -> Measurements:
    """20 GB/s bf16 GEMV, 400 GFLOP/s bf16 matmul: round numbers near the build machine's."""
    return Measurements(device="cpu", threads=2, read_bandwidth_gbs=30.0, gemv_bandwidth_gbs_fp32=20.0,
                        gemv_bandwidth_gbs_bf16=20.0, matmul_gflops_fp32=200.0, matmul_gflops_bf16=400.0,
                        seconds=0.0)

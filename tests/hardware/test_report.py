"""env_report and render_env on this machine: real versions, real choices, the measured numbers shown."""

from __future__ import annotations

import copy
import json
import platform
from importlib import metadata
from io import StringIO
from pathlib import Path

import pytest
import torch
from rich.console import Console

import lmstack
import lmstack.hardware.report as report_module
from lmstack.hardware.device import cpu_supports_bf16, resolve_device
from lmstack.hardware.report import PACKAGES, env_report, render_env

KEYS = {"lmstack", "python", "platform", "os", "cpu", "logical_cores", "physical_cores", "memory_gb",
        "packages", "device", "cuda_available", "mps_available", "gpus", "threads", "bf16_supported",
        "param_dtype", "autocast_dtype", "measurements"}
MEASURED_KEYS = ("read_bandwidth_gbs", "gemv_bandwidth_gbs_fp32", "gemv_bandwidth_gbs_bf16",
                 "matmul_gflops_fp32", "matmul_gflops_bf16")


@pytest.fixture(scope="module")
def report() -> dict:
    return env_report(budget_s=0.5)


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def rendered(report: dict) -> str:
    console = Console(file=StringIO(), width=200, record=True)
    render_env(report, console)
    return console.export_text()


def test_keys_present(report):
    assert set(report) == KEYS
    assert set(report["packages"]) == set(PACKAGES)


def test_is_json(report):
    assert json.loads(json.dumps(report)) == report


def test_versions_match_package_metadata(report):
    assert report["lmstack"] == lmstack.__version__
    assert report["python"] == platform.python_version()
    for name, distributions in PACKAGES.items():
        expected = next((v for v in map(installed_version, distributions) if v is not None), None)
        assert report["packages"][name] == expected, name
    assert report["packages"]["torch"] == torch.__version__


def test_version_falls_back_to_the_next_distribution():
    assert report_module._version(("no-such-distribution-xyz",)) is None
    assert report_module._version(("no-such-distribution-xyz", "torch")) == metadata.version("torch")


def test_machine_facts(report):
    assert 1 <= report["physical_cores"] <= report["logical_cores"]
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        assert report["memory_gb"] == pytest.approx(total_kb * 1024 / 1e9, rel=0.01)
        model_lines = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        if model_lines:
            assert report["cpu"] == model_lines[0].split(":", 1)[1].strip()


def test_lmstack_choices(report):
    device = resolve_device("auto")
    assert report["device"] == str(device)
    assert report["cuda_available"] == torch.cuda.is_available()
    assert report["threads"] == torch.get_num_threads()
    assert len(report["gpus"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if device.type == "cpu":
        assert report["bf16_supported"] == cpu_supports_bf16()
        assert report["param_dtype"] == "float32"
        assert report["autocast_dtype"] == ("bfloat16" if cpu_supports_bf16() else None)


def test_measurements_included(report):
    measured = report["measurements"]
    assert measured["device"] == report["device"]
    assert measured["seconds"] < 0.5 + 2.0
    assert 0.5 < measured["read_bandwidth_gbs"] < 2000
    assert 1 < measured["matmul_gflops_fp32"] < 1e6
    assert (measured["matmul_gflops_bf16"] is not None) == report["bf16_supported"]


def test_measure_speed_false_skips_measurement(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("measure() was called")

    monkeypatch.setattr(report_module, "measure", must_not_run)
    report = env_report(measure_speed=False)
    assert report["measurements"] is None
    assert "Speed not measured." in rendered(report)
    assert "Measured" not in rendered(report)


def test_render_shows_machine_and_measured_numbers(report):
    text = rendered(report)
    assert "Machine" in text and "Measured" in text and "Packages" in text
    assert report["platform"] in text
    assert f"{report['logical_cores']} logical, {report['physical_cores']} physical" in text
    measured = report["measurements"]
    for key in MEASURED_KEYS:
        if measured[key] is not None:
            assert f"{measured[key]:.1f}" in text, key
    assert "GB/s" in text and "GFLOP/s" in text
    gemv = measured["gemv_bandwidth_gbs_bf16"] or measured["gemv_bandwidth_gbs_fp32"]
    assert f"≤ {gemv / 2:.1f} tokens/s" in text


def test_render_without_bf16_uses_fp32_gemv_for_the_roofline(report):
    no_bf16 = copy.deepcopy(report)
    no_bf16["measurements"].update(gemv_bandwidth_gbs_fp32=21.0, gemv_bandwidth_gbs_bf16=None, matmul_gflops_bf16=None)
    text = rendered(no_bf16)
    assert text.count("n/a (no native bf16)") == 2
    assert "≤ 10.5 tokens/s" in text

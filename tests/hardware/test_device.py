import pytest
import torch

from lmstack.errors import UserError
from lmstack.hardware import device as d


def test_auto_picks_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert d.resolve_device("auto") == torch.device("cpu")


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="no CUDA device is visible"):
        d.resolve_device("cuda")


def test_unknown_device():
    with pytest.raises(UserError, match="unknown device 'tpu9'"):
        d.resolve_device("tpu9")


def test_dtypes_on_cpu():
    cpu = torch.device("cpu")
    assert d.resolve_dtype("auto", cpu) == torch.float32
    assert d.resolve_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(UserError, match="unknown dtype"):
        d.resolve_dtype("fp8", cpu)


def test_autocast_only_for_fp32_weights_on_bf16_cpus(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(d, "cpu_supports_bf16", lambda: True)
    assert d.autocast_dtype(cpu, torch.float32) == torch.bfloat16
    assert d.autocast_dtype(cpu, torch.bfloat16) is None
    assert d.autocast_dtype(cpu, torch.float32, enabled=False) is None
    monkeypatch.setattr(d, "cpu_supports_bf16", lambda: False)
    assert d.autocast_dtype(cpu, torch.float32) is None


def test_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert d.resolve_threads(1) == 1 and torch.get_num_threads() == 1
        assert d.resolve_threads("auto") == d.physical_cores() >= 1
        with pytest.raises(UserError):
            d.resolve_threads(0)
        with pytest.raises(UserError):
            d.resolve_threads("many")
    finally:
        torch.set_num_threads(before)

import pytest

from lmstack.errors import UserError
from lmstack.plan.hardware import GPU_BANDWIDTH_EFFICIENCY, canonical_gpu, gpu_device, measured_device


@pytest.mark.parametrize("given,name", [("h100", "H100"), ("a100_80g", "A100-80G"), ("RTX 4090", "RTX-4090"),
                                        ("l40s", "L40S")])
def test_gpu_names_are_forgiving(given, name):
    assert canonical_gpu(given) == name


def test_unknown_gpu_suggests_the_closest():
    with pytest.raises(UserError) as e:
        canonical_gpu("H1000")
    assert "unknown device 'H1000'" in e.value.message
    assert "did you mean H100?" in e.value.hint


def test_devices_add_up():
    two = gpu_device("L4", count=2)
    assert two.bandwidth_gbs == pytest.approx(2 * 300 * GPU_BANDWIDTH_EFFICIENCY)
    assert two.memory_gb == pytest.approx(24 * 0.9)
    assert two.total_memory_gb == pytest.approx(2 * 24 * 0.9)


def test_a_measured_cpu_uses_bf16_gemv_and_matmul(fake_cpu):
    d = measured_device(fake_cpu, memory_gb=10.0)
    assert (d.bandwidth_gbs, d.flops, d.memory_gb, d.is_gpu) == (20.0, 400e9, 7.0, False)

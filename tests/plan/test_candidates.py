"""Model shapes: parameter counts against published and exact figures, and one candidate's numbers."""

import pytest

from lmstack.models.presets import count_parameters, get_preset
from lmstack.plan import estimate as est
from lmstack.plan.candidates import OPEN_DECODERS, Workload, evaluate, preset_shapes
from lmstack.plan.hardware import gpu_device

SHAPES = {s.name: s for s in OPEN_DECODERS}


@pytest.mark.parametrize("name,published", [
    # totals from the Qwen2.5 model cards
    ("qwen2.5-0.5b-like", 0.49e9), ("qwen2.5-1.5b-like", 1.54e9), ("qwen2.5-7b-like", 7.61e9),
    ("qwen2.5-14b-like", 14.7e9), ("qwen2.5-72b-like", 72.7e9),
])
def test_open_shapes_match_published_sizes(name, published):
    assert SHAPES[name].params == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize("name", ["llama-1m", "llama-20m", "llama-125m", "llama-1b"])
def test_preset_shapes_count_exactly_what_the_model_has(name):
    shape = {s.name: s for s in preset_shapes()}[name]
    assert shape.params == count_parameters(get_preset(name))["total"]


def test_clip_presets_are_the_retrieval_shapes():
    shapes = preset_shapes(generative=False)
    assert [s.name for s in shapes] == ["clip-2m", "clip-30m", "clip-150m"]
    assert shapes[-1].tokens_per_request == (224 // 32) ** 2 + 1  # 49 patches + class token


def test_a_7b_candidate_on_one_h100():
    shape, device = SHAPES["qwen2.5-7b-like"], gpu_device("H100")
    eff = est.Efficiency(decode=1.0, step_overhead_s=0.0, layer_overhead_s=0.0, prefill=1.0, train_mfu=0.5,
                         train_layer_overhead_s=1e-6, measured=False)
    work = Workload(prompt_tokens=1000, output_tokens=100, context_length=2048, peak_qps=10, ttft_ms=None,
                    tpot_ms=None, train_tokens=1e9, lora=False)
    c = evaluate(shape, device, work, eff, price_per_device_hour=2.0)
    assert c.weights_gb == pytest.approx(shape.params * 2 / 1e9)
    # sustained H100: 3,350 GB/s × 0.9, 989 TFLOP/s × 0.8
    bw, flops = 3350e9 * 0.9, 989e12 * 0.8
    assert c.decode_tokens_per_s == pytest.approx(1 / ((shape.params * 2 + 57_344 * 2048) / bw))
    assert c.ttft_ms == pytest.approx(2 * shape.params * 1000 / flops * 1e3)
    assert c.kv_cache_gb == pytest.approx(57_344 * 2048 * c.concurrency / 1e9)
    assert c.replicas == max(1, -(-10 // c.requests_per_s_per_replica))
    assert c.monthly_cost == pytest.approx(c.replicas * 1 * 2.0 * 730)
    # 6·N·1e9 tokens at half the sustained FLOP/s, plus 1 µs per token per layer (28 layers)
    assert c.train_hours == pytest.approx((6 * shape.params * 1e9 / (flops * 0.5) + 1e9 * 28 * 1e-6) / 3600)
    assert c.fits_memory and c.meets_latency

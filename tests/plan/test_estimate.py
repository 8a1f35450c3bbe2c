"""The formulas of lmstack.plan.estimate against values worked out by hand."""

import pytest

from lmstack.plan import estimate as est


def test_kv_cache_of_a_qwen_7b_shape():
    # 2 (K, V) × 28 layers × 4 kv heads × 128 head dim × 2 bytes = 57,344 bytes per token
    per_token = est.kv_bytes_per_token(layers=28, kv_heads=4, head_dim=128)
    assert per_token == 57_344
    # 57,344 × 4,096 tokens × 8 sequences = 1,879,048,192 bytes
    assert est.kv_cache_bytes(per_token, 4096, 8) == 1_879_048_192


def test_weights_in_bf16():
    assert est.weight_bytes(7e9) == 14e9  # 2 bytes per parameter


def test_training_state_full_and_lora():
    full = est.training_state_bytes(1e9)
    # fp32 weights 4 + fp32 grads 4 + Adam m and v 8 = 16 bytes per parameter
    assert full == {"weights": 4e9, "grads": 4e9, "adam": 8e9, "total": 16e9}
    lora = est.training_state_bytes(1e9, trainable=1e7)
    # frozen bf16 weights 2e9 + fp32 adapters 4e7; grads 4e7; Adam 8e7 → 2.16e9
    assert lora["weights"] == pytest.approx(2.04e9)
    assert lora["total"] == pytest.approx(2.16e9)


def test_decode_step_is_bandwidth_bound_alone_and_compute_bound_in_a_large_batch():
    # one stream: max(2e9 B / 20e9 B/s = 0.1 s, 2 × 1e9 × 1 / 400e9 = 0.005 s) = 0.1 s
    assert est.decode_step_s(weight_bytes=2e9, kv_bytes=0, active_params=1e9, batch=1,
                             bandwidth_bps=20e9, flops=400e9) == pytest.approx(0.1)
    # 64 streams with 1 GB of KV: max(3e9 / 20e9 = 0.15, 2 × 1e9 × 64 / 400e9 = 0.32) = 0.32 s
    assert est.decode_step_s(weight_bytes=2e9, kv_bytes=1e9, active_params=1e9, batch=64,
                             bandwidth_bps=20e9, flops=400e9) == pytest.approx(0.32)


def test_expected_step_adds_efficiency_and_overhead():
    eff = est.Efficiency(decode=0.5, step_overhead_s=2e-3, layer_overhead_s=1e-3, prefill=1.0, train_mfu=1.0,
                         train_layer_overhead_s=0.0, measured=False)
    # 0.1 / 0.5 + 2 ms + 12 layers × 1 ms = 0.214 s
    assert est.expected_step_s(0.1, 12, eff) == pytest.approx(0.214)


def test_prefill_is_compute_bound_with_a_floor_of_one_weight_read():
    # 2 × 1e9 × 512 / 400e9 = 2.56 s (a weight read takes only 0.1 s)
    assert est.prefill_s(active_params=1e9, prompt_tokens=512, flops=400e9, weight_bytes=2e9,
                         bandwidth_bps=20e9) == pytest.approx(2.56)
    # one token: 2 × 1e9 / 400e9 = 5 ms, but the weights take 0.1 s to read
    assert est.prefill_s(active_params=1e9, prompt_tokens=1, flops=400e9, weight_bytes=2e9,
                         bandwidth_bps=20e9) == pytest.approx(0.1)


def test_requests_replicas_and_cost():
    # 1 / (0.1 s prefill + 100 tokens × 0.05 s / 10 sequences) = 1 / 0.6
    rps = est.requests_per_s(prefill_s=0.1, step_s=0.05, batch=10, output_tokens=100)
    assert rps == pytest.approx(1 / 0.6)
    assert est.replicas_needed(60, 11.89) == 6  # ⌈5.05⌉
    assert est.replicas_needed(10, 2.5) == 4  # exactly 4, not 5
    assert est.replicas_needed(0.1, 50) == 1
    assert est.monthly_cost(6, 2, 2.5) == pytest.approx(21_900)  # 6 × 2 × 2.5 × 730
    assert est.concurrency(8, 2.5) == 20  # Little's law


def test_training_time():
    # 6 × 1e9 params × 1e9 tokens = 6e18 FLOPs at 400e9 × 0.25 = 1e11 FLOP/s → 6e7 s
    assert est.training_seconds(1e9, 1e9, 400e9, 0.25) == pytest.approx(6e7)
    assert est.training_seconds(1e9, 1e9, 400e9, 0.25, lora=True) == pytest.approx(4e7)
    # plus 1e9 tokens × 12 layers × 1 µs = 12,000 s
    assert est.training_seconds(1e9, 1e9, 400e9, 0.25, layers=12, layer_overhead_s=1e-6) == pytest.approx(6e7 + 12e3)

"""lmstack's packed bf16 linear kernel: the fp32-accumulated product rounded once, any rows, shapes and strides."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch
from torch import nn

from lmstack.models.build import build_model
from lmstack.serve.engine import linear, native
from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.kv_cache import KVCache, PromptSegment, StepLayout
from lmstack.serve.engine.lmstack_engine import LmstackEngine
from lmstack.serve.engine.linear import ALL_ROWS, LinearPlan, OneDNNLinear, PackedLinear, RowSwitch, crossover

CPU_HAS_BF16_DOT = "avx512_bf16" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False
needs_kernel = pytest.mark.skipif(not CPU_HAS_BF16_DOT, reason="this CPU has no AVX-512 BF16 (the kernel's ISA)")
_FLAGS = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
CPU_HAS_AMX = CPU_HAS_BF16_DOT and {"amx_tile", "amx_bf16"} <= _FLAGS


def _layers(sizes: list[int], k: int, biases: list[bool], seed: int = 0) -> list[nn.Linear]:
    torch.manual_seed(seed)
    return [nn.Linear(k, n, bias=b).to(torch.bfloat16) for n, b in zip(sizes, biases)]


def _reference(x: torch.Tensor, layers: list[nn.Linear]) -> torch.Tensor:
    """The product in fp32 (bf16 products are exact there), the bias added in fp32, rounded to bf16 once."""
    outs = [x.float() @ m.weight.float().T + (m.bias.float() if m.bias is not None else 0) for m in layers]
    return torch.cat(outs, dim=-1).to(torch.bfloat16)


def test_the_kernel_runs_wherever_the_cpu_has_avx512_bf16():
    assert linear.available() is CPU_HAS_BF16_DOT


def test_pack_puts_pairs_of_inputs_side_by_side_in_blocks_of_16_outputs():
    w = torch.arange(70 * 6, dtype=torch.float32).view(70, 6).to(torch.bfloat16)
    packed = linear.pack(w)
    assert packed.shape == (8, 3, 16, 2)  # 70 outputs padded to 128 = 8 blocks; 6 inputs = 3 pairs
    assert torch.equal(packed[1, 2, 5], w[16 + 5, 4:6])  # block 1, pair 2, feature 5: w[21, 4:6]
    assert torch.equal(packed.transpose(1, 2).reshape(128, 6)[:70], w)
    assert packed.transpose(1, 2).reshape(128, 6)[70:].abs().sum() == 0  # the padding is zeros


@needs_kernel
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 40])
def test_equals_the_fp32_product_rounded_once(rows):
    # q/k/v-like: three layers side by side, 200 outputs (not a multiple of 64), a bias on two of them
    layers = _layers([96, 64, 40], 48, [True, False, True])
    fused = PackedLinear.build(layers)
    assert fused is not None and fused.out_features == 200
    x = torch.randn(rows, 48, generator=torch.Generator().manual_seed(rows)).to(torch.bfloat16)
    y, expected = fused(x), _reference(x, layers)
    assert y.shape == (rows, 200) and y.dtype == torch.bfloat16
    # the same sums in another order: equal, or one bf16 step apart where the fp32 sum lies near a tie
    close = (y.float() - expected.float()).abs() <= expected.float().abs() * 2**-8 + 1e-6
    assert close.all()
    assert (y == expected).float().mean() > 0.97


@needs_kernel
@pytest.mark.parametrize("rows", [6, 7, 13, 16, 64, 65, 70])
def test_long_inputs_go_in_chunks_with_the_same_sums(rows):
    # 330 inputs = 165 pairs: chunks of 64 pairs (128 above 64 rows) and a short last one; row tiles of
    # 6 with a short last one; more than 64 rows in two panels
    layers = _layers([96, 64, 40], 330, [True, False, True], seed=11)
    fused = PackedLinear.build(layers)
    wide = torch.randn(rows, 400, generator=torch.Generator().manual_seed(rows)).to(torch.bfloat16)
    x = wide[:, 30:360]  # strided rows
    y, expected = fused(x), _reference(x, layers)
    assert ((y.float() - expected.float()).abs() <= expected.float().abs() * 2**-7 + 1e-6).all()
    assert (y == expected).float().mean() > 0.97
    # each row's result does not depend on the rows beside it (tiles, panels and chunks)
    assert torch.equal(y[-1:], fused(x[-1:].contiguous()))
    assert torch.equal(y[:6], fused(x[:6].contiguous()))


@needs_kernel
def test_strided_rows_and_the_lm_head_size():
    layers = _layers([1000], 64, [False], seed=3)
    head = PackedLinear.build(layers)
    wide = torch.randn(6, 100, generator=torch.Generator().manual_seed(4)).to(torch.bfloat16)
    x = wide[:, 10:74]  # rows 100 apart, as a slice of a wider product is
    y = head(x)
    expected = _reference(x, layers)
    assert ((y.float() - expected.float()).abs() <= expected.float().abs() * 2**-8 + 1e-6).all()
    assert torch.equal(y.argmax(-1), expected.argmax(-1))


@needs_kernel
def test_what_the_kernel_refuses():
    assert PackedLinear.build(_layers([32], 47, [False])) is None  # an odd input size: the caller keeps oneDNN
    assert PackedLinear.build([nn.Linear(48, 32)]) is None  # fp32 weights
    assert PackedLinear.build(_layers([32], 48, [False]) + _layers([32], 50, [False])) is None  # two input sizes
    fused = PackedLinear.build(_layers([32], 48, [False]))
    with pytest.raises(ValueError, match=r"\(rows, 48\) bf16"):
        fused(torch.randn(2, 48))
    with pytest.raises(ValueError, match=r"\(rows, 48\) bf16"):
        fused(torch.randn(2, 40).to(torch.bfloat16))


def test_switched_off_with_lmstack_kernels_0(monkeypatch):
    monkeypatch.setenv("LMSTACK_KERNELS", "0")
    linear.native.library.cache_clear()
    try:
        assert linear.available() is False
        assert PackedLinear.build(_layers([32], 48, [False])) is None
    finally:
        monkeypatch.delenv("LMSTACK_KERNELS")
        linear.native.library.cache_clear()


@needs_kernel
def test_the_lean_step_runs_its_linears_on_the_kernel_with_the_models_logits(monkeypatch):
    monkeypatch.setenv("LMSTACK_LINEAR", "kernel")
    torch.manual_seed(0)
    model = build_model("llama-1m", vocab_size=300, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    step = DecoderStep.build(model)
    linears = [f for layer in step.layers for f in (layer.qkv, layer.o, layer.gate_up, layer.down)]
    assert all(isinstance(f, PackedLinear) for f in linears)
    assert isinstance(step.lm_head, PackedLinear)
    kv = KVCache(model.config, num_slots=1, max_context=32, dtype=torch.bfloat16)
    tokens = torch.randint(3, 300, (9,), generator=torch.Generator().manual_seed(5))
    layout = StepLayout.build([0] * 9, list(range(9)), 0, [PromptSegment(0, 9, 0, 0)])
    with torch.inference_mode():
        logits = step(tokens, layout.positions, layout, torch.arange(9), kv)
        expected = model(tokens[None]).logits[0]
    torch.testing.assert_close(logits.float(), expected.float(), atol=0.15, rtol=0.05)
    assert (logits.argmax(-1) == expected.argmax(-1)).float().mean() >= 8 / 9


def test_crossover_is_the_last_row_count_before_the_kernel_first_loses():
    assert crossover({1: (2.8, 3.5), 2: (2.9, 3.3), 4: (3.3, 3.4), 8: (6.0, 3.5)}) == 4  # an AMX CPU
    assert crossover({1: (5.6, 9.4), 4: (5.7, 8.1), 16: (12.7, 15.0), 64: (40.0, 47.0)}) == ALL_ROWS  # never loses
    assert crossover({1: (3.6, 3.5)}) == 0  # loses at once: oneDNN only
    assert crossover({4: (1.0, 2.0), 1: (1.0, 2.0), 2: (3.0, 2.0)}) == 1  # in row order, whatever the dict's order
    assert crossover({}) == ALL_ROWS


class _Clock:
    """A fake perf_counter that the timed functions below advance by what they say they cost."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def product(self, costs):
        """A product whose n-th call costs costs(n) seconds; its calls are counted in .calls."""
        def call():
            call.calls += 1
            self.now += costs(call.calls)
        call.calls = 0
        return call


def test_a_loss_of_the_kernel_is_timed_again_before_it_counts(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(linear, "time", clock)
    # the machine stalls during the kernel's warm-up and first three timed calls (20 ms against 1 ms)
    kernel, onednn = clock.product(lambda n: 0.020 if n <= 4 else 0.001), clock.product(lambda n: 0.005)
    assert linear._kernel_and_onednn_seconds(kernel, onednn, repeats=5) == pytest.approx((0.001, 0.005))  # 3 stalls of 15 calls
    assert kernel.calls == onednn.calls == 1 + 5 + 10  # warm-up, 5 calls, then 10 more to confirm
    # a true loss stays a loss, on all 15 calls
    kernel, onednn = clock.product(lambda n: 0.002), clock.product(lambda n: 0.001)
    assert linear._kernel_and_onednn_seconds(kernel, onednn, repeats=5) == pytest.approx((0.002, 0.001))
    assert kernel.calls == 16
    # a win is not timed again
    kernel, onednn = clock.product(lambda n: 0.001), clock.product(lambda n: 0.002)
    assert linear._kernel_and_onednn_seconds(kernel, onednn, repeats=5) == pytest.approx((0.001, 0.002))
    assert kernel.calls == onednn.calls == 6


@needs_kernel
@pytest.mark.parametrize("rows", [1, 3, 4, 5, 9])
def test_row_switch_runs_the_kernel_up_to_its_rows_and_onednn_above(rows):
    layers = _layers([96, 64, 40], 48, [True, False, True], seed=6)
    kernel, onednn = PackedLinear.build(layers), OneDNNLinear.build(layers)
    switch = LinearPlan(kernel_rows=4).build(layers)
    assert isinstance(switch, RowSwitch) and switch.rows == 4
    x = torch.randn(rows, 48, generator=torch.Generator().manual_seed(rows)).to(torch.bfloat16)
    with torch.inference_mode():
        y = switch(x)
        assert torch.equal(y, kernel(x) if rows <= 4 else onednn(x))
    expected = _reference(x, layers)
    assert ((y.float() - expected.float()).abs() <= expected.float().abs() * 2**-8 + 1e-6).all()


@needs_kernel
def test_a_plan_keeps_only_the_copies_it_uses():
    layers = _layers([64], 48, [False])
    assert isinstance(LinearPlan(kernel_rows=ALL_ROWS).build(layers), PackedLinear)
    assert isinstance(LinearPlan(kernel_rows=0).build(layers), OneDNNLinear)
    assert isinstance(LinearPlan(kernel_rows=ALL_ROWS).build(_layers([64], 47, [False])), OneDNNLinear)  # odd input


@needs_kernel
def test_choose_measures_both_products_and_stops_where_the_kernel_first_loses(monkeypatch):
    monkeypatch.delenv("LMSTACK_LINEAR", raising=False)
    groups = [_layers([256, 256], 128, [False, False], seed=i) for i in range(4)]
    plan = LinearPlan.choose(groups)
    assert plan.source == "measured" and plan.timings and min(plan.timings) == 1
    assert plan.kernel_rows == crossover(plan.timings)
    ordered = sorted(plan.timings)
    assert all(k < d for k, d in (plan.timings[n] for n in ordered[:-1]))  # it went on only while the kernel won
    assert ordered == [1, 2, 4, 8, 16, 32, 64, 264][:len(ordered)]  # 264: a step of 256 prompt tokens + 8 decoding
    assert "bf16 linear layers: " in plan.describe() and "1 rows" in plan.describe()
    # the measured layers are packed once: build takes them
    kernel, onednn = plan.prepared[tuple(id(m) for m in groups[0])]
    built = plan.build(groups[0])
    if plan.kernel_rows == ALL_ROWS:
        assert built is kernel
    elif plan.kernel_rows == 0:
        assert built is onednn
    else:
        assert built.small is kernel and built.large is onednn
    assert tuple(id(m) for m in groups[0]) not in plan.prepared


@needs_kernel
def test_choose_measures_at_the_rows_of_the_engine_s_prefill_step(monkeypatch):
    monkeypatch.delenv("LMSTACK_LINEAR", raising=False)
    seen = []
    monkeypatch.setattr(LinearPlan, "measure", classmethod(lambda cls, groups, rows: seen.append(list(rows)) or cls(0)))
    groups = [_layers([64], 48, [False])]
    LinearPlan.choose(groups, step_rows=40)
    LinearPlan.choose(groups, step_rows=3)
    assert seen == [[1, 2, 4, 8, 16, 32, 40], [1, 2, 3]]


def test_the_engine_measures_products_at_a_full_prefill_chunk_plus_half_its_slots(monkeypatch, tiny_llama):
    seen = []
    monkeypatch.setattr(DecoderStep, "build", classmethod(lambda cls, model, step_rows: seen.append(step_rows)))
    engine = LmstackEngine(tiny_llama, model_name="t", max_batch_size=6, prefill_chunk_tokens=100)
    asyncio.run(engine.start())
    asyncio.run(engine.shutdown(drain_timeout_s=0))
    assert seen == [103]


@needs_kernel
def test_lmstack_linear_fixes_the_choice(monkeypatch):
    groups = [_layers([64], 48, [False])]
    monkeypatch.setenv("LMSTACK_LINEAR", "kernel")
    assert LinearPlan.choose(groups).kernel_rows == ALL_ROWS
    monkeypatch.setenv("LMSTACK_LINEAR", "ONEDNN")
    plan = LinearPlan.choose(groups)
    assert plan.kernel_rows == 0 and plan.timings == {} and "oneDNN at every row count" in plan.describe()
    monkeypatch.setenv("LMSTACK_LINEAR", "fastest")
    with pytest.raises(ValueError, match=r"LMSTACK_LINEAR='fastest': use one of auto, kernel, onednn"):
        LinearPlan.choose(groups)


def test_without_the_kernel_the_plan_is_onednn(monkeypatch):
    monkeypatch.setattr(linear, "available", lambda: False)
    plan = LinearPlan.choose([_layers([64], 48, [False])], mode="kernel")
    assert plan.kernel_rows == 0 and plan.source == "no kernel on this CPU"
    assert isinstance(plan.build(_layers([64], 48, [False])), OneDNNLinear)


@needs_kernel
def test_the_lean_step_switches_products_by_rows_with_the_same_logits(monkeypatch):
    torch.manual_seed(0)
    model = build_model("llama-1m", vocab_size=300, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    monkeypatch.setattr(LinearPlan, "measure", classmethod(lambda cls, groups, rows: cls(4, {1: (1.0, 2.0)})))
    step = DecoderStep.build(model)
    assert step.linear_plan.kernel_rows == 4
    assert all(isinstance(f, RowSwitch) for layer in step.layers for f in (layer.qkv, layer.o, layer.gate_up, layer.down))
    kv = KVCache(model.config, num_slots=1, max_context=32, dtype=torch.bfloat16)
    tokens = torch.randint(3, 300, (9,), generator=torch.Generator().manual_seed(5))
    layout = StepLayout.build([0] * 9, list(range(9)), 0, [PromptSegment(0, 9, 0, 0)])
    with torch.inference_mode():
        logits = step(tokens, layout.positions, layout, torch.arange(9), kv)  # 9 rows: oneDNN
        expected = model(tokens[None]).logits[0]
    torch.testing.assert_close(logits.float(), expected.float(), atol=0.15, rtol=0.05)
    assert (logits.argmax(-1) == expected.argmax(-1)).float().mean() >= 8 / 9


def test_amx_wherever_the_cpu_has_amx_tiles():
    assert linear.amx_available() is CPU_HAS_AMX


@needs_kernel
@pytest.mark.parametrize("rows", [1, 2, 7, 15, 16, 17, 33, 40])
def test_amx_equals_the_fp32_product_rounded_once_and_the_avx512_kernel(rows):
    # inputs a multiple of 32 (AMX steps 32 inputs at a time), 200 outputs (not a multiple of 64), two biases
    layers = _layers([96, 64, 40], 96, [True, False, True], seed=7)
    fused = PackedLinear.build(layers)
    assert fused is not None and fused.amx is CPU_HAS_AMX  # without AMX tiles: the AVX-512 BF16 kernel
    wide = torch.randn(rows, 130, generator=torch.Generator().manual_seed(rows)).to(torch.bfloat16)
    x = wide[:, 2:98]  # strided rows, as a slice of a wider product is
    y, expected = fused(x), _reference(x, layers)
    one_step = expected.float().abs() * 2**-7 + 1e-6  # one bf16 step: sums in another order may round across a tie
    assert ((y.float() - expected.float()).abs() <= one_step).all() and (y == expected).float().mean() > 0.97
    dot = PackedLinear(fused.packed, fused.bias, fused.in_features, fused.out_features, amx=False)
    assert ((y.float() - dot(x).float()).abs() <= one_step).all()
    if not CPU_HAS_AMX:  # the AMX entry point refuses, writing nothing
        out = torch.full((rows, 200), 7.0, dtype=torch.bfloat16)
        rc = native.kernel("linear_amx", torch.bfloat16)(
            x.data_ptr(), rows, x.stride(0), 96, fused.packed.data_ptr(), fused.bias.data_ptr(), 200, out.data_ptr(),
            200, 1)
        assert rc == -2 and bool((out == 7.0).all())


@needs_kernel
@pytest.mark.parametrize(("rows", "sizes"), [(40, [576]), (17, [64]), (33, [96, 64, 40]), (3, [576])])
def test_every_output_group_is_computed_once_whatever_the_thread_count(rows, sizes):
    """Longer inputs split the 64-output groups into one range per thread, stolen from when a thread
    runs out (linear_amx.c): the bits may not depend on how many threads share them, even more
    threads than groups."""
    layers = _layers(sizes, 128, [True] * len(sizes), seed=rows)
    fused = PackedLinear.build(layers)
    assert fused is not None and fused.amx is CPU_HAS_AMX
    x = torch.randn(rows, 128, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    n = sum(sizes)
    outs = []
    for threads in (1, 2, 3, 5, 12):
        y = torch.full((rows, n), 7.0, dtype=torch.bfloat16)
        rc = native.kernel("linear_amx" if fused.amx else "linear", torch.bfloat16)(
            x.data_ptr(), rows, x.stride(0), 128, fused.packed.data_ptr(), fused.bias.data_ptr(), n, y.data_ptr(), n,
            threads)
        assert rc == 0
        outs.append(y)
    expected = _reference(x, layers)
    one_step = expected.float().abs() * 2**-7 + 1e-6
    assert ((outs[0].float() - expected.float()).abs() <= one_step).all()
    assert all(torch.equal(y, outs[0]) for y in outs[1:])


@needs_kernel
def test_amx_is_left_to_the_dot_product_kernel_where_inputs_are_not_a_multiple_of_32():
    fused = PackedLinear.build(_layers([64], 48, [False]))
    assert fused is not None and not fused.amx
    x = torch.randn(5, 48, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    expected = _reference(x, _layers([64], 48, [False]))
    assert ((fused(x).float() - expected.float()).abs() <= expected.float().abs() * 2**-8 + 1e-6).all()

"""make_plan end to end on declared GPUs and a fake measured CPU."""

import math

import pytest

from lmstack.errors import UserError
from lmstack.plan.config import PlanSection
from lmstack.plan.planner import make_plan


def plan_of(measured=None, context_length=4096, preset=None, **section):
    """A plan for `section`; `measured` stands in for this machine when the plan runs on cpu."""
    return make_plan(PlanSection(**section), languages=["zh", "en"], context_length=context_length,
                     preset=preset, hardware=measured, name="test")


def test_high_frequency_general_on_h100s_respects_the_device_budget():
    plan = plan_of(domain="general", requests_per_day=2e6, peak_qps=60, ttft_ms=1000, tpot_ms=50,
                   prompt_tokens=1024, output_tokens=256,
                   hardware={"device": "H100", "price_per_device_hour": 2.5, "max_devices": 16})
    assert plan.placement.quadrant == "high_frequency_standardised"
    names = [c.name for c in plan.candidates]
    assert names == ["qwen2.5-3b-like", "qwen2.5-7b-like", "qwen2.5-14b-like"]
    (rec,) = plan.recommended
    assert rec.name == "qwen2.5-7b-like" and rec.devices <= 16
    assert plan.candidates[2].devices > 16 and "over max_devices 16" in plan.candidates[2].notes[0]
    for c in plan.candidates:
        assert c.replicas == math.ceil(60 / c.requests_per_s_per_replica)
        assert c.monthly_cost == pytest.approx(c.replicas * 1 * 2.5 * 730)
        assert c.tpot_ms <= 50 and c.ttft_ms <= 1000
        assert c.serving_memory_gb <= 80 * 0.9


def test_specialised_on_cpu_picks_the_largest_preset_trained_within_budget(fake_cpu):
    plan = plan_of(fake_cpu, context_length=256, preset="llama-5m", domain="specialised", peak_qps=0.5,
                   ttft_ms=500, prompt_tokens=64, output_tokens=64, train_budget_hours=4,
                   hardware={"memory_gb": 16},
                   data={"labelled_rows": 3000, "tokens_per_row": 64, "unlabelled_tokens": 2_000_000})
    assert plan.placement.strategy == "domain_finetune"
    assert [c.name for c in plan.candidates] == ["llama-5m", "llama-20m", "llama-125m", "llama-350m"]
    assert [c.name for c in plan.recommended] == ["llama-125m"]
    # 3,000 rows × 64 tokens × 3 epochs + 2,000,000 = 2,576,000 tokens
    assert all(c.train_tokens == 2_576_000 for c in plan.candidates)
    assert plan.candidates[2].train_hours <= 4 < plan.candidates[3].train_hours
    assert "training exceeds train_budget_hours 4" in plan.candidates[3].notes
    assert "the project's current preset" in plan.candidates[0].notes
    assert plan.efficiency.measured


def test_hybrid_puts_a_smaller_domain_model_in_front():
    plan = plan_of(domain="mixed", peak_qps=8, ttft_ms=800, tpot_ms=60, prompt_tokens=2048, output_tokens=256,
                   escalation_share=0.25, context_length=8192, hardware={"device": "A100-80G"},
                   data={"labelled_rows": 20000, "tokens_per_row": 600})
    front = [c for c in plan.recommended if c.role.startswith("front")]
    back = [c for c in plan.recommended if c.role.startswith("back")]
    assert len(front) == len(back) == 1
    assert front[0].params < back[0].params
    # the back model sees a quarter of the peak
    assert back[0].replicas == math.ceil(8 * 0.25 / back[0].requests_per_s_per_replica)
    assert front[0].train_method == "lora"  # full training state of a 7B+ model exceeds 72 GB


def test_realtime_lists_a_teacher():
    plan = plan_of(domain="general", ttft_ms=100, tpot_ms=10, peak_qps=40, context_length=2048,
                   prompt_tokens=512, output_tokens=32, hardware={"device": "L4"})
    assert plan.placement.strategy == "distilled_small"
    assert plan.recommended[0].tpot_ms <= 10
    teacher = plan.candidates[-1]
    assert teacher.role == "teacher (not served)" and (teacher.replicas, teacher.monthly_cost) == (0, None)


def test_retrieval_uses_dual_encoders():
    plan = plan_of(task="image_text_retrieval", peak_qps=100, ttft_ms=50, hardware={"device": "T4"})
    assert {c.name for c in plan.candidates} <= {"clip-vit-b-32-like", "clip-vit-b-16-like", "clip-vit-l-14-like"}
    assert all(c.decode_tokens_per_s is None and c.kv_cache_gb == 0 for c in plan.candidates)


def test_a_latency_target_no_candidate_meets():
    with pytest.raises(UserError) as e:
        plan_of(domain="general", tpot_ms=0.5, hardware={"device": "T4"})
    assert "no candidate model meets the latency targets" in e.value.message
    assert "tpot_ms 0.5" in e.value.message and "relax" in e.value.hint


def test_nothing_fits_in_memory(fake_cpu):
    with pytest.raises(UserError, match="no candidate model fits in memory"):
        plan_of(fake_cpu, hardware={"memory_gb": 0.001})


def test_prompt_and_output_must_fit_the_context():
    with pytest.raises(UserError, match="exceed the context length 256"):
        plan_of(context_length=256, prompt_tokens=200, output_tokens=100, hardware={"device": "L4"})


def test_plan_json_round_trips():
    import json

    plan = plan_of(domain="specialised", peak_qps=2, hardware={"device": "L40S"})
    data = json.loads(plan.to_json())
    assert data["placement"]["quadrant"] == "low_frequency_specialised"
    assert data["device"]["name"] == "L40S"
    assert len(data["candidates"]) == len(plan.candidates)


def test_plan_for_a_loaded_project(fake_cpu):
    from pathlib import Path

    from lmstack.config import load_config
    from lmstack.plan.planner import plan_for_project

    cfg = load_config(Path(__file__).parents[2] / "examples" / "customer-service" / "project.yaml", [])
    plan = plan_for_project(cfg, hardware=fake_cpu)
    assert (plan.name, plan.context_length, plan.languages) == ("customer-service", 256, ["zh", "en"])
    assert plan.placement.quadrant == "low_frequency_specialised"
    assert plan.peak_qps == 5 and plan.device.source == "measured"
    assert any(c.name == "llama-1m" and "the project's current preset" in c.notes for c in plan.candidates)

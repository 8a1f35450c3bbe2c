"""Step one of the method: place a scenario in the matrix, then size candidate models for it.

    >>> from lmstack.plan.config import PlanSection
    >>> plan = make_plan(PlanSection(domain="specialised", peak_qps=5, hardware={"device": "L4"}),
    ...                  languages=["zh", "en"], context_length=2048, preset=None, hardware=None, name="bank")
    >>> plan.placement.quadrant, [c.name for c in plan.candidates]            # doctest: +SKIP
    ('low_frequency_specialised', ['qwen2.5-0.5b-like', 'qwen2.5-1.5b-like', 'qwen2.5-3b-like'])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lmstack.errors import UserError
from lmstack.plan import estimate as est
from lmstack.plan.candidates import (
    OPEN_DECODERS,
    OPEN_ENCODERS,
    Candidate,
    ModelShape,
    Workload,
    evaluate,
    preset_shapes,
)
from lmstack.plan.config import PlanSection
from lmstack.plan.hardware import Device, gpu_device, measured_device, this_machine_memory_gb
from lmstack.plan.matrix import Placement, place

# Below this many labelled rows a full fine-tune of a pretrained model overfits; adapters (LoRA)
# change few weights and hold up on small data.
FULL_FINETUNE_MIN_ROWS = 10_000
# Default request shape when the scenario gives none.
DEFAULT_PROMPT_TOKENS = 512
DEFAULT_OUTPUT_TOKENS = 128
# A plan lists this many sizes per model role.
CANDIDATES_PER_ROLE = 3
MEASURE_BUDGET_S = 3.0


@dataclass
class Plan:
    """Everything `lmstack plan` decided and estimated: JSON-able, rendered by `lmstack.plan.render`."""

    name: str
    task: str
    languages: list[str]
    context_length: int
    prompt_tokens: int
    output_tokens: int
    peak_qps: float | None
    scenario: dict
    device: Device
    efficiency: est.Efficiency
    placement: Placement
    candidates: list[Candidate]
    notes: list[str] = field(default_factory=list)

    @property
    def recommended(self) -> list[Candidate]:
        return [c for c in self.candidates if c.recommended]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "task": self.task, "languages": self.languages,
            "context_length": self.context_length, "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens, "peak_qps": self.peak_qps, "scenario": self.scenario,
            "device": self.device.to_dict(), "efficiency": self.efficiency.to_dict(),
            "placement": self.placement.to_dict(), "candidates": [c.to_dict() for c in self.candidates],
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def make_plan(section: PlanSection, *, languages: list[str], context_length: int, preset: str | None,
              hardware, name: str) -> Plan:
    """Place the scenario and size candidates on its hardware.

    `hardware`: `lmstack.hardware.measure.Measurements` of this machine, used when
    plan.hardware.device is cpu (None: measured now, a few seconds); ignored for declared GPUs.
    """
    device = resolve_device(section, hardware)
    eff = est.GPU_EFFICIENCY if device.is_gpu else est.CPU_EFFICIENCY
    placement = place(section)
    prompt, output = request_shape(section, context_length)
    retrieval = section.task == "image_text_retrieval"
    if device.is_gpu:
        shapes = OPEN_ENCODERS if retrieval else OPEN_DECODERS
    else:
        shapes = preset_shapes(generative=not retrieval)
    data = section.data
    labelled = data.labelled_rows * data.tokens_per_row * data.epochs
    unlabelled = data.unlabelled_tokens + data.unlabelled_rows * data.tokens_per_row
    train_tokens = labelled + unlabelled

    def assess(shape: ModelShape, role: str, qps: float | None) -> Candidate:
        full_gb = est.training_state_bytes(shape.params)["total"] / 1e9
        # Presets train from scratch (full); pretrained models take adapters when data is small or memory short.
        lora = device.is_gpu and shape.generative and (
            data.labelled_rows < FULL_FINETUNE_MIN_ROWS or full_gb > device.total_memory_gb)
        work = Workload(prompt, output, context_length, qps, section.ttft_ms, section.tpot_ms, train_tokens, lora)
        cand = evaluate(shape, device, work, eff, role=role,
                        price_per_device_hour=section.hardware.price_per_device_hour)
        if shape.source == preset:
            cand.notes.append("the project's current preset")
        return cand

    notes = []
    if placement.strategy == "hybrid":
        back_qps = section.peak_qps * section.escalation_share if section.peak_qps else None
        back = _pick([assess(s, "back (general)", back_qps) for s in shapes], "general", section)[-1:]
        # The domain model in front is smaller than the general one behind: it answers most requests.
        smaller = [s for s in shapes if s.params < back[0].params] or shapes[:1]
        front = _pick([assess(s, "front (domain)", section.peak_qps) for s in smaller], "domain_finetune", section)
        chosen = front + back
        notes.append(f"the general model behind takes {section.escalation_share:.0%} of requests "
                     f"(plan.escalation_share)")
    else:
        cands = [assess(s, "model", section.peak_qps) for s in shapes]
        chosen = _pick(cands, placement.strategy, section)
        if placement.strategy == "distilled_small":
            teacher_shape = max((s for s, c in zip(shapes, cands, strict=True) if c.fits_memory),
                                key=lambda s: s.params)
            if teacher_shape.name not in {c.name for c in chosen}:
                teacher = assess(teacher_shape, "teacher (not served)", None)
                teacher.replicas = teacher.devices = 0
                teacher.monthly_cost = None
                chosen.append(teacher)
    current = next((s for s in shapes if s.source == preset), None)
    if current is not None and current.name not in {c.name for c in chosen}:
        chosen = sorted([*chosen, assess(current, "model", section.peak_qps)], key=lambda c: c.params)
    if placement.strategy == "general" and train_tokens:
        notes.append("training hours show what a fine-tune on the data at hand would take; the strategy needs none")
    if not device.is_gpu:
        notes.append("on this machine the candidates are lmstack presets trained from scratch: training hours "
                     "are for the data at hand, far from what a general-purpose model needs")
    if not eff.measured:
        notes.append("GPU efficiencies are assumed, not measured by lmstack (see lmstack.plan.estimate)")
    return Plan(name=name, task=section.task, languages=list(languages), context_length=context_length,
                prompt_tokens=prompt, output_tokens=output, peak_qps=section.peak_qps,
                scenario=section.model_dump(mode="json", exclude_none=True), device=device, efficiency=eff,
                placement=placement, candidates=chosen, notes=notes)


def plan_for_project(cfg, hardware=None) -> Plan:
    """`make_plan` for a loaded ProjectConfig; this machine is measured when the plan runs on cpu."""
    return make_plan(cfg.plan, languages=list(cfg.project.languages), context_length=cfg.model.context_length,
                     preset=cfg.model.preset, hardware=hardware, name=cfg.project.name)


def resolve_device(section: PlanSection, hardware) -> Device:
    hw = section.hardware
    if hw.device.lower() != "cpu":
        return gpu_device(hw.device, hw.count, hw.memory_gb)
    if hardware is None:
        from lmstack.hardware.measure import measure

        hardware = measure(budget_s=MEASURE_BUDGET_S)
    return measured_device(hardware, hw.memory_gb if hw.memory_gb is not None else this_machine_memory_gb(),
                           hw.count)


def request_shape(section: PlanSection, context_length: int) -> tuple[int, int]:
    """(prompt, output) tokens per request: the scenario's, or defaults that fit the context."""
    prompt = section.prompt_tokens or min(DEFAULT_PROMPT_TOKENS, context_length // 2)
    output = section.output_tokens or max(1, min(DEFAULT_OUTPUT_TOKENS, context_length - prompt))
    if prompt + output > context_length:
        raise UserError(f"plan: prompt_tokens {prompt} + output_tokens {output} exceed the context length "
                        f"{context_length}", hint="shorten them or raise model.context_length")
    return prompt, output


def _pick(cands: list[Candidate], strategy: str, section: PlanSection) -> list[Candidate]:
    """Up to CANDIDATES_PER_ROLE feasible sizes around the recommended one, smallest first."""
    fitting = [c for c in cands if c.fits_memory]
    if not fitting:
        smallest = min(cands, key=lambda c: c.params)
        raise UserError(f"no candidate model fits in memory: the smallest, {smallest.name}, "
                        f"{'; '.join(smallest.notes)}",
                        hint="declare more devices (plan.hardware.count), a device with more memory, "
                             "or a shorter context (model.context_length)")
    feasible = [c for c in fitting if c.meets_latency]
    if not feasible:
        raise UserError(_latency_message(section, fitting),
                        hint="relax plan.ttft_ms / plan.tpot_ms, shorten prompts (plan.prompt_tokens), "
                             "or declare faster hardware (plan.hardware)")
    feasible.sort(key=lambda c: c.params)
    limit = section.hardware.max_devices
    budget = section.train_budget_hours
    for c in feasible:
        if limit is not None and c.devices > limit:
            c.notes.append(f"needs {c.devices} devices, over max_devices {limit}")
    allowed = [i for i, c in enumerate(feasible) if limit is None or c.devices <= limit]
    if not allowed:
        raise UserError(f"every candidate needs more than plan.hardware.max_devices {limit} devices at "
                        f"peak_qps {section.peak_qps:g}",
                        hint=f"the smallest needs {feasible[0].devices}: raise max_devices or lower peak_qps")
    if strategy == "domain_finetune":
        in_budget = [i for i in allowed if feasible[i].train_hours <= budget]
        best = in_budget[-1] if in_budget else allowed[0]
        chosen = feasible[max(0, best - 1): best + 2]
        for c in chosen:
            if c.train_hours > budget:
                c.notes.append(f"training exceeds train_budget_hours {budget:g}")
    else:  # general and distilled_small: the largest that meets every target, and smaller fallbacks
        best = allowed[-1]
        chosen = feasible[max(0, best - CANDIDATES_PER_ROLE + 1): best + 2]
    feasible[best].recommended = True
    return chosen[-CANDIDATES_PER_ROLE:] if strategy != "domain_finetune" else chosen


def _latency_message(section: PlanSection, fitting: list[Candidate]) -> str:
    fastest = min(fitting, key=lambda c: c.params)
    targets = []
    if section.ttft_ms is not None:
        targets.append(f"ttft_ms {section.ttft_ms:g} (the smallest model, {fastest.name}, needs {fastest.ttft_ms:.0f})")
    if section.tpot_ms is not None and fastest.tpot_ms is not None:
        single = 1e3 / fastest.decode_tokens_per_s
        targets.append(f"tpot_ms {section.tpot_ms:g} (it needs {single:.1f} per token)")
    return "no candidate model meets the latency targets: " + "; ".join(targets)

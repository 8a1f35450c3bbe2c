"""The scenario matrix: where a scenario sits, which strategy follows, and which inputs put it there.

    high-frequency standardised → a general model, served at scale, no training
    low-frequency specialised   → fine-tune a domain model on the data at hand
    real-time                   → a small distilled model that meets tight TTFT/TPOT targets
    mix                         → hybrid: a domain model in front, a general model behind it

Two axes place a scenario, request frequency and how specialised its domain is; tight latency
targets override both. Where the axes pull apart (specialised at high frequency, a mixed domain),
the scenario is a mix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lmstack.plan.config import PlanSection

# 100,000 requests a day is ~1.2 per second on average: past that, per-request cost and
# replicas dominate the choice. A peak of 10 per second marks the same regime.
HIGH_FREQUENCY_PER_DAY = 100_000
HIGH_FREQUENCY_PEAK_QPS = 10.0
# A first token within 200 ms, or 20 ms per token (50 tokens/s, faster than reading): real-time.
REALTIME_TTFT_MS = 200.0
REALTIME_TPOT_MS = 20.0

QUADRANTS = {
    "high_frequency_standardised": "High-frequency standardised",
    "low_frequency_specialised": "Low-frequency specialised",
    "realtime": "Real-time",
    "mix": "Mix",
}
STRATEGIES = {
    "general": "Use a general model as it is (prompting, retrieval); no training",
    "domain_finetune": "Fine-tune a domain model on the data at hand",
    "distilled_small": "Distil a small model from a larger teacher to meet the latency targets",
    "hybrid": "Hybrid: a domain model in front answers in-domain requests, a general model behind it the rest",
}


@dataclass(frozen=True)
class Placement:
    quadrant: str
    strategy: str
    high_frequency: bool
    realtime: bool
    reasons: list[str]

    @property
    def quadrant_label(self) -> str:
        return QUADRANTS[self.quadrant]

    @property
    def strategy_label(self) -> str:
        return STRATEGIES[self.strategy]

    def to_dict(self) -> dict:
        return {**asdict(self), "quadrant_label": self.quadrant_label, "strategy_label": self.strategy_label}


def place(plan: PlanSection) -> Placement:
    """The scenario's quadrant and strategy, with one reason per input that decided them."""
    reasons = []
    high = False
    if plan.requests_per_day is not None and plan.requests_per_day >= HIGH_FREQUENCY_PER_DAY:
        high = True
        reasons.append(f"requests_per_day {plan.requests_per_day:,.0f} ≥ {HIGH_FREQUENCY_PER_DAY:,}: high frequency")
    if plan.peak_qps is not None and plan.peak_qps >= HIGH_FREQUENCY_PEAK_QPS:
        high = True
        reasons.append(f"peak_qps {plan.peak_qps:g} ≥ {HIGH_FREQUENCY_PEAK_QPS:g}: high frequency")
    if not high:
        given = [f"requests_per_day {plan.requests_per_day:,.0f}" if plan.requests_per_day is not None else None,
                 f"peak_qps {plan.peak_qps:g}" if plan.peak_qps is not None else None]
        given = [g for g in given if g]
        reasons.append(f"{' and '.join(given) if given else 'no request rate given'}: low frequency "
                       f"(high from {HIGH_FREQUENCY_PER_DAY:,}/day or {HIGH_FREQUENCY_PEAK_QPS:g} QPS)")
    realtime = False
    if plan.ttft_ms is not None and plan.ttft_ms <= REALTIME_TTFT_MS:
        realtime = True
        reasons.append(f"ttft_ms {plan.ttft_ms:g} ≤ {REALTIME_TTFT_MS:g}: real-time first token")
    if plan.tpot_ms is not None and plan.tpot_ms <= REALTIME_TPOT_MS:
        realtime = True
        reasons.append(f"tpot_ms {plan.tpot_ms:g} ≤ {REALTIME_TPOT_MS:g}: real-time token rate")
    reasons.append(f"domain {plan.domain}")

    if plan.domain == "mixed":
        quadrant, strategy = "mix", "hybrid"
        reasons.append("a mixed domain needs both a domain model and a general one")
        if realtime:
            reasons.append("tight latency: the domain model in front is small, so most requests are answered fast")
    elif realtime:
        quadrant, strategy = "realtime", "distilled_small"
        teacher = "a fine-tuned domain model" if plan.domain == "specialised" else "a larger general model"
        reasons.append(f"latency targets rule out large models: distil {teacher} into a small one")
    elif plan.domain == "specialised" and high:
        quadrant, strategy = "mix", "hybrid"
        reasons.append("specialised but high frequency: a small domain model takes the frequent in-domain "
                       "requests cheaply, a general model behind it the rest")
    elif plan.domain == "specialised":
        quadrant, strategy = "low_frequency_specialised", "domain_finetune"
        reasons.append("specialised and low frequency: a fine-tuned domain model, few replicas")
    else:
        quadrant, strategy = "high_frequency_standardised", "general"
        reasons.append("general domain: a general model needs no training"
                       + ("; high frequency: size for replicas and cost" if high else
                          "; low frequency only lowers the serving cost"))
    if plan.hardware.deployment == "on_premises" and strategy in ("general", "hybrid"):
        reasons.append("on premises: the general model is self-hosted, not a hosted API")
    return Placement(quadrant, strategy, high, realtime, reasons)

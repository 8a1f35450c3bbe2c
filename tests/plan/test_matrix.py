"""Where scenarios land in the matrix, and the reasons given."""

import pytest

from lmstack.plan.config import PlanSection
from lmstack.plan.matrix import place


@pytest.mark.parametrize("scenario,quadrant,strategy", [
    ({"domain": "general", "requests_per_day": 1e6, "peak_qps": 50}, "high_frequency_standardised", "general"),
    ({"domain": "general", "peak_qps": 10}, "high_frequency_standardised", "general"),
    ({"domain": "general", "requests_per_day": 100}, "high_frequency_standardised", "general"),
    ({"domain": "specialised", "requests_per_day": 2000, "peak_qps": 0.5}, "low_frequency_specialised",
     "domain_finetune"),
    ({"domain": "specialised"}, "low_frequency_specialised", "domain_finetune"),
    ({"domain": "general", "ttft_ms": 100}, "realtime", "distilled_small"),
    ({"domain": "specialised", "tpot_ms": 15, "peak_qps": 40}, "realtime", "distilled_small"),
    ({"domain": "mixed", "peak_qps": 3}, "mix", "hybrid"),
    ({"domain": "mixed", "ttft_ms": 100}, "mix", "hybrid"),
    ({"domain": "specialised", "requests_per_day": 500_000}, "mix", "hybrid"),
    ({"domain": "general", "ttft_ms": 201, "tpot_ms": 21}, "high_frequency_standardised", "general"),
])
def test_quadrant_and_strategy(scenario, quadrant, strategy):
    p = place(PlanSection(**scenario))
    assert (p.quadrant, p.strategy) == (quadrant, strategy)


def test_reasons_name_the_inputs_that_decided():
    p = place(PlanSection(domain="specialised", ttft_ms=150, requests_per_day=250_000))
    text = "\n".join(p.reasons)
    assert "requests_per_day 250,000 ≥ 100,000: high frequency" in text
    assert "ttft_ms 150 ≤ 200: real-time first token" in text
    assert "distil a fine-tuned domain model" in text
    assert p.high_frequency and p.realtime


def test_low_frequency_says_what_was_missing():
    assert "no request rate given: low frequency" in place(PlanSection()).reasons[0]


def test_on_premises_hosts_the_general_model():
    p = place(PlanSection(domain="general"))
    assert p.reasons[-1] == "on premises: the general model is self-hosted, not a hosted API"

"""Every scenario in examples/scenarios plans, lands where its comment says, and yields a valid project."""

from pathlib import Path

import pytest

from lmstack.config import load_config
from lmstack.plan.write import write_plan

SCENARIOS = Path(__file__).parents[2] / "examples" / "scenarios"
EXPECTED = {
    "bank-customer-service": ("low_frequency_specialised", ["llama-125m"]),
    "general-faq-gpu": ("high_frequency_standardised", ["qwen2.5-7b-like"]),
    "realtime-autocomplete": ("realtime", ["qwen2.5-0.5b-like"]),
    "hybrid-insurance": ("mix", ["qwen2.5-7b-like", "qwen2.5-14b-like"]),
}


def test_every_scenario_is_covered():
    assert {p.stem for p in SCENARIOS.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario(name, tmp_path, fake_cpu):
    plan = write_plan(SCENARIOS / f"{name}.yaml", tmp_path, hardware=fake_cpu)
    quadrant, recommended = EXPECTED[name]
    assert plan.placement.quadrant == quadrant
    assert [c.name for c in plan.recommended] == recommended
    assert {p.name for p in tmp_path.iterdir()} == {"plan.json", "plan.md", "project.yaml"}
    assert load_config(tmp_path / "project.yaml").project.languages == plan.languages

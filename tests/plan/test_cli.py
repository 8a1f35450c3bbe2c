"""`lmstack plan`: files written on success, exit 2 and a message on bad input."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from lmstack.cli import main
from lmstack.config import load_config

SCENARIOS = Path(__file__).parents[2] / "examples" / "scenarios"


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["lmstack", *args])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_plan_writes_json_markdown_and_a_valid_project(monkeypatch, capsys, tmp_path):
    out = tmp_path / "plan"
    code, stdout, _ = run_main(monkeypatch, capsys, "plan", str(SCENARIOS / "general-faq-gpu.yaml"),
                               "--out", str(out))
    assert code == 0
    assert "High-frequency standardised" in stdout
    data = json.loads((out / "plan.json").read_text())
    assert data["placement"]["strategy"] == "general"
    assert [c["name"] for c in data["candidates"] if c["recommended"]] == ["qwen2.5-7b-like"]
    assert "## Candidates" in (out / "plan.md").read_text()
    assert load_config(out / "project.yaml").model.path == "Qwen/Qwen2.5-7B-Instruct"


def test_a_project_file_is_a_scenario(monkeypatch, capsys, tmp_path):
    src = Path(__file__).parents[2] / "examples" / "customer-service"
    shutil.copytree(src, tmp_path / "cs")
    code, stdout, _ = run_main(monkeypatch, capsys, "plan", str(tmp_path / "cs" / "project.yaml"),
                               "--out", str(tmp_path / "out"), "--no-measure")
    assert code == 0
    data = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert data["name"] == "customer-service" and data["context_length"] == 256
    assert data["placement"]["quadrant"] == "low_frequency_specialised"
    assert any("the project's current preset" in c["notes"] for c in data["candidates"])


@pytest.mark.parametrize("plan_yaml,message", [
    ("task: poetry", "plan.task"),
    ("peak_qps: -3", "plan.peak_qps: Input should be greater than or equal to 0"),
    ("hardware: {device: H1000}", "unknown device 'H1000'"),
    ("tpot_ms: 0.01\n  hardware: {device: T4}", "no candidate model meets the latency targets"),
    ("peek_qps: 3", "did you mean 'peak_qps'?"),
])
def test_bad_input_exits_2_with_a_message(monkeypatch, capsys, tmp_path, plan_yaml, message):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"plan:\n  {plan_yaml}\n", encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "plan", str(scenario), "--out", str(tmp_path / "out"))
    assert code == 2
    assert message in " ".join(err.split())
    assert not (tmp_path / "out").exists()


def test_unknown_gpu_hint_names_the_closest(monkeypatch, capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("plan:\n  hardware: {device: A100-80}\n", encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "plan", str(scenario), "--out", str(tmp_path / "out"))
    assert code == 2 and "did you mean A100-80G?" in err


def test_a_file_without_a_plan_section(monkeypatch, capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("project: {name: x}\n", encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "plan", str(scenario))
    assert code == 2 and "no `plan:` section" in err

"""The project's `eval` section: defaults validate, bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from lmstack.config import ProjectConfig
from lmstack.eval.config import EvalSection

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_validate_and_every_field_is_described():
    section = EvalSection()
    assert section.stride < section.max_length and section.tasks is None
    assert all(f.description for f in EvalSection.model_fields.values())


def test_a_project_without_an_eval_section_gets_the_defaults():
    raw = yaml.safe_load((ROOT / "examples" / "customer-service" / "project.yaml").read_text())
    raw.pop("eval")
    assert ProjectConfig.model_validate(raw).eval == EvalSection()


def test_example_project_evaluates_its_tasks():
    from lmstack.config import load_config

    cfg = load_config(ROOT / "examples" / "customer-service" / "project.yaml")
    assert cfg.eval.tasks == (ROOT / "examples" / "customer-service" / "eval.yaml").resolve()


@pytest.mark.parametrize("bad", [{"stride": 1024, "max_length": 1024}, {"metric": ["bleu"]}, {"metrics": ["blue"]}])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValidationError):
        EvalSection(**bad)


def test_tasks_path_is_relative_to_the_project_file(tmp_path):
    from lmstack.config.loader import load_config

    raw = yaml.safe_load((ROOT / "examples" / "customer-service" / "project.yaml").read_text())
    raw["eval"] = {"tasks": "eval.yaml"}
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_config(tmp_path / "project.yaml").eval.tasks == tmp_path.resolve() / "eval.yaml"

"""Read a scenario file: a `plan:` section, optionally with `project:` and `model:` beside it.

A whole project.yaml is a scenario file too: its `project:` gives the name and languages, its
`model:` the context length and preset, and the rest of it is validated as a project.

    plan:
      task: qa
      domain: specialised
      peak_qps: 5
      hardware: {device: L4, count: 1, price_per_device_hour: 0.8}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lmstack.errors import UserError
from lmstack.config.schema import ModelSection, ProjectSection
from lmstack.plan.config import PlanSection

PROJECT_SECTIONS = ("data", "train", "finetune", "eval", "bench", "serve")


class _Scenario(BaseModel):
    """What the planner reads of a scenario file; other sections are a project's (validated by load_config)."""

    model_config = ConfigDict(extra="allow")
    project: ProjectSection = Field(description="Name and languages (name defaults to the file's stem).")
    plan: PlanSection = Field(description="The scenario.")
    model: ModelSection = Field(default_factory=ModelSection, description="Context length and preset.")


@dataclass(frozen=True)
class Scenario:
    plan: PlanSection
    name: str
    languages: list[str]
    context_length: int
    preset: str | None


def load_scenario(path: str | Path) -> Scenario:
    """The scenario in `path`, every mistake reported with its line and a hint."""
    from lmstack.config.loader import format_validation_error, read_yaml_file

    path = Path(path)
    data, lines = read_yaml_file(path, "scenario", hint="examples/scenarios/ holds scenario files to start from",
                                 example="`plan: {task: qa, domain: specialised, peak_qps: 5}`")
    if "plan" not in data:
        raise UserError(f"{path}: no `plan:` section", hint="a scenario is a `plan:` section (task, domain, peak_qps, "
                                                            "ttft_ms, hardware, …); see examples/scenarios/")
    project_data = dict(data.get("project") or {})
    project_data.setdefault("name", path.stem)
    try:
        scenario = _Scenario.model_validate({"project": project_data, "plan": data["plan"] or {},
                                             "model": data.get("model") or {}},
                                            context={"base_dir": path.parent.resolve()})
    except ValidationError as e:
        raise UserError(format_validation_error(e, str(path), lines, {}),
                        hint="`lmstack config schema` lists every plan field with its type and description") from None
    if any(section in data for section in PROJECT_SECTIONS):
        from lmstack.config.loader import load_config

        load_config(path)  # a whole project: every section must be valid, not only the ones planned from
    is_project = any(section in data for section in PROJECT_SECTIONS)
    # A plan-only file that names no preset has none: the schema's default is nobody's choice.
    chosen = is_project or "preset" in (data.get("model") or {})
    return Scenario(plan=scenario.plan, name=scenario.project.name, languages=list(scenario.project.languages),
                    context_length=scenario.model.context_length, preset=scenario.model.preset if chosen else None)

"""What `lmstack plan` does end to end: read the scenario, plan, show it, write plan.json, plan.md, project.yaml.

    >>> write_plan("examples/scenarios/bank-customer-service.yaml", "plan")   # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from lmstack.atomic import write_json, write_text
from lmstack.plan.planner import Plan, make_plan
from lmstack.plan.scenario import load_scenario


def write_plan(scenario_path: str | Path, out: str | Path, *, measure_machine: bool = True,
               hardware=None, console: Console | None = None) -> Plan:
    """Plan the scenario in `scenario_path` and write the three files into `out`.

    On cpu this machine is measured unless `hardware` (Measurements) is given, or `measure_machine`
    is False (the reference machine's figures, `lmstack.plan.hardware.REFERENCE_CPU`, stand in).
    The generated project.yaml is loaded with `load_config` before it is kept.
    """
    from lmstack.config.loader import load_config
    from lmstack.plan.hardware import REFERENCE_CPU
    from lmstack.plan.project import project_yaml
    from lmstack.plan.render import render_console, render_markdown

    scenario = load_scenario(scenario_path)
    if hardware is None and not measure_machine:
        hardware = REFERENCE_CPU
    plan = make_plan(scenario.plan, languages=scenario.languages, context_length=scenario.context_length,
                     preset=scenario.preset, hardware=hardware, name=scenario.name)
    if console is not None:
        render_console(plan, console)
    project = project_yaml(plan)
    with tempfile.TemporaryDirectory() as tmp:  # the file must be one lmstack accepts before it is kept
        (Path(tmp) / "project.yaml").write_text(project, encoding="utf-8")
        load_config(Path(tmp) / "project.yaml")
    out = Path(out)
    write_text(out / "project.yaml", project)
    write_json(out / "plan.json", plan.to_dict())
    write_text(out / "plan.md", render_markdown(plan))
    return plan

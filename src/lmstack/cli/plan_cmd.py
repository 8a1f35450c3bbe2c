"""`lmstack plan <scenario.yaml>`: step one, scenario fit and model selection."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def plan(
    scenario: Path = typer.Argument(..., help="Scenario YAML (a `plan:` section) or a whole project.yaml."),
    out: Path = typer.Option(Path("plan"), "--out", help="Folder for plan.json, plan.md and project.yaml."),
    no_measure: bool = typer.Option(
        False, "--no-measure",
        help="On cpu, use the reference machine's recorded bandwidth and FLOP/s instead of measuring this one.",
    ),
) -> None:
    """Place a scenario in the matrix, size two or three candidate models, and write a project.yaml."""
    from lmstack.plan.write import write_plan

    console = Console()
    plan_ = write_plan(scenario, out, measure_machine=not no_measure, console=console)
    console.print(f"Wrote {out / 'plan.json'}, {out / 'plan.md'} and {out / 'project.yaml'} "
                  f"({plan_.placement.quadrant_label}).")

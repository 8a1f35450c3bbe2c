"""`lmstack env`."""

from __future__ import annotations

import json

import typer
from rich.console import Console


def env(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    measure: bool = typer.Option(True, "--measure/--no-measure", help="Measure memory bandwidth and matmul FLOP/s (a few seconds)."),
) -> None:
    """Versions, device, threads, bf16 support, and measured bandwidth and FLOP/s of this machine."""
    from lmstack.hardware.report import env_report, render_env

    report = env_report(measure_speed=measure)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        render_env(report, Console())

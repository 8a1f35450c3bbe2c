"""`lmstack data run|ops`: clean data with a recipe, list the cleaning operators."""

from __future__ import annotations

import json
from pathlib import Path

from enum import Enum

import typer
from rich import box
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Data preparation: cleaning recipes and their operators.", no_args_is_help=True)


class Executor(str, Enum):
    local = "local"
    ray = "ray"


@app.command("run")
def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML: inputs, steps, removal budget."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: the recipe's output_dir)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder the recipe's inputs are relative to (default: the recipe's base_dir)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole JSON report."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write report.html (charts) beside report.json."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (rows/s, ETA) on stderr."),
    num_proc: int | None = typer.Option(None, "--num-proc", "-j", min=1,
                                        help="Worker processes (Ray actors) for the per-row steps (default: the recipe's num_proc, else 1)."),
    executor: Executor | None = typer.Option(None, "--executor",
                                        help="local: worker processes; ray: Ray Data (the lmstack ray extra; RAY_ADDRESS picks a cluster)."),
) -> None:
    """Clean the recipe's inputs: kept rows, exclusions per step, rejects, report.json and report.html in the output folder."""
    from lmstack.data.clean import clean
    from lmstack.data.html_report import write_html_report
    from lmstack.data.recipe import load_recipe

    loaded = load_recipe(recipe, base_dir=data_dir)
    report = clean(loaded, out, progress=progress, num_proc=num_proc,
                   executor=executor.value if executor is not None else None)
    page = write_html_report(out if out is not None else loaded.output_dir) if html else None
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    console = Console()
    table = Table(title=f"kept {report['rows_kept']} of {report['rows_read']} rows "
                        f"(removed {report['removed_share']:.2%}, budget {report['budget']['max_removed_ratio']:.0%})",
                  box=box.SIMPLE_HEAD)
    for col in ("step", "op", "removed", "share", "changed"):
        table.add_column(col, justify="right" if col in ("removed", "share", "changed") else "left")
    for row in report["operators"]:
        table.add_row(row["step"], row["op"], str(row["removed"]), f"{row['removed_share']:.2%}", str(row["changed"]))
    console.print(table)
    for r in report["budget"]["relaxed"]:
        console.print(f"relaxed {r['step']}.{r['param']} = {r['value']!r} (removed {r['removed_share_before']:.2%} before)")
    if report["rejected"]:
        console.print(f"rejected rows: {report['rejected']}")
    if "noise" in report:
        noise = Table(title="removal and masking against the noise sidecar", box=box.SIMPLE_HEAD)
        for col in ("noise", "planted", "caught", "recall", "precision"):
            noise.add_column(col, justify="left" if col == "noise" else "right")
        for name, s in report["noise"]["by_noise"].items():
            noise.add_row(name, str(s["planted"]), str(s["caught"]), _pct(s["recall"]), _pct(s["precision"]))
        console.print(noise)
    if page is not None:
        console.print(f"report: {page}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


@app.command("ops")
def ops(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The cleaning operators with their parameters and defaults."""
    from lmstack.data.ops import describe

    rows = describe()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    console = Console()
    for row in rows:
        table = Table(title=f"{row['name']} ({row['family']}): {row['summary']}", title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("parameter", "type", "default", "description"):
            table.add_column(col)
        for p in row["params"]:
            table.add_row(p["name"], p["type"], repr(p["default"]), p["description"])
        console.print(table)

"""`lmstack models presets|info`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Model presets and checkpoints.", no_args_is_help=True)


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


@app.command("presets")
def presets(
    arch: str | None = typer.Option(None, "--arch", help="Only this architecture: causal_lm, seq2seq, moe, dual_encoder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The from-scratch model presets with their parameter counts."""
    from lmstack.models.presets import preset_table

    rows = [r for r in preset_table() if arch is None or r["arch"] == arch]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="lmstack model presets")
    for col in rows[0] if rows else ["name"]:
        table.add_column(col, justify="right" if col not in ("name", "arch", "description") else "left")
    for r in rows:
        table.add_row(*[_human(v) if k in ("params", "active_params") else ("-" if v is None else str(v)) for k, v in r.items()])
    Console().print(table)


@app.command("info")
def info(
    folder: Path = typer.Argument(..., help="A Hugging Face model folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Architecture, parameter count, dtype, context and tokenizer of a checkpoint, without loading it."""
    from lmstack.models.info import model_info

    data = model_info(folder)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    table = Table(title=str(folder), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for k, v in data.items():
        if k == "files":
            v = ", ".join(v)
        elif k in ("params",):
            v = f"{_human(v)} ({v:,})"
        table.add_row(k, "-" if v is None else str(v))
    Console().print(table)

"""`lmstack models presets|info`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich import box
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
    table = Table(title="model presets (parameters at the default vocabulary)", box=box.SIMPLE_HEAD,
                  caption="--json adds a description of each")
    for col in ("name", "arch", "params", "active", "layers", "hidden", "heads/kv", "experts", "ctx", "vocab"):
        table.add_column(col, justify="left" if col in ("name", "arch") else "right", no_wrap=True)
    for r in rows:
        table.add_row(r["name"], r["arch"], _human(r["params"]), _human(r["active_params"]), str(r["layers"]),
                      str(r["hidden"]), f"{r['heads']}/{r['kv_heads']}", str(r["experts"] or "-"), str(r["context"]),
                      str(r["vocab_size"]))
    # A pipe or a file gets whole rows; a terminal gets its own width.
    Console(width=None if sys.stdout.isatty() else 120).print(table)


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
            v = "\n".join(f"{f['name']} ({f['bytes']:,} bytes)" for f in v)
        elif k == "parameters" and v is not None:
            v = f"{_human(v)} ({v:,})"
        table.add_row(k, "-" if v is None else str(v))
    Console().print(table)

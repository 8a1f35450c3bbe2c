"""`lmstack run`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

from lmstack.cli.config_cmd import OVERRIDE_HELP


def run(
    project: Path = typer.Argument(..., help="Project YAML file."),
    override: list[str] = typer.Option([], "--override", "-o", help=OVERRIDE_HELP),
    force: bool = typer.Option(False, "--force", help="Rerun stages even when they are up to date."),
    only: str | None = typer.Option(None, "--only", help="Run just this stage (data, tokenizer, train, eval); earlier ones must have finished."),
) -> None:
    """Run the project's stages in order; stages whose inputs and config are unchanged are skipped."""
    from lmstack.config import load_config
    from lmstack.pipeline import run_project

    cfg = load_config(project, override)
    console = Console(stderr=True)
    done = run_project(cfg, force=force, only=only, console=console)
    train = done.get("train")
    if train is not None:
        m = train.manifest["metrics"]
        lines = [f"steps {m['steps']}, train loss {m['train_loss']}, {m['tokens_per_s']:,.0f} tokens/s"]
        if "val_loss" in m:
            lines.append(f"validation loss {m['val_loss']} (perplexity {m['val_perplexity']})")
        samples = [json.loads(s) for s in train.output("samples").read_text(encoding="utf-8").splitlines()]
        for s in samples:
            lines.append(f"\n[bold]{s['prompt'].strip()}[/bold]\n→ {s['completion'].strip()}")
        console.print(Panel("\n".join(lines), title="model", expand=False))
        console.print(f"model: {train.output('model')}\n"
                      f"try it: lmstack generate {train.output('model')} \"<prompt>\"")
    evaluation = done.get("eval")
    if evaluation is not None and "report" in evaluation.manifest["outputs"]:
        console.print(f"evaluation report: {evaluation.output('report')}")
    console.print(f"run directory: {cfg.run_root}")

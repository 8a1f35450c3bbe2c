"""`lmstack run`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

from lmstack.cli.config_cmd import OVERRIDE_HELP

STAGE_NAMES = "plan, data, tokenizer, train, finetune, eval, bench, report"


def run(
    project: Path = typer.Argument(..., help="Project YAML file."),
    override: list[str] = typer.Option([], "--override", "-o", help=OVERRIDE_HELP),
    force: bool = typer.Option(False, "--force", help="Rerun stages even when they are up to date."),
    only: str | None = typer.Option(None, "--only", help=f"Run just this stage ({STAGE_NAMES}); the stages it "
                                                          "reads must have finished."),
    start: str | None = typer.Option(None, "--from", help="Rerun this stage and every later one; earlier stages are "
                                                           "taken as they finished."),
    serve: bool = typer.Option(False, "--serve", help="At the end, serve the final model with the project's `serve` "
                                                      "settings (127.0.0.1:8000 by default) until Ctrl-C."),
) -> None:
    """Run the four-step method: plan → data → tokenizer → train → finetune → eval → bench → report.

    Stages whose inputs and config are unchanged are skipped; a run killed at any point continues where it stopped. The run ends with one HTML report (runs/<project>/report/index.html).
    """
    from lmstack.config import load_config
    from lmstack.pipeline import run_project

    cfg = load_config(project, override)
    console = Console(stderr=True)
    done = run_project(cfg, force=force, only=only, start=start, console=console)
    plan = done.get("plan")
    if plan is not None and "quadrant" in plan.manifest["metrics"]:
        m = plan.manifest["metrics"]
        console.print(f"plan: {m['quadrant']} → {m['strategy']}; candidates in {plan.output('markdown')}")
    for name in ("train", "finetune"):
        outcome = done.get(name)
        if outcome is not None and "model" in outcome.manifest["outputs"]:
            _show_training(console, name, outcome)
    evaluation = done.get("eval")
    if evaluation is not None and "report" in evaluation.manifest["outputs"]:
        console.print(f"evaluation report: {evaluation.output('report')}")
    console.print(f"run directory: {cfg.run_root}")
    report = done.get("report")
    if report is not None:
        console.print(f"[bold green]report:[/bold green] {report.output('report')}")
    if serve:
        _serve(cfg, done, console)


def _show_training(console: Console, name: str, outcome) -> None:
    m = outcome.manifest["metrics"]
    lines = [", ".join(f"{k.replace('_', ' ')} {m[k]:,}" if isinstance(m[k], int) else f"{k.replace('_', ' ')} {m[k]}"
                       for k in ("steps", "train_loss", "tokens_per_s") if k in m)]
    if "val_loss" in m:
        lines.append(f"validation loss {m['val_loss']} (perplexity {m.get('val_perplexity')})")
    samples = [json.loads(s) for s in outcome.output("samples").read_text(encoding="utf-8").splitlines()]
    for s in samples:
        lines.append(f"\n[bold]{s['prompt'].strip()}[/bold]\n→ {s['completion'].strip()}")
    console.print(Panel("\n".join(lines), title=f"{name}: {outcome.manifest['config']['train']['recipe']}", expand=False))
    recipe = outcome.manifest["config"]["train"]["recipe"]
    if recipe == "contrastive":
        hint = f"serve its embeddings: lmstack serve --model NAME={outcome.output('model')}"
    else:
        hint = f"try it: lmstack generate {outcome.output('model')} {'--chat ' if recipe == 'sft' else ''}\"<prompt>\""
    console.print(f"model: {outcome.output('model')}\n{hint}")


def _serve(cfg, done, console: Console) -> None:
    from lmstack.pipeline.common import final_model
    from lmstack.serve.server import ModelSpec, serve

    spec = ModelSpec(name=cfg.project.name, path=str(final_model(done)))  # the kind comes from its config.json
    console.print(f"serving {spec.name} from {spec.path} on http://{cfg.serve.host}:{cfg.serve.port}/v1 (Ctrl-C stops)")
    serve([spec], cfg.serve, device=cfg.model.device, dtype=cfg.model.dtype)

"""`lmstack eval`: run eval tasks against a model, compare results, score interaction logs."""

from __future__ import annotations

import re
from pathlib import Path

import typer

app = typer.Typer(help="Evaluate models: quality metrics on tasks, side-by-side comparison, business metrics.",
                  no_args_is_help=True)


def default_out_dir(tasks: Path, model: str) -> Path:
    """runs/eval/<tasks file stem>/<model, made file-name safe>."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model.rstrip("/").split("://")[-1]).strip("_")
    return Path("runs") / "eval" / tasks.stem / slug


@app.command("run")
def run(
    tasks: Path = typer.Argument(..., help="Tasks YAML file (see examples/customer-service/eval.yaml)."),
    model: str = typer.Option(..., "--model", "-m", help="Model folder, or an OpenAI-compatible base URL "
                                                        "(http://127.0.0.1:8000/v1)."),
    out: Path = typer.Option(None, "--out", "-o", help="Results folder [default: runs/eval/<tasks>/<model>]."),
    task: list[str] = typer.Option([], "--task", "-t", help="Run only this task (repeatable)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Local model: prompts generated at once."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Endpoint: requests in flight."),
    retries: int = typer.Option(3, "--retries", min=0, help="Endpoint: retries per request, with exponential back-off."),
    served_model: str = typer.Option(None, "--served-model", help="Endpoint: model name [default: the only one served]."),
    tokenizer: Path = typer.Option(None, "--tokenizer", help="Local model: tokenizer folder, for checkpoints saved without one."),
    device: str = typer.Option("auto", "--device", help="Local model: auto | cpu | cuda | mps."),
    dtype: str = typer.Option("auto", "--dtype", help="Local model: auto | float32 | bfloat16 | float16."),
    restart: bool = typer.Option(False, "--restart", help="Discard saved per-example results instead of resuming."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Coverage of the score intervals."),
) -> None:
    """Run every task against one model; an interrupted run resumes where it stopped."""
    from rich.console import Console

    from lmstack.eval.run import evaluate
    from lmstack.eval.runners import open_runner

    runner = open_runner(model, batch_size=batch_size, tokenizer=str(tokenizer) if tokenizer else None, device=device,
                         dtype=dtype, served_model=served_model, concurrency=concurrency, retries=retries)
    out_dir = out or default_out_dir(tasks, model)
    record = evaluate(tasks, runner, out_dir, only=task, restart=restart, confidence=confidence)
    console = Console()
    for name, result in record["tasks"].items():
        scores = ", ".join(f"{k} {v:.4g} [{m['intervals'][k][0]:.4g}, {m['intervals'][k][1]:.4g}]"
                           for m in result["metrics"].values() for k, v in m["scores"].items())
        console.print(f"[bold]{name}[/bold] ({result['dataset']['examples']} examples): {scores}")
    console.print(f"results: {out_dir / 'results.json'}")


@app.command("compare")
def compare_cmd(
    results: list[Path] = typer.Argument(..., help="results.json files; the first is the baseline."),
    resamples: int = typer.Option(1000, "--resamples", min=10, help="Bootstrap resamples for the intervals."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Interval coverage."),
) -> None:
    """Side-by-side table: each model's scores and its difference from the baseline, with an interval."""
    from rich.console import Console
    from rich.table import Table

    from lmstack.eval.compare import compare, load_record, model_label

    records = [load_record(p) for p in results]
    rows = compare(records, resamples=resamples, confidence=confidence)
    table = Table(title=f"difference vs {model_label(records[0])} ({confidence:.0%} paired bootstrap)")
    table.add_column("task")
    table.add_column("score")
    for i, record in enumerate(records):
        table.add_column(f"[{i}] {model_label(record)}", justify="right")
    for row in rows:
        cells = [f"{row.values[0]:.4g}" if row.values[0] is not None else "–"]
        for value, diff, ci in zip(row.values[1:], row.differences[1:], row.intervals[1:]):
            if value is None:
                cells.append("–")
                continue
            text = f"{value:.4g} ({diff:+.3g}"
            text += f" [{ci[0]:+.3g}, {ci[1]:+.3g}])" if ci else ")"
            cells.append(text)
        table.add_row(row.task, row.score, *cells)
    Console().print(table)


@app.command("report")
def report(
    results: list[Path] = typer.Argument(..., help="results.json files; the first is the baseline."),
    out: Path = typer.Option(Path("eval-report.html"), "--out", "-o", help="HTML file to write."),
    worst: int = typer.Option(10, "--worst", min=0, help="Worst examples listed per task and model."),
    resamples: int = typer.Option(1000, "--resamples", min=10, help="Bootstrap resamples for the intervals."),
) -> None:
    """One HTML page: a bar chart per score and model, differences with intervals, worst examples."""
    from lmstack.eval.compare import load_record
    from lmstack.eval.report import write_report

    path = write_report([load_record(p) for p in results], out, paths=[str(p) for p in results], worst=worst,
                        resamples=resamples)
    typer.echo(f"report: {path}")


@app.command("business")
def business(
    log: Path = typer.Argument(..., help="Interaction log: JSON lines with session_id, turns, resolved, rating, thumbs."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Interval coverage."),
) -> None:
    """Task completion rate and user satisfaction from logged sessions, with Wilson intervals."""
    from rich.console import Console

    from lmstack.eval.business import business_metrics

    report = business_metrics(log, confidence)
    console = Console()
    console.print(f"sessions: {report.sessions}, mean turns: {report.mean_turns:.2f}")
    for label, est in [("task completion", report.completion), ("mean rating", report.mean_rating),
                       ("CSAT (rating ≥ 4)", report.csat), ("thumbs up", report.thumbs_up)]:
        if est.value is None:
            console.print(f"{label}: no sessions carry it")
        else:
            lo, hi = est.interval
            console.print(f"{label}: {est.value:.3f} [{lo:.3f}, {hi:.3f}] (n={est.n})")
    for bad in report.bad_rows:
        console.print(f"[yellow]skipped line {bad.line}:[/yellow] {bad.reason}")

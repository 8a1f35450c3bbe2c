"""`lmstack eval`: run eval tasks against a model, compare results, score interaction logs."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from lmstack.errors import UserError

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
    bench: list[str] = typer.Option([], "--bench", help="bench.json from `lmstack bench serve` of this model, a folder "
                                                        "of them or a glob (repeatable; a file per load shape): its "
                                                        "QPS and latencies are stored beside the quality scores."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder where relative dataset paths are looked up first "
                                                           "(then beside the tasks file)."),
) -> None:
    """Run every task against one model; an interrupted run resumes where it stopped."""
    from rich.console import Console

    from lmstack.eval.efficiency import load_efficiency
    from lmstack.eval.run import evaluate
    from lmstack.eval.runners import open_runner

    efficiency = load_efficiency(bench)  # a bad file fails before any model call
    runner = open_runner(model, batch_size=batch_size, tokenizer=str(tokenizer) if tokenizer else None, device=device,
                         dtype=dtype, served_model=served_model, concurrency=concurrency, retries=retries)
    out_dir = out or default_out_dir(tasks, model)
    record = evaluate(tasks, runner, out_dir, only=task, restart=restart, confidence=confidence, efficiency=efficiency,
                      data_dir=data_dir)
    console = Console()
    for name, result in record["tasks"].items():
        scores = ", ".join(f"{k} {v:.4g} [{m['intervals'][k][0]:.4g}, {m['intervals'][k][1]:.4g}]"
                           for m in result["metrics"].values() for k, v in m["scores"].items())
        console.print(f"[bold]{name}[/bold] ({result['dataset']['examples']} examples): {scores}")
    _print_efficiency(console, [efficiency], ["this model"])
    console.print(f"results: {out_dir / 'results.json'}")


def _print_efficiency(console, benches: list, labels: list[str]) -> None:
    """One model with one load shape: a line per figure; several models with one each: side by side;
    else a table per model with a row per load shape."""
    from rich.table import Table

    from lmstack.eval.efficiency import bench_entries, efficiency_rows, load_shape_table

    entries = [bench_entries(b) for b in benches]
    if not any(entries):
        return
    if len(entries) == 1 and len(entries[0]) == 1:
        for label, (cell,) in efficiency_rows(entries[0]):
            console.print(f"[bold]{label}[/bold]: {cell}")
    elif all(len(e) <= 1 for e in entries):
        table = Table(title="serving efficiency (lmstack bench serve)")
        table.add_column("")
        for label in labels:
            table.add_column(label, justify="right")
        for label, cells in efficiency_rows([e[0] if e else None for e in entries]):
            table.add_row(label, *cells)
        console.print(table)
    else:
        for label, model_entries in zip(labels, entries):
            if not model_entries:
                continue
            header, rows = load_shape_table(model_entries)
            table = Table(title=f"serving efficiency of {label} by load shape (lmstack bench serve)")
            for i, name in enumerate(header):
                table.add_column(name, justify="left" if i == 0 else "right")
            for row in rows:
                table.add_row(*row)
            console.print(table)


def _records_with_benches(results: list[Path], bench: list[str]) -> list[dict]:
    """The records, with each `--bench NAME=bench.json` attached (replacing one stored by `eval run --bench`)."""
    from lmstack.eval.compare import load_record, model_label
    from lmstack.eval.efficiency import load_efficiency, parse_bench_options

    records = [load_record(p) for p in results]
    for i, paths in parse_bench_options(bench, [model_label(r) for r in records]).items():
        records[i]["efficiency"] = load_efficiency(paths)
    return records


_BENCH_HELP = ("NAME=bench.json: attach a `lmstack bench serve` result to a model; NAME is its position (0 = first "
               "results file) or its label; the path may be a folder of bench.json files or a glob. Repeat NAME for "
               "several load shapes of one model.")


@app.command("compare")
def compare_cmd(
    results: list[Path] = typer.Argument(..., help="results.json files; the first is the baseline."),
    resamples: int = typer.Option(1000, "--resamples", min=10, help="Bootstrap resamples for the intervals."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Interval coverage."),
    bench: list[str] = typer.Option([], "--bench", help=_BENCH_HELP),
) -> None:
    """Side-by-side table: each model's scores and its difference from the baseline, with an interval;
    then the serving efficiency of the models that have a bench result."""
    from rich.console import Console
    from rich.table import Table

    from lmstack.eval.compare import compare, model_label

    records = _records_with_benches(results, bench)
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
    console = Console()
    console.print(table)
    _print_efficiency(console, [r.get("efficiency") for r in records],
                      [f"[{i}] {model_label(r)}" for i, r in enumerate(records)])


@app.command("report")
def report(
    results: list[Path] = typer.Argument(..., help="results.json files; the first is the baseline."),
    out: Path = typer.Option(Path("eval-report.html"), "--out", "-o", help="HTML file to write."),
    worst: int = typer.Option(10, "--worst", min=0, help="Worst examples listed per task and model."),
    resamples: int = typer.Option(1000, "--resamples", min=10, help="Bootstrap resamples for the intervals."),
    bench: list[str] = typer.Option([], "--bench", help=_BENCH_HELP),
) -> None:
    """One HTML page: a bar chart per score and model, differences with intervals, worst examples,
    and the serving efficiency of models with bench results: TTFT / E2E latency CDFs, and with several
    load shapes a row per load shape and throughput against latency."""
    from lmstack.eval.report import write_report

    path = write_report(_records_with_benches(results, bench), out, paths=[str(p) for p in results], worst=worst,
                        resamples=resamples)
    typer.echo(f"report: {path}")


@app.command("models")
def models_cmd(
    tasks: Path = typer.Argument(..., help="Tasks YAML file."),
    model: list[str] = typer.Option(..., "--model", "-m", help="NAME=folder or NAME=URL (repeatable); the first is "
                                                               "the baseline."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for <NAME>/results.json, report.html, summary.json."),
    bench: list[str] = typer.Option([], "--bench", help="NAME=bench.json from `lmstack bench serve`, or a folder of "
                                                        "them or a glob (repeatable; repeat NAME for several load "
                                                        "shapes)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Local models: prompts generated at once."),
    device: str = typer.Option("auto", "--device", help="Local models: auto | cpu | cuda | mps."),
    resamples: int = typer.Option(1000, "--resamples", min=10, help="Bootstrap resamples for the intervals."),
) -> None:
    """Evaluate several models on the same tasks; one HTML report and a summary of the differences."""
    from lmstack.eval.multi import evaluate_models

    benches: dict[str, list[str]] = {}
    for option in bench:
        name, sep, value = option.partition("=")
        if not sep or not name or not value:
            raise UserError(f"--bench {option!r} is not NAME=bench.json", hint="e.g. --bench tuned=bench/c8/bench.json")
        benches.setdefault(name, []).append(value)
    summary = evaluate_models(tasks, _pairs(model, "--model"), out, benches=benches,
                              batch_size=batch_size, device=device, resamples=resamples)
    for task, scores in summary["tasks"].items():
        for score, entry in scores.items():
            diffs = "".join(f", {n} {d['value']:+.3g}" + (f" [{d['interval'][0]:+.3g}, {d['interval'][1]:+.3g}]"
                                                          if d["interval"] else "")
                            for n, d in entry["differences"].items() if d["value"] is not None)
            typer.echo(f"{task} {score}: {summary['baseline']} {entry['scores'][summary['baseline']]:.4g}{diffs}")
    typer.echo(f"report: {summary['report']}")


def _pairs(options: list[str], flag: str) -> dict[str, str]:
    out = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name or not value:
            raise UserError(f"{flag} {option!r} is not NAME=VALUE", hint=f"e.g. {flag} base=models/base")
        if name in out:
            raise UserError(f"{flag} names {name!r} twice")
        out[name] = value
    return out


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


@app.command("export-usage")
def export_usage_cmd(
    db_url: str = typer.Option(None, "--db-url", help="The server's database [default: LMSTACK_DB_URL, else "
                                                      "sqlite:///lmstack-serve.db]."),
    out: Path = typer.Option(..., "--out", "-o", help="JSON-lines interaction log to write."),
    session_by: str = typer.Option("request", "--session-by", help="request | key | key-day: what one session is."),
    model: str = typer.Option(None, "--model", help="Only this model's requests."),
) -> None:
    """Export the usage ledger as an interaction log for `lmstack eval business`.

    The ledger records no outcome or rating, so the sessions carry no resolved/rating/thumbs:
    completion and satisfaction need them joined in from your feedback store.
    """
    from lmstack.eval.usage_export import export_usage
    from lmstack.serve.db.migrate import resolve_db_url

    done = export_usage(resolve_db_url(db_url), out, session_by=session_by, model=model)
    typer.echo(f"{done.requests} requests → {done.sessions} sessions (by {session_by}): {done.path}")

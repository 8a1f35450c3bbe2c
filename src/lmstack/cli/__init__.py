"""The `lmstack` command: thin typer commands that parse arguments and call library functions.

One module per command group; this one assembles them and turns `UserError`s into one clear
message and a non-zero exit (`--debug`, or LMSTACK_DEBUG=1, shows the traceback).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from lmstack import __version__
from lmstack.cli import (
    config_cmd,
    data_cmd,
    env_cmd,
    eval_cmd,
    export_cmd,
    generate_cmd,
    models_cmd,
    plan_cmd,
    run_cmd,
    serve_cmd,
    tokenizer_cmd,
    train_cmd,
)
from lmstack.errors import UserError

app = typer.Typer(
    name="lmstack",
    help="lmstack: from a business scenario to a served, measured large model "
         "(plan → data → train → eval → serve).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lmstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    _state["debug"] = debug


app.command("env")(env_cmd.env)
app.command("generate")(generate_cmd.generate)
app.command("plan")(plan_cmd.plan)
app.command("run")(run_cmd.run)
app.command("train")(train_cmd.train)
app.command("export")(export_cmd.export)
app.command("serve")(serve_cmd.serve)
app.command("usage")(serve_cmd.usage)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data_cmd.app, name="data")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(models_cmd.app, name="models")
app.add_typer(tokenizer_cmd.app, name="tokenizer")
app.add_typer(serve_cmd.keys_app, name="keys")

bench_app = typer.Typer(help="Benchmarks: load tests of OpenAI-compatible servers.", no_args_is_help=True)
bench_app.command("serve")(serve_cmd.bench_serve)
app.add_typer(bench_app, name="bench")


def main() -> None:
    try:
        app()
    except UserError as e:
        if _state["debug"] or os.environ.get("LMSTACK_DEBUG") == "1":
            raise
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"[bold red]error:[/bold red] {e.message}", markup=True)
        if e.hint:
            err.print(f"[yellow]hint:[/yellow] {e.hint}")
        sys.exit(2)

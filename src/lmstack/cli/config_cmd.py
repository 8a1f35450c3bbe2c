"""`lmstack config show|schema|validate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from lmstack.atomic import write_json
from lmstack.config import config_schema, dump_config, load_config
from lmstack.errors import UserError

app = typer.Typer(help="Show, validate and describe project files.", no_args_is_help=True)

OVERRIDE_HELP = "Dotted override, repeatable: -o train.lr=3e-4 -o model.preset=llama-20m."


@app.command("show")
def show(
    project: Path = typer.Argument(..., help="Project YAML file."),
    override: list[str] = typer.Option([], "--override", "-o", help=OVERRIDE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
) -> None:
    """Print the project with every default filled in and overrides applied."""
    cfg = load_config(project, override)
    typer.echo(json.dumps(cfg.model_dump(mode="json"), indent=2, ensure_ascii=False) if as_json else dump_config(cfg))


@app.command("schema")
def schema(out: Path | None = typer.Option(None, "--out", help="Write to this file instead of stdout.")) -> None:
    """Print the JSON Schema of project files (for editors: yaml-language-server)."""
    data = config_schema()
    if out is None:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        write_json(out, data)
        typer.echo(f"wrote {out}")


@app.command("validate")
def validate(
    projects: list[Path] = typer.Argument(..., help="Project YAML files."),
    override: list[str] = typer.Option([], "--override", "-o", help=OVERRIDE_HELP),
) -> None:
    """Check project files; print every problem with its file, line and field."""
    console = Console(highlight=False)
    failed = 0
    for path in projects:
        try:
            load_config(path, override)
            console.print(f"[green]ok[/green]   {path}")
        except UserError as e:
            failed += 1
            console.print(f"[red]fail[/red] {e.message}")
    if failed:
        raise UserError(f"{failed} of {len(projects)} project file(s) are invalid",
                        hint="fix the fields named above; `lmstack config schema` describes each")

"""`lmstack train`: the project's stages up to and including training."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from lmstack.cli.config_cmd import OVERRIDE_HELP


def interrupted_checkpoints(run_root: Path) -> Path | None:
    """The checkpoints folder of a train stage that started and did not finish, if there is one."""
    from lmstack.runs import RunDir

    run = RunDir(run_root)
    checkpoints = run.stage_dir("train") / "checkpoints"
    if run.manifest("train") is None and checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*")):
        return checkpoints
    return None


def train(
    project: Path = typer.Argument(..., help="Project YAML file."),
    override: list[str] = typer.Option([], "--override", "-o", help=OVERRIDE_HELP),
    resume: bool = typer.Option(True, "--resume/--no-resume",
                                help="Continue an interrupted training run from its latest checkpoint "
                                     "(--no-resume refuses to touch one; --force starts over)."),
    force: bool = typer.Option(False, "--force", help="Rerun every stage from scratch, deleting earlier checkpoints."),
    nproc: int | None = typer.Option(None, "--nproc", min=1,
                                     help="Train on N processes of this machine through torchrun (DDP, or FSDP with "
                                          "train.distributed: fsdp), each on train.batch_size rows; same as "
                                          "-o train.nproc=N. Several machines: set NNODES, NODE_RANK, MASTER_ADDR "
                                          "and MASTER_PORT on each."),
) -> None:
    """Prepare the data and tokenizer if needed, then train with `train.recipe` (and `finetune.recipe` after it)."""
    from lmstack.config import load_config
    from lmstack.errors import UserError
    from lmstack.pipeline import run_project

    cfg = load_config(project, [*override, *([f"train.nproc={nproc}"] if nproc else [])])
    console = Console(stderr=True)
    if not resume and not force and (found := interrupted_checkpoints(cfg.run_root)) is not None:
        raise UserError(f"an interrupted training run left checkpoints in {found}",
                        hint="pass --resume to continue it, or --force to start over (deletes them)")
    done = {}
    for stage in ("data", "tokenizer", "train", *(("finetune",) if cfg.finetune is not None else ())):
        done |= run_project(cfg, force=force, only=stage, console=console)
    for stage, section in (("train", cfg.train), ("finetune", cfg.finetune)):
        if stage in done:
            metrics = done[stage].manifest["metrics"]
            shown = ", ".join(f"{k} {metrics[k]}" for k in ("steps", "train_loss", "val_loss", "tokens_per_s")
                              if k in metrics)
            console.print(f"{stage} ({section.recipe}): {shown}\nmodel: {done[stage].output('model')}")

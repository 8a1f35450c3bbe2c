"""`lmstack export`: turn a training result into a plain Hugging Face checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    checkpoint: Path = typer.Argument(..., help="A trained model folder or checkpoint-N folder (LoRA adapters)."),
    out: Path = typer.Option(..., "--out", help="Folder to write the merged checkpoint to (replaced whole)."),
    merge_lora: bool = typer.Option(False, "--merge-lora", help="Fold the LoRA adapters into the base weights."),
    base: Path | None = typer.Option(None, "--base", help="Base model folder (default: the one the adapter names)."),
) -> None:
    """Write a plain merged checkpoint (safetensors + tokenizer) that any transformers tool loads."""
    from lmstack.errors import UserError
    from lmstack.train.adapters import merge_adapters

    if not merge_lora:
        raise UserError("nothing to export: say what to do", hint="pass --merge-lora to merge LoRA adapters into their base")
    typer.echo(f"merged checkpoint: {merge_adapters(checkpoint, out, base=base)}")

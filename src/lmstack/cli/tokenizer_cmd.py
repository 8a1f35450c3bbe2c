"""`lmstack tokenizer train`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Train tokenizers.", no_args_is_help=True)


@app.command("train")
def train(
    inputs: list[Path] = typer.Argument(..., help="Text files: .txt (a document per line) or .jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write tokenizer.json and tokenizer_config.json to."),
    vocab_size: int = typer.Option(8000, "--vocab-size", min=300, help="Vocabulary size."),
    min_frequency: int = typer.Option(2, "--min-frequency", min=1, help="Merges seen fewer times are not learnt."),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the text in .jsonl files."),
) -> None:
    """Train a byte-level BPE tokenizer (Chinese and English) with special tokens and a chat template."""
    from lmstack.data.text import iter_texts, require_text
    from lmstack.models.tokenizer import train_tokenizer

    texts = require_text(iter_texts(inputs, text_field), ", ".join(map(str, inputs)))
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size, out_dir=out, min_frequency=min_frequency)
    typer.echo(f"tokenizer with {len(tokenizer)} tokens written to {out}")

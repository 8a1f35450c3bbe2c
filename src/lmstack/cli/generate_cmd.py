"""`lmstack generate`."""

from __future__ import annotations

import typer


def generate(
    model: str = typer.Argument(..., help="Model folder (safetensors) or hub id."),
    prompt: str = typer.Argument(..., help="Text to complete (or the user message with --chat)."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", "-n", min=1, help="Tokens to generate."),
    temperature: float = typer.Option(0.0, "--temperature", "-t", min=0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    chat: bool = typer.Option(False, "--chat", help="Wrap the prompt in the tokenizer's chat template."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto | float32 | bfloat16 | float16."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Run code shipped with the checkpoint."),
) -> None:
    """Generate a completion for one prompt, streamed as it is produced."""
    from lmstack.errors import UserError
    from lmstack.generate import generate_text
    from lmstack.models.loading import load_model

    loaded, tokenizer = load_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    if tokenizer is None:
        raise UserError(f"{model} has no tokenizer", hint="save one with the model (tokenizer.json)")
    generate_text(loaded, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=temperature,
                  top_p=top_p, seed=seed, chat=chat, stream=True)

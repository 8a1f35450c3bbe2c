"""Model runners: a local checkpoint or an OpenAI-compatible endpoint, chosen from a path or URL."""

from __future__ import annotations

from typing import Any

from lmstack.eval.runners.base import ModelRunner, Prompt
from lmstack.eval.runners.endpoint import EndpointRunner
from lmstack.eval.runners.local import LocalRunner


def open_runner(model: str, *, batch_size: int = 8, tokenizer: str | None = None, device: str = "auto",
                dtype: str = "auto", served_model: str | None = None, **endpoint_options: Any) -> ModelRunner:
    """An EndpointRunner for an http(s) URL (options: concurrency, retries, …), else a LocalRunner for a folder."""
    if model.startswith(("http://", "https://")):
        return EndpointRunner(model, model=served_model, **endpoint_options)
    return LocalRunner.from_path(model, tokenizer=tokenizer, device=device, dtype=dtype, batch_size=batch_size)


__all__ = ["EndpointRunner", "LocalRunner", "ModelRunner", "Prompt", "open_runner"]

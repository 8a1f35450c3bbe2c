"""The seam between the eval loop and a model: anything that turns prompts into answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lmstack.eval.tasks import GenerationParams

Message = dict[str, str]
# A plain prompt, or chat messages when the task uses the chat template.
Prompt = str | list[Message]


class ModelRunner(Protocol):
    """A local checkpoint or an OpenAI-compatible endpoint."""

    name: str
    batch_size: int  # prompts handed to `generate` at once (and saved together)

    def describe(self) -> dict[str, Any]:
        """What identifies the model in a results record (path or URL, chat template, versions)."""
        ...

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams,
                 on_answers: Callable[[int], None] | None = None) -> list[str]:
        """One answer per prompt, in order; `on_answers(n)` is called as each n answers are done
        (for progress bars), n summing to len(prompts)."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text up to the first stop string.

    >>> cut_at_stop("yes.\\nQ: next", ["\\nQ:"])
    'yes.'
    """
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]

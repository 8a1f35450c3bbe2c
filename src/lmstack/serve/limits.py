"""Hard caps on what one request may ask for (REFERENCE.md's security checklist).

Each cap answers 400 with the offending `param`, before anything reaches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lmstack.serve.errors import APIError

if TYPE_CHECKING:
    from lmstack.serve.config import ServeSection


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1_000_000
    max_n: int = 8
    max_stop_strings: int = 8
    max_stop_chars: int = 128
    max_top_logprobs: int = 20

    @classmethod
    def from_section(cls, section: ServeSection) -> Limits:
        return cls(max_body_bytes=section.max_body_bytes, max_n=section.max_n,
                   max_stop_strings=section.max_stop_strings, max_stop_chars=section.max_stop_chars,
                   max_top_logprobs=section.max_top_logprobs)

    def check_n(self, n: int) -> None:
        if n > self.max_n:
            raise APIError(400, f"n={n} is above this server's cap of {self.max_n}", param="n", code="n_too_large")

    def stop_strings(self, stop: str | list[str] | None) -> list[str]:
        """The request's stop strings as a list, after checking their number and length."""
        strings = [stop] if isinstance(stop, str) else list(stop or [])
        if len(strings) > self.max_stop_strings:
            raise APIError(400, f"{len(strings)} stop strings; at most {self.max_stop_strings} are allowed",
                           param="stop", code="too_many_stop_strings")
        for s in strings:
            if not s or len(s) > self.max_stop_chars:
                raise APIError(400, f"stop strings must be 1..{self.max_stop_chars} characters", param="stop",
                               code="invalid_stop")
        return strings

    def check_logprobs(self, k: int | None, param: str) -> None:
        if k is not None and k > self.max_top_logprobs:
            raise APIError(400, f"{param}={k} is above this server's cap of {self.max_top_logprobs}", param=param,
                           code="logprobs_too_large")


def clamp_max_tokens(requested: int | None, prompt_tokens: int, max_context: int, param: str = "messages") -> int:
    """Tokens a request may generate: what it asked for, at most what is left of the context.

    >>> clamp_max_tokens(100, prompt_tokens=30, max_context=64)
    34
    """
    if prompt_tokens >= max_context:
        raise APIError(400, f"the prompt has {prompt_tokens} tokens; this model's context is {max_context}, "
                            "which leaves no room to generate", param=param, code="context_length_exceeded")
    room = max_context - prompt_tokens
    return room if requested is None else min(requested, room)

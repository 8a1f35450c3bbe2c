"""An OpenAI-compatible endpoint (lmstack serve, vLLM, a hosted API): concurrent, with retries.

Requests run in a bounded thread pool; a failed request is retried with exponential back-off
(`backoff_s`, doubled each time) on connection errors, timeouts, 429 and 5xx. When the endpoint
cannot be reached at all the eval stops with a UserError saying so, not a traceback.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai

from lmstack.errors import UserError
from lmstack.eval.runners.base import Prompt, cut_at_stop
from lmstack.eval.tasks import GenerationParams

API_KEY_ENV = "LMSTACK_EVAL_API_KEY"
_RETRYABLE = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)


class EndpointRunner:
    """Chat completions for chat-template tasks, completions otherwise."""

    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None, concurrency: int = 8,
                 retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.name = base_url
        self.batch_size = concurrency * 4  # enough in flight to keep every worker busy between saves
        self.concurrency, self.retries, self.backoff_s = concurrency, retries, backoff_s
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key or os.environ.get(API_KEY_ENV) or "none",
                                     max_retries=0, timeout=timeout_s)
        self.model = model or self._only_model()

    def _call(self, fn, what: str):
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except _RETRYABLE as e:
                if attempt == self.retries:
                    if isinstance(e, openai.APIConnectionError):
                        raise UserError(f"endpoint {self.base_url} is unreachable ({what}: {type(e).__name__} after "
                                        f"{self.retries + 1} attempts)",
                                        hint="start the server (`lmstack serve`), or check the URL, port and that it "
                                             "ends in /v1") from e
                    raise UserError(f"endpoint {self.base_url} kept failing ({what}: {e})",
                                    hint="check the server's logs; lower --concurrency if it is overloaded") from e
                time.sleep(self.backoff_s * 2 ** attempt)
            except openai.AuthenticationError as e:
                raise UserError(f"endpoint {self.base_url} refused the API key", hint=f"set {API_KEY_ENV}") from e
            except openai.APIStatusError as e:
                raise UserError(f"endpoint {self.base_url} answered {e.status_code} ({what}): {e.message}",
                                hint="check the model name and the request parameters") from e
        raise AssertionError("unreachable")

    def _only_model(self) -> str:
        models = [m.id for m in self._call(lambda: self._client.models.list().data, "listing models")]
        if len(models) != 1:
            raise UserError(f"endpoint {self.base_url} serves {len(models)} models ({', '.join(models) or 'none'})",
                            hint="pick one with --served-model NAME")
        return models[0]

    def describe(self) -> dict[str, Any]:
        return {"kind": "endpoint", "url": self.base_url, "model": self.model, "concurrency": self.concurrency,
                "retries": self.retries, "openai": openai.__version__}

    def _one(self, prompt: Prompt, params: GenerationParams) -> str:
        common: dict[str, Any] = {"model": self.model, "max_tokens": params.max_new_tokens,
                                  "temperature": params.temperature, "top_p": params.top_p,
                                  "seed": params.seed, "stop": params.stop or None}
        if isinstance(prompt, str):
            response = self._call(lambda: self._client.completions.create(prompt=prompt, **common), "completion")
            text = response.choices[0].text
        else:
            response = self._call(lambda: self._client.chat.completions.create(messages=prompt, **common), "chat")
            text = response.choices[0].message.content or ""
        return cut_at_stop(text, params.stop)

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams,
                 on_answers: Callable[[int], None] | None = None) -> list[str]:
        def one(prompt: Prompt) -> str:
            answer = self._one(prompt, params)
            if on_answers:
                on_answers(1)
            return answer

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, prompts))

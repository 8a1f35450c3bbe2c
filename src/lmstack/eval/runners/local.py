"""A local checkpoint: batched generation with left padding, and log-likelihood scoring."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lmstack.errors import UserError
from lmstack.eval.runners.base import Prompt, cut_at_stop
from lmstack.eval.tasks import GenerationParams
from lmstack.models.tokenizer import stop_token_ids


class LocalRunner:
    """Generates with `model.generate` over batches of prompts padded on the left.

    Left padding keeps every prompt's last token at the end of the row, where generation
    continues; right padding would make short prompts continue after pad tokens. Generation stops
    at the ids `lmstack serve` stops at (`stop_token_ids`), so greedy answers match the server's.
    """

    def __init__(self, model, tokenizer, *, name: str, batch_size: int = 8):
        if tokenizer is None:
            raise UserError(f"model {name!r} has no tokenizer", hint="save the tokenizer files beside the weights, or pass the tokenizer's folder (--tokenizer)")
        if tokenizer.pad_token is None:
            # Batches need a pad token; its value never matters, since the attention mask hides it.
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer, self.name, self.batch_size = model, tokenizer, name, batch_size
        self.stop_token_ids = stop_token_ids(tokenizer, model.generation_config)

    @classmethod
    def from_path(cls, path: str | os.PathLike, *, tokenizer: str | os.PathLike | None = None, device: str = "auto",
                  dtype: str = "auto", batch_size: int = 8) -> LocalRunner:
        """Load a model folder; `tokenizer` names another folder for checkpoints saved without one."""
        from transformers import AutoTokenizer

        from lmstack.models.loading import load_model

        model, own = load_model(path, device=device, dtype=dtype)
        return cls(model, AutoTokenizer.from_pretrained(tokenizer) if tokenizer else own, name=str(path),
                   batch_size=batch_size)

    def describe(self) -> dict[str, Any]:
        template = getattr(self.tokenizer, "chat_template", None)
        weights = sum(p.numel() for p in self.model.parameters())
        return {"kind": "local", "path": self.name, "model_type": self.model.config.model_type,
                "parameters": weights, "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."),
                "device": str(next(self.model.parameters()).device), "chat_template": template,
                "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest() if template else None,
                "bos_token": self.tokenizer.bos_token, "vocab_size": len(self.tokenizer),
                "stop_token_ids": self.stop_token_ids}

    def _text(self, prompt: Prompt) -> str:
        if isinstance(prompt, str):
            return prompt
        if not getattr(self.tokenizer, "chat_template", None):
            raise UserError(f"task uses the chat template but {self.name!r} has none",
                            hint="set chat_template: false in the task, or save a tokenizer with a chat template")
        return self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)

    @torch.no_grad()
    def generate(self, prompts: Sequence[Prompt], params: GenerationParams,
                 on_answers: Callable[[int], None] | None = None) -> list[str]:
        texts = [self._text(p) for p in prompts]
        tok = self.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        try:
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        finally:
            tok.padding_side = side
        sampling = params.temperature > 0
        if sampling:
            torch.manual_seed(params.seed)
        out = self.model.generate(**enc, max_new_tokens=params.max_new_tokens, do_sample=sampling,
                                  temperature=params.temperature if sampling else None,
                                  top_p=params.top_p if sampling else None, top_k=None,
                                  eos_token_id=self.stop_token_ids,
                                  pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        new = out[:, enc["input_ids"].shape[1]:].tolist()  # (B, new tokens)
        if on_answers:
            on_answers(len(texts))
        stops = set(self.stop_token_ids)
        # The answer ends before its first stop token (and the pads after it), like the server's.
        ends = [next((i for i, t in enumerate(row) if t in stops), len(row)) for row in new]
        return [cut_at_stop(tok.decode(row[:end], skip_special_tokens=True), params.stop)
                for row, end in zip(new, ends)]

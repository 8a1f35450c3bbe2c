"""Make augmented copies of cleaned rows and re-filter them.

Every copy carries `augmentation: {method, source: {file, line, id}}`. A copy is dropped when it
repeats its source or an earlier copy (normalised text), changed language, or is too close to or
too far from its source (character-bigram Jaccard outside [min_similarity, max_similarity]).
Each row's generator is seeded from the recipe seed and the row's place, so copies do not depend
on which other rows were kept.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from lmstack.data.augment.config import AugmentConfig
from lmstack.data.augment.eda import eda
from lmstack.data.augment.synonyms import CilinSynonyms, NoSynonyms, Synonyms
from lmstack.data.lang import script_lang
from lmstack.data.ops.dedup import dedup_key


def bigram_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the character-bigram sets of two texts (1.0 for identical ones)."""
    x = {a[i:i + 2] for i in range(len(a) - 1)} or {a}
    y = {b[i:i + 2] for i in range(len(b) - 1)} or {b}
    return len(x & y) / len(x | y)


@lru_cache(maxsize=1)
def _synonyms_for(lang: str) -> Synonyms:
    # English synonyms need embeddings (not in this increment): English gets insert-free EDA.
    return CilinSynonyms() if lang == "zh" else NoSynonyms()


def augment(rows: Iterable[tuple[dict[str, Any], dict[str, Any], list[str]]], cfg: AugmentConfig, counts: Counter,
            put: Callable[[dict[str, Any], list[str]], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield augmented copies of (row, where, texts) triples; `put(row, texts)` writes texts back into
    a row; `counts` gets 'method:kept' or 'method:<drop reason>'."""
    for row, where, texts in rows:
        rng = random.Random(f"{cfg.seed}:{where['file']}:{where['line']}")
        seen = {dedup_key("\n".join(texts))}
        for method in cfg.method_set:
            for _ in range(cfg.per_row):
                new = list(texts)
                for i, text in enumerate(texts if cfg.texts == "all" else texts[:1]):
                    lang = script_lang(text)
                    new[i] = eda(text, method, cfg.alpha, rng, _synonyms_for(lang), lang)
                reason = _refilter(texts, new, seen, cfg)
                counts[f"{method}:{reason or 'kept'}"] += 1
                if reason is None:
                    yield {**put(row, new), "augmentation": {"method": method, "source": where}}


def _refilter(texts: list[str], new: list[str], seen: set[str], cfg: AugmentConfig) -> str | None:
    key = dedup_key("\n".join(new))
    if key in seen:
        return "duplicate"
    seen.add(key)
    for old, text in zip(texts, new):
        if old == text:
            continue
        if script_lang(text) != script_lang(old):
            return "language"
        similarity = bigram_jaccard(old, text)
        if similarity > cfg.max_similarity:
            return "too_close"
        if similarity < cfg.min_similarity:
            return "too_far"
    return None

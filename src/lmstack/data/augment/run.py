"""Make augmented copies of cleaned rows and re-filter them.

Every copy carries `augmentation: {method, source: {file, line, id}}`. A copy is dropped when it
repeats its source or an earlier copy (normalised text), changed language, or is too close to or
too far from its source (character-bigram Jaccard outside [min_similarity, max_similarity]);
back-translated copies are bounded by sentence-embedding cosine instead (see back_translation.py).
A batch of rows goes in at once so back-translation makes few translator calls. Each row's generator is seeded from the recipe seed and the row's place, so copies do not depend
on which other rows were kept.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from lmstack.data.augment.back_translation import back_translate
from lmstack.data.augment.config import AugmentConfig
from lmstack.data.augment.eda import eda
from lmstack.data.augment.neighbours import EmbeddingSynonyms
from lmstack.data.augment.synonyms import CilinSynonyms, NoSynonyms, Synonyms
from lmstack.data.augment.translate import Translator
from lmstack.data.lang import script_lang
from lmstack.data.ops.dedup import dedup_key


def bigram_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the character-bigram sets of two texts (1.0 for identical ones)."""
    x = {a[i:i + 2] for i in range(len(a) - 1)} or {a}
    y = {b[i:i + 2] for i in range(len(b) - 1)} or {b}
    return len(x & y) / len(x | y)


@lru_cache(maxsize=1)
def _synonyms_for(lang: str) -> Synonyms:
    if lang == "zh":
        return CilinSynonyms()
    return EmbeddingSynonyms() if lang == "en" else NoSynonyms()


def augment(rows: Iterable[tuple[dict[str, Any], dict[str, Any], list[str]]], cfg: AugmentConfig, counts: Counter,
            put: Callable[[dict[str, Any], list[str]], dict[str, Any]],
            translator: Translator | None = None) -> Iterator[dict[str, Any]]:
    """Yield augmented copies of (row, where, texts) triples, row by row (EDA copies, then the
    back-translated one); `put(row, texts)` writes texts back into a row; `counts` gets
    'method:kept' or 'method:<drop reason>'. `translator` is needed for the back_translation method."""
    rows = list(rows)
    translated: list[list[str] | str] = []
    if "back_translation" in cfg.method_set:
        if translator is None:
            raise ValueError("the back_translation method needs a translator")
        translated = back_translate([texts if cfg.texts == "all" else texts[:1] for _, _, texts in rows],
                                    cfg.back_translation, translator)
    for n, (row, where, texts) in enumerate(rows):
        rng = random.Random(f"{cfg.seed}:{where['file']}:{where['line']}")
        seen = {dedup_key("\n".join(texts))}
        for method in cfg.method_set:
            if method == "back_translation":
                new_or_reason = translated[n]
                if isinstance(new_or_reason, str):
                    counts[f"{method}:{new_or_reason}"] += 1
                    continue
                new = list(new_or_reason) + list(texts[len(new_or_reason):])
                key = dedup_key("\n".join(new))
                counts[f"{method}:{'duplicate' if key in seen else 'kept'}"] += 1
                if key not in seen:
                    seen.add(key)
                    yield {**put(row, new), "augmentation": {"method": method, "source": where}}
                continue
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

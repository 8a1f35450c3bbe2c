"""EDA (Wei & Zou 2019): synonym replacement, random insertion, random swap, random deletion.

Each changes about `alpha` of a text's words (at least one). Chinese is segmented with jieba;
English is split into words, punctuation and spaces. Only words are touched: punctuation stays
where it was, so sentences keep their shape. A `random.Random` comes in, so the same seed gives the same text.

>>> import random
>>> eda("How do I raise my credit card limit?", "swap", 0.1, random.Random(0), NoSynonyms())
'How do I raise my credit limit card?'
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from lmstack.data.augment.synonyms import NoSynonyms, Synonyms
from lmstack.data.lang import segment

METHODS = ("synonym", "insert", "swap", "delete")
_WORD = re.compile(r"\w", re.UNICODE)
_EN_TOKEN = re.compile(r"[\w'’.,:/-]*\w|[^\w\s]|\s+")
_SPACES = re.compile(r"\s{2,}")
_SPACE_BEFORE_MARK = re.compile(r"\s+([?!.,;:)\]}])")


def split(text: str, lang: str) -> list[str]:
    """Tokens that join back to exactly the text: jieba pieces for Chinese; for English, words
    (with inner marks, as in "5,000" and "it's"), punctuation and spaces."""
    if lang == "zh":
        return segment(text)
    return _EN_TOKEN.findall(text)


def join(tokens: list[str]) -> str:
    """Tokens back to text; a deleted word leaves no double space nor a space before a closing mark."""
    return _SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", "".join(tokens))).strip()


def _word_positions(tokens: list[str]) -> list[int]:
    return [i for i, tok in enumerate(tokens) if _WORD.search(tok)]


def _synonym(tokens, positions, n, rng, syn, sep) -> list[str]:
    candidates = [i for i in positions if syn.of(tokens[i])]
    rng.shuffle(candidates)
    out = list(tokens)
    for i in candidates[:n]:
        out[i] = rng.choice(syn.of(tokens[i]))
    return out


def _insert(tokens, positions, n, rng, syn, sep) -> list[str]:
    out = list(tokens)
    candidates = [tokens[i] for i in positions if syn.of(tokens[i])]
    for _ in range(n if candidates else 0):
        out.insert(rng.choice(_word_positions(out)), rng.choice(syn.of(rng.choice(candidates))) + sep)
    return out


def _swap(tokens, positions, n, rng, syn, sep) -> list[str]:
    out = list(tokens)
    for _ in range(n if len(positions) > 1 else 0):
        i, j = rng.sample(positions, 2)
        out[i], out[j] = out[j], out[i]
    return out


def _delete(tokens, positions, n, rng, syn, sep) -> list[str]:
    if len(positions) < 2:
        return list(tokens)
    gone = set(rng.sample(positions, min(n, len(positions) - 1)))  # never every word
    return [tok for i, tok in enumerate(tokens) if i not in gone]


_OPERATIONS: dict[str, Callable] = {"synonym": _synonym, "insert": _insert, "swap": _swap, "delete": _delete}


def eda(text: str, method: str, alpha: float, rng: random.Random, synonyms: Synonyms | None = None,
        lang: str = "en") -> str:
    """`text` with one EDA operation applied to max(1, alpha × words) words; unchanged when it cannot apply."""
    tokens = split(text, lang)
    positions = _word_positions(tokens)
    n = max(1, round(alpha * len(positions)))
    sep = "" if lang == "zh" else " "
    return join(_OPERATIONS[method](tokens, positions, n, rng, synonyms or NoSynonyms(), sep))

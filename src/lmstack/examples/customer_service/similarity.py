"""Near-duplicate checks for the generator: the example's clean rows must not repeat one another.

The cleaning recipe (examples/customer-service/clean.yaml) removes a row whose MinHash-estimated
Jaccard similarity with an earlier row reaches 0.9. The sidecar lists the near-duplicates that
`inject.py` plants; any other pair that close would count against the recipe's precision although
removing it is right. So the generator draws a row again when its shingles reach `THRESHOLD` with
an earlier row of the same intent and language: low enough that MinHash's estimate for a clean pair
stays under 0.9, and rows of different intents share too little to need comparing.
"""

from __future__ import annotations

from lmstack.data.ops.dedup import dedup_key

THRESHOLD = 0.8


def shingles(text: str, size: int) -> frozenset[str]:
    """The character `size`-grams of `text` as dedup compares it: NFKC, lower-cased, no spaces or punctuation."""
    t = dedup_key(text)
    return frozenset(t[i:i + size] for i in range(max(1, len(t) - size + 1)))


def near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Jaccard(a, b) ≥ THRESHOLD; sets whose sizes differ too much for that are not intersected.

    >>> near_duplicate(shingles("Hi. I lost my card.", 4), shingles("I lost my card.", 4))
    True
    >>> near_duplicate(shingles("I lost my card.", 4), shingles("I lost my phone.", 4))
    False
    """
    small, large = sorted((len(a), len(b)))
    return small >= THRESHOLD * large and len(a & b) >= THRESHOLD * len(a | b)


class NearDuplicates:
    """The shingle sets kept so far, per (intent, language): `add` keeps a text unless it is a
    near-duplicate of one of them."""

    def __init__(self, size: dict[str, int]):
        self.size = size  # shingle size per language
        self.kept: dict[tuple[str, str], list[frozenset[str]]] = {}

    def add(self, intent: str, lang: str, text: str) -> bool:
        grams = shingles(text, self.size[lang])
        earlier = self.kept.setdefault((intent, lang), [])
        if any(near_duplicate(grams, other) for other in earlier):
            return False
        earlier.append(grams)
        return True

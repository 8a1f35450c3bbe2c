"""Duplicate removal: exact (a hash of the normalised text) and near (MinHash LSH, datasketch).

Both keep the first row of a group and remove the later ones, naming the row they repeat, so the
result depends only on the input order. They see a row's texts joined (`compare: all`), so a chat
row is a duplicate only when its whole conversation is, or only its first (`compare: first`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal

import numpy as np
from pydantic import Field

from lmstack.data.lang import script_lang, tokens
from lmstack.data.ops.base import Outcome, Params, drop, keep, register

_NOT_WORD = re.compile(r"[\W_]+")


def dedup_key(text: str) -> str:
    """Lower-cased NFKC text without spaces or punctuation: 'Hello,  World!' and 'hello world' match."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


_COMPARED = Field("all", description="Which texts of a row are compared: all (the whole conversation) or first "
                                     "(the first message, e.g. the question, when answers are shared templates).")


class ExactDedupParams(Params):
    compare: Literal["all", "first"] = _COMPARED


@register("exact_dedup", "dedup", ExactDedupParams)
class ExactDedup:
    """Remove rows whose normalised text (NFKC, lower case, no spaces or punctuation) was seen before.

    >>> op = ExactDedup(ExactDedupParams())
    >>> op(["你好，世界"], "a:1").reason, op(["你好 世界！"], "a:2").reason
    (None, 'exact_dedup: same text as a:1')
    """

    wants_where = True

    def __init__(self, p: ExactDedupParams):
        self.p = p
        self.first: dict[bytes, str] = {}  # 16-byte digests: about 100 bytes a row with the dict entry

    def __call__(self, texts: list[str], where: str = "") -> Outcome:
        digest = hashlib.blake2b(dedup_key("\n".join(texts if self.p.compare == "all" else texts[:1])).encode(), digest_size=16).digest()
        if digest in self.first:
            return drop(f"exact_dedup: same text as {self.first[digest]}")
        self.first[digest] = where
        return keep(texts)


class MinHashParams(Params):
    threshold: float = Field(0.7, gt=0, lt=1, description="Estimated Jaccard similarity of shingle sets at which a row is a near duplicate.")
    num_perm: int = Field(128, ge=16, le=512, description="Permutations (hash functions) per signature.")
    zh_ngram: int = Field(5, ge=1, description="Shingle size for Chinese text, in characters.")
    en_ngram: int = Field(5, ge=1, description="Shingle size for other text, in `en_unit`s.")
    en_unit: Literal["words", "chars"] = Field("words", description="Shingle unit for non-Chinese text (chars suits short texts).")
    seed: int = Field(1, description="Seed of the permutations: the same seed gives the same decisions.")
    compare: Literal["all", "first"] = _COMPARED


@register("minhash_dedup", "dedup", MinHashParams)
class MinHashDedup:
    """Remove near duplicates: MinHash signatures of character n-grams (Chinese) or word n-grams (English), LSH buckets.

    A candidate from the LSH index counts only if its estimated Jaccard reaches `threshold`, so
    banding false positives are not removed.
    """

    wants_where = True

    def __init__(self, p: MinHashParams):
        from datasketch import MinHash, MinHashLSH

        self.p = p
        # Drawing the permutations is the costly part of a MinHash: draw them once, share them.
        template = MinHash(num_perm=p.num_perm, seed=p.seed)
        self.permutations, self.scheme = template.permutations, template.scheme
        self.lsh = MinHashLSH(threshold=p.threshold, num_perm=p.num_perm)
        # datasketch hash values stay below 2**32: uint32 halves the memory of the kept signatures
        self.signatures: dict[str, np.ndarray] = {}
        self.n = 0

    def shingles(self, text: str) -> set[bytes]:
        lang = script_lang(text)
        if lang == "zh" or self.p.en_unit == "chars":
            units: list[str] = list(dedup_key(text))
            n, sep = (self.p.zh_ngram if lang == "zh" else self.p.en_ngram), ""
        else:
            units, n, sep = [t.lower() for t in tokens(text)], self.p.en_ngram, " "
        n = min(n, len(units)) or 1
        return {sep.join(units[i:i + n]).encode() for i in range(max(len(units) - n + 1, 1))}

    def __call__(self, texts: list[str], where: str = "") -> Outcome:
        from datasketch import MinHash

        sig = MinHash(num_perm=self.p.num_perm, seed=self.p.seed, permutations=self.permutations, scheme=self.scheme)
        sig.update_batch(list(self.shingles("\n".join(texts if self.p.compare == "all" else texts[:1]))))
        for key in sorted(self.lsh.query(sig)):  # sorted: the same first match on every run
            similarity = float(np.mean(self.signatures[key] == sig.hashvalues))
            if similarity >= self.p.threshold:
                return drop(f"minhash_dedup: Jaccard {similarity:.2f} with {key}")
        key = where or str(self.n)
        self.n += 1
        self.lsh.insert(key, sig)
        self.signatures[key] = sig.hashvalues.astype(np.uint32)
        return keep(texts)

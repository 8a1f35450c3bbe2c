"""Duplicate removal: exact (a hash of the normalised text) and near (datasketch MinHash, banded LSH).

Both keep the first row of a group and remove the later ones, naming the row they repeat, so the
result depends only on the input order. They see a row's texts joined (`compare: all`), so a chat
row is a duplicate only when its whole conversation is, or only its first (`compare: first`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from lmstack.data.lang import script_lang, token_tuple
from lmstack.data.ops.base import Outcome, Params, drop, keep, register
from lmstack.data.ops.digest_index import DigestIndex
from lmstack.data.ops.lsh import BandIndex

_NOT_WORD = re.compile(r"[\W_]+")


def dedup_key(text: str) -> str:
    """Lower-cased NFKC text without spaces or punctuation: 'Hello,  World!' and 'hello world' match."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


_COMPARED = Field("all", description="Which texts of a row are compared: all (the whole conversation) or first "
                                     "(the first message, e.g. the question, when answers are shared templates).")


class ExactDedupParams(Params):
    compare: Literal["all", "first"] = _COMPARED
    max_index_mb: float | None = Field(256, gt=0, description="Memory for the kept rows' digests (~180 bytes a row); beyond "
                                                              "it they move to a temporary SQLite file (the same decisions, "
                                                              "a little slower). null: no bound, all in memory.")
    spill_dir: str | None = Field(None, description="Folder for that temporary file (default: the run's temporary folder, or the system's); "
                                                    "it is unlinked when made, so even a killed run leaves none.")


class _SpillsToRunFolder:
    """A dedup step whose index (`self.index`) spills to disk within `self.p.max_index_mb`."""

    def use_temp_folder(self, folder) -> None:
        """Put the index's temporary files in the run's temporary folder (unless `spill_dir` says where)."""
        if self.p.spill_dir is None:
            self.index.spill_dir = str(folder)


@register("exact_dedup", "dedup", ExactDedupParams)
class ExactDedup(_SpillsToRunFolder):
    """Remove rows whose normalised text (NFKC, lower case, no spaces or punctuation) was seen before.

    >>> op = ExactDedup(ExactDedupParams())
    >>> op(["你好，世界"], "a:1").reason, op(["你好 世界！"], "a:2").reason
    (None, 'exact_dedup: same text as a:1')
    """

    wants_where = True

    def __init__(self, p: ExactDedupParams):
        self.p = p
        self.index = DigestIndex(p.max_index_mb, p.spill_dir)  # 16-byte digests, each with its first row

    def prepare(self, texts: list[str]) -> bytes:
        """The row's digest (needs no other row, so it may be computed in a worker)."""
        return hashlib.blake2b(dedup_key("\n".join(texts if self.p.compare == "all" else texts[:1])).encode(), digest_size=16).digest()

    def decide(self, digest: bytes, where: str) -> str | None:
        """The removal reason when the digest was seen before; else remember it. Called in input order."""
        first = self.index.first(digest, where)
        return f"exact_dedup: same text as {first}" if first is not None else None

    def __call__(self, texts: list[str], where: str = "") -> Outcome:
        reason = self.decide(self.prepare(texts), where)
        return drop(reason) if reason else keep(texts)


_GRAM_PRIME = np.uint64(0x100000001B3)  # the 64-bit FNV prime


@lru_cache(maxsize=1 << 16)
def _word_id(word: str) -> int:
    """A lower-cased word as a stable 32-bit integer (CRC-32 of its UTF-8)."""
    return zlib.crc32(word.lower().encode("utf-8"))


class MinHashParams(Params):
    threshold: float = Field(0.7, gt=0, lt=1, description="Estimated Jaccard similarity of shingle sets at which a row is a near duplicate.")
    num_perm: int = Field(128, ge=16, le=512, description="Permutations (hash functions) per signature.")
    zh_ngram: int = Field(5, ge=1, description="Shingle size for Chinese text, in characters.")
    en_ngram: int = Field(5, ge=1, description="Shingle size for other text, in `en_unit`s.")
    en_unit: Literal["words", "chars"] = Field("words", description="Shingle unit for non-Chinese text (chars suits short texts).")
    seed: int = Field(1, description="Seed of the permutations: the same seed gives the same decisions.")
    compare: Literal["all", "first"] = _COMPARED
    max_index_mb: float | None = Field(256, gt=0, description="Memory for the kept rows' signatures and band keys; beyond it "
                                                              "older rows move to temporary files on disk (the same decisions, "
                                                              "a little slower). null: no bound, all in memory.")
    spill_dir: str | None = Field(None, description="Folder for the index's temporary files (default: the system's temporary "
                                                    "folder); they are unlinked when made, so even a killed run leaves none.")


@register("minhash_dedup", "dedup", MinHashParams)
class MinHashDedup(_SpillsToRunFolder):
    """Remove near duplicates: MinHash signatures of character n-grams (Chinese) or word n-grams (English), LSH buckets.

    A candidate from the LSH index counts only if its estimated Jaccard reaches `threshold`, so
    banding false positives are not removed; the banding leans towards more candidates, so fewer
    near duplicates slip through it.
    """

    wants_where = True

    def __init__(self, p: MinHashParams):
        from datasketch import MinHash

        self.p = p
        # Drawing the permutations is the costly part of a MinHash: draw them once, share them.
        template = MinHash(num_perm=p.num_perm, seed=p.seed)
        self.permutations, self.scheme = template.permutations, template.scheme
        # Banding weighted against misses (18 bands of 7 at 0.7/128: a pair at Jaccard 0.75 is missed 7%
        # of the time, not 31% as with even weights); the extra candidates are checked against `threshold`.
        self.index = BandIndex(p.num_perm, p.threshold, seed=p.seed, max_mb=p.max_index_mb, spill_dir=p.spill_dir)

    def shingles(self, text: str) -> set[bytes]:
        lang = script_lang(text)
        if lang == "zh" or self.p.en_unit == "chars":
            units: list[str] = list(dedup_key(text))
            n, sep = (self.p.zh_ngram if lang == "zh" else self.p.en_ngram), ""
        else:
            units, n, sep = [t.lower() for t in token_tuple(text)], self.p.en_ngram, " "
        if not units:
            return {b""}
        n = min(n, len(units))
        return {sep.join(gram).encode() for gram in zip(*(units[i:] for i in range(n)))}

    def shingle_hashes(self, text: str) -> np.ndarray:
        """32-bit hashes of the distinct shingles of `text` (one per shingle of `shingles`, barring collisions).

        Units become integers (a character's code point, a lower-cased word's CRC-32) and each n-gram
        a polynomial of its units, all in numpy, so no Python call is made per shingle."""
        lang = script_lang(text)
        if lang == "zh" or self.p.en_unit == "chars":
            ids = np.frombuffer(dedup_key(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            n = self.p.zh_ngram if lang == "zh" else self.p.en_ngram
        else:
            words = token_tuple(text)
            ids = np.fromiter(map(_word_id, words), dtype=np.uint64, count=len(words))
            n = self.p.en_ngram
        if len(ids) == 0:
            return np.zeros(1, np.uint32)  # an empty text is one (empty) shingle, as in `shingles`
        n = min(n, len(ids))
        m = len(ids) - n + 1
        h = np.zeros(m, np.uint64)
        for k in range(n):  # uint64 arithmetic wraps: a polynomial hash of the n units
            h = h * _GRAM_PRIME + ids[k:k + m] + np.uint64(1)
        return np.unique(((h >> np.uint64(32)) ^ h).astype(np.uint32))

    def prepare(self, texts: list[str]) -> np.ndarray:
        """The row's MinHash signature (needs no other row, so it may be computed in a worker)."""
        from datasketch import MinHash

        # the shingle hashes are the hash values: datasketch mixes them (MurmurHash3 finaliser) before permuting
        sig = MinHash(num_perm=self.p.num_perm, seed=self.p.seed, permutations=self.permutations, scheme=self.scheme,
                      hashfunc=int)
        sig.update_batch(self.shingle_hashes("\n".join(texts if self.p.compare == "all" else texts[:1])).tolist())
        return sig.hashvalues

    def decide(self, hashvalues: np.ndarray, where: str) -> str | None:
        """The removal reason when a kept row's signature is close enough; else index this one. Called in input order."""
        keys = self.index.keys(hashvalues)
        rows = self.index.candidates(keys)
        if len(rows):
            similarity = self.index.similarities(rows, hashvalues)
            close = np.flatnonzero(similarity >= self.p.threshold)
            if len(close):  # the earliest kept row that is close enough
                return f"minhash_dedup: Jaccard {similarity[close[0]]:.2f} with {self.index.label(int(rows[close[0]]))}"
        self.index.insert(keys, hashvalues, where or str(self.index.n))
        return None

    def __call__(self, texts: list[str], where: str = "") -> Outcome:
        reason = self.decide(self.prepare(texts), where)
        return drop(reason) if reason else keep(texts)

"""A compact LSH index of MinHash signatures for in-order near-duplicate removal.

Signatures are cut into `bands` bands of `rows` values; each band becomes one 64-bit key, and a
row is a candidate for another when some band key matches. Per band the index keeps a dict from
key to the last row in that bucket and an array linking each row to the previous one there, and
all signatures sit in one uint32 matrix: about 1.5 KB a kept row at 112 permutations, a quarter of
what a general-purpose LSH with per-bucket sets and byte keys takes. Candidates are checked by the
caller against its threshold, so a key collision only costs a comparison.
"""

from __future__ import annotations

from array import array

import numpy as np


_area = getattr(np, "trapezoid", None) or np.trapz  # renamed in numpy 2


def band_shape(threshold: float, num_perm: int, miss_weight: float = 0.8) -> tuple[int, int]:
    """(bands, rows) minimising the weighted area of false candidates below `threshold` and of
    misses above it (the S-curve 1 - (1 - s^rows)^bands), misses weighted by `miss_weight`."""
    s = np.linspace(0, 1, 2001)
    best, shape = float("inf"), (1, num_perm)
    for bands in range(1, num_perm + 1):
        rows = num_perm // bands
        p = 1 - (1 - s ** rows) ** bands
        below, above = s <= threshold, s >= threshold
        cost = (1 - miss_weight) * _area(p[below], s[below]) + miss_weight * _area(1 - p[above], s[above])
        if cost < best:
            best, shape = cost, (bands, rows)
    return shape


class BandIndex:
    """Insert signatures in order; `candidates(sig)` gives the earlier rows sharing a band, oldest first."""

    def __init__(self, num_perm: int, threshold: float, seed: int = 1):
        self.bands, self.rows = band_shape(threshold, num_perm)
        rng = np.random.default_rng(seed)
        self.mix = (rng.integers(1, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1))  # odd multipliers
        self.last: list[dict[int, int]] = [{} for _ in range(self.bands)]
        self.prev: list[array] = [array("i") for _ in range(self.bands)]
        self.signatures = np.zeros((1024, num_perm), np.uint32)
        self.n = 0

    def keys(self, sig: np.ndarray) -> list[int]:
        cut = sig[:self.bands * self.rows].astype(np.uint64).reshape(self.bands, self.rows)
        return (cut * self.mix).sum(axis=1).tolist()  # uint64 arithmetic wraps

    def candidates(self, keys: list[int]) -> np.ndarray:
        found: set[int] = set()
        for last, prev, key in zip(self.last, self.prev, keys):
            row = last.get(key, -1)
            while row >= 0:
                found.add(row)
                row = prev[row]
        return np.array(sorted(found), dtype=np.int64)

    def similarities(self, rows: np.ndarray, sig: np.ndarray) -> np.ndarray:
        """Estimated Jaccard (share of equal values) of `sig` with each of `rows`."""
        return (self.signatures[rows] == sig.astype(np.uint32)).mean(axis=1)

    def insert(self, keys: list[int], sig: np.ndarray) -> int:
        row = self.n
        if row == len(self.signatures):
            self.signatures = np.concatenate([self.signatures, np.zeros_like(self.signatures)])
        self.signatures[row] = sig
        for last, prev, key in zip(self.last, self.prev, keys):
            prev.append(last.get(key, -1))
            last[key] = row
        self.n += 1
        return row

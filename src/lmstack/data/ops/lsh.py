"""A compact LSH index of MinHash signatures for in-order near-duplicate removal.

Signatures are cut into `bands` bands of `rows` values; each band becomes one 64-bit key, and a
row is a candidate for another when some band key matches. Per band the index keeps a dict from
key to the last row in that bucket and an array linking each row to the previous one there, and
all signatures sit in one uint32 matrix: about 2 KB a kept row at 112 permutations (with its
label), a quarter of what a general-purpose LSH with per-bucket sets and byte keys takes. Candidates are checked by the
caller against its threshold, so a key collision only costs a comparison.

With a memory budget (`max_mb`) the index stays bounded: when the rows held in memory reach the
budget they move to disk — signatures and labels appended to files, band keys written as one
sorted run per flush (keys and rows per band, with every 256th key kept in memory as a fence) —
and runs of similar size are merged in fixed-size chunks, so a lookup reads one 2 KB block per
band from each of about log2(rows / rows-per-flush) runs (the fences take ~2.5 MB per million
rows; everything else in memory is fixed by the budget). Disk rows answer exactly as memory rows
do: the same candidates, so the same decisions. The files are anonymous temporary files (unlinked
as they are made), so nothing is left behind, even by a killed run.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

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


_BLOCK = 256          # keys per fence block (2 KB read per band and run at a lookup)
_MERGE_CHUNK = 1 << 16  # keys per side read at a time while merging runs


def row_bytes(num_perm: int, bands: int) -> int:
    """Memory a row takes in the in-memory part of the index: per band a dict entry with its int
    key (~100 B), a link and a key slot (12 B); the signature; its label (~100 B)."""
    return bands * 112 + 4 * num_perm + 100


class _SpillFile:
    """An anonymous temporary file read and written at offsets (pread/pwrite, so nothing is mapped)."""

    def __init__(self, folder: str | None):
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.file = tempfile.TemporaryFile(dir=folder)
        self.fd = self.file.fileno()
        self.size = 0

    def append(self, data: bytes | np.ndarray) -> int:
        at = self.size
        self.write_at(at, data)
        return at

    def write_at(self, at: int, data: bytes | np.ndarray) -> None:
        view = memoryview(data if isinstance(data, bytes) else np.ascontiguousarray(data)).cast("B")
        while len(view):
            done = os.pwrite(self.fd, view, at)
            view, at = view[done:], at + done
        self.size = max(self.size, at)

    def read(self, at: int, count: int, dtype) -> np.ndarray:
        size = count * np.dtype(dtype).itemsize
        data = os.pread(self.fd, size, at) if size else b""
        assert len(data) == size, "short read from the dedup index's spill file"
        return np.frombuffer(data, dtype=dtype)

    def close(self) -> None:
        self.file.close()


@dataclass
class _Run:
    """Rows [start, stop) of the index on disk: per band its keys sorted (rows alongside) and a fence."""

    file: _SpillFile
    start: int
    stop: int
    offsets: list[int]          # per band: where its keys start (its rows follow them)
    fences: list[list[int]]     # per band: every `_BLOCK`-th key (a list: bisect is faster than numpy here)

    @property
    def count(self) -> int:
        return self.stop - self.start

    def keys(self, band: int, at: int, n: int) -> np.ndarray:
        return self.file.read(self.offsets[band] + 8 * at, n, np.uint64)

    def rows(self, band: int, at: int, n: int) -> np.ndarray:
        return self.file.read(self.offsets[band] + 8 * self.count + 8 * at, n, np.int64)

    def lookup(self, band: int, key: int) -> np.ndarray:
        """The rows whose key in `band` is `key`."""
        fence = self.fences[band]
        past = bisect_right(fence, key)
        if past == 0:  # smaller than every key
            return _NONE
        begin = max(bisect_left(fence, key, 0, past) - 1, 0) * _BLOCK  # equal keys may end the block before
        data = os.pread(self.file.fd, 8 * (min(past * _BLOCK, self.count) - begin), self.offsets[band] + 8 * begin)
        packed, at = key.to_bytes(8, "little"), -1
        while True:  # most keys are absent: a byte search says so without building an array
            at = data.find(packed, at + 1)
            if at < 0:
                return _NONE
            if at % 8 == 0:
                break
        keys = np.frombuffer(data, np.uint64)
        lo, hi = at // 8, int(keys.searchsorted(np.uint64(key), "right"))
        return self.rows(band, begin + lo, hi - lo)


_NONE = np.zeros(0, np.int64)


class BandIndex:
    """Insert signatures in order; `candidates(keys)` gives the earlier rows sharing a band, oldest first.

    `max_mb` bounds the memory of the rows held in memory (None: no bound, nothing goes to disk);
    `spill_dir` is the folder of the temporary files (default: the system's)."""

    def __init__(self, num_perm: int, threshold: float, seed: int = 1, max_mb: float | None = None,
                 spill_dir: str | None = None):
        self.bands, self.rows = band_shape(threshold, num_perm)
        self.num_perm = num_perm
        rng = np.random.default_rng(seed)
        self.mix = (rng.integers(1, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1))  # odd multipliers
        self.capacity = None if max_mb is None else max(1, int(max_mb * 2**20) // row_bytes(num_perm, self.bands))
        self.spill_dir = spill_dir
        first = 1024 if self.capacity is None else min(1024, self.capacity)
        self.signatures = np.zeros((first, num_perm), np.uint32)  # rows [base, base + len(labels)) in memory
        self.band_keys = np.zeros((first, self.bands), np.uint64)
        self._clear_memory()
        self.base = 0
        self.runs: list[_Run] = []
        self.sig_file: _SpillFile | None = None    # row r's signature at r * 4 * num_perm
        self.label_file: _SpillFile | None = None  # UTF-8 labels
        self.label_spans: _SpillFile | None = None  # row r's (offset, length) at 16 r

    def _clear_memory(self) -> None:
        self.last: list[dict[int, int]] = [{} for _ in range(self.bands)]
        self.prev: list[array] = [array("i") for _ in range(self.bands)]
        self.labels: list[str] = []

    @property
    def n(self) -> int:
        return self.base + len(self.labels)

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
        rows = np.array(sorted(found), dtype=np.int64) + self.base
        if not self.runs:
            return rows
        parts = [run.lookup(b, key) for run in self.runs for b, key in enumerate(keys)]
        return np.unique(np.concatenate([rows, *parts]))

    def signature(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of `rows` (in memory or on disk)."""
        held = rows >= self.base
        if held.all():
            return self.signatures[rows - self.base]
        out = np.empty((len(rows), self.num_perm), np.uint32)
        out[held] = self.signatures[rows[held] - self.base]
        width = 4 * self.num_perm
        for i in np.flatnonzero(~held):
            out[i] = self.sig_file.read(int(rows[i]) * width, self.num_perm, np.uint32)
        return out

    def similarities(self, rows: np.ndarray, sig: np.ndarray) -> np.ndarray:
        """Estimated Jaccard (share of equal values) of `sig` with each of `rows`."""
        return (self.signature(rows) == sig.astype(np.uint32)).mean(axis=1)

    def label(self, row: int) -> str:
        """The label the row was inserted with."""
        if row >= self.base:
            return self.labels[row - self.base]
        at, size = self.label_spans.read(16 * row, 2, np.uint64).tolist()
        return os.pread(self.label_file.fd, size, at).decode("utf-8")

    def insert(self, keys: list[int], sig: np.ndarray, label: str = "") -> int:
        held = len(self.labels)
        if held == self.capacity:
            self.spill()
            held = 0
        if held == len(self.signatures):
            grow = held if self.capacity is None else min(held, self.capacity - held)
            self.signatures = np.concatenate([self.signatures, np.zeros((grow, self.num_perm), np.uint32)])
            self.band_keys = np.concatenate([self.band_keys, np.zeros((grow, self.bands), np.uint64)])
        self.signatures[held] = sig
        self.band_keys[held] = keys
        for last, prev, key in zip(self.last, self.prev, keys):
            prev.append(last.get(key, -1))
            last[key] = held
        self.labels.append(label)
        return self.base + held

    def spill(self) -> None:
        """Move the rows held in memory to disk as a new run, then merge runs of similar size."""
        held = len(self.labels)
        if not held:
            return
        if self.sig_file is None:
            self.sig_file, self.label_file, self.label_spans = (_SpillFile(self.spill_dir) for _ in range(3))
        self.sig_file.append(self.signatures[:held])
        encoded = [t.encode("utf-8") for t in self.labels]
        sizes = np.array([len(e) for e in encoded], np.uint64)
        at = self.label_file.append(b"".join(encoded))
        starts = np.uint64(at) + np.concatenate([np.zeros(1, np.uint64), np.cumsum(sizes)[:-1]])
        self.label_spans.append(np.stack([starts, sizes], axis=1))
        file, offsets, fences = _SpillFile(self.spill_dir), [], []
        for b in range(self.bands):
            order = np.argsort(self.band_keys[:held, b], kind="stable")
            keys = self.band_keys[order, b]
            offsets.append(file.append(keys))
            file.append(order.astype(np.int64) + self.base)
            fences.append(keys[::_BLOCK].tolist())
        self.runs.append(_Run(file, self.base, self.base + held, offsets, fences))
        self.base += held
        self._clear_memory()
        while len(self.runs) > 1 and self.runs[-2].count <= self.runs[-1].count:
            newer = self.runs.pop()
            self.runs[-1] = self._merge(self.runs[-1], newer)

    def _merge(self, a: _Run, b: _Run) -> _Run:
        """One run of the rows of `a` and `b`, reading at most `_MERGE_CHUNK` keys of each at a time."""
        file, offsets, fences, total = _SpillFile(self.spill_dir), [], [], a.count + b.count
        for band in range(self.bands):
            base = file.size
            offsets.append(base)
            band_fence, out, ia, ib = [], 0, 0, 0
            while ia < a.count or ib < b.count:
                ka = a.keys(band, ia, min(_MERGE_CHUNK, a.count - ia))
                kb = b.keys(band, ib, min(_MERGE_CHUNK, b.count - ib))
                more_a, more_b = ia + len(ka) < a.count, ib + len(kb) < b.count
                limit = min([k[-1] for k, more in ((ka, more_a), (kb, more_b)) if more], default=None)
                ta = len(ka) if limit is None else int(np.searchsorted(ka, limit, "right"))
                tb = len(kb) if limit is None else int(np.searchsorted(kb, limit, "right"))
                keys = np.concatenate([ka[:ta], kb[:tb]])
                rows = np.concatenate([a.rows(band, ia, ta), b.rows(band, ib, tb)])
                order = np.argsort(keys, kind="stable")
                keys, rows = keys[order], rows[order]
                file.write_at(base + 8 * out, keys)
                file.write_at(base + 8 * total + 8 * out, rows)
                band_fence.append(keys[(-out) % _BLOCK::_BLOCK])
                out, ia, ib = out + len(keys), ia + ta, ib + tb
            fences.append(np.concatenate(band_fence).tolist())
            file.size = base + 16 * total
        a.file.close()
        b.file.close()
        return _Run(file, a.start, b.stop, offsets, fences)

    def close(self) -> None:
        """Delete the temporary files (they also go when the process ends)."""
        for run in self.runs:
            run.file.close()
        for f in (self.sig_file, self.label_file, self.label_spans):
            if f is not None:
                f.close()
        self.runs, self.sig_file, self.label_file, self.label_spans = [], None, None, None

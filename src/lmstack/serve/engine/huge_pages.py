"""Tensors in memory the OS may back with 2 MB pages: Linux transparent huge pages, asked for by `madvise`.

    >>> arena = Arena()
    >>> w = arena.empty((4096, 768), torch.bfloat16)   # in a 2 MB-aligned mapping advised MADV_HUGEPAGE

A decode step streams every packed weight from memory (`linear.py`). In 4 KB pages the 4 weight
streams of a group cross a page every 64 input pairs, each crossing a TLB miss, and the hardware
prefetchers stop at every page boundary; in 2 MB pages they run on (benchmarks/serve/RESULTS.md:
7–9% less time for the 125M linears at 1–16 rows on a Zen 4 CPU). The KV cache is streamed the same
way by decode attention (5–6% less time from DRAM at 192–600 positions). Most Linux systems set
transparent huge pages to `madvise`, so memory gets them only where a program asks.

`Arena` hands out tensors from anonymous mappings of `segment_bytes` (64 MB), each mapping started
on a 2 MB boundary and advised MADV_HUGEPAGE; a tensor larger than a segment gets a mapping of its
own. A mapping lives while any tensor in it does (the tensors hold it), so dropping a model frees
its weights as before — but for the current segment, which the arena holds: it hands out memory in
order and never reuses it, so at most one segment of dropped tensors stays allocated. Pages are only allocated where written: at most the part of one 2 MB page
past a segment's last tensor is memory spent for nothing. Where `madvise` or MADV_HUGEPAGE is not
there (not Linux), `empty` is `torch.empty`.

Memory that is only mapped costs a page fault on first write — in a virtual machine, with 2 MB
pages, about as long as writing it at 1–2 GB/s. `populate` writes a tensor's pages up front; the
engine does it for the KV cache where that fits in memory (`kv_cache.py`), so the first requests
after start do not pay for it (on a 2-core AMX machine, 0.45 s of a 125M server's first 64-request
load went to the cache's first-touch faults).
"""

from __future__ import annotations

import math
import mmap
import os

import torch

HUGE_PAGE = 2 << 20
ALIGN = 64  # every tensor starts on a cache line


def supported() -> bool:
    """Whether this platform can ask for transparent huge pages (Linux's madvise MADV_HUGEPAGE)."""
    return hasattr(mmap, "MADV_HUGEPAGE") and hasattr(mmap.mmap, "madvise")


def available_memory() -> int | None:
    """Bytes the OS could give without swapping (Linux's MemAvailable; else free pages), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def populate(tensor: torch.Tensor) -> None:
    """Write every page of `tensor` now (with zeros), so later first writes fault nothing."""
    tensor.zero_()


class Arena:
    """Tensors carved from huge-page-advised mappings; see the module docstring."""

    def __init__(self, segment_bytes: int = 64 << 20):
        if segment_bytes < HUGE_PAGE or segment_bytes % HUGE_PAGE:
            raise ValueError(f"segment_bytes must be a positive multiple of {HUGE_PAGE} (2 MB), got {segment_bytes}")
        self.segment_bytes = segment_bytes
        self._segment: torch.Tensor | None = None  # uint8 view of the current mapping, from a 2 MB boundary
        self._used = 0

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised contiguous CPU tensor, in huge-page-advised memory where the platform has it."""
        nbytes = math.prod(shape) * dtype.itemsize
        if not supported() or nbytes == 0:
            return torch.empty(shape, dtype=dtype)
        start = -(-self._used // ALIGN) * ALIGN
        if nbytes > self.segment_bytes:
            segment, start = self._map(nbytes), 0  # its own mapping; the current segment stays current
        else:
            if self._segment is None or start + nbytes > self.segment_bytes:
                self._segment, start = self._map(self.segment_bytes), 0
            segment, self._used = self._segment, start + nbytes
        return segment[start:start + nbytes].view(dtype).view(shape)

    def zeros(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """`empty`, zero-filled. Memory fresh from an anonymous mapping is zero and the arena never hands
        out the same bytes twice, so its pages stay untouched (unallocated) until first written."""
        if not supported():
            return torch.zeros(shape, dtype=dtype)
        return self.empty(shape, dtype)

    @staticmethod
    def _map(nbytes: int) -> torch.Tensor:
        size = -(-nbytes // HUGE_PAGE) * HUGE_PAGE
        region = mmap.mmap(-1, size + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        region.madvise(mmap.MADV_HUGEPAGE)
        whole = torch.frombuffer(region, dtype=torch.uint8)  # holds `region` open while any view of it lives
        skip = -whole.data_ptr() % HUGE_PAGE
        return whole[skip:skip + size]

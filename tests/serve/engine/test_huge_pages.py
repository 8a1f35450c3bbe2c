import ctypes
import gc
import os
import sys

import pytest
import torch

from lmstack.serve.engine import huge_pages
from lmstack.serve.engine.huge_pages import HUGE_PAGE, Arena
from lmstack.serve.engine.kv_cache import KVCache


def mapping_of(address: int) -> dict[str, str]:
    """The /proc/self/smaps fields of the mapping holding `address`."""
    with open("/proc/self/smaps") as f:
        lines = f.read().splitlines()
    fields, inside = {}, False
    for line in lines:
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            lo, hi = (int(x, 16) for x in head.split("-"))
            if inside:
                break
            inside = lo <= address < hi
        elif inside:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_tensors_are_aligned_apart_and_outlive_the_arena():
    arena = Arena(segment_bytes=4 * HUGE_PAGE)
    a = arena.empty((1000, 3), torch.bfloat16)  # 6,000 bytes
    b = arena.empty((7,), torch.float32)
    c = arena.empty((2, 16, 2), torch.bfloat16)
    if huge_pages.supported():
        assert a.data_ptr() % HUGE_PAGE == 0
        assert b.data_ptr() - a.data_ptr() == 6016 and c.data_ptr() - b.data_ptr() == 64  # packed in order, 64-aligned
    assert [t.shape for t in (a, b, c)] == [(1000, 3), (7,), (2, 16, 2)] and all(t.is_contiguous() for t in (a, b, c))
    a.fill_(1.5), b.fill_(-2.0), c.fill_(3.0)
    del arena
    gc.collect()
    assert a.float().sum().item() == 4500.0 and b.sum().item() == -14.0 and c.sum().item() == 192.0


def test_a_full_segment_starts_the_next_and_a_big_tensor_gets_its_own():
    arena = Arena(segment_bytes=HUGE_PAGE)
    first = arena.empty((HUGE_PAGE - 128,), torch.uint8)
    big = arena.empty((3 * HUGE_PAGE,), torch.uint8)  # own mapping: the current segment is untouched
    small = arena.empty((64,), torch.uint8)  # still fits after `first`
    spill = arena.empty((128,), torch.uint8)  # does not: a new segment
    if huge_pages.supported():
        assert small.data_ptr() == first.data_ptr() + HUGE_PAGE - 128
        assert big.data_ptr() % HUGE_PAGE == 0 and spill.data_ptr() % HUGE_PAGE == 0
        assert len({first.data_ptr() // HUGE_PAGE, big.data_ptr() // HUGE_PAGE, spill.data_ptr() // HUGE_PAGE}) == 3
    big.fill_(7)
    assert big.sum().item() == 21 * HUGE_PAGE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are Linux's")
def test_on_linux_the_mapping_is_advised_for_huge_pages():
    assert huge_pages.supported()
    t = Arena().empty((4 * HUGE_PAGE // 2,), torch.bfloat16)
    t.fill_(1.0)
    fields = mapping_of(t.data_ptr())
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            disabled = "[never]" in f.read()
    except FileNotFoundError:  # a kernel built without them
        disabled = True
    # madvise(MADV_HUGEPAGE) took: eligible under "always" and "madvise" alike
    assert fields.get("THPeligible", "0") == ("0" if disabled else "1")
    assert int(fields["Size"].split()[0]) * 1024 >= 64 << 20


def test_zeros_are_zero_after_neighbours_were_written():
    arena = Arena(segment_bytes=HUGE_PAGE)
    arena.empty((1000,), torch.float32).fill_(3.0)
    z = arena.zeros((50, 8), torch.bfloat16)
    arena.empty((100,), torch.float32).fill_(-1.0)
    assert z.count_nonzero().item() == 0 and z.shape == (50, 8)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are Linux's")
def test_the_kv_cache_lives_in_advised_zeroed_memory(tiny_llama):
    cache = KVCache(tiny_llama.config, num_slots=2, max_context=64, dtype=torch.bfloat16)
    assert cache.keys.count_nonzero().item() == 0 and cache.values.count_nonzero().item() == 0
    for buffer in (cache.keys, cache.values):
        assert mapping_of(buffer.data_ptr()).get("VmFlags", "").split().count("hg") == 1  # MADV_HUGEPAGE


def test_a_segment_size_that_is_not_whole_huge_pages_is_refused():
    with pytest.raises(ValueError, match="multiple of 2097152"):
        Arena(segment_bytes=HUGE_PAGE + 4096)


def resident_bytes(t: torch.Tensor) -> int:
    """Bytes of `t`'s pages in memory (mincore(2), 4 KB granules): those ever written, for anonymous memory."""
    page = os.sysconf("SC_PAGE_SIZE")
    start = t.data_ptr() // page * page
    length = -(-(t.data_ptr() + t.nbytes - start) // page) * page
    vec = (ctypes.c_ubyte * (length // page))()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    assert libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(length), vec) == 0, os.strerror(ctypes.get_errno())
    return sum(b & 1 for b in vec) * page


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/smaps is Linux's")
def test_a_cache_that_fits_is_written_at_start_and_a_large_one_is_left_to_fill(tiny_llama, monkeypatch):
    # 4 MB each; a cache has an arena, so its mapping holds its keys and values and nothing else
    shape = dict(num_slots=4, max_context=4096, dtype=torch.bfloat16)
    cache = KVCache(tiny_llama.config, **shape)
    assert cache.populated and huge_pages.available_memory() > 0
    assert cache.keys.nbytes == 2 * 4 * 2 * 4096 * 32 * 2
    assert resident_bytes(cache.keys) == cache.keys.nbytes and resident_bytes(cache.values) == cache.values.nbytes
    assert cache.keys.count_nonzero().item() == 0 and cache.values.count_nonzero().item() == 0
    monkeypatch.setattr(huge_pages, "available_memory", lambda: 3 * cache.keys.nbytes)  # the pair is > 1/4 of it
    lazy = KVCache(tiny_llama.config, **shape)
    assert not lazy.populated
    assert resident_bytes(lazy.keys) == 0 and resident_bytes(lazy.values) == 0
    assert lazy.values.count_nonzero().item() == 0

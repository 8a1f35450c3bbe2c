"""The near-duplicate index under a memory budget: rows moved to disk answer exactly as in memory."""

import json
import random
from pathlib import Path

import numpy as np

from lmstack.data.clean import clean
from lmstack.data.ops import build, parse_params
from lmstack.data.ops.lsh import BandIndex, _BLOCK
from lmstack.data.recipe import recipe_from_dict


def _signatures(n: int, num_perm: int, seed: int = 0) -> np.ndarray:
    """Random signatures where a third share their first band (one bucket longer than a fence block)
    and every tenth copies most of an earlier row (a near duplicate)."""
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**32, size=(n, num_perm), dtype=np.uint32)
    sigs[::3, :16] = 7
    for i in range(10, n, 10):
        src = int(rng.integers(0, i))
        keep = rng.random(num_perm) < 0.85
        sigs[i, keep] = sigs[src, keep]
    return sigs


def test_spilled_index_gives_the_same_candidates_similarities_and_labels(tmp_path):
    sigs = _signatures(1200, 64)
    memory = BandIndex(64, 0.7)
    disk = BandIndex(64, 0.7, max_mb=0.01, spill_dir=str(tmp_path))  # a few rows a flush
    assert disk.capacity is not None and disk.capacity < 10
    for i, sig in enumerate(sigs):
        keys = memory.keys(sig)
        assert disk.keys(sig) == keys
        want, got = memory.candidates(keys), disk.candidates(keys)
        assert got.tolist() == want.tolist()
        if len(want):
            assert disk.similarities(got, sig).tolist() == memory.similarities(want, sig).tolist()
            assert disk.label(int(got[0])) == memory.label(int(want[0])) == f"row {want[0]}"
        memory.insert(keys, sig, f"row {i}")
        disk.insert(keys, sig, f"row {i}")
    assert len(memory.candidates(memory.keys(sigs[0]))) > _BLOCK  # the shared bucket spans fence blocks
    assert disk.base > 1100 and len(disk.runs) <= 9  # runs merged: at most log2(rows / rows a flush) + 1
    assert sum(r.count for r in disk.runs) == disk.base
    assert list(tmp_path.iterdir()) == []  # anonymous files: nothing to leave behind
    disk.close()


def _near_duplicate_corpus(path: Path, n: int = 240) -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)]
    rows = []
    for i in range(n):
        if i >= 20 and i % 6 == 0:  # a near duplicate of an earlier row: one word changed, one added
            text = rows[rng.randrange(i)]["text"].split()
            text[rng.randrange(len(text))] = "changed"
            text = " ".join(text + ["extra"])
        else:
            text = " ".join(rng.choice(words) for _ in range(60))
        rows.append({"id": i, "text": text})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _clean(tmp_path: Path, name: str, **minhash) -> dict[str, bytes]:
    recipe = recipe_from_dict({"inputs": ["data.jsonl"], "max_removed_ratio": 0.9,
                               "steps": [{"op": "minhash_dedup", "en_ngram": 3, "num_perm": 64, **minhash}]}, tmp_path)
    clean(recipe, tmp_path / name)
    return {p.relative_to(tmp_path / name).as_posix(): p.read_bytes()
            for p in sorted((tmp_path / name).rglob("*.jsonl"))}


def test_tiny_memory_budget_gives_byte_identical_output(tmp_path):
    _near_duplicate_corpus(tmp_path / "data.jsonl")
    in_memory = _clean(tmp_path, "memory", max_index_mb=None)
    spilled = _clean(tmp_path, "spilled", max_index_mb=0.005, spill_dir=str(tmp_path / "spill"))
    assert spilled == in_memory
    kept = in_memory["data.jsonl"].decode().splitlines()
    assert len(kept) < 240 - 25 and len(kept) > 240 - 40  # about 37 planted near duplicates removed


def test_budget_default_and_rows_a_flush():
    step = build("minhash_dedup", parse_params("minhash_dedup", {"num_perm": 112, "threshold": 0.72}))
    assert step.p.max_index_mb == 256
    assert 100_000 < step.index.capacity < 200_000  # ~2 KB a row held in memory


def test_run_temp_folder_is_used_unless_spill_dir_says_where(tmp_path):
    step = build("minhash_dedup", parse_params("minhash_dedup", {}))
    step.use_temp_folder(tmp_path)
    assert step.index.spill_dir == str(tmp_path)
    fixed = build("minhash_dedup", parse_params("minhash_dedup", {"spill_dir": "/somewhere"}))
    fixed.use_temp_folder(tmp_path)
    assert fixed.index.spill_dir == "/somewhere"

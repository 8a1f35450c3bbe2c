"""The exact-duplicate index under a memory budget: digests moved to disk answer exactly as in memory."""

import hashlib
import json
import random
from pathlib import Path

from lmstack.data.clean import clean
from lmstack.data.ops import build, parse_params
from lmstack.data.ops.digest_index import DigestIndex
from lmstack.data.recipe import recipe_from_dict


def _digest(k: int) -> bytes:
    return hashlib.blake2b(str(k).encode(), digest_size=16).digest()


def test_spilled_index_gives_the_same_first_labels(tmp_path):
    rng = random.Random(0)
    memory, disk = DigestIndex(), DigestIndex(max_mb=0.0036, spill_dir=str(tmp_path))  # 20 digests a flush
    assert disk.capacity == 20
    answers = []
    for i in range(3000):
        digest = _digest(rng.randrange(1500))
        want = memory.first(digest, f"f:{i}")
        assert disk.first(digest, f"f:{i}") == want
        assert len(disk.memory) < disk.capacity
        answers.append(want)
    repeats = [a for a in answers if a is not None]
    assert len(repeats) == 3000 - len(memory.memory) and 1000 < len(repeats) < 2000
    assert disk.on_disk + len(disk.memory) == len(memory.memory) and disk.on_disk >= 1000
    assert list(tmp_path.iterdir()) == []  # the file was unlinked when made: nothing to leave behind
    disk.close()


def _clean(tmp_path: Path, name: str, **exact) -> dict[str, bytes]:
    recipe = recipe_from_dict({"inputs": ["data.jsonl"], "max_removed_ratio": 0.9,
                               "steps": [{"op": "exact_dedup", **exact}]}, tmp_path)
    clean(recipe, tmp_path / name)
    return {p.relative_to(tmp_path / name).as_posix(): p.read_bytes()
            for p in sorted((tmp_path / name).rglob("*.jsonl"))}


def test_tiny_memory_budget_gives_byte_identical_output(tmp_path):
    rng = random.Random(1)
    texts = [f"row {rng.randrange(300)}, {'Same' if rng.random() < 0.5 else 'same'} text." for _ in range(600)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    in_memory = _clean(tmp_path, "memory", max_index_mb=None)
    (tmp_path / "spill").mkdir()
    spilled = _clean(tmp_path, "spilled", max_index_mb=0.001, spill_dir=str(tmp_path / "spill"))
    assert spilled == in_memory
    distinct = len({t.lower() for t in texts})  # normalised: case and punctuation do not count
    assert len(in_memory["data.jsonl"].decode().splitlines()) == distinct
    assert len(in_memory["exclusions/exact_dedup.jsonl"].decode().splitlines()) == 600 - distinct
    assert list((tmp_path / "spill").iterdir()) == []


def test_budget_default_and_run_temp_folder(tmp_path):
    step = build("exact_dedup", parse_params("exact_dedup", {}))
    assert step.p.max_index_mb == 256 and step.index.capacity == 1_422_222  # ~180 bytes a digest
    step.use_temp_folder(tmp_path)
    assert step.index.spill_dir == str(tmp_path)
    fixed = build("exact_dedup", parse_params("exact_dedup", {"spill_dir": "/somewhere"}))
    fixed.use_temp_folder(tmp_path)
    assert fixed.index.spill_dir == "/somewhere"

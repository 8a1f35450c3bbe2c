"""The image-text example: seeded synthetic image-caption pairs (shapes, colours, positions, counts;
captions in Chinese and English), split into train, validation and test, drawn offline with Pillow.

>>> from lmstack.examples.image_text import generate
>>> summary = generate("out/shapes", seed=0, scale=0.1)   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from lmstack.train.image_text import synthetic_pairs

# Pairs per split at scale 1. Each split is drawn with its own seed, so no image is shared.
SPLITS = {"train": 1600, "validation": 200, "test": 200}


def generate(out_dir: str | Path, *, seed: int = 0, scale: float = 1.0, image_size: int = 32) -> dict:
    """Write `<split>/captions.jsonl` (+ images) for each split; return counts and paths."""
    out_dir = Path(out_dir)
    files = {}
    for offset, (split, n) in enumerate(SPLITS.items()):
        count = max(8, round(n * scale))
        synthetic_pairs(out_dir / split, n=count, seed=seed * 1000 + offset, image_size=image_size)
        files[f"{split}/captions.jsonl"] = count
    return {"seed": seed, "scale": scale, "image_size": image_size, "files": files}


__all__ = ["SPLITS", "generate"]

"""Mix noisy rows into a clean file at seeded positions and remember what each one is.

Every noise type gets an equal share of the noisy rows, at least one each, so even a tiny data set
exercises every filter. A noisy row always lands after the clean row it was made from: a
deduplicator keeps the first of two equal rows, and a cleaner that normalises a noisy copy back to
its source (traditional → simplified, say) must then find the noisy one second, as the sidecar says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lmstack.examples.customer_service.noise import NOISES, Noise

# Tries to find a source row whose noisy version is new text (an edit can undo itself).
_TRIES_PER_ROW = 50


@dataclass(frozen=True)
class Planted:
    """What the sidecar says about one noisy row."""

    noise: str
    source: dict | None  # the clean row a duplicate copies
    span: str | None  # the planted personal data


def noise_counts(n_clean: int, share: float, rng: random.Random) -> dict[str, int]:
    """How many rows of each noise type make `share` of a file that holds `n_clean` clean rows."""
    total = max(len(NOISES), round(n_clean * share / (1 - share)))
    extra = set(rng.sample(range(len(NOISES)), total % len(NOISES)))
    return {noise.name: total // len(NOISES) + (i in extra) for i, noise in enumerate(NOISES)}


def _corrupt(noise: Noise, source: dict, fields: tuple[str, ...], voice: str,
             rng: random.Random) -> tuple[dict, str | None]:
    """A noisy copy of `source`: the first field always, the others too for whole-row noise."""
    # One seed for the whole row, so a row's question and answer get the same codec, say.
    row_seed = rng.getrandbits(64)
    row, span = dict(source), None
    for field in fields if noise.whole_row else fields[:1]:
        row[field], field_span = noise.inject(source[field], source["lang"], voice, random.Random(row_seed))
        span = span or field_span
    return row, span


def interleave_noise(clean: list[dict], fields: tuple[str, ...], voice: str, share: float,
                     rng: random.Random, taken: set[str]) -> list[tuple[dict, Planted | None]]:
    """`clean` with noisy rows inserted, each paired with its `Planted` record (None for clean rows).

    `fields` are the text fields of a row, the main one first; `taken` holds every clean text of the
    data set, which a noisy row may not equal unless it is an exact duplicate.
    """
    keyed: list[tuple[tuple[int, int, int], dict, Planted | None]] = [
        ((i, 1, 0), row, None) for i, row in enumerate(clean)]
    counts = noise_counts(len(clean), share, rng)
    for noise in NOISES:
        sources = [i for i, row in enumerate(clean) if row["lang"] in noise.langs]
        for _ in range(counts[noise.name]):
            for _ in range(_TRIES_PER_ROW):
                at = rng.choice(sources)
                row, span = _corrupt(noise, clean[at], fields, voice, rng)
                main = row[fields[0]]
                if noise.name == "exact_duplicate" or (main != clean[at][fields[0]] and main not in taken):
                    break
            else:
                raise ValueError(f"no new text for {noise.name} after {_TRIES_PER_ROW} tries")
            # Key (p, 0, k) sorts just before clean row p; a noisy copy goes somewhere after its source.
            position = rng.randint(at + 1, len(clean))
            planted = Planted(noise.name, clean[at] if noise.duplicate else None, span)
            keyed.append(((position, 0, len(keyed)), row, planted))
    keyed.sort(key=lambda item: item[0])
    return [(row, planted) for _, row, planted in keyed]

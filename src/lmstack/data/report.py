"""What a cleaning run did, counted as it streams: per-step removals and changes, PII by kind,
language mix and text lengths before and after. `RunStats.report()` is the JSON report.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lmstack.data.lang import script_lang


def length_stats(lengths: list[int]) -> dict[str, float]:
    """Count, mean and quantiles of text lengths (characters)."""
    if not lengths:
        return {"count": 0}
    ordered = sorted(lengths)

    def q(f: float) -> int:
        return ordered[min(int(f * len(ordered)), len(ordered) - 1)]

    return {"count": len(ordered), "mean": round(sum(ordered) / len(ordered), 1), "min": ordered[0],
            "p10": q(0.1), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": ordered[-1]}


def measure(texts: list[str]) -> tuple[int, str]:
    """A row's length in characters (its texts joined by newlines) and its script language."""
    text = "\n".join(texts)
    return len(text), script_lang(text)


# Doubling bins: texts run from a few characters (questions) to tens of thousands (web pages).
LENGTH_EDGES = [0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]


def length_histogram(lengths: list[int]) -> list[int]:
    """Counts per bin [LENGTH_EDGES[i], LENGTH_EDGES[i+1]); the last bin is open-ended."""
    counts = [0] * len(LENGTH_EDGES)
    for n in lengths:
        counts[bisect.bisect_right(LENGTH_EDGES, n) - 1] += 1
    return counts


@dataclass
class StepStats:
    step: str
    op: str
    removed: int = 0
    changed: int = 0
    reasons: Counter = field(default_factory=Counter)
    tags: Counter = field(default_factory=Counter)


@dataclass
class RunStats:
    steps: dict[str, StepStats]
    rows_read: Counter = field(default_factory=Counter)  # by input file
    rows_kept: Counter = field(default_factory=Counter)
    lengths_before: list[int] = field(default_factory=list)  # one int a row: small beside the rows themselves
    lengths_after: list[int] = field(default_factory=list)
    langs_before: Counter = field(default_factory=Counter)
    langs_after: Counter = field(default_factory=Counter)
    augmented: Counter = field(default_factory=Counter)  # "method:kept" or "method:<drop reason>"

    @property
    def read(self) -> int:
        return sum(self.rows_read.values())

    @property
    def removed(self) -> int:
        return sum(s.removed for s in self.steps.values())

    @property
    def removed_share(self) -> float:
        return self.removed / self.read if self.read else 0.0

    def saw(self, file: str, measured: tuple[int, str]) -> None:
        """Count a row read: `measured` is its texts' `measure()`."""
        self.rows_read[file] += 1
        self.lengths_before.append(measured[0])
        self.langs_before[measured[1]] += 1

    def kept(self, file: str, measured: tuple[int, str]) -> None:
        self.rows_kept[file] += 1
        self.lengths_after.append(measured[0])
        self.langs_after[measured[1]] += 1

    def table(self) -> list[dict[str, Any]]:
        """Per step: rows removed and changed, and the removed share of the rows read."""
        return [{"step": s.step, "op": s.op, "removed": s.removed, "removed_share": round(s.removed / max(self.read, 1), 4),
                 "changed": s.changed} for s in self.steps.values()]

    def report(self, rejects: Counter, budget: dict[str, Any]) -> dict[str, Any]:
        pii: Counter = Counter()
        for s in self.steps.values():
            if s.op == "pii":
                pii.update(s.tags)
        return {
            "rows_read": self.read,
            "rows_kept": sum(self.rows_kept.values()),
            "rows_removed": self.removed,
            "removed_share": round(self.removed_share, 4),
            "rejected": dict(sorted(rejects.items())),
            "budget": budget,
            "inputs": {f: {"read": n, "kept": self.rows_kept[f]} for f, n in self.rows_read.items()},
            "operators": [{**row, "reasons": dict(self.steps[row["step"]].reasons.most_common(10)),
                           "tags": dict(sorted(self.steps[row["step"]].tags.items()))} for row in self.table()],
            "pii": dict(sorted(pii.items())),
            "languages": {"before": dict(sorted(self.langs_before.items())), "after": dict(sorted(self.langs_after.items()))},
            "length_chars": {"before": length_stats(self.lengths_before), "after": length_stats(self.lengths_after)},
            "length_histogram": {"edges": LENGTH_EDGES, "before": length_histogram(self.lengths_before),
                                 "after": length_histogram(self.lengths_after)},
            **({"augmented": _by_method(self.augmented)} if self.augmented else {}),
        }


def _by_method(counts: Counter) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, n in sorted(counts.items()):
        method, outcome = key.split(":")
        out.setdefault(method, {})[outcome] = n
    return out


def format_table(stats: RunStats) -> str:
    """The per-step removal table as aligned text, for error messages and the CLI."""
    lines = [f"{'step':<22}{'op':<18}{'removed':>9}{'share':>9}{'changed':>9}"]
    for row in stats.table():
        lines.append(f"{row['step']:<22}{row['op']:<18}{row['removed']:>9}{row['removed_share']:>9.2%}{row['changed']:>9}")
    lines.append(f"{'total':<40}{stats.removed:>9}{stats.removed_share:>9.2%}   of {stats.read} rows read")
    return "\n".join(lines)

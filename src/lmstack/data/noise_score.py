"""Score a cleaning run against a noise sidecar: what share of each injected noise type the run
caught (recall), and how much of what its target steps did hit real noise (precision).

The sidecar is the customer-service generator's `noise.jsonl`: one entry per injected row with
`file`, `line`, `id` and `noise`. Rows are matched by `id`, else by file and line.

- recall(T) = planted rows of type T that were removed by any step, or changed by one of T's
  targets, over all planted rows of type T;
- precision(T) = rows T's targets acted on that are planted T, over those that are planted T or
  clean. Rows of another noise type are counted apart (`other_noise`): removing them is right, but
  not this type's doing.

A target is `step` (the step removed or changed the row) or `step:tag` (it removed the row for a
reason naming the tag, or changed it with that tag, as `pii:phone`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from lmstack.errors import UserError


def _key(entry: dict[str, Any]) -> str:
    return f"id:{entry['id']}" if entry.get("id") is not None else f"{entry['file']}:{entry['line']}"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _actions(out_dir: Path) -> dict[str, list[tuple[str, str, str]]]:
    """row key → [(step, 'removed'|'changed', reason or space-joined tags)]."""
    acts: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for kind, verb in (("exclusions", "removed"), ("changes", "changed")):
        for path in sorted((out_dir / kind).glob("*.jsonl")):
            for e in _read_jsonl(path):
                detail = e.get("reason") or " ".join(e.get("tags", []))
                acts[_key(e)].append((e["step"], verb, detail))
    return acts


def _hits(target: str, acts: list[tuple[str, str, str]]) -> bool:
    step, _, tag = target.partition(":")
    return any(s == step and (not tag or tag in detail.replace(",", " ").split()) for s, _, detail in acts)


def score_noise(sidecar: str | Path, out_dir: str | Path, targets: dict[str, list[str]]) -> dict[str, Any]:
    """Precision and recall per noise type, and per step how many of its actions hit noise.

    >>> score_noise("cs/noise.jsonl", "out/clean", {"pii_mobile": ["pii:phone"]})["by_noise"]   # doctest: +SKIP
    {'pii_mobile': {'planted': 40, 'caught': 40, 'recall': 1.0, ..., 'precision': 1.0}}
    """
    sidecar = Path(sidecar)
    if not sidecar.is_file():
        raise UserError(f"{sidecar}: no such noise sidecar", hint="noise_sidecar names the generator's noise.jsonl")
    planted: dict[str, str] = {_key(e): e["noise"] for e in _read_jsonl(sidecar)}
    types = list(dict.fromkeys(planted.values()))
    acts = _actions(Path(out_dir))
    by_noise = {}
    for noise in types:
        mine = {k for k, t in planted.items() if t == noise}
        wanted = targets.get(noise, [])
        caught = {k for k in mine if any(verb == "removed" for _, verb, _ in acts.get(k, []))
                  or any(_hits(t, acts.get(k, [])) for t in wanted)}
        targeted = {k for k, a in acts.items() if any(_hits(t, a) for t in wanted)}
        true_pos = len(targeted & mine)
        false_pos = sum(k not in planted for k in targeted)
        by_noise[noise] = {"planted": len(mine), "caught": len(caught),
                           "recall": round(len(caught) / len(mine), 4) if mine else None,
                           "targets": wanted, "targeted": len(targeted), "true_pos": true_pos, "false_pos": false_pos,
                           "other_noise": len(targeted) - true_pos - false_pos,
                           "precision": round(true_pos / (true_pos + false_pos), 4) if true_pos + false_pos else None}
    by_step: dict[str, dict[str, int]] = defaultdict(lambda: {"acted": 0, "noise": 0, "clean": 0})
    for k, a in acts.items():
        for step in dict.fromkeys(s for s, _, _ in a):
            by_step[step]["acted"] += 1
            by_step[step]["noise" if k in planted else "clean"] += 1
    return {"by_noise": by_noise, "by_step": dict(sorted(by_step.items()))}

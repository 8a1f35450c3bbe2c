"""Precision and recall against a hand-made noise sidecar."""

import json
from pathlib import Path

from lmstack.data.noise_score import score_noise


def write(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_precision_and_recall_per_noise_type(tmp_path):
    write(tmp_path / "noise.jsonl", [
        {"file": "t.jsonl", "line": 2, "id": "a2", "noise": "too_short"},
        {"file": "t.jsonl", "line": 3, "id": "a3", "noise": "too_short"},
        {"file": "t.jsonl", "line": 4, "id": "a4", "noise": "too_short"},
        {"file": "t.jsonl", "line": 5, "id": "a5", "noise": "pii_mobile"},
        {"file": "t.jsonl", "line": 6, "id": "a6", "noise": "pii_mobile"},
        {"file": "t.jsonl", "line": 7, "id": "a7", "noise": "junk"},
    ])
    out = tmp_path / "out"
    # length removes two short rows, the junk row (another noise type) and one clean row
    write(out / "exclusions" / "length.jsonl", [
        {"file": "t.jsonl", "line": n, "id": f"a{n}", "step": "length", "reason": "length: 1 chars < 2"} for n in (2, 3, 7, 9)])
    # the third short row is removed by dedup: caught (recall) but not length's doing (precision)
    write(out / "exclusions" / "exact_dedup.jsonl", [{"file": "t.jsonl", "line": 4, "id": "a4", "step": "exact_dedup", "reason": "x"}])
    # pii tags one planted phone, one clean row, and an e-mail (not a phone) in the other planted row
    write(out / "changes" / "pii.jsonl", [
        {"file": "t.jsonl", "line": 5, "id": "a5", "step": "pii", "tags": ["phone"]},
        {"file": "t.jsonl", "line": 8, "id": "a8", "step": "pii", "tags": ["phone", "email"]},
        {"file": "t.jsonl", "line": 6, "id": "a6", "step": "pii", "tags": ["email"]}])

    scores = score_noise(tmp_path / "noise.jsonl", out,
                         {"too_short": ["length"], "pii_mobile": ["pii:phone"], "junk": ["special_chars"]})
    short, phone, junk = (scores["by_noise"][k] for k in ("too_short", "pii_mobile", "junk"))
    assert (short["planted"], short["caught"], short["recall"]) == (3, 3, 1.0)
    assert (short["targeted"], short["true_pos"], short["false_pos"], short["other_noise"]) == (4, 2, 1, 1)
    assert short["precision"] == round(2 / 3, 4)
    assert (phone["caught"], phone["recall"], phone["true_pos"], phone["false_pos"], phone["precision"]) == (1, 0.5, 1, 1, 0.5)
    assert (junk["caught"], junk["recall"], junk["targeted"], junk["precision"]) == (1, 1.0, 0, None)
    assert scores["by_step"] == {"exact_dedup": {"acted": 1, "noise": 1, "clean": 0},
                                 "length": {"acted": 4, "noise": 3, "clean": 1},
                                 "pii": {"acted": 3, "noise": 2, "clean": 1}}


def test_rows_without_ids_match_by_file_and_line(tmp_path):
    write(tmp_path / "noise.jsonl", [{"file": "c.txt", "line": 3, "id": None, "noise": "junk"}])
    write(tmp_path / "out" / "exclusions" / "special_chars.jsonl",
          [{"file": "c.txt", "line": 3, "step": "special_chars", "reason": "special_chars: 0.9 > 0.25"}])
    scores = score_noise(tmp_path / "noise.jsonl", tmp_path / "out", {"junk": ["special_chars"]})
    assert scores["by_noise"]["junk"]["recall"] == 1.0 and scores["by_noise"]["junk"]["precision"] == 1.0

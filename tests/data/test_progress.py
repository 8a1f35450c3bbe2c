"""The cleaning progress bar: row totals for line-based inputs, rows/s and ETA on the bar."""

import io
import json

from rich.console import Console

from lmstack.data.clean import clean
from lmstack.data.progress import count_rows, progress_bar
from lmstack.data.recipe import recipe_from_dict


def test_count_rows_of_line_based_inputs(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    (tmp_path / "b.txt").write_text("one\ntwo\nthree")  # no final newline
    (tmp_path / "c.csv").write_text("text\nx\n")
    assert count_rows([tmp_path / "a.jsonl", tmp_path / "b.txt"]) == 5
    assert count_rows([tmp_path / "a.jsonl", tmp_path / "c.csv"]) is None


def test_bar_shows_rate_count_and_eta():
    sink = io.StringIO()
    with progress_bar(4, console=Console(file=sink, force_terminal=True, width=120)) as advance:
        for _ in range(4):
            advance(1)
    out = sink.getvalue()
    assert "cleaning" in out and "4/4" in out and "rows/s" in out


def test_clean_with_progress_gives_the_same_output(tmp_path):
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": f"row {i % 3}"}) + "\n" for i in range(9)))
    raw = {"inputs": ["d.jsonl"], "steps": [{"op": "exact_dedup"}], "max_removed_ratio": 0.9}
    quiet = clean(recipe_from_dict(raw, tmp_path), tmp_path / "a")
    shown = clean(recipe_from_dict(raw, tmp_path), tmp_path / "b", progress=True)
    assert quiet == shown and shown["rows_kept"] == 3
    assert (tmp_path / "a" / "d.jsonl").read_bytes() == (tmp_path / "b" / "d.jsonl").read_bytes()

"""Running a recipe end to end: outputs, exclusions, rejects, the removal budget, crash-safety."""

import json
from pathlib import Path

import pytest

from lmstack.data import clean as clean_module
from lmstack.data.clean import clean
from lmstack.data.recipe import load_recipe, recipe_from_dict
from lmstack.errors import UserError

ROWS = [
    {"id": "r1", "text": "您好，我的信用卡丢了，怎么办理挂失？"},
    {"id": "r2", "text": "How do I raise my credit card limit?"},
    {"id": "r3", "text": "嗯"},                                               # too short
    {"id": "r4", "text": "請問轉賬限額是多少？"},                               # traditional
    {"id": "r5", "text": "My phone is 13812345678, please call me back."},    # PII
    {"id": "r6", "text": "您好，我的信用卡丢了，怎么办理挂失？"},                 # duplicate of r1
    {"id": "r7", "text": "Can I open an account online with my passport?"},
    {"id": "r8", "body": "no text field"},                                   # reject
    {"id": "r9", "text": "What are the fees for international transfers?"},
    {"id": "r10", "text": "ok"},                                              # too short
]


def write_rows(path: Path, rows, extra: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows) + extra)
    return path


def make_recipe(tmp_path: Path, **overrides):
    write_rows(tmp_path / "data.jsonl", ROWS, b'{"id": "r11", broken\n')
    raw = {"inputs": ["data.jsonl"],
           "steps": [{"op": "nfkc"}, {"op": "chinese_script"}, {"op": "length", "min": 3},
                     {"op": "pii"}, {"op": "exact_dedup"}],
           "max_removed_ratio": 0.5, **overrides}
    return recipe_from_dict(raw, tmp_path)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_clean_writes_kept_rows_exclusions_changes_rejects_and_report(tmp_path):
    report = clean(make_recipe(tmp_path), tmp_path / "out")
    out = tmp_path / "out"
    kept = read_jsonl(out / "data.jsonl")
    assert [r["id"] for r in kept] == ["r1", "r2", "r4", "r5", "r7", "r9"]
    assert kept[2]["text"] == "请问转账限额是多少？"
    assert kept[3]["text"] == "My phone is <PHONE>, please call me back."
    assert read_jsonl(out / "exclusions" / "length.jsonl") == [
        {"file": "data.jsonl", "line": 3, "id": "r3", "step": "length", "op": "length", "reason": "length: 1 chars < 3", "row": ROWS[2]},
        {"file": "data.jsonl", "line": 10, "id": "r10", "step": "length", "op": "length", "reason": "length: 2 chars < 3", "row": ROWS[9]}]
    assert read_jsonl(out / "exclusions" / "exact_dedup.jsonl")[0]["reason"] == "exact_dedup: same text as data.jsonl:1"
    assert read_jsonl(out / "changes" / "pii.jsonl") == [{"file": "data.jsonl", "line": 5, "id": "r5", "step": "pii", "tags": ["phone"]}]
    rejects = read_jsonl(out / "rejects.jsonl")
    assert [(e["file"], e["line"], e["reason"]) for e in rejects] == [
        ("data.jsonl", 8, "missing field: no string 'text'"), ("data.jsonl", 11, "bad JSON: Expecting property name enclosed in double quotes")]
    assert report["rows_read"] == 9 and report["rows_kept"] == 6 and report["rows_removed"] == 3
    assert report["rejected"] == {"bad JSON": 1, "missing field": 1}
    assert report["pii"] == {"phone": 1}
    assert [(o["step"], o["removed"], o["changed"]) for o in report["operators"]] == [
        ("nfkc", 0, 0), ("chinese_script", 0, 1), ("length", 2, 0), ("pii", 0, 1), ("exact_dedup", 1, 0)]
    assert report["languages"] == {"before": {"en": 5, "zh": 4}, "after": {"en": 4, "zh": 2}}
    assert report["length_chars"]["before"]["min"] == 1 and report["length_chars"]["after"]["min"] == 10
    assert json.loads((out / "report.json").read_text()) == report


def test_chat_rows_are_normalised_and_every_message_cleaned(tmp_path):
    rows = [{"id": 1, "instruction": "請問怎麼掛失？", "output": "請撥打客服熱線。"},
            {"id": 2, "conversations": [{"from": "human", "value": "hi there"}, {"from": "gpt", "value": "Hello!"}]}]
    write_rows(tmp_path / "chat.jsonl", rows)
    recipe = recipe_from_dict({"inputs": ["chat.jsonl"], "format": "chat", "steps": [{"op": "chinese_script"}]}, tmp_path)
    clean(recipe, tmp_path / "out")
    assert read_jsonl(tmp_path / "out" / "chat.jsonl") == [
        {"id": 1, "messages": [{"role": "user", "content": "请问怎么挂失？"}, {"role": "assistant", "content": "请拨打客服热线。"}]},
        {"id": 2, "messages": [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "Hello!"}]}]


def test_budget_stops_the_run_with_the_table(tmp_path):
    recipe = make_recipe(tmp_path, max_removed_ratio=0.15)
    with pytest.raises(UserError) as err:
        clean(recipe, tmp_path / "out")
    message = str(err.value)
    assert "would remove 3 of 9 rows (33.33%), over the budget max_removed_ratio=0.15; nothing was written" in message
    assert "length                length                    2   22.22%        0" in message
    assert "exact_dedup           exact_dedup               1   11.11%        0" in message
    assert "total                                           3   33.33%   of 9 rows read" in message
    assert "on_budget: relax" in message
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_relax_follows_the_stated_order_until_the_run_fits(tmp_path):
    recipe = make_recipe(tmp_path, max_removed_ratio=0.2, on_budget="relax",
                         relax=[{"step": "exact_dedup", "param": "compare", "values": ["first"]},
                                {"step": "length", "param": "min", "values": [2, 1]}])
    report = clean(recipe, tmp_path / "out")
    assert report["budget"]["relaxed"] == [
        {"step": "exact_dedup", "param": "compare", "value": "first", "removed_share_before": 0.3333},
        {"step": "length", "param": "min", "value": 2, "removed_share_before": 0.3333},
        {"step": "length", "param": "min", "value": 1, "removed_share_before": 0.2222}]
    assert report["rows_removed"] == 1  # only the duplicate is left out


def test_relax_that_never_fits_still_stops_and_lists_what_it_tried(tmp_path):
    recipe = make_recipe(tmp_path, max_removed_ratio=0.0, on_budget="relax",
                         relax=[{"step": "length", "param": "min", "values": [1]}])
    with pytest.raises(UserError, match=r"relaxed length.min = 1") as err:
        clean(recipe, tmp_path / "out")
    assert "every relaxation was tried" in str(err.value)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_crash_then_rerun_gives_byte_identical_output(tmp_path, monkeypatch):
    recipe = make_recipe(tmp_path)
    clean(recipe, tmp_path / "reference")
    real_build = clean_module.build

    def crashing_build(name, params):
        op = real_build(name, params)
        if name != "pii":
            return op
        calls = {"n": 0}

        def crash_on_fourth(texts):
            calls["n"] += 1
            if calls["n"] == 4:
                raise RuntimeError("killed mid-run")
            return op(texts)
        return crash_on_fourth

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "data.jsonl").write_text("previous run\n")
    monkeypatch.setattr(clean_module, "build", crashing_build)
    with pytest.raises(RuntimeError, match="killed mid-run"):
        clean(recipe, tmp_path / "out")
    assert _tree(tmp_path / "out") == {"data.jsonl": b"previous run\n"}  # no partial files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    monkeypatch.setattr(clean_module, "build", real_build)
    clean(recipe, tmp_path / "out")
    assert _tree(tmp_path / "out") == _tree(tmp_path / "reference")


def test_unknown_operator_or_parameter_gets_a_suggestion(tmp_path):
    write_rows(tmp_path / "data.jsonl", ROWS[:1])
    with pytest.raises(UserError, match=r"unknown operator 'lenght'") as err:
        recipe_from_dict({"inputs": ["data.jsonl"], "steps": [{"op": "lenght"}]}, tmp_path)
    assert "did you mean 'length'?" in str(err.value)
    with pytest.raises(UserError, match=r"operator 'length' has no parameter 'min_char'") as err:
        recipe_from_dict({"inputs": ["data.jsonl"], "steps": [{"op": "length", "min_char": 2}]}, tmp_path)
    assert "did you mean 'min'?" in str(err.value)
    with pytest.raises(UserError, match=r"parameter 'action'"):
        recipe_from_dict({"inputs": ["data.jsonl"], "steps": [{"op": "pii", "action": "erase"}]}, tmp_path)
    with pytest.raises(UserError, match=r"step 'minhash_dedup'.*has no parameter 'treshold'") as err:
        recipe_from_dict({"inputs": ["data.jsonl"], "steps": [{"op": "minhash_dedup"}],
                          "relax": [{"step": "minhash_dedup", "param": "treshold", "values": [0.9]}]}, tmp_path)
    assert "did you mean 'threshold'?" in str(err.value)
    with pytest.raises(UserError, match=r"max_removed_ration"):
        recipe_from_dict({"inputs": ["data.jsonl"], "steps": [{"op": "nfkc"}], "max_removed_ration": 0.1}, tmp_path)
    with pytest.raises(UserError, match=r"no such data file"):
        recipe_from_dict({"inputs": ["nope.jsonl"], "steps": [{"op": "nfkc"}]}, tmp_path)


def test_recipe_file_errors(tmp_path):
    with pytest.raises(UserError, match="no such recipe file"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("inputs: [a\n")
    with pytest.raises(UserError, match=r"bad.yaml:2:1: malformed YAML"):
        load_recipe(tmp_path / "bad.yaml")


def test_recipe_file_errors_name_the_line(tmp_path):
    write_rows(tmp_path / "data.jsonl", ROWS[:1])
    path = tmp_path / "recipe.yaml"
    path.write_text("inputs: [data.jsonl]\n"
                    "steps:\n"
                    "  - op: nfkc\n"
                    "  - op: length\n"
                    "    min_char: 2\n")
    with pytest.raises(UserError, match=rf"{path}:4: step 'length': operator 'length' has no parameter 'min_char'"):
        load_recipe(path)
    path.write_text("inputs: [data.jsonl]\n"
                    "steps:\n"
                    "  - op: minhash_dedup\n"
                    "max_removed_ration: 0.1\n"
                    "text_field: ''\n"
                    "relax:\n"
                    "  - {step: minhash_dedup, param: threshold, values: [0.9]}\n")
    with pytest.raises(UserError) as err:
        load_recipe(path)
    lines = sorted(err.value.message.splitlines())  # every schema mistake at once, each with its line
    assert lines == [f"{path}:4: max_removed_ration: unknown key; did you mean 'max_removed_ratio'?",
                     f"{path}:5: text_field: String should have at least 1 character (given: '')"]
    path.write_text("inputs: [data.jsonl]\n"
                    "steps:\n"
                    "  - op: minhash_dedup\n"
                    "relax:\n"
                    "  - {step: minhash_dedup, param: threshold, values: [0.9]}\n"
                    "  - {step: minhash_dedup, param: threshold, values: [7]}\n")
    with pytest.raises(UserError, match=rf"{path}:6: relax of step 'minhash_dedup'"):
        load_recipe(path)

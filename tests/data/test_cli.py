"""`lmstack data ops` and `lmstack data run`: thin commands over the library."""

import json

from typer.testing import CliRunner

from lmstack.cli.data_cmd import app

runner = CliRunner()


def test_ops_lists_every_operator_with_parameters_and_defaults():
    result = runner.invoke(app, ["ops", "--json"])
    assert result.exit_code == 0
    ops = {op["name"]: op for op in json.loads(result.output)}
    assert {"nfkc", "whitespace", "strip_html", "chinese_script", "length", "special_chars", "flagged_words", "encoding",
            "language", "gopher_quality", "gopher_repetition", "c4_lines", "fineweb_lines", "pii", "exact_dedup",
            "minhash_dedup", "semantic_dedup"} == set(ops)
    length = {p["name"]: p for p in ops["length"]["params"]}
    assert length["min"]["default"] == 1 and length["unit"]["default"] == "chars"
    assert ops["minhash_dedup"]["family"] == "dedup"
    table = runner.invoke(app, ["ops"])
    assert table.exit_code == 0 and "minhash_dedup (dedup)" in table.output and "threshold" in table.output


def test_run_prints_the_table_and_writes_the_output(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "hello world"}\n{"text": "x"}\n{"text": "hello world"}\n')
    (tmp_path / "r.yaml").write_text("inputs: [d.jsonl]\nsteps:\n  - op: length\n    min: 2\n  - op: exact_dedup\n"
                                     "max_removed_ratio: 0.7\n")
    result = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "kept 1 of 3 rows (removed 66.67%, budget 70%)" in result.output
    assert (tmp_path / "out" / "d.jsonl").read_text() == '{"text": "hello world"}\n'
    as_json = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "out"), "--json"])
    assert json.loads(as_json.output)["rows_removed"] == 2


def test_run_help():
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0 and "--data-dir" in result.output


def test_run_with_worker_processes_writes_the_same_output(tmp_path):
    rows = "".join(f'{{"text": "row {i % 50} of the corpus"}}\n' for i in range(600))
    (tmp_path / "d.jsonl").write_text(rows)
    (tmp_path / "r.yaml").write_text("inputs: [d.jsonl]\nsteps:\n  - op: nfkc\n  - op: exact_dedup\nmax_removed_ratio: 0.95\n")
    one = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "one"), "--json", "--no-html"])
    two = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "two"), "--json", "--no-html",
                              "--num-proc", "2", "--executor", "local"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert json.loads(one.output)["rows_kept"] == 50 and json.loads(two.output) == json.loads(one.output)
    assert (tmp_path / "two" / "d.jsonl").read_bytes() == (tmp_path / "one" / "d.jsonl").read_bytes()
    bad = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--executor", "spark"])
    assert bad.exit_code != 0 and "spark" in bad.output

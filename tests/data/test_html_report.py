"""The HTML report: charts as embedded PNGs, the run's numbers, dedup clusters, escaped row text."""

import json
import re

import pytest

from lmstack.cli.data_cmd import app
from lmstack.data.clean import clean
from lmstack.data.html_report import dedup_clusters, write_html_report
from lmstack.data.recipe import recipe_from_dict
from lmstack.errors import UserError

EVIL = "<script>alert('x')</script> is my question about the card"
ROWS = [EVIL, EVIL, EVIL.upper(), "Call me at 13812345678 about my loan please", "我的银行卡丢了怎么办", "x",
        "How do I open a savings account today?"]


@pytest.fixture()
def cleaned(tmp_path):
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                                              for i, t in enumerate(ROWS, 1)) + "not json\n", encoding="utf-8")
    raw = {"inputs": ["d.jsonl"], "max_removed_ratio": 0.6,
           "steps": [{"op": "length", "min": 2}, {"op": "pii"}, {"op": "exact_dedup"}]}
    report = clean(recipe_from_dict(raw, tmp_path), tmp_path / "out")
    return tmp_path / "out", report


def test_report_has_charts_numbers_clusters_and_escaped_text(cleaned):
    out, report = cleaned
    assert (report["rows_read"], report["rows_kept"], report["pii"]) == (7, 4, {"phone": 1})
    assert report["length_histogram"]["before"][0] == 1 and sum(report["length_histogram"]["after"]) == 4
    page = write_html_report(out).read_text(encoding="utf-8")
    assert len(re.findall(r'<img alt="chart" src="data:image/png;base64,', page)) == 5  # steps, waterfall, lengths, languages, PII
    assert "Read <b>7</b> rows, kept <b>4</b>, removed <b>3</b> (42.86%; budget 60%)" in page
    assert '<td>exact_dedup</td><td>exact_dedup</td><td class="n">2</td><td>28.57%</td>' in page
    assert "<td>phone</td><td class=\"n\">1</td>" in page
    assert "bad JSON: 1" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "exact_dedup: 2 rows repeat d.jsonl:1" in page


def test_clusters_group_removed_rows_by_the_row_they_repeat(cleaned):
    out, report = cleaned
    clusters = dedup_clusters(out, report)
    assert [(c["step"], c["kept"], c["size"]) for c in clusters] == [("exact_dedup", "d.jsonl:1", 2)]
    assert [m["where"] for m in clusters[0]["removed"]] == ["d.jsonl:2", "d.jsonl:3"]


def test_the_page_is_the_same_on_a_rerun(cleaned):
    out, _ = cleaned
    first = write_html_report(out).read_bytes()
    assert write_html_report(out).read_bytes() == first


def test_a_folder_without_a_report_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no report.json"):
        write_html_report(tmp_path)


def test_data_run_writes_the_page(tmp_path):
    from typer.testing import CliRunner

    (tmp_path / "d.jsonl").write_text('{"text": "hello world"}\n{"text": "hello world"}\n')
    (tmp_path / "r.yaml").write_text("inputs: [d.jsonl]\nsteps:\n  - op: exact_dedup\nmax_removed_ratio: 0.5\n")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output and "Read <b>2</b> rows" in (tmp_path / "o" / "report.html").read_text()

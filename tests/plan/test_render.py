from rich.console import Console

from lmstack.plan.config import PlanSection
from lmstack.plan.planner import make_plan
from lmstack.plan.render import render_console, render_html, render_markdown


def a_plan():
    return make_plan(PlanSection(domain="general", peak_qps=20, hardware={"device": "A10"}), languages=["en"],
                     context_length=2048, preset=None, hardware=None, name="faq <b>&")


def test_markdown_has_the_placement_and_one_column_per_candidate():
    plan = a_plan()
    md = render_markdown(plan)
    assert "**High-frequency standardised** → **Use a general model" in md
    header = next(line for line in md.splitlines() if line.startswith("| |"))
    assert header.count("|") == len(plan.candidates) + 2
    assert "| replicas for peak |" in md


def test_html_is_an_escaped_section():
    html = render_html(a_plan())
    assert html.startswith('<section class="plan">') and html.endswith("</section>")
    assert "<html" not in html
    assert "faq &lt;b&gt;&amp;" in html and "<b>&" not in html


def test_console_shows_the_candidates():
    console = Console(record=True, width=240)
    render_console(a_plan(), console)
    text = console.export_text()
    assert "High-frequency standardised" in text and "requests/s per replica" in text

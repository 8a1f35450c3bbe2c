"""A plan on screen (rich), as Markdown (plan.md) and as an HTML fragment for the run report.

All three show the same rows: placement and reasons, the device, then one column per candidate.
"""

from __future__ import annotations

from html import escape

from rich.console import Console
from rich.markup import escape as escape_rich
from rich.table import Table

from lmstack.plan.candidates import Candidate
from lmstack.plan.planner import Plan


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _params(n: float) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def candidate_rows(plan: Plan) -> list[tuple[str, list[str]]]:
    """(quantity, one value per candidate) rows, in the order every renderer shows them."""
    cs: list[Candidate] = plan.candidates

    def row(label: str, fn) -> tuple[str, list[str]]:
        return label, [fn(c) for c in cs]

    return [
        row("role", lambda c: c.role + (" ★ recommended" if c.recommended else "")),
        row("source", lambda c: c.source),
        row("parameters", lambda c: _params(c.params)),
        row("weights (bf16), GB", lambda c: _num(c.weights_gb, 2)),
        row(f"KV cache at {plan.context_length} tokens × concurrency, GB", lambda c: _num(c.kv_cache_gb, 2)),
        row("concurrency per replica", lambda c: str(c.concurrency)),
        row("serving memory, GB", lambda c: _num(c.serving_memory_gb, 2)),
        row("training state full (fp32 weights+grads+Adam), GB", lambda c: _num(c.train_full_gb, 1)),
        row("training state LoRA r=8, GB", lambda c: _num(c.train_lora_gb, 1)),
        row("decode tokens/s, one stream", lambda c: _num(c.decode_tokens_per_s, 1)),
        row("TTFT, ms", lambda c: _num(c.ttft_ms, 1)),
        row("TPOT at concurrency, ms", lambda c: _num(c.tpot_ms, 2)),
        row("requests/s per replica", lambda c: _num(c.requests_per_s_per_replica, 2)),
        row("replicas for peak", lambda c: str(c.replicas)),
        row("devices", lambda c: str(c.devices)),
        row("serving cost per month", lambda c: _num(c.monthly_cost, 0)),
        row("training tokens", lambda c: f"{c.train_tokens:,.0f}"),
        row("training hours", lambda c: f"{_num(c.train_hours, 2)} ({c.train_method})"),
        row("notes", lambda c: "; ".join(c.notes) or "-"),
    ]


def device_line(plan: Plan) -> str:
    d = plan.device
    return (f"{d.count} × {d.name} ({d.source}): {d.memory_gb:.1f} GB usable each, "
            f"{d.bandwidth_gbs:,.1f} GB/s, {d.flops / 1e12:,.2f} TFLOP/s sustained in all")


def workload_line(plan: Plan) -> str:
    qps = f"peak {plan.peak_qps:g} QPS" if plan.peak_qps is not None else "no peak QPS given"
    return (f"task {plan.task}, languages {', '.join(plan.languages)}, context {plan.context_length}, "
            f"{plan.prompt_tokens}-token prompts, {plan.output_tokens} output tokens, {qps}")


def render_console(plan: Plan, console: Console) -> None:
    p = plan.placement
    console.print(f"[bold]{escape_rich(plan.name)}[/bold]: [cyan]{p.quadrant_label}[/cyan] → "
                  f"[green]{escape_rich(p.strategy_label)}[/green]")
    for reason in p.reasons:
        console.print(f"  • {escape_rich(reason)}")
    console.print(f"Workload: {escape_rich(workload_line(plan))}")
    console.print(f"Hardware: {escape_rich(device_line(plan))}")
    table = Table(title="Candidates")
    table.add_column("")
    for c in plan.candidates:
        table.add_column(c.name, justify="right", style="bold" if c.recommended else None)
    for label, values in candidate_rows(plan):
        table.add_row(label, *[escape_rich(v) for v in values])
    console.print(table)
    for note in plan.notes:
        console.print(f"[yellow]note:[/yellow] {escape_rich(note)}")


def render_markdown(plan: Plan) -> str:
    p = plan.placement
    lines = [f"# Plan: {plan.name}", "",
             f"**{p.quadrant_label}** → **{p.strategy_label}**", "", "Why:", ""]
    lines += [f"- {r}" for r in p.reasons]
    lines += ["", f"Workload: {workload_line(plan)}.", "", f"Hardware: {device_line(plan)}.", "",
              "## Candidates", "",
              "| | " + " | ".join(c.name for c in plan.candidates) + " |",
              "|---|" + "---:|" * len(plan.candidates)]
    for label, values in candidate_rows(plan):
        lines.append(f"| {label} | " + " | ".join(v.replace("|", "\\|") for v in values) + " |")
    lines += ["", "## How the numbers are made", "",
              "- decode step ≥ max((W + ΣKV) / BW, 2·P·B / F); expected = bound ÷ decode efficiency "
              "+ step overhead + layers × layer overhead",
              "- TTFT ≥ max(2·P·prompt / F, W / BW); requests/s per replica = 1 / (TTFT + output × step / B)",
              "- replicas = ⌈peak QPS ÷ requests/s per replica⌉; cost = replicas × devices × price × 730 h",
              "- training time = 6·N·tokens (LoRA 4·N·tokens) ÷ (F × MFU) + tokens × layers × overhead",
              f"- efficiencies ({'measured by benchmarks/plan' if plan.efficiency.measured else 'assumed'}): "
              + ", ".join(f"{k} {v}" for k, v in plan.efficiency.to_dict().items() if k != "measured")]
    if plan.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in plan.notes]
    return "\n".join(lines) + "\n"


def render_html(plan: Plan) -> str:
    """An HTML <section> (no <html> wrapper): placement, reasons and the candidates table."""
    p = plan.placement
    e = escape
    parts = ['<section class="plan">', f"<h2>Plan: {e(plan.name)}</h2>",
             f"<p><strong>{e(p.quadrant_label)}</strong> → <strong>{e(p.strategy_label)}</strong></p>",
             "<ul>" + "".join(f"<li>{e(r)}</li>" for r in p.reasons) + "</ul>",
             f"<p>Workload: {e(workload_line(plan))}</p>", f"<p>Hardware: {e(device_line(plan))}</p>",
             "<table><thead><tr><th></th>" + "".join(f"<th>{e(c.name)}</th>" for c in plan.candidates)
             + "</tr></thead><tbody>"]
    for label, values in candidate_rows(plan):
        parts.append(f"<tr><th>{e(label)}</th>" + "".join(f"<td>{e(v)}</td>" for v in values) + "</tr>")
    parts.append("</tbody></table>")
    if plan.notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in plan.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)

"""Stage `report`: one HTML page that tells the run's story — plan, data, training, evaluation,
the served model under load, and how to serve it — from what the other stages wrote."""

from __future__ import annotations

import base64
import json
import os
import shlex
from datetime import datetime, timezone
from pathlib import Path

from lmstack.atomic import write_text
from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError
from lmstack.pipeline.common import final_model, has_model
from lmstack.runs import RunDir, StageOutcome, StageResult

SHOWN_TRAIN_METRICS = ("steps", "train_loss", "val_loss", "val_perplexity", "tokens_per_s", "train_tokens",
                       "train_rows", "rejected_rows", "image_to_text_recall@1", "text_to_image_recall@1", "seconds")


def stage_report(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    def body(stage_dir: Path) -> StageResult:
        html = render_report(run, cfg, done, stage_dir)
        write_text(stage_dir / "index.html", html)
        return StageResult(outputs={"report": "index.html"})

    upstream = [o for o in done.values() if o is not None]
    # Always rendered: it takes a second and reflects the run as it stands (and lmstack's own version).
    return run.run_stage("report", body, config={"project": cfg.project.model_dump(mode="json")},
                         upstream=upstream, force=True)


def render_report(run: RunDir, cfg: ProjectConfig, done: dict[str, StageOutcome], stage_dir: Path) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from lmstack import __version__

    env = Environment(loader=PackageLoader("lmstack.report", "templates"), autoescape=select_autoescape(["html", "j2"]))
    rel = lambda p: os.path.relpath(p, stage_dir)  # noqa: E731 - links stay valid when the run folder moves
    context = {
        "project": cfg.project, "version": __version__, "run_root": str(run.root),
        "written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "stages": [{"name": name, "status": _status(o), "seconds": o.manifest.get("seconds")}
                   for name, o in done.items() if o is not None],
        "plan_html": _read(done.get("plan"), "html"),
        "data": _data(done.get("data"), rel),
        "training": [_training(done[n], n) for n in ("train", "finetune") if has_model(done.get(n))],
        "evaluation": _evaluation(done.get("eval"), rel),
        "bench_html": _bench(done.get("bench"), done.get("eval")),
        "bench_note": (done["bench"].manifest["metrics"].get("skipped") if done.get("bench") else None),
        "serve_commands": serve_commands(cfg, done),
    }
    return env.get_template("run_report.html.j2").render(**context)


def serve_commands(cfg: ProjectConfig, done: dict[str, StageOutcome]) -> str:
    """The commands that serve the final model and call it, with the project's own sample prompt."""
    try:
        model = final_model(done)
    except UserError:
        return "Train a model first: lmstack run <project.yaml>"
    name = cfg.project.name
    section = cfg.finetune or cfg.train
    base = f"http://127.0.0.1:{cfg.serve.port}/v1"
    lines = [f"lmstack serve --model {name}={shlex.quote(str(model))} --port {cfg.serve.port}",
             "# or, with the whole project's settings:  lmstack run <project.yaml> --serve", ""]
    if section.recipe == "contrastive":
        lines.append(f"curl -s {base}/embeddings -H 'Content-Type: application/json' \\\n"
                     f"  -d '{{\"model\": \"{name}\", \"input\": [\"three red circles at the top\"]}}'")
    else:
        prompt = json.dumps(section.sample_prompts[0].strip() if section.sample_prompts else "Hello", ensure_ascii=False)
        in_shell = prompt.replace("'", "'\\''")  # inside the single-quoted JSON body
        lines += [f"curl -s {base}/chat/completions -H 'Content-Type: application/json' \\",
                  f"  -d '{{\"model\": \"{name}\", \"messages\": [{{\"role\": \"user\", \"content\": {in_shell}}}], "
                  "\"max_tokens\": 64}'",
                  "", "# Python, with the official client:",
                  "from openai import OpenAI",
                  f"client = OpenAI(base_url=\"{base}\", api_key=\"sk-...\")",
                  f"client.chat.completions.create(model=\"{name}\", messages=[{{\"role\": \"user\", \"content\": {prompt}}}])"]
    lines += ["", "# before opening the port to other machines: lmstack keys create <name>  (then every route but "
              "/health needs the key)"]
    return "\n".join(lines)


def _status(outcome: StageOutcome) -> str:
    if "skipped" in outcome.manifest.get("metrics", {}):
        return "not configured"
    return "up to date" if outcome.skipped else "ran"


def _read(outcome: StageOutcome | None, output: str) -> str | None:
    if outcome is None or output not in outcome.manifest.get("outputs", {}):
        return None
    return outcome.output(output).read_text(encoding="utf-8")


def _png(path: Path) -> str | None:
    return base64.b64encode(path.read_bytes()).decode() if path.is_file() else None


def _data(outcome: StageOutcome | None, rel) -> dict | None:
    if outcome is None:
        return None
    index = json.loads(outcome.output("dataset").read_text(encoding="utf-8"))
    files = {role: [os.path.normpath(p) for p in paths] for role, paths in index.items()}
    report = rel(outcome.output("report")) if "report" in outcome.manifest["outputs"] else None
    return {"files": files, "clean": outcome.manifest["metrics"].get("clean"), "report": report}


def _training(outcome: StageOutcome, stage: str) -> dict:
    m = outcome.manifest["metrics"]
    recipe = outcome.manifest["config"]["train"]["recipe"]
    shown = [(k, _fmt(m[k])) for k in SHOWN_TRAIN_METRICS if k in m]
    samples = []
    if "samples" in outcome.manifest["outputs"]:
        samples = [json.loads(line) for line in outcome.output("samples").read_text(encoding="utf-8").splitlines()]
    return {"stage": stage, "recipe": recipe, "metrics": shown, "samples": samples,
            "loss_png": _png(outcome.stage_dir / "loss.png"), "extra_png": _png(outcome.stage_dir / "expert_share.png")}


def _evaluation(outcome: StageOutcome | None, rel) -> dict | None:
    if outcome is None or "summary" not in outcome.manifest.get("outputs", {}):
        return None
    summary = json.loads(outcome.output("summary").read_text(encoding="utf-8"))
    if "scores" in summary and "test_pairs" in summary:  # a dual encoder's retrieval recall
        models = list(summary["scores"])
        measures = [k for k in summary["scores"][models[-1]] if not k.startswith("chance")]
        rows = [_row("retrieval", k, [summary["scores"][m][k] for m in models], higher_is_better=True)
                for k in measures]
        note = f"Recall@k on {summary['test_pairs']} held-out image-caption pairs; chance recall@1 is " \
               f"{_fmt(summary['scores'][models[0]].get('chance_recall@1'))}."
        return {"models": models, "rows": rows, "plot": summary.get("plot"), "report": None, "note": note,
                "confidence": ""}
    from lmstack.report.bars import grouped_bars_base64

    baseline = summary["baseline"]
    models = [baseline, *[n for n in summary["results"] if n != baseline]]
    rows, bars = [], {m: {} for m in models}
    for task, scores in summary["tasks"].items():
        for score, entry in scores.items():
            values = [entry["scores"].get(m) for m in models]
            diff = entry.get("differences", {}).get(models[-1]) if len(models) > 1 else None
            rows.append(_row(task, score, values, higher_is_better=score not in ("perplexity", "bits_per_byte"),
                             difference=diff))
            if score in ("bleu", "chrf", "rouge_l", "rougeL", "f1", "exact_match", "accuracy"):
                for m, v in zip(models, values):
                    if v is not None:
                        bars[m][f"{task} {score}"] = v
    plot = grouped_bars_base64(bars, title="quality by task", ylabel="score") if any(bars.values()) else None
    note = None
    if len(models) > 1:
        moves = [f"{task} {score} {_fmt(entry['scores'].get(models[0]))} → {_fmt(entry['scores'].get(models[-1]))}"
                 for task, scores in summary["tasks"].items() for score, entry in scores.items() if score == "bleu"]
        if moves:
            note = f"From {models[0]} to {models[-1]}: " + "; ".join(moves) + "."
    return {"models": models, "rows": rows, "plot": plot, "note": note,
            "report": rel(outcome.output("report")) if "report" in outcome.manifest["outputs"] else None,
            "confidence": f"{round(100 * summary.get('confidence', 0.95))}%"}


def _row(task: str, score: str, values: list, *, higher_is_better: bool, difference: dict | None = None) -> dict:
    shown_diff, direction = "", ""
    if difference is not None and difference.get("value") is not None:
        value = difference["value"]
        interval = difference.get("interval")
        shown_diff = f"{value:+.4g}" + (f" [{interval[0]:+.3g}, {interval[1]:+.3g}]" if interval else "")
        if interval and (interval[0] > 0 or interval[1] < 0):  # the interval excludes zero
            direction = "better" if (value > 0) == higher_is_better else "worse"
    elif len(values) > 1 and all(v is not None for v in values):
        value = values[-1] - values[0]
        shown_diff = f"{value:+.4g}"
        direction = "better" if (value > 0) == higher_is_better else "worse"
    return {"task": task, "score": score, "cells": [_fmt(v) for v in values], "difference": shown_diff,
            "direction": direction}


def _bench(outcome: StageOutcome | None, evaluation: StageOutcome | None) -> str | None:
    """The served model's load shapes (table, latency CDFs, throughput against latency), with the
    final model's generation scores beside them."""
    if outcome is None or "summary" not in outcome.manifest.get("outputs", {}):
        return None
    from lmstack.eval.efficiency import load_benches
    from lmstack.eval.efficiency_html import render_efficiency_html

    quality = {}
    if evaluation is not None and "tasks" in evaluation.manifest.get("metrics", {}):
        for task, scores in evaluation.manifest["metrics"]["tasks"].items():
            for score, entry in scores.items():
                if score in ("bleu", "chrf"):
                    quality[f"{task} {score}"] = list(entry["scores"].values())[-1]
    return render_efficiency_html(load_benches([outcome.stage_dir]), quality=quality)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)

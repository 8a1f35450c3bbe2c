"""Stage `plan`: step one — the scenario's place in the matrix, candidate sizes and their estimates."""

from __future__ import annotations

from pathlib import Path

from lmstack.atomic import write_json, write_text
from lmstack.config.schema import ProjectConfig
from lmstack.runs import RunDir, StageOutcome, StageResult


def stage_plan(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    def body(stage_dir: Path) -> StageResult:
        from lmstack.plan.planner import plan_for_project
        from lmstack.plan.render import render_html, render_markdown

        plan = plan_for_project(cfg)
        record = plan.to_dict()
        write_json(stage_dir / "plan.json", record)
        write_text(stage_dir / "plan.md", render_markdown(plan))
        write_text(stage_dir / "plan.html", render_html(plan))
        return StageResult(outputs={"plan": "plan.json", "markdown": "plan.md", "html": "plan.html"},
                           metrics=_headline(record))

    config = {"plan": cfg.plan.model_dump(mode="json"), "languages": list(cfg.project.languages),
              "context_length": cfg.model.context_length, "preset": cfg.model.preset}
    return run.run_stage("plan", body, config=config, force=force)


def _headline(record: dict) -> dict:
    """The few plan fields worth a glance in the manifest."""
    placement = record["placement"]
    return {"quadrant": placement["quadrant_label"], "strategy": placement["strategy_label"],
            "recommended": [c["name"] for c in record["candidates"] if c.get("recommended")]}

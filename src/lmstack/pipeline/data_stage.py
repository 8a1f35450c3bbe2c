"""Stage `data`: generate or collect the project's files, clean them with the recipe, and index them by role."""

from __future__ import annotations

import os
from pathlib import Path

from lmstack.atomic import write_json
from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError
from lmstack.pipeline.common import ROLES
from lmstack.runs import RunDir, StageOutcome, StageResult


def stage_data(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    section = cfg.data
    user_files = [p for role in ROLES for p in getattr(section, role)]
    if section.recipe is not None:
        user_files.append(section.recipe)

    def body(stage_dir: Path) -> StageResult:
        metrics: dict = {}
        if section.example is not None:
            base = stage_dir / "example"
            metrics["example"], files = _example(section.example, base)
        else:
            base = None
            files = {role: [p.resolve() for p in getattr(section, role)] for role in ROLES}
        if not files["corpus"] and not files["train"] and not cfg.train.synthetic_pairs:
            raise UserError("no training text: data.corpus and data.train are both empty",
                            hint="list .txt/.jsonl files under data.corpus, or set data.example.name: customer-service")
        outputs = {"dataset": "dataset.json"}
        if section.recipe is not None:
            metrics["clean"] = _clean(section.recipe, base, stage_dir / "clean", files)
            outputs["report"] = "clean/report.html"
        index = {role: [os.path.relpath(p, stage_dir) for p in paths] for role, paths in files.items()}
        write_json(stage_dir / "dataset.json", index)
        return StageResult(outputs=outputs, metrics=metrics)

    return run.run_stage("data", body, config=section.model_dump(mode="json"), inputs=user_files, force=force)


def _example(example, base: Path) -> tuple[dict, dict[str, list[Path]]]:
    """Generate a built-in example into `base`; its summary and files by role."""
    if example.name == "image-text":
        from lmstack.examples.image_text import generate as draw

        summary = draw(base, seed=example.seed, scale=example.scale)
        return summary, {"corpus": [], **{role: [base / role / "captions.jsonl"] for role in ROLES[1:]}}
    from lmstack.examples.customer_service import generate

    summary = generate(base, seed=example.seed, scale=example.scale)
    return summary, {"corpus": [base / "corpus/domain.jsonl"], "train": [base / "qa/train.jsonl"],
                     "validation": [base / "qa/validation.jsonl"], "test": [base / "qa/test.jsonl"]}


def _clean(recipe_path: Path, base: Path | None, out: Path, files: dict[str, list[Path]]) -> dict:
    """Run the cleaning recipe; the files it cleaned are replaced by their cleaned versions in `files`."""
    from lmstack.data.clean import clean
    from lmstack.data.html_report import write_html_report
    from lmstack.data.recipe import load_recipe

    recipe = load_recipe(recipe_path, base_dir=base)
    report = clean(recipe, out, progress=True)
    write_html_report(out)
    cleaned = {recipe.resolve(p).resolve(): out / f"{p.stem}.jsonl" for p in recipe.inputs}
    for role in ROLES:
        files[role] = [cleaned.get(Path(p).resolve(), p) for p in files[role]]
    return {k: report[k] for k in ("rows_read", "rows_kept", "removed_share") if k in report}

"""What the stages share: reading upstream outputs through their manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lmstack.errors import UserError
from lmstack.runs import RunDir, StageOutcome

ROLES = ("corpus", "train", "validation", "test")


def finished(run: RunDir, name: str) -> StageOutcome:
    """The outcome of a stage that finished in an earlier run; a UserError when it has not."""
    manifest = run.manifest(name)
    if manifest is None:
        raise UserError(f"stage {name!r} has not finished in {run.root}",
                        hint="run the whole project first: lmstack run <project.yaml>")
    return StageOutcome(name, run.stage_dir(name), manifest, skipped=True)


def read_dataset(data: StageOutcome) -> dict[str, list[Path]]:
    """The files of each role (corpus, train, validation, test) the data stage settled on."""
    index = json.loads(data.output("dataset").read_text(encoding="utf-8"))
    return {role: [Path(os.path.normpath(data.stage_dir / p)) for p in index[role]] for role in ROLES}


def tokenizer_source(tok: StageOutcome) -> str:
    """Folder (or hub id) to load the project's tokenizer from."""
    if "tokenizer" in tok.manifest["outputs"]:
        return str(tok.output("tokenizer"))
    return tok.manifest["metrics"]["source"]


def has_model(outcome: StageOutcome | None) -> bool:
    return outcome is not None and "model" in outcome.manifest.get("outputs", {})


def final_model(done: dict[str, StageOutcome]) -> Path:
    """The model the project ends with: the fine-tuned one when a finetune phase ran, else the trained one."""
    for name in ("finetune", "train"):
        if has_model(done.get(name)):
            return done[name].output("model")
    raise UserError("no trained model in this run", hint="run the train stage first: lmstack run <project.yaml>")


def skipped(reason: str):
    """A stage body for a step the project does not ask for: it finishes at once and says why."""
    from lmstack.runs import StageResult

    def body(stage_dir: Path) -> StageResult:
        return StageResult(metrics={"skipped": reason})
    return body

"""`lmstack run`: the four-step method as stages, each cached in the run directory.

    plan → data → tokenizer → train → finetune → eval → bench → report

Each stage reads what earlier stages wrote (through their manifests), never their memory, so a
stage can be rerun alone, an up-to-date one is skipped, and a run killed at any point continues
where it stopped. Stages the project does not ask for (no `finetune` section, `bench.enabled:
false`) finish at once and say so in their manifest.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError
from lmstack.pipeline.bench_stage import stage_bench
from lmstack.pipeline.common import ROLES, finished, read_dataset, tokenizer_source
from lmstack.pipeline.data_stage import stage_data
from lmstack.pipeline.eval_stage import stage_eval
from lmstack.pipeline.plan_stage import stage_plan
from lmstack.pipeline.report_stage import stage_report
from lmstack.pipeline.tokenizer_stage import stage_tokenizer
from lmstack.pipeline.train_stage import stage_finetune, stage_train
from lmstack.runs import RunDir, StageOutcome

StageFunction = Callable[[RunDir, ProjectConfig, dict, bool], StageOutcome]

STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "plan": stage_plan,
    "data": stage_data,
    "tokenizer": stage_tokenizer,
    "train": stage_train,
    "finetune": stage_finetune,
    "eval": stage_eval,
    "bench": stage_bench,
    "report": stage_report,
}
STAGES = tuple(STAGE_FUNCTIONS)

# What each stage reads. `--only` and `--from` need these finished; the report reads whatever exists.
NEEDS: dict[str, tuple[str, ...]] = {
    "plan": (),
    "data": (),
    "tokenizer": ("data",),
    "train": ("data", "tokenizer"),
    "finetune": ("data", "tokenizer", "train"),
    "eval": ("data", "train", "finetune"),
    "bench": ("train", "finetune"),
    "report": (),
}


def run_project(cfg: ProjectConfig, *, force: bool = False, only: str | None = None, start: str | None = None,
                console: Console | None = None) -> dict[str, StageOutcome]:
    """Run the stages in order, skipping up-to-date ones.

    `only` runs one stage on finished upstream ones; `start` (`--from`) reruns that stage and every
    later one, taking earlier stages as they finished; `force` reruns every stage it runs.
    """
    console = console or Console(stderr=True)
    for flag, name in (("--only", only), ("--from", start)):
        if name is not None and name not in STAGES:
            raise UserError(f"{flag}: unknown stage {name!r}", hint=f"stages are: {', '.join(STAGES)}")
    if only is not None and start is not None:
        raise UserError("--only and --from do not go together", hint="--only runs one stage; --from runs it and the rest")
    run = RunDir(cfg.run_root)
    first = STAGES.index(start) if start is not None else 0
    selected = [only] if only is not None else list(STAGES[first:])
    done: dict[str, StageOutcome] = {}
    needed = {need for name in selected for need in NEEDS[name]}
    for name in STAGES:
        if name not in selected:
            if name in needed or ("report" in selected and run.manifest(name) is not None):
                done[name] = finished(run, name)
            continue
        console.rule(f"[bold]{name}")
        outcome = STAGE_FUNCTIONS[name](run, cfg, done, force or start is not None)
        done[name] = outcome
        note = outcome.manifest.get("metrics", {}).get("skipped")
        state = f"not configured ({note})" if note else "up to date, skipped" if outcome.skipped else "done"
        console.print(f"{name}: {state} [dim]({outcome.stage_dir})[/dim]")
    return done


__all__ = ["NEEDS", "ROLES", "STAGES", "STAGE_FUNCTIONS", "read_dataset", "run_project", "tokenizer_source"]

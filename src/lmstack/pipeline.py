"""`lmstack run`: the stages of the method in order, each cached in the run directory.

    data → tokenizer → train → eval

Each stage reads what earlier stages wrote (through their manifests), never their memory, so a
stage can be rerun alone and an up-to-date one is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from lmstack.atomic import write_json, write_jsonl, write_text
from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError
from lmstack.runs import RunDir, StageOutcome, StageResult

STAGES = ("data", "tokenizer", "train", "eval")
ROLES = ("corpus", "train", "validation", "test")


def run_project(cfg: ProjectConfig, *, force: bool = False, only: str | None = None,
                console: Console | None = None) -> dict[str, StageOutcome]:
    """Run (or skip, when up to date) every stage; `only` runs one stage on finished upstream ones."""
    console = console or Console(stderr=True)
    if only is not None and only not in STAGES:
        raise UserError(f"unknown stage {only!r}", hint=f"stages are: {', '.join(STAGES)}")
    run = RunDir(cfg.run_root)
    done: dict[str, StageOutcome] = {}
    for name in STAGES:
        if only is not None and name != only:
            if STAGES.index(name) < STAGES.index(only):
                done[name] = _finished(run, name)
            continue
        console.rule(f"[bold]{name}")
        outcome = STAGE_FUNCTIONS[name](run, cfg, done, force)
        done[name] = outcome
        console.print(f"{name}: {'up to date, skipped' if outcome.skipped else 'done'} "
                      f"[dim]({outcome.stage_dir})[/dim]")
    return done


def _finished(run: RunDir, name: str) -> StageOutcome:
    manifest = run.manifest(name)
    if manifest is None:
        raise UserError(f"stage {name!r} has not finished in {run.root}", hint="run the whole project first: lmstack run <project.yaml>")
    return StageOutcome(name, run.stage_dir(name), manifest, skipped=True)


def read_dataset(data: StageOutcome) -> dict[str, list[Path]]:
    """The files of each role (corpus, train, validation, test) the data stage settled on."""
    import json

    index = json.loads(data.output("dataset").read_text(encoding="utf-8"))
    return {role: [data.stage_dir / p for p in index[role]] for role in ROLES}


def stage_data(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    section = cfg.data
    user_files = [p for role in ROLES for p in getattr(section, role)]
    if section.recipe is not None:
        user_files.append(section.recipe)

    def body(stage_dir: Path) -> StageResult:
        metrics: dict = {}
        if section.example is not None:
            from lmstack.examples.customer_service import generate

            base = stage_dir / "example"
            metrics["example"] = generate(base, seed=section.example.seed, scale=section.example.scale)
            files = {"corpus": [base / "corpus/domain.jsonl"], "train": [base / "qa/train.jsonl"],
                     "validation": [base / "qa/validation.jsonl"], "test": [base / "qa/test.jsonl"]}
        else:
            base = None
            files = {role: [p.resolve() for p in getattr(section, role)] for role in ROLES}
        if not files["corpus"] and not files["train"]:
            raise UserError("no training text: data.corpus and data.train are both empty",
                            hint="list .txt/.jsonl files under data.corpus, or set data.example.name: customer-service")
        if section.recipe is not None:
            metrics["clean"] = _clean(section.recipe, base, stage_dir / "clean", files)
        index = {role: [os.path.relpath(p, stage_dir) for p in paths] for role, paths in files.items()}
        write_json(stage_dir / "dataset.json", index)
        return StageResult(outputs={"dataset": "dataset.json"}, metrics=metrics)

    return run.run_stage("data", body, config=section.model_dump(mode="json"), inputs=user_files, force=force)


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


def tokenizer_source(tok: StageOutcome) -> str:
    """Folder (or hub id) to load the project's tokenizer from."""
    if "tokenizer" in tok.manifest["outputs"]:
        return str(tok.output("tokenizer"))
    return tok.manifest["metrics"]["source"]


def stage_tokenizer(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    section = cfg.model.tokenizer
    existing = section.path or cfg.model.path

    def body(stage_dir: Path) -> StageResult:
        if existing is not None:
            return StageResult(metrics={"source": existing, "trained": False})
        from lmstack.data.text import iter_texts, require_text
        from lmstack.models.tokenizer import train_tokenizer

        files = read_dataset(done["data"])
        sources = files["corpus"] + files["train"]
        texts = require_text(iter_texts(sources, cfg.data.text_field), ", ".join(map(str, sources)))
        tokenizer = train_tokenizer(texts, vocab_size=section.vocab_size, out_dir=stage_dir / "tokenizer",
                                    min_frequency=section.min_frequency, model_max_length=cfg.model.context_length)
        return StageResult(outputs={"tokenizer": "tokenizer"},
                           metrics={"source": str(stage_dir / "tokenizer"), "trained": True, "vocab_size": len(tokenizer)})

    config = {"tokenizer": section.model_dump(mode="json"), "model_path": cfg.model.path,
              "context_length": cfg.model.context_length, "text_field": cfg.data.text_field}
    return run.run_stage("tokenizer", body, config=config, upstream=[done["data"]], force=force)


def stage_train(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    def body(stage_dir: Path) -> StageResult:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        from lmstack.data.text import iter_texts
        from lmstack.generate import generate_text
        from lmstack.hardware.device import autocast_dtype, resolve_device, resolve_dtype, resolve_threads
        from lmstack.train.packing import pack
        from lmstack.train.recipes import RECIPES

        hf_logging.disable_progress_bar()
        resolve_threads(cfg.model.threads)
        device = resolve_device(cfg.model.device)
        recipe = RECIPES[cfg.train.recipe]
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(done["tokenizer"]),
                                                  trust_remote_code=cfg.model.trust_remote_code)
        model = _model_for(cfg, tokenizer, device, recipe.architectures)
        files = read_dataset(done["data"])
        seq_len = cfg.model.context_length
        bf16 = autocast_dtype(device, resolve_dtype(cfg.model.dtype, device), cfg.model.autocast) is not None
        common = {"seed": cfg.project.seed, "device": device, "bf16": bf16}
        if recipe.inputs == "packed":
            rows = pack(tokenizer, iter_texts(files["corpus"] + files["train"], cfg.data.text_field), seq_len)
            if len(rows) < 2:
                raise UserError(f"the corpus holds {rows.numel()} tokens, too few for even two sequences of {seq_len}",
                                hint="add text to data.corpus / data.train, or lower model.context_length")
            validation = None
            if files["validation"]:
                validation = pack(tokenizer, iter_texts(files["validation"], cfg.data.text_field), seq_len)
                validation = validation if len(validation) else None
            metrics = recipe.train(model, tokenizer, rows, stage_dir, cfg.train, validation=validation, **common)
        else:
            if not files["train"] and not cfg.train.synthetic_pairs:
                raise UserError(f"train.recipe {cfg.train.recipe} learns from data.train, which is empty",
                                hint="list the .jsonl files of training rows under data.train")
            metrics = recipe.train(model, tokenizer, files["train"], stage_dir, cfg.train, max_length=seq_len,
                                   validation_files=files["validation"] or None,
                                   base_dir=Path(cfg.model.path) if cfg.model.path else None, **common)
        model.eval()
        samples = []
        if recipe.generates_text:
            samples = [{"prompt": p, "completion": generate_text(model, tokenizer, p, max_new_tokens=cfg.train.sample_max_new_tokens)}
                       for p in cfg.train.sample_prompts]
        write_jsonl(stage_dir / "samples.jsonl", samples)
        outputs = {"model": "model", "metrics": "metrics.jsonl", "samples": "samples.jsonl"}
        for name, file in (("loss_plot", "loss.png"), ("rejects", "rejects.jsonl"), ("generations", "generations.jsonl"),
                           ("expert_plot", "expert_share.png")):
            if (stage_dir / file).exists():
                outputs[name] = file
        return StageResult(outputs=outputs, metrics=metrics)

    config = {"model": cfg.model.model_dump(mode="json", exclude={"threads", "device"}),
              "train": cfg.train.model_dump(mode="json", exclude={"mlflow"}), "seed": cfg.project.seed,
              "text_field": cfg.data.text_field}
    return run.run_stage("train", body, config=config, upstream=[done["data"], done["tokenizer"]], force=force)


def _model_for(cfg: ProjectConfig, tokenizer, device, architectures: tuple[str, ...]):
    """The model to train: a fresh preset sized to the tokenizer, or a checkpoint, of a kind the recipe trains."""
    recipe = cfg.train.recipe
    if cfg.model.path is not None:
        from lmstack.models.loading import load_model, model_kind

        model, _ = load_model(cfg.model.path, device=cfg.model.device, dtype=cfg.model.dtype,
                              trust_remote_code=cfg.model.trust_remote_code)
        if model_kind(model.config) not in architectures:
            raise UserError(f"{cfg.model.path} is a {model_kind(model.config)} model; the {recipe} recipe trains "
                            f"{' or '.join(architectures)} models")
        model.train()
        return model
    from lmstack.models.build import build_model
    from lmstack.models.presets import get_preset

    preset = get_preset(cfg.model.preset)
    if preset.arch not in architectures:
        raise UserError(f"preset {preset.name!r} is a {preset.arch} model; the {recipe} recipe trains "
                        f"{' or '.join(architectures)} models",
                        hint="pick a matching preset (`lmstack models presets`)")
    model = build_model(preset, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        max_position_embeddings=cfg.model.context_length, seed=cfg.project.seed)
    return model.to(device)


def stage_eval(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    """The trained model, and the base checkpoint when model.path is set, on eval.tasks: one report."""
    section = cfg.eval

    def body(stage_dir: Path) -> StageResult:
        import yaml

        from lmstack.eval.default_tasks import default_tasks
        from lmstack.eval.multi import evaluate_models

        tasks = section.tasks
        if tasks is None:
            test_files = read_dataset(done["data"])["test"]
            if not test_files:
                return StageResult(metrics={"skipped": "no eval.tasks and no test split"})
            document = default_tasks(test_files, list(section.metrics), list(cfg.project.languages),
                                     max_new_tokens=section.max_new_tokens, max_length=section.max_length,
                                     stride=section.stride)
            tasks = stage_dir / "tasks.yaml"
            write_text(tasks, yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        trained = str(done["train"].output("model"))
        models = {"base": str(cfg.model.path), "tuned": trained} if cfg.model.path else {"trained": trained}
        summary = evaluate_models(tasks, models, stage_dir, batch_size=section.batch_size,
                                  device=cfg.model.device, dtype=cfg.model.dtype, concurrency=section.concurrency,
                                  retries=section.retries, confidence=section.confidence,
                                  data_dir=done["data"].stage_dir)
        return StageResult(outputs={"report": "report.html", "summary": "summary.json"},
                           metrics={"baseline": summary["baseline"], "tasks": summary["tasks"]})

    config = {"eval": section.model_dump(mode="json"), "base_model": cfg.model.path}
    return run.run_stage("eval", body, config=config, inputs=[section.tasks] if section.tasks else [],
                         upstream=[done["data"], done["train"]], force=force)


STAGE_FUNCTIONS: dict[str, Callable[[RunDir, ProjectConfig, dict, bool], StageOutcome]] = {
    "data": stage_data,
    "tokenizer": stage_tokenizer,
    "train": stage_train,
    "eval": stage_eval,
}

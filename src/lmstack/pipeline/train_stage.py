"""Stages `train` and `finetune`: one training phase each, through the recipe table.

`train` starts from a preset (or `model.path`); `finetune`, when the project has a `finetune`
section, continues from what `train` wrote — pretraining on the domain corpus, then SFT on the
labelled rows — so the eval stage can put the untuned model beside the fine-tuned one.
"""

from __future__ import annotations

from pathlib import Path

from lmstack.atomic import write_jsonl
from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError
from lmstack.pipeline.common import read_dataset, skipped, tokenizer_source
from lmstack.runs import RunDir, StageOutcome, StageResult
from lmstack.train.config import TrainSection

PLOTS = (("loss_plot", "loss.png"), ("rejects", "rejects.jsonl"), ("generations", "generations.jsonl"),
         ("expert_plot", "expert_share.png"))


def stage_train(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    def body(stage_dir: Path) -> StageResult:
        return _phase(stage_dir, cfg, cfg.train, done, start=None)

    return run.run_stage("train", body, config=_config(cfg, cfg.train), upstream=[done["data"], done["tokenizer"]],
                         force=force)


def stage_finetune(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    section = cfg.finetune
    upstream = [done["data"], done["tokenizer"], done["train"]]
    if section is None:
        return run.run_stage("finetune", skipped("the project has no finetune section"), config=None,
                             upstream=upstream, force=force)
    if "model" not in done["train"].manifest["outputs"]:
        raise UserError("finetune continues from the train stage's model, and the train stage wrote none")

    def body(stage_dir: Path) -> StageResult:
        return _phase(stage_dir, cfg, section, done, start=done["train"].output("model"))

    return run.run_stage("finetune", body, config=_config(cfg, section), upstream=upstream, force=force)


def _config(cfg: ProjectConfig, section: TrainSection) -> dict:
    return {"model": cfg.model.model_dump(mode="json", exclude={"threads", "device"}),
            "train": section.model_dump(mode="json", exclude={"mlflow"}), "seed": cfg.project.seed,
            "text_field": cfg.data.text_field}


def _phase(stage_dir: Path, cfg: ProjectConfig, section: TrainSection, done: dict, start: Path | None) -> StageResult:
    """Train with `section`'s recipe, from `start` (a checkpoint) or the project's model; write samples."""
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
    recipe = RECIPES[section.recipe]
    source = str(start) if start is not None else tokenizer_source(done["tokenizer"])
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.model.trust_remote_code)
    model = _model_for(cfg, section.recipe, tokenizer, device, recipe.architectures, start)
    files = read_dataset(done["data"])
    seq_len = cfg.model.context_length
    bf16 = autocast_dtype(device, resolve_dtype(cfg.model.dtype, device), cfg.model.autocast) is not None
    common = {"seed": cfg.project.seed, "device": device, "bf16": bf16}
    if recipe.inputs == "packed":
        sources = [p for role in section.sources for p in files[role]]
        rows = pack(tokenizer, iter_texts(sources, cfg.data.text_field), seq_len)
        if len(rows) < 2:
            raise UserError(f"the {' and '.join(section.sources)} text holds {rows.numel()} tokens, too few for even "
                            f"two sequences of {seq_len}",
                            hint="add text to data.corpus / data.train, or lower model.context_length")
        validation = None
        if files["validation"]:
            validation = pack(tokenizer, iter_texts(files["validation"], cfg.data.text_field), seq_len)
            validation = validation if len(validation) else None
        metrics = recipe.train(model, tokenizer, rows, stage_dir, section, validation=validation, **common)
    else:
        if not files["train"] and not section.synthetic_pairs:
            raise UserError(f"recipe {section.recipe} learns from data.train, which is empty",
                            hint="list the .jsonl files of training rows under data.train")
        base_dir = start if start is not None else (Path(cfg.model.path) if cfg.model.path else None)
        metrics = recipe.train(model, tokenizer, files["train"], stage_dir, section, max_length=seq_len,
                               validation_files=files["validation"] or None, base_dir=base_dir, **common)
    model.eval()
    samples = []
    if recipe.generates_text:
        chat = section.recipe == "sft"  # an SFT model answers in its chat template, the one the server uses
        samples = [{"prompt": p, "completion": generate_text(model, tokenizer, p, chat=chat,
                                                             max_new_tokens=section.sample_max_new_tokens)}
                   for p in section.sample_prompts]
    write_jsonl(stage_dir / "samples.jsonl", samples)
    outputs = {"model": "model", "metrics": "metrics.jsonl", "samples": "samples.jsonl"}
    outputs |= {name: file for name, file in PLOTS if (stage_dir / file).exists()}
    return StageResult(outputs=outputs, metrics=metrics)


def _model_for(cfg: ProjectConfig, recipe: str, tokenizer, device, architectures: tuple[str, ...], start: Path | None):
    """The model to train: a checkpoint (`start` or model.path), or a fresh preset sized to the tokenizer."""
    path = str(start) if start is not None else cfg.model.path
    if path is not None:
        from lmstack.models.loading import load_model, model_kind

        model, _ = load_model(path, device=cfg.model.device, dtype=cfg.model.dtype,
                              trust_remote_code=cfg.model.trust_remote_code)
        if model_kind(model.config) not in architectures:
            raise UserError(f"{path} is a {model_kind(model.config)} model; the {recipe} recipe trains "
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

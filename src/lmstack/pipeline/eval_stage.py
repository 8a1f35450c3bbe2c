"""Stage `eval`: the project's model against its base, on the project's tasks, in one report.

Which models are compared:
- a `finetune` phase ran: the train stage's model (untuned) against the fine-tuned one;
- `model.path` is set: that checkpoint (the base) against the trained one;
- otherwise the trained model alone.

A dual encoder (the contrastive recipe) is scored by image↔text retrieval recall on the test pairs,
against the same architecture before training.
"""

from __future__ import annotations

from pathlib import Path

from lmstack.atomic import write_json, write_text
from lmstack.config.schema import ProjectConfig
from lmstack.pipeline.common import final_model, has_model, read_dataset
from lmstack.runs import RunDir, StageOutcome, StageResult


def compared_models(cfg: ProjectConfig, done: dict[str, StageOutcome]) -> dict[str, str]:
    """Name → checkpoint folder of each model the eval stage scores, the base first."""
    trained = str(done["train"].output("model"))
    if has_model(done.get("finetune")):
        return {"base": trained, "tuned": str(done["finetune"].output("model"))}
    if cfg.model.path:
        return {"base": str(cfg.model.path), "tuned": trained}
    return {"trained": trained}


def stage_eval(run: RunDir, cfg: ProjectConfig, done: dict, force: bool) -> StageOutcome:
    section = cfg.eval
    final_recipe = (cfg.finetune or cfg.train).recipe

    def body(stage_dir: Path) -> StageResult:
        if final_recipe == "contrastive":
            return _retrieval(stage_dir, cfg, done)
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
                                     stride=section.stride, chat_template=final_recipe == "sft")
            tasks = stage_dir / "tasks.yaml"
            write_text(tasks, yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        summary = evaluate_models(tasks, compared_models(cfg, done), stage_dir, batch_size=section.batch_size,
                                  device=cfg.model.device, dtype=cfg.model.dtype, concurrency=section.concurrency,
                                  retries=section.retries, confidence=section.confidence,
                                  data_dir=done["data"].stage_dir)
        return StageResult(outputs={"report": "report.html", "summary": "summary.json"},
                           metrics={"baseline": summary["baseline"], "tasks": summary["tasks"]})

    upstream = [done["data"], done["train"], done["finetune"]]
    config = {"eval": section.model_dump(mode="json"), "base_model": cfg.model.path, "recipe": final_recipe}
    return run.run_stage("eval", body, config=config, inputs=[section.tasks] if section.tasks else [],
                         upstream=upstream, force=force)


def _retrieval(stage_dir: Path, cfg: ProjectConfig, done: dict) -> StageResult:
    """Recall@k of the trained dual encoder and of its untrained initialisation on the test pairs."""
    from transformers import AutoTokenizer, CLIPModel

    from lmstack.errors import UserError
    from lmstack.models.build import build_model
    from lmstack.models.presets import get_preset
    from lmstack.report.bars import grouped_bars_base64
    from lmstack.train.contrastive import PairRows, retrieval
    from lmstack.train.image_text import read_pairs

    test_files = read_dataset(done["data"])["test"]
    if not test_files:
        raise UserError("the contrastive eval scores retrieval on data.test, which is empty",
                        hint="list a jsonl of {image, caption} rows under data.test")
    pairs = [p for f in test_files for p in read_pairs(f)[0]]
    trained_dir = final_model(done)
    tokenizer = AutoTokenizer.from_pretrained(trained_dir)
    trained = CLIPModel.from_pretrained(trained_dir).eval()
    if cfg.model.path:
        base = CLIPModel.from_pretrained(cfg.model.path).eval()
    else:
        base = build_model(get_preset(cfg.model.preset), vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                           seed=cfg.project.seed).eval()
    rows = PairRows(pairs, tokenizer, trained.config.vision_config.image_size,
                    trained.config.text_config.max_position_embeddings)
    keys = [p.key for p in pairs]
    scores = {"base": retrieval(base, rows, keys), "trained": retrieval(trained, rows, keys)}
    summary = {"test_pairs": len(pairs), "scores": scores}
    shown = [k for k in scores["trained"] if k.endswith(("@1", "@5")) and not k.startswith("chance")]
    summary["plot"] = grouped_bars_base64({name: {k: s[k] for k in shown} for name, s in scores.items()},
                                          title=f"retrieval recall on {len(pairs)} test pairs", ylabel="recall")
    write_json(stage_dir / "summary.json", summary)
    return StageResult(outputs={"summary": "summary.json"},
                       metrics={"test_pairs": len(pairs), "scores": scores})

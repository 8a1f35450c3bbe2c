"""Stage `tokenizer`: the model's own tokenizer, or a byte-level BPE trained on the project's text."""

from __future__ import annotations

from pathlib import Path

from lmstack.config.schema import ProjectConfig
from lmstack.pipeline.common import read_dataset
from lmstack.runs import RunDir, StageOutcome, StageResult


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

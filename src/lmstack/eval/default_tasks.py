"""Tasks for a project that names none: the project's `eval.metrics` on its test split.

A test row is `{"text"}`, `{"question", "answer"}` or chat `{"messages"}` (the shapes the data
stage reads). Perplexity scores the whole row; the generation metrics (BLEU, chrF, ROUGE, exact
match, F1) need question/answer rows and complete the question. Rows that carry a `lang` field get
one task per project language, so Chinese references are scored with Chinese tokenizers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmstack.errors import UserError

GENERATION_METRICS = {"bleu", "chrf", "rouge", "exact_match", "f1"}
SCORED_TEXT = {
    "text": "{{ text }}",
    "qa": "{{ question }}\n{{ answer }}",
    "chat": "{% for m in messages %}{{ m.content }}\n{% endfor %}",
}


def row_shape(row: dict) -> str:
    if isinstance(row.get("question"), str) and isinstance(row.get("answer"), str):
        return "qa"
    if isinstance(row.get("messages"), list):
        return "chat"
    if isinstance(row.get("text"), str):
        return "text"
    raise UserError(f"a test row has none of the fields text, question+answer or messages: {sorted(row)}",
                    hint="give the project an eval.tasks file that says how to score these rows")


def _first_row(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return json.loads(line)
    raise UserError(f"{path}: the test split is empty", hint="put rows in data.test, or set eval.tasks")


def default_tasks(test_files: list[Path], metrics: list[str], languages: list[str], *, max_new_tokens: int,
                  max_length: int, stride: int, chat_template: bool = False) -> dict[str, Any]:
    """A tasks document (the YAML schema of `lmstack eval run`) for `metrics` on `test_files`.

    `chat_template` asks questions as a user message in the model's chat template (for SFT models)."""
    unsupported = sorted(set(metrics) - GENERATION_METRICS - {"perplexity"})
    if unsupported:
        raise UserError(f"eval.metrics {unsupported} need labels or rubrics the test split does not name",
                        hint="write an eval.tasks file (see examples/customer-service/eval.yaml)")
    tasks = []
    for path in test_files:
        if path.suffix != ".jsonl":
            raise UserError(f"{path}: the default evaluation reads .jsonl test files", hint="set eval.tasks instead")
        first = _first_row(path)
        shape = row_shape(first)
        groups = [(lang, {"lang": lang}) for lang in languages] if "lang" in first else [(languages[0], {})]
        for lang, row_filter in groups:
            stem = f"{path.stem}-{lang}" if row_filter else path.stem
            dataset = {"path": str(path), "filter": row_filter}
            if "perplexity" in metrics:
                tasks.append({"name": f"{stem}-perplexity", "kind": "perplexity", "dataset": dataset,
                              "prompt": SCORED_TEXT[shape], "max_length": max_length, "stride": stride,
                              "language": lang})
            generation = [m for m in metrics if m in GENERATION_METRICS]
            if generation:
                if shape != "qa":
                    raise UserError(f"{path}: eval.metrics {generation} need question/answer rows",
                                    hint="write an eval.tasks file that names the prompt and reference fields")
                tasks.append({"name": f"{stem}-answers", "kind": "generate", "dataset": dataset,
                              "prompt": "{{ question }}" if chat_template else "{{ question }}\n", "reference": "answer", "metrics": generation,
                              "generation": {"max_new_tokens": max_new_tokens}, "language": lang,
                              "chat_template": chat_template})
    return {"tasks": tasks}

"""Generate the Lanting Bank (兰亭银行) customer-service data set: QA splits, a domain corpus, a noise sidecar.

    python -m lmstack.examples.customer_service out/cs --seed 0 --scale 0.1   # well under a second on a CPU

Everything comes from one `random.Random(seed)`, drawn in a fixed order and written without
timestamps, so a seed names a byte-identical data set. Noise goes only into `qa/train.jsonl` and
`corpus/domain.jsonl`; validation and test stay clean so scores measure the model, not the noise.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from lmstack.atomic import write_json, write_jsonl
from lmstack.examples.customer_service.corpus import domain_corpus
from lmstack.examples.customer_service.inject import Planted, interleave_noise
from lmstack.examples.customer_service.intents import INTENTS
from lmstack.examples.customer_service.noise import NOISES
from lmstack.examples.customer_service.questions import distinct_paraphrases
from lmstack.examples.customer_service.slots import LANGS

QUESTIONS_PER_INTENT_LANG = 48  # at scale 1: 26 intents × 2 languages × 38 train questions ≈ 2,000 rows
HELD_OUT_SHARE = 0.1  # of each (intent, language), for validation and again for test
PARAGRAPHS = 2700  # at scale 1 about 1.2 MB of text (1.3 MB of file with the noise)
NOISE_SHARE = 0.1  # of the rows of each noisy file
SPLITS = ("train", "validation", "test")
TRAIN_FILE, CORPUS_FILE = "qa/train.jsonl", "corpus/domain.jsonl"


def _split_questions(rng: random.Random, scale: float, taken: set[str]) -> dict[str, list[dict]]:
    """Clean QA rows per split; every (intent, language) has at least one row in every split."""
    n = max(len(SPLITS), round(QUESTIONS_PER_INTENT_LANG * scale))
    held_out = max(1, round(n * HELD_OUT_SHARE))
    splits: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for intent in INTENTS:
        for lang in LANGS:
            pairs = distinct_paraphrases(intent, lang, n, rng, taken)
            rng.shuffle(pairs)
            parts = {"validation": pairs[:held_out], "test": pairs[held_out:2 * held_out],
                     "train": pairs[2 * held_out:]}
            for split, chosen in parts.items():
                splits[split] += [{"intent": intent.id, "lang": lang, "question": q, "answer": a} for q, a in chosen]
    for rows in splits.values():
        rng.shuffle(rows)
    return splits


def _qa_row(row: dict) -> dict:
    messages = [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
    return {"id": row["id"], "intent": row["intent"], "lang": row["lang"], "question": row["question"],
            "answer": row["answer"], "messages": messages}


def _number(rows: list[tuple[dict, Planted | None]], prefix: str, file: str) -> list[dict]:
    """Give rows ids in file order (so an id tells nothing about noise) and return their sidecar entries."""
    for line, (row, _) in enumerate(rows, start=1):
        row["id"] = f"{prefix}-{line:06d}"
    return [{"file": file, "line": line, "id": row["id"], "noise": planted.noise,
             "of": planted.source["id"] if planted.source else None, "span": planted.span}
            for line, (row, planted) in enumerate(rows, start=1) if planted]


def generate(out_dir: str | Path, *, seed: int = 0, scale: float = 1.0) -> dict:
    """Write the data set into out_dir; return a summary dict (counts per file, per split, per noise
    type, per language, n_intents, bytes).

    >>> summary = generate("out/cs", seed=0, scale=0.1)   # doctest: +SKIP
    >>> summary["splits"]["train"]                         # doctest: +SKIP
    173
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}; 1.0 gives ~2,000 training questions")
    out = Path(out_dir)
    rng = random.Random(seed)
    taken: set[str] = set()
    splits = _split_questions(rng, scale, taken)
    n_paragraphs = max(len(LANGS), round(PARAGRAPHS * scale))
    paragraphs = [{"lang": lang, "text": text} for lang, text in domain_corpus(n_paragraphs, rng)]

    train = interleave_noise(splits["train"], ("question", "answer"), "customer", NOISE_SHARE, rng, taken)
    corpus = interleave_noise(paragraphs, ("text",), "notice", NOISE_SHARE, rng,
                              {row["text"] for row in paragraphs})
    sidecar = _number(train, "qa-train", TRAIN_FILE) + _number(corpus, "corpus", CORPUS_FILE)
    qa = {"train": [_qa_row(row) for row, _ in train]}
    for split in SPLITS[1:]:
        qa[split] = [_qa_row({**row, "id": f"qa-{split}-{i:06d}"}) for i, row in enumerate(splits[split], start=1)]

    files: dict[str, list[dict]] = {f"qa/{split}.jsonl": qa[split] for split in SPLITS}
    files[CORPUS_FILE] = [{"id": row["id"], "lang": row["lang"], "text": row["text"]} for row, _ in corpus]
    files["noise.jsonl"] = sidecar
    counts = {name: write_jsonl(out / name, rows) for name, rows in files.items()}
    write_json(out / "intents.json", [{"id": i.id, "name_zh": i.name["zh"], "name_en": i.name["en"]} for i in INTENTS])

    summary = {
        "seed": seed,
        "scale": scale,
        "n_intents": len(INTENTS),
        "files": counts,
        "splits": {split: len(qa[split]) for split in SPLITS},
        "noise": {file: {noise.name: sum(e["noise"] == noise.name for e in sidecar if e["file"] == file)
                         for noise in NOISES}
                  for file in (TRAIN_FILE, CORPUS_FILE)},
        "langs": {"qa": dict(Counter(row["lang"] for split in SPLITS for row in qa[split])),
                  "corpus": dict(Counter(row["lang"] for row in files[CORPUS_FILE]))},
        "bytes": {name: (out / name).stat().st_size for name in [*files, "intents.json"]},
    }
    summary["bytes"]["total"] = sum(summary["bytes"].values())
    write_json(out / "summary.json", summary)
    return summary

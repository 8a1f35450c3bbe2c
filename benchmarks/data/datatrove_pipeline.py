"""The benchmark's standard recipe as a datatrove pipeline: the peer lmstack is measured against.

Run with a Python that has datatrove (not lmstack's environment):

    python benchmarks/data/datatrove_pipeline.py CORPUS_DIR WORK_DIR --tasks 2

Stages, each a LocalPipelineExecutor with `--tasks` tasks on as many workers: (0) read the shards,
normalise (NFKC + whitespace, as lmstack's nfkc and whitespace steps), Gopher quality and repetition
filters, write the kept documents; (1) MinHash signatures of those; (2) LSH buckets; (3) clusters;
(4) read the filtered documents again, drop the duplicates, write the output. MinHash parameters
are datatrove's defaults: 5-word shingles, 14 buckets of 8 hashes.

Words are split by the same regular expression lmstack uses (a Chinese character is a word): the
NLTK tokenizer datatrove assigns to English needs punkt data that cannot be downloaded here, and
one tokenizer on both sides keeps the filters' decisions comparable.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.formatters.base import BaseFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.word_tokenizers import WordTokenizer

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a]+")


class RegexTokenizer(WordTokenizer):
    def __init__(self):
        super().__init__("en")

    def word_tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s for s in _SENTENCE_END.split(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans, start = [], 0
        for m in _SENTENCE_END.finditer(text):
            if m.end() > start:
                spans.append((start, m.end()))
                start = m.end()
        if start < len(text):
            spans.append((start, len(text)))
        return spans


class Normalise(BaseFormatter):
    name = "NFKC + whitespace"

    def format(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path, help="folder of corpus-*.jsonl shards")
    ap.add_argument("work", type=Path, help="empty folder for intermediate files, logs and the output")
    ap.add_argument("--tasks", type=int, default=2)
    args = ap.parse_args()
    work, tasks = args.work, args.tasks
    tok = RegexTokenizer()
    config = MinhashConfig()  # 5-grams, 14 buckets × 8 hashes

    def run(name: str, pipeline: list, n_tasks: int) -> None:
        LocalPipelineExecutor(pipeline=pipeline, tasks=n_tasks, workers=min(n_tasks, tasks),
                              logging_dir=str(work / "logs" / name)).run()

    start = time.perf_counter()
    # Chinese documents would all fail the English-only rules (a character is a one-letter word, and
    # none is an English stop word): give the rules lmstack's Chinese stop words too, and leave out
    # the mean word length, which lmstack applies to English only.
    quality = GopherQualityFilter(min_avg_word_length=None, max_avg_word_length=None, language=tok,
                                  stop_words=["the", "be", "to", "of", "and", "that", "have", "with", *"的了是在我你有和就不人都这也要"])
    run("filter", [JsonlReader(str(args.corpus), glob_pattern="corpus-*.jsonl"), Normalise(),
                   quality, GopherRepetitionFilter(language=tok),
                   JsonlWriter(str(work / "filtered"), compression=None)], tasks)
    run("signatures", [JsonlReader(str(work / "filtered")),
                       MinhashDedupSignature(str(work / "signatures"), config=config, language=tok)], tasks)
    run("buckets", [MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"), config=config)], config.num_buckets)
    run("clusters", [MinhashDedupCluster(str(work / "buckets"), str(work / "remove_ids"), config=config)], 1)
    run("dedup", [JsonlReader(str(work / "filtered")), MinhashDedupFilter(str(work / "remove_ids")),
                  JsonlWriter(str(work / "output"), compression=None)], tasks)
    seconds = time.perf_counter() - start
    kept = sum(1 for f in (work / "output").glob("*.jsonl") for _ in open(f, encoding="utf-8"))
    filtered = sum(1 for f in (work / "filtered").glob("*.jsonl") for _ in open(f, encoding="utf-8"))
    print(json.dumps({"tool": "datatrove", "seconds": round(seconds, 2), "after_filters": filtered, "kept": kept}))


if __name__ == "__main__":
    main()

"""`lmstack bench serve` as a library call: send the load, summarise, write JSON and the CDF plot.

    >>> summary = bench_serve("http://127.0.0.1:8000", "tiny", LoadShape(num_prompts=16),
    ...                       out_dir=Path("bench"))                               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lmstack.serve.bench_metrics import summarize, write_outputs
from lmstack.serve.loadgen import LoadShape, run_load


def bench_serve(url: str, model: str, shape: LoadShape, *, api_key: str | None = None,
                slos_ms: dict[str, float] | None = None, out_dir: Path | None = None) -> dict:
    results, duration_s = asyncio.run(run_load(url, model, shape, api_key=api_key))
    summary = summarize(results, duration_s, shape, slos_ms)
    if out_dir is not None:
        write_outputs(out_dir, summary, results)
    return summary

"""The transformers backend: same greedy tokens as HF generate, refusals instead of silent ignores."""

from __future__ import annotations

import asyncio
import copy

import pytest
import torch

from lmstack.serve.engine.base import Engine, GenerationRequest, SamplingParams
from lmstack.serve.engine.transformers_engine import TransformersEngine


def test_greedy_concurrent_requests_equal_hf_generate_and_sampling_is_refused(tiny_llama):
    prompts = [[(n * 11 + 7 * i) % 500 + 1 for i in range(n)] for n in (5, 19, 33)]
    expected = [tiny_llama.generate(torch.tensor([p]), max_new_tokens=10, do_sample=False)[0, len(p):].tolist()
                for p in prompts]
    # The manager attaches itself to the model it runs: it gets a copy of its own.
    engine = TransformersEngine(copy.deepcopy(tiny_llama), model_name="tiny", max_batch_size=4, max_context=128)
    assert isinstance(engine, Engine)
    stop = expected[0][1]

    async def collect(rid: str, ids: list[int], params: SamplingParams) -> list:
        return [e async for e in engine.generate(GenerationRequest(rid, ids, params))]

    async def main():
        await engine.start()
        try:
            with pytest.raises(ValueError, match="temperature > 0, seed"):
                engine.generate(GenerationRequest("s", prompts[0], SamplingParams(temperature=1.0, seed=1)))
            runs = await asyncio.gather(*(collect(f"r{i}", p, SamplingParams(max_tokens=10, temperature=0.0))
                                          for i, p in enumerate(prompts)))
            forced = await collect("eos", prompts[0], SamplingParams(max_tokens=4, temperature=0.0,
                                                                     stop_token_ids=(stop,)))
            return runs, forced, engine.stats()
        finally:
            await engine.shutdown(drain_timeout_s=0)

    runs, forced, stats = asyncio.run(main())
    assert [[e.token_id for e in r] for r in runs] == expected
    assert [r[-1].finish_reason for r in runs] == ["length"] * 3 and runs[0][-1].completion_tokens == 10
    assert [e.token_id for e in forced] == expected[0][:expected[0].index(stop) + 1]
    assert forced[-1].finish_reason == "stop" and stats.running == 0

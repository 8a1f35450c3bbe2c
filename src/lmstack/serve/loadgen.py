"""`lmstack bench serve`: an open-loop load generator for any OpenAI-compatible server (vLLM's protocol).

    $ lmstack bench serve --url http://127.0.0.1:8000 --model tiny --num-prompts 64 \\
          --input-len 128 --output-len 64 --request-rate inf --max-concurrency 16 --out bench/

Requests arrive on a schedule that does not wait for answers (open loop): all at once with
`request_rate=inf`, else with gamma-distributed gaps of mean 1/rate (burstiness 1 = Poisson; lower is
burstier). Each request streams `/v1/completions` with fixed input and output lengths: the prompt is
`input_len` random token ids (so its length is exact without the server's tokenizer) and
`ignore_eos` keeps every reply at `output_len` tokens (`ignore_eos=False` leaves it out, for servers that
reject the field). Timings per request go to `bench_metrics`.

The client is aiohttp, as in vLLM's benchmark: on a small machine the load generator shares the cores
with the server it measures, and reading a streamed token costs it about half the CPU it costs httpx.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, field

import aiohttp

from lmstack.errors import UserError


@dataclass(frozen=True)
class LoadShape:
    num_prompts: int = 64
    input_len: int = 128
    output_len: int = 64
    request_rate: float = math.inf  # requests per second; inf = all at once
    burstiness: float = 1.0  # gamma shape; 1 = Poisson arrivals
    max_concurrency: int | None = None
    warmup: int = 2  # requests sent (one at a time) before measuring
    vocab_size: int = 1000  # prompt ids are drawn from [FIRST_ID, vocab_size)
    seed: int = 0
    ignore_eos: bool = True  # ask for exactly output_len tokens; False for servers that reject the field


FIRST_ID = 10  # skip the ids tokenizers reserve for special tokens


@dataclass
class RequestResult:
    ok: bool
    prompt_tokens: int
    output_tokens: int = 0
    start_s: float = 0.0  # relative to the benchmark's start
    ttft_s: float = 0.0
    e2e_s: float = 0.0
    itl_s: list[float] = field(default_factory=list)
    error: str = ""


def arrival_gaps(shape: LoadShape) -> list[float]:
    """Seconds to wait before each request: 0 for inf rate, else gamma(burstiness, 1/(rate·burstiness)).

    >>> arrival_gaps(LoadShape(num_prompts=3))
    [0.0, 0.0, 0.0]
    """
    if math.isinf(shape.request_rate):
        return [0.0] * shape.num_prompts
    rng = random.Random(shape.seed)
    theta = 1.0 / (shape.request_rate * shape.burstiness)
    return [rng.gammavariate(shape.burstiness, theta) for _ in range(shape.num_prompts)]


def make_prompts(shape: LoadShape, count: int) -> list[list[int]]:
    if shape.vocab_size <= FIRST_ID:
        raise UserError(f"vocab_size {shape.vocab_size} leaves no ids to draw prompts from",
                        hint=f"give --vocab-size above {FIRST_ID}")
    rng = random.Random(shape.seed + 1)
    return [[rng.randrange(FIRST_ID, shape.vocab_size) for _ in range(shape.input_len)] for _ in range(count)]


async def _one(session: aiohttp.ClientSession, url: str, model: str, prompt: list[int] | str, shape: LoadShape,
               t0: float) -> RequestResult:
    body = {"model": model, "prompt": prompt, "max_tokens": shape.output_len, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    if shape.ignore_eos:
        body["ignore_eos"] = True
    res = RequestResult(ok=False, prompt_tokens=len(prompt))
    start = time.perf_counter()
    res.start_s = start - t0
    last = start
    chunks = 0
    try:
        async with session.post(url, json=body) as r:
            if r.status != 200:
                res.error = f"HTTP {r.status}: {(await r.read())[:200].decode(errors='replace')}"
                return res
            async for raw in r.content:  # one SSE line at a time
                if not raw.startswith(b"data: ") or raw.startswith(b"data: [DONE]"):
                    continue
                event = json.loads(raw[6:])
                if "error" in event:
                    res.error = str(event["error"].get("message"))
                    return res
                if event.get("usage"):
                    res.output_tokens = event["usage"]["completion_tokens"]
                if not any(c.get("text") for c in event.get("choices") or []):
                    continue
                now = time.perf_counter()
                if chunks == 0:
                    res.ttft_s = now - start
                else:
                    res.itl_s.append(now - last)
                last = now
                chunks += 1
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        res.error = f"{e.__class__.__name__}: {e}"
        return res
    res.e2e_s = time.perf_counter() - start
    res.output_tokens = res.output_tokens or chunks
    res.ok = True
    return res


async def run_load(base_url: str, model: str, shape: LoadShape, api_key: str | None = None,
                   timeout_s: float = 600.0, prompts: list[list[int]] | list[str] | None = None
                   ) -> tuple[list[RequestResult], float]:
    """Send the load; return each measured request's result and the benchmark's duration (s).

    `prompts` (warm-up ones first) replaces the random token ids, e.g. texts of an exact token count
    for servers that take no token-id prompts.
    """
    url = base_url.rstrip("/") + "/v1/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    needed = shape.warmup + shape.num_prompts
    if prompts is None:
        prompts = make_prompts(shape, needed)
    elif len(prompts) < needed:
        raise UserError(f"{len(prompts)} prompts given; this load needs {needed} (warm-up included)")
    connector = aiohttp.TCPConnector(limit=shape.max_concurrency or shape.num_prompts or 1)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:
        for p in prompts[:shape.warmup]:
            warm = await _one(session, url, model, p, shape, time.perf_counter())
            if not warm.ok:
                raise UserError(f"the warm-up request failed: {warm.error}",
                                hint="check --url, --model and --api-key against the server's /v1/models")
        gate = asyncio.Semaphore(shape.max_concurrency or len(prompts))

        async def limited(p: list[int], t0: float) -> RequestResult:
            async with gate:
                return await _one(session, url, model, p, shape, t0)

        t0 = time.perf_counter()
        tasks = []
        for gap, p in zip(arrival_gaps(shape), prompts[shape.warmup:]):
            await asyncio.sleep(gap)
            tasks.append(asyncio.create_task(limited(p, t0)))
        results = await asyncio.gather(*tasks)
        return list(results), time.perf_counter() - t0

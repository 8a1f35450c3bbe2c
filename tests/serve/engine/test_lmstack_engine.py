"""The engine without HTTP: greedy parity with HF generate under continuous batching, and the lifecycle."""

from __future__ import annotations

import asyncio
import time
import threading

import pytest
import torch

from lmstack.serve.engine.base import Engine, EngineShuttingDown, GenerationRequest, QueueFull, SamplingParams
from lmstack.serve.engine.lmstack_engine import ABORT_TOKEN_ID, LmstackEngine

PROMPT_LENGTHS = (3, 17, 40, 9, 25)


def prompt(n: int, offset: int = 5) -> list[int]:
    return [(offset + 7 * i) % 500 + 1 for i in range(n)]


def hf_greedy(model, ids: list[int], max_new_tokens: int) -> list[int]:
    out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False)
    return out[0, len(ids):].tolist()


def greedy(max_tokens: int, **kw) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0.0, **kw)


async def collect(engine: LmstackEngine, rid: str, ids: list[int], params: SamplingParams) -> list:
    return [ev async for ev in engine.generate(GenerationRequest(rid, ids, params))]


def run(engine: LmstackEngine, body):
    async def main():
        await engine.start()
        try:
            return await body()
        finally:
            await engine.shutdown(drain_timeout_s=0)
    return asyncio.run(main())


def test_it_is_an_engine(tiny_llama):
    assert isinstance(LmstackEngine(tiny_llama, model_name="tiny"), Engine)


def test_single_request_greedy_equals_hf_generate(tiny_llama):
    ids = prompt(12)
    expected = hf_greedy(tiny_llama, ids, 24)
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=2)
    events = run(engine, lambda: collect(engine, "r", ids, greedy(24)))
    assert [e.token_id for e in events] == expected
    assert len(expected) == 24 and len(set(expected)) > 5  # a real, varied continuation
    assert events[-1].finish_reason == "length" and events[-1].completion_tokens == 24
    assert all(e.prompt_tokens == 12 for e in events)


def test_concurrent_requests_joining_mid_decode_equal_hf_generate(tiny_llama):
    """Five prompts of different lengths, three slots, chunked prefill; each joins while others decode."""
    prompts = [prompt(n, offset=n) for n in PROMPT_LENGTHS]
    expected = [hf_greedy(tiny_llama, p, 16) for p in prompts]
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=3, prefill_chunk_tokens=8)
    joined_at: list[int] = []
    forwards: list[tuple[int, list[int]]] = []  # (decode rows, prompt chunk lengths) of each step's one forward
    forward = engine._forward

    def recording_forward(tokens, positions, layout, keep):
        forwards.append((layout.num_decode, [seg.length for seg in layout.segments]))
        assert len(tokens) == layout.num_decode + sum(seg.length for seg in layout.segments)
        time.sleep(0.003)  # a step slower than the arrivals' polling, so requests join as the test says
        return forward(tokens, positions, layout, keep)

    engine._forward = recording_forward

    async def body():
        progress = [0]

        async def one(i: int):
            while progress[0] < 3 * i:  # request i arrives after 3·i tokens of the others
                await asyncio.sleep(0.001)
            joined_at.append(engine.stats().running)
            out = []
            async for ev in engine.generate(GenerationRequest(f"r{i}", prompts[i], greedy(16))):
                out.append(ev.token_id)
                progress[0] += 1
            return out

        return await asyncio.gather(*(one(i) for i in range(len(prompts))))

    assert run(engine, body) == expected
    assert max(joined_at) >= 2  # some requests really arrived while others were decoding
    assert max(n for _, chunks in forwards for n in chunks) == 8  # prompts went through in chunks of 8
    assert any(rows and chunks for rows, chunks in forwards)  # decode rows and a prompt chunk in one forward
    assert any(rows == 3 for rows, _ in forwards)  # full decode batches of ragged rows


def test_prompts_sharing_a_step_run_in_one_forward_and_equal_hf_generate(tiny_llama):
    prompts = [prompt(3, offset=1), prompt(17, offset=2), prompt(6, offset=3)]
    expected = [hf_greedy(tiny_llama, p, 6) for p in prompts]
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=3, prefill_chunk_tokens=8)
    forwards: list[tuple[int, list[tuple[int, int]]]] = []
    forward = engine._forward

    def recording_forward(tokens, positions, layout, keep):
        forwards.append((layout.num_decode, [(seg.slot, seg.length) for seg in layout.segments]))
        return forward(tokens, positions, layout, keep)

    engine._forward = recording_forward

    async def body():
        return await asyncio.gather(*(collect(engine, f"r{i}", p, greedy(6)) for i, p in enumerate(prompts)))

    results = run(engine, body)
    assert [[e.token_id for e in events] for events in results] == expected
    # Step 1: all of the 3-token prompt and the start of the 17-token one, in one forward.
    assert forwards[0] == (0, [(0, 3), (1, 5)])
    assert forwards[1] == (1, [(1, 8)])  # the first prompt decodes beside the second's next chunk


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "generic"])
def test_a_long_prompt_alone_is_prefilled_over_steps_that_sample_nothing(tiny_llama, lean):
    # 21 tokens in chunks of 8: the first two steps end no prompt and decode no row, so they keep no logits
    ids = prompt(21)
    expected = hf_greedy(tiny_llama, ids, 5)
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=2, prefill_chunk_tokens=8, lean=lean)
    kept: list[int] = []
    forward = engine._forward

    def recording_forward(tokens, positions, layout, keep):
        kept.append(len(keep))
        return forward(tokens, positions, layout, keep)

    engine._forward = recording_forward
    events = run(engine, lambda: collect(engine, "r", ids, greedy(5)))
    assert [e.token_id for e in events] == expected and events[-1].finish_reason == "length"
    assert kept[:3] == [0, 0, 1] and len(kept) == 7


def test_seeded_sampling_does_not_depend_on_batch_neighbours(tiny_llama):
    ids = prompt(10)
    seeded = SamplingParams(max_tokens=12, temperature=1.0, seed=7)

    def draw(neighbours: int) -> list[int]:
        engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=4)

        async def body():
            others = [collect(engine, f"n{i}", prompt(5 + i, offset=i), SamplingParams(max_tokens=12, temperature=1.0))
                      for i in range(neighbours)]
            results = await asyncio.gather(collect(engine, "seeded", ids, seeded), *others)
            return [e.token_id for e in results[0]]

        return run(engine, body)

    alone = draw(0)
    assert draw(3) == alone
    assert alone != hf_greedy(tiny_llama, ids, 12)  # it samples, not argmax


def test_eos_stops_unless_ignore_eos(tiny_llama, tiny_tokenizer):
    eos = tiny_tokenizer.eos_token_id
    force_eos = {eos: 100.0}
    engine = LmstackEngine(tiny_llama, model_name="tiny")

    async def body():
        stopped = await collect(engine, "a", prompt(4), greedy(5, logit_bias=force_eos))
        ignored = await collect(engine, "b", prompt(4), greedy(5, logit_bias=force_eos, ignore_eos=True))
        return stopped, ignored

    stopped, ignored = run(engine, body)
    assert [(e.token_id, e.finish_reason) for e in stopped] == [(eos, "stop")]
    assert [e.token_id for e in ignored] == [eos] * 5 and ignored[-1].finish_reason == "length"


def test_stop_token_ids_and_logprobs(tiny_llama):
    ids = prompt(8)
    expected = hf_greedy(tiny_llama, ids, 10)
    stop = expected[4]
    engine = LmstackEngine(tiny_llama, model_name="tiny")
    events = run(engine, lambda: collect(engine, "r", ids, greedy(10, stop_token_ids=(stop,), logprobs=2)))
    cut = expected.index(stop) + 1
    assert [e.token_id for e in events] == expected[:cut]
    assert events[-1].finish_reason == "stop"
    assert all(e.logprob <= 0 and len(e.top_logprobs) == 2 for e in events)
    assert all(max(e.top_logprobs.values()) == pytest.approx(e.logprob, abs=1e-5) for e in events)  # greedy = top-1


def test_context_limit_ends_with_length_and_bad_prompts_are_refused(tiny_llama):
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_context=20)

    async def body():
        events = await collect(engine, "r", prompt(15), greedy(100))
        with pytest.raises(ValueError, match="context holds 20"):
            engine.generate(GenerationRequest("long", prompt(20), greedy(1)))
        vocab = tiny_llama.config.vocab_size
        with pytest.raises(ValueError, match="prompt has token ids outside the model's vocabulary"):
            engine.generate(GenerationRequest("bad", [1, vocab], greedy(1)))
        with pytest.raises(ValueError, match="logit_bias has token ids outside"):
            engine.generate(GenerationRequest("bad", [1], greedy(1, logit_bias={-1: 1.0})))
        return events

    events = run(engine, body)
    assert len(events) == 5 and events[-1].finish_reason == "length"


def test_abort_and_disconnect_free_the_slot_for_the_next_request(tiny_llama):
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=1)

    async def body():
        stream = engine.generate(GenerationRequest("long", prompt(6), greedy(400)))
        first = await anext(stream)
        assert engine.stats().running == 1
        await engine.abort("long")
        rest = [ev async for ev in stream]
        after_abort = engine.stats()
        # A client that goes away: closing its stream frees the slot too.
        stream = engine.generate(GenerationRequest("gone", prompt(6), greedy(400)))
        await anext(stream)
        await stream.aclose()
        for _ in range(200):
            if engine.stats().running == 0:
                break
            await asyncio.sleep(0.005)
        after_close = engine.stats()
        again = await collect(engine, "next", prompt(6), greedy(3))
        return first, rest, after_abort, after_close, again

    first, rest, after_abort, after_close, again = run(engine, body)
    assert first.finish_reason is None
    assert [(e.token_id, e.finish_reason) for e in rest][-1] == (ABORT_TOKEN_ID, "abort")
    assert (after_abort.running, after_abort.kv_cache_usage) == (0, 0.0)
    assert after_close.running == 0
    assert [e.finish_reason for e in again] == [None, None, "length"]


def test_queue_full_raises_before_the_first_token(tiny_llama):
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=1, max_queue=1)

    async def body():
        running = engine.generate(GenerationRequest("a", prompt(6), greedy(400)))
        await anext(running)
        waiting = engine.generate(GenerationRequest("b", prompt(6), greedy(2)))
        stats = engine.stats()
        with pytest.raises(QueueFull):
            engine.generate(GenerationRequest("c", prompt(6), greedy(2)))
        await engine.abort("a")
        done = [ev async for ev in waiting]
        return stats, done

    stats, done = run(engine, body)
    assert (stats.running, stats.waiting) == (1, 1)
    assert done[-1].finish_reason == "length"  # the waiting request ran once the slot was free


def test_shutdown_drains_running_requests_and_refuses_new_ones(tiny_llama):
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=2)

    async def body():
        await engine.start()
        streams = [asyncio.create_task(collect(engine, f"r{i}", prompt(5 + i), greedy(20))) for i in range(2)]
        await asyncio.sleep(0)
        await engine.shutdown(drain_timeout_s=30)
        with pytest.raises(EngineShuttingDown):
            engine.generate(GenerationRequest("late", prompt(5), greedy(2)))
        return await asyncio.gather(*streams)

    results = asyncio.run(body())
    assert [[e.finish_reason for e in r][-1] for r in results] == ["length", "length"]
    assert [len(r) for r in results] == [20, 20]


def test_shutdown_aborts_what_outlives_the_drain_timeout(tiny_llama):
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=1)
    forward = engine._forward

    def slow_forward(*args):
        time.sleep(0.002)  # 400 steps take at least 0.8 s, well past the 0.05 s drain, on any CPU
        return forward(*args)

    engine._forward = slow_forward

    async def body():
        await engine.start()
        stream = engine.generate(GenerationRequest("r", prompt(5), greedy(400)))
        await anext(stream)
        await engine.shutdown(drain_timeout_s=0.05)
        return [ev async for ev in stream]

    rest = asyncio.run(body())
    assert rest[-1].finish_reason == "abort" and len(rest) < 399


def test_a_failing_step_ends_its_requests_but_not_the_engine(tiny_llama, caplog):
    engine = LmstackEngine(tiny_llama, model_name="tiny")
    forward, calls = engine._forward, [0]

    def failing_once(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("boom")
        return forward(*args, **kwargs)

    engine._forward = failing_once

    async def body():
        failed = await collect(engine, "a", prompt(5), greedy(3))
        ok = await collect(engine, "b", prompt(5), greedy(3))
        return failed, ok

    failed, ok = run(engine, body)
    assert [e.finish_reason for e in failed] == ["abort"]
    assert [e.finish_reason for e in ok] == [None, None, "length"]
    assert "engine step failed" in caplog.text


def test_first_event_reports_queue_time_and_aborts_carry_no_token(tiny_llama):
    engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=1)

    async def body():
        first = asyncio.ensure_future(collect(engine, "a", prompt(5), greedy(6)))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(collect(engine, "b", prompt(5), greedy(2)))  # waits for a's slot
        third = engine.generate(GenerationRequest("c", prompt(5), greedy(2)))
        await engine.abort("c")
        return await first, await second, [e async for e in third]

    a, b, c = run(engine, body)
    assert a[0].queue_time_s is not None and all(e.queue_time_s is None for e in a[1:])
    assert b[0].queue_time_s > a[0].queue_time_s  # b waited for a whole request
    assert [(e.token_id, e.finish_reason, e.completion_tokens) for e in c] == [(ABORT_TOKEN_ID, "abort", 0)]


def test_steps_keep_the_thread_count_and_idle_threads_hand_back_their_openmp_team(tiny_llama, monkeypatch):
    """Every step runs on the caller's thread count; the starting thread and the idle loop release their teams."""
    from lmstack.serve.engine import threaded

    released = []
    monkeypatch.setattr(threaded, "release_openmp_workers", lambda: released.append(threading.current_thread().name))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        engine = LmstackEngine(tiny_llama, model_name="tiny", max_batch_size=2)
        seen = []
        forward = engine._forward

        def spy(tokens, *args):
            seen.append((len(tokens), torch.get_num_threads()))
            return forward(tokens, *args)

        engine._forward = spy
        run(engine, lambda: collect(engine, "r", prompt(12), greedy(4)))
        assert seen == [(12, 2), (1, 2), (1, 2), (1, 2)]
        assert released[0] == threading.current_thread().name  # start(), before the loop thread exists
        assert "lmstack-engine-tiny" in released[1:]  # the loop, between requests
    finally:
        torch.set_num_threads(before)

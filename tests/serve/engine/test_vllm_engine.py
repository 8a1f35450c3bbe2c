"""The vllm backend's adapter, against a stand-in for vLLM's AsyncLLM API (vLLM itself needs its own
environment): requests, sampling settings and streamed deltas map as vLLM defines them, and the
adapter keeps the Engine contract (bounded queue, disconnects abort, drain on shutdown)."""

from __future__ import annotations

import asyncio
import enum
import importlib.machinery
import sys
import types
from dataclasses import dataclass, field

import pytest

from lmstack.serve.engine.base import Engine, EngineShuttingDown, GenerationRequest, QueueFull, SamplingParams
from lmstack.serve.engine.factory import build_engine
from lmstack.serve.engine.vllm_engine import VllmEngine


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1


@dataclass
class StructuredOutputsParams:
    json_object: bool | None = None


class FakeSamplingParams:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@dataclass
class Logprob:
    logprob: float
    rank: int | None


@dataclass
class Completion:
    token_ids: list[int]
    finish_reason: str | None
    logprobs: list[dict[int, Logprob]] | None = None


@dataclass
class Output:
    outputs: list[Completion]


@dataclass
class FakeLLM:
    """Generates prompt[-1]+1, +2, … two tokens per delta; logprob of the i-th token -i/10, rank 1,
    with two runners-up at ranks 2 and 3; honours max_tokens and abort."""

    args: object
    aborted: list = field(default_factory=list)
    seen: list = field(default_factory=list)
    shut: bool = False
    step_s: float = 0.0

    async def generate(self, prompt, sp, request_id):
        self.seen.append((prompt, sp, request_id))
        start = prompt["prompt_token_ids"][-1]
        produced = 0
        while produced < sp.max_tokens:
            await asyncio.sleep(self.step_s)
            if request_id in self.aborted:
                yield Output([Completion([], "abort")])
                return
            ids = [start + produced + i + 1 for i in range(min(2, sp.max_tokens - produced))]
            lps = None
            if sp.logprobs is not None:
                lps = [{t: Logprob(-(produced + i + 1) / 10, 1), 900 + i: Logprob(-5.0, 2), 950: Logprob(-6.0, 3)}
                       for i, t in enumerate(ids)]
            produced += len(ids)
            yield Output([Completion(ids, "length" if produced == sp.max_tokens else None, lps)])

    async def abort(self, request_id):
        self.aborted += [request_id] if isinstance(request_id, str) else list(request_id)

    def shutdown(self):
        self.shut = True


@pytest.fixture
def fake_vllm(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    sp_module = types.ModuleType("vllm.sampling_params")
    sp_module.RequestOutputKind = RequestOutputKind
    sp_module.StructuredOutputsParams = StructuredOutputsParams
    vllm.sampling_params = sp_module
    vllm.SamplingParams = FakeSamplingParams
    vllm.AsyncEngineArgs = lambda **kw: kw
    vllm.AsyncLLMEngine = types.SimpleNamespace(from_engine_args=FakeLLM)
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp_module)
    return vllm


def started(**kw) -> VllmEngine:
    engine = VllmEngine("/models/m", model_name="m", max_context=64, vocab_size=1000, **kw)
    asyncio.run(engine.start())
    return engine


async def collect(engine, rid, ids, params):
    return [e async for e in engine.generate(GenerationRequest(rid, ids, params))]


def test_tokens_stream_one_event_each_with_vllms_finish_reason(fake_vllm):
    engine = started(max_batch_size=4, dtype="bfloat16")
    assert isinstance(engine, Engine)
    assert engine._llm.args == {"model": "/models/m", "served_model_name": "m", "dtype": "bfloat16",
                                "max_model_len": 64, "max_num_seqs": 4, "trust_remote_code": False}
    events = asyncio.run(collect(engine, "r1", [5, 9], SamplingParams(max_tokens=5, temperature=0.0)))
    assert [e.token_id for e in events] == [10, 11, 12, 13, 14]
    assert [e.completion_tokens for e in events] == [1, 2, 3, 4, 5]
    assert [e.finish_reason for e in events] == [None] * 4 + ["length"]
    assert all(e.prompt_tokens == 2 and e.logprob is None and e.queue_time_s is None for e in events)
    assert engine.stats().running == 0


def test_sampling_settings_map_to_vllms(fake_vllm):
    engine = started()
    params = SamplingParams(max_tokens=3, temperature=0.7, top_p=0.9, top_k=40, seed=11, presence_penalty=0.5,
                            frequency_penalty=0.25, logit_bias={7: -100.0}, stop_token_ids=(2, 3), ignore_eos=True,
                            constraint=lambda: None)
    asyncio.run(collect(engine, "r", [1], params))
    (prompt, sp, rid), = engine._llm.seen
    assert prompt == {"prompt_token_ids": [1]} and rid == "r"
    assert (sp.max_tokens, sp.temperature, sp.top_p, sp.top_k, sp.seed) == (3, 0.7, 0.9, 40, 11)
    assert (sp.presence_penalty, sp.frequency_penalty, sp.logit_bias) == (0.5, 0.25, {7: -100.0})
    assert (sp.stop_token_ids, sp.ignore_eos, sp.detokenize, sp.logprobs) == ([2, 3], True, False, None)
    assert sp.output_kind is RequestOutputKind.DELTA and sp.structured_outputs == StructuredOutputsParams(True)
    asyncio.run(collect(engine, "plain", [1], SamplingParams(max_tokens=1)))
    assert engine._llm.seen[-1][1].structured_outputs is None and engine._llm.seen[-1][1].logit_bias is None


def test_logprobs_keep_the_chosen_token_and_the_top_k_by_rank(fake_vllm):
    engine = started()
    events = asyncio.run(collect(engine, "r", [1], SamplingParams(max_tokens=2, temperature=0.0, logprobs=1)))
    assert [(e.logprob, e.top_logprobs) for e in events] == [(-0.1, {2: -0.1}), (-0.2, {3: -0.2})]
    events = asyncio.run(collect(engine, "r2", [1], SamplingParams(max_tokens=1, temperature=0.0, logprobs=2)))
    assert events[0].top_logprobs == {2: -0.1, 900: -5.0}


def test_bad_requests_are_refused_before_vllm_sees_them(fake_vllm):
    engine = started()
    for ids, params, message in (([], SamplingParams(), "no tokens"), (list(range(64)), SamplingParams(), "64 tokens"),
                                 ([1], SamplingParams(max_tokens=0), "at least 1"),
                                 ([1000], SamplingParams(), "vocabulary"),
                                 ([1], SamplingParams(logit_bias={5000: 1.0}), "vocabulary")):
        with pytest.raises(ValueError, match=message):
            engine.generate(GenerationRequest("x", ids, params))
    assert engine._llm.seen == []


def test_queue_bound_disconnect_and_drain(fake_vllm):
    engine = started(max_batch_size=1, max_queue=1)
    llm = engine._llm
    llm.step_s = 0.01

    async def body():
        a = aiter(engine.generate(GenerationRequest("a", [1], SamplingParams(max_tokens=40))))
        b = aiter(engine.generate(GenerationRequest("b", [1], SamplingParams(max_tokens=2))))
        with pytest.raises(QueueFull):
            engine.generate(GenerationRequest("c", [1], SamplingParams()))
        assert (engine.stats().running, engine.stats().waiting) == (1, 1)
        first = await anext(a)
        await a.aclose()  # the client went away mid-stream
        b_events = [e async for e in b]
        assert engine._llm.aborted == ["a"] and first.token_id == 2
        assert [e.finish_reason for e in b_events][-1] == "length" and engine.stats().running == 0
        long = aiter(engine.generate(GenerationRequest("d", [1], SamplingParams(max_tokens=1000))))
        await anext(long)
        rest = asyncio.ensure_future(_drain(long))
        await engine.shutdown(drain_timeout_s=0.05)
        events = await rest
        with pytest.raises(EngineShuttingDown):
            engine.generate(GenerationRequest("e", [1], SamplingParams()))
        return events

    events = asyncio.run(body())
    assert events[-1].finish_reason == "abort" and events[-1].token_id == -1
    assert llm.aborted == ["a", "d"] and llm.shut and engine._llm is None


async def _drain(stream):
    return [e async for e in stream]


def test_factory_builds_it_where_vllm_imports(fake_vllm, tmp_path, tiny_llama, tiny_tokenizer):
    folder = tmp_path / "tiny"
    tiny_llama.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    engine, tokenizer = build_engine(str(folder), backend="vllm", max_batch_size=3, max_queue=5)
    assert isinstance(engine, VllmEngine) and engine.model_name == "tiny"
    assert (engine.max_context, engine.vocab_size) == (tiny_llama.config.max_position_embeddings, len(tiny_tokenizer))
    assert (engine.max_batch_size, engine.max_queue) == (3, 5) and len(tokenizer) == len(tiny_tokenizer)

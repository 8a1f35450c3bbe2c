"""JSON mode: the byte-level grammar against json.loads, and a random model that can only answer JSON."""

from __future__ import annotations

import asyncio
import itertools
import json
import random

import pytest
import torch

from lmstack.serve.engine import json_grammar as jg
from lmstack.serve.engine.base import GenerationRequest, SamplingParams
from lmstack.serve.engine.json_constraint import JsonObjectConstraint, TokenBytes
from lmstack.serve.engine.lmstack_engine import LmstackEngine

VALID = ['{}', '{"a":1}', ' { "k" : 0 } \n', '{"é":"中文"}', '{"a":[[],{}],"b":-0.5E-2,"c":false,"d":null}',
         '{"a": [1, -2.5e+3, true, null, "x\\u00e9\\n\\"\\\\"], "b": {"c": []}}']
INVALID = ['[]', '"a"', '{"a":01}', '{"a":1,}', '{a:1}', '{"a":tru}', '{"a":"\x01"}', '{"a":1.}', '{"a":-}',
           '{}{', '{"a":1 2}', '{"a"}', '{"a":"\\x"}', '{"a":"\\u12g4"}', '{,}', '{"a":[1,]}']
CLOSERS = [bytes([b]) for b in b'{}[]":,0-1.eEtrufalsn ']


def can_close(state, n: int) -> bool:
    if jg.is_complete(state):
        return True
    return n > 0 and any(can_close(s, n - 1) for c in CLOSERS if (s := jg.feed(state, c)) is not None)


@pytest.mark.parametrize("text", VALID)
def test_valid_objects_are_complete_and_every_prefix_closes_in_closing_len_bytes(text):
    data = text.encode()
    assert jg.is_complete(jg.feed(jg.START_STATE, data))
    for i in range(len(data)):
        state = jg.feed(jg.START_STATE, data[:i])
        assert state is not None
        n = jg.closing_len(state)
        assert can_close(state, n) and (n == 0 or not can_close(state, n - 1)), (data[:i], n)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_texts_are_refused(text):
    assert not jg.is_complete(jg.feed(jg.START_STATE, text.encode()))


def test_grammar_agrees_with_json_loads_on_mutated_objects():
    """Valid objects with 1-3 random byte edits: near misses are where a validator goes wrong."""
    rng = random.Random(0)
    alphabet = b'{}[]":,0123-.eE+ tfnrulsa\\xu\x01\xe4'
    agree = complete = 0
    for _ in range(20000):
        data = bytearray(rng.choice(VALID).encode())
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data) + 1)
            edit = rng.choice(("insert", "delete", "replace"))
            if edit == "insert" or not data[i:]:
                data[i:i] = bytes([rng.choice(alphabet)])
            elif edit == "delete":
                del data[i]
            else:
                data[i] = rng.choice(alphabet)
        try:
            ok = isinstance(json.loads(bytes(data).decode("utf-8", errors="replace")), dict)
        except ValueError:
            ok = False
        agree += ok == jg.is_complete(jg.feed(jg.START_STATE, bytes(data)))
        complete += ok
    assert agree == 20000 and complete > 2000


def test_token_bytes_split_multibyte_characters(tiny_tokenizer):
    table = TokenBytes.from_tokenizer(tiny_tokenizer)
    ids = tiny_tokenizer.encode('{"名":"中文"}', add_special_tokens=False)
    pieces = [table.table[i] for i in ids]
    assert b"".join(pieces) == '{"名":"中文"}'.encode()
    # A bare continuation byte is legal inside a string, never outside one.
    in_string = jg.feed(jg.START_STATE, b'{"a":"')
    assert jg.feed(in_string, b"\xe4") is not None and jg.feed(jg.START_STATE, b"{\xe4") is None
    assert all(table.table[i] is None for i in tiny_tokenizer.all_special_ids)


def test_constraint_forces_closing_when_the_budget_runs_out(tiny_tokenizer):
    table = TokenBytes.from_tokenizer(tiny_tokenizer)
    eos = tiny_tokenizer.eos_token_id
    c = table.json_object_factory([eos])()
    vocab = len(tiny_tokenizer)
    text = b""
    # Logits that love '[' and '"' (which open things) most: the budget still wins.
    logits = torch.zeros(vocab)
    for t in tiny_tokenizer.encode('[{"', add_special_tokens=False):
        logits[t] = 10.0
    for remaining in range(6, 0, -1):
        token = int(c.allowed(logits, remaining)[0])
        c.advance(token)
        text += table.table[token] or b""
        if token == eos:
            break
    assert isinstance(json.loads(text), dict)


def run_engine(model, requests):
    engine = LmstackEngine(model, model_name="tiny", max_batch_size=8)

    async def main():
        await engine.start()
        try:
            async def one(req):
                return [ev async for ev in engine.generate(req)]
            return await asyncio.gather(*(one(r) for r in requests))
        finally:
            await engine.shutdown(drain_timeout_s=0)
    return asyncio.run(main())


def test_a_random_model_always_answers_one_json_object(tiny_llama, tiny_tokenizer):
    """Random weights never want JSON: 24 requests, greedy and sampled, short and long budgets."""
    tok = tiny_tokenizer
    factory = TokenBytes.from_tokenizer(tok).json_object_factory([tok.eos_token_id])
    prompts = [tok.encode(p, add_special_tokens=False) for p in ("The model reads", "模型在第3天", "{", "Our team")]
    requests = []
    for i, (ids, max_tokens, temperature) in enumerate(itertools.product(prompts, (3, 12, 40), (0.0, 1.5))):
        params = SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=i, constraint=factory,
                                stop_token_ids=(tok.eos_token_id,))
        requests.append(GenerationRequest(f"r{i}", ids, params))
    results = run_engine(tiny_llama, requests)
    lengths = set()
    for req, events in zip(requests, results):
        ids = [e.token_id for e in events]
        text = tok.decode(ids, skip_special_tokens=True)
        assert isinstance(json.loads(text), dict), (req.request_id, text)
        assert events[-1].finish_reason in ("stop", "length") and len(ids) <= req.params.max_tokens
        lengths.add(len(text))
    assert max(lengths) > 10  # not just '{}' every time


def test_a_failing_constraint_fails_its_request_only(tiny_llama, tiny_tokenizer, caplog):
    class Broken(JsonObjectConstraint):
        def allowed(self, logits, remaining):
            raise ValueError("broken processor")

    table = TokenBytes.from_tokenizer(tiny_tokenizer)
    broken = SamplingParams(max_tokens=5, temperature=0.0, constraint=lambda: Broken(table, (2,)))
    fine = SamplingParams(max_tokens=5, temperature=0.0)
    bad, good = run_engine(tiny_llama, [GenerationRequest("bad", [5, 6, 7], broken),
                                        GenerationRequest("good", [5, 6, 7], fine)])
    assert [e.finish_reason for e in bad] == ["abort"] and bad[0].token_id == -1
    assert [e.finish_reason for e in good] == [None] * 4 + ["length"]
    assert "broken processor" in caplog.text

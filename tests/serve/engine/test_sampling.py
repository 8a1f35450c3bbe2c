"""Batched next-token selection: each row follows its own params and its own seed."""

from __future__ import annotations

import math

import torch

from lmstack.serve.engine.base import SamplingParams
from lmstack.serve.engine.sampling import apply_penalties_and_bias, greedy, make_generator, sample, truncate

GREEDY = SamplingParams(temperature=0.0)


def test_greedy_rows_take_the_argmax():
    logits = torch.tensor([[0.0, 3.0, 1.0], [5.0, 1.0, 2.0]])
    out = sample(logits, [GREEDY, GREEDY], [[], []], [None, None])
    assert [s.token_id for s in out] == [1, 0]
    assert out[0].logprob is None


def test_greedy_is_torch_argmax_ties_and_bf16_included():
    ties = torch.tensor([[1.0, 7.0, 7.0, 2.0], [float("-inf"), 0.0, 0.0, float("-inf")], [3.0, 3.0, 3.0, 3.0]])
    assert greedy(ties).tolist() == ties.argmax(dim=-1).tolist() == [1, 1, 0]  # the first of equal maxima
    logits = torch.randn(16, 32000, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)  # many ties in bf16
    assert torch.equal(greedy(logits), logits.argmax(dim=-1))
    assert [s.token_id for s in sample(logits, [GREEDY] * 16, [[]] * 16, [None] * 16)] == logits.argmax(-1).tolist()


def test_penalties_and_bias_follow_openai_definition():
    logits = torch.zeros(1, 4)
    p = SamplingParams(presence_penalty=0.5, frequency_penalty=0.25, logit_bias={3: 2.0})
    out = apply_penalties_and_bias(logits, [p], [[1, 1, 2]])
    assert out.tolist() == [[0.0, -1.0, -0.75, 2.0]]
    assert logits.tolist() == [[0.0] * 4]  # the caller's logits are untouched


def test_logit_bias_steers_greedy_choice():
    logits = torch.tensor([[0.0, 3.0, 1.0]])
    out = sample(logits, [SamplingParams(temperature=0.0, logit_bias={2: 5.0})], [[]], [None])
    assert out[0].token_id == 2


def test_top_k_and_top_p_truncate_per_row():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.5, 0.3, 0.15, 0.05], [0.5, 0.3, 0.15, 0.05]]))
    out = truncate(logits, torch.tensor([2, 0, 0]), torch.tensor([1.0, 0.7, 0.0]))
    kept = torch.isfinite(out).tolist()
    assert kept == [[True, True, False, False], [True, True, False, False], [True, False, False, False]]


def test_top_k_one_samples_the_argmax_at_any_temperature():
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    p = SamplingParams(temperature=5.0, top_k=1)
    out = sample(logits, [p] * 3, [[]] * 3, [make_generator(i) for i in range(3)])
    assert [s.token_id for s in out] == logits.argmax(-1).tolist()


def test_seeded_sample_does_not_depend_on_batch_neighbours():
    torch.manual_seed(1)
    row = torch.randn(1, 100)
    p = SamplingParams(temperature=1.0, seed=7)

    def draw(neighbours: int) -> list[int]:
        logits = torch.cat([torch.randn(neighbours, 100), row])
        params = [SamplingParams(temperature=1.0)] * neighbours + [p]
        gens = [make_generator(None) for _ in range(neighbours)] + [make_generator(7)]
        return [sample(logits, params, [[]] * (neighbours + 1), gens)[-1].token_id for _ in range(6)]

    assert draw(0) == draw(3) == draw(7)
    assert len(set(draw(0))) > 1  # it really samples


def test_sampling_follows_the_distribution():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]]))
    gen = make_generator(0)
    counts = torch.zeros(3)
    for _ in range(2000):
        counts[sample(logits, [SamplingParams(temperature=1.0)], [[]], [gen])[0].token_id] += 1
    assert torch.allclose(counts / 2000, torch.tensor([0.7, 0.2, 0.1]), atol=0.04)


def test_logprobs_are_raw_model_logprobs():
    logits = torch.tensor([[1.0, 2.0, 3.0, 0.0]])
    p = SamplingParams(temperature=0.0, logprobs=2, logit_bias={0: 10.0})
    (s,) = sample(logits, [p], [[]], [None])
    raw = logits.log_softmax(-1)[0]
    assert s.token_id == 0  # chosen after the bias ...
    assert math.isclose(s.logprob, float(raw[0]), rel_tol=1e-6)  # ... but scored by the model
    assert list(s.top_logprobs) == [2, 1]
    assert math.isclose(s.top_logprobs[2], float(raw[2]), rel_tol=1e-6)

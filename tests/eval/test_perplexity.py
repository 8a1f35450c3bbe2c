"""Sliding-window perplexity and multiple choice against token-by-token computations."""

from __future__ import annotations

import math

import pytest
import torch

from lmstack.errors import UserError
from lmstack.eval.choice import score_options
from lmstack.eval.perplexity import perplexity, text_stats, windows

TEXTS = ["我的信用卡丢了，怎么挂失？请拨打95555。The model reads the report on day 3.",
         "Our team checks 42 invoices on day 7.",
         "老师在第5天翻译这份报告。"]


@torch.no_grad()
def _reference_nll(model, ids: list[int], max_length: int, stride: int) -> tuple[float, int]:
    """Token t is predicted from ids[k*stride:t], k the first window that reaches past t."""
    total = 0.0
    for t in range(1, len(ids)):
        k = max(0, math.ceil((t - max_length + 1) / stride))
        context = torch.tensor([ids[k * stride:t]])
        logp = torch.log_softmax(model(input_ids=context).logits[0, -1].float(), dim=-1)
        total -= float(logp[ids[t]])
    return total, len(ids) - 1


def test_windows_cover_every_token_once():
    assert windows(10, 4, 2) == [(0, 4, 0), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
    assert windows(5, 8, 4) == [(0, 5, 0)]
    assert windows(9, 4, 4) == [(0, 4, 0), (4, 8, 4), (8, 9, 8)]


@pytest.mark.parametrize(("max_length", "stride"), [(8, 3), (8, 7), (16, 5), (512, 256)])
def test_perplexity_equals_token_by_token_computation(tiny_lm, tiny_tokenizer, max_length, stride):
    stats = text_stats(tiny_lm, tiny_tokenizer, TEXTS, max_length=max_length, stride=stride, batch_size=4)
    for text, got in zip(TEXTS, stats):
        ids = [tiny_tokenizer.bos_token_id] + tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
        nll, count = _reference_nll(tiny_lm, ids, max_length, stride)
        assert got.tokens == count
        assert got.nll == pytest.approx(nll, abs=1e-4)
        assert got.bytes == len(text.encode()) and got.chars == len(text)


def test_batching_scores_no_padding(tiny_lm, tiny_tokenizer):
    alone = [text_stats(tiny_lm, tiny_tokenizer, [t], max_length=8, stride=3, batch_size=1)[0] for t in TEXTS]
    batched = text_stats(tiny_lm, tiny_tokenizer, TEXTS, max_length=8, stride=3, batch_size=64)
    for a, b in zip(alone, batched):
        assert b.tokens == a.tokens
        assert b.nll == pytest.approx(a.nll, abs=1e-4)


def test_corpus_perplexity_bits_per_byte_and_char(tiny_lm, tiny_tokenizer):
    parts = text_stats(tiny_lm, tiny_tokenizer, TEXTS, max_length=16, stride=8)
    total = perplexity(tiny_lm, tiny_tokenizer, TEXTS, max_length=16, stride=8)
    nll, tokens = sum(p.nll for p in parts), sum(p.tokens for p in parts)
    assert total.perplexity == pytest.approx(math.exp(nll / tokens))
    assert total.bits_per_byte == pytest.approx(nll / math.log(2) / sum(len(t.encode()) for t in TEXTS))
    assert total.bits_per_char == pytest.approx(nll / math.log(2) / sum(len(t) for t in TEXTS))
    # A random model over a 512-token vocabulary is close to uniform.
    assert 200 < total.perplexity < 1500


def test_disjoint_windows_are_a_user_error(tiny_lm, tiny_tokenizer):
    with pytest.raises(UserError, match="stride 8 must be between 1 and max_length - 1 = 7"):
        text_stats(tiny_lm, tiny_tokenizer, TEXTS, max_length=8, stride=8)
    context = tiny_lm.config.max_position_embeddings
    with pytest.raises(UserError, match=f"longer than the model's context of {context} tokens"):
        text_stats(tiny_lm, tiny_tokenizer, TEXTS, max_length=context + 1, stride=8)


@torch.no_grad()
def test_multiple_choice_picks_the_option_the_model_scores_highest(tiny_lm, tiny_tokenizer):
    context = "客户问：信用卡丢了怎么办？客服答："
    options = ["请拨打95555挂失。", "The model reads the report.", "老师翻译一个短故事。", "42张发票"]
    result = score_options(tiny_lm, tiny_tokenizer, context, options)
    ctx_ids = [tiny_tokenizer.bos_token_id] + tiny_tokenizer(context, add_special_tokens=False)["input_ids"]
    expected = []
    for option in options:
        cont = tiny_tokenizer(option, add_special_tokens=False)["input_ids"]
        total = 0.0
        for j, target in enumerate(cont):
            logits = tiny_lm(input_ids=torch.tensor([ctx_ids + cont[:j]])).logits[0, -1]
            total += float(torch.log_softmax(logits.float(), dim=-1)[target])
        expected.append(total)
    assert result.loglikelihoods == pytest.approx(expected, abs=1e-4)
    assert result.best == max(range(len(options)), key=lambda i: expected[i])
    assert result.best_normalised == max(range(len(options)), key=lambda i: expected[i] / len(options[i]))

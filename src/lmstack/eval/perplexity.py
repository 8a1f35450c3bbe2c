"""Perplexity of a causal LM with a strided sliding window, per token, per byte and per character.

Each text is tokenized whole (BOS first when the tokenizer has one), then cut into windows of
`max_length` tokens that start every `stride` tokens. A window scores only the tokens the previous
window did not (its labels for context tokens are -100), so every token but the very first is
scored exactly once, with at least `max_length - stride` tokens of context (hence stride <
max_length: disjoint windows would leave each window's first token unscored). Windows of several texts are batched with right
padding whose labels are -100: padding is never scored.

    >>> from lmstack.eval.perplexity import perplexity
    >>> perplexity(model, tokenizer, ["银行卡丢了怎么办？"], max_length=256, stride=128).perplexity   # doctest: +SKIP

Bits-per-byte and bits-per-character divide the same total negative log-likelihood by the UTF-8
bytes or characters of the texts, so models with different tokenizers compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmstack.errors import UserError

IGNORE = -100


@dataclass
class PerplexityStats:
    """Sums over the scored tokens of one or more texts."""

    nll: float  # total negative log-likelihood, nats
    tokens: int
    bytes: int
    chars: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / self.tokens)

    @property
    def bits_per_byte(self) -> float:
        return self.nll / math.log(2) / self.bytes

    @property
    def bits_per_char(self) -> float:
        return self.nll / math.log(2) / self.chars

    def scores(self) -> dict[str, float]:
        return {"perplexity": self.perplexity, "bits_per_byte": self.bits_per_byte, "bits_per_char": self.bits_per_char}


def windows(n_tokens: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored position) of each window over a sequence of `n_tokens`.

    >>> windows(10, 4, 2)
    [(0, 4, 0), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
    """
    out, prev_end = [], 0
    for begin in range(0, n_tokens, stride):
        end = min(begin + max_length, n_tokens)
        out.append((begin, end, prev_end))
        prev_end = end
        if end == n_tokens:
            break
    return out


def encode(tokenizer, text: str, add_bos: bool = True) -> list[int]:
    """The text's token ids without template tokens, with BOS first when asked and defined."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if add_bos and tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id] + ids
    return ids


@torch.no_grad()
def text_stats(model, tokenizer, texts: Sequence[str], *, max_length: int = 1024, stride: int = 512,
               batch_size: int = 8, add_bos: bool = True) -> list[PerplexityStats]:
    """PerplexityStats per text (see the module docstring for the window scheme)."""
    if not 0 < stride < max_length:
        raise UserError(f"stride {stride} must be between 1 and max_length - 1 = {max_length - 1}",
                        hint="windows must overlap by at least one token, or the first token of each window "
                             "would have no context and go unscored; stride = max_length - 1 is the cheapest")
    context = getattr(model.config, "max_position_embeddings", None)
    if context is not None and max_length > context:
        raise UserError(f"max_length {max_length} is longer than the model's context of {context} tokens",
                        hint=f"set max_length to at most {context} (and stride below it)")
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    jobs: list[tuple[int, list[int], list[int]]] = []  # (text index, input ids, labels)
    for i, text in enumerate(texts):
        ids = encode(tokenizer, text, add_bos)
        for begin, end, first_scored in windows(len(ids), max_length, stride):
            chunk = ids[begin:end]
            labels = [IGNORE] * (first_scored - begin) + chunk[first_scored - begin:]
            jobs.append((i, chunk, labels))
    nll = [0.0] * len(texts)
    counts = [0] * len(texts)
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start:start + batch_size]
        width = max(len(ids) for _, ids, _ in batch)
        input_ids = torch.tensor([ids + [pad_id] * (width - len(ids)) for _, ids, _ in batch], device=device)  # (B, T)
        labels = torch.tensor([lab + [IGNORE] * (width - len(lab)) for _, _, lab in batch], device=device)  # (B, T)
        mask = (torch.arange(width, device=device)[None, :] < torch.tensor([len(ids) for _, ids, _ in batch], device=device)[:, None]).long()
        logits = model(input_ids=input_ids, attention_mask=mask).logits.float()  # (B, T, V)
        # Position t predicts token t+1; the first token of a window is never a target.
        shift_logits, shift_labels = logits[:, :-1], labels[:, 1:]  # (B, T-1, V), (B, T-1)
        token_nll = F.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=IGNORE, reduction="none")  # (B, T-1)
        scored = shift_labels != IGNORE
        for row, (text_index, _, _) in enumerate(batch):
            nll[text_index] += float(token_nll[row][scored[row]].sum())
            counts[text_index] += int(scored[row].sum())
    return [PerplexityStats(nll[i], counts[i], len(t.encode("utf-8")), len(t)) for i, t in enumerate(texts)]


def perplexity(model, tokenizer, texts: Sequence[str], **kwargs) -> PerplexityStats:
    """Corpus perplexity: every scored token of every text weighted equally."""
    parts = text_stats(model, tokenizer, texts, **kwargs)
    if not sum(p.tokens for p in parts):
        raise UserError("no tokens to score", hint="each text needs at least two tokens (or one after BOS)")
    return PerplexityStats(sum(p.nll for p in parts), sum(p.tokens for p in parts),
                           sum(p.bytes for p in parts), sum(p.chars for p in parts))


class PerplexityScores:
    """Aggregates per-text [nll, tokens, bytes, chars] into corpus perplexity and bits per byte/char."""

    name = "perplexity"

    def __init__(self, language: str = "en", max_length: int = 1024, stride: int = 512, add_bos: bool = True):
        self.max_length, self.stride, self.add_bos = max_length, stride, add_bos

    def settings(self) -> dict:
        return {"max_length": self.max_length, "stride": self.stride, "add_bos": self.add_bos,
                "aggregate": "exp(sum nll / sum scored tokens); bits = sum nll / ln 2 / (UTF-8 bytes | characters)"}

    def aggregate(self, stats: Sequence[Sequence[float]]) -> dict[str, float]:
        nll, tokens, n_bytes, chars = (sum(col) for col in zip(*stats))
        return PerplexityStats(nll, int(tokens), int(n_bytes), int(chars)).scores()

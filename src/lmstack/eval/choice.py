"""Multiple choice by log-likelihood, the lm-evaluation-harness way.

Each option is scored as the summed log-probability of its tokens given the context; the answer
is the option with the highest sum (`acc`), or the highest sum per character of the option
(`acc_norm`, which stops long options from losing just for being long). Context and option are
tokenized apart and joined, so the option's tokens are the same whatever the context; a space
that ends the context is moved to the start of the option, as the harness does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmstack.errors import UserError
from lmstack.eval.perplexity import encode


@dataclass
class ChoiceResult:
    loglikelihoods: list[float]
    option_chars: list[int]

    @property
    def best(self) -> int:
        return max(range(len(self.loglikelihoods)), key=lambda i: self.loglikelihoods[i])

    @property
    def best_normalised(self) -> int:
        return max(range(len(self.loglikelihoods)), key=lambda i: self.loglikelihoods[i] / max(1, self.option_chars[i]))


def split_space(context: str, option: str) -> tuple[str, str]:
    """Move the context's trailing spaces to the start of the option.

    >>> split_space("Q: yes or no? A: ", "yes")
    ('Q: yes or no? A:', ' yes')
    """
    stripped = context.rstrip(" ")
    return stripped, context[len(stripped):] + option


@torch.no_grad()
def score_options(model, tokenizer, context: str, options: Sequence[str], *, max_length: int = 2048,
                  add_bos: bool = True) -> ChoiceResult:
    """Summed log-likelihood of each option given the context, all options in one batch."""
    if not options:
        raise UserError("a multiple-choice example has no options")
    device = next(model.parameters()).device
    rows, spans = [], []
    for option in options:
        ctx, cont = split_space(context, option)
        ctx_ids = encode(tokenizer, ctx, add_bos)
        cont_ids = tokenizer(cont, add_special_tokens=False)["input_ids"]
        if not cont_ids:
            raise UserError(f"option {option!r} has no tokens")
        ids = (ctx_ids + cont_ids)[-max_length:]  # keep the option, drop the oldest context
        if len(ids) <= len(cont_ids):
            raise UserError(f"option {option!r} leaves no context token to condition on",
                            hint="give a non-empty context, use a tokenizer with a BOS token, or raise max_length")
        rows.append(ids)
        spans.append(len(cont_ids))
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)  # (K, T)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
    logp = F.log_softmax(model(input_ids=input_ids, attention_mask=mask).logits.float(), dim=-1)  # (K, T, V)
    sums = []
    for k, (r, n) in enumerate(zip(rows, spans)):
        targets = torch.tensor(r[len(r) - n:], device=device)  # (n,)
        # Logits at position t predict token t+1.
        sums.append(float(logp[k, len(r) - n - 1:len(r) - 1].gather(-1, targets[:, None]).sum()))
    return ChoiceResult(sums, [len(o) for o in options])


class ChoiceScores:
    """Aggregates per-example [correct, correct when length-normalised] into acc and acc_norm."""

    name = "multiple_choice"

    def __init__(self, language: str = "en", max_length: int = 2048):
        self.max_length = max_length

    def settings(self) -> dict:
        return {"score": "sum of option token log-probabilities given the context",
                "acc_norm": "divided by the option's characters", "max_length": self.max_length}

    def aggregate(self, stats: Sequence[Sequence[float]]) -> dict[str, float]:
        return {"acc": sum(s[0] for s in stats) / len(stats), "acc_norm": sum(s[1] for s in stats) / len(stats)}

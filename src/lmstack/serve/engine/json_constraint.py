"""`response_format: json_object` by constrained decoding: every token keeps the reply a valid JSON prefix.

    >>> table = TokenBytes.from_tokenizer(tokenizer)                            # doctest: +SKIP
    >>> params = SamplingParams(constraint=table.json_object_factory(end_token_ids={eos}))  # doctest: +SKIP

Each step the engine hands the request's `JsonObjectConstraint` the row's logits and the tokens the
request may still generate; it answers the ids the next token may take, and the sampler masks the
rest to -inf before temperature, top-k and top-p. Which ids: the top `candidates` tokens by logit
whose bytes keep the byte-level JSON state machine (`json_grammar`) alive *and* leave enough tokens
to close the object (`closing_len` ≤ tokens left after this one, counting one token per closing
byte). If none of them qualifies, the whole vocabulary is scanned in logit order for the best one
that does. Greedy decoding thus picks exactly the most likely valid token; sampling draws among the
valid tokens of the top `candidates` (a truncation, like top-k, that keeps the cost per step at a
few dozen state-machine runs instead of one per vocabulary entry).

Once the object is complete only an end token may follow, so the reply always parses as one JSON
object, however random the model. Whitespace between tokens is legal JSON but a random or confused
model can spend its whole budget on it, so the reply must start with the object itself and at most
`MAX_WHITESPACE_RUN` whitespace-only tokens may follow one another outside strings (the tokens that
pretty-printing needs, like a newline and an indent, fit). That needs single-byte tokens for the ASCII bytes
that close an object (`"`, `:`, `0`, `}`, `]`, letters of true/false/null): byte-level BPE
vocabularies (GPT-2, Llama 3, Qwen, lmstack's own) have all 256; `from_tokenizer` refuses others.

Token bytes come from the vocabulary itself (byte-level BPE's byte↔unicode alphabet), so a token
holding half of a multi-byte UTF-8 character is judged by its real bytes; inside a string any byte
≥ 0x80 is legal, and outside one none is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from lmstack.serve.engine import json_grammar as jg

# Candidates tried per step before the full-vocabulary fallback.
DEFAULT_CANDIDATES = 64
# Whitespace-only tokens allowed in a row outside strings.
MAX_WHITESPACE_RUN = 2
# Bytes that must exist as one-token vocabulary entries so any open object can be closed in time.
_CLOSING_BYTES = b'{}[]":,0123456789.-+eEtrufalsn \\'


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in character for each byte, reversed: char → byte."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return {c: b for b, c in enumerate(chars)}


_BYTE_OF = _byte_level_alphabet()


@dataclass(frozen=True)
class TokenBytes:
    """Each vocabulary id's bytes in decoded text (None: never allowed inside JSON, e.g. special tokens)."""

    table: tuple[bytes | None, ...]
    whitespace_ids: frozenset[int]  # tokens of whitespace only

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> TokenBytes:
        """Read the vocabulary of a transformers tokenizer; ValueError if JSON cannot be guaranteed with it."""
        return _from_tokenizer(tokenizer)

    def json_object_factory(self, end_token_ids: Iterable[int],
                            candidates: int = DEFAULT_CANDIDATES) -> Callable[[], JsonObjectConstraint]:
        """A fresh constraint per engine request (n choices share one SamplingParams)."""
        ends = tuple(sorted(set(end_token_ids)))
        if not ends:
            raise ValueError("json_object decoding needs at least one end token id")
        return lambda: JsonObjectConstraint(self, ends, candidates)


@lru_cache(maxsize=16)  # one table per served tokenizer; a 32k vocabulary takes ~0.1 s to read
def _from_tokenizer(tokenizer: Any) -> TokenBytes:
    size = len(tokenizer)
    special = set(tokenizer.all_special_ids)
    pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
    byte_level = all(c in _BYTE_OF for p in pieces if p for c in p)
    table: list[bytes | None] = []
    for i, piece in enumerate(pieces):
        if i in special or not piece:
            table.append(None)
        elif all(c in _BYTE_OF for c in piece) and byte_level:
            table.append(bytes(_BYTE_OF[c] for c in piece))
        else:
            text = tokenizer.decode([i], skip_special_tokens=True)
            table.append(text.encode() if text and "\ufffd" not in text else None)
    single = {t[0] for t in table if t is not None and len(t) == 1}
    missing = sorted(set(_CLOSING_BYTES) - single)
    if missing:
        raise ValueError("response_format json_object needs a one-token entry for each of "
                         f"{bytes(missing).decode()!r} in the vocabulary (byte-level BPE has them)")
    whitespace = frozenset(i for i, t in enumerate(table) if t and not t.strip(b" \t\n\r"))
    return TokenBytes(tuple(table), whitespace)


class JsonObjectConstraint:
    """One request's JSON state; implements `lmstack.serve.engine.base.TokenConstraint`."""

    def __init__(self, vocab: TokenBytes, end_token_ids: tuple[int, ...], candidates: int = DEFAULT_CANDIDATES):
        self.vocab = vocab
        self.end_token_ids = end_token_ids
        self.candidates = candidates
        self.state: jg.State = jg.START_STATE
        self.whitespace_run = 0

    def _fits(self, token_id: int, budget: int) -> bool:
        data = self.vocab.table[token_id] if token_id < len(self.vocab.table) else None
        if data is None:
            return False
        if token_id in self.vocab.whitespace_ids and not jg.in_string(self.state) and (
                self.state == jg.START_STATE or self.whitespace_run >= MAX_WHITESPACE_RUN):
            return False
        nxt = jg.feed(self.state, data)
        return nxt is not None and jg.closing_len(nxt) <= budget

    def allowed(self, logits: torch.Tensor, remaining: int) -> torch.Tensor:
        """Ids the next token may take (1-D, non-empty), given the row's logits (V,) and tokens left incl. this one."""
        if jg.is_complete(self.state):
            return torch.tensor(self.end_token_ids)
        budget = remaining - 1
        k = min(self.candidates, logits.shape[-1])
        top = logits.topk(k).indices.tolist()
        ok = [t for t in top if self._fits(t, budget)]
        if not ok:
            rest = logits.argsort(descending=True).tolist()[k:]
            ok = next(([t] for t in rest if self._fits(t, budget)), [])
        if not ok:
            raise RuntimeError(f"no token keeps the JSON valid within {remaining} more tokens")
        return torch.tensor(ok)

    def advance(self, token_id: int) -> None:
        """The engine chose `token_id` (one of `allowed`)."""
        if jg.is_complete(self.state):
            if token_id not in self.end_token_ids:
                raise RuntimeError(f"token {token_id} follows a complete JSON object")
            return
        data = self.vocab.table[token_id]
        nxt = None if data is None else jg.feed(self.state, data)
        if nxt is None:
            raise RuntimeError(f"token {token_id} breaks the JSON")
        blank = token_id in self.vocab.whitespace_ids and not jg.in_string(self.state)
        self.whitespace_run = self.whitespace_run + 1 if blank else 0
        self.state = nxt

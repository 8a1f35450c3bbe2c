"""Sequence packing: texts → one token stream (documents separated by EOS) → fixed-length rows.

Packing wastes no compute on padding, which matters most on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def pack(tokenizer, texts: Iterable[str], seq_len: int, batch: int = 512) -> torch.Tensor:
    """Token rows of exactly `seq_len`, shape (N, seq_len); the incomplete tail is dropped."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token to separate packed documents")
    stream: list[int] = []
    chunk: list[str] = []

    def flush() -> None:
        for ids in tokenizer(chunk, add_special_tokens=False, verbose=False)["input_ids"]:
            stream.extend(ids)
            stream.append(eos)
        chunk.clear()

    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            flush()
    if chunk:
        flush()
    n = len(stream) // seq_len
    return torch.tensor(stream[: n * seq_len], dtype=torch.long).view(n, seq_len)  # (N, T)

"""A conversation → (input_ids, labels) with the loss on assistant tokens only.

The tokenizer's own chat template renders the conversation, so training sees exactly what the
server will send. Templates with `{% generation %}` blocks (lmstack's ChatML, Qwen, SmolLM, …)
mark the assistant tokens themselves; for any other template the assistant spans are found by
rendering growing prefixes of the conversation.

    >>> row = tokenize_conversation(tok, [{"role": "user", "content": "Hi"},
    ...                                   {"role": "assistant", "content": "Hello"}], max_length=64)  # doctest: +SKIP
    >>> tok.decode([t for t, l in zip(row["input_ids"], row["labels"]) if l != IGNORE_INDEX])      # doctest: +SKIP
    'Hello<|im_end|>'
"""

from __future__ import annotations

import logging
import re

from lmstack.models.tokenizer import DEFAULT_CHAT_TEMPLATE
from lmstack.train.chat_data import Messages, RowError

log = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label value PyTorch's cross-entropy skips
_GENERATION_BLOCK = re.compile(r"\{%-?\s*generation\s*-?%\}")


def has_generation_markers(tokenizer) -> bool:
    """Whether the tokenizer's chat template marks assistant text with `{% generation %}`."""
    return bool(tokenizer.chat_template and _GENERATION_BLOCK.search(tokenizer.chat_template))


def ensure_chat_template(tokenizer) -> None:
    """Give a tokenizer without a chat template lmstack's ChatML one (it is saved with the model)."""
    if not tokenizer.chat_template:
        log.warning("the tokenizer has no chat template; using ChatML (saved with the model, so serving uses it too)")
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE


def _render(tokenizer, messages: Messages, **kwargs) -> list[int]:
    return list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs)["input_ids"])


def assistant_mask_by_prefixes(tokenizer, messages: Messages) -> tuple[list[int], list[int]]:
    """(ids, mask) where mask is 1 on the tokens each assistant turn adds to the rendered prefix.

    Turn i's tokens are those between the render of messages[:i] with the generation prompt and
    the render of messages[:i+1]; the template must render a prefix of the conversation as a token
    prefix of the whole, which is checked.
    """
    ids = _render(tokenizer, messages)
    mask = [0] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(_render(tokenizer, messages[:i], add_generation_prompt=True)) if i else 0
        upto = _render(tokenizer, messages[: i + 1])
        if ids[: len(upto)] != upto or upto[:start] != ids[:start]:
            raise RowError("the chat template does not render a conversation's beginning as a prefix of the whole; "
                           "add {% generation %} markers to it to mark assistant tokens")
        mask[start: len(upto)] = [1] * (len(upto) - start)
    return ids, mask


def tokenize_conversation(tokenizer, messages: Messages, max_length: int) -> dict[str, list[int]]:
    """input_ids and labels (IGNORE_INDEX off the assistant's tokens), cut to `max_length` tokens."""
    if has_generation_markers(tokenizer):
        out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
        ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    else:
        ids, mask = assistant_mask_by_prefixes(tokenizer, messages)
    ids, mask = ids[:max_length], mask[:max_length]
    if not any(mask):
        raise RowError(f"no assistant token within the first {max_length} tokens (the row has "
                       f"{len(_render(tokenizer, messages))}); shorten it or raise the sequence length")
    return {"input_ids": ids, "labels": [t if m else IGNORE_INDEX for t, m in zip(ids, mask, strict=True)]}

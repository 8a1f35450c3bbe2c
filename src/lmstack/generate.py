"""Text generation with a loaded model: one prompt in, the completion out (optionally streamed)."""

from __future__ import annotations

import torch
from transformers import TextStreamer


def generate_text(model, tokenizer, prompt: str, *, max_new_tokens: int = 64, temperature: float = 0.0,
                  top_p: float = 1.0, seed: int = 0, chat: bool = False, stream: bool = False) -> str:
    """Complete `prompt` (greedy when temperature is 0). `chat` wraps it with the chat template.

    >>> generate_text(model, tokenizer, "兰亭银行的营业时间", max_new_tokens=20)  # doctest: +SKIP
    """
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            from lmstack.errors import UserError

            raise UserError("this tokenizer has no chat template", hint="drop --chat to complete the raw prompt")
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    else:
        text = prompt
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=not chat).to(model.device)
    sampling = temperature > 0
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(
            **enc, max_new_tokens=max_new_tokens, do_sample=sampling,
            temperature=temperature if sampling else None, top_p=top_p if sampling else None, top_k=None,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            streamer=TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True) if stream else None,
        )
    new = out[0, enc["input_ids"].shape[1]:] if not model.config.is_encoder_decoder else out[0]
    return tokenizer.decode(new, skip_special_tokens=True)

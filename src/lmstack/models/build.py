"""Build a randomly initialised model from a preset, wired to a tokenizer's special tokens.

    >>> from lmstack.models.build import build_model
    >>> model = build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
    ...                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)  # doctest: +SKIP

The same preset, vocabulary and seed give the same weights on every machine and run. Why every
preset ties its input and output embeddings is in `lmstack.models.presets`.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from lmstack.errors import UserError
from lmstack.models.presets import ARCHITECTURES, Preset, get_preset, make_config


def build_model(preset: str | Preset, *, vocab_size: int, pad_token_id: int, bos_token_id: int, eos_token_id: int,
                max_position_embeddings: int | None = None, seed: int = 0) -> PreTrainedModel:
    """A new model for `preset` with random weights drawn from `seed`, in float32 on the CPU.

    The token ids go into the config and so into `model.generation_config`, which transformers
    derives from it: generation pads, starts (encoder-decoder: `decoder_start_token_id` = bos) and
    stops with this tokenizer's tokens. `max_position_embeddings` overrides the preset's context.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    ids = {"pad_token_id": pad_token_id, "bos_token_id": bos_token_id, "eos_token_id": eos_token_id}
    outside = {name: i for name, i in ids.items() if not 0 <= i < vocab_size}
    if outside:
        raise UserError(f"token ids {outside} are outside the vocabulary of {vocab_size} tokens",
                        hint="pass vocab_size=len(tokenizer) and the ids of that same tokenizer")
    arch = ARCHITECTURES[preset.arch]
    if eos_token_id in arch.unusable_eos_ids:
        raise UserError(f"a {preset.arch} model cannot use eos token id {eos_token_id}: transformers' "
                        f"{arch.model_class.__name__} gives that id a legacy meaning",
                        hint="train a tokenizer with lmstack.models.tokenizer (its eos id is 0)")
    config = make_config(preset, vocab_size, max_position_embeddings=max_position_embeddings, **ids)
    # A forked RNG seeds the init without moving the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = arch.model_class(config)
    return model

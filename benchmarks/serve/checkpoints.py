"""Random-weight Llama-shaped checkpoints for the side-by-side serving benchmark, and prompts of exact length.

    >>> folder = make_checkpoint("llama-125m", Path("/tmp/bench/ckpt"))     # doctest: +SKIP

Every server under test must see the same token ids and produce the same number of tokens, so:

- the tokenizer is lmstack's byte-level BPE (Qwen2 split rule), trained here on a synthetic ASCII
  corpus up to 32,000 tokens; llama.cpp reads it as a `qwen2`-pre-tokenised BPE vocabulary;
- prompts are words that each encode as one token, so a prompt of N words is N tokens in every
  server's tokenizer (checked here with the HF tokenizer);
- the LM-head rows (tied with the embeddings) of special tokens and of tokens that do not decode to
  clean, non-empty ASCII are zero: their logit is 0 while the maximum over 32k random logits is far
  above it, so greedy decoding never stops early and every streamed token carries text. The
  servers that take no `ignore_eos` still return exactly `max_tokens` tokens.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from lmstack.models.build import build_model
from lmstack.models.presets import Preset, get_preset
from lmstack.models.tokenizer import train_tokenizer

VOCAB = 32000
# ~0.5B parameters: Llama widths between llama-350m and llama-1b (24 × 17.7M + 32k × 1280 tied embeddings).
LLAMA_500M = Preset("llama-500m", "causal_lm", "benchmark-only ~0.5B Llama shape", vocab_size=VOCAB, config={
    "hidden_size": 1280, "num_hidden_layers": 24, "num_attention_heads": 20, "num_key_value_heads": 4,
    "intermediate_size": 3584, "max_position_embeddings": 2048})
PRESETS = {"llama-125m": get_preset("llama-125m"), "llama-500m": LLAMA_500M}


def synthetic_corpus(num_lines: int = 40000, seed: int = 0) -> list[str]:
    """Pseudo-words from syllables with Zipf-like frequencies: enough distinct pairs for a 32k BPE vocabulary."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    lexicon = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(60000)]
    weights = [1.0 / (rank + 10) for rank in range(len(lexicon))]
    return [" ".join(rng.choices(lexicon, weights, k=24)) + "." for _ in range(num_lines)]


def make_tokenizer(out_dir: Path) -> PreTrainedTokenizerBase:
    if (out_dir / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(out_dir)
    return train_tokenizer(synthetic_corpus(), vocab_size=VOCAB, out_dir=out_dir)


def clean_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids that decode alone to non-empty printable ASCII (no special token, no partial UTF-8 byte)."""
    special = set(tokenizer.all_special_ids)
    keep = []
    for i in range(len(tokenizer)):
        text = tokenizer.decode([i])
        if i not in special and text and text.isascii() and text.isprintable():
            keep.append(i)
    return keep


def make_checkpoint(preset_name: str, out_dir: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """Save a bf16 safetensors checkpoint of `preset_name` with the shared tokenizer; reuse it if present."""
    if (out_dir / "model.safetensors").exists():
        return out_dir
    tokenizer = make_tokenizer(tokenizer_dir)
    model = build_model(PRESETS[preset_name], vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, seed=seed)
    clean = torch.zeros(len(tokenizer), dtype=torch.bool)
    clean[clean_token_ids(tokenizer)] = True
    with torch.no_grad():
        model.get_output_embeddings().weight[~clean] = 0
    model = model.to(torch.bfloat16)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def exact_prompts(tokenizer: PreTrainedTokenizerBase, count: int, length: int, seed: int = 0) -> list[str]:
    """`count` texts of exactly `length` tokens each: words that encode as a single token, joined by spaces."""
    vocab = tokenizer.get_vocab()
    words = sorted(t[1:] for t in vocab if t.startswith("Ġ") and t[1:].isalpha() and t[1:].islower())
    words = [w for w in words if len(tokenizer.encode(" " + w, add_special_tokens=False)) == 1]
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        text = " " + " ".join(rng.choice(words) for _ in range(length))
        n = len(tokenizer.encode(text, add_special_tokens=False))
        if n != length:
            raise RuntimeError(f"a prompt encoded to {n} tokens, not {length}")
        prompts.append(text)
    return prompts

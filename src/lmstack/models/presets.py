"""Named from-scratch model configurations, ~1M to ~1B parameters, for four architectures.

Every preset is a row of data on top of a transformers class, so the models it builds save,
load, generate and fine-tune with every Hugging Face tool. The name's suffix is the total
parameter count at the preset's default vocabulary size (checked by tests/models/test_presets.py);
a tokenizer of another size changes the embedding rows only.

    >>> from lmstack.models.presets import get_preset, count_parameters
    >>> count_parameters(get_preset("llama-1m"))                       # doctest: +SKIP
    {'total': 918144, 'active': 918144}

Choices shared by every preset of an architecture live in `Architecture.defaults`:

- Input and output embeddings are tied everywhere. At these sizes the vocab × hidden matrix is a
  large share of all weights (57% of llama-1m, a third of llama-20m), an untied output head adds
  as much again, and its rows for rare tokens barely train on a small corpus; public models up
  to ~3B tie as well (Llama-3.2-1B, Qwen2.5-0.5B/1.5B, SmolLM2).
- seq2seq is Marian, not BART, because Marian is the Vaswani et al. (2017) Transformer as
  published: sinusoidal positions, post-LayerNorm residual blocks, embeddings scaled by
  √d_model, ReLU feed-forward, one matrix shared by encoder input, decoder input and output
  softmax. BART adds learned positions, an embedding LayerNorm and GELU. Post-LN needs a
  learning-rate warm-up to train stably, as the original did.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    CLIPConfig,
    CLIPModel,
    LlamaConfig,
    LlamaForCausalLM,
    MarianConfig,
    MarianMTModel,
    MixtralConfig,
    MixtralForCausalLM,
    PreTrainedConfig,
    PreTrainedModel,
)

from lmstack.errors import UserError


@dataclass(frozen=True)
class Stack:
    """One transformer stack of an architecture, for describing a config in a table.

    `sub_config` names the nested config that holds it (None: the top-level config).
    """

    sub_config: str | None
    layers_key: str
    heads_key: str


@dataclass(frozen=True)
class Architecture:
    """How to build, load and describe one family of models."""

    config_class: type[PreTrainedConfig]
    model_class: type[PreTrainedModel]
    auto_class: str
    """Name of the transformers Auto class that loads a saved model of this family."""
    defaults: Mapping[str, Any]
    """Config values shared by every preset of the family (presets override them)."""
    stacks: tuple[Stack, ...]
    text_config: str | None = None
    """The nested config that owns the vocabulary, token ids and context (None: top level)."""
    encoder_decoder: bool = False
    experts_module: str | None = None
    """Name of the module holding routed experts; a token runs through top-k of them only."""
    unusable_eos_ids: tuple[int, ...] = ()
    """eos ids the family's code treats specially, so a tokenizer using them would silently misbehave."""


_DECODER = (Stack(None, "num_hidden_layers", "num_attention_heads"),)

ARCHITECTURES: dict[str, Architecture] = {
    "causal_lm": Architecture(
        LlamaConfig, LlamaForCausalLM, "AutoModelForCausalLM",
        defaults={"tie_word_embeddings": True, "rms_norm_eps": 1e-5},
        stacks=_DECODER,
    ),
    "seq2seq": Architecture(
        MarianConfig, MarianMTModel, "AutoModelForSeq2SeqLM",
        defaults={
            "activation_function": "relu", "scale_embedding": True, "dropout": 0.1,
            "share_encoder_decoder_embeddings": True, "tie_word_embeddings": True,
            # Marian's default forces token 0 at max_length; our tokenizers decide what id 0 is.
            "forced_eos_token_id": None,
        },
        stacks=(Stack(None, "encoder_layers", "encoder_attention_heads"),
                Stack(None, "decoder_layers", "decoder_attention_heads")),
        encoder_decoder=True,
    ),
    "moe": Architecture(
        MixtralConfig, MixtralForCausalLM, "AutoModelForCausalLM",
        defaults={
            "tie_word_embeddings": True, "num_experts_per_tok": 2, "rms_norm_eps": 1e-5,
            # The load-balancing loss keeps a router from sending every token to a few experts; 0.01 is
            # Switch Transformer's weight (Mixtral's 0.001 suits its long runs, not short small ones).
            "output_router_logits": True, "router_aux_loss_coef": 0.01,
        },
        stacks=_DECODER,
        experts_module="experts",
    ),
    "dual_encoder": Architecture(
        CLIPConfig, CLIPModel, "AutoModel",
        defaults={},
        stacks=(Stack("text_config", "num_hidden_layers", "num_attention_heads"),
                Stack("vision_config", "num_hidden_layers", "num_attention_heads")),
        text_config="text_config",
        # With eos_token_id == 2 CLIP pools text at argmax(input_ids), a legacy path kept for
        # OpenAI's checkpoints, instead of at the eos token.
        unusable_eos_ids=(2,),
    ),
}


@dataclass(frozen=True)
class Preset:
    """A named model configuration: config-class keyword arguments plus a default vocab size."""

    name: str
    arch: str
    description: str
    config: Mapping[str, Any] = field(repr=False)
    vocab_size: int = 32000


def _llama(name: str, vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, ffn: int,
           context: int, description: str) -> Preset:
    return Preset(name, "causal_lm", description, vocab_size=vocab, config={
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "intermediate_size": ffn, "max_position_embeddings": context})


def _seq2seq(name: str, vocab: int, d_model: int, layers: int, heads: int, ffn: int, context: int,
             description: str) -> Preset:
    return Preset(name, "seq2seq", description, vocab_size=vocab, config={
        "d_model": d_model, "encoder_layers": layers, "decoder_layers": layers,
        "encoder_attention_heads": heads, "decoder_attention_heads": heads,
        "encoder_ffn_dim": ffn, "decoder_ffn_dim": ffn, "max_position_embeddings": context})


def _moe(name: str, vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, ffn: int,
         experts: int, context: int, description: str) -> Preset:
    return Preset(name, "moe", description, vocab_size=vocab, config={
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "intermediate_size": ffn, "num_local_experts": experts,
        "max_position_embeddings": context})


def _clip(name: str, vocab: int, text: tuple[int, int, int], vision: tuple[int, int, int],
          image_size: int, patch_size: int, projection: int, description: str) -> Preset:
    """`text` and `vision` are (hidden, layers, heads); feed-forward width is 4 × hidden as in CLIP."""
    (t_hidden, t_layers, t_heads), (v_hidden, v_layers, v_heads) = text, vision
    return Preset(name, "dual_encoder", description, vocab_size=vocab, config={
        "projection_dim": projection,
        "text_config": {"hidden_size": t_hidden, "num_hidden_layers": t_layers, "num_attention_heads": t_heads,
                        "intermediate_size": 4 * t_hidden, "projection_dim": projection,
                        "max_position_embeddings": 77},
        "vision_config": {"hidden_size": v_hidden, "num_hidden_layers": v_layers, "num_attention_heads": v_heads,
                          "intermediate_size": 4 * v_hidden, "projection_dim": projection,
                          "image_size": image_size, "patch_size": patch_size},
    })


_ALL = [
    #      name          vocab  hidden layers heads kv  ffn   context
    _llama("llama-1m",    4096,  128,   2,    4,    2,  384,  512, "smoke tests and 2-minute CPU demos"),
    _llama("llama-5m",    8192,  256,   4,    4,    2,  704,  1024, "learns a few MB of text on a CPU in minutes"),
    _llama("llama-20m",   16384, 384,   8,    6,    2,  1024, 1024, "TinyStories scale; hours on a CPU"),
    _llama("llama-125m",  32000, 768,   12,   12,   4,  3072, 2048, "GPT-2-small scale"),
    _llama("llama-350m",  32000, 1024,  24,   16,   4,  3584, 2048, "GPT-2-medium scale"),
    _llama("llama-1b",    32000, 2048,  16,   32,   8,  8192, 4096, "Llama-3.2-1B shape with a 32k vocabulary"),
    #        name            vocab  d_model layers heads ffn  context (layers: encoder = decoder)
    _seq2seq("seq2seq-2m",   4096,  128,    3,     4,    512,  512, "smoke tests and CPU demos of translation"),
    _seq2seq("seq2seq-20m",  16384, 256,    8,     4,    1024, 512, "small translation / summarisation models"),
    _seq2seq("seq2seq-60m",  32000, 512,    6,     8,    2048, 512, "Transformer-base (Vaswani et al. 2017)"),
    _seq2seq("seq2seq-400m", 32000, 1024,   12,    16,   4096, 1024, "Transformer-big widths, 12+12 layers"),
    #    name        vocab  hidden layers heads kv  ffn   experts context (ffn: per expert)
    _moe("moe-4m",   4096,  128,   4,     4,   2,  256,  8,      512, "smoke tests of routing and load balancing"),
    _moe("moe-50m",  16384, 384,   8,     6,   2,  512,  8,      1024, "8 experts, top-2; small MoE experiments"),
    _moe("moe-400m", 32000, 768,   12,    12,  4,  1536, 8,      2048, "8 experts, top-2; a third active"),
    _moe("moe-1b",   32000, 1024,  16,    16,  4,  2304, 8,      4096, "8 experts, top-2; Mixtral shape scaled down"),
    #     name         vocab  text (hidden, layers, heads)  vision       image patch projection
    _clip("clip-2m",   4096,  (128, 3, 4),                  (128, 3, 4),   32,  8,  128,
          "smoke tests of contrastive image-text training on 32×32 images"),
    _clip("clip-30m",  16384, (384, 6, 6),                  (384, 8, 6),   128, 16, 256,
          "small image-text retrieval on 128×128 images"),
    _clip("clip-150m", 49408, (512, 12, 8),                 (768, 12, 12), 224, 32, 512,
          "ViT-B/32 CLIP, with CLIP's 49,408-token vocabulary"),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _ALL}


def get_preset(name: str) -> Preset:
    """The preset called `name`; a UserError naming the closest ones when there is none."""
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(name, list(PRESETS), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}?" if close else "`lmstack models presets` lists them all"
    raise UserError(f"no model preset called {name!r}", hint=hint)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `override`, nested mappings merged key by key (copies, never aliases)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        nested = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = _merge(out[key], value) if nested else copy.deepcopy(value)
    return out


def config_kwargs(preset: Preset, vocab_size: int | None = None, *, pad_token_id: int = 1, bos_token_id: int = 0,
                  eos_token_id: int = 0, max_position_embeddings: int | None = None) -> dict[str, Any]:
    """Keyword arguments for the preset's config class, with the vocabulary and token ids wired in.

    The default ids are those of a tokenizer from `lmstack.models.tokenizer` (`<|endoftext|>` = 0
    as bos and eos, `<|pad|>` = 1). They go where the architecture reads them: the top level, or
    the text sub-config of a dual encoder (whose pooling reads the eos position). An
    encoder-decoder's decoder starts from bos, as a causal LM's text does.
    """
    arch = ARCHITECTURES[preset.arch]
    kwargs = _merge(arch.defaults, preset.config)
    text: dict[str, Any] = {"vocab_size": vocab_size or preset.vocab_size, "pad_token_id": pad_token_id,
                            "bos_token_id": bos_token_id, "eos_token_id": eos_token_id}
    if max_position_embeddings is not None:
        text["max_position_embeddings"] = max_position_embeddings
    if arch.encoder_decoder:
        text["decoder_start_token_id"] = bos_token_id
    return _merge(kwargs, {arch.text_config: text} if arch.text_config else text)


def make_config(preset: Preset, vocab_size: int | None = None, **token_ids: int | None) -> PreTrainedConfig:
    """The transformers config object for `preset` (arguments as in `config_kwargs`)."""
    return ARCHITECTURES[preset.arch].config_class(**config_kwargs(preset, vocab_size, **token_ids))


def count_parameters(preset: Preset, vocab_size: int | None = None) -> dict[str, int]:
    """Exact total and per-token active parameter counts, without allocating any weights.

    The model is instantiated on the meta device (shapes only), so this takes well under a second
    even for 1B parameters. Tied matrices count once, as `model.parameters()` yields them once.
    Active = total minus the routed experts a token skips: each token runs top-k of E experts.
    """
    arch = ARCHITECTURES[preset.arch]
    config = make_config(preset, vocab_size)
    with torch.device("meta"):
        model = arch.model_class(config)
    total = sum(p.numel() for p in model.parameters())
    active = total
    if arch.experts_module is not None:
        routed = sum(p.numel() for name, module in model.named_modules()
                     if name.rsplit(".", 1)[-1] == arch.experts_module for p in module.parameters())
        experts, top_k = config.num_local_experts, config.num_experts_per_tok
        active -= routed * (experts - top_k) // experts
    return {"total": total, "active": active}


def _layers(values: list[int]) -> int | str:
    """Stacked depths: 12, or '6+6' for encoder+decoder (text+vision) even when they are equal."""
    return values[0] if len(values) == 1 else "+".join(map(str, values))


def _widths(values: list[int]) -> int | str:
    """One number when every stack agrees, else '512/768'."""
    return values[0] if len(set(values)) == 1 else "/".join(map(str, values))


def preset_table() -> list[dict[str, Any]]:
    """One row per preset for `lmstack models presets`.

    Two-stack models show both: layers '6+6' (encoder+decoder, or text+vision), widths '512/768'.
    """
    rows = []
    for preset in PRESETS.values():
        arch = ARCHITECTURES[preset.arch]
        config = make_config(preset)
        subs = [getattr(config, s.sub_config) if s.sub_config else config for s in arch.stacks]
        heads = [getattr(sub, s.heads_key) for sub, s in zip(subs, arch.stacks, strict=True)]
        text = getattr(config, arch.text_config) if arch.text_config else config
        counts = count_parameters(preset)
        rows.append({
            "name": preset.name,
            "arch": preset.arch,
            "params": counts["total"],
            "active_params": counts["active"],
            "layers": _layers([getattr(sub, s.layers_key) for sub, s in zip(subs, arch.stacks, strict=True)]),
            "hidden": _widths([sub.hidden_size for sub in subs]),
            "heads": _widths(heads),
            "kv_heads": _widths([getattr(sub, "num_key_value_heads", h) for sub, h in zip(subs, heads, strict=True)]),
            "experts": getattr(config, "num_local_experts", None),
            "context": text.max_position_embeddings,
            "vocab_size": preset.vocab_size,
            "description": preset.description,
        })
    return rows

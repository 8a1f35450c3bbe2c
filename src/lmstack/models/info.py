"""Describe a model folder without loading its weights (`lmstack models info <folder>`).

Parameter count and dtype come from the safetensors headers: a safetensors file starts with an
8-byte little-endian header length and a JSON header giving every tensor's dtype and shape, so a
1B-parameter folder is described by reading a few kilobytes.

    >>> from lmstack.models.info import model_info
    >>> model_info("runs/demo/model")["parameters"]                          # doctest: +SKIP
    918144
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import Counter
from pathlib import Path
from typing import Any

from lmstack.models.loading import TOKENIZER_FILES, check_model_folder, load_config, model_kind

# safetensors dtype codes → torch dtype names.
DTYPE_NAMES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn",
               "F8_E5M2": "float8_e5m2", "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
               "U8": "uint8", "BOOL": "bool"}
# Where families keep their context length, most common first.
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")
_SHAPE_KEYS = {"hidden_size": ("hidden_size", "d_model", "n_embd"),
               "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
               "num_heads": ("num_attention_heads", "n_head"),
               "num_kv_heads": ("num_key_value_heads",)}


def read_safetensors_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of one safetensors file: {tensor name: {dtype, shape, data_offsets}, …}."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    return header


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files that make up the model: the index's shards, else every file."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return [folder / name for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    return sorted(folder.glob("*.safetensors"))


def _first(config: Any, keys: tuple[str, ...]) -> Any:
    return next((getattr(config, key) for key in keys if getattr(config, key, None) is not None), None)


def _has_chat_template(folder: Path) -> bool:
    """transformers 5 writes chat_template.jinja; older folders keep it in tokenizer_config.json."""
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    tokenizer_config = folder / "tokenizer_config.json"
    if not tokenizer_config.is_file():
        return False
    return bool(json.loads(tokenizer_config.read_text(encoding="utf-8")).get("chat_template"))


def model_info(path: str | os.PathLike) -> dict[str, Any]:
    """What a model folder holds, read from its config and file headers only.

    `parameters` counts the elements of the tensors stored, tied matrices once. That is
    `sum(p.numel() for p in model.parameters())` except where a family saves a buffer (Marian's
    final_logits_bias) or recomputes a frozen table instead of saving it (Marian's sinusoidal
    positions). `dtype` is the one most elements are in;
    `dtypes` gives elements per dtype. Text-side shapes (hidden size, layers, heads) are None where a
    family has no such field.
    """
    folder = check_model_folder(path)
    config = load_config(folder)
    text = config.get_text_config()
    elements: Counter[str] = Counter()
    for file in _weight_files(folder):
        for tensor in read_safetensors_header(file).values():
            elements[DTYPE_NAMES.get(tensor["dtype"], tensor["dtype"].lower())] += math.prod(tensor["shape"])
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: str(p))
    return {
        "path": str(folder),
        "model_type": config.model_type,
        "architectures": list(config.architectures or []),
        "kind": model_kind(config),
        "parameters": sum(elements.values()),
        "dtype": elements.most_common(1)[0][0],
        "dtypes": dict(elements),
        "size_bytes": sum(p.stat().st_size for p in files),
        "context_length": _first(text, CONTEXT_KEYS),
        "vocab_size": getattr(text, "vocab_size", None),
        **{name: _first(text, keys) for name, keys in _SHAPE_KEYS.items()},
        "has_tokenizer": any((folder / name).is_file() for name in TOKENIZER_FILES),
        "has_chat_template": _has_chat_template(folder),
        "files": [{"name": str(p.relative_to(folder)), "bytes": p.stat().st_size} for p in files],
    }

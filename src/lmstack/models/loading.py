"""Load a model and its tokenizer from a folder (or the hub, where reachable): safetensors only.

    >>> from lmstack.models.loading import load_model
    >>> model, tokenizer = load_model("runs/demo/model")           # doctest: +SKIP

A model folder is what `save_pretrained` writes: `config.json`, `*.safetensors` weights, and
usually the tokenizer files. Pickle weights (`pytorch_model.bin`, `*.pt`, …) are refused: unpickling
runs whatever code the file names, so a downloaded checkpoint could take over the machine.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import transformers
from transformers import AutoConfig, AutoTokenizer, PreTrainedConfig, PreTrainedModel
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
)
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from lmstack.errors import UserError
from lmstack.hardware.device import resolve_device, resolve_dtype
from lmstack.models.presets import ARCHITECTURES

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "spiece.model", "sentencepiece.bpe.model")

# Which Auto class loads each kind of model; "encoder" is any other checkpoint (BERT, MiniLM, …).
AUTO_CLASS: dict[str, str] = {kind: arch.auto_class for kind, arch in ARCHITECTURES.items()} | {"encoder": "AutoModel"}

_DUAL_ENCODERS = {"clip": "CLIPModel", "chinese_clip": "ChineseCLIPModel", "siglip": "SiglipModel",
                  "siglip2": "Siglip2Model", "altclip": "AltCLIPModel"}

# Kind by the class a checkpoint was saved from (config.architectures[0]): the surest signal,
# since one model type can have several heads (BartForCausalLM and BartForConditionalGeneration).
KIND_BY_CLASS: dict[str, str] = (
    {name: "causal_lm" for name in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()}
    | {name: "seq2seq" for name in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES.values()}
    | {name: "dual_encoder" for name in _DUAL_ENCODERS.values()}
)
# Kind by model_type, for configs written without `architectures`; later tables win, so a type
# that has both heads is taken as the encoder-decoder it was designed as.
KIND_BY_MODEL_TYPE: dict[str, str] = (
    {model_type: "causal_lm" for model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES}
    | {model_type: "seq2seq" for model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES}
    | {model_type: "dual_encoder" for model_type in _DUAL_ENCODERS}
)
# Names families use for the number of routed experts.
EXPERT_COUNT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_kind(config: PreTrainedConfig) -> str:
    """'causal_lm', 'moe', 'seq2seq', 'dual_encoder' (the preset architectures) or 'encoder'.

    A causal LM with more than one routed expert is 'moe'.
    """
    if config.architectures:
        kind = KIND_BY_CLASS.get(config.architectures[0], "encoder")
    else:
        kind = KIND_BY_MODEL_TYPE.get(config.model_type, "encoder")
    text = config.get_text_config()
    experts = max((getattr(text, key, None) or 0 for key in EXPERT_COUNT_KEYS), default=0)
    return "moe" if kind == "causal_lm" and experts > 1 else kind


def check_model_folder(path: str | os.PathLike) -> Path:
    """`path` as a Path if it holds a loadable model; otherwise a UserError saying how to fix it."""
    folder = Path(path)
    if not folder.exists():
        raise UserError(f"model folder {str(folder)!r} does not exist",
                        hint="check the path; a model folder is what `save_pretrained` (or `lmstack train`) writes")
    if not folder.is_dir():
        raise UserError(f"{str(folder)!r} is a file, not a model folder",
                        hint="pass the folder that holds config.json and the *.safetensors weights")
    if not (folder / "config.json").is_file():
        raise UserError(f"no config.json in {str(folder)!r}",
                        hint="pass the folder written by `save_pretrained` (config.json sits beside the weights)")
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    safetensors = [name for name in files if name.endswith(".safetensors")]
    pickles = [name for name in files if name.endswith(PICKLE_SUFFIXES)]
    if not safetensors and pickles:
        raise UserError(
            f"{str(folder)!r} has weights only in pickle format ({', '.join(pickles)}); lmstack loads "
            "safetensors only, because unpickling a file can execute any code it contains",
            hint="convert once, on a machine you trust and only for a checkpoint from a source you trust: "
                 f"python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{folder}', "
                 f"use_safetensors=False).save_pretrained('{folder}-safetensors')\" "
                 "(use the model's own Auto class, e.g. AutoModelForCausalLM), then load the new folder")
    if not safetensors:
        raise UserError(f"no weights in {str(folder)!r}: there is a config.json but no *.safetensors file",
                        hint="copy the model's *.safetensors files (and model.safetensors.index.json if sharded) "
                             "next to config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        missing = sorted(set(json.loads(index.read_text())["weight_map"].values()) - set(safetensors))
        if missing:
            raise UserError(f"{str(folder)!r} is missing weight shards: {', '.join(missing)}",
                            hint="copy every shard named in model.safetensors.index.json into the folder")
    return folder


def _fetch_from_hub(repo_id: str, trust_remote_code: bool) -> Path:
    """Download a hub model's safe files into the local cache and return that folder."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns + (["*.py"] if trust_remote_code else [])))
    except OSError as e:  # hub errors (offline, not found, gated, network) are all OSErrors
        raise UserError(f"could not fetch {repo_id!r} from the Hugging Face hub, and no local folder has that name "
                        f"({type(e).__name__}: {str(e).splitlines()[0]})",
                        hint="download it where the hub is reachable (`hf download ORG/NAME --local-dir DIR`), "
                             "copy DIR here and pass the folder") from e


def resolve_model_folder(name_or_path: str | os.PathLike, *, trust_remote_code: bool = False) -> Path:
    """A checked local folder: `name_or_path` itself, or a hub id (`org/name`) fetched to the cache."""
    text = str(name_or_path)
    if not Path(text).exists() and _HUB_ID.match(text):
        return check_model_folder(_fetch_from_hub(text, trust_remote_code))
    return check_model_folder(text)


def load_config(folder: Path, *, trust_remote_code: bool = False) -> PreTrainedConfig:
    """The folder's config, with remote code only when asked for."""
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"config.json in {str(folder)!r} is not valid JSON ({e})",
                        hint="save the model again with `save_pretrained`, or fix the file") from e
    try:
        return AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except ValueError as e:
        if raw.get("auto_map") and not trust_remote_code:
            raise UserError(f"{str(folder)!r} needs its own Python code to load (config.json has an auto_map)",
                            hint="read the *.py files in the folder; if you trust them, pass trust_remote_code=True "
                                 "(CLI: --trust-remote-code)") from e
        raise UserError(f"transformers {transformers.__version__} cannot read the config in {str(folder)!r}: {e}",
                        hint="upgrade transformers if the model type is newer than it") from e


def load_tokenizer(folder: Path, *, trust_remote_code: bool = False) -> PreTrainedTokenizerBase | None:
    """The folder's tokenizer, or None when it has no tokenizer files.

    None is not an error here: a CLIP vision tower or a bare checkpoint can be used without one,
    and callers that need text (training, serving) say so with their own error. Folders lmstack
    writes always carry their tokenizer.
    """
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return None
    return AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)


def load_model(name_or_path: str | os.PathLike, *, device: str = "auto", dtype: str = "auto",
               trust_remote_code: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase | None]:
    """(model in eval mode on `device` in `dtype`, tokenizer or None) from a folder or hub id.

    device/dtype: 'auto' chooses as `lmstack.hardware.device` does (fp32 on CPU, bf16 on GPUs).
    """
    folder = resolve_model_folder(name_or_path, trust_remote_code=trust_remote_code)
    config = load_config(folder, trust_remote_code=trust_remote_code)
    torch_device = resolve_device(device)
    auto_class: Any = getattr(transformers, AUTO_CLASS[model_kind(config)])
    model = auto_class.from_pretrained(folder, config=config, dtype=resolve_dtype(dtype, torch_device),
                                       use_safetensors=True, trust_remote_code=trust_remote_code)
    model.to(torch_device).eval()
    return model, load_tokenizer(folder, trust_remote_code=trust_remote_code)

"""LoRA and QLoRA adapters through PEFT, and merging them back into a plain checkpoint.

    >>> model = add_adapters(model, LoraSection(r=8), task_type="CAUSAL_LM", base_dir=base)  # doctest: +SKIP
    >>> merge_adapters("runs/demo/train/model", "runs/demo/merged")                                       # doctest: +SKIP

The adapter folder's `adapter_config.json` names the base model folder, so an adapter alone is
enough to rebuild the merged model.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import torch

from lmstack.atomic import atomic_path
from lmstack.errors import UserError
from lmstack.train.config import LoraSection


def require_qlora(device: torch.device) -> None:
    """QLoRA needs 4-bit kernels: bitsandbytes and a CUDA GPU. A UserError says so otherwise."""
    missing = [what for what, ok in (("a CUDA GPU", device.type == "cuda"),
                                     ("the bitsandbytes package", importlib.util.find_spec("bitsandbytes") is not None))
               if not ok]
    if missing:
        raise UserError(f"train.method qlora needs {' and '.join(missing)} (device here: {device.type})",
                        hint="use train.method: lora (same adapters on a full-precision model), or run on a CUDA "
                             "machine with `pip install bitsandbytes`")


def quantized(base_dir: Path, model_class, device: torch.device):
    """The base model from `base_dir` in 4-bit NF4 (bf16 compute), ready for adapter training."""
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                bnb_4bit_compute_dtype=torch.bfloat16)
    # under torchrun each process loads onto its own GPU
    gpu = device.index if device.index is not None else int(os.environ.get("LOCAL_RANK", 0))
    model = model_class.from_pretrained(base_dir, quantization_config=config, device_map={"": gpu},
                                        use_safetensors=True)
    return prepare_model_for_kbit_training(model)


def linear_module_names(model) -> list[str]:
    """The short names (`q_proj`, `fc1`, …) of the model's linear layers, for error messages."""
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) or type(module).__name__.startswith("Linear")})


def add_adapters(model, lora: LoraSection, *, task_type: str, base_dir: Path, seed: int = 0):
    """`model` wrapped by PEFT with LoRA adapters; only the adapters train, the base is frozen.

    The adapters' random init is drawn from `seed`, so every process of a multi-process run, and a
    one-process run with the same seed, start from the same adapters.
    """
    from peft import LoraConfig, get_peft_model

    if lora.target_modules != "all-linear":
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        unknown = [t for t in lora.target_modules if t not in present]
        if unknown:
            raise UserError(f"train.lora.target_modules names modules the model does not have: {', '.join(unknown)}",
                            hint=f"its linear layers are: {', '.join(linear_module_names(model))} "
                                 "(or use all-linear)")
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type=task_type,
                        target_modules=lora.target_modules)
    # PEFT writes the model's name_or_path into adapter_config.json as the base to merge into.
    model.name_or_path = str(Path(base_dir).resolve())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_peft_model(model, config)


def merge_adapters(adapter_dir: str | Path, out_dir: str | Path, *, base: str | Path | None = None) -> Path:
    """Write base + adapters merged into one plain HF checkpoint (safetensors + tokenizer) at `out_dir`.

    `base` overrides the base model folder named in the adapter's config.
    """
    from peft import PeftModel

    from lmstack.models.loading import load_model, load_tokenizer

    adapter_dir = Path(adapter_dir)
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise UserError(f"{str(adapter_dir)!r} holds no LoRA adapter (no adapter_config.json)",
                        hint="pass the `model` folder (or a checkpoint-N folder) of a run with train.method: lora; "
                             "a full fine-tune is already a plain checkpoint")
    base = base or json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise UserError(f"the adapter in {str(adapter_dir)!r} does not name its base model", hint="pass --base DIR")
    model, base_tokenizer = load_model(base, device="cpu", dtype="float32")
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    tokenizer = load_tokenizer(adapter_dir) or base_tokenizer
    with atomic_path(out_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    return Path(out_dir)

"""Pretrain with lmstack's recipe under `accelerate launch`, so an accelerate config picks DDP, FSDP or DeepSpeed.

    accelerate launch --config_file examples/accelerate/fsdp.yaml examples/accelerate/pretrain.py \
        --project project.yaml --tokenizer runs/demo/tokenizer/tokenizer --text corpus.jsonl --out runs/demo-fsdp

Every process runs this script: it reads the project's `model` and `train` sections, builds the
preset model, packs the text files (jsonl rows with `data.text_field`, or plain .txt) with the
tokenizer, and calls `lmstack.train.pretrain.pretrain`. The HF Trainer inside reads the setup that
`accelerate launch` puts in the environment (ACCELERATE_USE_FSDP / ACCELERATE_USE_DEEPSPEED and
their settings), so the same script trains DDP, FSDP or DeepSpeed ZeRO by config alone. The first
process writes checkpoints, metrics and `<out>/model`; `--resume` is on, as with `lmstack train`.
`torchrun --nproc_per_node N examples/accelerate/pretrain.py ...` runs it as plain DDP.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transformers import AutoTokenizer

from lmstack.config.loader import load_config
from lmstack.data.text import iter_texts
from lmstack.hardware.device import autocast_dtype, resolve_device, resolve_dtype, resolve_threads
from lmstack.models.build import build_model
from lmstack.train.packing import pack
from lmstack.train.pretrain import pretrain


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--project", required=True, help="project file: its model and train sections are used")
    p.add_argument("--tokenizer", required=True, help="tokenizer folder (e.g. a run's tokenizer stage output)")
    p.add_argument("--text", nargs="+", required=True, help="text files to pretrain on (jsonl or txt)")
    p.add_argument("--out", required=True, help="output folder: checkpoints, metrics.jsonl, model")
    p.add_argument("-o", "--override", action="append", default=[], help="project overrides, e.g. train.max_steps=10")
    args = p.parse_args()

    cfg = load_config(args.project, args.override)
    resolve_threads(cfg.model.threads)
    device = resolve_device(cfg.model.device)
    bf16 = autocast_dtype(device, resolve_dtype(cfg.model.dtype, device), cfg.model.autocast) is not None
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    model = build_model(cfg.model.preset, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        max_position_embeddings=cfg.model.context_length, seed=cfg.project.seed)
    rows = pack(tokenizer, iter_texts(args.text, cfg.data.text_field), cfg.model.context_length)  # (N, T)
    metrics = pretrain(model, tokenizer, rows, Path(args.out), cfg.train, seed=cfg.project.seed, device=device,
                       bf16=bf16)
    print(metrics)


if __name__ == "__main__":
    main()

"""Train on several processes: torchrun's launcher starts `train.nproc` workers that each run the recipe.

    lmstack train project.yaml --nproc 2

The command's own process keeps the run directory's bookkeeping (stage folder, manifest,
samples); it hands the model, tokenizer and data to the workers through torch's elastic launcher
(the engine of `torchrun`), which sets RANK, LOCAL_RANK and WORLD_SIZE for each. Inside, HF
Trainer trains data-parallel — DDP over gloo on CPUs and NCCL on GPUs, or FSDP with
`train.distributed: fsdp` on GPUs — each process on `train.batch_size` rows, so the global batch is
batch_size × grad_accum × processes. LoRA/QLoRA train the adapters data-parallel (the base saved
once, here); the contrastive recipe contrasts against the embeddings of every process. Rank 0 alone
writes checkpoints, metrics, TensorBoard events, plots and the final model (or adapters), which the
command then loads back into its copy of the model.

Several nodes: run the same command on every node with the usual variables, which map onto
torchrun's flags (`--nnodes`, `--node-rank`, `--master-addr`, `--master-port`):

    NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 lmstack train project.yaml --nproc 8   # node 0
    NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 lmstack train project.yaml --nproc 8   # node 1

Each node keeps its own run directory (put `project.run_dir` on node-local disk): every node
prepares the data and tokenizer the same way, and each node's first process writes checkpoints
and the final model there (HF's `save_on_each_node`), so any node can resume.

DeepSpeed, and FSDP set up by an accelerate config, run through `accelerate launch` instead:
docs/training.md and examples/accelerate/.
"""

from __future__ import annotations

import copy
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from lmstack.errors import UserError
from lmstack.train.config import TrainSection
from lmstack.train.fit import save_base
from lmstack.train.logs import require_mlflow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_config(nproc: int, env: Mapping[str, str] = os.environ) -> LaunchConfig:
    """torchrun's settings for `nproc` processes on this node, from NNODES, NODE_RANK, MASTER_ADDR and
    MASTER_PORT (one node on a free local port when they are unset).

    >>> env = {"NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    >>> launch_config(8, env).rdzv_endpoint
    '10.0.0.1:29500'
    """
    try:
        nnodes, node_rank = int(env.get("NNODES", 1)), int(env.get("NODE_RANK", 0))
        port = int(env["MASTER_PORT"]) if "MASTER_PORT" in env else None
    except ValueError as e:
        raise UserError(f"NNODES, NODE_RANK and MASTER_PORT must be whole numbers: {e}") from None
    if not 0 <= node_rank < nnodes:
        raise UserError(f"NODE_RANK {node_rank} is outside 0..{nnodes - 1} (NNODES={nnodes})")
    if nnodes > 1 and (port is None or "MASTER_ADDR" not in env):
        raise UserError(f"training on {nnodes} nodes needs MASTER_ADDR and MASTER_PORT",
                        hint="set them on every node to node 0's address and a free port, e.g. MASTER_PORT=29500")
    endpoint = f"{env.get('MASTER_ADDR', '127.0.0.1')}:{port or free_port()}"
    # static rendezvous: node ranks are given, as torchrun does with --node-rank
    return LaunchConfig(min_nodes=nnodes, max_nodes=nnodes, nproc_per_node=nproc, run_id="lmstack",
                        rdzv_backend="static", rdzv_endpoint=endpoint, rdzv_configs={"rank": node_rank},
                        max_restarts=0, start_method="spawn")


def run_distributed(recipe: Callable[..., dict], model, tokenizer, data, out_dir: Path, cfg: TrainSection,
                    **kwargs) -> dict:
    """Run `recipe(model, tokenizer, data, out_dir, cfg, **kwargs)` on `cfg.nproc` processes; load
    the trained weights into `model` and return rank 0's metrics (local rank 0 on other nodes).

    LoRA/QLoRA: every process wraps its copy in the same PEFT adapters (the base saved once, here,
    when it has no folder) and DDP averages the adapters' gradients alone, the base being frozen;
    the trained adapters are then injected into `model`, as a one-process run leaves it.
    """
    if cfg.distributed == "fsdp" and kwargs["device"].type == "cpu":
        raise UserError("train.distributed: fsdp shards over GPUs; on CPUs accelerate would quietly run DDP instead",
                        hint="set train.distributed: ddp, or model.device: cuda")
    require_mlflow(cfg)
    if cfg.method != "full" and "base_dir" in kwargs and kwargs["base_dir"] is None:
        kwargs["base_dir"] = save_base(model, tokenizer, out_dir)  # once here, not racing in every worker
    device = next(model.parameters()).device
    model.to("cpu")  # workers get the weights through shared memory, then each moves its copy to its device
    threads = max(1, torch.get_num_threads() // cfg.nproc)
    results = elastic_launch(launch_config(cfg.nproc), _worker)(recipe, model, tokenizer, data, Path(out_dir), cfg,
                                                                 threads, kwargs)
    first = results[0]
    if isinstance(first, tuple):
        raise UserError(*first)
    saved = Path(out_dir) / "model"
    if (saved / "adapter_config.json").is_file():
        from peft import PeftModel

        PeftModel.from_pretrained(model, saved)  # injects the trained adapters into `model`, as one process does
    else:
        trained = type(model).from_pretrained(saved, dtype=next(model.parameters()).dtype)
        model.load_state_dict(trained.state_dict())
    model.to(device)
    return first


def _worker(recipe: Callable[..., dict], model, tokenizer, data, out_dir: Path, cfg: TrainSection, threads: int,
            kwargs: dict) -> dict | tuple[str, str | None]:
    """One process's training: its metrics, or a user error's (message, hint) to raise in the launcher."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    os.environ["OMP_NUM_THREADS"] = str(threads)  # accelerate would otherwise pick its own count, and say so
    torch.set_num_threads(threads)
    model = copy.deepcopy(model)  # the received tensors share the launcher's memory; each rank updates its own
    try:
        return recipe(model, tokenizer, data, out_dir, cfg, **kwargs)
    except UserError as e:
        return e.message, e.hint

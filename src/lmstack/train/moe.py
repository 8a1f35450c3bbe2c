"""Pretrain a mixture-of-experts model (the moe-* presets) and watch how its routers spread tokens.

Run it through a project file:

    lmstack train examples/customer-service/project.yaml -o train.recipe=moe -o model.preset=moe-4m

The training is pretrain's (packed corpus, HF Trainer, checkpoints, resume); the model adds the
router load-balancing loss (Switch Transformer; weight `router_aux_loss_coef` in the preset) to
its language-model loss. Hooks on the routers count which experts each training token is sent
to; each logged row of `metrics.jsonl` gets every expert's token share since the last one and the
auxiliary loss, `expert_share.png` plots the shares, and a warning names an expert that takes
more than `train.moe_collapse_share` of the tokens (router collapse: the others stop learning).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from transformers import TrainerCallback

from lmstack.atomic import atomic_path
from lmstack.errors import UserError
from lmstack.report.plots import plot_loss  # sets the display-free matplotlib backend
from lmstack.train.config import TrainSection
from lmstack.train.fit import fit, save_final
from lmstack.train.pretrain import PackedRows, split_rows

log = logging.getLogger(__name__)


def routers(model) -> list[torch.nn.Module]:
    """The top-k router modules (one per MoE layer); their forward returns (logits, weights, expert ids)."""
    return [m for m in model.modules() if type(m).__name__.endswith("TopKRouter")]


class ExpertLoad(TrainerCallback):
    """Counts training tokens per expert through router hooks; adds the shares to each logged row.

    A token counts once for each of its top-k experts, so shares sum to top_k and an even spread
    gives every expert top_k / experts.
    """

    def __init__(self, model, num_experts: int):
        self.model, self.num_experts = model, num_experts
        self.window = torch.zeros(num_experts, dtype=torch.long)  # since the last log
        self.total = torch.zeros(num_experts, dtype=torch.long)  # whole run
        self.tokens = [0, 0]  # window, total
        self.aux_losses: list[float] = []
        self.handles: list = []

    def _count(self, module, args, output) -> None:
        if module.training:
            expert_ids = output[2]  # (tokens, top_k)
            self.window += torch.bincount(expert_ids.reshape(-1).cpu(), minlength=self.num_experts)
            self.tokens[0] += expert_ids.shape[0]

    def _aux(self, module, args, output) -> None:
        if module.training and getattr(output, "aux_loss", None) is not None:
            self.aux_losses.append(output.aux_loss.item())

    def attach(self) -> None:
        layers = routers(self.model)
        self.handles = [r.register_forward_hook(self._count) for r in layers]
        self.handles.append(self.model.register_forward_hook(self._aux))

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.attach()

    def on_train_end(self, args, state, control, **kwargs):
        self.detach()

    def shares(self, counts: torch.Tensor, tokens: int) -> list[float]:
        """Per expert: the share of (token, layer) routings that chose it (they sum to top_k)."""
        return [round(c / max(tokens, 1), 4) for c in counts.tolist()]

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or "loss" not in logs or self.tokens[0] == 0:
            return
        logs["expert_share"] = self.shares(self.window, self.tokens[0])
        if self.aux_losses:
            logs["router_aux_loss"] = round(sum(self.aux_losses) / len(self.aux_losses), 5)
        self.total += self.window
        self.tokens[1] += self.tokens[0]
        self.window.zero_()
        self.tokens[0] = 0
        self.aux_losses.clear()

    def run_shares(self) -> list[float]:
        """Every expert's share over all logged training steps."""
        return self.shares(self.total, self.tokens[1])


def collapsed_expert(shares: list[float], limit: float) -> int | None:
    """The expert whose token share is above `limit`, if any (the largest one)."""
    top = max(range(len(shares)), key=shares.__getitem__) if shares else None
    return top if top is not None and shares[top] > limit else None


def plot_expert_share(metrics_jsonl: Path, out_png: Path, even_share: float) -> Path | None:
    """Each expert's token share against step, with the even share dashed; None when nothing was logged."""
    rows = [json.loads(line) for line in Path(metrics_jsonl).read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if "expert_share" in r]
    if not rows:
        return None
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    for e in range(len(rows[0]["expert_share"])):
        ax.plot(steps, [r["expert_share"][e] for r in rows], label=f"expert {e}")
    ax.axhline(even_share, color="black", linestyle="--", linewidth=1, label="even")
    ax.set_xlabel("step")
    ax.set_ylabel("share of tokens")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(out_png)


def moe(model, tokenizer, rows: torch.Tensor, out_dir: Path, cfg: TrainSection, *, seed: int,
        device: torch.device, bf16: bool, validation: torch.Tensor | None = None, resume: bool = True) -> dict:
    """Pretrain the MoE `model` on packed `rows` (N, T); write `out_dir/model`, the plots; return the metrics."""
    out_dir = Path(out_dir)
    experts = getattr(model.config, "num_local_experts", None)
    if not routers(model) or not experts:
        raise UserError(f"the moe recipe trains mixture-of-experts models; {type(model).__name__} has no routers",
                        hint="pick a moe-* preset (`lmstack models presets`), or train.recipe: pretrain")
    # The load-balancing loss is only added when the model returns its router logits.
    model.config.output_router_logits = True
    if validation is None:
        rows, validation = split_rows(rows, cfg.validation_share, seed)
    load = ExpertLoad(model, experts)
    trainer, metrics = fit(model, tokenizer, PackedRows(rows), PackedRows(validation) if validation is not None else None,
                           out_dir, cfg, seed=seed, device=device, bf16=bf16, resume=resume, callbacks=[load])
    shares = load.run_shares()
    even = model.config.num_experts_per_tok / experts
    metrics.update(experts=experts, top_k=model.config.num_experts_per_tok, expert_share=shares,
                   expert_share_max=max(shares, default=0.0), even_share=round(even, 4))
    top = collapsed_expert(shares, cfg.moe_collapse_share)
    metrics["collapsed_expert"] = top
    if top is not None:
        log.warning("router collapse: expert %d received %.0f%% of the tokens (even spread: %.0f%%); raise "
                    "router_aux_loss_coef or lower the learning rate", top, 100 * shares[top], 100 * even)
    if save_final(trainer, tokenizer, out_dir / "model"):
        plot_loss(out_dir / "metrics.jsonl", out_dir / "loss.png")
        plot_expert_share(out_dir / "metrics.jsonl", out_dir / "expert_share.png", even)
    return metrics

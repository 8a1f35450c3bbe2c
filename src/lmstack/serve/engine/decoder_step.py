"""A lean forward for one engine step of a Llama-family decoder (Llama, Mistral, Qwen2), on the model's own weights.

The engine's generic path calls the transformers model with a custom cache and attention
(`kv_cache`): it runs any architecture, but a decode step pays for transformers' module calls
and bookkeeping — on 2 CPU cores a one-token step of a 125M model took 14 ms, of which the matrix
products were 8. `DecoderStep` runs the same computation as straight-line tensor code: the query,
key and value projections in one matrix product, gate and up in one, the model's own rotary
embedding module for cos/sin, RMSNorm written as transformers writes it (the same numbers), K/V
written to the engine's `KVCache` and attention through the engine's `attend`. Greedy output stays
equal to HF `generate` (tested). In the last layer only the rows whose logits are sampled go on past
the keys and values (the decode rows and the last token of each prompt the step finishes): the other
prompt tokens are needed only as keys and values, so a prefill step skips ~7% of its products
(125M, 264 rows: 167–174 → 158–167 ms on 2 Zen 4 cores).

On a CPU in bf16 the fused matrices are built once, when the engine starts, and packed for the
product that is faster at each row count on this CPU (`linear.LinearPlan`, measured at start):
lmstack's linear kernel (AMX tiles or AVX-512 BF16 dot products; 1–16 rows at about the read
bandwidth) and/or oneDNN (`torch.ops.mkldnn._linear_pointwise`, torch's fastest product there, AMX
tiles where the CPU has them). Each packed copy is one more copy of the linear weights while the engine runs.
Elsewhere (fp32, GPUs) the step calls the model's own weights, one product per layer, and copies
nothing. The model itself is not changed.

Where lmstack's CPU kernels are built (`native`; bf16 or fp32 on the CPU), the pointwise work runs
fused (`pointwise`): each RMSNorm with the residual add before it, SiLU·up and the rotary embedding
are one call each instead of 3 to 8 torch ops, which at one decode row cost more in dispatch than in
arithmetic. A decode-only step whose products all run on lmstack's linear kernel makes those calls
from C, every layer in one call (`native_layers`, the same bits). Without the kernels the step runs
the torch code below.

`DecoderStep.build(model)` returns None for anything else (another architecture, q/k norms, a
different activation or linear type): the engine then keeps the generic path. Sliding-window
layers (Mistral, Qwen2 with `use_sliding_window`) attend as transformers' mask says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from lmstack.serve.engine import native, pointwise
from lmstack.serve.engine.kv_cache import KVCache, StepLayout, attend
from lmstack.serve.engine.linear import STEP_ROWS, LinearPlan
from lmstack.serve.engine.native_layers import NativeLayers
from lmstack.serve.engine.packed_linear import packable

log = logging.getLogger(__name__)
ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")

Linear = Callable[[torch.Tensor], torch.Tensor]


def _fused(linears: list[nn.Linear], plan: LinearPlan | None) -> Linear:
    """One matrix product for several linear layers that read the same input (outputs side by side).

    With a plan (bf16 on a CPU): one concatenated matrix, packed once for lmstack's linear kernel and/or
    for oneDNN, as the plan says (`linear.LinearPlan`). Otherwise the layers' own weights, one product
    each and the outputs concatenated: no second copy of the weights."""
    if plan is None:
        if len(linears) == 1:
            return linears[0].forward
        return lambda x: torch.cat([F.linear(x, m.weight, m.bias) for m in linears], dim=-1)
    return plan.build(linears)


def _rms_norm(norm: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    weight, eps = norm.weight, norm.variance_epsilon

    def apply(x: torch.Tensor) -> torch.Tensor:  # as transformers' LlamaRMSNorm: fp32 statistics, weight in x's dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
        return weight * h.to(x.dtype)

    return apply


def _rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """transformers' apply_rotary_pos_emb, x·cos + rotate_half(x)·sin, for (T, heads, D) with cos/sin (T, 1, D):
    rotate_half(x)·sin = roll(x, D/2)·[-sin₁, sin₂] (the same products, so the same numbers) in 4 ops, not 6."""
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


@dataclass
class _Layer:
    input_norm: Callable[[torch.Tensor], torch.Tensor]
    qkv: Linear
    o: Linear
    post_norm: Callable[[torch.Tensor], torch.Tensor]
    gate_up: Linear
    down: Linear
    window: int | None  # sliding-window attention over this many positions, or None
    norms: tuple[nn.Module, nn.Module]  # input and post-attention RMSNorm modules (weight, variance_epsilon)


class DecoderStep:
    """One flat engine step (see `lmstack_engine`) through a Llama-family model's weights."""

    def __init__(self, model: PreTrainedModel, layers: list[_Layer], *, heads: int, kv_heads: int, head_dim: int,
                 intermediate: int, scaling: float, plan: LinearPlan | None):
        self.model = model
        self.layers = layers
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.intermediate = intermediate
        self.scaling = scaling
        self.embed = model.model.embed_tokens
        self.norm = _rms_norm(model.model.norm)
        self.rotary = model.model.rotary_emb
        self.linear_plan = plan
        self.lm_head = _fused([model.lm_head], plan)
        self.final_norm = model.model.norm
        weight = model.model.embed_tokens.weight
        self.fused = native.library() is not None and weight.device.type == "cpu" and weight.dtype in native.SUFFIX
        self.native = NativeLayers.build(self)  # decode-only steps: every layer in one C call, or None

    @classmethod
    def build(cls, model: PreTrainedModel, step_rows: int = STEP_ROWS) -> DecoderStep | None:
        """The lean step for `model`, or None where it does not apply (the engine keeps the generic path).
        `step_rows`: the rows of a step with a prompt chunk, where the linear products are measured."""
        if type(model).__name__ not in ARCHITECTURES:
            return None
        config = model.config
        if getattr(config, "hidden_act", None) != "silu" or getattr(config, "pretraining_tp", 1) != 1:
            return None
        if type(model.lm_head) is not nn.Linear or model.lm_head.bias is not None:
            return None
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            projections = [attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj]
            if any(type(m) is not nn.Linear for m in projections):
                return None
            if any(hasattr(attn, name) for name in ("q_norm", "k_norm")):
                return None
        groups = [[[layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj], [layer.self_attn.o_proj],
                   [layer.mlp.gate_proj, layer.mlp.up_proj], [layer.mlp.down_proj]] for layer in model.model.layers]
        flat = [g for per_layer in groups for g in per_layer]
        plan = LinearPlan.choose(flat, step_rows=step_rows) if packable(model) else None
        if plan is not None:
            log.info("%s", plan.describe())
        layers = []
        for layer, (qkv, o, gate_up, down) in zip(model.model.layers, groups):
            # What transformers passes to attention: Mistral's window holds in every layer, Qwen2's in the
            # layers its config makes sliding ones (the attribute is None in the others).
            window = (config.sliding_window if type(model).__name__ == "MistralForCausalLM"
                      else getattr(layer.self_attn, "sliding_window", None))
            layers.append(_Layer(_rms_norm(layer.input_layernorm), _fused(qkv, plan), _fused(o, plan),
                                 _rms_norm(layer.post_attention_layernorm), _fused(gate_up, plan), _fused(down, plan),
                                 window, (layer.input_layernorm, layer.post_attention_layernorm)))
        if plan is not None:
            plan.prepared.clear()  # every layer is built: measured copies not taken are not kept
        attn = model.model.layers[0].self_attn
        head_dim = attn.head_dim
        heads = attn.q_proj.out_features // head_dim
        kv_heads = attn.k_proj.out_features // head_dim
        return cls(model, layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                   intermediate=model.model.layers[0].mlp.gate_proj.out_features, scaling=attn.scaling, plan=plan)

    def __call__(self, tokens: torch.Tensor, positions: torch.Tensor, layout: StepLayout, keep: torch.Tensor,
                 kv: KVCache) -> torch.Tensor:
        """tokens, positions: (T,); logits (len(keep), V) at the flat positions `keep`."""
        t = tokens.shape[0]
        h = self.embed(tokens)  # (T, E)
        cos, sin = self.rotary(h, positions[None])  # (1, T, D) each
        if self.fused:
            if self.native is not None and self.native.applies(layout, kv):
                return self.lm_head(self.native(h, cos[0], sin[0], layout, kv)[keep])
            return self._fused_step(h, cos[0], sin[0], layout, keep, kv)
        cos, sin = cos[0, :, None], sin[0, :, None]
        half = self.head_dim // 2
        signed_sin = torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)
        qk_heads = self.heads + self.kv_heads
        q_end = self.heads * self.head_dim
        k_end = q_end + self.kv_heads * self.head_dim
        i = self.intermediate
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            qkv = layer.qkv(layer.input_norm(h))
            qk = _rotate(qkv[:, :k_end].view(t, qk_heads, self.head_dim), cos, signed_sin)  # queries and keys at once
            q, k = qk[:, : self.heads], qk[:, self.heads:]
            v = qkv[:, k_end:].view(t, self.kv_heads, self.head_dim)
            keys, values = kv.write(index, layout, k, v)
            if index == last and len(keep) < t:  # see _fused_step
                if not len(keep):
                    return self._no_logits()
                q, h, layout, t = q[keep], h[keep], layout.select(keep), len(keep)
                keep = slice(None)
            out = attend(q.transpose(0, 1), keys, values, layout, self.scaling, layer.window)  # (Hq, T, D)
            h = h + layer.o(out.transpose(0, 1).reshape(t, q_end))
            gate_up = layer.gate_up(layer.post_norm(h))
            h = h + layer.down(F.silu(gate_up[:, :i]) * gate_up[:, i:])
        return self.lm_head(self.norm(h[keep]))

    def _no_logits(self) -> torch.Tensor:
        """The logits of a step that samples nothing (a prompt chunk that does not end its prompt)."""
        weight = self.model.lm_head.weight
        return weight.new_empty(0, weight.shape[0])

    def _fused_step(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, layout: StepLayout,
                    keep: torch.Tensor, kv: KVCache) -> torch.Tensor:
        """The loop above with lmstack's fused kernels; h (T, E) is the step's own residual stream, updated in place."""
        t = h.shape[0]
        q_end = self.heads * self.head_dim
        delta = None  # what the last block adds to h, folded into the next norm
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            norm_in, norm_post = layer.norms
            qkv = layer.qkv(pointwise.rms_norm(h, norm_in.weight, norm_in.variance_epsilon, delta))
            keys, values = kv.keys[index], kv.values[index]
            # rotated queries; rotated keys and the values stored in the cache at each token's slot and position
            q = pointwise.rope_store(qkv, cos, sin, keys, values, layout.slots, layout.positions, self.heads,
                                     self.kv_heads)
            if index == last and len(keep) < t:
                # Past the last layer's keys and values only the rows whose logits are sampled matter: the
                # rest of a prompt chunk skips that layer's attention, output projection and MLP.
                if not len(keep):
                    return self._no_logits()
                q, h, layout, t = q[keep], h[keep], layout.select(keep), len(keep)
                keep = slice(None)
            out = attend(q.transpose(0, 1), keys, values, layout, self.scaling, layer.window)  # (Hq, T, D)
            attn = layer.o(out.transpose(0, 1).reshape(t, q_end))
            gate_up = layer.gate_up(pointwise.rms_norm(h, norm_post.weight, norm_post.variance_epsilon, attn))
            delta = layer.down(pointwise.silu_mul(gate_up))
        normed = pointwise.rms_norm(h, self.final_norm.weight, self.final_norm.variance_epsilon, delta)
        return self.lm_head(normed[keep])

"""Model shapes a plan chooses among, and each one's memory, speed, capacity and cost on a device.

On a CPU the shapes are lmstack's own causal-LM presets (trained from scratch or fine-tuned here);
on GPUs they are standard open-model shapes, the Qwen2.5 family's published layer, head and
width settings, from 0.5B to 72B. Image-text retrieval uses dual encoders (CLIP presets, or the
ViT-B/32 and ViT-L/14 CLIP shapes on GPUs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from lmstack.plan import estimate as est
from lmstack.plan.hardware import Device


@dataclass(frozen=True)
class ModelShape:
    """What the formulas need of a model: sizes, and where the model comes from."""

    name: str
    params: float
    active_params: float
    layers: int
    kv_heads: int
    head_dim: int
    hidden: int
    max_context: int
    source: str
    """A preset name (model.preset) or a checkpoint id (model.path)."""
    lora_params: float
    """Trainable parameters of rank-8 adapters on every linear layer but the output head."""
    tokens_per_request: int = 0
    """Dual encoders: tokens (image patches) one request encodes; 0 for generative models."""

    @property
    def generative(self) -> bool:
        return self.tokens_per_request == 0


LORA_RANK = 8  # lmstack's default train.lora.r


def decoder_shape(name: str, *, vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, ffn: int,
                  max_context: int, source: str, tied: bool, qkv_bias: bool = False,
                  head_dim: int | None = None) -> ModelShape:
    """A Llama/Qwen2-style decoder: GQA attention, SwiGLU MLP (gate, up, down), RMSNorm."""
    head_dim = head_dim or hidden // heads
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = hidden * q + 2 * hidden * kv + q * hidden + ((q + 2 * kv) if qkv_bias else 0)
    mlp = 3 * hidden * ffn
    per_layer = attention + mlp + 2 * hidden  # two RMSNorm weights
    embeddings = vocab * hidden * (1 if tied else 2)
    params = layers * per_layer + embeddings + hidden  # final norm
    # One A (in × r) and one B (r × out) per adapted linear: q, k, v, o, gate, up, down.
    lora_per_layer = LORA_RANK * ((hidden + q) + 2 * (hidden + kv) + (q + hidden) + 3 * (hidden + ffn))
    return ModelShape(name, params, params, layers, kv_heads, head_dim, hidden, max_context, source,
                      lora_params=layers * lora_per_layer)


def encoder_shape(name: str, params: float, *, hidden: int, layers: int, tokens_per_request: int,
                  source: str) -> ModelShape:
    """A dual encoder: one request encodes an image of `tokens_per_request` patches (plus its caption)."""
    return ModelShape(name, params, params, layers, 0, 0, hidden, tokens_per_request, source,
                      lora_params=0, tokens_per_request=tokens_per_request)


# Qwen2.5 shapes as published in the models' config.json (vocab 151,936, q/k/v biases).
OPEN_DECODERS: list[ModelShape] = [
    decoder_shape("qwen2.5-0.5b-like", vocab=151936, hidden=896, layers=24, heads=14, kv_heads=2, ffn=4864,
                  max_context=32768, source="Qwen/Qwen2.5-0.5B-Instruct", tied=True, qkv_bias=True),
    decoder_shape("qwen2.5-1.5b-like", vocab=151936, hidden=1536, layers=28, heads=12, kv_heads=2, ffn=8960,
                  max_context=32768, source="Qwen/Qwen2.5-1.5B-Instruct", tied=True, qkv_bias=True),
    decoder_shape("qwen2.5-3b-like", vocab=151936, hidden=2048, layers=36, heads=16, kv_heads=2, ffn=11008,
                  max_context=32768, source="Qwen/Qwen2.5-3B-Instruct", tied=True, qkv_bias=True),
    decoder_shape("qwen2.5-7b-like", vocab=152064, hidden=3584, layers=28, heads=28, kv_heads=4, ffn=18944,
                  max_context=32768, source="Qwen/Qwen2.5-7B-Instruct", tied=False, qkv_bias=True),
    decoder_shape("qwen2.5-14b-like", vocab=152064, hidden=5120, layers=48, heads=40, kv_heads=8, ffn=13824,
                  max_context=32768, source="Qwen/Qwen2.5-14B-Instruct", tied=False, qkv_bias=True),
    decoder_shape("qwen2.5-32b-like", vocab=152064, hidden=5120, layers=64, heads=40, kv_heads=8, ffn=27648,
                  max_context=32768, source="Qwen/Qwen2.5-32B-Instruct", tied=False, qkv_bias=True),
    decoder_shape("qwen2.5-72b-like", vocab=152064, hidden=8192, layers=80, heads=64, kv_heads=8, ffn=29568,
                  max_context=32768, source="Qwen/Qwen2.5-72B-Instruct", tied=False, qkv_bias=True),
]

# OpenAI CLIP shapes; a request encodes one image: (224 / patch)² patches plus the class token.
OPEN_ENCODERS: list[ModelShape] = [
    encoder_shape("clip-vit-b-32-like", 151.3e6, hidden=768, layers=12, tokens_per_request=50,
                  source="openai/clip-vit-base-patch32"),
    encoder_shape("clip-vit-b-16-like", 149.6e6, hidden=768, layers=12, tokens_per_request=197,
                  source="openai/clip-vit-base-patch16"),
    encoder_shape("clip-vit-l-14-like", 427.6e6, hidden=1024, layers=24, tokens_per_request=257,
                  source="openai/clip-vit-large-patch14"),
]


def preset_shapes(generative: bool = True) -> list[ModelShape]:
    """lmstack's causal-LM presets (or, for retrieval, its CLIP presets) as shapes, smallest first."""
    from lmstack.models.presets import PRESETS, count_parameters, make_config

    shapes = []
    for preset in PRESETS.values():
        if generative and preset.arch == "causal_lm":
            c = make_config(preset)
            shapes.append(decoder_shape(
                preset.name, vocab=preset.vocab_size, hidden=c.hidden_size, layers=c.num_hidden_layers,
                heads=c.num_attention_heads, kv_heads=c.num_key_value_heads, ffn=c.intermediate_size,
                max_context=c.max_position_embeddings, source=preset.name, tied=c.tie_word_embeddings))
        elif not generative and preset.arch == "dual_encoder":
            c = make_config(preset).vision_config
            patches = (c.image_size // c.patch_size) ** 2 + 1
            shapes.append(encoder_shape(preset.name, count_parameters(preset)["total"], hidden=c.hidden_size,
                                        layers=c.num_hidden_layers, tokens_per_request=patches, source=preset.name))
    return sorted(shapes, key=lambda s: s.params)


@dataclass(frozen=True)
class Workload:
    """What one model serves: request shape, peak rate and latency targets."""

    prompt_tokens: int
    output_tokens: int
    context_length: int
    peak_qps: float | None
    ttft_ms: float | None
    tpot_ms: float | None
    train_tokens: float
    lora: bool


@dataclass
class Candidate:
    """One model size on one device: every number a plan shows for it."""

    name: str
    source: str
    role: str
    params: float
    weights_gb: float
    kv_cache_gb: float
    concurrency: int
    serving_memory_gb: float
    train_full_gb: float
    train_lora_gb: float
    decode_tokens_per_s: float | None
    tpot_ms: float | None
    ttft_ms: float
    batch: int
    requests_per_s_per_replica: float
    replicas: int
    devices: int
    monthly_cost: float | None
    train_tokens: float
    train_method: str
    train_hours: float
    fits_memory: bool
    meets_latency: bool
    recommended: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate(shape: ModelShape, device: Device, work: Workload, eff: est.Efficiency, *, role: str = "model",
             price_per_device_hour: float | None = None) -> Candidate:
    """Memory, speed, capacity, cost and training time of `shape` serving `work` on `device`."""
    bw, flops = device.bandwidth_gbs * 1e9, device.flops
    weights = est.weight_bytes(shape.params)
    memory = device.total_memory_gb * 1e9
    kv_token = est.kv_bytes_per_token(shape.layers, shape.kv_heads, shape.head_dim) if shape.generative else 0.0
    kv_seq = kv_token * work.context_length
    prompt = work.prompt_tokens if shape.generative else shape.tokens_per_request
    ttft_s = est.prefill_s(active_params=shape.active_params, prompt_tokens=prompt, flops=flops * eff.prefill,
                           weight_bytes=weights, bandwidth_bps=bw * eff.decode)

    def step_s(batch: int) -> float:
        bound = est.decode_step_s(weight_bytes=weights, kv_bytes=kv_token * work.context_length * batch,
                                  active_params=shape.active_params, batch=batch, bandwidth_bps=bw, flops=flops)
        return est.expected_step_s(bound, shape.layers, eff)

    fits = weights + kv_seq <= memory
    if shape.generative:
        batch = _max_batch(lambda b: weights + kv_seq * b <= memory
                           and (work.tpot_ms is None or step_s(b) * 1e3 <= work.tpot_ms))
        rps = est.requests_per_s(prefill_s=ttft_s, step_s=step_s(batch), batch=batch, output_tokens=work.output_tokens)
    else:  # an encoder batches requests into one compute-bound forward
        batch = est.MAX_BATCH
        rps = flops * eff.prefill / (2 * shape.active_params * prompt)
    replicas = est.replicas_needed(work.peak_qps, rps) if work.peak_qps else 1
    e2e_s = ttft_s + (work.output_tokens * step_s(batch) if shape.generative else 0.0)
    needed = math.ceil(est.concurrency(work.peak_qps, e2e_s) / replicas) if work.peak_qps else 1
    concurrency = max(1, min(batch, needed))
    if shape.generative:
        batch = concurrency  # a replica runs the sequences it has, no more
    kv = kv_seq * concurrency
    train_hours = est.training_seconds(shape.params, work.train_tokens, flops, eff.train_mfu, lora=work.lora,
                                       layers=shape.layers, layer_overhead_s=eff.train_layer_overhead_s) / 3600
    latency_ok = ((work.ttft_ms is None or ttft_s * 1e3 <= work.ttft_ms)
                  and (work.tpot_ms is None or not shape.generative or step_s(1) * 1e3 <= work.tpot_ms))
    cand = Candidate(
        name=shape.name, source=shape.source, role=role, params=shape.params,
        weights_gb=weights / 1e9, kv_cache_gb=kv / 1e9, concurrency=concurrency,
        serving_memory_gb=(weights + kv) / 1e9,
        train_full_gb=est.training_state_bytes(shape.params)["total"] / 1e9,
        train_lora_gb=est.training_state_bytes(shape.params, shape.lora_params)["total"] / 1e9,
        decode_tokens_per_s=1 / step_s(1) if shape.generative else None,
        tpot_ms=step_s(batch) * 1e3 if shape.generative else None,
        ttft_ms=ttft_s * 1e3, batch=batch, requests_per_s_per_replica=rps, replicas=replicas,
        devices=replicas * device.count,
        monthly_cost=(est.monthly_cost(replicas, device.count, price_per_device_hour)
                      if price_per_device_hour is not None else None),
        train_tokens=work.train_tokens, train_method="lora" if work.lora else "full", train_hours=train_hours,
        fits_memory=fits, meets_latency=latency_ok,
    )
    if not fits:
        cand.notes.append(f"needs {(weights + kv_seq) / 1e9:.1f} GB for weights and one sequence's KV cache; "
                          f"{device.total_memory_gb:.1f} GB usable")
    if work.context_length > shape.max_context:
        cand.notes.append(f"context {work.context_length} exceeds the shape's {shape.max_context} positions")
    return cand


def _max_batch(ok) -> int:
    """Largest batch in 1..MAX_BATCH for which `ok(batch)` holds (1 if none): `ok` is monotone."""
    lo, hi = 1, est.MAX_BATCH
    if not ok(lo):
        return 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo

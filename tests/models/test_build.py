"""Build the smallest preset of each architecture, run it, save it, load it back bit for bit."""

from __future__ import annotations

import pytest
import torch

from lmstack.atomic import atomic_path
from lmstack.errors import UserError
from lmstack.hardware.device import resolve_device, resolve_dtype
from lmstack.models.build import build_model
from lmstack.models.loading import load_model

SMALLEST = {"causal_lm": "llama-1m", "seq2seq": "seq2seq-2m", "moe": "moe-4m", "dual_encoder": "clip-2m"}
GENERATIVE = ["causal_lm", "seq2seq", "moe"]


def _build(name, tok, **kwargs):
    return build_model(name, vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                       eos_token_id=tok.eos_token_id, **kwargs).eval()


def _inputs(arch, tok):
    """A batch of two texts (plus two 32×32 images for CLIP), texts ending in eos as CLIP pools there."""
    texts = ["今天天气很好", "The model reads the report."]
    batch = tok([t + tok.eos_token for t in texts], return_tensors="pt", padding=True)
    if arch == "seq2seq":
        batch["decoder_input_ids"] = batch["input_ids"][:, :5]
    if arch == "dual_encoder":
        batch["pixel_values"] = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return batch


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_tokenizer):
    """arch → (in-memory model, folder it was saved to)."""
    out = {}
    for arch, name in SMALLEST.items():
        model = _build(name, tiny_tokenizer)
        folder = tmp_path_factory.mktemp(arch) / "model"
        with atomic_path(folder) as tmp:
            model.save_pretrained(tmp)
            tiny_tokenizer.save_pretrained(tmp)
        out[arch] = (model, folder)
    return out


def test_causal_lm_forward_shapes(tiny_tokenizer):
    model = _build("llama-1m", tiny_tokenizer)
    batch = _inputs("causal_lm", tiny_tokenizer)
    out = model(**batch, labels=batch["input_ids"])
    assert out.logits.shape == (*batch["input_ids"].shape, len(tiny_tokenizer))
    assert torch.isfinite(out.loss)
    # Random init predicts close to uniformly: loss ≈ ln(vocab).
    assert abs(out.loss.item() - torch.log(torch.tensor(len(tiny_tokenizer))).item()) < 0.5


def test_seq2seq_forward_shapes(tiny_tokenizer):
    model = _build("seq2seq-2m", tiny_tokenizer)
    batch = _inputs("seq2seq", tiny_tokenizer)
    out = model(**batch)
    assert out.logits.shape == (2, 5, len(tiny_tokenizer))
    assert out.encoder_last_hidden_state.shape == (*batch["input_ids"].shape, model.config.d_model)


def test_moe_forward_returns_a_finite_router_loss(tiny_tokenizer):
    model = _build("moe-4m", tiny_tokenizer)
    batch = _inputs("moe", tiny_tokenizer)
    out = model(**batch, labels=batch["input_ids"])
    assert out.logits.shape == (*batch["input_ids"].shape, len(tiny_tokenizer))
    assert torch.isfinite(out.aux_loss) and out.aux_loss.item() > 0
    assert len(out.router_logits) == model.config.num_hidden_layers
    # The language-model loss already includes the weighted load-balancing term.
    lm_only = model(**batch, labels=batch["input_ids"], output_router_logits=False).loss
    assert torch.allclose(out.loss, lm_only + model.config.router_aux_loss_coef * out.aux_loss)


def test_clip_forward_gives_image_by_text_logits(tiny_tokenizer):
    model = _build("clip-2m", tiny_tokenizer)
    batch = _inputs("dual_encoder", tiny_tokenizer)
    out = model(**batch)
    assert out.logits_per_image.shape == (3, 2)
    assert out.logits_per_text.shape == (2, 3)
    assert out.text_embeds.shape == (2, model.config.projection_dim)
    assert out.image_embeds.shape == (3, model.config.projection_dim)
    assert model.config.text_config.eos_token_id == tiny_tokenizer.eos_token_id


def test_same_seed_same_weights_other_seed_other_weights(tiny_tokenizer):
    a, b, c = (_build("llama-1m", tiny_tokenizer, seed=s) for s in (0, 0, 1))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)


def test_building_leaves_the_global_rng_alone(tiny_tokenizer):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _build("llama-1m", tiny_tokenizer)
    assert torch.equal(torch.rand(3), expected)


def test_token_ids_are_wired_into_config_and_generation(tiny_tokenizer):
    model = _build("seq2seq-2m", tiny_tokenizer)
    gen = model.generation_config
    assert (gen.pad_token_id, gen.eos_token_id, gen.decoder_start_token_id) == (1, 0, 0)
    assert model.config.forced_eos_token_id is None
    # Encoder input, decoder input and output softmax share one matrix, as in Vaswani et al.
    assert model.lm_head.weight is model.model.shared.weight


def test_context_override(tiny_tokenizer):
    model = _build("llama-1m", tiny_tokenizer, max_position_embeddings=128)
    assert model.config.max_position_embeddings == 128


def test_clip_refuses_the_eos_id_it_treats_as_legacy():
    with pytest.raises(UserError) as err:
        build_model("clip-2m", vocab_size=100, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    assert "legacy" in err.value.message


def test_token_id_outside_the_vocab_is_a_user_error():
    with pytest.raises(UserError) as err:
        build_model("llama-1m", vocab_size=100, pad_token_id=100, bos_token_id=0, eos_token_id=0)
    assert "len(tokenizer)" in err.value.hint


@pytest.mark.parametrize("arch", list(SMALLEST))
def test_save_writes_only_safetensors_and_reloads_exactly(arch, saved, tiny_tokenizer):
    model, folder = saved[arch]
    weights = sorted(p.name for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".pt", ".pth", ".ckpt"})
    assert weights == ["model.safetensors"]
    loaded, tokenizer = load_model(folder, device="cpu", dtype="float32")
    assert type(loaded) is type(model) and not loaded.training
    assert tokenizer is not None and tokenizer.encode("你好 world") == tiny_tokenizer.encode("你好 world")
    expected, got = model.state_dict(), loaded.state_dict()
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    batch = _inputs(arch, tiny_tokenizer)
    with torch.no_grad():
        before, after = model(**batch), loaded(**batch)
    key = "logits_per_image" if arch == "dual_encoder" else "logits"
    assert torch.equal(before[key], after[key])


@pytest.mark.parametrize("arch", GENERATIVE)
def test_greedy_generation_is_deterministic_and_survives_reload(arch, saved, tiny_tokenizer):
    model, folder = saved[arch]
    loaded, _ = load_model(folder, device="cpu", dtype="float32")
    prompt = tiny_tokenizer(["模型在第1天"], return_tensors="pt")
    settings = {"max_new_tokens": 8, "do_sample": False, "min_new_tokens": 8}
    first = model.generate(**prompt, **settings)
    assert torch.equal(first, model.generate(**prompt, **settings))
    assert torch.equal(first, loaded.generate(**prompt, **settings))
    new_tokens = first.shape[1] - (0 if arch == "seq2seq" else prompt["input_ids"].shape[1])
    assert new_tokens == 8 + (1 if arch == "seq2seq" else 0)  # seq2seq output starts with decoder_start


def test_load_picks_device_and_dtype_automatically(saved):
    _, folder = saved["causal_lm"]
    model, _ = load_model(folder)
    device = resolve_device("auto")
    assert model.device.type == device.type and model.dtype == resolve_dtype("auto", device)


def test_load_in_bfloat16(saved):
    _, folder = saved["causal_lm"]
    model, _ = load_model(folder, device="cpu", dtype="bf16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}

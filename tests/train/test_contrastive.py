"""Contrastive image-text: the synthetic set, pair readers, recall@k against hand-computed values, learning."""

import json

import pytest
import torch
from PIL import Image

from lmstack.errors import UserError
from lmstack.models.build import build_model
from lmstack.train.contrastive import chance_recall, contrastive, recall_at_k
from lmstack.train.image_text import caption, pixels, read_pairs, synthetic_pairs

CPU = torch.device("cpu")


def test_captions_name_count_colour_shape_and_place_in_both_languages():
    assert caption("circle", "red", "top left", 2, "en") == "two red circles at the top left"
    assert caption("square", "blue", "bottom right", 1, "zh") == "右下方有一个蓝色正方形"


def test_synthetic_pairs_are_written_and_readable(tmp_path):
    pairs = synthetic_pairs(tmp_path, n=6, seed=0, image_size=32)
    again, rejects = read_pairs(tmp_path / "captions.jsonl")
    assert rejects == [] and [(p.image, p.caption, p.key) for p in again] == [(p.image, p.caption, p.key) for p in pairs]
    rows = [json.loads(line) for line in (tmp_path / "captions.jsonl").read_text().splitlines()]
    assert [r["lang"] for r in rows] == ["en", "zh"] * 3
    assert Image.open(pairs[0].image).size == (32, 32)
    x = pixels(pairs[0].image, 32)
    assert x.shape == (3, 32, 32)
    # A near-white background pixel, CLIP-normalised: (245/255 - mean) / std.
    assert x[0, 0, 0].item() == pytest.approx((245 / 255 - 0.48145466) / 0.26862954, abs=1e-4)


def test_bad_pair_rows_are_rejected_with_their_line(tmp_path, write_jsonl):
    synthetic_pairs(tmp_path, n=1, seed=0)
    path = write_jsonl(tmp_path / "p.jsonl", [{"image": "images/00000.png", "caption": "a"},
                                              {"image": "missing.png", "caption": "b"}, {"caption": "c"}])
    pairs, rejects = read_pairs(path)
    assert [p.caption for p in pairs] == ["a"]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "image 'missing.png' not found next to p.jsonl"),
        (3, "expected an object with string fields 'image' and 'caption'")]


def test_recall_at_k_counts_any_matching_key_in_the_top_k():
    similarity = torch.tensor([[0.9, 0.1, 0.5],   # query a: best is target a
                               [0.8, 0.2, 0.7],   # query b: b ranks last
                               [0.1, 0.3, 0.2]])  # query a (again): ranks b, a, a
    keys = ["a", "b", "a"]
    assert recall_at_k(similarity, keys, keys, ks=(1, 2, 3)) == {1: pytest.approx(1 / 3, abs=1e-4),
                                                            2: pytest.approx(2 / 3, abs=1e-4), 3: 1.0}
    # Queries a (2 matches of 3) and b (1 of 3): random top-1 hits with 2/3 and 1/3.
    assert chance_recall(keys, keys, ks=(1, 3)) == {1: pytest.approx((2 / 3 * 2 + 1 / 3) / 3, abs=1e-4), 3: 1.0}


def test_no_usable_pair_is_a_clear_error(tmp_path, write_jsonl, tiny_tokenizer, tiny_train):
    path = write_jsonl(tmp_path / "p.jsonl", [{"image": "nope.png", "caption": "x"}])
    t = tiny_tokenizer
    model = build_model("clip-2m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                        eos_token_id=t.eos_token_id)
    with pytest.raises(UserError, match=r"0 usable image-caption pairs.*\n.*p.jsonl:1: image 'nope.png' not found"):
        contrastive(model, t, [path], tmp_path / "run", tiny_train(), seed=0, device=CPU, bf16=False, max_length=32)


@pytest.mark.slow
def test_training_on_the_synthetic_set_retrieves_far_above_chance(tmp_path, tiny_tokenizer, tiny_train):
    """About 25 s on a shared 2-core machine (100 CLIP steps); recall is the point of the recipe."""
    from transformers import CLIPImageProcessorPil, CLIPModel

    t = tiny_tokenizer
    model = build_model("clip-2m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                        eos_token_id=t.eos_token_id, seed=0)
    # Measured: from scratch, CLIP's image embeddings start nearly identical; 3e-4 separates them
    # within 100 steps, 6e-4 and above stay collapsed at loss ln(batch) for as long.
    cfg = tiny_train(max_steps=100, batch_size=32, lr=3e-4, schedule="constant", log_every=10, save_every=100,
                     validation_share=0.2, synthetic_pairs=400)
    m = contrastive(model, t, [], tmp_path, cfg, seed=0, device=CPU, bf16=False, max_length=32)
    assert m["train_pairs"] == 320 and m["validation_pairs"] == 80
    assert m["train_loss"] < 2.0  # from ln(32) = 3.47
    for direction in ("image_to_text", "text_to_image"):
        assert m[f"{direction}_recall@1"] > 5 * m["chance_recall@1"], m
        assert m[f"{direction}_recall@5"] > 0.6, m
    reloaded = CLIPModel.from_pretrained(tmp_path / "model")
    assert torch.equal(reloaded.logit_scale, model.logit_scale)
    assert CLIPImageProcessorPil.from_pretrained(tmp_path / "model").image_mean == pytest.approx([0.48145466, 0.4578275, 0.40821073])


def test_global_batch_loss_in_one_process_is_clips_own(tmp_path, tiny_tokenizer):
    from lmstack.train.contrastive import GlobalBatchLoss, PairCollator, PairRows

    t = tiny_tokenizer
    model = build_model("clip-2m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                        eos_token_id=t.eos_token_id, seed=0)
    with torch.no_grad():
        model.logit_scale.fill_(2.0)  # a scale of e² makes the logits matter
    rows = PairRows(synthetic_pairs(tmp_path, n=6, seed=0, image_size=model.config.vision_config.image_size), t,
                    model.config.vision_config.image_size, 32)
    batch = PairCollator(t.pad_token_id)([rows[i] for i in range(6)])
    labels = batch.pop("labels")
    assert labels.tolist() == list(range(6))
    own = model(**batch, return_loss=True)
    ours = GlobalBatchLoss(model.logit_scale)(own, labels)
    torch.testing.assert_close(ours, own.loss, rtol=1e-6, atol=1e-6)
    assert GlobalBatchLoss(model.logit_scale)(own, labels, num_items_in_batch=12).item() == pytest.approx(own.loss.item() / 2, rel=1e-6)


@pytest.mark.slow  # two spawned processes: ~20 s of start-up on 2 shared cores
def test_two_processes_contrast_against_the_global_batch(tmp_path, tiny_tokenizer, tiny_train):
    import json

    from lmstack.train.recipes import RECIPES

    t = tiny_tokenizer

    def clip():
        return build_model("clip-2m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                           eos_token_id=t.eos_token_id, seed=0)
    common = dict(seed=0, device=CPU, bf16=False, max_length=32)
    settings = dict(max_steps=2, lr=1e-3, schedule="constant", synthetic_pairs=16)
    one, two = clip(), clip()
    contrastive(one, t, [], tmp_path / "one", tiny_train(batch_size=8, **settings), **common)
    RECIPES["contrastive"].train(two, t, [], tmp_path / "two", tiny_train(batch_size=4, nproc=2, **settings), **common)

    losses = [[row["loss"] for row in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
               if "loss" in row] for run in ("one", "two")]
    # Local negatives alone would give ~ln 4 = 1.39 at the start; the global batch of 8 gives ~ln 8 = 2.08.
    assert losses[0][0] == pytest.approx(2.08, abs=0.1)
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)  # step 2 too: the gradients matched
    for a, b in zip(one.parameters(), two.parameters(), strict=True):  # Adam turns ~0 gradients' noise into ±lr steps
        torch.testing.assert_close(b, a, rtol=0, atol=1e-4)

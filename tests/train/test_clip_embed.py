"""Loading a trained dual encoder for embedding: captions and images embed exactly as in training."""

import pytest
import torch

from lmstack.errors import UserError
from lmstack.models.build import build_model
from lmstack.train.clip_embed import load_clip
from lmstack.train.contrastive import PairRows, embeddings, image_processor
from lmstack.train.image_text import synthetic_pairs


def test_load_clip_embeds_as_training_did(tmp_path, tiny_tokenizer):
    t = tiny_tokenizer
    model = build_model("clip-2m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                        eos_token_id=t.eos_token_id, seed=0).eval()
    size = model.config.vision_config.image_size
    for part in (model, t, image_processor(size)):  # what the contrastive recipe saves
        part.save_pretrained(tmp_path / "model")
    pairs = synthetic_pairs(tmp_path / "pairs", n=4, seed=0, image_size=size)
    images, texts = embeddings(model, PairRows(pairs, t, size, model.config.text_config.max_position_embeddings))

    clip = load_clip(tmp_path / "model")
    got_texts = clip.embed_text([p.caption for p in pairs])
    got_images = clip.embed_image([p.image for p in pairs])
    assert got_texts.shape == (4, model.config.projection_dim)
    torch.testing.assert_close(got_texts, texts, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_images, images, rtol=1e-5, atol=1e-5)
    assert got_texts.norm(dim=-1).tolist() == pytest.approx([1.0] * 4, abs=1e-5)


def test_a_folder_without_a_dual_encoder_is_refused(tmp_path):
    with pytest.raises(UserError, match="holds no trained dual encoder") as e:
        load_clip(tmp_path)
    assert "recipe: contrastive" in e.value.hint

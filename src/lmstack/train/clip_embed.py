"""Embed captions and images with a dual encoder the contrastive recipe trained (its `model` folder).

    >>> clip = load_clip("runs/demo/train/model")                       # doctest: +SKIP
    >>> texts = clip.embed_text(["two red circles at the top left"])   # doctest: +SKIP
    >>> images = clip.embed_image(["photo.png"])                        # doctest: +SKIP
    >>> (images @ texts.T).shape                                        # doctest: +SKIP
    torch.Size([1, 1])

Captions are tokenized as in training: no special tokens, cut to the text tower's context less
one, then EOS appended (CLIP pools the text at EOS); a caption tokenized with the tokenizer's
defaults would pool elsewhere and embed differently. Images go through the image processor saved
beside the model (resize, centre crop, CLIP mean/std). Embeddings are L2-normalised, so a dot
product is the cosine similarity the model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from lmstack.errors import UserError


@dataclass
class ClipEmbedder:
    model: object
    """A `transformers.CLIPModel` in eval mode."""
    tokenizer: object
    processor: object | None
    """The `CLIPImageProcessor` saved with the model; None for a folder without one (texts only)."""
    device: torch.device
    max_length: int
    """Caption tokens kept, EOS included (the text tower's context)."""

    def caption_ids(self, text: str) -> list[int]:
        """The ids a caption is encoded as: its tokens without special tokens, cut, then EOS."""
        ids = self.tokenizer(text, add_special_tokens=False, truncation=True, max_length=self.max_length - 1)["input_ids"]
        return ids + [self.tokenizer.eos_token_id]

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, D) L2-normalised caption embeddings, float32 on the CPU."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        ids = [self.caption_ids(t) for t in texts]
        width = max(map(len, ids))
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)  # (N, T), right-padded
        mask = torch.zeros_like(input_ids)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        out = self.model.get_text_features(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device))
        return _normalised(out)

    @torch.no_grad()
    def embed_image(self, images: Sequence[str | Path | Image.Image]) -> torch.Tensor:
        """(N, D) L2-normalised image embeddings (files or PIL images), float32 on the CPU."""
        if self.processor is None:
            raise UserError("this dual encoder was saved without an image processor (preprocessor_config.json); "
                            "it embeds texts only", hint="retrain with the contrastive recipe, which saves one")
        opened = [image if isinstance(image, Image.Image) else _open(Path(image)) for image in images]
        pixel_values = self.processor([im.convert("RGB") for im in opened], return_tensors="pt")["pixel_values"]
        out = self.model.get_image_features(pixel_values=pixel_values.to(self.device, self.model.dtype))
        return _normalised(out)


def load_clip(path: str | Path, device: str | torch.device = "cpu", *, texts_only: bool = False) -> ClipEmbedder:
    """The dual encoder saved at `path` (model, tokenizer and image processor), ready to embed.

    `texts_only` accepts a folder without an image processor; it then embeds captions only."""
    from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

    path = Path(path)
    has_processor = (path / "preprocessor_config.json").is_file()
    if not (path / "config.json").is_file() or not (has_processor or texts_only):
        raise UserError(f"{str(path)!r} holds no trained dual encoder (config.json and preprocessor_config.json)",
                        hint="pass the `model` folder of a run with train.recipe: contrastive")
    device = torch.device(device)
    model = CLIPModel.from_pretrained(path, use_safetensors=True).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.eos_token_id is None:
        raise UserError(f"{str(path)!r} has a tokenizer without an EOS token, where CLIP pools a caption",
                        hint="save the tokenizer next to the model; the contrastive recipe does")
    return ClipEmbedder(model=model, tokenizer=tokenizer,
                        processor=CLIPImageProcessorPil.from_pretrained(path) if has_processor else None,
                        device=device, max_length=model.config.text_config.max_position_embeddings)


def _normalised(features) -> torch.Tensor:
    # transformers 5 returns a model output whose pooled projection is the embedding; 4.x a tensor
    x = features if isinstance(features, torch.Tensor) else features.pooler_output
    return torch.nn.functional.normalize(x.float(), dim=-1).cpu()


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except OSError as e:
        raise UserError(f"cannot read image {path} ({e})") from e
